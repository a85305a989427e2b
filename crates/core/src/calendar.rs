//! 工作日 — the working-day calendar that deadlines and overdue flags count in (DESIGN §4), and
//! the civil `Date` the domain uses. Weekends rest unless made up (调休上班); holidays rest.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound::{Excluded, Included};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{DomainError, FieldError};

/// 资源审核 — working days the administration institution has to review a submitted resource.
pub const RESOURCE_REVIEW_DAYS: u32 = 5;
/// 数据初审 — working days for the admin's pre-review of a conditional application.
pub const PRE_REVIEW_DAYS: u32 = 5;
/// 数据审核 — working days for the provider's review of an application.
pub const PROVIDER_REVIEW_DAYS: u32 = 10;
/// 告知 — working days for the admin to relay a refusal to the consumer.
pub const RELAY_DAYS: u32 = 2;
/// 开放研判 — working days for a provider to assess a data demand.
pub const DEMAND_ASSESSMENT_DAYS: u32 = 10;
/// 数据纠错 — working days to handle a correction report.
pub const CORRECTION_DAYS: u32 = 5;

const MILLIS_PER_DAY: i64 = 86_400_000;
/// China Standard Time is UTC+8 all year (no daylight saving since 1991).
const CST_OFFSET_MILLIS: i64 = 8 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }
}

/// A civil date (proleptic Gregorian, years 1–9999) without a time zone: the caller decides which
/// day "today" is, normally in China Standard Time via [`Date::from_unix_millis_cst`].
/// Arithmetic saturates at [`Date::MIN`] and [`Date::MAX`] rather than panicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// The text was not a date in the expected form, or named a day that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid date (expected YYYY-MM-DD)")]
pub struct InvalidDate;

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    pub const MIN: Date = Date {
        year: 1,
        month: 1,
        day: 1,
    };
    pub const MAX: Date = Date {
        year: 9999,
        month: 12,
        day: 31,
    };

    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let ok = (1..=9999).contains(&year) && (1..=12).contains(&month) && day >= 1;
        (ok && day <= days_in_month(year, month)).then_some(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month.into()
    }

    pub fn day(self) -> u32 {
        self.day.into()
    }

    /// Strict ISO 8601 calendar date: exactly `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
        };
        Date::new(num(0..4)? as i32, num(5..7)?, num(8..10)?)
    }

    /// The forms dates take in spreadsheets people fill in by hand: `2025-3-1`, `2025/03/01`,
    /// `2025.3.1`, `2025年3月1日`, `20250301`, a trailing time (`2025-03-01 00:00:00`), or an
    /// Excel serial day number (`45717`) when a reader hands over the raw cell value.
    pub fn parse_loose(s: &str) -> Option<Date> {
        let s = s.trim();
        let s = s.split([' ', 'T']).next().unwrap_or(s);
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.len() {
                8 => Date::new(s[..4].parse().ok()?, s[4..6].parse().ok()?, s[6..].parse().ok()?),
                // Excel's day 1 is 1900-01-01 but it counts a 1900-02-29 that never was, so the
                // epoch for serials after February 1900 is 1899-12-30.
                5 => Some(Date::new(1899, 12, 30)?.add_days(s.parse().ok()?)),
                _ => None,
            };
        }
        let s = s.strip_suffix('日').unwrap_or(s);
        let parts: Vec<&str> = s.split(['-', '/', '.', '年', '月']).collect();
        let [y, m, d] = parts[..] else {
            return None;
        };
        let digits = |p: &str, max_len: usize| -> Option<u32> {
            (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok())?
        };
        if y.len() != 4 {
            return None;
        }
        Date::new(digits(y, 4)? as i32, digits(m, 2)?, digits(d, 2)?)
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days(self) -> i64 {
        // Howard Hinnant's days_from_civil; years here are ≥ 1, so every division is of a
        // non-negative number and truncation is flooring.
        let m = i64::from(self.month);
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y / 400;
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01, saturating at the supported range.
    pub fn from_days(days: i64) -> Date {
        if days <= Date::MIN.days() {
            return Date::MIN;
        }
        if days >= Date::MAX.days() {
            return Date::MAX;
        }
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        }
    }

    /// The calendar day in China Standard Time (UTC+8) of a Unix timestamp in milliseconds.
    pub fn from_unix_millis_cst(millis: i64) -> Date {
        Date::from_days(millis.saturating_add(CST_OFFSET_MILLIS).div_euclid(MILLIS_PER_DAY))
    }

    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.days().saturating_add(n))
    }

    /// Calendar days from `self` to `other` (negative when `other` is earlier).
    pub fn days_until(self, other: Date) -> i64 {
        other.days() - self.days()
    }

    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        Weekday::ALL[(self.days() + 3).rem_euclid(7) as usize]
    }

    pub fn is_weekend(self) -> bool {
        self.weekday().is_weekend()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = InvalidDate;

    fn from_str(s: &str) -> Result<Date, InvalidDate> {
        Date::parse(s).ok_or(InvalidDate)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).ok_or_else(|| serde::de::Error::custom(InvalidDate))
    }
}

