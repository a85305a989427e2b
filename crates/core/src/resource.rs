//! 数据资源 — the resource life cycle (DESIGN §4): its states, who may move it between them, what
//! a submission requires, and the review checklist. Pure: the service stores what `apply` decides.
//!
//! A change to a published resource is a *revision*: the resource stays `published` (the current
//! version stays online) while a separate [`RevisionState`] tracks the edited working copy through
//! the same review. So a resource's status is two columns, `state` and `revision`; the revision is
//! `none` unless the state is `published`.
//!
//! Who may act (§5.1, §5.4.2–5.4.3): the owning provider's editors and managers prepare, submit,
//! revise and delete drafts; the administration institution's reviewers and managers approve
//! (发布) and return. Withdrawal (下架) takes data offline, which never needs a review: the
//! provider's manager may do it (an accountable decision, so not an editor), and so may the
//! administration institution (e.g. on a security report). Nobody else may do anything here;
//! sysadmin runs the platform but takes no part in the content workflow.

use serde::{Deserialize, Serialize};

use crate::error::{Checks, DomainError, FieldError};
use crate::metadata::{missing_for_submission, OpenType, ResourceMeta};
use crate::policy::Actor;
use crate::user::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceState {
    /// 草稿 — being prepared; never seen outside the provider.
    Draft,
    /// 待审核 — submitted, awaiting the administration institution's review.
    PendingReview,
    /// 已退回 — sent back with reasons; the provider fixes and resubmits.
    Returned,
    /// 已发布 — in the catalogue.
    Published,
    /// 已下架 — taken offline with a reason; may be resubmitted to republish.
    Withdrawn,
    /// A deleted draft: kept so its code is never reused, shown nowhere.
    Deleted,
}

impl ResourceState {
    pub const ALL: [ResourceState; 6] = [
        ResourceState::Draft,
        ResourceState::PendingReview,
        ResourceState::Returned,
        ResourceState::Published,
        ResourceState::Withdrawn,
        ResourceState::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceState::Draft => "draft",
            ResourceState::PendingReview => "pending_review",
            ResourceState::Returned => "returned",
            ResourceState::Published => "published",
            ResourceState::Withdrawn => "withdrawn",
            ResourceState::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<ResourceState> {
        ResourceState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The state of the pending change to a published resource (修订).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RevisionState {
    /// No change under review; the working copy may be edited freely.
    #[default]
    None,
    /// The edited working copy awaits review; the published version stays online.
    PendingReview,
    /// The change was sent back with reasons; the published version is unaffected.
    Returned,
}

impl RevisionState {
    pub const ALL: [RevisionState; 3] = [
        RevisionState::None,
        RevisionState::PendingReview,
        RevisionState::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RevisionState::None => "none",
            RevisionState::PendingReview => "pending_review",
            RevisionState::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<RevisionState> {
        RevisionState::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Where a resource is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Status {
    pub state: ResourceState,
    #[serde(default)]
    pub revision: RevisionState,
}

impl Status {
    pub const fn new(state: ResourceState) -> Status {
        Status {
            state,
            revision: RevisionState::None,
        }
    }

    pub const fn revising(revision: RevisionState) -> Status {
        Status {
            state: ResourceState::Published,
            revision,
        }
    }

    /// In the catalogue: searchable, downloadable, appliable.
    pub fn is_public(self) -> bool {
        self.state == ResourceState::Published
    }

    /// Whether a review by the administration institution is awaited.
    pub fn awaits_review(self) -> bool {
        self.state == ResourceState::PendingReview || self.revision == RevisionState::PendingReview
    }

    /// Whether the working copy may be edited: not while a review looks at it.
    pub fn is_editable(self) -> bool {
        match self.state {
            ResourceState::Draft | ResourceState::Returned | ResourceState::Withdrawn => true,
            ResourceState::Published => self.revision != RevisionState::PendingReview,
            ResourceState::PendingReview | ResourceState::Deleted => false,
        }
    }

    /// `published`, or `published+revision_returned` while a revision is open.
    pub fn key(self) -> String {
        match self.revision {
            RevisionState::None => self.state.as_str().to_string(),
            r => format!("{}+revision_{}", self.state.as_str(), r.as_str()),
        }
    }
}

/// The three checks of 审核 (§5.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// 合规性 — lawful to open, no IP encumbrance, open type and conditions appropriate.
    Compliance,
    /// 可用性 — complete metadata, readable data of acceptable quality.
    Availability,
    /// 安全性 — no unmasked personal or sensitive data, nothing endangering security.
    Security,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Compliance => "compliance",
            CheckKind::Availability => "availability",
            CheckKind::Security => "security",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CheckKind::Compliance => "合规性",
            CheckKind::Availability => "可用性",
            CheckKind::Security => "安全性",
        }
    }
}

/// One check's outcome; a failure says why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub pass: bool,
    #[serde(default)]
    pub note: String,
}

/// The reviewer's checklist for one decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewChecklist {
    pub compliance: CheckResult,
    pub availability: CheckResult,
    pub security: CheckResult,
}

impl ReviewChecklist {
    /// Every check passed, with no notes.
    pub fn passed() -> ReviewChecklist {
        let ok = CheckResult {
            pass: true,
            note: String::new(),
        };
        ReviewChecklist {
            compliance: ok.clone(),
            availability: ok.clone(),
            security: ok,
        }
    }

