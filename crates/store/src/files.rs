//! Object storage for uploaded files (the `object_store` crate: local files by default, or an
//! S3-compatible bucket behind the same interface). Uploads stream through a writer that hashes and counts
//! as it goes and refuses to grow past the limit; an aborted upload leaves nothing behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

#[derive(Clone)]
pub struct FileStore {
    inner: Arc<dyn ObjectStore>,
    /// The directory behind a local store, so readers can open files directly.
    root: Option<PathBuf>,
}

/// An S3-compatible bucket (AWS, MinIO, Ceph, …).
#[derive(Clone, Default)]
pub struct S3Settings {
    pub bucket: String,
    /// e.g. `https://s3.cn-north-1.amazonaws.com.cn` or `http://127.0.0.1:9000`; AWS when unset.
    pub endpoint: Option<String>,
    pub region: String,
    /// Without keys the usual AWS sources (instance profile, web identity) are tried.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow a plain-http endpoint (a local test server).
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

/// A stored object as listed: its key and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// A file as stored: its key, sha256 and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub key: String,
    pub sha256: String,
    pub size: u64,
}

/// The upload grew past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    pub limit: u64,
}

fn io_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("file storage: {e}"))
}

impl FileStore {
    /// Files under a local directory (created if missing).
    pub fn local(root: &Path) -> Result<FileStore> {
        std::fs::create_dir_all(root).map_err(io_err)?;
        let root = root.canonicalize().map_err(io_err)?;
        let fs = LocalFileSystem::new_with_prefix(&root).map_err(io_err)?;
        Ok(FileStore {
            inner: Arc::new(fs),
            root: Some(root),
        })
    }

    /// Files in an S3-compatible bucket. Paths are used as they are (no virtual-host bucket
    /// names), which every S3-compatible server accepts.
    pub fn s3(settings: &S3Settings) -> Result<FileStore> {
        // TLS on `ring`, which the workspace already builds, instead of aws-lc; a second install
        // (another store in this process) is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let (Some(key), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder.with_access_key_id(key).with_secret_access_key(secret);
        }
        let s3 = builder.build().map_err(io_err)?;
        Ok(FileStore {
            inner: Arc::new(s3),
            root: None,
        })
    }

    /// Whether files are on this machine's disk (`local_path` answers).
    pub fn is_local(&self) -> bool {
        self.root.is_some()
    }

    /// Every stored object, in key order.
    pub async fn list(&self) -> Result<Vec<ObjectInfo>> {
        use futures_util::TryStreamExt;
        let mut all: Vec<ObjectInfo> = self
            .inner
            .list(None)
            .map_ok(|m| ObjectInfo {
                key: m.location.to_string(),
                size: m.size,
            })
            .try_collect()
            .await
            .map_err(io_err)?;
        all.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(all)
    }

    /// The sha256 and size of a stored object, read back from the store.
    pub async fn checksum(&self, key: &str) -> Result<(String, u64)> {
        use futures_util::StreamExt;
        let got = self.inner.get(&ObjectPath::from(key)).await.map_err(io_err)?;
        let mut stream = got.into_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(io_err)?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((hex::encode(hasher.finalize()), size))
    }

    /// The stream of a whole stored object.
    pub async fn read_stream(
        &self,
        key: &str,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<bytes::Bytes>>> {
        use futures_util::StreamExt;
        let got = self.inner.get(&ObjectPath::from(key)).await.map_err(io_err)?;
        Ok(got.into_stream().map(|r| r.map_err(io_err)).boxed())
    }

    /// A path on this machine with the object's bytes: the file itself on a local store, or a
    /// temporary copy downloaded from a remote one (removed when the returned guard drops).
    pub async fn local_copy(&self, key: &str) -> Result<LocalCopy> {
        if let Some(path) = self.local_path(key) {
            return Ok(LocalCopy { path, temporary: false });
        }
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let name = format!(
            "pubdata-{}-{}-{}",
            std::process::id(),
            crate::now_ms(),
            rand::random::<u32>()
        );
        let copy = LocalCopy {
            path: std::env::temp_dir().join(name),
            temporary: true,
        };
        // The raw upload may hold personal data: readable by this user only, and never through
        // a file or link someone else put at that name.
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut out = options.open(&copy.path).await.map_err(io_err)?;
        let mut stream = self.read_stream(key).await?;
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?).await.map_err(io_err)?;
        }
        out.flush().await.map_err(io_err)?;
        Ok(copy)
    }

    /// Starts writing `key`; the data becomes visible only when `finish` succeeds.
    pub async fn writer(&self, key: &str, limit: u64) -> Result<FileWriter> {
        let upload = self.inner.put_multipart(&ObjectPath::from(key)).await.map_err(io_err)?;
        Ok(FileWriter {
            upload: WriteMultipart::new(upload),
            hasher: Sha256::new(),
            size: 0,
            limit,
            key: key.to_string(),
        })
    }

    /// The local path of a stored file, for streaming readers (local stores only).
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        let root = self.root.as_ref()?;
        let path = ObjectPath::from(key);
        Some(path.parts().fold(root.clone(), |p, part| p.join(part.as_ref())))
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Reads a whole (small) file, e.g. for tests and previews.
    pub async fn read_all(&self, key: &str) -> Result<Vec<u8>> {
        let got = self.inner.get(&ObjectPath::from(key)).await.map_err(io_err)?;
        Ok(got.bytes().await.map_err(io_err)?.to_vec())
    }
}

