//! 数据水印 — traceable watermarks for conditional-data downloads. A download under a grant sends
//! the rows of each block of [`DEFAULT_BLOCK_ROWS`] in an order keyed by the grant ([`Permuter`]);
//! [`trace`] reads that order back from a leaked copy and names the grant that produced it.
//!
//! No value, row or column changes: only the order of rows within each block of consecutive
//! original rows. The order survives re-saving in a spreadsheet program, re-encoding, dropping
//! columns and taking a sample that keeps the relative order; sorting or shuffling erases it.
//! See `docs/security.md`, "Traceable watermarks", for the scheme, its evidence and its limits.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;

use hmac::{Hmac, Mac};
use pubdata_core::field::{FieldSpec, RowSink};
use serde::Serialize;
use sha2::Sha256;

use crate::sketch::HashIdentity;
use crate::value::parse_date;
use crate::{ingest, IngestError, IngestOptions};

/// Rows per block. A 1,000-row sample of a 620,573-row table then still holds about 205 pairs of
/// rows from the same block, enough for p < 1e-60 (see `docs/security.md`).
pub const DEFAULT_BLOCK_ROWS: usize = 256;
const MAX_BLOCK_ROWS: usize = 1 << 20;
/// Domain separation: a permutation key is never any other HMAC the platform computes.
const DOMAIN: &[u8] = b"pubdata/watermark/v1";
/// Spreadsheet programs keep numbers to 15 significant digits.
const SPREADSHEET_DIGITS: usize = 15;
/// A column whose leaked values are found in the original less often than this was altered
/// beyond the normalisation (e.g. numbers displayed rounded) and is left out of row matching.
const MIN_COLUMN_MATCH: f64 = 0.9;

/// The platform's watermark key; never printed. Without it nobody can compute a grant's order,
/// so nobody can make a file that points at another grant.
#[derive(Clone, Default)]
pub struct WatermarkSecret(pub Vec<u8>);

impl fmt::Debug for WatermarkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WatermarkSecret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    #[error("reading the leaked file failed: {0}")]
    Read(#[from] IngestError),
    #[error(
        "the file shares no column name with the original table (file: {leaked}; original: {original}); \
         a copy whose header was removed or renamed cannot be traced"
    )]
    NoCommonColumns { leaked: String, original: String },
    #[error("row {row} has {got} cells but the table has {expected} columns")]
    RowWidth { row: u64, got: usize, expected: usize },
    #[error("row number {got} came after row {previous}; push rows in increasing original order")]
    RowOrder { previous: u64, got: u64 },
}

// ---------------------------------------------------------------------------------------------
// The keyed order

/// xoshiro256** seeded from one HMAC per block: the HMAC makes the seed unpredictable without
/// the secret, the generator makes the shuffle cheap.
struct Xoshiro([u64; 4]);

impl Xoshiro {
    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below n / 2^64).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// One grant's permutations.
#[derive(Clone)]
struct Keyed {
    mac: Hmac<Sha256>,
    grant: Vec<u8>,
    block_rows: usize,
}

impl Keyed {
    fn new(secret: &WatermarkSecret, grant_id: &str, block_rows: usize) -> Self {
        Keyed {
            mac: Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC accepts keys of any length"),
            grant: grant_id.as_bytes().to_vec(),
            block_rows: block_rows.clamp(1, MAX_BLOCK_ROWS),
        }
    }

