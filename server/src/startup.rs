//! Building and running the server. [`Application::build`] does everything that can fail
//! (database, migrations, first-start seeding, Redis, static mounts, binding) before
//! anything is served; [`run`] serves until the `shutdown` future completes, so tests can
//! stop it.
//!
//! Every connection is served under [`HttpLimits`] (head size → 431, header-read timeout),
//! and [`harden`] wraps the router in the URL limit (414), the catch-panic layer, the security
//! headers and CORS.
//!
//! Shutdown ([`serve`]): the listener is closed at once (no new connections); idle
//! keep-alive connections are closed; a connection with a response in progress finishes it
//! and then closes. Whatever is still open after the grace period (a long stream, a client
//! that stopped reading) is cut: its task is aborted and its socket closed without the
//! terminating chunk, so the client sees an incomplete body, never a clean end. Then
//! [`Application::run_until`] closes the Redis connection and the database pool.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::auth::JwtKeys;
use crate::config::{Config, DEFAULT_SHUTDOWN_GRACE};
use crate::db::read::StatementReader;
use crate::db::Database;
use crate::edge::EdgeLayer;
use crate::form::FormLimits;
use crate::hits::HitCounter;
use crate::introspect::CatalogHandle;
use crate::limits::HttpLimits;
use crate::metrics::Metrics;
use crate::routes::{router, AppContext, AppState};
use crate::security::{self, CorsSettings};
use crate::seed;
use crate::source::adhoc::DESCRIBE_PREFIX;
use crate::source::saved::SavedQueryDef;
use crate::upstream::Upstream;

/// How long a `serve` run's own token (no secret configured) stays valid.
pub const GENERATED_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Application {
    listener: TcpListener,
    router: Router,
    db: Database,
    hits: HitCounter,
    shutdown_grace: Duration,
    http: HttpLimits,
    /// Set when no secret was configured: a token for the secret made for this run.
    pub generated_token: Option<String>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let db_settings = config.db_settings();
        let db = Database::connect(&db_settings)?;
        // Unreachable at start: exit with one clear line (no retry loop; a supervisor restarts).
        if let Err(error) = db.prepare().await {
            let cause = match unreachable_cause(&config).await {
                // Its Display already ends with its source: keep one copy.
                Some(cause) => anyhow::anyhow!("{cause}"),
                None => anyhow::Error::new(error),
            };
            return Err(cause.context("cannot open the database (is it running and reachable at --database-url?)"));
        }
        db.warm_up().await;
        if db.is_embedded() && config.seed_rows > 0 && db.is_empty().await? {
            tracing::info!(rows = config.seed_rows, "empty embedded database: seeding it (first start only)");
            seed::seed(&db, config.seed_rows).await?;
        }
        let (secret, generated) = match &config.jwt_secret {
            Some(secret) => (secret.clone(), false),
            None => (JwtKeys::random_secret(), true),
        };
        let keys = Arc::new(JwtKeys::new(secret.as_bytes()).with_role_claim(config.jwt_role_claim.clone()));
        let generated_token = if generated { Some(keys.issue("rowstream", GENERATED_TOKEN_TTL)?) } else { None };
        let catalog = Arc::new(CatalogHandle::load(db.clone(), config.catalog.clone()).await?);
        let upstream = config.upstream.as_ref().map(Upstream::new).transpose()?;
        let hits = HitCounter::open(&config.hits, &db).await?;
        let reader = db.reader(&db_settings)?;
        describe_saved_queries(&reader, &config.queries).await?;
        let state = AppState::new(AppContext {
            db: db.clone(),
            keys,
            metrics: Arc::new(Metrics::default()),
            batch_size: config.batch_size,
            max_rows: config.max_rows,
            first_row_timeout: config.first_row_timeout,
            park_after: (!config.park_after.is_zero()).then_some(config.park_after),
            catalog,
            forms: FormLimits { max_body: config.max_body },
            upstream,
            hits: hits.clone(),
            reader,
            queries: Arc::new(config.queries.clone()),
            allow_sql: config.allow_sql,
        });
        if config.dist.is_none() && !crate::routes::viewer::embedded_viewer_present() {
            tracing::warn!(
                "this rowstream was built without its viewer (server/viewer/ was missing): the API works, \
                 and `/` explains how to get the viewer (`bash scripts/build-viewer.sh`, then rebuild; \
                 or --dist DIR)"
            );
        }
        let router = harden(router(state, config.dist.as_deref(), &config.statics)?, config.http, &config.cors);
        let listener = TcpListener::bind(config.addr).await?;
        Ok(Application {
            listener,
            router,
            db,
            hits,
            shutdown_grace: config.shutdown_grace,
            http: config.http,
            generated_token,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has an address.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Serves until `shutdown` completes, drains (see [`serve`]), then closes the Redis
    /// connection and the database pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let result = serve(self.listener, self.router, shutdown, self.shutdown_grace, self.http).await;
        self.hits.close().await;
        self.db.close().await;
        tracing::info!("stopped");
        result
    }
}

/// Prepares every saved query once: SQL the database does not take (an unknown table, a
/// type mismatch) stops the start with a line naming the query.
async fn describe_saved_queries(reader: &Database, queries: &[SavedQueryDef]) -> anyhow::Result<()> {
    if queries.is_empty() {
        return Ok(());
    }
    let mut statements = StatementReader::new(reader.acquire().await?, true);
    for query in queries {
        if let Err(error) = statements.describe(&format!("{DESCRIBE_PREFIX}{}", query.body)).await {
            anyhow::bail!("saved query {:?}: the database does not take its SQL: {error}", query.name);
        }
    }
    statements.done();
    Ok(())
}

/// The layers every served router gets: the URL limit (414), catch-panic (500 JSON), the
/// security headers, and CORS when origins are configured.
pub fn harden(router: Router, http: HttpLimits, cors: &CorsSettings) -> Router {
    security::cors(router.layer(EdgeLayer::new(&http)), cors)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish
/// for up to the default grace period (10 s) and cuts the rest. Default [`HttpLimits`].
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listener, router, shutdown, DEFAULT_SHUTDOWN_GRACE, HttpLimits::default()).await
}

