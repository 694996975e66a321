//! The page: the relation picker, controls, filter bar, status, stats, the row table with
//! its detail panel, the curl line, the comparison chart and the token prompt, wired to one
//! [`Runner`] and one [`ViewState`] that the address bar mirrors.

use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{Format, Mode, RowSource, BATCH_MAX};

use crate::catalog::Catalog;
use crate::chart::ComparisonPanel;
use crate::curl::CurlLine;
use crate::detail::DetailPanel;
use crate::download::DownloadButton;
use crate::filter_bar::{ColumnChooser, FilterBar};
use crate::picker::{QueryParams, RelationPicker};
use crate::run::{RunRequest, Runner};
use crate::stats::{StatsBar, Status};
use crate::table::RowTable;
use crate::token::{self, TokenPrompt};
use crate::view_state::ViewState;

/// Reads an optional whole-number field: empty means "not set".
pub fn parse_optional<T: std::str::FromStr>(text: &str, field: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| format!("{field} must be a whole number, or empty."))
}

/// The limit and batch fields, checked.
fn limits(limit: &str, batch: &str) -> Result<(Option<u64>, Option<u32>), String> {
    let limit = parse_optional::<u64>(limit, "Limit")?;
    let batch = parse_optional::<u32>(batch, "Batch size")?;
    if batch.is_some_and(|b| b == 0 || b > BATCH_MAX) {
        return Err(format!("Batch size must be between 1 and {BATCH_MAX}."));
    }
    Ok((limit, batch))
}

/// The page's address for `view` (path, then its query string), never with the token.
fn page_address(view: &ViewState) -> String {
    let path = window().location().pathname().unwrap_or_else(|_| "/".into());
    let query = view.to_page_query();
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// Puts `view` in the address bar, replacing the entry (every run would otherwise be a
/// step of the back button).
fn show_in_address_bar(view: &ViewState) {
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&page_address(view)));
    }
}

/// One choice of the Stream / Standard switch.
#[component]
fn ModeOption(
    mode: RwSignal<Mode>,
    value: Mode,
    testid: &'static str,
    label: &'static str,
    title: &'static str,
) -> impl IntoView {
    view! {
        <label title=title>
            <input type="radio" name="mode" data-testid=testid
                prop:checked=move || mode.get() == value
                on:change=move |_| mode.set(value) />
            <span>{label}</span>
        </label>
    }
}

