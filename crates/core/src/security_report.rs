//! 安全问题报告 — confidential reports of data-security problems (DESIGN §4, §7 of the standard):
//! the report, who may see it, the triage by the administration institution, the actions taken
//! from the report and the resolution, with working-day deadlines. Pure: the service stores what
//! [`submit`] and [`apply`] decide and performs the actions (withdrawal, revocation).
//!
//! Anyone logged in reports personal data exposed, a leak, misuse of granted data or another
//! problem, optionally naming the resource and the grant concerned. The report is confidential:
//! its reporter sees a limited view of their own report (what they wrote, where it stands, the
//! resolution), the administration institution sees it all, and the provider department it is
//! routed to sees it from the routing on. Nobody else learns that it exists.
//!
//! The administration institution triages it (severity), routes it to the provider concerned,
//! and either may act from the report: withdraw the resource, revoke a grant. Each action is
//! recorded on the report. The report ends resolved, with a resolution record.

use serde::{Deserialize, Serialize};

use crate::demand::{check_idempotency_key, fingerprint, optional_id, DEFAULT_DUPLICATE_WINDOW_SECS};
use crate::error::{Checks, DomainError, FieldError};
use crate::metadata::loose;
use crate::policy::Actor;
use crate::user::Role;

const TEXT_MIN: usize = 10;
const TEXT_MAX: usize = 4000;
const EVIDENCE_MAX: usize = 8000;
const REASON_MAX: usize = 2000;
/// Working days from the report to its triage by the administration institution.
pub const TRIAGE_DAYS: u32 = 2;
/// Working days from the routing to the resolution.
pub const HANDLING_DAYS: u32 = 5;

/// What kind of problem is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 个人信息暴露
    PersonalData,
    /// 数据泄露
    Leak,
    /// 授权数据滥用
    Misuse,
    Other,
}

impl ReportKind {
    pub const ALL: [ReportKind; 4] = [
        ReportKind::PersonalData,
        ReportKind::Leak,
        ReportKind::Misuse,
        ReportKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::PersonalData => "personal_data",
            ReportKind::Leak => "leak",
            ReportKind::Misuse => "misuse",
            ReportKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// How serious the administration institution judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// Where a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// 待分诊 — waiting for the administration institution.
    Submitted,
    /// 已分诊 — severity set.
    Triaged,
    /// 已转办 — routed to the provider concerned.
    Routed,
    /// 已处置 — resolved, with the record of how.
    Resolved,
}

impl ReportState {
    pub const ALL: [ReportState; 4] = [
        ReportState::Submitted,
        ReportState::Triaged,
        ReportState::Routed,
        ReportState::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Submitted => "submitted",
            ReportState::Triaged => "triaged",
            ReportState::Routed => "routed",
            ReportState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<ReportState> {
        ReportState::ALL.into_iter().find(|st| st.as_str() == s.trim())
    }

    pub fn is_final(self) -> bool {
        self == ReportState::Resolved
    }
}

/// The deployment's settings for security reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub triage_days: u32,
    pub handling_days: u32,
    pub duplicate_window_secs: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            triage_days: TRIAGE_DAYS,
            handling_days: HANDLING_DAYS,
            duplicate_window_secs: DEFAULT_DUPLICATE_WINDOW_SECS,
        }
    }
}

/// A report as a form or JSON gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewReport {
    #[serde(deserialize_with = "loose::text")]
    pub kind: String,
    /// The resource concerned; optional.
    #[serde(deserialize_with = "loose::text")]
    pub resource_id: String,
    /// The grant concerned (misuse of granted data); optional.
    #[serde(deserialize_with = "loose::text")]
    pub grant_id: String,
    #[serde(deserialize_with = "loose::text")]
    pub description: String,
    #[serde(deserialize_with = "loose::text")]
    pub evidence: String,
    #[serde(deserialize_with = "loose::text")]
    pub idempotency_key: String,
}

/// A validated report. The resource of a named grant is the grant's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: ReportKind,
    pub resource_id: Option<i64>,
    pub grant_id: Option<i64>,
    pub description: String,
    pub evidence: Option<String>,
}

impl Report {
    pub fn fingerprint(&self) -> String {
        let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        fingerprint(&[
            self.kind.as_str(),
            &id(self.resource_id),
            &id(self.grant_id),
            &self.description,
            self.evidence.as_deref().unwrap_or(""),
        ])
    }
}

