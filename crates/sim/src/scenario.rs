//! Scenario files (TOML, documented in docs/scenarios.md): the venue, the account population, the
//! price sources, market agents, exogenous events and run settings. Unknown keys and out-of-range
//! values are errors naming file, line and key, raised before any run.

use crate::SimError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name and description for reports.
    pub scenario: ScenarioInfo,
    /// The venue and its safety net: a path to a venue TOML, or an inline venue.
    pub venue: VenueSpec,
    /// Run settings.
    #[serde(default)]
    pub run: RunSpec,
    /// Price sources, one per priced asset.
    pub prices: PricesSpec,
    /// The accounts at the start of the run: `[[population]]` groups, or a `[population]` table
    /// with its own `seed` and `[[population.group]]` ([`crate::population::PopulationSection`]).
    #[serde(default)]
    pub population: crate::population::PopulationSection,
    /// Liquidation keepers.
    #[serde(default)]
    pub keepers: KeeperSpec,
    /// Bidders in English collateral auctions (`[bidders]`, [`crate::bidders`]); required when
    /// a lending market liquidates by `english_auction`.
    #[serde(default)]
    pub bidders: Option<BidderSpec>,
    /// Market depth and oracle behaviour.
    #[serde(default)]
    pub market: MarketSpec,
    /// Exogenous events.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Layers to fund at the start (fund, offset, staker pool), by waterfall layer text.
    #[serde(default)]
    pub funding: Vec<FundingSpec>,
    /// Published outcomes to compare the run with (`[[expect]]`, [`crate::published`]); never
    /// an input of the run.
    #[serde(default)]
    pub expect: Vec<crate::published::ExpectSpec>,
    /// Directory of the scenario file, for relative paths (set by [`load`]).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The scenario file's path (set by [`load`]).
    #[serde(skip)]
    pub file: PathBuf,
}

/// Name and description.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    /// Short name.
    pub name: String,
    /// What the scenario reproduces, with sources.
    #[serde(default)]
    pub description: String,
}

/// Where the venue comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueSpec {
    /// Path to a venue TOML, relative to the scenario file.
    #[serde(default)]
    pub path: Option<String>,
    /// An inline venue (the same tables as a venue file), instead of `path`.
    #[serde(default)]
    pub inline: Option<toml::Table>,
}

/// Run settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Steps per path.
    #[serde(default = "default_steps")]
    pub steps: u32,
    /// Seconds per step (the resolution price sources are bridged or sampled to).
    #[serde(default = "default_step_secs")]
    pub step_secs: u64,
    /// Monte Carlo paths (1 for a historical replay).
    #[serde(default = "default_paths")]
    pub paths: u32,
    /// Seed of every random choice.
    #[serde(default)]
    pub seed: u64,
    /// Unix time of step 0 (defaults to the first price point).
    #[serde(default)]
    pub start: Option<u64>,
}

fn default_steps() -> u32 {
    72
}

fn default_step_secs() -> u64 {
    3_600
}

fn default_paths() -> u32 {
    1
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            steps: default_steps(),
            step_secs: default_step_secs(),
            paths: default_paths(),
            seed: 0,
            start: None,
        }
    }
}

/// Price sources for the venue's assets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricesSpec {
    /// One source per asset; assets not listed keep a constant price of 1.
    pub asset: Vec<AssetPriceSpec>,
    /// Correlation matrix between the random shocks of the listed assets (model sources only),
    /// rows in the order of `asset`; absent: independent.
    #[serde(default)]
    pub correlation: Option<Vec<Vec<f64>>>,
}

