//! NDJSON decoding, independent of the browser: [`LineSplitter`] cuts network chunks into
//! lines (a line may span any number of chunks), [`NdjsonDecoder`] checks the stream grammar
//! (rows, then exactly one `{"end":…}` trailer) and puts rows straight into a [`RowStore`].
//!
//! Control lines are told from rows by their first bytes ([`shared::is_control_line`]) and
//! read with [`shared::parse_table_line`]; rows with [`shared::RowReader`], which takes the
//! server's canonical form on its fast path for any schema. So the viewer reads exactly what
//! the server writes, and row text is copied once, from the line into the store. Work
//! happens per chunk (tens of kilobytes, hundreds of rows), never per row on the JavaScript
//! side.

use shared::{is_control_line, parse_table_line, EndDetail, ErrorBody, FrameError, RowError, RowReader, TableFrame};

use crate::store::RowStore;

/// Buffers bytes until their line is complete. Lines are consumed from the front; the
/// consumed prefix is dropped when the next chunk arrives, so a big chunk decoded in
/// several steps is not moved once per step.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out as lines.
    start: usize,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    fn compact(&mut self) {
        self.buf.drain(..self.start);
        self.start = 0;
    }

    /// Appends `len` bytes written by `fill`, which gets a slice of exactly that length: the
    /// browser copies a chunk straight into it, with no intermediate buffer.
    pub fn append_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) {
        self.compact();
        let old = self.buf.len();
        self.buf.resize(old + len, 0);
        fill(&mut self.buf[old..]);
    }

    pub fn append(&mut self, bytes: &[u8]) {
        self.append_with(bytes.len(), |dst| dst.copy_from_slice(bytes));
    }

    /// Calls `on_line` for up to `max_lines` complete lines (without their `\n`). Returns
    /// whether it stopped at `max_lines` (more lines may be ready). Stops at the first
    /// error; the lines before it stay consumed.
    pub fn drain_lines<E>(
        &mut self,
        max_lines: usize,
        mut on_line: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<bool, E> {
        for _ in 0..max_lines {
            let Some(newline) = memchr::memchr(b'\n', &self.buf[self.start..]) else {
                return Ok(false);
            };
            let line = &self.buf[self.start..self.start + newline];
            self.start += newline + 1;
            on_line(line)?;
        }
        Ok(true)
    }

    /// The bytes after the last `\n`: a final line the server did not terminate.
    pub fn take_rest(&mut self) -> Vec<u8> {
        self.compact();
        std::mem::take(&mut self.buf)
    }

    /// Bytes not yet handed out as lines.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// Why a stream is not a complete, well-formed result.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("line {line} is not valid NDJSON: {source}")]
    Malformed {
        line: u64,
        #[source]
        source: FrameError,
    },
    #[error("line {line} is not a row of the expected columns: {source}")]
    BadRow {
        line: u64,
        #[source]
        source: RowError,
    },
    #[error("line {line} does not have a value for every column")]
    IncompleteRow { line: u64 },
    #[error("line {line} comes after the end trailer")]
    AfterEnd { line: u64 },
    #[error("server error {}: {}", .0.error.code.as_str(), .0.error.message)]
    Server(ErrorBody),
    #[error("the end trailer counts {expected} rows, but {received} arrived")]
    CountMismatch { expected: u64, received: u64 },
    #[error("the stream ended without its end trailer after {rows} rows (connection closed early?)")]
    MissingTrailer { rows: u64 },
}

/// Where the stream is in its grammar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum State {
    #[default]
    Rows,
    Ended(EndDetail),
    /// The server sent an `{"error":…}` frame; it aborts the connection next.
    Failed(ErrorBody),
}

#[derive(Debug)]
pub struct NdjsonDecoder {
    lines: LineSplitter,
    reader: RowReader,
    state: State,
    line_no: u64,
    rows: u64,
}

impl NdjsonDecoder {
    /// A decoder for rows with these columns, in this order.
    pub fn new<S: AsRef<str>>(columns: &[S]) -> Self {
        NdjsonDecoder {
            lines: LineSplitter::new(),
            reader: RowReader::new(columns),
            state: State::Rows,
            line_no: 0,
            rows: 0,
        }
    }

    /// The trailer, once it came: whether the stream was cut short and how to continue.
    pub fn end(&self) -> Option<&EndDetail> {
        match &self.state {
            State::Ended(end) => Some(end),
            _ => None,
        }
    }

    /// Rows decoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The server's error frame, if it sent one: the real reason when the connection then
    /// breaks.
    pub fn server_error(&self) -> Option<&ErrorBody> {
        match &self.state {
            State::Failed(body) => Some(body),
            _ => None,
        }
    }