/// What the service found for the ids given: a resource in the catalogue (published or
/// withdrawn), and a grant with its resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Found {
    pub resource: bool,
    pub grant_resource: Option<i64>,
    /// The grant is not the reporter's: it is recorded as given, unchecked, so that the answer
    /// does not tell whether someone else's grant exists (the administration checks it).
    pub grant_unverified: bool,
}

impl NewReport {
    pub fn resource(&self) -> Option<i64> {
        self.resource_id.trim().parse().ok().filter(|id| *id > 0)
    }

    pub fn grant(&self) -> Option<i64> {
        self.grant_id.trim().parse().ok().filter(|id| *id > 0)
    }

    pub fn idempotency_key(&self) -> Option<&str> {
        Some(self.idempotency_key.trim()).filter(|k| !k.is_empty())
    }

    /// Every rule, all problems at once.
    pub fn validate(&self, found: Found) -> Result<Report, DomainError> {
        let mut c = Checks::new();
        let kind = ReportKind::parse(&self.kind);
        if self.kind.trim().is_empty() {
            c.push(FieldError::new("kind", "required"));
        } else {
            c.check(kind.is_some(), "kind", "report_kind");
        }
        let resource = optional_id(&mut c, &self.resource_id, "resource_id", "resource_id");
        if resource.is_some() {
            c.check(found.resource, "resource_id", "not_found");
        }
        let grant = optional_id(&mut c, &self.grant_id, "grant_id", "grant_id");
        if grant.is_some() && !found.grant_unverified {
            match found.grant_resource {
                None => c.push(FieldError::new("grant_id", "not_found")),
                Some(r) if resource.is_some_and(|given| given != r) => {
                    c.push(FieldError::new("grant_id", "grant_not_of_resource"))
                }
                Some(_) => {}
            }
        }
        let description = self.description.trim();
        c.length(description, "description", TEXT_MIN, TEXT_MAX);
        let evidence = self.evidence.trim();
        c.length(evidence, "evidence", 0, EVIDENCE_MAX);
        check_idempotency_key(&mut c, &self.idempotency_key);
        c.finish()?;
        Ok(Report {
            kind: kind.expect("checked above"),
            resource_id: resource.or(found
                .grant_resource
                .filter(|_| grant.is_some() && !found.grant_unverified)),
            grant_id: grant,
            description: description.to_string(),
            evidence: (!evidence.is_empty()).then(|| evidence.to_string()),
        })
    }
}

/// Who may report: anyone logged in as a person.
pub fn may_submit(actor: &Actor) -> Result<i64, DomainError> {
    crate::demand::may_submit(actor)
}

/// How the caller relates to a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    pub reporter: bool,
    /// admin_reviewer or admin_manager of the administration institution.
    pub admin: bool,
    /// Staff (manager, editor, reviewer) of the provider the report is routed to.
    pub handler: bool,
}

impl Caller {
    pub fn of(actor: &Actor, reporter_id: i64, routed_to: Option<i64>) -> Caller {
        Caller {
            reporter: actor.user_id == Some(reporter_id),
            admin: actor.has_role(Role::AdminReviewer) || actor.has_role(Role::AdminManager),
            handler: routed_to.is_some_and(|org| {
                actor.memberships.iter().any(|m| {
                    m.org_id == Some(org)
                        && matches!(
                            m.role,
                            Role::ProviderManager | Role::ProviderEditor | Role::ProviderReviewer
                        )
                })
            }),
        }
    }

    /// Whether the report exists for the caller at all.
    pub fn sees(self) -> bool {
        self.reporter || self.admin || self.handler
    }

    /// The whole report: severity, routing, actions, history. The reporter alone sees less.
    pub fn sees_all(self) -> bool {
        self.admin || self.handler
    }

    pub fn may(self, action: &Action) -> bool {
        match action {
            Action::Triage { .. } | Action::Route { .. } => self.admin && !self.reporter,
            Action::WithdrawResource { .. } | Action::RevokeGrant { .. } | Action::Resolve { .. } => {
                (self.admin || self.handler) && !self.reporter
            }
        }
    }
}

