//! What one cell value is: a number, a date, a boolean, a code. Each value is classified once and
//! the profiler, the type inference and the quality audit all read the same facts.

use pubdata_core::field::FieldType;

/// Type bits: the set of types a value (or, AND-ed, a whole column) is compatible with.
pub(crate) const INT: u8 = 1;
pub(crate) const DEC: u8 = 2;
pub(crate) const DATE: u8 = 4;
pub(crate) const DATETIME: u8 = 8;
pub(crate) const BOOL: u8 = 16;
/// ASCII letters and digits only, with at least one digit (e.g. `110101`, `91510100MA6C…`).
pub(crate) const CODE: u8 = 32;
pub(crate) const ALL: u8 = INT | DEC | DATE | DATETIME | BOOL | CODE;

/// The facts about one non-empty (trimmed) cell value.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ValueClass {
    pub null: bool,
    pub mask: u8,
    /// A digit string starting with `0` and longer than one digit, like `007`.
    pub leading_zero: bool,
    pub has_letter: bool,
    /// Digits after the decimal point.
    pub scale: u8,
    /// Length in characters.
    pub chars: u32,
    /// The numeric value when the value is an integer or a decimal.
    pub number: Option<f64>,
    /// `DateFormat` bit of the date format, 0 when not a valid date.
    pub date_format: u8,
}

impl ValueClass {
    pub const NULL: ValueClass = ValueClass {
        null: true,
        mask: ALL,
        leading_zero: false,
        has_letter: false,
        scale: 0,
        chars: 0,
        number: None,
        date_format: 0,
    };
}

/// Characters in a UTF-8 string: bytes that do not continue a sequence.
pub(crate) fn char_count(s: &str) -> u32 {
    if s.is_ascii() {
        return s.len() as u32;
    }
    s.bytes().filter(|b| (b & 0xC0) != 0x80).count() as u32
}

pub(crate) fn classify(v: &str) -> ValueClass {
    let b = v.as_bytes();
    let mut c = ValueClass {
        chars: char_count(v),
        ..ValueClass::default()
    };
    let first = b[0];
    let mut all_digits = false;
    if first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' {
        all_digits = classify_numeric(b, &mut c);
        if first.is_ascii_digit() && b.len() >= 8 {
            if let Some(d) = parse_date(v) {
                c.mask |= if d.time.is_some() { DATETIME } else { DATE | DATETIME };
                c.date_format = d.format_bit();
            }
        }
        if c.mask & DEC != 0 && c.number.is_none() {
            c.number = v.parse::<f64>().ok().filter(|n| n.is_finite());
        }
    }
    if all_digits {
        if b.len() <= 64 {
            c.mask |= CODE;
        }
    } else if first.is_ascii_alphanumeric() && is_code(b) {
        c.mask |= CODE;
        c.has_letter = b.iter().any(u8::is_ascii_alphabetic);
    }
    if parse_bool(v).is_some() {
        c.mask |= BOOL;
    }
    c
}

/// Integer: `[+-]?\d{1,18}`; decimal: `[+-]?\d*\.?\d*` with at least one digit. Returns
/// whether the value is nothing but digits.
fn classify_numeric(b: &[u8], c: &mut ValueClass) -> bool {
    let start = usize::from(b[0] == b'-' || b[0] == b'+');
    let mut i = start;
    let mut n: u64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        n = n.wrapping_mul(10).wrapping_add(u64::from(b[i] - b'0'));
        i += 1;
    }
    let int_digits = i - start;
    if i == b.len() {
        if int_digits == 0 {
            return false;
        }
        if int_digits <= 18 {
            c.mask |= INT;
            // Exact below 2^53; integers are compared as f64 for min/max anyway.
            let x = n as f64;
            c.number = Some(if b[0] == b'-' { -x } else { x });
        }
        c.mask |= DEC;
        c.leading_zero = start == 0 && int_digits > 1 && b[0] == b'0';
        return start == 0;
    }
    if b[i] != b'.' {
        return false;
    }
    let dot = i;
    i += 1;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let frac = i - dot - 1;
    if i == b.len() && int_digits + frac > 0 {
        c.mask |= DEC;
        c.scale = frac.min(255) as u8;
    }
    false
}

fn is_code(b: &[u8]) -> bool {
    b.len() <= 64 && b.iter().all(u8::is_ascii_alphanumeric) && b.iter().any(u8::is_ascii_digit)
}

