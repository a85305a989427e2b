//! What the CKAN Action API reads that takes several store calls: the names of the whole
//! published catalogue, and a distribution with its resource and its datastore rows.

use pubdata_core::field::FieldType;
use pubdata_core::resource::ResourceState;
use pubdata_core::DomainError;
use pubdata_store::datastore::{DatastoreQuery, QueryResult};
use pubdata_store::{DistributionRow, ResourceFilter};

use crate::published::{self, Published};
use crate::{Caller, Result, Store};

/// Rows read per query when walking the whole catalogue.
const PAGE: i64 = 500;

/// The public names of all published resources, in name order.
pub async fn names(store: &Store) -> Result<Vec<String>> {
    let mut names = Vec::new();
    loop {
        let rows = store
            .list_resources(&ResourceFilter {
                state: Some(ResourceState::Published.as_str()),
                limit: PAGE,
                offset: names.len() as i64,
                ..Default::default()
            })
            .await?;
        let done = (rows.len() as i64) < PAGE;
        names.extend(rows.iter().map(|r| published::name_of(&r.code)));
        if done {
            break;
        }
    }
    names.sort_unstable();
    // A resource updated while the pages were read may have moved into a later page.
    names.dedup();
    Ok(names)
}

/// A distribution offered now by a published resource, with that resource.
pub async fn distribution(store: &Store, dist_id: i64) -> Result<(Published, DistributionRow)> {
    let not_found = || DomainError::NotFound { what: "distribution" };
    let dist = store.distribution(dist_id).await?.ok_or_else(not_found)?;
    let p = published::by_id(store, dist.resource_id)
        .await
        .map_err(|_| not_found())?;
    let dist = p
        .dists
        .iter()
        .find(|d| d.id == dist_id)
        .cloned()
        .ok_or_else(not_found)?;
    Ok((p, dist))
}

/// The distribution whose rows the datastore holds now: the resource's current loaded file.
pub fn is_datastore_active(p: &Published, dist: &DistributionRow) -> bool {
    crate::ingest::current_file(&p.dists).is_some_and(|d| d.id == dist.id && d.datastore_table.is_some())
}

/// Rows of a published distribution's table through the data API, with each column's type.
pub struct DatastoreRead {
    pub result: QueryResult,
    /// Every column of the table, in order, with its type.
    pub columns: Vec<(String, FieldType)>,
}

/// Reads rows of the distribution's table under the data API's access rule. Only the current
/// file of a published resource has a table to read.
pub async fn datastore(store: &Store, caller: &Caller, dist_id: i64, query: &DatastoreQuery) -> Result<DatastoreRead> {
    let (p, dist) = distribution(store, dist_id).await?;
    if !is_datastore_active(&p, &dist) {
        return Err(DomainError::NotFound { what: "datastore" }.into());
    }
    let result = crate::data_api::rows(
        store,
        caller,
        p.resource.row.id,
        query,
        crate::data_api::Credential::Caller,
    )
    .await?;
    let table = dist.datastore_table.as_deref().unwrap_or_default();
    let columns = store
        .datastore_columns(table)
        .await?
        .into_iter()
        .map(|c| (c.name, c.field_type))
        .collect();
    Ok(DatastoreRead { result, columns })
}
