//! `pubdata export` and `pubdata import`: a portable directory with all of a platform's state —
//! every table as canonical JSON lines, every stored file, the masking key — and loading it into
//! another deployment, e.g. from the embedded SQLite default to PostgreSQL + S3.
//!
//! The directory: `manifest.json` (written last, so a partial export is never taken for a
//! whole one), `tables/<table>.jsonl`, `files/<key>` and `mask.key`.

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use pubdata_server::Config;
use pubdata_store::dump::{Sums, TableSchema};
use pubdata_store::{FileStore, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const FORMAT: &str = "pubdata-export";
const FORMAT_VERSION: u32 = 1;
/// Rows per INSERT batch on import.
const BATCH: usize = 2_000;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub pubdata_version: String,
    /// The newest database migration of the exporting platform; the importer must match it.
    pub schema_version: i64,
    pub source_backend: String,
    pub created_at_ms: i64,
    pub tables: Vec<TableEntry>,
    pub files: FilesEntry,
    /// Whether `mask.key` (the masking and watermark secret) is in the export.
    pub mask_key: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    #[serde(flatten)]
    pub schema: TableSchema,
    pub file: String,
    pub rows: u64,
    /// sha256 of the table's canonical dump (the bytes of `file`).
    pub sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FilesEntry {
    pub count: u64,
    pub bytes: u64,
    pub objects: Vec<ObjectEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectEntry {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

pub async fn export(config: &Config, to: &Path) -> anyhow::Result<()> {
    if to.exists() && fs::read_dir(to)?.next().is_some() {
        bail!("{} is not empty: export into a new directory", to.display());
    }
    let store = crate::open_store(config).await?;
    let files = config.file_store()?;
    fs::create_dir_all(to.join("tables")).with_context(|| format!("cannot create {}", to.display()))?;

    let mut reader = store.dump_reader().await?;
    let schema_version = reader.schema_version().await?;
    let mut tables = Vec::new();
    for schema in reader.tables().await? {
        let file = format!("tables/{}.jsonl", schema.name);
        let path = to.join(&file);
        let mut out =
            BufWriter::new(fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?);
        let mut hasher = Sha256::new();
        let rows = reader
            .rows(&schema, |line| {
                hasher.update(line);
                out.write_all(line)
                    .map_err(|e| pubdata_store::StoreError::Other(format!("{}: {e}", path.display())))
            })
            .await?;
        out.flush()?;
        tables.push(TableEntry {
            schema,
            file,
            rows,
            sha256: hex::encode(hasher.finalize()),
        });
    }
    // The objects the snapshot's rows refer to: written before the rows that name them were
    // committed, so all are there unless deleted since (then the export fails: run it again).
    let keys = reader.referenced_files().await?;
    reader.finish().await?;

    let objects = export_files(&files, &to.join("files"), keys).await?;
    let mask = config.data_dir.join("mask.key");
    let mask_key = mask.exists();
    if mask_key {
        copy_secret(&mask, &to.join("mask.key"))?;
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        pubdata_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        source_backend: backend_name(&store).into(),
        created_at_ms: pubdata_store::now_ms(),
        files: FilesEntry {
            count: objects.len() as u64,
            bytes: objects.iter().map(|o| o.size).sum(),
            objects,
        },
        tables,
        mask_key,
    };
    let tmp = to.join("manifest.json.tmp");
    fs::write(&tmp, serde_json::to_vec_pretty(&manifest)?)?;
    fs::rename(&tmp, to.join("manifest.json"))?;
    println!(
        "exported {} tables ({} rows) and {} files ({} bytes) to {}",
        manifest.tables.len(),
        manifest.tables.iter().map(|t| t.rows).sum::<u64>(),
        manifest.files.count,
        manifest.files.bytes,
        to.display()
    );
    Ok(())
}

fn backend_name(store: &Store) -> &'static str {
    match store.backend() {
        pubdata_store::Backend::Sqlite => "sqlite",
        pubdata_store::Backend::Postgres => "postgres",
    }
}

fn copy_secret(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(to, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Where an object's key lands under `files/`; keys with `..` or absolute parts are refused.
fn object_path(dir: &Path, key: &str) -> anyhow::Result<PathBuf> {
    let mut path = dir.to_path_buf();
    for part in key.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            bail!("object key {key:?} cannot be stored as a file");
        }
        path.push(part);
    }
    Ok(path)
}

async fn export_files(files: &FileStore, dir: &Path, keys: Vec<String>) -> anyhow::Result<Vec<ObjectEntry>> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    for key in keys {
        let path = object_path(dir, &key)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = BufWriter::new(fs::File::create(&path)?);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut stream = files.read_stream(&key).await.with_context(|| {
            format!(
                "the file {key} that the database refers to cannot be read (deleted during the export? run it again)"
            )
        })?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk)?;
        }
        file.flush()?;
        out.push(ObjectEntry {
            key,
            size,
            sha256: hex::encode(hasher.finalize()),
        });
    }
    Ok(out)
}

