//! 数据纠错 — error reports on published data and the provider's handling of them (DESIGN §4):
//! the report and its validation against the resource, who may move a report between states,
//! the effects of each step, and the working-day deadline. Pure: the service stores what
//! [`submit`] and [`apply`] decide.
//!
//! Anyone logged in reports an error on a published resource: which distribution, optionally
//! which row and which field (数据项), what is wrong and optional evidence. The provider that owns
//! the resource takes it up (`under_review`) and accepts it, saying how it will be fixed (for
//! example in a new version, which it may name), or rejects it with a reason. The reporter is told
//! each step. The handling deadline runs from submission to the decision.
//!
//! Who may act: the staff (managers, editors, reviewers) of the provider that owns the resource,
//! never on their own report. The administration institution sees every report but does not
//! decide: the data is the provider's.

use serde::{Deserialize, Serialize};

use crate::application::ResourceRef;
use crate::calendar::CORRECTION_DAYS;
use crate::demand::{check_idempotency_key, fingerprint, optional_id, DEFAULT_DUPLICATE_WINDOW_SECS};
use crate::error::{Checks, DomainError, FieldError};
use crate::metadata::loose;
use crate::policy::Actor;
use crate::user::Role;

const TEXT_MIN: usize = 10;
const TEXT_MAX: usize = 2000;
const EVIDENCE_MAX: usize = 4000;
const REASON_MAX: usize = 1000;

/// Where a correction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionState {
    /// 待处理 — reported, not yet taken up.
    Submitted,
    /// 核实中 — the provider is checking it.
    UnderReview,
    /// 已采纳 — the error is confirmed and will be fixed as recorded.
    Accepted,
    /// 未采纳 — rejected, with the reason.
    Rejected,
}

impl CorrectionState {
    pub const ALL: [CorrectionState; 4] = [
        CorrectionState::Submitted,
        CorrectionState::UnderReview,
        CorrectionState::Accepted,
        CorrectionState::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionState::Submitted => "submitted",
            CorrectionState::UnderReview => "under_review",
            CorrectionState::Accepted => "accepted",
            CorrectionState::Rejected => "rejected",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CorrectionState::Submitted => "待处理",
            CorrectionState::UnderReview => "核实中",
            CorrectionState::Accepted => "已采纳",
            CorrectionState::Rejected => "未采纳",
        }
    }

    pub fn parse(s: &str) -> Option<CorrectionState> {
        CorrectionState::ALL.into_iter().find(|st| st.as_str() == s.trim())
    }

    /// Decided: nothing more happens to it, and its deadline no longer runs.
    pub fn is_final(self) -> bool {
        matches!(self, CorrectionState::Accepted | CorrectionState::Rejected)
    }
}

/// The deployment's settings for corrections (`[correction]` in `pubdata.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Working days from the report to the provider's decision.
    pub handling_days: u32,
    /// Resubmitting the same report within this many seconds returns the first one.
    pub duplicate_window_secs: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            handling_days: CORRECTION_DAYS,
            duplicate_window_secs: DEFAULT_DUPLICATE_WINDOW_SECS,
        }
    }
}

/// A report as a form or JSON gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewCorrection {
    #[serde(deserialize_with = "loose::text")]
    pub resource_id: String,
    /// The distribution (挂接资源) the error is in.
    #[serde(deserialize_with = "loose::text")]
    pub distribution_id: String,
    /// The row, counted from 1 as the data preview and downloads number them; optional.
    #[serde(deserialize_with = "loose::text")]
    pub row: String,
    /// The 数据项 (column name) in error; optional.
    #[serde(deserialize_with = "loose::text")]
    pub field: String,
    /// What is wrong.
    #[serde(deserialize_with = "loose::text")]
    pub description: String,
    /// Optional evidence: the correct value and where it comes from.
    #[serde(deserialize_with = "loose::text")]
    pub evidence: String,
    /// A client's key for this submission: the same key again returns the same report.
    #[serde(deserialize_with = "loose::text")]
    pub idempotency_key: String,
}

/// A distribution of the reported resource, as validation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistributionRef {
    pub id: i64,
    /// Rows, when the data is a loaded file.
    pub row_count: Option<i64>,
}

/// The reported resource and its distributions, loaded by the service.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub resource: ResourceRef<'a>,
    pub distributions: &'a [DistributionRef],
}

