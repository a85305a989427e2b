//! Notice (告知) queries: a user's inbox of decisions and reasons.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct NoticeRow {
    pub id: i64,
    pub user_id: i64,
    /// What happened, e.g. `resource_returned`: the key of its translated title.
    pub kind: String,
    /// Named values for the title, e.g. the resource's name.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The reason a person wrote, shown as written.
    pub reason: Option<String>,
    pub link: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

fn row(r: &AnyRow) -> Result<NoticeRow> {
    let params: String = r.try_get("params")?;
    Ok(NoticeRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        kind: r.try_get("kind")?,
        params: serde_json::from_str(&params).unwrap_or_default(),
        reason: r.try_get("reason")?,
        link: r.try_get("link")?,
        created_at: r.try_get("created_at")?,
        read_at: r.try_get("read_at")?,
    })
}

const COLUMNS: &str = "id, user_id, kind, params, reason, link, created_at, read_at";

impl Tx {
    pub async fn insert_notice(
        &mut self,
        user_id: i64,
        kind: &str,
        params: &serde_json::Map<String, serde_json::Value>,
        reason: Option<&str>,
        link: Option<&str>,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO notices (user_id, kind, params, reason, link, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id)
        .bind(kind)
        .bind(serde_json::Value::Object(params.clone()).to_string())
        .bind(reason)
        .bind(link)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    /// Marks one of the user's notices read; `false` if it is not theirs or already read.
    pub async fn mark_notice_read(&mut self, user_id: i64, id: i64) -> Result<bool> {
        let n = sqlx::query("UPDATE notices SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .bind(user_id)
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

impl Store {
    pub async fn notices(&self, user_id: i64, limit: i64) -> Result<Vec<NoticeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM notices WHERE user_id = $1 ORDER BY read_at IS NOT NULL, id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    pub async fn notice(&self, user_id: i64, id: i64) -> Result<Option<NoticeRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM notices WHERE id = $1 AND user_id = $2"))
            .bind(id)
            .bind(user_id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn unread_notices(&self, user_id: i64) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM notices WHERE user_id = $1 AND read_at IS NULL")
                .bind(user_id)
                .fetch_one(self.reader())
                .await?,
        )
    }
}

/// Where a notice's e-mail copy stands. The schema keeps only `emailed_at` and `email_error`,
/// so the outbox's in-between states are written into `email_error` as short tagged text; a
/// permanent failure is the error as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailState {
    /// Not tried yet: both columns empty.
    Pending,
    /// Claimed by `node` at `since` for its `attempt`-th try: `sending:<attempt>:<since>:<node>`.
    Sending { attempt: u32, since: i64, node: String },
    /// `attempts` tries failed for a reason that may pass; try again from `not_before`:
    /// `retry:<attempts>:<not_before>:<error>`.
    Retry {
        attempts: u32,
        not_before: i64,
        error: String,
    },
    /// Given up, with why (e.g. the server refused the address).
    Failed(String),
    /// Sent at this time (`emailed_at`).
    Sent(i64),
}

impl EmailState {
    fn from_columns(emailed_at: Option<i64>, email_error: Option<&str>) -> EmailState {
        if let Some(at) = emailed_at {
            return EmailState::Sent(at);
        }
        let Some(text) = email_error.filter(|t| !t.is_empty()) else {
            return EmailState::Pending;
        };
        let tagged = |tag: &str| {
            let rest = text.strip_prefix(tag)?;
            let mut it = rest.splitn(3, ':');
            let n: u32 = it.next()?.parse().ok()?;
            let at: i64 = it.next()?.parse().ok()?;
            Some((n, at, it.next().unwrap_or_default().to_string()))
        };
        if let Some((attempt, since, node)) = tagged("sending:") {
            EmailState::Sending { attempt, since, node }
        } else if let Some((attempts, not_before, error)) = tagged("retry:") {
            EmailState::Retry {
                attempts,
                not_before,
                error,
            }
        } else {
            EmailState::Failed(text.to_string())
        }
    }

    /// The `(emailed_at, email_error)` columns for this state.
    fn to_columns(&self) -> (Option<i64>, Option<String>) {
        match self {
            EmailState::Pending => (None, None),
            EmailState::Sending { attempt, since, node } => (None, Some(format!("sending:{attempt}:{since}:{node}"))),
            EmailState::Retry {
                attempts,
                not_before,
                error,
            } => (None, Some(format!("retry:{attempts}:{not_before}:{error}"))),
            // Never empty, never mistaken for a tagged state.
            EmailState::Failed(e) if e.is_empty() || e.starts_with("sending:") || e.starts_with("retry:") => {
                (None, Some(format!("failed: {e}")))
            }
            EmailState::Failed(e) => (None, Some(e.clone())),
            EmailState::Sent(at) => (Some(*at), None),
        }
    }
}

/// A notice whose e-mail copy is not sent yet, with its recipient.
#[derive(Debug, Clone)]
pub struct UnsentNotice {
    pub notice: NoticeRow,
    /// The recipient's address as registered (not checked here; it may be empty or invalid).
    pub email: String,
    pub display_name: String,
    /// Pending, being sent (perhaps by a node that died), or waiting to be retried.
    pub state: EmailState,
}

impl Store {
    /// Notices created since `since` (ms) whose e-mail copy is neither sent nor given up,
    /// oldest first. Users have no preferred language yet, so none is returned.
    pub async fn unsent_notices(&self, since: i64, limit: i64) -> Result<Vec<UnsentNotice>> {
        let rows = sqlx::query(
            "SELECT n.id, n.user_id, n.kind, n.params, n.reason, n.link, n.created_at, n.read_at, \
             n.email_error, u.email, u.display_name \
             FROM notices n JOIN users u ON u.id = n.user_id \
             WHERE n.emailed_at IS NULL AND n.created_at >= $1 \
             AND (n.email_error IS NULL OR n.email_error = '' \
                  OR n.email_error LIKE 'sending:%' OR n.email_error LIKE 'retry:%') \
             ORDER BY n.id LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let email_error: Option<String> = r.try_get("email_error")?;
                Ok(UnsentNotice {
                    notice: row(r)?,
                    email: r.try_get("email")?,
                    display_name: r.try_get("display_name")?,
                    state: EmailState::from_columns(None, email_error.as_deref()),
                })
            })
            .collect()
    }

    /// Moves a notice's e-mail copy from `from` to `to` if it is still in `from`: the one
    /// atomic step that claims a notice for sending (so two nodes never send the same one)
    /// and records the outcome. `false` when another node got there first.
    pub async fn set_email_state(&self, id: i64, from: &EmailState, to: &EmailState) -> Result<bool> {
        let (from_at, from_error) = from.to_columns();
        if from_at.is_some() {
            return Ok(false);
        }
        let (emailed_at, email_error) = to.to_columns();
        let n = sqlx::query(
            "UPDATE notices SET emailed_at = $1, email_error = $2 \
             WHERE id = $3 AND emailed_at IS NULL AND COALESCE(email_error, '') = $4",
        )
        .bind(emailed_at)
        .bind(email_error)
        .bind(id)
        .bind(from_error.unwrap_or_default())
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Where the e-mail copy of a notice stands; `None` if there is no such notice.
    pub async fn email_state(&self, id: i64) -> Result<Option<EmailState>> {
        let r = sqlx::query("SELECT emailed_at, email_error FROM notices WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.map(|r| {
            let emailed_at: Option<i64> = r.try_get("emailed_at")?;
            let email_error: Option<String> = r.try_get("email_error")?;
            Ok(EmailState::from_columns(emailed_at, email_error.as_deref()))
        })
        .transpose()
    }
}
