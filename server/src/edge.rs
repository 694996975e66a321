//! The one layer on every route (the fallback included; axum applies it after routing), in
//! one future with no boxing:
//!
//! - a URL (path and query) over `--max-uri-bytes`: `414` JSON `uri_too_long`, before
//!   anything else runs ([`crate::limits`] has the other HTTP limits);
//! - a panic in a handler (or in building its future): `500` JSON `internal` and one log
//!   line ([`crate::catch_panic::panic_response`]), never a dropped connection;
//! - every response gets the protective headers of [`crate::security::protect_headers`].
//!
//! One hand-written layer rather than tower-http's `CatchPanicLayer`, two
//! `SetResponseHeaderLayer`s and a URI layer: those four cost ~15% of `/hello`'s
//! throughput (each wraps every route; catch-panic also boxes the response body), measured
//! with `wrk` (README, "Seed system benchmark").

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::CatchUnwind;
use futures_util::FutureExt;
use tower::{Layer, Service};

use crate::catch_panic::panic_response;
use crate::error::AppError;
use crate::limits::HttpLimits;
use crate::security::protect_headers;

#[derive(Debug, Clone, Copy)]
pub struct EdgeLayer {
    max_uri_bytes: usize,
}

impl EdgeLayer {
    pub fn new(limits: &HttpLimits) -> Self {
        EdgeLayer { max_uri_bytes: limits.max_uri_bytes }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge { inner, max_uri_bytes: self.max_uri_bytes }
    }
}

#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
    max_uri_bytes: usize,
}

impl<S, B> Service<Request<B>> for Edge<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let length = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if length > self.max_uri_bytes {
            return EdgeFuture::Ready {
                response: Some(AppError::UriTooLong { limit: self.max_uri_bytes }.into_response()),
            };
        }
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => EdgeFuture::Running { future: AssertUnwindSafe(future).catch_unwind() },
            Err(panic) => EdgeFuture::Ready { response: Some(panic_response(panic)) },
        }
    }
}

pin_project_lite::pin_project! {
    /// [`Edge`]'s future: the inner future with panics caught, or an answer made at once.
    #[project = EdgeProjection]
    pub enum EdgeFuture<F> {
        Running { #[pin] future: CatchUnwind<AssertUnwindSafe<F>> },
        Ready { response: Option<Response> },
    }
}

impl<F, E> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut response = match self.project() {
            EdgeProjection::Running { future } => match future.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Ok(response))) => response,
                Poll::Ready(Ok(Err(error))) => return Poll::Ready(Err(error)),
                Poll::Ready(Err(panic)) => panic_response(panic),
            },
            // `None` only when polled again after completion, which hyper never does.
            EdgeProjection::Ready { response } => response.take().unwrap_or_else(|| AppError::Internal.into_response()),
        };
        protect_headers(response.headers_mut());
        Poll::Ready(Ok(response))
    }
}
