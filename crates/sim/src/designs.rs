//! Design presets for `backstop compare`: named backstop structures (layers, their parameters,
//! their order and their own capital) that can be put onto a scenario's exposure.
//!
//! A design replaces the safety-net sections of the scenario's venue (`[[fund]]`, `[[offset]]`,
//! `[[staker_pool]]`, `[[stability_pool]]`, `[[cover]]`, `[recap]`, `[[waterfall]]`, `[breaker]`,
//! `[[liquidity]]`) and the scenario's `[[funding]]`. Everything else — assets, markets and their
//! liquidation mechanics, population, prices, keepers, events — stays the scenario's, so designs
//! are compared on the same exposure. A stability pool that a market's liquidation mode uses
//! (Liquity-style liquidation) is part of the liquidation mechanism and stays too, with its
//! funding, which is not counted as backstop capital.
//!
//! Parameters come from ../shared/design/reference/ (cited per preset); a number that no source
//! publishes is marked `assumed` in [`LayerSpec::size`] and in the report.

use serde::Serialize;

/// Which exposure a design takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureKind {
    /// Lending markets (a deficit is a borrower's debt left without collateral).
    Lending,
    /// Perpetual markets (a deficit is a bankrupt position's negative equity).
    Perp,
}

impl ExposureKind {
    /// `lending` or `perp`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ExposureKind::Lending => "lending",
            ExposureKind::Perp => "perp",
        }
    }
}

/// The size of a layer in the design's own configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// A published size, in whole units of the deficit asset (source in the preset's comment).
    Published(u64),
    /// No published size: `assumed` equal to the scenario's own backstop capital.
    Assumed,
}

/// One funded layer of a design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSpec {
    /// Waterfall text (`fund:insurance`, `stakers:backstop` …).
    pub layer: &'static str,
    /// The section table (`fund`, `offset`, `staker_pool`, `stability_pool`).
    pub table: &'static str,
    /// The section's TOML body without `name` and `asset`; `{MARKETS}` is replaced by the
    /// exposure's market names as a TOML array.
    pub body: &'static str,
    /// As-configured size; its share of the design's total is the split under equal capital.
    pub size: Size,
}

/// A design preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Design {
    /// Name used on the command line (`--designs`).
    pub name: &'static str,
    /// Human title.
    pub title: &'static str,
    /// Which exposure it takes.
    pub exposure: ExposureKind,
    /// Where its parameters come from.
    pub source: &'static str,
    /// Funded layers, in waterfall order.
    pub layers: &'static [LayerSpec],
    /// Unfunded layers after them (`fees`, `recap`, `socialize`, `adl:<policy>`).
    pub tail: &'static [&'static str],
    /// A `[recap]` body (Maker-style debt auctions); the token is added as an asset if the venue
    /// lacks it.
    pub recap: Option<(&'static str, &'static str)>,
}

/// Blend v2: a first-loss backstop staker pool, then default against suppliers.
/// rust-protocols.md §2.2–2.9, lending-perps-cover.md §2.10 (blend-contracts-v2
/// backstop/src/constants.rs: Q4W_LOCK_TIME 17 d, MAX_Q4W_SIZE 20). The pool's size is not
/// published per pool: `assumed`.
const BLEND: Design = Design {
    name: "blend",
    title: "Blend v2 (backstop staker pool, then suppliers)",
    exposure: ExposureKind::Lending,
    source: "lending-perps-cover.md §2.10; rust-protocols.md §2.2–2.9",
    layers: &[LayerSpec {
        layer: "stakers:backstop",
        table: "staker_pool",
        body: "cooldown_secs = 1468800\nqueue_entries_max = 20\ndequeue_order = \"newest_first\"\n\
               exposure = \"full\"\nslash_cap = \"1\"\nblock_withdrawals_with_bad_debt = true\n",
        size: Size::Assumed,
    }],
    tail: &["socialize"],
    recap: None,
};