/// The price source of one asset.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetPriceSpec {
    /// Asset symbol in the venue.
    pub asset: String,
    /// `constant`, `csv`, `waypoints`, `gbm`, `merton` or `bootstrap`.
    pub source: String,
    /// `constant`: the price; models: the starting price.
    #[serde(default)]
    pub price: Option<f64>,
    /// `csv` and `bootstrap`: path of a `timestamp,open,high,low,close[,volume]` file, relative to
    /// the scenario file.
    #[serde(default)]
    pub csv: Option<String>,
    /// `waypoints`: (seconds from start, price) pairs, bridged to the step resolution by a seeded
    /// Brownian bridge; published hourly or daily figures, with their source in a comment.
    #[serde(default)]
    pub points: Vec<(u64, f64)>,
    /// `waypoints`: volatility of the bridge per year (default 0.8).
    #[serde(default)]
    pub bridge_volatility: Option<f64>,
    /// `gbm`, `merton`: drift per year.
    #[serde(default)]
    pub drift: f64,
    /// `gbm`, `merton`: volatility per year.
    #[serde(default)]
    pub volatility: f64,
    /// `merton`: jumps per year.
    #[serde(default)]
    pub jump_intensity: f64,
    /// `merton`: mean of the log jump size.
    #[serde(default)]
    pub jump_mean: f64,
    /// `merton`: standard deviation of the log jump size.
    #[serde(default)]
    pub jump_std: f64,
    /// `bootstrap`: block length in steps.
    #[serde(default)]
    pub block: Option<u32>,
}

/// A group of accounts, generated from distributions or read from a CSV of positions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// `borrowers` (collateral + lending debt), `traders` (perpetual positions), `lenders`
    /// (supply), `stakers` (staker pool), `stability` (stability-pool depositors), or `csv`.
    pub kind: String,
    /// Number of accounts.
    #[serde(default)]
    pub count: u32,
    /// Collateral asset (borrowers, traders).
    #[serde(default)]
    pub collateral: Option<String>,
    /// Debt asset (borrowers), supplied asset (lenders).
    #[serde(default)]
    pub asset: Option<String>,
    /// Perpetual market (traders).
    #[serde(default)]
    pub market: Option<String>,
    /// Staker or stability pool name (stakers, stability).
    #[serde(default)]
    pub pool: Option<String>,
    /// Size distribution of each account's collateral value (numeraire).
    #[serde(default)]
    pub size: Option<Distribution>,
    /// Health-factor distribution at the start (borrowers).
    #[serde(default)]
    pub health: Option<Distribution>,
    /// Leverage distribution (traders).
    #[serde(default)]
    pub leverage: Option<Distribution>,
    /// Share of traders that are long (the rest short), default 0.5.
    #[serde(default)]
    pub long_share: Option<f64>,
    /// `csv`: path of a positions file (docs/scenarios.md), relative to the scenario file.
    #[serde(default)]
    pub csv: Option<String>,
}

/// A distribution of a positive number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Always `value`.
    Fixed {
        /// The value.
        value: f64,
    },
    /// Uniform on [min, max].
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Pareto with scale `min` and shape `alpha`, capped at `max` if given.
    Pareto {
        /// Scale (smallest value).
        min: f64,
        /// Shape.
        alpha: f64,
        /// Cap.
        #[serde(default)]
        max: Option<f64>,
    },
    /// Lognormal with the given median and log standard deviation.
    Lognormal {
        /// Median.
        median: f64,
        /// Standard deviation of the log.
        sigma: f64,
    },
}

/// Liquidation keepers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeeperSpec {
    /// Keeper accounts.
    #[serde(default = "default_keepers")]
    pub count: u32,
    /// Liquidations each keeper can make per step.
    #[serde(default = "default_capacity")]
    pub capacity_per_step: u32,
    /// Steps between an account becoming liquidatable and a keeper acting.
    #[serde(default)]
    pub latency_steps: u32,
    /// (start step, end step) windows in which keepers do not act.
    #[serde(default)]
    pub outages: Vec<(u32, u32)>,
    /// Numeraire each keeper starts with, in every asset it may need.
    #[serde(default = "default_keeper_capital")]
    pub capital: u64,
}

fn default_keepers() -> u32 {
    1
}

fn default_capacity() -> u32 {
    100
}

fn default_keeper_capital() -> u64 {
    100_000_000
}

impl Default for KeeperSpec {
    fn default() -> Self {
        KeeperSpec {
            count: default_keepers(),
            capacity_per_step: default_capacity(),
            latency_steps: 0,
            outages: Vec::new(),
            capital: default_keeper_capital(),
        }
    }
}

