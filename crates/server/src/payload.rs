//! Request bodies and query strings: read within the size limit, parsed with serde_json, every
//! failure classified into a stable error code.
//!
//! Bodies are read by hand (not with axum's `Json` extractor) so that every failure, from a
//! missing content type to an unknown field deep inside a command, gets the API's envelope.

use crate::error::{ApiError, ErrorCode};
use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// Checks that a body is declared as JSON (`application/json`, parameters allowed).
///
/// # Errors
/// `unsupported_media_type` otherwise.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let essence = content_type
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    if essence.as_deref() == Some("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "send the body as `Content-Type: application/json` (got {})",
                content_type.unwrap_or("none")
            ),
        ))
    }
}

/// Reads a whole body, refusing it as soon as it passes `limit` bytes.
///
/// # Errors
/// `body_too_large` past the limit (by `Content-Length` or by what arrived), `malformed_json`
/// when the body could not be read at all.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large =
        || ApiError::new(ErrorCode::BodyTooLarge, format!("the body is larger than {limit} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(
        declared.map_or(0, |length| usize::try_from(length).unwrap_or(0).min(limit)),
    );
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::new(ErrorCode::MalformedJson, format!("the body could not be read: {error}"))
        })?;
        if bytes.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Parses a JSON body into `T`.
///
/// # Errors
/// `malformed_json` for syntax errors, `unknown_field`, `missing_field`, and `invalid_value`
/// for wrong types, out-of-range numbers, bad amounts and unknown command types, each with
/// serde_json's message (which names the field, the line and the column).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| classify(&error))
}

/// The error code of a serde_json error.
#[must_use]
pub fn classify(error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = error.to_string();
    let code = match error.classify() {
        // serde_json reports a number too large for any Rust number as a syntax error.
        Category::Syntax if message.starts_with("number out of range") => ErrorCode::InvalidValue,
        Category::Io | Category::Syntax | Category::Eof => ErrorCode::MalformedJson,
        Category::Data if message.starts_with("unknown field") => ErrorCode::UnknownField,
        Category::Data if message.starts_with("missing field") => ErrorCode::MissingField,
        Category::Data => ErrorCode::InvalidValue,
    };
    ApiError::new(code, message)
}

/// Parses a query string of `name=unsigned integer` pairs, allowing only the given names.
///
/// # Errors
/// `unknown_field` for another name, `invalid_value` for a value that is not an unsigned
/// integer, or a name given twice.
pub fn parse_query(query: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, u64)>, ApiError> {
    let mut pairs: Vec<(String, u64)> = Vec::new();
    for part in query.unwrap_or_default().split('&').filter(|part| !part.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        if !allowed.contains(&name) {
            return Err(ApiError::new(
                ErrorCode::UnknownField,
                format!("unknown query parameter `{name}`, expected one of {}", allowed.join(", ")),
            ));
        }
        let value = value.parse::<u64>().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidValue,
                format!("query parameter `{name}` must be an unsigned integer, got {value:?}"),
            )
        })?;
        if pairs.iter().any(|(seen, _)| seen == name) {
            return Err(ApiError::new(
                ErrorCode::InvalidValue,
                format!("query parameter `{name}` given twice"),
            ));
        }
        pairs.push((name.to_owned(), value));
    }
    Ok(pairs)
}

/// A path parameter, or `invalid_value` when axum could not extract it (percent-encoded bytes
/// that are not UTF-8, for one): every failure gets the API's envelope, never axum's text.
///
/// # Errors
/// `invalid_value` with axum's explanation.
pub fn path_param(
    extracted: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    match extracted {
        Ok(axum::extract::Path(value)) => Ok(value),
        Err(rejection) => Err(ApiError::new(ErrorCode::InvalidValue, rejection.body_text())),
    }
}

/// The value of one parsed query parameter.
#[must_use]
pub fn query_value(pairs: &[(String, u64)], name: &str) -> Option<u64> {
    pairs.iter().find(|(seen, _)| seen == name).map(|(_, value)| *value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "fields exist to be parsed")]
    struct Sample {
        count: u8,
        name: String,
    }

    fn code_of(text: &str) -> ErrorCode {
        match parse_json::<Sample>(text.as_bytes()) {
            Ok(sample) => panic!("{text} parsed: {sample:?}"),
            Err(error) => error.code,
        }
    }

    #[test]
    fn serde_json_errors_map_to_stable_codes() {
        assert_eq!(code_of(r#"{"count": 1, "name": "#), ErrorCode::MalformedJson);
        assert_eq!(code_of(""), ErrorCode::MalformedJson);
        assert_eq!(code_of(r#"{"count": 1, "name": "a"} x"#), ErrorCode::MalformedJson);
        assert_eq!(code_of(r#"{"count": 1, "name": "a", "x": 1}"#), ErrorCode::UnknownField);
        assert_eq!(code_of(r#"{"count": 1}"#), ErrorCode::MissingField);
        assert_eq!(code_of(r#"{"count": 300, "name": "a"}"#), ErrorCode::InvalidValue);
        assert_eq!(code_of(r#"{"count": -1, "name": "a"}"#), ErrorCode::InvalidValue);
        assert_eq!(code_of(r#"{"count": "1", "name": "a"}"#), ErrorCode::InvalidValue);
        assert_eq!(code_of(r#"{"count": 1e400, "name": "a"}"#), ErrorCode::InvalidValue);
        assert!(parse_json::<Sample>(br#"{"count": 1, "name": "a"}"#).is_ok());
    }

    #[test]
    fn queries_accept_only_known_unsigned_parameters() {
        let allowed = ["since", "limit"];
        let pairs = parse_query(Some("since=5&limit=10"), &allowed).expect("valid");
        assert_eq!(query_value(&pairs, "since"), Some(5));
        assert_eq!(query_value(&pairs, "limit"), Some(10));
        assert_eq!(parse_query(None, &allowed).expect("empty"), vec![]);
        let code = |query| parse_query(Some(query), &allowed).map_err(|e| e.code);
        assert_eq!(code("sinse=1"), Err(ErrorCode::UnknownField));
        assert_eq!(code("since=-1"), Err(ErrorCode::InvalidValue));
        assert_eq!(code("since="), Err(ErrorCode::InvalidValue));
        assert_eq!(code("since=1&since=2"), Err(ErrorCode::InvalidValue));
    }

    #[test]
    fn content_type_must_be_json() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            require_json(&headers).map_err(|e| e.code),
            Err(ErrorCode::UnsupportedMediaType)
        );
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().expect("a header value"));
        assert_eq!(
            require_json(&headers).map_err(|e| e.code),
            Err(ErrorCode::UnsupportedMediaType)
        );
        headers.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().expect("a header value"),
        );
        assert_eq!(require_json(&headers), Ok(()));
    }
}
