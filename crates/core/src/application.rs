//! 数据申请 and 授权 — a consumer's application for data and the grants it leads to (DESIGN §4,
//! steps 4–8 of the standard): the inputs and their validation, who may move an application between
//! states, the approval scope, the grant life cycle, and the working-day deadline of each stage.
//! Pure: the service stores what [`apply`] decides and carries out its [`Effect`]s.
//!
//! Two ways in. Unconditional (无条件开放) data needs no application: a logged-in consumer accepts
//! the usage terms ([`accept_terms`]) and is granted at once. Conditional (有条件开放) data is
//! applied for with a [`NewApplication`]: saved as a `draft` (light checks, [`NewApplication::check_draft`]),
//! then submitted (every rule, [`NewApplication::validate`]) to the administration institution's
//! pre-review, which rejects it, asks for what is missing (`needs_info`, answered back into
//! `pre_review`) or forwards it to the provider's review. The provider approves with a [`Scope`],
//! which creates the grants, or refuses; a refusal reaches the applicant only through the
//! administration institution (告知, §5.4.7), which relays it (rewording it if need be, the
//! provider's reason kept) — or the system relays it after a configurable number of working days.
//!
//! DESIGN's `approved` and `relayed` are not resting states here: the approval carries its scope
//! and creates the grants in the same step (so the application is `granted` at once), and relaying
//! a refusal is the step that makes the application `rejected`.
//!
//! Who may act: the applicant (the consumer who owns the application) submits, answers and
//! withdraws (before any decision: from `draft`, `pre_review`, `needs_info`, `provider_review`);
//! the administration institution's reviewers and managers pre-review and relay; the reviewers and
//! managers of the provider that owns the requested resources review; the system relays
//! automatically and expires grants. Nobody decides on their own application. An application covers
//! the resources of one provider only, so exactly one department reviews it; the UI splits a
//! basket of several providers' resources into one application per provider.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::calendar::{Date, WorkCalendar, PRE_REVIEW_DAYS, PROVIDER_REVIEW_DAYS, RELAY_DAYS};
use crate::error::{Checks, DomainError, FieldError};
use crate::metadata::{loose, OpenType, ResourceMeta, MAX_FIELDS};
use crate::policy::Actor;
use crate::resource::Status as ResourceStatus;
use crate::user::Role;

/// The most resources one application may request.
pub const MAX_RESOURCES: usize = 20;
/// The most row filters one resource's scope may carry.
pub const MAX_FILTERS: usize = 20;
/// 使用期限 — the longest period of use by default: one year.
pub const DEFAULT_MAX_PERIOD_MONTHS: u32 = 12;
/// Purpose, scenario and security measures say something concrete: at least this many characters.
const TEXT_MIN: usize = 10;
const TEXT_MAX: usize = 2000;
const REASON_MAX: usize = 1000;

/// Where an application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    /// 草稿 — saved by the applicant, seen by nobody else.
    Draft,
    /// 待初审 — submitted, awaiting the administration institution's 数据初审.
    PreReview,
    /// 待补充材料 — the administration institution asked for what is missing.
    NeedsInfo,
    /// 待审核 — forwarded to the provider's 数据审核.
    ProviderReview,
    /// 审核未通过，待告知 — refused by the provider; the administration institution is to tell the
    /// applicant.
    ProviderRejected,
    /// 已授权 — approved; the grants exist.
    Granted,
    /// 未通过 — refused at pre-review, or the provider's refusal relayed.
    Rejected,
    /// 已撤回 — withdrawn by the applicant.
    Withdrawn,
}

impl ApplicationState {
    pub const ALL: [ApplicationState; 8] = [
        ApplicationState::Draft,
        ApplicationState::PreReview,
        ApplicationState::NeedsInfo,
        ApplicationState::ProviderReview,
        ApplicationState::ProviderRejected,
        ApplicationState::Granted,
        ApplicationState::Rejected,
        ApplicationState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Draft => "draft",
            ApplicationState::PreReview => "pre_review",
            ApplicationState::NeedsInfo => "needs_info",
            ApplicationState::ProviderReview => "provider_review",
            ApplicationState::ProviderRejected => "provider_rejected",
            ApplicationState::Granted => "granted",
            ApplicationState::Rejected => "rejected",
            ApplicationState::Withdrawn => "withdrawn",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ApplicationState::Draft => "草稿",
            ApplicationState::PreReview => "待初审",
            ApplicationState::NeedsInfo => "待补充材料",
            ApplicationState::ProviderReview => "待审核",
            ApplicationState::ProviderRejected => "审核未通过，待告知",
            ApplicationState::Granted => "已授权",
            ApplicationState::Rejected => "未通过",
            ApplicationState::Withdrawn => "已撤回",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicationState> {
        ApplicationState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The stage whose deadline runs in this state (none while a draft, while the applicant
    /// supplies what is missing, and once decided).
    pub fn stage(self) -> Option<Stage> {
        match self {
            ApplicationState::PreReview => Some(Stage::PreReview),
            ApplicationState::ProviderReview => Some(Stage::ProviderReview),
            ApplicationState::ProviderRejected => Some(Stage::Relay),
            _ => None,
        }
    }

    /// Decided or withdrawn: nothing more happens to the application.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ApplicationState::Granted | ApplicationState::Rejected | ApplicationState::Withdrawn
        )
    }
}

/// A step that waits on a person, with a deadline in working days (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 数据初审 — the administration institution's pre-review.
    PreReview,
    /// 数据审核 — the provider's review.
    ProviderReview,
    /// 告知 — the administration institution relays the provider's refusal.
    Relay,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::PreReview, Stage::ProviderReview, Stage::Relay];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PreReview => "pre_review",
            Stage::ProviderReview => "provider_review",
            Stage::Relay => "relay",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Stage::PreReview => "数据初审",
            Stage::ProviderReview => "数据审核",
            Stage::Relay => "告知",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The deployment's settings for applications (`[application]` in `pubdata.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    /// 使用期限 — the period of use ends at most this many months after it starts.
    pub max_period_months: u32,
    pub pre_review_days: u32,
    pub provider_review_days: u32,
    pub relay_days: u32,
    /// Relay a provider's refusal automatically once this many working days have passed without
    /// the administration institution doing it; never when `None`.
    pub auto_relay_after_days: Option<u32>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_period_months: DEFAULT_MAX_PERIOD_MONTHS,
            pre_review_days: PRE_REVIEW_DAYS,
            provider_review_days: PROVIDER_REVIEW_DAYS,
            relay_days: RELAY_DAYS,
            auto_relay_after_days: None,
        }
    }
}

