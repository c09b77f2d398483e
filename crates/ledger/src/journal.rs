//! The journal: a [`Ledger`] over one of the storage backends.

use crate::api_keys::ApiKeyRecord;
use crate::chain::{
    Batch, ChainHead, Hash32, command_digest_of_json, entry_hash, from_hex, genesis_hash, to_hex,
};
use crate::error::LedgerError;
use crate::postgres_store::PostgresStore;
use crate::recovery::{self, HeadCheck, Recovered};
use crate::snapshot;
use crate::sqlite_store::SqliteStore;
use crate::store::{BatchRow, KeyRow, SnapshotRow, Store, StoredHead};
use backstop_core::{Command, Engine, VenueConfig};
use std::collections::HashSet;

/// How many snapshots are kept; older ones are deleted when a new one is written.
pub const SNAPSHOTS_KEPT: usize = 3;

/// The largest sequence number a journal can store (both backends keep seqs as SQL BIGINT).
pub const MAX_SEQ: u64 = i64::MAX.unsigned_abs();

/// A durable journal of command batches on SQLite or PostgreSQL.
///
/// Two `Ledger`s may be open on the same database at once (a writer and a reader); appends are
/// checked against the stored head inside their transaction, so a second writer gets a
/// [`LedgerError::Conflict`] rather than forking the chain.
pub struct Ledger {
    /// The backend.
    store: Box<dyn Store>,
    /// The genesis hash, once read (it never changes once written).
    genesis: Option<Hash32>,
}

impl core::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ledger").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

impl Ledger {
    /// "postgres://…" or "postgresql://…" → PostgreSQL; "sqlite://PATH" or a plain path → SQLite file.
    pub fn open(location: &str) -> Result<Ledger, LedgerError> {
        let location = location.trim();
        let store: Box<dyn Store> =
            if location.starts_with("postgres://") || location.starts_with("postgresql://") {
                Box::new(PostgresStore::open(location)?)
            } else {
                let path = location.strip_prefix("sqlite://").unwrap_or(location);
                if path.is_empty() {
                    return Err(LedgerError::backend("opening the journal", "empty database path"));
                }
                Box::new(SqliteStore::open(path)?)
            };
        Ok(Ledger { store, genesis: None })
    }