    fn rng(&self, block_no: u64) -> Xoshiro {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(&(self.grant.len() as u64).to_be_bytes());
        mac.update(&self.grant);
        mac.update(&block_no.to_be_bytes());
        mac.update(&(self.block_rows as u64).to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut state = [0u64; 4];
        for (word, bytes) in state.iter_mut().zip(digest.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            *word = u64::from_le_bytes(b);
        }
        if state == [0; 4] {
            state[0] = 1;
        }
        Xoshiro(state)
    }

    /// `order[i]` = offset within the block of the row sent i-th (Fisher–Yates).
    fn order_into(&self, block_no: u64, order: &mut Vec<u32>) {
        order.clear();
        order.extend(0..self.block_rows as u32);
        let mut rng = self.rng(block_no);
        for i in (1..order.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
    }

    /// `ranks[offset]` = the position at which the row at `offset` is sent.
    fn ranks_into(&self, block_no: u64, order: &mut Vec<u32>, ranks: &mut Vec<u32>) {
        self.order_into(block_no, order);
        ranks.clear();
        ranks.resize(order.len(), 0);
        for (pos, &offset) in order.iter().enumerate() {
            ranks[offset as usize] = pos as u32;
        }
    }
}

/// The order in which grant `grant_id` receives block `block_no` (rows `block_no * block_rows ..`
/// of the table): element `i` is the offset within the block of the row sent i-th. A block with
/// fewer rows (the last, or one thinned by a row filter) keeps the relative order of the rows it has.
pub fn block_permutation(secret: &WatermarkSecret, grant_id: &str, block_no: u64, block_rows: usize) -> Vec<usize> {
    let mut order = Vec::new();
    Keyed::new(secret, grant_id, block_rows).order_into(block_no, &mut order);
    order.into_iter().map(|o| o as usize).collect()
}

/// The embedder: takes a table's rows in their original order, one at a time, and hands them on
/// in the grant's order, one block at a time. Holds at most one block of rows; `T` is whatever
/// the caller writes (a row of cells, a CSV line).
///
/// ```
/// use pubdata_ingest::watermark::{Permuter, WatermarkSecret};
/// let secret = WatermarkSecret(b"server secret".to_vec());
/// let mut permuter = Permuter::new(&secret, "grant-17");
/// let mut out = Vec::new();
/// for row in 0..1000u32 {
///     permuter.push(row, &mut out); // rows ready to send are appended to `out`
/// }
/// permuter.finish(&mut out);
/// assert_eq!(out.len(), 1000);
/// ```
pub struct Permuter<T> {
    keyed: Keyed,
    block: Option<u64>,
    next_row: u64,
    order: Vec<u32>,
    ranks: Vec<u32>,
    slots: Vec<Option<T>>,
    held: usize,
}

impl<T> Permuter<T> {
    /// The permuter for grant `grant_id`, with blocks of [`DEFAULT_BLOCK_ROWS`].
    pub fn new(secret: &WatermarkSecret, grant_id: &str) -> Self {
        Self::with_block_rows(secret, grant_id, DEFAULT_BLOCK_ROWS)
    }

    /// Blocks of `block_rows` rows (1 to 2^20); [`trace`] must be told the same size.
    pub fn with_block_rows(secret: &WatermarkSecret, grant_id: &str, block_rows: usize) -> Self {
        let keyed = Keyed::new(secret, grant_id, block_rows);
        let n = keyed.block_rows;
        Permuter {
            keyed,
            block: None,
            next_row: 0,
            order: Vec::with_capacity(n),
            ranks: Vec::with_capacity(n),
            slots: (0..n).map(|_| None).collect(),
            held: 0,
        }
    }

    /// The next row of the table: rows are numbered 0, 1, 2, … in the order pushed.
    pub fn push(&mut self, row: T, out: &mut Vec<T>) {
        let row_no = self.next_row;
        self.place(row_no, row, out);
    }

    /// The row that is row `row_no` (0-based) of the whole table, for downloads that leave rows
    /// out (a grant's row filter): numbers must increase. The datastore's `_row` minus one.
    pub fn push_numbered(&mut self, row_no: u64, row: T, out: &mut Vec<T>) -> Result<(), WatermarkError> {
        if row_no < self.next_row {
            return Err(WatermarkError::RowOrder {
                previous: self.next_row.saturating_sub(1),
                got: row_no,
            });
        }
        self.place(row_no, row, out);
        Ok(())
    }

    /// No more rows: hands on the rows still held.
    pub fn finish(&mut self, out: &mut Vec<T>) {
        self.flush(out);
        self.block = None;
    }

    fn place(&mut self, row_no: u64, row: T, out: &mut Vec<T>) {
        let b = self.keyed.block_rows as u64;
        let (block, offset) = (row_no / b, (row_no % b) as usize);
        if self.block != Some(block) {
            self.flush(out);
            self.keyed.ranks_into(block, &mut self.order, &mut self.ranks);
            self.block = Some(block);
        }
        self.slots[self.ranks[offset] as usize] = Some(row);
        self.held += 1;
        self.next_row = row_no + 1;
        if offset + 1 == self.keyed.block_rows {
            self.flush(out);
        }
    }

    fn flush(&mut self, out: &mut Vec<T>) {
        if self.held == 0 {
            return;
        }
        out.extend(self.slots.iter_mut().filter_map(Option::take));
        self.held = 0;
    }
}

/// `rows` (a whole table, in its original order) in grant `grant_id`'s order.
pub fn permuted<I: IntoIterator>(rows: I, secret: &WatermarkSecret, grant_id: &str) -> Permuted<I::IntoIter> {
    Permuted {
        rows: rows.into_iter(),
        permuter: Permuter::new(secret, grant_id),
        ready: Vec::new().into_iter(),
        done: false,
    }
}

/// The iterator of [`permuted`].
pub struct Permuted<I: Iterator> {
    rows: I,
    permuter: Permuter<I::Item>,
    ready: std::vec::IntoIter<I::Item>,
    done: bool,
}

impl<I: Iterator> Iterator for Permuted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        loop {
            if let Some(row) = self.ready.next() {
                return Some(row);
            }
            if self.done {
                return None;
            }
            let mut out = Vec::new();
            while out.is_empty() {
                match self.rows.next() {
                    Some(row) => self.permuter.push(row, &mut out),
                    None => {
                        self.permuter.finish(&mut out);
                        self.done = true;
                        break;
                    }
                }
            }
            self.ready = out.into_iter();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The original table

/// The table as stored, rows in their original order (row 0 = the datastore's `_row` 1), with
/// its column names; held compactly (the text plus one offset per cell).
#[derive(Debug, Clone, Default)]
pub struct OriginalTable {
    columns: Vec<String>,
    text: String,
    ends: Vec<usize>,
}

impl OriginalTable {
    pub fn new(columns: Vec<String>) -> Self {
        OriginalTable {
            columns,
            text: String::new(),
            ends: Vec::new(),
        }
    }

    /// Reads a table file (CSV in any supported encoding, XLSX, JSON) named `name`.
    pub fn read(input: impl Read, name: &str) -> Result<Self, WatermarkError> {
        let mut table = OriginalTable::default();
        ingest(
            input,
            name,
            None,
            &IngestOptions::default(),
            &mut TableSink(&mut table),
            &mut |_| {},
        )?;
        Ok(table)
    }

    /// Appends the next row; `None` is NULL (compared as an empty cell).
    pub fn push_row<'a>(&mut self, cells: impl IntoIterator<Item = Option<&'a str>>) -> Result<(), WatermarkError> {
        let (text_len, ends_len) = (self.text.len(), self.ends.len());
        for cell in cells {
            self.text.push_str(cell.unwrap_or(""));
            self.ends.push(self.text.len());
        }
        let got = self.ends.len() - ends_len;
        if got != self.columns.len() {
            self.text.truncate(text_len);
            self.ends.truncate(ends_len);
            return Err(WatermarkError::RowWidth {
                row: self.rows() as u64,
                got,
                expected: self.columns.len(),
            });
        }
        Ok(())
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn rows(&self) -> usize {
        self.ends.len().checked_div(self.columns.len()).unwrap_or(0)
    }

    /// The cells of row `r` (none when `r` is past the end).
    pub fn row(&self, r: usize) -> impl ExactSizeIterator<Item = &str> + '_ {
        let n = self.columns.len();
        let ends = self.ends.get(r * n..(r + 1) * n).unwrap_or(&[]);
        let mut start = if r == 0 || ends.is_empty() {
            0
        } else {
            self.ends[r * n - 1]
        };
        ends.iter().map(move |&end| {
            let cell = &self.text[start..end];
            start = end;
            cell
        })
    }

    fn cell(&self, r: usize, c: usize) -> &str {
        let i = r * self.columns.len() + c;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

struct TableSink<'a>(&'a mut OriginalTable);

impl RowSink for TableSink<'_> {
    fn begin(&mut self, columns: &[FieldSpec]) -> Result<(), String> {
        *self.0 = OriginalTable::new(columns.iter().map(|c| c.name.clone()).collect());
        Ok(())
    }

    fn row(&mut self, values: &[Option<&str>]) -> Result<(), String> {
        self.0.push_row(values.iter().copied()).map_err(|e| e.to_string())
    }

    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Normalising values the way spreadsheets alter them

/// A number's significant digits (no leading or trailing zeros) and decimal exponent:
/// value = 0.d1d2d3… × 10^exp.
struct Number {
    neg: bool,
    exp: i64,
    /// Written in scientific notation (`5.10104E+11`): shown rounded.
    sci: bool,
}

/// Parses `[+-]digits[.digits][e[+-]digits]`, with optional thousands separators; the
/// significant digits go to `digits` (as values 0–9).
fn parse_number(b: &[u8], digits: &mut Vec<u8>) -> Option<Number> {
    digits.clear();
    let (neg, mut i) = match b.first()? {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let mut point: i64 = 0;
    let mut any = false;
    let mut group: Option<usize> = None;
    let mut run = 0;
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                any = true;
                run += 1;
                if c != b'0' || !digits.is_empty() {
                    digits.push(c - b'0');
                    point += 1;
                } else if !digits.is_empty() {
                    point += 1;
                }
            }
            b',' if run > 0 && run <= 3 && group.is_none_or(|_| run == 3) => {
                group = Some(run);
                run = 0;
            }
            _ => break,
        }
        i += 1;
    }
    if group.is_some() && run != 3 {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            any = true;
            if b[i] != b'0' || !digits.is_empty() {
                digits.push(b[i] - b'0');
            } else {
                point -= 1;
            }
            i += 1;
        }
    }
    if !any {
        return None;
    }
    let mut sci = false;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let (eneg, mut j) = match b.get(i + 1) {
            Some(b'-') => (true, i + 2),
            Some(b'+') => (false, i + 2),
            _ => (false, i + 1),
        };
        let start = j;
        let mut e: i64 = 0;
        while j < b.len() && b[j].is_ascii_digit() && j - start < 5 {
            e = e * 10 + i64::from(b[j] - b'0');
            j += 1;
        }
        if j == start {
            return None;
        }
        point += if eneg { -e } else { e };
        sci = true;
        i = j;
    }
    if i != b.len() {
        return None;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    Some(Number { neg, exp: point, sci })
}

