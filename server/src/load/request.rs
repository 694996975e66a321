//! The one request every worker sends, built once: method, origin-form URI, headers (Host,
//! the token, `-H`, the form's content type) and the body (urlencoded or multipart form),
//! serialized once into the bytes every worker writes.

use std::net::SocketAddr;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Method, Uri};

use super::{LoadArgs, LoadError};

#[derive(Debug, Clone)]
pub struct RequestTemplate {
    /// The URL as given, for the report.
    pub url: String,
    pub method: Method,
    /// host:port to resolve and connect to.
    pub authority: String,
    /// Path and query: what goes on the request line.
    pub path: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The whole request as it goes on the wire: request line, headers, body.
    pub wire: Bytes,
}

impl RequestTemplate {
    pub fn from_args(args: &LoadArgs) -> Result<RequestTemplate, LoadError> {
        let bad_url = |reason: &str| LoadError::Url { url: args.url.clone(), reason: reason.into() };
        let uri: Uri = args.url.parse().map_err(|e: hyper::http::uri::InvalidUri| bad_url(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(bad_url("only http:// is supported")),
            None => return Err(bad_url("expected http://HOST[:PORT]/PATH")),
        }
        let authority = uri.authority().ok_or_else(|| bad_url("no host"))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let connect_to = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let path: Uri =
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").parse().map_err(|_| bad_url("bad path"))?;
        let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| LoadError::Method(args.method.clone()))?;

        let mut headers = HeaderMap::new();
        let host_value = HeaderValue::from_str(authority.as_str()).map_err(|_| bad_url("bad host"))?;
        headers.insert(HOST, host_value);
        if let Some(token) = &args.token {
            let value =
                HeaderValue::from_str(&format!("JWT {token}")).map_err(|_| LoadError::Header("--token".into()))?;
            headers.insert(AUTHORIZATION, value);
        }
        let (content_type, body) = form_body(&args.form, &args.form_file)?;
        if let Some(content_type) = content_type {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_str(&content_type).map_err(|_| LoadError::Header(content_type))?,
            );
        }
        for header in &args.headers {
            let (name, value) = header.split_once(':').ok_or_else(|| LoadError::Header(header.clone()))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| LoadError::Header(header.clone()))?;
            let value = HeaderValue::from_str(value.trim()).map_err(|_| LoadError::Header(header.clone()))?;
            headers.insert(name, value);
        }
        let wire = wire(&method, &path, &headers, &body);
        Ok(RequestTemplate { url: args.url.clone(), method, authority: connect_to, path, headers, body, wire })
    }

    pub async fn resolve(&self) -> Result<SocketAddr, LoadError> {
        let resolve_error = |source| LoadError::Resolve { host: self.authority.clone(), source };
        tokio::net::lookup_host(&self.authority)
            .await
            .map_err(resolve_error)?
            .next()
            .ok_or_else(|| resolve_error(std::io::Error::new(std::io::ErrorKind::NotFound, "no address")))
    }
}

/// Serializes the request once; every worker writes these same bytes for every request.
fn wire(method: &Method, path: &Uri, headers: &HeaderMap, body: &Bytes) -> Bytes {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(format!("{method} {path} HTTP/1.1\r\n").as_bytes());
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let needs_length = !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if needs_length && !headers.contains_key(hyper::header::CONTENT_LENGTH) {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// The body for `--form` / `--form-file`: none, urlencoded, or multipart when there is a file.
fn form_body(fields: &[String], files: &[String]) -> Result<(Option<String>, Bytes), LoadError> {
    let fields: Vec<(&str, &str)> =
        fields.iter().map(|f| f.split_once('=').ok_or_else(|| LoadError::Form(f.clone()))).collect::<Result<_, _>>()?;
    if files.is_empty() {
        if fields.is_empty() {
            return Ok((None, Bytes::new()));
        }
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
        return Ok((Some("application/x-www-form-urlencoded".into()), Bytes::from(body)));
    }
    let boundary = format!("rowstream-load-{:016x}", rand::random::<u64>());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n", quote(name)).as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    for file in files {
        let (name, path) = file.split_once('=').ok_or_else(|| LoadError::Form(file.clone()))?;
        let path = path.strip_prefix('@').unwrap_or(path);
        let contents = std::fs::read(path).map_err(|source| LoadError::FormFile { path: path.into(), source })?;
        let filename =
            std::path::Path::new(path).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                quote(name),
                quote(&filename)
            )
            .as_bytes(),
        );
        body.extend_from_slice(&contents);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((Some(format!("multipart/form-data; boundary={boundary}")), Bytes::from(body)))
}

/// A name inside a quoted `Content-Disposition` parameter.
fn quote(name: &str) -> String {
    name.replace('\\', "\\\\").replace('"', "\\\"").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: LoadArgs,
    }

    fn template(argv: &[&str]) -> Result<RequestTemplate, LoadError> {
        let wrapper = Wrapper::try_parse_from(std::iter::once("load").chain(argv.iter().copied())).unwrap();
        RequestTemplate::from_args(&wrapper.args)
    }

    #[test]
    fn builds_the_request_once() {
        let t =
            template(&["http://127.0.0.1:8080/api/messages?limit=1", "--token", "abc", "-H", "X-Test: yes"]).unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path, "/api/messages?limit=1");
        assert_eq!(t.headers["host"], "127.0.0.1:8080");
        assert_eq!(t.headers["authorization"], "JWT abc");
        assert_eq!(t.headers["x-test"], "yes");
        assert!(t.body.is_empty());
        let wire = String::from_utf8(t.wire.to_vec()).unwrap();
        assert!(wire.starts_with("GET /api/messages?limit=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n"), "{wire}");
        assert!(wire.contains("authorization: JWT abc\r\n") && wire.contains("x-test: yes\r\n"));
        assert!(wire.ends_with("\r\n\r\n") && !wire.contains("content-length"));
    }

    #[test]
    fn forms() {
        let t = template(&["http://localhost/demo1/x", "-m", "post", "--form", "key=a b&c"]).unwrap();
        assert_eq!(t.method, Method::POST);
        assert_eq!(t.authority, "localhost:80");
        assert_eq!(t.headers["content-type"], "application/x-www-form-urlencoded");
        assert_eq!(t.body, "key=a+b%26c");
        assert!(t.wire.ends_with(b"content-length: 11\r\n\r\nkey=a+b%26c"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("image.jpg");
        std::fs::write(&file, b"\x00\x01binary").unwrap();
        let file_arg = format!("image=@{}", file.display());
        let t =
            template(&["http://localhost/", "-m", "POST", "--form", "image_id=2", "--form-file", &file_arg]).unwrap();
        let content_type = t.headers["content-type"].to_str().unwrap().to_owned();
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        let body = String::from_utf8_lossy(&t.body);
        assert!(body
            .starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image_id\"\r\n\r\n2\r\n")));
        assert!(body.contains("name=\"image\"; filename=\"image.jpg\""));
        assert!(body.ends_with(&format!("\x00\x01binary\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(template(&["https://example.com/"]), Err(LoadError::Url { .. })));
        assert!(matches!(template(&["/no-host"]), Err(LoadError::Url { .. })));
        assert!(matches!(template(&["http://h/", "-H", "no colon"]), Err(LoadError::Header(_))));
        assert!(matches!(template(&["http://h/", "--form", "novalue"]), Err(LoadError::Form(_))));
        assert!(matches!(template(&["http://h/", "--form-file", "f=@/no/such/file"]), Err(LoadError::FormFile { .. })));
    }
}
