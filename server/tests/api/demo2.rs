//! `POST /demo2` awaits an outbound HTTP call without blocking the runtime: 200 concurrent
//! requests against an upstream that answers after 200 ms finish together, well under a
//! second. Upstream down → 502, too slow → 504, not configured → 404, all JSON.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use rowstream::upstream::UpstreamSettings;
use serde_json::Value;

use crate::helpers::*;

/// An upstream on 127.0.0.1:0: `/` answers `ok` after `delay`, `/teapot` answers 418 at once.
pub async fn delayed_upstream(delay: Duration) -> SocketAddr {
    let router = Router::new()
        .route(
            "/",
            get(move || async move {
                tokio::time::sleep(delay).await;
                "ok"
            }),
        )
        .route("/teapot", get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn with_upstream(url: String, timeout: Duration) -> TestApp {
    spawn_app_on(TestDb::new(Backend::Sqlite).await, move |c| c.upstream = Some(UpstreamSettings { url, timeout }))
        .await
}

async fn demo2(app: &TestApp) -> (u16, String) {
    let response = app.client.post(app.url("/demo2")).bearer_auth(&app.token).send().await.expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

fn code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"]["code"].as_str().expect("code").to_owned()
}

#[tokio::test]
async fn two_hundred_concurrent_calls_to_a_slow_upstream_finish_together() {
    let upstream = delayed_upstream(Duration::from_millis(200)).await;
    let app = with_upstream(format!("http://{upstream}/"), Duration::from_secs(5)).await;
    // Warm-up: one call, so the measured run starts with a running server.
    assert_eq!(demo2(&app).await, (200, "welcome (upstream: 200)".to_owned()));
    let started = Instant::now();
    let calls = (0..200).map(|_| demo2(&app));
    let answers = futures_util::future::join_all(calls).await;
    let elapsed = started.elapsed();
    for answer in &answers {
        assert_eq!(answer, &(200, "welcome (upstream: 200)".to_owned()));
    }
    eprintln!("200 concurrent /demo2 calls to a 200 ms upstream: {elapsed:?}");
    assert!(elapsed < Duration::from_millis(1000), "took {elapsed:?}: the calls were not concurrent");
}

#[tokio::test]
async fn the_upstream_status_is_passed_on() {
    let upstream = delayed_upstream(Duration::ZERO).await;
    let app = with_upstream(format!("http://{upstream}/teapot"), Duration::from_secs(5)).await;
    assert_eq!(demo2(&app).await, (200, "welcome (upstream: 418)".to_owned()));
}

#[tokio::test]
async fn upstream_down_slow_or_missing_are_json_errors() {
    let down = with_upstream(format!("http://127.0.0.1:{}/", free_port()), Duration::from_secs(5)).await;
    let (status, body) = demo2(&down).await;
    assert_eq!((status, code(&body).as_str()), (502, "upstream_error"), "{body}");

    let slow = delayed_upstream(Duration::from_millis(500)).await;
    let app = with_upstream(format!("http://{slow}/"), Duration::from_millis(100)).await;
    let started = Instant::now();
    let (status, body) = demo2(&app).await;
    assert_eq!((status, code(&body).as_str()), (504, "upstream_timeout"), "{body}");
    assert!(started.elapsed() < Duration::from_millis(450), "the timeout did not cut the wait");

    let none = spawn_app(Backend::Sqlite, 0).await;
    let (status, body) = demo2(&none).await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"), "{body}");
    assert!(body.contains("--upstream-url"), "{body}");

    let response = none.client.post(none.url("/demo2")).send().await.unwrap();
    assert_eq!(response.status(), 401, "/demo2 needs a token");
}
