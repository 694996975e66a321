//! HTTP limits, enforced before any handler runs. [`HttpLimits`] is applied by
//! [`crate::startup::serve`] to every connection (hyper's HTTP/1 parser) and by
//! [`crate::edge::EdgeLayer`] to every request:
//!
//! - a request head (request line and headers) over `max_header_bytes`, or with more than
//!   100 headers: hyper answers `431 Request Header Fields Too Large` (empty body) and
//!   closes the connection;
//! - a URL (path and query) over `max_uri_bytes`: `414` with a JSON `uri_too_long` body (a
//!   URL so long that the whole head is over `max_header_bytes` gets hyper's 431 instead);
//! - a head not received in full within `header_read_timeout` (slowloris): the connection
//!   is closed without an answer. Each such connection costs one parked task, no thread.
//!
//! Bodies are limited where they are read (`--max-body`, [`crate::form`]): a 413.

use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;

pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;
pub const DEFAULT_MAX_URI_BYTES: usize = 8 * 1024;
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// hyper's own floor for its read buffer, hence for the head limit.
pub const MIN_MAX_HEADER_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request head: request line plus headers, in bytes.
    pub max_header_bytes: usize,
    /// Longest request target (path and query), in bytes.
    pub max_uri_bytes: usize,
    /// Longest time a client may take to send a whole request head.
    pub header_read_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

impl HttpLimits {
    /// The HTTP/1 connection settings for these limits.
    pub fn connection_builder(&self) -> http1::Builder {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_header_bytes)
            // The read buffer (head and body reads) must hold a whole head; hyper's default
            // (~400 KiB) would let a head grow that far before `max_header_size` is checked
            // against it, so keep it a small multiple of the head limit.
            .max_buf_size(self.max_header_bytes.max(MIN_MAX_HEADER_BYTES) * 4);
        builder
    }
}