impl Rules {
    /// Working days a stage has.
    pub fn days(&self, stage: Stage) -> u32 {
        match stage {
            Stage::PreReview => self.pre_review_days,
            Stage::ProviderReview => self.provider_review_days,
            Stage::Relay => self.relay_days,
        }
    }

    /// The latest end of a period of use starting on `from`.
    pub fn latest_end(&self, from: Date) -> Date {
        add_months(from, self.max_period_months)
    }

    /// Whether the system should relay a refusal whose relay stage started on `relay_started`:
    /// auto relay is on and its working days have passed in full.
    pub fn auto_relay_due(&self, relay_started: Date, today: Date, calendar: &WorkCalendar) -> bool {
        self.auto_relay_after_days
            .is_some_and(|n| today > calendar.add_working_days(relay_started, n))
    }
}

/// The same day `months` later, or the month's last day when it has no such day (a period from
/// 29 February ends on 28 February).
fn add_months(date: Date, months: u32) -> Date {
    let index = i64::from(date.year()) * 12 + i64::from(date.month()) - 1 + i64::from(months);
    let (Ok(year), Ok(month)) = (i32::try_from(index / 12), u32::try_from(index % 12 + 1)) else {
        return Date::MAX;
    };
    (1..=date.day())
        .rev()
        .find_map(|day| Date::new(year, month, day))
        .unwrap_or(Date::MAX)
}

/// The deadline of one stage: started on a day, due a number of working days later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub stage: Stage,
    pub started: Date,
    pub due: Date,
}

impl Deadline {
    pub fn start(stage: Stage, started: Date, rules: &Rules, calendar: &WorkCalendar) -> Deadline {
        Deadline {
            stage,
            started,
            due: calendar.add_working_days(started, rules.days(stage)),
        }
    }

    /// 逾期 — the due day itself still counts as in time.
    pub fn overdue(&self, today: Date) -> bool {
        today > self.due
    }

    /// Working days past the due day (0 while in time).
    pub fn days_overdue(&self, today: Date, calendar: &WorkCalendar) -> i64 {
        calendar.working_days_between(self.due, today).max(0)
    }

    /// Working days the stage has taken up to `until` (its end, or today while open), which the
    /// evaluation counts.
    pub fn days_taken(&self, until: Date, calendar: &WorkCalendar) -> i64 {
        calendar.working_days_between(self.started, until).max(0)
    }
}

/// What validation needs to know about a requested resource; the service loads it.
#[derive(Debug, Clone, Copy)]
pub struct ResourceRef<'a> {
    pub id: i64,
    pub provider_org_id: i64,
    pub status: ResourceStatus,
    /// The published metadata.
    pub meta: &'a ResourceMeta,
}

impl ResourceRef<'_> {
    /// In the catalogue and opened: conditional or unconditional, never `not_open` or withdrawn.
    pub fn is_open(&self) -> bool {
        self.status.is_public() && self.meta.open_type.is_publishable()
    }
}

/// One resource of an application and the 数据项 wanted from it, as a form or JSON gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewRequest {
    #[serde(deserialize_with = "loose::text")]
    pub resource_id: String,
    /// Field names: a JSON array, or one string separated by commas.
    #[serde(deserialize_with = "loose::list")]
    pub fields: Vec<String>,
}

/// 数据申请材料 as a form or JSON gives it. Attachments travel separately and are checked by the
/// service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewApplication {
    /// 使用目的
    #[serde(deserialize_with = "loose::text")]
    pub purpose: String,
    /// 应用场景
    #[serde(deserialize_with = "loose::text")]
    pub scenario: String,
    pub resources: Vec<NewRequest>,
    /// 使用期限, first and last day.
    #[serde(deserialize_with = "loose::text")]
    pub period_from: String,
    #[serde(deserialize_with = "loose::text")]
    pub period_to: String,
    /// 数据安全保障措施
    #[serde(deserialize_with = "loose::text")]
    pub security_measures: String,
    /// 公共数据安全承诺书 accepted.
    #[serde(deserialize_with = "loose::flag")]
    pub commitment_accepted: bool,
}

/// A requested resource and its fields, in the resource's declared order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedResource {
    pub resource_id: i64,
    pub fields: Vec<String>,
}

/// A submitted application, every rule checked. Its security commitment was accepted (a
/// submission without it does not validate); the service records when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub purpose: String,
    pub scenario: String,
    pub resources: Vec<RequestedResource>,
    pub period_from: Date,
    pub period_to: Date,
    pub security_measures: String,
    /// The one provider whose resources these are, and whose staff review it.
    pub provider_org_id: i64,
}

