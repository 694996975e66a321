//! The statements that read a relation's rows.
//!
//! ```sql
//! SELECT "a", "n"::text, "k" FROM "s"."t"
//! WHERE <filters> AND <strictly after the resume row>
//! ORDER BY "a" DESC NULLS FIRST, "k" ASC NULLS LAST
//! LIMIT $n
//! ```
//!
//! The select list holds the requested columns, then any sort column not requested (its
//! values make the resume token and are not sent). PostgreSQL columns whose binary form
//! rowstream does not decode (types it does not know) are cast to text in the list. Every
//! value is a parameter; text parameters are cast to the column's type.

use std::fmt::Write as _;

use shared::ColumnType;

use super::filter::{Condition, Is};
use super::order::SortKey;
use super::request::RowsRequest;
use super::{literal, quote, Bind, Dialect, Param, Statement};

/// What the row reader needs to know about a request's statements.
#[derive(Debug, Clone)]
pub struct Plan {
    pub request: RowsRequest,
    /// Columns in the select list (indices into the relation), requested ones first.
    pub read: Vec<usize>,
    /// For each sort key, its position in `read`.
    pub key_slots: Vec<usize>,
}

impl Plan {
    pub fn new(request: RowsRequest) -> Plan {
        let mut read = request.select.clone();
        let key_slots = request
            .order
            .iter()
            .map(|key| match read.iter().position(|c| *c == key.column) {
                Some(slot) => slot,
                None => {
                    read.push(key.column);
                    read.len() - 1
                }
            })
            .collect();
        Plan { request, read, key_slots }
    }

    /// How many of the read columns are sent.
    pub fn visible(&self) -> usize {
        self.request.select.len()
    }

    /// The type each read column is decoded as.
    pub fn read_types(&self) -> Vec<ColumnType> {
        self.read.iter().map(|c| self.request.table.relation.columns[*c].column_type.clone()).collect()
    }

    /// The request's own parameters that the database must check before the query runs.
    pub fn checked_params(&self) -> Vec<&Param> {
        let filters = self.request.filters.iter().flat_map(|f| match &f.condition {
            Condition::Compare(_, p) => vec![p],
            Condition::In(ps) => ps.iter().collect(),
            Condition::Like { .. } | Condition::Is(_) => Vec::new(),
        });
        let after = self.request.after.iter().flatten().flatten();
        filters.chain(after).filter(|p| p.needs_check()).collect()
    }

    /// `SELECT CAST($1 AS t1), …` over the given parameters: parses them, reads nothing.
    pub fn check_statement(params: &[&Param]) -> Statement {
        let mut w = Writer::new(Dialect::Postgres);
        w.sql.push_str("SELECT ");
        for (i, p) in params.iter().enumerate() {
            if i > 0 {
                w.sql.push_str(", ");
            }
            let placeholder = w.param((*p).clone());
            w.sql.push_str(&placeholder);
        }
        Statement { sql: w.sql, params: w.params, limit: None, copy: None }
    }

    /// The rows strictly after `after` (all when `None`), at most `limit`; on PostgreSQL
    /// also as binary COPY with literals ([`Statement::copy`]).
    pub fn statement(&self, after: Option<&[Option<Param>]>, limit: Option<u64>) -> Statement {
        let limit = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let bound = self.write(Writer::new(self.request.dialect), true, after, limit);
        let copy = match self.request.dialect {
            Dialect::Postgres => {
                let w = self.write(Writer::literals(), true, after, limit);
                (!w.unwritable).then(|| super::copy_binary(&w.sql))
            }
            Dialect::Sqlite => None,
        };
        Statement { sql: bound.sql, params: bound.params, limit, copy }
    }

    /// The head query: [`Plan::statement`] without a COPY form, read prepared (a new
    /// connection prepares it ahead: `db::Prime::statement`, which keeps only its SQL and
    /// its parameters' types).
    pub fn head(&self, after: Option<&[Option<Param>]>, limit: u64) -> Statement {
        let limit = Some(i64::try_from(limit).unwrap_or(i64::MAX));
        let bound = self.write(Writer::new(self.request.dialect), true, after, limit);
        Statement { sql: bound.sql, params: bound.params, limit, copy: None }
    }

