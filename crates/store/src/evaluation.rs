//! 评估考核 (§8) queries: indicator system versions, evaluation runs, the data API's daily call
//! counts, and the platform-wide facts an evaluation is computed from (each with its provider,
//! so the service computes every provider's metrics from one read of each table).

use serde::Serialize;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

/// A saved version of the indicator system.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorSystemRow {
    pub version: i64,
    pub indicators: serde_json::Value,
    pub note: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

/// An evaluation run with its snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationRunRow {
    pub id: i64,
    pub period_kind: String,
    pub period_label: String,
    pub period_from: String,
    pub period_to: String,
    pub as_of: i64,
    pub system_version: i64,
    pub snapshot: serde_json::Value,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

/// What a run records.
#[derive(Debug, Clone)]
pub struct NewEvaluationRun<'a> {
    pub period_kind: &'a str,
    pub period_label: &'a str,
    pub period_from: &'a str,
    pub period_to: &'a str,
    pub as_of: i64,
    pub system_version: i64,
    pub snapshot: &'a serde_json::Value,
    pub created_by: Option<i64>,
}

/// Something waiting on a person with a deadline: when it arrived, when (if) it was handled,
/// and the deadline's day (YYYY-MM-DD).
#[derive(Debug, Clone, PartialEq)]
pub struct HandlingRecord {
    pub provider_org_id: i64,
    pub received_at: i64,
    pub handled_at: Option<i64>,
    pub due: Option<String>,
}

/// One step in an application's history, with the application's provider.
#[derive(Debug, Clone)]
pub struct ApplicationStep {
    pub application_id: i64,
    pub provider_org_id: i64,
    pub to_state: String,
    pub due: Option<String>,
    pub at: i64,
}

/// A plan item with its provider and, when it is linked, its resource's publication time.
#[derive(Debug, Clone)]
pub struct PlanItemFacts {
    pub provider_org_id: i64,
    pub planned_date: String,
    pub status: String,
    pub published_at: Option<i64>,
}

/// A published resource as the data layer counts it.
#[derive(Debug, Clone)]
pub struct PublishedFacts {
    pub resource_id: i64,
    pub provider_org_id: i64,
    pub open_type: String,
    pub domain: Option<String>,
    pub published_at: Option<i64>,
    pub rows: i64,
    /// A loaded table or an API among its current distributions.
    pub machine_readable: bool,
}

