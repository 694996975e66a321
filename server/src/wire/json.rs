//! JSON: one streamed array of row objects (`[`, rows separated by `,`, `]`), and the JSON
//! value of each cell, which NDJSON writes the same way.

use crate::cell::Cell;

/// `"name":` for a column, control words escaped as the stream grammar needs
/// ([`shared::row_key`]).
pub fn key(name: &str, first: bool) -> Vec<u8> {
    shared::row_key(name, first)
}

/// One row as a JSON object.
pub fn object(buf: &mut Vec<u8>, keys: &[Vec<u8>], cells: &[crate::cell::Cell], scratch: &mut String) {
    buf.push(b'{');
    for (i, (key, cell)) in keys.iter().zip(cells).enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(key);
        value(buf, cell, scratch);
    }
    buf.push(b'}');
}

/// A row of the JSON array format.
pub fn row(buf: &mut Vec<u8>, keys: &[Vec<u8>], cells: &[Cell], scratch: &mut String, first: bool) {
    if !first {
        buf.push(b',');
    }
    buf.push(b'\n');
    object(buf, keys, cells, scratch);
}

/// A cell's JSON value (see the table in [`super`]).
pub fn value(buf: &mut Vec<u8>, cell: &Cell, scratch: &mut String) {
    match cell {
        Cell::Null => buf.extend_from_slice(b"null"),
        Cell::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Cell::Int(i) => buf.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Cell::Float4(f) if f.is_finite() => buf.extend_from_slice(ryu::Buffer::new().format_finite(*f).as_bytes()),
        Cell::Float(f) if f.is_finite() => buf.extend_from_slice(ryu::Buffer::new().format_finite(*f).as_bytes()),
        Cell::Numeric(n) if is_json_number(n) => buf.extend_from_slice(n.as_bytes()),
        Cell::Text(s) => string(buf, s),
        Cell::Json(j) => buf.extend_from_slice(j.as_bytes()),
        Cell::Array(items) => {
            buf.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                value(buf, item, scratch);
            }
            buf.push(b']');
        }
        other => {
            scratch.clear();
            other.write_text(scratch);
            string(buf, scratch);
        }
    }
}

fn string(buf: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// Whether a numeric's text is a JSON number (not `NaN` / `Infinity`).
fn is_json_number(n: &str) -> bool {
    let digits = n.strip_prefix('-').unwrap_or(n);
    digits.starts_with(|c: char| c.is_ascii_digit()) && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(cell: Cell) -> String {
        let mut buf = Vec::new();
        value(&mut buf, &cell, &mut String::new());
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn values_json_cannot_carry_are_strings() {
        assert_eq!(json(Cell::Float(f64::NAN)), "\"NaN\"");
        assert_eq!(json(Cell::Float(f64::INFINITY)), "\"Infinity\"");
        assert_eq!(json(Cell::Float4(f32::NEG_INFINITY)), "\"-Infinity\"");
        assert_eq!(json(Cell::Numeric("NaN".into())), "\"NaN\"");
        assert_eq!(
            json(Cell::Numeric("-12345678901234567890.000000000000000001".into())),
            "-12345678901234567890.000000000000000001"
        );
        assert_eq!(json(Cell::Float(1e300)), "1e300");
        assert_eq!(json(Cell::Bytes(vec![0, 1])), "\"\\\\x0001\"");
        assert_eq!(json(Cell::Array(vec![Cell::Int(1), Cell::Null])), "[1,null]");
        assert_eq!(key("end", true), b"\"\\u0065nd\":");
        assert_eq!(key("end", false), b"\"end\":");
        assert_eq!(key("say \"hi\"", true), b"\"say \\\"hi\\\"\":");
    }
}
