//! Integration tests: a real server on 127.0.0.1:0 against real SQLite files and a real
//! PostgreSQL (`ROWSTREAM_TEST_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/test).
//! Each test gets its own SQLite file or PostgreSQL schema. A PostgreSQL that cannot be
//! reached fails the tests: nothing here skips.

mod arrow;
mod auth;
mod browser;
mod demo2;
mod downloads;
mod embedded_viewer;
mod faults;
mod first_row_timeout;
mod formats;
mod forms;
mod helpers;
mod hit;
mod hostile_http;
mod lifecycle;
mod literals;
mod load;
mod params;
mod parking;
mod pg_faults;
mod properties;
mod queries;
mod roles;
mod row_cap;
mod seed_api;
mod shutdown;
mod sql;
mod sqlite_faults;
mod static_files;
mod streaming;
mod tables;
mod tools;
mod torture_load;
mod viewer;
mod viewer_tables;
