//! 评估考核 (§8) — the administration institution's evaluation of the provider departments and
//! consumers from what happened on the platform: the indicator system (versioned), each
//! provider's metrics over a period read from the store, scored with `core::evaluation`, kept as
//! a run's snapshot; trends across runs; and the data API's call counter that the use layer reads.
//!
//! A snapshot depends only on the stored data, the period, the system version and `as_of` (the
//! period's end, or the run's time when that is earlier): the same data gives the same snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use pubdata_core::calendar::Date;
use pubdata_core::evaluation::{self, Indicator, IndicatorSystem, Layer, Period, RawRow, ScoredRow, CATALOGUE};
use pubdata_core::metadata::DomainList;
use pubdata_core::org::OrgKind;
use pubdata_core::quality::Dimension;
use pubdata_core::self_evaluation::Schedule;
use pubdata_core::usage_report::{self, Rules};
use pubdata_core::user::Role;
use pubdata_core::DomainError;
use pubdata_store::{now_ms, EvaluationRunRow, GrantFacts, HandlingRecord, NewEvaluationRun};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Caller, Result, Store, StoreError};

const DAY_MS: i64 = 86_400_000;
const CST_OFFSET_MS: i64 = 8 * 3_600_000;
/// The most runs a list or a trend reads.
const RUN_LIMIT: i64 = 500;

fn day(ms: i64) -> Date {
    Date::from_unix_millis_cst(ms)
}

/// Midnight at the start of `d` in China Standard Time, in milliseconds.
pub fn start_ms(d: Date) -> i64 {
    d.days() * DAY_MS - CST_OFFSET_MS
}

fn days(ms: i64) -> f64 {
    evaluation::round2(ms.max(0) as f64 / DAY_MS as f64)
}

/// Who edits the indicator system and runs evaluations: the administration institution's managers.
pub fn may_manage(caller: &Caller) -> bool {
    caller.actor.has_role(Role::AdminManager)
}

/// Who sees the consumers' part of a run: the administration institution.
pub fn may_see_consumers(caller: &Caller) -> bool {
    caller.actor.has_role(Role::AdminManager) || caller.actor.has_role(Role::AdminReviewer)
}

fn manager(caller: &Caller) -> Result<i64> {
    let user = caller.actor.user_id.ok_or(DomainError::Unauthenticated {
        reason: "login_required",
    })?;
    if !may_manage(caller) {
        return Err(DomainError::Forbidden.into());
    }
    Ok(user)
}

// ---------------------------------------------------------------------------------------------
// The data API's call counter

/// 数据接口调用计数 — calls to the data API per (day, resource, grant), counted in memory (a
/// lock and an addition per call, no database write) and added to `api_calls_daily` by
/// [`ApiCalls::flush`], which the server runs every few seconds and at shutdown.
#[derive(Debug, Default)]
pub struct ApiCalls {
    counts: Mutex<HashMap<(i64, i64, i64), i64>>,
}

impl ApiCalls {
    /// Counts one call under `grant_id` on `resource_id`, today (China Standard Time).
    pub fn count(&self, resource_id: i64, grant_id: i64) {
        self.count_on(day(now_ms()), resource_id, grant_id);
    }