    /// Takes the journal's writer lock (one writer per journal), waiting up to `wait` for a
    /// previous holder to go; held until this `Ledger` is dropped or its process dies.
    ///
    /// # Errors
    /// [`LedgerError::WriterLocked`] when another writer still holds it after `wait`; a backend
    /// error when the lock cannot be tried.
    pub fn lock_writer(&mut self, wait: std::time::Duration) -> Result<(), LedgerError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if self.store.try_lock_writer()? {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(LedgerError::WriterLocked { what: self.store.writer_lock_name() });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// "sqlite" or "postgres".
    #[must_use]
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The venue configuration TOML the journal began with, if initialized.
    pub fn genesis(&mut self) -> Result<Option<String>, LedgerError> {
        let Some((config, stored_hash)) = self.store.genesis()? else { return Ok(None) };
        let hash = genesis_hash(&config);
        if stored_hash != to_hex(&hash) {
            return Err(LedgerError::Corrupt {
                seq: 0,
                what: format!(
                    "genesis hash {stored_hash} stored, but the stored configuration hashes to {}",
                    to_hex(&hash)
                ),
            });
        }
        self.genesis = Some(hash);
        Ok(Some(config))
    }

    /// Records the venue config as genesis; Ok if the same text is already there; error if different.
    ///
    /// # Errors
    /// Besides a different venue: [`LedgerError::HeadRecord`] when the database holds no journal
    /// but a head record says one was there (never start a fresh journal over a lost one).
    pub fn initialize(&mut self, config_toml: &str) -> Result<(), LedgerError> {
        if self.genesis()?.is_none() {
            if let Some(record) = self.store.head_record()? {
                return Err(no_genesis_under(&record));
            }
            let config = VenueConfig::from_toml_str(config_toml).map_err(|e| {
                LedgerError::Invalid { seq: 0, what: format!("venue configuration: {e}") }
            })?;
            Engine::new(config).map_err(|e| LedgerError::Invalid {
                seq: 0,
                what: format!("venue configuration: {e}"),
            })?;
            self.store.insert_genesis(config_toml, &to_hex(&genesis_hash(config_toml)))?;
            if self.store.head()?.is_none() {
                self.store.put_head_record(&ChainHead::genesis(config_toml))?;
            }
        }
        // Re-read: another process may have initialized it first.
        match self.genesis()? {
            Some(stored) if stored == config_toml => Ok(()),
            Some(stored) => Err(LedgerError::GenesisMismatch {
                stored: to_hex(&genesis_hash(&stored)),
                given: to_hex(&genesis_hash(config_toml)),
            }),
            None => Err(LedgerError::NotInitialized),
        }
    }

    /// The genesis hash, read once.
    fn genesis_hash(&mut self) -> Result<Hash32, LedgerError> {
        if let Some(hash) = self.genesis {
            return Ok(hash);
        }
        self.genesis()?;
        self.genesis.ok_or(LedgerError::NotInitialized)
    }

    /// Latest snapshot + replay of later batches, verifying chain, outcomes and every state hash,
    /// and the journal's end against the head record (see [`Ledger::replay_from_genesis`]).
    pub fn recover(&mut self) -> Result<Recovered, LedgerError> {
        self.recover_checked(true)
    }

    /// Same but from genesis, ignoring snapshots (checks each snapshot's hash on the way).
    ///
    /// The head record is read first (it is written after every commit, so it never runs ahead
    /// of what a later read sees): a journal that ends before it is [`LedgerError::EntriesLost`],
    /// one whose batch at the record's seq has another entry hash, or a journal with batches and
    /// no record, is [`LedgerError::HeadRecord`]. A writer (holding the lock) moves the record up
    /// to a journal that is ahead of it (an append that committed but did not return).
    pub fn replay_from_genesis(&mut self) -> Result<Recovered, LedgerError> {
        self.recover_checked(false)
    }

    /// [`Ledger::recover`] or [`Ledger::replay_from_genesis`], checked against the head record.
    fn recover_checked(&mut self, use_snapshot: bool) -> Result<Recovered, LedgerError> {
        let record = self.store.head_record()?;
        let Some(config) = self.genesis()? else {
            return Err(record.map_or(LedgerError::NotInitialized, |r| no_genesis_under(&r)));
        };
        let recovered = recovery::recover(
            self.store.as_mut(),
            &config,
            use_snapshot,
            HeadCheck::Record(record),
        )?;
        if self.store.holds_writer_lock() && record.is_none_or(|r| r.seq < recovered.head.seq) {
            self.store.put_head_record(&recovered.head)?;
        }
        Ok(recovered)
    }

    /// The operator's way out of a refused journal: verifies it from genesis exactly as
    /// [`Ledger::replay_from_genesis`] does, except against the head record, then writes the head
    /// record at the journal's verified end. Returns the record it replaced (`None` when there
    /// was none or it was unreadable) and the verified journal. Batches the old record names
    /// past the journal's end are given up for good, with their idempotency keys.
    ///
    /// # Errors
    /// [`LedgerError::WriterLocked`] unless this ledger holds the writer lock (so no server is
    /// running on the journal); any error of the replay.
    pub fn reset_head_record(&mut self) -> Result<(Option<ChainHead>, Recovered), LedgerError> {
        if !self.store.holds_writer_lock() {
            return Err(LedgerError::WriterLocked {
                what: format!("resetting the head record needs {}", self.store.writer_lock_name()),
            });
        }
        let old = self.store.head_record().ok().flatten();
        let config = self.genesis()?.ok_or(LedgerError::NotInitialized)?;
        let recovered = recovery::recover(self.store.as_mut(), &config, false, HeadCheck::Skip)?;
        self.store.put_head_record(&recovered.head)?;
        Ok((old, recovered))
    }

    /// The head record as stored (`None` when none was written).
    pub fn head_record(&mut self) -> Result<Option<ChainHead>, LedgerError> {
        self.store.head_record()
    }

    /// Writes the batches (contiguous after the stored head) and their keys in ONE transaction,
    /// durable (fsynced / committed) when it returns Ok.
    ///
    /// Refused, with nothing written: a first batch that does not follow the stored head
    /// ([`LedgerError::Conflict`]), a gap or wrong `prev_hash` between the batches
    /// ([`LedgerError::ChainBroken`]), a wrong `entry_hash` ([`LedgerError::HashMismatch`]),
    /// keys or outcomes not one per command ([`LedgerError::Invalid`]), an idempotency key
    /// already used, in the journal or earlier in this append ([`LedgerError::Conflict`]).
    pub fn append(&mut self, batches: &[Batch]) -> Result<(), LedgerError> {
        let Some(first) = batches.first() else { return Ok(()) };
        let genesis = self.genesis_hash()?;
        let mut rows = Vec::with_capacity(batches.len());
        let mut key_rows = Vec::new();
        let mut seen = HashSet::new();
        let mut previous: Option<&Batch> = None;
        for batch in batches {
            if let Some(previous) = previous {
                if batch.seq != previous.seq.saturating_add(1) {
                    return Err(LedgerError::ChainBroken {
                        seq: batch.seq,
                        what: format!("follows batch {} in the same append", previous.seq),
                    });
                }
                if batch.prev_hash != previous.entry_hash {
                    return Err(LedgerError::ChainBroken {
                        seq: batch.seq,
                        what: format!(
                            "prev_hash {} is not the entry hash {} of batch {}",
                            to_hex(&batch.prev_hash),
                            to_hex(&previous.entry_hash),
                            previous.seq
                        ),
                    });
                }
            }
            let (row, digests) = encode_batch(batch)?;
            for (index, (key, digest)) in batch.keys.iter().zip(digests).enumerate() {
                let (Some(key), Some(digest)) = (key, digest) else { continue };
                if !seen.insert(key.as_str()) {
                    return Err(LedgerError::Conflict {
                        seq: batch.seq,
                        what: format!("idempotency key {key:?} used twice in one append"),
                    });
                }
                let index = u32::try_from(index).map_err(|_| LedgerError::Invalid {
                    seq: batch.seq,
                    what: "more than 2^32 commands in a batch".to_owned(),
                })?;
                key_rows.push(KeyRow {
                    key: key.clone(),
                    seq: batch.seq,
                    index,
                    command_digest: to_hex(&digest),
                });
            }
            rows.push(row);
            previous = Some(batch);
        }
        let (first_seq, first_prev) = (first.seq, first.prev_hash);
        let mut check = |stored: &StoredHead| -> Result<(), LedgerError> {
            let head = head_from(stored, genesis)?;
            if first_seq != head.seq.saturating_add(1) {
                return Err(LedgerError::Conflict {
                    seq: first_seq,
                    what: format!(
                        "the journal head is batch {}, so the next is {}",
                        head.seq,
                        head.seq.saturating_add(1)
                    ),
                });
            }
            if first_prev != head.entry_hash {
                return Err(LedgerError::Conflict {
                    seq: first_seq,
                    what: format!(
                        "prev_hash {} is not the head's entry hash {}",
                        to_hex(&first_prev),
                        to_hex(&head.entry_hash)
                    ),
                });
            }
            Ok(())
        };
        let new_head = batches.last().map_or(first.head(), Batch::head);
        self.store.append(&rows, &key_rows, &new_head, &mut check)
    }

    /// Stores a snapshot of `engine`, which must be at batch `seq` (its state hash is checked
    /// against the batch's); keeps only the newest [`SNAPSHOTS_KEPT`].
    pub fn write_snapshot(&mut self, seq: u64, engine: &Engine) -> Result<(), LedgerError> {
        let Some(row) = self.store.batch(seq)? else {
            return Err(LedgerError::Snapshot { seq, what: "no batch with this seq".to_owned() });
        };
        let hash = engine.state_hash_from_scratch();
        if row.state_hash != to_hex(&hash) {
            return Err(LedgerError::Snapshot {
                seq,
                what: format!(
                    "the engine's state hash {} is not the batch's {}: the engine is not at this seq",
                    to_hex(&hash),
                    row.state_hash
                ),
            });
        }
        let json = snapshot::encode(engine).map_err(|what| LedgerError::Snapshot { seq, what })?;
        self.store.put_snapshot(
            &SnapshotRow { seq, state_hash: to_hex(&hash), snapshot: json },
            SNAPSHOTS_KEPT,
        )
    }

    /// The newest sealed entry (seq 0 and the genesis hash when no batch is stored).
    pub fn head(&mut self) -> Result<ChainHead, LedgerError> {
        let genesis = self.genesis_hash()?;
        let stored = self.store.head()?;
        head_from(&stored, genesis)
    }

    /// One stored batch, if there is one at `seq` (never one past [`MAX_SEQ`]).
    pub fn batch(&mut self, seq: u64) -> Result<Option<Batch>, LedgerError> {
        if seq > MAX_SEQ {
            return Ok(None);
        }
        self.store.batch(seq)?.map(|row| verified_batch(&row)).transpose()
    }

    /// Up to `limit` batches with seq > `after_seq`, in order (none after [`MAX_SEQ`]: a
    /// reader's position past the storable range is not an error, there is just nothing there).
    /// Each batch's entry hash is recomputed from the stored bytes, and each must follow the one
    /// before it in the chain: a damaged row is an error, never served.
    pub fn batches_since(
        &mut self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Batch>, LedgerError> {
        if after_seq >= MAX_SEQ || limit == 0 {
            return Ok(Vec::new());
        }
        let batches = self
            .store
            .batches_since(after_seq, limit)?
            .iter()
            .map(verified_batch)
            .collect::<Result<Vec<_>, _>>()?;
        for pair in batches.windows(2) {
            if let [before, after] = pair
                && (after.seq != before.seq.saturating_add(1)
                    || after.prev_hash != before.entry_hash)
            {
                return Err(LedgerError::ChainBroken {
                    seq: after.seq,
                    what: format!("does not follow batch {} in the chain", before.seq),
                });
            }
        }
        Ok(batches)
    }

    /// Stores an API key (replacing one with the same hash). The hash must be 64 lowercase hex
    /// digits: the key itself is never stored.
    pub fn add_api_key(&mut self, record: &ApiKeyRecord) -> Result<(), LedgerError> {
        if !is_key_hash(&record.key_hash) {
            return Err(LedgerError::Invalid {
                seq: 0,
                what: "an API key's hash must be its SHA-256 as 64 lowercase hex digits".to_owned(),
            });
        }
        // PostgreSQL text cannot hold NUL: refuse it on both backends alike.
        if record.role.contains('\0') || record.label.contains('\0') {
            return Err(LedgerError::Invalid {
                seq: 0,
                what: "an API key's role and label cannot contain NUL characters".to_owned(),
            });
        }
        self.store.add_api_key(record)
    }

    /// Every stored API key, ordered by hash.
    pub fn api_keys(&mut self) -> Result<Vec<ApiKeyRecord>, LedgerError> {
        self.store.api_keys()
    }

    /// Deletes an API key by hash; true if it was there.
    pub fn revoke_api_key(&mut self, key_hash: &str) -> Result<bool, LedgerError> {
        // No stored key has another shape (see `add_api_key`); and such text (a NUL, say) may
        // not even reach the backend.
        if !is_key_hash(key_hash) {
            return Ok(false);
        }
        self.store.revoke_api_key(key_hash)
    }
}

/// The refusal when the database has no genesis but a head record exists.
fn no_genesis_under(record: &ChainHead) -> LedgerError {
    LedgerError::HeadRecord {
        seq: record.seq,
        what: format!(
            "the database holds no journal (no genesis), but its head record says batch {} was \
             acknowledged: the database was lost, replaced or its WAL discarded; refusing to \
             start a fresh journal over it",
            record.seq
        ),
    }
}

/// A stored row as a batch, its entry hash recomputed from the stored bytes (the per-entry
/// checksum): a damaged row is `HashMismatch`, never returned.
pub(crate) fn verified_batch(row: &BatchRow) -> Result<Batch, LedgerError> {
    let batch = decode_batch(row)?;
    let computed = entry_hash(
        batch.seq,
        &batch.prev_hash,
        row.commands.as_bytes(),
        row.keys.as_bytes(),
        &batch.state_hash,
    );
    if computed != batch.entry_hash {
        return Err(LedgerError::HashMismatch {
            seq: batch.seq,
            what: "entry hash".to_owned(),
            expected: to_hex(&computed),
            actual: to_hex(&batch.entry_hash),
        });
    }
    Ok(batch)
}

/// Whether a text has the shape of a stored key hash: 64 lowercase hex digits.
fn is_key_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The chain head from the stored newest batch (or genesis).
fn head_from(stored: &StoredHead, genesis: Hash32) -> Result<ChainHead, LedgerError> {
    match stored {
        None => Ok(ChainHead { seq: 0, entry_hash: genesis }),
        Some((seq, hash)) => {
            Ok(ChainHead { seq: *seq, entry_hash: parse_hash(*seq, "entry hash", hash)? })
        }
    }
}

/// A stored hex hash, or `Corrupt` naming the seq and which hash.
pub(crate) fn parse_hash(seq: u64, what: &str, text: &str) -> Result<Hash32, LedgerError> {
    from_hex(text).ok_or_else(|| LedgerError::Corrupt {
        seq,
        what: format!("{what} {text:?} is not 64 hex digits"),
    })
}

/// A batch as a row: checks its shape and entry hash, and serializes its parts once. Also
/// returns the [`command_digest`] of every keyed command, hashed from the same bytes: the
/// commands' JSON is written one command at a time, exactly as `serde_json::to_vec` writes the
/// whole vector (`[`, the commands separated by `,`, `]`).
fn encode_batch(batch: &Batch) -> Result<(BatchRow, Vec<Option<Hash32>>), LedgerError> {
    let seq = batch.seq;
    if let Some(what) = batch.shape_problem() {
        return Err(LedgerError::Invalid { seq, what });
    }
    let invalid = |what: &str, e: serde_json::Error| LedgerError::Invalid {
        seq,
        what: format!("cannot serialize the {what}: {e}"),
    };
    let mut commands =
        Vec::with_capacity(batch.commands.len().saturating_mul(64).saturating_add(2));
    let mut digests = Vec::with_capacity(batch.commands.len());
    commands.push(b'[');
    for (index, (command, key)) in batch.commands.iter().zip(&batch.keys).enumerate() {
        if index > 0 {
            commands.push(b',');
        }
        let start = commands.len();
        serde_json::to_writer(&mut commands, command).map_err(|e| invalid("commands", e))?;
        digests.push(key.as_ref().map(|_| command_digest_of_json(&commands[start..])));
    }
    commands.push(b']');
    let commands = String::from_utf8(commands).map_err(|e| LedgerError::Invalid {
        seq,
        what: format!("commands JSON is not UTF-8: {e}"),
    })?;
    let keys = serde_json::to_string(&batch.keys).map_err(|e| invalid("keys", e))?;
    let outcomes = serde_json::to_string(&batch.outcomes).map_err(|e| invalid("outcomes", e))?;
    let computed =
        entry_hash(seq, &batch.prev_hash, commands.as_bytes(), keys.as_bytes(), &batch.state_hash);
    if computed != batch.entry_hash {
        return Err(LedgerError::HashMismatch {
            seq,
            what: "entry hash".to_owned(),
            expected: to_hex(&computed),
            actual: to_hex(&batch.entry_hash),
        });
    }
    let row = BatchRow {
        seq,
        prev_hash: to_hex(&batch.prev_hash),
        entry_hash: to_hex(&batch.entry_hash),
        state_hash: to_hex(&batch.state_hash),
        commands,
        keys,
        outcomes,
    };
    Ok((row, digests))
}

/// A row as a batch, as stored (no verification beyond parsing).
pub(crate) fn decode_batch(row: &BatchRow) -> Result<Batch, LedgerError> {
    let seq = row.seq;
    let corrupt = |what: &str, e: serde_json::Error| LedgerError::Corrupt {
        seq,
        what: format!("stored {what} are not valid JSON: {e}"),
    };
    let commands: Vec<Command> =
        serde_json::from_str(&row.commands).map_err(|e| corrupt("commands", e))?;
    let keys: Vec<Option<String>> =
        serde_json::from_str(&row.keys).map_err(|e| corrupt("keys", e))?;
    let outcomes = serde_json::from_str(&row.outcomes).map_err(|e| corrupt("outcomes", e))?;
    Ok(Batch {
        seq,
        commands,
        keys,
        outcomes,
        state_hash: parse_hash(seq, "state hash", &row.state_hash)?,
        prev_hash: parse_hash(seq, "prev hash", &row.prev_hash)?,
        entry_hash: parse_hash(seq, "entry hash", &row.entry_hash)?,
    })
}
