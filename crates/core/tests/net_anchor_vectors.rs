//! Published anchor vectors the engine's own mechanics do not reproduce (VECTORS.md: B5, B7, M2,
//! F1, F4), computed exactly by `backstop::anchors`, and for each one a short engine test of the
//! configuration that comes closest, with hand-computed numbers. docs/mechanisms.md
//! explains the differences.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::backstop::anchors::{
    AnchorError, BLEND_INTEREST_VALUE_MIN, MARGINFI_INSURANCE_FEE, MARGINFI_LIQUIDATOR_FEE,
    MangoTokenBankruptcy, blend_auction_modifiers, blend_interest_auction_bid,
    blend_interest_auction_value, blend_round, blend_scale_auction, mango_token_bankruptcy,
    marginfi_borrow_rate, marginfi_fee_rate, marginfi_liquidation_split,
};
use backstop_core::{AccountId, AssetId, AuctionId, Command, Event, MarketRef, VenueConfig};
use backstop_money::{Amount, Rounding};
use common::Expect::{Events, Ok};
use common::*;

/// Blend's scale_auction as (bid filled, lot filled, bid left, lot left), from decimal strings.
fn scaled(bid: &str, lot: &str, ledger: u32, percent: u32) -> [Amount; 4] {
    // Auction block 1000 in every B5 vector.
    let (a, b, c, d) =
        blend_scale_auction(amount(bid), amount(lot), ledger - 1000, percent).unwrap();
    [a, b, c, d]
}

fn amounts(values: [&str; 4]) -> [Amount; 4] {
    values.map(amount)
}

// ----- B5: Blend auction block scaling -----

/// B5 (`test_scale_auction_*`), bid 100 / lot 100 filled 100% at ledgers 1000–1400 of an auction
/// at block 1000: the lot ramps 0 → 100% over 200 blocks (0.5% a block), then the bid decays
/// 100% → 0 over the next 200. "None" is a zero entry.
#[test]
fn vector_b5_full_fill_over_the_block_ramp() {
    assert_eq!(scaled("100", "100", 1000, 100), amounts(["100", "0", "0", "0"]));
    assert_eq!(scaled("100", "100", 1100, 100), amounts(["100", "50", "0", "0"]));
    assert_eq!(scaled("100", "100", 1200, 100), amounts(["100", "100", "0", "0"]));
    assert_eq!(scaled("100", "100", 1300, 100), amounts(["50", "100", "0", "0"]));
    assert_eq!(scaled("100", "100", 1400, 100), amounts(["0", "100", "0", "0"]));
    // Past 400 blocks the bid stays at zero.
    assert_eq!(scaled("100", "100", 1500, 100), amounts(["0", "100", "0", "0"]));
    let modifiers = |d| {
        let (bid, lot) = blend_auction_modifiers(d);
        (bid.to_string(), lot.to_string())
    };
    assert_eq!(modifiers(1), ("1".into(), "0.005".into()));
    assert_eq!(modifiers(200), ("1".into(), "1".into()));
    assert_eq!(modifiers(201), ("0.995".into(), "1".into()));
    assert_eq!(modifiers(399), ("0.005".into(), "1".into()));
    assert_eq!(modifiers(400), ("0".into(), "1".into()));
}

/// B5, partial fills of bid 25.0000005 / lot 25.0000005 (250,000,005 stroops each); the
/// remainders come from the unscaled bases, bids round up and lots down at 7 decimals:
/// - 1000, 50%: bid base ceil(125,000,002.5) = 12.5000003 (× 1), lot base floor = 12.5000002
///   (× 0 → none); left 25.0000005 − 12.5000003 = 12.5000002 / 25.0000005 − 12.5000002 =
///   12.5000003.
/// - 1100, 60%: bases 15.0000003 / 15.0000003; lot × 0.5 = floor(7.50000015) = 7.5000001; left
///   10.0000002 / 10.0000002.
/// - 1300, 60%: bid × 0.5 = ceil(7.50000015) = 7.5000002; lot 15.0000003.
/// - 1400, 50%: bid × 0 → none; lot 12.5000002; left 12.5000002 / 12.5000003.
#[test]
fn vector_b5_partial_fills_round_bids_up_and_lots_down() {
    let (bid, lot) = ("25.0000005", "25.0000005");
    assert_eq!(
        scaled(bid, lot, 1000, 50),
        amounts(["12.5000003", "0", "12.5000002", "12.5000003"])
    );
    assert_eq!(
        scaled(bid, lot, 1100, 60),
        amounts(["15.0000003", "7.5000001", "10.0000002", "10.0000002"])
    );
    assert_eq!(
        scaled(bid, lot, 1300, 60),
        amounts(["7.5000002", "15.0000003", "10.0000002", "10.0000002"])
    );
    assert_eq!(
        scaled(bid, lot, 1400, 50),
        amounts(["0", "12.5000002", "12.5000002", "12.5000003"])
    );
}

