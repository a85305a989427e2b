//! Downloads (数据获取) of a resource's loaded data as files.
//! Only the datastore table — the checked, masked copy — ever leaves; never the uploaded file.

use pubdata_core::metadata::OpenType;
use pubdata_core::DomainError;
use pubdata_store::datastore::DatastoreColumn;
use pubdata_store::export::DatastoreCursor;
use pubdata_store::DistributionRow;

use crate::published::{self, Published};
use crate::{Caller, Result, Store, StoreError};

/// Rows read from the datastore per chunk of the file.
pub const CHUNK_ROWS: u64 = 10_000;

/// The platform's download settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownloadPolicy {
    /// Anonymous visitors may download unconditional (无条件开放) data.
    pub open_downloads: bool,
}

/// Who may download a published resource's data. For now any logged-in caller may (grants for
/// conditional data come with applications); anonymous callers only unconditional data, and
/// only where the platform opens downloads to everyone.
pub fn may_download(caller: &Caller, open_type: OpenType, policy: DownloadPolicy) -> Result<()> {
    if caller.actor.is_authenticated() || (policy.open_downloads && open_type == OpenType::Unconditional) {
        return Ok(());
    }
    Err(DomainError::Unauthenticated {
        reason: "login_required",
    }
    .into())
}

/// Whether a distribution can be downloaded: loaded file data, ready.
pub fn is_downloadable(d: &DistributionRow) -> bool {
    d.kind == "file" && d.state == "ready" && d.datastore_table.is_some()
}

fn no_data() -> StoreError {
    DomainError::NotFound { what: "datastore" }.into()
}

/// The file offered for one distribution: `<code>-v<version>.csv`.
pub fn file_name(p: &Published, d: &DistributionRow) -> String {
    format!("{}-v{}.csv", p.resource.row.code, d.version)
}

/// The same with the resource's title, for clients that show Unicode names.
pub fn display_file_name(p: &Published, d: &DistributionRow) -> String {
    let title: String = p
        .resource
        .meta
        .title
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{}-v{}.csv", title.trim(), d.version)
}

/// The columns a download of the distribution has, in order: the header of its CSV.
pub async fn columns(store: &Store, d: &DistributionRow) -> Result<Vec<DatastoreColumn>> {
    let table = d.datastore_table.as_deref().ok_or_else(no_data)?;
    store.datastore_columns(table).await
}

/// A download being written: the CSV of one distribution's datastore table, chunk by chunk.
pub struct CsvDownload {
    pub published: Published,
    pub dist: DistributionRow,
    store: Store,
    cursor: DatastoreCursor,
    header_done: bool,
}

/// Opens the download of distribution `dist_id` of the published resource `name`, after the
/// access check. Unpublished resources, other resources' distributions and APIs are not found.
pub async fn open(
    store: &Store,
    caller: &Caller,
    policy: DownloadPolicy,
    name: &str,
    dist_id: i64,
) -> Result<CsvDownload> {
    let published = published::by_name(store, name).await?;
    let dist = published
        .dists
        .iter()
        .find(|d| d.id == dist_id)
        .cloned()
        .ok_or(DomainError::NotFound { what: "distribution" })?;
    if !is_downloadable(&dist) {
        return Err(no_data());
    }
    may_download(caller, published.resource.meta.open_type, policy)?;
    let table = dist.datastore_table.as_deref().ok_or_else(no_data)?;
    let cursor = store.datastore_cursor(table).await?.ok_or_else(no_data)?;
    Ok(CsvDownload {
        published,
        dist,
        store: store.clone(),
        cursor,
        header_done: false,
    })
}

impl CsvDownload {
    pub fn file_name(&self) -> String {
        file_name(&self.published, &self.dist)
    }

    pub fn display_file_name(&self) -> String {
        display_file_name(&self.published, &self.dist)
    }

    /// The next piece of the file: the header with the first rows, then up to [`CHUNK_ROWS`]
    /// rows at a time; `None` at the end. UTF-8 without a byte-order mark, CRLF line ends,
    /// quotes only where needed, NULL as an empty cell.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.header_done && self.cursor.is_done() {
            return Ok(None);
        }
        let rows = self.store.datastore_next(&mut self.cursor, CHUNK_ROWS).await?;
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::with_capacity(rows.len() * 64 + 256));
        let csv_err = |e: csv::Error| StoreError::Other(format!("writing CSV: {e}"));
        if !self.header_done {
            out.write_record(self.cursor.columns().iter().map(|c| c.name.as_str()))
                .map_err(csv_err)?;
            self.header_done = true;
        }
        for row in &rows {
            out.write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))
                .map_err(csv_err)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| StoreError::Other(format!("writing CSV: {e}")))?;
        if bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(bytes))
    }
}
