//! The viewer benchmark: `cargo bench -p rowstream --bench viewer` (build the viewer first:
//! `bash scripts/build-viewer.sh`).
//!
//! In headless Chromium, against a release `rowstream serve` on PostgreSQL, two sections:
//! `messages` with 500,000 rows (`rowstream_bench_500000`) and the tables benchmark's
//! 17-column `wide` table with 500,000 rows (`rowstream_bench_wide_500000`, picked in the
//! relation menu). For each run in a fresh browser session (heap figures accumulate within
//! one): press Start in Stream mode and read time to first row painted, time to all rows
//! counted, the JS heap and the Wasm memory, the DOM rows; scroll the table to the middle and
//! to the end and time the frame that shows the new rows; then, in the same page, time a raw
//! `fetch(url).then(r => r.arrayBuffer())` of the same body (the request the viewer's curl
//! line shows, e.g. `/api/tables/messages/rows?mode=stream&format=ndjson`). Prints medians
//! and the ratios against the targets. Options: `--rows N` (500000), `--runs N` (7),
//! `--only messages|wide`.

#[path = "../tests/api/browser.rs"]
#[allow(dead_code)] // the tests use more of it than the benchmark
mod browser;
mod common;

use std::time::{Duration, Instant};

use fantoccini::Locator;

use browser::Browser;
use common::{arg, ensure_seeded, median, verdict, Server, SECRET};

struct Run {
    first_row_ms: f64,
    all_rows_ms: f64,
    raw_fetch_ms: f64,
    body_mb: f64,
    heap_mb: f64,
    wasm_mb: f64,
    dom_rows: f64,
    /// Scrolling to the middle, then to the end: ms until the frame showing the new rows
    /// began, and how many frames that was.
    scroll_middle_ms: f64,
    scroll_middle_frames: f64,
    scroll_end_ms: f64,
    scroll_end_frames: f64,
}

/// In the page: scrolls the table to the middle, to the top, then to the end, and for the
/// middle and the end returns [ms, frames] until a frame began with other rows rendered.
const SCROLL: &str = r#"
    const done = arguments[arguments.length - 1];
    const el = document.querySelector('[data-testid="table-scroll"]');
    const frame = () => new Promise(r => requestAnimationFrame(() => r()));
    const first = () => document.querySelector('[data-testid="row"]')?.getAttribute('aria-rowindex');
    const go = async (top) => {
        const before = first();
        const t0 = performance.now();
        el.scrollTop = top;
        let frames = 0;
        while (frames < 60) { await frame(); frames++; if (first() !== before) break; }
        return [performance.now() - t0, frames];
    };
    (async () => {
        await frame();
        const middle = await go((el.scrollHeight - el.clientHeight) / 2);
        await go(0);
        await frame();
        const end = await go(el.scrollHeight);
        done([middle, end]);
    })();
"#;

/// One fresh browser session: `relation` picked (none: the default, `messages`), Start in
/// Stream mode, figures read at the end, the scroll timed, then the raw fetch.
async fn one_run(base: &str, token: &str, rows: u64, relation: Option<&str>) -> anyhow::Result<Run> {
    let browser = Browser::start().await;
    browser.client.goto(&format!("{base}/#token={token}")).await?;
    browser.client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("[data-testid=\"start\"]")).await?;
    if let Some(relation) = relation {
        let option = format!("[data-testid=\"relation\"] option[value=\"{relation}\"]");
        browser.client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(&option)).await?;
        let pick = format!(
            "const el = document.querySelector('[data-testid=\"relation\"]'); el.value = '{relation}'; \
             el.dispatchEvent(new Event('change', {{ bubbles: true }})); return el.value;"
        );
        browser.js(&pick).await;
    }
    browser.click("mode-stream").await;
    // As typing does: WebDriver's clear() fires no `input` event.
    browser.js("const el = document.querySelector('[data-testid=\"limit\"]'); el.value = ''; el.dispatchEvent(new Event('input', { bubbles: true })); el.dispatchEvent(new Event('change', { bubbles: true })); return true;").await;
    browser.click("start").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = browser.text("status").await;
        if status == "done" {
            break;
        }
        anyhow::ensure!(status != "failed" && status != "cancelled", "the run ended {status}");
        anyhow::ensure!(Instant::now() < deadline, "the run did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counted: u64 = browser.text("row-count").await.trim().parse()?;
    anyhow::ensure!(counted == rows, "counted {counted} of {rows} rows");
    let first_row_ms: f64 = browser.text("first-row-ms").await.trim().parse()?;
    let all_rows_ms: f64 = browser.text("total-ms").await.trim().parse()?;
    let heap_mb = browser.js("return performance.memory.usedJSHeapSize / 1e6;").await.as_f64().unwrap_or(f64::NAN);
    let wasm_mb =
        browser.js("return window.__rowstreamWasmMemory.buffer.byteLength / 1e6;").await.as_f64().unwrap_or(f64::NAN);
    let dom_rows = browser.count("row").await as f64;
    let scroll = browser.client.execute_async(SCROLL, vec![]).await?;
    let figure = |i: usize, j: usize| scroll.get(i).and_then(|v| v.get(j)).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    // The exact request the viewer made, as its curl line shows it.
    let command = browser.text("curl-command").await;
    let url = command.trim_end_matches('\'').rsplit_once('\'').map(|(_, url)| url.to_owned());
    let url = url.ok_or_else(|| anyhow::anyhow!("no URL in the curl line: {command}"))?;
    let raw = browser
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const t0 = performance.now();
               fetch(arguments[1], { headers: { Authorization: 'Bearer ' + arguments[0] } })
                 .then(r => r.arrayBuffer())
                 .then(b => done([performance.now() - t0, b.byteLength]))
                 .catch(e => done([-1, String(e)]));"#,
            vec![serde_json::json!(token), serde_json::json!(url)],
        )
        .await?;
    let raw_fetch_ms = raw.get(0).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    anyhow::ensure!(raw_fetch_ms > 0.0, "raw fetch failed: {raw}");
    let body_mb = raw.get(1).and_then(|v| v.as_f64()).unwrap_or(f64::NAN) / 1e6;
    browser.close().await;
    Ok(Run {
        first_row_ms,
        all_rows_ms,
        raw_fetch_ms,
        body_mb,
        heap_mb,
        wasm_mb,
        dom_rows,
        scroll_middle_ms: figure(0, 0),
        scroll_middle_frames: figure(0, 1),
        scroll_end_ms: figure(1, 0),
        scroll_end_frames: figure(1, 1),
    })
}

