//! A bound value written into SQL text: the one function that does it ([`write`]), for
//! binary `COPY (SELECT …) TO STDOUT`, which takes no bind parameters.
//!
//! Every literal is a typed expression, the value in the type the bound parameter would
//! have had (so the statement means the same with either):
//!
//! | [`Bind`] | literal |
//! |---|---|
//! | `Bool` | `true`, `false` |
//! | `I16`, `I32`, `I64` | `CAST(-5 AS int2)` (`int4`, `int8`): the digits |
//! | `F32`, `F64` | `CAST('1.5e0' AS float4)` (`float8`): the shortest text that reads back; `'NaN'`, `'Infinity'`, `'-Infinity'` |
//! | `Text` | `CAST('it''s' AS <cast>)`, `text` without a cast |
//! | `Bytes` | `decode('00ff', 'hex')` (a `bytea`) |
//! | `Null` | `CAST(NULL AS <cast>)`, `text` without a cast |
//!
//! **Quoting.** A string literal is `'…'` with every `'` doubled, and nothing else inside
//! it is special as long as `standard_conforming_strings` is on (PostgreSQL's default since
//! 9.1; CockroachDB has no other mode). With it off, a backslash inside `'…'` would be an
//! escape character, and `\'` would not end the string. So no quoted part ever holds a
//! backslash, whatever the setting: a text's backslashes are written outside the quotes as
//! `chr(92)` (`('a' || chr(92) || 'b')`), and `bytea` as hex digits through `decode`
//! instead of its `'\x…'` input form. The literal then reads the same with the setting on or
//! off (the property tests run both against PostgreSQL).
//!
//! **Refused.** A text holding NUL (PostgreSQL text cannot hold it; requests refuse it
//! earlier, [`super::value::refuse_nul`]) has no literal: [`write`] says so, and the
//! statement is read with bound parameters instead.
//!
//! The cast names come from the catalog, the settings file's typed parameters or the
//! database's own description of a statement, never from a request.

use std::fmt::Write as _;

use super::{Bind, Param};

/// A value that cannot be written as a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unwritable {
    #[error("text with a NUL character has no PostgreSQL literal")]
    Nul,
}

/// Appends `param` to `out` as a PostgreSQL literal of the parameter's type (module doc).
/// On error nothing is appended.
pub fn write(param: &Param, out: &mut String) -> Result<(), Unwritable> {
    let cast = param.cast.as_deref().unwrap_or("text");
    match &param.bind {
        Bind::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
        Bind::I16(v) => {
            let _ = write!(out, "CAST({v} AS int2)");
        }
        Bind::I32(v) => {
            let _ = write!(out, "CAST({v} AS int4)");
        }
        Bind::I64(v) => {
            let _ = write!(out, "CAST({v} AS int8)");
        }
        Bind::F32(v) => {
            let _ = write!(out, "CAST('{}' AS float4)", FloatText(f64::from(*v), format!("{v:e}")));
        }
        Bind::F64(v) => {
            let _ = write!(out, "CAST('{}' AS float8)", FloatText(*v, format!("{v:e}")));
        }
        Bind::Text(text) => {
            if text.contains('\0') {
                return Err(Unwritable::Nul);
            }
            out.push_str("CAST(");
            quote_text(text, out);
            let _ = write!(out, " AS {cast})");
        }
        Bind::Bytes(bytes) => {
            out.reserve(bytes.len() * 2 + 20);
            out.push_str("decode('");
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
            out.push_str("', 'hex')");
        }
        Bind::Null => {
            let _ = write!(out, "CAST(NULL AS {cast})");
        }
    }
    Ok(())
}

/// [`write`] into a new string.
pub fn literal(param: &Param) -> Result<String, Unwritable> {
    let mut out = String::new();
    write(param, &mut out)?;
    Ok(out)
}

/// A float's input text: PostgreSQL's names for the special values, else `shortest` (the
/// shortest decimal that reads back as the same value, in exponent form).
struct FloatText(f64, String);

impl std::fmt::Display for FloatText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_nan() {
            f.write_str("NaN")
        } else if self.0 == f64::INFINITY {
            f.write_str("Infinity")
        } else if self.0 == f64::NEG_INFINITY {
            f.write_str("-Infinity")
        } else {
            f.write_str(&self.1)
        }
    }
}

