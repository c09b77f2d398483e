//! Layer sizing: the smallest layer size keeping the probability of loss beyond it under a target,
//! by bisection over Monte Carlo with common random numbers, stopped by the statistics rather than
//! by the size.
//!
//! The probability of loss beyond a layer on a run is the share of paths whose
//! [`PathMetrics::loss_beyond`](crate::metrics::PathMetrics::loss_beyond) of that layer is
//! positive. Every candidate size is run with the same seed (the same price paths and random
//! choices: common random numbers), with the layer's initial funding replaced by the candidate
//! ([`RunOptions::funding_overrides`]). Each candidate's probability comes with a Wilson score
//! interval at the chosen confidence ([`wilson`]; 95% by default), which classifies it:
//! - **meets** the target when the whole interval is at or below it (`upper ≤ target`);
//! - **fails** when the whole interval is above it (`lower > target`);
//! - **unresolved** when the interval contains the target: these paths cannot tell.
//!
//! The search:
//! 1. runs `lower`; if it meets the target, the answer is `lower`;
//! 2. finds an upper bound: `upper` when given (an error if it fails), else `lower` + the largest
//!    loss beyond the layer seen at `lower` (in the layer's asset at its step-0 price), doubling the
//!    distance until a candidate meets the target or no path loses beyond it (a larger size cannot
//!    do better), at most [`UPPER_DOUBLINGS_MAX`] times;
//! 3. bisects between the largest size that does not meet the target and the smallest that does
//!    (a candidate with no path beyond the layer counts as meeting it when nothing can), at most
//!    `iterations` times, and **stops when the two differ by one path beyond the layer**: with
//!    common random numbers every size between them has the exceedances of one of the two, so its
//!    interval, and the verdict, is already known. Narrowing the size further would follow a
//!    single path, not the probability. The last size that does not meet the target is the
//!    result's `boundary` (unresolved when its interval contains the target).
//!
//! The answer is the smallest size that meets the target (`resolved`), or, when none does (too few
//! paths), the smallest with no path beyond the layer (`resolved` false). The result says how many
//! paths the target needs: [`paths_needed`] for the answer's probability and for the boundary's,
//! and [`paths_min`], the fewest with which a run where no path loses beyond the layer can show the
//! target is met at all.
//!
//! With `confidence` set to `None` the search classifies by the point estimate alone (as for a
//! one-path historical replay, where the probability is 0 or 1): then it bisects all `iterations`
//! and the size is found to (upper − lower) / 2^iterations.

use crate::SimError;
use crate::runner::{RunOptions, RunResult, load_venue, run};
use crate::scenario::Scenario;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};
use std::path::PathBuf;

/// Most doublings of the search interval when no upper bound is given.
pub const UPPER_DOUBLINGS_MAX: u32 = 60;
/// Most bisection iterations.
pub const ITERATIONS_MAX: u32 = 64;
/// The default confidence of the intervals.
pub const CONFIDENCE_DEFAULT: f64 = 0.95;
/// Largest path count [`paths_needed`] reports (beyond it: `None`).
pub const PATHS_NEEDED_MAX: u64 = 1_000_000_000_000;

/// What to size and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SizingOptions {
    /// Layer: `fund`, `offset`, `stakers` or `stability` for the venue's first layer of that kind,
    /// or a full layer text (`fund:insurance`).
    pub layer: String,
    /// Largest acceptable probability of loss beyond the layer (0 ≤ target < 1).
    pub target: f64,
    /// Confidence of the Wilson intervals (0 < c < 1), or `None` to classify candidates by their
    /// point estimate alone.
    pub confidence: Option<f64>,
    /// Paths per candidate (default: the scenario's).
    pub paths: Option<u32>,
    /// Smallest size searched (in the layer's asset).
    pub lower: f64,
    /// Largest size searched (default: found from the losses at `lower`).
    pub upper: Option<f64>,
    /// Most bisection iterations.
    pub iterations: u32,
    /// Seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// A full-resolution price CSV (`--prices FILE`), as for a run.
    pub prices_csv: Option<PathBuf>,
}

