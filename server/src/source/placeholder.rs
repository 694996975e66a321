//! Named placeholders: `:name` in a saved query or an ad-hoc statement becomes the
//! dialect's numbered parameter (`$1` on PostgreSQL, `?1` on SQLite), by [`rewrite`], the
//! one function that does it.
//!
//! Syntax: a `:` directly followed by a letter or `_`, then letters, digits and `_`
//! (`:min_total`). The same name used twice is the same parameter. Not placeholders:
//! anything inside a string literal (`'…'`, PostgreSQL's `E'…'` with backslash escapes and
//! `$tag$…$tag$` dollar quoting), a quoted identifier (`"…"`; SQLite also `` `…` `` and
//! `[…]`) or a comment (`-- …`, `/* … */`, nested on PostgreSQL); the cast `::type`; `:=`;
//! and a `:` followed by a space (write an array slice as `a[1 : n]`).
//!
//! The database's own placeholders are refused, so that every value goes through a named,
//! typed parameter: `$1` on PostgreSQL; `?`, `?1`, `@x` and `$x` on SQLite (PostgreSQL's `?`
//! is the jsonb operator and stays as it is).
//!
//! The text is one statement: `;` may only end it (trailing `;` are dropped, so the
//! statement can be wrapped); a `;` with anything but spaces and comments after it is a
//! second statement and refused.

use super::Dialect;

/// A statement with its placeholders replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The statement, trailing `;` dropped.
    pub sql: String,
    /// The parameters' names: `names[i]` is parameter `i + 1`.
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error("the statement is empty")]
    Empty,
    #[error("only one statement may run: a `;` at byte {0} is followed by more SQL")]
    SecondStatement(usize),
    #[error("unterminated {what} starting at byte {at}")]
    Unterminated { what: &'static str, at: usize },
    #[error("{found:?} at byte {at} is a positional parameter: name every parameter (`:name`)")]
    Positional { found: String, at: usize },
}

/// Replaces every `:name` of `sql` by `placeholder(n, name)`, where `n` (from 1) numbers the
/// distinct names in order of first use; see the module doc for what is a placeholder.
pub fn rewrite(
    sql: &str,
    dialect: Dialect,
    mut placeholder: impl FnMut(usize, &str) -> String,
) -> Result<Rewritten, PlaceholderError> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut names: Vec<String> = Vec::new();
    // Where each `;` was written in `out`, and whether SQL (not just spaces or comments)
    // followed it.
    let mut semicolons: Vec<(usize, usize)> = Vec::new();
    let mut code_after_semicolon: Option<usize> = None;
    let mut any_code = false;
    let mut copied = 0; // bytes of `sql` already in `out`
    let mut i = 0;
    let mut prev_ident = false; // the previous byte belongs to an identifier or number
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let mut is_code = true;
        let mut ident = false;
        match b {
            b'\'' => {
                let backslashes = dialect == Dialect::Postgres
                    && i > 0
                    && matches!(bytes[i - 1], b'e' | b'E')
                    && !(i > 1 && is_ident_byte(bytes[i - 2], dialect));
                i = skip_quoted(bytes, i, b'\'', backslashes)
                    .ok_or(PlaceholderError::Unterminated { what: "string literal", at: start })?;
            }
            b'"' => {
                i = skip_quoted(bytes, i, b'"', false)
                    .ok_or(PlaceholderError::Unterminated { what: "quoted identifier", at: start })?;
            }
            b'`' if dialect == Dialect::Sqlite => {
                i = skip_quoted(bytes, i, b'`', false)
                    .ok_or(PlaceholderError::Unterminated { what: "quoted identifier", at: start })?;
            }
            b'[' if dialect == Dialect::Sqlite => {
                i = memchr(bytes, i + 1, b']')
                    .map(|end| end + 1)
                    .ok_or(PlaceholderError::Unterminated { what: "quoted identifier", at: start })?;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                is_code = false;
                i = memchr(bytes, i, b'\n').unwrap_or(bytes.len());
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                is_code = false;
                i = skip_block_comment(bytes, i, dialect == Dialect::Postgres)
                    .ok_or(PlaceholderError::Unterminated { what: "comment", at: start })?;
            }
            b'$' if prev_ident => {
                i += 1; // `$` inside an identifier (`a$b`)
                ident = true;
            }
            b'$' if dialect == Dialect::Postgres => {
                if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    let end = scan(bytes, i + 1, |c| c.is_ascii_digit());
                    return Err(PlaceholderError::Positional { found: sql[i..end].to_owned(), at: i });
                }
                let tag_end = scan(bytes, i + 1, |c| is_ident_byte(c, Dialect::Sqlite));
                if bytes.get(tag_end) == Some(&b'$') && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    let tag = &bytes[i..=tag_end];
                    i = find(bytes, tag_end + 1, tag)
                        .map(|end| end + tag.len())
                        .ok_or(PlaceholderError::Unterminated { what: "dollar-quoted string", at: start })?;
                } else {
                    i += 1;
                }
            }
            b'?' | b'@' | b'$' if dialect == Dialect::Sqlite => {
                let end = scan(bytes, i + 1, |c| is_ident_byte(c, Dialect::Sqlite));
                return Err(PlaceholderError::Positional { found: sql[i..end].to_owned(), at: i });
            }
            b':' if bytes.get(i + 1) == Some(&b':') => i += 2,
            b':' if bytes.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') => {
                let end = scan(bytes, i + 1, |c| c.is_ascii_alphanumeric() || c == b'_');
                let name = &sql[i + 1..end];
                let n = match names.iter().position(|known| known == name) {
                    Some(p) => p + 1,
                    None => {
                        names.push(name.to_owned());
                        names.len()
                    }
                };
                out.push_str(&sql[copied..i]);
                out.push_str(&placeholder(n, name));
                copied = end;
                i = end;
            }
            b';' => {
                out.push_str(&sql[copied..i]);
                semicolons.push((out.len(), i));
                out.push(';');
                copied = i + 1;
                i += 1;
                is_code = false;
            }
            c if c.is_ascii_whitespace() => {
                i += 1;
                is_code = false;
            }
            c => {
                i += 1;
                ident = is_ident_byte(c, dialect);
            }
        }
        prev_ident = ident;
        if is_code {
            any_code = true;
            if let (Some(&(_, at)), None) = (semicolons.last(), code_after_semicolon) {
                code_after_semicolon = Some(at);
            }
        }
    }
    out.push_str(&sql[copied..]);
    if let Some(at) = code_after_semicolon {
        return Err(PlaceholderError::SecondStatement(at));
    }
    if !any_code {
        return Err(PlaceholderError::Empty);
    }
    // Every `;` is trailing: blank them out (their bytes are ASCII, so offsets stay valid).
    for (at, _) in semicolons {
        out.replace_range(at..=at, " ");
    }
    Ok(Rewritten { sql: out.trim_end().to_owned(), names })
}

