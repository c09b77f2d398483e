//! `backstop size SCENARIO --layer fund --target 0.01 [--paths N] [--seed S] [--threads T]
//! [--out DIR]`: the smallest size of a layer that keeps the probability of a loss beyond it at or
//! under the target, by bisection over Monte Carlo runs with common random numbers. Prints every
//! size it tried with its probability, then the chosen size; with `--out`, runs the scenario once
//! more at the chosen size and writes the reports with the size curve.

use crate::exec::{EXIT_INPUT, EXIT_OK};
use crate::simulate::{RunArgs, load, prepare_out, progress_bar, report_info, write_reports};
use backstop_sim::runner::RunOptions;
use backstop_sim::sizing::SizingOptions;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `backstop size`.
#[derive(Debug, clap::Args)]
pub(crate) struct SizeArgs {
    /// Scenario file (TOML, see docs/scenarios.md).
    #[arg(value_name = "SCENARIO")]
    pub(crate) scenario: PathBuf,
    /// The layer to size: a full layer text (`fund:insurance`), or `fund`, `offset`, `stakers` or
    /// `stability` for the venue's first layer of that kind.
    #[arg(long, value_name = "LAYER")]
    pub(crate) layer: String,
    /// Largest acceptable probability of a loss beyond the layer (0 ≤ target < 1).
    #[arg(long, value_name = "P", value_parser = parse_target)]
    pub(crate) target: f64,
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// A full-resolution price CSV replacing the scenario's first csv or waypoints price source.
    #[arg(long, value_name = "FILE")]
    pub(crate) prices: Option<PathBuf>,
    /// Write summary.json (with the size curve), report.md, report.html and charts/ for a run at
    /// the chosen size into this directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

fn parse_target(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(target) if (0.0..1.0).contains(&target) => Ok(target),
        _ => Err("expected a probability from 0 up to (not including) 1".to_owned()),
    }
}

/// Runs `size`; returns the exit code.
///
/// # Errors
/// Only for failures to write to `out` or `err`.
pub(crate) fn run(args: &SizeArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let Some(scenario) = load(&args.scenario, err)? else {
        return Ok(EXIT_INPUT);
    };
    if !prepare_out(args.out.as_deref(), err)? {
        return Ok(EXIT_INPUT);
    }
    let options = SizingOptions {
        layer: args.layer.clone(),
        target: args.target,
        paths: args.run.paths,
        seed: args.run.seed,
        threads: args.run.threads,
        prices_csv: args.prices.clone(),
        ..SizingOptions::default()
    };
    // The search does not report progress per path: a spinner while it runs.
    let spinner = progress_bar(None, "searching");
    if !spinner.is_hidden() {
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    let result = backstop_sim::sizing::size(&scenario, &options);
    spinner.finish_and_clear();
    let sizing = match result {
        Ok(sizing) => sizing,
        Err(error) => {
            writeln!(err, "error: {error}")?;
            return Ok(EXIT_INPUT);
        }
    };
    writeln!(
        out,
        "{}: smallest size of {} with P(loss beyond) <= {}",
        scenario.scenario.name, sizing.layer, sizing.target
    )?;
    writeln!(out, "size\tprobability")?;
    for (size, probability) in &sizing.curve {
        writeln!(out, "{size}\t{probability}")?;
    }
    writeln!(out, "chosen size: {} (probability {})", sizing.size, sizing.probability)?;
    let Some(dir) = &args.out else {
        return Ok(EXIT_OK);
    };
    let bar = progress_bar(args.run.paths.or(Some(scenario.run.paths)).map(u64::from), "paths");
    let tick = || bar.inc(1);
    let options = RunOptions {
        paths: args.run.paths,
        seed: args.run.seed,
        threads: args.run.threads,
        prices_csv: args.prices.clone(),
        trace_paths: 1,
        on_path_done: Some(&tick),
        funding_overrides: vec![(sizing.layer.clone(), sizing.size)],
    };
    let result = backstop_sim::runner::run(&scenario, &options);
    bar.finish_and_clear();
    let run = match result {
        Ok(run) => run,
        Err(error) => {
            writeln!(err, "error: {error}")?;
            return Ok(EXIT_INPUT);
        }
    };
    writeln!(out)?;
    write!(out, "{}", backstop_report::terminal_table(&run))?;
    let info = report_info(&scenario, &args.scenario, args.run.threads);
    write_reports(dir, &run, &info, Some(&sizing), out, err)
}
