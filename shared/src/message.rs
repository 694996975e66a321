//! The row type: one row of the `messages` table.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// One row of `messages (id BIGINT PRIMARY KEY, sender TEXT, body TEXT, created_at TIMESTAMPTZ)`.
///
/// Serialized as `{"id":1,"sender":"…","body":"…","created_at":"2024-01-01T00:00:00Z"}`: the
/// field order is part of the wire format (a line that starts with `{"id":` is a row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub sender: String,
    pub body: String,
    pub created_at: Timestamp,
}

/// The column names, in wire order (CSV header, text format).
pub const COLUMNS: [&str; 4] = ["id", "sender", "body", "created_at"];
