//! `GET /hello` and the form handlers `POST /demo1/{name}` and `POST /greet`: both
//! encodings, and every error (400 naming the field, 413, 415, non-UTF-8, 401).

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::helpers::*;

const URLENCODED: &str = "application/x-www-form-urlencoded";

/// A multipart/form-data body with the given fields, built by hand so a test can put any
/// bytes in it.
pub fn multipart(fields: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "rowstream-test-boundary-7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post(app: &TestApp, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut request = app.client.post(app.url(path)).bearer_auth(&app.token).body(body);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let response = request.send().await.expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

fn error(body: &str) -> (String, Option<String>) {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    let code = value["error"]["code"].as_str().expect("code").to_owned();
    (code, value["error"]["parameter"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn hello_is_plain_text_without_auth() {
    let app = spawn_app(Backend::Sqlite, 0).await;
    let response = app.client.get(app.url("/hello")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(response.text().await.unwrap(), "Hello, world!");
}

#[tokio::test]
async fn demo1_and_greet_read_both_form_encodings() {
    let app = spawn_app(Backend::Sqlite, 0).await;
    let (status, body) = post(&app, "/demo1/ada", Some(URLENCODED), b"other=1&key=a+b%21%E4%BD%A0".to_vec()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), serde_json::json!({"name": "ada", "key": "a b!你"}));

    let (content_type, form) = multipart(&[("key", "multi part".as_bytes()), ("x", b"y")]);
    let (status, body) = post(&app, "/demo1/bob", Some(&content_type), form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), serde_json::json!({"name": "bob", "key": "multi part"}));

    // A binary file part next to the field (the seed's load client posts an image).
    let boundary = "b0undary";
    let mut form = Vec::new();
    form.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
    form.extend_from_slice(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\xff\xfe");
    form.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nwith-image\r\n--{boundary}--\r\n"
        )
        .as_bytes(),
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, body) = post(&app, "/demo1/img", Some(&content_type), form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), serde_json::json!({"name": "img", "key": "with-image"}));

    let (status, body) = post(&app, "/greet", Some(URLENCODED), b"name=Ada".to_vec()).await;
    assert_eq!((status, body.as_str()), (200, "Hello, Ada!"));
    let (content_type, form) = multipart(&[("name", b"Grace")]);
    let (status, body) = post(&app, "/greet", Some(&content_type), form).await;
    assert_eq!((status, body.as_str()), (200, "Hello, Grace!"));
}

#[tokio::test]
async fn each_bad_form_is_a_json_error() {
    let app = spawn_app_on(TestDb::new(Backend::Sqlite).await, |c| c.max_body = 1024).await;
    for (path, field) in [("/demo1/ada", "key"), ("/greet", "name")] {
        // The field is missing: 400 naming it, in both encodings.
        let (status, body) = post(&app, path, Some(URLENCODED), b"nothing=here".to_vec()).await;
        assert_eq!((status, error(&body)), (400, ("bad_parameter".into(), Some(field.into()))), "{path}");
        let (content_type, form) = multipart(&[("nothing", b"here")]);
        let (status, body) = post(&app, path, Some(&content_type), form).await;
        assert_eq!((status, error(&body)), (400, ("bad_parameter".into(), Some(field.into()))), "{path}");

        // Not UTF-8: percent-encoded, raw in a urlencoded body, raw in a multipart field.
        for bad in [format!("{field}=%FF%FE").into_bytes(), [field.as_bytes(), b"=\xff\xfe"].concat()] {
            let (status, body) = post(&app, path, Some(URLENCODED), bad).await;
            assert_eq!((status, error(&body)), (400, ("bad_parameter".into(), Some(field.into()))), "{path}");
        }
        let (content_type, form) = multipart(&[(field, b"\xc3\x28")]);
        let (status, body) = post(&app, path, Some(&content_type), form).await;
        assert_eq!((status, error(&body)), (400, ("bad_parameter".into(), Some(field.into()))), "{path}");

        // Not a form: 415, with or without a content type.
        for content_type in [Some("application/json"), Some("text/plain"), None] {
            let (status, body) = post(&app, path, content_type, format!("{{\"{field}\":1}}").into_bytes()).await;
            assert_eq!((status, error(&body).0.as_str()), (415, "unsupported_media_type"), "{path} {content_type:?}");
        }

        // Over --max-body (1024 here): 413 with a Content-Length, and chunked without one.
        let big = format!("{field}={}", "x".repeat(2000)).into_bytes();
        let (status, body) = post(&app, path, Some(URLENCODED), big.clone()).await;
        assert_eq!((status, error(&body).0.as_str()), (413, "payload_too_large"), "{path}");
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.chunks(700).map(|c| Ok(c.to_vec())).collect();
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(&app.token)
            .header(CONTENT_TYPE, URLENCODED)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path} chunked");
        assert_eq!(error(&response.text().await.unwrap()).0, "payload_too_large");
        // Just under the limit is fine.
        let (status, _) =
            post(&app, path, Some(URLENCODED), format!("{field}={}", "x".repeat(1000)).into_bytes()).await;
        assert_eq!(status, 200, "{path}");

        // No token: 401, like the data routes.
        let response = app
            .client
            .post(app.url(path))
            .header(CONTENT_TYPE, URLENCODED)
            .body(format!("{field}=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(error(&response.text().await.unwrap()).0, "unauthorized");
    }
}
