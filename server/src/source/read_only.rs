//! Whether an ad-hoc statement (`POST /api/sql`) is one read-only query, decided before
//! anything runs, with `sqlparser` (the well-kept SQL tokenizer and parser):
//!
//! 1. Tokenized in the database's dialect, it must hold exactly one statement: a `;` inside
//!    a string literal, a quoted name or a comment is no separator, a second statement is
//!    a 400 ([`Refusal::Statements`]).
//! 2. Parsed, it must be a query (`SELECT`, `VALUES`, `TABLE`, `WITH … SELECT`), with no
//!    statement inside it (a data-modifying `WITH`) and no `SELECT … INTO`: anything else
//!    is a 403 `read_only` ([`Refusal::Writes`]). SQL the parser does not know goes on to
//!    the database, which runs it read-only anyway.
//! 3. With `--jwt-role-claim`, functions that could leave the request's role (`set_config`,
//!    which can `SET ROLE`, and those that run SQL given as text, such as `query_to_xml`)
//!    are refused ([`Refusal::RoleEscape`]), wherever they appear.
//!
//! These checks come first; the database enforces the rest: a `READ ONLY` transaction on
//! PostgreSQL, a read-only connection with `query_only` on SQLite, and the statement wrapped
//! as a subquery (see [`super::wrapped`]), where no second statement and no write fits.

use std::ops::ControlFlow;

