//! `wide`, the benchmarks' table of mixed types in PostgreSQL (the tables and viewer
//! benchmarks): 17 columns (int8 key, int2, int4, int8, float8, numeric, bool, text,
//! varchar, date, timestamptz, uuid, jsonb, bytea, an enum, an int4 array, a second text;
//! about 120 bytes of text a row; NULLs in eight columns), in a database of its own per row
//! count, created once and reused while its row count and version marker match.

use std::time::Instant;

use sqlx::{Connection, PgConnection};

use super::ensure_database;

/// Bumped whenever the definition of `wide` changes, so an old copy is rebuilt.
pub const WIDE_VERSION: i64 = 1;

/// `wide` in PostgreSQL: every value a pure function of the row's id. Text per row: `title`
/// about 77 bytes, `label` about 9, `note` 35 (NULL every 10th row), so about 120 bytes;
/// every 97th title has quotes and commas.
pub const PG_WIDE_DDL: &str = r#"
DROP TABLE IF EXISTS wide;
DROP TYPE IF EXISTS wide_state;
CREATE TYPE wide_state AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE wide (
    id     int8 PRIMARY KEY,
    i2     int2,
    i4     int4 NOT NULL,
    i8     int8 NOT NULL,
    f8     float8,
    amount numeric(12, 2) NOT NULL,
    flag   bool,
    title  text NOT NULL,
    label  varchar(40) NOT NULL,
    day    date NOT NULL,
    at     timestamptz NOT NULL,
    uid    uuid NOT NULL,
    meta   jsonb,
    raw    bytea,
    state  wide_state NOT NULL,
    tags   int4[],
    note   text
);
"#;

pub fn pg_wide_fill(rows: u64) -> String {
    format!(
        r#"
INSERT INTO wide
SELECT g,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 30000)::int2 END,
       (g % 100000)::int4,
       g * 1000003,
       CASE WHEN g % 17 = 0 THEN NULL ELSE (g % 100000)::float8 / 7 END,
       (((g * 37) % 10000000) / 100.0)::numeric(12, 2),
       CASE WHEN g % 5 = 0 THEN NULL ELSE g % 2 = 0 END,
       'row ' || g || ' ' || md5(g::text)
           || CASE WHEN g % 97 = 0 THEN ', "quoted", with commas' ELSE ' ' || md5((g + 1)::text) END,
       'label-' || (g % 1000),
       date '2020-01-01' + (g % 3650)::int,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' + (g % 1000) * interval '1 millisecond',
       md5(g::text || 'u')::uuid,
       CASE WHEN g % 13 = 0 THEN NULL
            ELSE jsonb_build_object('n', g % 100, 'k', 'k' || (g % 7), 'ok', g % 2 = 0) END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE decode(left(md5(g::text || 'b'), 16), 'hex') END,
       (enum_range(NULL::wide_state))[1 + (g % 4)::int],
       CASE WHEN g % 9 = 0 THEN NULL ELSE ARRAY[(g % 10)::int4, (g % 100)::int4, (g % 1000)::int4] END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'note ' || left(md5(g::text || 'n'), 30) END
FROM generate_series(1, {rows}::int8) AS g;
COMMENT ON TABLE wide IS 'rowstream bench wide v{WIDE_VERSION}';
"#
    )
}

/// The database `rowstream_bench_wide_{rows}` with `wide` of `rows` rows; built once.
pub async fn ensure_pg_wide(admin_url: &str, rows: u64) -> anyhow::Result<String> {
    let url = ensure_database(admin_url, &format!("rowstream_bench_wide_{rows}")).await?;
    let mut conn = PgConnection::connect(&url).await?;
    let marker: Option<String> = sqlx::query_scalar("SELECT obj_description(to_regclass('public.wide'), 'pg_class')")
        .fetch_one(&mut conn)
        .await?;
    let current = marker.as_deref() == Some(format!("rowstream bench wide v{WIDE_VERSION}").as_str())
        && sqlx::query_scalar::<_, i64>("SELECT count(*) FROM wide").fetch_one(&mut conn).await? == rows as i64;
    if !current {
        eprintln!("creating wide with {rows} rows in PostgreSQL (once)…");
        let started = Instant::now();
        sqlx::raw_sql(PG_WIDE_DDL).execute(&mut conn).await?;
        sqlx::raw_sql(&pg_wide_fill(rows)).execute(&mut conn).await?;
        // Hint bits and the visibility map set now, statistics fresh: no read pays for them.
        sqlx::raw_sql("VACUUM (ANALYZE) wide").execute(&mut conn).await?;
        eprintln!("  done in {:.1} s", started.elapsed().as_secs_f64());
    }
    conn.close().await?;
    Ok(url)
}
