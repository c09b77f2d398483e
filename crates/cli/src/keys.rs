//! `backstop keys add|list|revoke --db DB`: API keys of the service, in its journal database.
//!
//! `add` prints the new key once on stdout (only its SHA-256 is stored); `list` prints one line
//! per key (hash, role, accounts, label); `revoke` removes a key by hash. A running server picks
//! changes up within a few seconds.

use crate::exec::{EXIT_INPUT, EXIT_INTERNAL, EXIT_OK};
use backstop_ledger::Ledger;
use std::io::Write;

/// Arguments of `backstop keys`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    pub(crate) action: KeysAction,
}

/// What to do with keys.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysAction {
    /// Makes a key for a role and prints it once.
    Add {
        /// Journal: a SQLite file (created if missing) or a `postgres://` URL.
        #[arg(long, value_name = "DB")]
        db: String,
        /// admin, oracle, keeper, governance or user.
        #[arg(long)]
        role: String,
        /// An account the key acts for (repeat for several).
        #[arg(long = "account", value_name = "N")]
        accounts: Vec<u64>,
        /// Free text naming the holder.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Lists keys: hash, role, accounts, label (tab-separated).
    List {
        /// Journal: a SQLite file or a `postgres://` URL.
        #[arg(long, value_name = "DB")]
        db: String,
    },
    /// Revokes a key by its hash.
    Revoke {
        /// Journal: a SQLite file or a `postgres://` URL.
        #[arg(long, value_name = "DB")]
        db: String,
        /// The key's SHA-256 (hex), as `keys list` shows it.
        #[arg(long)]
        hash: String,
    },
}

/// Runs `keys`; returns the exit code.
///
/// # Errors
/// Only for failures to write the output.
pub(crate) fn run(args: &KeysArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let db = match &args.action {
        KeysAction::Add { db, .. } => db,
        KeysAction::List { db } | KeysAction::Revoke { db, .. } => {
            if let Some(path) = crate::replay::missing_sqlite_file(db) {
                writeln!(err, "error: no journal at {path}")?;
                return Ok(EXIT_INPUT);
            }
            db
        }
    };
    let mut ledger = match Ledger::open(db) {
        Ok(ledger) => ledger,
        Err(error) => {
            writeln!(err, "error: {error}")?;
            return Ok(EXIT_INTERNAL);
        }
    };
    match &args.action {
        KeysAction::Add { role, accounts, label, .. } => {
            let new = match backstop_server::generate_key(role, accounts, label) {
                Ok(new) => new,
                Err(error) => {
                    writeln!(err, "error: {error}")?;
                    return Ok(EXIT_INPUT);
                }
            };
            if let Err(error) = ledger.add_api_key(&new.record) {
                writeln!(err, "error: {error}")?;
                return Ok(EXIT_INTERNAL);
            }
            writeln!(out, "{}", new.key)?;
            writeln!(
                err,
                "stored {} key {} (only this hash is kept: save the key now)",
                new.record.role, new.record.key_hash
            )?;
            Ok(EXIT_OK)
        }
        KeysAction::List { .. } => match ledger.api_keys() {
            Ok(records) => {
                for record in records {
                    let accounts: Vec<String> =
                        record.accounts.iter().map(u64::to_string).collect();
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}",
                        record.key_hash,
                        record.role,
                        accounts.join(","),
                        record.label
                    )?;
                }
                Ok(EXIT_OK)
            }
            Err(error) => {
                writeln!(err, "error: {error}")?;
                Ok(EXIT_INTERNAL)
            }
        },
        KeysAction::Revoke { hash, .. } => match ledger.revoke_api_key(hash) {
            Ok(true) => {
                writeln!(out, "revoked {hash}")?;
                Ok(EXIT_OK)
            }
            Ok(false) => {
                writeln!(err, "error: no key with hash {hash}")?;
                Ok(EXIT_INPUT)
            }
            Err(error) => {
                writeln!(err, "error: {error}")?;
                Ok(EXIT_INTERNAL)
            }
        },
    }
}