/// The sha256 and line count of a file.
fn hash_file(path: &Path) -> anyhow::Result<(String, u64, u64)> {
    let mut f = fs::File::open(path).with_context(|| format!("{} is missing", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let (mut size, mut lines) = (0u64, 0u64);
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok((hex::encode(hasher.finalize()), size, lines))
}

/// Reads and checks an export directory: the manifest, then every table and file against it.
pub fn read_export(from: &Path) -> anyhow::Result<Manifest> {
    if !from.is_dir() {
        bail!(
            "{} is not a directory: give the directory `pubdata export --to` wrote",
            from.display()
        );
    }
    let path = from.join("manifest.json");
    let text = fs::read(&path).map_err(|e| {
        anyhow!(
            "{} cannot be read ({e}): not a complete export (the manifest is written last)",
            path.display()
        )
    })?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| anyhow!("{} is corrupt: {e}", path.display()))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        bail!(
            "{} is format {:?} version {}; this pubdata reads {FORMAT:?} version {FORMAT_VERSION}",
            path.display(),
            manifest.format,
            manifest.format_version
        );
    }
    for t in &manifest.tables {
        if t.file != format!("tables/{}.jsonl", t.schema.name) {
            bail!(
                "{}: table {} names an unexpected file {:?}",
                path.display(),
                t.schema.name,
                t.file
            );
        }
        let (sha, _, lines) = hash_file(&from.join(&t.file))?;
        if sha != t.sha256 || lines != t.rows {
            bail!(
                "{} does not match the manifest (checksum or row count differs): the export is damaged",
                t.file
            );
        }
    }
    for o in &manifest.files.objects {
        let (sha, size, _) = hash_file(&object_path(&from.join("files"), &o.key)?)?;
        if sha != o.sha256 || size != o.size {
            bail!(
                "files/{} does not match the manifest (checksum differs): the export is damaged",
                o.key
            );
        }
    }
    if manifest.mask_key && !from.join("mask.key").is_file() {
        bail!(
            "{} is missing: the export is incomplete",
            from.join("mask.key").display()
        );
    }
    Ok(manifest)
}

pub async fn import(config: &Config, from: &Path) -> anyhow::Result<()> {
    let manifest = read_export(from)?;
    let store = crate::open_store(config).await?;
    let version = store.schema_version().await?;
    if version != manifest.schema_version {
        bail!(
            "the export is at database version {} and this pubdata at {version}: import with the pubdata version that exported",
            manifest.schema_version
        );
    }
    if let Some(table) = store.first_nonempty_table().await? {
        bail!(
            "the target database {} is not empty (table {table} has data): import only into a new, empty database",
            config.database_url()
        );
    }
    let files = config.file_store()?;
    let present = files.list().await?;
    if !present.is_empty() {
        bail!(
            "the target file store is not empty ({} objects, e.g. {}): import into an empty one",
            present.len(),
            present[0].key
        );
    }
    let mask_target = config.data_dir.join("mask.key");
    if manifest.mask_key && mask_target.exists() {
        let ours = fs::read(from.join("mask.key"))?;
        if fs::read(&mask_target)? != ours {
            bail!(
                "{} exists with a different key: move it away, the platform's key comes with the export",
                mask_target.display()
            );
        }
    }

    let expected: Sums = manifest
        .tables
        .iter()
        .map(|t| (t.schema.name.clone(), (t.rows, t.sha256.clone())))
        .collect();
    let uploaded = upload_files(&files, from, &manifest).await;
    let loaded = match uploaded {
        Ok(()) => load_tables(&store, from, &manifest, &expected).await,
        Err(e) => Err(e),
    };
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            // The database rolled back; take the files out again.
            for o in &manifest.files.objects {
                let _ = files.delete(&o.key).await;
            }
            return Err(e);
        }
    };
    if manifest.mask_key && !mask_target.exists() {
        fs::create_dir_all(&config.data_dir)?;
        copy_secret(&from.join("mask.key"), &mask_target)?;
    }
    println!(
        "imported {} tables ({} rows, counts and checksums match the export) and {} files ({} bytes, sha256 checked) into {}; audit chain intact: {} events verified",
        loaded.tables,
        loaded.rows,
        manifest.files.count,
        manifest.files.bytes,
        config.database_url(),
        loaded.audit_events
    );
    println!("each node builds its search index at its first start (or run `pubdata reindex`)");
    Ok(())
}

async fn upload_files(files: &FileStore, from: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    for o in &manifest.files.objects {
        let path = object_path(&from.join("files"), &o.key)?;
        let mut input = fs::File::open(&path)?;
        let mut writer = files.writer(&o.key, u64::MAX).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if writer.write(&buf[..n]).await?.is_err() {
                bail!("files/{} is too large", o.key);
            }
        }
        let stored = writer.finish().await?;
        let (sha, size) = files.checksum(&o.key).await?;
        if stored.sha256 != o.sha256 || sha != o.sha256 || size != o.size {
            bail!("files/{}: the stored copy's sha256 differs from the export's", o.key);
        }
    }
    Ok(())
}

async fn load_tables(
    store: &Store,
    from: &Path,
    manifest: &Manifest,
    expected: &Sums,
) -> anyhow::Result<pubdata_store::dump::Loaded> {
    let mut loader = store.dump_loader().await?;
    for t in &manifest.tables {
        loader
            .prepare(&t.schema)
            .await
            .with_context(|| format!("table {}", t.schema.name))?;
        let reader = BufReader::new(fs::File::open(from.join(&t.file))?);
        let mut batch = Vec::with_capacity(BATCH);
        for (i, line) in reader.lines().enumerate() {
            let row: Vec<serde_json::Value> =
                serde_json::from_str(&line?).map_err(|e| anyhow!("{} line {}: {e}", t.file, i + 1))?;
            batch.push(row);
            if batch.len() >= BATCH {
                loader.insert(&t.schema, &batch).await?;
                batch.clear();
            }
        }
        loader.insert(&t.schema, &batch).await?;
    }
    loader
        .finish(expected)
        .await
        .context("loading the tables failed; nothing was imported")
}
