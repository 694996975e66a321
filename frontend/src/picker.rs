//! The relation picker: a search box and a `<select>` of every served table and view and
//! every saved query (option values are relation names, `query:NAME` for saved queries),
//! and, for a saved query, a small form for its parameters.

use leptos::prelude::*;
use shared::{RelationKind, RowSource};

use crate::catalog::Catalog;
use crate::view_state::ViewState;

/// Whether `name` matches the search box (case-insensitive substring).
pub fn matches_search(name: &str, search: &str) -> bool {
    let search = search.trim();
    search.is_empty() || name.to_lowercase().contains(&search.to_lowercase())
}

fn kind_label(kind: RelationKind) -> &'static str {
    match kind {
        RelationKind::Table => "table",
        RelationKind::View => "view",
        RelationKind::MaterializedView => "materialized view",
    }
}

#[component]
pub fn RelationPicker(
    catalog: ReadSignal<Option<Catalog>>,
    view: RwSignal<ViewState>,
    /// A source was chosen.
    on_pick: Callback<RowSource>,
) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let current = move || view.with(|v| v.source.as_ref().map(Catalog::option_value).unwrap_or_default());
    let options = move || {
        let search = search.get();
        let current = current();
        catalog.with(|catalog| {
            let Some(catalog) = catalog else {
                return vec![view! { <option value="" disabled=true>"Loading…"</option> }.into_any()];
            };
            let relations =
                catalog.relations.iter().filter(|r| r.name == current || matches_search(&r.name, &search)).map(|r| {
                    let value = r.name.clone();
                    let selected = value == current;
                    let label = format!("{} ({})", r.name, kind_label(r.kind));
                    view! { <option value=value selected=selected>{label}</option> }.into_any()
                });
            let queries = catalog
                .queries
                .iter()
                .filter(|q| {
                    let value = Catalog::option_value(&RowSource::Query(q.name.clone()));
                    value == current || matches_search(&q.name, &search)
                })
                .map(|q| {
                    let value = Catalog::option_value(&RowSource::Query(q.name.clone()));
                    let selected = value == current;
                    let label = format!("{} (saved query)", q.name);
                    view! { <option value=value selected=selected>{label}</option> }.into_any()
                });
            relations.chain(queries).collect::<Vec<_>>()
        })
    };
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let source = catalog.with_untracked(|c| c.as_ref().and_then(|c| c.source_of(&value)));
        if let Some(source) = source {
            on_pick.run(source);
        }
    };
    view! {
        <div class="picker">
            <label class="field">
                <span>"Relation"</span>
                <select data-testid="relation" on:change=on_change prop:value=current aria-label="Table, view or saved query">
                    {options}
                </select>
            </label>
            <input class="search" type="search" data-testid="relation-search" placeholder="Search…" aria-label="Search relations"
                prop:value=move || search.get()
                on:input=move |ev| search.set(event_target_value(&ev)) />
        </div>
    }
}

/// A saved query's parameters: one input each, its type and default as the placeholder.
#[component]
pub fn QueryParams(catalog: ReadSignal<Option<Catalog>>, view: RwSignal<ViewState>) -> impl IntoView {
    let params = move || {
        let name = view.with(|v| match &v.source {
            Some(RowSource::Query(name)) => Some(name.clone()),
            _ => None,
        })?;
        catalog.with(|c| c.as_ref().and_then(|c| c.query(&name)).map(|q| q.params.clone()))
    };
    move || {
        params().filter(|p| !p.is_empty()).map(|params| {
            let inputs = params
                .into_iter()
                .map(|param| {
                    let name = param.name.clone();
                    let value = {
                        let name = name.clone();
                        move || view.with(|v| v.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap_or_default())
                    };
                    let set = {
                        let name = name.clone();
                        move |ev: leptos::ev::Event| {
                            let text = event_target_value(&ev);
                            view.update(|v| match v.params.iter_mut().find(|(n, _)| *n == name) {
                                Some(entry) => entry.1 = text,
                                None => v.params.push((name.clone(), text)),
                            });
                        }
                    };
                    let placeholder = param.default.clone().unwrap_or_else(|| if param.required { "required".into() } else { String::new() });
                    let type_name = serde_json::to_value(&param.param_type)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "value".into());
                    view! {
                        <label class="field">
                            <span>{name.clone()} " " <span class="h-type">{type_name}</span></span>
                            <input data-testid="param" data-param=name placeholder=placeholder aria-required=param.required.to_string()
                                prop:value=value on:input=set.clone() on:change=set />
                        </label>
                    }
                })
                .collect_view();
            view! { <fieldset class="params"><legend>"Parameters"</legend>{inputs}</fieldset> }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_is_a_case_insensitive_substring() {
        assert!(matches_search("Order Items", "order"));
        assert!(matches_search("orders", ""));
        assert!(!matches_search("orders", "xyz"));
    }
}
