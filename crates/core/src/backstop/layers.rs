//! The safety net as configuration: every layer is a config entry, and a waterfall is an ordered
//! list of layers per market. Names here are what venue files use (`[[fund]]`, `[[waterfall]]`…);
//! docs/mechanisms.md describes each layer with its parameters, defaults and units.

use crate::config::{ConfigError, VenueConfig};
use backstop_money::{Amount, Ratio};
use serde::{Deserialize, Serialize};

/// Most layers of any one kind a venue may configure.
pub const LAYER_COUNT_MAX: usize = 32;
/// Most layers in one waterfall.
pub const WATERFALL_LENGTH_MAX: usize = 16;
/// Most queued withdrawals one staker may have in one pool (hard upper bound on the config).
pub const QUEUE_ENTRIES_MAX: u32 = 64;

/// An insurance / reserve fund fed by fees and penalties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundConfig {
    /// Unique name, used as `fund:<name>` in waterfalls.
    pub name: String,
    /// Asset the fund holds and pays in.
    pub asset: String,
    /// Balance the fund is never drawn below.
    #[serde(default)]
    pub floor: Amount,
    /// Share of the venue's fees in the fund's asset that `settle_revenue` sweeps in.
    #[serde(default = "one")]
    pub fee_share: Ratio,
    /// Share of each swept inflow passed on to staker pools of the same asset as rewards.
    #[serde(default)]
    pub staker_share: Ratio,
    /// Largest share of the pending fees one `settle_revenue` sweeps in (Drift caps each settle
    /// at 10% of its revenue pool).
    #[serde(default = "one")]
    pub settle_share_max: Ratio,
    /// Largest sweep as a yearly rate on the fund's balance, pro rata to the time since the last
    /// sweep (Drift's max APR per settle); absent: unlimited.
    #[serde(default)]
    pub settle_apr_max: Option<Ratio>,
    /// Length of the draw-cap period in seconds (0: no period cap).
    #[serde(default)]
    pub period_secs: u64,
    /// Most the fund pays out per period (absent: unlimited).
    #[serde(default)]
    pub period_cap: Option<Amount>,
    /// Most the fund pays to any one market over its lifetime (absent: unlimited).
    #[serde(default)]
    pub market_lifetime_cap: Option<Amount>,
    /// Markets the fund serves: one name for an isolated fund, several (or empty for all) for a
    /// shared one. Lending markets are named by asset symbol, perpetual markets by name.
    #[serde(default)]
    pub markets: Vec<String>,
}

/// A first-loss offset owned by the treasury, absorbing before stakers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsetConfig {
    /// Unique name, used as `offset:<name>` in waterfalls.
    pub name: String,
    /// Asset of the offset.
    pub asset: String,
}

/// Whether queued (cooling-down) shares gain and lose with the pool, or keep the value they had
/// when queued (gains forfeited, losses borne).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueExposure {
    /// Queued shares keep full exposure (Blend).
    Full,
    /// Value frozen at request: pays min(value at request, value at exit) (Drift).
    Frozen,
}

/// Which queued withdrawals a dequeue cancels first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DequeueOrder {
    /// The most recent entry first (Blend v2).
    NewestFirst,
    /// The oldest entry first (Blend v1).
    OldestFirst,
}

/// A first-loss staker pool: shares, cooldown queue, capped slashing, rewards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakerPoolConfig {
    /// Unique name, used as `stakers:<name>` in waterfalls.
    pub name: String,
    /// Asset staked.
    pub asset: String,
    /// Seconds between an unstake request and when it can complete.
    pub cooldown_secs: u64,
    /// Most queued withdrawals per staker.
    #[serde(default = "default_queue_entries")]
    pub queue_entries_max: u32,
    /// Which entries a cancel removes first.
    #[serde(default = "default_dequeue_order")]
    pub dequeue_order: DequeueOrder,
    /// Exposure of queued shares.
    #[serde(default = "default_exposure")]
    pub exposure: QueueExposure,
    /// Largest fraction of the pool's assets one slash may take.
    #[serde(default = "one")]
    pub slash_cap: Ratio,
    /// Assets a slash always leaves in the pool.
    #[serde(default)]
    pub min_assets: Amount,
    /// Refuse completed withdrawals while a market the pool covers has an uncovered deficit.
    #[serde(default = "default_true")]
    pub block_withdrawals_with_bad_debt: bool,
    /// Asset of optional emissions to stakers (absent: no emissions).
    #[serde(default)]
    pub emission_asset: Option<String>,
    /// Emission per second, shared by non-queued shares.
    #[serde(default)]
    pub emission_per_sec: Amount,
    /// Pool assets at which the pool counts as fully covering (for the breaker); 0: no target.
    #[serde(default)]
    pub target_assets: Amount,
}

