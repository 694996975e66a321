//! Strict query-parameter parsing. Unknown, repeated, malformed or out-of-range parameters
//! are a 400 that names the parameter: a typo (`limt=10`) must not silently stream
//! everything.

use axum::http::header::ACCEPT;
use axum::http::HeaderMap;
use shared::{Format, Mode, BATCH_MAX};

use crate::db::rows::RowRange;
use crate::error::AppError;

/// The parameters of the seed-compatible `/standard` and `/chunked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedParams {
    pub range: RowRange,
    pub batch: Option<u32>,
}

/// Which seed endpoint: `/standard` has no batches, so it takes no `batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedEndpoint {
    Standard,
    Chunked,
}

fn parse_mode(value: Option<&str>) -> Result<Mode, AppError> {
    match value {
        None => Ok(Mode::default()),
        Some(v) => Mode::parse(v)
            .ok_or_else(|| AppError::bad_parameter("mode", format!("mode must be stream or buffered, got {v:?}"))),
    }
}

fn parse_format(value: Option<&str>, headers: &HeaderMap) -> Result<Format, AppError> {
    match value {
        Some(v) => Format::parse(v).ok_or_else(|| {
            AppError::bad_parameter(
                "format",
                format!("format must be one of ndjson, csv, json, text, arrow, got {v:?}"),
            )
        }),
        None => negotiate(headers),
    }
}

/// The parameters of `/api/tables/{name}/rows` (and `/api/messages`): `mode`, `format` (or
/// `Accept`), `limit`, `batch`, `after` (a token or key value, parsed against the relation),
/// `select`, `order`, and every other name as a filter on the column of that name (checked
/// against the relation later).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableParams {
    pub mode: Mode,
    pub format: Format,
    pub limit: Option<u64>,
    pub batch: Option<u32>,
    pub after: Option<String>,
    pub select: Option<String>,
    pub order: Option<String>,
    /// `(column, value)`, in query order; a column may be filtered more than once.
    pub filters: Vec<(String, String)>,
}

const TABLE_NAMES: &[&str] = &["mode", "format", "limit", "after", "batch", "select", "order"];

pub fn parse_table(query: Option<&str>, headers: &HeaderMap) -> Result<TableParams, AppError> {
    let mut filters = Vec::new();
    let mut named: Vec<(&'static str, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match TABLE_NAMES.iter().find(|n| **n == key) {
            Some(&name) => {
                if named.iter().any(|(n, _)| *n == name) {
                    return Err(AppError::bad_parameter(name, format!("{name} is given more than once")));
                }
                named.push((name, value.into_owned()));
            }
            None => filters.push((key.into_owned(), value.into_owned())),
        }
    }
    let raw = RawParams { pairs: named };
    let limit = raw.range_limit()?;
    Ok(TableParams {
        mode: parse_mode(raw.get("mode"))?,
        format: parse_format(raw.get("format"), headers)?,
        limit,
        batch: raw.batch()?,
        after: raw.get("after").map(str::to_owned),
        select: raw.get("select").map(str::to_owned),
        order: raw.get("order").map(str::to_owned),
        filters,
    })
}

/// The parameters of `GET /api/queries/{name}/rows` and `POST /api/sql`: how the rows are
/// sent (`mode`, `format` or `Accept`, `limit`, `batch`) and, for a saved query, its own
/// parameters (every other name, checked against the query later).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    pub mode: Mode,
    pub format: Format,
    pub limit: Option<u64>,
    pub batch: Option<u32>,
    /// `(name, value)` of the saved query's parameters, in query order.
    pub values: Vec<(String, String)>,
}

const QUERY_NAMES: &[&str] = &["mode", "format", "limit", "batch"];