/// B5 dust, bid 1 / lot 1 stroop: at 99% the bid base ceil(0.99) = 1 takes the whole bid while the
/// lot base floor(0.99) = 0 leaves the lot; at 1300 a 100% fill pays ceil(1 × 0.5) = 1 for 1; at
/// 1400 a 99% fill moves nothing and a 100% fill gives the lot away for nothing.
#[test]
fn vector_b5_dust_auctions() {
    let stroop = "0.0000001";
    assert_eq!(scaled(stroop, stroop, 1000, 99), amounts([stroop, "0", "0", stroop]));
    assert_eq!(scaled(stroop, stroop, 1300, 100), amounts([stroop, stroop, "0", "0"]));
    assert_eq!(scaled(stroop, stroop, 1400, 99), amounts(["0", "0", "0", stroop]));
    assert_eq!(scaled(stroop, stroop, 1400, 100), amounts(["0", stroop, "0", "0"]));
}

/// Blend refuses a fill percent outside 1–100 (BadRequest); amounts finer than 7 decimals cannot
/// exist in Blend and are refused rather than silently rounded.
#[test]
fn vector_b5_rejects_what_blend_cannot_hold() {
    for percent in [0, 101] {
        assert!(matches!(
            blend_scale_auction(amount("1"), amount("1"), 0, percent),
            Err(AnchorError::Invalid(_))
        ));
    }
    assert!(matches!(
        blend_scale_auction(amount("0.00000001"), amount("1"), 0, 100),
        Err(AnchorError::Invalid(_))
    ));
    assert!(matches!(
        blend_scale_auction(amount("1"), amount("-1"), 0, 100),
        Err(AnchorError::Invalid(_))
    ));
    assert_eq!(blend_round(amount("1.00000001"), Rounding::Ceil).unwrap(), amount("1.0000001"));
    assert_eq!(blend_round(amount("1.00000009"), Rounding::Floor).unwrap(), amount("1"));
}

// ----- B7: Blend interest auction bid -----

/// B7 (`test_create_interest_auction`): credits 100 @ $2 and 25 @ $4 are worth $300; the bid at
/// an LP spot price of 1.25 is floor(300 × 1.2) / 1.25 = 360 / 1.25 = 288 LP.
#[test]
fn vector_b7_interest_auction_bid() {
    let credits = [(amount("100"), price("2")), (amount("25"), price("4"))];
    let value = blend_interest_auction_value(&credits, 7).unwrap();
    assert_eq!(value, amount("300"));
    assert_eq!(blend_interest_auction_bid(value, price("1.25")).unwrap(), amount("288"));
    // Each term is floored to the oracle's decimals: 0.33333333 × 3 at 7 decimals is 0.9999999.
    let thirds = [(amount("0.33333333"), price("3"))];
    assert_eq!(blend_interest_auction_value(&thirds, 7).unwrap(), amount("0.9999999"));
    // floor₇: 250 × 1.2 = 300, / 0.7 = 428.571428571… → 428.5714285.
    assert_eq!(
        blend_interest_auction_bid(amount("250"), price("0.7")).unwrap(),
        amount("428.5714285")
    );
}

/// Blend v2 creates an interest auction only for a lot worth at least 200.
#[test]
fn vector_b7_lot_below_200_is_refused() {
    assert_eq!(
        blend_interest_auction_bid(BLEND_INTEREST_VALUE_MIN, price("1")).unwrap(),
        amount("240")
    );
    assert!(matches!(
        blend_interest_auction_bid(amount("199.9999999"), price("1")),
        Err(AnchorError::Invalid(_))
    ));
    assert!(matches!(
        blend_interest_auction_bid(amount("300"), price("0")),
        Err(AnchorError::Invalid(_))
    ));
}

// ----- M2: Mango token bankruptcy through the insurance vault at a depeg -----