/// Rounds to `max` significant digits, half away from zero, as spreadsheets display numbers.
fn round_digits(digits: &mut Vec<u8>, exp: &mut i64, max: usize) {
    if digits.len() <= max {
        return;
    }
    let up = digits[max] >= 5;
    digits.truncate(max);
    if up {
        let mut i = max;
        loop {
            if i == 0 {
                digits.insert(0, 1);
                *exp += 1;
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
}

/// Canonical cell text: equal for a value and what a spreadsheet program, a re-encoding or a
/// CSV round trip makes of it — trimmed; numbers by value (`1.50` = `1.5`, `007` = `7`,
/// `5.10104E+11` = `510104000000` when compared to 6 digits); dates by day and minute
/// (`2023/1/1` = `2023-01-01`); `TRUE` = `true`.
#[derive(Default)]
struct Canon {
    out: Vec<u8>,
    digits: Vec<u8>,
}

impl Canon {
    fn of(&mut self, v: &str, max_digits: usize) -> &[u8] {
        self.out.clear();
        let mut t = trim(v);
        // Excel's way of keeping leading zeros in a CSV: ="007".
        if let Some(inner) = t.strip_prefix("=\"").and_then(|r| r.strip_suffix('"')) {
            t = inner.trim();
        }
        if t.is_empty() {
            return &self.out;
        }
        if let Some(mut n) = parse_number(t.as_bytes(), &mut self.digits) {
            round_digits(&mut self.digits, &mut n.exp, max_digits);
            self.out.push(b'n');
            if self.digits.is_empty() {
                self.out.push(b'0');
                return &self.out;
            }
            if n.neg {
                self.out.push(b'-');
            }
            for &d in &self.digits {
                self.out.push(b'0' + d);
            }
            self.out.push(b'e');
            push_int(&mut self.out, n.exp);
        } else if let Some(d) = parse_date(t) {
            self.out.push(b'd');
            push_int(&mut self.out, i64::from(d.year));
            for (sep, n) in [(b'-', d.month), (b'-', d.day)] {
                self.out.extend_from_slice(&[sep, b'0' + n / 10, b'0' + n % 10]);
            }
            if let Some((h, m, _)) = d.time {
                // Spreadsheets show date-times to the minute.
                self.out
                    .extend_from_slice(&[b' ', b'0' + h / 10, b'0' + h % 10, b':', b'0' + m / 10, b'0' + m % 10]);
            }
        } else if t.eq_ignore_ascii_case("true") {
            self.out.extend_from_slice(b"bt");
        } else if t.eq_ignore_ascii_case("false") {
            self.out.extend_from_slice(b"bf");
        } else {
            self.out.push(b's');
            self.out.extend_from_slice(t.as_bytes());
        }
        &self.out
    }

    fn hash(&mut self, v: &str, max_digits: usize) -> u64 {
        HASHER.hash_one(self.of(v, max_digits))
    }
}

/// Trims Unicode whitespace, with a fast path for cells that need none.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// `write!(out, "{n}")` without the formatting machinery (this runs for every cell).
fn push_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

const HASHER: foldhash::quality::FixedState = foldhash::quality::FixedState::with_seed(0x7761_7465_726d_6172);

/// The significant digits a leaked column's numbers can be compared to: what its scientific
/// notation shows (Excel writes 12-digit codes as `1.10101E+11`), at most 15.
fn column_digits(values: impl Iterator<Item = impl AsRef<str>>) -> usize {
    let mut digits = Vec::new();
    let mut shown: Option<usize> = None;
    for v in values {
        if let Some(n) = parse_number(v.as_ref().trim().as_bytes(), &mut digits) {
            if n.sci {
                shown = Some(shown.unwrap_or(0).max(digits.len()));
            }
        }
    }
    shown.unwrap_or(SPREADSHEET_DIGITS).clamp(1, SPREADSHEET_DIGITS)
}

// ---------------------------------------------------------------------------------------------
// Reading a leaked copy

/// A grant that may have produced the leaked copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The id the download's [`Permuter`] was made with.
    pub grant_id: String,
    /// Who holds the grant (用数单位 / consumer), for the report.
    pub consumer: String,
    /// When it was granted or downloaded, for the report.
    pub date: String,
}

/// How [`trace`] reads and decides. `Default` gives the documented values.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// The block size the downloads were made with.
    pub block_rows: usize,
    /// A grant is named only when the chance that a copy it did not make agrees as well, times
    /// the number of candidates, is below this (default 1e-9).
    pub max_p: f64,
    /// … and when the runner-up's chance is at least this many times larger (default 1e6).
    pub min_ratio: f64,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            block_rows: DEFAULT_BLOCK_ROWS,
            max_p: 1e-9,
            min_ratio: 1e6,
        }
    }
}

