//! NDJSON: one JSON object per row (keys are the column names, in order), then the
//! trailer `{"end":{"rows":N}}` (`"cut":true,"next":…` when `limit` cut it short), or an
//! `{"error":…}` line when the stream failed. See `shared::frame` for the grammar: no row
//! line starts like a control frame ([`super::json::key`]).

use shared::{ErrorBody, StreamEnd};

use crate::cell::Cell;

pub fn row(buf: &mut Vec<u8>, keys: &[Vec<u8>], cells: &[Cell], scratch: &mut String) {
    super::json::object(buf, keys, cells, scratch);
    buf.push(b'\n');
}

pub fn trailer(buf: &mut Vec<u8>, rows: u64, cut: bool, next: Option<String>) {
    let end = if cut { StreamEnd::cut(rows, next) } else { StreamEnd::new(rows) };
    let _ = serde_json::to_writer(&mut *buf, &end);
    buf.push(b'\n');
}

pub fn error(buf: &mut Vec<u8>, error: &ErrorBody) {
    let _ = serde_json::to_writer(&mut *buf, error);
    buf.push(b'\n');
}
