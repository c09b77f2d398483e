//! Fixed-bonus liquidation of lending debt (Aave style): close factor, full close at low health
//! or below the dust value, seizure = repay × p_debt × (1 + bonus) / p_collateral rounded down,
//! the protocol's share of the bonus, the seizure capped by the collateral balance, the
//! toxic-spiral guard, and the keeper's own health check.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AccountId, AssetId, Engine, Event};
use backstop_money::Shares;
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const BTC: AssetId = AssetId(2);

/// The close factor, full-close health and dust value of a debt come from the debt's market
/// (USDC); the bonus from the collateral's market (ETH, BTC). Every market keeps 10% of the
/// bonus, so the protocol fee does not depend on which market's share applies.
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

[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
close_factor = "0.5"
full_close_health = "0.95"
dust_value = "2000"
protocol_liquidation_share = "0.10"
[lending.rate]
slope1 = "0.04"
kink = "0.80"
slope2 = "0.60"

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
asset = "BTC"
collateral_factor = "0.70"
liquidation_threshold = "0.75"
liquidation_bonus = "0.05"
protocol_liquidation_share = "0.10"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"
"#;

const LENDER: u64 = 1;
const BORROWER: u64 = 2;
const KEEPER: u64 = 3;

/// Lender 1 supplies 100,000 USDC; keeper 3 holds 30,000 USDC; borrower 2 deposits `eth` ETH
/// and `btc` BTC, borrows `debt` USDC and withdraws it, so its only collateral is ETH/BTC.
fn venue(toml: &str, eth: &str, btc: Option<&str>, debt: &str) -> Engine {
    let mut engine = engine(toml);
    let mut table = vec![
        (set_price(USDC, "1"), Ok),
        (set_price(ETH, "2000"), Ok),
        (set_price(BTC, "30000"), Ok),
        (open(LENDER), Ok),
        (open(BORROWER), Ok),
        (open(KEEPER), Ok),
        (deposit(LENDER, USDC, "100000"), Ok),
        (supply(LENDER, USDC, "100000"), Ok),
        (deposit(KEEPER, USDC, "30000"), Ok),
        (deposit(BORROWER, ETH, eth), Ok),
    ];
    if let Some(btc) = btc {
        table.push((deposit(BORROWER, BTC, btc), Ok));
    }
    table.push((borrow(BORROWER, USDC, debt), Ok));
    table.push((withdraw(BORROWER, USDC, debt), Ok));
    run(&mut engine, &table);
    engine
}

#[allow(clippy::too_many_arguments)]
fn liquidated(
    collateral: AssetId,
    repaid: &str,
    seized: &str,
    protocol_fee: &str,
    bonus: &str,
    health_before: &str,
) -> Event {
    Event::DebtLiquidated {
        keeper: AccountId(KEEPER),
        account: AccountId(BORROWER),
        debt: USDC,
        collateral,
        repaid: amount(repaid),
        seized: amount(seized),
        protocol_fee: amount(protocol_fee),
        bonus: ratio(bonus),
        health_before: Some(ratio(health_before)),
    }
}

fn debt_of(engine: &Engine, account: u64) -> backstop_money::Amount {
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    market.debt_of(holding(engine, account, USDC).2).unwrap()
}

#[test]
fn close_factor_limits_a_partial_liquidation() {
    let mut engine = venue(VENUE, "10", None, "15000");
    // Keeper 4 is itself a borrower at the edge: 10,000 USDC deposited + 56,000 borrowed, so
    // its initial margin is 66,000 × 0.85 = 56,100 ≥ 56,000.
    run(
        &mut engine,
        &[
            (open(4), Ok),
            (deposit(4, USDC, "10000"), Ok),
            (borrow(4, USDC, "56000"), Ok),
            // 10 ETH × 2000 × 0.825 = 16,500 ≥ 15,000: not liquidatable yet (11).
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "10000"), Code(11)),
        ],
    );
    // At 1800: maintenance 10 × 1800 × 0.825 = 14,850 < 15,000. HF = 14,850 / 15,000 = 0.99 >
    // 0.95, and the debt is above the dust value: at most 15,000 × 0.5 = 7,500 may be repaid.
    // LTV = 15,000 / 18,000 = 0.8333… (ceil …334); × 1.05 = 0.875 ≤ 1: the bonus is paid.
    // seized = 7,500 × 1 × 1.05 / 1800 = 4.375 ETH; without the bonus 7,500 / 1800 =
    //   4.1666… (ceil 4.166666666666666667); bonus part 0.208333333333333333;
    //   protocol fee = 0.208333333333333333 × 0.10 = 0.0208333333333333333 → ceil
    //   0.020833333333333334; the keeper gets 4.375 − 0.020833333333333334 = 4.354166666666666666.
    let table = [
        (set_price(ETH, "1800"), Ok),
        (liquidate_debt(BORROWER, BORROWER, USDC, ETH, "10000"), Code(17)),
        (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "0"), Code(6)),
        (liquidate_debt(KEEPER, BORROWER, USDC, BTC, "10000"), Code(19)),
        (liquidate_debt(KEEPER, BORROWER, ETH, ETH, "10000"), Code(18)),
        (liquidate_debt(KEEPER, 99, USDC, ETH, "10000"), Code(1)),
        (liquidate_debt(KEEPER, BORROWER, USDC, AssetId(7), "10000"), Code(3)),
        // Keeper 4 would pay 7,500 USDC and get 4.354166666666666666 ETH: margin
        //   58,500 × 0.85 = 49,725 + floor(4.354166666666666666 × 1800 = 7837.4999999999999988)
        //   × 0.80 = 6269.999999999999999040 → 55,994.99… < 56,000 (32).
        (liquidate_debt(4, BORROWER, USDC, ETH, "10000"), Code(32)),
        (
            liquidate_debt(KEEPER, BORROWER, USDC, ETH, "10000"),
            Events(vec![liquidated(ETH, "7500", "4.375", "0.020833333333333334", "0.05", "0.99")]),
        ),
        // Left: 5.625 ETH against 7,500: HF = 5.625 × 1800 × 0.825 / 7500 = 1.11375.
        (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "10000"), Code(11)),
    ];
    run(&mut engine, &table);
    assert_eq!(holding(&engine, BORROWER, ETH).0, amount("5.625"));
    // 7,500 of 15,000 debt shares at index 1 are removed.
    assert_eq!(holding(&engine, BORROWER, USDC).2, shares("7500"));
    assert_eq!(balance(&engine, KEEPER, USDC), amount("22500"));
    assert_eq!(balance(&engine, KEEPER, ETH), amount("4.354166666666666666"));
    assert_eq!(fees(&engine, ETH), amount("0.020833333333333334"));
    // Cash: 100,000 − 15,000 − 56,000 + 7,500.
    assert_eq!(engine.state().lending[USDC.index()].as_ref().unwrap().cash, amount("36500"));
}

