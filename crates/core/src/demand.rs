//! 数据需求 — consumers' data demands and the provider's assessment of them (开放研判, §5.4.1b;
//! DESIGN §4): the input and its validation, who may move a demand between states, the effects
//! each step has (notices, deadlines, a plan item), and the working-day deadline of each stage.
//! Pure: the service stores what [`submit`] and [`apply`] decide and carries out the effects.
//!
//! Anyone logged in submits a demand ([`NewDemand::validate`]). Naming the provider that holds
//! the data sends it straight to that provider's assessment (`assessing`); otherwise it waits
//! (`submitted`) for the administration institution to route it. The provider it is routed to
//! accepts it (a plan item linked to the demand is created with the decision), declines it with
//! a reason, or points to a published resource that already answers it (`already_open`). When
//! the resource linked to an answered demand — the plan item's resource, or the one pointed to —
//! is published (first publication, republication or an approved revision), the system marks the
//! demand `fulfilled` and tells the requester.
//!
//! Who may act: the administration institution's reviewers and managers route (and re-route an
//! assessment to another provider); the staff (managers, editors, reviewers) of the provider the
//! demand is routed to assess; the system fulfils. Nobody assesses their own demand. Staff of
//! another provider who try to assess are told it is not routed to them (`Conflict`), not that
//! they lack a role.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::application::ResourceRef;
use crate::calendar::{Date, DEMAND_ASSESSMENT_DAYS};
use crate::error::{Checks, DomainError, FieldError};
use crate::metadata::{loose, Domain, DomainList};
use crate::plan::{NewPlanItem, OpenPlan, PlanItem, PlanSource};
use crate::policy::Actor;
use crate::user::Role;

/// Working days the administration institution has to route a demand that names no provider.
pub const DEMAND_ROUTING_DAYS: u32 = 2;
/// Two submissions of the same demand by one person within this many seconds are one demand
/// (a double click, a resent form).
pub const DEFAULT_DUPLICATE_WINDOW_SECS: u64 = 600;
const TITLE_MIN: usize = 2;
const TITLE_MAX: usize = 100;
const TEXT_MIN: usize = 10;
const TEXT_MAX: usize = 2000;
const REASON_MAX: usize = 1000;
/// The longest idempotency key a client may send.
pub const IDEMPOTENCY_KEY_MAX: usize = 100;

/// Where a demand is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandState {
    /// 待分派 — waiting for the administration institution to route it to a provider.
    Submitted,
    /// 研判中 — the provider it is routed to assesses it.
    Assessing,
    /// 已采纳 — accepted into the provider's open plan.
    Accepted,
    /// 不予采纳 — declined, with the reason.
    Declined,
    /// 已开放 — a published resource already answers it.
    AlreadyOpen,
    /// 已满足 — the linked resource was published.
    Fulfilled,
    /// 已撤回 — the requester withdrew it before it was answered.
    Withdrawn,
}

impl DemandState {
    pub const ALL: [DemandState; 7] = [
        DemandState::Submitted,
        DemandState::Assessing,
        DemandState::Accepted,
        DemandState::Declined,
        DemandState::AlreadyOpen,
        DemandState::Fulfilled,
        DemandState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DemandState::Submitted => "submitted",
            DemandState::Assessing => "assessing",
            DemandState::Accepted => "accepted",
            DemandState::Declined => "declined",
            DemandState::AlreadyOpen => "already_open",
            DemandState::Fulfilled => "fulfilled",
            DemandState::Withdrawn => "withdrawn",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            DemandState::Submitted => "待分派",
            DemandState::Assessing => "研判中",
            DemandState::Accepted => "已采纳",
            DemandState::Declined => "不予采纳",
            DemandState::AlreadyOpen => "已开放",
            DemandState::Fulfilled => "已满足",
            DemandState::Withdrawn => "已撤回",
        }
    }

    pub fn parse(s: &str) -> Option<DemandState> {
        DemandState::ALL.into_iter().find(|st| st.as_str() == s.trim())
    }

    /// The stage whose deadline runs in this state (none once answered).
    pub fn stage(self) -> Option<Stage> {
        match self {
            DemandState::Submitted => Some(Stage::Routing),
            DemandState::Assessing => Some(Stage::Assessment),
            _ => None,
        }
    }

    /// No longer waiting on anyone: answered by the provider (accepted, declined, already open,
    /// fulfilled) or withdrawn.
    pub fn is_answered(self) -> bool {
        self.stage().is_none()
    }
}

/// A step that waits on a person, with a deadline in working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 分派 — the administration institution routes the demand to a provider.
    Routing,
    /// 开放研判 — the provider assesses it.
    Assessment,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Routing => "routing",
            Stage::Assessment => "assessment",
        }
    }
}

/// The deployment's settings for demands (`[demand]` in `pubdata.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub routing_days: u32,
    pub assessment_days: u32,
    /// Resubmitting the same demand within this many seconds returns the first one.
    pub duplicate_window_secs: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            routing_days: DEMAND_ROUTING_DAYS,
            assessment_days: DEMAND_ASSESSMENT_DAYS,
            duplicate_window_secs: DEFAULT_DUPLICATE_WINDOW_SECS,
        }
    }
}

impl Rules {
    pub fn days(&self, stage: Stage) -> u32 {
        match stage {
            Stage::Routing => self.routing_days,
            Stage::Assessment => self.assessment_days,
        }
    }
}

/// A demand as a form or JSON gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewDemand {
    /// 需求名称 — the data wanted, in a line.
    #[serde(deserialize_with = "loose::text")]
    pub title: String,
    /// 需求描述 — what data, which fields, coverage, frequency.
    #[serde(deserialize_with = "loose::text")]
    pub description: String,
    /// 用途 — what it will be used for.
    #[serde(deserialize_with = "loose::text")]
    pub purpose: String,
    /// 领域: a key or its Chinese name.
    #[serde(deserialize_with = "loose::text")]
    pub domain: String,
    /// The provider department believed to hold the data, when known.
    #[serde(deserialize_with = "loose::text")]
    pub provider_org_id: String,
    /// A client's key for this submission: the same key again returns the same demand.
    #[serde(deserialize_with = "loose::text")]
    pub idempotency_key: String,
}

