//! Dutch auctions of lending collateral with Sky's ETH-A Clipper parameters: buf 1.10, cut 0.99
//! every 90 s, tail 7,200 s, cusp 0.45, penalty (chop) 0.13. Reference: lending-perps-cover.md
//! §2.2, "Derived check": price = 1.10 × 0.99^n × oracle, the cusp is crossed at n = 80 steps
//! (7,200 s), so tail and cusp coincide.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AccountId, AssetId, AuctionId, Engine, Event, MarketRef};
use backstop_money::{Amount, Price, Rounding};
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const BTC: AssetId = AssetId(2);

const LENDER: u64 = 1;
const BORROWER: u64 = 2;
const KEEPER: u64 = 3;

fn venue_toml(cusp: &str) -> String {
    format!(
        r#"
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
cusp = "{cusp}"
penalty = "0.13"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"

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
"#
    )
}

/// Borrower 2 owes 15,000 USDC against 10 ETH; ETH falls to 1800 (maintenance 10 × 1800 ×
/// 0.825 = 14,850 < 15,000) and keeper 3 starts auction 1:
/// lot 10 ETH, tab = 15,000 × 1.13 = 16,950, top = 1800 × 1.10 = 1980.
fn auction_started(cusp: &str) -> Engine {
    let mut engine = engine(&venue_toml(cusp));
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (open(LENDER), Ok),
            (open(BORROWER), Ok),
            (open(KEEPER), Ok),
            (deposit(LENDER, USDC, "100000"), Ok),
            (supply(LENDER, USDC, "100000"), Ok),
            (deposit(KEEPER, USDC, "30000"), Ok),
            (deposit(BORROWER, ETH, "10"), Ok),
            (borrow(BORROWER, USDC, "15000"), Ok),
            (withdraw(BORROWER, USDC, "15000"), Ok),
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1"), Code(11)),
            (set_price(ETH, "1800"), Ok),
            (
                liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1"),
                Events(vec![Event::AuctionStarted {
                    auction: AuctionId(1),
                    account: AccountId(BORROWER),
                    keeper: AccountId(KEEPER),
                    collateral: ETH,
                    debt: USDC,
                    lot: amount("10"),
                    tab: amount("16950"),
                    top: price("1980"),
                }]),
            ),
        ],
    );
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    // The debt left the account and the market's debt shares; the auction owes it, fixed.
    assert_eq!(market.auction_debt, amount("15000"));
    assert!(market.debt_shares.is_zero());
    assert_eq!(holding(&engine, BORROWER, USDC).2, backstop_money::Shares::ZERO);
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0"));
    engine
}

fn auction_price(engine: &Engine) -> (Price, bool) {
    engine.auction_price(AuctionId(1)).unwrap()
}

fn taken(collateral: &str, paid: &str, at: &str) -> Event {
    Event::AuctionTaken {
        auction: AuctionId(1),
        keeper: AccountId(KEEPER),
        collateral: amount(collateral),
        paid: amount(paid),
        price: price(at),
    }
}

fn ended(returned: &str, unraised: &str) -> Event {
    Event::AuctionEnded {
        auction: AuctionId(1),
        returned: amount(returned),
        unraised: amount(unraised),
        debt_returned: Amount::ZERO,
    }
}

#[test]
fn price_curve_matches_repeated_squaring() {
    // The helper reproduces the specified rounding: 0.99^10 by squaring with floor products is
    // 0.9801 × 0.9227446944279201 = 0.90438207500880449001 → 0.904382075008804490 (= exact
    // floor); 0.99^79 is 0.452043650266475667, 3 raw units below the exact floor …670.
    let cut = ratio("0.99");
    assert_eq!(ratio_pow_floor(cut, 0), ratio("1"));
    assert_eq!(ratio_pow_floor(cut, 1), ratio("0.99"));
    assert_eq!(ratio_pow_floor(cut, 10), ratio("0.90438207500880449"));
    assert_eq!(ratio_pow_floor(cut, 79), ratio("0.452043650266475667"));
    assert_eq!(ratio_pow_floor(cut, 80), ratio("0.447523213763810911"));
}