/// What the handlers do with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 分诊 — set (or change) the severity.
    Triage { severity: Severity },
    /// 转办 — to the provider department concerned (the service checks it is one).
    Route { provider_org_id: i64 },
    /// 下架 the resource concerned, with the reason its provider reads.
    WithdrawResource { resource_id: i64, reason: String },
    /// 撤销 a grant, with the reason the consumer reads.
    RevokeGrant { grant_id: i64, reason: String },
    /// 处置完毕 — with the record of what was found and done.
    Resolve { resolution: String },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Triage { .. } => "triage",
            Action::Route { .. } => "route",
            Action::WithdrawResource { .. } => "withdraw_resource",
            Action::RevokeGrant { .. } => "revoke_grant",
            Action::Resolve { .. } => "resolve",
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Action::WithdrawResource { reason, .. } | Action::RevokeGrant { reason, .. } => Some(reason.trim()),
            Action::Resolve { resolution } => Some(resolution.trim()),
            Action::Triage { .. } | Action::Route { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    Reporter,
    Admins,
    /// Staff of the provider the report is routed to.
    ProviderStaff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    Submitted,
    Routed,
    Resolved,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Submitted => "security_report_submitted",
            NoticeKind::Routed => "security_report_routed",
            NoticeKind::Resolved => "security_report_resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Notify(Recipient, NoticeKind),
    StartDeadline(u32),
    StopDeadline,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: ReportState,
    pub effects: Vec<Effect>,
}

/// A new report waits for triage, whose deadline starts.
pub fn submit(rules: &Rules) -> Transition {
    Transition {
        to: ReportState::Submitted,
        effects: vec![
            Effect::StartDeadline(rules.triage_days),
            Effect::Notify(Recipient::Admins, NoticeKind::Submitted),
        ],
    }
}

