//! The row detail panel: every column of the clicked row with its whole value (the table
//! truncates long text and JSON to one line). JSON is shown indented; NULL is marked apart
//! from an empty string.

use leptos::prelude::*;
use shared::{Column, ColumnType};

use crate::store::{CellRef, RowStore};

/// A cell's whole value as the panel shows it: JSON indented, everything else as stored.
pub fn full_text(column: &Column, cell: CellRef<'_>) -> String {
    let text = cell.to_text();
    let json = matches!(column.column_type, ColumnType::Json | ColumnType::Jsonb | ColumnType::Array(_));
    if json {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
            if let Ok(pretty) = serde_json::to_string_pretty(&value) {
                return pretty;
            }
        }
    }
    text
}

#[component]
pub fn DetailPanel(
    store: StoredValue<RowStore, LocalStorage>,
    #[prop(into)] columns: Signal<Vec<Column>>,
    /// Rows of the store that exist (a new run empties it).
    rows: ReadSignal<usize>,
    selected: RwSignal<Option<usize>>,
) -> impl IntoView {
    let row = move || selected.get().filter(|&r| r < rows.get());
    let fields = move || {
        let Some(row) = row() else { return Vec::new() };
        columns.with(|columns| {
            store.with_value(|store| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(c, column)| {
                        let cell = store.cell(row, c).unwrap_or(CellRef::Null);
                        (column.name.clone(), column.sql_type.clone(), cell.is_null(), full_text(column, cell))
                    })
                    .collect()
            })
        })
    };
    view! {
        <Show when=move || row().is_some()>
            <aside class="detail" data-testid="detail" aria-label="Row details">
                <header>
                    <h2>{move || format!("Row {}", row().map_or(0, |r| r + 1))}</h2>
                    <button type="button" class="quiet" on:click=move |_| selected.set(None) title="Close (Escape)">"Close"</button>
                </header>
                <dl>
                    {move || {
                        fields()
                            .into_iter()
                            .map(|(name, sql_type, null, text)| {
                                view! {
                                    <dt>{name.clone()} " " <span class="h-type">{sql_type}</span></dt>
                                    <dd class:null=null data-column=name data-null=null.then_some("true")>
                                        {if null { "NULL".to_owned() } else { text }}
                                    </dd>
                                }
                            })
                            .collect_view()
                    }}
                </dl>
            </aside>
        </Show>
    }
}
