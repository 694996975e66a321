//! A request for a relation's rows, parsed against its schema: which columns, which rows
//! (filters), in which order, after which row, how many.

use std::sync::Arc;

use super::order::{self, SortKey};
use super::{filter, keyset, BadRequest, Dialect, Param};
use crate::introspect::TableDef;

#[derive(Debug, Clone)]
pub struct RowsRequest {
    pub table: Arc<TableDef>,
    pub dialect: Dialect,
    /// Columns sent, in order (indices into the relation's columns).
    pub select: Vec<usize>,
    pub filters: Vec<filter::Filter>,
    /// The full order, primary key included.
    pub order: Vec<SortKey>,
    /// Whether `order` is the default one (no `order=`: the primary key, ascending).
    pub default_order: bool,
    /// Resume strictly after the row with these sort-column values (`None` in a slot: NULL).
    pub after: Option<Vec<Option<Param>>>,
    pub limit: Option<u64>,
}

/// The row-selecting parameters of one request, as given.
#[derive(Debug, Clone, Default)]
pub struct RowsQuery<'a> {
    pub select: Option<&'a str>,
    pub order: Option<&'a str>,
    pub after: Option<&'a str>,
    /// `(column, value)` pairs, in query order.
    pub filters: Vec<(&'a str, &'a str)>,
    pub limit: Option<u64>,
}

impl RowsRequest {
    pub fn parse(dialect: Dialect, table: Arc<TableDef>, query: &RowsQuery<'_>) -> Result<RowsRequest, BadRequest> {
        let select = match query.select {
            Some(text) => order::parse_select(&table, text)?,
            None => (0..table.relation.columns.len()).collect(),
        };
        let mut filters = Vec::with_capacity(query.filters.len());
        for (name, value) in &query.filters {
            let column = table.relation.column_index(name).ok_or_else(|| {
                BadRequest::new(
                    *name,
                    format!(
                        "unknown parameter {name:?}: not a parameter of this endpoint nor a column of {:?}",
                        table.relation.name
                    ),
                )
            })?;
            filters.push(filter::parse(dialect, &table, column, name, value)?);
        }
        let order = order::parse_order(&table, query.order)?;
        let default_order = query.order.is_none();
        let after = match query.after {
            Some(text) => Some(keyset::decode(dialect, &table, &order, default_order, text)?),
            None => None,
        };
        Ok(RowsRequest { table, dialect, select, filters, order, default_order, after, limit: query.limit })
    }

    /// Whether rows can be resumed (the relation has a primary key).
    pub fn keyed(&self) -> bool {
        !self.table.relation.primary_key.is_empty()
    }
}
