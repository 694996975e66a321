//! Settings. Precedence: command-line flag, then environment variable (clap reads both
//! into one [`Layer`]), then the TOML file, then the defaults here.
//!
//! ```toml
//! # rowstream.toml: every key is optional
//! addr = "127.0.0.1:8080"
//! database_url = "postgres://postgres@127.0.0.1:5432/test"
//! jwt_secret = "at least 32 bytes, e.g. from openssl rand -hex 32"
//! pool_size = 10
//! acquire_timeout = "5s"
//! batch_size = 1000
//! max_rows = 1000000      # the most rows one response sends; default: no cap
//! first_row_timeout = "30s"  # a query with no first row by then is stopped (504)
//! park_after = "250ms"       # a stream whose client stalls this long gives its connection back ("0s": never)
//! dist = "server/viewer"  # serve the viewer from a directory instead of the embedded copy
//! seed_rows = 500000
//! pg_read = "copy"        # or "fetch"
//! schemas = ["public"]    # PostgreSQL schemas whose relations are served
//! expose = ["*"]          # globs: relations served (default: all)
//! hide = ["audit_*"]      # globs: relations never served
//! workers = 2             # tokio worker threads; default: the cores
//! shutdown_grace = "10s"
//! max_body = 1048576      # bytes
//! upstream_url = "http://127.0.0.1:9000/"
//! upstream_timeout = "5s"
//! redis_url = "redis://127.0.0.1:6379/"
//! hit_key = "rowstream:hits"
//! static = ["/css=./static/css", { prefix = "/font", dir = "static/font", index = true }]
//! static_index = false
//! max_header_bytes = 32768   # request line + headers; more is a 431
//! max_uri_bytes = 8192       # path + query; more is a 414
//! header_read_timeout = "10s"
//! cors_origin = ["https://example.com"]   # default: CORS off
//! allow_sql = false          # POST /api/sql: ad-hoc read-only SQL
//! jwt_role_claim = "role"    # PostgreSQL: run each request as the token's role
//!
//! # Saved queries: GET /api/queries lists them, GET /api/queries/NAME/rows?min_total=…
//! # streams one. Parameters are `:name` in the SQL, each declared with its type (and
//! # optionally a default, which makes it optional).
//! [queries.big_orders]
//! sql = "select id, total from orders where total > :min_total and state = :state"
//! params = { min_total = { type = "numeric", default = "100" }, state = "text" }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use shared::BATCH_MAX;

use crate::auth::MIN_SECRET_BYTES;
use crate::db::{DbSettings, PgRead};
use crate::form::DEFAULT_MAX_BODY;
use crate::hits::{HitSettings, DEFAULT_HIT_KEY};
use crate::introspect::CatalogSettings;
use crate::limits::{HttpLimits, MIN_MAX_HEADER_BYTES};
use crate::security::CorsSettings;
use crate::source::saved::{ParamSpec, SavedQueryDef};
use crate::source::Dialect;
use crate::static_files::{StaticMount, StaticSettings};
use crate::upstream::{UpstreamSettings, DEFAULT_UPSTREAM_TIMEOUT};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://rowstream.db";
pub const DEFAULT_CONFIG_FILE: &str = "rowstream.toml";
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
pub const DEFAULT_FIRST_ROW_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_PARK_AFTER: Duration = Duration::from_millis(250);

