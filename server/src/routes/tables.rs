//! `GET /api/tables`, `GET /api/tables/{name}` (the served relations and their schema) and
//! `GET /api/tables/{name}/rows` (their rows: `select`, PostgREST filters, `order`, keyset
//! `after`, `limit` (never more than `--max-rows`), in every format and mode).

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use shared::{Column, Mode, Relation};
use tracing::Instrument;

use super::AppState;
use crate::body;
use crate::db::table_rows::stream_table;
use crate::error::AppError;
use crate::params::parse_table;
use crate::source::query::Plan;
use crate::source::request::{RowsQuery, RowsRequest};
use crate::source::Dialect;
use crate::wire::TableEncoder;

pub async fn list(State(state): State<AppState>) -> Json<Vec<Relation>> {
    Json(state.catalog.current().relations())
}

pub async fn describe(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Relation>, AppError> {
    let table = state.catalog.get(&name).await?.ok_or(AppError::UnknownRelation(name))?;
    Ok(Json(table.relation.clone()))
}

pub async fn rows(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let params = parse_table(query.as_deref(), &headers)?;
    let table = state.catalog.get(&name).await?.ok_or_else(|| AppError::UnknownRelation(name.clone()))?;
    let dialect = if state.db.is_embedded() { Dialect::Sqlite } else { Dialect::Postgres };
    let rows_query = RowsQuery {
        select: params.select.as_deref(),
        order: params.order.as_deref(),
        after: params.after.as_deref(),
        filters: params.filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        limit: state.row_limit(params.limit),
    };
    let request = RowsRequest::parse(dialect, table, &rows_query)?;
    let relation = &request.table.relation;
    let columns: Vec<Column> = request.select.iter().map(|c| relation.columns[*c].clone()).collect();
    let primary_key = relation.primary_key.clone();
    let plan = Plan::new(request);
    let span = tracing::info_span!("table_rows", relation = %name, format = %params.format, mode = %params.mode);
    let connection = state.db.acquire().instrument(span.clone()).await?;
    let rows = stream_table(connection, plan);
    let format = params.format;
    let batch = params.batch.unwrap_or(state.batch_size);
    let encoder = move |capacity| TableEncoder::new(format, &columns, &primary_key, batch, capacity);
    let settings = state.stream_settings();
    let response = match params.mode {
        Mode::Stream => body::streamed_with(rows, encoder, batch, &settings).instrument(span).await,
        Mode::Buffered => body::buffered_with(rows, encoder, &settings).instrument(span).await,
    };
    if let Err(error) = &response {
        if error.is_schema_drift() {
            // The relation changed since it was read: the next request sees it as it is now.
            if let Err(refresh) = state.catalog.refresh().await {
                tracing::warn!(%refresh, "could not re-read the catalog");
            }
        }
    }
    response
}
