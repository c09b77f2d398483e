//! Venue configuration: assets, oracle guard, lending and perpetual markets, read from TOML.
//!
//! [`VenueConfig::from_toml_str`] rejects unknown fields and validates every parameter; an error
//! names the field path and, where it can be found, the line in the TOML text.

use crate::ids::{AccountId, AssetId, PerpMarketId};
use backstop_money::{Amount, Ratio};
use serde::{Deserialize, Serialize};

/// Most assets a venue may list.
pub const ASSET_COUNT_MAX: usize = 64;
/// Most perpetual markets a venue may list.
pub const PERP_MARKET_COUNT_MAX: usize = 64;
/// Longest Dutch-auction step count before a reset is forced, to bound the price computation.
pub const AUCTION_STEP_COUNT_MAX: u64 = 100_000;

/// A whole venue as written in TOML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// Venue-wide settings.
    #[serde(default)]
    pub venue: VenueSettings,
    /// Oracle guard applied to every price update and every use of a price.
    #[serde(default)]
    pub oracle: OracleGuard,
    /// Listed assets, in the order that gives them their ids.
    #[serde(rename = "asset", default)]
    pub assets: Vec<AssetConfig>,
    /// Lending markets, at most one per asset.
    #[serde(rename = "lending", default)]
    pub lending: Vec<LendingMarketConfig>,
    /// Perpetual markets, in the order that gives them their ids.
    #[serde(rename = "perp", default)]
    pub perps: Vec<PerpMarketConfig>,
    /// Insurance / reserve funds.
    #[serde(rename = "fund", default)]
    pub funds: Vec<crate::backstop::layers::FundConfig>,
    /// Treasury first-loss offsets.
    #[serde(rename = "offset", default)]
    pub offsets: Vec<crate::backstop::layers::OffsetConfig>,
    /// First-loss staker pools.
    #[serde(rename = "staker_pool", default)]
    pub staker_pools: Vec<crate::backstop::layers::StakerPoolConfig>,
    /// Stability pools.
    #[serde(rename = "stability_pool", default)]
    pub stability_pools: Vec<crate::backstop::layers::StabilityPoolConfig>,
    /// External cover layers.
    #[serde(rename = "cover", default)]
    pub covers: Vec<crate::backstop::layers::CoverConfig>,
    /// Recapitalisation by minting.
    #[serde(default)]
    pub recap: Option<crate::backstop::layers::RecapConfig>,
    /// Waterfalls, at most one per market.
    #[serde(rename = "waterfall", default)]
    pub waterfalls: Vec<crate::backstop::layers::WaterfallConfig>,
    /// Circuit breakers.
    #[serde(default)]
    pub breaker: Option<crate::backstop::layers::BreakerConfig>,
    /// Emergency liquidity facilities.
    #[serde(default)]
    pub liquidity: Vec<crate::backstop::layers::LiquidityConfig>,
    /// Exploit incidents and claims (`[claims]`, docs/claims.md).
    #[serde(default)]
    pub claims: Option<crate::claims::ClaimsConfig>,
    /// Governance: token, guardian, thresholds, periods, parameter bounds.
    #[serde(default)]
    pub governance: Option<crate::governance::GovernanceConfig>,
}

/// Venue-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueSettings {
    /// A name for reports.
    #[serde(default = "default_venue_name")]
    pub name: String,
    /// Most accounts the venue holds.
    #[serde(default = "default_account_count_max")]
    pub account_count_max: u64,
}

fn default_venue_name() -> String {
    "venue".to_owned()
}

fn default_account_count_max() -> u64 {
    10_000_000
}

impl Default for VenueSettings {
    fn default() -> Self {
        VenueSettings { name: default_venue_name(), account_count_max: default_account_count_max() }
    }
}

/// Limits on oracle prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleGuard {
    /// A price older than this many seconds may not be used for a health check.
    #[serde(default = "default_max_staleness_secs")]
    pub max_staleness_secs: u64,
    /// Largest relative move allowed in one update (0.5 = 50%); absent means unlimited.
    #[serde(default)]
    pub max_move: Option<Ratio>,
}

fn default_max_staleness_secs() -> u64 {
    3_600
}

impl Default for OracleGuard {
    fn default() -> Self {
        OracleGuard { max_staleness_secs: default_max_staleness_secs(), max_move: None }
    }
}

