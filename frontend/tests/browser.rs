//! Browser tests (wasm32 only; the runner and Chromium options are in
//! `.cargo/config.toml` and `webdriver.json`):
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver cargo test -p frontend --target wasm32-unknown-unknown
//! ```
//!
//! They cover what host tests cannot: the real `fetch` → `ReadableStream` reader path (a
//! Blob URL gives a real streamed body without a server), and the virtualized table laid
//! out by the real stylesheet.
#![cfg(target_arch = "wasm32")]

use frontend::decode::NdjsonDecoder;
use frontend::store::{CellRef, RowStore};
use frontend::stream::{self, next_frame, FetchError};
use frontend::table::RowTable;
use leptos::prelude::*;
use shared::{Column, ColumnType, Message, RowSink, RowValue, StreamEnd, Timestamp};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{AbortController, Blob, BlobPropertyBag, HtmlElement, Url};

wasm_bindgen_test_configure!(run_in_browser);

fn message(id: i64) -> Message {
    Message {
        id,
        sender: format!("user{}", id % 7),
        body: format!("body of {id} — ✓\nsecond line"),
        created_at: Timestamp::from_unix_seconds(1_700_000_000 + id),
    }
}

const NAMES: [&str; 4] = ["id", "sender", "body", "created_at"];

fn message_columns() -> Vec<Column> {
    [ColumnType::Int8, ColumnType::Text, ColumnType::Text, ColumnType::Timestamptz]
        .into_iter()
        .zip(NAMES)
        .map(|(column_type, name)| Column { name: name.into(), column_type, nullable: false, sql_type: String::new() })
        .collect()
}

fn ndjson(rows: i64) -> Vec<u8> {
    let mut out = Vec::new();
    for id in 1..=rows {
        out.extend(serde_json::to_vec(&message(id)).expect("a Message serializes"));
        out.push(b'\n');
    }
    out.extend(serde_json::to_vec(&StreamEnd::new(rows as u64)).expect("the trailer serializes"));
    out.push(b'\n');
    out
}

fn blob_url(bytes: &[u8]) -> String {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type("application/x-ndjson");
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).expect("a Blob");
    Url::create_object_url_with_blob(&blob).expect("a blob: URL")
}

#[wasm_bindgen_test]
async fn reads_a_streamed_body_chunk_by_chunk() {
    let url = blob_url(&ndjson(20_000)); // ~2.5 MB: several chunks, lines cut between them
    let controller = AbortController::new().expect("AbortController");
    let mut body =
        stream::send(&url, "token", &controller.signal()).expect("fetch").open().await.expect("a 200 response");
    let (mut store, mut decoder, mut chunks) = (RowStore::new(&message_columns()), NdjsonDecoder::new(&NAMES), 0);
    while let Some(chunk) = body.next_chunk().await.expect("a chunk") {
        chunks += 1;
        decoder.append_with(chunk.length() as usize, |dst| chunk.copy_to(dst));
        decoder.decode(&mut store, usize::MAX).expect("valid lines");
    }
    assert_eq!(decoder.finish(&mut store).expect("a complete stream"), 20_000);
    assert!(chunks > 1, "expected the body in several chunks, got {chunks}");
    assert_eq!(store.cell(19_999, 0), Some(CellRef::Int(20_000)));
    assert_eq!(store.cell(19_999, 2), Some(CellRef::Text("body of 20000 — ✓\nsecond line")));
}

#[wasm_bindgen_test]
async fn abort_fails_the_read_as_cancelled() {
    let url = blob_url(&ndjson(50_000));
    let controller = AbortController::new().expect("AbortController");
    let mut body =
        stream::send(&url, "token", &controller.signal()).expect("fetch").open().await.expect("a 200 response");
    controller.abort();
    let mut outcome = Ok(None);
    for _ in 0..1000 {
        outcome = body.next_chunk().await;
        if !matches!(outcome, Ok(Some(_))) {
            break;
        }
    }
    assert!(matches!(outcome, Err(FetchError::Aborted)), "{:?}", outcome.map(|c| c.map(|c| c.length())));
}

fn rendered_ids() -> Vec<i64> {
    let rows = document().query_selector_all("[data-testid=cell][data-column=id]").expect("a selector");
    (0..rows.length()).filter_map(|i| rows.item(i)?.text_content()?.parse().ok()).collect()
}

async fn frames(n: usize) {
    for _ in 0..n {
        next_frame().await;
    }
}

#[wasm_bindgen_test]
async fn table_renders_only_visible_rows_past_the_browser_height_limit() {
    // The real stylesheet lays the table out; the page gets a fixed height.
    let style = document().create_element("style").expect("a style element");
    style.set_text_content(Some(concat!(
        include_str!("../style.css"),
        "\n.host { height: 600px; display: flex; flex-direction: column; }"
    )));
    document().head().expect("a head").append_child(&style).expect("style added");

    // 1.3 million rows: 36 million px of content, past Chromium's ~33.5 million px limit.
    const ROWS: usize = 1_300_000;
    let columns = message_columns();
    let mut rows = RowStore::new(&columns);
    for id in 1..=ROWS {
        let id = id.to_string();
        for (c, value) in [&id, "s", "b", "2024-01-01T00:00:00Z"].into_iter().enumerate() {
            let value = if c == 0 { RowValue::Number(value) } else { RowValue::String(value.into()) };
            rows.value(c, value);
        }
        assert!(rows.finish_row());
    }
    let store = StoredValue::new_local(rows);
    let count = RwSignal::new(ROWS);
    let generation = RwSignal::new(1_u64);
    leptos::mount::mount_to_body(move || {
        view! { <div class="host"><RowTable store=store columns=Signal::stored(columns.clone()) rows=count.read_only() generation=generation.read_only() /></div> }
    });
    frames(3).await;

    // Following: the tail is shown.
    let ids = rendered_ids();
    assert!(!ids.is_empty() && ids.len() <= 100, "{} rows rendered", ids.len());
    assert_eq!(ids.last(), Some(&(ROWS as i64)));

    let scroller: HtmlElement = document()
        .query_selector("[data-testid=table-scroll]")
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into().ok())
        .expect("the scroll container");
    assert!(scroller.scroll_height() <= 10_000_100, "spacer not capped: {}", scroller.scroll_height());

    // Scrolling up stops following; the top shows row 1.
    scroller.set_scroll_top(0);
    frames(3).await;
    assert_eq!(rendered_ids().first(), Some(&1));

    // Halfway down the (scaled) scroll range is halfway through the rows.
    scroller.set_scroll_top((scroller.scroll_height() - scroller.client_height()) / 2);
    frames(3).await;
    let first = *rendered_ids().first().expect("rows in view");
    assert!((first - ROWS as i64 / 2).abs() < 50, "first row in view: {first}");

    // The bottom shows the last row again.
    scroller.set_scroll_top(scroller.scroll_height());
    frames(3).await;
    assert_eq!(rendered_ids().last(), Some(&(ROWS as i64)));
}
