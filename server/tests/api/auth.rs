//! Every data route wants a valid HS256 JWT; each way of failing is a 401 with a JSON body.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::helpers::*;
use base64::Engine;

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn hs256(secret: &str, claims: serde_json::Value) -> String {
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

#[tokio::test]
async fn each_auth_failure_is_a_401_with_a_json_body() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let app = spawn_app(Backend::Sqlite, 5).await;
    let valid = hs256(SECRET, serde_json::json!({"sub": "t", "exp": now() + 60}));
    let expired = hs256(SECRET, serde_json::json!({"sub": "t", "exp": now() - 10}));
    let wrong_key = hs256("not-the-secret", serde_json::json!({"sub": "t", "exp": now() + 60}));
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(serde_json::json!({"sub": "t", "exp": now() + 60}).to_string().as_bytes())
    );
    let no_exp = hs256(SECRET, serde_json::json!({"sub": "t"}));
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("wrong scheme", Some(format!("Basic {valid}"))),
        ("bad signature", Some(format!("Bearer {wrong_key}"))),
        ("expired", Some(format!("JWT {expired}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("no exp", Some(format!("Bearer {no_exp}"))),
        ("garbage", Some("Bearer not.a.token".into())),
    ];
    for path in ["/api/messages", "/standard", "/chunked"] {
        for (case, header) in &cases {
            let mut request = app.client.get(app.url(path));
            if let Some(h) = header {
                request = request.header("authorization", h);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{path} {case}");
            assert!(response.headers().get("www-authenticate").is_some(), "{path} {case}");
            let body: shared::ErrorBody = response.json().await.expect("json body");
            assert_eq!(body.error.code, shared::ErrorCode::Unauthorized, "{path} {case}");
        }
        for scheme in ["JWT", "Bearer", "bearer"] {
            let response = app
                .client
                .get(app.url(path))
                .header("authorization", format!("{scheme} {valid}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path} {scheme}");
        }
    }
}

#[tokio::test]
async fn health_and_metrics_need_no_token() {
    let app = spawn_app(Backend::Postgres, 1).await;
    let health: serde_json::Value = app.client.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "postgres");
    assert_eq!(app.metric("rowstream_streams_active").await, 0);
    let missing = app.get("/api/nope").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: shared::ErrorBody = missing.json().await.unwrap();
    assert_eq!(body.error.code, shared::ErrorCode::NotFound);
}

/// `header.payload` signed with HS256 under `secret`, whatever `header` claims.
fn forge(header: serde_json::Value, claims: serde_json::Value, secret: &str) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    format!("{message}.{signature}")
}

/// Every hostile token is a 401 JSON `unauthorized`: never a 500, never a row. A 20 KiB token
/// reaches the verifier (401); a 64 KiB one is over the 32 KiB header limit and hyper answers
/// 431 before any handler runs.
#[tokio::test]
async fn hostile_tokens_are_a_401_json_never_data() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let app = spawn_app(Backend::Sqlite, 5).await;
    let live = serde_json::json!({"sub": "t", "exp": now() + 60});
    let mut cases: Vec<(&str, String)> = vec![
        ("empty bearer", "Bearer ".into()),
        ("scheme only", "Bearer".into()),
        ("wrong scheme Token", format!("Token {}", hs256(SECRET, live.clone()))),
        ("alg none, no signature", forge_none(&live, "none")),
        ("alg None", forge_none(&live, "None")),
        ("alg NONE", forge_none(&live, "NONE")),
        ("RS256 header, HMAC secret", forge(serde_json::json!({"alg": "RS256", "typ": "JWT"}), live.clone(), SECRET)),
        ("ES256 header, HMAC secret", forge(serde_json::json!({"alg": "ES256", "typ": "JWT"}), live.clone(), SECRET)),
        ("PS256 header", forge(serde_json::json!({"alg": "PS256"}), live.clone(), SECRET)),
        ("HS512 header", forge(serde_json::json!({"alg": "HS512"}), live.clone(), SECRET)),
        ("EdDSA header", forge(serde_json::json!({"alg": "EdDSA"}), live.clone(), SECRET)),
        (
            "kid path traversal, signed with empty key",
            forge(serde_json::json!({"alg": "HS256", "kid": "../../../../dev/null"}), live.clone(), ""),
        ),
        (
            "kid sql injection, signed with a guess",
            forge(serde_json::json!({"alg": "HS256", "kid": "x' UNION SELECT 'k"}), live.clone(), "k"),
        ),
        (
            "jku pointing elsewhere",
            forge(serde_json::json!({"alg": "HS256", "jku": "http://127.0.0.1:1/"}), live.clone(), "x"),
        ),
        ("expired", hs256(SECRET, serde_json::json!({"sub": "t", "exp": now() - 1}))),
        ("not yet valid (nbf)", hs256(SECRET, serde_json::json!({"sub": "t", "exp": now() + 600, "nbf": now() + 300}))),
        ("no sub", hs256(SECRET, serde_json::json!({"exp": now() + 60}))),
        ("exp as a string", hs256(SECRET, serde_json::json!({"sub": "t", "exp": "never"}))),
        ("other secret", hs256("another-secret-also-32-bytes-long!!", live.clone())),
        ("secret with one byte changed", hs256(&SECRET.replacen('i', "j", 1), live.clone())),
        ("signature stripped", {
            let t = hs256(SECRET, live.clone());
            format!("{}.", t.rsplit_once('.').unwrap().0)
        }),
        ("payload swapped, old signature", {
            let t = hs256(SECRET, live.clone());
            let parts: Vec<&str> = t.split('.').collect();
            let other = b64(serde_json::json!({"sub": "admin", "exp": now() + 60}).to_string().as_bytes());
            format!("{}.{other}.{}", parts[0], parts[2])
        }),
        ("garbage base64", "Bearer !!!.@@@.###".into()),
        ("two dots only", "Bearer ..".into()),
        ("four parts", format!("Bearer {}.x", hs256(SECRET, live.clone()))),
        ("base64 of non-json", format!("Bearer {}.{}.{}", b64(b"\xff\xfe"), b64(b"not json"), b64(b"sig"))),
        ("header is a json array", format!("Bearer {}.{}.x", b64(b"[1,2]"), b64(b"{}"))),
        ("padding and spaces", format!("Bearer  {}== ", hs256(SECRET, live.clone()))),
        ("20 KiB token", format!("Bearer {}", "A".repeat(20 * 1024))),
    ];
    for (_, value) in cases.iter_mut() {
        if !value.contains(' ') && !value.starts_with("Bearer") {
            *value = format!("Bearer {value}");
        }
    }
    for (case, header) in &cases {
        for path in ["/api/messages", "/standard"] {
            let response = app.client.get(app.url(path)).header("authorization", header.as_str()).send().await.unwrap();
            assert_eq!(response.status(), 401, "{case} on {path}");
            let body = response.text().await.unwrap();
            let error: shared::ErrorBody =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{case}: {e}: {body}"));
            assert_eq!(error.error.code, shared::ErrorCode::Unauthorized, "{case}");
            assert!(!body.contains("object_id") && !body.contains("\"sender\""), "{case} leaked data: {body}");
        }
    }
    // A header value that is not visible ASCII: still a 401.
    let response = app
        .client
        .get(app.url("/api/messages"))
        .header("authorization", reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // 64 KiB: over the header limit, refused by hyper before routing.
    let response = app
        .client
        .get(app.url("/api/messages"))
        .header("authorization", format!("Bearer {}", "A".repeat(64 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
}

fn forge_none(claims: &serde_json::Value, alg: &str) -> String {
    format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}
