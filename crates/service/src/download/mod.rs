//! Downloads (数据获取) of a resource's loaded data as files.
//! Only the datastore table — the checked, masked copy — ever leaves; never the uploaded file.

use pubdata_core::application::AccessMethod;
use pubdata_core::metadata::OpenType;
use pubdata_core::user::Role;
use pubdata_core::DomainError;
use pubdata_store::datastore::DatastoreColumn;
use pubdata_store::datastore::Filter;
use pubdata_store::export::DatastoreCursor;
use pubdata_store::{DistributionRow, FileStore, GrantRow, StoredFile};

use pubdata_ingest::watermark::{Candidate, OriginalTable, Permuter, TraceReport, WatermarkSecret};

use crate::access;

use crate::published::{self, Published};
use crate::{Caller, Result, Store, StoreError};

mod copy;

/// Rows read from the datastore per chunk of the file.
pub const CHUNK_ROWS: u64 = 10_000;

/// The platform's download settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownloadPolicy {
    /// Anonymous visitors may download unconditional (无条件开放) data.
    pub open_downloads: bool,
}

/// Who may download a published resource's data without a grant: anonymous visitors only
/// unconditional data and only where the platform opens downloads to everyone.
pub fn may_download(caller: &Caller, open_type: OpenType, policy: DownloadPolicy) -> Result<()> {
    if caller.actor.is_authenticated() || (policy.open_downloads && open_type == OpenType::Unconditional) {
        return Ok(());
    }
    Err(DomainError::Unauthenticated {
        reason: "login_required",
    }
    .into())
}

/// On what terms a caller downloads: the grant that allows it (consumers), or none (the
/// resource's own provider staff, the administration institution, or an open download).
#[derive(Debug, Clone)]
pub struct Access {
    pub grant: Option<GrantRow>,
}

impl Access {
    /// Whether the whole published copy may be sent: no grant narrowing fields or rows.
    pub fn whole(&self) -> bool {
        self.grant
            .as_ref()
            .is_none_or(|g| g.fields.is_empty() && g.row_filter.is_none())
    }

    /// A conditional grant's downloads carry its watermark.
    pub fn watermark(&self) -> Option<i64> {
        self.grant.as_ref().filter(|g| !g.fields.is_empty()).map(|g| g.id)
    }
}

