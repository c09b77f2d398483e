//! External cover (excess of loss, premiums, claims, settlements, clawback) and recapitalisation
//! by minting (Maker Flop-like reverse auctions, approval, restarts, mint cap), with
//! hand-computed numbers for every rule and rejection 60–69, an Euler-style clawback, an
//! end-to-end waterfall fund → offset → stakers → cover → mint → socialise, and the
//! `examples/maker.toml` venue.
//!
//! Deficits are made the same way throughout: a borrower deposits ETH at 2000, borrows USDC and
//! withdraws it, ETH falls to P and keeper 3 liquidates everything. The loan-to-value is then
//! above 1 / 1.05, so the toxic-spiral guard withholds the bonus: the keeper repays `eth × P` and
//! the deficit is exactly `borrow − eth × P`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AccountId, AssetId, Command, Engine, Event, MarketRef};
use backstop_money::Amount;
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const GOV: AssetId = AssetId(2);
const MARKET: MarketRef = MarketRef::Lending(USDC);

const LENDER: u64 = 1;
const KEEPER: u64 = 3;
const TREASURY: u64 = 4;
const BIDDER: u64 = 5;
const POOR: u64 = 6;

/// 30 days in seconds.
const MONTH: u64 = 2_592_000;
/// 3 days in seconds (Maker's re-kick delay).
const THREE_DAYS: u64 = 259_200;

/// USDC (6 decimals) and ETH lend at zero rates; GOV (8 decimals) is the governance token.
/// `cover` is the body of the `[[cover]]` table named nexus, `extra` any further sections (such
/// as `[recap]`), `layers` the USDC waterfall.
fn venue(cover: &str, extra: &str, layers: &str) -> String {
    format!(
        r#"
[[asset]]
symbol = "USDC"
decimals = 6
[[asset]]
symbol = "ETH"
decimals = 18
[[asset]]
symbol = "GOV"
decimals = 8

[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0"
kink = "0.9"
slope2 = "0"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"

[[fund]]
name = "insurance"
asset = "USDC"
floor = "100"

[[fund]]
name = "eth_fund"
asset = "ETH"

[[offset]]
name = "treasury"
asset = "USDC"

[[staker_pool]]
name = "pool"
asset = "USDC"
cooldown_secs = 864000
slash_cap = "0.3"

[[cover]]
name = "nexus"
asset = "USDC"
{cover}

{extra}

[[waterfall]]
market = "USDC"
layers = [{layers}]
"#
    )
}

/// Limit 1000, attachment 200, 3.65% a year (30 days of cover cost exactly 3).
const COVER: &str = "limit = \"1000\"\nattachment = \"200\"\npremium_rate = \"0.0365\"";

/// Maker's 2020 Flop: 250 GOV for 50,000 USDC, +20% after 3 days without a bid.
const FLOP: &str = "[recap]\ntoken = \"GOV\"\nlot = \"250\"\nbid = \"50000\"\n\
                    lot_growth = \"0.2\"\nrestart_secs = 259200";

/// Prices USDC 1, ETH 2000, GOV 10; lender 1 supplies 100 M USDC; keeper 3 holds 100 M USDC;
/// treasury 4 and bidder 5 hold 10 M USDC each; account 6 holds 10 USDC.
fn funded(toml: &str) -> Engine {
    let mut engine = engine(toml);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (set_price(GOV, "10"), Ok),
            (open(LENDER), Ok),
            (open(KEEPER), Ok),
            (open(TREASURY), Ok),
            (open(BIDDER), Ok),
            (open(POOR), Ok),
            (deposit(LENDER, USDC, "100000000"), Ok),
            (supply(LENDER, USDC, "100000000"), Ok),
            (deposit(KEEPER, USDC, "100000000"), Ok),
            (deposit(TREASURY, USDC, "10000000"), Ok),
            (deposit(BIDDER, USDC, "10000000"), Ok),
            (deposit(POOR, USDC, "10"), Ok),
        ],
    );
    engine
}

fn donate(layer: &str, value: &str) -> Command {
    Command::Donate { account: AccountId(TREASURY), layer: layer.to_owned(), amount: amount(value) }
}

fn buy(cover: &str, fund: &str, term_secs: u64) -> Command {
    Command::BuyCover { cover: cover.to_owned(), fund: fund.to_owned(), term_secs }
}

fn settle(claim: u64, value: &str) -> Command {
    Command::SettleCoverClaim { claim, amount: amount(value) }
}

fn bid(account: u64, auction: u64, lot: &str) -> Command {
    Command::BidRecap { account: AccountId(account), auction, lot: amount(lot) }
}

fn restart(auction: u64) -> Command {
    Command::RestartRecap { auction }
}

fn approve(auction: u64) -> Command {
    Command::ApproveRecap { auction }
}

