//! Organisations and people: self-registration of consumers, staff accounts created by the
//! platform's managers, roles, disabling, profiles and passwords.

use pubdata_core::error::Checks;
use pubdata_core::org::{NewOrg, OrgKind};
use pubdata_core::policy::{require, Action, Actor, Target};
use pubdata_core::user::{check_membership, check_password, NewUser, Role, UserKind};
use pubdata_core::DomainError;
use pubdata_store::{OrgRow, UserRow};
use serde::Deserialize;
use serde_json::json;

use crate::notices::{self, Notice};
use crate::secret::{hash_password, verify_password};
use crate::{Caller, Result, Store};

/// The policy's view of a stored user.
pub fn actor_for(user: &UserRow) -> Actor {
    Actor {
        user_id: Some(user.id),
        sysadmin: user.is_sysadmin,
        memberships: user.memberships.iter().map(|m| m.to_policy()).collect(),
    }
}

/// A consumer registering: an individual (个人), or a legal person (法人) for an organisation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Registration {
    pub user: NewUser,
    /// Present for a 法人 registration: the organisation with its credit code.
    pub org: Option<NewOrg>,
}

/// Self-registration of a consumer. Returns the new user's id.
pub async fn register_consumer(store: &Store, caller: &Caller, reg: Registration) -> Result<i64> {
    let user = reg.user.validate();
    let org = reg.org.map(|mut o| {
        o.kind = OrgKind::ConsumerOrg.as_str().into();
        o.validate()
    });
    let (user, org) = merge_errors(user, org)?;
    if let Some(o) = &org {
        check_region(store, o.region_code.as_deref(), "org.region_code").await?;
    }
    let hash = hash_password(&reg.user.password).await?;
    let kind = if org.is_some() {
        UserKind::LegalPerson
    } else {
        UserKind::Individual
    };
    let mut tx = store.begin().await?;
    let org_id = match &org {
        Some(o) => {
            let id = tx.insert_org(o).await?;
            let mut e = caller.audit("org.register", "organisation", id);
            e.after = Some(json!({"kind": o.kind, "name": o.name, "credit_code": o.credit_code}));
            tx.audit(e).await?;
            Some(id)
        }
        None => None,
    };
    let user_id = tx.insert_user(&user, kind, &hash, false).await?;
    tx.add_membership(user_id, org_id, Role::Consumer).await?;
    let mut e = caller.audit("user.register", "user", user_id);
    e.after = Some(json!({"login": user.login, "kind": kind, "org_id": org_id, "roles": ["consumer"]}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(user_id)
}

/// Reports the problems of both forms together, prefixing organisation fields with `org.`.
fn merge_errors<U, O>(
    user: Result<U, DomainError>,
    org: Option<Result<O, DomainError>>,
) -> Result<(U, Option<O>), DomainError> {
    let mut errors = Vec::new();
    let user = user.map_err(|e| errors.push(e)).ok();
    let org = match org {
        None => Some(None),
        Some(r) => r
            .map_err(|e| {
                if let DomainError::Validation(v) = e {
                    let renamed = v.into_iter().map(|mut f| {
                        f.field = format!("org.{}", f.field);
                        f
                    });
                    errors.push(DomainError::Validation(renamed.collect()));
                } else {
                    errors.push(e);
                }
            })
            .ok()
            .map(Some),
    };
    if errors.is_empty() {
        return Ok((user.expect("no errors"), org.expect("no errors")));
    }
    let mut fields = Vec::new();
    for e in errors {
        match e {
            DomainError::Validation(v) => fields.extend(v),
            other => return Err(other),
        }
    }
    Err(DomainError::Validation(fields))
}

/// A region code must exist in the region table once that table is loaded.
async fn check_region(store: &Store, code: Option<&str>, field: &str) -> Result<()> {
    let Some(code) = code else { return Ok(()) };
    if store.region(code).await?.is_none() && store.count_regions().await? > 0 {
        return Err(DomainError::field(field, "region_unknown").into());
    }
    Ok(())
}

pub async fn create_org(store: &Store, caller: &Caller, new: NewOrg) -> Result<i64> {
    let org = new.validate()?;
    check_region(store, org.region_code.as_deref(), "region_code").await?;
    require(&caller.actor, Action::CreateOrg, Target::OrgKind(org.kind))?;
    let mut tx = store.begin().await?;
    let id = tx.insert_org(&org).await?;
    let mut e = caller.audit("org.create", "organisation", id);
    e.after = Some(
        json!({"kind": org.kind, "name": org.name, "credit_code": org.credit_code,
        "region_code": org.region_code}),
    );
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

async fn org_target(store: &Store, org_id: i64) -> Result<(OrgRow, Target)> {
    let org = store
        .org(org_id)
        .await?
        .ok_or(DomainError::NotFound { what: "organisation" })?;
    let target = Target::Org {
        id: org.id,
        kind: org.kind,
    };
    Ok((org, target))
}

/// A staff account with its first role in an organisation.
#[derive(Debug, Clone, Deserialize)]
pub struct NewStaff {
    #[serde(flatten)]
    pub user: NewUser,
    pub org_id: i64,
    pub role: String,
}

pub async fn create_staff(store: &Store, caller: &Caller, new: NewStaff) -> Result<i64> {
    let role = Role::parse(&new.role).ok_or_else(|| DomainError::field("role", "role"))?;
    let (org, target) = org_target(store, new.org_id).await?;
    // A role that cannot exist in this kind of organisation is an input error, named as such,
    // before the policy (which refuses it too) is asked.
    check_membership(role, Some(org.kind))?;
    require(&caller.actor, Action::CreateStaff, target)?;
    require(&caller.actor, Action::AssignRole(role), target)?;
    let user = new.user.validate()?;
    let hash = hash_password(&new.user.password).await?;
    let mut tx = store.begin().await?;
    let id = tx.insert_user(&user, UserKind::LegalPerson, &hash, false).await?;
    tx.add_membership(id, Some(org.id), role).await?;
    let mut e = caller.audit("user.create", "user", id);
    e.after = Some(json!({"login": user.login, "org_id": org.id, "role": role}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

/// A system administrator account; only the console (or another sysadmin) may make one.
pub async fn create_sysadmin(store: &Store, caller: &Caller, new: NewUser) -> Result<i64> {
    if !caller.actor.sysadmin {
        return Err(DomainError::Forbidden.into());
    }
    let user = new.validate()?;
    let hash = hash_password(&new.password).await?;
    let mut tx = store.begin().await?;
    let id = tx.insert_user(&user, UserKind::Individual, &hash, true).await?;
    let mut e = caller.audit("user.create", "user", id);
    e.after = Some(json!({"login": user.login, "sysadmin": true}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

/// Grants (`grant = true`) or removes a role in an organisation. Takes effect on the user's
/// next request, since every request loads the actor afresh.
pub async fn set_role(
    store: &Store,
    caller: &Caller,
    user_id: i64,
    org_id: i64,
    role: Role,
    grant: bool,
) -> Result<()> {
    let (org, target) = org_target(store, org_id).await?;
    check_membership(role, Some(org.kind))?;
    require(&caller.actor, Action::AssignRole(role), target)?;
    let mut tx = store.begin().await?;
    let user = tx.user(user_id).await?.ok_or(DomainError::NotFound { what: "user" })?;
    let changed = if grant {
        tx.add_membership(user.id, Some(org.id), role).await?
    } else {
        tx.remove_membership(user.id, Some(org.id), role).await?
    };
    if !changed {
        let code = if grant { "role_already_held" } else { "role_not_held" };
        return Err(DomainError::Conflict {
            code,
            field: Some("role"),
        }
        .into());
    }
    let action = if grant { "user.role_grant" } else { "user.role_revoke" };
    let mut e = caller.audit(action, "user", user.id);
    e.after = Some(json!({"org_id": org.id, "role": role}));
    tx.audit(e).await?;
    let kind = if grant { "role_granted" } else { "role_revoked" };
    let notice = Notice::new(kind)
        .param("role", role.as_str())
        .param("org", org.name.as_str())
        .link("/account");
    notices::send(&mut tx, user.id, &notice).await?;
    tx.commit().await?;
    Ok(())
}

/// Disables (ending every session) or re-enables an account.
pub async fn set_disabled(store: &Store, caller: &Caller, user_id: i64, disabled: bool) -> Result<()> {
    let mut tx = store.begin().await?;
    let user = tx.user(user_id).await?.ok_or(DomainError::NotFound { what: "user" })?;
    require(
        &caller.actor,
        Action::DisableUser,
        Target::User {
            id: user.id,
            sysadmin: user.is_sysadmin,
        },
    )?;
    if user.disabled == disabled {
        return Ok(());
    }
    tx.set_user_disabled(user.id, disabled).await?;
    if disabled {
        tx.delete_user_sessions(user.id, None).await?;
    }
    let mut e = caller.audit(if disabled { "user.disable" } else { "user.enable" }, "user", user.id);
    e.before = Some(json!({"disabled": user.disabled}));
    e.after = Some(json!({"disabled": disabled}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets another user's password (a manager helping someone locked out); their sessions end.
pub async fn reset_password(store: &Store, caller: &Caller, user_id: i64, new: &str) -> Result<()> {
    let user = store
        .user(user_id)
        .await?
        .ok_or(DomainError::NotFound { what: "user" })?;
    require(
        &caller.actor,
        Action::ResetPassword,
        Target::User {
            id: user.id,
            sysadmin: user.is_sysadmin,
        },
    )?;
    let mut c = Checks::new();
    check_password(&mut c, "password", new, &user.login);
    c.finish()?;
    let hash = hash_password(new).await?;
    let mut tx = store.begin().await?;
    tx.set_password_hash(user.id, &hash).await?;
    tx.delete_user_sessions(user.id, None).await?;
    tx.audit(caller.audit("user.password_reset", "user", user.id)).await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileChange {
    pub display_name: String,
    pub email: String,
    #[serde(default)]
    pub phone: String,
}

pub async fn update_profile(store: &Store, caller: &Caller, change: ProfileChange) -> Result<()> {
    require(&caller.actor, Action::ManageOwnAccount, Target::Platform)?;
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    // Reuse the account rules by validating as a new user with a placeholder login and password.
    let probe = NewUser {
        login: "probe".into(),
        display_name: change.display_name,
        email: change.email,
        phone: change.phone,
        password: "placeholder-0".into(),
    };
    let valid = probe.validate()?;
    let mut tx = store.begin().await?;
    let before = tx.user(user_id).await?.ok_or(DomainError::NotFound { what: "user" })?;
    tx.update_profile(user_id, &valid.display_name, &valid.email, valid.phone.as_deref())
        .await?;
    let mut e = caller.audit("user.profile", "user", user_id);
    e.before = Some(json!({"display_name": before.display_name, "email": before.email, "phone": before.phone}));
    e.after = Some(json!({"display_name": valid.display_name, "email": valid.email, "phone": valid.phone}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes one's own password after checking the current one; other sessions end.
pub async fn change_password(
    store: &Store,
    caller: &Caller,
    current: &str,
    new: &str,
    keep_session_hash: Option<&str>,
) -> Result<()> {
    require(&caller.actor, Action::ManageOwnAccount, Target::Platform)?;
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let user = store
        .user(user_id)
        .await?
        .ok_or(DomainError::NotFound { what: "user" })?;
    let mut c = Checks::new();
    check_password(&mut c, "new_password", new, &user.login);
    c.finish()?;
    if !verify_password(current, Some(&user.password_hash)).await {
        return Err(DomainError::field("current_password", "password_wrong").into());
    }
    let hash = hash_password(new).await?;
    let mut tx = store.begin().await?;
    tx.set_password_hash(user_id, &hash).await?;
    tx.delete_user_sessions(user_id, keep_session_hash).await?;
    tx.audit(caller.audit("user.password_change", "user", user_id)).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_orgs(store: &Store, caller: &Caller, kind: Option<OrgKind>) -> Result<Vec<OrgRow>> {
    require(&caller.actor, Action::ListOrgs, Target::Platform)?;
    store.list_orgs(kind).await
}

pub async fn list_users(store: &Store, caller: &Caller, org_id: Option<i64>) -> Result<Vec<UserRow>> {
    require(&caller.actor, Action::ListUsers, Target::Platform)?;
    store.list_users(org_id).await
}

/// One user: oneself always, anyone for those who may list users.
pub async fn get_user(store: &Store, caller: &Caller, user_id: i64) -> Result<UserRow> {
    if caller.actor.user_id != Some(user_id) {
        require(&caller.actor, Action::ListUsers, Target::Platform)?;
    }
    Ok(store
        .user(user_id)
        .await?
        .ok_or(DomainError::NotFound { what: "user" })?)
}