/// How a day departs from the ordinary week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// 放假 — a rest day whatever the weekday (public holidays and the days moved next to them).
    Holiday,
    /// 调休上班 — a working day whatever the weekday (the make-up days, usually weekends).
    Workday,
    /// Follows the week again: removes an entry, e.g. to correct a shipped arrangement.
    Normal,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
            DayKind::Normal => "normal",
        }
    }

    pub fn parse(s: &str) -> Option<DayKind> {
        [DayKind::Holiday, DayKind::Workday, DayKind::Normal]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One line of a calendar text: a day or an inclusive range of days, what they are, and a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOverride {
    pub from: Date,
    pub to: Date,
    pub kind: DayKind,
    pub name: String,
}

/// The longest range one line may cover; longer is surely a typo in a year.
const MAX_RANGE_DAYS: i64 = 31;

/// Parses the calendar text format, one entry per line, `#` starting a comment:
///
/// ```text
/// 2026-10-01..2026-10-07 holiday 国庆节
/// 2026-09-20 workday 国庆节调休
/// 2026-10-10 normal          # undo an entry
/// ```
///
/// Every bad line is reported (field `calendar`, parameter `line`, 1-based). A day given as
/// both holiday and workday in one text is a conflict.
pub fn parse_overrides(text: &str) -> Result<Vec<DayOverride>, DomainError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<Date, (DayKind, usize)> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        match parse_line(content) {
            Ok(o) => {
                for day in (0..=o.from.days_until(o.to)).map(|n| o.from.add_days(n)) {
                    match seen.insert(day, (o.kind, line)) {
                        Some((kind, first)) if kind != o.kind => errors.push(
                            FieldError::new("calendar", "calendar_conflict")
                                .with("line", line)
                                .with("date", day)
                                .with("first_line", first),
                        ),
                        _ => {}
                    }
                }
                out.push(o);
            }
            Err(e) => errors.push(e.with("line", line)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(DomainError::Validation(errors))
    }
}

fn parse_line(content: &str) -> Result<DayOverride, FieldError> {
    let mut words = content.split_whitespace();
    let when = words.next().unwrap_or("");
    let (from, to) = when.split_once("..").unwrap_or((when, when));
    let date = |s: &str| Date::parse(s).ok_or_else(|| FieldError::new("calendar", "calendar_date").with("value", s));
    let (from, to) = (date(from)?, date(to)?);
    let span = from.days_until(to);
    if !(0..MAX_RANGE_DAYS).contains(&span) {
        return Err(FieldError::new("calendar", "calendar_range").with("max", MAX_RANGE_DAYS));
    }
    let kind_word = words.next().unwrap_or("");
    let kind = DayKind::parse(kind_word)
        .ok_or_else(|| FieldError::new("calendar", "calendar_kind").with("value", kind_word))?;
    Ok(DayOverride {
        from,
        to,
        kind,
        name: words.collect::<Vec<_>>().join(" "),
    })
}

/// 国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）, checked against the
/// Xinhua text of 2024-11-12.
const OFFICIAL_2025: &str = "
2025-01-01 holiday 元旦
2025-01-28..2025-02-04 holiday 春节
2025-01-26 workday 春节调休
2025-02-08 workday 春节调休
2025-04-04..2025-04-06 holiday 清明节
2025-05-01..2025-05-05 holiday 劳动节
2025-04-27 workday 劳动节调休
2025-05-31..2025-06-02 holiday 端午节
2025-10-01..2025-10-08 holiday 国庆节、中秋节
2025-09-28 workday 国庆节调休
2025-10-11 workday 国庆节调休
";

/// 国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号）, checked against the
/// Xinhua text of 2025-11-04.
const OFFICIAL_2026: &str = "
2026-01-01..2026-01-03 holiday 元旦
2026-01-04 workday 元旦调休
2026-02-15..2026-02-23 holiday 春节
2026-02-14 workday 春节调休
2026-02-28 workday 春节调休
2026-04-04..2026-04-06 holiday 清明节
2026-05-01..2026-05-05 holiday 劳动节
2026-05-09 workday 劳动节调休
2026-06-19..2026-06-21 holiday 端午节
2026-09-25..2026-09-27 holiday 中秋节
2026-10-01..2026-10-07 holiday 国庆节
2026-09-20 workday 国庆节调休
2026-10-10 workday 国庆节调休
";

/// The PRC working-day calendar: Monday–Friday work, Saturday and Sunday rest, except the days
/// an arrangement lists. Years without an arrangement count weekends only (see [`Self::covers_year`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    /// Only days that differ from the week's rule or were declared explicitly; never `Normal`.
    special: BTreeMap<Date, DayKind>,
}

