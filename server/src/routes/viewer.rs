//! The viewer at `/`: embedded in the binary, or from a directory with `--dist DIR`.
//!
//! The embedded copy is `server/viewer/` (written by `scripts/build-viewer.sh` and
//! committed), compressed with gzip and brotli at build time by `rust-embed-for-web`. Each
//! answer carries its `Content-Type`, a strong `ETag` per encoding, and `Cache-Control`:
//! `index.html` is revalidated every time (`no-cache`); everything under `/assets/<hash>/`
//! is immutable, since a new build gets a new hash. `If-None-Match` gives a 304.
//!
//! Every answer carries the viewer's Content-Security-Policy ([`crate::security::VIEWER_CSP`]).
//!
//! A build without the viewer (the folder was missing at compile time) still serves the API;
//! `/` then explains how to get the viewer.

use std::path::Path;

use axum::body::Body;
use axum::handler::HandlerWithoutStateExt;
use axum::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use rust_embed_for_web::{EmbedableFile, RustEmbed};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

#[derive(RustEmbed)]
#[folder = "viewer/"]
#[allow_missing = true]
struct EmbeddedViewer;

const INDEX: &str = "index.html";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Whether this binary was built with the viewer in it.
pub fn embedded_viewer_present() -> bool {
    EmbeddedViewer::get(INDEX).is_some()
}

/// The viewer's routes: files from `dist` when given (development), else the embedded copy.
pub fn service(dist: Option<&Path>) -> Router {
    match dist {
        Some(dist) => {
            let files =
                ServeDir::new(dist).append_index_html_on_directories(true).not_found_service(not_found.into_service());
            Router::new().fallback_service(files).layer(CompressionLayer::new()).layer(crate::security::viewer_csp())
        }
        None => Router::new().fallback(embedded).layer(crate::security::viewer_csp()),
    }
}

async fn embedded(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return crate::error::AppError::MethodNotAllowed(method).into_response();
    }
    let path = match uri.path().trim_start_matches('/') {
        "" => INDEX,
        path => path,
    };
    let Some(file) = EmbeddedViewer::get(path) else {
        return not_found(uri).await.into_response();
    };
    let cache = if path == INDEX { "no-cache" } else { IMMUTABLE };
    let (encoding, data) = match preferred_encoding(&headers) {
        Encoding::Brotli if file.data_br().is_some() => (Some("br"), file.data_br()),
        Encoding::Brotli | Encoding::Gzip if file.data_gzip().is_some() => (Some("gzip"), file.data_gzip()),
        _ => (None, None),
    };
    let data = data.unwrap_or_else(|| file.data());
    // A strong validator names one representation: the compressed ones get their own.
    let etag = match encoding {
        Some(encoding) => format!("\"{}-{encoding}\"", file.hash()),
        None => format!("\"{}\"", file.hash()),
    };

    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        let mut head = Response::new(Body::empty());
        head.headers_mut().insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(data.len()));
        head
    } else {
        Response::new(Body::from(data))
    };
    let h = response.headers_mut();
    let mime = file.mime_type().unwrap_or("application/octet-stream");
    if let Ok(value) = HeaderValue::from_str(mime) {
        h.insert(CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, value);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(encoding) = encoding {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The best encoding the client accepts (a coding with `q=0` is refused).
fn preferred_encoding(headers: &HeaderMap) -> Encoding {
    let accepted = |name: &str| {
        headers.get_all(ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|part| {
            let mut pieces = part.split(';');
            let coding = pieces.next().unwrap_or("").trim();
            let refused = pieces.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    if accepted("br") {
        Encoding::Brotli
    } else if accepted("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|tag| {
        let tag = tag.trim();
        tag == "*" || tag.trim_start_matches("W/") == etag
    })
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    if uri.path() == "/" || uri.path() == "/index.html" {
        let page = "<!doctype html><title>rowstream</title><h1>rowstream</h1>\
            <p>This rowstream was built without its viewer (<code>server/viewer/</code> was \
            missing when it was compiled). Rebuild from a full checkout, or build the viewer \
            with <code>bash scripts/build-viewer.sh</code> and rebuild the server, or point \
            <code>rowstream serve --dist DIR</code> at a built viewer.</p>\
            <p>The API works without it: <code>curl -H 'Authorization: JWT …' /api/messages</code>.</p>";
        (StatusCode::NOT_FOUND, Html(page)).into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn picks_brotli_then_gzip_and_honours_q_zero() {
        assert_eq!(preferred_encoding(&accept("gzip, deflate, br")), Encoding::Brotli);
        assert_eq!(preferred_encoding(&accept("gzip")), Encoding::Gzip);
        assert_eq!(preferred_encoding(&accept("br;q=0, gzip;q=0.5")), Encoding::Gzip);
        assert_eq!(preferred_encoding(&accept("identity")), Encoding::Identity);
        assert_eq!(preferred_encoding(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn etags_match_exactly_or_weakly_or_by_star() {
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc-br\""));
        assert!(if_none_match(&headers, "\"abc-br\""));
        assert!(!if_none_match(&headers, "\"abc\""));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(if_none_match(&headers, "\"anything\""));
    }
}
