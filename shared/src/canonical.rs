//! The canonical row line, `{"id":…,"sender":"…","body":"…","created_at":"…"}`: exactly
//! what serde_json writes for a [`crate::Message`] (no whitespace, fields in wire order),
//! written and read here by direct code on both hot paths.
//!
//! Why: the server writes and the viewer reads every row of a half-million-row stream, and
//! serde's general path (a byte-at-a-time escape table, field-name matching, visitors) was
//! the largest single cost on both sides. [`write_row`] produces the same bytes as
//! `serde_json::to_writer`, copying strings that need no escaping whole. The reader accepts
//! a strict subset of what serde_json accepts and gives the same value for it; anything
//! else (other key order, whitespace, escapes, control characters, unusual numbers)
//! returns `None`, and the caller falls back to serde_json, which decides and reports
//! errors. The tests check both directions against serde_json.

use std::borrow::Cow;

use crate::{Message, MessageRef, Timestamp};

/// Appends `row` as a canonical row line (without a newline): the bytes
/// `serde_json::to_writer` writes for it.
pub fn write_row(out: &mut Vec<u8>, row: &Message) {
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(itoa::Buffer::new().format(row.id).as_bytes());
    out.extend_from_slice(b",\"sender\":");
    write_str(out, &row.sender);
    out.extend_from_slice(b",\"body\":");
    write_str(out, &row.body);
    out.extend_from_slice(b",\"created_at\":\"");
    row.created_at.write_rfc3339(out);
    out.extend_from_slice(b"\"}");
}

/// A JSON string. Most text needs no escaping: one pass with no early exit (it vectorizes)
/// finds out, and then the text is copied whole. Otherwise serde_json escapes it.
fn write_str(out: &mut Vec<u8>, text: &str) {
    let needs_escape = text.bytes().fold(false, |found, b| found | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if needs_escape {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// Reads `line` (without its newline) if it is a canonical row line.
pub(crate) fn canonical_row(line: &[u8]) -> Option<MessageRef<'_>> {
    // One UTF-8 check for the whole line; fields are then cut at ASCII quotes, which are
    // always character boundaries.
    let text = std::str::from_utf8(line).ok()?;
    let rest = line.strip_prefix(b"{\"id\":")?;
    let (id, rest) = integer(rest)?;
    let rest = rest.strip_prefix(b",\"sender\":\"")?;
    let (sender, rest) = plain_string(text, rest)?;
    let rest = rest.strip_prefix(b",\"body\":\"")?;
    let (body, rest) = plain_string(text, rest)?;
    let rest = rest.strip_prefix(b",\"created_at\":\"")?;
    let (created_at, rest) = plain_string(text, rest)?;
    if rest != b"}" {
        return None;
    }
    let created_at = Timestamp::parse_rfc3339(created_at).ok()?;
    Some(MessageRef { id, sender: Cow::Borrowed(sender), body: Cow::Borrowed(body), created_at })
}

/// A JSON integer of at most 18 digits (so it cannot overflow), followed by the rest.
fn integer(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let (negative, digits) = match bytes.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, bytes),
    };
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    // JSON has no leading zeros; "-0" is left to serde.
    if len == 0 || len > 18 || (digits[0] == b'0' && (len > 1 || negative)) {
        return None;
    }
    let value = digits[..len].iter().fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    Some((if negative { -value } else { value }, &digits[len..]))
}

