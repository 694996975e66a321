//! Everything that crosses the wire between the rowstream server and its viewer.
//!
//! This crate is compiled twice: into the server (x86_64) and into the Wasm viewer. Nothing
//! else defines a wire format, so the two sides cannot drift apart.
//!
//! Layout:
//! - [`message`]: the row type, [`Message`], one per `messages` row.
//! - [`timestamp`]: [`Timestamp`], microseconds since the Unix epoch, written as RFC 3339 UTC.
//! - [`frame`]: the NDJSON stream grammar: row lines, the `{"end":…}` trailer and the
//!   `{"error":…}` frame, and [`frame::parse_line`] to read them back.
//! - [`canonical`]: the row line in the exact form the server writes: written and read
//!   fast, checked against serde_json.
//! - [`download`]: download links (`POST /api/downloads`) for streams saved by a browser.
//! - [`error`]: the JSON error body every 4xx/5xx carries, with its stable [`ErrorCode`].
//! - [`query`]: the `/api/messages` parameters ([`Format`], [`Mode`], [`MessagesQuery`]).
//! - [`schema`]: the served relations: [`Relation`], [`Column`], the typed [`ColumnType`].
//! - [`table_row`]: a relation's row line read value by value for any schema
//!   ([`RowReader`]), and the column keys as the server writes them ([`row_key`]).
//! - [`saved_query`]: [`SavedQuery`] (`GET /api/queries`) and [`SqlRequest`] (`POST /api/sql`).

pub mod canonical;
pub mod download;
pub mod error;
pub mod frame;
pub mod message;
pub mod query;
pub mod saved_query;
pub mod schema;
pub mod table_row;
pub mod timestamp;

pub use download::{DownloadLink, DownloadRequest, DOWNLOAD_LINK_SECONDS, DOWNLOAD_PARAM};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use frame::{
    is_control_line, parse_line, parse_line_borrowed, parse_table_line, EndDetail, Frame, FrameError, StreamEnd,
    TableFrame,
};
pub use message::{Message, MessageRef};
pub use query::{quote_column, Format, MessagesQuery, Mode, RowSource, RowsQuery, SortItem, BATCH_MAX};
pub use saved_query::{QueryParam, SavedQuery, SqlRequest};
pub use schema::{Column, ColumnType, Relation, RelationKind};
pub use table_row::{row_key, RowError, RowReader, RowSink, RowValue};
pub use timestamp::{Timestamp, TimestampError};
