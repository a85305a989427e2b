//! 数据纠错 — error reports on published data and their handling by the provider that owns it.
//! Every step goes through `core::correction`; this module stores the result with its history
//! event, audit event and notices in one transaction.
//!
//! A report is seen in full by its reporter, the provider's staff and the administration
//! institution. Everyone else sees its public part only: where the error is (resource,
//! distribution, row, field), where the report stands and, once accepted, how it will be fixed.

use pubdata_core::application::ResourceRef;
use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::correction::{
    self, Action, Context, CorrectionState, DistributionRef, Effect, NewCorrection, Recipient, Rules, Target,
};
use pubdata_core::resource::ResourceState;
use pubdata_core::DomainError;
use pubdata_store::{CorrectionChange, CorrectionFilter, CorrectionRow, InteractionEventRow, NewCorrectionRow, Tx};
use serde::Serialize;
use serde_json::json;

use crate::interaction::{self, Step};
use crate::notices::Notice;
use crate::resources::Resource;
use crate::{Caller, Result, Store, StoreError};

const OBJECT: &str = "correction";
/// The most reports one page of a list shows.
pub const MAX_PAGE: i64 = 100;

fn not_found() -> StoreError {
    DomainError::NotFound { what: "correction" }.into()
}

fn parse_state(row: &CorrectionRow) -> Result<CorrectionState> {
    CorrectionState::parse(&row.state)
        .ok_or_else(|| StoreError::Other(format!("correction {}: unknown state {}", row.id, row.state)))
}

fn standing(caller: &Caller, row: &CorrectionRow) -> correction::Caller {
    correction::Caller::of(&caller.actor, row.reporter_id, row.provider_org_id)
}

/// A report as one caller may see it.
#[derive(Debug, Clone)]
pub struct CorrectionView {
    /// Only the public part unless `full`: no reporter, description, evidence or reason.
    pub row: CorrectionRow,
    pub state: CorrectionState,
    pub full: bool,
    /// Undecided past its deadline.
    pub overdue: bool,
    /// The history (only with `full`).
    pub events: Vec<InteractionEventRow>,
    pub caller: correction::Caller,
}

fn view(caller: &Caller, mut row: CorrectionRow) -> Result<CorrectionView> {
    let state = parse_state(&row)?;
    let c = standing(caller, &row);
    let full = c.sees_details();
    if !full {
        row.reporter_id = 0;
        row.reporter_name = String::new();
        row.description = String::new();
        row.evidence = None;
        row.reason = None;
    }
    let overdue = !state.is_final() && interaction::is_overdue(row.stage_due.as_deref(), interaction::today());
    Ok(CorrectionView {
        row,
        state,
        full,
        overdue,
        events: Vec::new(),
        caller: c,
    })
}

fn link(id: i64) -> String {
    format!("/corrections/{id}")
}

/// A submission's outcome: the report, and whether this call created it (`false`: it repeats
/// an earlier submission, which is returned instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub id: i64,
    pub created: bool,
}

/// The named resource as validation sees it: loaded when it is or was in the catalogue
/// (published or withdrawn); unpublished work does not exist for a reporter.
async fn load_target(store: &Store, input: &NewCorrection) -> Result<Option<(Resource, Vec<DistributionRef>)>> {
    let Some(id) = input.resource() else {
        return Ok(None);
    };
    let Some(row) = store.resource(id).await? else {
        return Ok(None);
    };
    let r = crate::resources::parse(row)?;
    if !matches!(r.status.state, ResourceState::Published | ResourceState::Withdrawn) {
        return Ok(None);
    }
    let dists = store
        .distributions(id)
        .await?
        .into_iter()
        .map(|d| DistributionRef {
            id: d.id,
            row_count: d.row_count,
        })
        .collect();
    Ok(Some((r, dists)))
}

