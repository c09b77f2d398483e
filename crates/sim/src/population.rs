//! Account populations: generated from distributions with a seed, or read from a CSV of positions,
//! turned into engine commands.
//!
//! Kinds (`[[population]] kind = ...`), all sizes in the numeraire at the initial prices:
//!
//! | kind | keys | commands per account |
//! | --- | --- | --- |
//! | `borrowers` | `count`, `collateral`, `asset` (debt), `size`, `health` | deposit `size` of collateral; borrow the debt asset so that the maintenance health factor equals the drawn `health`, but never more than the initial (collateral-factor) check allows; withdraw the borrowed tokens (so the debt is not itself collateral) |
//! | `traders` | `count`, `market`, `collateral` (default: the settlement asset), `size`, `leverage`, `long_share` (default 0.5) | deposit `size` of collateral; trade a position of notional `leverage × size` (long with probability `long_share`) against the market's maker, capped so the initial-margin and `max_leverage` checks pass |
//! | `lenders` | `count`, `asset`, `size` | deposit and supply |
//! | `stakers` | `count`, `pool` (a `[[staker_pool]]`), `size` | deposit the pool's asset and stake |
//! | `stability` | `count`, `pool` (a `[[stability_pool]]`), `size` | deposit the pool's asset into the stability pool |
//! | `csv` | `csv` | one account per distinct `account` label of the file (below) |
//!
//! Distributions (`size`, `health`, `leverage`): `fixed` (value), `uniform` (min, max), `pareto`
//! (scale `min`, shape `alpha`, optional cap `max`; median `min·2^{1/alpha}`), `lognormal`
//! (`median`, log standard deviation `sigma`). Sizes are capped at [`SIZE_MAX`].
//!
//! Helper accounts are created after the population: one **liquidity supplier** per borrowed
//! asset that supplies what the borrowers need beyond the lenders' supply, up to the rate curve's
//! kink (so borrowing starts at the kink's rate at most), and one **market maker** per perpetual
//! market with trades, holding [`MAKER_COLLATERAL_MULTIPLE`] × the gross notional traded in the
//! settlement asset (weighted), which takes the other side of every trade.
//!
//! Commands, in order: `set_price` for every venue asset (the initial price, or 1 for an asset
//! without one); every population account's `open_account`, `deposit` and `supply`, `stake` or
//! `stability_deposit`; the suppliers' and makers' `open_account`, `deposit` and `supply`; then
//! every borrower's `borrow` and `withdraw` and every trader's `trade`, in account order. Every
//! amount is quantised down to its asset's decimals (base sizes to the underlying's).
//!
//! # Positions CSV (`kind = "csv"`)
//!
//! ```text
//! account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size
//! alice,borrower,ETH,10,USDC,12000,,
//! bob,trader,USDC,5000,,,ETH-PERP,-2.5
//! carol,lender,USDC,100000,,,,
//! dave,staker,USDC,50000,,,backstop,
//! erin,stability,BOLD,20000,,,bold-weth,
//! ```
//!
//! - `account`: a label; rows with the same label act on one account, opened at its first row.
//! - `kind`: `borrower` (deposit `collateral_amount` of `collateral_asset`, borrow `debt_amount`
//!   of `debt_asset` and withdraw it), `trader` (deposit the collateral, then trade `size` units
//!   of the underlying in `market` against the maker at the oracle price; negative: short),
//!   `lender` (deposit and supply the collateral), `staker` (deposit and stake the collateral into
//!   the staker pool named in `market`), `stability` (deposit into the stability pool named in
//!   `market`).
//! - Amounts are in whole units of the asset, with at most the asset's decimals; unused cells
//!   are left empty. Lines starting with `#` are comments.

use crate::SimError;
use crate::convert;
use crate::scenario::{Distribution, PopulationSpec};
use backstop_core::{AccountId, AccountKind, AssetId, Command, PerpMarketId, VenueConfig};
use backstop_money::Amount;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, StandardNormal};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Largest account size (numeraire); larger samples are capped.
pub const SIZE_MAX: f64 = 1.0e12;
/// Largest leverage a trader distribution may give.
pub const LEVERAGE_MAX: f64 = 1_000.0;
/// Largest health factor a borrower distribution may give.
pub const HEALTH_MAX: f64 = 1_000.0;
/// A maker's weighted collateral as a multiple of the gross notional it takes on.
pub const MAKER_COLLATERAL_MULTIPLE: f64 = 2.0;
/// Safety margin under the initial-margin and leverage limits (relative).
const LIMIT_MARGIN: f64 = 1.0e-9;

/// The commands that open and fund a population's accounts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Population {
    /// Commands in order: prices first, then accounts, deposits, supplies, borrows, trades.
    pub commands: Vec<Command>,
    /// Accounts created: population accounts, then liquidity suppliers and market makers.
    pub accounts: Vec<AccountId>,
    /// The next unused account id.
    pub next_id: u64,
    /// The helper accounts (liquidity suppliers, then market makers), also in `accounts`.
    pub helpers: Vec<AccountId>,
    /// Each generated borrower's health factor right after preparation (the drawn health, or
    /// the initial check's limit when the draw was below it), in account order.
    pub health_targets: Vec<(AccountId, f64)>,
}

/// The scenario's `population`: either a plain `[[population]]` array of groups (the population
/// then follows the run's seed), or a `[population]` table with its own `seed` and the groups as
/// `[[population.group]]`, so that the same accounts are drawn whatever `[run] seed` or `--seed`
/// says and only the paths vary. Dereferences to the groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PopulationSection {
    /// Seed of the population's draws (`None`: the run's seed).
    pub seed: Option<u64>,
    /// The groups of accounts, in order.
    pub groups: Vec<PopulationSpec>,
    /// Whether the file used the `[population]` table form (error locations follow it).
    pub table_form: bool,
}

