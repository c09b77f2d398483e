//! Price sources: historical CSV, waypoints bridged by a seeded Brownian bridge, geometric
//! Brownian motion, Merton jump-diffusion, block bootstrap of historical returns; several assets
//! with correlated shocks.
//!
//! Every source produces one `f64` series per asset at the run's resolution (`run.step_secs`),
//! `run.steps + 1` points, step 0 at the run's start. Prices are floats here; the runner converts
//! them with [`crate::convert::price`] before they reach the engine.
//!
//! | source | keys | path |
//! | --- | --- | --- |
//! | `constant` | `price` | `price` at every step |
//! | `csv` | `csv` | step k takes the last close whose timestamp is at or before `start + k·step_secs` |
//! | `waypoints` | `points`, `bridge_volatility` | passes exactly through each point (at the step nearest its time); a Brownian bridge in log price between them; held before the first and after the last |
//! | `gbm` | `price`, `drift`, `volatility` | exact log-Euler: `ln S += (μ − σ²/2)·dt + σ·√dt·Z` |
//! | `merton` | as `gbm` and `jump_intensity`, `jump_mean`, `jump_std` | as `gbm`, plus `N ~ Poisson(λ·dt)` jumps of log size `N(jump_mean, jump_std²)`, drift compensated by `λ·(e^{m+s²/2} − 1)` so `E[S_t] = S_0·e^{μt}` |
//! | `bootstrap` | `csv`, `block`, `price` | blocks of `block` consecutive log returns of the CSV (sampled at the run's resolution), drawn uniformly, starting from `price` (default: the file's first close) |
//!
//! Rates (`drift`, `volatility`, `bridge_volatility`, `jump_intensity`) are per 365-day year,
//! like the engine's interest rates. The `Z` shocks of `gbm` and `merton` assets are correlated
//! through the Cholesky factor of `[prices] correlation` (rows in the order of the assets; entries
//! linking any other source must be 0).
//!
//! CSV files: a header naming `timestamp`, `open`, `high`, `low`, `close` (and optionally
//! `volume`), rows in strictly ascending time. Timestamps are ISO-8601 UTC
//! (`2020-03-11T00:00:00Z`, also `2020-03-11 00:00:00`, a date alone, fractional seconds or a
//! `+00:00` offset) or unix seconds, milliseconds or microseconds. As in ../shared/data/prices,
//! a timestamp is the open time of its bar; a file covers `[first, last + interval)` where the
//! interval is its smallest spacing, and a run must lie inside that.
//!
//! Randomness comes only from the `ChaCha8Rng` passed in, consumed in a fixed order (model shocks
//! step by step, then waypoint bridges, then bootstrap blocks, each in asset order), so a given
//! generator state always gives the same path.

use crate::SimError;
use crate::scenario::{AssetPriceSpec, PricesSpec, RunSpec};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Seconds in the 365-day year that rates are quoted per (as the engine's interest rates).
pub const YEAR_SECS: f64 = 31_536_000.0;
/// Default volatility per year of a waypoint bridge.
pub const BRIDGE_VOLATILITY_DEFAULT: f64 = 0.8;
/// Default block length (steps) of a bootstrap.
pub const BOOTSTRAP_BLOCK_DEFAULT: u32 = 24;
/// Most rows read from one price CSV.
pub const CSV_ROWS_MAX: usize = 10_000_000;
/// Most assets with a price source.
pub const PRICED_ASSETS_MAX: usize = 64;
/// Most waypoints of one asset.
pub const WAYPOINTS_MAX: usize = 100_000;
/// Largest volatility (and bridge volatility) per year accepted: 10,000%.
pub const VOLATILITY_MAX: f64 = 100.0;
/// Largest absolute drift per year accepted.
pub const DRIFT_MAX: f64 = 100.0;
/// Largest jump intensity (jumps per year) accepted.
pub const JUMP_INTENSITY_MAX: f64 = 1.0e6;
/// Largest absolute log jump mean and jump standard deviation accepted.
pub const JUMP_SIZE_MAX: f64 = 10.0;
/// Smallest price a generated path may reach (lower values are clamped).
pub const PRICE_MIN: f64 = 1.0e-12;
/// Largest price a generated path may reach, or a source may give (higher values are clamped).
pub const PRICE_MAX: f64 = 1.0e15;
/// Tolerance of the correlation checks (symmetry, unit diagonal, positive pivots).
const CORRELATION_TOLERANCE: f64 = 1.0e-9;

/// Generated prices of every listed asset at every step.
#[derive(Debug, Clone, PartialEq)]
pub struct PricePath {
    /// Unix time of step 0.
    pub start: u64,
    /// Seconds per step.
    pub step_secs: u64,
    /// Asset symbols, in the order of the scenario's `[[prices.asset]]`.
    pub assets: Vec<String>,
    /// `series[asset][step]`, `steps + 1` points (step 0 is `start`).
    pub series: Vec<Vec<f64>>,
}

impl PricePath {
    /// Price of asset `asset` at `step` (the last point if `step` is beyond the path; 1 for an
    /// asset index outside the path).
    #[must_use]
    pub fn price(&self, asset: usize, step: u32) -> f64 {
        let Some(series) = self.series.get(asset) else { return 1.0 };
        let index = (step as usize).min(series.len().saturating_sub(1));
        series.get(index).copied().unwrap_or(1.0)
    }

    /// Step-0 price of each asset, by symbol.
    #[must_use]
    pub fn initial_prices(&self) -> BTreeMap<String, f64> {
        self.assets
            .iter()
            .zip(&self.series)
            .map(|(asset, series)| (asset.clone(), series.first().copied().unwrap_or(1.0)))
            .collect()
    }

    /// Index of an asset by symbol.
    #[must_use]
    pub fn asset_index(&self, symbol: &str) -> Option<usize> {
        self.assets.iter().position(|asset| asset == symbol)
    }
}

/// One OHLC bar of a price CSV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Unix seconds of the bar's open.
    pub time: u64,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
}

