//! Spawning servers and talking to them: `spawn_app`, a raw HTTP/1.1 chunk reader, parsers
//! for every format.

use std::net::SocketAddr;
use std::time::Duration;

use rowstream::config::Config;
use rowstream::db::{Database, PgRead};
use rowstream::startup::Application;
use shared::{Frame, Message, Timestamp};
use sqlx::Connection as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;

pub const SECRET: &str = "integration-test-secret-of-32-bytes-or-more";

/// Polls `check` every `interval` until it holds (true) or `timeout` passes (false).
pub async fn eventually<F, Fut>(timeout: Duration, interval: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(interval).await;
    }
    false
}

pub fn postgres_base_url() -> String {
    std::env::var("ROWSTREAM_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL read with sqlx `fetch` instead of binary COPY.
    PostgresFetch,
}

pub const ALL_BACKENDS: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::PostgresFetch];

/// A database of its own for one test: an SQLite file in a temp dir, or a fresh schema.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb { url, backend, schema: None, _dir: Some(dir) }
            }
            Backend::Postgres | Backend::PostgresFetch => {
                let schema = format!("rowstream_test_{}", rand_suffix());
                let mut admin = sqlx::PgConnection::connect(&postgres_base_url())
                    .await
                    .expect("PostgreSQL must be reachable (set ROWSTREAM_TEST_DATABASE_URL)");
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.expect("create schema");
                let url = format!("{}?options[search_path]={schema}&application_name={schema}", postgres_base_url());
                TestDb { url, backend, schema: Some(schema), _dir: None }
            }
        }
    }

    pub fn config(&self) -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: self.url.clone(),
            jwt_secret: Some(SECRET.into()),
            seed_rows: 0,
            pg_read: if self.backend == Backend::PostgresFetch { PgRead::Fetch } else { PgRead::Copy },
            // The test's own schema is the one served (its relations by their bare names).
            catalog: rowstream::introspect::CatalogSettings {
                schemas: vec![self.schema.clone().unwrap_or_else(|| "public".into())],
                ..Default::default()
            },
            ..Config::default()
        }
    }

    /// Creates the table and fills it with rows 1..=rows.
    pub async fn seed(&self, rows: u64) {
        let db = Database::connect(&self.config().db_settings()).expect("connect");
        db.migrate().await.expect("migrate");
        rowstream::seed::seed(&db, rows).await.expect("seed");
        db.close().await;
    }

    /// A plain connection for the test's own checks (PostgreSQL only).
    pub async fn pg(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url).await.expect("connect")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(schema) = self.schema.take() {
            // The server's connections are named after the schema. One may hold a stream's
            // read transaction whose client has gone, waiting for this test's runtime (which
            // `Drop` blocks) to poll it: end them first, or DROP SCHEMA waits for them forever.
            run_sql_from_drop(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{schema}'; \
                 DROP SCHEMA {schema} CASCADE"
            ));
        }
    }
}

/// Runs `sql` (one or more statements) on the test PostgreSQL, best effort, on a thread of
/// its own: for clean-up in `Drop`, which cannot await.
pub fn run_sql_from_drop(sql: String) {
    let url = postgres_base_url();
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
        if let Ok(rt) = rt {
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::raw_sql(&sql).execute(&mut c).await;
                }
            });
        }
    })
    .join();
}

/// Terminates every backend of this test's server that is not idle (the server names its
/// connections after the test's schema); how many it terminated.
pub async fn terminate_busy_backends(app: &TestApp) -> i64 {
    let mut pg = sqlx::PgConnection::connect(&postgres_base_url()).await.expect("connect");
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND state <> 'idle' AND pid <> pg_backend_pid()) t",
    )
    .bind(app.db.schema.clone().expect("a PostgreSQL test"))
    .fetch_one(&mut pg)
    .await
    .expect("terminate")
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}_{}_{}", std::process::id(), nanos % 1_000_000_000, N.fetch_add(1, Ordering::Relaxed))
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub token: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
}

/// Seeds `rows` rows and starts a server on 127.0.0.1:0.
pub async fn spawn_app(backend: Backend, rows: u64) -> TestApp {
    let db = TestDb::new(backend).await;
    db.seed(rows).await;
    spawn_app_on(db, |_| {}).await
}

/// Starts a server on an already prepared database, with config tweaks.
pub async fn spawn_app_on(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = db.config();
    tweak(&mut config);
    let app = Application::build(config).await.expect("build app");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let token =
        rowstream::auth::JwtKeys::new(SECRET.as_bytes()).issue("tester", Duration::from_secs(600)).expect("token");
    TestApp { addr, token, client: reqwest::Client::new(), db, shutdown: Some(tx) }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&self.token)
    }

    pub async fn body(&self, path: &str) -> (reqwest::header::HeaderMap, String) {
        let response = self.get(path).send().await.expect("request");
        assert_eq!(response.status(), 200, "GET {path}");
        let headers = response.headers().clone();
        (headers, response.text().await.expect("body"))
    }

    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.client.get(self.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no metric {name} in {text}"))
    }

    /// Opens a raw HTTP/1.1 request, to see chunk boundaries and aborts. A small receive
    /// buffer makes backpressure reach the server quickly.
    pub async fn raw(&self, path: &str, recv_buffer: Option<u32>) -> RawResponse {
        raw_get(self.addr, path, &self.token, recv_buffer).await
    }
}

