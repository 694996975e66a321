//! The `rowstream` command line. Every setting has a flag and an environment variable;
//! [`crate::config`] layers them over the optional TOML file and the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::Layer;
use crate::db::PgRead;
use crate::static_files::StaticMount;

/// The git commit this binary was built from (`-modified` when the work tree had changes;
/// `unknown` outside a git checkout).
pub const GIT_COMMIT: &str = git_version::git_version!(
    args = ["--always", "--dirty=-modified", "--abbrev=12", "--exclude=*"],
    fallback = "unknown"
);

/// `rowstream --version`: the package version and the commit.
pub fn version() -> String {
    format!("{} (commit {GIT_COMMIT})", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Parser)]
#[command(
    name = "rowstream",
    version = version(),
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
// Parsed once at start: `serve`'s many options making the enum large costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the API and the viewer (seeds an empty embedded database on first start).
    Serve(ServeArgs),
    /// Replace the contents of `messages` with N deterministic rows.
    Seed(SeedArgs),
    /// Print a JWT for the configured secret.
    Token(TokenArgs),
    /// Load-test a URL with keep-alive connections (the seed's asyncio client, as a tool).
    Load(crate::load::LoadArgs),
    /// Measure /standard vs /chunked and buffered vs stream on a running server.
    Compare(crate::compare::CompareArgs),
    /// Print shell completions, e.g. `rowstream completions bash > /etc/bash_completion.d/rowstream`.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
    /// The most rows one response of /api/messages or /api/tables/{name}/rows sends; a
    /// stream cut by it says so, with the token that continues it [default: no cap].
    #[arg(long, env = "ROWSTREAM_MAX_ROWS")]
    pub max_rows: Option<u64>,
    /// Longest wait for a query's first row; then the query is stopped and the answer is
    /// 504 query_timeout, e.g. 30s. A slow reader is never cut by it [default: 30s].
    #[arg(long, env = "ROWSTREAM_FIRST_ROW_TIMEOUT", value_parser = humantime::parse_duration)]
    pub first_row_timeout: Option<Duration>,
    /// How long a stream waits for a client that stopped reading before it gives its
    /// database connection back (and takes one again to resume after its last row when the
    /// client catches up); 0 to never [default: 250ms].
    #[arg(long, env = "ROWSTREAM_PARK_AFTER", value_parser = humantime::parse_duration)]
    pub park_after: Option<Duration>,
    /// Serve the viewer at / from this directory (a `scripts/build-viewer.sh --out DIR`
    /// build) instead of the copy embedded in the binary [default: embedded].
    #[arg(long, env = "ROWSTREAM_DIST")]
    pub dist: Option<PathBuf>,
    /// Rows to seed an empty embedded (SQLite) database with on start; 0 to never seed
    /// [default: 500000].
    #[arg(long, env = "ROWSTREAM_SEED_ROWS")]
    pub seed_rows: Option<u64>,
    /// PostgreSQL schemas whose tables and views are served, comma-separated; relations
    /// of the first are named bare, the others `schema.name` [default: public].
    #[arg(long, env = "ROWSTREAM_SCHEMAS", value_delimiter = ',')]
    pub schemas: Option<Vec<String>>,
    /// Globs: serve only relations whose name matches one, comma-separated [default: all].
    #[arg(long, env = "ROWSTREAM_EXPOSE", value_delimiter = ',')]
    pub expose: Option<Vec<String>>,
    /// Globs: never serve relations whose name matches one, comma-separated.
    #[arg(long, env = "ROWSTREAM_HIDE", value_delimiter = ',')]
    pub hide: Option<Vec<String>>,
    /// Serve POST /api/sql: ad-hoc SQL, one read-only query per request [default: off,
    /// POST /api/sql answers 404].
    #[arg(long, env = "ROWSTREAM_ALLOW_SQL")]
    pub allow_sql: bool,
    /// PostgreSQL only: the JWT claim naming the database role each data request runs as
    /// (SET LOCAL ROLE), so that the database's privileges and row-level security decide
    /// what a token sees; tokens without it get 403 [default: none].
    #[arg(long, env = "ROWSTREAM_JWT_ROLE_CLAIM", value_name = "CLAIM")]
    pub jwt_role_claim: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
}

