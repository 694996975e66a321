//! `/api/tables`: any relation, typed, filtered, resumable, on real SQLite and PostgreSQL.

use std::str::FromStr;

use serde_json::{json, Value};
use shared::{EndDetail, TableFrame};
use sqlx::Connection as _;

use crate::helpers::*;

/// Runs a script (several statements) on the test's database.
pub async fn exec(db: &TestDb, sql: &str) {
    match db.backend {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url).unwrap().create_if_missing(true);
            let mut c = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
        }
        _ => {
            let mut c = db.pg().await;
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
        }
    }
}

/// The first column of a query's rows, as text (NULL as "NULL").
pub async fn column_texts(db: &TestDb, sql: &str) -> Vec<String> {
    match db.backend {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url).unwrap();
            let mut c = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
            let rows: Vec<(Option<String>,)> =
                sqlx::query_as(sql).fetch_all(&mut c).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
            rows.into_iter().map(|r| r.0.unwrap_or_else(|| "NULL".into())).collect()
        }
        _ => {
            let mut c = db.pg().await;
            let rows: Vec<(Option<String>,)> =
                sqlx::query_as(sql).fetch_all(&mut c).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
            rows.into_iter().map(|r| r.0.unwrap_or_else(|| "NULL".into())).collect()
        }
    }
}

/// A server on a database prepared by `setup`.
pub async fn app_with(backend: Backend, setup: &str) -> TestApp {
    let db = TestDb::new(backend).await;
    exec(&db, setup).await;
    spawn_app_on(db, |_| {}).await
}

/// An NDJSON body: its rows (as JSON objects, keys in order) and its trailer.
pub fn table_ndjson(body: &str) -> (Vec<serde_json::Map<String, Value>>, Option<EndDetail>) {
    let mut rows = Vec::new();
    let mut end = None;
    for line in body.lines() {
        assert!(end.is_none(), "a line after the trailer: {line}");
        match shared::parse_table_line(line.as_bytes()).unwrap_or_else(|e| panic!("{e}: {line}")) {
            TableFrame::Row(raw) => rows.push(serde_json::from_str(raw.get()).expect("row object")),
            TableFrame::End(detail) => end = Some(detail),
            TableFrame::Error(e) => panic!("error frame: {e:?}"),
        }
    }
    (rows, end)
}

pub async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.get(path).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A 400 naming `parameter`.
pub async fn assert_bad(app: &TestApp, path: &str, parameter: &str) {
    let (status, body) = get_json(app, path).await;
    assert_eq!(status, 400, "{path}: {body}");
    assert_eq!(body["error"]["code"], "bad_parameter", "{path}");
    assert_eq!(body["error"]["parameter"], parameter, "{path}: {body}");
}

pub const PG_ALL_TYPES: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE all_types (
  id int8 PRIMARY KEY, i2 int2, i4 int4, f4 float4, f8 float8, n numeric, b bool, t text,
  vc varchar(10), ch char(3), by bytea, d date, tm time, ts timestamp, tstz timestamptz,
  iv interval, u uuid, j json, jb jsonb, e mood, ai int4[], at text[], an numeric[], pt point
);
INSERT INTO all_types VALUES
 (1, -32768, 2147483647, 'NaN', 'Infinity', 123456789012345678901234567890.123456789012345678901, true,
  E'quote " tab \t newline \n cr \r backslash \\ emoji 😀', '', 'ab', '\x00ff00'::bytea, '2024-02-29',
  '23:59:59.999999', '2024-01-01 12:00:00.5', '2024-01-01 12:00:00+02', '1 year 2 mons 3 days 04:05:06.5',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', E'{"a": [1, 2],\n "b": null}', '{"k": "v\"w"}', 'happy',
  '{1,NULL,3}', '{"a,b","","NULL",NULL}', '{1.5,NULL}', '(1,2)'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL),
 (3, 0, -1, '-Infinity', -1.5e300, 'NaN', false, 'null', '\N', 'abc', '\x'::bytea, 'infinity', '00:00:00',
  '-infinity', 'infinity', '-1 mons -1.5 seconds', '00000000-0000-0000-0000-000000000000', '[]', 'null', 'sad',
  '{}', '{}', '{}', '(0,0)');
"#;

fn pg_expected() -> Vec<Value> {
    vec![
        json!({"id":1,"i2":-32768,"i4":2147483647,"f4":"NaN","f8":"Infinity","n":"<numeric>","b":true,
            "t":"quote \" tab \t newline \n cr \r backslash \\ emoji 😀","vc":"","ch":"ab ","by":"\\x00ff00","d":"2024-02-29",
            "tm":"23:59:59.999999","ts":"2024-01-01T12:00:00.5","tstz":"2024-01-01T10:00:00Z","iv":"P1Y2M3DT4H5M6.5S",
            "u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","j":{"a":[1,2],"b":null},"jb":{"k":"v\"w"},"e":"happy",
            "ai":[1,null,3],"at":["a,b","","NULL",null],"an":[1.5,null],"pt":"(1,2)"}),
        json!({"id":2,"i2":null,"i4":null,"f4":null,"f8":null,"n":null,"b":null,"t":null,"vc":null,"ch":null,"by":null,
            "d":null,"tm":null,"ts":null,"tstz":null,"iv":null,"u":null,"j":null,"jb":null,"e":null,"ai":null,"at":null,
            "an":null,"pt":null}),
        json!({"id":3,"i2":0,"i4":-1,"f4":"-Infinity","f8":-1.5e300,"n":"NaN","b":false,"t":"null","vc":"\\N","ch":"abc",
            "by":"\\x","d":"infinity","tm":"00:00:00","ts":"-infinity","tstz":"infinity","iv":"P-1MT-1.5S",
            "u":"00000000-0000-0000-0000-000000000000","j":[],"jb":null,"e":"sad","ai":[],"at":[],"an":[],"pt":"(0,0)"}),
    ]
}

