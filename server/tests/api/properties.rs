//! Property tests (proptest): whatever the query string, `Accept` header, path segment or
//! form body, the answer is a 2xx with a readable body or a 4xx with the JSON error body:
//! never a 5xx, never a dropped connection. `PROPTEST_CASES` sets the cases per property
//! (default 500 here, ~0.4 s; the long form: 5000).

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};

use crate::helpers::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(500)
}

/// Parameter names: ours, near misses, and anything.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["mode", "format", "limit", "after", "batch"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["Limit", "limit ", "", "=", "&", "mode[]", "%00"]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Values: numbers at and past every edge, our words, and anything.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            "0", "-0", "+1", "1e3", "0x10", "18446744073709551616", "99999999999999999999999", " 1", "1 ", "",
            "stream", "buffered", "ndjson", "csv", "json", "text", "arrow", "NDJSON", "null", "true", "\u{0}",
        ])
        .prop_map(str::to_owned),
        1 => "[0-9]{1,30}",
        1 => any::<String>(),
    ]
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((name(), value()), 0..5)
}

fn accept() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        prop::sample::select(vec![
            "application/x-ndjson",
            "text/csv",
            "application/json",
            "text/plain",
            "application/vnd.apache.arrow.stream",
            "*/*",
            "text/*",
            "image/png",
            "application/json;q=0",
            "text/csv;q=0.5, application/json",
            ";;;",
            "",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,40}",
    ])
}

/// 2xx with its whole body, or 4xx with a JSON error body. Anything else fails the case.
async fn check(request: reqwest::RequestBuilder, what: &str) -> Result<(), TestCaseError> {
    let response = request.send().await.map_err(|e| TestCaseError::fail(format!("{what}: no answer: {e}")))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| TestCaseError::fail(format!("{what}: body cut: {e}")))?;
    if status.is_success() {
        return Ok(());
    }
    prop_assert!(status.is_client_error(), "{}: {} {}", what, status, String::from_utf8_lossy(&body));
    let error: Result<shared::ErrorBody, _> = serde_json::from_slice(&body);
    prop_assert!(error.is_ok(), "{}: {} without a JSON error body: {}", what, status, String::from_utf8_lossy(&body));
    Ok(())
}

fn runner() -> TestRunner {
    TestRunner::new(RunnerConfig { cases: cases(), failure_persistence: None, ..RunnerConfig::default() })
}

#[test]
fn any_query_string_and_accept_header_is_a_2xx_or_a_4xx_json_error() {
    let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());
    let app = rt.block_on(spawn_app(Backend::Sqlite, 50));
    let mut runner = runner();
    let strategy = (prop::sample::select(vec!["/api/messages", "/chunked", "/standard"]), query(), accept());
    runner
        .run(&strategy, |(path, pairs, accept)| {
            let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
            let mut request = app.client.get(format!("{}?{query}", app.url(path))).bearer_auth(&app.token);
            if let Some(accept) = &accept {
                match reqwest::header::HeaderValue::from_str(accept) {
                    Ok(value) => request = request.header("accept", value),
                    Err(_) => return Ok(()),
                }
            }
            rt.block_on(check(request, &format!("GET {path}?{query} Accept: {accept:?}")))
        })
        .unwrap();
    // The catch-panic layer never fired: no 5xx above, and the server still answers.
    assert_eq!(rt.block_on(app.client.get(app.url("/healthz")).send()).unwrap().status(), 200);
    drop(app);
}

#[test]
fn any_form_body_or_path_segment_is_a_2xx_or_a_4xx_json_error() {
    let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());
    let app = rt.block_on(spawn_app(Backend::Sqlite, 1));
    let mut runner = runner();
    let content_type = prop::sample::select(vec![
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=X",
        "multipart/form-data",
        "application/json",
        "text/plain",
        "",
    ]);
    let body = prop_oneof![
        prop::collection::vec((name(), value()), 0..4).prop_map(|pairs| {
            form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish().into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..200),
        Just(b"--X\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nada\r\n--X--\r\n".to_vec()),
        Just(b"--X\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nada".to_vec()),
    ];
    let strategy = (any::<String>(), content_type, body);
    runner
        .run(&strategy, |(segment, content_type, body)| {
            let segment: String =
                percent_encoding::utf8_percent_encode(&segment, percent_encoding::NON_ALPHANUMERIC).collect();
            for path in [format!("/demo1/{segment}"), "/greet".to_owned()] {
                let request = app
                    .client
                    .post(app.url(&path))
                    .bearer_auth(&app.token)
                    .header("content-type", content_type)
                    .body(body.clone());
                rt.block_on(check(request, &format!("POST {path} {content_type} {body:?}")))?;
            }
            Ok(())
        })
        .unwrap();
    drop(app);
}

