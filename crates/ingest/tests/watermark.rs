//! Traceable watermarks on the real region tables (`../shared/data`): copies of one grant's
//! download, altered the ways leaked files are (re-saved by a spreadsheet program, re-encoded,
//! columns dropped, a 1,000-row sample), name that grant out of six; copies no grant made, and
//! sorted copies, name none. Run with `--nocapture` to see the numbers behind each verdict.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pubdata_ingest::watermark::{permuted, trace, Candidate, OriginalTable, TraceReport, WatermarkSecret};

const GRANTS: [&str; 6] = ["g-101", "g-102", "g-103", "g-104", "g-105", "g-106"];

fn secret() -> WatermarkSecret {
    WatermarkSecret(b"test watermark secret, 32 bytes!".to_vec())
}

fn candidates() -> Vec<Candidate> {
    GRANTS
        .iter()
        .enumerate()
        .map(|(i, g)| Candidate {
            grant_id: g.to_string(),
            consumer: format!("用数单位{}", i + 1),
            date: format!("2024-0{}-15", i + 1),
        })
        .collect()
}

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
        "{} is missing in strict mode",
        dir.display()
    );
    println!("SKIP watermark: {} not found", dir.display());
    None
}

/// streets.csv: 41,352 rows of code, name, areaCode, provinceCode, cityCode.
fn streets() -> Option<&'static OriginalTable> {
    static T: OnceLock<Option<OriginalTable>> = OnceLock::new();
    T.get_or_init(|| {
        let path = data_dir()?.join("streets.csv");
        Some(OriginalTable::read(File::open(path).unwrap(), "streets.csv").unwrap())
    })
    .as_ref()
}

/// villages.csv.gz: 620,573 rows of code, name, streetCode, provinceCode, cityCode, areaCode.
fn villages() -> Option<&'static OriginalTable> {
    static T: OnceLock<Option<OriginalTable>> = OnceLock::new();
    T.get_or_init(|| {
        let file = File::open(data_dir()?.join("villages.csv.gz")).unwrap();
        let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
        Some(OriginalTable::read(gz, "villages.csv").unwrap())
    })
    .as_ref()
}

/// The row numbers of `grant`'s download of a table of `rows` rows, in the order sent.
fn download(rows: usize, grant: &str) -> Vec<usize> {
    permuted(0..rows, &secret(), grant).collect()
}

/// `k` rows of `order` picked at random, keeping their order (a sample, as by a filter or a
/// "keep every row where RAND() < x" in a spreadsheet).
fn sample(order: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut positions: Vec<usize> = (0..order.len()).collect();
    for i in 0..k {
        let j = i + (next() % (order.len() - i) as u64) as usize;
        positions.swap(i, j);
    }
    let mut picked = positions[..k].to_vec();
    picked.sort_unstable();
    picked.into_iter().map(|p| order[p]).collect()
}

/// A copy: the header and rows of `table` in `order`, keeping `columns` (all when empty).
struct Copy {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn copy(table: &OriginalTable, order: &[usize], columns: &[&str]) -> Copy {
    let keep: Vec<usize> = if columns.is_empty() {
        (0..table.columns().len()).collect()
    } else {
        columns
            .iter()
            .map(|c| table.columns().iter().position(|n| n == c).unwrap())
            .collect()
    };
    let rows = order
        .iter()
        .map(|&r| {
            let cells: Vec<&str> = table.row(r).collect();
            keep.iter().map(|&c| cells[c].to_string()).collect()
        })
        .collect();
    Copy {
        header: keep.iter().map(|&c| table.columns()[c].clone()).collect(),
        rows,
    }
}

fn csv_line(cells: impl Iterator<Item = String>, quote_all: bool) -> String {
    let cells: Vec<String> = cells
        .map(|c| {
            if quote_all || c.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c
            }
        })
        .collect();
    cells.join(",") + "\r\n"
}

