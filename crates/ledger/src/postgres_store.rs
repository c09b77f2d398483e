//! The PostgreSQL backend: one transaction per append (committed with `synchronous_commit = on`,
//! so durable when it returns), the batches and keys of an append inserted with one statement each
//! (`INSERT … SELECT FROM unnest(arrays)`), statements prepared once per connection.
//!
//! The `postgres` client drives its own small runtime: never call it from inside an async task.

use crate::api_keys::ApiKeyRecord;
use crate::chain::{ChainHead, from_hex, to_hex};
use crate::error::LedgerError;
use crate::store::{
    BatchRow, KeyRow, SCHEMA_VERSION, SnapshotRow, Store, StoredHead, accounts_from_json,
    accounts_json, key_conflict, seq_from_sql, seq_to_sql,
};
use postgres::error::SqlState;
use postgres::{Client, NoTls, Statement};
use std::time::Duration;

/// Key of the advisory lock that serializes schema creation between connections.
const SCHEMA_LOCK: i64 = 0x6261_636b_7374_6f70; // "backstop"

/// The schema, created if missing (under [`SCHEMA_LOCK`]).
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS genesis (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,
    genesis_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    seq BIGINT PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    state_hash TEXT NOT NULL,
    commands TEXT NOT NULL,
    "keys" TEXT NOT NULL,
    outcomes TEXT NOT NULL
);
ALTER TABLE batches ALTER COLUMN commands SET STORAGE EXTERNAL;
ALTER TABLE batches ALTER COLUMN "keys" SET STORAGE EXTERNAL;
ALTER TABLE batches ALTER COLUMN outcomes SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS idempotency (
    "key" TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    idx INTEGER NOT NULL,
    command_digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq BIGINT PRIMARY KEY,
    state_hash TEXT NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    accounts TEXT NOT NULL,
    label TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    entry_hash TEXT NOT NULL
);
"#;

/// Replaces the head record row.
const PUT_HEAD: &str = "INSERT INTO journal_head (id, seq, entry_hash) VALUES (1, $1, $2) \
                        ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, \
                        entry_hash = excluded.entry_hash";

/// Columns of `batches` in the order [`batch_row`] reads them.
const BATCH_COLUMNS: &str = r#"seq, prev_hash, entry_hash, state_hash, commands, "keys", outcomes"#;

/// Statements prepared once per connection.
struct Prepared {
    /// Newest batch's seq and entry hash.
    head: Statement,
    /// Inserts batches from arrays.
    insert_batches: Statement,
    /// Inserts idempotency keys from arrays.
    insert_keys: Statement,
    /// Which of an array of keys are already stored.
    used_keys: Statement,
    /// One batch by seq.
    batch: Statement,
    /// Batches after a seq, with a limit.
    batches_since: Statement,
}

/// Key of the advisory lock a writer holds on the journal's database ("bkstpwrt" in ASCII;
/// distinct from [`SCHEMA_LOCK`], which every connection takes while it opens).
const WRITER_LOCK_KEY: i64 = 0x626b_7374_7077_7274;

/// A journal in a PostgreSQL database.
pub(crate) struct PostgresStore {
    /// The connection.
    client: Client,
    /// Its prepared statements.
    prepared: Prepared,
    /// Whether this connection holds the writer lock.
    writer_locked: bool,
}

