//! `backstop compare` on a three-account venue: each design's payers and amounts by hand.
#![allow(clippy::unwrap_used, clippy::float_cmp, missing_docs)]

mod common;

use backstop_sim::compare::{Capital, CompareResult, DesignOutcome, compare};
use backstop_sim::designs::{DESIGNS, Design};
use backstop_sim::runner::RunOptions;

/// USDC lent against ETH; ETH's bonus is 20%, so the toxic-spiral guard (no bonus when the
/// loan-to-value exceeds 1 / 1.2) decides the liquidation below. The scenario's own safety net:
/// a 300 USDC insurance fund, then suppliers.
const VENUE: &str = include_str!("fixtures/three-accounts/venue.toml");

/// Three accounts: carol supplies 10,000 USDC; alice borrows 800 USDC on 1 ETH (at 1,000: the
/// 80% limit); bob borrows 1,000 USDC on 4 ETH.
const POSITIONS: &str = include_str!("fixtures/three-accounts/positions.csv");

/// ETH at 1,000, then 480 from step 1 (a depeg event: an exact price).
const SCENARIO: &str = include_str!("fixtures/three-accounts/three.toml");

fn run(capital: Capital, threads: Option<usize>, paths: Option<u32>) -> CompareResult {
    let dir = common::directory(&[
        ("venue.toml", VENUE),
        ("positions.csv", POSITIONS),
        ("three.toml", SCENARIO),
    ]);
    let scenario = backstop_sim::scenario::load(&dir.join("three.toml")).unwrap();
    let designs: Vec<&Design> = DESIGNS.iter().collect();
    let options = RunOptions { threads, paths, ..RunOptions::default() };
    compare(&scenario, &designs, capital, &options).unwrap()
}

fn design<'r>(result: &'r CompareResult, name: &str) -> &'r DesignOutcome {
    result.designs.iter().find(|outcome| outcome.design == name).unwrap()
}

/// (payer class, mean paid) of every class that paid.
fn payers(outcome: &DesignOutcome) -> Vec<(&str, f64)> {
    outcome
        .paid
        .iter()
        .filter(|(_, statistic)| statistic.mean != 0.0)
        .map(|(class, statistic)| (class.as_str(), statistic.mean))
        .collect()
}

/// At step 1 ETH is at 480: alice's loan-to-value is 800 / 480 > 1 / 1.2, so the toxic-spiral
/// guard pays no bonus; the keeper repays 480 USDC for her whole 1 ETH, and 800 − 480 = 320 USDC
/// is left as a deficit. Bob (1,000 on 4 × 480 × 0.825 = 1,584) stays healthy. Every design sees
/// this deficit. Equal capital: the scenario's 300 USDC, split in each design's proportions.
#[test]
fn equal_capital_payers_by_hand() {
    let result = run(Capital::Equal, None, None);
    assert_eq!(result.scenario_capital, 300);
    assert_eq!(result.deficit_asset, "USDC");
    for outcome in &result.designs {
        if outcome.status == "ran" {
            assert_eq!(outcome.deficit.mean, 320.0, "{}", outcome.design);
            assert_eq!(outcome.uncovered.mean, 0.0, "{}", outcome.design);
        }
    }
    // Blend: the backstop pool (300) is slashed in full, suppliers take 320 − 300 = 20.
    assert_eq!(payers(design(&result, "blend")), vec![("socialised", 20.0), ("stakers", 300.0)]);
    // Umbrella: 300 over 100,000 : 85,000,000 → ⌊0.35⌋ = 0 and ⌊299.65⌋ = 299, the remainder 1
    // to the offset: offset 1, stake 299. The offset pays 1; the stake pays all but its 1 unit of
    // dust, 298; suppliers take 320 − 1 − 298 = 21.
    let umbrella = design(&result, "aave-umbrella");
    assert_eq!(umbrella.layers.iter().map(|l| l.funded).collect::<Vec<_>>(), vec![1, 299]);
    assert_eq!(payers(umbrella), vec![("socialised", 21.0), ("stakers", 298.0), ("treasury", 1.0)]);
    // Compound v3: reserves 300, suppliers 20.
    assert_eq!(payers(design(&result, "compound-v3")), vec![("fund", 300.0), ("socialised", 20.0)]);
    // Maker: surplus 300, then a debt auction raises the remaining 20 by minting MKR.
    assert_eq!(payers(design(&result, "maker")), vec![("fund", 300.0), ("token_holders", 20.0)]);
    // Liquity v1 and v2: the stability pool keeps 1 unit and absorbs 299; suppliers 21.
    for liquity in ["liquity-v1", "liquity-v2"] {
        assert_eq!(
            payers(design(&result, liquity)),
            vec![("socialised", 21.0), ("stability_depositors", 299.0)]
        );
    }
    for perp in ["exchange-adl", "drift", "dydx-v4", "hyperliquid"] {
        assert_eq!(
            design(&result, perp).status,
            "not applicable: perp design, but USDC is a lending market",
        );
    }
}

