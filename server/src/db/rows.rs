//! The `messages` query as a `Stream` of rows that owns its pooled connection.
//!
//! Rows are read one at a time, so nothing here holds more than the row in hand. PostgreSQL
//! is read with `COPY (SELECT …) TO STDOUT (FORMAT binary)` (see [`super::copy_binary`]) or,
//! with `pg_read = fetch` and for servers that speak the protocol but lack binary COPY, with
//! sqlx `fetch`; SQLite by [`super::sqlite_read`]. Each is fed from the database as the
//! consumer asks, never collected whole.
//!
//! If the stream is dropped before its end (the client went away), the connection is
//! closed instead of returned to the pool: PostgreSQL then stops the query as soon as it
//! notices the socket is gone, rather than the pool draining the rest of the result.

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt as _, TryStreamExt};
use shared::{Message, Timestamp};
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::copy_binary::CopyBinaryDecoder;
use super::read::InTransaction;
use super::{Connection, ReadPath, RowStreamError};
use crate::cell::Cell;
use crate::source::role::Role;
use crate::source::Bind;

/// Which rows: `id > after`, in id order, at most `limit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowRange {
    pub after: Option<i64>,
    pub limit: Option<u64>,
}

// Casts: a table with `id integer` or `created_at timestamp` reads the same.
macro_rules! postgres_select {
    () => {
        "SELECT id::int8, sender::text, body::text, created_at::timestamptz FROM messages"
    };
}
const POSTGRES_SELECT: &str = postgres_select!();

/// Plans (without running) the row query, which loads every catalog entry it needs.
pub(crate) const PRIME_SQL: &str = concat!("EXPLAIN ", postgres_select!(), " WHERE id > 0 ORDER BY id LIMIT 1");
const SQLITE_SQL: &str = "SELECT id, sender, body, created_at FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2";

/// Streams the rows of `range` over `connection`.
///
/// The first row is read by a query of its own (`LIMIT 1`), the rest by a second query that
/// resumes after it (`id > first.id`), exactly as a client resuming with `after=` would. One
/// query for everything would have the database stream flat out from its first row on: it
/// sends its first packet and keeps the core it woke us on busy for milliseconds, while our
/// task waits behind it to forward the first row (seen with `perf sched`: 2-4 ms first-byte
/// outliers on 2 cores). The head query ends after one row, so nothing competes while the
/// first row goes out; the bulk query starts when the consumer asks for the second row.
///
/// Each query reads its own snapshot. Every row sent was committed, and every row committed
/// before the stream began and still present is sent, once, in id order.
pub fn stream_rows(
    connection: Connection,
    range: RowRange,
) -> impl Stream<Item = Result<Message, RowStreamError>> + Send + 'static {
    read_range(CloseUnlessFinished::new(connection), range, false)
}

/// [`stream_rows`] in the transaction [`super::read::begin_as`] began (as the request's
/// role), committed after the last row.
pub fn stream_rows_in(
    transaction: InTransaction,
    range: RowRange,
) -> impl Stream<Item = Result<Message, RowStreamError>> + Send + 'static {
    read_range(transaction.0, range, true)
}

/// [`stream_rows`], as `role` when one is given: then in a read-only transaction begun as
/// that role ([`super::read::begin_as`]), so that its privileges decide.
pub async fn stream_rows_as(
    connection: Connection,
    range: RowRange,
    role: Option<&Role>,
) -> Result<impl Stream<Item = Result<Message, RowStreamError>> + Send + 'static, RowStreamError> {
    Ok(match role {
        None => stream_rows(connection, range).left_stream(),
        Some(role) => stream_rows_in(super::read::begin_as(connection, role).await?, range).right_stream(),
    })
}

fn read_range(
    mut connection: CloseUnlessFinished,
    range: RowRange,
    commit: bool,
) -> impl Stream<Item = Result<Message, RowStreamError>> + Send + 'static {
    let after = range.after.unwrap_or(i64::MIN);
    // Past i64::MAX rows there is nothing more to limit.
    let limit = range.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
    async_stream::try_stream! {
        let mut first_id = None;
        if limit != Some(0) {
            let head = read_rows(connection.get_mut(), after, Some(1));
            futures_util::pin_mut!(head);
            while let Some(row) = head.try_next().await? {
                first_id = Some(row.id);
                yield row;
            }
        }
        // Rows still wanted after the first (`None`: all of them).
        let rest = limit.map(|l| l - 1);
        if let Some(first_id) = first_id {
            if rest != Some(0) {
                let bulk = read_rows(connection.get_mut(), first_id, rest);
                futures_util::pin_mut!(bulk);
                while let Some(row) = bulk.try_next().await? {
                    yield row;
                }
            }
        }
        if commit {
            super::read::commit(connection.get_mut()).await?;
        }
        connection.finished();
    }
}

