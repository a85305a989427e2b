//! 安全问题报告 — confidential reports of data-security problems: submission, triage, routing to
//! the provider concerned, the actions taken from the report (withdrawing the resource, revoking
//! grants — the same operations as elsewhere, run in the report's transaction so that the action
//! and its record on the report stand or fall together) and the resolution.
//!
//! Whoever may not see a report gets `NotFound`, as if it did not exist. Its reporter sees a
//! limited view: what they wrote, where it stands and the resolution; not the severity, the
//! routing or the history.

use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::resource::ResourceState;
use pubdata_core::security_report::{self, Action, Effect, Found, NewReport, Recipient, ReportState, Rules};
use pubdata_core::DomainError;
use pubdata_store::{
    InteractionEventRow, NewSecurityReportRow, SecurityReportChange, SecurityReportFilter, SecurityReportRow, Tx,
};
use serde_json::json;

use crate::interaction::{self, Step};
use crate::notices::Notice;
use crate::{Caller, Result, Store, StoreError};

const OBJECT: &str = "security_report";

fn not_found() -> StoreError {
    DomainError::NotFound {
        what: "security_report",
    }
    .into()
}

fn parse_state(row: &SecurityReportRow) -> Result<ReportState> {
    ReportState::parse(&row.state)
        .ok_or_else(|| StoreError::Other(format!("security report {}: unknown state {}", row.id, row.state)))
}

fn link(id: i64) -> String {
    format!("/security-reports/{id}")
}

fn standing(caller: &Caller, row: &SecurityReportRow) -> security_report::Caller {
    security_report::Caller::of(&caller.actor, row.reporter_id, row.provider_org_id)
}

/// A report as one caller may see it.
#[derive(Debug, Clone)]
pub struct ReportView {
    /// The reporter's limited view unless `full`: no severity, routing or reporter's name.
    pub row: SecurityReportRow,
    pub state: ReportState,
    pub full: bool,
    pub overdue: bool,
    /// The history, the actions taken included (only with `full`).
    pub events: Vec<InteractionEventRow>,
    pub caller: security_report::Caller,
}

fn view(caller: &Caller, mut row: SecurityReportRow) -> Result<ReportView> {
    let state = parse_state(&row)?;
    let c = standing(caller, &row);
    if !c.sees() {
        return Err(not_found());
    }
    let full = c.sees_all();
    if !full {
        row.severity = None;
        row.provider_org_id = None;
        row.provider_name = None;
        row.stage_due = None;
        row.resource_provider_org_id = None;
    }
    let overdue = full && !state.is_final() && interaction::is_overdue(row.stage_due.as_deref(), interaction::today());
    Ok(ReportView {
        row,
        state,
        full,
        overdue,
        events: Vec::new(),
        caller: c,
    })
}

/// A submission's outcome (`created: false`: it repeats an earlier report, returned instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub id: i64,
    pub created: bool,
}

async fn found(store: &Store, input: &NewReport, user_id: i64) -> Result<Found> {
    let resource = match input.resource() {
        Some(id) => match store.resource(id).await? {
            Some(row) => {
                let r = crate::resources::parse(row)?;
                matches!(r.status.state, ResourceState::Published | ResourceState::Withdrawn)
            }
            None => false,
        },
        None => false,
    };
    // Only the reporter's own grant is looked up: any other id, whether or not such a grant
    // exists, gets the same answer (recorded unchecked for the administration to verify).
    let grant = match input.grant() {
        Some(id) => store.grant(id).await?.filter(|g| g.consumer_id == user_id),
        None => None,
    };
    Ok(Found {
        resource,
        grant_resource: grant.as_ref().map(|g| g.resource_id),
        grant_unverified: input.grant().is_some() && grant.is_none(),
    })
}