/// A stability pool: deposits absorb the debt of liquidated accounts and receive their collateral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StabilityPoolConfig {
    /// Unique name, used in the `stability_pool` liquidation mode and as `stability:<name>`.
    pub name: String,
    /// The debt asset deposited and burned.
    pub asset: String,
    /// Deposits that always stay in the pool (Liquity keeps 1 unit).
    #[serde(default = "one_amount")]
    pub min_remaining: Amount,
}

/// External cover: guarantor capital with a limit and an attachment point (excess of loss).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverConfig {
    /// Unique name, used as `cover:<name>` in waterfalls.
    pub name: String,
    /// Asset of the cover.
    pub asset: String,
    /// Most the cover pays over its term.
    pub limit: Amount,
    /// Losses reaching the cover below this cumulative amount are retained by the venue.
    #[serde(default)]
    pub attachment: Amount,
    /// Premium per year as a fraction of the limit.
    #[serde(default)]
    pub premium_rate: Ratio,
}

/// Recapitalisation by minting a governance token in a reverse auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecapConfig {
    /// The governance token minted (an asset of the venue).
    pub token: String,
    /// Tokens offered at the start of an auction.
    pub lot: Amount,
    /// Deficit-asset amount raised per auction (the fixed bid).
    pub bid: Amount,
    /// Growth of the lot when an auction ends unfilled (0.2 = +20%).
    #[serde(default)]
    pub lot_growth: Ratio,
    /// Seconds after which an unfilled auction may be restarted with a larger lot.
    pub restart_secs: u64,
    /// Length of the minting-cap period in seconds.
    #[serde(default)]
    pub period_secs: u64,
    /// Most tokens minted per period (absent: unlimited).
    #[serde(default)]
    pub period_mint_cap: Option<Amount>,
    /// Whether an auction may start only after a governance approval.
    #[serde(default)]
    pub requires_approval: bool,
}

/// An ordered list of layers for one market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterfallConfig {
    /// The market: a lending market's asset symbol or a perpetual market's name.
    pub market: String,
    /// Layers in order, such as `fund:insurance`, `offset:treasury`, `stakers:pool`,
    /// `cover:nexus`, `recap`, `fees`, `adl:rank`, `socialize`.
    pub layers: Vec<String>,
}

/// Circuit breakers: venue status from the staker pool, withdrawal gating, oracle pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Staker pool whose coverage and queue drive the status.
    #[serde(default)]
    pub pool: Option<String>,
    /// Queued share of the pool at which the venue goes on ice (blocks new borrowing).
    #[serde(default = "default_on_ice_share")]
    pub on_ice_queued_share: Ratio,
    /// Queued share at which the venue is frozen (also blocks new deposits).
    #[serde(default = "default_frozen_share")]
    pub frozen_queued_share: Ratio,
    /// Refuse withdrawals while any account has negative equity.
    #[serde(default)]
    pub gate_withdrawals_when_insolvent: bool,
    /// Pause an asset instead of refusing the update when a price moves beyond the guard.
    #[serde(default)]
    pub pause_on_oracle_move: bool,
}

/// The emergency liquidity facility: a fund lends to a lending market that cannot meet
/// withdrawals, at a penalty rate, up to a cap, repaid first from returning liquidity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiquidityConfig {
    /// Fund that lends.
    pub fund: String,
    /// Lending market (asset symbol) it lends to.
    pub market: String,
    /// Penalty interest per year on the outstanding loan.
    pub penalty_rate: Ratio,
    /// Largest outstanding loan.
    pub cap: Amount,
}

