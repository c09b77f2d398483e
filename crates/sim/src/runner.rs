//! The runner: prepares the venue once, then runs each path through `Engine::apply`.
//!
//! **Preparation** (once per run, every step through `Engine::apply`; any refusal is an error
//! naming the command): the step-0 price of every asset (fixed by every price source: the
//! constant, the first CSV row or waypoint, a model's `price`; assets without a source are at 1);
//! the backstop accounts of `takeover` markets (opened as backstop accounts and given the keeper
//! capital); the population (generated with the stream `u64::MAX` of the seed); the keepers (one
//! account each, given `keepers.capital` numeraire worth of every asset); a funder account (given
//! the same capital, it also bids in recapitalisation auctions) that funds each `[[funding]]`
//! layer: `fund:` and `offset:` layers by donation, `stakers:` by staking, `stability:` by a
//! stability deposit. Engine time starts at 0 for step 0 and step `t` is at `t × step_secs`
//! (traces carry the unix times).
//!
//! **Each path** clones the prepared engine, draws its price path from the ChaCha8 stream
//! `(seed, path)` and, for every step `0 ≤ t ≤ steps`: advances time (t > 0); sets every asset's
//! oracle price ([`crate::market`]: path price × impact factor, delayed, depegs override); issues
//! the events due ([`crate::exogenous`]) and completes the withdrawals of a pool run once their
//! cooldown has passed; lets keepers take Dutch auctions (when the auction price
//! is at or below the oracle price), reset stale ones and liquidate ([`crate::market`]); settles
//! open cover claims in full one step after they open (the guarantor pays); approves
//! recapitalisation auctions (after any governance delay) and has the funder fill them at their
//! current lot; then records the step's metrics. Refused commands change nothing and are counted
//! in [`PathMetrics::rejections`].
//!
//! **Metrics** ([`PathMetrics`]) are read from the events and the state, valued in the numeraire at
//! the oracle prices of the step they happen in: deficits are the growth of the engine's
//! recognised deficit per market (bad debt, exploits, and shortfalls paid directly before
//! auto-deleveraging); layer payments come from `layer_paid` events; a layer is *exhausted* on a
//! path when a deficit of one of its markets went past it (a later layer paid, it paid and left
//! some uncovered, or the market held an uncovered deficit at the end of a step).
//!
//! Paths run in parallel (rayon, optionally on a pool of `threads`); results are collected in path
//! order and every random draw comes from the path's own stream, so the result is the same for any
//! thread count.

use crate::exogenous::Exogenous;
use crate::market::{Keepers, Market, choose_target};
use crate::metrics::{PathMetrics, PathTrace, Summary};
use crate::prices::PricePath;
use crate::scenario::{FundingSpec, Scenario};
use crate::{PATH_COUNT_MAX, STEP_COUNT_MAX, SimError, convert};
use backstop_core::backstop::layers::LayerRef;
use backstop_core::config::LiquidationMode;
use backstop_core::{
    AccountId, AccountKind, AuctionId, Command, Engine, Event, LiquidationTarget, MarketRef,
    VenueConfig,
};
use backstop_money::{Amount, Price};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Options of a run that override or complete the scenario's `[run]` settings.
pub struct RunOptions<'a> {
    /// Paths (default: the scenario's).
    pub paths: Option<u32>,
    /// Seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Worker threads (default: rayon's, one per core).
    pub threads: Option<usize>,
    /// A full-resolution CSV that replaces the price source of the scenario's first csv or
    /// waypoints asset (`--prices FILE`).
    pub prices_csv: Option<PathBuf>,
    /// How many paths keep a full trace for charts (default 1: path 0).
    pub trace_paths: u32,
    /// Called once per finished path (for a progress bar); must be cheap and thread-safe.
    pub on_path_done: Option<&'a (dyn Fn() + Sync)>,
    /// Initial funding overrides: layer text → amount (used by sizing). An override replaces the
    /// scenario's `[[funding]]` amount of that layer, or adds the layer.
    pub funding_overrides: Vec<(String, f64)>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            paths: None,
            seed: None,
            threads: None,
            prices_csv: None,
            trace_paths: 1,
            on_path_done: None,
            funding_overrides: Vec::new(),
        }
    }
}

/// Everything a run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Steps per path.
    pub steps: u32,
    /// Seconds per step.
    pub step_secs: u64,
    /// Per-path metrics, in path order.
    pub paths: Vec<PathMetrics>,
    /// Traces of the first `trace_paths` paths.
    pub traces: Vec<PathTrace>,
    /// Across-path statistics.
    pub summary: Summary,
    /// The scenario's published outcomes beside the simulated figures, in file order.
    pub published: Vec<crate::published::Comparison>,
}

// ----- validation -----

/// Validates a parsed scenario against its venue; `text` is the scenario source, for line numbers.
///
/// Checks: the venue (by path or inline) loads and validates; `run` ranges (1 ≤ steps ≤
/// [`STEP_COUNT_MAX`], 1 ≤ paths ≤ [`PATH_COUNT_MAX`], 0 < step_secs ≤ the engine's longest time
/// step); price sources and populations (their own modules); keepers (count ≤
/// [`crate::market::KEEPER_COUNT_MAX`], capacity ≥ 1, outage windows ordered, 0 < capital ≤
/// [`crate::market::KEEPER_CAPITAL_MAX`]); market depth (known assets, positive depth),
/// `impact_decay` in [0, 1], oracle delay ≤ steps; events ([`crate::exogenous`]); funding layers
/// (`fund:`, `offset:`, `stakers:`, `stability:` layers of the venue, amounts ≥ 0).
///
/// # Errors
/// The first problem, located as `<file>:<line>: <key>`.
pub fn validate(scenario: &Scenario, text: &str) -> Result<(), SimError> {
    let file = scenario.file.display().to_string();
    let error = |key: &str, message: String| SimError::new(location(&file, text, key), message);
    let venue = load_venue_located(scenario, Some(text))?;
    let run = &scenario.run;
    if run.steps == 0 || run.steps > STEP_COUNT_MAX {
        return Err(error(
            "run.steps",
            format!("must be between 1 and {STEP_COUNT_MAX}, got {}", run.steps),
        ));
    }
    if run.paths == 0 || run.paths > PATH_COUNT_MAX {
        return Err(error(
            "run.paths",
            format!("must be between 1 and {PATH_COUNT_MAX}, got {}", run.paths),
        ));
    }
    let step_max = backstop_core::oracle::TIME_STEP_MAX_SECS;
    if run.step_secs == 0 || run.step_secs > step_max {
        return Err(error(
            "run.step_secs",
            format!("must be between 1 and {step_max}, got {}", run.step_secs),
        ));
    }
    if u64::from(run.steps)
        .checked_mul(run.step_secs)
        .and_then(|end| end.checked_add(run.start.unwrap_or(0)))
        .is_none()
    {
        return Err(error("run.steps", "steps × step_secs overflows the clock".to_owned()));
    }
    let symbols: Vec<String> = venue.assets.iter().map(|asset| asset.symbol.clone()).collect();
    let relocate = |problem: SimError| {
        if problem.location.starts_with("prices") || problem.location.starts_with("population") {
            SimError::new(location(&file, text, &problem.location), problem.message)
        } else {
            problem
        }
    };
    crate::prices::validate(&scenario.prices, run, &scenario.base_dir, &symbols)
        .map_err(relocate)?;
    scenario.population.validate(&venue, &scenario.base_dir).map_err(relocate)?;
    validate_agents(scenario, &venue, &symbols).map_err(|(key, message)| error(&key, message))?;
    crate::exogenous::validate(&scenario.events, &venue, run.steps)
        .map_err(|(key, message)| error(&key, message))?;
    validate_funding(&scenario.funding, &venue).map_err(|(key, message)| error(&key, message))?;
    let is_layer = |layer: &str| venue_has_layer(&venue, layer);
    crate::published::validate(&scenario.expect, &is_layer)
        .map_err(|(key, message)| error(&key, message))
}

