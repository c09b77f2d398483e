//! Takeover liquidation: a designated `kind = backstop` account receives everything a
//! liquidated account holds and owes; each position moves at its bankruptcy price, dYdX style
//! (lending-perps-cover.md §2.6): p_b = oracle − equity_share / base, the account's equity
//! shared among its positions (and debts) in proportion to their maintenance requirement;
//! rounded up for a long and down for a short.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AccountId, AccountKind, AssetId, Engine, Event, PerpMarketId};
use backstop_money::Shares;
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const BTC: AssetId = AssetId(2);

const SUPPLIER: u64 = 1;
const VICTIM: u64 = 2;
const MAKER: u64 = 3;
const KEEPER: u64 = 4;
const BACKSTOP: u64 = 100;

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
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
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
[perp.liquidation]
mode = "takeover"
backstop_account = 100

[[perp]]
name = "BTC-PERP"
underlying = "BTC"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "1000"
[perp.liquidation]
mode = "takeover"
backstop_account = 100
"#;

/// The victim deposits 2001 USDC (settlement asset, weight 1), goes long 1 ETH-PERP at 2000 and
/// short 0.3 BTC-PERP at 30,000 (no trading fee), and borrows and withdraws 0.1 ETH.
fn victim() -> Engine {
    let mut engine = engine(VENUE);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (set_price(BTC, "30000"), Ok),
            (open(SUPPLIER), Ok),
            (open(VICTIM), Ok),
            (open(MAKER), Ok),
            (open(KEEPER), Ok),
            (deposit(SUPPLIER, ETH, "10"), Ok),
            (supply(SUPPLIER, ETH, "10"), Ok),
            (deposit(MAKER, USDC, "100000"), Ok),
            (deposit(VICTIM, USDC, "2001"), Ok),
            (trade(0, VICTIM, MAKER, "1", "2000"), Ok),
            (trade(1, VICTIM, MAKER, "-0.3", "30000"), Ok),
            // Initial: 2001 + 0.1 × 2000 × 0.80 = 2161 ≥ debt 200 + 200 + 900 = 1300.
            (borrow(VICTIM, ETH, "0.1"), Ok),
            // Then 2001 ≥ 1300.
            (withdraw(VICTIM, ETH, "0.1"), Ok),
            (liquidate_position(KEEPER, VICTIM, 0, "1"), Code(11)),
        ],
    );
    assert_eq!(position(&engine, VICTIM, 0), (amount("1"), amount("-2000")));
    assert_eq!(position(&engine, VICTIM, 1), (amount("-0.3"), amount("9000")));
    engine
}

fn taken_over(equity: &str, eth_price: &str, btc_price: &str) -> Vec<Event> {
    vec![
        Event::AccountTakenOver {
            backstop: AccountId(BACKSTOP),
            account: AccountId(VICTIM),
            equity: amount(equity),
        },
        Event::PositionTakenOver {
            backstop: AccountId(BACKSTOP),
            account: AccountId(VICTIM),
            market: PerpMarketId(0),
            size: amount("1"),
            bankruptcy_price: price(eth_price),
        },
        Event::PositionTakenOver {
            backstop: AccountId(BACKSTOP),
            account: AccountId(VICTIM),
            market: PerpMarketId(1),
            size: amount("-0.3"),
            bankruptcy_price: price(btc_price),
        },
    ]
}

fn bankruptcy_price(engine: &Engine, market: u16) -> Option<backstop_money::Price> {
    let account = engine.account(AccountId(VICTIM)).unwrap();
    engine.bankruptcy_price_of(account, PerpMarketId(market)).unwrap()
}

