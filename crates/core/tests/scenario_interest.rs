//! Interest on the kinked curve: one year at a known utilisation gives an exact borrow index,
//! interest, reserve (take rate) and supply index; the borrow index rounds up and the supply
//! index down.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AssetId, Engine, Event};
use backstop_money::{Amount, Shares};
use common::Expect::{Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);

/// Staleness is irrelevant here (no price is used after a year), so it keeps its default.
const VENUE: &str = r#"
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
reserve_factor = "0.15"
[lending.rate]
base = "0.02"
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
"#;

/// Supplier 1 supplies `supplied` USDC; borrower 2 borrows `borrowed` against 2 ETH, at t = 0.
fn market_with(supplied: &str, borrowed: &str) -> Engine {
    let mut engine = engine(VENUE);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (open(1), Ok),
            (open(2), Ok),
            (deposit(1, USDC, supplied), Ok),
            (supply(1, USDC, supplied), Ok),
            (deposit(2, ETH, "2"), Ok),
            (borrow(2, USDC, borrowed), Ok),
        ],
    );
    engine
}

fn accrued(
    rate: &str,
    interest: &str,
    reserve: &str,
    borrow_index: &str,
    supply_index: &str,
) -> Event {
    Event::InterestAccrued {
        asset: USDC,
        borrow_rate: ratio(rate),
        interest: amount(interest),
        reserve: amount(reserve),
        borrow_index: ratio(borrow_index),
        supply_index: ratio(supply_index),
    }
}

fn usdc_market(engine: &Engine) -> backstop_core::venue::lending::LendingMarket {
    engine.state().lending[USDC.index()].clone().unwrap()
}

#[test]
fn two_years_below_the_kink() {
    let mut engine = market_with("3000", "2000");
    // Year 1. Utilisation 2000 / (1000 + 2000) = 0.6666… → floor 0.666666666666666666.
    // rate = 0.02 + 0.04 × 0.666666666666666666 / 0.80 = 0.02 + 0.0333333333333333333 (ceil →
    //   0.033333333333333334) = 0.053333333333333334; growth for a full year = the rate.
    // borrow index = 1 × 1.053333333333333334 (exact).
    // debt = 2000 × 1.053333333333333334 = 2106.666666666666668 → interest 106.666666666666668.
    // reserve = 106.666666666666668 × 0.15 = 16.0000000000000002 (exact, rounded up).
    // to suppliers = 90.6666666666666678; supply index step = 90.6666666666666678 / 3000 shares
    //   = 0.0302222222222222226 → floor 0.030222222222222222; supply index 1.030222222222222222.
    let year_one = [(
        advance(YEAR),
        Events(vec![
            Event::TimeAdvanced { before: 0, after: YEAR },
            accrued(
                "0.053333333333333334",
                "106.666666666666668",
                "16.0000000000000002",
                "1.053333333333333334",
                "1.030222222222222222",
            ),
        ]),
    )];
    run(&mut engine, &year_one);
    let market = usdc_market(&engine);
    // Reserve shares = 16.0000000000000002 / 1.030222222222222222 = 15.5306298533218293608…
    //   → floor 15.53062985332182936.
    assert_eq!(market.reserve_shares, shares("15.53062985332182936"));
    assert_eq!(market.supply_shares, shares("3015.53062985332182936"));
    assert_eq!(market.debt_shares, shares("2000"));
    assert_eq!(market.cash, amount("1000"));
    assert_eq!(market.last_accrual, YEAR);
    // Claims 3015.53062985332182936 × 1.030222222222222222 = 3106.666666666666666199… (floor) ≤
    // cash + debt = 1000 + 2106.666666666666668.
    assert_eq!(market.supplier_claims().unwrap(), amount("3106.666666666666666199"));
    assert_eq!(market.total_debt().unwrap(), amount("2106.666666666666668"));
    // The supplier's 3000 shares are worth 3000 × 1.030222222222222222 = 3090.666666666666666.
    assert_eq!(market.supply_value_of(shares("3000")).unwrap(), amount("3090.666666666666666"));
    // Accruing again at the same time does nothing: AdvanceTime already accrued every market.
    run(&mut engine, &[(accrue(USDC), Events(vec![])), (accrue(ETH), Events(vec![]))]);

    // Year 2. Utilisation 2106.666666666666668 / 3106.666666666666668 = 0.6781115879828326182…
    //   → floor 0.678111587982832618.
    // rate = 0.02 + 0.04 × 0.678111587982832618 / 0.80 = 0.02 + 0.0339055793991416309 (ceil
    //   0.033905579399141631) = 0.053905579399141631.
    // borrow index = 1.053333333333333334 × 1.053905579399141631
    //   = 1.110113876967095852022603719599427754 → ceil 1.110113876967095853 (rounded up).
    // debt = 2000 × 1.110113876967095853 = 2220.227753934191706;
    //   interest = 2220.227753934191706 − 2106.666666666666668 = 113.561087267525038.
    // reserve = 113.561087267525038 × 0.15 = 17.0341630901287557 (exact).
    // to suppliers 96.5269241773962823 / 3015.53062985332182936 shares = 0.03200992993465015…
    //   → floor 0.032009929934650154; supply index 1.062232152156872376 (rounded down).
    run(
        &mut engine,
        &[(
            advance(2 * YEAR),
            Events(vec![
                Event::TimeAdvanced { before: YEAR, after: 2 * YEAR },
                accrued(
                    "0.053905579399141631",
                    "113.561087267525038",
                    "17.0341630901287557",
                    "1.110113876967095853",
                    "1.062232152156872376",
                ),
            ]),
        )],
    );
    let market = usdc_market(&engine);
    // New reserve shares 17.0341630901287557 / 1.062232152156872376 = 16.0361960947432511…
    //   → floor 16.036196094743251112; total 15.53062985332182936 + that = 31.566825948065080472.
    assert_eq!(market.reserve_shares, shares("31.566825948065080472"));
    let borrower_debt = market.debt_of(holding(&engine, 2, USDC).2).unwrap();
    assert_eq!(borrower_debt, amount("2220.227753934191706"));
}