impl Default for SizingOptions {
    fn default() -> Self {
        SizingOptions {
            layer: "fund".to_owned(),
            target: 0.01,
            confidence: Some(CONFIDENCE_DEFAULT),
            paths: None,
            lower: 0.0,
            upper: None,
            iterations: 20,
            seed: None,
            threads: None,
            prices_csv: None,
        }
    }
}

/// How a candidate's probability compares with the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval is at or below the target (or, without intervals, the estimate is).
    Meets,
    /// The interval is above the target (or, without intervals, the estimate is).
    Fails,
    /// The interval contains the target.
    Unresolved,
}

/// One candidate size and what its run gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingPoint {
    /// The size (in the layer's asset).
    pub size: f64,
    /// Share of paths with a loss beyond the layer.
    pub probability: f64,
    /// Paths with a loss beyond the layer.
    pub exceedances: u32,
    /// Paths run.
    pub paths: u32,
    /// Lower end of the Wilson interval.
    pub lower: f64,
    /// Upper end of the Wilson interval.
    pub upper: f64,
    /// How it compares with the target.
    pub verdict: Verdict,
}

/// The outcome of a sizing search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingResult {
    /// The layer sized (full text, such as `fund:insurance`).
    pub layer: String,
    /// The target probability.
    pub target: f64,
    /// Confidence of the intervals (`None`: point estimates).
    pub confidence: Option<f64>,
    /// Paths per candidate.
    pub paths: u32,
    /// The answer (in the layer's asset): the smallest size found that meets the target, or when
    /// none does, the smallest with no loss beyond the layer on any path.
    pub size: f64,
    /// The probability of loss beyond the layer at `size`.
    pub probability: f64,
    /// Its interval (lower, upper).
    pub interval: (f64, f64),
    /// Whether `size` meets the target with the stated confidence.
    pub resolved: bool,
    /// Paths with which `size`'s estimate would meet the target ([`paths_needed`]).
    pub paths_needed: Option<u64>,
    /// The fewest paths with which a run without any loss beyond the layer meets the target
    /// ([`paths_min`]).
    pub paths_min: u64,
    /// The largest size tried that does not meet the target (none when `lower` does).
    pub boundary: Option<SizingPoint>,
    /// Paths with which the boundary's estimate would be resolved either way.
    pub boundary_paths_needed: Option<u64>,
    /// Every candidate evaluated, by increasing size.
    pub curve: Vec<SizingPoint>,
}

impl SizingResult {
    /// What the search found, in words: the answer, its interval, whether the interval resolves
    /// the target, where the search stopped and how many paths the target needs.
    #[must_use]
    pub fn describe(&self) -> String {
        let percent = |p: f64| format!("{:.2}%", p * 100.0);
        let level = self.confidence.map_or_else(
            || "point estimates, no interval".to_owned(),
            |confidence| format!("{}% Wilson interval", confidence * 100.0),
        );
        let mut text = format!(
            "Smallest size of {} keeping the probability of a loss beyond it at or under {}: {} \
             (P = {}, {} {}–{}, {} paths, {} sizes tried with the same random numbers). ",
            self.layer,
            percent(self.target),
            self.size,
            percent(self.probability),
            level,
            percent(self.interval.0),
            percent(self.interval.1),
            self.paths,
            self.curve.len()
        );
        if self.resolved {
            text.push_str("The interval is below the target: resolved. ");
        } else {
            text.push_str(&format!(
                "Not resolved: with {} paths the interval cannot fall below the target even with \
                 no path beyond the layer; the target needs at least {} paths. ",
                self.paths, self.paths_min
            ));
        }
        if let Some(boundary) = &self.boundary {
            let verdict = if boundary.verdict == Verdict::Unresolved {
                "contains the target: these paths cannot tell it from the target"
            } else {
                "is above the target"
            };
            text.push_str(&format!(
                "The largest size tried that does not meet the target is {} (P = {}, interval \
                 {}–{}, which {verdict})",
                boundary.size,
                percent(boundary.probability),
                percent(boundary.lower),
                percent(boundary.upper)
            ));
            match self.boundary_paths_needed {
                Some(needed) if boundary.verdict == Verdict::Unresolved => text
                    .push_str(&format!("; resolving it either way needs about {needed} paths. ")),
                _ => text.push_str(". "),
            }
        }
        text.trim_end().to_owned()
    }
}

