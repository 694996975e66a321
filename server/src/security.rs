//! Response headers that protect browsers, and CORS.
//!
//! Every response gets `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
//! The viewer (see [`crate::routes::viewer`]) also gets [`VIEWER_CSP`]: only its own
//! scripts, compiled WebAssembly (`'wasm-unsafe-eval'`), its own stylesheet (the table sets
//! heights and transforms through CSSOM, which style-src does not govern), `fetch` to this
//! origin only, no frames, no plugins.
//!
//! CORS is off (no `Access-Control-*` header, so browsers keep other origins out) unless
//! `--cors-origin` names origins: then those, and only those, may call the API with a token.

use axum::http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

pub const VIEWER_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'self'";

/// Origins allowed to call the API from a browser (`--cors-origin`); empty: CORS off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsSettings {
    pub origins: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cors_origin {0:?} is not an origin like https://example.com or http://127.0.0.1:3000")]
pub struct BadOrigin(String);

impl CorsSettings {
    /// Checks every origin (scheme://host[:port], nothing after it).
    pub fn validate(&self) -> Result<(), BadOrigin> {
        for origin in &self.origins {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && origin.split_once("://").is_some_and(|(_, rest)| !rest.is_empty() && !rest.contains('/'))
                && HeaderValue::from_str(origin).is_ok();
            if !ok {
                return Err(BadOrigin(origin.clone()));
            }
        }
        Ok(())
    }

    fn layer(&self) -> Option<CorsLayer> {
        if self.origins.is_empty() {
            return None;
        }
        let origins: Vec<HeaderValue> = self.origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::HEAD, Method::POST])
                .allow_headers([AUTHORIZATION, ACCEPT, CONTENT_TYPE]),
        )
    }
}

/// Adds the headers every response gets (called by [`crate::edge`] on every response);
/// a header the handler set is kept.
pub fn protect_headers(headers: &mut HeaderMap) {
    headers.reserve(2);
    headers.entry(X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    headers.entry(REFERRER_POLICY).or_insert(HeaderValue::from_static("no-referrer"));
}

/// CORS, when configured.
pub fn cors(router: Router, cors: &CorsSettings) -> Router {
    match cors.layer() {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// The Content-Security-Policy layer for the viewer's pages.
pub fn viewer_csp() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(CONTENT_SECURITY_POLICY, HeaderValue::from_static(VIEWER_CSP))
}