/// A validated demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    pub title: String,
    pub description: String,
    pub purpose: String,
    pub domain: Domain,
    pub provider_org_id: Option<i64>,
}

/// Trims and collapses runs of white space, so that resubmitted text compares equal.
fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// sha256 over the parts, normalised and separated: what duplicate detection compares.
pub(crate) fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(normalise(p).as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// An optional positive id: `None` when empty; `code` when it is not a positive integer.
pub(crate) fn optional_id(c: &mut Checks, value: &str, field: &str, code: &str) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let id = v.parse::<i64>().ok().filter(|id| *id > 0);
    c.check(id.is_some(), field, code);
    id
}

/// An idempotency key: printable ASCII without spaces, at most [`IDEMPOTENCY_KEY_MAX`] long.
pub(crate) fn check_idempotency_key(c: &mut Checks, key: &str) {
    let k = key.trim();
    let ok = k.len() <= IDEMPOTENCY_KEY_MAX && k.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        c.push(FieldError::new("idempotency_key", "idempotency_key").with("max", IDEMPOTENCY_KEY_MAX));
    }
}

impl NewDemand {
    /// The named provider's id, for the service to look up before [`NewDemand::validate`].
    pub fn named_provider(&self) -> Option<i64> {
        self.provider_org_id.trim().parse().ok().filter(|id| *id > 0)
    }

    /// The key without surrounding blanks, `None` when none was given.
    pub fn idempotency_key(&self) -> Option<&str> {
        Some(self.idempotency_key.trim()).filter(|k| !k.is_empty())
    }

    /// Every rule, all problems at once. `provider_exists` says whether the named provider is a
    /// provider department (the service asks the store).
    pub fn validate(&self, domains: &DomainList, provider_exists: bool) -> Result<Demand, DomainError> {
        let mut c = Checks::new();
        let title = self.title.trim();
        c.length(title, "title", TITLE_MIN, TITLE_MAX);
        let description = self.description.trim();
        c.length(description, "description", TEXT_MIN, TEXT_MAX);
        let purpose = self.purpose.trim();
        c.length(purpose, "purpose", TEXT_MIN, TEXT_MAX);
        let domain = domains.parse(&self.domain);
        if self.domain.trim().is_empty() {
            c.push(FieldError::new("domain", "required"));
        } else {
            c.check(domain.is_some(), "domain", "domain");
        }
        let provider = optional_id(&mut c, &self.provider_org_id, "provider_org_id", "org_id");
        if provider.is_some() {
            c.check(provider_exists, "provider_org_id", "not_a_provider");
        }
        check_idempotency_key(&mut c, &self.idempotency_key);
        c.finish()?;
        Ok(Demand {
            title: title.to_string(),
            description: description.to_string(),
            purpose: purpose.to_string(),
            domain: domain.expect("checked above"),
            provider_org_id: provider,
        })
    }
}

impl Demand {
    /// What makes two submissions the same demand.
    pub fn fingerprint(&self) -> String {
        let provider = self.provider_org_id.map(|p| p.to_string()).unwrap_or_default();
        fingerprint(&[
            &self.title,
            &self.description,
            &self.purpose,
            self.domain.key(),
            &provider,
        ])
    }
}

/// Who may submit a demand: anyone logged in as a person.
pub fn may_submit(actor: &Actor) -> Result<i64, DomainError> {
    if !actor.is_authenticated() {
        return Err(DomainError::Unauthenticated {
            reason: "login_required",
        });
    }
    actor.user_id.ok_or(DomainError::Forbidden)
}

/// How the caller relates to a demand; one person may hold several of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    /// The person who submitted it.
    pub requester: bool,
    /// admin_reviewer or admin_manager of the administration institution.
    pub admin: bool,
    /// Staff (manager, editor, reviewer) of the provider the demand is routed to.
    pub assessor: bool,
    /// Provider staff, but not of the provider the demand is routed to (or it is not routed).
    pub other_provider: bool,
    /// The platform itself (fulfilment on publication); never a person.
    pub system: bool,
}

fn provider_staff_role(role: Role) -> bool {
    matches!(
        role,
        Role::ProviderManager | Role::ProviderEditor | Role::ProviderReviewer
    )
}

impl Caller {
    /// The caller's standing towards a demand of `requester_id`, routed to `provider_org_id`.
    pub fn of(actor: &Actor, requester_id: i64, provider_org_id: Option<i64>) -> Caller {
        let staff_of = |org: i64| {
            actor
                .memberships
                .iter()
                .any(|m| provider_staff_role(m.role) && m.org_id == Some(org))
        };
        let assessor = provider_org_id.is_some_and(staff_of);
        let any_provider = actor.memberships.iter().any(|m| provider_staff_role(m.role));
        Caller {
            requester: actor.user_id == Some(requester_id),
            admin: actor.has_role(Role::AdminReviewer) || actor.has_role(Role::AdminManager),
            assessor,
            other_provider: any_provider && !assessor,
            system: false,
        }
    }

    pub const fn system() -> Caller {
        Caller {
            requester: false,
            admin: false,
            assessor: false,
            other_provider: false,
            system: true,
        }
    }

    /// Whether the caller may see the demand in full (who asked, for what purpose).
    pub fn sees_details(self) -> bool {
        self.requester || self.admin || self.assessor
    }

