//! The ingest job: reads an uploaded distribution with the streaming pipeline (decode,
//! profile, quality audit against the declared 数据项, privacy scan, masking) straight into its
//! datastore table, and records the report. A malformed file fails the distribution with the
//! reader's clear message; the previous data stays as it was.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pubdata_core::field::FieldSpec;
use pubdata_ingest::{ingest_file, IngestOptions, MaskRule, MaskSecret, Report};
use pubdata_store::{datastore, DistributionRow, FileStore};
use serde_json::json;

use crate::jobs::{JobContext, JobError, JobFuture};
use crate::resources;
use crate::Store;

/// Progress of ingests running in this process, by distribution: visible to the pages even
/// while the SQLite writer is busy loading (heartbeats to the database wait for it).
fn board() -> &'static Mutex<std::collections::HashMap<i64, serde_json::Value>> {
    static BOARD: OnceLock<Mutex<std::collections::HashMap<i64, serde_json::Value>>> = OnceLock::new();
    BOARD.get_or_init(Default::default)
}

/// The live progress of a distribution's ingest in this process, if one is running.
pub fn live_progress(distribution_id: i64) -> Option<serde_json::Value> {
    board().lock().ok()?.get(&distribution_id).cloned()
}

/// The ingest handler, with the file store and the masking secret.
pub fn handler(files: FileStore, secret: Vec<u8>) -> impl Fn(JobContext) -> JobFuture + Send + Sync + 'static {
    let secret = Arc::new(secret);
    move |ctx: JobContext| -> JobFuture {
        let files = files.clone();
        let secret = secret.clone();
        Box::pin(async move { run(ctx, files, &secret).await })
    }
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retry(e.to_string())
}

async fn run(ctx: JobContext, files: FileStore, secret: &[u8]) -> Result<serde_json::Value, JobError> {
    let store = ctx.store.clone();
    let id = ctx.job.payload["distribution_id"]
        .as_i64()
        .ok_or(JobError::Fatal("payload lacks distribution_id".into()))?;
    let Some(d) = store.distribution(id).await.map_err(retry)? else {
        return Ok(json!({"skipped": "distribution deleted"}));
    };
    if d.state != "ingesting" {
        // Already done by an earlier attempt that finished after its lease ran out.
        return Ok(json!({"skipped": d.state}));
    }
    let key = d
        .object_key
        .clone()
        .ok_or(JobError::Fatal("the distribution has no file".into()))?;
    // A remote store's object is read from a temporary local copy (the readers seek).
    let copy = files.local_copy(&key).await.map_err(retry)?;
    let row = store
        .resource(d.resource_id)
        .await
        .map_err(retry)?
        .ok_or(JobError::Fatal("resource deleted".into()))?;
    let resource = resources::parse(row).map_err(retry)?;
    let declared = resource.revision.as_ref().unwrap_or(&resource.meta).fields.clone();
    let masks: Vec<MaskRule> = d
        .masking
        .clone()
        .and_then(|m| serde_json::from_value(m).ok())
        .unwrap_or_default();
    let opts = IngestOptions {
        fields: declared.clone(),
        masks,
        mask_secret: MaskSecret(secret.to_vec()),
        ..Default::default()
    };

    let table = datastore::table_name(id);
    let mut loader = store.datastore_loader(&table).await.map_err(retry)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<pubdata_ingest::Progress>(4);
    let reporter = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                let v = json!({"rows": p.rows, "bytes": p.bytes_read, "total_bytes": p.total_bytes});
                if let Ok(mut b) = board().lock() {
                    b.insert(id, v.clone());
                }
                // Best effort: on SQLite the writer is busy loading until the end.
                let _ = tokio::time::timeout(Duration::from_millis(200), ctx.progress(v)).await;
            }
        })
    };
    let outcome = tokio::task::spawn_blocking(move || {
        let mut progress = |p: pubdata_ingest::Progress| {
            let _ = tx.try_send(p);
        };
        let result = ingest_file(&copy.path, &opts, &mut loader, &mut progress);
        drop(loader); // rolls the table back unless the pipeline finished it
        result
    })
    .await
    .map_err(|e| JobError::Fatal(format!("the ingest crashed: {e}")))?;
    let _ = reporter.await;
    if let Ok(mut b) = board().lock() {
        b.remove(&id);
    }
    match outcome {
        Ok(report) => {
            let done = record_success(&store, &d, &resource, &report, &table, declared.is_empty()).await?;
            publish_copy(&store, &files, id).await;
            Ok(done)
        }
        Err(e) if e.code() == "io" || e.code() == "sink_failed" => Err(retry(e)),
        Err(e) => {
            let failure = json!({"error": {"code": e.code(), "message": e.to_string()}});
            let mut tx = store.begin().await.map_err(retry)?;
            tx.set_distribution_ingest(id, "failed", Some(&failure), None, None)
                .await
                .map_err(retry)?;
            tx.commit().await.map_err(retry)?;
            Ok(failure)
        }
    }
}

/// Writes the published copy downloads serve. A failure is logged, not fatal: downloads then
/// stream the table directly.
async fn publish_copy(store: &Store, files: &FileStore, id: i64) {
    let result = match store.distribution(id).await {
        Ok(Some(d)) => crate::download::export(store, files, &d).await.map(|_| ()),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!("distribution {id}: the published copy was not written: {e}");
    }
}

/// The 数据项 inferred from a first upload: names and types as loaded, lengths as seen.
fn inferred_fields(report: &Report) -> Vec<FieldSpec> {
    report
        .columns
        .iter()
        .map(|c| {
            let mut f = FieldSpec::new(&c.name, c.loaded_type);
            f.length = c.max_length.filter(|n| *n > 0);
            f
        })
        .collect()
}

async fn record_success(
    store: &Store,
    d: &DistributionRow,
    resource: &resources::Resource,
    report: &Report,
    table: &str,
    infer: bool,
) -> Result<serde_json::Value, JobError> {
    let report_json = serde_json::to_value(report).map_err(retry)?;
    let mut tx = store.begin().await.map_err(retry)?;
    tx.set_distribution_ingest(d.id, "ready", Some(&report_json), Some(report.rows as i64), Some(table))
        .await
        .map_err(retry)?;
    // A resource without a field dictionary gets the one the data implies, to edit from there.
    if infer && resource.status.is_editable() && resource.revision.is_none() {
        let mut meta = resource.meta.clone();
        meta.fields = inferred_fields(report);
        let meta_json = serde_json::to_value(&meta).map_err(retry)?;
        tx.update_resource_meta(resource.row.id, &meta.title, meta.open_type.as_str(), &meta_json)
            .await
            .map_err(retry)?;
    }
    let mut e = pubdata_store::AuditEntry {
        actor_id: None,
        actor: "system:ingest",
        client_ip: None,
        action: "distribution.ingested",
        object_type: "distribution",
        object_id: d.id.to_string(),
        before: None,
        after: None,
    };
    e.after = Some(
        json!({"rows": report.rows, "quality": report.quality.overall_score, "privacy_findings": report.privacy.len()}),
    );
    tx.audit(e).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    Ok(json!({"rows": report.rows, "table": table}))
}
