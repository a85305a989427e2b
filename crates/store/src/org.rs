//! Organisation queries.

use pubdata_core::org::{OrgKind, ValidOrg};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{conflict_on_unique, now_ms, Result, Store, StoreError, Tx};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrgRow {
    pub id: i64,
    pub kind: OrgKind,
    pub name: String,
    pub credit_code: String,
    pub region_code: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub created_at: i64,
    /// Accounts holding a role in the organisation.
    pub member_count: i64,
}

const COLUMNS: &str = "o.id, o.kind, o.name, o.credit_code, o.region_code, o.contact_name, \
    o.contact_phone, o.contact_email, o.created_at, \
    (SELECT COUNT(DISTINCT m.user_id) FROM memberships m WHERE m.org_id = o.id) AS member_count";

fn row(r: AnyRow) -> Result<OrgRow> {
    let kind: String = r.try_get("kind")?;
    Ok(OrgRow {
        id: r.try_get("id")?,
        kind: OrgKind::parse(&kind).ok_or_else(|| StoreError::Other(format!("unknown org kind {kind}")))?,
        name: r.try_get("name")?,
        credit_code: r.try_get("credit_code")?,
        region_code: r.try_get("region_code")?,
        contact_name: r.try_get("contact_name")?,
        contact_phone: r.try_get("contact_phone")?,
        contact_email: r.try_get("contact_email")?,
        created_at: r.try_get("created_at")?,
        member_count: r.try_get("member_count")?,
    })
}

impl Tx {
    pub async fn insert_org(&mut self, o: &ValidOrg) -> Result<i64> {
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT CASE WHEN credit_code = $1 THEN 'credit_code' ELSE 'name' END \
             FROM organisations WHERE credit_code = $1 OR name = $2 LIMIT 1",
        )
        .bind(&o.credit_code)
        .bind(&o.name)
        .fetch_optional(self.conn())
        .await?;
        match taken.as_deref() {
            Some("credit_code") => {
                return Err(StoreError::Domain(pubdata_core::DomainError::Conflict {
                    code: "credit_code_taken",
                    field: Some("credit_code"),
                }))
            }
            Some(_) => {
                return Err(StoreError::Domain(pubdata_core::DomainError::Conflict {
                    code: "org_name_taken",
                    field: Some("name"),
                }))
            }
            None => {}
        }
        sqlx::query_scalar(
            "INSERT INTO organisations (kind, name, credit_code, region_code, contact_name, \
             contact_phone, contact_email, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(o.kind.as_str())
        .bind(&o.name)
        .bind(&o.credit_code)
        .bind(&o.region_code)
        .bind(&o.contact_name)
        .bind(&o.contact_phone)
        .bind(&o.contact_email)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await
        .map_err(|e| conflict_on_unique(e, "credit_code_taken", "credit_code"))
    }

    pub async fn org(&mut self, id: i64) -> Result<Option<OrgRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM organisations o WHERE o.id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.map(row).transpose()
    }
}

impl Store {
    pub async fn org(&self, id: i64) -> Result<Option<OrgRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM organisations o WHERE o.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.map(row).transpose()
    }

    pub async fn org_by_name(&self, name: &str) -> Result<Option<OrgRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM organisations o WHERE o.name = $1"))
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        r.map(row).transpose()
    }

    /// Organisations, optionally of one kind, by name.
    pub async fn list_orgs(&self, kind: Option<OrgKind>) -> Result<Vec<OrgRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM organisations o WHERE ($1 = '' OR o.kind = $1) ORDER BY o.kind, o.name"
        ))
        .bind(kind.map(OrgKind::as_str).unwrap_or(""))
        .fetch_all(self.reader())
        .await?;
        rows.into_iter().map(row).collect()
    }
}
