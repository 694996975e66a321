//! The `messages` query as a `Stream` of rows that owns its pooled connection.
//!
//! Rows come from sqlx `fetch`, one at a time, so nothing here holds more than the row in
//! hand. If the stream is dropped before its end (the client went away), the connection is
//! closed instead of returned to the pool: PostgreSQL then stops the query as soon as it
//! notices the socket is gone, rather than the pool draining the rest of the result.

use chrono::{DateTime, Utc};
use futures_util::{Stream, TryStreamExt};
use shared::{Message, Timestamp};

use super::Connection;

/// Which rows: `id > after`, in id order, at most `limit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowRange {
    pub after: Option<i64>,
    pub limit: Option<u64>,
}

// One statement per backend; both use the primary-key index for order and for `after`.
const POSTGRES_SQL: &str =
    "SELECT id, sender, body, created_at FROM messages WHERE id > $1 ORDER BY id LIMIT $2";
const SQLITE_SQL: &str =
    "SELECT id, sender, body, created_at FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2";

/// Streams the rows of `range` over `connection`.
pub fn stream_rows(
    connection: Connection,
    range: RowRange,
) -> impl Stream<Item = Result<Message, sqlx::Error>> + Send + 'static {
    let after = range.after.unwrap_or(i64::MIN);
    // Past i64::MAX rows there is nothing more to limit.
    let limit = range.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
    async_stream::try_stream! {
        let mut connection = CloseUnlessFinished::new(connection);
        match connection.get_mut() {
            Connection::Postgres(conn) => {
                let mut rows = sqlx::query_as::<_, (i64, String, String, DateTime<Utc>)>(POSTGRES_SQL)
                    .bind(after)
                    .bind(limit) // NULL: no limit
                    .fetch(&mut **conn);
                while let Some((id, sender, body, created_at)) = rows.try_next().await? {
                    yield Message { id, sender, body, created_at: Timestamp(created_at.timestamp_micros()) };
                }
            }
            Connection::Sqlite(conn) => {
                let mut rows = sqlx::query_as::<_, (i64, String, String, String)>(SQLITE_SQL)
                    .bind(after)
                    .bind(limit.unwrap_or(-1)) // -1: no limit
                    .fetch(&mut **conn);
                while let Some((id, sender, body, created_at)) = rows.try_next().await? {
                    let created_at = Timestamp::parse_rfc3339(&created_at)
                        .map_err(|e| sqlx::Error::ColumnDecode { index: "created_at".into(), source: Box::new(e) })?;
                    yield Message { id, sender, body, created_at };
                }
            }
        }
        connection.finished();
    }
}

/// Holds the connection of a running query; unless told the query finished, dropping it
/// closes the connection (see the module doc).
struct CloseUnlessFinished {
    connection: Connection,
    finished: bool,
}

impl CloseUnlessFinished {
    fn new(connection: Connection) -> Self {
        CloseUnlessFinished { connection, finished: false }
    }

    fn get_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }

    fn finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for CloseUnlessFinished {
    fn drop(&mut self) {
        if !self.finished {
            match &mut self.connection {
                Connection::Postgres(conn) => conn.close_on_drop(),
                Connection::Sqlite(conn) => conn.close_on_drop(),
            }
        }
    }
}
