//! 数据质量评价 — gathers a resource's inputs from the store (its current tables and their ingest
//! reports, its version history, its corrections) and scores them with `core::quality`; a
//! provider's scores over its published resources; and the timeliness monitor that flags
//! resources overdue for update and tells their provider once per overdue period.
//!
//! Scores are computed on read: a resource needs three indexed queries, and nothing has to be
//! kept in step with uploads, reviews and corrections.

use std::collections::{BTreeMap, HashMap};

use pubdata_core::calendar::Date;
use pubdata_core::correction::CorrectionState;
use pubdata_core::field::FieldType;
use pubdata_core::metadata::UpdateFrequency;
use pubdata_core::quality::{
    self, ColumnInput, CorrectionCounts, Dimension, DistributionInput, InvalidCells, ResourceInput, Scores,
    VersionInput,
};
use pubdata_core::resource::ResourceState;
use pubdata_core::DomainError;
use pubdata_ingest::{QualityRule, Report};
use pubdata_store::{now_ms, CorrectionFilter, DistributionRow, OrgRow, ResourceFilter};
use serde::Serialize;
use serde_json::json;

use crate::interaction::{self, system_caller};
use crate::notices::Notice;
use crate::resources::{self, Resource};
use crate::{Result, Store};

/// The rules whose failures make values invalid (有效性); required-but-empty cells count for
/// completeness and repeated keys for consistency instead.
const VALUE_RULES: [QualityRule; 5] = [
    QualityRule::TypeMismatch,
    QualityRule::InvalidDate,
    QualityRule::InvalidCode,
    QualityRule::TooLong,
    QualityRule::PrecisionExceeded,
];

/// One table's scores, as shown under its resource.
#[derive(Debug, Clone, Serialize)]
pub struct DistributionQuality {
    pub id: i64,
    pub version: i64,
    pub title: String,
    pub scores: Scores,
}

/// A resource's scores with its tables' and what to fix first.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceQuality {
    pub resource_id: i64,
    pub code: String,
    pub title: String,
    pub overall: Option<f64>,
    pub scores: Scores,
    pub distributions: Vec<DistributionQuality>,
    /// The lowest dimension and its costliest reasons (at most three).
    pub fix_first: Option<FixFirst>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixFirst {
    pub dimension: Dimension,
    pub reasons: Vec<quality::Reason>,
}

/// A provider's scores: the plain mean over its published resources, and each resource's.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderQuality {
    pub org_id: i64,
    pub name: String,
    pub dimensions: BTreeMap<Dimension, Option<f64>>,
    pub overall: Option<f64>,
    /// Lowest overall first: what the provider should look at first.
    pub resources: Vec<ResourceQuality>,
}

fn day(ms: i64) -> Date {
    Date::from_unix_millis_cst(ms)
}

/// Today in China Standard Time.
pub fn today() -> Date {
    day(now_ms())
}

fn report_of(d: &DistributionRow) -> Option<Report> {
    serde_json::from_value(d.report.clone()?).ok()
}

/// What core needs of a loaded table and its ingest report.
fn table_input(d: &DistributionRow, report: &Report) -> DistributionInput {
    let findings = &report.quality.findings;
    let duplicate = findings.iter().find(|f| f.rule == QualityRule::DuplicateKey);
    DistributionInput {
        version: d.version,
        rows: report.rows,
        columns: report
            .columns
            .iter()
            .map(|c| ColumnInput {
                name: c.name.clone(),
                nulls: c.nulls,
                actual_type: c.inferred_type,
            })
            .collect(),
        missing_columns: findings
            .iter()
            .filter(|f| f.rule == QualityRule::MissingColumn)
            .map(|f| f.column.clone())
            .collect(),
        invalid: findings
            .iter()
            .filter(|f| VALUE_RULES.contains(&f.rule))
            .map(|f| InvalidCells {
                column: f.column.clone(),
                rule: f.rule.as_str().into(),
                count: f.count,
            })
            .collect(),
        duplicate_keys: duplicate.map_or(0, |f| f.count),
        key: duplicate.map(|f| f.column.clone()).unwrap_or_default(),
        upload_checksum: d.sha256.as_deref().is_some_and(|s| !s.is_empty()),
        // The published copy is made on first download; only a copy without its checksum counts.
        export_checksum: d.export_key.is_none() || d.export_sha256.as_deref().is_some_and(|s| !s.is_empty()),
    }
}