/// The download rule (数据获取): anonymous callers may take unconditional data only when the
/// platform opens downloads; staff of the providing department and of the administration
/// institution may take their data; consumers need a usable grant that allows downloads — for
/// unconditional data, accepting the usage terms gives one at once.
pub async fn authorize(store: &Store, caller: &Caller, policy: DownloadPolicy, p: &Published) -> Result<Access> {
    let open_type = p.resource.meta.open_type;
    if !caller.actor.is_authenticated() {
        may_download(caller, open_type, policy)?;
        return Ok(Access { grant: None });
    }
    let staff = caller.actor.memberships.iter().any(|m| {
        m.role.is_staff()
            && (m.org_id == Some(p.resource.row.provider_org_id)
                || matches!(m.role, Role::AdminManager | Role::AdminReviewer))
    });
    if staff {
        return Ok(Access { grant: None });
    }
    let grant = access::grant_for(store, caller, p.resource.row.id, AccessMethod::Download)
        .await
        .map_err(|e| match e {
            StoreError::Domain(DomainError::Conflict { .. }) => DomainError::Conflict {
                code: if open_type == OpenType::Unconditional {
                    "terms_required"
                } else {
                    "grant_required"
                },
                field: None,
            }
            .into(),
            other => other,
        })?;
    Ok(Access { grant: Some(grant) })
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

/// A distribution's datastore table as CSV, a chunk at a time: every row and column, or — under
/// a grant that narrows them — the granted fields of the rows its filters allow. A grant that
/// narrows only the fields is served from the published copy when there is one ([`copy`]); the
/// bytes are the same either way.
pub struct CsvRows {
    store: Store,
    rows: Rows,
    header_done: bool,
    /// A conditional grant's watermark: its own row order within each block.
    permuter: Option<Permuter<Vec<Option<String>>>>,
}

enum Rows {
    All(DatastoreCursor),
    /// The granted columns of the allowed rows, read in file order with their row numbers.
    Granted {
        cursor: DatastoreCursor,
        header: Vec<String>,
    },
    /// The granted columns of every row, read from the published copy.
    Copy(copy::CopyRows),
}

/// A grant's row filters as data API filters.
fn grant_filters(grant: &GrantRow) -> Vec<Filter> {
    access::grant_of(grant)
        .filters
        .iter()
        .map(|f| Filter {
            field: f.field.clone(),
            op: f.op,
            value: f.value.clone(),
        })
        .collect()
}

impl CsvRows {
    pub async fn open(store: &Store, d: &DistributionRow) -> Result<CsvRows> {
        Self::open_for(store, None, d, None, None).await
    }

    /// Under a grant that narrows fields or rows; `watermark` keys the row order to the grant.
    /// With `files`, a grant that narrows only the fields reads the published copy, if any.
    pub async fn open_for(
        store: &Store,
        files: Option<&FileStore>,
        d: &DistributionRow,
        grant: Option<&GrantRow>,
        watermark: Option<&WatermarkSecret>,
    ) -> Result<CsvRows> {
        let table = d.datastore_table.as_deref().ok_or_else(no_data)?;
        let Some(g) = grant.filter(|g| !g.fields.is_empty() || g.row_filter.is_some()) else {
            let cursor = store.datastore_cursor(table).await?.ok_or_else(no_data)?;
            return Ok(CsvRows::new(store, Rows::All(cursor), None));
        };
        let columns = store.datastore_columns(table).await?;
        // The granted fields in the table's order (all when the grant names none).
        let header: Vec<String> = columns
            .iter()
            .map(|c| c.name.clone())
            .filter(|n| g.fields.is_empty() || g.fields.iter().any(|f| f.eq_ignore_ascii_case(n)))
            .collect();
        let filters = grant_filters(g);
        let published = match (files, &d.export_key, d.export_bytes) {
            (Some(files), Some(key), Some(size)) if filters.is_empty() && !header.is_empty() => {
                Some((files, key, size.max(0) as u64))
            }
            _ => None,
        };
        if let Some((files, key, size)) = published {
            let permuter = watermark.map(|secret| Permuter::new(secret, &g.id.to_string()));
            let rows = copy::CopyRows::start(files, key, size, header, permuter).await?;
            return Ok(CsvRows::new(store, Rows::Copy(rows), None));
        }
        let permuter = watermark.map(|secret| Permuter::new(secret, &g.id.to_string()));
        let cursor = store
            .datastore_cursor_where(table, &header, &filters)
            .await?
            .ok_or_else(no_data)?;
        Ok(CsvRows::new(store, Rows::Granted { cursor, header }, permuter))
    }

    fn new(store: &Store, rows: Rows, permuter: Option<Permuter<Vec<Option<String>>>>) -> CsvRows {
        CsvRows {
            store: store.clone(),
            rows,
            header_done: false,
            permuter,
        }
    }

    /// The next piece of the file: the header with the first rows, then up to [`CHUNK_ROWS`]
    /// rows at a time; `None` at the end. UTF-8 without a byte-order mark, CRLF line ends,
    /// quotes only where needed, NULL as an empty cell.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let (header, rows): (Vec<String>, Vec<Vec<Option<String>>>) = match &mut self.rows {
            Rows::Copy(copy) => return copy.next().await,
            Rows::All(cursor) => {
                if self.header_done && cursor.is_done() {
                    return Ok(None);
                }
                let rows = self.store.datastore_next(cursor, CHUNK_ROWS).await?;
                (cursor.columns().iter().map(|c| c.name.clone()).collect(), rows)
            }
            Rows::Granted { cursor, header } => {
                if self.header_done && cursor.is_done() {
                    return Ok(None);
                }
                let numbered = self.store.datastore_next_numbered(cursor, CHUNK_ROWS).await?;
                let last = cursor.is_done();
                let rows = match &mut self.permuter {
                    // Rows keep their number in the whole table, so a grant's row filter does not
                    // move them to other blocks: the trace compares with the whole table.
                    Some(p) => {
                        let mut out = Vec::with_capacity(numbered.len() + 256);
                        for (row_no, row) in numbered {
                            p.push_numbered(row_no.max(1) as u64 - 1, row, &mut out)
                                .map_err(|e| StoreError::Other(e.to_string()))?;
                        }
                        if last {
                            p.finish(&mut out);
                        }
                        out
                    }
                    None => numbered.into_iter().map(|(_, row)| row).collect(),
                };
                (header.clone(), rows)
            }
        };
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::with_capacity(rows.len() * 64 + 256));
        let csv_err = |e: csv::Error| StoreError::Other(format!("writing CSV: {e}"));
        if !self.header_done {
            out.write_record(&header).map_err(csv_err)?;
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

/// Where a loaded file's published copy is kept in object storage.
pub fn export_key(d: &DistributionRow) -> String {
    format!("published/{}/{}-v{}.csv", d.resource_id, d.id, d.version)
}

/// Writes the published copy of a loaded distribution — its masked datastore table as CSV —
/// into object storage and records its key, sha256 and size. Downloads then serve that file,
/// with ranges and an ETag; until it exists they stream the table directly.
pub async fn export(store: &Store, files: &FileStore, d: &DistributionRow) -> Result<StoredFile> {
    let key = export_key(d);
    let mut rows = CsvRows::open(store, d).await?;
    let mut writer = files.writer(&key, u64::MAX).await?;
    loop {
        let chunk = match rows.next_chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                writer.abort().await;
                return Err(e);
            }
        };
        if writer.write(&chunk).await?.is_err() {
            writer.abort().await;
            return Err(StoreError::Other("export too large".into()));
        }
    }
    let stored = writer.finish().await?;
    let mut tx = store.begin().await?;
    tx.set_distribution_export(d.id, &stored.key, &stored.sha256, stored.size as i64)
        .await?;
    tx.commit().await?;
    Ok(stored)
}

