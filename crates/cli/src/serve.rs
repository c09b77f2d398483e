//! `backstop serve --db DB --config VENUE.toml --listen ADDR`: the engine as an HTTP service.
//!
//! Opens (or starts) the journal, refuses to start if it began with another venue, if any hash
//! differs when it re-applies every entry from genesis (as `backstop replay` does; from the
//! latest snapshot with `--from-snapshot`), or if the journal ends before its head record (lost
//! acknowledged entries), then serves the API of docs/api.md until SIGINT or SIGTERM. Once
//! listening it prints `listening on http://ADDR` on stdout (and flushes); everything else goes
//! to stderr.

use crate::exec::{EXIT_INPUT, EXIT_INTERNAL, EXIT_OK};
use backstop_server::{Ready, ServerConfig, StartError};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `backstop serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Journal: a SQLite file (created if missing) or a `postgres://user:pass@host/db` URL.
    #[arg(long, value_name = "DB")]
    pub(crate) db: String,
    /// Venue configuration in TOML (must be the one the journal began with).
    #[arg(long, value_name = "VENUE.toml")]
    pub(crate) config: PathBuf,
    /// Address to listen on (port 0 picks a free one, printed once listening).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Write an engine snapshot every N journal entries (0: never).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) snapshot_every: u64,
    /// Requests the writer's queue holds before answering 503 queue_full.
    #[arg(long = "queue", value_name = "N", default_value_t = 1024)]
    pub(crate) queue: usize,
    /// Most commands in one batch request.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub(crate) max_batch: usize,
    /// Start from the latest snapshot instead of re-applying every entry from genesis (faster
    /// start; entries before the snapshot are checked by hash and link only: docs/ledger.md).
    #[arg(long)]
    pub(crate) from_snapshot: bool,
}

/// Runs `serve` until a termination signal; returns the exit code.
///
/// # Errors
/// Only for failures to write diagnostics.
pub(crate) fn run(
    args: &ServeArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let venue_toml = match std::fs::read_to_string(&args.config) {
        Ok(text) => text,
        Err(error) => {
            writeln!(err, "error: cannot read {}: {error}", args.config.display())?;
            return Ok(EXIT_INPUT);
        }
    };
    let mut config = ServerConfig::new(args.db.clone(), venue_toml, args.listen);
    config.snapshot_every = args.snapshot_every;
    config.queue_capacity = args.queue.max(1);
    config.max_batch_commands = args.max_batch.max(1);
    config.verify_from_genesis = !args.from_snapshot;
    let mut ready_error: Option<std::io::Error> = None;
    let result = backstop_server::run(config, |ready: Ready| {
        ready_error = announce(&ready, &args.db, out).err();
    });
    if let Some(error) = ready_error {
        // The server ran, but stdout was gone: say so without failing the run.
        writeln!(err, "warning: could not write to stdout: {error}")?;
    }
    match result {
        Ok(()) => {
            writeln!(err, "backstop serve: stopped")?;
            Ok(EXIT_OK)
        }
        Err(error @ StartError::Config(_)) => {
            writeln!(err, "error: {}: {error}", args.config.display())?;
            Ok(EXIT_INPUT)
        }
        Err(error) => {
            writeln!(err, "error: {error}")?;
            Ok(EXIT_INTERNAL)
        }
    }
}

/// The lines printed once listening: the address on stdout, the rest on stderr.
fn announce(ready: &Ready, db: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let mut err = std::io::stderr();
    let from = match ready.snapshot_seq {
        Some(seq) => format!("snapshot at seq {seq} + {} entries replayed", ready.replayed),
        None => format!("{} entries replayed from genesis", ready.replayed),
    };
    let _ =
        writeln!(err, "backstop serve: journal on {} at seq {} ({from})", ready.backend, ready.seq);
    if ready.no_keys {
        let _ = writeln!(
            err,
            "backstop serve: no API keys yet; make one with `backstop keys add --db {} --role \
             admin`",
            redacted(db)
        );
    }
    writeln!(out, "listening on http://{}", ready.addr)?;
    out.flush()
}

/// A `--db` value fit for logs: the password of a `postgres://user:password@host/db` URL is
/// replaced by `***`.
fn redacted(db: &str) -> String {
    let Some((scheme, rest)) = db.split_once("://") else { return db.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return db.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
        None => db.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_stay_out_of_the_logs() {
        assert_eq!(
            redacted("postgres://backstop:s3cr:et@127.0.0.1:5432/backstop?sslmode=disable"),
            "postgres://backstop:***@127.0.0.1:5432/backstop?sslmode=disable"
        );
        assert_eq!(redacted("postgresql://me@db/x"), "postgresql://me@db/x");
        assert_eq!(redacted("postgres://db/x"), "postgres://db/x");
        assert_eq!(redacted("backstop.db"), "backstop.db");
        assert_eq!(redacted("sqlite:///tmp/a@b:c.db"), "sqlite:///tmp/a@b:c.db");
    }
}
