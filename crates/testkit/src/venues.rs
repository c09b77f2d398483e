//! Fixture venues: configurations as inline TOML, and the shape generators need to know.
//!
//! Four venues cover the liquidation modes and the awkward decimals:
//! - [`LENDING_PERP`]: USDC and ETH lending in fixed-bonus mode plus an ETH perpetual settled in
//!   USDC (the same venue as `examples/venue.toml`);
//! - [`DUTCH_AUCTION`]: USDC debt is liquidated by Dutch auction; ETH and WBTC lending in
//!   fixed-bonus mode (WBTC borrowing disabled) and a BTC perpetual;
//! - [`TAKEOVER`]: USDC debt and the ETH perpetual are taken over by the backstop account
//!   [`BACKSTOP_ACCOUNT`]; the oracle refuses moves above 85% per update;
//! - [`FINE_DECIMALS`]: 18-decimal DAI, ETH and PEPE (priced at 0.000001) with lending and two
//!   perpetuals settled in DAI, where dust amounts and coarse values of cheap assets occur.

use backstop_core::config::LiquidationMode;
use backstop_core::{AccountId, AssetId, Engine, PerpMarketId, VenueConfig};
use backstop_money::Price;

/// The backstop account of the [`TAKEOVER`] venue.
pub const BACKSTOP_ACCOUNT: AccountId = AccountId(100);

/// A lending and perpetual venue: the same markets as `examples/venue.toml`.
pub const LENDING_PERP_TOML: &str = r#"
[venue]
name = "lending-perp"

[oracle]
max_staleness_secs = 3600

[[asset]]
symbol = "USDC"
decimals = 6

[[asset]]
symbol = "ETH"
decimals = 18

[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
reserve_factor = "0.10"
[lending.rate]
slope1 = "0.04"
kink = "0.90"
slope2 = "0.60"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
close_factor = "0.5"
full_close_health = "0.95"
dust_value = "100"
reserve_factor = "0.15"
protocol_liquidation_share = "0.10"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "100000"
trading_fee = "0.0005"
"#;

/// A venue whose USDC debt is liquidated by a Dutch (descending-price) auction.
pub const DUTCH_AUCTION_TOML: &str = r#"
[venue]
name = "dutch-auction"

[oracle]
max_staleness_secs = 3600

[[asset]]
symbol = "USDC"
decimals = 6

[[asset]]
symbol = "ETH"
decimals = 18

[[asset]]
symbol = "WBTC"
decimals = 8

[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
reserve_factor = "0.10"
[lending.rate]
base = "0.01"
slope1 = "0.04"
kink = "0.90"
slope2 = "0.60"
[lending.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 60
cut = "0.99"
tail_secs = 3600
cusp = "0.45"
penalty = "0.13"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
dust_value = "50"
reserve_factor = "0.15"
protocol_liquidation_share = "0.10"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"

[[lending]]
asset = "WBTC"
collateral_factor = "0.70"
liquidation_threshold = "0.75"
liquidation_bonus = "0.08"
borrow_enabled = false
[lending.rate]
slope1 = "0.02"
kink = "0.50"
slope2 = "1.00"

[[perp]]
name = "BTC-PERP"
underlying = "WBTC"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.06"
liquidation_fee = "0.02"
protocol_liquidation_share = "0.25"
max_leverage = "10"
open_interest_cap = "50"
trading_fee = "0.001"
price_band = "0.05"
"#;

/// A venue whose USDC debt and ETH perpetual are taken over by the backstop account 100.
pub const TAKEOVER_TOML: &str = r#"
[venue]
name = "takeover"
account_count_max = 12

[oracle]
max_staleness_secs = 7200
max_move = "0.85"

[[asset]]
symbol = "USDC"
decimals = 6

[[asset]]
symbol = "ETH"
decimals = 18

[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
reserve_factor = "0.10"
[lending.rate]
slope1 = "0.04"
kink = "0.90"
slope2 = "0.60"
[lending.liquidation]
mode = "takeover"
backstop_account = 100

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
reserve_factor = "0.15"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "100000"
trading_fee = "0.0005"
[perp.liquidation]
mode = "takeover"
backstop_account = 100
"#;

/// A venue of 18-decimal assets, one of them priced at a millionth of the numeraire: amounts and
/// balances can be dust (a few raw units), and values of cheap assets round coarsely.
pub const FINE_DECIMALS_TOML: &str = r#"
[venue]
name = "fine-decimals"

[oracle]
max_staleness_secs = 3600

[[asset]]
symbol = "DAI"
decimals = 18

[[asset]]
symbol = "ETH"
decimals = 18

[[asset]]
symbol = "PEPE"
decimals = 18

[[lending]]
asset = "DAI"
collateral_factor = "0.90"
liquidation_threshold = "0.93"
liquidation_bonus = "0.04"
reserve_factor = "0.10"
[lending.rate]
slope1 = "0.05"
kink = "0.85"
slope2 = "0.75"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
protocol_liquidation_share = "0.10"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"

[[lending]]
asset = "PEPE"
collateral_factor = "0.50"
liquidation_threshold = "0.60"
liquidation_bonus = "0.10"
close_factor = "0.25"
full_close_health = "0.90"
reserve_factor = "0.20"
[lending.rate]
base = "0.02"
slope1 = "0.10"
kink = "0.60"
slope2 = "2.00"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "DAI"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "100000"
trading_fee = "0.0005"

[[perp]]
name = "PEPE-PERP"
underlying = "PEPE"
settlement = "DAI"
initial_margin = "0.20"
maintenance_margin = "0.10"
liquidation_fee = "0.02"
max_leverage = "5"
open_interest_cap = "100000000000000"
trading_fee = "0.001"
"#;

/// A fixture venue: its TOML and a reference price per asset for generators.
///
/// Its `Debug` shows only the name, so a failing property prints a short input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fixture {
    /// Short name for messages.
    pub name: &'static str,
    /// The venue configuration as TOML.
    pub toml: &'static str,
    /// A typical price (numeraire per whole unit) of each asset, in asset-id order.
    pub reference_prices: &'static [&'static str],
}

/// The lending and perpetual venue ([`LENDING_PERP_TOML`]).
pub const LENDING_PERP: Fixture =
    Fixture { name: "lending-perp", toml: LENDING_PERP_TOML, reference_prices: &["1", "2000"] };

/// The Dutch-auction venue ([`DUTCH_AUCTION_TOML`]).
pub const DUTCH_AUCTION: Fixture = Fixture {
    name: "dutch-auction",
    toml: DUTCH_AUCTION_TOML,
    reference_prices: &["1", "2000", "30000"],
};

/// The takeover venue ([`TAKEOVER_TOML`]).
pub const TAKEOVER: Fixture =
    Fixture { name: "takeover", toml: TAKEOVER_TOML, reference_prices: &["1", "2000"] };

/// The fine-decimals venue ([`FINE_DECIMALS_TOML`]).
pub const FINE_DECIMALS: Fixture = Fixture {
    name: "fine-decimals",
    toml: FINE_DECIMALS_TOML,
    reference_prices: &["1", "2000", "0.000001"],
};

/// Every fixture venue.
pub const ALL: [Fixture; 4] = [LENDING_PERP, DUTCH_AUCTION, TAKEOVER, FINE_DECIMALS];

impl core::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Fixture({})", self.name)
    }
}