/// The M2 setting: USDC is the insurance token and has depegged to 2.0; the liability token
/// (price 1.5, liquidation fee 0.02) is not USDC unless stated. Amounts are native units.
fn mango(remaining: &str, max: &str, vault: &str) -> MangoTokenBankruptcy {
    MangoTokenBankruptcy {
        remaining: amount(remaining),
        max_liab_transfer: amount(max),
        vault: amount(vault),
        eligible: true,
        liab_is_insurance_token: false,
        liab_price: price("1.5"),
        liquidation_fee: ratio("0.02"),
        insurance_price: price("2"),
    }
}

/// M2 (a): a USDC liability is paid straight from the vault to the bankrupt account (c = 1, no
/// fee, no liquidator) and the vault ends at `vault − borrow − 1`: the liability carries a
/// fraction of a native unit (loan-origination rounding), and the payout is rounded up to whole
/// units. Borrow 20,000,000 native units, liability 20,000,000.4, vault 100,000,000 → payout
/// 20,000,001, vault 79,999,999. The price of USDC (2.0) plays no part.
#[test]
fn vector_m2a_insurance_token_liability_paid_directly() {
    let input = MangoTokenBankruptcy {
        liab_is_insurance_token: true,
        ..mango("20000000.4", "20000000.4", "100000000")
    };
    let outcome = mango_token_bankruptcy(&input).unwrap();
    assert_eq!(outcome.conversion, ratio("1"));
    assert_eq!(outcome.insurance_transfer, amount("20000001"));
    assert_eq!(outcome.liab_transfer, amount("20000001"));
    assert!(!outcome.exhausted);
    assert_eq!(outcome.socialized, Amount::ZERO);
    let vault_after = amount("100000000").checked_sub(outcome.insurance_transfer).unwrap();
    assert_eq!(vault_after, amount("79999999")); // vault − borrow − 1
}

/// M2 (b): a non-USDC liability, partially: the liquidator receives
/// ceil(liab_transfer / usdc_to_liab × 1.02) USDC. c = 1.5 × 1.02 / 2 = 0.765; asking for 10,001
/// units pays ceil(7650.765) = 7651 USDC, and the liability taken over is 7651 / 0.765 =
/// 10,001.307189542483660130… (rounded down at 18 decimals), slightly above the 10,001 asked for.
/// The vault (100,000) is not exhausted, so nothing is socialised.
#[test]
fn vector_m2b_other_liability_paid_to_the_liquidator_in_usdc() {
    let outcome = mango_token_bankruptcy(&mango("50000", "10001", "100000")).unwrap();
    assert_eq!(outcome.conversion, ratio("0.765"));
    assert_eq!(outcome.insurance_transfer, amount("7651"));
    assert_eq!(outcome.liab_transfer, amount("10001.307189542483660130"));
    assert!(outcome.liab_transfer > amount("10001"));
    assert!(!outcome.exhausted);
    assert_eq!(outcome.socialized, Amount::ZERO);
}

/// M2 (c): the full request exhausts the vault (→ 0) and the rest is socialised. Remaining
/// 10,001, vault 5,000: ceil(10,001 × 0.765) = 7651 > 5000, so 5000 is paid, covering
/// 5000 / 0.765 = 6535.947712418300653594 (rounded down) of liability; 10,001 − that =
/// 3465.052287581699346406 goes to the deposit index.
#[test]
fn vector_m2c_full_request_exhausts_the_vault_then_socialises() {
    let outcome = mango_token_bankruptcy(&mango("10001", "10001", "5000")).unwrap();
    assert_eq!(outcome.insurance_transfer, amount("5000"));
    assert!(outcome.exhausted);
    assert_eq!(outcome.liab_transfer, amount("6535.947712418300653594"));
    assert_eq!(outcome.socialized, amount("3465.052287581699346406"));
    // A token not eligible for the fund sees an empty vault: exhausted at once, all socialised
    // (M3's "no vault" case).
    let ineligible = MangoTokenBankruptcy { eligible: false, ..mango("10001", "10001", "5000") };
    let outcome = mango_token_bankruptcy(&ineligible).unwrap();
    assert_eq!(outcome.insurance_transfer, Amount::ZERO);
    assert!(outcome.exhausted);
    assert_eq!(outcome.socialized, amount("10001"));
    // A vault is a token account: whole native units only.
    assert!(matches!(
        mango_token_bankruptcy(&mango("1", "1", "0.5")),
        Err(AnchorError::Invalid(_))
    ));
}

