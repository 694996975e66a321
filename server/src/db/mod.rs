//! The database: one pool, PostgreSQL or SQLite, chosen by the URL's scheme.
//!
//! - [`Database`]: the pool, connecting and migrating.
//! - [`rows`]: the `messages` query as a stream of `shared::Message`, owning its connection.
//! - [`table_rows`]: any relation's rows (statements from `crate::source`) as a stream of
//!   rows (cells, or binary COPY rows their writer decodes), owning its connection;
//!   [`pg_decode`] decodes PostgreSQL's binary values by type ([`pg_numeric`]: `numeric`).
//! - [`read`]: the read-only transaction (with the request's role) every row stream reads
//!   in, and the rows of a saved query or ad-hoc statement; [`pg_types`] maps the types a
//!   statement's description names.
//! - [`resume`]: [`resume::Park`]: a stream that gives its connection back while its client
//!   stalls and resumes by key (`messages`).
//! - [`sqlite_read`]: SQLite's read path: statements stepped by rusqlite on a blocking
//!   thread, rows sent to the stream in batches.
//! - [`error`]: [`RowStreamError`], which keeps `sqlx::Error` inside this module.
//! - [`migrations`]: the embedded schema migrations.

pub mod copy_binary;
pub mod error;
pub mod migrations;
pub mod pg_copy;
pub mod pg_decode;
pub mod pg_numeric;
pub mod pg_types;
pub mod read;
pub mod resume;
pub mod rows;
pub mod sqlite_read;
pub mod table_rows;

pub use error::RowStreamError;

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, Postgres, Sqlite, SqlitePool};

pub use sqlite_read::SqliteReads;

/// What the database layer needs to open its pools; `crate::config` builds it from the
/// flags, environment and settings file (the dependency points from config to here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSettings {
    /// `sqlite://FILE` or `postgres://…`.
    pub url: String,
    /// Connections per pool (`--pool-size`).
    pub pool_size: u32,
    /// How long a request waits for a pooled connection (`--acquire-timeout`).
    pub acquire_timeout: Duration,
    /// How PostgreSQL rows are read (`--pg-read`).
    pub pg_read: PgRead,
}

/// The name our PostgreSQL sessions carry in `pg_stat_activity`, unless the URL
/// (`?application_name=`) or `PGAPPNAME` names them otherwise.
pub const APPLICATION_NAME: &str = "rowstream";

/// PostgreSQL connections the pool keeps open while idle (at most the pool size).
const WARM_CONNECTIONS: u32 = 2;

/// Sets how often a PostgreSQL backend checks, while it runs a query, that rowstream is
/// still connected (PostgreSQL 14+). A stream dropped early closes its connection (see
/// [`rows`]); a backend that is sending rows notices at once, one still computing its
/// first row (a slow view, a lock wait, `--first-row-timeout`) within this interval.
const CLIENT_CHECK_SQL: &str = "SET client_connection_check_interval = 1000";

/// How PostgreSQL rows are read: binary `COPY … TO STDOUT` (fast) or sqlx `fetch` (for
/// servers that speak the protocol without binary COPY; also chosen automatically when a
/// COPY is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PgRead {
    #[default]
    Copy,
    Fetch,
}

/// How one PostgreSQL pool reads rows: the configured [`PgRead`], and whether its server
/// has refused binary COPY (then every later request of this pool reads with `fetch`).
/// Shared by the pool's clones and its connections; nothing of it is process-wide.
#[derive(Debug, Clone)]
pub struct ReadPath(Arc<ReadPathState>);

#[derive(Debug)]
struct ReadPathState {
    configured: PgRead,
    copy_refused: AtomicBool,
    /// A connection of this pool ran the COPY probe: later connections skip it (a parked
    /// stream reconnects on resume, and every round trip at connect delays that).
    copy_confirmed: AtomicBool,
    /// What the pool's latest requests read, most recent first (at most [`PRIMED`]).
    primes: Mutex<VecDeque<Prime>>,
}

/// How many of the latest requests' statements a new connection primes.
const PRIMED: usize = 8;

/// A statement a new connection runs before it serves requests, so that a request that
/// lands on a fresh backend does not wait while it loads the catalog entries of what it
/// reads (~1 ms for a wide table: relation, columns, index, statistics, types' send
/// functions) or prepares its statement: the pool remembers what its latest requests read
/// ([`Database::remember`]) and every connection it opens afterwards runs those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prime {
    /// A query that reads no rows (`LIMIT 0`) of a relation, written by
    /// `source::query::Plan::prime`: run unprepared with binary results, it plans the
    /// relation's query and looks up its types' send functions, as a binary COPY would.
    Select(Arc<str>),
    /// A statement sqlx prepares and keeps in the connection's statement cache (a saved
    /// query's description, a relation's head query), so the request finds it there. The
    /// parameters are declared with the types the request binds (`PostgreSQL` would
    /// otherwise infer `date` for `CAST($1 AS date)`, where text is bound).
    Prepare { sql: Arc<str>, params: Arc<[BindType]> },
}

