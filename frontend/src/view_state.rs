//! [`ViewState`]: what the viewer shows, the relation or saved query and how its rows are
//! asked for (columns, filters, order, parameters, mode, limit, batch). It is the one
//! source of both URLs: the API request ([`ViewState::api_url`]) and the page's own query
//! string ([`ViewState::to_page_query`]), so reloading or sharing the address restores the
//! view. The token is never part of either.
//!
//! The page's query string is the API's own query string behind one key naming the source:
//! `?relation=orders&mode=stream&order=total.desc&state=eq.paid` or
//! `?query=big_orders&min_total=100`. Every other key is a filter (relations) or a parameter
//! (saved queries), in the API's grammar.

use shared::query::{split_items, split_name};
use shared::{Format, Mode, RowSource, RowsQuery, SortItem};

/// The API's operators; `not.` before any of them negates it.
const BASE_OPS: [&str; 10] = ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is"];

/// The operators the filter bar offers, in the API's grammar.
pub const FILTER_OPS: [&str; 14] =
    ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is", "not.like", "not.ilike", "not.in", "not.is"];

/// One filter: `column=op.value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub column: String,
    /// One of [`FILTER_OPS`].
    pub op: String,
    pub value: String,
}

impl Filter {
    /// The parameter's value: `op.value`, an `in` list wrapped in parentheses when the
    /// user left them out.
    pub fn to_param(&self) -> String {
        let value = self.value.trim();
        if (self.op == "in" || self.op == "not.in") && !(value.starts_with('(') && value.ends_with(')')) {
            format!("{}.({value})", self.op)
        } else {
            format!("{}.{}", self.op, self.value)
        }
    }

