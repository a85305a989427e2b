//! 数据接收标准 — the acceptance standards in force (versioned; every change audited), and how
//! a resource fares against them: at submission (every failing rule refuses it) and on the
//! review page (each rule with pass or fail).

use pubdata_core::acceptance::{self, AcceptanceInput, AcceptanceRules, RuleResult};
use pubdata_core::metadata::ResourceMeta;
use pubdata_core::resource::ResourceState;
use pubdata_core::user::Role;
use pubdata_core::DomainError;
use pubdata_store::{now_ms, AcceptanceRow, DistributionRow};
use serde::Serialize;
use serde_json::json;

use crate::interaction::is_admin;
use crate::resources::{unresolved_privacy, Resource};
use crate::{Caller, Result, Store, StoreError};

/// The standards in force and where they come from.
#[derive(Debug, Clone, Serialize)]
pub struct Standard {
    /// 0 for the built-in defaults (never changed).
    pub version: i64,
    pub rules: AcceptanceRules,
    pub changed_by: Option<String>,
    pub changed_at: Option<i64>,
}

fn standard_of(row: AcceptanceRow) -> Standard {
    Standard {
        version: row.version,
        // A stored version that no longer reads falls back to the defaults' values key by key.
        rules: serde_json::from_value(row.rules).unwrap_or_default(),
        changed_by: row.changed_by_name,
        changed_at: Some(row.changed_at),
    }
}

/// The standards in force (anyone may know what submissions must meet).
pub async fn current(store: &Store) -> Result<Standard> {
    Ok(match store.acceptance_standard().await? {
        Some(row) => standard_of(row),
        None => Standard {
            version: 0,
            rules: AcceptanceRules::default(),
            changed_by: None,
            changed_at: None,
        },
    })
}

/// Who sets the standards: the administration institution's manager (and the sysadmin).
pub fn may_edit(caller: &Caller) -> bool {
    caller.actor.has_role(Role::AdminManager) || caller.actor.sysadmin
}

/// Every version, newest first: the administration institution's staff only.
pub async fn history(store: &Store, caller: &Caller) -> Result<Vec<Standard>> {
    if !(is_admin(caller) || caller.actor.sysadmin) {
        return Err(DomainError::Forbidden.into());
    }
    Ok(store.acceptance_history().await?.into_iter().map(standard_of).collect())
}

/// Sets new standards: a new version, audited with the old and new rules in one transaction.
pub async fn update(store: &Store, caller: &Caller, rules: AcceptanceRules) -> Result<Standard> {
    if !may_edit(caller) {
        return Err(DomainError::Forbidden.into());
    }
    let rules = rules.validated()?;
    let before = current(store).await?;
    let value = serde_json::to_value(&rules).map_err(|e| StoreError::Other(e.to_string()))?;
    let at = now_ms();
    let mut tx = store.begin().await?;
    let version = tx.insert_acceptance_standard(&value, caller.actor.user_id, at).await?;
    let mut e = caller.audit("acceptance.update", "acceptance_standards", version);
    e.before = Some(json!({"version": before.version, "rules": before.rules}));
    e.after = Some(json!({"version": version, "rules": value}));
    tx.audit(e).await?;
    tx.commit().await?;
    current(store).await
}

/// A loaded table or an API among the current distributions: what 规范性 counts as an open
/// machine-readable format (loaded CSV, XLSX and JSON files are served as UTF-8 CSV).
fn offers_open_format(dists: &[DistributionRow]) -> bool {
    dists
        .iter()
        .filter(|d| d.state == "ready")
        .any(|d| d.kind == "api" || (d.kind == "file" && d.report.is_some()))
}

/// The metadata a submission or review is about: a revision's working copy, else the resource's.
pub fn submitted_meta(r: &Resource) -> &ResourceMeta {
    match (&r.revision, r.status.state) {
        (Some(rev), ResourceState::Published) => rev,
        _ => &r.meta,
    }
}

/// Every enabled rule with how the resource (as it would be submitted) fares.
pub async fn evaluate(
    store: &Store,
    rules: &AcceptanceRules,
    r: &Resource,
    dists: &[DistributionRow],
) -> Result<Vec<RuleResult>> {
    let mut as_submitted = r.clone();
    as_submitted.meta = submitted_meta(r).clone();
    let q = crate::quality::score(store, &as_submitted, crate::quality::today()).await?;
    let input = AcceptanceInput {
        meta: &as_submitted.meta,
        scores: &q.scores,
        open_format: offers_open_format(dists),
        unresolved_privacy: unresolved_privacy(dists),
    };
    Ok(acceptance::evaluate(rules, &input))
}

/// The check of one resource against the standards in force, for its provider's staff and the
/// administration institution (a reviewer sees it beside the review checklist).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub version: i64,
    pub results: Vec<RuleResult>,
    pub passed: bool,
}

pub async fn check_resource(store: &Store, caller: &Caller, id: i64) -> Result<Check> {
    let r = crate::resources::get(store, caller, id).await?;
    let staff = caller
        .actor
        .memberships
        .iter()
        .any(|m| m.org_id == Some(r.row.provider_org_id) && m.role.is_staff());
    if !(staff || is_admin(caller)) {
        // The published resource is public, but how it fares against the standards is not.
        return Err(DomainError::Forbidden.into());
    }
    let standard = current(store).await?;
    let dists = store.distributions(id).await?;
    let results = evaluate(store, &standard.rules, &r, &dists).await?;
    Ok(Check {
        version: standard.version,
        passed: results.iter().all(|x| x.pass),
        results,
    })
}
