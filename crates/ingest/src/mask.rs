//! 脱敏 — masking rules applied per column to the rows handed to the datastore. Rules are
//! plain serde data so the store can keep them as JSON; the hashing secret is not part of a
//! rule (it comes from the platform's configuration).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// One column's masking rule, e.g. `{"column": "phone", "method": "keep", "first": 3, "last": 4}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskRule {
    pub column: String,
    #[serde(flatten)]
    pub method: MaskMethod,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum MaskMethod {
    /// Replace the whole value with `***`.
    Redact,
    /// Keep the first `first` and last `last` characters and mask the rest with `*`, one per
    /// character. A value too short to hide anything is masked entirely.
    Keep { first: usize, last: usize },
    /// HMAC-SHA256 with the platform's secret, hex, first 16 characters: equal values stay equal
    /// (joins and counts still work) but cannot be reversed without the secret.
    Hash,
    /// Reduce a date to its month (`2023-05`) or year (`2023`); a value that is not a date is
    /// redacted.
    GeneraliseDate { to: DatePart },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePart {
    Month,
    Year,
}

pub const REDACTED: &str = "***";

impl MaskMethod {
    /// Writes the masked form of a non-empty `value` into `out` (cleared first).
    pub fn apply(&self, value: &str, secret: &[u8], out: &mut String) {
        out.clear();
        match self {
            MaskMethod::Redact => out.push_str(REDACTED),
            MaskMethod::Keep { first, last } => keep(value, *first, *last, out),
            MaskMethod::Hash => hash(value, secret, out),
            MaskMethod::GeneraliseDate { to } => match crate::value::parse_date(value) {
                Some(d) => {
                    use std::fmt::Write;
                    let _ = match to {
                        DatePart::Month => write!(out, "{:04}-{:02}", d.year, d.month),
                        DatePart::Year => write!(out, "{:04}", d.year),
                    };
                }
                None => out.push_str(REDACTED),
            },
        }
    }
}

fn keep(value: &str, first: usize, last: usize, out: &mut String) {
    let n = value.chars().count();
    // Rules are JSON anyone with the provider's rights may write: counts near usize::MAX must
    // not overflow (a panic in debug builds, and in release a sum that wraps to a small number
    // would show the whole value).
    if n <= first.saturating_add(last) {
        out.extend(std::iter::repeat_n('*', n.max(1)));
        return;
    }
    for (i, c) in value.chars().enumerate() {
        out.push(if i < first || i >= n - last { c } else { '*' });
    }
}

fn hash(value: &str, secret: &[u8], out: &mut String) {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        out.push_str(REDACTED);
        return;
    };
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in &digest[..8] {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(m: &MaskMethod, v: &str) -> String {
        let mut out = String::from("stale");
        m.apply(v, b"secret", &mut out);
        out
    }

    #[test]
    fn redact() {
        assert_eq!(apply(&MaskMethod::Redact, "13812345678"), "***");
    }

    #[test]
    fn keep_first_and_last() {
        let m = MaskMethod::Keep { first: 3, last: 4 };
        assert_eq!(apply(&m, "13812345678"), "138****5678");
        assert_eq!(apply(&MaskMethod::Keep { first: 1, last: 0 }, "张三丰"), "张**");
        assert_eq!(apply(&m, "1234567"), "*******", "too short to hide anything");
    }

    /// Found by the `privacy` fuzz target: `first + last` overflowed.
    #[test]
    fn keep_with_huge_counts_masks_everything() {
        for (first, last) in [(usize::MAX, 1), (1, usize::MAX), (usize::MAX, usize::MAX)] {
            assert_eq!(apply(&MaskMethod::Keep { first, last }, "13812345678"), "***********");
        }
        let rule: MaskRule =
            serde_json::from_str(r#"{"column": "p", "method": "keep", "first": 18446744073709551615, "last": 1}"#)
                .unwrap();
        assert_eq!(apply(&rule.method, "13812345678"), "***********");
    }

    #[test]
    fn hash_is_keyed_hmac_truncated() {
        let a = apply(&MaskMethod::Hash, "11010519491231002X");
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, apply(&MaskMethod::Hash, "11010519491231002X"));
        assert_ne!(a, apply(&MaskMethod::Hash, "11010519491231003X"));
        let mut other = String::new();
        MaskMethod::Hash.apply("11010519491231002X", b"another secret", &mut other);
        assert_ne!(a, other, "the secret matters");
        // HMAC-SHA256(key="secret", "abc") = 9946dad4e00e913f…
        assert_eq!(apply(&MaskMethod::Hash, "abc"), "9946dad4e00e913f");
    }

    #[test]
    fn generalise_dates() {
        let month = MaskMethod::GeneraliseDate { to: DatePart::Month };
        let year = MaskMethod::GeneraliseDate { to: DatePart::Year };
        assert_eq!(apply(&month, "2023-05-17"), "2023-05");
        assert_eq!(apply(&month, "2023年5月17日"), "2023-05");
        assert_eq!(apply(&year, "2023/05/17 10:00:00"), "2023");
        assert_eq!(apply(&year, "not a date"), "***");
    }

    #[test]
    fn rules_round_trip_as_json() {
        let rules = vec![
            MaskRule {
                column: "phone".into(),
                method: MaskMethod::Keep { first: 3, last: 4 },
            },
            MaskRule {
                column: "birth".into(),
                method: MaskMethod::GeneraliseDate { to: DatePart::Year },
            },
            MaskRule {
                column: "id".into(),
                method: MaskMethod::Hash,
            },
        ];
        let json = serde_json::to_string(&rules).unwrap();
        assert!(
            json.contains(r#"{"column":"phone","method":"keep","first":3,"last":4}"#),
            "{json}"
        );
        assert!(json.contains(r#""method":"generalise_date","to":"year""#), "{json}");
        let back: Vec<MaskRule> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rules);
    }
}
