//! The parameters of `GET /api/messages`, shared so the viewer builds URLs the server parses.

use std::fmt;

/// The largest `batch` the server accepts: bigger batches only add memory and latency.
pub const BATCH_MAX: u32 = 100_000;

/// The body format. Chosen by `?format=` or, failing that, by `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// One JSON object per line, then the `{"end":…}` trailer (see [`crate::frame`]).
    #[default]
    Ndjson,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON array of rows.
    Json,
    /// PostgreSQL's COPY text format: tab-separated, `\`-escaped, one row per line.
    Text,
    /// Apache Arrow IPC stream format: the schema, then one record batch per chunk, then
    /// the end-of-stream marker (only when the stream is complete).
    Arrow,
}

impl Format {
    pub const ALL: [Format; 5] = [Format::Ndjson, Format::Csv, Format::Json, Format::Text, Format::Arrow];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Text => "text",
            Format::Arrow => "arrow",
        }
    }

    pub fn parse(value: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == value)
    }

    /// The media type it is served as (and recognised by in `Accept`).
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv",
            Format::Json => "application/json",
            Format::Text => "text/plain",
            Format::Arrow => "application/vnd.apache.arrow.stream",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `stream` sends rows as they are read; `buffered` builds the whole body first (the
/// seed's "standard" response, kept as a baseline to compare against).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    #[default]
    Stream,
    Buffered,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Buffered => "buffered",
        }
    }

    pub fn parse(value: &str) -> Option<Mode> {
        [Mode::Stream, Mode::Buffered].into_iter().find(|m| m.as_str() == value)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to `/api/messages`; `None` leaves the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagesQuery {
    pub mode: Option<Mode>,
    pub format: Option<Format>,
    pub limit: Option<u64>,
    pub after: Option<i64>,
    pub batch: Option<u32>,
}

impl MessagesQuery {
    /// `mode=stream&limit=10` (no leading `?`); every value is URL-safe as written.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(mode) = self.mode {
            parts.push(format!("mode={mode}"));
        }
        if let Some(format) = self.format {
            parts.push(format!("format={format}"));
        }
        if let Some(limit) = self.limit {
            parts.push(format!("limit={limit}"));
        }
        if let Some(after) = self.after {
            parts.push(format!("after={after}"));
        }
        if let Some(batch) = self.batch {
            parts.push(format!("batch={batch}"));
        }
        parts.join("&")
    }
}
