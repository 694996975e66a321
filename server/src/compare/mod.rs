//! `rowstream compare`: the seed's analysis as a command. On a running server it measures
//! `/standard` against `/chunked` and `/api/messages?mode=buffered` against `mode=stream`:
//! time to first byte, total time, bytes, and the server's resident memory while each mode
//! runs; medians of `--runs`; printed as a table whose last line per pair says how long no
//! data flowed. `--svg FILE` draws bytes received over time for all four.
//!
//! Peak memory per mode: the server's `VmHWM` is a lifetime peak, so instead a sampler reads
//! `process_resident_memory_bytes` from `/metrics` every [`SAMPLE_EVERY`] while a mode's
//! runs are going, and the largest sample is that mode's peak. The streaming modes run
//! first: the allocator keeps what a buffered mode freed, which would otherwise count
//! against the streaming modes measured after it.
//!
//! - [`fetch`]: one timed request; the memory gauge.
//! - [`svg`]: the bytes-over-time chart.

pub mod fetch;
pub mod svg;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use fetch::{Target, Trace};

/// (buffered, streamed): the same bytes, sent differently.
const PAIRS: [(&str, &str); 2] =
    [("/standard", "/chunked"), ("/api/messages?mode=buffered", "/api/messages?mode=stream")];

/// How often the server's memory is read while a mode runs.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);

const MB: f64 = 1e6;

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The running server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base: String,
    /// A JWT for the data routes, sent as `Authorization: JWT <token>`.
    #[arg(long, env = "ROWSTREAM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Requests per mode; the table shows medians.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Only the first N rows (`limit=N` on every request) [default: all].
    #[arg(long)]
    pub limit: Option<u64>,
    /// Also draw bytes received over time for every mode into this SVG file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print the figures as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("bad --base {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP error: {0}")]
    Http(#[source] hyper::Error),
    #[error("cannot build the request for {path}: {reason}")]
    Request { path: String, reason: String },
    #[error("GET {path} answered {status}: {body}")]
    Status { path: String, status: u16, body: String },
    #[error("--runs must be at least 1")]
    NoRuns,
    #[error("cannot draw {path}: {reason}")]
    Svg { path: PathBuf, reason: String },
}

/// The figures of one mode: medians over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeFigures {
    pub path: String,
    pub ttfb_ms: f64,
    pub total_ms: f64,
    /// Body bytes (the same in every run, or the median if they differ).
    pub bytes: u64,
    /// The server's resident memory before this mode's runs, in MB (10^6 bytes).
    pub rss_before_mb: Option<f64>,
    /// The largest resident memory sampled while this mode's runs went on.
    pub rss_peak_mb: Option<f64>,
    /// Every run's (TTFB ms, total ms), in order.
    pub runs: Vec<(f64, f64)>,
    /// Bytes received over time in the median run: (ms, bytes so far).
    #[serde(skip)]
    pub curve: Vec<(f64, u64)>,
}

/// A buffered mode and its streaming counterpart: the same bytes, sent differently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub buffered: ModeFigures,
    pub streamed: ModeFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub base: String,
    pub runs: usize,
    pub pairs: Vec<Pair>,
}

/// `rowstream compare`.
pub async fn main(args: CompareArgs) -> anyhow::Result<()> {
    let comparison = run(&args).await?;
    if let Some(path) = &args.svg {
        svg::draw(&comparison, path)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        print!("{comparison}");
        if let Some(path) = &args.svg {
            println!("bytes over time: {}", path.display());
        }
    }
    Ok(())
}

/// Measures both pairs.
#[tracing::instrument(name = "compare", skip_all, fields(base = %args.base))]
pub async fn run(args: &CompareArgs) -> Result<Comparison, CompareError> {
    if args.runs == 0 {
        return Err(CompareError::NoRuns);
    }
    let target = target(args).await?;
    let limit = args.limit.map(|n| format!("limit={n}"));
    let with = |path: &str| match (&limit, path.contains('?')) {
        (Some(l), true) => format!("{path}&{l}"),
        (Some(l), false) => format!("{path}?{l}"),
        (None, _) => path.to_owned(),
    };
    // Every streaming mode first: see the module docs.
    let mut streamed = Vec::new();
    for (_, path) in PAIRS {
        streamed.push(measure(&target, &with(path), args.runs).await?);
    }
    let mut pairs = Vec::new();
    for ((path, _), streamed) in PAIRS.into_iter().zip(streamed) {
        let buffered = measure(&target, &with(path), args.runs).await?;
        pairs.push(Pair { buffered, streamed });
    }
    Ok(Comparison { base: args.base.clone(), runs: args.runs, pairs })
}

