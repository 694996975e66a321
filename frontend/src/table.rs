//! The virtualized row table. Only the rows in view (plus
//! [`OVERSCAN_ROWS`](crate::virtual_scroll::OVERSCAN_ROWS)) exist in the DOM, whatever the
//! row count; the geometry is [`crate::virtual_scroll`]'s.
//!
//! Structure inside the scroll container: a sticky header row, then a spacer as tall as the
//! (capped) content, holding a sticky viewport-sized window that renders the visible rows.
//! Because the window is sticky it never needs to be positioned from `scrollTop`: following
//! the tail only changes which rows it shows, and the scroll bar catches up a frame later.
//!
//! Re-rendering the visible slice rebuilds the same `<div>`s in place (leptos diffs a `Vec`
//! of identical views by position), so scrolling only rewrites text nodes.

use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::ResizeObserver;

use crate::decode::NdjsonDecoder;
use crate::store::{RowRef, RowStore};
use crate::stream::next_frame;
use crate::virtual_scroll::{self, is_at_bottom, spacer_height, ROW_HEIGHT_PX};

/// The sticky header row's height; the stylesheet's rows are [`ROW_HEIGHT_PX`] tall too.
const HEADER_PX: f64 = ROW_HEIGHT_PX;

#[component]
pub fn RowTable(
    store: StoredValue<RowStore, LocalStorage>,
    /// Rows of `store` to show.
    rows: ReadSignal<usize>,
    /// Changes with each run.
    generation: ReadSignal<u64>,
) -> impl IntoView {
    let scroll_ref = NodeRef::<Div>::new();
    // Height available to rows: the scroll container minus the header.
    let viewport = RwSignal::new(0.0_f64);
    let scroll_top = RwSignal::new(0.0_f64);
    let follow = RwSignal::new(true);
    // The last scrollTop seen, to tell a scroll up (the user leaving the tail) from the
    // programmatic scrolls down that following makes.
    let last_top = StoredValue::new(0.0_f64);

    let window = Memo::new(move |_| {
        (generation.get(), virtual_scroll::window(rows.get(), viewport.get(), scroll_top.get(), follow.get()))
    });

    observe_size(scroll_ref, viewport);

    // A new run starts at the top, following.
    Effect::new(move |previous: Option<u64>| {
        let current = generation.get();
        if previous.is_some_and(|p| p != current) {
            last_top.set_value(0.0);
            scroll_top.set(0.0);
            follow.set(true);
            if let Some(el) = scroll_ref.get_untracked() {
                el.set_scroll_top(0);
            }
        }
        current
    });

    // While following, move the scroll bar to the bottom once the frame's DOM is updated.
    Effect::new(move |_| {
        rows.track();
        viewport.track();
        if follow.get() {
            spawn_local(async move {
                next_frame().await;
                if !follow.get_untracked() {
                    return;
                }
                if let Some(el) = scroll_ref.get_untracked() {
                    el.set_scroll_top(el.scroll_height() - el.client_height());
                    last_top.set_value(f64::from(el.scroll_top()));
                }
            });
        }
    });

    let on_scroll = move |_| {
        let Some(el) = scroll_ref.get_untracked() else { return };
        let top = f64::from(el.scroll_top());
        let previous = last_top.get_value();
        last_top.set_value(top);
        scroll_top.set(top);
        if is_at_bottom(top, f64::from(el.scroll_height()), f64::from(el.client_height())) {
            if !follow.get_untracked() {
                follow.set(true);
            }
        } else if top < previous - 1.0 && follow.get_untracked() {
            follow.set(false);
        }
    };

    let visible_rows = move || {
        let (_, w) = window.get();
        store.with_value(|store| {
            (w.start..w.end).filter_map(|i| store.get(i).map(|row| row_view(i, row, true))).collect_view()
        })
    };

    view! {
        <div class="table" role="table" aria-label="Messages" aria-rowcount=move || rows.get() + 1>
            <div class="table-scroll" data-testid="table-scroll" node_ref=scroll_ref on:scroll=on_scroll tabindex="0">
                <div class="row head" role="row">
                    <span class="c-id" role="columnheader">"id"</span>
                    <span class="c-sender" role="columnheader">"sender"</span>
                    <span class="c-body" role="columnheader">"body"</span>
                    <span class="c-time" role="columnheader">"created_at"</span>
                </div>
                <div class="spacer" style:height=move || format!("{}px", spacer_height(rows.get()))>
                    <div class="window" style:height=move || format!("{}px", viewport.get().min(spacer_height(rows.get())))>
                        <div class="rows" style:transform=move || format!("translateY({}px)", -window.get().1.offset_px)>
                            {visible_rows}
                        </div>
                    </div>
                </div>
                <Show when=move || rows.get() == 0>
                    <p class="empty">"No rows yet. Press Start."</p>
                </Show>
            </div>
            <Show when=move || { !follow.get() && rows.get() > 0 }>
                <button class="follow" type="button" on:click=move |_| follow.set(true) title="Jump to the newest row and keep following">
                    "↓ Follow newest"
                </button>
            </Show>
            <WarmUp />
        </div>
    }
}