fn validate_agents(
    scenario: &Scenario,
    venue: &VenueConfig,
    symbols: &[String],
) -> Result<(), (String, String)> {
    crate::bidders::validate(scenario.bidders.as_ref(), venue, symbols)?;
    let keepers = &scenario.keepers;
    let fail = |key: &str, message: String| Err((key.to_owned(), message));
    if keepers.count > crate::market::KEEPER_COUNT_MAX {
        return fail(
            "keepers.count",
            format!("must be at most {}, got {}", crate::market::KEEPER_COUNT_MAX, keepers.count),
        );
    }
    if keepers.capacity_per_step == 0 {
        return fail("keepers.capacity_per_step", "must be at least 1".to_owned());
    }
    if keepers.capital == 0 || keepers.capital > crate::market::KEEPER_CAPITAL_MAX {
        return fail(
            "keepers.capital",
            format!(
                "must be between 1 and {}, got {}",
                crate::market::KEEPER_CAPITAL_MAX,
                keepers.capital
            ),
        );
    }
    for (start, end) in &keepers.outages {
        if start >= end {
            return fail(
                "keepers.outages",
                format!("an outage (start, end) covers start ≤ step < end: got ({start}, {end})"),
            );
        }
    }
    let market = &scenario.market;
    for (index, (asset, depth)) in market.depth.iter().enumerate() {
        if !symbols.contains(asset) {
            return fail("market.depth", format!("unknown asset {asset:?}"));
        }
        if !(depth.is_finite() && *depth > 0.0) {
            return fail("market.depth", format!("depth of {asset} must be positive, got {depth}"));
        }
        if market.depth[..index].iter().any(|(other, _)| other == asset) {
            return fail("market.depth", format!("{asset} is listed twice"));
        }
    }
    if !(0.0..=1.0).contains(&market.impact_decay) {
        return fail(
            "market.impact_decay",
            format!("must be between 0 and 1, got {}", market.impact_decay),
        );
    }
    if market.oracle_delay_steps > scenario.run.steps {
        return fail(
            "market.oracle_delay_steps",
            format!("must be at most run.steps ({})", scenario.run.steps),
        );
    }
    let _ = venue;
    Ok(())
}

fn validate_funding(funding: &[FundingSpec], venue: &VenueConfig) -> Result<(), (String, String)> {
    for (index, spec) in funding.iter().enumerate() {
        if layer_asset(venue, &spec.layer).is_none() {
            return Err((
                format!("funding[{index}].layer"),
                format!(
                    "{:?} is not a fund:, offset:, stakers: or stability: layer of the venue",
                    spec.layer
                ),
            ));
        }
        if !(spec.amount.is_finite() && spec.amount >= 0.0) {
            return Err((
                format!("funding[{index}].amount"),
                format!("must be zero or more, got {}", spec.amount),
            ));
        }
        if funding[..index].iter().any(|other| other.layer == spec.layer) {
            return Err((
                format!("funding[{index}].layer"),
                format!("{} is funded twice", spec.layer),
            ));
        }
    }
    Ok(())
}

/// Whether `layer` (waterfall text such as `fund:surplus` or `recap`) is in some waterfall of the
/// venue.
fn venue_has_layer(venue: &VenueConfig, layer: &str) -> bool {
    venue.waterfalls.iter().any(|waterfall| waterfall.layers.iter().any(|item| item == layer))
}

/// The asset symbol of a fundable layer (`fund:`, `offset:`, `stakers:`, `stability:`).
pub(crate) fn layer_asset<'v>(venue: &'v VenueConfig, layer: &str) -> Option<&'v str> {
    match LayerRef::parse(layer).ok()? {
        LayerRef::Fund(name) => {
            venue.funds.iter().find(|fund| fund.name == name).map(|fund| fund.asset.as_str())
        }
        LayerRef::Offset(name) => venue
            .offsets
            .iter()
            .find(|offset| offset.name == name)
            .map(|offset| offset.asset.as_str()),
        LayerRef::Stakers(name) => {
            venue.staker_pools.iter().find(|pool| pool.name == name).map(|pool| pool.asset.as_str())
        }
        LayerRef::Stability(name) => venue
            .stability_pools
            .iter()
            .find(|pool| pool.name == name)
            .map(|pool| pool.asset.as_str()),
        _ => None,
    }
}

/// Loads and validates the scenario's venue: `venue.path` (relative to the scenario file) or
/// `venue.inline`.
///
/// # Errors
/// Unreadable file, bad TOML, invalid venue; naming the venue file (or the scenario file for an
/// inline venue), line and key.
pub fn load_venue(scenario: &Scenario) -> Result<VenueConfig, SimError> {
    load_venue_located(scenario, None)
}

fn load_venue_located(scenario: &Scenario, text: Option<&str>) -> Result<VenueConfig, SimError> {
    let file = scenario.file.display().to_string();
    let at = |key: &str| match text {
        Some(text) => location(&file, text, key),
        None => format!("{file}: {key}"),
    };
    match (&scenario.venue.path, &scenario.venue.inline) {
        (Some(_), Some(_)) => Err(SimError::new(
            at("venue.inline"),
            "give either venue.path or venue.inline, not both",
        )),
        (None, None) => Err(SimError::new(at("venue"), "give venue.path or venue.inline")),
        (Some(path), None) => {
            let venue_file = scenario.base_dir.join(path);
            let venue_text = std::fs::read_to_string(&venue_file).map_err(|problem| {
                SimError::new(
                    at("venue.path"),
                    format!("cannot read venue {}: {problem}", venue_file.display()),
                )
            })?;
            VenueConfig::from_toml_str(&venue_text).map_err(|problem| {
                let place = match problem.line {
                    Some(line) => format!("{}:{line}: {}", venue_file.display(), problem.field),
                    None => format!("{}: {}", venue_file.display(), problem.field),
                };
                SimError::new(place, problem.message)
            })
        }
        (None, Some(inline)) => {
            let venue: VenueConfig =
                toml::Value::Table(inline.clone()).try_into().map_err(|problem| {
                    let message = problem.message().to_owned();
                    let field = field_in_message(&message)
                        .map_or_else(|| "venue.inline".to_owned(), |f| format!("venue.inline.{f}"));
                    SimError::new(at(&field), message)
                })?;
            venue.validate().map_err(|problem| {
                SimError::new(at(&format!("venue.inline.{}", problem.field)), problem.message)
            })?;
            Ok(venue)
        }
    }
}

