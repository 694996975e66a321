//! `GET /hit` → `{"hit": N}`: one `INCR` in Redis (or one upsert in the embedded database
//! without Redis; see [`crate::hits`]). No auth: with `/hello`, the seed's benchmark
//! endpoints. Redis down → 503 `redis_unavailable` with `Retry-After`.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::error::AppError;
use crate::hits::HitCounter;

#[derive(Debug, Serialize)]
pub struct Hit {
    pub hit: u64,
}

pub async fn hit(State(hits): State<HitCounter>) -> Result<Json<Hit>, AppError> {
    Ok(Json(Hit { hit: hits.hit().await? }))
}