/// `serve`'s settings for the seed system's other endpoints, its workers and its shutdown.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// Runtime worker threads [default: one per core].
    #[arg(long, env = "ROWSTREAM_WORKERS")]
    pub workers: Option<usize>,
    /// After SIGINT/SIGTERM, how long responses still open (streams) may go on before they
    /// are cut, e.g. 10s [default: 10s].
    #[arg(long, env = "ROWSTREAM_SHUTDOWN_GRACE", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Option<Duration>,
    /// Largest form (and /demo2) request body in bytes; larger is a 413 [default: 1048576].
    #[arg(long, env = "ROWSTREAM_MAX_BODY")]
    pub max_body: Option<u64>,
    /// http:// URL that POST /demo2 calls (GET) on a kept, pooled client [default: none:
    /// /demo2 answers 404].
    #[arg(long, env = "ROWSTREAM_UPSTREAM_URL")]
    pub upstream_url: Option<String>,
    /// Longest wait for the upstream before /demo2 answers 504, e.g. 5s [default: 5s].
    #[arg(long, env = "ROWSTREAM_UPSTREAM_TIMEOUT", value_parser = humantime::parse_duration)]
    pub upstream_timeout: Option<Duration>,
    /// Redis for GET /hit, e.g. redis://127.0.0.1:6379/ [default: none: count in the
    /// embedded database].
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// The key /hit increments [default: rowstream:hits].
    #[arg(long, env = "ROWSTREAM_HIT_KEY")]
    pub hit_key: Option<String>,
    /// Serve a directory at a URL prefix: PREFIX=DIR, or PREFIX=DIR,index to list
    /// directories. Repeatable; in the environment, separate mounts with `;`.
    #[arg(long = "static", env = "ROWSTREAM_STATIC", value_delimiter = ';', value_name = "PREFIX=DIR[,index]")]
    pub static_mounts: Vec<StaticMount>,
    /// Give every static mount a directory listing.
    #[arg(long, env = "ROWSTREAM_STATIC_INDEX")]
    pub static_index: bool,
    #[command(flatten)]
    pub protection: ProtectionArgs,
}

/// `serve`'s limits on requests, and CORS.
#[derive(Debug, Args)]
pub struct ProtectionArgs {
    /// Largest request head (request line + headers) in bytes; more is a 431 [default: 32768].
    #[arg(long, env = "ROWSTREAM_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Longest request URL (path + query) in bytes; more is a 414 [default: 8192].
    #[arg(long, env = "ROWSTREAM_MAX_URI_BYTES")]
    pub max_uri_bytes: Option<usize>,
    /// Longest time a client may take to send its request head before the connection is
    /// closed (slowloris), e.g. 10s [default: 10s].
    #[arg(long, env = "ROWSTREAM_HEADER_READ_TIMEOUT", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Option<Duration>,
    /// An origin (https://host[:port]) whose pages may call the API (CORS). Repeatable; in
    /// the environment, separate origins with `,` [default: none: CORS off].
    #[arg(long = "cors-origin", env = "ROWSTREAM_CORS_ORIGIN", value_delimiter = ',', value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
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
    /// A further string claim, e.g. `--claim role=web_anon` (for --jwt-role-claim).
    /// Repeatable.
    #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = parse_claim)]
    pub claims: Vec<(String, String)>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

fn parse_claim(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {text:?}")),
    }
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
            max_rows: args.max_rows,
            first_row_timeout: args.first_row_timeout,
            park_after: args.park_after,
            dist: args.dist.clone(),
            seed_rows: args.seed_rows,
            schemas: args.schemas.clone(),
            expose: args.expose.clone(),
            hide: args.hide.clone(),
            allow_sql: args.allow_sql.then_some(true),
            jwt_role_claim: args.jwt_role_claim.clone(),
            jwt_secret: args.secret.jwt_secret.clone(),
            workers: args.endpoints.workers,
            shutdown_grace: args.endpoints.shutdown_grace,
            max_body: args.endpoints.max_body,
            upstream_url: args.endpoints.upstream_url.clone(),
            upstream_timeout: args.endpoints.upstream_timeout,
            redis_url: args.endpoints.redis_url.clone(),
            hit_key: args.endpoints.hit_key.clone(),
            static_mounts: Some(args.endpoints.static_mounts.clone()).filter(|m| !m.is_empty()),
            static_index: args.endpoints.static_index.then_some(true),
            max_header_bytes: args.endpoints.protection.max_header_bytes,
            max_uri_bytes: args.endpoints.protection.max_uri_bytes,
            header_read_timeout: args.endpoints.protection.header_read_timeout,
            cors_origin: Some(args.endpoints.protection.cors_origins.clone()).filter(|o| !o.is_empty()),
            ..Layer::from(&args.database)
        }
    }
}

impl From<&SecretArgs> for Layer {
    fn from(args: &SecretArgs) -> Self {
        Layer { jwt_secret: args.jwt_secret.clone(), ..Layer::default() }
    }
}