/// One table row. `testids: false` is for rows that are not data (the warm-up's).
fn row_view(index: usize, row: RowRef<'_>, testids: bool) -> impl IntoView {
    let body = row.body.to_owned();
    let title = body.clone();
    view! {
        <div class="row" role="row" data-testid=testids.then_some("row") aria-rowindex=index + 2>
            <span class="c-id" role="cell" data-testid=testids.then_some("row-id")>{row.id.to_string()}</span>
            <span class="c-sender" role="cell">{row.sender.to_owned()}</span>
            <span class="c-body" role="cell" title=title>{body}</span>
            <span class="c-time" role="cell">{row.created_at.to_string()}</span>
        </div>
    }
}

/// Rows the warm-up decodes and renders: accented letters and symbols, so the browser
/// resolves the fallback fonts real rows tend to need.
const WARM_UP_NDJSON: &str = r#"{"id":1,"sender":"zoë","body":"naïve café — ✓ \"quoted\", with\ttabs","created_at":"2024-01-01T00:00:01Z"}
{"id":2,"sender":"ada","body":"the second row","created_at":"2024-01-01T00:00:02.000001Z"}
{"end":{"rows":2}}
"#;

/// Decodes and renders two sample rows off-screen, and removes them two frames later. The
/// first real rows then paint without first-use costs in their way: the Wasm code that
/// decodes and builds rows has run (and been compiled), and the browser has matched the
/// fonts the rows use (font matching goes through a synchronous font-service call, ~10 ms).
#[component]
fn WarmUp() -> impl IntoView {
    let mut sample = RowStore::new();
    let mut decoder = NdjsonDecoder::new();
    // The sample is a valid stream; should it not decode, there is simply nothing to warm.
    let _ = decoder.push(WARM_UP_NDJSON.as_bytes(), &mut sample).and_then(|_| decoder.finish(&mut sample));
    let sample = StoredValue::new_local(sample);
    let done = RwSignal::new(false);
    spawn_local(async move {
        next_frame().await;
        next_frame().await;
        done.set(true);
    });
    view! {
        <Show when=move || !done.get()>
            <div class="warm-up" aria-hidden="true">
                {move || sample.with_value(|s| (0..s.len()).filter_map(|i| s.get(i).map(|row| row_view(i, row, false))).collect_view())}
            </div>
        </Show>
    }
}

/// Keeps `viewport` equal to the rows' share of the scroll container's height, through
/// window resizes and the controls wrapping onto more lines.
fn observe_size(scroll_ref: NodeRef<Div>, viewport: RwSignal<f64>) {
    let observer = StoredValue::new_local(None::<ResizeObserver>);
    scroll_ref.on_load(move |el| {
        let measured = el.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            let height = (f64::from(measured.client_height()) - HEADER_PX).max(0.0);
            if viewport.get_untracked() != height {
                viewport.set(height);
            }
        });
        // The observer holds the function; JS GC frees the Rust closure along with it.
        let callback = callback.into_js_value();
        // Without ResizeObserver (very old browsers) measure once; the table still works.
        match ResizeObserver::new(callback.unchecked_ref()) {
            Ok(resize) => {
                resize.observe(&el);
                observer.set_value(Some(resize));
            }
            Err(_) => viewport.set((f64::from(el.client_height()) - HEADER_PX).max(0.0)),
        }
    });
    on_cleanup(move || {
        if let Some(resize) = observer.try_get_value().flatten() {
            resize.disconnect();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_sample_is_a_valid_stream() {
        let (mut store, mut decoder) = (RowStore::new(), NdjsonDecoder::new());
        decoder.push(WARM_UP_NDJSON.as_bytes(), &mut store).unwrap();
        assert_eq!(decoder.finish(&mut store).unwrap(), 2);
        assert_eq!(store.get(0).unwrap().body, "naïve café — ✓ \"quoted\", with\ttabs");
    }
}
