//! The schema of the relations rowstream serves: what `GET /api/tables` answers, and what
//! the server reads, filters and encodes rows by.
//!
//! A [`Relation`] is a table or a view with its [`Column`]s and primary key. Every column
//! has a typed [`ColumnType`]; the database's own spelling of the type is kept beside it
//! ([`Column::sql_type`]) for display. Nothing outside the schema and row code branches on
//! a column's name: every decision is made on its type.
//!
//! Wire form (serde, externally tagged, snake case):
//!
//! ```text
//! {"name":"orders","kind":"table","primary_key":["id"],"columns":[
//!   {"name":"id","type":"int8","nullable":false,"sql_type":"bigint"},
//!   {"name":"state","type":{"enum":{"name":"order_state","labels":["new","paid"]}},"nullable":true,"sql_type":"order_state"},
//!   {"name":"tags","type":{"array":"text"},"nullable":true,"sql_type":"text[]"},
//!   {"name":"shape","type":{"other":"point"},"nullable":true,"sql_type":"point"}]}
//! ```

use serde::{Deserialize, Serialize};

/// A column's type, as rowstream reads, filters and encodes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    // PostgreSQL.
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// Arbitrary precision; sent without losing a digit.
    Numeric,
    Bool,
    /// `text`, `varchar`, `char(n)`, `name`, `citext`.
    Text,
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    /// A PostgreSQL enum: its type name and its labels in sort order.
    Enum {
        name: String,
        labels: Vec<String>,
    },
    /// An array whose elements have the given (non-array) type.
    Array(Box<ColumnType>),
    // SQLite: a column's affinity, from its declared type (kept in `Column::sql_type`)
    // by SQLite's own rules. Values are dynamically typed whatever the affinity says.
    SqliteInteger,
    SqliteReal,
    SqliteText,
    SqliteBlob,
    SqliteNumeric,
    /// Any other type: read and sent as its text form. Holds the type's name.
    Other(String),
}

impl ColumnType {
    /// SQLite's affinity rules (<https://sqlite.org/datatype3.html#determination_of_column_affinity>),
    /// applied to a declared type in this order.
    pub fn from_sqlite_declared(declared: &str) -> ColumnType {
        let upper = declared.to_ascii_uppercase();
        if upper.contains("INT") {
            ColumnType::SqliteInteger
        } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
            ColumnType::SqliteText
        } else if upper.contains("BLOB") || upper.trim().is_empty() {
            ColumnType::SqliteBlob
        } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
            ColumnType::SqliteReal
        } else {
            ColumnType::SqliteNumeric
        }
    }

    /// A PostgreSQL base type by its `pg_type.typname` (`int8`, `varchar`, `timestamptz`);
    /// [`ColumnType::Other`] for every type rowstream sends as text. Enums and arrays are
    /// told apart by their catalog entry, not their name.
    pub fn from_postgres_name(typname: &str) -> ColumnType {
        match typname {
            "int2" => ColumnType::Int2,
            "int4" => ColumnType::Int4,
            "int8" => ColumnType::Int8,
            "float4" => ColumnType::Float4,
            "float8" => ColumnType::Float8,
            "numeric" => ColumnType::Numeric,
            "bool" => ColumnType::Bool,
            "text" | "varchar" | "bpchar" | "name" | "citext" => ColumnType::Text,
            "bytea" => ColumnType::Bytea,
            "date" => ColumnType::Date,
            "time" => ColumnType::Time,
            "timestamp" => ColumnType::Timestamp,
            "timestamptz" => ColumnType::Timestamptz,
            "interval" => ColumnType::Interval,
            "uuid" => ColumnType::Uuid,
            "json" => ColumnType::Json,
            "jsonb" => ColumnType::Jsonb,
            other => ColumnType::Other(other.to_owned()),
        }
    }

    /// Whether values of this type are text (filters need no cast for `like`).
    pub fn is_textual(&self) -> bool {
        matches!(self, ColumnType::Text | ColumnType::SqliteText | ColumnType::Enum { .. })
    }
}

/// One column of a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    pub nullable: bool,
    /// The type as the database spells it (`character varying(20)`, `DATETIME`).
    pub sql_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    Table,
    View,
    MaterializedView,
}

/// A table or view that rowstream serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// The name in URLs: the bare name in the first configured schema, `schema.name` in
    /// the others.
    pub name: String,
    pub kind: RelationKind,
    pub columns: Vec<Column>,
    /// The primary key's columns, in key order; empty when there is none (views).
    pub primary_key: Vec<String>,
}

impl Relation {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_have_a_readable_wire_form() {
        let column = Column {
            name: "tags".into(),
            column_type: ColumnType::Array(Box::new(ColumnType::Text)),
            nullable: true,
            sql_type: "text[]".into(),
        };
        let json = serde_json::to_string(&column).unwrap();
        assert_eq!(json, r#"{"name":"tags","type":{"array":"text"},"nullable":true,"sql_type":"text[]"}"#);
        assert_eq!(serde_json::from_str::<Column>(&json).unwrap(), column);
        let e = ColumnType::Enum { name: "mood".into(), labels: vec!["sad".into(), "ok".into()] };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"enum":{"name":"mood","labels":["sad","ok"]}}"#);
        assert_eq!(serde_json::to_string(&ColumnType::Int8).unwrap(), r#""int8""#);
        assert_eq!(serde_json::to_string(&ColumnType::Other("point".into())).unwrap(), r#"{"other":"point"}"#);
    }

    #[test]
    fn sqlite_affinity_follows_sqlites_rules() {
        for (declared, expected) in [
            ("INTEGER", ColumnType::SqliteInteger),
            ("BIGINT", ColumnType::SqliteInteger),
            ("VARCHAR(20)", ColumnType::SqliteText),
            ("CHARINT", ColumnType::SqliteInteger), // INT wins: rule 1 comes first
            ("text", ColumnType::SqliteText),
            ("BLOB", ColumnType::SqliteBlob),
            ("", ColumnType::SqliteBlob),
            ("DOUBLE PRECISION", ColumnType::SqliteReal),
            ("FLOATING POINT", ColumnType::SqliteInteger), // "POINT" contains INT
            ("DECIMAL(10,2)", ColumnType::SqliteNumeric),
            ("DATETIME", ColumnType::SqliteNumeric),
            ("BOOLEAN", ColumnType::SqliteNumeric),
        ] {
            assert_eq!(ColumnType::from_sqlite_declared(declared), expected, "{declared}");
        }
    }
}
