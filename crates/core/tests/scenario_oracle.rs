//! Oracle guard: staleness (13), largest move per update (14), the clock only moving forward
//! (15), and a price that was never set (12).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AssetId, Event};
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const BTC: AssetId = AssetId(2);

const VENUE: &str = r#"
[oracle]
max_staleness_secs = 60
max_move = "0.5"

[[asset]]
symbol = "USDC"
decimals = 6

[[asset]]
symbol = "ETH"
decimals = 18

[[asset]]
symbol = "BTC"
decimals = 8

[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0.04"
kink = "0.80"
slope2 = "0.60"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"

[[lending]]
asset = "BTC"
collateral_factor = "0.70"
liquidation_threshold = "0.75"
liquidation_bonus = "0.05"
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
open_interest_cap = "1000"
price_band = "0.05"
"#;

fn price_set(asset: AssetId, before: &str, after: &str) -> Event {
    Event::PriceSet { asset, before: price(before), after: price(after) }
}

fn time_advanced(before: u64, after: u64) -> Event {
    Event::TimeAdvanced { before, after }
}

#[test]
fn staleness_move_limit_and_clock() {
    let mut engine = engine(VENUE);
    let table = [
        (set_price(USDC, "1"), Events(vec![price_set(USDC, "0", "1")])),
        (set_price(ETH, "2000"), Events(vec![price_set(ETH, "0", "2000")])),
        (set_price(BTC, "0"), Code(6)),
        (set_price(AssetId(3), "1"), Code(3)),
        (open(1), Ok),
        (open(2), Ok),
        (deposit(1, USDC, "100000"), Ok),
        (supply(1, USDC, "100000"), Ok),
        (deposit(2, ETH, "1"), Ok),
        // BTC has never been priced: a health check that needs it is refused (12).
        (deposit(2, BTC, "0.1"), Ok),
        (borrow(2, USDC, "100"), Code(12)),
        (withdraw(2, BTC, "0.1"), Ok),
        // Prices set at t = 0 are exactly 60 s old at t = 60: still usable.
        (advance(60), Events(vec![time_advanced(0, 60)])),
        (borrow(2, USDC, "100"), Ok),
        // At t = 61 they are 61 s old > 60: stale (13). USDC (asset 0) is checked first.
        (advance(61), Ok),
        (borrow(2, USDC, "100"), Code(13)),
        (set_price(USDC, "1"), Ok),
        (borrow(2, USDC, "100"), Code(13)),
        // A move of exactly 50%: |3000 − 2000| / 2000 = 0.5 ≤ 0.5, allowed.
        (set_price(ETH, "3000"), Events(vec![price_set(ETH, "2000", "3000")])),
        (borrow(2, USDC, "100"), Ok),
        // |4501 − 3000| / 3000 = 0.500333… > 0.5 (14); downwards |1499 − 3000| / 3000 too.
        (set_price(ETH, "4501"), Code(14)),
        (set_price(ETH, "1499"), Code(14)),
        // |1500 − 3000| / 3000 = 0.5 exactly: allowed.
        (set_price(ETH, "1500"), Events(vec![price_set(ETH, "3000", "1500")])),
        // |749 − 1500| / 1500 = 0.500666… > 0.5.
        (set_price(ETH, "749"), Code(14)),
        // The clock: forward, standing still, never back (15).
        (advance(100), Ok),
        (advance(99), Code(15)),
        (advance(100), Events(vec![time_advanced(100, 100)])),
        (advance(0), Code(15)),
        // Prices last set at 61 are 39 s old at 100; at 122 they are 61 s old.
        (borrow(2, USDC, "1"), Ok),
        (advance(121), Ok),
        (borrow(2, USDC, "1"), Ok),
        (advance(122), Ok),
        (borrow(2, USDC, "1"), Code(13)),
        (withdraw(2, ETH, "0.001"), Code(13)),
        // The perpetual market checks its underlying's age too.
        (open(3), Ok),
        (deposit(3, USDC, "1000"), Ok),
        (trade(0, 3, 2, "0.1", "1500"), Code(13)),
        (set_price(ETH, "1500"), Ok),
        (trade(0, 3, 2, "0.1", "1500"), Code(13)),
        (set_price(USDC, "1"), Ok),
        (trade(0, 3, 2, "0.1", "1500"), Ok),
    ];
    run(&mut engine, &table);
    assert_eq!(engine.state().now, 122);
    assert_eq!(engine.state().prices[ETH.index()].updated_at, 122);
    let codes = expected_codes(&table);
    for code in [3, 6, 12, 13, 14, 15] {
        assert!(codes.contains(&code), "code {code} not exercised");
    }
}

/// Regression test for a fixed bug, which was: the guard compares the relative move rounded *down* with its limit, so a move
/// just beyond the limit passes. With `max_move` 0.5 from 2000, a price of 3000.000000000000001
/// is a move of 0.5000000000000000005 > 0.5, yet it is accepted because the ratio is floored to
/// 0.5 (oracle.rs `check_move`, `Rounding::Floor`). A guard should round against the mover.
#[test]
fn move_guard_does_not_round_in_favour_of_the_mover() {
    let mut engine = engine(VENUE);
    run(
        &mut engine,
        &[
            (set_price(ETH, "2000"), Ok),
            (set_price(ETH, "3000.000000000000001"), Code(14)),
            (set_price(ETH, "999.999999999999999"), Code(14)),
            (set_price(ETH, "3000"), Ok),
        ],
    );
}

/// One time step may not exceed ten years (315,360,000 s): a step exactly that long is accepted,
/// one second more is refused with 38 and changes nothing.
#[test]
fn a_time_step_longer_than_ten_years_is_refused() {
    let mut engine = engine(VENUE);
    run(
        &mut engine,
        &[
            (advance(315_360_001), Code(38)),
            (advance(315_360_000), Ok),
            (advance(630_720_001), Code(38)),
            (advance(u64::MAX), Code(38)),
        ],
    );
}
