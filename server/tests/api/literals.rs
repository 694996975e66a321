//! `source::literal` against the real PostgreSQL: for arbitrary strings (quotes,
//! backslashes, `$$`, comment markers, any Unicode but NUL), bytes and numbers, `SELECT
//! <literal>` returns exactly the value, with `standard_conforming_strings` on and off, and
//! `SELECT <literal>, 'end'` still has its two columns (the literal ended where it should:
//! nothing of the value ran as SQL). `PROPTEST_CASES` sets the cases (default 300).

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use rowstream::source::literal::literal;
use rowstream::source::{Bind, Param};
use sqlx::postgres::PgRow;
use sqlx::{Connection as _, PgConnection, Row as _};

use crate::helpers::postgres_base_url;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

fn param(bind: Bind, cast: Option<&str>) -> Param {
    Param { bind, cast: cast.map(str::to_owned), check: false, origin: "p".into() }
}

/// Text that tries to leave its quotes: the characters that matter, often.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![
            "'", "''", "\\", "\\'", "'\\", "$$", "$a$", "--", "/*", "*/", ";", "E'", "U&'", "\\x41", "\\\\", "\n",
            "\r", "\t", "\"", "é", "😀", " ", "' OR 1=1 --", "'); DROP TABLE x; --",
        ])
        .prop_map(str::to_owned),
        1 => "[^\u{0}]{0,8}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Bytes(Vec<u8>),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => hostile_text().prop_map(Value::Text),
        1 => any::<String>().prop_map(|s| Value::Text(s.replace('\0', ""))),
        2 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        1 => any::<i16>().prop_map(Value::I16),
        1 => any::<i32>().prop_map(Value::I32),
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()].prop_map(Value::I64),
        1 => any::<f32>().prop_map(Value::F32),
        2 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-0.0), Just(f64::MIN_POSITIVE), any::<f64>()].prop_map(Value::F64),
        1 => any::<bool>().prop_map(Value::Bool),
    ]
}

fn bind(value: &Value) -> Bind {
    match value {
        Value::Text(s) => Bind::Text(s.clone()),
        Value::Bytes(b) => Bind::Bytes(b.clone()),
        Value::I16(v) => Bind::I16(*v),
        Value::I32(v) => Bind::I32(*v),
        Value::I64(v) => Bind::I64(*v),
        Value::F32(v) => Bind::F32(*v),
        Value::F64(v) => Bind::F64(*v),
        Value::Bool(v) => Bind::Bool(*v),
    }
}

/// Whether column 0 of `row` is exactly `value`.
fn same(row: &PgRow, value: &Value) -> Result<(), TestCaseError> {
    let got = |e: sqlx::Error| TestCaseError::fail(format!("decode: {e}"));
    match value {
        Value::Text(s) => prop_assert_eq!(&row.try_get::<String, _>(0).map_err(got)?, s),
        Value::Bytes(b) => prop_assert_eq!(&row.try_get::<Vec<u8>, _>(0).map_err(got)?, b),
        Value::I16(v) => prop_assert_eq!(row.try_get::<i16, _>(0).map_err(got)?, *v),
        Value::I32(v) => prop_assert_eq!(row.try_get::<i32, _>(0).map_err(got)?, *v),
        Value::I64(v) => prop_assert_eq!(row.try_get::<i64, _>(0).map_err(got)?, *v),
        Value::F32(v) => prop_assert_eq!(row.try_get::<f32, _>(0).map_err(got)?.to_bits(), canonical32(*v)),
        Value::F64(v) => prop_assert_eq!(row.try_get::<f64, _>(0).map_err(got)?.to_bits(), canonical64(*v)),
        Value::Bool(v) => prop_assert_eq!(row.try_get::<bool, _>(0).map_err(got)?, *v),
    }
    Ok(())
}

/// PostgreSQL keeps one NaN: compare NaNs as NaN, everything else bit for bit.
fn canonical64(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

fn canonical32(v: f32) -> u32 {
    if v.is_nan() {
        f32::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

#[test]
fn every_literal_reads_back_exactly_and_never_leaves_its_quotes() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let connect = |setting: &'static str| {
        rt.block_on(async {
            let mut conn = PgConnection::connect(&postgres_base_url()).await.expect("PostgreSQL");
            sqlx::raw_sql(&format!("SET standard_conforming_strings = {setting}")).execute(&mut conn).await.unwrap();
            conn
        })
    };
    let connections = RefCell::new([connect("on"), connect("off")]);
    let mut runner =
        TestRunner::new(RunnerConfig { cases: cases(), failure_persistence: None, ..RunnerConfig::default() });
    runner
        .run(&value(), |value| {
            let sql = literal(&param(bind(&value), None)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for conn in connections.borrow_mut().iter_mut() {
                // Simple protocol (as COPY runs) and extended protocol.
                let statement = format!("SELECT {sql}, 'end'");
                let row = rt.block_on(sqlx::query(&statement).persistent(false).fetch_one(&mut *conn));
                let row = row.map_err(|e| TestCaseError::fail(format!("{statement}: {e}")))?;
                prop_assert_eq!(row.len(), 2, "{}", statement);
                prop_assert_eq!(row.try_get::<String, _>(1).unwrap(), "end");
                same(&row, &value)?;
                let rows = rt.block_on(sqlx::raw_sql(&statement).fetch_all(&mut *conn));
                let rows = rows.map_err(|e| TestCaseError::fail(format!("{statement}: {e}")))?;
                prop_assert_eq!(rows.len(), 1, "{}", statement);
                prop_assert_eq!(rows[0].len(), 2, "{}", statement);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn text_literals_take_the_parameters_cast() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut conn = PgConnection::connect(&postgres_base_url()).await.expect("PostgreSQL");
        let cases = [
            (param(Bind::Text("2024-02-29".into()), Some("date")), "2024-02-29"),
            (
                param(Bind::Text("123456789012345678901234567890.5".into()), Some("numeric")),
                "123456789012345678901234567890.5",
            ),
            (param(Bind::Text("{1,NULL,3}".into()), Some("int4[]")), "{1,NULL,3}"),
            (param(Bind::Text("{\"a\": \"\\\\'\"}".into()), Some("jsonb")), "{\"a\": \"\\\\'\"}"),
            (param(Bind::Null, Some("int8")), "NULL"),
        ];
        for (p, expected) in cases {
            let sql = format!("SELECT CAST({} AS text)", literal(&p).unwrap());
            let got: Option<String> = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
            assert_eq!(got.as_deref().unwrap_or("NULL"), expected, "{sql}");
        }
        // A value the type refuses is a data exception (class 22), as a bound one is.
        let bad = literal(&param(Bind::Text("2024-02-30".into()), Some("date"))).unwrap();
        let error = sqlx::query(&format!("SELECT {bad}")).execute(&mut conn).await.unwrap_err();
        let code = error.as_database_error().and_then(|e| e.code()).unwrap_or_default().into_owned();
        assert!(code.starts_with("22"), "{code}: {error}");
    });
}