/// One listed asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetConfig {
    /// Ticker, unique in the venue.
    pub symbol: String,
    /// Decimals of the asset's smallest unit; amounts from outside may not be finer (≤ 18).
    pub decimals: u32,
}

/// How accounts are liquidated in a market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum LiquidationMode {
    /// A keeper repays part of the debt (up to the close factor) and takes collateral plus a bonus.
    FixedBonus,
    /// The collateral is sold in a descending-price auction (Maker Clipper style).
    DutchAuction(DutchAuctionConfig),
    /// The whole account is taken over by a designated backstop account.
    Takeover {
        /// The account that receives everything the liquidated account holds and owes.
        backstop_account: AccountId,
    },
    /// The debt is offset against a stability pool, which receives the collateral (Liquity);
    /// what the pool cannot absorb is redistributed to the market's other borrowers.
    StabilityPool {
        /// Name of the `[[stability_pool]]`.
        pool: String,
    },
    /// The collateral is sold in an ascending-bid (tend/dent) auction (Maker Flip, 2020).
    EnglishAuction(EnglishAuctionConfig),
}

/// Parameters of the English (tend/dent) collateral auction, Maker's Flipper of 2020.
///
/// Maker's code defaults (docs.makerdao.com, "Flipper - Detailed Documentation"): `beg` 5%,
/// `ttl` 3 h, `tau` 2 d; ETH-A's penalty (`chop`) was 13% (spells config). The values in force on
/// 12 March 2020 for ETH-A are not in the project's reference: scenarios mark them `assumed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnglishAuctionConfig {
    /// Minimum bid increase as a multiple (e.g. 1.03): a tend bid must be at least `beg` times
    /// the standing bid, a dent lot at most the standing lot divided by `beg`.
    pub beg: Ratio,
    /// Seconds a bid stands before the auction can be dealt to it (`ttl`).
    pub ttl_secs: u64,
    /// Seconds from the kick after which no more bids are taken (`tau`).
    pub tau_secs: u64,
    /// Penalty added to the debt to form the auction's tab (e.g. 0.13).
    pub penalty: Ratio,
}

/// Parameters of the descending-price (Dutch) auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DutchAuctionConfig {
    /// Starting price as a multiple of the oracle price (e.g. 1.10).
    pub buf: Ratio,
    /// Seconds between price steps.
    pub step_secs: u64,
    /// Multiplier applied at each step (e.g. 0.99).
    pub cut: Ratio,
    /// Seconds after which the auction must be reset.
    pub tail_secs: u64,
    /// Price as a fraction of the start below which the auction must be reset (e.g. 0.45).
    pub cusp: Ratio,
    /// Penalty added to the debt to form the auction's target (e.g. 0.13).
    pub penalty: Ratio,
}

/// Borrow-rate curve with one kink, rates per year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCurve {
    /// Rate at zero utilisation.
    #[serde(default)]
    pub base: Ratio,
    /// Rate added between zero and the kink.
    pub slope1: Ratio,
    /// Utilisation at the kink (0 < kink < 1).
    pub kink: Ratio,
    /// Rate added between the kink and full utilisation.
    pub slope2: Ratio,
}

/// One lending market (one per asset): supply, borrow, interest and liquidation parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LendingMarketConfig {
    /// The asset lent and borrowed here, and whose collateral weights these are.
    pub asset: String,
    /// Weight of this asset as collateral for the initial (borrowing) check.
    pub collateral_factor: Ratio,
    /// Weight of this asset as collateral for the maintenance (liquidation) check.
    pub liquidation_threshold: Ratio,
    /// Bonus a keeper receives on seized collateral of this asset (0.05 = 5%).
    pub liquidation_bonus: Ratio,
    /// Largest fraction of a debt one fixed-bonus liquidation may repay.
    #[serde(default = "default_close_factor")]
    pub close_factor: Ratio,
    /// At or below this health factor a liquidation may close the whole debt.
    #[serde(default = "default_full_close_health")]
    pub full_close_health: Ratio,
    /// Below this value (numeraire) of debt or collateral a liquidation may close everything.
    #[serde(default)]
    pub dust_value: Amount,
    /// Share of interest kept by the venue (take rate).
    #[serde(default)]
    pub reserve_factor: Ratio,
    /// Share of the liquidation bonus kept by the venue instead of the keeper.
    #[serde(default)]
    pub protocol_liquidation_share: Ratio,
    /// Whether borrowing is allowed.
    #[serde(default = "default_true")]
    pub borrow_enabled: bool,
    /// Borrow-rate curve.
    pub rate: RateCurve,
    /// Liquidation mode for debts of this market.
    #[serde(default = "default_liquidation_mode")]
    pub liquidation: LiquidationMode,
}

