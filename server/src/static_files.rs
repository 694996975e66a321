//! Static directories mounted at a prefix (aiohttp's `add_static('/css/', 'static/css',
//! show_index=True)`): `--static /css=./static/css[,index]`, repeatable.
//!
//! Files are served by tower-http's `ServeDir` (Last-Modified, If-Modified-Since, `Range`,
//! a precompressed `.gz` sibling when the client accepts gzip) behind an on-the-fly gzip
//! `CompressionLayer`; [`serve`] adds a weak ETag and answers `If-None-Match`. In front of it, [`serve`] keeps every request inside its mount:
//! the path is percent-decoded and refused (404) when a segment is `..`, or it holds a
//! backslash or a NUL; then the target is canonicalized (which resolves symlinks) and must
//! still lie under the mount's canonical root, so a symlink pointing outside is a 404 too
//! (`ServeDir` alone would follow it).
//!
//! A mount with an index answers a directory with an HTML listing: names HTML-escaped,
//! sorted, directories first, with sizes. Without an index a directory is a 404.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Router;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use tower::ServiceExt;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use crate::error::AppError;

/// Prefixes the server's own routes use; a mount there would shadow them.
const RESERVED_PREFIXES: &[&str] =
    &["/api", "/standard", "/chunked", "/healthz", "/metrics", "/hello", "/demo1", "/demo2", "/greet", "/hit"];

/// One `--static` mount: URL prefix, directory, and whether directories get a listing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "MountSpec")]
pub struct StaticMount {
    pub prefix: String,
    pub dir: PathBuf,
    pub index: bool,
}

/// In the TOML file a mount is the flag's string or a table:
/// `static = ["/css=./static/css", { prefix = "/font", dir = "static/font", index = true }]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum MountSpec {
    Flag(String),
    Table {
        prefix: String,
        dir: PathBuf,
        #[serde(default)]
        index: bool,
    },
}

impl TryFrom<MountSpec> for StaticMount {
    type Error = String;

    fn try_from(spec: MountSpec) -> Result<Self, String> {
        match spec {
            MountSpec::Flag(text) => text.parse(),
            MountSpec::Table { prefix, dir, index } => StaticMount::new(&prefix, dir, index),
        }
    }
}

impl FromStr for StaticMount {
    type Err = String;

    /// `PREFIX=DIR` or `PREFIX=DIR,index`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (prefix, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("static mount {text:?}: expected PREFIX=DIR, e.g. /css=./static/css"))?;
        let (dir, index) = match rest.strip_suffix(",index") {
            Some(dir) => (dir, true),
            None => (rest, false),
        };
        StaticMount::new(prefix, PathBuf::from(dir), index)
    }
}

impl StaticMount {
    pub fn new(prefix: &str, dir: PathBuf, index: bool) -> Result<StaticMount, String> {
        let prefix = prefix.trim_end_matches('/');
        let segment_ok = |segment: &str| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        };
        let valid = prefix.strip_prefix('/').is_some_and(|rest| rest.split('/').all(segment_ok));
        if !valid {
            return Err(format!(
                "static mount prefix {prefix:?} must be a path like /css or /assets/v1 \
                 (not /; letters, digits, - . _ ~ per segment)"
            ));
        }
        if RESERVED_PREFIXES.iter().any(|r| prefix == *r || prefix.starts_with(&format!("{r}/"))) {
            return Err(format!("static mount prefix {prefix:?} would shadow one of rowstream's own routes"));
        }
        if dir.as_os_str().is_empty() {
            return Err(format!("static mount {prefix}: empty directory"));
        }
        Ok(StaticMount { prefix: prefix.to_owned(), dir, index })
    }
}

/// `--static` (repeatable) and `--static-index`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticSettings {
    pub mounts: Vec<StaticMount>,
    /// Every mount lists directories, whatever its own `index` says.
    pub index_all: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StaticError {
    #[error("static mount {prefix}: directory {dir}: {source}")]
    Dir { prefix: String, dir: PathBuf, source: std::io::Error },
    #[error("static mount {prefix}: {dir} is not a directory")]
    NotADirectory { prefix: String, dir: PathBuf },
    #[error("static mounts {0} and {1} overlap: give each its own prefix")]
    Overlap(String, String),
}

