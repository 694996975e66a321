//! Ad-hoc SQL (`POST /api/sql`): the statement checked before anything runs
//! ([`AdHoc::parse`]: one read-only query, [`super::read_only`]), and its `:name`
//! parameters bound from the request's JSON ([`AdHoc::bind`]).
//!
//! Parameters are bound by name. On PostgreSQL each takes the type the database infers for
//! its placeholder when the statement is prepared: the JSON value's text (a string's
//! contents, a number as written, `true`/`false`) is parsed as that type, exactly as a
//! filter value is, and the placeholder is written `CAST($n AS type)`. On SQLite, whose
//! parameters have no types, a string is bound as text, a number as an integer or a real,
//! a boolean as 1 or 0. `null` is NULL; an object or array is its JSON text.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use shared::ColumnType;

use super::placeholder;
use super::read_only::{self, Refusal};
use super::saved::{explain, numbered};
use super::{value, BadRequest, Bind, Dialect, Param};

/// Prefix of the text a statement is described (prepared) under. Nothing rowstream runs
/// starts with it, so the description (and the parameter types PostgreSQL inferred for it)
/// is never the prepared statement that a later query with the same text would reuse.
pub const DESCRIBE_PREFIX: &str = "/* rowstream: describe */\n";

/// A statement the request may not run, said before anything ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlRefused {
    /// Not one statement, unreadable, or bad parameters: a 400 naming the parameter.
    #[error("{0}")]
    Bad(#[source] BadRequest),
    /// It writes or is not a query: a 403 `read_only`.
    #[error("{0}")]
    Writes(String),
    /// It could leave the request's role: a 403 `forbidden_role`.
    #[error("{0}")]
    RoleEscape(String),
}

impl From<Refusal> for SqlRefused {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Writes(message) => SqlRefused::Writes(message),
            escape @ Refusal::RoleEscape(_) => SqlRefused::RoleEscape(escape.to_string()),
            other => SqlRefused::Bad(BadRequest::new("sql", format!("sql: {other}"))),
        }
    }
}

/// An ad-hoc statement that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdHoc {
    /// As the request gave it.
    sql: String,
    pub dialect: Dialect,
    /// With bare numbered placeholders (`$1`, `?1`): what is described.
    pub body: String,
    /// The placeholders' names, in number order.
    pub names: Vec<String>,
}

impl AdHoc {
    /// `role_guard`: refuse what could leave the request's role (`--jwt-role-claim`).
    pub fn parse(sql: &str, dialect: Dialect, role_guard: bool) -> Result<AdHoc, SqlRefused> {
        value::refuse_nul(sql, "sql").map_err(SqlRefused::Bad)?;
        let bare = placeholder::rewrite(sql, dialect, |n, _| numbered(dialect, n))
            .map_err(|e| SqlRefused::Bad(BadRequest::new("sql", format!("sql: {}", explain(&e)))))?;
        read_only::check(&bare.sql, dialect, role_guard)?;
        Ok(AdHoc { sql: sql.to_owned(), dialect, body: bare.sql, names: bare.names })
    }

    /// The text to describe the statement under (see [`DESCRIBE_PREFIX`]).
    pub fn describe_sql(&self) -> String {
        format!("{DESCRIBE_PREFIX}{}", self.body)
    }