fn default_close_factor() -> Ratio {
    Ratio::from_raw(500_000_000_000_000_000)
}

fn default_full_close_health() -> Ratio {
    Ratio::from_raw(950_000_000_000_000_000)
}

fn default_true() -> bool {
    true
}

fn default_liquidation_mode() -> LiquidationMode {
    LiquidationMode::FixedBonus
}

/// One perpetual futures market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerpMarketConfig {
    /// Market name, unique in the venue (e.g. "ETH-PERP").
    pub name: String,
    /// Asset whose oracle price is the market's index price, in settlement units.
    pub underlying: String,
    /// Asset in which margin, PnL, fees and funding are paid.
    pub settlement: String,
    /// Initial margin fraction of notional.
    pub initial_margin: Ratio,
    /// Maintenance margin fraction of notional.
    pub maintenance_margin: Ratio,
    /// Penalty on liquidated notional, paid by the liquidated account.
    pub liquidation_fee: Ratio,
    /// Share of the liquidation fee kept by the venue instead of the keeper.
    #[serde(default)]
    pub protocol_liquidation_share: Ratio,
    /// Largest position notional as a multiple of account equity.
    pub max_leverage: Ratio,
    /// Largest long open interest, in units of the underlying.
    pub open_interest_cap: Amount,
    /// Fee on traded notional, paid by the taker.
    #[serde(default)]
    pub trading_fee: Ratio,
    /// Largest relative distance of a trade price from the oracle price.
    #[serde(default = "default_price_band")]
    pub price_band: Ratio,
    /// Largest fraction of a position one fixed-bonus liquidation may close.
    #[serde(default = "default_close_factor")]
    pub close_factor: Ratio,
    /// At or below this health factor a liquidation may close the whole position.
    #[serde(default = "default_full_close_health")]
    pub full_close_health: Ratio,
    /// Below this notional (numeraire) a liquidation may close the whole position.
    #[serde(default)]
    pub dust_value: Amount,
    /// Liquidation mode (fixed bonus or takeover; Dutch auctions are for lending debt).
    #[serde(default = "default_liquidation_mode")]
    pub liquidation: LiquidationMode,
}

fn default_price_band() -> Ratio {
    Ratio::from_raw(100_000_000_000_000_000)
}

/// Ids are `u16`: a venue has at most this many assets and this many perpetual markets.
const ID_SLOTS: usize = 1 << 16;

