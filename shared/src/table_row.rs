//! A relation's NDJSON row line (`/api/tables/{name}/rows`, saved queries, ad-hoc SQL), read
//! value by value for any schema: what the viewer stores rows from.
//!
//! The server writes every row the same way: `{`, then for each column in order its key
//! ([`row_key`]) and its value, `,` between, `}`; no whitespace. [`RowReader`] takes that
//! canonical form on a direct path (key prefixes compared as bytes, strings without escapes
//! borrowed whole, numbers kept as written), and leaves anything else (keys in another
//! order, whitespace, a hand-written line) to serde_json, which decides and reports errors.
//! Both paths give the same values; the tests check it.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::frame::CONTROL_WORDS;

/// `"name":` as the server writes a column's key. The first column's key is a row line's
/// first bytes, so a control word there (`end`, `error`, `schema`) has its first letter
/// written as a `\u` escape: the same key to any JSON reader, never the start of a control
/// frame.
pub fn row_key(name: &str, first: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 3);
    if first && CONTROL_WORDS.contains(&name) {
        let mut chars = name.chars();
        if let Some(c) = chars.next() {
            out.extend_from_slice(format!("\"\\u{:04x}", c as u32).as_bytes());
            let rest = serde_json::to_string(chars.as_str()).unwrap_or_default();
            out.extend_from_slice(&rest.as_bytes()[1..]);
        }
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, name);
    }
    out.push(b':');
    out
}

/// One value of a row line, borrowed from it where it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowValue<'a> {
    Null,
    Bool(bool),
    /// A JSON number exactly as written (a `numeric` keeps every digit).
    Number(&'a str),
    /// A JSON string, unescaped.
    String(Cow<'a, str>),
    /// An array or object (a `json` value, an array column), as its JSON text.
    Nested(&'a str),
}

/// Where [`RowReader::read`] puts a row's values.
pub trait RowSink<'a> {
    /// The value of column `column`; columns come in order.
    fn value(&mut self, column: usize, value: RowValue<'a>);
    /// Forget the values of this row handed over so far: they come again.
    fn restart(&mut self);
}

/// Why a row line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("malformed row: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the row has no column {0:?}")]
    MissingColumn(String),
    #[error("the row has {found} columns, {expected} were announced")]
    ColumnCount { expected: usize, found: usize },
}

/// Reads the row lines of one stream, whose columns are known before its first row (from
/// the relation's or the saved query's schema, `select=` applied).
#[derive(Debug, Clone)]
pub struct RowReader {
    names: Vec<String>,
    /// Per column, the bytes before its value: `{"id":`, `,"body":`, …
    prefixes: Vec<Vec<u8>>,
}

impl RowReader {
    pub fn new<S: AsRef<str>>(names: &[S]) -> RowReader {
        let names: Vec<String> = names.iter().map(|n| n.as_ref().to_owned()).collect();
        let prefixes = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut prefix = vec![if i == 0 { b'{' } else { b',' }];
                prefix.extend(row_key(name, i == 0));
                prefix
            })
            .collect();
        RowReader { names, prefixes }
    }

    pub fn columns(&self) -> usize {
        self.names.len()
    }

    /// Reads one row line (without its newline), handing each value to `sink` with its
    /// column's index, in column order. A line that leaves the canonical form part-way is
    /// read again from its start by serde_json, after [`RowSink::restart`]. On an error,
    /// too, some values may have been handed over: the caller drops the partial row.
    pub fn read<'a>(&self, line: &'a [u8], sink: &mut impl RowSink<'a>) -> Result<(), RowError> {
        let mut handed = false;
        if self.canonical(line, |i, value| {
            handed = true;
            sink.value(i, value)
        }) {
            return Ok(());
        }
        if handed {
            sink.restart();
        }
        self.general(line, |i, value| sink.value(i, value))
    }

    /// The canonical form; `false` as soon as the line leaves it.
    fn canonical<'a>(&self, line: &'a [u8], mut on_value: impl FnMut(usize, RowValue<'a>)) -> bool {
        // One UTF-8 check for the whole line; values are then cut at ASCII bytes, which
        // are always character boundaries.
        let Ok(text) = std::str::from_utf8(line) else {
            return false;
        };
        let mut at = 0;
        for (i, prefix) in self.prefixes.iter().enumerate() {
            if !line[at..].starts_with(prefix) {
                return false;
            }
            at += prefix.len();
            let Some((value, end)) = value_at(text, at) else {
                return false;
            };
            on_value(i, value);
            at = end;
        }
        let rest = &line[at..];
        rest == b"}" || (self.prefixes.is_empty() && rest == b"{}")
    }

    /// Any JSON object: serde_json reads it, the values are taken by column name.
    fn general<'a>(&self, line: &'a [u8], mut on_value: impl FnMut(usize, RowValue<'a>)) -> Result<(), RowError> {
        let object: HashMap<Cow<'a, str>, &'a RawValue> = serde_json::from_slice(line)?;
        if object.len() != self.names.len() {
            return Err(RowError::ColumnCount { expected: self.names.len(), found: object.len() });
        }
        for (i, name) in self.names.iter().enumerate() {
            let raw = object.get(name.as_str()).ok_or_else(|| RowError::MissingColumn(name.clone()))?;
            on_value(i, raw_value(raw)?);
        }
        Ok(())
    }
}