    pub fn items(&self) -> [(CheckKind, &CheckResult); 3] {
        [
            (CheckKind::Compliance, &self.compliance),
            (CheckKind::Availability, &self.availability),
            (CheckKind::Security, &self.security),
        ]
    }

    pub fn all_pass(&self) -> bool {
        self.items().iter().all(|(_, r)| r.pass)
    }

    /// A well-formed checklist: a failed check says why (`checklist.security.note: required`),
    /// and notes stay under 1000 characters.
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut c = Checks::new();
        self.check_notes(&mut c);
        c.finish()
    }

    fn check_notes(&self, c: &mut Checks) {
        for (kind, r) in self.items() {
            let field = format!("checklist.{}.note", kind.as_str());
            let min = usize::from(!r.pass);
            c.length(r.note.trim(), &field, min, 1000);
        }
    }

    /// Approval needs a well-formed checklist with all three checks passed.
    pub fn check_approval(&self) -> Result<(), DomainError> {
        let mut c = Checks::new();
        for (kind, r) in self.items() {
            c.check(r.pass, &format!("checklist.{}", kind.as_str()), "check_failed");
        }
        self.check_notes(&mut c);
        c.finish()
    }

    /// Reasons drawn from the failed checks (`合规性：…`), to pre-fill a return.
    pub fn failure_reasons(&self) -> Vec<String> {
        self.items()
            .into_iter()
            .filter(|(_, r)| !r.pass)
            .map(|(kind, r)| format!("{}：{}", kind.name_zh(), r.note.trim()))
            .collect()
    }
}

/// What someone asks to do with a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 提交审核 — a draft, returned or withdrawn resource goes to review.
    Submit,
    /// 审核通过并发布
    Approve {
        checklist: ReviewChecklist,
    },
    /// 退回 — with at least one reason.
    Return {
        reasons: Vec<String>,
    },
    /// 下架 — with a reason.
    Withdraw {
        reason: String,
    },
    /// A change to a published resource goes to review; the current version stays online.
    SubmitRevision,
    ApproveRevision {
        checklist: ReviewChecklist,
    },
    ReturnRevision {
        reasons: Vec<String>,
    },
    /// Drafts only.
    Delete,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Approve { .. } => "approve",
            Action::Return { .. } => "return",
            Action::Withdraw { .. } => "withdraw",
            Action::SubmitRevision => "submit_revision",
            Action::ApproveRevision { .. } => "approve_revision",
            Action::ReturnRevision { .. } => "return_revision",
            Action::Delete => "delete",
        }
    }
}

