//! 数据准备与审核发布 — preparing resources and reviewing them for publication (§5.4.2–§5.4.3).
//! Every transition goes through `core::resource::apply`; this module stores the result with
//! its review record, audit event, notices, catalogue change and plan-item progress.

use std::sync::Arc;

use pubdata_core::calendar::{Date, WorkCalendar, RESOURCE_REVIEW_DAYS};
use pubdata_core::metadata::{resource_code, NewResourceMeta, ResourceMeta};
use pubdata_core::plan::follow_resource;
use pubdata_core::policy::Actor;
use pubdata_core::resource::{self, Action, Context, Effect, ResourceState, ReviewChecklist, RevisionState, Status};
use pubdata_core::security::SecurityRules;
use pubdata_core::user::Role;
use pubdata_core::DomainError;
use pubdata_store::{now_ms, DistributionRow, ResourceFilter, ResourceRow, ResourceStateChange, Tx};
use serde_json::json;

use crate::notices::{self, Notice};
use crate::{Caller, Result, Store, StoreError};

/// A resource with its parsed status and metadata.
#[derive(Debug, Clone)]
pub struct Resource {
    pub row: ResourceRow,
    pub status: Status,
    pub meta: ResourceMeta,
    /// The working copy of a revision of a published resource, when there is one.
    pub revision: Option<ResourceMeta>,
}

fn corrupt(what: &str, id: i64) -> StoreError {
    StoreError::Other(format!("resource {id}: stored {what} cannot be read"))
}

pub fn parse(row: ResourceRow) -> Result<Resource> {
    let state = ResourceState::parse(&row.state).ok_or_else(|| corrupt("state", row.id))?;
    let revision = RevisionState::parse(&row.revision_state).ok_or_else(|| corrupt("revision state", row.id))?;
    let meta: ResourceMeta = serde_json::from_value(row.meta.clone()).map_err(|_| corrupt("metadata", row.id))?;
    let revision_meta = match &row.revision_meta {
        Some(v) => Some(serde_json::from_value(v.clone()).map_err(|_| corrupt("revision metadata", row.id))?),
        None => None,
    };
    Ok(Resource {
        status: Status { state, revision },
        meta,
        revision: revision_meta,
        row,
    })
}

fn rcaller(actor: &Actor, org_id: i64) -> resource::Caller {
    resource::Caller::of(actor, org_id)
}

/// Staff of the owning provider, or the administration institution, may see unpublished work.
fn may_see(actor: &Actor, r: &Resource) -> bool {
    let c = rcaller(actor, r.row.provider_org_id);
    r.status.is_public()
        || actor
            .memberships
            .iter()
            .any(|m| m.org_id == Some(r.row.provider_org_id) && m.role.is_staff())
        || c.admin_reviewer
        || c.admin_manager
}

pub async fn get(store: &Store, caller: &Caller, id: i64) -> Result<Resource> {
    let row = store
        .resource(id)
        .await?
        .ok_or(DomainError::NotFound { what: "resource" })?;
    let r = parse(row)?;
    if !may_see(&caller.actor, &r) {
        // Unpublished work of other departments does not exist for the caller.
        return Err(DomainError::NotFound { what: "resource" }.into());
    }
    Ok(r)
}

/// A resource as [`get`] finds it, with the datastore table of its current data (one query, its
/// answer remembered briefly for the data API's calls: see [`Store::remembered`]).
pub async fn get_with_table(store: &Store, caller: &Caller, id: i64) -> Result<Arc<(Resource, Option<String>)>> {
    let found = store
        .remembered_found(format!("resource_with_table:{id}"), || async {
            match store.resource_with_table(id).await? {
                Some((row, table)) => Ok(Some(Arc::new((parse(row)?, table)))),
                None => Ok(None),
            }
        })
        .await?
        .ok_or(DomainError::NotFound { what: "resource" })?;
    if !may_see(&caller.actor, &found.0) {
        return Err(DomainError::NotFound { what: "resource" }.into());
    }
    Ok(found)
}

async fn for_update(tx: &mut Tx, id: i64) -> Result<Resource> {
    parse(
        tx.resource_for_update(id)
            .await?
            .ok_or(DomainError::NotFound { what: "resource" })?,
    )
}

