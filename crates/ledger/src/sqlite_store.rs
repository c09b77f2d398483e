//! The SQLite backend: one file, WAL journal, `synchronous=FULL` so a commit is on disk when it
//! returns, appends in `BEGIN IMMEDIATE … COMMIT` with cached prepared statements.

use crate::api_keys::ApiKeyRecord;
use crate::chain::ChainHead;
use crate::error::LedgerError;
use crate::head;
use crate::store::{
    BatchRow, KeyRow, SCHEMA_VERSION, SnapshotRow, Store, StoredHead, accounts_from_json,
    accounts_json, key_conflict, seq_from_sql, seq_to_sql,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use std::time::Duration;

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema, created if missing.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS genesis (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,
    genesis_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    state_hash TEXT NOT NULL,
    commands TEXT NOT NULL,
    "keys" TEXT NOT NULL,
    outcomes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    "key" TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    command_digest TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    state_hash TEXT NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    accounts TEXT NOT NULL,
    label TEXT NOT NULL
);
"#;

/// Columns of `batches` in the order [`batch_row`] reads them.
const BATCH_COLUMNS: &str = r#"seq, prev_hash, entry_hash, state_hash, commands, "keys", outcomes"#;

/// A journal in an SQLite file.
pub(crate) struct SqliteStore {
    /// The connection (WAL, synchronous=FULL). Declared before `lock_file` so that it closes
    /// first: closing any descriptor of the database file drops this process's POSIX locks on
    /// it, which SQLite's own connection must no longer need by then.
    conn: Connection,
    /// Path of the journal file.
    path: String,
    /// The database file opened a second time to hold the writer lock on, once tried; kept
    /// open (locked or not) until the store drops, for the reason above.
    lock_file: Option<std::fs::File>,
    /// Whether `lock_file` holds the writer lock.
    writer_locked: bool,
    /// The head record file beside the database (see [`crate::head`]).
    head_path: std::path::PathBuf,
}

impl SqliteStore {
    /// Opens (creating if missing) the journal file at `path`.
    pub(crate) fn open(path: &str) -> Result<SqliteStore, LedgerError> {
        let context = format!("opening SQLite journal {path}");
        let mut conn = Connection::open(path).map_err(|e| LedgerError::backend(&context, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| LedgerError::backend(&context, e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(|e| LedgerError::backend(&context, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LedgerError::backend(&context, format!("journal_mode is {mode}, not wal")));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| LedgerError::backend(&context, e))?;
        conn.set_prepared_statement_cache_capacity(32);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::backend(&context, e))?;
        tx.execute_batch(SCHEMA).map_err(|e| LedgerError::backend(&context, e))?;
        let version: Option<i64> = tx
            .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
            .optional()
            .map_err(|e| LedgerError::backend(&context, e))?;
        match version {
            None => {
                tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [SCHEMA_VERSION])
                    .map_err(|e| LedgerError::backend(&context, e))?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(LedgerError::Corrupt {
                    seq: 0,
                    what: format!("schema version {other}; this build reads {SCHEMA_VERSION}"),
                });
            }
        }
        tx.commit().map_err(|e| LedgerError::backend(&context, e))?;
        Ok(SqliteStore {
            conn,
            path: path.to_owned(),
            lock_file: None,
            writer_locked: false,
            head_path: head::head_path(path),
        })
    }
}

impl SqliteStore {
    /// The append's transaction: reads the head, lets `check` refuse, inserts batches and keys.
    fn insert_batches(
        &mut self,
        batches: &[BatchRow],
        keys: &[KeyRow],
        check: &mut dyn FnMut(&StoredHead) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        let context = "appending batches";
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::backend(context, e))?;
        let head = read_head(&tx)?;
        check(&head)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO batches (seq, prev_hash, entry_hash, state_hash, commands, \"keys\", \
                     outcomes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(|e| LedgerError::backend(context, e))?;
            for row in batches {
                insert
                    .execute(params![
                        seq_to_sql(row.seq)?,
                        row.prev_hash,
                        row.entry_hash,
                        row.state_hash,
                        row.commands,
                        row.keys,
                        row.outcomes
                    ])
                    .map_err(|e| {
                        if is_constraint(&e) {
                            LedgerError::Conflict {
                                seq: row.seq,
                                what: "a batch with this seq is already stored".to_owned(),
                            }
                        } else {
                            LedgerError::backend(context, e)
                        }
                    })?;
            }
            let mut insert_key = tx
                .prepare_cached(
                    "INSERT INTO idempotency (\"key\", seq, idx, command_digest) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|e| LedgerError::backend(context, e))?;
            for key in keys {
                let inserted = insert_key.execute(params![
                    key.key,
                    seq_to_sql(key.seq)?,
                    key.index,
                    key.command_digest
                ]);
                match inserted {
                    Ok(_) => {}
                    Err(e) if is_constraint(&e) => {
                        let used: Option<(i64, i64)> = tx
                            .query_row(
                                "SELECT seq, idx FROM idempotency WHERE \"key\" = ?1",
                                [&key.key],
                                |row| Ok((row.get(0)?, row.get(1)?)),
                            )
                            .optional()
                            .map_err(|e| LedgerError::backend(context, e))?;
                        return Err(key_conflict(key, used));
                    }
                    Err(e) => return Err(LedgerError::backend(context, e)),
                }
            }
        }
        tx.commit().map_err(|e| LedgerError::backend("committing an append", e))
    }
}

/// Reads a `batches` row selected with [`BATCH_COLUMNS`].
fn batch_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, [String; 6])> {
    Ok((
        row.get(0)?,
        [row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?],
    ))
}

/// Turns a raw row into a [`BatchRow`].
fn to_batch_row((seq, columns): (i64, [String; 6])) -> Result<BatchRow, LedgerError> {
    let [prev_hash, entry_hash, state_hash, commands, keys, outcomes] = columns;
    Ok(BatchRow {
        seq: seq_from_sql(seq)?,
        prev_hash,
        entry_hash,
        state_hash,
        commands,
        keys,
        outcomes,
    })
}

/// True when an SQLite error is a constraint violation (duplicate key).
fn is_constraint(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn try_lock_writer(&mut self) -> Result<bool, LedgerError> {
        if self.writer_locked {
            return Ok(true);
        }
        // An exclusive `flock` on the database file itself, so every path to it (a hard link,
        // a symlink, the volume mounted twice) meets the same lock; released by the kernel when
        // the process dies, even by SIGKILL. On Linux `flock` and SQLite's POSIX `fcntl` locks
        // are independent, so this lock never blocks a reader or SQLite's own locking.
        let context = format!("taking the writer lock on {}", self.path);
        let file = match &self.lock_file {
            Some(file) => file,
            None => {
                let file = std::fs::File::open(&self.path)
                    .map_err(|e| LedgerError::backend(&context, e))?;
                self.lock_file.insert(file)
            }
        };
        match file.try_lock() {
            Ok(()) => {
                self.writer_locked = true;
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(LedgerError::backend(&context, e)),
        }
    }

    fn writer_lock_name(&self) -> String {
        format!("an OS lock on the database file {}", self.path)
    }

    fn holds_writer_lock(&self) -> bool {
        self.writer_locked
    }

    fn head_record(&mut self) -> Result<Option<ChainHead>, LedgerError> {
        head::read(&self.head_path)
    }

    fn put_head_record(&mut self, head: &ChainHead) -> Result<(), LedgerError> {
        head::write(&self.head_path, head)
    }

    fn genesis(&mut self) -> Result<Option<(String, String)>, LedgerError> {
        self.conn
            .prepare_cached("SELECT config, genesis_hash FROM genesis WHERE id = 1")
            .and_then(|mut stmt| {
                stmt.query_row([], |row| Ok((row.get(0)?, row.get(1)?))).optional()
            })
            .map_err(|e| LedgerError::backend("reading the genesis", e))
    }

    fn insert_genesis(&mut self, config: &str, genesis_hash: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO genesis (id, config, genesis_hash) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO NOTHING",
                params![config, genesis_hash],
            )
            .map(drop)
            .map_err(|e| LedgerError::backend("writing the genesis", e))
    }

    fn head(&mut self) -> Result<StoredHead, LedgerError> {
        read_head(&self.conn)
    }

    fn append(
        &mut self,
        batches: &[BatchRow],
        keys: &[KeyRow],
        new_head: &ChainHead,
        check: &mut dyn FnMut(&StoredHead) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        self.insert_batches(batches, keys, check)?;
        // After the commit: the record never runs ahead of the journal, and it is durable
        // before the append returns (so before any command in it is acknowledged).
        head::write(&self.head_path, new_head)
    }

    fn begin_read(&mut self) -> Result<(), LedgerError> {
        // A deferred transaction's first read fixes its view of the WAL until it ends.
        self.conn
            .execute_batch("BEGIN DEFERRED; SELECT COUNT(*) FROM genesis;")
            .map_err(|e| LedgerError::backend("starting a read transaction", e))
    }

    fn end_read(&mut self) -> Result<(), LedgerError> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| LedgerError::backend("ending a read transaction", e))
    }

    fn batch(&mut self, seq: u64) -> Result<Option<BatchRow>, LedgerError> {
        let key = seq_to_sql(seq)?;
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {BATCH_COLUMNS} FROM batches WHERE seq = ?1"))
            .and_then(|mut stmt| stmt.query_row([key], batch_row).optional())
            .map_err(|e| LedgerError::backend("reading a batch", e))?;
        raw.map(to_batch_row).transpose()
    }

    fn batches_since(&mut self, after: u64, limit: usize) -> Result<Vec<BatchRow>, LedgerError> {
        let after = seq_to_sql(after)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {BATCH_COLUMNS} FROM batches WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([after, limit], batch_row)?.collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| LedgerError::backend("reading batches", e))?;
        raw.into_iter().map(to_batch_row).collect()
    }

    fn keys(&mut self) -> Result<Vec<KeyRow>, LedgerError> {
        let raw = self
            .conn
            .prepare_cached("SELECT \"key\", seq, idx, command_digest FROM idempotency")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| LedgerError::backend("reading idempotency keys", e))?;
        raw.into_iter()
            .map(|(key, seq, index, command_digest)| {
                let seq = seq_from_sql(seq)?;
                let index = u32::try_from(index).map_err(|_| LedgerError::Corrupt {
                    seq,
                    what: format!("idempotency key {key:?} has command index {index}"),
                })?;
                Ok(KeyRow { key, seq, index, command_digest })
            })
            .collect()
    }

    fn snapshot_index(&mut self) -> Result<Vec<(u64, String)>, LedgerError> {
        let raw = self
            .conn
            .prepare_cached("SELECT seq, state_hash FROM snapshots ORDER BY seq")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| LedgerError::backend("listing snapshots", e))?;
        raw.into_iter().map(|(seq, hash)| Ok((seq_from_sql(seq)?, hash))).collect()
    }

    fn snapshot(&mut self, seq: u64) -> Result<Option<SnapshotRow>, LedgerError> {
        let key = seq_to_sql(seq)?;
        let raw = self
            .conn
            .prepare_cached("SELECT state_hash, snapshot FROM snapshots WHERE seq = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([key], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .optional()
            })
            .map_err(|e| LedgerError::backend("reading a snapshot", e))?;
        Ok(raw.map(|(state_hash, snapshot)| SnapshotRow { seq, state_hash, snapshot }))
    }

    fn put_snapshot(&mut self, row: &SnapshotRow, keep: usize) -> Result<(), LedgerError> {
        let context = "writing a snapshot";
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::backend(context, e))?;
        tx.execute(
            "INSERT INTO snapshots (seq, state_hash, snapshot) VALUES (?1, ?2, ?3) \
             ON CONFLICT (seq) DO UPDATE SET state_hash = excluded.state_hash, \
             snapshot = excluded.snapshot",
            params![seq_to_sql(row.seq)?, row.state_hash, row.snapshot],
        )
        .map_err(|e| LedgerError::backend(context, e))?;
        tx.execute(
            "DELETE FROM snapshots WHERE seq NOT IN \
             (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
            [keep],
        )
        .map_err(|e| LedgerError::backend(context, e))?;
        tx.commit().map_err(|e| LedgerError::backend(context, e))
    }

    fn add_api_key(&mut self, record: &ApiKeyRecord) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO api_keys (key_hash, role, accounts, label) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (key_hash) DO UPDATE SET role = excluded.role, \
                 accounts = excluded.accounts, label = excluded.label",
                params![
                    record.key_hash,
                    record.role,
                    accounts_json(&record.accounts)?,
                    record.label
                ],
            )
            .map(drop)
            .map_err(|e| LedgerError::backend("adding an API key", e))
    }

    fn api_keys(&mut self) -> Result<Vec<ApiKeyRecord>, LedgerError> {
        let raw = self
            .conn
            .prepare_cached(
                "SELECT key_hash, role, accounts, label FROM api_keys ORDER BY key_hash",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| LedgerError::backend("reading API keys", e))?;
        raw.into_iter()
            .map(|(key_hash, role, accounts, label)| {
                Ok(ApiKeyRecord { key_hash, role, accounts: accounts_from_json(&accounts)?, label })
            })
            .collect()
    }

    fn revoke_api_key(&mut self, key_hash: &str) -> Result<bool, LedgerError> {
        self.conn
            .execute("DELETE FROM api_keys WHERE key_hash = ?1", [key_hash])
            .map(|deleted| deleted > 0)
            .map_err(|e| LedgerError::backend("revoking an API key", e))
    }
}

/// Seq and entry hash of the newest batch.
fn read_head(conn: &Connection) -> Result<StoredHead, LedgerError> {
    let raw = conn
        .prepare_cached("SELECT seq, entry_hash FROM batches ORDER BY seq DESC LIMIT 1")
        .and_then(|mut stmt| {
            stmt.query_row([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))
                .optional()
        })
        .map_err(|e| LedgerError::backend("reading the journal head", e))?;
    raw.map(|(seq, hash)| Ok((seq_from_sql(seq)?, hash))).transpose()
}
