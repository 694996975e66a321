//! [`RowStore`]: every received row of any relation, kept columnar and outside the reactive
//! graph.
//!
//! Half a million rows as objects would be millions of small `String`s; as DOM nodes or
//! signals, far worse. Here each column is one store of its type: integer columns are a
//! `Vec<i64>`, `timestamptz` columns µs since the epoch (`Vec<i64>`), `uuid` columns
//! `Vec<u128>`, every other column is its cells' text back to back in blocks of
//! [`BLOCK_CELLS`] cells with one `u32` end offset per cell; NULLs are one bit per cell.
//! Blocks have a fixed cell count, so growing a column never copies the text already stored
//! (a single `String` would briefly need twice its size each time it doubled), and a full
//! block gives back its spare capacity. A packed column (integers, instants, uuids) holds a
//! value only if it reads back as exactly the text the server sent; the first value that
//! does not turns the column into text, so what is shown is always what was sent.
//!
//! What a cell's text is: a string as unescaped, a number exactly as the server wrote it
//! (a `numeric` keeps every digit), `true` / `false`, and the JSON text of arrays, objects
//! and of every value of a `json` column (so a JSON string shows its quotes there).

use shared::{Column, ColumnType, RowSink, RowValue, Timestamp};

/// Cells per text block.
pub const BLOCK_CELLS: usize = 4096;

/// One bit per cell.
#[derive(Debug, Default)]
struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    fn push(&mut self, bit: bool) {
        if self.len.is_multiple_of(64) {
            self.words.push(0);
        }
        if bit {
            self.words[self.len / 64] |= 1 << (self.len % 64);
        }
        self.len += 1;
    }

    fn get(&self, index: usize) -> bool {
        index < self.len && self.words[index / 64] & (1 << (index % 64)) != 0
    }

    fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.words.truncate(len.div_ceil(64));
        if !len.is_multiple_of(64) {
            if let Some(last) = self.words.last_mut() {
                *last &= (1 << (len % 64)) - 1;
            }
        }
        self.len = len;
    }

    fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

/// Text cells back to back.
#[derive(Debug, Default)]
struct TextBlock {
    text: String,
    ends: Vec<u32>,
}

#[derive(Debug, Default)]
struct TextColumn {
    blocks: Vec<TextBlock>,
}

impl TextColumn {
    fn push(&mut self, cell: &str) {
        let full = self.blocks.last().is_none_or(|b| b.ends.len() == BLOCK_CELLS);
        if full {
            // A full block keeps only what it holds; its size, plus a little, is the best
            // guess of the next one's.
            let guess = self.blocks.last_mut().map_or(0, |b| {
                b.text.shrink_to_fit();
                b.text.len() + b.text.len() / 16
            });
            self.blocks.push(TextBlock { text: String::with_capacity(guess), ends: Vec::with_capacity(BLOCK_CELLS) });
        }
        let Some(block) = self.blocks.last_mut() else { return };
        block.text.push_str(cell);
        block.ends.push(block.text.len() as u32);
    }

    fn get(&self, index: usize) -> Option<&str> {
        let block = self.blocks.get(index / BLOCK_CELLS)?;
        let within = index % BLOCK_CELLS;
        let end = *block.ends.get(within)? as usize;
        let start = if within == 0 { 0 } else { block.ends[within - 1] as usize };
        block.text.get(start..end)
    }

    fn truncate(&mut self, len: usize) {
        self.blocks.truncate(len.div_ceil(BLOCK_CELLS));
        let keep = len - self.blocks.len().saturating_sub(1) * BLOCK_CELLS;
        if let Some(block) = self.blocks.last_mut() {
            if keep < block.ends.len() {
                block.ends.truncate(keep);
                let end = block.ends.last().map_or(0, |&e| e as usize);
                block.text.truncate(end);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.text.capacity() + b.ends.capacity() * 4).sum()
    }
}

/// One column's cells.
#[derive(Debug)]
enum Cells {
    /// `int2`/`int4`/`int8` and SQLite integers, while every value is a JSON integer.
    Int(Vec<i64>),
    /// `timestamptz`, µs since the epoch, while every value is what [`Timestamp`] writes.
    Instant(Vec<i64>),
    /// `uuid`, while every value is in the canonical lowercase form.
    Uuid(Vec<u128>),
    Text(TextColumn),
}

/// An instant as the server writes a `timestamptz` (RFC 3339 UTC, the fraction without
/// trailing zeros).
fn write_instant(micros: i64, out: &mut Vec<u8>) {
    Timestamp(micros).write_rfc3339(out);
    if out.contains(&b'.') {
        out.pop();
        while out.last() == Some(&b'0') {
            out.pop();
        }
        out.push(b'Z');
    }
}

/// `s` as µs since the epoch, if it writes back as exactly `s`.
fn instant(s: &str, scratch: &mut Vec<u8>) -> Option<i64> {
    let micros = Timestamp::parse_rfc3339(s).ok()?.0;
    scratch.clear();
    write_instant(micros, scratch);
    (scratch.as_slice() == s.as_bytes()).then_some(micros)
}

/// A uuid in its canonical form (`8-4-4-4-12` lowercase hex digits).
fn uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut value = 0u128;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        value = value << 4 | u128::from(digit);
    }
    Some(value)
}

