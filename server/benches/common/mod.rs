//! What the benchmarks share: a seeded PostgreSQL database, a `rowstream serve` child
//! process whose peak RSS can be read, medians and the PASS/FAIL verdict.

#![allow(dead_code)] // each benchmark uses its own subset

pub mod wide;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use rowstream::config::Config;
use rowstream::db::Database;
use sqlx::{Connection, PgConnection};

pub const SECRET: &str = "benchmark-secret-of-at-least-32-bytes";

pub fn admin_url() -> String {
    std::env::var("ROWSTREAM_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The value after `name` on the command line (`cargo bench … -- --rows 1000`).
pub fn arg<T: std::str::FromStr>(name: &str) -> Option<T> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

/// `postgres://…/postgres` → `postgres://…/{database}`.
fn database_url(admin_url: &str, database: &str) -> String {
    let (base, _) = admin_url.rsplit_once('/').unwrap_or((admin_url, ""));
    format!("{base}/{database}")
}

/// Creates the database `name` on the server of `admin_url` unless it exists, and returns
/// its URL. Only `rowstream_bench_*` names: the benchmarks never touch other databases.
pub async fn ensure_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        name.starts_with("rowstream_bench_")
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "benchmark databases are named rowstream_bench_[a-z0-9_]*, not {name:?}"
    );
    let mut admin = PgConnection::connect(admin_url).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
    }
    admin.close().await?;
    Ok(database_url(admin_url, name))
}

pub async fn ensure_seeded(admin_url: &str, rows: u64) -> anyhow::Result<String> {
    let name = format!("rowstream_bench_{rows}");
    let url = ensure_database(admin_url, &name).await?;
    let config = Config { database_url: url.clone(), ..Config::default() };
    let db = Database::connect(&config.db_settings())?;
    db.migrate().await?;
    let Database::Postgres(pool, _) = &db else { anyhow::bail!("not postgres") };
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(pool).await?;
    if count != rows as i64 {
        eprintln!("seeding {rows} rows into {name} (once)…");
        rowstream::seed::seed(&db, rows).await?;
    }
    db.close().await;
    Ok(url)
}

pub struct Server {
    pub child: Child,
    pub port: u16,
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// `rowstream serve` (release, from this build) on a free loopback port over the
    /// database at `url`; `extra_env` adds or overrides settings.
    pub fn start(url: &str, extra_env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let port = free_port()?;
        let child = Command::new(env!("CARGO_BIN_EXE_rowstream"))
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("ROWSTREAM_ADDR", format!("127.0.0.1:{port}"))
            .env("ROWSTREAM_JWT_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Server { child, port })
    }

    /// Waits until `/healthz` answers 200 (at most 30 s).
    pub async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/healthz", self.base_url());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while client.get(&url).send().await.map(|r| !r.status().is_success()).unwrap_or(true) {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("rowstream serve exited before it was ready: {status}");
            }
            anyhow::ensure!(std::time::Instant::now() < deadline, "server did not start");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(())
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }
}

/// CPU time (user + system) of process `pid` so far, in ms; None where /proc cannot tell.
pub fn process_cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), in brackets: utime is the
    // 14th field, stime the 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks * 1000.0 / per_second as f64)
}

/// CPU time of every process of this machine's PostgreSQL server (named `postgres`) so
/// far, in ms: the backends a stream reads from included. Taken before and after a
/// request, it says how long the database worked for it (others' work included: quiet
/// machines only). None where /proc cannot tell.
pub fn postgres_cpu_ms() -> Option<f64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres") {
            if let Some(ms) = process_cpu_ms(pid) {
                *total.get_or_insert(0.0) += ms;
            }
        }
    }
    total
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}
