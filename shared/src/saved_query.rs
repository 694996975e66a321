//! Queries that are not relations: the saved queries of the server's settings file
//! (`GET /api/queries`) and the body of an ad-hoc `POST /api/sql`.
//!
//! Wire form of a saved query (its result columns are what the database says the
//! statement returns; a query's columns are always `nullable`, since nothing says they are
//! not):
//!
//! ```text
//! {"name":"big_orders","sql":"select id, total from orders where total > :min_total",
//!  "params":[{"name":"min_total","type":"numeric","required":false,"default":"100"}],
//!  "columns":[{"name":"id","type":"int8","nullable":true,"sql_type":"int8"},
//!             {"name":"total","type":"numeric","nullable":true,"sql_type":"numeric"}]}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::schema::{Column, ColumnType};

/// One parameter of a saved query: `:name` in its SQL, `?name=…` in the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryParam {
    pub name: String,
    /// The value's type: the URL's text is parsed as this type before the query runs.
    #[serde(rename = "type")]
    pub param_type: ColumnType,
    /// Whether a request must give it (it has no default).
    pub required: bool,
    /// The value used when a request does not give one, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A saved query, as `GET /api/queries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQuery {
    pub name: String,
    /// The statement as configured, `:name` placeholders and all.
    pub sql: String,
    pub params: Vec<QueryParam>,
    /// The result columns, in order (empty when `error` says why they are not known).
    pub columns: Vec<Column>,
    /// Why the database could not describe the statement right now (a table was dropped
    /// since the start, …); absent when it could.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The body of `POST /api/sql`: one read-only statement and the values of its `:name`
/// placeholders, bound by name. A string, number or boolean is read as the type the
/// database gives the placeholder (PostgreSQL) or bound as it is (SQLite); `null` is NULL;
/// an object or array is its JSON text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    pub sql: String,
    #[serde(default)]
    pub params: BTreeMap<String, Box<RawValue>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_queries_have_a_readable_wire_form() {
        let query = SavedQuery {
            name: "q".into(),
            sql: "select :n".into(),
            params: vec![QueryParam { name: "n".into(), param_type: ColumnType::Int8, required: true, default: None }],
            columns: vec![Column {
                name: "x".into(),
                column_type: ColumnType::Int8,
                nullable: true,
                sql_type: "int8".into(),
            }],
            error: None,
        };
        let json = serde_json::to_string(&query).unwrap();
        assert_eq!(
            json,
            r#"{"name":"q","sql":"select :n","params":[{"name":"n","type":"int8","required":true}],"columns":[{"name":"x","type":"int8","nullable":true,"sql_type":"int8"}]}"#
        );
        assert_eq!(serde_json::from_str::<SavedQuery>(&json).unwrap(), query);
    }

    #[test]
    fn sql_requests_keep_numbers_exactly() {
        let body: SqlRequest =
            serde_json::from_str(r#"{"sql":"select :n","params":{"n":123456789012345678901234567890.5}}"#).unwrap();
        assert_eq!(body.params["n"].get(), "123456789012345678901234567890.5");
        assert!(serde_json::from_str::<SqlRequest>(r#"{"sql":"x","extra":1}"#).is_err());
        assert!(serde_json::from_str::<SqlRequest>(r#"{"sql":"x"}"#).unwrap().params.is_empty());
    }
}
