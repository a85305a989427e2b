//! Who may do what: the one authorisation policy every route, command and service consults.
//! `can(actor, action, target)` is pure; `require` turns a refusal into `DomainError`.

use crate::error::DomainError;
use crate::org::OrgKind;
use crate::user::Role;

/// A role held in an organisation (`org_id: None` for an individual consumer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub org_id: Option<i64>,
    pub org_kind: Option<OrgKind>,
    pub role: Role,
}

/// The caller of an operation: a logged-in user, or nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub sysadmin: bool,
    pub memberships: Vec<Membership>,
}

impl Actor {
    pub fn anonymous() -> Self {
        Actor::default()
    }

    /// The operator at the server's console (`pubdata user create …`): trusted like sysadmin.
    pub fn console() -> Self {
        Actor {
            user_id: None,
            sysadmin: true,
            memberships: Vec::new(),
        }
    }

    pub fn is_authenticated(&self) -> bool {
        self.user_id.is_some() || self.sysadmin
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.memberships.iter().any(|m| m.role == role)
    }

    pub fn has_role_in(&self, role: Role, org_id: i64) -> bool {
        self.memberships
            .iter()
            .any(|m| m.role == role && m.org_id == Some(org_id))
    }

    fn is_admin_manager(&self) -> bool {
        self.has_role(Role::AdminManager)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See and edit one's own profile, password and API tokens.
    ManageOwnAccount,
    /// See the list of organisations with their contacts and staff counts.
    ListOrgs,
    /// Create an organisation of the target kind.
    CreateOrg,
    /// See the list of users and their roles.
    ListUsers,
    /// Create a staff account (the target organisation is where its first role is).
    CreateStaff,
    /// Grant or remove the given role in the target organisation.
    AssignRole(Role),
    /// Disable or re-enable the target user.
    DisableUser,
    /// Set a new password for the target user (e.g. one who forgot theirs).
    ResetPassword,
    /// Read the audit trail.
    ViewAudit,
    /// Use the provider workspace (plans, resources) of one's own department.
    UseProviderWorkspace,
    /// Use the administration institution's review queue.
    ReviewResources,
    /// 下载追溯 — see who downloaded the target provider organisation's data, when and under
    /// which grant.
    ViewDownloads,
    /// 销毁 — see what stored data is due for destruction and destroy it now.
    ManageLifecycle,
}

/// What an action applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Platform,
    OrgKind(OrgKind),
    Org { id: i64, kind: OrgKind },
    User { id: i64, sysadmin: bool },
}

/// The policy. Sysadmin may do everything except act on itself through `DisableUser`;
/// the administration institution's manager runs provider and admin staff; nobody else
/// manages accounts but their own.
pub fn can(actor: &Actor, action: Action, target: Target) -> bool {
    if !actor.is_authenticated() {
        return false;
    }
    let manager = actor.is_admin_manager();
    match (action, target) {
        (Action::ManageOwnAccount, _) => true,
        (Action::ListOrgs | Action::ListUsers | Action::ViewAudit, _) => actor.sysadmin || manager,
        (Action::UseProviderWorkspace, _) => actor.memberships.iter().any(|m| {
            matches!(
                m.role,
                Role::ProviderManager | Role::ProviderEditor | Role::ProviderReviewer
            )
        }),
        (Action::ReviewResources, _) => actor.has_role(Role::AdminReviewer) || manager,
        (Action::ManageLifecycle, _) => actor.sysadmin || manager,
        (
            Action::ViewDownloads,
            Target::Org {
                id,
                kind: OrgKind::Provider,
            },
        ) => {
            actor.sysadmin
                || manager
                || actor.has_role(Role::AdminReviewer)
                || actor.memberships.iter().any(|m| {
                    m.org_id == Some(id)
                        && matches!(
                            m.role,
                            Role::ProviderManager | Role::ProviderEditor | Role::ProviderReviewer
                        )
                })
        }
        (Action::CreateOrg, Target::OrgKind(kind)) => actor.sysadmin || (manager && kind != OrgKind::AdminInstitution),
        (Action::CreateStaff, Target::Org { kind, .. }) => kind != OrgKind::ConsumerOrg && (actor.sysadmin || manager),
        (Action::AssignRole(role), Target::Org { kind, .. }) => {
            role.org_kind() == kind && (actor.sysadmin || (manager && role != Role::Consumer))
        }
        (Action::DisableUser | Action::ResetPassword, Target::User { id, sysadmin }) => {
            actor.user_id != Some(id) && (actor.sysadmin || (manager && !sysadmin))
        }
        _ => false,
    }
}