// ----- F1, F4: marginfi -----

/// F1 (`marginfi_account_liquidation_success_many_balances`): SOL at $10, liquidate 1 SOL against
/// USDC at $1. The liquidator pays 10 × 0.975 = 9.75 (USDC 2000 → 1990.25), the liquidatee's
/// debt falls by 10 × 0.95 = 9.5 (999 → 989.50) and the insurance vault receives 0.25 USDC.
#[test]
fn vector_f1_liquidation_fee_split() {
    let split = marginfi_liquidation_split(
        amount("1"),
        price("10"),
        price("1"),
        MARGINFI_LIQUIDATOR_FEE,
        MARGINFI_INSURANCE_FEE,
    )
    .unwrap();
    assert_eq!(split.liquidator_pays, amount("9.75"));
    assert_eq!(split.liquidatee_repaid, amount("9.5"));
    assert_eq!(split.insurance, amount("0.25"));
    assert_eq!(amount("2000").checked_sub(split.liquidator_pays).unwrap(), amount("1990.25"));
    assert_eq!(amount("999").checked_sub(split.liquidatee_repaid).unwrap(), amount("989.5"));
    // Inexact values round the liquidator's payment up and the liquidatee's credit down:
    // 1 × 1 × 0.975 / 3 = 0.325, 1 × 0.95 / 3 = 0.31666… → 0.316666666666666666.
    let split = marginfi_liquidation_split(
        amount("1"),
        price("1"),
        price("3"),
        MARGINFI_LIQUIDATOR_FEE,
        MARGINFI_INSURANCE_FEE,
    )
    .unwrap();
    assert_eq!(split.liquidator_pays, amount("0.325"));
    assert_eq!(split.liquidatee_repaid, amount("0.316666666666666666"));
    assert_eq!(split.insurance, amount("0.008333333333333334"));
    assert!(matches!(
        marginfi_liquidation_split(amount("1"), price("1"), price("1"), ratio("0.6"), ratio("0.6")),
        Err(AnchorError::Invalid(_))
    ));
}

/// F4 (`interest_rate.rs`): calc_fee_rate(0.4, 0.05, 0.01) = 0.4 × 0.05 + 0.01 = 0.03 (the
/// insurance fee APR on top of a base rate of 0.4); with no rate fee it is the fixed fee alone.
#[test]
fn vector_f4_fee_rate() {
    let fee = |base: &str, rate: &str, fixed: &str| {
        marginfi_fee_rate(ratio(base), ratio(rate), ratio(fixed)).unwrap()
    };
    assert_eq!(fee("0.4", "0.05", "0.01"), ratio("0.03"));
    assert_eq!(fee("0.4", "0", "0.01"), ratio("0.01"));
    assert_eq!(fee("0.4", "0.05", "0"), ratio("0.02"));
    // The borrow rate the same fees make: 0.4 × (1 + 0.05) + 0.01 = 0.43.
    let borrow = marginfi_borrow_rate(ratio("0.4"), ratio("0.05"), ratio("0.01")).unwrap();
    assert_eq!(borrow, ratio("0.43"));
    assert!(matches!(
        marginfi_fee_rate(ratio("-0.1"), ratio("0.05"), ratio("0")),
        Err(AnchorError::Invalid(_))
    ));
}

// ----- The engine's closest configurations -----

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const SOL: AssetId = AssetId(1);

const LENDER: u64 = 1;
const BORROWER: u64 = 2;
const KEEPER: u64 = 3;
const STAKER: u64 = 4;