impl core::ops::Deref for PopulationSection {
    type Target = Vec<PopulationSpec>;

    fn deref(&self) -> &Vec<PopulationSpec> {
        &self.groups
    }
}

impl core::ops::DerefMut for PopulationSection {
    fn deref_mut(&mut self) -> &mut Vec<PopulationSpec> {
        &mut self.groups
    }
}

impl PopulationSection {
    /// The seed the population is drawn with: its own, else the run's.
    #[must_use]
    pub fn seed_or(&self, run_seed: u64) -> u64 {
        self.seed.unwrap_or(run_seed)
    }

    /// [`validate`] with locations in the file's form (`population.group[i].<key>` for the table).
    ///
    /// # Errors
    /// As [`validate`].
    pub fn validate(&self, venue: &VenueConfig, base_dir: &Path) -> Result<(), SimError> {
        validate(&self.groups, venue, base_dir).map_err(|problem| {
            match problem.location.strip_prefix("population[") {
                Some(rest) if self.table_form => {
                    SimError::new(format!("population.group[{rest}"), problem.message)
                }
                _ => problem,
            }
        })
    }
}

/// The `[population]` table form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationTable {
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    group: Vec<PopulationSpec>,
}

impl<'de> Deserialize<'de> for PopulationSection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Form;
        impl<'de> serde::de::Visitor<'de> for Form {
            type Value = PopulationSection;

            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("[[population]] groups, or a [population] table with seed and [[population.group]]")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                let groups = Vec::<PopulationSpec>::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(seq),
                )?;
                Ok(PopulationSection { seed: None, groups, table_form: false })
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let table = PopulationTable::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(PopulationSection { seed: table.seed, groups: table.group, table_form: true })
            }
        }
        deserializer.deserialize_any(Form)
    }
}

/// A draw from a distribution.
#[must_use]
pub fn sample(distribution: &Distribution, rng: &mut ChaCha8Rng) -> f64 {
    match *distribution {
        Distribution::Fixed { value } => value,
        Distribution::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
        Distribution::Pareto { min, alpha, max } => {
            // Inverse transform with U in (0, 1].
            let uniform = 1.0 - rng.random::<f64>();
            let value = min * uniform.powf(-1.0 / alpha);
            max.map_or(value, |cap| value.min(cap))
        }
        Distribution::Lognormal { median, sigma } => {
            let normal: f64 = StandardNormal.sample(rng);
            median * (sigma * normal).exp()
        }
    }
}

