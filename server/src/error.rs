//! [`AppError`]: every way a request can fail before its status line is sent, and the JSON
//! body (`shared::ErrorBody`, with a stable `code`) it turns into.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadParameter { parameter: String, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("none of the accepted media types can be produced; use one of application/x-ndjson, text/csv, application/json, text/plain, application/vnd.apache.arrow.stream")]
    NotAcceptable,
    #[error("no such endpoint: {0}")]
    NotFound(String),
    #[error("every database connection is busy; try again shortly")]
    DatabaseBusy,
    #[error("no relation named {0:?} is served (GET /api/tables lists them)")]
    UnknownRelation(String),
    #[error("{0}")]
    Rows(#[source] crate::db::RowStreamError),
    #[error("{0}")]
    Catalog(#[from] crate::introspect::IntrospectError),
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("no upstream configured: start the server with --upstream-url (ROWSTREAM_UPSTREAM_URL)")]
    UpstreamNotConfigured,
    #[error("upstream request failed: {0}")]
    Upstream(#[source] reqwest::Error),
    #[error("upstream did not answer within {0:?}")]
    UpstreamTimeout(std::time::Duration),
    #[error("redis is unavailable: {0}")]
    RedisUnavailable(String),
    #[error("request URL is longer than the limit of {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("the database cannot be reached: {0}")]
    DatabaseUnavailable(#[source] crate::db::RowStreamError),
    #[error("internal error: the request could not be completed")]
    Internal,
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(axum::http::Method),
    /// The statement would write, or is not a query; nothing was run or written.
    #[error("{0}")]
    ReadOnly(String),
    /// The request's role (`--jwt-role-claim`) is missing, unknown or may not be assumed,
    /// or its SQL could leave it.
    #[error("{0}")]
    ForbiddenRole(String),
    /// The request's role lacks a privilege (PostgreSQL 42501).
    #[error("{0}")]
    PermissionDenied(String),
    #[error("no saved query named {0:?} (GET /api/queries lists them)")]
    UnknownQuery(String),
    #[error("the query sent no row within {0:?} (--first-row-timeout); it was stopped")]
    QueryTimeout(std::time::Duration),
}

/// `Retry-After` (seconds) on a 503 for an unreachable database: the pool reconnects by itself.
pub const DATABASE_RETRY_AFTER_SECS: u32 = 1;

/// `Retry-After` (seconds) on a 503 for an unavailable Redis: it reconnects by itself.
pub const REDIS_RETRY_AFTER_SECS: u32 = 1;

impl AppError {
    pub fn bad_parameter(parameter: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::BadParameter { parameter: parameter.into(), message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::DatabaseBusy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Rows(_) | AppError::Catalog(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::UnknownRelation(_) => StatusCode::NOT_FOUND,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::UpstreamNotConfigured => StatusCode::NOT_FOUND,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            AppError::RedisUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            AppError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::ReadOnly(_) | AppError::ForbiddenRole(_) | AppError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            AppError::UnknownQuery(_) => StatusCode::NOT_FOUND,
            AppError::QueryTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn body(&self) -> ErrorBody {
        match self {
            AppError::BadParameter { parameter, message } => ErrorBody::bad_parameter(parameter, message.clone()),
            AppError::Unauthorized(_) => ErrorBody::new(ErrorCode::Unauthorized, self.to_string()),
            AppError::NotAcceptable => ErrorBody::new(ErrorCode::NotAcceptable, self.to_string()),
            AppError::NotFound(_) => ErrorBody::new(ErrorCode::NotFound, self.to_string()),
            AppError::DatabaseBusy => ErrorBody::new(ErrorCode::DatabaseBusy, self.to_string()),
            AppError::UnknownRelation(_) => ErrorBody::new(ErrorCode::NotFound, self.to_string()),
            AppError::Rows(_) | AppError::Catalog(_) => ErrorBody::new(ErrorCode::DatabaseError, self.to_string()),
            AppError::PayloadTooLarge { .. } => ErrorBody::new(ErrorCode::PayloadTooLarge, self.to_string()),
            AppError::UnsupportedMediaType(_) => ErrorBody::new(ErrorCode::UnsupportedMediaType, self.to_string()),
            AppError::UpstreamNotConfigured => ErrorBody::new(ErrorCode::NotFound, self.to_string()),
            AppError::Upstream(_) => ErrorBody::new(ErrorCode::UpstreamError, self.to_string()),
            AppError::UpstreamTimeout(_) => ErrorBody::new(ErrorCode::UpstreamTimeout, self.to_string()),
            AppError::RedisUnavailable(_) => ErrorBody::new(ErrorCode::RedisUnavailable, self.to_string()),
            AppError::UriTooLong { .. } => ErrorBody::new(ErrorCode::UriTooLong, self.to_string()),
            AppError::DatabaseUnavailable(_) => ErrorBody::new(ErrorCode::DatabaseUnavailable, self.to_string()),
            AppError::Internal => ErrorBody::new(ErrorCode::Internal, self.to_string()),
            AppError::MethodNotAllowed(_) => ErrorBody::new(ErrorCode::MethodNotAllowed, self.to_string()),
            AppError::ReadOnly(_) => ErrorBody::new(ErrorCode::ReadOnly, self.to_string()),
            AppError::ForbiddenRole(_) => ErrorBody::new(ErrorCode::ForbiddenRole, self.to_string()),
            AppError::PermissionDenied(_) => ErrorBody::new(ErrorCode::PermissionDenied, self.to_string()),
            AppError::UnknownQuery(_) => ErrorBody::new(ErrorCode::NotFound, self.to_string()),
            AppError::QueryTimeout(_) => ErrorBody::new(ErrorCode::QueryTimeout, self.to_string()),
        }
    }

    /// Whether the database says a relation or column the catalog named is gone (SQLSTATE
    /// 42P01 undefined_table, 42703 undefined_column): the catalog is out of date.
    pub fn is_schema_drift(&self) -> bool {
        matches!(self, AppError::Rows(error) if error.is_schema_drift())
    }
}

impl From<crate::db::RowStreamError> for AppError {
    fn from(error: crate::db::RowStreamError) -> Self {
        use crate::db::error::Refusal;
        use crate::db::RowStreamError;
        match error {
            RowStreamError::Busy => AppError::DatabaseBusy,
            RowStreamError::BadValue(bad) => AppError::from(bad),
            RowStreamError::Refused { refusal: Refusal::ReadOnly, message } => {
                AppError::ReadOnly(format!("the statement would write, and this is a read-only request: {message}"))
            }
            RowStreamError::Refused { refusal: Refusal::Permission, message } => AppError::PermissionDenied(message),
            error @ RowStreamError::ForbiddenRole { .. } => AppError::ForbiddenRole(error.to_string()),
            RowStreamError::BadSql(message) => AppError::bad_parameter("sql", format!("sql: {message}")),
            other => AppError::Rows(other),
        }
    }
}

impl From<crate::source::adhoc::SqlRefused> for AppError {
    fn from(refused: crate::source::adhoc::SqlRefused) -> Self {
        use crate::source::adhoc::SqlRefused;
        match refused {
            SqlRefused::Bad(bad) => AppError::from(bad),
            SqlRefused::Writes(message) => AppError::ReadOnly(message),
            SqlRefused::RoleEscape(message) => AppError::ForbiddenRole(message),
        }
    }
}

impl From<crate::source::BadRequest> for AppError {
    fn from(bad: crate::source::BadRequest) -> Self {
        AppError::BadParameter { parameter: bad.parameter, message: bad.message }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, Json(self.body())).into_response();
        if let AppError::Unauthorized(_) = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="rowstream", JWT realm="rowstream""#),
            );
        }
        if let AppError::RedisUnavailable(_) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(REDIS_RETRY_AFTER_SECS));
        }
        if let AppError::DatabaseBusy = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(DATABASE_RETRY_AFTER_SECS));
        }
        if let AppError::DatabaseUnavailable(_) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(DATABASE_RETRY_AFTER_SECS));
        }
        response
    }
}
