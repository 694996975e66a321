//! rowstream's viewer: streams `/api/messages` as NDJSON into a compact row store and shows
//! it in a virtualized table, with live timing figures and a Stream vs Standard comparison.
//!
//! Modules, from the wire inwards:
//! - [`stream`]: `fetch` + `ReadableStream` reader, frame and yield helpers (browser only).
//! - [`decode`]: line splitting and NDJSON grammar checks, decoding into [`store`].
//! - [`store`]: the compact, non-reactive row store.
//! - [`run`]: one run's lifecycle and the signals it feeds, rationed per animation frame.
//! - [`virtual_scroll`]: the table's geometry as pure functions; [`table`] renders it.
//! - [`stats`], [`chart`], [`token`]: figures, comparison chart, API token handling.
//! - [`app`]: the page that wires them together.

pub mod app;
pub mod chart;
pub mod decode;
pub mod run;
pub mod stats;
pub mod store;
pub mod stream;
pub mod table;
pub mod token;
pub mod virtual_scroll;
