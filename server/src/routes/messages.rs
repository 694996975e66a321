//! `GET /api/messages`: the real API. `mode=stream|buffered`, `format=ndjson|csv|json|text`
//! (or `Accept`), `limit`, `after` (keyset resume), `batch`.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use shared::Mode;

use super::AppState;
use crate::auth::RequestRole;
use crate::body;
use crate::db::rows::stream_rows_as;
use crate::encode::BodyFormat;
use crate::error::AppError;
use crate::params::parse_api;

pub async fn messages(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    role: RequestRole,
) -> Result<Response, AppError> {
    let params = parse_api(query.as_deref(), &headers)?;
    let connection = state.db.acquire().await?;
    let rows = stream_rows_as(connection, params.range, role.0.as_ref()).await?;
    let format = BodyFormat::Api(params.format);
    match params.mode {
        Mode::Stream => body::streamed(rows, format, params.batch.unwrap_or(state.batch_size), state.metrics).await,
        Mode::Buffered => body::buffered(rows, format, state.metrics).await,
    }
}
