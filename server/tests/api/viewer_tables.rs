//! The viewer on any relation, in a real headless Chromium against a real server: typed
//! cells (NULL apart from the empty string and the text `null`), sorting by header clicks
//! and filtering through the filter bar (the visible rows compared with the API's answer
//! for the request the page shows as curl), the address bar restoring the view on reload, a
//! 400 filter shown, the row detail panel, a download of the same view, a saved query with
//! its parameter form, and a
//! 45-column view virtualized sideways. Screenshots of each state go to
//! `target/tmp/screenshots/viewer-tables-*.png`.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::*;
use crate::tables::{app_with, exec, PG_ALL_TYPES};
use crate::viewer::ONE_BROWSER_AT_A_TIME;

const PG_TYPED: &str = r#"CREATE TABLE typed (id integer PRIMARY KEY, name text, note text, amount numeric,
    flag boolean, doc jsonb, tags text[], at timestamptz);
INSERT INTO typed VALUES
 (1, 'alpha', NULL, 12.5, true, '{"a": [1, 2], "s": "x"}', '{x,y}', '2024-01-01 00:00:00+00'),
 (2, 'beta', '', 123456789012345678901234567890.123, false, '"str"', '{}', NULL),
 (3, 'gamma', 'null', -3, NULL, 'null', NULL, '2024-06-01 12:30:00+00'),
 (4, 'alpha two', 'tab	here', 7, true, NULL, '{"a b",NULL}', '2025-01-01 00:00:00+00');"#;

const SQLITE_TYPED: &str = r#"CREATE TABLE typed (id INTEGER PRIMARY KEY, name TEXT, note TEXT, amount REAL, data BLOB);
INSERT INTO typed VALUES (1, 'alpha', NULL, 12.5, x'00ff'), (2, 'beta', '', -1e300, NULL), (3, 'gamma', 'null', 3, x'');"#;

/// Opens the page at `?query` with the token in the fragment.
pub async fn open_at(browser: &Browser, app: &TestApp, query: &str) {
    let url = format!("http://{}/?{query}#token={}", app.addr, app.token);
    browser.client.goto(&url).await.expect("open viewer");
    browser.wait_for("[data-testid=\"start\"]", Duration::from_secs(20)).await;
}

/// Waits for the run to end; returns its status.
async fn ended(browser: &Browser) -> String {
    // A run that starts from a click or a load may not have begun when this is called.
    tokio::time::sleep(Duration::from_millis(150)).await;
    browser.wait_status(&["done", "failed", "cancelled"], Duration::from_secs(30)).await
}

/// The rendered cells of `column`, top to bottom: (text, NULL?, class).
async fn cells(browser: &Browser, column: &str) -> Vec<(String, bool, String)> {
    let script = format!(
        "return [...document.querySelectorAll('[data-testid=\"cell\"][data-column=\"{column}\"]')]\
         .map(e => [e.textContent, e.dataset.null === 'true', e.className]);"
    );
    serde_json::from_value(browser.js(&script).await).expect("cells")
}

async fn ids(browser: &Browser) -> Vec<i64> {
    cells(browser, "id").await.iter().map(|(text, _, _)| text.parse().expect("an id")).collect()
}

/// The request the page shows as curl (its path and query); the command never carries the
/// token.
async fn curl_path(browser: &Browser, app: &TestApp) -> String {
    let command = browser.text("curl-command").await;
    assert!(command.starts_with("curl -N -H \"Authorization: Bearer $ROWSTREAM_TOKEN\" '"), "{command}");
    assert!(!command.contains(&app.token), "the command must not carry the token");
    let url = command.rsplit_once('\'').map(|(head, _)| head).and_then(|h| h.rsplit_once('\'')).expect("quoted").1;
    url.strip_prefix(&format!("http://{}", app.addr)).expect("same origin").to_owned()
}

/// The ids the API answers for the request the page shows as curl.
async fn api_ids(browser: &Browser, app: &TestApp) -> Vec<i64> {
    let (_, body) = app.body(&curl_path(browser, app).await).await;
    body.lines()
        .filter(|line| !shared::is_control_line(line.as_bytes()))
        .map(|line| serde_json::from_str::<Value>(line).expect("row")["id"].as_i64().expect("id"))
        .collect()
}

