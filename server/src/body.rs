//! Row streams into HTTP bodies.
//!
//! [`streamed`]: the rows are encoded as they arrive; the first row is sent alone the moment
//! it is read (first byte in well under a millisecond), then every `batch` rows go out as one
//! chunk, or fewer when the database has sent no further row for 10 ms (`STALL_FLUSH`: a
//! slow view's rows show as they come, not when a batch has piled up). The body reads and
//! encodes as hyper polls it, and hyper polls only when the socket can take more, so a slow
//! client slows the query down instead of filling memory, and a client that leaves drops the
//! body, which drops the row stream and closes the database
//! connection (see `db::rows`). A stream whose client stalls for `--park-after`
//! [parks](crate::db::resume::Park): a watchdog task finds its rows waiting in their
//! `ParkingSlot` and gives their connection back to the pool; the next poll takes one again
//! and resumes after the last row sent (`db::resume`). Reading in hyper's own task, rather
//! than in a task two chunks ahead behind a channel, streamed 500,000 rows ~10% faster and
//! halved a stalled stream's memory (0.29 MB instead of 0.62 MB; README, Reliability).
//!
//! [`buffered`]: the baseline. The whole result is collected, then encoded, then sent with a
//! `Content-Length`, as the seed API's "standard" endpoint did.
//!
//! Both wait at most [`StreamSettings::first_row_timeout`] for the first item of the row
//! stream (before the status line): a query that sends nothing by then is dropped, which
//! closes its connection and so stops it, and the answer is a 504 `query_timeout`. Only that
//! wait is timed: once a row came, a slow reader is never cut.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::{Stream, StreamExt, TryStreamExt};
use shared::Message;
use tracing::Instrument;

use crate::catch_panic::log_panic;
use crate::db::resume::{Park, Unparkable};
use crate::encode::{ChunkEncoder, SeedLinesEncoder};
use crate::error::AppError;
use crate::metrics::{Metrics, StreamOutcome, StreamTracker};

/// What every body needs from the server: its metrics and how long a query may take to
/// send its first row.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub metrics: Arc<Metrics>,
    pub first_row_timeout: Duration,
    /// How long a stream waits for a slow client before it parks (`--park-after`); `None`:
    /// never (a slow client keeps its connection).
    pub park_after: Option<Duration>,
}

/// Waits for the row stream's first item, at most `timeout`.
async fn first_item<S, T, X>(rows: &mut S, timeout: Duration) -> Result<Option<Result<T, X>>, AppError>
where
    S: Stream<Item = Result<T, X>> + Unpin,
{
    tokio::time::timeout(timeout, rows.next()).await.map_err(|_| AppError::QueryTimeout(timeout))
}

/// How long a stream with rows encoded but not yet sent waits for the database's next row
/// before it sends them anyway: a query that yields rows slowly (an expensive view, a lock
/// wait mid-scan) shows each as it comes, not when `batch` rows have piled up.
const STALL_FLUSH: Duration = Duration::from_millis(10);