/// Bidders in English collateral auctions, limited by capital and transaction costs (every key
/// is required: there is no unlimited default).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BidderSpec {
    /// Bidder accounts.
    pub count: u32,
    /// Debt-asset units each bidder starts with (its whole bankroll).
    pub bankroll: f64,
    /// Reservation discount: a lot is worth `(1 − discount) ×` its oracle value to a bidder.
    pub discount: f64,
    /// Gas used by one action (a bid or a deal).
    pub gas_per_action: f64,
    /// Gas price waypoints `[seconds from the start, gwei]`, each held until the next.
    pub gas_price_gwei: Vec<(f64, f64)>,
    /// Asset gas is paid in (its oracle price turns gas into the numeraire).
    pub gas_asset: String,
    /// Steps after a deal before the won collateral is back in the bankroll as debt asset.
    pub recycle_steps: u32,
}

/// Market depth (price impact of liquidated collateral) and oracle behaviour.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    /// Per asset: numeraire depth at which selling moves the price by 1% (square-root impact);
    /// absent: no impact.
    #[serde(default)]
    pub depth: Vec<(String, f64)>,
    /// Fraction of the accumulated impact that decays each step (0..1).
    #[serde(default = "default_decay")]
    pub impact_decay: f64,
    /// Steps the oracle lags the market.
    #[serde(default)]
    pub oracle_delay_steps: u32,
}

fn default_decay() -> f64 {
    0.5
}

impl Default for MarketSpec {
    fn default() -> Self {
        MarketSpec { depth: Vec::new(), impact_decay: default_decay(), oracle_delay_steps: 0 }
    }
}

/// One exogenous event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// `exploit` (drain `amount` from `market` at `step`), `depeg` (set `asset` to `price` from
    /// `step` for `duration_steps`), `pool_run` (stakers of `pool` request unstaking of `share`
    /// of their shares at `step`), `governance_delay` (recapitalisation votes pass `delay_steps`
    /// after an auction opens), `buy_cover` (buy a term of `cover` for `term_secs`, the premium
    /// paid by `fund`).
    pub kind: String,
    /// Step at which it happens.
    #[serde(default)]
    pub step: u32,
    /// Market (exploit).
    #[serde(default)]
    pub market: Option<String>,
    /// Asset (depeg).
    #[serde(default)]
    pub asset: Option<String>,
    /// Amount drained (exploit), numeraire-free asset units.
    #[serde(default)]
    pub amount: Option<f64>,
    /// Price during a depeg.
    #[serde(default)]
    pub price: Option<f64>,
    /// Depeg duration.
    #[serde(default)]
    pub duration_steps: Option<u32>,
    /// Staker pool (pool_run).
    #[serde(default)]
    pub pool: Option<String>,
    /// Share of shares queued (pool_run).
    #[serde(default)]
    pub share: Option<f64>,
    /// Delay of governance approvals (governance_delay).
    #[serde(default)]
    pub delay_steps: Option<u32>,
    /// The `[[cover]]` bought (buy_cover).
    #[serde(default)]
    pub cover: Option<String>,
    /// The `[[fund]]` that pays the premium (buy_cover).
    #[serde(default)]
    pub fund: Option<String>,
    /// Length of the cover term in seconds (buy_cover).
    #[serde(default)]
    pub term_secs: Option<u64>,
}

/// Initial funding of a layer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundingSpec {
    /// Layer as in waterfalls: `fund:<name>`, `offset:<name>`, `stakers:<name>`.
    pub layer: String,
    /// Amount in the layer's asset.
    pub amount: f64,
}

/// Reads, parses and validates a scenario file.
///
/// # Errors
/// A [`SimError`] naming file, line and key for unreadable files, syntax errors, unknown keys and
/// out-of-range values.
pub fn load(path: &Path) -> Result<Scenario, SimError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        SimError::new(path.display().to_string(), format!("cannot read: {error}"))
    })?;
    parse(&text, path)
}

/// Parses and validates scenario text read from `path`.
///
/// # Errors
/// As [`load`].
pub fn parse(text: &str, path: &Path) -> Result<Scenario, SimError> {
    let mut scenario: Scenario = toml::from_str(text).map_err(|error| {
        let line = error.span().map(|span| backstop_core::config::line_of_offset(text, span.start));
        let location = match line {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        };
        SimError::new(location, error.message().to_owned())
    })?;
    scenario.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    scenario.file = path.to_path_buf();
    crate::runner::validate(&scenario, text)?;
    Ok(scenario)
}
