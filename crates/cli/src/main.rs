//! `backstop`: the command line of the Backstop engine.
//!
//! Subcommands: `exec` runs a command script against a venue (see `docs/script-format.md`);
//! `simulate` runs a stress scenario through the engine and reports what each layer paid;
//! `size` searches the smallest layer size meeting a loss-probability target; `compare` runs
//! one scenario through several backstop designs; `merge` combines sharded runs; `serve` runs the
//! engine as an HTTP service over a durable journal, `replay` verifies a journal, `keys`
//! manages the service's API keys (docs/api.md) and `stress` runs a what-if on a journal's state.
//! Exit codes: 0 success, 1 internal error, 2 bad input (arguments, files, config, script,
//! scenario), 3 a command was rejected under `--fail-on-rejection`.

mod compare;
mod exec;
mod json;
mod keys;
mod merge;
mod replay;
mod serve;
mod simulate;
mod size;
mod stress;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

/// The Backstop engine's command line.
#[derive(Debug, Parser)]
#[command(name = "backstop", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Runs a command script against a venue; prints one JSON line per event, then a summary.
    Exec(exec::ExecArgs),
    /// Runs a stress scenario (real crashes, Monte Carlo) through the engine; prints a summary
    /// table and with --out writes summary.json, report.md, report.html and charts.
    Simulate(simulate::SimulateArgs),
    /// Finds the smallest size of a layer keeping the probability of a loss beyond it under a
    /// target; prints the curve it searched and the chosen size.
    Size(size::SizeArgs),
    /// Runs one scenario's exposure and price paths through several backstop designs; prints
    /// who paid per design and with --out writes compare.json, compare.html and charts.
    Compare(compare::CompareArgs),
    /// Serves the engine over HTTP with a durable journal (SQLite file or PostgreSQL); prints
    /// `listening on http://ADDR` once ready and runs until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Rebuilds the engine from a journal, verifying every hash; prints the final state hash.
    Replay(replay::ReplayArgs),
    /// Adds, lists or revokes the service's API keys.
    Keys(keys::KeysArgs),
    /// Combines the partial results of `simulate --shard K/N` runs into the reports of the
    /// unsharded run (docs/scale-out.md).
    Merge(merge::MergeArgs),
    /// Runs a what-if shock (price moves, exploits, keeper capacity) on the state a journal
    /// holds, read only; prints what each layer would pay, the deficit and what stays uncovered.
    Stress(stress::StressArgs),
}

fn main() -> ExitCode {
    run(Cli::parse())
}

/// Runs a parsed command line and turns its outcome into an exit code.
fn run(cli: Cli) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // Not locked: the progress bar draws on stderr from worker threads while a run goes on.
    let mut err = std::io::stderr();
    let result = match &cli.command {
        CliCommand::Exec(args) => exec::run(args, &mut out, &mut err),
        CliCommand::Simulate(args) => simulate::run(args, &mut out, &mut err),
        CliCommand::Size(args) => size::run(args, &mut out, &mut err),
        CliCommand::Compare(args) => compare::run(args, &mut out, &mut err),
        CliCommand::Serve(args) => serve::run(args, &mut out, &mut err),
        CliCommand::Replay(args) => replay::run(args, &mut out, &mut err),
        CliCommand::Keys(args) => keys::run(args, &mut out, &mut err),
        CliCommand::Merge(args) => merge::run(args, &mut out, &mut err),
        CliCommand::Stress(args) => stress::run(args, &mut out, &mut err),
    };
    let result = result.and_then(|code| out.flush().map(|()| code).map_err(anyhow::Error::from));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // Nothing more can be done if stderr itself is gone.
            let _ = writeln!(err, "error: {error:#}");
            ExitCode::from(exec::EXIT_INTERNAL)
        }
    }
}