    /// The request's SELECT without its filters and with `LIMIT 0` (PostgreSQL): what a new
    /// connection runs to load the catalog entries the request's statements need
    /// (`db::Prime`). No value of the request is in it.
    pub fn prime(&self) -> String {
        self.write(Writer::literals(), false, None, Some(0)).sql
    }

    /// Writes the SELECT of [`Plan::statement`] with `w`'s placeholders (without the
    /// request's filters unless `filters`).
    fn write(&self, mut w: Writer, filters: bool, after: Option<&[Option<Param>]>, limit: Option<i64>) -> Writer {
        let req = &self.request;
        let table = &req.table;
        let columns = &table.relation.columns;
        w.sql.push_str("SELECT ");
        for (i, c) in self.read.iter().enumerate() {
            if i > 0 {
                w.sql.push_str(", ");
            }
            w.sql.push_str(&quote::ident(&columns[*c].name));
            if req.dialect == Dialect::Postgres {
                w.sql.push_str(text_cast(&columns[*c].column_type));
            }
        }
        w.sql.push_str(" FROM ");
        w.sql.push_str(&quote::relation(table, req.dialect));
        let mut conditions = Vec::new();
        for f in req.filters.iter().filter(|_| filters) {
            let column = &columns[f.column];
            let name = quote::ident(&column.name);
            let mut cond = match &f.condition {
                Condition::Compare(op, p) => format!("{name} {} {}", op.sql(), w.param(p.clone())),
                Condition::Like { pattern, case_insensitive } => {
                    let target = match (req.dialect, &column.column_type) {
                        (Dialect::Postgres, ColumnType::Text) | (Dialect::Sqlite, _) => name.clone(),
                        (Dialect::Postgres, _) => format!("CAST({name} AS text)"),
                    };
                    let op = match (req.dialect, case_insensitive) {
                        (Dialect::Postgres, false) => "LIKE",
                        (Dialect::Postgres, true) => "ILIKE",
                        (Dialect::Sqlite, false) => "GLOB",
                        (Dialect::Sqlite, true) => "LIKE",
                    };
                    let p = w.param(pattern.clone());
                    let escape = if req.dialect == Dialect::Sqlite && *case_insensitive { " ESCAPE '\\'" } else { "" };
                    format!("{target} {op} {p}{escape}")
                }
                Condition::In(items) if items.is_empty() => "1 = 0".to_owned(),
                Condition::In(items) => {
                    let list: Vec<String> = items.iter().map(|p| w.param(p.clone())).collect();
                    format!("{name} IN ({})", list.join(", "))
                }
                Condition::Is(Is::Null) => format!("{name} IS NULL"),
                Condition::Is(Is::True) => format!("{name} IS TRUE"),
                Condition::Is(Is::False) => format!("{name} IS FALSE"),
            };
            if f.negate {
                cond = format!("NOT ({cond})");
            }
            conditions.push(cond);
        }
        if let Some(after) = after {
            conditions.push(self.after_predicate(&mut w, after));
        }
        if !conditions.is_empty() {
            w.sql.push_str(" WHERE ");
            w.sql.push_str(&conditions.join(" AND "));
        }
        if !req.order.is_empty() {
            w.sql.push_str(" ORDER BY ");
            for (i, key) in req.order.iter().enumerate() {
                if i > 0 {
                    w.sql.push_str(", ");
                }
                let column = &columns[key.column];
                // A column read through a cast (`"n"::text`) keeps its name in the select
                // list, and a bare name in ORDER BY means the output column first: it would
                // sort the text. Qualified, the name is the relation's own column.
                let qualified = req.dialect == Dialect::Postgres && !text_cast(&column.column_type).is_empty();
                let name = if qualified {
                    format!("{}.{}", quote::relation(table, req.dialect), quote::ident(&column.name))
                } else {
                    quote::ident(&column.name)
                };
                let _ = write!(
                    w.sql,
                    "{} {} NULLS {}",
                    name,
                    if key.descending { "DESC" } else { "ASC" },
                    if key.nulls_first { "FIRST" } else { "LAST" }
                );
            }
        }
        let n = w.params.len() + 1;
        match (req.dialect, w.literals) {
            (Dialect::Postgres, true) => match limit {
                Some(limit) => {
                    let _ = write!(w.sql, " LIMIT {limit}");
                }
                None => w.sql.push_str(" LIMIT ALL"),
            },
            (Dialect::Postgres, false) => {
                let _ = write!(w.sql, " LIMIT ${n}");
            }
            (Dialect::Sqlite, _) => {
                let _ = write!(w.sql, " LIMIT ?{n}");
            }
        }
        w
    }