fn version_input(d: &DistributionRow) -> VersionInput {
    let schema: Vec<(String, FieldType)> = report_of(d)
        .map(|r| r.columns.iter().map(|c| (c.name.clone(), c.loaded_type)).collect())
        .unwrap_or_default();
    VersionInput {
        version: d.version,
        added: day(d.created_at),
        schema,
        change_note: d.change_note.as_deref().is_some_and(|n| !n.trim().is_empty()),
    }
}

async fn corrections(store: &Store, resource_id: i64, versions: &[DistributionRow]) -> Result<CorrectionCounts> {
    let accepted = [CorrectionState::Accepted.as_str()];
    let rows = store
        .list_corrections(&CorrectionFilter {
            resource_id: Some(resource_id),
            states: &accepted,
            limit: 10_000,
            ..Default::default()
        })
        .await?;
    let mut c = CorrectionCounts::default();
    for row in rows {
        let decided = row.decided_at.unwrap_or(row.updated_at);
        let fixed = row.fixed_distribution_id.is_some() || versions.iter().any(|v| v.created_at > decided);
        if fixed {
            c.accepted_fixed += 1;
        } else {
            c.accepted_open += 1;
        }
    }
    let counts = crate::corrections::counts(store, resource_id).await?;
    c.pending = (counts.submitted + counts.under_review).max(0) as u64;
    Ok(c)
}

/// Scores a resource as of `today`.
pub async fn score(store: &Store, r: &Resource, today: Date) -> Result<ResourceQuality> {
    let dists = store.distributions(r.row.id).await?;
    let mut history: Vec<DistributionRow> = dists
        .iter()
        .filter(|d| matches!(d.state.as_str(), "ready" | "superseded"))
        .cloned()
        .collect();
    history.sort_by_key(|d| d.version);
    let current: Vec<&DistributionRow> = dists.iter().filter(|d| d.state == "ready").collect();
    let tables: Vec<(&DistributionRow, DistributionInput)> = current
        .iter()
        .filter(|d| d.kind == "file")
        .filter_map(|d| report_of(d).map(|rep| (*d, table_input(d, &rep))))
        .collect();
    let declared: Vec<(String, FieldType)> = r.meta.fields.iter().map(|f| (f.name.clone(), f.field_type)).collect();
    let distributions = tables
        .iter()
        .map(|(d, input)| DistributionQuality {
            id: d.id,
            version: d.version,
            title: d.title.clone(),
            scores: quality::distribution_scores(input, &declared),
        })
        .collect();
    let input = ResourceInput {
        meta: &r.meta,
        distributions: tables.into_iter().map(|(_, i)| i).collect(),
        has_api: current.iter().any(|d| d.kind == "api"),
        versions: history.iter().map(version_input).collect(),
        published: r.row.published_at.map(day),
        corrections: corrections(store, r.row.id, &history).await?,
        today,
    };
    let scores = quality::resource_scores(&input);
    let fix_first = scores.fix_first(3).map(|(dimension, reasons)| FixFirst {
        dimension,
        reasons: reasons.into_iter().cloned().collect(),
    });
    Ok(ResourceQuality {
        resource_id: r.row.id,
        code: r.row.code.clone(),
        title: r.meta.title.clone(),
        overall: scores.overall(),
        scores,
        distributions,
        fix_first,
    })
}

/// The scores of a published resource (anyone may see them); not found when it is not public.
pub async fn of_published(store: &Store, id: i64, today: Date) -> Result<ResourceQuality> {
    let p = crate::published::by_id(store, id).await?;
    score(store, &p.resource, today).await
}

