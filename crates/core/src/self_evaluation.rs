//! 自评 — a provider department's periodic self-evaluation over the six quality dimensions
//! (§8): the periods and their due dates, the states, and what a submission must contain.
//! Pure: the service fills in the computed scores and stores the result.

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::error::FieldError;
use crate::quality::Dimension;
use crate::DomainError;

/// A dimension scoring below this needs a comment, and the evaluation an action plan.
pub const ACTION_THRESHOLD: f64 = 80.0;
/// The longest comment or action plan accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// How often a department evaluates itself (`[self_evaluation] period` in the configuration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    #[default]
    Quarter,
    HalfYear,
    Year,
}

impl PeriodKind {
    fn months(self) -> u32 {
        match self {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
            PeriodKind::HalfYear => 6,
            PeriodKind::Year => 12,
        }
    }
}

/// The deployment's schedule (`[self_evaluation]` in `pubdata.toml`): how often, and how many
/// days after a period ends its evaluation is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schedule {
    pub period: PeriodKind,
    pub due_days: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            period: PeriodKind::Quarter,
            due_days: 30,
        }
    }
}

/// One evaluation period: the `index`-th (from 1) period of its kind in `year`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    pub kind: PeriodKind,
    pub year: i32,
    pub index: u32,
}

impl Period {
    /// The period `date` falls in.
    pub fn containing(kind: PeriodKind, date: Date) -> Period {
        Period {
            kind,
            year: date.year(),
            index: (date.month() - 1) / kind.months() + 1,
        }
    }

    /// The period before this one.
    pub fn prev(self) -> Period {
        let per_year = 12 / self.kind.months();
        if self.index > 1 {
            Period {
                index: self.index - 1,
                ..self
            }
        } else {
            Period {
                year: self.year - 1,
                index: per_year,
                ..self
            }
        }
    }

    /// The period after this one.
    pub fn next(self) -> Period {
        let per_year = 12 / self.kind.months();
        if self.index < per_year {
            Period {
                index: self.index + 1,
                ..self
            }
        } else {
            Period {
                year: self.year + 1,
                index: 1,
                ..self
            }
        }
    }

    pub fn start(self) -> Date {
        let month = (self.index - 1) * self.kind.months() + 1;
        Date::new(self.year, month, 1).unwrap_or(Date::MIN)
    }

    pub fn end(self) -> Date {
        self.next().start().add_days(-1)
    }

    /// The last day in time: `due_days` after the period ends.
    pub fn due(self, due_days: u32) -> Date {
        self.end().add_days(i64::from(due_days))
    }

    /// `2026-07`, `2026-Q3`, `2026-H2`, `2026`.
    pub fn key(self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{}-{:02}", self.year, self.index),
            PeriodKind::Quarter => format!("{}-Q{}", self.year, self.index),
            PeriodKind::HalfYear => format!("{}-H{}", self.year, self.index),
            PeriodKind::Year => format!("{}", self.year),
        }
    }

    pub fn parse(kind: PeriodKind, key: &str) -> Option<Period> {
        let (year, index) = match kind {
            PeriodKind::Year => (key, "1"),
            PeriodKind::Month => key.split_once('-')?,
            PeriodKind::Quarter => key.split_once("-Q")?,
            PeriodKind::HalfYear => key.split_once("-H")?,
        };
        let (year, index): (i32, u32) = (year.parse().ok()?, index.parse().ok()?);
        let ok = (1..=9998).contains(&year) && (1..=12 / kind.months()).contains(&index);
        (ok && key == Period { kind, year, index }.key()).then_some(Period { kind, year, index })
    }

    /// The most recent period that has ended by `today`: the one to evaluate now.
    pub fn last_ended(kind: PeriodKind, today: Date) -> Period {
        Period::containing(kind, today).prev()
    }
}

/// Where a self-evaluation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Being written by the department's staff.
    Draft,
    /// Handed to the administration institution.
    Submitted,
    /// Read and acknowledged by the administration institution: final.
    Acknowledged,
    /// Sent back with a comment; the staff revise it and submit again.
    Returned,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::Acknowledged => "acknowledged",
            State::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        [State::Draft, State::Submitted, State::Acknowledged, State::Returned]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// The staff may change the text.
    pub fn editable(self) -> bool {
        matches!(self, State::Draft | State::Returned)
    }
}

/// What happens to a self-evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Save,
    Submit,
    Acknowledge,
    Return,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Save => "save",
            Action::Submit => "submit",
            Action::Acknowledge => "acknowledge",
            Action::Return => "return",
        }
    }
}

/// The state after `action`, or why it cannot happen now. Who may act is the service's check
/// (staff of the department save and submit; the administration institution decides).
pub fn apply(state: State, action: Action) -> Result<State, DomainError> {
    let to = match (state, action) {
        (State::Draft | State::Returned, Action::Save) => state,
        (State::Draft | State::Returned, Action::Submit) => State::Submitted,
        (State::Submitted, Action::Acknowledge) => State::Acknowledged,
        (State::Submitted, Action::Return) => State::Returned,
        _ => {
            return Err(DomainError::InvalidTransition {
                from: state.as_str().into(),
                action: action.as_str().into(),
            })
        }
    };
    Ok(to)
}

/// One dimension of an evaluation: the computed score and the staff's comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub dimension: Dimension,
    /// The department's score when the evaluation was opened; `None` when not measured.
    pub score: Option<f64>,
    /// What the score rests on: the weakest resources on this dimension and their costliest
    /// reasons, as the quality service gives them.
    #[serde(default)]
    pub evidence: serde_json::Value,
    #[serde(default)]
    pub comment: String,
}

/// Whether a dimension's score asks for a comment and an action plan.
pub fn needs_action(score: Option<f64>) -> bool {
    score.is_some_and(|s| s < ACTION_THRESHOLD)
}