impl PostgresStore {
    /// Connects to `url` and creates the schema if missing.
    pub(crate) fn open(url: &str) -> Result<PostgresStore, LedgerError> {
        let context = "connecting to the PostgreSQL journal";
        let mut config: postgres::Config = url.parse().map_err(|e| pg_error(context, e))?;
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("backstop-ledger");
        let mut client = config.connect(NoTls).map_err(|e| pg_error(context, e))?;
        // Durable at commit whatever the server's default says.
        client.batch_execute("SET synchronous_commit = on").map_err(|e| pg_error(context, e))?;
        let context = "creating the journal schema";
        {
            let mut tx = client.transaction().map_err(|e| pg_error(context, e))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                .map_err(|e| pg_error(context, e))?;
            tx.batch_execute(SCHEMA).map_err(|e| pg_error(context, e))?;
            let version: Option<i32> = tx
                .query_opt("SELECT version FROM schema_version", &[])
                .map_err(|e| pg_error(context, e))?
                .map(|row| row.try_get(0))
                .transpose()
                .map_err(|e| pg_error(context, e))?;
            match version.map(i64::from) {
                None => {
                    let version = i32::try_from(SCHEMA_VERSION).unwrap_or(i32::MAX);
                    tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&version])
                        .map_err(|e| pg_error(context, e))?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(other) => {
                    return Err(LedgerError::Corrupt {
                        seq: 0,
                        what: format!("schema version {other}; this build reads {SCHEMA_VERSION}"),
                    });
                }
            }
            tx.commit().map_err(|e| pg_error(context, e))?;
        }
        let context = "preparing journal statements";
        let mut prepare = |sql: &str| client.prepare(sql).map_err(|e| pg_error(context, e));
        let prepared = Prepared {
            head: prepare("SELECT seq, entry_hash FROM batches ORDER BY seq DESC LIMIT 1")?,
            insert_batches: prepare(
                "INSERT INTO batches (seq, prev_hash, entry_hash, state_hash, commands, \"keys\", \
                 outcomes) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::text[], $7::text[])",
            )?,
            insert_keys: prepare(
                "INSERT INTO idempotency (\"key\", seq, idx, command_digest) \
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[])",
            )?,
            used_keys: prepare(
                "SELECT \"key\", seq, idx FROM idempotency WHERE \"key\" = ANY($1::text[])",
            )?,
            batch: prepare(&format!("SELECT {BATCH_COLUMNS} FROM batches WHERE seq = $1"))?,
            batches_since: prepare(&format!(
                "SELECT {BATCH_COLUMNS} FROM batches WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))?,
        };
        Ok(PostgresStore { client, prepared, writer_locked: false })
    }
}

impl PostgresStore {
    /// The conflict for the first of `keys` already stored (after a unique violation).
    fn used_key(&mut self, keys: &[KeyRow], names: &[&String], first_seq: u64) -> LedgerError {
        let context = "finding a reused idempotency key";
        let rows = match self.client.query(&self.prepared.used_keys, &[&names]) {
            Ok(rows) => rows,
            Err(e) => return pg_error(context, e),
        };
        let mut stored = std::collections::HashMap::new();
        for row in &rows {
            if let (Ok(key), Ok(seq), Ok(index)) =
                (row.try_get::<_, String>(0), row.try_get::<_, i64>(1), row.try_get::<_, i32>(2))
            {
                stored.insert(key, (seq, i64::from(index)));
            }
        }
        match keys.iter().find(|k| stored.contains_key(&k.key)) {
            Some(key) => key_conflict(key, stored.get(&key.key).copied()),
            None => LedgerError::Conflict {
                seq: first_seq,
                what: "an idempotency key was used concurrently by another writer".to_owned(),
            },
        }
    }
}

/// Turns a `batches` row selected with [`BATCH_COLUMNS`] into a [`BatchRow`].
fn batch_row(row: &postgres::Row) -> Result<BatchRow, LedgerError> {
    let read = |row: &postgres::Row| -> Result<(i64, [String; 6]), postgres::Error> {
        Ok((
            row.try_get(0)?,
            [
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
            ],
        ))
    };
    let (seq, [prev_hash, entry_hash, state_hash, commands, keys, outcomes]) =
        read(row).map_err(|e| pg_error("reading a batch row", e))?;
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

/// True when a PostgreSQL error is a unique violation.
fn is_unique_violation(error: &postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Seq and entry hash from a head row.
fn head_of(row: Option<postgres::Row>) -> Result<StoredHead, LedgerError> {
    let Some(row) = row else { return Ok(None) };
    let seq: i64 = row.try_get(0).map_err(|e| pg_error("reading the journal head", e))?;
    let hash: String = row.try_get(1).map_err(|e| pg_error("reading the journal head", e))?;
    Ok(Some((seq_from_sql(seq)?, hash)))
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn try_lock_writer(&mut self) -> Result<bool, LedgerError> {
        // A session-level advisory lock in the journal's database: released by the server when
        // this connection closes, including when the process holding it is killed.
        let row = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK_KEY])
            .map_err(|e| pg_error("taking the writer lock", e))?;
        let locked =
            row.try_get::<_, bool>(0).map_err(|e| pg_error("taking the writer lock", e))?;
        self.writer_locked |= locked;
        Ok(locked)
    }

    fn holds_writer_lock(&self) -> bool {
        self.writer_locked
    }

    fn head_record(&mut self) -> Result<Option<ChainHead>, LedgerError> {
        let context = "reading the head record";
        let row = self
            .client
            .query_opt("SELECT seq, entry_hash FROM journal_head WHERE id = 1", &[])
            .map_err(|e| pg_error(context, e))?;
        let Some((seq, hash)) = head_of(row)? else { return Ok(None) };
        let entry_hash = from_hex(&hash).ok_or_else(|| LedgerError::HeadRecord {
            seq,
            what: format!("the journal_head row's entry hash {hash:?} is not 64 hex digits"),
        })?;
        Ok(Some(ChainHead { seq, entry_hash }))
    }

    fn put_head_record(&mut self, head: &ChainHead) -> Result<(), LedgerError> {
        self.client
            .execute(PUT_HEAD, &[&seq_to_sql(head.seq)?, &to_hex(&head.entry_hash)])
            .map(drop)
            .map_err(|e| pg_error("writing the head record", e))
    }

    fn writer_lock_name(&self) -> String {
        format!("advisory lock {WRITER_LOCK_KEY} of the journal's database")
    }

    fn genesis(&mut self) -> Result<Option<(String, String)>, LedgerError> {
        let context = "reading the genesis";
        let row = self
            .client
            .query_opt("SELECT config, genesis_hash FROM genesis WHERE id = 1", &[])
            .map_err(|e| pg_error(context, e))?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
            .map_err(|e: postgres::Error| pg_error(context, e))
    }

    fn insert_genesis(&mut self, config: &str, genesis_hash: &str) -> Result<(), LedgerError> {
        self.client
            .execute(
                "INSERT INTO genesis (id, config, genesis_hash) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
                &[&config, &genesis_hash],
            )
            .map(drop)
            .map_err(|e| pg_error("writing the genesis", e))
    }

    fn head(&mut self) -> Result<StoredHead, LedgerError> {
        let row = self
            .client
            .query_opt(&self.prepared.head, &[])
            .map_err(|e| pg_error("reading the journal head", e))?;
        head_of(row)
    }

    fn append(
        &mut self,
        batches: &[BatchRow],
        keys: &[KeyRow],
        new_head: &ChainHead,
        check: &mut dyn FnMut(&StoredHead) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        let context = "appending batches";
        let new_head_seq = seq_to_sql(new_head.seq)?;
        let new_head_hash = to_hex(&new_head.entry_hash);
        let seqs = batches.iter().map(|b| seq_to_sql(b.seq)).collect::<Result<Vec<_>, _>>()?;
        let column = |f: fn(&BatchRow) -> &String| batches.iter().map(f).collect::<Vec<_>>();
        let (prev, entry, state) =
            (column(|b| &b.prev_hash), column(|b| &b.entry_hash), column(|b| &b.state_hash));
        let (commands, batch_keys, outcomes) =
            (column(|b| &b.commands), column(|b| &b.keys), column(|b| &b.outcomes));
        let key_names = keys.iter().map(|k| &k.key).collect::<Vec<_>>();
        let key_seqs = keys.iter().map(|k| seq_to_sql(k.seq)).collect::<Result<Vec<_>, _>>()?;
        let key_indexes = keys
            .iter()
            .map(|k| {
                i32::try_from(k.index).map_err(|_| LedgerError::Invalid {
                    seq: k.seq,
                    what: format!("command index {} beyond the SQL INTEGER range", k.index),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let digests = keys.iter().map(|k| &k.command_digest).collect::<Vec<_>>();

        let mut tx = self.client.transaction().map_err(|e| pg_error(context, e))?;
        let head =
            head_of(tx.query_opt(&self.prepared.head, &[]).map_err(|e| pg_error(context, e))?)?;
        check(&head)?;
        let first_seq = batches.first().map_or(0, |b| b.seq);
        tx.execute(
            &self.prepared.insert_batches,
            &[&seqs, &prev, &entry, &state, &commands, &batch_keys, &outcomes],
        )
        .map_err(|e| {
            if is_unique_violation(&e) {
                LedgerError::Conflict {
                    seq: first_seq,
                    what: "a batch with this seq is already stored (another writer?)".to_owned(),
                }
            } else {
                pg_error(context, e)
            }
        })?;
        if !keys.is_empty() {
            let inserted = tx.execute(
                &self.prepared.insert_keys,
                &[&key_names, &key_seqs, &key_indexes, &digests],
            );
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    // The transaction is aborted: roll it back, then say which key was used where.
                    drop(tx);
                    return Err(self.used_key(keys, &key_names, first_seq));
                }
                Err(e) => return Err(pg_error(context, e)),
            }
        }
        tx.execute(PUT_HEAD, &[&new_head_seq, &new_head_hash]).map_err(|e| pg_error(context, e))?;
        tx.commit().map_err(|e| pg_error("committing an append", e))
    }

    fn begin_read(&mut self) -> Result<(), LedgerError> {
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(|e| pg_error("starting a read transaction", e))
    }

    fn end_read(&mut self) -> Result<(), LedgerError> {
        // COMMIT outside a transaction only warns; after an error it rolls back.
        self.client.batch_execute("COMMIT").map_err(|e| pg_error("ending a read transaction", e))
    }

    fn batch(&mut self, seq: u64) -> Result<Option<BatchRow>, LedgerError> {
        let row = self
            .client
            .query_opt(&self.prepared.batch, &[&seq_to_sql(seq)?])
            .map_err(|e| pg_error("reading a batch", e))?;
        row.as_ref().map(batch_row).transpose()
    }

    fn batches_since(&mut self, after: u64, limit: usize) -> Result<Vec<BatchRow>, LedgerError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(&self.prepared.batches_since, &[&seq_to_sql(after)?, &limit])
            .map_err(|e| pg_error("reading batches", e))?;
        rows.iter().map(batch_row).collect()
    }

    fn keys(&mut self) -> Result<Vec<KeyRow>, LedgerError> {
        let context = "reading idempotency keys";
        let rows = self
            .client
            .query("SELECT \"key\", seq, idx, command_digest FROM idempotency", &[])
            .map_err(|e| pg_error(context, e))?;
        rows.iter()
            .map(|row| {
                let read = || -> Result<(String, i64, i32, String), postgres::Error> {
                    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?))
                };
                let (key, seq, index, command_digest) = read().map_err(|e| pg_error(context, e))?;
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
        let context = "listing snapshots";
        let rows = self
            .client
            .query("SELECT seq, state_hash FROM snapshots ORDER BY seq", &[])
            .map_err(|e| pg_error(context, e))?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get(0).map_err(|e| pg_error(context, e))?;
                let hash: String = row.try_get(1).map_err(|e| pg_error(context, e))?;
                Ok((seq_from_sql(seq)?, hash))
            })
            .collect()
    }

