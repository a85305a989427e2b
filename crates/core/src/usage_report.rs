//! 数据应用反馈 — usage reports a consumer owes for each grant: what the data was used for, the
//! result, the users or decisions reached and the problems found with the data. Pure: the
//! schedule of due dates, what counts as overdue and the policy on applying again.
//!
//! A grant owes a report every `every_days` days from its start and one at its end. Each report
//! covers the earliest due date not yet covered; a due date that has passed uncovered is overdue.

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::demand::{check_idempotency_key, fingerprint, DEFAULT_DUPLICATE_WINDOW_SECS};
use crate::error::{Checks, DomainError, FieldError};
use crate::metadata::loose;
use crate::showcase::valid_link;

const TEXT_MIN: usize = 5;
const TEXT_MAX: usize = 4000;
const DECISIONS_MAX: usize = 2000;
/// The most due dates one grant is given (a grant is at most a few years long).
const MAX_DUE_DATES: usize = 100;

/// What happens when a consumer whose feedback is overdue beyond the limit applies again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverduePolicy {
    /// The application goes through, with a warning.
    #[default]
    Warn,
    /// The application is refused (`feedback_overdue`).
    Block,
}

/// The deployment's settings for usage feedback (`[feedback]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// A report is due every this many days from the grant's start (0: only at its end).
    pub every_days: u32,
    /// The consumer is reminded this many days before a due date.
    pub remind_days_before: u32,
    /// Days past a due date after which applying again is warned or blocked.
    pub feedback_overdue_limit_days: u32,
    pub feedback_policy: OverduePolicy,
    pub duplicate_window_secs: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            every_days: 90,
            remind_days_before: 7,
            feedback_overdue_limit_days: 30,
            feedback_policy: OverduePolicy::Warn,
            duplicate_window_secs: DEFAULT_DUPLICATE_WINDOW_SECS,
        }
    }
}

/// The due dates of a grant valid from `from` to `to` (inclusive): every `every_days` days from
/// the start while the grant lasts, and its last day. A grant without an end owes the periodic
/// reports up to `today` and the next one.
pub fn due_dates(from: Date, to: Option<Date>, every_days: u32, today: Date) -> Vec<Date> {
    let mut out = Vec::new();
    let horizon = to.unwrap_or(today);
    if every_days > 0 {
        let mut d = from.add_days(i64::from(every_days));
        while out.len() < MAX_DUE_DATES {
            if to.is_some_and(|t| d >= t) {
                break;
            }
            out.push(d);
            if d > horizon {
                break;
            }
            d = d.add_days(i64::from(every_days));
        }
    }
    if let Some(t) = to {
        out.push(t);
    }
    out
}

/// Where a grant's feedback stands on a day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Standing {
    /// The earliest due date not yet covered by a report.
    pub next_due: Option<Date>,
    /// Whether `next_due` has passed (逾期).
    pub overdue: bool,
    /// Calendar days since `next_due` passed (0 while in time).
    pub overdue_days: i64,
}

/// The due dates not covered by the `covered` ones, earliest first.
pub fn uncovered(due: &[Date], covered: &[Date]) -> Vec<Date> {
    due.iter().copied().filter(|d| !covered.contains(d)).collect()
}

pub fn standing(due: &[Date], covered: &[Date], today: Date) -> Standing {
    let next_due = uncovered(due, covered).into_iter().next();
    let overdue_days = next_due.map_or(0, |d| d.days_until(today).max(0));
    Standing {
        next_due,
        overdue: overdue_days > 0,
        overdue_days,
    }
}

impl Rules {
    /// Whether a standing this far overdue counts against applying again.
    pub fn beyond_limit(&self, s: &Standing) -> bool {
        s.overdue && s.overdue_days > i64::from(self.feedback_overdue_limit_days)
    }

    /// The answer to an application by a consumer whose worst grant stands at `worst`:
    /// `Ok(true)` to warn, `Ok(false)` for nothing to say, `Err` to refuse.
    pub fn on_applying(&self, worst: &Standing) -> Result<bool, DomainError> {
        if !self.beyond_limit(worst) {
            return Ok(false);
        }
        match self.feedback_policy {
            OverduePolicy::Warn => Ok(true),
            OverduePolicy::Block => Err(DomainError::Conflict {
                code: "feedback_overdue",
                field: None,
            }),
        }
    }
}

/// A usage report as a form or JSON gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewUsageReport {
    /// What the data was used for.
    #[serde(deserialize_with = "loose::text")]
    pub purpose: String,
    /// What came of it.
    #[serde(deserialize_with = "loose::text")]
    pub result: String,
    /// How many people used what was built, if known.
    #[serde(deserialize_with = "loose::text")]
    pub users: String,
    /// Decisions reached with the data.
    #[serde(deserialize_with = "loose::text")]
    pub decisions: String,
    /// Problems found with the data (errors, gaps, delays).
    #[serde(deserialize_with = "loose::text")]
    pub problems: String,
    #[serde(deserialize_with = "loose::text")]
    pub link: String,
    #[serde(deserialize_with = "loose::text")]
    pub idempotency_key: String,
}

/// A validated report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    pub purpose: String,
    pub result: String,
    pub users: Option<i64>,
    pub decisions: Option<String>,
    pub problems: Option<String>,
    pub link: Option<String>,
}

