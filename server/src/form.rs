//! [`FormFields`]: the body of a form POST, `application/x-www-form-urlencoded` or
//! `multipart/form-data`, as UTF-8 name/value pairs (aiohttp's `await request.post()`).
//!
//! Every way a body can be wrong is an [`AppError`] with a stable code, never a panic:
//! - larger than [`FormLimits::max_body`] → 413 `payload_too_large` (checked against
//!   `Content-Length` before reading, and again while reading a body without one);
//! - no content type, or one that is not a form → 415 `unsupported_media_type`;
//! - a name or value that is not UTF-8 (after percent-decoding), a broken multipart body →
//!   400 `bad_parameter` naming the field (or `body`);
//! - a field the handler needs that is not there → 400 `bad_parameter` naming it
//!   ([`FormFields::required`]).

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::error::AppError;

/// The default `--max-body`: 1 MiB.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;

/// How much of a form body the server reads.
#[derive(Debug, Clone, Copy)]
pub struct FormLimits {
    pub max_body: u64,
}

impl Default for FormLimits {
    fn default() -> Self {
        FormLimits {
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// The fields of a form body, in order. A name may repeat; [`FormFields::get`] takes the
/// first, as aiohttp's `data['key']` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The field's value, or a 400 naming it.
    pub fn required(&self, name: &str) -> Result<&str, AppError> {
        self.get(name).ok_or_else(|| {
            AppError::bad_parameter(name, format!("form field `{name}` is required"))
        })
    }
}

enum FormKind {
    UrlEncoded,
    Multipart { boundary: String },
}

impl<S> FromRequest<S> for FormFields
where
    S: Send + Sync,
    FormLimits: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limits = FormLimits::from_ref(state);
        let headers = request.headers();
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let kind = form_kind(content_type)?;
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limits.max_body) {
            return Err(AppError::PayloadTooLarge {
                limit: limits.max_body,
            });
        }
        let body = read_limited(request.into_body(), limits.max_body).await?;
        match kind {
            FormKind::UrlEncoded => parse_urlencoded(&body).map(FormFields),
            FormKind::Multipart { boundary } => {
                parse_multipart(body, boundary).await.map(FormFields)
            }
        }
    }
}

/// Reads the whole body, failing with 413 as soon as it passes `limit` bytes.
pub async fn read_limited(body: Body, limit: u64) -> Result<Bytes, AppError> {
    let mut stream = body.into_data_stream();
    let mut buffer = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            AppError::bad_parameter("body", format!("could not read the request body: {e}"))
        })?;
        if (buffer.len() + chunk.len()) as u64 > limit {
            return Err(AppError::PayloadTooLarge { limit });
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

fn form_kind(content_type: &str) -> Result<FormKind, AppError> {
    let unsupported = || {
        AppError::UnsupportedMediaType(format!(
            "expected a form body (Content-Type application/x-www-form-urlencoded or multipart/form-data), got {:?}",
            content_type
        ))
    };
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let charset = content_type
            .split(';')
            .skip(1)
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
            .map(|(_, v)| v.trim().trim_matches('"'));
        match charset {
            None => Ok(FormKind::UrlEncoded),
            Some(c) if c.eq_ignore_ascii_case("utf-8") || c.eq_ignore_ascii_case("us-ascii") => {
                Ok(FormKind::UrlEncoded)
            }
            Some(_) => Err(unsupported()),
        }
    } else if essence.eq_ignore_ascii_case("multipart/form-data") {
        let boundary = multer::parse_boundary(content_type).map_err(|_| {
            AppError::bad_parameter(
                "Content-Type",
                "multipart/form-data needs a boundary parameter",
            )
        })?;
        Ok(FormKind::Multipart { boundary })
    } else {
        Err(unsupported())
    }
}

/// `a=1&b=x+y%21`: `+` is a space, `%XX` a byte; the decoded bytes must be UTF-8.
/// (`form_urlencoded::parse` would replace bad bytes with U+FFFD instead of refusing them.)
fn parse_urlencoded(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let decode = |bytes: &[u8], what: &dyn Fn() -> String| -> Result<String, AppError> {
        let plus_as_space: Vec<u8> = bytes
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&plus_as_space)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| {
                AppError::bad_parameter(
                    what(),
                    format!("form field `{}` is not valid UTF-8", what()),
                )
            })
    };
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name, &|| "body".to_owned())?;
            let value = decode(value, &|| name.clone())?;
            Ok((name, value))
        })
        .collect()
}

async fn parse_multipart(body: Bytes, boundary: String) -> Result<Vec<(String, String)>, AppError> {
    let broken = |e: multer::Error| {
        AppError::bad_parameter("body", format!("malformed multipart/form-data body: {e}"))
    };
    let mut multipart = multer::Multipart::new(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) }),
        boundary,
    );
    let mut fields = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().map(str::to_owned).unwrap_or_default();
        // Not `field.text()`: it would replace invalid bytes instead of refusing them.
        let bytes = field.bytes().await.map_err(broken)?;
        let value = String::from_utf8(bytes.to_vec()).map_err(|_| {
            AppError::bad_parameter(&name, format!("form field `{name}` is not valid UTF-8"))
        })?;
        fields.push((name, value));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_decodes_plus_and_percent() {
        let fields = parse_urlencoded(b"key=a+b%21&empty=&flag&name=%E4%BD%A0").unwrap();
        assert_eq!(
            fields,
            [("key", "a b!"), ("empty", ""), ("flag", ""), ("name", "你")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn urlencoded_refuses_bad_utf8_naming_the_field() {
        match parse_urlencoded(b"key=%FF%FE") {
            Err(AppError::BadParameter { parameter, .. }) => assert_eq!(parameter, "key"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn content_types() {
        assert!(matches!(
            form_kind("application/x-www-form-urlencoded"),
            Ok(FormKind::UrlEncoded)
        ));
        assert!(matches!(
            form_kind("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            Ok(FormKind::UrlEncoded)
        ));
        assert!(matches!(
            form_kind("multipart/form-data; boundary=xyz"),
            Ok(FormKind::Multipart { .. })
        ));
        assert!(matches!(
            form_kind("application/json"),
            Err(AppError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            form_kind(""),
            Err(AppError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            form_kind("application/x-www-form-urlencoded; charset=latin1"),
            Err(AppError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            form_kind("multipart/form-data"),
            Err(AppError::BadParameter { .. })
        ));
    }
}
