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
    let c = resource::Caller::of(&caller.actor, r.row.provider_org_id);
    if !(c.owner_editor || c.owner_manager) {
        return Err(DomainError::NotFound { what: "resource" }.into());
    }
    if r.status.awaits_review() || r.status.state == ResourceState::Deleted {
        return Err(DomainError::InvalidTransition {
            from: r.status.key(),
            action: "add_distribution".into(),
        }
        .into());
    }
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