/// `takes_values`: other names are the query's parameters (saved queries); otherwise
/// (`/api/sql`, whose values come in the body) they are unknown.
pub fn parse_query(query: Option<&str>, headers: &HeaderMap, takes_values: bool) -> Result<QueryParams, AppError> {
    let mut values = Vec::new();
    let mut named: Vec<(&'static str, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "after" => {
                return Err(AppError::bad_parameter(
                    "after",
                    "after: a query's rows have no key to resume after, so its responses carry no `next` token; \
                     narrow the query with its parameters (or read it whole) instead",
                ))
            }
            "select" | "order" => {
                return Err(AppError::bad_parameter(
                    key.as_ref(),
                    format!("{key}: applies to tables and views only; a query chooses its columns and order itself"),
                ))
            }
            _ => {}
        }
        match QUERY_NAMES.iter().find(|n| **n == key) {
            Some(&name) => {
                if named.iter().any(|(n, _)| *n == name) {
                    return Err(AppError::bad_parameter(name, format!("{name} is given more than once")));
                }
                named.push((name, value.into_owned()));
            }
            None if takes_values => values.push((key.into_owned(), value.into_owned())),
            None => {
                return Err(AppError::bad_parameter(
                    key.as_ref(),
                    format!(
                    "unknown parameter {key:?}; this endpoint takes {} (the statement's own parameters go in the body)",
                    QUERY_NAMES.join(", ")
                ),
                ))
            }
        }
    }
    let raw = RawParams { pairs: named };
    Ok(QueryParams {
        mode: parse_mode(raw.get("mode"))?,
        format: parse_format(raw.get("format"), headers)?,
        limit: raw.range_limit()?,
        batch: raw.batch()?,
        values,
    })
}

pub fn parse_seed(query: Option<&str>, endpoint: SeedEndpoint) -> Result<SeedParams, AppError> {
    let names: &[&'static str] = match endpoint {
        SeedEndpoint::Standard => &["limit", "after"],
        SeedEndpoint::Chunked => &["limit", "after", "batch"],
    };
    let raw = RawParams::parse(query, names)?;
    Ok(SeedParams { range: raw.range()?, batch: raw.batch()? })
}

/// Picks the format from `Accept`: the first type (by q, then order) that rowstream writes.
/// No header, or a wildcard, means NDJSON.
fn negotiate(headers: &HeaderMap) -> Result<Format, AppError> {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Format::default());
    };
    let mut ranges: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let media = pieces.next()?.trim();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!media.is_empty() && q > 0.0).then_some((q, media))
        })
        .collect();
    if ranges.is_empty() {
        return Ok(Format::default());
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0)); // stable: equal q keeps header order
    for (_, media) in ranges {
        let media = media.to_ascii_lowercase();
        if media == "*/*" || media == "application/*" {
            return Ok(Format::default());
        }
        if let Some(format) = Format::ALL.into_iter().find(|f| f.media_type() == media) {
            return Ok(format);
        }
        if media == "text/*" {
            return Ok(Format::Text);
        }
    }
    Err(AppError::NotAcceptable)
}

