//! The seed system benchmark: `cargo bench -p rowstream --bench seed_system`.
//!
//! In one run, on this machine: a release `rowstream serve` (embedded SQLite, Redis at
//! `REDIS_URL` for `/hit`) and the aiohttp peer under `gunicorn -w 2` (from
//! `../shared/peers` beside the workspace; its `setup.sh` makes the virtualenv), each loaded
//! with `wrk -t2 -c200 -d10s --latency` on hello (`/hello`; the peer's `/`) and `/hit`; then
//! `rowstream load -c 200 -d 10s` (2 threads) against rowstream's `/hello`, next to wrk's
//! figure for the same. Prints req/s, p99 and the ratios against the targets: `/hello` ≥ 4×
//! aiohttp, `/hit` ≥ 4× aiohttp with p99 ≤ 10 ms, load ≥ 0.8× wrk.
//!
//! Options (after `--`): `--runs N` (1; medians when more), `--duration SECS` (10),
//! `--connections N` (200). Needs `wrk` (Debian: `apt-get install wrk`), Redis at
//! 127.0.0.1:6379 (or `REDIS_URL`), PostgreSQL for the peer (`PG_DSN`, default
//! postgresql://postgres@127.0.0.1:5432/test).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{arg, free_port, median, verdict, Server};
use rowstream::load::Report;

struct Options {
    runs: usize,
    secs: u64,
    connections: u32,
    redis_url: String,
    pg_dsn: String,
}

fn options() -> Options {
    Options {
        runs: arg("--runs").unwrap_or(1),
        secs: arg("--duration").unwrap_or(10),
        connections: arg("--connections").unwrap_or(200),
        redis_url: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into()),
        pg_dsn: std::env::var("PG_DSN").unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".into()),
    }
}

/// A child process stopped with SIGTERM (gunicorn stops its workers on it), then waited for.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok =
            Command::new("curl").args(["-sf", "-o", "/dev/null", url]).status().map(|s| s.success()).unwrap_or(false);
        if ok {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{url} did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start_rowstream(o: &Options, dir: &std::path::Path) -> anyhow::Result<(Server, String)> {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let server = Server::start(&url, &[("ROWSTREAM_SEED_ROWS", "0"), ("REDIS_URL", &o.redis_url)])?;
    let base = server.base_url();
    wait_for(&format!("{base}/hello"))?;
    Ok((server, base))
}

/// `../shared/peers` beside the workspace root.
fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers")
}

