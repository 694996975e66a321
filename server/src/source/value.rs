//! A value from the query string (a filter's operand, a plain `after=`, a token's key) parsed
//! by its column's type into a bound [`Param`].
//!
//! Integers, floats, booleans, `bytea` (`\x` hex), UUIDs and enum labels are checked here.
//! Types whose input syntax only PostgreSQL knows exactly (numeric, dates and times,
//! intervals, JSON, arrays, others) are bound as text cast to the column's type and marked
//! `check`: the database parses them once before the query runs, so a bad one is a 400
//! naming the parameter. SQLite values follow the column's affinity.

use shared::ColumnType;

use super::{BadRequest, Bind, Dialect, Param};
use crate::introspect::TableDef;

/// Refuses `text` (a value, a filter, a statement) when it holds a NUL character, naming
/// `origin`. PostgreSQL text cannot hold one ("invalid byte sequence"): a 400 here, not a
/// 500 there. Refused on SQLite too, so that one request means the same on both.
pub fn refuse_nul(text: &str, origin: &str) -> Result<(), BadRequest> {
    if text.contains('\0') {
        return Err(BadRequest::new(origin, format!("{origin}: cannot contain the NUL character (\\0)")));
    }
    Ok(())
}

/// Parses `text` as a value of column `column` of `table`; errors name `origin`.
pub fn parse(dialect: Dialect, table: &TableDef, column: usize, text: &str, origin: &str) -> Result<Param, BadRequest> {
    let col = &table.relation.columns[column];
    let cast = table.cast_types.get(column).map(String::as_str).filter(|c| !c.is_empty());
    let described = format!("column {:?} is {}", col.name, col.sql_type);
    let column_type = match crate::introspect::is_sqlite_rowid(col, &table.relation.primary_key) {
        true => &ColumnType::Int8,
        false => &col.column_type,
    };
    parse_as(dialect, column_type, cast, text, origin, &described)
}

/// Parses `text` as a value of type `column_type`, cast to `cast` in SQL (PostgreSQL);
/// errors name `origin` and say what the value should be (`described`: "column \"x\" is
/// integer", "parameter min is numeric").
pub fn parse_as(
    dialect: Dialect,
    column_type: &ColumnType,
    cast: Option<&str>,
    text: &str,
    origin: &str,
    described: &str,
) -> Result<Param, BadRequest> {
    refuse_nul(text, origin)?;
    let cast = cast.map(str::to_owned);
    let bad = |what: &str| BadRequest::new(origin, format!("{origin}: {text:?} is not {what} ({described})"));
    let native = |bind| Ok(Param { bind, cast: None, check: false, origin: origin.to_owned() });
    let as_text =
        |check| Ok(Param { bind: Bind::Text(text.to_owned()), cast: cast.clone(), check, origin: origin.to_owned() });
    match (column_type, dialect) {
        (ColumnType::Int2, _) => native(Bind::I16(text.parse().map_err(|_| bad("a 16-bit integer"))?)),
        (ColumnType::Int4, _) => native(Bind::I32(text.parse().map_err(|_| bad("a 32-bit integer"))?)),
        (ColumnType::Int8, _) => native(Bind::I64(text.parse().map_err(|_| bad("a 64-bit integer"))?)),
        (ColumnType::Float4, _) => native(Bind::F32(parse_float(text).ok_or_else(|| bad("a number"))? as f32)),
        (ColumnType::Float8, _) => native(Bind::F64(parse_float(text).ok_or_else(|| bad("a number"))?)),
        (ColumnType::Bool, _) => native(Bind::Bool(parse_bool(text).ok_or_else(|| bad("a boolean (true or false)"))?)),
        (ColumnType::Text, _) => as_text(false),
        (ColumnType::Bytea, _) => {
            native(Bind::Bytes(parse_hex(text).ok_or_else(|| bad("bytes written as \\x and hex digits"))?))
        }
        (ColumnType::Uuid, _) => {
            if is_uuid(text) {
                as_text(false)
            } else {
                Err(bad("a UUID"))
            }
        }
        (ColumnType::Enum { labels, .. }, _) => {
            if labels.iter().any(|l| l == text) {
                as_text(false)
            } else {
                Err(bad(&format!("one of {}", labels.join(", "))))
            }
        }
        (ColumnType::SqliteInteger | ColumnType::SqliteReal, _) => match text.parse::<i64>() {
            Ok(i) if *column_type == ColumnType::SqliteInteger => native(Bind::I64(i)),
            _ => native(Bind::F64(parse_float(text).ok_or_else(|| bad("a number"))?)),
        },
        (ColumnType::SqliteText, _) => native(Bind::Text(text.to_owned())),
        (ColumnType::SqliteNumeric | ColumnType::SqliteBlob, _) => native(dynamic(text)),
        // A number on SQLite (a saved query's numeric parameter): bound as a number, so
        // that it compares as one whatever the other side's affinity.
        (ColumnType::Numeric, Dialect::Sqlite) => match dynamic(text) {
            Bind::Text(_) => Err(bad("a number")),
            number => native(number),
        },
        (_, Dialect::Sqlite) => native(Bind::Text(text.to_owned())),
        (_, Dialect::Postgres) => as_text(true),
    }
}

