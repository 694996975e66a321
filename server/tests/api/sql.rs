//! `POST /api/sql`: off unless `--allow-sql`; one read-only statement, refused before
//! anything runs when it would write; on real SQLite and PostgreSQL.

use serde_json::{json, Value};
use shared::EndDetail;
use sqlx::Connection as _;

use crate::helpers::*;
use crate::tables::{column_texts, exec, table_ndjson};

/// POSTs `body` to `/api/sql?{query}`: the status and the body's text.
pub async fn post_sql(app: &TestApp, query: &str, body: &Value) -> (u16, String) {
    post_sql_as(app, &app.token, query, body).await
}

/// [`post_sql`] with another token.
pub async fn post_sql_as(app: &TestApp, token: &str, query: &str, body: &Value) -> (u16, String) {
    let response =
        app.client.post(app.url(&format!("/api/sql?{query}"))).bearer_auth(token).json(body).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A JSON error body's code (and the whole body, for messages).
fn code(body: &str) -> (String, Value) {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    (value["error"]["code"].as_str().unwrap_or("").to_owned(), value)
}

const ITEMS: &str = "CREATE TABLE items (id integer PRIMARY KEY, name text, qty integer);
INSERT INTO items VALUES (1, 'a', 5), (2, 'b;c', 10), (3, 'it''s', 15);";

async fn sql_app(backend: Backend, setup: &str) -> TestApp {
    let db = TestDb::new(backend).await;
    exec(&db, setup).await;
    spawn_app_on(db, |c| c.allow_sql = true).await
}

#[tokio::test]
async fn sql_is_off_unless_allowed() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        exec(&db, ITEMS).await;
        let app = spawn_app_on(db, |_| {}).await;
        let (status, body) = post_sql(&app, "", &json!({"sql": "select 1"})).await;
        assert_eq!((status, code(&body).0.as_str()), (404, "not_found"), "{body}");
        assert!(body.contains("--allow-sql"), "{body}");
        // Without a token it is a 401 either way.
        let response = app.client.post(app.url("/api/sql")).json(&json!({"sql": "select 1"})).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
}

#[tokio::test]
async fn one_read_only_query_streams_in_every_format() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = sql_app(backend, ITEMS).await;
        let sql = "select id, name from items where qty >= :min and name <> :skip order by id -- done; really\n;";
        let (status, body) = post_sql(&app, "", &json!({"sql": sql, "params": {"min": 10, "skip": "x"}})).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        let (rows, end) = table_ndjson(&body);
        assert_eq!(rows.iter().map(|r| r["name"].clone()).collect::<Vec<_>>(), [json!("b;c"), json!("it's")]);
        assert_eq!(end, Some(EndDetail { rows: 2, cut: false, next: None }));
        let (_, body) =
            post_sql(&app, "format=csv&mode=buffered", &json!({"sql": sql, "params": {"min": 0, "skip": "a"}})).await;
        assert_eq!(body, "id,name\n2,b;c\n3,it's\n", "{backend:?}");
        let (_, body) = post_sql(&app, "format=text", &json!({"sql": "select qty from items order by id"})).await;
        assert_eq!(body, "5\n10\n15\n");
        let (_, body) =
            post_sql(&app, "format=json&limit=1", &json!({"sql": "select qty from items order by id"})).await;
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([{"qty": 5}]));
        let (_, body) = post_sql(&app, "limit=2", &json!({"sql": "select qty from items order by id"})).await;
        assert_eq!(table_ndjson(&body).1, Some(EndDetail { rows: 2, cut: true, next: None }));
        // The same names twice, NULL, and a `;` inside a literal.
        let (_, body) = post_sql(
            &app,
            "",
            &json!({"sql": "select :v as a, :v as b, :n as c, ';' as d", "params": {"v": "x", "n": null}}),
        )
        .await;
        assert_eq!(body.lines().next(), Some(r#"{"a":"x","b":"x","c":null,"d":";"}"#), "{backend:?}");
    }
}

