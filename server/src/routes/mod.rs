//! The HTTP surface. [`router`] assembles:
//!
//! | route | file | auth |
//! |---|---|---|
//! | `GET /standard`, `GET /chunked` | [`seed_api`] | JWT |
//! | `GET /api/messages` | [`messages`] | JWT |
//! | `GET /healthz`, `GET /metrics` | [`health`] | none |
//! | `GET /` and its assets (embedded, or `--dist`) | [`viewer`] | none |

pub mod health;
pub mod messages;
pub mod seed_api;
pub mod viewer;

use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::trace::TraceLayer;

use crate::auth::{require_jwt, JwtKeys};
use crate::db::Database;
use crate::error::AppError;
use crate::metrics::Metrics;

/// What every handler may need; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Database,
    pub keys: Arc<JwtKeys>,
    pub metrics: Arc<Metrics>,
    /// Rows per chunk when a request does not say.
    pub batch_size: u32,
}

impl FromRef<AppState> for Arc<JwtKeys> {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

pub fn router(state: AppState, dist: Option<&Path>) -> Router {
    let data = Router::new()
        .route("/standard", get(seed_api::standard))
        .route("/chunked", get(seed_api::chunked))
        .route("/api/messages", get(messages::messages))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_jwt));
    Router::new()
        .merge(data)
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/api/{*rest}", get(api_not_found))
        .fallback_service(viewer::service(dist))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn api_not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(uri.path().to_owned())
}
