//! The seed API's two endpoints, byte-compatible: one `object_id:{id} \n` line per row.
//!
//! `/standard` builds the whole body before sending it (the baseline); `/chunked` streams
//! the same bytes, one HTTP chunk per batch, and ends when the rows end.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::AppState;
use crate::auth::RequestRole;
use crate::body;
use crate::db::rows::stream_rows_as;
use crate::error::AppError;
use crate::params::{parse_seed, SeedEndpoint};

pub async fn standard(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    role: RequestRole,
) -> Result<Response, AppError> {
    let params = parse_seed(query.as_deref(), SeedEndpoint::Standard)?;
    let connection = state.db.acquire().await?;
    let rows = stream_rows_as(connection, params.range, role.0.as_ref()).await?;
    body::buffered(rows, &state.stream_settings()).await
}

pub async fn chunked(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    role: RequestRole,
) -> Result<Response, AppError> {
    let params = parse_seed(query.as_deref(), SeedEndpoint::Chunked)?;
    let connection = state.db.acquire().await?;
    let batch = params.batch.unwrap_or(state.batch_size);
    let rows = stream_rows_as(connection, params.range, role.0.as_ref()).await?;
    body::streamed(rows, batch, &state.stream_settings()).await
}
