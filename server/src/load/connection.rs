//! One load worker: a keep-alive HTTP/1.1 connection kept busy until the run's bound,
//! reconnecting when the server closes it or a request fails.
//!
//! The request's bytes are serialized once ([`super::RequestTemplate::wire`]); a round trip
//! is one `write` and (usually) one `read` on the socket, the response head parsed by
//! `httparse` (hyper's parser) and the body skipped by its framing (`Content-Length`,
//! chunked, or until close). A hyper client connection per worker reached only a third of
//! wrk's requests per second here: its request and response channels cost more CPU than
//! the server's handler, on a machine where client and server share the cores.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds"),
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
        self.latency_us.saturating_record((latency.as_micros() as u64).max(1));
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
    let sent = shared.template.body.len() as u64;
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    // A slot already paid for, to be retried on a new connection.
    let mut carried = false;
    'connections: loop {
        if !carried && !shared.claim() {
            break;
        }
        carried = false;
        let Some(mut stream) = connect(&shared, &mut tally).await else {
            tokio::time::sleep(CONNECT_RETRY).await;
            continue;
        };
        buf.clear();
        // The slot claimed above pays for this connection's first request.
        let mut first = true;
        loop {
            if !first && !shared.claim() {
                break 'connections;
            }
            let limit = request_limit(&shared);
            let started = Instant::now();
            match timeout_at(limit, exchange(&mut stream, &shared.template.wire, &mut buf)).await {
                Ok(Ok(response)) => {
                    tally.record(response.status, started.elapsed(), response.body_bytes, sent);
                    if shared.progress {
                        shared.completed.fetch_add(1, Relaxed);
                    }
                    if !response.keep_alive {
                        continue 'connections;
                    }
                }
                Ok(Err(ExchangeError::Closed)) if !first => {
                    // The server ended an idle keep-alive connection before answering:
                    // the slot is retried on a new connection.
                    carried = true;
                    continue 'connections;
                }
                Ok(Err(_)) => {
                    tally.io_errors += 1;
                    continue 'connections;
                }
                Err(_) if shared.deadline.is_some_and(|d| Instant::now() >= d) => break 'connections,
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

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 16 * 1024;

/// Most response headers parsed.
const MAX_HEADERS: usize = 64;

struct Response {
    status: u16,
    body_bytes: u64,
    keep_alive: bool,
}

#[derive(Debug)]
enum ExchangeError {
    /// The connection closed (or failed) before any byte of the response.
    Closed,
    /// It broke mid-response.
    Broken,
    /// The response was not valid HTTP/1.x.
    Malformed,
}

/// How the response body is delimited.
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Writes the request and reads one whole response.
async fn exchange(stream: &mut TcpStream, request: &[u8], buf: &mut BytesMut) -> Result<Response, ExchangeError> {
    stream.write_all(request).await.map_err(|_| ExchangeError::Closed)?;
    let (status, framing, keep_alive) = loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut head = httparse::Response::new(&mut headers);
            match head.parse(buf) {
                Ok(httparse::Status::Complete(length)) => {
                    let status = head.code.unwrap_or(0);
                    let (framing, keep_alive) = framing(&head, status);
                    buf.advance(length);
                    if (100..200).contains(&status) {
                        continue; // an interim response: the real one follows
                    }
                    break (status, framing, keep_alive);
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return Err(ExchangeError::Malformed),
            }
        }
        let was_empty = buf.is_empty();
        if let Err(error) = fill(stream, buf).await {
            return Err(if was_empty { ExchangeError::Closed } else { error });
        }
    };
    let (body_bytes, keep_alive) = match framing {
        Some(Framing::Length(length)) => {
            skip(stream, buf, length).await?;
            (length, keep_alive)
        }
        Some(Framing::Chunked) => (chunked(stream, buf).await?, keep_alive),
        Some(Framing::UntilClose) => {
            let mut total = buf.len() as u64;
            buf.clear();
            loop {
                buf.reserve(READ_SIZE);
                match stream.read_buf(buf).await {
                    Ok(0) => break,
                    Ok(n) => total += n as u64,
                    Err(_) => return Err(ExchangeError::Broken),
                }
                buf.clear();
            }
            (total, false)
        }
        None => (0, keep_alive),
    };
    Ok(Response { status, body_bytes, keep_alive })
}

/// The body's framing (None: no body) and whether the connection stays open.
fn framing(head: &httparse::Response<'_, '_>, status: u16) -> (Option<Framing>, bool) {
    let mut keep_alive = head.version == Some(1);
    let mut length = None;
    let mut chunked = false;
    for header in head.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<u64>().ok();
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().ends_with("chunked");
        } else if header.name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        None
    } else if chunked {
        Some(Framing::Chunked)
    } else if let Some(length) = length {
        Some(Framing::Length(length))
    } else {
        keep_alive = false;
        Some(Framing::UntilClose)
    };
    (framing, keep_alive)
}

/// Reads more bytes into `buf`; the connection closing is an error here.
async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<(), ExchangeError> {
    buf.reserve(READ_SIZE);
    match stream.read_buf(buf).await {
        Ok(0) | Err(_) => Err(ExchangeError::Broken),
        Ok(_) => Ok(()),
    }
}

/// Consumes `length` bytes of body, reading as needed; nothing is kept.
async fn skip(stream: &mut TcpStream, buf: &mut BytesMut, mut length: u64) -> Result<(), ExchangeError> {
    loop {
        let take = (buf.len() as u64).min(length) as usize;
        buf.advance(take);
        length -= take as u64;
        if length == 0 {
            return Ok(());
        }
        fill(stream, buf).await?;
    }
}

/// Consumes a chunked body; returns its data bytes.
async fn chunked(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<u64, ExchangeError> {
    let mut total = 0u64;
    loop {
        let size = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((length, size))) => {
                    buf.advance(length);
                    break size;
                }
                Ok(httparse::Status::Partial) => fill(stream, buf).await?,
                Err(_) => return Err(ExchangeError::Malformed),
            }
        };
        if size == 0 {
            // Trailer fields, if any, then the empty line.
            loop {
                match buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        buf.advance(2);
                        return Ok(total);
                    }
                    Some(end) => buf.advance(end + 2),
                    None => fill(stream, buf).await?,
                }
            }
        }
        total += size;
        skip(stream, buf, size + 2).await?;
    }
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
    shared.deadline.map_or(limit, |deadline| limit.min(deadline))
}
