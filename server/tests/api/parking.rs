//! `--park-after`: a `/api/messages` stream whose client stalls gives its connection back
//! and resumes after its last row; what the client gets is exactly what it would have got
//! without the pause. On every backend, in NDJSON and Arrow, with `limit` and `after`.

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

#[tokio::test]
async fn a_stalled_stream_parks_and_resumes_exactly_where_it_stopped() {
    for backend in ALL_BACKENDS {
        let db = TestDb::new(backend).await;
        db.seed(60_000).await;
        let app = spawn_app_on(db, |config| {
            config.park_after = Duration::from_millis(50);
            config.pool_size = 2;
        })
        .await;

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