/// [`run`] with a chosen grace period: one HTTP/1.1 connection per task, all in one
/// [`JoinSet`] so that what is left after `grace` can be aborted.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: HttpLimits,
) -> std::io::Result<()> {
    let builder = limits.connection_builder();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(error) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // No Nagle delay: the first row's small chunk must leave at once.
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
                let service = TowerToHyperService::new(router.clone());
                let mut stop = stop_rx.clone();
                let builder = builder.clone();
                connections.spawn(async move {
                    let connection = builder.serve_connection(TokioIo::new(tcp), service);
                    let mut connection = pin!(connection);
                    let result = tokio::select! {
                        result = connection.as_mut() => result,
                        _ = stop.changed() => {
                            // Closes at once when idle, after the response in progress otherwise.
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    };
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop_tx.send(());
    tracing::info!(open = connections.len(), ?grace, "shutting down: no new connections; open requests may finish");
    let drained = tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(cut = connections.len(), "grace period over: cutting the responses still open");
        connections.shutdown().await;
    }
    Ok(())
}

/// Why PostgreSQL cannot be reached, in the driver's words ("Connection refused"): the pool
/// only says that it timed out. `None` for SQLite, or when a direct connection works.
async fn unreachable_cause(config: &Config) -> Option<sqlx::Error> {
    use sqlx::ConnectOptions as _;
    let options: sqlx::postgres::PgConnectOptions = config.database_url.parse().ok()?;
    match tokio::time::timeout(config.acquire_timeout, options.connect()).await {
        Ok(Err(error)) => Some(error),
        _ => None,
    }
}

/// Where the viewer is served from, for the start-up banner.
pub fn viewer_url(addr: SocketAddr, token: Option<&str>) -> String {
    let host = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
    match token {
        Some(token) => format!("http://{host}/#token={token}"),
        None => format!("http://{host}/"),
    }
}
