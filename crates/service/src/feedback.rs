//! 数据应用反馈 — usage reports consumers owe for their grants: submission by the grant holder,
//! the due dates and overdue marks each side sees, reminders once per due date, and the standing
//! that is checked when the consumer applies again.
//!
//! A grant is seen by its holder, its provider's staff and the administration institution;
//! for anyone else it does not exist (`NotFound`).

use pubdata_core::calendar::Date;
use pubdata_core::usage_report::{self, NewUsageReport, Rules, Standing};
use pubdata_core::DomainError;
use pubdata_store::{now_ms, GrantRow, NewUsageReportRow, UsageReportRow};
use serde_json::json;

use crate::interaction::{self, today};
use crate::notices::Notice;
use crate::{Caller, Result, Store, StoreError};

/// The most grants one list or one reminder run looks at.
const LIMIT: i64 = 5000;

fn grant_not_found() -> StoreError {
    DomainError::NotFound { what: "grant" }.into()
}

fn conflict(code: &'static str) -> StoreError {
    DomainError::Conflict { code, field: None }.into()
}

/// The page of a grant's feedback.
pub fn link(grant_id: i64) -> String {
    format!("/feedback/grants/{grant_id}")
}

/// A grant with its due dates, the reports it has and where it stands.
#[derive(Debug, Clone)]
pub struct GrantFeedback {
    pub grant: GrantRow,
    pub due: Vec<Date>,
    pub covered: Vec<Date>,
    pub standing: Standing,
    pub reports: Vec<UsageReportRow>,
}

/// A revoked grant owes nothing more; the others owe reports on their schedule.
fn schedule(grant: &GrantRow, rules: &Rules, today: Date) -> Vec<Date> {
    let Some(from) = Date::parse(&grant.valid_from) else {
        return Vec::new();
    };
    if grant.state == "revoked" {
        return Vec::new();
    }
    usage_report::due_dates(from, Date::parse(&grant.valid_to), rules.every_days, today)
}

fn periods(reports: &[UsageReportRow]) -> Vec<Date> {
    reports.iter().filter_map(|r| Date::parse(&r.period_due)).collect()
}

async fn assemble(store: &Store, grants: Vec<GrantRow>, rules: &Rules) -> Result<Vec<GrantFeedback>> {
    let ids: Vec<i64> = grants.iter().map(|g| g.id).collect();
    let mut all = store.usage_reports_of(&ids).await?;
    let today = today();
    Ok(grants
        .into_iter()
        .map(|grant| {
            let (reports, rest): (Vec<UsageReportRow>, Vec<UsageReportRow>) = std::mem::take(&mut all)
                .into_iter()
                .partition(|r| r.grant_id == grant.id);
            all = rest;
            let due = schedule(&grant, rules, today);
            let covered = periods(&reports);
            let standing = usage_report::standing(&due, &covered, today);
            GrantFeedback {
                grant,
                due,
                covered,
                standing,
                reports,
            }
        })
        .collect())
}

fn sees(caller: &Caller, grant: &GrantRow) -> bool {
    caller.actor.user_id == Some(grant.consumer_id)
        || interaction::is_admin(caller)
        || interaction::provider_orgs(caller).contains(&grant.provider_org_id)
}

/// One grant's feedback, for its holder, its provider's staff and the administration.
pub async fn for_grant(store: &Store, caller: &Caller, grant_id: i64, rules: &Rules) -> Result<GrantFeedback> {
    interaction::login_required(caller)?;
    let grant = store.grant(grant_id).await?.filter(|g| sees(caller, g));
    let grant = grant.ok_or_else(grant_not_found)?;
    Ok(assemble(store, vec![grant], rules).await?.remove(0))
}

/// The caller's own grants with their feedback, newest first.
pub async fn mine(store: &Store, caller: &Caller, rules: &Rules) -> Result<Vec<GrantFeedback>> {
    let user_id = interaction::login_required(caller)?;
    let grants = store.list_grants(Some(user_id), None).await?;
    assemble(store, grants, rules).await
}

/// The grants the caller oversees: all for the administration institution, their resources'
/// for a provider's staff; only the overdue ones when `overdue_only`. Most overdue first.
pub async fn overseen(store: &Store, caller: &Caller, rules: &Rules, overdue_only: bool) -> Result<Vec<GrantFeedback>> {
    interaction::login_required(caller)?;
    let mut grants = Vec::new();
    if interaction::is_admin(caller) {
        grants = store.grants_owing_feedback(None, LIMIT).await?;
    } else {
        let orgs = interaction::provider_orgs(caller);
        if orgs.is_empty() {
            return Err(DomainError::Forbidden.into());
        }
        for org in orgs {
            grants.extend(store.grants_owing_feedback(Some(org), LIMIT).await?);
        }
    }
    let mut list = assemble(store, grants, rules).await?;
    list.retain(|f| !overdue_only || f.standing.overdue);
    list.sort_by_key(|f| (-f.standing.overdue_days, f.grant.id));
    Ok(list)
}