/// One layer of a waterfall, parsed from its `kind:name` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerRef {
    /// An insurance fund.
    Fund(String),
    /// A treasury first-loss offset.
    Offset(String),
    /// A staker pool (slashed).
    Stakers(String),
    /// A stability pool (post-hoc absorption of a deficit in its asset).
    Stability(String),
    /// External cover (a claim is opened).
    Cover(String),
    /// Recapitalisation by minting (an auction is opened).
    Recap,
    /// The venue's fee ledger of the market's asset (a perpetual market's fee pool).
    Fees,
    /// Auto-deleveraging with a ranking policy (perpetual markets).
    Adl(AdlPolicy),
    /// Socialisation: supplier-index haircut (lending) or funding across open interest (perps).
    Socialize,
}

/// How auto-deleveraging picks and sizes counterparties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdlPolicy {
    /// Rank by PnL × leverage, exchange style; close in order at the bankruptcy price.
    Rank,
    /// All opposite profitable positions in proportion to size, at the bankruptcy price.
    ProRata,
    /// Start at a seeded random position and iterate, at the bankruptcy price (dYdX).
    Random,
    /// Spread the exact shortfall so the largest haircut is as small as possible.
    MinShortfall,
}

impl LayerRef {
    /// Parses `kind:name`, `recap`, `fees`, `adl:<policy>` or `socialize`.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(text: &str) -> Result<LayerRef, String> {
        let (kind, name) = match text.split_once(':') {
            Some((kind, name)) => (kind, Some(name.to_owned())),
            None => (text, None),
        };
        let named = |make: fn(String) -> LayerRef| {
            name.clone()
                .filter(|name| !name.is_empty())
                .map(make)
                .ok_or_else(|| format!("layer {text:?} needs a name: {kind}:<name>"))
        };
        match kind {
            "fund" => named(LayerRef::Fund),
            "offset" => named(LayerRef::Offset),
            "stakers" => named(LayerRef::Stakers),
            "stability" => named(LayerRef::Stability),
            "cover" => named(LayerRef::Cover),
            "recap" => Ok(LayerRef::Recap),
            "fees" => Ok(LayerRef::Fees),
            "socialize" => Ok(LayerRef::Socialize),
            "adl" => match name.as_deref() {
                Some("rank") => Ok(LayerRef::Adl(AdlPolicy::Rank)),
                Some("pro_rata") => Ok(LayerRef::Adl(AdlPolicy::ProRata)),
                Some("random") => Ok(LayerRef::Adl(AdlPolicy::Random)),
                Some("min_shortfall") => Ok(LayerRef::Adl(AdlPolicy::MinShortfall)),
                _ => Err(format!(
                    "layer {text:?}: adl needs a policy: adl:rank, adl:pro_rata, adl:random or \
                     adl:min_shortfall"
                )),
            },
            _ => Err(format!(
                "unknown layer {text:?}: expected fund:, offset:, stakers:, stability:, cover:, \
                 recap, fees, adl:<policy> or socialize"
            )),
        }
    }
}

fn one() -> Ratio {
    Ratio::ONE
}

fn one_amount() -> Amount {
    Amount::ONE
}

fn default_true() -> bool {
    true
}

fn default_queue_entries() -> u32 {
    20
}

fn default_dequeue_order() -> DequeueOrder {
    DequeueOrder::NewestFirst
}

fn default_exposure() -> QueueExposure {
    QueueExposure::Full
}

fn default_on_ice_share() -> Ratio {
    Ratio::from_raw(300_000_000_000_000_000)
}

fn default_frozen_share() -> Ratio {
    Ratio::from_raw(600_000_000_000_000_000)
}

fn error(field: String, message: String) -> ConfigError {
    ConfigError { field, line: None, message }
}

fn check_fraction(field: String, value: Ratio) -> Result<(), ConfigError> {
    if value < Ratio::ZERO || value > Ratio::ONE {
        return Err(error(field, format!("must be between 0 and 1, got {value}")));
    }
    Ok(())
}

