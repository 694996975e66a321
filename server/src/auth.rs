//! HS256 JSON Web Tokens: [`JwtKeys`] issues and verifies them; [`require_jwt`] is the
//! middleware in front of every data route.
//!
//! Accepted: `Authorization: JWT <token>` (the seed API's scheme) and `Bearer <token>`.
//! Only HS256 is accepted (so `alg: none` and algorithm swaps fail), the header's `kid` and
//! `jku`/`x5u` are never looked at (there is one key), `exp` is required and checked with no
//! leeway, and `nbf`, when present, too. Every failure is a 401 JSON `unauthorized`.
//! Secrets shorter than [`MIN_SECRET_BYTES`] are refused at start ([`crate::config`]).
//!
//! Download links (`POST /api/downloads`, [`JwtKeys::issue_download`]): a token with the
//! [`DOWNLOAD_CLAIM`] names one exact request (path and query). It is accepted only as that
//! request's `download=` parameter, on a GET without an `Authorization` header; the
//! parameter is taken out of the URL before any handler sees it, and the response is marked
//! `Content-Disposition: attachment`. As a bearer token it is refused. It keeps the issuing
//! token's subject and other claims (the role claim among them), and lives 60 seconds.
//!
//! With `--jwt-role-claim CLAIM` (PostgreSQL), the middleware also reads the database role
//! the request runs as from that claim and hands it to the handlers as a [`RequestRole`]
//! extension (handlers never read the token again). A token without the claim (or whose
//! claim is not a string, or not a possible role name) is a 403 `forbidden_role`: it is a
//! genuine token that may not read anything.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::AppError;
use crate::source::role::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// Issued-at; optional, as tokens made elsewhere may leave it out.
    #[serde(default)]
    pub iat: u64,
    pub exp: u64,
    /// Every other claim (the role claim of `--jwt-role-claim` among them).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The database role a request runs as: `None` unless `--jwt-role-claim` is set. Put in
/// the request's extensions by [`require_jwt`]; handlers take it as an extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRole(pub Option<Role>);

impl<S: Send + Sync> FromRequestParts<S> for RequestRole {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        // Missing only on a route without the JWT middleware: fail closed.
        parts.extensions.get::<RequestRole>().cloned().ok_or(AppError::Internal)
    }
}

/// The claim of a download link's token: the path and query it may be used for.
pub const DOWNLOAD_CLAIM: &str = "rowstream_download";

/// The shortest `--jwt-secret` accepted: 256 bits, the size of HS256's output (RFC 7518 3.2).
pub const MIN_SECRET_BYTES: usize = 32;

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The claim that names the request's database role (`--jwt-role-claim`).
    role_claim: Option<String>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)") // never print the secret
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header; send `Authorization: Bearer <token>` or `Authorization: JWT <token>`")]
    Missing,
    #[error("unsupported Authorization scheme; use `Bearer <token>` or `JWT <token>`")]
    Scheme,
    #[error("token expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("a download link's token is only valid in its own link")]
    DownloadToken,
    #[error("this download link is for another request (links are made by POST /api/downloads)")]
    DownloadMismatch,
}