#[tokio::test]
async fn bad_sql_and_bad_parameters_are_400s() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = sql_app(backend, ITEMS).await;
        let pg = backend == Backend::Postgres;
        let cases: Vec<(&str, Value, &str)> = vec![
            ("", json!({"sql": "select 1; select 2"}), "sql"),
            ("", json!({"sql": "  -- nothing\n"}), "sql"),
            ("", json!({"sql": "selec 1"}), "sql"),
            ("", json!({"sql": "select * from no_such_table"}), "sql"),
            ("", json!({"sql": "select 'unterminated"}), "sql"),
            ("", json!({"sql": if pg { "select $1" } else { "select ?" }}), "sql"),
            ("", json!({"sql": "select :a"}), "a"),
            ("", json!({"sql": "select 1", "params": {"b": 1}}), "b"),
            ("", json!({"sql": "select 1", "other": 1}), "body"),
            ("", json!({"params": {}}), "body"),
            ("after=1", json!({"sql": "select 1"}), "after"),
            ("limit=x", json!({"sql": "select 1"}), "limit"),
            ("min=1", json!({"sql": "select 1"}), "min"),
        ];
        for (query, body, parameter) in cases {
            let (status, text) = post_sql(&app, query, &body).await;
            let (code, value) = code(&text);
            assert_eq!((status, code.as_str()), (400, "bad_parameter"), "{backend:?} {body}: {text}");
            assert_eq!(value["error"]["parameter"], parameter, "{backend:?} {body}: {text}");
        }
        if pg {
            // Parsed as the type PostgreSQL gives the placeholder.
            let (status, text) =
                post_sql(&app, "", &json!({"sql": "select * from items where qty > :q", "params": {"q": "many"}}))
                    .await;
            assert_eq!((status, code(&text).1["error"]["parameter"].clone()), (400, json!("q")), "{text}");
        }
        let response = app
            .client
            .post(app.url("/api/sql"))
            .bearer_auth(&app.token)
            .header("Content-Type", "text/plain")
            .body("select 1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415);
        let response = app
            .client
            .post(app.url("/api/sql"))
            .bearer_auth(&app.token)
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    }
}