/// Resolved settings; every command reads the fields it needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub database_url: String,
    pub jwt_secret: Option<String>,
    pub pool_size: u32,
    pub acquire_timeout: Duration,
    pub batch_size: u32,
    /// The most rows one response of `/api/messages` or `/api/tables/{name}/rows` sends;
    /// `None`: no cap.
    pub max_rows: Option<u64>,
    /// How long a query may take to send its first row before it is stopped (504).
    pub first_row_timeout: Duration,
    /// How long a stream waits for a client that stopped reading before it parks (gives its
    /// connection back until the client catches up); zero: never.
    pub park_after: Duration,
    /// Serve the viewer from this directory instead of the copy embedded in the binary.
    pub dist: Option<PathBuf>,
    pub seed_rows: u64,
    pub pg_read: PgRead,
    /// Which relations are served (`schemas`, `expose`, `hide`).
    pub catalog: CatalogSettings,
    /// Runtime worker threads; `None`: one per core.
    pub workers: Option<usize>,
    /// After SIGINT/SIGTERM, how long open responses (streams) may go on before they are cut.
    pub shutdown_grace: Duration,
    /// Largest request body the form routes and `/demo2` read, in bytes.
    pub max_body: u64,
    /// `/demo2`'s upstream; `None`: `/demo2` answers 404.
    pub upstream: Option<UpstreamSettings>,
    pub hits: HitSettings,
    pub statics: StaticSettings,
    /// Request head, URL and header-read-time limits, for every connection.
    pub http: HttpLimits,
    pub cors: CorsSettings,
    /// The saved queries (`[queries.NAME]`), checked.
    pub queries: Vec<SavedQueryDef>,
    /// Whether `POST /api/sql` runs ad-hoc read-only SQL (off: it answers 404).
    pub allow_sql: bool,
    /// The token claim naming the database role each request runs as (PostgreSQL only).
    pub jwt_role_claim: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            jwt_secret: None,
            pool_size: 10,
            acquire_timeout: Duration::from_secs(5),
            batch_size: 1000,
            max_rows: None,
            first_row_timeout: DEFAULT_FIRST_ROW_TIMEOUT,
            park_after: DEFAULT_PARK_AFTER,
            dist: None,
            seed_rows: 500_000,
            pg_read: PgRead::default(),
            catalog: CatalogSettings::default(),
            workers: None,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_body: DEFAULT_MAX_BODY,
            upstream: None,
            hits: HitSettings::default(),
            statics: StaticSettings::default(),
            http: HttpLimits::default(),
            cors: CorsSettings::default(),
            queries: Vec::new(),
            allow_sql: false,
            jwt_role_claim: None,
        }
    }
}