/// 数据纠错 — anyone logged in reports an error on published data. Submitting the same report
/// again (the same idempotency key, or the same content within the configured window) returns
/// the first one and changes nothing.
pub async fn submit(
    store: &Store,
    caller: &Caller,
    input: &NewCorrection,
    rules: &Rules,
    calendar: &WorkCalendar,
) -> Result<Submitted> {
    let user_id = correction::may_submit(&caller.actor)?;
    let loaded = load_target(store, input).await?;
    let target = loaded.as_ref().map(|(r, dists)| Target {
        resource: ResourceRef {
            id: r.row.id,
            provider_org_id: r.row.provider_org_id,
            status: r.status,
            meta: &r.meta,
        },
        distributions: dists,
    });
    let c = input.validate(target)?;
    let fingerprint = c.fingerprint();
    let t = correction::submit(rules);
    let mut tx = store.begin().await?;
    tx.lock_user(user_id).await?;
    let since = pubdata_store::now_ms() - (rules.duplicate_window_secs as i64).saturating_mul(1000);
    if let Some(id) = tx
        .duplicate_correction(user_id, input.idempotency_key(), &fingerprint, since)
        .await?
    {
        return Ok(Submitted { id, created: false });
    }
    let due = t.effects.iter().find_map(|e| match e {
        Effect::StartDeadline(days) => Some(interaction::due_in(calendar, *days)),
        _ => None,
    });
    let id = tx
        .insert_correction(&NewCorrectionRow {
            reporter_id: user_id,
            resource_id: c.resource_id,
            provider_org_id: c.provider_org_id,
            distribution_id: c.distribution_id,
            row_no: c.row,
            field_name: c.field.as_deref(),
            description: &c.description,
            evidence: c.evidence.as_deref(),
            state: t.to.as_str(),
            stage_due: due.as_deref(),
            fingerprint: &fingerprint,
            idempotency_key: input.idempotency_key(),
        })
        .await?;
    let row = tx.correction_for_update(id).await?.ok_or_else(not_found)?;
    notify(store, &mut tx, &row, &t.effects, None).await?;
    let step = Step {
        object_type: OBJECT,
        object_id: id,
        action: "submit",
        from: t.to.as_str(),
        to: t.to.as_str(),
        reason: None,
        details: Some(json!({"resource_id": c.resource_id, "distribution_id": c.distribution_id})),
        due: due.as_deref(),
    };
    interaction::record(&mut tx, caller, step).await?;
    tx.commit().await?;
    Ok(Submitted { id, created: true })
}

async fn notify(
    store: &Store,
    tx: &mut Tx,
    row: &CorrectionRow,
    effects: &[Effect],
    reason: Option<&str>,
) -> Result<()> {
    for effect in effects {
        let Effect::Notify(to, kind) = effect else { continue };
        let users = match to {
            Recipient::Reporter => vec![row.reporter_id],
            Recipient::ProviderStaff => interaction::provider_staff(store, row.provider_org_id).await?,
        };
        let mut notice = Notice::new(kind.as_str())
            .param("title", row.resource_title.as_str())
            .param("id", row.id)
            .link(link(row.id));
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            notice = notice.reason(r);
        }
        interaction::notify(tx, &users, &notice).await?;
    }
    Ok(())
}

/// One report: in full (with its history) for its reporter, the provider's staff and the
/// administration institution; its public part for everyone else.
pub async fn get(store: &Store, caller: &Caller, id: i64) -> Result<CorrectionView> {
    let row = store.correction(id).await?.ok_or_else(not_found)?;
    let mut v = view(caller, row)?;
    if v.full {
        v.events = store.interaction_events(OBJECT, id).await?;
    }
    Ok(v)
}

/// The provider's handling: take up, accept with the fix (and optionally the distribution that
/// fixes it), or reject with a reason.
pub async fn act(store: &Store, caller: &Caller, id: i64, action: &Action) -> Result<()> {
    let mut tx = store.begin().await?;
    let row = tx.correction_for_update(id).await?.ok_or_else(not_found)?;
    let state = parse_state(&row)?;
    let dists: Vec<i64> = store
        .distributions(row.resource_id)
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    let ctx = Context {
        caller: standing(caller, &row),
        distributions: &dists,
    };
    let t = correction::apply(state, action, ctx)?;
    let (fix, fixed_distribution_id, reason) = match action {
        Action::Accept {
            fix,
            fixed_distribution_id,
        } => (Some(fix.trim()), *fixed_distribution_id, None),
        Action::Reject { reason } => (None, None, Some(reason.trim())),
        Action::StartReview => (None, None, None),
    };
    tx.set_correction_state(
        id,
        &CorrectionChange {
            state: t.to.as_str(),
            fix,
            fixed_distribution_id,
            reason,
            decided: t.to.is_final(),
        },
    )
    .await?;
    notify(store, &mut tx, &row, &t.effects, action.text()).await?;
    let step = Step {
        object_type: OBJECT,
        object_id: id,
        action: action.name(),
        from: state.as_str(),
        to: t.to.as_str(),
        reason: action.text(),
        details: fixed_distribution_id.map(|d| json!({"fixed_distribution_id": d})),
        due: None,
    };
    interaction::record(&mut tx, caller, step).await?;
    tx.commit().await
}