    /// Rows strictly after the row whose sort values are `after`: for sort columns
    /// c1..cn, OR over i of (c1 = v1 AND … AND c(i-1) = v(i-1) AND ci comes after vi).
    /// "Comes after" follows the column's direction and NULL placement; equality with a
    /// NULL value is `IS NULL`.
    fn after_predicate(&self, w: &mut Writer, after: &[Option<Param>]) -> String {
        let columns = &self.request.table.relation.columns;
        let placeholders: Vec<Option<String>> = after.iter().map(|v| v.as_ref().map(|p| w.param(p.clone()))).collect();
        let mut terms = Vec::new();
        for (i, key) in self.request.order.iter().enumerate() {
            let Some(after_i) = comes_after(&quote::ident(&columns[key.column].name), key, placeholders[i].as_deref())
            else {
                continue;
            };
            let mut parts: Vec<String> = self.request.order[..i]
                .iter()
                .zip(&placeholders)
                .map(|(k, p)| {
                    let name = quote::ident(&columns[k.column].name);
                    match p {
                        Some(p) => format!("{name} = {p}"),
                        None => format!("{name} IS NULL"),
                    }
                })
                .collect();
            parts.push(after_i);
            terms.push(format!("({})", parts.join(" AND ")));
        }
        if terms.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!("({})", terms.join(" OR "))
        }
    }
}

/// The cast a PostgreSQL column is read through: types whose binary form rowstream does not
/// decode are read as text.
pub fn text_cast(column_type: &ColumnType) -> &'static str {
    match column_type {
        ColumnType::Other(_) => "::text",
        _ => "",
    }
}

/// The condition "column `name` sorts strictly after `value`" (None: after nothing).
fn comes_after(name: &str, key: &SortKey, value: Option<&str>) -> Option<String> {
    match value {
        None if key.nulls_first => Some(format!("{name} IS NOT NULL")),
        None => None,
        Some(v) => {
            let op = if key.descending { "<" } else { ">" };
            if key.nulls_first {
                Some(format!("{name} {op} {v}"))
            } else {
                Some(format!("({name} {op} {v} OR {name} IS NULL)"))
            }
        }
    }
}

struct Writer {
    dialect: Dialect,
    sql: String,
    params: Vec<Param>,
    /// PostgreSQL: values are written as literals ([`literal::write`]), not placeholders.
    literals: bool,
    /// A value had no literal: the statement cannot be used.
    unwritable: bool,
}

impl Writer {
    fn new(dialect: Dialect) -> Writer {
        Writer { dialect, sql: String::with_capacity(256), params: Vec::new(), literals: false, unwritable: false }
    }

    /// A PostgreSQL writer that writes values as literals.
    fn literals() -> Writer {
        Writer { literals: true, ..Writer::new(Dialect::Postgres) }
    }