/// A raw HTTP/1.1 GET to any server (e.g. a `rowstream` process), read chunk by chunk.
pub async fn raw_get(addr: SocketAddr, path: &str, token: &str, recv_buffer: Option<u32>) -> RawResponse {
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    let mut stream = socket.connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    RawResponse::read_head(stream).await
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// A response read by hand: status, headers, then chunk by chunk.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ChunkEvent {
    Chunk(Vec<u8>),
    /// The terminating zero-length chunk: the body is complete.
    End,
    /// The connection closed before the terminating chunk.
    Aborted,
}

impl RawResponse {
    async fn read_head(stream: TcpStream) -> RawResponse {
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).await.expect("status line");
        let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').expect("header line");
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        RawResponse { status, headers, reader }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub async fn next_chunk(&mut self) -> ChunkEvent {
        let mut size_line = String::new();
        match self.reader.read_line(&mut size_line).await {
            Ok(0) | Err(_) => return ChunkEvent::Aborted,
            Ok(_) => {}
        }
        let Ok(size) = usize::from_str_radix(size_line.trim(), 16) else {
            return ChunkEvent::Aborted;
        };
        let mut data = vec![0; size + 2];
        if self.reader.read_exact(&mut data).await.is_err() {
            return ChunkEvent::Aborted;
        }
        data.truncate(size);
        if size == 0 {
            ChunkEvent::End
        } else {
            ChunkEvent::Chunk(data)
        }
    }

    /// All chunks, and whether the body ended properly.
    pub async fn chunks(mut self) -> (Vec<Vec<u8>>, bool) {
        let mut chunks = Vec::new();
        loop {
            match self.next_chunk().await {
                ChunkEvent::Chunk(c) => chunks.push(c),
                ChunkEvent::End => return (chunks, true),
                ChunkEvent::Aborted => return (chunks, false),
            }
        }
    }
}

pub fn expected_rows(ids: impl IntoIterator<Item = i64>) -> Vec<Message> {
    ids.into_iter().map(rowstream::seed::message).collect()
}

pub fn seed_lines(ids: impl IntoIterator<Item = i64>) -> String {
    ids.into_iter().map(|id| format!("object_id:{id} \n")).collect()
}

/// Parses an NDJSON body: its rows and its trailer's count (None: no trailer).
pub fn parse_ndjson(body: &str) -> (Vec<Message>, Option<u64>, Option<shared::ErrorBody>) {
    let mut rows = Vec::new();
    let mut end = None;
    let mut error = None;
    for line in body.lines() {
        assert!(end.is_none(), "a line after the trailer: {line}");
        match shared::parse_line(line.as_bytes()).expect("valid line") {
            Frame::Row(m) => rows.push(m),
            Frame::End { rows } => end = Some(rows),
            Frame::Error(e) => error = Some(e),
        }
    }
    (rows, end, error)
}

pub fn parse_csv(body: &str) -> Vec<Message> {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(reader.headers().expect("header").iter().collect::<Vec<_>>(), ["id", "sender", "body", "created_at"]);
    reader.deserialize().collect::<Result<_, _>>().expect("csv rows")
}

/// Reads PostgreSQL's COPY text format back.
pub fn parse_text(body: &str) -> Vec<Message> {
    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('t') => out.push('\t'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    }
    body.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 4, "{line}");
            Message {
                id: f[0].parse().expect("id"),
                sender: unescape(f[1]),
                body: unescape(f[2]),
                created_at: Timestamp::parse_rfc3339(f[3]).expect("created_at"),
            }
        })
        .collect()
}

/// The release `rowstream` binary, for the tests that run it as a process of its own (this
/// test binary's sibling when the tests run with `--release`, as `scripts/test.sh` runs them).
pub fn release_binary() -> std::path::PathBuf {
    let debug = std::path::PathBuf::from(env!("CARGO_BIN_EXE_rowstream"));
    let target = debug.parent().and_then(|p| p.parent()).expect("target dir");
    let release = target.join("release").join("rowstream");
    assert!(
        release.exists(),
        "no release binary at {}: run `cargo build --release -p rowstream` first, or the tests with `--release` (scripts/test.sh does)",
        release.display()
    );
    release
}

/// Waits up to 20 s for a server process at `base` to answer `/healthz` with a 2xx.
pub async fn wait_until_healthy(base: &str) -> bool {
    let client = reqwest::Client::new();
    eventually(Duration::from_secs(20), Duration::from_millis(50), || async {
        client.get(format!("{base}/healthz")).send().await.map(|r| r.status().is_success()).unwrap_or(false)
    })
    .await
}
