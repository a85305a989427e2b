//! Embedded, numbered migrations per backend, applied in order and recorded.

use sqlx::Executor;

use crate::{now_ms, Backend, Result, Store};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sqlite: include_str!("../migrations/sqlite/0001_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "regions",
        sqlite: include_str!("../migrations/sqlite/0002_regions.sql"),
        postgres: include_str!("../migrations/postgres/0002_regions.sql"),
    },
    Migration {
        version: 3,
        name: "jobs_notices",
        sqlite: include_str!("../migrations/sqlite/0003_jobs_notices.sql"),
        postgres: include_str!("../migrations/postgres/0003_jobs_notices.sql"),
    },
    Migration {
        version: 4,
        name: "resources",
        sqlite: include_str!("../migrations/sqlite/0004_resources.sql"),
        postgres: include_str!("../migrations/postgres/0004_resources.sql"),
    },
    Migration {
        version: 5,
        name: "access",
        sqlite: include_str!("../migrations/sqlite/0005_access.sql"),
        postgres: include_str!("../migrations/postgres/0005_access.sql"),
    },
    Migration {
        version: 6,
        name: "interaction",
        sqlite: include_str!("../migrations/sqlite/0006_interaction.sql"),
        postgres: include_str!("../migrations/postgres/0006_interaction.sql"),
    },
    Migration {
        version: 7,
        name: "outcomes",
        sqlite: include_str!("../migrations/sqlite/0007_outcomes.sql"),
        postgres: include_str!("../migrations/postgres/0007_outcomes.sql"),
    },
    Migration {
        version: 8,
        name: "feedback",
        sqlite: include_str!("../migrations/sqlite/0008_feedback.sql"),
        postgres: include_str!("../migrations/postgres/0008_feedback.sql"),
    },
    Migration {
        version: 9,
        name: "quality",
        sqlite: include_str!("../migrations/sqlite/0009_quality.sql"),
        postgres: include_str!("../migrations/postgres/0009_quality.sql"),
    },
    Migration {
        version: 10,
        name: "acceptance",
        sqlite: include_str!("../migrations/sqlite/0010_acceptance.sql"),
        postgres: include_str!("../migrations/postgres/0010_acceptance.sql"),
    },
    Migration {
        version: 11,
        name: "evaluation",
        sqlite: include_str!("../migrations/sqlite/0011_evaluation.sql"),
        postgres: include_str!("../migrations/postgres/0011_evaluation.sql"),
    },
    Migration {
        version: 12,
        name: "security",
        sqlite: include_str!("../migrations/sqlite/0012_security.sql"),
        postgres: include_str!("../migrations/postgres/0012_security.sql"),
    },
];

/// A fixed key for PostgreSQL's advisory lock, so concurrent nodes migrate one at a time.
const PG_MIGRATION_LOCK: i64 = 0x0070_7562_6461_7461;

pub(crate) async fn run(store: &Store) -> Result<Vec<String>> {
    let mut tx = store.begin().await?;
    let conn = tx.conn();
    if store.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?;
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        sqlx::raw_sql(sql).execute(&mut *conn).await?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
        done.push(format!("{:04}_{}", m.version, m.name));
    }
    tx.commit().await?;
    Ok(done)
}
