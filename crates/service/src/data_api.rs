//! The data API over the datastore: rows of a resource's current data for logged-in callers.
//! Grants and AppKeys (issue 5) will narrow who may read what; the check lives here.

use pubdata_core::DomainError;
use pubdata_store::datastore::{DatastoreQuery, QueryResult};

use crate::{resources, Caller, Result, Store};

/// Rows of the resource's current data (its newest ingested file) under the query.
pub async fn rows(store: &Store, caller: &Caller, resource_id: i64, query: &DatastoreQuery) -> Result<QueryResult> {
    if !caller.actor.is_authenticated() {
        return Err(DomainError::Unauthenticated {
            reason: "login_required",
        }
        .into());
    }
    resources::get(store, caller, resource_id).await?;
    let dists = store.distributions(resource_id).await?;
    let table = crate::ingest::current_file(&dists)
        .and_then(|d| d.datastore_table.clone())
        .ok_or(DomainError::NotFound { what: "datastore" })?;
    store.query_datastore(&table, query).await
}

/// The first rows of a published resource's current data, for its public page: shown to anyone
/// for unconditional (无条件开放) data, and not at all for conditional data, which leaves the
/// platform only under a grant.
pub async fn preview(store: &Store, p: &crate::published::Published, limit: u64) -> Result<Option<QueryResult>> {
    if p.resource.meta.open_type != pubdata_core::metadata::OpenType::Unconditional {
        return Ok(None);
    }
    let Some(table) = crate::ingest::current_file(&p.dists).and_then(|d| d.datastore_table.clone()) else {
        return Ok(None);
    };
    let query = DatastoreQuery {
        limit,
        ..Default::default()
    };
    store.query_datastore(&table, &query).await.map(Some)
}