/// A grant with its provider.
#[derive(Debug, Clone)]
pub struct GrantFacts {
    pub id: i64,
    pub provider_org_id: i64,
    pub consumer_id: i64,
    pub valid_from: String,
    pub valid_to: String,
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An accepted showcase and one provider whose data it uses (none when it names no resource).
#[derive(Debug, Clone)]
pub struct ShowcaseFacts {
    pub showcase_id: i64,
    pub submitter_id: i64,
    pub provider_org_id: Option<i64>,
    pub decided_at: i64,
}

/// A count per organisation or user.
pub type Counts = Vec<(i64, i64)>;

fn system_row(r: &sqlx::any::AnyRow) -> Result<IndicatorSystemRow> {
    let indicators: String = r.try_get("indicators")?;
    Ok(IndicatorSystemRow {
        version: r.try_get("version")?,
        indicators: serde_json::from_str(&indicators).unwrap_or_default(),
        note: r.try_get("note")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

const RUN_COLUMNS: &str = "id, period_kind, period_label, period_from, period_to, as_of, system_version, snapshot, \
    created_by, created_at";

fn run_row(r: &sqlx::any::AnyRow) -> Result<EvaluationRunRow> {
    let snapshot: String = r.try_get("snapshot")?;
    Ok(EvaluationRunRow {
        id: r.try_get("id")?,
        period_kind: r.try_get("period_kind")?,
        period_label: r.try_get("period_label")?,
        period_from: r.try_get("period_from")?,
        period_to: r.try_get("period_to")?,
        as_of: r.try_get("as_of")?,
        system_version: r.try_get("system_version")?,
        snapshot: serde_json::from_str(&snapshot).unwrap_or_default(),
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// The indicator system's newest version, or one version; none before the first is saved.
    pub async fn indicator_system(&self, version: Option<i64>) -> Result<Option<IndicatorSystemRow>> {
        let row = sqlx::query(
            "SELECT version, indicators, note, created_by, created_at FROM indicator_systems \
             WHERE ($1 = 0 OR version = $1) ORDER BY version DESC LIMIT 1",
        )
        .bind(version.unwrap_or(0))
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(system_row).transpose()
    }

    /// Every saved version, newest first.
    pub async fn indicator_system_versions(&self) -> Result<Vec<IndicatorSystemRow>> {
        let rows = sqlx::query(
            "SELECT version, indicators, note, created_by, created_at FROM indicator_systems ORDER BY version DESC",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(system_row).collect()
    }

    /// Runs, newest period first (and, within a period, newest run first).
    pub async fn evaluation_runs(&self, limit: i64) -> Result<Vec<EvaluationRunRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM evaluation_runs ORDER BY period_from DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(run_row).collect()
    }

    pub async fn evaluation_run(&self, id: i64) -> Result<Option<EvaluationRunRow>> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM evaluation_runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(run_row).transpose()
    }

    /// Plan items with their providers.
    pub async fn plan_item_facts(&self) -> Result<Vec<PlanItemFacts>> {
        let rows = sqlx::query(
            "SELECT p.provider_org_id, i.planned_date, i.status, r.published_at FROM plan_items i \
             JOIN open_plans p ON p.id = i.plan_id LEFT JOIN resources r ON r.id = i.resource_id ORDER BY i.id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PlanItemFacts {
                    provider_org_id: r.try_get("provider_org_id")?,
                    planned_date: r.try_get("planned_date")?,
                    status: r.try_get("status")?,
                    published_at: r.try_get("published_at")?,
                })
            })
            .collect()
    }

    /// Every resource review decision, from its submission (the latest submission recorded in
    /// the audit trail before it) to the decision; and every review still waiting.
    pub async fn review_records(&self) -> Result<Vec<HandlingRecord>> {
        let decided = sqlx::query(
            "SELECT r.provider_org_id, v.created_at, v.due, \
             (SELECT MAX(a.at) FROM audit_events a WHERE a.object_type = 'resource' \
              AND a.object_id = CAST(v.object_id AS TEXT) \
              AND a.action IN ('resource.submit', 'resource.submit_revision') AND a.at <= v.created_at) AS started \
             FROM reviews v JOIN resources r ON r.id = v.object_id \
             WHERE v.object_type = 'resource' ORDER BY v.id",
        )
        .fetch_all(self.reader())
        .await?;
        let mut out = Vec::with_capacity(decided.len());
        for r in &decided {
            let at: i64 = r.try_get("created_at")?;
            let started: Option<i64> = r.try_get("started")?;
            out.push(HandlingRecord {
                provider_org_id: r.try_get("provider_org_id")?,
                received_at: started.unwrap_or(at),
                handled_at: Some(at),
                due: r.try_get("due")?,
            });
        }
        let waiting = sqlx::query(
            "SELECT provider_org_id, submitted_at, review_due FROM resources \
             WHERE (state = 'pending_review' OR revision_state = 'pending_review') AND submitted_at IS NOT NULL \
             ORDER BY id",
        )
        .fetch_all(self.reader())
        .await?;
        for r in &waiting {
            out.push(HandlingRecord {
                provider_org_id: r.try_get("provider_org_id")?,
                received_at: r.try_get("submitted_at")?,
                handled_at: None,
                due: r.try_get("review_due")?,
            });
        }
        Ok(out)
    }

    /// Every step of every application, by application then time.
    pub async fn application_steps(&self) -> Result<Vec<ApplicationStep>> {
        let rows = sqlx::query(
            "SELECT e.application_id, a.provider_org_id, e.to_state, e.due, e.at FROM application_events e \
             JOIN applications a ON a.id = e.application_id ORDER BY e.application_id, e.id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApplicationStep {
                    application_id: r.try_get("application_id")?,
                    provider_org_id: r.try_get("provider_org_id")?,
                    to_state: r.try_get("to_state")?,
                    due: r.try_get("due")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Every published resource with its current rows and whether machines can read it.
    pub async fn published_facts(&self) -> Result<Vec<PublishedFacts>> {
        let rows = sqlx::query(
            "SELECT r.id, r.provider_org_id, r.open_type, r.meta, r.published_at, \
             (SELECT CAST(COALESCE(SUM(d.row_count), 0) AS BIGINT) FROM distributions d WHERE d.resource_id = r.id \
              AND d.state = 'ready' AND d.kind = 'file') AS row_total, \
             (SELECT COUNT(*) FROM distributions d WHERE d.resource_id = r.id AND d.state = 'ready' \
              AND (d.datastore_table IS NOT NULL OR d.kind = 'api')) AS readable \
             FROM resources r WHERE r.state = 'published' ORDER BY r.id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let meta: String = r.try_get("meta")?;
                let meta: serde_json::Value = serde_json::from_str(&meta).unwrap_or_default();
                let readable: i64 = r.try_get("readable")?;
                Ok(PublishedFacts {
                    resource_id: r.try_get("id")?,
                    provider_org_id: r.try_get("provider_org_id")?,
                    open_type: r.try_get("open_type")?,
                    domain: meta["domain"].as_str().map(str::to_string),
                    published_at: r.try_get("published_at")?,
                    rows: r.try_get("row_total")?,
                    machine_readable: readable > 0,
                })
            })
            .collect()
    }

    /// Downloads made in `[from, to)` (milliseconds), per provider of the data and per user.
    pub async fn period_download_counts(&self, from: i64, to: i64) -> Result<(Counts, Counts)> {
        let by_provider = sqlx::query(
            "SELECT r.provider_org_id AS k, COUNT(*) AS n FROM downloads d JOIN resources r ON r.id = d.resource_id \
             WHERE d.at >= $1 AND d.at < $2 GROUP BY r.provider_org_id ORDER BY 1",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        let by_user = sqlx::query(
            "SELECT d.user_id AS k, COUNT(*) AS n FROM downloads d \
             WHERE d.at >= $1 AND d.at < $2 AND d.user_id IS NOT NULL GROUP BY d.user_id ORDER BY 1",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        Ok((counts(&by_provider)?, counts(&by_user)?))
    }

    /// Data API calls on the days `[from, to)` (YYYY-MM-DD), per provider of the data and per
    /// grant holder.
    pub async fn api_call_counts(&self, from: &str, to: &str) -> Result<(Counts, Counts)> {
        let by_provider = sqlx::query(
            "SELECT r.provider_org_id AS k, CAST(SUM(a.calls) AS BIGINT) AS n FROM api_calls_daily a \
             JOIN resources r ON r.id = a.resource_id WHERE a.day >= $1 AND a.day < $2 \
             GROUP BY r.provider_org_id ORDER BY 1",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        let by_user = sqlx::query(
            "SELECT g.consumer_id AS k, CAST(SUM(a.calls) AS BIGINT) AS n FROM api_calls_daily a \
             JOIN grants g ON g.id = a.grant_id WHERE a.day >= $1 AND a.day < $2 \
             GROUP BY g.consumer_id ORDER BY 1",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        Ok((counts(&by_provider)?, counts(&by_user)?))
    }

    /// The calls counted for one grant on one day (0 when none).
    pub async fn api_calls_on(&self, day: &str, resource_id: i64, grant_id: i64) -> Result<i64> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT calls FROM api_calls_daily WHERE day = $1 AND resource_id = $2 AND grant_id = $3",
        )
        .bind(day)
        .bind(resource_id)
        .bind(grant_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(n.unwrap_or(0))
    }

    /// Every grant with its provider.
    pub async fn grant_facts(&self) -> Result<Vec<GrantFacts>> {
        let rows = sqlx::query(
            "SELECT g.id, r.provider_org_id, g.consumer_id, g.valid_from, g.valid_to, g.state, g.created_at, \
             g.updated_at FROM grants g JOIN resources r ON r.id = g.resource_id ORDER BY g.id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GrantFacts {
                    id: r.try_get("id")?,
                    provider_org_id: r.try_get("provider_org_id")?,
                    consumer_id: r.try_get("consumer_id")?,
                    valid_from: r.try_get("valid_from")?,
                    valid_to: r.try_get("valid_to")?,
                    state: r.try_get("state")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Every usage report as `(grant, due date covered, submitted at)`.
    pub async fn usage_report_facts(&self) -> Result<Vec<(i64, String, i64)>> {
        let rows = sqlx::query("SELECT grant_id, period_due, created_at FROM usage_reports ORDER BY id")
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("grant_id")?,
                    r.try_get("period_due")?,
                    r.try_get("created_at")?,
                ))
            })
            .collect()
    }

    /// Accepted showcases, one row per provider whose data each uses.
    pub async fn accepted_showcase_facts(&self) -> Result<Vec<ShowcaseFacts>> {
        let rows = sqlx::query(
            "SELECT s.id, s.submitter_id, sr.provider_org_id, COALESCE(s.decided_at, s.updated_at) AS decided \
             FROM showcases s LEFT JOIN showcase_resources sr ON sr.showcase_id = s.id \
             WHERE s.state = 'accepted' ORDER BY s.id, sr.provider_org_id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ShowcaseFacts {
                    showcase_id: r.try_get("id")?,
                    submitter_id: r.try_get("submitter_id")?,
                    provider_org_id: r.try_get("provider_org_id")?,
                    decided_at: r.try_get("decided")?,
                })
            })
            .collect()
    }

    /// Security reports the administration institution triaged that name a grant, made in
    /// `[from, to)`: `(grant holder, report)`.
    pub async fn grant_security_reports(&self, from: i64, to: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT g.consumer_id, s.id FROM security_reports s JOIN grants g ON g.id = s.grant_id \
             WHERE s.severity IS NOT NULL AND s.created_at >= $1 AND s.created_at < $2 ORDER BY s.id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("consumer_id")?, r.try_get("id")?)))
            .collect()
    }

    /// `(id, login, display name)` of some users.
    pub async fn user_names(&self, ids: &[i64]) -> Result<Vec<(i64, String, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, login, display_name FROM users WHERE id IN ({}) ORDER BY id",
            crate::placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("login")?, r.try_get("display_name")?)))
            .collect()
    }
}