/// As configured: Umbrella's 100,000 offset, Compound's 5 M reserves and Maker's 250 M surplus
/// each pay the whole 320; Blend and Liquity have no published size (`assumed`: the scenario's
/// 300) and pay as above.
#[test]
fn as_configured_payers_by_hand() {
    let result = run(Capital::AsConfigured, None, None);
    assert_eq!(payers(design(&result, "aave-umbrella")), vec![("treasury", 320.0)]);
    assert_eq!(payers(design(&result, "compound-v3")), vec![("fund", 320.0)]);
    assert_eq!(payers(design(&result, "maker")), vec![("fund", 320.0)]);
    assert_eq!(payers(design(&result, "blend")), vec![("socialised", 20.0), ("stakers", 300.0)]);
    let blend = design(&result, "blend");
    assert!(blend.layers[0].assumed);
    // The pool fell from 300 to 0.
    assert_eq!(blend.layers[0].deepest_drawdown, Some(300.0));
}

#[test]
fn compare_json_is_the_same_for_one_and_two_threads() {
    // Four paths (keepers pick accounts in an order shuffled by each path's stream).
    let one = run(Capital::Equal, Some(1), Some(4));
    let two = run(Capital::Equal, Some(2), Some(4));
    assert_eq!(one.paths, 4);
    assert_eq!(design(&one, "blend").deficit.var99, 320.0);
    assert_eq!(serde_json::to_string(&one).unwrap(), serde_json::to_string(&two).unwrap());
}

/// Black Thursday (scenarios/black-thursday-2020.toml, waypoints only: runs without ../shared)
/// through the lending designs with the scenario's 500,000 DAI each. The exposure and its
/// deficit are the same for every design (the Flip auctions and their bidders, not the safety
/// net, make it); who pays differs. Pinned exactly (one path, seed 2020).
#[test]
fn black_thursday_through_the_lending_designs() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/black-thursday-2020.toml");
    let scenario = backstop_sim::scenario::load(&file).unwrap();
    let designs: Vec<&Design> = DESIGNS.iter().take(6).collect();
    let result = compare(&scenario, &designs, Capital::Equal, &RunOptions::default()).unwrap();
    assert_eq!(result.scenario_capital, 500_000);
    let deficit = 6_436_150.334_190_998;
    for outcome in &result.designs {
        assert_eq!(outcome.status, "ran");
        assert_eq!(outcome.deficit.mean, deficit, "{}", outcome.design);
        assert_eq!(outcome.uncovered.mean, 0.0, "{}", outcome.design);
    }
    // The first layer's 500,000 (valued at the oracle's DAI price: 500,000.00000000006), the
    // rest by the design's last resort.
    let first = 500_000.000_000_000_06;
    let rest = 5_936_150.334_190_997;
    assert_eq!(payers(design(&result, "blend")), vec![("socialised", rest), ("stakers", first)]);
    assert_eq!(payers(design(&result, "maker")), vec![("fund", first), ("token_holders", rest)]);
    assert_eq!(payers(design(&result, "compound-v3")), vec![("fund", first), ("socialised", rest)]);
    // Umbrella: offset 588 (the split's floors leave 1 for it beyond ⌊587.54⌋), stake 499,412
    // of which it pays all but 1.
    assert_eq!(
        payers(design(&result, "aave-umbrella")),
        vec![("socialised", 5_936_151.334_190_997), ("stakers", 499_411.0), ("treasury", 588.0)]
    );
    assert_eq!(
        payers(design(&result, "liquity-v2")),
        vec![
            ("socialised", 5_936_151.334_190_997),
            ("stability_depositors", 499_999.000_000_000_06)
        ]
    );
}