pub fn require(actor: &Actor, action: Action, target: Target) -> Result<(), DomainError> {
    if !actor.is_authenticated() {
        return Err(DomainError::Unauthenticated {
            reason: "login_required",
        });
    }
    if can(actor, action, target) {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN_ORG: i64 = 1;
    const PROVIDER_ORG: i64 = 2;
    const CONSUMER_ORG: i64 = 3;

    fn with(role: Role, org: Option<(i64, OrgKind)>) -> Actor {
        Actor {
            user_id: Some(100),
            sysadmin: false,
            memberships: vec![Membership {
                org_id: org.map(|o| o.0),
                org_kind: org.map(|o| o.1),
                role,
            }],
        }
    }

    /// Every kind of caller the platform has, by name.
    fn actors() -> Vec<(&'static str, Actor)> {
        let admin = Some((ADMIN_ORG, OrgKind::AdminInstitution));
        let provider = Some((PROVIDER_ORG, OrgKind::Provider));
        vec![
            ("anonymous", Actor::anonymous()),
            ("consumer", with(Role::Consumer, None)),
            (
                "consumer_org",
                with(Role::Consumer, Some((CONSUMER_ORG, OrgKind::ConsumerOrg))),
            ),
            ("provider_editor", with(Role::ProviderEditor, provider)),
            ("provider_reviewer", with(Role::ProviderReviewer, provider)),
            ("provider_manager", with(Role::ProviderManager, provider)),
            ("admin_reviewer", with(Role::AdminReviewer, admin)),
            ("admin_manager", with(Role::AdminManager, admin)),
            (
                "sysadmin",
                Actor {
                    user_id: Some(1),
                    sysadmin: true,
                    memberships: vec![],
                },
            ),
        ]
    }

    #[test]
    fn roles_by_actions() {
        let provider = Target::Org {
            id: PROVIDER_ORG,
            kind: OrgKind::Provider,
        };
        let admin = Target::Org {
            id: ADMIN_ORG,
            kind: OrgKind::AdminInstitution,
        };
        let consumer_org = Target::Org {
            id: CONSUMER_ORG,
            kind: OrgKind::ConsumerOrg,
        };
        let other_user = Target::User { id: 7, sysadmin: false };
        let root_user = Target::User { id: 1, sysadmin: true };
        // Columns follow `actors()`: anon, consumer, consumer_org, p_editor, p_reviewer,
        // p_manager, a_reviewer, a_manager, sysadmin.
        let table: Vec<(Action, Target, [u8; 9])> = vec![
            (Action::ManageOwnAccount, Target::Platform, [0, 1, 1, 1, 1, 1, 1, 1, 1]),
            (Action::ListOrgs, Target::Platform, [0, 0, 0, 0, 0, 0, 0, 1, 1]),
            (Action::ListUsers, Target::Platform, [0, 0, 0, 0, 0, 0, 0, 1, 1]),
            (Action::ViewAudit, Target::Platform, [0, 0, 0, 0, 0, 0, 0, 1, 1]),
            (
                Action::UseProviderWorkspace,
                Target::Platform,
                [0, 0, 0, 1, 1, 1, 0, 0, 0],
            ),
            (Action::ReviewResources, Target::Platform, [0, 0, 0, 0, 0, 0, 1, 1, 0]),
            (Action::ManageLifecycle, Target::Platform, [0, 0, 0, 0, 0, 0, 0, 1, 1]),
            (Action::ViewDownloads, provider, [0, 0, 0, 1, 1, 1, 1, 1, 1]),
            (
                Action::ViewDownloads,
                Target::Org {
                    id: 99,
                    kind: OrgKind::Provider,
                },
                [0, 0, 0, 0, 0, 0, 1, 1, 1],
            ),
            (Action::ViewDownloads, Target::Platform, [0; 9]),
            (
                Action::CreateOrg,
                Target::OrgKind(OrgKind::Provider),
                [0, 0, 0, 0, 0, 0, 0, 1, 1],
            ),
            (
                Action::CreateOrg,
                Target::OrgKind(OrgKind::ConsumerOrg),
                [0, 0, 0, 0, 0, 0, 0, 1, 1],
            ),
            (
                Action::CreateOrg,
                Target::OrgKind(OrgKind::AdminInstitution),
                [0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            (Action::CreateStaff, provider, [0, 0, 0, 0, 0, 0, 0, 1, 1]),
            (Action::CreateStaff, admin, [0, 0, 0, 0, 0, 0, 0, 1, 1]),
            (Action::CreateStaff, consumer_org, [0, 0, 0, 0, 0, 0, 0, 0, 0]),
            (
                Action::AssignRole(Role::ProviderEditor),
                provider,
                [0, 0, 0, 0, 0, 0, 0, 1, 1],
            ),
            (Action::AssignRole(Role::ProviderEditor), admin, [0; 9]),
            (
                Action::AssignRole(Role::AdminReviewer),
                admin,
                [0, 0, 0, 0, 0, 0, 0, 1, 1],
            ),
            (
                Action::AssignRole(Role::Consumer),
                consumer_org,
                [0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            (Action::DisableUser, other_user, [0, 0, 0, 0, 0, 0, 0, 1, 1]),
            (Action::DisableUser, root_user, [0; 9]),
            (Action::ResetPassword, other_user, [0, 0, 0, 0, 0, 0, 0, 1, 1]),
            (Action::ResetPassword, root_user, [0; 9]),
        ];
        for (action, target, expected) in table {
            for ((name, actor), want) in actors().into_iter().zip(expected) {
                assert_eq!(can(&actor, action, target), want == 1, "{name} {action:?} {target:?}");
            }
        }
    }

    #[test]
    fn nobody_disables_themselves() {
        let me = Actor {
            user_id: Some(1),
            sysadmin: true,
            memberships: vec![],
        };
        assert!(!can(&me, Action::DisableUser, Target::User { id: 1, sysadmin: true }));
        assert!(can(&me, Action::DisableUser, Target::User { id: 2, sysadmin: true }));
    }

    #[test]
    fn require_distinguishes_login_from_permission() {
        assert!(matches!(
            require(&Actor::anonymous(), Action::ManageOwnAccount, Target::Platform),
            Err(DomainError::Unauthenticated { .. })
        ));
        assert_eq!(
            require(&with(Role::Consumer, None), Action::ListUsers, Target::Platform),
            Err(DomainError::Forbidden)
        );
    }
}
