//! Health of a multi-asset account with lending debt and a perpetual position, hand-computed:
//! weighted collateral, requirements, health factor, equity and loan-to-value.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AccountId, AssetId, Engine, Health};
use common::Expect::{Code, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const BTC: AssetId = AssetId(2);
const SOL: AssetId = AssetId(3);

const VENUE: &str = r#"
[[asset]]
symbol = "USDC"
decimals = 6

[[asset]]
symbol = "ETH"
decimals = 18

[[asset]]
symbol = "BTC"
decimals = 8

# No lending market and not a settlement asset: worth its price, weighted zero.
[[asset]]
symbol = "SOL"
decimals = 9

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
trading_fee = "0.0005"
"#;

/// Account 2 holds 2 ETH, 0.1 BTC, 10 SOL and the 3,000 USDC it borrowed, owes 3,000 USDC, and
/// is long 1 ETH-PERP bought at 2,000 with a 0.0005 × 2,000 = 1 fee: quote −2,001.
fn subject() -> Engine {
    let mut engine = engine(VENUE);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (set_price(BTC, "30000"), Ok),
            (set_price(SOL, "21"), Ok),
            (open(1), Ok),
            (open(2), Ok),
            (open(3), Ok),
            (deposit(1, USDC, "100000"), Ok),
            (supply(1, USDC, "100000"), Ok),
            (deposit(2, ETH, "2"), Ok),
            (deposit(2, BTC, "0.1"), Ok),
            (deposit(2, SOL, "10"), Ok),
            (borrow(2, USDC, "3000"), Ok),
            (deposit(3, USDC, "10000"), Ok),
            (trade(0, 2, 3, "1", "2000"), Ok),
        ],
    );
    assert_eq!(position(&engine, 2, 0), (amount("1"), amount("-2001")));
    engine
}

fn health(engine: &Engine) -> Health {
    engine.health(AccountId(2)).unwrap()
}

#[test]
fn multi_asset_account_with_debt_and_a_position() {
    let mut engine = subject();
    run(&mut engine, &[(set_price(ETH, "1900"), Ok)]);
    let health = health(&engine);
    // collateral: 2 × 1900 = 3800 (ETH) + 0.1 × 30000 = 3000 (BTC) + 3000 (USDC) + 10 × 21 = 210
    //   (SOL) = 10010.
    // initial margin: 3800 × 0.80 = 3040 + 3000 × 0.70 = 2100 + 3000 × 0.85 = 2550 + SOL × 0
    //   = 7690, plus the position's value −2001 + 1 × 1900 = −101 → 7589.
    // maintenance margin: 3800 × 0.825 = 3135 + 3000 × 0.75 = 2250 + 3000 × 0.90 = 2700 = 8085,
    //   − 101 → 7984.
    // requirements: debt 3000 + notional 1900 × 0.10 = 190 → 3190; 3000 + 1900 × 0.05 = 95 → 3095.
    let expected = Health {
        collateral_value: amount("10010"),
        debt_value: amount("3000"),
        perp_value: amount("-101"),
        initial_margin: amount("7589"),
        initial_requirement: amount("3190"),
        maintenance_margin: amount("7984"),
        maintenance_requirement: amount("3095"),
    };
    assert_eq!(health, expected);
    // HF = 7984 / 3095 = 2.5796445880452342487… → floor 2.579644588045234248.
    assert_eq!(health.health_factor(), Some(ratio("2.579644588045234248")));
    // equity = 10010 − 101 − 3000 = 6909.
    assert_eq!(health.equity().unwrap(), amount("6909"));
    // LTV = liabilities / assets = (debt 3000 + perp loss 101) / (collateral 10010 + perp gain 0)
    //   = 3101 / 10010 = 0.30979020979020979020… → ceil 0.309790209790209791.
    assert_eq!(health.loan_to_value(), Some(ratio("0.309790209790209791")));
    assert!(health.meets_initial() && !health.is_liquidatable());
    assert!(engine.liquidatable_accounts().is_empty());
    assert!(engine.liquidatable_accounts_by_scan().is_empty());
}