/// A value serde_json has already checked, classified the same way as the canonical path.
fn raw_value(raw: &RawValue) -> Result<RowValue<'_>, RowError> {
    let text = raw.get();
    match value_at(text, 0) {
        Some((value, end)) if end == text.len() => Ok(value),
        // Whitespace inside a nested value, or an escape `value_at` leaves to serde.
        _ => Ok(match text.as_bytes().first() {
            Some(b'"') => RowValue::String(Cow::Owned(serde_json::from_str(text)?)),
            Some(b'[' | b'{') => RowValue::Nested(text),
            _ => RowValue::Number(text),
        }),
    }
}

/// The value starting at byte `at` of `text`, and where it ends; `None` when it is not in
/// the canonical form (then serde_json decides).
fn value_at(text: &str, at: usize) -> Option<(RowValue<'_>, usize)> {
    let bytes = text.as_bytes();
    match *bytes.get(at)? {
        b'n' => bytes[at..].starts_with(b"null").then_some((RowValue::Null, at + 4)),
        b't' => bytes[at..].starts_with(b"true").then_some((RowValue::Bool(true), at + 4)),
        b'f' => bytes[at..].starts_with(b"false").then_some((RowValue::Bool(false), at + 5)),
        b'"' => {
            let (end, escaped) = string_end(bytes, at)?;
            let inner = &text[at + 1..end];
            let value = if escaped {
                // Escapes: serde_json unescapes (and checks) them.
                Cow::Owned(serde_json::from_str(&text[at..=end]).ok()?)
            } else {
                Cow::Borrowed(inner)
            };
            Some((RowValue::String(value), end + 1))
        }
        b'[' | b'{' => {
            let end = nested_end(bytes, at)?;
            let nested = &text[at..end];
            // Rare (json and array columns): let serde_json check it is one JSON value.
            serde_json::from_str::<&RawValue>(nested).ok()?;
            Some((RowValue::Nested(nested), end))
        }
        _ => {
            let end = number_end(bytes, at)?;
            Some((RowValue::Number(&text[at..end]), end))
        }
    }
}

/// The index of the quote closing the string that opens at `at`, and whether the string
/// has escapes; `None` for a raw control character (JSON forbids them) or an unterminated
/// string.
fn string_end(bytes: &[u8], at: usize) -> Option<(usize, bool)> {
    let mut i = at + 1;
    let mut escaped = false;
    loop {
        let found = i + memchr::memchr2(b'"', b'\\', &bytes[i..])?;
        // No early exit: this loop vectorizes.
        if bytes[i..found].iter().fold(false, |control, &b| control | (b < 0x20)) {
            return None;
        }
        if bytes[found] == b'"' {
            return Some((found, escaped));
        }
        escaped = true;
        // A backslash and the character it escapes (`\u` digits are plain bytes).
        i = found + 2;
        if i > bytes.len() {
            return None;
        }
    }
}

