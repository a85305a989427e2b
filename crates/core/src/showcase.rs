//! 应用成果 — showcases of what consumers built with open data (DESIGN §4, step 9): the
//! submission and its validation, the administration institution's review, and its deadline.
//! Pure: the service stores what [`submit`] and [`apply`] decide, and checks the screenshot.
//!
//! A logged-in consumer submits a title, a type, a description, a link (http or https), an
//! optional screenshot and the published resources used. The administration institution accepts
//! it (it joins the public gallery and the pages of the resources used) or rejects it with a
//! reason the submitter reads. Nobody reviews their own showcase.

use serde::{Deserialize, Serialize};

use crate::demand::{check_idempotency_key, fingerprint, DEFAULT_DUPLICATE_WINDOW_SECS};
use crate::error::{Checks, DomainError, FieldError};
use crate::metadata::loose;
use crate::policy::Actor;
use crate::user::Role;

const TITLE_MIN: usize = 2;
const TITLE_MAX: usize = 200;
const TEXT_MIN: usize = 10;
const TEXT_MAX: usize = 4000;
const LINK_MAX: usize = 2000;
const REASON_MAX: usize = 1000;
/// The most resources one showcase names.
pub const RESOURCES_MAX: usize = 20;
/// Working days from submission to the administration institution's decision.
pub const SHOWCASE_REVIEW_DAYS: u32 = 5;

/// Screenshot limits: the upload's bytes, and the decoded image's size, checked from the
/// header before anything is decoded (a decompression bomb declares a huge size in few bytes).
pub const SCREENSHOT_MAX_BYTES: u64 = 5 * 1024 * 1024;
pub const SCREENSHOT_MAX_PIXELS: u64 = 40_000_000;
pub const SCREENSHOT_MAX_SIDE: u32 = 10_000;

/// What kind of outcome it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShowcaseKind {
    App,
    Website,
    Report,
    Research,
    Visualisation,
    News,
    Other,
}

impl ShowcaseKind {
    pub const ALL: [ShowcaseKind; 7] = [
        ShowcaseKind::App,
        ShowcaseKind::Website,
        ShowcaseKind::Report,
        ShowcaseKind::Research,
        ShowcaseKind::Visualisation,
        ShowcaseKind::News,
        ShowcaseKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShowcaseKind::App => "app",
            ShowcaseKind::Website => "website",
            ShowcaseKind::Report => "report",
            ShowcaseKind::Research => "research",
            ShowcaseKind::Visualisation => "visualisation",
            ShowcaseKind::News => "news",
            ShowcaseKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ShowcaseKind> {
        ShowcaseKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// Where a showcase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShowcaseState {
    /// 待审核 — waiting for the administration institution.
    Submitted,
    /// 已展示 — accepted: in the gallery.
    Accepted,
    /// 未通过 — rejected, with the reason.
    Rejected,
}

impl ShowcaseState {
    pub const ALL: [ShowcaseState; 3] = [
        ShowcaseState::Submitted,
        ShowcaseState::Accepted,
        ShowcaseState::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShowcaseState::Submitted => "submitted",
            ShowcaseState::Accepted => "accepted",
            ShowcaseState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ShowcaseState> {
        ShowcaseState::ALL.into_iter().find(|st| st.as_str() == s.trim())
    }

    pub fn is_final(self) -> bool {
        !matches!(self, ShowcaseState::Submitted)
    }
}

/// The deployment's settings for showcases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub review_days: u32,
    /// Resubmitting the same showcase within this many seconds returns the first one.
    pub duplicate_window_secs: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            review_days: SHOWCASE_REVIEW_DAYS,
            duplicate_window_secs: DEFAULT_DUPLICATE_WINDOW_SECS,
        }
    }
}

