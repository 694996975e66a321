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
//! The column list renames the columns by position, so duplicate or missing names
//! (`select 1, 1`) cannot clash; the response keeps the query's own names. A subquery holds
//! one query and nothing else: no second statement, no `INSERT`, no `ATTACH` fits in it.
//! The query goes on a line of its own, so a trailing `-- comment` ends before the `)`.

use shared::Column;

use super::query::text_cast;
use super::{quote, Dialect, Param, Statement};

/// Reads `query` (its placeholders numbered `1..=params.len()`), whose result `columns`
/// were described by the database; at most `limit` rows (`None`: all).
pub fn statement(
    query: &str,
    columns: &[Column],
    dialect: Dialect,
    params: Vec<Param>,
    limit: Option<u64>,
) -> Statement {
    let n = params.len() + 1;
    let sql = match dialect {
        Dialect::Postgres => {
            let positions: Vec<String> = (1..=columns.len()).map(|i| quote::ident(&i.to_string())).collect();
            let select: Vec<String> = positions
                .iter()
                .zip(columns)
                .map(|(name, column)| format!("q.{name}{}", text_cast(&column.column_type)))
                .collect();
            if columns.is_empty() {
                format!("SELECT FROM (\n{query}\n) AS q LIMIT ${n}")
            } else {
                format!("SELECT {} FROM (\n{query}\n) AS q({}) LIMIT ${n}", select.join(", "), positions.join(", "))
            }
        }
        Dialect::Sqlite => format!("SELECT * FROM (\n{query}\n) LIMIT ?{n}"),
    };
    Statement { sql, params, limit: limit.map(|l| i64::try_from(l.saturating_add(1)).unwrap_or(i64::MAX)) }
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
        let columns = [column("id", ColumnType::Int8), column("id", ColumnType::Numeric)];
        let s =
            statement("select id, total from t where a > 0 -- note", &columns, Dialect::Postgres, Vec::new(), Some(10));
        assert_eq!(
            s.sql,
            "SELECT q.\"1\", q.\"2\"::text FROM (\nselect id, total from t where a > 0 -- note\n) AS q(\"1\", \"2\") LIMIT $1"
        );
        assert_eq!(s.limit, Some(11), "one row more tells whether limit cut");
        let s = statement("select 1", &columns, Dialect::Sqlite, Vec::new(), None);
        assert_eq!((s.sql.as_str(), s.limit), ("SELECT * FROM (\nselect 1\n) LIMIT ?1", None));
    }
}