/// A saved query as the settings file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    pub sql: String,
    /// Each `:name` of the SQL: its type (`min_total = "numeric"`), or a table with its
    /// type and default (`min_total = { type = "numeric", default = "100" }`).
    #[serde(default)]
    pub params: BTreeMap<String, ParamConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ParamConfig {
    Type(String),
    Full(ParamTable),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamTable {
    #[serde(rename = "type")]
    pub param_type: String,
    #[serde(default)]
    pub default: Option<toml::Value>,
}

/// One source of settings: flags+env, or the file. `None` means "not said here".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub addr: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub jwt_secret: Option<String>,
    pub pool_size: Option<u32>,
    /// "5s", "250ms" in the file.
    #[serde(default, with = "humantime_serde")]
    pub acquire_timeout: Option<Duration>,
    pub batch_size: Option<u32>,
    pub max_rows: Option<u64>,
    #[serde(default, with = "humantime_serde")]
    pub first_row_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub park_after: Option<Duration>,
    pub dist: Option<PathBuf>,
    pub seed_rows: Option<u64>,
    pub pg_read: Option<PgRead>,
    pub schemas: Option<Vec<String>>,
    pub expose: Option<Vec<String>>,
    pub hide: Option<Vec<String>>,
    pub workers: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pub shutdown_grace: Option<Duration>,
    pub max_body: Option<u64>,
    pub upstream_url: Option<String>,
    #[serde(default, with = "humantime_serde")]
    pub upstream_timeout: Option<Duration>,
    pub redis_url: Option<String>,
    pub hit_key: Option<String>,
    #[serde(rename = "static")]
    pub static_mounts: Option<Vec<StaticMount>>,
    pub static_index: Option<bool>,
    pub max_header_bytes: Option<usize>,
    pub max_uri_bytes: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pub header_read_timeout: Option<Duration>,
    pub cors_origin: Option<Vec<String>>,
    pub allow_sql: Option<bool>,
    pub jwt_role_claim: Option<String>,
    /// `[queries.NAME]` tables (the file only).
    pub queries: Option<BTreeMap<String, QueryConfig>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read settings file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("settings file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// What the database layer needs of these settings.
    pub fn db_settings(&self) -> DbSettings {
        DbSettings {
            url: self.database_url.clone(),
            pool_size: self.pool_size,
            acquire_timeout: self.acquire_timeout,
            pg_read: self.pg_read,
        }
    }

    /// Layers `cli` over the settings file (`file`, or ./rowstream.toml when it exists).
    pub fn resolve(cli: Layer, file: Option<&Path>) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(path) => read_layer(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => read_layer(Path::new(DEFAULT_CONFIG_FILE))?,
            None => Layer::default(),
        };
        Config::from_layers(cli, from_file)
    }

    pub fn from_layers(high: Layer, low: Layer) -> Result<Config, ConfigError> {
        let d = Config::default();
        let config = Config {
            addr: high.addr.or(low.addr).unwrap_or(d.addr),
            database_url: high.database_url.or(low.database_url).unwrap_or(d.database_url),
            jwt_secret: high.jwt_secret.or(low.jwt_secret).filter(|s| !s.is_empty()),
            pool_size: high.pool_size.or(low.pool_size).unwrap_or(d.pool_size),
            acquire_timeout: high.acquire_timeout.or(low.acquire_timeout).unwrap_or(d.acquire_timeout),
            batch_size: high.batch_size.or(low.batch_size).unwrap_or(d.batch_size),
            max_rows: high.max_rows.or(low.max_rows),
            first_row_timeout: high.first_row_timeout.or(low.first_row_timeout).unwrap_or(d.first_row_timeout),
            park_after: high.park_after.or(low.park_after).unwrap_or(d.park_after),
            dist: high.dist.or(low.dist).or(d.dist),
            seed_rows: high.seed_rows.or(low.seed_rows).unwrap_or(d.seed_rows),
            pg_read: high.pg_read.or(low.pg_read).unwrap_or(d.pg_read),
            catalog: CatalogSettings {
                schemas: high.schemas.or(low.schemas).unwrap_or(d.catalog.schemas),
                expose: high.expose.or(low.expose).unwrap_or(d.catalog.expose),
                hide: high.hide.or(low.hide).unwrap_or(d.catalog.hide),
            },
            workers: high.workers.or(low.workers),
            shutdown_grace: high.shutdown_grace.or(low.shutdown_grace).unwrap_or(d.shutdown_grace),
            max_body: high.max_body.or(low.max_body).unwrap_or(d.max_body),
            upstream: high.upstream_url.or(low.upstream_url).filter(|u| !u.is_empty()).map(|url| UpstreamSettings {
                url,
                timeout: high.upstream_timeout.or(low.upstream_timeout).unwrap_or(DEFAULT_UPSTREAM_TIMEOUT),
            }),
            hits: HitSettings {
                redis_url: high.redis_url.or(low.redis_url).filter(|u| !u.is_empty()),
                key: high.hit_key.or(low.hit_key).unwrap_or_else(|| DEFAULT_HIT_KEY.to_owned()),
            },
            statics: StaticSettings {
                mounts: high.static_mounts.or(low.static_mounts).unwrap_or_default(),
                index_all: high.static_index.or(low.static_index).unwrap_or(false),
            },
            http: HttpLimits {
                max_header_bytes: high.max_header_bytes.or(low.max_header_bytes).unwrap_or(d.http.max_header_bytes),
                max_uri_bytes: high.max_uri_bytes.or(low.max_uri_bytes).unwrap_or(d.http.max_uri_bytes),
                header_read_timeout: high
                    .header_read_timeout
                    .or(low.header_read_timeout)
                    .unwrap_or(d.http.header_read_timeout),
            },
            cors: CorsSettings { origins: high.cors_origin.or(low.cors_origin).unwrap_or_default() },
            queries: Vec::new(),
            allow_sql: high.allow_sql.or(low.allow_sql).unwrap_or(false),
            jwt_role_claim: high.jwt_role_claim.or(low.jwt_role_claim).filter(|c| !c.is_empty()),
        };
        let dialect = if config.database_url.starts_with("sqlite:") { Dialect::Sqlite } else { Dialect::Postgres };
        let queries = saved_queries(high.queries.or(low.queries).unwrap_or_default(), dialect)?;
        let config = Config { queries, ..config };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(secret) = &self.jwt_secret {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(ConfigError::Invalid(format!(
                    "jwt_secret is {} bytes: it must be at least {MIN_SECRET_BYTES} (e.g. `openssl rand -hex 32`)",
                    secret.len()
                )));
            }
        }
        if self.http.max_header_bytes < MIN_MAX_HEADER_BYTES {
            return Err(ConfigError::Invalid(format!("max_header_bytes must be at least {MIN_MAX_HEADER_BYTES}")));
        }
        if self.http.max_uri_bytes == 0 || self.http.header_read_timeout.is_zero() {
            return Err(ConfigError::Invalid("max_uri_bytes and header_read_timeout must be more than 0".into()));
        }
        self.cors.validate().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.pool_size == 0 {
            return Err(ConfigError::Invalid("pool_size must be at least 1".into()));
        }
        if self.workers == Some(0) {
            return Err(ConfigError::Invalid("workers must be at least 1".into()));
        }
        if self.max_body == 0 {
            return Err(ConfigError::Invalid("max_body must be at least 1 byte".into()));
        }
        if self.hits.key.is_empty() {
            return Err(ConfigError::Invalid("hit_key must not be empty".into()));
        }
        if let Some(upstream) = &self.upstream {
            if upstream.timeout.is_zero() {
                return Err(ConfigError::Invalid("upstream_timeout must be more than 0".into()));
            }
        }
        if self.max_rows == Some(0) {
            return Err(ConfigError::Invalid("max_rows must be at least 1 (leave it out for no cap)".into()));
        }
        if self.first_row_timeout.is_zero() {
            return Err(ConfigError::Invalid("first_row_timeout must be more than 0".into()));
        }
        if !(1..=BATCH_MAX).contains(&self.batch_size) {
            return Err(ConfigError::Invalid(format!("batch_size must be between 1 and {BATCH_MAX}")));
        }
        if self.catalog.schemas.is_empty() {
            return Err(ConfigError::Invalid("schemas must name at least one schema".into()));
        }
        crate::introspect::validate(&self.catalog).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.jwt_role_claim.is_some() && self.database_url.starts_with("sqlite:") {
            return Err(ConfigError::Invalid(
                "jwt_role_claim needs PostgreSQL: SQLite has no roles, so a token's role could not decide what it \
                 sees (remove --jwt-role-claim, or serve a PostgreSQL database)"
                    .into(),
            ));
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(format!(
                "database_url must start with sqlite:, postgres:// or postgresql://, got {:?}",
                self.database_url
            )));
        }
        Ok(())
    }
}