/// Every rendered cell, scrolling the table sideways across all its columns: column name →
/// per row, (text, NULL?).
const ALL_CELLS: &str = r#"
    const done = arguments[arguments.length - 1];
    const el = document.querySelector('[data-testid="table-scroll"]');
    const frame = () => new Promise(r => requestAnimationFrame(() => r()));
    const seen = {};
    (async () => {
        for (let left = 0; ; left += el.clientWidth / 2) {
            el.scrollLeft = left;
            await frame(); await frame();
            for (const c of document.querySelectorAll('[data-testid="cell"]')) {
                const row = Number(c.closest('[data-testid="row"]').getAttribute('aria-rowindex')) - 2;
                (seen[c.dataset.column] ??= [])[row] = [c.textContent, c.dataset.null === 'true'];
            }
            if (left >= el.scrollWidth) break;
        }
        el.scrollLeft = 0;
        done(seen);
    })();
"#;

/// What each cell must show for the API's answer to the request in the curl line (a
/// relation's rows, all columns), read with the reader the viewer uses: NULL as `NULL`,
/// strings unescaped, numbers as written, arrays and objects as their JSON text, a JSON
/// column's string as JSON.
async fn api_cells(browser: &Browser, app: &TestApp) -> std::collections::BTreeMap<String, Vec<(String, bool)>> {
    use shared::{RowReader, RowSink, RowValue};
    struct Cells<'n> {
        names: &'n [String],
        json: Vec<bool>,
        out: std::collections::BTreeMap<String, Vec<(String, bool)>>,
    }
    impl<'a> RowSink<'a> for Cells<'_> {
        fn value(&mut self, column: usize, value: RowValue<'a>) {
            let text = match value {
                RowValue::Null => ("NULL".to_owned(), true),
                RowValue::Bool(b) => (b.to_string(), false),
                RowValue::Number(n) | RowValue::Nested(n) => (n.to_owned(), false),
                RowValue::String(s) if self.json[column] => (Value::from(s.as_ref()).to_string(), false),
                RowValue::String(s) => (s.into_owned(), false),
            };
            self.out.entry(self.names[column].clone()).or_default().push(text);
        }
        fn restart(&mut self) {
            panic!("the server writes the canonical form");
        }
    }
    let path = curl_path(browser, app).await;
    let (_, body) = app.body(&path).await;
    // The columns, in order, and which are JSON, from the relation's schema.
    let relation = path.strip_prefix("/api/tables/").and_then(|p| p.split('/').next()).expect("a relation's rows");
    let (_, schema) = app.body(&format!("/api/tables/{relation}")).await;
    let schema: shared::Relation = serde_json::from_str(&schema).expect("the relation");
    let names: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
    let json = schema
        .columns
        .iter()
        .map(|c| matches!(c.column_type, shared::ColumnType::Json | shared::ColumnType::Jsonb))
        .collect();
    let reader = RowReader::new(&names);
    let mut cells = Cells { names: &names, json, out: Default::default() };
    for line in body.lines().filter(|l| !shared::is_control_line(l.as_bytes())) {
        reader.read(line.as_bytes(), &mut cells).expect("a row line");
    }
    cells.out
}