/// The PostgreSQL type a [`Bind`](crate::source::Bind) is sent as (`table_rows::bind_pg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindType {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Text,
    Bytes,
}

impl BindType {
    fn of(bind: &crate::source::Bind) -> BindType {
        use crate::source::Bind;
        match bind {
            Bind::Bool(_) => BindType::Bool,
            Bind::I16(_) => BindType::I16,
            Bind::I32(_) => BindType::I32,
            Bind::I64(_) => BindType::I64,
            Bind::F32(_) => BindType::F32,
            Bind::F64(_) => BindType::F64,
            Bind::Text(_) | Bind::Null => BindType::Text,
            Bind::Bytes(_) => BindType::Bytes,
        }
    }

    fn type_info(self) -> sqlx::postgres::PgTypeInfo {
        use sqlx::{Postgres, Type};
        match self {
            BindType::Bool => <bool as Type<Postgres>>::type_info(),
            BindType::I16 => <i16 as Type<Postgres>>::type_info(),
            BindType::I32 => <i32 as Type<Postgres>>::type_info(),
            BindType::I64 => <i64 as Type<Postgres>>::type_info(),
            BindType::F32 => <f32 as Type<Postgres>>::type_info(),
            BindType::F64 => <f64 as Type<Postgres>>::type_info(),
            BindType::Text => <String as Type<Postgres>>::type_info(),
            BindType::Bytes => <Vec<u8> as Type<Postgres>>::type_info(),
        }
    }
}

impl Prime {
    /// A statement prepared without declared parameters (a saved query's description).
    pub fn describe(sql: &str) -> Prime {
        Prime::Prepare { sql: sql.into(), params: Arc::new([]) }
    }

    /// `statement` as `fetch` will run it: its parameters, then the `LIMIT` (int8).
    pub fn statement(statement: &crate::source::Statement) -> Prime {
        let params = statement.params.iter().map(|p| BindType::of(&p.bind)).chain([BindType::I64]).collect();
        Prime::Prepare { sql: statement.sql.as_str().into(), params }
    }
}

impl ReadPath {
    pub fn new(configured: PgRead) -> ReadPath {
        ReadPath(Arc::new(ReadPathState {
            configured,
            copy_refused: AtomicBool::new(false),
            copy_confirmed: AtomicBool::new(false),
            primes: Mutex::new(VecDeque::with_capacity(PRIMED)),
        }))
    }

    /// Remembers `prime` as the latest request's (see [`Prime`]).
    fn remember(&self, prime: Prime) {
        let Ok(mut primes) = self.0.primes.lock() else {
            return; // poisoned: priming is only an optimisation
        };
        if primes.front() == Some(&prime) {
            return;
        }
        primes.retain(|p| *p != prime);
        primes.push_front(prime);
        primes.truncate(PRIMED);
    }

    fn primes(&self) -> Vec<Prime> {
        self.0.primes.lock().map(|p| p.iter().cloned().collect()).unwrap_or_default()
    }

    /// Whether rows are read with binary COPY (configured so, and never refused).
    pub fn uses_copy(&self) -> bool {
        self.0.configured == PgRead::Copy && !self.0.copy_refused.load(Ordering::Relaxed)
    }

    /// The server refused binary COPY: read with `fetch` from now on.
    pub(crate) fn copy_refused(&self) {
        self.0.copy_refused.store(true, Ordering::Relaxed);
    }
}

/// A binary COPY that reads nothing: whether the server takes `COPY … TO STDOUT (FORMAT
/// binary)` at all.
const COPY_PROBE_SQL: &str = "COPY (SELECT 1 WHERE false) TO STDOUT (FORMAT binary)";

/// Runs [`COPY_PROBE_SQL`] on a new connection. A server that refuses it (any database
/// error: other PostgreSQL-protocol servers use other codes) is remembered in `read`
/// (every request of the pool reads with `fetch` from then on) and the connection is
/// dropped (`Err`; the pool opens another, which skips the probe): sqlx leaves a refused
/// COPY's end of response unread on it.
async fn probe_copy(conn: &mut sqlx::PgConnection, read: &ReadPath) -> Result<(), sqlx::Error> {
    use futures_util::TryStreamExt as _;
    let outcome = match conn.copy_out_raw(COPY_PROBE_SQL).await {
        Ok(chunks) => chunks.try_for_each(|_| async { Ok(()) }).await,
        Err(error) => Err(error),
    };
    match outcome {
        Err(error @ sqlx::Error::Database(_)) => {
            tracing::warn!(%error, "the database does not support binary COPY TO STDOUT; reading with fetch from now on");
            read.copy_refused();
            Err(error)
        }
        other => other,
    }
}