/// A stored object's bytes as a local file (see [`FileStore::local_copy`]).
pub struct LocalCopy {
    pub path: PathBuf,
    temporary: bool,
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Part of a stored file to send: an open local file positioned at the start of the range, or
/// a stream from a remote store.
pub enum FileRange {
    Local { file: tokio::fs::File, len: u64 },
    Remote(futures_util::stream::BoxStream<'static, Result<bytes::Bytes>>),
}

impl FileStore {
    /// The size of a stored file in bytes.
    pub async fn size(&self, key: &str) -> Result<u64> {
        let meta = self.inner.head(&ObjectPath::from(key)).await.map_err(io_err)?;
        Ok(meta.size)
    }

    /// Bytes `start..start + len` of a stored file. Local files are read directly, in large
    /// chunks, rather than through the object store's small-buffer stream.
    pub async fn open_range(&self, key: &str, start: u64, len: u64) -> Result<FileRange> {
        if let Some(path) = self.local_path(key) {
            use tokio::io::AsyncSeekExt;
            let mut file = tokio::fs::File::open(&path).await.map_err(io_err)?;
            file.seek(std::io::SeekFrom::Start(start)).await.map_err(io_err)?;
            return Ok(FileRange::Local { file, len });
        }
        use futures_util::StreamExt;
        let options = object_store::GetOptions {
            range: Some(object_store::GetRange::Bounded(start..start + len)),
            ..Default::default()
        };
        let got = self
            .inner
            .get_opts(&ObjectPath::from(key), options)
            .await
            .map_err(io_err)?;
        Ok(FileRange::Remote(got.into_stream().map(|r| r.map_err(io_err)).boxed()))
    }
}

pub struct FileWriter {
    upload: WriteMultipart,
    hasher: Sha256,
    size: u64,
    limit: u64,
    key: String,
}

impl FileWriter {
    /// Appends a chunk, waiting when the upload falls behind (so memory stays bounded).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<Result<(), TooLarge>> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Ok(Err(TooLarge { limit: self.limit }));
        }
        self.hasher.update(chunk);
        self.upload.wait_for_capacity(8).await.map_err(io_err)?;
        self.upload.write(chunk);
        Ok(Ok(()))
    }

    pub async fn finish(self) -> Result<StoredFile> {
        self.upload.finish().await.map_err(io_err)?;
        Ok(StoredFile {
            key: self.key,
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
        })
    }

    /// Gives up the upload; nothing is left in the store.
    pub async fn abort(self) {
        let _ = self.upload.abort().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_hashes_limits_and_aborts() {
        let dir = std::env::temp_dir().join(format!("pubdata_files_{}_{}", std::process::id(), crate::now_ms()));
        let files = FileStore::local(&dir).unwrap();
        let mut w = files.writer("uploads/1/a.csv", 1 << 20).await.unwrap();
        for _ in 0..100 {
            w.write(b"code,name\n").await.unwrap().unwrap();
        }
        let stored = w.finish().await.unwrap();
        assert_eq!(stored.size, 1000);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(b"code,name\n".repeat(100))));
        let path = files.local_path("uploads/1/a.csv").unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 1000);

        let mut w = files.writer("uploads/1/big.csv", 10).await.unwrap();
        assert_eq!(w.write(b"0123456789abc").await.unwrap(), Err(TooLarge { limit: 10 }));
        w.abort().await;
        assert!(
            !files.local_path("uploads/1/big.csv").unwrap().exists(),
            "nothing left behind"
        );
        files.delete("uploads/1/a.csv").await.unwrap();
        assert!(!path.exists());
        files.delete("uploads/1/a.csv").await.unwrap();
    }
}
