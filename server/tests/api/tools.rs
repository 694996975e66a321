//! `rowstream load` and `rowstream compare` against a test server: their figures agree
//! with what the server saw and with each other.

use std::time::Duration;

use rowstream::compare::{self, CompareArgs};
use rowstream::load::{self, LoadArgs, LoadOptions, Report};

use crate::helpers::*;

fn load_args(url: String) -> LoadArgs {
    LoadArgs {
        url,
        connections: 4,
        requests: None,
        duration: None,
        method: "GET".into(),
        form: vec![],
        form_file: vec![],
        headers: vec![],
        token: None,
        threads: 2,
        timeout: Duration::from_secs(10),
        json: false,
    }
}

async fn run_load(args: LoadArgs) -> Report {
    let options = LoadOptions::from_args(&args).expect("options");
    load::run(options).await.expect("load run")
}

/// Runs the built `rowstream` binary with `args` off the runtime, so the test's server
/// keeps serving; returns stdout (the command must succeed).
async fn rowstream_cli(args: Vec<String>) -> String {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rowstream")).args(&args).env("RUST_LOG", "warn").output()
    })
    .await
    .expect("join")
    .expect("run rowstream");
    assert!(output.status.success(), "rowstream failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

#[tokio::test]
async fn load_counts_exactly_the_requests_the_server_saw() {
    let app = spawn_app(Backend::Sqlite, 100).await;
    let before = app.metric("rowstream_streams_completed_total").await;
    let stdout = rowstream_cli(vec![
        "load".into(),
        app.url("/chunked?limit=1"),
        "-c".into(),
        "4".into(),
        "-n".into(),
        "50".into(),
        "--token".into(),
        app.token.clone(),
        "--json".into(),
    ])
    .await;
    let report: Report = serde_json::from_str(&stdout).expect("--json prints one Report");
    assert_eq!(report.requests, 50);
    assert_eq!(report.requests_bound, Some(50));
    assert_eq!(report.status.s2xx, 50);
    assert_eq!(report.errors.total(), 0, "{report:?}");
    assert_eq!(report.connections, 4);
    // Every response is the one line "object_id:1 \n" (13 bytes).
    assert_eq!((report.received_mb * 1024.0 * 1024.0).round() as u64, 50 * 13);
    let l = report.latency_ms;
    assert!(
        l.min > 0.0 && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p99_9 && l.p99_9 <= l.max,
        "{l:?}"
    );
    assert!(l.mean >= l.min && l.mean <= l.max);
    assert!((report.requests_per_sec - 50.0 / report.total_secs).abs() < 1e-6);
    let saw = app.metric("rowstream_streams_completed_total").await - before;
    assert_eq!(saw, 50, "the server completed exactly the streams load counted");
}

#[tokio::test]
async fn load_text_output_has_the_seed_figures() {
    let app = spawn_app(Backend::Sqlite, 10).await;
    let stdout =
        rowstream_cli(vec!["load".into(), app.url("/healthz"), "-c".into(), "2".into(), "-n".into(), "20".into()])
            .await;
    for label in [
        "requests completed:     20",
        "total time (s):",
        "max latency (ms):",
        "min latency (ms):",
        "top-90% latency (ms):",
        "mean latency (ms):",
        "p50 / p99 / p99.9 (ms):",
        "requests/s:",
        "total payload (MB):",
        "throughput (MB/s):",
        "2xx 20,",
        "connect 0, timeout 0, io 0",
    ] {
        assert!(stdout.contains(label), "no {label:?} in:\n{stdout}");
    }
}

#[tokio::test]
async fn load_counts_errors_by_kind() {
    let app = spawn_app(Backend::Sqlite, 10).await;
    // No token: every answer is a 401.
    let report = run_load(LoadArgs { requests: Some(30), ..load_args(app.url("/chunked")) }).await;
    assert_eq!(
        (report.requests, report.status.s4xx, report.status.s2xx, report.errors.total()),
        (30, 30, 0, 0),
        "{report:?}"
    );

    // An unknown API path: 404s are 4xx too; a POST with a form to the same.
    let report = run_load(LoadArgs {
        requests: Some(10),
        method: "POST".into(),
        form: vec!["key=value".into()],
        ..load_args(app.url("/api/nothing-here"))
    })
    .await;
    assert_eq!(report.status.s4xx + report.status.s2xx + report.status.s5xx, 10, "{report:?}");
    assert_eq!(report.sent_mb * 1024.0 * 1024.0, 10.0 * "key=value".len() as f64);

    // A closed port: connect errors, bounded by -n all the same.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let report =
        run_load(LoadArgs { requests: Some(6), connections: 2, ..load_args(format!("http://127.0.0.1:{port}/")) })
            .await;
    assert_eq!((report.requests, report.errors.connect), (0, 6), "{report:?}");
}

#[tokio::test]
async fn load_stops_at_its_duration() {
    let app = spawn_app(Backend::Sqlite, 10).await;
    let report =
        run_load(LoadArgs { duration: Some(Duration::from_millis(400)), ..load_args(app.url("/healthz")) }).await;
    assert!(report.requests > 0 && report.errors.total() == 0, "{report:?}");
    assert_eq!(report.duration_bound_secs, Some(0.4));
    assert!((0.4..2.0).contains(&report.total_secs), "took {} s", report.total_secs);
    assert_eq!(report.status.s2xx, report.requests);
}

#[tokio::test]
async fn memory_gauges_are_in_metrics() {
    let app = spawn_app(Backend::Sqlite, 10).await;
    let rss = app.metric("process_resident_memory_bytes").await;
    let peak = app.metric("process_resident_memory_peak_bytes").await;
    assert!(rss > 1_000_000 && peak >= rss, "rss {rss} peak {peak}");
}

fn compare_args(app: &TestApp) -> CompareArgs {
    CompareArgs {
        base: format!("http://{}", app.addr),
        token: Some(app.token.clone()),
        runs: 3,
        limit: None,
        svg: None,
        json: false,
    }
}

#[tokio::test]
async fn compare_figures_are_consistent() {
    let app = spawn_app(Backend::Postgres, 5_000).await;
    let comparison = compare::run(&compare_args(&app)).await.expect("compare");
    assert_eq!(comparison.pairs.len(), 2);
    for pair in &comparison.pairs {
        let (b, s) = (&pair.buffered, &pair.streamed);
        assert_eq!(b.bytes, s.bytes, "{} and {} send the same bytes", b.path, s.path);
        assert!(b.bytes > 5_000 * 10);
        for mode in [b, s] {
            assert_eq!(mode.runs.len(), 3);
            assert!(mode.runs.iter().all(|&(ttfb, total)| ttfb > 0.0 && ttfb <= total), "{mode:?}");
            assert!(mode.ttfb_ms <= mode.total_ms);
            let (before, peak) = (mode.rss_before_mb.expect("rss"), mode.rss_peak_mb.expect("peak"));
            assert!(before > 1.0 && peak >= before, "{mode:?}");
            assert_eq!(mode.curve.last().map(|&(_, bytes)| bytes), Some(mode.bytes));
        }
        assert!(
            s.ttfb_ms < b.ttfb_ms,
            "{} first byte {} ms must come before {} first byte {} ms",
            s.path,
            s.ttfb_ms,
            b.path,
            b.ttfb_ms
        );
    }
    assert_eq!(comparison.pairs[0].buffered.bytes, seed_lines(1..=5_000).len() as u64);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compare.svg");
    compare::svg::draw(&comparison, &path).expect("svg");
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg:.200}");
    for pair in &comparison.pairs {
        for mode in [&pair.buffered, &pair.streamed] {
            // The legend names each mode (XML-escaped: & becomes &amp;).
            assert!(svg.contains(&mode.path.replace('&', "&amp;")), "legend for {}", mode.path);
        }
    }
    assert!(svg.matches("<polyline").count() >= 4, "four lines");
}