/// A showcase as a form or JSON gives it (the screenshot travels apart, as an upload).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewShowcase {
    #[serde(deserialize_with = "loose::text")]
    pub title: String,
    /// One of [`ShowcaseKind`]'s keys.
    #[serde(deserialize_with = "loose::text")]
    pub kind: String,
    #[serde(deserialize_with = "loose::text")]
    pub description: String,
    /// Where the outcome can be seen: an http or https address.
    #[serde(deserialize_with = "loose::text")]
    pub link: String,
    /// The ids of the published resources used: a list, or one string separated by commas.
    #[serde(deserialize_with = "loose::list")]
    pub resource_ids: Vec<String>,
    #[serde(deserialize_with = "loose::text")]
    pub idempotency_key: String,
}

/// A resource the submission names, as the service found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedResource {
    pub id: i64,
    /// In the catalogue and opened now.
    pub open: bool,
    pub provider_org_id: i64,
    pub domain: String,
}

/// A validated showcase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Showcase {
    pub title: String,
    pub kind: ShowcaseKind,
    pub description: String,
    pub link: String,
    pub resources: Vec<UsedResource>,
}

impl Showcase {
    /// What makes two submissions the same showcase.
    pub fn fingerprint(&self) -> String {
        let ids: Vec<String> = self.resources.iter().map(|r| r.id.to_string()).collect();
        fingerprint(&[
            &self.title,
            self.kind.as_str(),
            &self.description,
            &self.link,
            &ids.join(","),
        ])
    }
}

/// Whether `link` is an absolute http(s) address with a host and nothing a browser would
/// misread (blanks, control characters, credentials).
pub fn valid_link(link: &str) -> bool {
    let rest = if let Some(r) = link.strip_prefix("https://") {
        r
    } else if let Some(r) = link.strip_prefix("http://") {
        r
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_ok = !host.is_empty()
        && !host.contains('@')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        && host.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '[');
    host_ok && link.len() <= LINK_MAX && !link.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl NewShowcase {
    /// The resource ids given (the positive integers, deduplicated, in order), for the service to
    /// load before [`NewShowcase::validate`].
    pub fn resources(&self) -> Vec<i64> {
        let mut out: Vec<i64> = Vec::new();
        for id in self.resource_ids.iter().filter_map(|s| s.trim().parse::<i64>().ok()) {
            if id > 0 && !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    pub fn idempotency_key(&self) -> Option<&str> {
        Some(self.idempotency_key.trim()).filter(|k| !k.is_empty())
    }

    /// Every rule, all problems at once. `found` are the named resources the service found in
    /// the catalogue (published or withdrawn); an id missing from it does not exist for the
    /// submitter, and one that is not open now is refused (`resource_not_published`).
    pub fn validate(&self, found: &[UsedResource]) -> Result<Showcase, DomainError> {
        let mut c = Checks::new();
        let title = self.title.trim();
        c.length(title, "title", TITLE_MIN, TITLE_MAX);
        let kind = ShowcaseKind::parse(&self.kind);
        if self.kind.trim().is_empty() {
            c.push(FieldError::new("kind", "required"));
        } else {
            c.check(kind.is_some(), "kind", "showcase_kind");
        }
        let description = self.description.trim();
        c.length(description, "description", TEXT_MIN, TEXT_MAX);
        let link = self.link.trim();
        if link.is_empty() {
            c.push(FieldError::new("link", "required"));
        } else {
            c.check(valid_link(link), "link", "url");
        }
        let resources = self.check_resources(&mut c, found);
        check_idempotency_key(&mut c, &self.idempotency_key);
        c.finish()?;
        Ok(Showcase {
            title: title.to_string(),
            kind: kind.expect("checked above"),
            description: description.to_string(),
            link: link.to_string(),
            resources,
        })
    }

    fn check_resources(&self, c: &mut Checks, found: &[UsedResource]) -> Vec<UsedResource> {
        let given: Vec<&str> = self
            .resource_ids
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        if given.is_empty() {
            c.push(FieldError::new("resource_ids", "required"));
            return Vec::new();
        }
        if let Some(bad) = given
            .iter()
            .find(|s| s.parse::<i64>().ok().filter(|id| *id > 0).is_none())
        {
            c.push(FieldError::new("resource_ids", "resource_id").with("value", bad));
            return Vec::new();
        }
        let ids = self.resources();
        if ids.len() > RESOURCES_MAX {
            c.push(FieldError::new("resource_ids", "too_many").with("max", RESOURCES_MAX));
            return Vec::new();
        }
        let mut out = Vec::new();
        for id in ids {
            match found.iter().find(|r| r.id == id) {
                None => c.push(FieldError::new("resource_ids", "not_found").with("value", id)),
                Some(r) if !r.open => {
                    c.push(FieldError::new("resource_ids", "resource_not_published").with("value", id))
                }
                Some(r) => out.push(r.clone()),
            }
        }
        out
    }
}

/// Who may submit a showcase: anyone logged in as a person.
pub fn may_submit(actor: &Actor) -> Result<i64, DomainError> {
    crate::demand::may_submit(actor)
}

/// How the caller relates to a showcase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    pub submitter: bool,
    /// admin_reviewer or admin_manager of the administration institution.
    pub admin: bool,
}

impl Caller {
    pub fn of(actor: &Actor, submitter_id: i64) -> Caller {
        Caller {
            submitter: actor.user_id == Some(submitter_id),
            admin: actor.has_role(Role::AdminReviewer) || actor.has_role(Role::AdminManager),
        }
    }

    /// Whether the caller may see a showcase in this state: accepted ones are public; the
    /// others only their submitter and the administration institution see.
    pub fn sees(self, state: ShowcaseState) -> bool {
        state == ShowcaseState::Accepted || self.submitter || self.admin
    }

    pub fn may(self, action: &Action) -> bool {
        match action {
            Action::Accept | Action::Reject { .. } => self.admin && !self.submitter,
        }
    }
}

/// What the administration institution does with a showcase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 通过 — into the gallery.
    Accept,
    /// 不予通过 — with the reason the submitter reads.
    Reject { reason: String },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject { .. } => "reject",
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Action::Reject { reason } => Some(reason.trim()),
            Action::Accept => None,
        }
    }
}

