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
