//! The JSON error body: `{"error":{"code":"bad_parameter","message":"…","parameter":"limit"}}`.
//!
//! Every 4xx/5xx response carries it, and an NDJSON stream that fails after its status line
//! was sent ends with the same object as its last line (see [`crate::frame`]).

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients match on these, never on `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A query parameter or form field is missing, malformed or out of range; `parameter`
    /// names it.
    BadParameter,
    /// No token, a token in an unknown scheme, a bad signature, an expired token.
    Unauthorized,
    /// The `Accept` header names no format the server can write.
    NotAcceptable,
    NotFound,
    /// Every database connection stayed busy for the whole acquire timeout.
    DatabaseBusy,
    /// The database failed the query (before or during the stream).
    DatabaseError,
    Internal,
    /// A request body over the server's limit (`--max-body`).
    PayloadTooLarge,
    /// A request body in a media type the endpoint does not read (a form route got JSON).
    UnsupportedMediaType,
    /// The upstream of `/demo2` could not be reached or broke the exchange.
    UpstreamError,
    /// The upstream of `/demo2` did not answer within `--upstream-timeout`.
    UpstreamTimeout,
    /// Redis (the `/hit` counter) cannot be reached right now; retry after `Retry-After`.
    RedisUnavailable,
    /// The request URL (path and query) is longer than the server's limit (`--max-uri-bytes`).
    UriTooLong,
    /// The database cannot be reached right now (`/healthz`); retry after `Retry-After`.
    DatabaseUnavailable,
    /// The path exists but not for this method (e.g. `POST /`).
    MethodNotAllowed,
    /// The statement would write (or is not a query); nothing was written.
    ReadOnly,
    /// The token's database role (`--jwt-role-claim`) is missing, does not exist or may not
    /// be assumed, or the SQL could switch away from it.
    ForbiddenRole,
    /// The database refused the request's role a privilege it needs (a table it may not read).
    PermissionDenied,
    /// The database sent no first row within `--first-row-timeout`; the query was stopped.
    QueryTimeout,
    /// A code this build does not know yet (a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadParameter => "bad_parameter",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotAcceptable => "not_acceptable",
            ErrorCode::NotFound => "not_found",
            ErrorCode::DatabaseBusy => "database_busy",
            ErrorCode::DatabaseError => "database_error",
            ErrorCode::Internal => "internal",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::UpstreamTimeout => "upstream_timeout",
            ErrorCode::RedisUnavailable => "redis_unavailable",
            ErrorCode::UriTooLong => "uri_too_long",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::ForbiddenRole => "forbidden_role",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::QueryTimeout => "query_timeout",
            ErrorCode::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The offending query parameter, for [`ErrorCode::BadParameter`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { error: ErrorDetail { code, message: message.into(), parameter: None } }
    }

    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: ErrorCode::BadParameter,
                message: message.into(),
                parameter: Some(parameter.to_owned()),
            },
        }
    }
}