fn check_non_negative(field: String, value: Amount) -> Result<(), ConfigError> {
    if value.is_negative() {
        return Err(error(field, format!("must not be negative, got {value}")));
    }
    Ok(())
}

/// Checks that names are unique and non-empty within one kind of layer.
fn check_names<'a>(kind: &str, names: impl Iterator<Item = &'a str>) -> Result<(), ConfigError> {
    let mut seen: Vec<&str> = Vec::new();
    for (index, name) in names.enumerate() {
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(error(
                format!("{kind}[{index}].name"),
                "must be non-empty letters, digits, '-' or '_'".to_owned(),
            ));
        }
        if seen.contains(&name) {
            return Err(error(
                format!("{kind}[{index}].name"),
                format!("duplicate {kind} {name:?}"),
            ));
        }
        seen.push(name);
    }
    if seen.len() > LAYER_COUNT_MAX {
        return Err(error(kind.to_owned(), format!("at most {LAYER_COUNT_MAX} entries")));
    }
    Ok(())
}

impl VenueConfig {
    /// Validates the safety-net sections: names, assets, ranges and every waterfall reference.
    ///
    /// # Errors
    /// The first problem found, with its field path.
    pub fn validate_safety_net(&self) -> Result<(), ConfigError> {
        check_names("fund", self.funds.iter().map(|fund| fund.name.as_str()))?;
        check_names("offset", self.offsets.iter().map(|offset| offset.name.as_str()))?;
        check_names("staker_pool", self.staker_pools.iter().map(|pool| pool.name.as_str()))?;
        check_names("stability_pool", self.stability_pools.iter().map(|pool| pool.name.as_str()))?;
        check_names("cover", self.covers.iter().map(|cover| cover.name.as_str()))?;
        let asset_check = |field: String, symbol: &str| {
            if self.asset_id(symbol).is_none() {
                return Err(error(field, format!("unknown asset {symbol:?}")));
            }
            Ok(())
        };
        for (index, fund) in self.funds.iter().enumerate() {
            let path = format!("fund[{index}]");
            asset_check(format!("{path}.asset"), &fund.asset)?;
            check_non_negative(format!("{path}.floor"), fund.floor)?;
            check_fraction(format!("{path}.fee_share"), fund.fee_share)?;
            check_fraction(format!("{path}.staker_share"), fund.staker_share)?;
            check_fraction(format!("{path}.settle_share_max"), fund.settle_share_max)?;
            if let Some(apr) = fund.settle_apr_max
                && apr.is_negative()
            {
                return Err(error(
                    format!("{path}.settle_apr_max"),
                    "must not be negative".to_owned(),
                ));
            }
            if let Some(cap) = fund.period_cap {
                check_non_negative(format!("{path}.period_cap"), cap)?;
                if fund.period_secs == 0 {
                    return Err(error(
                        format!("{path}.period_secs"),
                        "a period_cap needs period_secs above 0".to_owned(),
                    ));
                }
            }
            if let Some(cap) = fund.market_lifetime_cap {
                check_non_negative(format!("{path}.market_lifetime_cap"), cap)?;
            }
            for (market_index, market) in fund.markets.iter().enumerate() {
                if self.market_ref(market).is_none() {
                    return Err(error(
                        format!("{path}.markets[{market_index}]"),
                        format!("unknown market {market:?}"),
                    ));
                }
            }
        }
        for (index, offset) in self.offsets.iter().enumerate() {
            asset_check(format!("offset[{index}].asset"), &offset.asset)?;
        }
        for (index, pool) in self.staker_pools.iter().enumerate() {
            self.validate_staker_pool(index, pool)?;
        }
        for (index, pool) in self.stability_pools.iter().enumerate() {
            asset_check(format!("stability_pool[{index}].asset"), &pool.asset)?;
            check_non_negative(
                format!("stability_pool[{index}].min_remaining"),
                pool.min_remaining,
            )?;
        }
        for (index, cover) in self.covers.iter().enumerate() {
            let path = format!("cover[{index}]");
            asset_check(format!("{path}.asset"), &cover.asset)?;
            check_non_negative(format!("{path}.limit"), cover.limit)?;
            check_non_negative(format!("{path}.attachment"), cover.attachment)?;
            check_fraction(format!("{path}.premium_rate"), cover.premium_rate)?;
        }
        if let Some(recap) = &self.recap {
            asset_check("recap.token".to_owned(), &recap.token)?;
            if !recap.lot.is_positive() {
                return Err(error("recap.lot".to_owned(), "must be above 0".to_owned()));
            }
            if !recap.bid.is_positive() {
                return Err(error("recap.bid".to_owned(), "must be above 0".to_owned()));
            }
            if recap.lot_growth.is_negative()
                || recap.lot_growth > Ratio::from_raw(backstop_money::SCALE.saturating_mul(10))
            {
                return Err(error(
                    "recap.lot_growth".to_owned(),
                    "must be between 0 and 10".to_owned(),
                ));
            }
            if recap.restart_secs == 0 {
                return Err(error(
                    "recap.restart_secs".to_owned(),
                    "must be at least 1".to_owned(),
                ));
            }
            if recap.period_mint_cap.is_some() && recap.period_secs == 0 {
                return Err(error(
                    "recap.period_secs".to_owned(),
                    "a period_mint_cap needs period_secs above 0".to_owned(),
                ));
            }
        }
        for (index, waterfall) in self.waterfalls.iter().enumerate() {
            self.validate_waterfall(index, waterfall)?;
        }
        if let Some(breaker) = &self.breaker {
            check_fraction("breaker.on_ice_queued_share".to_owned(), breaker.on_ice_queued_share)?;
            check_fraction("breaker.frozen_queued_share".to_owned(), breaker.frozen_queued_share)?;
            if breaker.on_ice_queued_share > breaker.frozen_queued_share {
                return Err(error(
                    "breaker.on_ice_queued_share".to_owned(),
                    "must not exceed frozen_queued_share".to_owned(),
                ));
            }
            if let Some(pool) = &breaker.pool
                && !self.staker_pools.iter().any(|candidate| &candidate.name == pool)
            {
                return Err(error(
                    "breaker.pool".to_owned(),
                    format!("unknown staker pool {pool:?}"),
                ));
            }
        }
        for (index, facility) in self.liquidity.iter().enumerate() {
            let path = format!("liquidity[{index}]");
            let Some(fund) = self.funds.iter().find(|fund| fund.name == facility.fund) else {
                return Err(error(
                    format!("{path}.fund"),
                    format!("unknown fund {:?}", facility.fund),
                ));
            };
            if fund.asset != facility.market
                || self.lending.iter().all(|market| market.asset != facility.market)
            {
                return Err(error(
                    format!("{path}.market"),
                    "must be a lending market in the fund's asset".to_owned(),
                ));
            }
            check_non_negative(format!("{path}.cap"), facility.cap)?;
            check_fraction(format!("{path}.penalty_rate"), facility.penalty_rate)?;
        }
        Ok(())
    }

