//! [`RowStreamError`]: how reading a relation's rows fails. `sqlx::Error` stays inside `db`
//! as this error's source; the HTTP layer sees only this type.

use crate::source::BadRequest;

#[derive(Debug, thiserror::Error)]
pub enum RowStreamError {
    /// The database failed the statement (or the connection broke).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A value came back in a form its column's type does not have.
    #[error("cannot decode column {column:?}: {message}")]
    Decode { column: String, message: String },
    /// A parameter the database found malformed (checked before the query ran).
    #[error("{0}")]
    BadValue(#[source] BadRequest),
}
