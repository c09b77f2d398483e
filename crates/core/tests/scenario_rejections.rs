//! Every rejection code 1..=35 of `Rejection::code()`, each reached by a real command in a
//! table; `common::step` asserts after every rejected command that the state hash did not move.
//! The last test checks that the tables together cover every code.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AssetId, Engine};
use common::Expect::{Code, Ok};
use common::*;
use std::collections::BTreeSet;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const DAI: AssetId = AssetId(2);
const SOL: AssetId = AssetId(3);
const LOCK: AssetId = AssetId(4);

/// USDC and ETH lend with fixed bonus; DAI debt is sold by Dutch auction; SOL has no lending
/// market; LOCK cannot be borrowed. ETH-PERP is fixed-bonus, SOL-PERP is taken over by account 50.
fn venue(account_count_max: u64) -> Engine {
    engine(&format!(
        r#"
[venue]
account_count_max = {account_count_max}

[oracle]
max_staleness_secs = 3600
max_move = "0.5"

[[asset]]
symbol = "USDC"
decimals = 6

[[asset]]
symbol = "ETH"
decimals = 18

[[asset]]
symbol = "DAI"
decimals = 18

[[asset]]
symbol = "SOL"
decimals = 9

[[asset]]
symbol = "LOCK"
decimals = 18

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
slope1 = "0.10"
kink = "0.80"
slope2 = "0.80"

[[lending]]
asset = "DAI"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0.04"
kink = "0.80"
slope2 = "0.60"
[lending.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 90
cut = "0.99"
tail_secs = 7200
cusp = "0.45"
penalty = "0.13"

[[lending]]
asset = "LOCK"
collateral_factor = "0.50"
liquidation_threshold = "0.60"
liquidation_bonus = "0.05"
borrow_enabled = false
[lending.rate]
slope1 = "0.04"
kink = "0.80"
slope2 = "0.60"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "5"
open_interest_cap = "10"
price_band = "0.05"

[[perp]]
name = "SOL-PERP"
underlying = "SOL"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "100000"
[perp.liquidation]
mode = "takeover"
backstop_account = 50
"#
    ))
}

/// Prices for USDC, ETH, DAI and LOCK (SOL is left unpriced); lender 1 supplies 100,000 USDC
/// and 100,000 DAI; keeper 3 holds 30,000 USDC and 30,000 DAI.
fn funded(account_count_max: u64) -> Engine {
    let mut engine = venue(account_count_max);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (set_price(DAI, "1"), Ok),
            (set_price(LOCK, "1"), Ok),
            (open(1), Ok),
            (open(3), Ok),
            (deposit(1, USDC, "100000"), Ok),
            (supply(1, USDC, "100000"), Ok),
            (deposit(1, DAI, "100000"), Ok),
            (supply(1, DAI, "100000"), Ok),
            (deposit(3, USDC, "30000"), Ok),
            (deposit(3, DAI, "30000"), Ok),
        ],
    );
    engine
}

/// Runs a table on an engine and returns the codes it expected (each one checked).
fn codes(mut engine: Engine, table: &[(backstop_core::Command, common::Expect)]) -> Vec<u16> {
    run(&mut engine, table);
    expected_codes(table)
}

fn ids_amounts_and_balances() -> Vec<u16> {
    let table = [
        (open(1), Code(2)),
        (deposit(99, USDC, "1"), Code(1)),
        (deposit(1, AssetId(9), "1"), Code(3)),
        (deposit(1, USDC, "0"), Code(6)),
        (deposit(1, USDC, "-1"), Code(6)),
        // USDC has 6 decimals.
        (deposit(1, USDC, "0.0000001"), Code(7)),
        (supply(1, SOL, "1"), Code(4)),
        (supply(1, USDC, "1"), Code(8)),
        (withdraw(1, USDC, "1"), Code(8)),
        (withdraw_supply(1, USDC, "100000.000001"), Code(8)),
        (open(2), Ok),
        (deposit(2, ETH, "10"), Ok),
        (borrow(2, USDC, "100000.000001"), Code(9)),
        // 10 ETH × 2000 × 0.80 = 16,000 ≥ 16,000 once the borrowed USDC is withdrawn.
        (borrow(2, USDC, "16000"), Ok),
        (withdraw(2, USDC, "16000"), Ok),
        // 16,000 + 1 × 0.85 < 16,001 (10).
        (borrow(2, USDC, "1"), Code(10)),
        (withdraw(2, ETH, "0.001"), Code(10)),
        // 84,000 cash left; the lender's shares are worth 100,000 (9).
        (withdraw_supply(1, USDC, "90000"), Code(9)),
        (repay(1, USDC, "1"), Code(18)),
        (borrow(2, LOCK, "1"), Code(24)),
        (trade(0, 2, 2, "1", "2000"), Code(29)),
        (trade(9, 2, 3, "1", "2000"), Code(5)),
        // SOL has never been priced: any health check of an account holding it fails (12).
        (deposit(3, SOL, "1"), Ok),
        (borrow(3, USDC, "1"), Code(12)),
        // Supply index above 1: 1e-18 ETH buys zero shares (23). Account 4 supplies 10 ETH,
        // account 5 borrows 1 of it for a year.
        (open(4), Ok),
        (deposit(4, ETH, "10"), Ok),
        (supply(4, ETH, "10"), Ok),
        (open(5), Ok),
        (deposit(5, USDC, "10000"), Ok),
        (borrow(5, ETH, "1"), Ok),
        (advance(YEAR), Ok),
        (deposit(4, ETH, "1"), Ok),
        (supply(4, ETH, "0.000000000000000001"), Code(23)),
        (supply(4, ETH, "0.000000000000000002"), Ok),
        // Fixed-point overflow (16): net SOL deposits (1 from account 3) taken to within one unit
        // of the largest amount (i128::MAX / 10^18 = 170141183460469231731.687303715884105727).
        (open(6), Ok),
        (deposit(6, SOL, "170141183460469231730.687303715"), Ok),
        (deposit(6, SOL, "1"), Code(16)),
    ];
    codes(funded(100), &table)
}

