//! The schema migrations, embedded in the binary: the SQL files under `server/migrations/`,
//! read at compile time with `include_str!` and run by sqlx's [`Migrator`].
//!
//! sqlx's `migrate!` macro would do the same, but it needs sqlx's `macros` feature, whose
//! proc-macro crate builds sqlx and SQLite a second time for the host in every profile.
//! The checksums are the same as the macro's (SHA-384 of each file), so databases migrated
//! by either agree.

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// One migration file: its version (the file name's number), description and SQL.
type File = (i64, &'static str, &'static str);

const POSTGRES: &[File] = &[(
    20260101000000,
    "create messages",
    include_str!("../../migrations/postgres/20260101000000_create_messages.sql"),
)];

const SQLITE: &[File] = &[
    (20260101000000, "create messages", include_str!("../../migrations/sqlite/20260101000000_create_messages.sql")),
    (20260401000000, "create hits", include_str!("../../migrations/sqlite/20260401000000_create_hits.sql")),
];

#[derive(Debug)]
struct Embedded(&'static [File]);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        let migrations = self
            .0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, Cow::Borrowed(*sql), false)
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

pub async fn postgres() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(POSTGRES)).await
}

pub async fn sqlite() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(SQLITE)).await
}

#[cfg(test)]
mod tests {
    /// Every file under `server/migrations/` is embedded, and nothing else.
    #[test]
    fn every_migration_file_is_embedded() {
        for (dir, files) in [("postgres", super::POSTGRES), ("sqlite", super::SQLITE)] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
            let mut on_disk: Vec<String> = std::fs::read_dir(&path)
                .expect("migrations dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            on_disk.sort();
            let embedded: Vec<String> =
                files.iter().map(|(v, d, _)| format!("{v}_{}.sql", d.replace(' ', "_"))).collect();
            assert_eq!(on_disk, embedded, "{dir}");
        }
    }
}
