//! 销毁 — destruction of stored data past retention (§7 of the standard, the lifecycle's last
//! step): the versions of withdrawn resources and superseded versions, once their retention
//! period (`[lifecycle]`) has passed. The published current version is never a candidate.
//!
//! Each destruction is one transaction: the version is marked destroyed, its datastore table
//! dropped, and the destruction recorded with its audit event. Its files (the upload and the
//! published copy) are deleted after that commit, each only when nothing else still points at
//! it; a deletion that fails is retried on the next run, and deleting a missing file succeeds.
//!
//! The platform keeps no per-grant extracts: watermarked downloads are computed as they are
//! sent (`download`), so an expired or revoked grant leaves no file to destroy.

use pubdata_core::policy::{require, Action, Target};
use pubdata_core::security::{DestroyReason, Retention};
use pubdata_core::DomainError;
use pubdata_store::{DestructionRow, FileStore, LifecycleCandidate, NewDestruction};
use serde::Serialize;
use serde_json::json;

use crate::{Caller, Result, Store};

/// A candidate with its reason and due time.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    #[serde(flatten)]
    pub candidate: LifecycleCandidate,
    pub reason: DestroyReason,
    /// When it falls due (ms); `None` when that kind is kept forever.
    pub due_at: Option<i64>,
    pub due: bool,
}

/// The reason that makes a candidate due first, with its due time.
fn plan(c: LifecycleCandidate, retention: &Retention, now: i64) -> Planned {
    let mut options = Vec::new();
    if c.resource_state == "withdrawn" {
        // From the later of the resource's last change and the version's own: a version
        // uploaded after the withdrawal (to publish again) gets its full retention period.
        options.push((DestroyReason::Withdrawn, c.resource_changed_at.max(c.changed_at)));
    }
    if c.state == "superseded" {
        options.push((DestroyReason::Superseded, c.changed_at));
    }
    let (reason, due_at) = options
        .iter()
        .map(|(reason, since)| (*reason, retention.due_at(*reason, *since)))
        .min_by_key(|(_, due)| due.unwrap_or(i64::MAX))
        .unwrap_or((DestroyReason::Superseded, None));
    Planned {
        due: due_at.is_some_and(|d| now >= d),
        candidate: c,
        reason,
        due_at,
    }
}

/// Every stored version that will fall due, soonest first, each saying whether it is due now.
pub async fn planned(store: &Store, retention: &Retention, now: i64) -> Result<Vec<Planned>> {
    let mut all: Vec<Planned> = store
        .lifecycle_candidates()
        .await?
        .into_iter()
        .map(|c| plan(c, retention, now))
        .collect();
    all.sort_by_key(|p| (p.due_at.unwrap_or(i64::MAX), p.candidate.distribution_id));
    Ok(all)
}

/// What the administration institution's page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub retention: Retention,
    pub planned: Vec<Planned>,
    pub destroyed: Vec<DestructionRow>,
}

pub async fn overview(store: &Store, caller: &Caller, retention: &Retention, now: i64) -> Result<Overview> {
    require(&caller.actor, Action::ManageLifecycle, Target::Platform)?;
    Ok(Overview {
        retention: *retention,
        planned: planned(store, retention, now).await?,
        destroyed: store.destructions(200).await?,
    })
}

/// Destroys one due version now (the administration institution's "destroy now").
pub async fn destroy_now(
    store: &Store,
    files: &FileStore,
    caller: &Caller,
    distribution_id: i64,
    retention: &Retention,
    now: i64,
) -> Result<i64> {
    require(&caller.actor, Action::ManageLifecycle, Target::Platform)?;
    let id = destroy(store, caller, distribution_id, retention, now).await?;
    delete_files(store, files).await;
    Ok(id)
}

