//! 自评 — provider departments' periodic self-evaluations over the six quality dimensions
//! (§8): opened pre-filled with the department's computed scores and their evidence, written
//! and submitted by its staff, acknowledged (or returned with a comment) by the administration
//! institution; the due notices; and how many were submitted on time, for the evaluation.

use std::collections::BTreeMap;

use pubdata_core::calendar::Date;
use pubdata_core::org::OrgKind;
use pubdata_core::quality::Dimension;
use pubdata_core::self_evaluation::{self as se, Action, Entry, Period, Schedule, State};
use pubdata_core::DomainError;
use pubdata_store::{now_ms, NewSelfEvaluation, SelfEvaluationChange, SelfEvaluationRow};
use serde::Serialize;
use serde_json::json;

use crate::interaction::{self, is_admin, provider_orgs, system_caller};
use crate::notices::Notice;
use crate::quality::ProviderQuality;
use crate::{Caller, Result, Store, StoreError};

/// How many of the weakest resources a dimension's evidence names.
const EVIDENCE_RESOURCES: usize = 3;
/// How many reasons each of them gives.
const EVIDENCE_REASONS: usize = 2;

/// A self-evaluation as read.
#[derive(Debug, Clone, Serialize)]
pub struct SelfEvaluation {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub period: String,
    pub period_start: String,
    pub period_end: String,
    pub due: String,
    pub state: State,
    pub entries: Vec<Entry>,
    pub action_plan: String,
    pub admin_comment: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub submitted_at: Option<i64>,
    pub first_submitted_at: Option<i64>,
    pub decided_at: Option<i64>,
    /// Whether the first submission came by the due day; `None` while never submitted.
    pub on_time: Option<bool>,
    /// Past the due day and never submitted.
    pub overdue: bool,
}

fn day(ms: i64) -> Date {
    Date::from_unix_millis_cst(ms)
}

fn parse(row: SelfEvaluationRow) -> Result<SelfEvaluation> {
    let corrupt = |what: &str| StoreError::Other(format!("self-evaluation {}: stored {what} cannot be read", row.id));
    let state = State::parse(&row.state).ok_or_else(|| corrupt("state"))?;
    let entries: Vec<Entry> = serde_json::from_value(row.dimensions.clone()).map_err(|_| corrupt("dimensions"))?;
    let due = Date::parse(&row.due).ok_or_else(|| corrupt("due date"))?;
    Ok(SelfEvaluation {
        on_time: row.first_submitted_at.map(|at| se::on_time(day(at), due)),
        overdue: row.first_submitted_at.is_none() && crate::quality::today() > due,
        id: row.id,
        org_id: row.org_id,
        org_name: row.org_name,
        period: row.period,
        period_start: row.period_start,
        period_end: row.period_end,
        due: row.due,
        state,
        entries,
        action_plan: row.action_plan,
        admin_comment: row.admin_comment,
        created_at: row.created_at,
        updated_at: row.updated_at,
        submitted_at: row.submitted_at,
        first_submitted_at: row.first_submitted_at,
        decided_at: row.decided_at,
    })
}

/// Staff of the department write its self-evaluations.
fn may_write(caller: &Caller, org_id: i64) -> bool {
    provider_orgs(caller).contains(&org_id)
}

/// They and the administration institution read them.
fn may_read(caller: &Caller, org_id: i64) -> bool {
    may_write(caller, org_id) || is_admin(caller)
}

/// Each dimension's score with its evidence: the weakest published resources on it (below
/// 100) and their costliest reasons.
pub fn prefill(q: &ProviderQuality) -> Vec<Entry> {
    Dimension::ALL
        .iter()
        .map(|d| {
            let mut weak: Vec<_> = q
                .resources
                .iter()
                .filter_map(|r| {
                    let s = r.scores.get(*d);
                    s.value().filter(|v| *v < 100.0).map(|v| (r, s, v))
                })
                .collect();
            weak.sort_by(|a, b| a.2.total_cmp(&b.2));
            let evidence: Vec<serde_json::Value> = weak
                .into_iter()
                .take(EVIDENCE_RESOURCES)
                .map(|(r, s, v)| {
                    let reasons: Vec<_> = s
                        .reasons
                        .iter()
                        .filter(|x| x.points > 0.0)
                        .take(EVIDENCE_REASONS)
                        .collect();
                    json!({"resource_id": r.resource_id, "code": r.code, "title": r.title, "score": v,
                           "reasons": reasons})
                })
                .collect();
            Entry {
                dimension: *d,
                score: q.dimensions.get(d).copied().flatten(),
                evidence: serde_json::Value::Array(evidence),
                comment: String::new(),
            }
        })
        .collect()
}