/// 10 October 2025 (scenarios/october-10-2025.toml, waypoints only) through the perpetual
/// designs with the scenario's 2,000,000 USDT each, one path, seed 2025, pinned exactly. The
/// lending designs are not applicable. Rank-ranked ADL (exchange, Hyperliquid) closes the same
/// positions whether the first loss is a fund or a pool, so the two agree; Drift's fund may pay
/// 100,000 per market (3 markets: 300,000), then the fee pool and open interest pay.
#[test]
fn october_10_through_the_perp_designs() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/october-10-2025.toml");
    let scenario = backstop_sim::scenario::load(&file).unwrap();
    let names = [
        "blend",
        "exchange-adl",
        "drift",
        "dydx-v4",
        "hyperliquid",
        "adl-pro-rata",
        "adl-min-shortfall",
    ];
    let designs: Vec<&Design> =
        names.iter().map(|name| backstop_sim::designs::find(name).unwrap()).collect();
    let result = compare(&scenario, &designs, Capital::Equal, &RunOptions::default()).unwrap();
    assert_eq!(result.scenario_capital, 2_000_000);
    assert_eq!(
        design(&result, "blend").status,
        "not applicable: lending design, but BTC-PERP is a perp market"
    );
    let adl = 3_389_678.655_760_317;
    let exchange = design(&result, "exchange-adl");
    assert_eq!(exchange.deficit.mean, 5_389_678.655_760_317);
    assert_eq!(payers(exchange), vec![("fund", 2_000_000.000_000_001), ("traders_adl", adl)]);
    let hyperliquid = design(&result, "hyperliquid");
    assert_eq!(payers(hyperliquid), vec![("stakers", 2_000_000.000_000_001), ("traders_adl", adl)]);
    let drift = design(&result, "drift");
    assert_eq!(drift.deficit.mean, 5_961_950.709_886_963_5);
    assert_eq!(
        payers(drift),
        vec![
            ("fund", 300_000.0),
            ("socialised", 3_387_295.177_237_238_3),
            ("treasury", 2_274_655.532_649_728_5)
        ]
    );
    assert_eq!(drift.layers[0].deepest_drawdown, Some(300_000.0));
    let dydx = design(&result, "dydx-v4");
    assert_eq!(dydx.deficit.mean, 4_777_862.246_980_697);
    assert_eq!(
        payers(dydx),
        vec![("fund", 1_999_999.999_999_998_8), ("traders_adl", 2_777_862.246_980_698)]
    );
    for outcome in result.designs.iter().filter(|outcome| outcome.status == "ran") {
        assert_eq!(outcome.uncovered.mean, 0.0, "{}", outcome.design);
    }
    // ADL fairness on this path: rank, pro rata and minimum shortfall take the same 3,389,679
    // from traders (the same deficit: the same bankruptcies), but the largest single haircut is
    // 161,182 by rank, 448,018 pro rata (closed at the bankruptcy price in proportion to size,
    // the biggest position pays most) and 9,008 by minimum shortfall (water-filled). Random
    // (dYdX) closes other positions, and the cascade after it differs (0 of 1 paths with the
    // same deficit).
    let adl = |name: &str| design(&result, name).adl.clone().unwrap();
    let excess = |name: &str| adl(name).excess_max_over_min_shortfall.unwrap().mean;
    assert_eq!(adl("adl-min-shortfall").haircut_max.mean, 9_007.658_622_102_543);
    assert_eq!(adl("exchange-adl").haircut_max.mean, 161_182.241_367_683_75);
    assert_eq!(excess("exchange-adl"), 152_174.582_745_581_2);
    assert_eq!(excess("adl-pro-rata"), 439_010.552_671_683_5);
    assert_eq!(excess("dydx-v4"), 138_036.688_394_084_98);
    assert_eq!(adl("exchange-adl").paths_with_same_deficit, Some(1));
    assert_eq!(adl("adl-pro-rata").paths_with_same_deficit, Some(1));
    assert_eq!(adl("dydx-v4").paths_with_same_deficit, Some(0));
    assert_eq!(adl("adl-min-shortfall").excess_max_over_min_shortfall.unwrap().mean, 0.0);
    assert!(design(&result, "drift").adl.is_none(), "Drift socialises: no ADL layer");
}

