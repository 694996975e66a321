//! Saved queries (`[queries.NAME]`): `GET /api/queries` and `/api/queries/{name}/rows`, on
//! real SQLite and PostgreSQL.

use rowstream::source::saved::{ParamSpec, SavedQueryDef};
use rowstream::source::Dialect;
use serde_json::{json, Value};
use shared::EndDetail;
use sqlx::Connection as _;

use crate::helpers::*;
use crate::tables::{assert_bad, column_texts, exec, get_json, table_ndjson, PG_ALL_TYPES};

fn dialect(backend: Backend) -> Dialect {
    if backend == Backend::Sqlite {
        Dialect::Sqlite
    } else {
        Dialect::Postgres
    }
}

fn spec(name: &str, type_name: &str, default: Option<&str>) -> ParamSpec {
    ParamSpec { name: name.into(), type_name: type_name.into(), default: default.map(str::to_owned) }
}

const ORDERS: &str = "CREATE TABLE orders (id integer PRIMARY KEY, total numeric, state text);
INSERT INTO orders VALUES (1, 50, 'paid'), (2, 150, 'paid'), (3, 250.5, 'open'), (4, 1000, 'paid'), (5, NULL, 'paid');";

fn order_queries(backend: Backend) -> Vec<SavedQueryDef> {
    let d = dialect(backend);
    vec![
        SavedQueryDef::new(
            "big_orders",
            "select id, total from orders where total > :min_total and state = :state order by id",
            &[spec("min_total", "numeric", Some("100")), spec("state", "text", None)],
            d,
        )
        .unwrap(),
        SavedQueryDef::new(
            "since",
            "select state as \"end\", id, ':not_a_param' as literal from orders where id >= :first -- :comment\norder by id;",
            &[spec("first", "bigint", None)],
            d,
        )
        .unwrap(),
    ]
}

async fn orders_app(backend: Backend) -> TestApp {
    let db = TestDb::new(backend).await;
    exec(&db, ORDERS).await;
    spawn_app_on(db, |c| c.queries = order_queries(backend)).await
}

#[tokio::test]
async fn saved_queries_are_listed_with_parameters_and_result_columns() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = orders_app(backend).await;
        let (status, list) = get_json(&app, "/api/queries").await;
        assert_eq!(status, 200, "{list}");
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["big_orders", "since"]);
        let big = &list[0];
        assert_eq!(
            big["params"],
            json!([
                {"name": "min_total", "type": "numeric", "required": false, "default": "100"},
                {"name": "state", "type": "text", "required": true}
            ]),
            "{backend:?}"
        );
        let columns: Vec<(&str, &Value, bool)> = big["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), &c["type"], c["nullable"].as_bool().unwrap()))
            .collect();
        if backend == Backend::Sqlite {
            // sqlx reads SQLite's declared INTEGER, TEXT, REAL, BLOB, BOOLEAN, DATE…; a
            // `numeric` column, like an expression, has no type it knows: no affinity.
            assert_eq!(columns, [("id", &json!("sqlite_integer"), true), ("total", &json!("sqlite_blob"), true)]);
        } else {
            assert_eq!(columns, [("id", &json!("int4"), true), ("total", &json!("numeric"), true)]);
        }
        assert!(big.get("error").is_none());
        let (status, one) = get_json(&app, "/api/queries/since").await;
        assert_eq!(status, 200);
        assert_eq!(one["columns"][0]["name"], "end");
        let (status, body) = get_json(&app, "/api/queries/nosuch").await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
        // A table dropped since the start: listed, with the reason instead of columns.
        exec(&app.db, "DROP TABLE orders").await;
        let (status, list) = get_json(&app, "/api/queries").await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list[0]["columns"], json!([]));
        assert!(list[0]["error"].as_str().unwrap().contains("orders"), "{}", list[0]);
        let (status, body) = get_json(&app, "/api/queries/big_orders/rows?state=paid").await;
        assert_eq!((status, body["error"]["code"].as_str()), (500, Some("database_error")), "{body}");
    }
}

