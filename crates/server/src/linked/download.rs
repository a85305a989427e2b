//! `GET /dataset/{name}/resource/{dist_id}/download`: a resource's loaded data as a CSV file,
//! streamed a chunk at a time as the service reads it.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use pubdata_core::DomainError;
use pubdata_service::download::{self, DownloadPolicy, Source};
use pubdata_store::FileRange;

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::AppState;

pub(super) async fn csv(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((name, dist_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let dist_id: i64 = dist_id
        .parse()
        .map_err(|_| DomainError::NotFound { what: "distribution" })?;
    let policy = DownloadPolicy {
        open_downloads: app.config.open_downloads,
    };
    let file = download::open(
        &app.store,
        &app.files,
        &ctx.caller,
        policy,
        &app.watermark,
        &name,
        dist_id,
    )
    .await?;
    let disposition = HeaderValue::from_str(&content_disposition(&file.file_name(), &file.display_file_name()))
        .map_err(|e| AppError::Internal(format!("file name header: {e}")))?;
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(header::CONTENT_DISPOSITION, disposition);
    match &file.source {
        Source::Stored { key, sha256, size } => {
            let (key, sha256, size) = (key.clone(), sha256.clone(), *size);
            stored(&app, &ctx, &headers, builder, &file, &key, &sha256, size).await
        }
        Source::Live(_) => live(app, ctx, builder, file).await,
    }
}

/// The table streamed as it is read (before its published copy exists).
async fn live(
    app: AppState,
    ctx: Ctx,
    builder: axum::http::response::Builder,
    file: download::Download,
) -> AppResult<Response> {
    let log = download::record(&app.store, &ctx.caller, &file, 0).await?;
    let Source::Live(rows) = file.source else {
        return Err(AppError::Internal("not a live download".into()));
    };
    let name = file.dist.id;
    let store = app.store.clone();
    let chunks = futures_util::stream::unfold(Some((rows, 0u64)), move |state| {
        let store = store.clone();
        async move {
            let (mut rows, sent) = state?;
            match rows.next_chunk().await {
                Ok(Some(bytes)) => {
                    let sent = sent + bytes.len() as u64;
                    Some((Ok(Bytes::from(bytes)), Some((rows, sent))))
                }
                Ok(None) => {
                    // The whole file went out: its size goes on the download's record.
                    if let Err(e) = store.set_download_bytes(log, sent as i64).await {
                        tracing::error!("recording the size of download {log}: {e}");
                    }
                    None
                }
                Err(e) => {
                    // The status line is gone; ending the body early tells the client it failed.
                    tracing::error!("download of distribution {name} stopped: {e}");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    builder
        .body(Body::from_stream(chunks))
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// What a `Range` header asks for, against a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    All,
    Part(u64, u64),
    Unsatisfiable,
}

/// Reads `bytes=a-b`, `bytes=a-` and `bytes=-n`. Several ranges, or a malformed header, get
/// the whole file (as RFC 9110 allows); a range wholly past the end cannot be satisfied.
fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Wanted::All;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, false) => b
            .parse::<u64>()
            .ok()
            .map(|n| (size.saturating_sub(n), size.saturating_sub(1), n == 0)),
        (false, _) => {
            let start = a.parse::<u64>().ok();
            let end = if b.is_empty() {
                Some(size.saturating_sub(1))
            } else {
                b.parse::<u64>().ok()
            };
            start.zip(end).map(|(s, e)| (s, e.min(size.saturating_sub(1)), e < s))
        }
        _ => None,
    };
    match parsed {
        None => Wanted::All,
        Some((_, _, true)) => Wanted::Unsatisfiable,
        Some((start, _, _)) if start >= size => Wanted::Unsatisfiable,
        Some((start, end, _)) => Wanted::Part(start, end),
    }
}

/// The published copy from object storage, with `ETag` (its sha256), `If-None-Match` and
/// single byte ranges, so interrupted downloads resume.
#[allow(clippy::too_many_arguments)]
async fn stored(
    app: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    builder: axum::http::response::Builder,
    file: &download::Download,
    key: &str,
    sha256: &str,
    size: u64,
) -> AppResult<Response> {
    let etag = format!("\"{sha256}\"");
    let builder = builder
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes");
    let header_text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if header_text(header::IF_NONE_MATCH).is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(|e| AppError::Internal(e.to_string()));
    }
    // A range applies only to the same file: `If-Range` with another tag asks for all of it.
    let if_range_ok = header_text(header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let want = if if_range_ok {
        wanted(header_text(header::RANGE), size)
    } else {
        Wanted::All
    };
    let (status, start, len, builder) = match want {
        Wanted::All => (StatusCode::OK, 0, size, builder),
        Wanted::Part(a, b) => (
            StatusCode::PARTIAL_CONTENT,
            a,
            b - a + 1,
            builder.header(header::CONTENT_RANGE, format!("bytes {a}-{b}/{size}")),
        ),
        Wanted::Unsatisfiable => {
            return builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from(crate::i18n::t(
                    ctx.lang,
                    "error.range",
                    &[("size", size.to_string())],
                )))
                .map_err(|e| AppError::Internal(e.to_string()));
        }
    };
    let range = app.files.open_range(key, start, len).await?;
    download::record(&app.store, &ctx.caller, file, len).await?;
    let body = match range {
        FileRange::Local { file, len } => Body::from_stream(local_chunks(file, len)),
        FileRange::Remote(stream) => Body::from_stream(stream),
    };
    builder
        .status(status)
        .header(header::CONTENT_LENGTH, len)
        .body(body)
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Bytes of a local file in large chunks, stopping after `len`.
fn local_chunks(
    file: tokio::fs::File,
    len: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    // 1 MiB: a fifth faster than 256 KiB on loopback (docs/performance.md); 2 MiB, tokio's
    // largest single read, adds little and doubles the memory each download holds.
    const CHUNK: u64 = 1024 * 1024;
    futures_util::stream::try_unfold((file, len), |(mut file, left)| async move {
        use tokio::io::AsyncReadExt;
        if left == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; CHUNK.min(left) as usize];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file is shorter than recorded",
            ));
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), (file, left - n as u64))))
    })
}

/// `attachment` with an ASCII `filename` and the Unicode name as RFC 5987 `filename*`.
pub(crate) fn content_disposition(ascii: &str, unicode: &str) -> String {
    let plain: String = ascii
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(unicode.len() * 3);
    for b in unicode.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        assert_eq!(wanted(None, 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=0-9"), 100), Wanted::Part(0, 9));
        assert_eq!(wanted(Some("bytes=90-"), 100), Wanted::Part(90, 99));
        assert_eq!(wanted(Some("bytes=-10"), 100), Wanted::Part(90, 99));
        assert_eq!(wanted(Some("bytes=50-500"), 100), Wanted::Part(50, 99));
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=9-3"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,5-6"), 100), Wanted::All);
        assert_eq!(wanted(Some("items=0-1"), 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=x-y"), 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=-200"), 100), Wanted::Part(0, 99));
    }

    #[test]
    fn file_names_in_ascii_and_utf8() {
        assert_eq!(
            content_disposition("510000-A1-000001-v2.csv", "区划 代码-v2.csv"),
            "attachment; filename=\"510000-A1-000001-v2.csv\"; \
             filename*=UTF-8''%E5%8C%BA%E5%88%92%20%E4%BB%A3%E7%A0%81-v2.csv"
        );
        assert!(content_disposition("a\"b;c.csv", "x").starts_with("attachment; filename=\"a_b_c.csv\";"));
    }
}