    fn validate_staker_pool(
        &self,
        index: usize,
        pool: &StakerPoolConfig,
    ) -> Result<(), ConfigError> {
        let path = format!("staker_pool[{index}]");
        if self.asset_id(&pool.asset).is_none() {
            return Err(error(format!("{path}.asset"), format!("unknown asset {:?}", pool.asset)));
        }
        if pool.queue_entries_max == 0 || pool.queue_entries_max > QUEUE_ENTRIES_MAX {
            return Err(error(
                format!("{path}.queue_entries_max"),
                format!("must be between 1 and {QUEUE_ENTRIES_MAX}"),
            ));
        }
        check_fraction(format!("{path}.slash_cap"), pool.slash_cap)?;
        check_non_negative(format!("{path}.min_assets"), pool.min_assets)?;
        check_non_negative(format!("{path}.emission_per_sec"), pool.emission_per_sec)?;
        check_non_negative(format!("{path}.target_assets"), pool.target_assets)?;
        if let Some(asset) = &pool.emission_asset
            && self.asset_id(asset).is_none()
        {
            return Err(error(
                format!("{path}.emission_asset"),
                format!("unknown asset {asset:?}"),
            ));
        }
        Ok(())
    }

    fn validate_waterfall(
        &self,
        index: usize,
        waterfall: &WaterfallConfig,
    ) -> Result<(), ConfigError> {
        let path = format!("waterfall[{index}]");
        let Some(market) = self.market_ref(&waterfall.market) else {
            return Err(error(
                format!("{path}.market"),
                format!("unknown market {:?}", waterfall.market),
            ));
        };
        if self.waterfalls[..index].iter().any(|other| other.market == waterfall.market) {
            return Err(error(
                format!("{path}.market"),
                format!("a waterfall for {:?} already exists", waterfall.market),
            ));
        }
        if waterfall.layers.len() > WATERFALL_LENGTH_MAX {
            return Err(error(
                format!("{path}.layers"),
                format!("at most {WATERFALL_LENGTH_MAX} layers"),
            ));
        }
        let market_asset = self.deficit_asset_symbol(market);
        for (layer_index, text) in waterfall.layers.iter().enumerate() {
            let field = format!("{path}.layers");
            let layer = LayerRef::parse(text).map_err(|message| error(field.clone(), message))?;
            let layer_asset = match &layer {
                LayerRef::Fund(name) => {
                    self.funds.iter().find(|x| &x.name == name).map(|x| x.asset.as_str())
                }
                LayerRef::Offset(name) => {
                    self.offsets.iter().find(|x| &x.name == name).map(|x| x.asset.as_str())
                }
                LayerRef::Stakers(name) => {
                    self.staker_pools.iter().find(|x| &x.name == name).map(|x| x.asset.as_str())
                }
                LayerRef::Stability(name) => {
                    self.stability_pools.iter().find(|x| &x.name == name).map(|x| x.asset.as_str())
                }
                LayerRef::Cover(name) => {
                    self.covers.iter().find(|x| &x.name == name).map(|x| x.asset.as_str())
                }
                LayerRef::Recap => {
                    if self.recap.is_none() {
                        return Err(error(field, "layer recap needs a [recap] section".to_owned()));
                    }
                    Some(market_asset)
                }
                LayerRef::Fees | LayerRef::Socialize => Some(market_asset),
                LayerRef::Adl(_) => {
                    if matches!(market, crate::ids::MarketRef::Lending(_)) {
                        return Err(error(
                            field,
                            "adl layers are for perpetual markets".to_owned(),
                        ));
                    }
                    Some(market_asset)
                }
            };
            let Some(layer_asset) = layer_asset else {
                return Err(error(
                    field,
                    format!("layer {text:?} (position {layer_index}) names no configured layer"),
                ));
            };
            if layer_asset != market_asset {
                return Err(error(
                    field,
                    format!(
                        "layer {text:?} holds {layer_asset} but the market's deficits are in {market_asset}"
                    ),
                ));
            }
            if waterfall.layers[..layer_index].contains(text) {
                return Err(error(field, format!("layer {text:?} appears twice")));
            }
        }
        Ok(())
    }

    /// The market named `name`: a lending market by asset symbol or a perpetual market by name.
    #[must_use]
    pub fn market_ref(&self, name: &str) -> Option<crate::ids::MarketRef> {
        if let Some(perp) = self.perp_id(name) {
            return Some(crate::ids::MarketRef::Perp(perp));
        }
        let asset = self.asset_id(name)?;
        self.lending
            .iter()
            .any(|market| market.asset == name)
            .then_some(crate::ids::MarketRef::Lending(asset))
    }

    /// Symbol of the asset a market's deficits are in (the lent asset or the settlement asset).
    #[must_use]
    pub fn deficit_asset_symbol(&self, market: crate::ids::MarketRef) -> &str {
        match market {
            crate::ids::MarketRef::Lending(asset) => self.asset_symbol(asset),
            crate::ids::MarketRef::Perp(perp) => {
                self.perps.get(perp.index()).map_or("?", |config| config.settlement.as_str())
            }
        }
    }
}