/// Opens the department's self-evaluation for `period` (by default the last period that has
/// ended), pre-filled with its computed scores; an existing one is returned as it is.
pub async fn open(
    store: &Store,
    caller: &Caller,
    schedule: &Schedule,
    org_id: i64,
    period: Option<&str>,
    today: Date,
) -> Result<i64> {
    if !may_write(caller, org_id) {
        return Err(DomainError::Forbidden.into());
    }
    let user = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let period = match period.map(str::trim).filter(|p| !p.is_empty()) {
        None => Period::last_ended(schedule.period, today),
        Some(key) => Period::parse(schedule.period, key).ok_or(DomainError::field("period", "period_invalid"))?,
    };
    if period.end() >= today {
        return Err(DomainError::field("period", "period_not_ended").into());
    }
    let key = period.key();
    if let Some(existing) = store
        .self_evaluations(Some(org_id))
        .await?
        .into_iter()
        .find(|e| e.period == key)
    {
        return Ok(existing.id);
    }
    let q = crate::quality::of_provider(store, org_id, today).await?;
    let entries = prefill(&q);
    let dims = serde_json::to_value(&entries).map_err(|e| StoreError::Other(e.to_string()))?;
    let due = period.due(schedule.due_days).to_string();
    let (start, end) = (period.start().to_string(), period.end().to_string());
    let mut tx = store.begin().await?;
    let id = tx
        .insert_self_evaluation(&NewSelfEvaluation {
            org_id,
            period: &key,
            period_start: &start,
            period_end: &end,
            due: &due,
            dimensions: &dims,
            created_by: user,
            at: now_ms(),
        })
        .await?;
    let mut e = caller.audit("self_evaluation.open", "self_evaluation", id);
    e.after = Some(json!({"org_id": org_id, "period": key, "due": due,
        "scores": entries.iter().map(|x| (x.dimension.as_str(), x.score)).collect::<BTreeMap<_, _>>()}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn get(store: &Store, caller: &Caller, id: i64) -> Result<SelfEvaluation> {
    let row = store
        .self_evaluation(id)
        .await?
        .filter(|r| may_read(caller, r.org_id))
        .ok_or(DomainError::NotFound {
            what: "self_evaluation",
        })?;
    parse(row)
}

/// Self-evaluations, newest period first: one department's (its staff, the administration
/// institution), or with `None` all the caller may read.
pub async fn list(store: &Store, caller: &Caller, org_id: Option<i64>) -> Result<Vec<SelfEvaluation>> {
    let rows = match org_id {
        Some(org) if may_read(caller, org) => store.self_evaluations(Some(org)).await?,
        Some(_) => return Err(DomainError::Forbidden.into()),
        None if is_admin(caller) => store.self_evaluations(None).await?,
        None => {
            let mine = provider_orgs(caller);
            if mine.is_empty() {
                return Err(DomainError::Forbidden.into());
            }
            let mut rows = Vec::new();
            for org in mine {
                rows.extend(store.self_evaluations(Some(org)).await?);
            }
            rows
        }
    };
    rows.into_iter().map(parse).collect()
}

/// What the staff write: a comment per dimension and the action plan.
#[derive(Debug, Clone, Default)]
pub struct Text {
    pub comments: BTreeMap<Dimension, String>,
    pub action_plan: String,
}

fn with_text(mut entries: Vec<Entry>, text: &Text) -> Vec<Entry> {
    for e in &mut entries {
        if let Some(c) = text.comments.get(&e.dimension) {
            e.comment = c.trim().to_string();
        }
    }
    entries
}

/// Saves the draft (or a returned evaluation being revised); with `submit`, also hands it to
/// the administration institution, which is told.
pub async fn save(store: &Store, caller: &Caller, id: i64, text: &Text, submit: bool) -> Result<()> {
    let mut tx = store.begin().await?;
    let row = tx
        .self_evaluation_for_update(id)
        .await?
        .filter(|r| may_read(caller, r.org_id))
        .ok_or(DomainError::NotFound {
            what: "self_evaluation",
        })?;
    if !may_write(caller, row.org_id) {
        return Err(DomainError::Forbidden.into());
    }
    let current = parse(row)?;
    let action = if submit { Action::Submit } else { Action::Save };
    let to = se::apply(current.state, action)?;
    let entries = with_text(current.entries.clone(), text);
    let plan = text.action_plan.trim();
    if submit {
        se::check_submission(&entries, plan)?;
    } else {
        se::check_lengths(&entries, plan)?;
    }
    let dims = serde_json::to_value(&entries).map_err(|e| StoreError::Other(e.to_string()))?;
    let at = now_ms();
    tx.update_self_evaluation(
        id,
        &SelfEvaluationChange {
            state: to.as_str(),
            dimensions: &dims,
            action_plan: plan,
            admin_comment: None,
            submitted_at: submit.then_some(at),
            decided_by: None,
            at,
        },
    )
    .await?;
    let name = if submit {
        "self_evaluation.submit"
    } else {
        "self_evaluation.save"
    };
    let mut e = caller.audit(name, "self_evaluation", id);
    e.before = Some(json!({"state": current.state}));
    e.after = Some(json!({"state": to, "period": current.period}));
    tx.audit(e).await?;
    if submit {
        let notice = Notice::new("self_evaluation_submitted")
            .param("org", current.org_name.as_str())
            .param("period", current.period.as_str())
            .link(format!("/admin/self-evaluations/{id}"));
        let mut admins = store
            .users_with_role(pubdata_core::user::Role::AdminManager, None)
            .await?;
        admins.extend(
            store
                .users_with_role(pubdata_core::user::Role::AdminReviewer, None)
                .await?,
        );
        admins.sort_unstable();
        admins.dedup();
        interaction::notify(&mut tx, &admins, &notice).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The administration institution acknowledges a submitted self-evaluation, or returns it with
/// a comment (required) for the department to revise and submit again. The staff are told.
pub async fn decide(store: &Store, caller: &Caller, id: i64, acknowledge: bool, comment: &str) -> Result<()> {
    if !is_admin(caller) {
        return Err(DomainError::Forbidden.into());
    }
    let comment = comment.trim();
    if !acknowledge && comment.is_empty() {
        return Err(DomainError::field("admin_comment", "required").into());
    }
    if comment.chars().count() > se::MAX_TEXT_CHARS {
        return Err(DomainError::Validation(vec![
            pubdata_core::FieldError::new("admin_comment", "too_long").with("max", se::MAX_TEXT_CHARS)
        ])
        .into());
    }
    let user = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let mut tx = store.begin().await?;
    let row = tx.self_evaluation_for_update(id).await?.ok_or(DomainError::NotFound {
        what: "self_evaluation",
    })?;
    let current = parse(row)?;
    let action = if acknowledge {
        Action::Acknowledge
    } else {
        Action::Return
    };
    let to = se::apply(current.state, action)?;
    let dims = serde_json::to_value(&current.entries).map_err(|e| StoreError::Other(e.to_string()))?;
    tx.update_self_evaluation(
        id,
        &SelfEvaluationChange {
            state: to.as_str(),
            dimensions: &dims,
            action_plan: &current.action_plan,
            admin_comment: (!comment.is_empty()).then_some(comment),
            submitted_at: None,
            decided_by: Some(user),
            at: now_ms(),
        },
    )
    .await?;
    let mut e = caller.audit(
        if acknowledge {
            "self_evaluation.acknowledge"
        } else {
            "self_evaluation.return"
        },
        "self_evaluation",
        id,
    );
    e.before = Some(json!({"state": current.state}));
    e.after = Some(json!({"state": to, "comment": comment}));
    tx.audit(e).await?;
    let mut notice = Notice::new(if acknowledge {
        "self_evaluation_acknowledged"
    } else {
        "self_evaluation_returned"
    })
    .param("period", current.period.as_str())
    .link(format!("/provider/self-evaluations/{id}"));
    if !comment.is_empty() {
        notice = notice.reason(comment);
    }
    let staff = interaction::provider_staff(store, current.org_id).await?;
    interaction::notify(&mut tx, &staff, &notice).await?;
    tx.commit().await?;
    Ok(())
}

/// The periods whose self-evaluation falls due between `from` and `to` (inclusive) for a
/// department created on `created`: those that ended after it existed.
fn due_periods(schedule: &Schedule, created: Date, from: Date, to: Date) -> Vec<Period> {
    let mut out = Vec::new();
    let mut p = Period::containing(schedule.period, from.add_days(-i64::from(schedule.due_days)));
    // Step back once more: a period's due day can fall after `from` though it ended before.
    p = p.prev();
    while p.due(schedule.due_days) <= to {
        let due = p.due(schedule.due_days);
        if due >= from && p.end() >= created {
            out.push(p);
        }
        p = p.next();
    }
    out
}

/// For the evaluation indicator "self-evaluations submitted on time": of the department's
/// self-evaluations due between `from` and `to` (inclusive, by due day), how many were first
/// submitted by their due day, and how many were due. Periods that ended before the
/// department was created are not due.
pub async fn on_time(store: &Store, schedule: &Schedule, org_id: i64, from: Date, to: Date) -> Result<(u32, u32)> {
    let org = store
        .org(org_id)
        .await?
        .filter(|o| o.kind == OrgKind::Provider)
        .ok_or(DomainError::NotFound { what: "organisation" })?;
    let periods = due_periods(schedule, day(org.created_at), from, to);
    let rows = store.self_evaluations(Some(org_id)).await?;
    let in_time = periods
        .iter()
        .filter(|p| {
            let key = p.key();
            let due = p.due(schedule.due_days);
            rows.iter()
                .any(|r| r.period == key && r.first_submitted_at.is_some_and(|at| se::on_time(day(at), due)))
        })
        .count();
    Ok((in_time as u32, periods.len() as u32))
}

/// The due notice: once the period has ended, the staff of every provider department that has
/// not yet submitted its self-evaluation are told once per period (when it becomes due).
/// Run by the housekeeping loop with the current time; returns the notices sent.
pub async fn due_notices(store: &Store, schedule: &Schedule, now: i64) -> Result<usize> {
    let today = day(now);
    let period = Period::last_ended(schedule.period, today);
    let key = period.key();
    let due = period.due(schedule.due_days).to_string();
    let system = system_caller("self_evaluation");
    let mut sent = 0;
    for org in store.list_orgs(Some(OrgKind::Provider)).await? {
        if day(org.created_at) > period.end() || store.self_evaluation_notice_sent(org.id, &key).await? {
            continue;
        }
        let submitted = store
            .self_evaluations(Some(org.id))
            .await?
            .iter()
            .any(|r| r.period == key && r.first_submitted_at.is_some());
        let staff = interaction::provider_staff(store, org.id).await?;
        let mut tx = store.begin().await?;
        tx.record_self_evaluation_notice(org.id, &key, now).await?;
        if !submitted {
            let notice = Notice::new("self_evaluation_due")
                .param("period", key.as_str())
                .param("due", due.as_str())
                .link(format!("/provider/self-evaluations?org={}", org.id));
            interaction::notify(&mut tx, &staff, &notice).await?;
            sent += staff.len();
        }
        let mut e = system.audit("self_evaluation.due_notice", "organisation", org.id);
        e.after = Some(json!({"period": key, "due": due, "notified": if submitted { 0 } else { staff.len() }}));
        tx.audit(e).await?;
        tx.commit().await?;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn the_periods_due_in_a_window() {
        let s = Schedule::default();
        let keys = |c: &str, f: &str, t: &str| -> Vec<String> {
            due_periods(&s, d(c), d(f), d(t)).into_iter().map(|p| p.key()).collect()
        };
        // Quarters are due 30 days after they end: Q4 2025 on 2026-01-30, Q1 on 2026-04-30, …
        assert_eq!(
            keys("2020-01-01", "2026-01-01", "2026-12-31"),
            ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
        );
        assert_eq!(keys("2020-01-01", "2026-01-31", "2026-04-30"), ["2026-Q1"]);
        // A department created in May 2026 owes nothing for Q1.
        assert_eq!(keys("2026-05-10", "2026-01-01", "2026-12-31"), ["2026-Q2", "2026-Q3"]);
    }
}
