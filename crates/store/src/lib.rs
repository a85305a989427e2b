//! pubdata's persistence: one store over SQLite (embedded default) or PostgreSQL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver (`$n` placeholders, BIGINT
//! integers, millisecond timestamps, 0/1 flags), so no rule is written twice; what differs per
//! backend is only connection setup and the migrations folder. SQLite gets one writer
//! connection (writes queue in-process instead of failing with SQLITE_BUSY) and a read pool.

mod acceptance;
mod access;
mod audit;
mod correction;
pub mod datastore;
mod demand;
pub mod dump;
mod evaluation;
pub mod export;
mod files;
mod hot;
mod interaction;
mod job;
mod migrate;
mod notice;
mod org;
mod plan;
mod quality;
mod region;
mod resource;
mod security;
mod security_report;
mod session;
mod showcase;
mod usage_report;
mod user;

pub use acceptance::{AcceptanceRow, NewSelfEvaluation, SelfEvaluationChange, SelfEvaluationRow};
pub use access::{
    ApplicationChange, ApplicationEventRow, ApplicationFilter, ApplicationItemRow, ApplicationRow, AttachmentRow,
    DownloadRow, GrantRow, NewApplicationEvent, NewGrant,
};
pub use audit::{AuditEntry, AuditRow, VerifyReport};
pub use correction::{CorrectionChange, CorrectionFilter, CorrectionRow, NewCorrectionRow};
pub use demand::{DemandChange, DemandFilter, DemandRow, NewDemandRow};
pub use evaluation::{
    ApplicationStep, Counts, EvaluationRunRow, GrantFacts, HandlingRecord, IndicatorSystemRow, NewEvaluationRun,
    PlanItemFacts, PublishedFacts, ShowcaseFacts,
};
pub use files::{FileRange, FileStore, FileWriter, LocalCopy, ObjectInfo, S3Settings, StoredFile, TooLarge};
pub use hot::HOT_TTL;
pub use interaction::{InteractionEventRow, NewInteractionEvent, ResponseRecord};
pub use job::{JobRow, JobState};
pub use notice::{EmailState, NoticeRow, UnsentNotice};
pub use org::OrgRow;
pub use plan::{NewPlanItem, PlanItemRow, PlanRow};
pub use quality::{OverdueRow, UpdateTimes};
pub use region::RegionRow;
pub use resource::{
    CatalogueChange, DistributionRow, NewDistribution, ResourceFilter, ResourceRow, ResourceStateChange, ReviewRow,
};
pub use security::{
    AppKeyTraceRow, AuditFilter, AuditPage, DestructionRow, DownloadFilter, DownloadTraceRow, LifecycleCandidate,
    NewDestruction,
};
pub use security_report::{NewSecurityReportRow, SecurityReportChange, SecurityReportFilter, SecurityReportRow};
pub use session::{ApiTokenRow, SessionRow};
pub use showcase::{NewShowcaseRow, ShowcaseFilter, ShowcaseResourceRow, ShowcaseRow};
pub use usage_report::{NewUsageReportRow, UsageReportRow};
pub use user::{MembershipRow, UserRow};

use std::str::FromStr;
use std::time::Duration;

use pubdata_core::DomainError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to open a store beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// PostgreSQL only: run in this schema (created if missing), e.g. one per test.
    pub pg_schema: Option<String>,
    /// Reader pool size; default 4 on SQLite, 10 on PostgreSQL (where transactions get a pool of
    /// half as many, at least 2; on SQLite one writer).
    pub max_connections: Option<u32>,
}

#[derive(Clone)]
pub struct Store {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    /// Datastore column lists, shared by the store's clones.
    columns: datastore::ColumnCache,
    /// Values the data API reads on every call (see [`Store::remembered`]), shared likewise.
    hot: hot::HotCache,
}

