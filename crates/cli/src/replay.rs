//! `backstop replay --db DB [--from-snapshot]`: rebuilds the engine from the journal, verifying
//! every link of the hash chain, every outcome and every state hash, and prints the final state.
//!
//! By default it replays from genesis (checking each snapshot it passes), as `serve` does;
//! `--from-snapshot` starts from the latest snapshot, as `serve --from-snapshot` does. Either way
//! the journal's end is checked against its head record. Exit code 0 when everything matches, 1
//! with a message naming the seq otherwise, 2 when there is no journal at all.
//!
//! `--reset-head` is the operator's way to accept a journal refused for its head record: it
//! verifies everything else from genesis, then moves the head record to the journal's end.

use crate::exec::{EXIT_INPUT, EXIT_INTERNAL, EXIT_OK};
use backstop_ledger::{ChainHead, Ledger, LedgerError};
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
    #[arg(long, conflicts_with = "reset_head")]
    pub(crate) from_snapshot: bool,
    /// Verify the journal from genesis, then write its head record at the journal's end,
    /// giving up any acknowledged batches the old record names past it (needs the writer lock:
    /// no server may be running). For an operator who has decided to accept a refused journal.
    #[arg(long)]
    pub(crate) reset_head: bool,
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
    let mut lines = Vec::new();
    let mut recovered = if args.reset_head {
        ledger.lock_writer(std::time::Duration::ZERO)?;
        let (old, recovered) = ledger.reset_head_record()?;
        lines.push(reset_line(old, recovered.head));
        recovered
    } else if args.from_snapshot {
        ledger.recover()?
    } else {
        ledger.replay_from_genesis()?
    };
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
    lines.extend([
        format!("backend: {}", ledger.backend()),
        format!("seq: {}", recovered.head.seq),
        format!("replayed: {} batches from {start}", recovered.batches_replayed),
        format!("commands: {commands}"),
        format!("entry_hash: {}", hex::encode(recovered.head.entry_hash)),
        format!("state_hash: {}", hex::encode(recovered.engine.state_hash())),
    ]);
    Ok(lines)
}

/// What `--reset-head` did to the head record.
fn reset_line(old: Option<ChainHead>, new: ChainHead) -> String {
    let new_text = format!("seq {} ({})", new.seq, hex::encode(new.entry_hash));
    match old {
        None => {
            format!("head_record: written at {new_text}; there was none (or it was unreadable)")
        }
        Some(old) if old == new => format!("head_record: unchanged at {new_text}"),
        Some(old) if old.seq > new.seq => format!(
            "head_record: moved back from seq {} to {new_text}; acknowledged batches {}..={} are \
             given up, with their idempotency keys",
            old.seq,
            new.seq.saturating_add(1),
            old.seq
        ),
        Some(old) => format!(
            "head_record: moved from seq {} ({}) to {new_text}",
            old.seq,
            hex::encode(old.entry_hash)
        ),
    }
}