impl Fixture {
    /// The parsed and validated configuration.
    ///
    /// # Panics
    /// When the fixture's TOML is invalid (a bug in the fixture).
    #[must_use]
    pub fn config(&self) -> VenueConfig {
        match VenueConfig::from_toml_str(self.toml) {
            Ok(config) => config,
            Err(error) => panic!("fixture venue {} is invalid: {error}", self.name),
        }
    }

    /// A fresh engine at time zero over this venue.
    ///
    /// # Panics
    /// When the fixture's TOML is invalid (a bug in the fixture).
    #[must_use]
    pub fn engine(&self) -> Engine {
        match Engine::new(self.config()) {
            Ok(engine) => engine,
            Err(error) => panic!("fixture venue {} is invalid: {error}", self.name),
        }
    }

    /// What generators need to know about the venue.
    ///
    /// # Panics
    /// When the fixture's TOML or its reference prices are invalid (a bug in the fixture).
    #[must_use]
    pub fn shape(&self) -> VenueShape {
        let config = self.config();
        let prices = self
            .reference_prices
            .iter()
            .map(|text| match text.parse::<Price>() {
                Ok(price) => price,
                Err(error) => {
                    panic!("fixture {}: bad reference price {text:?}: {error}", self.name)
                }
            })
            .collect::<Vec<_>>();
        assert_eq!(
            prices.len(),
            config.assets.len(),
            "fixture {}: one reference price per asset",
            self.name
        );
        VenueShape::new(&config, &prices)
    }
}

/// One asset as generators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetShape {
    /// Its id.
    pub id: AssetId,
    /// Decimals of its smallest unit.
    pub decimals: u32,
    /// A typical price, used to size amounts and as a fallback price.
    pub reference_price: Price,
    /// Whether it has a lending market.
    pub lending: bool,
    /// Whether its lending market is liquidated by Dutch auction.
    pub dutch_auction: bool,
}