/// Borrower `id` deposits `eth` ETH at 2000, borrows and withdraws `borrowed` USDC; ETH falls to
/// `crash` and the keeper liquidates everything. Asserts the deficit `expected` (borrowed − eth ×
/// crash) and returns the liquidation's events (the waterfall's included).
fn crash(
    engine: &mut Engine,
    id: u64,
    eth: &str,
    borrowed: &str,
    crash: &str,
    expected: &str,
) -> Vec<Event> {
    run(
        engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (open(id), Ok),
            (deposit(id, ETH, eth), Ok),
            (borrow(id, USDC, borrowed), Ok),
            (withdraw(id, USDC, borrowed), Ok),
            (set_price(ETH, crash), Ok),
        ],
    );
    let events = step(engine, &liquidate_debt(KEEPER, id, USDC, ETH, "1000000000")).unwrap();
    let recorded: Vec<Amount> = events
        .iter()
        .filter_map(|event| match event {
            Event::DeficitRecorded { amount, .. } => Some(*amount),
            _ => None,
        })
        .collect();
    assert_eq!(recorded, vec![amount(expected)], "deficit of borrower {id}");
    events
}

/// The `LayerPaid` events, as (layer, amount).
fn paid(events: &[Event]) -> Vec<(String, Amount)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect()
}

fn layer(name: &str, value: &str) -> (String, Amount) {
    (name.to_owned(), amount(value))
}

/// The claims opened, as (claim, amount, losses reached).
fn claims_opened(events: &[Event]) -> Vec<(u64, Amount, Amount)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::CoverClaimOpened { claim, amount, losses_reached, .. } => {
                Some((*claim, *amount, *losses_reached))
            }
            _ => None,
        })
        .collect()
}

/// The recap auctions opened, as (auction, bid, lot, approved).
fn auctions_opened(events: &[Event]) -> Vec<(u64, Amount, Amount, bool)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::RecapAuctionOpened { auction, bid, lot, approved, .. } => {
                Some((*auction, *bid, *lot, *approved))
            }
            _ => None,
        })
        .collect()
}

fn opened(auction: u64, bid: &str, lot: &str, approved: bool) -> (u64, Amount, Amount, bool) {
    (auction, amount(bid), amount(lot), approved)
}

fn pending(engine: &Engine) -> Amount {
    engine.state().net.pending.get(&MARKET).copied().unwrap_or_default()
}

fn deficit(engine: &Engine) -> Amount {
    engine.state().lending[USDC.index()].as_ref().unwrap().deficit
}

fn external(engine: &Engine, asset: AssetId) -> Amount {
    engine.state().external_net[asset.index()]
}

fn claim_settled(claim: u64, paid: &str, returned: &str) -> Event {
    Event::CoverClaimSettled {
        claim,
        cover: "nexus".to_owned(),
        market: MARKET,
        paid: amount(paid),
        returned: amount(returned),
    }
}

fn layer_paid(name: &str, value: &str, remaining: &str) -> Event {
    Event::LayerPaid {
        market: MARKET,
        layer: name.to_owned(),
        amount: amount(value),
        remaining: amount(remaining),
    }
}

// ----- cover -----

#[test]
fn premium_is_rounded_up_to_the_unit_and_leaves_the_venue_from_the_fund() {
    let mut engine =
        funded(&venue(COVER, "", "\"fund:insurance\", \"cover:nexus\", \"socialize\""));
    // External USDC: 100 M + 100 M + 10 M + 10 M + 10 = 220,000,010.
    assert_eq!(external(&engine, USDC), amount("220000010"));
    run(
        &mut engine,
        &[
            (donate("fund:insurance", "400"), Ok),
            (buy("lloyds", "insurance", MONTH), Code(36)),
            (buy("nexus", "reserve", MONTH), Code(36)),
            (buy("nexus", "insurance", 0), Code(6)),
            // The ETH fund cannot pay a USDC premium.
            (buy("nexus", "eth_fund", MONTH), Code(61)),
            // Ten years: 1000 × 0.0365 × 10 = 365 > 400 − floor 100 = 300.
            (buy("nexus", "insurance", 315_360_000), Code(62)),
            // One second: 1000 × 0.0365 / 31,536,000 = 0.000001157… → up to 0.000002 USDC.
            (
                buy("nexus", "insurance", 1),
                Events(vec![Event::CoverBought {
                    cover: "nexus".to_owned(),
                    fund: "insurance".to_owned(),
                    premium: amount("0.000002"),
                    term_end: 1,
                }]),
            ),
            // The term runs until t = 1.
            (buy("nexus", "insurance", MONTH), Code(60)),
            (advance(1), Ok),
            // 30 days: 1000 × 0.0365 × 30 / 365 = 3 exactly; the term ends at 1 + 2,592,000.
            (
                buy("nexus", "insurance", MONTH),
                Events(vec![Event::CoverBought {
                    cover: "nexus".to_owned(),
                    fund: "insurance".to_owned(),
                    premium: amount("3"),
                    term_end: 2_592_001,
                }]),
            ),
        ],
    );
    let state = &engine.state().net;
    assert_eq!(state.funds[0].balance, amount("396.999998"));
    assert_eq!(state.covers[0].premiums_paid, amount("3.000002"));
    assert_eq!(state.covers[0].term_end, 2_592_001);
    // The premiums left the venue: 220,000,010 − 3.000002.
    assert_eq!(external(&engine, USDC), amount("220000006.999998"));
}

