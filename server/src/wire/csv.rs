//! CSV (RFC 4180) with a header row, NULL written as PostgreSQL's CSV does: an empty,
//! unquoted field. A non-NULL empty string is `""`, so the two stay apart.

use crate::cell::Cell;

pub fn header(buf: &mut Vec<u8>, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        field(buf, name);
    }
    buf.push(b'\n');
}

pub fn row(buf: &mut Vec<u8>, cells: &[Cell], scratch: &mut String) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        if !cell.is_null() {
            scratch.clear();
            cell.write_text(scratch);
            field(buf, scratch);
        }
    }
    buf.push(b'\n');
}

/// A non-NULL field: quoted when empty or when it holds a comma, quote or line break.
fn field(buf: &mut Vec<u8>, text: &str) {
    let quote = text.is_empty() || text.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !quote {
        buf.extend_from_slice(text.as_bytes());
        return;
    }
    buf.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}
