//! Decoders for PostgreSQL's binary COPY format: [`CopyTupleDecoder`] splits the data into
//! rows and each row into its fields' bytes (or NULL), for any columns (the reader then
//! decodes each field by its column's type with [`super::pg_decode::decode`]);
//! [`CopyBinaryDecoder`] is the same framing specialised to `messages`' rows
//! `(id int8, sender text, body text, created_at timestamptz)`.
//!
//! Why: `COPY (SELECT …) TO STDOUT (FORMAT binary)` hands over each row as a few length-
//! prefixed fields, which costs a fraction of sqlx's per-row `DataRow` decoding (measured:
//! the fetch path spends ~500 ns a row in sqlx alone, as much as `psql \copy` needs for the
//! whole row). The chunks sqlx yields need not align with rows (the file header shares the
//! first chunk), so the decoder keeps the unread tail and continues with the next chunk.
//!
//! Format: an 11-byte signature, flags (i32), header-extension length (i32) and extension;
//! then per row: field count (i16, -1 ends the data), and per field its length (i32, -1 is
//! NULL) and bytes, big-endian. `timestamptz` is i64 microseconds since 2000-01-01.

use bytes::{Buf, Bytes, BytesMut};
use shared::{Message, Timestamp};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// 2000-01-01T00:00:00Z in Unix microseconds.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CopyDecodeError {
    #[error("binary COPY data does not start with the PGCOPY signature")]
    Signature,
    #[error("binary COPY row has {found} fields, expected {expected}")]
    FieldCount { found: i16, expected: usize },
    #[error("binary COPY field {0} is NULL or has the wrong size")]
    Field(&'static str),
    #[error("binary COPY text field is not UTF-8")]
    Utf8,
    #[error("binary COPY data ended inside a row")]
    Truncated,
}

/// Splits binary COPY data into rows of `fields` fields (see the module doc).
#[derive(Debug)]
pub struct CopyTupleDecoder {
    /// Bytes received but not yet decoded: the chunk as it came, its rows shared with it
    /// (PostgreSQL sends a row a `CopyData` message, so this is the common case: no copy);
    /// joined with the next chunk only when a row goes on in it.
    pending: Bytes,
    fields: usize,
    header_done: bool,
    finished: bool,
}

/// One row's fields, after its field count: each a length (-1: NULL) and its bytes.
#[derive(Debug, Clone)]
pub struct Tuple(Bytes);

impl Tuple {
    /// Each field's bytes, `None` for NULL, in column order.
    pub fn fields(&self) -> Fields<'_> {
        Fields { rest: &self.0 }
    }

    /// Bytes of the fields and their lengths: more than the fields' data.
    pub fn size(&self) -> usize {
        self.0.len()
    }
}

/// The fields of a [`Tuple`].
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = Option<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        let len = i32::from_be_bytes(*len);
        let Ok(len) = usize::try_from(len) else {
            self.rest = rest;
            return Some(None); // -1: NULL
        };
        // `row_len` checked every length against the row before the tuple was made.
        let (value, rest) = rest.split_at_checked(len)?;
        self.rest = rest;
        Some(Some(value))
    }
}

impl CopyTupleDecoder {
    /// A decoder for rows of `fields` fields; a row with another count is an error.
    pub fn new(fields: usize) -> Self {
        CopyTupleDecoder { pending: Bytes::new(), fields, header_done: false, finished: false }
    }

    /// Adds the next chunk of COPY data.
    pub fn feed(&mut self, chunk: Bytes) {
        if self.pending.is_empty() {
            self.pending = chunk;
        } else {
            let mut joined = BytesMut::with_capacity(self.pending.len() + chunk.len());
            joined.extend_from_slice(&self.pending);
            joined.extend_from_slice(&chunk);
            self.pending = joined.freeze();
        }
    }

    /// The next complete row, `Ok(None)` when more data is needed or the data ended.
    pub fn next_row(&mut self) -> Result<Option<Tuple>, CopyDecodeError> {
        if !self.header_done {
            if self.pending.len() < 19 {
                return Ok(None);
            }
            if &self.pending[..11] != SIGNATURE {
                return Err(CopyDecodeError::Signature);
            }
            let extension =
                u32::from_be_bytes([self.pending[15], self.pending[16], self.pending[17], self.pending[18]]) as usize;
            if self.pending.len() < 19usize.saturating_add(extension) {
                return Ok(None);
            }
            self.pending.advance(19 + extension);
            self.header_done = true;
        }
        let Some(len) = row_len(&self.pending, self.fields)? else {
            return Ok(None);
        };
        if len == 2 {
            // Field count -1: the end-of-data marker.
            self.pending.advance(2);
            self.finished = true;
            return Ok(None);
        }
        let mut row = self.pending.split_to(len);
        row.advance(2);
        Ok(Some(Tuple(row)))
    }

    /// Call when the data ended: an error if it stopped inside a row.
    pub fn finish(&self) -> Result<(), CopyDecodeError> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(CopyDecodeError::Truncated)
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// [`CopyTupleDecoder`] for `messages`' rows, decoded into [`Message`]s.
#[derive(Debug)]
pub struct CopyBinaryDecoder(CopyTupleDecoder);

impl Default for CopyBinaryDecoder {
    fn default() -> Self {
        CopyBinaryDecoder(CopyTupleDecoder::new(4))
    }
}

impl CopyBinaryDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next chunk of COPY data.
    pub fn feed(&mut self, chunk: Bytes) {
        self.0.feed(chunk);
    }

