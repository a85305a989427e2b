//! Keeping the search index (检索) in step with the catalogue: full rebuilds, and following the
//! catalogue change log so that every node — after a restart too — catches up on its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pubdata_core::{DomainError, FieldError};
use pubdata_search::{Doc, Index, Query, Results, SearchError};
use pubdata_store::{now_ms, OrgRow};

use crate::published::{self, Published};
use crate::{Result, Store, StoreError};

/// How often a following node rebuilds its index to bring download counts up to date.
const RECOUNT_EVERY: Duration = Duration::from_secs(3600);

/// Resources read per batch of a rebuild.
const BATCH: i64 = 500;

/// A change not yet seen after this long is taken to belong to a transaction that rolled back;
/// until then a gap in the log's numbers may be a transaction that has not committed yet.
const GAP_WAIT_MS: i64 = 30_000;

/// What the index holds of a published resource.
pub fn doc(p: &Published) -> Doc {
    let m = &p.resource.meta;
    let row = &p.resource.row;
    Doc {
        id: row.id,
        code: row.code.clone(),
        title: m.title.clone(),
        title_en: m.title_en.clone().unwrap_or_default(),
        summary: m.summary.clone(),
        tags: m.tags.clone(),
        fields: m
            .fields
            .iter()
            .flat_map(|f| [f.name.clone(), f.title.clone()])
            .filter(|s| !s.is_empty())
            .collect(),
        provider: p.provider.name.clone(),
        provider_key: p.provider_key(),
        domain: m.domain.key().to_string(),
        open_type: m.open_type.as_str().to_string(),
        formats: p.formats(),
        update_frequency: m.update_frequency.as_str().to_string(),
        region: m.spatial.clone().unwrap_or_default(),
        licence: m.licence.clone(),
        published_at: row.published_at.unwrap_or(row.updated_at),
        updated_at: row.updated_at,
        downloads: 0,
        row_count: p.row_count(),
    }
}

fn index_error(e: SearchError) -> StoreError {
    match e {
        SearchError::Query(reason) => {
            DomainError::Validation(vec![FieldError::new("q", "search_query_invalid").with("reason", reason)]).into()
        }
        SearchError::Index(e) => StoreError::Other(format!("search index: {e}")),
    }
}

/// Searches the index; a query the index cannot take is a validation error on `q`.
pub fn search(index: &Index, query: &Query) -> Result<Results> {
    index.search(query).map_err(index_error)
}

/// Fills in how often each resource was downloaded, for the "most downloaded" order.
async fn with_downloads(store: &Store, mut docs: Vec<Doc>) -> Result<Vec<Doc>> {
    let ids: Vec<i64> = docs.iter().map(|d| d.id).collect();
    let counts: HashMap<i64, i64> = store.download_counts(&ids).await?.into_iter().collect();
    for d in &mut docs {
        d.downloads = counts.get(&d.id).copied().unwrap_or(0).max(0) as u64;
    }
    Ok(docs)
}

enum Op {
    Upsert(Box<Doc>),
    Delete(i64),
}

/// Applies the operations and records `seq`, off the async threads (indexing is CPU work).
async fn apply(index: &Index, ops: Vec<Op>, seq: i64, clear: bool) -> Result<()> {
    let index = index.clone();
    tokio::task::spawn_blocking(move || -> std::result::Result<(), SearchError> {
        let mut w = index.writer()?;
        if clear {
            w.clear()?;
        }
        for op in &ops {
            match op {
                Op::Upsert(d) => w.upsert(d)?,
                Op::Delete(id) => w.delete(*id)?,
            }
        }
        w.commit(seq)
    })
    .await
    .map_err(|e| StoreError::Other(format!("indexing task failed: {e}")))?
    .map_err(index_error)
}

async fn providers(store: &Store) -> Result<HashMap<i64, OrgRow>> {
    Ok(store.list_orgs(None).await?.into_iter().map(|o| (o.id, o)).collect())
}