/// Reads a `timestamp,open,high,low,close[,volume]` file into (unix seconds, close) pairs.
///
/// # Errors
/// Unreadable file, missing columns, bad timestamps or prices, rows out of order, naming file
/// and line.
pub fn load_csv(path: &Path) -> Result<Vec<(u64, f64)>, SimError> {
    Ok(load_bars(path)?.into_iter().map(|bar| (bar.time, bar.close)).collect())
}

/// Reads a `timestamp,open,high,low,close[,volume]` file into bars.
///
/// # Errors
/// As [`load_csv`].
pub fn load_bars(path: &Path) -> Result<Vec<Bar>, SimError> {
    let file = path.display().to_string();
    let data = std::fs::read(path)
        .map_err(|error| SimError::new(file.clone(), format!("cannot read: {error}")))?;
    parse_bars(&data, &file)
}

/// Parses price CSV text; `file` names it in errors.
///
/// # Errors
/// As [`load_csv`].
pub fn parse_bars(data: &[u8], file: &str) -> Result<Vec<Bar>, SimError> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(data);
    let headers = reader
        .headers()
        .map_err(|error| {
            SimError::new(format!("{file}:1"), format!("cannot read the header: {error}"))
        })?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|header| header.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let mut columns = [0_usize; 5];
    for (slot, name) in columns.iter_mut().zip(["timestamp", "open", "high", "low", "close"]) {
        *slot = column(name).ok_or_else(|| {
            SimError::new(
                format!("{file}:1"),
                format!(
                    "the header must name timestamp,open,high,low,close[,volume]; `{name}` is missing"
                ),
            )
        })?;
    }
    let mut bars: Vec<Bar> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| {
            let line = error.position().map_or(0, csv::Position::line);
            SimError::new(format!("{file}:{line}"), format!("bad row: {error}"))
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let location = || format!("{file}:{line}");
        if record.iter().all(str::is_empty) {
            continue;
        }
        if bars.len() >= CSV_ROWS_MAX {
            return Err(SimError::new(location(), format!("more than {CSV_ROWS_MAX} rows")));
        }
        let field = |index: usize| record.get(index).unwrap_or("");
        let time = parse_timestamp(field(columns[0]))
            .map_err(|message| SimError::new(location(), format!("timestamp: {message}")))?;
        let mut values = [0.0_f64; 4];
        for (value, (index, name)) in
            values.iter_mut().zip(columns[1..].iter().zip(["open", "high", "low", "close"]))
        {
            let text = field(*index);
            *value = text
                .parse::<f64>()
                .ok()
                .filter(|number| number.is_finite() && *number > 0.0)
                .ok_or_else(|| {
                    SimError::new(
                        location(),
                        format!("{name}: expected a positive number, got {text:?}"),
                    )
                })?;
        }
        if let Some(previous) = bars.last()
            && time <= previous.time
        {
            return Err(SimError::new(
                location(),
                "timestamps must be strictly ascending (sorted, no duplicates)",
            ));
        }
        let [open, high, low, close] = values;
        bars.push(Bar { time, open, high, low, close });
    }
    if bars.is_empty() {
        return Err(SimError::new(file.to_owned(), "no price rows"));
    }
    Ok(bars)
}

/// Parses a timestamp: ISO-8601 UTC or unix seconds / milliseconds / microseconds.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_timestamp(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        let value: u64 = text.parse().map_err(|_| format!("{text:?} is out of range"))?;
        // Seconds until the year 5138, then milliseconds, then microseconds.
        return Ok(if value < 100_000_000_000 {
            value
        } else if value < 100_000_000_000_000 {
            value / 1_000
        } else {
            value / 1_000_000
        });
    }
    parse_iso8601(text).ok_or_else(|| {
        format!(
            "expected ISO-8601 UTC (2020-03-11T00:00:00Z) or unix seconds/milliseconds, got {text:?}"
        )
    })
}

