//! Faults, client side: 1,000 streams aborted by their clients at random points (before the
//! head, after the head, mid-batch, near the end) against PostgreSQL. Afterwards, within 1 s:
//! no query of ours is running in `pg_stat_activity`, every pooled connection is idle,
//! `/metrics` counts every started stream as ended (cancelled, or completed when its whole
//! body was already in the kernel's socket buffers, up to ~4 MB on loopback, when the client
//! left: a 20k-row stream is ~2.5 MB), none failed and none active, and a new stream works.
//!
//! `ROWSTREAM_TORTURE_ABORTS` sets the number of aborts (default 500; the long form: 1000).

use std::time::{Duration, Instant};

use rand::Rng;
use rowstream::db::Database;
use rowstream::startup::Application;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

use crate::helpers::*;

const ROWS: u64 = 20_000;
const BATCH: u64 = 500;
const CONCURRENCY: usize = 20;

#[derive(Debug, Clone, Copy)]
enum AbortPoint {
    /// Right after the request is written, before the status line.
    BeforeHead,
    /// After the status line and headers.
    AfterHead,
    /// After this many chunks.
    AfterChunks(usize),
}

async fn aborted_stream(addr: std::net::SocketAddr, token: &str, point: AbortPoint) {
    let path = format!("/api/messages?batch={BATCH}");
    match point {
        AbortPoint::BeforeHead => {
            let socket = TcpSocket::new_v4().expect("socket");
            socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            let mut stream = socket.connect(addr).await.expect("connect");
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
            stream.write_all(request.as_bytes()).await.expect("write");
            // Give the request a moment to reach the handler, then leave.
            let pause = Duration::from_millis(rand::rng().random_range(0..3));
            tokio::time::sleep(pause).await;
        }
        AbortPoint::AfterHead => {
            let raw = raw_get(addr, &path, token, Some(4096)).await;
            assert_eq!(raw.status, 200);
        }
        AbortPoint::AfterChunks(n) => {
            let mut raw = raw_get(addr, &path, token, Some(4096)).await;
            assert_eq!(raw.status, 200);
            for _ in 0..n {
                match raw.next_chunk().await {
                    ChunkEvent::Chunk(_) => {}
                    other => panic!("stream ended early ({other:?}) before the client left"),
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aborted_streams_leave_no_query_running_and_the_pool_idle() {
    let db = TestDb::new(Backend::Postgres).await;
    db.seed(ROWS).await;
    let schema = db.schema.clone().expect("schema");
    let mut config = db.config();
    config.pool_size = 10;
    let app = Application::build(config).await.expect("build");
    let database = app.database().clone();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let token = rowstream::auth::JwtKeys::new(SECRET.as_bytes()).issue("t", Duration::from_secs(600)).expect("token");
    let client = reqwest::Client::new();
    let aborts: usize = std::env::var("ROWSTREAM_TORTURE_ABORTS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let chunks_per_stream = (ROWS / BATCH) as usize; // + the head chunk

    let started = Instant::now();
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    let mut points = [0usize; 4];
    for _ in 0..aborts {
        let point = match rand::rng().random_range(0..4) {
            0 => AbortPoint::BeforeHead,
            1 => AbortPoint::AfterHead,
            2 => AbortPoint::AfterChunks(rand::rng().random_range(1..chunks_per_stream / 2)),
            _ => AbortPoint::AfterChunks(rand::rng().random_range(chunks_per_stream - 6..chunks_per_stream - 2)),
        };
        points[match point {
            AbortPoint::BeforeHead => 0,
            AbortPoint::AfterHead => 1,
            AbortPoint::AfterChunks(n) if n < chunks_per_stream / 2 => 2,
            AbortPoint::AfterChunks(_) => 3,
        }] += 1;
        let permit = semaphore.clone().acquire_owned().await.expect("semaphore");
        let token = token.clone();
        tasks.spawn(async move {
            aborted_stream(addr, &token, point).await;
            drop(permit);
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("abort task");
    }
    let aborting = started.elapsed();
    let clients_gone = Instant::now();

    // Within 1 s: nothing of ours running, every pooled connection idle, no stream active.
    let Database::Postgres(pool, _) = &database else { panic!("PostgreSQL expected") };
    let pg = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&db.url).await.expect("connect");
    let settled = eventually(Duration::from_secs(1), Duration::from_millis(20), || {
        let pool = pool.clone();
        let schema = schema.clone();
        let client = client.clone();
        let pg = pg.clone();
        async move {
            let running: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle' \
                 AND pid <> pg_backend_pid()",
            )
            .bind(&schema)
            .fetch_one(&pg)
            .await
            .expect("pg_stat_activity");
            let metrics = client.get(format!("http://{addr}/metrics")).send().await.expect("metrics");
            let text = metrics.text().await.expect("text");
            running == 0 && pool.num_idle() == pool.size() as usize && text.contains("rowstream_streams_active 0\n")
        }
    })
    .await;
    let settle_time = clients_gone.elapsed();
    assert!(settled, "after {settle_time:?}: queries still running, connections busy or streams active");

    let metric = |text: &str, name: &str| -> u64 {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).expect(name)
    };
    let text = client.get(format!("http://{addr}/metrics")).send().await.unwrap().text().await.unwrap();
    let started_n = metric(&text, "rowstream_streams_started_total");
    let cancelled = metric(&text, "rowstream_streams_cancelled_total");
    let completed = metric(&text, "rowstream_streams_completed_total");
    let failed = metric(&text, "rowstream_streams_failed_total");
    eprintln!(
        "aborts: {aborts} (before head {}, after head {}, mid {}, near end {}) in {aborting:?}; \
         started {started_n}, cancelled {cancelled}, completed {completed}, failed {failed}; \
         settled in {settle_time:?}; pool size {} idle {}",
        points[0],
        points[1],
        points[2],
        points[3],
        pool.size(),
        pool.num_idle()
    );
    assert_eq!(failed, 0);
    assert_eq!(started_n, cancelled + completed, "every stream ended one way or the other");
    assert!(cancelled > 0 && started_n > (points[1] + points[2] + points[3]) as u64 / 2, "started {started_n}");

    // A new stream works, completely.
    let body = client
        .get(format!("http://{addr}/api/messages?limit=5000"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (rows, end, error) = parse_ndjson(&body);
    assert_eq!((rows.len(), end, error), (5000, Some(5000), None));
    let _ = stop.send(());
}