fn clock_and_oracle() -> Vec<u16> {
    let table = [
        (set_price(ETH, "3001"), Code(14)),
        (set_price(ETH, "999"), Code(14)),
        (advance(10), Ok),
        (advance(9), Code(15)),
        (open(2), Ok),
        (deposit(2, ETH, "1"), Ok),
        (advance(3610), Ok),
        (borrow(2, USDC, "1"), Code(13)),
    ];
    codes(funded(100), &table)
}

fn fixed_bonus_liquidation() -> Vec<u16> {
    let table = [
        (open(2), Ok),
        (deposit(2, ETH, "10"), Ok),
        (borrow(2, USDC, "15000"), Ok),
        (withdraw(2, USDC, "15000"), Ok),
        (open(4), Ok),
        (deposit(4, USDC, "10000"), Ok),
        (borrow(4, USDC, "56500"), Ok),
        (liquidate_debt(3, 2, USDC, ETH, "10000"), Code(11)),
        (set_price(ETH, "1800"), Ok),
        (liquidate_debt(2, 2, USDC, ETH, "10000"), Code(17)),
        (liquidate_debt(3, 2, USDC, DAI, "10000"), Code(19)),
        (liquidate_debt(3, 2, ETH, ETH, "10000"), Code(18)),
        (liquidate_position(3, 2, 0, "1"), Code(30)),
        (liquidate_loss(3, 2, 0, ETH, "1"), Code(35)),
        // Keeper 4: 66,500 × 0.85 = 56,525 ≥ 56,500 now; paying 7500 USDC for 4.375 ETH (no
        // protocol share here) would leave 59,000 × 0.85 = 50,150 + 4.375 × 1800 × 0.80 = 6300
        // = 56,450 < 56,500 (32).
        (liquidate_debt(4, 2, USDC, ETH, "10000"), Code(32)),
        (liquidate_debt(3, 2, USDC, ETH, "10000"), Ok),
    ];
    codes(funded(100), &table)
}

fn dutch_auction() -> Vec<u16> {
    let table = [
        (open(2), Ok),
        (deposit(2, ETH, "10"), Ok),
        (borrow(2, DAI, "15000"), Ok),
        (withdraw(2, DAI, "15000"), Ok),
        (set_price(ETH, "1800"), Ok),
        (liquidate_debt(3, 2, DAI, ETH, "1"), Ok),
        (withdraw(2, ETH, "1"), Code(34)),
        (take(3, 9, "1", "2000"), Code(25)),
        (take(3, 1, "1", "1979"), Code(27)),
        (reset(1), Code(28)),
        (advance(7201), Ok),
        (take(3, 1, "1", "2000"), Code(26)),
    ];
    codes(funded(100), &table)
}

fn perps_and_takeover() -> Vec<u16> {
    let table = [
        (open(2), Ok),
        (deposit(2, USDC, "1000"), Ok),
        (trade(0, 2, 3, "11", "2000"), Code(21)),
        (trade(0, 2, 3, "0.1", "2101"), Code(20)),
        // 3 ETH: 6000 > 5 × 1000 (22).
        (trade(0, 2, 3, "3", "2000"), Code(22)),
        (set_price(SOL, "100"), Ok),
        // Long 80 SOL at 100: notional 8000 ≤ 10 × 1000, initial 800 ≤ 1000 × 0.85 (USDC's
        // collateral factor applies: it has a lending market).
        (trade(1, 2, 3, "80", "100"), Ok),
        (set_price(SOL, "50"), Ok),
        (liquidate_position(3, 2, 1, "1"), Code(33)),
        (open(50), Ok),
        (liquidate_position(3, 2, 1, "1"), Code(33)),
    ];
    codes(funded(100), &table)
}

fn account_limit() -> Vec<u16> {
    // `funded` opens accounts 1 and 3: the venue is full at 2.
    let table = [(open(2), Code(31)), (open(1), Code(2))];
    codes(funded(2), &table)
}

#[test]
fn rejections_of_ids_amounts_and_balances() {
    ids_amounts_and_balances();
}

#[test]
fn rejections_of_the_clock_and_the_oracle() {
    clock_and_oracle();
}

#[test]
fn rejections_of_fixed_bonus_liquidation() {
    fixed_bonus_liquidation();
}

#[test]
fn rejections_of_dutch_auctions() {
    dutch_auction();
}

#[test]
fn rejections_of_perps_and_takeover() {
    perps_and_takeover();
}

#[test]
fn rejection_of_the_account_limit() {
    account_limit();
}

#[test]
fn every_rejection_code_is_exercised() {
    let mut seen = BTreeSet::new();
    for group in [
        ids_amounts_and_balances(),
        clock_and_oracle(),
        fixed_bonus_liquidation(),
        dutch_auction(),
        perps_and_takeover(),
        account_limit(),
    ] {
        seen.extend(group);
    }
    let missing: Vec<u16> = (1..=35).filter(|code| !seen.contains(code)).collect();
    assert!(missing.is_empty(), "codes never exercised: {missing:?}");
    assert_eq!(seen.last(), Some(&35));
}
