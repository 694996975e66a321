//! The NDJSON stream grammar (`format=ndjson`), one JSON object per line:
//!
//! ```text
//! {"id":1,"sender":"ada","body":"…","created_at":"2024-01-01T00:00:00Z"}   a row (Message)
//! …
//! {"end":{"rows":2}}                                                        the trailer
//! ```
//!
//! A complete stream ends with exactly one `{"end":…}` line whose `rows` equals the number of
//! row lines. A stream that failed after the status line ends with an `{"error":…}` line
//! instead, and the server then aborts the connection, so a cut stream never looks complete.

use serde::{Deserialize, Serialize};

use crate::canonical::canonical_row;
use crate::{ErrorBody, Message, MessageRef};

/// The trailer line `{"end":{"rows":N}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEnd {
    pub end: EndDetail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndDetail {
    pub rows: u64,
}

impl StreamEnd {
    pub fn new(rows: u64) -> Self {
        StreamEnd { end: EndDetail { rows } }
    }
}

/// One decoded NDJSON line; `R` is the row type: [`Message`], or [`MessageRef`] borrowed
/// from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<R = Message> {
    Row(R),
    End { rows: u64 },
    Error(ErrorBody),
}

#[derive(Debug, thiserror::Error)]
#[error("malformed stream line: {0}")]
pub struct FrameError(#[from] serde_json::Error);

/// Decodes one line (without its `\n`) into owned values.
pub fn parse_line(line: &[u8]) -> Result<Frame, FrameError> {
    Ok(match parse_line_borrowed(line)? {
        Frame::Row(row) => Frame::Row(row.into_owned()),
        Frame::End { rows } => Frame::End { rows },
        Frame::Error(body) => Frame::Error(body),
    })
}

/// Decodes one line (without its `\n`), borrowing row text from it. Rows are recognised by
/// their first key; a row in the server's canonical form takes the fast path
/// ([`crate::canonical`]), anything else one typed serde parse with no intermediate `Value`.
pub fn parse_line_borrowed(line: &[u8]) -> Result<Frame<MessageRef<'_>>, FrameError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(row) = canonical_row(line) {
        Ok(Frame::Row(row))
    } else if line.starts_with(b"{\"end\"") {
        let end: StreamEnd = serde_json::from_slice(line)?;
        Ok(Frame::End { rows: end.end.rows })
    } else if line.starts_with(b"{\"error\"") {
        Ok(Frame::Error(serde_json::from_slice(line)?))
    } else {
        Ok(Frame::Row(serde_json::from_slice(line)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorCode, Timestamp};

    #[test]
    fn reads_each_kind_of_line() {
        let row = Message {
            id: 7,
            sender: "ada".into(),
            body: "say \"hi\",\tthen\nleave".into(),
            created_at: Timestamp(1_000_000),
        };
        let line = serde_json::to_vec(&row).unwrap();
        assert!(line.starts_with(b"{\"id\":7,"));
        assert_eq!(parse_line(&line).unwrap(), Frame::Row(row));
        let end = serde_json::to_vec(&StreamEnd::new(3)).unwrap();
        assert_eq!(end, b"{\"end\":{\"rows\":3}}");
        assert_eq!(parse_line(&end).unwrap(), Frame::End { rows: 3 });
        let err = serde_json::to_vec(&ErrorBody::new(ErrorCode::DatabaseError, "gone")).unwrap();
        match parse_line(&err).unwrap() {
            Frame::Error(body) => assert_eq!(body.error.code, ErrorCode::DatabaseError),
            other => panic!("{other:?}"),
        }
        assert!(parse_line(b"{\"id\":1").is_err());
    }
}