/// A configuration error: the field path, the line when known, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the field, such as `lending[1].liquidation_threshold`.
    pub field: String,
    /// 1-based line in the TOML text, when it could be located.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl VenueConfig {
    /// Parses and validates a venue from TOML text.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field, its line and the problem, for syntax errors, unknown
    /// fields, wrong types and out-of-range values.
    pub fn from_toml_str(text: &str) -> Result<VenueConfig, ConfigError> {
        let config: VenueConfig =
            toml::from_str(text).map_err(|error| syntax_error(text, &error))?;
        config.validate().map_err(|mut error| {
            error.line = locate_field(text, &error.field);
            error
        })?;
        Ok(config)
    }

    /// Checks every parameter's range and every cross-reference.
    ///
    /// # Errors
    /// The first problem found, with its field path (the line is filled by the caller).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.venue.account_count_max == 0 {
            return Err(field_error("venue.account_count_max", "must be at least 1"));
        }
        if self.oracle.max_staleness_secs == 0 {
            return Err(field_error("oracle.max_staleness_secs", "must be at least 1"));
        }
        if let Some(max_move) = self.oracle.max_move {
            check_positive("oracle.max_move", max_move)?;
        }
        self.validate_assets()?;
        if self.perps.len() > ID_SLOTS {
            return Err(field_error("perp", "at most 65,536 [[perp]] markets"));
        }
        for (index, market) in self.lending.iter().enumerate() {
            self.validate_lending(index, market)?;
        }
        for (index, market) in self.perps.iter().enumerate() {
            self.validate_perp(index, market)?;
        }
        if let Some(claims) = &self.claims {
            claims.validate(self).map_err(|(field, message)| field_error(&field, &message))?;
        }
        self.validate_safety_net()?;
        if let Some(governance) = &self.governance {
            governance.validate(self)?;
        }
        Ok(())
    }

    fn validate_assets(&self) -> Result<(), ConfigError> {
        if self.assets.is_empty() {
            return Err(field_error("asset", "at least one [[asset]] is required"));
        }
        if self.assets.len() > ID_SLOTS {
            return Err(field_error("asset", "at most 65,536 [[asset]] entries"));
        }
        if self.assets.len() > ASSET_COUNT_MAX {
            return Err(field_error("asset", &format!("at most {ASSET_COUNT_MAX} assets")));
        }
        for (index, asset) in self.assets.iter().enumerate() {
            let path = format!("asset[{index}]");
            if asset.symbol.is_empty() || !asset.symbol.chars().all(is_symbol_character) {
                return Err(field_error(
                    &format!("{path}.symbol"),
                    "must be non-empty letters, digits, '-' or '_'",
                ));
            }
            if asset.decimals > backstop_money::SCALE_DECIMALS {
                return Err(field_error(&format!("{path}.decimals"), "must be at most 18"));
            }
            if self.assets[..index].iter().any(|other| other.symbol == asset.symbol) {
                return Err(field_error(
                    &format!("{path}.symbol"),
                    &format!("duplicate asset {:?}", asset.symbol),
                ));
            }
        }
        Ok(())
    }

    fn validate_lending(
        &self,
        index: usize,
        market: &LendingMarketConfig,
    ) -> Result<(), ConfigError> {
        let path = format!("lending[{index}]");
        let asset = self.asset_id(&market.asset).ok_or_else(|| {
            field_error(&format!("{path}.asset"), &format!("unknown asset {:?}", market.asset))
        })?;
        if self.lending[..index].iter().any(|other| self.asset_id(&other.asset) == Some(asset)) {
            return Err(field_error(
                &format!("{path}.asset"),
                &format!("a lending market for {:?} already exists", market.asset),
            ));
        }
        check_fraction(&format!("{path}.collateral_factor"), market.collateral_factor)?;
        check_fraction(&format!("{path}.liquidation_threshold"), market.liquidation_threshold)?;
        if market.collateral_factor > market.liquidation_threshold {
            return Err(field_error(
                &format!("{path}.collateral_factor"),
                "must not exceed liquidation_threshold",
            ));
        }
        check_fraction(&format!("{path}.liquidation_bonus"), market.liquidation_bonus)?;
        check_bonus_fits(&path, market)?;
        check_positive_fraction(&format!("{path}.close_factor"), market.close_factor)?;
        check_fraction(&format!("{path}.full_close_health"), market.full_close_health)?;
        check_non_negative(&format!("{path}.dust_value"), market.dust_value.raw())?;
        check_fraction(&format!("{path}.reserve_factor"), market.reserve_factor)?;
        check_fraction(
            &format!("{path}.protocol_liquidation_share"),
            market.protocol_liquidation_share,
        )?;
        validate_rate_curve(&format!("{path}.rate"), &market.rate)?;
        self.validate_mode(&format!("{path}.liquidation"), &market.liquidation, true)
    }

    fn validate_perp(&self, index: usize, market: &PerpMarketConfig) -> Result<(), ConfigError> {
        let path = format!("perp[{index}]");
        if market.name.is_empty() || !market.name.chars().all(is_symbol_character) {
            return Err(field_error(
                &format!("{path}.name"),
                "must be non-empty letters, digits, '-' or '_'",
            ));
        }
        if self.perps[..index].iter().any(|other| other.name == market.name) {
            return Err(field_error(
                &format!("{path}.name"),
                &format!("duplicate market {:?}", market.name),
            ));
        }
        for (field, symbol) in
            [("underlying", &market.underlying), ("settlement", &market.settlement)]
        {
            if self.asset_id(symbol).is_none() {
                return Err(field_error(
                    &format!("{path}.{field}"),
                    &format!("unknown asset {symbol:?}"),
                ));
            }
        }
        if market.underlying == market.settlement {
            return Err(field_error(
                &format!("{path}.settlement"),
                "must differ from the underlying",
            ));
        }
        check_positive_fraction(&format!("{path}.initial_margin"), market.initial_margin)?;
        check_positive_fraction(&format!("{path}.maintenance_margin"), market.maintenance_margin)?;
        if market.maintenance_margin > market.initial_margin {
            return Err(field_error(
                &format!("{path}.maintenance_margin"),
                "must not exceed initial_margin",
            ));
        }
        check_fraction(&format!("{path}.liquidation_fee"), market.liquidation_fee)?;
        if market.liquidation_fee > market.maintenance_margin {
            return Err(field_error(
                &format!("{path}.liquidation_fee"),
                "must not exceed maintenance_margin, or liquidating a healthy-enough account \
                 would make it bankrupt",
            ));
        }
        check_fraction(
            &format!("{path}.protocol_liquidation_share"),
            market.protocol_liquidation_share,
        )?;
        if market.max_leverage < Ratio::ONE {
            return Err(field_error(&format!("{path}.max_leverage"), "must be at least 1"));
        }
        check_positive(
            &format!("{path}.open_interest_cap"),
            Ratio::from_raw(market.open_interest_cap.raw()),
        )?;
        check_fraction(&format!("{path}.trading_fee"), market.trading_fee)?;
        check_positive_fraction(&format!("{path}.price_band"), market.price_band)?;
        check_positive_fraction(&format!("{path}.close_factor"), market.close_factor)?;
        check_fraction(&format!("{path}.full_close_health"), market.full_close_health)?;
        check_non_negative(&format!("{path}.dust_value"), market.dust_value.raw())?;
        self.validate_mode(&format!("{path}.liquidation"), &market.liquidation, false)
    }

    fn validate_mode(
        &self,
        path: &str,
        mode: &LiquidationMode,
        lending: bool,
    ) -> Result<(), ConfigError> {
        match mode {
            LiquidationMode::FixedBonus | LiquidationMode::Takeover { .. } => Ok(()),
            LiquidationMode::DutchAuction(_) if !lending => Err(field_error(
                &format!("{path}.mode"),
                "dutch_auction is for lending markets; perpetual markets use fixed_bonus or takeover",
            )),
            LiquidationMode::DutchAuction(auction) => validate_auction(path, auction),
            LiquidationMode::EnglishAuction(_) if !lending => Err(field_error(
                &format!("{path}.mode"),
                "english_auction is for lending markets; perpetual markets use fixed_bonus or takeover",
            )),
            LiquidationMode::EnglishAuction(auction) => validate_english_auction(path, auction),
            LiquidationMode::StabilityPool { .. } if !lending => {
                Err(field_error(&format!("{path}.mode"), "stability_pool is for lending markets"))
            }
            LiquidationMode::StabilityPool { pool } => {
                if self.stability_pools.iter().any(|candidate| &candidate.name == pool) {
                    Ok(())
                } else {
                    Err(field_error(
                        &format!("{path}.pool"),
                        &format!("unknown stability pool {pool:?}"),
                    ))
                }
            }
        }
    }

    /// The id of the asset with this symbol.
    #[must_use]
    pub fn asset_id(&self, symbol: &str) -> Option<AssetId> {
        let index = self.assets.iter().position(|asset| asset.symbol == symbol)?;
        u16::try_from(index).ok().map(AssetId)
    }

    /// The id of the perpetual market with this name.
    #[must_use]
    pub fn perp_id(&self, name: &str) -> Option<PerpMarketId> {
        let index = self.perps.iter().position(|market| market.name == name)?;
        u16::try_from(index).ok().map(PerpMarketId)
    }

    /// The symbol of an asset id (or `?` for an id outside the venue).
    #[must_use]
    pub fn asset_symbol(&self, asset: AssetId) -> &str {
        self.assets.get(usize::from(asset.0)).map_or("?", |config| config.symbol.as_str())
    }

    /// The name of a perpetual market id (or `?` for an id outside the venue).
    #[must_use]
    pub fn perp_name(&self, market: PerpMarketId) -> &str {
        self.perps.get(usize::from(market.0)).map_or("?", |config| config.name.as_str())
    }
}