/// Aave v3.3 with Umbrella: the DAO's deficit offset (100,000 USDC), then the reserve's stake
/// token slashed all but dust (1 unit), then suppliers. lending-perps-cover.md §2.1 and §3 (BGD
/// ARFC "Aave Umbrella – activation": offset 100,000, target liquidity 85 M, cooldown 20 d).
/// The stake's size is the ARFC's target liquidity.
const AAVE_UMBRELLA: Design = Design {
    name: "aave-umbrella",
    title: "Aave v3.3 + Umbrella (DAO offset, stake slash, then suppliers)",
    exposure: ExposureKind::Lending,
    source: "lending-perps-cover.md §2.1, §3 (Umbrella ARFC)",
    layers: &[
        LayerSpec {
            layer: "offset:treasury",
            table: "offset",
            body: "",
            size: Size::Published(100_000),
        },
        LayerSpec {
            layer: "stakers:umbrella",
            table: "staker_pool",
            body: "cooldown_secs = 1728000\nqueue_entries_max = 1\nexposure = \"full\"\n\
                   slash_cap = \"1\"\nmin_assets = \"1\"\nblock_withdrawals_with_bad_debt = false\n",
            size: Size::Published(85_000_000),
        },
    ],
    tail: &["socialize"],
    recap: None,
};

/// Compound v3 (Comet): reserves (targetReserves 5,000,000 USDC in cUSDCv3), then suppliers
/// (negative reserves are borne by the pool). lending-perps-cover.md §2.5.
const COMPOUND_V3: Design = Design {
    name: "compound-v3",
    title: "Compound v3 (reserves, then suppliers)",
    exposure: ExposureKind::Lending,
    source: "lending-perps-cover.md §2.5 (comet deployments/mainnet/usdc/configuration.json)",
    layers: &[LayerSpec {
        layer: "fund:reserves",
        table: "fund",
        body: "markets = {MARKETS}\n",
        size: Size::Published(5_000_000),
    }],
    tail: &["socialize"],
    recap: None,
};

/// Maker/Sky: the surplus buffer (250 M DAI in the 2022 spells config), then MKR debt (Flop)
/// auctions: 50,000 DAI for 250 MKR, +20% after 3 days unbid. lending-perps-cover.md §2.2, §3.
const MAKER: Design = Design {
    name: "maker",
    title: "Maker/Sky (surplus buffer, then MKR debt auctions)",
    exposure: ExposureKind::Lending,
    source: "lending-perps-cover.md §2.2, §3 (dss Vow/Flop, spells config, Maker blog 2020)",
    layers: &[LayerSpec {
        layer: "fund:surplus",
        table: "fund",
        body: "",
        size: Size::Published(250_000_000),
    }],
    tail: &["recap"],
    recap: Some((
        "MKR",
        "lot = \"250\"\nbid = \"50000\"\nlot_growth = \"0.2\"\nrestart_secs = 259200\n",
    )),
};

/// Liquity v2 (BOLD): the branch's stability pool (MIN_BOLD_IN_SP 1), then what is left is
/// written off against suppliers (Liquity v2 leaves it as unbacked BOLD, liquity/bold#318).
/// lending-perps-cover.md §2.4. Deposits in the pool are not published per branch: `assumed`.
const LIQUITY_V2: Design = Design {
    name: "liquity-v2",
    title: "Liquity v2 (stability pool, then suppliers)",
    exposure: ExposureKind::Lending,
    source: "lending-perps-cover.md §2.4 (liquity/bold Constants.sol, StabilityPool.sol)",
    layers: &[LayerSpec {
        layer: "stability:sp",
        table: "stability_pool",
        body: "min_remaining = \"1\"\n",
        size: Size::Assumed,
    }],
    tail: &["socialize"],
    recap: None,
};

/// Liquity v1 (LUSD): the Stability Pool, then redistribution of the rest to the other troves
/// (here: written off against suppliers, the engine's nearest layer); the pool keeps 1 LUSD
/// (MIN_LUSD_IN_SP since liquity/dev#1044). No reserve fund and no mint. lending-perps-cover.md
/// §2.3. Deposits: `assumed`. In this engine it differs from Liquity v2 only in name: the
/// mechanics that set them apart (Recovery Mode, per-branch isolation) are not layers.
const LIQUITY_V1: Design = Design {
    name: "liquity-v1",
    title: "Liquity v1 (Stability Pool, then redistribution)",
    exposure: ExposureKind::Lending,
    source: "lending-perps-cover.md §2.3 (liquity/dev StabilityPool.sol, PR #1044)",
    layers: &[LayerSpec {
        layer: "stability:sp",
        table: "stability_pool",
        body: "min_remaining = \"1\"\n",
        size: Size::Assumed,
    }],
    tail: &["socialize"],
    recap: None,
};