impl From<AuthError> for AppError {
    fn from(error: AuthError) -> Self {
        AppError::Unauthorized(error.to_string())
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        // Explicit, so a second backend enabled elsewhere in the graph cannot make the
        // choice ambiguous; an Err means a provider is already installed.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            role_claim: None,
        }
    }

    /// Reads each request's database role from `claim` (`--jwt-role-claim`).
    pub fn with_role_claim(mut self, claim: Option<String>) -> Self {
        self.role_claim = claim;
        self
    }

    /// Whether requests run as a role from their token.
    pub fn has_role_claim(&self) -> bool {
        self.role_claim.is_some()
    }

    /// The role verified `claims` run as (`None` without `--jwt-role-claim`).
    pub fn request_role(&self, claims: &Claims) -> Result<RequestRole, AppError> {
        let Some(claim) = &self.role_claim else {
            return Ok(RequestRole(None));
        };
        let name = claims.extra.get(claim).and_then(Value::as_str).ok_or_else(|| {
            AppError::ForbiddenRole(format!(
                "the token has no {claim:?} claim naming a database role; this server runs every request as the \
                 token's role (--jwt-role-claim {claim})"
            ))
        })?;
        let role = Role::new(name).map_err(|e| AppError::ForbiddenRole(e.to_string()))?;
        Ok(RequestRole(Some(role)))
    }

    /// A random 256-bit secret, hex-encoded: for a `serve` run with no secret configured.
    pub fn random_secret() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn issue(&self, subject: &str, ttl: Duration) -> Result<String, jsonwebtoken::errors::Error> {
        self.issue_with(subject, ttl, Map::new())
    }

    /// A token with further claims (`{"role": "web_anon"}`).
    pub fn issue_with(
        &self,
        subject: &str,
        ttl: Duration,
        extra: Map<String, Value>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims { sub: subject.to_owned(), iat: now, exp: now.saturating_add(ttl.as_secs()), extra };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid(e),
            }
        })
    }

    /// A download link's token for `path` (path and query), carrying `claims`' subject and
    /// other claims.
    pub fn issue_download(&self, claims: &Claims, path: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let mut extra = claims.extra.clone();
        extra.insert(DOWNLOAD_CLAIM.to_owned(), Value::String(path.to_owned()));
        self.issue_with(&claims.sub, Duration::from_secs(shared::DOWNLOAD_LINK_SECONDS), extra)
    }

    /// Verifies an `Authorization` header value.
    pub fn verify_header(&self, value: Option<&str>) -> Result<Claims, AuthError> {
        let value = value.ok_or(AuthError::Missing)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Scheme)?;
        if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("jwt")) {
            return Err(AuthError::Scheme);
        }
        self.verify(token.trim())
    }
}

