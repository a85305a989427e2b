//! 数据需求 — consumers' data demands, routed to a provider and assessed (开放研判) into its open
//! plan (§5.4.1b). Every step goes through `core::demand`; this module stores the result with its
//! history event, audit event, notices and — for an acceptance — the plan item, in one
//! transaction. Publishing a resource fulfils the demands linked to it ([`fulfil_on_publish`],
//! called inside the publication's transaction).
//!
//! The public sees every demand and its outcome, but not who asked or why (purpose): those are
//! for the requester, the administration institution and the provider assessing it.

use pubdata_core::application::ResourceRef;
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::demand::{
    self, Action, Context, DemandState, Effect, NewDemand, NoticeKind, Recipient, Rules, Stage,
};
use pubdata_core::metadata::DomainList;
use pubdata_core::plan::NewPlanItem;
use pubdata_core::DomainError;
use pubdata_store::{now_ms, DemandChange, DemandFilter, DemandRow, InteractionEventRow, NewDemandRow, Tx};
use serde_json::json;

use crate::interaction::{self, Step};
use crate::notices::Notice;
use crate::{Caller, Result, Store, StoreError};

const OBJECT: &str = "demand";
/// The most demands one page of a list shows.
pub const MAX_PAGE: i64 = 100;

fn not_found() -> StoreError {
    DomainError::NotFound { what: "demand" }.into()
}

fn parse_state(row: &DemandRow) -> Result<DemandState> {
    DemandState::parse(&row.state)
        .ok_or_else(|| StoreError::Other(format!("demand {}: unknown state {}", row.id, row.state)))
}

fn standing(caller: &Caller, row: &DemandRow) -> demand::Caller {
    demand::Caller::of(&caller.actor, row.requester_id, row.provider_org_id)
}

/// A demand as one caller may see it.
#[derive(Debug, Clone)]
pub struct DemandView {
    /// Without the requester and the purpose unless `full`.
    pub row: DemandRow,
    pub state: DemandState,
    /// The requester, the administration institution or the assessing provider: who asked and
    /// why are shown.
    pub full: bool,
    /// The current stage's deadline has passed.
    pub overdue: bool,
    /// The history (only with `full`).
    pub events: Vec<InteractionEventRow>,
    pub caller: demand::Caller,
}

fn view(caller: &Caller, mut row: DemandRow) -> Result<DemandView> {
    let state = parse_state(&row)?;
    let c = standing(caller, &row);
    let full = c.sees_details();
    if !full {
        // De-identified: nothing of who asked, or of what for.
        row.requester_id = 0;
        row.requester_name = String::new();
        row.purpose = String::new();
    }
    let overdue = !state.is_answered() && interaction::is_overdue(row.stage_due.as_deref(), interaction::today());
    Ok(DemandView {
        row,
        state,
        full,
        overdue,
        events: Vec::new(),
        caller: c,
    })
}

/// A submission's outcome: the demand, and whether this call created it (`false`: it repeats
/// an earlier submission, which is returned instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub id: i64,
    pub created: bool,
}

/// Who a notice goes to; `provider` is the one the demand is (now) routed to.
async fn recipients(store: &Store, row: &DemandRow, provider: Option<i64>, to: Recipient) -> Result<Vec<i64>> {
    Ok(match to {
        Recipient::Requester => vec![row.requester_id],
        Recipient::Admins => interaction::admins(store).await?,
        Recipient::ProviderStaff => match provider {
            Some(org) => interaction::provider_staff(store, org).await?,
            None => Vec::new(),
        },
    })
}

fn link(id: i64) -> String {
    format!("/demands/{id}")
}

