//! Wire formats for any relation's rows, one file per format: [`ndjson`], [`json`] (also
//! the JSON value of each cell, which NDJSON shares), [`csv`], [`text`] (COPY text),
//! [`arrow`] (Arrow IPC stream; its column types are in its own doc).
//! [`TableEncoder`] picks one per response and is what `crate::body` drives.
//!
//! Type mapping (per cell; NULL is `null` in JSON, an unquoted empty field in CSV, `\N`
//! in text, and never equal to an empty string or the text `null`):
//!
//! | type | JSON | CSV / text |
//! |---|---|---|
//! | int2/4/8, SQLite integer | number | digits |
//! | float4/8, SQLite real | number; `"NaN"`, `"Infinity"`, `"-Infinity"` | shortest round-trip text, `NaN`, `Infinity` |
//! | numeric | number with every digit (`"NaN"`, `"Infinity"` as strings) | the digits |
//! | bool | `true` / `false` | `true` / `false` |
//! | text, varchar, char, enum, other types | string | the text |
//! | bytea, SQLite blob | `"\\x00ff"` | `\x00ff` |
//! | date, time, timestamp, timestamptz | ISO 8601 string (`Z` for timestamptz), `"infinity"` | the same |
//! | interval | ISO 8601 duration string (`P1Y2M3DT4H5M6S`) | the same |
//! | uuid | string | the same |
//! | json, jsonb | the JSON itself | the JSON text |
//! | arrays | JSON array | PostgreSQL array literal `{1,NULL,"a b"}` |

pub mod arrow;
pub mod csv;
pub mod json;
pub mod ndjson;
pub mod text;

use axum::http::{HeaderName, HeaderValue};
use bytes::Bytes;
use shared::{Column, ColumnType, ErrorBody, Format};

use crate::cell::Cell;
use crate::db::pg_decode::DecodeError;
use crate::db::table_rows::TableItem;
use crate::db::RowStreamError;
use crate::encode::ChunkEncoder;

/// The response header that carries the `next` token of a buffered response cut by `limit`
/// (or `--max-rows`).
pub const NEXT_HEADER: &str = "rowstream-next";

/// The response header (`true`) of a buffered response cut by `limit` or `--max-rows`,
/// sent also when there is no `next` token (a relation without a primary key, `limit=0`).
pub const CUT_HEADER: &str = "rowstream-cut";

/// The headers a buffered response carries about where its rows stopped.
pub fn cut_headers(cut: bool, next: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::new();
    if cut {
        headers.push((HeaderName::from_static(CUT_HEADER), HeaderValue::from_static("true")));
    }
    if let Some(value) = next.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.push((HeaderName::from_static(NEXT_HEADER), value));
    }
    headers
}

/// Encodes a relation's row stream in one format.
pub struct TableEncoder {
    format: Format,
    /// Column names, in order.
    names: Vec<String>,
    /// Column types, in order (what a binary COPY row is decoded by).
    types: Vec<ColumnType>,
    /// The cells of the row being written, when it came as a COPY row.
    cells: Vec<Cell>,
    /// Per column, its JSON key with the colon (`"name":`), control words escaped.
    keys: Vec<Vec<u8>>,
    buf: Vec<u8>,
    /// Scratch text for one cell.
    scratch: String,
    rows: u64,
    end: Option<(bool, Option<String>)>,
    /// The Arrow stream, for `Format::Arrow`.
    arrow: Option<arrow::ArrowStream>,
}

impl TableEncoder {
    /// An encoder for rows of `columns` (in order); `primary_key` is the relation's (Arrow
    /// types SQLite's rowid by it), `batch` the most rows an Arrow record batch holds.
    pub fn new(
        format: Format,
        columns: &[Column],
        primary_key: &[String],
        batch: u32,
        capacity: usize,
    ) -> TableEncoder {
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let keys = names.iter().enumerate().map(|(i, name)| json::key(name, i == 0)).collect();
        let arrow = (format == Format::Arrow)
            .then(|| arrow::ArrowStream::new(arrow::schema(columns, primary_key), batch, capacity));
        TableEncoder {
            format,
            names,
            types: columns.iter().map(|c| c.column_type.clone()).collect(),
            cells: Vec::new(),
            keys,
            buf: if arrow.is_some() { Vec::new() } else { Vec::with_capacity(capacity) },
            scratch: String::new(),
            rows: 0,
            end: None,
            arrow,
        }
    }

    /// The `next` token, once the stream ended cut short.
    pub fn next_token(&self) -> Option<&str> {
        self.end.as_ref().and_then(|(_, next)| next.as_deref())
    }
}

impl ChunkEncoder for TableEncoder {
    type Item = TableItem;

