//! Values read on every call — an AppKey's grant, an API token's user (for every request made
//! with a token), a consumer's grants on a resource, a resource with its current table —
//! remembered briefly, so that a call does not repeat those queries.
//!
//! Every write transaction this process commits forgets all of them at once (an epoch counter),
//! so within one node a revoked key, token or grant is refused on the next call. What another
//! process changes (another node on PostgreSQL, the CLI on the same SQLite file) goes unseen for
//! at most [`HOT_TTL`].

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Result, Store};

/// How long a remembered value is used without reading the database again: the bound on how
/// long a change made by another process (e.g. a revocation on another node) goes unseen here.
pub const HOT_TTL: Duration = Duration::from_secs(2);

/// Entries kept at most; past it the cache starts over (unknown keys cannot grow it forever).
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Default)]
pub(crate) struct HotCache(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// Bumped after every committed write transaction: entries read before it are stale.
    epoch: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    epoch: u64,
    at: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

impl HotCache {
    fn epoch(&self) -> u64 {
        self.0.epoch.load(Ordering::Acquire)
    }

    /// Forgets every entry; called once a write transaction has committed.
    pub(crate) fn forget_all(&self) {
        self.0.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.0.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get<V: Clone + 'static>(&self, key: &str) -> Option<V> {
        let epoch = self.epoch();
        let entries = self.entries();
        let e = entries.get(key)?;
        if e.epoch != epoch || e.at.elapsed() >= HOT_TTL {
            return None;
        }
        e.value.downcast_ref::<V>().cloned()
    }

    /// Keeps a value read at `epoch`, unless a write committed since (then it may be stale).
    fn put<V: Send + Sync + 'static>(&self, epoch: u64, key: String, value: V) {
        let mut entries = self.entries();
        if self.epoch() != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let value = Arc::new(value);
        entries.insert(
            key,
            Entry {
                epoch,
                at: Instant::now(),
                value,
            },
        );
    }
}

impl Store {
    /// The value `load` reads, remembered under `key` for [`HOT_TTL`] or until this process
    /// commits a write, whichever comes first. Errors are not remembered. Keys name what they
    /// hold (`"app_key:<hash>"`); a value of another type under the same key is read again.
    pub async fn remembered<V, F, Fut>(&self, key: String, load: F) -> Result<V>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        if let Some(v) = self.hot.get::<V>(&key) {
            return Ok(v);
        }
        // Taken before the read: a write committing during it makes the value unkept.
        let epoch = self.hot.epoch();
        let v = load().await?;
        self.hot.put(epoch, key, v.clone());
        Ok(v)
    }
}

impl Store {
    /// Like [`Store::remembered`] for a lookup by a key that may find nothing (a token, an
    /// AppKey, an id from a URL): only what was found is kept, so a flood of unknown keys
    /// neither fills the cache nor pushes out what is in it.
    pub async fn remembered_found<V, F, Fut>(&self, key: String, load: F) -> Result<Option<V>>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>>>,
    {
        if let Some(v) = self.hot.get::<V>(&key) {
            return Ok(Some(v));
        }
        let epoch = self.hot.epoch();
        let v = load().await?;
        if let Some(v) = &v {
            self.hot.put(epoch, key, v.clone());
        }
        Ok(v)
    }

    /// How many values are remembered now (for tests).
    #[doc(hidden)]
    pub fn remembered_count(&self) -> usize {
        self.hot.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_forgets_and_a_value_read_before_it_is_not_kept() {
        let c = HotCache::default();
        c.put(c.epoch(), "a".into(), 1u32);
        assert_eq!(c.get::<u32>("a"), Some(1));
        assert_eq!(c.get::<String>("a"), None, "another type is not returned");
        c.forget_all();
        assert_eq!(c.get::<u32>("a"), None);
        let before = c.epoch();
        c.forget_all();
        c.put(before, "b".into(), 2u32);
        assert_eq!(c.get::<u32>("b"), None);
    }
}