/// The normal quantile `z` of a two-sided interval at `confidence`.
#[must_use]
pub fn z_of(confidence: f64) -> f64 {
    Normal::standard().inverse_cdf(0.5 + confidence / 2.0)
}

/// Wilson score interval of `k` successes in `n` trials at quantile `z`:
/// `(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`, clamped to [0, 1]; (0, 1) for no trials.
#[must_use]
pub fn wilson(k: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = (k as f64 / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    let lower = if k == 0 { 0.0 } else { (centre - half).max(0.0) };
    let upper = if k as f64 >= n { 1.0 } else { (centre + half).min(1.0) };
    (lower, upper)
}

/// The fewest paths with which an estimate `p` resolves `target` at quantile `z`: its Wilson
/// interval (with `round(p·n)` exceedances) lies at or below the target when `p < target`, above
/// it when `p > target`. `None` when `p == target` or beyond [`PATHS_NEEDED_MAX`].
#[must_use]
pub fn paths_needed(p: f64, target: f64, z: f64) -> Option<u64> {
    if !(p.is_finite() && target.is_finite()) || p == target {
        return None;
    }
    let resolves = |n: u64| {
        let k = (p * n as f64).round() as u64;
        let (lower, upper) = wilson(k.min(n), n, z);
        if p < target { upper <= target } else { lower > target }
    };
    let mut high = 1_u64;
    while !resolves(high) {
        high = high.checked_mul(2)?;
        if high > PATHS_NEEDED_MAX.saturating_mul(2) {
            return None;
        }
    }
    let mut low = high / 2;
    // Not monotone in n at every n (k is rounded), but close: the first n found by bisection.
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if resolves(middle) { high = middle } else { low = middle }
    }
    (high <= PATHS_NEEDED_MAX).then_some(high)
}

/// The fewest paths with which no exceedance at all meets `target` at quantile `z`:
/// `⌈z²(1 − target)/target⌉` (the Wilson upper bound of 0 in n is `z²/(n + z²)`).
#[must_use]
pub fn paths_min(target: f64, z: f64) -> u64 {
    if target <= 0.0 {
        return u64::MAX;
    }
    let n = (z * z * (1.0 - target) / target - 1e-9).ceil();
    if n.is_finite() && n >= 1.0 { n as u64 } else { 1 }
}

/// Resolves `fund`, `offset`, `stakers`, `stability` to the venue's first layer of that kind, and
/// checks that the layer can be funded and appears in a waterfall.
///
/// # Errors
/// Unknown or unfundable layer, or a layer no waterfall uses.
pub fn resolve_layer(scenario: &Scenario, layer: &str) -> Result<String, SimError> {
    let venue = load_venue(scenario)?;
    let file = scenario.file.display().to_string();
    let first = |kind: &str, names: Vec<&String>| {
        names.first().map(|name| format!("{kind}:{name}")).ok_or_else(|| {
            SimError::new(file.clone(), format!("--layer {kind}: the venue has no {kind} layer"))
        })
    };
    let resolved = match layer {
        "fund" => first("fund", venue.funds.iter().map(|x| &x.name).collect())?,
        "offset" => first("offset", venue.offsets.iter().map(|x| &x.name).collect())?,
        "stakers" => first("stakers", venue.staker_pools.iter().map(|x| &x.name).collect())?,
        "stability" => first("stability", venue.stability_pools.iter().map(|x| &x.name).collect())?,
        other => other.to_owned(),
    };
    if crate::runner::layer_asset(&venue, &resolved).is_none() {
        return Err(SimError::new(
            file,
            format!(
                "--layer {layer}: {resolved:?} is not a fund:, offset:, stakers: or stability: layer of the venue"
            ),
        ));
    }
    if !venue.waterfalls.iter().any(|waterfall| waterfall.layers.contains(&resolved)) {
        return Err(SimError::new(
            file,
            format!("--layer {layer}: no waterfall of the venue uses {resolved}"),
        ));
    }
    Ok(resolved)
}