/// The row stream's next item. With `holding` (rows encoded and not yet sent), `None` when
/// none came within [`STALL_FLUSH`]: the caller sends what it holds, then waits. The
/// stream's `next` is cancel-safe: an item not ready yet stays in the stream.
async fn next_unless_stalled<S, T, X>(rows: &mut S, holding: bool) -> Option<Option<Result<T, AppError>>>
where
    S: Stream<Item = Result<T, X>> + Unpin,
    X: Into<AppError>,
{
    use futures_util::FutureExt as _;
    // A row already read needs no timer (the common case at full speed).
    let item = match rows.next().now_or_never() {
        Some(item) => Some(item),
        None if holding => tokio::time::timeout(STALL_FLUSH, rows.next()).await.ok(),
        None => Some(rows.next().await),
    };
    item.map(|item| item.map(|item| item.map_err(Into::into)))
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

/// Streams the seed API's `rows` as they come (`/chunked`), one `object_id` line per row
/// (see [`streamed_with`]).
pub async fn streamed<S>(rows: S, batch: u32, settings: &StreamSettings) -> Result<Response, AppError>
where
    S: Stream<Item = Result<Message, crate::db::RowStreamError>> + Send + 'static,
{
    streamed_with(Unparkable::new(rows), SeedLinesEncoder::new, batch, settings).await
}

/// Streams `rows` as they come: `encoder(capacity)` makes the encoder. The query's first
/// row (or its error) is awaited before the status line, so a query that fails at once
/// still gets a proper error status.
///
/// The body encodes as hyper polls it, which it does only when the socket has room. While
/// the body waits at a chunk, the row stream sits in a [`ParkingSlot`]; a parkable stream
/// has a watchdog task that [parks](crate::db::resume::Park) it when it has sat there for
/// [`StreamSettings::park_after`]: its query and connection go back, and the next poll
/// takes a connection again.
pub async fn streamed_with<S, E, X>(
    rows: S,
    encoder: impl FnOnce(usize) -> E,
    batch: u32,
    settings: &StreamSettings,
) -> Result<Response, AppError>
where
    E: ChunkEncoder,
    X: Into<AppError> + Send + 'static,
    S: Stream<Item = Result<E::Item, X>> + Park + Unpin + Send + 'static,
{
    let tracker = StreamTracker::start(settings.metrics.clone());
    let mut rows = rows;
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
    let slot = ParkingSlot::new();
    // The request's span (relation, format, mode) on everything the body and its watchdog log.
    let span = tracing::Span::current();
    if let Some(after) = settings.park_after.filter(|_| rows.can_park()) {
        tokio::spawn(watch(Arc::downgrade(&slot.0), after, settings.metrics.clone()).instrument(span.clone()));
    }
    let mut rows = Some(rows);
    let chunks = async_stream::stream! {
        encoder.begin();
        let mut next: Option<Result<E::Item, AppError>> = first.map(|item| item.map_err(Into::into));
        let mut flush_at = 1; // the first row goes out alone; then whole batches
        let mut counted = 0; // rows already added to the metrics and handed to hyper
        // The database sent no row for `STALL_FLUSH`: the rows read so far go out now
        // instead of waiting for the batch to fill.
        let mut stalled = false;
        loop {
            if !stalled {
                match next {
                    Some(Ok(row)) => {
                        if let Err(error) = encoder.item(&row) {
                            // A row the encoder cannot write fails the stream as the database would.
                            next = Some(Err(error.into()));
                            continue;
                        }
                    }
                    Some(Err(error)) => {
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
            }
            if stalled || encoder.rows() == flush_at {
                let first = flush_at == 1;
                tracker.rows_read(encoder.rows() - counted);
                counted = encoder.rows();
                let chunk = encoder.take();
                tracker.bytes_sent(chunk.len());
                // Until hyper polls again, the rows may be parked.
                slot.leave(rows.take());
                yield Ok(chunk);
                rows = slot.take();
                if first {
                    // Two reasons to pause here. hyper flushes its write buffer only
                    // when the body is pending (or the buffer is full): without a
                    // pending poll the first row could wait for a few hundred KB of
                    // later rows. And the next poll starts the bulk query (see
                    // `db::rows::stream_rows`), after which hyper's task and the database
                    // read and encode at full speed: on a host whose cores the client
                    // shares (a local viewer, a sidecar) that can keep the client from
                    // running to take the first row for 2-3 ms. The pause lets it
                    // run first; the whole stream loses about as much.
                    tokio::time::sleep(FIRST_ROW_HEADSTART).await;
                }
                flush_at = encoder.rows() + batch;
            }
            // Just after a flush nothing is held, so there is no timer.
            let item = match rows.as_mut() {
                Some(rows) => next_unless_stalled(rows, encoder.rows() > counted).await,
                // Only a poisoned slot loses the rows: a failure, never an end.
                None => Some(Some(Err(AppError::Internal))),
            };
            stalled = item.is_none();
            next = item.flatten();
        }
    };
    // A panic while reading or encoding ends the body aborted (and logged), like a database
    // error would, instead of unwinding through hyper's connection task.
    let mut chunks = Box::pin(AssertUnwindSafe(chunks).catch_unwind().map(|item| {
        item.unwrap_or_else(|panic| {
            log_panic(&panic, "a stream panicked after its status line");
            Err(StreamAborted { rows: 0, source: AppError::Internal })
        })
    }));
    let chunks = futures_util::stream::poll_fn(move |cx| {
        let _entered = span.enter();
        chunks.as_mut().poll_next(cx)
    });
    Ok(response(content_type, Body::from_stream(chunks), true))
}

/// Where a stream's rows wait while hyper is not polling the body (its write buffer is
/// full): the body puts them here before each chunk and takes them back when polled again,
/// so a watchdog can park them meanwhile. Two uncontended locks per chunk, none per row. A
/// poisoned lock still hands its rows over (they are valid whatever panicked).
struct ParkingSlot<S>(Arc<std::sync::Mutex<Waiting<S>>>);

struct Waiting<S> {
    rows: Option<S>,
    since: std::time::Instant,
    parked: bool,
}

impl<S> ParkingSlot<S> {
    fn new() -> Self {
        ParkingSlot(Arc::new(std::sync::Mutex::new(Waiting {
            rows: None,
            since: std::time::Instant::now(),
            parked: false,
        })))
    }

    fn leave(&self, rows: Option<S>) {
        let mut waiting = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *waiting = Waiting { rows, since: std::time::Instant::now(), parked: false };
    }

    fn take(&self) -> Option<S> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).rows.take()
    }
}

/// Parks the rows in `slot` once they have waited `after` there (checked every `after / 2`,
/// so between 1× and 1.5× `after`); ends with the body (the slot's only strong owner).
async fn watch<S: Park>(slot: std::sync::Weak<std::sync::Mutex<Waiting<S>>>, after: Duration, metrics: Arc<Metrics>) {
    // A zero period would panic (`--park-after 1ns`).
    let mut tick = tokio::time::interval((after / 2).max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(slot) = slot.upgrade() else {
            return;
        };
        let mut waiting = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting.parked || waiting.since.elapsed() < after {
            continue;
        }
        if let Some(rows) = waiting.rows.as_mut() {
            if rows.park() {
                metrics.streams_parked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!("the client reads slowly: stream parked, its connection given back");
            }
            waiting.parked = true;
        }
    }
}

/// Collects the seed API's `rows`, encodes them all, then sends one body with a
/// `Content-Length` (`/standard`, see [`buffered_with`]).
pub async fn buffered<S>(rows: S, settings: &StreamSettings) -> Result<Response, AppError>
where
    S: Stream<Item = Result<Message, crate::db::RowStreamError>> + Send + 'static,
{
    buffered_with(rows, SeedLinesEncoder::new, settings).await
}

/// Collects every row, encodes them all, then sends one body with a `Content-Length`; the encoder's final headers (a `next`
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
    if let Some(error) = rows.iter().find_map(|row| encoder.item(row).err()) {
        tracker.finish(StreamOutcome::Failed);
        return Err(error.into());
    }
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
