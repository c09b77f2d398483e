//! Key administration over HTTP (admin only): make, list, revoke.
//!
//! Changes go to the ledger first, then to the server's key store, both under the reader lock,
//! so the store never holds a key the ledger does not (or misses one it does) for longer than
//! the periodic refresh that also picks up keys changed with `backstop keys` while serving.

use crate::app::AppState;
use crate::auth::{self, KeyError, KeyStore};
use crate::envelope::{KeyInfo, KeyList, NewKeyRequest, NewKeyResponse, RevokedKey};
use crate::error::{ApiError, ErrorCode};
use crate::payload;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use backstop_ledger::{ApiKeyRecord, Ledger, LedgerError};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// How often the server re-reads the key table.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(2);

/// The public form of a stored key.
fn info(record: ApiKeyRecord) -> KeyInfo {
    KeyInfo {
        key_hash: record.key_hash,
        role: record.role,
        accounts: record.accounts,
        label: record.label,
    }
}

/// `POST /v1/keys`: 201 with the new key, shown once.
pub async fn create(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match make(&app, &headers, body).await {
        Ok(created) => (StatusCode::CREATED, axum::Json(created)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Parses the request, makes the key, stores it.
async fn make(app: &AppState, headers: &HeaderMap, body: Body) -> Result<NewKeyResponse, ApiError> {
    payload::require_json(headers)?;
    let bytes = payload::read_limited(headers, body, app.limits.max_body_bytes).await?;
    let request: NewKeyRequest = payload::parse_json(&bytes)?;
    let new =
        auth::generate_key(&request.role, &request.accounts, &request.label).map_err(|error| {
            match error {
                KeyError::UnknownRole(_) | KeyError::InvalidLabel => {
                    ApiError::new(ErrorCode::InvalidValue, error.to_string())
                }
                KeyError::Random(_) => ApiError::new(ErrorCode::InternalError, error.to_string()),
            }
        })?;
    let store = Arc::clone(&app.keys);
    let record = new.record.clone();
    app.with_reader(move |ledger| {
        ledger.add_api_key(&record)?;
        store.write().unwrap_or_else(PoisonError::into_inner).insert(&record);
        Ok(())
    })
    .await?;
    Ok(NewKeyResponse { key: new.key, info: info(new.record) })
}

/// `GET /v1/keys`.
pub async fn list(State(app): State<AppState>) -> Response {
    match app.with_reader(Ledger::api_keys).await {
        Ok(records) => {
            axum::Json(KeyList { keys: records.into_iter().map(info).collect() }).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// `DELETE /v1/keys/{hash}`.
pub async fn revoke(
    State(app): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
) -> Response {
    let hash = match payload::path_param(hash) {
        Ok(hash) => hash,
        Err(error) => return error.into_response(),
    };
    if !auth::is_key_hash(&hash) {
        return ApiError::new(
            ErrorCode::InvalidValue,
            "a key hash is the key's SHA-256 as 64 lowercase hex digits (see GET /v1/keys)",
        )
        .into_response();
    }
    let store = Arc::clone(&app.keys);
    let key_hash = hash.clone();
    let revoked = app
        .with_reader(move |ledger| {
            let revoked = ledger.revoke_api_key(&key_hash)?;
            store.write().unwrap_or_else(PoisonError::into_inner).remove(&key_hash);
            Ok(revoked)
        })
        .await;
    match revoked {
        Ok(true) => axum::Json(RevokedKey { key_hash: hash, revoked: true }).into_response(),
        Ok(false) => {
            ApiError::new(ErrorCode::NotFound, format!("no key with hash {hash}")).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Replaces the key store with the ledger's key table (under the reader lock).
///
/// # Errors
/// The ledger's error.
pub fn refresh(ledger: &mut Ledger, store: &RwLock<KeyStore>) -> Result<(), LedgerError> {
    let records = ledger.api_keys()?;
    let (fresh, _skipped) = KeyStore::new(&records);
    *store.write().unwrap_or_else(PoisonError::into_inner) = fresh;
    Ok(())
}