/// Runs the pool's [`Prime`]s on a new connection; a failure is only logged (the relation
/// may be gone, or readable only by a role).
async fn prime(conn: &mut sqlx::PgConnection, read: &ReadPath) {
    use sqlx::Executor as _;
    for prime in read.primes() {
        let outcome = match &prime {
            Prime::Select(sql) => sqlx::query(sql).persistent(false).execute(&mut *conn).await.map(drop),
            Prime::Prepare { sql, params } => {
                let types: Vec<_> = params.iter().map(|t| t.type_info()).collect();
                conn.prepare_with(sql, &types).await.map(drop)
            }
        };
        if let Err(error) = outcome {
            tracing::debug!(%error, ?prime, "could not prime a statement");
            if !matches!(error, sqlx::Error::Database(_)) {
                return;
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum Database {
    Postgres(PgPool, ReadPath),
    /// sqlx's pool (writes, migrations, preparing statements) and the read connections
    /// rows are streamed from.
    Sqlite(SqlitePool, SqliteReads),
}

/// A connection taken from the pool, for one request. On SQLite its rows are read by
/// [`SqliteReads`]; the pooled connection counts the request against `--pool-size`.
#[derive(Debug)]
pub enum Connection {
    Postgres(PoolConnection<Postgres>, ReadPath),
    Sqlite(PoolConnection<Sqlite>, SqliteReads),
}

impl Connection {
    /// Whether one transaction can span several statements of a stream (PostgreSQL). On
    /// SQLite each statement reads its own snapshot on a read connection of its own.
    pub(crate) fn spans_statements(&self) -> bool {
        matches!(self, Connection::Postgres(..))
    }
}

/// A lazily connecting SQLite pool of `--pool-size` connections opened with `options`.
fn sqlite_pool(options: SqliteConnectOptions, settings: &DbSettings) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(settings.pool_size)
        .test_before_acquire(false)
        .acquire_timeout(settings.acquire_timeout)
        .connect_lazy_with(options)
}

impl Database {
    /// Opens the pool (lazily: the first connection is made by the first query). An SQLite
    /// file is created when missing.
    pub fn connect(settings: &DbSettings) -> Result<Database, sqlx::Error> {
        let url = settings.url.as_str();
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                // WAL: readers (streams) never block the seeder or each other.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .disable_statement_logging();
            let reads = SqliteReads::new(&options, settings.pool_size as usize);
            Ok(Database::Sqlite(sqlite_pool(options, settings), reads))
        } else {
            let mut options = PgConnectOptions::from_str(url)?.disable_statement_logging();
            if options.get_application_name().is_none() {
                options = options.application_name(APPLICATION_NAME);
            }
            let read = ReadPath::new(settings.pg_read);
            let probe = read.clone();
            let pool = PgPoolOptions::new()
                .max_connections(settings.pool_size)
                // Opened at start (`warm_up`) and kept: a request never waits for
                // PostgreSQL to start a backend (2-4 ms), even the one that arrives while the
                // previous request's connection is still being checked on its way back
                // (sqlx pings every connection it returns to the pool).
                .min_connections(settings.pool_size.min(WARM_CONNECTIONS))
                .acquire_timeout(settings.acquire_timeout)
                // No ping per request: a dead connection fails the query, which says so.
                .test_before_acquire(false)
                .after_connect(move |conn, _| {
                    let read = probe.clone();
                    Box::pin(async move {
                        // JIT compiles large scans before their first row (~20 ms at 5M
                        // rows): pure loss for a stream. Servers without the setting
                        // (other PostgreSQL-protocol databases) just keep their default.
                        if let Err(error) = sqlx::query("SET jit = off").execute(&mut *conn).await {
                            tracing::debug!(%error, "could not turn JIT off");
                        }
                        // Servers without the setting (before 14, other PostgreSQL-protocol
                        // databases) stop a query only when they next write to the socket.
                        if let Err(error) = sqlx::query(CLIENT_CHECK_SQL).execute(&mut *conn).await {
                            tracing::debug!(%error, "could not set client_connection_check_interval");
                        }
                        // A new backend loads the catalog entries of the row query on first
                        // use (~1 ms): load them now, not in some request's first byte.
                        // Before `messages` exists this fails, harmlessly.
                        if let Err(error) = sqlx::query(rows::PRIME_SQL).persistent(false).execute(&mut *conn).await {
                            tracing::debug!(%error, "could not prime the row query");
                        }
                        // Relations and queries read with binary COPY inside their
                        // transaction, where a refused COPY would abort it: ask once, here.
                        if read.uses_copy() && !read.0.copy_confirmed.load(Ordering::Relaxed) {
                            probe_copy(conn, &read).await?;
                            read.0.copy_confirmed.store(true, Ordering::Relaxed);
                        }
                        prime(conn, &read).await;
                        Ok(())
                    })
                })
                .connect_lazy_with(options);
            Ok(Database::Postgres(pool, read))
        }
    }

    /// The pool ad-hoc SQL and saved queries read from. PostgreSQL: this pool (each of their
    /// transactions is `READ ONLY`). SQLite: a pool of its own whose connections are opened
    /// read-only (`SQLITE_OPEN_READONLY`) with `PRAGMA query_only = ON`, so nothing they run
    /// can write, whatever it is.
    pub fn reader(&self, settings: &DbSettings) -> Result<Database, sqlx::Error> {
        match self {
            Database::Postgres(..) => Ok(self.clone()),
            Database::Sqlite(_, reads) => {
                let options = SqliteConnectOptions::from_str(&settings.url)?
                    .read_only(true)
                    .pragma("query_only", "ON")
                    .busy_timeout(Duration::from_secs(5))
                    .disable_statement_logging();
                Ok(Database::Sqlite(sqlite_pool(options, settings), reads.clone()))
            }
        }
    }

    /// Remembers what a request reads, for the connections the pool opens next (see
    /// [`Prime`]). PostgreSQL only.
    pub fn remember(&self, prime: impl FnOnce() -> Prime) {
        if let Database::Postgres(_, read) = self {
            read.remember(prime());
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Database::Postgres(..) => "postgres",
            Database::Sqlite(..) => "sqlite",
        }
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self, Database::Sqlite(..))
    }

    /// Creates `messages` when it is missing. A PostgreSQL database that already has the
    /// table is left untouched (no migrations table is added): rowstream may be pointed at
    /// a table it does not own, with a user that may only read it.
    pub async fn prepare(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Database::Postgres(pool, _) => {
                if !self.messages_exists().await? {
                    migrations::postgres().await?.run(pool).await?;
                }
            }
            Database::Sqlite(pool, _) => migrations::sqlite().await?.run(pool).await?,
        }
        Ok(())
    }

    /// Like [`Database::prepare`], but always runs the migrations: for `seed`, which writes.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Database::Postgres(pool, _) => migrations::postgres().await?.run(pool).await,
            Database::Sqlite(pool, _) => migrations::sqlite().await?.run(pool).await,
        }
    }

    async fn messages_exists(&self) -> Result<bool, sqlx::Error> {
        match self {
            Database::Postgres(pool, _) => {
                sqlx::query_scalar("SELECT to_regclass('messages') IS NOT NULL").fetch_one(pool).await
            }
            Database::Sqlite(pool, _) => {
                sqlx::query_scalar("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'messages'")
                    .fetch_one(pool)
                    .await
            }
        }
    }

    /// Opens the pool's warm connections now instead of during the first requests: sqlx
    /// keeps `min_connections` open once it has them but a lazy pool does not open them.
    /// A failure is only logged; requests then open connections as they need them.
    pub async fn warm_up(&self) {
        if let Database::Postgres(pool, _) = self {
            let wanted = pool.options().get_min_connections();
            let opened = futures_util::future::join_all((0..wanted).map(|_| pool.acquire())).await;
            if let Some(Err(error)) = opened.into_iter().find(Result::is_err) {
                tracing::warn!(%error, "could not open the warm connections");
            }
        }
    }

    /// Whether `messages` has no rows (cheap: stops at the first row).
    pub async fn is_empty(&self) -> Result<bool, RowStreamError> {
        let sql = "SELECT NOT EXISTS (SELECT 1 FROM messages)";
        Ok(match self {
            Database::Postgres(pool, _) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Database::Sqlite(pool, _) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        })
    }

    /// Takes a connection for one request; waits at most the acquire timeout.
    pub async fn acquire(&self) -> Result<Connection, RowStreamError> {
        Ok(match self {
            Database::Postgres(pool, read) => Connection::Postgres(pool.acquire().await?, read.clone()),
            Database::Sqlite(pool, reads) => Connection::Sqlite(pool.acquire().await?, reads.clone()),
        })
    }

    /// SQLite statements being stepped now; `None` on PostgreSQL (see `pg_stat_activity`).
    pub fn sqlite_statements_running(&self) -> Option<usize> {
        match self {
            Database::Sqlite(_, reads) => Some(reads.running()),
            Database::Postgres(..) => None,
        }
    }

    /// Verifies a connection can be made and the table read: for `/healthz`.
    pub async fn ping(&self) -> Result<(), RowStreamError> {
        self.is_empty().await.map(|_| ())
    }

    pub async fn close(&self) {
        match self {
            Database::Postgres(pool, _) => pool.close().await,
            Database::Sqlite(pool, _) => pool.close().await,
        }
    }
}