#[test]
fn sky_eth_a_auction_partial_take_reset_and_final_take() {
    let mut engine = auction_started("0.45");
    let top = price("1980");
    let at = |steps: u64| {
        top.mul_ratio(ratio_pow_floor(ratio("0.99"), steps), backstop_money::Rounding::Floor)
            .unwrap()
    };
    // t = 0: price = top = 1980.
    assert_eq!(auction_price(&engine), (price("1980"), false));
    run(
        &mut engine,
        &[
            // The account may not act while its auction runs (34), nor be liquidated again.
            (withdraw(BORROWER, ETH, "1"), Code(34)),
            (borrow(BORROWER, USDC, "1"), Code(34)),
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1"), Code(34)),
            // The account may not buy its own collateral (17); unknown auction (25).
            (take(BORROWER, 1, "1", "2000"), Code(17)),
            (take(KEEPER, 2, "1", "2000"), Code(25)),
            (take(KEEPER, 1, "0", "2000"), Code(6)),
            // 1980 > the keeper's limit 1979.99 (27); no reset while the curve runs (28).
            (take(KEEPER, 1, "1", "1979.99"), Code(27)),
            (reset(1), Code(28)),
            (reset(2), Code(25)),
            // t = 90 s: one step, 1980 × 0.99 = 1960.2. No interest: the market has no debt shares.
            (advance(90), Events(vec![Event::TimeAdvanced { before: 0, after: 90 }])),
        ],
    );
    assert_eq!(auction_price(&engine), (price("1960.2"), false));
    assert_eq!(at(1), price("1960.2"));
    // Partial take of 2 ETH: paid = 2 × 1960.2 / 1 (USDC price) = 3920.4, all of it debt.
    // Tab 16,950 − 3920.4 = 13,029.6; owed 15,000 − 3920.4 = 11,079.6; lot 8.
    run(
        &mut engine,
        &[(take(KEEPER, 1, "2", "1960.2"), Events(vec![taken("2", "3920.4", "1960.2")]))],
    );
    let auction = &engine.state().auctions[&AuctionId(1)];
    assert_eq!(
        (auction.lot, auction.tab, auction.owed),
        (amount("8"), amount("13029.6"), amount("11079.6"))
    );
    // t = 900 s: 10 steps, 1980 × 0.904382075008804490 = 1790.6765085174328902.
    run(&mut engine, &[(advance(900), Ok)]);
    assert_eq!(auction_price(&engine), (price("1790.6765085174328902"), false));
    assert_eq!(at(10), price("1790.6765085174328902"));
    // t = 7199 s: 79 steps, 1980 × 0.452043650266475667 = 895.04642752762182066 (the exact power
    // would give 895.0464275276218266); still above the cusp 1980 × 0.45 = 891 and within tail.
    run(&mut engine, &[(advance(7199), Ok)]);
    assert_eq!(auction_price(&engine), (price("895.04642752762182066"), false));
    assert_eq!(at(79), price("895.04642752762182066"));
    run(
        &mut engine,
        &[
            // The USDC price set at t = 0 is 7199 s old > 3600: a take needs it fresh (13).
            (take(KEEPER, 1, "0.1", "2000"), Code(13)),
            // t = 7200 s: 80 steps, 1980 × 0.447523213763810911 = 886.09596325234560378 < 891:
            // the cusp is crossed exactly when the tail ends (the reference's derived check).
            (advance(7200), Ok),
            (set_price(USDC, "1"), Ok),
            (take(KEEPER, 1, "0.1", "2000"), Code(26)),
        ],
    );
    assert_eq!(auction_price(&engine), (price("886.09596325234560378"), true));
    assert_eq!(at(80), price("886.09596325234560378"));
    run(
        &mut engine,
        &[
            // t = 7201 s: past the tail as well. A reset needs a fresh collateral price (13).
            (advance(7201), Ok),
            (take(KEEPER, 1, "0.1", "2000"), Code(26)),
            (reset(1), Code(13)),
            (set_price(ETH, "1500"), Ok),
            (set_price(USDC, "1"), Ok),
            // New top = 1500 × 1.10 = 1650, from now.
            (
                reset(1),
                Events(vec![Event::AuctionReset { auction: AuctionId(1), top: price("1650") }]),
            ),
            (reset(1), Code(28)),
        ],
    );
    assert_eq!(auction_price(&engine), (price("1650"), false));
    // Final take: the keeper asks for 100 ETH; 8 × 1650 = 13,200 ≥ tab 13,029.6, so it pays the
    // tab and gets 13,029.6 / 1650 = 7.8967272727… → floor 7.896727272727272727 ETH. Of the tab,
    // 11,079.6 repays the debt and 1,950 is the penalty (13% of 15,000). The remaining lot
    // 8 − 7.896727272727272727 = 0.103272727272727273 goes back to the borrower.
    run(
        &mut engine,
        &[
            (
                take(KEEPER, 1, "100", "1650"),
                Events(vec![
                    taken("7.896727272727272727", "13029.6", "1650"),
                    ended("0.103272727272727273", "0"),
                ]),
            ),
            (take(KEEPER, 1, "1", "2000"), Code(25)),
            (reset(1), Code(25)),
            // The auction is over: the borrower owes nothing and may withdraw again.
            (withdraw(BORROWER, ETH, "0.1"), Ok),
        ],
    );
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0.003272727272727273"));
    assert_eq!(engine.account(AccountId(BORROWER)).unwrap().auctions_running, 0);
    assert_eq!(balance(&engine, KEEPER, ETH), amount("9.896727272727272727"));
    // 30,000 − 3920.4 − 13,029.6.
    assert_eq!(balance(&engine, KEEPER, USDC), amount("13050"));
    assert_eq!(fees(&engine, USDC), amount("1950"));
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    // 85,000 + 3920.4 + 11,079.6: the lender is whole.
    assert_eq!(market.cash, amount("100000"));
    assert_eq!((market.auction_debt, market.deficit), (amount("0"), amount("0")));
    assert!(engine.state().auctions.is_empty());
}

