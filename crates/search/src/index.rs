//! The tantivy index's life: opening it (and starting afresh when the schema changed), the one
//! writer, and commits that record the applied catalogue change `seq` as their payload.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tantivy::schema::Schema;
use tantivy::{IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::schema::{self, Fields, SCHEMA_VERSION};
use crate::{analysis, Doc, Result, SearchError};

/// The file beside the index that holds [`SCHEMA_VERSION`].
pub const VERSION_FILE: &str = "pubdata-search.version";
pub(crate) const WRITER_WAIT: Duration = Duration::from_secs(30);
/// Shared by the indexing threads (tantivy uses one per core, each with at least 15 MB).
const WRITER_HEAP_BYTES: usize = 50_000_000;

pub(crate) struct Shared {
    pub index: tantivy::Index,
    pub reader: IndexReader,
    pub fields: Fields,
    pub was_reset: bool,
    seq: AtomicI64,
    /// The opstamp of the commit searches see.
    generation: AtomicU64,
    writer: Mutex<Slot>,
    writer_returned: Condvar,
}

/// The tantivy writer is made on first use and kept: making one starts threads.
enum Slot {
    Free(Option<Box<IndexWriter>>),
    Taken,
}

fn index_error(context: &str) -> impl Fn(tantivy::TantivyError) -> SearchError + '_ {
    move |e| SearchError::Index(format!("{context}: {e}"))
}

fn io_error(context: &str, path: &Path) -> impl Fn(std::io::Error) -> SearchError {
    let context = format!("{context} {}", path.display());
    move |e| SearchError::Index(format!("{context}: {e}"))
}

impl Shared {
    pub fn open(dir: &Path) -> Result<Shared> {
        fs::create_dir_all(dir).map_err(io_error("cannot create the index directory", dir))?;
        let (schema, fields) = schema::build();
        if dir.join("meta.json").exists() {
            if let Some(index) = open_existing(dir, &schema) {
                return Shared::new(index, fields, false);
            }
            wipe(dir)?;
            return Shared::new(create(dir, schema)?, fields, true);
        }
        Shared::new(create(dir, schema)?, fields, false)
    }

    pub fn in_memory() -> Result<Shared> {
        let (schema, fields) = schema::build();
        Shared::new(tantivy::Index::create_in_ram(schema), fields, false)
    }