/// `/api/tables/{name}/rows` parameters: `select`, filters in PostgREST's grammar, `order`,
/// `after` tokens (well-formed for the order, with keys of any type, or garbage), `limit`.
mod table_rows {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::json;

    /// A column name of `columns`, or a near miss, or anything.
    fn column(columns: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            6 => prop::sample::select(columns.to_vec()).prop_map(str::to_owned),
            1 => prop::sample::select(vec!["ID", "id ", "\"id\"", "id;--", "*", "", "select", "order", "limit"])
                .prop_map(str::to_owned),
            1 => any::<String>(),
        ]
    }

    /// Values every column type might be given: its own and every other type's, and junk.
    pub(super) fn filter_value() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "1", "-1", "0", "2147483648", "-32769", "9223372036854775808", "1.5", "1e308", "1e309", "NaN",
                "Infinity", "-infinity", "true", "FALSE", "t", "yes", "null", "NULL", "", " ", "*", "a*b", "%", "_",
                "\\", "'", "\"", "2024-02-29", "2023-02-29", "24:00:00", "2024-01-01T12:00:00Z", "infinity",
                "1 year", "P1Y", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "not-a-uuid", "{}", "[1,2]", "{\"a\":1}",
                "happy", "angry", "\\x00ff", "\\xzz", "(1,2)", "{1,2}", "\u{0}", "😀",
            ])
            .prop_map(str::to_owned),
            1 => "[0-9.eE+-]{1,12}",
            1 => any::<String>(),
        ]
    }

    fn filter(columns: &'static [&'static str]) -> impl Strategy<Value = (String, String)> {
        let op = prop::sample::select(vec![
            "eq",
            "neq",
            "gt",
            "gte",
            "lt",
            "lte",
            "like",
            "ilike",
            "in",
            "is",
            "not.eq",
            "not.in",
            "not.is",
            "not.like",
            "not.not.eq",
            "EQ",
            "",
            "cs",
            "fts",
        ]);
        let operand = prop_oneof![
            3 => filter_value(),
            1 => prop::collection::vec(filter_value(), 0..4).prop_map(|values| {
                let quoted: Vec<String> =
                    values.iter().map(|v| if v.contains(',') { format!("\"{v}\"") } else { v.clone() }).collect();
                format!("({})", quoted.join(","))
            }),
            1 => prop::sample::select(vec!["(", ")", "(\"a", "(a,\"b\"c)", "()", "(,)"]).prop_map(str::to_owned),
        ];
        (column(columns), op, operand).prop_map(|(column, op, operand)| {
            let value = if op.is_empty() { operand } else { format!("{op}.{operand}") };
            (column, value)
        })
    }

    fn order(columns: &'static [&'static str]) -> impl Strategy<Value = String> {
        let suffix = prop::sample::select(vec![
            "",
            ".asc",
            ".desc",
            ".asc.nullsfirst",
            ".desc.nullslast",
            ".nullsfirst",
            ".up",
            ".desc.desc",
            ".",
        ]);
        prop::collection::vec((column(columns), suffix), 0..4)
            .prop_map(|keys| keys.iter().map(|(c, s)| format!("{c}{s}")).collect::<Vec<_>>().join(","))
    }

    /// A token: well-formed JSON with keys of every kind (right or wrong for the columns),
    /// or base64 of anything, or not base64 at all.
    fn after(columns: &'static [&'static str]) -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just(json!("n")),
            any::<i64>().prop_map(|i| json!({ "i": i })),
            filter_value().prop_map(|f| json!({ "f": f })),
            filter_value().prop_map(|t| json!({ "t": t })),
            filter_value().prop_map(|b| json!({ "b": b })),
            Just(json!({ "x": 1 })),
            Just(json!(null)),
        ];
        let spec = (column(columns), any::<bool>(), any::<bool>()).prop_map(|(c, d, n)| json!([c, d, n]));
        let token = (prop::collection::vec(spec, 0..3), prop::collection::vec(key, 0..4))
            .prop_map(|(o, k)| URL_SAFE_NO_PAD.encode(json!({ "o": o, "k": k }).to_string()));
        prop_oneof![
            3 => token,
            1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
            1 => filter_value(),
        ]
    }

    fn query(columns: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, String)>> {
        let select = prop::collection::vec(column(columns), 1..4).prop_map(|c| ("select".to_owned(), c.join(",")));
        let limit = prop_oneof![any::<u32>().prop_map(|n| n.to_string()), Just("0".to_owned()), Just("x".to_owned())];
        (
            prop::option::of(select),
            prop::collection::vec(filter(columns), 0..4),
            prop::option::of(order(columns).prop_map(|o| ("order".to_owned(), o))),
            prop::option::of(after(columns).prop_map(|a| ("after".to_owned(), a))),
            prop::option::of(limit.prop_map(|l| ("limit".to_owned(), l))),
            prop::sample::select(vec!["ndjson", "csv", "json", "text", "arrow"]),
            prop::sample::select(vec!["stream", "buffered"]),
        )
            .prop_map(|(select, filters, order, after, limit, format, mode)| {
                let mut pairs: Vec<(String, String)> = select.into_iter().collect();
                pairs.extend(filters);
                pairs.extend(order);
                pairs.extend(after);
                pairs.extend(limit);
                pairs.push(("format".to_owned(), format.to_owned()));
                pairs.push(("mode".to_owned(), mode.to_owned()));
                pairs
            })
    }

    /// 2xx with a whole body (NDJSON without an error frame), or 4xx with a JSON error body.
    pub(super) async fn check_rows(request: reqwest::RequestBuilder, what: &str) -> Result<(), TestCaseError> {
        let response = request.send().await.map_err(|e| TestCaseError::fail(format!("{what}: no answer: {e}")))?;
        let status = response.status();
        let ndjson =
            response.headers().get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"application/x-ndjson"));
        let body = response.bytes().await.map_err(|e| TestCaseError::fail(format!("{what}: body cut: {e}")))?;
        if status.is_success() {
            if ndjson {
                for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    let frame = shared::parse_table_line(line);
                    prop_assert!(
                        !matches!(frame, Ok(shared::TableFrame::Error(_)) | Err(_)),
                        "{}: {}",
                        what,
                        String::from_utf8_lossy(line)
                    );
                }
            }
            return Ok(());
        }
        prop_assert!(status.is_client_error(), "{}: {} {}", what, status, String::from_utf8_lossy(&body));
        let error: Result<shared::ErrorBody, _> = serde_json::from_slice(&body);
        prop_assert!(
            error.is_ok(),
            "{}: {} without a JSON error body: {}",
            what,
            status,
            String::from_utf8_lossy(&body)
        );
        Ok(())
    }

    fn run(backend: Backend, setup: &str, table: &'static str, columns: &'static [&'static str]) {
        let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());
        let app = rt.block_on(crate::tables::app_with(backend, setup));
        let mut runner = runner();
        runner
            .run(&query(columns), |pairs| {
                let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
                let path = format!("/api/tables/{table}/rows?{query}");
                rt.block_on(check_rows(app.get(&path), &format!("GET {path}")))
            })
            .unwrap();
        assert_eq!(rt.block_on(app.client.get(app.url("/healthz")).send()).unwrap().status(), 200);
        drop(app);
    }

    const PG_COLUMNS: &[&str] = &[
        "id", "i2", "i4", "f4", "f8", "n", "b", "t", "vc", "ch", "by", "d", "tm", "ts", "tstz", "iv", "u", "j", "jb",
        "e", "ai", "at", "an", "pt",
    ];

    #[test]
    fn postgres_any_filter_order_select_and_token_is_a_2xx_or_a_4xx_json_error() {
        run(Backend::Postgres, crate::tables::PG_ALL_TYPES, "all_types", PG_COLUMNS);
    }

    #[test]
    fn sqlite_any_filter_order_select_and_token_is_a_2xx_or_a_4xx_json_error() {
        let setup = crate::tables::items_setup(Backend::Sqlite);
        run(Backend::Sqlite, setup, "items", &["id", "name", "qty", "price", "tag", "flag", "d"]);
    }
}

