//! `rowstream load`: the seed's asyncio load client, as a real load generator.
//!
//! `c` workers each keep one HTTP/1.1 keep-alive connection busy (one task per connection
//! writing pre-serialized request bytes and parsing responses with `httparse`), on a
//! multi-thread runtime of `--threads` workers (2, like `wrk -t2`). The run is bounded by
//! `-n` requests or `-d` time, always. Each worker keeps its own HDR histogram and counters;
//! they are merged into one [`Report`] at the end.
//!
//! - [`request`]: the request every worker sends, built once from the arguments.
//! - [`connection`]: one worker: connect, write, read and frame the response, count, reconnect.
//! - [`report`]: the figures, as text (the seed's) or JSON.

pub mod connection;
pub mod report;
pub mod request;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

pub use report::Report;
pub use request::RequestTemplate;

use connection::Tally;

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The URL to load, e.g. http://127.0.0.1:8080/hello.
    pub url: String,
    /// Connections kept busy at once.
    #[arg(short = 'c', long, default_value_t = 200)]
    pub connections: u32,
    /// Stop after this many requests (connect failures count as requests).
    #[arg(short = 'n', long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Stop after this long, e.g. 10s [default: 10s when -n is not given].
    #[arg(short = 'd', long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// A form field (repeatable); sent as application/x-www-form-urlencoded, or as
    /// multipart/form-data with --form-file.
    #[arg(long = "form", value_name = "KEY=VALUE")]
    pub form: Vec<String>,
    /// A file form field (repeatable), read once at start; makes the body multipart/form-data.
    #[arg(long = "form-file", value_name = "KEY=@PATH")]
    pub form_file: Vec<String>,
    /// An extra request header (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A JWT, sent as `Authorization: JWT <token>`.
    #[arg(long, env = "ROWSTREAM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Runtime worker threads for the client.
    #[arg(short = 't', long, default_value_t = 2)]
    pub threads: usize,
    /// A request (or connect) slower than this counts as a timeout error.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Requests(u64),
    Duration(Duration),
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub template: RequestTemplate,
    pub connections: u32,
    pub bound: Bound,
    pub timeout: Duration,
    pub progress: bool,
    pub threads: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("bad URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("bad header {0:?}: expected 'Name: value'")]
    Header(String),
    #[error("bad method {0:?}")]
    Method(String),
    #[error("bad form field {0:?}: expected KEY=VALUE")]
    Form(String),
    #[error("cannot read form file {path}: {source}")]
    FormFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error("cannot start the client runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl LoadOptions {
    pub fn from_args(args: &LoadArgs) -> Result<LoadOptions, LoadError> {
        if args.connections == 0 {
            return Err(LoadError::Zero("--connections"));
        }
        if args.threads == 0 {
            return Err(LoadError::Zero("--threads"));
        }
        let bound = match (args.requests, args.duration) {
            (Some(0), _) => return Err(LoadError::Zero("-n")),
            (Some(n), _) => Bound::Requests(n),
            (None, Some(d)) => Bound::Duration(d),
            (None, None) => Bound::Duration(Duration::from_secs(10)),
        };
        Ok(LoadOptions {
            template: RequestTemplate::from_args(args)?,
            connections: args.connections,
            bound,
            timeout: args.timeout,
            progress: std::io::stderr().is_terminal(),
            threads: args.threads,
        })
    }
}

/// `rowstream load`: runs on a runtime of its own (`--threads` workers) and prints the report.
pub fn main(args: LoadArgs) -> anyhow::Result<()> {
    let options = LoadOptions::from_args(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)?;
    let report = runtime.block_on(run(options))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// What every worker shares: where to connect, the bound, the counters the bar shows.
pub(crate) struct Shared {
    pub addr: SocketAddr,
    pub template: RequestTemplate,
    pub timeout: Duration,
    pub limit: Option<u64>,
    pub deadline: Option<Instant>,
    /// Request slots handed out (for `-n`).
    pub issued: AtomicU64,
    /// Responses completed, for the progress bar (only counted when it is shown).
    pub completed: AtomicU64,
    pub progress: bool,
}

impl Shared {
    /// Takes one request slot; false when the run is over.
    pub fn claim(&self) -> bool {
        if let Some(limit) = self.limit {
            if self.issued.fetch_add(1, Relaxed) >= limit {
                return false;
            }
        }
        self.deadline.is_none_or(|deadline| Instant::now() < deadline)
    }
}

/// Runs the load on the current runtime and merges the workers' tallies.
#[tracing::instrument(name = "load", skip_all, fields(url = %options.template.url))]
pub async fn run(options: LoadOptions) -> Result<Report, LoadError> {
    let addr = options.template.resolve().await?;
    let started = Instant::now();
    let (limit, deadline) = match options.bound {
        Bound::Requests(n) => (Some(n), None),
        Bound::Duration(d) => (None, Some(started + d)),
    };
    let shared = Arc::new(Shared {
        addr,
        template: options.template.clone(),
        timeout: options.timeout,
        limit,
        deadline,
        issued: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        progress: options.progress,
    });
    let bar = progress_bar(&options);
    let bound = options.bound;
    let ticker = bar.clone().map(|bar| {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(100));
            loop {
                interval.tick().await;
                match bound {
                    Bound::Requests(_) => bar.set_position(shared.completed.load(Relaxed)),
                    Bound::Duration(_) => bar.set_position(started.elapsed().as_millis() as u64),
                }
                bar.set_message(format!("{} responses", shared.completed.load(Relaxed)));
            }
        })
    });
    let workers: Vec<_> = (0..options.connections).map(|_| tokio::spawn(connection::work(shared.clone()))).collect();
    let mut total = Tally::new();
    for worker in workers {
        match worker.await {
            Ok(tally) => total.merge(&tally),
            Err(error) => tracing::error!(%error, "a load worker failed"),
        }
    }
    let elapsed = started.elapsed();
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(Report::new(&options, &total, elapsed))
}

fn progress_bar(options: &LoadOptions) -> Option<ProgressBar> {
    if !options.progress {
        return None;
    }
    let (length, template) = match options.bound {
        Bound::Requests(n) => (n, "{bar:40} {pos}/{len} requests  {msg}"),
        Bound::Duration(d) => (d.as_millis() as u64, "{bar:40} {elapsed}  {msg}"),
    };
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    Some(bar)
}
