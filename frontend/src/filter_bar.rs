//! The filter bar (column, operator from the API's grammar, value; the active filters as
//! removable chips) and the column chooser (`select=`). Each change is handed to the page,
//! which starts a new stream.

use leptos::prelude::*;
use shared::Column;

use crate::view_state::{Filter, FILTER_OPS};

/// The operator's label in the menu.
fn op_label(op: &str) -> &'static str {
    match op {
        "eq" => "=",
        "neq" => "≠",
        "gt" => ">",
        "gte" => "≥",
        "lt" => "<",
        "lte" => "≤",
        "like" => "like",
        "ilike" => "ilike",
        "in" => "in (a,b)",
        "is" => "is (null/true/false)",
        "not.like" => "not like",
        "not.ilike" => "not ilike",
        "not.in" => "not in",
        "not.is" => "is not",
        _ => "?",
    }
}

#[component]
pub fn FilterBar(
    /// Every column of the relation (filters may use columns not shown).
    #[prop(into)]
    columns: Signal<Vec<Column>>,
    #[prop(into)] filters: Signal<Vec<Filter>>,
    on_change: Callback<Vec<Filter>>,
) -> impl IntoView {
    let column = RwSignal::new(String::new());
    let op = RwSignal::new("eq".to_owned());
    let value = RwSignal::new(String::new());
    let add = move || {
        // The menu shows its first column until one is chosen (and after the relation
        // changed under a choice).
        let chosen = column.get_untracked();
        let chosen =
            columns.with_untracked(|c| c.iter().find(|c| c.name == chosen).or(c.first()).map(|c| c.name.clone()));
        let Some(chosen) = chosen else { return };
        let mut next = filters.get_untracked();
        next.push(Filter { column: chosen, op: op.get_untracked(), value: value.get_untracked() });
        value.set(String::new());
        on_change.run(next);
    };
    let remove = move |index: usize| {
        let mut next = filters.get_untracked();
        if index < next.len() {
            next.remove(index);
            on_change.run(next);
        }
    };
    let column_options = move || {
        columns.with(|columns| {
            columns
                .iter()
                .map(|c| {
                    let (value, label) = (c.name.clone(), c.name.clone());
                    view! { <option value=value>{label}</option> }
                })
                .collect_view()
        })
    };
    let chips = move || {
        filters
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let text = format!("{} {} {}", f.column, op_label(&f.op), f.value);
                view! {
                    <span class="chip" data-testid="filter">
                        {text}
                        <button type="button" class="quiet" aria-label="Remove this filter" on:click=move |_| remove(i)>"×"</button>
                    </span>
                }
            })
            .collect_view()
    };
    view! {
        <div class="filters" role="group" aria-label="Filters">
            <select data-testid="filter-column" aria-label="Filter column"
                prop:value=move || {
                    let chosen = column.get();
                    columns.with(|c| c.iter().find(|c| c.name == chosen).or(c.first()).map(|c| c.name.clone()))
                }
                on:change=move |ev| column.set(event_target_value(&ev))>
                {column_options}
            </select>
            <select data-testid="filter-op" aria-label="Filter operator"
                prop:value=move || op.get() on:change=move |ev| op.set(event_target_value(&ev))>
                {FILTER_OPS.iter().map(|o| view! { <option value=*o>{op_label(o)}</option> }).collect_view()}
            </select>
            <input data-testid="filter-value" aria-label="Filter value" placeholder="value (* for any text)"
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
                on:change=move |ev| value.set(event_target_value(&ev))
                on:keydown=move |ev| if ev.key() == "Enter" { ev.prevent_default(); add(); } />
            <button data-testid="filter-add" type="button" on:click=move |_| add()>"Add filter"</button>
            {chips}
        </div>
    }
}

/// Checkboxes for the columns shown, in the relation's order; none checked means all.
#[component]
pub fn ColumnChooser(
    #[prop(into)] columns: Signal<Vec<Column>>,
    #[prop(into)] select: Signal<Vec<String>>,
    on_change: Callback<Vec<String>>,
) -> impl IntoView {
    let summary = move || {
        let total = columns.with(Vec::len);
        let shown = select.with(|s| if s.is_empty() { total } else { s.len() });
        format!("Columns {shown}/{total}")
    };
    let boxes = move || {
        columns
            .get()
            .into_iter()
            .map(|c| {
                let name = c.name.clone();
                let (data_column, label) = (name.clone(), name.clone());
                let checked = {
                    let name = name.clone();
                    move || select.with(|s| s.is_empty() || s.contains(&name))
                };
                let toggle = {
                    let name = name.clone();
                    move |_| {
                        let all: Vec<String> = columns.with_untracked(|c| c.iter().map(|c| c.name.clone()).collect());
                        let current = select.get_untracked();
                        let shown: Vec<String> = if current.is_empty() { all.clone() } else { current };
                        let next: Vec<String> = if shown.contains(&name) {
                            shown.into_iter().filter(|n| *n != name).collect()
                        } else {
                            // Back in the relation's order.
                            all.iter().filter(|n| shown.contains(n) || **n == name).cloned().collect()
                        };
                        // Every column, in order, is the default: say nothing.
                        on_change.run(if next == all { Vec::new() } else { next });
                    }
                };
                view! {
                    <label class="column-choice">
                        <input type="checkbox" data-testid="column-choice" data-column=data_column prop:checked=checked on:change=toggle />
                        <span>{label}</span>
                    </label>
                }
            })
            .collect_view()
    };
    view! {
        <details class="columns">
            <summary>{summary}</summary>
            <div class="column-list">{boxes}</div>
        </details>
    }
}