    pub fn count_on(&self, on: Date, resource_id: i64, grant_id: i64) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((on.days(), resource_id, grant_id)).or_default() += 1;
    }

    /// Calls counted and not yet written.
    pub fn pending(&self) -> i64 {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).values().sum()
    }

    /// Adds the counted calls to the daily table in one transaction and returns how many were
    /// written; on failure the counts are kept for the next flush.
    pub async fn flush(&self, store: &Store) -> Result<i64> {
        let taken = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()));
        if taken.is_empty() {
            return Ok(0);
        }
        let mut sorted: Vec<_> = taken.iter().collect();
        // One order for every node, so concurrent flushes on PostgreSQL cannot deadlock.
        sorted.sort();
        let written = async {
            let mut tx = store.begin().await?;
            for ((d, resource, grant), n) in &sorted {
                tx.add_api_calls(&Date::from_days(*d).to_string(), *resource, *grant, **n)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        }
        .await;
        match written {
            Ok(()) => Ok(taken.values().sum()),
            Err(e) => {
                let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
                for (k, n) in taken {
                    *map.entry(k).or_default() += n;
                }
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The indicator system

/// An indicator system version (0: the built-in default, before any is saved).
#[derive(Debug, Clone, Serialize)]
pub struct SystemView {
    pub version: i64,
    pub indicators: Vec<Indicator>,
    pub note: Option<String>,
    pub created_at: Option<i64>,
}

/// The newest saved system (or the default), or a given version.
pub async fn system(store: &Store, version: Option<i64>) -> Result<SystemView> {
    match store.indicator_system(version).await? {
        Some(row) => {
            let indicators: Vec<Indicator> =
                serde_json::from_value(row.indicators).map_err(|e| StoreError::Other(e.to_string()))?;
            Ok(SystemView {
                version: row.version,
                indicators,
                note: row.note,
                created_at: Some(row.created_at),
            })
        }
        None if version.is_none_or(|v| v == 0) => Ok(SystemView {
            version: 0,
            indicators: IndicatorSystem::default_system().indicators,
            note: None,
            created_at: None,
        }),
        None => Err(DomainError::NotFound {
            what: "indicator_system",
        }
        .into()),
    }
}

/// Every saved version, newest first.
pub async fn versions(store: &Store) -> Result<Vec<SystemView>> {
    let mut out = Vec::new();
    for row in store.indicator_system_versions().await? {
        out.push(SystemView {
            version: row.version,
            indicators: serde_json::from_value(row.indicators).unwrap_or_default(),
            note: row.note,
            created_at: Some(row.created_at),
        });
    }
    Ok(out)
}

/// 制定评估指标 — saves a new version of the indicator system (earlier versions are kept; runs
/// name the version they used). Validated first: nothing is written when anything is wrong.
pub async fn save_system(store: &Store, caller: &Caller, system: &IndicatorSystem, note: &str) -> Result<i64> {
    let user = manager(caller)?;
    system.validate()?;
    let note = Some(note.trim()).filter(|n| !n.is_empty());
    let indicators = serde_json::to_value(&system.indicators).map_err(|e| StoreError::Other(e.to_string()))?;
    let mut tx = store.begin().await?;
    let version = tx.insert_indicator_system(&indicators, note, Some(user)).await?;
    let mut e = caller.audit("evaluation.system_saved", "indicator_system", version);
    e.after = Some(json!({"indicators": indicators, "note": note}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(version)
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/// One provider's result in a run: its scores with its six quality dimensions (for the radar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderResult {
    #[serde(flatten)]
    pub scored: ScoredRow,
    /// Each dimension's mean score over its published resources, in `Dimension::ALL` order.
    pub quality: Vec<Option<f64>>,
}

/// 数据使用者评价 — one consumer in a run.
///
/// Incidents are the grants revoked in the period and the security reports naming one of the
/// consumer's grants that were made in the period and triaged by the administration institution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerResult {
    pub user_id: i64,
    pub login: String,
    pub display_name: String,
    /// Usage reports that fell due in the period, and those submitted by their due day.
    pub feedback_due: u64,
    pub feedback_on_time: u64,
    pub feedback_compliance: Option<f64>,
    pub revoked_grants: u64,
    pub security_reports: u64,
    pub incidents: u64,
    pub accepted_showcases: u64,
    pub downloads: i64,
    pub api_calls: i64,
}

/// Everything a run found and scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub period_kind: String,
    pub period_label: String,
    pub period_from: String,
    pub period_to: String,
    pub as_of: i64,
    pub system_version: i64,
    pub indicators: Vec<Indicator>,
    /// By rank.
    pub providers: Vec<ProviderResult>,
    /// By user id.
    pub consumers: Vec<ConsumerResult>,
}

/// What the period's facts are measured against.
struct Window {
    from: Date,
    to: Date,
    from_ms: i64,
    /// The moment the state is read at.
    cutoff: i64,
}

impl Window {
    fn contains(&self, ms: i64) -> bool {
        ms >= self.from_ms && ms < self.cutoff
    }

    /// Days whose whole span passed within the window.
    fn due_day_passed(&self, d: Date) -> bool {
        d >= self.from && d < self.to && d < day(self.cutoff)
    }
}

/// Median handling days and overdue rate of some records: those handled in the window count,
/// late when handled after their deadline's day; those still waiting at its end count when
/// their deadline has passed.
fn handling(records: &[&HandlingRecord], w: &Window) -> (Option<f64>, Option<f64>) {
    let today = day(w.cutoff);
    let (mut durations, mut counted, mut late) = (Vec::new(), 0u64, 0u64);
    for r in records {
        let due = r.due.as_deref().and_then(Date::parse);
        match r.handled_at {
            Some(h) if w.contains(h) => {
                counted += 1;
                durations.push(days(h - r.received_at));
                if due.is_some_and(|d| day(h) > d) {
                    late += 1;
                }
            }
            // Still waiting at the window's end, past its deadline.
            h if r.received_at < w.cutoff && h.is_none_or(|h| h >= w.cutoff) && due.is_some_and(|d| today > d) => {
                counted += 1;
                late += 1;
            }
            _ => {}
        }
    }
    (
        evaluation::median(&durations).map(evaluation::round2),
        evaluation::ratio(late, counted).map(evaluation::round4),
    )
}

/// The platform-wide facts one run reads (each table once).
struct Facts {
    providers: Vec<(i64, String)>,
    plan_items: Vec<pubdata_store::PlanItemFacts>,
    reviews: Vec<HandlingRecord>,
    applications: Vec<HandlingRecord>,
    demands: Vec<HandlingRecord>,
    corrections: Vec<HandlingRecord>,
    published: Vec<pubdata_store::PublishedFacts>,
    downloads: (BTreeMap<i64, i64>, BTreeMap<i64, i64>),
    api_calls: (BTreeMap<i64, i64>, BTreeMap<i64, i64>),
    grants: Vec<GrantFacts>,
    reports: Vec<(i64, String, i64)>,
    showcases: Vec<pubdata_store::ShowcaseFacts>,
    security: Vec<(i64, i64)>,
    quality: BTreeMap<i64, (Option<f64>, Vec<Option<f64>>)>,
    /// Per provider: self-evaluations due in the window (whose due day has passed) and how many
    /// of them were submitted by it.
    self_evaluations: BTreeMap<i64, (u32, u32)>,
}

/// The staff stages of applications: each step into pre-review, provider review or relay
/// starts a stage that the next step ends.
fn application_stages(steps: &[pubdata_store::ApplicationStep]) -> Vec<HandlingRecord> {
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        if !matches!(
            s.to_state.as_str(),
            "pre_review" | "provider_review" | "provider_rejected"
        ) {
            continue;
        }
        let next = steps.get(i + 1).filter(|n| n.application_id == s.application_id);
        out.push(HandlingRecord {
            provider_org_id: s.provider_org_id,
            received_at: s.at,
            handled_at: next.map(|n| n.at),
            due: s.due.clone(),
        });
    }
    out
}

async fn gather(store: &Store, w: &Window, schedule: &Schedule) -> Result<Facts> {
    let providers: Vec<(i64, String)> = store
        .list_orgs(Some(OrgKind::Provider))
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let (mut demands, mut corrections) = (Vec::new(), Vec::new());
    for r in store.response_records().await? {
        let rec = HandlingRecord {
            provider_org_id: r.provider_org_id,
            received_at: r.received_at,
            handled_at: r.answered_at,
            due: r.stage_due,
        };
        if r.kind == "demand" {
            demands.push(rec);
        } else {
            corrections.push(rec);
        }
    }
    let (dl_p, dl_u) = store.period_download_counts(w.from_ms, w.cutoff).await?;
    let cutoff_day = day(w.cutoff).add_days(1).min(w.to);
    let (api_p, api_u) = store
        .api_call_counts(&w.from.to_string(), &cutoff_day.to_string())
        .await?;
    let mut quality = BTreeMap::new();
    for (id, _) in &providers {
        let q = crate::quality::of_provider(store, *id, day(w.cutoff)).await?;
        let dims = Dimension::ALL
            .iter()
            .map(|d| q.dimensions.get(d).copied().flatten())
            .collect();
        quality.insert(*id, (q.overall, dims));
    }
    // Due days whose whole day passed inside the window.
    let last = w.to.add_days(-1).min(day(w.cutoff).add_days(-1));
    let mut self_evaluations = BTreeMap::new();
    if last >= w.from {
        for (org, _) in &providers {
            let (on_time, due) = crate::self_evaluation::on_time(store, schedule, *org, w.from, last).await?;
            self_evaluations.insert(*org, (on_time, due));
        }
    }
    Ok(Facts {
        providers,
        plan_items: store.plan_item_facts().await?,
        reviews: store.review_records().await?,
        applications: application_stages(&store.application_steps().await?),
        demands,
        corrections,
        published: store.published_facts().await?,
        downloads: (dl_p.into_iter().collect(), dl_u.into_iter().collect()),
        api_calls: (api_p.into_iter().collect(), api_u.into_iter().collect()),
        grants: store.grant_facts().await?,
        reports: store.usage_report_facts().await?,
        showcases: store.accepted_showcase_facts().await?,
        security: store.grant_security_reports(w.from_ms, w.cutoff).await?,
        quality,
        self_evaluations,
    })
}

/// Due dates of usage reports on some grants that passed in the window, and how many of them a
/// report covered by its due day. A revoked grant owes nothing (as in `feedback`).
fn feedback(grants: &[&GrantFacts], reports: &[(i64, String, i64)], rules: &Rules, w: &Window) -> (u64, u64) {
    let (mut due, mut on_time) = (0, 0);
    for g in grants.iter().filter(|g| g.state != "revoked") {
        let Some(from) = Date::parse(&g.valid_from) else {
            continue;
        };
        let dates = usage_report::due_dates(from, Date::parse(&g.valid_to), rules.every_days, day(w.cutoff));
        for d in dates.into_iter().filter(|d| w.due_day_passed(*d)) {
            due += 1;
            let text = d.to_string();
            if reports
                .iter()
                .any(|(grant, period, at)| *grant == g.id && *period == text && day(*at) <= d)
            {
                on_time += 1;
            }
        }
    }
    (due, on_time)
}

/// The value of one metric for one provider.
fn provider_metric(id: &str, org: i64, f: &Facts, w: &Window, rules: &Rules) -> Option<f64> {
    let of = |records: &[HandlingRecord]| -> (Option<f64>, Option<f64>) {
        let mine: Vec<&HandlingRecord> = records.iter().filter(|r| r.provider_org_id == org).collect();
        handling(&mine, w)
    };
    let published: Vec<&pubdata_store::PublishedFacts> = f
        .published
        .iter()
        .filter(|p| p.provider_org_id == org && p.published_at.is_some_and(|at| at < w.cutoff))
        .collect();
    let share = |pred: &dyn Fn(&pubdata_store::PublishedFacts) -> bool| {
        let n = published.iter().filter(|p| pred(p)).count() as u64;
        evaluation::ratio(n, published.len() as u64).map(evaluation::round4)
    };
    match id {
        "plan_completion" => {
            let (from, to) = (w.from.to_string(), w.to.to_string());
            let due: Vec<_> = f
                .plan_items
                .iter()
                .filter(|i| i.provider_org_id == org && i.status != "cancelled")
                .filter(|i| i.planned_date >= from && i.planned_date < to)
                .collect();
            let done = due
                .iter()
                .filter(|i| i.status == "published" && i.published_at.is_some_and(|at| at < w.cutoff))
                .count();
            evaluation::ratio(done as u64, due.len() as u64).map(evaluation::round4)
        }
        "self_evaluation_on_time" => {
            let (on_time, due) = f.self_evaluations.get(&org).copied().unwrap_or((0, 0));
            evaluation::ratio(u64::from(on_time), u64::from(due)).map(evaluation::round4)
        }
        "review_median_days" => of(&f.reviews).0,
        "review_overdue_rate" => of(&f.reviews).1,
        "application_median_days" => of(&f.applications).0,
        "application_overdue_rate" => of(&f.applications).1,
        "demand_median_days" => of(&f.demands).0,
        "demand_overdue_rate" => of(&f.demands).1,
        "correction_median_days" => of(&f.corrections).0,
        "correction_overdue_rate" => of(&f.corrections).1,
        "published_resources" => Some(published.len() as f64),
        "total_rows" => Some(published.iter().map(|p| p.rows).sum::<i64>() as f64),
        "machine_readable_share" => share(&|p| p.machine_readable),
        "unconditional_share" => share(&|p| p.open_type == "unconditional"),
        "domain_coverage" => {
            let standard = DomainList::standard();
            let all: Vec<&str> = standard.iter().map(|(k, _)| k).collect();
            let covered: BTreeSet<&str> = published
                .iter()
                .filter_map(|p| p.domain.as_deref())
                .filter(|d| all.contains(d))
                .collect();
            evaluation::ratio(covered.len() as u64, all.len() as u64).map(evaluation::round4)
        }
        "quality_score" => f.quality.get(&org).and_then(|q| q.0),
        "downloads" => Some(f.downloads.0.get(&org).copied().unwrap_or(0) as f64),
        "api_calls" => Some(f.api_calls.0.get(&org).copied().unwrap_or(0) as f64),
        "grants_issued" => Some(
            f.grants
                .iter()
                .filter(|g| g.provider_org_id == org && w.contains(g.created_at))
                .count() as f64,
        ),
        "accepted_showcases" => {
            let ids: BTreeSet<i64> = f
                .showcases
                .iter()
                .filter(|s| s.provider_org_id == Some(org) && w.contains(s.decided_at))
                .map(|s| s.showcase_id)
                .collect();
            Some(ids.len() as f64)
        }
        "feedback_compliance" => {
            let grants: Vec<&GrantFacts> = f.grants.iter().filter(|g| g.provider_org_id == org).collect();
            let (due, on_time) = feedback(&grants, &f.reports, rules, w);
            evaluation::ratio(on_time, due).map(evaluation::round4)
        }
        _ => None,
    }
}

async fn consumers(store: &Store, f: &Facts, w: &Window, rules: &Rules) -> Result<Vec<ConsumerResult>> {
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let to = w.to.to_string();
    let from = w.from.to_string();
    ids.extend(
        f.grants
            .iter()
            .filter(|g| g.created_at < w.cutoff && g.valid_from < to && g.valid_to >= from)
            .map(|g| g.consumer_id),
    );
    ids.extend(f.downloads.1.keys());
    ids.extend(f.api_calls.1.keys());
    ids.extend(f.security.iter().map(|s| s.0));
    ids.extend(
        f.showcases
            .iter()
            .filter(|s| w.contains(s.decided_at))
            .map(|s| s.submitter_id),
    );
    let ids: Vec<i64> = ids.into_iter().collect();
    let names: BTreeMap<i64, (String, String)> = store
        .user_names(&ids)
        .await?
        .into_iter()
        .map(|(id, login, name)| (id, (login, name)))
        .collect();
    Ok(ids
        .into_iter()
        .filter_map(|user| {
            let (login, display_name) = names.get(&user)?.clone();
            let grants: Vec<&GrantFacts> = f.grants.iter().filter(|g| g.consumer_id == user).collect();
            let (due, on_time) = feedback(&grants, &f.reports, rules, w);
            let revoked = grants
                .iter()
                .filter(|g| g.state == "revoked" && w.contains(g.updated_at))
                .count() as u64;
            let security = f.security.iter().filter(|s| s.0 == user).count() as u64;
            let showcases: BTreeSet<i64> = f
                .showcases
                .iter()
                .filter(|s| s.submitter_id == user && w.contains(s.decided_at))
                .map(|s| s.showcase_id)
                .collect();
            Some(ConsumerResult {
                user_id: user,
                login,
                display_name,
                feedback_due: due,
                feedback_on_time: on_time,
                feedback_compliance: evaluation::ratio(on_time, due).map(evaluation::round4),
                revoked_grants: revoked,
                security_reports: security,
                incidents: revoked + security,
                accepted_showcases: showcases.len() as u64,
                downloads: f.downloads.1.get(&user).copied().unwrap_or(0),
                api_calls: f.api_calls.1.get(&user).copied().unwrap_or(0),
            })
        })
        .collect())
}

/// Evaluates every provider department and consumer over `period` under `system` as of `as_of`
/// (milliseconds; the run passes the earlier of the period's end and now).
pub async fn compute(
    store: &Store,
    system: &SystemView,
    period: &Period,
    as_of: i64,
    rules: &Rules,
    schedule: &Schedule,
) -> Result<Snapshot> {
    let w = Window {
        from: period.from,
        to: period.to,
        from_ms: start_ms(period.from),
        cutoff: as_of.min(start_ms(period.to)),
    };
    let facts = gather(store, &w, schedule).await?;
    let rows: Vec<RawRow> = facts
        .providers
        .iter()
        .map(|(org, name)| RawRow {
            org_id: *org,
            name: name.clone(),
            values: system
                .indicators
                .iter()
                .map(|ind| provider_metric(&ind.metric, *org, &facts, &w, rules))
                .collect(),
        })
        .collect();
    let sys = IndicatorSystem {
        indicators: system.indicators.clone(),
    };
    let providers = evaluation::score(&sys, &rows)
        .into_iter()
        .map(|scored| ProviderResult {
            quality: facts
                .quality
                .get(&scored.org_id)
                .map(|q| q.1.clone())
                .unwrap_or_default(),
            scored,
        })
        .collect();
    Ok(Snapshot {
        period_kind: period.kind.as_str().into(),
        period_label: period.label(),
        period_from: period.from.to_string(),
        period_to: period.to.to_string(),
        as_of: w.cutoff,
        system_version: system.version,
        indicators: system.indicators.clone(),
        providers,
        consumers: consumers(store, &facts, &w, rules).await?,
    })
}

// ---------------------------------------------------------------------------------------------
// Runs

/// A run as shown: its row and its snapshot (the consumers' part only for the administration
/// institution).
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: i64,
    pub created_at: i64,
    pub created_by: Option<i64>,
    pub snapshot: Snapshot,
}

fn run_of(row: EvaluationRunRow, caller: &Caller) -> Result<Run> {
    let mut snapshot: Snapshot =
        serde_json::from_value(row.snapshot).map_err(|e| StoreError::Other(format!("snapshot: {e}")))?;
    if !may_see_consumers(caller) {
        snapshot.consumers.clear();
    }
    Ok(Run {
        id: row.id,
        created_at: row.created_at,
        created_by: row.created_by,
        snapshot,
    })
}

/// 开展评估 — evaluates the period (`month` `2026-11`, `quarter` `2026-Q4`, `year` `2026`) under
/// the newest indicator system and stores the snapshot; the default system is saved as version 1
/// first when none has been saved. A period that has not begun is refused.
pub async fn create_run(
    store: &Store,
    caller: &Caller,
    kind: &str,
    period: &str,
    rules: &Rules,
    schedule: &Schedule,
) -> Result<i64> {
    let user = manager(caller)?;
    let period = Period::parse(kind, period)?;
    let now = now_ms();
    if period.from > day(now) {
        return Err(DomainError::field("period", "evaluation.period_future").into());
    }
    let sys = system(store, None).await?;
    // Computed before the transaction, which then only writes: no writer waits on the reading.
    let mut snapshot = compute(store, &sys, &period, now, rules, schedule).await?;
    let mut tx = store.begin().await?;
    if sys.version == 0 {
        let indicators = serde_json::to_value(&sys.indicators).map_err(|e| StoreError::Other(e.to_string()))?;
        snapshot.system_version = tx.insert_indicator_system(&indicators, None, Some(user)).await?;
        let mut e = caller.audit("evaluation.system_saved", "indicator_system", snapshot.system_version);
        e.after = Some(json!({"indicators": indicators, "default": true}));
        tx.audit(e).await?;
    }
    let value = serde_json::to_value(&snapshot).map_err(|e| StoreError::Other(e.to_string()))?;
    let id = tx
        .insert_evaluation_run(&NewEvaluationRun {
            period_kind: &snapshot.period_kind,
            period_label: &snapshot.period_label,
            period_from: &snapshot.period_from,
            period_to: &snapshot.period_to,
            as_of: snapshot.as_of,
            system_version: snapshot.system_version,
            snapshot: &value,
            created_by: Some(user),
        })
        .await?;
    let mut e = caller.audit("evaluation.run", "evaluation_run", id);
    e.after = Some(json!({"period": snapshot.period_label, "kind": snapshot.period_kind,
        "system_version": snapshot.system_version, "providers": snapshot.providers.len()}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn run(store: &Store, caller: &Caller, id: i64) -> Result<Run> {
    let row = store
        .evaluation_run(id)
        .await?
        .ok_or(DomainError::NotFound { what: "evaluation_run" })?;
    run_of(row, caller)
}

/// The runs, newest period first.
pub async fn runs(store: &Store, caller: &Caller) -> Result<Vec<Run>> {
    store
        .evaluation_runs(RUN_LIMIT)
        .await?
        .into_iter()
        .map(|r| run_of(r, caller))
        .collect()
}

/// The newest run of the newest period evaluated, if any.
pub async fn latest(store: &Store, caller: &Caller) -> Result<Option<Run>> {
    store
        .evaluation_runs(1)
        .await?
        .into_iter()
        .next()
        .map(|r| run_of(r, caller))
        .transpose()
}

/// One provider's place in one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub run_id: i64,
    pub period_kind: String,
    pub period_label: String,
    pub total: Option<f64>,
    pub rank: Option<u32>,
    pub providers: usize,
}

/// A provider's total and rank across the periods evaluated (the newest run of each period),
/// oldest period first; periods of `kind` only when given.
pub fn trend(runs: &[Run], org_id: i64, kind: Option<&str>) -> Vec<TrendPoint> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<TrendPoint> = runs
        .iter()
        .filter(|r| kind.is_none_or(|k| r.snapshot.period_kind == k))
        .filter(|r| seen.insert((r.snapshot.period_kind.clone(), r.snapshot.period_label.clone())))
        .filter_map(|r| {
            let p = r.snapshot.providers.iter().find(|p| p.scored.org_id == org_id)?;
            Some(TrendPoint {
                run_id: r.id,
                period_kind: r.snapshot.period_kind.clone(),
                period_label: r.snapshot.period_label.clone(),
                total: p.scored.total,
                rank: p.scored.rank,
                providers: r.snapshot.providers.len(),
            })
        })
        .collect();
    out.reverse();
    out
}

/// A run as CSV: one line per provider with its rank, total, layer scores and each indicator's
/// raw value and score; or (`consumers`) one line per consumer.
pub fn csv(run: &Run, consumers: bool) -> String {
    fn cell(v: &Option<f64>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    fn quote(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let s = &run.snapshot;
    let mut out = String::new();
    if consumers {
        out.push_str("user_id,login,display_name,feedback_due,feedback_on_time,feedback_compliance,revoked_grants,security_reports,incidents,accepted_showcases,downloads,api_calls\n");
        for c in &s.consumers {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                c.user_id,
                quote(&c.login),
                quote(&c.display_name),
                c.feedback_due,
                c.feedback_on_time,
                cell(&c.feedback_compliance),
                c.revoked_grants,
                c.security_reports,
                c.incidents,
                c.accepted_showcases,
                c.downloads,
                c.api_calls
            ));
        }
        return out;
    }
    let mut header = vec!["rank".to_string(), "org_id".into(), "provider".into(), "total".into()];
    header.extend(Layer::ALL.iter().map(|l| format!("layer_{}", l.as_str())));
    for ind in &s.indicators {
        header.push(ind.metric.clone());
        header.push(format!("{}_score", ind.metric));
    }
    out.push_str(&header.join(","));
    out.push('\n');
    for p in &s.providers {
        let r = &p.scored;
        let mut line = vec![
            r.rank.map(|x| x.to_string()).unwrap_or_default(),
            r.org_id.to_string(),
            quote(&r.name),
            cell(&r.total),
        ];
        line.extend(r.layers.iter().map(cell));
        for (v, sc) in r.values.iter().zip(&r.scores) {
            line.push(cell(v));
            line.push(cell(sc));
        }
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// The catalogue's metric ids, for forms.
pub fn metric_ids() -> Vec<&'static str> {
    CATALOGUE.iter().map(|m| m.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(received: i64, handled: Option<i64>, due: &str) -> HandlingRecord {
        HandlingRecord {
            provider_org_id: 1,
            received_at: received,
            handled_at: handled,
            due: Some(due.into()),
        }
    }

    #[test]
    fn handling_times_and_overdue_rates_by_hand() {
        // The period 2026-11-01..2026-12-01, read at its end.
        let from = Date::parse("2026-11-01").unwrap();
        let to = Date::parse("2026-12-01").unwrap();
        let w = Window {
            from,
            to,
            from_ms: start_ms(from),
            cutoff: start_ms(to),
        };
        let at = |d: &str, hours: i64| start_ms(Date::parse(d).unwrap()) + hours * 3_600_000;
        let records = [
            // 2 days, in time.
            rec(at("2026-11-02", 9), Some(at("2026-11-04", 9)), "2026-11-06"),
            // 5 days, one day late.
            rec(at("2026-11-02", 9), Some(at("2026-11-07", 9)), "2026-11-06"),
            // Waiting past its deadline at the period's end: overdue, no duration.
            rec(at("2026-11-20", 9), None, "2026-11-27"),
            // Waiting, not yet due: not counted.
            rec(at("2026-11-29", 9), None, "2026-12-04"),
            // Handled before the period: not counted.
            rec(at("2026-10-01", 9), Some(at("2026-10-02", 9)), "2026-10-09"),
            // Handled after the period, but past its deadline at the period's end: overdue then.
            rec(at("2026-11-10", 9), Some(at("2026-12-03", 9)), "2026-11-17"),
        ];
        let refs: Vec<&HandlingRecord> = records.iter().collect();
        let (median, rate) = handling(&refs, &w);
        assert_eq!(median, Some(3.5));
        // 3 of 4 counted were late.
        assert_eq!(rate, Some(0.75));
        assert_eq!(handling(&[], &w), (None, None));
    }

    #[test]
    fn the_counter_adds_per_day_resource_and_grant() {
        let c = ApiCalls::default();
        let d = Date::parse("2026-11-20").unwrap();
        c.count_on(d, 1, 10);
        c.count_on(d, 1, 10);
        c.count_on(d, 2, 11);
        c.count_on(d.add_days(1), 1, 10);
        assert_eq!(c.pending(), 4);
        let map = c.counts.lock().unwrap();
        assert_eq!(map[&(d.days(), 1, 10)], 2);
        assert_eq!(map.len(), 3);
    }
}
