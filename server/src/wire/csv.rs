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
        match cell {
            Cell::Null => {}
            // The common cells without a copy into `scratch`; digits never need quotes.
            Cell::Text(text) | Cell::Numeric(text) | Cell::Json(text) => field(buf, text),
            Cell::Int(i) => buf.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            other => {
                scratch.clear();
                other.write_text(scratch);
                field(buf, scratch);
            }
        }
    }
    buf.push(b'\n');
}

/// The bytes that make a field quoted.
const QUOTED: [bool; 256] = {
    let mut table = [false; 256];
    table[b',' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table
};

/// A non-NULL field: quoted when empty or when it holds a comma, quote or line break.
fn field(buf: &mut Vec<u8>, text: &str) {
    let quote = text.is_empty() || text.bytes().any(|b| QUOTED[usize::from(b)]);
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