/// One query: the rows with `id > after`, in id order, at most `limit` (all when `None`).
fn read_rows(
    connection: &mut Connection,
    after: i64,
    limit: Option<i64>,
) -> impl Stream<Item = Result<Message, RowStreamError>> + Send + '_ {
    async_stream::try_stream! {
        match connection {
            Connection::Postgres(conn, read) => {
                let mut fetch_instead = !read.uses_copy();
                if !fetch_instead {
                    match start_copy(conn, read, after, limit).await? {
                        Some(mut chunks) => {
                            let mut decoder = CopyBinaryDecoder::new();
                            while let Some(chunk) = chunks.try_next().await? {
                                decoder.feed(chunk);
                                while let Some(row) = decoder.next_row()? {
                                    yield row;
                                }
                            }
                            decoder.finish()?;
                        }
                        None => fetch_instead = true,
                    }
                }
                if fetch_instead {
                    let sql = format!("{POSTGRES_SELECT} WHERE id > $1 ORDER BY id LIMIT $2");
                    let mut rows = sqlx::query_as::<_, (i64, String, String, DateTime<Utc>)>(&sql)
                        .bind(after)
                        .bind(limit) // NULL: no limit
                        .fetch(&mut **conn);
                    while let Some((id, sender, body, created_at)) = rows.try_next().await? {
                        yield Message { id, sender, body, created_at: Timestamp(created_at.timestamp_micros()) };
                    }
                }
            }
            Connection::Sqlite(_, reads) => {
                let mut rows = reads.rows(SQLITE_SQL.to_owned(), vec![Bind::I64(after)], limit.unwrap_or(-1)); // -1: no limit
                while let Some(cells) = rows.try_next().await? {
                    yield message(cells)?;
                }
            }
        }
    }
}

/// A `messages` row from SQLite's cells (`id`, `sender`, `body`, `created_at` as RFC 3339).
fn message(cells: Vec<Cell>) -> Result<Message, RowStreamError> {
    let column = |name: &str, message: String| RowStreamError::Decode { column: name.into(), message };
    let mut cells = cells.into_iter();
    let (Some(Cell::Int(id)), Some(sender), Some(body), Some(Cell::Text(created_at))) =
        (cells.next(), cells.next(), cells.next(), cells.next())
    else {
        return Err(column("id", "a messages row without an integer id and a text created_at".into()));
    };
    let text = |name: &str, cell: Cell| match cell {
        Cell::Text(text) => Ok(text),
        other => Err(column(name, format!("expected text, found {other:?}"))),
    };
    let created_at = Timestamp::parse_rfc3339(&created_at).map_err(|e| column("created_at", e.to_string()))?;
    Ok(Message { id, sender: text("sender", sender)?, body: text("body", body)?, created_at })
}

type CopyChunks<'c> = futures_util::stream::BoxStream<'c, Result<bytes::Bytes, sqlx::Error>>;

/// Starts the binary COPY; `None` when the server does not support it (then the caller
/// uses `fetch`, and so does every later request of this pool: see [`super::ReadPath`]).
async fn start_copy<'c>(
    conn: &'c mut PoolConnection<Postgres>,
    read: &ReadPath,
    after: i64,
    limit: Option<i64>,
) -> Result<Option<CopyChunks<'c>>, sqlx::Error> {
    // COPY takes no bind parameters; both values are integers we parsed, so inlining them
    // cannot inject anything.
    let limit = limit.map_or_else(|| "ALL".to_owned(), |l| l.to_string());
    let sql =
        format!("COPY ({POSTGRES_SELECT} WHERE id > {after} ORDER BY id LIMIT {limit}) TO STDOUT (FORMAT binary)");
    match conn.copy_out_raw(&sql).await {
        Ok(chunks) => Ok(Some(chunks)),
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("0A000" | "42601")) => {
            tracing::warn!(error = %e, "the database does not support binary COPY TO STDOUT; reading with fetch from now on");
            read.copy_refused();
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Holds the connection of a running query; unless told the query finished, dropping it
/// closes the connection (see the module doc).
pub(super) struct CloseUnlessFinished {
    connection: Connection,
    finished: bool,
}

impl CloseUnlessFinished {
    pub(super) fn new(connection: Connection) -> Self {
        CloseUnlessFinished { connection, finished: false }
    }

    pub(super) fn get_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }

    pub(super) fn finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for CloseUnlessFinished {
    fn drop(&mut self) {
        if !self.finished {
            match &mut self.connection {
                Connection::Postgres(conn, _) => conn.close_on_drop(),
                // Its rows were read on a read connection that the stream stopped; the
                // pooled connection ran nothing and goes back as it is.
                Connection::Sqlite(..) => {}
            }
        }
    }
}
