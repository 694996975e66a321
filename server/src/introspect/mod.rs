//! Introspection: which relations the database has, with their columns, types and primary
//! keys, read from the catalogs at start and again when a request names a relation that is
//! not known yet (at most once a second).
//!
//! - [`postgres`]: `pg_catalog` and `information_schema` (standard catalog queries only, so
//!   CockroachDB and YugabyteDB answer them too), the schemas in `--schemas`.
//! - [`sqlite`]: `sqlite_master` and `pragma_table_info`, every table and view except
//!   `sqlite_*`.
//!
//! System catalogs are never relations, and neither are sqlx's `_sqlx_migrations` and our `_rowstream_hits`. Which of
//! the rest are served is decided by the `--expose` / `--hide` globs ([`CatalogSettings`]),
//! matched against the relation's API name.

pub mod postgres;
pub mod sqlite;

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};
use shared::Relation;

use crate::db::Database;
use crate::source::role::Role;

/// Tables rowstream keeps for itself and never serves.
const INTERNAL_TABLES: [&str; 2] = ["_sqlx_migrations", "_rowstream_hits"];

/// Shortest time between two re-reads of the catalogs caused by unknown names.
const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Which relations are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSettings {
    /// PostgreSQL schemas to serve, the first one's relations by their bare name.
    pub schemas: Vec<String>,
    /// Globs a relation's name must match to be served (empty: every relation).
    pub expose: Vec<String>,
    /// Globs that hide a relation even when exposed.
    pub hide: Vec<String>,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        CatalogSettings { schemas: vec!["public".into()], expose: Vec::new(), hide: Vec::new() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    #[error("cannot read the database catalog: {0}")]
    Database(#[from] sqlx::Error),
    #[error("bad glob {pattern:?}: {source}")]
    Glob { pattern: String, source: globset::Error },
    #[error("role {role:?} cannot be assumed: {message}")]
    ForbiddenRole { role: String, message: String },
}

/// A served relation: its public schema, and how SQL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub relation: Relation,
    /// PostgreSQL schema (None on SQLite).
    pub schema: Option<String>,
    /// The relation's name in the database.
    pub table: String,
    /// Per column: the type name to `CAST(… AS …)` a text parameter to (PostgreSQL; the
    /// database's own spelling from `format_type`, without modifiers).
    pub cast_types: Vec<String>,
}

/// Every served relation, by API name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub tables: Vec<Arc<TableDef>>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<Arc<TableDef>> {
        self.tables.iter().find(|t| t.relation.name == name).cloned()
    }

    pub fn relations(&self) -> Vec<Relation> {
        self.tables.iter().map(|t| t.relation.clone()).collect()
    }
}

struct Filter {
    expose: Option<GlobSet>,
    hide: GlobSet,
}

impl Filter {
    fn new(settings: &CatalogSettings) -> Result<Filter, IntrospectError> {
        fn set(patterns: &[String]) -> Result<GlobSet, IntrospectError> {
            let mut builder = GlobSetBuilder::new();
            for pattern in patterns {
                let glob =
                    Glob::new(pattern).map_err(|source| IntrospectError::Glob { pattern: pattern.clone(), source })?;
                builder.add(glob);
            }
            builder.build().map_err(|source| IntrospectError::Glob { pattern: patterns.join(","), source })
        }
        let expose = if settings.expose.is_empty() { None } else { Some(set(&settings.expose)?) };
        Ok(Filter { expose, hide: set(&settings.hide)? })
    }

    fn serves(&self, table: &str, name: &str) -> bool {
        !INTERNAL_TABLES.contains(&table)
            && self.expose.as_ref().is_none_or(|e| e.is_match(name))
            && !self.hide.is_match(name)
    }
}

/// SQLite's `INTEGER PRIMARY KEY` column is the rowid: it holds only integers (so its
/// values parse and its Arrow type is as `int8`'s, not as any SQLite integer column's).
pub fn is_sqlite_rowid(column: &shared::Column, primary_key: &[String]) -> bool {
    column.column_type == shared::ColumnType::SqliteInteger
        && column.sql_type.trim().eq_ignore_ascii_case("integer")
        && primary_key.len() == 1
        && primary_key[0] == column.name
}

/// Checks the globs (at start, so a typo fails the start rather than hiding everything).
pub fn validate(settings: &CatalogSettings) -> Result<(), IntrospectError> {
    Filter::new(settings).map(|_| ())
}

/// Reads the catalog once.
pub async fn load(db: &Database, settings: &CatalogSettings) -> Result<Catalog, IntrospectError> {
    let filter = Filter::new(settings)?;
    let tables = match db {
        Database::Postgres(pool, _) => postgres::load(pool, &settings.schemas).await?,
        Database::Sqlite(pool, _) => sqlite::load(pool).await?,
    };
    let tables = tables.into_iter().filter(|t| filter.serves(&t.table, &t.relation.name)).map(Arc::new).collect();
    Ok(Catalog { tables })
}

/// The current catalog, re-read on demand. Lives in the app state (no global).
#[derive(Debug)]
pub struct CatalogHandle {
    db: Database,
    settings: CatalogSettings,
    current: RwLock<Arc<Catalog>>,
    last_load: Mutex<Instant>,
}

impl CatalogHandle {
    pub async fn load(db: Database, settings: CatalogSettings) -> Result<CatalogHandle, IntrospectError> {
        let catalog = load(&db, &settings).await?;
        Ok(CatalogHandle {
            db,
            settings,
            current: RwLock::new(Arc::new(catalog)),
            last_load: Mutex::new(Instant::now()),
        })
    }

    pub fn current(&self) -> Arc<Catalog> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the catalog now.
    pub async fn refresh(&self) -> Result<Arc<Catalog>, IntrospectError> {
        if let Ok(mut last) = self.last_load.lock() {
            *last = Instant::now();
        }
        let catalog = Arc::new(load(&self.db, &self.settings).await?);
        match self.current.write() {
            Ok(mut c) => *c = catalog.clone(),
            Err(poisoned) => *poisoned.into_inner() = catalog.clone(),
        }
        tracing::debug!(relations = catalog.tables.len(), "catalog re-read");
        Ok(catalog)
    }

    /// The served relations `role` may read (`--jwt-role-claim`; PostgreSQL): what
    /// `/api/tables` lists for a token with that role.
    pub async fn readable_by(&self, role: &Role) -> Result<Vec<Arc<TableDef>>, IntrospectError> {
        let Database::Postgres(pool, _) = &self.db else {
            return Ok(self.current().tables.clone());
        };
        let readable = postgres::readable(pool, role, &self.settings.schemas).await?;
        let current = self.current();
        let tables = current.tables.iter().filter(|t| {
            let schema = t.schema.as_deref().unwrap_or_default();
            readable.iter().any(|(s, name)| s == schema && *name == t.table)
        });
        Ok(tables.cloned().collect())
    }

    /// The relation named `name`; an unknown name re-reads the catalog first (at most once
    /// per [`REFRESH_INTERVAL`]), so tables created after the start are found.
    pub async fn get(&self, name: &str) -> Result<Option<Arc<TableDef>>, IntrospectError> {
        if let Some(table) = self.current().get(name) {
            return Ok(Some(table));
        }
        let due = self.last_load.lock().map(|last| last.elapsed() >= REFRESH_INTERVAL).unwrap_or(true);
        if !due {
            return Ok(None);
        }
        Ok(self.refresh().await?.get(name))
    }
}