#[test]
fn lot_runs_out_and_only_the_unraised_debt_becomes_a_deficit() {
    let mut engine = auction_started("0.45");
    // t = 0: 2 ETH at 1980 = 3960. Owed 15,000 − 3960 = 11,040; tab 16,950 − 3960 = 12,990.
    // ETH crashes to 1000; after the tail the auction restarts at 1000 × 1.10 = 1100 and the
    // keeper buys the last 8 ETH for 8 × 1100 = 8800 < 12,990. The lot is gone with
    // 12,990 − 8800 = 4190 of tab unraised, of which 11,040 − 8800 = 2240 is debt and
    // 1950 is penalty: only the 2240 of debt is recorded as the USDC market's deficit.
    run(
        &mut engine,
        &[
            (take(KEEPER, 1, "2", "1980"), Events(vec![taken("2", "3960", "1980")])),
            (advance(7201), Events(vec![Event::TimeAdvanced { before: 0, after: 7201 }])),
            (set_price(ETH, "1000"), Ok),
            (set_price(USDC, "1"), Ok),
            (
                reset(1),
                Events(vec![Event::AuctionReset { auction: AuctionId(1), top: price("1100") }]),
            ),
            (
                take(KEEPER, 1, "100", "1100"),
                Events(vec![
                    taken("8", "8800", "1100"),
                    Event::DeficitRecorded {
                        market: MarketRef::Lending(USDC),
                        account: AccountId(BORROWER),
                        amount: amount("2240"),
                        deficit_after: amount("2240"),
                    },
                    ended("0", "4190"),
                ]),
            ),
        ],
    );
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(market.deficit, amount("2240"));
    assert_eq!(market.auction_debt, amount("0"));
    // 85,000 + 3960 + 8800.
    assert_eq!(market.cash, amount("97760"));
    // No penalty was raised: payments go to the debt first.
    assert_eq!(fees(&engine, USDC), amount("0"));
    assert_eq!(balance(&engine, KEEPER, ETH), amount("10"));
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0"));
    assert_eq!(engine.account(AccountId(BORROWER)).unwrap().auctions_running, 0);
}

#[test]
fn tail_alone_forces_a_reset() {
    // With cusp 0.20 the price floor is 1980 × 0.20 = 396: at 7200 s (886.09…) the curve still
    // runs; one second later the tail (elapsed 7201 > 7200) forces the reset.
    let mut engine = auction_started("0.20");
    run(
        &mut engine,
        &[
            (advance(7200), Ok),
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "1800"), Ok),
            (reset(1), Code(28)),
            // 0.5 ETH at 886.09596325234560378 = 443.04798162617280189 (exact).
            (
                take(KEEPER, 1, "0.5", "900"),
                Events(vec![taken("0.5", "443.04798162617280189", "886.09596325234560378")]),
            ),
            (advance(7201), Ok),
            (take(KEEPER, 1, "0.5", "2000"), Code(26)),
            (
                reset(1),
                Events(vec![Event::AuctionReset { auction: AuctionId(1), top: price("1980") }]),
            ),
        ],
    );
    assert_eq!(auction_price(&engine), (price("1980"), false));
}

/// The lender (1) also supplies 1 BTC, the keeper (3) holds 30,000 USDC; prices USDC 1,
/// ETH 2000, BTC 30,000; the borrower (2) holds nothing yet.
fn cross_collateral_venue() -> Engine {
    let mut engine = engine(&venue_toml("0.45"));
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (set_price(BTC, "30000"), Ok),
            (open(LENDER), Ok),
            (open(BORROWER), Ok),
            (open(KEEPER), Ok),
            (deposit(LENDER, USDC, "100000"), Ok),
            (supply(LENDER, USDC, "100000"), Ok),
            (deposit(LENDER, BTC, "1"), Ok),
            (supply(LENDER, BTC, "1"), Ok),
            (deposit(KEEPER, USDC, "30000"), Ok),
        ],
    );
    engine
}

