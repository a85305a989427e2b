//! The data API over the datastore: rows of a resource's current data for the provider's and the
//! administration institution's staff, and for consumers as far as their grant or AppKey reaches.

use pubdata_core::application::AccessMethod;
use pubdata_core::metadata::OpenType;
use pubdata_core::user::Role;
use pubdata_core::{DomainError, FieldError};
use pubdata_store::datastore::{DatastoreQuery, Filter, QueryResult};
use pubdata_store::GrantRow;

use crate::{access, resources, Caller, Result, Store, StoreError};

/// Who is asking for rows: the caller's session or token, or an AppKey (which stands for one
/// grant whatever the session).
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    Caller,
    AppKey(&'a str),
}

/// What the caller may read of a resource through the API: everything (the provider's and the
/// administration institution's staff), or what a grant allows; with the table of the
/// resource's current data, when it has one.
async fn api_access(
    store: &Store,
    caller: &Caller,
    resource_id: i64,
    cred: Credential<'_>,
) -> Result<(Option<GrantRow>, Option<String>)> {
    if let Credential::AppKey(key) = cred {
        let grant = access::grant_for_key(store, key).await?;
        if grant.resource_id != resource_id {
            // A key opens its own grant's resource only.
            return Err(DomainError::Forbidden.into());
        }
        if !access::grant_of(&grant).allows(AccessMethod::Api) {
            return Err(DomainError::Conflict {
                code: "api_not_granted",
                field: None,
            }
            .into());
        }
        let table = store
            .remembered(format!("current_table:{resource_id}"), || {
                store.current_datastore_table(resource_id)
            })
            .await?;
        return Ok((Some(grant), table));
    }
    if !caller.actor.is_authenticated() {
        return Err(DomainError::Unauthenticated {
            reason: "login_required",
        }
        .into());
    }
    let found = resources::get_with_table(store, caller, resource_id).await?;
    let (r, table) = &*found;
    let staff = caller.actor.memberships.iter().any(|m| {
        m.role.is_staff()
            && (m.org_id == Some(r.row.provider_org_id) || matches!(m.role, Role::AdminManager | Role::AdminReviewer))
    });
    if staff {
        return Ok((None, table.clone()));
    }
    let grant = access::grant_for(store, caller, resource_id, AccessMethod::Api)
        .await
        .map_err(|e| match e {
            StoreError::Domain(DomainError::Conflict { .. }) => DomainError::Conflict {
                code: if r.meta.open_type == OpenType::Unconditional {
                    "terms_required"
                } else {
                    "grant_required"
                },
                field: None,
            }
            .into(),
            other => other,
        })?;
    Ok((Some(grant), table.clone()))
}

/// Narrows a query to a grant: only its fields (all when it names none) and only the rows its
/// filters allow, on top of the caller's own filters. A field outside the grant is refused.
fn restrict(query: &DatastoreQuery, grant: &GrantRow) -> Result<DatastoreQuery> {
    let g = access::grant_of(grant);
    let mut q = query.clone();
    let outside = |name: &str| !g.allows_field(name);
    let named = q
        .fields
        .iter()
        .chain(q.filters.iter().map(|f| &f.field))
        .chain(q.sort.iter().map(|(f, _)| f));
    for name in named {
        if outside(name) {
            return Err(DomainError::Validation(vec![FieldError::new(name, "field_not_granted")]).into());
        }
    }
    if q.fields.is_empty() {
        if let Some(fields) = &g.fields {
            q.fields = fields.clone();
        }
    }
    q.filters.extend(g.filters.iter().map(|f| Filter {
        field: f.field.clone(),
        op: f.op,
        value: f.value.clone(),
    }));
    Ok(q)
}

/// Rows of the resource's current data (its newest ingested file) under the query, as far as
/// the caller's access reaches.
pub async fn rows(
    store: &Store,
    caller: &Caller,
    resource_id: i64,
    query: &DatastoreQuery,
    cred: Credential<'_>,
) -> Result<QueryResult> {
    Ok(rows_with_grant(store, caller, resource_id, query, cred).await?.0)
}

/// [`rows`], with the grant the rows were read under (none for staff), for counting calls.
pub async fn rows_with_grant(
    store: &Store,
    caller: &Caller,
    resource_id: i64,
    query: &DatastoreQuery,
    cred: Credential<'_>,
) -> Result<(QueryResult, Option<i64>)> {
    let (grant, table) = api_access(store, caller, resource_id, cred).await?;
    let query = match &grant {
        Some(g) => restrict(query, g)?,
        None => query.clone(),
    };
    let table = table.ok_or(DomainError::NotFound { what: "datastore" })?;
    let result = store.query_datastore(&table, &query).await?;
    Ok((result, grant.map(|g| g.id)))
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
