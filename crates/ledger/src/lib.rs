//! Backstop's durable journal: command batches in a hash chain, snapshots and verified replay.
//!
//! A [`Ledger`] stores, on SQLite (one file, WAL, synced at every commit) or PostgreSQL, the venue
//! configuration the journal began with (its genesis), every [`Batch`] of commands the engine
//! applied with their idempotency keys and [`Outcome`]s, engine snapshots every so often, and the
//! API keys of the service. Each batch commits to the previous one and to the engine's state hash
//! after it ([`chain`]); [`Ledger::recover`] and [`Ledger::replay_from_genesis`] rebuild the engine
//! and verify every link, outcome and state hash on the way.
//!
//! The API is synchronous. The PostgreSQL client runs its own small runtime: call a `Ledger` from
//! a plain thread (or `tokio::task::spawn_blocking`), never from inside an async task.

pub mod api_keys;
pub mod chain;
pub mod error;
mod head;
pub mod journal;
pub mod outcome;
mod postgres_store;
mod recovery;
mod snapshot;
mod sqlite_store;
mod store;

pub use api_keys::ApiKeyRecord;
pub use chain::{
    Batch, ChainHead, Hash32, KeyUse, command_digest, entry_hash, genesis_hash, to_hex,
};
pub use error::LedgerError;
pub use journal::{Ledger, MAX_SEQ};
pub use outcome::{Events, Outcome};
pub use recovery::Recovered;
