//! Load (debug build, in the test suite): 10,000 short requests mixed across every
//! endpoint at concurrency 100 against PostgreSQL (pool 10): zero 5xx, zero transport errors.
//! `ROWSTREAM_TORTURE_REQUESTS` sets the count (default 10,000, ~3 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::helpers::*;

const CONCURRENCY: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_short_requests_at_concurrency_100_give_no_5xx() {
    let total: usize = std::env::var("ROWSTREAM_TORTURE_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let app = Arc::new(spawn_app(Backend::Postgres, 2_000).await);
    let paths: [(&str, &str); 10] = [
        ("GET", "/healthz"),
        ("GET", "/hello"),
        ("GET", "/metrics"),
        ("GET", "/api/messages?limit=20"),
        ("GET", "/api/messages?limit=50&format=csv"),
        ("GET", "/standard?limit=10"),
        ("GET", "/chunked?limit=10&batch=3"),
        ("GET", "/hit"),
        ("POST", "/greet"),
        ("GET", "/api/messages?limit=nope"),
    ];
    let semaphore = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..total {
        let permit = semaphore.clone().acquire_owned().await.expect("semaphore");
        let app = app.clone();
        let (method, path) = paths[i % paths.len()];
        tasks.spawn(async move {
            let request = match method {
                "POST" => app
                    .client
                    .post(app.url(path))
                    .bearer_auth(&app.token)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("name=ada"),
                _ => app.get(path),
            };
            let t = Instant::now();
            let result = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(_) => Ok(status),
                        Err(e) => Err(format!("{path}: body: {e}")),
                    }
                }
                Err(e) => Err(format!("{path}: {e}")),
            };
            drop(permit);
            (path, result, t.elapsed())
        });
    }
    let mut by_class = [0usize; 6];
    let mut errors = Vec::new();
    let mut latencies = Vec::with_capacity(total);
    while let Some(joined) = tasks.join_next().await {
        let (path, result, latency) = joined.expect("task");
        latencies.push(latency);
        match result {
            Ok(status) => {
                by_class[(status / 100) as usize] += 1;
                if status >= 500 {
                    errors.push(format!("{path}: {status}"));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    eprintln!(
        "load: {total} mixed requests at concurrency {CONCURRENCY} in {elapsed:?} ({:.0}/s): 2xx {} 4xx {} 5xx {}; \
         latency p50 {:?} p99 {:?} max {:?}",
        total as f64 / elapsed.as_secs_f64(),
        by_class[2],
        by_class[4],
        by_class[5],
        p(0.5),
        p(0.99),
        p(1.0)
    );
    assert!(errors.is_empty(), "{} failures, e.g. {:?}", errors.len(), &errors[..errors.len().min(5)]);
    assert_eq!(by_class[4], total / paths.len() + usize::from(total % paths.len() > 9), "only the bad limit is a 4xx");
    assert!(p(1.0) < Duration::from_secs(5));
}
