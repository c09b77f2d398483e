//! `backstop simulate SCENARIO [--out DIR] [--paths N] [--seed S] [--threads T] [--prices FILE]`:
//! runs a stress scenario through the engine, prints a summary table, and with `--out` writes
//! `summary.json`, `report.md`, `report.html` and `charts/`.
//!
//! Everything is read and checked before the first path runs: a missing or malformed scenario,
//! price file or venue stops with `error: <location>: <message>` on stderr and exit code 2. A
//! progress bar is drawn on stderr only when stderr is a terminal and `CI` is not set.

use crate::exec::{EXIT_INPUT, EXIT_INTERNAL, EXIT_OK};
use backstop_report::{ReportInfo, SizingResult};
use backstop_sim::runner::{RunOptions, RunResult};
use backstop_sim::scenario::Scenario;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Most worker threads `--threads` accepts.
pub(crate) const THREAD_COUNT_MAX: usize = 1_024;

/// Arguments of `backstop simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// Scenario file (TOML, see docs/scenarios.md).
    #[arg(value_name = "SCENARIO")]
    pub(crate) scenario: PathBuf,
    /// Write summary.json, report.md, report.html and charts/ into this directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// A full-resolution price CSV (`timestamp,open,high,low,close[,volume]`) replacing the
    /// scenario's first csv or waypoints price source.
    #[arg(long, value_name = "FILE")]
    pub(crate) prices: Option<PathBuf>,
    /// Run only shard K of N (1-based: the paths p with p mod N = K − 1) and write its partial
    /// result to `--out DIR/partial.json`; `backstop merge` combines the N partials
    /// (docs/scale-out.md).
    #[arg(long, value_name = "K/N", value_parser = backstop_sim::shard::Shard::parse, requires = "out")]
    pub(crate) shard: Option<backstop_sim::shard::Shard>,
}

/// Run settings shared by `simulate` and `size`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// Monte Carlo paths (default: the scenario's `run.paths`).
    #[arg(long, value_name = "N", value_parser = parse_paths)]
    pub(crate) paths: Option<u32>,
    /// Seed of every random choice (default: the scenario's `run.seed`).
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "T", value_parser = parse_threads)]
    pub(crate) threads: Option<usize>,
}

fn parse_paths(text: &str) -> Result<u32, String> {
    let max = backstop_sim::PATH_COUNT_MAX;
    match text.parse::<u32>() {
        Ok(paths) if (1..=max).contains(&paths) => Ok(paths),
        _ => Err(format!("expected a whole number of paths from 1 to {max}")),
    }
}

fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(threads) if (1..=THREAD_COUNT_MAX).contains(&threads) => Ok(threads),
        _ => Err(format!("expected a whole number of threads from 1 to {THREAD_COUNT_MAX}")),
    }
}

/// Loads and checks a scenario; on failure prints `error: <location>: <message>`.
pub(crate) fn load(path: &Path, err: &mut dyn Write) -> anyhow::Result<Option<Scenario>> {
    match backstop_sim::scenario::load(path) {
        Ok(scenario) => Ok(Some(scenario)),
        Err(error) => {
            writeln!(err, "error: {error}")?;
            Ok(None)
        }
    }
}

/// Creates the output directory before anything runs; on failure prints the error.
pub(crate) fn prepare_out(out: Option<&Path>, err: &mut dyn Write) -> anyhow::Result<bool> {
    let Some(dir) = out else {
        return Ok(true);
    };
    if let Err(error) = std::fs::create_dir_all(dir) {
        writeln!(err, "error: {}: cannot create the output directory: {error}", dir.display())?;
        return Ok(false);
    }
    Ok(true)
}