    fn snapshot(&mut self, seq: u64) -> Result<Option<SnapshotRow>, LedgerError> {
        let context = "reading a snapshot";
        let row = self
            .client
            .query_opt(
                "SELECT state_hash, snapshot FROM snapshots WHERE seq = $1",
                &[&seq_to_sql(seq)?],
            )
            .map_err(|e| pg_error(context, e))?;
        row.map(|row| {
            Ok(SnapshotRow { seq, state_hash: row.try_get(0)?, snapshot: row.try_get(1)? })
        })
        .transpose()
        .map_err(|e: postgres::Error| pg_error(context, e))
    }

    fn put_snapshot(&mut self, row: &SnapshotRow, keep: usize) -> Result<(), LedgerError> {
        let context = "writing a snapshot";
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let mut tx = self.client.transaction().map_err(|e| pg_error(context, e))?;
        tx.execute(
            "INSERT INTO snapshots (seq, state_hash, snapshot) VALUES ($1, $2, $3) \
             ON CONFLICT (seq) DO UPDATE SET state_hash = excluded.state_hash, \
             snapshot = excluded.snapshot",
            &[&seq_to_sql(row.seq)?, &row.state_hash, &row.snapshot],
        )
        .map_err(|e| pg_error(context, e))?;
        tx.execute(
            "DELETE FROM snapshots WHERE seq NOT IN \
             (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT $1)",
            &[&keep],
        )
        .map_err(|e| pg_error(context, e))?;
        tx.commit().map_err(|e| pg_error(context, e))
    }