/// B5's closest engine configuration: a price-descending Dutch auction starting at the oracle
/// (buf 1), falling 0.5% a 5-second block (cut 0.995: Blend's first step of bid decay), no
/// penalty, reset after 200 blocks.
const DUTCH_VENUE: &str = r#"
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
slope1 = "0"
kink = "0.8"
slope2 = "0"
[lending.liquidation]
mode = "dutch_auction"
buf = "1"
step_secs = 5
cut = "0.995"
tail_secs = 1000
cusp = "0.36"
penalty = "0"
[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"
"#;

/// Closest to B5: borrower 2 owes 15,000 USDC against 10 ETH; ETH falls to 1800 and auction 1
/// starts with lot 10, tab 15,000 (no penalty) and top 1800 × 1 = 1800. After one block (5 s)
/// the price is 1800 × 0.995 = 1791: a partial take of 5 ETH pays 8955. The partial fill does not
/// restart the clock (as in Blend): at t = 10 s the price is 1800 × 0.995² = 1782.045, and the
/// next take pays the remaining tab 6045 for 6045 / 1782.045 = 3.392170231391463178 ETH (rounded
/// down); the other 1.607829768608536822 ETH go back to the borrower and nothing is unraised.
#[test]
fn closest_b5_dutch_auction_partial_fill_keeps_the_clock() {
    let mut engine = engine(DUTCH_VENUE);
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
                    tab: amount("15000"),
                    top: price("1800"),
                }]),
            ),
            (advance(5), Ok),
            (
                take(KEEPER, 1, "5", "1791"),
                Events(vec![Event::AuctionTaken {
                    auction: AuctionId(1),
                    keeper: AccountId(KEEPER),
                    collateral: amount("5"),
                    paid: amount("8955"),
                    price: price("1791"),
                }]),
            ),
            (advance(10), Ok),
        ],
    );
    assert_eq!(engine.auction_price(AuctionId(1)).unwrap(), (price("1782.045"), false));
    run(
        &mut engine,
        &[(
            take(KEEPER, 1, "5", "1782.045"),
            Events(vec![
                Event::AuctionTaken {
                    auction: AuctionId(1),
                    keeper: AccountId(KEEPER),
                    collateral: amount("3.392170231391463178"),
                    paid: amount("6045"),
                    price: price("1782.045"),
                },
                Event::AuctionEnded {
                    auction: AuctionId(1),
                    returned: amount("1.607829768608536822"),
                    unraised: Amount::ZERO,
                    debt_returned: Amount::ZERO,
                },
            ]),
        )],
    );
    assert_eq!(balance(&engine, BORROWER, ETH), amount("1.607829768608536822"));
    assert_eq!(balance(&engine, KEEPER, ETH), amount("8.392170231391463178"));
    assert_eq!(balance(&engine, KEEPER, USDC), amount("15000")); // 30,000 − 8955 − 6045
    assert!(engine.state().auctions.is_empty());
}

/// F4's and B7's closest configuration: a USDC market whose borrow rate is a flat 0.5 with a
/// reserve factor of 0.2, a fund that passes all swept revenue to a USDC staker pool.
const REVENUE_VENUE: &str = r#"
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
reserve_factor = "0.2"
[lending.rate]
base = "0.5"
slope1 = "0"
kink = "0.8"
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
staker_share = "1"
[[staker_pool]]
name = "stakers"
asset = "USDC"
cooldown_secs = 1468800
"#;

/// Lender 1 supplies 1600 USDC, borrower 2 borrows 1000 against 1 ETH, staker 4 stakes 1000 USDC;
/// one year passes (the interest of the year is accrued when time advances).
fn revenue_engine() -> (backstop_core::Engine, Vec<Event>) {
    let mut engine = engine(REVENUE_VENUE);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (open(LENDER), Ok),
            (open(BORROWER), Ok),
            (open(STAKER), Ok),
            (deposit(LENDER, USDC, "1600"), Ok),
            (supply(LENDER, USDC, "1600"), Ok),
            (deposit(BORROWER, ETH, "1"), Ok),
            (borrow(BORROWER, USDC, "1000"), Ok),
            (withdraw(BORROWER, USDC, "1000"), Ok),
            (deposit(STAKER, USDC, "1000"), Ok),
            (
                Command::Stake {
                    account: AccountId(STAKER),
                    pool: "stakers".into(),
                    amount: amount("1000"),
                },
                Ok,
            ),
        ],
    );
    let events = step(&mut engine, &advance(common::YEAR)).unwrap();
    (engine, events)
}

