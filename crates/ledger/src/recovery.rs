//! Rebuilding the engine from the journal, verifying every link, outcome and state hash.

use crate::chain::{ChainHead, KeyUse, command_digest, entry_hash, to_hex};
use crate::error::LedgerError;
use crate::journal::{decode_batch, parse_hash, verified_batch};
use crate::outcome::Outcome;
use crate::snapshot;
use crate::store::{BatchRow, Store};
use backstop_core::{Engine, VenueConfig};
use std::collections::HashMap;

/// Batches read per page during replay, so a long journal never loads at once.
const PAGE: usize = 1000;

/// An engine rebuilt from the journal, with the chain head and every idempotency key used so far.
pub struct Recovered {
    /// The engine at `head`.
    pub engine: Engine,
    /// The newest batch replayed (or the snapshot's, or genesis).
    pub head: ChainHead,
    /// Every idempotency key in the journal and where it was used.
    pub keys: HashMap<String, KeyUse>,
    /// Batches re-applied (after the snapshot, if one was used).
    pub batches_replayed: u64,
    /// The snapshot recovery started from, if any.
    pub snapshot_seq: Option<u64>,
}

impl core::fmt::Debug for Recovered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Recovered")
            .field("head", &self.head)
            .field("keys", &self.keys.len())
            .field("batches_replayed", &self.batches_replayed)
            .field("snapshot_seq", &self.snapshot_seq)
            .finish_non_exhaustive()
    }
}

/// What the journal's end is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HeadCheck {
    /// The head record read before the replay (`None`: there is none).
    Record(Option<ChainHead>),
    /// Nothing (resetting the head record).
    Skip,
}

/// Rebuilds the engine: from the latest snapshot when `use_snapshot`, else from genesis checking
/// every snapshot met on the way; then replays and verifies every later batch, and checks the
/// journal's end against the head record.
pub(crate) fn recover(
    store: &mut dyn Store,
    config_toml: &str,
    use_snapshot: bool,
    head_check: HeadCheck,
) -> Result<Recovered, LedgerError> {
    // One consistent view: a writer appending meanwhile must not show keys without batches.
    store.begin_read()?;
    let result = recover_in_view(store, config_toml, use_snapshot, head_check);
    let ended = store.end_read();
    let recovered = result?;
    ended?;
    Ok(recovered)
}

/// [`recover`] inside a read transaction.
fn recover_in_view(
    store: &mut dyn Store,
    config_toml: &str,
    use_snapshot: bool,
    head_check: HeadCheck,
) -> Result<Recovered, LedgerError> {
    let key_rows = store.keys()?;
    let mut keys = HashMap::with_capacity(key_rows.len());
    for row in &key_rows {
        let digest = parse_hash(row.seq, "idempotency command digest", &row.command_digest)?;
        keys.insert(
            row.key.clone(),
            KeyUse { seq: row.seq, index: row.index, command_digest: digest },
        );
    }
    let snapshots = store.snapshot_index()?;
    let latest = if use_snapshot { snapshots.last().cloned() } else { None };
    let mut linked_keys = 0usize;
    let (mut engine, mut head) = match &latest {
        Some((seq, hash)) => {
            // Entries before the snapshot are not re-applied, but each must still be the
            // stored bytes it was sealed with and follow the one before it.
            let (linked, keys_seen) =
                verify_links(store, &keys, ChainHead::genesis(config_toml), *seq)?;
            linked_keys = keys_seen;
            let (engine, head) = restore_snapshot(store, *seq, hash)?;
            if head != linked {
                return Err(LedgerError::Snapshot {
                    seq: *seq,
                    what: "its batch is not the one the chain reaches".to_owned(),
                });
            }
            (engine, head)
        }
        None => (genesis_engine(config_toml)?, ChainHead::genesis(config_toml)),
    };
    let snapshot_seq = latest.map(|(seq, _)| seq);
    let check_snapshots = if use_snapshot { Vec::new() } else { snapshots };
    let mut replay =
        Replay { engine: &mut engine, head: &mut head, keys: &keys, keys_seen: linked_keys };
    let mut batches_replayed = 0u64;
    loop {
        let page = store.batches_since(replay.head.seq, PAGE)?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            replay.batch(row)?;
            batches_replayed = batches_replayed.saturating_add(1);
            if check_snapshots.binary_search_by_key(&row.seq, |(seq, _)| *seq).is_ok() {
                check_snapshot(store, row.seq, replay.engine)?;
            }
        }
    }
    let keys_seen = replay.keys_seen;
    if let HeadCheck::Record(record) = head_check {
        check_head_record(store, record, &head, &ChainHead::genesis(config_toml))?;
    }
    // Keys recorded for batches past the head mean batches were removed from the end; every
    // recorded key must have been met on the way (re-applied, or checked before the snapshot).
    for row in &key_rows {
        if row.seq > head.seq {
            return Err(LedgerError::ChainBroken {
                seq: row.seq,
                what: format!(
                    "idempotency key {:?} was used in batch {}, but the journal ends at batch {}",
                    row.key, row.seq, head.seq
                ),
            });
        }
    }
    if let Some(seq) = snapshot_seq.filter(|seq| *seq > head.seq) {
        return Err(LedgerError::ChainBroken {
            seq,
            what: format!("a snapshot exists at batch {seq}, but the journal ends at {}", head.seq),
        });
    }
    if keys_seen != key_rows.len() {
        return Err(LedgerError::Corrupt {
            seq: 0,
            what: format!(
                "{} idempotency keys are recorded but the batches use {keys_seen}",
                key_rows.len()
            ),
        });
    }
    Ok(Recovered { engine, head, keys, batches_replayed, snapshot_seq })
}

