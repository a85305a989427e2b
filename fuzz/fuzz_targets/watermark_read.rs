//! Reading a watermark back from a leaked copy (`pubdata trace`): the leaked file is parsed,
//! its rows matched to a fixed original table, and the row order scored against each grant.
//!
//! The first byte chooses the mode:
//! - even: the rest is the leaked file itself (CSV, or JSON/XLSX by its first bytes); bad files
//!   are an `Err`, and a report's numbers are consistent;
//! - odd: a real watermarked download of grant `g` (the second byte) is made and then altered
//!   as the rest of the bytes say (rows dropped, swapped, repeated or edited, a column
//!   dropped); whatever the alterations, the trace must never name any grant but `g`.
#![no_main]

use std::fmt::Write as _;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pubdata_ingest::watermark::{trace_with, Candidate, OriginalTable, Permuter, TraceOptions, WatermarkSecret};

const ROWS: usize = 128;
const BLOCK: usize = 16;
const GRANTS: usize = 4;

struct Fixture {
    original: OriginalTable,
    rows: Vec<[String; 3]>,
    candidates: Vec<Candidate>,
    secret: WatermarkSecret,
    opts: TraceOptions,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rows: Vec<[String; 3]> = (0..ROWS)
            .map(|i| {
                [
                    format!("{:06}", 110000 + i * 7),
                    format!("村{}", i % 97),
                    format!("{}.{}", i * 3 / 2, (i * 5) % 10),
                ]
            })
            .collect();
        let mut original = OriginalTable::new(vec!["code".into(), "name".into(), "amount".into()]);
        for r in &rows {
            original.push_row(r.iter().map(|c| Some(c.as_str()))).unwrap();
        }
        let candidates = (0..GRANTS)
            .map(|g| Candidate {
                grant_id: format!("grant-{g}"),
                consumer: format!("consumer {g}"),
                date: "2026-01-01".into(),
            })
            .collect();
        Fixture {
            original,
            rows,
            candidates,
            secret: WatermarkSecret(b"fuzz watermark secret".to_vec()),
            opts: TraceOptions {
                block_rows: BLOCK,
                ..TraceOptions::default()
            },
        }
    })
}

fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = header.join(",");
    s.push('\n');
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            if c.contains([',', '"', '\n', '\r']) {
                let _ = write!(s, "\"{}\"", c.replace('"', "\"\""));
            } else {
                s.push_str(c);
            }
        }
        s.push('\n');
    }
    s
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    if mode % 2 == 0 {
        let name = if rest.starts_with(b"PK") {
            "leak.xlsx"
        } else if rest.trim_ascii_start().starts_with(b"[") {
            "leak.json"
        } else {
            "leak.csv"
        };
        if let Ok(report) = trace_with(rest, name, &f.original, &f.candidates, &f.secret, &f.opts) {
            let accounted =
                report.rows_identified + report.rows_ambiguous + report.rows_not_found + report.rows_repeated;
            assert_eq!(accounted, report.rows_read, "rows unaccounted for: {report:?}");
            assert!(
                (0.0..=1.0).contains(&report.order_kept),
                "order_kept {}",
                report.order_kept
            );
            assert_eq!(report.scores.len(), f.candidates.len());
            for s in &report.scores {
                assert!(s.log10_p <= 1e-9 && !s.log10_p.is_nan(), "log10_p {}", s.log10_p);
                assert!(s.agreeing_pairs <= s.pairs);
            }
            for c in &report.columns {
                assert!((0.0..=1.0).contains(&c.matched), "column share {c:?}");
            }
            if let Some(g) = report.matched() {
                assert!(f.candidates.contains(g));
            }
        }
        return;
    }

    // A real download of grant g, then altered.
    let Some((&g, ops)) = rest.split_first() else { return };
    let g = usize::from(g) % GRANTS;
    let mut permuter = Permuter::with_block_rows(&f.secret, &f.candidates[g].grant_id, BLOCK);
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(ROWS);
    for r in &f.rows {
        permuter.push(r.to_vec(), &mut rows);
    }
    permuter.finish(&mut rows);
    assert_eq!(rows.len(), ROWS);
    let mut header = vec!["code", "name", "amount"];
    for op in ops.chunks(3) {
        let a = usize::from(*op.get(1).unwrap_or(&0));
        let b = usize::from(*op.get(2).unwrap_or(&0));
        if rows.is_empty() {
            break;
        }
        let n = rows.len();
        match op[0] % 8 {
            // Drop a run of rows.
            0 => {
                let s = a % n;
                rows.drain(s..(s + b % 32).min(n));
            }
            // Swap two rows.
            1 => rows.swap(a % n, (a + 1 + b % 8) % n),
            // Repeat a row somewhere.
            2 => {
                let r = rows[a % n].clone();
                rows.insert(b % (n + 1), r);
            }
            // Edit a cell.
            3 => {
                let r = a % n;
                let c = b % rows[r].len();
                rows[r][c] = format!("x{b}");
            }
            // Round the amounts, as a spreadsheet showing no decimals would.
            4 if header.len() == 3 => {
                for r in &mut rows {
                    if let Some(dot) = r[2].find('.') {
                        r[2].truncate(dot);
                    }
                }
            }
            // Drop a column (keeping one).
            5 if header.len() > 1 => {
                let c = a % header.len();
                header.remove(c);
                for r in &mut rows {
                    r.remove(c);
                }
            }
            // Keep every k-th row (a sample that keeps the order).
            6 => {
                let k = 1 + a % 4;
                let mut i = 0;
                rows.retain(|_| {
                    i += 1;
                    i % k == 0
                });
            }
            // Reverse a short stretch.
            _ => {
                let s = a % n;
                rows[s..(s + b % 8).min(n)].reverse();
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    let text = csv(&header, &rows);
    let report = trace_with(
        text.as_bytes(),
        "leak.csv",
        &f.original,
        &f.candidates,
        &f.secret,
        &f.opts,
    )
    .expect("a rendered download could not be read back");
    if let Some(m) = report.matched() {
        assert_eq!(
            m.grant_id, f.candidates[g].grant_id,
            "the trace named the wrong grant: {report:?}"
        );
    }
});