#[tokio::test]
async fn compare_command_prints_the_answer_and_draws() {
    let app = spawn_app(Backend::Sqlite, 2_000).await;
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("out.svg");
    let base = format!("http://{}", app.addr);
    let stdout = rowstream_cli(vec![
        "compare".into(),
        "--base".into(),
        base,
        "--token".into(),
        app.token.clone(),
        "--runs".into(),
        "1".into(),
        "--svg".into(),
        svg.display().to_string(),
    ])
    .await;
    assert!(stdout.contains("/standard: no data flows for"), "{stdout}");
    assert!(stdout.contains("/api/messages?mode=buffered: no data flows for"), "{stdout}");
    assert!(std::fs::read_to_string(&svg).unwrap().contains("</svg>"));
}

#[tokio::test]
async fn load_posts_forms_and_files() {
    let app = spawn_app(Backend::Sqlite, 10).await;
    let url = app.url("/demo1/alice");
    let report = run_load(LoadArgs {
        requests: Some(20),
        method: "POST".into(),
        form: vec!["key=value".into()],
        token: Some(app.token.clone()),
        ..load_args(url.clone())
    })
    .await;
    assert_eq!((report.status.s2xx, report.errors.total()), (20, 0), "{report:?}");
    let answer = br#"{"name":"alice","key":"value"}"#.len() as f64;
    assert_eq!(report.received_mb * 1024.0 * 1024.0, 20.0 * answer);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.jpg");
    std::fs::write(&file, vec![0xffu8; 4096]).unwrap();
    let report = run_load(LoadArgs {
        requests: Some(10),
        method: "POST".into(),
        form: vec!["key=k".into()],
        form_file: vec![format!("image=@{}", file.display())],
        token: Some(app.token.clone()),
        ..load_args(url)
    })
    .await;
    assert_eq!((report.status.s2xx, report.errors.total()), (10, 0), "{report:?}");
    assert!(report.sent_mb * 1024.0 * 1024.0 > 10.0 * 4096.0);
}
