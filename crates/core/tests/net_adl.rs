//! Auto-deleveraging (backstop::adl) with hand-computed numbers: each policy on a small book,
//! the layers before ADL paying first, a Drift-style waterfall without ADL, rejections, atomicity
//! and the two example venues. Every step runs through `step()`, which audits the engine
//! (conservation I1, two-sided perpetuals I4, deficits covered once I8, …) and checks that a
//! rejection leaves the state hash unchanged.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::backstop::layers::AdlPolicy;
use backstop_core::{AccountId, AssetId, Command, Engine, Event, LiquidationTarget, MarketRef};
use backstop_core::{PerpMarketId, VenueConfig};
use backstop_money::{Amount, Price};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const BTC: AssetId = AssetId(2);
const ETH_PERP: u16 = 0;
const BTC_PERP: u16 = 1;

/// USDC-settled ETH and BTC perpetuals, no lending markets (USDC counts at par), no trading fee
/// on ETH-PERP and 1% on BTC-PERP (used to put fees in the fee pool), a USDC insurance fund for
/// ETH-PERP, and the ETH-PERP waterfall given.
fn venue(layers: &str, fund_extra: &str) -> Engine {
    engine(&format!(
        r#"
[[asset]]
symbol = "USDC"
decimals = 6
[[asset]]
symbol = "ETH"
decimals = 18
[[asset]]
symbol = "BTC"
decimals = 18
[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "1000"
price_band = "0.5"
[[perp]]
name = "BTC-PERP"
underlying = "BTC"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "1000"
trading_fee = "0.01"
[[fund]]
name = "insurance"
asset = "USDC"
markets = ["ETH-PERP"]
{fund_extra}
[[waterfall]]
market = "ETH-PERP"
layers = [{layers}]
"#
    ))
}

fn ok(engine: &mut Engine, command: Command) -> Vec<Event> {
    step(engine, &command).unwrap_or_else(|rejection| panic!("{command:?}: {rejection}"))
}

fn code(engine: &mut Engine, command: Command) -> u16 {
    step(engine, &command).expect_err("expected a rejection").code()
}

fn donate(account: u64, layer: &str, value: &str) -> Command {
    Command::Donate { account: AccountId(account), layer: layer.to_owned(), amount: amount(value) }
}

fn liquidate_seeded(keeper: u64, account: u64, market: u16, value: &str, seed: u64) -> Command {
    Command::Liquidate {
        keeper: AccountId(keeper),
        account: AccountId(account),
        target: LiquidationTarget::Position { market: PerpMarketId(market) },
        amount: amount(value),
        seed,
    }
}

// Accounts of the main book.
const S1: u64 = 1;
const S2: u64 = 2;
const S3: u64 = 3;
const S4: u64 = 4;
const L: u64 = 5;
const DONOR: u64 = 6;
const KEEPER: u64 = 7;
const B: u64 = 9;

/// The main book, built through a price path 800 → 1000 → 1250 → 900 on ETH-PERP (trades at the
/// oracle price, no fee):
///
/// | account | position | quote | collateral | profit at 900 | equity | PnL% | leverage | rank score |
/// | --- | --- | --- | --- | --- | --- | --- | --- | --- |
/// | S1 | short 2 @ 1000 | +2000 | 600 | +200 | 800 | 0.10 | 1800/800 = 2.25 | 0.225 |
/// | S2 | short 2 @ 1000 | +2000 | 1600 | +200 | 1800 | 0.10 | 1 | 0.10 |
/// | S3 | short 4 @ 1250 | +5000 | 800 | +1400 | 2200 | 0.28 | 3600/2200 | 0.458 |
/// | S4 | short 2 @ 800 | +1600 | 1200 | −200 | 1000 | −0.125 | 1.8 | −0.125/1.8 = −0.069 |
/// | L | long 4 | −3600 | 10000 | 0 | 10000 | | | |
/// | B | long 6 | −7000 | 1000 | −1600 | **−600** | | | |
///
/// B is bankrupt: shortfall S = 600. B's margin checks: at 1000 it buys 2 (requirement 200 ≤
/// 1000); at 1250 its long is worth +500 and it buys 4 more (requirement 750 ≤ 1500, leverage
/// 7500 ≤ 15000). Ranking order: S3, S1, S2, S4.
fn book(layers: &str, fund_extra: &str) -> Engine {
    book_with(layers, fund_extra, "1000")
}

/// The main book with B holding `b_collateral` instead of 1000 (equity `b_collateral` − 1600).
fn book_with(layers: &str, fund_extra: &str, b_collateral: &str) -> Engine {
    let mut engine = venue(layers, fund_extra);
    for command in [
        set_price(USDC, "1"),
        set_price(ETH, "800"),
        set_price(BTC, "6000"),
        open(S1),
        open(S2),
        open(S3),
        open(S4),
        open(L),
        open(DONOR),
        open(KEEPER),
        open(B),
        deposit(S1, USDC, "600"),
        deposit(S2, USDC, "1600"),
        deposit(S3, USDC, "800"),
        deposit(S4, USDC, "1200"),
        deposit(L, USDC, "10000"),
        deposit(DONOR, USDC, "10000"),
        deposit(KEEPER, USDC, "10000"),
        deposit(B, USDC, b_collateral),
        trade(ETH_PERP, S4, L, "-2", "800"),
        set_price(ETH, "1000"),
        trade(ETH_PERP, S1, L, "-2", "1000"),
        trade(ETH_PERP, S2, B, "-2", "1000"),
        set_price(ETH, "1250"),
        trade(ETH_PERP, S3, B, "-4", "1250"),
        set_price(ETH, "900"),
    ] {
        ok(&mut engine, command);
    }
    engine
}

fn fills(events: &[Event]) -> Vec<(u64, Amount, Price, Amount)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::AdlFill { counterparty, size, price, haircut, .. } => {
                Some((counterparty.0, *size, *price, *haircut))
            }
            _ => None,
        })
        .collect()
}