/// One past the bracket closing the array or object that opens at `at`.
fn nested_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i)?.0,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// One past a JSON number at `at`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn number_end(bytes: &[u8], at: usize) -> Option<usize> {
    let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = at;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    let int = digits(i);
    if int == 0 || (bytes[i] == b'0' && int > 1) {
        return None;
    }
    i += int;
    if bytes.get(i) == Some(&b'.') {
        let frac = digits(i + 1);
        if frac == 0 {
            return None;
        }
        i += 1 + frac;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl<'a> RowSink<'a> for Vec<RowValue<'static>> {
        fn value(&mut self, column: usize, value: RowValue<'a>) {
            assert_eq!(column, self.len());
            self.push(owned(value));
        }
        fn restart(&mut self) {
            self.clear();
        }
    }

    fn read_all(reader: &RowReader, line: &[u8]) -> Result<Vec<RowValue<'static>>, RowError> {
        let mut values = Vec::new();
        reader.read(line, &mut values).map(|()| values)
    }

    fn owned(value: RowValue<'_>) -> RowValue<'static> {
        match value {
            RowValue::Null => RowValue::Null,
            RowValue::Bool(b) => RowValue::Bool(b),
            RowValue::Number(n) => RowValue::Number(n.to_owned().leak()),
            RowValue::String(s) => RowValue::String(Cow::Owned(s.into_owned())),
            RowValue::Nested(n) => RowValue::Nested(n.to_owned().leak()),
        }
    }

    /// What serde_json makes of the line, as the values the reader should give.
    fn by_serde(names: &[&str], line: &[u8]) -> Option<Vec<serde_json::Value>> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).ok()?;
        (map.len() == names.len()).then_some(())?;
        names.iter().map(|n| map.get(*n).cloned()).collect()
    }

    fn as_json(value: &RowValue<'_>) -> serde_json::Value {
        match value {
            RowValue::Null => serde_json::Value::Null,
            RowValue::Bool(b) => (*b).into(),
            RowValue::Number(n) | RowValue::Nested(n) => serde_json::from_str(n).unwrap(),
            RowValue::String(s) => s.as_ref().into(),
        }
    }

    /// Wherever either side reads a line, both read it, to the same values.
    fn agrees(names: &[&str], line: &[u8]) {
        let reader = RowReader::new(names);
        let ours = read_all(&reader, line).ok().map(|v| v.iter().map(as_json).collect::<Vec<_>>());
        assert_eq!(ours, by_serde(names, line), "{}", String::from_utf8_lossy(line));
    }

    #[test]
    fn reads_the_canonical_form_and_everything_else() {
        let names = ["end", "n", "say \"x\"", "j", "b"];
        let reader = RowReader::new(&names);
        let line = br#"{"\u0065nd":-1.5e3,"n":null,"say \"x\"":"tab\there \u00e9","j":{"a":[1,"]"]},"b":true}"#;
        let values = read_all(&reader, line).unwrap();
        assert_eq!(
            values,
            [
                RowValue::Number("-1.5e3"),
                RowValue::Null,
                RowValue::String("tab\there é".into()),
                RowValue::Nested(r#"{"a":[1,"]"]}"#),
                RowValue::Bool(true)
            ]
        );
        // Another key order, whitespace: serde_json's path, same values.
        let other =
            br#"{ "b": true, "j": {"a": [1, "]"]}, "n": null, "say \"x\"": "tab\there \u00e9", "end": -1.5e3 }"#;
        let values = read_all(&reader, other).unwrap();
        assert_eq!(values[2], RowValue::String("tab\there é".into()));
        assert_eq!(values[3], RowValue::Nested(r#"{"a": [1, "]"]}"#));
        assert!(matches!(read_all(&reader, br#"{"end":1}"#), Err(RowError::ColumnCount { .. })));
        assert!(read_all(&RowReader::new(&["a"]), br#"{"b":1}"#).is_err());
        assert_eq!(read_all(&RowReader::new::<&str>(&[]), b"{}").unwrap(), []);
    }

    #[test]
    fn agrees_with_serde_on_every_cut_and_mutation() {
        let names = ["id", "t", "x"];
        let lines: [&[u8]; 3] = [
            br#"{"id":120,"t":"caf\u00e9 \"q\"","x":[1,null,{"k":"v"}]}"#,
            br#"{"id":-0.5,"t":"plain","x":false}"#,
            br#"{"id":null,"t":"","x":"s"}"#,
        ];
        for line in lines {
            agrees(&names, line);
            for cut in 0..line.len() {
                agrees(&names, &line[..cut]);
            }
            for at in 0..line.len() {
                for byte in [b'"', b'\\', b'0', b'9', b'-', b'.', b'e', b' ', b'}', b']', b'{', b',', b'a', 0x01, 0xc3]
                {
                    let mut mutated = line.to_vec();
                    mutated[at] = byte;
                    agrees(&names, &mutated);
                }
            }
        }
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        for ok in ["0", "-0", "12", "1.5", "1e9", "1E+9", "-2.5e-3", "123456789012345678901234567890.5"] {
            assert_eq!(number_end(ok.as_bytes(), 0), Some(ok.len()), "{ok}");
        }
        for bad in ["-", "01", "1.", ".5", "1e", "+1"] {
            assert_ne!(number_end(bad.as_bytes(), 0), Some(bad.len()), "{bad}");
        }
    }
}
