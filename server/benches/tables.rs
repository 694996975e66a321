//! The wide-table benchmark of `/api/tables/{name}/rows`:
//! `cargo bench -p rowstream --bench tables`.
//!
//! **PostgreSQL.** A table `wide` of 17 columns (int8 key, int2, int4, int8, float8,
//! numeric, bool, text, varchar, date, timestamptz, uuid, jsonb, bytea, an enum, an int4
//! array, a second text; about 120 bytes of text a row; NULLs in eight columns), filled
//! deterministically with `INSERT … SELECT generate_series` in its own database
//! (`rowstream_bench_wide_1000000`, and `rowstream_bench_wide_100000` for the small copy),
//! created once and reused while its row count and version marker match. It measures
//! `/api/tables/wide/rows` as NDJSON, CSV and Arrow: total time, body bytes and the peak RSS
//! (VmHWM) of a fresh release `rowstream serve` per format and table size, medians of
//! `--runs`, against `psql -c "\copy (select <the same columns> from wide) to stdout"` into
//! /dev/null timed in the same run. Also timed, as floors and not targets: the server alone
//! producing the same rows as binary COPY (`COPY (…) TO '/dev/null' (FORMAT binary)`, run by
//! the server; needs `pg_write_server_files`), which no reader of COPY can beat, in no order
//! and in the primary key's order (`order by id`: rowstream's own statement, whose default
//! order is the key's; an index scan).
//!
//! **SQLite** (the embedded default). A file in the target directory
//! (`CARGO_TARGET_TMPDIR/rowstream_bench_sqlite_1000000.db`) holds `messages` (500,000 rows,
//! `rowstream::seed`, as `serve` seeds an empty file) and `wide` copied from PostgreSQL with
//! SQLite's storage classes (integer, real, text, blob); a second file holds the 100,000-row
//! `wide`. It measures `/api/tables/messages/rows` and `/api/tables/wide/rows` as NDJSON and
//! CSV against `sqlite3 -json FILE "select …"` and `sqlite3 -csv FILE "select …"` of the same
//! columns, same run.
//!
//! **TTFB** (both backends): until the response's first byte, timed from the request's
//! write on an open connection (a plain socket, as `benches/streaming.rs` does), median of
//! `--ttfb-runs`, for the table, a filtered table (`i4=gte.10`: the first match is the
//! table's 10th row) and a saved query (`[queries.wide_after]` in a settings file given to
//! `serve` with `ROWSTREAM_CONFIG`); the connection is dropped after the first byte, then
//! a pause (`--ttfb-pause-ms`, 300) and a `limit=1` request before the next. The NDJSON
//! lines of the figures table also show the TTFB of the full reads.
//!
//! **Checks**: every response is `200`, chunked and complete (its terminating chunk came);
//! an NDJSON body ends with `{"end":{"rows":N}}` where N is the table's row count; an Arrow
//! body ends with the end-of-stream marker `0xFFFFFFFF 0x00000000`.
//!
//! Targets (issue 8): PostgreSQL NDJSON ≤ 1.0× psql `\copy`, Arrow ≤ 0.7×, CSV ≤ 1.0×;
//! SQLite NDJSON ≤ 1.0× `sqlite3 -json`, CSV ≤ 1.0× `sqlite3 -csv`; TTFB ≤ 1 ms; peak RSS
//! ≤ 40 MB and flat (the big table's peak ≤ 1.2× the small table's).
//!
//! Options (after `--`): `--rows N` (1000000), `--small-rows N` (100000), `--messages-rows N`
//! (500000), `--runs N` (5), `--sqlite-runs N` (3), `--ttfb-runs N` (11), `--ttfb-pause-ms N`
//! (300), `--skip-postgres`, `--skip-sqlite`, `--ttfb-only`. `ROWSTREAM_BENCH_DATABASE_URL` names the PostgreSQL server (default
//! postgres://postgres@127.0.0.1:5432/postgres); `ROWSTREAM_BENCH_VERBOSE=1` prints every run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sqlx::{Connection, PgConnection, QueryBuilder, Row as _, Sqlite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::wide::{ensure_pg_wide, WIDE_VERSION};
use common::{arg, median, postgres_cpu_ms, process_cpu_ms, verdict, Server, SECRET};

