//! Sharded runs on the command line: `simulate --shard K/N --out DIR` writes `DIR/partial.json`
//! (schema `backstop.partial/1`), and `backstop merge DIR… --out OUT` combines the N partials into
//! the reports of the unsharded run: `summary.json` and `charts/` byte-identical to
//! `backstop simulate … --out OUT` without `--shard`; `report.md`/`report.html` identical except
//! the command-line and threads rows, which name the merge (docs/scale-out.md).
//!
//! A partial holds every path's metrics and traces as computed (floats written shortest and read
//! back exactly: the writer checks that reading the file back gives the same values), the digest
//! of the run's input files, the report's provenance, and the shard. Merge refuses partials of
//! different runs (input digest, git commit, seed, paths, shard count), missing or duplicate
//! shards, with exit code 2.

use crate::exec::{EXIT_INPUT, EXIT_INTERNAL, EXIT_OK};
use crate::simulate::{SimulateArgs, command_line, progress_bar, report_info, write_reports};
use backstop_report::ReportInfo;
use backstop_sim::scenario::Scenario;
use backstop_sim::shard::{Shard, ShardRun};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The partial result's schema tag.
pub(crate) const PARTIAL_SCHEMA: &str = "backstop.partial/1";
/// The partial result's file name inside a shard's `--out` directory.
pub(crate) const PARTIAL_FILE: &str = "partial.json";

/// Arguments of `backstop merge`.
#[derive(Debug, clap::Args)]
pub(crate) struct MergeArgs {
    /// The shards' output directories (each holding partial.json), or partial.json files.
    #[arg(value_name = "DIR", required = true)]
    pub(crate) dirs: Vec<PathBuf>,
    /// Write summary.json, report.md, report.html and charts/ into this directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
}

/// Provenance the reports carry, as recorded by the shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartialInfo {
    scenario: String,
    description: String,
    scenario_file: String,
    venue: String,
    git_commit: String,
    cargo_lock_sha256: String,
}

/// `partial.json`: one shard's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Partial {
    schema: String,
    /// The subcommand that wrote it (`simulate`).
    command: String,
    /// SHA-256 of the run's input files ([`backstop_sim::shard::input_digest`]).
    input_digest: String,
    info: PartialInfo,
    run: ShardRun,
}

/// Runs `simulate --shard K/N --out DIR`: the shard's paths, then `DIR/partial.json`.
pub(crate) fn run_simulate_shard(
    args: &SimulateArgs,
    scenario: &Scenario,
    shard: Shard,
    dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let digest = match backstop_sim::shard::input_digest(scenario, args.prices.as_deref()) {
        Ok(digest) => digest,
        Err(error) => {
            writeln!(err, "error: {error}")?;
            return Ok(EXIT_INPUT);
        }
    };
    let paths = args.run.paths.unwrap_or(scenario.run.paths);
    let bar = progress_bar(Some(u64::from(paths.div_ceil(shard.count))), "paths");
    let tick = || bar.inc(1);
    let options = crate::simulate::run_options(args, &tick);
    let result = backstop_sim::shard::run_shard(scenario, &options, shard);
    bar.finish_and_clear();
    let run = match result {
        Ok(run) => run,
        Err(error) => {
            writeln!(err, "error: {error}")?;
            return Ok(EXIT_INPUT);
        }
    };
    let info = report_info(scenario, &args.scenario, args.run.threads);
    let partial = Partial {
        schema: PARTIAL_SCHEMA.to_owned(),
        command: "simulate".to_owned(),
        input_digest: digest,
        info: PartialInfo {
            scenario: info.scenario,
            description: info.description,
            scenario_file: info.scenario_file,
            venue: info.venue,
            git_commit: info.git_commit,
            cargo_lock_sha256: info.cargo_lock_sha256,
        },
        run,
    };
    let file = dir.join(PARTIAL_FILE);
    if let Err(message) = write_partial(&file, &partial) {
        writeln!(err, "error: {}: {message}", file.display())?;
        return Ok(EXIT_INTERNAL);
    }
    writeln!(
        out,
        "{}: shard {shard} ran {} of {paths} paths; partial result in {}",
        partial.info.scenario,
        partial.run.paths.len(),
        file.display()
    )?;
    Ok(EXIT_OK)
}

