//! The parameters of `GET /api/messages` and of the row endpoints of relations and saved
//! queries, shared so the viewer builds URLs the server parses.

use std::borrow::Cow;
use std::fmt;

/// The largest `batch` the server accepts: bigger batches only add memory and latency.
pub const BATCH_MAX: u32 = 100_000;

/// The body format. Chosen by `?format=` or, failing that, by `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// One JSON object per line, then the `{"end":…}` trailer (see [`crate::frame`]).
    #[default]
    Ndjson,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON array of rows.
    Json,
    /// PostgreSQL's COPY text format: tab-separated, `\`-escaped, one row per line.
    Text,
    /// Apache Arrow IPC stream format: the schema, then one record batch per chunk, then
    /// the end-of-stream marker (only when the stream is complete).
    Arrow,
}

impl Format {
    pub const ALL: [Format; 5] = [Format::Ndjson, Format::Csv, Format::Json, Format::Text, Format::Arrow];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Text => "text",
            Format::Arrow => "arrow",
        }
    }

    pub fn parse(value: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == value)
    }

    /// The file name extension of a download in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Text => "txt",
            Format::Arrow => "arrows",
        }
    }

    /// The media type it is served as (and recognised by in `Accept`).
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv",
            Format::Json => "application/json",
            Format::Text => "text/plain",
            Format::Arrow => "application/vnd.apache.arrow.stream",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `stream` sends rows as they are read; `buffered` builds the whole body first (the
/// seed's "standard" response, kept as a baseline to compare against).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    #[default]
    Stream,
    Buffered,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Buffered => "buffered",
        }
    }

    pub fn parse(value: &str) -> Option<Mode> {
        [Mode::Stream, Mode::Buffered].into_iter().find(|m| m.as_str() == value)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to `/api/messages`; `None` leaves the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagesQuery {
    pub mode: Option<Mode>,
    pub format: Option<Format>,
    pub limit: Option<u64>,
    pub after: Option<i64>,
    pub batch: Option<u32>,
}

/// Where rows come from: a table or view (`/api/tables/{name}/rows`) or a saved query
/// (`/api/queries/{name}/rows`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RowSource {
    Relation(String),
    Query(String),
}

impl RowSource {
    /// The path of its rows, the name percent-encoded as one path segment.
    pub fn rows_path(&self) -> String {
        let (kind, name) = match self {
            RowSource::Relation(name) => ("tables", name),
            RowSource::Query(name) => ("queries", name),
        };
        let segment: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        // `byte_serialize` writes a space as `+`, which a path does not decode.
        format!("/api/{kind}/{}/rows", segment.replace('+', "%20"))
    }
}

/// One column of `order=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortItem {
    pub column: String,
    pub descending: bool,
}

impl SortItem {
    /// `name.asc` / `name.desc`, the name quoted as [`quote_column`] does.
    pub fn to_param(&self) -> String {
        format!("{}.{}", quote_column(&self.column), if self.descending { "desc" } else { "asc" })
    }
}

/// A column name as `select=` and `order=` write it: bare, or in double quotes (`""` for a
/// quote inside) when it holds `.`, `,` or `"`.
pub fn quote_column(name: &str) -> Cow<'_, str> {
    if name.contains(['.', ',', '"']) {
        Cow::Owned(format!("\"{}\"", name.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(name)
    }
}

/// Splits `a,"b,c".desc` into items at commas outside double quotes.
pub fn split_items(text: &str) -> Option<Vec<&str>> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return None;
    }
    items.push(&text[start..]);
    Some(items)
}

/// The column name at the start of `item` (quoted or up to the first `.`) and the rest
/// after its `.`.
pub fn split_name(item: &str) -> Option<(String, &str)> {
    if let Some(quoted) = item.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if chars.peek().map(|p| p.1) == Some('"') {
                    chars.next();
                    name.push('"');
                } else {
                    let rest = &quoted[i + 1..];
                    return match rest.strip_prefix('.') {
                        Some(rest) => Some((name, rest)),
                        None if rest.is_empty() => Some((name, "")),
                        None => None,
                    };
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        match item.split_once('.') {
            Some((name, rest)) => Some((name.to_owned(), rest)),
            None => Some((item.to_owned(), "")),
        }
    }
}

