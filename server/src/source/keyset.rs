//! Keyset resume: the `after=` token, and which rows come strictly after a row.
//!
//! A token is base64url (no padding) of `{"o":[[column, descending, nulls_first], …],
//! "k":[key, …]}`: the full sort order it was made for (primary key included) and the last
//! row's value of each sort column (`"n"` NULL, `{"i":5}`, `{"f":"0.5"}`, `{"t":"text"}`,
//! `{"b":"00ff"}`). A token used with another `order=` is a 400. Clients treat it as
//! opaque. For the default order of a single-column key, the plain key value is accepted
//! too (`after=499990`).
//!
//! "Strictly after row r" for sort columns c1..cn is an OR of ANDs, written per column by
//! its direction and NULL placement (see [`super::query`]), so NULLs and duplicates in sort
//! columns resume exactly.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::order::SortKey;
use super::request::RowsRequest;
use super::{value, BadRequest, Bind, Dialect, Param};
use crate::cell::Cell;
use crate::introspect::TableDef;

/// One sort column's value in a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Key {
    #[serde(rename = "n")]
    Null,
    #[serde(rename = "i")]
    Int(i64),
    #[serde(rename = "f")]
    Float(String),
    #[serde(rename = "t")]
    Text(String),
    #[serde(rename = "b")]
    Bytes(String),
}

impl Key {
    pub fn of(cell: &Cell) -> Key {
        match cell {
            Cell::Null => Key::Null,
            Cell::Int(i) => Key::Int(*i),
            Cell::Float(_) | Cell::Float4(_) => Key::Float(cell.text()),
            Cell::Bytes(_) => Key::Bytes(cell.text().trim_start_matches("\\x").to_owned()),
            other => Key::Text(other.text()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    o: Vec<(String, bool, bool)>,
    k: Vec<Key>,
}

fn order_spec(table: &TableDef, order: &[SortKey]) -> Vec<(String, bool, bool)> {
    order.iter().map(|k| (table.relation.columns[k.column].name.clone(), k.descending, k.nulls_first)).collect()
}

/// The token that resumes after a row whose sort-column values are `keys`. For the default
/// order of a single integer key it is the plain key value (`499990`), which [`decode`]
/// takes too (digits are never a token: a token's JSON starts with `{`, base64 `e`).
pub fn encode(request: &RowsRequest, keys: Vec<Key>) -> String {
    if let (true, [Key::Int(id)]) = (request.default_order, keys.as_slice()) {
        return id.to_string();
    }
    let token = Token { o: order_spec(&request.table, &request.order), k: keys };
    // Serializing plain data cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

/// The sort-column values an `after=` value stands for: a token, or (default order, one
/// key column) the plain key value.
pub fn decode(
    dialect: Dialect,
    table: &TableDef,
    order: &[SortKey],
    default_order: bool,
    text: &str,
) -> Result<Vec<Option<Param>>, BadRequest> {
    if table.relation.primary_key.is_empty() {
        return Err(BadRequest::new(
            "after",
            format!(
                "after: {:?} has no primary key, so its rows have no unique order to resume in; read it whole or narrow it with filters",
                table.relation.name
            ),
        ));
    }
    let token = URL_SAFE_NO_PAD.decode(text).ok().and_then(|bytes| serde_json::from_slice::<Token>(&bytes).ok());
    match token {
        Some(token) => {
            let expected = order_spec(table, order);
            if token.o != expected || token.k.len() != order.len() {
                return Err(BadRequest::new("after", "after: this token was made for another order= (or another version of the table); use the order it came with"));
            }
            order.iter().zip(token.k).map(|(key, value)| param(dialect, table, key.column, value)).collect()
        }
        None if default_order && order.len() == 1 => Ok(vec![Some(value::parse(dialect, table, order[0].column, text, "after")?)]),
        None => Err(BadRequest::new(
            "after",
            "after: expected the `next` token of a previous response (a plain key value works only for the default order of a single-column primary key)",
        )),
    }
}

/// A key as a parameter of column `column` (`None`: NULL).
pub fn param(dialect: Dialect, table: &TableDef, column: usize, key: Key) -> Result<Option<Param>, BadRequest> {
    let native = |bind| Ok(Some(Param { bind, cast: None, check: false, origin: "after".into() }));
    match (dialect, key) {
        (_, Key::Null) => Ok(None),
        (Dialect::Sqlite, Key::Int(i)) => native(Bind::I64(i)),
        (Dialect::Sqlite, Key::Float(f)) => {
            native(Bind::F64(value::parse_float(&f).ok_or_else(|| BadRequest::new("after", "after: malformed token"))?))
        }
        (Dialect::Sqlite, Key::Text(t)) => native(Bind::Text(t)),
        (Dialect::Sqlite, Key::Bytes(hex)) => native(Bind::Bytes(
            value::parse_hex(&format!("\\x{hex}")).ok_or_else(|| BadRequest::new("after", "after: malformed token"))?,
        )),
        (Dialect::Postgres, Key::Int(i)) => value::parse(dialect, table, column, &i.to_string(), "after").map(Some),
        (Dialect::Postgres, Key::Float(t) | Key::Text(t)) => {
            value::parse(dialect, table, column, &t, "after").map(Some)
        }
        (Dialect::Postgres, Key::Bytes(hex)) => {
            value::parse(dialect, table, column, &format!("\\x{hex}"), "after").map(Some)
        }
    }
}
