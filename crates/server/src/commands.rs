//! Submitting commands: `POST /v1/commands` and `POST /v1/batches`.
//!
//! A request is parsed, checked (idempotency keys, the role matrix for every command, batch
//! size) before anything is enqueued; a refused request writes nothing. Accepted requests wait
//! for the writer's answer, which comes once their outcomes are durable.

use crate::app::AppState;
use crate::auth::Principal;
use crate::envelope::{
    BatchRequest, BatchResponse, CommandRequest, MAX_IDEMPOTENCY_KEY_LEN, ResultStatus,
};
use crate::error::{ApiError, ErrorCode};
use crate::payload;
use crate::roles::authorize_command;
use crate::writer::{Item, Message, Reply, Submission};
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::oneshot;

/// `POST /v1/commands`: 200 with the result when applied, 422 with the same shape when the
/// engine rejected it.
pub async fn submit_command(
    State(app): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match submit_one(&app, &principal, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// `POST /v1/batches`: 200 with one result per command.
pub async fn submit_batch(
    State(app): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match submit_many(&app, &principal, &headers, body).await {
        Ok(response) => (StatusCode::OK, axum::Json(response)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Parses, checks and submits one command.
async fn submit_one(
    app: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    payload::require_json(headers)?;
    let bytes = payload::read_limited(headers, body, app.limits.max_body_bytes).await?;
    let request: CommandRequest = payload::parse_json(&bytes)?;
    let item = checked_item(principal, request, None)?;
    let response = enqueue(app, vec![item]).await?;
    let Some(result) = response.results.into_iter().next() else {
        return Err(ApiError::new(ErrorCode::InternalError, "the writer answered no result"));
    };
    let status = match result.status {
        ResultStatus::Applied => StatusCode::OK,
        ResultStatus::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok((status, axum::Json(result)).into_response())
}

/// Parses, checks and submits a batch.
async fn submit_many(
    app: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<BatchResponse, ApiError> {
    payload::require_json(headers)?;
    let bytes = payload::read_limited(headers, body, app.limits.max_body_bytes).await?;
    let request: BatchRequest = payload::parse_json(&bytes)?;
    if request.commands.is_empty() {
        return Err(ApiError::new(ErrorCode::EmptyBatch, "a batch needs at least one command"));
    }
    let limit = app.limits.max_batch_commands;
    if request.commands.len() > limit {
        return Err(ApiError::new(
            ErrorCode::BatchTooLarge,
            format!("{} commands in one batch; at most {limit}", request.commands.len()),
        ));
    }
    let items = request
        .commands
        .into_iter()
        .enumerate()
        .map(|(index, request)| checked_item(principal, request, Some(index)))
        .collect::<Result<Vec<_>, _>>()?;
    enqueue(app, items).await
}

/// Checks a command's idempotency key and the key's right to send it.
fn checked_item(
    principal: &Principal,
    request: CommandRequest,
    position: Option<usize>,
) -> Result<Item, ApiError> {
    let at = |message: String| match position {
        Some(index) => format!("command {index}: {message}"),
        None => message,
    };
    if let Some(key) = &request.idempotency_key {
        let printable = key.bytes().all(|byte| (0x20..0x7f).contains(&byte));
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !printable {
            return Err(ApiError::new(
                ErrorCode::InvalidValue,
                at(format!(
                    "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII \
                     characters"
                )),
            ));
        }
    }
    authorize_command(principal.role, &principal.accounts, &request.command)
        .map_err(|denial| ApiError::new(ErrorCode::Forbidden, at(denial.to_string())))?;
    Ok(Item { command: request.command, key: request.idempotency_key })
}

/// Hands commands to the writer and waits for the durable answer.
async fn enqueue(app: &AppState, items: Vec<Item>) -> Result<BatchResponse, ApiError> {
    let unhealthy = || {
        ApiError::new(
            ErrorCode::Unhealthy,
            "the writer is out of service; the server must be restarted",
        )
    };
    if let Some(message) = app.read().halted.clone() {
        return Err(ApiError::new(ErrorCode::InvariantBroken, message));
    }
    if !app.is_healthy() {
        return Err(unhealthy());
    }
    let (reply, answer) = oneshot::channel();
    app.queue.try_send(Message::Submit(Submission { items, reply })).map_err(
        |error| match error {
            TrySendError::Full(_) => ApiError::new(
                ErrorCode::QueueFull,
                "the writer's queue is full; nothing was written: retry later with the same \
             idempotency key",
            ),
            TrySendError::Closed(_) => unhealthy(),
        },
    )?;
    match answer.await {
        Ok(Reply::Written(response)) => Ok(response),
        Ok(Reply::Conflict { key, index }) => Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "command {index}: idempotency key {key:?} was already used for a different \
                 command; nothing in this request was applied"
            ),
        )),
        Ok(Reply::Unavailable(message)) => Err(ApiError::new(
            ErrorCode::JournalUnavailable,
            format!(
                "{message}; nothing in this request was acknowledged: retry with the same \
                     idempotency keys"
            ),
        )),
        Ok(Reply::Failed(message)) => Err(ApiError::new(ErrorCode::InternalError, message)),
        Ok(Reply::Halted(message)) => Err(ApiError::new(ErrorCode::InvariantBroken, message)),
        Ok(Reply::Unhealthy) | Err(_) => Err(unhealthy()),
    }
}
