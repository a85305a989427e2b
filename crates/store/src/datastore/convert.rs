//! Cell text to column values. A value that does not convert becomes NULL: the ingest's
//! quality audit has already reported it, and a load must not fail on one bad cell.

use pubdata_core::field::FieldType;

/// How a column is stored, per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Integer,
    Decimal,
    Boolean,
    Date,
    Datetime,
    Text,
}

impl Kind {
    pub fn of(t: FieldType) -> Kind {
        match t {
            FieldType::Integer => Kind::Integer,
            FieldType::Decimal => Kind::Decimal,
            FieldType::Boolean => Kind::Boolean,
            FieldType::Date => Kind::Date,
            FieldType::Datetime => Kind::Datetime,
            FieldType::String | FieldType::Code => Kind::Text,
        }
    }

    pub fn sqlite_type(self) -> &'static str {
        match self {
            Kind::Integer | Kind::Boolean => "INTEGER",
            Kind::Decimal => "REAL",
            _ => "TEXT",
        }
    }

    pub fn postgres_type(self) -> &'static str {
        match self {
            Kind::Integer => "BIGINT",
            Kind::Decimal => "NUMERIC",
            Kind::Boolean => "BOOLEAN",
            Kind::Date => "DATE",
            Kind::Datetime => "TIMESTAMP",
            Kind::Text => "TEXT",
        }
    }
}

pub(crate) fn integer(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// `[+-]digits[.digits][e[+-]digits]`: what both `f64` and PostgreSQL's NUMERIC accept
/// (no `inf`, `NaN` or hex).
pub(crate) fn decimal(s: &str) -> Option<&str> {
    let s = s.trim();
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut n = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        n += digits(&mut i);
    }
    if n == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    (i == b.len()).then_some(s)
}

pub(crate) fn boolean(s: &str) -> Option<bool> {
    let s = s.trim();
    if ["true", "yes", "1"].iter().any(|t| s.eq_ignore_ascii_case(t)) || s == "是" {
        Some(true)
    } else if ["false", "no", "0"].iter().any(|t| s.eq_ignore_ascii_case(t)) || s == "否" {
        Some(false)
    } else {
        None
    }
}

/// `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD` or `YYYY年M月D日`, optionally followed by a time of
/// day, as (ISO date, optional `HH:MM:SS`).
fn date_time(s: &str) -> Option<(String, Option<String>)> {
    let b = s.trim().as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = num(&b[..4])?;
    let (month, day, rest) = match b[4] {
        sep @ (b'-' | b'/') => {
            let (m, r) = take(&b[5..])?;
            let (d, r) = take(r.strip_prefix(&[sep])?)?;
            (m, d, r)
        }
        b'0'..=b'9' => {
            if b.len() > 8 && b[8].is_ascii_digit() {
                return None;
            }
            (num(&b[4..6])?, num(&b[6..8])?, &b[8..])
        }
        _ => {
            let (m, r) = take(b[4..].strip_prefix("年".as_bytes())?)?;
            let (d, r) = take(r.strip_prefix("月".as_bytes())?)?;
            (m, d, r.strip_prefix("日".as_bytes())?)
        }
    };
    if !valid(year, month, day) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    let rest = match rest.first() {
        None => return Some((date, None)),
        Some(b' ' | b'T') => &rest[1..],
        Some(_) => rest,
    };
    let (h, r) = take(rest)?;
    let (mi, r) = take(r.strip_prefix(b":")?)?;
    let (sec, r) = match r.strip_prefix(b":") {
        Some(r) => take(r)?,
        None => (0, r),
    };
    let r = match r.strip_prefix(b".") {
        Some(frac) => &frac[frac.iter().take_while(|c| c.is_ascii_digit()).count()..],
        None => r,
    };
    if !(r.is_empty() || r == b"Z") || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some((date, Some(format!("{h:02}:{mi:02}:{sec:02}"))))
}

pub(crate) fn date(s: &str) -> Option<String> {
    match date_time(s)? {
        (d, None) => Some(d),
        (_, Some(_)) => None,
    }
}

pub(crate) fn datetime(s: &str) -> Option<String> {
    let (d, t) = date_time(s)?;
    Some(format!("{d} {}", t.as_deref().unwrap_or("00:00:00")))
}

fn take(b: &[u8]) -> Option<(u32, &[u8])> {
    let n = b.iter().take(2).take_while(|c| c.is_ascii_digit()).count();
    Some((num(&b[..n])?, &b[n..]))
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    b.iter()
        .try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

fn valid(year: u32, month: u32, day: u32) -> bool {
    let leap = matches!((year % 4, year % 100, year % 400), (0, 1.., _) | (_, _, 0));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1000..=9999).contains(&year) && (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_or_gives_none() {
        assert_eq!(integer(" 42 "), Some(42));
        assert_eq!(integer("4.2"), None);
        assert_eq!(decimal("-4.25"), Some("-4.25"));
        assert_eq!(decimal("1e5"), Some("1e5"));
        assert_eq!(decimal("NaN"), None);
        assert_eq!(decimal("1.2.3"), None);
        assert_eq!(decimal("."), None);
        assert_eq!(boolean("是"), Some(true));
        assert_eq!(boolean("FALSE"), Some(false));
        assert_eq!(boolean("maybe"), None);
        assert_eq!(date("2023/5/1").as_deref(), Some("2023-05-01"));
        assert_eq!(date("2023年5月1日").as_deref(), Some("2023-05-01"));
        assert_eq!(date("20230501").as_deref(), Some("2023-05-01"));
        assert_eq!(date("2023-02-30"), None);
        assert_eq!(date("2023-05-01 10:00"), None);
        assert_eq!(
            datetime("2023-05-01T10:00:05.5Z").as_deref(),
            Some("2023-05-01 10:00:05")
        );
        assert_eq!(datetime("2023-05-01").as_deref(), Some("2023-05-01 00:00:00"));
        assert_eq!(datetime("2023-05-01 24:00"), None);
    }
}
