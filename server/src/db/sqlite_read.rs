//! SQLite's read path: every row stream's statement is stepped by `rusqlite` on a blocking
//! thread, and its rows cross to the async side in batches.
//!
//! sqlx's SQLite driver steps each statement on a worker thread and hands every row to the
//! async task on its own (a channel message, a wake-up, a `SqliteRow` with its values
//! copied): that hand-off cost ~4 µs a row, 7× the time of `sqlite3 -json` for the whole
//! row. Here the thread copies each row's values into a batch of up to [`BATCH_ROWS`] rows
//! (one buffer for their text), so a wake-up is paid per batch, and the stream makes the
//! [`Cell`]s as they are asked for:
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
        let rows = Rows { columns: Arc::from(Vec::new()), batch: Batch::default() };
        SqliteRows { receiver, rows, next: 0, ended: false }
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

/// Rows as SQLite gave them: every value of every row in order, text and blobs copied into
/// one buffer. The thread only copies; the cells (and their allocations) are made on the
/// stream's side, where they are also freed: allocating them on the thread and freeing them
/// in hyper's task made glibc's malloc contend on its arena locks (~25% of the time).
#[derive(Default)]
struct Batch {
    values: Vec<Raw>,
    bytes: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Raw {
    Null,
    Int(i64),
    Real(f64),
    /// `bytes[start..end]`.
    Text(usize, usize),
    Blob(usize, usize),
}

impl Batch {
    fn push(&mut self, value: ValueRef<'_>) {
        let mut span = |bytes: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(bytes);
            (start, self.bytes.len())
        };
        let raw = match value {
            ValueRef::Null => Raw::Null,
            ValueRef::Integer(v) => Raw::Int(v),
            ValueRef::Real(v) => Raw::Real(v),
            ValueRef::Text(text) => {
                let (start, end) = span(text);
                Raw::Text(start, end)
            }
            ValueRef::Blob(blob) => {
                let (start, end) = span(blob);
                Raw::Blob(start, end)
            }
        };
        self.values.push(raw);
    }

    fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The cell of `values[index]`: a value by its storage class, whatever the column's
    /// declared type; `None` for text that is not UTF-8.
    fn cell(&self, index: usize) -> Option<Cell> {
        Some(match self.values[index] {
            Raw::Null => Cell::Null,
            Raw::Int(v) => Cell::Int(v),
            Raw::Real(v) => Cell::Float(v),
            Raw::Text(start, end) => Cell::Text(std::str::from_utf8(&self.bytes[start..end]).ok()?.to_owned()),
            Raw::Blob(start, end) => Cell::Bytes(self.bytes[start..end].to_vec()),
        })
    }
}

/// A statement's column names and a batch of its rows.
struct Rows {
    columns: Arc<[String]>,
    batch: Batch,
}

/// Batches, then `None` after the last row: a channel closed without it is a failure.
type Sender = mpsc::Sender<Result<Option<Rows>, rusqlite::Error>>;

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
    columns: Arc<[String]>,
    /// When the oldest waiting row was read.
    since: Instant,
}

impl Pending {
    fn take(&mut self) -> Rows {
        Rows { columns: self.columns.clone(), batch: std::mem::take(&mut self.rows) }
    }

    /// Sends the waiting rows if the channel has room; `Err` when the stream is gone.
    fn try_flush(&mut self, sender: &Sender) -> Result<(), ()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        match sender.try_send(Ok(Some(self.take()))) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Ok(Some(rows)))) => {
                self.rows = rows.batch;
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
    let mut statement = connection.prepare_cached(sql)?;
    for (i, param) in params.iter().enumerate() {
        bind(&mut statement, i + 1, param)?;
    }
    statement.raw_bind_parameter(params.len() + 1, limit)?;
    let width = statement.column_count();
    let columns: Arc<[String]> = statement.column_names().into_iter().map(str::to_owned).collect();
    let pending = Arc::new(Mutex::new(Pending { rows: Batch::default(), columns, since: Instant::now() }));
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
    let mut rows = statement.raw_query();
    let mut first = true;
    let mut in_batch = 0;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(_) if sender.is_closed() => return Err(Stop::Gone),
            Err(error) => return Err(error.into()),
        };
        let mut waiting = pending.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting.rows.is_empty() {
            waiting.since = Instant::now();
            in_batch = 0;
        }
        for i in 0..width {
            waiting.rows.push(row.get_ref(i)?);
        }
        in_batch += 1;
        if first || in_batch >= BATCH_ROWS {
            first = false;
            let batch = waiting.take();
            drop(waiting);
            sender.blocking_send(Ok(Some(batch))).map_err(|_| Stop::Gone)?;
        }
    }
    drop(rows);
    let rest = pending.lock().unwrap_or_else(PoisonError::into_inner).take();
    if !rest.batch.is_empty() {
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

/// One statement's rows as they come from its thread; dropping it stops the statement.
pub struct SqliteRows {
    receiver: mpsc::Receiver<Result<Option<Rows>, rusqlite::Error>>,
    rows: Rows,
    /// The next value of `rows` to hand out.
    next: usize,
    ended: bool,
}

impl SqliteRows {
    /// The next row of the batch in hand, if any.
    fn next_row(&mut self) -> Option<Result<Vec<Cell>, RowStreamError>> {
        let width = self.rows.columns.len();
        let values = &self.rows.batch.values;
        if self.next >= values.len() || width == 0 {
            return None;
        }
        let start = self.next;
        self.next += width;
        let mut cells = Vec::with_capacity(width);
        for (column, index) in (start..start + width).enumerate() {
            match self.rows.batch.cell(index) {
                Some(cell) => cells.push(cell),
                None => {
                    return Some(Err(RowStreamError::Decode {
                        column: self.rows.columns[column].clone(),
                        message: "text that is not UTF-8".to_owned(),
                    }))
                }
            }
        }
        Some(Ok(cells))
    }
}

impl Stream for SqliteRows {
    type Item = Result<Vec<Cell>, RowStreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(row) = self.next_row() {
                if row.is_err() {
                    self.ended = true;
                    self.rows.batch = Batch::default();
                }
                return Poll::Ready(Some(row));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            match std::task::ready!(self.receiver.poll_recv(cx)) {
                Some(Ok(Some(rows))) => {
                    self.rows = rows;
                    self.next = 0;
                }
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