/// One mount, ready to serve.
#[derive(Debug)]
struct Mount {
    /// Canonical: symlinks resolved, absolute.
    root: PathBuf,
    index: bool,
    files: ServeDir,
}

/// Adds every mount to `router` (each at its prefix). Fails when a directory is missing.
pub fn mount_all<S>(mut router: Router<S>, settings: &StaticSettings) -> Result<Router<S>, StaticError>
where
    S: Clone + Send + Sync + 'static,
{
    for (i, mount) in settings.mounts.iter().enumerate() {
        let nested = |other: &StaticMount| {
            other.prefix == mount.prefix || other.prefix.starts_with(&format!("{}/", mount.prefix))
        };
        if let Some(other) = settings.mounts[..i].iter().chain(&settings.mounts[i + 1..]).find(|other| nested(other)) {
            return Err(StaticError::Overlap(mount.prefix.clone(), other.prefix.clone()));
        }
        let dir_error = |source| StaticError::Dir { prefix: mount.prefix.clone(), dir: mount.dir.clone(), source };
        let root = std::fs::canonicalize(&mount.dir).map_err(dir_error)?;
        if !root.is_dir() {
            return Err(StaticError::NotADirectory { prefix: mount.prefix.clone(), dir: mount.dir.clone() });
        }
        let files = ServeDir::new(&root).append_index_html_on_directories(false).precompressed_gzip();
        let state = Arc::new(Mount { root, index: mount.index || settings.index_all, files });
        let service = Router::new().fallback(serve).with_state(state).layer(CompressionLayer::new());
        tracing::info!(prefix = %mount.prefix, dir = %mount.dir.display(), "static mount");
        router = router.nest_service(&mount.prefix, service);
    }
    Ok(router)
}

async fn serve(State(mount): State<Arc<Mount>>, OriginalUri(original): OriginalUri, request: Request) -> Response {
    let not_found = || AppError::NotFound(original.path().to_owned()).into_response();
    let Some(relative) = contained_path(request.uri().path()) else {
        return not_found();
    };
    let Ok(real) = tokio::fs::canonicalize(mount.root.join(&relative)).await else {
        return not_found();
    };
    if !real.starts_with(&mount.root) {
        tracing::debug!(path = %original.path(), "static path resolves outside its mount");
        return not_found();
    }
    let Ok(metadata) = tokio::fs::metadata(&real).await else {
        return not_found();
    };
    if metadata.is_dir() {
        if !mount.index {
            return not_found();
        }
        if !original.path().ends_with('/') {
            return Redirect::permanent(&format!("{}/", original.path())).into_response();
        }
        return match listing(&mount.root, &real, original.path()).await {
            Ok(page) => Html(page).into_response(),
            Err(error) => {
                tracing::warn!(%error, dir = %real.display(), "cannot list directory");
                not_found()
            }
        };
    }
    // ServeDir sends Last-Modified and answers If-Modified-Since; the ETag is ours.
    let etag = etag(&metadata);
    if let Some(etag) = &etag {
        if none_match(request.headers(), etag) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            response.headers_mut().insert(header::ETAG, etag.clone());
            return response;
        }
    }
    let mut response = match mount.files.clone().oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    if let Some(etag) = etag {
        if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
            response.headers_mut().insert(header::ETAG, etag);
        }
    }
    response
}

/// A weak validator from the file's size and modification time: it changes whenever the
/// content can have changed, and stays the same across gzip and identity encodings.
fn etag(metadata: &std::fs::Metadata) -> Option<HeaderValue> {
    let modified = metadata.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    HeaderValue::from_str(&format!("W/\"{:x}-{:x}\"", metadata.len(), modified.as_nanos())).ok()
}

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 asks for GET).
fn none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(etag))
}

/// The request path as a relative path with no way out: percent-decoded, UTF-8, no `..`
/// segment, no backslash, no NUL. `None` means 404.
fn contained_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    if decoded.contains(['\\', '\0']) {
        return None;
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            segment => relative.push(segment),
        }
    }
    Some(relative)
}

/// What a listing link escapes: everything but unreserved characters.
const LINK: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