/// The name between the first pair of backquotes of a serde message ("unknown field `x`").
fn field_in_message(message: &str) -> Option<String> {
    let start = message.find('`')?;
    let rest = &message[start + 1..];
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

/// `<file>:<line>: <key>`, or `<file>: <key>` when the key cannot be found in the text.
fn location(file: &str, text: &str, key: &str) -> String {
    match locate(text, key) {
        Some(line) => format!("{file}:{line}: {key}"),
        None => format!("{file}: {key}"),
    }
}

/// The 1-based line of a key path such as `events[2].market`, `prices.asset[1].points` or
/// `keepers.count` in a TOML text: the `key = value` line, or the table header for a table. When
/// the exact key is not written (a default, or an inline table), the line of the closest enclosing
/// item that is. Understands `[table]`, `[[array.of.tables]]`, dotted keys and `key = value`
/// lines, which is what scenario files use.
#[must_use]
pub fn locate(text: &str, key: &str) -> Option<usize> {
    let mut path: Vec<(String, Option<usize>)> = key
        .split('.')
        .map(|segment| match segment.split_once('[') {
            Some((name, rest)) => {
                (name.trim().to_owned(), rest.trim_end_matches(']').trim().parse::<usize>().ok())
            }
            None => (segment.trim().to_owned(), None),
        })
        .collect();
    loop {
        if path.is_empty() {
            return None;
        }
        if let Some(line) = locate_exact(text, &path) {
            return Some(line);
        }
        let last = path.last_mut()?;
        if last.1.is_some() {
            last.1 = None;
        } else {
            path.pop();
        }
    }
}

fn locate_exact(text: &str, path: &[(String, Option<usize>)]) -> Option<usize> {
    let names: Vec<&str> = path.iter().map(|(name, _)| name.as_str()).collect();
    let indices_hold = |counts: &BTreeMap<String, usize>| {
        path.iter().enumerate().all(|(position, (_, index))| match index {
            None => true,
            Some(index) => {
                let prefix = names[..=position].join(".");
                counts.get(&prefix).and_then(|count| count.checked_sub(1)) == Some(*index)
            }
        })
    };
    let mut header: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (line_index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let header_name = |open: &str, close: &str| {
            let rest = trimmed.strip_prefix(open)?;
            let end = rest.find(close)?;
            let name = rest[..end].trim();
            let after = rest[end + close.len()..].trim();
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-. \"".contains(c))
                && (after.is_empty() || after.starts_with('#'));
            valid.then(|| {
                name.split('.').map(|part| part.trim().trim_matches('"').to_owned()).collect()
            })
        };
        if let Some(name) = header_name("[[", "]]") {
            header = name;
            let joined = header.join(".");
            let child = format!("{joined}.");
            counts.retain(|key, _| !key.starts_with(&child));
            *counts.entry(joined).or_default() += 1;
            if header == names && indices_hold(&counts) {
                return Some(line_index + 1);
            }
            continue;
        }
        if let Some(name) = header_name("[", "]") {
            header = name;
            if header == names && indices_hold(&counts) {
                return Some(line_index + 1);
            }
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some((key, _)) = trimmed.split_once('=') {
            let mut full = header.clone();
            full.extend(key.split('.').map(|part| part.trim().trim_matches('"').to_owned()));
            if full == names && indices_hold(&counts) {
                return Some(line_index + 1);
            }
        }
    }
    None
}

// ----- preparation -----

/// A market that can hold a deficit.
#[derive(Debug, Clone)]
struct MarketInfo {
    market: MarketRef,
    /// Index of its deficit asset.
    asset: usize,
    /// Its waterfall's layers, in order.
    layers: Vec<String>,
}

/// A layer that holds a balance, for traces.
#[derive(Debug, Clone)]
struct Balance {
    name: String,
    kind: BalanceKind,
    index: usize,
    asset: usize,
}

#[derive(Debug, Clone, Copy)]
enum BalanceKind {
    Fund,
    Offset,
    Stakers,
    Stability,
}

/// The venue after preparation, and what every path needs to know about it.
struct Prepared {
    engine: Engine,
    /// The price sources, files read once.
    model: crate::prices::PriceModel,
    symbols: Vec<String>,
    /// For each venue asset, its index in the price path (None: constant 1).
    path_index: Vec<Option<usize>>,
    keepers: Vec<AccountId>,
    /// Bidders in English collateral auctions (`[bidders]`).
    bidders: Option<crate::bidders::BidderSetup>,
    /// Funder and recapitalisation bidder.
    funder: AccountId,
    initial_prices: Vec<f64>,
    /// Staker pools' assets at the start (numeraire).
    staker_assets_value: f64,
    markets: Vec<MarketInfo>,
    balances: Vec<Balance>,
    /// Per perpetual market: underlying asset index.
    perp_underlying: Vec<usize>,
    /// Per perpetual market: whether its waterfall has `adl:random` (liquidations need a seed).
    adl_random: Vec<bool>,
    exogenous: Exogenous,
    /// Recognised deficit per market after preparation (raw).
    recognized_start: Vec<i128>,
    /// Every layer in some waterfall, sorted.
    layers: BTreeSet<String>,
}

impl Prepared {
    fn market_index(&self, market: MarketRef) -> Option<usize> {
        self.markets.iter().position(|info| info.market == market)
    }
}

/// Applies preparation commands, turning any refusal into an error naming the command.
fn prepare_apply(engine: &mut Engine, file: &str, command: &Command) -> Result<(), SimError> {
    engine.apply(command).map(|_| ()).map_err(|rejection| {
        let shown = serde_json::to_string(command).unwrap_or_else(|_| command.name().to_owned());
        SimError::new(
            file.to_owned(),
            format!("preparing the venue: the engine refused {shown}: {rejection}"),
        )
    })
}

fn deposit_capital(
    engine: &mut Engine,
    file: &str,
    account: AccountId,
    capital: f64,
    prices: &[f64],
) -> Result<(), SimError> {
    let decimals: Vec<u32> = engine.config().assets.iter().map(|asset| asset.decimals).collect();
    for (index, decimals) in decimals.into_iter().enumerate() {
        let price = prices.get(index).copied().unwrap_or(1.0).max(1e-12);
        let amount = convert::amount_in_units(capital / price, decimals);
        if amount.is_positive() {
            let asset = asset_id(index);
            prepare_apply(engine, file, &Command::Deposit { account, asset, amount })?;
        }
    }
    Ok(())
}

fn asset_id(index: usize) -> backstop_core::AssetId {
    backstop_core::AssetId(u16::try_from(index).unwrap_or(u16::MAX))
}

fn prepare(
    scenario: &Scenario,
    venue: VenueConfig,
    seed: u64,
    options: &RunOptions<'_>,
) -> Result<Prepared, SimError> {
    let file = scenario.file.display().to_string();
    let symbols: Vec<String> = venue.assets.iter().map(|asset| asset.symbol.clone()).collect();
    let mut engine = Engine::new(venue.clone())
        .map_err(|problem| SimError::new(file.clone(), format!("venue: {problem}")))?;
    // Invariants are checked once per step (`run_path`), not after each of its commands: the
    // per-command check cost 19 % of a run's instructions (docs/PERFORMANCE.md).
    engine.set_invariant_checks(backstop_core::InvariantChecks::Deferred);
    // Step-0 prices are fixed by every source, whatever the stream.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX - 1);
    let model = crate::prices::PriceModel::new(
        &scenario.prices,
        &scenario.run,
        &scenario.base_dir,
        options.prices_csv.as_deref(),
    )
    .map_err(|problem| {
        if problem.location.starts_with("prices") || problem.location.starts_with("run") {
            SimError::new(format!("{file}: {}", problem.location), problem.message)
        } else {
            problem
        }
    })?;
    let path0 = model.generate(&mut rng);
    let path_index: Vec<Option<usize>> =
        symbols.iter().map(|symbol| path0.assets.iter().position(|a| a == symbol)).collect();
    let initial_prices: Vec<f64> =
        path_index.iter().map(|index| index.map_or(1.0, |index| path0.price(index, 0))).collect();
    for (index, price) in initial_prices.iter().enumerate() {
        let command = Command::SetPrice { asset: asset_id(index), price: convert::price(*price) };
        prepare_apply(&mut engine, &file, &command)?;
    }
    let capital = scenario.keepers.capital as f64;
    // Backstop accounts of takeover markets.
    let mut backstops = BTreeSet::new();
    let modes = venue
        .lending
        .iter()
        .map(|market| &market.liquidation)
        .chain(venue.perps.iter().map(|market| &market.liquidation));
    for mode in modes {
        if let LiquidationMode::Takeover { backstop_account } = mode {
            backstops.insert(*backstop_account);
        }
    }
    for account in &backstops {
        let open = Command::OpenAccount { account: *account, kind: AccountKind::Backstop };
        prepare_apply(&mut engine, &file, &open)?;
        deposit_capital(&mut engine, &file, *account, capital, &initial_prices)?;
    }
    let first_id = backstops.last().map_or(1, |account| account.0.saturating_add(1));
    let initial_map: BTreeMap<String, f64> =
        symbols.iter().cloned().zip(initial_prices.iter().copied()).collect();
    let mut population_rng = ChaCha8Rng::seed_from_u64(scenario.population.seed_or(seed));
    population_rng.set_stream(u64::MAX);
    let population = crate::population::generate(
        &scenario.population,
        &venue,
        &initial_map,
        first_id,
        &scenario.base_dir,
        &mut population_rng,
    )?;
    for command in &population.commands {
        prepare_apply(&mut engine, &file, command)?;
    }
    let mut next_id = population.next_id.max(first_id);
    let mut keepers = Vec::new();
    for _ in 0..scenario.keepers.count {
        let account = AccountId(next_id);
        next_id = next_id.saturating_add(1);
        let open = Command::OpenAccount { account, kind: AccountKind::Regular };
        prepare_apply(&mut engine, &file, &open)?;
        deposit_capital(&mut engine, &file, account, capital, &initial_prices)?;
        keepers.push(account);
    }
    let bidders = match &scenario.bidders {
        Some(spec) => {
            let setup = crate::bidders::setup(spec, &venue, Vec::new());
            Some(open_bidders(&mut engine, &file, setup, &mut next_id)?)
        }
        None => None,
    };
    let funder = AccountId(next_id);
    prepare_apply(
        &mut engine,
        &file,
        &Command::OpenAccount { account: funder, kind: AccountKind::Regular },
    )?;
    deposit_capital(&mut engine, &file, funder, capital, &initial_prices)?;
    fund_layers(&mut engine, &file, scenario, &venue, funder, &options.funding_overrides)?;
    // Clear the hash cache's dirty set once, so that clones do not carry it.
    let _ = engine.state_hash();
    let markets = market_infos(&venue);
    let recognized_start = markets
        .iter()
        .map(|info| engine.state().net.recognized.get(&info.market).map_or(0, |a| a.raw()))
        .collect();
    let staker_assets_value = engine
        .state()
        .net
        .staker_pools
        .iter()
        .zip(&venue.staker_pools)
        .map(|(state, config)| {
            let asset = venue.asset_id(&config.asset).map_or(0, |asset| asset.index());
            convert::to_f64(state.assets.raw()) * initial_prices.get(asset).copied().unwrap_or(0.0)
        })
        .sum();
    let perp_underlying = venue
        .perps
        .iter()
        .map(|market| venue.asset_id(&market.underlying).map_or(0, |asset| asset.index()))
        .collect();
    let adl_random = (0..venue.perps.len())
        .map(|index| {
            markets.iter().any(|info| {
                info.market == MarketRef::Perp(backstop_core::PerpMarketId(index as u16))
                    && info.layers.iter().any(|layer| layer == "adl:random")
            })
        })
        .collect();
    let layers = markets.iter().flat_map(|info| info.layers.iter().cloned()).collect();
    Ok(Prepared {
        model,
        exogenous: Exogenous::new(&scenario.events, &venue),
        balances: balances(&venue),
        engine,
        symbols,
        path_index,
        keepers,
        bidders,
        funder,
        initial_prices,
        staker_assets_value,
        markets,
        perp_underlying,
        adl_random,
        recognized_start,
        layers,
    })
}

/// Opens the bidder accounts, each with its bankroll in every English-auction debt asset.
fn open_bidders(
    engine: &mut Engine,
    file: &str,
    mut setup: crate::bidders::BidderSetup,
    next_id: &mut u64,
) -> Result<crate::bidders::BidderSetup, SimError> {
    for _ in 0..setup.spec.count {
        let account = AccountId(*next_id);
        *next_id = next_id.saturating_add(1);
        let open = Command::OpenAccount { account, kind: AccountKind::Regular };
        prepare_apply(engine, file, &open)?;
        for (index, beg) in setup.beg.iter().enumerate() {
            let decimals = engine.config().assets.get(index).map_or(18, |asset| asset.decimals);
            let amount = convert::amount_in_units(setup.spec.bankroll, decimals);
            if beg.is_some() && amount.is_positive() {
                let deposit = Command::Deposit { account, asset: asset_id(index), amount };
                prepare_apply(engine, file, &deposit)?;
            }
        }
        setup.ids.push(account);
    }
    Ok(setup)
}

/// Funds the `[[funding]]` layers (with overrides) from the funder account.
fn fund_layers(
    engine: &mut Engine,
    file: &str,
    scenario: &Scenario,
    venue: &VenueConfig,
    funder: AccountId,
    overrides: &[(String, f64)],
) -> Result<(), SimError> {
    let mut funding: Vec<(String, f64)> =
        scenario.funding.iter().map(|spec| (spec.layer.clone(), spec.amount)).collect();
    for (layer, amount) in overrides {
        match funding.iter_mut().find(|(existing, _)| existing == layer) {
            Some(slot) => slot.1 = *amount,
            None => funding.push((layer.clone(), *amount)),
        }
    }
    for (layer, amount) in funding {
        let Some(symbol) = layer_asset(venue, &layer) else {
            return Err(SimError::new(
                file.to_owned(),
                format!("funding: {layer:?} is not a fund:, offset:, stakers: or stability: layer"),
            ));
        };
        let Some(asset) = venue.asset_id(symbol) else { continue };
        let decimals = venue.assets.get(asset.index()).map_or(18, |asset| asset.decimals);
        let amount = convert::amount_in_units(amount, decimals);
        if !amount.is_positive() {
            continue;
        }
        prepare_apply(engine, file, &Command::Deposit { account: funder, asset, amount })?;
        let command = match LayerRef::parse(&layer) {
            Ok(LayerRef::Stakers(pool)) => Command::Stake { account: funder, pool, amount },
            Ok(LayerRef::Stability(pool)) => {
                Command::StabilityDeposit { account: funder, pool, amount }
            }
            _ => Command::Donate { account: funder, layer: layer.clone(), amount },
        };
        prepare_apply(engine, file, &command)?;
    }
    Ok(())
}

fn market_infos(venue: &VenueConfig) -> Vec<MarketInfo> {
    let waterfall = |market: MarketRef| {
        venue
            .waterfalls
            .iter()
            .find(|waterfall| venue.market_ref(&waterfall.market) == Some(market))
            .map(|waterfall| waterfall.layers.clone())
            .unwrap_or_default()
    };
    let mut markets = Vec::new();
    for lending in &venue.lending {
        if let Some(asset) = venue.asset_id(&lending.asset) {
            let market = MarketRef::Lending(asset);
            markets.push(MarketInfo { market, asset: asset.index(), layers: waterfall(market) });
        }
    }
    for (index, perp) in venue.perps.iter().enumerate() {
        let market = MarketRef::Perp(backstop_core::PerpMarketId(index as u16));
        let asset = venue.asset_id(&perp.settlement).map_or(0, |asset| asset.index());
        markets.push(MarketInfo { market, asset, layers: waterfall(market) });
    }
    markets
}

fn balances(venue: &VenueConfig) -> Vec<Balance> {
    let asset = |symbol: &str| venue.asset_id(symbol).map_or(0, |asset| asset.index());
    let mut balances = Vec::new();
    for (index, fund) in venue.funds.iter().enumerate() {
        balances.push(Balance {
            name: format!("fund:{}", fund.name),
            kind: BalanceKind::Fund,
            index,
            asset: asset(&fund.asset),
        });
    }
    for (index, offset) in venue.offsets.iter().enumerate() {
        balances.push(Balance {
            name: format!("offset:{}", offset.name),
            kind: BalanceKind::Offset,
            index,
            asset: asset(&offset.asset),
        });
    }
    for (index, pool) in venue.staker_pools.iter().enumerate() {
        balances.push(Balance {
            name: format!("stakers:{}", pool.name),
            kind: BalanceKind::Stakers,
            index,
            asset: asset(&pool.asset),
        });
    }
    for (index, pool) in venue.stability_pools.iter().enumerate() {
        balances.push(Balance {
            name: format!("stability:{}", pool.name),
            kind: BalanceKind::Stability,
            index,
            asset: asset(&pool.asset),
        });
    }
    balances
}

// ----- running -----

/// Runs a scenario.
///
/// # Errors
/// Bad scenario input or data (before any path runs), or a price path that cannot be generated.
pub fn run(scenario: &Scenario, options: &RunOptions<'_>) -> Result<RunResult, SimError> {
    let (paths, seed) = check_run(scenario, options)?;
    let selection: Vec<u32> = (0..paths).collect();
    let (metrics, traces) = run_paths(scenario, options, seed, &selection)?;
    let summary = crate::metrics::summarize(&metrics);
    let published = crate::published::compare(&scenario.expect, &summary);
    Ok(RunResult {
        scenario: scenario.scenario.name.clone(),
        seed,
        steps: scenario.run.steps,
        step_secs: scenario.run.step_secs,
        paths: metrics,
        traces,
        summary,
        published,
    })
}

/// One path's prices: per venue asset, per step.
pub type PathPrices = Vec<Vec<f64>>;

/// The prepared venue (population, keepers and funding in place, before any path) and the price
/// path of each path in `paths` as the runner draws it (`prices[i][asset][step]`, per venue asset
/// in venue order, 1 for an asset without a source, before price impact): what an outside model
/// of the same scenario needs (`examples/export_paths.rs`).
///
/// # Errors
/// As [`run`].
pub fn prepared_inputs(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    paths: &[u32],
) -> Result<(Engine, Vec<PathPrices>), SimError> {
    let (_, seed) = check_run(scenario, options)?;
    let prepared = prepare(scenario, load_venue(scenario)?, seed, options)?;
    let prices = paths
        .iter()
        .map(|path| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(u64::from(*path));
            let generated = prepared.model.generate(&mut rng);
            prepared
                .path_index
                .iter()
                .map(|index| {
                    (0..=scenario.run.steps)
                        .map(|step| index.map_or(1.0, |index| generated.price(index, step)))
                        .collect()
                })
                .collect()
        })
        .collect();
    Ok((prepared.engine, prices))
}

