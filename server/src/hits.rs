//! The `/hit` counter: `INCR` on one Redis key, as the seed's aiohttp app did, or, without
//! Redis, a row in the embedded database.
//!
//! - [`HitCounter::Redis`]: a [`redis::aio::ConnectionManager`] (one multiplexed connection,
//!   so concurrent `INCR`s are pipelined on it) opened at start and dropped by
//!   [`HitCounter::close`] at shutdown. Redis unreachable at start: the server starts anyway,
//!   logs it, and each `/hit` tries to connect again. Redis going away later: `/hit` answers
//!   503 `redis_unavailable` with `Retry-After`, and the manager reconnects by itself once
//!   Redis is back. A command is never retried, so one `/hit` is at most one `INCR`.
//! - [`HitCounter::Sqlite`]: `_rowstream_hits(key, count)` in the embedded database, one upsert per
//!   hit; survives restarts.
//! - [`HitCounter::Memory`]: PostgreSQL without Redis. rowstream never writes to a
//!   PostgreSQL database it was not asked to write to, so the count lives in this process and
//!   starts at 0 on every start (logged at start; README says so).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::SqlitePool;

use crate::db::Database;
use crate::error::AppError;

pub const DEFAULT_HIT_KEY: &str = "rowstream:hits";

/// How long one connection attempt or one command may take before `/hit` gives up (503).
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// `--redis-url` and `--hit-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitSettings {
    pub redis_url: Option<String>,
    pub key: String,
}

impl Default for HitSettings {
    fn default() -> Self {
        HitSettings { redis_url: None, key: DEFAULT_HIT_KEY.to_owned() }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("redis_url {url:?}: {source}")]
pub struct RedisUrlError {
    url: String,
    #[source]
    source: redis::RedisError,
}

#[derive(Debug, Clone)]
pub enum HitCounter {
    Redis(Arc<RedisHits>),
    Sqlite { pool: SqlitePool, key: String },
    Memory(Arc<AtomicU64>),
}

pub struct RedisHits {
    key: String,
    /// Taken (and so dropped, closing the connection) by [`HitCounter::close`].
    manager: Mutex<Option<ConnectionManager>>,
}

impl std::fmt::Debug for RedisHits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHits").field("key", &self.key).finish_non_exhaustive()
    }
}

impl HitCounter {
    /// Opens the counter the settings ask for. Only a malformed Redis URL is an error: an
    /// unreachable Redis is logged and retried by each `/hit`.
    pub async fn open(settings: &HitSettings, db: &Database) -> Result<HitCounter, RedisUrlError> {
        match (&settings.redis_url, db) {
            (Some(url), _) => {
                let invalid = |source| RedisUrlError { url: url.clone(), source };
                let client = redis::Client::open(url.as_str()).map_err(invalid)?;
                // Lazy: connects on first use, and again after a connection error. A
                // failed attempt is not retried within the same request (0 retries), so a
                // request never waits more than one connection timeout.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_TIMEOUT))
                    .set_response_timeout(Some(REDIS_TIMEOUT))
                    .set_number_of_retries(0);
                let mut manager = ConnectionManager::new_lazy_with_config(client, config).map_err(invalid)?;
                match redis::cmd("PING").query_async::<String>(&mut manager).await {
                    Ok(_) => tracing::info!(key = %settings.key, "/hit counts in Redis"),
                    Err(error) => tracing::warn!(
                        %error,
                        "Redis is unreachable at start; serving anyway: /hit answers 503 until Redis is back"
                    ),
                }
                Ok(HitCounter::Redis(Arc::new(RedisHits {
                    key: settings.key.clone(),
                    manager: Mutex::new(Some(manager)),
                })))
            }
            (None, Database::Sqlite(pool)) => {
                tracing::info!(key = %settings.key, "no Redis configured: /hit counts in the embedded database");
                Ok(HitCounter::Sqlite { pool: pool.clone(), key: settings.key.clone() })
            }
            (None, Database::Postgres(..)) => {
                tracing::warn!(
                    "no Redis configured and the database is PostgreSQL, which rowstream does not write to: \
                     /hit counts in memory and starts at 0 on every start (set --redis-url to keep counts)"
                );
                Ok(HitCounter::Memory(Arc::new(AtomicU64::new(0))))
            }
        }
    }

    /// Counts one hit; the new total.
    pub async fn hit(&self) -> Result<u64, AppError> {
        match self {
            HitCounter::Redis(redis) => redis.incr().await,
            HitCounter::Sqlite { pool, key } => Ok(sqlx::query_scalar::<_, i64>(
                "INSERT INTO _rowstream_hits (key, count) VALUES (?, 1) \
                 ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count",
            )
            .bind(key)
            .fetch_one(pool)
            .await?
            .max(0) as u64),
            HitCounter::Memory(count) => Ok(count.fetch_add(1, Ordering::Relaxed) + 1),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            HitCounter::Redis(_) => "redis",
            HitCounter::Sqlite { .. } => "sqlite",
            HitCounter::Memory(_) => "memory",
        }
    }

    /// Closes the Redis connection (the database pool is closed with the database).
    pub async fn close(&self) {
        if let HitCounter::Redis(redis) = self {
            let manager = redis.manager.lock().map(|mut m| m.take()).unwrap_or_default();
            drop(manager);
            tracing::info!("Redis connection closed");
        }
    }
}

impl RedisHits {
    async fn incr(&self) -> Result<u64, AppError> {
        let manager = self.manager.lock().ok().and_then(|m| m.clone());
        let Some(mut manager) = manager else {
            return Err(AppError::RedisUnavailable("the server is shutting down".into()));
        };
        redis::cmd("INCR")
            .arg(&self.key)
            .query_async::<u64>(&mut manager)
            .await
            .map_err(|e| AppError::RedisUnavailable(e.to_string()))
    }
}