fn counts(rows: &[sqlx::any::AnyRow]) -> Result<Counts> {
    rows.iter().map(|r| Ok((r.try_get("k")?, r.try_get("n")?))).collect()
}

impl Tx {
    /// Saves a new version of the indicator system (one more than the newest) and returns it.
    pub async fn insert_indicator_system(
        &mut self,
        indicators: &serde_json::Value,
        note: Option<&str>,
        created_by: Option<i64>,
    ) -> Result<i64> {
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM indicator_systems")
            .fetch_one(self.conn())
            .await?;
        let version = newest.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO indicator_systems (version, indicators, note, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(version)
        .bind(indicators.to_string())
        .bind(note)
        .bind(created_by)
        .bind(now_ms())
        .execute(self.conn())
        .await?;
        Ok(version)
    }

    pub async fn insert_evaluation_run(&mut self, r: &NewEvaluationRun<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO evaluation_runs (period_kind, period_label, period_from, period_to, as_of, system_version, \
             snapshot, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(r.period_kind)
        .bind(r.period_label)
        .bind(r.period_from)
        .bind(r.period_to)
        .bind(r.as_of)
        .bind(r.system_version)
        .bind(r.snapshot.to_string())
        .bind(r.created_by)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    /// Adds `calls` to a day's count for one grant on one resource.
    pub async fn add_api_calls(&mut self, day: &str, resource_id: i64, grant_id: i64, calls: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_calls_daily (day, resource_id, grant_id, calls) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (day, resource_id, grant_id) DO UPDATE SET calls = api_calls_daily.calls + excluded.calls",
        )
        .bind(day)
        .bind(resource_id)
        .bind(grant_id)
        .bind(calls)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
