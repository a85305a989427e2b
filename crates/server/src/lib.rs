//! pubdata's HTTP layer: the web UI, the `/api/v1` JSON API with its OpenAPI document,
//! `/healthz` and `/metrics`. Handlers parse, call a service, and render.

pub mod api;
mod ckan;
pub mod config;
mod ctx;
pub mod error;
pub mod i18n;
mod linked;
pub mod mail;
mod metrics;
mod ratelimit;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{middleware, Json, Router};
use pubdata_core::calendar::WorkCalendar;
use pubdata_service::auth::AuthSettings;
use pubdata_store::{now_ms, FileStore, Store};

pub use config::Config;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Uploaded files (local directory `data_dir/files` by default).
    pub files: FileStore,
    /// The working-day calendar for deadlines.
    pub calendar: Arc<WorkCalendar>,
    pub config: Arc<Config>,
    pub auth: Arc<AuthSettings>,
    pub templates: Arc<minijinja::Environment<'static>>,
    /// This node's search index (`data_dir/search`), following the catalogue change log.
    pub search: pubdata_search::Index,
    pub catalogue: pubdata_service::catalogue::Catalogue,
    /// Rules of the application process (maximum period of use, deadlines, automatic relay).
    pub access: Arc<pubdata_service::access::AccessSettings>,
    /// Deadlines and duplicate detection of data demands and corrections.
    pub demands: pubdata_core::demand::Rules,
    pub corrections: pubdata_core::correction::Rules,
    /// Deadlines and duplicate detection of showcases and security reports.
    pub showcases: pubdata_core::showcase::Rules,
    pub security_reports: pubdata_core::security_report::Rules,
    /// Keys each conditional grant's download row order (the traceable watermark).
    pub watermark: Arc<pubdata_ingest::watermark::WatermarkSecret>,
    /// Search results, provider and region names that searches reuse.
    pub search_cache: Arc<api::search::SearchCache>,
    /// Requests per minute per AppKey on the data API.
    app_key_limit: Arc<ratelimit::RateLimit>,
    metrics: Arc<metrics::Metrics>,
    /// Data API calls per day, resource and grant, counted in memory and flushed to the store.
    pub api_calls: Arc<pubdata_service::evaluation::ApiCalls>,
}

impl AppState {
    pub fn new(store: Store, config: Config) -> anyhow::Result<Self> {
        let files = config.file_store()?;
        let search_dir = config.search_dir();
        let search = pubdata_search::Index::open(&search_dir)
            .map_err(|e| anyhow::anyhow!("cannot use {}: {e}", search_dir.display()))?;
        Ok(AppState {
            store,
            files,
            catalogue: pubdata_service::catalogue::Catalogue::new(search.clone()),
            access: Arc::new(config.access()),
            demands: config.demand,
            corrections: config.correction,
            showcases: config.showcase,
            security_reports: config.security_report,
            watermark: Arc::new(watermark_secret(&config.data_dir)?),
            search_cache: Arc::new(api::search::SearchCache::new(config.search_cache_entries)),
            app_key_limit: Arc::new(ratelimit::RateLimit::new(config.app_key_rate_per_minute)),
            search,
            calendar: Arc::new(calendar(&config)?),
            auth: Arc::new(config.auth()),
            config: Arc::new(config),
            templates: Arc::new(web::templates()),
            metrics: Default::default(),
            api_calls: Default::default(),
        })
    }
}

/// The official calendar with the configured extra days applied.
fn calendar(config: &Config) -> anyhow::Result<WorkCalendar> {
    let mut cal = WorkCalendar::official();
    if let Some(path) = &config.holidays_file {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let days = pubdata_core::calendar::parse_overrides(&text).map_err(|e| {
            let lines = match &e {
                pubdata_core::DomainError::Validation(v) => v
                    .iter()
                    .map(|f| {
                        format!(
                            "line {}: {}",
                            f.params.iter().find(|p| p.0 == "line").map_or("?", |p| &p.1),
                            f.code
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            anyhow::anyhow!("{}: {lines}", path.display())
        })?;
        cal.apply(&days);
    }
    Ok(cal)
}

/// The whole application as one router.
/// How long a background job stays with the node that claimed it without a keep-alive: a job
/// whose node crashed is taken over by the next worker (on restart, or another node) after this.
const JOB_LEASE_MS: i64 = 30_000;

/// How often each node adds its counted data API calls to the store.
const API_CALLS_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(web::routes())
        .nest("/api/v1", api::routes())
        .merge(ckan::routes())
        .merge(linked::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .layer(middleware::from_fn_with_state(state.clone(), ctx::context))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(middleware::from_fn(ctx::security_headers))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(state)
}

async fn healthz(State(app): State<AppState>) -> impl IntoResponse {
    let started = std::time::Instant::now();
    match app.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "database": "ok",
                "database_ms": started.elapsed().as_secs_f64() * 1000.0, "time": now_ms(),
                "version": env!("CARGO_PKG_VERSION")})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "database": e.to_string()})),
        ),
    }
}

