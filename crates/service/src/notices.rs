//! 告知 — notices: every decision that concerns a user reaches their inbox with its reason.
//! Notices are written inside the transaction of the decision, so there is never a decision
//! without its notice or a notice without its decision.

use pubdata_core::policy::{require, Action, Target};
use pubdata_core::DomainError;
use pubdata_store::{NoticeRow, Tx};

use crate::{Caller, Result, Store};

/// A notice to send: its kind (the key of its translated title), named values, the reason a
/// person wrote, and a link to the object.
#[derive(Debug, Clone, Default)]
pub struct Notice {
    pub kind: &'static str,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub reason: Option<String>,
    pub link: Option<String>,
}

impl Notice {
    pub fn new(kind: &'static str) -> Self {
        Notice {
            kind,
            ..Default::default()
        }
    }

    pub fn param(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn link(mut self, link: impl Into<String>) -> Self {
        self.link = Some(link.into());
        self
    }
}

/// Sends a notice within the caller's transaction.
pub async fn send(tx: &mut Tx, user_id: i64, n: &Notice) -> Result<i64> {
    tx.insert_notice(user_id, n.kind, &n.params, n.reason.as_deref(), n.link.as_deref())
        .await
}

pub async fn inbox(store: &Store, caller: &Caller) -> Result<Vec<NoticeRow>> {
    require(&caller.actor, Action::ManageOwnAccount, Target::Platform)?;
    store
        .notices(caller.actor.user_id.ok_or(DomainError::Forbidden)?, 200)
        .await
}

/// Marks one of the caller's own notices read. Someone else's notice is "not found".
pub async fn mark_read(store: &Store, caller: &Caller, id: i64) -> Result<()> {
    require(&caller.actor, Action::ManageOwnAccount, Target::Platform)?;
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let notice = store
        .notice(user_id, id)
        .await?
        .ok_or(DomainError::NotFound { what: "notice" })?;
    if notice.read_at.is_some() {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    tx.mark_notice_read(user_id, id).await?;
    tx.audit(caller.audit("notice.read", "notice", id)).await?;
    tx.commit().await?;
    Ok(())
}
