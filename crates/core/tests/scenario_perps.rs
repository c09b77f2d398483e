//! Perpetuals: trading fee (taker pays trading_fee × notional, rounded up), price band (20),
//! open-interest cap (21), maximum leverage (22), funding with its rounding residual kept by the
//! venue, PnL settled into the settlement asset on close, and liquidation of positions and
//! unpaid losses.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AccountId, AssetId, Engine, Event, MarketRef, PerpMarketId};
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const BTC: AssetId = AssetId(2);
const MARKET: PerpMarketId = PerpMarketId(0);

/// USDC has no lending market: as the settlement asset it counts at par. BTC is lending
/// collateral (for unpaid-loss liquidations).
fn venue_toml(trading_fee: &str, max_leverage: &str) -> String {
    format!(
        r#"
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
protocol_liquidation_share = "0.2"
max_leverage = "{max_leverage}"
open_interest_cap = "20"
trading_fee = "{trading_fee}"
price_band = "0.05"
"#
    )
}

/// Prices USDC 1, ETH 2000, BTC 30,000; account 1 holds `first` USDC and maker 2 100,000.
fn venue(trading_fee: &str, max_leverage: &str, first: &str) -> Engine {
    let mut engine = engine(&venue_toml(trading_fee, max_leverage));
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (set_price(BTC, "30000"), Ok),
            (open(1), Ok),
            (open(2), Ok),
            (deposit(1, USDC, first), Ok),
            (deposit(2, USDC, "100000"), Ok),
        ],
    );
    engine
}

fn traded(taker: u64, maker: u64, size: &str, at: &str, fee: &str) -> Event {
    Event::Traded {
        market: MARKET,
        taker: AccountId(taker),
        maker: AccountId(maker),
        size: amount(size),
        price: price(at),
        fee: amount(fee),
    }
}

fn settled(account: u64, moved: &str, unsettled: &str) -> Event {
    Event::PnlSettled {
        account: AccountId(account),
        market: MARKET,
        amount: amount(moved),
        unsettled: amount(unsettled),
    }
}

#[test]
fn trading_fee_band_open_interest_cap_and_leverage() {
    let mut engine = venue("0.0005", "5", "1000");
    let table = [
        (trade(0, 1, 2, "21", "2000"), Code(21)),
        // |2101 − 2000| / 2000 = 0.0505 > 0.05; |1899 − 2000| / 2000 too.
        (trade(0, 1, 2, "0.1", "2101"), Code(20)),
        (trade(0, 1, 2, "0.1", "1899"), Code(20)),
        (trade(0, 1, 1, "0.1", "2000"), Code(29)),
        (trade(0, 1, 2, "0", "2000"), Code(6)),
        (trade(0, 1, 2, "1", "0"), Code(6)),
        (trade(5, 1, 2, "1", "2000"), Code(5)),
        (trade(0, 1, 99, "1", "2000"), Code(1)),
        // 6 ETH: fee 12,000 × 0.0005 = 6; margin 994 < 1200 initial (10).
        (trade(0, 1, 2, "6", "2000"), Code(10)),
        // 3 ETH: fee 3; margin 997 ≥ 600, but notional 6000 > 5 × equity 997 = 4985 (22).
        (trade(0, 1, 2, "3", "2000"), Code(22)),
        // Exactly on the band: |2100 − 2000| / 2000 = 0.05. Fee 2100 × 0.0005 = 1.05.
        (trade(0, 1, 2, "1", "2100"), Events(vec![traded(1, 2, "1", "2100", "1.05")])),
        // Fee 2000 × 0.0005 = 1; 2 × 2000 = 4000 ≤ 5 × (1000 − 102.05) = 4489.75.
        (trade(0, 1, 2, "1", "2000"), Events(vec![traded(1, 2, "1", "2000", "1")])),
        // Notional 0.123456789012345678 × 2003 = 247.283948391728393034; fee × 0.0005 =
        // 0.123641974195864196517 → rounded up to 0.123641974195864197.
        (
            trade(0, 1, 2, "0.123456789012345678", "2003"),
            Events(vec![traded(1, 2, "0.123456789012345678", "2003", "0.123641974195864197")]),
        ),
        // Open interest is 2.123456789012345678; account 3 takes it to exactly the cap of 20.
        (open(3), Ok),
        (deposit(3, USDC, "10000"), Ok),
        // Fee 17.876543210987654322 × 2000 × 0.0005 = 17.876543210987654322.
        (
            trade(0, 3, 2, "17.876543210987654322", "2000"),
            Events(vec![traded(3, 2, "17.876543210987654322", "2000", "17.876543210987654322")]),
        ),
        (trade(0, 3, 2, "0.000000000000000001", "2000"), Code(21)),
        // Reducing a long lowers open interest and is always allowed by the cap.
        (trade(0, 1, 2, "-1", "2000"), Events(vec![traded(1, 2, "-1", "2000", "1")])),
    ];
    run(&mut engine, &table);
    assert_eq!(engine.state().perps[0].open_interest, amount("19"));
    // Quote: −2100 − 1.05 − 2000 − 1 − 247.283948391728393034 − 0.123641974195864197 + 2000 − 1.
    assert_eq!(
        position(&engine, 1, 0),
        (amount("1.123456789012345678"), amount("-2350.457590365924257231"))
    );
    // Maker: 2100 + 2000 + 247.283948391728393034 + 35753.086421975308644 − 2000 (makers pay no fee).
    assert_eq!(position(&engine, 2, 0), (amount("-19"), amount("38100.370370367037037034")));
    // 1.05 + 1 + 0.123641974195864197 + 17.876543210987654322 + 1.
    assert_eq!(fees(&engine, USDC), amount("21.050185185183518519"));
}