/// How the caller relates to the resource; one person may hold several of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    /// provider_editor of the provider that owns the resource.
    pub owner_editor: bool,
    /// provider_manager of the owning provider.
    pub owner_manager: bool,
    /// admin_reviewer of the administration institution.
    pub admin_reviewer: bool,
    /// admin_manager of the administration institution.
    pub admin_manager: bool,
}

impl Caller {
    /// The caller's standing towards a resource owned by the provider `owner_org_id`.
    pub fn of(actor: &Actor, owner_org_id: i64) -> Caller {
        Caller {
            owner_editor: actor.has_role_in(Role::ProviderEditor, owner_org_id),
            owner_manager: actor.has_role_in(Role::ProviderManager, owner_org_id),
            admin_reviewer: actor.has_role(Role::AdminReviewer),
            admin_manager: actor.has_role(Role::AdminManager),
        }
    }

    fn is_owner_staff(self) -> bool {
        self.owner_editor || self.owner_manager
    }

    fn is_admin(self) -> bool {
        self.admin_reviewer || self.admin_manager
    }

    /// Whether the caller may perform this kind of action at all (in some state).
    pub fn may(self, action: &Action) -> bool {
        match action {
            Action::Submit | Action::SubmitRevision | Action::Delete => self.is_owner_staff(),
            Action::Approve { .. }
            | Action::Return { .. }
            | Action::ApproveRevision { .. }
            | Action::ReturnRevision { .. } => self.is_admin(),
            Action::Withdraw { .. } => self.owner_manager || self.is_admin(),
        }
    }
}

/// Who acts, and the open type of the version the action concerns (the working copy under
/// submission or review).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub caller: Caller,
    pub open_type: OpenType,
}

/// What the service must do besides storing the new status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Open a review, due in `calendar::RESOURCE_REVIEW_DAYS` working days.
    AwaitReview,
    /// Close the open review without a decision (the resource was withdrawn under it).
    CancelReview,
    /// The working copy becomes the online version (sets published_at, or updated_at for a
    /// revision) and enters the catalogue and the search index.
    Publish,
    /// Off the catalogue, search, downloads and data API.
    Unpublish,
    /// Tell the provider of the decision or the withdrawal, with its reasons.
    NotifyProvider,
    /// Tell the administration institution (the provider withdrew a resource).
    NotifyAdmin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: Status,
    pub effects: Vec<Effect>,
}

/// The one place resource transitions are decided. Checks, in order: the caller's role for the
/// action (`Forbidden`), the action from this status (`InvalidTransition`), then the action's
/// content (`Validation`: checklist, reasons, and that `not_open` data is never submitted or
/// published). Submission preconditions are [`check_submission`], run by the caller before
/// `Submit` and `SubmitRevision` because they need the metadata and the files.
pub fn apply(status: Status, action: &Action, ctx: Context) -> Result<Transition, DomainError> {
    use ResourceState as S;
    use RevisionState as R;
    if !ctx.caller.may(action) {
        return Err(DomainError::Forbidden);
    }
    let (to, effects) = match (action, status.state, status.revision) {
        (Action::Submit, S::Draft | S::Returned | S::Withdrawn, _) => {
            (Status::new(S::PendingReview), vec![Effect::AwaitReview])
        }
        (Action::Approve { .. }, S::PendingReview, _) => {
            (Status::new(S::Published), vec![Effect::Publish, Effect::NotifyProvider])
        }
        (Action::Return { .. }, S::PendingReview, _) => (Status::new(S::Returned), vec![Effect::NotifyProvider]),
        (Action::Withdraw { .. }, S::Published, rev) => {
            let mut effects = vec![Effect::Unpublish];
            if rev == R::PendingReview {
                effects.insert(0, Effect::CancelReview);
            }
            // Whoever did not withdraw hears of it.
            effects.push(if ctx.caller.is_admin() {
                Effect::NotifyProvider
            } else {
                Effect::NotifyAdmin
            });
            (Status::new(S::Withdrawn), effects)
        }
        (Action::SubmitRevision, S::Published, R::None | R::Returned) => {
            (Status::revising(R::PendingReview), vec![Effect::AwaitReview])
        }
        (Action::ApproveRevision { .. }, S::Published, R::PendingReview) => {
            (Status::revising(R::None), vec![Effect::Publish, Effect::NotifyProvider])
        }
        (Action::ReturnRevision { .. }, S::Published, R::PendingReview) => {
            (Status::revising(R::Returned), vec![Effect::NotifyProvider])
        }
        (Action::Delete, S::Draft, _) => (Status::new(S::Deleted), vec![]),
        _ => {
            return Err(DomainError::InvalidTransition {
                from: status.key(),
                action: action.name().to_string(),
            })
        }
    };
    check_content(action, ctx.open_type)?;
    Ok(Transition { to, effects })
}