/// A column of the leaked file that the original has.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnUse {
    pub name: String,
    /// Share of its (normalised) values found in the original's column.
    pub matched: f64,
    /// Used to identify rows (`matched` ≥ 0.9, or the best there is).
    pub used: bool,
}

/// How well one candidate's order explains the leaked copy.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateScore {
    pub candidate: Candidate,
    /// Pairs of rows from the same block that appear in the order this grant was sent them.
    pub agreeing_pairs: u64,
    pub pairs: u64,
    /// log10 of (an upper bound on) the chance that a copy this grant did not make agrees on at
    /// least as many pairs: the p-value. Near 0 for chance, very negative for the source.
    pub log10_p: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    /// The copy comes from this grant's download.
    Match {
        grant: Candidate,
    },
    NoDecisiveMatch,
}

/// What [`trace`] found, with the numbers behind the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    pub file: String,
    pub rows_read: u64,
    pub columns: Vec<ColumnUse>,
    /// Columns of the file that the original does not have.
    pub ignored_columns: Vec<String>,
    /// Rows matched to exactly one original row.
    pub rows_identified: u64,
    /// Rows that match several original rows (or occur twice in the file): skipped.
    pub rows_ambiguous: u64,
    pub rows_not_found: u64,
    /// Further copies of a row already identified: skipped.
    pub rows_repeated: u64,
    /// Share of neighbouring identified rows that keep the original order of blocks: near 1 for
    /// a download or a sample of one, near 0.5 for a sorted or shuffled file.
    pub order_kept: f64,
    /// Every identified row comes after the one before it in the table: the copy was not made
    /// by a watermarked download, or was sorted back into the table's order.
    pub original_order: bool,
    pub block_rows: usize,
    /// Blocks with at least two identified rows, and the pairs of rows they hold.
    pub blocks: u64,
    pub pairs: u64,
    /// Best first.
    pub scores: Vec<CandidateScore>,
    pub verdict: Verdict,
    /// The verdict in plain words.
    pub explanation: String,
}

impl TraceReport {
    /// The grant named, when the evidence is decisive.
    pub fn matched(&self) -> Option<&Candidate> {
        match &self.verdict {
            Verdict::Match { grant } => Some(grant),
            Verdict::NoDecisiveMatch => None,
        }
    }
}

/// Names the grant whose download `leaked` (a file called `filename`: CSV in UTF-8 or GB18030,
/// XLSX or JSON) was made from, out of `candidates`, or says that no grant is decisively
/// indicated — with the numbers either way.
pub fn trace(
    leaked: impl Read,
    filename: &str,
    original: &OriginalTable,
    candidates: &[Candidate],
    secret: &WatermarkSecret,
) -> Result<TraceReport, WatermarkError> {
    trace_with(leaked, filename, original, candidates, secret, &TraceOptions::default())
}

/// [`trace`] with other block size or thresholds.
pub fn trace_with(
    leaked: impl Read,
    filename: &str,
    original: &OriginalTable,
    candidates: &[Candidate],
    secret: &WatermarkSecret,
    opts: &TraceOptions,
) -> Result<TraceReport, WatermarkError> {
    let leaked = read_leaked(leaked, filename, original)?;
    let block_rows = opts.block_rows.clamp(1, MAX_BLOCK_ROWS);
    let matching = match_rows(&leaked, original);
    let groups = Groups::new(&matching.sequence, block_rows);
    let mut scores: Vec<CandidateScore> = candidates.iter().map(|c| groups.score(c, secret, block_rows)).collect();
    scores.sort_by(|a, b| a.log10_p.total_cmp(&b.log10_p));
    let mut report = TraceReport {
        file: filename.to_string(),
        rows_read: leaked.rows,
        columns: matching.columns,
        ignored_columns: leaked.ignored,
        rows_identified: matching.sequence.len() as u64,
        rows_ambiguous: matching.ambiguous,
        rows_not_found: matching.not_found,
        rows_repeated: matching.repeated,
        order_kept: order_kept(&matching.sequence, block_rows),
        original_order: matching.sequence.windows(2).all(|w| w[0] < w[1]),
        block_rows,
        blocks: groups.blocks(),
        pairs: groups.pairs,
        scores,
        verdict: Verdict::NoDecisiveMatch,
        explanation: String::new(),
    };
    decide(&mut report, opts);
    Ok(report)
}

