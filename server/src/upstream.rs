//! The outbound HTTP call behind `POST /demo2`: one kept [`reqwest::Client`] (connections
//! pooled and reused across requests) with a whole-request timeout.
//!
//! The seed's aiohttp handler called blocking `requests.post` inside a coroutine, stalling
//! its event loop for the whole call. Here the call is awaited: a slow upstream holds one
//! task, never a runtime thread, so hundreds of `/demo2` requests wait side by side.
//!
//! reqwest is built without TLS (no OpenSSL, no rustls): the upstream is `http://`.

use std::time::Duration;

use axum::http::StatusCode;

use crate::error::AppError;

pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// `--upstream-url` and `--upstream-timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    pub url: String,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamSettingsError {
    #[error("upstream_url must be an http:// URL (this build has no TLS), got {0:?}")]
    Scheme(String),
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The kept client and where it calls. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
}

impl Upstream {
    pub fn new(settings: &UpstreamSettings) -> Result<Upstream, UpstreamSettingsError> {
        if !settings.url.starts_with("http://") {
            return Err(UpstreamSettingsError::Scheme(settings.url.clone()));
        }
        let url = reqwest::Url::parse(&settings.url)
            .map_err(|e| UpstreamSettingsError::Scheme(format!("{}: {e}", settings.url)))?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map_err(UpstreamSettingsError::Client)?;
        Ok(Upstream { client, url, timeout: settings.timeout })
    }

    /// `GET` the upstream; its status, or 502 (unreachable, broken) / 504 (too slow).
    pub async fn call(&self) -> Result<StatusCode, AppError> {
        let response = self.client.get(self.url.clone()).send().await.map_err(|e| self.error(e))?;
        let status = response.status();
        // Read (and drop) the body so the connection goes back to the pool for reuse.
        response.bytes().await.map_err(|e| self.error(e))?;
        Ok(status)
    }

    fn error(&self, error: reqwest::Error) -> AppError {
        if error.is_timeout() {
            AppError::UpstreamTimeout(self.timeout)
        } else {
            AppError::Upstream(error)
        }
    }
}
