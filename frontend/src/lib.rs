//! rowstream's viewer: streams the rows of any served table, view or saved query as NDJSON
//! into a compact columnar store and shows them in a table virtualized both ways, with live
//! timing figures and a Stream vs Standard comparison.
//!
//! Modules, from the wire inwards:
//! - [`stream`]: `fetch` + `ReadableStream` reader, JSON GETs, frame and yield helpers
//!   (browser only).
//! - [`catalog`]: the served relations and saved queries (`/api/tables`, `/api/queries`).
//! - [`decode`]: line splitting and NDJSON grammar checks, decoding into [`store`].
//! - [`store`]: the columnar, non-reactive row store.
//! - [`run`]: one run's lifecycle and the signals it feeds, rationed per animation frame.
//! - [`view_state`]: what is shown (source, columns, filters, order, mode, limit), the one
//!   source of the API URL and of the page's address.
//! - [`virtual_scroll`]: the table's geometry as pure functions; [`table`] renders it,
//!   [`detail`] shows one row whole.
//! - [`picker`], [`filter_bar`], [`curl`], [`download`]: choosing the source, filters and
//!   columns; the request as a curl command; saving it to disk as it streams.
//! - [`stats`], [`chart`], [`token`]: figures, comparison chart, API token handling.
//! - [`app`]: the page that wires them together.

pub mod app;
pub mod catalog;
pub mod chart;
pub mod curl;
pub mod decode;
pub mod detail;
pub mod download;
pub mod filter_bar;
pub mod picker;
pub mod run;
pub mod stats;
pub mod store;
pub mod stream;
pub mod table;
pub mod token;
pub mod view_state;
pub mod virtual_scroll;
