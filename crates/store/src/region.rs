//! Region (行政区划) queries: bulk loading of the national table and search for pickers.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Store, Tx};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegionRow {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    /// 1 province, 2 city, 3 county, 4 street, 5 village.
    pub level: i64,
}

fn row(r: &AnyRow) -> Result<RegionRow> {
    Ok(RegionRow {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        parent_code: r.try_get("parent_code")?,
        level: r.try_get("level")?,
    })
}

/// Rows per INSERT statement: 4 parameters each stays far below both backends' limits.
const BATCH: usize = 500;

impl Tx {
    /// Inserts regions in multi-row statements; existing codes are left as they are.
    pub async fn insert_regions(&mut self, regions: &[RegionRow]) -> Result<u64> {
        let mut inserted = 0;
        for chunk in regions.chunks(BATCH) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                .collect();
            let sql = format!(
                "INSERT INTO regions (code, name, parent_code, level) VALUES {} ON CONFLICT (code) DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q.bind(&r.code).bind(&r.name).bind(&r.parent_code).bind(r.level);
            }
            inserted += q.execute(self.conn()).await?.rows_affected();
        }
        Ok(inserted)
    }
}

const COLUMNS: &str = "code, name, parent_code, level";

impl Store {
    pub async fn count_regions(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM regions")
            .fetch_one(self.reader())
            .await?)
    }

    pub async fn region(&self, code: &str) -> Result<Option<RegionRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM regions WHERE code = $1"))
            .bind(code)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// The regions with these codes (unknown codes are left out), in no particular order.
    pub async fn regions_by_codes(&self, codes: &[String]) -> Result<Vec<RegionRow>> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let marks = crate::placeholders(1, codes.len());
        let sql = format!("SELECT {COLUMNS} FROM regions WHERE code IN ({marks})");
        let mut q = sqlx::query(&sql);
        for c in codes {
            q = q.bind(c);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter().map(row).collect()
    }

    /// The region and its ancestors, from the province down.
    pub async fn region_path(&self, code: &str) -> Result<Vec<RegionRow>> {
        let mut path = Vec::new();
        let mut next = Some(code.to_string());
        while let Some(c) = next {
            let Some(r) = self.region(&c).await? else { break };
            next = r.parent_code.clone();
            path.push(r);
        }
        path.reverse();
        Ok(path)
    }

    pub async fn child_regions(&self, parent: Option<&str>) -> Result<Vec<RegionRow>> {
        let rows = match parent {
            Some(p) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM regions WHERE parent_code = $1 ORDER BY code"
                ))
                .bind(p)
                .fetch_all(self.reader())
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM regions WHERE level = 1 ORDER BY code"))
                    .fetch_all(self.reader())
                    .await?
            }
        };
        rows.iter().map(row).collect()
    }

    /// Regions whose code starts with `q` (digits) or whose name contains it, higher levels first.
    pub async fn search_regions(&self, q: &str, limit: i64) -> Result<Vec<RegionRow>> {
        let q = q.trim();
        // No name holds a NUL, and PostgreSQL refuses one in a parameter.
        if q.contains('\0') {
            return Ok(Vec::new());
        }
        let digits = !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit());
        let (filter, pattern) = if digits {
            ("code LIKE $1", format!("{q}%"))
        } else {
            // LIKE wildcards typed by the user are matched literally.
            let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            ("name LIKE $1 ESCAPE '\\'", format!("%{escaped}%"))
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM regions WHERE {filter} ORDER BY level, code LIMIT $2"
        ))
        .bind(pattern)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }
}