#[tokio::test]
async fn saved_queries_stream_in_every_format_and_mode() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::PostgresFetch] {
        let app = orders_app(backend).await;
        let expected = column_texts(
            &app.db,
            "SELECT CAST(id AS text) FROM orders WHERE total > 100 AND state = 'paid' ORDER BY id",
        )
        .await;
        assert_eq!(expected, ["2", "4"]);
        for mode in ["stream", "buffered"] {
            let (_, body) = app.body(&format!("/api/queries/big_orders/rows?state=paid&mode={mode}")).await;
            let (rows, end) = table_ndjson(&body);
            let ids: Vec<String> = rows.iter().map(|r| r["id"].to_string()).collect();
            assert_eq!(ids, expected, "{backend:?} {mode}");
            assert_eq!(end, Some(EndDetail { rows: 2, cut: false, next: None }));
            assert_eq!(rows[1]["total"], json!(1000), "{body}");
            let (_, body) =
                app.body(&format!("/api/queries/big_orders/rows?state=paid&min_total=0&mode={mode}&format=csv")).await;
            assert_eq!(body, "id,total\n1,50\n2,150\n4,1000\n", "{backend:?}");
            let (_, body) = app.body(&format!("/api/queries/big_orders/rows?state=open&mode={mode}&format=text")).await;
            assert_eq!(body, "3\t250.5\n", "{backend:?}");
            let (_, body) = app.body(&format!("/api/queries/big_orders/rows?state=open&mode={mode}&format=json")).await;
            assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([{"id": 3, "total": 250.5}]));
        }
        // A column named `end`, a ':name' inside a literal, a trailing comment and `;`.
        let (_, body) = app.body("/api/queries/since/rows?first=4").await;
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines[0], r#"{"\u0065nd":"paid","id":4,"literal":":not_a_param"}"#);
        let (rows, end) = table_ndjson(&body);
        assert_eq!((rows.len(), end.unwrap().rows), (2, 2));
        // limit cuts and says so, with no token: a query has no key to resume after.
        let (headers, body) = app.body("/api/queries/since/rows?first=1&limit=2").await;
        assert_eq!(table_ndjson(&body).1, Some(EndDetail { rows: 2, cut: true, next: None }));
        assert!(headers.get("rowstream-next").is_none());
        let (_, body) = app.body("/api/queries/since/rows?first=1&limit=5").await;
        assert_eq!(table_ndjson(&body).1, Some(EndDetail { rows: 5, cut: false, next: None }));
        let (_, body) = app.body("/api/queries/since/rows?first=1&limit=0").await;
        assert_eq!(table_ndjson(&body).1, Some(EndDetail { rows: 0, cut: true, next: None }));
        // Accept picks the format, as for tables.
        let response = app.get("/api/queries/since/rows?first=5").header("Accept", "text/csv").send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "end,id,literal\npaid,5,:not_a_param\n");
    }
}

#[tokio::test]
async fn bad_or_missing_parameters_are_400s_naming_them() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = orders_app(backend).await;
        for (path, parameter) in [
            ("/api/queries/big_orders/rows", "state"),
            ("/api/queries/big_orders/rows?state=paid&min_total=abc", "min_total"),
            ("/api/queries/big_orders/rows?state=paid&min_total=", "min_total"),
            ("/api/queries/big_orders/rows?state=paid&nosuch=1", "nosuch"),
            ("/api/queries/big_orders/rows?state=paid&state=open", "state"),
            ("/api/queries/big_orders/rows?state=paid&after=x", "after"),
            ("/api/queries/big_orders/rows?state=paid&order=id", "order"),
            ("/api/queries/big_orders/rows?state=paid&limit=-1", "limit"),
            ("/api/queries/big_orders/rows?state=paid&format=xml", "format"),
            ("/api/queries/since/rows?first=1.5", "first"),
            ("/api/queries/since/rows?first='; drop table orders; --", "first"),
        ] {
            assert_bad(&app, path, parameter).await;
        }
        if backend == Backend::Postgres {
            // Checked by PostgreSQL itself, before the query runs.
            assert_bad(&app, "/api/queries/big_orders/rows?state=paid&min_total=1.2.3", "min_total").await;
        }
        let (_, body) = get_json(&app, "/api/queries/big_orders/rows?state=paid&after=x").await;
        assert!(body["error"]["message"].as_str().unwrap().contains("no key to resume"), "{body}");
        let (_, body) = get_json(&app, "/api/queries/big_orders/rows").await;
        assert!(body["error"]["message"].as_str().unwrap().contains("big_orders"), "{body}");
        let (status, body) = get_json(&app, "/api/queries/nosuch/rows").await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
        assert_eq!(column_texts(&app.db, "SELECT CAST(count(*) AS text) FROM orders").await, ["5"], "still there");
        let response = app.client.get(app.url("/api/queries")).send().await.unwrap();
        assert_eq!(response.status(), 401, "no token, no queries");
    }
}

