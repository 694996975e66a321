//! `format=arrow`: Arrow IPC streams read back with arrow-ipc's `StreamReader` and compared
//! value by value, on real SQLite and PostgreSQL; read as they arrive; never finished with
//! the end-of-stream marker when cut by a fault.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, IntervalMonthDayNanoType,
    Time64MicrosecondType, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_ipc::reader::StreamReader;
use arrow_schema::{DataType, IntervalUnit, SchemaRef, TimeUnit};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::tables::{app_with, busy_backends, exec, items_setup, HUGE, PG_ALL_TYPES, SQLITE_ALL_TYPES};

const ARROW: &str = "application/vnd.apache.arrow.stream";

/// The IPC end-of-stream marker: a continuation token and a zero length.
const EOS: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// A whole Arrow body: its schema and batches.
fn read(bytes: &[u8]) -> (SchemaRef, Vec<RecordBatch>) {
    let reader = StreamReader::try_new(bytes, None).expect("an Arrow IPC stream");
    let schema = reader.schema();
    (schema, reader.collect::<Result<_, _>>().expect("record batches"))
}

/// Every row of `batches` as `column name → value` (see [`value`]).
fn rows(schema: &SchemaRef, batches: &[RecordBatch]) -> Vec<HashMap<String, Value>> {
    let mut out = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let map = schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name().clone(), value(batch.column(i).as_ref(), row)))
                .collect();
            out.push(map);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    format!("hex:{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn float(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

/// One Arrow value as JSON: numbers as numbers (floats' NaN and infinities as strings),
/// binary as `hex:…`, intervals as `[months, days, nanoseconds]`, lists as arrays.
fn value(array: &dyn Array, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Int16 => json!(array.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => json!(array.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(i)),
        DataType::Float32 => float(f64::from(array.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => json!(array.as_boolean().value(i)),
        DataType::Utf8 => json!(array.as_string::<i32>().value(i)),
        DataType::Binary => json!(hex(array.as_binary::<i32>().value(i))),
        DataType::FixedSizeBinary(_) => json!(hex(array.as_fixed_size_binary().value(i))),
        DataType::Date32 => json!(array.as_primitive::<Date32Type>().value(i)),
        DataType::Time64(_) => json!(array.as_primitive::<Time64MicrosecondType>().value(i)),
        DataType::Timestamp(_, _) => json!(array.as_primitive::<TimestampMicrosecondType>().value(i)),
        DataType::Interval(_) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(i);
            json!([v.months, v.days, v.nanoseconds])
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            Value::Array((0..items.len()).map(|j| value(items.as_ref(), j)).collect())
        }
        other => panic!("unexpected Arrow type {other}"),
    }
}

fn days(y: i32, m: u32, d: u32) -> i64 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap().signed_duration_since(epoch).num_days()
}

fn micros(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32, ms: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_milli_opt(h, min, s, ms)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

async fn arrow_body(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let response = app.get(path).send().await.expect("request");
    assert_eq!(response.status(), 200, "GET {path}");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], ARROW, "{path}");
    (headers, response.bytes().await.expect("body").to_vec())
}

/// Compares rows value by value; JSON columns are compared as parsed JSON.
fn assert_rows(got: &[HashMap<String, Value>], expected: &[Value], json_columns: &[&str], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: rows");
    for (row, want) in got.iter().zip(expected) {
        let want = want.as_object().unwrap();
        assert_eq!(row.len(), want.len(), "{what}: columns");
        for (column, want) in want {
            let mut got = row[column].clone();
            if json_columns.contains(&column.as_str()) {
                if let Value::String(text) = &got {
                    got = json!({ "json": serde_json::from_str::<Value>(text).expect("JSON text") });
                }
            }
            assert_eq!(&got, want, "{what}: column {column} of row {}", row["id"]);
        }
    }
}