/// A validated report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub resource_id: i64,
    pub provider_org_id: i64,
    pub distribution_id: i64,
    pub row: Option<i64>,
    /// The field's name as the resource declares it.
    pub field: Option<String>,
    pub description: String,
    pub evidence: Option<String>,
}

impl Correction {
    /// What makes two submissions the same report.
    pub fn fingerprint(&self) -> String {
        let row = self.row.map(|r| r.to_string()).unwrap_or_default();
        fingerprint(&[
            &self.resource_id.to_string(),
            &self.distribution_id.to_string(),
            &row,
            self.field.as_deref().unwrap_or(""),
            &self.description,
            self.evidence.as_deref().unwrap_or(""),
        ])
    }
}

impl NewCorrection {
    /// The resource id given, for the service to load before [`NewCorrection::validate`].
    pub fn resource(&self) -> Option<i64> {
        self.resource_id.trim().parse().ok().filter(|id| *id > 0)
    }

    pub fn idempotency_key(&self) -> Option<&str> {
        Some(self.idempotency_key.trim()).filter(|k| !k.is_empty())
    }

    /// Every rule, all problems at once. `target` is the resource the service found for
    /// `resource_id` (`None`: not found, or never published). Errors are reported only on data
    /// that is published now (`resource_not_published` for withdrawn or unpublished data), on one of
    /// the resource's own distributions, on a row the data has and a field it declares.
    pub fn validate(&self, target: Option<Target<'_>>) -> Result<Correction, DomainError> {
        let mut c = Checks::new();
        let resource = self.check_resource(&mut c, target);
        let distribution = self.check_distribution(&mut c, resource.map(|t| t.distributions));
        let row = optional_id(&mut c, &self.row, "row", "row_number");
        if let (Some(row), Some(Some(max))) = (row, distribution.map(|d| d.row_count)) {
            if row > max {
                c.push(FieldError::new("row", "row_out_of_range").with("max", max));
            }
        }
        let field = self.check_field(&mut c, resource.as_ref().map(|t| &t.resource));
        let description = self.description.trim();
        c.length(description, "description", TEXT_MIN, TEXT_MAX);
        let evidence = self.evidence.trim();
        c.length(evidence, "evidence", 0, EVIDENCE_MAX);
        check_idempotency_key(&mut c, &self.idempotency_key);
        c.finish()?;
        let (resource, distribution) = (
            resource.expect("checked above").resource,
            distribution.expect("checked above"),
        );
        Ok(Correction {
            resource_id: resource.id,
            provider_org_id: resource.provider_org_id,
            distribution_id: distribution.id,
            row,
            field,
            description: description.to_string(),
            evidence: (!evidence.is_empty()).then(|| evidence.to_string()),
        })
    }

    fn check_resource<'a>(&self, c: &mut Checks, target: Option<Target<'a>>) -> Option<Target<'a>> {
        let given = self.resource_id.trim();
        let code = if given.is_empty() {
            "required"
        } else if self.resource().is_none() {
            "resource_id"
        } else {
            match target {
                None => "not_found",
                Some(t) if t.resource.id != self.resource().unwrap_or_default() => "not_found",
                Some(t) if !t.resource.is_open() => "resource_not_published",
                Some(t) => return Some(t),
            }
        };
        c.push(FieldError::new("resource_id", code));
        None
    }

    fn check_distribution(&self, c: &mut Checks, of: Option<&[DistributionRef]>) -> Option<DistributionRef> {
        let given = self.distribution_id.trim();
        if given.is_empty() {
            c.push(FieldError::new("distribution_id", "required"));
            return None;
        }
        let id = optional_id(c, given, "distribution_id", "distribution_id")?;
        // Without a resource the distribution cannot be judged; the resource's error says why.
        let found = of?.iter().find(|d| d.id == id).copied();
        c.check(found.is_some(), "distribution_id", "distribution_not_of_resource");
        found
    }

    fn check_field(&self, c: &mut Checks, resource: Option<&ResourceRef>) -> Option<String> {
        let name = self.field.trim();
        if name.is_empty() {
            return None;
        }
        let declared = &resource?.meta.fields;
        let found = declared
            .iter()
            .find(|f| f.name == name)
            .or_else(|| declared.iter().find(|f| f.name.eq_ignore_ascii_case(name)));
        if found.is_none() {
            c.push(FieldError::new("field", "field_not_in_resource").with("value", name));
        }
        found.map(|f| f.name.clone())
    }
}

/// Who may report an error: anyone logged in as a person.
pub fn may_submit(actor: &Actor) -> Result<i64, DomainError> {
    crate::demand::may_submit(actor)
}