    /// Buffers a chunk that `fill` copies in (see [`LineSplitter::append_with`]); nothing
    /// is decoded until [`NdjsonDecoder::decode`].
    pub fn append_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) {
        self.lines.append_with(len, fill);
    }

    /// Decodes up to `max_lines` buffered lines into `store`. Returns whether more complete
    /// lines may be waiting: the caller bounds each step, to paint or yield in between.
    pub fn decode(&mut self, store: &mut RowStore, max_lines: usize) -> Result<bool, DecodeError> {
        let Self { lines, reader, state, line_no, rows } = self;
        lines.drain_lines(max_lines, |line| Self::line(reader, state, line_no, rows, line, store))
    }

    /// Buffers and decodes a whole chunk.
    pub fn push(&mut self, chunk: &[u8], store: &mut RowStore) -> Result<(), DecodeError> {
        self.lines.append(chunk);
        self.decode(store, usize::MAX).map(drop)
    }

    /// The body ended normally: decodes an unterminated last line, then checks the stream
    /// was complete. Returns the row count the trailer confirmed.
    pub fn finish(&mut self, store: &mut RowStore) -> Result<u64, DecodeError> {
        let rest = self.lines.take_rest();
        Self::line(&self.reader, &mut self.state, &mut self.line_no, &mut self.rows, &rest, store)?;
        match &self.state {
            State::Ended(end) if end.rows == self.rows => Ok(self.rows),
            State::Ended(end) => Err(DecodeError::CountMismatch { expected: end.rows, received: self.rows }),
            State::Failed(body) => Err(DecodeError::Server(body.clone())),
            State::Rows => Err(DecodeError::MissingTrailer { rows: self.rows }),
        }
    }

    fn line(
        reader: &RowReader,
        state: &mut State,
        line_no: &mut u64,
        rows: &mut u64,
        line: &[u8],
        store: &mut RowStore,
    ) -> Result<(), DecodeError> {
        if line.is_empty() || line == b"\r" {
            return Ok(());
        }
        *line_no += 1;
        if *state != State::Rows {
            return Err(DecodeError::AfterEnd { line: *line_no });
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !is_control_line(line) {
            let read = reader.read(line, store);
            if let Err(source) = read {
                store.discard_row();
                return Err(DecodeError::BadRow { line: *line_no, source });
            }
            if !store.finish_row() {
                return Err(DecodeError::IncompleteRow { line: *line_no });
            }
            *rows += 1;
            return Ok(());
        }
        match parse_table_line(line).map_err(|source| DecodeError::Malformed { line: *line_no, source })? {
            TableFrame::End(end) => *state = State::Ended(end),
            TableFrame::Error(body) => *state = State::Failed(body),
            // Not a control frame the grammar knows (`{"schema":…}`): nothing to show.
            TableFrame::Row(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Column, ColumnType, ErrorCode, Message, StreamEnd, Timestamp};

    use crate::store::CellRef;

    const NAMES: [&str; 4] = ["id", "sender", "body", "created_at"];

    fn new_store() -> RowStore {
        let types = [ColumnType::Int8, ColumnType::Text, ColumnType::Text, ColumnType::Timestamptz];
        let columns: Vec<Column> = NAMES
            .iter()
            .zip(types)
            .map(|(name, column_type)| Column {
                name: (*name).into(),
                column_type,
                nullable: false,
                sql_type: String::new(),
            })
            .collect();
        RowStore::new(&columns)
    }

    fn new_decoder() -> NdjsonDecoder {
        NdjsonDecoder::new(&NAMES)
    }

    fn body(rows: i64) -> Vec<u8> {
        let mut out = Vec::new();
        for id in 1..=rows {
            let message = Message {
                id,
                sender: format!("user{id}"),
                body: "line one\nline \"two\" — ✓".into(),
                created_at: Timestamp::from_unix_seconds(1_700_000_000 + id),
            };
            out.extend(serde_json::to_vec(&message).unwrap());
            out.push(b'\n');
        }
        out.extend(serde_json::to_vec(&StreamEnd::new(rows as u64)).unwrap());
        out.push(b'\n');
        out
    }

    fn collect(lines: &mut Vec<Vec<u8>>, line: &[u8]) -> Result<(), ()> {
        lines.push(line.to_vec());
        Ok(())
    }

    #[test]
    fn splitter_joins_lines_across_chunks() {
        let mut splitter = LineSplitter::new();
        let mut lines = Vec::new();
        for chunk in [&b"ab"[..], b"c\nd", b"", b"e\n\nf", b"\n"] {
            splitter.append(chunk);
            let more = splitter.drain_lines(usize::MAX, |line| collect(&mut lines, line)).unwrap();
            assert!(!more);
        }
        assert_eq!(lines, [&b"abc"[..], b"de", b"", b"f"]);
        assert_eq!(splitter.pending(), 0);
        splitter.append_with(3, |dst| dst.copy_from_slice(b"xyz"));
        assert_eq!(splitter.take_rest(), b"xyz");
    }

    #[test]
    fn splitter_hands_out_lines_in_bounded_steps() {
        let mut splitter = LineSplitter::new();
        splitter.append(b"1\n2\n3\n4");
        let mut lines = Vec::new();
        assert!(splitter.drain_lines(2, |l| collect(&mut lines, l)).unwrap());
        assert_eq!(splitter.pending(), 3); // "3\n4"
        assert!(!splitter.drain_lines(2, |l| collect(&mut lines, l)).unwrap());
        splitter.append(b"5\n");
        assert!(!splitter.drain_lines(9, |l| collect(&mut lines, l)).unwrap());
        assert_eq!(lines, [&b"1"[..], b"2", b"3", b"45"]);
    }

    #[test]
    fn decoder_steps_are_bounded() {
        let mut store = new_store();
        let mut decoder = new_decoder();
        let bytes = body(10);
        decoder.append_with(bytes.len(), |dst| dst.copy_from_slice(&bytes));
        assert!(decoder.decode(&mut store, 4).unwrap());
        assert_eq!((decoder.rows(), store.len()), (4, 4));
        assert!(decoder.decode(&mut store, 4).unwrap());
        assert!(!decoder.decode(&mut store, 4).unwrap()); // rows 9, 10 and the trailer
        assert_eq!(decoder.finish(&mut store).unwrap(), 10);
    }

    #[test]
    fn decodes_a_stream_cut_at_every_chunk_size() {
        let bytes = body(40);
        for chunk_size in [1, 2, 3, 7, 64, 1000, bytes.len()] {
            let mut store = new_store();
            let mut decoder = new_decoder();
            for chunk in bytes.chunks(chunk_size) {
                decoder.push(chunk, &mut store).unwrap();
            }
            assert_eq!(decoder.finish(&mut store).unwrap(), 40, "chunk size {chunk_size}");
            assert_eq!(store.len(), 40);
            let row: Vec<_> = (0..3).map(|c| store.cell(39, c).unwrap()).collect();
            assert_eq!(row, [CellRef::Int(40), CellRef::Text("user40"), CellRef::Text("line one\nline \"two\" — ✓")]);
        }
    }

    #[test]
    fn accepts_a_trailer_without_final_newline_and_crlf() {
        let mut bytes = body(2);
        bytes.pop();
        let text = String::from_utf8(bytes).unwrap().replace("}\n", "}\r\n");
        let mut store = new_store();
        let mut decoder = new_decoder();
        decoder.push(text.as_bytes(), &mut store).unwrap();
        assert_eq!(decoder.finish(&mut store).unwrap(), 2);
    }

    #[test]
    fn incomplete_streams_fail() {
        let bytes = body(3);
        let cut = bytes.len() - b"{\"end\":{\"rows\":3}}\n".len();
        let mut store = new_store();
        let mut decoder = new_decoder();
        decoder.push(&bytes[..cut], &mut store).unwrap();
        assert!(matches!(decoder.finish(&mut store), Err(DecodeError::MissingTrailer { rows: 3 })));

        // Cut in the middle of a row: the partial line is malformed.
        let mut decoder = new_decoder();
        decoder.push(&bytes[..cut - 5], &mut new_store()).unwrap();
        assert!(matches!(decoder.finish(&mut new_store()), Err(DecodeError::BadRow { line: 3, .. })));
    }

    #[test]
    fn grammar_errors_are_reported() {
        let mut decoder = new_decoder();
        let err =
            decoder.push(b"{\"end\":{\"rows\":5}}\n", &mut new_store()).and_then(|_| decoder.finish(&mut new_store()));
        assert!(matches!(err, Err(DecodeError::CountMismatch { expected: 5, received: 0 })));

        let mut decoder = new_decoder();
        let err = decoder.push(b"{\"end\":{\"rows\":0}}\n{\"end\":{\"rows\":0}}\n", &mut new_store());
        assert!(matches!(err, Err(DecodeError::AfterEnd { line: 2 })));

        let mut decoder = new_decoder();
        let err = decoder.push(b"not json\n", &mut new_store());
        assert!(matches!(err, Err(DecodeError::BadRow { line: 1, .. })));
    }

    #[test]
    fn keeps_the_servers_error_frame() {
        let frame = serde_json::to_vec(&ErrorBody::new(ErrorCode::DatabaseError, "disk on fire")).unwrap();
        let mut bytes = body(2);
        bytes.truncate(bytes.len() - b"{\"end\":{\"rows\":2}}\n".len());
        bytes.extend(frame);
        bytes.push(b'\n');
        let mut store = new_store();
        let mut decoder = new_decoder();
        decoder.push(&bytes, &mut store).unwrap();
        assert_eq!(decoder.server_error().unwrap().error.message, "disk on fire");
        let err = decoder.finish(&mut store).unwrap_err();
        assert_eq!(err.to_string(), "server error database_error: disk on fire");
        assert_eq!(store.len(), 2);
    }
}
