//! Every command applied successfully once, with its exact events (amounts, shares, indices).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AccountId, AccountKind, AssetId, AuctionId, Event, PerpMarketId};
use common::Expect::{Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);

/// USDC debt is liquidated with a fixed bonus; ETH debt by Dutch auction. Prices never go stale.
const VENUE: &str = r#"
[oracle]
max_staleness_secs = 100000000

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
slope1 = "0.05"
kink = "0.50"
slope2 = "1.0"
[lending.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 90
cut = "0.99"
tail_secs = 7200
cusp = "0.45"
penalty = "0.13"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "1000"
trading_fee = "0.001"
"#;

fn id(account: u64) -> AccountId {
    AccountId(account)
}

#[test]
fn every_command_once_with_its_exact_events() {
    let mut engine = engine(VENUE);
    let (lender, borrower, keeper, trader, maker, backstop, eth_borrower) = (1, 2, 3, 4, 5, 6, 7);
    let table = [
        // SetPrice
        (
            set_price(USDC, "1"),
            Events(vec![Event::PriceSet { asset: USDC, before: price("0"), after: price("1") }]),
        ),
        (
            set_price(ETH, "2000"),
            Events(vec![Event::PriceSet { asset: ETH, before: price("0"), after: price("2000") }]),
        ),
        // OpenAccount
        (
            open(lender),
            Events(vec![Event::AccountOpened { account: id(lender), kind: AccountKind::Regular }]),
        ),
        (
            open_backstop(backstop),
            Events(vec![Event::AccountOpened {
                account: id(backstop),
                kind: AccountKind::Backstop,
            }]),
        ),
        (open(borrower), Ok),
        (open(keeper), Ok),
        (open(trader), Ok),
        (open(maker), Ok),
        (open(eth_borrower), Ok),
        // Deposit
        (
            deposit(lender, USDC, "100000"),
            Events(vec![Event::Deposited {
                account: id(lender),
                asset: USDC,
                amount: amount("100000"),
            }]),
        ),
        // Supply: 100,000 at supply index 1 → 100,000 shares.
        (
            supply(lender, USDC, "100000"),
            Events(vec![Event::Supplied {
                account: id(lender),
                asset: USDC,
                amount: amount("100000"),
                shares: shares("100000"),
            }]),
        ),
        (deposit(borrower, ETH, "10"), Ok),
        // Borrow: 15,000 at borrow index 1 → 15,000 debt shares.
        (
            borrow(borrower, USDC, "15000"),
            Events(vec![Event::Borrowed {
                account: id(borrower),
                asset: USDC,
                amount: amount("15000"),
                debt_shares: shares("15000"),
            }]),
        ),
        // Withdraw: 10 ETH × 2000 × 0.80 = 16,000 ≥ 15,000 without the borrowed USDC.
        (
            withdraw(borrower, USDC, "15000"),
            Events(vec![Event::Withdrawn {
                account: id(borrower),
                asset: USDC,
                amount: amount("15000"),
            }]),
        ),
        // AdvanceTime one year. Utilisation 15,000 / 100,000 = 0.15; rate 0.04 × 0.15 / 0.80 =
        // 0.0075; borrow index 1.0075; interest 15,000 × 0.0075 = 112.5; reserve 10% = 11.25;
        // supply index 1 + (112.5 − 11.25) / 100,000 = 1.0010125. ETH has no debt: no event.
        (
            advance(YEAR),
            Events(vec![
                Event::TimeAdvanced { before: 0, after: YEAR },
                Event::InterestAccrued {
                    asset: USDC,
                    borrow_rate: ratio("0.0075"),
                    interest: amount("112.5"),
                    reserve: amount("11.25"),
                    borrow_index: ratio("1.0075"),
                    supply_index: ratio("1.0010125"),
                },
            ]),
        ),
        // AccrueInterest: the market is already current (AdvanceTime accrues every market).
        (accrue(USDC), Events(vec![])),
        // Repay 1000: shares removed 1000 / 1.0075 = 992.5558312655086848635… → floor.
        (deposit(borrower, USDC, "1000"), Ok),
        (
            repay(borrower, USDC, "1000"),
            Events(vec![Event::Repaid {
                account: id(borrower),
                asset: USDC,
                amount: amount("1000"),
                debt_shares: shares("992.555831265508684863"),
            }]),
        ),
        // WithdrawSupply 1000: shares burned 1000 / 1.0010125 = 998.9885241193291792060… → ceil.
        (
            withdraw_supply(lender, USDC, "1000"),
            Events(vec![Event::SupplyWithdrawn {
                account: id(lender),
                asset: USDC,
                amount: amount("1000"),
                shares: shares("998.988524119329179207"),
            }]),
        ),
        // Trade 1 ETH at 2000: taker fee 2000 × 0.001 = 2.
        (deposit(trader, USDC, "10000"), Ok),
        (deposit(maker, USDC, "10000"), Ok),
        (
            trade(0, trader, maker, "1", "2000"),
            Events(vec![Event::Traded {
                market: PerpMarketId(0),
                taker: id(trader),
                maker: id(maker),
                size: amount("1"),
                price: price("2000"),
                fee: amount("2"),
            }]),
        ),
        // AccrueFunding at 0.0001: 2000 × 0.0001 = 0.2 per unit; exact, no residual.
        (
            funding(0, "0.0001"),
            Events(vec![Event::FundingPaid {
                market: PerpMarketId(0),
                rate: ratio("0.0001"),
                paid: amount("0.2"),
                received: amount("0.2"),
                residual: amount("0"),
            }]),
        ),
        // Liquidate (fixed bonus). Debt: (15,000 − 992.555831265508684863) × 1.0075 =
        // 14112.49999999999999999… → ceil 14112.500000000000000001. At 1600: HF = 13,200 /
        // 14112.500000000000000001 = 0.935341009743135518 ≤ 0.95 → full close allowed; LTV
        // 0.882031250000000001 × 1.05 ≤ 1 → bonus. Repay 1000: seized 1050 / 1600 = 0.65625;
        // bonus part 0.65625 − 0.625 = 0.03125; fee 10% = 0.003125.
        (deposit(keeper, USDC, "20000"), Ok),
        (
            set_price(ETH, "1600"),
            Events(vec![Event::PriceSet {
                asset: ETH,
                before: price("2000"),
                after: price("1600"),
            }]),
        ),
        (
            liquidate_debt(keeper, borrower, USDC, ETH, "1000"),
            Events(vec![Event::DebtLiquidated {
                keeper: id(keeper),
                account: id(borrower),
                debt: USDC,
                collateral: ETH,
                repaid: amount("1000"),
                seized: amount("0.65625"),
                protocol_fee: amount("0.003125"),
                bonus: ratio("0.05"),
                health_before: Some(ratio("0.935341009743135518")),
            }]),
        ),
        // Liquidate (Dutch auction): account 7 borrows 4 ETH against 10,000 USDC (8500 ≥ 6400)
        // and withdraws it; at ETH 2300 its 9200 of debt exceeds 10,000 × 0.90 = 9000.
        // lot 10,000 USDC, tab 4 × 1.13 = 4.52 ETH, top 1 × 1.10 = 1.1.
        (deposit(keeper, ETH, "11"), Ok),
        (supply(keeper, ETH, "10"), Ok),
        (deposit(eth_borrower, USDC, "10000"), Ok),
        (borrow(eth_borrower, ETH, "4"), Ok),
        (withdraw(eth_borrower, ETH, "4"), Ok),
        (set_price(ETH, "2300"), Ok),
        (
            liquidate_debt(keeper, eth_borrower, ETH, USDC, "1"),
            Events(vec![Event::AuctionStarted {
                auction: AuctionId(1),
                account: id(eth_borrower),
                keeper: id(keeper),
                collateral: USDC,
                debt: ETH,
                lot: amount("10000"),
                tab: amount("4.52"),
                top: price("1.1"),
            }]),
        ),
        // TakeAuction: 1000 USDC at 1.1 = 1100 of value, / 2300 per ETH = 0.4782608695652173913…
        // → the keeper pays, rounded up, 0.478260869565217392 ETH.
        (
            take(keeper, 1, "1000", "1.1"),
            Events(vec![Event::AuctionTaken {
                auction: AuctionId(1),
                keeper: id(keeper),
                collateral: amount("1000"),
                paid: amount("0.478260869565217392"),
                price: price("1.1"),
            }]),
        ),
        // ResetAuction after the tail: new top = 1 × 1.10 from the current USDC price.
        (advance(YEAR + 7201), Ok),
        (reset(1), Events(vec![Event::AuctionReset { auction: AuctionId(1), top: price("1.1") }])),
    ];
    // Run up to the year's accrual, check the venue's reserve shares, then the rest.
    let year = table.iter().position(|(command, _)| command == &advance(YEAR)).unwrap();
    run(&mut engine, &table[..=year]);
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    // 11.25 / 1.0010125 = 11.2386208963424532660… → floor.
    assert_eq!(market.reserve_shares, shares("11.238620896342453266"));
    run(&mut engine, &table[year + 1..]);
    let names: std::collections::BTreeSet<&str> =
        table.iter().map(|(command, _)| command.name()).collect();
    assert_eq!(names.len(), 15, "every command kind appears: {names:?}");
    // 100,000 − 998.988524119329179207 shares.
    assert_eq!(holding(&engine, lender, USDC).1, shares("99001.011475880670820793"));
    // 11 − 10 supplied + 0.65625 seized − 0.003125 to the venue − 0.478260869565217392 paid.
    assert_eq!(balance(&engine, keeper, ETH), amount("1.174864130434782608"));
    assert_eq!(fees(&engine, USDC), amount("2"));
    assert_eq!(fees(&engine, ETH), amount("0.003125"));
}