/// A perpetual venue (USDT-settled BTC-PERP, no trading fee) with a 300 USDT insurance fund, then
/// ADL by rank.
const PERP_VENUE: &str = r#"
[[asset]]
symbol = "USDT"
decimals = 6
[[asset]]
symbol = "BTC"
decimals = 8
[[perp]]
name = "BTC-PERP"
underlying = "BTC"
settlement = "USDT"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
protocol_liquidation_share = "1"
max_leverage = "10"
open_interest_cap = "10000"
trading_fee = "0"
[[fund]]
name = "insurance"
asset = "USDT"
markets = ["BTC-PERP"]
[[waterfall]]
market = "BTC-PERP"
layers = ["fund:insurance", "adl:rank"]
"#;

/// Three traders at 10,000: alice long 0.5 BTC on 1,000 USDT (5×), bob short 0.3 and carol short
/// 0.2 on 10,000 each (the maker takes the other side of each trade and ends flat).
const PERP_POSITIONS: &str = "\
account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size
alice,trader,USDT,1000,,,BTC-PERP,0.5
bob,trader,USDT,10000,,,BTC-PERP,-0.3
carol,trader,USDT,10000,,,BTC-PERP,-0.2
";

/// BTC at 10,000, then 7,000 from step 1.
const PERP_SCENARIO: &str = r#"
[scenario]
name = "three-traders"
[venue]
path = "venue.toml"
[run]
steps = 2
step_secs = 3600
seed = 7
[[prices.asset]]
asset = "BTC"
source = "constant"
price = 10000.0
[[population]]
kind = "csv"
csv = "positions.csv"
[[events]]
kind = "depeg"
asset = "BTC"
step = 1
price = 7000.0
duration_steps = 2
[[funding]]
layer = "fund:insurance"
amount = 300
"#;

/// At 7,000 alice's equity is 1,000 + 0.5 × (7,000 − 10,000) = −500: bankrupt, shortfall 500,
/// the deficit of every design. Equal capital: 300 USDT in the first layer.
/// - exchange-adl, dydx-v4, adl-pro-rata: the fund pays 300; ADL closes alice's 0.5 at the
///   bankruptcy price 7,000 + 200 / 0.5 = 7,400 against bob's 0.3 and carol's 0.2 (together
///   exactly alice's size, so rank, random and pro rata all close both whole): haircuts
///   0.3 × 400 = 120 and 0.2 × 400 = 80, total 200.
/// - hyperliquid: the HLP pool pays 300, then the same ADL.
/// - adl-min-shortfall: the fund pays 300; the 200 is water-filled over the shorts' profits (900
///   and 600): 100 each, so the others' largest haircut exceeds it by 120 − 100 = 20.
/// - drift: the fund keeps its floor of 1 and pays 299; no fees were charged, so open interest
///   is charged the other 201.
#[test]
fn perp_designs_payers_by_hand() {
    let dir = common::directory(&[
        ("venue.toml", PERP_VENUE),
        ("positions.csv", PERP_POSITIONS),
        ("perp.toml", PERP_SCENARIO),
    ]);
    let scenario = backstop_sim::scenario::load(&dir.join("perp.toml")).unwrap();
    let designs: Vec<&Design> = DESIGNS.iter().collect();
    let result = compare(&scenario, &designs, Capital::Equal, &RunOptions::default()).unwrap();
    for name in ["exchange-adl", "dydx-v4", "adl-pro-rata", "adl-min-shortfall"] {
        let outcome = design(&result, name);
        assert_eq!(outcome.deficit.mean, 500.0, "{name}");
        assert_eq!(payers(outcome), vec![("fund", 300.0), ("traders_adl", 200.0)], "{name}");
        let adl = outcome.adl.clone().unwrap();
        assert_eq!(adl.haircut_total.mean, 200.0, "{name}");
        let (largest, excess) =
            if name == "adl-min-shortfall" { (100.0, 0.0) } else { (120.0, 20.0) };
        assert_eq!(adl.haircut_max.mean, largest, "{name}");
        assert_eq!(adl.excess_max_over_min_shortfall.unwrap().mean, excess, "{name}");
    }
    assert_eq!(
        payers(design(&result, "hyperliquid")),
        vec![("stakers", 300.0), ("traders_adl", 200.0)]
    );
    assert_eq!(payers(design(&result, "drift")), vec![("fund", 299.0), ("socialised", 201.0)]);
    assert_eq!(
        design(&result, "maker").status,
        "not applicable: lending design, but BTC-PERP is a perp market"
    );
}

