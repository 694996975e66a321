//! Counters for what the streams did, served at `GET /metrics` in Prometheus' text format.
//!
//! They are how a test (or an operator) sees from outside that a cancelled request really
//! stopped its query: `rows_read` stops growing and `streams_cancelled` goes up.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Metrics {
    /// Rows read from the database, by any mode.
    pub rows_read: AtomicU64,
    /// Body bytes handed to hyper.
    pub bytes_sent: AtomicU64,
    pub streams_started: AtomicU64,
    /// Streams that wrote their last row and their end marker.
    pub streams_completed: AtomicU64,
    /// Streams dropped before their end: the client went away or cancelled.
    pub streams_cancelled: AtomicU64,
    /// Streams that hit a database error after their status line was sent.
    pub streams_failed: AtomicU64,
    /// Times a stream gave its database connection back because its client read slowly
    /// (`--park-after`), to take one again when the client caught up.
    pub streams_parked: AtomicU64,
}

/// How a stream ended, recorded once by [`StreamTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    Completed,
    Failed,
}

impl Metrics {
    pub fn active_streams(&self) -> u64 {
        let started = self.streams_started.load(Relaxed);
        let ended = self.streams_completed.load(Relaxed)
            + self.streams_cancelled.load(Relaxed)
            + self.streams_failed.load(Relaxed);
        started.saturating_sub(ended)
    }

    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("rowstream_rows_read_total", "Rows read from the database.", &self.rows_read),
            ("rowstream_bytes_sent_total", "Response body bytes produced.", &self.bytes_sent),
            ("rowstream_streams_started_total", "Streams started.", &self.streams_started),
            ("rowstream_streams_completed_total", "Streams that ended with their end marker.", &self.streams_completed),
            ("rowstream_streams_cancelled_total", "Streams dropped early by the client.", &self.streams_cancelled),
            ("rowstream_streams_failed_total", "Streams aborted by a database error.", &self.streams_failed),
            (
                "rowstream_streams_parked_total",
                "Times a stream gave its database connection back while its client read slowly.",
                &self.streams_parked,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP rowstream_streams_active Streams in progress.\n# TYPE rowstream_streams_active gauge\nrowstream_streams_active {}",
            self.active_streams()
        );
        if let Some(memory) = crate::memory::ProcessMemory::read() {
            memory.render_prometheus(&mut out);
        }
        out
    }
}

/// Counts one stream from start to end. Dropped without [`StreamTracker::finish`], it
/// counts the stream as cancelled: that is what a client disconnect looks like here.
pub struct StreamTracker {
    metrics: Arc<Metrics>,
    outcome: Option<StreamOutcome>,
}

impl StreamTracker {
    pub fn start(metrics: Arc<Metrics>) -> Self {
        metrics.streams_started.fetch_add(1, Relaxed);
        StreamTracker { metrics, outcome: None }
    }

    /// Called once per batch, not per row: one atomic add per chunk is free at any rate.
    pub fn rows_read(&self, n: u64) {
        self.metrics.rows_read.fetch_add(n, Relaxed);
    }

    pub fn bytes_sent(&self, n: usize) {
        self.metrics.bytes_sent.fetch_add(n as u64, Relaxed);
    }

    pub fn finish(mut self, outcome: StreamOutcome) {
        self.outcome = Some(outcome);
    }
}

impl Drop for StreamTracker {
    fn drop(&mut self) {
        let counter = match self.outcome {
            Some(StreamOutcome::Completed) => &self.metrics.streams_completed,
            Some(StreamOutcome::Failed) => &self.metrics.streams_failed,
            None => &self.metrics.streams_cancelled,
        };
        counter.fetch_add(1, Relaxed);
    }
}
