//! Settings. Precedence: command-line flag, then environment variable (clap reads both
//! into one [`Layer`]), then the TOML file, then the defaults here.
//!
//! ```toml
//! # rowstream.toml: every key is optional
//! addr = "127.0.0.1:8080"
//! database_url = "postgres://postgres@127.0.0.1:5432/test"
//! jwt_secret = "change me"
//! pool_size = 10
//! acquire_timeout = "5s"
//! batch_size = 1000
//! dist = "dist"
//! seed_rows = 500000
//! pg_read = "copy"        # or "fetch"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use shared::BATCH_MAX;

use crate::db::PgRead;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://rowstream.db";
pub const DEFAULT_CONFIG_FILE: &str = "rowstream.toml";

/// Resolved settings; every command reads the fields it needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub database_url: String,
    pub jwt_secret: Option<String>,
    pub pool_size: u32,
    pub acquire_timeout: Duration,
    pub batch_size: u32,
    pub dist: PathBuf,
    pub seed_rows: u64,
    pub pg_read: PgRead,
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
            dist: PathBuf::from("dist"),
            seed_rows: 500_000,
            pg_read: PgRead::default(),
        }
    }
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
    pub dist: Option<PathBuf>,
    pub seed_rows: Option<u64>,
    pub pg_read: Option<PgRead>,
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
            dist: high.dist.or(low.dist).unwrap_or(d.dist),
            seed_rows: high.seed_rows.or(low.seed_rows).unwrap_or(d.seed_rows),
            pg_read: high.pg_read.or(low.pg_read).unwrap_or(d.pg_read),
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.pool_size == 0 {
            return Err(ConfigError::Invalid("pool_size must be at least 1".into()));
        }
        if !(1..=BATCH_MAX).contains(&self.batch_size) {
            return Err(ConfigError::Invalid(format!("batch_size must be between 1 and {BATCH_MAX}")));
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
    fn rejects_nonsense() {
        assert!(toml::from_str::<Layer>("no_such_key = 1").is_err());
        let zero = Layer { batch_size: Some(0), ..Layer::default() };
        assert!(Config::from_layers(zero, Layer::default()).is_err());
        let mysql = Layer { database_url: Some("mysql://x".into()), ..Layer::default() };
        assert!(Config::from_layers(mysql, Layer::default()).is_err());
    }
}
