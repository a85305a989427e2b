//! The public view of the catalogue (开放目录): published resources with their provider and
//! the data they offer, as the dataset pages, CKAN, DCAT and data packages all show them.

use pubdata_core::resource::ResourceState;
use pubdata_core::DomainError;
use pubdata_store::{DistributionRow, OrgRow, ResourceFilter};

use crate::resources::{self, Resource};
use crate::{Result, Store, StoreError};

/// A published resource as the public sees it.
#[derive(Debug, Clone)]
pub struct Published {
    pub resource: Resource,
    pub provider: OrgRow,
    /// Data offered now: loaded files and APIs in the `ready` state, newest version first.
    pub dists: Vec<DistributionRow>,
}

impl Published {
    /// The resource's public name in URLs and in CKAN: its code in lower case.
    pub fn name(&self) -> String {
        name_of(&self.resource.row.code)
    }

    /// The provider's public key (CKAN's organisation name): its organisation code in lower case.
    pub fn provider_key(&self) -> String {
        provider_key(&self.provider)
    }

    /// Formats offered, upper case, sorted, without repeats: `CSV`, `XLSX`, `API`.
    pub fn formats(&self) -> Vec<String> {
        let mut f: Vec<String> = self.dists.iter().map(format_of).filter(|f| !f.is_empty()).collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// Rows of the current loaded file, when there is one.
    pub fn row_count(&self) -> Option<i64> {
        crate::ingest::current_file(&self.dists).and_then(|d| d.row_count)
    }
}

/// A distribution's format: the file's extension in capitals, or `API`.
pub fn format_of(d: &DistributionRow) -> String {
    match (&d.kind[..], &d.filename) {
        ("api", _) => "API".to_string(),
        (_, Some(name)) => name.rsplit_once('.').map(|(_, e)| e.to_uppercase()).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The public name for a resource code.
pub fn name_of(code: &str) -> String {
    code.to_ascii_lowercase()
}

/// The public key of a provider: the 9-character organisation code inside its credit code.
pub fn provider_key(org: &OrgRow) -> String {
    org.credit_code
        .get(8..17)
        .unwrap_or(&org.credit_code)
        .to_ascii_lowercase()
}

fn not_found() -> StoreError {
    DomainError::NotFound { what: "resource" }.into()
}

async fn assemble(store: &Store, resource: Resource) -> Result<Published> {
    let provider = store.org(resource.row.provider_org_id).await?.ok_or_else(not_found)?;
    let dists = store
        .distributions(resource.row.id)
        .await?
        .into_iter()
        .filter(|d| d.state == "ready")
        .collect();
    Ok(Published {
        resource,
        provider,
        dists,
    })
}

/// The published resource with this id; not found when it is not public.
pub async fn by_id(store: &Store, id: i64) -> Result<Published> {
    let row = store.resource(id).await?.ok_or_else(not_found)?;
    let resource = resources::parse(row)?;
    if !resource.status.is_public() {
        return Err(not_found());
    }
    assemble(store, resource).await
}

/// The published resource with this public name (or code, in any case).
pub async fn by_name(store: &Store, name: &str) -> Result<Published> {
    let row = store
        .resource_by_code(&name.to_ascii_uppercase())
        .await?
        .ok_or_else(not_found)?;
    by_id(store, row.id).await
}

/// Published resources, most recently updated first, a page at a time.
pub async fn list(store: &Store, limit: i64, offset: i64) -> Result<Vec<Published>> {
    let rows = store
        .list_resources(&ResourceFilter {
            state: Some(ResourceState::Published.as_str()),
            limit,
            offset,
            ..Default::default()
        })
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(assemble(store, resources::parse(row)?).await?);
    }
    Ok(out)
}

/// How many resources are published.
pub async fn count(store: &Store) -> Result<i64> {
    store.count_resources(Some(ResourceState::Published.as_str())).await
}

/// Published resources with ids after `after_id`, in id order, read in three queries however
/// many there are: the batches of a full reindex. `providers` holds every provider by id.
pub async fn batch(
    store: &Store,
    after_id: i64,
    limit: i64,
    providers: &std::collections::HashMap<i64, OrgRow>,
) -> Result<Vec<Published>> {
    let rows = store.published_after(after_id, limit).await?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Vec::new());
    };
    let mut dists: std::collections::HashMap<i64, Vec<DistributionRow>> = std::collections::HashMap::new();
    for d in store.ready_distributions_between(first.id, last.id).await? {
        dists.entry(d.resource_id).or_default().push(d);
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let resource = resources::parse(row)?;
        let provider = providers
            .get(&resource.row.provider_org_id)
            .cloned()
            .ok_or_else(not_found)?;
        let dists = dists.remove(&resource.row.id).unwrap_or_default();
        out.push(Published {
            resource,
            provider,
            dists,
        });
    }
    Ok(out)
}

/// The published resources with these ids, in the order given; ids no longer public are left
/// out. Three queries plus one per distinct provider, whatever the number of ids.
pub async fn many(store: &Store, ids: &[i64]) -> Result<Vec<Published>> {
    use std::collections::HashMap;
    let mut rows: HashMap<i64, _> = store
        .resources_by_ids(ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut dists: HashMap<i64, Vec<DistributionRow>> = HashMap::new();
    for d in store.ready_distributions_of(ids).await? {
        dists.entry(d.resource_id).or_default().push(d);
    }
    let mut providers: HashMap<i64, OrgRow> = HashMap::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(row) = rows.remove(id) else { continue };
        let resource = resources::parse(row)?;
        if !resource.status.is_public() {
            continue;
        }
        let org_id = resource.row.provider_org_id;
        let provider = match providers.get(&org_id) {
            Some(org) => org.clone(),
            None => {
                let org = store.org(org_id).await?.ok_or_else(not_found)?;
                providers.insert(org_id, org.clone());
                org
            }
        };
        out.push(Published {
            provider,
            dists: dists.remove(id).unwrap_or_default(),
            resource,
        });
    }
    Ok(out)
}
