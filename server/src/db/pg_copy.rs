//! Any statement's rows read with binary `COPY (…) TO STDOUT`: the fast PostgreSQL read
//! path of relations, saved queries and ad-hoc SQL ([`crate::source::Statement::copy`],
//! values written as literals by `source::literal`).
//!
//! [`CopyTupleDecoder`] splits the data into rows and fields; each field is decoded by its
//! column's type with [`pg_decode::decode`], the same decoder `fetch` uses (a `DataRow`
//! value and a binary COPY field are the same bytes). Chunks are read from the socket as the
//! consumer asks, so nothing here holds more than the rows of one chunk.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use shared::ColumnType;
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::copy_binary::{CopyDecodeError, CopyTupleDecoder, Tuple};
use super::error::RowStreamError;
use super::pg_decode;
use crate::cell::Cell;

/// Runs `copy` (a binary `COPY … TO STDOUT`) and decodes its rows by `types` as they arrive.
pub(super) fn rows<'c>(
    conn: &'c mut PoolConnection<Postgres>,
    copy: &'c str,
    types: &'c [ColumnType],
) -> BoxStream<'c, Result<Vec<Cell>, RowStreamError>> {
    async_stream::try_stream! {
        let mut chunks = conn.copy_out_raw(copy).await?;
        let mut decoder = CopyTupleDecoder::new(types.len());
        while let Some(chunk) = chunks.try_next().await? {
            decoder.feed(chunk);
            while let Some(tuple) = decoder.next_row().map_err(copy_error)? {
                yield decode(&tuple, types)?;
            }
        }
        decoder.finish().map_err(copy_error)?;
        if !decoder.is_finished() {
            Err(copy_error(CopyDecodeError::Truncated))?;
        }
    }
    .boxed()
}

/// One row's cells, each field decoded by its column's type.
pub(super) fn decode(tuple: &Tuple, types: &[ColumnType]) -> Result<Vec<Cell>, RowStreamError> {
    let mut cells = Vec::with_capacity(types.len());
    for (i, (field, ty)) in tuple.fields().zip(types).enumerate() {
        cells.push(match field {
            None => Cell::Null,
            Some(bytes) => pg_decode::decode(ty, bytes)
                .map_err(|message| RowStreamError::Decode { column: format!("#{}", i + 1), message })?,
        });
    }
    if cells.len() != types.len() {
        return Err(copy_error(CopyDecodeError::Truncated));
    }
    Ok(cells)
}

fn copy_error(error: CopyDecodeError) -> RowStreamError {
    RowStreamError::Copy(error)
}