struct Options {
    rows: u64,
    small_rows: u64,
    messages_rows: u64,
    runs: usize,
    sqlite_runs: usize,
    ttfb_runs: usize,
    ttfb_pause: Duration,
    ttfb_only: bool,
    postgres: bool,
    sqlite: bool,
    admin_url: String,
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn options() -> Options {
    let rows = arg("--rows").unwrap_or(1_000_000);
    Options {
        rows,
        small_rows: arg("--small-rows").unwrap_or((rows / 10).max(1)),
        messages_rows: arg("--messages-rows").unwrap_or(500_000),
        runs: arg("--runs").unwrap_or(5),
        sqlite_runs: arg("--sqlite-runs").unwrap_or(3),
        ttfb_runs: arg("--ttfb-runs").unwrap_or(11),
        ttfb_pause: Duration::from_millis(arg("--ttfb-pause-ms").unwrap_or(300)),
        ttfb_only: flag("--ttfb-only"),
        postgres: !flag("--skip-postgres"),
        sqlite: !flag("--skip-sqlite"),
        admin_url: common::admin_url(),
    }
}

fn verbose() -> bool {
    std::env::var_os("ROWSTREAM_BENCH_VERBOSE").is_some()
}

// ---------------------------------------------------------------------------------------
// The data
// ---------------------------------------------------------------------------------------

/// The columns of `wide`, in table order (also what the references select).
const WIDE_COLUMNS: &str = "id, i2, i4, i8, f8, amount, flag, title, label, day, at, uid, meta, raw, state, tags, note";
/// The reference that says how long PostgreSQL alone takes to produce the binary COPY.
const COPY_FLOOR: &str = "binary COPY, unread";
/// The same in the primary key's order, as rowstream's statement reads the rows (an index
/// scan instead of a sequential one).
const KEY_ORDER_FLOOR: &str = "binary COPY by key, unread";
const MESSAGES_COLUMNS: &str = "id, sender, body, created_at";

/// `wide` in SQLite: the same rows in SQLite's storage classes.
const SQLITE_WIDE_DDL: &str = "
DROP TABLE IF EXISTS wide;
CREATE TABLE wide (
    id     INTEGER PRIMARY KEY,
    i2     INTEGER,
    i4     INTEGER NOT NULL,
    i8     INTEGER NOT NULL,
    f8     REAL,
    amount REAL NOT NULL,
    flag   INTEGER,
    title  TEXT NOT NULL,
    label  TEXT NOT NULL,
    day    TEXT NOT NULL,
    at     TEXT NOT NULL,
    uid    TEXT NOT NULL,
    meta   TEXT,
    raw    BLOB,
    state  TEXT NOT NULL,
    tags   TEXT,
    note   TEXT
);
";

/// What PostgreSQL sends for the SQLite copy, one SQLite storage class per column.
const PG_WIDE_AS_SQLITE: &str = r#"
SELECT id, i2::int8, i4::int8, i8, f8, amount::float8, flag::int::int8, title, label::text, day::text,
       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), uid::text, meta::text, raw,
       state::text, array_to_json(tags)::text, note
FROM wide ORDER BY id
"#;

#[derive(Clone, Copy)]
enum Class {
    Integer,
    Real,
    Text,
    Blob,
}

const SQLITE_WIDE_CLASSES: [Class; 17] = {
    use Class::*;
    [
        Integer, Integer, Integer, Integer, Real, Real, Integer, Text, Text, Text, Text, Text, Text, Blob, Text, Text,
        Text,
    ]
};