const PG_COLUMNS: [&str; 24] = [
    "id", "i2", "i4", "f4", "f8", "n", "b", "t", "vc", "ch", "by", "d", "tm", "ts", "tstz", "iv", "u", "j", "jb", "e",
    "ai", "at", "an", "pt",
];

pub const HUGE: &str = "123456789012345678901234567890.123456789012345678901";

/// The JSON rows equal the expected ones value by value (the huge numeric is checked in
/// the line's text, where its digits are exact).
fn check_json_rows(body: &str, rows: Vec<serde_json::Map<String, Value>>, expected: &[Value], what: &str) {
    assert!(body.contains(&format!("\"n\":{HUGE},")), "{what}: numeric digits kept");
    assert_eq!(rows.len(), expected.len(), "{what}");
    // Keys come in column order.
    let first = body.lines().find(|l| l.contains("\"id\":1,")).unwrap();
    let positions: Vec<usize> = PG_COLUMNS.iter().map(|c| first.find(&format!("\"{c}\":")).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{what}: keys in column order: {first}");
    for (row, want) in rows.iter().zip(expected) {
        assert_eq!(row.len(), want.as_object().unwrap().len(), "{what}");
        for (k, v) in want.as_object().unwrap() {
            if v == "<numeric>" {
                continue;
            }
            assert_eq!(&row[k], v, "{what}: column {k} of row {}", row["id"]);
        }
    }
}

#[tokio::test]
async fn postgres_every_type_round_trips_in_every_format() {
    for backend in [Backend::Postgres, Backend::PostgresFetch] {
        let app = app_with(backend, PG_ALL_TYPES).await;
        let expected = pg_expected();
        for mode in ["stream", "buffered"] {
            let (_, body) = app.body(&format!("/api/tables/all_types/rows?mode={mode}")).await;
            let (rows, end) = table_ndjson(&body);
            assert_eq!(end, Some(EndDetail { rows: 3, cut: false, next: None }));
            check_json_rows(&body, rows, &expected, &format!("{mode} ndjson"));

            let (_, body) = app.body(&format!("/api/tables/all_types/rows?mode={mode}&format=json")).await;
            let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_str(&body).expect("json array");
            check_json_rows(&body, rows, &expected, &format!("{mode} json"));

            // CSV and COPY text: PostgreSQL reads them back into an identical table.
            for (format, copy) in [("csv", "(FORMAT csv, HEADER true)"), ("text", "")] {
                let (_, body) = app.body(&format!("/api/tables/all_types/rows?mode={mode}&format={format}")).await;
                let mut pg = app.db.pg().await;
                sqlx::raw_sql("DROP TABLE IF EXISTS back; CREATE TABLE back (LIKE all_types)")
                    .execute(&mut pg)
                    .await
                    .unwrap();
                let mut copy_in = pg.copy_in_raw(&format!("COPY back FROM STDIN {copy}")).await.unwrap();
                copy_in.send(body.as_bytes()).await.unwrap();
                copy_in.finish().await.unwrap_or_else(|e| panic!("{format}: {e}\n{body}"));
                let same: bool = sqlx::query_scalar(
                    "SELECT (SELECT jsonb_agg(to_jsonb(x) ORDER BY id)::text FROM all_types x) = (SELECT jsonb_agg(to_jsonb(y) ORDER BY id)::text FROM back y)",
                )
                .fetch_one(&mut pg)
                .await
                .unwrap();
                if !same {
                    let diff: Vec<(String, String)> = sqlx::query_as(
                        "SELECT a.key || '=' || a.value::text, coalesce(b.value::text, 'missing') FROM all_types x CROSS JOIN LATERAL jsonb_each(to_jsonb(x)) a \
                         LEFT JOIN back y ON y.id = x.id LEFT JOIN LATERAL jsonb_each(to_jsonb(y)) b ON b.key = a.key WHERE a.value::text IS DISTINCT FROM b.value::text",
                    )
                    .fetch_all(&mut pg)
                    .await
                    .unwrap();
                    panic!("{mode} {format} reads back differently: {diff:?}\n{body}");
                }
            }
        }
        // The schema, typed.
        let (status, relation) = get_json(&app, "/api/tables/all_types").await;
        assert_eq!(status, 200);
        assert_eq!(relation["kind"], "table");
        assert_eq!(relation["primary_key"], json!(["id"]));
        let types: Vec<&Value> = relation["columns"].as_array().unwrap().iter().map(|c| &c["type"]).collect();
        assert_eq!(types[0], "int8");
        assert_eq!(types[5], "numeric");
        assert_eq!(*types[19], json!({"enum": {"name": "mood", "labels": ["sad", "ok", "happy"]}}));
        assert_eq!(*types[20], json!({"array": "int4"}));
        assert_eq!(*types[23], json!({"other": "point"}));
        assert_eq!(relation["columns"][0]["nullable"], false);
        assert_eq!(relation["columns"][1]["nullable"], true);
    }
}

pub const SQLITE_ALL_TYPES: &str = r#"
CREATE TABLE all_types (id INTEGER PRIMARY KEY, i BIGINT, r DOUBLE, t TEXT, bl BLOB, nu DECIMAL(10,2), dt DATETIME, anything);
INSERT INTO all_types VALUES
 (1, -9223372036854775808, 1e308, 'quote " tab ' || char(9) || ' newline ' || char(10) || ' backslash \ emoji 😀', x'00ff00', 12.5, '2024-01-01 12:00:00', 'x'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 0, 9e999, 'null', x'', 7, 1700000000, 1.5),
 (4, 9223372036854775807, -0.5, '', x'0a', 'abc', NULL, x'ff');
"#;

#[tokio::test]
async fn sqlite_every_type_round_trips_in_every_format() {
    let app = app_with(Backend::Sqlite, SQLITE_ALL_TYPES).await;
    let expected = vec![
        json!({"id":1,"i":i64::MIN,"r":1e308,"t":"quote \" tab \t newline \n backslash \\ emoji 😀","bl":"\\x00ff00","nu":12.5,"dt":"2024-01-01 12:00:00","anything":"x"}),
        json!({"id":2,"i":null,"r":null,"t":null,"bl":null,"nu":null,"dt":null,"anything":null}),
        json!({"id":3,"i":0,"r":"Infinity","t":"null","bl":"\\x","nu":7,"dt":1700000000,"anything":1.5}),
        json!({"id":4,"i":i64::MAX,"r":-0.5,"t":"","bl":"\\x0a","nu":"abc","dt":null,"anything":"\\xff"}),
    ];
    // Text forms: what CSV and COPY text carry (None: NULL).
    let texts: Vec<Vec<Option<&str>>> = vec![
        vec![
            Some("1"),
            Some("-9223372036854775808"),
            Some("1e308"),
            Some("quote \" tab \t newline \n backslash \\ emoji 😀"),
            Some("\\x00ff00"),
            Some("12.5"),
            Some("2024-01-01 12:00:00"),
            Some("x"),
        ],
        vec![Some("2"), None, None, None, None, None, None, None],
        vec![
            Some("3"),
            Some("0"),
            Some("Infinity"),
            Some("null"),
            Some("\\x"),
            Some("7"),
            Some("1700000000"),
            Some("1.5"),
        ],
        vec![
            Some("4"),
            Some("9223372036854775807"),
            Some("-0.5"),
            Some(""),
            Some("\\x0a"),
            Some("abc"),
            None,
            Some("\\xff"),
        ],
    ];
    for mode in ["stream", "buffered"] {
        let (_, body) = app.body(&format!("/api/tables/all_types/rows?mode={mode}")).await;
        let (rows, end) = table_ndjson(&body);
        assert_eq!(end.map(|e| e.rows), Some(4));
        let rows: Vec<Value> = rows.into_iter().map(Value::Object).collect();
        assert_eq!(rows, expected, "{mode} ndjson");
        let (_, body) = app.body(&format!("/api/tables/all_types/rows?mode={mode}&format=json")).await;
        assert_eq!(serde_json::from_str::<Vec<Value>>(&body).unwrap(), expected, "{mode} json");
        let (_, body) = app.body(&format!("/api/tables/all_types/rows?mode={mode}&format=csv")).await;
        let texts: Vec<Vec<Option<String>>> =
            texts.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect();
        assert_eq!(parse_csv_nulls(&body), texts, "{mode} csv");
        let (_, body) = app.body(&format!("/api/tables/all_types/rows?mode={mode}&format=text")).await;
        assert_eq!(parse_copy_text(&body), texts, "{mode} text");
    }
}

/// CSV with PostgreSQL's NULL convention (an unquoted empty field is NULL, `""` is the
/// empty string); the header row is dropped.
pub fn parse_csv_nulls(body: &str) -> Vec<Vec<Option<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() && !quoted => {
                quoted = true;
                loop {
                    match chars.next().expect("closing quote") {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        '"' => break,
                        other => field.push(other),
                    }
                }
            }
            ',' | '\n' => {
                let value = std::mem::take(&mut field);
                record.push(if value.is_empty() && !quoted { None } else { Some(value) });
                quoted = false;
                if c == '\n' {
                    records.push(std::mem::take(&mut record));
                }
            }
            other => field.push(other),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "CSV ends with a line break");
    records.remove(0);
    records
}

