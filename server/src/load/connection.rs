//! One load worker: a keep-alive HTTP/1.1 connection (hyper's `http1` client) kept busy
//! until the run's bound, reconnecting when the server closes it or a request fails.
//!
//! The connection's I/O future is polled in the worker's own task, next to the request, so
//! a request/response round trip wakes one task, not two.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use http_body_util::BodyExt;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

use super::Shared;

/// Pause after a failed connect, so a closed port is not hammered in a tight loop.
const CONNECT_RETRY: Duration = Duration::from_millis(10);

/// Highest latency the histogram holds (longer ones are recorded as this): one hour.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// What one worker counted; merged into the report.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Latency of each completed response, in microseconds.
    pub latency_us: Histogram<u64>,
    pub completed: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Responses by status class: index 1..=5 for 1xx..5xx, 0 for anything else.
    pub status_classes: [u64; 6],
    pub connect_errors: u64,
    pub timeouts: u64,
    /// The connection broke mid-request (reset, malformed response, closed early).
    pub io_errors: u64,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            // 3 significant digits from 1 µs to an hour: a few hundred KB per worker at most.
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("valid histogram bounds"),
            completed: 0,
            bytes_received: 0,
            bytes_sent: 0,
            status_classes: [0; 6],
            connect_errors: 0,
            timeouts: 0,
            io_errors: 0,
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        // Both histograms share the bounds above, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.completed += other.completed;
        self.bytes_received += other.bytes_received;
        self.bytes_sent += other.bytes_sent;
        for (mine, theirs) in self.status_classes.iter_mut().zip(other.status_classes) {
            *mine += theirs;
        }
        self.connect_errors += other.connect_errors;
        self.timeouts += other.timeouts;
        self.io_errors += other.io_errors;
    }

    fn record(&mut self, status: u16, latency: Duration, received: u64, sent: u64) {
        self.latency_us
            .saturating_record((latency.as_micros() as u64).max(1));
        self.completed += 1;
        self.bytes_received += received;
        self.bytes_sent += sent;
        let class = (status / 100) as usize;
        self.status_classes[if (1..=5).contains(&class) { class } else { 0 }] += 1;
    }
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

/// Runs one worker until the bound; returns what it counted.
pub(crate) async fn work(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::new();
    // A slot already paid for, to be retried on a new connection.
    let mut carried = false;
    'connections: loop {
        if !carried && !shared.claim() {
            break;
        }
        carried = false;
        let Some(stream) = connect(&shared, &mut tally).await else {
            tokio::time::sleep(CONNECT_RETRY).await;
            continue;
        };
        let Ok((mut sender, connection)) = http1::handshake(TokioIo::new(stream)).await else {
            tally.connect_errors += 1;
            continue;
        };
        let mut connection = pin!(connection);
        let mut closed = false;
        // The slot claimed above pays for this connection's first request.
        let mut first = true;
        loop {
            if !first && !shared.claim() {
                break 'connections;
            }
            let limit = request_limit(&shared);
            let attempt = async {
                let request = shared.template.request();
                let sent = shared.template.body.len() as u64;
                if sender.ready().await.is_err() {
                    return Err(RequestError::NotSent);
                }
                let started = Instant::now();
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(|_| RequestError::Broken)?;
                let status = response.status().as_u16();
                let mut body = response.into_body();
                let mut received = 0u64;
                while let Some(frame) = body.frame().await {
                    if let Some(data) = frame.map_err(|_| RequestError::Broken)?.data_ref() {
                        received += data.len() as u64;
                    }
                }
                Ok((status, started.elapsed(), received, sent))
            };
            // Drive the connection's I/O and the request together, in this task.
            match drive(timeout_at(limit, attempt), connection.as_mut(), &mut closed).await {
                Ok(Ok((status, latency, received, sent))) => {
                    tally.record(status, latency, received, sent);
                    if shared.progress {
                        shared.completed.fetch_add(1, Relaxed);
                    }
                    if closed {
                        continue 'connections;
                    }
                }
                Ok(Err(RequestError::NotSent)) if !first => {
                    // The server ended an idle keep-alive connection: nothing was sent,
                    // so the slot is retried on a new connection.
                    carried = true;
                    continue 'connections;
                }
                Ok(Err(_)) => {
                    tally.io_errors += 1;
                    continue 'connections;
                }
                Err(_) if shared.deadline.is_some_and(|d| Instant::now() >= d) => {
                    break 'connections
                }
                Err(_) => {
                    tally.timeouts += 1;
                    continue 'connections;
                }
            }
            first = false;
        }
    }
    tally
}

enum RequestError {
    /// The connection was closed before the request could be written.
    NotSent,
    /// The connection broke mid-request or the response was malformed.
    Broken,
}

/// A TCP connection with `TCP_NODELAY`; a failure is counted as a connect error (or a
/// timeout, past `--timeout`).
async fn connect(shared: &Shared, tally: &mut Tally) -> Option<TcpStream> {
    match timeout(shared.timeout, TcpStream::connect(shared.addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Some(stream)
        }
        Ok(Err(_)) => {
            tally.connect_errors += 1;
            None
        }
        Err(_) => {
            tally.timeouts += 1;
            None
        }
    }
}

/// When the current request must be done: its timeout, or the run's deadline if sooner.
fn request_limit(shared: &Shared) -> Instant {
    let limit = Instant::now() + shared.timeout;
    shared
        .deadline
        .map_or(limit, |deadline| limit.min(deadline))
}

/// Polls `request` to completion while also polling the connection future (which does
/// the socket I/O); `closed` is set once the connection future has ended.
async fn drive<F, C>(
    request: F,
    mut connection: std::pin::Pin<&mut C>,
    closed: &mut bool,
) -> F::Output
where
    F: Future,
    C: Future,
{
    let mut request = pin!(request);
    std::future::poll_fn(|cx| {
        if !*closed && connection.as_mut().poll(cx).is_ready() {
            *closed = true;
        }
        request.as_mut().poll(cx)
    })
    .await
}