enum Value {
    Integer(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

fn sqlite_file(rows: u64) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rowstream_bench_sqlite_{rows}.db"))
}

/// A SQLite file with `wide` (`rows` rows, copied from `pg_url`'s `wide`) and, when
/// `messages_rows` > 0, `messages` seeded as `serve` seeds it; built once.
async fn ensure_sqlite(rows: u64, messages_rows: u64, pg_url: &str) -> anyhow::Result<String> {
    let path = sqlite_file(rows);
    let url = format!("sqlite://{}", path.display());
    let config = rowstream::config::Config { database_url: url.clone(), ..Default::default() };
    let db = rowstream::db::Database::connect(&config.db_settings())?;
    db.migrate().await?;
    let rowstream::db::Database::Sqlite(pool, _) = &db else { anyhow::bail!("not sqlite") };
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(pool).await?;
    if messages != messages_rows as i64 {
        eprintln!("seeding {messages_rows} messages into {} (once)…", path.display());
        rowstream::seed::seed(&db, messages_rows).await?;
    }
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(pool).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'wide')").fetch_one(pool).await?;
    let wide: Option<i64> =
        if exists { Some(sqlx::query_scalar("SELECT count(*) FROM wide").fetch_one(pool).await?) } else { None };
    if version != WIDE_VERSION || wide != Some(rows as i64) {
        eprintln!("copying wide ({rows} rows) from PostgreSQL into {} (once)…", path.display());
        let started = Instant::now();
        let mut pg = PgConnection::connect(pg_url).await?;
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(SQLITE_WIDE_DDL).execute(&mut *tx).await?;
        let mut source = sqlx::query(PG_WIDE_AS_SQLITE).fetch(&mut pg);
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(500);
        let mut copied = 0u64;
        loop {
            let row = source.try_next().await?;
            if let Some(row) = &row {
                let mut values = Vec::with_capacity(SQLITE_WIDE_CLASSES.len());
                for (i, class) in SQLITE_WIDE_CLASSES.iter().enumerate() {
                    values.push(match class {
                        Class::Integer => Value::Integer(row.try_get(i)?),
                        Class::Real => Value::Real(row.try_get(i)?),
                        Class::Text => Value::Text(row.try_get(i)?),
                        Class::Blob => Value::Blob(row.try_get(i)?),
                    });
                }
                batch.push(values);
            }
            // 500 rows × 17 values: far below SQLite's limit on bound parameters.
            if batch.len() == 500 || (row.is_none() && !batch.is_empty()) {
                copied += batch.len() as u64;
                let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(format!("INSERT INTO wide ({WIDE_COLUMNS}) "));
                insert.push_values(batch.drain(..), |mut b, values| {
                    for value in values {
                        match value {
                            Value::Integer(v) => b.push_bind(v),
                            Value::Real(v) => b.push_bind(v),
                            Value::Text(v) => b.push_bind(v),
                            Value::Blob(v) => b.push_bind(v),
                        };
                    }
                });
                insert.build().execute(&mut *tx).await?;
            }
            if row.is_none() {
                break;
            }
        }
        drop(source);
        anyhow::ensure!(copied == rows, "copied {copied} rows of wide, expected {rows}");
        sqlx::raw_sql(&format!("PRAGMA user_version = {WIDE_VERSION}")).execute(&mut *tx).await?;
        tx.commit().await?;
        pg.close().await?;
        eprintln!("  done in {:.1} s", started.elapsed().as_secs_f64());
    }
    // Everything in the main file, none in the WAL, before sqlite3 and serve read it.
    sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await?;
    db.close().await;
    Ok(url)
}

/// The settings file every measured `serve` gets: one saved query over `wide`, valid on
/// both backends.
fn settings_file() -> anyhow::Result<PathBuf> {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rowstream_bench_tables.toml");
    std::fs::write(
        &path,
        "[queries.wide_after]\n\
         sql = \"select * from wide where id > :after_id\"\n\
         params = { after_id = { type = \"int8\", default = \"0\" } }\n",
    )?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------

/// What a complete body must end with.
#[derive(Clone, Copy)]
enum Check {
    /// `{"end":{"rows":N}}` (no `cut`).
    Ndjson(u64),
    /// Only completeness (the terminating chunk).
    Csv,
    /// The end-of-stream marker.
    Arrow,
}

const ARROW_EOS: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];
const TAIL: usize = 64;

/// An incremental HTTP/1.1 chunked-body decoder that keeps only the body's byte count and
/// its last `TAIL` bytes.
#[derive(Default)]
struct Dechunk {
    line: Vec<u8>,
    remaining: u64,
    crlf: u8,
    done: bool,
    body: u64,
    tail: Vec<u8>,
}