#[test]
fn excess_of_loss_claims_up_to_the_limit_and_settles_partly_or_not_at_all() {
    let mut engine =
        funded(&venue(COVER, "", "\"fund:insurance\", \"cover:nexus\", \"socialize\""));
    // 403 − premium 3 = 400: the fund can pay 300 above its floor.
    run(
        &mut engine,
        &[(donate("fund:insurance", "403"), Ok), (buy("nexus", "insurance", MONTH), Ok)],
    );
    // Deficit 1: 15,000 − 10 × 1400 = 1000. The fund pays 300; 700 reaches the cover, 200 of it
    // below the attachment: claim 1 = 500 (pending); the 200 retained is socialised.
    let events = crash(&mut engine, 100, "10", "15000", "1400", "1000");
    assert_eq!(paid(&events), vec![layer("fund:insurance", "300"), layer("socialize", "200")]);
    assert_eq!(claims_opened(&events), vec![(1, amount("500"), amount("700"))]);
    assert_eq!((pending(&engine), deficit(&engine)), (amount("500"), Amount::ZERO));
    // Deficit 2: 1000, the fund is at its floor. Losses 700 + 1000 = 1700, 1500 above the
    // attachment, 1000 of it new; but the limit leaves 1000 − 0 paid − 500 claimed = 500.
    let events = crash(&mut engine, 101, "10", "15000", "1400", "1000");
    assert_eq!(paid(&events), vec![layer("socialize", "500")]);
    assert_eq!(claims_opened(&events), vec![(2, amount("500"), amount("1700"))]);
    // Deficit 3: the limit is used up: no claim, everything socialised; the loss still counts.
    let events = crash(&mut engine, 102, "10", "15000", "1400", "1000");
    assert_eq!(paid(&events), vec![layer("socialize", "1000")]);
    assert!(claims_opened(&events).is_empty());
    assert_eq!(engine.state().net.covers[0].losses_reached, amount("2700"));
    assert_eq!(pending(&engine), amount("1000"));
    let external_before = external(&engine, USDC);
    run(
        &mut engine,
        &[
            (settle(9, "1"), Code(63)),
            (settle(1, "500.000001"), Code(64)),
            (settle(1, "-1"), Code(64)),
            // USDC has 6 decimals.
            (settle(2, "0.0000001"), Code(7)),
            // Claim 1 paid in full by the guarantor, from outside.
            (
                settle(1, "500"),
                Events(vec![claim_settled(1, "500", "0"), layer_paid("cover:nexus", "500", "0")]),
            ),
            (settle(1, "500"), Code(63)),
        ],
    );
    // Claim 2: the guarantor pays 300; 200 returns (the deficit the cover leaves) and the walk
    // resumes after the cover.
    let events = step(&mut engine, &settle(2, "300")).unwrap();
    assert_eq!(
        events[..2],
        [claim_settled(2, "300", "200"), layer_paid("cover:nexus", "300", "200")]
    );
    assert_eq!(paid(&events), vec![layer("cover:nexus", "300"), layer("socialize", "200")]);
    assert_eq!(engine.state().net.covers[0].paid, amount("800"));
    assert_eq!((pending(&engine), deficit(&engine)), (Amount::ZERO, Amount::ZERO));
    assert_eq!(external(&engine, USDC), external_before.checked_add(amount("800")).unwrap());
    // Deficit 4: capacity 1000 − 800 = 200 → claim 3 = 200; 800 socialised. The guarantor denies
    // it (pays 0): the 200 returns and is socialised too.
    let events = crash(&mut engine, 103, "10", "15000", "1400", "1000");
    assert_eq!(claims_opened(&events), vec![(3, amount("200"), amount("3700"))]);
    assert_eq!(paid(&events), vec![layer("socialize", "800")]);
    let events = step(&mut engine, &settle(3, "0")).unwrap();
    assert_eq!(events[0], claim_settled(3, "0", "200"));
    assert_eq!(paid(&events), vec![layer("socialize", "200")]);
    // Every loss is paid once: 300 + 2900 + 800 = 4 × 1000.
    let payments = &engine.state().net.payments[&MARKET];
    let by_layer: Vec<(String, Amount)> =
        payments.iter().map(|payment| (payment.layer.clone(), payment.paid)).collect();
    assert_eq!(
        by_layer,
        vec![
            layer("fund:insurance", "300"),
            layer("socialize", "2900"),
            layer("cover:nexus", "800"),
        ]
    );
    assert!(engine.state().net.claims.is_empty());
}