#[component]
pub fn App() -> impl IntoView {
    let token = RwSignal::new(token::load());
    let prompt = RwSignal::new(token.get_untracked().is_none().then(|| "Paste an API token to load rows.".to_owned()));
    let runner = Runner::new(prompt);
    // What the address bar said at start: restored once the catalog is in.
    let initial = ViewState::from_page_query(&window().location().search().unwrap_or_default());
    let restore = initial.source.is_some();
    let mode = RwSignal::new(initial.mode);
    let limit = RwSignal::new(initial.limit.map(|l| l.to_string()).unwrap_or_default());
    let batch = RwSignal::new(initial.batch.map(|b| b.to_string()).unwrap_or_default());
    let view = RwSignal::new(initial);
    let catalog = RwSignal::new(None::<Catalog>);
    let input_error = RwSignal::new(None::<String>);
    let selected = RwSignal::new(None::<usize>);
    let export_format = RwSignal::new(Format::Ndjson);
    let running = move || runner.status.get() == Status::Streaming;

    // The view with the controls' current mode, limit and batch: what Start would run.
    let current = Memo::new(move |_| {
        let mut v = view.get();
        v.mode = mode.get();
        if let Ok((l, b)) = limits(&limit.get(), &batch.get()) {
            v.limit = l;
            v.batch = b;
        }
        v
    });

    let start_view = move || {
        let Some(token) = token.get_untracked() else {
            prompt.set(Some("A token is needed to load rows.".into()));
            return;
        };
        if let Err(problem) = limits(&limit.get_untracked(), &batch.get_untracked()) {
            input_error.set(Some(problem));
            return;
        }
        // The fields are valid: the view with them is `current`'s.
        let v = current.get_untracked();
        view.set(v.clone());
        let (Some(source), Some(url)) = (v.source.clone(), v.api_url(Format::Ndjson)) else {
            input_error.set(Some("Pick a table, view or saved query first.".into()));
            return;
        };
        let columns = catalog.with_untracked(|c| c.as_ref().map(|c| c.selected_columns(&source, &v.select)));
        let Some(columns) = columns else {
            input_error.set(Some("The list of tables is still loading.".into()));
            return;
        };
        input_error.set(None);
        selected.set(None);
        show_in_address_bar(&v);
        runner.start(RunRequest { url, mode: v.mode, columns }, &token);
    };

    // Loads the catalog whenever the token changes; then shows the address bar's view (and
    // runs it, if the address named one) or the default relation.
    Effect::new(move |_| {
        let Some(token) = token.get() else { return };
        spawn_local(async move {
            match Catalog::load(&token).await {
                Ok(loaded) => {
                    let wanted = view.with_untracked(|v| v.source.clone());
                    let known = wanted.as_ref().is_some_and(|s| loaded.columns(s).is_some());
                    if !known {
                        let source = loaded.default_source();
                        view.update(|v| *v = v.for_source(source, Vec::new()));
                    }
                    let columns =
                        view.with_untracked(|v| v.source.as_ref().map(|s| loaded.selected_columns(s, &v.select)));
                    catalog.set(Some(loaded));
                    runner.show_columns(columns.unwrap_or_default());
                    if restore && known {
                        start_view();
                    } else if wanted.is_some() && !known {
                        input_error.set(Some("The address names a table or query this server does not serve.".into()));
                    }
                }
                Err(error) => {
                    if error.is_unauthorized() {
                        prompt.set(Some(format!("The server rejected the token ({error}).")));
                    } else {
                        input_error.set(Some(format!("Could not load the list of tables: {error}")));
                    }
                }
            }
        });
    });

    let pick = Callback::new(move |source: RowSource| {
        let defaults: Vec<(String, String)> = match &source {
            RowSource::Query(name) => catalog.with_untracked(|c| {
                c.as_ref()
                    .and_then(|c| c.query(name))
                    .map(|q| q.params.iter().map(|p| (p.name.clone(), p.default.clone().unwrap_or_default())).collect())
                    .unwrap_or_default()
            }),
            RowSource::Relation(_) => Vec::new(),
        };
        view.update(|v| *v = v.for_source(Some(source.clone()), defaults));
        runner.cancel();
        let columns = catalog.with_untracked(|c| c.as_ref().map(|c| c.selected_columns(&source, &[])));
        selected.set(None);
        runner.show_columns(columns.unwrap_or_default());
        show_in_address_bar(&view.get_untracked());
    });

    // Sorting, filtering and choosing columns start a new stream of the new view.
    let on_sort = Callback::new(move |(column, add): (String, bool)| {
        view.update(|v| v.toggle_sort(&column, add));
        start_view();
    });
    let on_filters = Callback::new(move |filters| {
        view.update(|v| v.filters = filters);
        start_view();
    });
    let on_select = Callback::new(move |select| {
        view.update(|v| v.select = select);
        start_view();
    });

    let is_relation = move || view.with(|v| matches!(v.source, Some(RowSource::Relation(_))));
    let all_columns = Signal::derive(move || {
        view.with(|v| {
            catalog.with(|c| c.as_ref().zip(v.source.as_ref()).and_then(|(c, s)| c.columns(s)).map(<[_]>::to_vec))
        })
        .unwrap_or_default()
    });

    let start = move |ev: SubmitEvent| {
        ev.prevent_default();
        start_view();
    };
    let on_key = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            if selected.get_untracked().is_some() {
                selected.set(None);
            } else {
                runner.cancel();
            }
        }
    };
    let notice = move || input_error.get().or_else(|| runner.reason.get());

    view! {
        <main class="app" on:keydown=on_key>
            <header class="bar">
                <h1>"rowstream"</h1>
                <form class="controls" on:submit=start>
                    <RelationPicker catalog=catalog.read_only() view=view on_pick=pick />
                    <div class="segmented" role="radiogroup" aria-label="Response mode">
                        <ModeOption mode value=Mode::Stream testid="mode-stream" label="Stream"
                            title="Rows are sent as the database reads them" />
                        <ModeOption mode value=Mode::Buffered testid="mode-standard" label="Standard"
                            title="The server builds the whole body first (mode=buffered)" />
                    </div>
                    // `change` as well as `input`: clearing a field programmatically (autofill,
                    // WebDriver's clear) fires only `change`.
                    <label class="field">
                        <span>"Limit"</span>
                        <input data-testid="limit" type="number" min="0" step="1" placeholder="all" inputmode="numeric"
                            prop:value=move || limit.get()
                            on:input=move |ev| limit.set(event_target_value(&ev))
                            on:change=move |ev| limit.set(event_target_value(&ev)) />
                    </label>
                    <label class="field">
                        <span>"Batch"</span>
                        <input data-testid="batch" type="number" min="1" max=BATCH_MAX step="1" placeholder="auto" inputmode="numeric"
                            prop:value=move || batch.get()
                            on:input=move |ev| batch.set(event_target_value(&ev))
                            on:change=move |ev| batch.set(event_target_value(&ev)) />
                    </label>
                    <QueryParams catalog=catalog.read_only() view=view />
                    <button data-testid="start" type="submit" class="primary">"Start"</button>
                    <button data-testid="cancel" type="button" disabled=move || !running() on:click=move |_| runner.cancel()>
                        "Cancel"
                    </button>
                </form>
                <div class="bar-end">
                    <span class=move || format!("status status-{}", runner.status.get().as_str()) data-testid="status" role="status">
                        {move || runner.status.get().as_str()}
                    </span>
                    <button type="button" class="quiet" on:click=move |_| prompt.set(Some("Replace the API token.".into()))>
                        "Token"
                    </button>
                </div>
            </header>
            <Show when=is_relation>
                <div class="view-bar">
                    <FilterBar columns=all_columns filters=Signal::derive(move || view.with(|v| v.filters.clone())) on_change=on_filters />
                    <ColumnChooser columns=all_columns select=Signal::derive(move || view.with(|v| v.select.clone())) on_change=on_select />
                </div>
            </Show>
            <StatsBar stats=runner.stats.read_only() />
            <p class="notice" class:error=move || runner.status.get() == Status::Failed || input_error.with(Option::is_some)>
                {notice}
            </p>
            <div class="table-area">
                <RowTable store=runner.store columns=runner.columns rows=runner.rows.read_only()
                    generation=runner.generation.read_only()
                    order=Signal::derive(move || view.with(|v| v.order.clone()))
                    on_sort=on_sort selected=selected />
                <DetailPanel store=runner.store columns=runner.columns rows=runner.rows.read_only() selected=selected />
            </div>
            <CurlLine view=current format=export_format>
                <DownloadButton view=current format=export_format token=token />
            </CurlLine>
            <ComparisonPanel comparison=runner.comparison.read_only() />
            <TokenPrompt token=token prompt=prompt />
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_controls() {
        assert_eq!(parse_optional::<u64>("", "Limit"), Ok(None));
        assert_eq!(parse_optional::<u64>(" 100 ", "Limit"), Ok(Some(100)));
        assert!(parse_optional::<u64>("-1", "Limit").is_err());
        assert!(parse_optional::<u64>("1.5", "Limit").is_err());
        assert_eq!(limits("", ""), Ok((None, None)));
        assert!(limits("", "0").is_err());
        assert!(limits("", &(BATCH_MAX + 1).to_string()).is_err());
        assert_eq!(limits("10", "500"), Ok((Some(10), Some(500))));
    }
}
