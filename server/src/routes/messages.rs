//! `GET /api/messages`: the real API. `mode=stream|buffered`,
//! `format=ndjson|csv|json|text|arrow` (or `Accept`), `limit`, `after` (keyset resume),
//! `batch`. A stream cut by `limit` or `--max-rows` says so (trailer `cut`, `next`; buffered:
//! the `rowstream-next` header).
//!
//! NDJSON, CSV, JSON and text go through the `messages` encoder (`crate::encode`); Arrow
//! through `wire::TableEncoder`, with the table's columns typed as below.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::TryStreamExt;
use shared::{Column, ColumnType, Format, Message, Mode};

use super::AppState;
use crate::auth::RequestRole;
use crate::body;
use crate::cell::{Cell, POSTGRES_EPOCH_MICROS};
use crate::db::resume::resumable_messages;
use crate::db::rows::{MessageItem, RowRange};
use crate::db::table_rows::TableItem;
use crate::encode::{BodyFormat, Encoder};
use crate::error::AppError;
use crate::params::parse_api;
use crate::wire::TableEncoder;

pub async fn messages(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    role: RequestRole,
) -> Result<Response, AppError> {
    let params = parse_api(query.as_deref(), &headers)?;
    let range = RowRange { after: params.range.after, limit: state.row_limit(params.range.limit) };
    let connection = state.db.acquire().await?;
    let rows = resumable_messages(state.db.clone(), connection, range, role.0).await?;
    let batch = params.batch.unwrap_or(state.batch_size);
    let settings = state.stream_settings();
    if params.format == Format::Arrow {
        let rows = rows.map_ok(table_item);
        let (columns, key) = (columns(), ["id".to_owned()]);
        let encoder = move |capacity| TableEncoder::new(Format::Arrow, &columns, &key, batch, capacity);
        return match params.mode {
            Mode::Stream => body::streamed_with(rows, encoder, batch, &settings).await,
            Mode::Buffered => body::buffered_with(rows, encoder, &settings).await,
        };
    }
    let format = BodyFormat::Api(params.format);
    let encoder = move |capacity| Encoder::new(format, capacity);
    match params.mode {
        Mode::Stream => body::streamed_with(rows, encoder, batch, &settings).await,
        Mode::Buffered => body::buffered_with(rows, encoder, &settings).await,
    }
}

/// The `messages` columns as `/api/messages` sends them (whatever the backend stores).
fn columns() -> Vec<Column> {
    let column = |name: &str, column_type, sql_type: &str| Column {
        name: name.into(),
        column_type,
        nullable: false,
        sql_type: sql_type.into(),
    };
    vec![
        column("id", ColumnType::Int8, "bigint"),
        column("sender", ColumnType::Text, "text"),
        column("body", ColumnType::Text, "text"),
        column("created_at", ColumnType::Timestamptz, "timestamp with time zone"),
    ]
}

/// A `messages` item as the cells of [`columns`].
fn table_item(item: MessageItem) -> TableItem {
    match item {
        MessageItem::Row(Message { id, sender, body, created_at }) => TableItem::Row(vec![
            Cell::Int(id),
            Cell::Text(sender),
            Cell::Text(body),
            Cell::Timestamptz(created_at.0.saturating_sub(POSTGRES_EPOCH_MICROS)),
        ]),
        MessageItem::End { cut, next } => TableItem::End { cut, next: next.map(|id| id.to_string()) },
    }
}