/// 报告安全问题 — anyone logged in reports a problem. Submitting the same report again returns
/// the first one and changes nothing.
pub async fn submit(
    store: &Store,
    caller: &Caller,
    input: &NewReport,
    rules: &Rules,
    calendar: &WorkCalendar,
) -> Result<Submitted> {
    let user_id = security_report::may_submit(&caller.actor)?;
    let mut r = input.validate(found(store, input, user_id).await?)?;
    // A grant number that names no grant is not kept (there is nothing to link it to); the
    // reporter gets the same answer either way, so nothing is revealed.
    if let Some(id) = r.grant_id {
        if store.grant(id).await?.is_none() {
            r.grant_id = None;
        }
    }
    let fingerprint = r.fingerprint();
    let t = security_report::submit(rules);
    let mut tx = store.begin().await?;
    tx.lock_user(user_id).await?;
    let since = pubdata_store::now_ms() - (rules.duplicate_window_secs as i64).saturating_mul(1000);
    if let Some(id) = tx
        .duplicate_security_report(user_id, input.idempotency_key(), &fingerprint, since)
        .await?
    {
        return Ok(Submitted { id, created: false });
    }
    let due = start_deadline(&t.effects, calendar);
    let id = tx
        .insert_security_report(&NewSecurityReportRow {
            reporter_id: user_id,
            kind: r.kind.as_str(),
            resource_id: r.resource_id,
            grant_id: r.grant_id,
            description: &r.description,
            evidence: r.evidence.as_deref(),
            state: t.to.as_str(),
            stage_due: due.as_deref(),
            fingerprint: &fingerprint,
            idempotency_key: input.idempotency_key(),
        })
        .await?;
    let row = tx.security_report_for_update(id).await?.ok_or_else(not_found)?;
    notify(store, &mut tx, &row, &t.effects, None).await?;
    let step = Step {
        object_type: OBJECT,
        object_id: id,
        action: "submit",
        from: t.to.as_str(),
        to: t.to.as_str(),
        reason: None,
        details: Some(json!({"kind": r.kind.as_str(), "resource_id": r.resource_id, "grant_id": r.grant_id})),
        due: due.as_deref(),
    };
    interaction::record(&mut tx, caller, step).await?;
    tx.commit().await?;
    Ok(Submitted { id, created: true })
}

fn start_deadline(effects: &[Effect], calendar: &WorkCalendar) -> Option<String> {
    effects.iter().find_map(|e| match e {
        Effect::StartDeadline(days) => Some(interaction::due_in(calendar, *days)),
        _ => None,
    })
}

/// Notices name the report by number only: its title would already say too much.
async fn notify(
    store: &Store,
    tx: &mut Tx,
    row: &SecurityReportRow,
    effects: &[Effect],
    text: Option<&str>,
) -> Result<()> {
    for effect in effects {
        let Effect::Notify(to, kind) = effect else { continue };
        let users = match to {
            Recipient::Reporter => vec![row.reporter_id],
            Recipient::Admins => interaction::admins(store).await?,
            Recipient::ProviderStaff => match row.provider_org_id {
                Some(org) => interaction::provider_staff(store, org).await?,
                None => Vec::new(),
            },
        };
        let mut notice = Notice::new(kind.as_str())
            .param("title", format!("#{}", row.id))
            .param("id", row.id)
            .link(link(row.id));
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            notice = notice.reason(t);
        }
        interaction::notify(tx, &users, &notice).await?;
    }
    Ok(())
}

/// One report, for those who may see it (`NotFound` for everyone else).
pub async fn get(store: &Store, caller: &Caller, id: i64) -> Result<ReportView> {
    let row = store.security_report(id).await?.ok_or_else(not_found)?;
    let mut v = view(caller, row)?;
    if v.full {
        v.events = store.interaction_events(OBJECT, id).await?;
    }
    Ok(v)
}

/// What an action did besides the report itself, for the caller to follow up (a withdrawn
/// resource leaves the search index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Done {
    pub withdrew_resource: bool,
}

/// Triage, routing, the actions on the resource and grants, and the resolution. A withdrawal or
/// revocation runs the same operation as the resource and grant pages, inside this transaction,
/// and is recorded on the report; if either fails, nothing changes.
pub async fn act(
    store: &Store,
    caller: &Caller,
    id: i64,
    action: &Action,
    rules: &Rules,
    calendar: &WorkCalendar,
) -> Result<Done> {
    let mut tx = store.begin().await?;
    let row = tx.security_report_for_update(id).await?.ok_or_else(not_found)?;
    let state = parse_state(&row)?;
    let c = standing(caller, &row);
    if !c.sees() {
        return Err(not_found());
    }
    let t = security_report::apply(state, action, c, rules)?;
    let mut done = Done::default();
    let mut change = SecurityReportChange {
        state: t.to.as_str(),
        resolved: t.to.is_final(),
        ..Default::default()
    };
    let due = start_deadline(&t.effects, calendar);
    change.stage_due = due.as_deref();
    let details = match action {
        Action::Triage { severity } => {
            change.severity = Some(severity.as_str());
            json!({"severity": severity.as_str()})
        }
        Action::Route { provider_org_id } => {
            if !interaction::is_provider(store, *provider_org_id).await? {
                return Err(DomainError::field("provider_org_id", "not_a_provider").into());
            }
            change.provider_org_id = Some(*provider_org_id);
            json!({"provider_org_id": provider_org_id})
        }
        Action::WithdrawResource { resource_id, reason } => {
            if row.resource_id != Some(*resource_id) {
                return Err(DomainError::field("resource_id", "resource_not_of_report").into());
            }
            crate::resources::withdraw_in(store, &mut tx, caller, *resource_id, reason).await?;
            done.withdrew_resource = true;
            json!({"resource_id": resource_id})
        }
        Action::RevokeGrant { grant_id, reason } => {
            let grant = store.grant(*grant_id).await?;
            let of_report = Some(*grant_id) == row.grant_id
                || grant.as_ref().is_some_and(|g| row.resource_id == Some(g.resource_id));
            if !of_report {
                return Err(DomainError::field("grant_id", "grant_not_of_report").into());
            }
            crate::access::revoke_grant_in(store, &mut tx, caller, *grant_id, reason).await?;
            json!({"grant_id": grant_id})
        }
        Action::Resolve { resolution } => {
            change.resolution = Some(resolution.trim());
            json!({})
        }
    };
    tx.set_security_report(id, &change).await?;
    let mut routed = row.clone();
    if let Some(org) = change.provider_org_id {
        routed.provider_org_id = Some(org);
    }
    notify(
        store,
        &mut tx,
        &routed,
        &t.effects,
        action.text().filter(|_| t.to.is_final()),
    )
    .await?;
    let step = Step {
        object_type: OBJECT,
        object_id: id,
        action: action.name(),
        from: state.as_str(),
        to: t.to.as_str(),
        reason: action.text(),
        details: Some(details),
        due: due.as_deref(),
    };
    interaction::record(&mut tx, caller, step).await?;
    tx.commit().await?;
    Ok(done)
}

