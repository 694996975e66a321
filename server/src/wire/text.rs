//! PostgreSQL's COPY text format: tab between columns, `\n` after each row, `\N` for NULL,
//! and `\\`, `\t`, `\n`, `\r` escaped inside values, so `psql \copy … from` reads it back.

use crate::cell::Cell;

pub fn row(buf: &mut Vec<u8>, cells: &[Cell], scratch: &mut String) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        if cell.is_null() {
            buf.extend_from_slice(b"\\N");
        } else {
            scratch.clear();
            cell.write_text(scratch);
            escape(buf, scratch);
        }
    }
    buf.push(b'\n');
}

fn escape(buf: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}
