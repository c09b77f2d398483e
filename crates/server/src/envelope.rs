//! Request and response bodies of the API (engine types inside them are described as objects;
//! amounts inside engine types are decimal strings).

use backstop_core::Command;
use backstop_ledger::{Batch, Events, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Most characters in an idempotency key.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// One command to submit, with an optional idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// The command, tagged by `type` (see docs/script-format.md for every command and field).
    #[schema(value_type = Object)]
    pub command: Command,
    /// Up to 128 printable ASCII characters; a retry with the same key and command gets the
    /// original answer instead of applying the command again.
    #[serde(default)]
    #[schema(example = "deposit-1-0001", min_length = 1, max_length = 128, pattern = "^[ -~]+$")]
    pub idempotency_key: Option<String>,
}

/// A batch of commands, journaled as one entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The commands, applied in order.
    pub commands: Vec<CommandRequest>,
}

/// Whether a command was applied or rejected by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    /// Applied: its events are durable.
    Applied,
    /// Rejected by the engine: nothing changed, and the rejection is journaled.
    Rejected,
}

/// What one submitted command did, once durable.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CommandResult {
    /// Journal entry holding the command (the original one for a duplicate).
    pub seq: u64,
    /// Position of the command in that entry.
    pub index: u32,
    /// True when the idempotency key was already used for this command: nothing was applied
    /// now, and this is the original answer.
    pub duplicate: bool,
    /// Applied or rejected.
    pub status: ResultStatus,
    /// Events of an applied command.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub events: Option<Events>,
    /// Rejection code (docs/rejections.md) of a rejected command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Why a rejected command was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The rejection's fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub rejection: Option<Value>,
}

impl CommandResult {
    /// The result of a command journaled at (seq, index) with this outcome.
    #[must_use]
    pub fn new(seq: u64, index: u32, duplicate: bool, outcome: &Outcome) -> CommandResult {
        match outcome {
            Outcome::Applied { events } => CommandResult {
                seq,
                index,
                duplicate,
                status: ResultStatus::Applied,
                events: Some(events.clone()),
                code: None,
                message: None,
                rejection: None,
            },
            Outcome::Rejected { code, message, rejection } => CommandResult {
                seq,
                index,
                duplicate,
                status: ResultStatus::Rejected,
                events: None,
                code: Some(*code),
                message: Some(message.clone()),
                rejection: Some(rejection.clone()),
            },
        }
    }
}

/// What a batch did, once durable.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BatchResponse {
    /// The journal entry this request wrote; when every command was a duplicate, the newest
    /// entry its results point to.
    pub seq: u64,
    /// One result per command, in order.
    pub results: Vec<CommandResult>,
}

/// Liveness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`; `unhealthy` after a writer failure; `invariant_broken` once a command broke an
    /// engine invariant (writes refused until restart).
    #[schema(example = "ok")]
    pub status: String,
    /// Newest durable journal entry.
    pub seq: u64,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub backend: String,
}

/// The engine's position: journal head, state hash, clock.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StateResponse {
    /// Newest durable journal entry.
    pub seq: u64,
    /// Its entry hash (hex).
    pub entry_hash: String,
    /// Engine state hash after it (hex), as `backstop replay` prints it.
    pub state_hash: String,
    /// Venue clock (seconds).
    pub now: u64,
    /// Venue status set by the circuit breakers: `active`, `on_ice` or `frozen`.
    #[schema(schema_with = crate::openapi::venue_status)]
    pub status: Value,
    /// Number of open accounts.
    pub accounts: u64,
    /// Venue name from the configuration.
    pub venue: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
}

/// Journal entries after a sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventsResponse {
    /// Newest durable journal entry when the page was read.
    pub head: u64,
    /// Entries in order: `seq`, `commands`, `keys`, `outcomes` (applied with events, or
    /// rejected), `state_hash`, `prev_hash`, `entry_hash`.
    #[schema(value_type = Vec<Object>)]
    pub batches: Vec<Batch>,
}

/// A key to make.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// admin, oracle, keeper, governance or user.
    #[schema(schema_with = crate::openapi::role_name)]
    pub role: String,
    /// Accounts the key acts for (user keys; keeper keys for the accounts that pay).
    #[serde(default)]
    #[schema(schema_with = crate::openapi::account_ids)]
    pub accounts: Vec<u64>,
    /// Free text naming the holder: at most 256 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 256, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub label: String,
}

/// A key as stored: its hash, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeyInfo {
    /// SHA-256 of the key (hex).
    pub key_hash: String,
    /// Its role.
    #[schema(schema_with = crate::openapi::role_name)]
    pub role: String,
    /// Accounts it acts for.
    #[schema(schema_with = crate::openapi::account_ids)]
    pub accounts: Vec<u64>,
    /// Label.
    pub label: String,
}

/// A new key, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NewKeyResponse {
    /// The key: `bsk_` and 64 hex digits. Not stored; shown only now.
    pub key: String,
    /// How it is stored.
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// Every key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeyList {
    /// Keys by hash.
    pub keys: Vec<KeyInfo>,
}

/// A revoked key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RevokedKey {
    /// The hash revoked.
    pub key_hash: String,
    /// Always true (an unknown hash is a 404).
    pub revoked: bool,
}