/// COPY text: `\N` is NULL, backslash escapes undone.
pub fn parse_copy_text(body: &str) -> Vec<Vec<Option<String>>> {
    body.lines()
        .map(|line| {
            line.split('\t')
                .map(|field| {
                    if field == "\\N" {
                        return None;
                    }
                    let mut out = String::new();
                    let mut chars = field.chars();
                    while let Some(c) = chars.next() {
                        if c == '\\' {
                            match chars.next() {
                                Some('t') => out.push('\t'),
                                Some('n') => out.push('\n'),
                                Some('r') => out.push('\r'),
                                Some(other) => out.push(other),
                                None => {}
                            }
                        } else {
                            out.push(c);
                        }
                    }
                    Some(out)
                })
                .collect()
        })
        .collect()
}

pub fn items_setup(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, price REAL, tag TEXT, flag BOOLEAN, d TEXT);
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300)
             INSERT INTO items SELECT i, 'item' || i, CASE WHEN i % 7 = 0 THEN NULL ELSE i % 100 END, i * 1.25,
               CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'a,b' WHEN 2 THEN 'x' ELSE 'Item' END, i % 3 = 0,
               date('2024-01-01', '+' || i || ' days') FROM s;
             CREATE VIEW item_view AS SELECT id, name FROM items WHERE qty > 90;"
        }
        _ => {
            "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int, price numeric, tag text, flag bool, d date);
             INSERT INTO items SELECT i, 'item' || i, CASE WHEN i % 7 = 0 THEN NULL ELSE i % 100 END, i * 1.25,
               CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'a,b' WHEN 2 THEN 'x' ELSE 'Item' END, i % 3 = 0,
               date '2024-01-01' + i FROM generate_series(1, 300) i;
             CREATE VIEW item_view AS SELECT id, name FROM items WHERE qty > 90;"
        }
    }
}

