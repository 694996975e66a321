//! [`Cell`]: one value of a row read from any relation, typed by what the database sent.
//!
//! `db` produces cells (PostgreSQL: decoded from the binary wire form by the column's type;
//! SQLite: by the value's storage class), `wire` writes them in every format, and
//! `source::keyset` turns the sort-key cells of a row into a resume token. The text form
//! ([`Cell::write_text`]) is what CSV and COPY text carry and what PostgreSQL reads back.

use shared::timestamp::{civil_from_days, put_digits};
use std::fmt::Write as _;

/// Microseconds since 2000-01-01 (PostgreSQL's epoch) → since 1970-01-01.
pub const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float4(f32),
    Float(f64),
    /// The exact decimal text (`NaN`, `Infinity`, `-Infinity` included).
    Numeric(String),
    Text(String),
    Bytes(Vec<u8>),
    /// Days since 2000-01-01; `i32::MAX` / `i32::MIN` are `infinity` / `-infinity`.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 2000-01-01 (no zone); `i64::MAX` / `i64::MIN` are ±infinity.
    Timestamp(i64),
    /// Microseconds since 2000-01-01 UTC; `i64::MAX` / `i64::MIN` are ±infinity.
    Timestamptz(i64),
    Interval {
        months: i32,
        days: i32,
        micros: i64,
    },
    Uuid([u8; 16]),
    /// JSON text (json or jsonb), on one line.
    Json(String),
    /// A PostgreSQL array (nested for more than one dimension).
    Array(Vec<Cell>),
}

impl Cell {
    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }

    /// The text form, as PostgreSQL reads it back (CSV, COPY text, resume tokens). Not
    /// called for NULL, which every format writes its own way.
    pub fn write_text(&self, out: &mut String) {
        match self {
            Cell::Null => {}
            Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Cell::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Cell::Float4(f) => write_float(out, f64::from(*f), Some(*f)),
            Cell::Float(f) => write_float(out, *f, None),
            Cell::Numeric(s) | Cell::Text(s) | Cell::Json(s) => out.push_str(s),
            Cell::Bytes(b) => {
                out.push_str("\\x");
                for byte in b {
                    let _ = write!(out, "{byte:02x}");
                }
            }
            Cell::Date(days) => write_date(out, *days),
            Cell::Time(micros) => write_time(out, *micros),
            Cell::Timestamp(micros) => write_timestamp(out, *micros, false),
            Cell::Timestamptz(micros) => write_timestamp(out, *micros, true),
            Cell::Interval { months, days, micros } => write_interval(out, *months, *days, *micros),
            Cell::Uuid(u) => {
                for (i, byte) in u.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        out.push('-');
                    }
                    let _ = write!(out, "{byte:02x}");
                }
            }
            Cell::Array(items) => write_array_literal(out, items),
        }
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        self.write_text(&mut s);
        s
    }
}

/// Shortest text that reads back to the same float; `NaN`, `Infinity`, `-Infinity` as
/// PostgreSQL spells them. `single`: the value was a float4 (printed as one).
fn write_float(out: &mut String, value: f64, single: Option<f32>) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let mut buf = ryu::Buffer::new();
        match single {
            Some(f) => out.push_str(buf.format_finite(f)),
            None => out.push_str(buf.format_finite(value)),
        }
    }
}

fn civil(days_since_2000: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .zip(chrono::TimeDelta::try_days(days_since_2000))
        .and_then(|(epoch, delta)| epoch.checked_add_signed(delta))
        .unwrap_or(if days_since_2000 < 0 { chrono::NaiveDate::MIN } else { chrono::NaiveDate::MAX })
}

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const POSTGRES_EPOCH_DAYS: i64 = 10_957;

fn write_date(out: &mut String, days: i32) {
    match days {
        i32::MAX => out.push_str("infinity"),
        i32::MIN => out.push_str("-infinity"),
        _ => {
            let (year, month, day) = civil_from_days(i64::from(days) + POSTGRES_EPOCH_DAYS);
            match u32::try_from(year) {
                // Digits by hand: `chrono`'s formatting was a fifth of a stream's CPU.
                Ok(year) if year <= 9999 => {
                    let mut buf = *b"0000-00-00";
                    put_digits(&mut buf[0..4], year);
                    put_digits(&mut buf[5..7], month);
                    put_digits(&mut buf[8..10], day);
                    push_ascii(out, &buf);
                }
                _ => {
                    let _ = write!(out, "{}", civil(i64::from(days)).format("%Y-%m-%d"));
                }
            }
        }
    }
}

fn write_time(out: &mut String, micros: i64) {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000) as u32;
    match u32::try_from(seconds / 3600) {
        Ok(hours) if hours <= 99 => {
            let mut buf = *b"00:00:00.000000";
            put_digits(&mut buf[0..2], hours);
            put_digits(&mut buf[3..5], (seconds / 60 % 60) as u32);
            put_digits(&mut buf[6..8], (seconds % 60) as u32);
            put_digits(&mut buf[9..15], fraction);
            // The fraction without its trailing zeros, none at all when it is zero.
            let end = match fraction {
                0 => 8,
                _ => 15 - buf[9..15].iter().rev().take_while(|&&d| d == b'0').count(),
            };
            push_ascii(out, &buf[..end]);
        }
        _ => {
            let _ = write!(out, "{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
            if fraction != 0 {
                let _ = write!(out, ".{fraction:06}");
                while out.ends_with('0') {
                    out.pop();
                }
            }
        }
    }
}

