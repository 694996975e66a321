//! [`FormFields`]: the body of a form POST, `application/x-www-form-urlencoded` or
//! `multipart/form-data`, as name/value pairs (aiohttp's `await request.post()`).
//!
//! Every way a body can be wrong is an [`AppError`] with a stable code, never a panic:
//! - larger than [`FormLimits::max_body`] → 413 `payload_too_large` (checked against
//!   `Content-Length` before reading, and again while reading a body without one);
//! - no content type, or one that is not a form → 415 `unsupported_media_type`;
//! - a broken multipart body → 400 `bad_parameter` naming `body`;
//! - a field the handler reads that is missing, or whose value is not UTF-8 (after
//!   percent-decoding) → 400 `bad_parameter` naming it ([`FormFields::required`]).
//!
//! Values are kept as bytes and checked for UTF-8 only when a handler reads them as text,
//! so a binary file part (the seed's load client posts an image next to its fields) does not
//! fail a form whose text fields are fine.

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
        FormLimits { max_body: DEFAULT_MAX_BODY }
    }
}

/// One field: its name, its value's bytes, and the file name of a multipart file part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    pub value: Bytes,
    pub file_name: Option<String>,
}

/// The fields of a form body, in order. A name may repeat; [`FormFields::get`] takes the
/// first, as aiohttp's `data['key']` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormFields(pub Vec<FormField>);

impl FormFields {
    pub fn get(&self, name: &str) -> Option<&FormField> {
        self.0.iter().find(|field| field.name == name)
    }

    /// The field's value as text; a 400 naming it when it is missing or not UTF-8.
    pub fn required(&self, name: &str) -> Result<&str, AppError> {
        let field =
            self.get(name).ok_or_else(|| AppError::bad_parameter(name, format!("form field `{name}` is required")))?;
        std::str::from_utf8(&field.value)
            .map_err(|_| AppError::bad_parameter(name, format!("form field `{name}` is not valid UTF-8")))
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
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let kind = form_kind(content_type)?;
        let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limits.max_body) {
            return Err(AppError::PayloadTooLarge { limit: limits.max_body });
        }
        let body = read_limited(request.into_body(), limits.max_body).await?;
        match kind {
            FormKind::UrlEncoded => Ok(FormFields(parse_urlencoded(&body))),
            FormKind::Multipart { boundary } => parse_multipart(body, boundary).await.map(FormFields),
        }
    }
}

/// A JSON body's whole bytes (at most `limit`): 415 unless `Content-Type` is
/// `application/json`, 413 past the limit.
pub async fn read_json_body(headers: &axum::http::HeaderMap, body: Body, limit: u64) -> Result<Bytes, AppError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        return Err(AppError::UnsupportedMediaType(format!(
            "expected a JSON body (Content-Type application/json), got {content_type:?}"
        )));
    }
    read_limited(body, limit).await
}

/// Reads the whole body, failing with 413 as soon as it passes `limit` bytes.
pub async fn read_limited(body: Body, limit: u64) -> Result<Bytes, AppError> {
    let mut stream = body.into_data_stream();
    let mut buffer = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| AppError::bad_parameter("body", format!("could not read the request body: {e}")))?;
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
        let boundary = multer::parse_boundary(content_type)
            .map_err(|_| AppError::bad_parameter("Content-Type", "multipart/form-data needs a boundary parameter"))?;
        Ok(FormKind::Multipart { boundary })
    } else {
        Err(unsupported())
    }
}

/// `a=1&b=x+y%21`: `+` is a space, `%XX` a byte. Names are read lossily (a name that is not
/// UTF-8 can never be the one a handler asks for); values stay bytes until read.
/// (`form_urlencoded::parse` would replace bad bytes with U+FFFD instead of keeping them.)
fn parse_urlencoded(body: &[u8]) -> Vec<FormField> {
    let decode = |bytes: &[u8]| -> Vec<u8> {
        let plus_as_space: Vec<u8> = bytes.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        percent_encoding::percent_decode(&plus_as_space).collect()
    };
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            FormField {
                name: String::from_utf8_lossy(&decode(name)).into_owned(),
                value: Bytes::from(decode(value)),
                file_name: None,
            }
        })
        .collect()
}

async fn parse_multipart(body: Bytes, boundary: String) -> Result<Vec<FormField>, AppError> {
    let broken = |e: multer::Error| AppError::bad_parameter("body", format!("malformed multipart/form-data body: {e}"));
    let mut multipart =
        multer::Multipart::new(futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) }), boundary);
    let mut fields = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().map(str::to_owned).unwrap_or_default();
        let file_name = field.file_name().map(str::to_owned);
        // Not `field.text()`: it would replace invalid bytes instead of refusing them.
        let value = field.bytes().await.map_err(broken)?;
        fields.push(FormField { name, value, file_name });
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &[u8]) -> FormFields {
        FormFields(parse_urlencoded(body))
    }

    #[test]
    fn urlencoded_decodes_plus_and_percent() {
        let form = fields(b"key=a+b%21&empty=&flag&name=%E4%BD%A0&key=second");
        assert_eq!(form.required("key").unwrap(), "a b!");
        assert_eq!(form.required("empty").unwrap(), "");
        assert_eq!(form.required("flag").unwrap(), "");
        assert_eq!(form.required("name").unwrap(), "你");
    }

    #[test]
    fn missing_and_non_utf8_fields_are_400s_naming_the_field() {
        let form = fields(b"key=%FF%FE&raw=\xff&fine=1");
        for name in ["key", "raw", "absent"] {
            match form.required(name) {
                Err(AppError::BadParameter { parameter, .. }) => assert_eq!(parameter, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(form.required("fine").unwrap(), "1");
    }

    #[test]
    fn content_types() {
        assert!(matches!(form_kind("application/x-www-form-urlencoded"), Ok(FormKind::UrlEncoded)));
        assert!(matches!(form_kind("Application/X-WWW-Form-Urlencoded; charset=UTF-8"), Ok(FormKind::UrlEncoded)));
        assert!(matches!(form_kind("multipart/form-data; boundary=xyz"), Ok(FormKind::Multipart { .. })));
        assert!(matches!(form_kind("application/json"), Err(AppError::UnsupportedMediaType(_))));
        assert!(matches!(form_kind(""), Err(AppError::UnsupportedMediaType(_))));
        assert!(matches!(
            form_kind("application/x-www-form-urlencoded; charset=latin1"),
            Err(AppError::UnsupportedMediaType(_))
        ));
        assert!(matches!(form_kind("multipart/form-data"), Err(AppError::BadParameter { .. })));
    }
}
