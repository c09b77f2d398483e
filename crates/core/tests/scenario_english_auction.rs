//! English (tend/dent) collateral auctions, Maker's Flipper of 2020: `beg` 1.03, `ttl` 600 s,
//! `tau` 21,600 s, penalty (`chop`) 0.13. Every number below is computed by hand in the comments.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{
    AccountId, AssetId, AuctionId, Command, Engine, Event, MarketRef, VenueConfig,
};
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);

const LENDER: u64 = 1;
const BORROWER: u64 = 2;
const K1: u64 = 3;
const K2: u64 = 4;

fn venue_toml(liquidation: &str) -> String {
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
{liquidation}

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"
"#
    )
}

const FLIP: &str = r#"mode = "english_auction"
beg = "1.03"
ttl_secs = 600
tau_secs = 21600
penalty = "0.13""#;

fn bid(bidder: u64, lot: &str, value: &str) -> Command {
    Command::BidAuction {
        bidder: AccountId(bidder),
        auction: AuctionId(1),
        lot: amount(lot),
        bid: amount(value),
    }
}

fn deal() -> Command {
    Command::DealAuction { auction: AuctionId(1) }
}

fn bid_event(bidder: u64, lot: &str, value: &str, dent: bool, expires_at: u64) -> Event {
    Event::EnglishAuctionBid {
        auction: AuctionId(1),
        bidder: AccountId(bidder),
        lot: amount(lot),
        bid: amount(value),
        dent,
        expires_at,
    }
}

fn refund(bidder: u64, value: &str) -> Event {
    Event::EnglishAuctionRefunded {
        auction: AuctionId(1),
        bidder: AccountId(bidder),
        amount: amount(value),
    }
}

/// Borrower 2 owes 15,000 USDC against 10 ETH; ETH falls to 1800 (maintenance 10 × 1800 ×
/// 0.825 = 14,850 < 15,000) and K1 kicks auction 1: lot 10 ETH, tab 15,000 × 1.13 = 16,950,
/// ends at 0 + 21,600. K1 and K2 hold 20,000 USDC each.
fn kicked() -> Engine {
    let mut engine = engine(&venue_toml(FLIP));
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (open(LENDER), Ok),
            (open(BORROWER), Ok),
            (open(K1), Ok),
            (open(K2), Ok),
            (deposit(LENDER, USDC, "100000"), Ok),
            (supply(LENDER, USDC, "100000"), Ok),
            (deposit(K1, USDC, "20000"), Ok),
            (deposit(K2, USDC, "20000"), Ok),
            (deposit(BORROWER, ETH, "10"), Ok),
            (borrow(BORROWER, USDC, "15000"), Ok),
            (withdraw(BORROWER, USDC, "15000"), Ok),
            (set_price(ETH, "1800"), Ok),
            (
                liquidate_debt(K1, BORROWER, USDC, ETH, "1"),
                Events(vec![Event::EnglishAuctionStarted {
                    auction: AuctionId(1),
                    account: AccountId(BORROWER),
                    keeper: AccountId(K1),
                    collateral: ETH,
                    debt: USDC,
                    lot: amount("10"),
                    tab: amount("16950"),
                    ends_at: 21_600,
                }]),
            ),
        ],
    );
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(market.auction_debt, amount("15000"));
    assert!(market.debt_shares.is_zero());
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0"));
    assert!(engine.state().auctions.is_empty(), "no Dutch auction");
    engine
}