async fn target(args: &CompareArgs) -> Result<Target, CompareError> {
    let bad = |reason: &str| CompareError::Url { url: args.base.clone(), reason: reason.into() };
    let uri: hyper::Uri = args.base.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("expected http://HOST:PORT"));
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    let port = authority.port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((authority.host().trim_start_matches('[').trim_end_matches(']'), port))
        .await
        .map_err(|e| bad(&e.to_string()))?
        .next()
        .ok_or_else(|| bad("no address"))?;
    Ok(Target { addr, host: authority.as_str().to_owned(), token: args.token.clone() })
}

/// `runs` requests to `path`, one after another, with the memory sampler running.
async fn measure(target: &Target, path: &str, runs: usize) -> Result<ModeFigures, CompareError> {
    let rss_before = target.resident_bytes().await;
    let peak = Arc::new(AtomicU64::new(rss_before.unwrap_or(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = rss_before.map(|_| {
        let (target, peak, stop) = (target.clone(), peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Relaxed) {
                if let Some(rss) = target.resident_bytes().await {
                    peak.fetch_max(rss, Relaxed);
                }
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
        })
    });
    let mut traces: Vec<Trace> = Vec::with_capacity(runs);
    let mut failure = None;
    for _ in 0..runs {
        match target.trace(path).await {
            Ok(trace) => traces.push(trace),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    stop.store(true, Relaxed);
    if let Some(sampler) = sampler {
        let _ = sampler.await;
    }
    if let Some(error) = failure {
        return Err(error);
    }
    if let Some(rss) = target.resident_bytes().await {
        peak.fetch_max(rss, Relaxed);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median_run = {
        let mut order: Vec<usize> = (0..traces.len()).collect();
        order.sort_by(|&a, &b| traces[a].total.cmp(&traces[b].total));
        order[order.len() / 2]
    };
    Ok(ModeFigures {
        path: path.to_owned(),
        ttfb_ms: median(traces.iter().map(|t| ms(t.ttfb)).collect()),
        total_ms: median(traces.iter().map(|t| ms(t.total)).collect()),
        bytes: median(traces.iter().map(|t| t.bytes as f64).collect()) as u64,
        rss_before_mb: rss_before.map(|b| b as f64 / MB),
        rss_peak_mb: rss_before.map(|_| peak.load(Relaxed) as f64 / MB),
        runs: traces.iter().map(|t| (ms(t.ttfb), ms(t.total))).collect(),
        curve: std::mem::take(&mut traces[median_run].curve),
    })
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl ModeFigures {
    fn rss(&self) -> String {
        match (self.rss_peak_mb, self.rss_before_mb) {
            (Some(peak), Some(before)) => format!("{peak:.1} (+{:.1})", (peak - before).max(0.0)),
            _ => "n/a".into(),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rowstream compare {}: medians of {} runs; peak RSS sampled from /metrics every {} ms (+ growth during the mode)",
            self.base,
            self.runs,
            SAMPLE_EVERY.as_millis()
        )?;
        writeln!(f, "{:<40} {:>12} {:>12} {:>10} {:>18}", "endpoint", "first byte", "complete", "MB", "peak RSS MB")?;
        for pair in &self.pairs {
            for mode in [&pair.buffered, &pair.streamed] {
                writeln!(
                    f,
                    "{:<40} {:>9.1} ms {:>9.1} ms {:>10.3} {:>18}",
                    mode.path,
                    mode.ttfb_ms,
                    mode.total_ms,
                    mode.bytes as f64 / MB,
                    mode.rss()
                )?;
            }
            let (b, s) = (&pair.buffered, &pair.streamed);
            writeln!(
                f,
                "  -> {}: no data flows for {:.3} s, then {:.1} MB at once; {}: data flows after {:.1} ms ({:.0}x sooner), done in {:.3} s",
                b.path,
                b.ttfb_ms / 1e3,
                b.bytes as f64 / MB,
                s.path,
                s.ttfb_ms,
                b.ttfb_ms / s.ttfb_ms.max(1e-3),
                s.total_ms / 1e3
            )?;
        }
        Ok(())
    }
}
