//! Identifier quoting, the same for PostgreSQL and SQLite: `"` around, `"` inside doubled.
//! Only names from the catalog are quoted here; nothing a client sends reaches SQL as text.

use super::Dialect;
use crate::introspect::TableDef;

pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_quoted(&mut out, name, '"');
    out
}

/// `delimiter`, `text` with every `delimiter` in it doubled, `delimiter`: SQL's one rule
/// for quoted names (`"`) and string literals (`'`, used by [`super::literal`]).
pub fn push_quoted(out: &mut String, text: &str, delimiter: char) {
    out.push(delimiter);
    for c in text.chars() {
        if c == delimiter {
            out.push(delimiter);
        }
        out.push(c);
    }
    out.push(delimiter);
}

/// `"schema"."table"` (PostgreSQL) or `"table"` (SQLite).
pub fn relation(table: &TableDef, dialect: Dialect) -> String {
    match (&table.schema, dialect) {
        (Some(schema), Dialect::Postgres) => format!("{}.{}", ident(schema), ident(&table.table)),
        _ => ident(&table.table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_every_name() {
        assert_eq!(ident("id"), "\"id\"");
        assert_eq!(ident("Order Items"), "\"Order Items\"");
        assert_eq!(ident("a\"; DROP TABLE x; --"), "\"a\"\"; DROP TABLE x; --\"");
        assert_eq!(ident(""), "\"\"");
    }
}