async fn api_ids(app: &TestApp, table: &str, query: &str) -> Vec<String> {
    let (_, body) = app.body(&format!("/api/tables/{table}/rows?select=id&{query}")).await;
    let (rows, end) = table_ndjson(&body);
    assert_eq!(end.map(|e| e.rows), Some(rows.len() as u64), "{query}");
    rows.iter().map(|r| r["id"].to_string()).collect()
}

#[tokio::test]
async fn filters_select_what_the_same_where_selects() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = app_with(backend, items_setup(backend)).await;
        let pg = backend != Backend::Sqlite;
        let cases: Vec<(&str, &str)> = vec![
            ("qty=gt.50", "qty > 50"),
            ("qty=gte.50&qty=lt.60", "qty >= 50 AND qty < 60"),
            ("qty=not.eq.5", "NOT (qty = 5)"),
            ("qty=neq.5", "qty <> 5"),
            ("qty=lte.3", "qty <= 3"),
            ("name=like.item1*", "name LIKE 'item1%'"),
            ("name=ilike.ITEM2*", if pg { "name ILIKE 'ITEM2%'" } else { "name LIKE 'ITEM2%'" }),
            ("tag=like.I*", if pg { "tag LIKE 'I%'" } else { "tag GLOB 'I*'" }),
            ("tag=is.null", "tag IS NULL"),
            ("tag=not.is.null", "tag IS NOT NULL"),
            ("id=in.(1,2,3,500)", "id IN (1, 2, 3, 500)"),
            ("tag=in.(\"a,b\",x)", "tag IN ('a,b', 'x')"),
            ("tag=not.in.(\"a,b\")", "NOT (tag IN ('a,b'))"),
            ("id=in.()", "1 = 0"),
            ("flag=is.true", "flag IS TRUE"),
            ("flag=eq.false&qty=lt.10&tag=eq.x", "flag = false AND qty < 10 AND tag = 'x'"),
            ("price=gt.100.5", "price > 100.5"),
            ("d=lt.2024-02-01", "d < '2024-02-01'"),
            ("name=eq.'; DROP TABLE items; --", "1 = 0"),
        ];
        for (query, condition) in cases {
            let got = api_ids(&app, "items", query).await;
            let expected = column_texts(
                &app.db,
                &format!("SELECT CAST(id AS text) AS k FROM items WHERE {condition} ORDER BY id"),
            )
            .await;
            assert_eq!(got, expected, "{backend:?} {query}");
        }
        assert_eq!(column_texts(&app.db, "SELECT CAST(count(*) AS text) FROM items").await, ["300"], "still there");
        // select= picks and orders the columns.
        let (_, body) = app.body("/api/tables/items/rows?select=tag,id&id=eq.5").await;
        assert_eq!(body.lines().next(), Some(r#"{"tag":"a,b","id":5}"#));
    }
}