impl Application {
    pub fn requested(&self, resource_id: i64) -> Option<&RequestedResource> {
        self.resources.iter().find(|r| r.resource_id == resource_id)
    }
}

fn required_text<'a>(c: &mut Checks, value: &'a str, field: &str) -> &'a str {
    let v = value.trim();
    c.length(v, field, TEXT_MIN, TEXT_MAX);
    v
}

/// A resource id: `required` when empty, `resource_id` when not a positive integer.
fn resource_id(c: &mut Checks, value: &str, field: &str) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() {
        c.push(FieldError::new(field, "required"));
        return None;
    }
    let id = v.parse::<i64>().ok().filter(|id| *id > 0);
    c.check(id.is_some(), field, "resource_id");
    id
}

fn date(c: &mut Checks, value: &str, field: &str) -> Option<Date> {
    let v = value.trim();
    if v.is_empty() {
        c.push(FieldError::new(field, "required"));
        return None;
    }
    let d = Date::parse_loose(v);
    c.check(d.is_some(), field, "date");
    d
}

/// The named fields of a resource, matched exactly or ignoring ASCII case, in declared order.
/// Each name matching nothing is reported with `unknown_code`; `required` when none is named.
fn pick_fields(c: &mut Checks, names: &[String], declared: &[String], field: &str, unknown_code: &str) -> Vec<String> {
    let mut picked = HashSet::new();
    let mut given = 0;
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        given += 1;
        let found = declared
            .iter()
            .find(|d| *d == name)
            .or_else(|| declared.iter().find(|d| d.eq_ignore_ascii_case(name)));
        match found {
            Some(d) => {
                picked.insert(d.as_str());
            }
            None => c.push(FieldError::new(field, unknown_code).with("value", name)),
        }
    }
    c.check(given > 0, field, "required");
    declared
        .iter()
        .filter(|d| picked.contains(d.as_str()))
        .cloned()
        .collect()
}

impl NewApplication {
    /// The resource ids given, for the service to load before [`NewApplication::validate`].
    pub fn resource_ids(&self) -> Vec<i64> {
        self.resources
            .iter()
            .filter_map(|r| r.resource_id.trim().parse().ok())
            .collect()
    }

    /// What a draft must satisfy to be saved: nothing too long or too many, and ids and dates,
    /// where given, readable. Everything else waits for submission.
    pub fn check_draft(&self) -> Result<(), DomainError> {
        let mut c = Checks::new();
        for (value, field) in [
            (&self.purpose, "purpose"),
            (&self.scenario, "scenario"),
            (&self.security_measures, "security_measures"),
        ] {
            c.length(value.trim(), field, 0, TEXT_MAX);
        }
        if self.resources.len() > MAX_RESOURCES {
            c.push(FieldError::new("resources", "count").with("max", MAX_RESOURCES));
        }
        for (i, r) in self.resources.iter().enumerate() {
            if !r.resource_id.trim().is_empty() {
                resource_id(&mut c, &r.resource_id, &format!("resources[{i}].resource_id"));
            }
            if r.fields.len() > MAX_FIELDS {
                c.push(FieldError::new(&format!("resources[{i}].fields"), "count").with("max", MAX_FIELDS));
            }
        }
        for (value, field) in [(&self.period_from, "period_from"), (&self.period_to, "period_to")] {
            if !value.trim().is_empty() {
                date(&mut c, value, field);
            }
        }
        c.finish()
    }

    /// Every rule of a submission, all problems reported at once. `resources` are the requested
    /// ones the service found (a missing one is `not_found`); `today` is the civil date in China.
    pub fn validate(&self, resources: &[ResourceRef], today: Date, rules: &Rules) -> Result<Application, DomainError> {
        let mut c = Checks::new();
        let purpose = required_text(&mut c, &self.purpose, "purpose");
        let scenario = required_text(&mut c, &self.scenario, "scenario");
        let (requested, provider) = self.check_resources(&mut c, resources);
        let period = check_period(&mut c, &self.period_from, &self.period_to, today, rules);
        let security_measures = required_text(&mut c, &self.security_measures, "security_measures");
        c.check(self.commitment_accepted, "commitment_accepted", "commitment_required");
        c.finish()?;
        let (period_from, period_to) = period.expect("checked above");
        Ok(Application {
            purpose: purpose.to_string(),
            scenario: scenario.to_string(),
            resources: requested,
            period_from,
            period_to,
            security_measures: security_measures.to_string(),
            provider_org_id: provider.expect("checked above"),
        })
    }

    fn check_resources(&self, c: &mut Checks, found: &[ResourceRef]) -> (Vec<RequestedResource>, Option<i64>) {
        c.check(!self.resources.is_empty(), "resources", "required");
        if self.resources.len() > MAX_RESOURCES {
            c.push(FieldError::new("resources", "count").with("max", MAX_RESOURCES));
        }
        let (mut out, mut seen, mut providers) = (Vec::new(), HashSet::new(), Vec::new());
        let mut conditional = false;
        for (i, r) in self.resources.iter().enumerate() {
            let id_field = format!("resources[{i}].resource_id");
            let Some(id) = resource_id(c, &r.resource_id, &id_field) else {
                continue;
            };
            if !c.check(seen.insert(id), &id_field, "duplicate") {
                continue;
            }
            let Some(res) = found.iter().find(|f| f.id == id) else {
                c.push(FieldError::new(&id_field, "not_found"));
                continue;
            };
            if !c.check(res.is_open(), &id_field, "resource_not_open") {
                continue;
            }
            conditional |= res.meta.open_type == OpenType::Conditional;
            if !providers.contains(&res.provider_org_id) {
                providers.push(res.provider_org_id);
            }
            let declared: Vec<String> = res.meta.fields.iter().map(|f| f.name.clone()).collect();
            let fields_field = format!("resources[{i}].fields");
            let fields = pick_fields(c, &r.fields, &declared, &fields_field, "field_not_in_resource");
            out.push(RequestedResource {
                resource_id: id,
                fields,
            });
        }
        if providers.len() > 1 {
            c.push(FieldError::new("resources", "multiple_providers").with("count", providers.len()));
        }
        // Unconditional data needs no application: its terms are accepted on the dataset page.
        if !out.is_empty() && out.len() == self.resources.len() && !conditional {
            c.push(FieldError::new("resources", "no_conditional_resource"));
        }
        (out, providers.first().copied())
    }
}

