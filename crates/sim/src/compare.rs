//! `backstop compare`: one scenario's exposure and price paths through several backstop designs.
//!
//! For each design ([`crate::designs`]) the scenario is rebuilt with the design's safety net in
//! place of the venue's (as an inline venue) and the design's funding in place of the scenario's
//! `[[funding]]`, then run by [`crate::runner::run`] with the same seed: every design sees the same
//! population (drawn from the population stream of the seed) and the same price paths (path `p`
//! from the stream `(seed, p)`): common random numbers. Published outcomes (`[[expect]]`) refer to
//! the scenario's own layers and are dropped.
//!
//! **Exposure** is the set of markets with a waterfall in the scenario's venue (none: every
//! borrowable lending market and every perpetual market). A design applies when every exposure
//! market is of its kind (lending or perpetual) and all deficits are in one asset; otherwise, or
//! when the rebuilt scenario does not validate (an event or population group naming a layer the
//! design lacks), it is reported as not applicable with the reason.
//!
//! **Capital** is counted in whole units of the deficit asset. The scenario's own capital is the
//! sum of its `[[funding]]` amounts, floored to whole units, leaving out stability pools that a
//! liquidation mode uses (they are the liquidation mechanism and keep their funding). Under
//! [`Capital::Equal`] every design gets that total, split over its funded layers in proportion to
//! their as-configured sizes by [`crate::designs::split`] (floors, remainder to the first layer).
//! Under [`Capital::AsConfigured`] each layer gets its own published size, and an `assumed` size is
//! the scenario's total.

use crate::SimError;
use crate::designs::{Design, ExposureKind, PAYER_CLASSES, Size, payer_class};
use crate::metrics::Statistic;
use crate::runner::{RunOptions, RunResult};
use crate::scenario::{FundingSpec, Scenario};
use backstop_core::config::LiquidationMode;
use backstop_core::{MarketRef, VenueConfig};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the `compare.json` schema (docs/compare.md).
pub const SCHEMA: &str = "backstop.compare/1";

/// How much capital each design gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capital {
    /// The scenario's total, split in each design's proportions.
    Equal,
    /// Each design's own sizes (`assumed` ones: the scenario's total).
    AsConfigured,
}

/// One market of the scenario's exposure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureMarket {
    /// Market name (lending: asset symbol; perpetual: market name).
    pub market: String,
    /// Its kind.
    pub kind: ExposureKind,
    /// The asset its deficits are in.
    pub deficit_asset: String,
}

/// A funded layer of a design and what happened to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerOutcome {
    /// Waterfall text.
    pub layer: String,
    /// Payer class ([`crate::designs::payer_class`]).
    pub payer: String,
    /// Whole units it was funded with.
    pub funded: u64,
    /// Whether its as-configured size is `assumed`.
    pub assumed: bool,
    /// What it paid, over paths (numeraire).
    pub paid: Statistic,
    /// Its deepest drawdown over all paths: the largest fall of its balance below an earlier
    /// balance (numeraire); absent for layers without a balance.
    pub deepest_drawdown: Option<f64>,
}

/// Auto-deleveraging under a design with an `adl:<policy>` layer, and its fairness against the
/// minimum-shortfall allocation (Chitra et al. 2025) on the same paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdlOutcome {
    /// The policy (`rank`, `pro_rata`, `random`, `min_shortfall`).
    pub policy: String,
    /// Sum of the haircuts of a path, over paths.
    pub haircut_total: Statistic,
    /// Largest single haircut of a path, over paths.
    pub haircut_max: Statistic,
    /// Per path: this design's largest haircut minus that of `adl-min-shortfall`, over paths
    /// (absent when `adl-min-shortfall` was not run or did not apply).
    pub excess_max_over_min_shortfall: Option<Statistic>,
    /// Per path: this design's haircut total minus that of `adl-min-shortfall`, over paths.
    pub excess_total_over_min_shortfall: Option<Statistic>,
    /// Paths on which the deficit equals `adl-min-shortfall`'s exactly: the same bankruptcies as far
    /// as the deficit tells (after the first ADL the positions differ, and later bankruptcies
    /// can too).
    pub paths_with_same_deficit: Option<u32>,
    /// Per-path deficits (for the comparison; not written).
    #[serde(skip)]
    pub path_deficit: Vec<f64>,
    /// Per-path largest haircuts (for the excess; not written).
    #[serde(skip)]
    pub path_max: Vec<f64>,
    /// Per-path haircut totals (for the excess; not written).
    #[serde(skip)]
    pub path_total: Vec<f64>,
}