#[test]
fn full_close_at_full_close_health() {
    // 10 ETH at 1805 against 15,675: HF = 14,891.25 / 15,675 = 0.95 exactly ≤ 0.95 → the whole
    // debt may be repaid. LTV = 15,675 / 18,050 = 0.868421052631578948 (ceil); × 1.05 ≤ 1.
    // seized = 15,675 × 1.05 / 1805 = 16,458.75 / 1805 = 9.1184210526315789473… → floor
    //   9.118421052631578947; without the bonus 15,675 / 1805 = 8.68421052631578947368… → ceil
    //   8.684210526315789474; bonus part 0.434210526315789473; protocol fee × 0.10 →
    //   0.0434210526315789473 → ceil 0.043421052631578948.
    let mut engine = venue(VENUE, "10", None, "15675");
    let table = [
        (set_price(ETH, "1805"), Ok),
        (
            liquidate_debt(KEEPER, BORROWER, USDC, ETH, "20000"),
            Events(vec![liquidated(
                ETH,
                "15675",
                "9.118421052631578947",
                "0.043421052631578948",
                "0.05",
                "0.95",
            )]),
        ),
        // No debt left: nothing to liquidate (11: no requirement, not liquidatable).
        (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1"), Code(11)),
    ];
    run(&mut engine, &table);
    assert_eq!(holding(&engine, BORROWER, USDC).2, Shares::ZERO);
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0.881578947368421053"));
    assert_eq!(balance(&engine, KEEPER, ETH), amount("9.074999999999999999"));
    assert_eq!(balance(&engine, KEEPER, USDC), amount("14325"));
}

#[test]
fn full_close_below_the_dust_value() {
    // 1 ETH against 1,500 at 1800: HF = 1,485 / 1,500 = 0.99 > 0.95, but the debt's value
    // 1,500 < dust 2,000, so all of it may be repaid (the keeper asks for 5,000; 1,500 is owed).
    // seized = 1,500 × 1.05 / 1800 = 0.875; without bonus 0.8333… → ceil 0.833333333333333334;
    // bonus part 0.041666666666666666; fee × 0.10 = 0.0041666666666666666 → 0.004166666666666667.
    let mut engine = venue(VENUE, "1", None, "1500");
    run(
        &mut engine,
        &[
            (set_price(ETH, "1800"), Ok),
            (
                liquidate_debt(KEEPER, BORROWER, USDC, ETH, "5000"),
                Events(vec![liquidated(
                    ETH,
                    "1500",
                    "0.875",
                    "0.004166666666666667",
                    "0.05",
                    "0.99",
                )]),
            ),
        ],
    );
    assert_eq!(holding(&engine, BORROWER, USDC).2, Shares::ZERO);
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0.125"));
    assert_eq!(balance(&engine, KEEPER, ETH), amount("0.870833333333333333"));
    assert_eq!(balance(&engine, KEEPER, USDC), amount("28500"));
}

#[test]
fn seizure_is_capped_by_the_collateral_balance() {
    // 1 ETH (2000) and 0.5 BTC against 12,000; BTC falls to 24,000. Maintenance 2000 × 0.825 =
    // 1650 + 12,000 × 0.75 = 9000 → 10,650: HF = 10,650 / 12,000 = 0.8875 → full close.
    // LTV = 12,000 / 14,000 = 0.857142857142857143 (ceil); × 1.05 = 0.9 ≤ 1: bonus paid.
    // Repaying 12,000 against ETH would seize 12,000 × 1.05 / 2000 = 6.3 ETH > 1 held: all 1 ETH
    // is seized and the keeper pays only 1 × 2000 / 1.05 = 1904.7619047619047619047… → ceil
    // 1904.761904761904761905. Without the bonus that buys 1904.761904761904761905 / 2000 =
    // 0.9523809523809523809525 → ceil 0.952380952380952381; bonus part 0.047619047619047619;
    // fee × 0.10 → ceil 0.004761904761904762.
    let mut engine = venue(VENUE, "1", Some("0.5"), "12000");
    run(
        &mut engine,
        &[
            (set_price(BTC, "24000"), Ok),
            (
                liquidate_debt(KEEPER, BORROWER, USDC, ETH, "12000"),
                Events(vec![liquidated(
                    ETH,
                    "1904.761904761904761905",
                    "1",
                    "0.004761904761904762",
                    "0.05",
                    "0.8875",
                )]),
            ),
        ],
    );
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0"));
    assert_eq!(balance(&engine, BORROWER, BTC), amount("0.5"));
    // 12,000 − 1904.761904761904761905 shares at index 1 remain; BTC is still there: no deficit.
    assert_eq!(debt_of(&engine, BORROWER), amount("10095.238095238095238095"));
    assert_eq!(engine.state().lending[USDC.index()].as_ref().unwrap().deficit, amount("0"));
    assert_eq!(balance(&engine, KEEPER, ETH), amount("0.995238095238095238"));
    assert_eq!(balance(&engine, KEEPER, USDC), amount("28095.238095238095238095"));
}

#[test]
fn toxic_spiral_guard_withholds_the_bonus() {
    // 10 ETH at 1550 against 15,000: LTV = 15,000 / 15,500 = 0.9677419354838709677… → ceil
    // 0.967741935483870968 > 1 / 1.05 = 0.952…: seizing 1.05 per 1 repaid would raise the LTV,
    // so no bonus. HF = 12,787.5 / 15,000 = 0.8525 → full close.
    // seized = 15,000 / 1550 = 9.677419354838709677… → floor 9.677419354838709677 (with the
    // bonus it would be 10.16…, more than the 10 ETH held). Bonus part and fee are zero.
    let mut engine = venue(VENUE, "10", None, "15000");
    run(
        &mut engine,
        &[
            (set_price(ETH, "1550"), Ok),
            (
                liquidate_debt(KEEPER, BORROWER, USDC, ETH, "15000"),
                Events(vec![liquidated(ETH, "15000", "9.677419354838709677", "0", "0", "0.8525")]),
            ),
        ],
    );
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0.322580645161290323"));
    assert_eq!(holding(&engine, BORROWER, USDC).2, Shares::ZERO);
    assert_eq!(fees(&engine, ETH), amount("0"));
}

#[test]
fn a_bonus_seizure_that_takes_the_last_collateral_records_the_deficit() {
    // As in the smoke test but through the table: 10 ETH at 1400 against 15,000. LTV 1.07… →
    // no bonus; 15,000 / 1400 = 10.71… > 10 held → all 10 ETH for 10 × 1400 = 14,000; the
    // remaining 1,000 of debt leaves the account as the USDC market's deficit.
    let mut engine = venue(VENUE, "10", None, "15000");
    run(
        &mut engine,
        &[
            (set_price(ETH, "1400"), Ok),
            (
                liquidate_debt(KEEPER, BORROWER, USDC, ETH, "15000"),
                Events(vec![
                    liquidated(ETH, "14000", "10", "0", "0", "0.77"),
                    Event::DeficitRecorded {
                        market: backstop_core::MarketRef::Lending(USDC),
                        account: AccountId(BORROWER),
                        amount: amount("1000"),
                        deficit_after: amount("1000"),
                    },
                ]),
            ),
        ],
    );
    assert_eq!(holding(&engine, BORROWER, USDC).2, Shares::ZERO);
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(market.deficit, amount("1000"));
}

/// Regression test for a fixed bug, which was: the bonus belongs to the collateral's market (Aave style, as the code says),
/// but the protocol's share of that bonus is read from the *debt's* market
/// (`protocol_share_debt` uses `lending_config(debt).protocol_liquidation_share`). With the
/// example venue's settings (ETH: bonus 0.05, share 0.10; USDC: no share), liquidating USDC debt
/// against ETH — the usual case — keeps nothing for the venue. Aave v3 reads the liquidation
/// protocol fee from the collateral reserve, next to its bonus.
#[test]
fn protocol_share_follows_the_collateral_market() {
    let toml = VENUE.replacen(
        "dust_value = \"2000\"\nprotocol_liquidation_share = \"0.10\"\n",
        "dust_value = \"2000\"\n",
        1,
    );
    assert_ne!(toml, VENUE);
    let mut engine = venue(&toml, "10", None, "15000");
    // As in `close_factor_limits_a_partial_liquidation`: ETH's 10% of the 0.208333333333333333
    // ETH bonus is 0.020833333333333334.
    run(
        &mut engine,
        &[
            (set_price(ETH, "1800"), Ok),
            (
                liquidate_debt(KEEPER, BORROWER, USDC, ETH, "10000"),
                Events(vec![liquidated(
                    ETH,
                    "7500",
                    "4.375",
                    "0.020833333333333334",
                    "0.05",
                    "0.99",
                )]),
            ),
        ],
    );
}

/// Regression test for a fixed bug, which was: a liquidation naming a debt asset that does not exist is refused with code 4
/// (no lending market) instead of 3 (no such asset), unlike every other command: `lending_config`
/// (engine `liquidation_mode` → `lending_config(debt)`) skips the `check_asset` that
/// `lending_market` does. A collateral asset that does not exist does give 3.
#[test]
fn unknown_debt_asset_is_an_unknown_asset() {
    let mut engine = venue(VENUE, "10", None, "15000");
    run(
        &mut engine,
        &[
            (set_price(ETH, "1800"), Ok),
            (liquidate_debt(KEEPER, BORROWER, USDC, AssetId(7), "10000"), Code(3)),
            (borrow(BORROWER, AssetId(7), "1"), Code(3)),
            (accrue(AssetId(7)), Code(3)),
            (liquidate_debt(KEEPER, BORROWER, AssetId(7), ETH, "10000"), Code(3)),
        ],
    );
}

/// Regression test for a fixed bug, which was: `Supply` moves collateral out of the account's balance (which backs its debt) into a
/// lending market (which does not count as collateral and cannot be seized), without the
/// initial-health check that `Withdraw` applies and without the auction check. A borrower can
/// therefore shield its collateral: with 10 ETH against 15,000 USDC it supplies the 10 ETH,
/// keeps the debt, and when ETH falls every liquidation is refused with 19 (no collateral);
/// when ETH recovers it withdraws the supply. Expected: `Supply` refused with 10 when the
/// account owes anything and would fall below its initial margin (lending.rs `supply`).
#[test]
fn supplying_collateral_is_health_checked_like_a_withdrawal() {
    let mut engine = venue(VENUE, "10", None, "15000");
    run(
        &mut engine,
        &[
            (withdraw(BORROWER, ETH, "1"), Code(10)),
            (supply(BORROWER, ETH, "1"), Code(10)),
            (supply(BORROWER, ETH, "10"), Code(10)),
        ],
    );
}