/// As the platform serves it: UTF-8, CRLF, quotes only where needed.
fn served_csv(c: &Copy) -> Vec<u8> {
    let mut out = csv_line(c.header.iter().cloned(), false);
    for r in &c.rows {
        out.push_str(&csv_line(r.iter().cloned(), false));
    }
    out.into_bytes()
}

/// How a spreadsheet program in its "General" format shows a value it read from a CSV: leading
/// zeros lost, `1.50` as `1.5`, numbers of 12 digits or more as `1.10101E+11`, dates as
/// `2023/1/5`, booleans as `TRUE`.
fn general(v: &str) -> String {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let digits = v.trim_start_matches('0');
        if digits.is_empty() {
            return "0".into();
        }
        if digits.len() <= 11 {
            return digits.into();
        }
        return scientific(digits);
    }
    if let Some((i, f)) = v.split_once('.') {
        if !i.is_empty() && i.bytes().chain(f.bytes()).all(|b| b.is_ascii_digit()) {
            return format!("{}", v.parse::<f64>().unwrap());
        }
    }
    if let Some(d) = pubdata_ingest::parse_date(v) {
        let mut s = format!("{}/{}/{}", d.year, d.month, d.day);
        if let Some((h, m, _)) = d.time {
            s += &format!(" {h}:{m:02}");
        }
        return s;
    }
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        return v.to_ascii_uppercase();
    }
    v.to_string()
}

/// `110101001001` → `1.10101E+11`: six significant digits, trailing zeros dropped.
fn scientific(digits: &str) -> String {
    let mut m: Vec<u8> = digits.bytes().take(6).map(|b| b - b'0').collect();
    let mut exp = digits.len() - 1;
    if digits.as_bytes().get(6).is_some_and(|&b| b >= b'5') {
        let mut i = 6;
        loop {
            if i == 0 {
                m.insert(0, 1);
                m.pop();
                exp += 1;
                break;
            }
            i -= 1;
            if m[i] == 9 {
                m[i] = 0;
            } else {
                m[i] += 1;
                break;
            }
        }
    }
    while m.len() > 1 && m.last() == Some(&0) {
        m.pop();
    }
    let rest: String = m[1..].iter().map(|d| char::from(b'0' + d)).collect();
    let dot = if rest.is_empty() { "" } else { "." };
    format!("{}{dot}{rest}E+{exp:02}", m[0])
}

/// Re-saved as CSV by a spreadsheet program: values as it shows them, every field quoted, CRLF,
/// with a byte-order mark when saved as "CSV UTF-8".
fn resaved_csv(c: &Copy, bom: bool) -> Vec<u8> {
    let mut out = String::from(if bom { "\u{feff}" } else { "" });
    out.push_str(&csv_line(c.header.iter().cloned(), true));
    for r in &c.rows {
        out.push_str(&csv_line(r.iter().map(|v| general(v)), true));
    }
    out.into_bytes()
}