async fn metrics_text(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        app.metrics.render(),
    )
}

/// Serves until Ctrl-C or SIGTERM, purging stale sessions in the background.
pub async fn serve(state: AppState, addr: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let store = state.store.clone();
    let idle = state.auth.session_idle_secs;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            if let Err(e) = store.purge_sessions(now_ms() - idle * 1000).await {
                tracing::warn!("session purge failed: {e}");
            }
        }
    });
    // Background jobs run in this process; on PostgreSQL every node runs its own worker.
    let worker_id = format!("{}-{}", addr, std::process::id());
    // E-mail copies of notices, when configured; every node sends, claiming each notice first.
    if let Some(mailer) = mail::mailer(&state.config, &worker_id)? {
        tokio::spawn(mailer.run(state.store.clone(), std::time::Duration::from_secs(5)));
    }
    let secret = mask_secret(&state.config.data_dir)?;
    let worker = pubdata_service::jobs::Worker::new(state.store.clone(), worker_id)
        .lease_ms(JOB_LEASE_MS)
        .handle(
            pubdata_service::ingest::INGEST_JOB,
            pubdata_service::ingest_job::handler(state.files.clone(), secret),
        );
    tokio::spawn(worker.run());
    // Grant expiry, automatic relay, reminders and escalation (applications, demands,
    // corrections), the timeliness monitor, self-evaluation due notices and destruction past retention, every
    // ten minutes.
    {
        let (store, access, calendar) = (state.store.clone(), state.access.clone(), state.calendar.clone());
        let schedule = state.config.self_evaluation;
        let (files, retention) = (state.files.clone(), state.config.lifecycle);
        tokio::spawn(async move {
            loop {
                if let Err(e) = pubdata_service::access::housekeeping(&store, &access, &calendar).await {
                    tracing::warn!("application housekeeping failed: {e}");
                }
                if let Err(e) = pubdata_service::interaction::housekeeping(&store).await {
                    tracing::warn!("demand and correction reminders failed: {e}");
                }
                if let Err(e) = pubdata_service::quality::timeliness(&store, now_ms()).await {
                    tracing::warn!("timeliness monitor failed: {e}");
                }
                if let Err(e) = pubdata_service::self_evaluation::due_notices(&store, &schedule, now_ms()).await {
                    tracing::warn!("self-evaluation due notices failed: {e}");
                }
                if let Err(e) = pubdata_service::lifecycle::run(&store, &files, &retention, now_ms()).await {
                    tracing::warn!("destruction of data past retention failed: {e}");
                }
                tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            }
        });
    }
    // Each node keeps its own index and follows the change log other nodes write to.
    tokio::spawn(
        state
            .catalogue
            .clone()
            .follow(state.store.clone(), std::time::Duration::from_secs(2)),
    );
    // Data API call counts reach the store every five seconds, and once more at shutdown.
    let (calls, calls_store) = (state.api_calls.clone(), state.store.clone());
    {
        let (calls, store) = (calls.clone(), calls_store.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(API_CALLS_FLUSH).await;
                if let Err(e) = calls.flush(&store).await {
                    tracing::warn!("data API call counts not written yet: {e}");
                }
            }
        });
    }
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    if let Err(e) = calls.flush(&calls_store).await {
        tracing::warn!("data API call counts lost at shutdown: {e}");
    }
    Ok(())
}

/// The watermark key, derived from the deployment's secret (every node derives the same).
pub fn watermark_secret(data_dir: &std::path::Path) -> anyhow::Result<pubdata_ingest::watermark::WatermarkSecret> {
    use sha2::{Digest, Sha256};
    let key = mask_secret(data_dir)?;
    let derived = Sha256::new()
        .chain_update(b"pubdata watermark v1\0")
        .chain_update(&key)
        .finalize();
    Ok(pubdata_ingest::watermark::WatermarkSecret(derived.to_vec()))
}

/// The secret for hash masking (脱敏): kept in `data_dir/mask.key`, made on first start.
/// Every node of a deployment must share it, so that equal values hash equally.
pub fn mask_secret(data_dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("mask.key");
    if let Ok(hex_key) = std::fs::read_to_string(&path) {
        return hex::decode(hex_key.trim()).map_err(|_| anyhow::anyhow!("{} is not a hex key", path.display()));
    }
    use rand::RngCore;
    let mut key = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(&path, hex::encode(&key))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(key)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
