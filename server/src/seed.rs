//! Deterministic test data: row `id` is always the same message, so any two databases seeded
//! with N rows hold identical tables, and tests can recompute any row with [`message`].
//!
//! PostgreSQL is filled with `COPY … FROM STDIN` in 1 MiB pieces; SQLite with multi-row
//! `INSERT`s in one transaction. Both replace what `messages` held.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use shared::{Message, Timestamp};
use sqlx::{QueryBuilder, Sqlite};

use crate::db::Database;
use crate::encode::write_copy_text;

const SENDERS: [&str; 12] =
    ["ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances", "edsger", "radia", "tolgahan", "zoë"];

const WORDS: [&str; 32] = [
    "stream",
    "rows",
    "as",
    "they",
    "are",
    "read",
    "memory",
    "stays",
    "flat",
    "the",
    "first",
    "byte",
    "arrives",
    "early",
    "batch",
    "of",
    "a",
    "thousand",
    "server",
    "client",
    "query",
    "chunk",
    "sent",
    "without",
    "waiting",
    "for",
    "whole",
    "result",
    "export",
    "everything",
    "fast",
    "now",
];

/// 2024-01-01T00:00:00Z: row `id` was created `id` seconds later.
const EPOCH_2024: i64 = 1_704_067_200;

/// SplitMix64: a tiny, well-known mixer, so the data does not depend on a RNG crate's
/// version.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The row with this id. A few rows carry the characters each format must escape
/// (quotes, commas, tabs, newlines, backslashes, non-ASCII).
pub fn message(id: i64) -> Message {
    let mut state = mix(id as u64);
    let sender = SENDERS[(state % SENDERS.len() as u64) as usize].to_owned();
    let words = 6 + (state >> 8) % 10;
    let mut body = String::with_capacity(80);
    for i in 0..words {
        state = mix(state);
        if i > 0 {
            body.push(' ');
        }
        body.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
    }
    if id % 97 == 0 {
        body.push_str(", \"quoted\", with commas");
    }
    if id % 89 == 0 {
        body.push_str("\ttabbed\\back\\slashed");
    }
    if id % 193 == 0 {
        body.push_str("\nsecond line\r\nthird — naïve café ✓");
    }
    Message { id, sender, body, created_at: Timestamp::from_unix_seconds(EPOCH_2024 + id) }
}

/// Replaces the contents of `messages` with rows 1..=rows; shows a progress bar when
/// stderr is a terminal.
pub async fn seed(db: &Database, rows: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let progress = ProgressBar::new(rows).with_style(
        ProgressStyle::with_template("seeding {bar:40.cyan/blue} {human_pos}/{human_len} rows {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    match db {
        Database::Postgres(pool, _) => {
            let mut tx = pool.begin().await?;
            sqlx::query("TRUNCATE messages").execute(&mut *tx).await?;
            let mut copy =
                tx.copy_in_raw("COPY messages (id, sender, body, created_at) FROM STDIN (FORMAT text)").await?;
            let mut buf = Vec::with_capacity(1 << 20);
            for id in 1..=rows as i64 {
                write_copy_text(&mut buf, &message(id));
                if buf.len() >= 1 << 20 {
                    copy.send(std::mem::take(&mut buf)).await?;
                    progress.set_position(id as u64);
                }
            }
            copy.send(buf).await?;
            copy.finish().await?;
            tx.commit().await?;
            // Fresh statistics, so the planner knows `id` order is the table's order.
            sqlx::query("ANALYZE messages").execute(pool).await?;
        }
        Database::Sqlite(pool, _) => {
            // 250 rows × 4 values stays far below SQLite's limit on bound parameters, and
            // every full batch reuses one prepared statement.
            const ROWS_PER_INSERT: i64 = 250;
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM messages").execute(&mut *tx).await?;
            let mut next = 1i64;
            while next <= rows as i64 {
                let last = (next + ROWS_PER_INSERT - 1).min(rows as i64);
                let mut insert: QueryBuilder<Sqlite> =
                    QueryBuilder::new("INSERT INTO messages (id, sender, body, created_at) ");
                insert.push_values((next..=last).map(message), |mut b, m| {
                    b.push_bind(m.id).push_bind(m.sender).push_bind(m.body).push_bind(m.created_at.to_string());
                });
                insert.build().execute(&mut *tx).await?;
                progress.set_position(last as u64);
                next = last + 1;
            }
            tx.commit().await?;
        }
    }
    progress.finish_and_clear();
    tracing::info!(rows, backend = db.backend_name(), elapsed = ?started.elapsed(), "seeded messages");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_deterministic_and_varied() {
        assert_eq!(message(42), message(42));
        assert_ne!(message(1).body, message(2).body);
        let special = message(97 * 89 * 193);
        assert!(special.body.contains('"') && special.body.contains('\t') && special.body.contains('\n'));
        assert_eq!(message(1).created_at.to_string(), "2024-01-01T00:00:01Z");
    }
}