/// How the caller relates to a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    pub reporter: bool,
    /// admin_reviewer or admin_manager of the administration institution.
    pub admin: bool,
    /// Staff (manager, editor, reviewer) of the provider that owns the resource.
    pub handler: bool,
}

impl Caller {
    pub fn of(actor: &Actor, reporter_id: i64, provider_org_id: i64) -> Caller {
        Caller {
            reporter: actor.user_id == Some(reporter_id),
            admin: actor.has_role(Role::AdminReviewer) || actor.has_role(Role::AdminManager),
            handler: actor.memberships.iter().any(|m| {
                m.org_id == Some(provider_org_id)
                    && matches!(
                        m.role,
                        Role::ProviderManager | Role::ProviderEditor | Role::ProviderReviewer
                    )
            }),
        }
    }

    /// Whether the caller may see the report in full (who reported it, the text and evidence);
    /// everyone else sees only its public part.
    pub fn sees_details(self) -> bool {
        self.reporter || self.admin || self.handler
    }

    pub fn may(self, action: &Action) -> bool {
        match action {
            Action::StartReview | Action::Accept { .. } | Action::Reject { .. } => self.handler && !self.reporter,
        }
    }
}

/// What someone asks to do with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 核实 — the provider takes the report up.
    StartReview,
    /// 采纳 — with how it will be fixed, and optionally the resource's distribution (new version)
    /// that fixes it.
    Accept {
        fix: String,
        fixed_distribution_id: Option<i64>,
    },
    /// 不予采纳 — with the reason the reporter reads.
    Reject { reason: String },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::StartReview => "start_review",
            Action::Accept { .. } => "accept",
            Action::Reject { .. } => "reject",
        }
    }

    /// The text the reporter reads with the decision.
    pub fn text(&self) -> Option<&str> {
        match self {
            Action::Accept { fix, .. } => Some(fix.trim()),
            Action::Reject { reason } => Some(reason.trim()),
            Action::StartReview => None,
        }
    }
}

/// Who acts, on which resource's report.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub caller: Caller,
    /// The ids of the resource's distributions (a fix may name one of them).
    pub distributions: &'a [i64],
}

/// Who a notice goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    Reporter,
    /// The managers, editors and reviewers of the provider that owns the resource.
    ProviderStaff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    Submitted,
    UnderReview,
    Accepted,
    Rejected,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Submitted => "correction_submitted",
            NoticeKind::UnderReview => "correction_under_review",
            NoticeKind::Accepted => "correction_accepted",
            NoticeKind::Rejected => "correction_rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Notify(Recipient, NoticeKind),
    /// Start the handling deadline, due the given working days from today.
    StartDeadline(u32),
    StopDeadline,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: CorrectionState,
    pub effects: Vec<Effect>,
}

/// A new report waits for its provider, whose deadline starts.
pub fn submit(rules: &Rules) -> Transition {
    Transition {
        to: CorrectionState::Submitted,
        effects: vec![
            Effect::StartDeadline(rules.handling_days),
            Effect::Notify(Recipient::ProviderStaff, NoticeKind::Submitted),
        ],
    }
}