fn parse_iso8601(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u64> {
        let slice = text.get(range)?;
        if slice.is_empty() || !slice.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        slice.parse().ok()
    };
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let mut seconds = 0_u64;
    let mut rest = text.get(10..)?;
    if !rest.is_empty() {
        let separator = rest.as_bytes()[0];
        if separator != b'T' && separator != b't' && separator != b' ' {
            return None;
        }
        let time = rest.get(1..)?;
        if time.len() < 5 || time.as_bytes()[2] != b':' {
            return None;
        }
        let hour = time.get(0..2)?.parse::<u64>().ok()?;
        let minute = time.get(3..5)?.parse::<u64>().ok()?;
        let mut second = 0;
        rest = time.get(5..)?;
        if rest.starts_with(':') {
            second = rest.get(1..3)?.parse::<u64>().ok()?;
            rest = rest.get(3..)?;
            if let Some(fraction) = rest.strip_prefix('.') {
                let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return None;
                }
                rest = fraction.get(digits..)?;
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        match rest {
            "" | "Z" | "z" | "+00:00" | "+0000" | "-00:00" => {}
            _ => return None,
        }
        seconds = hour * 3_600 + minute * 60 + second;
    }
    days.checked_mul(86_400)?.checked_add(seconds)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in or after 1970 (Howard Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The close at or before each of `count` times `start + k·step_secs` (the bars must cover them).
fn sample_closes(bars: &[Bar], start: u64, step_secs: u64, count: usize) -> Vec<f64> {
    let mut series = Vec::with_capacity(count);
    let mut index = 0;
    for k in 0..count {
        let time = start.saturating_add(step_secs.saturating_mul(k as u64));
        while index + 1 < bars.len() && bars[index + 1].time <= time {
            index += 1;
        }
        series.push(bars[index].close);
    }
    series
}

/// Smallest spacing between consecutive bars (0 for a single bar).
fn bar_interval(bars: &[Bar]) -> u64 {
    bars.windows(2).map(|pair| pair[1].time - pair[0].time).min().unwrap_or(0)
}

/// Checks that bars cover `[start, end]`: `first ≤ start` and `end < last + interval`.
fn check_coverage(bars: &[Bar], start: u64, end: u64, location: &str) -> Result<(), SimError> {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Err(SimError::new(location.to_owned(), "no price rows"));
    };
    let covered_end = last.time.saturating_add(bar_interval(bars).max(1));
    if start < first.time || end >= covered_end {
        return Err(SimError::new(
            location.to_owned(),
            format!(
                "the file covers unix {}..{} but the run needs {start}..={end}: move [run] start \
                 or shorten steps",
                first.time, covered_end
            ),
        ));
    }
    Ok(())
}

/// The prepared form of a [`PricesSpec`]: files read once, correlation factored, ready to draw
/// any number of paths. [`generate`] is `PriceModel::new` then [`PriceModel::generate`]; the
/// runner should build one model and draw every path from it.
#[derive(Debug, Clone)]
pub struct PriceModel {
    start: u64,
    step_secs: u64,
    steps: usize,
    assets: Vec<String>,
    sources: Vec<Source>,
    /// Indices (into `sources`) of the gbm and merton assets, in order.
    model_assets: Vec<usize>,
    /// Lower-triangular Cholesky factor over `model_assets` (row-major), or empty: independent.
    cholesky: Vec<Vec<f64>>,
}

#[derive(Debug, Clone)]
enum Source {
    /// A fixed series (constant or csv).
    Fixed(Arc<Vec<f64>>),
    /// Waypoints as (step, price), ascending steps, at most one beyond the last step.
    Waypoints { points: Vec<(u64, f64)>, volatility: f64 },
    /// GBM or Merton.
    Model { price: f64, drift: f64, volatility: f64, jumps: Option<Jumps> },
    /// Block bootstrap.
    Bootstrap { price: f64, returns: Arc<Vec<f64>>, block: usize },
}

#[derive(Debug, Clone)]
struct Jumps {
    intensity: f64,
    mean: f64,
    std: f64,
}

/// The sources after `csv_override`: a copy of the spec's assets.
fn effective_assets(
    spec: &PricesSpec,
    csv_override: Option<&Path>,
) -> (Vec<AssetPriceSpec>, Option<usize>) {
    let mut assets = spec.asset.clone();
    let mut replaced = None;
    if let Some(path) = csv_override
        && let Some(index) =
            assets.iter().position(|asset| asset.source == "csv" || asset.source == "waypoints")
    {
        let asset = &mut assets[index];
        asset.source = "csv".to_owned();
        asset.csv = Some(path.display().to_string());
        asset.points.clear();
        asset.bridge_volatility = None;
        replaced = Some(index);
    }
    (assets, replaced)
}

fn resolve(base_dir: &Path, file: &str, overridden: bool) -> PathBuf {
    if overridden { PathBuf::from(file) } else { base_dir.join(file) }
}

impl PriceModel {
    /// Validates the sources and reads their files.
    ///
    /// # Errors
    /// As [`validate`], plus unreadable or uncovering files.
    pub fn new(
        spec: &PricesSpec,
        run: &RunSpec,
        base_dir: &Path,
        csv_override: Option<&Path>,
    ) -> Result<PriceModel, SimError> {
        let (assets, replaced) = effective_assets(spec, csv_override);
        check_static(&assets, spec.correlation.as_deref(), run, None)?;
        let steps = run.steps as usize;
        let step_secs = run.step_secs;
        let span = step_secs
            .checked_mul(u64::from(run.steps))
            .ok_or_else(|| SimError::new("run.steps", "steps × step_secs overflows"))?;
        // Files are read once; a file named by several assets is read once too.
        let mut files: BTreeMap<PathBuf, Arc<Vec<Bar>>> = BTreeMap::new();
        let mut bars_of =
            |index: usize, asset: &AssetPriceSpec| -> Result<Arc<Vec<Bar>>, SimError> {
                let file = asset.csv.as_deref().unwrap_or_default();
                let path = resolve(base_dir, file, replaced == Some(index));
                if let Some(bars) = files.get(&path) {
                    return Ok(Arc::clone(bars));
                }
                let bars = Arc::new(load_bars(&path).map_err(|error| {
                    // Errors without a line (unreadable, empty) name the key, then the file.
                    if error.location == path.display().to_string() {
                        SimError::new(
                            format!("prices.asset[{index}].csv"),
                            format!("{}: {}", error.location, error.message),
                        )
                    } else {
                        error
                    }
                })?);
                files.insert(path, Arc::clone(&bars));
                Ok(bars)
            };
        // The start: [run] start, else the first timestamp of the first csv asset, else 0.
        let mut start = run.start;
        if start.is_none()
            && let Some((index, asset)) =
                assets.iter().enumerate().find(|(_, asset)| asset.source == "csv")
        {
            start = bars_of(index, asset)?.first().map(|bar| bar.time);
        }
        let start = start.unwrap_or(0);
        let end = start
            .checked_add(span)
            .ok_or_else(|| SimError::new("run.start", "start + steps × step_secs overflows"))?;
        let mut sources = Vec::with_capacity(assets.len());
        let mut model_assets = Vec::new();
        for (index, asset) in assets.iter().enumerate() {
            let key = |name: &str| format!("prices.asset[{index}].{name}");
            let source = match asset.source.as_str() {
                "constant" => Source::Fixed(Arc::new(vec![
                    clamp_price(asset.price.unwrap_or(1.0));
                    steps + 1
                ])),
                "csv" => {
                    let bars = bars_of(index, asset)?;
                    check_coverage(&bars, start, end, &key("csv"))?;
                    Source::Fixed(Arc::new(
                        sample_closes(&bars, start, step_secs, steps + 1)
                            .into_iter()
                            .map(clamp_price)
                            .collect(),
                    ))
                }
                "waypoints" => Source::Waypoints {
                    points: waypoint_steps(&asset.points, step_secs, run.steps, &key("points"))?,
                    volatility: asset.bridge_volatility.unwrap_or(BRIDGE_VOLATILITY_DEFAULT),
                },
                "gbm" | "merton" => {
                    model_assets.push(index);
                    Source::Model {
                        price: asset.price.unwrap_or(1.0),
                        drift: asset.drift,
                        volatility: asset.volatility,
                        jumps: (asset.source == "merton").then_some(Jumps {
                            intensity: asset.jump_intensity,
                            mean: asset.jump_mean,
                            std: asset.jump_std,
                        }),
                    }
                }
                "bootstrap" => {
                    let bars = bars_of(index, asset)?;
                    let block = asset.block.unwrap_or(BOOTSTRAP_BLOCK_DEFAULT) as usize;
                    let returns = bootstrap_returns(&bars, step_secs);
                    if returns.len() < block {
                        return Err(SimError::new(
                            key("block"),
                            format!(
                                "the file gives {} returns at {step_secs} s steps, fewer than one \
                                 block of {block}",
                                returns.len()
                            ),
                        ));
                    }
                    let price =
                        asset.price.unwrap_or_else(|| bars.first().map_or(1.0, |bar| bar.close));
                    Source::Bootstrap { price, returns: Arc::new(returns), block }
                }
                other => {
                    return Err(SimError::new(key("source"), format!("unknown source {other:?}")));
                }
            };
            sources.push(source);
        }
        let cholesky = match &spec.correlation {
            Some(matrix) => {
                let sub: Vec<Vec<f64>> = model_assets
                    .iter()
                    .map(|&row| model_assets.iter().map(|&column| matrix[row][column]).collect())
                    .collect();
                cholesky(&sub).ok_or_else(|| {
                    SimError::new("prices.correlation", "must be positive definite")
                })?
            }
            None => Vec::new(),
        };
        Ok(PriceModel {
            start,
            step_secs,
            steps,
            assets: assets.iter().map(|asset| asset.asset.clone()).collect(),
            sources,
            model_assets,
            cholesky,
        })
    }

    /// Unix time of step 0.
    #[must_use]
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Draws one path.
    #[must_use]
    pub fn generate(&self, rng: &mut ChaCha8Rng) -> PricePath {
        let points = self.steps + 1;
        let mut series: Vec<Vec<f64>> = vec![Vec::new(); self.sources.len()];
        let dt = self.step_secs as f64 / YEAR_SECS;
        // Model assets: correlated normal shocks, step by step.
        if !self.model_assets.is_empty() {
            let count = self.model_assets.len();
            let mut log_prices = Vec::with_capacity(count);
            let mut increments = Vec::with_capacity(count);
            for &index in &self.model_assets {
                let Source::Model { price, drift, volatility, jumps } = &self.sources[index] else {
                    continue;
                };
                let compensator = jumps.as_ref().map_or(0.0, |jumps| {
                    jumps.intensity * ((jumps.mean + 0.5 * jumps.std * jumps.std).exp() - 1.0)
                });
                increments.push((drift - 0.5 * volatility * volatility - compensator) * dt);
                log_prices.push(price.ln());
                series[index].reserve_exact(points);
                series[index].push(clamp_price(*price));
            }
            let mut independent = vec![0.0; count];
            for _ in 0..self.steps {
                for shock in &mut independent {
                    *shock = StandardNormal.sample(rng);
                }
                for (slot, &index) in self.model_assets.iter().enumerate() {
                    let Source::Model { volatility, jumps, .. } = &self.sources[index] else {
                        continue;
                    };
                    let shock = if self.cholesky.is_empty() {
                        independent[slot]
                    } else {
                        self.cholesky[slot].iter().zip(&independent).map(|(l, z)| l * z).sum()
                    };
                    let mut step = increments[slot] + volatility * dt.sqrt() * shock;
                    if let Some(jumps) = jumps {
                        step += jump_sum(jumps, dt, rng);
                    }
                    log_prices[slot] = clamp_log(log_prices[slot] + step);
                    series[index].push(log_prices[slot].exp());
                }
            }
        }
        for (index, source) in self.sources.iter().enumerate() {
            match source {
                Source::Fixed(values) => series[index] = values.as_ref().clone(),
                Source::Waypoints { points: waypoints, volatility } => {
                    series[index] = bridge(waypoints, *volatility, dt, self.steps, rng);
                }
                Source::Model { .. } => {}
                Source::Bootstrap { price, returns, block } => {
                    series[index] = bootstrap(*price, returns, *block, self.steps, rng);
                }
            }
        }
        PricePath {
            start: self.start,
            step_secs: self.step_secs,
            assets: self.assets.clone(),
            series,
        }
    }
}

/// Sum of the log jumps in one step: `N ~ Poisson(λ·dt)` jumps, their sum drawn at once as
/// `N(N·m, N·s²)`.
fn jump_sum(jumps: &Jumps, dt: f64, rng: &mut ChaCha8Rng) -> f64 {
    let lambda = jumps.intensity * dt;
    if lambda <= 0.0 {
        return 0.0;
    }
    let Ok(poisson) = Poisson::new(lambda) else { return 0.0 };
    let count: f64 = poisson.sample(rng);
    if count <= 0.0 {
        return 0.0;
    }
    let normal: f64 = StandardNormal.sample(rng);
    count * jumps.mean + jumps.std * count.sqrt() * normal
}

fn clamp_log(value: f64) -> f64 {
    value.clamp(PRICE_MIN.ln(), PRICE_MAX.ln())
}

fn clamp_price(value: f64) -> f64 {
    value.clamp(PRICE_MIN, PRICE_MAX)
}

/// Waypoints as (step, price): each time rounded to the nearest step; points beyond the run's
/// last step are dropped except the first of them (the bridge heads towards it).
fn waypoint_steps(
    points: &[(u64, f64)],
    step_secs: u64,
    steps: u32,
    location: &str,
) -> Result<Vec<(u64, f64)>, SimError> {
    let mut out: Vec<(u64, f64)> = Vec::new();
    for &(secs, price) in points {
        let step = secs / step_secs + u64::from(secs % step_secs >= step_secs.div_ceil(2));
        if let Some(&(last, _)) = out.last() {
            if step == last {
                return Err(SimError::new(
                    location.to_owned(),
                    format!(
                        "two points fall on step {step} at {step_secs} s steps; use a finer \
                         [run] step_secs or fewer points"
                    ),
                ));
            }
            if last >= u64::from(steps) {
                break;
            }
        }
        out.push((step, clamp_price(price)));
    }
    Ok(out)
}

/// A Brownian bridge in log price through the waypoints, sampled step by step: between points
/// `(a, x_a)` and `(b, x_b)`, `x_{k+1} ~ N(x_k + (x_b − x_k)/(b − k), σ²·dt·(b − k − 1)/(b − k))`;
/// at a waypoint's step the price is the waypoint's exactly.
fn bridge(
    points: &[(u64, f64)],
    volatility: f64,
    dt: f64,
    steps: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let mut series = Vec::with_capacity(steps + 1);
    let Some(&(first_step, first_price)) = points.first() else {
        series.resize(steps + 1, 1.0);
        return series;
    };
    let mut next = 0; // index of the next waypoint at or after the current step
    let mut log_price = first_price.ln();
    for k in 0..=steps as u64 {
        while next < points.len() && points[next].0 < k {
            next += 1;
        }
        if k <= first_step {
            series.push(first_price);
            continue;
        }
        let Some(&(target_step, target_price)) = points.get(next) else {
            // After the last waypoint: hold it.
            series.push(points.last().map_or(first_price, |point| point.1));
            continue;
        };
        if target_step == k {
            log_price = target_price.ln();
            series.push(target_price);
            continue;
        }
        // Step from k − 1 to k, towards the waypoint at target_step > k.
        let remaining = (target_step - (k - 1)) as f64;
        let target = target_price.ln();
        let mean = log_price + (target - log_price) / remaining;
        let variance = volatility * volatility * dt * (remaining - 1.0) / remaining;
        let normal: f64 = StandardNormal.sample(rng);
        log_price = clamp_log(mean + variance.max(0.0).sqrt() * normal);
        series.push(log_price.exp());
    }
    series
}

/// Log returns of a file sampled at `step_secs` over its whole span.
fn bootstrap_returns(bars: &[Bar], step_secs: u64) -> Vec<f64> {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else { return Vec::new() };
    let count = ((last.time - first.time) / step_secs.max(1)) as usize + 1;
    let closes = sample_closes(bars, first.time, step_secs, count);
    closes.windows(2).map(|pair| (pair[1] / pair[0]).ln()).collect()
}

/// A block bootstrap path: blocks of `block` consecutive returns from uniform starts.
fn bootstrap(
    price: f64,
    returns: &[f64],
    block: usize,
    steps: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let mut series = Vec::with_capacity(steps + 1);
    let mut log_price = clamp_log(price.ln());
    series.push(clamp_price(price));
    let block = block.max(1);
    let starts = returns.len().saturating_sub(block) + 1;
    while series.len() < steps + 1 {
        let start = rng.random_range(0..starts as u64) as usize;
        for &log_return in returns.iter().skip(start).take(block) {
            if series.len() > steps {
                break;
            }
            log_price = clamp_log(log_price + log_return);
            series.push(log_price.exp());
        }
    }
    series
}

/// Lower-triangular Cholesky factor of a symmetric matrix, `None` unless positive definite.
#[must_use]
pub fn cholesky(matrix: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = matrix.len();
    let mut factor = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = *matrix.get(i)?.get(j)?;
            sum -= factor[i][..j].iter().zip(&factor[j][..j]).map(|(a, b)| a * b).sum::<f64>();
            if i == j {
                if sum.is_nan() || sum <= CORRELATION_TOLERANCE {
                    return None;
                }
                factor[i][j] = sum.sqrt();
            } else {
                factor[i][j] = sum / factor[j][j];
            }
        }
    }
    Some(factor)
}

