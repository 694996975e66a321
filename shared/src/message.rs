//! The row type: one row of the `messages` table.

use std::borrow::Cow;

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

/// A row borrowed from the line it was decoded from: `sender` and `body` point into the
/// line unless they held escapes. Decoding one allocates nothing in the common case, which
/// is what the viewer's decoder needs at half a million rows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageRef<'a> {
    pub id: i64,
    #[serde(borrow)]
    pub sender: Cow<'a, str>,
    #[serde(borrow)]
    pub body: Cow<'a, str>,
    pub created_at: Timestamp,
}

impl MessageRef<'_> {
    pub fn into_owned(self) -> Message {
        Message {
            id: self.id,
            sender: self.sender.into_owned(),
            body: self.body.into_owned(),
            created_at: self.created_at,
        }
    }
}
