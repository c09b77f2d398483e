//! Error responses: every failure is one JSON envelope with a stable code, a message and the
//! HTTP status, `{"error": {"code": "...", "message": "...", "status": N}}`.
//!
//! Codes are stable: clients match on them, never on messages. docs/api.md lists them all (a
//! test checks the list against [`ErrorCode::ALL`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A stable error code and the HTTP status it comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: the body is not JSON (syntax error, truncated, empty, trailing characters).
    MalformedJson,
    /// 400: an object has a field the API does not know.
    UnknownField,
    /// 400: a value is of the wrong type or out of range, an amount is malformed, a command
    /// type is unknown, a query or path parameter is not a number.
    InvalidValue,
    /// 400: a required field is missing.
    MissingField,
    /// 413: the body is larger than the server's limit.
    BodyTooLarge,
    /// 415: a body was sent without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 400: a batch with no commands.
    EmptyBatch,
    /// 413: a batch with more commands than the server's limit.
    BatchTooLarge,
    /// 401: no `Authorization: Bearer` header.
    MissingApiKey,
    /// 401: the key is not one the server knows (or was revoked).
    InvalidApiKey,
    /// 403: the key's role may not use this route, this command or this account.
    Forbidden,
    /// 404: no such route, account or key.
    NotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: an idempotency key already used for a different command.
    IdempotencyConflict,
    /// 422: the engine rejected the command (the body is the command result, not this envelope).
    Rejected,
    /// 503: the writer's queue is full; retry later with the same idempotency key.
    QueueFull,
    /// 503: the journal could not be written; nothing in the request was acknowledged.
    JournalUnavailable,
    /// 503: the writer failed and could not rebuild its state; the server needs a restart.
    Unhealthy,
    /// 503: a command broke an engine invariant (an engine bug); nothing of it was written and
    /// the writer takes no more commands until the server is restarted.
    InvariantBroken,
    /// 500: a bug in the server.
    InternalError,
}

impl ErrorCode {
    /// Every code, in the order docs/api.md lists them.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::MalformedJson,
        ErrorCode::UnknownField,
        ErrorCode::InvalidValue,
        ErrorCode::MissingField,
        ErrorCode::BodyTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::EmptyBatch,
        ErrorCode::BatchTooLarge,
        ErrorCode::MissingApiKey,
        ErrorCode::InvalidApiKey,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::IdempotencyConflict,
        ErrorCode::Rejected,
        ErrorCode::QueueFull,
        ErrorCode::JournalUnavailable,
        ErrorCode::Unhealthy,
        ErrorCode::InvariantBroken,
        ErrorCode::InternalError,
    ];

    /// The code as clients see it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::EmptyBatch => "empty_batch",
            ErrorCode::BatchTooLarge => "batch_too_large",
            ErrorCode::MissingApiKey => "missing_api_key",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::Rejected => "rejected",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::JournalUnavailable => "journal_unavailable",
            ErrorCode::Unhealthy => "unhealthy",
            ErrorCode::InvariantBroken => "invariant_broken",
            ErrorCode::InternalError => "internal_error",
        }
    }

    /// The HTTP status the code comes with.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::MalformedJson
            | ErrorCode::UnknownField
            | ErrorCode::InvalidValue
            | ErrorCode::MissingField
            | ErrorCode::EmptyBatch => 400,
            ErrorCode::MissingApiKey | ErrorCode::InvalidApiKey => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::IdempotencyConflict => 409,
            ErrorCode::BodyTooLarge | ErrorCode::BatchTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Rejected => 422,
            ErrorCode::InternalError => 500,
            ErrorCode::QueueFull
            | ErrorCode::JournalUnavailable
            | ErrorCode::Unhealthy
            | ErrorCode::InvariantBroken => 503,
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered to a client: a code and a message saying what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// What was wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }

    /// The JSON body of this error.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message.clone(),
                status: self.code.status(),
            },
        }
    }
}

impl core::fmt::Display for ApiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.body())).into_response()
    }
}

/// The error envelope every failed request gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of the error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code (see docs/api.md), e.g. `unknown_field`.
    #[schema(example = "unknown_field")]
    pub code: String,
    /// What was wrong, for people.
    pub message: String,
    /// The HTTP status, repeated.
    #[schema(example = 400)]
    pub status: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_statuses_are_client_or_server_errors() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!((400..600).contains(&code.status()), "{code}");
        }
        assert_eq!(ErrorCode::QueueFull.status(), 503);
        assert_eq!(ErrorCode::BodyTooLarge.status(), 413);
        assert_eq!(ErrorCode::UnsupportedMediaType.status(), 415);
    }

    #[test]
    fn envelope_has_code_message_and_status() {
        let body = ApiError::new(ErrorCode::Forbidden, "no").body();
        let json = serde_json::to_value(&body).expect("an error body serializes");
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "forbidden", "message": "no", "status": 403}})
        );
    }
}