impl Dechunk {
    fn feed(&mut self, mut input: &[u8]) -> anyhow::Result<()> {
        while !input.is_empty() && !self.done {
            if self.remaining > 0 {
                let n = (self.remaining as usize).min(input.len());
                self.keep(&input[..n]);
                self.remaining -= n as u64;
                input = &input[n..];
                if self.remaining == 0 {
                    self.crlf = 2;
                }
            } else if self.crlf > 0 {
                let expected = if self.crlf == 2 { b'\r' } else { b'\n' };
                anyhow::ensure!(input[0] == expected, "bad chunk framing");
                self.crlf -= 1;
                input = &input[1..];
            } else if let Some(i) = input.iter().position(|&b| b == b'\n') {
                self.line.extend_from_slice(&input[..i]);
                input = &input[i + 1..];
                let line = std::str::from_utf8(&self.line)?.trim_end_matches('\r');
                let size = line.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size, 16).map_err(|_| anyhow::anyhow!("bad chunk size {size:?}"))?;
                self.line.clear();
                if size == 0 {
                    self.done = true;
                } else {
                    self.remaining = size;
                }
            } else {
                self.line.extend_from_slice(input);
                input = &[];
            }
        }
        Ok(())
    }

    fn keep(&mut self, data: &[u8]) {
        self.body += data.len() as u64;
        if data.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(data);
            let excess = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..excess);
        }
    }

    fn check(&self, check: Check, path: &str) -> anyhow::Result<()> {
        anyhow::ensure!(self.done, "{path}: the body ended without its terminating chunk");
        match check {
            Check::Ndjson(rows) => {
                let trailer = format!("\n{{\"end\":{{\"rows\":{rows}}}}}");
                let tail = self.tail.strip_suffix(b"\n").unwrap_or(&self.tail[..]);
                anyhow::ensure!(
                    tail.ends_with(trailer.as_bytes()),
                    "{path}: the NDJSON body does not end with {:?}: …{}",
                    &trailer[1..],
                    String::from_utf8_lossy(&self.tail)
                );
            }
            Check::Csv => {}
            Check::Arrow => {
                anyhow::ensure!(self.tail.ends_with(&ARROW_EOS), "{path}: the Arrow body has no end-of-stream marker")
            }
        }
        Ok(())
    }
}

fn request(path: &str, token: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
}

struct Run {
    ttfb_ms: f64,
    total_ms: f64,
    /// Body bytes (chunk framing removed).
    body: u64,
}

/// One request on a connection opened before the clock starts, read to the end with a
/// plain socket and checked.
async fn fetch(port: u16, path: &str, token: &str, check: Check) -> anyhow::Result<Run> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await?;
    socket.set_nodelay(true)?;
    let mut buf = vec![0u8; 1 << 20];
    let started = Instant::now();
    socket.write_all(request(path, token).as_bytes()).await?;
    let mut n = socket.read(&mut buf).await?;
    let ttfb = started.elapsed();
    // The head, then the body.
    let mut head = Vec::new();
    let mut decoder = Dechunk::default();
    let mut in_head = true;
    while n > 0 {
        if in_head {
            head.extend_from_slice(&buf[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                anyhow::ensure!(
                    text.starts_with("http/1.1 200"),
                    "{path}: {}",
                    String::from_utf8_lossy(&head[..head.len().min(300)])
                );
                anyhow::ensure!(text.contains("transfer-encoding: chunked"), "{path}: not chunked: {text}");
                in_head = false;
                let body = head.split_off(end + 4);
                decoder.feed(&body)?;
            }
        } else {
            decoder.feed(&buf[..n])?;
        }
        n = socket.read(&mut buf).await?;
    }
    let total = started.elapsed();
    anyhow::ensure!(!in_head, "{path}: no response head");
    decoder.check(check, path)?;
    Ok(Run { ttfb_ms: ttfb.as_secs_f64() * 1e3, total_ms: total.as_secs_f64() * 1e3, body: decoder.body })
}

/// Only the first byte: the request's write to the response's first byte, then the
/// connection is dropped (the server stops the query).
async fn fetch_ttfb(port: u16, path: &str, token: &str) -> anyhow::Result<f64> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await?;
    socket.set_nodelay(true)?;
    let mut buf = vec![0u8; 1 << 16];
    let started = Instant::now();
    socket.write_all(request(path, token).as_bytes()).await?;
    let n = socket.read(&mut buf).await?;
    let ttfb = started.elapsed();
    anyhow::ensure!(buf[..n].starts_with(b"HTTP/1.1 200"), "{path}: {}", String::from_utf8_lossy(&buf[..n.min(300)]));
    Ok(ttfb.as_secs_f64() * 1e3)
}

