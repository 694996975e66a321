//! The `rowstream` command line. Every setting has a flag and an environment variable;
//! [`crate::config`] layers them over the optional TOML file and the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::Layer;
use crate::db::PgRead;

#[derive(Debug, Parser)]
#[command(
    name = "rowstream",
    version,
    about = "Stream large SQL results to browsers and HTTP clients as they are read"
)]
pub struct Cli {
    /// TOML settings file; flags and environment variables override it.
    /// Default: ./rowstream.toml when it exists.
    #[arg(long, env = "ROWSTREAM_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the viewer (seeds an empty embedded database on first start).
    Serve(ServeArgs),
    /// Replace the contents of `messages` with N deterministic rows.
    Seed(SeedArgs),
    /// Print a JWT for the configured secret.
    Token(TokenArgs),
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// sqlite://PATH (the default, sqlite://rowstream.db) or postgres://USER@HOST:PORT/DB.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Most database connections open at once [default: 10].
    #[arg(long, env = "ROWSTREAM_POOL_SIZE")]
    pub pool_size: Option<u32>,
    /// Longest wait for a free connection before answering 503, e.g. 5s [default: 5s].
    #[arg(long, env = "ROWSTREAM_ACQUIRE_TIMEOUT", value_parser = humantime::parse_duration)]
    pub acquire_timeout: Option<Duration>,
    /// How PostgreSQL rows are read: binary COPY, or sqlx fetch (for PostgreSQL-protocol
    /// servers without binary COPY) [default: copy].
    #[arg(long, env = "ROWSTREAM_PG_READ", value_enum)]
    pub pg_read: Option<PgRead>,
}

#[derive(Debug, Args)]
pub struct SecretArgs {
    /// HS256 secret for tokens. `serve` without one makes a random secret for that run.
    #[arg(long, env = "ROWSTREAM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ROWSTREAM_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Rows per HTTP chunk when a request does not say [default: 1000].
    #[arg(long, env = "ROWSTREAM_BATCH_SIZE")]
    pub batch_size: Option<u32>,
    /// The built viewer (trunk's output) served at / [default: dist].
    #[arg(long, env = "ROWSTREAM_DIST")]
    pub dist: Option<PathBuf>,
    /// Rows to seed an empty embedded (SQLite) database with on start; 0 to never seed
    /// [default: 500000].
    #[arg(long, env = "ROWSTREAM_SEED_ROWS")]
    pub seed_rows: Option<u64>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How many rows to write.
    #[arg(long, default_value_t = 500_000)]
    pub rows: u64,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The token's subject.
    #[arg(long, default_value = "rowstream")]
    pub sub: String,
    /// How long the token stays valid, e.g. 1h, 30m, 7d.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    #[command(flatten)]
    pub secret: SecretArgs,
}

impl From<&DatabaseArgs> for Layer {
    fn from(args: &DatabaseArgs) -> Self {
        Layer {
            database_url: args.database_url.clone(),
            pool_size: args.pool_size,
            acquire_timeout: args.acquire_timeout,
            pg_read: args.pg_read,
            ..Layer::default()
        }
    }
}

impl From<&ServeArgs> for Layer {
    fn from(args: &ServeArgs) -> Self {
        Layer {
            addr: args.addr,
            batch_size: args.batch_size,
            dist: args.dist.clone(),
            seed_rows: args.seed_rows,
            jwt_secret: args.secret.jwt_secret.clone(),
            ..Layer::from(&args.database)
        }
    }
}

impl From<&SecretArgs> for Layer {
    fn from(args: &SecretArgs) -> Self {
        Layer { jwt_secret: args.jwt_secret.clone(), ..Layer::default() }
    }
}