/// An exchange insurance fund with ADL (Binance / BitMEX): a fund per contract group, then
/// auto-deleveraging ranked by PnL% × effective leverage. lending-perps-cover.md §2.8. Fund sizes
/// per contract are not published: `assumed`.
const EXCHANGE_ADL: Design = Design {
    name: "exchange-adl",
    title: "Exchange insurance fund + ADL by rank (Binance/BitMEX)",
    exposure: ExposureKind::Perp,
    source: "lending-perps-cover.md §2.8",
    layers: &[LayerSpec {
        layer: "fund:insurance",
        table: "fund",
        body: "markets = {MARKETS}\n",
        size: Size::Assumed,
    }],
    tail: &["adl:rank"],
    recap: None,
};

/// Drift v2: the insurance fund, drawn at most 100,000 per market over its life (tier C,
/// `assumed` for this exposure), never below 1 unit (vault − 1), then the market's fee pool, then
/// socialisation across open interest. lending-perps-cover.md §2.9. Fund size: `assumed`.
const DRIFT: Design = Design {
    name: "drift",
    title: "Drift v2 (capped insurance fund, fee pool, then socialised)",
    exposure: ExposureKind::Perp,
    source: "lending-perps-cover.md §2.9 (protocol-v2 resolve_perp_bankruptcy)",
    layers: &[LayerSpec {
        layer: "fund:insurance",
        table: "fund",
        body: "floor = \"1\"\nmarket_lifetime_cap = \"100000\"\nmarkets = {MARKETS}\n",
        size: Size::Assumed,
    }],
    tail: &["fees", "socialize"],
    recap: None,
};

/// dYdX v4: the insurance fund, then deleveraging against opposite positions iterated from a
/// random offset, at the bankruptcy price. lending-perps-cover.md §2.6. Fund size: `assumed`.
const DYDX_V4: Design = Design {
    name: "dydx-v4",
    title: "dYdX v4 (insurance fund, then random-offset deleveraging)",
    exposure: ExposureKind::Perp,
    source: "lending-perps-cover.md §2.6 (v4-chain deleveraging.go)",
    layers: &[LayerSpec {
        layer: "fund:insurance",
        table: "fund",
        body: "markets = {MARKETS}\n",
        size: Size::Assumed,
    }],
    tail: &["adl:random"],
    recap: None,
};

/// Hyperliquid: the liquidator vault (HLP, deposits locked 4 days) takes the loss first, then ADL
/// ranked by unrealised PnL and leverage. lending-perps-cover.md §2.7. Here the vault is a
/// first-loss staker pool paying the deficit (HLP takes over positions instead); its size:
/// `assumed`.
const HYPERLIQUID: Design = Design {
    name: "hyperliquid",
    title: "Hyperliquid (HLP vault, then ADL by rank)",
    exposure: ExposureKind::Perp,
    source: "lending-perps-cover.md §2.7",
    layers: &[LayerSpec {
        layer: "stakers:hlp",
        table: "staker_pool",
        body: "cooldown_secs = 345600\nqueue_entries_max = 1\nexposure = \"full\"\n\
               slash_cap = \"1\"\nblock_withdrawals_with_bad_debt = false\n",
        size: Size::Assumed,
    }],
    tail: &["adl:rank"],
    recap: None,
};

/// Pro-rata ADL (a policy study, not a venue): the insurance fund, then every opposite profitable
/// position closed in proportion to its size at the bankruptcy price. Chitra et al. 2025,
/// "Autodeleveraging as Online Learning"; lending-perps-cover.md §3 ("a pro-rata alternative").
/// Fund size: `assumed`.
const ADL_PRO_RATA: Design = Design {
    name: "adl-pro-rata",
    title: "Insurance fund + ADL pro rata (policy study)",
    exposure: ExposureKind::Perp,
    source: "Chitra et al. 2025; lending-perps-cover.md §3",
    layers: &[LayerSpec {
        layer: "fund:insurance",
        table: "fund",
        body: "markets = {MARKETS}\n",
        size: Size::Assumed,
    }],
    tail: &["adl:pro_rata"],
    recap: None,
};