#[test]
fn held_values_round_down_and_owed_values_round_up() {
    let mut engine = subject();
    run(
        &mut engine,
        &[
            (set_price(ETH, "1899.999999999999999999"), Ok),
            (set_price(BTC, "30000.000000000000000007"), Ok),
        ],
    );
    let health = health(&engine);
    // ETH: 2 × 1899.999999999999999999 = 3799.999999999999999998;
    //   × 0.80 = 3039.9999999999999999984 → floor 3039.999999999999999998;
    //   × 0.825 = 3134.99999999999999999835 → floor 3134.999999999999999998.
    // BTC: 0.1 × 30000.000000000000000007 = 3000.0000000000000000007 → floor 3000.
    // collateral = 3799.999999999999999998 + 3000 + 3000 + 210 = 10009.999999999999999998.
    // position value: −2001 + floor(1899.999999999999999999) = −101.000000000000000001.
    // notional 1899.999999999999999999 (ceil, exact): × 0.10 = 189.9999999999999999999 → ceil 190;
    //   × 0.05 = 94.99999999999999999995 → ceil 95.
    // initial margin = 3039.999999999999999998 + 2100 + 2550 − 101.000000000000000001
    //   = 7588.999999999999999997; maintenance = 3134.999999999999999998 + 2250 + 2700
    //   − 101.000000000000000001 = 7983.999999999999999997.
    let expected = Health {
        collateral_value: amount("10009.999999999999999998"),
        debt_value: amount("3000"),
        perp_value: amount("-101.000000000000000001"),
        initial_margin: amount("7588.999999999999999997"),
        initial_requirement: amount("3190"),
        maintenance_margin: amount("7983.999999999999999997"),
        maintenance_requirement: amount("3095"),
    };
    assert_eq!(health, expected);
    // HF = 7983.999999999999999997 / 3095 = 2.57964458804523424765… → 2.579644588045234248.
    assert_eq!(health.health_factor(), Some(ratio("2.579644588045234248")));
    // equity = 10009.999999999999999998 − 101.000000000000000001 − 3000.
    assert_eq!(health.equity().unwrap(), amount("6908.999999999999999997"));
    // LTV = (3000 + 101.000000000000000001) / 10009.999999999999999998 = 0.3097902097902097903…
    //   → ceil 0.309790209790209791.
    assert_eq!(health.loan_to_value(), Some(ratio("0.309790209790209791")));
}

#[test]
fn a_crash_makes_the_account_liquidatable() {
    let mut engine = subject();
    run(&mut engine, &[(set_price(ETH, "500"), Ok), (set_price(BTC, "5000"), Ok)]);
    let health = health(&engine);
    // collateral: 2 × 500 = 1000 + 0.1 × 5000 = 500 + 3000 + 210 = 4710.
    // position: −2001 + 500 = −1501; notional 500: × 0.10 = 50, × 0.05 = 25.
    // initial: 1000 × 0.80 = 800 + 500 × 0.70 = 350 + 2550 − 1501 = 2199 vs 3000 + 50 = 3050.
    // maintenance: 1000 × 0.825 = 825 + 500 × 0.75 = 375 + 2700 − 1501 = 2399 vs 3000 + 25.
    let expected = Health {
        collateral_value: amount("4710"),
        debt_value: amount("3000"),
        perp_value: amount("-1501"),
        initial_margin: amount("2199"),
        initial_requirement: amount("3050"),
        maintenance_margin: amount("2399"),
        maintenance_requirement: amount("3025"),
    };
    assert_eq!(health, expected);
    // HF = 2399 / 3025 = 0.79305785123966942148… → 0.793057851239669421.
    assert_eq!(health.health_factor(), Some(ratio("0.793057851239669421")));
    // equity = 4710 − 1501 − 3000 = 209.
    assert_eq!(health.equity().unwrap(), amount("209"));
    // LTV = (3000 + 1501) / 4710 = 0.95562632696390658174… → ceil 0.955626326963906582.
    assert_eq!(health.loan_to_value(), Some(ratio("0.955626326963906582")));
    assert!(health.is_liquidatable() && !health.meets_initial());
    assert_eq!(engine.liquidatable_accounts(), vec![AccountId(2)]);
    assert_eq!(engine.liquidatable_accounts_by_scan(), vec![AccountId(2)]);
    // An unhealthy account can neither withdraw nor borrow (10), even a little.
    run(&mut engine, &[(withdraw(2, SOL, "1"), Code(10)), (borrow(2, USDC, "1"), Code(10))]);
}

#[test]
fn perp_gains_count_as_assets_in_the_loan_to_value() {
    let mut engine = subject();
    run(&mut engine, &[(set_price(ETH, "2100"), Ok)]);
    let health = health(&engine);
    // collateral 2 × 2100 = 4200 + 3000 + 3000 + 210 = 10,410; position −2001 + 2100 = +99.
    assert_eq!(health.collateral_value, amount("10410"));
    assert_eq!(health.perp_value, amount("99"));
    // equity = 10,410 + 99 − 3000 = 7509.
    assert_eq!(health.equity().unwrap(), amount("7509"));
    // LTV = 3000 / (10,410 + 99) = 0.28546959748786754210… → ceil 0.285469597487867543.
    assert_eq!(health.loan_to_value(), Some(ratio("0.285469597487867543")));
}
