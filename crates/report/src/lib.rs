//! Backstop's reports of a stress-lab run: `summary.json` (versioned schema
//! `backstop.summary/1`, docs/summary-schema.md), `report.md`, a self-contained `report.html`
//! (inline SVG charts, base64 PNGs, no external URL), and `charts/*.svg` + `charts/*.png`: price
//! paths, fund and pool balances, cumulative payment by layer (stacked), the loss distribution
//! and the fund-size curve. [`terminal_table`] is the plain-text summary printed by
//! `backstop simulate`.
//!
//! Every output is a pure function of its inputs: identical [`RunResult`]s, [`ReportInfo`]s and
//! sizing results give byte-identical files. PNG text uses the bundled DejaVu Sans
//! (assets/fonts/DejaVuSans.ttf), never a system font.

mod base64;
mod charts;
pub mod compare;
mod document;
mod format;
pub mod provenance;
mod summary;
mod sweep_charts;

use backstop_sim::runner::RunResult;
use std::path::{Path, PathBuf};

pub use summary::SCHEMA;

/// The result of a layer-size search (`backstop size`), charted and tabled by the reports.
pub use backstop_sim::sizing::SizingResult;

/// What a report says about where it came from. Everything except `command_line` and `threads`
/// goes into `summary.json`; those two do not change results (the same seed gives the same bytes
/// whatever the thread count), so they appear only in `report.md` and `report.html`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportInfo {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// Scenario file as given on the command line.
    pub scenario_file: String,
    /// Venue name (or the venue file).
    pub venue: String,
    /// The command line that produced the report.
    pub command_line: String,
    /// Git commit of the source tree, or `"unknown"` ([`provenance::git_commit`]).
    pub git_commit: String,
    /// Hex SHA-256 of the workspace's Cargo.lock, or `"unknown"` ([`provenance::file_sha256`]).
    pub cargo_lock_sha256: String,
    /// Worker threads asked for (None: one per core).
    pub threads: Option<usize>,
}

impl ReportInfo {
    /// Fills `git_commit` and `cargo_lock_sha256` from the source tree at `workspace` (the
    /// directory holding Cargo.lock, inside a git repository).
    #[must_use]
    pub fn with_provenance(mut self, workspace: &Path) -> ReportInfo {
        self.git_commit = provenance::git_commit(workspace);
        self.cargo_lock_sha256 = provenance::file_sha256(&workspace.join("Cargo.lock"));
        self
    }
}

/// Why reports could not be written.
#[derive(Debug)]
pub enum ReportError {
    /// A file or directory could not be written or read back.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// A chart could not be drawn.
    Chart {
        /// The chart file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The summary could not be serialised.
    Json(serde_json::Error),
}

impl core::fmt::Display for ReportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReportError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            ReportError::Chart { path, message } => {
                write!(f, "{}: cannot draw the chart: {message}", path.display())
            }
            ReportError::Json(error) => write!(f, "summary.json: {error}"),
        }
    }
}

impl std::error::Error for ReportError {}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|error| ReportError::Io { path: path.to_path_buf(), error })
}

/// Writes every report into `out_dir` (created if missing) and returns the paths written, in this
/// order: `summary.json`, `report.md`, `report.html`, then each chart's `.svg` and `.png` under
/// `charts/` (prices, balances, paid, loss, sizing — those the data supports).
///
/// # Errors
/// A directory or file that cannot be written, or a chart that cannot be drawn.
pub fn write_reports(
    out_dir: &Path,
    run: &RunResult,
    info: &ReportInfo,
    sizing: Option<&SizingResult>,
) -> Result<Vec<PathBuf>, ReportError> {
    let chart_dir = out_dir.join("charts");
    std::fs::create_dir_all(&chart_dir)
        .map_err(|error| ReportError::Io { path: chart_dir.clone(), error })?;
    let charts = charts::charts(run, sizing);
    let mut chart_files = Vec::with_capacity(charts.len() * 2);
    let mut rendered = Vec::with_capacity(charts.len());
    for chart in &charts {
        let svg_path = chart_dir.join(format!("{}.svg", chart.name));
        let png_path = chart_dir.join(format!("{}.png", chart.name));
        let svg = charts::render_svg(chart)
            .map_err(|message| ReportError::Chart { path: svg_path.clone(), message })?;
        write_file(&svg_path, svg.as_bytes())?;
        charts::render_png(chart, &png_path)
            .map_err(|message| ReportError::Chart { path: png_path.clone(), message })?;
        let png = std::fs::read(&png_path)
            .map_err(|error| ReportError::Io { path: png_path.clone(), error })?;
        rendered.push((svg, png));
        chart_files.push(svg_path);
        chart_files.push(png_path);
    }

    let summary_path = out_dir.join("summary.json");
    let summary = summary::summary_json(run, info, sizing).map_err(ReportError::Json)?;
    write_file(&summary_path, &summary)?;

    let blocks = document::blocks(run, info, sizing, &charts);
    let markdown_path = out_dir.join("report.md");
    write_file(&markdown_path, document::markdown(&blocks, &charts).as_bytes())?;

    let html_path = out_dir.join("report.html");
    let html_charts: Vec<document::RenderedChart<'_>> = charts
        .iter()
        .zip(&rendered)
        .map(|(chart, (svg, png))| document::RenderedChart { chart, svg, png })
        .collect();
    let title = format!("Backstop stress report: {}", info.scenario);
    write_file(&html_path, document::html(&blocks, &title, &html_charts).as_bytes())?;

    let mut written = vec![summary_path, markdown_path, html_path];
    written.extend(chart_files);
    Ok(written)
}