    /// Reads `[not.]op.value`; an operator the API does not know is kept as written (the
    /// API then names the parameter in its 400).
    pub fn parse(column: &str, param: &str) -> Filter {
        let (not, rest) = match param.strip_prefix("not.") {
            Some(rest) => ("not.", rest),
            None => ("", param),
        };
        let (op, value) = match BASE_OPS.iter().find(|op| rest.strip_prefix(**op).is_some_and(|r| r.starts_with('.'))) {
            Some(op) => (format!("{not}{op}"), &rest[op.len() + 1..]),
            None => match param.split_once('.') {
                Some((op, value)) => (op.to_owned(), value),
                None => (String::new(), param),
            },
        };
        Filter { column: column.to_owned(), op, value: value.to_owned() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewState {
    pub source: Option<RowSource>,
    pub mode: Mode,
    pub limit: Option<u64>,
    pub batch: Option<u32>,
    /// The columns shown, in order; empty for all.
    pub select: Vec<String>,
    pub order: Vec<SortItem>,
    pub filters: Vec<Filter>,
    /// A saved query's parameters, as typed.
    pub params: Vec<(String, String)>,
}

/// Keys of the page's query string that are not filters or parameters.
const PAGE_KEYS: [&str; 8] = ["relation", "query", "mode", "limit", "batch", "select", "order", "format"];

impl ViewState {
    fn rows_query(&self, format: Option<Format>) -> RowsQuery {
        let relation = matches!(self.source, Some(RowSource::Relation(_)));
        RowsQuery {
            mode: Some(self.mode),
            format,
            limit: self.limit,
            batch: self.batch,
            select: if relation { self.select.clone() } else { Vec::new() },
            order: if relation { self.order.clone() } else { Vec::new() },
            filters: if relation {
                self.filters.iter().map(|f| (f.column.clone(), f.to_param())).collect()
            } else {
                Vec::new()
            },
            params: if relation {
                Vec::new()
            } else {
                self.params.iter().filter(|(_, v)| !v.is_empty()).cloned().collect()
            },
        }
    }

    /// The API request for this view's rows (path and query), `None` before a source is
    /// chosen.
    pub fn api_url(&self, format: Format) -> Option<String> {
        let source = self.source.as_ref()?;
        Some(format!("{}?{}", source.rows_path(), self.rows_query(Some(format)).to_query_string()))
    }

    /// The page's query string (no `?`).
    pub fn to_page_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        match &self.source {
            Some(RowSource::Relation(name)) => out.append_pair("relation", name),
            Some(RowSource::Query(name)) => out.append_pair("query", name),
            None => return String::new(),
        };
        let rest = self.rows_query(None).to_query_string();
        let head = out.finish();
        if rest.is_empty() {
            head
        } else {
            format!("{head}&{rest}")
        }
    }

    /// Reads a page query string (with or without its `?`); what does not parse is left
    /// at its default.
    pub fn from_page_query(text: &str) -> ViewState {
        let mut view = ViewState::default();
        let mut rest = Vec::new();
        for (key, value) in form_urlencoded::parse(text.trim_start_matches('?').as_bytes()) {
            match key.as_ref() {
                "relation" if view.source.is_none() => view.source = Some(RowSource::Relation(value.into_owned())),
                "query" if view.source.is_none() => view.source = Some(RowSource::Query(value.into_owned())),
                "mode" => view.mode = Mode::parse(&value).unwrap_or_default(),
                "limit" => view.limit = value.parse().ok(),
                "batch" => view.batch = value.parse().ok(),
                "select" => {
                    view.select = split_items(&value)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|item| split_name(item).map(|(name, _)| name))
                        .collect();
                }
                "order" => {
                    view.order = split_items(&value)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(split_name)
                        .map(|(column, rest)| SortItem { column, descending: rest.starts_with("desc") })
                        .collect();
                }
                key if PAGE_KEYS.contains(&key) => {}
                _ => rest.push((key.into_owned(), value.into_owned())),
            }
        }
        match view.source {
            Some(RowSource::Query(_)) => view.params = rest,
            _ => view.filters = rest.iter().map(|(column, param)| Filter::parse(column, param)).collect(),
        }
        view
    }

    /// A fresh view of `source` (no columns chosen, no filters, no order; `params` for a saved
    /// query) that keeps this one's mode, limit and batch.
    pub fn for_source(&self, source: Option<RowSource>, params: Vec<(String, String)>) -> ViewState {
        ViewState { source, mode: self.mode, limit: self.limit, batch: self.batch, params, ..ViewState::default() }
    }

    /// Clicking a column's header: asc → desc → off. `add` (shift-click) keeps the other
    /// sort columns; otherwise this column becomes the only one.
    pub fn toggle_sort(&mut self, column: &str, add: bool) {
        let current = self.order.iter().position(|s| s.column == column);
        let next = match current.map(|i| self.order[i].descending) {
            None => Some(false),
            Some(false) => Some(true),
            Some(true) => None,
        };
        if !add {
            self.order.retain(|s| s.column == column);
        }
        match (self.order.iter().position(|s| s.column == column), next) {
            (Some(i), Some(descending)) => self.order[i].descending = descending,
            (Some(i), None) => {
                self.order.remove(i);
            }
            (None, Some(descending)) => self.order.push(SortItem { column: column.to_owned(), descending }),
            (None, None) => {}
        }
    }

    /// Where `column` is in the order (0-based) and whether it descends.
    pub fn sort_of(&self, column: &str) -> Option<(usize, bool)> {
        self.order.iter().position(|s| s.column == column).map(|i| (i, self.order[i].descending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_query_round_trips() {
        let view = ViewState {
            source: Some(RowSource::Relation("Order Items".into())),
            mode: Mode::Buffered,
            limit: Some(100),
            batch: None,
            select: vec!["id".into(), "a.b".into()],
            order: vec![SortItem { column: "total".into(), descending: true }],
            filters: vec![
                Filter { column: "state".into(), op: "in".into(), value: "(paid,\"new, old\")".into() },
                Filter { column: "note".into(), op: "not.is".into(), value: "null".into() },
                Filter { column: "qty".into(), op: "gte".into(), value: "5&x=1".into() },
            ],
            params: vec![],
        };
        let text = view.to_page_query();
        assert!(text.starts_with("relation=Order+Items&mode=buffered&limit=100&select="), "{text}");
        assert_eq!(ViewState::from_page_query(&format!("?{text}")), view);
        assert_eq!(
            view.api_url(Format::Ndjson).unwrap(),
            format!(
                "/api/tables/Order%20Items/rows?{}",
                text.replacen("relation=Order+Items&mode=buffered", "mode=buffered&format=ndjson", 1)
            )
        );

        let query = ViewState {
            source: Some(RowSource::Query("big".into())),
            params: vec![("min".into(), "5".into())],
            ..ViewState::default()
        };
        assert_eq!(query.to_page_query(), "query=big&mode=stream&min=5");
        assert_eq!(ViewState::from_page_query("query=big&mode=stream&min=5"), query);
        assert_eq!(ViewState::from_page_query(""), ViewState::default());
        assert_eq!(ViewState::from_page_query("limit=x&mode=nope").limit, None);
    }

    #[test]
    fn filters_read_back_as_written() {
        assert_eq!(
            Filter::parse("a", "not.eq.5"),
            Filter { column: "a".into(), op: "not.eq".into(), value: "5".into() }
        );
        assert_eq!(Filter::parse("a", "eq.x.y"), Filter { column: "a".into(), op: "eq".into(), value: "x.y".into() });
        assert_eq!(Filter::parse("a", "cs.{1}").op, "cs");
        assert_eq!(Filter { column: "a".into(), op: "in".into(), value: "1,2".into() }.to_param(), "in.(1,2)");
        assert_eq!(Filter { column: "a".into(), op: "not.in".into(), value: "(1)".into() }.to_param(), "not.in.(1)");
    }

    #[test]
    fn header_clicks_cycle_the_order() {
        let mut view = ViewState::default();
        view.toggle_sort("a", false);
        assert_eq!(view.sort_of("a"), Some((0, false)));
        view.toggle_sort("a", false);
        assert_eq!(view.sort_of("a"), Some((0, true)));
        view.toggle_sort("b", true);
        assert_eq!((view.sort_of("a"), view.sort_of("b")), (Some((0, true)), Some((1, false))));
        view.toggle_sort("a", true);
        assert_eq!((view.sort_of("a"), view.sort_of("b")), (None, Some((0, false))));
        view.toggle_sort("c", false);
        assert_eq!((view.sort_of("b"), view.sort_of("c")), (None, Some((0, false))));
    }
}