    /// Whether the caller may perform this kind of action at all (in some state).
    pub fn may(self, action: &Action) -> bool {
        match action {
            Action::Route { .. } => self.admin && !self.requester,
            Action::Accept { .. } | Action::Decline { .. } | Action::AlreadyOpen { .. } => {
                self.assessor && !self.requester
            }
            Action::Withdraw => self.requester,
            Action::Fulfil | Action::PlanCancelled { .. } => self.system,
        }
    }
}

/// What someone asks to do with a demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 分派 — to a provider department (the service checks it is one); from `assessing` it
    /// re-routes to another provider and the assessment starts afresh.
    Route { provider_org_id: i64 },
    /// 采纳 — into the open plan; the service creates the plan item ([`accepted_item`]). The
    /// reply to the requester is optional.
    Accept { reply: String },
    /// 不予采纳 — with the reason the requester reads.
    Decline { reason: String },
    /// 已开放 — a published resource answers the demand (see [`open_resource`]).
    AlreadyOpen { resource_id: i64, reply: String },
    /// 已满足 — the linked resource was published.
    Fulfil,
    /// 撤回 — the requester takes the demand back before it is answered.
    Withdraw,
    /// The plan item an acceptance created was cancelled: the demand is declined with the
    /// provider's cancellation reason, so the requester is not left waiting for data that will
    /// not come.
    PlanCancelled { reason: String },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Route { .. } => "route",
            Action::Accept { .. } => "accept",
            Action::Decline { .. } => "decline",
            Action::AlreadyOpen { .. } => "already_open",
            Action::Fulfil => "fulfil",
            Action::Withdraw => "withdraw",
            Action::PlanCancelled { .. } => "plan_cancelled",
        }
    }

    /// The text the requester reads with the decision, when there is one.
    pub fn text(&self) -> Option<&str> {
        match self {
            Action::Accept { reply } | Action::AlreadyOpen { reply, .. } => Some(reply.trim()),
            Action::Decline { reason } | Action::PlanCancelled { reason } => Some(reason.trim()),
            Action::Route { .. } | Action::Fulfil | Action::Withdraw => None,
        }
        .filter(|t| !t.is_empty())
    }

    fn is_assessment(&self) -> bool {
        matches!(
            self,
            Action::Accept { .. } | Action::Decline { .. } | Action::AlreadyOpen { .. }
        )
    }
}

/// Who acts, on which demand, under which settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub caller: Caller,
    pub rules: Rules,
    /// The provider the demand is routed to now.
    pub provider_org_id: Option<i64>,
}

/// Who a notice goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    Requester,
    /// The administration institution's reviewers and managers.
    Admins,
    /// The managers, editors and reviewers of the provider the demand is routed to.
    ProviderStaff,
}

/// What a notice says; `as_str` is its translation key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// A demand naming no provider waits to be routed.
    Submitted,
    /// A demand reached the provider for assessment.
    Routed,
    /// The requester's demand is being assessed by a provider.
    InAssessment,
    Accepted,
    Declined,
    AlreadyOpen,
    Fulfilled,
    /// The requester withdrew a demand the recipient was routing or assessing.
    Withdrawn,
    /// The plan item promised for the requester's demand was cancelled.
    PlanCancelled,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Submitted => "demand_submitted",
            NoticeKind::Routed => "demand_routed",
            NoticeKind::InAssessment => "demand_in_assessment",
            NoticeKind::Accepted => "demand_accepted",
            NoticeKind::Declined => "demand_declined",
            NoticeKind::AlreadyOpen => "demand_already_open",
            NoticeKind::Fulfilled => "demand_fulfilled",
            NoticeKind::Withdrawn => "demand_withdrawn",
            NoticeKind::PlanCancelled => "demand_plan_cancelled",
        }
    }
}

/// What the service must do besides storing the new state, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Notify(Recipient, NoticeKind),
    /// Start the stage's deadline, due the given working days from today.
    StartDeadline(Stage, u32),
    StopDeadline(Stage),
    /// Create the plan item the acceptance promises, linked to the demand.
    CreatePlanItem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: DemandState,
    pub effects: Vec<Effect>,
}

/// Where a new demand goes: straight to the named provider's assessment, or to routing.
pub fn submit(demand: &Demand, rules: &Rules) -> Transition {
    use Effect::{Notify, StartDeadline};
    match demand.provider_org_id {
        Some(_) => Transition {
            to: DemandState::Assessing,
            effects: vec![
                StartDeadline(Stage::Assessment, rules.assessment_days),
                Notify(Recipient::ProviderStaff, NoticeKind::Routed),
            ],
        },
        None => Transition {
            to: DemandState::Submitted,
            effects: vec![
                StartDeadline(Stage::Routing, rules.routing_days),
                Notify(Recipient::Admins, NoticeKind::Submitted),
            ],
        },
    }
}

