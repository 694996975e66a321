//! Download links (`POST /api/downloads`): a link streams exactly the request it was made
//! for, without an `Authorization` header, as an attachment; it works for nothing else, and
//! its token is no bearer token.

use serde_json::{json, Value};

use crate::helpers::*;

async fn link(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/downloads"))
        .bearer_auth(&app.token)
        .json(&json!({ "path": path }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_link_streams_its_request_as_an_attachment_and_nothing_else() {
    let app = spawn_app(Backend::Postgres, 50).await;
    let path = "/api/tables/messages/rows?format=csv&order=id.desc&id=lte.10";
    let (status, answer) = link(&app, path).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["expires_in"], 60);
    let url = answer["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{path}&download=")), "{url}");

    // Followed without a token: the same body as the authorized request, as an attachment.
    let response = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"messages.csv\"");
    let body = response.text().await.unwrap();
    let (_, expected) = app.body(path).await;
    assert_eq!(body, expected);
    assert_eq!(body.lines().count(), 11, "header and ids 10 down to 1: {body}");

    // The link names its request: another query, another path or a second token fail.
    let token = url.rsplit_once("download=").unwrap().1.to_owned();
    for other in [
        format!("/api/tables/messages/rows?format=csv&order=id.desc&id=lte.20&download={token}"),
        format!("/api/tables/messages/rows?download={token}"),
        format!("/api/messages?download={token}"),
        format!("{url}&download={token}"),
    ] {
        let response = app.client.get(app.url(&other)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{other}");
    }
    // Its token is no bearer token.
    let response = app.client.get(app.url(path)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");

    // Links are made only for rows requests, only with a token.
    for bad in ["/api/tables/messages", "/api/sql", "http://elsewhere/api/messages", &url] {
        let (status, body) = link(&app, bad).await;
        assert_eq!((status, body["error"]["parameter"].as_str()), (400, Some("path")), "{bad}: {body}");
    }
    let response = app.client.post(app.url("/api/downloads")).json(&json!({ "path": path })).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = app
        .client
        .post(app.url("/api/downloads"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{\"path\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