/// The caller's own reports, newest first.
pub async fn mine(store: &Store, caller: &Caller) -> Result<Vec<CorrectionView>> {
    let user_id = interaction::login_required(caller)?;
    let rows = store
        .list_corrections(&CorrectionFilter {
            reporter_id: Some(user_id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    rows.into_iter().map(|r| view(caller, r)).collect()
}

/// A report for its handlers, with its deadline.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub correction: CorrectionView,
    pub overdue_days: i64,
}

/// The reports the caller handles or oversees: provider staff those on their department's
/// resources, the administration institution all of them. `open_only` keeps the undecided ones,
/// oldest first (a queue); otherwise newest first.
pub async fn handled(
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
        CorrectionState::Submitted.as_str(),
        CorrectionState::UnderReview.as_str(),
    ];
    let states: &[&str] = if open_only { &open } else { &[] };
    let filter = |org| CorrectionFilter {
        provider_org_id: org,
        states,
        oldest_first: open_only,
        limit: 1000,
        ..Default::default()
    };
    let mut rows = Vec::new();
    if admin {
        rows.extend(store.list_corrections(&filter(None)).await?);
    } else {
        for org in orgs {
            rows.extend(store.list_corrections(&filter(Some(org))).await?);
        }
    }
    if open_only {
        rows.sort_by_key(|r| r.id);
    } else {
        rows.sort_by_key(|r| std::cmp::Reverse(r.id));
    }
    let today = interaction::today();
    rows.into_iter()
        .map(|row| {
            let overdue_days = interaction::overdue_days(row.stage_due.as_deref(), today, calendar);
            let v = view(caller, row)?;
            Ok(QueueEntry {
                overdue_days: if v.state.is_final() { 0 } else { overdue_days },
                correction: v,
            })
        })
        .collect()
}

/// What the public list of reports is asked for.
#[derive(Debug, Clone, Default)]
pub struct PublicQuery {
    pub resource_id: Option<i64>,
    /// A state key; empty for all.
    pub state: String,
    pub limit: i64,
    pub offset: i64,
}

/// Reports on the catalogue's data, newest first, each with its public part only. Returns one
/// page and the number matching.
pub async fn public_list(store: &Store, q: &PublicQuery) -> Result<(Vec<CorrectionView>, i64)> {
    let state = q.state.trim();
    let state = if state.is_empty() {
        None
    } else {
        Some(CorrectionState::parse(state).ok_or_else(|| DomainError::field("state", "correction_state"))?)
    };
    let states: Vec<&str> = state.map(|s| s.as_str()).into_iter().collect();
    let filter = CorrectionFilter {
        resource_id: q.resource_id,
        states: &states,
        limit: q.limit.clamp(1, MAX_PAGE),
        offset: q.offset.max(0),
        ..Default::default()
    };
    let total = store.count_corrections(&filter).await?;
    let anonymous = Caller::anonymous(None);
    let views = store
        .list_corrections(&filter)
        .await?
        .into_iter()
        .map(|r| view(&anonymous, r))
        .collect::<Result<_>>()?;
    Ok((views, total))
}

/// Reports on one resource by state: what the dataset page and the quality evaluation show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub submitted: i64,
    pub under_review: i64,
    /// Confirmed errors.
    pub accepted: i64,
    pub rejected: i64,
}

pub async fn counts(store: &Store, resource_id: i64) -> Result<Counts> {
    let mut c = Counts::default();
    for (state, n) in store.correction_counts(resource_id).await? {
        match CorrectionState::parse(&state) {
            Some(CorrectionState::Submitted) => c.submitted = n,
            Some(CorrectionState::UnderReview) => c.under_review = n,
            Some(CorrectionState::Accepted) => c.accepted = n,
            Some(CorrectionState::Rejected) => c.rejected = n,
            None => {}
        }
    }
    Ok(c)
}

/// Reminders before the handling deadline and escalation after it. Returns how many notices
/// went out.
pub async fn remind(store: &Store) -> Result<usize> {
    let today = interaction::today();
    let open = [
        CorrectionState::Submitted.as_str(),
        CorrectionState::UnderReview.as_str(),
    ];
    let rows = store
        .list_corrections(&CorrectionFilter {
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
        let w = interaction::Waiting {
            object_type: OBJECT,
            id: row.id,
            state: &row.state,
            due,
            title: &row.resource_title,
            assignees: interaction::provider_staff(store, row.provider_org_id).await?,
            link: link(row.id),
        };
        sent += usize::from(interaction::remind(store, w, today).await?);
    }
    Ok(sent)
}
