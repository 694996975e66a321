//! The figures of a run: what the seed's client printed (requests completed, total time,
//! min / max / mean latency, the 90th percentile "top-90%", requests per second, payload MB
//! and MB/s), plus p50 / p99 / p99.9 from the HDR histogram and counts by status class and
//! error kind. [`Report`] is also the `--json` output.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::connection::Tally;
use super::{Bound, LoadOptions};

/// The seed's unit: 2^20 bytes.
const MB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub url: String,
    pub method: String,
    pub connections: u32,
    pub threads: usize,
    /// `-n` as given; `None` for a timed run.
    pub requests_bound: Option<u64>,
    /// `-d` in seconds; `None` for a counted run.
    pub duration_bound_secs: Option<f64>,
    /// Responses received whole, whatever their status.
    pub requests: u64,
    pub total_secs: f64,
    pub requests_per_sec: f64,
    pub latency_ms: Latency,
    /// Request body bytes sent, in MB (2^20 bytes).
    pub sent_mb: f64,
    /// Response body bytes received, in MB (2^20 bytes).
    pub received_mb: f64,
    /// (sent + received) / total time.
    pub mb_per_sec: f64,
    pub status: StatusCounts,
    pub errors: ErrorCounts,
}

/// Latency of completed requests, from the request's first byte written to the response's
/// last byte read, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// The seed's "top-90%": 90% of the requests were at least this fast.
    pub p90: f64,
    pub p50: f64,
    pub p99: f64,
    pub p99_9: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    #[serde(rename = "1xx")]
    pub s1xx: u64,
    #[serde(rename = "2xx")]
    pub s2xx: u64,
    #[serde(rename = "3xx")]
    pub s3xx: u64,
    #[serde(rename = "4xx")]
    pub s4xx: u64,
    #[serde(rename = "5xx")]
    pub s5xx: u64,
    pub other: u64,
}

/// Requests that got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// The TCP connection (or the HTTP handshake) could not be made.
    pub connect: u64,
    /// No whole response within `--timeout` (or a connect that took longer).
    pub timeout: u64,
    /// The connection broke mid-request, or the response was not valid HTTP.
    pub io: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.io
    }
}

impl Report {
    pub fn new(options: &LoadOptions, tally: &Tally, elapsed: Duration) -> Report {
        let h = &tally.latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        let latency = if h.is_empty() {
            Latency { min: 0.0, max: 0.0, mean: 0.0, p90: 0.0, p50: 0.0, p99: 0.0, p99_9: 0.0 }
        } else {
            Latency {
                min: ms(h.min()),
                max: ms(h.max()),
                mean: h.mean() / 1000.0,
                p90: ms(h.value_at_quantile(0.90)),
                p50: ms(h.value_at_quantile(0.50)),
                p99: ms(h.value_at_quantile(0.99)),
                p99_9: ms(h.value_at_quantile(0.999)),
            }
        };
        let secs = elapsed.as_secs_f64().max(f64::EPSILON);
        let sent_mb = tally.bytes_sent as f64 / MB;
        let received_mb = tally.bytes_received as f64 / MB;
        let c = tally.status_classes;
        Report {
            url: options.template.url.clone(),
            method: options.template.method.to_string(),
            connections: options.connections,
            threads: options.threads,
            requests_bound: match options.bound {
                Bound::Requests(n) => Some(n),
                Bound::Duration(_) => None,
            },
            duration_bound_secs: match options.bound {
                Bound::Duration(d) => Some(d.as_secs_f64()),
                Bound::Requests(_) => None,
            },
            requests: tally.completed,
            total_secs: secs,
            requests_per_sec: tally.completed as f64 / secs,
            latency_ms: latency,
            sent_mb,
            received_mb,
            mb_per_sec: (sent_mb + received_mb) / secs,
            status: StatusCounts { s1xx: c[1], s2xx: c[2], s3xx: c[3], s4xx: c[4], s5xx: c[5], other: c[0] },
            errors: ErrorCounts { connect: tally.connect_errors, timeout: tally.timeouts, io: tally.io_errors },
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency_ms;
        writeln!(f, "{} {}: {} connections, {} threads", self.method, self.url, self.connections, self.threads)?;
        writeln!(f, "requests completed:     {}", self.requests)?;
        writeln!(f, "total time (s):         {:.3}", self.total_secs)?;
        writeln!(f, "max latency (ms):       {:.3}", l.max)?;
        writeln!(f, "min latency (ms):       {:.3}", l.min)?;
        writeln!(f, "top-90% latency (ms):   {:.3}", l.p90)?;
        writeln!(f, "mean latency (ms):      {:.3}", l.mean)?;
        writeln!(f, "p50 / p99 / p99.9 (ms): {:.3} / {:.3} / {:.3}", l.p50, l.p99, l.p99_9)?;
        writeln!(f, "requests/s:             {:.1}", self.requests_per_sec)?;
        writeln!(f, "total payload (MB):     {:.3} sent, {:.3} received", self.sent_mb, self.received_mb)?;
        writeln!(f, "throughput (MB/s):      {:.3}", self.mb_per_sec)?;
        let s = &self.status;
        write!(f, "responses:              2xx {}, 3xx {}, 4xx {}, 5xx {}", s.s2xx, s.s3xx, s.s4xx, s.s5xx)?;
        if s.s1xx + s.other > 0 {
            write!(f, ", other {}", s.s1xx + s.other)?;
        }
        writeln!(f)?;
        let e = &self.errors;
        writeln!(f, "errors:                 connect {}, timeout {}, io {}", e.connect, e.timeout, e.io)
    }
}
