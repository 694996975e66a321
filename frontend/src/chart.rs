//! The comparison panel: the last completed Stream run against the last completed Standard
//! (buffered) run, as an inline SVG of horizontal bars: time to first row and total time.
//!
//! The bar geometry is a pure function ([`bars`]), the view only draws it.

use leptos::prelude::*;
use shared::Mode;

/// What the chart keeps of a completed run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunResult {
    pub rows: u64,
    pub first_row_ms: f64,
    pub total_ms: f64,
}

/// The latest completed run of each mode.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Comparison {
    pub stream: Option<RunResult>,
    pub standard: Option<RunResult>,
}

impl Comparison {
    pub fn record(&mut self, mode: Mode, result: RunResult) {
        match mode {
            Mode::Stream => self.stream = Some(result),
            Mode::Buffered => self.standard = Some(result),
        }
    }
}

/// One bar, `fraction` of the longest.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub group: &'static str,
    pub metric: &'static str,
    pub ms: f64,
    pub fraction: f64,
    /// Stream bars and Standard bars get different colours.
    pub stream: bool,
}

/// The four bars, scaled to the longest; `None` until both modes have a completed run.
pub fn bars(comparison: &Comparison) -> Option<Vec<Bar>> {
    let (stream, standard) = (comparison.stream?, comparison.standard?);
    let max = [stream.first_row_ms, stream.total_ms, standard.first_row_ms, standard.total_ms]
        .into_iter()
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let bar = |group, metric, ms: f64, stream| Bar { group, metric, ms, fraction: (ms / max).clamp(0.0, 1.0), stream };
    Some(vec![
        bar("Stream", "first row", stream.first_row_ms, true),
        bar("Stream", "total", stream.total_ms, true),
        bar("Standard", "first row", standard.first_row_ms, false),
        bar("Standard", "total", standard.total_ms, false),
    ])
}

// SVG layout, in viewBox units.
const WIDTH: f64 = 520.0;
const LABEL_W: f64 = 140.0;
const VALUE_W: f64 = 90.0;
const BAR_H: f64 = 16.0;
const GAP: f64 = 6.0;
const GROUP_GAP: f64 = 10.0;

#[component]
pub fn ComparisonPanel(comparison: ReadSignal<Comparison>) -> impl IntoView {
    let missing = move || {
        let c = comparison.get();
        match (c.stream, c.standard) {
            (None, None) => "Run both modes to compare them here.",
            (None, Some(_)) => "Now run Stream to compare.",
            (Some(_), None) => "Now run Standard to compare.",
            (Some(_), Some(_)) => "",
        }
    };
    view! {
        <section class="compare" aria-label="Stream versus Standard">
            <h2>"Stream vs Standard"</h2>
            {move || match bars(&comparison.get()) {
                None => view! { <p class="hint">{missing}</p> }.into_any(),
                Some(bars) => chart(bars, comparison.get()).into_any(),
            }}
        </section>
    }
}

fn chart(bars: Vec<Bar>, comparison: Comparison) -> impl IntoView {
    let bar_area = WIDTH - LABEL_W - VALUE_W;
    let height = 4.0 * (BAR_H + GAP) + GROUP_GAP;
    let rows_note = match (comparison.stream, comparison.standard) {
        (Some(s), Some(b)) if s.rows != b.rows => {
            format!("Different row counts: {} vs {}.", s.rows, b.rows)
        }
        _ => String::new(),
    };
    let shapes = bars
        .into_iter()
        .enumerate()
        .map(|(i, bar)| {
            let y = i as f64 * (BAR_H + GAP) + if i >= 2 { GROUP_GAP } else { 0.0 };
            let width = (bar.fraction * bar_area).max(1.0);
            let label = if i % 2 == 0 { format!("{} · {}", bar.group, bar.metric) } else { bar.metric.to_owned() };
            let class = match (bar.stream, bar.metric) {
                (true, "total") => "bar stream total",
                (true, _) => "bar stream",
                (false, "total") => "bar standard total",
                (false, _) => "bar standard",
            };
            view! {
                <g>
                    <text x=LABEL_W - 8.0 y=y + BAR_H - 4.0 text-anchor="end" class="bar-label">{label}</text>
                    <rect x=LABEL_W y=y width=width height=BAR_H rx="2" class=class>
                        <title>{format!("{} {}: {:.1} ms", bar.group, bar.metric, bar.ms)}</title>
                    </rect>
                    <text x=LABEL_W + width + 6.0 y=y + BAR_H - 4.0 class="bar-value">{format!("{:.1} ms", bar.ms)}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <svg data-testid="chart" class="chart" viewBox=format!("0 0 {WIDTH} {height}") role="img"
             aria-label="Time to first row and total time, Stream versus Standard">
            {shapes}
        </svg>
        <p class="hint">{rows_note}</p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_need_both_modes_and_scale_to_the_longest() {
        let mut c = Comparison::default();
        c.record(Mode::Stream, RunResult { rows: 10, first_row_ms: 5.0, total_ms: 100.0 });
        assert_eq!(bars(&c), None);
        c.record(Mode::Buffered, RunResult { rows: 10, first_row_ms: 180.0, total_ms: 200.0 });
        let bars = bars(&c).unwrap();
        let fractions: Vec<f64> = bars.iter().map(|b| b.fraction).collect();
        assert_eq!(fractions, [0.025, 0.5, 0.9, 1.0]);
        assert_eq!((bars[2].group, bars[2].metric, bars[2].stream), ("Standard", "first row", false));
    }

    #[test]
    fn zero_times_do_not_divide_by_zero() {
        let zero = RunResult { rows: 0, first_row_ms: 0.0, total_ms: 0.0 };
        let c = Comparison { stream: Some(zero), standard: Some(zero) };
        assert!(bars(&c).unwrap().iter().all(|b| b.fraction == 0.0));
    }
}