/// The run's path count and seed, after checking the ranges `run` needs.
pub(crate) fn check_run(
    scenario: &Scenario,
    options: &RunOptions<'_>,
) -> Result<(u32, u64), SimError> {
    let file = scenario.file.display().to_string();
    let paths = options.paths.unwrap_or(scenario.run.paths);
    if paths == 0 || paths > PATH_COUNT_MAX {
        return Err(SimError::new(
            file,
            format!("paths must be between 1 and {PATH_COUNT_MAX}, got {paths}"),
        ));
    }
    let (steps, step_secs) = (scenario.run.steps, scenario.run.step_secs);
    if steps == 0 || steps > STEP_COUNT_MAX || step_secs == 0 {
        return Err(SimError::new(
            file,
            format!("run: steps must be 1 to {STEP_COUNT_MAX} and step_secs positive"),
        ));
    }
    Ok((paths, options.seed.unwrap_or(scenario.run.seed)))
}

/// Runs the paths in `selection` (each from its own stream, so the set run does not change any
/// path's result) and returns their metrics and traces in the order of `selection`.
///
/// # Errors
/// As [`run`].
pub(crate) fn run_paths(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    seed: u64,
    selection: &[u32],
) -> Result<(Vec<PathMetrics>, Vec<PathTrace>), SimError> {
    let venue = load_venue(scenario)?;
    let prepared = prepare(scenario, venue, seed, options)?;
    let run_one = |path: &u32| {
        let outcome = run_path(&prepared, scenario, options, seed, *path);
        if let Some(done) = options.on_path_done {
            done();
        }
        outcome
    };
    let outcomes: Result<Vec<(PathMetrics, Option<PathTrace>)>, SimError> = match options.threads {
        Some(threads) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads.max(1))
                .build()
                .map_err(|problem| {
                    SimError::new(
                        scenario.file.display().to_string(),
                        format!("threads: {problem}"),
                    )
                })?;
            pool.install(|| selection.par_iter().map(run_one).collect())
        }
        None => selection.par_iter().map(run_one).collect(),
    };
    let mut metrics = Vec::with_capacity(selection.len());
    let mut traces = Vec::new();
    for (path_metrics, trace) in outcomes? {
        metrics.push(path_metrics);
        traces.extend(trace);
    }
    Ok((metrics, traces))
}

