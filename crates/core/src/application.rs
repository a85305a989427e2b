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
use crate::datastore_query::Op;
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

/// A row restriction of a grant: only rows where `field op value` hold are released. Only the
/// shape is checked here; the data API checks the value against the field's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowFilter {
    pub field: String,
    pub op: Op,
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
            let op = Op::parse_loose(&self.op);
            c.check(op.is_some(), &op_key, "filter_op");
            op
        };
        let value = if op == Some(Op::In) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldSpec, FieldType};
    use crate::metadata::tests::valid_meta;
    use crate::policy::Membership;
    use crate::resource::{ResourceState, RevisionState};

    use ApplicationState::{
        Draft as DRAFT, Granted as GRANTED, NeedsInfo as NEEDS_INFO, PreReview as PRE_REVIEW,
        ProviderRejected as PROVIDER_REJECTED, ProviderReview as PROVIDER_REVIEW, Rejected as REJECTED,
        Withdrawn as WITHDRAWN,
    };

    const PROVIDER: i64 = 20;
    const OTHER_PROVIDER: i64 = 30;
    const APPLICANT: i64 = 7;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap_or_else(|| panic!("bad test date {s}"))
    }

    /// The day the tests apply on: a Tuesday, the day before the National Day holiday week.
    fn today() -> Date {
        d("2025-09-30")
    }

    fn codes(r: Result<impl Sized, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    /// The resources the tests apply for: metadata by open type, and the catalogue's entries.
    struct Catalogue {
        conditional: ResourceMeta,
        unconditional: ResourceMeta,
        not_open: ResourceMeta,
    }

    impl Catalogue {
        fn new() -> Catalogue {
            let with = |open_type| {
                let mut m = valid_meta();
                m.open_type = open_type;
                if open_type == OpenType::Conditional {
                    m.open_conditions = Some("仅限科研与公共服务用途，不得转让第三方。".into());
                }
                m.fields.push(FieldSpec::new("population", FieldType::Integer));
                m
            };
            Catalogue {
                conditional: with(OpenType::Conditional),
                unconditional: with(OpenType::Unconditional),
                not_open: with(OpenType::NotOpen),
            }
        }

        /// 1 conditional, 2 unconditional, 3 withdrawn, 4 not_open, 5 another provider's,
        /// 6 never published, 7 published with a revision under review.
        fn refs(&self) -> Vec<ResourceRef<'_>> {
            let published = ResourceStatus::new(ResourceState::Published);
            let entry = |id, provider_org_id, status, meta| ResourceRef {
                id,
                provider_org_id,
                status,
                meta,
            };
            vec![
                entry(1, PROVIDER, published, &self.conditional),
                entry(2, PROVIDER, published, &self.unconditional),
                entry(
                    3,
                    PROVIDER,
                    ResourceStatus::new(ResourceState::Withdrawn),
                    &self.conditional,
                ),
                entry(4, PROVIDER, published, &self.not_open),
                entry(5, OTHER_PROVIDER, published, &self.conditional),
                entry(
                    6,
                    PROVIDER,
                    ResourceStatus::new(ResourceState::PendingReview),
                    &self.conditional,
                ),
                entry(
                    7,
                    PROVIDER,
                    ResourceStatus::revising(RevisionState::PendingReview),
                    &self.conditional,
                ),
            ]
        }
    }

    fn request(id: &str, fields: &[&str]) -> NewRequest {
        NewRequest {
            resource_id: id.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// A complete, submittable application for resource 1.
    fn form() -> NewApplication {
        NewApplication {
            purpose: " 研究成都市人口分布与公共服务设施布局 ".into(),
            scenario: "城市规划课题组内部分析，成果以汇总统计发布".into(),
            resources: vec![request("1", &["name", "code"])],
            period_from: "2025-10-09".into(),
            period_to: "2026-10-08".into(),
            security_measures: "专人专机存储，访问留痕，课题结束后销毁全部数据".into(),
            commitment_accepted: true,
        }
    }

    fn application() -> Application {
        let cat = Catalogue::new();
        form()
            .validate(&cat.refs(), today(), &Rules::default())
            .expect("the form is valid")
    }

    fn scope() -> Scope {
        Scope {
            resources: vec![ResourceScope {
                resource_id: 1,
                fields: vec!["code".into()],
                filters: vec![RowFilter {
                    field: "code".into(),
                    op: Op::Prefix,
                    value: "5101".into(),
                }],
            }],
            valid_from: d("2025-10-09"),
            valid_to: d("2026-04-08"),
            methods: AccessMethods {
                download: false,
                api: true,
            },
        }
    }

    /// Every standing a caller can have, in the order of the table's columns.
    fn callers() -> [(&'static str, Caller); 7] {
        let only = |f: fn(&mut Caller)| {
            let mut c = Caller::default();
            f(&mut c);
            c
        };
        [
            ("nobody", Caller::default()),
            ("applicant", only(|c| c.applicant = true)),
            ("admin_reviewer", only(|c| c.admin_reviewer = true)),
            ("admin_manager", only(|c| c.admin_manager = true)),
            ("provider_reviewer", only(|c| c.provider_reviewer = true)),
            ("provider_manager", only(|c| c.provider_manager = true)),
            ("system", Caller::system()),
        ]
    }

    fn rules() -> Rules {
        Rules {
            auto_relay_after_days: Some(2),
            ..Rules::default()
        }
    }

    fn ctx(caller: Caller) -> Context {
        Context { caller, rules: rules() }
    }

    fn actions() -> [Action; 10] {
        [
            Action::Submit,
            Action::Withdraw,
            Action::RequestInfo {
                missing: "请补充课题立项文件".into(),
            },
            Action::Answer {
                reply: "已上传立项批复".into(),
            },
            Action::Reject {
                reason: "使用目的与所申请数据无关".into(),
            },
            Action::Forward { note: String::new() },
            Action::Approve { scope: scope() },
            Action::ProviderReject {
                reason: "该数据含未公开的统计口径".into(),
            },
            Action::Relay { wording: String::new() },
            Action::AutoRelay,
        ]
    }

    #[test]
    fn every_state_action_and_role() {
        // Columns: nobody, applicant, admin_reviewer, admin_manager, provider_reviewer,
        // provider_manager, system. O = allowed (to the given state), F = Forbidden,
        // I = InvalidTransition.
        let table: [(ApplicationState, &str, &str, Option<ApplicationState>); 80] = [
            (DRAFT, "submit", "FOFFFFF", Some(PRE_REVIEW)),
            (DRAFT, "withdraw", "FOFFFFF", Some(WITHDRAWN)),
            (DRAFT, "request_info", "FFIIFFF", None),
            (DRAFT, "answer", "FIFFFFF", None),
            (DRAFT, "reject", "FFIIFFF", None),
            (DRAFT, "forward", "FFIIFFF", None),
            (DRAFT, "approve", "FFFFIIF", None),
            (DRAFT, "provider_reject", "FFFFIIF", None),
            (DRAFT, "relay", "FFIIFFF", None),
            (DRAFT, "auto_relay", "FFFFFFI", None),
            (PRE_REVIEW, "submit", "FIFFFFF", None),
            (PRE_REVIEW, "withdraw", "FOFFFFF", Some(WITHDRAWN)),
            (PRE_REVIEW, "request_info", "FFOOFFF", Some(NEEDS_INFO)),
            (PRE_REVIEW, "answer", "FIFFFFF", None),
            (PRE_REVIEW, "reject", "FFOOFFF", Some(REJECTED)),
            (PRE_REVIEW, "forward", "FFOOFFF", Some(PROVIDER_REVIEW)),
            (PRE_REVIEW, "approve", "FFFFIIF", None),
            (PRE_REVIEW, "provider_reject", "FFFFIIF", None),
            (PRE_REVIEW, "relay", "FFIIFFF", None),
            (PRE_REVIEW, "auto_relay", "FFFFFFI", None),
            (NEEDS_INFO, "submit", "FIFFFFF", None),
            (NEEDS_INFO, "withdraw", "FOFFFFF", Some(WITHDRAWN)),
            (NEEDS_INFO, "request_info", "FFIIFFF", None),
            (NEEDS_INFO, "answer", "FOFFFFF", Some(PRE_REVIEW)),
            (NEEDS_INFO, "reject", "FFIIFFF", None),
            (NEEDS_INFO, "forward", "FFIIFFF", None),
            (NEEDS_INFO, "approve", "FFFFIIF", None),
            (NEEDS_INFO, "provider_reject", "FFFFIIF", None),
            (NEEDS_INFO, "relay", "FFIIFFF", None),
            (NEEDS_INFO, "auto_relay", "FFFFFFI", None),
            (PROVIDER_REVIEW, "submit", "FIFFFFF", None),
            (PROVIDER_REVIEW, "withdraw", "FOFFFFF", Some(WITHDRAWN)),
            (PROVIDER_REVIEW, "request_info", "FFIIFFF", None),
            (PROVIDER_REVIEW, "answer", "FIFFFFF", None),
            (PROVIDER_REVIEW, "reject", "FFIIFFF", None),
            (PROVIDER_REVIEW, "forward", "FFIIFFF", None),
            (PROVIDER_REVIEW, "approve", "FFFFOOF", Some(GRANTED)),
            (PROVIDER_REVIEW, "provider_reject", "FFFFOOF", Some(PROVIDER_REJECTED)),
            (PROVIDER_REVIEW, "relay", "FFIIFFF", None),
            (PROVIDER_REVIEW, "auto_relay", "FFFFFFI", None),
            (PROVIDER_REJECTED, "submit", "FIFFFFF", None),
            (PROVIDER_REJECTED, "withdraw", "FIFFFFF", None),
            (PROVIDER_REJECTED, "request_info", "FFIIFFF", None),
            (PROVIDER_REJECTED, "answer", "FIFFFFF", None),
            (PROVIDER_REJECTED, "reject", "FFIIFFF", None),
            (PROVIDER_REJECTED, "forward", "FFIIFFF", None),
            (PROVIDER_REJECTED, "approve", "FFFFIIF", None),
            (PROVIDER_REJECTED, "provider_reject", "FFFFIIF", None),
            (PROVIDER_REJECTED, "relay", "FFOOFFF", Some(REJECTED)),
            (PROVIDER_REJECTED, "auto_relay", "FFFFFFO", Some(REJECTED)),
            (GRANTED, "submit", "FIFFFFF", None),
            (GRANTED, "withdraw", "FIFFFFF", None),
            (GRANTED, "request_info", "FFIIFFF", None),
            (GRANTED, "answer", "FIFFFFF", None),
            (GRANTED, "reject", "FFIIFFF", None),
            (GRANTED, "forward", "FFIIFFF", None),
            (GRANTED, "approve", "FFFFIIF", None),
            (GRANTED, "provider_reject", "FFFFIIF", None),
            (GRANTED, "relay", "FFIIFFF", None),
            (GRANTED, "auto_relay", "FFFFFFI", None),
            (REJECTED, "submit", "FIFFFFF", None),
            (REJECTED, "withdraw", "FIFFFFF", None),
            (REJECTED, "request_info", "FFIIFFF", None),
            (REJECTED, "answer", "FIFFFFF", None),
            (REJECTED, "reject", "FFIIFFF", None),
            (REJECTED, "forward", "FFIIFFF", None),
            (REJECTED, "approve", "FFFFIIF", None),
            (REJECTED, "provider_reject", "FFFFIIF", None),
            (REJECTED, "relay", "FFIIFFF", None),
            (REJECTED, "auto_relay", "FFFFFFI", None),
            (WITHDRAWN, "submit", "FIFFFFF", None),
            (WITHDRAWN, "withdraw", "FIFFFFF", None),
            (WITHDRAWN, "request_info", "FFIIFFF", None),
            (WITHDRAWN, "answer", "FIFFFFF", None),
            (WITHDRAWN, "reject", "FFIIFFF", None),
            (WITHDRAWN, "forward", "FFIIFFF", None),
            (WITHDRAWN, "approve", "FFFFIIF", None),
            (WITHDRAWN, "provider_reject", "FFFFIIF", None),
            (WITHDRAWN, "relay", "FFIIFFF", None),
            (WITHDRAWN, "auto_relay", "FFFFFFI", None),
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
                    ('I', Err(DomainError::InvalidTransition { from: f, action: a })) => {
                        assert_eq!((f.as_str(), a.as_str()), (from.as_str(), name), "{case}");
                    }
                    (want, got) => panic!("{case}: expected {want}, got {got:?}"),
                }
            }
        }
        // Every state and action appears in the table exactly once together.
        for s in ApplicationState::ALL {
            for a in &actions {
                assert_eq!(table.iter().filter(|r| r.0 == s && r.1 == a.name()).count(), 1);
            }
        }
    }

    #[test]
    fn effects_tell_the_service_what_else_to_do() {
        use Effect::{Notify, StartDeadline, StopDeadline};
        use NoticeKind as N;
        use Recipient as R;
        let [_, applicant, admin, _, provider, _, system] = callers().map(|c| c.1);
        let [submit, withdraw, request_info, answer, reject, forward, approve, provider_reject, relay, auto] =
            actions();
        let table = [
            (
                DRAFT,
                &submit,
                applicant,
                vec![StartDeadline(Stage::PreReview, 5), Notify(R::Admins, N::Submitted)],
            ),
            (DRAFT, &withdraw, applicant, vec![]),
            (
                PRE_REVIEW,
                &withdraw,
                applicant,
                vec![StopDeadline(Stage::PreReview), Notify(R::Admins, N::Withdrawn)],
            ),
            (NEEDS_INFO, &withdraw, applicant, vec![Notify(R::Admins, N::Withdrawn)]),
            (
                PROVIDER_REVIEW,
                &withdraw,
                applicant,
                vec![
                    StopDeadline(Stage::ProviderReview),
                    Notify(R::ProviderReviewers, N::Withdrawn),
                ],
            ),
            (
                PRE_REVIEW,
                &request_info,
                admin,
                vec![StopDeadline(Stage::PreReview), Notify(R::Applicant, N::InfoRequested)],
            ),
            (
                NEEDS_INFO,
                &answer,
                applicant,
                vec![StartDeadline(Stage::PreReview, 5), Notify(R::Admins, N::InfoProvided)],
            ),
            (
                PRE_REVIEW,
                &reject,
                admin,
                vec![StopDeadline(Stage::PreReview), Notify(R::Applicant, N::Rejected)],
            ),
            (
                PRE_REVIEW,
                &forward,
                admin,
                vec![
                    StopDeadline(Stage::PreReview),
                    StartDeadline(Stage::ProviderReview, 10),
                    Notify(R::ProviderReviewers, N::Forwarded),
                ],
            ),
            (
                PROVIDER_REVIEW,
                &approve,
                provider,
                vec![
                    StopDeadline(Stage::ProviderReview),
                    Effect::CreateGrants(scope().grants()),
                    Notify(R::Applicant, N::Granted),
                ],
            ),
            (
                PROVIDER_REVIEW,
                &provider_reject,
                provider,
                vec![
                    StopDeadline(Stage::ProviderReview),
                    StartDeadline(Stage::Relay, 2),
                    Notify(R::Admins, N::ProviderRejected),
                ],
            ),
            (
                PROVIDER_REJECTED,
                &relay,
                admin,
                vec![StopDeadline(Stage::Relay), Notify(R::Applicant, N::Rejected)],
            ),
            (
                PROVIDER_REJECTED,
                &auto,
                system,
                vec![
                    StopDeadline(Stage::Relay),
                    Notify(R::Applicant, N::Rejected),
                    Notify(R::Admins, N::AutoRelayed),
                ],
            ),
        ];
        for (from, action, caller, effects) in table {
            let t = apply(from, action, ctx(caller)).unwrap();
            assert_eq!(t.effects, effects, "{} {}", from.as_str(), action.name());
        }
        // Configured deadlines travel with the effect.
        let quick = Context {
            caller: admin,
            rules: Rules {
                provider_review_days: 7,
                ..Rules::default()
            },
        };
        let t = apply(PRE_REVIEW, &forward, quick).unwrap();
        assert_eq!(t.effects[1], StartDeadline(Stage::ProviderReview, 7));
        // The approval's grants: one per resource, active, with the scope's window and methods.
        let grants = scope().grants();
        assert_eq!(grants.len(), 1);
        let g = &grants[0];
        assert_eq!(
            (g.resource_id, g.fields.as_deref()),
            (1, Some(&["code".to_string()][..]))
        );
        assert_eq!((g.valid_from, g.valid_to), (d("2025-10-09"), Some(d("2026-04-08"))));
        assert_eq!(
            (g.methods.api, g.methods.download, g.state),
            (true, false, GrantState::Active)
        );
        assert_eq!(g.filters, scope().resources[0].filters);
    }

    #[test]
    fn decisions_need_their_content() {
        let [_, applicant, admin, _, provider, ..] = callers().map(|c| c.1);
        let table = [
            (
                PRE_REVIEW,
                Action::RequestInfo { missing: " ".into() },
                admin,
                vec!["missing:required"],
            ),
            (
                NEEDS_INFO,
                Action::Answer { reply: "\n".into() },
                applicant,
                vec!["reply:required"],
            ),
            (
                PRE_REVIEW,
                Action::Reject { reason: "".into() },
                admin,
                vec!["reason:required"],
            ),
            (
                PROVIDER_REVIEW,
                Action::ProviderReject { reason: "否".into() },
                provider,
                vec!["reason:length"],
            ),
            (
                PRE_REVIEW,
                Action::Forward {
                    note: "注".repeat(1001),
                },
                admin,
                vec!["note:length"],
            ),
            (
                PROVIDER_REJECTED,
                Action::Relay {
                    wording: "由".repeat(1001),
                },
                admin,
                vec!["wording:length"],
            ),
            (
                PROVIDER_REJECTED,
                Action::Relay {
                    wording: "经核实，申请的数据暂不具备开放条件".into(),
                },
                admin,
                vec![],
            ),
        ];
        for (from, action, caller, want) in table {
            assert_eq!(codes(apply(from, &action, ctx(caller))), want, "{}", action.name());
        }
    }

    #[test]
    fn auto_relay_only_when_configured_and_due() {
        let off = Context {
            caller: Caller::system(),
            rules: Rules::default(),
        };
        assert_eq!(
            apply(PROVIDER_REJECTED, &Action::AutoRelay, off),
            Err(DomainError::Conflict {
                code: "auto_relay_disabled",
                field: None
            })
        );
        let cal = WorkCalendar::official();
        // Refused on Monday 29 September 2025; the National Day holiday (1–8 October) does not
        // count, so two working days end on Thursday 9 October.
        let refused = d("2025-09-29");
        for (day, due) in [
            ("2025-09-30", false),
            ("2025-10-02", false),
            ("2025-10-09", false),
            ("2025-10-10", true),
        ] {
            assert_eq!(rules().auto_relay_due(refused, d(day), &cal), due, "{day}");
            assert!(!Rules::default().auto_relay_due(refused, d(day), &cal), "off: {day}");
        }
        // A calendar without the holiday would relay a week early.
        assert!(rules().auto_relay_due(refused, d("2025-10-02"), &WorkCalendar::weekends_only()));
    }

    #[test]
    fn deadlines_in_working_days() {
        let cal = WorkCalendar::official();
        let rules = Rules::default();
        // Submitted on Tuesday 30 September 2025: 1–8 October rest, Saturday 11 October works.
        let table = [
            (Stage::PreReview, "2025-09-30", "2025-10-14"),
            (Stage::ProviderReview, "2025-09-30", "2025-10-21"),
            (Stage::Relay, "2025-09-29", "2025-10-09"),
            (Stage::PreReview, "2025-10-13", "2025-10-20"),
        ];
        for (stage, started, due) in table {
            let deadline = Deadline::start(stage, d(started), &rules, &cal);
            assert_eq!(deadline.due, d(due), "{} from {started}", stage.as_str());
            assert!(!deadline.overdue(d(due)), "the due day is in time");
            assert!(deadline.overdue(d(due).add_days(1)));
            assert!(!deadline.overdue(d(started)));
        }
        let pre = Deadline::start(Stage::PreReview, today(), &rules, &cal);
        assert_eq!(pre.days_overdue(d("2025-10-14"), &cal), 0);
        assert_eq!(pre.days_overdue(d("2025-10-15"), &cal), 1);
        // 15, 16, 17 and 20 October.
        assert_eq!(pre.days_overdue(d("2025-10-20"), &cal), 4);
        assert_eq!(pre.days_overdue(d("2025-10-05"), &cal), 0);
        assert_eq!(pre.days_taken(d("2025-10-08"), &cal), 0);
        assert_eq!(pre.days_taken(d("2025-10-11"), &cal), 3);
        // Weekends alone would put the pre-review's end inside the holiday.
        let naive = Deadline::start(Stage::PreReview, today(), &rules, &WorkCalendar::weekends_only());
        assert_eq!(naive.due, d("2025-10-07"));
        assert_eq!(
            [Stage::PreReview, Stage::ProviderReview, Stage::Relay].map(|s| rules.days(s)),
            [5, 10, 2]
        );
        assert_eq!(
            ApplicationState::ALL.map(ApplicationState::stage),
            [
                None,
                Some(Stage::PreReview),
                None,
                Some(Stage::ProviderReview),
                Some(Stage::Relay),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn submission_rules() {
        type Edit = fn(&mut NewApplication);
        let table: Vec<(&str, Edit, Vec<&str>)> = vec![
            ("complete", |_| {}, vec![]),
            ("purpose missing", |a| a.purpose = "  ".into(), vec!["purpose:required"]),
            (
                "purpose too short",
                |a| a.purpose = "科研".into(),
                vec!["purpose:length"],
            ),
            (
                "purpose too long",
                |a| a.purpose = "目".repeat(2001),
                vec!["purpose:length"],
            ),
            ("scenario missing", |a| a.scenario.clear(), vec!["scenario:required"]),
            (
                "security measures missing",
                |a| a.security_measures.clear(),
                vec!["security_measures:required"],
            ),
            ("no resources", |a| a.resources.clear(), vec!["resources:required"]),
            (
                "no fields",
                |a| a.resources[0].fields.clear(),
                vec!["resources[0].fields:required"],
            ),
            (
                "blank fields",
                |a| a.resources[0].fields = vec![" ".into(), "".into()],
                vec!["resources[0].fields:required"],
            ),
            (
                "unknown field",
                |a| a.resources[0].fields.push("salary".into()),
                vec!["resources[0].fields:field_not_in_resource"],
            ),
            (
                "field in another case",
                |a| a.resources[0].fields = vec!["CODE".into()],
                vec![],
            ),
            (
                "resource id missing",
                |a| a.resources[0].resource_id = " ".into(),
                vec!["resources[0].resource_id:required"],
            ),
            (
                "resource id not a number",
                |a| a.resources[0].resource_id = "abc".into(),
                vec!["resources[0].resource_id:resource_id"],
            ),
            (
                "resource id negative",
                |a| a.resources[0].resource_id = "-1".into(),
                vec!["resources[0].resource_id:resource_id"],
            ),
            (
                "resource unknown",
                |a| a.resources[0].resource_id = "99".into(),
                vec!["resources[0].resource_id:not_found"],
            ),
            (
                "same resource twice",
                |a| a.resources.push(request("1", &["population"])),
                vec!["resources[1].resource_id:duplicate"],
            ),
            (
                "withdrawn resource",
                |a| a.resources[0].resource_id = "3".into(),
                vec!["resources[0].resource_id:resource_not_open"],
            ),
            (
                "not_open resource",
                |a| a.resources[0].resource_id = "4".into(),
                vec!["resources[0].resource_id:resource_not_open"],
            ),
            (
                "never published",
                |a| a.resources[0].resource_id = "6".into(),
                vec!["resources[0].resource_id:resource_not_open"],
            ),
            (
                "revision under review",
                |a| a.resources[0].resource_id = "7".into(),
                vec![],
            ),
            (
                "unconditional only",
                |a| a.resources[0].resource_id = "2".into(),
                vec!["resources:no_conditional_resource"],
            ),
            (
                "with an unconditional one",
                |a| a.resources.push(request("2", &["population"])),
                vec![],
            ),
            (
                "unknown field of the second",
                |a| a.resources.push(request("2", &["population", "salary"])),
                vec!["resources[1].fields:field_not_in_resource"],
            ),
            (
                "two providers",
                |a| a.resources.push(request("5", &["code"])),
                vec!["resources:multiple_providers"],
            ),
            ("exactly a year", |a| a.period_to = "2026-10-09".into(), vec![]),
            (
                "period too long",
                |a| a.period_to = "2026-10-10".into(),
                vec!["period_to:period_too_long"],
            ),
            (
                "period reversed",
                |a| a.period_to = "2025-10-08".into(),
                vec!["period_to:period_reversed"],
            ),
            ("one day", |a| a.period_to = "2025-10-09".into(), vec![]),
            (
                "starts in the past",
                |a| {
                    a.period_from = "2025-09-29".into();
                    a.period_to = "2026-09-28".into();
                },
                vec!["period_from:period_in_past"],
            ),
            (
                "starts today",
                |a| {
                    a.period_from = "2025-09-30".into();
                    a.period_to = "2026-09-30".into();
                },
                vec![],
            ),
            ("loose date", |a| a.period_from = "2025年10月9日".into(), vec![]),
            ("start missing", |a| a.period_from.clear(), vec!["period_from:required"]),
            (
                "end unreadable",
                |a| a.period_to = "明年".into(),
                vec!["period_to:date"],
            ),
            (
                "commitment not accepted",
                |a| a.commitment_accepted = false,
                vec!["commitment_accepted:commitment_required"],
            ),
        ];
        let cat = Catalogue::new();
        for (name, edit, want) in table {
            let mut a = form();
            edit(&mut a);
            assert_eq!(
                codes(a.validate(&cat.refs(), today(), &Rules::default())),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn submission_normalises_and_reports_everything_at_once() {
        let cat = Catalogue::new();
        let app = application();
        assert_eq!(app.purpose, "研究成都市人口分布与公共服务设施布局");
        assert_eq!(app.provider_org_id, PROVIDER);
        assert_eq!((app.period_from, app.period_to), (d("2025-10-09"), d("2026-10-08")));
        // Fields in the resource's declared order, named as declared, once each.
        assert_eq!(app.resources[0].fields, ["code", "name"]);
        let mut two = form();
        two.resources = vec![request("1", &["POPULATION", "code", "code"]), request("2", &["name"])];
        let app = two.validate(&cat.refs(), today(), &Rules::default()).unwrap();
        assert_eq!(app.resources.len(), 2);
        assert_eq!(app.requested(1).unwrap().fields, ["code", "population"]);
        assert_eq!(app.requested(2).unwrap().fields, ["name"]);

        assert_eq!(
            codes(NewApplication::default().validate(&cat.refs(), today(), &Rules::default())),
            [
                "purpose:required",
                "scenario:required",
                "resources:required",
                "period_from:required",
                "period_to:required",
                "security_measures:required",
                "commitment_accepted:commitment_required"
            ]
        );
        let mut many = form();
        many.resources = (1..=21).map(|i| request(&i.to_string(), &["code"])).collect();
        assert!(codes(many.validate(&cat.refs(), today(), &Rules::default())).contains(&"resources:count".to_string()));

        let mut long = form();
        long.period_to = "2027-01-01".into();
        let Err(DomainError::Validation(errs)) = long.validate(&cat.refs(), today(), &Rules::default()) else {
            panic!()
        };
        assert_eq!(
            errs[0].params,
            [
                ("max_months".to_string(), "12".to_string()),
                ("latest".to_string(), "2026-10-09".to_string())
            ]
        );
        let mut providers = form();
        providers.resources.push(request("5", &["code"]));
        let Err(DomainError::Validation(errs)) = providers.validate(&cat.refs(), today(), &Rules::default()) else {
            panic!()
        };
        assert_eq!(errs[0].params, [("count".to_string(), "2".to_string())]);
    }

    #[test]
    fn period_maximum_is_configurable() {
        let cat = Catalogue::new();
        let half_year = Rules {
            max_period_months: 6,
            ..Rules::default()
        };
        let mut a = form();
        a.period_to = "2026-04-09".into();
        assert!(a.validate(&cat.refs(), today(), &half_year).is_ok());
        a.period_to = "2026-04-10".into();
        assert_eq!(
            codes(a.validate(&cat.refs(), today(), &half_year)),
            ["period_to:period_too_long"]
        );
        for (from, months, to) in [
            ("2025-10-09", 12, "2026-10-09"),
            ("2024-02-29", 12, "2025-02-28"),
            ("2025-01-31", 1, "2025-02-28"),
            ("2024-01-31", 1, "2024-02-29"),
            ("2025-12-15", 1, "2026-01-15"),
            ("2025-03-01", 0, "2025-03-01"),
            ("2025-08-31", 30, "2028-02-29"),
        ] {
            assert_eq!(add_months(d(from), months), d(to), "{from} + {months}");
        }
        assert_eq!(add_months(d("9999-06-01"), 12), Date::MAX);
    }

    #[test]
    fn drafts_need_only_light_checks() {
        assert!(NewApplication::default().check_draft().is_ok());
        let mut half = NewApplication {
            purpose: "科研".into(),
            resources: vec![request("1", &[])],
            period_from: "2025-10-09".into(),
            ..Default::default()
        };
        assert!(half.check_draft().is_ok());
        half.purpose = "目".repeat(2001);
        half.resources.push(request("abc", &[]));
        half.resources.push(request("", &["code"]));
        half.period_to = "明年".into();
        assert_eq!(
            codes(half.check_draft()),
            [
                "purpose:length",
                "resources[1].resource_id:resource_id",
                "period_to:date"
            ]
        );
        let many = NewApplication {
            resources: (0..21).map(|i| request(&(i + 1).to_string(), &[])).collect(),
            ..Default::default()
        };
        assert_eq!(codes(many.check_draft()), ["resources:count"]);
        let wide = NewApplication {
            resources: vec![NewRequest {
                resource_id: "1".into(),
                fields: (0..=MAX_FIELDS).map(|i| format!("c{i}")).collect(),
            }],
            ..Default::default()
        };
        assert_eq!(codes(wide.check_draft()), ["resources[0].fields:count"]);
        assert_eq!(half.resource_ids(), [1]);
    }

    #[test]
    fn form_and_json_inputs() {
        let cat = Catalogue::new();
        let json = r#"{
            "purpose": "研究成都市人口分布与公共服务设施布局", "scenario": "城市规划课题组内部分析与建模",
            "resources": [{"resource_id": 1, "fields": "code，name"}, {"resource_id": "2", "fields": ["population"]}],
            "period_from": "2025-10-09", "period_to": "2026-10-08",
            "security_measures": "专人专机存储，访问留痕，到期销毁", "commitment_accepted": "on",
            "attachments": ["ignored here"]
        }"#;
        let a: NewApplication = serde_json::from_str(json).unwrap();
        assert_eq!(a.resources[0].resource_id, "1");
        assert_eq!(a.resources[0].fields, ["code", "name"]);
        assert!(a.commitment_accepted);
        assert_eq!(a.resource_ids(), [1, 2]);
        let app = a.validate(&cat.refs(), today(), &Rules::default()).unwrap();
        assert_eq!(app.requested(2).unwrap().fields, ["population"]);
        let unchecked: NewApplication = serde_json::from_str(r#"{"commitment_accepted": null}"#).unwrap();
        assert!(!unchecked.commitment_accepted);
        assert!(serde_json::from_str::<NewApplication>(r#"{"commitment_accepted": "maybe"}"#).is_err());

        let s: NewScope = serde_json::from_str(
            r#"{"resources": [{"resource_id": 1, "fields": "code", "filters": [{"field": "code", "op": "gte", "value": 510100}]}],
                "valid_from": "2025-10-09", "valid_to": "2026-04-08", "methods": "download，api"}"#,
        )
        .unwrap();
        assert_eq!(s.resources[0].filters[0].value, "510100");
        let scope = s.validate(&application(), &cat.refs(), today()).unwrap();
        assert_eq!(scope.methods, AccessMethods::ALL);
        assert_eq!(scope.resources[0].filters[0].op, Op::Gte);
    }

    #[test]
    fn editing_round_trips() {
        let cat = Catalogue::new();
        let app = application();
        let again = NewApplication::from(&app)
            .validate(&cat.refs(), today(), &Rules::default())
            .unwrap();
        assert_eq!(again, app);
        let json = serde_json::to_string(&app).unwrap();
        assert_eq!(serde_json::from_str::<Application>(&json).unwrap(), app);
        let draft = serde_json::to_string(&form()).unwrap();
        assert_eq!(serde_json::from_str::<NewApplication>(&draft).unwrap(), form());
    }

    /// An approval of resource 1's code and name (the requested fields), API only, half a year.
    fn new_scope() -> NewScope {
        NewScope {
            resources: vec![NewResourceScope {
                resource_id: "1".into(),
                fields: vec!["code".into(), "name".into()],
                filters: vec![NewRowFilter {
                    field: "code".into(),
                    op: "prefix".into(),
                    value: " 5101 ".into(),
                }],
            }],
            valid_from: "2025-10-09".into(),
            valid_to: "2026-04-08".into(),
            methods: vec!["api".into()],
        }
    }

    #[test]
    fn scope_rules() {
        type Edit = fn(&mut NewScope);
        let table: Vec<(&str, Edit, Vec<&str>)> = vec![
            ("as given", |_| {}, vec![]),
            ("no resources", |s| s.resources.clear(), vec!["resources:required"]),
            (
                "resource not requested",
                |s| s.resources[0].resource_id = "2".into(),
                vec!["resources[0].resource_id:not_requested"],
            ),
            (
                "resource twice",
                |s| s.resources.push(s.resources[0].clone()),
                vec!["resources[1].resource_id:duplicate"],
            ),
            (
                "resource id unreadable",
                |s| s.resources[0].resource_id = "一".into(),
                vec!["resources[0].resource_id:resource_id"],
            ),
            (
                "no fields",
                |s| s.resources[0].fields.clear(),
                vec![
                    "resources[0].fields:required",
                    "resources[0].filters[0].field:field_not_granted",
                ],
            ),
            (
                "field not requested",
                |s| s.resources[0].fields.push("population".into()),
                vec!["resources[0].fields:field_not_requested"],
            ),
            (
                "filter on a field not granted",
                |s| s.resources[0].fields = vec!["name".into()],
                vec!["resources[0].filters[0].field:field_not_granted"],
            ),
            (
                "filter without a field",
                |s| s.resources[0].filters[0].field.clear(),
                vec!["resources[0].filters[0].field:required"],
            ),
            (
                "unknown op",
                |s| s.resources[0].filters[0].op = "like".into(),
                vec!["resources[0].filters[0].op:filter_op"],
            ),
            (
                "no op",
                |s| s.resources[0].filters[0].op = " ".into(),
                vec!["resources[0].filters[0].op:required"],
            ),
            (
                "no value",
                |s| s.resources[0].filters[0].value = " ".into(),
                vec!["resources[0].filters[0].value:required"],
            ),
            (
                "in without values",
                |s| {
                    s.resources[0].filters[0].op = "in".into();
                    s.resources[0].filters[0].value = " ,，".into();
                },
                vec!["resources[0].filters[0].value:required"],
            ),
            (
                "too many filters",
                |s| s.resources[0].filters = vec![s.resources[0].filters[0].clone(); 21],
                vec!["resources[0].filters:count"],
            ),
            (
                "window starts before the period",
                |s| s.valid_from = "2025-10-08".into(),
                vec!["valid_from:outside_requested_period"],
            ),
            (
                "window ends after the period",
                |s| s.valid_to = "2026-10-09".into(),
                vec!["valid_to:outside_requested_period"],
            ),
            ("window is the period", |s| s.valid_to = "2026-10-08".into(), vec![]),
            (
                "window reversed",
                |s| s.valid_to = "2025-10-08".into(),
                vec!["valid_to:period_reversed"],
            ),
            (
                "window without a start",
                |s| s.valid_from.clear(),
                vec!["valid_from:required"],
            ),
            (
                "window end unreadable",
                |s| s.valid_to = "2026-02-30".into(),
                vec!["valid_to:date"],
            ),
            ("no methods", |s| s.methods.clear(), vec!["methods:required"]),
            (
                "blank methods",
                |s| s.methods = vec![" ".into()],
                vec!["methods:required"],
            ),
            (
                "unknown method",
                |s| s.methods = vec!["ftp".into()],
                vec!["methods:access_method"],
            ),
            (
                "methods in Chinese",
                |s| s.methods = vec!["下载".into(), "接口".into()],
                vec![],
            ),
        ];
        let cat = Catalogue::new();
        let app = application();
        for (name, edit, want) in table {
            let mut s = new_scope();
            edit(&mut s);
            assert_eq!(codes(s.validate(&app, &cat.refs(), today())), want, "{name}");
        }
        // Every data API comparison is accepted; `in` values are tidied.
        for op in Op::ALL {
            let mut s = new_scope();
            s.resources[0].filters[0].op = op.as_str().to_uppercase();
            s.resources[0].filters[0].value = "510104, 510105，510106".into();
            let scope = s.validate(&app, &cat.refs(), today()).unwrap();
            let want = if op == Op::In {
                "510104,510105,510106"
            } else {
                "510104, 510105，510106"
            };
            assert_eq!(scope.resources[0].filters[0].value, want, "{}", op.as_str());
        }
        let scope = new_scope().validate(&app, &cat.refs(), today()).unwrap();
        assert_eq!(scope.resources[0].filters[0].value, "5101");
        assert_eq!((scope.methods.api, scope.methods.download), (true, false));
    }

    #[test]
    fn scope_depends_on_time_and_the_resource() {
        let cat = Catalogue::new();
        let app = application();
        // Decided late: a window that has already ended grants nothing.
        let late = d("2026-05-01");
        assert_eq!(
            codes(new_scope().validate(&app, &cat.refs(), late)),
            ["valid_to:period_in_past"]
        );
        // Withdrawn while under review: not granted.
        let mut refs = cat.refs();
        refs[0].status = ResourceStatus::new(ResourceState::Withdrawn);
        assert_eq!(
            codes(new_scope().validate(&app, &refs, today())),
            ["resources[0].resource_id:resource_not_open"]
        );
        assert_eq!(
            codes(new_scope().validate(&app, &[], today())),
            ["resources[0].resource_id:resource_not_open"]
        );
        // The pre-filled form is what was asked, from today once the period has begun.
        let prefilled = NewScope::as_requested(&app, d("2025-11-03"));
        assert_eq!(prefilled.valid_from, "2025-11-03");
        let scope = prefilled.validate(&app, &cat.refs(), d("2025-11-03")).unwrap();
        assert_eq!(scope.resources[0].fields, ["code", "name"]);
        assert_eq!((scope.valid_to, scope.methods), (d("2026-10-08"), AccessMethods::ALL));
        assert_eq!(NewScope::as_requested(&app, today()).valid_from, "2025-10-09");
    }

    fn grant(state: GrantState) -> Grant {
        Grant {
            state,
            ..scope().grants().remove(0)
        }
    }

    #[test]
    fn grant_life_cycle() {
        // Columns as in `callers()`; the grant ended on 2026-04-08.
        let table = [
            (GrantState::Active, "revoke", "FFOOOOF", Some(GrantState::Revoked)),
            (GrantState::Active, "expire", "FFFFFFO", Some(GrantState::Expired)),
            (GrantState::Expired, "revoke", "FFIIIIF", None),
            (GrantState::Expired, "expire", "FFFFFFI", None),
            (GrantState::Revoked, "revoke", "FFIIIIF", None),
            (GrantState::Revoked, "expire", "FFFFFFI", None),
        ];
        let actions = [
            GrantAction::Revoke {
                reason: "发现数据被转售".into(),
            },
            GrantAction::Expire,
        ];
        let after = d("2026-04-09");
        for (from, name, outcomes, to) in table {
            let action = actions.iter().find(|a| a.name() == name).unwrap();
            for ((who, caller), want) in callers().into_iter().zip(outcomes.chars()) {
                let case = format!("{} {name} by {who}", from.as_str());
                match (want, apply_grant(&grant(from), action, caller, after)) {
                    ('O', Ok(t)) => assert_eq!(Some(t.to), to, "{case}"),
                    ('F', Err(DomainError::Forbidden)) => {}
                    ('I', Err(DomainError::InvalidTransition { from: f, action: a })) => {
                        assert_eq!((f.as_str(), a.as_str()), (from.as_str(), name), "{case}");
                    }
                    (want, got) => panic!("{case}: expected {want}, got {got:?}"),
                }
            }
        }
        for s in GrantState::ALL {
            for a in &actions {
                assert_eq!(table.iter().filter(|r| r.0 == s && r.1 == a.name()).count(), 1);
            }
        }
    }

    #[test]
    fn grants_expire_only_when_ended_and_revocation_says_why() {
        let [_, _, admin, _, provider, _, system] = callers().map(|c| c.1);
        let not_ended = Err(DomainError::Conflict {
            code: "grant_not_ended",
            field: None,
        });
        let active = grant(GrantState::Active);
        assert_eq!(
            apply_grant(&active, &GrantAction::Expire, system, d("2026-04-08")),
            not_ended
        );
        let t = apply_grant(&active, &GrantAction::Expire, system, d("2026-04-09")).unwrap();
        assert_eq!(
            t.effects,
            [Effect::Notify(Recipient::Applicant, NoticeKind::GrantExpired)]
        );
        let open_ended = Grant {
            valid_to: None,
            ..active.clone()
        };
        assert_eq!(
            apply_grant(&open_ended, &GrantAction::Expire, system, d("2099-01-01")),
            not_ended
        );
        let revoke = |reason: &str| GrantAction::Revoke { reason: reason.into() };
        assert_eq!(
            codes(apply_grant(&active, &revoke(" "), admin, today())),
            ["reason:required"]
        );
        assert_eq!(
            codes(apply_grant(&active, &revoke(&"因".repeat(1001)), provider, today())),
            ["reason:length"]
        );
        let by = |caller| apply_grant(&active, &revoke("超出授权范围使用"), caller, today()).unwrap();
        assert_eq!(
            by(admin).effects,
            [
                Effect::Notify(Recipient::Applicant, NoticeKind::GrantRevoked),
                Effect::Notify(Recipient::ProviderReviewers, NoticeKind::GrantRevoked)
            ]
        );
        assert_eq!(
            by(provider).effects,
            [
                Effect::Notify(Recipient::Applicant, NoticeKind::GrantRevoked),
                Effect::Notify(Recipient::Admins, NoticeKind::GrantRevoked)
            ]
        );
    }

    #[test]
    fn grant_usability() {
        // Window 2025-10-09 ..= 2026-04-08.
        for (state, day, usable) in [
            (GrantState::Active, "2025-10-08", false),
            (GrantState::Active, "2025-10-09", true),
            (GrantState::Active, "2026-04-08", true),
            (GrantState::Active, "2026-04-09", false),
            (GrantState::Revoked, "2025-12-01", false),
            (GrantState::Expired, "2025-12-01", false),
        ] {
            assert_eq!(grant(state).is_usable(d(day)), usable, "{} {day}", state.as_str());
        }
        let g = grant(GrantState::Active);
        assert!(g.allows_field("code") && g.allows_field("CODE") && !g.allows_field("name"));
        assert!(g.allows(AccessMethod::Api) && !g.allows(AccessMethod::Download));
        assert!(!g.has_ended(d("2026-04-08")) && g.has_ended(d("2026-04-09")));
        let open = Grant {
            fields: None,
            valid_to: None,
            ..g
        };
        assert!(open.allows_field("anything") && open.is_usable(d("2099-12-31")));
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
    fn unconditional_data_is_granted_on_accepting_the_terms() {
        let cat = Catalogue::new();
        let refs = cat.refs();
        let consumer = actor(APPLICANT, &[(Role::Consumer, None)]);
        let t = accept_terms(&consumer, &refs[1], true, today()).unwrap();
        assert_eq!(t.to, GRANTED);
        let [Effect::CreateGrants(grants)] = &t.effects[..] else {
            panic!("{:?}", t.effects)
        };
        assert_eq!(
            grants,
            &[Grant {
                resource_id: 2,
                fields: None,
                filters: vec![],
                methods: AccessMethods::ALL,
                valid_from: today(),
                valid_to: None,
                state: GrantState::Active,
            }]
        );
        for (i, accepted, want) in [
            (1, false, vec!["terms_accepted:terms_required"]),
            (0, true, vec!["resource_id:application_required"]),
            (2, true, vec!["resource_id:resource_not_open"]),
            (
                3,
                false,
                vec!["resource_id:resource_not_open", "terms_accepted:terms_required"],
            ),
            (5, true, vec!["resource_id:resource_not_open"]),
        ] {
            assert_eq!(codes(accept_terms(&consumer, &refs[i], accepted, today())), want, "{i}");
        }
        assert!(matches!(
            accept_terms(&Actor::anonymous(), &refs[1], true, today()),
            Err(DomainError::Unauthenticated { .. })
        ));
        let staff = actor(8, &[(Role::ProviderEditor, Some(PROVIDER))]);
        assert_eq!(
            accept_terms(&staff, &refs[1], true, today()),
            Err(DomainError::Forbidden)
        );
        assert_eq!(may_apply(&staff), Err(DomainError::Forbidden));
        assert!(may_apply(&actor(9, &[(Role::Consumer, Some(40))])).is_ok());
    }

    #[test]
    fn callers_come_from_memberships() {
        let of = |a: &Actor, provider| Caller::of(a, APPLICANT, provider);
        let consumer = actor(APPLICANT, &[(Role::Consumer, None)]);
        assert_eq!(
            of(&consumer, Some(PROVIDER)),
            Caller {
                applicant: true,
                ..Caller::default()
            }
        );
        assert_eq!(
            of(&actor(8, &[(Role::Consumer, None)]), Some(PROVIDER)),
            Caller::default()
        );
        let reviewer = actor(8, &[(Role::ProviderReviewer, Some(PROVIDER))]);
        assert!(of(&reviewer, Some(PROVIDER)).provider_reviewer);
        assert_eq!(of(&reviewer, Some(OTHER_PROVIDER)), Caller::default());
        assert_eq!(of(&reviewer, None), Caller::default());
        assert!(of(&actor(8, &[(Role::ProviderManager, Some(PROVIDER))]), Some(PROVIDER)).provider_manager);
        assert_eq!(
            of(&actor(8, &[(Role::ProviderEditor, Some(PROVIDER))]), Some(PROVIDER)),
            Caller::default()
        );
        assert!(of(&actor(8, &[(Role::AdminReviewer, Some(1))]), None).admin_reviewer);
        assert!(of(&actor(8, &[(Role::AdminManager, Some(1))]), None).admin_manager);
        // The console operator takes no part, and no person is the system.
        assert_eq!(of(&Actor::console(), Some(PROVIDER)), Caller::default());
    }

    #[test]
    fn nobody_decides_on_their_own_application() {
        let both = actor(APPLICANT, &[(Role::Consumer, None), (Role::AdminReviewer, Some(1))]);
        let caller = Caller::of(&both, APPLICANT, Some(PROVIDER));
        assert!(caller.applicant && caller.admin_reviewer);
        let reject = Action::Reject {
            reason: "不符合条件".into(),
        };
        assert_eq!(apply(PRE_REVIEW, &reject, ctx(caller)), Err(DomainError::Forbidden));
        assert_eq!(apply(PRE_REVIEW, &Action::Withdraw, ctx(caller)).unwrap().to, WITHDRAWN);
        let own_provider = actor(
            APPLICANT,
            &[(Role::Consumer, None), (Role::ProviderManager, Some(PROVIDER))],
        );
        let caller = Caller::of(&own_provider, APPLICANT, Some(PROVIDER));
        let approve = Action::Approve { scope: scope() };
        assert_eq!(
            apply(PROVIDER_REVIEW, &approve, ctx(caller)),
            Err(DomainError::Forbidden)
        );
        let revoke = GrantAction::Revoke {
            reason: "自行撤销".into(),
        };
        assert_eq!(
            apply_grant(&grant(GrantState::Active), &revoke, caller, today()),
            Err(DomainError::Forbidden)
        );
        // The same people decide on others' applications.
        let other = Caller::of(&own_provider, 99, Some(PROVIDER));
        assert_eq!(apply(PROVIDER_REVIEW, &approve, ctx(other)).unwrap().to, GRANTED);
    }

    #[test]
    fn who_may_edit() {
        let [nobody, applicant, admin, ..] = callers().map(|c| c.1);
        for state in ApplicationState::ALL {
            let want = matches!(state, DRAFT | NEEDS_INFO);
            assert_eq!(can_edit(state, applicant), want, "{}", state.as_str());
            assert!(!can_edit(state, admin) && !can_edit(state, nobody));
        }
        let finals: Vec<_> = ApplicationState::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [GRANTED, REJECTED, WITHDRAWN]);
    }

    #[test]
    fn states_have_stable_keys() {
        for s in ApplicationState::ALL {
            assert_eq!(ApplicationState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
            assert!(!s.name_zh().is_empty());
        }
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
        for s in GrantState::ALL {
            assert_eq!(GrantState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ApplicationState::parse("submitted"), None);
        assert_eq!(Op::parse_loose(" GTE "), Some(Op::Gte));
        let rules: Rules = serde_json::from_str(r#"{"auto_relay_after_days": 3}"#).unwrap();
        assert_eq!(
            rules,
            Rules {
                auto_relay_after_days: Some(3),
                ..Rules::default()
            }
        );
        let json = serde_json::to_string(&grant(GrantState::Active)).unwrap();
        assert_eq!(serde_json::from_str::<Grant>(&json).unwrap(), grant(GrantState::Active));
        assert_eq!(NoticeKind::ProviderRejected.as_str(), "application_provider_rejected");
    }
}