/// Closest to F4: marginfi with base 0.4, an insurance rate fee of 0.25 and no fixed fee charges
/// borrowers 0.4 × 1.25 = 0.5 and gives the insurance vault calc_fee_rate(0.4, 0.25, 0) = 0.1.
/// The engine has no fee on top of a base rate; its reserve factor takes a share of the interest,
/// so a curve at 0.5 with reserve_factor = 0.25 / 1.25 = 0.2 gives the same flows: a year on a
/// 1000 USDC borrow accrues 500 of interest (borrow index 1.5), of which 100 is the reserve and 400
/// goes to suppliers (supply index 1 + 400 / 1600 = 1.25). marginfi's fixed fee has no
/// counterpart (the reserve is always proportional to the interest).
#[test]
fn closest_f4_reserve_factor_as_a_rate_fee() {
    let marginfi_borrow = marginfi_borrow_rate(ratio("0.4"), ratio("0.25"), ratio("0")).unwrap();
    let marginfi_insurance = marginfi_fee_rate(ratio("0.4"), ratio("0.25"), ratio("0")).unwrap();
    assert_eq!((marginfi_borrow, marginfi_insurance), (ratio("0.5"), ratio("0.1")));
    let (engine, events) = revenue_engine();
    let accrued: Vec<&Event> =
        events.iter().filter(|event| matches!(event, Event::InterestAccrued { .. })).collect();
    assert_eq!(
        accrued,
        vec![&Event::InterestAccrued {
            asset: USDC,
            borrow_rate: ratio("0.5"),
            interest: amount("500"),
            reserve: amount("100"),
            borrow_index: ratio("1.5"),
            supply_index: ratio("1.25"),
        }]
    );
    // The reserve is 100 / 1.25 = 80 supply shares.
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(market.reserve_shares, shares("80"));
}

/// Closest to B7: Blend auctions its backstop credit for LP tokens at a 20% premium and donates
/// the bid to the stakers. The engine has no auction: `settle_revenue` redeems the reserve (80
/// shares at 1.25 = 100 USDC) into fees and sweeps them into the fund, which passes its
/// staker_share (all of it) to the USDC staker pool: the pool's 1000 shares are now worth 1100
/// (1.1 each), the same asset, no premium, no LP price.
#[test]
fn closest_b7_revenue_goes_to_stakers_in_kind() {
    let (mut engine, _) = revenue_engine();
    run(
        &mut engine,
        &[(
            Command::SettleRevenue { asset: USDC },
            Events(vec![
                Event::ReserveRedeemed { asset: USDC, amount: amount("100"), shares: shares("80") },
                Event::RevenueSettled {
                    fund: "insurance".into(),
                    amount: amount("100"),
                    to_stakers: amount("100"),
                },
            ]),
        )],
    );
    let pool = &engine.state().net.staker_pools[0];
    assert_eq!((pool.assets, pool.shares), (amount("1100"), shares("1000")));
    assert_eq!(engine.state().net.funds[0].balance, Amount::ZERO);
    assert_eq!(fees(&engine, USDC), Amount::ZERO);
    // Blend would have asked a filler for (100 × $1 × 1.2) / spot LP — below its 200 minimum here.
    assert!(blend_interest_auction_bid(amount("100"), price("1.25")).is_err());
}

/// M2's closest configuration: a USDC fund in the waterfall of the USDC market (every layer
/// holds the market's deficit asset), then socialisation.
const FUND_VENUE: &str = r#"
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
[[waterfall]]
market = "USDC"
layers = ["fund:insurance", "socialize"]
"#;

