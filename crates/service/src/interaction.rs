//! What the interaction services (demands, corrections) share: the people notices go to, the
//! history event and audit written with each step, reminders before a deadline and escalation
//! after it, and the periodic work that runs them.

use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::org::OrgKind;
use pubdata_core::user::Role;
use pubdata_core::DomainError;
use pubdata_store::{now_ms, NewInteractionEvent, Tx};

use crate::notices::{self, Notice};
use crate::{Caller, Result, Store};

pub(crate) fn today() -> Date {
    Date::from_unix_millis_cst(now_ms())
}

/// A deadline given in working days from today, as stored (YYYY-MM-DD).
pub(crate) fn due_in(calendar: &WorkCalendar, days: u32) -> String {
    calendar.add_working_days(today(), days).to_string()
}

/// 逾期 — the due day itself is still in time.
pub(crate) fn is_overdue(due: Option<&str>, today: Date) -> bool {
    due.and_then(Date::parse).is_some_and(|d| today > d)
}

/// Working days past the deadline (0 while in time).
pub(crate) fn overdue_days(due: Option<&str>, today: Date, calendar: &WorkCalendar) -> i64 {
    match due.and_then(Date::parse) {
        Some(d) if today > d => calendar.working_days_between(d, today).max(0),
        _ => 0,
    }
}

/// The platform's background work as a caller (`system:<job>` in the audit trail).
pub(crate) fn system_caller(job: &str) -> Caller {
    Caller {
        actor: pubdata_core::policy::Actor::anonymous(),
        label: format!("system:{job}"),
        ip: None,
    }
}

fn merged(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The administration institution's reviewers and managers.
pub(crate) async fn admins(store: &Store) -> Result<Vec<i64>> {
    let mut ids = store.users_with_role(Role::AdminReviewer, None).await?;
    ids.extend(store.users_with_role(Role::AdminManager, None).await?);
    Ok(merged(ids))
}

/// A provider's managers, editors and reviewers.
pub(crate) async fn provider_staff(store: &Store, org_id: i64) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for role in [Role::ProviderManager, Role::ProviderEditor, Role::ProviderReviewer] {
        ids.extend(store.users_with_role(role, Some(org_id)).await?);
    }
    Ok(merged(ids))
}

/// Whether `org_id` is a provider department; `None` when there is no such organisation.
pub(crate) async fn is_provider(store: &Store, org_id: i64) -> Result<bool> {
    Ok(store.org(org_id).await?.is_some_and(|o| o.kind == OrgKind::Provider))
}

/// The organisations in which the caller is provider staff.
pub(crate) fn provider_orgs(caller: &Caller) -> Vec<i64> {
    let mut orgs: Vec<i64> = caller
        .actor
        .memberships
        .iter()
        .filter(|m| {
            matches!(
                m.role,
                Role::ProviderManager | Role::ProviderEditor | Role::ProviderReviewer
            )
        })
        .filter_map(|m| m.org_id)
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    orgs
}

pub(crate) fn is_admin(caller: &Caller) -> bool {
    caller.actor.has_role(Role::AdminReviewer) || caller.actor.has_role(Role::AdminManager)
}

pub(crate) fn login_required(caller: &Caller) -> Result<i64> {
    caller.actor.user_id.ok_or_else(|| {
        DomainError::Unauthenticated {
            reason: "login_required",
        }
        .into()
    })
}

/// One step of an object's history.
pub(crate) struct Step<'a> {
    pub object_type: &'a str,
    pub object_id: i64,
    pub action: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub reason: Option<&'a str>,
    pub details: Option<serde_json::Value>,
    pub due: Option<&'a str>,
}