/// 提交数据需求 — anyone logged in. Submitting the same demand again (the same idempotency key,
/// or the same text within the configured window) returns the first one and changes nothing.
pub async fn submit(
    store: &Store,
    caller: &Caller,
    input: &NewDemand,
    rules: &Rules,
    calendar: &WorkCalendar,
) -> Result<Submitted> {
    let user_id = demand::may_submit(&caller.actor)?;
    let provider_exists = match input.named_provider() {
        Some(org) => interaction::is_provider(store, org).await?,
        None => false,
    };
    let d = input.validate(&DomainList::standard(), provider_exists)?;
    let fingerprint = d.fingerprint();
    let t = demand::submit(&d, rules);
    let mut tx = store.begin().await?;
    tx.lock_user(user_id).await?;
    let since = now_ms() - (rules.duplicate_window_secs as i64).saturating_mul(1000);
    if let Some(id) = tx
        .duplicate_demand(user_id, input.idempotency_key(), &fingerprint, since)
        .await?
    {
        return Ok(Submitted { id, created: false });
    }
    let due = t.effects.iter().find_map(|e| match e {
        Effect::StartDeadline(_, days) => Some(interaction::due_in(calendar, *days)),
        _ => None,
    });
    let id = tx
        .insert_demand(&NewDemandRow {
            requester_id: user_id,
            title: &d.title,
            description: &d.description,
            purpose: &d.purpose,
            domain: d.domain.key(),
            provider_org_id: d.provider_org_id,
            state: t.to.as_str(),
            stage_due: due.as_deref(),
            fingerprint: &fingerprint,
            idempotency_key: input.idempotency_key(),
        })
        .await?;
    let row = tx.demand_for_update(id).await?.ok_or_else(not_found)?;
    notify(store, &mut tx, &row, d.provider_org_id, &t.effects, None, None).await?;
    let step = Step {
        object_type: OBJECT,
        object_id: id,
        action: "submit",
        from: t.to.as_str(),
        to: t.to.as_str(),
        reason: None,
        details: Some(json!({"provider_org_id": d.provider_org_id, "domain": d.domain.key()})),
        due: due.as_deref(),
    };
    interaction::record(&mut tx, caller, step).await?;
    tx.commit().await?;
    Ok(Submitted { id, created: true })
}

/// Sends the transition's notices.
async fn notify(
    store: &Store,
    tx: &mut Tx,
    row: &DemandRow,
    provider: Option<i64>,
    effects: &[Effect],
    reason: Option<&str>,
    resource_title: Option<&str>,
) -> Result<()> {
    for effect in effects {
        let Effect::Notify(to, kind) = effect else { continue };
        let mut notice = Notice::new(kind.as_str())
            .param("title", row.title.as_str())
            .param("id", row.id)
            .link(link(row.id));
        if let Some(r) = reason {
            notice = notice.reason(r);
        }
        if let Some(t) = resource_title {
            notice = notice.param("resource", t);
        }
        let users = recipients(store, row, provider, *to).await?;
        interaction::notify(tx, &users, &notice).await?;
    }
    Ok(())
}

/// One demand: in full for its requester, the administration institution and the provider
/// assessing it (with its history); de-identified for everyone else, logged in or not.
pub async fn get(store: &Store, caller: &Caller, id: i64) -> Result<DemandView> {
    let row = store.demand(id).await?.ok_or_else(not_found)?;
    let mut v = view(caller, row)?;
    if v.full {
        v.events = store.interaction_events(OBJECT, id).await?;
    }
    Ok(v)
}