/// The `[queries.NAME]` tables, checked for `dialect` (every problem names its query).
fn saved_queries(tables: BTreeMap<String, QueryConfig>, dialect: Dialect) -> Result<Vec<SavedQueryDef>, ConfigError> {
    tables
        .into_iter()
        .map(|(name, query)| {
            let mut specs = Vec::with_capacity(query.params.len());
            for (param, declared) in query.params {
                let (type_name, default) = match declared {
                    ParamConfig::Type(type_name) => (type_name, None),
                    ParamConfig::Full(table) => (table.param_type, table.default),
                };
                let default = match default {
                    None => None,
                    Some(toml::Value::String(s)) => Some(s),
                    Some(toml::Value::Integer(i)) => Some(i.to_string()),
                    Some(toml::Value::Float(f)) => Some(f.to_string()),
                    Some(toml::Value::Boolean(b)) => Some(b.to_string()),
                    Some(toml::Value::Datetime(d)) => Some(d.to_string()),
                    Some(_) => {
                        return Err(ConfigError::Invalid(format!(
                            "saved query {name:?}: parameter {param:?}: a default is a string, number, boolean or date"
                        )))
                    }
                };
                specs.push(ParamSpec { name: param, type_name, default });
            }
            SavedQueryDef::new(&name, &query.sql, &specs, dialect).map_err(|e| ConfigError::Invalid(e.to_string()))
        })
        .collect()
}