/// Closest to M2 (a) + (c): the borrower owes 10,000 USDC; USDC depegs to 2.0 and ETH falls to
/// 0.0001, so the keeper repays only what the 10 ETH are worth: 10 × 0.0001 / 2 = 0.0005 USDC (no
/// bonus: the toxic guard). The deficit of 9999.9995 USDC is paid in USDC units whatever USDC's
/// price: the fund pays all its 5000 and the other 4999.9995 are socialised, cutting the supply
/// index by ceil(4999.9995 / 100,000) = 0.049999995 to 0.950000005. Mango's bankruptcy of an
/// insurance-token liability (c = 1) gives the same split.
#[test]
fn closest_m2_fund_pays_in_its_own_asset_at_a_depeg() {
    let mut engine = engine(FUND_VENUE);
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
            (deposit(KEEPER, USDC, "1000000"), Ok),
            (
                Command::Donate {
                    account: AccountId(KEEPER),
                    layer: "fund:insurance".into(),
                    amount: amount("5000"),
                },
                Ok,
            ),
            (deposit(BORROWER, ETH, "10"), Ok),
            (borrow(BORROWER, USDC, "10000"), Ok),
            (withdraw(BORROWER, USDC, "10000"), Ok),
            (set_price(USDC, "2"), Ok),
            (set_price(ETH, "0.0001"), Ok),
        ],
    );
    let events = run(&mut engine, &[(liquidate_debt(KEEPER, BORROWER, USDC, ETH, "10000"), Ok)]);
    let repaid: Vec<Amount> = events
        .iter()
        .filter_map(|event| match event {
            Event::DebtLiquidated { repaid, .. } => Some(*repaid),
            _ => None,
        })
        .collect();
    assert_eq!(repaid, vec![amount("0.0005")]);
    let paid: Vec<(String, Amount)> = events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { market: MarketRef::Lending(USDC), layer, amount, .. } => {
                Some((layer.clone(), *amount))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        paid,
        vec![("fund:insurance".into(), amount("5000")), ("socialize".into(), amount("4999.9995"))]
    );
    assert_eq!(engine.state().net.funds[0].balance, Amount::ZERO);
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(market.supply_index, ratio("0.950000005"));
    assert_eq!(market.deficit, Amount::ZERO);
    // Mango with the insurance token as the liability: c = 1, the vault pays 5000, exhausted,
    // 4999.9995 socialised — the same numbers.
    let mango = mango_token_bankruptcy(&MangoTokenBankruptcy {
        remaining: amount("9999.9995"),
        max_liab_transfer: amount("9999.9995"),
        vault: amount("5000"),
        eligible: true,
        liab_is_insurance_token: true,
        liab_price: price("2"),
        liquidation_fee: ratio("0.02"),
        insurance_price: price("2"),
    })
    .unwrap();
    assert_eq!(
        (mango.insurance_transfer, mango.exhausted, mango.socialized),
        (amount("5000"), true, amount("4999.9995"))
    );
}

/// M2 (b) has no engine configuration: a fund pays only the deficit of a market in its own
/// asset, so a USDC fund in the ETH market's waterfall is refused at load time.
#[test]
fn closest_m2b_cross_asset_fund_is_refused() {
    let toml =
        FUND_VENUE.replace("[[waterfall]]\nmarket = \"USDC\"", "[[waterfall]]\nmarket = \"ETH\"");
    let error = VenueConfig::from_toml_str(&toml).unwrap_err().to_string();
    assert!(
        error.contains("holds USDC but the market's deficits are in ETH"),
        "unexpected error: {error}"
    );
}

/// F1's closest configuration: a fixed bonus of 5% on SOL collateral of which the venue keeps
/// half (protocol_liquidation_share 0.5), swept into a SOL fund.
const BONUS_VENUE: &str = r#"
[[asset]]
symbol = "USDC"
decimals = 6
[[asset]]
symbol = "SOL"
decimals = 9
[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"
[[lending]]
asset = "SOL"
collateral_factor = "0.45"
liquidation_threshold = "0.49"
liquidation_bonus = "0.05"
protocol_liquidation_share = "0.5"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"
[[fund]]
name = "insurance"
asset = "SOL"
"#;

/// The borrower owes 999 USDC against 200 SOL; SOL falls from 12 to 10 (maintenance
/// 200 × 10 × 0.49 = 980 < 999, health 0.98: the close factor 0.5 applies) and the keeper, holding
/// 2000 USDC, repays 9.5 USDC of the debt with SOL as the collateral seized.
fn bonus_liquidation(toml: &str) -> (backstop_core::Engine, Vec<Event>) {
    let mut engine = engine(toml);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(SOL, "12"), Ok),
            (open(LENDER), Ok),
            (open(BORROWER), Ok),
            (open(KEEPER), Ok),
            (deposit(LENDER, USDC, "100000"), Ok),
            (supply(LENDER, USDC, "100000"), Ok),
            (deposit(KEEPER, USDC, "2000"), Ok),
            (deposit(BORROWER, SOL, "200"), Ok),
            (borrow(BORROWER, USDC, "999"), Ok),
            (withdraw(BORROWER, USDC, "999"), Ok),
            (set_price(SOL, "10"), Ok),
        ],
    );
    let events = run(&mut engine, &[(liquidate_debt(KEEPER, BORROWER, USDC, SOL, "9.5"), Ok)]);
    (engine, events)
}

/// The (repaid, seized, protocol fee) of the liquidation events.
fn debt_liquidations(events: &[Event]) -> Vec<(Amount, Amount, Amount)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::DebtLiquidated { repaid, seized, protocol_fee, .. } => {
                Some((*repaid, *seized, *protocol_fee))
            }
            _ => None,
        })
        .collect()
}

