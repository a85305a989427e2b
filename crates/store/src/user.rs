//! User and membership queries.

use pubdata_core::org::OrgKind;
use pubdata_core::policy::Membership;
use pubdata_core::user::{Role, UserKind, ValidUser};
use pubdata_core::DomainError;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{conflict_on_unique, flag, now_ms, Result, Store, StoreError, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct UserRow {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub kind: UserKind,
    pub is_sysadmin: bool,
    pub disabled: bool,
    pub created_at: i64,
    #[serde(skip)]
    pub password_hash: String,
    pub memberships: Vec<MembershipRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MembershipRow {
    pub org_id: Option<i64>,
    pub org_name: Option<String>,
    pub org_kind: Option<OrgKind>,
    pub role: Role,
}

impl MembershipRow {
    pub fn to_policy(&self) -> Membership {
        Membership {
            org_id: self.org_id,
            org_kind: self.org_kind,
            role: self.role,
        }
    }
}

const COLUMNS: &str = "id, login, display_name, email, phone, kind, is_sysadmin, disabled, created_at, password_hash";

fn user_row(r: &AnyRow) -> Result<UserRow> {
    let kind: String = r.try_get("kind")?;
    Ok(UserRow {
        id: r.try_get("id")?,
        login: r.try_get("login")?,
        display_name: r.try_get("display_name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        kind: UserKind::parse(&kind).ok_or_else(|| StoreError::Other(format!("unknown user kind {kind}")))?,
        is_sysadmin: flag(r.try_get("is_sysadmin")?),
        disabled: flag(r.try_get("disabled")?),
        created_at: r.try_get("created_at")?,
        password_hash: r.try_get("password_hash")?,
        memberships: Vec::new(),
    })
}

fn membership_row(r: &AnyRow) -> Result<(i64, MembershipRow)> {
    let role: String = r.try_get("role")?;
    let kind: Option<String> = r.try_get("org_kind")?;
    Ok((
        r.try_get("user_id")?,
        MembershipRow {
            org_id: r.try_get("org_id")?,
            org_name: r.try_get("org_name")?,
            org_kind: kind.as_deref().and_then(OrgKind::parse),
            role: Role::parse(&role).ok_or_else(|| StoreError::Other(format!("unknown role {role}")))?,
        },
    ))
}

const MEMBERSHIPS: &str = "SELECT m.user_id, m.org_id, o.name AS org_name, o.kind AS org_kind, m.role \
    FROM memberships m LEFT JOIN organisations o ON o.id = m.org_id";

/// The user's and membership columns of a query joining `users u`, `memberships m` and
/// `organisations o` (one row per membership, or one with NULL membership columns).
pub(crate) const JOINED_COLUMNS: &str = "u.id, u.login, u.display_name, u.email, u.phone, u.kind, u.is_sysadmin, \
    u.disabled, u.created_at, u.password_hash, m.user_id, m.org_id, o.name AS org_name, o.kind AS org_kind, m.role";

/// The user of rows selected with [`JOINED_COLUMNS`], with its memberships; `None` when the
/// join found no user.
pub(crate) fn joined_user(rows: &[AnyRow]) -> Result<Option<UserRow>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    if first.try_get::<Option<i64>, _>("id")?.is_none() {
        return Ok(None);
    }
    let mut user = user_row(first)?;
    for r in rows {
        if r.try_get::<Option<String>, _>("role")?.is_some() {
            user.memberships.push(membership_row(r)?.1);
        }
    }
    user.memberships.sort_by_key(|m| (m.org_id, m.role));
    Ok(Some(user))
}

/// Fills each user's memberships from one query over all of them (indexed by user, so a long
/// user list costs one pass, not one search per membership).
fn attach(users: &mut [UserRow], rows: Vec<AnyRow>) -> Result<()> {
    let index: std::collections::HashMap<i64, usize> = users.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
    for r in &rows {
        let (user_id, m) = membership_row(r)?;
        if let Some(&i) = index.get(&user_id) {
            users[i].memberships.push(m);
        }
    }
    for u in users {
        u.memberships.sort_by_key(|m| (m.org_id, m.role));
    }
    Ok(())
}

impl Tx {
    pub async fn insert_user(
        &mut self,
        u: &ValidUser,
        kind: UserKind,
        password_hash: &str,
        sysadmin: bool,
    ) -> Result<i64> {
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE login = $1")
            .bind(&u.login)
            .fetch_optional(self.conn())
            .await?;
        if taken.is_some() {
            return Err(DomainError::Conflict {
                code: "login_taken",
                field: Some("login"),
            }
            .into());
        }
        let now = now_ms();
        sqlx::query_scalar(
            "INSERT INTO users (login, display_name, email, phone, password_hash, kind, is_sysadmin, \
             disabled, created_at, password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8) RETURNING id",
        )
        .bind(&u.login)
        .bind(&u.display_name)
        .bind(&u.email)
        .bind(&u.phone)
        .bind(password_hash)
        .bind(kind.as_str())
        .bind(sysadmin as i64)
        .bind(now)
        .fetch_one(self.conn())
        .await
        .map_err(|e| conflict_on_unique(e, "login_taken", "login"))
    }

    pub async fn user(&mut self, id: i64) -> Result<Option<UserRow>> {
        let Some(r) = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let mut users = vec![user_row(&r)?];
        let ms = sqlx::query(&format!("{MEMBERSHIPS} WHERE m.user_id = $1"))
            .bind(id)
            .fetch_all(self.conn())
            .await?;
        attach(&mut users, ms)?;
        Ok(users.pop())
    }

    /// Adds a role; `Ok(false)` when the user already had it.
    pub async fn add_membership(&mut self, user_id: i64, org_id: Option<i64>, role: Role) -> Result<bool> {
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM memberships WHERE user_id = $1 AND COALESCE(org_id, 0) = COALESCE($2, 0) AND role = $3",
        )
        .bind(user_id)
        .bind(org_id)
        .bind(role.as_str())
        .fetch_optional(self.conn())
        .await?;
        if exists.is_some() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO memberships (user_id, org_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(org_id)
            .bind(role.as_str())
            .bind(now_ms())
            .execute(self.conn())
            .await?;
        Ok(true)
    }

    /// Removes a role; `Ok(false)` when the user did not have it.
    pub async fn remove_membership(&mut self, user_id: i64, org_id: Option<i64>, role: Role) -> Result<bool> {
        let n = sqlx::query(
            "DELETE FROM memberships WHERE user_id = $1 AND COALESCE(org_id, 0) = COALESCE($2, 0) AND role = $3",
        )
        .bind(user_id)
        .bind(org_id)
        .bind(role.as_str())
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    pub async fn set_user_disabled(&mut self, user_id: i64, disabled: bool) -> Result<()> {
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled as i64)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn set_password_hash(&mut self, user_id: i64, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now_ms())
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn update_profile(
        &mut self,
        user_id: i64,
        display_name: &str,
        email: &str,
        phone: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE users SET display_name = $1, email = $2, phone = $3 WHERE id = $4")
            .bind(display_name)
            .bind(email)
            .bind(phone)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    pub async fn user(&self, id: i64) -> Result<Option<UserRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        self.with_memberships(r).await
    }

    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE login = $1"))
            .bind(login)
            .fetch_optional(self.reader())
            .await?;
        self.with_memberships(r).await
    }

    async fn with_memberships(&self, r: Option<AnyRow>) -> Result<Option<UserRow>> {
        let Some(r) = r else { return Ok(None) };
        let mut users = vec![user_row(&r)?];
        let ms = sqlx::query(&format!("{MEMBERSHIPS} WHERE m.user_id = $1"))
            .bind(users[0].id)
            .fetch_all(self.reader())
            .await?;
        attach(&mut users, ms)?;
        Ok(users.pop())
    }

    /// Users, optionally only the members of one organisation, by login.
    pub async fn list_users(&self, org_id: Option<i64>) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE ($1 = 0 OR id IN (SELECT user_id FROM memberships WHERE org_id = $1)) \
             ORDER BY login"
        ))
        .bind(org_id.unwrap_or(0))
        .fetch_all(self.reader())
        .await?;
        let mut users = rows.iter().map(user_row).collect::<Result<Vec<_>>>()?;
        let ms = sqlx::query(MEMBERSHIPS).fetch_all(self.reader()).await?;
        attach(&mut users, ms)?;
        Ok(users)
    }

    /// Active users holding a role, optionally only in one organisation (for notices).
    pub async fn users_with_role(&self, role: Role, org_id: Option<i64>) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.role = $1 AND ($2 = 0 OR m.org_id = $2) AND u.disabled = 0 ORDER BY m.user_id",
        )
        .bind(role.as_str())
        .bind(org_id.unwrap_or(0))
        .fetch_all(self.reader())
        .await?)
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.reader())
            .await?)
    }
}
