//! `GET /api/tables`, `GET /api/tables/{name}` (the served relations and their schema) and
//! `GET /api/tables/{name}/rows` (their rows: `select`, PostgREST filters, `order`, keyset
//! `after`, `limit` (never more than `--max-rows`), in every format and mode).

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use shared::{Column, Relation};
use tracing::Instrument;

use super::{rows_response, AppState};
use crate::auth::RequestRole;
use crate::db::resume::resumable_rows;
use crate::db::Prime;
use crate::error::AppError;
use crate::introspect::{IntrospectError, TableDef};
use crate::params::parse_table;
use crate::source::query::Plan;
use crate::source::request::{RowsQuery, RowsRequest};
use crate::source::role::Role;
use crate::source::Dialect;

/// Every served relation; with a role (`--jwt-role-claim`), those it may read.
pub async fn list(State(state): State<AppState>, role: RequestRole) -> Result<Json<Vec<Relation>>, AppError> {
    let relations = match &role.0 {
        None => state.catalog.current().relations(),
        Some(role) => readable(&state, role).await?.iter().map(|t| t.relation.clone()).collect(),
    };
    Ok(Json(relations))
}

/// One served relation; with a role, a relation it may not read is unknown (404).
pub async fn describe(
    State(state): State<AppState>,
    Path(name): Path<String>,
    role: RequestRole,
) -> Result<Json<Relation>, AppError> {
    let table = state.catalog.get(&name).await?.ok_or_else(|| AppError::UnknownRelation(name.clone()))?;
    if let Some(role) = &role.0 {
        if !readable(&state, role).await?.iter().any(|t| t.relation.name == name) {
            return Err(AppError::UnknownRelation(name));
        }
    }
    Ok(Json(table.relation.clone()))
}

async fn readable(state: &AppState, role: &Role) -> Result<Vec<std::sync::Arc<TableDef>>, AppError> {
    state.catalog.readable_by(role).await.map_err(|error| match error {
        IntrospectError::ForbiddenRole { .. } => AppError::ForbiddenRole(error.to_string()),
        other => other.into(),
    })
}

pub async fn rows(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    role: RequestRole,
) -> Result<Response, AppError> {
    relation_rows(&state, name, query.as_deref(), &headers, role).await
}

/// The rows of relation `name` for a request's query string and headers.
pub(super) async fn relation_rows(
    state: &AppState,
    name: String,
    query: Option<&str>,
    headers: &HeaderMap,
    role: RequestRole,
) -> Result<Response, AppError> {
    let params = parse_table(query, headers)?;
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
    state.db.remember(|| Prime::Select(plan.prime().into()));
    if plan.request.keyed() {
        state.db.remember(|| Prime::statement(&plan.head(plan.request.after.as_deref(), 1)));
    }
    let connection = state.db.acquire().instrument(span.clone()).await?;
    let rows = resumable_rows(state.db.clone(), connection, plan, role.0);
    let response = rows_response(state, rows, columns, primary_key, params.format, params.mode, params.batch)
        .instrument(span)
        .await;
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