#[test]
fn closing_settles_pnl_into_the_settlement_asset() {
    let mut engine = venue("0.0005", "5", "1000");
    let table = [
        // Buy 2 at 2000: fee 2; quote −4002.
        (trade(0, 1, 2, "2", "2000"), Events(vec![traded(1, 2, "2", "2000", "2")])),
        (set_price(ETH, "2100"), Ok),
        // Sell 1 at 2100 (fee 1.05): the position is still open, nothing settles.
        (trade(0, 1, 2, "-1", "2100"), Events(vec![traded(1, 2, "-1", "2100", "1.05")])),
        // Sell the last 1: quote −4002 + 2100 − 1.05 + 2100 − 1.05 = 195.9 settles into USDC;
        // the maker's 4000 − 2100 − 2100 = −200 settles out of its USDC.
        (
            trade(0, 1, 2, "-1", "2100"),
            Events(vec![
                traded(1, 2, "-1", "2100", "1.05"),
                settled(1, "195.9", "0"),
                settled(2, "-200", "0"),
            ]),
        ),
        (liquidate_position(2, 1, 0, "1"), Code(11)),
    ];
    run(&mut engine, &table);
    assert_eq!(balance(&engine, 1, USDC), amount("1195.9"));
    assert_eq!(balance(&engine, 2, USDC), amount("99800"));
    assert_eq!(position(&engine, 1, 0), (amount("0"), amount("0")));
    assert_eq!(position(&engine, 2, 0), (amount("0"), amount("0")));
    assert_eq!(fees(&engine, USDC), amount("4.1"));
    assert_eq!(engine.state().perps[0].open_interest, amount("0"));
    assert!(engine.state().perps[0].holders.is_empty());
}

#[test]
fn funding_rounds_against_both_sides_and_keeps_the_residual() {
    let mut engine = venue("0", "10", "1000");
    run(
        &mut engine,
        &[
            (open(3), Ok),
            (deposit(3, USDC, "1000"), Ok),
            (trade(0, 1, 2, "1.123456789", "2000"), Ok),
            (trade(0, 3, 2, "0.876543211", "2000"), Ok),
            (funding(7, "0.0001"), Code(5)),
        ],
    );
    // Per unit: 2000 × 0.000123456789123 = 0.246913578246 (exact).
    // Long 1.123456789 pays 1.123456789 × 0.246913578246 = 0.277396735776751412094… → rounded
    //   against it: −0.277396735776751413.
    // Long 0.876543211 pays 0.216430420715248587906… → −0.216430420715248588.
    // Short 2 receives 2 × 0.246913578246 = 0.493827156492 (exact).
    // Paid 0.493827156492000001, received 0.493827156492: residual 1e-18 to the venue.
    run(
        &mut engine,
        &[(
            funding(0, "0.000123456789123"),
            Events(vec![Event::FundingPaid {
                market: MARKET,
                rate: ratio("0.000123456789123"),
                paid: amount("0.493827156492000001"),
                received: amount("0.493827156492"),
                residual: amount("0.000000000000000001"),
            }]),
        )],
    );
    assert_eq!(position(&engine, 1, 0).1, amount("-2247.190974735776751413"));
    assert_eq!(position(&engine, 3, 0).1, amount("-1753.302852420715248588"));
    assert_eq!(position(&engine, 2, 0).1, amount("4000.493827156492"));
    // Negative rate: shorts pay longs. The short pays 0.493827156492 (exact); the longs receive
    // 0.277396735776751412 and 0.216430420715248587 (rounded down): residual 1e-18 again.
    run(
        &mut engine,
        &[(
            funding(0, "-0.000123456789123"),
            Events(vec![Event::FundingPaid {
                market: MARKET,
                rate: ratio("-0.000123456789123"),
                paid: amount("0.493827156492"),
                received: amount("0.493827156491999999"),
                residual: amount("0.000000000000000001"),
            }]),
        )],
    );
    assert_eq!(position(&engine, 1, 0).1, amount("-2246.913578000000000001"));
    assert_eq!(position(&engine, 2, 0).1, amount("4000"));
    assert_eq!(fees(&engine, USDC), amount("0.000000000000000002"));
    // Funding needs a fresh oracle price (13).
    run(&mut engine, &[(advance(3601), Ok), (funding(0, "0.0001"), Code(13))]);
}

