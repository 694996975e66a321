//! Start-up: seeding an empty embedded database once, and serving a PostgreSQL table that
//! rowstream did not create.

use sqlx::Connection as _;

use crate::helpers::*;

#[tokio::test]
async fn an_empty_embedded_database_is_seeded_on_first_start_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = rowstream::config::Config {
        addr: ([127, 0, 0, 1], 0).into(),
        database_url: format!("sqlite://{}", dir.path().join("first.db").display()),
        seed_rows: 1234,
        ..rowstream::config::Config::default()
    };
    let app = rowstream::startup::Application::build(config.clone()).await.unwrap();
    assert!(app.generated_token.is_some(), "no secret configured: serve makes one");
    let count = |app: &rowstream::startup::Application| {
        let rowstream::db::Database::Sqlite(pool, _) = app.database().clone() else { panic!("sqlite") };
        async move { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM messages").fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(count(&app).await, 1234);
    app.database().close().await;
    drop(app);
    // A second start on the same file finds rows and leaves them alone.
    let app =
        rowstream::startup::Application::build(rowstream::config::Config { seed_rows: 99, ..config }).await.unwrap();
    assert_eq!(count(&app).await, 1234);
}

#[tokio::test]
async fn serves_an_existing_postgres_table_it_did_not_create() {
    let db = TestDb::new(Backend::Postgres).await;
    let mut pg = db.pg().await;
    // Narrower types than ours (integer, timestamp without zone): read through casts.
    sqlx::query("CREATE TABLE messages (id integer PRIMARY KEY, sender varchar(40) NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL)")
        .execute(&mut pg)
        .await
        .unwrap();
    sqlx::query("INSERT INTO messages SELECT g, 'user' || g, 'hello ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, 2500) g")
        .execute(&mut pg)
        .await
        .unwrap();
    pg.close().await.unwrap();
    let schema = db.schema.clone().unwrap();
    let app = spawn_app_on(db, |_| {}).await;
    let (_, body) = app.body("/api/messages?after=2490").await;
    let (rows, end, _) = parse_ndjson(&body);
    assert_eq!(end, Some(10));
    assert_eq!(rows[0].sender, "user2491");
    assert_eq!(rows[0].created_at.to_string(), "2024-01-01T00:41:31Z");
    let (_, standard) = app.body("/standard").await;
    assert_eq!(standard, seed_lines(1..=2500));
    let mut pg = app.db.pg().await;
    let migrations: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
        .bind(format!("{schema}._sqlx_migrations"))
        .fetch_one(&mut pg)
        .await
        .unwrap();
    assert_eq!(migrations, None, "rowstream must not add tables to a database it only reads");
}
