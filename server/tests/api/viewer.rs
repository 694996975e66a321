//! The viewer in a real headless Chromium against a real server with a seeded database:
//! incremental rendering, virtualization, standard mode, cancel, a server-side abort and the
//! token prompt. Browser tests run one at a time (two cores; each Chromium wants one).

use std::time::Duration;

use sqlx::Connection as _;
use tokio::sync::Mutex;

use crate::browser::Browser;
use crate::helpers::*;

pub static ONE_BROWSER_AT_A_TIME: Mutex<()> = Mutex::const_new(());

async fn viewer_app(backend: Backend, rows: u64) -> TestApp {
    let db = TestDb::new(backend).await;
    db.seed(rows).await;
    // The viewer embedded in the binary (server/viewer/), as users get it.
    spawn_app_on(db, |_| {}).await
}

async fn open(browser: &Browser, app: &TestApp) {
    crate::viewer_tables::open_at(browser, app, "").await;
}

/// Records (status, row-count, rendered rows) at every DOM change, in the page itself, so
/// even a stream that takes 100 ms is observed at each render.
const RECORD_SAMPLES: &str = r#"
    window.__samples = [];
    const q = (id) => document.querySelector(`[data-testid="${id}"]`);
    const record = () => window.__samples.push([
        (q('status')?.textContent ?? '').trim(),
        Number((q('row-count')?.textContent ?? '0').trim()) || 0,
        document.querySelectorAll('[data-testid="row"]').length,
    ]);
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
    return true;
"#;

async fn samples(browser: &Browser) -> Vec<(String, u64, u64)> {
    serde_json::from_value(browser.js("return window.__samples;").await).expect("samples")
}

/// Sets the limit input the way typing does (WebDriver's clear() fires no `input` event).
async fn set_limit(browser: &Browser, limit: &str) {
    crate::viewer_tables::set_value(browser, "limit", limit).await;
}

