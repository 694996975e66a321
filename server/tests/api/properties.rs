//! Property tests (proptest): whatever the query string, `Accept` header, path segment or
//! form body, the answer is a 2xx with a readable body or a 4xx with the JSON error body:
//! never a 5xx, never a dropped connection. `PROPTEST_CASES` sets the cases per property
//! (default 500 here, ~0.4 s; the long form: 5000).

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};

use crate::helpers::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(500)
}

/// Parameter names: ours, near misses, and anything.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["mode", "format", "limit", "after", "batch"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["Limit", "limit ", "", "=", "&", "mode[]", "%00"]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Values: numbers at and past every edge, our words, and anything.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            "0", "-0", "+1", "1e3", "0x10", "18446744073709551616", "99999999999999999999999", " 1", "1 ", "",
            "stream", "buffered", "ndjson", "csv", "json", "text", "arrow", "NDJSON", "null", "true", "\u{0}",
        ])
        .prop_map(str::to_owned),
        1 => "[0-9]{1,30}",
        1 => any::<String>(),
    ]
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((name(), value()), 0..5)
}

fn accept() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        prop::sample::select(vec![
            "application/x-ndjson",
            "text/csv",
            "application/json",
            "text/plain",
            "application/vnd.apache.arrow.stream",
            "*/*",
            "text/*",
            "image/png",
            "application/json;q=0",
            "text/csv;q=0.5, application/json",
            ";;;",
            "",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,40}",
    ])
}

/// 2xx with its whole body, or 4xx with a JSON error body. Anything else fails the case.
async fn check(request: reqwest::RequestBuilder, what: &str) -> Result<(), TestCaseError> {
    let response = request.send().await.map_err(|e| TestCaseError::fail(format!("{what}: no answer: {e}")))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| TestCaseError::fail(format!("{what}: body cut: {e}")))?;
    if status.is_success() {
        return Ok(());
    }
    prop_assert!(status.is_client_error(), "{}: {} {}", what, status, String::from_utf8_lossy(&body));
    let error: Result<shared::ErrorBody, _> = serde_json::from_slice(&body);
    prop_assert!(error.is_ok(), "{}: {} without a JSON error body: {}", what, status, String::from_utf8_lossy(&body));
    Ok(())
}

fn runner() -> TestRunner {
    TestRunner::new(RunnerConfig { cases: cases(), failure_persistence: None, ..RunnerConfig::default() })
}

#[test]
fn any_query_string_and_accept_header_is_a_2xx_or_a_4xx_json_error() {
    let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());
    let app = rt.block_on(spawn_app(Backend::Sqlite, 50));
    let mut runner = runner();
    let strategy = (prop::sample::select(vec!["/api/messages", "/chunked", "/standard"]), query(), accept());
    runner
        .run(&strategy, |(path, pairs, accept)| {
            let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
            let mut request = app.client.get(format!("{}?{query}", app.url(path))).bearer_auth(&app.token);
            if let Some(accept) = &accept {
                match reqwest::header::HeaderValue::from_str(accept) {
                    Ok(value) => request = request.header("accept", value),
                    Err(_) => return Ok(()),
                }
            }
            rt.block_on(check(request, &format!("GET {path}?{query} Accept: {accept:?}")))
        })
        .unwrap();
    // The catch-panic layer never fired: no 5xx above, and the server still answers.
    assert_eq!(rt.block_on(app.client.get(app.url("/healthz")).send()).unwrap().status(), 200);
    drop(app);
}

#[test]
fn any_form_body_or_path_segment_is_a_2xx_or_a_4xx_json_error() {
    let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());
    let app = rt.block_on(spawn_app(Backend::Sqlite, 1));
    let mut runner = runner();
    let content_type = prop::sample::select(vec![
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=X",
        "multipart/form-data",
        "application/json",
        "text/plain",
        "",
    ]);
    let body = prop_oneof![
        prop::collection::vec((name(), value()), 0..4).prop_map(|pairs| {
            form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish().into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..200),
        Just(b"--X\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nada\r\n--X--\r\n".to_vec()),
        Just(b"--X\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nada".to_vec()),
    ];
    let strategy = (any::<String>(), content_type, body);
    runner
        .run(&strategy, |(segment, content_type, body)| {
            let segment: String =
                percent_encoding::utf8_percent_encode(&segment, percent_encoding::NON_ALPHANUMERIC).collect();
            for path in [format!("/demo1/{segment}"), "/greet".to_owned()] {
                let request = app
                    .client
                    .post(app.url(&path))
                    .bearer_auth(&app.token)
                    .header("content-type", content_type)
                    .body(body.clone());
                rt.block_on(check(request, &format!("POST {path} {content_type} {body:?}")))?;
            }
            Ok(())
        })
        .unwrap();
    drop(app);
}