/// A parameter type as written in the settings file: the type names of the wire form
/// (`int8`, `numeric`, `timestamptz`, …), common SQL spellings of them (`bigint`,
/// `integer`, `boolean`, `double precision`, `varchar`, …), and `T[]` for an array of `T`
/// (PostgreSQL). Returns the type and the name its text is cast to in PostgreSQL.
/// Whether values of `ty` compare with `=`, `<`, `>` (and so can be filtered by those,
/// ordered and resumed after): not `json`, not the types rowstream sends as text (`point`
/// has no `<`, nor even `=`).
pub fn compares(ty: &ColumnType) -> bool {
    match ty {
        ColumnType::Json | ColumnType::Other(_) => false,
        ColumnType::Array(element) => compares(element),
        _ => true,
    }
}

pub fn param_type(name: &str) -> Option<(ColumnType, String)> {
    let name = name.trim().to_ascii_lowercase();
    if let Some(element) = name.strip_suffix("[]") {
        let (element, cast) = param_type(element)?;
        if matches!(element, ColumnType::Array(_)) {
            return None;
        }
        return Some((ColumnType::Array(Box::new(element)), format!("{cast}[]")));
    }
    let typname = match name.as_str() {
        "int2" | "smallint" => "int2",
        "int4" | "int" | "integer" => "int4",
        "int8" | "bigint" => "int8",
        "float4" | "real" => "float4",
        "float8" | "double precision" | "double" => "float8",
        "numeric" | "decimal" => "numeric",
        "bool" | "boolean" => "bool",
        "text" | "varchar" | "character varying" | "string" => "text",
        "bytea" | "blob" => "bytea",
        "date" => "date",
        "time" => "time",
        "timestamp" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "interval" => "interval",
        "uuid" => "uuid",
        "json" => "json",
        "jsonb" => "jsonb",
        _ => return None,
    };
    Some((ColumnType::from_postgres_name(typname), typname.to_owned()))
}

/// What SQLite's NUMERIC affinity makes of a text: an integer, a real, or the text
/// (`true` and `false` are SQLite's 1 and 0).
fn dynamic(text: &str) -> Bind {
    if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
        Bind::I64(i64::from(text.eq_ignore_ascii_case("true")))
    } else if let Ok(i) = text.parse::<i64>() {
        Bind::I64(i)
    } else if let Some(f) = parse_float(text).filter(|f| f.is_finite()) {
        Bind::F64(f)
    } else {
        Bind::Text(text.to_owned())
    }
}

/// A float, with PostgreSQL's spellings of the special values.
pub fn parse_float(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" | "+infinity" | "+inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        t if t.contains(|c: char| c.is_ascii_alphabetic() && c != 'e') => None,
        _ => text.parse().ok(),
    }
}

/// PostgreSQL's boolean spellings.
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `\x` followed by an even number of hex digits.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks(2)
        .map(|pair| {
            let digit = |b: u8| (b as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

/// 32 hex digits, hyphens allowed between them, optionally in braces (what PostgreSQL reads).
fn is_uuid(text: &str) -> bool {
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    inner.chars().filter(char::is_ascii_hexdigit).count() == 32
        && inner.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_floats_hex_and_booleans() {
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("abc"), None);
        assert_eq!(parse_hex("\\x00ff"), Some(vec![0, 255]));
        assert_eq!(parse_hex("\\x0"), None);
        assert_eq!(parse_hex("00"), None);
        assert_eq!(parse_bool("on"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
        assert!(is_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
        assert!(!is_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"));
        assert!(!is_uuid("'; drop table x; --"));
    }

    #[test]
    fn parameter_types_by_name() {
        assert_eq!(param_type("BigInt"), Some((ColumnType::Int8, "int8".into())));
        assert_eq!(param_type("double precision"), Some((ColumnType::Float8, "float8".into())));
        assert_eq!(
            param_type("numeric[]"),
            Some((ColumnType::Array(Box::new(ColumnType::Numeric)), "numeric[]".into()))
        );
        assert_eq!(param_type("int4[][]"), None);
        assert_eq!(param_type("point"), None);
        assert_eq!(param_type("text; drop table x"), None);
    }

    #[test]
    fn a_value_with_a_nul_character_is_a_bad_request_naming_its_parameter() {
        for ty in [ColumnType::Text, ColumnType::Int4, ColumnType::Json] {
            let bad = parse_as(Dialect::Postgres, &ty, None, "a\0b", "t", "column \"t\" is text").unwrap_err();
            assert_eq!(bad.parameter, "t");
            assert!(bad.message.contains("NUL"), "{}", bad.message);
        }
    }

    #[test]
    fn values_are_parsed_by_type_and_name_their_parameter() {
        let p = parse_as(
            Dialect::Postgres,
            &ColumnType::Numeric,
            Some("numeric"),
            "1.5",
            "min",
            "parameter min is numeric",
        )
        .unwrap();
        assert_eq!((p.bind, p.cast.as_deref(), p.check), (Bind::Text("1.5".into()), Some("numeric"), true));
        let bad =
            parse_as(Dialect::Postgres, &ColumnType::Int8, Some("int8"), "x", "n", "parameter n is int8").unwrap_err();
        assert_eq!(bad.parameter, "n");
        assert!(bad.message.contains("parameter n is int8"), "{}", bad.message);
        assert_eq!(parse_as(Dialect::Sqlite, &ColumnType::Numeric, None, "2", "n", "").unwrap().bind, Bind::I64(2));
        assert!(parse_as(Dialect::Sqlite, &ColumnType::Numeric, None, "abc", "n", "").is_err());
    }
}
