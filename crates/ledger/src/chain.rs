//! The hash chain: sequence numbers, entry hashes and the batches they seal.
//!
//! - genesis hash = SHA-256(`b"backstop.genesis.v1\0"` ‖ venue config TOML bytes);
//! - entry hash = SHA-256(`b"backstop.journal.v1\0"` ‖ seq (u64 big-endian) ‖ prev_hash ‖
//!   len (u64 BE) ‖ commands JSON ‖ len (u64 BE) ‖ keys JSON ‖ state_hash),
//!
//! where the JSON is `serde_json::to_vec` of the batch's `Vec<Command>` and `Vec<Option<String>>`
//! (the canonical JSON: the journal stores exactly these bytes). Batch 1's `prev_hash` is the
//! genesis hash.

use crate::outcome::Outcome;
use backstop_core::Command;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash32 = [u8; 32];

/// Domain tag of the genesis hash.
const GENESIS_TAG: &[u8] = b"backstop.genesis.v1\0";
/// Domain tag of entry hashes.
const ENTRY_TAG: &[u8] = b"backstop.journal.v1\0";

/// The newest sealed entry: its sequence number and entry hash (seq 0 = genesis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of the newest batch; 0 before the first.
    pub seq: u64,
    /// Its entry hash; the genesis hash at seq 0.
    pub entry_hash: Hash32,
}

impl ChainHead {
    /// The head of an empty journal begun with this venue configuration.
    #[must_use]
    pub fn genesis(config_toml: &str) -> ChainHead {
        ChainHead { seq: 0, entry_hash: genesis_hash(config_toml) }
    }
}

/// One journal entry: a batch of commands, their idempotency keys and outcomes, sealed in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Sequence number, from 1.
    pub seq: u64,
    /// The commands, in the order applied.
    pub commands: Vec<Command>,
    /// One idempotency key (or none) per command.
    pub keys: Vec<Option<String>>,
    /// One outcome per command.
    pub outcomes: Vec<Outcome>,
    /// Engine state hash after the batch (hex in JSON).
    #[serde(with = "hex_hash")]
    pub state_hash: Hash32,
    /// Entry hash of batch seq - 1 (the genesis hash for seq 1) (hex in JSON).
    #[serde(with = "hex_hash")]
    pub prev_hash: Hash32,
    /// This entry's hash (hex in JSON).
    #[serde(with = "hex_hash")]
    pub entry_hash: Hash32,
}

impl Batch {
    /// Why the batch is malformed, if it is: it needs exactly one key and one outcome per command.
    pub(crate) fn shape_problem(&self) -> Option<String> {
        let commands = self.commands.len();
        (self.keys.len() != commands || self.outcomes.len() != commands).then(|| {
            format!(
                "{commands} commands, {} keys and {} outcomes: need one key and one outcome per command",
                self.keys.len(),
                self.outcomes.len()
            )
        })
    }

    /// Seals a batch after `head`: seq = head.seq + 1, prev_hash = head.entry_hash, entry hash computed.
    #[must_use]
    pub fn seal(
        head: &ChainHead,
        commands: Vec<Command>,
        keys: Vec<Option<String>>,
        outcomes: Vec<Outcome>,
        state_hash: Hash32,
    ) -> Batch {
        let seq = head.seq.saturating_add(1);
        let mut batch = Batch {
            seq,
            commands,
            keys,
            outcomes,
            state_hash,
            prev_hash: head.entry_hash,
            entry_hash: [0; 32],
        };
        batch.entry_hash = batch.computed_entry_hash();
        batch
    }

    /// The head this batch makes.
    #[must_use]
    pub fn head(&self) -> ChainHead {
        ChainHead { seq: self.seq, entry_hash: self.entry_hash }
    }

    /// The entry hash recomputed from the batch's contents (ignoring its `entry_hash` field).
    #[must_use]
    pub fn computed_entry_hash(&self) -> Hash32 {
        entry_hash(
            self.seq,
            &self.prev_hash,
            &canonical_json(&self.commands),
            &canonical_json(&self.keys),
            &self.state_hash,
        )
    }
}

/// The genesis hash of a journal begun with this venue configuration text.
#[must_use]
pub fn genesis_hash(config_toml: &str) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update(GENESIS_TAG);
    hasher.update(config_toml.as_bytes());
    hasher.finalize().into()
}

/// The entry hash of a batch from its parts (the JSON as stored; see the module docs).
#[must_use]
pub fn entry_hash(
    seq: u64,
    prev_hash: &Hash32,
    commands_json: &[u8],
    keys_json: &[u8],
    state_hash: &Hash32,
) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update(ENTRY_TAG);
    hasher.update(seq.to_be_bytes());
    hasher.update(prev_hash);
    hasher.update(len_be(commands_json));
    hasher.update(commands_json);
    hasher.update(len_be(keys_json));
    hasher.update(keys_json);
    hasher.update(state_hash);
    hasher.finalize().into()
}

/// Where an idempotency key was used: the batch, the command's index in it, and a digest of the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// Sequence number of the batch.
    pub seq: u64,
    /// Index of the command in the batch.
    pub index: u32,
    /// [`command_digest`] of the command.
    pub command_digest: Hash32,
}

/// SHA-256 of the command's canonical JSON (`serde_json::to_vec`).
#[must_use]
pub fn command_digest(command: &Command) -> Hash32 {
    command_digest_of_json(&canonical_json(command))
}

/// [`command_digest`] from the command's canonical JSON bytes.
pub(crate) fn command_digest_of_json(json: &[u8]) -> Hash32 {
    Sha256::digest(json).into()
}

/// Canonical JSON of a value: `serde_json::to_vec`. Engine commands and keys always serialize;
/// should one ever fail, the bytes are empty (and `append`, which serializes with error checking,
/// refuses the batch).
pub(crate) fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The length of a byte string as u64 big-endian.
fn len_be(bytes: &[u8]) -> [u8; 8] {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes()
}

/// Lowercase hex of a hash.
#[must_use]
pub fn to_hex(hash: &Hash32) -> String {
    hex::encode(hash)
}

/// A hash from 64 hex digits.
pub(crate) fn from_hex(text: &str) -> Option<Hash32> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).ok()?;
    Some(hash)
}

/// Serde adapter: a [`Hash32`] as 64 lowercase hex digits.
mod hex_hash {
    use super::Hash32;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the hash as hex.
    pub(super) fn serialize<S: Serializer>(
        hash: &Hash32,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(hash))
    }

    /// Reads 64 hex digits.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Hash32, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("expected a 32-byte hash as 64 hex digits"))
    }
}
