//! SQLite's read path: every row stream's statement is stepped by `rusqlite` on a blocking
//! thread, and its rows cross to the async side in batches.
//!
//! sqlx's SQLite driver steps each statement on a worker thread and hands every row to the
//! async task on its own (a channel message, a wake-up, a `SqliteRow` with its values
//! copied): that hand-off cost ~4 µs a row, 7× the time of `sqlite3 -json` for the whole
//! row. Here the thread decodes each row into [`Cell`]s and sends them in batches of up to
//! [`BATCH_ROWS`], so a wake-up is paid per batch:
//!
//! - the first row of a statement goes out alone, at once (time to first byte);
//! - a batch goes out when it is full; while the async side holds [`CHANNEL_BATCHES`]
//!   batches the thread waits, so a slow client slows the statement (backpressure) and
//!   memory holds a few batches;
//! - rows never wait long in a batch: SQLite calls a progress handler every
//!   [`PROGRESS_OPS`] virtual-machine steps, also while it scans rows that do not match a
//!   filter, and the handler sends what waited [`MAX_WAIT`] or more;
//! - the same handler interrupts the statement as soon as the stream is dropped (the
//!   client left, `--first-row-timeout`), even before its first row.
//!
//! Connections are opened read-only (`SQLITE_OPEN_READONLY`, `query_only`) on the same
//! file as the pool, so a read can never write, and kept for the next stream (at most as
//! many as the pool has connections). rusqlite links the same `libsqlite3-sys` as sqlx:
//! one SQLite library in the binary. One statement is one read transaction, so it reads
//! one snapshot (WAL: writers never block it).

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::Stream;
use rusqlite::types::ValueRef;
use rusqlite::OpenFlags;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::mpsc;

use super::error::RowStreamError;
use crate::cell::Cell;
use crate::source::Bind;

/// Rows per batch sent to the async side.
pub const BATCH_ROWS: usize = 256;
/// Batches in flight between the thread and the stream.
const CHANNEL_BATCHES: usize = 2;
/// Longest a row waits in an unfinished batch while the statement keeps running.
const MAX_WAIT: Duration = Duration::from_millis(1);
/// SQLite virtual-machine steps between two calls of the progress handler (~10-50 µs).
const PROGRESS_OPS: i32 = 1000;

/// Opens and keeps the read connections of one SQLite database. Cloned with its pool.
#[derive(Debug, Clone)]
pub struct SqliteReads(Arc<Opener>);

#[derive(Debug)]
struct Opener {
    path: PathBuf,
    flags: OpenFlags,
    idle: Mutex<Vec<rusqlite::Connection>>,
    keep: usize,
    /// Statements whose thread has not ended.
    running: AtomicUsize,
}

/// Counts one statement's thread in [`Opener::running`] until it ends, panicking or not.
struct Running(Arc<Opener>);

impl Running {
    fn start(opener: &Arc<Opener>) -> Running {
        opener.running.fetch_add(1, Ordering::Relaxed);
        Running(opener.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SqliteReads {
    /// Read connections to the database `options` opens, keeping up to `keep` idle.
    pub fn new(options: &SqliteConnectOptions, keep: usize) -> SqliteReads {
        let path = options.get_filename().to_path_buf();
        let mut flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // sqlx names an in-memory database `file:sqlx-in-memory-N`, shared-cache.
        if path.to_string_lossy().starts_with("file:sqlx-in-memory-") {
            flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
        }
        SqliteReads(Arc::new(Opener { path, flags, idle: Mutex::new(Vec::new()), keep, running: AtomicUsize::new(0) }))
    }

    /// Statements being stepped now (`rowstream_sqlite_statements_running`).
    pub fn running(&self) -> usize {
        self.0.running.load(Ordering::Relaxed)
    }

    /// The rows of `sql` with `params` bound in order (`?1`…), then `limit` (`-1`: none),
    /// as a stream of cells per row. The statement runs on a blocking thread; dropping the
    /// stream stops it.
    pub fn rows(&self, sql: String, params: Vec<Bind>, limit: i64) -> SqliteRows {
        let (sender, receiver) = mpsc::channel(CHANNEL_BATCHES);
        let running = Running::start(&self.0);
        tokio::task::spawn_blocking(move || {
            let opener = &running.0;
            let connection = match opener.take() {
                Ok(connection) => connection,
                Err(error) => {
                    let _ = sender.blocking_send(Err(error));
                    return;
                }
            };
            let outcome = step(&connection, &sql, &params, limit, &sender);
            connection.progress_handler(0, None::<fn() -> bool>);
            let clean = match outcome {
                Ok(()) => sender.blocking_send(Ok(None)).is_ok(),
                Err(Stop::Gone) => !connection.is_busy(),
                Err(Stop::Failed(error)) => {
                    let _ = sender.blocking_send(Err(error));
                    !connection.is_busy()
                }
            };
            if clean {
                opener.give_back(connection);
            }
        });
        SqliteRows { receiver, batch: Vec::new().into_iter(), ended: false }
    }
}

impl Opener {
    fn take(&self) -> Result<rusqlite::Connection, rusqlite::Error> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match idle {
            Some(connection) => Ok(connection),
            None => {
                let connection = rusqlite::Connection::open_with_flags(&self.path, self.flags)?;
                connection.busy_timeout(Duration::from_secs(5))?;
                connection.pragma_update(None, "query_only", true)?;
                Ok(connection)
            }
        }
    }

    fn give_back(&self, connection: rusqlite::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.keep {
            idle.push(connection);
        }
    }
}

type Batch = Vec<Vec<Cell>>;
/// Batches, then `None` after the last row: a channel closed without it is a failure.
type Sender = mpsc::Sender<Result<Option<Batch>, rusqlite::Error>>;

/// Why [`step`] stopped before the statement's end.
enum Stop {
    /// The stream was dropped: nobody reads the rows.
    Gone,
    Failed(rusqlite::Error),
}

impl From<rusqlite::Error> for Stop {
    fn from(error: rusqlite::Error) -> Self {
        Stop::Failed(error)
    }
}

/// The rows waiting to be sent, shared by the stepping loop and the progress handler.
struct Pending {
    rows: Batch,
    /// When the oldest waiting row was read.
    since: Instant,
}

impl Pending {
    /// Sends the waiting rows if the channel has room; `Err` when the stream is gone.
    fn try_flush(&mut self, sender: &Sender) -> Result<(), ()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        match sender.try_send(Ok(Some(std::mem::take(&mut self.rows)))) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Ok(Some(rows)))) => {
                self.rows = rows;
                Ok(())
            }
            Err(_) => Err(()),
        }
    }
}

