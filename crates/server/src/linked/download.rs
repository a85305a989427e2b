//! `GET /dataset/{name}/resource/{dist_id}/download`: a resource's loaded data as a CSV file,
//! streamed a chunk at a time as the service reads it.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use pubdata_core::DomainError;
use pubdata_service::download::{self, DownloadPolicy};

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::AppState;

pub(super) async fn csv(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((name, dist_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let dist_id: i64 = dist_id
        .parse()
        .map_err(|_| DomainError::NotFound { what: "distribution" })?;
    let policy = DownloadPolicy {
        open_downloads: app.config.open_downloads,
    };
    let file = download::open(&app.store, &ctx.caller, policy, &name, dist_id).await?;
    let disposition = HeaderValue::from_str(&content_disposition(&file.file_name(), &file.display_file_name()))
        .map_err(|e| AppError::Internal(format!("file name header: {e}")))?;
    let chunks = futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        match file.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok(Bytes::from(bytes)), Some(file))),
            Ok(None) => None,
            Err(e) => {
                // The status line is gone; ending the body early tells the client it failed.
                tracing::error!("download of {} stopped: {e}", file.file_name());
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(header::CONTENT_DISPOSITION, disposition)
        .body(Body::from_stream(chunks))
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// `attachment` with an ASCII `filename` and the Unicode name as RFC 5987 `filename*`.
pub(super) fn content_disposition(ascii: &str, unicode: &str) -> String {
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
    fn file_names_in_ascii_and_utf8() {
        assert_eq!(
            content_disposition("510000-A1-000001-v2.csv", "区划 代码-v2.csv"),
            "attachment; filename=\"510000-A1-000001-v2.csv\"; \
             filename*=UTF-8''%E5%8C%BA%E5%88%92%20%E4%BB%A3%E7%A0%81-v2.csv"
        );
        assert!(content_disposition("a\"b;c.csv", "x").starts_with("attachment; filename=\"a_b_c.csv\";"));
    }
}