    /// The statement to run and its parameters, from the request's `params` and (on
    /// PostgreSQL) the parameter types the description gave (`(type, cast)` per
    /// placeholder). A parameter the statement does not use, or one it uses that is not
    /// given, is a 400 naming it.
    pub fn bind(
        &self,
        values: &BTreeMap<String, Box<RawValue>>,
        types: &[(ColumnType, String)],
    ) -> Result<(String, Vec<Param>), BadRequest> {
        if let Some(extra) = values.keys().find(|k| !self.names.contains(k)) {
            return Err(BadRequest::new(
                extra,
                format!("{extra}: the statement has no :{extra} placeholder (it uses {})", self.list_names()),
            ));
        }
        let mut params = Vec::with_capacity(self.names.len());
        for (i, name) in self.names.iter().enumerate() {
            let raw = values.get(name).ok_or_else(|| {
                BadRequest::new(name, format!("{name}: the statement uses :{name}; give it in params"))
            })?;
            let json = JsonValue::read(raw, name)?;
            let param = match (self.dialect, types.get(i)) {
                (Dialect::Postgres, Some((column_type, cast))) => match json {
                    JsonValue::Null => {
                        Param { bind: Bind::Null, cast: Some(cast.clone()), check: false, origin: name.clone() }
                    }
                    JsonValue::Text(text) => {
                        let described = format!("parameter {name} is {cast}");
                        value::parse_as(self.dialect, column_type, Some(cast), &text, name, &described)?
                    }
                },
                (Dialect::Postgres, None) => {
                    return Err(BadRequest::new("sql", format!("sql: the database gave no type for :{name}")));
                }
                (Dialect::Sqlite, _) => {
                    Param { bind: sqlite_bind(raw, json), cast: None, check: false, origin: name.clone() }
                }
            };
            params.push(param);
        }
        let sql = match self.dialect {
            Dialect::Postgres => {
                placeholder::rewrite(&self.sql, self.dialect, |n, _| {
                    let cast = types.get(n - 1).map_or("text", |(_, cast)| cast.as_str());
                    format!("CAST(${n} AS {cast})")
                })
                .map_err(|e| BadRequest::new("sql", format!("sql: {}", explain(&e))))?
                .sql
            }
            Dialect::Sqlite => self.body.clone(),
        };
        Ok((sql, params))
    }

    /// The statement with `params` (from [`AdHoc::bind`]) written as literals, for the
    /// binary COPY form of its statement ([`super::wrapped::copy_query`]); `None` on SQLite
    /// or when a value has no literal.
    pub fn copy_body(&self, params: &[Param], types: &[(ColumnType, String)]) -> Option<String> {
        if self.dialect != Dialect::Postgres {
            return None;
        }
        let casts: Vec<&str> = types.iter().map(|(_, cast)| cast.as_str()).collect();
        super::wrapped::copy_query(&self.sql, params, &casts)
    }

    fn list_names(&self) -> String {
        if self.names.is_empty() {
            "none".to_owned()
        } else {
            self.names.iter().map(|n| format!(":{n}")).collect::<Vec<_>>().join(", ")
        }
    }
}

/// A JSON parameter value, as the text a type parses.
enum JsonValue {
    Null,
    Text(String),
}

impl JsonValue {
    /// `name`: the parameter, named by the error of a string JSON cannot decode (a lone
    /// surrogate such as `"\ud800"` passes as raw JSON but is no string).
    fn read(raw: &RawValue, name: &str) -> Result<JsonValue, BadRequest> {
        let text = raw.get().trim();
        Ok(if text == "null" {
            JsonValue::Null
        } else if text.starts_with('"') {
            let decoded = serde_json::from_str::<String>(text)
                .map_err(|e| BadRequest::new(name, format!("{name}: not a string: {e}")))?;
            JsonValue::Text(decoded)
        } else {
            // Numbers as written (every digit), true / false, objects and arrays as JSON.
            JsonValue::Text(text.to_owned())
        })
    }
}

