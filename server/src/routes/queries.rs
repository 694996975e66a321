//! `GET /api/queries` (the saved queries, with their parameters and result columns),
//! `GET /api/queries/{name}` (one) and `GET /api/queries/{name}/rows` (its rows: the
//! query's parameters by name, plus `mode`, `format` or `Accept`, `limit`, `batch`).
//!
//! Result columns are what the database says the statement returns: the listing asks
//! afresh each time; a request for rows uses the description sqlx keeps with the
//! connection's prepared statement (after a schema change, a request that fails on it
//! closes its connection, so the next one describes the query again). The rows are read in
//! a read-only transaction as the request's role, like a relation's.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use shared::SavedQuery;
use tracing::Instrument;

use super::{rows_response, AppState};
use crate::auth::RequestRole;
use crate::db::read::StatementReader;
use crate::db::resume::Unparkable;
use crate::db::{Prime, RowStreamError};
use crate::error::AppError;
use crate::params::parse_query;
use crate::source::adhoc::DESCRIBE_PREFIX;
use crate::source::saved::SavedQueryDef;
use crate::source::{checked, wrapped};

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<SavedQuery>>, AppError> {
    let mut reader = StatementReader::new(state.reader.acquire().await?, true);
    reader.forget_prepared().await?;
    let mut queries = Vec::with_capacity(state.queries.len());
    for def in state.queries.iter() {
        queries.push(describe(&mut reader, def).await?);
    }
    reader.done();
    Ok(Json(queries))
}

pub async fn one(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<SavedQuery>, AppError> {
    let def = find(&state, &name)?;
    let mut reader = StatementReader::new(state.reader.acquire().await?, true);
    reader.forget_prepared().await?;
    let query = describe(&mut reader, def).await?;
    reader.done();
    Ok(Json(query))
}

pub async fn rows(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    role: RequestRole,
) -> Result<Response, AppError> {
    let params = parse_query(query.as_deref(), &headers, true)?;
    let def = find(&state, &name)?;
    let binds = def.bind(&params.values)?;
    let span = tracing::info_span!("query_rows", query = %name, format = %params.format, mode = %params.mode);
    let mut reader = StatementReader::new(state.reader.acquire().instrument(span.clone()).await?, true);
    let describe_sql = format!("{DESCRIBE_PREFIX}{}", def.body);
    state.reader.remember(|| Prime::describe(&describe_sql));
    let described = reader.describe(&describe_sql).instrument(span.clone()).await.map_err(|error| {
        match error {
            // The database no longer takes the configured SQL (a table changed): not the
            // request's fault.
            RowStreamError::BadSql(_) => AppError::Rows(error),
            other => other.into(),
        }
    })?;
    reader.check(&checked(&binds)).instrument(span.clone()).await?;
    let limit = state.row_limit(params.limit);
    let copy_body = def.copy_body(&binds);
    let statement = wrapped::statement(&def.body, &described.columns, def.dialect, binds, limit, copy_body.as_deref());
    let types = described.columns.iter().map(|c| c.column_type.clone()).collect();
    let rows = Unparkable::new(reader.rows(role.0, statement, limit, types));
    rows_response(&state, rows, described.columns, Vec::new(), params.format, params.mode, params.batch)
        .instrument(span)
        .await
}

fn find<'a>(state: &'a AppState, name: &str) -> Result<&'a SavedQueryDef, AppError> {
    state.queries.iter().find(|q| q.name == name).ok_or_else(|| AppError::UnknownQuery(name.to_owned()))
}

/// The query as listed: its result columns, or why the database cannot say them now.
async fn describe(reader: &mut StatementReader, def: &SavedQueryDef) -> Result<SavedQuery, AppError> {
    match reader.describe(&format!("{DESCRIBE_PREFIX}{}", def.body)).await {
        Ok(described) => Ok(def.wire(described.columns, None)),
        Err(RowStreamError::BadSql(message)) => Ok(def.wire(Vec::new(), Some(message))),
        Err(error) => Err(error.into()),
    }
}