/// Text lengths, checked on every save.
pub fn check_lengths(entries: &[Entry], action_plan: &str) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    for e in entries {
        if e.comment.chars().count() > MAX_TEXT_CHARS {
            errors.push(
                FieldError::new(&format!("comment.{}", e.dimension.as_str()), "too_long").with("max", MAX_TEXT_CHARS),
            );
        }
    }
    if action_plan.chars().count() > MAX_TEXT_CHARS {
        errors.push(FieldError::new("action_plan", "too_long").with("max", MAX_TEXT_CHARS));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// What a submission must contain: a comment on every dimension scoring below
/// [`ACTION_THRESHOLD`], and then an action plan. All problems at once.
pub fn check_submission(entries: &[Entry], action_plan: &str) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    let mut low = false;
    for e in entries.iter().filter(|e| needs_action(e.score)) {
        low = true;
        if e.comment.trim().is_empty() {
            errors.push(
                FieldError::new(
                    &format!("comment.{}", e.dimension.as_str()),
                    "self_evaluation_comment_required",
                )
                .with("min", ACTION_THRESHOLD),
            );
        }
    }
    if low && action_plan.trim().is_empty() {
        errors.push(FieldError::new("action_plan", "self_evaluation_plan_required").with("min", ACTION_THRESHOLD));
    }
    check_lengths(entries, action_plan)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Whether a submission on the day `submitted` was in time for `due`.
pub fn on_time(submitted: Date, due: Date) -> bool {
    submitted <= due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn quarters_and_their_due_dates() {
        let q = Period::containing(PeriodKind::Quarter, d("2026-11-29"));
        assert_eq!(q.key(), "2026-Q4");
        assert_eq!((q.start(), q.end()), (d("2026-10-01"), d("2026-12-31")));
        let last = Period::last_ended(PeriodKind::Quarter, d("2026-11-29"));
        assert_eq!(last.key(), "2026-Q3");
        assert_eq!(last.end(), d("2026-09-30"));
        assert_eq!(last.due(30), d("2026-10-30"));
        assert_eq!(
            Period::last_ended(PeriodKind::Quarter, d("2026-01-15")).key(),
            "2025-Q4"
        );
        assert_eq!(Period::parse(PeriodKind::Quarter, "2026-Q3"), Some(last));
        assert_eq!(Period::parse(PeriodKind::Quarter, "2026-Q5"), None);
        assert_eq!(Period::parse(PeriodKind::Quarter, "2026-07"), None);
    }

    #[test]
    fn other_period_kinds() {
        let m = Period::last_ended(PeriodKind::Month, d("2024-03-10"));
        assert_eq!((m.key(), m.end()), ("2024-02".to_string(), d("2024-02-29")));
        assert_eq!(Period::parse(PeriodKind::Month, "2024-02"), Some(m));
        let h = Period::last_ended(PeriodKind::HalfYear, d("2026-07-01"));
        assert_eq!(
            (h.key(), h.start(), h.end()),
            ("2026-H1".to_string(), d("2026-01-01"), d("2026-06-30"))
        );
        let y = Period::last_ended(PeriodKind::Year, d("2026-07-01"));
        assert_eq!((y.key(), y.end()), ("2025".to_string(), d("2025-12-31")));
        assert_eq!(Period::parse(PeriodKind::Year, "2025"), Some(y));
        assert_eq!(y.next().prev(), y);
    }

    #[test]
    fn transitions() {
        use Action::*;
        use State::*;
        assert_eq!(apply(Draft, Save).unwrap(), Draft);
        assert_eq!(apply(Draft, Submit).unwrap(), Submitted);
        assert_eq!(apply(Submitted, Acknowledge).unwrap(), Acknowledged);
        assert_eq!(apply(Submitted, Return).unwrap(), Returned);
        assert_eq!(apply(Returned, Submit).unwrap(), Submitted);
        for (s, a) in [
            (Submitted, Save),
            (Submitted, Submit),
            (Draft, Acknowledge),
            (Acknowledged, Save),
            (Acknowledged, Return),
            (Returned, Acknowledge),
        ] {
            assert!(
                matches!(apply(s, a), Err(DomainError::InvalidTransition { .. })),
                "{s:?} {a:?}"
            );
        }
    }

    fn entry(dim: Dimension, score: Option<f64>, comment: &str) -> Entry {
        Entry {
            dimension: dim,
            score,
            evidence: serde_json::Value::Null,
            comment: comment.into(),
        }
    }

    #[test]
    fn low_scores_need_a_comment_and_a_plan() {
        let entries = vec![
            entry(Dimension::Completeness, Some(76.0), ""),
            entry(Dimension::Validity, Some(92.3), ""),
            entry(Dimension::Continuity, None, ""),
        ];
        match check_submission(&entries, " ") {
            Err(DomainError::Validation(e)) => {
                let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["comment.completeness", "action_plan"]);
            }
            other => panic!("{other:?}"),
        }
        let mut fixed = entries.clone();
        fixed[0].comment = "补齐关键字与联系邮箱".into();
        assert!(check_submission(&fixed, "下季度补齐元数据").is_ok());
        // Nothing below the threshold: nothing is required.
        let good = vec![entry(Dimension::Validity, Some(80.0), "")];
        assert!(check_submission(&good, "").is_ok());
        let long = "长".repeat(MAX_TEXT_CHARS + 1);
        assert!(check_lengths(&good, &long).is_err());
    }

    #[test]
    fn in_time_up_to_and_including_the_due_day() {
        assert!(on_time(d("2026-10-30"), d("2026-10-30")));
        assert!(!on_time(d("2026-10-31"), d("2026-10-30")));
    }
}
