//! The built viewer (trunk's `dist/`) as static files, gzip-compressed on the fly. When it
//! has not been built, `/` says how to build it instead of a bare 404.

use std::path::Path;

use axum::handler::HandlerWithoutStateExt;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

pub fn service(dist: &Path) -> Router {
    let files = ServeDir::new(dist)
        .append_index_html_on_directories(true)
        .not_found_service(not_built_or_missing.into_service());
    Router::new().fallback_service(files).layer(CompressionLayer::new())
}

async fn not_built_or_missing(uri: axum::http::Uri) -> impl IntoResponse {
    if uri.path() == "/" || uri.path() == "/index.html" {
        let page = "<!doctype html><title>rowstream</title><h1>rowstream</h1>\
            <p>The viewer has not been built. Run <code>bash scripts/run.sh</code> (builds it and \
            starts the server) or <code>trunk build --release</code>, then reload.</p>\
            <p>The API works without it: <code>curl -H 'Authorization: JWT …' /api/messages</code>.</p>";
        (StatusCode::NOT_FOUND, Html(page)).into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}
