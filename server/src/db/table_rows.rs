//! Any relation's rows as a `Stream` that owns its pooled connection, like
//! [`super::rows::stream_rows`] does for `messages`: the same head query / bulk query split
//! (the first row is read by a query of its own, the rest by one that resumes strictly
//! after it), the same close-on-drop, here over the statements of [`crate::source::query`].
//!
//! On PostgreSQL both queries run in one `REPEATABLE READ READ ONLY` transaction; on SQLite
//! the stream is one statement (no head/bulk split) on a read connection of
//! [`super::sqlite_read`]: either way the stream reads one snapshot. A stream dropped
//! before its end closes its connection, which ends the transaction with it.
//!
//! The stream yields the rows as read, in blocks ([`Part::Rows`] of [`Row`]s; [`Plan::read`]:
//! the requested columns, then any sort column not requested), then one [`Part::End`] that
//! says whether `limit` cut the rows short and, if it did, the token that continues after
//! the last row sent.
//! [`super::resume::ResumableRows`] keeps the sort-column values of the last row, sends
//! only the requested cells, and resumes there after a park. Relations without a primary
//! key are read by a single query.

use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use shared::ColumnType;
use sqlx::postgres::PgRow;
use sqlx::{Row as _, ValueRef};

use super::copy_binary::Tuple;
use super::error::RowStreamError;
use super::pg_decode::{self, DecodeError};
use super::rows::CloseUnlessFinished;
use super::{read, Connection};
use crate::cell::Cell;
use crate::source::keyset::{self, Key};
use crate::source::query::Plan;
use crate::source::role::Role;
use crate::source::{BadRequest, Bind, Param, Statement};

/// What a relation's row stream yields.
#[derive(Debug, Clone)]
pub enum TableItem {
    /// One row, in `select` order (from [`stream_table`]: the read cells, the requested
    /// ones first).
    Row(Row),
    /// The last item of a complete stream.
    End { cut: bool, next: Option<String> },
}

/// What [`stream_table`] and `read::StatementReader::rows` yield: the rows read together
/// (one or more, at most [`BLOCK_ROWS`]; see [`fetch`]), then the end. Passing rows on in
/// blocks takes the layers a row passes from once a row to once a block;
/// [`super::resume::ResumableRows`] and `StatementReader::rows` hand them on one
/// [`TableItem`] at a time.
#[derive(Debug)]
pub enum Part {
    Rows(Vec<Row>),
    End { cut: bool, next: Option<String> },
}

/// A stream of parts as one [`TableItem`] a row.
pub(super) fn one_item_a_row(
    parts: impl Stream<Item = Result<Part, RowStreamError>>,
) -> impl Stream<Item = Result<TableItem, RowStreamError>> {
    parts
        .map_ok(|part| {
            futures_util::stream::iter(match part {
                Part::Rows(rows) => rows.into_iter().map(|row| Ok(TableItem::Row(row))).collect(),
                Part::End { cut, next } => vec![Ok(TableItem::End { cut, next })],
            })
        })
        .try_flatten()
}

/// The rows a read has at hand, as [`fetch`] yields them, and the error that ends the read
/// after them, if one did (nothing follows an error).
#[derive(Debug)]
pub struct Block {
    pub rows: Vec<Row>,
    pub error: Option<RowStreamError>,
}

impl Block {
    /// A block of one row, or of the error that ends the read.
    fn one(result: Result<Row, RowStreamError>) -> Block {
        match result {
            Ok(row) => Block { rows: vec![row], error: None },
            Err(error) => Block { rows: Vec::new(), error: Some(error) },
        }
    }
}

/// Most rows in a [`Block`].
pub const BLOCK_ROWS: usize = 256;

/// One row as read: decoded cells (SQLite, sqlx `fetch`), or a binary COPY row as it came,
/// decoded by its writer (`crate::wire`) by the columns' types, into cells or straight
/// into its own buffers (Arrow), so nothing decodes a value twice.
#[derive(Debug, Clone)]
pub enum Row {
    Cells(Vec<Cell>),
    Copy(Tuple),
}

