//! Download links (`POST /api/downloads`): a browser saves a stream to disk by navigating to
//! a URL, and a navigation cannot send an `Authorization` header. So the viewer asks for a
//! link to one exact request ([`DownloadRequest`]); the answer ([`DownloadLink`]) is that
//! request's URL with a `download=` parameter, a token that is valid for that URL only, for
//! GET only, for [`DOWNLOAD_LINK_SECONDS`], and is refused as a bearer token anywhere. The
//! response then carries `Content-Disposition: attachment`.
//!
//! ```text
//! POST /api/downloads  {"path":"/api/tables/orders/rows?format=csv&state=eq.paid"}
//! 200 {"url":"/api/tables/orders/rows?format=csv&state=eq.paid&download=eyJ…","expires_in":60}
//! ```

use serde::{Deserialize, Serialize};

/// How long a download link works.
pub const DOWNLOAD_LINK_SECONDS: u64 = 60;

/// The URL parameter that carries a download link's token.
pub const DOWNLOAD_PARAM: &str = "download";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadRequest {
    /// The rows request to download: a path of `/api/messages`, `/api/tables/{name}/rows` or
    /// `/api/queries/{name}/rows`, with its query string.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadLink {
    pub url: String,
    /// Seconds the link works for.
    pub expires_in: u64,
}
