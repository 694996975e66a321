//! `POST /api/sql`: ad-hoc SQL, off unless `--allow-sql` (then 404 `not_found`).
//!
//! Body: `{"sql": "select … where total > :min", "params": {"min": 100}}` (JSON,
//! [`shared::SqlRequest`]); the query string takes `mode`, `format` (or `Accept`), `limit`
//! and `batch`, as for tables. The statement is checked before anything runs
//! ([`crate::source::adhoc`]: one statement, a query that does not write, and with
//! `--jwt-role-claim` nothing that could leave the token's role), described by the
//! database (result columns; on PostgreSQL its parameters' types), and read in a read-only
//! transaction as the request's role: PostgreSQL `READ ONLY`, SQLite on a connection
//! opened read-only with `query_only`. Its connection is closed afterwards, never returned
//! to the pool, so no session state the statement may have changed outlives it.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use shared::SqlRequest;
use tracing::Instrument;

use super::{rows_response, AppState};
use crate::auth::RequestRole;
use crate::db::read::StatementReader;
use crate::db::resume::Unparkable;
use crate::error::AppError;
use crate::form::read_json_body;
use crate::params::parse_query;
use crate::source::adhoc::AdHoc;
use crate::source::{checked, wrapped, Dialect};

pub async fn sql(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    role: RequestRole,
    body: Body,
) -> Result<Response, AppError> {
    if !state.allow_sql {
        return Err(AppError::NotFound(
            "/api/sql (ad-hoc SQL is off: start the server with --allow-sql to serve it)".to_owned(),
        ));
    }
    let params = parse_query(query.as_deref(), &headers, false)?;
    let body = read_json_body(&headers, body, state.forms.max_body).await?;
    let request: SqlRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_parameter("body", format!("body: expected {{\"sql\": \"…\", \"params\": {{…}}}}: {e}"))
    })?;
    let dialect = if state.reader.is_embedded() { Dialect::Sqlite } else { Dialect::Postgres };
    let adhoc = AdHoc::parse(&request.sql, dialect, role.0.is_some())?;
    let span = tracing::info_span!("sql_rows", format = %params.format, mode = %params.mode);
    // keep: false: this connection is closed when the statement is done.
    let mut reader = StatementReader::new(state.reader.acquire().instrument(span.clone()).await?, false);
    let described = reader.describe(&adhoc.describe_sql()).instrument(span.clone()).await?;
    let (sql, binds) = adhoc.bind(&request.params, &described.params)?;
    reader.check(&checked(&binds)).instrument(span.clone()).await?;
    let limit = state.row_limit(params.limit);
    let copy_body = adhoc.copy_body(&binds, &described.params);
    let statement = wrapped::statement(&sql, &described.columns, dialect, binds, limit, copy_body.as_deref());
    let types = described.columns.iter().map(|c| c.column_type.clone()).collect();
    let rows = Unparkable::new(reader.rows(role.0, statement, limit, types));
    rows_response(&state, rows, described.columns, Vec::new(), params.format, params.mode, params.batch)
        .instrument(span)
        .await
}