fn check_options(scenario: &Scenario, options: &SizingOptions) -> Result<(), SimError> {
    let file = scenario.file.display().to_string();
    let fail = |message: String| Err(SimError::new(file.clone(), message));
    if !(0.0..1.0).contains(&options.target) {
        return fail(format!("--target must be in [0, 1), got {}", options.target));
    }
    if let Some(confidence) = options.confidence
        && !(confidence > 0.0 && confidence < 1.0)
    {
        return fail(format!("--confidence must be between 0 and 1, got {confidence}"));
    }
    if !(options.lower.is_finite() && options.lower >= 0.0) {
        return fail(format!("--lower must be zero or more, got {}", options.lower));
    }
    if let Some(upper) = options.upper
        && !(upper.is_finite() && upper > options.lower)
    {
        return fail(format!("--upper must be above --lower, got {upper}"));
    }
    if options.iterations > ITERATIONS_MAX {
        return fail(format!(
            "iterations must be at most {ITERATIONS_MAX}, got {}",
            options.iterations
        ));
    }
    Ok(())
}

/// Runs candidates with common random numbers and classifies them.
struct Search<'a> {
    scenario: &'a Scenario,
    options: &'a SizingOptions,
    layer: String,
    z: Option<f64>,
    curve: Vec<SizingPoint>,
}

impl Search<'_> {
    fn evaluate(&mut self, size: f64, trace: bool) -> Result<(SizingPoint, RunResult), SimError> {
        let options = self.options;
        let run_options = RunOptions {
            paths: options.paths,
            seed: Some(options.seed.unwrap_or(self.scenario.run.seed)),
            threads: options.threads,
            prices_csv: options.prices_csv.clone(),
            trace_paths: u32::from(trace),
            on_path_done: None,
            funding_overrides: vec![(self.layer.clone(), size)],
        };
        let result = run(self.scenario, &run_options)?;
        let paths = u32::try_from(result.paths.len()).unwrap_or(u32::MAX);
        let beyond = |path: &crate::metrics::PathMetrics| {
            path.loss_beyond.get(&self.layer).is_some_and(|loss| *loss > 0.0)
        };
        let exceedances = u32::try_from(result.paths.iter().filter(|path| beyond(path)).count())
            .unwrap_or(u32::MAX);
        let probability = f64::from(exceedances) / f64::from(paths.max(1));
        let (lower, upper) = match self.z {
            Some(z) => wilson(u64::from(exceedances), u64::from(paths), z),
            None => (probability, probability),
        };
        let target = options.target;
        let verdict = if upper <= target {
            Verdict::Meets
        } else if lower > target {
            Verdict::Fails
        } else {
            Verdict::Unresolved
        };
        let point = SizingPoint { size, probability, exceedances, paths, lower, upper, verdict };
        self.curve.push(point.clone());
        Ok((point, result))
    }

    /// The first candidate above `lower` that meets the target, or that no path loses beyond.
    fn upper_bound(&mut self, lower_run: &RunResult) -> Result<SizingPoint, SimError> {
        let (options, layer) = (self.options, self.layer.clone());
        let file = self.scenario.file.display().to_string();
        if let Some(upper) = options.upper {
            let (point, _) = self.evaluate(upper, false)?;
            if point.verdict == Verdict::Fails
                || (point.verdict == Verdict::Unresolved && point.exceedances > 0)
            {
                return Err(SimError::new(
                    file,
                    format!(
                        "even {upper} in {layer} leaves a probability of loss beyond it of {} \
                         (interval {}–{}), not below the target {}",
                        point.probability, point.lower, point.upper, options.target
                    ),
                ));
            }
            return Ok(point);
        }
        let largest = lower_run
            .paths
            .iter()
            .map(|path| path.loss_beyond.get(&layer).copied().unwrap_or(0.0))
            .fold(0.0_f64, f64::max);
        let price = layer_price(self.scenario, &layer, lower_run).max(1e-12);
        let mut span = (largest / price * 1.000_001).max(1e-6);
        for _ in 0..=UPPER_DOUBLINGS_MAX {
            let (point, _) = self.evaluate(options.lower + span, false)?;
            if point.verdict == Verdict::Meets || point.exceedances == 0 {
                return Ok(point);
            }
            span *= 2.0;
        }
        Err(SimError::new(
            file,
            format!(
                "no size of {layer} up to {} brings the probability of loss beyond it to {}",
                options.lower + span,
                options.target
            ),
        ))
    }
}