fn check_content(action: &Action, open_type: OpenType) -> Result<(), DomainError> {
    let mut c = Checks::new();
    match action {
        Action::Submit | Action::SubmitRevision => {}
        Action::Approve { checklist } | Action::ApproveRevision { checklist } => {
            if let Err(DomainError::Validation(errors)) = checklist.check_approval() {
                errors.into_iter().for_each(|e| c.push(e));
            }
        }
        Action::Return { reasons } | Action::ReturnRevision { reasons } => check_reasons(&mut c, reasons),
        Action::Withdraw { reason } => {
            c.length(reason.trim(), "reason", 2, 500);
        }
        Action::Delete => {}
    }
    let publishing = matches!(
        action,
        Action::Submit | Action::SubmitRevision | Action::Approve { .. } | Action::ApproveRevision { .. }
    );
    c.check(!publishing || open_type.is_publishable(), "open_type", "not_open");
    c.finish()
}

fn check_reasons(c: &mut Checks, reasons: &[String]) {
    let given: Vec<&str> = reasons.iter().map(|r| r.trim()).filter(|r| !r.is_empty()).collect();
    c.check(!given.is_empty(), "reasons", "required");
    for (i, r) in given.iter().enumerate() {
        c.length(r, &format!("reasons[{i}]"), 1, 1000);
    }
}

/// Whether the caller may edit the working copy now.
pub fn can_edit(status: Status, caller: Caller) -> bool {
    caller.is_owner_staff() && status.is_editable()
}