/// The string starting at `rest` (a suffix of `line`'s bytes), up to its closing quote, if
/// it needs no unescaping; and the bytes after that quote.
fn plain_string<'a>(line: &'a str, rest: &'a [u8]) -> Option<(&'a str, &'a [u8])> {
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    // JSON forbids raw control characters in strings. No early exit: this loop vectorizes.
    let has_control = rest[..end].iter().fold(false, |found, &b| found | (b < 0x20));
    if rest[end] != b'"' || has_control {
        return None;
    }
    let start = line.len() - rest.len();
    Some((line.get(start..start + end)?, &rest[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_row(line: &[u8]) -> Option<Message> {
        serde_json::from_slice::<Message>(line).ok()
    }

    /// Wherever the fast path answers, serde_json gives the same row.
    fn agrees(line: &[u8]) -> bool {
        match canonical_row(line) {
            Some(fast) => serde_row(line) == Some(fast.into_owned()),
            None => true,
        }
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let texts = [
            "",
            "ada",
            "naïve café ✓",
            "say \"hi\"",
            "back\\slash",
            "tab\there",
            "nl\nand\r",
            "\u{1}\u{1f}",
            "\u{7f}\u{2028}",
        ];
        for (i, sender) in texts.iter().enumerate() {
            for body in texts {
                for (id, micros) in
                    [(0, 0), (i as i64 + 1, 1_700_000_000_123_456), (i64::MIN, -1), (i64::MAX, 253_402_300_799_999_999)]
                {
                    let row =
                        Message { id, sender: sender.to_string(), body: body.into(), created_at: Timestamp(micros) };
                    let mut line = Vec::new();
                    write_row(&mut line, &row);
                    assert_eq!(String::from_utf8(line).unwrap(), serde_json::to_string(&row).unwrap());
                }
            }
        }
    }

    #[test]
    fn reads_what_the_server_writes() {
        for (id, sender, body, micros) in [
            (1, "ada", "hello", 0),
            (-42, "", "", 1_700_000_000_123_456),
            (999_999_999_999_999_999, "naïve ✓", "tab\there", -1),
        ] {
            let row = Message { id, sender: sender.into(), body: body.into(), created_at: Timestamp(micros) };
            let line = serde_json::to_vec(&row).unwrap();
            match canonical_row(&line) {
                // A tab must be escaped in JSON, so that row goes to serde.
                Some(fast) => assert_eq!(fast.into_owned(), row),
                None => assert!(body.contains('\t'), "{}", String::from_utf8_lossy(&line)),
            }
        }
    }

    #[test]
    fn leaves_everything_unusual_to_serde() {
        let declined: [&[u8]; 14] = [
            br#"{"id":1,"sender":"a\"b","body":"","created_at":"2024-01-01T00:00:00Z"}"#,
            br#"{"id":1,"sender":"a","body":"x\ny","created_at":"2024-01-01T00:00:00Z"}"#,
            b"{\"id\":1,\"sender\":\"a\x01\",\"body\":\"\",\"created_at\":\"2024-01-01T00:00:00Z\"}",
            br#"{"id": 1,"sender":"a","body":"","created_at":"2024-01-01T00:00:00Z"}"#,
            br#"{"sender":"a","id":1,"body":"","created_at":"2024-01-01T00:00:00Z"}"#,
            br#"{"id":01,"sender":"a","body":"","created_at":"2024-01-01T00:00:00Z"}"#,
            br#"{"id":-0,"sender":"a","body":"","created_at":"2024-01-01T00:00:00Z"}"#,
            br#"{"id":1234567890123456789,"sender":"a","body":"","created_at":"2024-01-01T00:00:00Z"}"#,
            br#"{"id":1.5,"sender":"a","body":"","created_at":"2024-01-01T00:00:00Z"}"#,
            br#"{"id":1,"sender":"a","body":"","created_at":"2024-01-01T00:00:00Z","x":1}"#,
            br#"{"id":1,"sender":"a","body":"","created_at":"2024-02-30T00:00:00Z"}"#,
            br#"{"id":1,"sender":"a","body":"","created_at":"2024-01-01T00:00:00Z"} "#,
            b"{\"id\":1,\"sender\":\"\xff\",\"body\":\"\",\"created_at\":\"2024-01-01T00:00:00Z\"}",
            br#"{"id":1,"sender":"a","body":""#,
        ];
        for line in declined {
            assert!(canonical_row(line).is_none(), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn agrees_with_serde_on_every_cut_and_mutation() {
        let row = Message {
            id: 123,
            sender: "user7".into(),
            body: "café, \"quoted\"".into(),
            created_at: Timestamp(1_000_001),
        };
        let plain = Message { body: "café".into(), ..row.clone() };
        for line in [serde_json::to_vec(&row).unwrap(), serde_json::to_vec(&plain).unwrap()] {
            for cut in 0..=line.len() {
                assert!(agrees(&line[..cut]));
            }
            for at in 0..line.len() {
                for byte in [b'"', b'\\', b'0', b'9', b'-', b' ', b'}', b'a', 0x01, 0xc3] {
                    let mut mutated = line.clone();
                    mutated[at] = byte;
                    assert!(agrees(&mutated), "{}", String::from_utf8_lossy(&mutated));
                }
            }
        }
    }
}
