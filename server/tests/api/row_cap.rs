//! `--max-rows`: the server's row cap. A response it cuts says so as one cut by `limit`
//! does (trailer `cut` and `next`, buffered: the `rowstream-next` header), and `after=next`
//! continues exactly there; the effective limit is the smaller of `limit` and the cap.

use serde_json::Value;
use shared::EndDetail;

use crate::helpers::*;
use crate::tables::{exec, items_setup, table_ndjson};

async fn capped_app(backend: Backend, max_rows: u64) -> TestApp {
    let db = TestDb::new(backend).await;
    db.seed(30).await;
    exec(&db, items_setup(backend)).await;
    spawn_app_on(db, |c| c.max_rows = Some(max_rows)).await
}

fn ids(rows: &[serde_json::Map<String, Value>]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn the_cap_cuts_relation_streams_like_limit_and_they_resume() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = capped_app(backend, 7).await;
        let (_, body) = app.body("/api/tables/items/rows?select=id").await;
        let (rows, end) = table_ndjson(&body);
        assert_eq!(ids(&rows), (1..=7).collect::<Vec<_>>(), "{backend:?}");
        let end = end.unwrap();
        assert!(end.cut && end.rows == 7, "{backend:?}: {end:?}");
        // The token continues right after the last row, under the cap again.
        let (_, body) = app.body(&format!("/api/tables/items/rows?select=id&after={}", end.next.unwrap())).await;
        assert_eq!(ids(&table_ndjson(&body).0), (8..=14).collect::<Vec<_>>());
        // The smaller of limit and the cap.
        let (_, body) = app.body("/api/tables/items/rows?select=id&limit=3").await;
        assert_eq!(table_ndjson(&body).0.len(), 3);
        let (_, body) = app.body("/api/tables/items/rows?select=id&limit=100").await;
        assert_eq!(table_ndjson(&body).0.len(), 7);
        // Fewer rows than the cap: not cut.
        let (_, body) = app.body("/api/tables/items/rows?select=id&id=lte.7").await;
        assert_eq!(table_ndjson(&body).1, Some(EndDetail { rows: 7, cut: false, next: None }));
        // Buffered: the header; every page of 7 until the end gives all 300 rows.
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            let response =
                app.get(&format!("/api/tables/items/rows?select=id&mode=buffered{after}")).send().await.unwrap();
            let next = response.headers().get("rowstream-next").map(|v| v.to_str().unwrap().to_owned());
            let (rows, end) = table_ndjson(&response.text().await.unwrap());
            assert_eq!(next, end.unwrap().next);
            all.extend(ids(&rows));
            match next {
                Some(token) => after = format!("&after={token}"),
                None => break,
            }
        }
        assert_eq!(all, (1..=300).collect::<Vec<_>>(), "{backend:?}");
        // A view has no key to resume by: cut, without a token.
        let (_, body) = app.body("/api/tables/item_view/rows").await;
        let end = table_ndjson(&body).1.unwrap();
        assert_eq!((end.rows, end.cut, end.next), (7, true, None));
    }
}

#[tokio::test]
async fn the_cap_cuts_messages_and_says_where_to_continue() {
    for backend in ALL_BACKENDS {
        let app = capped_app(backend, 12).await;
        for mode in ["stream", "buffered"] {
            let response = app.get(&format!("/api/messages?mode={mode}")).send().await.unwrap();
            let header = response.headers().get("rowstream-next").map(|v| v.to_str().unwrap().to_owned());
            let body = response.text().await.unwrap();
            let (rows, end, error) = parse_ndjson(&body);
            assert_eq!((rows, end, error), (expected_rows(1..=12), Some(12), None), "{backend:?} {mode}");
            assert_eq!(body.lines().last(), Some(r#"{"end":{"rows":12,"cut":true,"next":"12"}}"#));
            assert_eq!(header.as_deref(), if mode == "buffered" { Some("12") } else { None });
        }
        // after= continues; the end is not a cut.
        let (_, body) = app.body("/api/messages?after=12").await;
        assert_eq!(parse_ndjson(&body).0, expected_rows(13..=24));
        let (_, body) = app.body("/api/messages?after=24").await;
        assert_eq!(parse_ndjson(&body).0, expected_rows(25..=30));
        assert_eq!(body.lines().last(), Some(r#"{"end":{"rows":6}}"#));
        // limit below the cap cuts at limit; exactly the rows that are left is no cut.
        let (_, body) = app.body("/api/messages?limit=5").await;
        assert_eq!(body.lines().last(), Some(r#"{"end":{"rows":5,"cut":true,"next":"5"}}"#));
        let (_, body) = app.body("/api/messages?after=25&limit=5").await;
        assert_eq!(body.lines().last(), Some(r#"{"end":{"rows":5}}"#));
        let (_, body) = app.body("/api/messages?limit=0").await;
        assert_eq!(body, "{\"end\":{\"rows\":0,\"cut\":true}}\n");
        // The seed's endpoints are not API streams: no cap there.
        let (_, body) = app.body("/standard").await;
        assert_eq!(body, seed_lines(1..=30));
    }
}