/// Checks every cell of the table against the API's answer, column by column.
async fn assert_cells_match_the_api(browser: &Browser, app: &TestApp) {
    let shown: std::collections::BTreeMap<String, Vec<(String, bool)>> =
        serde_json::from_value(browser.client.execute_async(ALL_CELLS, vec![]).await.expect("cells")).unwrap();
    let expected = api_cells(browser, app).await;
    assert_eq!(shown.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "every column was seen");
    for (column, cells) in &expected {
        assert_eq!(&shown[column], cells, "column {column}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_shows_as_the_api_sends_it() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let app = app_with(Backend::Postgres, PG_ALL_TYPES).await;
    let browser = Browser::start().await;
    open_at(&browser, &app, "relation=all_types").await;
    assert_eq!(ended(&browser).await, "done");
    assert_cells_match_the_api(&browser, &app).await;
    // Spot checks of the rule the comparison applies.
    let t = cells(&browser, "t").await;
    assert_eq!((t[1].0.as_str(), t[1].1, t[2].0.as_str(), t[2].1), ("NULL", true, "null", false));
    browser.screenshot("viewer-tables-all-types.png").await;
    browser.close().await;

    let app = app_with(Backend::Sqlite, SQLITE_TYPED).await;
    let browser = Browser::start().await;
    open_at(&browser, &app, "relation=typed").await;
    assert_eq!(ended(&browser).await, "done");
    assert_cells_match_the_api(&browser, &app).await;
    browser.close().await;
}

/// Sets a `<select>` or `<input>` the way a user does (value, then `input` and `change`).
pub async fn set_value(browser: &Browser, testid: &str, value: &str) {
    let script = format!(
        "const el = document.querySelector('[data-testid=\"{testid}\"]'); el.value = {value}; \
         el.dispatchEvent(new Event('input', {{ bubbles: true }})); \
         el.dispatchEvent(new Event('change', {{ bubbles: true }})); return el.value;",
        value = serde_json::to_string(value).unwrap()
    );
    assert_eq!(browser.js(&script).await, Value::from(value), "{testid}");
}

async fn click_header(browser: &Browser, column: &str) {
    browser
        .client
        .find(Locator::Css(&format!("[data-testid=\"column-header\"][data-column=\"{column}\"]")))
        .await
        .expect("header")
        .click()
        .await
        .expect("click header");
}

async fn add_filter(browser: &Browser, column: &str, op: &str, value: &str) {
    set_value(browser, "filter-column", column).await;
    set_value(browser, "filter-op", op).await;
    set_value(browser, "filter-value", value).await;
    browser.click("filter-add").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_table_typed_sorted_filtered_and_restored_on_postgres() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let app = app_with(Backend::Postgres, PG_TYPED).await;
    let browser = Browser::start().await;
    // The address names the relation: the page loads its schema and runs it.
    open_at(&browser, &app, "relation=typed").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [1, 2, 3, 4]);
    let headers: Vec<String> = serde_json::from_value(
        browser
            .js("return [...document.querySelectorAll('[data-testid=\"column-header\"]')].map(e => e.dataset.column);")
            .await,
    )
    .unwrap();
    // Columns are rendered as far as the table is wide (virtualized sideways).
    let all = ["id", "name", "note", "amount", "flag", "doc", "tags", "at"];
    assert!(
        headers.len() >= 4 && all.starts_with(&headers.iter().map(String::as_str).collect::<Vec<_>>()),
        "{headers:?}"
    );

    // NULL, the empty string and the text "null" are three different cells.
    let note = cells(&browser, "note").await;
    assert_eq!((note[0].0.as_str(), note[0].1), ("NULL", true));
    assert_eq!((note[1].0.as_str(), note[1].1), ("", false));
    assert_eq!((note[2].0.as_str(), note[2].1), ("null", false));
    assert_eq!(note[3].0, "tab\there");
    let amount = cells(&browser, "amount").await;
    assert_eq!(amount[1].0, "123456789012345678901234567890.123", "every digit");
    assert!(amount[0].2.contains("num"), "numbers are right-aligned: {}", amount[0].2);
    // (A jsonb `null` and SQL NULL are both `null` in NDJSON: the viewer shows NULL.)
    let doc = cells(&browser, "doc").await;
    assert_eq!(doc[0].0, r#"{"a": [1, 2], "s": "x"}"#);
    assert_eq!((doc[1].0.as_str(), doc[2].0.as_str(), doc[3].1), (r#""str""#, "NULL", true));
    assert_eq!(cells(&browser, "tags").await[3].0, r#"["a b",null]"#);
    assert_eq!(
        cells(&browser, "flag").await.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["true", "false", "NULL", "true"]
    );
    browser.screenshot("viewer-tables-typed.png").await;
    browser.js("const el = document.querySelector('[data-testid=\"table-scroll\"]'); el.scrollLeft = el.scrollWidth; return true;").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cells(&browser, "at").await.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["2024-01-01T00:00:00Z", "NULL", "2024-06-01T12:30:00Z", "2025-01-01T00:00:00Z"]
    );
    browser.screenshot("viewer-tables-typed-right.png").await;
    browser.js("document.querySelector('[data-testid=\"table-scroll\"]').scrollLeft = 0; return true;").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A click on a row shows it whole; JSON indented.
    browser.client.find(Locator::Css("[data-testid=\"row\"]")).await.unwrap().click().await.unwrap();
    let detail = browser.text("detail").await;
    assert!(detail.contains("\"a\": [\n") || detail.contains("\"a\": ["), "{detail}");
    assert!(detail.contains("Row 1"), "{detail}");
    browser.screenshot("viewer-tables-detail.png").await;

    // Header clicks sort on the server: asc, then desc.
    click_header(&browser, "amount").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [3, 4, 1, 2]);
    assert_eq!(ids(&browser).await, api_ids(&browser, &app).await);
    click_header(&browser, "amount").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [2, 1, 4, 3]);
    assert_eq!(ids(&browser).await, api_ids(&browser, &app).await);

    // The filter bar: name like alpha*.
    add_filter(&browser, "name", "like", "alpha*").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [1, 4]);
    assert_eq!(ids(&browser).await, api_ids(&browser, &app).await);
    let search: String = serde_json::from_value(browser.js("return location.search;").await).unwrap();
    assert!(search.contains("relation=typed") && search.contains("order=amount.desc"), "{search}");
    assert!(search.contains("name=like.alpha*"), "{search}");
    assert!(
        !search.contains(&app.token) && !browser.js("return location.href;").await.to_string().contains(&app.token)
    );
    browser.screenshot("viewer-tables-sorted-filtered.png").await;

    // Download: the same view as CSV through a link the browser follows (recorded here
    // instead of saved, headless).
    browser.js("window.__downloads = []; HTMLAnchorElement.prototype.click = function () { window.__downloads.push(this.href); }; return true;").await;
    set_value(&browser, "curl-format", "csv").await;
    browser.click("download").await;
    let mut href = None;
    for _ in 0..100 {
        href = browser.js("return window.__downloads[0] ?? null;").await.as_str().map(str::to_owned);
        if href.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let href = href.expect("the download link was followed");
    assert!(href.contains("format=csv") && href.contains("download="), "{href}");
    let response = reqwest::get(&href).await.unwrap();
    assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"typed.csv\"");
    let csv = response.text().await.unwrap();
    let csv_ids: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!((csv.lines().next(), csv_ids), (Some("id,name,note,amount,flag,doc,tags,at"), vec!["1", "4"]), "{csv}");

    // Reloading restores the view: same filter, same order, same rows.
    browser.client.refresh().await.expect("reload");
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [1, 4]);
    assert_eq!(browser.count("filter").await, 1);
    let sorted: String = serde_json::from_value(
        browser.js("return document.querySelector('[data-testid=\"column-header\"][data-column=\"amount\"]').getAttribute('aria-sort');").await,
    )
    .unwrap();
    assert_eq!(sorted, "descending");

    // A value the column's type cannot take: the API's 400, naming the parameter, is shown.
    add_filter(&browser, "amount", "gt", "abc").await;
    assert_eq!(ended(&browser).await, "failed");
    let notice: String =
        serde_json::from_value(browser.js("return document.querySelector('.notice').textContent;").await).unwrap();
    assert!(notice.contains("400") && notice.contains("amount"), "{notice}");
    browser.screenshot("viewer-tables-bad-filter.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_table_on_sqlite_and_a_saved_query_with_its_parameters() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let db = TestDb::new(Backend::Sqlite).await;
    exec(&db, SQLITE_TYPED).await;
    let query = rowstream::source::saved::SavedQueryDef::new(
        "from_id",
        "select id, name from typed where id >= :first order by id",
        &[rowstream::source::saved::ParamSpec { name: "first".into(), type_name: "bigint".into(), default: None }],
        rowstream::source::Dialect::Sqlite,
    )
    .unwrap();
    let app = spawn_app_on(db, |c| c.queries = vec![query]).await;
    let browser = Browser::start().await;
    open_at(&browser, &app, "").await;
    // No relation in the address: the picker lists them; choosing one shows its columns.
    browser.wait_for("[data-testid=\"relation\"] option[value=\"query:from_id\"]", Duration::from_secs(10)).await;
    set_value(&browser, "relation", "typed").await;
    browser.click("start").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [1, 2, 3]);
    let note = cells(&browser, "note").await;
    assert_eq!(
        note.iter().map(|c| (c.0.as_str(), c.1)).collect::<Vec<_>>(),
        [("NULL", true), ("", false), ("null", false)]
    );
    assert_eq!(
        cells(&browser, "data").await.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["\\x00ff", "NULL", "\\x"]
    );
    assert_eq!(cells(&browser, "amount").await[1].0, "-1e300");
    // Sorting and filtering on SQLite, against the API's answer for the same request.
    click_header(&browser, "amount").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [2, 3, 1]);
    assert_eq!(ids(&browser).await, api_ids(&browser, &app).await);
    add_filter(&browser, "note", "is", "null").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [1]);
    assert_eq!(ids(&browser).await, api_ids(&browser, &app).await);
    browser.screenshot("viewer-tables-sqlite.png").await;

    // The saved query asks for its parameter.
    set_value(&browser, "relation", "query:from_id").await;
    assert!(browser.exists("param").await, "a parameter form");
    set_value(&browser, "param", "2").await;
    browser.click("start").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(ids(&browser).await, [2, 3]);
    let search: String = serde_json::from_value(browser.js("return location.search;").await).unwrap();
    assert!(search.contains("query=from_id") && search.contains("first=2"), "{search}");
    // A missing parameter is the API's 400, shown.
    set_value(&browser, "param", "").await;
    browser.click("start").await;
    assert_eq!(ended(&browser).await, "failed");
    browser.screenshot("viewer-tables-saved-query.png").await;
    browser.close().await;
}

