//! The page: controls, status, stats, the row table, the comparison chart and the token
//! prompt, wired to one [`Runner`].

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use shared::{Mode, BATCH_MAX};

use crate::chart::ComparisonPanel;
use crate::run::{RunRequest, Runner};
use crate::stats::{StatsBar, Status};
use crate::table::RowTable;
use crate::token::{self, TokenPrompt};

/// Reads an optional whole-number field: empty means "not set".
pub fn parse_optional<T: std::str::FromStr>(text: &str, field: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| format!("{field} must be a whole number, or empty."))
}

fn request(mode: Mode, limit: &str, batch: &str) -> Result<RunRequest, String> {
    let limit = parse_optional::<u64>(limit, "Limit")?;
    let batch = parse_optional::<u32>(batch, "Batch size")?;
    if batch.is_some_and(|b| b == 0 || b > BATCH_MAX) {
        return Err(format!("Batch size must be between 1 and {BATCH_MAX}."));
    }
    Ok(RunRequest { mode, limit, batch })
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
    let mode = RwSignal::new(Mode::Stream);
    let limit = RwSignal::new(String::new());
    let batch = RwSignal::new(String::new());
    let input_error = RwSignal::new(None::<String>);
    let running = move || runner.status.get() == Status::Streaming;

    let start = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(token) = token.get_untracked() else {
            prompt.set(Some("A token is needed to load rows.".into()));
            return;
        };
        match request(mode.get_untracked(), &limit.get_untracked(), &batch.get_untracked()) {
            Ok(request) => {
                input_error.set(None);
                runner.start(request, &token);
            }
            Err(problem) => input_error.set(Some(problem)),
        }
    };
    let notice = move || input_error.get().or_else(|| runner.reason.get());

    view! {
        <main class="app">
            <header class="bar">
                <h1>"rowstream"</h1>
                <form class="controls" on:submit=start>
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
                    <button data-testid="start" type="submit" class="primary" disabled=running>"Start"</button>
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
            <StatsBar stats=runner.stats.read_only() />
            <p class="notice" class:error=move || runner.status.get() == Status::Failed || input_error.with(Option::is_some)>
                {notice}
            </p>
            <RowTable store=runner.store rows=runner.rows.read_only() generation=runner.generation.read_only() />
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
        assert_eq!(request(Mode::Stream, "", "").unwrap(), RunRequest { mode: Mode::Stream, limit: None, batch: None });
        assert!(request(Mode::Stream, "", "0").is_err());
        assert!(request(Mode::Stream, "", &(BATCH_MAX + 1).to_string()).is_err());
        assert_eq!(request(Mode::Buffered, "10", "500").unwrap().batch, Some(500));
    }
}
