//! One timed request on a fresh connection (opened before the clock starts): when the first
//! body byte came, when the last did, and how many bytes came when. And the server's
//! resident memory, read from its `/metrics`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::CompareError;

/// What one request did.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Until the first body byte arrived (the whole body's time when it is empty).
    pub ttfb: Duration,
    /// Until the last body byte arrived.
    pub total: Duration,
    /// Body bytes.
    pub bytes: u64,
    /// (ms since the request was written, body bytes received so far), one per read.
    pub curve: Vec<(f64, u64)>,
}

/// Where the server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The Host header.
    pub host: String,
    pub token: Option<String>,
}

impl Target {
    async fn send(&self, path: &str) -> Result<(hyper::Response<hyper::body::Incoming>, Instant), CompareError> {
        let stream =
            TcpStream::connect(self.addr).await.map_err(|source| CompareError::Connect { addr: self.addr, source })?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(CompareError::Http)?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "compare connection ended");
            }
        });
        let mut request = Request::get(path).header(HOST, &self.host);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("JWT {token}"));
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| CompareError::Request { path: path.into(), reason: e.to_string() })?;
        let started = Instant::now();
        let response = sender.send_request(request).await.map_err(CompareError::Http)?;
        Ok((response, started))
    }

    /// GETs `path` and times its body; a status other than 200 is an error.
    pub async fn trace(&self, path: &str) -> Result<Trace, CompareError> {
        let (response, started) = self.send(path).await?;
        let status = response.status();
        let mut body = response.into_body();
        if !status.is_success() {
            let text =
                body.collect().await.map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned()).unwrap_or_default();
            return Err(CompareError::Status { path: path.into(), status: status.as_u16(), body: text });
        }
        let mut ttfb = None;
        let mut bytes = 0u64;
        let mut curve = vec![(0.0, 0)];
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(CompareError::Http)?;
            if let Some(data) = frame.data_ref() {
                if data.is_empty() {
                    continue;
                }
                let at = started.elapsed();
                ttfb.get_or_insert(at);
                bytes += data.len() as u64;
                curve.push((at.as_secs_f64() * 1e3, bytes));
            }
        }
        let total = started.elapsed();
        Ok(Trace { ttfb: ttfb.unwrap_or(total), total, bytes, curve })
    }

    /// The server's `process_resident_memory_bytes`, or `None` when it does not export it.
    pub async fn resident_bytes(&self) -> Option<u64> {
        let (response, _) = self.send("/metrics").await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let text = response.into_body().collect().await.ok()?.to_bytes();
        parse_gauge(&String::from_utf8_lossy(&text), "process_resident_memory_bytes")
    }
}

/// The value of an unlabelled gauge in Prometheus' text format.
pub fn parse_gauge(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        rest.starts_with(' ').then(|| rest.trim().parse::<f64>().ok().map(|v| v as u64)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_gauge() {
        let text = "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1234\nprocess_resident_memory_peak_bytes 5678\n";
        assert_eq!(parse_gauge(text, "process_resident_memory_bytes"), Some(1234));
        assert_eq!(parse_gauge(text, "process_resident_memory_peak_bytes"), Some(5678));
        assert_eq!(parse_gauge(text, "process_resident"), None);
    }
}