#[tokio::test]
async fn a_query_the_database_does_not_take_stops_the_start_naming_it() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        let mut config = db.config();
        config.queries =
            vec![SavedQueryDef::new("ghost", "select * from no_such_table", &[], dialect(backend)).unwrap()];
        let error = match rowstream::startup::Application::build(config).await {
            Ok(_) => panic!("{backend:?}: a query over a missing table must stop the start"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains("saved query \"ghost\"") && error.contains("no_such_table"), "{error}");
    }
}

#[tokio::test]
async fn a_saved_query_reads_every_type_as_its_table_does() {
    let db = TestDb::new(Backend::Postgres).await;
    exec(&db, PG_ALL_TYPES).await;
    let query = SavedQueryDef::new("all", "select * from all_types order by id", &[], Dialect::Postgres).unwrap();
    let app = spawn_app_on(db, |c| c.queries = vec![query]).await;
    let (_, list) = get_json(&app, "/api/queries/all").await;
    let (_, table) = get_json(&app, "/api/tables/all_types").await;
    let types = |columns: &Value| -> Vec<Value> {
        columns.as_array().unwrap().iter().map(|c| json!([c["name"], c["type"]])).collect()
    };
    assert_eq!(types(&list["columns"]), types(&table["columns"]), "the same type mapping");
    for format in ["ndjson", "csv", "json", "text"] {
        let (_, from_query) = app.body(&format!("/api/queries/all/rows?format={format}")).await;
        let (_, from_table) = app.body(&format!("/api/tables/all_types/rows?format={format}")).await;
        assert_eq!(from_query, from_table, "{format}");
    }
}

#[tokio::test]
async fn saved_query_streams_keep_the_streaming_guarantees() {
    let db = TestDb::new(Backend::Postgres).await;
    let query = SavedQueryDef::new(
        "series",
        "select i, md5(i::text) as t from generate_series(1, :n) i",
        &[spec("n", "int8", None)],
        Dialect::Postgres,
    )
    .unwrap();
    let app = spawn_app_on(db, |c| c.queries = vec![query]).await;
    let schema = app.db.schema.clone().unwrap();
    let busy = || async {
        let mut pg = sqlx::PgConnection::connect(&postgres_base_url()).await.unwrap();
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'",
        )
        .bind(&schema)
        .fetch_one(&mut pg)
        .await
        .unwrap()
    };
    // A client that stops reading holds the query back; leaving stops it.
    let mut raw = app.raw("/api/queries/series/rows?n=2000000", Some(4096)).await;
    assert_eq!(raw.status, 200);
    assert!(matches!(raw.next_chunk().await, ChunkEvent::Chunk(_)));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.metric("rowstream_rows_read_total").await < 1_000_000, "backpressure reaches the query");
    drop(raw);
    let stopped = eventually(std::time::Duration::from_secs(5), std::time::Duration::from_millis(50), || async {
        busy().await == 0
    })
    .await;
    assert!(stopped, "the query must stop when the client goes away");
    // A failure after the status line: an error frame and an abort, never a trailer.
    let mut raw = app.raw("/api/queries/series/rows?n=2000000", Some(4096)).await;
    assert!(matches!(raw.next_chunk().await, ChunkEvent::Chunk(_)));
    terminate_busy_backends(&app).await;
    let (rest, complete) = raw.chunks().await;
    assert!(!complete, "an aborted stream must not end with the terminating chunk");
    let body = String::from_utf8_lossy(&rest.concat()).into_owned();
    assert!(body.lines().last().unwrap_or("").starts_with("{\"error\":"), "{}", body.lines().last().unwrap_or(""));
    assert!(!body.contains("{\"end\""));
}
