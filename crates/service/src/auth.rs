//! Authentication: password login with throttling, database sessions, and API tokens.

use pubdata_core::error::Checks;
use pubdata_core::policy::{require, Action, Target};
use pubdata_core::DomainError;
use pubdata_store::{now_ms, ApiTokenRow, SessionRow, UserRow};
use serde_json::json;

use crate::secret::{random_token, sha256_hex, verify_password};
use crate::{Caller, Result, Store};

/// Session lifetimes and login throttling, from the server configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session ends after this long without a request.
    pub session_idle_secs: i64,
    /// …and after this long in any case.
    pub session_max_secs: i64,
    /// Failed logins allowed per account within the window.
    pub max_failures_per_login: i64,
    /// Failed logins allowed per client address within the window.
    pub max_failures_per_ip: i64,
    pub throttle_window_secs: i64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_idle_secs: 2 * 3600,
            session_max_secs: 12 * 3600,
            max_failures_per_login: 5,
            max_failures_per_ip: 30,
            throttle_window_secs: 15 * 60,
        }
    }
}

/// A new session: the cookie value (shown to the browser only) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub user: UserRow,
}

pub async fn login(
    store: &Store,
    settings: &AuthSettings,
    login: &str,
    password: &str,
    ip: &str,
    user_agent: Option<&str>,
) -> Result<NewSession> {
    let login = login.trim().to_ascii_lowercase();
    let mut c = Checks::new();
    c.check(!login.is_empty(), "login", "required");
    c.check(!password.is_empty(), "password", "required");
    c.finish()?;
    let window_start = now_ms() - settings.throttle_window_secs * 1000;
    let (by_login, by_ip, oldest) = store.failed_logins(&login, ip, window_start).await?;
    if by_login >= settings.max_failures_per_login || by_ip >= settings.max_failures_per_ip {
        let retry = (oldest + settings.throttle_window_secs * 1000 - now_ms()).max(1000) / 1000;
        return Err(DomainError::Throttled {
            code: "login_throttled",
            retry_after_secs: retry as u64,
        }
        .into());
    }
    let user = store.user_by_login(&login).await?;
    let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.as_str())).await;
    let caller = Caller {
        actor: Default::default(),
        label: login.clone(),
        ip: Some(ip.to_string()),
    };
    let mut tx = store.begin().await?;
    let user = match user {
        Some(u) if ok => u,
        _ => {
            tx.record_login_attempt(&login, ip, false).await?;
            let mut e = caller.audit("auth.login_failed", "user", &login);
            e.actor_id = user.as_ref().map(|u| u.id);
            tx.audit(e).await?;
            tx.commit().await?;
            return Err(DomainError::Unauthenticated {
                reason: "bad_credentials",
            }
            .into());
        }
    };
    if user.disabled {
        return Err(DomainError::Unauthenticated {
            reason: "account_disabled",
        }
        .into());
    }
    let token = random_token();
    let csrf = random_token();
    let expires = now_ms() + settings.session_max_secs * 1000;
    tx.record_login_attempt(&login, ip, true).await?;
    tx.insert_session(&sha256_hex(&token), user.id, &csrf, expires, Some(ip), user_agent)
        .await?;
    let mut e = caller.audit("auth.login", "user", user.id);
    e.actor_id = Some(user.id);
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(NewSession { token, csrf, user })
}

/// A live session with its user.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub token_hash: String,
    pub session: SessionRow,
    pub user: UserRow,
}

/// Resolves a session cookie. An unknown cookie is `None`; an expired session or a disabled
/// account is an error that says so, so the user learns why they must log in again.
pub async fn resolve_session(store: &Store, settings: &AuthSettings, token: &str) -> Result<Option<ActiveSession>> {
    let hash = sha256_hex(token);
    let Some(session) = store.session(&hash).await? else {
        return Ok(None);
    };
    let now = now_ms();
    let idle_expired = now - session.last_seen_at > settings.session_idle_secs * 1000;
    if now > session.expires_at || idle_expired {
        let mut tx = store.begin().await?;
        tx.delete_session(&hash).await?;
        tx.commit().await?;
        return Err(DomainError::Unauthenticated {
            reason: "session_expired",
        }
        .into());
    }
    let Some(user) = store.user(session.user_id).await? else {
        return Ok(None);
    };
    if user.disabled {
        return Err(DomainError::Unauthenticated {
            reason: "account_disabled",
        }
        .into());
    }
    // Record activity at most once a minute to keep reads cheap.
    if now - session.last_seen_at > 60_000 {
        store.touch_session(&hash, now).await?;
    }
    Ok(Some(ActiveSession {
        token_hash: hash,
        session,
        user,
    }))
}