/// Regression test for a fixed bug, which was: an auction takes over the account's *whole* debt but sells only the one collateral the
/// keeper names; when that lot runs out, everything still owed is recorded as a deficit, even
/// though the account keeps its other collateral (liquidation.rs `start_auction` moves all debt
/// shares; `end_auction` books `auction.owed` as deficit unconditionally). Here the borrower
/// holds 0.5 ETH and 1 BTC against 20,000 USDC; an auction of the 0.5 ETH raises 0.5 × 2200 =
/// 1100 and books 18,900 of deficit while the borrower walks away with 1 BTC (24,000) and no
/// debt. The deficit ledger's own rule (backstop/deficit.rs) is to recognise bad debt only
/// once no collateral is left. Expected: no deficit while collateral remains; the account still
/// owes what the auction did not raise (or the auction is refused).
#[test]
fn an_auction_of_one_collateral_does_not_forgive_debt_backed_by_another() {
    let mut engine = cross_collateral_venue();
    // Initial: 0.5 × 2000 × 0.80 = 800 + 30,000 × 0.70 = 21,000 → 21,800 ≥ 20,000.
    // At BTC 24,000: 0.5 × 2000 × 0.825 = 825 + 24,000 × 0.75 = 18,000 → 18,825 < 20,000.
    run(
        &mut engine,
        &[
            (deposit(BORROWER, ETH, "0.5"), Ok),
            (deposit(BORROWER, BTC, "1"), Ok),
            (borrow(BORROWER, USDC, "20000"), Ok),
            (withdraw(BORROWER, USDC, "20000"), Ok),
            (set_price(BTC, "24000"), Ok),
        ],
    );
    if step(&mut engine, &liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1")).is_ok() {
        run(&mut engine, &[(take(KEEPER, 1, "100", "2200"), Ok)]);
    }
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(balance(&engine, BORROWER, BTC), amount("1"));
    assert_eq!(market.deficit, amount("0"), "debt written off while the account holds 1 BTC");
    assert!(engine.account(AccountId(BORROWER)).unwrap().has_liabilities());
}

/// Regression: when an auction ends with the lot gone, the account's other debt, now without any
/// collateral, is recognised as a deficit too (it could not be liquidated any more).
/// Here 10 ETH back 10,000 USDC (auctioned) and 0.1 BTC (fixed bonus); the ETH sells for 5500
/// and the 0.1 BTC of debt stays on an account with nothing left. Expected: the BTC market's
/// deficit records it (at the auction's end, or through a liquidation attempt).
#[test]
fn debt_left_without_collateral_after_an_auction_is_recognised() {
    let mut engine = cross_collateral_venue();
    // Initial: 10 × 2000 × 0.80 = 16,000 ≥ 10,000 + 0.1 × 30,000 = 13,000.
    // At ETH 1000: 10 × 1000 × 0.825 = 8250 < 13,000. Auction: owed 10,000, tab 11,300.
    // After the tail, at ETH 500, the top is 550 and the 10 ETH raise 5500: 4500 of USDC
    // deficit; the 0.1 BTC of debt remains with no collateral.
    run(
        &mut engine,
        &[
            (deposit(BORROWER, ETH, "10"), Ok),
            (borrow(BORROWER, USDC, "10000"), Ok),
            (withdraw(BORROWER, USDC, "10000"), Ok),
            (borrow(BORROWER, BTC, "0.1"), Ok),
            (withdraw(BORROWER, BTC, "0.1"), Ok),
            (set_price(ETH, "1000"), Ok),
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1"), Ok),
            (advance(7201), Ok),
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "500"), Ok),
            (set_price(BTC, "30000"), Ok),
            (reset(1), Ok),
            (take(KEEPER, 1, "100", "550"), Ok),
        ],
    );
    assert_eq!(engine.state().lending[USDC.index()].as_ref().unwrap().deficit, amount("4500"));
    let attempt = step(&mut engine, &liquidate_debt(KEEPER, BORROWER, BTC, ETH, "1"));
    let btc_market = engine.state().lending[BTC.index()].as_ref().unwrap();
    // The 0.1 BTC accrued interest for 7201 s: the deficit is the debt at the current index,
    // 0.1 × borrow index rounded up.
    let owed = amount("0.1").mul_ratio(btc_market.borrow_index, Rounding::Ceil).unwrap();
    assert!(owed > amount("0.1") && owed < amount("0.1001"));
    assert_eq!(
        btc_market.deficit, owed,
        "0.1 BTC of debt stranded without collateral (liquidation attempt: {attempt:?})"
    );
    assert!(!engine.account(AccountId(BORROWER)).unwrap().has_liabilities());
}
