//! Apache Arrow IPC *stream* format (`format=arrow`, `application/vnd.apache.arrow.stream`),
//! written with the arrow crates: the schema message first ([`ArrowStream::begin`]), then
//! one record batch per chunk ([`ArrowStream::take`]: the rows appended since the last take,
//! and at most `batch` rows a batch, so a buffered body has batches of `batch` rows too),
//! and the end-of-stream marker only in [`ArrowStream::end`], i.e. only when every row was
//! read. A stream that fails after its status line is aborted by `crate::body` and never
//! gets the marker, so every Arrow reader sees it as cut short.
//!
//! Column types ([`data_type`]):
//!
//! | column | Arrow |
//! |---|---|
//! | int2 / int4 / int8 | Int16 / Int32 / Int64 |
//! | float4 / float8 | Float32 / Float64 (NaN, ±Infinity as themselves) |
//! | numeric | Utf8 holding the exact digits (`NaN`, `Infinity` as text): PostgreSQL's unconstrained numeric has no fixed scale, and a Decimal128 would lose digits past 38 |
//! | bool | Boolean |
//! | text, varchar, char, enums, unsupported types | Utf8 (the text form) |
//! | bytea | Binary |
//! | date | Date32 (days since 1970); `infinity` / `-infinity` are `i32::MAX` / `i32::MIN` |
//! | time | Time64(µs) |
//! | timestamp / timestamptz | Timestamp(µs) / Timestamp(µs, "UTC"); ±infinity are `i64::MAX` / `i64::MIN`, as are the last 29 years of PostgreSQL's range (past 294247-01-10, where Arrow's µs since 1970 end) |
//! | interval | Interval(MonthDayNano); a time part beyond ±292 years is carried into days (24 h each) |
//! | uuid | FixedSizeBinary(16) with the canonical extension `arrow.uuid` |
//! | json, jsonb | Utf8 with the canonical extension `arrow.json` |
//! | arrays | List of the element's type (items nullable); more dimensions are flattened in row-major order |
//! | SQLite `INTEGER PRIMARY KEY` (the rowid) | Int64 |
//! | any other SQLite column | Utf8: the value's text form, whatever its storage class (integers as digits, reals as the shortest text that reads back, blobs as `\x…` hex), because SQLite lets any column hold any class and the schema is sent before the first row |
//!
//! Every field carries its database type in the metadata key `rowstream.sql_type`, and is
//! nullable exactly when the column is.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, FixedSizeBinaryBuilder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, IntervalMonthDayNanoBuilder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::IntervalMonthDayNanoType;
use arrow_array::{ArrayRef, ListArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, DataType, Field, FieldRef, IntervalUnit, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use shared::{Column, ColumnType};

use crate::cell::{Cell, POSTGRES_EPOCH_MICROS};
use crate::db::copy_binary::Tuple;
use crate::db::pg_decode::{self, CellRef, DecodeError};
use crate::db::pg_numeric::Numeric;
use crate::db::table_rows::Row;

/// Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const POSTGRES_EPOCH_DAYS: i32 = 10_957;

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// Most bytes of string or binary data (and most list items) one batch holds: Arrow's
/// `Utf8`, `Binary` and `List` have 32-bit offsets.
const MAX_BATCH_DATA: usize = i32::MAX as usize;

/// The field metadata key holding the column's database type.
pub const SQL_TYPE_KEY: &str = "rowstream.sql_type";

const EXTENSION_NAME: &str = "ARROW:extension:name";
const EXTENSION_METADATA: &str = "ARROW:extension:metadata";

/// The Arrow schema of `columns`; `primary_key` tells which SQLite column is the rowid.
pub fn schema(columns: &[Column], primary_key: &[String]) -> Schema {
    Schema::new(columns.iter().map(|c| field(c, primary_key)).collect::<Vec<_>>())
}

fn field(column: &Column, primary_key: &[String]) -> Field {
    let ty = data_type(&column.column_type, crate::introspect::is_sqlite_rowid(column, primary_key));
    let mut metadata = extension(&column.column_type);
    metadata.insert(SQL_TYPE_KEY.to_owned(), column.sql_type.clone());
    Field::new(&column.name, ty, column.nullable).with_metadata(metadata)
}

/// The canonical extension type a column's Arrow type carries, if any.
fn extension(ty: &ColumnType) -> HashMap<String, String> {
    let name = match ty {
        ColumnType::Uuid => "arrow.uuid",
        ColumnType::Json | ColumnType::Jsonb => "arrow.json",
        _ => return HashMap::new(),
    };
    HashMap::from([(EXTENSION_NAME.to_owned(), name.to_owned()), (EXTENSION_METADATA.to_owned(), String::new())])
}

/// The Arrow type of a column (see the table in the module doc).
pub fn data_type(ty: &ColumnType, sqlite_rowid: bool) -> DataType {
    match ty {
        ColumnType::Int2 => DataType::Int16,
        ColumnType::Int4 => DataType::Int32,
        ColumnType::Int8 => DataType::Int64,
        ColumnType::Float4 => DataType::Float32,
        ColumnType::Float8 => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Bytea => DataType::Binary,
        ColumnType::Date => DataType::Date32,
        ColumnType::Time => DataType::Time64(TimeUnit::Microsecond),
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        ColumnType::Uuid => DataType::FixedSizeBinary(16),
        ColumnType::Array(element) => {
            let mut item = Field::new("item", data_type(element, false), true);
            let metadata = extension(element);
            if !metadata.is_empty() {
                item = item.with_metadata(metadata);
            }
            DataType::List(Arc::new(item))
        }
        ColumnType::SqliteInteger if sqlite_rowid => DataType::Int64,
        ColumnType::Numeric
        | ColumnType::Text
        | ColumnType::Json
        | ColumnType::Jsonb
        | ColumnType::Enum { .. }
        | ColumnType::Other(_)
        | ColumnType::SqliteInteger
        | ColumnType::SqliteReal
        | ColumnType::SqliteText
        | ColumnType::SqliteBlob
        | ColumnType::SqliteNumeric => DataType::Utf8,
    }
}

/// One response's Arrow stream: column builders for the batch being filled, and the IPC
/// writer that turns finished batches into bytes.
pub struct ArrowStream {
    schema: SchemaRef,
    builders: Vec<Builder>,
    writer: Option<StreamWriter<Vec<u8>>>,
    capacity: usize,
    /// Rows a batch holds at most.
    batch: usize,
    /// Rows in the batch being filled.
    rows_in_batch: usize,
    /// String, binary and list-item data in the batch being filled (an upper bound for
    /// each column's offsets).
    data_in_batch: usize,
    scratch: String,
    /// Whether a column holds `numeric`s (known at the first COPY row).
    numeric: Option<bool>,
    /// Set when the stream can no longer be written correctly: it then never gets its
    /// end-of-stream marker, so no reader takes it for complete.
    broken: bool,
}

impl ArrowStream {
    pub fn new(schema: Schema, batch: u32, capacity: usize) -> ArrowStream {
        let builders = schema.fields().iter().map(|f| Builder::new(f.data_type())).collect();
        ArrowStream {
            schema: Arc::new(schema),
            builders,
            writer: None,
            capacity,
            batch: (batch as usize).max(1),
            rows_in_batch: 0,
            data_in_batch: 0,
            scratch: String::new(),
            numeric: None,
            broken: false,
        }
    }

    /// Writes the schema message.
    pub fn begin(&mut self) {
        match StreamWriter::try_new(Vec::with_capacity(self.capacity), &self.schema) {
            Ok(writer) => self.writer = Some(writer),
            Err(error) => self.fail(&error),
        }
    }

    /// Appends one row, its values of the types `types` (the columns'); a full batch is
    /// written at once. A value that does not decode is an error with its column's index
    /// (the stream fails, and never gets its end-of-stream marker).
    pub fn row(&mut self, row: &Row, types: &[ColumnType]) -> Result<(), (usize, DecodeError)> {
        let tuple = match row {
            Row::Cells(cells) => {
                self.row_cells(cells);
                return Ok(());
            }
            Row::Copy(tuple) => tuple,
        };
        // Each field's bytes and length prefix: more than the data it adds, but for a
        // `numeric`, whose text can be much longer than its digits.
        let numeric = *self.numeric.get_or_insert_with(|| types.iter().any(has_numeric));
        let numeric_text = match numeric {
            false => 0,
            true => numeric_text_bound(tuple, types),
        };
        self.start_row(tuple.size().saturating_add(numeric_text));
        let mut fits = true;
        let mut fields = tuple.fields();
        for (i, (builder, ty)) in self.builders.iter_mut().zip(types).enumerate() {
            fits &= match fields.next().flatten() {
                None => {
                    builder.append_null();
                    true
                }
                Some(bytes) => match pg_decode::decode_ref(ty, bytes) {
                    Ok(value) => builder.append_ref(value, &mut self.scratch),
                    Err(error) => {
                        self.broken = true;
                        return Err((i, error));
                    }
                },
            };
        }
        self.end_row(fits);
        Ok(())
    }

    /// Appends one row's cells; a full batch is written at once.
    pub fn row_cells(&mut self, cells: &[Cell]) {
        self.start_row(cells.iter().map(data_size).sum());
        let mut fits = true;
        for (i, builder) in self.builders.iter_mut().enumerate() {
            let cell = cells.get(i).unwrap_or(&Cell::Null);
            fits &= builder.append(cell, &mut self.scratch);
        }
        self.end_row(fits);
    }

    /// Before a row that adds at most `data` bytes of string, binary and list data: writes
    /// the batch first if they would not fit its offsets.
    fn start_row(&mut self, data: usize) {
        if self.rows_in_batch > 0 && self.data_in_batch.saturating_add(data) > MAX_BATCH_DATA {
            self.flush();
        }
        self.data_in_batch = self.data_in_batch.saturating_add(data);
    }

    fn end_row(&mut self, fits: bool) {
        if !fits && !self.broken {
            tracing::error!("a value does not fit its column's Arrow type: the Arrow stream will end without its end-of-stream marker");
            self.broken = true;
        }
        self.rows_in_batch += 1;
        if self.rows_in_batch >= self.batch {
            self.flush();
        }
    }

    /// The bytes written since the last take, after writing the rows appended so far as
    /// a record batch.
    pub fn take(&mut self) -> Bytes {
        self.flush();
        match &mut self.writer {
            Some(writer) => Bytes::from(std::mem::replace(writer.get_mut(), Vec::with_capacity(self.capacity))),
            None => Bytes::new(),
        }
    }

    /// Bytes written and not yet taken.
    pub fn pending(&self) -> usize {
        self.writer.as_ref().map_or(0, |w| w.get_ref().len())
    }

    /// Writes the last rows and the end-of-stream marker (unless the stream is broken).
    pub fn end(&mut self) {
        self.flush();
        if self.broken {
            return;
        }
        if let Some(writer) = &mut self.writer {
            if let Err(error) = writer.finish() {
                self.fail(&error);
            }
        }
    }

    /// Writes the rows appended since the last batch as one record batch.
    fn flush(&mut self) {
        if self.rows_in_batch == 0 {
            return;
        }
        let rows = std::mem::take(&mut self.rows_in_batch);
        self.data_in_batch = 0;
        let columns: Result<Vec<ArrayRef>, ArrowError> = self.builders.iter_mut().map(Builder::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let written = columns
            .and_then(|columns| RecordBatch::try_new_with_options(self.schema.clone(), columns, &options))
            .and_then(|batch| match &mut self.writer {
                Some(writer) => writer.write(&batch),
                None => Err(ArrowError::InvalidArgumentError("the schema was not written".into())),
            });
        if let Err(error) = written {
            self.fail(&error);
        }
    }

    fn fail(&mut self, error: &ArrowError) {
        if !self.broken {
            tracing::error!(%error, "cannot write the Arrow stream: it will end without its end-of-stream marker");
        }
        self.broken = true;
    }
}

fn has_numeric(ty: &ColumnType) -> bool {
    match ty {
        ColumnType::Numeric => true,
        ColumnType::Array(element) => has_numeric(element),
        _ => false,
    }
}

/// At least the text of a COPY row's `numeric` values (items of arrays included).
fn numeric_text_bound(tuple: &Tuple, types: &[ColumnType]) -> usize {
    let mut bound: usize = 0;
    for (field, ty) in tuple.fields().zip(types) {
        bound = bound.saturating_add(match (field, ty) {
            (Some(bytes), ColumnType::Numeric) => Numeric::text_len_bound(bytes),
            (Some(bytes), ColumnType::Array(element)) if has_numeric(element) => pg_decode::array_items(bytes)
                .into_iter()
                .flatten()
                .map(|item| item.ok().flatten().map_or(0, Numeric::text_len_bound))
                .fold(0, usize::saturating_add),
            _ => 0,
        });
    }
    bound
}

/// Bytes of string or binary data (or list items) a cell adds to a batch, at most.
fn data_size(cell: &Cell) -> usize {
    match cell {
        Cell::Null | Cell::Bool(_) | Cell::Uuid(_) | Cell::Interval { .. } => 0,
        Cell::Text(s) | Cell::Numeric(s) | Cell::Json(s) => s.len(),
        // Their text form (an SQLite Utf8 column): `\x` and two digits a byte, or a number.
        Cell::Bytes(b) => 2 + 2 * b.len(),
        Cell::Array(items) => items.len() + items.iter().map(data_size).sum::<usize>(),
        _ => 32,
    }
}

/// A column's values in the batch being filled.
enum Builder {
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Date32(Date32Builder),
    Time64(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Interval(IntervalMonthDayNanoBuilder),
    Uuid(FixedSizeBinaryBuilder),
    List {
        item: FieldRef,
        values: Box<Builder>,
        /// `offsets[i]..offsets[i + 1]` are row i's items; starts with 0.
        offsets: Vec<i32>,
        valid: Vec<bool>,
    },
}

impl Builder {
    /// A builder for one of the types [`data_type`] makes (anything else: text).
    fn new(ty: &DataType) -> Builder {
        match ty {
            DataType::Int16 => Builder::Int16(Int16Builder::new()),
            DataType::Int32 => Builder::Int32(Int32Builder::new()),
            DataType::Int64 => Builder::Int64(Int64Builder::new()),
            DataType::Float32 => Builder::Float32(Float32Builder::new()),
            DataType::Float64 => Builder::Float64(Float64Builder::new()),
            DataType::Boolean => Builder::Boolean(BooleanBuilder::new()),
            DataType::Binary => Builder::Binary(BinaryBuilder::new()),
            DataType::Date32 => Builder::Date32(Date32Builder::new()),
            DataType::Time64(_) => Builder::Time64(Time64MicrosecondBuilder::new()),
            DataType::Timestamp(_, zone) => {
                Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone_opt(zone.clone()))
            }
            DataType::Interval(_) => Builder::Interval(IntervalMonthDayNanoBuilder::new()),
            DataType::FixedSizeBinary(size) => Builder::Uuid(FixedSizeBinaryBuilder::new(*size)),
            DataType::List(item) => Builder::List {
                item: item.clone(),
                values: Box::new(Builder::new(item.data_type())),
                offsets: vec![0],
                valid: Vec::new(),
            },
            _ => Builder::Utf8(StringBuilder::new()),
        }
    }

    fn append_null(&mut self) {
        match self {
            Builder::Int16(b) => b.append_null(),
            Builder::Int32(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::Float32(b) => b.append_null(),
            Builder::Float64(b) => b.append_null(),
            Builder::Boolean(b) => b.append_null(),
            Builder::Utf8(b) => b.append_null(),
            Builder::Binary(b) => b.append_null(),
            Builder::Date32(b) => b.append_null(),
            Builder::Time64(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
            Builder::Interval(b) => b.append_null(),
            Builder::Uuid(b) => b.append_null(),
            Builder::List { offsets, valid, .. } => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                valid.push(false);
            }
        }
    }

    /// Appends a value (read from a binary COPY row: text and bytes straight from the row;
    /// or a scalar [`Cell`], through [`Builder::append`]); false (and a NULL in its place)
    /// when it does not fit this type, which the types [`data_type`] picks rule out.
    fn append_ref(&mut self, value: CellRef<'_>, scratch: &mut String) -> bool {
        let fits = match (&mut *self, value) {
            (Builder::Int16(b), CellRef::Int(v)) => i16::try_from(v).map(|v| b.append_value(v)).is_ok(),
            (Builder::Int32(b), CellRef::Int(v)) => i32::try_from(v).map(|v| b.append_value(v)).is_ok(),
            (Builder::Int64(b), CellRef::Int(v)) => {
                b.append_value(v);
                true
            }
            (Builder::Float32(b), CellRef::Float4(v)) => {
                b.append_value(v);
                true
            }
            (Builder::Float64(b), CellRef::Float(v)) => {
                b.append_value(v);
                true
            }
            (Builder::Boolean(b), CellRef::Bool(v)) => {
                b.append_value(v);
                true
            }
            (Builder::Utf8(b), CellRef::Text(s)) => {
                b.append_value(s);
                true
            }
            (Builder::Utf8(b), CellRef::Numeric(n)) => {
                // Written straight into the builder's value, which `append_value` ends.
                let _ = write!(b, "{n}");
                b.append_value("");
                true
            }
            (Builder::Utf8(b), CellRef::Json(s)) => {
                b.append_value(pg_decode::one_line(s));
                true
            }
            (Builder::Utf8(b), other) => {
                scratch.clear();
                other.into_cell().write_text(scratch);
                b.append_value(&*scratch);
                true
            }
            (Builder::Binary(b), CellRef::Bytes(v)) => {
                b.append_value(v);
                true
            }
            (Builder::Date32(b), CellRef::Date(days)) => {
                b.append_value(date32(days));
                true
            }
            (Builder::Time64(b), CellRef::Time(micros)) => {
                b.append_value(micros);
                true
            }
            (Builder::Timestamp(b), CellRef::Timestamp(micros) | CellRef::Timestamptz(micros)) => {
                b.append_value(unix_micros(micros));
                true
            }
            (Builder::Interval(b), CellRef::Interval { months, days, micros }) => {
                let (days, nanos) = interval_day_nanos(days, micros);
                b.append_value(IntervalMonthDayNanoType::make_value(months, days, nanos));
                true
            }
            (Builder::Uuid(b), CellRef::Uuid(u)) => b.append_value(u).is_ok(),
            (Builder::List { values, offsets, valid, .. }, CellRef::Array(element, bytes)) => {
                // Flattened in row-major order: the items as the wire form lists them.
                let mut fits = true;
                let mut count: usize = 0;
                for item in pg_decode::array_items(bytes).into_iter().flatten() {
                    fits &= match item.map(|item| item.map(|value| pg_decode::decode_ref(element, value))) {
                        Ok(None) => {
                            values.append_null();
                            true
                        }
                        Ok(Some(Ok(value))) => values.append_ref(value, scratch),
                        // `decode_ref` checked the whole array: cannot happen.
                        Ok(Some(Err(_))) | Err(_) => {
                            values.append_null();
                            false
                        }
                    };
                    count += 1;
                }
                // One entry for the row either way (no NULL after it).
                return push_list_offset(offsets, valid, count) && fits;
            }
            _ => false,
        };
        if !fits {
            self.append_null();
        }
        fits
    }

    /// Appends `cell`: NULL, the text of a text column (any cell's text form: SQLite's
    /// values of any storage class), a list, or a scalar as [`Builder::append_ref`] does.
    fn append(&mut self, cell: &Cell, scratch: &mut String) -> bool {
        match (&mut *self, cell) {
            (_, Cell::Null) => {
                self.append_null();
                true
            }
            (Builder::Utf8(b), Cell::Text(s) | Cell::Numeric(s) | Cell::Json(s)) => {
                b.append_value(s);
                true
            }
            (Builder::Utf8(b), other) => {
                scratch.clear();
                other.write_text(scratch);
                b.append_value(&*scratch);
                true
            }
            (Builder::List { values, offsets, valid, .. }, Cell::Array(items)) => {
                let mut fits = true;
                let mut count: usize = 0;
                append_items(values, items, scratch, &mut fits, &mut count);
                // One entry for the row either way (no NULL after it).
                push_list_offset(offsets, valid, count) && fits
            }
            (_, other) => match CellRef::of(other) {
                Some(value) => self.append_ref(value, scratch),
                None => {
                    self.append_null();
                    false
                }
            },
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            Builder::Int16(b) => Arc::new(b.finish()),
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Float32(b) => Arc::new(b.finish()),
            Builder::Float64(b) => Arc::new(b.finish()),
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::Utf8(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
            Builder::Date32(b) => Arc::new(b.finish()),
            Builder::Time64(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Interval(b) => Arc::new(b.finish()),
            Builder::Uuid(b) => Arc::new(b.finish()),
            Builder::List { item, values, offsets, valid } => {
                let values = values.finish()?;
                let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                let nulls = NullBuffer::from(std::mem::take(valid));
                Arc::new(ListArray::try_new(item.clone(), offsets, values, Some(nulls))?)
            }
        })
    }
}

/// Appends an array's items to a list's values, flattening nested arrays (more
/// dimensions) in row-major order.
fn append_items(values: &mut Builder, items: &[Cell], scratch: &mut String, fits: &mut bool, count: &mut usize) {
    for item in items {
        match item {
            Cell::Array(inner) => append_items(values, inner, scratch, fits, count),
            other => {
                *fits &= values.append(other, scratch);
                *count += 1;
            }
        }
    }
}

/// Ends a list of `count` items; false (and a NULL list) if its offset does not fit
/// (cannot happen: batches are cut before 2^31 items).
fn push_list_offset(offsets: &mut Vec<i32>, valid: &mut Vec<bool>, count: usize) -> bool {
    let last = offsets.last().copied().unwrap_or(0);
    match i32::try_from(count).ok().and_then(|n| last.checked_add(n)) {
        Some(end) => {
            offsets.push(end);
            valid.push(true);
            true
        }
        None => {
            offsets.push(last);
            valid.push(false);
            false
        }
    }
}

/// Days since 2000-01-01 → since 1970-01-01; PostgreSQL's ±infinity stay the extremes.
fn date32(days: i32) -> i32 {
    match days {
        i32::MAX | i32::MIN => days,
        _ => days.saturating_add(POSTGRES_EPOCH_DAYS),
    }
}

/// Microseconds since 2000-01-01 → since 1970-01-01; PostgreSQL's ±infinity stay the
/// extremes, and so do the instants past the end of Arrow's range.
fn unix_micros(micros: i64) -> i64 {
    match micros {
        i64::MAX | i64::MIN => micros,
        _ => micros.saturating_add(POSTGRES_EPOCH_MICROS),
    }
}

/// An interval's days and time part in nanoseconds; a time part too long for i64
/// nanoseconds (±292 years) has its whole days carried into `days`.
fn interval_day_nanos(days: i32, micros: i64) -> (i32, i64) {
    match micros.checked_mul(1000) {
        Some(nanos) => (days, nanos),
        None => {
            let carried = i32::try_from(micros / DAY_MICROS).unwrap_or(if micros < 0 { i32::MIN } else { i32::MAX });
            (days.saturating_add(carried), (micros % DAY_MICROS) * 1000)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Int32Type, TimestampMicrosecondType};
    use arrow_array::Array;
    use arrow_ipc::reader::StreamReader;

    fn column(name: &str, column_type: ColumnType) -> Column {
        Column { name: name.into(), column_type, nullable: true, sql_type: "t".into() }
    }

    /// The IPC end-of-stream marker. (Readers also take a plain EOF for the end, so the
    /// marker is what tells a complete stream from a cut one at the Arrow level.)
    const EOS: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

    fn read(bytes: &[u8]) -> (SchemaRef, Vec<RecordBatch>) {
        let reader = StreamReader::try_new(bytes, None).unwrap();
        let schema = reader.schema();
        (schema, reader.collect::<Result<_, _>>().unwrap())
    }

    #[test]
    fn schema_first_a_batch_per_take_and_the_marker_only_at_the_end() {
        let columns = [column("d", ColumnType::Date), column("a", ColumnType::Array(Box::new(ColumnType::Int4)))];
        let mut stream = ArrowStream::new(schema(&columns, &[]), 2, 64);
        stream.begin();
        stream.row_cells(&[Cell::Date(0), Cell::Array(vec![Cell::Int(1), Cell::Null])]);
        let first = stream.take();
        stream.row_cells(&[Cell::Date(i32::MAX), Cell::Null]);
        stream.row_cells(&[
            Cell::Null,
            Cell::Array(vec![Cell::Array(vec![Cell::Int(2)]), Cell::Array(vec![Cell::Int(3)])]),
        ]);
        stream.row_cells(&[Cell::Date(-1), Cell::Array(vec![])]);
        let second = stream.take();
        // Schema and batches so far, readable as they are, and no marker yet.
        let cut = [first.as_ref(), second.as_ref()].concat();
        let reader = StreamReader::try_new(cut.as_slice(), None).unwrap();
        assert_eq!(reader.map(|b| b.unwrap().num_rows()).collect::<Vec<_>>(), [1, 2, 1]);
        assert!(!cut.ends_with(&EOS));
        stream.end();
        let all = [cut, stream.take().to_vec()].concat();
        assert!(all.ends_with(&EOS));
        let (_, batches) = read(&all);
        let dates: Vec<Option<i32>> =
            batches.iter().flat_map(|b| b.column(0).as_primitive::<Date32Type>().iter().collect::<Vec<_>>()).collect();
        assert_eq!(dates, [Some(10_957), Some(i32::MAX), None, Some(10_956)]);
        let lists = batches[1].column(1).as_list::<i32>();
        assert!(lists.is_null(0));
        assert_eq!(lists.value(1).as_primitive::<Int32Type>().values().to_vec(), [2, 3], "flattened");
    }

    /// Binary COPY data (header, rows, end marker) of rows of fields (`None`: NULL).
    fn copy_data(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
        out.extend([0; 8]);
        for row in rows {
            out.extend((row.len() as i16).to_be_bytes());
            for field in row {
                match field {
                    None => out.extend((-1i32).to_be_bytes()),
                    Some(bytes) => {
                        out.extend((bytes.len() as i32).to_be_bytes());
                        out.extend(bytes);
                    }
                }
            }
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    fn copy_rows(data: Vec<u8>, fields: usize) -> Vec<Row> {
        let mut decoder = crate::db::copy_binary::CopyTupleDecoder::new(fields);
        decoder.feed(Bytes::from(data));
        std::iter::from_fn(|| decoder.next_row().unwrap()).map(Row::Copy).collect()
    }

    #[test]
    fn a_copy_row_appended_straight_is_the_same_as_its_cells() {
        let types = [
            ColumnType::Int2,
            ColumnType::Int4,
            ColumnType::Int8,
            ColumnType::Float4,
            ColumnType::Float8,
            ColumnType::Bool,
            ColumnType::Numeric,
            ColumnType::Text,
            ColumnType::Bytea,
            ColumnType::Date,
            ColumnType::Time,
            ColumnType::Timestamp,
            ColumnType::Timestamptz,
            ColumnType::Interval,
            ColumnType::Uuid,
            ColumnType::Json,
            ColumnType::Jsonb,
            ColumnType::Array(Box::new(ColumnType::Int4)),
            ColumnType::Array(Box::new(ColumnType::Text)),
        ];
        let int4_array = |dims: &[i32], items: &[Option<i32>]| {
            let mut out = (dims.len() as i32).to_be_bytes().to_vec();
            out.extend([0, 0, 0, 0, 0, 0, 0, 23]);
            dims.iter().for_each(|d| out.extend(d.to_be_bytes().into_iter().chain(1i32.to_be_bytes())));
            for item in items {
                match item {
                    None => out.extend((-1i32).to_be_bytes()),
                    Some(v) => out.extend(4i32.to_be_bytes().into_iter().chain(v.to_be_bytes())),
                }
            }
            out
        };
        let mut text_array = 1i32.to_be_bytes().to_vec();
        text_array.extend([0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1]);
        for item in ["a\tb", "é😀"] {
            text_array.extend((item.len() as i32).to_be_bytes());
            text_array.extend(item.as_bytes());
        }
        let mut interval = 90_061_000_001i64.to_be_bytes().to_vec();
        interval.extend(3i32.to_be_bytes().into_iter().chain((-14i32).to_be_bytes()));
        let full: Vec<Option<Vec<u8>>> = vec![
            Some((-7i16).to_be_bytes().to_vec()),
            Some(i32::MIN.to_be_bytes().to_vec()),
            Some(i64::MAX.to_be_bytes().to_vec()),
            Some(f32::NAN.to_be_bytes().to_vec()),
            Some(f64::NEG_INFINITY.to_be_bytes().to_vec()),
            Some(vec![1]),
            // -12345678901234567890.000000000000000001: 10 digits, weight 4, negative, scale 18.
            Some(
                [10i16, 4, 0x4000, 18, 1234, 5678, 9012, 3456, 7890, 0, 0, 0, 0, 100]
                    .iter()
                    .flat_map(|v| v.to_be_bytes())
                    .collect(),
            ),
            Some("quote \" tab \t newline \n backslash \\ 😀".as_bytes().to_vec()),
            Some(vec![0, 255, 0]),
            Some(i32::MAX.to_be_bytes().to_vec()),
            Some(86_399_999_999i64.to_be_bytes().to_vec()),
            Some((-1i64).to_be_bytes().to_vec()),
            Some(i64::MIN.to_be_bytes().to_vec()),
            Some(interval),
            Some((0..16).collect()),
            Some(b"{\"a\":\n1}".to_vec()),
            Some([&[1][..], b"{\"b\": [1, 2]}"].concat()),
            Some(int4_array(&[2, 2], &[Some(1), None, Some(3), Some(4)])),
            Some(text_array),
        ];
        let rows = copy_rows(copy_data(&[full, vec![None; types.len()]]), types.len());
        let columns: Vec<Column> = types.iter().enumerate().map(|(i, t)| column(&format!("c{i}"), t.clone())).collect();
        let mut straight = ArrowStream::new(schema(&columns, &[]), 10, 64);
        let mut as_cells = ArrowStream::new(schema(&columns, &[]), 10, 64);
        straight.begin();
        as_cells.begin();
        let mut scratch = Vec::new();
        for row in &rows {
            straight.row(row, &types).unwrap();
            as_cells.row_cells(row.cells(&types, &mut scratch).unwrap());
        }
        straight.end();
        as_cells.end();
        let (straight, as_cells) = (straight.take(), as_cells.take());
        assert!(straight.ends_with(&EOS));
        assert_eq!(straight, as_cells);
        let (_, batches) = read(&straight);
        assert_eq!(batches[0].num_rows(), 2);
        assert_eq!(batches[0].column(6).as_string::<i32>().value(0), "-12345678901234567890.000000000000000001");
        assert_eq!(batches[0].column(7).as_string::<i32>().value(0), "quote \" tab \t newline \n backslash \\ 😀");
        assert_eq!(batches[0].column(15).as_string::<i32>().value(0), "{\"a\": 1}", "JSON on one line");
    }

    #[test]
    fn a_copy_value_that_does_not_decode_fails_the_row_and_the_stream() {
        let types = [ColumnType::Int8, ColumnType::Text];
        let rows = copy_rows(copy_data(&[vec![Some(vec![0; 8]), Some(vec![0xff, 0xfe])]]), 2);
        let columns = [column("i", ColumnType::Int8), column("t", ColumnType::Text)];
        let mut stream = ArrowStream::new(schema(&columns, &[]), 10, 64);
        stream.begin();
        let (index, _) = stream.row(&rows[0], &types).unwrap_err();
        assert_eq!(index, 1);
        stream.end();
        assert!(!stream.take().ends_with(&EOS), "a failed stream never gets its end-of-stream marker");
    }

    #[test]
    fn timestamps_keep_infinity_and_extensions_are_named() {
        let columns =
            [column("ts", ColumnType::Timestamptz), column("u", ColumnType::Uuid), column("j", ColumnType::Jsonb)];
        let mut stream = ArrowStream::new(schema(&columns, &[]), 10, 64);
        stream.begin();
        stream.row_cells(&[Cell::Timestamptz(0), Cell::Uuid([7; 16]), Cell::Json("{\"a\":1}".into())]);
        stream.row_cells(&[Cell::Timestamptz(i64::MIN), Cell::Null, Cell::Null]);
        stream.end();
        let (schema, batches) = read(&stream.take());
        assert_eq!(schema.field(0).data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
        assert_eq!(schema.field(1).metadata()[EXTENSION_NAME], "arrow.uuid");
        assert_eq!(schema.field(2).metadata()[EXTENSION_NAME], "arrow.json");
        let ts = batches[0].column(0).as_primitive::<TimestampMicrosecondType>();
        assert_eq!((ts.value(0), ts.value(1)), (POSTGRES_EPOCH_MICROS, i64::MIN));
        assert_eq!(batches[0].column(1).as_fixed_size_binary().value(0), [7; 16]);
    }

    #[test]
    fn sqlite_columns_are_text_except_the_rowid() {
        let mut id = column("id", ColumnType::SqliteInteger);
        id.sql_type = "INTEGER".into();
        let mut n = column("n", ColumnType::SqliteInteger);
        n.sql_type = "INTEGER".into();
        let fields = schema(&[id, n], &["id".into()]);
        assert_eq!(fields.field(0).data_type(), &DataType::Int64);
        assert_eq!(fields.field(1).data_type(), &DataType::Utf8);
        let mut stream = ArrowStream::new(fields, 10, 64);
        stream.begin();
        stream.row_cells(&[Cell::Int(1), Cell::Float(1.5)]);
        stream.row_cells(&[Cell::Int(2), Cell::Bytes(vec![0, 255])]);
        stream.end();
        let (_, batches) = read(&stream.take());
        let text = batches[0].column(1).as_string::<i32>();
        assert_eq!((text.value(0), text.value(1)), ("1.5", "\\x00ff"));
    }

    #[test]
    fn a_value_that_does_not_fit_leaves_the_stream_unfinished() {
        let mut stream = ArrowStream::new(schema(&[column("i", ColumnType::Int2)], &[]), 10, 64);
        stream.begin();
        stream.row_cells(&[Cell::Int(1 << 20)]);
        stream.end();
        let bytes = stream.take();
        assert!(!bytes.ends_with(&EOS));
        assert_eq!(read(&bytes).1.len(), 1);
        assert_eq!(interval_day_nanos(1, i64::MAX).0, 1 + (i64::MAX / DAY_MICROS) as i32);
    }
}
