//! [`Catalog`]: what the server serves, from `GET /api/tables` and `GET /api/queries`: the
//! relations and saved queries the picker lists, and the columns a run's rows have.

use shared::{Column, Relation, RowSource, SavedQuery};

use crate::stream::{get_json, FetchError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub relations: Vec<Relation>,
    pub queries: Vec<SavedQuery>,
}

impl Catalog {
    pub async fn load(token: &str) -> Result<Catalog, FetchError> {
        let relations = get_json("/api/tables", token).await?;
        let queries = get_json("/api/queries", token).await?;
        Ok(Catalog { relations, queries })
    }

    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.relations.iter().find(|r| r.name == name)
    }

    pub fn query(&self, name: &str) -> Option<&SavedQuery> {
        self.queries.iter().find(|q| q.name == name)
    }

    /// Every column `source` has, in its order.
    pub fn columns(&self, source: &RowSource) -> Option<&[Column]> {
        match source {
            RowSource::Relation(name) => self.relation(name).map(|r| r.columns.as_slice()),
            RowSource::Query(name) => self.query(name).map(|q| q.columns.as_slice()),
        }
    }

    /// The columns a request with `select` gets: those named, in that order (unknown names
    /// are left out: the server's 400 names them), or all.
    pub fn selected_columns(&self, source: &RowSource, select: &[String]) -> Vec<Column> {
        let Some(columns) = self.columns(source) else {
            return Vec::new();
        };
        if select.is_empty() || matches!(source, RowSource::Query(_)) {
            return columns.to_vec();
        }
        select.iter().filter_map(|name| columns.iter().find(|c| &c.name == name).cloned()).collect()
    }

    /// The source shown when the address names none: `messages` if served, else the first
    /// relation, else the first saved query.
    pub fn default_source(&self) -> Option<RowSource> {
        self.relation("messages")
            .or(self.relations.first())
            .map(|r| RowSource::Relation(r.name.clone()))
            .or_else(|| self.queries.first().map(|q| RowSource::Query(q.name.clone())))
    }

    /// `source` as the picker's option value: a relation's name, `query:NAME` for a saved
    /// query.
    pub fn option_value(source: &RowSource) -> String {
        match source {
            RowSource::Relation(name) => name.clone(),
            RowSource::Query(name) => format!("query:{name}"),
        }
    }

    /// The source an option value names (see [`Catalog::option_value`]).
    pub fn source_of(&self, value: &str) -> Option<RowSource> {
        // A relation literally called `query:x` wins over the saved query `x`.
        if self.relation(value).is_some() {
            return Some(RowSource::Relation(value.to_owned()));
        }
        let name = value.strip_prefix("query:")?;
        self.query(name).map(|q| RowSource::Query(q.name.clone()))
    }
}
