//! rowstream: streams large SQL results to HTTP clients as they are read.
//!
//! The server answers `GET /api/messages` (and the seed-compatible `/standard` and
//! `/chunked`) by reading rows from SQLite or PostgreSQL with a sqlx `fetch` stream, encoding
//! them in batches and handing each batch to hyper as one HTTP chunk. Memory stays flat
//! whatever the number of rows; a client that goes away stops the query.
//!
//! Layout (one concept per file):
//! - [`cli`]: the `rowstream` command line (`serve`, `seed`, `token`).
//! - [`config`]: settings from flags, then environment, then an optional TOML file.
//! - [`startup`]: [`startup::Application::build`] and [`startup::run`]`(listener, router, shutdown)`
//!   (graceful shutdown: drain, then cut what is left after the grace period).
//! - [`routes`]: one file per endpoint group; [`routes::router`] puts them together.
//! - [`params`]: strict parsing of query parameters into `shared::MessagesQuery`.
//! - [`auth`]: HS256 JWTs: issuing, and the middleware that guards the data routes (and
//!   reads the request's database role, `--jwt-role-claim`).
//! - [`db`]: the [`db::Database`] pool (PostgreSQL or SQLite), migrations, the row streams,
//!   the read-only transaction every stream reads in.
//! - [`encode`]: one encoder per wire format (NDJSON, CSV, JSON, text, the seed's lines).
//! - [`introspect`]: the served relations, read from the database's catalogs.
//! - [`source`]: the SQL over those relations (the only place that writes it): filters,
//!   order, keyset resume; saved queries, ad-hoc SQL (`:name` placeholders, the read-only
//!   check), `SET LOCAL ROLE`.
//! - [`cell`]: one value of any relation's row; [`wire`]: those rows in every format
//!   (NDJSON, JSON, CSV, COPY text, Arrow IPC).
//! - [`body`]: turns a row stream into a chunked HTTP body, or into one buffered body; the
//!   first-row timeout.
//! - [`seed`]: deterministic test data, written with COPY (PostgreSQL) or batched inserts.
//! - [`metrics`]: counters for streams and rows, served at `/metrics`.
//! - [`memory`]: the process's resident memory and its peak, for `/metrics`.
//! - [`load`]: `rowstream load`, an HTTP/1.1 load generator with an HDR latency histogram.
//! - [`compare`]: `rowstream compare`, the seed's buffered-vs-streamed analysis as a command.
//! - [`error`]: [`error::AppError`], the one error type handlers return.
//! - [`telemetry`]: logging set-up.
//! - [`form`]: the form-body extractor (urlencoded or multipart) for `/demo1` and `/greet`.
//! - [`upstream`]: the kept, pooled HTTP client behind `/demo2`.
//! - [`hits`]: the `/hit` counter (Redis `INCR`, or the embedded database).
//! - [`static_files`]: `--static` directory mounts, traversal-safe, with optional listings.
//! - [`limits`]: request head/URL size limits and the header-read timeout (431, 414, slowloris).
//! - [`edge`]: the one layer every request passes: URL limit (414), panics caught, protective headers.
//! - [`catch_panic`]: a handler panic becomes a 500 JSON `internal` and a log line.
//! - [`security`]: `nosniff`, `Referrer-Policy`, the viewer's CSP, and CORS (off by default).
//! - [`fuzzing`]: the fuzz targets' bodies (`fuzz/`), one per parser of client or wire input.

pub mod auth;
pub mod body;
pub mod catch_panic;
pub mod cell;
pub mod cli;
pub mod compare;
pub mod config;
pub mod db;
pub mod edge;
pub mod encode;
pub mod error;
pub mod form;
pub mod fuzzing;
pub mod hits;
pub mod introspect;
pub mod limits;
pub mod load;
pub mod memory;
pub mod metrics;
pub mod params;
pub mod routes;
pub mod security;
pub mod seed;
pub mod source;
pub mod startup;
pub mod static_files;
pub mod telemetry;
pub mod upstream;
pub mod wire;