/// `+cover`: a Nexus-style cover after the design's funded layers, limit the scenario's 300,
/// bought at step 0 for the whole path, each claim settled in full one step after it opens.
/// Lending (alice's 320): Blend's pool pays 300 and the cover the 20 suppliers paid before, in
/// the next step (time to recover: one step, 3,600 s); Umbrella's offset 1 and stake 298, cover
/// 21. Perpetual (alice's 500): Drift's fund pays 299 and the cover 201 instead of open
/// interest; under exchange-adl ADL acts at bankruptcy, before any layer that pays later, so the
/// cover pays nothing and traders still pay 200.
#[test]
fn cover_on_top_by_hand() {
    use backstop_sim::compare::{DesignChoice, compare_choices};
    let choose = |names: &[&str]| -> Vec<DesignChoice<'static>> {
        names
            .iter()
            .map(|name| DesignChoice {
                design: backstop_sim::designs::find(name).unwrap(),
                cover: true,
            })
            .collect()
    };
    let dir = common::directory(&[
        ("venue.toml", VENUE),
        ("positions.csv", POSITIONS),
        ("three.toml", SCENARIO),
    ]);
    let scenario = backstop_sim::scenario::load(&dir.join("three.toml")).unwrap();
    let options = RunOptions::default();
    let result =
        compare_choices(&scenario, &choose(&["blend", "aave-umbrella"]), Capital::Equal, &options)
            .unwrap();
    let blend = design(&result, "blend+cover");
    assert_eq!(blend.waterfall, vec!["stakers:backstop", "cover:nexus", "socialize"]);
    assert_eq!(payers(blend), vec![("cover", 20.0), ("stakers", 300.0)]);
    assert_eq!(blend.time_to_recover_secs, Some(3_600.0));
    assert_eq!(blend.capital, 300, "the cover is not venue capital");
    assert_eq!(
        payers(design(&result, "aave-umbrella+cover")),
        vec![("cover", 21.0), ("stakers", 298.0), ("treasury", 1.0)]
    );
    let dir = common::directory(&[
        ("venue.toml", PERP_VENUE),
        ("positions.csv", PERP_POSITIONS),
        ("perp.toml", PERP_SCENARIO),
    ]);
    let scenario = backstop_sim::scenario::load(&dir.join("perp.toml")).unwrap();
    let result =
        compare_choices(&scenario, &choose(&["drift", "exchange-adl"]), Capital::Equal, &options)
            .unwrap();
    assert_eq!(payers(design(&result, "drift+cover")), vec![("cover", 201.0), ("fund", 299.0)]);
    assert_eq!(
        payers(design(&result, "exchange-adl+cover")),
        vec![("fund", 300.0), ("traders_adl", 200.0)]
    );
}
