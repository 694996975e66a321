//! The `/hit` counter: `INCR` on one Redis key, as the seed's aiohttp app did, or, without
//! Redis, a row in the embedded database.
//!
//! - [`HitCounter::Redis`]: a [`redis::aio::ConnectionManager`] (one multiplexed connection)
//!   opened at start, owned by one task that counts hits in groups: the hits that arrive
//!   while an `INCRBY` is in flight are sent as the next `INCRBY k`, and the total it returns
//!   numbers them `total-k+1 ..= total` (group commit: the same numbers, in an order, that
//!   one `INCR` each would have given, for one round trip per group instead of per hit). A
//!   hit is answered only after Redis acknowledged its group. [`HitCounter::close`] stops
//!   the task, which drops the connection, at shutdown. Redis unreachable at start: the server starts anyway,
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
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::db::Database;
use crate::error::AppError;

pub const DEFAULT_HIT_KEY: &str = "rowstream:hits";

/// How long one connection attempt or one command may take before `/hit` gives up (503).
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// The most hits one `INCRBY` counts (and the depth of the queue in front of it).
const MAX_GROUP: usize = 1024;

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

/// One hit waiting for its number (or for the reason Redis could not count it).
type Waiter = oneshot::Sender<Result<u64, String>>;

pub struct RedisHits {
    key: String,
    /// The queue to the counting task; taken by [`HitCounter::close`], which ends the task.
    queue: Mutex<Option<mpsc::Sender<Waiter>>>,
    /// The counting task, which owns the connection; awaited by [`HitCounter::close`].
    task: Mutex<Option<JoinHandle<()>>>,
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
                let (queue, waiting) = mpsc::channel(MAX_GROUP);
                let task = tokio::spawn(count_in_groups(manager, settings.key.clone(), waiting));
                Ok(HitCounter::Redis(Arc::new(RedisHits {
                    key: settings.key.clone(),
                    queue: Mutex::new(Some(queue)),
                    task: Mutex::new(Some(task)),
                })))
            }
            (None, Database::Sqlite(pool, _)) => {
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
            .await
            .map_err(counter_error)?
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
            drop(redis.queue.lock().map(|mut q| q.take()).unwrap_or_default());
            let task = redis.task.lock().map(|mut t| t.take()).unwrap_or_default();
            if let Some(task) = task {
                // Hits still queued are answered first; a hung Redis answers within its timeout.
                if tokio::time::timeout(REDIS_TIMEOUT * 2, task).await.is_err() {
                    tracing::warn!("the Redis counting task did not stop in time");
                }
            }
            tracing::info!("Redis connection closed");
        }
    }
}

impl RedisHits {
    async fn incr(&self) -> Result<u64, AppError> {
        let shutting_down = || AppError::RedisUnavailable("the server is shutting down".into());
        let queue = self.queue.lock().ok().and_then(|q| q.clone()).ok_or_else(shutting_down)?;
        let (waiter, number) = oneshot::channel();
        queue.send(waiter).await.map_err(|_| shutting_down())?;
        match number.await {
            Ok(Ok(number)) => Ok(number),
            Ok(Err(reason)) => Err(AppError::RedisUnavailable(reason)),
            Err(_) => Err(shutting_down()),
        }
    }
}

/// The counting task: takes every hit waiting (up to [`MAX_GROUP`]), counts them with one
/// `INCRBY`, numbers them from the total, and repeats until the queue is closed. The
/// connection is dropped when it returns.
async fn count_in_groups(mut manager: ConnectionManager, key: String, mut waiting: mpsc::Receiver<Waiter>) {
    let mut group: Vec<Waiter> = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        let size = group.len() as u64;
        let counted = redis::cmd("INCRBY").arg(&key).arg(size).query_async::<u64>(&mut manager).await;
        match counted {
            Ok(total) => {
                let first = total.saturating_sub(size) + 1;
                for (number, waiter) in (first..).zip(group.drain(..)) {
                    // A hit whose client left is counted all the same, as one `INCR` would be.
                    let _ = waiter.send(Ok(number));
                }
            }
            Err(error) => {
                let reason = error.to_string();
                for waiter in group.drain(..) {
                    let _ = waiter.send(Err(reason.clone()));
                }
            }
        }
    }
}

/// A failed count in the SQLite file: busy (another writer holds it) is a 503 to retry; any
/// other failure, a read-only file included, is the server's (500), not the request's.
fn counter_error(error: sqlx::Error) -> AppError {
    match crate::db::RowStreamError::from(error) {
        crate::db::RowStreamError::Busy => AppError::DatabaseBusy,
        other => AppError::Rows(other),
    }
}
