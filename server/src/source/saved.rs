//! Saved queries: `[queries.NAME]` of the settings file, checked at start
//! ([`SavedQueryDef::new`]), and a request's parameters bound to one
//! ([`SavedQueryDef::bind`]).
//!
//! A saved query is one read-only statement (checked as ad-hoc SQL is, by
//! [`super::read_only`]) with `:name` placeholders ([`super::placeholder`]); every
//! placeholder must be a declared parameter and every declared parameter must be used.
//! Parameters are typed ([`super::value::param_type`]); a request's text is parsed by the
//! type before the query runs (a bad value is a 400 naming the parameter), and on PostgreSQL
//! each placeholder is written `CAST($n AS type)`, so the database reads the value as that
//! type wherever it stands.

use std::collections::BTreeMap;

use shared::{Column, ColumnType, QueryParam, SavedQuery};

use super::placeholder::{self, PlaceholderError};
use super::{read_only, value, BadRequest, Dialect, Param};

/// Request parameters of `/api/queries/{name}/rows` that are not the query's own: a saved
/// query's parameter may not be called like one of these.
pub const RESERVED: &[&str] = &["mode", "format", "limit", "batch", "after", "select", "order"];

/// A parameter as the settings file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: String,
    /// `numeric`, `bigint`, `text[]`, … (see [`value::param_type`]).
    pub type_name: String,
    /// The value when a request gives none (as text); `None`: the parameter is required.
    pub default: Option<String>,
}

/// A declared parameter, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    pub name: String,
    pub column_type: ColumnType,
    /// The SQL type its text is cast to (PostgreSQL).
    pub cast: String,
    pub default: Option<String>,
}

/// A saved query, checked against the dialect it will run in.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedQueryDef {
    pub name: String,
    /// The SQL as configured.
    pub sql: String,
    pub dialect: Dialect,
    /// The statement with its placeholders numbered (PostgreSQL: `CAST($n AS type)`).
    pub body: String,
    /// The parameters, in placeholder order (`params[i]` is placeholder `i + 1`).
    pub params: Vec<ParamDef>,
}

/// Why a saved query cannot be served; stops the start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("saved query {query:?}: {problem}")]
pub struct SavedQueryError {
    pub query: String,
    pub problem: String,
}