/// A provider department's scores over its published resources (public, like the catalogue).
pub async fn of_provider(store: &Store, org_id: i64, today: Date) -> Result<ProviderQuality> {
    let org: OrgRow = store
        .org(org_id)
        .await?
        .filter(|o| o.kind == pubdata_core::org::OrgKind::Provider)
        .ok_or(DomainError::NotFound { what: "organisation" })?;
    let rows = store
        .list_resources(&ResourceFilter {
            provider_org_id: Some(org_id),
            state: Some(ResourceState::Published.as_str()),
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(score(store, &resources::parse(row)?, today).await?);
    }
    out.sort_by(|a, b| a.overall.unwrap_or(100.0).total_cmp(&b.overall.unwrap_or(100.0)));
    let all: Vec<Scores> = out.iter().map(|q| q.scores.clone()).collect();
    let dimensions = quality::provider_scores(&all);
    let measured: Vec<f64> = dimensions.values().flatten().copied().collect();
    let overall =
        (!measured.is_empty()).then(|| (measured.iter().sum::<f64>() / measured.len() as f64 * 10.0).round() / 10.0);
    Ok(ProviderQuality {
        org_id,
        name: org.name,
        dimensions,
        overall,
        resources: out,
    })
}

// ---------------------------------------------------------------------------------------------
// Timeliness monitor

/// What one run of the monitor did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelinessRun {
    /// Resources newly flagged (a new overdue period), each with its provider told.
    pub flagged: usize,
    /// Flags lifted: updated since, or no longer published.
    pub cleared: usize,
    /// Notices sent.
    pub notices: usize,
}

/// The day a published resource was last updated: its newest loaded data version or its
/// publication, whichever is later.
fn last_update(published_at: Option<i64>, last_version_at: Option<i64>) -> Option<Date> {
    published_at.into_iter().chain(last_version_at).max().map(day)
}

/// 更新及时性监测 — flags published resources not updated within their update frequency plus
/// grace (`core::quality::update_due`), as of the day of `now` (milliseconds; injectable for
/// tests). A newly overdue resource's provider staff get one notice; later runs in the same
/// overdue period send nothing; a new version, or the resource leaving the catalogue, lifts the
/// flag. Each change is written with its audit event in one transaction.
pub async fn timeliness(store: &Store, now: i64) -> Result<TimelinessRun> {
    let today = day(now);
    let flags: HashMap<i64, String> = store.overdue_flags().await?.into_iter().collect();
    let mut run = TimelinessRun::default();
    let system = system_caller("timeliness");
    let mut published = Vec::new();
    for r in store.published_update_times().await? {
        published.push(r.resource_id);
        let frequency: Option<UpdateFrequency> = serde_json::from_value(r.meta["update_frequency"].clone()).ok();
        let (Some(frequency), Some(last)) = (frequency, last_update(r.published_at, r.last_version_at)) else {
            continue;
        };
        let flagged = flags.get(&r.resource_id);
        let Some(due) = quality::update_due(frequency, last).filter(|due| today > *due) else {
            if flagged.is_some() {
                clear(store, &system, r.resource_id, "updated").await?;
                run.cleared += 1;
            }
            continue;
        };
        let last_text = last.to_string();
        if flagged == Some(&last_text) {
            continue;
        }
        let staff = interaction::provider_staff(store, r.provider_org_id).await?;
        let notice = Notice::new("resource_overdue")
            .param("title", r.title.as_str())
            .param("due", due.to_string())
            .param("last_update", last_text.as_str())
            .link(format!("/provider/resources/{}", r.resource_id));
        let mut tx = store.begin().await?;
        tx.set_overdue(r.resource_id, &last_text, &due.to_string(), now).await?;
        interaction::notify(&mut tx, &staff, &notice).await?;
        let mut e = system.audit("resource.overdue", "resource", r.resource_id);
        e.after = Some(json!({"last_update": last_text, "due": due.to_string(), "frequency": frequency}));
        tx.audit(e).await?;
        tx.commit().await?;
        run.flagged += 1;
        run.notices += staff.len();
    }
    for id in flags.keys().filter(|id| !published.contains(id)) {
        clear(store, &system, *id, "not_published").await?;
        run.cleared += 1;
    }
    Ok(run)
}

async fn clear(store: &Store, system: &crate::Caller, resource_id: i64, why: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    tx.clear_overdue(resource_id).await?;
    let mut e = system.audit("resource.overdue_cleared", "resource", resource_id);
    e.after = Some(json!({"why": why}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(())
}

/// The resources flagged overdue now, longest overdue first (the administration institution's
/// view; a provider's staff see their own with `provider_org_id`).
pub async fn overdue(
    store: &Store,
    caller: &crate::Caller,
    provider_org_id: Option<i64>,
) -> Result<Vec<pubdata_store::OverdueRow>> {
    let allowed = match provider_org_id {
        None => interaction::is_admin(caller),
        Some(org) => interaction::is_admin(caller) || interaction::provider_orgs(caller).contains(&org),
    };
    if !allowed {
        return Err(DomainError::Forbidden.into());
    }
    store.overdue_resources(provider_org_id).await
}