fn run_path(
    prepared: &Prepared,
    scenario: &Scenario,
    options: &RunOptions<'_>,
    seed: u64,
    path: u32,
) -> Result<(PathMetrics, Option<PathTrace>), SimError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(path));
    let prices = prepared.model.generate(&mut rng);
    let mut run = PathRun::new(prepared, scenario, path, rng, path < options.trace_paths);
    for step in 0..=scenario.run.steps {
        run.step(step, &prices);
        run.engine.verify_invariants().map_err(|broken| {
            SimError::new(
                scenario.file.display().to_string(),
                format!("path {path}, step {step}: the engine halted: {broken} (an engine bug)"),
            )
        })?;
    }
    Ok(run.finish())
}

/// One path in progress.
struct PathRun<'p> {
    prepared: &'p Prepared,
    step_secs: u64,
    engine: Engine,
    rng: ChaCha8Rng,
    market: Market,
    keepers: Keepers,
    /// Oracle prices of the current step, per asset.
    prices: Vec<f64>,
    metrics: PathMetrics,
    step: u32,
    /// Recognised deficit per market seen so far (raw).
    recognized: Vec<i128>,
    /// Paid per market and layer (raw, in the market's deficit asset).
    paid_raw: Vec<BTreeMap<String, i128>>,
    /// Running Dutch and English auctions: (collateral, debt) asset indices.
    auctions: BTreeMap<u64, (usize, usize)>,
    /// English-auction bidders' state (won lots to sell, gas spent).
    bidder_run: crate::bidders::BidderRun,
    /// Step each recapitalisation auction opened in.
    recap_opened: BTreeMap<u64, u32>,
    /// Queued withdrawals of a pool run: (unlock time, staker, pool), completed once due.
    unstakes: BTreeSet<(u64, AccountId, String)>,
    /// Staker slashes valued at the initial prices.
    slashed_value: f64,
    first_deficit_step: Option<u32>,
    last_uncovered_step: Option<u32>,
    uncovered_now: f64,
    trace: Option<PathTrace>,
    start_time: u64,
}