fn token() -> anyhow::Result<String> {
    Ok(rowstream::auth::JwtKeys::new(SECRET.as_bytes()).issue("bench", Duration::from_secs(3600))?)
}

async fn start(url: &str, settings: &Path) -> anyhow::Result<Server> {
    let settings = settings.display().to_string();
    let mut server = Server::start(url, &[("ROWSTREAM_CONFIG", settings.as_str()), ("ROWSTREAM_SEED_ROWS", "0")])?;
    server.wait_ready().await?;
    Ok(server)
}

// ---------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------

struct Figure {
    backend: &'static str,
    table: &'static str,
    rows: u64,
    format: &'static str,
    ttfb_ms: f64,
    total_ms: f64,
    mb: f64,
    rss_mb: f64,
    /// CPU time of the server, and of PostgreSQL's processes, during a full read (medians;
    /// NaN where /proc cannot tell, or on SQLite).
    server_cpu_ms: f64,
    database_cpu_ms: f64,
}

/// `/api/tables/{table}/rows?format=…` on a fresh server: `runs` full reads after one
/// warm-up request (`limit=1`), then the server's peak RSS.
async fn measure(
    backend: &'static str,
    url: &str,
    settings: &Path,
    table: &'static str,
    rows: u64,
    format: &'static str,
    runs: usize,
) -> anyhow::Result<Figure> {
    let token = token()?;
    let server = start(url, settings).await?;
    let path = format!("/api/tables/{table}/rows?format={format}");
    let check = match format {
        "ndjson" => Check::Ndjson(rows),
        "arrow" => Check::Arrow,
        _ => Check::Csv,
    };
    let warm_check = if let Check::Ndjson(_) = check { Check::Csv } else { check };
    fetch(server.port, &format!("{path}&limit=1"), &token, warm_check).await?;
    let mut measured = Vec::new();
    let (mut server_cpu, mut database_cpu) = (Vec::new(), Vec::new());
    let pid = server.child.id();
    let database = || if backend == "postgres" { postgres_cpu_ms() } else { None };
    for _ in 0..runs {
        let before = (process_cpu_ms(pid), database());
        measured.push(fetch(server.port, &path, &token, check).await?);
        let after = (process_cpu_ms(pid), database());
        server_cpu.push(after.0.zip(before.0).map_or(f64::NAN, |(a, b)| a - b));
        database_cpu.push(after.1.zip(before.1).map_or(f64::NAN, |(a, b)| a - b));
    }
    if verbose() {
        let totals: Vec<String> = measured.iter().map(|r| format!("{:.0}", r.total_ms)).collect();
        eprintln!("{backend} {table} {rows} {format}: total per run (ms): {}", totals.join(" "));
    }
    let figure = Figure {
        backend,
        table,
        rows,
        format,
        ttfb_ms: median(measured.iter().map(|r| r.ttfb_ms).collect()),
        total_ms: median(measured.iter().map(|r| r.total_ms).collect()),
        mb: measured.first().map_or(f64::NAN, |r| r.body as f64 / 1e6),
        rss_mb: server.peak_rss_mb(),
        server_cpu_ms: median(server_cpu),
        database_cpu_ms: median(database_cpu),
    };
    eprintln!(
        "  {backend} {table} {rows} {format}: {:.0} ms, {:.1} MB, peak RSS {:.1} MB",
        figure.total_ms, figure.mb, figure.rss_mb
    );
    Ok(figure)
}

const TTFB_REQUESTS: [(&str, &str); 3] = [
    ("table", "/api/tables/wide/rows?format=ndjson"),
    ("filtered table", "/api/tables/wide/rows?format=ndjson&i4=gte.10"),
    ("saved query", "/api/queries/wide_after/rows?format=ndjson&after_id=0"),
];

