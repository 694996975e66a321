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
        // Kill the backend serving this stream, as a failover or an admin would: the one
        // reading `messages` (not a pool connection being primed with EXPLAIN, nor a catalog
        // read), once its query runs.
        let schema = app.db.schema.clone().unwrap();
        let killed = eventually(Duration::from_secs(10), Duration::from_millis(20), || async {
            let mut pg = sqlx::PgConnection::connect(&postgres_base_url()).await.unwrap();
            let killed: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND state = 'active' \
                 AND query LIKE '%.\"messages\"%' AND query NOT LIKE 'EXPLAIN%') t",
            )
            .bind(&schema)
            .fetch_one(&mut pg)
            .await
            .unwrap();
            killed == 1
        });
        assert!(killed.await, "{backend:?}: the stream's backend was never seen running");
        let (rest, complete) =
            tokio::time::timeout(Duration::from_secs(60), raw.chunks()).await.expect("the aborted stream ends");
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

/// Rows that the database yields slowly go out as they come, not when `batch` rows have
/// piled up (`body::STALL_FLUSH`): a view that sleeps 0.25 s a row, rows of 20 kB (so that
/// PostgreSQL's own 8 kB send buffer passes each on when the next one is written).
#[tokio::test]
async fn rows_that_come_slowly_are_sent_as_they_come() {
    use std::time::Instant;
    let db = TestDb::new(Backend::Postgres).await;
    crate::tables::exec(
        &db,
        "CREATE VIEW trickle AS SELECT i AS id, repeat('x', 20000) AS pad FROM generate_series(1, 6) i \
         WHERE pg_sleep(0.25 + i * 0)::text = ''",
    )
    .await;
    let app = spawn_app_on(db, |_| {}).await;
    let mut raw = app.raw("/api/tables/trickle/rows?format=ndjson", None).await;
    assert_eq!(raw.status, 200);
    let started = Instant::now();
    let (mut body, mut second_row_at) = (Vec::new(), None);
    let end_at = loop {
        match raw.next_chunk().await {
            ChunkEvent::Chunk(chunk) => {
                body.extend_from_slice(&chunk);
                let rows = body.split(|b| *b == b'\n').filter(|l| l.starts_with(b"{\"id\"")).count();
                if rows >= 2 && second_row_at.is_none() {
                    second_row_at = Some(started.elapsed());
                }
            }
            ChunkEvent::End => break started.elapsed(),
            ChunkEvent::Aborted => panic!("aborted"),
        }
    };
    let text = String::from_utf8(body).expect("utf-8");
    assert!(text.ends_with("{\"end\":{\"rows\":6}}\n"), "complete: {}", &text[text.len().saturating_sub(80)..]);
    let (second, end) = (second_row_at.expect("a second row"), end_at);
    eprintln!("second row after {second:?}, end after {end:?}");
    assert!(end - second >= Duration::from_millis(400), "the second row waited for the end: {second:?} vs {end:?}");
}