fn is_model(source: &str) -> bool {
    source == "gbm" || source == "merton"
}

/// Checks that need no file: sources, keys, ranges, correlation. `symbols` (when given) are the
/// venue's assets.
fn check_static(
    assets: &[AssetPriceSpec],
    correlation: Option<&[Vec<f64>]>,
    run: &RunSpec,
    symbols: Option<&[String]>,
) -> Result<(), SimError> {
    if run.step_secs == 0 {
        return Err(SimError::new("run.step_secs", "must be at least 1"));
    }
    if assets.len() > PRICED_ASSETS_MAX {
        return Err(SimError::new("prices.asset", format!("at most {PRICED_ASSETS_MAX} assets")));
    }
    for (index, asset) in assets.iter().enumerate() {
        check_asset(index, asset, assets, symbols)?;
    }
    if let Some(matrix) = correlation {
        check_correlation(matrix, assets)?;
    }
    Ok(())
}

fn check_asset(
    index: usize,
    asset: &AssetPriceSpec,
    assets: &[AssetPriceSpec],
    symbols: Option<&[String]>,
) -> Result<(), SimError> {
    let key = |name: &str| format!("prices.asset[{index}].{name}");
    let error = |name: &str, message: String| Err(SimError::new(key(name), message));
    if let Some(symbols) = symbols
        && !symbols.iter().any(|symbol| symbol == &asset.asset)
    {
        return error(
            "asset",
            format!("unknown asset {:?} (the venue lists {symbols:?})", asset.asset),
        );
    }
    if assets[..index].iter().any(|other| other.asset == asset.asset) {
        return error("asset", format!("{:?} has two price sources", asset.asset));
    }
    let source = asset.source.as_str();
    // Keys each source reads; any other key set is an error.
    let uses: &[&str] = match source {
        "constant" => &["price"],
        "csv" => &["csv"],
        "waypoints" => &["points", "bridge_volatility"],
        "gbm" => &["price", "drift", "volatility"],
        "merton" => &["price", "drift", "volatility", "jump_intensity", "jump_mean", "jump_std"],
        "bootstrap" => &["csv", "block", "price"],
        other => {
            return error(
                "source",
                format!(
                    "unknown source {other:?}: expected constant, csv, waypoints, gbm, merton or bootstrap"
                ),
            );
        }
    };
    let set = [
        ("price", asset.price.is_some()),
        ("csv", asset.csv.is_some()),
        ("points", !asset.points.is_empty()),
        ("bridge_volatility", asset.bridge_volatility.is_some()),
        ("drift", asset.drift != 0.0),
        ("volatility", asset.volatility != 0.0),
        ("jump_intensity", asset.jump_intensity != 0.0),
        ("jump_mean", asset.jump_mean != 0.0),
        ("jump_std", asset.jump_std != 0.0),
        ("block", asset.block.is_some()),
    ];
    for (name, present) in set {
        if present && !uses.contains(&name) {
            return error(name, format!("is not used by source {source:?}"));
        }
    }
    let positive_price = |value: f64| value.is_finite() && value > 0.0 && value <= PRICE_MAX;
    match source {
        "constant" | "gbm" | "merton" => match asset.price {
            Some(price) if positive_price(price) => {}
            Some(price) => {
                return error(
                    "price",
                    format!("must be above 0 and at most {PRICE_MAX}, got {price}"),
                );
            }
            None => return error("price", format!("is required by source {source:?}")),
        },
        "bootstrap" => {
            if let Some(price) = asset.price
                && !positive_price(price)
            {
                return error(
                    "price",
                    format!("must be above 0 and at most {PRICE_MAX}, got {price}"),
                );
            }
        }
        _ => {}
    }
    if (source == "csv" || source == "bootstrap") && asset.csv.as_deref().is_none_or(str::is_empty)
    {
        return error("csv", format!("a file is required by source {source:?}"));
    }
    if source == "waypoints" {
        if asset.points.is_empty() {
            return error("points", "at least one (seconds, price) point is required".to_owned());
        }
        if asset.points.len() > WAYPOINTS_MAX {
            return error("points", format!("at most {WAYPOINTS_MAX} points"));
        }
        for (position, &(secs, price)) in asset.points.iter().enumerate() {
            if !positive_price(price) {
                return error(
                    "points",
                    format!(
                        "point {position}: price must be above 0 and at most {PRICE_MAX}, got {price}"
                    ),
                );
            }
            if position > 0 && secs <= asset.points[position - 1].0 {
                return error(
                    "points",
                    format!("point {position}: times must be strictly ascending"),
                );
            }
        }
        if let Some(volatility) = asset.bridge_volatility
            && !(volatility.is_finite() && (0.0..=VOLATILITY_MAX).contains(&volatility))
        {
            return error(
                "bridge_volatility",
                format!("must be between 0 and {VOLATILITY_MAX}, got {volatility}"),
            );
        }
    }
    if is_model(source) {
        if !(asset.drift.is_finite() && asset.drift.abs() <= DRIFT_MAX) {
            return error(
                "drift",
                format!("must be between -{DRIFT_MAX} and {DRIFT_MAX}, got {}", asset.drift),
            );
        }
        if !(asset.volatility.is_finite() && (0.0..=VOLATILITY_MAX).contains(&asset.volatility)) {
            return error(
                "volatility",
                format!("must be between 0 and {VOLATILITY_MAX}, got {}", asset.volatility),
            );
        }
    }
    if source == "merton" {
        if !(asset.jump_intensity.is_finite()
            && (0.0..=JUMP_INTENSITY_MAX).contains(&asset.jump_intensity))
        {
            return error(
                "jump_intensity",
                format!("must be between 0 and {JUMP_INTENSITY_MAX}, got {}", asset.jump_intensity),
            );
        }
        if !(asset.jump_mean.is_finite() && asset.jump_mean.abs() <= JUMP_SIZE_MAX) {
            return error(
                "jump_mean",
                format!(
                    "must be between -{JUMP_SIZE_MAX} and {JUMP_SIZE_MAX}, got {}",
                    asset.jump_mean
                ),
            );
        }
        if !(asset.jump_std.is_finite() && (0.0..=JUMP_SIZE_MAX).contains(&asset.jump_std)) {
            return error(
                "jump_std",
                format!("must be between 0 and {JUMP_SIZE_MAX}, got {}", asset.jump_std),
            );
        }
    }
    if let Some(block) = asset.block
        && block == 0
    {
        return error("block", "must be at least 1".to_owned());
    }
    Ok(())
}

