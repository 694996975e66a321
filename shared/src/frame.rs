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
//! A stream cut short by `limit` says so in its trailer:
//! `{"end":{"rows":10,"cut":true,"next":"<token>"}}` (`next` is what `after=` takes to
//! continue; both keys are left out of a stream that was not cut).
//!
//! Rows of any relation (`/api/tables/{name}/rows`) are objects keyed by column name, so a
//! row could have a first key `end` or `error`. The grammar is therefore decided on bytes: a
//! line is a control frame exactly when it starts with one of [`CONTROL_PREFIXES`], and the
//! server never writes a row line that does: when a row's first key is a control word
//! ([`CONTROL_WORDS`]), its first letter is written as a JSON `\u` escape (`{"\u0065nd":1}`),
//! which every JSON reader decodes to the same key. [`parse_table_line`] reads such lines.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::canonical::canonical_row;
use crate::{ErrorBody, Message, MessageRef};

/// Words a row's first key may not be written as verbatim (see the module doc).
pub const CONTROL_WORDS: [&str; 3] = ["end", "error", "schema"];

/// The byte prefixes that make a line a control frame.
pub const CONTROL_PREFIXES: [&[u8]; 3] = [b"{\"end\":", b"{\"error\":", b"{\"schema\":"];

/// Whether `line` is a control frame (trailer, error, schema) rather than a row.
pub fn is_control_line(line: &[u8]) -> bool {
    CONTROL_PREFIXES.iter().any(|p| line.starts_with(p))
}

/// The trailer line `{"end":{"rows":N}}` (with `"cut":true,"next":…` when cut by `limit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEnd {
    pub end: EndDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndDetail {
    pub rows: u64,
    /// The stream stopped at `limit` with rows still to come.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
    /// When cut: the `after=` value that continues right after the last row sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl StreamEnd {
    pub fn new(rows: u64) -> Self {
        StreamEnd { end: EndDetail { rows, cut: false, next: None } }
    }

    /// A trailer for a stream cut short, with the token that continues it (if any).
    pub fn cut(rows: u64, next: Option<String>) -> Self {
        StreamEnd { end: EndDetail { rows, cut: true, next } }
    }
}

/// One line of a relation's NDJSON stream: the row borrowed as raw JSON (an object keyed
/// by column name), or a control frame.
#[derive(Debug, Clone)]
pub enum TableFrame<'a> {
    Row(&'a RawValue),
    End(EndDetail),
    Error(ErrorBody),
}

/// Decodes one line (without its `\n`) of a relation's NDJSON stream.
pub fn parse_table_line(line: &[u8]) -> Result<TableFrame<'_>, FrameError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.starts_with(b"{\"end\":") {
        Ok(TableFrame::End(serde_json::from_slice::<StreamEnd>(line)?.end))
    } else if line.starts_with(b"{\"error\":") {
        Ok(TableFrame::Error(serde_json::from_slice(line)?))
    } else {
        Ok(TableFrame::Row(serde_json::from_slice(line)?))
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

    #[test]
    fn the_trailer_stays_compatible() {
        assert_eq!(serde_json::to_string(&StreamEnd::new(3)).unwrap(), r#"{"end":{"rows":3}}"#);
        let cut = StreamEnd::cut(3, Some("abc".into()));
        let line = serde_json::to_vec(&cut).unwrap();
        assert_eq!(line, br#"{"end":{"rows":3,"cut":true,"next":"abc"}}"#);
        // The messages parser still reads it.
        assert_eq!(parse_line(&line).unwrap(), Frame::End { rows: 3 });
        match parse_table_line(&line).unwrap() {
            TableFrame::End(end) => assert_eq!(end, cut.end),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_escaped_control_word_is_a_row() {
        // A one-column table whose column is `end`, holding {"rows":1}: written escaped.
        let line = br#"{"\u0065nd":{"rows":1}}"#;
        assert!(!is_control_line(line));
        match parse_table_line(line).unwrap() {
            TableFrame::Row(raw) => {
                let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw.get()).unwrap();
                assert_eq!(map["end"], serde_json::json!({"rows": 1}));
            }
            other => panic!("{other:?}"),
        }
    }
}