/// The one place demand transitions are decided. Checks, in order: the caller's standing
/// (`Forbidden`, or `Conflict { code: "demand_not_routed_to_you" }` for another provider's
/// staff), the action from this state (`InvalidTransition`), then the action's content
/// (`Validation`). An acceptance's plan item is [`accepted_item`]'s business and a pointed-to
/// resource [`open_resource`]'s, run by the caller first because they need the store.
pub fn apply(state: DemandState, action: &Action, ctx: Context) -> Result<Transition, DomainError> {
    use DemandState as S;
    use Effect::{Notify, StartDeadline, StopDeadline};
    use NoticeKind as N;
    use Recipient as R;
    let caller = ctx.caller;
    if !caller.may(action) {
        if action.is_assessment() && caller.other_provider && !caller.requester {
            return Err(DomainError::Conflict {
                code: "demand_not_routed_to_you",
                field: None,
            });
        }
        return Err(DomainError::Forbidden);
    }
    let assessment = ctx.rules.assessment_days;
    let (to, effects) = match (action, state) {
        (Action::Route { .. }, S::Submitted) => (
            S::Assessing,
            vec![
                StopDeadline(Stage::Routing),
                StartDeadline(Stage::Assessment, assessment),
                Notify(R::ProviderStaff, N::Routed),
                Notify(R::Requester, N::InAssessment),
            ],
        ),
        (Action::Route { .. }, S::Assessing) => (
            S::Assessing,
            vec![
                StopDeadline(Stage::Assessment),
                StartDeadline(Stage::Assessment, assessment),
                Notify(R::ProviderStaff, N::Routed),
            ],
        ),
        (Action::Accept { .. }, S::Assessing) => (
            S::Accepted,
            vec![
                StopDeadline(Stage::Assessment),
                Effect::CreatePlanItem,
                Notify(R::Requester, N::Accepted),
            ],
        ),
        (Action::Decline { .. }, S::Assessing) => (
            S::Declined,
            vec![StopDeadline(Stage::Assessment), Notify(R::Requester, N::Declined)],
        ),
        (Action::AlreadyOpen { .. }, S::Assessing) => (
            S::AlreadyOpen,
            vec![StopDeadline(Stage::Assessment), Notify(R::Requester, N::AlreadyOpen)],
        ),
        (Action::Fulfil, S::Accepted | S::AlreadyOpen) => (S::Fulfilled, vec![Notify(R::Requester, N::Fulfilled)]),
        (Action::Withdraw, S::Submitted) => (
            S::Withdrawn,
            vec![StopDeadline(Stage::Routing), Notify(R::Admins, N::Withdrawn)],
        ),
        (Action::Withdraw, S::Assessing) => (
            S::Withdrawn,
            vec![StopDeadline(Stage::Assessment), Notify(R::ProviderStaff, N::Withdrawn)],
        ),
        (Action::PlanCancelled { .. }, S::Accepted) => (S::Declined, vec![Notify(R::Requester, N::PlanCancelled)]),
        _ => {
            return Err(DomainError::InvalidTransition {
                from: state.as_str().to_string(),
                action: action.name().to_string(),
            })
        }
    };
    check_content(action, ctx.provider_org_id)?;
    Ok(Transition { to, effects })
}

fn check_content(action: &Action, current_provider: Option<i64>) -> Result<(), DomainError> {
    let mut c = Checks::new();
    match action {
        Action::Route { provider_org_id } => {
            c.check(*provider_org_id > 0, "provider_org_id", "required");
            c.check(
                current_provider != Some(*provider_org_id),
                "provider_org_id",
                "same_provider",
            );
        }
        Action::Accept { reply } | Action::AlreadyOpen { reply, .. } => {
            c.length(reply.trim(), "reply", 0, REASON_MAX);
        }
        Action::Decline { reason } => {
            c.length(reason.trim(), "reason", 2, REASON_MAX);
        }
        Action::PlanCancelled { reason } => {
            c.length(reason.trim(), "reason", 0, REASON_MAX);
        }
        Action::Fulfil | Action::Withdraw => {}
    }
    c.finish()
}

/// The resource an `already_open` answer points to, as given (`given`) and as the service found
/// it: a resource id, found, and published and open now.
pub fn open_resource(found: Option<&ResourceRef>, given: &str) -> Result<i64, DomainError> {
    let given = given.trim();
    let code = if given.is_empty() {
        "required"
    } else if !given.parse::<i64>().is_ok_and(|id| id > 0) {
        "resource_id"
    } else {
        match found {
            None => "not_found",
            Some(r) if !r.is_open() => "resource_not_published",
            Some(r) => return Ok(r.id),
        }
    };
    Err(DomainError::field("resource_id", code))
}

/// The plan the system files accepted demands under when the provider names none: one per
/// provider and year, from demand.
pub fn demand_plan(provider_org_id: i64, year: i32) -> OpenPlan {
    OpenPlan {
        provider_org_id,
        title: format!("{year}年度数据需求开放计划"),
        period_start: Date::new(year, 1, 1).unwrap_or(Date::MIN),
        period_end: Date::new(year, 12, 31).unwrap_or(Date::MAX),
        source: PlanSource::Demand,
    }
}

/// The plan item an acceptance creates, as the provider fills it in: the plan's item rules,
/// the planned date not in the past, and the link to the demand.
pub fn accepted_item(
    input: &NewPlanItem,
    plan: &OpenPlan,
    domains: &DomainList,
    today: Date,
    demand_id: i64,
) -> Result<PlanItem, DomainError> {
    let past = Date::parse_loose(input.planned_date.trim()).is_some_and(|d| d < today);
    let past = past.then(|| FieldError::new("planned_date", "period_in_past"));
    match (input.validate(plan, domains), past) {
        (Ok(mut item), None) => {
            item.demand_id = Some(demand_id);
            Ok(item)
        }
        (Ok(_), Some(e)) => Err(DomainError::Validation(vec![e])),
        (Err(DomainError::Validation(mut v)), Some(e)) => {
            v.push(e);
            Err(DomainError::Validation(v))
        }
        (Err(e), _) => Err(e),
    }
}

