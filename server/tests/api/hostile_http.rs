//! Hostile HTTP: oversized heads (431), over-long URLs (414), oversized bodies on every POST
//! route (413), slowloris clients (dropped after the header-read timeout, and 500 of them do
//! not stop normal requests), a panicking handler (500 JSON, the server goes on), the
//! security headers, CORS, and a short `--jwt-secret` refused at start.

use std::process::Command;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use rowstream::limits::HttpLimits;
use rowstream::security::CorsSettings;
use rowstream::upstream::UpstreamSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Sends `request` as is and returns the status code of the answer (None: closed without one).
async fn raw_status(addr: std::net::SocketAddr, request: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before it has read everything: ignore write errors.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text))
}

/// Raises this process's open-file limit to its hard limit (500 slow clients need 1,000+ fds).
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max.min(65536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[tokio::test]
async fn oversized_heads_urls_and_bodies_are_431_414_413() {
    let db = TestDb::new(Backend::Sqlite).await;
    db.seed(3).await;
    let app = spawn_app_on(db, |c| {
        c.max_body = 1024;
        // Never called: the body is over the limit first.
        c.upstream = Some(UpstreamSettings { url: "http://127.0.0.1:9/".into(), timeout: Duration::from_secs(1) });
    })
    .await;

    // Head over 32 KiB: one huge header, or many small ones, or too many headers.
    let big = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(40 * 1024));
    assert_eq!(raw_status(app.addr, big.as_bytes()).await.map(|s| s.0), Some(431), "one 40 KiB header");
    let many: String = (0..400).map(|i| format!("X-H{i}: {}\r\n", "b".repeat(100))).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert_eq!(raw_status(app.addr, many.as_bytes()).await.map(|s| s.0), Some(431), "400 headers of 100 B");
    let count: String = (0..150).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let count = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{count}\r\n");
    assert_eq!(raw_status(app.addr, count.as_bytes()).await.map(|s| s.0), Some(431), "150 headers");
    // Just under the limits: fine.
    let ok = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "a".repeat(20_000));
    assert_eq!(raw_status(app.addr, ok.as_bytes()).await.map(|s| s.0), Some(200));

    // URL over 8 KiB (but head under 32 KiB): 414 JSON, on any route, before auth.
    for path in ["/api/messages", "/healthz", "/"] {
        let url = app.url(&format!("{path}?x={}", "y".repeat(9 * 1024)));
        let response = app.client.get(url).bearer_auth(&app.token).send().await.unwrap();
        assert_eq!(response.status(), 414, "{path}");
        let body: shared::ErrorBody = response.json().await.expect("json");
        assert_eq!(body.error.code, shared::ErrorCode::UriTooLong);
    }
    let url = app.url(&format!("/healthz?x={}", "y".repeat(7 * 1024)));
    assert_eq!(app.client.get(url).bearer_auth(&app.token).send().await.unwrap().status(), 200);

    // Every POST route: a body over --max-body is a 413 JSON, declared or chunked.
    let big_body = "n=".to_owned() + &"z".repeat(4096);
    for path in ["/greet", "/demo1/ada", "/demo2"] {
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(&app.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big_body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path} with Content-Length");
        let body: shared::ErrorBody = response.json().await.expect("json");
        assert_eq!(body.error.code, shared::ErrorCode::PayloadTooLarge, "{path}");
        let chunks = futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b'z'; 1024])));
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(&app.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path} chunked");
    }
}