/// The leaked file's cells in the columns the original also has, row by row.
struct Leaked {
    /// (name in the file, column index in the original)
    used: Vec<(String, usize)>,
    ignored: Vec<String>,
    text: String,
    ends: Vec<usize>,
    rows: u64,
}

impl Leaked {
    fn cell(&self, r: usize, c: usize) -> &str {
        let i = r * self.used.len() + c;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

struct LeakedSink<'a> {
    original: &'a [String],
    leaked: Leaked,
    /// Per column of the file: whether the original has it.
    keep: Vec<bool>,
    all_names: Vec<String>,
}

impl RowSink for LeakedSink<'_> {
    fn begin(&mut self, columns: &[FieldSpec]) -> Result<(), String> {
        let mut taken = vec![false; self.original.len()];
        let find = |name: &str, taken: &[bool], exact: bool| {
            self.original
                .iter()
                .enumerate()
                .position(|(i, o)| !taken[i] && if exact { o == name } else { same_name(o, name) })
        };
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let mut found: Vec<Option<usize>> = names.iter().map(|n| find(n, &taken, true)).collect();
        for i in found.iter().flatten() {
            taken[*i] = true;
        }
        for (f, n) in found.iter_mut().zip(&names) {
            if f.is_none() {
                *f = find(n, &taken, false);
                if let Some(i) = *f {
                    taken[i] = true;
                }
            }
        }
        for (f, n) in found.iter().zip(&names) {
            match f {
                Some(i) => self.leaked.used.push((n.to_string(), *i)),
                None => self.leaked.ignored.push(n.to_string()),
            }
        }
        self.keep = found.iter().map(Option::is_some).collect();
        self.all_names = names.iter().map(|n| n.to_string()).collect();
        Ok(())
    }