impl SavedQueryDef {
    pub fn new(name: &str, sql: &str, specs: &[ParamSpec], dialect: Dialect) -> Result<SavedQueryDef, SavedQueryError> {
        let fail = |problem: String| SavedQueryError { query: name.to_owned(), problem };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
            return Err(fail("a query's name is made of letters, digits, `_`, `-` and `.`".into()));
        }
        let mut declared: BTreeMap<&str, ParamDef> = BTreeMap::new();
        for spec in specs {
            let bad = |problem: String| fail(format!("parameter {:?}: {problem}", spec.name));
            let mut chars = spec.name.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(bad("a parameter's name is a letter or `_`, then letters, digits and `_`".into()));
            }
            if RESERVED.contains(&spec.name.as_str()) {
                return Err(bad(format!(
                    "this name is taken by the endpoint's own parameters ({}); rename it",
                    RESERVED.join(", ")
                )));
            }
            let (column_type, cast) = value::param_type(&spec.type_name).ok_or_else(|| {
                bad(format!(
                    "unknown type {:?}; use one of int2, int4, int8, float4, float8, numeric, bool, text, bytea, \
                     date, time, timestamp, timestamptz, interval, uuid, json, jsonb (or T[] for an array)",
                    spec.type_name
                ))
            })?;
            if dialect == Dialect::Sqlite && matches!(column_type, ColumnType::Array(_)) {
                return Err(bad("SQLite has no arrays".into()));
            }
            let def = ParamDef { name: spec.name.clone(), column_type, cast, default: spec.default.clone() };
            if let Some(default) = &def.default {
                def.parse(dialect, default).map_err(|e| bad(format!("default: {}", e.message)))?;
            }
            declared.insert(&spec.name, def);
        }
        // The statement with bare placeholders: what the read-only check reads.
        let bare = placeholder::rewrite(sql, dialect, |n, _| numbered(dialect, n)).map_err(|e| fail(explain(&e)))?;
        let undeclared: Vec<&String> = bare.names.iter().filter(|n| !declared.contains_key(n.as_str())).collect();
        if !undeclared.is_empty() {
            return Err(fail(format!(
                "the SQL uses {} but declares no such parameter (add it under params)",
                undeclared.iter().map(|n| format!(":{n}")).collect::<Vec<_>>().join(", ")
            )));
        }
        let unused: Vec<&&str> = declared.keys().filter(|d| !bare.names.iter().any(|n| n == **d)).collect();
        if !unused.is_empty() {
            return Err(fail(format!(
                "parameter {} is declared but the SQL never uses it (write :{} where it goes)",
                unused.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "),
                unused[0]
            )));
        }
        read_only::check(&bare.sql, dialect, false).map_err(|e| fail(e.to_string()))?;
        let params: Vec<ParamDef> = bare.names.iter().filter_map(|n| declared.remove(n.as_str())).collect();
        let body = match dialect {
            Dialect::Postgres => {
                placeholder::rewrite(sql, dialect, |n, _| format!("CAST(${n} AS {})", params[n - 1].cast))
                    .map_err(|e| fail(explain(&e)))?
                    .sql
            }
            Dialect::Sqlite => bare.sql,
        };
        Ok(SavedQueryDef { name: name.to_owned(), sql: sql.to_owned(), dialect, body, params })
    }

    /// The query's parameters from a request (`(name, value)` pairs, the endpoint's own
    /// parameters already taken out), in placeholder order, each parsed by its type.
    /// Unknown, repeated, missing or malformed parameters are a 400 naming the parameter.
    pub fn bind(&self, given: &[(String, String)]) -> Result<Vec<Param>, BadRequest> {
        for (i, (name, _)) in given.iter().enumerate() {
            if !self.params.iter().any(|p| p.name == *name) {
                let takes: Vec<&str> =
                    self.params.iter().map(|p| p.name.as_str()).chain(["mode", "format", "limit", "batch"]).collect();
                return Err(BadRequest::new(
                    name,
                    format!("unknown parameter {name:?}: query {:?} takes {}", self.name, takes.join(", ")),
                ));
            }
            if given[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(BadRequest::new(name, format!("{name} is given more than once")));
            }
        }
        self.params
            .iter()
            .map(|p| {
                let text = given.iter().find(|(name, _)| *name == p.name).map(|(_, v)| v.as_str());
                match text.or(p.default.as_deref()) {
                    Some(text) => p.parse(self.dialect, text),
                    None => Err(BadRequest::new(
                        &p.name,
                        format!("{}: query {:?} needs this parameter ({})", p.name, self.name, p.cast),
                    )),
                }
            })
            .collect()
    }

    /// The query with `params` (from [`SavedQueryDef::bind`]) written as literals, for the
    /// binary COPY form of its statement ([`super::wrapped::copy_query`]); `None` on SQLite
    /// or when a value has no literal.
    pub fn copy_body(&self, params: &[Param]) -> Option<String> {
        if self.dialect != Dialect::Postgres {
            return None;
        }
        let casts: Vec<&str> = self.params.iter().map(|p| p.cast.as_str()).collect();
        super::wrapped::copy_query(&self.sql, params, &casts)
    }

    /// How `GET /api/queries` shows it, with the result columns the database described.
    pub fn wire(&self, columns: Vec<Column>, error: Option<String>) -> SavedQuery {
        SavedQuery {
            name: self.name.clone(),
            sql: self.sql.clone(),
            params: self
                .params
                .iter()
                .map(|p| QueryParam {
                    name: p.name.clone(),
                    param_type: p.column_type.clone(),
                    required: p.default.is_none(),
                    default: p.default.clone(),
                })
                .collect(),
            columns,
            error,
        }
    }
}

impl ParamDef {
    fn parse(&self, dialect: Dialect, text: &str) -> Result<Param, BadRequest> {
        let described = format!("parameter {} is {}", self.name, self.cast);
        value::parse_as(dialect, &self.column_type, Some(&self.cast), text, &self.name, &described)
    }
}