impl AssetShape {
    /// The raw size of one smallest unit (10^(18 − decimals)).
    #[must_use]
    pub fn quantum(&self) -> i128 {
        10_i128.pow(backstop_money::SCALE_DECIMALS.saturating_sub(self.decimals))
    }
}

/// One perpetual market as generators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerpShape {
    /// Its id.
    pub id: PerpMarketId,
    /// Asset whose price is the index price.
    pub underlying: AssetId,
    /// Asset of margin and PnL.
    pub settlement: AssetId,
}

/// What generators know about a venue: assets, markets and the accounts to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueShape {
    /// Listed assets in id order.
    pub assets: Vec<AssetShape>,
    /// Perpetual markets in id order.
    pub perps: Vec<PerpShape>,
    /// Regular accounts the generators open and act with.
    pub accounts: Vec<AccountId>,
    /// The backstop account named by a takeover market, if any.
    pub backstop: Option<AccountId>,
}

/// Regular accounts every generated sequence opens: 1 to 5.
pub const REGULAR_ACCOUNTS: [AccountId; 5] =
    [AccountId(1), AccountId(2), AccountId(3), AccountId(4), AccountId(5)];

impl VenueShape {
    /// The shape of a configuration, with a reference price per asset.
    #[must_use]
    pub fn new(config: &VenueConfig, reference_prices: &[Price]) -> VenueShape {
        let assets = config
            .assets
            .iter()
            .enumerate()
            .map(|(index, asset)| {
                let id = AssetId(u16::try_from(index).unwrap_or(u16::MAX));
                let market = config.lending.iter().find(|market| market.asset == asset.symbol);
                AssetShape {
                    id,
                    decimals: asset.decimals,
                    reference_price: reference_prices.get(index).copied().unwrap_or(Price::ONE),
                    lending: market.is_some(),
                    dutch_auction: market.is_some_and(|market| {
                        matches!(market.liquidation, LiquidationMode::DutchAuction(_))
                    }),
                }
            })
            .collect();
        let perps = config
            .perps
            .iter()
            .enumerate()
            .map(|(index, market)| PerpShape {
                id: PerpMarketId(u16::try_from(index).unwrap_or(u16::MAX)),
                underlying: config.asset_id(&market.underlying).unwrap_or(AssetId(0)),
                settlement: config.asset_id(&market.settlement).unwrap_or(AssetId(0)),
            })
            .collect();
        let backstop = config
            .lending
            .iter()
            .map(|market| &market.liquidation)
            .chain(config.perps.iter().map(|market| &market.liquidation))
            .find_map(|mode| match mode {
                LiquidationMode::Takeover { backstop_account } => Some(*backstop_account),
                _ => None,
            });
        VenueShape { assets, perps, accounts: REGULAR_ACCOUNTS.to_vec(), backstop }
    }

    /// Assets with a lending market.
    #[must_use]
    pub fn lending_assets(&self) -> Vec<AssetId> {
        self.assets.iter().filter(|asset| asset.lending).map(|asset| asset.id).collect()
    }

    /// Every account the generators use, the backstop account last.
    #[must_use]
    pub fn all_accounts(&self) -> Vec<AccountId> {
        self.accounts.iter().copied().chain(self.backstop).collect()
    }

    /// The shape of an asset, if listed.
    #[must_use]
    pub fn asset(&self, asset: AssetId) -> Option<&AssetShape> {
        self.assets.get(asset.index())
    }
}

/// [`LENDING_PERP_TOML`] with an insurance fund in front of the USDC market, then socialisation.
pub fn insured_lending_perp_toml() -> String {
    format!(
        "{LENDING_PERP_TOML}\n[[fund]]\nname = \"insurance\"\nasset = \"USDC\"\nmarkets = [\"USDC\"]\n\n\
         [[waterfall]]\nmarket = \"USDC\"\nlayers = [\"fund:insurance\", \"socialize\"]\n"
    )
}

/// examples/crash.script before the crash on [`insured_lending_perp_toml`], plus 1,500 USDC
/// donated to the fund: 15,000 USDC borrowed against 10 ETH at 2,000.
pub const INSURED_CRASH_SETUP: &str = "\
set_price asset=USDC price=1
set_price asset=ETH price=2000
open_account account=1
open_account account=2
open_account account=3
deposit account=1 asset=USDC amount=100000
supply account=1 asset=USDC amount=100000
deposit account=2 asset=ETH amount=10
deposit account=3 asset=USDC amount=50000
advance_time by=60
set_price asset=USDC price=1
set_price asset=ETH price=2000
borrow account=2 asset=USDC amount=15000
withdraw account=2 asset=USDC amount=15000
donate account=3 layer=fund:insurance amount=1500
";
