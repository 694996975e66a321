//! The seed API's two endpoints, byte-compatible: one `object_id:{id} \n` line per row.
//!
//! `/standard` builds the whole body before sending it (the baseline); `/chunked` streams
//! the same bytes, one HTTP chunk per batch, and ends when the rows end.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::AppState;
use crate::body;
use crate::db::rows::stream_rows;
use crate::encode::BodyFormat;
use crate::error::AppError;
use crate::params::{parse_seed, SeedEndpoint};

pub async fn standard(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let params = parse_seed(query.as_deref(), SeedEndpoint::Standard)?;
    let connection = state.db.acquire().await?;
    body::buffered(stream_rows(connection, params.range), BodyFormat::SeedLines, &state.stream_settings()).await
}

pub async fn chunked(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let params = parse_seed(query.as_deref(), SeedEndpoint::Chunked)?;
    let connection = state.db.acquire().await?;
    let batch = params.batch.unwrap_or(state.batch_size);
    let settings = state.stream_settings();
    body::streamed(stream_rows(connection, params.range), BodyFormat::SeedLines, batch, &settings).await
}