/// 使用期限: both days given, in order, starting today or later, at most the configured length.
fn check_period(c: &mut Checks, from: &str, to: &str, today: Date, rules: &Rules) -> Option<(Date, Date)> {
    let from = date(c, from, "period_from");
    let to = date(c, to, "period_to");
    if let Some(f) = from {
        c.check(f >= today, "period_from", "period_in_past");
    }
    let (from, to) = (from?, to?);
    if !c.check(from <= to, "period_to", "period_reversed") {
        return None;
    }
    let latest = rules.latest_end(from);
    if to > latest {
        c.push(
            FieldError::new("period_to", "period_too_long")
                .with("max_months", rules.max_period_months)
                .with("latest", latest),
        );
        return None;
    }
    Some((from, to))
}

/// The form for editing a submitted application (while `needs_info`), pre-filled.
impl From<&Application> for NewApplication {
    fn from(a: &Application) -> NewApplication {
        NewApplication {
            purpose: a.purpose.clone(),
            scenario: a.scenario.clone(),
            resources: a
                .resources
                .iter()
                .map(|r| NewRequest {
                    resource_id: r.resource_id.to_string(),
                    fields: r.fields.clone(),
                })
                .collect(),
            period_from: a.period_from.to_string(),
            period_to: a.period_to.to_string(),
            security_measures: a.security_measures.clone(),
            commitment_accepted: true,
        }
    }
}

/// How granted data may be obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessMethods {
    /// 文件下载
    pub download: bool,
    /// 接口调用 — the data API with the grant's AppKey.
    pub api: bool,
}

impl AccessMethods {
    pub const ALL: AccessMethods = AccessMethods {
        download: true,
        api: true,
    };

    fn parse_into(&mut self, input: &str) -> bool {
        match input.trim().to_ascii_lowercase().as_str() {
            "download" | "下载" | "文件下载" => self.download = true,
            "api" | "接口" | "接口调用" => self.api = true,
            _ => return false,
        }
        true
    }

    pub fn keys(self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.download {
            keys.push("download");
        }
        if self.api {
            keys.push("api");
        }
        keys
    }
}

/// A comparison of the data API (the same names, so a grant's filters apply as query filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Eq,
    /// One of several values, comma-separated.
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Text starting with the value.
    Prefix,
}

impl FilterOp {
    pub const ALL: [FilterOp; 7] = [
        FilterOp::Eq,
        FilterOp::In,
        FilterOp::Gt,
        FilterOp::Gte,
        FilterOp::Lt,
        FilterOp::Lte,
        FilterOp::Prefix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::In => "in",
            FilterOp::Gt => "gt",
            FilterOp::Gte => "gte",
            FilterOp::Lt => "lt",
            FilterOp::Lte => "lte",
            FilterOp::Prefix => "prefix",
        }
    }

    pub fn parse(s: &str) -> Option<FilterOp> {
        let s = s.trim().to_ascii_lowercase();
        FilterOp::ALL.into_iter().find(|op| op.as_str() == s)
    }
}

/// A row restriction of a grant: only rows where `field op value` hold are released. Only the
/// shape is checked here; the data API checks the value against the field's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowFilter {
    pub field: String,
    pub op: FilterOp,
    /// For `in`, the values joined by `,`.
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewRowFilter {
    #[serde(deserialize_with = "loose::text")]
    pub field: String,
    #[serde(deserialize_with = "loose::text")]
    pub op: String,
    #[serde(deserialize_with = "loose::text")]
    pub value: String,
}

/// What the provider grants of one requested resource, as a form or JSON gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewResourceScope {
    #[serde(deserialize_with = "loose::text")]
    pub resource_id: String,
    #[serde(deserialize_with = "loose::list")]
    pub fields: Vec<String>,
    pub filters: Vec<NewRowFilter>,
}

/// The approval scope as a form or JSON gives it. Requested resources left out are not granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewScope {
    pub resources: Vec<NewResourceScope>,
    #[serde(deserialize_with = "loose::text")]
    pub valid_from: String,
    #[serde(deserialize_with = "loose::text")]
    pub valid_to: String,
    /// `download` and/or `api`: a JSON array, or one string separated by commas.
    #[serde(deserialize_with = "loose::list")]
    pub methods: Vec<String>,
}

/// What the provider grants of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceScope {
    pub resource_id: i64,
    /// A non-empty subset of the requested fields, in declared order.
    pub fields: Vec<String>,
    pub filters: Vec<RowFilter>,
}

/// 审核通过的授权范围 — a validated approval: per resource its fields and row filters, and for all
/// of them one validity window within the requested period and the access methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub resources: Vec<ResourceScope>,
    pub valid_from: Date,
    pub valid_to: Date,
    pub methods: AccessMethods,
}