/// The one place correction transitions are decided: the caller's standing (`Forbidden`), the
/// action from this state (`InvalidTransition`), then its content (`Validation`).
pub fn apply(state: CorrectionState, action: &Action, ctx: Context<'_>) -> Result<Transition, DomainError> {
    use CorrectionState as S;
    use Effect::{Notify, StopDeadline};
    use NoticeKind as N;
    use Recipient as R;
    if !ctx.caller.may(action) {
        return Err(DomainError::Forbidden);
    }
    let (to, effects) = match (action, state) {
        (Action::StartReview, S::Submitted) => (S::UnderReview, vec![Notify(R::Reporter, N::UnderReview)]),
        (Action::Accept { .. }, S::UnderReview) => (S::Accepted, vec![StopDeadline, Notify(R::Reporter, N::Accepted)]),
        (Action::Reject { .. }, S::UnderReview) => (S::Rejected, vec![StopDeadline, Notify(R::Reporter, N::Rejected)]),
        _ => {
            return Err(DomainError::InvalidTransition {
                from: state.as_str().to_string(),
                action: action.name().to_string(),
            })
        }
    };
    let mut c = Checks::new();
    match action {
        Action::Accept {
            fix,
            fixed_distribution_id,
        } => {
            c.length(fix.trim(), "fix", 2, REASON_MAX);
            if let Some(id) = fixed_distribution_id {
                c.check(
                    ctx.distributions.contains(id),
                    "fixed_distribution_id",
                    "distribution_not_of_resource",
                );
            }
        }
        Action::Reject { reason } => {
            c.length(reason.trim(), "reason", 2, REASON_MAX);
        }
        Action::StartReview => {}
    }
    c.finish()?;
    Ok(Transition { to, effects })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldSpec, FieldType};
    use crate::metadata::tests::valid_meta;
    use crate::metadata::ResourceMeta;
    use crate::policy::Membership;
    use crate::resource::{ResourceState, RevisionState, Status};

    use CorrectionState::{
        Accepted as ACCEPTED, Rejected as REJECTED, Submitted as SUBMITTED, UnderReview as UNDER_REVIEW,
    };

    const PROVIDER: i64 = 20;
    const REPORTER: i64 = 7;

    fn codes(r: Result<impl Sized, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn meta() -> ResourceMeta {
        let mut m = valid_meta();
        m.fields.push(FieldSpec::new("population", FieldType::Integer));
        m
    }

    const DISTS: [DistributionRef; 2] = [
        DistributionRef {
            id: 11,
            row_count: Some(4),
        },
        DistributionRef {
            id: 12,
            row_count: None,
        },
    ];

    fn target(meta: &ResourceMeta, status: Status) -> Target<'_> {
        Target {
            resource: ResourceRef {
                id: 1,
                provider_org_id: PROVIDER,
                status,
                meta,
            },
            distributions: &DISTS,
        }
    }

    fn form() -> NewCorrection {
        NewCorrection {
            resource_id: "1".into(),
            distribution_id: "11".into(),
            row: "3".into(),
            field: "population".into(),
            description: " 第3行的人口数比统计年鉴多了一个零。 ".into(),
            evidence: "《成都统计年鉴2024》表3-2：126435人。".into(),
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn reports_are_checked_against_the_resource() {
        let m = meta();
        let published = Status::new(ResourceState::Published);
        type Edit = fn(&mut NewCorrection);
        let table: Vec<(&str, Edit, Vec<&str>)> = vec![
            ("complete", |_| {}, vec![]),
            (
                "no row or field",
                |f| {
                    f.row.clear();
                    f.field.clear();
                },
                vec![],
            ),
            ("field in any case", |f| f.field = "POPULATION".into(), vec![]),
            (
                "field not declared",
                |f| f.field = "salary".into(),
                vec!["field:field_not_in_resource"],
            ),
            ("row zero", |f| f.row = "0".into(), vec!["row:row_number"]),
            ("row text", |f| f.row = "third".into(), vec!["row:row_number"]),
            ("row past the end", |f| f.row = "5".into(), vec!["row:row_out_of_range"]),
            (
                "api distribution has no row count",
                |f| {
                    f.distribution_id = "12".into();
                    f.row = "500".into();
                },
                vec![],
            ),
            (
                "another resource's distribution",
                |f| f.distribution_id = "99".into(),
                vec!["distribution_id:distribution_not_of_resource"],
            ),
            (
                "no distribution",
                |f| f.distribution_id = " ".into(),
                vec!["distribution_id:required"],
            ),
            (
                "distribution not a number",
                |f| f.distribution_id = "v2".into(),
                vec!["distribution_id:distribution_id"],
            ),
            (
                "description short",
                |f| f.description = "错了".into(),
                vec!["description:length"],
            ),
            (
                "description missing",
                |f| f.description.clear(),
                vec!["description:required"],
            ),
            (
                "evidence long",
                |f| f.evidence = "证".repeat(4001),
                vec!["evidence:length"],
            ),
            (
                "bad key",
                |f| f.idempotency_key = "两次".into(),
                vec!["idempotency_key:idempotency_key"],
            ),
            (
                "resource missing",
                |f| f.resource_id.clear(),
                vec!["resource_id:required"],
            ),
        ];
        for (case, edit, want) in table {
            let mut f = form();
            edit(&mut f);
            let found = f.resource().map(|_| target(&m, published));
            // Without a resource, its distribution and field cannot be judged.
            assert_eq!(codes(f.validate(found)), want, "{case}");
        }
        let ok = form().validate(Some(target(&m, published))).unwrap();
        assert_eq!(
            ok,
            Correction {
                resource_id: 1,
                provider_org_id: PROVIDER,
                distribution_id: 11,
                row: Some(3),
                field: Some("population".into()),
                description: "第3行的人口数比统计年鉴多了一个零。".into(),
                evidence: Some("《成都统计年鉴2024》表3-2：126435人。".into()),
            }
        );
        let mut upper = form();
        upper.field = "Population".into();
        assert_eq!(
            upper.validate(Some(target(&m, published))).unwrap().field.as_deref(),
            Some("population"),
            "the declared name is kept"
        );
    }

    #[test]
    fn only_published_data_takes_reports() {
        let m = meta();
        for (status, ok) in [
            (Status::new(ResourceState::Published), true),
            (Status::revising(RevisionState::PendingReview), true),
            (Status::new(ResourceState::Withdrawn), false),
            (Status::new(ResourceState::Draft), false),
            (Status::new(ResourceState::PendingReview), false),
            (Status::new(ResourceState::Returned), false),
        ] {
            let want: Vec<&str> = if ok {
                vec![]
            } else {
                vec!["resource_id:resource_not_published"]
            };
            assert_eq!(codes(form().validate(Some(target(&m, status)))), want, "{status:?}");
        }
        let mut not_open = meta();
        not_open.open_type = crate::metadata::OpenType::NotOpen;
        assert_eq!(
            codes(form().validate(Some(target(&not_open, Status::new(ResourceState::Published))))),
            vec!["resource_id:resource_not_published"]
        );
        assert_eq!(
            codes(form().validate(None)),
            vec!["resource_id:not_found"],
            "an unknown resource says only that"
        );
        let mut text = form();
        text.resource_id = "第一个".into();
        assert_eq!(codes(text.validate(None)), vec!["resource_id:resource_id"]);
        let mut other = form();
        other.resource_id = "2".into();
        assert_eq!(
            codes(other.validate(Some(target(&m, Status::new(ResourceState::Published))))),
            vec!["resource_id:not_found"],
            "a target that is not the named resource is not used"
        );
    }

    #[test]
    fn resubmitted_reports_are_the_same() {
        let m = meta();
        let t = target(&m, Status::new(ResourceState::Published));
        let fp = |edit: fn(&mut NewCorrection)| {
            let mut f = form();
            edit(&mut f);
            f.validate(Some(t)).unwrap().fingerprint()
        };
        let first = fp(|_| {});
        assert_eq!(fp(|f| f.description = format!("{}\n", f.description)), first);
        assert_eq!(fp(|f| f.idempotency_key = "k1".into()), first);
        assert_ne!(fp(|f| f.row = "2".into()), first);
        assert_ne!(fp(|f| f.field.clear()), first);
        assert_ne!(fp(|f| f.evidence.clear()), first);
    }

    fn callers() -> [(&'static str, Caller); 5] {
        [
            ("nobody", Caller::default()),
            (
                "reporter",
                Caller {
                    reporter: true,
                    ..Caller::default()
                },
            ),
            (
                "admin",
                Caller {
                    admin: true,
                    ..Caller::default()
                },
            ),
            (
                "handler",
                Caller {
                    handler: true,
                    ..Caller::default()
                },
            ),
            (
                "handler_reporter",
                Caller {
                    handler: true,
                    reporter: true,
                    ..Caller::default()
                },
            ),
        ]
    }

    fn actions() -> [Action; 3] {
        [
            Action::StartReview,
            Action::Accept {
                fix: "已核实，将在2025年第4季度新版本中更正。".into(),
                fixed_distribution_id: None,
            },
            Action::Reject {
                reason: "经核对原始台账，数据无误。".into(),
            },
        ]
    }

    fn ctx(caller: Caller) -> Context<'static> {
        Context {
            caller,
            distributions: &[11, 12],
        }
    }

    #[test]
    fn every_state_action_and_role() {
        // Columns: nobody, reporter, admin, handler, handler who reported it.
        let table: [(CorrectionState, &str, &str, Option<CorrectionState>); 12] = [
            (SUBMITTED, "start_review", "FFFOF", Some(UNDER_REVIEW)),
            (SUBMITTED, "accept", "FFFIF", None),
            (SUBMITTED, "reject", "FFFIF", None),
            (UNDER_REVIEW, "start_review", "FFFIF", None),
            (UNDER_REVIEW, "accept", "FFFOF", Some(ACCEPTED)),
            (UNDER_REVIEW, "reject", "FFFOF", Some(REJECTED)),
            (ACCEPTED, "start_review", "FFFIF", None),
            (ACCEPTED, "accept", "FFFIF", None),
            (ACCEPTED, "reject", "FFFIF", None),
            (REJECTED, "start_review", "FFFIF", None),
            (REJECTED, "accept", "FFFIF", None),
            (REJECTED, "reject", "FFFIF", None),
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
        for s in CorrectionState::ALL {
            for a in &actions {
                assert_eq!(table.iter().filter(|r| r.0 == s && r.1 == a.name()).count(), 1);
            }
        }
    }

    #[test]
    fn effects_and_content() {
        use Effect::{Notify, StartDeadline, StopDeadline};
        let handler = callers()[3].1;
        let [start, accept, reject] = actions();
        assert_eq!(
            submit(&Rules::default()),
            Transition {
                to: SUBMITTED,
                effects: vec![
                    StartDeadline(5),
                    Notify(Recipient::ProviderStaff, NoticeKind::Submitted)
                ]
            }
        );
        assert_eq!(
            submit(&Rules {
                handling_days: 3,
                ..Rules::default()
            })
            .effects[0],
            StartDeadline(3)
        );
        assert_eq!(
            apply(SUBMITTED, &start, ctx(handler)).unwrap().effects,
            vec![Notify(Recipient::Reporter, NoticeKind::UnderReview)]
        );
        assert_eq!(
            apply(UNDER_REVIEW, &accept, ctx(handler)).unwrap().effects,
            vec![StopDeadline, Notify(Recipient::Reporter, NoticeKind::Accepted)]
        );
        assert_eq!(
            apply(UNDER_REVIEW, &reject, ctx(handler)).unwrap().effects,
            vec![StopDeadline, Notify(Recipient::Reporter, NoticeKind::Rejected)]
        );
        let table = [
            (Action::Reject { reason: " ".into() }, vec!["reason:required"]),
            (
                Action::Reject {
                    reason: "理".repeat(1001),
                },
                vec!["reason:length"],
            ),
            (
                Action::Accept {
                    fix: String::new(),
                    fixed_distribution_id: None,
                },
                vec!["fix:required"],
            ),
            (
                Action::Accept {
                    fix: "已在新版本更正".into(),
                    fixed_distribution_id: Some(99),
                },
                vec!["fixed_distribution_id:distribution_not_of_resource"],
            ),
            (
                Action::Accept {
                    fix: "已在新版本更正".into(),
                    fixed_distribution_id: Some(12),
                },
                vec![],
            ),
        ];
        for (action, want) in table {
            assert_eq!(codes(apply(UNDER_REVIEW, &action, ctx(handler))), want, "{action:?}");
        }
        assert_eq!(accept.text(), Some("已核实，将在2025年第4季度新版本中更正。"));
        assert_eq!(start.text(), None);
    }

    #[test]
    fn callers_come_from_memberships() {
        let actor = |user_id, roles: &[(Role, Option<i64>)]| Actor {
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
        };
        let of = |a: &Actor| Caller::of(a, REPORTER, PROVIDER);
        assert_eq!(
            of(&actor(REPORTER, &[(Role::Consumer, None)])),
            Caller {
                reporter: true,
                ..Caller::default()
            }
        );
        for role in [Role::ProviderManager, Role::ProviderEditor, Role::ProviderReviewer] {
            assert!(of(&actor(8, &[(role, Some(PROVIDER))])).handler);
            assert_eq!(of(&actor(8, &[(role, Some(30))])), Caller::default());
        }
        assert!(of(&actor(8, &[(Role::AdminManager, Some(1))])).admin);
        assert!(!of(&actor(8, &[(Role::Consumer, None)])).sees_details());
        assert!(of(&actor(8, &[(Role::AdminReviewer, Some(1))])).sees_details());
        assert!(may_submit(&Actor::anonymous()).is_err());
    }

    #[test]
    fn states_have_stable_keys() {
        for s in CorrectionState::ALL {
            assert_eq!(CorrectionState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
            assert!(!s.name_zh().is_empty());
        }
        assert_eq!(
            CorrectionState::ALL.map(CorrectionState::is_final),
            [false, false, true, true]
        );
        let json: NewCorrection =
            serde_json::from_str(r#"{"resource_id": 1, "distribution_id": 11, "row": 3, "description": "x"}"#).unwrap();
        assert_eq!((json.resource(), json.row.as_str()), (Some(1), "3"));
        assert_eq!(NoticeKind::Rejected.as_str(), "correction_rejected");
        let rules: Rules = serde_json::from_str(r#"{"handling_days": 8}"#).unwrap();
        assert_eq!(rules.handling_days, 8);
    }
}