fn is_symbol_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '-' || character == '_'
}

fn validate_rate_curve(path: &str, curve: &RateCurve) -> Result<(), ConfigError> {
    check_non_negative(&format!("{path}.base"), curve.base.raw())?;
    check_non_negative(&format!("{path}.slope1"), curve.slope1.raw())?;
    check_non_negative(&format!("{path}.slope2"), curve.slope2.raw())?;
    if curve.kink <= Ratio::ZERO || curve.kink >= Ratio::ONE {
        return Err(field_error(&format!("{path}.kink"), "must be strictly between 0 and 1"));
    }
    let ten = Ratio::from_raw(backstop_money::SCALE.saturating_mul(10));
    let total = curve.base.checked_add(curve.slope1).and_then(|sum| sum.checked_add(curve.slope2));
    if !matches!(total, Ok(total) if total <= ten) {
        return Err(field_error(
            &format!("{path}.slope2"),
            "base + slope1 + slope2 must be at most 10 (1000% a year)",
        ));
    }
    Ok(())
}

fn validate_auction(path: &str, auction: &DutchAuctionConfig) -> Result<(), ConfigError> {
    if auction.buf < Ratio::ONE {
        return Err(field_error(&format!("{path}.buf"), "must be at least 1"));
    }
    if auction.step_secs == 0 {
        return Err(field_error(&format!("{path}.step_secs"), "must be at least 1"));
    }
    check_positive_fraction(&format!("{path}.cut"), auction.cut)?;
    if auction.cut == Ratio::ONE {
        return Err(field_error(&format!("{path}.cut"), "must be below 1 so the price falls"));
    }
    if auction.tail_secs == 0 {
        return Err(field_error(&format!("{path}.tail_secs"), "must be at least 1"));
    }
    if auction.tail_secs.checked_div(auction.step_secs).unwrap_or(u64::MAX) > AUCTION_STEP_COUNT_MAX
    {
        return Err(field_error(
            &format!("{path}.tail_secs"),
            &format!("tail_secs / step_secs must be at most {AUCTION_STEP_COUNT_MAX}"),
        ));
    }
    check_positive_fraction(&format!("{path}.cusp"), auction.cusp)?;
    check_fraction(&format!("{path}.penalty"), auction.penalty)
}

