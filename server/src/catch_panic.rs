//! The last line of defence: a panic in a handler becomes a `500` with the JSON
//! `internal` error body and one `error` log line, instead of a dropped connection. The
//! panic is caught by [`crate::edge`] while the response is made, and by
//! [`crate::body::streamed_with`] while a streamed body is read (the stream then ends
//! aborted, never complete). The torture tests show it never fires; it is there so that a
//! bug costs one request, never the connection's other requests or the process.

use std::any::Any;

use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Logs the panic's message and answers `500 internal`; the message is not sent to the client.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    log_panic(&panic, "a handler panicked");
    AppError::Internal.into_response()
}

/// Logs a caught panic's message with `what` happened (an `error` line).
pub fn log_panic(panic: &Box<dyn Any + Send + 'static>, what: &'static str) {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "{what}");
}