/// What the table renders: distinct columns among the cells, cells, rows, header columns.
async fn rendered(browser: &Browser) -> (usize, usize, usize, Vec<String>) {
    let script =
        "const cols = new Set([...document.querySelectorAll('[data-testid=\"cell\"]')].map(e => e.dataset.column)); \
         return [cols.size, document.querySelectorAll('[data-testid=\"cell\"]').length, \
                 document.querySelectorAll('[data-testid=\"row\"]').length, \
                 [...document.querySelectorAll('[data-testid=\"column-header\"]')].map(e => e.dataset.column)];";
    serde_json::from_value(browser.js(script).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_of_45_columns_scrolls_sideways_with_a_bounded_dom() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let db = TestDb::new(Backend::Postgres).await;
    let columns: Vec<String> = (1..=45).map(|i| format!("g * {i} AS c{i:02}")).collect();
    exec(&db, &format!("CREATE VIEW wide45 AS SELECT {} FROM generate_series(1, 5000) g", columns.join(", "))).await;
    let app = spawn_app_on(db, |_| {}).await;
    let browser = Browser::start().await;
    open_at(&browser, &app, "relation=wide45").await;
    assert_eq!(ended(&browser).await, "done");
    assert_eq!(browser.text("row-count").await, "5000");
    let (columns_shown, cells_shown, rows_shown, headers) = rendered(&browser).await;
    assert!(columns_shown < 30 && headers.len() < 30, "{columns_shown} columns rendered of 45");
    assert!(rows_shown <= 200 && cells_shown <= rows_shown * columns_shown, "{rows_shown} rows, {cells_shown} cells");
    assert_eq!(headers.first().map(String::as_str), Some("c01"));
    browser.js("const el = document.querySelector('[data-testid=\"table-scroll\"]'); el.scrollLeft = el.scrollWidth; return true;").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (columns_shown, _, _, headers) = rendered(&browser).await;
    assert!(columns_shown < 30, "{columns_shown}");
    assert_eq!(headers.last().map(String::as_str), Some("c45"), "{headers:?}");
    assert!(!headers.contains(&"c01".to_owned()), "{headers:?}");
    let last = cells(&browser, "c45").await;
    assert_eq!(last.last().map(|c| c.0.as_str()), Some("225000"), "row 5000 × 45");
    browser.screenshot("viewer-tables-45-columns.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_from_the_role_claim_is_shown() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let db = TestDb::new(Backend::Postgres).await;
    exec(&db, PG_TYPED).await;
    // Each request runs as the token's role; the test token has no role claim.
    let app = spawn_app_on(db, |c| c.jwt_role_claim = Some("role".into())).await;
    let browser = Browser::start().await;
    open_at(&browser, &app, "relation=typed").await;
    let mut notice = String::new();
    for _ in 0..100 {
        notice =
            serde_json::from_value(browser.js("return document.querySelector('.notice').textContent;").await).unwrap();
        if !notice.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(notice.contains("403") && notice.contains("forbidden_role"), "{notice}");
    browser.screenshot("viewer-tables-403.png").await;
    browser.close().await;
}
