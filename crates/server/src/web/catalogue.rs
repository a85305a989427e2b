//! The public catalogue of published resources, and how a resource's data versions and their
//! ingest reports are shown — here, in the provider workspace and to reviewers alike.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use pubdata_core::DomainError;
use pubdata_service::resources;
use pubdata_store::DistributionRow;
use serde::Serialize;
use serde_json::Value as Json;

use super::render;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::i18n::{has, t, Lang};
use crate::AppState;

/// Resources per catalogue page.
const PAGE_SIZE: i64 = 20;

/// One column of an ingest report.
#[derive(Debug, Serialize)]
pub(super) struct ColumnView {
    name: String,
    kind: Option<String>,
    nulls: Option<i64>,
}

/// A quality problem: the rule, where, and how often — never the values.
#[derive(Debug, Serialize)]
pub(super) struct FindingView {
    rule: String,
    column: String,
    count: Option<i64>,
}

/// Personal data found in a column, and whether a masking rule covers it.
#[derive(Debug, Serialize)]
pub(super) struct PrivacyView {
    column: String,
    kind: String,
    count: Option<i64>,
    masked: bool,
}

/// What pages show of an ingest report. The report's JSON is read defensively: a part that is
/// missing or shaped differently is left out rather than failing the page.
#[derive(Debug, Default, Serialize)]
pub(super) struct ReportView {
    rows: Option<i64>,
    format: Option<String>,
    encoding: Option<String>,
    columns: Vec<ColumnView>,
    score: Option<String>,
    findings: Vec<FindingView>,
    privacy: Vec<PrivacyView>,
    warnings: Vec<String>,
    error: Option<String>,
}

fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A translated name for a vocabulary value, or the value itself when there is none.
fn term(lang: Lang, prefix: &str, key: &str) -> String {
    let k = format!("{prefix}.{key}");
    if has(lang, &k) {
        t(lang, &k, &[])
    } else {
        key.to_string()
    }
}

fn report_view(lang: Lang, d: &DistributionRow) -> Option<ReportView> {
    let r = d.report.as_ref()?;
    let array = |v: &Json| v.as_array().cloned().unwrap_or_default();
    let columns = array(&r["columns"])
        .iter()
        .map(|c| ColumnView {
            name: text(&c["name"]).unwrap_or_default(),
            kind: ["loaded_type", "type", "inferred_type"]
                .iter()
                .find_map(|k| text(&c[*k]))
                .map(|k| term(lang, "field_type", &k)),
            nulls: c["nulls"].as_i64(),
        })
        .collect();
    let quality = &r["quality"];
    let score = quality["score"]
        .as_f64()
        .or(quality["overall_score"].as_f64())
        .map(|s| format!("{s:.1}"));
    let findings = array(&quality["findings"])
        .iter()
        .map(|f| FindingView {
            rule: text(&f["rule"])
                .map(|k| term(lang, "quality_rule", &k))
                .unwrap_or_default(),
            column: text(&f["column"]).unwrap_or_default(),
            count: f["count"].as_i64(),
        })
        .collect();
    let privacy = array(&r["privacy"])
        .iter()
        .map(|p| {
            let column = text(&p["column"]).unwrap_or_default();
            PrivacyView {
                masked: pubdata_service::ingest::is_masked(d, &column),
                kind: text(&p["kind"]).map(|k| term(lang, "pii", &k)).unwrap_or_default(),
                count: p["count"].as_i64(),
                column,
            }
        })
        .collect();
    let warnings = array(&r["warnings"])
        .iter()
        .filter_map(|w| text(&w["message"]).or_else(|| text(w)))
        .collect();
    let error = text(&r["error"]).or_else(|| text(&r["error"]["message"]));
    Some(ReportView {
        rows: r["rows"].as_i64().or(d.row_count),
        format: text(&r["format"]),
        encoding: text(&r["encoding"]),
        columns,
        score,
        findings,
        privacy,
        warnings,
        error,
    })
}

#[derive(Debug, Serialize)]
pub(super) struct ApiParam {
    name: String,
    description: String,
}

/// One data version (挂接资源) as pages show it.
#[derive(Debug, Serialize)]
pub(super) struct DistView {
    #[serde(flatten)]
    row: DistributionRow,
    /// The file's extension in capitals (CSV, XLSX), or API.
    format: String,
    sha256_prefix: Option<String>,
    params: Vec<ApiParam>,
    report: Option<ReportView>,
    /// Findings neither masked nor justified: they block submission.
    unresolved_privacy: usize,
}

impl DistView {
    pub(super) fn state(&self) -> &str {
        &self.row.state
    }
}

pub(super) fn dist_view(lang: Lang, d: DistributionRow) -> DistView {
    let format = match (&d.kind[..], &d.filename) {
        ("api", _) => "API".to_string(),
        (_, Some(name)) => name.rsplit_once('.').map(|(_, e)| e.to_uppercase()).unwrap_or_default(),
        _ => String::new(),
    };
    let params = d
        .api_params
        .as_ref()
        .and_then(Json::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| ApiParam {
                    name: text(&p["name"]).unwrap_or_default(),
                    description: text(&p["description"]).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let unresolved_privacy = resources::unresolved_privacy(std::slice::from_ref(&d));
    DistView {
        sha256_prefix: d.sha256.as_ref().map(|s| s.chars().take(12).collect()),
        report: report_view(lang, &d),
        format,
        params,
        unresolved_privacy,
        row: d,
    }
}

pub(super) async fn dist_views(app: &AppState, lang: Lang, resource_id: i64) -> AppResult<Vec<DistView>> {
    let rows = app.store.distributions(resource_id).await?;
    Ok(rows.into_iter().map(|d| dist_view(lang, d)).collect())
}

/// The published resources, newest first, a page at a time.
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let total = app.store.count_resources(Some("published")).await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = q
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let items: Vec<_> = resources::catalogue(&app.store, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?
        .into_iter()
        .map(|r| context! { row => r.row, meta => r.meta })
        .collect();
    let page_values = context! { items => items, total => total, page => page, pages => pages };
    Ok(render(&app, &ctx, "catalogue.html", page_values)?.into_response())
}

/// A published resource's public page: metadata, 数据项 and its current data.
pub async fn dataset(State(app): State<AppState>, ctx: Ctx, Path(code): Path<String>) -> AppResult<Response> {
    let not_found = || DomainError::NotFound { what: "resource" };
    let row = app.store.resource_by_code(&code).await?.ok_or_else(not_found)?;
    let r = resources::get(&app.store, &ctx.caller, row.id).await?;
    if !r.status.is_public() {
        return Err(not_found().into());
    }
    // Only data that finished loading is offered; versions in preparation stay in the workspace.
    let dists: Vec<DistView> = dist_views(&app, ctx.lang, r.row.id)
        .await?
        .into_iter()
        .filter(|d| d.state() == "ready")
        .collect();
    let mut formats: Vec<&str> = dists
        .iter()
        .map(|d| d.format.as_str())
        .filter(|f| !f.is_empty())
        .collect();
    formats.sort_unstable();
    formats.dedup();
    let row_count = dists
        .iter()
        .filter(|d| d.row.kind == "file")
        .find_map(|d| d.row.row_count);
    let page = context! { r => r.row, meta => r.meta, dists => dists, formats => formats, row_count => row_count };
    Ok(render(&app, &ctx, "dataset.html", page)?.into_response())
}
