//! Why a journal operation failed: typed, and saying what and where (which seq).

use core::fmt;

/// Why a journal operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// The database refused or failed (I/O, connection, SQL); nothing is known to be written.
    Backend {
        /// What the journal was doing.
        context: String,
        /// The backend's message.
        message: String,
    },
    /// The journal has no genesis yet: call `initialize` first.
    NotInitialized,
    /// The journal began with a different venue configuration.
    GenesisMismatch {
        /// Genesis hash (hex) of the stored configuration.
        stored: String,
        /// Genesis hash (hex) of the configuration given.
        given: String,
    },
    /// A batch or configuration handed to the journal is malformed; nothing was written.
    Invalid {
        /// Sequence number concerned (0 for the genesis configuration).
        seq: u64,
        /// What is wrong.
        what: String,
    },
    /// An append does not fit the stored journal (does not follow the head, leaves a gap, or
    /// reuses an idempotency key); nothing was written.
    Conflict {
        /// Sequence number of the refused batch.
        seq: u64,
        /// What conflicts.
        what: String,
    },
    /// The chain is broken: a batch is missing or does not link to the one before.
    ChainBroken {
        /// Sequence number where the break was found.
        seq: u64,
        /// What is broken.
        what: String,
    },
    /// A stored or recomputed hash differs from the one expected.
    HashMismatch {
        /// Sequence number of the batch.
        seq: u64,
        /// Which hash (entry hash, state hash...).
        what: String,
        /// The hash expected (hex).
        expected: String,
        /// The hash found (hex).
        actual: String,
    },
    /// Replaying a command gave a different outcome from the one stored.
    OutcomeMismatch {
        /// Sequence number of the batch.
        seq: u64,
        /// Index of the command in the batch.
        index: u32,
    },
    /// Stored data cannot be read back (bad JSON, bad hex, inconsistent rows).
    Corrupt {
        /// Sequence number concerned (0 for the genesis row or journal-wide data).
        seq: u64,
        /// What is wrong.
        what: String,
    },
    /// Another writer (a running `serve`) holds the journal's writer lock.
    WriterLocked {
        /// The journal and how its lock is held.
        what: String,
    },
    /// The journal ends before its head record: acknowledged batches are missing (a lost or
    /// damaged SQLite WAL tail, an older copy of the database, rows deleted).
    EntriesLost {
        /// The last batch the journal holds (0: none).
        journal_seq: u64,
        /// The batch the head record says was acknowledged last.
        head_seq: u64,
    },
    /// The head record is missing, unreadable or names another history than the journal's.
    HeadRecord {
        /// Sequence number concerned (the head record's, when known).
        seq: u64,
        /// What is wrong.
        what: String,
    },
    /// A snapshot is unusable: unreadable, refused by the engine, or not at its batch's state.
    Snapshot {
        /// Sequence number of the snapshot.
        seq: u64,
        /// What is wrong.
        what: String,
    },
}

impl LedgerError {
    /// A backend error with its context.
    pub(crate) fn backend(context: &str, error: impl fmt::Display) -> LedgerError {
        LedgerError::Backend { context: context.to_owned(), message: error.to_string() }
    }

    /// The sequence number the error concerns, when it concerns one.
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        match self {
            LedgerError::Backend { .. }
            | LedgerError::NotInitialized
            | LedgerError::GenesisMismatch { .. }
            | LedgerError::WriterLocked { .. } => None,
            LedgerError::Invalid { seq, .. }
            | LedgerError::Conflict { seq, .. }
            | LedgerError::ChainBroken { seq, .. }
            | LedgerError::HashMismatch { seq, .. }
            | LedgerError::OutcomeMismatch { seq, .. }
            | LedgerError::Corrupt { seq, .. }
            | LedgerError::HeadRecord { seq, .. }
            | LedgerError::Snapshot { seq, .. } => Some(*seq),
            LedgerError::EntriesLost { journal_seq, .. } => Some(journal_seq.saturating_add(1)),
        }
    }
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Backend { context, message } => {
                write!(f, "journal backend error while {context}: {message}")
            }
            LedgerError::NotInitialized => {
                write!(f, "journal not initialized: it has no genesis venue configuration")
            }
            LedgerError::GenesisMismatch { stored, given } => write!(
                f,
                "journal began with a different venue configuration (genesis hash {stored}, \
                 this configuration {given})"
            ),
            LedgerError::Invalid { seq, what } => write!(f, "invalid batch {seq}: {what}"),
            LedgerError::Conflict { seq, what } => {
                write!(f, "append of batch {seq} conflicts with the journal: {what}")
            }
            LedgerError::ChainBroken { seq, what } => {
                write!(f, "hash chain broken at batch {seq}: {what}")
            }
            LedgerError::HashMismatch { seq, what, expected, actual } => {
                write!(f, "{what} mismatch at batch {seq}: expected {expected}, found {actual}")
            }
            LedgerError::OutcomeMismatch { seq, index } => write!(
                f,
                "replay of batch {seq}, command {index} gave a different outcome from the journal's"
            ),
            LedgerError::Corrupt { seq, what } => {
                write!(f, "corrupt journal at batch {seq}: {what}")
            }
            LedgerError::Snapshot { seq, what } => write!(f, "snapshot at batch {seq}: {what}"),
            LedgerError::EntriesLost { journal_seq, head_seq } => write!(
                f,
                "acknowledged batches {}..={head_seq} are missing: the journal ends at batch \
                 {journal_seq} but its head record is at batch {head_seq} (a lost or damaged \
                 WAL tail, or an older copy of the database); refusing to go on without them. \
                 Restore the database from a backup, or accept the loss with `backstop replay \
                 --db DB --reset-head` (docs/ledger.md)",
                journal_seq.saturating_add(1)
            ),
            LedgerError::HeadRecord { seq, what } => write!(
                f,
                "head record (batch {seq}): {what}; refusing to trust the journal. See \
                 docs/ledger.md: restore the database and its head record from a backup, or \
                 verify and adopt the journal as it is with `backstop replay --db DB --reset-head`"
            ),
            LedgerError::WriterLocked { what } => {
                write!(
                    f,
                    "another writer holds the journal ({what}); is a server already running on it?"
                )
            }
        }
    }
}

impl std::error::Error for LedgerError {}