impl Scope {
    /// One grant per resource, active.
    pub fn grants(&self) -> Vec<Grant> {
        self.resources
            .iter()
            .map(|r| Grant {
                resource_id: r.resource_id,
                fields: Some(r.fields.clone()),
                filters: r.filters.clone(),
                methods: self.methods,
                valid_from: self.valid_from,
                valid_to: Some(self.valid_to),
                state: GrantState::Active,
            })
            .collect()
    }
}

impl NewScope {
    /// The approval form pre-filled with what was asked: every requested resource and field, the
    /// requested period (from today if it has begun), both access methods, no filters.
    pub fn as_requested(app: &Application, today: Date) -> NewScope {
        NewScope {
            resources: app
                .resources
                .iter()
                .map(|r| NewResourceScope {
                    resource_id: r.resource_id.to_string(),
                    fields: r.fields.clone(),
                    filters: Vec::new(),
                })
                .collect(),
            valid_from: app.period_from.max(today).to_string(),
            valid_to: app.period_to.to_string(),
            methods: AccessMethods::ALL.keys().into_iter().map(String::from).collect(),
        }
    }

    /// Checks the scope against the application and the resources as they are now (a resource
    /// withdrawn during the review is not granted: `resource_not_open`).
    pub fn validate(&self, app: &Application, resources: &[ResourceRef], today: Date) -> Result<Scope, DomainError> {
        let mut c = Checks::new();
        c.check(!self.resources.is_empty(), "resources", "required");
        let mut seen = HashSet::new();
        let mut scoped = Vec::new();
        for (i, r) in self.resources.iter().enumerate() {
            let id_field = format!("resources[{i}].resource_id");
            let Some(id) = resource_id(&mut c, &r.resource_id, &id_field) else {
                continue;
            };
            if !c.check(seen.insert(id), &id_field, "duplicate") {
                continue;
            }
            let Some(requested) = app.requested(id) else {
                c.push(FieldError::new(&id_field, "not_requested"));
                continue;
            };
            let open = resources.iter().any(|f| f.id == id && f.is_open());
            c.check(open, &id_field, "resource_not_open");
            let at = |part: &str| format!("resources[{i}].{part}");
            let fields = pick_fields(
                &mut c,
                &r.fields,
                &requested.fields,
                &at("fields"),
                "field_not_requested",
            );
            if r.filters.len() > MAX_FILTERS {
                c.push(FieldError::new(&at("filters"), "count").with("max", MAX_FILTERS));
            }
            let filters = r
                .filters
                .iter()
                .enumerate()
                .filter_map(|(j, f)| f.validate(&mut c, &fields, &at(&format!("filters[{j}]"))))
                .collect();
            scoped.push(ResourceScope {
                resource_id: id,
                fields,
                filters,
            });
        }
        let window = check_window(&mut c, self, app, today);
        let mut methods = AccessMethods::default();
        let mut given = false;
        for m in self.methods.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
            given = true;
            if !methods.parse_into(m) {
                c.push(FieldError::new("methods", "access_method").with("value", m));
            }
        }
        c.check(given, "methods", "required");
        c.finish()?;
        let (valid_from, valid_to) = window.expect("checked above");
        Ok(Scope {
            resources: scoped,
            valid_from,
            valid_to,
            methods,
        })
    }
}

/// The validity window: both days given, in order, within the requested period, not ended.
fn check_window(c: &mut Checks, s: &NewScope, app: &Application, today: Date) -> Option<(Date, Date)> {
    let from = date(c, &s.valid_from, "valid_from");
    let to = date(c, &s.valid_to, "valid_to");
    if let Some(f) = from {
        c.check(f >= app.period_from, "valid_from", "outside_requested_period");
    }
    if let Some(t) = to {
        c.check(t <= app.period_to, "valid_to", "outside_requested_period");
        c.check(t >= today, "valid_to", "period_in_past");
    }
    let (from, to) = (from?, to?);
    c.check(from <= to, "valid_to", "period_reversed").then_some((from, to))
}

impl NewRowFilter {
    fn validate(&self, c: &mut Checks, granted: &[String], at: &str) -> Option<RowFilter> {
        let (field_key, op_key, value_key) = (format!("{at}.field"), format!("{at}.op"), format!("{at}.value"));
        let name = self.field.trim();
        let field = if name.is_empty() {
            c.push(FieldError::new(&field_key, "required"));
            None
        } else {
            let found = granted.iter().find(|g| g.eq_ignore_ascii_case(name)).cloned();
            if found.is_none() {
                c.push(FieldError::new(&field_key, "field_not_granted").with("value", name));
            }
            found
        };
        let op = if self.op.trim().is_empty() {
            c.push(FieldError::new(&op_key, "required"));
            None
        } else {
            let op = FilterOp::parse(&self.op);
            c.check(op.is_some(), &op_key, "filter_op");
            op
        };
        let value = if op == Some(FilterOp::In) {
            let items: Vec<&str> = self
                .value
                .split([',', '，', '、'])
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            items.join(",")
        } else {
            self.value.trim().to_string()
        };
        c.check(!value.is_empty(), &value_key, "required");
        Some(RowFilter {
            field: field?,
            op: op?,
            value,
        })
    }
}

/// How the caller relates to the application; one person may hold several of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    /// The consumer who owns the application (or holds the grant).
    pub applicant: bool,
    /// admin_reviewer of the administration institution.
    pub admin_reviewer: bool,
    /// admin_manager of the administration institution.
    pub admin_manager: bool,
    /// provider_reviewer of the provider that owns the requested resources.
    pub provider_reviewer: bool,
    /// provider_manager of that provider.
    pub provider_manager: bool,
    /// The platform's background jobs (automatic relay, expiry); never a person.
    pub system: bool,
}

