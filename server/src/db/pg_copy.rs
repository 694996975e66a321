//! Any statement's rows read with binary `COPY (…) TO STDOUT`: the fast PostgreSQL read
//! path of relations, saved queries and ad-hoc SQL ([`crate::source::Statement::copy`],
//! values written as literals by `source::literal`).
//!
//! [`CopyTupleDecoder`] splits the data into rows and fields, and each row is passed on as
//! it came ([`Row::Copy`]): its writer decodes the fields by their columns' types with
//! [`super::pg_decode`], the decoder `fetch` uses too (a `DataRow` value and a binary COPY
//! field are the same bytes), into cells or straight into its own buffers (Arrow). Chunks
//! are read from the socket as the consumer asks, so nothing here holds more than the rows
//! of one chunk.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use shared::ColumnType;
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::copy_binary::{CopyDecodeError, CopyTupleDecoder};
use super::error::RowStreamError;
use super::table_rows::Row;

/// Runs `copy` (a binary `COPY … TO STDOUT`) of `types.len()` columns and yields its rows
/// as they arrive.
pub(super) fn rows<'c>(
    conn: &'c mut PoolConnection<Postgres>,
    copy: &'c str,
    types: &'c [ColumnType],
) -> BoxStream<'c, Result<Row, RowStreamError>> {
    async_stream::try_stream! {
        let mut chunks = conn.copy_out_raw(copy).await?;
        let mut decoder = CopyTupleDecoder::new(types.len());
        while let Some(chunk) = chunks.try_next().await? {
            decoder.feed(chunk);
            while let Some(tuple) = decoder.next_row().map_err(copy_error)? {
                yield Row::Copy(tuple);
            }
        }
        decoder.finish().map_err(copy_error)?;
        if !decoder.is_finished() {
            Err(copy_error(CopyDecodeError::Truncated))?;
        }
    }
    .boxed()
}

fn copy_error(error: CopyDecodeError) -> RowStreamError {
    RowStreamError::Copy(error)
}