/// A request for the rows of a relation or saved query: every parameter the row endpoints
/// take, in the grammar the server parses. `filters` are `(column, "op.value")` pairs as
/// written (`("qty", "gte.5")`); `params` a saved query's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowsQuery {
    pub mode: Option<Mode>,
    pub format: Option<Format>,
    pub limit: Option<u64>,
    pub batch: Option<u32>,
    /// The columns sent, in order; empty for all.
    pub select: Vec<String>,
    pub order: Vec<SortItem>,
    pub filters: Vec<(String, String)>,
    pub params: Vec<(String, String)>,
}

impl RowsQuery {
    /// The query string (no leading `?`), every value percent-encoded.
    pub fn to_query_string(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        if let Some(mode) = self.mode {
            out.append_pair("mode", mode.as_str());
        }
        if let Some(format) = self.format {
            out.append_pair("format", format.as_str());
        }
        if let Some(limit) = self.limit {
            out.append_pair("limit", &limit.to_string());
        }
        if let Some(batch) = self.batch {
            out.append_pair("batch", &batch.to_string());
        }
        if !self.select.is_empty() {
            let names: Vec<Cow<'_, str>> = self.select.iter().map(|n| quote_column(n)).collect();
            out.append_pair("select", &names.join(","));
        }
        if !self.order.is_empty() {
            let items: Vec<String> = self.order.iter().map(SortItem::to_param).collect();
            out.append_pair("order", &items.join(","));
        }
        for (name, value) in self.filters.iter().chain(&self.params) {
            out.append_pair(name, value);
        }
        out.finish()
    }
}

impl MessagesQuery {
    /// `mode=stream&limit=10` (no leading `?`); every value is URL-safe as written.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(mode) = self.mode {
            parts.push(format!("mode={mode}"));
        }
        if let Some(format) = self.format {
            parts.push(format!("format={format}"));
        }
        if let Some(limit) = self.limit {
            parts.push(format!("limit={limit}"));
        }
        if let Some(after) = self.after {
            parts.push(format!("after={after}"));
        }
        if let Some(batch) = self.batch {
            parts.push(format!("batch={batch}"));
        }
        parts.join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_names() {
        assert_eq!(split_items("a,\"b,c\".desc").unwrap(), ["a", "\"b,c\".desc"]);
        assert_eq!(split_name("\"b,c\".desc").unwrap(), ("b,c".to_owned(), "desc"));
        assert_eq!(split_name("\"say \"\"hi\"\"\"").unwrap(), ("say \"hi\"".to_owned(), ""));
        assert_eq!(split_name("a.desc.nullsfirst").unwrap(), ("a".to_owned(), "desc.nullsfirst"));
        assert!(split_items("\"open").is_none());
        assert!(split_name("\"a\"x").is_none());
        for name in ["plain", "a.b", "c,d", "say \"hi\"", "\""] {
            let quoted = quote_column(name);
            assert_eq!(split_items(&quoted).unwrap().len(), 1, "{quoted}");
            assert_eq!(split_name(&format!("{quoted}.desc")).unwrap(), (name.to_owned(), "desc"), "{quoted}");
        }
    }

    #[test]
    fn builds_rows_urls_the_server_parses() {
        assert_eq!(RowSource::Relation("Order Items".into()).rows_path(), "/api/tables/Order%20Items/rows");
        assert_eq!(RowSource::Query("a/b?".into()).rows_path(), "/api/queries/a%2Fb%3F/rows");
        let query = RowsQuery {
            mode: Some(Mode::Stream),
            format: Some(Format::Ndjson),
            limit: Some(10),
            select: vec!["id".into(), "a.b".into(), "say \"x\"".into()],
            order: vec![
                SortItem { column: "a,b".into(), descending: true },
                SortItem { column: "id".into(), descending: false },
            ],
            filters: vec![("name".into(), "like.*ab & c*".into()), ("qty".into(), "in.(1,2)".into())],
            ..RowsQuery::default()
        };
        let text = query.to_query_string();
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let expected = [
            ("mode", "stream"),
            ("format", "ndjson"),
            ("limit", "10"),
            ("select", r#"id,"a.b","say ""x""""#),
            ("order", r#""a,b".desc,id.asc"#),
            ("name", "like.*ab & c*"),
            ("qty", "in.(1,2)"),
        ];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }
}
