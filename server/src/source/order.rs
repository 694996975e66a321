//! `order=a.desc,b.asc.nullsfirst` and `select=a,b`: column lists. A name with `.`, `,` or
//! `"` in it is written in double quotes (`"Order.Items".desc`, `""` for a quote inside).
//!
//! Defaults are PostgreSQL's on both backends: `asc` sorts NULLs last, `desc` first. The
//! primary key's columns not already named are appended (ascending) as tie-breakers, so
//! the order is total and a row can be resumed after.

use shared::query::{split_items, split_name};

use super::BadRequest;
use crate::introspect::TableDef;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    /// Index into the relation's columns.
    pub column: usize,
    pub descending: bool,
    pub nulls_first: bool,
}

impl SortKey {
    pub fn ascending(column: usize) -> SortKey {
        SortKey { column, descending: false, nulls_first: false }
    }
}

fn column(table: &TableDef, parameter: &str, name: &str) -> Result<usize, BadRequest> {
    table.relation.column_index(name).ok_or_else(|| {
        BadRequest::new(parameter, format!("{parameter}: {:?} has no column {name:?}", table.relation.name))
    })
}

/// `select=a,b`: column indices in that order (each at most once).
pub fn parse_select(table: &TableDef, text: &str) -> Result<Vec<usize>, BadRequest> {
    let items = split_items(text).ok_or_else(|| BadRequest::new("select", "select: unbalanced double quote"))?;
    let mut columns = Vec::with_capacity(items.len());
    for item in items {
        let (name, rest) =
            split_name(item).ok_or_else(|| BadRequest::new("select", format!("select: cannot read {item:?}")))?;
        if !rest.is_empty() {
            return Err(BadRequest::new(
                "select",
                format!("select: {item:?} is not a column name (quote names with dots)"),
            ));
        }
        let index = column(table, "select", &name)?;
        if columns.contains(&index) {
            return Err(BadRequest::new("select", format!("select: {name:?} is named twice")));
        }
        columns.push(index);
    }
    Ok(columns)
}

/// `order=…` (None: the primary key's order), with the primary key appended.
pub fn parse_order(table: &TableDef, text: Option<&str>) -> Result<Vec<SortKey>, BadRequest> {
    let mut keys: Vec<SortKey> = Vec::new();
    if let Some(text) = text {
        let items = split_items(text).ok_or_else(|| BadRequest::new("order", "order: unbalanced double quote"))?;
        for item in items {
            let (name, rest) =
                split_name(item).ok_or_else(|| BadRequest::new("order", format!("order: cannot read {item:?}")))?;
            let index = column(table, "order", &name)?;
            let mut key = SortKey::ascending(index);
            let mut nulls = None;
            for word in rest.split('.').filter(|w| !w.is_empty()) {
                match word {
                    "asc" => key.descending = false,
                    "desc" => key.descending = true,
                    "nullsfirst" => nulls = Some(true),
                    "nullslast" => nulls = Some(false),
                    _ => {
                        return Err(BadRequest::new(
                            "order",
                            format!("order: {word:?} in {item:?} is not asc, desc, nullsfirst or nullslast"),
                        ))
                    }
                }
            }
            key.nulls_first = nulls.unwrap_or(key.descending);
            let col = &table.relation.columns[index];
            if !super::value::compares(&col.column_type) {
                return Err(BadRequest::new(
                    "order",
                    format!("order: {} column {name:?} has no order rowstream can resume by", col.sql_type),
                ));
            }
            if keys.iter().any(|k| k.column == index) {
                return Err(BadRequest::new("order", format!("order: {name:?} is named twice")));
            }
            keys.push(key);
        }
    }
    for name in &table.relation.primary_key {
        if let Some(index) = table.relation.column_index(name) {
            if !keys.iter().any(|k| k.column == index) {
                keys.push(SortKey::ascending(index));
            }
        }
    }
    Ok(keys)
}
