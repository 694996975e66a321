//! The streaming benchmark: `cargo bench -p rowstream --bench streaming`.
//!
//! Against PostgreSQL with 500,000 and 5,000,000 seeded rows (databases
//! `rowstream_bench_500000` and `rowstream_bench_5000000`, created and seeded on first use),
//! it measures `/standard`, `/chunked` and `/api/messages` NDJSON in stream and buffered mode:
//! time to first body byte, total time, bytes and the server's peak RSS (VmHWM of a fresh
//! `rowstream serve` process per endpoint). It times `psql \copy (select …) to stdout` in
//! the same run and prints the ratios against the targets.
//!
//! Options (after `--`): `--rows N` (default 500000), `--big-rows N` (5000000, 0 to skip),
//! `--runs N` (15), `--big-runs N` (3). `ROWSTREAM_BENCH_DATABASE_URL` names the server
//! (default postgres://postgres@127.0.0.1:5432/postgres).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{arg, ensure_seeded, median, verdict, Server, SECRET};

struct Options {
    rows: u64,
    big_rows: u64,
    runs: usize,
    big_runs: usize,
    admin_url: String,
}

fn options() -> Options {
    Options {
        rows: arg("--rows").unwrap_or(500_000),
        big_rows: arg("--big-rows").unwrap_or(5_000_000),
        runs: arg("--runs").unwrap_or(15),
        big_runs: arg("--big-runs").unwrap_or(3),
        admin_url: common::admin_url(),
    }
}

struct Run {
    /// Until the first byte of the response arrives: the server sends the response head in
    /// one write with the first row.
    ttfb_ms: f64,
    total_ms: f64,
    /// Response bytes on the wire (head and chunk framing included).
    bytes: u64,
}

/// One request over a fresh connection (opened before the clock starts), read to the end
/// with a plain socket: the time of the first byte is what the server did, with no HTTP
/// client machinery (task hand-offs, header parsing) added. `Connection: close` marks the
/// end of the body.
async fn fetch(port: u16, path: &str, token: &str) -> anyhow::Result<Run> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await?;
    socket.set_nodelay(true)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: JWT {token}\r\nConnection: close\r\n\r\n");
    let mut buf = vec![0u8; 1 << 20];
    let started = Instant::now();
    socket.write_all(request.as_bytes()).await?;
    let mut n = socket.read(&mut buf).await?;
    let ttfb = started.elapsed();
    anyhow::ensure!(buf[..n].starts_with(b"HTTP/1.1 200"), "{path}: {}", String::from_utf8_lossy(&buf[..n.min(200)]));
    let mut bytes = 0u64;
    while n > 0 {
        bytes += n as u64;
        n = socket.read(&mut buf).await?;
    }
    let total = started.elapsed();
    Ok(Run { ttfb_ms: ttfb.as_secs_f64() * 1e3, total_ms: total.as_secs_f64() * 1e3, bytes })
}

struct Row {
    rows: u64,
    name: &'static str,
    ttfb_ms: f64,
    total_ms: f64,
    mb: f64,
    rss_mb: f64,
}

const ENDPOINTS: [(&str, &str); 4] = [
    ("/standard", "/standard"),
    ("/chunked", "/chunked"),
    ("ndjson stream", "/api/messages?mode=stream&format=ndjson"),
    ("ndjson buffered", "/api/messages?mode=buffered&format=ndjson"),
];

