//! 数据申请、审核与授权 — steps 4–8 of the standard: consumers apply for data, the administration
//! institution pre-reviews, the provider reviews, refusals are relayed, and approved data is
//! granted. Every transition goes through `core::application::apply`; this module stores the
//! result with its history event, audit event, notices and grants in one transaction.

use pubdata_core::application::{
    self, AccessMethod, Action, ApplicationState, Context, Deadline, Effect, Grant, GrantAction, GrantState,
    NewApplication, NewScope, NoticeKind, Recipient, ResourceRef, Rules, Stage,
};
use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::user::Role;
use pubdata_core::DomainError;
use pubdata_store::{
    now_ms, ApplicationChange, ApplicationEventRow, ApplicationFilter, ApplicationItemRow, ApplicationRow,
    AttachmentRow, GrantRow, NewApplicationEvent, NewGrant, Tx,
};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::notices::{self, Notice};
use crate::resources::{self, Resource};
use crate::{Caller, Result, Store, StoreError};

/// Settings of the application process.
#[derive(Debug, Clone, Default)]
pub struct AccessSettings {
    pub rules: Rules,
    /// Usage feedback (数据应用反馈): its schedule and the policy on applying again.
    pub feedback: pubdata_core::usage_report::Rules,
}

fn today() -> Date {
    Date::from_unix_millis_cst(now_ms())
}

fn not_found() -> StoreError {
    DomainError::NotFound { what: "application" }.into()
}

/// An application with everything its pages show.
#[derive(Debug, Clone)]
pub struct ApplicationView {
    pub row: ApplicationRow,
    pub state: ApplicationState,
    pub items: Vec<ApplicationItemRow>,
    pub events: Vec<ApplicationEventRow>,
    pub attachments: Vec<AttachmentRow>,
    pub grants: Vec<GrantRow>,
    /// The form as last saved, to edit or show.
    pub form: NewApplication,
    /// How the viewer stands towards it.
    pub caller: application::Caller,
}

fn parse_state(row: &ApplicationRow) -> Result<ApplicationState> {
    ApplicationState::parse(&row.state)
        .ok_or_else(|| StoreError::Other(format!("application {}: unknown state {}", row.id, row.state)))
}

fn app_caller(caller: &Caller, row: &ApplicationRow) -> application::Caller {
    application::Caller::of(&caller.actor, row.applicant_id, Some(row.provider_org_id))
}

/// Whether the caller may see the application: its applicant, the administration institution,
/// and the provider's staff once it has been forwarded to them.
fn may_see(caller: &Caller, row: &ApplicationRow, state: ApplicationState) -> bool {
    let c = app_caller(caller, row);
    let reached_provider = matches!(
        state,
        ApplicationState::ProviderReview | ApplicationState::ProviderRejected | ApplicationState::Granted
    ) || row.provider_reason.is_some();
    let provider_staff = caller
        .actor
        .memberships
        .iter()
        .any(|m| m.org_id == Some(row.provider_org_id) && m.role.is_staff());
    c.applicant || c.admin_reviewer || c.admin_manager || (provider_staff && reached_provider && row.kind != "draft")
}

/// The form saved with an application and its items, as the applicant gave them.
fn stored_form(row: &ApplicationRow, items: &[ApplicationItemRow]) -> NewApplication {
    let mut form: NewApplication = serde_json::from_value(row.form.clone()).unwrap_or_default();
    form.resources = items
        .iter()
        .map(|i| application::NewRequest {
            resource_id: i.resource_id.to_string(),
            fields: i.fields.clone(),
        })
        .collect();
    form
}

pub async fn get(store: &Store, caller: &Caller, id: i64) -> Result<ApplicationView> {
    let row = store.application(id).await?.ok_or_else(not_found)?;
    let state = parse_state(&row)?;
    if !may_see(caller, &row, state) {
        // Someone else's application does not exist for the caller.
        return Err(not_found());
    }
    let items = store.application_items(id).await?;
    let standing = app_caller(caller, &row);
    let staff =
        standing.admin_reviewer || standing.admin_manager || standing.provider_reviewer || standing.provider_manager;
    let mut events = store.application_events(id).await?;
    if !staff {
        // A provider's refusal reaches the applicant only as the administration institution
        // relays it; the provider's own words stay on record for staff.
        for e in &mut events {
            if e.action == "provider_reject" {
                e.reason = None;
            }
            e.original_reason = None;
        }
    }
    let mut row = row;
    if !staff {
        row.provider_reason = None;
    }
    Ok(ApplicationView {
        form: stored_form(&row, &items),
        caller: standing,
        events,
        attachments: store.attachments(id).await?,
        grants: store.application_grants(id).await?,
        items,
        state,
        row,
    })
}

/// The published resources an application names, in its order; unknown ids are reported.
async fn load_resources(store: &Store, ids: &[i64]) -> Result<Vec<Resource>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = store.resource(*id).await?.ok_or_else(|| {
            StoreError::from(DomainError::Validation(vec![pubdata_core::FieldError::new(
                "resources",
                "not_found",
            )
            .with("id", id)]))
        })?;
        out.push(resources::parse(row)?);
    }
    Ok(out)
}

fn refs(resources: &[Resource]) -> Vec<ResourceRef<'_>> {
    resources
        .iter()
        .map(|r| ResourceRef {
            id: r.row.id,
            provider_org_id: r.row.provider_org_id,
            status: r.status,
            meta: &r.meta,
        })
        .collect()
}

