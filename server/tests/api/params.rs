//! Bad parameters are a 400 whose JSON names the parameter.

use crate::helpers::*;

#[tokio::test]
async fn bad_parameters_are_named() {
    let app = spawn_app(Backend::Sqlite, 5).await;
    for (path, parameter) in [
        ("/api/messages?limit=-1", "limit"),
        ("/api/messages?limit=ten", "limit"),
        ("/api/messages?after=1.5", "after"),
        ("/api/messages?batch=0", "batch"),
        ("/api/messages?batch=100001", "batch"),
        ("/api/messages?mode=turbo", "mode"),
        ("/api/messages?format=xml", "format"),
        ("/api/messages?limt=5", "limt"),
        ("/api/messages?limit=1&limit=2", "limit"),
        ("/chunked?batch=-3", "batch"),
        ("/chunked?format=csv", "format"),
        ("/standard?batch=10", "batch"),
        ("/standard?after=x", "after"),
    ] {
        let response = app.get(path).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json", "{path}");
        let body: shared::ErrorBody = response.json().await.unwrap();
        assert_eq!(body.error.code, shared::ErrorCode::BadParameter, "{path}");
        assert_eq!(body.error.parameter.as_deref(), Some(parameter), "{path}");
        assert!(body.error.message.contains(parameter), "{path}: {}", body.error.message);
    }
}