fn start_aiohttp(o: &Options) -> anyhow::Result<(Process, String)> {
    let peers = peers_dir();
    let setup = Command::new("bash").arg(peers.join("setup.sh")).stderr(Stdio::inherit()).output()?;
    anyhow::ensure!(setup.status.success(), "peers/setup.sh failed");
    let venv = String::from_utf8(setup.stdout)?.trim().to_owned();
    let port = free_port()?;
    let child = Command::new(format!("{venv}/bin/gunicorn"))
        .args([
            "aiohttp_app:app_factory",
            "-k",
            "aiohttp.GunicornWebWorker",
            "-w",
            "2",
            "-b",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(&peers)
        .env("PG_DSN", &o.pg_dsn)
        .env("REDIS_URL", &o.redis_url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let process = Process(child);
    wait_for(&format!("{base}/"))?;
    Ok((process, base))
}

struct Wrk {
    rps: f64,
    p99_ms: f64,
    non_2xx: u64,
    errors: String,
}

fn wrk(o: &Options, url: &str) -> anyhow::Result<Wrk> {
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{}", o.connections), &format!("-d{}s", o.secs), "--latency", url])
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(output.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no Requests/sec in wrk output:\n{text}"))?;
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| wrk_duration_ms(v.trim()))
        .ok_or_else(|| anyhow::anyhow!("no 99% line in wrk output:\n{text}"))?;
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let errors = text.lines().find(|l| l.contains("Socket errors")).map(|l| l.trim().to_owned()).unwrap_or_default();
    Ok(Wrk { rps, p99_ms, non_2xx, errors })
}

/// wrk's "1.55ms", "870.00us", "1.05s", "2.00m".
fn wrk_duration_ms(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => return None,
    })
}

fn rowstream_load(o: &Options, url: &str) -> anyhow::Result<Report> {
    let output = Command::new(env!("CARGO_BIN_EXE_rowstream"))
        .args(["load", url, "-c", &o.connections.to_string(), "-d", &format!("{}s", o.secs), "-t", "2", "--json"])
        .env("RUST_LOG", "warn")
        .output()?;
    anyhow::ensure!(output.status.success(), "rowstream load failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(serde_json::from_slice(&output.stdout)?)
}

#[derive(Default)]
struct Figures {
    rs_hello: Vec<(f64, f64)>,
    py_hello: Vec<(f64, f64)>,
    rs_hit: Vec<(f64, f64)>,
    py_hit: Vec<(f64, f64)>,
    wrk_hello: Vec<f64>,
    load_hello: Vec<(f64, f64)>,
}

fn med(values: &[(f64, f64)]) -> (f64, f64) {
    (median(values.iter().map(|v| v.0).collect()), median(values.iter().map(|v| v.1).collect()))
}

fn main() -> anyhow::Result<()> {
    let o = options();
    let dir = tempfile::tempdir()?;
    let (_rowstream, rs) = start_rowstream(&o, dir.path())?;
    let (_aiohttp, py) = start_aiohttp(&o)?;
    eprintln!("rowstream at {rs}, aiohttp (gunicorn -w 2) at {py}; {} run(s) of {} s each", o.runs, o.secs);
    let mut f = Figures::default();
    let note = |name: &str, w: &Wrk| {
        eprintln!("  {name:<28} {:>10.0} req/s  p99 {:>8.2} ms  non-2xx {}  {}", w.rps, w.p99_ms, w.non_2xx, w.errors);
    };
    for run in 1..=o.runs {
        eprintln!("run {run}:");
        let w = wrk(&o, &format!("{rs}/hello"))?;
        note("wrk rowstream /hello", &w);
        f.rs_hello.push((w.rps, w.p99_ms));
        f.wrk_hello.push(w.rps);
        let l = rowstream_load(&o, &format!("{rs}/hello"))?;
        eprintln!(
            "  {:<28} {:>10.0} req/s  p99 {:>8.2} ms  non-2xx {}  errors {}",
            "rowstream load /hello",
            l.requests_per_sec,
            l.latency_ms.p99,
            l.requests - l.status.s2xx,
            l.errors.total()
        );
        f.load_hello.push((l.requests_per_sec, l.latency_ms.p99));
        let w = wrk(&o, &format!("{py}/"))?;
        note("wrk aiohttp /", &w);
        f.py_hello.push((w.rps, w.p99_ms));
        let w = wrk(&o, &format!("{rs}/hit"))?;
        note("wrk rowstream /hit", &w);
        f.rs_hit.push((w.rps, w.p99_ms));
        let w = wrk(&o, &format!("{py}/hit"))?;
        note("wrk aiohttp /hit", &w);
        f.py_hit.push((w.rps, w.p99_ms));
    }

    let (rs_hello, py_hello, rs_hit, py_hit, load) =
        (med(&f.rs_hello), med(&f.py_hello), med(&f.rs_hit), med(&f.py_hit), med(&f.load_hello));
    let wrk_hello = median(f.wrk_hello.clone());
    println!(
        "\nseed system benchmark: wrk -t2 -c{c} -d{s}s --latency, rowstream release vs aiohttp gunicorn -w 2, medians of {r} run(s)",
        c = o.connections,
        s = o.secs,
        r = o.runs
    );
    println!("{:<34} {:>12} {:>10}", "", "req/s", "p99 ms");
    println!("{:<34} {:>12.0} {:>10.2}", "rowstream /hello (wrk)", rs_hello.0, rs_hello.1);
    println!("{:<34} {:>12.0} {:>10.2}", "aiohttp / (wrk)", py_hello.0, py_hello.1);
    println!("{:<34} {:>12.0} {:>10.2}", "rowstream /hit (wrk, Redis)", rs_hit.0, rs_hit.1);
    println!("{:<34} {:>12.0} {:>10.2}", "aiohttp /hit (wrk, Redis)", py_hit.0, py_hit.1);
    println!("{:<34} {:>12.0} {:>10.2}", "rowstream /hello (rowstream load)", load.0, load.1);
    println!("\ntargets (ratios from this run):");
    let hello_ratio = rs_hello.0 / py_hello.0;
    println!("  /hello rowstream / aiohttp = {hello_ratio:.2}x  (target >= 4x)  {}", verdict(hello_ratio >= 4.0));
    let hit_ratio = rs_hit.0 / py_hit.0;
    println!("  /hit rowstream / aiohttp = {hit_ratio:.2}x  (target >= 4x)  {}", verdict(hit_ratio >= 4.0));
    println!("  /hit rowstream p99 = {:.2} ms  (target <= 10 ms)  {}", rs_hit.1, verdict(rs_hit.1 <= 10.0));
    let load_ratio = load.0 / wrk_hello;
    println!("  rowstream load / wrk on /hello = {load_ratio:.2}x  (target >= 0.8x)  {}", verdict(load_ratio >= 0.8));
    Ok(())
}
