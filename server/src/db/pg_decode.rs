//! PostgreSQL's binary wire form of one value, decoded by its column's type into a
//! [`Cell`] ([`decode`]) or, without allocating, into a [`CellRef`] that borrows text and
//! bytes from the row ([`decode_ref`], which checks the value as fully as `decode` does).
//! The same bytes arrive in a `DataRow` (sqlx `fetch`) and in binary COPY, so this is the
//! decoder for both.
//!
//! Formats (big-endian): int2/4/8, float4/8 as themselves; bool one byte; text, enum and
//! json as UTF-8 (jsonb after a version byte 1); date i32 days and time/timestamp[tz] i64
//! microseconds from 2000-01-01; interval i64 µs, i32 days, i32 months; uuid 16 bytes;
//! arrays: ndim, flags, element oid, (length, lower bound) per dimension, then each element
//! as a length (-1: NULL) and its bytes; `numeric` as base-10000 digits
//! ([`super::pg_numeric`]). Unknown types are read as text (cast in the select list).

use shared::ColumnType;

use super::pg_numeric::Numeric;
use crate::cell::Cell;

/// Why a value does not decode as its column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("expected {expected} bytes, got {got}")]
    Size { expected: usize, got: usize },
    #[error("text is not UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    #[error("jsonb value without version 1")]
    JsonbVersion,
    #[error("array {0}")]
    Array(&'static str),
    #[error("numeric {0}")]
    Numeric(&'static str),
    #[error("an SQLite type on PostgreSQL")]
    SqliteType,
}

/// One value as its binary form holds it: numbers, dates and times decoded, text and bytes
/// borrowed from the row, an array still in its wire form; no allocation. What a writer
/// that can take borrowed values (Arrow's builders) reads; [`CellRef::into_cell`] makes the
/// owned [`Cell`] (see it for what each variant means).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Bool(bool),
    Int(i64),
    Float4(f32),
    Float(f64),
    Numeric(Numeric<'a>),
    Text(&'a str),
    Bytes(&'a [u8]),
    Date(i32),
    Time(i64),
    Timestamp(i64),
    Timestamptz(i64),
    Interval {
        months: i32,
        days: i32,
        micros: i64,
    },
    Uuid(&'a [u8; 16]),
    /// JSON text as sent (it may hold line breaks between tokens).
    Json(&'a str),
    /// A checked array of `element`s, still in its wire form.
    Array(&'a ColumnType, &'a [u8]),
}

impl<'a> CellRef<'a> {
    /// A scalar cell, borrowed: None for NULL, arrays (nested cells, not a wire form) and
    /// `numeric` (text, not its wire form), which a writer takes from the cell itself.
    pub fn of(cell: &'a Cell) -> Option<CellRef<'a>> {
        Some(match cell {
            Cell::Bool(v) => CellRef::Bool(*v),
            Cell::Int(v) => CellRef::Int(*v),
            Cell::Float4(v) => CellRef::Float4(*v),
            Cell::Float(v) => CellRef::Float(*v),
            Cell::Text(s) => CellRef::Text(s),
            Cell::Bytes(b) => CellRef::Bytes(b),
            Cell::Date(v) => CellRef::Date(*v),
            Cell::Time(v) => CellRef::Time(*v),
            Cell::Timestamp(v) => CellRef::Timestamp(*v),
            Cell::Timestamptz(v) => CellRef::Timestamptz(*v),
            Cell::Interval { months, days, micros } => {
                CellRef::Interval { months: *months, days: *days, micros: *micros }
            }
            Cell::Uuid(u) => CellRef::Uuid(u),
            Cell::Json(s) => CellRef::Json(s),
            Cell::Null | Cell::Numeric(_) | Cell::Array(_) => return None,
        })
    }

    /// The owned cell (JSON on one line, arrays decoded).
    pub fn into_cell(self) -> Cell {
        match self {
            CellRef::Bool(v) => Cell::Bool(v),
            CellRef::Int(v) => Cell::Int(v),
            CellRef::Float4(v) => Cell::Float4(v),
            CellRef::Float(v) => Cell::Float(v),
            CellRef::Numeric(n) => Cell::Numeric(n.to_string()),
            CellRef::Text(s) => Cell::Text(s.to_owned()),
            CellRef::Bytes(b) => Cell::Bytes(b.to_vec()),
            CellRef::Date(v) => Cell::Date(v),
            CellRef::Time(v) => Cell::Time(v),
            CellRef::Timestamp(v) => Cell::Timestamp(v),
            CellRef::Timestamptz(v) => Cell::Timestamptz(v),
            CellRef::Interval { months, days, micros } => Cell::Interval { months, days, micros },
            CellRef::Uuid(u) => Cell::Uuid(*u),
            CellRef::Json(s) => Cell::Json(one_line(s).into_owned()),
            // Checked when the `CellRef` was made, so it decodes.
            CellRef::Array(element, bytes) => array(element, bytes).unwrap_or(Cell::Null),
        }
    }
}

/// One value, decoded by its column's type.
pub fn decode(ty: &ColumnType, bytes: &[u8]) -> Result<Cell, DecodeError> {
    match ty {
        ColumnType::Array(element) => array(element, bytes),
        _ => decode_ref(ty, bytes).map(CellRef::into_cell),
    }
}

/// One value, checked as fully as [`decode`] checks it, decoded without allocating.
pub fn decode_ref<'a>(ty: &'a ColumnType, bytes: &'a [u8]) -> Result<CellRef<'a>, DecodeError> {
    Ok(match ty {
        ColumnType::Int2 => CellRef::Int(i64::from(i16::from_be_bytes(fixed(bytes)?))),
        ColumnType::Int4 => CellRef::Int(i64::from(i32::from_be_bytes(fixed(bytes)?))),
        ColumnType::Int8 => CellRef::Int(i64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Float4 => CellRef::Float4(f32::from_be_bytes(fixed(bytes)?)),
        ColumnType::Float8 => CellRef::Float(f64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Bool => CellRef::Bool(fixed::<1>(bytes)?[0] != 0),
        ColumnType::Numeric => CellRef::Numeric(Numeric::parse(bytes)?),
        ColumnType::Bytea => CellRef::Bytes(bytes),
        ColumnType::Date => CellRef::Date(i32::from_be_bytes(fixed(bytes)?)),
        ColumnType::Time => CellRef::Time(i64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Timestamp => CellRef::Timestamp(i64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Timestamptz => CellRef::Timestamptz(i64::from_be_bytes(fixed(bytes)?)),
        ColumnType::Interval => {
            let b: [u8; 16] = fixed(bytes)?;
            let micros = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            let days = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
            let months = i32::from_be_bytes([b[12], b[13], b[14], b[15]]);
            CellRef::Interval { months, days, micros }
        }
        ColumnType::Uuid => {
            CellRef::Uuid(bytes.try_into().map_err(|_| DecodeError::Size { expected: 16, got: bytes.len() })?)
        }
        ColumnType::Json => CellRef::Json(utf8(bytes)?),
        ColumnType::Jsonb => CellRef::Json(jsonb(bytes)?),
        ColumnType::Array(element) => {
            check_array(element, bytes)?;
            CellRef::Array(element, bytes)
        }
        ColumnType::Text | ColumnType::Enum { .. } | ColumnType::Other(_) => CellRef::Text(utf8(bytes)?),
        ColumnType::SqliteInteger
        | ColumnType::SqliteReal
        | ColumnType::SqliteText
        | ColumnType::SqliteBlob
        | ColumnType::SqliteNumeric => return Err(DecodeError::SqliteType),
    })
}

/// A jsonb value's JSON text (after its version byte, 1).
fn jsonb(bytes: &[u8]) -> Result<&str, DecodeError> {
    match bytes.split_first() {
        Some((1, rest)) => utf8(rest),
        _ => Err(DecodeError::JsonbVersion),
    }
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::Size { expected: N, got: bytes.len() })
}

fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    Ok(std::str::from_utf8(bytes)?)
}

/// JSON text on one line: a raw line break can only be whitespace between tokens (JSON
/// strings cannot hold one unescaped), so it becomes a space.
pub fn one_line(json: &str) -> std::borrow::Cow<'_, str> {
    if memchr::memchr2(b'\n', b'\r', json.as_bytes()).is_some() {
        json.replace(['\n', '\r'], " ").into()
    } else {
        json.into()
    }
}

/// Most dimensions a PostgreSQL array has (its `MAXDIM`).
const MAX_DIMENSIONS: usize = 6;

/// An array's items in row-major order, each `None` for NULL, and its dimensions (see the
/// module doc); reading them allocates nothing.
pub fn array_items(bytes: &[u8]) -> Result<ArrayItems<'_>, DecodeError> {
    let mut items = ArrayItems { rest: bytes, left: 0, dims: [0; MAX_DIMENSIONS], ndim: 0 };
    let ndim = usize::try_from(items.i32()?).map_err(|_| DecodeError::Array("has negative dimensions"))?;
    if ndim > MAX_DIMENSIONS {
        return Err(DecodeError::Array("has too many dimensions"));
    }
    let _flags = items.i32()?;
    let _element_oid = items.i32()?;
    for d in 0..ndim {
        let len = items.i32()?;
        let _lower = items.i32()?;
        items.dims[d] = usize::try_from(len).map_err(|_| DecodeError::Array("length is negative"))?;
    }
    items.ndim = ndim;
    items.left = match ndim {
        0 => 0,
        _ => items.dims[..ndim]
            .iter()
            .try_fold(1usize, |n, d| n.checked_mul(*d))
            .ok_or(DecodeError::Array("is too large"))?,
    };
    Ok(items)
}

/// See [`array_items`].
pub struct ArrayItems<'a> {
    rest: &'a [u8],
    left: usize,
    dims: [usize; MAX_DIMENSIONS],
    ndim: usize,
}

impl<'a> ArrayItems<'a> {
    /// The length of each dimension, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.ndim]
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        let (v, rest) = self.rest.split_first_chunk::<4>().ok_or(DecodeError::Array("ended early"))?;
        self.rest = rest;
        Ok(i32::from_be_bytes(*v))
    }

    fn next_item(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = self.i32()?;
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        let (value, rest) = self.rest.split_at_checked(len).ok_or(DecodeError::Array("element ended early"))?;
        self.rest = rest;
        Ok(Some(value))
    }
}

impl<'a> Iterator for ArrayItems<'a> {
    type Item = Result<Option<&'a [u8]>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.next_item())
    }
}

fn check_array(element: &ColumnType, bytes: &[u8]) -> Result<(), DecodeError> {
    for item in array_items(bytes)? {
        if let Some(value) = item? {
            decode_ref(element, value)?;
        }
    }
    Ok(())
}

fn array(element: &ColumnType, bytes: &[u8]) -> Result<Cell, DecodeError> {
    let mut items = array_items(bytes)?;
    let (dims, ndim) = (items.dims, items.ndim);
    let dims = &dims[..ndim];
    let mut cells = Vec::with_capacity(items.left.min(1 << 16));
    for item in &mut items {
        cells.push(match item? {
            None => Cell::Null,
            Some(value) => decode(element, value)?,
        });
    }
    // More than one dimension: nest, innermost first.
    for &len in dims.iter().skip(1).rev() {
        let mut nested = Vec::with_capacity(cells.len() / len.max(1));
        let mut rest = cells.into_iter();
        loop {
            let group: Vec<Cell> = rest.by_ref().take(len).collect();
            if group.is_empty() {
                break;
            }
            nested.push(Cell::Array(group));
        }
        cells = nested;
    }
    Ok(Cell::Array(cells))
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