/// What one design did on the scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignOutcome {
    /// Preset name.
    pub design: String,
    /// Title.
    pub title: String,
    /// Kind of exposure it takes.
    pub exposure: ExposureKind,
    /// Where its parameters come from.
    pub source: String,
    /// `ran`, or `not applicable: <why>`.
    pub status: String,
    /// Waterfall used for every exposure market.
    pub waterfall: Vec<String>,
    /// Total backstop capital given to its funded layers (whole units of the deficit asset).
    pub capital: u64,
    /// Funded layers.
    pub layers: Vec<LayerOutcome>,
    /// Deficit recognised, over paths.
    pub deficit: Statistic,
    /// Paid per payer class, over paths (every class of [`PAYER_CLASSES`]).
    pub paid: BTreeMap<String, Statistic>,
    /// Deficit uncovered or pending at the end, over paths.
    pub uncovered: Statistic,
    /// Mean seconds from the first deficit to full cover, over the paths that recovered.
    pub time_to_recover_secs: Option<f64>,
    /// Share of paths with a deficit that recovered within the path.
    pub recovered_share: Option<f64>,
    /// Auto-deleveraging figures, for a design with an ADL layer that ran.
    pub adl: Option<AdlOutcome>,
}

/// Everything `compare` produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareResult {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// Seed shared by every design.
    pub seed: u64,
    /// Paths per design.
    pub paths: u32,
    /// Capital mode.
    pub capital: Capital,
    /// The scenario's own backstop capital (whole units of the deficit asset).
    pub scenario_capital: u64,
    /// The asset deficits and capital are in (empty if the exposure has several).
    pub deficit_asset: String,
    /// The exposure markets.
    pub exposure: Vec<ExposureMarket>,
    /// One outcome per design, in the order asked.
    pub designs: Vec<DesignOutcome>,
}

/// The scenario's exposure: markets with a waterfall (none: borrowable lending markets and
/// perpetual markets).
#[must_use]
pub fn exposure(venue: &VenueConfig) -> Vec<ExposureMarket> {
    let describe = |name: &str| {
        let market = venue.market_ref(name)?;
        let kind = match market {
            MarketRef::Lending(_) => ExposureKind::Lending,
            MarketRef::Perp(_) => ExposureKind::Perp,
        };
        let deficit_asset = venue.deficit_asset_symbol(market).to_owned();
        Some(ExposureMarket { market: name.to_owned(), kind, deficit_asset })
    };
    let mut names: Vec<String> =
        venue.waterfalls.iter().map(|waterfall| waterfall.market.clone()).collect();
    if names.is_empty() {
        names.extend(venue.lending.iter().filter(|m| m.borrow_enabled).map(|m| m.asset.clone()));
        names.extend(venue.perps.iter().map(|perp| perp.name.clone()));
    }
    names.iter().filter_map(|name| describe(name)).collect()
}

/// Stability pools a lending market's liquidation mode uses.
fn liquidation_pools(venue: &VenueConfig) -> Vec<String> {
    venue
        .lending
        .iter()
        .filter_map(|market| match &market.liquidation {
            LiquidationMode::StabilityPool { pool } => Some(pool.clone()),
            _ => None,
        })
        .collect()
}

/// The scenario's own backstop capital: Σ `[[funding]]` amounts, floored to whole units,
/// leaving out stability pools a liquidation mode uses.
#[must_use]
pub fn scenario_capital(scenario: &Scenario, venue: &VenueConfig) -> u64 {
    let kept = liquidation_pools(venue);
    let total: f64 = scenario
        .funding
        .iter()
        .filter(|spec| !kept.iter().any(|pool| spec.layer == format!("stability:{pool}")))
        .map(|spec| spec.amount)
        .sum();
    // Floats: funding amounts are written as TOML numbers; whole units below 2^53 are exact.
    if total.is_finite() && total > 0.0 { total.floor().min(u64::MAX as f64) as u64 } else { 0 }
}

/// The venue's TOML table, from `venue.path` or `venue.inline`.
fn venue_table(scenario: &Scenario) -> Result<toml::Table, SimError> {
    let file = scenario.file.display().to_string();
    if let Some(inline) = &scenario.venue.inline {
        return Ok(inline.clone());
    }
    let Some(path) = &scenario.venue.path else {
        return Err(SimError::new(file, "give venue.path or venue.inline"));
    };
    let venue_file = scenario.base_dir.join(path);
    let text = std::fs::read_to_string(&venue_file).map_err(|problem| {
        SimError::new(
            file.clone(),
            format!("cannot read venue {}: {problem}", venue_file.display()),
        )
    })?;
    toml::from_str(&text).map_err(|problem| {
        SimError::new(venue_file.display().to_string(), problem.message().to_owned())
    })
}