#[test]
fn losses_before_the_term_or_walked_again_reach_the_cover_once() {
    // No socialisation: uncovered deficit stays and is walked again with every new deficit.
    let mut engine = funded(&venue(COVER, "", "\"fund:insurance\", \"cover:nexus\""));
    run(&mut engine, &[(donate("fund:insurance", "400"), Ok)]);
    // Deficit 1 before any cover: the fund pays 300, the cover (never bought) nothing.
    let events = crash(&mut engine, 100, "10", "15000", "1400", "1000");
    assert_eq!(paid(&events), vec![layer("fund:insurance", "300")]);
    assert!(claims_opened(&events).is_empty());
    assert_eq!(deficit(&engine), amount("700"));
    // The premium needs 3 above the floor.
    run(
        &mut engine,
        &[
            (buy("nexus", "insurance", MONTH), Code(62)),
            (donate("fund:insurance", "3"), Ok),
            (buy("nexus", "insurance", MONTH), Ok),
        ],
    );
    // Deficit 2: 1700 reaches the cover but only the 1000 recognised in the term is a new loss:
    // losses 1000, 800 above the attachment → claim 1 = 800; 900 stays uncovered.
    let events = crash(&mut engine, 101, "10", "15000", "1400", "1000");
    assert_eq!(claims_opened(&events), vec![(1, amount("800"), amount("1000"))]);
    assert_eq!(deficit(&engine), amount("900"));
    // Deficit 3: 15,000 − 10 × 1490 = 100. 1000 reaches the cover, of which 100 is new: losses
    // 1100 → 100 more above the attachment, within the 1000 − 800 left → claim 2 = 100.
    let events = crash(&mut engine, 102, "10", "15000", "1490", "100");
    assert_eq!(claims_opened(&events), vec![(2, amount("100"), amount("1100"))]);
    assert_eq!(deficit(&engine), amount("900"));
    // Past the term the cover claims nothing, and the loss is not counted.
    run(&mut engine, &[(advance(2_592_000), Ok)]);
    let events = crash(&mut engine, 103, "10", "15000", "1400", "1000");
    assert!(claims_opened(&events).is_empty());
    assert_eq!(deficit(&engine), amount("1900"));
    assert_eq!(engine.state().net.covers[0].losses_reached, amount("1100"));
    // A new term cannot start while claims of the last one are open (60); those claims are
    // still honoured after the term.
    run(
        &mut engine,
        &[
            (donate("fund:insurance", "3"), Ok),
            (buy("nexus", "insurance", MONTH), Code(60)),
            (
                settle(1, "800"),
                Events(vec![
                    claim_settled(1, "800", "0"),
                    layer_paid("cover:nexus", "800", "1900"),
                ]),
            ),
            (settle(2, "100"), Ok),
            (buy("nexus", "insurance", MONTH), Ok),
        ],
    );
    // The new term starts afresh and does not cover the 1900 recognised before it.
    let cover = &engine.state().net.covers[0];
    assert_eq!((cover.losses_reached, cover.paid), (Amount::ZERO, Amount::ZERO));
    let events = crash(&mut engine, 104, "10", "15000", "1490", "100");
    assert!(claims_opened(&events).is_empty());
    assert_eq!(engine.state().net.covers[0].losses_reached, amount("100"));
}

/// Euler, March 2023 (incidents.md I-7): an exploit leaves a deficit; the fund pays, the cover
/// (Nexus paid 2,389,227.88 on Euler claims) pays the rest; the exploiter returns the funds and
/// the recovery claws back the cover first (Nexus sought about 2 M back), then the fund.
#[test]
fn euler_recovery_claws_back_the_cover_before_the_fund() {
    let cover = "limit = \"2500000\"\nattachment = \"0\"\npremium_rate = \"0.026\"";
    let mut engine =
        funded(&venue(cover, "", "\"fund:insurance\", \"cover:nexus\", \"socialize\""));
    // A year of cover: 2,500,000 × 0.026 = 65,000; the fund keeps 1,000,100.
    run(
        &mut engine,
        &[(donate("fund:insurance", "1065100"), Ok), (buy("nexus", "insurance", 31_536_000), Ok)],
    );
    assert_eq!(engine.state().net.funds[0].balance, amount("1000100"));
    // Deficit: 31,389,227.88 − 20,000 × 1400 = 3,389,227.88. The fund pays 1,000,000 (floor
    // 100), the cover is claimed for 2,389,227.88; nothing is left to socialise.
    let events = crash(&mut engine, 100, "20000", "31389227.88", "1400", "3389227.88");
    assert_eq!(paid(&events), vec![layer("fund:insurance", "1000000")]);
    assert_eq!(claims_opened(&events), vec![(1, amount("2389227.88"), amount("2389227.88"))]);
    run(&mut engine, &[(settle(1, "2389227.88"), Ok)]);
    // USDC in from outside: 220,000,010 − 31,389,227.88 withdrawn − 65,000 premium +
    // 2,389,227.88 from the guarantor = 190,935,010.
    assert_eq!(external(&engine, USDC), amount("190935010"));
    let returned = |events: &[Event]| -> Vec<(String, Amount)> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::RecoveryReturned { layer, amount, .. } => Some((layer.clone(), *amount)),
                _ => None,
            })
            .collect()
    };
    // 2,000,000 comes back: all of it to the cover, the last layer that paid; it leaves the
    // venue again to the guarantor.
    let events =
        step(&mut engine, &Command::Recover { market: MARKET, amount: amount("2000000") }).unwrap();
    assert_eq!(returned(&events), vec![layer("cover:nexus", "2000000")]);
    assert_eq!(engine.state().net.covers[0].paid, amount("389227.88"));
    assert_eq!(external(&engine, USDC), amount("190935010"));
    // The rest, 1,389,227.88: 389,227.88 to the cover, then 1,000,000 to the fund.
    let events =
        step(&mut engine, &Command::Recover { market: MARKET, amount: amount("1389227.88") })
            .unwrap();
    assert_eq!(
        returned(&events),
        vec![layer("cover:nexus", "389227.88"), layer("fund:insurance", "1000000")]
    );
    assert_eq!(engine.state().net.covers[0].paid, Amount::ZERO);
    assert_eq!(engine.state().net.funds[0].balance, amount("1000100"));
    // Only the fund's 1,000,000 stayed in the venue: 190,935,010 + 1,000,000.
    assert_eq!(external(&engine, USDC), amount("191935010"));
    // Suppliers were never cut and the market holds its 100 M again.
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(market.cash, amount("100000000"));
    assert_eq!(market.supply_index, backstop_money::Ratio::ONE);
}