/// Milliseconds since the Unix epoch: the one time representation in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Store {
    pub async fn open(url: &str, opts: OpenOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Other(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
            )));
        };
        let connect = AnyConnectOptions::from_str(url)?;
        let store = match backend {
            Backend::Sqlite => {
                let write = sqlite_pool(1, &connect).await?;
                let read = sqlite_pool(opts.max_connections.unwrap_or(4), &connect).await?;
                Store {
                    read,
                    write,
                    backend,
                    columns: Default::default(),
                    hot: Default::default(),
                }
            }
            Backend::Postgres => {
                if let Some(schema) = &opts.pg_schema {
                    let pool = AnyPoolOptions::new()
                        .max_connections(1)
                        .connect_with(connect.clone())
                        .await?;
                    pool.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
                        .await?;
                    pool.close().await;
                }
                // Two pools, as on SQLite: transactions hold only write connections, so a read
                // made while one is open (e.g. a notice's recipients) always finds a reader, and a
                // burst of transactions cannot take every connection and wait on itself.
                let read_max = opts.max_connections.unwrap_or(10);
                let read = pg_pool(read_max, &connect, &opts.pg_schema).await?;
                let write = pg_pool((read_max / 2).max(2), &connect, &opts.pg_schema).await?;
                Store {
                    read,
                    write,
                    backend,
                    columns: Default::default(),
                    hot: Default::default(),
                }
            }
        };
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations for this backend; safe to run from several nodes at once.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        migrate::run(self).await
    }

    /// Starts a write transaction. Every state change goes through one, with its audit event.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx {
            tx: self.write.begin().await?,
            backend: self.backend,
            hot: self.hot.clone(),
        })
    }

    /// The pool for reads outside a transaction.
    pub(crate) fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Checks the database answers; used by `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// A consistent online snapshot of a SQLite database into `path` (VACUUM INTO).
    pub async fn backup_sqlite(&self, path: &std::path::Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Other(
                "backup --to works on SQLite; for PostgreSQL use pg_dump".into(),
            ));
        }
        if path.exists() {
            return Err(StoreError::Other(format!(
                "{} already exists; choose a new file",
                path.display()
            )));
        }
        let target = path.to_string_lossy().replace('\'', "''");
        sqlx::query(&format!("VACUUM INTO '{target}'"))
            .execute(&self.read)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

async fn pg_pool(max: u32, connect: &AnyConnectOptions, schema: &Option<String>) -> Result<AnyPool> {
    let schema = schema.clone();
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            let schema = schema.clone();
            Box::pin(async move {
                if let Some(s) = schema {
                    conn.execute(format!("SET search_path TO \"{s}\"").as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_with(connect.clone())
        .await?)
}

async fn sqlite_pool(max: u32, connect: &AnyConnectOptions) -> Result<AnyPool> {
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(60))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(connect.clone())
        .await?;
    Ok(pool)
}

/// A write transaction. Dropped without `commit` it rolls back, leaving nothing half-written.
pub struct Tx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    hot: hot::HotCache,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        // After the commit, not before: a read that saw the old state is then never kept.
        self.hot.forget_all();
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// ` FOR UPDATE OF alias` on PostgreSQL, so concurrent transactions cannot both act on one
    /// row; SQLite's single writer already serialises them.
    pub(crate) fn lock(&self, alias: &str) -> String {
        match self.backend {
            Backend::Postgres => format!(" FOR UPDATE OF {alias}"),
            Backend::Sqlite => String::new(),
        }
    }
}

/// Turns a unique-constraint violation into a conflict the user can act on.
pub(crate) fn conflict_on_unique(e: sqlx::Error, code: &'static str, field: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Domain(DomainError::Conflict {
            code,
            field: Some(field),
        }),
        _ => StoreError::Db(e),
    }
}

/// Decodes a 0/1 flag column.
pub(crate) fn flag(v: i64) -> bool {
    v != 0
}

/// `$from, $from+1, …` for `n` values bound in order: an `IN (…)` list whose length, never its
/// contents, comes from the caller.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