/// `true`/`false`/`yes`/`no` (any case), `是`/`否`.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.len() {
        2..=5 => {}
        _ => return None,
    }
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes") || v == "是" {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") || v.eq_ignore_ascii_case("no") || v == "否" {
        Some(false)
    } else {
        None
    }
}

/// Whether a column whose values AND to `mask` is of a type; used to infer a column's type.
pub(crate) struct ColumnShape {
    pub mask: u8,
    pub non_null: u64,
    pub leading_zero: bool,
    pub has_letter: bool,
    pub min_chars: u32,
    pub max_chars: u32,
}

/// The narrowest type every non-empty value of a column fits. Codes are digit strings with a
/// leading zero somewhere, letter/digit mixes, or digit strings of one fixed length ≥ 6 (region
/// codes, ID numbers); shorter fixed-length numbers (years, counts) stay integers.
pub(crate) fn infer_type(s: &ColumnShape) -> FieldType {
    let m = s.mask;
    if s.non_null == 0 {
        FieldType::String
    } else if m & BOOL != 0 {
        FieldType::Boolean
    } else if m & DATE != 0 {
        FieldType::Date
    } else if m & DATETIME != 0 {
        FieldType::Datetime
    } else if m & CODE != 0 && (s.leading_zero || s.has_letter || (s.min_chars == s.max_chars && s.min_chars >= 6)) {
        FieldType::Code
    } else if m & INT != 0 {
        FieldType::Integer
    } else if m & DEC != 0 {
        FieldType::Decimal
    } else {
        FieldType::String
    }
}

/// The date layouts pubdata recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `YYYY-MM-DD` (also `YYYY-M-D`)
    Dash,
    /// `YYYY/MM/DD`
    Slash,
    /// `YYYYMMDD`
    Compact,
    /// `YYYY年M月D日`
    Chinese,
}

/// A valid calendar date, with a time of day when one was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub time: Option<(u8, u8, u8)>,
    pub style: DateStyle,
}

impl ParsedDate {
    pub(crate) fn format_bit(&self) -> u8 {
        1 << (self.style as u8 * 2 + u8::from(self.time.is_some()))
    }
}

const FORMAT_NAMES: [&str; 8] = [
    "YYYY-MM-DD",
    "YYYY-MM-DD HH:MM:SS",
    "YYYY/MM/DD",
    "YYYY/MM/DD HH:MM:SS",
    "YYYYMMDD",
    "YYYYMMDD HH:MM:SS",
    "YYYY年M月D日",
    "YYYY年M月D日 HH:MM:SS",
];

/// Names of the date formats in a set of format bits.
pub(crate) fn format_names(bits: u8) -> Vec<String> {
    (0..8)
        .filter(|i| bits & (1 << i) != 0)
        .map(|i| FORMAT_NAMES[i].to_string())
        .collect()
}

/// Parses a date or date-time in one of the recognised layouts, rejecting impossible dates
/// (month 13, 30 February). Compact `YYYYMMDD` needs a year in 1900–2100 to be told from numbers.
pub fn parse_date(v: &str) -> Option<ParsedDate> {
    let b = v.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = digits(&b[..4])? as u16;
    let (style, month, day, rest) = match b[4] {
        b'-' | b'/' => {
            let sep = b[4];
            let (month, r) = take_num(&b[5..], 2)?;
            let r = r.strip_prefix(&[sep])?;
            let (day, r) = take_num(r, 2)?;
            let style = if sep == b'-' { DateStyle::Dash } else { DateStyle::Slash };
            (style, month, day, r)
        }
        b'0'..=b'9' => {
            if b.len() > 8 && b[8].is_ascii_digit() {
                return None;
            }
            if !(1900..=2100).contains(&year) || !b[4..8].iter().all(u8::is_ascii_digit) {
                return None;
            }
            let month = digits(&b[4..6])?;
            let day = digits(&b[6..8])?;
            (DateStyle::Compact, month, day, &b[8..])
        }
        _ => {
            let r = b[4..].strip_prefix("年".as_bytes())?;
            let (month, r) = take_num(r, 2)?;
            let r = r.strip_prefix("月".as_bytes())?;
            let (day, r) = take_num(r, 2)?;
            let r = r.strip_prefix("日".as_bytes())?;
            (DateStyle::Chinese, month, day, r)
        }
    };
    if !valid_ymd(year, month, day) {
        return None;
    }
    let time = if rest.is_empty() {
        None
    } else {
        Some(parse_time(rest, style == DateStyle::Chinese)?)
    };
    Some(ParsedDate {
        year,
        month: month as u8,
        day: day as u8,
        time,
        style,
    })
}

