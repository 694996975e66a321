//! The virtualized row table, for any columns. Only the rows in view (plus
//! [`OVERSCAN_ROWS`](crate::virtual_scroll::OVERSCAN_ROWS)) and, of those, only the columns
//! in view (plus [`OVERSCAN_COLUMNS`](crate::virtual_scroll::OVERSCAN_COLUMNS)) exist in the
//! DOM, whatever the row and column counts; the geometry is [`crate::virtual_scroll`]'s.
//!
//! Structure inside the scroll container: a sticky header row, then a spacer as tall as the
//! (capped) content and as wide as every column, holding a sticky viewport-tall window that
//! renders the visible rows. Because the window is sticky it never needs to be positioned
//! from `scrollTop`: following the tail only changes which rows it shows, and the scroll bar
//! catches up a frame later. Columns have fixed widths by type ([`column_width`]); a row
//! starts with an empty lead as wide as the columns scrolled out on the left.
//!
//! Re-rendering the visible slice rebuilds the same `<div>`s in place (leptos diffs a `Vec`
//! of identical views by position), so scrolling only rewrites text nodes.

use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{Column, ColumnType, SortItem};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::ResizeObserver;

use crate::decode::NdjsonDecoder;
use crate::store::{CellRef, RowStore};
use crate::stream::next_frame;
use crate::virtual_scroll::{self, column_window, is_at_bottom, spacer_height, ROW_HEIGHT_PX};

/// The sticky header row's height; the stylesheet's rows are [`ROW_HEIGHT_PX`] tall too.
const HEADER_PX: f64 = ROW_HEIGHT_PX;

/// Horizontal padding of a row (the stylesheet's `.row` padding, both sides).
const ROW_PADDING_PX: f64 = 24.0;

/// How a column's cells look: numbers right-aligned in tabular digits, JSON and binary in
/// the monospace font.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellStyle {
    Number,
    Bool,
    Time,
    Json,
    Binary,
    Text,
}

impl CellStyle {
    pub fn of(column_type: &ColumnType) -> CellStyle {
        match column_type {
            ColumnType::Int2
            | ColumnType::Int4
            | ColumnType::Int8
            | ColumnType::Float4
            | ColumnType::Float8
            | ColumnType::Numeric
            | ColumnType::SqliteInteger
            | ColumnType::SqliteReal
            | ColumnType::SqliteNumeric => CellStyle::Number,
            ColumnType::Bool => CellStyle::Bool,
            ColumnType::Date
            | ColumnType::Time
            | ColumnType::Timestamp
            | ColumnType::Timestamptz
            | ColumnType::Interval
            | ColumnType::Uuid => CellStyle::Time,
            ColumnType::Json | ColumnType::Jsonb | ColumnType::Array(_) => CellStyle::Json,
            ColumnType::Bytea | ColumnType::SqliteBlob => CellStyle::Binary,
            ColumnType::Text | ColumnType::SqliteText | ColumnType::Enum { .. } | ColumnType::Other(_) => {
                CellStyle::Text
            }
        }
    }

    fn class(self) -> &'static str {
        match self {
            CellStyle::Number => "cell num",
            CellStyle::Bool => "cell bool",
            CellStyle::Time => "cell time",
            CellStyle::Json => "cell json",
            CellStyle::Binary => "cell bin",
            CellStyle::Text => "cell text",
        }
    }
}

/// A column's width in px: by its type, widened for a long name.
pub fn column_width(column: &Column) -> f64 {
    let by_type: f64 = match &column.column_type {
        ColumnType::Int2 | ColumnType::Int4 | ColumnType::Bool => 80.0,
        ColumnType::Int8 | ColumnType::SqliteInteger => 110.0,
        ColumnType::Float4 | ColumnType::Float8 | ColumnType::SqliteReal => 130.0,
        ColumnType::Numeric | ColumnType::SqliteNumeric => 160.0,
        ColumnType::Date => 110.0,
        ColumnType::Time => 130.0,
        ColumnType::Timestamp | ColumnType::Timestamptz => 230.0,
        ColumnType::Interval => 170.0,
        ColumnType::Uuid => 300.0,
        ColumnType::Json | ColumnType::Jsonb | ColumnType::Array(_) => 260.0,
        ColumnType::Bytea | ColumnType::SqliteBlob => 180.0,
        ColumnType::Enum { .. } | ColumnType::Other(_) => 150.0,
        ColumnType::Text | ColumnType::SqliteText => 320.0,
    };
    // The name in the header's 12px bold font, the type beside it, the sort mark.
    let header = (column.name.chars().count() + column.sql_type.chars().count().min(14)) as f64 * 7.5 + 48.0;
    by_type.max(header).min(480.0)
}

