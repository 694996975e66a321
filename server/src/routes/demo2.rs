//! `POST /demo2`: awaits an outbound `GET --upstream-url` on the kept client and answers
//! `welcome (upstream: <status>)`. The request body is read (up to `--max-body`) and
//! ignored, as the seed's handler did. Unreachable upstream → 502, slower than
//! `--upstream-timeout` → 504, no upstream configured → 404, all JSON. Needs a JWT.

use axum::body::Body;
use axum::extract::State;

use super::AppState;
use crate::error::AppError;
use crate::form::read_limited;

pub async fn demo2(State(state): State<AppState>, body: Body) -> Result<String, AppError> {
    let upstream = state.upstream.as_ref().ok_or(AppError::UpstreamNotConfigured)?;
    read_limited(body, state.forms.max_body).await?;
    let status = upstream.call().await?;
    Ok(format!("welcome (upstream: {})", status.as_u16()))
}