impl<'p> PathRun<'p> {
    fn new(
        prepared: &'p Prepared,
        scenario: &Scenario,
        path: u32,
        rng: ChaCha8Rng,
        traced: bool,
    ) -> PathRun<'p> {
        let keepers = Keepers::new(&scenario.keepers, prepared.keepers.clone());
        let exhausted = prepared.layers.iter().map(|layer| (layer.clone(), false)).collect();
        let trace = traced.then(|| {
            let mut trace = PathTrace { path, ..PathTrace::default() };
            for symbol in &prepared.symbols {
                trace.prices.insert(symbol.clone(), Vec::new());
            }
            for balance in &prepared.balances {
                trace.layer_balances.insert(balance.name.clone(), Vec::new());
            }
            for layer in &prepared.layers {
                trace.paid_cumulative.insert(layer.clone(), Vec::new());
            }
            trace
        });
        PathRun {
            prepared,
            step_secs: scenario.run.step_secs,
            engine: prepared.engine.clone(),
            rng,
            market: Market::new(&scenario.market, &prepared.symbols),
            keepers,
            prices: prepared.initial_prices.clone(),
            metrics: PathMetrics {
                path,
                exhausted,
                fund_min: f64::INFINITY,
                ..PathMetrics::default()
            },
            step: 0,
            recognized: prepared.recognized_start.clone(),
            paid_raw: vec![BTreeMap::new(); prepared.markets.len()],
            auctions: BTreeMap::new(),
            bidder_run: crate::bidders::BidderRun::default(),
            recap_opened: BTreeMap::new(),
            unstakes: BTreeSet::new(),
            slashed_value: 0.0,
            first_deficit_step: None,
            last_uncovered_step: None,
            uncovered_now: 0.0,
            trace,
            start_time: scenario.run.start.unwrap_or(0),
        }
    }

    /// Applies a command; a refusal is counted and changes nothing.
    fn apply(&mut self, command: &Command) -> Option<Vec<Event>> {
        match self.engine.apply(command) {
            Ok(events) => {
                self.observe(&events);
                Some(events)
            }
            Err(_) => {
                self.metrics.rejections = self.metrics.rejections.saturating_add(1);
                None
            }
        }
    }

    fn price(&self, asset: usize) -> f64 {
        self.prices.get(asset).copied().unwrap_or(0.0)
    }

    fn value(&self, amount: Amount, asset: usize) -> f64 {
        convert::to_f64(amount.raw()) * self.price(asset)
    }

    fn step(&mut self, step: u32, path: &PricePath) {
        self.step = step;
        if step == 0 {
            self.start_time = path.start;
        } else {
            self.apply(&Command::AdvanceTime {
                now: u64::from(step).saturating_mul(self.step_secs),
            });
        }
        let raw: Vec<f64> = self
            .prepared
            .path_index
            .iter()
            .map(|index| index.map_or(1.0, |index| path.price(index, step)))
            .collect();
        let mut oracle = self.market.begin_step(step, &raw);
        if self.prepared.exogenous.has_depegs() {
            for (asset, price) in oracle.iter_mut().enumerate() {
                if let Some(depeg) = self.prepared.exogenous.depeg_price(asset, step) {
                    *price = depeg;
                }
            }
        }
        for (index, price) in oracle.iter().enumerate() {
            self.apply(&Command::SetPrice {
                asset: asset_id(index),
                price: convert::price(*price),
            });
        }
        // Value everything at the oracle's actual prices (a guard may have refused an update).
        self.prices = self
            .engine
            .state()
            .prices
            .iter()
            .zip(&oracle)
            .map(|(entry, wanted)| {
                if entry.price.is_positive() { convert::to_f64(entry.price.raw()) } else { *wanted }
            })
            .collect();
        self.complete_unstakes();
        for command in self.prepared.exogenous.commands_at(step, &self.engine) {
            self.apply(&command);
        }
        self.keepers_act(step);
        self.bidders_act(step);
        self.settle_cover_claims();
        self.recapitalise(step);
        self.close_step(step);
    }

    fn keepers_act(&mut self, step: u32) {
        if self.keepers.ids.is_empty() {
            return;
        }
        let eligible = self.keepers.eligible(&self.engine, step, &mut self.rng);
        if self.keepers.in_outage(step) {
            return;
        }
        let mut budget = self.keepers.capacity;
        if !self.engine.state().auctions.is_empty() {
            let ids: Vec<AuctionId> = self.engine.state().auctions.keys().copied().collect();
            for id in ids {
                if budget == 0 {
                    break;
                }
                let Ok((price, needs_reset)) = self.engine.auction_price(id) else { continue };
                if needs_reset {
                    self.apply(&Command::ResetAuction { auction: id });
                    continue;
                }
                let Some(auction) = self.engine.state().auctions.get(&id) else { continue };
                let lot = auction.lot;
                let oracle = self
                    .engine
                    .state()
                    .prices
                    .get(auction.collateral.index())
                    .map_or(Price::ZERO, |entry| entry.price);
                if price > oracle {
                    continue;
                }
                let Some(keeper) = self.keepers.next_keeper() else { return };
                budget -= 1;
                self.apply(&Command::TakeAuction {
                    keeper,
                    auction: id,
                    amount: lot,
                    max_price: price,
                });
            }
        }
        for account_id in eligible {
            if budget == 0 {
                break;
            }
            let Some(account) = self.engine.account(account_id) else { continue };
            if account.auctions_running > 0
                || !crate::market::is_liquidatable(&self.engine, account_id)
            {
                continue;
            }
            let Some(choice) = choose_target(&self.engine, account, &self.prices) else { continue };
            let Some(keeper) = self.keepers.next_keeper() else { return };
            let seed = match choice.target {
                LiquidationTarget::Position { market }
                    if self.prepared.adl_random.get(market.index()).copied().unwrap_or(false) =>
                {
                    self.rng.next_u64().max(1)
                }
                _ => 0,
            };
            budget -= 1;
            let command = Command::Liquidate {
                keeper,
                account: account_id,
                target: choice.target,
                amount: choice.amount,
                seed,
            };
            if let Some(events) = self.apply(&command) {
                self.metrics.liquidations = self.metrics.liquidations.saturating_add(1);
                if events.iter().any(|event| matches!(event, Event::AccountTakenOver { .. })) {
                    self.metrics.liquidated_volume += choice.debt_value;
                }
            }
        }
    }

    /// English-auction bidders act (`crate::bidders`); lots won meanwhile join their queue.
    fn bidders_act(&mut self, step: u32) {
        let prepared = self.prepared;
        let Some(setup) = prepared.bidders.as_ref() else { return };
        let mut run = std::mem::take(&mut self.bidder_run);
        crate::bidders::act(self, setup, &mut run, step);
        let won = std::mem::replace(&mut self.bidder_run, run);
        self.bidder_run.merge(won);
    }

    /// Stakers who ran complete their withdrawals once the cooldown has passed (a refusal, such as
    /// withdrawals blocked by bad debt, is retried every step).
    fn complete_unstakes(&mut self) {
        if self.unstakes.is_empty() {
            return;
        }
        let now = self.engine.state().now;
        let due: Vec<(u64, AccountId, String)> =
            self.unstakes.iter().filter(|(unlock, _, _)| *unlock <= now).cloned().collect();
        for entry in due {
            let (_, account, pool) = &entry;
            let command = Command::CompleteUnstake { account: *account, pool: pool.clone() };
            if self.apply(&command).is_some() {
                self.unstakes.remove(&entry);
            }
        }
    }

    /// The guarantor pays every cover claim in full one step after it opened.
    fn settle_cover_claims(&mut self) {
        let now = self.engine.state().now;
        let due: Vec<(u64, Amount)> = self
            .engine
            .state()
            .net
            .claims
            .iter()
            .filter(|(_, claim)| claim.opened_at < now)
            .map(|(id, claim)| (*id, claim.amount))
            .collect();
        for (claim, amount) in due {
            self.apply(&Command::SettleCoverClaim { claim, amount });
        }
    }

    /// Approves recapitalisation auctions once any governance delay has passed, and fills them.
    fn recapitalise(&mut self, step: u32) {
        if self.engine.state().net.recap_auctions.is_empty() {
            return;
        }
        let auctions: Vec<(u64, bool, Amount)> = self
            .engine
            .state()
            .net
            .recap_auctions
            .iter()
            .map(|(id, auction)| (*id, auction.approved, auction.lot))
            .collect();
        for (auction, mut approved, lot) in auctions {
            if !approved {
                let opened = self.recap_opened.get(&auction).copied().unwrap_or(step);
                let delay = self.prepared.exogenous.approval_delay(opened);
                if step >= opened.saturating_add(delay) {
                    approved = self.apply(&Command::ApproveRecap { auction }).is_some();
                }
            }
            if approved {
                let account = self.prepared.funder;
                self.apply(&Command::BidRecap { account, auction, lot });
            }
        }
    }

    fn mark_exhausted(&mut self, layer: &str) {
        if let Some(flag) = self.metrics.exhausted.get_mut(layer) {
            *flag = true;
        } else {
            self.metrics.exhausted.insert(layer.to_owned(), true);
        }
    }

    fn observe(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::DebtLiquidated {
                    debt, collateral, repaid, seized, protocol_fee, ..
                } => {
                    let repaid_value = self.value(*repaid, debt.index());
                    self.metrics.liquidated_volume += repaid_value;
                    // The keeper buys the debt it repays and sells the collateral it seized.
                    self.market.trade(debt.index(), -repaid_value);
                    let sold = Amount::from_raw(seized.raw().saturating_sub(protocol_fee.raw()));
                    let value = self.value(sold, collateral.index());
                    self.market.trade(collateral.index(), value);
                }
                Event::PositionLiquidated { market, size, .. } => {
                    let underlying =
                        self.prepared.perp_underlying.get(market.index()).copied().unwrap_or(0);
                    // The keeper unwinds what it took over: sells a long, buys back a short.
                    let value = self.value(*size, underlying);
                    self.metrics.liquidated_volume += value.abs();
                    self.market.trade(underlying, value);
                }
                Event::Deleveraged { market, size, .. } => {
                    let underlying =
                        self.prepared.perp_underlying.get(market.index()).copied().unwrap_or(0);
                    self.metrics.liquidated_volume += self.value(*size, underlying).abs();
                }
                Event::StabilityLiquidated { debt, debt_closed, .. } => {
                    self.metrics.liquidated_volume += self.value(*debt_closed, debt.index());
                }
                Event::AuctionStarted { auction, collateral, debt, .. } => {
                    self.auctions.insert(auction.0, (collateral.index(), debt.index()));
                }
                Event::EnglishAuctionStarted { auction, collateral, debt, .. } => {
                    self.auctions.insert(auction.0, (collateral.index(), debt.index()));
                }
                Event::EnglishAuctionDealt { auction, winner, lot, bid, .. } => {
                    self.english_dealt(auction.0, *winner, *lot, *bid);
                }
                Event::RecapFilled { lot, .. } => {
                    self.metrics.tokens_minted += convert::to_f64(lot.raw());
                }
                Event::AuctionTaken { auction, collateral: bought, paid, .. } => {
                    if let Some((collateral, debt)) = self.auctions.get(&auction.0).copied() {
                        let paid_value = self.value(*paid, debt);
                        self.metrics.liquidated_volume += paid_value;
                        self.market.trade(debt, -paid_value);
                        let value = self.value(*bought, collateral);
                        self.market.trade(collateral, value);
                    }
                }
                Event::LayerPaid { market, layer, amount, remaining } => {
                    self.layer_paid(*market, layer, *amount, *remaining);
                }
                Event::Socialized { market, amount, .. } => {
                    if let Some(index) = self.prepared.market_index(*market) {
                        let asset = self.prepared.markets[index].asset;
                        self.metrics.socialized += self.value(*amount, asset);
                    }
                }
                Event::AdlFill { market, haircut, .. } => {
                    let index = self.prepared.market_index(MarketRef::Perp(*market));
                    let asset = index.map_or(0, |index| self.prepared.markets[index].asset);
                    let value = self.value(*haircut, asset);
                    self.metrics.adl_haircut_total += value;
                    self.metrics.adl_haircut_max = self.metrics.adl_haircut_max.max(value);
                }
                Event::StakersSlashed { pool, amount, .. } => {
                    let asset = self
                        .prepared
                        .engine
                        .config()
                        .staker_pools
                        .iter()
                        .find(|config| &config.name == pool)
                        .and_then(|config| self.prepared.engine.config().asset_id(&config.asset))
                        .map_or(0, |asset| asset.index());
                    let price = self.prepared.initial_prices.get(asset).copied().unwrap_or(0.0);
                    self.slashed_value += convert::to_f64(amount.raw()) * price;
                }
                Event::UnstakeRequested { account, pool, unlock_at, .. } => {
                    self.unstakes.insert((*unlock_at, *account, pool.clone()));
                }
                Event::Unstaked { account, pool, .. } => {
                    self.unstakes.retain(|(_, who, name)| !(who == account && name == pool));
                }
                Event::RecapAuctionOpened { auction, .. } => {
                    self.recap_opened.insert(*auction, self.step);
                }
                _ => {}
            }
        }
    }

    /// Counts a dealt English auction (and whether it went for zero) and queues its lot for sale.
    fn english_dealt(&mut self, auction: u64, winner: AccountId, lot: Amount, bid: Amount) {
        self.metrics.auctions_dealt = self.metrics.auctions_dealt.saturating_add(1);
        if bid.is_zero() {
            self.metrics.zero_bid_auctions = self.metrics.zero_bid_auctions.saturating_add(1);
        }
        let Some((collateral, debt)) = self.auctions.remove(&auction) else { return };
        self.metrics.liquidated_volume += self.value(bid, debt);
        if let Some(setup) = self.prepared.bidders.as_ref() {
            let assets = (asset_id(collateral), asset_id(debt));
            self.bidder_run.won(setup, self.step, winner, assets, lot);
        }
    }

    fn layer_paid(&mut self, market: MarketRef, layer: &str, amount: Amount, remaining: Amount) {
        let Some(index) = self.prepared.market_index(market) else { return };
        let prepared = self.prepared;
        let info = &prepared.markets[index];
        let value = self.value(amount, info.asset);
        *self.metrics.paid_by_layer.entry(layer.to_owned()).or_default() += value;
        if let Some(slot) = self.paid_raw.get_mut(index) {
            let entry = slot.entry(layer.to_owned()).or_default();
            *entry = entry.saturating_add(amount.raw());
        }
        if let Some(position) = info.layers.iter().position(|candidate| candidate == layer) {
            for earlier in &info.layers[..position] {
                self.mark_exhausted(earlier);
            }
            let pays_later = layer == "recap" || layer.starts_with("cover:");
            if remaining.is_positive() && !pays_later {
                self.mark_exhausted(layer);
            }
        }
    }

    fn close_step(&mut self, step: u32) {
        let prepared = self.prepared;
        let mut new_deficit = false;
        let mut uncovered = false;
        let mut uncovered_value = 0.0;
        for (index, info) in prepared.markets.iter().enumerate() {
            let state = self.engine.state();
            let recognized = state.net.recognized.get(&info.market).map_or(0, |a| a.raw());
            let delta = recognized.saturating_sub(self.recognized[index]);
            if delta > 0 {
                self.metrics.deficit_created += convert::to_f64(delta) * self.price(info.asset);
                self.recognized[index] = recognized;
                new_deficit = true;
            }
            let deficit = match info.market {
                MarketRef::Lending(asset) => state
                    .lending
                    .get(asset.index())
                    .and_then(Option::as_ref)
                    .map_or(0, |market| market.deficit.raw()),
                MarketRef::Perp(perp) => {
                    state.perps.get(perp.index()).map_or(0, |market| market.deficit.raw())
                }
            };
            let pending = state.net.pending.get(&info.market).map_or(0, |a| a.raw());
            let open = deficit.saturating_add(pending);
            if open > 0 {
                uncovered = true;
                uncovered_value += convert::to_f64(open) * self.price(info.asset);
            }
            if deficit > 0 {
                for layer in &info.layers {
                    self.mark_exhausted(layer);
                }
            }
        }
        if new_deficit && self.first_deficit_step.is_none() {
            self.first_deficit_step = Some(step);
        }
        if uncovered {
            self.last_uncovered_step = Some(step);
        }
        self.uncovered_now = uncovered_value;
        let net = &self.engine.state().net;
        let balance_of = |balance: &Balance| -> i128 {
            match balance.kind {
                BalanceKind::Fund => net.funds.get(balance.index).map_or(0, |f| f.balance.raw()),
                BalanceKind::Offset => net.offsets.get(balance.index).map_or(0, |a| a.raw()),
                BalanceKind::Stakers => {
                    net.staker_pools.get(balance.index).map_or(0, |p| p.assets.raw())
                }
                BalanceKind::Stability => {
                    net.stability_pools.get(balance.index).map_or(0, |p| p.deposits.raw())
                }
            }
        };
        let values: Vec<f64> = prepared
            .balances
            .iter()
            .map(|balance| convert::to_f64(balance_of(balance)) * self.price(balance.asset))
            .collect();
        let funds: f64 = prepared
            .balances
            .iter()
            .zip(&values)
            .filter(|(balance, _)| matches!(balance.kind, BalanceKind::Fund))
            .map(|(_, value)| value)
            .sum();
        self.metrics.fund_min = self.metrics.fund_min.min(funds);
        if let Some(trace) = self.trace.as_mut() {
            trace.times.push(
                self.start_time.saturating_add(u64::from(step).saturating_mul(self.step_secs)),
            );
            for (symbol, price) in prepared.symbols.iter().zip(&self.prices) {
                if let Some(series) = trace.prices.get_mut(symbol) {
                    series.push(*price);
                }
            }
            for (balance, value) in prepared.balances.iter().zip(&values) {
                if let Some(series) = trace.layer_balances.get_mut(&balance.name) {
                    series.push(*value);
                }
            }
            for (layer, paid) in &self.metrics.paid_by_layer {
                if !trace.paid_cumulative.contains_key(layer) {
                    let zeros = vec![0.0; step as usize];
                    trace.paid_cumulative.insert(layer.clone(), zeros);
                }
                let _ = paid;
            }
            for (layer, series) in &mut trace.paid_cumulative {
                series.push(self.metrics.paid_by_layer.get(layer).copied().unwrap_or(0.0));
            }
        }
    }

    fn finish(mut self) -> (PathMetrics, Option<PathTrace>) {
        let prepared = self.prepared;
        self.metrics.uncovered_at_end = self.uncovered_now;
        if self.metrics.auctions_dealt > 0 {
            self.metrics.zero_bid_share =
                f64::from(self.metrics.zero_bid_auctions) / f64::from(self.metrics.auctions_dealt);
        }
        self.metrics.gas_spent = self.bidder_run.gas_spent;
        if !self.metrics.fund_min.is_finite() {
            self.metrics.fund_min = 0.0;
        }
        self.metrics.time_to_recover_secs = match self.first_deficit_step {
            Some(first) if self.uncovered_now <= 0.0 => {
                let recovered =
                    self.last_uncovered_step.map_or(first, |last| last.saturating_add(1));
                Some(u64::from(recovered.saturating_sub(first)).saturating_mul(self.step_secs))
            }
            _ => None,
        };
        if prepared.staker_assets_value > 0.0 {
            self.metrics.staker_loss_share =
                (self.slashed_value / prepared.staker_assets_value).clamp(0.0, 1.0);
        }
        for layer in &prepared.layers {
            let mut beyond = 0.0;
            for (index, info) in prepared.markets.iter().enumerate() {
                let Some(position) = info.layers.iter().position(|l| l == layer) else { continue };
                let created =
                    self.recognized[index].saturating_sub(prepared.recognized_start[index]);
                let paid: i128 = info.layers[..=position]
                    .iter()
                    .map(|l| self.paid_raw[index].get(l).copied().unwrap_or(0))
                    .fold(0_i128, i128::saturating_add);
                let left = created.saturating_sub(paid);
                if left > 0 {
                    beyond += convert::to_f64(left) * self.price(info.asset).max(f64::MIN_POSITIVE);
                }
            }
            self.metrics.loss_beyond.insert(layer.clone(), beyond);
        }
        (self.metrics, self.trace)
    }
}

