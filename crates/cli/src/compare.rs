//! `backstop compare SCENARIO --designs LIST|all [--capital equal|as-configured] [--out DIR]`:
//! runs the scenario's exposure and price paths through each design preset (docs/compare.md),
//! prints the comparison table, and with `--out` writes `compare.json`, `compare.html` and
//! `charts/`.
//!
//! Unknown design names, a bad scenario or an unwritable output directory stop with
//! `error: …` on stderr and exit code 2 before anything runs.

use crate::exec::{EXIT_INPUT, EXIT_INTERNAL, EXIT_OK};
use crate::simulate::{RunArgs, load, prepare_out, progress_bar};
use backstop_sim::compare::Capital;
use backstop_sim::designs::{DESIGNS, Design};
use backstop_sim::runner::RunOptions;
use std::io::Write;
use std::path::PathBuf;

/// `--capital`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CapitalArg {
    /// Every design gets the scenario's own backstop capital, split in the design's proportions.
    Equal,
    /// Each design's own published sizes (`assumed` sizes: the scenario's capital).
    AsConfigured,
}

/// Arguments of `backstop compare`.
#[derive(Debug, clap::Args)]
pub(crate) struct CompareArgs {
    /// Scenario file (TOML, see docs/scenarios.md).
    #[arg(value_name = "SCENARIO")]
    pub(crate) scenario: PathBuf,
    /// Comma-separated design names (blend, aave-umbrella, compound-v3, maker, liquity-v1,
    /// liquity-v2, exchange-adl, drift, dydx-v4, hyperliquid, adl-pro-rata, adl-min-shortfall), or
    /// `all`.
    #[arg(long, value_name = "LIST|all")]
    pub(crate) designs: String,
    /// Capital of each design.
    #[arg(long, value_enum, default_value = "equal")]
    pub(crate) capital: CapitalArg,
    /// Write compare.json, compare.html and charts/ into this directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// The designs named in `list` (`all`: every preset), in the order given.
///
/// # Errors
/// An unknown or repeated name, or an empty list, as a message listing the known names.
pub(crate) fn parse_designs(list: &str) -> Result<Vec<&'static Design>, String> {
    if list.trim() == "all" {
        return Ok(DESIGNS.iter().collect());
    }
    let known: Vec<&str> = DESIGNS.iter().map(|design| design.name).collect();
    let mut chosen: Vec<&'static Design> = Vec::new();
    for name in list.split(',').map(str::trim) {
        let Some(design) = backstop_sim::designs::find(name) else {
            return Err(format!(
                "--designs: unknown design {name:?}; known: {}, or all",
                known.join(", ")
            ));
        };
        if chosen.iter().any(|other| other.name == name) {
            return Err(format!("--designs: {name} is listed twice"));
        }
        chosen.push(design);
    }
    Ok(chosen)
}

/// Runs `compare`; returns the exit code.
///
/// # Errors
/// Only for failures to write to `out` or `err`.
pub(crate) fn run(
    args: &CompareArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let designs = match parse_designs(&args.designs) {
        Ok(designs) => designs,
        Err(message) => {
            writeln!(err, "error: {message}")?;
            return Ok(EXIT_INPUT);
        }
    };
    let Some(scenario) = load(&args.scenario, err)? else {
        return Ok(EXIT_INPUT);
    };
    if !prepare_out(args.out.as_deref(), err)? {
        return Ok(EXIT_INPUT);
    }
    let paths = args.run.paths.unwrap_or(scenario.run.paths);
    let total = u64::from(paths).saturating_mul(designs.len() as u64);
    let bar = progress_bar(Some(total), "paths");
    let tick = || bar.inc(1);
    let options = RunOptions {
        paths: args.run.paths,
        seed: args.run.seed,
        threads: args.run.threads,
        on_path_done: Some(&tick),
        ..RunOptions::default()
    };
    let capital = match args.capital {
        CapitalArg::Equal => Capital::Equal,
        CapitalArg::AsConfigured => Capital::AsConfigured,
    };
    let result = backstop_sim::compare::compare(&scenario, &designs, capital, &options);
    bar.finish_and_clear();
    let result = match result {
        Ok(result) => result,
        Err(error) => {
            writeln!(err, "error: {error}")?;
            return Ok(EXIT_INPUT);
        }
    };
    write!(out, "{}", backstop_report::compare::compare_table(&result))?;
    let Some(dir) = &args.out else {
        return Ok(EXIT_OK);
    };
    let info = crate::simulate::report_info(&scenario, &args.scenario, args.run.threads);
    match backstop_report::compare::write_compare(dir, &result, &info) {
        Ok(files) => {
            writeln!(out)?;
            writeln!(out, "reports:")?;
            for file in files {
                writeln!(out, "  {}", file.display())?;
            }
            Ok(EXIT_OK)
        }
        Err(error) => {
            out.flush()?;
            writeln!(err, "error: {error}")?;
            Ok(EXIT_INTERNAL)
        }
    }
}