/// The consumer's worst standing over all their grants (the most overdue).
pub async fn worst(store: &Store, user_id: i64, rules: &Rules) -> Result<Standing> {
    let grants = store.list_grants(Some(user_id), None).await?;
    let list = assemble(store, grants, rules).await?;
    Ok(list
        .into_iter()
        .map(|f| f.standing)
        .max_by_key(|s| s.overdue_days)
        .unwrap_or_default())
}

/// The feedback policy on applying again: `Ok(true)` to warn the consumer, `Err` to refuse
/// (`feedback_overdue`) when their feedback is overdue beyond the limit.
pub async fn on_applying(store: &Store, caller: &Caller, rules: &Rules) -> Result<bool> {
    let Some(user_id) = caller.actor.user_id else {
        return Ok(false);
    };
    Ok(rules.on_applying(&worst(store, user_id, rules).await?)?)
}

/// 提交应用反馈 — the grant holder reports on the earliest due date not yet covered. Someone
/// else's grant is "not found"; the same report sent again (same key, or same content within
/// the duplicate window) is refused with `usage_report_duplicate` and nothing changes.
pub async fn submit(
    store: &Store,
    caller: &Caller,
    grant_id: i64,
    input: &NewUsageReport,
    rules: &Rules,
) -> Result<i64> {
    let user_id = interaction::login_required(caller)?;
    let grant = store.grant(grant_id).await?.filter(|g| g.consumer_id == user_id);
    let grant = grant.ok_or_else(grant_not_found)?;
    let r = input.validate()?;
    let fingerprint = r.fingerprint(grant_id);
    let mut tx = store.begin().await?;
    tx.lock_user(user_id).await?;
    let since = now_ms() - (rules.duplicate_window_secs as i64).saturating_mul(1000);
    if tx
        .duplicate_usage_report(user_id, input.idempotency_key(), &fingerprint, since)
        .await?
        .is_some()
    {
        return Err(conflict("usage_report_duplicate"));
    }
    let covered: Vec<Date> = tx
        .usage_periods(grant_id)
        .await?
        .iter()
        .filter_map(|p| Date::parse(p))
        .collect();
    let due = schedule(&grant, rules, today());
    let Some(period) = usage_report::uncovered(&due, &covered).into_iter().next() else {
        return Err(conflict("usage_report_not_due"));
    };
    let period = period.to_string();
    let id = tx
        .insert_usage_report(&NewUsageReportRow {
            grant_id,
            consumer_id: user_id,
            period_due: &period,
            purpose: &r.purpose,
            result: &r.result,
            users_count: r.users,
            decisions: r.decisions.as_deref(),
            problems: r.problems.as_deref(),
            link: r.link.as_deref(),
            fingerprint: &fingerprint,
            idempotency_key: input.idempotency_key(),
        })
        .await?;
    let staff = interaction::provider_staff(store, grant.provider_org_id).await?;
    let notice = Notice::new("usage_report_submitted")
        .param("title", grant.resource_title.as_str())
        .param("id", grant_id)
        .param("due", period.as_str())
        .link(link(grant_id));
    interaction::notify(&mut tx, &staff, &notice).await?;
    let mut e = caller.audit("usage_report.submit", "grant", grant_id);
    e.after = Some(json!({"usage_report_id": id, "period_due": period, "problems": r.problems.is_some()}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

/// Reminders: before a due date the consumer is reminded (`usage_report_due_soon`); once it has
/// passed uncovered, the consumer and the provider's staff are told (`usage_report_overdue`).
/// Each once per grant, due date and kind. Returns how many reminders went out.
pub async fn remind(store: &Store, rules: &Rules) -> Result<usize> {
    let grants = store.grants_owing_feedback(None, LIMIT).await?;
    let today = today();
    let system = interaction::system_caller("reminder");
    let mut sent = 0;
    for f in assemble(store, grants, rules).await? {
        let Some(due) = f.standing.next_due else { continue };
        let (kind, notice_kind) = if f.standing.overdue {
            ("overdue", "usage_report_overdue")
        } else if today.add_days(i64::from(rules.remind_days_before)) >= due {
            ("due_soon", "usage_report_due_soon")
        } else {
            continue;
        };
        let g = &f.grant;
        let mut users = vec![g.consumer_id];
        if f.standing.overdue {
            users.extend(interaction::provider_staff(store, g.provider_org_id).await?);
        }
        let due = due.to_string();
        let mut tx = store.begin().await?;
        if !tx.claim_usage_reminder(g.id, &due, kind).await? {
            continue;
        }
        let notice = Notice::new(notice_kind)
            .param("title", g.resource_title.as_str())
            .param("id", g.id)
            .param("due", due.as_str())
            .link(link(g.id));
        interaction::notify(&mut tx, &users, &notice).await?;
        let action = format!("usage_report.{kind}");
        let mut e = system.audit(&action, "grant", g.id);
        e.after = Some(json!({"period_due": due}));
        tx.audit(e).await?;
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}