/// Closest to F1: the borrower owes 999 USDC against 200 SOL; SOL falls from 12 to 10
/// (maintenance 200 × 10 × 0.49 = 980 < 999). The keeper (2000 USDC) repays 9.5 USDC — the
/// debt falls 999 → 989.5 as in F1 — and seizes 9.5 × 1.05 / 10 = 0.9975 SOL; the bonus part is
/// 0.9975 − 0.95 = 0.0475 SOL, of which the venue keeps 0.02375 SOL ($0.2375) and the keeper gets
/// 0.97375 SOL for 9.5 USDC (keeper USDC 2000 → 1990.5). marginfi would take 1 SOL, charge the
/// liquidator 9.75 USDC and give the insurance vault 0.25 USDC. `settle_revenue` sweeps the
/// venue's SOL into the SOL fund.
#[test]
fn closest_f1_fixed_bonus_with_a_protocol_share() {
    let (mut engine, events) = bonus_liquidation(BONUS_VENUE);
    assert!(events.iter().any(
        |event| matches!(event, Event::DebtLiquidated { bonus, .. } if *bonus == ratio("0.05"))
    ));
    assert_eq!(
        debt_liquidations(&events),
        vec![(amount("9.5"), amount("0.9975"), amount("0.02375"))]
    );
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    let debt = market.debt_of(holding(&engine, BORROWER, USDC).2).unwrap();
    assert_eq!(debt, amount("989.5"));
    assert_eq!(balance(&engine, BORROWER, SOL), amount("199.0025"));
    assert_eq!(balance(&engine, KEEPER, USDC), amount("1990.5"));
    assert_eq!(balance(&engine, KEEPER, SOL), amount("0.97375"));
    assert_eq!(fees(&engine, SOL), amount("0.02375"));
    run(
        &mut engine,
        &[(
            Command::SettleRevenue { asset: SOL },
            Events(vec![Event::RevenueSettled {
                fund: "insurance".into(),
                amount: amount("0.02375"),
                to_stakers: Amount::ZERO,
            }]),
        )],
    );
    assert_eq!(engine.state().net.funds[0].balance, amount("0.02375"));
    // marginfi's split of the same 9.5-USDC debt reduction: 1 SOL, 9.75 paid, 0.25 insured.
    let marginfi = marginfi_liquidation_split(
        amount("1"),
        price("10"),
        price("1"),
        MARGINFI_LIQUIDATOR_FEE,
        MARGINFI_INSURANCE_FEE,
    )
    .unwrap();
    assert_eq!(marginfi.liquidatee_repaid, amount("9.5"));
}

/// F1 with the bonus marginfi's split implies: the liquidatee gives 1 SOL ($10) for 9.5 of debt,
/// a bonus of 10 / 9.5 − 1 = 1/19, and the liquidator and the insurance vault each gain $0.25 —
/// half of the $0.50 bonus, so protocol_liquidation_share = 0.5. 1/19 has no finite decimal: at
/// 0.052631578947368421 (rounded down) the seizure is 9.5 × 1.052631578947368421 / 10 =
/// 0.99999999999999999995 → 0.999999999999999999 SOL, the bonus part 0.049999999999999999, the
/// venue's half 0.025 SOL (rounded up) = $0.25 and the keeper's 0.974999999999999999 SOL
/// ($9.75 less 10^-17) for 9.5 USDC: marginfi's values to within 10^-18 SOL, in SOL instead of USDC.
#[test]
fn closest_f1_bonus_of_one_nineteenth_matches_marginfi_values() {
    let toml = BONUS_VENUE.replace(
        "liquidation_bonus = \"0.05\"\nprotocol_liquidation_share",
        "liquidation_bonus = \"0.052631578947368421\"\nprotocol_liquidation_share",
    );
    assert_ne!(toml, BONUS_VENUE);
    let (engine, events) = bonus_liquidation(&toml);
    assert_eq!(
        debt_liquidations(&events),
        vec![(amount("9.5"), amount("0.999999999999999999"), amount("0.025"))]
    );
    assert_eq!(balance(&engine, BORROWER, SOL), amount("199.000000000000000001"));
    assert_eq!(balance(&engine, KEEPER, SOL), amount("0.974999999999999999"));
    assert_eq!(fees(&engine, SOL), amount("0.025"));
    let market = engine.state().lending[USDC.index()].as_ref().unwrap();
    assert_eq!(market.debt_of(holding(&engine, BORROWER, USDC).2).unwrap(), amount("989.5"));
}