/// The columns' left edges and, last, the total width.
fn lefts(columns: &[Column]) -> Vec<f64> {
    let mut edges = Vec::with_capacity(columns.len() + 1);
    let mut x = 0.0;
    edges.push(x);
    for column in columns {
        x += column_width(column);
        edges.push(x);
    }
    edges
}

/// What the table renders from: the columns and their geometry.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    columns: Vec<Column>,
    styles: Vec<CellStyle>,
    lefts: Vec<f64>,
}

impl Layout {
    fn new(columns: Vec<Column>) -> Layout {
        Layout {
            styles: columns.iter().map(|c| CellStyle::of(&c.column_type)).collect(),
            lefts: lefts(&columns),
            columns,
        }
    }

    fn total_width(&self) -> f64 {
        self.lefts.last().copied().unwrap_or(0.0) + ROW_PADDING_PX
    }

    fn width(&self, column: usize) -> f64 {
        self.lefts[column + 1] - self.lefts[column]
    }
}

#[component]
pub fn RowTable(
    store: StoredValue<RowStore, LocalStorage>,
    /// The columns of the store's rows, in order.
    #[prop(into)]
    columns: Signal<Vec<Column>>,
    /// Rows of `store` to show.
    rows: ReadSignal<usize>,
    /// Changes with each run.
    generation: ReadSignal<u64>,
    /// The current `order=`, for the headers' marks.
    #[prop(into, optional)]
    order: Signal<Vec<SortItem>>,
    /// A header was clicked (the column's name; whether shift was held).
    #[prop(optional)]
    on_sort: Option<Callback<(String, bool)>>,
    /// The row whose details are shown; a click on a row sets it.
    #[prop(optional)]
    selected: Option<RwSignal<Option<usize>>>,
) -> impl IntoView {
    let scroll_ref = NodeRef::<Div>::new();
    // Height available to rows: the scroll container minus the header; and its width.
    let viewport = RwSignal::new(0.0_f64);
    let viewport_width = RwSignal::new(0.0_f64);
    let scroll_top = RwSignal::new(0.0_f64);
    let scroll_left = RwSignal::new(0.0_f64);
    let follow = RwSignal::new(true);
    // The last scrollTop seen, to tell a scroll up (the user leaving the tail) from the
    // programmatic scrolls down that following makes.
    let last_top = StoredValue::new(0.0_f64);

    let layout = Memo::new(move |_| Layout::new(columns.get()));
    let window = Memo::new(move |_| {
        (generation.get(), virtual_scroll::window(rows.get(), viewport.get(), scroll_top.get(), follow.get()))
    });
    let shown_columns = Memo::new(move |_| {
        layout.with(|l| {
            column_window(&l.lefts, viewport_width.get(), (scroll_left.get() - ROW_PADDING_PX / 2.0).max(0.0))
        })
    });

    observe_size(scroll_ref, viewport, viewport_width);

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
        let Some(el) = scroll_ref.get_untracked() else {
            return;
        };
        let left = f64::from(el.scroll_left());
        if scroll_left.get_untracked() != left {
            scroll_left.set(left);
        }
        let top = f64::from(el.scroll_top());
        let previous = last_top.get_value();
        last_top.set_value(top);
        if scroll_top.get_untracked() != top {
            scroll_top.set(top);
        }
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
        let (first, last) = shown_columns.get();
        layout.with(|layout| {
            store.with_value(|store| {
                (w.start..w.end).map(|i| row_view(i, store, layout, first..last, true, selected)).collect_view()
            })
        })
    };

    let header = move || {
        let (first, last) = shown_columns.get();
        layout.with(|layout| {
            let lead = layout.lefts[first];
            let cells = (first..last)
                .map(|c| {
                    let column = &layout.columns[c];
                    header_cell(column, layout.width(c), layout.styles[c], order, on_sort)
                })
                .collect_view();
            view! { <span class="lead" style:width=format!("{lead}px")></span> {cells} }
        })
    };

    let width = move || format!("{}px", layout.with(Layout::total_width));

    view! {
        <div class="table" role="table" aria-label="Rows" aria-rowcount=move || rows.get() + 1 aria-colcount=move || layout.with(|l| l.columns.len())>
            <div class="table-scroll" data-testid="table-scroll" node_ref=scroll_ref on:scroll=on_scroll tabindex="0">
                <div class="row head" role="row" style:width=width>{header}</div>
                <div class="spacer" style:height=move || format!("{}px", spacer_height(rows.get())) style:width=width>
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

/// One header cell: the name, the type, the sort mark; a click (or Enter) sorts.
fn header_cell(
    column: &Column,
    width: f64,
    style: CellStyle,
    order: Signal<Vec<SortItem>>,
    on_sort: Option<Callback<(String, bool)>>,
) -> impl IntoView {
    let name = column.name.clone();
    let mark = {
        let name = name.clone();
        move || {
            order.with(|order| {
                let position = order.iter().position(|s| s.column == name)?;
                let arrow = if order[position].descending { "▼" } else { "▲" };
                Some(if order.len() > 1 { format!("{arrow}{}", position + 1) } else { arrow.to_owned() })
            })
        }
    };
    let sort_state = {
        let name = name.clone();
        move || {
            order.with(|order| match order.iter().find(|s| s.column == name) {
                Some(s) if s.descending => "descending",
                Some(_) => "ascending",
                None => "none",
            })
        }
    };
    let click_name = name.clone();
    let key_name = name.clone();
    let data_column = name.clone();
    let title = format!("{} ({}). Click to sort; shift-click to add to the sort.", column.name, column.sql_type);
    view! {
        <span class=format!("{} h", style.class()) role="columnheader" data-testid="column-header" data-column=data_column
            aria-sort=sort_state tabindex=if on_sort.is_some() { "0" } else { "-1" } title=title
            style:width=format!("{width}px")
            on:click=move |ev| if let Some(on_sort) = on_sort { on_sort.run((click_name.clone(), ev.shift_key())) }
            on:keydown=move |ev| {
                if ev.key() == "Enter" || ev.key() == " " {
                    ev.prevent_default();
                    if let Some(on_sort) = on_sort { on_sort.run((key_name.clone(), ev.shift_key())) }
                }
            }>
            <span class="h-name">{name}</span>
            <span class="h-type">{column.sql_type.clone()}</span>
            <span class="h-sort">{mark}</span>
        </span>
    }
}

/// One table row, columns `shown` of it. `testids: false` is for rows that are not data
/// (the warm-up's).
fn row_view(
    index: usize,
    store: &RowStore,
    layout: &Layout,
    shown: std::ops::Range<usize>,
    testids: bool,
    selected: Option<RwSignal<Option<usize>>>,
) -> impl IntoView {
    let lead = layout.lefts.get(shown.start).copied().unwrap_or(0.0);
    let cells = shown
        .map(|c| {
            let cell = store.cell(index, c).unwrap_or(CellRef::Null);
            let null = cell.is_null();
            let class = if null { "cell null" } else { layout.styles[c].class() };
            let text = if null { "NULL".to_owned() } else { cell.to_text() };
            view! {
                <span class=class role="cell" data-testid=testids.then_some("cell")
                    data-column=layout.columns[c].name.clone() data-null=null.then_some("true")
                    style:width=format!("{}px", layout.width(c))>{text}</span>
            }
        })
        .collect_view();
    let is_selected = move || selected.is_some_and(|s| s.get() == Some(index));
    view! {
        <div class="row" class:selected=is_selected role="row" data-testid=testids.then_some("row") aria-rowindex=index + 2
            on:click=move |_| if let Some(selected) = selected { selected.set(Some(index)) }>
            <span class="lead" style:width=format!("{lead}px")></span>
            {cells}
        </div>
    }
}

/// Rows the warm-up decodes and renders: accented letters and symbols, so the browser
/// resolves the fallback fonts real rows tend to need.
const WARM_UP_NDJSON: &str = r#"{"id":1,"sender":"zoë","body":"naïve café — ✓ \"quoted\", with\ttabs","created_at":"2024-01-01T00:00:01Z"}
{"id":2,"sender":"ada","body":"the second row","created_at":"2024-01-01T00:00:02.000001Z"}
{"end":{"rows":2}}
"#;

/// The warm-up rows' columns.
fn warm_up_columns() -> Vec<Column> {
    [
        ("id", ColumnType::Int8),
        ("sender", ColumnType::Text),
        ("body", ColumnType::Text),
        ("created_at", ColumnType::Timestamptz),
    ]
    .into_iter()
    .map(|(name, column_type)| Column { name: name.into(), column_type, nullable: false, sql_type: String::new() })
    .collect()
}

/// Decodes and renders two sample rows off-screen, and removes them two frames later. The
/// first real rows then paint without first-use costs in their way: the Wasm code that
/// decodes and builds rows has run (and been compiled), and the browser has matched the
/// fonts the rows use (font matching goes through a synchronous font-service call, ~10 ms).
#[component]
fn WarmUp() -> impl IntoView {
    let layout = Layout::new(warm_up_columns());
    let mut sample = RowStore::new(&layout.columns);
    let mut decoder = NdjsonDecoder::new(&["id", "sender", "body", "created_at"]);
    // The sample is a valid stream; should it not decode, there is simply nothing to warm.
    let _ = decoder.push(WARM_UP_NDJSON.as_bytes(), &mut sample).and_then(|_| decoder.finish(&mut sample));
    let rows = sample.len();
    let sample = StoredValue::new_local(sample);
    let done = RwSignal::new(false);
    spawn_local(async move {
        next_frame().await;
        next_frame().await;
        done.set(true);
    });
    let columns = layout.columns.len();
    view! {
        <Show when=move || !done.get()>
            <div class="warm-up" aria-hidden="true">
                {sample.with_value(|s| (0..rows).map(|i| row_view(i, s, &layout, 0..columns, false, None)).collect_view())}
            </div>
        </Show>
    }
}

/// Keeps `viewport` equal to the rows' share of the scroll container's height (and
/// `viewport_width` to its width), through window resizes and the controls wrapping onto
/// more lines.
fn observe_size(scroll_ref: NodeRef<Div>, viewport: RwSignal<f64>, viewport_width: RwSignal<f64>) {
    let observer = StoredValue::new_local(None::<ResizeObserver>);
    scroll_ref.on_load(move |el| {
        let measured = el.clone();
        let measure = move || {
            let height = (f64::from(measured.client_height()) - HEADER_PX).max(0.0);
            if viewport.get_untracked() != height {
                viewport.set(height);
            }
            let width = f64::from(measured.client_width());
            if viewport_width.get_untracked() != width {
                viewport_width.set(width);
            }
        };
        let callback = Closure::<dyn FnMut()>::new(measure.clone());
        // The observer holds the function; JS GC frees the Rust closure along with it.
        let callback = callback.into_js_value();
        // Without ResizeObserver (very old browsers) measure once; the table still works.
        match ResizeObserver::new(callback.unchecked_ref()) {
            Ok(resize) => {
                resize.observe(&el);
                observer.set_value(Some(resize));
            }
            Err(_) => measure(),
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
        let columns = warm_up_columns();
        let (mut store, mut decoder) =
            (RowStore::new(&columns), NdjsonDecoder::new(&["id", "sender", "body", "created_at"]));
        decoder.push(WARM_UP_NDJSON.as_bytes(), &mut store).unwrap();
        assert_eq!(decoder.finish(&mut store).unwrap(), 2);
        assert_eq!(store.cell(0, 2), Some(CellRef::Text("naïve café — ✓ \"quoted\", with\ttabs")));
    }

    #[test]
    fn columns_are_as_wide_as_their_type_and_name() {
        let column = |name: &str, column_type| Column {
            name: name.into(),
            column_type,
            nullable: true,
            sql_type: String::new(),
        };
        assert_eq!(column_width(&column("n", ColumnType::Int4)), 80.0);
        assert!(column_width(&column("a_rather_long_column_name", ColumnType::Int4)) > 200.0);
        let edges = lefts(&[column("a", ColumnType::Int4), column("b", ColumnType::Text)]);
        assert_eq!(edges, [0.0, 80.0, 400.0]);
    }
}