// ----- recapitalisation -----

#[test]
fn maker_flop_250_mkr_for_50000_dai_and_20_percent_more_after_three_days() {
    let mut engine = funded(&venue(COVER, FLOP, "\"fund:insurance\", \"recap\""));
    // Deficit 1,520,000 − 1000 × 1400 = 120,000; the fund is empty. Auctions of the fixed bid
    // 50,000 for 250 GOV, and the remainder 20,000 for 250 × 20,000 / 50,000 = 100 GOV.
    let events = crash(&mut engine, 100, "1000", "1520000", "1400", "120000");
    assert_eq!(
        auctions_opened(&events),
        vec![
            opened(1, "50000", "250", true),
            opened(2, "50000", "250", true),
            opened(3, "20000", "100", true),
        ]
    );
    assert_eq!((pending(&engine), deficit(&engine)), (amount("120000"), Amount::ZERO));
    run(
        &mut engine,
        &[
            (bid(BIDDER, 9, "250"), Code(65)),
            (bid(77, 1, "250"), Code(1)),
            (bid(BIDDER, 1, "0"), Code(6)),
            // GOV has 8 decimals.
            (bid(BIDDER, 1, "249.999999999"), Code(7)),
            (bid(BIDDER, 1, "250.00000001"), Code(67)),
            // Account 6 holds 10 USDC, not 50,000.
            (bid(POOR, 1, "250"), Code(8)),
            (restart(2), Code(68)),
            (restart(9), Code(65)),
            (
                bid(BIDDER, 1, "250"),
                Events(vec![
                    Event::RecapFilled {
                        auction: 1,
                        account: AccountId(BIDDER),
                        market: MARKET,
                        bid: amount("50000"),
                        lot: amount("250"),
                    },
                    layer_paid("recap", "50000", "0"),
                ]),
            ),
            (bid(BIDDER, 1, "250"), Code(65)),
            // A bidder may ask fewer tokens than offered: 90 of the 100.
            (bid(BIDDER, 3, "90"), Ok),
            (advance(THREE_DAYS - 1), Ok),
            (restart(2), Code(68)),
            // After 3 days without a bid: 250 × 1.2 = 300 (the 2020 re-kick).
            (advance(THREE_DAYS), Ok),
            (
                restart(2),
                Events(vec![Event::RecapRestarted {
                    auction: 2,
                    lot_before: amount("250"),
                    lot_after: amount("300"),
                }]),
            ),
            (restart(2), Code(68)),
            (advance(2 * THREE_DAYS), Ok),
            (
                restart(2),
                Events(vec![Event::RecapRestarted {
                    auction: 2,
                    lot_before: amount("300"),
                    lot_after: amount("360"),
                }]),
            ),
            (bid(BIDDER, 2, "360.00000001"), Code(67)),
            (bid(BIDDER, 2, "360"), Ok),
        ],
    );
    // Minted 250 + 90 + 360 = 700 GOV, all to the bidder, who paid 120,000 USDC.
    assert_eq!(engine.state().net.minted[GOV.index()], amount("700"));
    assert_eq!(balance(&engine, BIDDER, GOV), amount("700"));
    assert_eq!(balance(&engine, BIDDER, USDC), amount("9880000"));
    assert_eq!(pending(&engine), Amount::ZERO);
    assert!(engine.state().net.recap_auctions.is_empty());
    // The market is whole: 100 M − 1,520,000 + 1,400,000 + 120,000.
    assert_eq!(engine.state().lending[0].as_ref().unwrap().cash, amount("100000000"));
    // A recovery cannot un-mint: the recap's share goes to the venue's fees.
    let events =
        step(&mut engine, &Command::Recover { market: MARKET, amount: amount("1000") }).unwrap();
    assert!(events.contains(&Event::RecoveryReturned {
        market: MARKET,
        layer: "recap".to_owned(),
        amount: amount("1000"),
    }));
    assert_eq!(fees(&engine, USDC), amount("1000"));
}

#[test]
fn an_auction_needing_approval_takes_no_bid_until_governance_approves() {
    let recap = format!("{FLOP}\nrequires_approval = true");
    let mut engine = funded(&venue(COVER, &recap, "\"recap\""));
    // Deficit 15,000 − 10 × 1400 = 1000 → one partial auction: 250 × 1000 / 50,000 = 5 GOV.
    let events = crash(&mut engine, 100, "10", "15000", "1400", "1000");
    assert_eq!(auctions_opened(&events), vec![opened(1, "1000", "5", false)]);
    run(
        &mut engine,
        &[
            (bid(BIDDER, 1, "5"), Code(66)),
            (approve(9), Code(65)),
            (approve(1), Events(vec![Event::RecapApproved { auction: 1 }])),
            (approve(1), Code(66)),
            (bid(BIDDER, 1, "5"), Ok),
        ],
    );
    assert_eq!(balance(&engine, BIDDER, GOV), amount("5"));
}