/// Checks a distribution's parameters: finite, positive values within `(0, limit]`.
fn check_distribution(
    distribution: &Distribution,
    location: &str,
    limit: f64,
) -> Result<(), SimError> {
    let positive = |value: f64| value.is_finite() && value > 0.0 && value <= limit;
    let bad = |message: String| Err(SimError::new(location.to_owned(), message));
    match *distribution {
        Distribution::Fixed { value } if !positive(value) => {
            bad(format!("value must be above 0 and at most {limit}, got {value}"))
        }
        Distribution::Uniform { min, max } if !(positive(min) && positive(max) && min <= max) => {
            bad(format!("needs 0 < min ≤ max ≤ {limit}, got min {min}, max {max}"))
        }
        Distribution::Pareto { min, alpha, max } => {
            if !positive(min) {
                return bad(format!("min must be above 0 and at most {limit}, got {min}"));
            }
            if !(alpha.is_finite() && alpha > 0.0) {
                return bad(format!("alpha must be above 0, got {alpha}"));
            }
            if let Some(cap) = max
                && !(cap.is_finite() && cap >= min)
            {
                return bad(format!("max must be at least min, got {cap}"));
            }
            Ok(())
        }
        Distribution::Lognormal { median, sigma } => {
            if !positive(median) {
                return bad(format!("median must be above 0 and at most {limit}, got {median}"));
            }
            if !(sigma.is_finite() && (0.0..=10.0).contains(&sigma)) {
                return bad(format!("sigma must be between 0 and 10, got {sigma}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Collateral weights (initial, maintenance) of an asset as the engine derives them: its lending
/// market's collateral factor and liquidation threshold; 1 for a perpetual settlement asset
/// without a lending market; 0 otherwise.
fn weights(venue: &VenueConfig, symbol: &str) -> (f64, f64) {
    if let Some(market) = venue.lending.iter().find(|market| market.asset == symbol) {
        return (
            convert::to_f64(market.collateral_factor.raw()),
            convert::to_f64(market.liquidation_threshold.raw()),
        );
    }
    if venue.perps.iter().any(|market| market.settlement == symbol) {
        (1.0, 1.0)
    } else {
        (0.0, 0.0)
    }
}

fn decimals(venue: &VenueConfig, symbol: &str) -> u32 {
    venue.assets.iter().find(|asset| asset.symbol == symbol).map_or(18, |asset| asset.decimals)
}

fn asset_id(venue: &VenueConfig, symbol: &str, location: &str) -> Result<AssetId, SimError> {
    venue.asset_id(symbol).ok_or_else(|| {
        SimError::new(location.to_owned(), format!("unknown asset {symbol:?} in the venue"))
    })
}

/// The generated kinds and the keys each uses (besides `kind`).
const KINDS: [(&str, &[&str]); 6] = [
    ("borrowers", &["count", "collateral", "asset", "size", "health"]),
    ("traders", &["count", "market", "collateral", "size", "leverage", "long_share"]),
    ("lenders", &["count", "asset", "size"]),
    ("stakers", &["count", "pool", "size"]),
    ("stability", &["count", "pool", "size"]),
    ("csv", &["csv"]),
];

/// Validates population specs against the venue (and reads positions files).
///
/// # Errors
/// The first problem, located as `population[i].<key>` (positions-file errors name file and
/// line).
pub fn validate(
    specs: &[PopulationSpec],
    venue: &VenueConfig,
    base_dir: &Path,
) -> Result<(), SimError> {
    let mut total: u64 = 0;
    for (index, spec) in specs.iter().enumerate() {
        total += u64::from(spec.count);
        if spec.kind == "csv" {
            let file = spec.csv.as_deref().unwrap_or_default();
            total += read_positions(&base_dir.join(file), venue)?.len() as u64;
        }
        check_spec(index, spec, venue)?;
        if total > u64::from(crate::POPULATION_MAX) {
            return Err(SimError::new(
                format!("population[{index}].count"),
                format!("the population has more than {} accounts", crate::POPULATION_MAX),
            ));
        }
    }
    Ok(())
}

fn check_spec(index: usize, spec: &PopulationSpec, venue: &VenueConfig) -> Result<(), SimError> {
    let key = |name: &str| format!("population[{index}].{name}");
    let error = |name: &str, message: String| Err(SimError::new(key(name), message));
    let Some(&(_, uses)) = KINDS.iter().find(|(kind, _)| *kind == spec.kind) else {
        return error(
            "kind",
            format!(
                "unknown kind {:?}: expected borrowers, traders, lenders, stakers, stability or csv",
                spec.kind
            ),
        );
    };
    let set = [
        ("count", spec.count != 0),
        ("collateral", spec.collateral.is_some()),
        ("asset", spec.asset.is_some()),
        ("market", spec.market.is_some()),
        ("pool", spec.pool.is_some()),
        ("size", spec.size.is_some()),
        ("health", spec.health.is_some()),
        ("leverage", spec.leverage.is_some()),
        ("long_share", spec.long_share.is_some()),
        ("csv", spec.csv.is_some()),
    ];
    for (name, present) in set {
        if present && !uses.contains(&name) {
            return error(name, format!("is not used by kind {:?}", spec.kind));
        }
    }
    let required = |name: &str, present: bool| {
        if present { Ok(()) } else { error(name, format!("is required by kind {:?}", spec.kind)) }
    };
    if spec.kind == "csv" {
        return required("csv", spec.csv.as_deref().is_some_and(|file| !file.is_empty()));
    }
    if spec.count == 0 {
        return error("count", "must be at least 1".to_owned());
    }
    match &spec.size {
        Some(size) => check_distribution(size, &key("size"), SIZE_MAX)?,
        None => return error("size", format!("is required by kind {:?}", spec.kind)),
    }
    match spec.kind.as_str() {
        "borrowers" => {
            let collateral = spec.collateral.as_deref().unwrap_or_default();
            required("collateral", spec.collateral.is_some())?;
            asset_id(venue, collateral, &key("collateral"))?;
            if weights(venue, collateral).1 <= 0.0 {
                return error(
                    "collateral",
                    format!("{collateral:?} has no collateral weight in the venue"),
                );
            }
            required("asset", spec.asset.is_some())?;
            let debt = spec.asset.as_deref().unwrap_or_default();
            check_borrowable(venue, debt, &key("asset"))?;
            if debt == collateral {
                return error("asset", "the debt asset must differ from the collateral".to_owned());
            }
            match &spec.health {
                Some(health) => check_distribution(health, &key("health"), HEALTH_MAX)?,
                None => return error("health", "is required by kind \"borrowers\"".to_owned()),
            }
        }
        "traders" => {
            required("market", spec.market.is_some())?;
            let name = spec.market.as_deref().unwrap_or_default();
            let market =
                venue.perps.iter().find(|market| market.name == name).ok_or_else(|| {
                    SimError::new(key("market"), format!("unknown perpetual market {name:?}"))
                })?;
            let collateral = spec.collateral.as_deref().unwrap_or(&market.settlement);
            asset_id(venue, collateral, &key("collateral"))?;
            if weights(venue, collateral).0 <= 0.0 {
                return error(
                    "collateral",
                    format!("{collateral:?} has no collateral weight in the venue"),
                );
            }
            if weights(venue, &market.settlement).0 <= 0.0 {
                return error(
                    "market",
                    format!(
                        "the settlement asset {:?} has no collateral weight for the maker",
                        market.settlement
                    ),
                );
            }
            match &spec.leverage {
                Some(leverage) => check_distribution(leverage, &key("leverage"), LEVERAGE_MAX)?,
                None => return error("leverage", "is required by kind \"traders\"".to_owned()),
            }
            if let Some(share) = spec.long_share
                && !(share.is_finite() && (0.0..=1.0).contains(&share))
            {
                return error("long_share", format!("must be between 0 and 1, got {share}"));
            }
        }
        "lenders" => {
            required("asset", spec.asset.is_some())?;
            let asset = spec.asset.as_deref().unwrap_or_default();
            asset_id(venue, asset, &key("asset"))?;
            if !venue.lending.iter().any(|market| market.asset == asset) {
                return error("asset", format!("{asset:?} has no lending market"));
            }
        }
        "stakers" => {
            required("pool", spec.pool.is_some())?;
            staker_pool_asset(venue, spec.pool.as_deref().unwrap_or_default(), &key("pool"))?;
        }
        "stability" => {
            required("pool", spec.pool.is_some())?;
            stability_pool_asset(venue, spec.pool.as_deref().unwrap_or_default(), &key("pool"))?;
        }
        _ => {}
    }
    Ok(())
}

fn check_borrowable(venue: &VenueConfig, debt: &str, location: &str) -> Result<(), SimError> {
    asset_id(venue, debt, location)?;
    match venue.lending.iter().find(|market| market.asset == debt) {
        None => Err(SimError::new(location.to_owned(), format!("{debt:?} has no lending market"))),
        Some(market) if !market.borrow_enabled => {
            Err(SimError::new(location.to_owned(), format!("borrowing {debt:?} is disabled")))
        }
        Some(_) => Ok(()),
    }
}

fn staker_pool_asset<'v>(
    venue: &'v VenueConfig,
    pool: &str,
    location: &str,
) -> Result<&'v str, SimError> {
    venue
        .staker_pools
        .iter()
        .find(|candidate| candidate.name == pool)
        .map(|pool| pool.asset.as_str())
        .ok_or_else(|| SimError::new(location.to_owned(), format!("unknown staker pool {pool:?}")))
}

fn stability_pool_asset<'v>(
    venue: &'v VenueConfig,
    pool: &str,
    location: &str,
) -> Result<&'v str, SimError> {
    venue
        .stability_pools
        .iter()
        .find(|candidate| candidate.name == pool)
        .map(|pool| pool.asset.as_str())
        .ok_or_else(|| {
            SimError::new(location.to_owned(), format!("unknown stability pool {pool:?}"))
        })
}

/// One row of a positions CSV, checked against the venue.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionRow {
    /// `file:line`, for errors.
    pub location: String,
    /// Account label.
    pub account: String,
    /// `borrower`, `trader`, `lender`, `staker` or `stability`.
    pub kind: String,
    /// Collateral asset and amount.
    pub collateral: Option<(AssetId, Amount)>,
    /// Debt asset and amount (borrowers).
    pub debt: Option<(AssetId, Amount)>,
    /// Perpetual market (traders).
    pub market: Option<PerpMarketId>,
    /// Pool name (stakers, stability).
    pub pool: Option<String>,
    /// Signed base size (traders).
    pub size: Amount,
}

/// Reads and checks a positions CSV (format in the module documentation).
///
/// # Errors
/// Unreadable file, missing columns, unknown assets, markets or pools, bad amounts, naming file
/// and line.
pub fn read_positions(path: &Path, venue: &VenueConfig) -> Result<Vec<PositionRow>, SimError> {
    let file = path.display().to_string();
    let data = std::fs::read(path)
        .map_err(|error| SimError::new(file.clone(), format!("cannot read: {error}")))?;
    parse_positions(&data, &file, venue)
}

/// Parses a positions CSV; `file` names it in errors.
///
/// # Errors
/// As [`read_positions`].
pub fn parse_positions(
    data: &[u8],
    file: &str,
    venue: &VenueConfig,
) -> Result<Vec<PositionRow>, SimError> {
    const COLUMNS: [&str; 8] = [
        "account",
        "kind",
        "collateral_asset",
        "collateral_amount",
        "debt_asset",
        "debt_amount",
        "market",
        "size",
    ];
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .flexible(false)
        .from_reader(data);
    let headers = reader
        .headers()
        .map_err(|error| {
            SimError::new(format!("{file}:1"), format!("cannot read the header: {error}"))
        })?
        .clone();
    let mut columns = [0_usize; 8];
    for (slot, name) in columns.iter_mut().zip(COLUMNS) {
        *slot = headers
            .iter()
            .position(|header| header.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                SimError::new(
                    format!("{file}:1"),
                    format!("the header must name {}; `{name}` is missing", COLUMNS.join(",")),
                )
            })?;
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| {
            let line = error.position().map_or(0, csv::Position::line);
            SimError::new(format!("{file}:{line}"), format!("bad row: {error}"))
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let location = format!("{file}:{line}");
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() >= crate::POPULATION_MAX as usize {
            return Err(SimError::new(
                location,
                format!("more than {} rows", crate::POPULATION_MAX),
            ));
        }
        let field = |index: usize| record.get(columns[index]).unwrap_or("");
        let bad = |column: &str, message: String| {
            SimError::new(location.clone(), format!("{column}: {message}"))
        };
        let asset_amount = |asset_column: usize,
                            amount_column: usize|
         -> Result<Option<(AssetId, Amount)>, SimError> {
            let (symbol, text) = (field(asset_column), field(amount_column));
            if symbol.is_empty() && text.is_empty() {
                return Ok(None);
            }
            let asset = venue
                .asset_id(symbol)
                .ok_or_else(|| bad(COLUMNS[asset_column], format!("unknown asset {symbol:?}")))?;
            let amount = parse_amount(text, decimals(venue, symbol))
                .map_err(|message| bad(COLUMNS[amount_column], message))?;
            if amount.is_negative() {
                return Err(bad(COLUMNS[amount_column], "must not be negative".to_owned()));
            }
            Ok(Some((asset, amount)))
        };
        let account = field(0).to_owned();
        if account.is_empty() {
            return Err(bad("account", "a label is required".to_owned()));
        }
        let kind = field(1).to_owned();
        let collateral = asset_amount(2, 3)?;
        let debt = asset_amount(4, 5)?;
        let market_text = field(6);
        let size_text = field(7);
        let mut row = PositionRow {
            location: location.clone(),
            account,
            kind: kind.clone(),
            collateral,
            debt: None,
            market: None,
            pool: None,
            size: Amount::ZERO,
        };
        let unused = |column: usize, present: bool| {
            if present {
                Err(bad(COLUMNS[column], format!("is not used by kind {kind:?}")))
            } else {
                Ok(())
            }
        };
        let need_collateral = || {
            row.collateral.filter(|(_, amount)| amount.is_positive()).ok_or_else(|| {
                bad("collateral_amount", format!("a positive amount is required by kind {kind:?}"))
            })
        };
        match kind.as_str() {
            "borrower" => {
                let (collateral, _) = need_collateral()?;
                let (debt_asset, amount) =
                    debt.filter(|(_, amount)| amount.is_positive()).ok_or_else(|| {
                        bad(
                            "debt_amount",
                            "a positive amount is required by kind \"borrower\"".to_owned(),
                        )
                    })?;
                check_borrowable(venue, venue.asset_symbol(debt_asset), &location)?;
                if debt_asset == collateral {
                    return Err(bad(
                        "debt_asset",
                        "must differ from the collateral asset".to_owned(),
                    ));
                }
                unused(6, !market_text.is_empty())?;
                unused(7, !size_text.is_empty())?;
                row.debt = Some((debt_asset, amount));
            }
            "trader" => {
                need_collateral()?;
                unused(4, debt.is_some())?;
                let market = venue.perp_id(market_text).ok_or_else(|| {
                    bad("market", format!("unknown perpetual market {market_text:?}"))
                })?;
                let underlying = &venue.perps[market.index()].underlying;
                let size = parse_amount(size_text, decimals(venue, underlying))
                    .map_err(|message| bad("size", message))?;
                if size.is_zero() {
                    return Err(bad("size", "must not be zero".to_owned()));
                }
                row.market = Some(market);
                row.size = size;
            }
            "lender" => {
                let (asset, _) = need_collateral()?;
                if !venue.lending.iter().any(|market| venue.asset_id(&market.asset) == Some(asset))
                {
                    return Err(bad(
                        "collateral_asset",
                        format!("{:?} has no lending market", venue.asset_symbol(asset)),
                    ));
                }
                unused(4, debt.is_some())?;
                unused(6, !market_text.is_empty())?;
                unused(7, !size_text.is_empty())?;
            }
            "staker" | "stability" => {
                let (asset, _) = need_collateral()?;
                unused(4, debt.is_some())?;
                unused(7, !size_text.is_empty())?;
                let pool_asset = if kind == "staker" {
                    staker_pool_asset(venue, market_text, &format!("{location}: market"))?
                } else {
                    stability_pool_asset(venue, market_text, &format!("{location}: market"))?
                };
                if venue.asset_id(pool_asset) != Some(asset) {
                    return Err(bad(
                        "collateral_asset",
                        format!("pool {market_text:?} holds {pool_asset:?}"),
                    ));
                }
                row.pool = Some(market_text.to_owned());
            }
            other => {
                return Err(bad(
                    "kind",
                    format!(
                        "unknown kind {other:?}: expected borrower, trader, lender, staker or stability"
                    ),
                ));
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Parses a decimal amount with at most `decimals` decimals.
fn parse_amount(text: &str, decimals: u32) -> Result<Amount, String> {
    let amount: Amount =
        text.parse().map_err(|_| format!("expected a decimal number, got {text:?}"))?;
    let unit = 10_i128.pow(18_u32.saturating_sub(decimals));
    if amount.raw() % unit != 0 {
        return Err(format!("{text} has more than {decimals} decimals"));
    }
    Ok(amount)
}

/// Work waiting for the helper accounts: borrows need the suppliers' cash, trades the makers.
enum Pending {
    Borrow { account: AccountId, asset: AssetId, amount: Amount },
    Trade { location: String, account: AccountId, market: PerpMarketId, base: Amount },
}

struct Builder<'a> {
    venue: &'a VenueConfig,
    /// Per asset: the fixed-point initial price as a float.
    prices: Vec<f64>,
    next_id: u64,
    setup: Vec<Command>,
    pending: Vec<Pending>,
    accounts: Vec<AccountId>,
    health_targets: Vec<(AccountId, f64)>,
    /// Per asset: units supplied by the population.
    supplied: Vec<f64>,
    /// Per asset: units borrowed by the population.
    borrowed: Vec<f64>,
}

impl Builder<'_> {
    fn open(&mut self) -> Result<AccountId, SimError> {
        let id = AccountId(self.next_id);
        self.next_id = self
            .next_id
            .checked_add(1)
            .ok_or_else(|| SimError::new("population", "account ids overflow"))?;
        if self.next_id > self.venue.venue.account_count_max {
            return Err(SimError::new(
                "population",
                format!(
                    "more accounts than the venue's account_count_max {}",
                    self.venue.venue.account_count_max
                ),
            ));
        }
        self.accounts.push(id);
        self.setup.push(Command::OpenAccount { account: id, kind: AccountKind::Regular });
        Ok(id)
    }

    fn price(&self, asset: AssetId) -> f64 {
        self.prices.get(asset.index()).copied().unwrap_or(1.0)
    }

    fn decimals(&self, asset: AssetId) -> u32 {
        self.venue.assets.get(asset.index()).map_or(18, |config| config.decimals)
    }

    /// Units of `asset` worth `value` (numeraire), quantised down.
    fn units(&self, value: f64, asset: AssetId) -> Amount {
        convert::amount_in_units(value / self.price(asset), self.decimals(asset))
    }

    fn deposit(&mut self, account: AccountId, asset: AssetId, amount: Amount) {
        if amount.is_positive() {
            self.setup.push(Command::Deposit { account, asset, amount });
        }
    }

    fn supply(&mut self, account: AccountId, asset: AssetId, amount: Amount) {
        if amount.is_positive() {
            self.deposit(account, asset, amount);
            self.setup.push(Command::Supply { account, asset, amount });
            self.supplied[asset.index()] += convert::to_f64(amount.raw());
        }
    }

    /// A borrower: the debt that puts its maintenance health factor at `health` (or at the
    /// initial check's limit).
    fn borrower(
        &mut self,
        collateral: AssetId,
        debt: AssetId,
        size: f64,
        health: f64,
    ) -> Result<(), SimError> {
        let account = self.open()?;
        let amount = self.units(size, collateral);
        self.deposit(account, collateral, amount);
        let (initial, maintenance) = weights(self.venue, self.venue.asset_symbol(collateral));
        let collateral_value = convert::to_f64(amount.raw()) * self.price(collateral);
        let debt_price = self.price(debt);
        let for_health = collateral_value * maintenance / (health * debt_price);
        let initial_limit = collateral_value * initial / debt_price * (1.0 - LIMIT_MARGIN);
        let borrowed = convert::amount_in_units(for_health.min(initial_limit), self.decimals(debt));
        if borrowed.is_positive() {
            let units = convert::to_f64(borrowed.raw());
            self.borrowed[debt.index()] += units;
            self.health_targets
                .push((account, collateral_value * maintenance / (units * debt_price)));
            self.pending.push(Pending::Borrow { account, asset: debt, amount: borrowed });
        }
        Ok(())
    }

    /// A trader: a position of notional `leverage × size` within the initial-margin and
    /// leverage limits.
    #[allow(clippy::too_many_arguments)]
    fn trader(
        &mut self,
        location: &str,
        market: PerpMarketId,
        collateral: AssetId,
        size: f64,
        leverage: f64,
        long: bool,
    ) -> Result<(), SimError> {
        let account = self.open()?;
        let amount = self.units(size, collateral);
        self.deposit(account, collateral, amount);
        let config = &self.venue.perps[market.index()];
        let (underlying, settlement) = (
            self.venue.asset_id(&config.underlying).unwrap_or(AssetId(0)),
            self.venue.asset_id(&config.settlement).unwrap_or(AssetId(0)),
        );
        let value = convert::to_f64(amount.raw()) * self.price(collateral);
        let weight = weights(self.venue, self.venue.asset_symbol(collateral)).0;
        let fee = convert::to_f64(config.trading_fee.raw());
        let initial_margin = convert::to_f64(config.initial_margin.raw());
        let max_leverage = convert::to_f64(config.max_leverage.raw());
        let settlement_price = self.price(settlement);
        let margin_limit = value * weight / (initial_margin + fee);
        let leverage_limit = max_leverage * value / (1.0 / settlement_price + max_leverage * fee);
        let notional =
            (leverage * value).min(margin_limit.min(leverage_limit) * (1.0 - LIMIT_MARGIN));
        let base =
            convert::amount_in_units(notional / self.price(underlying), self.decimals(underlying));
        if base.is_positive() {
            let base = if long { base } else { Amount::from_raw(-base.raw()) };
            self.pending.push(Pending::Trade {
                location: location.to_owned(),
                account,
                market,
                base,
            });
        }
        Ok(())
    }
}

/// Generates the population's commands (see the module documentation). Draws, per account in
/// spec order: size, then health (borrowers) or leverage and side (traders).
///
/// # Errors
/// Bad specs, unreadable positions files, more accounts than the venue allows, or trades beyond
/// a market's open-interest cap.
pub fn generate(
    specs: &[PopulationSpec],
    venue: &VenueConfig,
    initial_prices: &BTreeMap<String, f64>,
    first_id: u64,
    base_dir: &Path,
    rng: &mut ChaCha8Rng,
) -> Result<Population, SimError> {
    let asset_count = venue.assets.len();
    let prices: Vec<f64> = venue
        .assets
        .iter()
        .map(|asset| {
            let price = convert::price(initial_prices.get(&asset.symbol).copied().unwrap_or(1.0));
            convert::to_f64(price.raw())
        })
        .collect();
    let mut commands: Vec<Command> = venue
        .assets
        .iter()
        .zip(&prices)
        .enumerate()
        .map(|(index, (_, price))| Command::SetPrice {
            asset: AssetId(u16::try_from(index).unwrap_or(u16::MAX)),
            price: convert::price(*price),
        })
        .collect();
    let mut builder = Builder {
        venue,
        prices,
        next_id: first_id,
        setup: Vec::new(),
        pending: Vec::new(),
        accounts: Vec::new(),
        health_targets: Vec::new(),
        supplied: vec![0.0; asset_count],
        borrowed: vec![0.0; asset_count],
    };
    for (index, spec) in specs.iter().enumerate() {
        check_spec(index, spec, venue)?;
        let key = |name: &str| format!("population[{index}].{name}");
        if spec.kind == "csv" {
            let file = spec.csv.as_deref().unwrap_or_default();
            let rows = read_positions(&base_dir.join(file), venue)?;
            add_positions(&mut builder, &rows)?;
            continue;
        }
        let size_distribution =
            spec.size.as_ref().ok_or_else(|| SimError::new(key("size"), "is required"))?;
        for _ in 0..spec.count {
            let size = sample(size_distribution, rng).min(SIZE_MAX);
            match spec.kind.as_str() {
                "borrowers" => {
                    let health = spec.health.as_ref().map_or(2.0, |health| sample(health, rng));
                    let collateral = asset_id(
                        venue,
                        spec.collateral.as_deref().unwrap_or_default(),
                        &key("collateral"),
                    )?;
                    let debt =
                        asset_id(venue, spec.asset.as_deref().unwrap_or_default(), &key("asset"))?;
                    builder.borrower(collateral, debt, size, health)?;
                }
                "traders" => {
                    let leverage =
                        spec.leverage.as_ref().map_or(1.0, |leverage| sample(leverage, rng));
                    let long = rng.random::<f64>() < spec.long_share.unwrap_or(0.5);
                    let name = spec.market.as_deref().unwrap_or_default();
                    let market = venue
                        .perp_id(name)
                        .ok_or_else(|| SimError::new(key("market"), "unknown market"))?;
                    let settlement = &venue.perps[market.index()].settlement;
                    let collateral = asset_id(
                        venue,
                        spec.collateral.as_deref().unwrap_or(settlement),
                        &key("collateral"),
                    )?;
                    builder.trader(
                        &format!("population[{index}]"),
                        market,
                        collateral,
                        size,
                        leverage,
                        long,
                    )?;
                }
                "lenders" => {
                    let account = builder.open()?;
                    let asset =
                        asset_id(venue, spec.asset.as_deref().unwrap_or_default(), &key("asset"))?;
                    let amount = builder.units(size, asset);
                    builder.supply(account, asset, amount);
                }
                "stakers" | "stability" => {
                    let account = builder.open()?;
                    let pool = spec.pool.clone().unwrap_or_default();
                    let symbol = if spec.kind == "stakers" {
                        staker_pool_asset(venue, &pool, &key("pool"))?
                    } else {
                        stability_pool_asset(venue, &pool, &key("pool"))?
                    };
                    let asset = asset_id(venue, symbol, &key("pool"))?;
                    let amount = builder.units(size, asset);
                    if amount.is_positive() {
                        builder.deposit(account, asset, amount);
                        builder.setup.push(if spec.kind == "stakers" {
                            Command::Stake { account, pool, amount }
                        } else {
                            Command::StabilityDeposit { account, pool, amount }
                        });
                    }
                }
                _ => {}
            }
        }
    }
    let population_accounts = builder.accounts.len();
    add_suppliers(&mut builder);
    let makers = add_makers(&mut builder)?;
    check_open_interest(&builder, &makers)?;
    let helpers = builder.accounts[population_accounts..].to_vec();
    commands.append(&mut builder.setup);
    for pending in builder.pending {
        match pending {
            Pending::Borrow { account, asset, amount } => {
                commands.push(Command::Borrow { account, asset, amount });
                commands.push(Command::Withdraw { account, asset, amount });
            }
            Pending::Trade { account, market, base, .. } => {
                let (underlying, settlement) = perp_assets(venue, market);
                let price = builder.prices[underlying.index()] / builder.prices[settlement.index()];
                let maker = makers.get(&market).copied().unwrap_or(account);
                commands.push(Command::Trade {
                    market,
                    taker: account,
                    maker,
                    size: base,
                    price: convert::price(price),
                });
            }
        }
    }
    Ok(Population {
        commands,
        accounts: builder.accounts,
        next_id: builder.next_id,
        helpers,
        health_targets: builder.health_targets,
    })
}

fn perp_assets(venue: &VenueConfig, market: PerpMarketId) -> (AssetId, AssetId) {
    let config = &venue.perps[market.index()];
    (
        venue.asset_id(&config.underlying).unwrap_or(AssetId(0)),
        venue.asset_id(&config.settlement).unwrap_or(AssetId(0)),
    )
}

/// The rows of a positions file: one account per label, in order of first appearance.
fn add_positions(builder: &mut Builder<'_>, rows: &[PositionRow]) -> Result<(), SimError> {
    let mut labels: BTreeMap<&str, AccountId> = BTreeMap::new();
    for row in rows {
        let account = match labels.get(row.account.as_str()) {
            Some(&account) => account,
            None => {
                let account = builder.open()?;
                labels.insert(&row.account, account);
                account
            }
        };
        let Some((asset, amount)) = row.collateral else { continue };
        match row.kind.as_str() {
            "lender" => builder.supply(account, asset, amount),
            "staker" | "stability" => {
                builder.deposit(account, asset, amount);
                let pool = row.pool.clone().unwrap_or_default();
                builder.setup.push(if row.kind == "staker" {
                    Command::Stake { account, pool, amount }
                } else {
                    Command::StabilityDeposit { account, pool, amount }
                });
            }
            "borrower" => {
                builder.deposit(account, asset, amount);
                if let Some((debt, debt_amount)) = row.debt {
                    builder.borrowed[debt.index()] += convert::to_f64(debt_amount.raw());
                    builder.pending.push(Pending::Borrow {
                        account,
                        asset: debt,
                        amount: debt_amount,
                    });
                }
            }
            "trader" => {
                builder.deposit(account, asset, amount);
                if let Some(market) = row.market {
                    builder.pending.push(Pending::Trade {
                        location: row.location.clone(),
                        account,
                        market,
                        base: row.size,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// One supplier per borrowed asset (asset order) for what the population's lenders do not
/// supply, so utilisation starts at the kink at most.
fn add_suppliers(builder: &mut Builder<'_>) {
    for index in 0..builder.borrowed.len() {
        let borrowed = builder.borrowed[index];
        if borrowed <= 0.0 {
            continue;
        }
        let asset = AssetId(u16::try_from(index).unwrap_or(u16::MAX));
        let symbol = builder.venue.asset_symbol(asset).to_owned();
        let kink = builder
            .venue
            .lending
            .iter()
            .find(|market| market.asset == symbol)
            .map_or(1.0, |market| convert::to_f64(market.rate.kink.raw()))
            .max(0.01);
        let needed = borrowed / kink - builder.supplied[index];
        if needed <= 0.0 {
            continue;
        }
        let decimals = builder.decimals(asset);
        let unit = 10_f64.powi(-(decimals as i32));
        let amount = convert::amount_in_units(needed + 2.0 * unit, decimals);
        if let Ok(account) = builder.open() {
            builder.supply(account, asset, amount);
        }
    }
}

/// One maker per market with trades (market order), holding enough settlement collateral.
fn add_makers(builder: &mut Builder<'_>) -> Result<BTreeMap<PerpMarketId, AccountId>, SimError> {
    let mut gross: BTreeMap<PerpMarketId, f64> = BTreeMap::new();
    for pending in &builder.pending {
        if let Pending::Trade { market, base, .. } = pending {
            let (underlying, _) = perp_assets(builder.venue, *market);
            *gross.entry(*market).or_default() +=
                convert::to_f64(base.raw()).abs() * builder.price(underlying);
        }
    }
    let mut makers = BTreeMap::new();
    for (market, notional) in gross {
        let (_, settlement) = perp_assets(builder.venue, market);
        let weight = weights(builder.venue, builder.venue.asset_symbol(settlement)).0;
        if weight <= 0.0 {
            return Err(SimError::new(
                "population",
                format!(
                    "the settlement asset of {} has no collateral weight for the maker",
                    builder.venue.perp_name(market)
                ),
            ));
        }
        let account = builder.open()?;
        let amount = builder.units(MAKER_COLLATERAL_MULTIPLE * notional / weight, settlement);
        builder.deposit(account, settlement, amount);
        makers.insert(market, account);
    }
    Ok(makers)
}

/// Refuses trades that would take a market's long open interest past its cap (the engine's
/// check, run ahead so the error names the population).
fn check_open_interest(
    builder: &Builder<'_>,
    makers: &BTreeMap<PerpMarketId, AccountId>,
) -> Result<(), SimError> {
    let mut positions: BTreeMap<(PerpMarketId, AccountId), f64> = BTreeMap::new();
    let mut open_interest: BTreeMap<PerpMarketId, f64> = BTreeMap::new();
    for pending in &builder.pending {
        let Pending::Trade { location, account, market, base } = pending else { continue };
        let Some(&maker) = makers.get(market) else { continue };
        let size = convert::to_f64(base.raw());
        let before = *open_interest.get(market).unwrap_or(&0.0);
        let mut after = before;
        for (holder, change) in [(*account, size), (maker, -size)] {
            let position = positions.entry((*market, holder)).or_default();
            after += (*position + change).max(0.0) - position.max(0.0);
            *position += change;
        }
        open_interest.insert(*market, after);
        let cap = convert::to_f64(builder.venue.perps[market.index()].open_interest_cap.raw());
        if after > cap && after > before {
            return Err(SimError::new(
                location.clone(),
                format!(
                    "the population's positions take {}'s open interest to {after:.6} units, above \
                     its open_interest_cap {cap}",
                    builder.venue.perp_name(*market)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue() -> VenueConfig {
        let text = include_str!("../../../examples/venue.toml");
        VenueConfig::from_toml_str(text).expect("venue")
    }

    #[test]
    fn weights_follow_the_engine() {
        let venue = venue();
        assert_eq!(weights(&venue, "ETH"), (0.8, 0.825));
        assert_eq!(weights(&venue, "USDC"), (0.85, 0.9));
        assert_eq!(weights(&venue, "DOGE"), (0.0, 0.0));
        let mut no_lending = venue;
        no_lending.lending.retain(|market| market.asset != "USDC");
        assert_eq!(weights(&no_lending, "USDC"), (1.0, 1.0));
    }

    #[test]
    fn amounts_respect_decimals() {
        assert_eq!(parse_amount("1.5", 6).map(|a| a.to_string()), Ok("1.5".to_owned()));
        assert_eq!(parse_amount("-2.5", 18).map(|a| a.to_string()), Ok("-2.5".to_owned()));
        assert!(parse_amount("1.0000001", 6).is_err());
        assert!(parse_amount("abc", 6).is_err());
        assert!(parse_amount("", 6).is_err());
    }

    #[test]
    fn distributions_are_checked() {
        let ok = |d: Distribution| check_distribution(&d, "x", SIZE_MAX).is_ok();
        assert!(ok(Distribution::Fixed { value: 1.0 }));
        assert!(!ok(Distribution::Fixed { value: 0.0 }));
        assert!(!ok(Distribution::Fixed { value: f64::NAN }));
        assert!(!ok(Distribution::Fixed { value: 2.0 * SIZE_MAX }));
        assert!(ok(Distribution::Uniform { min: 1.0, max: 1.0 }));
        assert!(!ok(Distribution::Uniform { min: 2.0, max: 1.0 }));
        assert!(!ok(Distribution::Pareto { min: 1.0, alpha: -1.0, max: None }));
        assert!(!ok(Distribution::Pareto { min: 2.0, alpha: 1.0, max: Some(1.0) }));
        assert!(ok(Distribution::Lognormal { median: 1.0, sigma: 0.0 }));
        assert!(!ok(Distribution::Lognormal { median: 1.0, sigma: -0.1 }));
    }
}