impl Caller {
    /// The caller's standing towards an application of `applicant_user_id` for resources of the
    /// provider `provider_org_id` (`None` while a draft names no resource yet).
    pub fn of(actor: &Actor, applicant_user_id: i64, provider_org_id: Option<i64>) -> Caller {
        let provider = |role| provider_org_id.is_some_and(|org| actor.has_role_in(role, org));
        Caller {
            applicant: actor.user_id == Some(applicant_user_id),
            admin_reviewer: actor.has_role(Role::AdminReviewer),
            admin_manager: actor.has_role(Role::AdminManager),
            provider_reviewer: provider(Role::ProviderReviewer),
            provider_manager: provider(Role::ProviderManager),
            system: false,
        }
    }

    pub const fn system() -> Caller {
        Caller {
            applicant: false,
            admin_reviewer: false,
            admin_manager: false,
            provider_reviewer: false,
            provider_manager: false,
            system: true,
        }
    }

    /// Administration institution staff deciding on someone else's application.
    fn is_admin(self) -> bool {
        (self.admin_reviewer || self.admin_manager) && !self.applicant
    }

    /// The owning provider's staff deciding on someone else's application.
    fn is_provider(self) -> bool {
        (self.provider_reviewer || self.provider_manager) && !self.applicant
    }

    /// Whether the caller may perform this kind of action at all (in some state).
    pub fn may(self, action: &Action) -> bool {
        match action {
            Action::Submit | Action::Answer { .. } | Action::Withdraw => self.applicant,
            Action::RequestInfo { .. } | Action::Reject { .. } | Action::Forward { .. } | Action::Relay { .. } => {
                self.is_admin()
            }
            Action::Approve { .. } | Action::ProviderReject { .. } => self.is_provider(),
            Action::AutoRelay => self.system,
        }
    }
}

/// What someone asks to do with an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 提交 — the draft goes to pre-review. Run [`NewApplication::validate`] first.
    Submit,
    /// 撤回 — before any decision.
    Withdraw,
    /// 补充材料 — the administration institution says what is missing.
    RequestInfo { missing: String },
    /// The applicant's answer; the application goes back to pre-review. Run
    /// [`NewApplication::validate`] on the edited application first.
    Answer { reply: String },
    /// 初审不通过 — with the reason the applicant will read.
    Reject { reason: String },
    /// 初审通过 — on to the provider, with an optional note (初审意见).
    Forward { note: String },
    /// 审核通过 — with the validated scope (see [`NewScope::validate`]).
    Approve { scope: Scope },
    /// 审核不通过 — with the reason; the administration institution relays it.
    ProviderReject { reason: String },
    /// 告知 — the provider's refusal reaches the applicant, in `wording` if given (the provider's
    /// reason is kept either way), or as the provider put it when empty.
    Relay { wording: String },
    /// The system relays the provider's reason as it is, once the relay stage has run out
    /// ([`Rules::auto_relay_due`]).
    AutoRelay,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Withdraw => "withdraw",
            Action::RequestInfo { .. } => "request_info",
            Action::Answer { .. } => "answer",
            Action::Reject { .. } => "reject",
            Action::Forward { .. } => "forward",
            Action::Approve { .. } => "approve",
            Action::ProviderReject { .. } => "provider_reject",
            Action::Relay { .. } => "relay",
            Action::AutoRelay => "auto_relay",
        }
    }
}

/// Who acts, under which settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub caller: Caller,
    pub rules: Rules,
}

/// Who a notice goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// The applicant (the grant holder, for grants).
    Applicant,
    /// The administration institution's reviewers and managers.
    Admins,
    /// The reviewers and managers of the provider that owns the resources.
    ProviderReviewers,
}

/// What a notice says; `as_str` is its translation key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    Submitted,
    InfoRequested,
    InfoProvided,
    Forwarded,
    Granted,
    /// Refused, at pre-review or relayed: the notice carries the reason.
    Rejected,
    /// The provider refused; the administration institution is to relay it.
    ProviderRejected,
    /// The system relayed a refusal the administration institution had not relayed in time.
    AutoRelayed,
    Withdrawn,
    GrantRevoked,
    GrantExpired,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Submitted => "application_submitted",
            NoticeKind::InfoRequested => "application_info_requested",
            NoticeKind::InfoProvided => "application_info_provided",
            NoticeKind::Forwarded => "application_forwarded",
            NoticeKind::Granted => "application_granted",
            NoticeKind::Rejected => "application_rejected",
            NoticeKind::ProviderRejected => "application_provider_rejected",
            NoticeKind::AutoRelayed => "application_auto_relayed",
            NoticeKind::Withdrawn => "application_withdrawn",
            NoticeKind::GrantRevoked => "grant_revoked",
            NoticeKind::GrantExpired => "grant_expired",
        }
    }
}

/// What the service must do besides storing the new state, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send a notice (inbox, and e-mail when configured).
    Notify(Recipient, NoticeKind),
    /// Open the stage's review record, due the given working days from today
    /// ([`Deadline::start`]).
    StartDeadline(Stage, u32),
    /// Close the stage's open review record (decided, or withdrawn under it).
    StopDeadline(Stage),
    /// Store these grants for the applicant, each with a new AppKey.
    CreateGrants(Vec<Grant>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: ApplicationState,
    pub effects: Vec<Effect>,
}