#[test]
fn tend_outbid_refund_dent_and_deal_after_ttl() {
    let mut engine = kicked();
    run(
        &mut engine,
        &[
            // The account may not act or bid on its own collateral while the auction runs.
            (withdraw(BORROWER, ETH, "1"), Code(34)),
            (bid(BORROWER, "10", "1000"), Code(17)),
            // Tend: 10,000 for the whole lot; escrowed, expires 0 + 600.
            (bid(K1, "10", "10000"), Events(vec![bid_event(K1, "10", "10000", false, 600)])),
        ],
    );
    assert_eq!(balance(&engine, K1, USDC), amount("10000"));
    run(
        &mut engine,
        &[
            // 10,200 < 1.03 × 10,000 = 10,300; a part of the lot in tend; above the tab 16,950.
            (bid(K2, "10", "10200"), Code(141)),
            (bid(K2, "9", "10300"), Code(141)),
            (bid(K2, "10", "16950.000001"), Code(141)),
            // More than K2 holds (20,000): insufficient balance.
            (deposit(K2, USDC, "0.000001"), Ok),
            (withdraw(K2, USDC, "10000"), Ok),
            (bid(K2, "10", "10300.000002"), Code(8)),
            (deposit(K2, USDC, "10000"), Ok),
            // Exactly 1.03 × 10,000: K1's 10,000 comes back to it.
            (
                bid(K2, "10", "10300"),
                Events(vec![refund(K1, "10000"), bid_event(K2, "10", "10300", false, 600)]),
            ),
            (deal(), Code(28)),
            (advance(300), Ok),
            // The tab itself is always enough (16,950 ≥ 1.03 × 10,300 = 10,609): this last tend
            // bid covers the tab, and dent begins after it.
            (
                bid(K1, "10", "16950"),
                Events(vec![refund(K2, "10300"), bid_event(K1, "10", "16950", false, 900)]),
            ),
            // Dent: the bid must stay the tab; the lot must fall by beg: 9.8 × 1.03 = 10.094 > 10.
            (bid(K2, "9", "16000"), Code(141)),
            (bid(K2, "10", "16950"), Code(141)),
            (bid(K2, "9.8", "16950"), Code(141)),
            // 9.7 × 1.03 = 9.991 ≤ 10: K1 refunded, 0.3 ETH back to the borrower.
            (
                bid(K2, "9.7", "16950"),
                Events(vec![refund(K1, "16950"), bid_event(K2, "9.7", "16950", true, 900)]),
            ),
        ],
    );
    assert_eq!(balance(&engine, K1, USDC), amount("20000"));
    assert_eq!(balance(&engine, K2, USDC), amount("3050.000001"));
    assert_eq!(balance(&engine, BORROWER, ETH), amount("0.3"));
    run(
        &mut engine,
        &[
            (advance(899), Ok),
            (deal(), Code(28)),
            // At 900 the bid of 300 + 600 expired: no more bids, deal it.
            (advance(900), Ok),
            (bid(K1, "9.4", "16950"), Code(140)),
            (
                deal(),
                Events(vec![Event::EnglishAuctionDealt {
                    auction: AuctionId(1),
                    winner: AccountId(K2),
                    lot: amount("9.7"),
                    bid: amount("16950"),
                    unraised: amount("0"),
                }]),
            ),
            (deal(), Code(25)),
        ],
    );
    // The bid repays the 15,000 debt; the 1,950 penalty goes to the venue's fees.
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(market.auction_debt, amount("0"));
    assert_eq!(market.deficit, amount("0"));
    assert_eq!(market.cash, amount("100000"));
    assert_eq!(engine.state().fees[USDC.index()], amount("1950"));
    assert_eq!(balance(&engine, K2, ETH), amount("9.7"));
    let borrower = &engine.state().accounts[&AccountId(BORROWER)];
    assert_eq!(borrower.auctions_running, 0);
    run(&mut engine, &[(withdraw(BORROWER, ETH, "0.3"), Ok)]);
}

#[test]
fn zero_bid_wins_and_the_unraised_debt_is_a_deficit() {
    let mut engine = kicked();
    run(
        &mut engine,
        &[
            // The first bid may be zero: nothing is escrowed.
            (bid(K1, "10", "0"), Events(vec![bid_event(K1, "10", "0", false, 600)])),
            // A second zero is not above the standing bid.
            (bid(K2, "10", "0"), Code(141)),
            (advance(599), Ok),
            (deal(), Code(28)),
            (advance(600), Ok),
            (
                deal(),
                Events(vec![
                    Event::EnglishAuctionDealt {
                        auction: AuctionId(1),
                        winner: AccountId(K1),
                        lot: amount("10"),
                        bid: amount("0"),
                        unraised: amount("15000"),
                    },
                    Event::DeficitRecorded {
                        market: MarketRef::Lending(USDC),
                        account: AccountId(BORROWER),
                        amount: amount("15000"),
                        deficit_after: amount("15000"),
                    },
                ]),
            ),
        ],
    );
    assert_eq!(balance(&engine, K1, ETH), amount("10"));
    assert_eq!(balance(&engine, K1, USDC), amount("20000"));
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!((market.deficit, market.auction_debt), (amount("15000"), amount("0")));
}

#[test]
fn a_low_bid_repays_part_and_the_rest_is_a_deficit() {
    let mut engine = kicked();
    run(
        &mut engine,
        &[
            (bid(K1, "10", "5000"), Ok),
            // The same bidder raising its own bid escrows only the difference (5,150 − 5,000).
            (bid(K1, "10", "5150"), Events(vec![bid_event(K1, "10", "5150", false, 600)])),
            (advance(21_600), Ok),
            (
                deal(),
                Events(vec![
                    Event::EnglishAuctionDealt {
                        auction: AuctionId(1),
                        winner: AccountId(K1),
                        lot: amount("10"),
                        bid: amount("5150"),
                        unraised: amount("9850"),
                    },
                    Event::DeficitRecorded {
                        market: MarketRef::Lending(USDC),
                        account: AccountId(BORROWER),
                        amount: amount("9850"),
                        deficit_after: amount("9850"),
                    },
                ]),
            ),
        ],
    );
    assert_eq!(balance(&engine, K1, USDC), amount("14850"));
    // All 5,150 repaid debt (below the 15,000 owed): no penalty.
    assert_eq!(engine.state().fees[USDC.index()], amount("0"));
}