    /// The next complete row, `Ok(None)` when more data is needed or the data ended.
    pub fn next_row(&mut self) -> Result<Option<Message>, CopyDecodeError> {
        let Some(tuple) = self.0.next_row()? else {
            return Ok(None);
        };
        let mut fields = tuple.fields();
        let mut next = |name| fields.next().flatten().ok_or(CopyDecodeError::Field(name));
        let id = fixed::<8>(next("id")?, "id").map(i64::from_be_bytes)?;
        let sender = text(next("sender")?)?;
        let body = text(next("body")?)?;
        let micros = fixed::<8>(next("created_at")?, "created_at").map(i64::from_be_bytes)?;
        Ok(Some(Message { id, sender, body, created_at: Timestamp(micros.saturating_add(POSTGRES_EPOCH_MICROS)) }))
    }

    /// Call when the data ended: an error if it stopped inside a row.
    pub fn finish(&self) -> Result<(), CopyDecodeError> {
        self.0.finish()
    }

    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

/// The length of the complete row at the start of `buf`, if it is all there.
fn row_len(buf: &[u8], expected: usize) -> Result<Option<usize>, CopyDecodeError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fields = i16::from_be_bytes([buf[0], buf[1]]);
    if fields == -1 {
        return Ok(Some(2));
    }
    if usize::try_from(fields).ok() != Some(expected) {
        return Err(CopyDecodeError::FieldCount { found: fields, expected });
    }
    let mut at: usize = 2;
    for _ in 0..expected {
        let Some(len) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4 + usize::try_from(len.max(0)).unwrap_or(0);
    }
    Ok((buf.len() >= at).then_some(at))
}

fn fixed<const N: usize>(field: &[u8], name: &'static str) -> Result<[u8; N], CopyDecodeError> {
    field.try_into().map_err(|_| CopyDecodeError::Field(name))
}

fn text(field: &[u8]) -> Result<String, CopyDecodeError> {
    String::from_utf8(field.to_vec()).map_err(|_| CopyDecodeError::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(rows: &[Message]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        for m in rows {
            out.extend_from_slice(&4i16.to_be_bytes());
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&m.id.to_be_bytes());
            for s in [&m.sender, &m.body] {
                out.extend_from_slice(&(s.len() as i32).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&(m.created_at.0 - POSTGRES_EPOCH_MICROS).to_be_bytes());
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    #[test]
    fn decodes_rows_split_at_every_byte() {
        let rows: Vec<Message> = (1..=3).map(crate::seed::message).collect();
        let data = encode(&rows);
        for split in 0..data.len() {
            let mut decoder = CopyBinaryDecoder::new();
            let mut out = Vec::new();
            for chunk in [&data[..split], &data[split..]] {
                decoder.feed(Bytes::copy_from_slice(chunk));
                while let Some(row) = decoder.next_row().unwrap() {
                    out.push(row);
                }
            }
            assert!(decoder.is_finished(), "split {split}");
            decoder.finish().unwrap();
            assert_eq!(out, rows, "split {split}");
        }
    }

    #[test]
    fn splits_any_row_into_fields_and_nulls() {
        let mut data = encode(&[]);
        data.truncate(19);
        for row in [[Some(&b"ab"[..]), None, Some(&b""[..])], [None, Some(&[1, 2, 3][..]), None]] {
            data.extend_from_slice(&3i16.to_be_bytes());
            for field in row {
                match field {
                    None => data.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(b) => {
                        data.extend_from_slice(&(b.len() as i32).to_be_bytes());
                        data.extend_from_slice(b);
                    }
                }
            }
        }
        data.extend_from_slice(&(-1i16).to_be_bytes());
        for split in 0..data.len() {
            let mut decoder = CopyTupleDecoder::new(3);
            let mut rows: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
            for chunk in [&data[..split], &data[split..]] {
                decoder.feed(Bytes::copy_from_slice(chunk));
                while let Some(tuple) = decoder.next_row().unwrap() {
                    rows.push(tuple.fields().map(|f| f.map(<[u8]>::to_vec)).collect());
                }
            }
            assert!(decoder.is_finished(), "split {split}");
            decoder.finish().unwrap();
            assert_eq!(
                rows,
                vec![vec![Some(b"ab".to_vec()), None, Some(Vec::new())], vec![None, Some(vec![1, 2, 3]), None]],
                "split {split}"
            );
        }
        let mut decoder = CopyTupleDecoder::new(2);
        decoder.feed(Bytes::from(data));
        assert_eq!(decoder.next_row().unwrap_err(), CopyDecodeError::FieldCount { found: 3, expected: 2 });
    }

    #[test]
    fn rejects_other_shapes() {
        let mut decoder = CopyBinaryDecoder::new();
        decoder.feed(Bytes::from_static(b"PGCOPZ\n\xff\r\n\0\0\0\0\0\0\0\0\0"));
        assert_eq!(decoder.next_row(), Err(CopyDecodeError::Signature));
        let mut data = encode(&[]);
        data.truncate(19);
        data.extend_from_slice(&3i16.to_be_bytes());
        data.extend_from_slice(&[0; 40]);
        let mut decoder = CopyBinaryDecoder::new();
        decoder.feed(Bytes::from(data));
        assert_eq!(decoder.next_row(), Err(CopyDecodeError::FieldCount { found: 3, expected: 4 }));
    }
}
