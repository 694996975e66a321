//! Encoders: rows in, bytes out, one per wire format.
//!
//! An [`Encoder`] appends to a buffer it owns; [`Encoder::take`] hands the bytes written so
//! far to the caller as one chunk. Every format has a begin (header, `[`), a per-row part and
//! an end (trailer, `]`); some can also write an error frame that a client can read after the
//! status line was already sent.

use axum::http::{HeaderName, HeaderValue};
use bytes::Bytes;
use shared::canonical;
use shared::message::COLUMNS;
use shared::{ErrorBody, Format, Message, StreamEnd};

use crate::db::rows::MessageItem;

/// What a body is written as: an API format, or the seed's `object_id:{id} \n` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Api(Format),
    SeedLines,
}

impl BodyFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            BodyFormat::Api(Format::Ndjson) => "application/x-ndjson",
            BodyFormat::Api(Format::Csv) => "text/csv; charset=utf-8",
            BodyFormat::Api(Format::Json) => "application/json",
            BodyFormat::Api(Format::Text) | BodyFormat::SeedLines => "text/plain; charset=utf-8",
            BodyFormat::Api(Format::Arrow) => "application/vnd.apache.arrow.stream",
        }
    }
}

/// What `crate::body` drives: an encoder for one response, fed the items of a row stream.
/// [`Encoder`] writes `messages` rows; `crate::wire::TableEncoder` any relation's.
pub trait ChunkEncoder: Send + 'static {
    /// What the row stream yields.
    type Item: Send + 'static;
    fn content_type(&self) -> &'static str;
    /// Writes what comes before the first row.
    fn begin(&mut self);
    fn item(&mut self, item: &Self::Item);
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

impl ChunkEncoder for Encoder {
    type Item = MessageItem;

    fn content_type(&self) -> &'static str {
        self.format.content_type()
    }

    fn begin(&mut self) {
        Encoder::begin(self)
    }

    fn item(&mut self, item: &MessageItem) {
        match item {
            MessageItem::Row(row) => self.row(row),
            MessageItem::End { cut, next } => self.end = Some((*cut, *next)),
        }
    }

    fn end(&mut self) {
        Encoder::end(self)
    }

    fn error(&mut self, error: &ErrorBody) {
        Encoder::error(self, error)
    }

    fn take(&mut self) -> Bytes {
        Encoder::take(self)
    }

    fn pending(&self) -> usize {
        Encoder::pending(self)
    }

    fn rows(&self) -> u64 {
        Encoder::rows(self)
    }

    fn final_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let (cut, next) = self.end.unwrap_or((false, None));
        crate::wire::cut_headers(cut, next.map(|id| id.to_string()).as_deref())
    }
}

pub struct Encoder {
    format: BodyFormat,
    buf: Vec<u8>,
    csv: Option<csv::Writer<Vec<u8>>>,
    rows: u64,
    /// Whether `limit` (or `--max-rows`) cut the rows, and the last id sent then.
    end: Option<(bool, Option<i64>)>,
}

impl Encoder {
    /// A new encoder whose buffer starts with room for about `capacity` bytes.
    pub fn new(format: BodyFormat, capacity: usize) -> Self {
        let csv = matches!(format, BodyFormat::Api(Format::Csv)).then(|| csv_writer(capacity));
        Encoder { format, buf: Vec::with_capacity(capacity), csv, rows: 0, end: None }
    }

    /// The rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes what comes before the first row.
    pub fn begin(&mut self) {
        match self.format {
            BodyFormat::Api(Format::Json) => self.buf.push(b'['),
            BodyFormat::Api(Format::Csv) => {
                if let Some(csv) = &mut self.csv {
                    // Writing into a Vec cannot fail.
                    let _ = csv.write_record(COLUMNS);
                }
            }
            _ => {}
        }
    }

    pub fn row(&mut self, row: &Message) {
        let buf = &mut self.buf;
        match self.format {
            BodyFormat::Api(Format::Ndjson) => {
                canonical::write_row(buf, row);
                buf.push(b'\n');
            }
            BodyFormat::Api(Format::Json) => {
                if self.rows > 0 {
                    buf.push(b',');
                }
                buf.push(b'\n');
                canonical::write_row(buf, row);
            }
            BodyFormat::Api(Format::Csv) => {
                if let Some(csv) = &mut self.csv {
                    let _ = csv.serialize(row);
                }
            }
            BodyFormat::Api(Format::Text) => write_copy_text(buf, row),
            // `/api/messages?format=arrow` is written by `wire::TableEncoder` (see
            // `routes::messages`); this encoder never gets it.
            BodyFormat::Api(Format::Arrow) => {}
            BodyFormat::SeedLines => {
                buf.extend_from_slice(b"object_id:");
                buf.extend_from_slice(itoa::Buffer::new().format(row.id).as_bytes());
                buf.extend_from_slice(b" \n");
            }
        }
        self.rows += 1;
    }

