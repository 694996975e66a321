//! Row streams into HTTP bodies.
//!
//! [`streamed`]: the rows are encoded as they arrive; the first row is sent alone the moment
//! it is read (first byte in well under a millisecond), then every `batch` rows go out as one
//! chunk. hyper polls the body only when the socket can take more, so a slow client slows
//! the query down instead of filling memory, and a client that leaves drops the stream,
//! which closes the database connection (see `db::rows`).
//!
//! [`buffered`]: the baseline. The whole result is collected, then encoded, then sent with a
//! `Content-Length`, as the seed API's "standard" endpoint did.
//!
//! Both wait at most [`StreamSettings::first_row_timeout`] for the first item of the row
//! stream (before the status line): a query that sends nothing by then is dropped, which
//! closes its connection and so stops it, and the answer is a 504 `query_timeout`. Only that
//! wait is timed: once a row came, a slow reader is never cut.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::{Stream, StreamExt, TryStreamExt};
use shared::Message;

use crate::db::rows::MessageItem;
use crate::encode::{BodyFormat, ChunkEncoder, Encoder};
use crate::error::AppError;
use crate::metrics::{Metrics, StreamOutcome, StreamTracker};

/// What every body needs from the server: its metrics and how long a query may take to
/// send its first row.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub metrics: Arc<Metrics>,
    pub first_row_timeout: Duration,
}

/// Waits for the row stream's first item, at most `timeout`.
async fn first_item<S, T, X>(rows: &mut S, timeout: Duration) -> Result<Option<Result<T, X>>, AppError>
where
    S: Stream<Item = Result<T, X>> + Unpin,
{
    tokio::time::timeout(timeout, rows.next()).await.map_err(|_| AppError::QueryTimeout(timeout))
}

/// How long a stream pauses after sending its first row, before the bulk (see `streamed`).
const FIRST_ROW_HEADSTART: std::time::Duration = std::time::Duration::from_millis(1);

/// How long a failed stream waits between its error frame and the abort.
const ERROR_FRAME_GRACE: std::time::Duration = std::time::Duration::from_millis(50);

/// Bytes a row takes in the widest format, to size chunk buffers without regrowing.
const ROW_BYTES_ESTIMATE: usize = 160;

/// A stream that broke after its status line was sent. hyper answers it by aborting the
/// connection without the terminating chunk, so the client sees an incomplete body.
#[derive(Debug, thiserror::Error)]
#[error("stream aborted after {rows} rows: {source}")]
pub struct StreamAborted {
    rows: u64,
    source: AppError,
}

/// Streams `rows` as they come. The query's first row (or its error) is awaited before the
/// status line, so a query that fails at once still gets a proper error status.
pub async fn streamed<S>(
    rows: S,
    format: BodyFormat,
    batch: u32,
    settings: &StreamSettings,
) -> Result<Response, AppError>
where
    S: Stream<Item = Result<Message, sqlx::Error>> + Send + 'static,
{
    let rows = rows.map_ok(MessageItem::Row);
    streamed_with(rows, |capacity| Encoder::new(format, capacity), batch, settings).await
}

