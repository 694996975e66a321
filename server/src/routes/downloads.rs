//! `POST /api/downloads`: a download link for one rows request (see `shared::download` and
//! `auth`), so a browser can save a stream straight to disk by navigating to it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::Json;
use shared::{DownloadLink, DownloadRequest, DOWNLOAD_LINK_SECONDS, DOWNLOAD_PARAM};

use crate::auth::{Claims, JwtKeys};
use crate::error::AppError;
use crate::form::{read_json_body, FormLimits};

/// The longest path a link is made for: the server's own URI limit is the real bound.
const MAX_PATH_BYTES: usize = 16 * 1024;

/// Whether `path` is a rows request a link may be made for: `/api/messages` or the rows of
/// a relation or saved query, with no `download=` of its own.
fn linkable(path: &str) -> bool {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let segments: Vec<&str> = route.split('/').collect();
    let rows = matches!(segments.as_slice(), ["", "api", "messages"])
        || matches!(segments.as_slice(), ["", "api", "tables" | "queries", name, "rows"] if !name.is_empty());
    let prefix = format!("{DOWNLOAD_PARAM}=");
    rows && path.len() <= MAX_PATH_BYTES && !query.split('&').any(|pair| pair.starts_with(&prefix))
}

pub async fn create(
    State(keys): State<Arc<JwtKeys>>,
    State(limits): State<FormLimits>,
    Extension(claims): Extension<Claims>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<DownloadLink>, AppError> {
    let body = read_json_body(&headers, body, limits.max_body).await?;
    let request: DownloadRequest = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_parameter("body", format!("body: expected {{\"path\": \"/api/…\"}}: {e}")))?;
    if !linkable(&request.path) {
        return Err(AppError::bad_parameter(
            "path",
            "path: links are made for /api/messages, /api/tables/{name}/rows and /api/queries/{name}/rows \
             (with their query string, without download=)",
        ));
    }
    let token = keys.issue_download(&claims, &request.path).map_err(|_| AppError::Internal)?;
    let separator = if request.path.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}{DOWNLOAD_PARAM}={token}", request.path);
    Ok(Json(DownloadLink { url, expires_in: DOWNLOAD_LINK_SECONDS }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_for_rows_requests_only() {
        assert!(linkable("/api/messages"));
        assert!(linkable("/api/tables/orders/rows?format=csv&state=eq.paid"));
        assert!(linkable("/api/queries/q/rows?x=1"));
        assert!(!linkable("/api/tables/orders"));
        assert!(!linkable("/api/sql"));
        assert!(!linkable("/api/tables//rows"));
        assert!(!linkable("https://elsewhere/api/messages"));
        assert!(!linkable("/api/messages?download=abc"));
        assert!(!linkable(&format!("/api/messages?x={}", "a".repeat(MAX_PATH_BYTES))));
    }
}
