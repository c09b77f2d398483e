//! The storage backends' common shape: rows of the journal's tables, as text.
//!
//! Both backends hold the same logical schema (see docs/ledger.md); hashes are lowercase hex,
//! commands, keys, outcomes and snapshots are JSON text. The journal logic (hashing, validation,
//! replay) lives above this trait, so both backends behave the same.

use crate::api_keys::ApiKeyRecord;
use crate::chain::ChainHead;
use crate::error::LedgerError;

/// Version of the schema this code writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// One row of `batches`.
#[derive(Debug, Clone)]
pub(crate) struct BatchRow {
    /// Sequence number.
    pub(crate) seq: u64,
    /// Entry hash of the previous batch (hex).
    pub(crate) prev_hash: String,
    /// This batch's entry hash (hex).
    pub(crate) entry_hash: String,
    /// State hash after the batch (hex).
    pub(crate) state_hash: String,
    /// Commands (JSON array).
    pub(crate) commands: String,
    /// Idempotency keys (JSON array of strings or nulls).
    pub(crate) keys: String,
    /// Outcomes (JSON array).
    pub(crate) outcomes: String,
}

/// One row of `idempotency`.
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    /// The idempotency key.
    pub(crate) key: String,
    /// Batch it was used in.
    pub(crate) seq: u64,
    /// Index of the command in the batch.
    pub(crate) index: u32,
    /// Command digest (hex).
    pub(crate) command_digest: String,
}

/// One row of `snapshots`.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotRow {
    /// Batch the snapshot was taken after.
    pub(crate) seq: u64,
    /// State hash of the snapshot (hex).
    pub(crate) state_hash: String,
    /// The engine snapshot (JSON).
    pub(crate) snapshot: String,
}

/// The stored head as the append check sees it: `None` when no batch is stored.
pub(crate) type StoredHead = Option<(u64, String)>;

/// A storage backend.
pub(crate) trait Store: Send {
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// Tries once to take the journal's writer lock, held until this store is dropped (or its
    /// process dies): `Ok(false)` when another store holds it.
    fn try_lock_writer(&mut self) -> Result<bool, LedgerError>;
    /// Whether this store holds the writer lock.
    fn holds_writer_lock(&self) -> bool;
    /// The head record (see [`crate::head`]): `None` when none was ever written.
    fn head_record(&mut self) -> Result<Option<ChainHead>, LedgerError>;
    /// Replaces the head record, durably.
    fn put_head_record(&mut self, head: &ChainHead) -> Result<(), LedgerError>;
    /// Where the writer lock lives, for messages.
    fn writer_lock_name(&self) -> String;
    /// The genesis row: config text and genesis hash (hex).
    fn genesis(&mut self) -> Result<Option<(String, String)>, LedgerError>;
    /// Inserts the genesis row unless one exists (then leaves it alone).
    fn insert_genesis(&mut self, config: &str, genesis_hash: &str) -> Result<(), LedgerError>;
    /// Seq and entry hash (hex) of the newest batch.
    fn head(&mut self) -> Result<StoredHead, LedgerError>;
    /// In one durable transaction: reads the head, lets `check` refuse, inserts the batches and
    /// the keys; then (in that transaction or right after it) the head record `new_head`. A
    /// duplicate key or seq is a `Conflict`; nothing is written on any error before the commit.
    fn append(
        &mut self,
        batches: &[BatchRow],
        keys: &[KeyRow],
        new_head: &ChainHead,
        check: &mut dyn FnMut(&StoredHead) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError>;
    /// Starts a read-only transaction that sees one consistent state of the journal until
    /// [`Store::end_read`] (recovery runs inside one while a writer may be appending).
    fn begin_read(&mut self) -> Result<(), LedgerError>;
    /// Ends the transaction [`Store::begin_read`] started.
    fn end_read(&mut self) -> Result<(), LedgerError>;
    /// One batch.
    fn batch(&mut self, seq: u64) -> Result<Option<BatchRow>, LedgerError>;
    /// Batches with seq > `after`, ascending, at most `limit`.
    fn batches_since(&mut self, after: u64, limit: usize) -> Result<Vec<BatchRow>, LedgerError>;
    /// Every idempotency key.
    fn keys(&mut self) -> Result<Vec<KeyRow>, LedgerError>;
    /// Seq and state hash (hex) of every stored snapshot, ascending.
    fn snapshot_index(&mut self) -> Result<Vec<(u64, String)>, LedgerError>;
    /// One snapshot.
    fn snapshot(&mut self, seq: u64) -> Result<Option<SnapshotRow>, LedgerError>;
    /// Stores (or replaces) a snapshot and keeps only the newest `keep`.
    fn put_snapshot(&mut self, row: &SnapshotRow, keep: usize) -> Result<(), LedgerError>;
    /// Adds (or replaces) an API key.
    fn add_api_key(&mut self, record: &ApiKeyRecord) -> Result<(), LedgerError>;
    /// Every API key, by key hash.
    fn api_keys(&mut self) -> Result<Vec<ApiKeyRecord>, LedgerError>;
    /// Deletes an API key; true if it existed.
    fn revoke_api_key(&mut self, key_hash: &str) -> Result<bool, LedgerError>;
}

/// A seq as an SQL BIGINT.
pub(crate) fn seq_to_sql(seq: u64) -> Result<i64, LedgerError> {
    i64::try_from(seq).map_err(|_| LedgerError::Invalid {
        seq,
        what: "sequence number beyond the SQL BIGINT range".to_owned(),
    })
}

/// A seq read from an SQL BIGINT.
pub(crate) fn seq_from_sql(seq: i64) -> Result<u64, LedgerError> {
    u64::try_from(seq).map_err(|_| LedgerError::Corrupt {
        seq: 0,
        what: format!("negative sequence number {seq} stored"),
    })
}

/// Account ids of an API key as JSON text.
pub(crate) fn accounts_json(accounts: &[u64]) -> Result<String, LedgerError> {
    serde_json::to_string(accounts)
        .map_err(|e| LedgerError::backend("encoding API key accounts", e))
}

/// Account ids of an API key from JSON text.
pub(crate) fn accounts_from_json(text: &str) -> Result<Vec<u64>, LedgerError> {
    serde_json::from_str(text).map_err(|e| LedgerError::Corrupt {
        seq: 0,
        what: format!("API key accounts are not a JSON list of ids: {e}"),
    })
}

/// The conflict of a key already stored, used by batch `used.0`, command `used.1` when known.
pub(crate) fn key_conflict(key: &KeyRow, used: Option<(i64, i64)>) -> LedgerError {
    let place =
        used.map_or_else(String::new, |(seq, index)| format!(" by batch {seq}, command {index}"));
    LedgerError::Conflict {
        seq: key.seq,
        what: format!("idempotency key {:?} is already used{place}", key.key),
    }
}