#[tokio::test]
async fn postgres_every_type_reads_back_value_by_value() {
    let app = app_with(Backend::Postgres, PG_ALL_TYPES).await;
    let text = "quote \" tab \t newline \n cr \r backslash \\ emoji 😀";
    let expected = vec![
        json!({"id":1,"i2":-32768,"i4":2147483647,"f4":"NaN","f8":"Infinity","n":HUGE,"b":true,"t":text,"vc":"",
            "ch":"ab ","by":"hex:00ff00","d":days(2024, 2, 29),"tm":86_399_999_999i64,
            "ts":micros(2024, 1, 1, 12, 0, 0, 500),"tstz":micros(2024, 1, 1, 10, 0, 0, 0),
            "iv":[14, 3, 14_706_500_000_000i64],"u":"hex:a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "j":{"json":{"a":[1,2],"b":null}},"jb":{"json":{"k":"v\"w"}},"e":"happy","ai":[1,null,3],
            "at":["a,b","","NULL",null],"an":["1.5",null],"pt":"(1,2)"}),
        json!({"id":2,"i2":null,"i4":null,"f4":null,"f8":null,"n":null,"b":null,"t":null,"vc":null,"ch":null,"by":null,
            "d":null,"tm":null,"ts":null,"tstz":null,"iv":null,"u":null,"j":null,"jb":null,"e":null,"ai":null,"at":null,
            "an":null,"pt":null}),
        json!({"id":3,"i2":0,"i4":-1,"f4":"-Infinity","f8":-1.5e300,"n":"NaN","b":false,"t":"null","vc":"\\N","ch":"abc",
            "by":"hex:","d":i32::MAX,"tm":0,"ts":i64::MIN,"tstz":i64::MAX,"iv":[-1, 0, -1_500_000_000i64],
            "u":"hex:00000000000000000000000000000000","j":{"json":[]},"jb":{"json":null},"e":"sad","ai":[],"at":[],
            "an":[],"pt":"(0,0)"}),
    ];
    for mode in ["stream", "buffered"] {
        let (_, body) = arrow_body(&app, &format!("/api/tables/all_types/rows?format=arrow&mode={mode}")).await;
        assert!(body.ends_with(&EOS), "{mode}: a complete stream ends with the end-of-stream marker");
        let (schema, batches) = read(&body);
        let types: Vec<DataType> = schema.fields().iter().map(|f| f.data_type().clone()).collect();
        let list = |item: DataType| DataType::new_list(item, true);
        assert_eq!(
            types,
            [
                DataType::Int64,
                DataType::Int16,
                DataType::Int32,
                DataType::Float32,
                DataType::Float64,
                DataType::Utf8,
                DataType::Boolean,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Binary,
                DataType::Date32,
                DataType::Time64(TimeUnit::Microsecond),
                DataType::Timestamp(TimeUnit::Microsecond, None),
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                DataType::Interval(IntervalUnit::MonthDayNano),
                DataType::FixedSizeBinary(16),
                DataType::Utf8,
                DataType::Utf8,
                DataType::Utf8,
                list(DataType::Int32),
                list(DataType::Utf8),
                list(DataType::Utf8),
                DataType::Utf8,
            ],
            "{mode}"
        );
        let field = |name: &str| schema.field_with_name(name).unwrap().clone();
        assert_eq!(field("u").metadata()["ARROW:extension:name"], "arrow.uuid");
        assert_eq!(field("jb").metadata()["ARROW:extension:name"], "arrow.json");
        assert_eq!(field("n").metadata()["rowstream.sql_type"], "numeric");
        assert!(!field("id").is_nullable() && field("i2").is_nullable());
        assert_rows(&rows(&schema, &batches), &expected, &["j", "jb"], mode);
    }
    // Accept chooses Arrow too.
    let response = app.get("/api/tables/all_types/rows").header("accept", ARROW).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], ARROW);
    let (_, batches) = read(&response.bytes().await.unwrap());
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
}

