//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs` call these; `cargo fuzz` runs
//! them), one per parser of ours that reads client or wire input. Each takes any bytes and
//! must return without panicking, whatever they are. The test suite replays every committed
//! corpus file (`fuzz/corpus/TARGET/`) through the same function (`fuzzing::tests`), so a
//! crash the fuzzer once found stays fixed without the fuzzer.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use shared::{Column, ColumnType, Relation, RelationKind};

use crate::db::copy_binary::CopyBinaryDecoder;
use crate::introspect::TableDef;
use crate::params::{self, SeedEndpoint};
use crate::source::adhoc::AdHoc;
use crate::source::query::Plan;
use crate::source::request::{RowsQuery, RowsRequest};
use crate::source::{keyset, order, Dialect};

/// Every fuzz target, by the name of its `fuzz/fuzz_targets/` file and corpus directory.
/// A fuzz target's body.
pub type Target = fn(&[u8]);

pub const TARGETS: &[(&str, Target)] = &[
    ("query_params", query_params),
    ("rows_request", rows_request),
    ("after_token", after_token),
    ("ndjson_frames", ndjson_frames),
    ("copy_binary", copy_binary),
    ("sql_placeholders", sql_placeholders),
];

/// The query-string parsers of every endpoint, with the bytes as the query string (and,
/// split at the first newline, as an `Accept` header).
pub fn query_params(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (query, accept) = text.split_once('\n').unwrap_or((&text, ""));
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(accept) {
        headers.insert(axum::http::header::ACCEPT, value);
    }
    let _ = params::parse_table(Some(query), &headers);
    let _ = params::parse_query(Some(query), &headers, true);
    let _ = params::parse_seed(Some(query), SeedEndpoint::Standard);
    let _ = params::parse_seed(Some(query), SeedEndpoint::Chunked);
}

/// `select`, filters (PostgREST's grammar, each value parsed by its column's type), `order`
/// and `after` against a relation with a column of every type, on both dialects; a request
/// that parses is planned and its statement written.
pub fn rows_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(parsed) = params::parse_table(Some(&text), &HeaderMap::new()) else {
        return;
    };
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let query = RowsQuery {
            select: parsed.select.as_deref(),
            order: parsed.order.as_deref(),
            after: parsed.after.as_deref(),
            filters: parsed.filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            limit: parsed.limit,
        };
        if let Ok(request) = RowsRequest::parse(dialect, every_type(dialect), &query) {
            let after = request.after.clone();
            let plan = Plan::new(request);
            let _ = plan.statement(after.as_deref(), Some(10));
        }
    }
}

/// An `after=` value (token or plain key) for the default order and for a composite one.
pub fn after_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let table = every_type(dialect);
        for order_text in [None, Some("t.desc.nullsfirst,f8,ts.asc")] {
            let Ok(order) = order::parse_order(&table, order_text) else {
                continue;
            };
            let _ = keyset::decode(dialect, &table, &order, order_text.is_none(), &text);
        }
    }
}

/// The NDJSON frame parsers the viewer and the tools read streams with, line by line.
pub fn ndjson_frames(data: &[u8]) {
    for line in data.split(|b| *b == b'\n') {
        let _ = shared::parse_table_line(line);
        let _ = shared::parse_line(line);
        let _ = shared::parse_line_borrowed(line);
    }
}

/// The binary COPY decoder, fed the bytes in chunks whose sizes the first byte chooses.
pub fn copy_binary(data: &[u8]) {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut decoder = CopyBinaryDecoder::new();
    for chunk in rest.chunks(step) {
        decoder.feed(bytes::Bytes::copy_from_slice(chunk));
        while let Ok(Some(_)) = decoder.next_row() {}
    }
}

/// Ad-hoc SQL: the `:name` placeholder rewriting and the one-statement, read-only check.
pub fn sql_placeholders(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let _ = AdHoc::parse(&text, dialect, true);
    }
}

/// A relation with a column of every type of `dialect`, keyed by `id`.
fn every_type(dialect: Dialect) -> Arc<TableDef> {
    let types: Vec<(&str, ColumnType, &str)> = match dialect {
        Dialect::Postgres => vec![
            ("id", ColumnType::Int8, "bigint"),
            ("i2", ColumnType::Int2, "smallint"),
            ("i4", ColumnType::Int4, "integer"),
            ("f4", ColumnType::Float4, "real"),
            ("f8", ColumnType::Float8, "double precision"),
            ("n", ColumnType::Numeric, "numeric"),
            ("b", ColumnType::Bool, "boolean"),
            ("t", ColumnType::Text, "text"),
            ("by", ColumnType::Bytea, "bytea"),
            ("d", ColumnType::Date, "date"),
            ("tm", ColumnType::Time, "time without time zone"),
            ("ts", ColumnType::Timestamp, "timestamp without time zone"),
            ("tstz", ColumnType::Timestamptz, "timestamp with time zone"),
            ("iv", ColumnType::Interval, "interval"),
            ("u", ColumnType::Uuid, "uuid"),
            ("j", ColumnType::Json, "json"),
            ("jb", ColumnType::Jsonb, "jsonb"),
            ("e", ColumnType::Enum { name: "mood".into(), labels: vec!["sad".into(), "happy".into()] }, "mood"),
            ("ai", ColumnType::Array(Box::new(ColumnType::Int4)), "integer[]"),
            ("pt", ColumnType::Other("point".into()), "point"),
        ],
        Dialect::Sqlite => vec![
            ("id", ColumnType::SqliteInteger, "INTEGER"),
            ("f8", ColumnType::SqliteReal, "REAL"),
            ("t", ColumnType::SqliteText, "TEXT"),
            ("by", ColumnType::SqliteBlob, "BLOB"),
            ("n", ColumnType::SqliteNumeric, "NUMERIC"),
            ("ts", ColumnType::SqliteNumeric, "DATETIME"),
        ],
    };
    let columns = types
        .iter()
        .map(|(name, column_type, sql_type)| Column {
            name: (*name).into(),
            column_type: column_type.clone(),
            nullable: *name != "id",
            sql_type: (*sql_type).into(),
        })
        .collect();
    Arc::new(TableDef {
        relation: Relation {
            name: "every_type".into(),
            kind: RelationKind::Table,
            columns,
            primary_key: vec!["id".into()],
        },
        schema: (dialect == Dialect::Postgres).then(|| "public".into()),
        table: "every_type".into(),
        cast_types: types.iter().map(|(_, _, sql_type)| (*sql_type).into()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::TARGETS;

    /// Every committed corpus file of every target goes through it without a panic.
    #[test]
    fn every_committed_corpus_input_passes_without_a_panic() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let mut count = 0;
            for entry in entries {
                let path = entry.expect("corpus entry").path();
                let data = std::fs::read(&path).expect("corpus file");
                target(&data);
                count += 1;
            }
            assert!(count > 0, "{name}: the corpus is empty");
        }
    }
}