#[tokio::test]
async fn writes_are_refused_before_or_by_the_database_and_nothing_is_written() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let pg = backend == Backend::Postgres;
        let setup = if pg {
            format!("{ITEMS} CREATE SEQUENCE s; CREATE TABLE other (x int);")
        } else {
            format!("{ITEMS} CREATE TABLE other (x int);")
        };
        let app = sql_app(backend, &setup).await;
        // (statement, whether it must be refused as a write: 403 `read_only`; the others may
        // also be refused as SQL that cannot run here, a 400 naming `sql`).
        let mut writes: Vec<(String, bool)> = [
            "insert into items values (9, 'z', 0)",
            "update items set qty = 0",
            "delete from items",
            "create table made (a int)",
            "drop table other",
            "alter table items add column x int",
            "create index i on items (qty)",
        ]
        .into_iter()
        .map(|sql| (sql.to_owned(), true))
        .collect();
        writes.push(("select 1; drop table other".to_owned(), false));
        writes.push(("select * into made from items".to_owned(), false));
        let attached = tempfile::tempdir().unwrap();
        if pg {
            for sql in [
                "with d as (delete from items returning *) select * from d",
                "with u as (update items set qty = 0 returning id) select count(*) from u",
                "select nextval('s')",
                "select setval('s', 100)",
                "truncate items",
                "grant select on items to public",
                "select * from items for update",
            ] {
                writes.push((sql.to_owned(), true));
            }
            writes.push(("copy items to stdout".to_owned(), false));
        } else {
            let path = attached.path().join("x.db").display().to_string();
            writes.push((format!("attach database '{path}' as x"), true));
            writes.push(("insert into items select 9, 'z', 0 returning *".to_owned(), true));
            writes.push(("replace into items values (1, 'z', 0)".to_owned(), true));
            writes.push(("pragma user_version = 7".to_owned(), false));
            writes.push(("vacuum".to_owned(), false));
        }
        for (sql, write) in &writes {
            let (status, body) = post_sql(&app, "", &json!({"sql": sql})).await;
            let (code, value) = code(&body);
            let refused_as_write = status == 403 && code == "read_only";
            let refused_as_sql = status == 400 && code == "bad_parameter" && value["error"]["parameter"] == "sql";
            assert!(refused_as_write || (!write && refused_as_sql), "{backend:?} {sql}: {status} {body}");
        }
        if !pg {
            assert!(std::fs::read_dir(attached.path()).unwrap().next().is_none(), "ATTACH created no file");
        }
        // Nothing was written.
        assert_eq!(column_texts(&app.db, "SELECT CAST(count(*) AS text) FROM items WHERE qty > 0").await, ["3"]);
        assert_eq!(column_texts(&app.db, "SELECT CAST(count(*) AS text) FROM other").await, ["0"], "still there");
        if pg {
            let mut conn = app.db.pg().await;
            let (last, called): (i64, bool) =
                sqlx::query_as("SELECT last_value, is_called FROM s").fetch_one(&mut conn).await.unwrap();
            assert_eq!((last, called), (1, false), "the sequence did not move");
            let made: bool =
                sqlx::query_scalar("SELECT to_regclass('made') IS NOT NULL").fetch_one(&mut conn).await.unwrap();
            assert!(!made);
        } else {
            assert_eq!(
                column_texts(&app.db, "SELECT CAST(count(*) AS text) FROM sqlite_master WHERE name = 'made'").await,
                ["0"]
            );
            assert_eq!(
                column_texts(&app.db, "SELECT CAST(user_version AS text) FROM pragma_user_version").await,
                ["0"]
            );
        }
        // Reading still works.
        let (status, body) = post_sql(&app, "", &json!({"sql": "select count(*) as n from items"})).await;
        assert_eq!((status, body.lines().next()), (200, Some(r#"{"n":3}"#)), "{body}");
    }
}

#[tokio::test]
async fn session_state_an_ad_hoc_statement_changes_never_reaches_another_request() {
    let db = TestDb::new(Backend::Postgres).await;
    exec(&db, ITEMS).await;
    // One connection in the pool: a connection returned with the setting would serve the
    // next request.
    let app = spawn_app_on(db, |c| {
        c.allow_sql = true;
        c.pool_size = 1;
    })
    .await;
    let sql = "select set_config('statement_timeout', '1', false), set_config('search_path', 'pg_catalog', false), pg_advisory_lock(42)";
    let (status, body) = post_sql(&app, "", &json!({"sql": sql})).await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..3 {
        let (status, body) =
            post_sql(&app, "", &json!({"sql": "select current_setting('statement_timeout') as t, pg_sleep(0.01), count(*) as n from items"}))
                .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(table_ndjson(&body).0[0]["t"], "0", "{body}");
        let (_, body) = app.body("/api/tables/items/rows?select=id").await;
        assert_eq!(table_ndjson(&body).0.len(), 3);
    }
    // The advisory lock went with its connection.
    let mut other = sqlx::PgConnection::connect(&postgres_base_url()).await.unwrap();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(42)").fetch_one(&mut other).await.unwrap();
    assert!(locked, "the lock must be gone with the closed connection");
}

#[tokio::test]
async fn every_type_reads_back_through_ad_hoc_sql() {
    let app = sql_app(Backend::Postgres, crate::tables::PG_ALL_TYPES).await;
    for format in ["ndjson", "csv", "json", "text"] {
        let (status, from_sql) =
            post_sql(&app, &format!("format={format}"), &json!({"sql": "select * from all_types order by id"})).await;
        assert_eq!(status, 200, "{from_sql}");
        let (_, from_table) = app.body(&format!("/api/tables/all_types/rows?format={format}")).await;
        assert_eq!(from_sql, from_table, "{format}");
    }
    // Parameters take the type PostgreSQL infers: an enum, a numeric with every digit, a date.
    let sql = "select id from all_types where e = :mood or n = :n or d = :d order by id";
    let params =
        json!({"mood": "sad", "n": 123456789012345678901234567890.123456789012345678901_f64, "d": "2024-02-29"});
    let (status, body) = post_sql(&app, "", &json!({"sql": sql, "params": params})).await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<Value> = table_ndjson(&body).0.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, [json!(1), json!(3)]);
    let body = r#"{"sql": "select id from all_types where n = :n", "params": {"n": 123456789012345678901234567890.123456789012345678901}}"#;
    let response = app
        .client
        .post(app.url("/api/sql"))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().next(), Some(r#"{"id":1}"#), "a JSON number keeps every digit: {text}");
    let (status, body) = post_sql(&app, "", &json!({"sql": "select :m::text", "params": {"m": "meh"}})).await;
    assert_eq!(status, 200, "{body}");
}