#[tokio::test]
async fn slowloris_clients_are_dropped_and_do_not_stop_normal_requests() {
    raise_fd_limit();
    let db = TestDb::new(Backend::Sqlite).await;
    db.seed(3).await;
    let app = spawn_app_on(db, |c| c.http.header_read_timeout = Duration::from_secs(1)).await;

    // One client sending its head a byte a second is cut after the 1 s timeout.
    let started = Instant::now();
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let mut closed = false;
    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!("answered a slowloris head: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    let dropped_after = started.elapsed();
    assert!(closed, "the slow client was never dropped");
    assert!(dropped_after < Duration::from_secs(3), "dropped after {dropped_after:?}");

    // 500 of them, trickling a byte every 200 ms: normal requests still answer at once.
    let mut slow_clients = tokio::task::JoinSet::new();
    for _ in 0..500 {
        let addr = app.addr;
        slow_clients.spawn(async move {
            let opened = Instant::now();
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            for byte in
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter().cycle()
            {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                let mut buf = [0u8; 64];
                match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => panic!("a slow client got an answer"),
                    Err(_) => {}
                }
                if opened.elapsed() > Duration::from_secs(10) {
                    panic!("a slow client was never dropped");
                }
            }
            opened.elapsed()
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let t = Instant::now();
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        slowest = slowest.max(t.elapsed());
    }
    assert!(slowest < Duration::from_secs(1), "/healthz took {slowest:?} next to 500 slow clients");
    let mut longest = Duration::ZERO;
    while let Some(held) = slow_clients.join_next().await {
        longest = longest.max(held.expect("slow client task"));
    }
    eprintln!(
        "slowloris: one dropped after {dropped_after:?}; 500 dropped within {longest:?}; /healthz max {slowest:?}"
    );
    assert!(longest < Duration::from_secs(4), "slow clients held for {longest:?}");
}

async fn boom() -> &'static str {
    panic!("deliberate test panic")
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_json_and_the_server_goes_on() {
    // A router of the test's own: no panicking route ships in the binary.
    let router = Router::new().route("/boom", get(boom)).route("/ok", get(|| async { "fine" }));
    let router = rowstream::startup::harden(router, HttpLimits::default(), &CorsSettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(rowstream::startup::run(listener, router, async move {
        let _ = rx.await;
    }));
    // One kept-alive client: the panic does not cost the connection.
    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    for _ in 0..3 {
        let response = client.get(format!("http://{addr}/boom")).send().await.unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body: shared::ErrorBody = response.json().await.expect("json");
        assert_eq!(body.error.code, shared::ErrorCode::Internal);
        assert!(!body.error.message.contains("deliberate"), "the panic message stays in the log");
        assert_eq!(client.get(format!("http://{addr}/ok")).send().await.unwrap().text().await.unwrap(), "fine");
    }
    let _ = tx.send(());
}

#[tokio::test]
async fn security_headers_everywhere_csp_on_the_viewer_cors_off_by_default() {
    let app = spawn_app(Backend::Sqlite, 3).await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    let csp = page.headers().get("content-security-policy").expect("CSP on /").to_str().unwrap().to_owned();
    for directive in ["script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "object-src 'none'"] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    for path in ["/", "/healthz", "/api/messages?limit=1", "/nope"] {
        let response = app.get(path).header("origin", "https://evil.example").send().await.unwrap();
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(h.get("access-control-allow-origin").is_none(), "{path}: CORS is off");
    }
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/messages"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());

    let db = TestDb::new(Backend::Sqlite).await;
    db.seed(3).await;
    let app = spawn_app_on(db, |c| c.cors.origins = vec!["https://app.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/messages"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = app.get("/api/messages?limit=1").header("origin", "https://app.example").send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["access-control-allow-origin"], "https://app.example");
}

#[test]
fn a_short_jwt_secret_is_refused_at_start_with_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_rowstream"))
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", "sqlite::memory:", "--jwt-secret", "short"])
        .output()
        .expect("run rowstream");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("jwt_secret") && lines[0].contains("at least 32"), "{stderr}");
}

/// Found by the property tests: a 405 (`POST /`, `GET /greet`, `POST /demo1/`) had no body.
#[tokio::test]
async fn a_wrong_method_is_a_405_json() {
    let app = spawn_app(Backend::Sqlite, 1).await;
    for (method, path) in [("POST", "/"), ("GET", "/greet"), ("POST", "/demo1/"), ("DELETE", "/api/messages")] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app.client.request(method.clone(), app.url(path)).bearer_auth(&app.token).send().await.unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        let body: shared::ErrorBody = response.json().await.expect("json");
        assert_eq!(body.error.code, shared::ErrorCode::MethodNotAllowed, "{method} {path}");
    }
}