/// The caller's own reports, newest first (their limited view).
pub async fn mine(store: &Store, caller: &Caller) -> Result<Vec<ReportView>> {
    let user_id = interaction::login_required(caller)?;
    let rows = store
        .list_security_reports(&SecurityReportFilter {
            reporter_id: Some(user_id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    rows.into_iter().map(|r| view(caller, r)).collect()
}

#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub report: ReportView,
    pub overdue_days: i64,
}

/// The reports the caller handles: the administration institution all of them, provider staff
/// those routed to their department. `open_only` keeps the unresolved ones, oldest first.
pub async fn queue(
    store: &Store,
    caller: &Caller,
    open_only: bool,
    calendar: &WorkCalendar,
) -> Result<Vec<QueueEntry>> {
    interaction::login_required(caller)?;
    let admin = interaction::is_admin(caller);
    let orgs = interaction::provider_orgs(caller);
    if !admin && orgs.is_empty() {
        return Err(DomainError::Forbidden.into());
    }
    let open = [
        ReportState::Submitted.as_str(),
        ReportState::Triaged.as_str(),
        ReportState::Routed.as_str(),
    ];
    let states: &[&str] = if open_only { &open } else { &[] };
    let filter = |org| SecurityReportFilter {
        provider_org_id: org,
        states,
        oldest_first: open_only,
        limit: 1000,
        ..Default::default()
    };
    let mut rows = Vec::new();
    if admin {
        rows.extend(store.list_security_reports(&filter(None)).await?);
    } else {
        for org in orgs {
            rows.extend(store.list_security_reports(&filter(Some(org))).await?);
        }
    }
    rows.sort_by_key(|r| if open_only { r.id } else { -r.id });
    rows.dedup_by_key(|r| r.id);
    let today = interaction::today();
    rows.into_iter()
        .map(|row| {
            let overdue_days = interaction::overdue_days(row.stage_due.as_deref(), today, calendar);
            let v = view(caller, row)?;
            Ok(QueueEntry {
                overdue_days: if v.state.is_final() { 0 } else { overdue_days },
                report: v,
            })
        })
        .collect()
}

/// Reminders before the triage and handling deadlines, escalation after them. Returns how many
/// notices went out.
pub async fn remind(store: &Store) -> Result<usize> {
    let today = interaction::today();
    let open = [
        ReportState::Submitted.as_str(),
        ReportState::Triaged.as_str(),
        ReportState::Routed.as_str(),
    ];
    let rows = store
        .list_security_reports(&SecurityReportFilter {
            states: &open,
            oldest_first: true,
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let mut sent = 0;
    for row in rows {
        let Some(due) = row.stage_due.as_deref().and_then(Date::parse) else {
            continue;
        };
        if !interaction::reminder_due(due, today) {
            continue;
        }
        let assignees = match row.provider_org_id {
            Some(org) if row.state == ReportState::Routed.as_str() => interaction::provider_staff(store, org).await?,
            _ => interaction::admins(store).await?,
        };
        let title = format!("#{}", row.id);
        let w = interaction::Waiting {
            object_type: OBJECT,
            id: row.id,
            state: &row.state,
            due,
            title: &title,
            assignees,
            link: link(row.id),
        };
        sent += usize::from(interaction::remind(store, w, today).await?);
    }
    Ok(sent)
}