fn uuid_text(value: u128) -> String {
    let hex = format!("{value:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn instant_text(micros: i64) -> String {
    let mut out = Vec::with_capacity(32);
    write_instant(micros, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

#[derive(Debug)]
struct ColumnStore {
    cells: Cells,
    nulls: Bits,
    /// Every value is shown as its JSON text (`json`, `jsonb`).
    json: bool,
    /// For checking that an instant writes back as it came.
    scratch: Vec<u8>,
}

impl ColumnStore {
    fn new(column_type: &ColumnType) -> ColumnStore {
        let cells = match column_type {
            ColumnType::Int2 | ColumnType::Int4 | ColumnType::Int8 | ColumnType::SqliteInteger => {
                Cells::Int(Vec::new())
            }
            ColumnType::Timestamptz => Cells::Instant(Vec::new()),
            ColumnType::Uuid => Cells::Uuid(Vec::new()),
            _ => Cells::Text(TextColumn::default()),
        };
        let json = matches!(column_type, ColumnType::Json | ColumnType::Jsonb);
        ColumnStore { cells, nulls: Bits::default(), json, scratch: Vec::new() }
    }

    fn len(&self) -> usize {
        self.nulls.len
    }

    fn push(&mut self, value: RowValue<'_>) {
        let packed = match (&mut self.cells, &value) {
            (Cells::Int(v), RowValue::Null) | (Cells::Instant(v), RowValue::Null) => {
                v.push(0);
                true
            }
            (Cells::Uuid(v), RowValue::Null) => {
                v.push(0);
                true
            }
            (Cells::Int(v), RowValue::Number(n)) => n.parse().map(|i| v.push(i)).is_ok(),
            (Cells::Instant(v), RowValue::String(s)) => instant(s, &mut self.scratch).map(|m| v.push(m)).is_some(),
            (Cells::Uuid(v), RowValue::String(s)) => uuid(s).map(|u| v.push(u)).is_some(),
            _ => false,
        };
        if packed {
            self.nulls.push(matches!(value, RowValue::Null));
            return;
        }
        let (json, null) = (self.json, matches!(value, RowValue::Null));
        let text = self.text_cells();
        match value {
            RowValue::Null => text.push(""),
            RowValue::Bool(b) => text.push(if b { "true" } else { "false" }),
            RowValue::Number(n) | RowValue::Nested(n) => text.push(n),
            RowValue::String(s) if json => text.push(&serde_json::Value::from(s.as_ref()).to_string()),
            RowValue::String(s) => text.push(&s),
        }
        self.nulls.push(null);
    }

    /// The column as text; a packed column that meets a value it cannot hold exactly (SQLite
    /// lets any column hold any value) becomes text first.
    fn text_cells(&mut self) -> &mut TextColumn {
        if !matches!(self.cells, Cells::Text(_)) {
            let mut text = TextColumn::default();
            for i in 0..self.len() {
                let cell = self.get(i).unwrap_or(CellRef::Null);
                text.push(&cell.to_text());
            }
            self.cells = Cells::Text(text);
        }
        match &mut self.cells {
            Cells::Text(text) => text,
            _ => unreachable!("converted above"),
        }
    }

    fn get(&self, index: usize) -> Option<CellRef<'_>> {
        if index >= self.len() {
            return None;
        }
        if self.nulls.get(index) {
            return Some(CellRef::Null);
        }
        match &self.cells {
            Cells::Int(ints) => ints.get(index).map(|i| CellRef::Int(*i)),
            Cells::Instant(micros) => micros.get(index).map(|m| CellRef::Instant(*m)),
            Cells::Uuid(uuids) => uuids.get(index).map(|u| CellRef::Uuid(*u)),
            Cells::Text(text) => text.get(index).map(CellRef::Text),
        }
    }

    fn truncate(&mut self, len: usize) {
        match &mut self.cells {
            Cells::Int(v) | Cells::Instant(v) => v.truncate(len),
            Cells::Uuid(v) => v.truncate(len),
            Cells::Text(text) => text.truncate(len),
        }
        self.nulls.truncate(len);
    }

    fn heap_bytes(&self) -> usize {
        self.nulls.heap_bytes()
            + match &self.cells {
                Cells::Int(v) | Cells::Instant(v) => v.capacity() * 8,
                Cells::Uuid(v) => v.capacity() * 16,
                Cells::Text(text) => text.heap_bytes(),
            }
    }
}

/// One stored cell, borrowed from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellRef<'a> {
    Null,
    Int(i64),
    /// A `timestamptz`, µs since the epoch.
    Instant(i64),
    Uuid(u128),
    Text(&'a str),
}

impl CellRef<'_> {
    /// The text a cell shows (NULL shows as an empty string here; the table marks it).
    pub fn to_text(self) -> String {
        match self {
            CellRef::Null => String::new(),
            CellRef::Int(i) => itoa::Buffer::new().format(i).to_owned(),
            CellRef::Instant(micros) => instant_text(micros),
            CellRef::Uuid(u) => uuid_text(u),
            CellRef::Text(t) => t.to_owned(),
        }
    }

    pub fn is_null(self) -> bool {
        self == CellRef::Null
    }
}

#[derive(Debug, Default)]
pub struct RowStore {
    columns: Vec<ColumnStore>,
    rows: usize,
}

impl RowStore {
    /// An empty store for rows of `columns`.
    pub fn new(columns: &[Column]) -> Self {
        RowStore { columns: columns.iter().map(|c| ColumnStore::new(&c.column_type)).collect(), rows: 0 }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn columns(&self) -> usize {
        self.columns.len()
    }

    /// Ends the row whose values were just pushed (through [`RowSink`]): it counts only
    /// if every column got its value.
    pub fn finish_row(&mut self) -> bool {
        let complete = self.columns.iter().all(|c| c.len() == self.rows + 1);
        if complete {
            self.rows += 1;
        } else {
            self.discard_row();
        }
        complete
    }

    /// Drops the values of an unfinished row.
    pub fn discard_row(&mut self) {
        let rows = self.rows;
        for column in &mut self.columns {
            column.truncate(rows);
        }
    }

    pub fn cell(&self, row: usize, column: usize) -> Option<CellRef<'_>> {
        if row >= self.rows {
            return None;
        }
        self.columns.get(column)?.get(row)
    }

    /// Bytes held, including spare capacity: what the store costs in Wasm memory.
    pub fn heap_bytes(&self) -> usize {
        self.columns.iter().map(ColumnStore::heap_bytes).sum()
    }
}

impl<'a> RowSink<'a> for RowStore {
    fn value(&mut self, column: usize, value: RowValue<'a>) {
        if let Some(store) = self.columns.get_mut(column) {
            store.push(value);
        }
    }

    fn restart(&mut self) {
        self.discard_row();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, column_type: ColumnType) -> Column {
        Column { name: name.into(), column_type, nullable: true, sql_type: String::new() }
    }

    fn push(store: &mut RowStore, values: Vec<RowValue<'_>>) {
        for (i, value) in values.into_iter().enumerate() {
            store.value(i, value);
        }
        assert!(store.finish_row());
    }

    #[test]
    fn stores_typed_columns_and_reads_them_back() {
        let columns = [column("id", ColumnType::Int8), column("t", ColumnType::Text), column("j", ColumnType::Jsonb)];
        let mut store = RowStore::new(&columns);
        push(&mut store, vec![RowValue::Number("1"), RowValue::String("ada".into()), RowValue::String("x".into())]);
        push(&mut store, vec![RowValue::Null, RowValue::String("".into()), RowValue::Nested("[1,2]")]);
        push(&mut store, vec![RowValue::Number("3"), RowValue::Null, RowValue::Null]);
        assert_eq!(store.len(), 3);
        assert_eq!(store.cell(0, 0), Some(CellRef::Int(1)));
        assert_eq!(store.cell(0, 2), Some(CellRef::Text("\"x\"")));
        assert_eq!(store.cell(1, 0), Some(CellRef::Null));
        // NULL and the empty string stay apart.
        assert_eq!(store.cell(1, 1), Some(CellRef::Text("")));
        assert_eq!(store.cell(2, 1), Some(CellRef::Null));
        assert_eq!(store.cell(1, 2), Some(CellRef::Text("[1,2]")));
        assert_eq!(store.cell(3, 0), None);
        assert_eq!(store.cell(0, 3), None);
    }

    #[test]
    fn an_integer_column_holding_text_becomes_text() {
        let mut store = RowStore::new(&[column("n", ColumnType::SqliteInteger)]);
        push(&mut store, vec![RowValue::Number("7")]);
        push(&mut store, vec![RowValue::Null]);
        push(&mut store, vec![RowValue::String("seven".into())]);
        push(&mut store, vec![RowValue::Number("1.5")]);
        let cells: Vec<_> = (0..4).map(|r| store.cell(r, 0).unwrap()).collect();
        assert_eq!(cells, [CellRef::Text("7"), CellRef::Null, CellRef::Text("seven"), CellRef::Text("1.5")]);
    }

    #[test]
    fn instants_and_uuids_are_packed_while_they_read_back_exactly() {
        let columns = [column("at", ColumnType::Timestamptz), column("u", ColumnType::Uuid)];
        let mut store = RowStore::new(&columns);
        let u = "0123abcd-4567-89ef-0123-456789abcdef";
        push(&mut store, vec![RowValue::String("2024-01-01T00:00:00.5Z".into()), RowValue::String(u.into())]);
        push(&mut store, vec![RowValue::Null, RowValue::Null]);
        assert!(
            matches!(store.columns[0].cells, Cells::Instant(_)) && matches!(store.columns[1].cells, Cells::Uuid(_))
        );
        assert_eq!(store.cell(0, 0).unwrap().to_text(), "2024-01-01T00:00:00.5Z");
        assert_eq!(store.cell(0, 1).unwrap().to_text(), u);
        assert_eq!(store.cell(1, 0), Some(CellRef::Null));
        // A text Timestamp would write differently, an uppercase uuid: both columns turn to
        // text, keeping what came before.
        push(&mut store, vec![RowValue::String("infinity".into()), RowValue::String(u.to_uppercase().into())]);
        push(&mut store, vec![RowValue::String("2024-01-01T00:00:00.500Z".into()), RowValue::String(u.into())]);
        assert_eq!(instant("2024-01-01T00:00:01Z", &mut Vec::new()), Some(1_704_067_201_000_000));
        assert_eq!(instant("2024-01-01T00:00:00.000001Z", &mut Vec::new()), Some(1_704_067_200_000_001));
        assert!(matches!(store.columns[0].cells, Cells::Text(_)) && matches!(store.columns[1].cells, Cells::Text(_)));
        let at: Vec<String> = (0..4).map(|r| store.cell(r, 0).unwrap().to_text()).collect();
        assert_eq!(at, ["2024-01-01T00:00:00.5Z", "", "infinity", "2024-01-01T00:00:00.500Z"]);
        assert_eq!(store.cell(1, 0), Some(CellRef::Null));
        assert_eq!(store.cell(2, 1).unwrap().to_text(), u.to_uppercase());
        assert_eq!(store.cell(0, 1).unwrap().to_text(), u);
    }

    #[test]
    fn unfinished_rows_are_dropped_and_blocks_never_copy() {
        let columns = [column("id", ColumnType::Int4), column("t", ColumnType::Text)];
        let mut store = RowStore::new(&columns);
        let body = "x".repeat(100);
        for id in 0..(BLOCK_CELLS * 2 + 10) {
            push(&mut store, vec![RowValue::Number(&id.to_string()), RowValue::String(body.as_str().into())]);
        }
        // A row missing its last column does not count, and leaves nothing behind.
        store.value(0, RowValue::Number("-1"));
        assert!(!store.finish_row());
        store.value(0, RowValue::Number("-2"));
        store.restart();
        push(&mut store, vec![RowValue::Number("99"), RowValue::String("tail".into())]);
        let rows = BLOCK_CELLS * 2 + 11;
        assert_eq!(store.len(), rows);
        assert_eq!(store.cell(BLOCK_CELLS, 0), Some(CellRef::Int(BLOCK_CELLS as i64)));
        assert_eq!(store.cell(BLOCK_CELLS, 1), Some(CellRef::Text(body.as_str())));
        assert_eq!(store.cell(rows - 1, 0), Some(CellRef::Int(99)));
        assert_eq!(store.cell(rows - 1, 1), Some(CellRef::Text("tail")));
        assert!(store.heap_bytes() >= rows * 100);
    }
}