/// Sizes a layer (see the module documentation).
///
/// # Errors
/// A bad layer or option, a scenario that cannot run, or no size within the bounds meeting the
/// target.
pub fn size(scenario: &Scenario, options: &SizingOptions) -> Result<SizingResult, SimError> {
    check_options(scenario, options)?;
    let layer = resolve_layer(scenario, &options.layer)?;
    let z = options.confidence.map(z_of);
    let mut search = Search { scenario, options, layer, z, curve: Vec::new() };
    let (at_lower, lower_run) = search.evaluate(options.lower, true)?;
    let good = |point: &SizingPoint| point.verdict == Verdict::Meets || point.exceedances == 0;
    if good(&at_lower) {
        return Ok(finish(search, at_lower, None));
    }
    let mut high = search.upper_bound(&lower_run)?;
    let mut low = at_lower;
    for _ in 0..options.iterations {
        // With intervals: every size between the bounds has the exceedances of one of them, so
        // its verdict is known; bisecting further would only narrow the size, not the answer.
        if options.confidence.is_some() && low.exceedances <= high.exceedances.saturating_add(1) {
            break;
        }
        let middle = low.size + (high.size - low.size) / 2.0;
        if !(middle > low.size && middle < high.size) {
            break;
        }
        let (point, _) = search.evaluate(middle, false)?;
        if good(&point) { high = point } else { low = point }
    }
    let boundary = Some(low);
    Ok(finish(search, high, boundary))
}

fn finish(search: Search<'_>, high: SizingPoint, boundary: Option<SizingPoint>) -> SizingResult {
    let target = search.options.target;
    let z = search.z.unwrap_or_else(|| z_of(CONFIDENCE_DEFAULT));
    let mut curve = search.curve;
    curve.sort_by(|a, b| a.size.total_cmp(&b.size));
    curve.dedup_by(|a, b| a.size.total_cmp(&b.size).is_eq());
    SizingResult {
        layer: search.layer,
        target,
        confidence: search.options.confidence,
        paths: high.paths,
        size: high.size,
        probability: high.probability,
        interval: (high.lower, high.upper),
        resolved: high.verdict == Verdict::Meets,
        paths_needed: paths_needed(high.probability, target, z),
        paths_min: paths_min(target, z),
        boundary_paths_needed: boundary
            .as_ref()
            .and_then(|point| paths_needed(point.probability, target, z)),
        boundary,
        curve,
    }
}

/// Step-0 price of a layer's asset, from the traced path of a run (1 when unknown).
fn layer_price(scenario: &Scenario, layer: &str, result: &RunResult) -> f64 {
    let Ok(venue) = load_venue(scenario) else { return 1.0 };
    let Some(symbol) = crate::runner::layer_asset(&venue, layer) else { return 1.0 };
    result
        .traces
        .first()
        .and_then(|trace| trace.prices.get(symbol))
        .and_then(|series| series.first())
        .copied()
        .unwrap_or(1.0)
}