#[tokio::test]
async fn bad_requests_are_400s_naming_the_parameter() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = app_with(backend, items_setup(backend)).await;
        let pg = backend != Backend::Sqlite;
        let mut cases = vec![
            ("/api/tables/items/rows?nosuch=eq.1", "nosuch"),
            ("/api/tables/items/rows?qty=eq.abc", "qty"),
            ("/api/tables/items/rows?qty=approx.1", "qty"),
            ("/api/tables/items/rows?qty=5", "qty"),
            ("/api/tables/items/rows?qty=in.(1,x)", "qty"),
            ("/api/tables/items/rows?qty=in.1,2", "qty"),
            ("/api/tables/items/rows?tag=is.maybe", "tag"),
            ("/api/tables/items/rows?select=id;drop table items", "select"),
            ("/api/tables/items/rows?select=id,id", "select"),
            ("/api/tables/items/rows?select=\"id", "select"),
            ("/api/tables/items/rows?order=id desc; drop table items", "order"),
            ("/api/tables/items/rows?order=qty.sideways", "order"),
            ("/api/tables/items/rows?order=nosuch", "order"),
            ("/api/tables/items/rows?after=notatoken&order=qty", "after"),
            ("/api/tables/items/rows?after=x1", "after"),
            ("/api/tables/items/rows?limit=-1", "limit"),
            ("/api/tables/items/rows?format=xml", "format"),
            ("/api/tables/items/rows?order=id&order=qty", "order"),
            ("/api/tables/item_view/rows?after=1", "after"),
        ];
        if pg {
            cases.push(("/api/tables/items/rows?d=eq.notadate", "d"));
            cases.push(("/api/tables/items/rows?price=gt.1e", "price"));
            cases.push(("/api/tables/items/rows?flag=eq.maybe", "flag"));
            cases.push(("/api/tables/items/rows?qty=is.true", "qty"));
        }
        for (path, parameter) in cases {
            assert_bad(&app, path, parameter).await;
        }
        let (_, body) = get_json(&app, "/api/tables/item_view/rows?after=1").await;
        assert!(body["error"]["message"].as_str().unwrap().contains("primary key"), "{body}");
        for path in [
            "/api/tables/nosuch",
            "/api/tables/nosuch/rows",
            "/api/tables/items;drop/rows",
            "/api/tables/_sqlx_migrations",
        ] {
            let (status, body) = get_json(&app, path).await;
            assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{path}");
        }
        // Still there, still whole.
        assert_eq!(column_texts(&app.db, "SELECT CAST(count(*) AS text) FROM items").await, ["300"]);
        // No token, no data.
        let response = app.client.get(app.url("/api/tables")).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
}

#[tokio::test]
async fn tables_and_views_are_listed_with_their_schema() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        db.seed(3).await;
        exec(&db, items_setup(backend)).await;
        let app = spawn_app_on(db, |_| {}).await;
        let (status, list) = get_json(&app, "/api/tables").await;
        assert_eq!(status, 200);
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["item_view", "items", "messages"], "{backend:?}: no system or migration tables");
        let view = &list[0];
        assert_eq!((view["kind"].as_str(), view["primary_key"].clone()), (Some("view"), json!([])));
        let messages = &list[2];
        assert_eq!(messages["primary_key"], json!(["id"]));
        assert_eq!(messages["columns"].as_array().unwrap().len(), 4);
        // The view streams; limit cuts it and says so, without a token (no key to resume by).
        let (_, body) = app.body("/api/tables/item_view/rows").await;
        let (rows, _) = table_ndjson(&body);
        let expected =
            column_texts(&app.db, "SELECT CAST(id AS text) AS k FROM items WHERE qty > 90 ORDER BY id").await;
        let mut got: Vec<String> = rows.iter().map(|r| r["id"].to_string()).collect();
        got.sort_by_key(|s| s.parse::<i64>().unwrap());
        assert_eq!(got, expected);
        let (_, body) = app.body("/api/tables/item_view/rows?limit=2").await;
        assert_eq!(table_ndjson(&body).1, Some(EndDetail { rows: 2, cut: true, next: None }));
        // messages is one table like any other.
        let (_, body) = app.body("/api/tables/messages/rows?select=id&limit=2").await;
        let (rows, end) = table_ndjson(&body);
        assert_eq!(rows.len(), 2);
        assert!(end.unwrap().cut);
        // A table created after the start is found (the catalog is re-read).
        exec(&app.db, "CREATE TABLE later (id INTEGER PRIMARY KEY)").await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let (status, _) = get_json(&app, "/api/tables/later").await;
        assert_eq!(status, 200, "{backend:?}");
    }
}

#[tokio::test]
async fn expose_and_hide_choose_what_is_served() {
    let db = TestDb::new(Backend::Postgres).await;
    exec(&db, items_setup(Backend::Postgres)).await;
    exec(&db, "CREATE TABLE audit_log (id int PRIMARY KEY)").await;
    let app = spawn_app_on(db, |c| {
        c.catalog.expose = vec!["item*".into(), "audit_*".into()];
        c.catalog.hide = vec!["audit_*".into()];
    })
    .await;
    let (_, list) = get_json(&app, "/api/tables").await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["item_view", "items"]);
    let (status, _) = get_json(&app, "/api/tables/audit_log/rows").await;
    assert_eq!(status, 404);
}

/// Rows with a composite text/integer key, duplicates and NULLs in the sort columns.
fn keyset_setup(backend: Backend) -> String {
    let (series, a) = match backend {
        Backend::Sqlite => (
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 150) INSERT INTO k SELECT",
            "CASE i % 7 WHEN 0 THEN 'Zed' WHEN 1 THEN 'a b' WHEN 2 THEN 'é' WHEN 3 THEN '' WHEN 4 THEN 'a\"b' WHEN 5 THEN 'x,y' ELSE '😀' END",
        ),
        _ => (
            "INSERT INTO k SELECT",
            "CASE i % 7 WHEN 0 THEN 'Zed' WHEN 1 THEN 'a b' WHEN 2 THEN 'é' WHEN 3 THEN '' WHEN 4 THEN 'a\"b' WHEN 5 THEN 'x,y' ELSE '😀' END",
        ),
    };
    let from = if backend == Backend::Sqlite { "FROM s" } else { "FROM generate_series(1, 150) i" };
    format!(
        "CREATE TABLE k (a text, b int, c text, v int, n numeric, PRIMARY KEY (a, b));
         {series} {a}, i % 40, CASE WHEN i % 5 = 0 THEN NULL ELSE 'c' || (i % 4) END,
           CASE WHEN i % 6 = 0 THEN NULL ELSE i % 3 END,
           CASE WHEN i % 9 = 0 THEN NULL ELSE (i % 13) * 1.5 - 7 END {from};"
    )
}

