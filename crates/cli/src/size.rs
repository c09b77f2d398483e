//! `backstop size SCENARIO --layer fund --target 0.01 [--paths N] [--seed S] [--threads T]
//! [--out DIR]`: the smallest size of a layer that keeps the probability of a loss beyond it at or
//! under the target, by bisection over Monte Carlo runs with common random numbers, stopped when a
//! candidate's 95% Wilson interval contains the target (`--confidence`). Prints every size it tried
//! with its probability, interval and verdict, then the chosen size and how many paths the target
//! needs; with `--out`, runs the scenario once more at the chosen size and writes the reports with
//! the size curve and its interval band.

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
    /// Confidence of the Wilson interval around each candidate's probability; the search stops
    /// when the interval no longer resolves the target. `none`: point estimates only (the default
    /// for a one-path replay).
    #[arg(long, value_name = "C", default_value = "0.95", value_parser = parse_confidence)]
    pub(crate) confidence: Confidence,
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

/// `--confidence`: a level, or none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Confidence(pub(crate) Option<f64>);

fn parse_confidence(text: &str) -> Result<Confidence, String> {
    if text == "none" {
        return Ok(Confidence(None));
    }
    match text.parse::<f64>() {
        Ok(level) if level > 0.0 && level < 1.0 => Ok(Confidence(Some(level))),
        _ => Err("expected a confidence between 0 and 1 (0.95), or none".to_owned()),
    }
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
    let paths = args.run.paths.unwrap_or(scenario.run.paths);
    // One path is a replay: its probability is 0 or 1, and no interval resolves anything.
    let confidence = if paths == 1 { None } else { args.confidence.0 };
    let options = SizingOptions {
        layer: args.layer.clone(),
        target: args.target,
        confidence,
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
    writeln!(out, "size\tprobability\tlower\tupper\tverdict")?;
    for point in &sizing.curve {
        let verdict = format!("{:?}", point.verdict).to_lowercase();
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{verdict}",
            point.size, point.probability, point.lower, point.upper
        )?;
    }
    writeln!(
        out,
        "chosen size: {} (probability {}, interval {}..{}, {})",
        sizing.size,
        sizing.probability,
        sizing.interval.0,
        sizing.interval.1,
        if sizing.resolved { "resolved" } else { "not resolved" }
    )?;
    writeln!(out, "{}", sizing.describe())?;
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