/// Rejects the request with 401 unless it carries a valid token (403 when the role claim
/// is required and missing); passes the claims and the [`RequestRole`] on as request
/// extensions.
pub async fn require_jwt(
    State(keys): State<Arc<JwtKeys>>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let header = request.headers().get(AUTHORIZATION).map(|v| v.to_str().map_err(|_| AuthError::Scheme)).transpose()?;
    let link = match header {
        None if request.method() == Method::GET => split_download(request.uri()),
        _ => None,
    };
    let claims = match &link {
        Some((token, uri)) => {
            let claims = keys.verify(token)?;
            let linked = claims.extra.get(DOWNLOAD_CLAIM).and_then(Value::as_str);
            if linked != Some(uri.path_and_query().map_or("", |p| p.as_str())) {
                return Err(AuthError::DownloadMismatch.into());
            }
            claims
        }
        None => {
            let claims = keys.verify_header(header)?;
            if claims.extra.contains_key(DOWNLOAD_CLAIM) {
                return Err(AuthError::DownloadToken.into());
            }
            claims
        }
    };
    let role = keys.request_role(&claims)?;
    if let Some((_, uri)) = &link {
        // Handlers see the request the link was made for, without its token.
        *request.uri_mut() = uri.clone();
    }
    request.extensions_mut().insert(role);
    request.extensions_mut().insert(claims);
    let mut response = next.run(request).await;
    if let Some((_, uri)) = link.filter(|_| response.status().is_success()) {
        let name = attachment_name(uri.path(), response.headers().get(CONTENT_TYPE));
        if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            response.headers_mut().insert(CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

/// The `download=` token of `uri` and `uri` without it.
fn split_download(uri: &Uri) -> Option<(String, Uri)> {
    let query = uri.query()?;
    let prefix = format!("{}=", shared::DOWNLOAD_PARAM);
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix(&prefix) {
            Some(value) if token.is_none() => token = Some(value.to_owned()),
            _ => rest.push(pair),
        }
    }
    let token = token?;
    let path_and_query =
        if rest.is_empty() { uri.path().to_owned() } else { format!("{}?{}", uri.path(), rest.join("&")) };
    Some((token, path_and_query.parse().ok()?))
}

/// `orders.csv` for `/api/tables/orders/rows` answered as CSV: the relation's or query's
/// name (characters outside `[A-Za-z0-9._-]` as `_`) and the format's extension.
fn attachment_name(path: &str, content_type: Option<&HeaderValue>) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let name = match segments.as_slice() {
        ["api", "tables" | "queries", name, "rows"] => *name,
        ["api", "messages"] => "messages",
        _ => "rows",
    };
    let name = form_urlencoded::parse(format!("n={name}").as_bytes()).next().map(|(_, v)| v.into_owned());
    let name: String = name
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let media = content_type.and_then(|v| v.to_str().ok()).unwrap_or("");
    let extension =
        shared::Format::ALL.into_iter().find(|f| media.starts_with(f.media_type())).map_or("bin", |f| f.extension());
    format!("{name}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"unit-test-secret-of-at-least-32-bytes";

    #[test]
    fn not_yet_valid_tokens_are_refused() {
        let keys = JwtKeys::new(SECRET);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let claims = serde_json::json!({"sub": "ada", "exp": now + 600, "nbf": now + 300});
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET)).unwrap();
        assert!(matches!(keys.verify(&token), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn issues_and_verifies_with_either_scheme() {
        let keys = JwtKeys::new(SECRET);
        let token = keys.issue("ada", Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify_header(Some(&format!("JWT {token}"))).unwrap().sub, "ada");
        assert_eq!(keys.verify_header(Some(&format!("Bearer {token}"))).unwrap().sub, "ada");
        assert!(matches!(keys.verify_header(Some(&format!("Basic {token}"))), Err(AuthError::Scheme)));
        assert!(matches!(keys.verify_header(None), Err(AuthError::Missing)));
        assert!(matches!(
            JwtKeys::new(b"another-unit-test-secret-32-bytes-long").verify(&token),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn the_role_comes_from_the_configured_claim() {
        let keys = JwtKeys::new(SECRET).with_role_claim(Some("role".into()));
        let mut extra = Map::new();
        extra.insert("role".into(), Value::from("web_anon"));
        let token = keys.issue_with("ada", Duration::from_secs(60), extra).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(keys.request_role(&claims).unwrap(), RequestRole(Some(Role::new("web_anon").unwrap())));
        let plain = keys.verify(&keys.issue("ada", Duration::from_secs(60)).unwrap()).unwrap();
        assert!(matches!(keys.request_role(&plain), Err(AppError::ForbiddenRole(_))));
        assert_eq!(JwtKeys::new(SECRET).request_role(&plain).unwrap(), RequestRole(None));
        let mut extra = Map::new();
        extra.insert("role".into(), Value::from(7));
        let claims = keys.verify(&keys.issue_with("ada", Duration::from_secs(60), extra).unwrap()).unwrap();
        assert!(matches!(keys.request_role(&claims), Err(AppError::ForbiddenRole(_))));
    }

    #[test]
    fn download_links_name_their_request() {
        let (token, uri) =
            split_download(&"/api/tables/t/rows?format=csv&download=abc&a=eq.1".parse().unwrap()).unwrap();
        assert_eq!((token.as_str(), uri.to_string().as_str()), ("abc", "/api/tables/t/rows?format=csv&a=eq.1"));
        let (_, uri) = split_download(&"/api/messages?download=x".parse().unwrap()).unwrap();
        assert_eq!(uri.to_string(), "/api/messages");
        assert!(split_download(&"/api/messages?downloads=x".parse().unwrap()).is_none());
        let csv = HeaderValue::from_static("text/csv; charset=utf-8");
        assert_eq!(attachment_name("/api/tables/Order%20Items/rows", Some(&csv)), "Order_Items.csv");
        let arrow = HeaderValue::from_static("application/vnd.apache.arrow.stream");
        assert_eq!(attachment_name("/api/queries/q/rows", Some(&arrow)), "q.arrows");
        assert_eq!(attachment_name("/api/messages", None), "messages.bin");
    }

    #[test]
    fn random_secrets_differ() {
        assert_ne!(JwtKeys::random_secret(), JwtKeys::random_secret());
        assert_eq!(JwtKeys::random_secret().len(), 64);
    }
}