impl crate::bidders::AuctionVenue for PathRun<'_> {
    fn engine(&self) -> &Engine {
        &self.engine
    }
    fn submit(&mut self, command: &Command) -> bool {
        self.apply(command).is_some()
    }
    /// Bidders trade at the market price, not the (possibly delayed) oracle's.
    fn asset_price(&self, asset: usize) -> f64 {
        self.market.market_price(asset).unwrap_or_else(|| self.price(asset))
    }
    fn market_sell(&mut self, asset: usize, value: f64) {
        self.market.trade(asset, value);
    }
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn locates_keys_in_tables_and_arrays_of_tables() {
        let text = "\
[scenario]
name = \"x\"

[run]
steps = 10

[[prices.asset]]
asset = \"ETH\"
source = \"constant\"

[[prices.asset]]
asset = \"BTC\"
points = [
  [0, 1.0],
  [3600, 2.0]
]
volatility = 0.5

[[events]]
kind = \"depeg\"

[[events]]
kind = \"exploit\"
market = \"USDC\" # drained

[keepers]
outages = [[1, 2]]
";
        assert_eq!(locate(text, "run.steps"), Some(5));
        assert_eq!(locate(text, "prices.asset[1].points"), Some(13));
        assert_eq!(locate(text, "prices.asset[1].volatility"), Some(17));
        assert_eq!(locate(text, "prices.asset[0].source"), Some(9));
        assert_eq!(locate(text, "events[1].market"), Some(24));
        assert_eq!(locate(text, "events[0].market"), Some(19), "falls back to the item");
        assert_eq!(locate(text, "keepers.outages"), Some(27));
        assert_eq!(locate(text, "keepers.count"), Some(26), "falls back to the table");
        assert_eq!(locate(text, "market.depth"), None);
    }
}