    fn row(&mut self, values: &[Option<&str>]) -> Result<(), String> {
        for (v, keep) in values.iter().zip(&self.keep) {
            if *keep {
                self.leaked.text.push_str(v.unwrap_or(""));
                self.leaked.ends.push(self.leaked.text.len());
            }
        }
        self.leaked.rows += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Header names as a spreadsheet or an editor may have altered them: case, spaces, a BOM.
fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    norm(a) == norm(b)
}

fn read_leaked(input: impl Read, filename: &str, original: &OriginalTable) -> Result<Leaked, WatermarkError> {
    let mut sink = LeakedSink {
        original: &original.columns,
        leaked: Leaked {
            used: Vec::new(),
            ignored: Vec::new(),
            text: String::new(),
            ends: Vec::new(),
            rows: 0,
        },
        keep: Vec::new(),
        all_names: Vec::new(),
    };
    ingest(input, filename, None, &IngestOptions::default(), &mut sink, &mut |_| {})?;
    if sink.leaked.used.is_empty() {
        return Err(WatermarkError::NoCommonColumns {
            leaked: sink.all_names.join(", "),
            original: original.columns.join(", "),
        });
    }
    Ok(sink.leaked)
}

/// Leaked rows identified as original rows.
struct Matching {
    columns: Vec<ColumnUse>,
    /// Original row numbers, in the leaked file's order.
    sequence: Vec<u64>,
    ambiguous: u64,
    not_found: u64,
    repeated: u64,
}

const NOT_FOUND: u64 = u64::MAX;
const AMBIGUOUS: u64 = u64::MAX - 1;

struct Slot {
    /// The first leaked row with this key.
    first: usize,
    leaked_twice: bool,
    original: u64,
}

/// Maps every leaked row to the one original row with the same normalised values in the
/// columns both have; columns whose values changed beyond recognition are left out.
fn match_rows(leaked: &Leaked, original: &OriginalTable) -> Matching {
    let (n, c) = (leaked.rows as usize, leaked.used.len());
    let digits: Vec<usize> = (0..c)
        .map(|j| column_digits((0..n).map(|r| leaked.cell(r, j))))
        .collect();
    let leaked_cells = leaked_hashes(leaked, &digits);
    let original_cells = original_hashes(leaked, original, &digits);
    let columns = column_use(leaked, &leaked_cells, &original_cells);
    let used: Vec<usize> = (0..c).filter(|&j| columns[j].used).collect();
    let key = |cells: &[u64]| {
        let mut h = HASHER.build_hasher();
        for &j in &used {
            h.write_u64(cells[j]);
        }
        h.finish()
    };
    let leaked_keys: Vec<u64> = leaked_cells.chunks_exact(c.max(1)).map(key).collect();
    let mut m = identify(&leaked_keys, original_cells.chunks_exact(c.max(1)).map(key));
    m.columns = columns;
    m
}

/// Cell hashes of the leaked rows, row after row.
fn leaked_hashes(leaked: &Leaked, digits: &[usize]) -> Vec<u64> {
    let mut canon = Canon::default();
    let mut cells = Vec::with_capacity(leaked.rows as usize * digits.len());
    for r in 0..leaked.rows as usize {
        for (j, d) in digits.iter().enumerate() {
            cells.push(canon.hash(leaked.cell(r, j), *d));
        }
    }
    cells
}

/// Cell hashes of the original rows in the leaked file's columns, row after row.
fn original_hashes(leaked: &Leaked, original: &OriginalTable, digits: &[usize]) -> Vec<u64> {
    let mut canon = Canon::default();
    let mut cells = Vec::with_capacity(original.rows() * digits.len());
    // Codes of the enclosing region and the like repeat from row to row: reuse their hash.
    let mut last: Vec<(&str, u64)> = vec![("", canon.hash("", SPREADSHEET_DIGITS)); digits.len()];
    for r in 0..original.rows() {
        for (j, (_, oc)) in leaked.used.iter().enumerate() {
            let v = original.cell(r, *oc);
            if v != last[j].0 {
                last[j] = (v, canon.hash(v, digits[j]));
            }
            cells.push(last[j].1);
        }
    }
    cells
}

/// The original row of each leaked row, by row key.
fn identify(leaked_keys: &[u64], original_keys: impl Iterator<Item = u64>) -> Matching {
    let mut slots: HashMap<u64, Slot, HashIdentity> =
        HashMap::with_capacity_and_hasher(leaked_keys.len(), HashIdentity::default());
    for (i, k) in leaked_keys.iter().enumerate() {
        slots.entry(*k).and_modify(|s| s.leaked_twice = true).or_insert(Slot {
            first: i,
            leaked_twice: false,
            original: NOT_FOUND,
        });
    }
    for (r, k) in original_keys.enumerate() {
        if let Some(s) = slots.get_mut(&k) {
            s.original = if s.original == NOT_FOUND { r as u64 } else { AMBIGUOUS };
        }
    }
    let mut m = Matching {
        columns: Vec::new(),
        sequence: Vec::new(),
        ambiguous: 0,
        not_found: 0,
        repeated: 0,
    };
    for (i, k) in leaked_keys.iter().enumerate() {
        let Some(s) = slots.get(k) else { continue };
        match s.original {
            NOT_FOUND => m.not_found += 1,
            AMBIGUOUS => m.ambiguous += 1,
            // The same row twice in the file: the original has it once, so the file repeats it.
            _ if s.leaked_twice && s.first != i => m.repeated += 1,
            r => m.sequence.push(r),
        }
    }
    m
}

/// How many of each leaked column's values the original's column has.
fn column_use(leaked: &Leaked, leaked_cells: &[u64], original_cells: &[u64]) -> Vec<ColumnUse> {
    let c = leaked.used.len();
    let mut columns: Vec<ColumnUse> = (0..c)
        .map(|j| {
            let mut seen: HashMap<u64, bool, HashIdentity> =
                leaked_cells.iter().skip(j).step_by(c).map(|&h| (h, false)).collect();
            for h in original_cells.iter().skip(j).step_by(c) {
                if let Some(f) = seen.get_mut(h) {
                    *f = true;
                }
            }
            let total = leaked_cells.len() / c;
            let found = leaked_cells
                .iter()
                .skip(j)
                .step_by(c)
                .filter(|h| seen.get(*h) == Some(&true))
                .count();
            ColumnUse {
                name: leaked.used[j].0.clone(),
                matched: if total == 0 { 1.0 } else { found as f64 / total as f64 },
                used: false,
            }
        })
        .collect();
    let best = columns.iter().map(|u| u.matched).fold(0.0, f64::max);
    for u in &mut columns {
        u.used = u.matched >= MIN_COLUMN_MATCH.min(best);
    }
    columns
}

/// Share of neighbouring identified rows whose blocks do not go backwards.
fn order_kept(sequence: &[u64], block_rows: usize) -> f64 {
    let b = block_rows as u64;
    let kept = sequence.windows(2).filter(|w| w[1] / b >= w[0] / b).count();
    if sequence.len() < 2 {
        1.0
    } else {
        kept as f64 / (sequence.len() - 1) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// The evidence

/// The identified rows grouped by original block, each group in the leaked file's order.
struct Groups {
    /// (block number, offsets within the block in leaked order), for blocks with ≥ 2 rows.
    groups: Vec<(u64, Vec<u32>)>,
    /// `at_least[k]` = number of groups with at least k rows.
    at_least: Vec<u64>,
    pairs: u64,
}

impl Groups {
    fn new(sequence: &[u64], block_rows: usize) -> Self {
        let b = block_rows as u64;
        let mut order: Vec<(u64, usize)> = sequence.iter().enumerate().map(|(i, &r)| (r, i)).collect();
        order.sort_by_key(|&(r, i)| (r / b, i));
        let mut groups: Vec<(u64, Vec<u32>)> = Vec::new();
        for (r, _) in order {
            let (block, offset) = (r / b, (r % b) as u32);
            match groups.last_mut() {
                Some((last, offsets)) if *last == block => offsets.push(offset),
                _ => groups.push((block, vec![offset])),
            }
        }
        groups.retain(|(_, o)| o.len() >= 2);
        let max = groups.iter().map(|(_, o)| o.len()).max().unwrap_or(0);
        let mut at_least = vec![0u64; max + 1];
        let mut pairs = 0;
        for (_, o) in &groups {
            let k = o.len();
            for a in &mut at_least[..=k] {
                *a += 1;
            }
            pairs += (k * (k - 1) / 2) as u64;
        }
        Groups {
            groups,
            at_least,
            pairs,
        }
    }

    fn blocks(&self) -> u64 {
        self.groups.len() as u64
    }

    fn score(&self, candidate: &Candidate, secret: &WatermarkSecret, block_rows: usize) -> CandidateScore {
        let keyed = Keyed::new(secret, &candidate.grant_id, block_rows);
        let (mut order, mut ranks) = (Vec::new(), Vec::new());
        let mut fenwick = vec![0u32; keyed.block_rows + 1];
        let mut discordant = 0u64;
        for (block, offsets) in &self.groups {
            keyed.ranks_into(*block, &mut order, &mut ranks);
            discordant += inversions(offsets.iter().map(|&o| ranks[o as usize] as usize), &mut fenwick);
        }
        CandidateScore {
            candidate: candidate.clone(),
            agreeing_pairs: self.pairs - discordant,
            pairs: self.pairs,
            log10_p: ln_p_at_most(&self.at_least, discordant) / std::f64::consts::LN_10,
        }
    }
}

/// Pairs out of order in a sequence of distinct ranks below `fenwick.len() - 1` (a Fenwick tree,
/// left zeroed).
fn inversions(ranks: impl Iterator<Item = usize> + Clone, fenwick: &mut [u32]) -> u64 {
    let mut inv = 0u64;
    for (seen, r) in ranks.clone().enumerate() {
        // Ranks seen so far that are ≤ r.
        let mut below = 0u64;
        let mut i = r + 1;
        while i > 0 {
            below += u64::from(fenwick[i]);
            i &= i - 1;
        }
        inv += seen as u64 - below;
        let mut i = r + 1;
        while i < fenwick.len() {
            fenwick[i] += 1;
            i += i & i.wrapping_neg();
        }
    }
    for r in ranks {
        let mut i = r + 1;
        while i < fenwick.len() {
            fenwick[i] = 0;
            i += i & i.wrapping_neg();
        }
    }
    inv
}

/// ln of an upper bound on P(D ≤ d), where D is the total of out-of-order pairs when every
/// block's rows come in an order unrelated to the candidate's: a block of k rows then has the
/// inversion count of a uniform random permutation of k, the sum of independent uniforms on
/// {0..j-1}, j = 1..k. Chernoff: P(D ≤ d) ≤ min over θ ≥ 0 of e^{θd} E[e^{-θD}]; exact for d = 0
/// (Π 1/k!).
fn ln_p_at_most(at_least: &[u64], d: u64) -> f64 {
    let f = |t: f64| -> f64 {
        let ln_one = (-(-t).exp_m1()).ln();
        let mut s = t * d as f64;
        for (j, &count) in at_least.iter().enumerate().skip(2) {
            if count > 0 {
                let j = j as f64;
                s += count as f64 * ((-(-t * j).exp_m1()).ln() - ln_one - j.ln());
            }
        }
        s
    };
    if at_least.len() < 3 {
        return 0.0;
    }
    // f is convex (a log moment generating function plus a line): golden-section search.
    let (mut lo, mut hi) = (1e-9, 60.0);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut x1, mut x2) = (hi - g * (hi - lo), lo + g * (hi - lo));
    let (mut f1, mut f2) = (f(x1), f(x2));
    for _ in 0..100 {
        if f1 <= f2 {
            hi = x2;
            (x2, f2) = (x1, f1);
            x1 = hi - g * (hi - lo);
            f1 = f(x1);
        } else {
            lo = x1;
            (x1, f1) = (x2, f2);
            x2 = lo + g * (hi - lo);
            f2 = f(x2);
        }
    }
    f1.min(f2).min(f(60.0)).min(0.0)
}

fn decide(report: &mut TraceReport, opts: &TraceOptions) {
    let m = report.scores.len().max(1) as f64;
    let threshold = opts.max_p.log10();
    let significant = |s: &CandidateScore| s.log10_p + m.log10() <= threshold;
    let order_note = if report.order_kept < 0.9 && report.rows_identified >= 2 {
        format!(
            " Only {:.0}% of neighbouring rows keep the original order of blocks: the file was probably \
             sorted or shuffled, which erases the watermark.",
            report.order_kept * 100.0
        )
    } else if report.original_order && report.pairs > 0 {
        " The identified rows are in the table's own order: the copy was not made by a watermarked \
         download, or was sorted back into that order (e.g. by a key column), which erases the watermark."
            .to_string()
    } else {
        String::new()
    };
    let (best, second) = (report.scores.first(), report.scores.get(1));
    let (matched, explanation) =
        match (best, second) {
            _ if report.rows_identified == 0 => (
                None,
                format!(
                "None of the {} rows of the file was found in the original table (compared on {}): it may be a copy \
                 of another table, or of another version of this one.",
                report.rows_read,
                report.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
            ),
            _ if report.pairs == 0 => (
                None,
                format!(
                    "No two identified rows come from the same block of {} rows, so the row order carries no \
                 evidence; a copy with more rows is needed.{order_note}",
                    report.block_rows
                ),
            ),
            (None, _) => (None, "No candidate grants were given.".to_string()),
            (Some(b), _) if !significant(b) => (
                None,
                format!(
                    "No decisive match: the best candidate, grant {}, agrees on {} of {} same-block pairs; a copy \
                 it did not make agrees as well with probability {} (with {} candidates, below {:e} is \
                 needed).{order_note}",
                    b.candidate.grant_id,
                    b.agreeing_pairs,
                    b.pairs,
                    p_text(b.log10_p),
                    report.scores.len(),
                    opts.max_p
                ),
            ),
            (Some(b), Some(s)) if significant(s) || s.log10_p - b.log10_p < opts.min_ratio.log10() => (
                None,
                format!(
                    "No decisive match: grants {} and {} both explain the order (p {} and {}); the file may \
                 combine copies from several grants.",
                    b.candidate.grant_id,
                    s.candidate.grant_id,
                    p_text(b.log10_p),
                    p_text(s.log10_p)
                ),
            ),
            (Some(b), _) => (
                Some(b.candidate.clone()),
                format!(
                    "The copy comes from grant {} ({}, {}): {} of {} same-block pairs appear in the order this \
                 grant was sent them; a copy it did not make would do so with probability {}.",
                    b.candidate.grant_id,
                    b.candidate.consumer,
                    b.candidate.date,
                    b.agreeing_pairs,
                    b.pairs,
                    p_text(b.log10_p)
                ),
            ),
        };
    report.verdict = match matched {
        Some(grant) => Verdict::Match { grant },
        None => Verdict::NoDecisiveMatch,
    };
    report.explanation = explanation;
}

/// `≤ 10^-61.8` style: the p-values of a full copy underflow every float.
fn p_text(log10_p: f64) -> String {
    if log10_p > -3.0 {
        format!("{:.3}", 10f64.powf(log10_p))
    } else {
        format!("≤ 10^{:.1}", log10_p)
    }
}

impl fmt::Display for TraceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "File: {} ({} rows)", self.file, self.rows_read)?;
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let unused = if c.used { "" } else { ", not used" };
                format!("{} ({:.0}% found{unused})", c.name, c.matched * 100.0)
            })
            .collect();
        writeln!(f, "Columns compared: {}", cols.join(", "))?;
        if !self.ignored_columns.is_empty() {
            writeln!(f, "Columns not in the original: {}", self.ignored_columns.join(", "))?;
        }
        writeln!(
            f,
            "Rows identified: {} (ambiguous {}, not found {}, repeated {}); order of blocks kept: {:.1}%",
            self.rows_identified,
            self.rows_ambiguous,
            self.rows_not_found,
            self.rows_repeated,
            self.order_kept * 100.0
        )?;
        writeln!(
            f,
            "Evidence: {} pairs of rows in {} blocks of {} rows",
            self.pairs, self.blocks, self.block_rows
        )?;
        for s in &self.scores {
            writeln!(
                f,
                "  grant {:<12} {:<20} {:<12} {:>8}/{:<8} pairs agree   p {}",
                s.candidate.grant_id,
                s.candidate.consumer,
                s.candidate.date,
                s.agreeing_pairs,
                s.pairs,
                p_text(s.log10_p)
            )?;
        }
        writeln!(f, "{}", self.explanation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(v: &str, digits: usize) -> String {
        String::from_utf8(Canon::default().of(v, digits).to_vec()).unwrap()
    }

    #[test]
    fn spreadsheet_renderings_normalise_alike() {
        for (a, b) in [
            ("1.50", "1.5"),
            ("1.0", "1"),
            ("007", "7"),
            (" 42 ", "42"),
            ("1,234,567.80", "1234567.8"),
            ("=\"007\"", "7"),
            ("0.5", ".5"),
            ("-0", "0"),
            ("2023-01-01", "2023/1/1"),
            ("2023-01-05 08:30:00", "2023/1/5 8:30"),
            ("2023年1月5日", "2023-01-05"),
            ("TRUE", "true"),
            ("110101001001", "1.10101E+11"),
        ] {
            assert_eq!(canon(a, 6), canon(b, 6), "{a} vs {b}");
        }
        assert_ne!(canon("110101001001", 15), canon("1.10101E+11", 15));
        assert_ne!(canon("1,23", 15), canon("123", 15));
        assert_ne!(canon("12", 15), canon("s12", 15));
        assert_eq!(canon("999999999", 6), "n1e10");
        assert_eq!(canon("东城区", 6), "s东城区");
    }

    #[test]
    fn sci_notation_sets_the_column_precision() {
        assert_eq!(column_digits(["1.10101E+11", "1.1E+11", "12"].iter()), 6);
        assert_eq!(column_digits(["110101001001", "12"].iter()), 15);
    }

    #[test]
    fn permutations_are_keyed_and_complete() {
        let s = WatermarkSecret(b"k".to_vec());
        let a = block_permutation(&s, "g1", 0, 256);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..256).collect::<Vec<_>>());
        assert_ne!(a, block_permutation(&s, "g2", 0, 256));
        assert_ne!(a, block_permutation(&s, "g1", 1, 256));
        assert_ne!(a, block_permutation(&WatermarkSecret(b"j".to_vec()), "g1", 0, 256));
        assert_eq!(a, block_permutation(&s, "g1", 0, 256));
    }

    #[test]
    fn thinned_blocks_keep_the_relative_order() {
        let s = WatermarkSecret(b"k".to_vec());
        let full: Vec<u64> = permuted(0..300u64, &s, "g").collect();
        let mut p = Permuter::new(&s, "g");
        let mut out = Vec::new();
        for r in (0..300u64).filter(|r| r % 3 != 0) {
            p.push_numbered(r, r, &mut out).unwrap();
        }
        p.finish(&mut out);
        let expected: Vec<u64> = full.into_iter().filter(|r| r % 3 != 0).collect();
        assert_eq!(out, expected);
        assert!(p.push_numbered(5, 5, &mut out).is_err());
    }

    #[test]
    fn files_from_elsewhere_are_explained() {
        let mut t = OriginalTable::new(vec!["code".into(), "name".into()]);
        for i in 0..1000 {
            let code = format!("{i:04}");
            t.push_row([Some(code.as_str()), None]).unwrap();
        }
        assert!(t.push_row([Some("1")]).is_err());
        assert_eq!(t.rows(), 1000);
        assert_eq!(t.row(7).collect::<Vec<_>>(), ["0007", ""]);
        let secret = WatermarkSecret(b"k".to_vec());
        let grants = [Candidate {
            grant_id: "g".into(),
            consumer: "c".into(),
            date: "d".into(),
        }];
        let r = trace(&b"Code,x\r\n99999,y\r\n"[..], "x.csv", &t, &grants, &secret).unwrap();
        assert_eq!(r.ignored_columns, ["x"]);
        assert!(r.matched().is_none());
        assert!(r.explanation.starts_with("None of the 1 rows of the file"), "{r}");
        let e = trace(&b"a,b\r\n1,2\r\n"[..], "x.csv", &t, &grants, &secret).unwrap_err();
        assert!(matches!(e, WatermarkError::NoCommonColumns { .. }), "{e}");
    }

    #[test]
    fn inversions_count_out_of_order_pairs() {
        let mut fw = vec![0u32; 11];
        assert_eq!(inversions([0usize, 1, 2, 3].into_iter(), &mut fw), 0);
        assert_eq!(inversions([3usize, 2, 1, 0].into_iter(), &mut fw), 6);
        assert_eq!(inversions([2usize, 0, 9, 1].into_iter(), &mut fw), 3);
        assert!(fw.iter().all(|&x| x == 0));
    }

    #[test]
    fn p_value_is_exact_at_zero_and_near_one_at_chance() {
        // 10 blocks of 2 rows and 5 of 3: P(all agree) = 2^-10 · 6^-5.
        let mut at_least = vec![0u64; 4];
        at_least[..3].iter_mut().for_each(|a| *a = 15);
        at_least[3] = 5;
        let exact = -(10.0 * 2f64.ln() + 5.0 * 6f64.ln());
        assert!((ln_p_at_most(&at_least, 0) - exact).abs() < 1e-6);
        // 25 pairs, expected 12.5 out of order under chance.
        assert!(ln_p_at_most(&at_least, 12) > -0.1);
        assert!(ln_p_at_most(&at_least, 3) < ln_p_at_most(&at_least, 6));
        assert_eq!(ln_p_at_most(&[0, 0], 0), 0.0);
    }
}