/// Appends digits and punctuation written by [`put_digits`] (always ASCII).
fn push_ascii(out: &mut String, ascii: &[u8]) {
    out.push_str(std::str::from_utf8(ascii).unwrap_or_default());
}

/// ISO 8601 with a `T`; `Z` for timestamptz (always UTC).
fn write_timestamp(out: &mut String, micros: i64, utc: bool) {
    match micros {
        i64::MAX => out.push_str("infinity"),
        i64::MIN => out.push_str("-infinity"),
        _ => {
            let days = micros.div_euclid(86_400_000_000);
            write_date(out, i32::try_from(days).unwrap_or(i32::MAX - 1));
            out.push('T');
            write_time(out, micros.rem_euclid(86_400_000_000));
            if utc {
                out.push('Z');
            }
        }
    }
}

/// ISO 8601 duration with signed parts (PostgreSQL's `iso_8601` interval style, which it
/// reads back): `P1Y2M3DT4H5M6.5S`, `PT0S` for zero.
fn write_interval(out: &mut String, months: i32, days: i32, micros: i64) {
    out.push('P');
    let (years, months) = (months / 12, months % 12);
    if years != 0 {
        let _ = write!(out, "{years}Y");
    }
    if months != 0 {
        let _ = write!(out, "{months}M");
    }
    if days != 0 {
        let _ = write!(out, "{days}D");
    }
    if micros != 0 || (years == 0 && months == 0 && days == 0) {
        out.push('T');
        let hours = micros / 3_600_000_000;
        let minutes = micros / 60_000_000 % 60;
        let rest = micros % 60_000_000;
        if hours != 0 {
            let _ = write!(out, "{hours}H");
        }
        if minutes != 0 {
            let _ = write!(out, "{minutes}M");
        }
        if rest != 0 || (hours == 0 && minutes == 0) {
            if rest < 0 {
                out.push('-');
            }
            let rest = rest.unsigned_abs();
            let _ = write!(out, "{}", rest / 1_000_000);
            if !rest.is_multiple_of(1_000_000) {
                let _ = write!(out, ".{:06}", rest % 1_000_000);
                while out.ends_with('0') {
                    out.pop();
                }
            }
            out.push('S');
        }
    }
}

/// PostgreSQL's array literal: `{1,NULL,"a b","say \"hi\""}`.
fn write_array_literal(out: &mut String, items: &[Cell]) {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Cell::Null => out.push_str("NULL"),
            Cell::Array(inner) => write_array_literal(out, inner),
            other => {
                let text = other.text();
                let quote = text.is_empty()
                    || text.eq_ignore_ascii_case("null")
                    || text.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
                if quote {
                    out.push('"');
                    for c in text.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(&text);
                }
            }
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_by_hand_match_chrono() {
        let by_chrono = |days: i32, micros: i64| {
            let date = civil(i64::from(days)).format("%Y-%m-%d").to_string();
            let (seconds, fraction) = (micros / 1_000_000, micros % 1_000_000);
            let mut time = format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
            if fraction != 0 {
                time.push_str(format!(".{fraction:06}").trim_end_matches('0'));
            }
            format!("{date}T{time}")
        };
        let days = (-800_000..800_000).step_by(997).chain([
            -730_485,
            -730_486,
            2_914_635,
            2_914_636,
            -100_000_000,
            100_000_000,
        ]);
        for (i, days) in days.enumerate() {
            let micros = (i as i64 * 7_919_000_013) % 86_400_000_000;
            let micros = if i % 3 == 0 { micros / 1_000_000 * 1_000_000 } else { micros };
            let cell = Cell::Timestamp(i64::from(days) * 86_400_000_000 + micros);
            assert_eq!(cell.text(), by_chrono(days, micros), "{days} {micros}");
        }
    }

    #[test]
    fn text_forms_are_what_postgres_reads() {
        let cases = [
            (Cell::Bool(true), "true"),
            (Cell::Float(f64::NAN), "NaN"),
            (Cell::Float(f64::NEG_INFINITY), "-Infinity"),
            (Cell::Float(0.1), "0.1"),
            (Cell::Float4(0.1), "0.1"),
            (Cell::Bytes(vec![0, 255, 16]), "\\x00ff10"),
            (Cell::Date(0), "2000-01-01"),
            (Cell::Date(-1), "1999-12-31"),
            (Cell::Date(i32::MAX), "infinity"),
            (Cell::Time(3_723_500_000), "01:02:03.5"),
            (Cell::Timestamp(0), "2000-01-01T00:00:00"),
            (Cell::Timestamptz(86_400_000_001), "2000-01-02T00:00:00.000001Z"),
            (Cell::Timestamptz(i64::MIN), "-infinity"),
            (Cell::Interval { months: 14, days: 3, micros: 3_723_500_000 }, "P1Y2M3DT1H2M3.5S"),
            (Cell::Interval { months: 0, days: 0, micros: 0 }, "PT0S"),
            (Cell::Interval { months: -1, days: 0, micros: -1_500_000 }, "P-1MT-1.5S"),
            (Cell::Uuid([0x12; 16]), "12121212-1212-1212-1212-121212121212"),
            (
                Cell::Array(vec![
                    Cell::Int(1),
                    Cell::Null,
                    Cell::Text("a b".into()),
                    Cell::Text("q\"\\".into()),
                    Cell::Text("".into()),
                ]),
                r#"{1,NULL,"a b","q\"\\",""}"#,
            ),
        ];
        for (cell, text) in cases {
            assert_eq!(cell.text(), text, "{cell:?}");
        }
    }
}