/// The year whose demand plan an item planned for `planned_date` (as typed) belongs to; today's
/// year when the date cannot be read (validation then names the date).
pub fn plan_year(planned_date: &str, today: Date) -> i32 {
    Date::parse_loose(planned_date.trim()).unwrap_or(today).year()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::valid_meta;
    use crate::metadata::{OpenType, ResourceMeta};
    use crate::policy::Membership;
    use crate::resource::{ResourceState, Status};

    use DemandState::{
        Accepted as ACCEPTED, AlreadyOpen as ALREADY_OPEN, Assessing as ASSESSING, Declined as DECLINED,
        Fulfilled as FULFILLED, Submitted as SUBMITTED, Withdrawn as WITHDRAWN,
    };

    const PROVIDER: i64 = 20;
    const OTHER_PROVIDER: i64 = 30;
    const REQUESTER: i64 = 7;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap_or_else(|| panic!("bad test date {s}"))
    }

    fn codes(r: Result<impl Sized, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn form() -> NewDemand {
        NewDemand {
            title: " 成都市公共充电桩位置与实时状态 ".into(),
            description: "希望开放全市公共充电桩的位置、运营单位、桩数和实时空闲状态。".into(),
            purpose: "开发新能源车主找桩导航小程序，免费提供给市民使用。".into(),
            domain: "城市建设".into(),
            provider_org_id: String::new(),
            idempotency_key: String::new(),
        }
    }

    fn demand(provider: Option<i64>) -> Demand {
        let mut f = form();
        f.provider_org_id = provider.map(|p| p.to_string()).unwrap_or_default();
        f.validate(&DomainList::standard(), provider.is_some()).unwrap()
    }

    fn callers() -> [(&'static str, Caller); 6] {
        let only = |f: fn(&mut Caller)| {
            let mut c = Caller::default();
            f(&mut c);
            c
        };
        [
            ("nobody", Caller::default()),
            ("requester", only(|c| c.requester = true)),
            ("admin", only(|c| c.admin = true)),
            ("assessor", only(|c| c.assessor = true)),
            ("other_provider", only(|c| c.other_provider = true)),
            ("system", Caller::system()),
        ]
    }

    fn ctx(caller: Caller) -> Context {
        Context {
            caller,
            rules: Rules::default(),
            provider_org_id: Some(PROVIDER),
        }
    }

    fn actions() -> [Action; 7] {
        [
            Action::Route {
                provider_org_id: OTHER_PROVIDER,
            },
            Action::Accept { reply: String::new() },
            Action::Decline {
                reason: "该数据涉及企业商业秘密，暂不具备开放条件".into(),
            },
            Action::AlreadyOpen {
                resource_id: 5,
                reply: "请使用已开放的充电设施目录".into(),
            },
            Action::Fulfil,
            Action::Withdraw,
            Action::PlanCancelled {
                reason: "该计划事项因数据源系统停用而取消".into(),
            },
        ]
    }

    #[test]
    fn every_state_action_and_role() {
        // Columns: nobody, requester, admin, assessor, other_provider, system. O = allowed (to
        // the given state), F = Forbidden, C = Conflict (not routed to you), I = InvalidTransition.
        let table: [(DemandState, &str, &str, Option<DemandState>); 49] = [
            (SUBMITTED, "route", "FFOFFF", Some(ASSESSING)),
            (SUBMITTED, "accept", "FFFICF", None),
            (SUBMITTED, "decline", "FFFICF", None),
            (SUBMITTED, "already_open", "FFFICF", None),
            (SUBMITTED, "fulfil", "FFFFFI", None),
            (SUBMITTED, "withdraw", "FOFFFF", Some(WITHDRAWN)),
            (SUBMITTED, "plan_cancelled", "FFFFFI", None),
            (ASSESSING, "route", "FFOFFF", Some(ASSESSING)),
            (ASSESSING, "accept", "FFFOCF", Some(ACCEPTED)),
            (ASSESSING, "decline", "FFFOCF", Some(DECLINED)),
            (ASSESSING, "already_open", "FFFOCF", Some(ALREADY_OPEN)),
            (ASSESSING, "fulfil", "FFFFFI", None),
            (ASSESSING, "withdraw", "FOFFFF", Some(WITHDRAWN)),
            (ASSESSING, "plan_cancelled", "FFFFFI", None),
            (ACCEPTED, "route", "FFIFFF", None),
            (ACCEPTED, "accept", "FFFICF", None),
            (ACCEPTED, "decline", "FFFICF", None),
            (ACCEPTED, "already_open", "FFFICF", None),
            (ACCEPTED, "fulfil", "FFFFFO", Some(FULFILLED)),
            (ACCEPTED, "withdraw", "FIFFFF", None),
            (ACCEPTED, "plan_cancelled", "FFFFFO", Some(DECLINED)),
            (DECLINED, "route", "FFIFFF", None),
            (DECLINED, "accept", "FFFICF", None),
            (DECLINED, "decline", "FFFICF", None),
            (DECLINED, "already_open", "FFFICF", None),
            (DECLINED, "fulfil", "FFFFFI", None),
            (DECLINED, "withdraw", "FIFFFF", None),
            (DECLINED, "plan_cancelled", "FFFFFI", None),
            (ALREADY_OPEN, "route", "FFIFFF", None),
            (ALREADY_OPEN, "accept", "FFFICF", None),
            (ALREADY_OPEN, "decline", "FFFICF", None),
            (ALREADY_OPEN, "already_open", "FFFICF", None),
            (ALREADY_OPEN, "fulfil", "FFFFFO", Some(FULFILLED)),
            (ALREADY_OPEN, "withdraw", "FIFFFF", None),
            (ALREADY_OPEN, "plan_cancelled", "FFFFFI", None),
            (FULFILLED, "route", "FFIFFF", None),
            (FULFILLED, "accept", "FFFICF", None),
            (FULFILLED, "decline", "FFFICF", None),
            (FULFILLED, "already_open", "FFFICF", None),
            (FULFILLED, "fulfil", "FFFFFI", None),
            (FULFILLED, "withdraw", "FIFFFF", None),
            (FULFILLED, "plan_cancelled", "FFFFFI", None),
            (WITHDRAWN, "route", "FFIFFF", None),
            (WITHDRAWN, "accept", "FFFICF", None),
            (WITHDRAWN, "decline", "FFFICF", None),
            (WITHDRAWN, "already_open", "FFFICF", None),
            (WITHDRAWN, "fulfil", "FFFFFI", None),
            (WITHDRAWN, "withdraw", "FIFFFF", None),
            (WITHDRAWN, "plan_cancelled", "FFFFFI", None),
        ];
        let actions = actions();
        for (from, name, outcomes, to) in table {
            let action = actions.iter().find(|a| a.name() == name).expect("known action");
            for ((who, caller), want) in callers().into_iter().zip(outcomes.chars()) {
                let got = apply(from, action, ctx(caller));
                let case = format!("{} {name} by {who}", from.as_str());
                match (want, got) {
                    ('O', Ok(t)) => assert_eq!(Some(t.to), to, "{case}"),
                    ('F', Err(DomainError::Forbidden)) => {}
                    (
                        'C',
                        Err(DomainError::Conflict {
                            code: "demand_not_routed_to_you",
                            ..
                        }),
                    ) => {}
                    ('I', Err(DomainError::InvalidTransition { from: f, action: a })) => {
                        assert_eq!((f.as_str(), a.as_str()), (from.as_str(), name), "{case}");
                    }
                    (want, got) => panic!("{case}: expected {want}, got {got:?}"),
                }
            }
        }
        for s in DemandState::ALL {
            for a in &actions {
                assert_eq!(table.iter().filter(|r| r.0 == s && r.1 == a.name()).count(), 1);
            }
        }
    }

    #[test]
    fn effects_tell_the_service_what_else_to_do() {
        use Effect::{CreatePlanItem, Notify, StartDeadline, StopDeadline};
        use NoticeKind as N;
        use Recipient as R;
        let [_, requester, admin, assessor, _, system] = callers().map(|c| c.1);
        let [route, accept, decline, already_open, fulfil, withdraw, cancelled] = actions();
        let table = [
            (
                SUBMITTED,
                &route,
                admin,
                vec![
                    StopDeadline(Stage::Routing),
                    StartDeadline(Stage::Assessment, 10),
                    Notify(R::ProviderStaff, N::Routed),
                    Notify(R::Requester, N::InAssessment),
                ],
            ),
            (
                ASSESSING,
                &route,
                admin,
                vec![
                    StopDeadline(Stage::Assessment),
                    StartDeadline(Stage::Assessment, 10),
                    Notify(R::ProviderStaff, N::Routed),
                ],
            ),
            (
                ASSESSING,
                &accept,
                assessor,
                vec![
                    StopDeadline(Stage::Assessment),
                    CreatePlanItem,
                    Notify(R::Requester, N::Accepted),
                ],
            ),
            (
                ASSESSING,
                &decline,
                assessor,
                vec![StopDeadline(Stage::Assessment), Notify(R::Requester, N::Declined)],
            ),
            (
                ASSESSING,
                &already_open,
                assessor,
                vec![StopDeadline(Stage::Assessment), Notify(R::Requester, N::AlreadyOpen)],
            ),
            (ACCEPTED, &fulfil, system, vec![Notify(R::Requester, N::Fulfilled)]),
            (ALREADY_OPEN, &fulfil, system, vec![Notify(R::Requester, N::Fulfilled)]),
            (
                SUBMITTED,
                &withdraw,
                requester,
                vec![StopDeadline(Stage::Routing), Notify(R::Admins, N::Withdrawn)],
            ),
            (
                ASSESSING,
                &withdraw,
                requester,
                vec![StopDeadline(Stage::Assessment), Notify(R::ProviderStaff, N::Withdrawn)],
            ),
            (
                ACCEPTED,
                &cancelled,
                system,
                vec![Notify(R::Requester, N::PlanCancelled)],
            ),
        ];
        for (from, action, caller, effects) in table {
            let t = apply(from, action, ctx(caller)).unwrap();
            assert_eq!(t.effects, effects, "{} {}", from.as_str(), action.name());
        }
        // Configured deadlines travel with the effect.
        let quick = Context {
            rules: Rules {
                assessment_days: 7,
                ..Rules::default()
            },
            ..ctx(admin)
        };
        assert_eq!(
            apply(SUBMITTED, &route, quick).unwrap().effects[1],
            StartDeadline(Stage::Assessment, 7)
        );
    }

    #[test]
    fn submission_goes_to_the_named_provider_or_to_routing() {
        use Effect::{Notify, StartDeadline};
        let rules = Rules::default();
        let named = submit(&demand(Some(PROVIDER)), &rules);
        assert_eq!(named.to, ASSESSING);
        assert_eq!(
            named.effects,
            vec![
                StartDeadline(Stage::Assessment, 10),
                Notify(Recipient::ProviderStaff, NoticeKind::Routed)
            ]
        );
        let unnamed = submit(&demand(None), &rules);
        assert_eq!(unnamed.to, SUBMITTED);
        assert_eq!(
            unnamed.effects,
            vec![
                StartDeadline(Stage::Routing, 2),
                Notify(Recipient::Admins, NoticeKind::Submitted)
            ]
        );
        assert_eq!(
            DemandState::ALL.map(DemandState::stage),
            [
                Some(Stage::Routing),
                Some(Stage::Assessment),
                None,
                None,
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn submission_rules() {
        type Edit = fn(&mut NewDemand);
        let table: Vec<(&str, Edit, bool, Vec<&str>)> = vec![
            ("complete", |_| {}, false, vec![]),
            (
                "title missing",
                |f| f.title = "  ".into(),
                false,
                vec!["title:required"],
            ),
            ("title short", |f| f.title = "桩".into(), false, vec!["title:length"]),
            (
                "title long",
                |f| f.title = "桩".repeat(101),
                false,
                vec!["title:length"],
            ),
            (
                "description short",
                |f| f.description = "要数据".into(),
                false,
                vec!["description:length"],
            ),
            (
                "purpose missing",
                |f| f.purpose = String::new(),
                false,
                vec!["purpose:required"],
            ),
            (
                "domain unknown",
                |f| f.domain = "星际航行".into(),
                false,
                vec!["domain:domain"],
            ),
            (
                "domain missing",
                |f| f.domain = " ".into(),
                false,
                vec!["domain:required"],
            ),
            (
                "domain by key",
                |f| f.domain = "urban_construction".into(),
                false,
                vec![],
            ),
            (
                "provider not a number",
                |f| f.provider_org_id = "交通厅".into(),
                false,
                vec!["provider_org_id:org_id"],
            ),
            (
                "provider unknown",
                |f| f.provider_org_id = "99".into(),
                false,
                vec!["provider_org_id:not_a_provider"],
            ),
            ("provider known", |f| f.provider_org_id = "20".into(), true, vec![]),
            (
                "key with spaces",
                |f| f.idempotency_key = "a b".into(),
                false,
                vec!["idempotency_key:idempotency_key"],
            ),
            (
                "key too long",
                |f| f.idempotency_key = "k".repeat(101),
                false,
                vec!["idempotency_key:idempotency_key"],
            ),
            ("key", |f| f.idempotency_key = " 4f1c-77 ".into(), false, vec![]),
            (
                "everything wrong",
                |f| {
                    *f = NewDemand {
                        provider_org_id: "-3".into(),
                        ..NewDemand::default()
                    }
                },
                false,
                vec![
                    "title:required",
                    "description:required",
                    "purpose:required",
                    "domain:required",
                    "provider_org_id:org_id",
                ],
            ),
        ];
        let domains = DomainList::standard();
        for (case, edit, provider_exists, want) in table {
            let mut f = form();
            edit(&mut f);
            assert_eq!(codes(f.validate(&domains, provider_exists)), want, "{case}");
        }
        let ok = form().validate(&domains, false).unwrap();
        assert_eq!(ok.title, "成都市公共充电桩位置与实时状态");
        assert_eq!(ok.domain.key(), domains.parse("城市建设").unwrap().key());
        assert_eq!(ok.provider_org_id, None);
        let mut keyed = form();
        keyed.idempotency_key = " 4f1c-77 ".into();
        assert_eq!(keyed.idempotency_key(), Some("4f1c-77"));
        assert_eq!(form().idempotency_key(), None);
        // JSON may give the provider as a number.
        let json: NewDemand = serde_json::from_str(r#"{"title": "x", "provider_org_id": 20}"#).unwrap();
        assert_eq!(json.named_provider(), Some(20));
    }

    #[test]
    fn resubmitted_text_is_the_same_demand() {
        let with = |edit: fn(&mut NewDemand)| {
            let mut f = form();
            edit(&mut f);
            f.validate(&DomainList::standard(), true).unwrap().fingerprint()
        };
        let first = with(|_| {});
        assert_eq!(first.len(), 64);
        assert_eq!(with(|_| {}), first);
        // Blanks around and inside the text do not make another demand.
        assert_eq!(
            with(|f| f.description = format!("\n {} ", f.description.replace('，', "，  "))),
            with(|f| f.description = f.description.replace('，', "， "))
        );
        assert_eq!(with(|f| f.title = format!("{}\n", f.title)), first);
        // Any change of content does.
        assert_ne!(with(|f| f.purpose.push('！')), first);
        assert_ne!(with(|f| f.domain = "民生服务".into()), first);
        assert_ne!(with(|f| f.provider_org_id = "20".into()), first);
    }

    #[test]
    fn decisions_need_their_content() {
        let [_, _, admin, assessor, ..] = callers().map(|c| c.1);
        let table = [
            (
                ASSESSING,
                Action::Decline { reason: " ".into() },
                assessor,
                vec!["reason:required"],
            ),
            (
                ASSESSING,
                Action::Decline { reason: "否".into() },
                assessor,
                vec!["reason:length"],
            ),
            (
                ASSESSING,
                Action::Accept {
                    reply: "答".repeat(1001),
                },
                assessor,
                vec!["reply:length"],
            ),
            (
                ASSESSING,
                Action::AlreadyOpen {
                    resource_id: 5,
                    reply: "复".repeat(1001),
                },
                assessor,
                vec!["reply:length"],
            ),
            (
                ASSESSING,
                Action::Route {
                    provider_org_id: PROVIDER,
                },
                admin,
                vec!["provider_org_id:same_provider"],
            ),
            (
                SUBMITTED,
                Action::Route { provider_org_id: 0 },
                admin,
                vec!["provider_org_id:required"],
            ),
            (ASSESSING, Action::Accept { reply: String::new() }, assessor, vec![]),
        ];
        for (from, action, caller, want) in table {
            assert_eq!(codes(apply(from, &action, ctx(caller))), want, "{}", action.name());
        }
        assert_eq!(
            Action::Decline {
                reason: " 理由 ".into()
            }
            .text(),
            Some("理由")
        );
        assert_eq!(Action::Accept { reply: " ".into() }.text(), None);
    }

    fn actor(user_id: i64, roles: &[(Role, Option<i64>)]) -> Actor {
        Actor {
            user_id: Some(user_id),
            sysadmin: false,
            memberships: roles
                .iter()
                .map(|(role, org_id)| Membership {
                    org_id: *org_id,
                    org_kind: org_id.map(|_| role.org_kind()),
                    role: *role,
                })
                .collect(),
        }
    }

    #[test]
    fn callers_come_from_memberships() {
        let of = |a: &Actor, provider| Caller::of(a, REQUESTER, provider);
        let requester = actor(REQUESTER, &[(Role::Consumer, None)]);
        assert_eq!(
            of(&requester, Some(PROVIDER)),
            Caller {
                requester: true,
                ..Caller::default()
            }
        );
        for role in [Role::ProviderManager, Role::ProviderEditor, Role::ProviderReviewer] {
            let staff = actor(8, &[(role, Some(PROVIDER))]);
            assert_eq!(
                of(&staff, Some(PROVIDER)),
                Caller {
                    assessor: true,
                    ..Caller::default()
                },
                "{role:?}"
            );
            assert_eq!(
                of(&staff, Some(OTHER_PROVIDER)),
                Caller {
                    other_provider: true,
                    ..Caller::default()
                }
            );
            assert!(of(&staff, None).other_provider, "not routed yet");
        }
        let admin = actor(8, &[(Role::AdminReviewer, Some(1))]);
        assert!(of(&admin, None).admin && of(&admin, None).sees_details());
        assert!(of(&actor(8, &[(Role::AdminManager, Some(1))]), None).admin);
        assert_eq!(
            of(&actor(8, &[(Role::Consumer, None)]), Some(PROVIDER)),
            Caller::default()
        );
        assert!(!of(&actor(8, &[(Role::Consumer, None)]), Some(PROVIDER)).sees_details());
        assert!(!of(
            &actor(8, &[(Role::ProviderEditor, Some(OTHER_PROVIDER))]),
            Some(PROVIDER)
        )
        .sees_details());
        assert_eq!(of(&Actor::console(), Some(PROVIDER)), Caller::default());
    }

    #[test]
    fn nobody_assesses_their_own_demand() {
        let both = actor(REQUESTER, &[(Role::ProviderManager, Some(PROVIDER))]);
        let caller = Caller::of(&both, REQUESTER, Some(PROVIDER));
        assert!(caller.requester && caller.assessor);
        let decline = Action::Decline {
            reason: "不予采纳的理由".into(),
        };
        assert_eq!(apply(ASSESSING, &decline, ctx(caller)), Err(DomainError::Forbidden));
        // Someone else's demand is theirs to assess.
        let other = Caller::of(&both, 99, Some(PROVIDER));
        assert_eq!(apply(ASSESSING, &decline, ctx(other)).unwrap().to, DECLINED);
    }

    #[test]
    fn only_logged_in_people_submit() {
        assert!(matches!(
            may_submit(&Actor::anonymous()),
            Err(DomainError::Unauthenticated { .. })
        ));
        assert_eq!(may_submit(&Actor::console()), Err(DomainError::Forbidden));
        assert_eq!(may_submit(&actor(REQUESTER, &[(Role::Consumer, None)])), Ok(REQUESTER));
        assert_eq!(may_submit(&actor(8, &[(Role::ProviderEditor, Some(PROVIDER))])), Ok(8));
    }

    fn meta(open_type: OpenType) -> ResourceMeta {
        let mut m = valid_meta();
        m.open_type = open_type;
        if open_type == OpenType::Conditional {
            m.open_conditions = Some("仅限科研用途。".into());
        }
        m
    }

    #[test]
    fn already_open_points_to_a_published_resource() {
        let open = meta(OpenType::Unconditional);
        let conditional = meta(OpenType::Conditional);
        let r = |id, state, meta| ResourceRef {
            id,
            provider_org_id: OTHER_PROVIDER,
            status: Status::new(state),
            meta,
        };
        assert_eq!(open_resource(Some(&r(5, ResourceState::Published, &open)), "5"), Ok(5));
        // Another department's conditional resource answers a demand as well.
        assert_eq!(
            open_resource(Some(&r(6, ResourceState::Published, &conditional)), "6"),
            Ok(6)
        );
        for state in [
            ResourceState::Draft,
            ResourceState::PendingReview,
            ResourceState::Withdrawn,
        ] {
            assert_eq!(
                codes(open_resource(Some(&r(5, state, &open)), "5")),
                vec!["resource_id:resource_not_published"],
                "{state:?}"
            );
        }
        assert_eq!(codes(open_resource(None, "77")), vec!["resource_id:not_found"]);
        assert_eq!(codes(open_resource(None, " ")), vec!["resource_id:required"]);
        assert_eq!(codes(open_resource(None, "x7")), vec!["resource_id:resource_id"]);
    }

    #[test]
    fn an_accepted_demand_plans_an_item() {
        let today = d("2025-09-30");
        let plan = demand_plan(PROVIDER, 2025);
        assert_eq!(plan.title, "2025年度数据需求开放计划");
        assert_eq!(
            (plan.period_start, plan.period_end, plan.source),
            (d("2025-01-01"), d("2025-12-31"), PlanSource::Demand)
        );
        let input = NewPlanItem {
            name: "公共充电桩位置".into(),
            domain: "城市建设".into(),
            open_type: "unconditional".into(),
            planned_date: "2025-12-01".into(),
            notes: String::new(),
            demand_id: None,
        };
        let item = accepted_item(&input, &plan, &DomainList::standard(), today, 42).unwrap();
        assert_eq!((item.demand_id, item.name.as_str()), (Some(42), "公共充电桩位置"));
        let past = NewPlanItem {
            planned_date: "2025-09-29".into(),
            ..input.clone()
        };
        assert_eq!(
            codes(accepted_item(&past, &plan, &DomainList::standard(), today, 42)),
            vec!["planned_date:period_in_past"]
        );
        let bad = NewPlanItem {
            open_type: "not_open".into(),
            planned_date: "2025-01-02".into(),
            ..input.clone()
        };
        assert_eq!(
            codes(accepted_item(&bad, &plan, &DomainList::standard(), today, 42)),
            vec!["open_type:not_open", "planned_date:period_in_past"]
        );
        assert_eq!(plan_year("2026/03/01", today), 2026);
        assert_eq!(plan_year("soon", today), 2025);
    }

    #[test]
    fn states_have_stable_keys() {
        for s in DemandState::ALL {
            assert_eq!(DemandState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
            assert!(!s.name_zh().is_empty());
        }
        assert_eq!(DemandState::parse("open"), None);
        assert!(DemandState::Fulfilled.is_answered() && !DemandState::Assessing.is_answered());
        let rules: Rules = serde_json::from_str(r#"{"assessment_days": 15}"#).unwrap();
        assert_eq!(
            rules,
            Rules {
                assessment_days: 15,
                ..Rules::default()
            }
        );
        assert_eq!((rules.days(Stage::Routing), rules.days(Stage::Assessment)), (2, 15));
        assert_eq!(NoticeKind::AlreadyOpen.as_str(), "demand_already_open");
    }
}