/// Runs every row in `mode` ("mode-stream" or "mode-standard") to the end, recording
/// samples along the way; the run must end `done`.
async fn run_all_recording(browser: &Browser, mode: &str) -> Vec<(String, u64, u64)> {
    browser.click(mode).await;
    set_limit(browser, "").await;
    browser.js(RECORD_SAMPLES).await;
    browser.click("start").await;
    assert_eq!(browser.wait_status(&["done", "failed", "cancelled"], Duration::from_secs(60)).await, "done");
    samples(browser).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_100k_rows_incrementally_into_a_virtual_table() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let app = viewer_app(Backend::Postgres, 100_000).await;
    let browser = Browser::start().await;
    open(&browser, &app).await;
    let samples = run_all_recording(&browser, "mode-stream").await;
    assert!(
        samples.iter().any(|(status, rows, _)| status == "streaming" && *rows > 0 && *rows < 100_000),
        "no partial row count was seen while streaming: {:?}",
        samples.iter().take(20).collect::<Vec<_>>()
    );
    assert!(samples.iter().all(|(_, _, dom_rows)| *dom_rows <= 200), "the DOM must stay virtualized");
    assert_eq!(browser.text("row-count").await, "100000");
    let rendered = browser.count("row").await;
    assert!(rendered > 0 && rendered <= 200, "{rendered} row elements");
    let first_row_ms: f64 = browser.text("first-row-ms").await.trim().parse().expect("first-row-ms is a number");
    assert!(first_row_ms > 0.0);

    browser.js("const el = document.querySelector('[data-testid=\"table-scroll\"]'); el.scrollTop = el.scrollHeight; return true;").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<String> = serde_json::from_value(
        browser
            .js("return [...document.querySelectorAll('[data-testid=\"cell\"][data-column=\"id\"]')].map(e => e.textContent.trim());")
            .await,
    )
    .expect("ids");
    assert!(ids.iter().any(|id| id == "100000"), "scrolled to the end, the last id shows: {ids:?}");
    browser.screenshot("viewer-streamed-100k.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_mode_shows_no_row_before_the_whole_answer_is_in() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let app = viewer_app(Backend::Postgres, 100_000).await;
    let browser = Browser::start().await;
    open(&browser, &app).await;
    let samples = run_all_recording(&browser, "mode-standard").await;
    let early: Vec<_> =
        samples.iter().filter(|(status, rows, dom)| status != "done" && (*rows > 0 || *dom > 0)).collect();
    assert!(early.is_empty(), "rows shown before completion in standard mode: {early:?}");
    assert_eq!(browser.text("row-count").await, "100000");
    // After both modes ran, the comparison chart has something to compare.
    run_all_recording(&browser, "mode-stream").await;
    assert!(browser.exists("chart").await, "comparison chart after runs in both modes");
    browser.screenshot("viewer-compared.png").await;
    browser.close().await;
}

async fn active_queries(app: &TestApp) -> i64 {
    let mut pg = sqlx::PgConnection::connect(&postgres_base_url()).await.expect("connect");
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'")
        .bind(app.db.schema.clone().expect("postgres"))
        .fetch_one(&mut pg)
        .await
        .expect("pg_stat_activity")
}

async fn start_streaming_all(browser: &Browser) {
    browser.click("mode-stream").await;
    set_limit(browser, "").await;
    browser.click("start").await;
}

/// Waits, inside the page, for the first rows to show, then presses Cancel at once (or, with
/// the argument `"escape"`, the Escape key): a WebDriver round trip per poll would be too
/// slow to catch a fast stream mid-way.
const CANCEL_ON_FIRST_ROWS: &str = r#"
    const done = arguments[arguments.length - 1];
    const how = arguments[0];
    const q = (id) => document.querySelector(`[data-testid="${id}"]`);
    const check = () => {
        const rows = Number(q('row-count')?.textContent.trim()) || 0;
        const status = q('status')?.textContent.trim();
        if (status !== 'streaming') { observer.disconnect(); done(['ended', status, rows]); return; }
        if (rows > 0) {
            observer.disconnect();
            if (how === 'escape') {
                q('table-scroll').dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
            } else {
                q('cancel').click();
            }
            done(['cancelled at', status, rows]);
        }
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    check();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_query_on_the_server() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let app = viewer_app(Backend::Postgres, 1_000_000).await;
    let browser = Browser::start().await;
    open(&browser, &app).await;
    start_streaming_all(&browser).await;
    let outcome = browser.client.execute_async(CANCEL_ON_FIRST_ROWS, vec![]).await.expect("cancel script");
    assert_eq!(outcome[0], "cancelled at", "the stream must still be running when Cancel is pressed: {outcome}");
    assert_eq!(browser.wait_status(&["cancelled", "done", "failed"], Duration::from_secs(10)).await, "cancelled");
    let rows: u64 = browser.text("row-count").await.trim().parse().expect("row-count");
    assert!(rows < 1_000_000);
    let stopped = eventually(Duration::from_secs(10), Duration::from_millis(100), || async {
        active_queries(&app).await == 0 && app.metric("rowstream_streams_cancelled_total").await > 0
    });
    assert!(stopped.await, "the server's query kept running after cancel");
    assert!(app.metric("rowstream_rows_read_total").await < 1_000_000);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_phones_width_enter_starts_and_escape_cancels() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let app = viewer_app(Backend::Postgres, 300_000).await;
    let browser = Browser::start().await;
    browser.client.set_window_size(390, 844).await.expect("a phone's width");
    open(&browser, &app).await;
    // Enter in a field submits the controls: Start.
    set_limit(&browser, "50").await;
    browser
        .client
        .find(fantoccini::Locator::Css("[data-testid=\"limit\"]"))
        .await
        .expect("limit")
        .send_keys("\u{E007}")
        .await
        .expect("Enter");
    assert_eq!(browser.wait_status(&["done", "failed", "cancelled"], Duration::from_secs(20)).await, "done");
    assert_eq!(browser.text("row-count").await, "50");
    // The page does not scroll sideways; the table does.
    let widths: (f64, f64, f64, f64) = serde_json::from_value(
        browser
            .js("const el = document.querySelector('[data-testid=\"table-scroll\"]'); \
                 return [document.documentElement.scrollWidth, window.innerWidth, el.scrollWidth, el.clientWidth];")
            .await,
    )
    .unwrap();
    assert!(widths.0 <= widths.1 + 1.0, "the page overflows sideways: {widths:?}");
    assert!(widths.2 > widths.3, "the table scrolls sideways: {widths:?}");
    browser.screenshot("viewer-phone.png").await;
    // Escape cancels a running stream.
    start_streaming_all(&browser).await;
    let outcome = browser.client.execute_async(CANCEL_ON_FIRST_ROWS, vec!["escape".into()]).await.expect("script");
    assert_eq!(outcome[0], "cancelled at", "{outcome}");
    assert_eq!(browser.wait_status(&["cancelled", "done", "failed"], Duration::from_secs(10)).await, "cancelled");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_side_abort_ends_failed() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let app = viewer_app(Backend::Postgres, 2_000_000).await;
    let browser = Browser::start().await;
    open(&browser, &app).await;
    start_streaming_all(&browser).await;
    // Kill the backend as soon as the query runs; a million rows take the page seconds.
    let started =
        eventually(Duration::from_secs(20), Duration::from_millis(10), || async { active_queries(&app).await > 0 });
    assert!(started.await, "the query never started");
    let mut pg = sqlx::PgConnection::connect(&postgres_base_url()).await.expect("connect");
    // The function in the select list: it runs only for the rows the WHERE kept.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
    )
    .bind(app.db.schema.clone().expect("postgres"))
    .fetch_all(&mut pg)
    .await
    .expect("terminate");
    let read_at_kill = app.metric("rowstream_rows_read_total").await;
    eprintln!("abort: killed {killed:?} after the server read {read_at_kill} rows");
    assert_eq!(killed.len(), 1);
    let status = browser.wait_status(&["failed", "done", "cancelled"], Duration::from_secs(20)).await;
    eprintln!(
        "abort: status {status}, server read {} rows, completed {}, failed {}",
        app.metric("rowstream_rows_read_total").await,
        app.metric("rowstream_streams_completed_total").await,
        app.metric("rowstream_streams_failed_total").await
    );
    assert_eq!(status, "failed");
    browser.screenshot("viewer-failed.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_rejected_token_shows_the_token_prompt() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let app = viewer_app(Backend::Sqlite, 100).await;
    let browser = Browser::start().await;
    browser.client.goto(&format!("http://{}/", app.addr)).await.expect("open");
    browser.wait_for("[data-testid=\"token-prompt\"]", Duration::from_secs(20)).await;
    // A token the server rejects: the prompt comes back after the 401.
    browser.client.goto(&format!("http://{}/#token=not-a-valid-token", app.addr)).await.expect("open");
    browser.client.refresh().await.expect("reload");
    browser.wait_for("[data-testid=\"start\"]", Duration::from_secs(20)).await;
    if !browser.exists("token-prompt").await {
        browser.click("start").await;
    }
    browser.wait_for("[data-testid=\"token-prompt\"]", Duration::from_secs(10)).await;
    browser.close().await;
}