/// Follows `next` tokens page by page; returns the rows' keys in order.
async fn pages(app: &TestApp, query: &str, page: u64, mode: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/api/tables/k/rows?select=a,b&limit={page}&mode={mode}&{query}");
        if let Some(token) = &after {
            path.push_str(&format!("&after={token}"));
        }
        let response = app.get(&path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = response.headers().get("rowstream-next").map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        let (rows, end) = table_ndjson(&body);
        let end = end.expect("trailer");
        assert_eq!(end.rows, rows.len() as u64);
        keys.extend(rows.iter().map(|r| format!("{}|{}", r["a"].as_str().unwrap(), r["b"])));
        if mode == "buffered" {
            assert_eq!(header, end.next, "buffered responses carry next in a header");
        }
        if !end.cut {
            assert!(end.next.is_none());
            return keys;
        }
        assert_eq!(rows.len() as u64, page);
        after = Some(end.next.expect("a cut stream of a keyed table says where to continue"));
    }
    panic!("no end");
}

#[tokio::test]
async fn keyset_resume_is_exact_for_any_order() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = app_with(backend, &keyset_setup(backend)).await;
        // (order=, the same order in SQL with explicit NULL placement)
        let orders = [
            ("", "a, b"),
            ("order=c", "c ASC NULLS LAST, a, b"),
            ("order=c.desc", "c DESC NULLS FIRST, a, b"),
            ("order=c.asc.nullsfirst", "c ASC NULLS FIRST, a, b"),
            ("order=c.desc.nullslast", "c DESC NULLS LAST, a, b"),
            ("order=v.desc.nullslast,c.asc", "v DESC NULLS LAST, c ASC NULLS LAST, a, b"),
            ("order=v,c.desc.nullsfirst", "v ASC NULLS LAST, c DESC NULLS FIRST, a, b"),
            ("order=b.desc", "b DESC, a"),
            ("order=a.desc", "a DESC, b"),
            // numeric is read as text on PostgreSQL; it must still sort as a number.
            ("order=n", "n ASC NULLS LAST, a, b"),
            ("order=n.desc,c", "n DESC NULLS FIRST, c ASC NULLS LAST, a, b"),
        ];
        for (query, sql_order) in orders {
            let expected = column_texts(
                &app.db,
                &format!("SELECT a || '|' || CAST(b AS text) AS key FROM k ORDER BY {sql_order}"),
            )
            .await;
            assert_eq!(expected.len(), 150);
            let (_, body) = app.body(&format!("/api/tables/k/rows?select=a,b&{query}")).await;
            let (rows, _) = table_ndjson(&body);
            let full: Vec<String> = rows.iter().map(|r| format!("{}|{}", r["a"].as_str().unwrap(), r["b"])).collect();
            assert_eq!(full, expected, "{backend:?} {query}: the order is the SQL order");
            for (page, mode) in [(7, "stream"), (1, "stream"), (40, "buffered")] {
                assert_eq!(
                    pages(&app, query, page, mode).await,
                    expected,
                    "{backend:?} {query} pages of {page} ({mode})"
                );
            }
        }
        // A token only continues the order it was made for.
        let (_, body) = app.body("/api/tables/k/rows?order=c&limit=3").await;
        let next = table_ndjson(&body).1.unwrap().next.unwrap();
        assert_bad(&app, &format!("/api/tables/k/rows?order=v&after={next}"), "after").await;
        // limit=0: nothing sent, and it says there was more.
        let (_, body) = app.body("/api/tables/k/rows?limit=0").await;
        assert_eq!(table_ndjson(&body).1, Some(EndDetail { rows: 0, cut: true, next: None }));
    }
}

#[tokio::test]
async fn a_plain_key_value_resumes_the_default_order() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = app_with(backend, items_setup(backend)).await;
        assert_eq!(api_ids(&app, "items", "after=100&limit=3").await, ["101", "102", "103"]);
        let (_, body) = app.body("/api/tables/items/rows?select=id&after=295").await;
        let (rows, end) = table_ndjson(&body);
        assert_eq!(rows.len(), 5);
        assert_eq!(end, Some(EndDetail { rows: 5, cut: false, next: None }));
        // Filters and keyset together.
        let (_, body) = app.body("/api/tables/items/rows?select=id&tag=eq.x&limit=2").await;
        let (rows, end) = table_ndjson(&body);
        assert_eq!(rows.iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 6]);
        let next = end.unwrap().next.unwrap();
        assert_eq!(api_ids(&app, "items", &format!("tag=eq.x&limit=2&after={next}")).await, ["10", "14"]);
    }
}

