//! A run's status and live figures ([`Status`], [`Stats`]) and the stat boxes that show them.
//!
//! The figures are copied into one signal at most once per animation frame (see `run.rs`),
//! so the boxes cost nothing per row. Their text comes from the pure `fmt_*` functions; the
//! boxes have fixed widths and tabular digits so nothing moves while the numbers change.

use leptos::prelude::*;

/// What a run is doing; `as_str` is the exact text of `data-testid="status"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    Idle,
    Streaming,
    Done,
    Cancelled,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Streaming => "streaming",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
            Status::Failed => "failed",
        }
    }
}

/// A run's figures at one instant. Times are ms since Start.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub rows: u64,
    pub bytes: u64,
    /// The response's status line and headers arrived.
    pub first_byte_ms: Option<f64>,
    /// The frame that first showed rows began.
    pub first_row_ms: Option<f64>,
    /// Time since Start; at the end, the run's total.
    pub elapsed_ms: f64,
}

impl Stats {
    pub fn rows_per_sec(&self) -> Option<f64> {
        (self.elapsed_ms > 0.0 && self.rows > 0).then(|| self.rows as f64 * 1000.0 / self.elapsed_ms)
    }
}

/// `12.3`: milliseconds with one decimal, or an en dash when unknown.
pub fn fmt_ms(ms: Option<f64>) -> String {
    ms.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1}"))
}

/// `1 234 567` with thin spaces: readable and unambiguous in every locale.
pub fn fmt_count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() * 2);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(digit);
    }
    out
}

/// `512 B`, `64.0 KB`, `61.2 MB` (powers of 1000, as network tools count).
pub fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// One labelled figure. `testid`/`value` is the bare number tests read; `unit` sits outside it.
#[component]
fn StatBox(
    label: &'static str,
    #[prop(optional)] testid: Option<&'static str>,
    #[prop(into)] value: Signal<String>,
    #[prop(optional)] unit: &'static str,
    #[prop(optional)] wide: bool,
) -> impl IntoView {
    view! {
        <div class="stat" class:wide=wide>
            <span class="stat-label">{label}</span>
            <span class="stat-value">
                <span data-testid=testid>{move || value.get()}</span>
                <span class="stat-unit">{unit}</span>
            </span>
        </div>
    }
}

#[component]
pub fn StatsBar(stats: ReadSignal<Stats>) -> impl IntoView {
    let field = move |f: fn(&Stats) -> String| Signal::derive(move || stats.with(f));
    view! {
        <section class="stats" aria-label="Run statistics">
            <StatBox label="First byte" value=field(|s| fmt_ms(s.first_byte_ms)) unit="ms" />
            <StatBox label="First row" testid="first-row-ms" value=field(|s| fmt_ms(s.first_row_ms)) unit="ms" />
            <StatBox label="Rows" testid="row-count" value=field(|s| s.rows.to_string()) wide=true />
            <StatBox label="Received" value=field(|s| fmt_bytes(s.bytes)) />
            <StatBox label="Rows/s" value=field(|s| s.rows_per_sec().map_or_else(|| "–".into(), |r| fmt_count(r.round() as u64))) wide=true />
            <StatBox label="Elapsed" testid="total-ms" value=field(|s| fmt_ms(Some(s.elapsed_ms))) unit="ms" />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_figures() {
        assert_eq!(fmt_ms(None), "–");
        assert_eq!(fmt_ms(Some(12.345)), "12.3");
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1_234_567), "1\u{2009}234\u{2009}567");
        assert_eq!(fmt_bytes(999), "999 B");
        assert_eq!(fmt_bytes(64_000), "64.0 KB");
        assert_eq!(fmt_bytes(61_234_567), "61.2 MB");
        assert_eq!(fmt_bytes(999_999), "1.0 MB");
    }

    #[test]
    fn rate_needs_time_and_rows() {
        let stats = Stats { rows: 500, elapsed_ms: 250.0, ..Stats::default() };
        assert_eq!(stats.rows_per_sec(), Some(2000.0));
        assert_eq!(Stats::default().rows_per_sec(), None);
    }
}