impl WorkCalendar {
    /// Weekends only, no holidays.
    pub fn weekends_only() -> WorkCalendar {
        WorkCalendar::default()
    }

    /// The State Council's arrangements shipped with pubdata (2025 and 2026).
    pub fn official() -> WorkCalendar {
        let mut cal = WorkCalendar::default();
        for text in [OFFICIAL_2025, OFFICIAL_2026] {
            cal.apply(&parse_overrides(text).expect("the shipped arrangements parse (tested)"));
        }
        cal
    }

    /// Adds or replaces entries, later ones winning: configuration loaded after the shipped data
    /// corrects it or adds the next year's arrangement.
    pub fn apply(&mut self, overrides: &[DayOverride]) {
        for o in overrides {
            for n in 0..=o.from.days_until(o.to) {
                let day = o.from.add_days(n);
                match o.kind {
                    DayKind::Normal => self.special.remove(&day),
                    kind => self.special.insert(day, kind),
                };
            }
        }
    }

    /// Whether any arrangement is known for the year; a caller may warn when a deadline falls
    /// in a year the calendar does not cover yet.
    pub fn covers_year(&self, year: i32) -> bool {
        let (Some(first), Some(last)) = (Date::new(year, 1, 1), Date::new(year, 12, 31)) else {
            return false;
        };
        self.special.range(first..=last).next().is_some()
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        match self.special.get(&date) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            _ => !date.is_weekend(),
        }
    }

    /// The deadline `n` working days after `start`, the start day itself not counted: a task
    /// received on a Friday with one working day is due on the next working day. `n = 0` gives
    /// `start`.
    pub fn add_working_days(&self, start: Date, n: u32) -> Date {
        let mut day = start;
        let mut left = n;
        while left > 0 && day < Date::MAX {
            day = day.add_days(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// Working days in `(a, b]`, negative when `b` is before `a`. So
    /// `working_days_between(start, add_working_days(start, n)) == n`, and the days a task has
    /// been waiting, or is overdue past its deadline, count the same way.
    pub fn working_days_between(&self, a: Date, b: Date) -> i64 {
        if b < a {
            return -self.working_days_between(b, a);
        }
        let span = a.days_until(b);
        // Any seven consecutive days hold five weekdays; walk only the remainder.
        let mut count = span / 7 * 5;
        let mut day = a.add_days(span / 7 * 7);
        while day < b {
            day = day.add_days(1);
            count += i64::from(!day.is_weekend());
        }
        for (day, kind) in self.special.range((Excluded(a), Included(b))) {
            match (kind, day.is_weekend()) {
                (DayKind::Holiday, false) => count -= 1,
                (DayKind::Workday, true) => count += 1,
                _ => {}
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap_or_else(|| panic!("bad test date {s}"))
    }

    fn codes(r: Result<Vec<DayOverride>, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v
                .into_iter()
                .map(|e| {
                    let line = e.params.iter().find(|p| p.0 == "line").map(|p| p.1.clone());
                    format!("{}:{}", line.unwrap_or_default(), e.code)
                })
                .collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn dates_parse_and_print() {
        for ok in ["2025-01-26", "2024-02-29", "0001-01-01", "9999-12-31"] {
            assert_eq!(d(ok).to_string(), ok);
        }
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-1-01",
            "2025/01/01",
            "25-01-01",
            "",
            "２025-01-01",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
            assert!(bad.parse::<Date>().is_err());
        }
        assert_eq!(
            (d("2025-03-01").year(), d("2025-03-01").month(), d("2025-03-01").day()),
            (2025, 3, 1)
        );
    }

    #[test]
    fn loose_dates_from_spreadsheets() {
        for (input, want) in [
            ("2025-3-1", Some("2025-03-01")),
            ("2025/03/01", Some("2025-03-01")),
            ("2025.3.1", Some("2025-03-01")),
            ("2025年3月1日", Some("2025-03-01")),
            (" 20250301 ", Some("2025-03-01")),
            ("2025-03-01 00:00:00", Some("2025-03-01")),
            ("2025-03-01T08:00:00+08:00", Some("2025-03-01")),
            ("45717", Some("2025-03-01")),
            ("2025-02-30", None),
            ("3/1/2025", None),
            ("2025-3", None),
            ("明年", None),
            ("", None),
        ] {
            assert_eq!(Date::parse_loose(input), want.map(d), "{input}");
        }
    }

    #[test]
    fn day_numbers_and_weekdays() {
        assert_eq!(d("1970-01-01").days(), 0);
        assert_eq!(d("2000-03-01").days(), 11_017);
        assert_eq!(d("1969-12-31").days(), -1);
        let mut day = d("1899-12-25");
        for n in day.days()..d("2101-01-05").days() {
            assert_eq!(day.days(), n);
            assert_eq!(Date::from_days(n), day);
            let next = day.add_days(1);
            assert!(next > day);
            day = next;
        }
        for (s, w) in [
            ("2025-01-01", Weekday::Wednesday),
            ("2025-01-26", Weekday::Sunday),
            ("2025-02-08", Weekday::Saturday),
            ("2025-10-01", Weekday::Wednesday),
            ("2026-01-01", Weekday::Thursday),
            ("2026-02-15", Weekday::Sunday),
            ("2000-02-29", Weekday::Tuesday),
        ] {
            assert_eq!(d(s).weekday(), w, "{s}");
        }
        assert_eq!(Date::MAX.add_days(10), Date::MAX);
        assert_eq!(Date::MIN.add_days(-10), Date::MIN);
        assert_eq!(Date::from_days(i64::MIN), Date::MIN);
    }

    #[test]
    fn unix_millis_in_china_standard_time() {
        for (millis, want) in [
            (0, "1970-01-01"),
            (-8 * 3_600_000, "1970-01-01"),
            (-8 * 3_600_000 - 1, "1969-12-31"),
            // 2024-12-31T16:00:00Z is midnight of New Year's Day in Beijing.
            (1_735_660_800_000, "2025-01-01"),
            (1_735_660_799_999, "2024-12-31"),
            (i64::MAX, "9999-12-31"),
        ] {
            assert_eq!(Date::from_unix_millis_cst(millis), d(want), "{millis}");
        }
    }

    #[test]
    fn serde_uses_iso_text() {
        let json = serde_json::to_string(&d("2025-10-08")).unwrap();
        assert_eq!(json, "\"2025-10-08\"");
        assert_eq!(serde_json::from_str::<Date>(&json).unwrap(), d("2025-10-08"));
        assert!(serde_json::from_str::<Date>("\"2025-10-32\"").is_err());
    }

    #[test]
    fn official_arrangements() {
        let cal = WorkCalendar::official();
        // (date, weekday, working?) — make-up Sundays and Saturdays work; holidays rest.
        let table = [
            ("2025-01-01", Weekday::Wednesday, false),
            ("2025-01-02", Weekday::Thursday, true),
            ("2025-01-26", Weekday::Sunday, true),
            ("2025-01-28", Weekday::Tuesday, false),
            ("2025-02-04", Weekday::Tuesday, false),
            ("2025-02-05", Weekday::Wednesday, true),
            ("2025-02-08", Weekday::Saturday, true),
            ("2025-02-09", Weekday::Sunday, false),
            ("2025-03-15", Weekday::Saturday, false),
            ("2025-03-17", Weekday::Monday, true),
            ("2025-04-04", Weekday::Friday, false),
            ("2025-04-27", Weekday::Sunday, true),
            ("2025-05-05", Weekday::Monday, false),
            ("2025-05-06", Weekday::Tuesday, true),
            ("2025-06-02", Weekday::Monday, false),
            ("2025-09-28", Weekday::Sunday, true),
            ("2025-10-08", Weekday::Wednesday, false),
            ("2025-10-09", Weekday::Thursday, true),
            ("2025-10-11", Weekday::Saturday, true),
            ("2025-10-12", Weekday::Sunday, false),
            ("2026-01-02", Weekday::Friday, false),
            ("2026-01-04", Weekday::Sunday, true),
            ("2026-02-14", Weekday::Saturday, true),
            ("2026-02-16", Weekday::Monday, false),
            ("2026-02-23", Weekday::Monday, false),
            ("2026-02-24", Weekday::Tuesday, true),
            ("2026-02-28", Weekday::Saturday, true),
            ("2026-04-06", Weekday::Monday, false),
            ("2026-05-05", Weekday::Tuesday, false),
            ("2026-05-09", Weekday::Saturday, true),
            ("2026-06-19", Weekday::Friday, false),
            ("2026-09-20", Weekday::Sunday, true),
            ("2026-09-25", Weekday::Friday, false),
            ("2026-10-07", Weekday::Wednesday, false),
            ("2026-10-08", Weekday::Thursday, true),
            ("2026-10-10", Weekday::Saturday, true),
            ("2027-01-01", Weekday::Friday, true),
        ];
        for (s, weekday, working) in table {
            assert_eq!(d(s).weekday(), weekday, "{s}");
            assert_eq!(cal.is_working_day(d(s)), working, "{s}");
        }
        assert!(cal.covers_year(2025) && cal.covers_year(2026));
        assert!(!cal.covers_year(2027));
    }

    #[test]
    fn working_days_per_year() {
        // Counted by hand from the notices: 2025 has 261 weekdays, 18 of them holidays, and 5
        // make-up days; 2026 has 261 weekdays, 19 of them holidays, and 6 make-up days.
        let cal = WorkCalendar::official();
        assert_eq!(cal.working_days_between(d("2024-12-31"), d("2025-12-31")), 248);
        assert_eq!(cal.working_days_between(d("2025-12-31"), d("2026-12-31")), 248);
        assert_eq!(
            WorkCalendar::weekends_only().working_days_between(d("2024-12-31"), d("2025-12-31")),
            261
        );
    }

    #[test]
    fn deadlines() {
        let cal = WorkCalendar::official();
        for (start, n, due) in [
            // 10-01..08 rest, 10-09 Thu, 10-10 Fri, 10-11 Sat (make-up), 10-13 Mon, 10-14 Tue.
            ("2025-09-30", 5, "2025-10-14"),
            ("2025-09-30", 4, "2025-10-13"),
            ("2025-09-30", 1, "2025-10-09"),
            ("2025-01-24", 1, "2025-01-26"),
            ("2025-01-27", 1, "2025-02-05"),
            ("2025-04-25", 1, "2025-04-27"),
            ("2025-04-30", 1, "2025-05-06"),
            ("2025-03-14", 10, "2025-03-28"),
            ("2025-10-04", 0, "2025-10-04"),
            ("2025-10-04", 1, "2025-10-09"),
            ("2026-02-13", 1, "2026-02-14"),
            ("2026-02-13", 2, "2026-02-24"),
            ("2026-09-30", 5, "2026-10-13"),
            ("2026-12-31", 1, "2027-01-01"),
        ] {
            assert_eq!(cal.add_working_days(d(start), n), d(due), "{start} + {n}");
        }
        assert_eq!(cal.add_working_days(Date::MAX, 3), Date::MAX);
    }

    #[test]
    fn elapsed_working_days() {
        let cal = WorkCalendar::official();
        for (a, b, n) in [
            ("2025-09-30", "2025-10-14", 5),
            ("2025-10-14", "2025-09-30", -5),
            ("2025-10-01", "2025-10-08", 0),
            ("2025-10-08", "2025-10-08", 0),
            ("2025-10-10", "2025-10-11", 1),
            ("2025-01-24", "2025-02-10", 7),
        ] {
            assert_eq!(cal.working_days_between(d(a), d(b)), n, "{a}..{b}");
        }
    }

    /// Counting by walking day by day, to check the week arithmetic against.
    fn naive_between(cal: &WorkCalendar, a: Date, b: Date) -> i64 {
        let (lo, hi, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
        (1..=lo.days_until(hi))
            .filter(|n| cal.is_working_day(lo.add_days(*n)))
            .count() as i64
            * sign
    }

    #[test]
    fn adding_and_counting_agree() {
        let cal = WorkCalendar::official();
        let first = d("2024-12-01");
        for offset in 0..800 {
            let start = first.add_days(offset);
            for n in 0..=25u32 {
                let due = cal.add_working_days(start, n);
                assert_eq!(cal.working_days_between(start, due), i64::from(n), "{start} + {n}");
                if n > 0 {
                    // The deadline is a working day, and the first day the count is reached.
                    assert!(cal.is_working_day(due), "{start} + {n}");
                    assert_eq!(cal.working_days_between(start, due.add_days(-1)), i64::from(n) - 1);
                }
            }
        }
        // Pseudo-random pairs (a fixed LCG) across and beyond the covered years.
        let mut x: u64 = 42;
        let mut next = || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as i64 % 1200
        };
        for _ in 0..500 {
            let (a, b, c) = (first.add_days(next()), first.add_days(next()), first.add_days(next()));
            assert_eq!(cal.working_days_between(a, b), naive_between(&cal, a, b), "{a}..{b}");
            assert_eq!(
                cal.working_days_between(a, b) + cal.working_days_between(b, c),
                cal.working_days_between(a, c)
            );
        }
    }

    #[test]
    fn configured_days_override_the_shipped_ones() {
        let mut cal = WorkCalendar::official();
        let text = "# local arrangement\n2027-01-01 holiday 元旦\n\n2026-10-10 normal  # withdrawn make-up day\n2026-03-07 workday 特别调休\n";
        cal.apply(&parse_overrides(text).unwrap());
        assert!(!cal.is_working_day(d("2027-01-01")));
        assert!(!cal.is_working_day(d("2026-10-10")));
        assert!(cal.is_working_day(d("2026-03-07")));
        assert!(cal.covers_year(2027));
        let parsed = parse_overrides("2026-10-01..2026-10-07 holiday 国庆节 假期").unwrap();
        assert_eq!(
            parsed,
            [DayOverride {
                from: d("2026-10-01"),
                to: d("2026-10-07"),
                kind: DayKind::Holiday,
                name: "国庆节 假期".into(),
            }]
        );
    }

    #[test]
    fn calendar_text_errors_name_their_lines() {
        let text = "2026-10-01 holiday\n2026-13-01 holiday\n2026-10-02 rest\n2026-10-09..2026-10-03 holiday\n\
                    2026-10-01 workday\n2026-01-01..2026-12-31 holiday\n2026-10-05\n";
        assert_eq!(
            codes(parse_overrides(text)),
            [
                "2:calendar_date",
                "3:calendar_kind",
                "4:calendar_range",
                "5:calendar_conflict",
                "6:calendar_range",
                "7:calendar_kind"
            ]
        );
        assert!(parse_overrides("").unwrap().is_empty());
        assert!(parse_overrides(OFFICIAL_2025).is_ok() && parse_overrides(OFFICIAL_2026).is_ok());
    }
}