fn read_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let file: Layer =
            toml::from_str("addr = \"127.0.0.1:9000\"\nbatch_size = 50\nacquire_timeout = \"250ms\"\npool_size = 3")
                .unwrap();
        let cli = Layer { batch_size: Some(7), ..Layer::default() };
        let config = Config::from_layers(cli, file).unwrap();
        assert_eq!(config.batch_size, 7);
        assert_eq!(config.addr.port(), 9000);
        assert_eq!(config.acquire_timeout, Duration::from_millis(250));
        assert_eq!(config.pool_size, 3);
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn relation_settings_come_from_every_layer() {
        let file: Layer =
            toml::from_str("schemas = [\"app\", \"public\"]\nexpose = [\"order*\"]\nhide = [\"*_audit\"]").unwrap();
        let config = Config::from_layers(Layer::default(), file.clone()).unwrap();
        assert_eq!(config.catalog.schemas, ["app", "public"]);
        assert_eq!(config.catalog.expose, ["order*"]);
        assert_eq!(config.catalog.hide, ["*_audit"]);
        let cli = Layer { hide: Some(vec![]), ..Layer::default() };
        assert!(Config::from_layers(cli, file).unwrap().catalog.hide.is_empty());
        assert_eq!(Config::default().catalog.schemas, ["public"]);
        let bad_glob = Layer { expose: Some(vec!["[".into()]), ..Layer::default() };
        assert!(Config::from_layers(bad_glob, Layer::default()).is_err());
        let no_schema = Layer { schemas: Some(vec![]), ..Layer::default() };
        assert!(Config::from_layers(no_schema, Layer::default()).is_err());
    }

    #[test]
    fn rejects_nonsense() {
        assert!(toml::from_str::<Layer>("no_such_key = 1").is_err());
        let zero = Layer { batch_size: Some(0), ..Layer::default() };
        assert!(Config::from_layers(zero, Layer::default()).is_err());
        let mysql = Layer { database_url: Some("mysql://x".into()), ..Layer::default() };
        assert!(Config::from_layers(mysql, Layer::default()).is_err());
        let short = Layer { jwt_secret: Some("x".repeat(31)), ..Layer::default() };
        let error = Config::from_layers(short, Layer::default()).unwrap_err().to_string();
        assert!(error.contains("at least 32"), "{error}");
        let long = Layer { jwt_secret: Some("x".repeat(32)), ..Layer::default() };
        assert!(Config::from_layers(long, Layer::default()).is_ok());
        let no_workers = Layer { workers: Some(0), ..Layer::default() };
        assert!(Config::from_layers(no_workers, Layer::default()).is_err());
    }

    #[test]
    fn endpoint_settings_from_the_file() {
        let file: Layer = toml::from_str(
            "workers = 3\nshutdown_grace = \"2s\"\nmax_body = 100\nupstream_url = \"http://127.0.0.1:1/\"\n\
             upstream_timeout = \"300ms\"\nredis_url = \"redis://127.0.0.1/\"\nhit_key = \"k\"\n\
             static = [\"/css=static/css,index\"]\nstatic_index = true",
        )
        .unwrap();
        let config = Config::from_layers(Layer { max_body: Some(7), ..Layer::default() }, file).unwrap();
        assert_eq!(config.workers, Some(3));
        assert_eq!(config.shutdown_grace, Duration::from_secs(2));
        assert_eq!(config.max_body, 7);
        let upstream = config.upstream.unwrap();
        assert_eq!((upstream.url.as_str(), upstream.timeout), ("http://127.0.0.1:1/", Duration::from_millis(300)));
        assert_eq!(config.hits.redis_url.as_deref(), Some("redis://127.0.0.1/"));
        assert_eq!(config.hits.key, "k");
        assert_eq!(config.statics.mounts[0].prefix, "/css");
        assert!(config.statics.mounts[0].index && config.statics.index_all);
        let defaults = Config::from_layers(Layer::default(), Layer::default()).unwrap();
        assert_eq!((defaults.max_body, defaults.shutdown_grace), (1024 * 1024, Duration::from_secs(10)));
        assert_eq!((defaults.upstream, defaults.hits.key.as_str()), (None, "rowstream:hits"));
        assert_eq!(defaults.http, HttpLimits::default());
        assert!(defaults.cors.origins.is_empty());
    }

    #[test]
    fn saved_queries_and_access_from_the_file() {
        let file: Layer = toml::from_str(
            "allow_sql = true\njwt_role_claim = \"role\"\ndatabase_url = \"postgres://x@127.0.0.1/db\"\n\
             [queries.big_orders]\nsql = \"select id from orders where total > :min_total and state = :state\"\n\
             params = { min_total = { type = \"numeric\", default = 100 }, state = \"text\" }\n\
             [queries.all]\nsql = \"select 1\"\n",
        )
        .unwrap();
        let config = Config::from_layers(Layer::default(), file).unwrap();
        assert!(config.allow_sql);
        assert_eq!(config.jwt_role_claim.as_deref(), Some("role"));
        let names: Vec<&str> = config.queries.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["all", "big_orders"]);
        assert_eq!(config.queries[1].params[0].default.as_deref(), Some("100"));
        // Every problem stops the start and names its query.
        for bad in [
            "[queries.q]\nsql = \"select :a\"\n",
            "[queries.q]\nsql = \"select :a\"\nparams = { a = \"money\" }\n",
            "[queries.q]\nsql = \"select 1\"\nparams = { a = \"text\" }\n",
            "[queries.q]\nsql = \"delete from t\"\n",
        ] {
            let file: Layer = toml::from_str(bad).unwrap();
            let error = Config::from_layers(Layer::default(), file).unwrap_err().to_string();
            assert!(error.contains("saved query \"q\""), "{error}");
        }
        assert!(toml::from_str::<Layer>("[queries.q]\nsql = \"select 1\"\nparam = {}\n").is_err());
        // SQLite has no roles.
        let role_on_sqlite = Layer { jwt_role_claim: Some("role".into()), ..Layer::default() };
        let error = Config::from_layers(role_on_sqlite, Layer::default()).unwrap_err().to_string();
        assert!(error.contains("needs PostgreSQL"), "{error}");
    }

    #[test]
    fn row_cap_and_first_row_timeout() {
        let defaults = Config::from_layers(Layer::default(), Layer::default()).unwrap();
        assert_eq!((defaults.max_rows, defaults.first_row_timeout), (None, Duration::from_secs(30)));
        let file: Layer = toml::from_str("max_rows = 500\nfirst_row_timeout = \"250ms\"").unwrap();
        let config = Config::from_layers(Layer::default(), file.clone()).unwrap();
        assert_eq!((config.max_rows, config.first_row_timeout), (Some(500), Duration::from_millis(250)));
        let cli = Layer { max_rows: Some(7), first_row_timeout: Some(Duration::from_secs(2)), ..Layer::default() };
        let config = Config::from_layers(cli, file).unwrap();
        assert_eq!((config.max_rows, config.first_row_timeout), (Some(7), Duration::from_secs(2)));
        let zero = Layer { max_rows: Some(0), ..Layer::default() };
        assert!(Config::from_layers(zero, Layer::default()).is_err());
        let zero = Layer { first_row_timeout: Some(Duration::ZERO), ..Layer::default() };
        assert!(Config::from_layers(zero, Layer::default()).is_err());
    }

    #[test]
    fn http_limits_and_cors_from_the_file() {
        let file: Layer = toml::from_str(
            "max_header_bytes = 16384\nmax_uri_bytes = 100\nheader_read_timeout = \"1s\"\n\
             cors_origin = [\"https://a.example\", \"http://127.0.0.1:3000\"]",
        )
        .unwrap();
        let config = Config::from_layers(Layer::default(), file).unwrap();
        assert_eq!(config.http.max_header_bytes, 16384);
        assert_eq!(config.http.max_uri_bytes, 100);
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(1));
        assert_eq!(config.cors.origins.len(), 2);
        for bad in ["*", "example.com", "https://a.example/path", "ftp://x"] {
            let layer = Layer { cors_origin: Some(vec![bad.into()]), ..Layer::default() };
            assert!(Config::from_layers(layer, Layer::default()).is_err(), "{bad}");
        }
        let tiny = Layer { max_header_bytes: Some(100), ..Layer::default() };
        assert!(Config::from_layers(tiny, Layer::default()).is_err());
    }
}