/// What must be true before a resource (or a revision) is submitted, all reported at once:
/// opened data only (`open_type: not_open`), complete metadata ([`missing_for_submission`]),
/// at least one distribution (`distributions: no_distribution`) whose ingest has finished
/// (`distributions: ingest_running`), and every privacy finding masked or justified
/// (`privacy: privacy_unresolved`, with `count`).
pub fn check_submission(
    meta: &ResourceMeta,
    has_distribution: bool,
    ingest_finished: bool,
    unresolved_privacy_findings: usize,
) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    if !meta.open_type.is_publishable() {
        errors.push(FieldError::new("open_type", "not_open"));
    }
    errors.extend(missing_for_submission(meta));
    if !has_distribution {
        errors.push(FieldError::new("distributions", "no_distribution"));
    } else if !ingest_finished {
        errors.push(FieldError::new("distributions", "ingest_running"));
    }
    if unresolved_privacy_findings > 0 {
        errors.push(FieldError::new("privacy", "privacy_unresolved").with("count", unresolved_privacy_findings));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::valid_meta;
    use crate::org::OrgKind;
    use crate::policy::Membership;

    const DRAFT: Status = Status::new(ResourceState::Draft);
    const PENDING: Status = Status::new(ResourceState::PendingReview);
    const RETURNED: Status = Status::new(ResourceState::Returned);
    const PUBLISHED: Status = Status::new(ResourceState::Published);
    const REV_PENDING: Status = Status::revising(RevisionState::PendingReview);
    const REV_RETURNED: Status = Status::revising(RevisionState::Returned);
    const WITHDRAWN: Status = Status::new(ResourceState::Withdrawn);
    const DELETED: Status = Status::new(ResourceState::Deleted);

    /// Every standing a caller can have, in the order of the table's columns.
    fn callers() -> [(&'static str, Caller); 5] {
        let only = |f: fn(&mut Caller)| {
            let mut c = Caller::default();
            f(&mut c);
            c
        };
        [
            ("nobody", Caller::default()),
            ("owner_editor", only(|c| c.owner_editor = true)),
            ("owner_manager", only(|c| c.owner_manager = true)),
            ("admin_reviewer", only(|c| c.admin_reviewer = true)),
            ("admin_manager", only(|c| c.admin_manager = true)),
        ]
    }

    fn ctx(caller: Caller) -> Context {
        Context {
            caller,
            open_type: OpenType::Unconditional,
        }
    }

    fn actions() -> [Action; 8] {
        [
            Action::Submit,
            Action::Approve {
                checklist: ReviewChecklist::passed(),
            },
            Action::Return {
                reasons: vec!["摘要未说明数据口径".into()],
            },
            Action::Withdraw {
                reason: "数据有误，更正后重新发布".into(),
            },
            Action::SubmitRevision,
            Action::ApproveRevision {
                checklist: ReviewChecklist::passed(),
            },
            Action::ReturnRevision {
                reasons: vec!["新增字段缺少说明".into()],
            },
            Action::Delete,
        ]
    }

    fn codes(r: Result<impl Sized, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn every_state_action_and_role() {
        // Columns: nobody, owner_editor, owner_manager, admin_reviewer, admin_manager.
        // O = allowed (to the given status), F = Forbidden, I = InvalidTransition.
        let table: [(Status, &str, &str, Option<Status>); 64] = [
            (DRAFT, "submit", "FOOFF", Some(PENDING)),
            (DRAFT, "approve", "FFFII", None),
            (DRAFT, "return", "FFFII", None),
            (DRAFT, "withdraw", "FFIII", None),
            (DRAFT, "submit_revision", "FIIFF", None),
            (DRAFT, "approve_revision", "FFFII", None),
            (DRAFT, "return_revision", "FFFII", None),
            (DRAFT, "delete", "FOOFF", Some(DELETED)),
            (PENDING, "submit", "FIIFF", None),
            (PENDING, "approve", "FFFOO", Some(PUBLISHED)),
            (PENDING, "return", "FFFOO", Some(RETURNED)),
            (PENDING, "withdraw", "FFIII", None),
            (PENDING, "submit_revision", "FIIFF", None),
            (PENDING, "approve_revision", "FFFII", None),
            (PENDING, "return_revision", "FFFII", None),
            (PENDING, "delete", "FIIFF", None),
            (RETURNED, "submit", "FOOFF", Some(PENDING)),
            (RETURNED, "approve", "FFFII", None),
            (RETURNED, "return", "FFFII", None),
            (RETURNED, "withdraw", "FFIII", None),
            (RETURNED, "submit_revision", "FIIFF", None),
            (RETURNED, "approve_revision", "FFFII", None),
            (RETURNED, "return_revision", "FFFII", None),
            (RETURNED, "delete", "FIIFF", None),
            (PUBLISHED, "submit", "FIIFF", None),
            (PUBLISHED, "approve", "FFFII", None),
            (PUBLISHED, "return", "FFFII", None),
            (PUBLISHED, "withdraw", "FFOOO", Some(WITHDRAWN)),
            (PUBLISHED, "submit_revision", "FOOFF", Some(REV_PENDING)),
            (PUBLISHED, "approve_revision", "FFFII", None),
            (PUBLISHED, "return_revision", "FFFII", None),
            (PUBLISHED, "delete", "FIIFF", None),
            (REV_PENDING, "submit", "FIIFF", None),
            (REV_PENDING, "approve", "FFFII", None),
            (REV_PENDING, "return", "FFFII", None),
            (REV_PENDING, "withdraw", "FFOOO", Some(WITHDRAWN)),
            (REV_PENDING, "submit_revision", "FIIFF", None),
            (REV_PENDING, "approve_revision", "FFFOO", Some(PUBLISHED)),
            (REV_PENDING, "return_revision", "FFFOO", Some(REV_RETURNED)),
            (REV_PENDING, "delete", "FIIFF", None),
            (REV_RETURNED, "submit", "FIIFF", None),
            (REV_RETURNED, "approve", "FFFII", None),
            (REV_RETURNED, "return", "FFFII", None),
            (REV_RETURNED, "withdraw", "FFOOO", Some(WITHDRAWN)),
            (REV_RETURNED, "submit_revision", "FOOFF", Some(REV_PENDING)),
            (REV_RETURNED, "approve_revision", "FFFII", None),
            (REV_RETURNED, "return_revision", "FFFII", None),
            (REV_RETURNED, "delete", "FIIFF", None),
            (WITHDRAWN, "submit", "FOOFF", Some(PENDING)),
            (WITHDRAWN, "approve", "FFFII", None),
            (WITHDRAWN, "return", "FFFII", None),
            (WITHDRAWN, "withdraw", "FFIII", None),
            (WITHDRAWN, "submit_revision", "FIIFF", None),
            (WITHDRAWN, "approve_revision", "FFFII", None),
            (WITHDRAWN, "return_revision", "FFFII", None),
            (WITHDRAWN, "delete", "FIIFF", None),
            (DELETED, "submit", "FIIFF", None),
            (DELETED, "approve", "FFFII", None),
            (DELETED, "return", "FFFII", None),
            (DELETED, "withdraw", "FFIII", None),
            (DELETED, "submit_revision", "FIIFF", None),
            (DELETED, "approve_revision", "FFFII", None),
            (DELETED, "return_revision", "FFFII", None),
            (DELETED, "delete", "FIIFF", None),
        ];
        let actions = actions();
        for (from, name, outcomes, to) in table {
            let action = actions.iter().find(|a| a.name() == name).expect("known action");
            for ((who, caller), want) in callers().into_iter().zip(outcomes.chars()) {
                let got = apply(from, action, ctx(caller));
                let case = format!("{} {name} by {who}", from.key());
                match (want, got) {
                    ('O', Ok(t)) => assert_eq!(Some(t.to), to, "{case}"),
                    ('F', Err(DomainError::Forbidden)) => {}
                    ('I', Err(DomainError::InvalidTransition { from: f, action: a })) => {
                        assert_eq!((f, a.as_str()), (from.key(), name), "{case}");
                    }
                    (want, got) => panic!("{case}: expected {want}, got {got:?}"),
                }
            }
        }
        // Every status and action appears in the table exactly once together.
        let statuses = [
            DRAFT,
            PENDING,
            RETURNED,
            PUBLISHED,
            REV_PENDING,
            REV_RETURNED,
            WITHDRAWN,
            DELETED,
        ];
        for s in statuses {
            for a in &actions {
                assert_eq!(table.iter().filter(|r| r.0 == s && r.1 == a.name()).count(), 1);
            }
        }
    }

    #[test]
    fn effects_tell_the_service_what_else_to_do() {
        let [_, editor, manager, reviewer, _] = callers().map(|c| c.1);
        let withdraw = Action::Withdraw {
            reason: "发现未脱敏的身份证号".into(),
        };
        let table = [
            (DRAFT, Action::Submit, editor, vec![Effect::AwaitReview]),
            (
                PENDING,
                Action::Approve {
                    checklist: ReviewChecklist::passed(),
                },
                reviewer,
                vec![Effect::Publish, Effect::NotifyProvider],
            ),
            (
                PENDING,
                Action::Return {
                    reasons: vec!["缺少字段说明".into()],
                },
                reviewer,
                vec![Effect::NotifyProvider],
            ),
            (
                PUBLISHED,
                withdraw.clone(),
                manager,
                vec![Effect::Unpublish, Effect::NotifyAdmin],
            ),
            (
                REV_PENDING,
                withdraw.clone(),
                reviewer,
                vec![Effect::CancelReview, Effect::Unpublish, Effect::NotifyProvider],
            ),
            (REV_RETURNED, Action::SubmitRevision, manager, vec![Effect::AwaitReview]),
            (
                REV_PENDING,
                Action::ApproveRevision {
                    checklist: ReviewChecklist::passed(),
                },
                reviewer,
                vec![Effect::Publish, Effect::NotifyProvider],
            ),
            (DRAFT, Action::Delete, editor, vec![]),
        ];
        for (from, action, caller, effects) in table {
            let t = apply(from, &action, ctx(caller)).unwrap();
            assert_eq!(t.effects, effects, "{} {}", from.key(), action.name());
        }
    }

    #[test]
    fn decisions_need_their_content() {
        let reviewer = callers()[3].1;
        let manager = callers()[2].1;
        let mut failed = ReviewChecklist::passed();
        failed.security = CheckResult {
            pass: false,
            note: "".into(),
        };
        let table = [
            (
                PENDING,
                Action::Approve {
                    checklist: failed.clone(),
                },
                reviewer,
                vec!["checklist.security:check_failed", "checklist.security.note:required"],
            ),
            (
                REV_PENDING,
                Action::ApproveRevision { checklist: failed },
                reviewer,
                vec!["checklist.security:check_failed", "checklist.security.note:required"],
            ),
            (
                PENDING,
                Action::Return { reasons: vec![] },
                reviewer,
                vec!["reasons:required"],
            ),
            (
                REV_PENDING,
                Action::ReturnRevision {
                    reasons: vec!["  ".into()],
                },
                reviewer,
                vec!["reasons:required"],
            ),
            (
                PENDING,
                Action::Return {
                    reasons: vec!["".into(), "理".repeat(1001)],
                },
                reviewer,
                vec!["reasons[0]:length"],
            ),
            (
                PUBLISHED,
                Action::Withdraw { reason: " ".into() },
                manager,
                vec!["reason:required"],
            ),
        ];
        for (from, action, caller, want) in table {
            assert_eq!(codes(apply(from, &action, ctx(caller))), want, "{}", action.name());
        }
    }

    #[test]
    fn not_open_data_is_never_submitted_or_published() {
        let [_, editor, manager, reviewer, _] = callers().map(|c| c.1);
        let not_open = |caller| Context {
            caller,
            open_type: OpenType::NotOpen,
        };
        let approve = Action::Approve {
            checklist: ReviewChecklist::passed(),
        };
        let approve_rev = Action::ApproveRevision {
            checklist: ReviewChecklist::passed(),
        };
        for (from, action, caller) in [
            (DRAFT, &Action::Submit, editor),
            (WITHDRAWN, &Action::Submit, manager),
            (PUBLISHED, &Action::SubmitRevision, editor),
            (PENDING, &approve, reviewer),
            (REV_PENDING, &approve_rev, reviewer),
        ] {
            assert_eq!(
                codes(apply(from, action, not_open(caller))),
                ["open_type:not_open"],
                "{}",
                action.name()
            );
        }
        // Taking it offline, returning it or deleting the draft stays possible.
        let withdraw = Action::Withdraw {
            reason: "改为不予开放".into(),
        };
        let ret = Action::Return {
            reasons: vec!["不予开放的数据不能发布".into()],
        };
        assert!(apply(PUBLISHED, &withdraw, not_open(manager)).is_ok());
        assert!(apply(PENDING, &ret, not_open(reviewer)).is_ok());
        assert!(apply(DRAFT, &Action::Delete, not_open(editor)).is_ok());

        let mut meta = valid_meta();
        meta.open_type = OpenType::NotOpen;
        assert_eq!(codes(check_submission(&meta, true, true, 0)), ["open_type:not_open"]);
    }

    #[test]
    fn submission_reports_everything_missing() {
        let meta = valid_meta();
        assert!(check_submission(&meta, true, true, 0).is_ok());
        let table: [(bool, bool, usize, &[&str]); 4] = [
            (false, false, 0, &["distributions:no_distribution"]),
            (true, false, 0, &["distributions:ingest_running"]),
            (true, true, 3, &["privacy:privacy_unresolved"]),
            (
                false,
                true,
                1,
                &["distributions:no_distribution", "privacy:privacy_unresolved"],
            ),
        ];
        for (has_distribution, finished, findings, want) in table {
            assert_eq!(
                codes(check_submission(&meta, has_distribution, finished, findings)),
                want
            );
        }
        let mut bare = valid_meta();
        bare.fields.clear();
        bare.contact_phone = None;
        bare.temporal_from = None;
        assert_eq!(
            codes(check_submission(&bare, false, false, 2)),
            [
                "fields:no_fields",
                "contact_phone:contact_required",
                "temporal_from:required",
                "distributions:no_distribution",
                "privacy:privacy_unresolved"
            ]
        );
        let Err(DomainError::Validation(errs)) = check_submission(&meta, true, true, 2) else {
            panic!()
        };
        assert_eq!(errs[0].params, [("count".to_string(), "2".to_string())]);
    }

    #[test]
    fn checklist_rules() {
        let mut c = ReviewChecklist::passed();
        assert!(c.all_pass() && c.validate().is_ok() && c.check_approval().is_ok());
        c.compliance = CheckResult {
            pass: false,
            note: "涉及第三方知识产权".into(),
        };
        c.availability.note = "样例数据可读".into();
        assert!(!c.all_pass());
        assert!(c.validate().is_ok());
        assert_eq!(codes(c.check_approval()), ["checklist.compliance:check_failed"]);
        assert_eq!(c.failure_reasons(), ["合规性：涉及第三方知识产权"]);
        c.security.note = "注".repeat(1001);
        assert_eq!(codes(c.validate()), ["checklist.security.note:length"]);
        let json =
            r#"{"compliance":{"pass":true},"availability":{"pass":true},"security":{"pass":false,"note":"含手机号"}}"#;
        let parsed: ReviewChecklist = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.failure_reasons(), ["安全性：含手机号"]);
    }

    #[test]
    fn who_may_edit_the_working_copy() {
        let [nobody, editor, manager, reviewer, _] = callers().map(|c| c.1);
        let editable = [
            (DRAFT, true),
            (PENDING, false),
            (RETURNED, true),
            (PUBLISHED, true),
            (REV_PENDING, false),
            (REV_RETURNED, true),
            (WITHDRAWN, true),
            (DELETED, false),
        ];
        for (status, want) in editable {
            assert_eq!(can_edit(status, editor), want, "{}", status.key());
            assert_eq!(can_edit(status, manager), want, "{}", status.key());
            assert!(!can_edit(status, reviewer) && !can_edit(status, nobody));
        }
        assert!(REV_PENDING.is_public() && REV_PENDING.awaits_review() && PENDING.awaits_review());
        assert!(!WITHDRAWN.is_public() && !REV_RETURNED.awaits_review());
    }

    #[test]
    fn callers_come_from_memberships() {
        let actor = |role, org_id, kind| Actor {
            user_id: Some(9),
            sysadmin: false,
            memberships: vec![Membership {
                org_id: Some(org_id),
                org_kind: Some(kind),
                role,
            }],
        };
        let own = Caller::of(&actor(Role::ProviderEditor, 2, OrgKind::Provider), 2);
        assert!(own.owner_editor && !own.owner_manager && !own.is_admin());
        assert_eq!(
            Caller::of(&actor(Role::ProviderManager, 3, OrgKind::Provider), 2),
            Caller::default()
        );
        assert!(Caller::of(&actor(Role::AdminReviewer, 1, OrgKind::AdminInstitution), 2).admin_reviewer);
        assert_eq!(
            Caller::of(&actor(Role::ProviderReviewer, 2, OrgKind::Provider), 2),
            Caller::default()
        );
        assert_eq!(Caller::of(&Actor::console(), 2), Caller::default());
    }

    #[test]
    fn statuses_have_stable_keys() {
        for s in ResourceState::ALL {
            assert_eq!(ResourceState::parse(s.as_str()), Some(s));
        }
        for r in RevisionState::ALL {
            assert_eq!(RevisionState::parse(r.as_str()), Some(r));
        }
        assert_eq!(REV_RETURNED.key(), "published+revision_returned");
        assert_eq!(
            serde_json::to_string(&REV_PENDING).unwrap(),
            r#"{"state":"published","revision":"pending_review"}"#
        );
    }
}
