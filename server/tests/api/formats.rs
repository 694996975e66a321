//! Every format, in both modes, parses back into the same rows; `after`/`limit` are exact.

use crate::helpers::*;

const ROWS: i64 = 2_000;

#[tokio::test]
async fn every_format_round_trips_in_both_modes() {
    for backend in ALL_BACKENDS {
        let app = spawn_app(backend, ROWS as u64).await;
        let expected = expected_rows(1..=ROWS);
        assert!(expected.iter().any(|m| m.body.contains('\t')) && expected.iter().any(|m| m.body.contains('"')));
        for mode in ["stream", "buffered"] {
            let (headers, body) = app.body(&format!("/api/messages?mode={mode}&format=ndjson")).await;
            assert_eq!(headers["content-type"], "application/x-ndjson");
            let (rows, end, error) = parse_ndjson(&body);
            assert_eq!((rows.len() as i64, end, error), (ROWS, Some(ROWS as u64), None), "{backend:?} {mode}");
            assert_eq!(rows, expected, "{backend:?} {mode} ndjson");

            let (_, body) = app.body(&format!("/api/messages?mode={mode}&format=json")).await;
            let rows: Vec<shared::Message> = serde_json::from_str(&body).expect("json array");
            assert_eq!(rows, expected, "{backend:?} {mode} json");

            let (headers, body) = app.body(&format!("/api/messages?mode={mode}&format=csv")).await;
            assert!(headers["content-type"].to_str().unwrap().starts_with("text/csv"));
            assert_eq!(parse_csv(&body), expected, "{backend:?} {mode} csv");

            let (_, body) = app.body(&format!("/api/messages?mode={mode}&format=text")).await;
            assert_eq!(parse_text(&body), expected, "{backend:?} {mode} text");
        }
        let (headers, _) = app.body("/api/messages?mode=buffered&limit=3").await;
        assert!(headers.get("content-length").is_some(), "buffered mode sends a Content-Length");
    }
}

#[tokio::test]
async fn accept_header_chooses_the_format() {
    let app = spawn_app(Backend::Sqlite, 10).await;
    for (accept, check) in [
        ("text/csv", "id,sender,body,created_at\n"),
        ("application/json", "[\n{\"id\":1,"),
        ("text/plain", "1\t"),
        ("application/x-ndjson", "{\"id\":1,"),
        ("*/*", "{\"id\":1,"),
    ] {
        let response = app.get("/api/messages").header("accept", accept).send().await.unwrap();
        assert_eq!(response.status(), 200, "{accept}");
        assert!(response.text().await.unwrap().starts_with(check), "{accept}");
    }
    let response = app.get("/api/messages").header("accept", "image/png").send().await.unwrap();
    assert_eq!(response.status(), 406);
    let body: shared::ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, shared::ErrorCode::NotAcceptable);
}

#[tokio::test]
#[allow(clippy::reversed_empty_ranges)] // `1..=0`: no rows expected
async fn after_and_limit_are_exact() {
    for backend in ALL_BACKENDS {
        let app = spawn_app(backend, 3000).await;
        for (query, ids) in [
            ("after=10&limit=5", 11..=15),
            ("after=2990", 2991..=3000),
            ("after=3000", 1..=0),
            ("after=-7&limit=2", 1..=2),
            ("limit=0", 1..=0),
            ("after=999&limit=1002", 1000..=2001),
            // The first row has a query of its own: streams that end with it or right after.
            ("limit=1", 1..=1),
            ("after=2999", 3000..=3000),
            ("after=2998&limit=1", 2999..=2999),
            ("after=2998&limit=9", 2999..=3000),
        ] {
            for mode in ["stream", "buffered"] {
                let (_, body) = app.body(&format!("/api/messages?{query}&mode={mode}")).await;
                let (rows, end, _) = parse_ndjson(&body);
                let expected = expected_rows(ids.clone());
                assert_eq!(end, Some(expected.len() as u64), "{backend:?} {query} {mode}");
                assert_eq!(rows, expected, "{backend:?} {query} {mode}");
            }
        }
        // Keyset resume: two halves make the whole.
        let (_, first) = app.body("/api/messages?limit=1500").await;
        let last_id = parse_ndjson(&first).0.last().unwrap().id;
        let (_, second) = app.body(&format!("/api/messages?after={last_id}")).await;
        let mut all = parse_ndjson(&first).0;
        all.extend(parse_ndjson(&second).0);
        assert_eq!(all, expected_rows(1..=3000));
    }
}