/// Runs `runs` sessions against a fresh server on `url` and prints the section's figures.
async fn section(
    name: &str,
    url: &str,
    relation: Option<&str>,
    rows: u64,
    runs: usize,
    wide: bool,
) -> anyhow::Result<()> {
    // The release server with its embedded viewer (server/viewer/, as committed).
    let server = Server::start(url, &[])?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.map(|r| !r.status().is_success()).unwrap_or(true) {
        anyhow::ensure!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = rowstream::auth::JwtKeys::new(SECRET.as_bytes()).issue("bench", Duration::from_secs(3600))?;
    let mut results = Vec::new();
    for i in 0..runs {
        let run = one_run(&base, &token, rows, relation).await?;
        eprintln!(
            "{name} run {}: first row {:.1} ms, all rows {:.0} ms, raw fetch {:.0} ms ({:.2}x), body {:.1} MB, \
             heap {:.1} MB + wasm {:.1} MB, DOM rows {}, scroll middle {:.1} ms / {} frames, end {:.1} ms / {} frames",
            i + 1,
            run.first_row_ms,
            run.all_rows_ms,
            run.raw_fetch_ms,
            run.all_rows_ms / run.raw_fetch_ms,
            run.body_mb,
            run.heap_mb,
            run.wasm_mb,
            run.dom_rows,
            run.scroll_middle_ms,
            run.scroll_middle_frames,
            run.scroll_end_ms,
            run.scroll_end_frames
        );
        results.push(run);
    }
    drop(server);
    let m = |f: fn(&Run) -> f64| median(results.iter().map(f).collect());
    let (first, all, raw, heap, dom) =
        (m(|r| r.first_row_ms), m(|r| r.all_rows_ms), m(|r| r.raw_fetch_ms), m(|r| r.heap_mb), m(|r| r.dom_rows));
    println!("\nrowstream viewer benchmark, {name}: headless Chromium, {rows} rows from PostgreSQL, medians of {runs} fresh sessions");
    println!("  time to first row painted after Start = {first:.1} ms  (target <= 50 ms)  {}", verdict(first <= 50.0));
    println!("  time to all rows counted = {all:.0} ms; raw fetch().arrayBuffer() of the same body = {raw:.0} ms");
    // Each session's two times are a pair measured back to back, so their ratio cancels
    // what differs between sessions; its median is the verdict.
    let paired = m(|r| r.all_rows_ms / r.raw_fetch_ms);
    println!(
        "  all rows / raw fetch, median of the per-session ratios = {paired:.2}x  (target <= 1.5x)  {}",
        verdict(paired <= 1.5)
    );
    println!("  (ratio of the two medians above: {:.2}x)", all / raw);
    let memory = m(|r| r.heap_mb + r.wasm_mb);
    let body = m(|r| r.body_mb);
    if wide {
        let ratio = m(|r| (r.heap_mb + r.wasm_mb) / r.body_mb);
        println!(
            "  JS heap {heap:.1} MB + Wasm memory {:.1} MB = {memory:.1} MB at the end; NDJSON body {body:.1} MB: \
             {ratio:.2}x  (target <= 1.0x)  {}",
            m(|r| r.wasm_mb),
            verdict(ratio <= 1.0)
        );
    } else {
        println!("  JS heap at the end = {heap:.1} MB  (target <= 150 MB)  {}", verdict(heap <= 150.0));
        println!("  (JS heap + Wasm memory = {memory:.1} MB; NDJSON body {body:.1} MB)");
    }
    println!("  DOM rows = {dom:.0}  (target <= 200)  {}", verdict(dom <= 200.0));
    let (middle, middle_frames) = (m(|r| r.scroll_middle_ms), m(|r| r.scroll_middle_frames));
    let (end, end_frames) = (m(|r| r.scroll_end_ms), m(|r| r.scroll_end_frames));
    println!(
        "  scroll to the middle: new rows in the frame {middle:.1} ms after ({middle_frames:.0} frame); to the end: \
         {end:.1} ms ({end_frames:.0} frame)  (target: the next frame)  {}",
        verdict(middle_frames <= 1.0 && end_frames <= 1.0)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: u64 = arg("--rows").unwrap_or(500_000);
    let runs: usize = arg("--runs").unwrap_or(7);
    let only: Option<String> = arg("--only");
    let admin = common::admin_url();
    if only.as_deref().is_none_or(|o| o == "messages") {
        let url = ensure_seeded(&admin, rows).await?;
        section("messages", &url, None, rows, runs, false).await?;
    }
    if only.as_deref().is_none_or(|o| o == "wide") {
        let url = common::wide::ensure_pg_wide(&admin, rows).await?;
        section("wide (17 columns of mixed types)", &url, Some("wide"), rows, runs, true).await?;
    }
    Ok(())
}