struct RawParams {
    pairs: Vec<(&'static str, String)>,
}

impl RawParams {
    fn parse(query: Option<&str>, allowed: &[&'static str]) -> Result<RawParams, AppError> {
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let Some(&name) = allowed.iter().find(|n| **n == key) else {
                return Err(AppError::bad_parameter(
                    key.as_ref(),
                    format!("unknown parameter {key:?}; this endpoint takes {}", allowed.join(", ")),
                ));
            };
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(AppError::bad_parameter(name, format!("{name} is given more than once")));
            }
            pairs.push((name, value.into_owned()));
        }
        Ok(RawParams { pairs })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    fn range_limit(&self) -> Result<Option<u64>, AppError> {
        self.get("limit")
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    AppError::bad_parameter("limit", format!("limit must be a whole number ≥ 0, got {v:?}"))
                })
            })
            .transpose()
    }

    fn range(&self) -> Result<RowRange, AppError> {
        let limit = self.range_limit()?;
        let after = self
            .get("after")
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    AppError::bad_parameter("after", format!("after must be a row id (a 64-bit integer), got {v:?}"))
                })
            })
            .transpose()?;
        Ok(RowRange { after, limit })
    }

    fn batch(&self) -> Result<Option<u32>, AppError> {
        self.get("batch")
            .map(|v| match v.parse::<u32>() {
                Ok(b) if (1..=BATCH_MAX).contains(&b) => Ok(b),
                _ => Err(AppError::bad_parameter(
                    "batch",
                    format!("batch must be a whole number from 1 to {BATCH_MAX}, got {v:?}"),
                )),
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        h
    }

    fn parameter_of(err: AppError) -> String {
        err.body().error.parameter.unwrap_or_default()
    }

    #[test]
    fn parses_every_parameter() {
        let p = parse_table(Some("mode=buffered&format=csv&limit=5&after=-3&batch=7"), &HeaderMap::new()).unwrap();
        assert_eq!(p.mode, Mode::Buffered);
        assert_eq!(p.format, Format::Csv);
        assert_eq!((p.after.as_deref(), p.limit), (Some("-3"), Some(5)));
        assert_eq!(p.batch, Some(7));
        let p = parse_seed(Some("limit=5&after=-3"), SeedEndpoint::Standard).unwrap();
        assert_eq!(p.range, RowRange { after: Some(-3), limit: Some(5) });
    }

    #[test]
    fn names_the_bad_parameter() {
        let h = HeaderMap::new();
        assert_eq!(parameter_of(parse_table(Some("limit=-1"), &h).unwrap_err()), "limit");
        assert_eq!(parameter_of(parse_seed(Some("after=x"), SeedEndpoint::Chunked).unwrap_err()), "after");
        assert_eq!(parameter_of(parse_table(Some("batch=0"), &h).unwrap_err()), "batch");
        assert_eq!(parameter_of(parse_table(Some("batch=100001"), &h).unwrap_err()), "batch");
        assert_eq!(parameter_of(parse_table(Some("mode=fast"), &h).unwrap_err()), "mode");
        assert_eq!(parameter_of(parse_table(Some("format=xml"), &h).unwrap_err()), "format");
        assert_eq!(parameter_of(parse_table(Some("limit=1&limit=2"), &h).unwrap_err()), "limit");
        assert_eq!(parameter_of(parse_seed(Some("format=csv"), SeedEndpoint::Chunked).unwrap_err()), "format");
        assert_eq!(parameter_of(parse_seed(Some("batch=5"), SeedEndpoint::Standard).unwrap_err()), "batch");
    }

    #[test]
    fn query_parameters_split_from_the_endpoints_own() {
        let h = HeaderMap::new();
        let p = parse_query(Some("min=5&format=csv&limit=2&state=a%20b"), &h, true).unwrap();
        assert_eq!((p.format, p.limit), (Format::Csv, Some(2)));
        assert_eq!(p.values, [("min".to_owned(), "5".to_owned()), ("state".to_owned(), "a b".to_owned())]);
        assert_eq!(parameter_of(parse_query(Some("after=1"), &h, true).unwrap_err()), "after");
        assert_eq!(parameter_of(parse_query(Some("order=a"), &h, true).unwrap_err()), "order");
        assert_eq!(parameter_of(parse_query(Some("min=5"), &h, false).unwrap_err()), "min");
        assert_eq!(parameter_of(parse_query(Some("limit=x"), &h, false).unwrap_err()), "limit");
    }

    #[test]
    fn negotiates_the_format() {
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), Format::Ndjson);
        assert_eq!(negotiate(&accept("text/csv")).unwrap(), Format::Csv);
        assert_eq!(negotiate(&accept("text/plain")).unwrap(), Format::Text);
        assert_eq!(negotiate(&accept("application/json;q=0.5, text/csv;q=0.9")).unwrap(), Format::Csv);
        assert_eq!(negotiate(&accept("image/png, */*;q=0.1")).unwrap(), Format::Ndjson);
        assert_eq!(negotiate(&accept("application/x-ndjson")).unwrap(), Format::Ndjson);
        assert_eq!(negotiate(&accept("application/vnd.apache.arrow.stream")).unwrap(), Format::Arrow);
        assert!(matches!(negotiate(&accept("image/png")), Err(AppError::NotAcceptable)));
    }
}
