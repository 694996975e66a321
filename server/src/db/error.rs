//! [`RowStreamError`]: how reading rows fails. `sqlx::Error` stays inside `db` as this
//! error's source; the HTTP layer sees only this type.
//!
//! The database's refusals that are the request's doing are told apart here, by SQLSTATE
//! (PostgreSQL) or result code (SQLite): a write in a read-only transaction or on a
//! read-only connection ([`Refusal::ReadOnly`]), a privilege the request's role lacks
//! ([`Refusal::Permission`]).

use crate::source::BadRequest;

/// A statement the database refused for what it is, not for a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It would write (PostgreSQL 25006 `read_only_sql_transaction`, SQLite
    /// `SQLITE_READONLY`).
    ReadOnly,
    /// The role may not read it (PostgreSQL 42501 `insufficient_privilege`).
    Permission,
}

#[derive(Debug, thiserror::Error)]
pub enum RowStreamError {
    /// The database failed the statement (or the connection broke).
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The database refused the statement; nothing was written.
    #[error("{message}")]
    Refused { refusal: Refusal, message: String },
    /// The request's role (`--jwt-role-claim`) does not exist or may not be assumed.
    #[error("role {role:?} cannot be assumed: {message}")]
    ForbiddenRole { role: String, message: String },
    /// SQL the database cannot prepare as written (syntax, unknown names or types).
    #[error("{0}")]
    BadSql(String),
    /// A value came back in a form its column's type does not have.
    #[error("cannot decode column {column:?}: {message}")]
    Decode { column: String, message: String },
    /// A parameter the database found malformed (checked before the query ran).
    #[error("{0}")]
    BadValue(#[source] BadRequest),
    /// PostgreSQL's binary COPY data did not have the form asked for.
    #[error("database error: {0}")]
    Copy(#[from] super::copy_binary::CopyDecodeError),
    /// SQLite's read path ([`super::sqlite_read`]) failed the statement.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// SQLite's read thread ended without finishing its statement (it panicked).
    #[error("database error: the read thread ended before the last row")]
    ReadThread,
    /// No connection came within the acquire timeout, or SQLite's file stayed locked by a
    /// writer past its busy timeout: nothing ran; retrying later works.
    #[error("every database connection is busy; try again shortly")]
    Busy,
}

impl RowStreamError {
    /// Whether the database says a relation or column the catalog named is gone (SQLSTATE
    /// 42P01 undefined_table, 42703 undefined_column): the catalog is out of date.
    pub fn is_schema_drift(&self) -> bool {
        matches!(self, RowStreamError::Database(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P01" | "42703")))
    }
}

impl From<rusqlite::Error> for RowStreamError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ReadOnly) => {
                RowStreamError::Refused { refusal: Refusal::ReadOnly, message: error.to_string() }
            }
            _ => RowStreamError::Sqlite(error),
        }
    }
}

impl From<sqlx::Error> for RowStreamError {
    fn from(error: sqlx::Error) -> Self {
        if matches!(error, sqlx::Error::PoolTimedOut) {
            return RowStreamError::Busy;
        }
        if let sqlx::Error::Database(e) = &error {
            // SQLite's SQLITE_BUSY (and its extended codes) after the busy timeout.
            if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && matches!(e.code().as_deref(), Some("5" | "261" | "517" | "773"))
            {
                return RowStreamError::Busy;
            }
            let code = e.code().unwrap_or_default();
            let read_only = if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_READONLY and its extended codes.
                code.parse::<u32>().is_ok_and(|c| c & 0xff == 8)
            } else {
                code == "25006"
            };
            let refusal = if read_only {
                Some(Refusal::ReadOnly)
            } else if code == "42501" {
                Some(Refusal::Permission)
            } else {
                None
            };
            if let Some(refusal) = refusal {
                return RowStreamError::Refused { refusal, message: e.message().to_owned() };
            }
        }
        RowStreamError::Database(error)
    }
}