async fn measure(url: &str, rows: u64, runs: usize) -> anyhow::Result<Vec<Row>> {
    let token = rowstream::auth::JwtKeys::new(SECRET.as_bytes()).issue("bench", Duration::from_secs(3600))?;
    let mut out = Vec::new();
    for (name, path) in ENDPOINTS {
        let server = Server::start(url, &[])?;
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{}", server.port);
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/healthz")).send().await.map(|r| !r.status().is_success()).unwrap_or(true) {
            anyhow::ensure!(Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Warm the pool, as a long-running server would be.
        let sep = if path.contains('?') { '&' } else { '?' };
        fetch(server.port, &format!("{path}{sep}limit=1"), &token).await?;
        let mut measured = Vec::new();
        for _ in 0..runs {
            measured.push(fetch(server.port, path, &token).await?);
        }
        if std::env::var_os("ROWSTREAM_BENCH_VERBOSE").is_some() {
            let ttfbs: Vec<String> = measured.iter().map(|r| format!("{:.2}", r.ttfb_ms)).collect();
            eprintln!("{name}: TTFB per run (ms): {}", ttfbs.join(" "));
        }
        out.push(Row {
            rows,
            name,
            ttfb_ms: median(measured.iter().map(|r| r.ttfb_ms).collect()),
            total_ms: median(measured.iter().map(|r| r.total_ms).collect()),
            mb: measured[0].bytes as f64 / 1e6,
            rss_mb: server.peak_rss_mb(),
        });
        drop(server);
    }
    Ok(out)
}

fn psql_copy_ms(url: &str, runs: usize) -> anyhow::Result<f64> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let status = Command::new("psql")
            .arg(url)
            .arg("-c")
            .arg(r"\copy (select id, sender, body, created_at from messages) to stdout")
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "psql failed");
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(times))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let o = options();
    let mut table = Vec::new();
    let small_url = ensure_seeded(&o.admin_url, o.rows).await?;
    let copy_ms = psql_copy_ms(&small_url, o.runs)?;
    table.extend(measure(&small_url, o.rows, o.runs).await?);
    let mut big_copy_ms = None;
    if o.big_rows > 0 {
        let big_url = ensure_seeded(&o.admin_url, o.big_rows).await?;
        big_copy_ms = Some(psql_copy_ms(&big_url, o.big_runs)?);
        table.extend(measure(&big_url, o.big_rows, o.big_runs).await?);
    }

    println!(
        "\nrowstream streaming benchmark: PostgreSQL, release build, medians of {} runs ({} at {} rows)",
        o.runs, o.big_runs, o.big_rows
    );
    println!("(TTFB: until the response's first byte; the server sends the head in one write with the first row. MB: response bytes)");
    println!(
        "{:>9}  {:<16} {:>10} {:>10} {:>9} {:>13}",
        "rows", "endpoint", "TTFB ms", "total ms", "MB", "peak RSS MB"
    );
    for r in &table {
        println!(
            "{:>9}  {:<16} {:>10.3} {:>10.1} {:>9.1} {:>13.1}",
            r.rows, r.name, r.ttfb_ms, r.total_ms, r.mb, r.rss_mb
        );
    }
    println!("{:>9}  {:<16} {:>10} {:>10.1}", o.rows, "psql \\copy", "", copy_ms);
    if let Some(ms) = big_copy_ms {
        println!("{:>9}  {:<16} {:>10} {:>10.1}", o.big_rows, "psql \\copy", "", ms);
    }

    let find = |rows: u64, name: &str| table.iter().find(|r| r.rows == rows && r.name == name);
    println!("\ntargets (ratios from this run):");
    if let Some(stream) = find(o.rows, "ndjson stream") {
        let ratio = stream.total_ms / copy_ms;
        println!(
            "  ndjson stream total / psql \\copy total at {} rows = {:.2}x  (target <= 1.0x)  {}",
            o.rows,
            ratio,
            verdict(ratio <= 1.0)
        );
        println!(
            "  ndjson stream TTFB median = {:.3} ms  (target <= 1 ms)  {}",
            stream.ttfb_ms,
            verdict(stream.ttfb_ms <= 1.0)
        );
        if let Some(standard) = find(o.rows, "/standard") {
            println!("  /standard TTFB / ndjson stream TTFB = {:.0}x", standard.ttfb_ms / stream.ttfb_ms);
        }
        if let Some(big) = find(o.big_rows, "ndjson stream") {
            let growth = big.rss_mb / stream.rss_mb;
            println!(
                "  stream peak RSS {} rows / {} rows = {:.2}x  (target <= 1.2x)  {}",
                o.big_rows,
                o.rows,
                growth,
                verdict(growth <= 1.2)
            );
            println!(
                "  stream peak RSS at {} rows = {:.1} MB  (target <= 40 MB)  {}",
                o.big_rows,
                big.rss_mb,
                verdict(big.rss_mb <= 40.0)
            );
            if let Some(ms) = big_copy_ms {
                println!(
                    "  ndjson stream total / psql \\copy total at {} rows = {:.2}x",
                    o.big_rows,
                    big.total_ms / ms
                );
            }
        }
    }
    Ok(())
}