/// Who a notice goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    Submitter,
    /// The administration institution's reviewers and managers.
    Admins,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    Submitted,
    Accepted,
    Rejected,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Submitted => "showcase_submitted",
            NoticeKind::Accepted => "showcase_accepted",
            NoticeKind::Rejected => "showcase_rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Notify(Recipient, NoticeKind),
    /// Start the review deadline, due the given working days from today.
    StartDeadline(u32),
    StopDeadline,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: ShowcaseState,
    pub effects: Vec<Effect>,
}

/// A new showcase waits for the administration institution, whose deadline starts.
pub fn submit(rules: &Rules) -> Transition {
    Transition {
        to: ShowcaseState::Submitted,
        effects: vec![
            Effect::StartDeadline(rules.review_days),
            Effect::Notify(Recipient::Admins, NoticeKind::Submitted),
        ],
    }
}

/// The one place showcase transitions are decided: the caller's standing (`Forbidden`), the
/// action from this state (`InvalidTransition`), then its content (`Validation`).
pub fn apply(state: ShowcaseState, action: &Action, caller: Caller) -> Result<Transition, DomainError> {
    use Effect::{Notify, StopDeadline};
    if !caller.may(action) {
        return Err(DomainError::Forbidden);
    }
    let (to, kind) = match (action, state) {
        (Action::Accept, ShowcaseState::Submitted) => (ShowcaseState::Accepted, NoticeKind::Accepted),
        (Action::Reject { .. }, ShowcaseState::Submitted) => (ShowcaseState::Rejected, NoticeKind::Rejected),
        _ => {
            return Err(DomainError::InvalidTransition {
                from: state.as_str().to_string(),
                action: action.name().to_string(),
            })
        }
    };
    if let Action::Reject { reason } = action {
        let mut c = Checks::new();
        c.length(reason.trim(), "reason", 2, REASON_MAX);
        c.finish()?;
    }
    Ok(Transition {
        to,
        effects: vec![StopDeadline, Notify(Recipient::Submitter, kind)],
    })
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

    fn used(id: i64, open: bool) -> UsedResource {
        UsedResource {
            id,
            open,
            provider_org_id: 20,
            domain: "transport".into(),
        }
    }

    fn form() -> NewShowcase {
        NewShowcase {
            title: "公交到站预测".into(),
            kind: "app".into(),
            description: "用公交实时数据预测到站时间的小程序".into(),
            link: "https://example.org/bus".into(),
            resource_ids: vec!["1".into(), " 2".into(), "1".into()],
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_showcase_names_each_open_resource_once() {
        let s = form().validate(&[used(1, true), used(2, true)]).unwrap();
        assert_eq!(s.resources.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(s.kind, ShowcaseKind::App);
    }

    #[test]
    fn bad_input_is_reported_field_by_field() {
        let bad = NewShowcase {
            title: "x".into(),
            kind: "game".into(),
            description: "short".into(),
            link: "javascript:alert(1)".into(),
            resource_ids: vec![],
            idempotency_key: "a b".into(),
        };
        assert_eq!(
            codes(bad.validate(&[])),
            vec![
                "title:length",
                "kind:showcase_kind",
                "description:length",
                "link:url",
                "resource_ids:required",
                "idempotency_key:idempotency_key"
            ]
        );
    }

    #[test]
    fn unpublished_and_unknown_resources_are_refused() {
        assert_eq!(
            codes(form().validate(&[used(1, false)])),
            vec!["resource_ids:resource_not_published", "resource_ids:not_found"]
        );
        let mut f = form();
        f.resource_ids = vec!["abc".into()];
        assert_eq!(codes(f.validate(&[])), vec!["resource_ids:resource_id"]);
    }

    #[test]
    fn links_must_be_http_or_https_with_a_host() {
        for ok in ["http://a.cn", "https://example.org/x?y=1#z", "https://[::1]:8080/"] {
            assert!(valid_link(ok), "{ok}");
        }
        for bad in [
            "ftp://a.cn",
            "https://",
            "https:///x",
            "https://a b.cn",
            "https://user@evil.cn",
            "data:text/html,x",
            "//a.cn",
            "https://a.cn/\nx",
        ] {
            assert!(!valid_link(bad), "{bad}");
        }
    }

    #[test]
    fn every_state_action_and_role() {
        use ShowcaseState::*;
        let admin = Caller {
            admin: true,
            submitter: false,
        };
        let own = Caller {
            admin: true,
            submitter: true,
        };
        let consumer = Caller {
            admin: false,
            submitter: false,
        };
        let reject = Action::Reject {
            reason: "链接无法访问".into(),
        };
        let cases: &[(ShowcaseState, &Action, Caller, Result<ShowcaseState, &str>)] = &[
            (Submitted, &Action::Accept, admin, Ok(Accepted)),
            (Submitted, &reject, admin, Ok(Rejected)),
            (Submitted, &Action::Accept, own, Err("forbidden")),
            (Submitted, &Action::Accept, consumer, Err("forbidden")),
            (Submitted, &reject, consumer, Err("forbidden")),
            (Accepted, &Action::Accept, admin, Err("transition")),
            (Accepted, &reject, admin, Err("transition")),
            (Rejected, &Action::Accept, admin, Err("transition")),
            (Rejected, &reject, admin, Err("transition")),
        ];
        for (state, action, caller, want) in cases {
            let got = apply(*state, action, *caller);
            match (want, got) {
                (Ok(to), Ok(t)) => assert_eq!(t.to, *to),
                (Err("forbidden"), Err(DomainError::Forbidden)) => {}
                (Err("transition"), Err(DomainError::InvalidTransition { .. })) => {}
                (w, g) => panic!("{state:?} {action:?} {caller:?}: want {w:?}, got {g:?}"),
            }
        }
        let empty = Action::Reject { reason: " ".into() };
        assert_eq!(codes(apply(Submitted, &empty, admin)), vec!["reason:required"]);
    }

    #[test]
    fn only_accepted_showcases_are_public() {
        let anyone = Caller::default();
        assert!(anyone.sees(ShowcaseState::Accepted));
        assert!(!anyone.sees(ShowcaseState::Submitted));
        assert!(!anyone.sees(ShowcaseState::Rejected));
        let submitter = Caller {
            submitter: true,
            admin: false,
        };
        assert!(submitter.sees(ShowcaseState::Rejected));
    }
}