/// What the public list of demands is asked for.
#[derive(Debug, Clone, Default)]
pub struct PublicQuery {
    /// Words in the title or description.
    pub text: String,
    /// A state key (`accepted`, `declined`, …); empty for all.
    pub state: String,
    /// A 领域 key or name; empty for all.
    pub domain: String,
    pub provider_org_id: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// 需求公开 — every demand and its outcome, newest first, de-identified; searchable by text and
/// filterable by state, domain and provider. Returns one page and the number matching.
pub async fn public_list(store: &Store, caller: &Caller, q: &PublicQuery) -> Result<(Vec<DemandView>, i64)> {
    let mut c = pubdata_core::error::Checks::new();
    let state = q.state.trim();
    let state = (!state.is_empty()).then(|| DemandState::parse(state));
    if let Some(None) = state {
        c.push(pubdata_core::FieldError::new("state", "demand_state"));
    }
    let domains = DomainList::standard();
    let domain = (!q.domain.trim().is_empty()).then(|| domains.parse(&q.domain));
    if let Some(None) = domain {
        c.push(pubdata_core::FieldError::new("domain", "domain"));
    }
    c.check(q.text.chars().count() <= 100, "q", "search_text_length");
    c.finish()?;
    let states: Vec<&str> = state.flatten().map(|s| s.as_str()).into_iter().collect();
    let domain = domain.flatten();
    let filter = DemandFilter {
        provider_org_id: q.provider_org_id,
        states: &states,
        domain: domain.as_ref().map(|d| d.key()),
        text: Some(q.text.as_str()),
        limit: q.limit.clamp(1, MAX_PAGE),
        offset: q.offset.max(0),
        ..Default::default()
    };
    let total = store.count_demands(&filter).await?;
    let rows = store.list_demands(&filter).await?;
    let views = rows
        .into_iter()
        .map(|r| view(&Caller::anonymous(caller.ip.clone()), r))
        .collect::<Result<_>>()?;
    Ok((views, total))
}

/// The caller's own demands, newest first.
pub async fn mine(store: &Store, caller: &Caller) -> Result<Vec<DemandView>> {
    let user_id = interaction::login_required(caller)?;
    let rows = store
        .list_demands(&DemandFilter {
            requester_id: Some(user_id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    rows.into_iter().map(|r| view(caller, r)).collect()
}

/// A demand waiting on the caller, with its deadline.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub demand: DemandView,
    pub stage: Option<Stage>,
    pub overdue_days: i64,
}

/// What waits on the caller, oldest first: for the administration institution the demands to
/// route (and every assessment, to follow up); for provider staff their department's assessments.
pub async fn queue(store: &Store, caller: &Caller, calendar: &WorkCalendar) -> Result<Vec<QueueEntry>> {
    interaction::login_required(caller)?;
    let admin = interaction::is_admin(caller);
    let orgs = interaction::provider_orgs(caller);
    if !admin && orgs.is_empty() {
        return Err(DomainError::Forbidden.into());
    }
    let waiting = [DemandState::Submitted.as_str(), DemandState::Assessing.as_str()];
    let assessing = [DemandState::Assessing.as_str()];
    let mut rows = Vec::new();
    if admin {
        // Every demand still waiting, whichever provider it is routed to.
        rows.extend(
            store
                .list_demands(&DemandFilter {
                    states: &waiting,
                    oldest_first: true,
                    limit: 1000,
                    ..Default::default()
                })
                .await?,
        );
    } else {
        for org in orgs {
            rows.extend(
                store
                    .list_demands(&DemandFilter {
                        provider_org_id: Some(org),
                        states: &assessing,
                        oldest_first: true,
                        limit: 1000,
                        ..Default::default()
                    })
                    .await?,
            );
        }
    }
    rows.sort_by_key(|r| r.id);
    let today = interaction::today();
    rows.into_iter()
        .map(|row| {
            let overdue_days = interaction::overdue_days(row.stage_due.as_deref(), today, calendar);
            let v = view(caller, row)?;
            Ok(QueueEntry {
                stage: v.state.stage(),
                overdue_days,
                demand: v,
            })
        })
        .collect()
}

/// The provider's answer, as a form or JSON gives it.
#[derive(Debug, Clone)]
pub enum Decision {
    /// 采纳 — into the plan `plan_id` (one of the provider's), or when none into the provider's
    /// demand plan of the item's year (created when missing).
    Accept {
        reply: String,
        plan_id: Option<i64>,
        item: NewPlanItem,
    },
    Decline {
        reason: String,
    },
    /// 已开放 — the resource id as given.
    AlreadyOpen {
        resource_id: String,
        reply: String,
    },
}

/// 分派 — the administration institution routes a demand to a provider department (or
/// re-routes an assessment to another one); `provider_org_id` as given.
pub async fn route(
    store: &Store,
    caller: &Caller,
    id: i64,
    provider_org_id: &str,
    rules: &Rules,
    calendar: &WorkCalendar,
) -> Result<()> {
    let given = provider_org_id.trim().parse::<i64>().ok().filter(|id| *id > 0);
    let action = Action::Route {
        provider_org_id: given.unwrap_or(0),
    };
    transition(store, caller, id, action, rules, calendar, Prepared::None).await
}

/// 撤回 — the requester takes back a demand nobody has answered yet; whoever was to route or
/// assess it is told.
pub async fn withdraw(store: &Store, caller: &Caller, id: i64, rules: &Rules, calendar: &WorkCalendar) -> Result<()> {
    transition(store, caller, id, Action::Withdraw, rules, calendar, Prepared::None).await
}

/// The provider's answer: accept (creating the plan item), decline, or point to an open resource.
pub async fn decide(
    store: &Store,
    caller: &Caller,
    id: i64,
    decision: &Decision,
    rules: &Rules,
    calendar: &WorkCalendar,
) -> Result<()> {
    let (action, prepared) = match decision {
        Decision::Accept { reply, plan_id, item } => (
            Action::Accept { reply: reply.clone() },
            Prepared::Plan {
                plan_id: *plan_id,
                item: item.clone(),
            },
        ),
        Decision::Decline { reason } => (Action::Decline { reason: reason.clone() }, Prepared::None),
        Decision::AlreadyOpen { resource_id, reply } => (
            Action::AlreadyOpen {
                resource_id: resource_id.trim().parse().unwrap_or(0),
                reply: reply.clone(),
            },
            Prepared::Resource(resource_id.clone()),
        ),
    };
    transition(store, caller, id, action, rules, calendar, prepared).await
}

/// What an action needs beyond its text, checked against the store once the rule allows it.
enum Prepared {
    None,
    Plan { plan_id: Option<i64>, item: NewPlanItem },
    Resource(String),
}

async fn transition(
    store: &Store,
    caller: &Caller,
    id: i64,
    action: Action,
    rules: &Rules,
    calendar: &WorkCalendar,
    prepared: Prepared,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let row = tx.demand_for_update(id).await?.ok_or_else(not_found)?;
    let state = parse_state(&row)?;
    let ctx = Context {
        caller: standing(caller, &row),
        rules: *rules,
        provider_org_id: row.provider_org_id,
    };
    // The rule first: who, from which state, with which text.
    let t = demand::apply(state, &action, ctx)?;
    let mut change = DemandChange {
        state: t.to.as_str(),
        reply: action.text(),
        answered: t.to.is_answered(),
        ..Default::default()
    };
    let mut provider = row.provider_org_id;
    let mut resource_title = None;
    let mut details = json!({});
    match (&action, &prepared) {
        (Action::Route { provider_org_id }, _) => {
            if !interaction::is_provider(store, *provider_org_id).await? {
                return Err(DomainError::field("provider_org_id", "not_a_provider").into());
            }
            provider = Some(*provider_org_id);
            change.provider_org_id = provider;
            details = json!({"provider_org_id": provider_org_id, "from_provider": row.provider_org_id});
        }
        (Action::AlreadyOpen { resource_id, .. }, Prepared::Resource(given)) => {
            let found = match store.resource(*resource_id).await? {
                Some(r) => Some(crate::resources::parse(r)?),
                None => None,
            };
            let r = found.as_ref().map(|r| ResourceRef {
                id: r.row.id,
                provider_org_id: r.row.provider_org_id,
                status: r.status,
                meta: &r.meta,
            });
            let resource_id = demand::open_resource(r.as_ref(), given)?;
            change.resource_id = Some(resource_id);
            resource_title = found.map(|r| r.meta.title);
            details = json!({"resource_id": resource_id});
        }
        _ => {}
    }
    let mut due = None;
    for effect in &t.effects {
        match effect {
            Effect::StartDeadline(_, days) => due = Some(interaction::due_in(calendar, *days)),
            Effect::CreatePlanItem => {
                let Prepared::Plan { plan_id, item } = &prepared else {
                    return Err(StoreError::Other("an acceptance without its plan item".into()));
                };
                let org = row.provider_org_id.ok_or(DomainError::Forbidden)?;
                let (plan, item_id) = create_plan_item(store, &mut tx, caller, &row, org, *plan_id, item).await?;
                change.plan_item_id = Some(item_id);
                details = json!({"plan_id": plan, "plan_item_id": item_id});
            }
            Effect::Notify(..) | Effect::StopDeadline(_) => {}
        }
    }
    change.stage_due = due.as_deref();
    tx.set_demand_state(id, &change).await?;
    notify(
        store,
        &mut tx,
        &row,
        provider,
        &t.effects,
        action.text(),
        resource_title.as_deref(),
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
    tx.commit().await
}

/// The plan item an acceptance promises, in the named plan of the provider or in its demand plan
/// for the item's year (created when missing). Returns the plan's and the item's ids.
async fn create_plan_item(
    store: &Store,
    tx: &mut Tx,
    caller: &Caller,
    row: &DemandRow,
    org: i64,
    plan_id: Option<i64>,
    input: &NewPlanItem,
) -> Result<(i64, i64)> {
    let today = interaction::today();
    let domains = DomainList::standard();
    let mut input = input.clone();
    // What the provider leaves empty comes from the demand.
    if input.name.trim().is_empty() {
        input.name = row.title.chars().take(100).collect();
    }
    if input.domain.trim().is_empty() {
        input.domain = row.domain.clone();
    }
    let (plan_id, plan) = match plan_id {
        Some(pid) => {
            let p = store
                .plan(pid)
                .await?
                .filter(|p| p.provider_org_id == org)
                .ok_or_else(|| StoreError::from(DomainError::field("plan_id", "plan_other_provider")))?;
            let plan = crate::plans::open_plan(&p)?;
            (Some(pid), plan)
        }
        None => {
            let year = demand::plan_year(&input.planned_date, today);
            let existing = store.plans(Some(org)).await?.into_iter().find(|p| {
                p.source == "demand"
                    && p.period_start <= format!("{year}-12-31")
                    && p.period_end >= format!("{year}-01-01")
            });
            match existing {
                Some(p) => {
                    let plan = crate::plans::open_plan(&p)?;
                    (Some(p.id), plan)
                }
                None => (None, demand::demand_plan(org, year)),
            }
        }
    };
    let item = demand::accepted_item(&input, &plan, &domains, today, row.id)?;
    let user = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let plan_id = match plan_id {
        Some(id) => id,
        None => {
            let id = tx
                .insert_plan(
                    org,
                    &plan.title,
                    &plan.period_start.to_string(),
                    &plan.period_end.to_string(),
                    plan.source.as_str(),
                    user,
                )
                .await?;
            let mut e = caller.audit("plan.create", "plan", id);
            e.after = Some(json!({"title": plan.title, "source": "demand"}));
            tx.audit(e).await?;
            id
        }
    };
    let planned = item.planned_date.to_string();
    let item_id = tx
        .insert_plan_item(
            plan_id,
            &pubdata_store::NewPlanItem {
                name: &item.name,
                domain: item.domain.key(),
                open_type: item.open_type.as_str(),
                planned_date: &planned,
                notes: item.notes.as_deref(),
                demand_id: Some(row.id),
            },
        )
        .await?;
    let mut e = caller.audit("plan.add_item", "plan", plan_id);
    e.after = Some(json!({"items": [item_id], "demand_id": row.id}));
    tx.audit(e).await?;
    Ok((plan_id, item_id))
}

/// 已满足 — within the publication's transaction: the demands answered by `resource_id` (accepted
/// into a plan item it fulfils, or pointed to it) are fulfilled and their requesters told.
/// Returns how many.
pub async fn fulfil_on_publish(store: &Store, tx: &mut Tx, resource_id: i64, title: &str) -> Result<usize> {
    let system = interaction::system_caller("publication");
    let rows = tx.demands_fulfilled_by(resource_id).await?;
    for row in &rows {
        let state = parse_state(row)?;
        let ctx = Context {
            caller: demand::Caller::system(),
            rules: Rules::default(),
            provider_org_id: row.provider_org_id,
        };
        let t = demand::apply(state, &Action::Fulfil, ctx)?;
        tx.set_demand_state(
            row.id,
            &DemandChange {
                state: t.to.as_str(),
                fulfilled: true,
                answered: true,
                ..Default::default()
            },
        )
        .await?;
        notify(store, tx, row, row.provider_org_id, &t.effects, None, Some(title)).await?;
        let step = Step {
            object_type: OBJECT,
            object_id: row.id,
            action: "fulfil",
            from: state.as_str(),
            to: t.to.as_str(),
            reason: None,
            details: Some(json!({"resource_id": resource_id})),
            due: None,
        };
        interaction::record(tx, &system, step).await?;
    }
    Ok(rows.len())
}

/// Within the cancellation's transaction: the plan item an accepted demand was filed as was
/// cancelled, so the demand is declined with the provider's cancellation reason and the requester
/// told. Returns whether a demand changed (one already fulfilled or declined stays as it is).
pub async fn decline_on_cancel(store: &Store, tx: &mut Tx, demand_id: i64, reason: &str) -> Result<bool> {
    let Some(row) = tx.demand_for_update(demand_id).await? else {
        return Ok(false);
    };
    let state = parse_state(&row)?;
    if state != DemandState::Accepted {
        return Ok(false);
    }
    let action = Action::PlanCancelled {
        reason: reason.to_string(),
    };
    let ctx = Context {
        caller: demand::Caller::system(),
        rules: Rules::default(),
        provider_org_id: row.provider_org_id,
    };
    let t = demand::apply(state, &action, ctx)?;
    tx.set_demand_state(
        row.id,
        &DemandChange {
            state: t.to.as_str(),
            reply: action.text(),
            answered: true,
            ..Default::default()
        },
    )
    .await?;
    notify(store, tx, &row, row.provider_org_id, &t.effects, action.text(), None).await?;
    let step = Step {
        object_type: OBJECT,
        object_id: row.id,
        action: action.name(),
        from: state.as_str(),
        to: t.to.as_str(),
        reason: action.text(),
        details: Some(json!({"plan_item_id": row.plan_item_id})),
        due: None,
    };
    interaction::record(tx, &interaction::system_caller("plan"), step).await?;
    Ok(true)
}

/// Reminders before the routing and assessment deadlines and escalation after them. Returns how
/// many notices went out.
pub async fn remind(store: &Store) -> Result<usize> {
    let today = interaction::today();
    let waiting = [DemandState::Submitted.as_str(), DemandState::Assessing.as_str()];
    let rows = store
        .list_demands(&DemandFilter {
            states: &waiting,
            oldest_first: true,
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let mut sent = 0;
    for row in rows {
        let Some(due) = row.stage_due.as_deref().and_then(pubdata_core::calendar::Date::parse) else {
            continue;
        };
        if !interaction::reminder_due(due, today) {
            continue;
        }
        let assignees = match row.provider_org_id {
            Some(org) if row.state == DemandState::Assessing.as_str() => {
                interaction::provider_staff(store, org).await?
            }
            _ => interaction::admins(store).await?,
        };
        let w = interaction::Waiting {
            object_type: OBJECT,
            id: row.id,
            state: &row.state,
            due,
            title: &row.title,
            assignees,
            link: link(row.id),
        };
        sent += usize::from(interaction::remind(store, w, today).await?);
    }
    Ok(sent)
}

/// Shorthand so callers need not name the notice kinds' type.
pub fn notice_kinds() -> [NoticeKind; 9] {
    [
        NoticeKind::Submitted,
        NoticeKind::Routed,
        NoticeKind::InAssessment,
        NoticeKind::Accepted,
        NoticeKind::Declined,
        NoticeKind::AlreadyOpen,
        NoticeKind::Fulfilled,
        NoticeKind::Withdrawn,
        NoticeKind::PlanCancelled,
    ]
}