/// What a download sends: the stored published copy, or the table streamed as it is read.
pub enum Source {
    Stored { key: String, sha256: String, size: u64 },
    Live(Box<CsvRows>),
}

/// A download allowed for a caller: the resource, the distribution and where its bytes are.
pub struct Download {
    pub published: Published,
    pub dist: DistributionRow,
    pub source: Source,
    pub access: Access,
}

/// Opens the download of distribution `dist_id` of the published resource `name`, after the
/// access check. Unpublished resources, other resources' distributions and APIs are not found.
#[allow(clippy::too_many_arguments)]
pub async fn open(
    store: &Store,
    files: &FileStore,
    caller: &Caller,
    policy: DownloadPolicy,
    watermark: &WatermarkSecret,
    name: &str,
    dist_id: i64,
) -> Result<Download> {
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
    let access = authorize(store, caller, policy, &published).await?;
    let source = match (&dist.export_key, &dist.export_sha256, dist.export_bytes, access.whole()) {
        (Some(key), Some(sha256), Some(size), true) => Source::Stored {
            key: key.clone(),
            sha256: sha256.clone(),
            size: size.max(0) as u64,
        },
        _ => Source::Live(Box::new(
            CsvRows::open_for(store, Some(files), &dist, access.grant.as_ref(), Some(watermark)).await?,
        )),
    };
    Ok(Download {
        published,
        dist,
        source,
        access,
    })
}

impl Download {
    pub fn file_name(&self) -> String {
        file_name(&self.published, &self.dist)
    }

    pub fn display_file_name(&self) -> String {
        display_file_name(&self.published, &self.dist)
    }
}

/// Records an acquisition (数据获取): who, under which grant, how many bytes, when. Returns the
/// record's id, so a streamed download can record its bytes once it ends.
pub async fn record(store: &Store, caller: &Caller, d: &Download, bytes: u64) -> Result<i64> {
    let grant_id = d.access.grant.as_ref().map(|g| g.id);
    let mut tx = store.begin().await?;
    let id = tx
        .insert_download(
            d.published.resource.row.id,
            d.dist.id,
            grant_id,
            caller.actor.user_id,
            bytes as i64,
            caller.ip.as_deref(),
        )
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// 溯源 — which of a resource's conditional grants a leaked copy came from, read back from the
/// row order each grant's downloads were given. `leaked` is the file as found (CSV in any
/// encoding, or XLSX); `filename` tells its format.
pub async fn trace(
    store: &Store,
    secret: &WatermarkSecret,
    resource: &str,
    leaked: impl std::io::Read,
    filename: &str,
) -> Result<TraceReport> {
    let p = published::by_name(store, resource).await?;
    let table = crate::ingest::current_file(&p.dists)
        .and_then(|d| d.datastore_table.clone())
        .ok_or_else(no_data)?;
    let mut cursor = store.datastore_cursor(&table).await?.ok_or_else(no_data)?;
    let mut original = OriginalTable::new(cursor.columns().iter().map(|c| c.name.clone()).collect());
    while !cursor.is_done() {
        for row in store.datastore_next(&mut cursor, CHUNK_ROWS).await? {
            original
                .push_row(row.iter().map(|v| v.as_deref()))
                .map_err(|e| StoreError::Other(e.to_string()))?;
        }
    }
    let candidates: Vec<Candidate> = store
        .list_grants(None, Some(p.resource.row.id))
        .await?
        .into_iter()
        // Only conditional grants' downloads are watermarked.
        .filter(|g| !g.fields.is_empty())
        .map(|g| Candidate {
            grant_id: g.id.to_string(),
            consumer: format!("{} (user {})", g.consumer_name, g.consumer_id),
            date: format!("{} – {}", g.valid_from, g.valid_to),
        })
        .collect();
    if candidates.is_empty() {
        return Err(DomainError::NotFound { what: "grant" }.into());
    }
    pubdata_ingest::watermark::trace(leaked, filename, &original, &candidates, secret).map_err(|e| {
        StoreError::from(DomainError::Validation(vec![pubdata_core::FieldError::new(
            "file",
            "file_unreadable",
        )
        .with("detail", e)]))
    })
}