fn optional(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

impl NewUsageReport {
    pub fn idempotency_key(&self) -> Option<&str> {
        Some(self.idempotency_key.trim()).filter(|k| !k.is_empty())
    }

    pub fn validate(&self) -> Result<UsageReport, DomainError> {
        let mut c = Checks::new();
        c.length(self.purpose.trim(), "purpose", TEXT_MIN, TEXT_MAX);
        c.length(self.result.trim(), "result", TEXT_MIN, TEXT_MAX);
        let users = match self.users.trim() {
            "" => None,
            s => {
                let n = s.parse::<i64>().ok().filter(|n| *n >= 0);
                if n.is_none() {
                    c.push(FieldError::new("users", "non_negative_integer"));
                }
                n
            }
        };
        let decisions = optional(&self.decisions);
        if let Some(d) = &decisions {
            c.length(d, "decisions", 1, DECISIONS_MAX);
        }
        let problems = optional(&self.problems);
        if let Some(p) = &problems {
            c.length(p, "problems", 1, TEXT_MAX);
        }
        let link = optional(&self.link);
        if let Some(l) = &link {
            c.check(valid_link(l), "link", "url");
        }
        check_idempotency_key(&mut c, &self.idempotency_key);
        c.finish()?;
        Ok(UsageReport {
            purpose: self.purpose.trim().to_string(),
            result: self.result.trim().to_string(),
            users,
            decisions,
            problems,
            link,
        })
    }
}

impl UsageReport {
    pub fn fingerprint(&self, grant_id: i64) -> String {
        fingerprint(&[
            &grant_id.to_string(),
            &self.purpose,
            &self.result,
            &self.users.map(|u| u.to_string()).unwrap_or_default(),
            self.decisions.as_deref().unwrap_or(""),
            self.problems.as_deref().unwrap_or(""),
            self.link.as_deref().unwrap_or(""),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn due_every_period_and_at_the_end() {
        let due = due_dates(d("2026-01-01"), Some(d("2026-07-01")), 90, d("2026-01-01"));
        assert_eq!(due, vec![d("2026-04-01"), d("2026-06-30"), d("2026-07-01")]);
        assert_eq!(
            due_dates(d("2026-01-01"), Some(d("2026-03-01")), 90, d("2026-01-01")),
            vec![d("2026-03-01")],
            "a grant shorter than a period owes one report, at its end"
        );
        assert_eq!(
            due_dates(d("2026-01-01"), None, 90, d("2026-05-01")),
            vec![d("2026-04-01"), d("2026-06-30")],
            "an open grant: the periods so far and the next"
        );
        assert_eq!(
            due_dates(d("2026-01-01"), Some(d("2026-04-01")), 0, d("2026-01-01")),
            vec![d("2026-04-01")]
        );
    }

    #[test]
    fn overdue_is_an_uncovered_date_that_has_passed() {
        let due = [d("2026-04-01"), d("2026-07-01")];
        let s = standing(&due, &[], d("2026-04-01"));
        assert_eq!(
            (s.next_due, s.overdue),
            (Some(d("2026-04-01")), false),
            "the day itself is in time"
        );
        let s = standing(&due, &[], d("2026-05-11"));
        assert!(s.overdue);
        assert_eq!(s.overdue_days, 40);
        let s = standing(&due, &[d("2026-04-01")], d("2026-05-11"));
        assert_eq!((s.next_due, s.overdue), (Some(d("2026-07-01")), false));
        let s = standing(&due, &due, d("2027-01-01"));
        assert_eq!((s.next_due, s.overdue), (None, false));
    }

    #[test]
    fn the_policy_warns_or_blocks_beyond_the_limit() {
        let mut rules = Rules::default();
        let late = |days| Standing {
            next_due: Some(d("2026-04-01")),
            overdue: days > 0,
            overdue_days: days,
        };
        assert_eq!(rules.on_applying(&late(30)), Ok(false), "within the limit");
        assert_eq!(rules.on_applying(&late(31)), Ok(true));
        rules.feedback_policy = OverduePolicy::Block;
        assert_eq!(rules.on_applying(&late(10)), Ok(false));
        assert!(matches!(
            rules.on_applying(&late(31)),
            Err(DomainError::Conflict {
                code: "feedback_overdue",
                ..
            })
        ));
    }

    #[test]
    fn bad_input_is_reported_field_by_field() {
        let bad = NewUsageReport {
            purpose: "短".into(),
            users: "-3".into(),
            link: "javascript:alert(1)".into(),
            ..Default::default()
        };
        let codes: Vec<String> = match bad.validate() {
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            codes,
            vec![
                "purpose:length",
                "result:required",
                "users:non_negative_integer",
                "link:url"
            ]
        );
        let good = NewUsageReport {
            purpose: "用于街道便民地图".into(),
            result: "上线小程序，月活 1200".into(),
            users: " 1200 ".into(),
            ..Default::default()
        };
        let r = good.validate().unwrap();
        assert_eq!((r.users, r.problems.as_deref()), (Some(1200), None));
        assert_eq!(r.fingerprint(1), good.validate().unwrap().fingerprint(1));
        assert_ne!(r.fingerprint(1), r.fingerprint(2));
    }
}
