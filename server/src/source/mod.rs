//! SQL over the served relations: the only place that writes it.
//!
//! A request for rows (`select`, filters, `order`, `after`, `limit`) is parsed against the
//! introspected relation ([`crate::introspect::TableDef`]) into a [`request::RowsRequest`]:
//! every column is an index into the relation, every value a typed [`Param`]. [`query::Plan`]
//! then writes the statements: identifiers come only from the catalog and are quoted
//! ([`quote`]); values are bound parameters, and in the binary COPY form of a statement
//! (which takes no parameters) literals written by [`literal::write`].
//!
//! - [`quote`]: identifier quoting.
//! - [`value`]: a text value parsed by its column's type into a [`Param`].
//! - [`filter`]: PostgREST's filter grammar (`eq.5`, `in.(a,"b,c")`, `not.is.null`).
//! - [`order`]: `order=a.desc,b.asc.nullsfirst`, with the primary key appended.
//! - [`keyset`]: resume tokens and the "strictly after this row" predicate.
//! - [`request`]: the whole request, parsed.
//! - [`query`]: the SELECT statements (head, bulk) and the parameter check.
//! - [`literal`]: a bound value written as a literal, for binary COPY (which takes no
//!   parameters): the one function that puts a value into SQL text; property tests.
//!
//! Queries that are not relations:
//! - [`placeholder`]: `:name` placeholders numbered (`$1`, `?1`), one statement only.
//! - [`read_only`]: whether ad-hoc SQL is one read-only query (sqlparser), before it runs.
//! - [`saved`]: saved queries from the settings file, and a request's parameters for one.
//! - [`adhoc`]: `POST /api/sql`'s statement and JSON parameters.
//! - [`wrapped`]: the statement that reads any query's rows (a subquery with a `LIMIT`).
//! - [`role`]: `SET LOCAL ROLE` for the request's role (`--jwt-role-claim`).

pub mod adhoc;
pub mod filter;
pub mod keyset;
pub mod literal;
pub mod order;
pub mod placeholder;
pub mod query;
pub mod quote;
pub mod read_only;
pub mod request;
pub mod role;
pub mod saved;
pub mod value;
pub mod wrapped;

/// Which SQL the statements are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Text(String),
    Bytes(Vec<u8>),
    /// SQL NULL (an ad-hoc statement's `null` parameter).
    Null,
}

/// A bound parameter: its value, the type its text is cast to in SQL (PostgreSQL), whether
/// the database must check the text first (types whose syntax only PostgreSQL knows
/// exactly: a bad value is then a 400, not a failed query), and the query parameter it
/// came from (for that 400).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub bind: Bind,
    pub cast: Option<String>,
    pub check: bool,
    pub origin: String,
}

impl Param {
    /// Whether PostgreSQL must parse this text parameter before the query runs.
    pub fn needs_check(&self) -> bool {
        self.check && self.cast.is_some()
    }
}

/// The parameters among `params` that PostgreSQL must parse first ([`Param::needs_check`]).
pub fn checked(params: &[Param]) -> Vec<Param> {
    params.iter().filter(|p| p.needs_check()).cloned().collect()
}

/// A statement and its parameters, numbered in order (`$1`, `?1`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
    /// The trailing `LIMIT` parameter (`None`: no limit).
    pub limit: Option<i64>,
    /// PostgreSQL: the same rows as `COPY (…) TO STDOUT (FORMAT binary)`, every parameter
    /// (the limit too) written as a literal ([`literal`]); `None` when a value has no
    /// literal (then only `sql` reads them) and on SQLite.
    pub copy: Option<String>,
}

/// `select` as binary COPY out: what [`Statement::copy`] holds. `select` is one query (its
/// own last line may end in a `--` comment: it is followed by a line break).
pub fn copy_binary(select: &str) -> String {
    format!("COPY (\n{select}\n) TO STDOUT (FORMAT binary)")
}

/// A request that cannot be served as asked: a 400 naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BadRequest {
    pub parameter: String,
    pub message: String,
}

impl BadRequest {
    pub fn new(parameter: impl Into<String>, message: impl Into<String>) -> Self {
        BadRequest { parameter: parameter.into(), message: message.into() }
    }
}
