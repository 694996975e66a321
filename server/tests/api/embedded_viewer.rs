//! The self-contained binary: the release `rowstream`, copied into an empty directory with
//! no `dist/` and started there, serves the viewer it embeds, with the right types and
//! caching headers. Plus `--version` and `completions`.

use std::process::{Child, Command, Stdio};

use crate::helpers::{release_binary, wait_until_healthy};

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the release binary into an empty directory and serves from there.
async fn start_copied_release_binary() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = dir.path().join("rowstream");
    std::fs::copy(release_binary(), &binary).expect("copy the binary");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let child = Command::new(&binary)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("empty.db").display()))
        .env("ROWSTREAM_ADDR", format!("127.0.0.1:{port}"))
        .env("ROWSTREAM_SEED_ROWS", "0")
        .env("ROWSTREAM_JWT_SECRET", crate::helpers::SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the release binary");
    let base = format!("http://127.0.0.1:{port}");
    assert!(wait_until_healthy(&base).await, "the copied release binary did not start");
    Server { child, base, _dir: dir }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn the_release_binary_serves_its_embedded_viewer_from_an_empty_directory() {
    let server = start_copied_release_binary().await;
    assert!(!server._dir.path().join("dist").exists());
    // reqwest here decodes nothing: Content-Encoding is what the server chose.
    let client = reqwest::Client::new();

    let index = client.get(format!("{}/", server.base)).send().await.expect("GET /");
    assert_eq!(index.status(), 200);
    assert_eq!(header(&index, "content-type"), "text/html");
    assert_eq!(header(&index, "cache-control"), "no-cache");
    let index_etag = header(&index, "etag").to_owned();
    assert!(index_etag.starts_with('"'), "strong ETag on index.html: {index_etag:?}");
    let html = index.text().await.expect("index body");
    let start = html.find("/assets/").expect("index.html names its assets");
    let assets = &html[start..start + "/assets/".len() + 16];

    // Revalidation: the same ETag gives 304.
    let again =
        client.get(format!("{}/", server.base)).header("if-none-match", &index_etag).send().await.expect("GET /");
    assert_eq!(again.status(), 304);

    for (file, mime) in [
        ("boot.js", "text/javascript"),
        ("frontend.js", "text/javascript"),
        ("frontend_bg.wasm", "application/wasm"),
        ("style.css", "text/css"),
    ] {
        let url = format!("{}{assets}/{file}", server.base);
        let plain = client.get(&url).send().await.expect("GET asset");
        assert_eq!(plain.status(), 200, "{file}");
        assert!(header(&plain, "content-type").starts_with(mime), "{file}: {}", header(&plain, "content-type"));
        assert_eq!(header(&plain, "cache-control"), "public, max-age=31536000, immutable", "{file}");
        assert_eq!(header(&plain, "content-encoding"), "", "{file}: no encoding asked for");
        let plain_etag = header(&plain, "etag").to_owned();
        let plain_len = plain.bytes().await.expect("body").len();
        assert!(plain_len > 0, "{file} is empty");

        let compressed = client.get(&url).header("accept-encoding", "gzip, br").send().await.expect("GET asset br");
        let encoding = header(&compressed, "content-encoding").to_owned();
        assert_eq!(header(&compressed, "vary"), "accept-encoding");
        if file == "frontend_bg.wasm" {
            assert_eq!(encoding, "br", "the Wasm is served brotli-compressed");
            assert_ne!(header(&compressed, "etag"), plain_etag, "each encoding has its own ETag");
            let br_len = compressed.bytes().await.expect("body").len();
            assert!(br_len * 2 < plain_len, "brotli Wasm {br_len} B vs {plain_len} B");
        }
    }

    let missing = client.get(format!("{}/assets/nope/frontend.js", server.base)).send().await.expect("GET");
    assert_eq!(missing.status(), 404);
}

#[test]
fn version_names_the_commit_and_completions_print() {
    let version = Command::new(env!("CARGO_BIN_EXE_rowstream")).arg("--version").output().expect("--version");
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(version.status.success());
    assert!(text.starts_with(&format!("rowstream {} (commit ", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(!text.contains("(commit unknown)"), "built from a git checkout, the commit is known: {text}");

    for shell in ["bash", "zsh", "fish"] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_rowstream")).args(["completions", shell]).output().expect("completions");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("rowstream") && script.contains("serve"), "{shell}: {script}");
    }
}