/// [`streamed`] for any row stream and encoder: `encoder(capacity)` makes the encoder.
pub async fn streamed_with<S, E, X>(
    rows: S,
    encoder: impl FnOnce(usize) -> E,
    batch: u32,
    settings: &StreamSettings,
) -> Result<Response, AppError>
where
    E: ChunkEncoder,
    X: Into<AppError> + Send + 'static,
    S: Stream<Item = Result<E::Item, X>> + Send + 'static,
{
    let tracker = StreamTracker::start(settings.metrics.clone());
    let mut rows = Box::pin(rows);
    let first = match first_item(&mut rows, settings.first_row_timeout).await {
        Ok(Some(Err(error))) => {
            tracker.finish(StreamOutcome::Failed);
            return Err(error.into());
        }
        Err(timeout) => {
            // Dropping the stream closes its connection: the query stops (see `db::rows`).
            tracker.finish(StreamOutcome::Failed);
            return Err(timeout);
        }
        Ok(first) => first,
    };
    let mut encoder = encoder(batch as usize * ROW_BYTES_ESTIMATE);
    let content_type = encoder.content_type();
    let batch = batch as u64;
    let chunks = async_stream::stream! {
        encoder.begin();
        let mut next = first;
        let mut flush_at = 1; // the first row goes out alone; then whole batches
        let mut counted = 0; // rows already added to the metrics
        loop {
            match next {
                Some(Ok(row)) => {
                    encoder.item(&row);
                    if encoder.rows() == flush_at {
                        tracker.rows_read(encoder.rows() - counted);
                        counted = encoder.rows();
                        let chunk = encoder.take();
                        tracker.bytes_sent(chunk.len());
                        yield Ok(chunk);
                        if flush_at == 1 {
                            // Two reasons to pause here. hyper flushes its write buffer only
                            // when the body is pending (or the buffer is full): without a
                            // pending poll the first row could wait for a few hundred KB of
                            // later rows. And the next poll starts the bulk query (see
                            // `db::rows::stream_rows`), after which this task and the database
                            // read and encode at full speed: on a host whose cores the client
                            // shares (a local viewer, a sidecar) that can keep the client from
                            // running to take the first row for 2-3 ms. The pause lets it
                            // run first; the whole stream loses about as much.
                            tokio::time::sleep(FIRST_ROW_HEADSTART).await;
                        }
                        flush_at += batch;
                    }
                }
                Some(Err(error)) => {
                    let error: AppError = error.into();
                    tracker.rows_read(encoder.rows() - counted);
                    tracing::warn!(rows = encoder.rows(), %error, "stream failed after its status line");
                    encoder.error(&error.body());
                    if encoder.pending() > 0 {
                        yield Ok(encoder.take());
                        // hyper drops its unsent buffer when a body errors: give it a moment to
                        // flush the frame first. The stream is dead anyway; this only delays
                        // the abort.
                        tokio::time::sleep(ERROR_FRAME_GRACE).await;
                    }
                    let rows = encoder.rows();
                    tracker.finish(StreamOutcome::Failed);
                    yield Err(StreamAborted { rows, source: error });
                    return;
                }
                None => {
                    tracker.rows_read(encoder.rows() - counted);
                    encoder.end();
                    let chunk = encoder.take();
                    tracker.bytes_sent(chunk.len());
                    if !chunk.is_empty() {
                        yield Ok(chunk);
                    }
                    tracker.finish(StreamOutcome::Completed);
                    return;
                }
            }
            next = rows.next().await;
        }
    };
    Ok(response(content_type, Body::from_stream(chunks), true))
}

/// Collects every row, encodes them all, then sends one body with a `Content-Length`.
pub async fn buffered<S>(rows: S, format: BodyFormat, settings: &StreamSettings) -> Result<Response, AppError>
where
    S: Stream<Item = Result<Message, sqlx::Error>> + Send + 'static,
{
    let rows = rows.map_ok(MessageItem::Row);
    buffered_with(rows, |capacity| Encoder::new(format, capacity), settings).await
}

/// [`buffered`] for any row stream and encoder; the encoder's final headers (a `next`
/// token) are sent with the body.
pub async fn buffered_with<S, E, X>(
    rows: S,
    encoder: impl FnOnce(usize) -> E,
    settings: &StreamSettings,
) -> Result<Response, AppError>
where
    E: ChunkEncoder,
    X: Into<AppError> + Send + 'static,
    S: Stream<Item = Result<E::Item, X>> + Send + 'static,
{
    let tracker = StreamTracker::start(settings.metrics.clone());
    let mut rows = Box::pin(rows);
    let collected = match first_item(&mut rows, settings.first_row_timeout).await {
        Err(timeout) => Err(timeout),
        Ok(None) => Ok(Vec::new()),
        Ok(Some(Err(error))) => Err(error.into()),
        Ok(Some(Ok(first))) => {
            let all = (&mut rows).try_fold(vec![first], |mut all, row| async move {
                all.push(row);
                Ok(all)
            });
            all.await.map_err(Into::into)
        }
    };
    let rows: Vec<E::Item> = match collected {
        Ok(rows) => rows,
        Err(error) => {
            tracker.finish(StreamOutcome::Failed);
            return Err(error);
        }
    };
    let mut encoder = encoder(rows.len() * ROW_BYTES_ESTIMATE);
    encoder.begin();
    rows.iter().for_each(|row| encoder.item(row));
    drop(rows);
    tracker.rows_read(encoder.rows());
    encoder.end();
    let body = encoder.take();
    tracker.bytes_sent(body.len());
    tracker.finish(StreamOutcome::Completed);
    let mut response = response(encoder.content_type(), Body::from(body), false);
    response.headers_mut().extend(encoder.final_headers());
    Ok(response)
}

fn response(content_type: &'static str, body: Body, streamed: bool) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if streamed {
        // Tells nginx-style proxies not to buffer the stream.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    response
}