/// The one place application transitions are decided. Checks, in order: the caller's role for the
/// action (`Forbidden`), the action from this state (`InvalidTransition`), then the action's
/// content (`Validation`: reasons and replies), and for `AutoRelay` that it is configured
/// (`Conflict { code: "auto_relay_disabled" }`). The application's own content is
/// [`NewApplication::validate`]'s business and the scope [`NewScope::validate`]'s, run by the
/// caller before `Submit`, `Answer` and `Approve` because they need the resources.
pub fn apply(state: ApplicationState, action: &Action, ctx: Context) -> Result<Transition, DomainError> {
    use ApplicationState as S;
    use Effect::{Notify, StopDeadline};
    use NoticeKind as N;
    use Recipient as R;
    if !ctx.caller.may(action) {
        return Err(DomainError::Forbidden);
    }
    let start = |stage| Effect::StartDeadline(stage, ctx.rules.days(stage));
    let (to, effects) = match (action, state) {
        (Action::Submit, S::Draft) => (
            S::PreReview,
            vec![start(Stage::PreReview), Notify(R::Admins, N::Submitted)],
        ),
        (Action::Withdraw, S::Draft | S::PreReview | S::NeedsInfo | S::ProviderReview) => {
            (S::Withdrawn, withdrawal_effects(state))
        }
        (Action::RequestInfo { .. }, S::PreReview) => (
            S::NeedsInfo,
            vec![StopDeadline(Stage::PreReview), Notify(R::Applicant, N::InfoRequested)],
        ),
        // The applicant supplied what was missing: the pre-review starts afresh.
        (Action::Answer { .. }, S::NeedsInfo) => (
            S::PreReview,
            vec![start(Stage::PreReview), Notify(R::Admins, N::InfoProvided)],
        ),
        (Action::Reject { .. }, S::PreReview) => (
            S::Rejected,
            vec![StopDeadline(Stage::PreReview), Notify(R::Applicant, N::Rejected)],
        ),
        (Action::Forward { .. }, S::PreReview) => (
            S::ProviderReview,
            vec![
                StopDeadline(Stage::PreReview),
                start(Stage::ProviderReview),
                Notify(R::ProviderReviewers, N::Forwarded),
            ],
        ),
        (Action::Approve { scope }, S::ProviderReview) => (
            S::Granted,
            vec![
                StopDeadline(Stage::ProviderReview),
                Effect::CreateGrants(scope.grants()),
                Notify(R::Applicant, N::Granted),
            ],
        ),
        (Action::ProviderReject { .. }, S::ProviderReview) => (
            S::ProviderRejected,
            vec![
                StopDeadline(Stage::ProviderReview),
                start(Stage::Relay),
                Notify(R::Admins, N::ProviderRejected),
            ],
        ),
        (Action::Relay { .. }, S::ProviderRejected) => (
            S::Rejected,
            vec![StopDeadline(Stage::Relay), Notify(R::Applicant, N::Rejected)],
        ),
        (Action::AutoRelay, S::ProviderRejected) => {
            if ctx.rules.auto_relay_after_days.is_none() {
                return Err(DomainError::Conflict {
                    code: "auto_relay_disabled",
                    field: None,
                });
            }
            let effects = vec![
                StopDeadline(Stage::Relay),
                Notify(R::Applicant, N::Rejected),
                Notify(R::Admins, N::AutoRelayed),
            ];
            (S::Rejected, effects)
        }
        _ => {
            return Err(DomainError::InvalidTransition {
                from: state.as_str().to_string(),
                action: action.name().to_string(),
            })
        }
    };
    check_content(action)?;
    Ok(Transition { to, effects })
}

/// Whoever is handling the application hears that it was withdrawn.
fn withdrawal_effects(from: ApplicationState) -> Vec<Effect> {
    use NoticeKind::Withdrawn;
    match from {
        ApplicationState::PreReview => vec![
            Effect::StopDeadline(Stage::PreReview),
            Effect::Notify(Recipient::Admins, Withdrawn),
        ],
        ApplicationState::NeedsInfo => vec![Effect::Notify(Recipient::Admins, Withdrawn)],
        ApplicationState::ProviderReview => vec![
            Effect::StopDeadline(Stage::ProviderReview),
            Effect::Notify(Recipient::ProviderReviewers, Withdrawn),
        ],
        _ => vec![],
    }
}

fn check_content(action: &Action) -> Result<(), DomainError> {
    let mut c = Checks::new();
    match action {
        Action::RequestInfo { missing } => {
            c.length(missing.trim(), "missing", 2, REASON_MAX);
        }
        Action::Answer { reply } => {
            c.length(reply.trim(), "reply", 1, TEXT_MAX);
        }
        Action::Reject { reason } | Action::ProviderReject { reason } => {
            c.length(reason.trim(), "reason", 2, REASON_MAX);
        }
        Action::Forward { note } => {
            c.length(note.trim(), "note", 0, REASON_MAX);
        }
        Action::Relay { wording } => {
            c.length(wording.trim(), "wording", 0, REASON_MAX);
        }
        Action::Submit | Action::Withdraw | Action::Approve { .. } | Action::AutoRelay => {}
    }
    c.finish()
}

/// Whether the caller may edit the application now: the applicant, while a draft or while
/// supplying what the pre-review found missing.
pub fn can_edit(state: ApplicationState, caller: Caller) -> bool {
    caller.applicant && matches!(state, ApplicationState::Draft | ApplicationState::NeedsInfo)
}

