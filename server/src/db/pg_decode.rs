//! PostgreSQL's binary wire form of one value, decoded by its column's type into a
//! [`Cell`]. The same bytes arrive in a `DataRow` (sqlx `fetch`) and in binary COPY, so
//! this is the decoder for both.
//!
//! Formats (big-endian): int2/4/8, float4/8 as themselves; bool one byte; text, enum and
//! json as UTF-8 (jsonb after a version byte 1); date i32 days and time/timestamp[tz] i64
//! microseconds from 2000-01-01; interval i64 µs, i32 days, i32 months; uuid 16 bytes;
//! arrays: ndim, flags, element oid, (length, lower bound) per dimension, then each element
//! as a length (-1: NULL) and its bytes. `numeric` and unknown types are read as text
//! (cast in the select list).

use shared::ColumnType;

use crate::cell::Cell;

pub fn decode(ty: &ColumnType, bytes: &[u8]) -> Result<Cell, String> {
    Ok(match ty {
        ColumnType::Int2 => Cell::Int(i64::from(i16::from_be_bytes(fixed(bytes)?))),
        ColumnType::Int4 => Cell::Int(i64::from(i32::from_be_bytes(fixed(bytes)?))),
        ColumnType::Int8 => Cell::Int(i64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Float4 => Cell::Float4(f32::from_be_bytes(fixed(bytes)?)),
        ColumnType::Float8 => Cell::Float(f64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Bool => Cell::Bool(fixed::<1>(bytes)?[0] != 0),
        ColumnType::Numeric => Cell::Numeric(utf8(bytes)?),
        ColumnType::Bytea => Cell::Bytes(bytes.to_vec()),
        ColumnType::Date => Cell::Date(i32::from_be_bytes(fixed(bytes)?)),
        ColumnType::Time => Cell::Time(i64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Timestamp => Cell::Timestamp(i64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Timestamptz => Cell::Timestamptz(i64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Interval => {
            let b: [u8; 16] = fixed(bytes)?;
            let micros = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            let days = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
            let months = i32::from_be_bytes([b[12], b[13], b[14], b[15]]);
            Cell::Interval { months, days, micros }
        }
        ColumnType::Uuid => Cell::Uuid(fixed(bytes)?),
        ColumnType::Json => Cell::Json(one_line(utf8(bytes)?)),
        ColumnType::Jsonb => match bytes.split_first() {
            Some((1, rest)) => Cell::Json(one_line(utf8(rest)?)),
            _ => return Err("jsonb value without version 1".into()),
        },
        ColumnType::Array(element) => array(element, bytes)?,
        ColumnType::Text | ColumnType::Enum { .. } | ColumnType::Other(_) => Cell::Text(utf8(bytes)?),
        ColumnType::SqliteInteger
        | ColumnType::SqliteReal
        | ColumnType::SqliteText
        | ColumnType::SqliteBlob
        | ColumnType::SqliteNumeric => return Err("an SQLite type on PostgreSQL".into()),
    })
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
    bytes.try_into().map_err(|_| format!("expected {N} bytes, got {}", bytes.len()))
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
}

/// JSON text on one line: a raw line break can only be whitespace between tokens (JSON
/// strings cannot hold one unescaped), so it becomes a space.
fn one_line(mut json: String) -> String {
    if json.contains(['\n', '\r']) {
        json = json.replace(['\n', '\r'], " ");
    }
    json
}

fn array(element: &ColumnType, bytes: &[u8]) -> Result<Cell, String> {
    let mut at = 0;
    let i32_at = |at: &mut usize| -> Result<i32, String> {
        let v = bytes.get(*at..*at + 4).ok_or("array ended early")?;
        *at += 4;
        Ok(i32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    };
    let ndim = i32_at(&mut at)?;
    let _flags = i32_at(&mut at)?;
    let _element_oid = i32_at(&mut at)?;
    let mut dims = Vec::new();
    for _ in 0..ndim {
        let len = i32_at(&mut at)?;
        let _lower = i32_at(&mut at)?;
        dims.push(usize::try_from(len).map_err(|_| "negative array length")?);
    }
    let total: usize = if dims.is_empty() { 0 } else { dims.iter().product() };
    let mut items = Vec::with_capacity(total.min(1 << 16));
    for _ in 0..total {
        let len = i32_at(&mut at)?;
        if len < 0 {
            items.push(Cell::Null);
        } else {
            let len = len as usize;
            let value = bytes.get(at..at + len).ok_or("array element ended early")?;
            at += len;
            items.push(decode(element, value)?);
        }
    }
    // More than one dimension: nest, innermost first.
    for &len in dims.iter().skip(1).rev() {
        let mut nested = Vec::with_capacity(items.len() / len.max(1));
        let mut rest = items.into_iter();
        loop {
            let group: Vec<Cell> = rest.by_ref().take(len).collect();
            if group.is_empty() {
                break;
            }
            nested.push(Cell::Array(group));
        }
        items = nested;
    }
    Ok(Cell::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array_bytes(dims: &[i32], items: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((dims.len() as i32).to_be_bytes());
        out.extend(0i32.to_be_bytes());
        out.extend(23i32.to_be_bytes());
        for d in dims {
            out.extend(d.to_be_bytes());
            out.extend(1i32.to_be_bytes());
        }
        for item in items {
            match item {
                None => out.extend((-1i32).to_be_bytes()),
                Some(b) => {
                    out.extend((b.len() as i32).to_be_bytes());
                    out.extend(*b);
                }
            }
        }
        out
    }

    #[test]
    fn decodes_arrays_of_any_shape() {
        let one = 1i32.to_be_bytes();
        let two = 2i32.to_be_bytes();
        let flat = array_bytes(&[3], &[Some(&one), None, Some(&two)]);
        assert_eq!(
            decode(&ColumnType::Array(Box::new(ColumnType::Int4)), &flat).unwrap(),
            Cell::Array(vec![Cell::Int(1), Cell::Null, Cell::Int(2)])
        );
        let square = array_bytes(&[2, 2], &[Some(&one), Some(&two), Some(&two), Some(&one)]);
        assert_eq!(
            decode(&ColumnType::Array(Box::new(ColumnType::Int4)), &square).unwrap(),
            Cell::Array(vec![
                Cell::Array(vec![Cell::Int(1), Cell::Int(2)]),
                Cell::Array(vec![Cell::Int(2), Cell::Int(1)])
            ])
        );
        assert_eq!(
            decode(&ColumnType::Array(Box::new(ColumnType::Int4)), &array_bytes(&[], &[])).unwrap(),
            Cell::Array(vec![])
        );
        assert!(decode(&ColumnType::Array(Box::new(ColumnType::Int4)), &flat[..flat.len() - 1]).is_err());
        assert!(decode(&ColumnType::Int8, &[0; 4]).is_err());
    }
}