/// Account 1 deposits 1000 USDC and goes long 5 ETH at 2000 (notional 10,000, initial margin
/// exactly 1000 = 10% and leverage exactly 10) from maker 2; keeper 4 holds 1000 USDC.
/// Its equity is zero at 2000 − 1000 / 5 = 1800 whatever the price: the bankruptcy price.
fn leveraged_long() -> Engine {
    let mut engine = venue("0", "10", "1000");
    run(
        &mut engine,
        &[
            (open(4), Ok),
            (deposit(4, USDC, "1000"), Ok),
            (trade(0, 1, 2, "5", "2000"), Events(vec![traded(1, 2, "5", "2000", "0")])),
            (liquidate_position(4, 1, 0, "5"), Code(11)),
        ],
    );
    engine
}

fn position_liquidated(size: &str, at: &str, fee: &str, protocol_fee: &str) -> Event {
    Event::PositionLiquidated {
        keeper: AccountId(4),
        account: AccountId(1),
        market: MARKET,
        size: amount(size),
        price: price(at),
        fee: amount(fee),
        protocol_fee: amount(protocol_fee),
        bankruptcy_price: Some(price("1800")),
    }
}

#[test]
fn partial_position_liquidation_splits_the_fee() {
    let mut engine = leveraged_long();
    // At 1892: margin 1000 − 5 × 108 = 460 < requirement 9460 × 0.05 = 473. HF = 460 / 473 =
    // 0.9725… > 0.95: at most 5 × 0.5 = 2.5 may be taken over, at the oracle price.
    // Fee = 2.5 × 1892 × 0.01 = 47.3 (≤ equity 460); the venue keeps 47.3 × 0.2 = 9.46 and the
    // keeper 37.84. Bankruptcy price = 1892 − 460 × (473 / 473) / 5 = 1800.
    let table = [
        (set_price(ETH, "1892"), Ok),
        (liquidate_loss(4, 1, 0, USDC, "1"), Code(35)),
        // Keeper 5 with 100 USDC cannot carry 2.5 ETH long (initial 473 > 100 + 37.84) (32).
        (open(5), Ok),
        (deposit(5, USDC, "100"), Ok),
        (liquidate_position(5, 1, 0, "10"), Code(32)),
        (
            liquidate_position(4, 1, 0, "10"),
            Events(vec![position_liquidated("2.5", "1892", "47.3", "9.46")]),
        ),
        // Left: margin 1000 − 5317.3 + 4730 = 412.7 ≥ 2.5 × 1892 × 0.05 = 236.5.
        (liquidate_position(4, 1, 0, "10"), Code(11)),
    ];
    run(&mut engine, &table);
    // Victim: −10,000 + 2.5 × 1892 − 47.3; keeper: −4730 + 37.84.
    assert_eq!(position(&engine, 1, 0), (amount("2.5"), amount("-5317.3")));
    assert_eq!(position(&engine, 4, 0), (amount("2.5"), amount("-4692.16")));
    assert_eq!(fees(&engine, USDC), amount("9.46"));
    assert_eq!(engine.state().perps[0].open_interest, amount("5"));
}

#[test]
fn liquidation_fee_is_capped_at_remaining_equity() {
    let mut engine = leveraged_long();
    // At 1810: equity 1000 − 950 = 50; HF = 50 / 452.5 ≤ 0.95: the whole 5 ETH goes.
    // Fee 9050 × 0.01 = 90.5 > equity 50 → 50; venue 50 × 0.2 = 10, keeper 40.
    // The victim's quote −10,000 + 9050 − 50 = −1000 settles against its 1000 USDC.
    run(
        &mut engine,
        &[
            (set_price(ETH, "1810"), Ok),
            (
                liquidate_position(4, 1, 0, "100"),
                Events(vec![
                    position_liquidated("5", "1810", "50", "10"),
                    settled(1, "-1000", "0"),
                ]),
            ),
        ],
    );
    assert_eq!(balance(&engine, 1, USDC), amount("0"));
    assert_eq!(position(&engine, 1, 0), (amount("0"), amount("0")));
    assert_eq!(position(&engine, 4, 0), (amount("5"), amount("-9010")));
    assert_eq!(fees(&engine, USDC), amount("10"));
    assert_eq!(engine.state().perps[0].deficit, amount("0"));
}