/// `/api/queries/{name}/rows`: any parameter names and values (typed int2, int8, numeric,
/// float8, bool, date, timestamptz, uuid, int4[], text with a default), with `limit`,
/// `format` and `mode`.
mod saved_query_parameters {
    use rowstream::source::saved::{ParamSpec, SavedQueryDef};
    use rowstream::source::Dialect;

    use super::table_rows::{check_rows, filter_value};
    use super::*;

    const PARAMS: &[(&str, &str)] = &[
        ("small", "int2"),
        ("big", "int8"),
        ("amount", "numeric"),
        ("ratio", "float8"),
        ("flag", "bool"),
        ("day", "date"),
        ("at", "timestamptz"),
        ("id", "uuid"),
        ("ids", "int4[]"),
    ];

    /// SQLite has no arrays: every parameter but `ids`.
    fn params(dialect: Dialect) -> &'static [(&'static str, &'static str)] {
        match dialect {
            Dialect::Postgres => PARAMS,
            Dialect::Sqlite => &PARAMS[..PARAMS.len() - 1],
        }
    }

    fn query(dialect: Dialect) -> SavedQueryDef {
        let mut specs: Vec<ParamSpec> = params(dialect)
            .iter()
            .map(|(name, type_name)| ParamSpec { name: (*name).into(), type_name: (*type_name).into(), default: None })
            .collect();
        specs.push(ParamSpec { name: "label".into(), type_name: "text".into(), default: Some("x".into()) });
        let sql = match dialect {
            Dialect::Postgres => {
                "select :small as small, :big as big, :amount as amount, :ratio as ratio, :flag as flag, :day as day, \
                 :at as at, :id as id, :ids as ids, :label as label from generate_series(1, 3) g"
            }
            Dialect::Sqlite => {
                "select :small as small, :big as big, :amount as amount, :ratio as ratio, :flag as flag, :day as day, \
                 :at as at, :id as id, :label as label from (select 1 union all select 2)"
            }
        };
        SavedQueryDef::new("every_param", sql, &specs, dialect).expect("saved query")
    }

    fn pairs(dialect: Dialect) -> impl Strategy<Value = Vec<(String, String)>> {
        let params = params(dialect);
        let mut names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
        names.extend(["label", "limit", "format", "mode", "batch", "Big", ""]);
        let name = prop_oneof![8 => prop::sample::select(names).prop_map(str::to_owned), 1 => any::<String>()];
        let value = prop_oneof![
            4 => filter_value(),
            1 => prop::sample::select(vec!["{1,2,3}", "{}", "{1,NULL}", "{a}", "2024-02-29T12:00:00+02:00", "csv", "arrow", "buffered"])
                .prop_map(str::to_owned),
        ];
        // Mostly every parameter once, with one of them replaced or repeated.
        // Each parameter mostly with a value of its type (edges included), else anything.
        let typed = |type_name: &str| -> Vec<&'static str> {
            match type_name {
                "int2" => vec!["0", "-32768", "32767", "32768"],
                "int8" => vec!["1", "-9223372036854775808", "9223372036854775807"],
                "numeric" => vec!["1.5", "123456789012345678901234567890.123", "NaN", "-0"],
                "float8" => vec!["0.5", "1e308", "-Infinity", "NaN"],
                "bool" => vec!["true", "false", "t", "0"],
                "date" => vec!["2024-02-29", "1970-01-01", "infinity"],
                "timestamptz" => vec!["2024-01-01T12:00:00Z", "2024-01-01 12:00:00+02", "-infinity"],
                "uuid" => vec!["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"],
                _ => vec!["{1,2,3}", "{}", "{NULL,1}"],
            }
        };
        let values: Vec<_> = params
            .iter()
            .map(|(_, type_name)| {
                prop_oneof![3 => prop::sample::select(typed(type_name)).prop_map(str::to_owned), 1 => filter_value()]
            })
            .collect();
        let complete = values.prop_map(move |values| {
            params.iter().zip(values).map(|((name, _), value)| ((*name).to_owned(), value)).collect::<Vec<_>>()
        });
        (complete, prop::collection::vec((name, value), 0..2)).prop_map(|(mut all, extra)| {
            all.extend(extra);
            all
        })
    }

    fn run(backend: Backend, dialect: Dialect) {
        let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());
        let app = rt.block_on(async {
            let db = TestDb::new(backend).await;
            spawn_app_on(db, |c| c.queries = vec![query(dialect)]).await
        });
        let mut runner = runner();
        runner
            .run(&pairs(dialect), |pairs| {
                let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
                let path = format!("/api/queries/every_param/rows?{query}");
                rt.block_on(check_rows(app.get(&path), &format!("GET {path}")))
            })
            .unwrap();
        assert_eq!(rt.block_on(app.client.get(app.url("/healthz")).send()).unwrap().status(), 200);
        drop(app);
    }

    #[test]
    fn postgres_any_parameter_value_is_a_2xx_or_a_4xx_json_error() {
        run(Backend::Postgres, Dialect::Postgres);
    }

    #[test]
    fn sqlite_any_parameter_value_is_a_2xx_or_a_4xx_json_error() {
        run(Backend::Sqlite, Dialect::Sqlite);
    }
}