/// Bytes of identifiers and numbers: letters, digits, `_`, any non-ASCII byte, and `$` on
/// PostgreSQL.
fn is_ident_byte(c: u8, dialect: Dialect) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 || (c == b'$' && dialect == Dialect::Postgres)
}

/// The first index at or after `from` whose byte does not satisfy `keep`.
fn scan(bytes: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    bytes[from.min(bytes.len())..].iter().position(|c| !keep(*c)).map_or(bytes.len(), |p| from + p)
}

fn memchr(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    bytes.get(from..)?.iter().position(|c| *c == needle).map(|p| from + p)
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| from + p)
}

/// Past the closing `quote` of the literal opening at `at`; a doubled quote is one quote
/// character, and with `backslashes` a `\` escapes the next byte.
fn skip_quoted(bytes: &[u8], at: usize, quote: u8, backslashes: bool) -> Option<usize> {
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslashes => i += 2,
            c if c == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Past the `*/` that closes the comment opening at `at` (counting nested `/*` when `nested`).
fn skip_block_comment(bytes: &[u8], at: usize, nested: bool) -> Option<usize> {
    let mut depth = 0;
    let mut i = at;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') if nested || depth == 0 => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pg(sql: &str) -> Result<Rewritten, PlaceholderError> {
        rewrite(sql, Dialect::Postgres, |n, _| format!("${n}"))
    }

    fn lite(sql: &str) -> Result<Rewritten, PlaceholderError> {
        rewrite(sql, Dialect::Sqlite, |n, _| format!("?{n}"))
    }

    #[test]
    fn names_become_numbered_parameters() {
        let r = pg("select id from t where total > :min_total and state = :state or total < :min_total").unwrap();
        assert_eq!(r.sql, "select id from t where total > $1 and state = $2 or total < $1");
        assert_eq!(r.names, ["min_total", "state"]);
        assert_eq!(lite("select :a, :b_2;").unwrap().sql, "select ?1, ?2");
    }

    #[test]
    fn quotes_comments_and_casts_are_not_placeholders() {
        let sql = "select ':a', \"b:c\", x::int, $$ :d $$, $t$ ; :e $t$, E'\\' :f', y -- :g\n, /* :h /* :i */ :j */ :k";
        let r = pg(sql).unwrap();
        assert_eq!(r.names, ["k"]);
        assert!(r.sql.ends_with(" $1"), "{}", r.sql);
        // SQLite: no nested comments, no E-strings, brackets and backticks quote names.
        let r = lite("select '\\' , :a, [x:y], `p:q`, /* /* :b */ :c").unwrap();
        assert_eq!(r.names, ["a", "c"]);
        // `a$b` is an identifier on PostgreSQL, not a dollar quote.
        assert_eq!(pg("select a$b$ from t where x = :v").unwrap().names, ["v"]);
        assert_eq!(pg("select x := 1, a[1 : n]").unwrap().names, Vec::<String>::new());
    }

    #[test]
    fn one_statement_only() {
        assert_eq!(pg("select 1;  -- done\n ;").unwrap().sql, "select 1   -- done");
        assert_eq!(pg("select ';'; ").unwrap().sql, "select ';'");
        assert!(matches!(pg("select 1; drop table x"), Err(PlaceholderError::SecondStatement(8))));
        assert!(matches!(pg("select 1; /* */ select 2"), Err(PlaceholderError::SecondStatement(_))));
        assert!(matches!(pg(" -- nothing\n"), Err(PlaceholderError::Empty)));
        assert!(matches!(pg(";"), Err(PlaceholderError::Empty)));
    }

    #[test]
    fn positional_parameters_and_unterminated_text_are_refused() {
        assert!(matches!(pg("select $1"), Err(PlaceholderError::Positional { .. })));
        for sql in ["select ?", "select ?1", "select @x", "select $x"] {
            assert!(matches!(lite(sql), Err(PlaceholderError::Positional { .. })), "{sql}");
        }
        assert_eq!(pg("select '{}'::jsonb ? 'k'").unwrap().names, Vec::<String>::new());
        for sql in ["select 'a", "select \"a", "select $q$ a", "select /* a", "select E'\\'"] {
            assert!(matches!(pg(sql), Err(PlaceholderError::Unterminated { .. })), "{sql}");
        }
    }

    /// A piece of generated SQL: its text and, for a placeholder, its name.
    #[derive(Debug, Clone)]
    enum Piece {
        Code(String),
        Literal(String),
        Placeholder(String),
    }

    fn piece(dialect: Dialect) -> impl Strategy<Value = Piece> {
        let text = "[ a-z:;$'\"`\\[\\]/*\\-\\n\\\\?@é]{0,12}";
        let sqlite = dialect == Dialect::Sqlite;
        prop_oneof![
            "[a-z_][a-z0-9_]{0,6}".prop_map(|w| Piece::Code(format!(" {w} "))),
            Just(Piece::Code(" x::int ".into())),
            Just(Piece::Code(" (1 + 2) = 3 ".into())),
            "[a-z_][a-z0-9_]{0,6}".prop_map(Piece::Placeholder),
            text.prop_map(|t| Piece::Literal(format!("'{}'", t.replace('\'', "''")))),
            text.prop_map(|t| Piece::Literal(format!("\"{}\"", t.replace('"', "\"\"")))),
            text.prop_map(move |t| Piece::Literal(if sqlite {
                format!("[{}]", t.replace(']', ""))
            } else {
                format!("$q${}$q$", t.replace('$', ""))
            })),
            text.prop_map(|t| Piece::Literal(format!("-- {}\n", t.replace('\n', " ")))),
            text.prop_map(|t| Piece::Literal(format!("/* {} */", t.replace('*', "")))),
        ]
    }

    fn check(pieces: Vec<Piece>, dialect: Dialect) -> Result<(), TestCaseError> {
        let mut sql = String::from("select ");
        let mut expected = String::from("select ");
        let mut names: Vec<String> = Vec::new();
        for p in &pieces {
            match p {
                Piece::Code(t) | Piece::Literal(t) => {
                    sql.push_str(t);
                    expected.push_str(t);
                }
                Piece::Placeholder(name) => {
                    sql.push_str(&format!(" :{name} "));
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                    let n = names.iter().position(|x| x == name).unwrap() + 1;
                    expected.push_str(&format!(" <{n}> "));
                }
            }
        }
        let rewritten =
            rewrite(&sql, dialect, |n, _| format!("<{n}>")).map_err(|e| TestCaseError::fail(format!("{e}: {sql}")))?;
        prop_assert_eq!(&rewritten.sql, expected.trim_end(), "{}", sql);
        prop_assert_eq!(&rewritten.names, &names);
        // The same text followed by a second statement is always refused, and a trailing
        // `;` is always dropped.
        let second = rewrite(&format!("{sql}\n; select 1"), dialect, |n, _| format!("<{n}>"));
        let refused = matches!(second, Err(PlaceholderError::SecondStatement(_)));
        prop_assert!(refused, "{:?}", second);
        let trailing = rewrite(&format!("{sql}\n;"), dialect, |n, _| format!("<{n}>")).unwrap();
        prop_assert_eq!(trailing.sql, expected.trim_end());
        Ok(())
    }

    proptest! {
        /// Placeholders are found exactly where they are, however quotes, comments, casts
        /// and `;` inside literals surround them.
        #[test]
        fn postgres_placeholders_are_found_exactly(pieces in prop::collection::vec(piece(Dialect::Postgres), 0..12)) {
            check(pieces, Dialect::Postgres)?;
        }

        #[test]
        fn sqlite_placeholders_are_found_exactly(pieces in prop::collection::vec(piece(Dialect::Sqlite), 0..12)) {
            check(pieces, Dialect::Sqlite)?;
        }

        /// Any text at all: an answer or an error, never a panic; and the output never holds
        /// a `:name` that was outside quotes and comments.
        #[test]
        fn any_text_is_an_answer_or_an_error(sql in "\\PC{0,64}") {
            let _ = rewrite(&sql, Dialect::Postgres, |n, _| format!("${n}"));
            let _ = rewrite(&sql, Dialect::Sqlite, |n, _| format!("?{n}"));
        }
    }
}