#[test]
fn a_bankrupt_long_leaves_a_perp_deficit() {
    let mut engine = leveraged_long();
    // At 1780: equity 1000 − 1100 = −100. No fee can be paid (capped at max(equity, 0) = 0).
    // The keeper takes 5 ETH at 1780 (quote −8900); the victim's −10,000 + 8900 = −1100 settles
    // −1000 against its USDC and leaves −100 unpaid with no collateral and no open base: the
    // unpaid 100 becomes the market's deficit. Bankruptcy price 1780 − (−100) / 5 = 1800.
    run(
        &mut engine,
        &[
            (set_price(ETH, "1780"), Ok),
            (
                liquidate_position(4, 1, 0, "5"),
                Events(vec![
                    position_liquidated("5", "1780", "0", "0"),
                    settled(1, "-1000", "-100"),
                    Event::DeficitRecorded {
                        market: MarketRef::Perp(MARKET),
                        account: AccountId(1),
                        amount: amount("100"),
                        deficit_after: amount("100"),
                    },
                ]),
            ),
            (liquidate_position(4, 1, 0, "5"), Code(11)),
        ],
    );
    assert_eq!(engine.state().perps[0].deficit, amount("100"));
    assert_eq!(position(&engine, 1, 0), (amount("0"), amount("0")));
    assert!(!engine.account(AccountId(1)).unwrap().has_liabilities());
    assert_eq!(position(&engine, 4, 0), (amount("5"), amount("-8900")));
    assert_eq!(fees(&engine, USDC), amount("0"));
}

/// Account 1 holds 100 USDC and 0.04 BTC (1200 at 30,000), goes long 1 ETH at 2000; ETH halves
/// and account 3 buys the long from it at 1000: −1000 of PnL, of which 100 settles against its
/// USDC and 900 stays unpaid in the closed position.
fn unpaid_loss() -> Engine {
    let mut engine = venue("0", "10", "100");
    run(
        &mut engine,
        &[
            (deposit(1, BTC, "0.04"), Ok),
            (trade(0, 1, 2, "1", "2000"), Ok),
            (set_price(ETH, "1000"), Ok),
            (open(3), Ok),
            (deposit(3, USDC, "1000"), Ok),
            (open(5), Ok),
            (deposit(5, USDC, "1000"), Ok),
            (
                trade(0, 3, 1, "1", "1000"),
                Events(vec![traded(3, 1, "1", "1000", "0"), settled(1, "-100", "-900")]),
            ),
        ],
    );
    assert_eq!(position(&engine, 1, 0), (amount("0"), amount("-900")));
    engine
}

#[test]
fn unpaid_loss_is_liquidated_against_other_collateral() {
    let mut engine = unpaid_loss();
    // At BTC 30,000: maintenance 1200 × 0.75 = 900 − 900 unpaid = 0, requirement 0: not
    // liquidatable (11). At 29,000: 870 − 900 = −30 < 0; with no requirement left the health
    // factor is 0 ≤ 0.95, so the whole 900 may be paid (the keeper offers 1000).
    // LTV = (0 debt + 900 loss) / 1160 = 0.775862068965517242 (ceil); × 1.05 ≤ 1: bonus paid.
    // seized = 900 × 1.05 / 29,000 = 0.0325862068965517241… → 0.032586206896551724 BTC (BTC's
    // bonus); without the bonus 900 / 29,000 → ceil 0.03103448275862069; bonus part
    // 0.001551724137931034; the venue keeps × 0.2 (the perp market's share) =
    // 0.0003103448275862068 → ceil 0.000310344827586207 under the perp market's share; but the
    // share follows the collateral's lending market (Aave style), and BTC's keeps nothing: 0.
    let table = [
        (liquidate_loss(5, 1, 0, BTC, "1000"), Code(11)),
        (set_price(BTC, "29000"), Ok),
        (liquidate_position(5, 1, 0, "1"), Code(30)),
        (liquidate_loss(5, 1, 0, USDC, "1000"), Code(19)),
        (
            liquidate_loss(5, 1, 0, BTC, "1000"),
            Events(vec![Event::DebtLiquidated {
                keeper: AccountId(5),
                account: AccountId(1),
                debt: USDC,
                collateral: BTC,
                repaid: amount("900"),
                seized: amount("0.032586206896551724"),
                protocol_fee: amount("0"),
                bonus: ratio("0.05"),
                health_before: Some(ratio("0")),
            }]),
        ),
        (liquidate_loss(5, 1, 0, BTC, "1000"), Code(11)),
    ];
    run(&mut engine, &table);
    assert_eq!(position(&engine, 1, 0), (amount("0"), amount("0")));
    assert!(!engine.account(AccountId(1)).unwrap().has_liabilities());
    // 0.04 − 0.032586206896551724.
    assert_eq!(balance(&engine, 1, BTC), amount("0.007413793103448276"));
    assert_eq!(balance(&engine, 5, BTC), amount("0.032586206896551724"));
    assert_eq!(balance(&engine, 5, USDC), amount("100"));
    assert_eq!(fees(&engine, BTC), amount("0"));
}