/// The dialect's numbered placeholder: `$n` or `?n`.
pub fn numbered(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("${n}"),
        Dialect::Sqlite => format!("?{n}"),
    }
}

/// A placeholder error, said for a statement (the first `:name` syntax hint included).
pub fn explain(error: &PlaceholderError) -> String {
    match error {
        PlaceholderError::Positional { .. } => format!("{error} (e.g. `where total > :min_total`)"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Bind;

    fn spec(name: &str, type_name: &str, default: Option<&str>) -> ParamSpec {
        ParamSpec { name: name.into(), type_name: type_name.into(), default: default.map(str::to_owned) }
    }

    const SQL: &str = "select id, total from orders where total > :min_total and state = :state";

    #[test]
    fn a_saved_query_is_checked_and_typed() {
        let specs = [spec("state", "text", None), spec("min_total", "numeric", Some("100"))];
        let q = SavedQueryDef::new("big_orders", SQL, &specs, Dialect::Postgres).unwrap();
        assert_eq!(
            q.body,
            "select id, total from orders where total > CAST($1 AS numeric) and state = CAST($2 AS text)"
        );
        assert_eq!(q.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["min_total", "state"]);
        let params = q.bind(&[("state".into(), "paid".into())]).unwrap();
        assert_eq!(params[0].bind, Bind::Text("100".into()));
        assert!(params[0].check, "numerics are checked by PostgreSQL before the query runs");
        assert_eq!(params[1].bind, Bind::Text("paid".into()));
        let lite = SavedQueryDef::new("big_orders", SQL, &specs, Dialect::Sqlite).unwrap();
        assert_eq!(lite.body, "select id, total from orders where total > ?1 and state = ?2");
        assert_eq!(
            lite.bind(&[("state".into(), "x".into()), ("min_total".into(), "7".into())]).unwrap()[0].bind,
            Bind::I64(7)
        );
        let wire = q.wire(Vec::new(), None);
        assert_eq!((wire.params[0].required, wire.params[1].required), (false, true));
    }

    #[test]
    fn request_parameters_are_strict() {
        let specs = [spec("state", "text", None), spec("min_total", "int8", None)];
        let q = SavedQueryDef::new("q", SQL, &specs, Dialect::Postgres).unwrap();
        let param = |given: &[(&str, &str)]| {
            let given: Vec<(String, String)> = given.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            q.bind(&given).unwrap_err().parameter
        };
        assert_eq!(param(&[("state", "x")]), "min_total");
        assert_eq!(param(&[("state", "x"), ("min_total", "abc")]), "min_total");
        assert_eq!(param(&[("state", "x"), ("min_total", "1"), ("other", "1")]), "other");
        assert_eq!(param(&[("state", "x"), ("state", "y"), ("min_total", "1")]), "state");
    }

    #[test]
    fn bad_definitions_stop_the_start_naming_the_query() {
        let problem = |sql: &str, specs: &[ParamSpec]| {
            let e = SavedQueryDef::new("big_orders", sql, specs, Dialect::Postgres).unwrap_err();
            assert_eq!(e.query, "big_orders");
            e.to_string()
        };
        let both = [spec("min_total", "numeric", None), spec("state", "text", None)];
        assert!(problem(SQL, &[spec("min_total", "numeric", None)]).contains(":state"));
        assert!(problem(SQL, &[both[0].clone(), both[1].clone(), spec("extra", "text", None)]).contains("\"extra\""));
        assert!(problem(SQL, &[spec("min_total", "money", None), both[1].clone()]).contains("unknown type \"money\""));
        assert!(problem(SQL, &[spec("min_total", "int8", Some("lots")), both[1].clone()]).contains("default"));
        assert!(problem("select :limit", &[spec("limit", "int8", None)]).contains("taken"));
        assert!(problem("delete from orders", &[]).contains("only a query"));
        assert!(problem("select 1; select 2", &[]).contains("one statement"));
        assert!(problem("select $1", &[]).contains(":min_total"));
        assert!(SavedQueryDef::new("a/b", "select 1", &[], Dialect::Postgres).is_err());
        assert!(SavedQueryDef::new("a", "select :x", &[spec("x", "int4[]", None)], Dialect::Sqlite).is_err());
    }
}
