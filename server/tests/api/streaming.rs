//! How the stream behaves under load and failure: backpressure, client disconnects, a
//! database that dies mid-stream, an exhausted pool.

use std::time::Duration;

use sqlx::Connection as _;

use crate::helpers::*;

async fn running_queries(db: &TestDb) -> i64 {
    let schema = db.schema.clone().expect("postgres");
    let mut pg = sqlx::PgConnection::connect(&postgres_base_url()).await.expect("connect");
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query ILIKE '%messages%'",
    )
    .bind(schema)
    .fetch_one(&mut pg)
    .await
    .expect("pg_stat_activity")
}

#[tokio::test]
async fn the_first_chunk_arrives_before_the_last_row_is_read() {
    for backend in ALL_BACKENDS {
        let app = spawn_app(backend, 400_000).await;
        // 400k seed lines are ~7 MB, 100k NDJSON rows ~14 MB: more than socket buffers hold.
        for (path, total) in [("/api/messages?limit=100000", 100_000), ("/chunked", 400_000)] {
            let before = app.metric("rowstream_rows_read_total").await;
            let mut raw = app.raw(path, Some(4096)).await;
            let ChunkEvent::Chunk(first) = raw.next_chunk().await else { panic!("no first chunk") };
            assert!(
                first.ends_with(b"\n") && first.iter().filter(|b| **b == b'\n').count() == 1,
                "first chunk is the first row alone"
            );
            // Not reading: the socket buffers fill and the server must stop reading rows.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let read = app.metric("rowstream_rows_read_total").await - before;
            assert!(read < total, "{backend:?} {path}: {read} rows read while the client read one chunk");
            eprintln!("{backend:?} {path}: {read} of {total} rows read while the client paused");
            let (rest, complete) = raw.chunks().await;
            assert!(complete && rest.len() > 10, "{backend:?} {path}: several chunks, complete");
        }
    }
}

#[tokio::test]
async fn a_client_that_leaves_stops_the_query() {
    let app = spawn_app(Backend::Postgres, 300_000).await;
    let mut raw = app.raw("/api/messages", Some(4096)).await;
    assert!(matches!(raw.next_chunk().await, ChunkEvent::Chunk(_)));
    assert!(
        eventually(Duration::from_secs(5), Duration::from_millis(50), || async { running_queries(&app.db).await == 1 })
            .await,
        "the query runs while the client reads"
    );
    drop(raw);
    assert!(
        eventually(Duration::from_secs(5), Duration::from_millis(50), || async { running_queries(&app.db).await == 0 })
            .await,
        "the query must stop when the client goes away"
    );
    assert!(
        eventually(Duration::from_secs(5), Duration::from_millis(50), || async {
            app.metric("rowstream_streams_cancelled_total").await == 1
        })
        .await
    );
    assert!(app.metric("rowstream_rows_read_total").await < 300_000);
    // The pool recovers: the next request is served in full.
    let (_, body) = app.body("/api/messages?limit=10").await;
    assert_eq!(parse_ndjson(&body).1, Some(10));
}

#[tokio::test]
async fn a_database_failure_mid_stream_never_looks_complete() {
    for backend in [Backend::Postgres, Backend::PostgresFetch] {
        let app = spawn_app(backend, 300_000).await;
        let mut raw = app.raw("/api/messages", Some(4096)).await;
        assert!(matches!(raw.next_chunk().await, ChunkEvent::Chunk(_)));
        // Kill the backend serving this stream, as a failover or an admin would.
        let schema = app.db.schema.clone().unwrap();
        let mut pg = sqlx::PgConnection::connect(&postgres_base_url()).await.unwrap();
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active') t",
        )
        .bind(&schema)
        .fetch_one(&mut pg)
        .await
        .unwrap();
        assert_eq!(killed, 1, "{backend:?}");
        let (rest, complete) = raw.chunks().await;
        assert!(!complete, "{backend:?}: an aborted stream must not end with the terminating chunk");
        let body = String::from_utf8(rest.concat()).unwrap();
        let last = body.lines().last().unwrap_or("");
        assert!(last.starts_with("{\"error\":{\"code\":\"database_error\""), "{backend:?}: last line {last:?}");
        assert!(!body.contains("{\"end\""), "{backend:?}: no trailer on a failed stream");
        assert!(
            eventually(Duration::from_secs(5), Duration::from_millis(50), || async {
                app.metric("rowstream_streams_failed_total").await == 1
            })
            .await
        );
    }
}

#[tokio::test]
async fn an_exhausted_pool_answers_503() {
    let db = TestDb::new(Backend::Postgres).await;
    db.seed(300_000).await;
    let app = spawn_app_on(db, |c| {
        c.pool_size = 1;
        c.acquire_timeout = Duration::from_millis(300);
        c.park_after = Duration::ZERO; // the stalled stream keeps its connection
    })
    .await;
    let mut hog = app.raw("/api/messages", Some(4096)).await;
    assert!(matches!(hog.next_chunk().await, ChunkEvent::Chunk(_)));
    let response = app.get("/api/messages?limit=1").send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: shared::ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, shared::ErrorCode::DatabaseBusy);
    drop(hog);
    assert!(
        eventually(Duration::from_secs(5), Duration::from_millis(50), || async {
            app.get("/api/messages?limit=1").send().await.map(|r| r.status() == 200).unwrap_or(false)
        })
        .await
    );
}