/// Rebuilds the index from the store: every published resource. Returns how many were indexed.
/// The change log's head is read first, so changes made during the rebuild are applied after.
pub async fn rebuild(store: &Store, index: &Index) -> Result<usize> {
    let head = store.catalogue_head().await?;
    let providers = providers(store).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Doc>>(4);
    let writer_index = index.clone();
    // One writer owns the index for the whole rebuild; readers see the old index until commit.
    let writer = tokio::task::spawn_blocking(move || -> std::result::Result<usize, SearchError> {
        let mut w = writer_index.writer()?;
        w.clear()?;
        let mut n = 0;
        while let Some(docs) = rx.blocking_recv() {
            for d in &docs {
                w.upsert(d)?;
            }
            n += docs.len();
        }
        w.commit(head)?;
        Ok(n)
    });
    let mut after = 0;
    loop {
        let batch = published::batch(store, after, BATCH, &providers).await?;
        let Some(last) = batch.last() else { break };
        after = last.resource.row.id;
        let docs = with_downloads(store, batch.iter().map(doc).collect()).await?;
        if tx.send(docs).await.is_err() {
            break; // the writer stopped; its error is reported below
        }
    }
    drop(tx);
    writer
        .await
        .map_err(|e| StoreError::Other(format!("indexing task failed: {e}")))?
        .map_err(index_error)
}

/// Applies the catalogue changes made since the index's last commit. Returns how many were read.
pub async fn sync(store: &Store, index: &Index) -> Result<usize> {
    let mut seen = 0;
    loop {
        let from = index.applied_seq();
        let changes = store.catalogue_changes_after(from, BATCH).await?;
        if changes.is_empty() {
            return Ok(seen);
        }
        // The safe point: every change up to it has been applied. A gap in the numbers may be a
        // transaction still committing on another node, so the safe point stops before a recent
        // gap and the changes after it are applied again on the next pass (applying is idempotent).
        let mut safe = from;
        let mut gap = false;
        let mut ids: Vec<i64> = Vec::new();
        for c in &changes {
            if !gap && c.seq != safe + 1 && now_ms() - c.at < GAP_WAIT_MS {
                gap = true;
            }
            if !gap {
                safe = c.seq;
            }
            if !ids.contains(&c.resource_id) {
                ids.push(c.resource_id);
            }
        }
        let mut docs = Vec::with_capacity(ids.len());
        let mut ops = Vec::with_capacity(ids.len());
        for id in ids {
            match published::by_id(store, id).await {
                Ok(p) => docs.push(doc(&p)),
                Err(StoreError::Domain(DomainError::NotFound { .. })) => ops.push(Op::Delete(id)),
                Err(e) => return Err(e),
            }
        }
        ops.extend(
            with_downloads(store, docs)
                .await?
                .into_iter()
                .map(|d| Op::Upsert(Box::new(d))),
        );
        seen += changes.len();
        let full = changes.len() as i64 == BATCH;
        apply(index, ops, safe, false).await?;
        if gap || !full {
            return Ok(seen);
        }
    }
}

/// A node's search index with the gate that lets one sync or rebuild run at a time.
#[derive(Clone)]
pub struct Catalogue {
    pub index: Index,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl Catalogue {
    pub fn new(index: Index) -> Catalogue {
        Catalogue {
            index,
            gate: Default::default(),
        }
    }

    /// Applies the changes made since the index's last commit.
    pub async fn sync(&self, store: &Store) -> Result<usize> {
        let _one = self.gate.lock().await;
        sync(store, &self.index).await
    }

    /// Rebuilds the whole index from the store.
    pub async fn rebuild(&self, store: &Store) -> Result<usize> {
        let _one = self.gate.lock().await;
        rebuild(store, &self.index).await
    }

    /// After a change on this node: brings the index up to date so the change is searchable at
    /// once. A failure is logged, not returned — the change itself has been made, and the
    /// follower will index it.
    pub async fn refresh(&self, store: &Store) {
        if let Err(e) = self.sync(store).await {
            tracing::warn!("search index sync failed: {e}");
        }
    }

    /// Follows the change log for as long as the server runs: a rebuild first when the index
    /// is new (or was reset for a new schema), then a sync every `every`.
    pub async fn follow(self, store: Store, every: Duration) {
        if self.index.applied_seq() == 0 && self.index.num_docs() == 0 {
            match self.rebuild(&store).await {
                Ok(n) => tracing::info!("search index built: {n} resources"),
                Err(e) => tracing::warn!("search index rebuild failed: {e}"),
            }
        }
        // Download counts change without catalogue changes: a rebuild now and then (seconds
        // for 100,000 resources) keeps the "most downloaded" order current.
        let mut last_rebuild = std::time::Instant::now();
        loop {
            if last_rebuild.elapsed() >= RECOUNT_EVERY {
                if let Err(e) = self.rebuild(&store).await {
                    tracing::warn!("search index rebuild failed: {e}");
                }
                last_rebuild = std::time::Instant::now();
            }
            self.refresh(&store).await;
            tokio::time::sleep(every).await;
        }
    }
}
