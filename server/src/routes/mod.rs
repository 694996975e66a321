//! The HTTP surface. [`router`] assembles:
//!
//! | route | file | auth |
//! |---|---|---|
//! | `GET /standard`, `GET /chunked` | [`seed_api`] | JWT |
//! | `GET /api/messages` | [`messages`] | JWT |
//! | `GET /api/tables`, `/api/tables/{name}`, `/api/tables/{name}/rows` | [`tables`] | JWT |
//! | `GET /api/queries`, `/api/queries/{name}`, `/api/queries/{name}/rows` | [`queries`] | JWT |
//! | `POST /api/sql` (`--allow-sql`) | [`sql`] | JWT |
//! | `GET /healthz`, `GET /metrics` | [`health`] | none |
//! | `GET /hello` | [`hello`] | none |
//! | `POST /demo1/{name}`, `POST /greet` | [`forms`] | JWT |
//! | `POST /demo2` | [`demo2`] | JWT |
//! | `GET /hit` | [`hit`] | none |
//! | `--static` mounts | [`crate::static_files`] | none |
//! | `GET /` and its assets (embedded, or `--dist`) | [`viewer`] | none |

pub mod demo2;
pub mod downloads;
pub mod forms;
pub mod health;
pub mod hello;
pub mod hit;
pub mod messages;
pub mod queries;
pub mod seed_api;
pub mod sql;
pub mod tables;
pub mod viewer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{middleware, Router};
use futures_util::Stream;
use shared::{Column, Format, Mode};
use tower_http::trace::TraceLayer;

use crate::auth::{require_jwt, JwtKeys};
use crate::body::{self, StreamSettings};
use crate::db::resume::Park;
use crate::db::table_rows::TableItem;
use crate::db::{Database, RowStreamError};
use crate::error::AppError;
use crate::form::FormLimits;
use crate::hits::HitCounter;
use crate::introspect::CatalogHandle;
use crate::metrics::Metrics;
use crate::source::saved::SavedQueryDef;
use crate::static_files::{self, StaticError, StaticSettings};
use crate::upstream::Upstream;
use crate::wire::TableEncoder;

/// What every handler may need, behind one `Arc`: axum clones the state for every request,
/// so a clone must cost one reference count, not one per field (it was ~5% of `/hello`'s
/// CPU, seen with `perf`).
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppContext>);

impl AppState {
    pub fn new(context: AppContext) -> AppState {
        AppState(Arc::new(context))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

/// The server's parts that handlers use (see [`AppState`]).
#[derive(Debug)]
pub struct AppContext {
    pub db: Database,
    pub keys: Arc<JwtKeys>,
    pub metrics: Arc<Metrics>,
    /// Rows per chunk when a request does not say.
    pub batch_size: u32,
    /// The most rows one response sends (`--max-rows`); `None`: no cap.
    pub max_rows: Option<u64>,
    /// How long a query may take to send its first row (`--first-row-timeout`).
    pub first_row_timeout: Duration,
    /// How long a stream waits for a stalled client before it parks (`--park-after`).
    pub park_after: Option<Duration>,
    /// The served relations (introspected; re-read when a name is unknown).
    pub catalog: Arc<CatalogHandle>,
    /// How much of a request body the form routes and `/demo2` read.
    pub forms: FormLimits,
    /// The kept client for `/demo2`; `None` when no `--upstream-url` is set.
    pub upstream: Option<Upstream>,
    pub hits: HitCounter,
    /// Where saved queries and ad-hoc SQL read (SQLite: a read-only pool of its own).
    pub reader: Database,
    /// The saved queries of the settings file.
    pub queries: Arc<Vec<SavedQueryDef>>,
    /// Whether `POST /api/sql` is served (`--allow-sql`).
    pub allow_sql: bool,
}

impl AppContext {
    /// What the response bodies need: metrics and the first-row timeout.
    pub fn stream_settings(&self) -> StreamSettings {
        StreamSettings {
            metrics: self.metrics.clone(),
            first_row_timeout: self.first_row_timeout,
            park_after: self.park_after,
        }
    }

    /// The rows a request may get: its `limit`, and never more than `--max-rows`.
    pub fn row_limit(&self, limit: Option<u64>) -> Option<u64> {
        match (limit, self.max_rows) {
            (Some(limit), Some(cap)) => Some(limit.min(cap)),
            (limit, cap) => limit.or(cap),
        }
    }
}

impl FromRef<AppState> for FormLimits {
    fn from_ref(state: &AppState) -> Self {
        state.forms
    }
}

impl FromRef<AppState> for HitCounter {
    fn from_ref(state: &AppState) -> Self {
        state.hits.clone()
    }
}

impl FromRef<AppState> for Arc<JwtKeys> {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

/// Fails only when a static mount's directory is missing.
pub fn router(state: AppState, dist: Option<&Path>, statics: &StaticSettings) -> Result<Router, StaticError> {
    let data = Router::new()
        .route("/standard", get(seed_api::standard))
        .route("/chunked", get(seed_api::chunked))
        .route("/api/messages", get(messages::messages))
        .route("/api/tables", get(tables::list))
        .route("/api/tables/{name}", get(tables::describe))
        .route("/api/tables/{name}/rows", get(tables::rows))
        .route("/api/queries", get(queries::list))
        .route("/api/queries/{name}", get(queries::one))
        .route("/api/queries/{name}/rows", get(queries::rows))
        .route("/api/sql", post(sql::sql))
        .route("/api/downloads", post(downloads::create))
        .route("/demo1/{name}", post(forms::demo1))
        .route("/greet", post(forms::greet))
        .route("/demo2", post(demo2::demo2))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_jwt));
    let router = Router::new()
        .merge(data)
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/hello", get(hello::hello))
        .route("/hit", get(hit::hit))
        .route("/api/{*rest}", get(api_not_found))
        .method_not_allowed_fallback(method_not_allowed);
    let router = static_files::mount_all(router, statics)?;
    Ok(router.fallback_service(viewer::service(dist)).layer(TraceLayer::new_for_http()).with_state(state))
}

/// A relation's or a query's row stream as the response, in `format` and `mode`. A stream
/// that can [park](crate::db::resume::Park) does so when its client stalls.
pub(crate) async fn rows_response<S>(
    state: &AppState,
    rows: S,
    columns: Vec<Column>,
    primary_key: Vec<String>,
    format: Format,
    mode: Mode,
    batch: Option<u32>,
) -> Result<Response, AppError>
where
    S: Stream<Item = Result<TableItem, RowStreamError>> + Park + Unpin + Send + 'static,
{
    let batch = batch.unwrap_or(state.batch_size);
    let encoder = move |capacity| TableEncoder::new(format, &columns, &primary_key, batch, capacity);
    let settings = state.stream_settings();
    match mode {
        Mode::Stream => body::streamed_with(rows, encoder, batch, &settings).await,
        Mode::Buffered => body::buffered_with(rows, encoder, &settings).await,
    }
}

/// A known path with another method: 405 with the JSON error body, like every 4xx.
async fn method_not_allowed(method: axum::http::Method) -> AppError {
    AppError::MethodNotAllowed(method)
}

async fn api_not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(uri.path().to_owned())
}