fn validate_english_auction(path: &str, auction: &EnglishAuctionConfig) -> Result<(), ConfigError> {
    if auction.beg <= Ratio::ONE {
        return Err(field_error(&format!("{path}.beg"), "must be above 1 so each bid improves"));
    }
    let ten = Ratio::from_raw(backstop_money::SCALE.saturating_mul(10));
    if auction.beg > ten {
        return Err(field_error(&format!("{path}.beg"), "must be at most 10"));
    }
    if auction.ttl_secs == 0 {
        return Err(field_error(&format!("{path}.ttl_secs"), "must be at least 1"));
    }
    if auction.tau_secs == 0 {
        return Err(field_error(&format!("{path}.tau_secs"), "must be at least 1"));
    }
    check_fraction(&format!("{path}.penalty"), auction.penalty)
}

fn check_bonus_fits(path: &str, market: &LendingMarketConfig) -> Result<(), ConfigError> {
    // Seizing (1 + bonus) × debt must fit in the collateral at the liquidation point, or every
    // liquidation would create bad debt: (1 + bonus) × liquidation_threshold ≤ 1 is the usual
    // Aave rule (checked exactly with integers).
    let one_plus_bonus = Ratio::ONE.checked_add(market.liquidation_bonus);
    let product = one_plus_bonus.and_then(|factor| {
        factor.mul_ratio(market.liquidation_threshold, backstop_money::Rounding::Ceil)
    });
    match product {
        Ok(product) if product <= Ratio::ONE => Ok(()),
        _ => Err(field_error(
            &format!("{path}.liquidation_bonus"),
            "(1 + liquidation_bonus) × liquidation_threshold must be at most 1",
        )),
    }
}

fn check_fraction(field: &str, value: Ratio) -> Result<(), ConfigError> {
    if value < Ratio::ZERO || value > Ratio::ONE {
        return Err(field_error(field, &format!("must be between 0 and 1, got {value}")));
    }
    Ok(())
}

fn check_positive_fraction(field: &str, value: Ratio) -> Result<(), ConfigError> {
    if value <= Ratio::ZERO || value > Ratio::ONE {
        return Err(field_error(field, &format!("must be above 0 and at most 1, got {value}")));
    }
    Ok(())
}

fn check_positive(field: &str, value: Ratio) -> Result<(), ConfigError> {
    if value <= Ratio::ZERO {
        return Err(field_error(field, &format!("must be above 0, got {value}")));
    }
    Ok(())
}

fn check_non_negative(field: &str, raw: i128) -> Result<(), ConfigError> {
    if raw < 0 {
        return Err(field_error(field, "must not be negative"));
    }
    Ok(())
}

fn field_error(field: &str, message: &str) -> ConfigError {
    ConfigError { field: field.to_owned(), line: None, message: message.to_owned() }
}

