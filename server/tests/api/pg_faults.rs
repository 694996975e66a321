//! Faults, database side, on a PostgreSQL cluster of the test's own (`initdb` in a temp dir,
//! run as the `postgres` user, on a free port; stopped on drop):
//! - restarted (`pg_ctl restart -m fast`) in the middle of 10 streams: every client sees an
//!   error frame or an aborted body, never a clean end; `/healthz` says 503 while it is down;
//!   within 5 s of it being back, new streams succeed, with no server restart;
//! - unreachable at start: `serve` exits non-zero with one clear line.

use std::os::unix::fs::chown;
use std::process::Command;
use std::time::{Duration, Instant};

use rowstream::config::Config;
use rowstream::startup::Application;

use crate::helpers::*;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A throwaway PostgreSQL cluster; stopped (immediate) and removed on drop.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

fn as_postgres(program: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--", &format!("{PG_BIN}/{program}")])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let uid = id("-u");
        let gid = id("-g");
        chown(dir.path(), Some(uid), Some(gid)).expect("chown the cluster dir to postgres");
        let cluster = Cluster { dir, port: free_port() };
        let data = cluster.data();
        let init = as_postgres("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        cluster.pg_ctl(&["start"]);
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg_ctl(&self, command: &[&str]) {
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        let (data, log) = (self.data(), self.dir.path().join("log").display().to_string());
        let mut args = vec!["-D", data.as_str(), "-l", log.as_str(), "-w", "-o", options.as_str()];
        args.extend_from_slice(command);
        let out = as_postgres("pg_ctl", &args);
        assert!(out.status.success(), "pg_ctl {command:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

fn id(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().expect("id postgres");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_mid_stream_cuts_every_stream_then_recovers() {
    let cluster = Cluster::start();
    let config = Config {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: cluster.url(),
        jwt_secret: Some(SECRET.into()),
        seed_rows: 0,
        acquire_timeout: Duration::from_secs(2),
        // The 10 held streams keep their connections until their clients read on (their
        // queries' failure is only seen then): 10 more for the new streams.
        pool_size: 20,
        // The held streams keep their queries (a parked stream would have given its
        // connection back and would resume on the restarted server instead).
        park_after: Duration::ZERO,
        ..Config::default()
    };
    let db = rowstream::db::Database::connect(&config.db_settings()).expect("connect");
    db.migrate().await.expect("migrate");
    rowstream::seed::seed(&db, 200_000).await.expect("seed");
    db.close().await;
    let app = Application::build(config).await.expect("build");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let token = rowstream::auth::JwtKeys::new(SECRET.as_bytes()).issue("t", Duration::from_secs(600)).expect("token");
    let client = reqwest::Client::new();

    // 10 streams, each past its first chunk, then held (small receive buffer: backpressure).
    let mut streams = Vec::new();
    for _ in 0..10 {
        let mut raw = raw_get(addr, "/api/messages?batch=1000", &token, Some(4096)).await;
        assert_eq!(raw.status, 200);
        assert!(matches!(raw.next_chunk().await, ChunkEvent::Chunk(_)));
        streams.push(raw);
    }
    let restarted = Instant::now();
    let data = cluster.data();
    let (dir, port) = (cluster.dir.path().to_path_buf(), cluster.port);
    // Stop, check /healthz says so, start again: a `restart -m fast` with a look in between.
    tokio::task::spawn_blocking(move || restart_half(&data, &dir, port, "stop")).await.unwrap();
    let health = client.get(format!("http://{addr}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503, "/healthz with PostgreSQL down");
    assert!(health.headers().get("retry-after").is_some());
    let body: shared::ErrorBody = health.json().await.unwrap();
    assert_eq!(body.error.code, shared::ErrorCode::DatabaseUnavailable);
    cluster.pg_ctl(&["start"]);
    let back = Instant::now();

    // Within 5 s of PostgreSQL being back: new complete streams, same server.
    let recovered = eventually(Duration::from_secs(5), Duration::from_millis(100), || {
        let request = client.get(format!("http://{addr}/api/messages?limit=1000")).bearer_auth(&token).send();
        async move {
            let response = request.await;
            match response {
                Ok(r) if r.status() == 200 => {
                    let (rows, end, _) = parse_ndjson(&r.text().await.unwrap_or_default());
                    rows.len() == 1000 && end == Some(1000)
                }
                _ => false,
            }
        }
    })
    .await;
    let recovery = back.elapsed();
    assert!(recovered, "no complete stream within 5 s of PostgreSQL being back");
    // Every held stream: an error frame and/or an aborted body; never the terminating chunk.
    let mut with_error_frame = 0;
    for raw in streams {
        let (chunks, clean_end) =
            tokio::time::timeout(Duration::from_secs(20), raw.chunks()).await.expect("a stream hung");
        assert!(!clean_end, "a stream cut by the restart ended cleanly");
        let body = String::from_utf8_lossy(&chunks.concat()).into_owned();
        assert!(!body.contains("\"end\""), "a trailer after the restart");
        if body.contains("\"error\"") {
            with_error_frame += 1;
        }
    }

    // Every connection of the pool works again: 20 streams in a row complete.
    for _ in 0..20 {
        let r = client.get(format!("http://{addr}/api/messages?limit=500")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let (_, end, _) = parse_ndjson(&r.text().await.unwrap());
        assert_eq!(end, Some(500));
    }
    assert_eq!(client.get(format!("http://{addr}/healthz")).send().await.unwrap().status(), 200);
    eprintln!(
        "pg restart: 10 streams cut ({with_error_frame} with an error frame); down for {:?}; recovered {recovery:?} after PostgreSQL was back",
        back - restarted
    );
    let _ = stop.send(());
}

fn restart_half(data: &str, dir: &std::path::Path, port: u16, command: &str) {
    let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.display());
    let out = as_postgres("pg_ctl", &["-D", data, "-w", "-m", "fast", "-o", &options, command]);
    assert!(out.status.success(), "pg_ctl {command}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn postgres_unreachable_at_start_exits_with_one_clear_line() {
    let url = format!("postgres://postgres@127.0.0.1:{}/test", free_port());
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_rowstream"))
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &url, "--jwt-secret", SECRET])
        .args(["--acquire-timeout", "1s"])
        .env("RUST_LOG", "off")
        .output()
        .expect("run rowstream");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("rowstream: cannot open the database"), "{stderr}");
    assert!(lines[0].ends_with("Connection refused (os error 111)"), "the cause, once: {stderr}");
    eprintln!("unreachable at start: exit {:?} after {:?}: {}", output.status.code(), started.elapsed(), lines[0]);
}