use sqlparser::ast::{Query, SetExpr, Statement, Visit, Visitor};
use sqlparser::dialect::{Dialect as SqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::Dialect;

/// Functions that could run SQL as another role than the request's: `set_config('role', …)`
/// is `SET ROLE`, and the others execute SQL passed to them as text.
const ROLE_ESCAPES: &[&str] = &[
    "set_config",
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "dblink",
    "dblink_exec",
    "dblink_open",
    "dblink_send_query",
    "dblink_connect",
    "dblink_connect_u",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not exactly one statement (a 400).
    #[error("{0}")]
    Statements(String),
    /// The SQL cannot be read at all (an unterminated string, …): a 400.
    #[error("the SQL cannot be read: {0}")]
    Unreadable(String),
    /// The statement writes, or is not a query (a 403 `read_only`).
    #[error("{0}")]
    Writes(String),
    /// The statement calls a function that could leave the request's role (a 403).
    #[error("{0}(…) is not allowed with --jwt-role-claim: it could run SQL as another role than the token's")]
    RoleEscape(String),
}

/// Checks `sql` (placeholders already numbered) as described in the module doc.
/// `role_guard`: refuse the functions that could leave the request's role.
pub fn check(sql: &str, dialect: Dialect, role_guard: bool) -> Result<(), Refusal> {
    let parser_dialect: &dyn SqlDialect = match dialect {
        Dialect::Postgres => &PostgreSqlDialect {},
        Dialect::Sqlite => &SQLiteDialect {},
    };
    let tokens = Tokenizer::new(parser_dialect, sql).tokenize().map_err(|e| Refusal::Unreadable(e.to_string()))?;
    let statements = count_statements(&tokens);
    if statements != 1 {
        return Err(Refusal::Statements(if statements == 0 {
            "the statement is empty".to_owned()
        } else {
            format!("only one statement may run; this SQL holds {statements} (nothing was run)")
        }));
    }
    if role_guard {
        for token in &tokens {
            if let Token::Word(word) = token {
                let name = word.value.to_ascii_lowercase();
                if ROLE_ESCAPES.contains(&name.as_str()) {
                    return Err(Refusal::RoleEscape(name));
                }
            }
        }
    }
    let Ok(parsed) = Parser::parse_sql(parser_dialect, sql) else {
        // Syntax the parser does not know: the database decides, read-only.
        return Ok(());
    };
    for statement in &parsed {
        if !matches!(statement, Statement::Query(_)) {
            return Err(not_a_query(statement));
        }
        if let ControlFlow::Break(refusal) = statement.visit(&mut WriteFinder) {
            return Err(refusal);
        }
    }
    Ok(())
}

/// Statements in a token stream: runs of tokens other than whitespace and comments,
/// separated by `;`.
fn count_statements(tokens: &[Token]) -> usize {
    let mut count = 0;
    let mut in_statement = false;
    for token in tokens {
        match token {
            Token::SemiColon => in_statement = false,
            Token::Whitespace(_) | Token::EOF => {}
            _ => {
                if !in_statement {
                    count += 1;
                    in_statement = true;
                }
            }
        }
    }
    count
}

fn not_a_query(statement: &Statement) -> Refusal {
    let text = statement.to_string();
    let kind: Vec<&str> = text.split_whitespace().take(2).collect();
    Refusal::Writes(format!(
        "only a query may run here (SELECT, VALUES, TABLE, WITH … SELECT), not {}; nothing was run",
        kind.join(" ")
    ))
}

/// Finds a statement nested in a query (`WITH d AS (DELETE … RETURNING *) SELECT …`) and
/// `SELECT … INTO`, which creates a table.
struct WriteFinder;

impl Visitor for WriteFinder {
    type Break = Refusal;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Refusal> {
        if matches!(statement, Statement::Query(_)) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(not_a_query(statement))
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        if selects_into(&query.body) {
            return ControlFlow::Break(Refusal::Writes(
                "SELECT … INTO creates a table; only a query that reads may run here (nothing was run)".to_owned(),
            ));
        }
        ControlFlow::Continue(())
    }
}

fn selects_into(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.into.is_some(),
        SetExpr::SetOperation { left, right, .. } => selects_into(left) || selects_into(right),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> Result<(), Refusal> {
        check(sql, Dialect::Postgres, false)
    }

    #[test]
    fn one_query_passes() {
        for sql in [
            "select 1",
            "select 1;",
            "select ';' as semi, $$;$$, E'\\';' from t -- ; drop table t\n",
            "with x as (select 1) select * from x",
            "values (1), (2)",
            "table t",
            "select * from t where a = $1 and b @> $2::jsonb",
        ] {
            assert_eq!(pg(sql), Ok(()), "{sql}");
        }
        assert_eq!(check("select [a;b] from `t;`", Dialect::Sqlite, false), Ok(()));
    }

    #[test]
    fn second_statements_are_refused() {
        for sql in ["select 1; drop table x", "select 1; select 2", "; ; select 1; /* */ select 2"] {
            assert!(matches!(pg(sql), Err(Refusal::Statements(_))), "{sql}");
        }
        assert!(matches!(pg(" -- nothing\n"), Err(Refusal::Statements(_))));
        assert!(matches!(pg("select 'unterminated"), Err(Refusal::Unreadable(_))));
    }

    #[test]
    fn writes_are_refused() {
        for sql in [
            "insert into t values (1)",
            "update t set a = 1",
            "delete from t",
            "create table x (a int)",
            "drop table t",
            "with d as (delete from t returning *) select * from d",
            "select * into new_table from t",
            "attach database 'x.db' as x",
        ] {
            let dialect = if sql.starts_with("attach") { Dialect::Sqlite } else { Dialect::Postgres };
            assert!(matches!(check(sql, dialect, false), Err(Refusal::Writes(_))), "{sql}");
        }
    }

    #[test]
    fn the_role_guard_refuses_ways_out_of_the_role() {
        assert_eq!(check("select set_config('role', 'postgres', true)", Dialect::Postgres, false), Ok(()));
        for sql in [
            "select set_config('role', 'postgres', true)",
            "select pg_catalog.SET_CONFIG('role', 'postgres', false)",
            "select * from set_config('role', 'x', true)",
            "select query_to_xml('select 1', true, false, '')",
        ] {
            assert!(matches!(check(sql, Dialect::Postgres, true), Err(Refusal::RoleEscape(_))), "{sql}");
        }
        assert_eq!(check("select 'set_config' as name", Dialect::Postgres, true), Ok(()));
    }
}