/// Re-saved as XLSX: what looks like a number becomes a number cell (leading zeros lost, read
/// back as Excel stores it), the rest text.
fn resaved_xlsx(c: &Copy) -> Vec<u8> {
    let col = |i: usize| char::from(b'A' + i as u8);
    let cell = |r: usize, i: usize, v: &str| {
        let numeric = !v.is_empty() && v.parse::<f64>().is_ok() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if numeric {
            format!(r#"<c r="{}{r}"><v>{}</v></c>"#, col(i), v.parse::<f64>().unwrap())
        } else {
            let t = v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            format!(r#"<c r="{}{r}" t="inlineStr"><is><t>{t}</t></is></c>"#, col(i))
        }
    };
    let mut data = String::new();
    let row = |r: usize, cells: &[String], data: &mut String| {
        data.push_str(&format!(r#"<row r="{r}">"#));
        for (i, v) in cells.iter().enumerate() {
            data.push_str(&cell(r, i, v));
        }
        data.push_str("</row>");
    };
    let header: Vec<String> = c.header.clone();
    row(1, &header, &mut data);
    for (i, r) in c.rows.iter().enumerate() {
        row(i + 2, r, &mut data);
    }
    common::xlsx(&[("Sheet1", &data)], &[])
}

fn to_gb18030(utf8: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(utf8).unwrap().trim_start_matches('\u{feff}');
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn run(table: &OriginalTable, bytes: &[u8], name: &str) -> TraceReport {
    trace(bytes, name, table, &candidates(), &secret()).unwrap()
}

fn summary(case: &str, r: &TraceReport) -> String {
    let score = |i: usize| {
        r.scores
            .get(i)
            .map(|s| {
                format!(
                    "{} {}/{} log10 p {:.1}",
                    s.candidate.grant_id, s.agreeing_pairs, s.pairs, s.log10_p
                )
            })
            .unwrap_or_default()
    };
    format!(
        "CASE {case}: {} | rows {} identified of {} ({} ambiguous, {} not found), columns used {}, {} pairs in {} \
         blocks, order kept {:.0}% | best {} | runner-up {}",
        r.matched().map(|c| c.grant_id.as_str()).unwrap_or("no decisive match"),
        r.rows_identified,
        r.rows_read,
        r.rows_ambiguous,
        r.rows_not_found,
        r.columns
            .iter()
            .filter(|c| c.used)
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        r.pairs,
        r.blocks,
        r.order_kept * 100.0,
        score(0),
        score(1)
    )
}

fn expect_grant(case: &str, r: &TraceReport, grant: &str) {
    println!("{}", summary(case, r));
    assert_eq!(r.matched().map(|c| c.grant_id.as_str()), Some(grant), "{case}:\n{r}");
    assert!(
        r.scores[1].log10_p > -6.0,
        "{case}: a wrong grant scores too well:\n{r}"
    );
}

fn expect_none(case: &str, r: &TraceReport) {
    println!("{}", summary(case, r));
    assert!(r.matched().is_none(), "{case}: no grant should be named:\n{r}");
}

fn sorted_rows(t: &OriginalTable) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = (0..t.rows()).map(|r| t.row(r).map(str::to_string).collect()).collect();
    rows.sort();
    rows
}

#[test]
fn a_download_changes_no_value_only_the_order_within_blocks() {
    let Some(streets) = streets() else { return };
    assert_eq!(streets.rows(), 41_352);
    let order = download(streets.rows(), GRANTS[0]);
    let served = served_csv(&copy(streets, &order, &[]));
    let back = OriginalTable::read(&served[..], "download.csv").unwrap();
    assert_eq!(back.columns(), streets.columns());
    assert_eq!(sorted_rows(&back), sorted_rows(streets));
    assert!(order.iter().enumerate().all(|(i, &r)| i / 256 == r / 256));
    let moved = order.iter().enumerate().filter(|(i, r)| i != *r).count();
    assert!(moved > streets.rows() * 9 / 10, "only {moved} rows moved");
    assert_ne!(order, download(streets.rows(), GRANTS[1]));
}

#[test]
fn plain_copies_name_their_grant() {
    let Some(streets) = streets() else { return };
    for g in GRANTS {
        let c = copy(streets, &download(streets.rows(), g), &[]);
        let r = run(streets, &served_csv(&c), "leak.csv");
        expect_grant(&format!("streets plain copy of {g}"), &r, g);
        assert_eq!(r.rows_identified, 41_352);
    }
}

#[test]
fn copies_re_saved_by_a_spreadsheet_name_their_grant() {
    let Some(streets) = streets() else { return };
    let c = copy(streets, &download(streets.rows(), GRANTS[1]), &[]);
    let r = run(streets, &resaved_csv(&c, true), "leak.csv");
    expect_grant("streets re-saved as CSV (BOM, CRLF, all quoted)", &r, GRANTS[1]);
    let r = run(streets, &resaved_xlsx(&c), "leak.xlsx");
    expect_grant("streets re-saved as XLSX", &r, GRANTS[1]);
}

#[test]
fn re_encoded_copies_name_their_grant() {
    let Some(streets) = streets() else { return };
    let served = served_csv(&copy(streets, &download(streets.rows(), GRANTS[2]), &[]));
    let gb = to_gb18030(&served);
    let r = run(streets, &gb, "leak.csv");
    expect_grant("streets converted to GB18030", &r, GRANTS[2]);
    let (back, _, _) = encoding_rs::GB18030.decode(&gb);
    let r = run(streets, back.as_bytes(), "leak.csv");
    expect_grant("streets converted to GB18030 and back to UTF-8", &r, GRANTS[2]);
}

#[test]
fn copies_with_columns_dropped_name_their_grant() {
    let Some(streets) = streets() else { return };
    let c = copy(streets, &download(streets.rows(), GRANTS[3]), &["name", "code"]);
    let r = run(streets, &served_csv(&c), "leak.csv");
    expect_grant("streets with only name + code", &r, GRANTS[3]);
    let c = copy(streets, &download(streets.rows(), GRANTS[3]), &["cityCode", "name"]);
    let r = run(streets, &resaved_csv(&c, false), "leak.csv");
    expect_grant("streets with only cityCode + name, re-saved", &r, GRANTS[3]);
}

#[test]
fn samples_of_1000_villages_name_their_grant() {
    let Some(villages) = villages() else { return };
    assert_eq!(villages.rows(), 620_573);
    let order = download(villages.rows(), GRANTS[4]);
    for seed in 1..=3 {
        let c = copy(villages, &sample(&order, 1000, seed), &[]);
        let r = run(villages, &served_csv(&c), "leak.csv");
        expect_grant(&format!("villages: 1,000-row sample #{seed}"), &r, GRANTS[4]);
    }
    let c = copy(villages, &sample(&order, 1000, 4), &["name", "streetCode"]);
    let r = run(villages, &served_csv(&c), "leak.csv");
    expect_grant("villages: 1,000-row sample, only name + streetCode", &r, GRANTS[4]);

    // All at once: sampled, two columns, re-saved by a spreadsheet (12-digit codes shown as
    // 1.10101E+11), saved in GB18030.
    let order = download(villages.rows(), GRANTS[5]);
    let c = copy(villages, &sample(&order, 1000, 5), &["code", "name", "streetCode"]);
    let r = run(villages, &to_gb18030(&resaved_csv(&c, false)), "leak.csv");
    expect_grant(
        "villages: sample + 3 columns + spreadsheet re-save + GB18030",
        &r,
        GRANTS[5],
    );
    let c = copy(villages, &sample(&order, 1000, 6), &["name", "streetCode"]);
    let r = run(villages, &to_gb18030(&resaved_csv(&c, false)), "leak.csv");
    expect_grant(
        "villages: sample + name + streetCode + re-save + GB18030",
        &r,
        GRANTS[5],
    );

    // A copy made without a watermark names no one.
    let original: Vec<usize> = (0..villages.rows()).collect();
    let c = copy(villages, &sample(&original, 1000, 7), &[]);
    expect_none(
        "villages: 1,000-row sample of an unwatermarked copy",
        &run(villages, &served_csv(&c), "x.csv"),
    );
}

#[test]
fn copies_no_candidate_made_name_no_one() {
    let Some(streets) = streets() else { return };
    let original: Vec<usize> = (0..streets.rows()).collect();
    let r = run(streets, &served_csv(&copy(streets, &original, &[])), "leak.csv");
    expect_none("streets: unwatermarked copy", &r);
    assert!(r.original_order && r.explanation.contains("table's own order"), "{r}");

    let other = download(streets.rows(), "g-999");
    let c = copy(streets, &other, &[]);
    expect_none(
        "streets: copy of a grant not among the candidates",
        &run(streets, &served_csv(&c), "x.csv"),
    );
    let mut with_other = candidates();
    with_other.push(Candidate {
        grant_id: "g-999".into(),
        consumer: "另一单位".into(),
        date: "2024-09-01".into(),
    });
    let r = trace(&served_csv(&c)[..], "x.csv", streets, &with_other, &secret()).unwrap();
    expect_grant("streets: the same copy, its grant among 7 candidates", &r, "g-999");
}

#[test]
fn a_sorted_copy_names_no_one() {
    let Some(streets) = streets() else { return };
    let mut c = copy(streets, &download(streets.rows(), GRANTS[0]), &[]);
    c.rows.sort_by(|a, b| a[1].cmp(&b[1]));
    let r = run(streets, &served_csv(&c), "leak.csv");
    expect_none("streets: sorted by name (documented limit)", &r);
    assert!(r.order_kept < 0.9, "{r}");
    assert!(r.explanation.contains("sorted or shuffled"), "{r}");
}

/// A made-up table with what spreadsheets alter most: leading zeros, decimals, dates,
/// booleans.
#[test]
fn spreadsheet_changes_to_numbers_dates_and_flags_are_undone() {
    let columns = ["id", "amount", "date", "paid", "note"];
    let mut t = OriginalTable::new(columns.iter().map(|c| c.to_string()).collect());
    for i in 0..20_000u32 {
        let id = format!("{:06}", i * 7 + 3);
        let amount = format!("{}.{}0", i % 977, i % 10);
        let date = format!("2023-{:02}-{:02}", i % 12 + 1, i % 28 + 1);
        let paid = if i % 3 == 0 { "true" } else { "false" };
        let note = format!("备注 {}", i % 50);
        t.push_row([Some(id.as_str()), Some(&amount), Some(&date), Some(paid), Some(&note)])
            .unwrap();
    }
    let c = copy(&t, &download(t.rows(), GRANTS[2]), &[]);
    let leaked = resaved_csv(&c, true);
    let text = String::from_utf8(leaked.clone()).unwrap();
    assert!(text.starts_with("\u{feff}\"id\",\"amount\""), "{}", &text[..100]);
    assert!(
        text.contains("\r\n\"10\",\"1.1\",\"2023/2/2\",\"FALSE\",\"备注 1\"\r\n"),
        "{}",
        &text[..300]
    );
    let r = run(&t, &leaked, "leak.csv");
    expect_grant(
        "made-up table re-saved (leading zeros, 1.50, dates, TRUE)",
        &r,
        GRANTS[2],
    );
    assert_eq!(r.rows_identified, 20_000, "{r}");
}

/// How small a sample of the villages table still names its grant: 40 random samples per size,
/// each traced against the six candidates (`cargo test --release -p pubdata-ingest --test
/// watermark -- --ignored --nocapture`; the numbers in `docs/security.md` come from it).
#[test]
#[ignore = "a survey of about 200 traces; run in release"]
fn survey_of_sample_sizes() {
    let Some(villages) = villages() else { return };
    let order = download(villages.rows(), GRANTS[0]);
    for size in [300, 400, 500, 700, 1000] {
        let (mut named, mut wrong, mut pairs, mut fewest, mut worst) = (0, 0, 0, u64::MAX, f64::MIN);
        let tries = 40;
        for seed in 0..tries {
            let c = copy(villages, &sample(&order, size, 1000 + seed), &["name", "streetCode"]);
            let r = run(villages, &served_csv(&c), "leak.csv");
            match r.matched() {
                Some(g) if g.grant_id == GRANTS[0] => named += 1,
                Some(_) => wrong += 1,
                None => {}
            }
            pairs += r.pairs;
            fewest = fewest.min(r.pairs);
            let right = r.scores.iter().find(|s| s.candidate.grant_id == GRANTS[0]).unwrap();
            worst = worst.max(right.log10_p);
        }
        println!(
            "SURVEY {size} rows of 620,573: named {named}/{tries}, wrong {wrong}; pairs mean {:.1}, fewest \
             {fewest}; the right grant's weakest log10 p {worst:.1}",
            pairs as f64 / tries as f64
        );
        assert_eq!(wrong, 0);
        if size >= 1000 {
            assert_eq!(named, tries);
        }
    }
}