/// ` HH:MM[:SS[.fff]][Z]` or `THH:MM…`.
fn parse_time(b: &[u8], separator_optional: bool) -> Option<(u8, u8, u8)> {
    let b = match b[0] {
        b' ' | b'T' => &b[1..],
        _ if separator_optional => b,
        _ => return None,
    };
    let (h, r) = take_num(b, 2)?;
    let r = r.strip_prefix(b":")?;
    let (m, mut r) = take_num(r, 2)?;
    let mut s = 0;
    if let Some(rest) = r.strip_prefix(b":") {
        let (sec, rest) = take_num(rest, 2)?;
        s = sec;
        r = rest;
        if let Some(frac) = r.strip_prefix(b".") {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            r = &frac[n..];
        }
    }
    if r == b"Z" {
        r = &[];
    }
    if !r.is_empty() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h as u8, m as u8, s as u8))
}

/// One or two leading digits (at most `max`), and the rest.
fn take_num(b: &[u8], max: usize) -> Option<(u32, &[u8])> {
    let n = b.iter().take(max).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    Some((digits(&b[..n])?, &b[n..]))
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut n: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

pub(crate) fn valid_ymd(year: u16, month: u32, day: u32) -> bool {
    let leap = matches!((year % 4, year % 100, year % 400), (0, 1.., _) | (_, _, 0));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1000 && (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(values: &[&str]) -> FieldType {
        let mut s = ColumnShape {
            mask: ALL,
            non_null: 0,
            leading_zero: false,
            has_letter: false,
            min_chars: u32::MAX,
            max_chars: 0,
        };
        for v in values {
            let c = classify(v);
            s.mask &= c.mask;
            s.non_null += 1;
            s.leading_zero |= c.leading_zero;
            s.has_letter |= c.has_letter;
            s.min_chars = s.min_chars.min(c.chars);
            s.max_chars = s.max_chars.max(c.chars);
        }
        infer_type(&s)
    }

    #[test]
    fn infers_each_type() {
        assert_eq!(shape(&["1", "-20", "300"]), FieldType::Integer);
        assert_eq!(shape(&["1", "2.50", "-3.1"]), FieldType::Decimal);
        assert_eq!(
            shape(&["2023-05-01", "2023/5/2", "20230503", "2023年5月4日"]),
            FieldType::Date
        );
        assert_eq!(shape(&["2023-05-01 10:00:00", "2023-05-02"]), FieldType::Datetime);
        assert_eq!(shape(&["true", "FALSE", "是"]), FieldType::Boolean);
        assert_eq!(shape(&["110101001", "110101002"]), FieldType::Code);
        assert_eq!(shape(&["007", "12"]), FieldType::Code);
        assert_eq!(shape(&["91510100MA6CXXXX1B"]), FieldType::Code);
        assert_eq!(shape(&["2019", "2020"]), FieldType::Integer);
        assert_eq!(shape(&["东城区", "1"]), FieldType::String);
        assert_eq!(shape(&[]), FieldType::String);
    }

    #[test]
    fn parses_dates_and_rejects_impossible_ones() {
        let d = parse_date("2024-02-29").unwrap();
        assert_eq!((d.year, d.month, d.day, d.style), (2024, 2, 29, DateStyle::Dash));
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2023-13-01").is_none());
        assert!(parse_date("2023/04/31").is_none());
        assert_eq!(parse_date("2023年5月1日").unwrap().style, DateStyle::Chinese);
        assert_eq!(parse_date("2023年5月1日 08:30").unwrap().time, Some((8, 30, 0)));
        assert_eq!(parse_date("2023-05-01T08:30:15.123Z").unwrap().time, Some((8, 30, 15)));
        assert!(parse_date("2023-05-01 25:00").is_none());
        assert_eq!(parse_date("20230501").unwrap().style, DateStyle::Compact);
        assert!(parse_date("12345678").is_none());
        assert!(parse_date("202305011").is_none());
        assert!(parse_date("2023-05-01x").is_none());
    }

    #[test]
    fn classifies_numbers() {
        let c = classify("-12.345");
        assert_eq!(c.mask & (INT | DEC), DEC);
        assert_eq!(c.scale, 3);
        assert_eq!(c.number, Some(-12.345));
        assert!(classify("0012").leading_zero);
        assert!(!classify("0").leading_zero);
        assert_eq!(classify("1234567890123456789").mask & INT, 0);
        assert_eq!(classify("1.2.3").mask & (INT | DEC), 0);
        assert_eq!(classify("中文").chars, 2);
    }
}
