//! A conditional grant's download made from the distribution's published copy rather than the
//! datastore: the copy's CSV is read on a blocking thread, the granted columns kept and each
//! block of rows put in the grant's order, and the file sent on in large chunks.
//!
//! The published copy is the table written in file order with the download dialect (UTF-8,
//! CRLF, quotes only where needed, NULL empty), so reading its cells and writing them again gives
//! byte for byte what the datastore path writes for the same grant.

use std::io::Read;

use csv::ByteRecord;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use pubdata_ingest::watermark::{Permuter, DEFAULT_BLOCK_ROWS};
use pubdata_store::{FileRange, FileStore};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Result, StoreError};

/// Bytes of output per chunk sent to the HTTP body.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks in flight between the reading thread and the body: bounds memory per download.
const CHANNEL: usize = 4;
/// Read buffer over the published copy.
const READ_BUFFER: usize = 256 * 1024;

/// The running copy: chunks as the blocking reader makes them, then its outcome.
pub(super) struct CopyRows {
    rx: mpsc::Receiver<Vec<u8>>,
    task: Option<JoinHandle<Result<()>>>,
}

impl CopyRows {
    /// Starts reading the published copy `key` (`size` bytes): the columns `header` (names as in
    /// the copy's own header), rows put in order by `permuter` when there is one.
    pub(super) async fn start(
        files: &FileStore,
        key: &str,
        size: u64,
        header: Vec<String>,
        permuter: Option<Permuter<ByteRecord>>,
    ) -> Result<CopyRows> {
        let input: Box<dyn Read + Send> = match files.open_range(key, 0, size).await? {
            FileRange::Local { file, len } => Box::new(file.into_std().await.take(len)),
            FileRange::Remote(stream) => Box::new(StreamReader {
                runtime: tokio::runtime::Handle::current(),
                stream,
                current: bytes::Bytes::new(),
            }),
        };
        let (tx, rx) = mpsc::channel(CHANNEL);
        let task = tokio::task::spawn_blocking(move || copy(input, &header, permuter, &tx));
        Ok(CopyRows { rx, task: Some(task) })
    }

    /// The next chunk of the file; `None` once it is all sent. A failure of the reader — also a
    /// panic — is an error here, so the body ends early rather than look complete.
    pub(super) async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        if let Some(chunk) = self.rx.recv().await {
            return Ok(Some(chunk));
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(outcome) => outcome.map(|()| None),
                Err(e) => Err(StoreError::Other(format!("download stopped: {e}"))),
            },
            None => Ok(None),
        }
    }
}

fn csv_err(e: csv::Error) -> StoreError {
    StoreError::Other(format!("published copy: {e}"))
}

/// Indexes of `wanted` among the copy's header cells, or an error when one is missing (a copy
/// that does not match its table).
fn positions(header: &ByteRecord, wanted: &[String]) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|name| {
            header
                .iter()
                .position(|h| h == name.as_bytes())
                .ok_or_else(|| StoreError::Other(format!("the published copy has no column {name:?}")))
        })
        .collect()
}

/// Reads the copy, writes the download, sends it in chunks. Stops quietly when the receiver has
/// gone (the client hung up).
fn copy(
    input: Box<dyn Read + Send>,
    header: &[String],
    mut permuter: Option<Permuter<ByteRecord>>,
    tx: &mpsc::Sender<Vec<u8>>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .buffer_capacity(READ_BUFFER)
        .from_reader(input);
    let mut first = ByteRecord::new();
    if !reader.read_byte_record(&mut first).map_err(csv_err)? {
        return Err(StoreError::Other("the published copy is empty".into()));
    }
    let columns = positions(&first, header)?;
    // All columns in the copy's order: each row is written as read.
    let whole = columns.len() == first.len() && columns.iter().enumerate().all(|(i, &c)| i == c);
    let mut out = Output::new(tx);
    out.writer.write_record(header).map_err(csv_err)?;

    // Records are reused: those written go back to `spare`, so the loop allocates nothing.
    let mut spare: Vec<ByteRecord> = Vec::new();
    let mut ready: Vec<ByteRecord> = Vec::with_capacity(DEFAULT_BLOCK_ROWS);
    loop {
        let mut record = spare.pop().unwrap_or_default();
        if !reader.read_byte_record(&mut record).map_err(csv_err)? {
            break;
        }
        match &mut permuter {
            Some(p) => p.push(record, &mut ready),
            None => ready.push(record),
        }
        if !out.write(&mut ready, &mut spare, &columns, whole)? {
            return Ok(());
        }
    }
    if let Some(p) = &mut permuter {
        p.finish(&mut ready);
    }
    if out.write(&mut ready, &mut spare, &columns, whole)? {
        out.send()?;
    }
    Ok(())
}

/// The CSV being written and where its chunks go.
struct Output<'a> {
    writer: csv::Writer<Vec<u8>>,
    tx: &'a mpsc::Sender<Vec<u8>>,
}

impl<'a> Output<'a> {
    fn new(tx: &'a mpsc::Sender<Vec<u8>>) -> Self {
        Output {
            writer: Self::writer(),
            tx,
        }
    }

    /// The download's dialect: CRLF, quotes only where needed.
    fn writer() -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(64 * 1024)
            .from_writer(Vec::with_capacity(CHUNK_BYTES + 128 * 1024))
    }

    /// Writes the rows ready to go, sending a chunk whenever one is full; false once nobody
    /// listens.
    fn write(
        &mut self,
        ready: &mut Vec<ByteRecord>,
        spare: &mut Vec<ByteRecord>,
        columns: &[usize],
        whole: bool,
    ) -> Result<bool> {
        for record in ready.drain(..) {
            if whole {
                self.writer.write_byte_record(&record)
            } else {
                self.writer.write_record(columns.iter().map(|&i| &record[i]))
            }
            .map_err(csv_err)?;
            spare.push(record);
        }
        if self.writer.get_ref().len() >= CHUNK_BYTES {
            return self.send();
        }
        Ok(true)
    }

    /// Sends what has been written; false once nobody listens.
    fn send(&mut self) -> Result<bool> {
        let chunk = std::mem::replace(&mut self.writer, Self::writer())
            .into_inner()
            .map_err(|e| StoreError::Other(format!("writing CSV: {e}")))?;
        if chunk.is_empty() {
            return Ok(true);
        }
        Ok(self.tx.blocking_send(chunk).is_ok())
    }
}

/// A remote store's byte stream as a blocking reader, for the reading thread.
struct StreamReader {
    runtime: tokio::runtime::Handle,
    stream: BoxStream<'static, Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