async fn listing(root: &Path, dir: &Path, url_path: &str) -> std::io::Result<String> {
    let mut entries = Vec::new();
    let mut reader = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = reader.next_entry().await? {
        // Entries that lead outside the mount (symlinks) are not listed: they would 404.
        let Ok(real) = tokio::fs::canonicalize(entry.path()).await else {
            continue;
        };
        if !real.starts_with(root) {
            continue;
        }
        let Ok(metadata) = tokio::fs::metadata(&real).await else {
            continue;
        };
        entries.push((entry.file_name().to_string_lossy().into_owned(), metadata.is_dir(), metadata.len()));
    }
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let title = escape_html(url_path);
    let mut page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n\
         <body><h1>Index of {title}</h1>\n<table>\n<tr><th>Name</th><th>Size</th></tr>\n"
    );
    if dir != root {
        page.push_str("<tr><td><a href=\"../\">../</a></td><td></td></tr>\n");
    }
    for (name, is_dir, size) in entries {
        let slash = if is_dir { "/" } else { "" };
        let href = utf8_percent_encode(&name, LINK);
        let size = if is_dir { String::from("-") } else { human_size(size) };
        let _ = writeln!(
            page,
            "<tr><td><a href=\"{href}{slash}\">{}{slash}</a></td><td>{size}</td></tr>",
            escape_html(&name)
        );
    }
    page.push_str("</table>\n</body></html>\n");
    Ok(page)
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `512 B`, `1.5 KiB`, `3.2 MiB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_specs() {
        let m: StaticMount = "/css=./static/css".parse().unwrap();
        assert_eq!((m.prefix.as_str(), m.dir.as_path(), m.index), ("/css", Path::new("./static/css"), false));
        let m: StaticMount = "/font/=static/font,index".parse().unwrap();
        assert_eq!((m.prefix.as_str(), m.index), ("/font", true));
        assert!("css=static".parse::<StaticMount>().is_err());
        assert!("/=static".parse::<StaticMount>().is_err());
        assert!("/api=static".parse::<StaticMount>().is_err());
        assert!("/static".parse::<StaticMount>().is_err());
        for bad in ["//x=d", "/a/../b=d", "/a/{x}=d", "/a b=d", "/./x=d", "/*x=d"] {
            assert!(bad.parse::<StaticMount>().is_err(), "{bad}");
        }
        assert!("/assets/v1.2=d".parse::<StaticMount>().is_ok());
    }

    #[test]
    fn toml_accepts_strings_and_tables() {
        #[derive(Deserialize)]
        struct File {
            #[serde(rename = "static")]
            mounts: Vec<StaticMount>,
        }
        let file: File =
            toml::from_str("static = [\"/css=static/css\", { prefix = \"/f\", dir = \"static/f\", index = true }]")
                .unwrap();
        assert_eq!(file.mounts[1], StaticMount { prefix: "/f".into(), dir: "static/f".into(), index: true });
    }

    #[test]
    fn paths_that_leave_are_refused() {
        assert_eq!(contained_path("/a/b.css"), Some(PathBuf::from("a/b.css")));
        assert_eq!(contained_path("/./a//b"), Some(PathBuf::from("a/b")));
        for bad in ["/../etc/passwd", "/a/../../x", "/%2e%2e/x", "/%2E%2E%2Fx", "/..%5cx", "/a\\..\\x", "/%00", "/%ff"]
        {
            assert_eq!(contained_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn overlapping_mounts_are_refused_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mount = |prefix: &str| StaticMount::new(prefix, dir.path().into(), false).unwrap();
        for mounts in
            [vec![mount("/a"), mount("/a")], vec![mount("/a"), mount("/a/b")], vec![mount("/a/b"), mount("/a")]]
        {
            let settings = StaticSettings { mounts, index_all: false };
            let result = mount_all(Router::<()>::new(), &settings);
            assert!(matches!(result, Err(StaticError::Overlap(..))));
        }
        let settings = StaticSettings { mounts: vec![mount("/a"), mount("/ab")], index_all: false };
        assert!(mount_all(Router::<()>::new(), &settings).is_ok());
    }

    #[test]
    fn escapes_and_sizes() {
        assert_eq!(escape_html("<script>&\"'.txt"), "&lt;script&gt;&amp;&quot;&#39;.txt");
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
    }
}