/// `'…'` with `'` doubled; backslashes outside the quotes as `chr(92)` (module doc).
fn quote_text(text: &str, out: &mut String) {
    let pieces = text.split('\\').count();
    if pieces > 1 {
        out.push('(');
    }
    for (i, piece) in text.split('\\').enumerate() {
        if i > 0 {
            out.push_str(" || chr(92) || ");
        }
        super::quote::push_quoted(out, piece, '\'');
    }
    if pieces > 1 {
        out.push(')');
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn param(bind: Bind, cast: Option<&str>) -> Param {
        Param { bind, cast: cast.map(str::to_owned), check: false, origin: "p".into() }
    }

    #[test]
    fn writes_each_kind() {
        let cases = [
            (param(Bind::Bool(true), None), "true"),
            (param(Bind::I16(i16::MIN), None), "CAST(-32768 AS int2)"),
            (param(Bind::I64(5), Some("numeric")), "CAST(5 AS int8)"),
            (param(Bind::F64(f64::NAN), None), "CAST('NaN' AS float8)"),
            (param(Bind::F64(-f64::INFINITY), None), "CAST('-Infinity' AS float8)"),
            (param(Bind::F32(0.1), None), "CAST('1e-1' AS float4)"),
            (param(Bind::F64(-0.0), None), "CAST('-0e0' AS float8)"),
            (param(Bind::Text("it's".into()), None), "CAST('it''s' AS text)"),
            (param(Bind::Text("2024-01-01".into()), Some("date")), "CAST('2024-01-01' AS date)"),
            (param(Bind::Text("a\\'b\\".into()), None), "CAST(('a' || chr(92) || '''b' || chr(92) || '') AS text)"),
            (param(Bind::Bytes(vec![0, 255]), None), "decode('00ff', 'hex')"),
            (param(Bind::Null, Some("int4")), "CAST(NULL AS int4)"),
        ];
        for (p, expected) in cases {
            assert_eq!(literal(&p).unwrap(), expected, "{p:?}");
        }
        assert_eq!(literal(&param(Bind::Text("a\0b".into()), None)), Err(Unwritable::Nul));
    }

    /// The quoted parts of a literal, in order, undoubled; and what is outside them.
    fn split_quotes(sql: &str) -> (Vec<String>, String) {
        let mut quoted = Vec::new();
        let mut outside = String::new();
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\'' {
                outside.push(c);
                continue;
            }
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        s.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => s.push(c),
                    None => panic!("unterminated quote in {sql:?}"),
                }
            }
            quoted.push(s);
            outside.push_str("''");
        }
        (quoted, outside)
    }

    proptest! {
        /// Whatever the text, its literal is quoted parts (no backslash inside) joined by
        /// `|| chr(92) ||`: nothing of the value is outside the quotes, so it cannot end them.
        #[test]
        fn text_never_leaves_its_quotes(text in "[^\\x00]*", cast in prop::option::of("[a-z]{1,8}")) {
            let p = param(Bind::Text(text.clone()), cast.as_deref());
            let sql = literal(&p).unwrap();
            let (quoted, outside) = split_quotes(&sql);
            prop_assert!(quoted.iter().all(|q| !q.contains('\\')), "{sql}");
            prop_assert_eq!(quoted.join("\\"), text);
            let pieces = quoted.len();
            let joined = vec!["''"; pieces].join(" || chr(92) || ");
            let inner = if pieces > 1 { format!("({joined})") } else { joined };
            prop_assert_eq!(outside, format!("CAST({inner} AS {})", cast.as_deref().unwrap_or("text")));
        }

        #[test]
        fn numbers_and_bytes_are_digits_only(i in any::<i64>(), f in any::<f64>(), b in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(literal(&param(Bind::I64(i), None)).unwrap(), format!("CAST({i} AS int8)"));
            let float = literal(&param(Bind::F64(f), None)).unwrap();
            let (quoted, outside) = split_quotes(&float);
            prop_assert_eq!(outside, "CAST('' AS float8)");
            prop_assert!(quoted[0].chars().all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)), "{float}");
            let bytes = literal(&param(Bind::Bytes(b), None)).unwrap();
            let (quoted, outside) = split_quotes(&bytes);
            prop_assert_eq!(outside, "decode('', '')");
            prop_assert!(quoted[0].chars().all(|c| c.is_ascii_hexdigit()), "{bytes}");
        }
    }
}