#[test]
fn tau_ends_bidding_and_an_unbid_auction_restarts() {
    let mut engine = kicked();
    run(
        &mut engine,
        &[
            (Command::ResetAuction { auction: AuctionId(1) }, Code(28)),
            (advance(21_599), Ok),
            (deal(), Code(28)),
            (advance(21_600), Ok),
            (bid(K1, "10", "1"), Code(140)),
            (deal(), Code(142)),
            (
                Command::ResetAuction { auction: AuctionId(1) },
                Events(vec![Event::EnglishAuctionRestarted {
                    auction: AuctionId(1),
                    ends_at: 43_200,
                }]),
            ),
            (bid(K1, "10", "1"), Ok),
            // With a bid standing it is not restarted.
            (advance(22_300), Ok),
            (Command::ResetAuction { auction: AuctionId(1) }, Code(28)),
            // Dutch commands do not apply to it.
            (take(K2, 1, "1", "2000"), Code(25)),
            (deal(), Ok),
        ],
    );
    // Auction ids are shared with Dutch auctions: the next one is 2.
    assert_eq!(engine.state().next_auction, 2);
}

#[test]
fn english_auction_config_is_validated() {
    let error = |text: &str| VenueConfig::from_toml_str(&venue_toml(text)).unwrap_err().to_string();
    assert!(error(&FLIP.replace("1.03", "1")).contains("beg"));
    assert!(error(&FLIP.replace("ttl_secs = 600", "ttl_secs = 0")).contains("ttl_secs"));
    assert!(error(&FLIP.replace("tau_secs = 21600", "tau_secs = 0")).contains("tau_secs"));
    assert!(error(&FLIP.replace("0.13", "1.5")).contains("penalty"));
}

/// One random action on the kicked auction.
#[derive(Debug, Clone)]
enum Action {
    /// A bid by account `who` (K1, K2, the borrower or the lender) of `bid_bps` of the tab for
    /// `lot_bps` of the standing lot (10,000 = all of it).
    Bid {
        who: u64,
        lot_bps: u32,
        bid_bps: u32,
    },
    Deal,
    Reset,
    Advance {
        secs: u64,
    },
}

fn action() -> impl proptest::strategy::Strategy<Value = Action> {
    use proptest::prelude::*;
    prop_oneof![
        6 => (prop_oneof![Just(K1), Just(K2), Just(BORROWER), Just(LENDER)],
              prop_oneof![3 => Just(10_000_u32), 1 => 5_000_u32..=10_000],
              prop_oneof![1 => Just(0_u32), 1 => Just(10_000_u32), 4 => 0_u32..=10_500])
            .prop_map(|(who, lot_bps, bid_bps)| Action::Bid { who, lot_bps, bid_bps }),
        2 => Just(Action::Deal),
        1 => Just(Action::Reset),
        3 => prop_oneof![1_u64..=700, Just(21_600_u64)].prop_map(|secs| Action::Advance { secs }),
    ]
}

fn scaled(value: backstop_money::Amount, bps: u32) -> backstop_money::Amount {
    value
        .mul_div(
            backstop_money::Amount::from_raw(i128::from(bps)),
            backstop_money::Amount::from_raw(10_000),
            backstop_money::Rounding::Floor,
        )
        .unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Random bids, deals, restarts and time on a kicked English auction: the engine's audit
    /// holds after every command (conservation counts the lot and the escrowed bid), a rejected
    /// command leaves the state hash unchanged (`step`), and once dealt the auction is gone with
    /// the borrower's debt either repaid or recorded as a deficit.
    #[test]
    fn random_bids_keep_the_invariants(actions in proptest::collection::vec(action(), 1..40)) {
        let mut engine = kicked();
        let mut now = 0_u64;
        for action in actions {
            let auction = engine.state().english_auctions.get(&AuctionId(1)).cloned();
            let command = match action {
                Action::Bid { who, lot_bps, bid_bps } => {
                    let Some(auction) = auction else { continue };
                    let lot = if lot_bps == 10_000 { auction.lot } else { scaled(auction.lot, lot_bps) };
                    let bid = if bid_bps == 10_000 { auction.tab } else { scaled(auction.tab, bid_bps) };
                    Command::BidAuction { bidder: AccountId(who), auction: AuctionId(1), lot, bid }
                }
                Action::Deal => deal(),
                Action::Reset => Command::ResetAuction { auction: AuctionId(1) },
                Action::Advance { secs } => {
                    now += secs;
                    advance(now)
                }
            };
            let _ = step(&mut engine, &command);
        }
        let market = engine.state().lending[USDC.index()].as_ref().unwrap().clone();
        if engine.state().english_auctions.is_empty() {
            proptest::prop_assert_eq!(market.auction_debt, amount("0"));
            // Repaid cash plus the deficit make up the 15,000 owed.
            let repaid = market.cash.checked_sub(amount("85000")).unwrap();
            proptest::prop_assert_eq!(repaid.checked_add(market.deficit).unwrap(), amount("15000"));
        } else {
            proptest::prop_assert_eq!(market.auction_debt, amount("15000"));
        }
    }
}
