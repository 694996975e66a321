//! `GET /hit`: Redis `INCR` against the real Redis (a key per test), the embedded
//! fallback (survives a restart), PostgreSQL without Redis (memory, nothing written), and a
//! Redis of the test's own that is missing at start, killed and restarted: 503 with
//! `Retry-After` while it is down, recovery without a restart, no acknowledged hit lost.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rowstream::config::Config;
use rowstream::startup::Application;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::helpers::*;

const REAL_REDIS: &str = "redis://127.0.0.1:6379/";

fn test_key() -> String {
    format!("rowstream:test:hit:{}:{}", std::process::id(), rand::random::<u64>())
}

/// A server of the test's own (not `TestApp`, so that it can be stopped, awaited and started
/// again on the same database).
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(config: Config) -> Server {
        let app = Application::build(config).await.expect("build");
        let addr = app.local_addr();
        let (stop, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Server { addr, stop: Some(stop), done }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.done).await.expect("join").expect("serve");
    }

    /// (status, hit or error code, Retry-After)
    async fn hit(&self) -> (u16, Value, Option<String>) {
        let response = reqwest::get(format!("http://{}/hit", self.addr)).await.expect("request");
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.expect("JSON");
        (status, body, retry_after)
    }

    async fn count(&self) -> u64 {
        let (status, body, _) = self.hit().await;
        assert_eq!(status, 200, "{body}");
        body["hit"].as_u64().expect("hit")
    }
}

async fn redis_get(url: &str, key: &str) -> Option<u64> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.expect("redis");
    redis::cmd("GET").arg(key).query_async(&mut connection).await.expect("GET")
}

async fn redis_del(url: &str, key: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.expect("redis");
    let _: u64 = redis::cmd("DEL").arg(key).query_async(&mut connection).await.expect("DEL");
}

#[tokio::test]
async fn hits_count_in_redis_with_incr() {
    let db = TestDb::new(Backend::Sqlite).await;
    let key = test_key();
    let mut config = db.config();
    config.hits.redis_url = Some(REAL_REDIS.into());
    config.hits.key = key.clone();
    let server = Server::start(config).await;
    let response = reqwest::get(format!("http://{}/hit", server.addr)).await.unwrap();
    assert_eq!(response.status(), 200, "no token needed");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(response.json::<Value>().await.unwrap(), serde_json::json!({"hit": 1}));
    let hits = futures_util::future::join_all((0..50).map(|_| server.count())).await;
    let mut sorted = hits.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (2..=51).collect::<Vec<u64>>(), "every concurrent hit got its own number");
    assert_eq!(redis_get(REAL_REDIS, &key).await, Some(51));
    server.stop().await;
    redis_del(REAL_REDIS, &key).await;
}

#[tokio::test]
async fn without_redis_hits_count_in_the_embedded_database_across_restarts() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(db.config()).await;
    assert_eq!((server.count().await, server.count().await, server.count().await), (1, 2, 3));
    server.stop().await;
    let server = Server::start(db.config()).await;
    assert_eq!(server.count().await, 4, "the count survives a restart");
    server.stop().await;
}

#[tokio::test]
async fn postgres_without_redis_counts_in_memory_and_writes_nothing() {
    let db = TestDb::new(Backend::Postgres).await;
    db.seed(3).await;
    let server = Server::start(db.config()).await;
    assert_eq!((server.count().await, server.count().await), (1, 2));
    server.stop().await;
    let mut pg = db.pg().await;
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = '_rowstream_hits'")
            .bind(db.schema.clone().unwrap())
            .fetch_one(&mut pg)
            .await
            .unwrap();
    assert_eq!(tables, 0);
}

/// A `redis-server` of this test's own, persisting every write before acknowledging it.
struct OwnRedis {
    child: Child,
}

impl OwnRedis {
    fn start(port: u16, dir: &Path) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        OwnRedis { child }
    }

    async fn wait_ready(port: u16) {
        let up = eventually(Duration::from_secs(10), Duration::from_millis(50), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
        assert!(up, "redis-server did not start on {port}");
    }

    /// SIGKILL: no shutdown save; only what was fsynced survives.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn redis_missing_at_start_then_killed_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let db = TestDb::new(Backend::Sqlite).await;
    let mut config = db.config();
    config.hits.redis_url = Some(url.clone());
    let server = Server::start(config).await;

    // No Redis yet: the server is up, /hit says 503 and when to retry.
    let (status, body, retry_after) = server.hit().await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("redis_unavailable")), "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(reqwest::get(format!("http://{}/hello", server.addr)).await.unwrap().status(), 200);

    // Redis comes up: /hit recovers by itself.
    let redis = OwnRedis::start(port, dir.path());
    OwnRedis::wait_ready(port).await;
    assert!(
        eventually(Duration::from_secs(10), Duration::from_millis(100), || async { server.hit().await.0 == 200 }).await
    );
    let mut acknowledged = 1;
    for _ in 0..20 {
        let n = server.count().await;
        assert!(n > acknowledged);
        acknowledged = n;
    }

    // Killed while running: 503 with Retry-After, no panic.
    redis.kill();
    let (status, body, retry_after) = server.hit().await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("redis_unavailable")), "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));

    // Back on the same port and data: the next hit continues right after the last
    // acknowledged one (nothing lost, nothing counted twice).
    let _redis = OwnRedis::start(port, dir.path());
    OwnRedis::wait_ready(port).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let next = loop {
        let (status, body, _) = server.hit().await;
        if status == 200 {
            break body["hit"].as_u64();
        }
        assert!(std::time::Instant::now() < deadline, "/hit did not recover after Redis came back: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(next, Some(acknowledged + 1), "acknowledged hits survived; failed ones were not counted");
    server.stop().await;
}