fn layers_paid(events: &[Event]) -> Vec<(String, Amount)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect()
}

fn largest_haircut(events: &[Event]) -> Amount {
    fills(events).into_iter().map(|(_, _, _, haircut)| haircut).max().unwrap()
}

fn fill(account: u64, size: &str, fill_price: &str, haircut: &str) -> (u64, Amount, Price, Amount) {
    (account, amount(size), price(fill_price), amount(haircut))
}

/// What B's bankruptcy leaves in every case the shortfall is fully covered: B flat, its 1,000 of
/// collateral used up exactly (quote −7000 + 6000 received = −1000), no deficit, no fees.
fn assert_b_resolved(engine: &Engine) {
    assert_eq!(position(engine, B, ETH_PERP), (Amount::ZERO, Amount::ZERO));
    assert_eq!(balance(engine, B, USDC), Amount::ZERO);
    assert_eq!(engine.state().perps[0].deficit, Amount::ZERO);
    assert_eq!(engine.state().perps[0].open_interest, amount("4"), "only L's long 4 is left");
}

#[test]
fn rank_closes_the_best_ranked_shorts_at_the_bankruptcy_price() {
    let mut engine = book(r#""adl:rank", "socialize""#, "");
    assert_eq!(engine.health(AccountId(B)).unwrap().equity().unwrap(), amount("-600"));
    // p_b = 900 + 600 / 6 = 1000. S3 (rank 1) gives up its 4 at 1000: quote 4 × 1000 = 4000 moves
    // to B against 3600 at the mark, haircut 400; S1 (rank 2) the last 2: 2000 against 1800,
    // haircut 200. 400 + 200 = 600 = S exactly; no dust.
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    let expected = vec![
        Event::AdlFill {
            market: PerpMarketId(0),
            account: AccountId(B),
            counterparty: AccountId(S3),
            size: amount("4"),
            price: price("1000"),
            haircut: amount("400"),
        },
        Event::AdlFill {
            market: PerpMarketId(0),
            account: AccountId(B),
            counterparty: AccountId(S1),
            size: amount("2"),
            price: price("1000"),
            haircut: amount("200"),
        },
        Event::LayerPaid {
            market: MarketRef::Perp(PerpMarketId(0)),
            layer: "adl:rank".to_owned(),
            amount: amount("600"),
            remaining: Amount::ZERO,
        },
        Event::Deleveraged {
            market: PerpMarketId(0),
            account: AccountId(B),
            policy: AdlPolicy::Rank,
            size: amount("6"),
            shortfall: amount("600"),
            layers_paid: Amount::ZERO,
            haircuts: amount("600"),
            dust: Amount::ZERO,
            bankruptcy_price: Some(price("1000")),
        },
        // B: −7000 + 6000 = −1000 settles against its 1000 of collateral.
        Event::PnlSettled {
            account: AccountId(B),
            market: PerpMarketId(0),
            amount: amount("-1000"),
            unsettled: Amount::ZERO,
        },
        // S3: 5000 − 4000 = 1000 (profit 1400 − haircut 400) settles into collateral. S1 closes
        // at quote 2000 − 2000 = 0: nothing to settle.
        Event::PnlSettled {
            account: AccountId(S3),
            market: PerpMarketId(0),
            amount: amount("1000"),
            unsettled: Amount::ZERO,
        },
    ];
    assert_eq!(events, expected);
    assert_b_resolved(&engine);
    assert_eq!(balance(&engine, S3, USDC), amount("1800"));
    assert_eq!(balance(&engine, S1, USDC), amount("600"));
    assert_eq!(position(&engine, S1, ETH_PERP), (Amount::ZERO, Amount::ZERO));
    assert_eq!(position(&engine, S2, ETH_PERP), (amount("-2"), amount("2000")));
    assert_eq!(position(&engine, S4, ETH_PERP), (amount("-2"), amount("1600")));
    // The keeper got nothing and took nothing over.
    assert_eq!(position(&engine, KEEPER, ETH_PERP), (Amount::ZERO, Amount::ZERO));
    assert_eq!(balance(&engine, KEEPER, USDC), amount("10000"));
    assert_eq!(fees(&engine, USDC), Amount::ZERO);
    // I8: the 600 is recognised and recorded as paid by the ADL layer.
    let market = MarketRef::Perp(PerpMarketId(0));
    assert_eq!(engine.state().net.recognized[&market], amount("600"));
    assert_eq!(engine.state().net.payments[&market][0].layer, "adl:rank");
    assert_eq!(engine.state().net.payments[&market][0].paid, amount("600"));
    assert_eq!(largest_haircut(&events), amount("400"));
}

#[test]
fn pro_rata_spreads_the_base_over_every_short_by_size() {
    let mut engine = book(r#""adl:pro_rata""#, "");
    // Shorts by id: 2, 2, 4, 2 of Σ 10; 6 is split by cumulative floors 6×2/10 = 1.2, 6×4/10 =
    // 2.4, 6×8/10 = 4.8, 6 → fills 1.2, 1.2, 2.4, 1.2 at p_b = 1000, haircut 100 per unit:
    // 120, 120, 240, 120 (Σ 600). S4, at a loss, is deleveraged too.
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert_eq!(
        fills(&events),
        vec![
            fill(S1, "1.2", "1000", "120"),
            fill(S2, "1.2", "1000", "120"),
            fill(S3, "2.4", "1000", "240"),
            fill(S4, "1.2", "1000", "120"),
        ]
    );
    assert_b_resolved(&engine);
    // Quotes: S1 2000 − 1200 = 800, S3 5000 − 2400 = 2600, S4 1600 − 1200 = 400.
    assert_eq!(position(&engine, S1, ETH_PERP), (amount("-0.8"), amount("800")));
    assert_eq!(position(&engine, S2, ETH_PERP), (amount("-0.8"), amount("800")));
    assert_eq!(position(&engine, S3, ETH_PERP), (amount("-1.6"), amount("2600")));
    assert_eq!(position(&engine, S4, ETH_PERP), (amount("-0.8"), amount("400")));
    assert_eq!(largest_haircut(&events), amount("240"));
}

#[test]
fn random_starts_at_the_seeded_index_and_wraps_around() {
    // Shorts by id [S1, S2, S3, S4]; seed 2 starts at S3 (4 at 1000, haircut 400), then S4 (2).
    let mut engine = book(r#""adl:random""#, "");
    let events = ok(&mut engine, liquidate_seeded(KEEPER, B, ETH_PERP, "6", 2));
    assert_eq!(fills(&events), vec![fill(S3, "4", "1000", "400"), fill(S4, "2", "1000", "200")]);
    assert_b_resolved(&engine);
    // Seed 7: 7 mod 4 = 3 starts at S4, then wraps to S1 and S2.
    let mut engine = book(r#""adl:random""#, "");
    let events = ok(&mut engine, liquidate_seeded(KEEPER, B, ETH_PERP, "6", 7));
    assert_eq!(
        fills(&events),
        vec![
            fill(S4, "2", "1000", "200"),
            fill(S1, "2", "1000", "200"),
            fill(S2, "2", "1000", "200"),
        ]
    );
    assert_b_resolved(&engine);
    // No seed (0) starts at S1: S1 2, S2 2, then 2 of S3's 4.
    let mut engine = book(r#""adl:random""#, "");
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert_eq!(
        fills(&events),
        vec![
            fill(S1, "2", "1000", "200"),
            fill(S2, "2", "1000", "200"),
            fill(S3, "2", "1000", "200"),
        ]
    );
    assert_eq!(position(&engine, S3, ETH_PERP), (amount("-2"), amount("3000")));
}

#[test]
fn min_shortfall_fills_at_the_mark_and_water_fills_the_haircuts() {
    let mut engine = book(r#""adl:min_shortfall", "socialize""#, "");
    // Profitable shorts: S1 (+200), S2 (+200), S3 (+1400), sizes 2, 2, 4 of Σ 8 ≥ 6. Fills by
    // cumulative floors: 6×2/8 = 1.5, 6×4/8 = 3, 6 → 1.5, 1.5, 3 at the mark 900.
    // Water-filling 600 over caps (200, 200, 1400): the even share 200 reaches S1's and S2's
    // caps, S3 takes the last 200 → haircuts 200, 200, 200 (largest 200).
    // Quote to B: S1 1.5 × 900 + 200 = 1550 (price 1550 / 1.5 = 1033.33…, rounded up),
    // S2 1550, S3 3 × 900 + 200 = 2900 (price 966.66…, rounded up); Σ 6000 = 5400 + 600.
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert_eq!(
        fills(&events),
        vec![
            fill(S1, "1.5", "1033.333333333333333334", "200"),
            fill(S2, "1.5", "1033.333333333333333334", "200"),
            fill(S3, "3", "966.666666666666666667", "200"),
        ]
    );
    let deleveraged = events.iter().find(|event| matches!(event, Event::Deleveraged { .. }));
    assert_eq!(
        deleveraged,
        Some(&Event::Deleveraged {
            market: PerpMarketId(0),
            account: AccountId(B),
            policy: AdlPolicy::MinShortfall,
            size: amount("6"),
            shortfall: amount("600"),
            layers_paid: Amount::ZERO,
            haircuts: amount("600"),
            dust: Amount::ZERO,
            bankruptcy_price: None,
        })
    );
    assert_b_resolved(&engine);
    // S1: quote 2000 − 1550 = 450, short 0.5: worth 450 − 450 = 0 at 900 (its whole profit).
    assert_eq!(position(&engine, S1, ETH_PERP), (amount("-0.5"), amount("450")));
    assert_eq!(position(&engine, S2, ETH_PERP), (amount("-0.5"), amount("450")));
    // S3: 5000 − 2900 = 2100, short 1: worth 1200 = 1400 − 200.
    assert_eq!(position(&engine, S3, ETH_PERP), (amount("-1"), amount("2100")));
    // S4 (at a loss) is untouched.
    assert_eq!(position(&engine, S4, ETH_PERP), (amount("-2"), amount("1600")));
    // No socialisation was needed.
    assert!(!events.iter().any(|event| matches!(event, Event::Socialized { .. })));
}

#[test]
fn min_shortfall_has_the_smallest_largest_haircut() {
    let largest = |layers: &str, seed: u64| {
        let mut engine = book(layers, "");
        largest_haircut(&ok(&mut engine, liquidate_seeded(KEEPER, B, ETH_PERP, "6", seed)))
    };
    let min_shortfall = largest(r#""adl:min_shortfall""#, 0);
    assert_eq!(min_shortfall, amount("200"));
    // rank 400 (S3), pro_rata 240 (S3), random from S3 400, random from S1 200.
    for (layers, seed, expected) in [
        (r#""adl:rank""#, 0, "400"),
        (r#""adl:pro_rata""#, 0, "240"),
        (r#""adl:random""#, 2, "400"),
        (r#""adl:random""#, 0, "200"),
    ] {
        let other = largest(layers, seed);
        assert_eq!(other, amount(expected), "{layers} seed {seed}");
        assert!(min_shortfall <= other, "{layers}: {min_shortfall} > {other}");
    }
}

#[test]
fn min_shortfall_caps_each_haircut_at_the_profit() {
    // B with 700 of collateral: equity 700 − 1600 = −900 (B's margin checks still pass: 200 ≤
    // 700 at 1000; 750 ≤ 1200 at 1250). Same fills 1.5, 1.5, 3 at 900. Water-filling 900 over
    // caps (200, 200, 1400): the even share 300 is above S1's cap → 200; the share of the rest
    // 700 / 2 = 350 is above S2's cap → 200; S3 takes the last 500. Quote to B: 1550, 1550,
    // 2700 + 500 = 3200 (price 1066.66…, rounded up).
    let mut engine = book_with(r#""adl:min_shortfall""#, "", "700");
    assert_eq!(engine.health(AccountId(B)).unwrap().equity().unwrap(), amount("-900"));
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert_eq!(
        fills(&events),
        vec![
            fill(S1, "1.5", "1033.333333333333333334", "200"),
            fill(S2, "1.5", "1033.333333333333333334", "200"),
            fill(S3, "3", "1066.666666666666666667", "500"),
        ]
    );
    assert_b_resolved(&engine);
    // S1 and S2 lose exactly their profit (worth 0 at 900), S3 keeps 1400 − 500 = 900.
    assert_eq!(position(&engine, S1, ETH_PERP), (amount("-0.5"), amount("450")));
    assert_eq!(position(&engine, S3, ETH_PERP), (amount("-1"), amount("1800")));
    // Pro rata spreads 150 per unit over all four shorts: its largest haircut (S3, 2.4 × 150 =
    // 360) is below min_shortfall's 500 — but only because it also charges S4, which has no
    // profit (−200) and loses 180 more. Among allocations that keep every haircut within the
    // counterparty's profit, 500 is the smallest possible largest haircut.
    let mut engine = book_with(r#""adl:pro_rata""#, "", "700");
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert_eq!(
        fills(&events),
        vec![
            fill(S1, "1.2", "1050", "180"),
            fill(S2, "1.2", "1050", "180"),
            fill(S3, "2.4", "1050", "360"),
            fill(S4, "1.2", "1050", "180"),
        ]
    );
    // Rank: S3's 4 at 1050 (haircut 600, within its profit) and S1's 2 (300 > its profit 200).
    let mut engine = book_with(r#""adl:rank""#, "", "700");
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert_eq!(fills(&events), vec![fill(S3, "4", "1050", "600"), fill(S1, "2", "1050", "300")]);
}

#[test]
fn fund_then_fee_pool_pay_first_and_adl_covers_only_the_rest() {
    let mut engine = book(r#""fund:insurance", "fees", "adl:rank", "socialize""#, "");
    // Fund 240 (donated); fee pool 60: a BTC-PERP trade of 1 at 6000 with a 1% taker fee.
    for command in [
        donate(DONOR, "fund:insurance", "240"),
        open(10),
        open(11),
        deposit(10, USDC, "1000"),
        deposit(11, USDC, "1000"),
        trade(BTC_PERP, 10, 11, "1", "6000"),
    ] {
        ok(&mut engine, command);
    }
    assert_eq!(fees(&engine, USDC), amount("60"));
    // S = 600: the fund pays 240, the fee pool 60; 300 remains → p_b = 900 + 300/6 = 950.
    // S3 gives up 4 at 950 (3800 against 3600: haircut 200), S1 2 (1900 against 1800: 100).
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert_eq!(
        layers_paid(&events),
        vec![
            ("fund:insurance".to_owned(), amount("240")),
            ("fees".to_owned(), amount("60")),
            ("adl:rank".to_owned(), amount("300")),
        ]
    );
    let remaining: Vec<Amount> = events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { remaining, .. } => Some(*remaining),
            _ => None,
        })
        .collect();
    assert_eq!(remaining, vec![amount("360"), amount("300"), Amount::ZERO]);
    assert_eq!(fills(&events), vec![fill(S3, "4", "950", "200"), fill(S1, "2", "950", "100")]);
    assert_b_resolved(&engine);
    assert_eq!(engine.state().net.funds[0].balance, Amount::ZERO);
    assert_eq!(fees(&engine, USDC), Amount::ZERO);
    // S3 keeps 5000 − 3800 = 1200 of quote (profit 1400 − 200); S1 2000 − 1900 = 100.
    assert_eq!(balance(&engine, S3, USDC), amount("2000"));
    assert_eq!(balance(&engine, S1, USDC), amount("700"));
    let market = MarketRef::Perp(PerpMarketId(0));
    assert_eq!(engine.state().net.recognized[&market], amount("600"));
    let paid: Vec<(String, Amount)> = engine.state().net.payments[&market]
        .iter()
        .map(|payment| (payment.layer.clone(), payment.paid))
        .collect();
    assert_eq!(
        paid,
        vec![
            ("fund:insurance".to_owned(), amount("240")),
            ("fees".to_owned(), amount("60")),
            ("adl:rank".to_owned(), amount("300")),
        ]
    );
    // A later recovery for the market goes back in reverse order: the ADL layer's part to the
    // venue's fees (the positions have closed), then the fee pool, then the fund.
    let events = ok(&mut engine, Command::Recover { market, amount: amount("400") });
    let returned: Vec<(String, Amount)> = events
        .iter()
        .filter_map(|event| match event {
            Event::RecoveryReturned { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        returned,
        vec![
            ("adl:rank".to_owned(), amount("300")),
            ("fees".to_owned(), amount("60")),
            ("fund:insurance".to_owned(), amount("40")),
        ]
    );
}

#[test]
fn when_the_layers_cover_the_whole_shortfall_the_keeper_takes_over_at_the_mark() {
    let mut engine = book(r#""fund:insurance", "adl:rank""#, "");
    ok(&mut engine, donate(DONOR, "fund:insurance", "1000"));
    // The fund pays all 600 into B's position: quote −7000 + 600 = −6400, equity 0. No ADL: the
    // keeper takes the 6 over at 900 with no fee (equity 0); B's −6400 + 5400 = −1000 settles
    // against its collateral. Bankruptcy price now 900 − 0/6 = 900.
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert_eq!(
        events,
        vec![
            Event::LayerPaid {
                market: MarketRef::Perp(PerpMarketId(0)),
                layer: "fund:insurance".to_owned(),
                amount: amount("600"),
                remaining: Amount::ZERO,
            },
            Event::PositionLiquidated {
                keeper: AccountId(KEEPER),
                account: AccountId(B),
                market: PerpMarketId(0),
                size: amount("6"),
                price: price("900"),
                fee: Amount::ZERO,
                protocol_fee: Amount::ZERO,
                bankruptcy_price: Some(price("900")),
            },
            Event::PnlSettled {
                account: AccountId(B),
                market: PerpMarketId(0),
                amount: amount("-1000"),
                unsettled: Amount::ZERO,
            },
        ]
    );
    assert_eq!(engine.state().net.funds[0].balance, amount("400"));
    assert_eq!(position(&engine, KEEPER, ETH_PERP), (amount("6"), amount("-5400")));
    assert_eq!(position(&engine, S3, ETH_PERP), (amount("-4"), amount("5000")));
    assert_eq!(engine.state().perps[0].deficit, Amount::ZERO);
}

#[test]
fn a_refusal_after_the_layers_paid_undoes_their_payment() {
    let mut engine = book(r#""fund:insurance", "adl:rank""#, "");
    ok(&mut engine, donate(DONOR, "fund:insurance", "1000"));
    // Keeper 8 has no collateral: after the fund pays, taking the long 6 over would leave it
    // below its initial margin (540) → rejection 32, and the fund's 600 must be back (step()
    // checks the state hash is unchanged).
    ok(&mut engine, open(8));
    assert_eq!(code(&mut engine, liquidate_position(8, B, ETH_PERP, "6")), 32);
    assert_eq!(engine.state().net.funds[0].balance, amount("1000"));
    assert!(engine.state().net.recognized.is_empty());
}

#[test]
fn a_solvent_liquidation_ignores_the_adl_layer() {
    // At 1250 (before the crash) S1 is liquidatable but solvent: equity 600 + 2000 − 2500 = 100
    // < requirement 2500 × 0.05 = 125. The keeper takes the short 2 over at 1250 (health factor
    // 0.8 ≤ 0.95: full close) and charges the 1% fee, 25 ≤ equity.
    let mut engine = venue(r#""adl:rank""#, "");
    for command in [
        set_price(USDC, "1"),
        set_price(ETH, "1000"),
        open(S1),
        open(L),
        open(KEEPER),
        deposit(S1, USDC, "600"),
        deposit(L, USDC, "10000"),
        deposit(KEEPER, USDC, "10000"),
        trade(ETH_PERP, S1, L, "-2", "1000"),
        set_price(ETH, "1250"),
    ] {
        ok(&mut engine, command);
    }
    let events = ok(&mut engine, liquidate_position(KEEPER, S1, ETH_PERP, "2"));
    assert!(matches!(
        events.first(),
        Some(Event::PositionLiquidated { fee, .. }) if *fee == amount("25")
    ));
    assert!(fills(&events).is_empty());
    // The keeper's short: 2 × 1250 = 2500 of quote plus its fee 25 (no protocol share).
    assert_eq!(position(&engine, KEEPER, ETH_PERP), (amount("-2"), amount("2525")));
}

#[test]
fn a_bankrupt_short_is_bought_back_from_the_longs_below_the_mark() {
    // At 1000 B sells 1 to A1 and 2 to A2 (B: short 3, quote +3000, collateral 300: requirement
    // 300 ≤ 300, leverage 3000 ≤ 3000). ETH rises to 1200: B is worth 300 + 3000 − 3600 = −300.
    // Longs at 1200: A1 profit 200, PnL% 0.2, equity 400, leverage 1200/400 = 3 → score 0.6;
    // A2 profit 400, PnL% 0.2, equity 1400, leverage 2400/1400 → 0.34. p_b = 1200 − 300/3 = 1100:
    // A1 sells 1 at 1100 (receives 1100 against 1200: haircut 100), A2 2 (2200 against 2400:
    // haircut 200).
    let mut engine = venue(r#""adl:rank""#, "");
    for command in [
        set_price(USDC, "1"),
        set_price(ETH, "1000"),
        open(1),
        open(2),
        open(KEEPER),
        open(B),
        deposit(1, USDC, "200"),
        deposit(2, USDC, "1000"),
        deposit(KEEPER, USDC, "1000"),
        deposit(B, USDC, "300"),
        trade(ETH_PERP, 1, B, "1", "1000"),
        trade(ETH_PERP, 2, B, "2", "1000"),
        set_price(ETH, "1200"),
    ] {
        ok(&mut engine, command);
    }
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "3"));
    let market = PerpMarketId(0);
    assert_eq!(
        events,
        vec![
            Event::AdlFill {
                market,
                account: AccountId(B),
                counterparty: AccountId(1),
                size: amount("-1"),
                price: price("1100"),
                haircut: amount("100"),
            },
            Event::AdlFill {
                market,
                account: AccountId(B),
                counterparty: AccountId(2),
                size: amount("-2"),
                price: price("1100"),
                haircut: amount("200"),
            },
            Event::LayerPaid {
                market: MarketRef::Perp(market),
                layer: "adl:rank".to_owned(),
                amount: amount("300"),
                remaining: Amount::ZERO,
            },
            Event::Deleveraged {
                market,
                account: AccountId(B),
                policy: AdlPolicy::Rank,
                size: amount("-3"),
                shortfall: amount("300"),
                layers_paid: Amount::ZERO,
                haircuts: amount("300"),
                dust: Amount::ZERO,
                bankruptcy_price: Some(price("1100")),
            },
            // B: 3000 − 3300 = −300 against its 300 of collateral.
            Event::PnlSettled {
                account: AccountId(B),
                market,
                amount: amount("-300"),
                unsettled: Amount::ZERO,
            },
            // A1: −1000 + 1100 = 100; A2: −2000 + 2200 = 200.
            Event::PnlSettled {
                account: AccountId(1),
                market,
                amount: amount("100"),
                unsettled: Amount::ZERO,
            },
            Event::PnlSettled {
                account: AccountId(2),
                market,
                amount: amount("200"),
                unsettled: Amount::ZERO,
            },
        ]
    );
    assert_eq!(balance(&engine, 1, USDC), amount("300"));
    assert_eq!(balance(&engine, 2, USDC), amount("1200"));
    assert_eq!(balance(&engine, B, USDC), Amount::ZERO);
    assert_eq!(engine.state().perps[0].open_interest, Amount::ZERO);
}

#[test]
fn bankruptcy_price_rounding_leaves_dust_for_the_fees() {
    // B buys 3 at 1100 with 400 of collateral (requirement 330); ETH falls to 900: B is worth
    // 400 − 3300 + 2700 = −200. 200/3 per unit rounded up → p_b = 900 + 66.666666666666666667;
    // the 3 closed at p_b are worth 2900.000000000000000001 against 2700 at the mark, so the
    // counterparty gives up 200.000000000000000001: 200 covers the shortfall and
    // 0.000000000000000001 of dust goes to the fees; B ends at exactly zero.
    let mut engine = venue(r#""adl:rank""#, "");
    for command in [
        set_price(USDC, "1"),
        set_price(ETH, "1100"),
        open(1),
        open(KEEPER),
        open(B),
        deposit(1, USDC, "10000"),
        deposit(KEEPER, USDC, "1000"),
        deposit(B, USDC, "400"),
        trade(ETH_PERP, B, 1, "3", "1100"),
        set_price(ETH, "900"),
    ] {
        ok(&mut engine, command);
    }
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "3"));
    assert_eq!(
        fills(&events),
        vec![fill(1, "3", "966.666666666666666667", "200.000000000000000001")]
    );
    assert!(events.iter().any(|event| matches!(
        event,
        Event::Deleveraged { dust, haircuts, .. }
            if *dust == amount("0.000000000000000001") && *haircuts == amount("200")
    )));
    assert_eq!(fees(&engine, USDC), amount("0.000000000000000001"));
    assert_eq!(balance(&engine, B, USDC), Amount::ZERO);
    assert_eq!(position(&engine, B, ETH_PERP), (Amount::ZERO, Amount::ZERO));
    // The counterparty: 3300 − 2900.000000000000000001 of its 600 profit kept.
    assert_eq!(balance(&engine, 1, USDC), amount("10399.999999999999999999"));
}

#[test]
fn min_shortfall_leaves_what_profits_cannot_cover_to_the_layers_after_adl() {
    // Price path 500 → 1000 → 900 → 800. At 500 S2 sells 2 to L; at 1000 S1 sells 2 to B
    // (collateral 200); at 900 Y sells 1 to X; at 800 S1 buys its 2 back from L (both close).
    // At 800: B long 2, quote −2000, equity 200 − 400 = −200. Opposite: S2 short 2 @500 (profit
    // −600), Y short 1 @900 (profit +100). Only Y is profitable and holds 1 < 2: Y's 1 is closed
    // at 800 with a haircut of its whole profit 100 (quote 900), the other 1 against S2 at 800
    // with no haircut. 100 of the 200 is left: B's −2000 + 1700 = −300 settles −200 against its
    // collateral and −100 becomes a deficit, which the next layer socialises over X's long 1 and
    // S2's remaining short 1: 50 each.
    let mut engine = venue(r#""adl:min_shortfall", "socialize""#, "");
    for command in [
        set_price(USDC, "1"),
        set_price(ETH, "500"),
        open(1),
        open(2),
        open(L),
        open(KEEPER),
        open(B),
        open(10),
        open(11),
        deposit(1, USDC, "1000"),
        deposit(2, USDC, "1000"),
        deposit(L, USDC, "1000"),
        deposit(KEEPER, USDC, "1000"),
        deposit(B, USDC, "200"),
        deposit(10, USDC, "1000"),
        deposit(11, USDC, "1000"),
        trade(ETH_PERP, 2, L, "-2", "500"),
        set_price(ETH, "1000"),
        trade(ETH_PERP, 1, B, "-2", "1000"),
        set_price(ETH, "900"),
        trade(ETH_PERP, 10, 11, "1", "900"),
        set_price(ETH, "800"),
        trade(ETH_PERP, 1, L, "2", "800"),
    ] {
        ok(&mut engine, command);
    }
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "2"));
    assert_eq!(fills(&events), vec![fill(11, "1", "900", "100"), fill(2, "1", "800", "0")]);
    assert_eq!(
        layers_paid(&events),
        vec![
            ("adl:min_shortfall".to_owned(), amount("100")),
            ("socialize".to_owned(), amount("100")),
        ]
    );
    assert!(events.contains(&Event::DeficitRecorded {
        market: MarketRef::Perp(PerpMarketId(0)),
        account: AccountId(B),
        amount: amount("100"),
        deficit_after: amount("100"),
    }));
    assert_eq!(position(&engine, 11, ETH_PERP), (Amount::ZERO, Amount::ZERO));
    assert_eq!(balance(&engine, 11, USDC), amount("1000"));
    // X: −900 − 50; S2: 1000 − 800 − 50 = 150.
    assert_eq!(position(&engine, 10, ETH_PERP), (amount("1"), amount("-950")));
    assert_eq!(position(&engine, 2, ETH_PERP), (amount("-1"), amount("150")));
    assert_eq!(engine.state().perps[0].deficit, Amount::ZERO);
    let market = MarketRef::Perp(PerpMarketId(0));
    assert_eq!(engine.state().net.recognized[&market], amount("200"));
}

#[test]
fn drift_style_fund_fee_pool_then_socialisation_without_adl() {
    // Fund capped at 200 for the market over its lifetime (Drift's insurance tier), fee pool 60,
    // then socialisation across open interest.
    let mut engine =
        book(r#""fund:insurance", "fees", "socialize""#, r#"market_lifetime_cap = "200""#);
    for command in [
        donate(DONOR, "fund:insurance", "1000"),
        open(10),
        open(11),
        deposit(10, USDC, "1000"),
        deposit(11, USDC, "1000"),
        trade(BTC_PERP, 10, 11, "1", "6000"),
    ] {
        ok(&mut engine, command);
    }
    // No ADL layer: the keeper takes the long 6 over at 900 (no fee: equity negative). B's quote
    // −7000 + 5400 = −1600 settles −1000; the unpaid 600 is a deficit. The fund pays its cap 200,
    // the fee pool 60, and 340 is charged to every open position by size: Σ|base| = keeper 6 +
    // L 4 + shorts 2 + 2 + 4 + 2 = 20 → 17 per unit.
    let events = ok(&mut engine, liquidate_position(KEEPER, B, ETH_PERP, "6"));
    assert!(fills(&events).is_empty());
    assert!(matches!(
        events.first(),
        Some(Event::PositionLiquidated { bankruptcy_price: Some(p), fee, .. })
            if *p == price("1000") && fee.is_zero()
    ));
    assert_eq!(
        layers_paid(&events),
        vec![
            ("fund:insurance".to_owned(), amount("200")),
            ("fees".to_owned(), amount("60")),
            ("socialize".to_owned(), amount("340")),
        ]
    );
    assert_eq!(engine.state().net.funds[0].balance, amount("800"));
    assert_eq!(position(&engine, KEEPER, ETH_PERP), (amount("6"), amount("-5502")));
    assert_eq!(position(&engine, L, ETH_PERP), (amount("4"), amount("-3668")));
    assert_eq!(position(&engine, S1, ETH_PERP), (amount("-2"), amount("1966")));
    assert_eq!(position(&engine, S3, ETH_PERP), (amount("-4"), amount("4932")));
    assert_eq!(engine.state().perps[0].deficit, Amount::ZERO);
    assert_eq!(fees(&engine, USDC), Amount::ZERO);
}

#[test]
fn a_seed_is_refused_where_no_random_adl_can_use_it() {
    let mut engine = book(r#""adl:rank""#, "");
    // Rank policy: a seed has no use → 70.
    assert_eq!(code(&mut engine, liquidate_seeded(KEEPER, B, ETH_PERP, "6", 5)), 70);
    // BTC-PERP has no waterfall → 70.
    assert_eq!(code(&mut engine, liquidate_seeded(KEEPER, B, BTC_PERP, "6", 5)), 70);
    // Not a position target → 70.
    let unpaid_loss = Command::Liquidate {
        keeper: AccountId(KEEPER),
        account: AccountId(B),
        target: LiquidationTarget::UnpaidLoss { market: PerpMarketId(0), collateral: USDC },
        amount: amount("1"),
        seed: 5,
    };
    assert_eq!(code(&mut engine, unpaid_loss), 70);
    // An unknown market is refused as such (5) before the seed is judged.
    assert_eq!(code(&mut engine, liquidate_seeded(KEEPER, B, 9, "6", 5)), 5);
    let rejection = step(&mut engine, &liquidate_seeded(KEEPER, B, ETH_PERP, "6", 5)).unwrap_err();
    assert_eq!(
        rejection.to_string(),
        "rejected (70): seed 5 given, but the liquidation target has no adl:random layer to use it"
    );
    // Seed 0 is no seed: accepted.
    ok(&mut engine, liquidate_seeded(KEEPER, B, ETH_PERP, "6", 0));
    // A random market accepts any seed.
    let mut engine = book(r#""adl:random""#, "");
    ok(&mut engine, liquidate_seeded(KEEPER, B, ETH_PERP, "6", u64::MAX));
}

#[test]
fn a_script_seed_reaches_the_command() {
    let config = VenueConfig::from_toml_str(include_str!("../../../examples/venue.toml")).unwrap();
    let lines = backstop_core::script::parse_script(
        "liquidate keeper=3 account=2 position=ETH-PERP amount=1 seed=9",
        &config,
    )
    .unwrap();
    assert!(matches!(lines[0].command, Command::Liquidate { seed: 9, .. }));
}

// ----- example venues -----

fn example(text: &str) -> Engine {
    Engine::new(VenueConfig::from_toml_str(text).unwrap_or_else(|error| panic!("{error}"))).unwrap()
}

#[test]
fn exchange_insurance_fund_example_fund_then_ranked_adl() {
    let mut engine = example(include_str!("../../../examples/exchange-insurance-fund.toml"));
    let (usdt, btc) = (AssetId(0), AssetId(1));
    // 1 = market maker, 2 = trader liquidated while solvent, 3 = keeper, 4 = trader that goes
    // bankrupt, 5 = trader on the short side.
    for command in [
        set_price(usdt, "1"),
        set_price(btc, "20000"),
        open(1),
        open(2),
        open(3),
        open(4),
        open(5),
        deposit(1, usdt, "100000"),
        deposit(2, usdt, "3000"),
        deposit(3, usdt, "10000"),
        deposit(4, usdt, "1800"),
        deposit(5, usdt, "2000"),
        // Trader 2: long 1 at 20000 (requirement 2000 ≤ 3000), maker short 1.
        trade(0, 2, 1, "1", "20000"),
        // At 17800 trader 2 is worth 3000 − 2200 = 800 < requirement 890 but solvent: the keeper
        // takes the long over and the 1% fee, 178, goes to the venue (protocol share 1).
        set_price(btc, "17800"),
        liquidate_position(3, 2, 0, "1"),
        // The fees are swept into the insurance fund.
        Command::SettleRevenue { asset: usdt },
        // Trader 4 buys 1 from trader 5 at 17800 (requirement 1780 ≤ 1800).
        trade(0, 4, 5, "1", "17800"),
    ] {
        ok(&mut engine, command);
    }
    assert_eq!(engine.state().net.funds[0].balance, amount("178"));
    // Crash to 15800: trader 4 is worth 1800 − 2000 = −200. The fund pays its 178; 22 remain.
    // Shorts: the maker (short 1 from 20000: profit 4200, PnL% 0.21, equity 104200 → leverage
    // 0.15, score 0.03) and trader 5 (short 1 from 17800: profit 2000, PnL% 0.112, equity 4000,
    // leverage 3.95 → score 0.44): trader 5 ranks first and gives up the 1 at 15800 + 22.
    ok(&mut engine, set_price(btc, "15800"));
    let events = ok(&mut engine, liquidate_position(3, 4, 0, "1"));
    assert_eq!(
        layers_paid(&events),
        vec![("fund:insurance".to_owned(), amount("178")), ("adl:rank".to_owned(), amount("22")),]
    );
    assert_eq!(fills(&events), vec![fill(5, "1", "15822", "22")]);
    assert_eq!(engine.state().net.funds[0].balance, Amount::ZERO);
    assert_eq!(balance(&engine, 4, usdt), Amount::ZERO);
    // Trader 5: 17800 − 15822 = 1978 of profit settled (2000 − 22).
    assert_eq!(balance(&engine, 5, usdt), amount("3978"));
    assert_eq!(engine.state().perps[0].deficit, Amount::ZERO);
}

#[test]
fn drift_example_fund_fee_pool_then_socialisation() {
    let mut engine = example(include_str!("../../../examples/drift.toml"));
    let (usdc, sol) = (AssetId(0), AssetId(1));
    for command in [
        set_price(usdc, "1"),
        set_price(sol, "100"),
        open(1),
        open(2),
        open(3),
        open(4),
        deposit(1, usdc, "100000"),
        deposit(2, usdc, "1100"),
        deposit(3, usdc, "10000"),
        deposit(4, usdc, "1000"),
        // Trader 2 buys 100 SOL-PERP at 100 from the maker: notional 10000, taker fee 0.1% = 10
        // into the fee pool; margin 1100 − 10 = 1090 ≥ 1000.
        trade(0, 2, 1, "100", "100"),
        donate(4, "fund:insurance", "200"),
    ] {
        ok(&mut engine, command);
    }
    assert_eq!(fees(&engine, usdc), amount("10"));
    // SOL falls to 85: trader 2 is worth 1100 − 10010 + 8500 = −410. The keeper takes the long
    // over at 85; −410 is a deficit. The insurance fund pays 200 − 1 (it keeps 1 unit, as Drift's
    // vault does) = 199, the fee pool 10, and 201 is socialised over the keeper's long 100 and the
    // maker's short 100: 100.5 each.
    ok(&mut engine, set_price(sol, "85"));
    let events = ok(&mut engine, liquidate_position(3, 2, 0, "100"));
    assert_eq!(
        layers_paid(&events),
        vec![
            ("fund:insurance".to_owned(), amount("199")),
            ("fees".to_owned(), amount("10")),
            ("socialize".to_owned(), amount("201")),
        ]
    );
    assert_eq!(engine.state().net.funds[0].balance, amount("1"));
    assert_eq!(position(&engine, 3, 0), (amount("100"), amount("-8600.5")));
    assert_eq!(position(&engine, 1, 0), (amount("-100"), amount("9899.5")));
}
