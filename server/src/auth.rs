//! HS256 JSON Web Tokens: [`JwtKeys`] issues and verifies them; [`require_jwt`] is the
//! middleware in front of every data route.
//!
//! Accepted: `Authorization: JWT <token>` (the seed API's scheme) and `Bearer <token>`.
//! Only HS256 is accepted (so `alg: none` and algorithm swaps fail), the header's `kid` and
//! `jku`/`x5u` are never looked at (there is one key), `exp` is required and checked with no
//! leeway, and `nbf`, when present, too. Every failure is a 401 JSON `unauthorized`.
//! Secrets shorter than [`MIN_SECRET_BYTES`] are refused at start ([`crate::config`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// Issued-at; optional, as tokens made elsewhere may leave it out.
    #[serde(default)]
    pub iat: u64,
    pub exp: u64,
}

/// The shortest `--jwt-secret` accepted: 256 bits, the size of HS256's output (RFC 7518 3.2).
pub const MIN_SECRET_BYTES: usize = 32;

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
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
        JwtKeys { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    /// A random 256-bit secret, hex-encoded: for a `serve` run with no secret configured.
    pub fn random_secret() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn issue(&self, subject: &str, ttl: Duration) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims { sub: subject.to_owned(), iat: now, exp: now.saturating_add(ttl.as_secs()) };
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

/// Rejects the request with 401 unless it carries a valid token; passes the claims on as a
/// request extension.
pub async fn require_jwt(
    State(keys): State<Arc<JwtKeys>>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let header = request.headers().get(AUTHORIZATION).map(|v| v.to_str().map_err(|_| AuthError::Scheme)).transpose()?;
    let claims = keys.verify_header(header)?;
    request.extensions_mut().insert(claims);
    Ok(next.run(request).await)
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
    fn random_secrets_differ() {
        assert_ne!(JwtKeys::random_secret(), JwtKeys::random_secret());
        assert_eq!(JwtKeys::random_secret().len(), 64);
    }
}