/// Destroys a version that is due, in one transaction with its audit event; the version is
/// re-read and re-checked under lock, so a resource republished meanwhile is left alone.
/// Returns the destruction's id. Files are deleted afterwards by [`delete_files`].
async fn destroy(store: &Store, caller: &Caller, distribution_id: i64, retention: &Retention, now: i64) -> Result<i64> {
    let mut tx = store.begin().await?;
    // Lock the resource first, as its state changes do, then the version.
    let resource_id = store
        .distribution(distribution_id)
        .await?
        .ok_or(DomainError::NotFound { what: "distribution" })?
        .resource_id;
    tx.resource_for_update(resource_id).await?;
    let Some(c) = tx.lifecycle_candidate_for_update(distribution_id).await? else {
        return Err(not_due());
    };
    let p = plan(c, retention, now);
    if !p.due {
        return Err(not_due());
    }
    let c = &p.candidate;
    let files: Vec<String> = [c.object_key.clone(), c.export_key.clone()]
        .into_iter()
        .flatten()
        .collect();
    let mut e = caller.audit("distribution.destroy", "distribution", c.distribution_id);
    e.before = Some(json!({
        "resource_id": c.resource_id, "version": c.version, "state": c.state,
        "resource_state": c.resource_state, "datastore_table": c.datastore_table, "files": files,
    }));
    e.after = Some(json!({"state": "destroyed", "reason": p.reason}));
    let seq = tx.audit(e).await?;
    let id = tx
        .destroy_distribution(&NewDestruction {
            distribution_id: c.distribution_id,
            resource_id: c.resource_id,
            version: c.version,
            reason: p.reason.as_str(),
            datastore_table: c.datastore_table.as_deref(),
            files: &files,
            actor: &caller.label,
            audit_seq: seq,
        })
        .await?;
    tx.commit().await?;
    if let Some(table) = &c.datastore_table {
        store.forget_datastore_columns(table);
    }
    Ok(id)
}

fn not_due() -> crate::StoreError {
    DomainError::Conflict {
        code: "not_due_for_destruction",
        field: None,
    }
    .into()
}

/// Deletes the files of destructions that still have some, each only when nothing the platform
/// keeps points at it. Returns how many destructions are now complete; failures stay recorded
/// on their destruction and are retried next time.
pub async fn delete_files(store: &Store, files: &FileStore) -> usize {
    let pending = match store.destructions_with_files_left().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("destruction: cannot list pending files: {e}");
            return 0;
        }
    };
    let mut done = 0;
    for d in pending {
        let mut error = None;
        for key in &d.files {
            let outcome = match store.file_referenced(key).await {
                // Another record still uses the object: it is not this destruction's to delete.
                Ok(true) => Ok(()),
                Ok(false) => files.delete(key).await,
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                error = Some(format!("{key}: {e}"));
                break;
            }
        }
        if let Err(e) = store.set_destruction_files(d.id, error.as_deref()).await {
            tracing::warn!("destruction {}: cannot record file deletion: {e}", d.id);
        } else if error.is_none() {
            done += 1;
        }
    }
    done
}

/// What one run of the destruction job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LifecycleRun {
    pub destroyed: usize,
    pub files_completed: usize,
}

/// The background job: destroys every due version as `system:lifecycle`, then deletes the
/// files of every destruction not yet complete (this run's and earlier failures).
pub async fn run(store: &Store, files: &FileStore, retention: &Retention, now: i64) -> Result<LifecycleRun> {
    let system = crate::interaction::system_caller("lifecycle");
    let mut run = LifecycleRun::default();
    for p in planned(store, retention, now).await?.into_iter().filter(|p| p.due) {
        match destroy(store, &system, p.candidate.distribution_id, retention, now).await {
            Ok(_) => run.destroyed += 1,
            // Republished or already destroyed by someone else since the list was read.
            Err(crate::StoreError::Domain(DomainError::Conflict { .. })) => {}
            // One version that cannot be destroyed does not hold up the others or the files.
            Err(e) => tracing::warn!("destruction of version {}: {e}", p.candidate.distribution_id),
        }
    }
    run.files_completed = delete_files(store, files).await;
    Ok(run)
}