#[test]
fn one_year_above_the_kink() {
    let mut engine = market_with("1000", "900");
    // Utilisation 900 / 1000 = 0.9 > kink 0.8:
    // rate = 0.02 + 0.04 + 0.60 × (0.9 − 0.8) / (1 − 0.8) = 0.06 + 0.30 = 0.36.
    // borrow index 1.36; debt 900 × 1.36 = 1224 → interest 324; reserve 324 × 0.15 = 48.6;
    // to suppliers 275.4 / 1000 shares → supply index 1.2754.
    run(
        &mut engine,
        &[(
            advance(YEAR),
            Events(vec![
                Event::TimeAdvanced { before: 0, after: YEAR },
                accrued("0.36", "324", "48.6", "1.36", "1.2754"),
            ]),
        )],
    );
    let market = usdc_market(&engine);
    // Reserve shares 48.6 / 1.2754 = 38.1056923318174690293… → floor 38.105692331817469029.
    assert_eq!(market.reserve_shares, shares("38.105692331817469029"));
    // Claims (1000 + 38.105692331817469029) × 1.2754 = 1323.9999999999999999986… → floor
    // 1323.999999999999999999 ≤ cash 100 + debt 1224 = 1324: the rounding stays with the venue.
    assert_eq!(market.supplier_claims().unwrap(), amount("1323.999999999999999999"));
    assert_eq!(market.total_debt().unwrap(), amount("1224"));
    // The borrower repays everything: 1224 from its balance (900 borrowed + 324 deposited).
    run(
        &mut engine,
        &[
            (deposit(2, USDC, "324"), Ok),
            (
                repay(2, USDC, "5000"),
                Events(vec![Event::Repaid {
                    account: backstop_core::AccountId(2),
                    asset: USDC,
                    amount: amount("1224"),
                    debt_shares: shares("900"),
                }]),
            ),
        ],
    );
    let market = usdc_market(&engine);
    assert_eq!(market.cash, amount("1324"));
    assert_eq!(market.debt_shares, Shares::ZERO);
    assert_eq!(balance(&engine, 2, USDC), Amount::ZERO);
    // The supplier withdraws what its 1000 shares are worth: 1000 × 1.2754 = 1275.4, burning
    // 1275.4 / 1.2754 = 1000 shares exactly. The venue's 38.105692331817469029 reserve shares,
    // worth 48.599999999999999999 (floor), are backed by the 48.6 left in cash.
    run(
        &mut engine,
        &[(
            withdraw_supply(1, USDC, "1275.4"),
            Events(vec![Event::SupplyWithdrawn {
                account: backstop_core::AccountId(1),
                asset: USDC,
                amount: amount("1275.4"),
                shares: shares("1000"),
            }]),
        )],
    );
    let market = usdc_market(&engine);
    assert_eq!(market.cash, amount("48.6"));
    assert_eq!(market.supplier_claims().unwrap(), amount("48.599999999999999999"));
}