#[test]
fn the_mint_cap_limits_the_auctions_opened_and_the_fills() {
    let recap = format!("{FLOP}\nperiod_secs = 86400\nperiod_mint_cap = \"500\"");
    let mut engine = funded(&venue(COVER, &recap, "\"fund:insurance\", \"recap\", \"socialize\""));
    // Deficit 1,550,000 − 1,400,000 = 150,000. Two auctions offer 500 GOV, the cap; a third
    // would not fit, so the last 50,000 goes on to be socialised.
    let events = crash(&mut engine, 100, "1000", "1550000", "1400", "150000");
    assert_eq!(
        auctions_opened(&events),
        vec![opened(1, "50000", "250", true), opened(2, "50000", "250", true)]
    );
    assert_eq!(paid(&events), vec![layer("socialize", "50000")]);
    run(
        &mut engine,
        &[
            (advance(THREE_DAYS), Ok),
            (restart(1), Ok),
            // Auction 1 now offers 300; minting 300 opens the period at t = 259,200.
            (bid(BIDDER, 1, "300"), Ok),
            // 300 + 250 > 500.
            (bid(BIDDER, 2, "250"), Code(69)),
            // One day later a new period starts.
            (advance(THREE_DAYS + 86_400), Ok),
            (bid(BIDDER, 2, "250"), Ok),
        ],
    );
    assert_eq!(engine.state().net.recap_period, (345_600, amount("250")));
    // The next deficit: 250 minted this period leaves room for one more 250-lot auction only;
    // the other 100,000 is socialised.
    let events = crash(&mut engine, 101, "1000", "1550000", "1400", "150000");
    assert_eq!(auctions_opened(&events), vec![opened(3, "50000", "250", true)]);
    assert_eq!(paid(&events), vec![layer("socialize", "100000")]);
    // 250 + 250 fits the cap exactly.
    run(&mut engine, &[(bid(BIDDER, 3, "250"), Ok)]);
    assert_eq!(engine.state().net.minted[GOV.index()], amount("800"));
}

#[test]
fn a_fill_above_the_cap_is_refused_with_the_figures() {
    let recap = format!("{FLOP}\nperiod_secs = 86400\nperiod_mint_cap = \"500\"");
    let mut engine = funded(&venue(COVER, &recap, "\"recap\""));
    crash(&mut engine, 100, "1000", "1500000", "1400", "100000");
    run(&mut engine, &[(advance(THREE_DAYS), Ok), (restart(1), Ok), (restart(2), Ok)]);
    run(&mut engine, &[(bid(BIDDER, 1, "300"), Ok)]);
    assert_eq!(
        step(&mut engine, &bid(BIDDER, 2, "300")),
        Err(backstop_core::Rejection::RecapMintCapExceeded {
            auction: 2,
            minted: amount("300"),
            lot: amount("300"),
            cap: amount("500"),
        })
    );
    run(&mut engine, &[(bid(BIDDER, 2, "200"), Ok)]);
    assert_eq!(engine.state().net.recap_period, (THREE_DAYS, amount("500")));
}

#[test]
fn at_most_a_thousand_recap_auctions_run_and_the_rest_moves_on() {
    let recap = "[recap]\ntoken = \"GOV\"\nlot = \"1\"\nbid = \"10\"\nrestart_secs = 60";
    let mut engine = funded(&venue(COVER, recap, "\"recap\", \"socialize\""));
    // Deficit 15,000 − 10 × 499.5 = 10,005: 1000 auctions of 10 take 10,000; 5 is socialised.
    let events = crash(&mut engine, 100, "10", "15000", "499.5", "10005");
    assert_eq!(auctions_opened(&events).len(), 1000);
    assert_eq!(paid(&events), vec![layer("socialize", "5")]);
    assert_eq!(pending(&engine), amount("10000"));
    // Without the socialise layer the rest would wait in the deficit for the next walk.
    assert_eq!(engine.state().net.recap_auctions.len(), 1000);
}

// ----- end to end -----

