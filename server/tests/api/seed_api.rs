//! `/standard` and `/chunked`: the same bytes, complete, for every interesting size.

use crate::helpers::*;

async fn check_sizes(backend: Backend) {
    let app = spawn_app(backend, 100_000).await;
    for (limit, n) in
        [(Some(0), 0), (Some(1), 1), (Some(999), 999), (Some(1000), 1000), (Some(1001), 1001), (None, 100_000)]
    {
        let query = limit.map(|l| format!("?limit={l}")).unwrap_or_default();
        let expected = seed_lines(1..=n);

        let (headers, standard) = app.body(&format!("/standard{query}")).await;
        assert_eq!(standard, expected, "{backend:?} /standard{query}");
        assert_eq!(headers["content-length"], expected.len().to_string());
        assert!(headers.get("transfer-encoding").is_none());

        let raw = app.raw(&format!("/chunked{query}"), None).await;
        assert_eq!(raw.status, 200);
        assert_eq!(raw.header("transfer-encoding"), Some("chunked"));
        assert_eq!(raw.header("x-accel-buffering"), Some("no"));
        assert_eq!(raw.header("cache-control"), Some("no-cache"));
        assert!(raw.header("content-type").unwrap_or("").starts_with("text/plain"));
        let (chunks, complete) = raw.chunks().await;
        assert!(complete, "{backend:?} /chunked{query} must end with the terminating chunk");
        assert_eq!(String::from_utf8(chunks.concat()).unwrap(), expected, "{backend:?} /chunked{query}");
        // The first row alone, then one chunk per 1000 rows.
        let expected_chunks = if n == 0 { 0 } else { 1 + (n as usize - 1).div_ceil(1000) };
        assert_eq!(chunks.len(), expected_chunks, "{backend:?} chunks for {n} rows");
        if n > 0 {
            assert_eq!(chunks[0], b"object_id:1 \n");
        }
    }
}

#[tokio::test]
async fn standard_and_chunked_agree_on_sqlite() {
    check_sizes(Backend::Sqlite).await;
}

#[tokio::test]
async fn standard_and_chunked_agree_on_postgres() {
    check_sizes(Backend::Postgres).await;
}

#[tokio::test]
async fn standard_and_chunked_agree_on_postgres_fetch() {
    check_sizes(Backend::PostgresFetch).await;
}

#[tokio::test]
async fn an_empty_table_gives_empty_complete_bodies() {
    for backend in ALL_BACKENDS {
        let app = spawn_app(backend, 0).await;
        let (_, standard) = app.body("/standard").await;
        assert_eq!(standard, "");
        let (chunks, complete) = app.raw("/chunked", None).await.chunks().await;
        assert!(complete && chunks.is_empty(), "{backend:?}");
        let (_, ndjson) = app.body("/api/messages").await;
        assert_eq!(ndjson, "{\"end\":{\"rows\":0}}\n", "{backend:?}");
    }
}

#[tokio::test]
async fn batch_sets_the_chunk_size() {
    let app = spawn_app(Backend::Postgres, 1000).await;
    let (chunks, complete) = app.raw("/chunked?batch=100", None).await.chunks().await;
    assert!(complete);
    // 1 + 100 + … : the first row alone, then 100 rows a chunk, the rest at the end.
    assert_eq!(chunks.len(), 1 + 999usize.div_ceil(100));
    assert_eq!(chunks[1].iter().filter(|b| **b == b'\n').count(), 100);
}