#[tokio::test]
async fn names_that_need_quoting_and_control_words_are_plain_columns() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let json_type = if backend == Backend::Sqlite { "TEXT" } else { "jsonb" };
        let setup = format!(
            "CREATE TABLE \"Order Items\" (\"select\" int PRIMARY KEY, \"end\" text, \"error\" text, \"schema\" text, \"a.b\" int);
             INSERT INTO \"Order Items\" VALUES (1, '{{\"rows\":1}}', 'e', 's', 10), (2, NULL, '', 'x', 20), (3, 'z', 'e', NULL, 30);
             CREATE TABLE ends (\"end\" {json_type});
             INSERT INTO ends VALUES ('{{\"rows\": 1}}'), ('{{\"rows\": 2, \"cut\": true}}'), (NULL);"
        );
        let app = app_with(backend, &setup).await;
        let (_, body) =
            app.body("/api/tables/Order%20Items/rows?select=end,select,%22a.b%22&order=select.desc&error=eq.e").await;
        let (rows, end) = table_ndjson(&body);
        assert_eq!(end.map(|e| e.rows), Some(2));
        assert_eq!(rows[0]["end"], "z");
        assert_eq!(rows[1]["end"], "{\"rows\":1}");
        assert_eq!(rows[1]["a.b"], 10);
        assert!(
            body.lines().all(|l| l.starts_with("{\"\\u0065nd\":") || l.starts_with("{\"end\":{\"rows\":2}")),
            "{body}"
        );
        for column in ["error", "schema"] {
            let (_, body) = app.body(&format!("/api/tables/Order%20Items/rows?select={column}&limit=1")).await;
            let first = body.lines().next().unwrap();
            assert!(!shared::is_control_line(first.as_bytes()), "{first}");
            let (rows, end) = table_ndjson(&body);
            assert_eq!((rows.len(), end.map(|e| e.cut)), (1, Some(true)));
        }
        // One column named `end` holding objects that look like trailers.
        for mode in ["stream", "buffered"] {
            let (_, body) = app.body(&format!("/api/tables/ends/rows?mode={mode}")).await;
            let (rows, end) = table_ndjson(&body);
            assert_eq!(end, Some(EndDetail { rows: 3, cut: false, next: None }), "{backend:?}: {body}");
            let values: Vec<&Value> = rows.iter().map(|r| &r["end"]).collect();
            if backend == Backend::Sqlite {
                assert_eq!(values, [&json!("{\"rows\": 1}"), &json!("{\"rows\": 2, \"cut\": true}"), &Value::Null]);
            } else {
                assert_eq!(values, [&json!({"rows": 1}), &json!({"rows": 2, "cut": true}), &Value::Null]);
            }
        }
        let (_, body) = app.body("/api/tables/ends/rows?format=csv").await;
        assert!(body.starts_with("end\n"), "{body}");
    }
}

pub async fn busy_backends(db: &TestDb) -> i64 {
    let mut pg = sqlx::PgConnection::connect(&postgres_base_url()).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'")
        .bind(db.schema.clone().unwrap())
        .fetch_one(&mut pg)
        .await
        .unwrap()
}

#[tokio::test]
async fn relation_streams_keep_the_streaming_guarantees() {
    let setup =
        "CREATE TABLE big AS SELECT i::int8 AS id, md5(i::text) AS t, i % 10 AS g FROM generate_series(1, 300000) i;
                 ALTER TABLE big ADD PRIMARY KEY (id);";
    let app = app_with(Backend::Postgres, setup).await;
    // The first row goes out alone; a client that does not read holds the query back.
    let mut raw = app.raw("/api/tables/big/rows?g=neq.3", Some(4096)).await;
    assert_eq!(raw.status, 200);
    let ChunkEvent::Chunk(first) = raw.next_chunk().await else { panic!("no first chunk") };
    assert_eq!(first.iter().filter(|b| **b == b'\n').count(), 1, "the first row alone");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.metric("rowstream_rows_read_total").await < 270_000, "backpressure reaches the query");
    assert_eq!(busy_backends(&app.db).await, 1, "one backend streams, in its transaction");
    // Leaving stops the query: its connection is closed, not returned with a result pending.
    drop(raw);
    assert!(
        eventually(std::time::Duration::from_secs(5), std::time::Duration::from_millis(50), || async {
            busy_backends(&app.db).await == 0
        })
        .await,
        "the query must stop when the client goes away"
    );
    // A complete stream, read whole.
    let (_, body) = app.body("/api/tables/big/rows?select=id&g=neq.3&order=id.desc").await;
    let (rows, end) = table_ndjson(&body);
    assert_eq!(end.map(|e| e.rows), Some(270_000));
    assert_eq!(rows[0]["id"], 300_000);
    // A failure after the status line: an error frame, then an abort, never a trailer.
    let mut raw = app.raw("/api/tables/big/rows", Some(4096)).await;
    assert!(matches!(raw.next_chunk().await, ChunkEvent::Chunk(_)));
    assert_eq!(terminate_busy_backends(&app).await, 1);
    let (rest, complete) = raw.chunks().await;
    assert!(!complete, "an aborted stream must not end with the terminating chunk");
    let body = String::from_utf8(rest.concat()).unwrap();
    assert!(
        body.lines().last().unwrap_or("").starts_with("{\"error\":{\"code\":\"database_error\""),
        "{}",
        body.lines().last().unwrap_or("")
    );
    assert!(!body.contains("{\"end\""));
}

