//! `--park-after`: a `/api/messages` or relation stream whose client stalls gives its
//! connection back and resumes after its last row; what the client gets is exactly what it
//! would have got without the pause. On every backend, in NDJSON and Arrow, with `limit` and `after`.

use std::time::Duration;

use crate::helpers::*;

/// Reads `path` with a small receive buffer, stalling `pauses` times for 300 ms.
async fn read_with_pauses(app: &TestApp, path: &str, pauses: usize) -> (Vec<u8>, bool) {
    let mut response = app.raw(path, Some(4096)).await;
    assert_eq!(response.status, 200, "{path}");
    let mut body = Vec::new();
    let mut chunks = 0usize;
    loop {
        match response.next_chunk().await {
            ChunkEvent::Chunk(chunk) => {
                body.extend_from_slice(&chunk);
                chunks += 1;
                if chunks <= pauses * 20 && chunks % 20 == 1 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
            ChunkEvent::End => return (body, true),
            ChunkEvent::Aborted => return (body, false),
        }
    }
}

/// 60,000 `messages` on `backend`, parking after 50 ms, a pool of 2.
async fn parking_app(backend: Backend) -> TestApp {
    let db = TestDb::new(backend).await;
    db.seed(60_000).await;
    spawn_app_on(db, |config| {
        config.park_after = Duration::from_millis(50);
        config.pool_size = 2;
    })
    .await
}

#[tokio::test]
async fn a_stalled_stream_parks_and_resumes_exactly_where_it_stopped() {
    for backend in ALL_BACKENDS {
        let app = parking_app(backend).await;

        let (body, complete) = read_with_pauses(&app, "/api/messages?batch=500", 3).await;
        assert!(complete, "{backend:?}: the stream did not end cleanly");
        let (rows, count, error) = parse_ndjson(std::str::from_utf8(&body).expect("UTF-8"));
        assert!(error.is_none(), "{backend:?}: {error:?}");
        assert_eq!(count, Some(60_000), "{backend:?}");
        assert_eq!(rows, expected_rows(1..=60_000), "{backend:?}: rows lost, repeated or out of order");
        let parks = app.metric("rowstream_streams_parked_total").await;
        assert!(parks >= 2, "{backend:?}: {parks} parks");

        // `after` and `limit` across parks: the trailer still says cut, with the right `next`.
        let (body, complete) = read_with_pauses(&app, "/api/messages?after=100&limit=30000&batch=500", 2).await;
        assert!(complete);
        let (rows, count, _) = parse_ndjson(std::str::from_utf8(&body).expect("UTF-8"));
        assert_eq!(count, Some(30_000));
        assert_eq!(rows, expected_rows(101..=30_100), "{backend:?}");
        let trailer = String::from_utf8_lossy(&body).lines().last().unwrap_or_default().to_owned();
        assert!(trailer.contains("\"cut\":true") && trailer.contains("\"next\":\"30100\""), "{backend:?}: {trailer}");

        // Parked streams hold no connection: with a pool of 2, three stalled streams and a
        // fourth request all get through.
        let mut stalled = Vec::new();
        for _ in 0..3 {
            let response = app.raw("/api/messages", Some(4096)).await;
            assert_eq!(response.status, 200);
            stalled.push(response);
            tokio::time::sleep(Duration::from_millis(150)).await; // it fills its socket, then parks
        }
        let started = std::time::Instant::now();
        let (_, body) = app.body("/api/messages?limit=5").await;
        assert_eq!(parse_ndjson(&body).1, Some(5));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{backend:?}: waited {:?} for a connection",
            started.elapsed()
        );
        drop(stalled);
        drop(app);
    }
}

#[tokio::test]
async fn with_park_after_zero_a_stalled_stream_keeps_its_connection() {
    let db = TestDb::new(Backend::Postgres).await;
    db.seed(60_000).await;
    let app = spawn_app_on(db, |config| config.park_after = Duration::ZERO).await;
    let (body, complete) = read_with_pauses(&app, "/api/messages?batch=500", 2).await;
    assert!(complete);
    assert_eq!(parse_ndjson(std::str::from_utf8(&body).expect("UTF-8")).1, Some(60_000));
    assert_eq!(app.metric("rowstream_streams_parked_total").await, 0);
}

/// A relation's stream parks the same way, and resumes by its sort keys: `order=id.desc`
/// (a token, not a plain id) with `limit`, across parks, then its `next` continues exactly.
#[tokio::test]
async fn a_stalled_relation_stream_parks_and_resumes_in_its_order() {
    for backend in ALL_BACKENDS {
        let app = parking_app(backend).await;
        let path = "/api/tables/messages/rows?order=id.desc&limit=50000&batch=500";
        let (body, complete) = read_with_pauses(&app, path, 3).await;
        assert!(complete, "{backend:?}: the stream did not end cleanly");
        let text = std::str::from_utf8(&body).expect("UTF-8");
        let (rows, count, error) = parse_ndjson(text);
        assert!(error.is_none(), "{backend:?}: {error:?}");
        assert_eq!(count, Some(50_000), "{backend:?}");
        let expected: Vec<_> = expected_rows(1..=60_000).into_iter().rev().collect();
        assert_eq!(rows, expected[..50_000], "{backend:?}: rows lost, repeated or out of order");
        assert!(app.metric("rowstream_streams_parked_total").await >= 2, "{backend:?}: no parks");

        let trailer: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap();
        assert_eq!(trailer["end"]["cut"], true, "{backend:?}: {trailer}");
        let next = trailer["end"]["next"].as_str().expect("a next token").to_owned();
        let (_, rest) = app.body(&format!("/api/tables/messages/rows?order=id.desc&after={next}")).await;
        assert_eq!(parse_ndjson(&rest).0, expected[50_000..], "{backend:?}: the next token resumes exactly");

        // The default order of an integer key resumes by the plain id, as `/api/messages`
        // always did (it is this relation's rows).
        let (_, body) = app.body("/api/tables/messages/rows?limit=3&after=10").await;
        assert!(body.ends_with("{\"end\":{\"rows\":3,\"cut\":true,\"next\":\"13\"}}\n"), "{backend:?}: {body}");
        assert_eq!(app.body("/api/messages?limit=3&after=10").await.1, body, "{backend:?}");
    }
}
