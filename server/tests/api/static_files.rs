//! `--static` mounts: files with ETag / Last-Modified / Range / gzip, directory listings
//! with escaped names, and no way out of the mounted directory (`..`, `%2e%2e`,
//! backslashes, symlinks), each attempt sent over a raw socket so no client normalises it.

use std::net::SocketAddr;
use std::path::Path;

use reqwest::header;
use rowstream::static_files::{StaticMount, StaticSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const SECRET_TEXT: &str = "top secret, outside every mount";

/// tmp/secret.txt (outside), tmp/site/css/{style.css, <script>.txt, app.js(+.gz), sub/,
/// escape -> ../../secret.txt, up -> ../..}, tmp/site/font/a.woff.
fn site(tmp: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    std::fs::write(tmp.join("secret.txt"), SECRET_TEXT).unwrap();
    let css = tmp.join("site/css");
    let font = tmp.join("site/font");
    std::fs::create_dir_all(css.join("sub")).unwrap();
    std::fs::create_dir_all(&font).unwrap();
    std::fs::write(css.join("style.css"), "body { color: #333; }\n".repeat(200)).unwrap();
    std::fs::write(css.join("<script>.txt"), "not a script").unwrap();
    std::fs::write(css.join("app.js"), "console.log('plain');").unwrap();
    std::fs::write(css.join("app.js.gz"), b"\x1f\x8bprecompressed-bytes").unwrap();
    std::fs::write(css.join("sub/inner.txt"), "inner").unwrap();
    std::fs::write(font.join("a.woff"), "font").unwrap();
    std::os::unix::fs::symlink("../../secret.txt", css.join("escape")).unwrap();
    std::os::unix::fs::symlink("../..", css.join("up")).unwrap();
    std::os::unix::fs::symlink("sub/inner.txt", css.join("inside-link")).unwrap();
    (css, font)
}

async fn spawn_static(tmp: &Path) -> TestApp {
    let (css, font) = site(tmp);
    spawn_app_on(TestDb::new(Backend::Sqlite).await, move |c| {
        c.statics = StaticSettings {
            mounts: vec![StaticMount::new("/css", css, true).unwrap(), StaticMount::new("/font", font, false).unwrap()],
            index_all: false,
        }
    })
    .await
}

/// Sends `target` exactly as written; the status and the body.
async fn raw_request(addr: SocketAddr, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn files_are_served_with_validators_ranges_and_compression() {
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_static(tmp.path()).await;
    let response = app.client.get(app.url("/css/style.css")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
    let etag = response.headers()[header::ETAG].clone();
    assert!(etag.to_str().unwrap().starts_with("W/\""), "{etag:?}");
    let last_modified = response.headers()[header::LAST_MODIFIED].clone();
    assert_eq!(response.text().await.unwrap(), "body { color: #333; }\n".repeat(200));

    let response = app
        .client
        .get(app.url("/css/style.css"))
        .header(header::IF_MODIFIED_SINCE, last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    let response =
        app.client.get(app.url("/css/style.css")).header(header::IF_NONE_MATCH, etag.clone()).send().await.unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()[header::ETAG], etag);
    let response = app
        .client
        .get(app.url("/css/style.css"))
        .header(header::IF_NONE_MATCH, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = app.client.get(app.url("/css/style.css")).header(header::RANGE, "bytes=0-3").send().await.unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.text().await.unwrap(), "body");

    // On-the-fly gzip for a client that accepts it; the precompressed sibling when there is one.
    let response =
        app.client.get(app.url("/css/style.css")).header(header::ACCEPT_ENCODING, "gzip").send().await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = response.bytes().await.unwrap();
    assert!(compressed.len() < 4400 / 4, "compressed to {} bytes", compressed.len());
    let response = app.client.get(app.url("/css/app.js")).header(header::ACCEPT_ENCODING, "gzip").send().await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(&response.bytes().await.unwrap()[..], b"\x1f\x8bprecompressed-bytes");
    let response = app.client.get(app.url("/css/app.js")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "console.log('plain');");

    // A symlink that stays inside the mount is followed.
    assert_eq!(app.client.get(app.url("/css/inside-link")).send().await.unwrap().text().await.unwrap(), "inner");
    assert_eq!(app.client.get(app.url("/font/a.woff")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn nothing_outside_a_mount_can_be_reached() {
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_static(tmp.path()).await;
    assert_eq!(raw_request(app.addr, "/css/sub/inner.txt").await.0, 200, "the raw client works");
    let attempts = [
        "/css/../../secret.txt",
        "/css/sub/../../../secret.txt",
        "/css/%2e%2e/%2e%2e/secret.txt",
        "/css/%2E%2E/%2E%2E/secret.txt",
        "/css/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/css/..%2f..%2fsecret.txt",
        "/css/..%5c..%5csecret.txt",
        "/css/..\\..\\secret.txt",
        "/css/sub\\..\\..\\..\\secret.txt",
        "/css/escape",
        "/css/up/secret.txt",
        "/css/up/",
        "/css/%00secret.txt",
        "/font/../css/../../secret.txt",
    ];
    for target in attempts {
        let (status, response) = raw_request(app.addr, target).await;
        assert!(!response.contains(SECRET_TEXT), "{target} leaked the file");
        assert!(status == 404 || status == 400, "{target}: {status}");
        if status == 404 && response.contains("{\"error\"") {
            assert!(response.contains("\"not_found\""), "{target}: {response}");
        }
    }
}

#[tokio::test]
async fn a_mount_with_an_index_lists_directories_escaped_and_sorted() {
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_static(tmp.path()).await;
    let response = app.client.get(app.url("/css/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("&lt;script&gt;.txt"), "{page}");
    assert!(!page.contains("<script>"), "a file name became markup: {page}");
    assert!(page.contains("%3Cscript%3E.txt"), "links are percent-encoded: {page}");
    assert!(!page.contains("escape") && !page.contains("\"up/\""), "links leading outside are not listed: {page}");
    let order: Vec<usize> = ["sub/", "&lt;script&gt;.txt", "app.js", "app.js.gz", "inside-link", "style.css"]
        .iter()
        .map(|n| page.find(n).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "directories first, then names in order: {page}");
    assert!(page.contains("4.3 KiB"), "sizes shown: {page}");

    // Without the trailing slash: a redirect to it, so relative links work.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = no_redirects.get(app.url("/css/sub")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()[header::LOCATION], "/css/sub/");
    let sub = app.client.get(app.url("/css/sub/")).send().await.unwrap().text().await.unwrap();
    assert!(sub.contains("inner.txt") && sub.contains("../"), "{sub}");

    // A mount without an index does not list.
    assert_eq!(app.client.get(app.url("/font/")).send().await.unwrap().status(), 404);
    assert_eq!(app.client.get(app.url("/css/missing.css")).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_missing_directory_stops_the_start() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut config = db.config();
    config.statics.mounts = vec![StaticMount::new("/x", "/definitely/not/here".into(), false).unwrap()];
    let error = rowstream::startup::Application::build(config).await.err().expect("must fail");
    assert!(error.to_string().contains("/definitely/not/here"), "{error}");
}
