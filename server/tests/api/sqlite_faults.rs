//! Faults of the embedded SQLite file:
//! - missing: created (and migrated) at start, as on a first run; a missing *directory* is a
//!   start-up failure with one clear error;
//! - read-only (`?mode=ro`: the tests run as root, which ignores file permissions, so the
//!   read-only open is what they exercise): streams work, a write (`/hit`) is a 500 JSON
//!   `database_error` saying "attempt to write a readonly database", never a panic, and the
//!   file is unchanged;
//! - locked by another writer (a connection holding `BEGIN EXCLUSIVE`): streams keep working
//!   (WAL readers), `/hit` waits out the 5 s busy timeout and answers `503 database_busy`
//!   with `Retry-After`; once the lock is gone it counts again, and nothing was lost.

use std::time::Instant;

use rowstream::startup::Application;
use sqlx::Connection as _;

use crate::helpers::*;

#[tokio::test]
async fn a_missing_file_is_created_and_a_missing_directory_is_one_clear_error() {
    let db = TestDb::new(Backend::Sqlite).await; // its file does not exist yet
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    assert!(!std::path::Path::new(&path).exists());
    let app = spawn_app_on(db, |c| c.seed_rows = 10).await;
    assert!(std::path::Path::new(&path).exists(), "the file was created");
    let (_, body) = app.body("/api/messages").await;
    assert_eq!(parse_ndjson(&body).1, Some(10), "seeded on first start");

    let mut config = app.db.config();
    config.database_url = "sqlite:///nonexistent-rowstream-dir/sub/x.db".into();
    let error = Application::build(config).await.err().expect("a missing directory fails the start");
    let text = format!("{error:#}");
    assert!(text.starts_with("cannot open the database"), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
}

#[tokio::test]
async fn a_read_only_file_serves_streams_and_refuses_writes_cleanly() {
    let db = TestDb::new(Backend::Sqlite).await;
    db.seed(100).await;
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let sizes =
        || ["", "-wal"].map(|suffix| std::fs::metadata(format!("{path}{suffix}")).map(|m| m.len()).unwrap_or(0));
    let ro_url = format!("{}?mode=ro", db.url);
    let app = spawn_app_on(db, |c| c.database_url = ro_url).await;
    let (_, body) = app.body("/api/messages").await;
    let (rows, end, error) = parse_ndjson(&body);
    assert_eq!((rows.len(), end, error), (100, Some(100), None));
    let before = sizes();
    let hit = app.client.get(app.url("/hit")).send().await.unwrap();
    let status = hit.status();
    let body = hit.text().await.unwrap();
    assert_eq!(status, 500);
    let error: shared::ErrorBody = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(error.error.code, shared::ErrorCode::DatabaseError);
    assert!(error.error.message.contains("readonly"), "{}", error.error.message);
    eprintln!("read-only /hit: {status} {}: {}", error.error.code.as_str(), error.error.message);
    assert_eq!(before, sizes(), "the read-only file changed");
    let (_, body) = app.body("/api/messages").await;
    assert_eq!(parse_ndjson(&body).1, Some(100), "every row still there");
}

#[tokio::test]
async fn a_file_locked_by_another_writer_is_a_503_then_recovers_with_nothing_lost() {
    let db = TestDb::new(Backend::Sqlite).await;
    db.seed(1000).await;
    let url = db.url.clone();
    let app = spawn_app_on(db, |_| {}).await;
    for expected in 1..=3u64 {
        let text = app.client.get(app.url("/hit")).send().await.unwrap().text().await.unwrap();
        assert!(text.contains(&expected.to_string()), "{text}");
    }

    let mut writer = sqlx::SqliteConnection::connect(&url).await.expect("second connection");
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut writer).await.expect("BEGIN EXCLUSIVE");

    // Readers are not blocked (WAL).
    let (_, body) = app.body("/api/messages").await;
    assert_eq!(parse_ndjson(&body).1, Some(1000));
    let started = Instant::now();
    let hit = app.client.get(app.url("/hit")).send().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(hit.status(), 503);
    assert!(hit.headers().get("retry-after").is_some());
    let error: shared::ErrorBody = hit.json().await.unwrap();
    assert_eq!(error.error.code, shared::ErrorCode::DatabaseBusy);

    sqlx::query("ROLLBACK").execute(&mut writer).await.expect("ROLLBACK");
    writer.close().await.expect("close");
    let text = app.client.get(app.url("/hit")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains('4'), "the count went on from 3: {text}");
    let (_, body) = app.body("/api/messages").await;
    assert_eq!(parse_ndjson(&body).0.len(), 1000, "no row lost");
    eprintln!("locked: /hit answered 503 after {waited:?} (busy timeout 5 s)");
}