fn check_correlation(matrix: &[Vec<f64>], assets: &[AssetPriceSpec]) -> Result<(), SimError> {
    let location = "prices.correlation";
    let n = assets.len();
    if matrix.len() != n || matrix.iter().any(|row| row.len() != n) {
        return Err(SimError::new(
            location,
            format!("must be a {n}×{n} matrix, one row and column per [[prices.asset]]"),
        ));
    }
    for i in 0..n {
        for j in 0..n {
            let value = matrix[i][j];
            if !(value.is_finite() && (-1.0..=1.0).contains(&value)) {
                return Err(SimError::new(
                    location,
                    format!("[{i}][{j}] must be between -1 and 1, got {value}"),
                ));
            }
            if i == j && (value - 1.0).abs() > CORRELATION_TOLERANCE {
                return Err(SimError::new(
                    location,
                    format!("[{i}][{i}] must be 1 (unit diagonal), got {value}"),
                ));
            }
            if (value - matrix[j][i]).abs() > CORRELATION_TOLERANCE {
                return Err(SimError::new(
                    location,
                    format!(
                        "must be symmetric: [{i}][{j}] = {value} but [{j}][{i}] = {}",
                        matrix[j][i]
                    ),
                ));
            }
            if i != j
                && value != 0.0
                && !(is_model(&assets[i].source) && is_model(&assets[j].source))
            {
                return Err(SimError::new(
                    location,
                    format!(
                        "[{i}][{j}] must be 0: correlation applies between gbm and merton sources only"
                    ),
                ));
            }
        }
    }
    if cholesky(matrix).is_none() {
        return Err(SimError::new(location, "must be positive definite"));
    }
    Ok(())
}