impl Row {
    /// The first `types.len()` cells, decoded by `types` into `scratch` when they are not
    /// cells yet; a value that does not decode is an error with its column's index.
    pub fn cells<'a>(
        &'a self,
        types: &[ColumnType],
        scratch: &'a mut Vec<Cell>,
    ) -> Result<&'a [Cell], (usize, DecodeError)> {
        match self {
            Row::Cells(cells) => Ok(cells),
            Row::Copy(tuple) => {
                scratch.clear();
                for (i, (field, ty)) in tuple.fields().zip(types).enumerate() {
                    scratch.push(match field {
                        None => Cell::Null,
                        Some(bytes) => pg_decode::decode(ty, bytes).map_err(|error| (i, error))?,
                    });
                }
                Ok(scratch)
            }
        }
    }

    /// The cells at `slots` (the sort keys of the row); `types` are the read columns'.
    pub fn cells_at(&self, slots: &[usize], types: &[ColumnType]) -> Vec<Cell> {
        match self {
            Row::Cells(cells) => slots.iter().map(|s| cells.get(*s).cloned().unwrap_or(Cell::Null)).collect(),
            Row::Copy(tuple) => {
                let fields: Vec<Option<&[u8]>> = tuple.fields().collect();
                slots
                    .iter()
                    .map(|s| match (fields.get(*s), types.get(*s)) {
                        (Some(field), Some(ty)) => field_cell(*field, ty),
                        _ => Cell::Null,
                    })
                    .collect()
            }
        }
    }

    /// Keeps the first `visible` cells (a COPY row is cut by its writer, which reads only
    /// its columns' fields).
    pub fn truncate(&mut self, visible: usize) {
        if let Row::Cells(cells) = self {
            cells.truncate(visible);
        }
    }
}

/// A COPY field as a cell; NULL if it does not decode (its writer fails the stream on it
/// before a resume could use it).
fn field_cell(field: Option<&[u8]>, ty: &ColumnType) -> Cell {
    field.and_then(|bytes| pg_decode::decode(ty, bytes).ok()).unwrap_or(Cell::Null)
}

/// Streams the rows `plan` describes over `connection`, as `role` when given.
pub(super) fn stream_table(
    connection: Connection,
    plan: Plan,
    role: Option<Role>,
) -> impl Stream<Item = Result<Part, RowStreamError>> + Send + 'static {
    async_stream::try_stream! {
        let mut connection = CloseUnlessFinished::new(connection);
        let types = plan.read_types();
        let checked: Vec<Param> = plan.checked_params().into_iter().cloned().collect();
        if let Err(error) = check_params(connection.get_mut(), &checked).await {
            if matches!(error, RowStreamError::BadValue(_)) {
                connection.finished(); // nothing is pending on the connection
            }
            Err(error)?;
        }
        let limit = plan.request.limit;
        let keyed = plan.request.keyed();
        if let Err(error) = read::begin(connection.get_mut(), role.as_ref()).await {
            if matches!(error, RowStreamError::ForbiddenRole { .. }) {
                connection.finished(); // rolled back: the connection is clean
            }
            Err(error)?;
        }
        // The head/bulk split needs one transaction around both queries (PostgreSQL); on
        // SQLite one statement reads one snapshot, and its first row goes out alone anyway.
        let mut head = keyed && connection.get_mut().spans_statements();
        let mut after: Option<Vec<Option<Param>>> = plan.request.after.clone();
        let mut sent: u64 = 0;
        let mut cut = false;
        let mut last_keys: Vec<Cell> = Vec::new();
        loop {
            // One more row than wanted tells whether `limit` cut the result.
            let query_limit = if head {
                Some(if limit == Some(1) { 2 } else { 1 })
            } else {
                limit.map(|l| l - sent + 1)
            };
            // One row: a statement the connection keeps prepared answers it sooner than a
            // COPY planned afresh.
            let statement = match query_limit {
                Some(rows) if head => plan.head(after.as_deref(), rows),
                _ => plan.statement(after.as_deref(), query_limit),
            };
            {
                let mut blocks = fetch(connection.get_mut(), &statement, &types);
                while let Some(block) = blocks.next().await {
                    let (rows, failed) = within_limit(block, limit, &mut sent, &mut cut, |row, number| {
                        // Keys are kept only where a resume can start: after the head row (the
                        // bulk query), and after the row that `limit` may cut the stream at.
                        if keyed && (head || limit == Some(number)) {
                            last_keys = row.cells_at(&plan.key_slots, &types);
                        }
                    });
                    if !rows.is_empty() {
                        yield Part::Rows(rows);
                    }
                    if let Some(error) = failed {
                        Err(error)?;
                    }
                }
            }
            if !head || sent == 0 || cut || limit == Some(sent) {
                break;
            }
            // The bulk query: strictly after the head row.
            head = false;
            after = Some(key_params(&plan, &last_keys).map_err(RowStreamError::BadValue)?);
        }
        read::commit(connection.get_mut()).await?;
        connection.finished();
        let next = (cut && keyed && sent > 0).then(|| {
            let keys = last_keys.iter().map(Key::of).collect();
            keyset::encode(&plan.request, keys)
        });
        yield Part::End { cut, next };
    }
}

/// The rows of `block` that `limit` still wants (`sent` counts them; a row past `limit` sets
/// `cut`), each shown to `each` with its number (1 for the first row of the stream); and the
/// error that ended the block, if one did.
pub(super) fn within_limit(
    block: Block,
    limit: Option<u64>,
    sent: &mut u64,
    cut: &mut bool,
    mut each: impl FnMut(&Row, u64),
) -> (Vec<Row>, Option<RowStreamError>) {
    let Block { mut rows, error } = block;
    if let Some(limit) = limit {
        let wanted = usize::try_from(limit.saturating_sub(*sent)).unwrap_or(usize::MAX);
        if rows.len() > wanted {
            rows.truncate(wanted);
            *cut = true;
        }
    }
    for row in &rows {
        *sent += 1;
        each(row, *sent);
    }
    (rows, error)
}

