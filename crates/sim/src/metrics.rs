//! Metrics per path and across paths: mean, value at risk and expected shortfall at 95% and 99%,
//! probability each layer is exhausted. All figures are in the venue's numeraire (floats: these
//! are statistics, computed after the engine's integer run).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What happened on one path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathMetrics {
    /// Path index.
    pub path: u32,
    /// Liquidations that went through.
    pub liquidations: u32,
    /// Value of debt repaid and positions closed by liquidations.
    pub liquidated_volume: f64,
    /// Bad debt recognised (Σ `deficit_recorded`).
    pub deficit_created: f64,
    /// Paid by each layer (waterfall text → value), including layers that pay later once paid.
    pub paid_by_layer: BTreeMap<String, f64>,
    /// Deficit still uncovered or pending at the end of the path.
    pub uncovered_at_end: f64,
    /// Lowest total balance of the insurance funds during the path.
    pub fund_min: f64,
    /// Staker loss as a share of the staker pools' assets at the start (0–1).
    pub staker_loss_share: f64,
    /// Largest single auto-deleveraging haircut.
    pub adl_haircut_max: f64,
    /// Sum of auto-deleveraging haircuts.
    pub adl_haircut_total: f64,
    /// Loss socialised (supplier haircuts and charges on open interest).
    pub socialized: f64,
    /// Whether each layer was exhausted (drawn to its floor or cap) at some point.
    pub exhausted: BTreeMap<String, bool>,
    /// Seconds from the first deficit until nothing was uncovered or pending again (None: never
    /// recovered within the path, or no deficit).
    pub time_to_recover_secs: Option<u64>,
    /// Per layer: the deficit at the end of the path not covered by this layer and the layers
    /// before it, summed over the markets whose waterfall has the layer (numeraire, at the last
    /// step's prices). Positive means a loss went beyond the layer.
    pub loss_beyond: BTreeMap<String, f64>,
    /// English collateral auctions dealt.
    pub auctions_dealt: u32,
    /// English collateral auctions dealt to a zero bid.
    pub zero_bid_auctions: u32,
    /// Share of dealt English auctions won with a zero bid (0–1; 0 without auctions).
    pub zero_bid_share: f64,
    /// Governance tokens minted by recapitalisation auctions (token units).
    pub tokens_minted: f64,
    /// Transaction costs spent by English-auction bidders (numeraire).
    pub gas_spent: f64,
    /// Commands the simulator sent during the path that the engine refused (a keeper short of
    /// funds, a price move beyond the oracle guard, a stale price…); they change nothing.
    pub rejections: u32,
}

/// A distribution summary of one metric across paths.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Statistic {
    /// Mean.
    pub mean: f64,
    /// Value at risk at 95%: the ⌈0.95·n⌉-th smallest of the n values ([`value_at_risk`]).
    pub var95: f64,
    /// Value at risk at 99%.
    pub var99: f64,
    /// Expected shortfall at 95%: mean of the worst ⌈0.05·n⌉ values ([`expected_shortfall`]).
    pub es95: f64,
    /// Expected shortfall at 99%.
    pub es99: f64,
    /// Largest value.
    pub max: f64,
}

/// Across-path summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Number of paths.
    pub paths: u32,
    /// Statistics per metric name (`deficit_created`, `liquidated_volume`, `uncovered_at_end`,
    /// `socialized`, `adl_haircut_total`, `staker_loss_share`, `paid:<layer>` …).
    pub metrics: BTreeMap<String, Statistic>,
    /// Probability each layer was exhausted.
    pub exhaustion_probability: BTreeMap<String, f64>,
    /// Probability of a loss beyond each layer: the share of paths whose
    /// [`PathMetrics::loss_beyond`] of that layer is positive.
    pub loss_beyond_probability: BTreeMap<String, f64>,
}

/// Traces of one path over time, for charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathTrace {
    /// Path index.
    pub path: u32,
    /// Unix time of each step.
    pub times: Vec<u64>,
    /// Oracle price per asset per step.
    pub prices: BTreeMap<String, Vec<f64>>,
    /// Balance per layer (funds, offsets, staker and stability pools) per step, in the numeraire.
    pub layer_balances: BTreeMap<String, Vec<f64>>,
    /// Cumulative amount paid per layer per step.
    pub paid_cumulative: BTreeMap<String, Vec<f64>>,
}

/// Value at risk at `level` (0 < level ≤ 1) of `values` (larger is worse): the ⌈level·n⌉-th
/// smallest of the n values (the smallest for a level so low that ⌈level·n⌉ < 1). Zero for no
/// values. For the values 1, 2, …, 100: VaR at 95% is 95, at 99% is 99.
#[must_use]
pub fn value_at_risk(values: &[f64], level: f64) -> f64 {
    let sorted = sorted(values);
    var_of_sorted(&sorted, level)
}