/// Minimum-shortfall ADL (a policy study, the fairness benchmark): the insurance fund, then
/// haircuts on profitable opposite positions at the mark, water-filled so the largest is as small
/// as possible (Chitra et al. 2025's minimum-haircut allocation); what their profit cannot cover
/// is socialised. Fund size: `assumed`.
const ADL_MIN_SHORTFALL: Design = Design {
    name: "adl-min-shortfall",
    title: "Insurance fund + ADL by minimum shortfall (policy study)",
    exposure: ExposureKind::Perp,
    source: "Chitra et al. 2025 (minimum-haircut allocation)",
    layers: &[LayerSpec {
        layer: "fund:insurance",
        table: "fund",
        body: "markets = {MARKETS}\n",
        size: Size::Assumed,
    }],
    tail: &["adl:min_shortfall", "socialize"],
    recap: None,
};

/// Every preset, in report order: lending designs, then perpetual designs.
pub const DESIGNS: &[Design] = &[
    BLEND,
    AAVE_UMBRELLA,
    COMPOUND_V3,
    MAKER,
    LIQUITY_V1,
    LIQUITY_V2,
    EXCHANGE_ADL,
    DRIFT,
    DYDX_V4,
    HYPERLIQUID,
    ADL_PRO_RATA,
    ADL_MIN_SHORTFALL,
];

/// The preset named `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static Design> {
    DESIGNS.iter().find(|design| design.name == name)
}

/// Splits `total` whole units over `sizes` in proportion: each share is
/// ⌊total × size / Σ sizes⌋ (128-bit intermediates), and the remainder of the floors goes to the
/// first layer. All sizes zero: everything to the first layer. No layers: nothing.
#[must_use]
pub fn split(total: u64, sizes: &[u64]) -> Vec<u64> {
    let sum: u128 = sizes.iter().map(|size| u128::from(*size)).sum();
    if sizes.is_empty() {
        return Vec::new();
    }
    let mut shares: Vec<u64> = if sum == 0 {
        vec![0; sizes.len()]
    } else {
        sizes
            .iter()
            .map(|size| {
                let share = u128::from(total) * u128::from(*size) / sum;
                u64::try_from(share).unwrap_or(u64::MAX)
            })
            .collect()
    };
    let given: u64 = shares.iter().sum();
    shares[0] += total - given;
    shares
}

/// The payer class of a waterfall layer: `fund`, `treasury` (offsets and the venue's fee pool),
/// `stakers`, `stability_depositors`, `socialised` (suppliers of a lending market, or open
/// interest of a perpetual market), `traders_adl`, `token_holders` (recapitalisation by
/// minting) or `cover`.
#[must_use]
pub fn payer_class(layer: &str) -> &'static str {
    match layer.split_once(':').map_or(layer, |(kind, _)| kind) {
        "fund" => "fund",
        "offset" | "fees" => "treasury",
        "stakers" => "stakers",
        "stability" => "stability_depositors",
        "socialize" => "socialised",
        "adl" => "traders_adl",
        "recap" => "token_holders",
        "cover" => "cover",
        _ => "other",
    }
}

/// Every payer class, in table order.
pub const PAYER_CLASSES: [&str; 8] = [
    "fund",
    "treasury",
    "stakers",
    "stability_depositors",
    "socialised",
    "traders_adl",
    "token_holders",
    "cover",
];

#[cfg(test)]
mod tests {
    use super::{DESIGNS, payer_class, split};

    #[test]
    fn split_floors_and_gives_the_remainder_to_the_first_layer() {
        // 500,000 over 100,000 : 85,000,000 (Umbrella): 500,000 × 100,000 / 85,100,000 =
        // 587.54… → 587; 500,000 × 85,000,000 / 85,100,000 = 499,412.45… → 499,412; the floors
        // leave 1, which goes to the offset: 588 + 499,412 = 500,000.
        assert_eq!(split(500_000, &[100_000, 85_000_000]), vec![588, 499_412]);
        assert_eq!(split(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(split(7, &[0, 0]), vec![7, 0]);
        assert_eq!(split(7, &[]), Vec::<u64>::new());
    }

    #[test]
    fn payer_classes_and_names() {
        assert_eq!(payer_class("offset:treasury"), "treasury");
        assert_eq!(payer_class("adl:rank"), "traders_adl");
        assert_eq!(payer_class("socialize"), "socialised");
        assert_eq!(payer_class("recap"), "token_holders");
        let mut names: Vec<&str> = DESIGNS.iter().map(|design| design.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DESIGNS.len(), "design names are unique");
    }
}