struct Ttfb {
    backend: &'static str,
    name: &'static str,
    path: &'static str,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

/// The first byte of each of `TTFB_REQUESTS`, `runs` times each, on one server.
async fn measure_ttfb(
    backend: &'static str,
    url: &str,
    settings: &Path,
    runs: usize,
    pause: Duration,
) -> anyhow::Result<Vec<Ttfb>> {
    let token = token()?;
    let server = start(url, settings).await?;
    let mut out = Vec::new();
    for (name, path) in TTFB_REQUESTS {
        fetch(server.port, &format!("{path}&limit=1"), &token, Check::Csv).await?;
        let mut times = Vec::new();
        for _ in 0..runs {
            times.push(fetch_ttfb(server.port, path, &token).await?);
            // The server notices the closed connection, stops the query and closes that
            // database connection; the pause lets the pool open its warm one again.
            tokio::time::sleep(pause).await;
            // And a short request takes a connection from the pool (opening one if the
            // pool is short of its warm ones) and gives it back, as traffic would.
            fetch(server.port, &format!("{path}&limit=1"), &token, Check::Csv).await?;
        }
        if verbose() {
            let each: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
            eprintln!("{backend} {name}: TTFB per run (ms): {}", each.join(" "));
        }
        out.push(Ttfb {
            backend,
            name,
            path,
            median_ms: median(times.clone()),
            min_ms: times.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: times.iter().copied().fold(0.0, f64::max),
        });
    }
    Ok(out)
}

/// The median wall time of `program args…` with its output into /dev/null.
fn command_ms(program: &str, args: &[&str], runs: usize) -> anyhow::Result<f64> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let status = Command::new(program).args(args).stdout(Stdio::null()).status()?;
        anyhow::ensure!(status.success(), "{program} {args:?} failed: {status}");
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let ms = median(times);
    let mode = args.iter().find(|a| a.starts_with("-j") || a.starts_with("-c")).copied().unwrap_or("");
    eprintln!("  {program} {mode}: {ms:.0} ms");
    Ok(ms)
}

struct Reference {
    backend: &'static str,
    table: &'static str,
    rows: u64,
    name: &'static str,
    ms: f64,
}

// ---------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------

struct Report {
    figures: Vec<Figure>,
    references: Vec<Reference>,
    ttfbs: Vec<Ttfb>,
    targets: Vec<String>,
}

