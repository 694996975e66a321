//! Building and running the server. [`Application::build`] does everything that can fail
//! (database, migrations, first-start seeding, binding) before anything is served;
//! [`run`] serves until the `shutdown` future completes, so tests can stop it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::db::Database;
use crate::metrics::Metrics;
use crate::routes::{router, AppState};
use crate::seed;

/// How long a `serve` run's own token (no secret configured) stays valid.
pub const GENERATED_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Application {
    listener: TcpListener,
    router: Router,
    db: Database,
    /// Set when no secret was configured: a token for the secret made for this run.
    pub generated_token: Option<String>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let db = Database::connect(&config)?;
        db.prepare().await?;
        db.warm_up().await;
        if db.is_embedded() && config.seed_rows > 0 && db.is_empty().await? {
            tracing::info!(rows = config.seed_rows, "empty embedded database: seeding it (first start only)");
            seed::seed(&db, config.seed_rows).await?;
        }
        let (secret, generated) = match &config.jwt_secret {
            Some(secret) => (secret.clone(), false),
            None => (JwtKeys::random_secret(), true),
        };
        let keys = Arc::new(JwtKeys::new(secret.as_bytes()));
        let generated_token = if generated { Some(keys.issue("rowstream", GENERATED_TOKEN_TTL)?) } else { None };
        let state =
            AppState { db: db.clone(), keys, metrics: Arc::new(Metrics::default()), batch_size: config.batch_size };
        let listener = TcpListener::bind(config.addr).await?;
        Ok(Application { listener, router: router(state, &config.dist), db, generated_token })
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

    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let result = run(self.listener, self.router, shutdown).await;
        self.db.close().await;
        result
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // No Nagle delay: the first row's small chunk must leave at once.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// Where the viewer is served from, for the start-up banner.
pub fn viewer_url(addr: SocketAddr, token: Option<&str>) -> String {
    let host = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
    match token {
        Some(token) => format!("http://{host}/#token={token}"),
        None => format!("http://{host}/"),
    }
}
