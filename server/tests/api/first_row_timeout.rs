//! `--first-row-timeout`: a query whose first row does not come in time is stopped (its
//! backend is gone from `pg_stat_activity` within a second or two) and answered with a 504
//! `query_timeout`; the pool serves the next request; a slow reader is never cut by it.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::tables::{busy_backends, exec, get_json};

const SETUP: &str = "CREATE VIEW slow AS SELECT 1 AS id FROM pg_sleep(5);
     CREATE TABLE quick (id int PRIMARY KEY); INSERT INTO quick SELECT generate_series(1, 3);
     CREATE TABLE big AS SELECT i::int8 AS id, md5(i::text) AS t FROM generate_series(1, 200000) i;
     ALTER TABLE big ADD PRIMARY KEY (id);";

#[tokio::test]
async fn a_query_without_a_first_row_in_time_is_stopped_with_a_504() {
    let db = TestDb::new(Backend::Postgres).await;
    exec(&db, SETUP).await;
    let app = spawn_app_on(db, |c| {
        c.first_row_timeout = Duration::from_millis(500);
        c.pool_size = 2;
    })
    .await;
    for mode in ["stream", "buffered"] {
        for format in ["ndjson", "arrow"] {
            let started = Instant::now();
            let (status, body) = get_json(&app, &format!("/api/tables/slow/rows?mode={mode}&format={format}")).await;
            let took = started.elapsed();
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (504, Some("query_timeout")),
                "{mode} {format}: {body}"
            );
            assert!(took >= Duration::from_millis(500) && took < Duration::from_millis(2000), "{took:?}");
            // The backend stops: nothing of ours runs any more within two seconds.
            let answered = Instant::now();
            let stopped = eventually(Duration::from_secs(2), Duration::from_millis(20), || async {
                busy_backends(&app.db).await == 0
            })
            .await;
            assert!(stopped, "{mode} {format}: the sleeping query must be stopped, not left running");
            eprintln!("{mode} {format}: 504 after {took:?}; backend gone {:?} later", answered.elapsed());
            // The pool (two connections, both used by now) serves the next request.
            let (status, body) = get_json(&app, "/api/tables/quick/rows?format=json").await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body.as_array().map(Vec::len), Some(3));
        }
    }
    assert_eq!(app.metric("rowstream_streams_active").await, 0);
}

#[tokio::test]
async fn a_slow_reader_is_never_cut_by_it() {
    let db = TestDb::new(Backend::Postgres).await;
    exec(&db, SETUP).await;
    let app = spawn_app_on(db, |c| c.first_row_timeout = Duration::from_millis(200)).await;
    let mut raw = app.raw("/api/tables/big/rows?select=id", Some(4096)).await;
    assert_eq!(raw.status, 200);
    let mut rows = 0;
    let mut chunks = 0;
    let started = Instant::now();
    loop {
        match raw.next_chunk().await {
            ChunkEvent::Chunk(chunk) => {
                rows += chunk.iter().filter(|b| **b == b'\n').count();
                chunks += 1;
                // Read slowly: well past the timeout, several times.
                if chunks <= 4 {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
            }
            ChunkEvent::End => break,
            ChunkEvent::Aborted => panic!("a slow reader was cut after {rows} lines"),
        }
    }
    assert!(started.elapsed() > Duration::from_millis(1600));
    assert_eq!(rows, 200_001, "every row and the trailer");
}

#[tokio::test]
async fn a_sqlite_statement_without_a_first_row_in_time_is_interrupted() {
    let db = TestDb::new(Backend::Sqlite).await;
    // Counts to a billion (minutes of work) and never yields a row.
    exec(
        &db,
        "CREATE VIEW slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000)
             SELECT x AS id FROM c WHERE x < 0;
         CREATE TABLE quick (id INTEGER PRIMARY KEY); INSERT INTO quick VALUES (1), (2), (3);",
    )
    .await;
    let app = spawn_app_on(db, |c| {
        c.first_row_timeout = Duration::from_millis(300);
        c.pool_size = 1;
    })
    .await;
    for format in ["ndjson", "csv"] {
        let started = Instant::now();
        let (status, body) = get_json(&app, &format!("/api/tables/slow/rows?format={format}")).await;
        let took = started.elapsed();
        assert_eq!((status, body["error"]["code"].as_str()), (504, Some("query_timeout")), "{format}: {body}");
        assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(2000), "{took:?}");
        // The statement stops (its thread ends) instead of counting on.
        let stopped = eventually(Duration::from_secs(2), Duration::from_millis(10), || async {
            app.metric("rowstream_sqlite_statements_running").await == 0
        })
        .await;
        assert!(stopped, "{format}: the counting statement must be interrupted, not left running");
        eprintln!("{format}: 504 after {took:?}; statement stopped {:?} later", started.elapsed() - took);
        // The pool (one connection) serves the next request.
        let (status, body) = get_json(&app, "/api/tables/quick/rows?format=json").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body.as_array().map(Vec::len), Some(3));
    }
    assert_eq!(app.metric("rowstream_streams_active").await, 0);
}