/// Turns a TOML parse or type error into a [`ConfigError`] with its line.
fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let line = error.span().map(|span| line_of_offset(text, span.start));
    let message = error.message().to_owned();
    let key_at_span = error.span().and_then(|span| key_on_line(text, span.start));
    // The key on the error's line names the field best; a message such as "missing field `x`"
    // (whose span is the enclosing table) names it otherwise.
    let field =
        key_at_span.or_else(|| field_from_message(&message)).unwrap_or_else(|| "config".to_owned());
    ConfigError { field, line, message }
}

/// The `key` of a `key = value` line containing byte offset `offset`.
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let start =
        text.get(..offset.min(text.len()))?.rfind('\n').map_or(0, |index| index.saturating_add(1));
    let line = text.get(start..)?.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('[') { None } else { Some(key.to_owned()) }
}

/// Picks the field name out of a serde message such as "unknown field `foo`, expected ...".
fn field_from_message(message: &str) -> Option<String> {
    let start = message.find('`')?;
    let rest = message.get(start.checked_add(1)?..)?;
    let end = rest.find('`')?;
    rest.get(..end).map(str::to_owned)
}

/// 1-based line number of a byte offset.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let prefix = text.get(..offset.min(text.len())).unwrap_or(text);
    prefix.bytes().filter(|byte| *byte == b'\n').count().saturating_add(1)
}

/// Finds the line of a field path such as `lending[1].rate.kink` by scanning table headers.
///
/// The scan understands `[[name]]` arrays of tables, `[name]` and `[name.sub]` tables and
/// `key = value` lines, which is all a venue file uses; a path it cannot follow gives `None`.
pub fn locate_field(text: &str, field: &str) -> Option<usize> {
    let mut parts: Vec<&str> = field.split('.').collect();
    let key = parts.pop()?;
    let mut table = String::new();
    let mut wanted_index = None;
    for (position, part) in parts.iter().enumerate() {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (*part, None),
        };
        if position == 0 {
            wanted_index = index;
        } else {
            table.push('.');
        }
        table.push_str(name);
    }
    let top = parts.first().map_or("", |part| part.split('[').next().unwrap_or(part));
    let mut header = String::new();
    let mut occurrence: Option<usize> = None;
    for (line_index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("[[").and_then(|rest| rest.strip_suffix("]]")) {
            header = name.trim().to_owned();
            if header == top {
                occurrence = Some(occurrence.map_or(0, |count| count.saturating_add(1)));
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            header = name.trim().to_owned();
            continue;
        }
        let in_item = wanted_index.is_none_or(|wanted| occurrence == Some(wanted));
        if header == table
            && in_item
            && let Some((candidate, _)) = trimmed.split_once('=')
            && candidate.trim() == key
        {
            return Some(line_index.saturating_add(1));
        }
    }
    None
}

/// The configuration in force and its digest: the state hash covers the digest, so a change of
/// configuration by governance moves the hash, and a snapshot whose configuration was edited
/// rebuilds to a different hash.
#[derive(Debug, Clone)]
pub(crate) struct ConfigInForce {
    config: std::sync::Arc<VenueConfig>,
    digest: [u8; 32],
}

impl ConfigInForce {
    /// A validated configuration and its digest.
    pub(crate) fn new(config: VenueConfig) -> ConfigInForce {
        let digest = config.digest();
        ConfigInForce { config: std::sync::Arc::new(config), digest }
    }

    /// Puts `config` in force (the only way to change it), recomputing the digest.
    pub(crate) fn replace(&mut self, config: VenueConfig) {
        *self = ConfigInForce::new(config);
    }

    /// SHA-256 of the configuration's canonical rendering ([`VenueConfig::digest`]).
    pub(crate) fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

impl core::ops::Deref for ConfigInForce {
    type Target = VenueConfig;

    fn deref(&self) -> &VenueConfig {
        &self.config
    }
}

impl VenueConfig {
    /// SHA-256 of the configuration rendered as TOML (fields in declaration order), under the
    /// domain tag `backstop-config-v1`; pinned in a test, so a change of rendering shows.
    #[must_use]
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let text = toml::to_string(self).expect("a venue configuration renders as TOML");
        let mut hasher = Sha256::new();
        hasher.update(b"backstop-config-v1");
        hasher.update(text.as_bytes());
        hasher.finalize().into()
    }
}
