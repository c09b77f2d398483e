//! Layer sizing: the smallest layer size keeping the probability of loss beyond it under a target,
//! by bisection over Monte Carlo with common random numbers.
//!
//! The probability of loss beyond a layer on a run is the share of paths whose
//! [`PathMetrics::loss_beyond`](crate::metrics::PathMetrics::loss_beyond) of that layer is
//! positive: some deficit of a market whose waterfall has the layer was not covered by the layer
//! and the layers before it. Every candidate size is run with the same seed (so the same price
//! paths and the same random choices: common random numbers), with the layer's initial funding
//! replaced by the candidate ([`RunOptions::funding_overrides`]). The search:
//! 1. runs `lower`; if its probability is at most the target, the answer is `lower`;
//! 2. finds an upper bound: `upper` when given (an error if its probability is above the target),
//!    else `lower` + the largest loss beyond the layer seen at `lower` (converted to the layer's
//!    asset at its step-0 price), doubling the distance from `lower` until the probability is at
//!    most the target (at most [`UPPER_DOUBLINGS_MAX`] times);
//! 3. bisects `iterations` times, keeping a bound above the target and one at or below it.
//!
//! The result is the bound at or below the target, within (upper − lower) / 2^iterations of the
//! smallest such size (if the probability does not decrease with the size, within that of *a*
//! size where it crosses the target). Every candidate run and its probability is in the curve.

use crate::SimError;
use crate::runner::{RunOptions, RunResult, load_venue, run};
use crate::scenario::Scenario;
use serde::Serialize;
use std::path::PathBuf;

/// Most doublings of the search interval when no upper bound is given.
pub const UPPER_DOUBLINGS_MAX: u32 = 60;
/// Most bisection iterations.
pub const ITERATIONS_MAX: u32 = 64;

/// What to size and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SizingOptions {
    /// Layer: `fund`, `offset`, `stakers` or `stability` for the venue's first layer of that kind,
    /// or a full layer text (`fund:insurance`).
    pub layer: String,
    /// Largest acceptable probability of loss beyond the layer (0 ≤ target < 1).
    pub target: f64,
    /// Paths per candidate (default: the scenario's).
    pub paths: Option<u32>,
    /// Smallest size searched (in the layer's asset).
    pub lower: f64,
    /// Largest size searched (default: found from the losses at `lower`).
    pub upper: Option<f64>,
    /// Bisection iterations.
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

/// The outcome of a sizing search.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SizingResult {
    /// The layer sized (full text, such as `fund:insurance`).
    pub layer: String,
    /// The target probability.
    pub target: f64,
    /// The smallest size found whose probability of loss beyond the layer is at most the target
    /// (in the layer's asset).
    pub size: f64,
    /// The probability of loss beyond the layer at `size`.
    pub probability: f64,
    /// Every (size, probability) evaluated, by increasing size.
    pub curve: Vec<(f64, f64)>,
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

/// Sizes a layer (see the module documentation).
///
/// # Errors
/// A bad layer or option, a scenario that cannot run, or no size within the bounds meeting the
/// target.
pub fn size(scenario: &Scenario, options: &SizingOptions) -> Result<SizingResult, SimError> {
    let file = scenario.file.display().to_string();
    let layer = resolve_layer(scenario, &options.layer)?;
    if !(0.0..1.0).contains(&options.target) {
        return Err(SimError::new(
            file,
            format!("--target must be in [0, 1), got {}", options.target),
        ));
    }
    if !(options.lower.is_finite() && options.lower >= 0.0) {
        return Err(SimError::new(
            file,
            format!("--lower must be zero or more, got {}", options.lower),
        ));
    }
    if let Some(upper) = options.upper
        && !(upper.is_finite() && upper > options.lower)
    {
        return Err(SimError::new(file, format!("--upper must be above --lower, got {upper}")));
    }
    if options.iterations > ITERATIONS_MAX {
        return Err(SimError::new(
            file,
            format!("iterations must be at most {ITERATIONS_MAX}, got {}", options.iterations),
        ));
    }
    let mut curve: Vec<(f64, f64)> = Vec::new();
    let mut evaluate = |size: f64, trace: bool| -> Result<(f64, RunResult), SimError> {
        let run_options = RunOptions {
            paths: options.paths,
            seed: Some(options.seed.unwrap_or(scenario.run.seed)),
            threads: options.threads,
            prices_csv: options.prices_csv.clone(),
            trace_paths: u32::from(trace),
            on_path_done: None,
            funding_overrides: vec![(layer.clone(), size)],
        };
        let result = run(scenario, &run_options)?;
        let probability =
            result.summary.loss_beyond_probability.get(&layer).copied().unwrap_or(0.0);
        curve.push((size, probability));
        Ok((probability, result))
    };
    let finish = |size: f64, probability: f64, mut curve: Vec<(f64, f64)>| {
        curve.sort_by(|a, b| a.0.total_cmp(&b.0));
        curve.dedup_by(|a, b| a.0.total_cmp(&b.0).is_eq());
        SizingResult { layer: layer.clone(), target: options.target, size, probability, curve }
    };
    let (at_lower, lower_run) = evaluate(options.lower, true)?;
    if at_lower <= options.target {
        return Ok(finish(options.lower, at_lower, curve));
    }
    let (mut high, mut high_probability) = match options.upper {
        Some(upper) => {
            let (probability, _) = evaluate(upper, false)?;
            if probability > options.target {
                return Err(SimError::new(
                    file,
                    format!(
                        "even {upper} in {layer} leaves a probability of loss beyond it of \
                         {probability}, above the target {}",
                        options.target
                    ),
                ));
            }
            (upper, probability)
        }
        None => {
            let largest = lower_run
                .paths
                .iter()
                .map(|path| path.loss_beyond.get(&layer).copied().unwrap_or(0.0))
                .fold(0.0_f64, f64::max);
            let price = layer_price(scenario, &layer, &lower_run).max(1e-12);
            let mut span = (largest / price * 1.000_001).max(1e-6);
            let mut found = None;
            for _ in 0..=UPPER_DOUBLINGS_MAX {
                let candidate = options.lower + span;
                let (probability, _) = evaluate(candidate, false)?;
                if probability <= options.target {
                    found = Some((candidate, probability));
                    break;
                }
                span *= 2.0;
            }
            found.ok_or_else(|| {
                SimError::new(
                    file.clone(),
                    format!(
                        "no size of {layer} up to {} brings the probability of loss beyond it to \
                         {}",
                        options.lower + span,
                        options.target
                    ),
                )
            })?
        }
    };
    let mut low = options.lower;
    for _ in 0..options.iterations {
        let middle = low + (high - low) / 2.0;
        if !(middle > low && middle < high) {
            break;
        }
        let (probability, _) = evaluate(middle, false)?;
        if probability <= options.target {
            (high, high_probability) = (middle, probability);
        } else {
            low = middle;
        }
    }
    Ok(finish(high, high_probability, curve))
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
