//! Workers and graceful shutdown, on a real `rowstream serve` process: SIGTERM in the middle
//! of a big stream read by a slow client and of a short request. The short request
//! completes, new connections are refused, the stream is cut after `--shutdown-grace`
//! (no trailer, no terminating chunk: never a clean end), and the process exits 0. An idle
//! server exits 0 on SIGINT, and runs the `--workers` it was given.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::demo2::delayed_upstream;
use crate::helpers::*;

/// A `rowstream serve` process; killed (SIGKILL) on drop if still running.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    async fn serve(db: &TestDb, extra: &[&str]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rowstream"))
            .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &db.url, "--jwt-secret", SECRET])
            .args(["--seed-rows", "0", "--dist", "/nonexistent-dist"])
            .args(extra)
            .env("RUST_LOG", "rowstream=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rowstream");
        let stderr = child.stderr.take().expect("stderr");
        // A thread echoes (and drains) the log, and reports the address from the banner.
        let (tx, rx) = tokio::sync::oneshot::channel::<SocketAddr>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[rowstream] {line}");
                if let Some((_, addr)) = line.split_once(" on http://") {
                    if let (Some(tx), Ok(addr)) = (tx.take(), addr.trim().parse()) {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .expect("rowstream did not start in 30 s")
            .expect("rowstream exited before serving");
        Process { child, addr }
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the PID of the child this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill");
    }

    async fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "rowstream did not exit within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn sigterm_finishes_short_requests_cuts_streams_after_the_grace_and_exits_0() {
    let db = TestDb::new(Backend::Sqlite).await;
    db.seed(200_000).await; // ~28 MB of NDJSON: far more than the socket buffers hold
    let upstream = delayed_upstream(Duration::from_millis(600)).await;
    let upstream_url = format!("http://{upstream}/");
    let mut server =
        Process::serve(&db, &["--shutdown-grace", "1s", "--upstream-url", &upstream_url, "--workers", "2"]).await;
    let token = rowstream::auth::JwtKeys::new(SECRET.as_bytes()).issue("tester", Duration::from_secs(600)).unwrap();

    // A slow reader: takes the head and the first row, then stops reading.
    let mut stream = raw_get(server.addr, "/api/messages", &token, Some(4096)).await;
    assert_eq!(stream.status, 200);
    assert!(matches!(stream.next_chunk().await, ChunkEvent::Chunk(_)));

    // A short request in flight when the signal comes (its upstream takes 600 ms).
    let client = reqwest::Client::new();
    let short = tokio::spawn({
        let request = client.post(format!("http://{}/demo2", server.addr)).bearer_auth(&token).send();
        async move {
            let response = request.await.expect("the request in flight must be answered");
            (response.status().as_u16(), response.text().await.unwrap_or_default())
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);

    // New connections are refused once the listener is closed.
    let refused = eventually(Duration::from_secs(2), Duration::from_millis(20), || async {
        tokio::net::TcpStream::connect(server.addr).await.is_err()
    })
    .await;
    assert!(refused, "still accepting after SIGTERM");

    assert_eq!(short.await.unwrap(), (200, "welcome (upstream: 200)".to_owned()), "the short request completes");

    // Read the stream only once the grace (1 s) is over: by then it must have been cut.
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(signalled.elapsed())).await;
    let (chunks, complete) = stream.chunks().await;
    assert!(!complete, "the stream must not end cleanly after a shutdown cut");
    let body: Vec<u8> = chunks.concat();
    assert!(!String::from_utf8_lossy(&body).contains("{\"end\""), "no trailer in a cut stream");

    let status = server.wait(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?} with a 1 s grace");
}

#[tokio::test]
async fn an_idle_server_exits_0_on_sigint() {
    let db = TestDb::new(Backend::Sqlite).await;
    db.seed(10).await;
    let mut server = Process::serve(&db, &["--workers", "3"]).await;
    assert_eq!(
        reqwest::get(format!("http://{}/hello", server.addr)).await.unwrap().text().await.unwrap(),
        "Hello, world!"
    );
    // --workers 3: three runtime worker threads (tokio names them `tokio-rt-worker`).
    let workers = std::fs::read_dir(format!("/proc/{}/task", server.child.id()))
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|name| name.trim() == "tokio-rt-worker")
        .count();
    assert_eq!(workers, 3, "runtime worker threads");
    let started = Instant::now();
    server.signal(libc::SIGINT);
    assert_eq!(server.wait(Duration::from_secs(10)).await.code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(3), "idle shutdown took {:?}", started.elapsed());
}
