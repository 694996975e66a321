//! Logging: `RUST_LOG` wins; otherwise info for rowstream, warnings for everything else.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("rowstream=info,tower_http=warn,sqlx=warn,warn"));
    // try_init: tests call this once per spawned app.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