/// The consumer's organisation, when they apply as a legal person (法人).
fn applicant_org(caller: &Caller) -> Option<i64> {
    caller
        .actor
        .memberships
        .iter()
        .find(|m| m.role == Role::Consumer)
        .and_then(|m| m.org_id)
}

/// The form's own fields (the resources are stored as items).
fn form_json(input: &NewApplication) -> serde_json::Value {
    let mut form = input.clone();
    form.resources.clear();
    serde_json::to_value(form).unwrap_or_default()
}

fn items_of(input: &NewApplication) -> Vec<(i64, Vec<String>)> {
    input
        .resources
        .iter()
        .filter_map(|r| r.resource_id.trim().parse().ok().map(|id| (id, r.fields.clone())))
        .collect()
}

/// Saves an application as a draft (new when `id` is `None`): only light checks, so a half-filled
/// form is kept. Returns its id.
pub async fn save_draft(store: &Store, caller: &Caller, id: Option<i64>, input: &NewApplication) -> Result<i64> {
    application::may_apply(&caller.actor)?;
    input.check_draft()?;
    let resources = load_resources(store, &input.resource_ids()).await?;
    let provider = resources
        .first()
        .map(|r| r.row.provider_org_id)
        .ok_or_else(|| StoreError::from(DomainError::field("resources", "required")))?;
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let mut tx = store.begin().await?;
    let id = match id {
        None => {
            let id = tx
                .insert_application(
                    user_id,
                    applicant_org(caller),
                    provider,
                    "conditional",
                    ApplicationState::Draft.as_str(),
                    &form_json(input),
                )
                .await?;
            event(
                &mut tx,
                caller,
                id,
                "create",
                ApplicationState::Draft,
                ApplicationState::Draft,
                None,
                None,
            )
            .await?;
            id
        }
        Some(id) => {
            let row = tx.application_for_update(id).await?.ok_or_else(not_found)?;
            let state = parse_state(&row)?;
            if !may_see(caller, &row, state) {
                return Err(not_found());
            }
            if !application::can_edit(state, app_caller(caller, &row)) {
                return Err(DomainError::InvalidTransition {
                    from: state.as_str().into(),
                    action: "edit".into(),
                }
                .into());
            }
            tx.update_application_form(id, provider, &form_json(input)).await?;
            id
        }
    };
    tx.set_application_items(id, &items_of(input)).await?;
    let mut e = caller.audit("application.save", "application", id);
    e.after = Some(json!({"resources": input.resource_ids()}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn event(
    tx: &mut Tx,
    caller: &Caller,
    id: i64,
    action: &str,
    from: ApplicationState,
    to: ApplicationState,
    reason: Option<&str>,
    due: Option<&str>,
) -> Result<i64> {
    tx.insert_application_event(&NewApplicationEvent {
        application_id: id,
        action,
        actor_id: caller.actor.user_id,
        actor: &caller.label,
        from_state: from.as_str(),
        to_state: to.as_str(),
        reason,
        due,
        ..Default::default()
    })
    .await
}

/// The application (locked) and the caller's standing, or "not found" for outsiders.
async fn for_update(tx: &mut Tx, caller: &Caller, id: i64) -> Result<(ApplicationRow, ApplicationState)> {
    let row = tx.application_for_update(id).await?.ok_or_else(not_found)?;
    let state = parse_state(&row)?;
    if !may_see(caller, &row, state) {
        return Err(not_found());
    }
    Ok((row, state))
}

/// Who a notice goes to.
async fn recipients(store: &Store, row: &ApplicationRow, to: Recipient) -> Result<Vec<i64>> {
    Ok(match to {
        Recipient::Applicant => vec![row.applicant_id],
        Recipient::Admins => {
            let mut ids = store.users_with_role(Role::AdminReviewer, None).await?;
            ids.extend(store.users_with_role(Role::AdminManager, None).await?);
            ids.sort_unstable();
            ids.dedup();
            ids
        }
        Recipient::ProviderReviewers => {
            let org = Some(row.provider_org_id);
            let mut ids = store.users_with_role(Role::ProviderReviewer, org).await?;
            ids.extend(store.users_with_role(Role::ProviderManager, org).await?);
            ids.sort_unstable();
            ids.dedup();
            ids
        }
    })
}

/// The link each kind of recipient follows to the application.
fn link_for(to: Recipient, id: i64) -> String {
    match to {
        Recipient::Applicant => format!("/my/applications/{id}"),
        Recipient::Admins => format!("/applications/{id}"),
        Recipient::ProviderReviewers => format!("/applications/{id}"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn carry_out(
    store: &Store,
    tx: &mut Tx,
    row: &ApplicationRow,
    effects: &[Effect],
    reason: Option<&str>,
    title: &str,
    calendar: &WorkCalendar,
    rules: &Rules,
) -> Result<(Option<String>, Vec<i64>)> {
    let mut due = None;
    let mut grants = Vec::new();
    for effect in effects {
        match effect {
            Effect::Notify(to, kind) => {
                let mut notice = Notice::new(kind.as_str())
                    .param("title", title)
                    .param("id", row.id)
                    .link(link_for(*to, row.id));
                if let Some(r) = reason.filter(|r| !r.trim().is_empty()) {
                    notice = notice.reason(r);
                }
                for user in recipients(store, row, *to).await? {
                    notices::send(tx, user, &notice).await?;
                }
            }
            Effect::StartDeadline(stage, _) => {
                due = Some(Deadline::start(*stage, today(), rules, calendar).due.to_string());
            }
            Effect::StopDeadline(_) => {}
            Effect::CreateGrants(list) => {
                for g in list {
                    grants.push(insert_grant(tx, row.id, row.applicant_id, g).await?);
                }
            }
        }
    }
    Ok((due, grants))
}

async fn insert_grant(tx: &mut Tx, application_id: i64, consumer_id: i64, g: &Grant) -> Result<i64> {
    let fields = g.fields.clone().unwrap_or_default();
    let methods: Vec<String> = g.methods.keys().iter().map(|s| s.to_string()).collect();
    let filters = (!g.filters.is_empty()).then(|| json!(g.filters));
    tx.insert_grant(&NewGrant {
        application_id,
        resource_id: g.resource_id,
        consumer_id,
        fields: &fields,
        valid_from: &g.valid_from.to_string(),
        valid_to: &g.valid_to.map(|d| d.to_string()).unwrap_or_default(),
        methods: &methods,
        row_filter: filters.as_ref(),
    })
    .await
}

/// Runs one action on an application: the rule, the new state, its event, audit and effects.
#[allow(clippy::too_many_arguments)]
async fn transition(
    store: &Store,
    caller: &Caller,
    id: i64,
    action: Action,
    settings: &AccessSettings,
    calendar: &WorkCalendar,
    prepare: impl FnOnce(&ApplicationRow, &[ApplicationItemRow], &[Resource]) -> Result<Option<Action>>,
) -> Result<Vec<i64>> {
    let items = store.application_items(id).await?;
    let ids: Vec<i64> = items.iter().map(|i| i.resource_id).collect();
    let resources = load_resources(store, &ids).await?;
    let mut tx = store.begin().await?;
    let (row, state) = for_update(&mut tx, caller, id).await?;
    // Submit, answer and approve check the content against the resources first.
    let action = prepare(&row, &items, &resources)?.unwrap_or(action);
    let ctx = Context {
        caller: if caller.label.starts_with("system:") {
            application::Caller::system()
        } else {
            app_caller(caller, &row)
        },
        rules: settings.rules,
    };
    let t = application::apply(state, &action, ctx)?;
    let (reason, provider_reason, wording): (Option<String>, Option<String>, Option<String>) = match &action {
        Action::Reject { reason } => (Some(reason.trim().into()), None, None),
        Action::ProviderReject { reason } => (None, Some(reason.trim().into()), None),
        Action::Relay { wording } => {
            let original = row.provider_reason.clone().unwrap_or_default();
            let said = if wording.trim().is_empty() {
                original
            } else {
                wording.trim().to_string()
            };
            (Some(said), None, Some(wording.trim().to_string()))
        }
        Action::AutoRelay => (row.provider_reason.clone(), None, None),
        _ => (None, None, None),
    };
    let info_request = match &action {
        Action::RequestInfo { missing } => Some(Some(missing.trim().to_string())),
        Action::Answer { .. } => Some(None),
        _ => None,
    };
    let note: Option<String> = match &action {
        Action::RequestInfo { missing } => Some(missing.trim().into()),
        Action::Answer { reply } => Some(reply.trim().into()),
        Action::Forward { note } => Some(note.trim().into()).filter(|n: &String| !n.is_empty()),
        _ => None,
    };
    let title = items.first().map(|i| i.resource_title.clone()).unwrap_or_default();
    let said = reason.as_deref().or(provider_reason.as_deref()).or(note.as_deref());
    let (due, grants) = carry_out(
        store,
        &mut tx,
        &row,
        &t.effects,
        said,
        &title,
        calendar,
        &settings.rules,
    )
    .await?;
    let scope = match &action {
        Action::Approve { scope } => Some(json!(scope)),
        _ => None,
    };
    let final_state = t.to.is_final();
    tx.set_application_state(
        id,
        &ApplicationChange {
            state: t.to.as_str(),
            stage_due: Some(if final_state { None } else { due.as_deref() }),
            info_request: info_request.as_ref().map(|o| o.as_deref()),
            provider_reason: provider_reason.as_deref(),
            reason: reason.as_deref(),
            scope: scope.as_ref(),
            submitted: matches!(action, Action::Submit),
            decided: final_state,
        },
    )
    .await?;
    tx.insert_application_event(&NewApplicationEvent {
        application_id: id,
        action: action.name(),
        actor_id: caller.actor.user_id,
        actor: &caller.label,
        from_state: state.as_str(),
        to_state: t.to.as_str(),
        reason: said,
        original_reason: wording
            .as_ref()
            .filter(|w| !w.is_empty())
            .and(row.provider_reason.as_deref()),
        details: scope.clone(),
        due: due.as_deref(),
    })
    .await?;
    let mut e = caller.audit(audit_name(&action), "application", id);
    e.before = Some(json!({"state": state.as_str()}));
    e.after = Some(json!({"state": t.to.as_str(), "grants": grants, "due": due}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(grants)
}

fn audit_name(action: &Action) -> &'static str {
    match action {
        Action::Submit => "application.submit",
        Action::Withdraw => "application.withdraw",
        Action::RequestInfo { .. } => "application.request_info",
        Action::Answer { .. } => "application.answer",
        Action::Reject { .. } => "application.reject",
        Action::Forward { .. } => "application.forward",
        Action::Approve { .. } => "application.approve",
        Action::ProviderReject { .. } => "application.provider_reject",
        Action::Relay { .. } => "application.relay",
        Action::AutoRelay => "application.auto_relay",
    }
}

/// The saved application checked against its resources, as at submission.
fn validated(
    row: &ApplicationRow,
    items: &[ApplicationItemRow],
    resources: &[Resource],
    rules: &Rules,
) -> Result<application::Application> {
    Ok(stored_form(row, items).validate(&refs(resources), today(), rules)?)
}

/// What a submission has to tell the applicant besides its success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubmitOutcome {
    /// The applicant's usage feedback is overdue beyond the limit (policy `warn`).
    pub feedback_overdue: bool,
}

/// 提交 — checks the whole application against the resources and sends it to pre-review. An
/// applicant whose usage feedback is overdue beyond the limit is warned, or refused
/// (`feedback_overdue`) under the `block` policy with nothing changed.
pub async fn submit(
    store: &Store,
    caller: &Caller,
    id: i64,
    settings: &AccessSettings,
    calendar: &WorkCalendar,
) -> Result<SubmitOutcome> {
    let rules = settings.rules;
    let own = store
        .application(id)
        .await?
        .is_some_and(|a| Some(a.applicant_id) == caller.actor.user_id);
    let feedback_overdue = own && crate::feedback::on_applying(store, caller, &settings.feedback).await?;
    transition(
        store,
        caller,
        id,
        Action::Submit,
        settings,
        calendar,
        |row, items, resources| {
            // Only the applicant's own application is checked (others get the rule's refusal).
            if app_caller(caller, row).applicant {
                validated(row, items, resources, &rules)?;
            }
            Ok(None)
        },
    )
    .await
    .map(|_| SubmitOutcome { feedback_overdue })
}

/// 补充材料 — the applicant answers a request for more information, with the application as
/// edited since (saved with [`save_draft`]); it goes back to pre-review.
pub async fn answer(
    store: &Store,
    caller: &Caller,
    id: i64,
    reply: &str,
    settings: &AccessSettings,
    calendar: &WorkCalendar,
) -> Result<()> {
    let rules = settings.rules;
    let action = Action::Answer {
        reply: reply.to_string(),
    };
    transition(
        store,
        caller,
        id,
        action,
        settings,
        calendar,
        |row, items, resources| {
            if app_caller(caller, row).applicant {
                validated(row, items, resources, &rules)?;
            }
            Ok(None)
        },
    )
    .await
    .map(|_| ())
}

/// A decision or step that needs no more than its text: withdraw, request information, reject,
/// forward, provider refusal, relay.
pub async fn act(
    store: &Store,
    caller: &Caller,
    id: i64,
    action: Action,
    settings: &AccessSettings,
    calendar: &WorkCalendar,
) -> Result<()> {
    if matches!(action, Action::Submit | Action::Answer { .. } | Action::Approve { .. }) {
        return Err(DomainError::field("action", "decision").into());
    }
    transition(store, caller, id, action, settings, calendar, |_, _, _| Ok(None))
        .await
        .map(|_| ())
}

/// 审核通过 — the provider approves with a scope; one grant per granted resource. Returns the
/// grants' ids.
pub async fn approve(
    store: &Store,
    caller: &Caller,
    id: i64,
    scope: &NewScope,
    settings: &AccessSettings,
    calendar: &WorkCalendar,
) -> Result<Vec<i64>> {
    let rules = settings.rules;
    // The role comes first: an outsider's scope is not worth checking.
    let placeholder = Action::ProviderReject { reason: String::new() };
    transition(
        store,
        caller,
        id,
        placeholder,
        settings,
        calendar,
        |row, items, resources| {
            let c = app_caller(caller, row);
            if !(c.provider_reviewer || c.provider_manager) || c.applicant {
                return Err(DomainError::Forbidden.into());
            }
            let app = validated(row, items, resources, &rules)?;
            let scope = scope.validate(&app, &refs(resources), today())?;
            Ok(Some(Action::Approve { scope }))
        },
    )
    .await
}

/// The system relays refusals the administration institution has not relayed in time, when
/// automatic relay is configured. Returns how many it relayed.
pub async fn auto_relay_due(store: &Store, settings: &AccessSettings, calendar: &WorkCalendar) -> Result<usize> {
    if settings.rules.auto_relay_after_days.is_none() {
        return Ok(0);
    }
    let states = [ApplicationState::ProviderRejected.as_str()];
    let waiting = store
        .list_applications(&ApplicationFilter {
            states: &states,
            limit: 500,
            ..Default::default()
        })
        .await?;
    let system = system_caller("relay");
    let mut n = 0;
    for row in waiting {
        let started = row
            .stage_started_at
            .map(Date::from_unix_millis_cst)
            .unwrap_or_else(today);
        if settings.rules.auto_relay_due(started, today(), calendar) {
            transition(
                store,
                &system,
                row.id,
                Action::AutoRelay,
                settings,
                calendar,
                |_, _, _| Ok(None),
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

/// The platform's background jobs as a caller.
fn system_caller(job: &str) -> Caller {
    Caller {
        actor: pubdata_core::policy::Actor::anonymous(),
        label: format!("system:{job}"),
        ip: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Grants (授权) and unconditional data.

/// 无条件开放 — a logged-in consumer accepts the usage terms of an unconditional resource and is
/// granted it at once (or keeps the grant they already have). Returns the grant's id.
pub async fn accept_terms(store: &Store, caller: &Caller, resource_id: i64, accepted: bool) -> Result<i64> {
    let resource = load_resources(store, &[resource_id]).await?.remove(0);
    let r = refs(std::slice::from_ref(&resource))[0];
    let t = application::accept_terms(&caller.actor, &r, accepted, today())?;
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    if let Some(g) = usable_grant(store, user_id, resource_id).await? {
        return Ok(g.id);
    }
    let mut tx = store.begin().await?;
    let form = json!({"terms_accepted_at": now_ms()});
    let id = tx
        .insert_application(
            user_id,
            applicant_org(caller),
            resource.row.provider_org_id,
            "unconditional",
            t.to.as_str(),
            &form,
        )
        .await?;
    tx.set_application_items(id, &[(resource_id, Vec::new())]).await?;
    let mut grant_id = 0;
    for effect in &t.effects {
        if let Effect::CreateGrants(list) = effect {
            for g in list {
                grant_id = insert_grant(&mut tx, id, user_id, g).await?;
            }
        }
    }
    event(
        &mut tx,
        caller,
        id,
        "accept_terms",
        ApplicationState::Draft,
        t.to,
        None,
        None,
    )
    .await?;
    let mut e = caller.audit("grant.accept_terms", "grant", grant_id);
    e.after = Some(json!({"resource_id": resource_id, "application_id": id}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(grant_id)
}

/// The grant as the core rules see it. A stored row filter that cannot be read fails closed:
/// the grant counts as revoked rather than releasing every row.
pub fn grant_of(row: &GrantRow) -> Grant {
    let filters = match row.row_filter.clone().map(serde_json::from_value) {
        None => Some(Vec::new()),
        Some(parsed) => parsed.ok(),
    };
    let state = match filters {
        Some(_) => GrantState::parse(&row.state).unwrap_or(GrantState::Revoked),
        None => GrantState::Revoked,
    };
    Grant {
        resource_id: row.resource_id,
        fields: (!row.fields.is_empty()).then(|| row.fields.clone()),
        filters: filters.unwrap_or_default(),
        methods: application::AccessMethods {
            download: row.methods.iter().any(|m| m == "download"),
            api: row.methods.iter().any(|m| m == "api"),
        },
        valid_from: Date::parse(&row.valid_from).unwrap_or(Date::MIN),
        valid_to: Date::parse(&row.valid_to),
        state,
    }
}

#[cfg(test)]
mod grant_of_tests {
    use super::*;

    fn row(filter: Option<serde_json::Value>) -> GrantRow {
        GrantRow {
            id: 1,
            application_id: 1,
            resource_id: 1,
            resource_code: "r".into(),
            resource_title: "r".into(),
            provider_org_id: 1,
            consumer_id: 1,
            consumer_name: "c".into(),
            fields: Vec::new(),
            valid_from: "2026-01-01".into(),
            valid_to: "2099-12-31".into(),
            methods: vec!["api".into()],
            row_filter: filter,
            state: "active".into(),
            revoke_reason: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn an_unreadable_row_filter_fails_closed() {
        let ok = grant_of(&row(Some(json!([{"field": "code", "op": "prefix", "value": "11"}]))));
        assert_eq!(ok.filters.len(), 1);
        assert_eq!(ok.state, grant_of(&row(None)).state);
        assert_ne!(ok.state, GrantState::Revoked);
        let bad = grant_of(&row(Some(json!([{"field": "code", "op": "like", "value": "%"}]))));
        assert_eq!(bad.state, GrantState::Revoked);
        assert!(!bad.is_usable(Date::parse("2026-06-01").unwrap()));
    }
}

/// The consumer's grant for a resource that is usable today, if any.
pub async fn usable_grant(store: &Store, user_id: i64, resource_id: i64) -> Result<Option<GrantRow>> {
    let today = today();
    Ok(store
        .list_grants(Some(user_id), Some(resource_id))
        .await?
        .into_iter()
        .find(|g| grant_of(g).is_usable(today)))
}

/// The grant that lets the caller obtain a resource's data by `method`, or why not: anonymous
/// callers must log in; others need a usable grant that allows the method.
pub async fn grant_for(store: &Store, caller: &Caller, resource_id: i64, method: AccessMethod) -> Result<GrantRow> {
    let user_id = caller.actor.user_id.ok_or(DomainError::Unauthenticated {
        reason: "login_required",
    })?;
    let today = today();
    let grants = store
        .remembered(format!("grants:{user_id}:{resource_id}"), || async {
            Ok(std::sync::Arc::new(
                store.list_grants(Some(user_id), Some(resource_id)).await?,
            ))
        })
        .await?;
    grants
        .iter()
        .find(|g| {
            let grant = grant_of(g);
            grant.is_usable(today) && grant.allows(method)
        })
        .cloned()
        .ok_or_else(|| {
            DomainError::Conflict {
                code: "grant_required",
                field: None,
            }
            .into()
        })
}

/// 撤销授权 — by the administration institution or the resource's provider, with a reason the
/// holder reads; access stops at once (AppKeys included).
pub async fn revoke_grant(store: &Store, caller: &Caller, grant_id: i64, reason: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    revoke_grant_in(store, &mut tx, caller, grant_id, reason).await?;
    tx.commit().await
}

/// [`revoke_grant`] inside the caller's transaction, for operations that record the revocation
/// together with something else (a security report's action). Commits nothing.
pub(crate) async fn revoke_grant_in(
    store: &Store,
    tx: &mut Tx,
    caller: &Caller,
    grant_id: i64,
    reason: &str,
) -> Result<()> {
    let row = tx
        .grant_for_update(grant_id)
        .await?
        .ok_or(DomainError::NotFound { what: "grant" })?;
    let resource = store
        .resource(row.resource_id)
        .await?
        .ok_or(DomainError::NotFound { what: "grant" })?;
    let c = application::Caller::of(&caller.actor, row.consumer_id, Some(resource.provider_org_id));
    let may_see = c.applicant || c.admin_reviewer || c.admin_manager || c.provider_reviewer || c.provider_manager;
    if !may_see {
        return Err(DomainError::NotFound { what: "grant" }.into());
    }
    let action = GrantAction::Revoke {
        reason: reason.to_string(),
    };
    let t = application::apply_grant(&grant_of(&row), &action, c, today())?;
    tx.set_grant_state(grant_id, t.to.as_str(), Some(reason.trim())).await?;
    tx.revoke_app_keys(grant_id).await?;
    grant_notices(
        store,
        tx,
        &row,
        resource.provider_org_id,
        &t.effects,
        Some(reason.trim()),
    )
    .await?;
    let mut e = caller.audit("grant.revoke", "grant", grant_id);
    e.after = Some(json!({"state": t.to.as_str(), "reason": reason.trim()}));
    tx.audit(e).await?;
    Ok(())
}

async fn grant_notices(
    store: &Store,
    tx: &mut Tx,
    row: &GrantRow,
    provider_org_id: i64,
    effects: &[Effect],
    reason: Option<&str>,
) -> Result<()> {
    for effect in effects {
        let Effect::Notify(to, kind) = effect else { continue };
        let users = match to {
            Recipient::Applicant => vec![row.consumer_id],
            Recipient::Admins => store.users_with_role(Role::AdminManager, None).await?,
            Recipient::ProviderReviewers => {
                store
                    .users_with_role(Role::ProviderManager, Some(provider_org_id))
                    .await?
            }
        };
        let mut notice = Notice::new(kind.as_str())
            .param("title", row.resource_title.as_str())
            .param("id", row.id)
            .link(match to {
                Recipient::Applicant => "/my".to_string(),
                _ => format!("/applications/{}", row.application_id),
            });
        if let Some(r) = reason {
            notice = notice.reason(r);
        }
        for u in users {
            notices::send(tx, u, &notice).await?;
        }
    }
    Ok(())
}

/// Expires the grants whose last valid day has passed, telling their holders. Returns how many.
pub async fn expire_grants(store: &Store) -> Result<usize> {
    let today = today();
    let past = store.grants_past(&today.to_string(), 500).await?;
    let system = system_caller("expiry");
    for row in &past {
        let mut tx = store.begin().await?;
        let Some(current) = tx.grant_for_update(row.id).await? else {
            continue;
        };
        let t = match application::apply_grant(
            &grant_of(&current),
            &GrantAction::Expire,
            application::Caller::system(),
            today,
        ) {
            Ok(t) => t,
            // Revoked or changed meanwhile: nothing to do.
            Err(_) => continue,
        };
        tx.set_grant_state(row.id, t.to.as_str(), None).await?;
        tx.revoke_app_keys(row.id).await?;
        let provider = store
            .resource(row.resource_id)
            .await?
            .map(|r| r.provider_org_id)
            .unwrap_or(0);
        grant_notices(store, &mut tx, &current, provider, &t.effects, None).await?;
        tx.audit(system.audit("grant.expire", "grant", row.id)).await?;
        tx.commit().await?;
    }
    Ok(past.len())
}

// ---------------------------------------------------------------------------------------------
// AppKeys: the data API's credentials for a grant with API access.

/// Issues a new AppKey for the caller's grant (earlier keys stop working). The key is returned
/// once; only its hash is kept.
pub async fn rotate_app_key(store: &Store, caller: &Caller, grant_id: i64) -> Result<String> {
    let mut tx = store.begin().await?;
    let row = tx
        .grant_for_update(grant_id)
        .await?
        .ok_or(DomainError::NotFound { what: "grant" })?;
    if caller.actor.user_id != Some(row.consumer_id) {
        return Err(DomainError::NotFound { what: "grant" }.into());
    }
    let grant = grant_of(&row);
    if !grant.is_usable(today()) {
        return Err(DomainError::InvalidTransition {
            from: row.state.clone(),
            action: "rotate_key".into(),
        }
        .into());
    }
    if !grant.allows(AccessMethod::Api) {
        return Err(DomainError::Conflict {
            code: "api_not_granted",
            field: None,
        }
        .into());
    }
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = format!("pak_{}", hex::encode(bytes));
    let prefix: String = key.chars().take(12).collect();
    tx.replace_app_key(grant_id, &prefix, &key_hash(&key)).await?;
    tx.audit(caller.audit("grant.rotate_key", "grant", grant_id)).await?;
    tx.commit().await?;
    Ok(key)
}

pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The usable grant an AppKey stands for, or why not.
pub async fn grant_for_key(store: &Store, key: &str) -> Result<GrantRow> {
    let unauthenticated = || {
        StoreError::from(DomainError::Unauthenticated {
            reason: "app_key_invalid",
        })
    };
    if !key.starts_with("pak_") || key.len() > 100 {
        return Err(unauthenticated());
    }
    // Remembered briefly (see [`Store::remembered`]): revoking the key or the grant here is
    // seen at once, on another node within `HOT_TTL`.
    let hash = key_hash(key);
    let row = store
        .remembered_found(format!("app_key:{hash}"), || store.grant_by_app_key(&hash))
        .await?
        .ok_or_else(unauthenticated)?;
    if !grant_of(&row).is_usable(today()) {
        return Err(DomainError::Unauthenticated {
            reason: "app_key_expired",
        }
        .into());
    }
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Lists.

/// The caller's own applications, newest first.
pub async fn mine(store: &Store, caller: &Caller) -> Result<Vec<ApplicationRow>> {
    let user_id = caller.actor.user_id.ok_or(DomainError::Unauthenticated {
        reason: "login_required",
    })?;
    store
        .list_applications(&ApplicationFilter {
            applicant_id: Some(user_id),
            limit: 200,
            ..Default::default()
        })
        .await
}

/// The caller's grants, newest first.
pub async fn my_grants(store: &Store, caller: &Caller) -> Result<Vec<GrantRow>> {
    let user_id = caller.actor.user_id.ok_or(DomainError::Unauthenticated {
        reason: "login_required",
    })?;
    store.list_grants(Some(user_id), None).await
}

/// An entry of a review queue with its deadline.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueEntry {
    pub row: ApplicationRow,
    pub stage: Option<&'static str>,
    pub overdue: bool,
    pub overdue_days: i64,
}

/// What waits on the caller: for the administration institution, pre-review and relay; for a
/// provider's reviewers, its applications in provider review. Oldest first.
pub async fn queue(store: &Store, caller: &Caller, calendar: &WorkCalendar) -> Result<Vec<QueueEntry>> {
    let admin = caller.actor.has_role(Role::AdminReviewer) || caller.actor.has_role(Role::AdminManager);
    let mut rows = Vec::new();
    if admin {
        let states = [
            ApplicationState::PreReview.as_str(),
            ApplicationState::ProviderRejected.as_str(),
        ];
        rows.extend(
            store
                .list_applications(&ApplicationFilter {
                    states: &states,
                    limit: 500,
                    ..Default::default()
                })
                .await?,
        );
    }
    let provider_orgs: Vec<i64> = caller
        .actor
        .memberships
        .iter()
        .filter(|m| matches!(m.role, Role::ProviderReviewer | Role::ProviderManager))
        .filter_map(|m| m.org_id)
        .collect();
    let states = [ApplicationState::ProviderReview.as_str()];
    for org in provider_orgs {
        rows.extend(
            store
                .list_applications(&ApplicationFilter {
                    provider_org_id: Some(org),
                    states: &states,
                    limit: 500,
                    ..Default::default()
                })
                .await?,
        );
    }
    if !admin && rows.is_empty() && !caller.actor.memberships.iter().any(|m| m.role.is_staff()) {
        return Err(DomainError::Forbidden.into());
    }
    let today = today();
    Ok(rows
        .into_iter()
        .map(|row| {
            let due = row.stage_due.as_deref().and_then(Date::parse);
            let overdue = due.is_some_and(|d| today > d);
            let overdue_days = match (overdue, due) {
                (true, Some(d)) => calendar.working_days_between(d, today),
                _ => 0,
            };
            let stage = ApplicationState::parse(&row.state)
                .and_then(|s| s.stage())
                .map(Stage::as_str);
            QueueEntry {
                row,
                stage,
                overdue,
                overdue_days,
            }
        })
        .collect())
}

/// Shorthand so callers need not name the notice kinds' type.
pub fn notice_kinds() -> [NoticeKind; 11] {
    [
        NoticeKind::Submitted,
        NoticeKind::InfoRequested,
        NoticeKind::InfoProvided,
        NoticeKind::Forwarded,
        NoticeKind::Granted,
        NoticeKind::Rejected,
        NoticeKind::ProviderRejected,
        NoticeKind::AutoRelayed,
        NoticeKind::Withdrawn,
        NoticeKind::GrantRevoked,
        NoticeKind::GrantExpired,
    ]
}

/// Reminders and escalation: the day before a stage's deadline its reviewers are reminded, and
/// once it has passed the administration institution's managers are told it is overdue. Each
/// is sent once per stage (recorded in the application's history). Returns how many were sent.
pub async fn remind(store: &Store) -> Result<usize> {
    let today = today();
    let states = [
        ApplicationState::PreReview.as_str(),
        ApplicationState::ProviderReview.as_str(),
        ApplicationState::ProviderRejected.as_str(),
    ];
    let waiting = store
        .list_applications(&ApplicationFilter {
            states: &states,
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let system = system_caller("reminder");
    let mut sent = 0;
    for row in waiting {
        let Some(due) = row.stage_due.as_deref().and_then(Date::parse) else {
            continue;
        };
        let state = parse_state(&row)?;
        let (action, kind, to) = if today > due {
            ("overdue", "application_overdue", Recipient::Admins)
        } else if today.add_days(1) >= due {
            let to = if state == ApplicationState::ProviderReview {
                Recipient::ProviderReviewers
            } else {
                Recipient::Admins
            };
            ("reminder", "application_due_soon", to)
        } else {
            continue;
        };
        // Once per stage: a reminder or flag after the stage began is not repeated.
        let events = store.application_events(row.id).await?;
        let stage_began = events
            .iter()
            .rev()
            .find(|e| e.to_state == row.state && e.from_state != row.state);
        let already = events
            .iter()
            .any(|e| e.action == action && stage_began.is_none_or(|b| e.id > b.id));
        if already {
            continue;
        }
        let users = match (action, to) {
            // Escalation goes to the managers, who can reassign the work.
            ("overdue", _) => store.users_with_role(Role::AdminManager, None).await?,
            (_, to) => recipients(store, &row, to).await?,
        };
        let mut tx = store.begin().await?;
        let title = store
            .application_items(row.id)
            .await?
            .first()
            .map(|i| i.resource_title.clone())
            .unwrap_or_default();
        let notice = Notice::new(kind)
            .param("title", title.as_str())
            .param("id", row.id)
            .param("due", due.to_string())
            .link(format!("/applications/{}", row.id));
        for u in users {
            notices::send(&mut tx, u, &notice).await?;
        }
        tx.insert_application_event(&NewApplicationEvent {
            application_id: row.id,
            action,
            actor_id: None,
            actor: &system.label,
            from_state: state.as_str(),
            to_state: state.as_str(),
            due: Some(&due.to_string()),
            ..Default::default()
        })
        .await?;
        tx.audit(system.audit(
            if action == "overdue" {
                "application.overdue"
            } else {
                "application.reminder"
            },
            "application",
            row.id,
        ))
        .await?;
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}

/// The periodic work of the application process: expiry, automatic relay, reminders.
pub async fn housekeeping(store: &Store, settings: &AccessSettings, calendar: &WorkCalendar) -> Result<()> {
    expire_grants(store).await?;
    auto_relay_due(store, settings, calendar).await?;
    remind(store).await?;
    crate::feedback::remind(store, &settings.feedback).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Attachments (申请材料): PDF and images, checked by their content, not their name.

/// The largest attachment accepted.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// Attachments one application may have.
pub const MAX_ATTACHMENTS: usize = 10;

/// The media type a file's first bytes show, when it is one of the accepted kinds.
pub fn attachment_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// A file name safe to store and show: its last path part, without control characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    if clean.trim().is_empty() || clean == "." || clean == ".." {
        "attachment".into()
    } else {
        clean.trim().to_string()
    }
}

/// Adds an attachment to the caller's editable application. Returns its id.
pub async fn add_attachment(
    store: &Store,
    files: &pubdata_store::FileStore,
    caller: &Caller,
    id: i64,
    filename: &str,
    bytes: &[u8],
) -> Result<i64> {
    let row = store.application(id).await?.ok_or_else(not_found)?;
    let state = parse_state(&row)?;
    if !may_see(caller, &row, state) {
        return Err(not_found());
    }
    if !application::can_edit(state, app_caller(caller, &row)) {
        return Err(DomainError::InvalidTransition {
            from: state.as_str().into(),
            action: "attach".into(),
        }
        .into());
    }
    let field = |code: &str| StoreError::from(DomainError::field("attachment", code));
    if bytes.is_empty() {
        return Err(field("required"));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(DomainError::Validation(vec![pubdata_core::FieldError::new(
            "attachment",
            "attachment_too_large",
        )
        .with("max_mb", MAX_ATTACHMENT_BYTES / 1024 / 1024)])
        .into());
    }
    let media_type = attachment_type(bytes).ok_or_else(|| field("attachment_type"))?;
    if store.attachments(id).await?.len() >= MAX_ATTACHMENTS {
        return Err(DomainError::Validation(vec![
            pubdata_core::FieldError::new("attachment", "attachment_count").with("max", MAX_ATTACHMENTS)
        ])
        .into());
    }
    let name = clean_name(filename);
    let mut nonce = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let key = format!("applications/{id}/{}", hex::encode(nonce));
    let mut w = files.writer(&key, MAX_ATTACHMENT_BYTES as u64).await?;
    if w.write(bytes).await?.is_err() {
        w.abort().await;
        return Err(field("attachment_too_large"));
    }
    let stored = w.finish().await?;
    let mut tx = store.begin().await?;
    let aid = match tx
        .insert_attachment(id, &name, media_type, &stored.key, &stored.sha256, stored.size as i64)
        .await
    {
        Ok(aid) => aid,
        Err(e) => {
            drop(tx);
            files.delete(&stored.key).await.ok();
            return Err(e);
        }
    };
    let mut e = caller.audit("application.attach", "application", id);
    e.after = Some(json!({"attachment": aid, "name": name, "type": media_type, "bytes": stored.size}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(aid)
}

/// An attachment for whoever may see its application: its row and bytes.
pub async fn attachment(
    store: &Store,
    files: &pubdata_store::FileStore,
    caller: &Caller,
    id: i64,
    attachment_id: i64,
) -> Result<(AttachmentRow, Vec<u8>)> {
    let row = store.application(id).await?.ok_or_else(not_found)?;
    let state = parse_state(&row)?;
    if !may_see(caller, &row, state) {
        return Err(not_found());
    }
    let a = store
        .attachments(id)
        .await?
        .into_iter()
        .find(|a| a.id == attachment_id)
        .ok_or(DomainError::NotFound { what: "attachment" })?;
    let bytes = files.read_all(&a.object_key).await?;
    Ok((a, bytes))
}
