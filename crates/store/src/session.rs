//! Sessions, API tokens and login attempts. Secrets are stored only as sha256 hashes.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The first characters of the token, to recognise it in the list.
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn token_row(r: &AnyRow) -> Result<ApiTokenRow> {
    Ok(ApiTokenRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// How often at most a token's `last_used_at` is written.
pub const LAST_USED_EVERY_MS: i64 = 60_000;

const TOKEN_COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, revoked_at";

impl Tx {
    pub async fn insert_session(
        &mut self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: i64,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, \
             client_ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .bind(ip)
        .bind(user_agent)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes one session; returns its user when it existed.
    pub async fn delete_session(&mut self, token_hash: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
                .bind(token_hash)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Ends every session of a user (on password change or when disabled), except `keep`.
    pub async fn delete_user_sessions(&mut self, user_id: i64, keep: Option<&str>) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user_id)
                .bind(keep.unwrap_or(""))
                .execute(self.conn())
                .await?
                .rows_affected(),
        )
    }

    pub async fn record_login_attempt(&mut self, login: &str, ip: &str, success: bool) -> Result<()> {
        sqlx::query("INSERT INTO login_attempts (login, client_ip, at, success) VALUES ($1, $2, $3, $4)")
            .bind(login)
            .bind(ip)
            .bind(now_ms())
            .bind(success as i64)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn insert_api_token(&mut self, user_id: i64, name: &str, prefix: &str, token_hash: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(prefix)
        .bind(token_hash)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn api_token(&mut self, id: i64) -> Result<Option<ApiTokenRow>> {
        let r = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(token_row).transpose()
    }

    pub async fn revoke_api_token(&mut self, id: i64) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let r = sqlx::query(
            "SELECT user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some(SessionRow {
            user_id: r.try_get("user_id")?,
            csrf_token: r.try_get("csrf_token")?,
            created_at: r.try_get("created_at")?,
            last_seen_at: r.try_get("last_seen_at")?,
            expires_at: r.try_get("expires_at")?,
        }))
    }

    /// Records activity on a session. Not audited: it changes no business state.
    pub async fn touch_session(&self, token_hash: &str, at: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(at)
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Removes sessions past their absolute expiry.
    pub async fn purge_sessions(&self, idle_before: i64) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR last_seen_at < $2")
                .bind(now_ms())
                .bind(idle_before)
                .execute(&self.write)
                .await?
                .rows_affected(),
        )
    }

    /// Failed attempts since `since` for a login (after its last success) and for an address.
    pub async fn failed_logins(&self, login: &str, ip: &str, since: i64) -> Result<(i64, i64, i64)> {
        let by_login: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM login_attempts WHERE login = $1 AND success = 0 AND at > $2 \
             AND at > COALESCE((SELECT MAX(at) FROM login_attempts WHERE login = $1 AND success = 1), 0)",
        )
        .bind(login)
        .bind(since)
        .fetch_one(self.reader())
        .await?;
        let by_ip: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM login_attempts WHERE client_ip = $1 AND success = 0 AND at > $2")
                .bind(ip)
                .bind(since)
                .fetch_one(self.reader())
                .await?;
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(at) FROM login_attempts WHERE (login = $1 OR client_ip = $2) AND success = 0 AND at > $3",
        )
        .bind(login)
        .bind(ip)
        .bind(since)
        .fetch_one(self.reader())
        .await?;
        Ok((by_login, by_ip, oldest.unwrap_or(since)))
    }

    /// Looks up a token by hash and records the use of an unrevoked one (see
    /// [`Store::use_api_token_with_user`]).
    pub async fn use_api_token(&self, token_hash: &str) -> Result<Option<ApiTokenRow>> {
        Ok(self.use_api_token_with_user(token_hash).await?.map(|(t, _)| t))
    }

    /// Looks up a token by hash together with its user and the user's memberships, in one
    /// query, and records the use of an unrevoked token: `last_used_at` is written at most once a
    /// minute, so API calls do not each queue a write. The user is `None` when it is gone.
    pub async fn use_api_token_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiTokenRow, Option<crate::UserRow>)>> {
        let rows = sqlx::query(&format!(
            "SELECT t.id AS t_id, t.user_id AS t_user_id, t.name AS t_name, t.prefix AS t_prefix, \
             t.created_at AS t_created_at, t.last_used_at AS t_last_used_at, t.revoked_at AS t_revoked_at, \
             {} FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id \
             LEFT JOIN memberships m ON m.user_id = u.id LEFT JOIN organisations o ON o.id = m.org_id \
             WHERE t.token_hash = $1",
            crate::user::JOINED_COLUMNS
        ))
        .bind(token_hash)
        .fetch_all(self.reader())
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let t = ApiTokenRow {
            id: first.try_get("t_id")?,
            user_id: first.try_get("t_user_id")?,
            name: first.try_get("t_name")?,
            prefix: first.try_get("t_prefix")?,
            created_at: first.try_get("t_created_at")?,
            last_used_at: first.try_get("t_last_used_at")?,
            revoked_at: first.try_get("t_revoked_at")?,
        };
        let user = crate::user::joined_user(&rows)?;
        let now = now_ms();
        let stale = t.last_used_at.is_none_or(|at| at < now - LAST_USED_EVERY_MS);
        if t.revoked_at.is_none() && stale {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(now)
            .bind(t.id)
            .bind(now - LAST_USED_EVERY_MS)
            .execute(&self.write)
            .await?;
        }
        Ok(Some((t, user)))
    }

    pub async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY revoked_at IS NOT NULL, created_at DESC"
        ))
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(token_row).collect()
    }
}