/// Writes a partial, after checking that reading it back gives exactly the same values.
fn write_partial(file: &Path, partial: &Partial) -> Result<(), String> {
    let mut bytes = serde_json::to_vec(partial).map_err(|error| error.to_string())?;
    bytes.push(b'\n');
    let back: Partial = serde_json::from_slice(&bytes).map_err(|error| error.to_string())?;
    if &back != partial {
        return Err("a value does not survive JSON exactly (not finite?)".to_owned());
    }
    std::fs::write(file, bytes).map_err(|error| format!("cannot write: {error}"))
}

/// Reads `DIR/partial.json` (or the file itself) and checks its schema.
fn read_partial(path: &Path) -> Result<Partial, String> {
    let file = if path.is_file() { path.to_path_buf() } else { path.join(PARTIAL_FILE) };
    let at = |message: String| format!("{}: {message}", file.display());
    let bytes = std::fs::read(&file).map_err(|error| at(format!("cannot read: {error}")))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|error| at(format!("not JSON: {error}")))?;
    let schema = value.get("schema").and_then(serde_json::Value::as_str).unwrap_or("");
    if schema != PARTIAL_SCHEMA {
        return Err(at(format!("schema is {schema:?}, expected {PARTIAL_SCHEMA:?}")));
    }
    serde_json::from_value(value).map_err(|error| at(format!("not a partial result: {error}")))
}

/// Checks that every partial comes from the same inputs and build as the first.
fn check_same_inputs(partials: &[(PathBuf, Partial)]) -> Result<(), String> {
    let Some((first_path, first)) = partials.first() else {
        return Err("no partial results given".to_owned());
    };
    for (path, other) in &partials[1..] {
        let differs = [
            ("command", first.command != other.command),
            (
                "input files (scenario, venue, prices digest)",
                first.input_digest != other.input_digest,
            ),
            ("build (git commit, Cargo.lock)", first.info != other.info),
        ];
        if let Some((what, _)) = differs.iter().find(|(_, differs)| *differs) {
            return Err(format!(
                "{} and {} are from different runs: their {what} differ",
                first_path.display(),
                path.display()
            ));
        }
    }
    Ok(())
}

/// Runs `merge`; returns the exit code.
///
/// # Errors
/// Only for failures to write to `out` or `err`.
pub(crate) fn run(
    args: &MergeArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let mut partials = Vec::with_capacity(args.dirs.len());
    for dir in &args.dirs {
        match read_partial(dir) {
            Ok(partial) => partials.push((dir.clone(), partial)),
            Err(message) => {
                writeln!(err, "error: {message}")?;
                return Ok(EXIT_INPUT);
            }
        }
    }
    if let Err(message) = check_same_inputs(&partials) {
        writeln!(err, "error: {message}")?;
        return Ok(EXIT_INPUT);
    }
    let info = partials[0].1.info.clone();
    let shards: Vec<ShardRun> = partials.into_iter().map(|(_, partial)| partial.run).collect();
    let run = match backstop_sim::shard::merge(shards) {
        Ok(run) => run,
        Err(message) => {
            writeln!(err, "error: {message}")?;
            return Ok(EXIT_INPUT);
        }
    };
    if !crate::simulate::prepare_out(Some(&args.out), err)? {
        return Ok(EXIT_INPUT);
    }
    write!(out, "{}", backstop_report::terminal_table(&run))?;
    let info = ReportInfo {
        scenario: info.scenario,
        description: info.description,
        scenario_file: info.scenario_file,
        venue: info.venue,
        command_line: command_line(),
        git_commit: info.git_commit,
        cargo_lock_sha256: info.cargo_lock_sha256,
        threads: None,
    };
    write_reports(&args.out, &run, &info, None, out, err)
}