/// Who may apply for data at all: a logged-in consumer.
pub fn may_apply(actor: &Actor) -> Result<(), DomainError> {
    if !actor.is_authenticated() {
        return Err(DomainError::Unauthenticated {
            reason: "login_required",
        });
    }
    if actor.has_role(Role::Consumer) {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// 无条件开放 — a logged-in consumer accepts the usage terms of an unconditional resource and is
/// granted it at once: every field, both access methods, from today with no end. Conditional
/// data needs an application (`resource_id: application_required`); data not open or withdrawn
/// is not granted (`resource_id: resource_not_open`); the terms must be accepted
/// (`terms_accepted: terms_required`).
pub fn accept_terms(
    actor: &Actor,
    resource: &ResourceRef,
    accepted: bool,
    today: Date,
) -> Result<Transition, DomainError> {
    may_apply(actor)?;
    let mut c = Checks::new();
    if c.check(resource.is_open(), "resource_id", "resource_not_open") {
        c.check(
            resource.meta.open_type == OpenType::Unconditional,
            "resource_id",
            "application_required",
        );
    }
    c.check(accepted, "terms_accepted", "terms_required");
    c.finish()?;
    let grant = Grant {
        resource_id: resource.id,
        fields: None,
        filters: Vec::new(),
        methods: AccessMethods::ALL,
        valid_from: today,
        valid_to: None,
        state: GrantState::Active,
    };
    Ok(Transition {
        to: ApplicationState::Granted,
        effects: vec![Effect::CreateGrants(vec![grant])],
    })
}

/// Where a grant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// 有效
    Active,
    /// 已到期 — its window ended.
    Expired,
    /// 已撤销 — revoked with a reason.
    Revoked,
}

impl GrantState {
    pub const ALL: [GrantState; 3] = [GrantState::Active, GrantState::Expired, GrantState::Revoked];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Active => "active",
            GrantState::Expired => "expired",
            GrantState::Revoked => "revoked",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            GrantState::Active => "有效",
            GrantState::Expired => "已到期",
            GrantState::Revoked => "已撤销",
        }
    }

    pub fn parse(s: &str) -> Option<GrantState> {
        GrantState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// 授权 — one resource granted to one consumer. The service adds the holder, the application and
/// the AppKey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub resource_id: i64,
    /// The granted fields; `None` is every field (unconditional data, whose fields anyone sees).
    pub fields: Option<Vec<String>>,
    /// Only rows matching all of these are released.
    pub filters: Vec<RowFilter>,
    pub methods: AccessMethods,
    pub valid_from: Date,
    /// The last valid day; `None` never ends (unconditional data).
    pub valid_to: Option<Date>,
    pub state: GrantState,
}

impl Grant {
    /// Active and within its window today.
    pub fn is_usable(&self, today: Date) -> bool {
        self.state == GrantState::Active && today >= self.valid_from && !self.has_ended(today)
    }

    /// Its last valid day has passed.
    pub fn has_ended(&self, today: Date) -> bool {
        self.valid_to.is_some_and(|to| today > to)
    }

    pub fn allows_field(&self, name: &str) -> bool {
        self.fields
            .as_ref()
            .is_none_or(|fields| fields.iter().any(|f| f.eq_ignore_ascii_case(name)))
    }

    pub fn allows(&self, method: AccessMethod) -> bool {
        match method {
            AccessMethod::Download => self.methods.download,
            AccessMethod::Api => self.methods.api,
        }
    }
}

/// One way of obtaining data, for [`Grant::allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessMethod {
    Download,
    Api,
}

/// What someone asks to do with a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantAction {
    /// 撤销 — by the administration institution or the provider owning the resource, with a
    /// reason the holder reads.
    Revoke { reason: String },
    /// 到期 — by the system, once the last valid day has passed.
    Expire,
}

impl GrantAction {
    pub fn name(&self) -> &'static str {
        match self {
            GrantAction::Revoke { .. } => "revoke",
            GrantAction::Expire => "expire",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantTransition {
    pub to: GrantState,
    pub effects: Vec<Effect>,
}

/// The grant life cycle: `active → expired | revoked`. The caller is [`Caller::of`] the holder and
/// the resource's provider. Checks the role (`Forbidden`), the state (`InvalidTransition`), the
/// reason (`Validation`), and that an expiring grant has ended (`Conflict { code:
/// "grant_not_ended" }`).
pub fn apply_grant(
    grant: &Grant,
    action: &GrantAction,
    caller: Caller,
    today: Date,
) -> Result<GrantTransition, DomainError> {
    let allowed = match action {
        GrantAction::Revoke { .. } => caller.is_admin() || caller.is_provider(),
        GrantAction::Expire => caller.system,
    };
    if !allowed {
        return Err(DomainError::Forbidden);
    }
    if grant.state != GrantState::Active {
        return Err(DomainError::InvalidTransition {
            from: grant.state.as_str().to_string(),
            action: action.name().to_string(),
        });
    }
    match action {
        GrantAction::Revoke { reason } => {
            let mut c = Checks::new();
            c.length(reason.trim(), "reason", 2, REASON_MAX);
            c.finish()?;
            // Whoever did not revoke hears of it.
            let other = if caller.is_admin() {
                Recipient::ProviderReviewers
            } else {
                Recipient::Admins
            };
            Ok(GrantTransition {
                to: GrantState::Revoked,
                effects: vec![
                    Effect::Notify(Recipient::Applicant, NoticeKind::GrantRevoked),
                    Effect::Notify(other, NoticeKind::GrantRevoked),
                ],
            })
        }
        GrantAction::Expire if !grant.has_ended(today) => Err(DomainError::Conflict {
            code: "grant_not_ended",
            field: None,
        }),
        GrantAction::Expire => Ok(GrantTransition {
            to: GrantState::Expired,
            effects: vec![Effect::Notify(Recipient::Applicant, NoticeKind::GrantExpired)],
        }),
    }
}