/// Writes the step into the object's history and the audit trail (`<object_type>.<action>`).
pub(crate) async fn record(tx: &mut Tx, caller: &Caller, step: Step<'_>) -> Result<()> {
    tx.insert_interaction_event(&NewInteractionEvent {
        object_type: step.object_type,
        object_id: step.object_id,
        action: step.action,
        actor_id: caller.actor.user_id,
        actor: &caller.label,
        from_state: step.from,
        to_state: step.to,
        reason: step.reason,
        details: step.details.clone(),
        due: step.due,
    })
    .await?;
    let action = format!("{}.{}", step.object_type, step.action);
    let mut e = caller.audit(&action, step.object_type, step.object_id);
    e.before = Some(serde_json::json!({"state": step.from}));
    e.after = Some(serde_json::json!({"state": step.to, "due": step.due, "details": step.details}));
    tx.audit(e).await?;
    Ok(())
}

/// Sends one notice to each of `users` within the transaction.
pub(crate) async fn notify(tx: &mut Tx, users: &[i64], notice: &Notice) -> Result<()> {
    for user in users {
        notices::send(tx, *user, notice).await?;
    }
    Ok(())
}

/// Whether a deadline is near enough (due tomorrow or earlier) for [`remind`] to have anything
/// to say, so callers skip looking up who would hear.
pub(crate) fn reminder_due(due: Date, today: Date) -> bool {
    today.add_days(1) >= due
}

/// Something waiting on a person with a deadline, for reminders.
pub(crate) struct Waiting<'a> {
    pub object_type: &'a str,
    pub id: i64,
    pub state: &'a str,
    pub due: Date,
    pub title: &'a str,
    /// Who is reminded the day before the deadline.
    pub assignees: Vec<i64>,
    pub link: String,
}

/// The day before the deadline the assignees are reminded (`<object_type>_due_soon`); once it
/// has passed, the administration institution's managers are told (`<object_type>_overdue`).
/// Each once per stage: the history records it, and a stage that began after it starts afresh.
/// Returns whether a notice was sent.
pub(crate) async fn remind(store: &Store, w: Waiting<'_>, today: Date) -> Result<bool> {
    let (action, users) = if today > w.due {
        ("overdue", store.users_with_role(Role::AdminManager, None).await?)
    } else if reminder_due(w.due, today) {
        ("reminder", w.assignees.clone())
    } else {
        return Ok(false);
    };
    let events = store.interaction_events(w.object_type, w.id).await?;
    // The stage began with the last step that set its deadline.
    let began = events
        .iter()
        .rev()
        .find(|e| e.due.is_some() && e.action != "reminder" && e.action != "overdue");
    let already = events
        .iter()
        .any(|e| e.action == action && began.is_none_or(|b| e.id > b.id));
    if already {
        return Ok(false);
    }
    let kind: &'static str = match (w.object_type, action) {
        ("demand", "overdue") => "demand_overdue",
        ("demand", _) => "demand_due_soon",
        ("correction", "overdue") => "correction_overdue",
        ("correction", _) => "correction_due_soon",
        ("showcase", "overdue") => "showcase_overdue",
        ("showcase", _) => "showcase_due_soon",
        ("security_report", "overdue") => "security_report_overdue",
        _ => "security_report_due_soon",
    };
    let due = w.due.to_string();
    let notice = Notice::new(kind)
        .param("title", w.title)
        .param("id", w.id)
        .param("due", due.as_str())
        .link(w.link.clone());
    let system = system_caller("reminder");
    let mut tx = store.begin().await?;
    notify(&mut tx, &users, &notice).await?;
    tx.insert_interaction_event(&NewInteractionEvent {
        object_type: w.object_type,
        object_id: w.id,
        action,
        actor: &system.label,
        from_state: w.state,
        to_state: w.state,
        due: Some(&due),
        ..Default::default()
    })
    .await?;
    let audit_action = format!("{}.{action}", w.object_type);
    tx.audit(system.audit(&audit_action, w.object_type, w.id)).await?;
    tx.commit().await?;
    Ok(true)
}

/// The periodic work of demands, corrections, showcases and security reports: reminders and
/// escalation. Returns how many notices went out.
pub async fn housekeeping(store: &Store) -> Result<usize> {
    Ok(crate::demands::remind(store).await?
        + crate::corrections::remind(store).await?
        + crate::showcases::remind(store).await?
        + crate::security_reports::remind(store).await?)
}
