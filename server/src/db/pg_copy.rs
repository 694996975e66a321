//! Any statement's rows read with binary `COPY (…) TO STDOUT`: the fast PostgreSQL read
//! path of relations, saved queries and ad-hoc SQL ([`crate::source::Statement::copy`],
//! values written as literals by `source::literal`).
//!
//! [`CopyTupleDecoder`] splits the data into rows and fields, and each row is passed on as
//! it came ([`Row::Copy`]): its writer decodes the fields by their columns' types with
//! [`super::pg_decode`], the decoder `fetch` uses too (a `DataRow` value and a binary COPY
//! field are the same bytes), into cells or straight into its own buffers (Arrow). Rows go
//! on in blocks ([`Block`]): those decoded from the chunks sqlx has at hand, at most
//! [`BLOCK_ROWS`], the first row alone; chunks are read from the socket as the consumer
//! asks, so nothing here holds more than one block.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt as _, Stream, StreamExt as _};
use shared::ColumnType;
use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::copy_binary::{CopyDecodeError, CopyTupleDecoder};
use super::error::RowStreamError;
use super::table_rows::{Block, Row, BLOCK_ROWS};

/// Runs `copy` (a binary `COPY … TO STDOUT`) of `types.len()` columns and yields its rows
/// as they arrive, in blocks: the rows that are there when polled, at most [`BLOCK_ROWS`].
pub(super) fn rows<'c>(
    conn: &'c mut PoolConnection<Postgres>,
    copy: &'c str,
    types: &'c [ColumnType],
) -> BoxStream<'c, Block> {
    CopyRows {
        start: Some(Box::pin(conn.copy_out_raw(copy))),
        chunks: None,
        decoder: CopyTupleDecoder::new(types.len()),
        last_rows: 0,
        done: false,
    }
    .boxed()
}

/// The COPY data as sqlx reads it: a chunk a `CopyData` message.
type Chunks<'c> = BoxStream<'c, Result<Bytes, sqlx::Error>>;

/// See [`rows`]. Written out rather than with `async_stream`: a generator's yield per row
/// was a tenth of a stream's CPU.
struct CopyRows<'c> {
    /// The COPY being started.
    start: Option<BoxFuture<'c, Result<Chunks<'c>, sqlx::Error>>>,
    chunks: Option<Chunks<'c>>,
    decoder: CopyTupleDecoder,
    /// Rows in the last block yielded (never empty), 0 before the first.
    last_rows: usize,
    done: bool,
}

impl Stream for CopyRows<'_> {
    type Item = Block;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Block>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(start) = this.start.as_mut() {
            let started = ready!(start.poll_unpin(cx));
            this.start = None;
            match started {
                Ok(chunks) => this.chunks = Some(chunks),
                Err(error) => {
                    this.done = true;
                    return Poll::Ready(Some(Block { rows: Vec::new(), error: Some(error.into()) }));
                }
            }
        }
        let Some(chunks) = this.chunks.as_mut() else {
            return Poll::Ready(None);
        };
        // Room for as many rows as the last block had: one allocation a block at full speed.
        let mut block = Block { rows: Vec::with_capacity(this.last_rows), error: None };
        loop {
            loop {
                match this.decoder.next_row() {
                    Ok(Some(tuple)) => {
                        block.rows.push(Row::Copy(tuple));
                        // The first row goes on alone: a statement without a head query
                        // (saved queries, ad-hoc SQL) streams flat out, and its first row
                        // would wait for the block to fill (TTFB 3 ms instead of 0.7).
                        if block.rows.len() >= BLOCK_ROWS || this.last_rows == 0 {
                            return this.ready(block);
                        }
                    }
                    Ok(None) => break,
                    Err(error) => return this.fail(block, copy_error(error)),
                }
            }
            match chunks.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.decoder.feed(chunk),
                Poll::Ready(Some(Err(error))) => return this.fail(block, error.into()),
                Poll::Ready(None) => {
                    let ended = this.decoder.finish().and_then(|()| match this.decoder.is_finished() {
                        true => Ok(()),
                        false => Err(CopyDecodeError::Truncated),
                    });
                    if let Err(error) = ended {
                        return this.fail(block, copy_error(error));
                    }
                    this.done = true;
                    return Poll::Ready((!block.rows.is_empty()).then_some(block));
                }
                Poll::Pending if block.rows.is_empty() => return Poll::Pending,
                Poll::Pending => return this.ready(block),
            }
        }
    }
}

impl CopyRows<'_> {
    fn ready(&mut self, block: Block) -> Poll<Option<Block>> {
        self.last_rows = block.rows.len();
        Poll::Ready(Some(block))
    }

    /// The rows read so far, then `error`, and nothing after.
    fn fail(&mut self, mut block: Block, error: RowStreamError) -> Poll<Option<Block>> {
        self.done = true;
        block.error = Some(error);
        Poll::Ready(Some(block))
    }
}

fn copy_error(error: CopyDecodeError) -> RowStreamError {
    RowStreamError::Copy(error)
}