/// Regression: the toxic-spiral guard counts an unpaid perpetual loss as a liability. At BTC
/// 23,000 account 1 owes 900 against 920 of BTC: LTV 900 / 920 = 0.978 > 1 / 1.05, so seizing
/// 1.05 per 1 repaid would deepen the hole (450 repaid for 472.5 of BTC leaves 450 owed against
/// 447.5): no bonus.
#[test]
fn toxic_guard_counts_an_unpaid_loss() {
    let mut engine = unpaid_loss();
    // 400 / 23,000 = 0.0173913043478260869… → floor 0.017391304347826086 BTC, no bonus, no fee.
    run(
        &mut engine,
        &[
            (set_price(BTC, "23000"), Ok),
            (
                liquidate_loss(5, 1, 0, BTC, "400"),
                Events(vec![Event::DebtLiquidated {
                    keeper: AccountId(5),
                    account: AccountId(1),
                    debt: USDC,
                    collateral: BTC,
                    repaid: amount("400"),
                    seized: amount("0.017391304347826086"),
                    protocol_fee: amount("0"),
                    bonus: ratio("0"),
                    health_before: Some(ratio("0")),
                }]),
            ),
        ],
    );
    assert_eq!(position(&engine, 1, 0), (amount("0"), amount("-500")));
}

/// Regression test for a fixed bug, which was: the band compares |price − oracle| / oracle rounded *down* with the band, so a
/// trade just outside it passes: 2100.000000000000001 against 2000 is 0.0500000000000000005 away
/// (> 0.05) yet floors to 0.05 (perp.rs `check_band`, `Rounding::Floor`).
#[test]
fn price_band_does_not_round_in_favour_of_the_trader() {
    let mut engine = venue("0", "10", "1000");
    run(
        &mut engine,
        &[
            (trade(0, 1, 2, "0.1", "2100.000000000000001"), Code(20)),
            (trade(0, 1, 2, "0.1", "1899.999999999999999"), Code(20)),
            (trade(0, 1, 2, "0.1", "2100"), Ok),
        ],
    );
}

/// Regression: a bankrupt account whose last position is closed by a trade (allowed: closing
/// improves its maintenance surplus) has liabilities (quote −100), no collateral and no open
/// base; the trade itself records the 100 as the perp market's deficit, so it is never stranded
/// off the ledger (liquidations of it are then refused: nothing is left to liquidate).
#[test]
fn a_bankrupt_account_closed_by_a_trade_is_recognised_as_a_deficit() {
    let mut engine = venue("0", "10", "300");
    // Long 1 at 2000 with 300 USDC; at 1600 the loss is 400. Account 3 buys the long from it at
    // 1600: −400 settles −300 against its USDC and leaves −100 unpaid.
    run(
        &mut engine,
        &[
            (trade(0, 1, 2, "1", "2000"), Ok),
            (set_price(ETH, "1600"), Ok),
            (open(3), Ok),
            (deposit(3, USDC, "1000"), Ok),
            (trade(0, 3, 1, "1", "1600"), Ok),
        ],
    );
    assert_eq!(position(&engine, 1, 0), (amount("0"), amount("0")));
    // Whatever the engine answers to a liquidation of the leftover, the 100 must end on the
    // deficit ledger.
    let attempt = step(&mut engine, &liquidate_loss(3, 1, 0, USDC, "100"));
    assert_eq!(
        engine.state().perps[0].deficit,
        amount("100"),
        "unpaid loss of a bankrupt account never recognised (liquidation attempt: {attempt:?})"
    );
    assert_eq!(position(&engine, 1, 0), (amount("0"), amount("0")));
}