/// SQLite: a value bound by its JSON type.
fn sqlite_bind(raw: &RawValue, json: JsonValue) -> Bind {
    let text = raw.get().trim();
    match json {
        JsonValue::Null => Bind::Null,
        JsonValue::Text(_) if text == "true" || text == "false" => Bind::Bool(text == "true"),
        JsonValue::Text(_) if text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) => {
            match text.parse::<i64>() {
                Ok(i) => Bind::I64(i),
                Err(_) => text.parse::<f64>().map(Bind::F64).unwrap_or_else(|_| Bind::Text(text.to_owned())),
            }
        }
        JsonValue::Text(s) if text.starts_with('"') => Bind::Text(s),
        JsonValue::Text(json) => Bind::Text(json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(json: &str) -> BTreeMap<String, Box<RawValue>> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn parameters_bind_by_name_and_type() {
        let q = AdHoc::parse("select * from t where n > :n and s = :s or n < :n;", Dialect::Postgres, false).unwrap();
        assert_eq!(q.body, "select * from t where n > $1 and s = $2 or n < $1");
        assert_eq!(q.describe_sql(), format!("{DESCRIBE_PREFIX}{}", q.body));
        let types = [(ColumnType::Numeric, "numeric".to_owned()), (ColumnType::Text, "text".to_owned())];
        let (sql, params) = q.bind(&values(r#"{"n": 123456789012345678901.5, "s": "a\"b"}"#), &types).unwrap();
        assert_eq!(
            sql,
            "select * from t where n > CAST($1 AS numeric) and s = CAST($2 AS text) or n < CAST($1 AS numeric)"
        );
        assert_eq!(params[0].bind, Bind::Text("123456789012345678901.5".into()));
        assert_eq!(params[1].bind, Bind::Text("a\"b".into()));
        let (_, params) = q.bind(&values(r#"{"n": null, "s": "x"}"#), &types).unwrap();
        assert_eq!(params[0].bind, Bind::Null);
        assert_eq!(q.bind(&values(r#"{"s": "x"}"#), &types).unwrap_err().parameter, "n");
        assert_eq!(q.bind(&values(r#"{"n": 1, "s": "x", "z": 1}"#), &types).unwrap_err().parameter, "z");
        let ints = [(ColumnType::Int8, "int8".to_owned()), (ColumnType::Text, "text".to_owned())];
        assert_eq!(q.bind(&values(r#"{"n": "abc", "s": "x"}"#), &ints).unwrap_err().parameter, "n");
        // A lone surrogate is valid raw JSON but no string: a 400 naming it, never "".
        assert_eq!(q.bind(&values(r#"{"n": 1, "s": "\ud800"}"#), &types).unwrap_err().parameter, "s");
    }

    #[test]
    fn sqlite_binds_by_json_type() {
        let q = AdHoc::parse("select :a, :b, :c, :d, :e, :f", Dialect::Sqlite, false).unwrap();
        let (sql, params) =
            q.bind(&values(r#"{"a": 1, "b": 1.5, "c": "x", "d": true, "e": null, "f": [1]}"#), &[]).unwrap();
        assert_eq!(sql, "select ?1, ?2, ?3, ?4, ?5, ?6");
        let binds: Vec<Bind> = params.into_iter().map(|p| p.bind).collect();
        assert_eq!(
            binds,
            [
                Bind::I64(1),
                Bind::F64(1.5),
                Bind::Text("x".into()),
                Bind::Bool(true),
                Bind::Null,
                Bind::Text("[1]".into())
            ]
        );
    }

    #[test]
    fn a_statement_with_a_nul_character_is_a_bad_request() {
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            let refused = AdHoc::parse("select 1 -- \0", dialect, false).unwrap_err();
            assert!(matches!(&refused, SqlRefused::Bad(bad) if bad.parameter == "sql" && bad.message.contains("NUL")));
        }
    }

    #[test]
    fn refusals_are_said_before_anything_runs() {
        let refused = |sql: &str| AdHoc::parse(sql, Dialect::Postgres, true).unwrap_err();
        assert!(matches!(refused("select 1; drop table t"), SqlRefused::Bad(b) if b.parameter == "sql"));
        assert!(matches!(refused("drop table t"), SqlRefused::Writes(_)));
        assert!(matches!(refused("select set_config('role', 'x', true)"), SqlRefused::RoleEscape(_)));
        assert!(matches!(refused("select $1"), SqlRefused::Bad(_)));
    }
}