/// fund → offset → stakers (capped) → cover → mint → socialise over one lending deficit.
/// The staker pool's slashing is built elsewhere: what it paid is read from the events and the
/// later layers are computed from it.
#[test]
fn a_deficit_walks_fund_offset_stakers_cover_mint_then_suppliers() {
    let cover = "limit = \"5000\"\nattachment = \"1000\"";
    let recap = "[recap]\ntoken = \"GOV\"\nlot = \"100\"\nbid = \"2000\"\nrestart_secs = 259200\n\
                 period_secs = 86400\nperiod_mint_cap = \"250\"";
    let layers = "\"fund:insurance\", \"offset:treasury\", \"stakers:pool\", \"cover:nexus\", \
                  \"recap\", \"socialize\"";
    let mut engine = funded(&venue(cover, recap, layers));
    run(
        &mut engine,
        &[
            (donate("fund:insurance", "400"), Ok),
            (donate("offset:treasury", "300"), Ok),
            (donate("stakers:pool", "1000"), Ok),
            // Premium rate 0: the cover is free.
            (buy("nexus", "insurance", MONTH), Ok),
        ],
    );
    // Deficit 15,000 − 10 × 300 = 12,000.
    let events = crash(&mut engine, 100, "10", "15000", "300", "12000");
    let layers = paid(&events);
    assert_eq!(layers[..2], [layer("fund:insurance", "300"), layer("offset:treasury", "300")]);
    let stakers: Amount = layers
        .iter()
        .filter(|(name, _)| name == "stakers:pool")
        .fold(Amount::ZERO, |sum, (_, value)| sum.checked_add(*value).unwrap());
    // The pool holds 1000 and may lose at most 30% of it per slash.
    assert!(stakers >= Amount::ZERO && stakers <= amount("300"), "stakers paid {stakers}");
    // Reaching the cover: 12,000 − 600 − stakers; the cover takes the part above 1000, at most
    // its limit 5000 (reached here whatever the stakers paid).
    let reached = amount("11400").checked_sub(stakers).unwrap();
    assert_eq!(claims_opened(&events), vec![(1, amount("5000"), reached)]);
    // Mint: 2000 per auction for 100 GOV; the cap 250 allows two auctions.
    assert_eq!(
        auctions_opened(&events),
        vec![opened(2, "2000", "100", true), opened(3, "2000", "100", true)]
    );
    // Socialised: reached − 5000 − 4000 = 2400 − stakers.
    let socialized = reached.checked_sub(amount("9000")).unwrap();
    assert_eq!(layers.last().unwrap(), &("socialize".to_owned(), socialized));
    assert_eq!(pending(&engine), amount("9000"));
    run(
        &mut engine,
        &[
            (
                settle(1, "5000"),
                Events(vec![claim_settled(1, "5000", "0"), layer_paid("cover:nexus", "5000", "0")]),
            ),
            (bid(BIDDER, 2, "100"), Ok),
            (bid(BIDDER, 3, "100"), Ok),
        ],
    );
    // Exact totals: every layer's payments add up to the deficit, nothing pending or uncovered.
    let payments = &engine.state().net.payments[&MARKET];
    let total =
        payments.iter().fold(Amount::ZERO, |sum, payment| sum.checked_add(payment.paid).unwrap());
    assert_eq!(total, amount("12000"));
    let of = |name: &str| {
        payments.iter().find(|payment| payment.layer == name).map_or(Amount::ZERO, |p| p.paid)
    };
    assert_eq!(
        (of("fund:insurance"), of("offset:treasury"), of("cover:nexus"), of("recap")),
        (amount("300"), amount("300"), amount("5000"), amount("4000"))
    );
    assert_eq!((of("stakers:pool"), of("socialize")), (stakers, socialized));
    assert_eq!((pending(&engine), deficit(&engine)), (Amount::ZERO, Amount::ZERO));
    assert_eq!(engine.state().net.minted[GOV.index()], amount("200"));
    assert_eq!(balance(&engine, BIDDER, USDC), amount("9996000"));
}

// ----- the Maker example venue -----

#[test]
fn the_maker_example_ends_a_crash_with_a_filled_recap_auction() {
    const DAI: AssetId = AssetId(0);
    const WETH: AssetId = AssetId(1);
    const MKR: AssetId = AssetId(2);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/maker.toml");
    let mut engine = engine(&std::fs::read_to_string(path).unwrap());
    assert_eq!(engine.config().recap.as_ref().unwrap().lot, amount("250"));
    run(
        &mut engine,
        &[
            (set_price(DAI, "1"), Ok),
            (set_price(WETH, "2000"), Ok),
            (open(LENDER), Ok),
            (open(2), Ok),
            (open(KEEPER), Ok),
            (open(TREASURY), Ok),
            (open(BIDDER), Ok),
            (deposit(LENDER, DAI, "10000000"), Ok),
            (supply(LENDER, DAI, "10000000"), Ok),
            (deposit(KEEPER, DAI, "2000000"), Ok),
            (deposit(BIDDER, DAI, "100000"), Ok),
            (deposit(TREASURY, DAI, "40000"), Ok),
            (
                Command::Donate {
                    account: AccountId(TREASURY),
                    layer: "fund:surplus".to_owned(),
                    amount: amount("40000"),
                },
                Ok,
            ),
            // A vault: 1000 ETH (2 M) against 1,300,000 DAI (initial 2 M × 0.66 = 1.32 M).
            (deposit(2, WETH, "1000"), Ok),
            (borrow(2, DAI, "1300000"), Ok),
            (withdraw(2, DAI, "1300000"), Ok),
            // ETH 1800: 1000 × 1800 × 0.69 = 1,242,000 < 1,300,000. The auction: tab 1,300,000
            // × 1.13 = 1,469,000, top 1800 × 1.10 = 1980.
            (set_price(WETH, "1800"), Ok),
            (liquidate_debt(KEEPER, 2, DAI, WETH, "1"), Ok),
            // No keeper bids while ETH crashes to 1000; after the tail the auction restarts
            // at 1100 and the keeper buys the whole lot for 1,100,000.
            (advance(7201), Ok),
            (set_price(DAI, "1"), Ok),
            (set_price(WETH, "1000"), Ok),
            (reset(1), Ok),
        ],
    );
    // Unraised debt 1,300,000 − 1,100,000 = 200,000: the surplus buffer pays its 40,000, and
    // debt auctions mint for the 160,000 left: three of 50,000 for 250 MKR, one of 10,000 for
    // 250 × 10,000 / 50,000 = 50 MKR.
    let events = step(&mut engine, &take(KEEPER, 1, "1000", "1100")).unwrap();
    assert_eq!(paid(&events), vec![("fund:surplus".to_owned(), amount("40000"))]);
    let dai_market = MarketRef::Lending(DAI);
    let opened: Vec<(u64, Amount, Amount)> = events
        .iter()
        .filter_map(|event| match event {
            Event::RecapAuctionOpened { auction, market, bid, lot, .. }
                if *market == dai_market =>
            {
                Some((*auction, *bid, *lot))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        opened,
        vec![
            (1, amount("50000"), amount("250")),
            (2, amount("50000"), amount("250")),
            (3, amount("50000"), amount("250")),
            (4, amount("10000"), amount("50")),
        ]
    );
    // A bidder pays 50,000 DAI for 250 newly minted MKR (200 DAI/MKR, as in March 2020).
    run(&mut engine, &[(bid(BIDDER, 1, "250"), Ok)]);
    assert_eq!(balance(&engine, BIDDER, MKR), amount("250"));
    assert_eq!(balance(&engine, BIDDER, DAI), amount("50000"));
    assert_eq!(engine.state().net.minted[MKR.index()], amount("250"));
    assert_eq!(engine.state().net.pending[&dai_market], amount("110000"));
}

// ----- scripts -----

#[test]
fn script_commands_parse_with_their_keys() {
    let config = backstop_core::VenueConfig::from_toml_str(&venue(
        COVER,
        FLOP,
        "\"fund:insurance\", \"cover:nexus\", \"recap\"",
    ))
    .unwrap();
    let script = "buy_cover cover=nexus fund=insurance term_secs=2592000\n\
                  settle_cover_claim claim=1 amount=250.5\n\
                  approve_recap auction=2\n\
                  bid_recap account=5 auction=2 lot=250\n\
                  restart_recap auction=2\n";
    let lines = backstop_core::script::parse_script(script, &config).unwrap();
    let commands: Vec<Command> = lines.into_iter().map(|line| line.command).collect();
    assert_eq!(
        commands,
        vec![
            buy("nexus", "insurance", MONTH),
            settle(1, "250.5"),
            approve(2),
            bid(BIDDER, 2, "250"),
            restart(2),
        ]
    );
    let errors = backstop_core::script::parse_script(
        "buy_cover cover=lloyds fund=insurance term_secs=1\nbid_recap account=5 auction=x lot=1",
        &config,
    )
    .unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            "line 1: cover: unknown cover \"lloyds\"; known: nexus".to_owned(),
            "line 2: auction: expected a whole number, found \"x\"".to_owned(),
        ]
    );
}

