//! Personal-data detectors and masking. The input's first bytes choose a masking method and
//! its parameters; the rest is a cell value. Checks:
//! - the detectors and every masking method never panic, whatever the text and parameters;
//! - a masked value that the detectors flag never comes out unchanged, and redaction and date
//!   generalisation leave nothing the detectors would flag;
//! - `keep` keeps the character count (one `*` per hidden character);
//! - the pipeline never hands the sink a flagged value of a masked column.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubdata_fuzz::{check_ingest_into, fuzz_options, CheckingSink};
use pubdata_ingest::privacy::{id_card_valid, luhn_valid, scan};
use pubdata_ingest::{DatePart, MaskMethod, MaskRule, MaskSecret, PiiKind};

fn method(b: &[u8]) -> MaskMethod {
    let wide = |i: usize| -> usize {
        let x = b.get(i).copied().unwrap_or(0);
        // Mostly small counts, sometimes huge ones (rules are JSON a provider writes).
        if x >= 0xF0 {
            usize::MAX - usize::from(x & 0x0F)
        } else {
            usize::from(x % 24)
        }
    };
    match b.first().copied().unwrap_or(0) % 5 {
        0 => MaskMethod::Redact,
        1 => MaskMethod::Keep {
            first: wide(1),
            last: wide(2),
        },
        2 => MaskMethod::Hash,
        3 => MaskMethod::GeneraliseDate { to: DatePart::Month },
        _ => MaskMethod::GeneraliseDate { to: DatePart::Year },
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let m = method(&data[..3]);
    let value = String::from_utf8_lossy(&data[3..]);
    let value = value.as_ref();

    // Detectors.
    let found = scan(value);
    if id_card_valid(value) {
        assert!(
            found.contains(PiiKind::IdCard),
            "a valid ID number alone is not found: {value:?}"
        );
    }
    let _ = luhn_valid(value);

    // Masking one value.
    let mut out = String::from("stale");
    m.apply(value, b"fuzz secret", &mut out);
    let n = value.chars().count();
    match &m {
        MaskMethod::Redact => assert_eq!(out, "***"),
        MaskMethod::Keep { first, last } => {
            assert_eq!(out.chars().count(), n.max(1), "keep changed the length");
            let hidden = n.saturating_sub(first.saturating_add(*last));
            if n <= first.saturating_add(*last) {
                assert!(out.chars().all(|c| c == '*'), "a short value shown: {out:?}");
            } else {
                assert!(out.chars().filter(|&c| c == '*').count() >= hidden);
            }
            if !found.is_empty() && !value.contains('*') && hidden > 0 {
                assert_ne!(out, value, "a flagged value came out unmasked");
            }
        }
        MaskMethod::Hash => {
            assert_eq!(out.len(), 16);
            assert!(out.bytes().all(|b| b.is_ascii_hexdigit()));
            let mut again = String::new();
            m.apply(value, b"fuzz secret", &mut again);
            assert_eq!(out, again, "hashing is not deterministic");
        }
        MaskMethod::GeneraliseDate { to } => {
            let ok = out == "***"
                || match to {
                    DatePart::Year => out.len() == 4 && out.bytes().all(|b| b.is_ascii_digit()),
                    DatePart::Month => {
                        out.len() == 7
                            && out.as_bytes()[4] == b'-'
                            && out.bytes().filter(u8::is_ascii_digit).count() == 6
                    }
                };
            assert!(ok, "generalised date {out:?} from {value:?}");
        }
    }
    if !matches!(m, MaskMethod::Keep { .. }) {
        // (A hash is 16 hex digits, which now and then pass for a bank card number.)
        if !matches!(m, MaskMethod::Hash) {
            assert!(scan(&out).is_empty(), "{m:?} of {value:?} left personal data: {out:?}");
        }
        if !found.is_empty() {
            assert_ne!(out, value);
        }
    }

    // The same value through the pipeline, masked by rule in a column of a CSV (quoted, so any
    // text is one cell).
    if value.is_empty() || value.contains('"') || value.contains('\r') || value.contains('\n') || value.len() > 4096 {
        return;
    }
    let csv = format!("v,w\n\"{value}\",1\n\"{value}\",2\n");
    let mut opts = fuzz_options();
    opts.masks = vec![MaskRule {
        column: "v".into(),
        method: m.clone(),
    }];
    opts.mask_secret = MaskSecret(b"fuzz secret".to_vec());
    let sink = CheckingSink {
        keep_cells: true,
        ..Default::default()
    };
    if let Some((report, sink)) = check_ingest_into(csv.as_bytes(), "mask.csv", &opts, sink) {
        assert_eq!(report.masked_columns, ["v"]);
        if !found.is_empty() && !value.contains('*') {
            for cell in sink.cells.iter().step_by(2).flatten() {
                assert_ne!(cell.as_str(), value, "the sink got a flagged value of a masked column");
            }
        }
    }
});
