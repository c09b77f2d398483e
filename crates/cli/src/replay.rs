//! `backstop replay --db DB [--from-snapshot]`: rebuilds the engine from the journal, verifying
//! every link of the hash chain, every outcome and every state hash, and prints the final state.
//!
//! By default it replays from genesis (checking each snapshot it passes); `--from-snapshot`
//! starts from the latest snapshot, as `serve` does. Exit code 0 when everything matches, 1 with
//! a message naming the seq otherwise, 2 when there is no journal at all.

use crate::exec::{EXIT_INPUT, EXIT_INTERNAL, EXIT_OK};
use backstop_ledger::{Ledger, LedgerError};
use std::io::Write;

/// Batches read at a time to count the journal's commands.
const PAGE: usize = 1000;

/// Arguments of `backstop replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// Journal: a SQLite file or a `postgres://` URL.
    #[arg(long, value_name = "DB")]
    pub(crate) db: String,
    /// Start from the latest snapshot instead of from genesis.
    #[arg(long)]
    pub(crate) from_snapshot: bool,
}

/// Whether a `--db` value names a SQLite file that does not exist (opening would create it).
pub(crate) fn missing_sqlite_file(db: &str) -> Option<&str> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return None;
    }
    let path = db.strip_prefix("sqlite://").unwrap_or(db);
    (!std::path::Path::new(path).exists()).then_some(path)
}

/// Runs `replay`; returns the exit code.
///
/// # Errors
/// Only for failures to write the output.
pub(crate) fn run(
    args: &ReplayArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    if let Some(path) = missing_sqlite_file(&args.db) {
        writeln!(err, "error: no journal at {path}")?;
        return Ok(EXIT_INPUT);
    }
    match replay(args) {
        Ok(lines) => {
            for line in lines {
                writeln!(out, "{line}")?;
            }
            Ok(EXIT_OK)
        }
        Err(error) => {
            writeln!(err, "error: replay failed: {error}")?;
            Ok(EXIT_INTERNAL)
        }
    }
}

/// Replays the journal and describes the result.
fn replay(args: &ReplayArgs) -> Result<Vec<String>, LedgerError> {
    let mut ledger = Ledger::open(&args.db)?;
    let mut recovered =
        if args.from_snapshot { ledger.recover()? } else { ledger.replay_from_genesis()? };
    let mut commands = 0_u64;
    let mut after = 0_u64;
    loop {
        let page = ledger.batches_since(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for batch in &page {
            commands =
                commands.saturating_add(u64::try_from(batch.commands.len()).unwrap_or(u64::MAX));
        }
        if after >= recovered.head.seq {
            break;
        }
    }
    let start = match recovered.snapshot_seq {
        Some(seq) => format!("snapshot at seq {seq}"),
        None => "genesis".to_owned(),
    };
    Ok(vec![
        format!("backend: {}", ledger.backend()),
        format!("seq: {}", recovered.head.seq),
        format!("replayed: {} batches from {start}", recovered.batches_replayed),
        format!("commands: {commands}"),
        format!("entry_hash: {}", hex::encode(recovered.head.entry_hash)),
        format!("state_hash: {}", hex::encode(recovered.engine.state_hash())),
    ])
}