/// The journal's end (`head`, verified) against the head record: it may be ahead of the record
/// (an append committed but did not return), never behind it, and the batch at the record's seq
/// must be the one recorded. No record is refused once the journal has a batch.
fn check_head_record(
    store: &mut dyn Store,
    record: Option<ChainHead>,
    head: &ChainHead,
    genesis: &ChainHead,
) -> Result<(), LedgerError> {
    let Some(record) = record else {
        if head.seq == 0 {
            return Ok(());
        }
        return Err(LedgerError::HeadRecord {
            seq: head.seq,
            what: format!(
                "the journal holds batches 1..={} but has no head record (it was deleted, or the \
                 database was copied without it)",
                head.seq
            ),
        });
    };
    if head.seq < record.seq {
        return Err(LedgerError::EntriesLost { journal_seq: head.seq, head_seq: record.seq });
    }
    let stored = if record.seq == head.seq {
        head.entry_hash
    } else if record.seq == 0 {
        genesis.entry_hash
    } else {
        let row = store.batch(record.seq)?.ok_or(LedgerError::EntriesLost {
            journal_seq: record.seq.saturating_sub(1),
            head_seq: record.seq,
        })?;
        parse_hash(record.seq, "entry hash", &row.entry_hash)?
    };
    if stored != record.entry_hash {
        return Err(LedgerError::HeadRecord {
            seq: record.seq,
            what: format!(
                "it names entry hash {} at batch {}, but the journal's batch {} has {}: the \
                 journal is another history than the one acknowledged",
                to_hex(&record.entry_hash),
                record.seq,
                record.seq,
                to_hex(&stored)
            ),
        });
    }
    Ok(())
}

/// A keyed command's key must be recorded exactly where and for what it was used.
fn check_key(keys: &HashMap<String, KeyUse>, key: &str, used: KeyUse) -> Result<(), LedgerError> {
    let recorded = keys.get(key);
    if recorded == Some(&used) {
        return Ok(());
    }
    Err(LedgerError::Corrupt {
        seq: used.seq,
        what: format!(
            "idempotency key {key:?} of command {} is recorded as {recorded:?}",
            used.index
        ),
    })
}

/// Walks the stored batches after `from` up to `up_to`, checking each one's seq, link, entry
/// hash (recomputed from the stored bytes) and idempotency keys without re-applying it; returns
/// the head at `up_to` and how many keys the batches used.
fn verify_links(
    store: &mut dyn Store,
    keys: &HashMap<String, KeyUse>,
    from: ChainHead,
    up_to: u64,
) -> Result<(ChainHead, usize), LedgerError> {
    let mut head = from;
    let mut keys_seen = 0usize;
    while head.seq < up_to {
        let page = store.batches_since(head.seq, PAGE)?;
        if page.is_empty() {
            break;
        }
        for row in page.iter().take_while(|row| row.seq <= up_to) {
            let expected = head.seq.saturating_add(1);
            if row.seq != expected {
                return Err(LedgerError::ChainBroken {
                    seq: expected,
                    what: format!(
                        "batch {expected} is missing: the batch after {} is {}",
                        head.seq, row.seq
                    ),
                });
            }
            let batch = verified_batch(row)?;
            if batch.prev_hash != head.entry_hash {
                return Err(LedgerError::ChainBroken {
                    seq: row.seq,
                    what: format!(
                        "prev_hash {} is not the entry hash {} of batch {}",
                        to_hex(&batch.prev_hash),
                        to_hex(&head.entry_hash),
                        head.seq
                    ),
                });
            }
            for (index, (command, key)) in batch.commands.iter().zip(&batch.keys).enumerate() {
                if let Some(key) = key {
                    let index = u32::try_from(index).unwrap_or(u32::MAX);
                    check_key(
                        keys,
                        key,
                        KeyUse { seq: batch.seq, index, command_digest: command_digest(command) },
                    )?;
                    keys_seen = keys_seen.saturating_add(1);
                }
            }
            head = batch.head();
        }
    }
    Ok((head, keys_seen))
}

/// The engine the journal began with.
fn genesis_engine(config_toml: &str) -> Result<Engine, LedgerError> {
    let corrupt = |e: &dyn core::fmt::Display| LedgerError::Corrupt {
        seq: 0,
        what: format!("genesis venue configuration: {e}"),
    };
    let config = VenueConfig::from_toml_str(config_toml).map_err(|e| corrupt(&e))?;
    Engine::new(config).map_err(|e| corrupt(&e))
}