/// `summary.json`'s bytes without writing anything (what [`write_reports`] writes).
///
/// # Errors
/// Serialisation failure (not expected: every value is a number, string, list or map).
pub fn summary_json(
    run: &RunResult,
    info: &ReportInfo,
    sizing: Option<&SizingResult>,
) -> Result<Vec<u8>, ReportError> {
    summary::summary_json(run, info, sizing).map_err(ReportError::Json)
}

/// Plain-text columns, padded; `numeric[i]` right-aligns column i.
fn text_table(head: &[String], rows: &[Vec<String>], numeric: &[bool]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |row: &[String]| {
        let mut text = String::new();
        for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if index > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
            if numeric.get(index).copied().unwrap_or(false) {
                text.push_str(&pad);
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&pad);
            }
        }
        format!("{}\n", text.trim_end())
    };
    let mut out = line(head);
    let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
    out.push_str(&format!("{}\n", rule.join("  ")));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// Header of the published-against-simulated table.
pub(crate) const PUBLISHED_HEAD: [&str; 6] =
    ["metric", "published", "simulated", "unit", "verdict", "source"];

/// Which columns of the published-against-simulated table are numbers.
pub(crate) const PUBLISHED_NUMERIC: [bool; 6] = [false, true, true, false, false, false];

/// Rows of the published-against-simulated table: the metric, the published figure (`low – high`
/// or one figure), the simulated figure, the unit, the verdict and the source.
pub(crate) fn published_rows(run: &RunResult) -> Vec<Vec<String>> {
    run.published
        .iter()
        .map(|row| {
            let expect = &row.expect;
            let figure = |value: f64| {
                if value.fract() == 0.0 && value.abs() < 1_000.0 {
                    format!("{value:.0}")
                } else {
                    format::amount(value)
                }
            };
            let published = if expect.low == expect.high {
                figure(expect.low)
            } else {
                format!("{} – {}", figure(expect.low), figure(expect.high))
            };
            vec![
                expect.metric.clone(),
                published,
                figure(row.simulated),
                expect.unit.clone(),
                row.verdict.word().to_owned(),
                expect.source.clone(),
            ]
        })
        .collect()
}

/// The plain-text summary printed by `backstop simulate`: the scenario's published outcomes
/// beside the simulated figures with a verdict each (when it has `[[expect]]` lines); each
/// metric's mean, VaR and ES at 95% and 99%; what each layer paid (the same statistics); and per layer the probability it was
/// exhausted and the probability of a loss beyond it.
#[must_use]
pub fn terminal_table(run: &RunResult) -> String {
    let mut out = format!(
        "{}: {} path(s) x {} steps of {} s, seed {}\n\n",
        if run.scenario.is_empty() { "scenario" } else { run.scenario.as_str() },
        run.summary.paths,
        run.steps,
        run.step_secs,
        run.seed
    );
    let published = published_rows(run);
    if !published.is_empty() {
        out.push_str("published vs simulated\n");
        let head = PUBLISHED_HEAD.map(str::to_owned);
        out.push_str(&text_table(&head, &published, &PUBLISHED_NUMERIC));
        out.push('\n');
    }
    let numeric = [false, true, true, true, true, true];
    let stat_rows = |paid: bool| -> Vec<Vec<String>> {
        run.summary
            .metrics
            .iter()
            .filter_map(|(name, stat)| {
                let label = match name.strip_prefix("paid:") {
                    Some(layer) if paid => layer,
                    None if !paid => name.as_str(),
                    _ => return None,
                };
                Some(vec![
                    label.to_owned(),
                    format::amount(stat.mean),
                    format::amount(stat.var95),
                    format::amount(stat.var99),
                    format::amount(stat.es95),
                    format::amount(stat.es99),
                ])
            })
            .collect()
    };
    let columns = |first: &str| -> Vec<String> {
        [first, "mean", "VaR95", "VaR99", "ES95", "ES99"].map(str::to_owned).to_vec()
    };
    let metrics = stat_rows(false);
    if metrics.is_empty() {
        out.push_str("no metrics recorded\n");
    } else {
        out.push_str(&text_table(&columns("metric"), &metrics, &numeric));
    }
    let paid = stat_rows(true);
    out.push('\n');
    if paid.is_empty() {
        out.push_str("no layer paid anything\n");
    } else {
        out.push_str(&text_table(&columns("layer paid"), &paid, &numeric));
    }
    out.push('\n');
    let summary = &run.summary;
    let layers: std::collections::BTreeSet<&String> = summary
        .exhaustion_probability
        .keys()
        .chain(summary.loss_beyond_probability.keys())
        .collect();
    if layers.is_empty() {
        out.push_str("no layer exhaustion recorded\n");
    } else {
        let probability = |map: &std::collections::BTreeMap<String, f64>, layer: &String| {
            map.get(layer).map_or_else(|| "-".to_owned(), |p| format::probability(*p))
        };
        let rows: Vec<Vec<String>> = layers
            .into_iter()
            .map(|layer| {
                vec![
                    layer.clone(),
                    probability(&summary.exhaustion_probability, layer),
                    probability(&summary.loss_beyond_probability, layer),
                ]
            })
            .collect();
        let head = ["layer", "P(exhausted)", "P(loss beyond)"].map(str::to_owned);
        out.push_str(&text_table(&head, &rows, &[false, true, true]));
    }
    out
}