#[test]
fn positive_equity_moves_at_bankruptcy_prices() {
    let mut engine = victim();
    // ETH 1300, BTC 33,000:
    //   ETH-PERP value −2000 + 1300 = −700, requirement 1300 × 0.05 = 65;
    //   BTC-PERP value 9000 − 0.3 × 33,000 = −900, requirement 9900 × 0.05 = 495;
    //   debt 0.1 ETH × 1300 = 130 (all of it in the requirement).
    //   maintenance margin 2001 − 700 − 900 = 401 < 130 + 65 + 495 = 690: liquidatable.
    //   equity = 2001 − 1600 − 130 = 271.
    // ETH share = 271 × 65 / 690 = 25.52898550724637681159… → floor 25.528985507246376811;
    //   p_b = 1300 − 25.528985507246376811 / 1 = 1274.471014492753623189 (exact
    //   1274.47101449275362318840…, rounded up).
    // BTC share = 271 × 495 / 690 = 194.41304347826086956521… → floor 194.413043478260869565;
    //   share / base = 194.413043478260869565 / −0.3 = −648.04347826086956521666… → ceil
    //   −648.043478260869565216; p_b = 33,000 + 648.043478260869565216 = 33648.043478260869565216
    //   (exact 33648.0434782608695652166…, rounded down).
    run(
        &mut engine,
        &[
            (set_price(ETH, "1300"), Ok),
            (set_price(BTC, "33000"), Ok),
            // The configured backstop account does not exist yet (33).
            (liquidate_position(KEEPER, VICTIM, 0, "1"), Code(33)),
            (open_backstop(BACKSTOP), Ok),
            (deposit(BACKSTOP, USDC, "500"), Ok),
        ],
    );
    assert_eq!(engine.health(AccountId(VICTIM)).unwrap().equity().unwrap(), amount("271"));
    assert_eq!(bankruptcy_price(&engine, 0), Some(price("1274.471014492753623189")));
    assert_eq!(bankruptcy_price(&engine, 1), Some(price("33648.043478260869565216")));
    run(
        &mut engine,
        &[
            (
                liquidate_position(KEEPER, VICTIM, 0, "1"),
                Events(taken_over("271", "1274.471014492753623189", "33648.043478260869565216")),
            ),
            (liquidate_position(KEEPER, VICTIM, 0, "1"), Code(11)),
        ],
    );
    // Everything moved: 500 + 2001 USDC, the 0.1 ETH of debt shares, both positions.
    assert_eq!(holding(&engine, BACKSTOP, USDC).0, amount("2501"));
    assert_eq!(holding(&engine, BACKSTOP, ETH).2, shares("0.1"));
    assert_eq!(position(&engine, BACKSTOP, 0), (amount("1"), amount("-2000")));
    assert_eq!(position(&engine, BACKSTOP, 1), (amount("-0.3"), amount("9000")));
    let victim = engine.account(AccountId(VICTIM)).unwrap();
    assert!(!victim.has_liabilities() && victim.has_no_collateral());
    assert_eq!(holding(&engine, VICTIM, ETH).2, Shares::ZERO);
    // Open interest is unchanged: the backstop's long 1 ETH, the maker's long 0.3 BTC.
    assert_eq!(engine.state().perps[0].open_interest, amount("1"));
    assert_eq!(engine.state().perps[1].open_interest, amount("0.3"));
    // The backstop's health includes the whole account: 2501 − 1600 = 901 vs 690.
    let health = engine.health(AccountId(BACKSTOP)).unwrap();
    assert_eq!(health.maintenance_margin, amount("901"));
    assert_eq!(health.maintenance_requirement, amount("690"));
}

#[test]
fn negative_equity_is_the_backstops_loss() {
    let mut engine = victim();
    // ETH 1000, BTC 34,000: values −1000 and −1200; requirements 50 and 10,200 × 0.05 = 510;
    //   debt 0.1 × 1000 = 100; equity = 2001 − 2200 − 100 = −299 (requirement 660).
    // ETH share = −299 × 50 / 660 = −22.6515151515… → floor −22.651515151515151516;
    //   p_b = 1000 + 22.651515151515151516 = 1022.651515151515151516 (exact …1515.., up).
    // BTC share = −299 × 510 / 660 = −231.0454545… → floor −231.045454545454545455;
    //   / −0.3 = 770.1515151515151515166… → ceil 770.151515151515151517;
    //   p_b = 34,000 − 770.151515151515151517 = 33229.848484848484848483 (exact …4833…, down).
    run(
        &mut engine,
        &[
            (set_price(ETH, "1000"), Ok),
            (set_price(BTC, "34000"), Ok),
            (open_backstop(BACKSTOP), Ok),
            (
                liquidate_position(KEEPER, VICTIM, 1, "0.3"),
                Events(taken_over("-299", "1022.651515151515151516", "33229.848484848484848483")),
            ),
        ],
    );
    let health = engine.health(AccountId(BACKSTOP)).unwrap();
    assert_eq!(health.equity().unwrap(), amount("-299"));
}

#[test]
fn a_regular_account_cannot_be_the_backstop() {
    let mut engine = victim();
    run(
        &mut engine,
        &[
            (set_price(ETH, "1300"), Ok),
            (set_price(BTC, "33000"), Ok),
            (open(BACKSTOP), Ok),
            (liquidate_position(KEEPER, VICTIM, 0, "1"), Code(33)),
            (liquidate_position(VICTIM, VICTIM, 0, "1"), Code(17)),
        ],
    );
    assert_eq!(engine.account(AccountId(BACKSTOP)).unwrap().kind, AccountKind::Regular);
}
