//! `GET /api/messages`: the rows of the `messages` table, exactly as
//! `GET /api/tables/messages/rows` sends them (the same parameters, formats, modes, keyset
//! `after` — a plain id works, `after=499990` — and parking). It is the seed's API path, kept;
//! `messages` is one table like any other.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{tables, AppState};
use crate::auth::RequestRole;
use crate::error::AppError;

/// The relation `/api/messages` serves.
const MESSAGES: &str = "messages";

pub async fn messages(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    role: RequestRole,
) -> Result<Response, AppError> {
    tables::relation_rows(&state, MESSAGES.to_owned(), query.as_deref(), &headers, role).await
}
