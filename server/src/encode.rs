//! Encoders: rows in, bytes out. [`ChunkEncoder`] is what `crate::body` drives: a begin
//! (header, `[`), a part per row, an end (trailer, `]`), an error frame where the format has
//! one, and [`ChunkEncoder::take`] to hand what was written so far to hyper as one chunk.
//! `crate::wire::TableEncoder` writes any relation's rows in every API format; this file
//! writes the seed's `object_id:{id} \n` lines (`/standard`, `/chunked`) and the COPY text
//! form of a `messages` row that `crate::seed` loads.

use axum::http::{HeaderName, HeaderValue};
use bytes::Bytes;
use shared::{ErrorBody, Message};

use crate::db::RowStreamError;

/// What `crate::body` drives: an encoder for one response, fed the items of a row stream.
pub trait ChunkEncoder: Send + 'static {
    /// What the row stream yields.
    type Item: Send + 'static;
    fn content_type(&self) -> &'static str;
    /// Writes what comes before the first row.
    fn begin(&mut self);
    /// Writes one item; an error (a value that does not decode as its column's type) fails
    /// the stream as a database error would.
    fn item(&mut self, item: &Self::Item) -> Result<(), RowStreamError>;
    /// Writes what comes after the last row.
    fn end(&mut self);
    /// Writes an error frame where the format has one.
    fn error(&mut self, error: &ErrorBody);
    /// Bytes written since the last take.
    fn take(&mut self) -> Bytes;
    /// Bytes buffered and not yet taken.
    fn pending(&self) -> usize;
    /// Rows written so far.
    fn rows(&self) -> u64;
    /// Headers known only after the last row (sent by buffered responses).
    fn final_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        Vec::new()
    }
}

/// The seed API's body: one `object_id:{id} \n` line per row, nothing before or after (a
/// failure after the status line is an aborted connection).
pub struct SeedLinesEncoder {
    buf: Vec<u8>,
    rows: u64,
}

impl SeedLinesEncoder {
    /// A new encoder whose buffer starts with room for about `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        SeedLinesEncoder { buf: Vec::with_capacity(capacity), rows: 0 }
    }
}

impl ChunkEncoder for SeedLinesEncoder {
    type Item = Message;

    fn content_type(&self) -> &'static str {
        "text/plain; charset=utf-8"
    }

    fn begin(&mut self) {}

    fn item(&mut self, row: &Message) -> Result<(), RowStreamError> {
        self.buf.extend_from_slice(b"object_id:");
        self.buf.extend_from_slice(itoa::Buffer::new().format(row.id).as_bytes());
        self.buf.extend_from_slice(b" \n");
        self.rows += 1;
        Ok(())
    }

    fn end(&mut self) {}

    fn error(&mut self, _: &ErrorBody) {}

    fn take(&mut self) -> Bytes {
        let capacity = self.buf.capacity();
        Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(capacity)))
    }

    fn pending(&self) -> usize {
        self.buf.len()
    }

    fn rows(&self) -> u64 {
        self.rows
    }
}

/// PostgreSQL's COPY text format: tab between columns, `\n` after the row, and `\\`, `\t`,
/// `\n`, `\r` escaped inside values, so `COPY … FROM` reads it back.
pub(crate) fn write_copy_text(buf: &mut Vec<u8>, row: &Message) {
    buf.extend_from_slice(itoa::Buffer::new().format(row.id).as_bytes());
    buf.push(b'\t');
    escape_copy_text(buf, &row.sender);
    buf.push(b'\t');
    escape_copy_text(buf, &row.body);
    buf.push(b'\t');
    row.created_at.write_rfc3339(buf);
    buf.push(b'\n');
}

fn escape_copy_text(buf: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(escaped);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Timestamp;

    fn row(id: i64, body: &str) -> Message {
        Message { id, sender: "ada".into(), body: body.into(), created_at: Timestamp(0) }
    }

    #[test]
    fn seed_lines_are_one_object_id_per_row() {
        let mut e = SeedLinesEncoder::new(64);
        e.begin();
        e.end();
        assert_eq!(e.take(), "");
        [row(1, "a"), row(2, "b")].iter().for_each(|r| e.item(r).unwrap());
        assert_eq!(e.take(), "object_id:1 \nobject_id:2 \n");
        assert_eq!(e.rows(), 2);
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_as_special() {
        let mut buf = Vec::new();
        write_copy_text(&mut buf, &row(1, "tab\there, \"q\"\nnew\\line"));
        assert_eq!(String::from_utf8(buf).unwrap(), "1\tada\ttab\\there, \"q\"\\nnew\\\\line\t1970-01-01T00:00:00Z\n");
    }
}