/// A progress bar on stderr when it is a terminal and `CI` is unset; hidden otherwise.
pub(crate) fn progress_bar(length: Option<u64>, unit: &str) -> ProgressBar {
    let visible = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !visible {
        return ProgressBar::hidden();
    }
    let (bar, template) = match length {
        Some(length) => (
            ProgressBar::new(length),
            format!("{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit} (eta {{eta}})"),
        ),
        None => {
            (ProgressBar::no_length(), format!("{{elapsed_precise}} {{spinner}} {{pos}} {unit}"))
        }
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The venue's name for reports: its `[venue] name`, followed by the venue file when it has one.
pub(crate) fn venue_name(scenario: &Scenario) -> String {
    let name = backstop_sim::runner::load_venue(scenario).map(|venue| venue.venue.name);
    match (name, &scenario.venue.path) {
        (Ok(name), Some(path)) => format!("{name} ({path})"),
        (Ok(name), None) => name,
        (Err(_), Some(path)) => path.clone(),
        (Err(_), None) => "inline venue".to_owned(),
    }
}

/// The command line as typed (arguments with spaces or quotes are quoted).
pub(crate) fn command_line() -> String {
    let words: Vec<String> = std::env::args()
        .enumerate()
        .map(|(index, word)| {
            let word = if index == 0 {
                Path::new(&word)
                    .file_name()
                    .map_or_else(|| word.clone(), |name| name.to_string_lossy().into_owned())
            } else {
                word
            };
            if word.is_empty() || word.contains([' ', '\t', '"', '\'']) {
                format!("'{}'", word.replace('\'', "'\\''"))
            } else {
                word
            }
        })
        .collect();
    words.join(" ")
}

/// The source tree this binary was built from (for the git commit and Cargo.lock hash).
fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the reports say about where they came from.
pub(crate) fn report_info(scenario: &Scenario, file: &Path, threads: Option<usize>) -> ReportInfo {
    ReportInfo {
        scenario: scenario.scenario.name.clone(),
        description: scenario.scenario.description.clone(),
        scenario_file: file.display().to_string(),
        venue: venue_name(scenario),
        command_line: command_line(),
        git_commit: String::new(),
        cargo_lock_sha256: String::new(),
        threads,
    }
    .with_provenance(&workspace_dir())
}

/// Writes the reports and lists them on `out`; exit code.
pub(crate) fn write_reports(
    dir: &Path,
    run: &RunResult,
    info: &ReportInfo,
    sizing: Option<&SizingResult>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    match backstop_report::write_reports(dir, run, info, sizing) {
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

/// The run options `simulate` gives the runner.
pub(crate) fn run_options<'a>(args: &SimulateArgs, tick: &'a (dyn Fn() + Sync)) -> RunOptions<'a> {
    RunOptions {
        paths: args.run.paths,
        seed: args.run.seed,
        threads: args.run.threads,
        prices_csv: args.prices.clone(),
        trace_paths: 1,
        on_path_done: Some(tick),
        funding_overrides: Vec::new(),
    }
}

/// Runs `simulate`; returns the exit code.
///
/// # Errors
/// Only for failures to write to `out` or `err`.
pub(crate) fn run(
    args: &SimulateArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let Some(scenario) = load(&args.scenario, err)? else {
        return Ok(EXIT_INPUT);
    };
    if !prepare_out(args.out.as_deref(), err)? {
        return Ok(EXIT_INPUT);
    }
    if let (Some(shard), Some(dir)) = (args.shard, &args.out) {
        return crate::merge::run_simulate_shard(args, &scenario, shard, dir, out, err);
    }
    let paths = args.run.paths.unwrap_or(scenario.run.paths);
    let bar = progress_bar(Some(u64::from(paths)), "paths");
    let tick = || bar.inc(1);
    let options = run_options(args, &tick);
    let result = backstop_sim::runner::run(&scenario, &options);
    bar.finish_and_clear();
    let run = match result {
        Ok(run) => run,
        Err(error) => {
            writeln!(err, "error: {error}")?;
            return Ok(EXIT_INPUT);
        }
    };
    write!(out, "{}", backstop_report::terminal_table(&run))?;
    let Some(dir) = &args.out else {
        return Ok(EXIT_OK);
    };
    let info = report_info(&scenario, &args.scenario, args.run.threads);
    write_reports(dir, &run, &info, None, out, err)
}