pub(super) fn key_params(plan: &Plan, keys: &[Cell]) -> Result<Vec<Option<Param>>, BadRequest> {
    let req = &plan.request;
    req.order
        .iter()
        .zip(keys)
        .map(|(key, cell)| keyset::param(req.dialect, &req.table, key.column, Key::of(cell)))
        .collect()
}

/// Lets PostgreSQL parse a request's text parameters once (`SELECT CAST($1 AS date), …`)
/// before anything runs; a value it rejects is a 400 naming its parameter.
pub(super) async fn check_params(connection: &mut Connection, params: &[Param]) -> Result<(), RowStreamError> {
    let Connection::Postgres(conn, _) = connection else {
        return Ok(());
    };
    if params.is_empty() {
        return Ok(());
    }
    let params: Vec<&Param> = params.iter().collect();
    let all = Plan::check_statement(&params);
    match bind_pg(sqlx::query(&all.sql), &all.params).execute(&mut **conn).await {
        Ok(_) => return Ok(()),
        Err(error) if is_data_error(&error) => {}
        Err(error) => return Err(error.into()),
    }
    for p in params {
        let one = Plan::check_statement(&[p]);
        if let Err(error) = bind_pg(sqlx::query(&one.sql), &one.params).execute(&mut **conn).await {
            if is_data_error(&error) {
                let reason = match &error {
                    sqlx::Error::Database(e) => e.message().to_owned(),
                    other => other.to_string(),
                };
                return Err(RowStreamError::BadValue(BadRequest::new(&p.origin, format!("{}: {reason}", p.origin))));
            }
            return Err(error.into());
        }
    }
    Ok(())
}

/// SQLSTATE class 22 (data exception: invalid input syntax, out of range, …).
fn is_data_error(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().is_some_and(|c| c.starts_with("22")))
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_pg<'q>(mut query: PgQuery<'q>, params: &[Param]) -> PgQuery<'q> {
    for p in params {
        query = match &p.bind {
            Bind::Bool(v) => query.bind(*v),
            Bind::I16(v) => query.bind(*v),
            Bind::I32(v) => query.bind(*v),
            Bind::I64(v) => query.bind(*v),
            Bind::F32(v) => query.bind(*v),
            Bind::F64(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.clone()),
            Bind::Bytes(v) => query.bind(v.clone()),
            Bind::Null => query.bind(None::<String>),
        };
    }
    query
}

/// Runs one statement and yields its rows as they arrive: binary COPY in blocks of the rows
/// at hand, decoded cells (sqlx `fetch`, SQLite) one a block. Cells are allocated when made:
/// a block of 256 rows of them alive at once made SQLite's 1M-row NDJSON stream take 25 %
/// longer than one row at a time (more memory touched between making and writing a row).
pub(super) fn fetch<'c>(
    connection: &'c mut Connection,
    statement: &'c Statement,
    types: &'c [ColumnType],
) -> BoxStream<'c, Block> {
    match connection {
        Connection::Postgres(conn, read) => match statement.copy.as_deref() {
            // Binary COPY with the values as literals, unless the pool reads with `fetch`.
            Some(copy) if read.uses_copy() => super::pg_copy::rows(conn, copy, types),
            _ => bind_pg(sqlx::query(&statement.sql), &statement.params)
                .bind(statement.limit) // NULL: no limit
                .fetch(&mut **conn)
                .map(move |row| decode_pg(&row?, types).map(Row::Cells))
                .map(Block::one)
                .boxed(),
        },
        Connection::Sqlite(_, reads) => reads
            .rows(
                statement.sql.clone(),
                statement.params.iter().map(|p| p.bind.clone()).collect(),
                statement.limit.unwrap_or(-1),
            ) // -1: no limit
            .map_ok(Row::Cells)
            .map(Block::one)
            .boxed(),
    }
}

fn decode_pg(row: &PgRow, types: &[ColumnType]) -> Result<Vec<Cell>, RowStreamError> {
    let mut cells = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().enumerate() {
        let value = row.try_get_raw(i)?;
        if value.is_null() {
            cells.push(Cell::Null);
            continue;
        }
        let decoded = value
            .as_bytes()
            .map_err(|e| e.to_string())
            .and_then(|bytes| pg_decode::decode(ty, bytes).map_err(|e| e.to_string()));
        cells.push(decoded.map_err(|message| RowStreamError::Decode { column: column_name(row, i), message })?);
    }
    Ok(cells)
}

fn column_name<R: sqlx::Row>(row: &R, i: usize) -> String {
    use sqlx::Column as _;
    row.columns().get(i).map(|c| c.name().to_owned()).unwrap_or_else(|| i.to_string())
}