/// Validates the price sources: known assets (`symbols`, the venue's), one source each, the keys
/// each source uses and their ranges, readable files that cover the run, a symmetric
/// unit-diagonal positive-definite correlation matrix.
///
/// # Errors
/// The first problem, located as `prices.asset[i].<key>` or `prices.correlation` (CSV content
/// errors name the file and line).
pub fn validate(
    spec: &PricesSpec,
    run: &RunSpec,
    base_dir: &Path,
    symbols: &[String],
) -> Result<(), SimError> {
    check_static(&spec.asset, spec.correlation.as_deref(), run, Some(symbols))?;
    PriceModel::new(spec, run, base_dir, None).map(|_| ())
}

/// Generates one path of prices. `csv_override` replaces the source of the first `csv` or
/// `waypoints` asset with a `csv` source reading that file (`--prices FILE`, a path used as is).
///
/// Reads the files on every call: to draw many paths, build a [`PriceModel`] once.
///
/// # Errors
/// Bad sources, unreadable files, files that do not cover the run.
pub fn generate(
    spec: &PricesSpec,
    run: &RunSpec,
    base_dir: &Path,
    csv_override: Option<&Path>,
    rng: &mut ChaCha8Rng,
) -> Result<PricePath, SimError> {
    Ok(PriceModel::new(spec, run, base_dir, csv_override)?.generate(rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_timestamp("2020-03-11T00:00:00Z"), Ok(1_583_884_800));
        assert_eq!(parse_timestamp("2020-03-11 00:00:00"), Ok(1_583_884_800));
        assert_eq!(parse_timestamp("2020-03-11"), Ok(1_583_884_800));
        assert_eq!(parse_timestamp("2020-03-11T01:02:03.250Z"), Ok(1_583_888_523));
        assert_eq!(parse_timestamp("2020-03-11T00:00:00+00:00"), Ok(1_583_884_800));
        assert_eq!(parse_timestamp("2024-02-29T12:00:00Z"), Ok(1_709_208_000));
        assert_eq!(parse_timestamp("1583884800"), Ok(1_583_884_800));
        assert_eq!(parse_timestamp("1583884800000"), Ok(1_583_884_800));
        assert_eq!(parse_timestamp("1583884800000000"), Ok(1_583_884_800));
        assert_eq!(parse_timestamp("2020-03-11T00:00"), Ok(1_583_884_800));
        for bad in [
            "",
            "2020-02-30",
            "2023-02-29T00:00:00Z",
            "2020-03-11T24:00:00Z",
            "2020-03-11T00:00:00+01:00",
            "yesterday",
            "-5",
            "1969-12-31",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_order_mark_and_blank_lines() {
        let text = "\u{feff}timestamp,open,high,low,close\n2020-03-11,1,2,0.5,1.5\n\n";
        let bars = parse_bars(text.as_bytes(), "f.csv").expect("parse");
        assert_eq!(
            bars,
            vec![Bar { time: 1_583_884_800, open: 1.0, high: 2.0, low: 0.5, close: 1.5 }]
        );
        assert!(parse_bars(b"timestamp,open,high,low,close\n", "f.csv").is_err());
    }

    #[test]
    fn cholesky_factors_and_refuses() {
        let factor = cholesky(&[vec![1.0, 0.6], vec![0.6, 1.0]]).expect("PD");
        assert!((factor[0][0] - 1.0).abs() < 1e-15);
        assert!((factor[1][0] - 0.6).abs() < 1e-15);
        assert!((factor[1][1] - 0.8).abs() < 1e-15);
        assert!(cholesky(&[vec![1.0, 1.0], vec![1.0, 1.0]]).is_none());
        assert!(cholesky(&[vec![f64::NAN]]).is_none());
        assert_eq!(cholesky(&[]), Some(Vec::new()));
    }

    #[test]
    fn waypoints_round_to_steps_and_stop_after_the_run() {
        let points = [(0, 1.0), (1_800, 2.0), (5_400, 3.0), (36_000, 4.0), (72_000, 5.0)];
        let steps = waypoint_steps(&points, 3_600, 5, "x").expect("steps");
        assert_eq!(steps, vec![(0, 1.0), (1, 2.0), (2, 3.0), (10, 4.0)]);
        let error =
            waypoint_steps(&[(0, 1.0), (1_799, 2.0)], 3_600, 5, "x").expect_err("same step");
        assert_eq!(error.location, "x");
    }

    #[test]
    fn bridge_holds_before_the_first_point() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let series = bridge(&[(3, 10.0), (6, 20.0)], 0.0, 1.0 / 365.0, 8, &mut rng);
        assert_eq!(&series[..4], &[10.0; 4]);
        assert_eq!(series[6], 20.0);
        assert_eq!(&series[6..], &[20.0; 3]);
        assert!((series[4] - 10.0 * 2_f64.powf(1.0 / 3.0)).abs() < 1e-9);
    }

    #[test]
    fn sampling_takes_the_last_close_at_or_before() {
        let bar = |time, close| Bar { time, open: close, high: close, low: close, close };
        let bars = [bar(100, 1.0), bar(160, 2.0), bar(220, 3.0)];
        assert_eq!(sample_closes(&bars, 100, 30, 6), vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
        assert_eq!(bar_interval(&bars), 60);
        assert!(check_coverage(&bars, 100, 279, "x").is_ok());
        assert!(check_coverage(&bars, 100, 280, "x").is_err());
        assert!(check_coverage(&bars, 99, 120, "x").is_err());
    }
}