/// The one place report transitions are decided: the caller's standing (`Forbidden`), the action
/// from this state (`InvalidTransition`), then its content (`Validation`). Actions on the resource
/// or a grant leave the report where it is; the operation they run decides for itself.
pub fn apply(state: ReportState, action: &Action, caller: Caller, rules: &Rules) -> Result<Transition, DomainError> {
    use Effect::{Notify, StartDeadline, StopDeadline};
    use ReportState as S;
    if !caller.may(action) {
        return Err(DomainError::Forbidden);
    }
    let (to, effects) = match (action, state) {
        (_, S::Resolved) => {
            return Err(DomainError::InvalidTransition {
                from: state.as_str().to_string(),
                action: action.name().to_string(),
            })
        }
        (Action::Triage { .. }, S::Submitted) => (S::Triaged, vec![]),
        (Action::Triage { .. }, s) => (s, vec![]),
        (Action::Route { .. }, S::Triaged | S::Routed) => (
            S::Routed,
            vec![
                StartDeadline(rules.handling_days),
                Notify(Recipient::ProviderStaff, NoticeKind::Routed),
            ],
        ),
        (Action::WithdrawResource { .. } | Action::RevokeGrant { .. }, s) => (s, vec![]),
        (Action::Resolve { .. }, _) => (
            S::Resolved,
            vec![StopDeadline, Notify(Recipient::Reporter, NoticeKind::Resolved)],
        ),
        (Action::Route { .. }, S::Submitted) => {
            return Err(DomainError::InvalidTransition {
                from: state.as_str().to_string(),
                action: action.name().to_string(),
            })
        }
    };
    let mut c = Checks::new();
    match action {
        Action::WithdrawResource { reason, .. } | Action::RevokeGrant { reason, .. } => {
            c.length(reason.trim(), "reason", 2, REASON_MAX);
        }
        Action::Resolve { resolution } => {
            c.length(resolution.trim(), "resolution", 2, REASON_MAX);
        }
        Action::Triage { .. } | Action::Route { .. } => {}
    }
    c.finish()?;
    Ok(Transition { to, effects })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: Result<impl Sized, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn form() -> NewReport {
        NewReport {
            kind: "personal_data".into(),
            resource_id: "3".into(),
            grant_id: String::new(),
            description: "下载文件中包含未脱敏的身份证号码".into(),
            evidence: "第 12 行 id_card 列".into(),
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_report_names_the_resource_of_its_grant() {
        let mut f = form();
        f.resource_id = String::new();
        f.grant_id = "9".into();
        let r = f
            .validate(Found {
                resource: false,
                grant_resource: Some(3),
                grant_unverified: false,
            })
            .unwrap();
        assert_eq!((r.resource_id, r.grant_id), (Some(3), Some(9)));
        let unverified = Found {
            grant_unverified: true,
            ..Default::default()
        };
        let r = f.validate(unverified).unwrap();
        assert_eq!(
            (r.resource_id, r.grant_id),
            (None, Some(9)),
            "someone else's grant, unchecked"
        );
    }

    #[test]
    fn bad_input_is_reported_field_by_field() {
        let bad = NewReport {
            kind: "rumour".into(),
            resource_id: "3".into(),
            grant_id: "9".into(),
            description: "短".into(),
            evidence: String::new(),
            idempotency_key: String::new(),
        };
        let found = Found {
            resource: false,
            grant_resource: Some(4),
            grant_unverified: false,
        };
        assert_eq!(
            codes(bad.validate(found)),
            vec![
                "kind:report_kind",
                "resource_id:not_found",
                "grant_id:grant_not_of_resource",
                "description:length"
            ]
        );
        let mut f = form();
        f.grant_id = "x".into();
        assert_eq!(
            codes(f.validate(Found {
                resource: true,
                grant_resource: None,
                grant_unverified: false,
            })),
            vec!["grant_id:grant_id"]
        );
    }

    #[test]
    fn every_state_action_and_role() {
        use ReportState::*;
        let rules = Rules::default();
        let admin = Caller {
            admin: true,
            ..Default::default()
        };
        let handler = Caller {
            handler: true,
            ..Default::default()
        };
        let reporter = Caller {
            reporter: true,
            ..Default::default()
        };
        let nobody = Caller::default();
        let triage = Action::Triage {
            severity: Severity::High,
        };
        let route = Action::Route { provider_org_id: 5 };
        let withdraw = Action::WithdrawResource {
            resource_id: 3,
            reason: "含个人信息".into(),
        };
        let revoke = Action::RevokeGrant {
            grant_id: 9,
            reason: "滥用授权数据".into(),
        };
        let resolve = Action::Resolve {
            resolution: "已下架并撤销授权".into(),
        };
        type Case<'a> = (ReportState, &'a Action, Caller, Result<ReportState, &'a str>);
        let cases: Vec<Case> = vec![
            (Submitted, &triage, admin, Ok(Triaged)),
            (Triaged, &triage, admin, Ok(Triaged)),
            (Routed, &triage, admin, Ok(Routed)),
            (Submitted, &route, admin, Err("transition")),
            (Triaged, &route, admin, Ok(Routed)),
            (Routed, &route, admin, Ok(Routed)),
            (Submitted, &withdraw, admin, Ok(Submitted)),
            (Routed, &revoke, handler, Ok(Routed)),
            (Routed, &resolve, handler, Ok(Resolved)),
            (Triaged, &resolve, admin, Ok(Resolved)),
            (Resolved, &resolve, admin, Err("transition")),
            (Resolved, &revoke, admin, Err("transition")),
            (Triaged, &triage, handler, Err("forbidden")),
            (Triaged, &route, handler, Err("forbidden")),
            (Submitted, &triage, reporter, Err("forbidden")),
            (Routed, &resolve, reporter, Err("forbidden")),
            (Routed, &revoke, nobody, Err("forbidden")),
        ];
        for (state, action, caller, want) in cases {
            match (want, apply(state, action, caller, &rules)) {
                (Ok(to), Ok(t)) => assert_eq!(t.to, to, "{state:?} {action:?}"),
                (Err("forbidden"), Err(DomainError::Forbidden)) => {}
                (Err("transition"), Err(DomainError::InvalidTransition { .. })) => {}
                (w, g) => panic!("{state:?} {action:?} {caller:?}: want {w:?}, got {g:?}"),
            }
        }
        let empty = Action::Resolve { resolution: "".into() };
        assert_eq!(codes(apply(Routed, &empty, admin, &rules)), vec!["resolution:required"]);
    }

    #[test]
    fn the_reporter_sees_a_limited_view_and_strangers_nothing() {
        assert!(Caller::default().sees().eq(&false));
        let reporter = Caller {
            reporter: true,
            ..Default::default()
        };
        assert!(reporter.sees() && !reporter.sees_all());
        let actor = Actor::anonymous();
        assert!(!Caller::of(&actor, 1, Some(2)).sees());
    }
}