pub async fn logout(store: &Store, caller: &Caller, token: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    if let Some(user_id) = tx.delete_session(&sha256_hex(token)).await? {
        tx.audit(caller.audit("auth.logout", "user", user_id)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The prefix every API token starts with, so leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "pdt_";

/// Creates an API token for the caller; the plaintext is returned once and never stored.
pub async fn create_token(store: &Store, caller: &Caller, name: &str) -> Result<(ApiTokenRow, String)> {
    require(&caller.actor, Action::ManageOwnAccount, Target::Platform)?;
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let name = name.trim();
    let mut c = Checks::new();
    c.length(name, "name", 1, 50);
    c.finish()?;
    let secret = format!("{TOKEN_PREFIX}{}", random_token());
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 8).collect();
    let mut tx = store.begin().await?;
    let id = tx
        .insert_api_token(user_id, name, &prefix, &sha256_hex(&secret))
        .await?;
    let mut e = caller.audit("token.create", "api_token", id);
    e.after = Some(json!({"name": name, "prefix": prefix}));
    tx.audit(e).await?;
    let row = tx
        .api_token(id)
        .await?
        .ok_or(DomainError::NotFound { what: "api_token" })?;
    tx.commit().await?;
    Ok((row, secret))
}

/// Revokes one of the caller's own tokens (sysadmin: anyone's).
pub async fn revoke_token(store: &Store, caller: &Caller, id: i64) -> Result<()> {
    require(&caller.actor, Action::ManageOwnAccount, Target::Platform)?;
    let mut tx = store.begin().await?;
    let token = tx
        .api_token(id)
        .await?
        .ok_or(DomainError::NotFound { what: "api_token" })?;
    if caller.actor.user_id != Some(token.user_id) && !caller.actor.sysadmin {
        // Someone else's token is reported as absent, not as forbidden, to avoid leaking ids.
        return Err(DomainError::NotFound { what: "api_token" }.into());
    }
    if token.revoked_at.is_some() {
        return Err(DomainError::Conflict {
            code: "token_already_revoked",
            field: None,
        }
        .into());
    }
    tx.revoke_api_token(id).await?;
    tx.audit(caller.audit("token.revoke", "api_token", id)).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_tokens(store: &Store, caller: &Caller) -> Result<Vec<ApiTokenRow>> {
    require(&caller.actor, Action::ManageOwnAccount, Target::Platform)?;
    store
        .list_api_tokens(caller.actor.user_id.ok_or(DomainError::Forbidden)?)
        .await
}

/// Resolves a bearer token to its user, recording its use.
pub async fn resolve_token(store: &Store, secret: &str) -> Result<UserRow> {
    let invalid = DomainError::Unauthenticated {
        reason: "token_invalid",
    };
    if !secret.starts_with(TOKEN_PREFIX) {
        return Err(invalid.into());
    }
    // The token, its user and the user's memberships in one query, remembered briefly (see
    // [`Store::remembered`]): revoking the token here is seen at once, on another node within
    // `HOT_TTL`; its `last_used_at` is then written when the query runs again.
    let hash = sha256_hex(secret);
    let (token, user) = store
        .remembered_found(format!("api_token:{hash}"), || store.use_api_token_with_user(&hash))
        .await?
        .ok_or(invalid.clone())?;
    if token.revoked_at.is_some() {
        return Err(DomainError::Unauthenticated {
            reason: "token_revoked",
        }
        .into());
    }
    let user = user.ok_or(invalid)?;
    if user.disabled {
        return Err(DomainError::Unauthenticated {
            reason: "account_disabled",
        }
        .into());
    }
    Ok(user)
}
