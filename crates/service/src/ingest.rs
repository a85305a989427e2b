//! Distributions and their ingest: uploads are stored, an ingest job is queued in the same
//! transaction, and the worker reads the file, audits it and loads the datastore.

use pubdata_store::DistributionRow;

/// Columns with personal data found by the privacy scan of a distribution's report.
pub fn privacy_columns(d: &DistributionRow) -> Vec<String> {
    let Some(findings) = d.report.as_ref().and_then(|r| r["privacy"].as_array()) else {
        return Vec::new();
    };
    let mut cols: Vec<String> = findings
        .iter()
        .filter_map(|f| f["column"].as_str().map(str::to_string))
        .collect();
    cols.sort();
    cols.dedup();
    cols
}

/// Whether a masking rule covers the column.
pub fn is_masked(d: &DistributionRow, column: &str) -> bool {
    d.masking
        .as_ref()
        .and_then(|m| m.as_array())
        .is_some_and(|rules| rules.iter().any(|r| r["column"].as_str() == Some(column)))
}

use pubdata_core::resource::{self, ResourceState};
use pubdata_core::{DomainError, FieldError};
use pubdata_store::NewDistribution;
use serde::Deserialize;
use serde_json::json;

use crate::{Caller, Result, Store};

/// An external API registered as a distribution: where it is and how to call it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewApi {
    pub title: String,
    pub url: String,
    #[serde(default)]
    pub method: String,
    /// Parameters as `name: description` lines.
    #[serde(default)]
    pub params: String,
    #[serde(default)]
    pub doc: String,
    #[serde(default)]
    pub change_note: String,
}