    /// Adds a parameter and returns its placeholder (with its cast, on PostgreSQL), or its
    /// literal.
    fn param(&mut self, p: Param) -> String {
        if self.literals {
            let mut out = String::new();
            if literal::write(&p, &mut out).is_err() {
                self.unwritable = true;
            }
            return out;
        }
        let n = self.params.len() + 1;
        let placeholder = match (self.dialect, &p.cast, &p.bind) {
            (Dialect::Postgres, Some(cast), Bind::Text(_)) => format!("CAST(${n} AS {cast})"),
            (Dialect::Postgres, _, _) => format!("${n}"),
            (Dialect::Sqlite, _, _) => format!("?{n}"),
        };
        self.params.push(p);
        placeholder
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use shared::{Column, ColumnType, Relation, RelationKind};

    use super::*;
    use crate::introspect::TableDef;
    use crate::source::request::RowsQuery;

    fn table() -> Arc<TableDef> {
        let column = |name: &str, column_type| Column {
            name: name.into(),
            column_type,
            nullable: true,
            sql_type: String::new(),
        };
        Arc::new(TableDef {
            relation: Relation {
                name: "t".into(),
                kind: RelationKind::Table,
                columns: vec![
                    column("id", ColumnType::Int8),
                    column("c", ColumnType::Text),
                    column("n", ColumnType::Numeric),
                ],
                primary_key: vec!["id".into()],
            },
            schema: Some("s".into()),
            table: "t\"x".into(),
            cast_types: vec!["bigint".into(), "text".into(), "numeric".into()],
        })
    }

    #[test]
    fn writes_quoted_names_and_only_placeholders() {
        let query = RowsQuery {
            select: Some("c"),
            order: Some("c.desc"),
            filters: vec![("n", "gt.1.5")],
            ..Default::default()
        };
        let plan = Plan::new(RowsRequest::parse(Dialect::Postgres, table(), &query).unwrap());
        let after = [
            Some(Param {
                bind: Bind::Text("x".into()),
                cast: Some("text".into()),
                check: false,
                origin: "after".into(),
            }),
            None,
        ];
        let statement = plan.statement(Some(&after), Some(10));
        assert_eq!(
            statement.sql,
            "SELECT \"c\", \"id\" FROM \"s\".\"t\"\"x\" WHERE \"n\" > CAST($1 AS numeric) \
             AND ((\"c\" < CAST($2 AS text))) ORDER BY \"c\" DESC NULLS FIRST, \"id\" ASC NULLS LAST LIMIT $3"
        );
        // A NULL in a NULLS FIRST column: every non-NULL comes after it, then ties by key.
        let after = [None, Some(Param { bind: Bind::I64(5), cast: None, check: false, origin: "after".into() })];
        let statement = plan.statement(Some(&after), None);
        assert!(statement.sql.contains("WHERE \"n\" > CAST($1 AS numeric) AND ((\"c\" IS NOT NULL) OR (\"c\" IS NULL AND (\"id\" > $2 OR \"id\" IS NULL)))"), "{}", statement.sql);
        assert_eq!(plan.checked_params().len(), 1);
        // The binary COPY form: the same SELECT, every value a literal, the limit too.
        let after = [
            Some(Param {
                bind: Bind::Text("it's".into()),
                cast: Some("text".into()),
                check: false,
                origin: "after".into(),
            }),
            None,
        ];
        let statement = plan.statement(Some(&after), None);
        assert_eq!(
            statement.copy.as_deref(),
            Some(
                "COPY (\nSELECT \"c\", \"id\" FROM \"s\".\"t\"\"x\" WHERE \"n\" > CAST('1.5' AS numeric) \
                 AND ((\"c\" < CAST('it''s' AS text))) ORDER BY \"c\" DESC NULLS FIRST, \"id\" ASC NULLS LAST LIMIT ALL\n) \
                 TO STDOUT (FORMAT binary)"
            )
        );
        let nul =
            [Some(Param { bind: Bind::Text("a\0".into()), cast: None, check: false, origin: "after".into() }), None];
        assert_eq!(plan.statement(Some(&nul), Some(3)).copy, None, "no literal: read with parameters");
        assert_eq!(
            plan.prime(),
            "SELECT \"c\", \"id\" FROM \"s\".\"t\"\"x\" ORDER BY \"c\" DESC NULLS FIRST, \"id\" ASC NULLS LAST LIMIT 0"
        );
    }
}