fn step(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[Bind],
    limit: i64,
    sender: &Sender,
) -> Result<(), Stop> {
    let pending = Arc::new(Mutex::new(Pending { rows: Vec::new(), since: Instant::now() }));
    {
        let pending = pending.clone();
        let sender = sender.clone();
        connection.progress_handler(
            PROGRESS_OPS,
            Some(move || {
                let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
                if !pending.rows.is_empty()
                    && pending.since.elapsed() >= MAX_WAIT
                    && pending.try_flush(&sender).is_err()
                {
                    return true;
                }
                sender.is_closed() // true interrupts the statement
            }),
        );
    }
    let mut statement = connection.prepare_cached(sql)?;
    for (i, param) in params.iter().enumerate() {
        bind(&mut statement, i + 1, param)?;
    }
    statement.raw_bind_parameter(params.len() + 1, limit)?;
    let width = statement.column_count();
    let mut rows = statement.raw_query();
    let mut first = true;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(_) if sender.is_closed() => return Err(Stop::Gone),
            Err(error) => return Err(error.into()),
        };
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(decode(row.get_ref(i)?).ok_or_else(|| not_utf8(row.as_ref(), i))?);
        }
        let mut waiting = pending.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting.rows.is_empty() {
            waiting.since = Instant::now();
        }
        waiting.rows.push(cells);
        if first || waiting.rows.len() >= BATCH_ROWS {
            first = false;
            let batch = std::mem::take(&mut waiting.rows);
            drop(waiting);
            sender.blocking_send(Ok(Some(batch))).map_err(|_| Stop::Gone)?;
        }
    }
    drop(rows);
    let rest = std::mem::take(&mut pending.lock().unwrap_or_else(PoisonError::into_inner).rows);
    if !rest.is_empty() {
        sender.blocking_send(Ok(Some(rest))).map_err(|_| Stop::Gone)?;
    }
    Ok(())
}

fn bind(statement: &mut rusqlite::CachedStatement<'_>, index: usize, value: &Bind) -> rusqlite::Result<()> {
    // As sqlx binds them: booleans and every integer as INTEGER, floats as REAL.
    match value {
        Bind::Bool(v) => statement.raw_bind_parameter(index, i64::from(*v)),
        Bind::I16(v) => statement.raw_bind_parameter(index, i64::from(*v)),
        Bind::I32(v) => statement.raw_bind_parameter(index, i64::from(*v)),
        Bind::I64(v) => statement.raw_bind_parameter(index, *v),
        Bind::F32(v) => statement.raw_bind_parameter(index, f64::from(*v)),
        Bind::F64(v) => statement.raw_bind_parameter(index, *v),
        Bind::Text(v) => statement.raw_bind_parameter(index, v.as_str()),
        Bind::Bytes(v) => statement.raw_bind_parameter(index, v.as_slice()),
        Bind::Null => statement.raw_bind_parameter(index, rusqlite::types::Null),
    }
}

/// A value by its storage class, whatever the column's declared type; `None`: text that is
/// not UTF-8.
fn decode(value: ValueRef<'_>) -> Option<Cell> {
    Some(match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(v) => Cell::Int(v),
        ValueRef::Real(v) => Cell::Float(v),
        ValueRef::Text(text) => Cell::Text(String::from_utf8(text.to_vec()).ok()?),
        ValueRef::Blob(bytes) => Cell::Bytes(bytes.to_vec()),
    })
}

fn not_utf8(statement: &rusqlite::Statement<'_>, column: usize) -> Stop {
    let name = statement.column_name(column).map_or_else(|_| column.to_string(), str::to_owned);
    Stop::Failed(rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("column {name:?}: text that is not UTF-8").into(),
    ))
}

/// One statement's rows as they come from its thread; dropping it stops the statement.
pub struct SqliteRows {
    receiver: mpsc::Receiver<Result<Option<Batch>, rusqlite::Error>>,
    batch: std::vec::IntoIter<Vec<Cell>>,
    ended: bool,
}

impl Stream for SqliteRows {
    type Item = Result<Vec<Cell>, RowStreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(row) = self.batch.next() {
                return Poll::Ready(Some(Ok(row)));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            match std::task::ready!(self.receiver.poll_recv(cx)) {
                Some(Ok(Some(batch))) => self.batch = batch.into_iter(),
                Some(Ok(None)) => self.ended = true,
                Some(Err(error)) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(error.into())));
                }
                None => {
                    // The thread ended without saying so (it panicked): never a clean end.
                    self.ended = true;
                    return Poll::Ready(Some(Err(RowStreamError::ReadThread)));
                }
            }
        }
    }
}
