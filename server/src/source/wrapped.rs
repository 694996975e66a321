//! The statement that reads a query's rows (a saved query's, an ad-hoc statement's): the
//! query as a subquery, its columns read the way [`super::query`] reads a relation's, and a
//! `LIMIT` parameter.
//!
//! ```sql
//! SELECT q."1", q."2"::text FROM (
//! <the query>
//! ) AS q("1", "2") LIMIT $n          -- PostgreSQL
//! SELECT * FROM (
//! <the query>
//! ) LIMIT ?n                          -- SQLite
//! ```
//!
//! On PostgreSQL the statement also comes as binary COPY ([`Statement::copy`]) when the
//! caller gives the query with its values written as literals ([`copy_query`]).
//!
//! The column list renames the columns by position, so duplicate or missing names
//! (`select 1, 1`) cannot clash; the response keeps the query's own names. A subquery holds
//! one query and nothing else: no second statement, no `INSERT`, no `ATTACH` fits in it.
//! The query goes on a line of its own, so a trailing `-- comment` ends before the `)`.

use shared::Column;

use super::query::text_cast;
use super::{literal, placeholder, quote, Dialect, Param, Statement};

/// Reads `query` (its placeholders numbered `1..=params.len()`), whose result `columns`
/// were described by the database; at most `limit` rows (`None`: all). `copy_query`: the
/// same query with literals for its values ([`copy_query`]), for the binary COPY form.
pub fn statement(
    query: &str,
    columns: &[Column],
    dialect: Dialect,
    params: Vec<Param>,
    limit: Option<u64>,
    copy_query: Option<&str>,
) -> Statement {
    let n = params.len() + 1;
    let limit = limit.map(|l| i64::try_from(l.saturating_add(1)).unwrap_or(i64::MAX));
    let (sql, copy) = match dialect {
        Dialect::Postgres => {
            let positions: Vec<String> = (1..=columns.len()).map(|i| quote::ident(&i.to_string())).collect();
            let select: Vec<String> = positions
                .iter()
                .zip(columns)
                .map(|(name, column)| format!("q.{name}{}", text_cast(&column.column_type)))
                .collect();
            let wrap = |query: &str, limit: &str| {
                if columns.is_empty() {
                    format!("SELECT FROM (\n{query}\n) AS q LIMIT {limit}")
                } else {
                    format!(
                        "SELECT {} FROM (\n{query}\n) AS q({}) LIMIT {limit}",
                        select.join(", "),
                        positions.join(", ")
                    )
                }
            };
            let copy_limit = limit.map_or_else(|| "ALL".to_owned(), |l| l.to_string());
            let copy = copy_query.map(|q| super::copy_binary(&wrap(q, &copy_limit)));
            (wrap(query, &format!("${n}")), copy)
        }
        Dialect::Sqlite => (format!("SELECT * FROM (\n{query}\n) LIMIT ?{n}"), None),
    };
    Statement { sql, params, limit, copy }
}

/// `sql` (with `:name` placeholders, PostgreSQL) with each placeholder written as
/// `CAST(<literal> AS <cast>)`: parameter `n`'s value is `params[n - 1]`, its cast
/// `casts[n - 1]`, as the bound form writes `CAST($n AS <cast>)`. `None` when a value has
/// no literal ([`literal::write`]) or the SQL does not rewrite.
pub fn copy_query(sql: &str, params: &[Param], casts: &[&str]) -> Option<String> {
    let mut ok = true;
    let rewritten = placeholder::rewrite(sql, Dialect::Postgres, |n, _| {
        let (Some(param), Some(cast)) = (params.get(n - 1), casts.get(n - 1)) else {
            ok = false;
            return String::new();
        };
        let mut out = String::from("CAST(");
        if literal::write(param, &mut out).is_err() {
            ok = false;
        }
        out.push_str(" AS ");
        out.push_str(cast);
        out.push(')');
        out
    })
    .ok()?;
    ok.then_some(rewritten.sql)
}

#[cfg(test)]
mod tests {
    use shared::ColumnType;

    use super::*;

    fn column(name: &str, column_type: ColumnType) -> Column {
        Column { name: name.into(), column_type, nullable: true, sql_type: String::new() }
    }

    #[test]
    fn wraps_the_query_and_reads_columns_like_a_relations() {
        let columns = [column("id", ColumnType::Int8), column("id", ColumnType::Other("money".into()))];
        let query = "select id, total from t where a > 0 -- note";
        let s = statement(query, &columns, Dialect::Postgres, Vec::new(), Some(10), Some(query));
        assert_eq!(
            s.sql,
            "SELECT q.\"1\", q.\"2\"::text FROM (\nselect id, total from t where a > 0 -- note\n) AS q(\"1\", \"2\") LIMIT $1"
        );
        assert_eq!(
            s.copy.as_deref(),
            Some(
                "COPY (\nSELECT q.\"1\", q.\"2\"::text FROM (\nselect id, total from t where a > 0 -- note\n) \
                 AS q(\"1\", \"2\") LIMIT 11\n) TO STDOUT (FORMAT binary)"
            )
        );
        assert_eq!(s.limit, Some(11), "one row more tells whether limit cut");
        let s = statement("select 1", &columns, Dialect::Sqlite, Vec::new(), None, None);
        assert_eq!((s.sql.as_str(), s.limit, s.copy), ("SELECT * FROM (\nselect 1\n) LIMIT ?1", None, None));
    }

    #[test]
    fn copy_query_writes_each_placeholder_as_a_cast_literal() {
        use crate::source::Bind;
        let p = |bind| Param { bind, cast: None, check: false, origin: "p".into() };
        let params = [p(Bind::I64(5)), p(Bind::Text("it's :b".into()))];
        assert_eq!(
            copy_query("select :a, ':a', :b, :a", &params, &["int8", "text"]).as_deref(),
            Some("select CAST(CAST(5 AS int8) AS int8), ':a', CAST(CAST('it''s :b' AS text) AS text), CAST(CAST(5 AS int8) AS int8)")
        );
        assert_eq!(copy_query("select :a", &[p(Bind::Text("\0".into()))], &["text"]), None);
        assert_eq!(copy_query("select :a, :b", &params[..1], &["int8"]), None);
    }
}