/// Loads the snapshot at `seq`, checking its state hash against its row, its batch and the
/// rebuilt engine; returns the engine and the head at that batch.
fn restore_snapshot(
    store: &mut dyn Store,
    seq: u64,
    indexed_hash: &str,
) -> Result<(Engine, ChainHead), LedgerError> {
    let Some(batch) = store.batch(seq)? else {
        return Err(LedgerError::Snapshot {
            seq,
            what: "no batch with this seq is stored".to_owned(),
        });
    };
    if batch.state_hash != indexed_hash {
        return Err(LedgerError::Snapshot {
            seq,
            what: format!(
                "snapshot state hash {indexed_hash} differs from the batch's {}",
                batch.state_hash
            ),
        });
    }
    let engine = load_snapshot(store, seq, indexed_hash)?;
    let entry_hash = parse_hash(seq, "entry hash", &batch.entry_hash)?;
    Ok((engine, ChainHead { seq, entry_hash }))
}

/// Reads and rebuilds the snapshot at `seq`, checking the engine's state hash equals `expected`.
fn load_snapshot(store: &mut dyn Store, seq: u64, expected: &str) -> Result<Engine, LedgerError> {
    let Some(row) = store.snapshot(seq)? else {
        return Err(LedgerError::Snapshot { seq, what: "the snapshot row disappeared".to_owned() });
    };
    if row.state_hash != expected {
        return Err(LedgerError::Snapshot {
            seq,
            what: format!("snapshot state hash {} differs from {expected}", row.state_hash),
        });
    }
    let mut engine =
        snapshot::decode(&row.snapshot).map_err(|what| LedgerError::Snapshot { seq, what })?;
    let actual = to_hex(&engine.state_hash());
    if actual != expected {
        return Err(LedgerError::Snapshot {
            seq,
            what: format!(
                "the rebuilt engine's state hash {actual} differs from the recorded {expected}"
            ),
        });
    }
    Ok(engine)
}

/// During replay from genesis: the snapshot at `seq` must match the replayed engine.
fn check_snapshot(store: &mut dyn Store, seq: u64, engine: &mut Engine) -> Result<(), LedgerError> {
    let replayed = to_hex(&engine.state_hash());
    load_snapshot(store, seq, &replayed).map(drop)
}

/// Replay state: the engine, the head reached and the keys to check against.
struct Replay<'a> {
    /// The engine being rebuilt.
    engine: &'a mut Engine,
    /// The last batch verified.
    head: &'a mut ChainHead,
    /// Keys from the idempotency table.
    keys: &'a HashMap<String, KeyUse>,
    /// How many keys the replayed batches used.
    keys_seen: usize,
}

impl Replay<'_> {
    /// Verifies one stored batch against the chain and re-applies it.
    fn batch(&mut self, row: &BatchRow) -> Result<(), LedgerError> {
        let expected_seq = self.head.seq.saturating_add(1);
        if row.seq != expected_seq {
            return Err(LedgerError::ChainBroken {
                seq: expected_seq,
                what: format!(
                    "batch {expected_seq} is missing: the batch after {} is {}",
                    self.head.seq, row.seq
                ),
            });
        }
        let seq = row.seq;
        let batch = decode_batch(row)?;
        if batch.prev_hash != self.head.entry_hash {
            return Err(LedgerError::ChainBroken {
                seq,
                what: format!(
                    "prev_hash {} is not the entry hash {} of batch {}",
                    to_hex(&batch.prev_hash),
                    to_hex(&self.head.entry_hash),
                    self.head.seq
                ),
            });
        }
        let computed = entry_hash(
            seq,
            &batch.prev_hash,
            row.commands.as_bytes(),
            row.keys.as_bytes(),
            &batch.state_hash,
        );
        if computed != batch.entry_hash {
            return Err(LedgerError::HashMismatch {
                seq,
                what: "entry hash".to_owned(),
                expected: to_hex(&computed),
                actual: to_hex(&batch.entry_hash),
            });
        }
        if let Some(what) = batch.shape_problem() {
            return Err(LedgerError::Corrupt { seq, what });
        }
        for (index, ((command, key), stored)) in
            batch.commands.iter().zip(&batch.keys).zip(&batch.outcomes).enumerate()
        {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            let outcome = Outcome::of(&self.engine.apply(command));
            if outcome != *stored {
                return Err(LedgerError::OutcomeMismatch { seq, index });
            }
            if let Some(key) = key {
                check_key(
                    self.keys,
                    key,
                    KeyUse { seq, index, command_digest: command_digest(command) },
                )?;
                self.keys_seen = self.keys_seen.saturating_add(1);
            }
        }
        let state_hash = self.engine.state_hash();
        if state_hash != batch.state_hash {
            return Err(LedgerError::HashMismatch {
                seq,
                what: "state hash".to_owned(),
                expected: to_hex(&batch.state_hash),
                actual: to_hex(&state_hash),
            });
        }
        *self.head = ChainHead { seq, entry_hash: batch.entry_hash };
        Ok(())
    }
}