    fn content_type(&self) -> &'static str {
        match self.format {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Text => "text/plain; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
        }
    }

    fn begin(&mut self) {
        match self.format {
            Format::Json => self.buf.push(b'['),
            Format::Csv => csv::header(&mut self.buf, &self.names),
            Format::Arrow => self.arrow.as_mut().into_iter().for_each(arrow::ArrowStream::begin),
            Format::Ndjson | Format::Text => {}
        }
    }

    fn item(&mut self, item: &TableItem) -> Result<(), RowStreamError> {
        let row = match item {
            TableItem::Row(row) => row,
            TableItem::End { cut, next } => {
                self.end = Some((*cut, next.clone()));
                return Ok(());
            }
        };
        let bad_field = |(column, error): (usize, DecodeError)| RowStreamError::Decode {
            column: self.names.get(column).cloned().unwrap_or_else(|| format!("#{}", column + 1)),
            message: error.to_string(),
        };
        if let Some(arrow) = &mut self.arrow {
            // Straight from a COPY row's bytes into the column builders.
            arrow.row(row, &self.types).map_err(bad_field)?;
            self.rows += 1;
            return Ok(());
        }
        let cells = row.cells(&self.types, &mut self.cells).map_err(bad_field)?;
        match self.format {
            Format::Ndjson => ndjson::row(&mut self.buf, &self.keys, cells, &mut self.scratch),
            Format::Json => json::row(&mut self.buf, &self.keys, cells, &mut self.scratch, self.rows == 0),
            Format::Csv => csv::row(&mut self.buf, cells, &mut self.scratch),
            Format::Text => text::row(&mut self.buf, cells, &mut self.scratch),
            Format::Arrow => {}
        }
        self.rows += 1;
        Ok(())
    }

    fn end(&mut self) {
        match self.format {
            Format::Ndjson => {
                let (cut, next) = self.end.clone().unwrap_or((false, None));
                ndjson::trailer(&mut self.buf, self.rows, cut, next);
            }
            Format::Json => self.buf.extend_from_slice(b"\n]\n"),
            // The end-of-stream marker: written here only, so only a complete stream has it.
            Format::Arrow => self.arrow.as_mut().into_iter().for_each(arrow::ArrowStream::end),
            Format::Csv | Format::Text => {}
        }
    }

    fn error(&mut self, error: &ErrorBody) {
        if self.format == Format::Ndjson {
            ndjson::error(&mut self.buf, error);
        }
    }

    fn take(&mut self) -> Bytes {
        if let Some(arrow) = &mut self.arrow {
            return arrow.take();
        }
        let capacity = self.buf.capacity();
        Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(capacity)))
    }

    fn pending(&self) -> usize {
        match &self.arrow {
            Some(arrow) => arrow.pending(),
            None => self.buf.len(),
        }
    }

    fn rows(&self) -> u64 {
        self.rows
    }

    fn final_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let cut = self.end.as_ref().is_some_and(|(cut, _)| *cut);
        cut_headers(cut, self.next_token())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::table_rows::Row;

    fn encode(format: Format, names: &[&str], rows: &[Vec<Cell>]) -> String {
        let columns: Vec<Column> = names
            .iter()
            .map(|n| Column {
                name: n.to_string(),
                column_type: shared::ColumnType::Text,
                nullable: true,
                sql_type: "text".into(),
            })
            .collect();
        let mut e = TableEncoder::new(format, &columns, &[], 100, 64);
        e.begin();
        for r in rows {
            e.item(&TableItem::Row(Row::Cells(r.clone()))).unwrap();
        }
        e.item(&TableItem::End { cut: false, next: None }).unwrap();
        e.end();
        String::from_utf8(e.take().to_vec()).unwrap()
    }

    #[test]
    fn null_empty_and_the_text_null_stay_apart() {
        let rows = vec![
            vec![Cell::Null],
            vec![Cell::Text(String::new())],
            vec![Cell::Text("null".into())],
            vec![Cell::Text("\\N".into())],
        ];
        assert_eq!(
            encode(Format::Ndjson, &["v"], &rows),
            "{\"v\":null}\n{\"v\":\"\"}\n{\"v\":\"null\"}\n{\"v\":\"\\\\N\"}\n{\"end\":{\"rows\":4}}\n"
        );
        assert_eq!(encode(Format::Csv, &["v"], &rows), "v\n\n\"\"\nnull\n\\N\n");
        assert_eq!(encode(Format::Text, &["v"], &rows), "\\N\n\nnull\n\\\\N\n");
        assert_eq!(
            encode(Format::Json, &["v"], &rows),
            "[\n{\"v\":null},\n{\"v\":\"\"},\n{\"v\":\"null\"},\n{\"v\":\"\\\\N\"}\n]\n"
        );
    }

    #[test]
    fn a_row_never_starts_like_a_control_frame() {
        for name in shared::frame::CONTROL_WORDS {
            let out = encode(Format::Ndjson, &[name, "x"], &[vec![Cell::Json("{\"rows\":1}".into()), Cell::Int(1)]]);
            let first = out.lines().next().unwrap();
            assert!(!shared::is_control_line(first.as_bytes()), "{first}");
            let value: serde_json::Value = serde_json::from_str(first).unwrap();
            assert_eq!(value[name], serde_json::json!({"rows": 1}));
            assert_eq!(out.lines().last().unwrap(), "{\"end\":{\"rows\":1}}");
        }
    }
}