/// The provider part of the resource code: the 9-character organisation code inside the
/// unified social credit code (characters 9–17), which is stable for the organisation.
fn provider_code(credit_code: &str) -> String {
    credit_code.get(8..17).unwrap_or(credit_code).to_string()
}

/// Creates a draft for a provider, optionally fulfilling one of its plan items, under the
/// default security rules.
pub async fn create(
    store: &Store,
    caller: &Caller,
    provider_org_id: i64,
    input: &NewResourceMeta,
    plan_item: Option<i64>,
) -> Result<i64> {
    create_with(
        store,
        caller,
        provider_org_id,
        input,
        plan_item,
        &SecurityRules::default(),
    )
    .await
}

/// [`create`] under the deployment's security rules (分级开放: which classification levels
/// unconditional data may have).
pub async fn create_with(
    store: &Store,
    caller: &Caller,
    provider_org_id: i64,
    input: &NewResourceMeta,
    plan_item: Option<i64>,
    rules: &SecurityRules,
) -> Result<i64> {
    let c = rcaller(&caller.actor, provider_org_id);
    if !(c.owner_editor || c.owner_manager) {
        return Err(DomainError::Forbidden.into());
    }
    let meta = input.validate()?;
    rules.check_open(&meta)?;
    let org = store
        .org(provider_org_id)
        .await?
        .ok_or(DomainError::NotFound { what: "organisation" })?;
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let mut tx = store.begin().await?;
    let seq = tx.next_resource_seq(org.id).await?;
    let region = org
        .region_code
        .clone()
        .unwrap_or_else(|| org.credit_code[2..8].to_string());
    let code = resource_code(&region, &provider_code(&org.credit_code), seq as u64);
    let meta_json = serde_json::to_value(&meta).map_err(|e| StoreError::Other(e.to_string()))?;
    let id = tx
        .insert_resource(
            &code,
            org.id,
            seq,
            ResourceState::Draft.as_str(),
            &meta.title,
            meta.open_type.as_str(),
            &meta_json,
            user_id,
        )
        .await?;
    if let Some(item_id) = plan_item {
        link_plan_item(&mut tx, store, org.id, item_id, id).await?;
    }
    let mut e = caller.audit("resource.create", "resource", id);
    e.after = Some(json!({"code": code, "title": meta.title, "open_type": meta.open_type}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

async fn link_plan_item(tx: &mut Tx, store: &Store, org_id: i64, item_id: i64, resource_id: i64) -> Result<()> {
    let item = tx
        .plan_item(item_id)
        .await?
        .ok_or(DomainError::NotFound { what: "plan_item" })?;
    let plan = store
        .plan(item.plan_id)
        .await?
        .ok_or(DomainError::NotFound { what: "plan_item" })?;
    if plan.provider_org_id != org_id {
        return Err(DomainError::field("plan_item", "plan_item_other_provider").into());
    }
    let current =
        pubdata_core::plan::ItemStatus::parse(&item.status).unwrap_or(pubdata_core::plan::ItemStatus::Planned);
    let next = follow_resource(current, Status::new(ResourceState::Draft));
    tx.update_plan_item(item.id, next.as_str(), Some(resource_id), item.cancel_reason.as_deref())
        .await?;
    Ok(())
}

/// Edits the metadata: the draft itself, or the revision working copy of a published resource.
pub async fn update(store: &Store, caller: &Caller, id: i64, input: &NewResourceMeta) -> Result<()> {
    update_with(store, caller, id, input, &SecurityRules::default()).await
}

/// [`update`] under the deployment's security rules.
pub async fn update_with(
    store: &Store,
    caller: &Caller,
    id: i64,
    input: &NewResourceMeta,
    rules: &SecurityRules,
) -> Result<()> {
    let meta = input.validate()?;
    let mut tx = store.begin().await?;
    let r = for_update(&mut tx, id).await?;
    let c = rcaller(&caller.actor, r.row.provider_org_id);
    if !resource::can_edit(r.status, c) {
        let visible = may_see(&caller.actor, &r);
        return Err(if visible {
            DomainError::InvalidTransition {
                from: r.status.key(),
                action: "edit".into(),
            }
        } else {
            DomainError::NotFound { what: "resource" }
        }
        .into());
    }
    rules.check_open(&meta)?;
    let meta_json = serde_json::to_value(&meta).map_err(|e| StoreError::Other(e.to_string()))?;
    if r.status.state == ResourceState::Published {
        tx.set_revision_meta(id, Some(&meta_json)).await?;
    } else {
        tx.update_resource_meta(id, &meta.title, meta.open_type.as_str(), &meta_json)
            .await?;
    }
    let mut e = caller.audit("resource.edit", "resource", id);
    e.before = Some(json!({"title": r.meta.title, "open_type": r.meta.open_type}));
    e.after = Some(json!({"title": meta.title, "open_type": meta.open_type}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the resource has current data, and whether every current file ingested successfully
/// (a failed ingest blocks submission like a running one: the file must be replaced).
fn data_state(dists: &[DistributionRow]) -> (bool, bool) {
    let current: Vec<&DistributionRow> = dists
        .iter()
        .filter(|d| !matches!(d.state.as_str(), "superseded" | "destroyed"))
        .collect();
    let finished = current.iter().all(|d| d.kind == "api" || d.state == "ready");
    (!current.is_empty(), finished)
}

/// Privacy findings of the current distributions that are neither masked nor justified.
pub fn unresolved_privacy(dists: &[DistributionRow]) -> usize {
    dists
        .iter()
        .filter(|d| d.state == "ready" && d.privacy_justification.as_deref().unwrap_or("").trim().is_empty())
        .map(|d| {
            crate::ingest::privacy_columns(d)
                .into_iter()
                .filter(|col| !crate::ingest::is_masked(d, col))
                .count()
        })
        .sum()
}

/// Submits a draft (or a revision) for review, with its deadline in working days.
pub async fn submit(store: &Store, caller: &Caller, id: i64, calendar: &WorkCalendar) -> Result<()> {
    submit_with(store, caller, id, calendar, &SecurityRules::default()).await
}

/// [`submit`] under the deployment's security rules.
pub async fn submit_with(
    store: &Store,
    caller: &Caller,
    id: i64,
    calendar: &WorkCalendar,
    rules: &SecurityRules,
) -> Result<()> {
    let dists = store.distributions(id).await?;
    let mut tx = store.begin().await?;
    let r = for_update(&mut tx, id).await?;
    let revising = r.status.state == ResourceState::Published;
    let meta = if revising {
        r.revision.clone().unwrap_or_else(|| r.meta.clone())
    } else {
        r.meta.clone()
    };
    let action = if revising {
        Action::SubmitRevision
    } else {
        Action::Submit
    };
    let ctx = Context {
        caller: rcaller(&caller.actor, r.row.provider_org_id),
        open_type: meta.open_type,
    };
    if !may_see(&caller.actor, &r) {
        return Err(DomainError::NotFound { what: "resource" }.into());
    }
    let t = resource::apply(r.status, &action, ctx)?;
    let (has_data, finished) = data_state(&dists);
    let mut problems = match resource::check_submission(&meta, has_data, finished, unresolved_privacy(&dists)) {
        Ok(()) => Vec::new(),
        Err(DomainError::Validation(errors)) => errors,
        Err(e) => return Err(e.into()),
    };
    // The classification rule: a field above the configured level is not opened unconditionally.
    match rules.check_open(&meta) {
        Ok(()) => {}
        Err(DomainError::Validation(errors)) => problems.extend(errors),
        Err(e) => return Err(e.into()),
    }
    // 数据接收标准: every failing rule is listed with the platform's own checks, at once.
    let standard = crate::acceptance::current(store).await?;
    let privacy_listed = problems.iter().any(|p| p.code == "privacy_unresolved");
    problems.extend(
        crate::acceptance::evaluate(store, &standard.rules, &r, &dists)
            .await?
            .iter()
            .filter(|x| !x.pass)
            // Unmasked personal data is already listed by the platform's own check.
            .filter(|x| !(privacy_listed && x.rule == "personal_data"))
            .map(|x| x.field_error()),
    );
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems).into());
    }
    let today = Date::from_unix_millis_cst(now_ms());
    let due = calendar.add_working_days(today, RESOURCE_REVIEW_DAYS).to_string();
    store_transition(&mut tx, &r, t.to, Some(now_ms()), Some(due.clone()), None).await?;
    follow_plan_items(&mut tx, id, t.to).await?;
    let mut e = caller.audit(action.name_for_audit(), "resource", id);
    e.after = Some(json!({"state": t.to.key(), "review_due": due, "acceptance_version": standard.version}));
    tx.audit(e).await?;
    let notice = Notice::new("resource_submitted")
        .param("title", meta.title.as_str())
        .link(format!("/review/{id}"));
    for reviewer in store.users_with_role(Role::AdminReviewer, None).await? {
        notices::send(&mut tx, reviewer, &notice).await?;
    }
    tx.commit().await?;
    Ok(())
}

trait AuditName {
    fn name_for_audit(&self) -> &'static str;
}

impl AuditName for Action {
    fn name_for_audit(&self) -> &'static str {
        match self {
            Action::Submit => "resource.submit",
            Action::Approve { .. } => "resource.approve",
            Action::Return { .. } => "resource.return",
            Action::Withdraw { .. } => "resource.withdraw",
            Action::SubmitRevision => "resource.submit_revision",
            Action::ApproveRevision { .. } => "resource.approve_revision",
            Action::ReturnRevision { .. } => "resource.return_revision",
            Action::Delete => "resource.delete",
        }
    }
}

async fn store_transition(
    tx: &mut Tx,
    r: &Resource,
    to: Status,
    submitted_at: Option<i64>,
    review_due: Option<String>,
    withdrawn_reason: Option<String>,
) -> Result<()> {
    let published_at =
        (to.state == ResourceState::Published && r.status.state != ResourceState::Published).then(now_ms);
    let change = ResourceStateChange {
        state: to.state.as_str(),
        revision_state: to.revision.as_str(),
        submitted_at: submitted_at.or(r.row.submitted_at),
        review_due: review_due.or(r.row.review_due.clone()),
        published_at,
        withdrawn_reason,
    };
    tx.set_resource_state(r.row.id, &change).await
}

async fn follow_plan_items(tx: &mut Tx, resource_id: i64, status: Status) -> Result<()> {
    for item in tx.plan_items_of_resource(resource_id).await? {
        let current =
            pubdata_core::plan::ItemStatus::parse(&item.status).unwrap_or(pubdata_core::plan::ItemStatus::Planned);
        let next = follow_resource(current, status);
        if next != current {
            tx.update_plan_item(item.id, next.as_str(), item.resource_id, item.cancel_reason.as_deref())
                .await?;
        }
    }
    Ok(())
}

/// 审核 — the reviewer's decision on a submission or a revision.
#[derive(Debug, Clone)]
pub enum Decision {
    Approve(ReviewChecklist),
    Return {
        checklist: ReviewChecklist,
        reasons: Vec<String>,
    },
}

pub async fn decide(store: &Store, caller: &Caller, id: i64, decision: Decision) -> Result<()> {
    decide_with(store, caller, id, decision, &SecurityRules::default()).await
}

/// [`decide`] under the deployment's security rules: an approval re-checks them, since the
/// rules may have changed since the submission.
pub async fn decide_with(
    store: &Store,
    caller: &Caller,
    id: i64,
    decision: Decision,
    rules: &SecurityRules,
) -> Result<()> {
    let reviewer = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let mut tx = store.begin().await?;
    let r = for_update(&mut tx, id).await?;
    let revising = r.status.revision != RevisionState::None;
    let (action, checklist, reasons) = match (&decision, revising) {
        (Decision::Approve(c), false) => (Action::Approve { checklist: c.clone() }, c, None),
        (Decision::Approve(c), true) => (Action::ApproveRevision { checklist: c.clone() }, c, None),
        (Decision::Return { checklist, reasons }, false) => (
            Action::Return {
                reasons: reasons.clone(),
            },
            checklist,
            Some(reasons.join("\n")),
        ),
        (Decision::Return { checklist, reasons }, true) => (
            Action::ReturnRevision {
                reasons: reasons.clone(),
            },
            checklist,
            Some(reasons.join("\n")),
        ),
    };
    let meta = if revising {
        r.revision.clone().unwrap_or_else(|| r.meta.clone())
    } else {
        r.meta.clone()
    };
    let ctx = Context {
        caller: rcaller(&caller.actor, r.row.provider_org_id),
        open_type: meta.open_type,
    };
    let t = resource::apply(r.status, &action, ctx)?;
    if r.row.created_by == reviewer {
        // Someone holding both roles must not approve their own work.
        return Err(DomainError::Conflict {
            code: "own_submission",
            field: None,
        }
        .into());
    }
    if matches!(decision, Decision::Approve(_)) {
        rules.check_open(&meta)?;
    }
    if revising && t.effects.contains(&Effect::Publish) {
        let meta_json = serde_json::to_value(&meta).map_err(|e| StoreError::Other(e.to_string()))?;
        tx.update_resource_meta(id, &meta.title, meta.open_type.as_str(), &meta_json)
            .await?;
        tx.set_revision_meta(id, None).await?;
    }
    store_transition(&mut tx, &r, t.to, None, None, None).await?;
    let stage = if revising { "revision_review" } else { "resource_review" };
    let verdict = if matches!(decision, Decision::Approve(_)) {
        "approved"
    } else {
        "returned"
    };
    let checklist_json = serde_json::to_value(checklist).map_err(|e| StoreError::Other(e.to_string()))?;
    tx.insert_review(
        "resource",
        id,
        stage,
        reviewer,
        verdict,
        &checklist_json,
        reasons.as_deref(),
        r.row.review_due.as_deref(),
    )
    .await?;
    if t.effects.contains(&Effect::Publish) {
        tx.catalogue_change(id, if revising { "updated" } else { "published" })
            .await?;
        // The newest ingested file becomes the data online; earlier versions stay listed.
        let dists = store.distributions(id).await?;
        if let Some(newest) = crate::ingest::current_file(&dists) {
            tx.supersede_distributions(id, newest.id).await?;
        }
    }
    follow_plan_items(&mut tx, id, t.to).await?;
    if t.effects.contains(&Effect::Publish) {
        // Demands waiting on this resource are met now, in the same transaction.
        crate::demands::fulfil_on_publish(store, &mut tx, id, &meta.title).await?;
    }
    let mut e = caller.audit(action.name_for_audit(), "resource", id);
    e.before = Some(json!({"state": r.status.key()}));
    e.after = Some(json!({"state": t.to.key(), "reasons": reasons}));
    tx.audit(e).await?;
    let kind = if verdict == "approved" {
        "resource_published"
    } else {
        "resource_returned"
    };
    let mut notice = Notice::new(kind)
        .param("title", meta.title.as_str())
        .link(format!("/provider/resources/{id}"));
    if let Some(reasons) = &reasons {
        notice = notice.reason(reasons.clone());
    }
    for user in provider_contacts(store, &r).await? {
        notices::send(&mut tx, user, &notice).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Who hears about decisions on a resource: its creator and the provider's managers.
async fn provider_contacts(store: &Store, r: &Resource) -> Result<Vec<i64>> {
    let mut users = store
        .users_with_role(Role::ProviderManager, Some(r.row.provider_org_id))
        .await?;
    users.push(r.row.created_by);
    users.sort_unstable();
    users.dedup();
    Ok(users)
}

/// 下架 — takes a published resource offline with a reason.
pub async fn withdraw(store: &Store, caller: &Caller, id: i64, reason: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    withdraw_in(store, &mut tx, caller, id, reason).await?;
    tx.commit().await?;
    Ok(())
}

/// [`withdraw`] inside the caller's transaction, for operations that record the withdrawal
/// together with something else (a security report's action). Commits nothing.
pub(crate) async fn withdraw_in(store: &Store, tx: &mut Tx, caller: &Caller, id: i64, reason: &str) -> Result<()> {
    let r = for_update(tx, id).await?;
    if !may_see(&caller.actor, &r) {
        return Err(DomainError::NotFound { what: "resource" }.into());
    }
    let action = Action::Withdraw {
        reason: reason.trim().to_string(),
    };
    let ctx = Context {
        caller: rcaller(&caller.actor, r.row.provider_org_id),
        open_type: r.meta.open_type,
    };
    let t = resource::apply(r.status, &action, ctx)?;
    tx.set_revision_meta(id, None).await?;
    store_transition(tx, &r, t.to, None, None, Some(reason.trim().to_string())).await?;
    if t.effects.contains(&Effect::Unpublish) {
        tx.catalogue_change(id, "withdrawn").await?;
    }
    follow_plan_items(tx, id, t.to).await?;
    let mut e = caller.audit("resource.withdraw", "resource", id);
    e.after = Some(json!({"state": t.to.key(), "reason": reason.trim()}));
    tx.audit(e).await?;
    let notice = Notice::new("resource_withdrawn")
        .param("title", r.meta.title.as_str())
        .reason(reason.trim())
        .link(format!("/provider/resources/{id}"));
    let mut recipients = Vec::new();
    if t.effects.contains(&Effect::NotifyProvider) {
        recipients.extend(provider_contacts(store, &r).await?);
    }
    if t.effects.contains(&Effect::NotifyAdmin) {
        recipients.extend(store.users_with_role(Role::AdminReviewer, None).await?);
    }
    for user in recipients {
        notices::send(tx, user, &notice).await?;
    }
    Ok(())
}

/// Deletes a draft that was never submitted.
pub async fn delete(store: &Store, caller: &Caller, id: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    let r = for_update(&mut tx, id).await?;
    if !may_see(&caller.actor, &r) {
        return Err(DomainError::NotFound { what: "resource" }.into());
    }
    let ctx = Context {
        caller: rcaller(&caller.actor, r.row.provider_org_id),
        open_type: r.meta.open_type,
    };
    resource::apply(r.status, &Action::Delete, ctx)?;
    tx.delete_resource(id).await?;
    let mut e = caller.audit("resource.delete", "resource", id);
    e.before = Some(json!({"code": r.row.code, "title": r.meta.title}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(())
}

/// A provider's resources (its staff and the administration institution only).
pub async fn list_for_provider(store: &Store, caller: &Caller, org_id: i64) -> Result<Vec<Resource>> {
    let c = rcaller(&caller.actor, org_id);
    let staff = caller
        .actor
        .memberships
        .iter()
        .any(|m| m.org_id == Some(org_id) && m.role.is_staff());
    if !(staff || c.admin_reviewer || c.admin_manager) {
        return Err(DomainError::Forbidden.into());
    }
    let rows = store
        .list_resources(&ResourceFilter {
            provider_org_id: Some(org_id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    rows.into_iter().map(parse).collect()
}

/// A resource in the review queue with its deadline.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub resource: Resource,
    /// Working days past the deadline (0 when not overdue).
    pub overdue_days: i64,
}

/// The reviewer's queue, oldest submission first.
pub async fn review_queue(store: &Store, caller: &Caller, calendar: &WorkCalendar) -> Result<Vec<QueueEntry>> {
    let c = rcaller(&caller.actor, 0);
    if !(c.admin_reviewer || c.admin_manager) {
        return Err(DomainError::Forbidden.into());
    }
    let rows = store
        .list_resources(&ResourceFilter {
            review_queue: true,
            limit: 500,
            ..Default::default()
        })
        .await?;
    let today = Date::from_unix_millis_cst(now_ms());
    rows.into_iter()
        .map(|row| {
            let due = row.review_due.as_deref().and_then(Date::parse);
            let overdue_days = due.map(|d| calendar.working_days_between(d, today).max(0)).unwrap_or(0);
            Ok(QueueEntry {
                resource: parse(row)?,
                overdue_days,
            })
        })
        .collect()
}

/// The public catalogue: published resources, newest first.
pub async fn catalogue(store: &Store, limit: i64, offset: i64) -> Result<Vec<Resource>> {
    let rows = store
        .list_resources(&ResourceFilter {
            state: Some(ResourceState::Published.as_str()),
            limit,
            offset,
            ..Default::default()
        })
        .await?;
    rows.into_iter().map(parse).collect()
}