    fn new(index: tantivy::Index, fields: Fields, was_reset: bool) -> Result<Shared> {
        analysis::warm_up();
        analysis::register(index.tokenizers());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_error("cannot open the index reader"))?;
        let metas = index
            .load_metas()
            .map_err(index_error("cannot read the index metadata"))?;
        let seq = metas.payload.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0);
        Ok(Shared {
            index,
            reader,
            fields,
            was_reset,
            seq: AtomicI64::new(seq),
            generation: AtomicU64::new(metas.opstamp),
            writer: Mutex::new(Slot::Free(None)),
            writer_returned: Condvar::new(),
        })
    }

    pub fn applied_seq(&self) -> i64 {
        self.seq.load(Ordering::SeqCst)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn reload(&self) -> Result<()> {
        self.reader.reload().map_err(index_error("cannot reload the index"))?;
        if let Ok(metas) = self.index.load_metas() {
            if let Some(seq) = metas.payload.as_deref().and_then(|p| p.parse().ok()) {
                self.seq.store(seq, Ordering::SeqCst);
            }
            self.generation.store(metas.opstamp, Ordering::SeqCst);
        }
        Ok(())
    }

    fn slot(&self) -> Result<MutexGuard<'_, Slot>> {
        self.writer
            .lock()
            .map_err(|_| SearchError::Index("the index writer was poisoned by a panic".into()))
    }

    /// Takes the writer, waiting up to `wait` for another holder to give it back.
    pub fn writer(shared: &Arc<Shared>, wait: Duration) -> Result<WriterGuard> {
        let deadline = Instant::now() + wait;
        let mut slot = shared.slot()?;
        loop {
            if let Slot::Free(kept) = &mut *slot {
                let kept = kept.take();
                *slot = Slot::Taken;
                drop(slot);
                let writer = match kept {
                    Some(writer) => writer,
                    None => match shared.index.writer(WRITER_HEAP_BYTES) {
                        Ok(writer) => Box::new(writer),
                        Err(e) => {
                            shared.give_back(None);
                            return Err(index_error("cannot open the index writer")(e));
                        }
                    },
                };
                return Ok(WriterGuard {
                    shared: Arc::clone(shared),
                    writer: Some(writer),
                    dirty: false,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(SearchError::Index(
                    "another index writer is open; try again later".into(),
                ));
            }
            slot = shared
                .writer_returned
                .wait_timeout(slot, deadline - now)
                .map_err(|_| SearchError::Index("the index writer was poisoned by a panic".into()))?
                .0;
        }
    }

    fn give_back(&self, writer: Option<Box<IndexWriter>>) {
        if let Ok(mut slot) = self.writer.lock() {
            *slot = Slot::Free(writer);
        }
        self.writer_returned.notify_one();
    }
}

/// An index of this schema version, or None when it must be rebuilt.
fn open_existing(dir: &Path, schema: &Schema) -> Option<tantivy::Index> {
    let version = fs::read_to_string(dir.join(VERSION_FILE)).ok()?;
    if version.trim().parse::<u32>().ok()? != SCHEMA_VERSION {
        return None;
    }
    let index = tantivy::Index::open_in_dir(dir).ok()?;
    (index.schema() == *schema).then_some(index)
}

fn create(dir: &Path, schema: Schema) -> Result<tantivy::Index> {
    let index = tantivy::Index::create_in_dir(dir, schema).map_err(index_error("cannot create the index"))?;
    let version_file = dir.join(VERSION_FILE);
    fs::write(&version_file, format!("{SCHEMA_VERSION}\n")).map_err(io_error("cannot write", &version_file))?;
    Ok(index)
}

/// Removes the files of an old index, and only those: the directory may hold other things.
fn wipe(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(io_error("cannot list", dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stem = name.split('.').next().unwrap_or("");
        let ours = name == "meta.json"
            || name == VERSION_FILE
            || name.starts_with(".tantivy")
            || name == ".managed.json"
            || (stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()));
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_error("cannot remove", &path))?;
        }
    }
    Ok(())
}

/// The writer while someone holds it; gives it back when dropped, discarding what was not
/// committed.
pub(crate) struct WriterGuard {
    shared: Arc<Shared>,
    writer: Option<Box<IndexWriter>>,
    dirty: bool,
}

impl WriterGuard {
    fn writer(&mut self) -> Result<&mut IndexWriter> {
        self.dirty = true;
        self.writer
            .as_deref_mut()
            .ok_or_else(|| SearchError::Index("the index writer is gone".into()))
    }

    pub fn upsert(&mut self, doc: &Doc) -> Result<()> {
        let document: TantivyDocument = schema::to_document(&self.shared.fields, doc);
        let id = Term::from_field_i64(self.shared.fields.id, doc.id);
        let writer = self.writer()?;
        writer.delete_term(id);
        writer
            .add_document(document)
            .map_err(index_error("cannot add a document"))?;
        Ok(())
    }

    pub fn delete(&mut self, id: i64) -> Result<()> {
        let id = Term::from_field_i64(self.shared.fields.id, id);
        self.writer()?.delete_term(id);
        Ok(())
    }

    pub fn clear(&mut self) -> Result<()> {
        self.writer()?
            .delete_all_documents()
            .map_err(index_error("cannot clear the index"))?;
        Ok(())
    }

    pub fn commit(&mut self, seq: i64) -> Result<()> {
        let writer = self.writer()?;
        let mut prepared = writer.prepare_commit().map_err(index_error("cannot commit"))?;
        prepared.set_payload(&seq.to_string());
        let opstamp = prepared.commit().map_err(index_error("cannot commit"))?;
        self.dirty = false;
        self.shared.seq.store(seq, Ordering::SeqCst);
        self.shared
            .reader
            .reload()
            .map_err(index_error("committed, but cannot reload the reader"))?;
        self.shared.generation.store(opstamp, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        let mut writer = self.writer.take();
        if self.dirty {
            if let Some(w) = writer.as_mut() {
                if w.rollback().is_err() {
                    writer = None;
                }
            }
        }
        self.shared.give_back(writer);
    }
}