#[tokio::test]
async fn tokens_resume_on_a_column_of_every_type() {
    let app = app_with(Backend::Postgres, PG_ALL_TYPES).await;
    // Every orderable column (json and point have no order), both directions, pages of 1.
    for column in PG_COLUMNS.iter().filter(|c| !matches!(**c, "j" | "pt")) {
        for direction in ["asc", "desc.nullslast"] {
            let order = format!("order={column}.{direction}");
            let (_, body) = app.body(&format!("/api/tables/all_types/rows?select=id&{order}")).await;
            let full: Vec<String> = table_ndjson(&body).0.iter().map(|r| r["id"].to_string()).collect();
            assert_eq!(full.len(), 3);
            let mut paged = Vec::new();
            let mut after = String::new();
            loop {
                let (_, body) = app.body(&format!("/api/tables/all_types/rows?select=id&{order}&limit=1{after}")).await;
                let (rows, end) = table_ndjson(&body);
                paged.extend(rows.iter().map(|r| r["id"].to_string()));
                let end = end.unwrap();
                if !end.cut {
                    break;
                }
                after = format!("&after={}", end.next.unwrap());
            }
            assert_eq!(paged, full, "{order}");
        }
    }
}

#[tokio::test]
async fn relations_of_further_schemas_are_named_with_their_schema() {
    let db = TestDb::new(Backend::Postgres).await;
    let schema = db.schema.clone().unwrap();
    let other = format!("{schema}_other");
    exec(&db, &format!("CREATE TABLE here (id int PRIMARY KEY); CREATE SCHEMA {other}; CREATE TABLE {other}.there (id int PRIMARY KEY); INSERT INTO {other}.there VALUES (7);")).await;
    let app = spawn_app_on(db, |c| c.catalog.schemas.push(other.clone())).await;
    let (_, list) = get_json(&app, "/api/tables").await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["here", "messages", &format!("{other}.there")]);
    let (_, body) = app.body(&format!("/api/tables/{other}.there/rows")).await;
    assert_eq!(table_ndjson(&body).0[0]["id"], 7);
    exec(&app.db, &format!("DROP SCHEMA {other} CASCADE")).await;
}

#[tokio::test]
async fn a_changed_relation_is_read_again() {
    let app = app_with(
        Backend::Postgres,
        "CREATE TABLE t (id int PRIMARY KEY, gone text, kept text); INSERT INTO t VALUES (1, 'a', 'b');",
    )
    .await;
    exec(&app.db, "ALTER TABLE t DROP COLUMN gone").await;
    let (status, body) = get_json(&app, "/api/tables/t/rows").await;
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("database_error")), "{body}");
    let (status, body) = get_json(&app, "/api/tables/t/rows").await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = app.body("/api/tables/t/rows").await;
    assert_eq!(body.lines().next(), Some(r#"{"id":1,"kept":"b"}"#));
}

/// `numeric` is read in its binary form (base-10000 digits) and written as text by
/// rowstream: the text is PostgreSQL's own, digit for digit, whatever the weight and scale.
#[tokio::test]
async fn numeric_text_is_postgresql_s_own() {
    let setup = r#"
CREATE TABLE nums (id int PRIMARY KEY, n numeric NOT NULL, a numeric[]);
INSERT INTO nums VALUES
 (1, 0, NULL), (2, '-0', NULL), (3, '0.000', NULL), (4, '0.0001', NULL), (5, '-0.00001234', NULL),
 (6, '1e100', NULL), (7, '1e-100', NULL), (8, '9999.9999', NULL), (9, '10000', NULL), (10, '99999999', NULL),
 (11, 'NaN', NULL), (12, 'Infinity', NULL), (13, '-Infinity', NULL), (14, '1.10', NULL), (15, '100000000.1', NULL),
 (16, '-123456789012345678901234567890.123456789012345678901', '{1.5,NULL,-0.25,NaN,1e40}');
INSERT INTO nums
SELECT 100 + g,
       CASE g % 5
         WHEN 0 THEN (g - 500)::numeric * 1.01
         WHEN 1 THEN round(g::numeric / 3, g % 25)
         WHEN 2 THEN (10::numeric ^ ((g % 61) - 30)) * (g % 9 - 4)
         WHEN 3 THEN trunc(g::numeric * 12345.6789, g % 5)
         ELSE -(g::numeric ^ 7) / 1000
       END,
       ARRAY[g::numeric / 8, -(g::numeric) * 1000000]
FROM generate_series(1, 2000) AS g;
"#;
    for backend in [Backend::Postgres, Backend::PostgresFetch] {
        let app = app_with(backend, setup).await;
        let want_n = column_texts(&app.db, "SELECT n::text FROM nums ORDER BY id").await;
        let want_a = column_texts(&app.db, "SELECT a::text FROM nums ORDER BY id").await;
        for mode in ["stream", "buffered"] {
            let (_, body) = app.body(&format!("/api/tables/nums/rows?select=n,a&format=text&mode={mode}")).await;
            let (n, a): (Vec<String>, Vec<String>) = body
                .lines()
                .map(|line| {
                    let (n, a) = line.split_once('\t').expect("two fields");
                    (n.to_owned(), if a == "\\N" { "NULL".to_owned() } else { a.to_owned() })
                })
                .unzip();
            assert_eq!(n, want_n, "{backend:?} {mode}");
            assert_eq!(a, want_a, "{backend:?} {mode}");
        }
    }
}