// ----- a perpetual market -----

/// A bankrupt long leaves 100 USDC of deficit in ETH-PERP (as in scenario_perps.rs: 5 ETH long
/// at 2000 on 1000 USDC, taken over at 1780: −10,000 + 8900 + 1000 = −100). The cover claims it
/// all (attachment 0), the guarantor pays 60; the 40 left goes on to a recap auction of
/// 10 × 40 / 1000 = 0.4 GOV, which a bidder fills.
#[test]
fn a_perp_deficit_walks_cover_then_recap() {
    let toml = r#"
[[asset]]
symbol = "USDC"
decimals = 6
[[asset]]
symbol = "ETH"
decimals = 18
[[asset]]
symbol = "GOV"
decimals = 18

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "20"
price_band = "0.05"

[[fund]]
name = "insurance"
asset = "USDC"

[[cover]]
name = "nexus"
asset = "USDC"
limit = "1000"

[recap]
token = "GOV"
lot = "10"
bid = "1000"
restart_secs = 60

[[waterfall]]
market = "ETH-PERP"
layers = ["cover:nexus", "recap"]
"#;
    let perp = MarketRef::Perp(backstop_core::PerpMarketId(0));
    let mut engine = engine(toml);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (open(1), Ok),
            (open(2), Ok),
            (open(4), Ok),
            (open(BIDDER), Ok),
            (deposit(1, USDC, "1000"), Ok),
            (deposit(2, USDC, "100000"), Ok),
            (deposit(4, USDC, "1000"), Ok),
            (deposit(BIDDER, USDC, "100"), Ok),
            (buy("nexus", "insurance", MONTH), Ok),
            (trade(0, 1, 2, "5", "2000"), Ok),
            (set_price(ETH, "1780"), Ok),
        ],
    );
    let events = step(&mut engine, &liquidate_position(4, 1, 0, "5")).unwrap();
    assert_eq!(claims_opened(&events), vec![(1, amount("100"), amount("100"))]);
    assert_eq!(engine.state().perps[0].deficit, Amount::ZERO);
    assert_eq!(engine.state().net.pending[&perp], amount("100"));
    // The guarantor pays 60 from outside; the other 40 goes to the recap layer.
    let events = step(&mut engine, &settle(1, "60")).unwrap();
    assert_eq!(paid(&events), vec![("cover:nexus".to_owned(), amount("60"))]);
    assert_eq!(auctions_opened(&events), vec![opened(2, "40", "0.4", true)]);
    assert_eq!(external(&engine, USDC), amount("102160"));
    run(&mut engine, &[(bid(BIDDER, 2, "0.4"), Ok)]);
    assert_eq!(balance(&engine, BIDDER, USDC), amount("60"));
    assert_eq!(balance(&engine, BIDDER, GOV), amount("0.4"));
    assert!(engine.state().net.pending.is_empty());
    let payments: Vec<(String, Amount)> = engine.state().net.payments[&perp]
        .iter()
        .map(|payment| (payment.layer.clone(), payment.paid))
        .collect();
    assert_eq!(payments, vec![layer("cover:nexus", "60"), layer("recap", "40")]);
}