/// The funding of each funded layer of `design` (whole units), for `capital` and the scenario's
/// total.
#[must_use]
pub fn design_funding(design: &Design, capital: Capital, total: u64) -> Vec<u64> {
    let own: Vec<u64> = design
        .layers
        .iter()
        .map(|layer| match layer.size {
            Size::Published(size) => size,
            Size::Assumed => total,
        })
        .collect();
    match capital {
        Capital::AsConfigured => own,
        Capital::Equal => crate::designs::split(total, &own),
    }
}

/// Safety-net sections a design replaces.
const SAFETY_NET_KEYS: [&str; 9] = [
    "fund",
    "offset",
    "staker_pool",
    "stability_pool",
    "cover",
    "recap",
    "waterfall",
    "breaker",
    "liquidity",
];

/// The venue table with `design`'s safety net on `markets`, all in `asset`.
fn design_venue(
    mut table: toml::Table,
    design: &Design,
    markets: &[String],
    asset: &str,
    kept_pools: &[String],
) -> Result<toml::Table, String> {
    let kept: Vec<toml::Value> = match table.get("stability_pool") {
        Some(toml::Value::Array(pools)) => pools
            .iter()
            .filter(|pool| {
                let name = pool.get("name").and_then(toml::Value::as_str).unwrap_or("");
                kept_pools.iter().any(|kept| kept == name)
            })
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    for key in SAFETY_NET_KEYS {
        table.remove(key);
    }
    if !kept.is_empty() {
        table.insert("stability_pool".to_owned(), toml::Value::Array(kept));
    }
    let quoted: Vec<String> = markets.iter().map(|market| format!("{market:?}")).collect();
    let market_list = format!("[{}]", quoted.join(", "));
    for layer in design.layers {
        let name = layer.layer.split_once(':').map_or(layer.layer, |(_, name)| name);
        let body = layer.body.replace("{MARKETS}", &market_list);
        let text = format!("name = {name:?}\nasset = {asset:?}\n{body}");
        let section: toml::Table = toml::from_str(&text)
            .map_err(|problem| format!("design {}: {problem}", design.name))?;
        push(&mut table, layer.table, toml::Value::Table(section));
    }
    if let Some((token, body)) = design.recap {
        let has_token = table.get("asset").and_then(toml::Value::as_array).is_some_and(|assets| {
            assets.iter().any(|a| a.get("symbol").and_then(toml::Value::as_str) == Some(token))
        });
        if !has_token {
            let text = format!("symbol = {token:?}\ndecimals = 18\n");
            let section: toml::Table = toml::from_str(&text).map_err(|p| p.to_string())?;
            push(&mut table, "asset", toml::Value::Table(section));
        }
        let text = format!("token = {token:?}\n{body}");
        let section: toml::Table = toml::from_str(&text).map_err(|p| p.to_string())?;
        table.insert("recap".to_owned(), toml::Value::Table(section));
    }
    let layers: Vec<toml::Value> = waterfall(design).into_iter().map(toml::Value::String).collect();
    for market in markets {
        let mut section = toml::Table::new();
        section.insert("market".to_owned(), toml::Value::String(market.clone()));
        section.insert("layers".to_owned(), toml::Value::Array(layers.clone()));
        push(&mut table, "waterfall", toml::Value::Table(section));
    }
    Ok(table)
}

fn push(table: &mut toml::Table, key: &str, value: toml::Value) {
    let entry = table.entry(key.to_owned()).or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(items) = entry {
        items.push(value);
    }
}

/// The waterfall of a design: its funded layers, then its tail.
#[must_use]
pub fn waterfall(design: &Design) -> Vec<String> {
    design
        .layers
        .iter()
        .map(|layer| layer.layer.to_owned())
        .chain(design.tail.iter().map(|layer| (*layer).to_owned()))
        .collect()
}

/// Why `design` cannot take the exposure, if it cannot.
fn inapplicable(design: &Design, exposure: &[ExposureMarket]) -> Option<String> {
    if exposure.is_empty() {
        return Some("the scenario's venue has no market that can hold a deficit".to_owned());
    }
    if let Some(other) = exposure.iter().find(|market| market.kind != design.exposure) {
        return Some(format!(
            "{} design, but {} is a {} market",
            design.exposure.name(),
            other.market,
            other.kind.name()
        ));
    }
    let first = &exposure[0].deficit_asset;
    if let Some(other) = exposure.iter().find(|market| &market.deficit_asset != first) {
        return Some(format!(
            "deficits in more than one asset ({first}, {}); compare takes one",
            other.deficit_asset
        ));
    }
    None
}

/// The scenario rebuilt with `design`'s safety net and funding.
fn design_scenario(
    scenario: &Scenario,
    design: &Design,
    exposure: &[ExposureMarket],
    funding: &[u64],
    kept_pools: &[String],
) -> Result<Scenario, String> {
    let markets: Vec<String> = exposure.iter().map(|market| market.market.clone()).collect();
    let asset = &exposure[0].deficit_asset;
    let table = venue_table(scenario).map_err(|problem| problem.to_string())?;
    let table = design_venue(table, design, &markets, asset, kept_pools)?;
    let mut rebuilt = scenario.clone();
    rebuilt.venue.path = None;
    rebuilt.venue.inline = Some(table);
    rebuilt.expect.clear();
    rebuilt
        .funding
        .retain(|spec| kept_pools.iter().any(|pool| spec.layer == format!("stability:{pool}")));
    for (layer, amount) in design.layers.iter().zip(funding) {
        // Whole units below 2^53 are exact as f64.
        rebuilt.funding.push(FundingSpec { layer: layer.layer.to_owned(), amount: *amount as f64 });
    }
    crate::runner::validate(&rebuilt, "").map_err(|problem| problem.message)?;
    Ok(rebuilt)
}

/// Runs `designs` on `scenario`'s exposure with `capital`; `options` as for [`crate::runner::run`]
/// (every path is traced, for drawdowns).
///
/// # Errors
/// The scenario's venue cannot be read, or a design's run fails after validating.
pub fn compare(
    scenario: &Scenario,
    designs: &[&Design],
    capital: Capital,
    options: &RunOptions<'_>,
) -> Result<CompareResult, SimError> {
    let venue = crate::runner::load_venue(scenario)?;
    let exposure = exposure(&venue);
    let kept = liquidation_pools(&venue);
    let total = scenario_capital(scenario, &venue);
    let paths = options.paths.unwrap_or(scenario.run.paths);
    let seed = options.seed.unwrap_or(scenario.run.seed);
    let mut outcomes = Vec::with_capacity(designs.len());
    for design in designs {
        let funding = design_funding(design, capital, total);
        let prepared = match inapplicable(design, &exposure) {
            Some(reason) => Err(reason),
            None => design_scenario(scenario, design, &exposure, &funding, &kept),
        };
        let outcome = match prepared {
            Err(reason) => not_applicable(design, &reason),
            Ok(rebuilt) => {
                let run_options = RunOptions {
                    paths: Some(paths),
                    seed: Some(seed),
                    threads: options.threads,
                    prices_csv: options.prices_csv.clone(),
                    trace_paths: paths,
                    on_path_done: options.on_path_done,
                    funding_overrides: Vec::new(),
                };
                let run = crate::runner::run(&rebuilt, &run_options)?;
                outcome_of(design, &funding, &run)
            }
        };
        outcomes.push(outcome);
    }
    adl_excess(&mut outcomes);
    let single_asset = exposure.first().map(|m| m.deficit_asset.clone()).unwrap_or_default();
    let deficit_asset = if exposure.iter().all(|m| m.deficit_asset == single_asset) {
        single_asset
    } else {
        String::new()
    };
    Ok(CompareResult {
        schema: SCHEMA,
        scenario: scenario.scenario.name.clone(),
        seed,
        paths,
        capital,
        scenario_capital: total,
        deficit_asset,
        exposure,
        designs: outcomes,
    })
}

fn empty_paid() -> BTreeMap<String, Statistic> {
    PAYER_CLASSES.iter().map(|class| ((*class).to_owned(), Statistic::default())).collect()
}

fn not_applicable(design: &Design, reason: &str) -> DesignOutcome {
    DesignOutcome {
        design: design.name.to_owned(),
        title: design.title.to_owned(),
        exposure: design.exposure,
        source: design.source.to_owned(),
        status: format!("not applicable: {reason}"),
        waterfall: waterfall(design),
        capital: 0,
        layers: Vec::new(),
        deficit: Statistic::default(),
        paid: empty_paid(),
        uncovered: Statistic::default(),
        time_to_recover_secs: None,
        recovered_share: None,
        adl: None,
    }
}

fn adl_of(design: &Design, run: &RunResult) -> Option<AdlOutcome> {
    let policy = design.tail.iter().find_map(|layer| layer.strip_prefix("adl:"))?;
    let path_max: Vec<f64> = run.paths.iter().map(|path| path.adl_haircut_max).collect();
    let path_total: Vec<f64> = run.paths.iter().map(|path| path.adl_haircut_total).collect();
    Some(AdlOutcome {
        policy: policy.to_owned(),
        haircut_total: Statistic::of(&path_total),
        haircut_max: Statistic::of(&path_max),
        excess_max_over_min_shortfall: None,
        excess_total_over_min_shortfall: None,
        paths_with_same_deficit: None,
        path_deficit: run.paths.iter().map(|path| path.deficit_created).collect(),
        path_max,
        path_total,
    })
}

/// Fills each ADL design's excess over the `adl-min-shortfall` design, path by path.
fn adl_excess(outcomes: &mut [DesignOutcome]) {
    let Some(benchmark) = outcomes
        .iter()
        .find(|outcome| outcome.design == "adl-min-shortfall")
        .and_then(|outcome| outcome.adl.clone())
    else {
        return;
    };
    let excess = |mine: &[f64], theirs: &[f64]| {
        let values: Vec<f64> = mine.iter().zip(theirs).map(|(a, b)| a - b).collect();
        Statistic::of(&values)
    };
    for adl in outcomes.iter_mut().filter_map(|outcome| outcome.adl.as_mut()) {
        adl.excess_max_over_min_shortfall = Some(excess(&adl.path_max, &benchmark.path_max));
        adl.excess_total_over_min_shortfall = Some(excess(&adl.path_total, &benchmark.path_total));
        let same = adl.path_deficit.iter().zip(&benchmark.path_deficit).filter(|(a, b)| a == b);
        adl.paths_with_same_deficit = Some(u32::try_from(same.count()).unwrap_or(u32::MAX));
    }
}

/// Deepest drawdown of one balance series: max over t of (max before t − value at t).
fn drawdown(series: &[f64]) -> f64 {
    let mut peak = f64::NEG_INFINITY;
    let mut deepest: f64 = 0.0;
    for value in series {
        peak = peak.max(*value);
        deepest = deepest.max(peak - value);
    }
    deepest
}

fn outcome_of(design: &Design, funding: &[u64], run: &RunResult) -> DesignOutcome {
    let layers = design
        .layers
        .iter()
        .zip(funding)
        .map(|(layer, funded)| {
            let paid: Vec<f64> = run
                .paths
                .iter()
                .map(|path| path.paid_by_layer.get(layer.layer).copied().unwrap_or(0.0))
                .collect();
            let deepest = run
                .traces
                .iter()
                .filter_map(|trace| trace.layer_balances.get(layer.layer))
                .map(|series| drawdown(series))
                .reduce(f64::max);
            LayerOutcome {
                layer: layer.layer.to_owned(),
                payer: payer_class(layer.layer).to_owned(),
                funded: *funded,
                assumed: matches!(layer.size, Size::Assumed),
                paid: Statistic::of(&paid),
                deepest_drawdown: deepest,
            }
        })
        .collect();
    let mut paid = BTreeMap::new();
    for class in PAYER_CLASSES {
        let values: Vec<f64> = run
            .paths
            .iter()
            .map(|path| {
                path.paid_by_layer
                    .iter()
                    .filter(|(layer, _)| payer_class(layer) == class)
                    .map(|(_, value)| value)
                    .sum()
            })
            .collect();
        paid.insert(class.to_owned(), Statistic::of(&values));
    }
    let deficits: Vec<f64> = run.paths.iter().map(|path| path.deficit_created).collect();
    let uncovered: Vec<f64> = run.paths.iter().map(|path| path.uncovered_at_end).collect();
    let with_deficit = run.paths.iter().filter(|path| path.deficit_created > 0.0).count();
    let recovered: Vec<f64> =
        run.paths.iter().filter_map(|path| path.time_to_recover_secs).map(|s| s as f64).collect();
    DesignOutcome {
        design: design.name.to_owned(),
        title: design.title.to_owned(),
        exposure: design.exposure,
        source: design.source.to_owned(),
        status: "ran".to_owned(),
        waterfall: waterfall(design),
        capital: funding.iter().sum(),
        layers,
        deficit: Statistic::of(&deficits),
        paid,
        uncovered: Statistic::of(&uncovered),
        time_to_recover_secs: (!recovered.is_empty())
            .then(|| recovered.iter().sum::<f64>() / recovered.len() as f64),
        recovered_share: (with_deficit > 0).then(|| recovered.len() as f64 / with_deficit as f64),
        adl: adl_of(design, run),
    }
}