    fn add_api_key(&mut self, record: &ApiKeyRecord) -> Result<(), LedgerError> {
        self.client
            .execute(
                "INSERT INTO api_keys (key_hash, role, accounts, label) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key_hash) DO UPDATE SET role = excluded.role, \
                 accounts = excluded.accounts, label = excluded.label",
                &[&record.key_hash, &record.role, &accounts_json(&record.accounts)?, &record.label],
            )
            .map(drop)
            .map_err(|e| pg_error("adding an API key", e))
    }

    fn api_keys(&mut self) -> Result<Vec<ApiKeyRecord>, LedgerError> {
        let context = "reading API keys";
        let rows = self
            .client
            .query("SELECT key_hash, role, accounts, label FROM api_keys ORDER BY key_hash", &[])
            .map_err(|e| pg_error(context, e))?;
        rows.iter()
            .map(|row| {
                let read = || -> Result<(String, String, String, String), postgres::Error> {
                    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?))
                };
                let (key_hash, role, accounts, label) = read().map_err(|e| pg_error(context, e))?;
                Ok(ApiKeyRecord { key_hash, role, accounts: accounts_from_json(&accounts)?, label })
            })
            .collect()
    }

    fn revoke_api_key(&mut self, key_hash: &str) -> Result<bool, LedgerError> {
        self.client
            .execute("DELETE FROM api_keys WHERE key_hash = $1", &[&key_hash])
            .map(|deleted| deleted > 0)
            .map_err(|e| pg_error("revoking an API key", e))
    }
}

/// A backend error with the PostgreSQL error's whole chain of causes: its `Display` alone says
/// only "db error", the server's message is in its source.
fn pg_error(context: &str, error: impl std::error::Error) -> LedgerError {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    LedgerError::Backend { context: context.to_owned(), message }
}
