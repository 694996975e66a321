//! `GET /healthz` (can the database be read? 503 `database_unavailable` when not) and `GET /metrics` (Prometheus text).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::AppState;
use crate::error::AppError;

pub async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    state.db.ping().await.map_err(AppError::DatabaseUnavailable)?;
    Ok(Json(json!({ "status": "ok", "database": state.db.backend_name() })))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render_prometheus();
    if let Some(running) = state.db.sqlite_statements_running() {
        let name = "rowstream_sqlite_statements_running";
        text.push_str(&format!(
            "# HELP {name} SQLite statements being stepped.\n# TYPE {name} gauge\n{name} {running}\n"
        ));
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