#[tokio::test]
async fn sqlite_values_read_back_by_their_text_and_the_rowid_as_int64() {
    let app = app_with(Backend::Sqlite, SQLITE_ALL_TYPES).await;
    let text = "quote \" tab \t newline \n backslash \\ emoji 😀";
    let expected = vec![
        json!({"id":1,"i":"-9223372036854775808","r":"1e308","t":text,"bl":"\\x00ff00","nu":"12.5",
            "dt":"2024-01-01 12:00:00","anything":"x"}),
        json!({"id":2,"i":null,"r":null,"t":null,"bl":null,"nu":null,"dt":null,"anything":null}),
        json!({"id":3,"i":"0","r":"Infinity","t":"null","bl":"\\x","nu":"7","dt":"1700000000","anything":"1.5"}),
        json!({"id":4,"i":"9223372036854775807","r":"-0.5","t":"","bl":"\\x0a","nu":"abc","dt":null,"anything":"\\xff"}),
    ];
    for mode in ["stream", "buffered"] {
        let (_, body) = arrow_body(&app, &format!("/api/tables/all_types/rows?format=arrow&mode={mode}")).await;
        assert!(body.ends_with(&EOS), "{mode}");
        let (schema, batches) = read(&body);
        assert_eq!(schema.field(0).data_type(), &DataType::Int64, "INTEGER PRIMARY KEY is the rowid");
        assert!(schema.fields().iter().skip(1).all(|f| f.data_type() == &DataType::Utf8));
        assert_eq!(schema.field(1).metadata()["rowstream.sql_type"], "BIGINT");
        assert_rows(&rows(&schema, &batches), &expected, &[], mode);
    }
}

#[tokio::test]
async fn messages_are_typed_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app(backend, 1000).await;
        // `messages` is one table like any other: SQLite has no instant type, so its
        // `created_at` is the RFC 3339 text the table holds.
        let (created_at_type, created_at): (DataType, fn(&shared::Message) -> Value) = match backend {
            Backend::Sqlite => (DataType::Utf8, |m| json!(m.created_at.to_string())),
            Backend::Postgres | Backend::PostgresFetch => {
                (DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), |m| json!(m.created_at.0))
            }
        };
        let expected: Vec<Value> = expected_rows(1..=1000)
            .iter()
            .map(|m| json!({"id":m.id,"sender":m.sender,"body":m.body,"created_at":created_at(m)}))
            .collect();
        for mode in ["stream", "buffered"] {
            let (_, body) = arrow_body(&app, &format!("/api/messages?format=arrow&mode={mode}")).await;
            assert!(body.ends_with(&EOS));
            let (schema, batches) = read(&body);
            let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
            assert_eq!(types, [&DataType::Int64, &DataType::Utf8, &DataType::Utf8, &created_at_type]);
            assert_rows(&rows(&schema, &batches), &expected, &[], &format!("{backend:?} {mode}"));
        }
        // limit, buffered: the token to continue is in a header; it continues exactly there.
        let (headers, body) = arrow_body(&app, "/api/messages?format=arrow&mode=buffered&limit=10&after=5").await;
        assert_eq!(
            (headers["rowstream-next"].to_str().unwrap(), headers["rowstream-cut"].to_str().unwrap()),
            ("15", "true")
        );
        let (schema, batches) = read(&body);
        let ids: Vec<Value> = rows(&schema, &batches).iter().map(|r| r["id"].clone()).collect();
        assert_eq!(ids, (6..=15).map(|i| json!(i)).collect::<Vec<_>>());
        let (headers, _) = arrow_body(&app, "/api/messages?format=arrow&mode=buffered&after=995").await;
        assert!(headers.get("rowstream-next").is_none() && headers.get("rowstream-cut").is_none());
        let response = app.get("/api/messages").header("accept", ARROW).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], ARROW);
    }
}

#[tokio::test]
async fn a_record_batch_per_chunk_and_batches_of_batch_rows_when_buffered() {
    let app = spawn_app(Backend::Sqlite, 1000).await;
    let raw = app.raw("/api/messages?format=arrow&batch=100", None).await;
    let (chunks, complete) = raw.chunks().await;
    assert!(complete);
    // The first row alone (after the schema), then one batch of 100 rows per chunk.
    let mut sizes = Vec::new();
    let mut bytes = Vec::new();
    for chunk in &chunks {
        bytes.extend_from_slice(chunk);
        let (_, batches) = read(&bytes);
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        sizes.push(total - sizes.iter().sum::<usize>());
    }
    let mut expected = vec![1];
    expected.extend([100; 9]);
    expected.push(99);
    assert_eq!(&sizes[..11], &expected[..]);
    assert!(sizes[11..].iter().all(|s| *s == 0), "the last chunk carries only the end-of-stream marker");
    let (_, batches) = read(&bytes);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), expected);
    // Buffered: one body, batches of `batch` rows.
    let (_, body) = arrow_body(&app, "/api/messages?format=arrow&batch=300&mode=buffered").await;
    let (_, batches) = read(&body);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [300, 300, 300, 100]);
}