fn validate_api(a: &NewApi) -> Result<(String, Vec<(String, String)>), DomainError> {
    let mut errors = Vec::new();
    let title = a.title.trim();
    if title.chars().count() < 2 || title.chars().count() > 100 {
        errors.push(FieldError::new("title", "length").with("min", 2).with("max", 100));
    }
    let url = a.url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.len() > 2000
        || url.contains(char::is_whitespace)
    {
        errors.push(FieldError::new("url", "url"));
    }
    let method = match a.method.trim().to_ascii_uppercase().as_str() {
        "" | "GET" => "GET".to_string(),
        "POST" => "POST".to_string(),
        _ => {
            errors.push(FieldError::new("method", "http_method"));
            String::new()
        }
    };
    let params: Vec<(String, String)> = a
        .params
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once([':', '：']) {
            Some((n, d)) => (n.trim().to_string(), d.trim().to_string()),
            None => (l.trim().to_string(), String::new()),
        })
        .collect();
    if errors.is_empty() {
        Ok((method, params))
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Registers an external API as a new version of the resource's data.
pub async fn add_api(store: &Store, caller: &Caller, resource_id: i64, api: &NewApi) -> Result<i64> {
    let (method, params) = validate_api(api)?;
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let mut tx = store.begin().await?;
    let r = crate::resources::parse(
        tx.resource_for_update(resource_id)
            .await?
            .ok_or(DomainError::NotFound { what: "resource" })?,
    )?;
    may_change_data(caller, &r, "resource", "add_distribution")?;
    let params_json = json!(params
        .iter()
        .map(|(n, d)| json!({"name": n, "description": d}))
        .collect::<Vec<_>>());
    let d = NewDistribution {
        resource_id,
        kind: "api".into(),
        title: api.title.trim().into(),
        state: "ready".into(),
        api_url: Some(api.url.trim().into()),
        api_method: Some(method),
        api_params: Some(params_json),
        api_doc: Some(api.doc.trim().to_string()).filter(|s| !s.is_empty()),
        change_note: Some(api.change_note.trim().to_string()).filter(|s| !s.is_empty()),
        created_by: user_id,
        ..Default::default()
    };
    let (id, version) = tx.insert_distribution(&d).await?;
    let mut e = caller.audit("distribution.add_api", "distribution", id);
    e.after = Some(json!({"resource_id": resource_id, "version": version, "url": d.api_url}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

/// Only the owning provider's editors and managers change a resource's data, and not while it is
/// under review or deleted. Others are told the object does not exist.
fn may_change_data(caller: &Caller, r: &crate::resources::Resource, what: &'static str, action: &str) -> Result<()> {
    let c = resource::Caller::of(&caller.actor, r.row.provider_org_id);
    if !(c.owner_editor || c.owner_manager) {
        return Err(DomainError::NotFound { what }.into());
    }
    if r.status.awaits_review() || r.status.state == ResourceState::Deleted {
        return Err(DomainError::InvalidTransition {
            from: r.status.key(),
            action: action.into(),
        }
        .into());
    }
    Ok(())
}

/// The resource's current data: its newest successfully ingested file (earlier ones are
/// superseded when it is published).
pub fn current_file(dists: &[DistributionRow]) -> Option<&DistributionRow> {
    dists.iter().find(|d| d.kind == "file" && d.state == "ready")
}

/// An accepted upload waiting for its bytes: where they go and for which resource.
#[derive(Debug, Clone)]
pub struct UploadTicket {
    pub resource_id: i64,
    pub key: String,
    pub filename: String,
}

/// What the uploader says about the file.
#[derive(Debug, Clone, Default)]
pub struct UploadInfo {
    pub title: String,
    pub change_note: String,
}

/// The kinds of file the ingest pipeline reads.
pub const UPLOAD_EXTENSIONS: [&str; 5] = ["csv", "tsv", "txt", "xlsx", "json"];

/// The name an uploaded file is shown under: its last path part (a browser on Windows may send
/// `C:\\…\\x.csv`), without control characters, at most 120 characters with its extension kept.
/// The name is only shown; the stored key never contains it.
fn upload_name(filename: &str) -> Option<String> {
    const MAX: usize = 120;
    let base = filename.rsplit(['/', '\\']).next().unwrap_or("");
    // Control characters, and the bidirectional overrides that make `gpj.exe` read as `exe.jpg`.
    let shown = |c: &char| !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let clean: String = base.chars().filter(shown).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean.starts_with('.') {
        return None;
    }
    if clean.chars().count() <= MAX {
        return Some(clean.to_string());
    }
    let (stem, ext) = match clean.rsplit_once('.') {
        Some((s, e)) if e.chars().count() <= 10 => (s, format!(".{e}")),
        _ => (clean, String::new()),
    };
    let keep = MAX - ext.chars().count();
    Some(format!("{}{ext}", stem.chars().take(keep).collect::<String>()))
}

/// Checks, before any byte is received, that the caller may upload to this resource now, and
/// names the storage key. A second upload while an ingest is running is refused.
pub async fn begin_upload(store: &Store, caller: &Caller, resource_id: i64, filename: &str) -> Result<UploadTicket> {
    let name = upload_name(filename).ok_or_else(|| DomainError::field("file", "file_required"))?;
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !UPLOAD_EXTENSIONS.contains(&ext.as_str()) {
        return Err(DomainError::field("file", "file_type").into());
    }
    let r = crate::resources::parse(
        store
            .resource(resource_id)
            .await?
            .ok_or(DomainError::NotFound { what: "resource" })?,
    )?;
    may_change_data(caller, &r, "resource", "add_distribution")?;
    if store
        .distributions(resource_id)
        .await?
        .iter()
        .any(|d| d.state == "ingesting")
    {
        return Err(DomainError::Conflict {
            code: "ingest_in_progress",
            field: Some("file"),
        }
        .into());
    }
    // The key never contains the user's file name, so no name can escape the upload folder.
    let key = format!(
        "resources/{resource_id}/{}-{}.{ext}",
        pubdata_store::now_ms(),
        crate::secret::random_token().get(..8).unwrap_or("0")
    );
    Ok(UploadTicket {
        resource_id,
        key,
        filename: name,
    })
}

/// Records a stored upload as the resource's next data version and queues its ingest, in one
/// transaction: there is never a distribution without its job.
pub async fn finish_upload(
    store: &Store,
    caller: &Caller,
    ticket: &UploadTicket,
    stored: &pubdata_store::StoredFile,
    info: &UploadInfo,
) -> Result<i64> {
    let user_id = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    if stored.size == 0 {
        return Err(DomainError::field("file", "file_empty").into());
    }
    let title = match info.title.trim() {
        "" => ticket.filename.chars().take(100).collect(),
        t => t.chars().take(100).collect(),
    };
    let ext = ticket.key.rsplit_once('.').map(|(_, e)| e).unwrap_or("csv");
    let media_type = match ext {
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "json" => "application/json",
        "tsv" => "text/tab-separated-values",
        _ => "text/csv",
    };
    let mut tx = store.begin().await?;
    let d = NewDistribution {
        resource_id: ticket.resource_id,
        kind: "file".into(),
        title,
        state: "ingesting".into(),
        filename: Some(ticket.filename.clone()),
        media_type: Some(media_type.into()),
        object_key: Some(ticket.key.clone()),
        sha256: Some(stored.sha256.clone()),
        size_bytes: Some(stored.size as i64),
        change_note: Some(info.change_note.trim().to_string()).filter(|s| !s.is_empty()),
        created_by: user_id,
        ..Default::default()
    };
    let (id, version) = tx.insert_distribution(&d).await?;
    let job = tx.enqueue_job(INGEST_JOB, &json!({"distribution_id": id}), 3).await?;
    tx.set_distribution_job(id, "ingesting", Some(job)).await?;
    let mut e = caller.audit("distribution.upload", "distribution", id);
    e.after = Some(
        json!({"resource_id": ticket.resource_id, "version": version, "file": ticket.filename,
        "sha256": stored.sha256, "size": stored.size}),
    );
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

/// The job kind that ingests a distribution.
pub const INGEST_JOB: &str = "ingest";

/// 脱敏 — the provider's answer to a distribution's privacy findings: masking rules per column
/// (applied by a new ingest) and/or a written justification for publishing them as they are.
pub async fn set_privacy(
    store: &Store,
    caller: &Caller,
    distribution_id: i64,
    masks: &[pubdata_ingest::MaskRule],
    justification: &str,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let d = tx
        .distribution(distribution_id)
        .await?
        .ok_or(DomainError::NotFound { what: "distribution" })?;
    let r = crate::resources::parse(
        tx.resource_for_update(d.resource_id)
            .await?
            .ok_or(DomainError::NotFound { what: "resource" })?,
    )?;
    may_change_data(caller, &r, "distribution", "set_privacy")?;
    if d.kind != "file" || !matches!(d.state.as_str(), "ready" | "failed") {
        return Err(DomainError::Conflict {
            code: "ingest_in_progress",
            field: None,
        }
        .into());
    }
    let columns: Vec<String> = d
        .report
        .as_ref()
        .and_then(|r| r["columns"].as_array())
        .map(|cols| {
            cols.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut errors = Vec::new();
    for (i, m) in masks.iter().enumerate() {
        if !columns.contains(&m.column) {
            errors.push(FieldError::new(&format!("masks[{i}].column"), "unknown_column").with("column", &m.column));
        }
    }
    let justification = justification.trim();
    if justification.chars().count() > 2000 {
        errors.push(
            FieldError::new("justification", "length")
                .with("min", 0)
                .with("max", 2000),
        );
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors).into());
    }
    let masks_json = serde_json::to_value(masks).map_err(|e| crate::StoreError::Other(e.to_string()))?;
    let changed = d.masking.as_ref().unwrap_or(&json!([])) != &masks_json;
    let just = (!justification.is_empty()).then_some(justification);
    tx.set_distribution_privacy(d.id, Some(&masks_json), just).await?;
    if changed {
        // The masked data must replace the unmasked table: ingest again with the rules.
        let job = tx.enqueue_job(INGEST_JOB, &json!({"distribution_id": d.id}), 3).await?;
        tx.set_distribution_job(d.id, "ingesting", Some(job)).await?;
    }
    let mut e = caller.audit("distribution.privacy", "distribution", d.id);
    e.after = Some(json!({"masks": masks_json, "justification": just, "reingest": changed}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::upload_name;

    #[test]
    fn upload_names_keep_only_a_plain_last_part() {
        assert_eq!(upload_name("../../etc/passwd.csv").as_deref(), Some("passwd.csv"));
        assert_eq!(upload_name("..\\..\\x.csv").as_deref(), Some("x.csv"));
        assert_eq!(upload_name("C:\\Users\\王\\街道.xlsx").as_deref(), Some("街道.xlsx"));
        assert_eq!(upload_name("/abs/path.csv").as_deref(), Some("path.csv"));
        assert_eq!(upload_name("a\0b\r\n.csv").as_deref(), Some("ab.csv"));
        assert_eq!(upload_name("\u{202e}vsc.exe.csv").as_deref(), Some("vsc.exe.csv"));
        assert_eq!(upload_name(".."), None);
        assert_eq!(upload_name("dir/"), None);
        assert_eq!(upload_name("\0"), None);
        let long = upload_name(&format!("{}.csv", "长".repeat(3000))).expect("a name");
        assert_eq!(long.chars().count(), 120);
        assert!(long.ends_with("长.csv"));
    }
}