/// Expected shortfall at `level` of `values` (larger is worse): the mean of the worst
/// ⌈(1 − level)·n⌉ values (at least one), the historical tail mean. Zero for no values. For the
/// values 1, 2, …, 100: ES at 95% is mean(96..=100) = 98, at 99% is 100. Unlike "the mean of
/// values at or above the VaR", it does not fall to the overall mean when many paths tie at a
/// VaR of zero.
#[must_use]
pub fn expected_shortfall(values: &[f64], level: f64) -> f64 {
    let sorted = sorted(values);
    es_of_sorted(&sorted, level)
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// Index (0-based) of the VaR in a sorted slice of length `count` ≥ 1.
fn var_index(count: usize, level: f64) -> usize {
    // ⌈level·n⌉ with a little slack so that 0.95 × 100 (not exactly representable) gives 95.
    let rank = (level * count as f64 - 1e-9).ceil();
    let rank = if rank.is_finite() && rank >= 1.0 { rank as usize } else { 1 };
    rank.min(count) - 1
}

fn var_of_sorted(sorted: &[f64], level: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[var_index(sorted.len(), level)]
}

fn es_of_sorted(sorted: &[f64], level: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let count = sorted.len();
    // ⌈(1 − level)·n⌉ with a little slack so that 0.05 × 100 (not exactly representable) gives 5.
    let tail = ((1.0 - level) * count as f64 - 1e-9).ceil();
    let tail = if tail.is_finite() && tail >= 1.0 { (tail as usize).min(count) } else { 1 };
    mean(&sorted[count - tail..])
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

impl Statistic {
    /// Mean, VaR and ES at 95% and 99%, and maximum of `values` (all zero for no values).
    #[must_use]
    pub fn of(values: &[f64]) -> Statistic {
        let sorted = sorted(values);
        Statistic {
            mean: mean(values),
            var95: var_of_sorted(&sorted, 0.95),
            var99: var_of_sorted(&sorted, 0.99),
            es95: es_of_sorted(&sorted, 0.95),
            es99: es_of_sorted(&sorted, 0.99),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }

    /// As [`Statistic::of`] for a metric where smaller is worse (`fund_min`): VaR and ES are
    /// taken in the lower tail (VaR at 95% is the ⌈0.95·n⌉-th largest value, ES the mean of the
    /// smallest ⌈0.05·n⌉); `mean` and `max` are as usual.
    #[must_use]
    pub fn of_lower(values: &[f64]) -> Statistic {
        let negated: Vec<f64> = values.iter().map(|value| -value).collect();
        let tail = Statistic::of(&negated);
        Statistic {
            mean: mean(values),
            var95: -tail.var95,
            var99: -tail.var99,
            es95: -tail.es95,
            es99: -tail.es99,
            max: values.iter().copied().reduce(f64::max).unwrap_or(0.0),
        }
    }
}

/// Reads one figure of a path.
type Getter = fn(&PathMetrics) -> f64;

/// Summarises per-path metrics: a [`Statistic`] per metric (`deficit_created`,
/// `liquidated_volume`, `liquidations`, `uncovered_at_end`, `fund_min` (tail statistics in the
/// lower tail, [`Statistic::of_lower`]), `staker_loss_share`,
/// `socialized`, `adl_haircut_max`, `adl_haircut_total`, `paid:<layer>` and
/// `loss_beyond:<layer>` for every layer that appears on any path, 0 where a path lacks it), the
/// probability each layer was exhausted and the probability of a loss beyond each layer. Paths
/// are read in order, so the result depends only on the paths, not on how they were computed.
#[must_use]
pub fn summarize(paths: &[PathMetrics]) -> Summary {
    let mut metrics = BTreeMap::new();
    let scalar: [(&str, Getter); 13] = [
        ("deficit_created", |path| path.deficit_created),
        ("liquidated_volume", |path| path.liquidated_volume),
        ("liquidations", |path| f64::from(path.liquidations)),
        ("uncovered_at_end", |path| path.uncovered_at_end),
        ("fund_min", |path| path.fund_min),
        ("staker_loss_share", |path| path.staker_loss_share),
        ("socialized", |path| path.socialized),
        ("adl_haircut_max", |path| path.adl_haircut_max),
        ("adl_haircut_total", |path| path.adl_haircut_total),
        ("auctions_dealt", |path| f64::from(path.auctions_dealt)),
        ("zero_bid_share", |path| path.zero_bid_share),
        ("tokens_minted", |path| path.tokens_minted),
        ("gas_spent", |path| path.gas_spent),
    ];
    for (name, get) in scalar {
        let values: Vec<f64> = paths.iter().map(get).collect();
        // A minimum is bad when small: its tail statistics are taken in the lower tail.
        let statistic =
            if name == "fund_min" { Statistic::of_lower(&values) } else { Statistic::of(&values) };
        metrics.insert(name.to_owned(), statistic);
    }
    let paid_layers: std::collections::BTreeSet<&String> =
        paths.iter().flat_map(|path| path.paid_by_layer.keys()).collect();
    for layer in paid_layers {
        let values: Vec<f64> = paths
            .iter()
            .map(|path| path.paid_by_layer.get(layer).copied().unwrap_or(0.0))
            .collect();
        metrics.insert(format!("paid:{layer}"), Statistic::of(&values));
    }
    let beyond_layers: std::collections::BTreeSet<&String> =
        paths.iter().flat_map(|path| path.loss_beyond.keys()).collect();
    let count = paths.len().max(1) as f64;
    let mut loss_beyond_probability = BTreeMap::new();
    for layer in beyond_layers {
        let values: Vec<f64> =
            paths.iter().map(|path| path.loss_beyond.get(layer).copied().unwrap_or(0.0)).collect();
        let beyond = values.iter().filter(|value| **value > 0.0).count();
        loss_beyond_probability.insert(layer.clone(), beyond as f64 / count);
        metrics.insert(format!("loss_beyond:{layer}"), Statistic::of(&values));
    }
    let exhausted_layers: std::collections::BTreeSet<&String> =
        paths.iter().flat_map(|path| path.exhausted.keys()).collect();
    let exhaustion_probability = exhausted_layers
        .into_iter()
        .map(|layer| {
            let hits = paths
                .iter()
                .filter(|path| path.exhausted.get(layer).copied().unwrap_or(false))
                .count();
            (layer.clone(), hits as f64 / count)
        })
        .collect();
    Summary {
        paths: u32::try_from(paths.len()).unwrap_or(u32::MAX),
        metrics,
        exhaustion_probability,
        loss_beyond_probability,
    }
}
