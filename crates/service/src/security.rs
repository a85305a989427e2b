//! Security management (§7 of the standard) for people: the audit browser and the download
//! trace (下载追溯). Destruction of data past retention is `lifecycle`'s.

use pubdata_core::org::OrgKind;
use pubdata_core::policy::{can, require, Action, Target};
use pubdata_core::security::AuditQueryInput;
use pubdata_core::DomainError;
use pubdata_store::{AppKeyTraceRow, AuditFilter, AuditPage, DownloadFilter, DownloadTraceRow, GrantRow};
use serde::Serialize;

use crate::{Caller, Result, Store};

/// The audit chain's head as the browser shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditBrowse {
    pub page: AuditPage,
    pub head_seq: i64,
    pub head_hash: String,
}

/// 审计日志 — the audit events matching the query, newest first, one page at a time.
pub async fn browse_audit(store: &Store, caller: &Caller, input: &AuditQueryInput) -> Result<AuditBrowse> {
    require(&caller.actor, Action::ViewAudit, Target::Platform)?;
    let q = input.validate()?;
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        object_type: q.object_type,
        object_id: q.object_id,
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        before_seq: q.before_seq,
    };
    let page = store.search_audit(&filter, q.limit).await?;
    let (head_seq, head_hash) = store.audit_head().await?;
    Ok(AuditBrowse {
        page,
        head_seq,
        head_hash,
    })
}

/// Downloads per page of the trace.
pub const TRACE_PAGE: i64 = 100;

/// One page of a download trace.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadTrace {
    pub downloads: Vec<DownloadTraceRow>,
    /// The `before` of the next (older) page.
    pub next_before: Option<i64>,
}

fn provider(org_id: i64) -> Target {
    Target::Org {
        id: org_id,
        kind: OrgKind::Provider,
    }
}

fn unauthenticated(caller: &Caller) -> Result<()> {
    if caller.actor.is_authenticated() {
        Ok(())
    } else {
        Err(DomainError::Unauthenticated {
            reason: "login_required",
        }
        .into())
    }
}

fn before(value: Option<i64>) -> Result<Option<i64>> {
    match value {
        Some(n) if n < 1 => Err(DomainError::field("before", "range").into()),
        other => Ok(other),
    }
}

/// 下载追溯 — who downloaded a resource's data, when, how much, from where and under which
/// grant: for the administration institution and the providing department's staff.
pub async fn resource_downloads(
    store: &Store,
    caller: &Caller,
    resource_id: i64,
    before_id: Option<i64>,
) -> Result<(pubdata_store::ResourceRow, DownloadTrace)> {
    unauthenticated(caller)?;
    let r = store
        .resource(resource_id)
        .await?
        .ok_or(DomainError::NotFound { what: "resource" })?;
    require(&caller.actor, Action::ViewDownloads, provider(r.provider_org_id))?;
    let filter = DownloadFilter {
        resource_id: Some(resource_id),
        before_id: before(before_id)?,
        ..Default::default()
    };
    let (downloads, next_before) = store.download_trace(filter, TRACE_PAGE).await?;
    Ok((r, DownloadTrace { downloads, next_before }))
}

/// A grant's trace: its downloads and its AppKeys' last use.
#[derive(Debug, Clone, Serialize)]
pub struct GrantTrace {
    pub grant: GrantRow,
    pub app_keys: Vec<AppKeyTraceRow>,
    pub trace: DownloadTrace,
}

/// The downloads under one grant and when its AppKeys were last used: for the administration
/// institution, the providing department's staff and the grant's own consumer.
pub async fn grant_downloads(
    store: &Store,
    caller: &Caller,
    grant_id: i64,
    before_id: Option<i64>,
) -> Result<GrantTrace> {
    unauthenticated(caller)?;
    let grant = store
        .grant(grant_id)
        .await?
        .ok_or(DomainError::NotFound { what: "grant" })?;
    let own = caller.actor.user_id == Some(grant.consumer_id);
    if !own && !can(&caller.actor, Action::ViewDownloads, provider(grant.provider_org_id)) {
        return Err(DomainError::NotFound { what: "grant" }.into());
    }
    let filter = DownloadFilter {
        grant_id: Some(grant_id),
        before_id: before(before_id)?,
        ..Default::default()
    };
    let (downloads, next_before) = store.download_trace(filter, TRACE_PAGE).await?;
    let app_keys = store.app_keys_of_grant(grant_id).await?;
    Ok(GrantTrace {
        grant,
        app_keys,
        trace: DownloadTrace { downloads, next_before },
    })
}
