//! The `rowstream` binary: `serve`, `seed`, `token`, `load`, `compare`, `completions`. See
//! `rowstream --help`.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use rowstream::auth::JwtKeys;
use rowstream::cli::{Cli, Command};
use rowstream::config::{Config, Layer};
use rowstream::db::Database;
use rowstream::routes::viewer::embedded_viewer_present;
use rowstream::startup::{viewer_url, Application};
use rowstream::{seed, telemetry};

/// The runtime is built by hand (not `#[tokio::main]`) so that `serve --workers N` sets its
/// worker threads; every other command takes tokio's default (one per core), except `load`,
/// which builds a runtime of its own with `--threads` workers.
fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let result = match &cli.command {
        Command::Load(args) => rowstream::load::main(args.clone()),
        _ => workers(&cli).and_then(|workers| {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(workers) = workers {
                builder.worker_threads(workers);
            }
            let runtime = builder.enable_all().build()?;
            runtime.block_on(run(cli))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rowstream: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `serve`'s configured worker threads (flag, env or file); `None`: the default.
fn workers(cli: &Cli) -> anyhow::Result<Option<usize>> {
    Ok(match &cli.command {
        Command::Serve(args) => Config::resolve(Layer::from(args), cli.config.as_deref())?.workers,
        _ => None,
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve(args) => {
            let config = Config::resolve(Layer::from(args), cli.config.as_deref())?;
            let app = Application::build(config.clone()).await?;
            tracing::info!(
                workers = config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                "runtime"
            );
            let addr = app.local_addr();
            let token = app.generated_token.clone();
            let shutdown = shutdown_signal()?;
            eprintln!("rowstream is serving {} on http://{addr}", redact(&config.database_url));
            match &token {
                Some(token) => {
                    eprintln!("No JWT secret configured: made one for this run. Open the viewer:");
                    eprintln!("    {}", viewer_url(addr, Some(token)));
                    eprintln!("or stream with curl:");
                    eprintln!("    curl -N -H 'Authorization: JWT {token}' http://{addr}/chunked");
                }
                None => eprintln!("Viewer: {} (make a token with `rowstream token`)", viewer_url(addr, None)),
            }
            if config.dist.is_none() && !embedded_viewer_present() {
                eprintln!("This build has no viewer: `/` says how to get it. The API works as usual.");
            }
            app.run_until(shutdown).await?;
            eprintln!("rowstream: stopped");
        }
        Command::Seed(args) => {
            let config = Config::resolve(Layer::from(&args.database), cli.config.as_deref())?;
            let db = Database::connect(&config.db_settings())?;
            db.migrate().await?;
            seed::seed(&db, args.rows).await?;
            eprintln!("seeded {} rows into {}", args.rows, redact(&config.database_url));
            db.close().await;
        }
        Command::Token(args) => {
            let config = Config::resolve(Layer::from(&args.secret), cli.config.as_deref())?;
            let secret = config.jwt_secret.ok_or_else(|| {
                anyhow::anyhow!(
                    "no JWT secret configured: pass --jwt-secret or set ROWSTREAM_JWT_SECRET (the one `serve` uses)"
                )
            })?;
            let claims = args.claims.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str()))).collect();
            println!("{}", JwtKeys::new(secret.as_bytes()).issue_with(&args.sub, args.ttl, claims)?);
        }
        Command::Compare(args) => rowstream::compare::main(args.clone()).await?,
        Command::Load(_) => anyhow::bail!("`load` runs on a runtime of its own"),
        Command::Completions(args) => {
            clap_complete::generate(args.shell, &mut Cli::command(), "rowstream", &mut std::io::stdout());
        }
    }
    Ok(())
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// SIGINT or SIGTERM. The handlers are installed here, before the banner says the server
/// is up, not when the returned future is first polled: a signal sent right after the
/// banner (a test, a supervisor) must not find the default action, which kills the process.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?)
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        eprintln!("rowstream: shutting down");
    })
}