impl Report {
    fn figure(&self, backend: &str, table: &str, rows: u64, format: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.backend == backend && f.table == table && f.rows == rows && f.format == format)
    }

    fn reference(&self, backend: &str, table: &str, rows: u64, name: &str) -> Option<&Reference> {
        self.references.iter().find(|r| r.backend == backend && r.table == table && r.rows == rows && r.name == name)
    }

    /// `format`'s total against a reference's.
    fn ratio_target(&mut self, backend: &str, table: &str, rows: u64, format: &str, reference: &str, target: f64) {
        let (Some(f), Some(r)) =
            (self.figure(backend, table, rows, format), self.reference(backend, table, rows, reference))
        else {
            return;
        };
        let ratio = f.total_ms / r.ms;
        let line = format!(
            "{backend:<8} {table} {rows} {format} total / {reference} = {:.0} / {:.0} ms = {ratio:.2}x  (target <= {target:.1}x)  {}",
            f.total_ms,
            r.ms,
            verdict(ratio <= target)
        );
        self.targets.push(line);
    }

    /// Not a target: the floors ([`COPY_FLOOR`], [`KEY_ORDER_FLOOR`]), which no reader of
    /// binary COPY can beat, against `reference`, and how close `format` comes to the one of
    /// its own statement.
    fn floor_line(&mut self, backend: &str, table: &str, rows: u64, format: &str, reference: &str) {
        let (Some(f), Some(floor), Some(keyed), Some(r)) = (
            self.figure(backend, table, rows, format),
            self.reference(backend, table, rows, COPY_FLOOR),
            self.reference(backend, table, rows, KEY_ORDER_FLOOR),
            self.reference(backend, table, rows, reference),
        ) else {
            return;
        };
        let line = format!(
            "{backend:<8} {table} {rows}: {COPY_FLOOR} / {reference} = {:.0} / {:.0} ms = {:.2}x, {KEY_ORDER_FLOOR} = {:.0} ms = {:.2}x \
             (no reader of COPY is faster); {format} total / {KEY_ORDER_FLOOR} = {:.2}x; PostgreSQL's CPU during \
             it = {:.0} ms = {:.0}% of its total",
            floor.ms,
            r.ms,
            floor.ms / r.ms,
            keyed.ms,
            keyed.ms / r.ms,
            f.total_ms / keyed.ms,
            f.database_cpu_ms,
            100.0 * f.database_cpu_ms / f.total_ms
        );
        self.targets.push(line);
    }

    fn memory_targets(&mut self, backend: &str, table: &str, rows: u64, small_rows: u64, format: &str) {
        let (Some(big), small) =
            (self.figure(backend, table, rows, format), self.figure(backend, table, small_rows, format))
        else {
            return;
        };
        let mut lines = vec![format!(
            "{backend:<8} {table} {rows} {format} peak RSS = {:.1} MB  (target <= 40 MB)  {}",
            big.rss_mb,
            verdict(big.rss_mb <= 40.0)
        )];
        if let Some(small) = small {
            let growth = big.rss_mb / small.rss_mb;
            lines.push(format!(
                "{backend:<8} {table} {format} peak RSS {rows} / {small_rows} rows = {:.1} / {:.1} MB = {growth:.2}x  (target <= 1.2x)  {}",
                big.rss_mb,
                small.rss_mb,
                verdict(growth <= 1.2)
            ));
        }
        self.targets.extend(lines);
    }

    fn print(&self, o: &Options) {
        println!(
            "\nrowstream tables benchmark: /api/tables/{{name}}/rows, release build, medians of {} runs (SQLite: {}), TTFB medians of {}",
            o.runs, o.sqlite_runs, o.ttfb_runs
        );
        println!("(TTFB: request write → first response byte on an open connection; MB: body bytes; peak RSS: VmHWM of a fresh server per line;");
        println!(" CPU ms: the server's, and PostgreSQL's processes', during one full read)");
        println!(
            "{:<8}  {:<8} {:>9}  {:<15} {:>9} {:>10} {:>8} {:>12} {:>11} {:>11}",
            "backend", "table", "rows", "format", "TTFB ms", "total ms", "MB", "peak RSS MB", "server CPU", "pg CPU"
        );
        for f in &self.figures {
            println!(
                "{:<8}  {:<8} {:>9}  {:<15} {:>9.3} {:>10.0} {:>8.1} {:>12.1} {:>11.0} {:>11.0}",
                f.backend,
                f.table,
                f.rows,
                f.format,
                f.ttfb_ms,
                f.total_ms,
                f.mb,
                f.rss_mb,
                f.server_cpu_ms,
                f.database_cpu_ms
            );
        }
        for r in &self.references {
            println!("{:<8}  {:<8} {:>9}  {:<15} {:>9} {:>10.0}", r.backend, r.table, r.rows, r.name, "", r.ms);
        }
        if !self.ttfbs.is_empty() {
            println!("\nstream TTFB, {} requests each (connection dropped after the first byte):", o.ttfb_runs);
            println!("{:<8}  {:<15} {:>10} {:>8} {:>8}  request", "backend", "what", "median ms", "min", "max");
            for t in &self.ttfbs {
                println!(
                    "{:<8}  {:<15} {:>10.3} {:>8.3} {:>8.3}  {}",
                    t.backend, t.name, t.median_ms, t.min_ms, t.max_ms, t.path
                );
            }
        }
        println!("\ntargets (ratios from this run):");
        for line in &self.targets {
            println!("  {line}");
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let o = options();
    let settings = settings_file()?;
    let mut report = Report { figures: Vec::new(), references: Vec::new(), ttfbs: Vec::new(), targets: Vec::new() };
    // PostgreSQL's tables are needed by the SQLite copies too.
    let pg_url = ensure_pg_wide(&o.admin_url, o.rows).await?;
    let pg_small_url = ensure_pg_wide(&o.admin_url, o.small_rows).await?;

    if o.postgres {
        eprintln!("PostgreSQL:");
        let copy = format!(r"\copy (select {WIDE_COLUMNS} from wide) to stdout");
        for (url, rows) in [(&pg_url, o.rows), (&pg_small_url, o.small_rows)].into_iter().filter(|_| !o.ttfb_only) {
            let ms = command_ms("psql", &["-X", "-q", url.as_str(), "-c", copy.as_str()], o.runs)?;
            report.references.push(Reference { backend: "postgres", table: "wide", rows, name: "psql \\copy", ms });
            // The floor of every reader of binary COPY: the server producing the same rows
            // with nothing reading them (needs `pg_write_server_files`; skipped without),
            // in no order and in the key's order (rowstream's statement).
            for (name, order) in [(COPY_FLOOR, ""), (KEY_ORDER_FLOOR, " order by id")] {
                let floor = format!("COPY (select {WIDE_COLUMNS} from wide{order}) TO '/dev/null' (FORMAT binary)");
                let args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", url.as_str(), "-c", floor.as_str()];
                match command_ms("psql", &args, o.runs) {
                    Ok(ms) => report.references.push(Reference { backend: "postgres", table: "wide", rows, name, ms }),
                    Err(error) => eprintln!("  (no {name} figure: {error})"),
                }
            }
            for format in ["ndjson", "csv", "arrow"] {
                report.figures.push(measure("postgres", url, &settings, "wide", rows, format, o.runs).await?);
            }
        }
        report.ttfbs.extend(measure_ttfb("postgres", &pg_url, &settings, o.ttfb_runs, o.ttfb_pause).await?);
    }

    if o.sqlite {
        eprintln!("SQLite:");
        let big = ensure_sqlite(o.rows, o.messages_rows, &pg_url).await?;
        let small = ensure_sqlite(o.small_rows, 0, &pg_small_url).await?;
        let runs = o.sqlite_runs;
        let jobs = [
            ("messages", o.messages_rows, MESSAGES_COLUMNS, &big, o.rows),
            ("wide", o.rows, WIDE_COLUMNS, &big, o.rows),
            ("wide", o.small_rows, WIDE_COLUMNS, &small, o.small_rows),
        ];
        for (table, rows, columns, url, file_rows) in jobs.into_iter().filter(|_| !o.ttfb_only) {
            let file = sqlite_file(file_rows).display().to_string();
            let select = format!("select {columns} from {table}");
            for (format, mode, name) in [("ndjson", "-json", "sqlite3 -json"), ("csv", "-csv", "sqlite3 -csv")] {
                let ms = command_ms("sqlite3", &[mode, file.as_str(), select.as_str()], runs)?;
                report.references.push(Reference { backend: "sqlite", table, rows, name, ms });
                report.figures.push(measure("sqlite", url, &settings, table, rows, format, runs).await?);
            }
        }
        report.ttfbs.extend(measure_ttfb("sqlite", &big, &settings, o.ttfb_runs, o.ttfb_pause).await?);
    }

    if o.postgres {
        report.ratio_target("postgres", "wide", o.rows, "ndjson", "psql \\copy", 1.0);
        report.ratio_target("postgres", "wide", o.rows, "arrow", "psql \\copy", 0.7);
        report.ratio_target("postgres", "wide", o.rows, "csv", "psql \\copy", 1.0);
        report.floor_line("postgres", "wide", o.rows, "arrow", "psql \\copy");
    }
    if o.sqlite {
        for table_rows in [("messages", o.messages_rows), ("wide", o.rows)] {
            report.ratio_target("sqlite", table_rows.0, table_rows.1, "ndjson", "sqlite3 -json", 1.0);
            report.ratio_target("sqlite", table_rows.0, table_rows.1, "csv", "sqlite3 -csv", 1.0);
        }
    }
    let ttfb_lines: Vec<String> = report
        .ttfbs
        .iter()
        .map(|t| {
            format!(
                "{:<8} {} TTFB median = {:.3} ms  (target <= 1 ms)  {}",
                t.backend,
                t.name,
                t.median_ms,
                verdict(t.median_ms <= 1.0)
            )
        })
        .collect();
    report.targets.extend(ttfb_lines);
    for (backend, formats) in [("postgres", &["ndjson", "csv", "arrow"][..]), ("sqlite", &["ndjson", "csv"][..])] {
        for format in formats {
            report.memory_targets(backend, "wide", o.rows, o.small_rows, format);
        }
    }
    if o.sqlite {
        for format in ["ndjson", "csv"] {
            if let Some(f) = report.figure("sqlite", "messages", o.messages_rows, format) {
                let line = format!(
                    "sqlite   messages {} {format} peak RSS = {:.1} MB  (target <= 40 MB)  {}",
                    o.messages_rows,
                    f.rss_mb,
                    verdict(f.rss_mb <= 40.0)
                );
                report.targets.push(line);
            }
        }
    }
    report.print(&o);
    Ok(())
}