const BIG: &str =
    "CREATE TABLE big AS SELECT i::int8 AS id, md5(i::text) AS t, i % 10 AS g FROM generate_series(1, 300000) i;
                   ALTER TABLE big ADD PRIMARY KEY (id);";

#[tokio::test]
async fn a_streamed_arrow_response_is_readable_as_it_arrives() {
    let app = app_with(Backend::Postgres, BIG).await;
    let mut raw = app.raw("/api/tables/big/rows?format=arrow", Some(4096)).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some(ARROW));
    let ChunkEvent::Chunk(first) = raw.next_chunk().await else { panic!("no first chunk") };
    // The schema and the first row's batch, readable on their own, long before the end.
    let (schema, batches) = read(&first);
    assert_eq!(schema.fields().len(), 3);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [1]);
    assert!(!first.ends_with(&EOS));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.metric("rowstream_rows_read_total").await < 290_000, "the rest waits for the reader");
    let ChunkEvent::Chunk(second) = raw.next_chunk().await else { panic!("no second chunk") };
    let (_, batches) = read(&[first, second].concat());
    assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [1, 1000]);
    // Leaving stops the query (and ends its transaction before the schema is dropped).
    drop(raw);
    let stopped = eventually(std::time::Duration::from_secs(5), std::time::Duration::from_millis(50), || async {
        busy_backends(&app.db).await == 0
    })
    .await;
    assert!(stopped, "the query must stop when the client goes away");
}

#[tokio::test]
async fn a_stream_cut_by_a_fault_never_carries_the_end_of_stream_marker() {
    let app = app_with(Backend::Postgres, BIG).await;
    let mut raw = app.raw("/api/tables/big/rows?format=arrow", Some(4096)).await;
    let ChunkEvent::Chunk(first) = raw.next_chunk().await else { panic!("no first chunk") };
    assert_eq!(terminate_busy_backends(&app).await, 1);
    let (rest, complete) = raw.chunks().await;
    assert!(!complete, "an aborted stream must not end with the terminating chunk");
    let body = [vec![first], rest].concat().concat();
    assert!(!body.ends_with(&EOS), "no end-of-stream marker after a fault");
    // What did arrive is whole batches.
    let (_, batches) = read(&body);
    let got: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert!((1..300_000).contains(&got), "{got}");
}

#[tokio::test]
async fn limit_cuts_and_the_buffered_header_continues_it() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        exec(&db, items_setup(backend)).await;
        let app = spawn_app_on(db, |_| {}).await;
        let mut ids = Vec::new();
        let mut after = String::new();
        loop {
            let path =
                format!("/api/tables/items/rows?format=arrow&mode=buffered&select=id&order=qty.desc&limit=70{after}");
            let (headers, body) = arrow_body(&app, &path).await;
            let (schema, batches) = read(&body);
            ids.extend(rows(&schema, &batches).into_iter().map(|r| r["id"].to_string()));
            match headers.get("rowstream-next") {
                Some(next) => after = format!("&after={}", next.to_str().unwrap()),
                None => break,
            }
        }
        let (_, body) = arrow_body(&app, "/api/tables/items/rows?format=arrow&select=id&order=qty.desc").await;
        let (schema, batches) = read(&body);
        let all: Vec<String> = rows(&schema, &batches).into_iter().map(|r| r["id"].to_string()).collect();
        assert_eq!(all.len(), 300);
        assert_eq!(ids, all, "{backend:?}: pages of 70 make the whole");
    }
}