    /// Writes what comes after the last row: the NDJSON trailer (saying whether `limit`
    /// cut the rows, with the id to continue after), the closing `]`.
    pub fn end(&mut self) {
        match self.format {
            BodyFormat::Api(Format::Ndjson) => {
                let end = match self.end {
                    Some((true, next)) => StreamEnd::cut(self.rows, next.map(|id| id.to_string())),
                    _ => StreamEnd::new(self.rows),
                };
                write_json(&mut self.buf, &end);
                self.buf.push(b'\n');
            }
            BodyFormat::Api(Format::Json) => self.buf.extend_from_slice(b"\n]\n"),
            _ => {}
        }
    }

    /// Writes an error frame where the format has one (NDJSON); the others cannot say
    /// "failed" inside their grammar and rely on the connection being aborted.
    pub fn error(&mut self, error: &ErrorBody) {
        if self.format == BodyFormat::Api(Format::Ndjson) {
            write_json(&mut self.buf, error);
            self.buf.push(b'\n');
        }
    }

    /// Bytes written since the last take (empty when there are none).
    pub fn take(&mut self) -> Bytes {
        if let Some(csv) = self.csv.take() {
            // csv::Writer only lends its output by value; a fresh writer per chunk is cheap.
            let capacity = csv.get_ref().capacity();
            let out = csv.into_inner().unwrap_or_default();
            self.csv = Some(csv_writer(capacity));
            return Bytes::from(out);
        }
        let capacity = self.buf.capacity();
        Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(capacity)))
    }

    /// Bytes buffered and not yet taken.
    pub fn pending(&self) -> usize {
        match &self.csv {
            Some(csv) => csv.get_ref().len(),
            None => self.buf.len(),
        }
    }
}

fn csv_writer(capacity: usize) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(capacity))
}

fn write_json<T: serde::Serialize>(buf: &mut Vec<u8>, value: &T) {
    // Serializing our own plain structs into a Vec cannot fail.
    let _ = serde_json::to_writer(buf, value);
}

/// PostgreSQL's COPY text format: tab between columns, `\n` after the row, and `\\`, `\t`,
/// `\n`, `\r` escaped inside values, so `psql \copy … from` reads it back.
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
    use crate::wire::NEXT_HEADER;
    use shared::Timestamp;

    fn row(id: i64, body: &str) -> Message {
        Message { id, sender: "ada".into(), body: body.into(), created_at: Timestamp(0) }
    }

    fn encode(format: BodyFormat, rows: &[Message]) -> String {
        let mut e = Encoder::new(format, 64);
        e.begin();
        rows.iter().for_each(|r| e.row(r));
        e.end();
        String::from_utf8(e.take().to_vec()).unwrap()
    }

    #[test]
    fn a_cut_stream_says_so_with_the_id_to_continue_after() {
        let mut e = Encoder::new(BodyFormat::Api(Format::Ndjson), 64);
        e.begin();
        e.item(&MessageItem::Row(row(7, "x")));
        e.item(&MessageItem::End { cut: true, next: Some(7) });
        e.end();
        let out = String::from_utf8(e.take().to_vec()).unwrap();
        assert_eq!(out.lines().last(), Some(r#"{"end":{"rows":1,"cut":true,"next":"7"}}"#));
        let headers = e.final_headers();
        assert!(headers.iter().any(|(k, v)| k == NEXT_HEADER && v == "7"), "{headers:?}");
    }

    #[test]
    fn every_format_writes_an_empty_result_completely() {
        assert_eq!(encode(BodyFormat::Api(Format::Ndjson), &[]), "{\"end\":{\"rows\":0}}\n");
        assert_eq!(encode(BodyFormat::Api(Format::Json), &[]), "[\n]\n");
        assert_eq!(encode(BodyFormat::Api(Format::Csv), &[]), "id,sender,body,created_at\n");
        assert_eq!(encode(BodyFormat::Api(Format::Text), &[]), "");
        assert_eq!(encode(BodyFormat::SeedLines, &[]), "");
    }

    #[test]
    fn escapes_what_each_format_needs() {
        let rows = [row(1, "tab\there, \"q\"\nnew\\line"), row(2, "plain")];
        let text = encode(BodyFormat::Api(Format::Text), &rows);
        assert_eq!(text.lines().next().unwrap(), "1\tada\ttab\\there, \"q\"\\nnew\\\\line\t1970-01-01T00:00:00Z");
        let json: Vec<Message> = serde_json::from_str(&encode(BodyFormat::Api(Format::Json), &rows)).unwrap();
        assert_eq!(json, rows);
        let csv = encode(BodyFormat::Api(Format::Csv), &rows);
        let back: Vec<Message> =
            csv::Reader::from_reader(csv.as_bytes()).deserialize().collect::<Result<_, _>>().unwrap();
        assert_eq!(back, rows);
        assert_eq!(encode(BodyFormat::SeedLines, &rows), "object_id:1 \nobject_id:2 \n");
    }
}
