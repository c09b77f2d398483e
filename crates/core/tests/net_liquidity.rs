//! The emergency liquidity facility: a fund lends a lending market the cash a withdrawal needs,
//! at a penalty rate charged to suppliers, up to a cap and the fund's floor, and is repaid first
//! from any cash entering the market (supply, repayments, liquidations, deficit cover).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::{AccountId, AssetId, Command, Engine, Event, MarketRef, Rejection};
use backstop_money::{Amount, Ratio};
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);

const LENDER: u64 = 1;
const BORROWER: u64 = 2;
const KEEPER: u64 = 3;
const DONOR: u64 = 4;
const LATE: u64 = 5;

/// A quarter of a 365-day year, in seconds.
const QUARTER: u64 = 7_884_000;

/// USDC and ETH lending at zero interest (so only the penalty moves the supply index), a USDC
/// fund `insurance` with floor 100, a facility lending it to the USDC market at 10% a year up to
/// `cap`, and optionally a waterfall offset → socialise for USDC.
fn venue(cap: &str, waterfall: bool) -> String {
    venue_with(cap, waterfall, "")
}

/// The same venue, with extra TOML inserted into the USDC lending market (a liquidation mode).
fn venue_with(cap: &str, waterfall: bool, usdc_liquidation: &str) -> String {
    let waterfall = if waterfall {
        r#"
[[offset]]
name = "treasury"
asset = "USDC"

[[waterfall]]
market = "USDC"
layers = ["offset:treasury", "socialize"]
"#
    } else {
        ""
    };
    format!(
        r#"
[oracle]
max_staleness_secs = 1000000000

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
{usdc_liquidation}
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

[[liquidity]]
fund = "insurance"
market = "USDC"
penalty_rate = "0.1"
cap = "{cap}"
{waterfall}"#
    )
}

fn donate(account: u64, layer: &str, value: &str) -> Command {
    Command::Donate { account: AccountId(account), layer: layer.into(), amount: amount(value) }
}

/// Lender 1 supplies 10,000 USDC; donor 4 puts `fund` into the fund; borrower 2 borrows 8000
/// USDC against 10 ETH at 2000 and takes it out of the venue. Market cash: 2000.
fn setup(cap: &str, fund: &str, waterfall: bool) -> Engine {
    setup_toml(&venue(cap, waterfall), fund)
}

fn setup_toml(toml: &str, fund: &str) -> Engine {
    let mut engine = engine(toml);
    run(
        &mut engine,
        &[
            (set_price(USDC, "1"), Ok),
            (set_price(ETH, "2000"), Ok),
            (open(LENDER), Ok),
            (open(BORROWER), Ok),
            (open(KEEPER), Ok),
            (open(DONOR), Ok),
            (open(LATE), Ok),
            (deposit(LENDER, USDC, "10000"), Ok),
            (supply(LENDER, USDC, "10000"), Ok),
            (deposit(DONOR, USDC, "20000"), Ok),
            (donate(DONOR, "fund:insurance", fund), Ok),
            (deposit(BORROWER, ETH, "10"), Ok),
            (borrow(BORROWER, USDC, "8000"), Ok),
            (withdraw(BORROWER, USDC, "8000"), Ok),
            (deposit(KEEPER, USDC, "30000"), Ok),
        ],
    );
    assert_eq!(market(&engine).cash, amount("2000"));
    engine
}

fn market(engine: &Engine) -> &backstop_core::venue::lending::LendingMarket {
    engine.state().lending[USDC.index()].as_ref().unwrap()
}

fn loan(engine: &Engine) -> Amount {
    engine.state().net.facilities[0].loan
}

fn fund(engine: &Engine) -> Amount {
    engine.state().net.funds[0].balance
}

fn lent(value: &str, after: &str) -> Event {
    Event::LiquidityLent {
        asset: USDC,
        fund: "insurance".into(),
        amount: amount(value),
        loan_after: amount(after),
    }
}

fn repaid(value: &str, after: &str) -> Event {
    Event::LiquidityRepaid {
        asset: USDC,
        fund: "insurance".into(),
        amount: amount(value),
        loan_after: amount(after),
    }
}

/// I5 with the loan, recomputed here: claims + loan ≤ cash + debt + deficit + auction debt.
fn assert_backed(engine: &Engine) {
    let market = market(engine);
    let owed = market.supplier_claims().unwrap().checked_add(loan(engine)).unwrap();
    let backing = market
        .cash
        .checked_add(market.total_debt().unwrap())
        .and_then(|sum| sum.checked_add(market.deficit))
        .and_then(|sum| sum.checked_add(market.auction_debt))
        .unwrap();
    assert!(owed <= backing, "claims + loan {owed} > backing {backing}");
}

/// Lend 3000, accrue a quarter of a year and one second of penalty, repay from a repayment and a
/// supply.
#[test]
fn facility_lends_accrues_and_is_repaid_first() {
    let mut engine = setup("5000", "3100", false);
    // Withdrawing 5000 with 2000 of cash: shortfall 3000 ≤ room min(cap 5000 − 0, 3100 − 100).
    run(
        &mut engine,
        &[(
            withdraw_supply(LENDER, USDC, "5000"),
            Events(vec![
                lent("3000", "3000"),
                Event::SupplyWithdrawn {
                    account: AccountId(LENDER),
                    asset: USDC,
                    amount: amount("5000"),
                    shares: shares("5000"),
                },
            ]),
        )],
    );
    assert_eq!(
        (market(&engine).cash, fund(&engine), loan(&engine)),
        (Amount::ZERO, amount("100"), amount("3000"))
    );
    // Nothing left to lend: the fund sits at its floor. Available = cash 0 + room 0.
    let rejection = step(&mut engine, &withdraw_supply(LENDER, USDC, "1")).unwrap_err();
    assert_eq!(
        rejection,
        Rejection::InsufficientLiquidity {
            asset: USDC,
            available: Amount::ZERO,
            needed: amount("1"),
        }
    );
    // A quarter year: growth ⌈0.1 × 7,884,000 / 31,536,000⌉ = 0.025 exactly; penalty 3000 ×
    // 0.025 = 75, charged to the 5000 supply shares: index −⌈75 / 5000⌉ = −0.015 → 0.985.
    // I5: 5000 × 0.985 + 3075 = 8000 = cash 0 + debt 8000.
    run(
        &mut engine,
        &[(
            advance(QUARTER),
            Events(vec![
                Event::TimeAdvanced { before: 0, after: QUARTER },
                Event::InterestAccrued {
                    asset: USDC,
                    borrow_rate: Ratio::ZERO,
                    interest: Amount::ZERO,
                    reserve: Amount::ZERO,
                    borrow_index: Ratio::ONE,
                    supply_index: Ratio::ONE,
                },
                Event::LiquidityPenaltyCharged {
                    asset: USDC,
                    fund: "insurance".into(),
                    penalty: amount("75"),
                    loan_after: amount("3075"),
                    supply_index_before: Ratio::ONE,
                    supply_index_after: ratio("0.985"),
                },
            ]),
        )],
    );
    assert_eq!(engine.state().net.facilities[0].accrued_at, QUARTER);
    assert_backed(&engine);
    // One more second, both roundings up: growth ⌈10¹⁷ / 31,536,000⌉ = 3,170,979,199 raw
    // (3,170,979,198.38 exact); penalty 3075 × 3,170,979,199 = 9,750,761,036,925 raw; index cut
    // ⌈9,750,761,036,925 / 5000⌉ = 1,950,152,208 raw (1,950,152,207.385 exact).
    let events = step(&mut engine, &advance(QUARTER + 1)).unwrap();
    assert_eq!(
        events.last(),
        Some(&Event::LiquidityPenaltyCharged {
            asset: USDC,
            fund: "insurance".into(),
            penalty: amount("0.000009750761036925"),
            loan_after: amount("3075.000009750761036925"),
            supply_index_before: ratio("0.985"),
            supply_index_after: ratio("0.984999998049847792"),
        })
    );
    // Suppliers lose 5000 × 0.000000001950152208 = 0.00000975076104 ≥ the penalty:
    // claims 4924.99999024923896 + loan 3075.000009750761036925 = 7999.999999999999996925 ≤ 8000.
    assert_eq!(market(&engine).supplier_claims().unwrap(), amount("4924.99999024923896"));
    assert_backed(&engine);
    // A repayment of 1000 goes straight to the fund: loan 2075.000009750761036925, fund 1100.
    run(
        &mut engine,
        &[
            (deposit(BORROWER, USDC, "1000"), Ok),
            (
                repay(BORROWER, USDC, "1000"),
                Events(vec![
                    Event::Repaid {
                        account: AccountId(BORROWER),
                        asset: USDC,
                        amount: amount("1000"),
                        debt_shares: shares("1000"),
                    },
                    repaid("1000", "2075.000009750761036925"),
                ]),
            ),
        ],
    );
    assert_eq!((market(&engine).cash, fund(&engine)), (Amount::ZERO, amount("1100")));
    // A new supply of 3000 mints ⌊3000 / 0.984999998049847792⌋ shares and repays the rest of the
    // loan; 3000 − 2075.000009750761036925 = 924.999990249238963075 stays as cash.
    run(
        &mut engine,
        &[
            (deposit(LATE, USDC, "3000"), Ok),
            (
                supply(LATE, USDC, "3000"),
                Events(vec![
                    Event::Supplied {
                        account: AccountId(LATE),
                        asset: USDC,
                        amount: amount("3000"),
                        shares: shares("3045.685285217817140954"),
                    },
                    repaid("2075.000009750761036925", "0"),
                ]),
            ),
        ],
    );
    assert_eq!(market(&engine).cash, amount("924.999990249238963075"));
    // The fund has its 3000 back plus the penalty: 100 + 1000 + 2075.000009750761036925.
    assert_eq!(fund(&engine), amount("3175.000009750761036925"));
    assert_eq!(loan(&engine), Amount::ZERO);
    // No loan, no penalty; a withdrawal within the cash needs no facility.
    let events = step(&mut engine, &advance(2 * QUARTER)).unwrap();
    assert!(!events.iter().any(|event| matches!(event, Event::LiquidityPenaltyCharged { .. })));
    run(
        &mut engine,
        &[(
            withdraw_supply(LENDER, USDC, "900"),
            Events(vec![Event::SupplyWithdrawn {
                account: AccountId(LENDER),
                asset: USDC,
                amount: amount("900"),
                // ⌈900 / 0.984999998049847792⌉ shares burned.
                shares: shares("913.705585565345142287"),
            }]),
        )],
    );
}

/// The cap and the fund's floor bound what is lent; a withdrawal the facility cannot complete is
/// refused whole (9), with the facility's room counted as available.
#[test]
fn facility_is_limited_by_its_cap_and_the_fund_floor() {
    // Cap 2500: cash 2000 + room 2500 = 4500 < 5000.
    let mut engine = setup("2500", "3100", false);
    let rejection = step(&mut engine, &withdraw_supply(LENDER, USDC, "5000")).unwrap_err();
    assert_eq!(
        rejection,
        Rejection::InsufficientLiquidity {
            asset: USDC,
            available: amount("4500"),
            needed: amount("5000"),
        }
    );
    run(
        &mut engine,
        &[
            (withdraw_supply(LENDER, USDC, "4500"), Ok),
            // At the cap: room 0 although the fund still holds 600 − 100 above its floor.
            (withdraw_supply(LENDER, USDC, "1"), Code(9)),
        ],
    );
    assert_eq!((loan(&engine), fund(&engine)), (amount("2500"), amount("600")));
    // Fund 1100, floor 100: room 1000 → at most 3000 can be withdrawn.
    let mut engine = setup("5000", "1100", false);
    let rejection = step(&mut engine, &withdraw_supply(LENDER, USDC, "3000.000001")).unwrap_err();
    assert_eq!(
        rejection,
        Rejection::InsufficientLiquidity {
            asset: USDC,
            available: amount("3000"),
            needed: amount("3000.000001"),
        }
    );
    run(
        &mut engine,
        &[(
            withdraw_supply(LENDER, USDC, "3000"),
            Events(vec![
                lent("1000", "1000"),
                Event::SupplyWithdrawn {
                    account: AccountId(LENDER),
                    asset: USDC,
                    amount: amount("3000"),
                    shares: shares("3000"),
                },
            ]),
        )],
    );
    assert_eq!(fund(&engine), amount("100"));
}

/// Liquidation proceeds are returning liquidity too: ETH at 900 makes the borrower liquidatable
/// (10 × 900 × 0.825 = 7425 < 8000); the keeper repays 1000 and the loan falls by 1000.
#[test]
fn liquidation_repayments_repay_the_facility_first() {
    let mut engine = setup("5000", "3100", false);
    run(&mut engine, &[(withdraw_supply(LENDER, USDC, "5000"), Ok), (set_price(ETH, "900"), Ok)]);
    let events = step(&mut engine, &liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1000")).unwrap();
    assert_eq!(events.last(), Some(&repaid("1000", "2000")));
    assert_eq!(
        (loan(&engine), fund(&engine), market(&engine).cash),
        (amount("2000"), amount("1100"), Amount::ZERO)
    );
    assert_backed(&engine);
}

/// Dutch-auction takes bring cash too: ETH at 900, the keeper starts an auction (top 900 × 1.10
/// = 990) and buys 1 ETH for 990 USDC, which goes to the fund: loan 3000 → 2010.
#[test]
fn auction_takes_repay_the_facility_first() {
    let dutch = r#"[lending.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 90
cut = "0.99"
tail_secs = 7200
cusp = "0.45"
penalty = "0.13"
"#;
    let mut engine = setup_toml(&venue_with("5000", false, dutch), "3100");
    run(
        &mut engine,
        &[
            (withdraw_supply(LENDER, USDC, "5000"), Ok),
            (set_price(ETH, "900"), Ok),
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1"), Ok),
        ],
    );
    assert_eq!(market(&engine).auction_debt, amount("8000"));
    assert_backed(&engine);
    let events = step(&mut engine, &take(KEEPER, 1, "1", "990")).unwrap();
    assert_eq!(events.last(), Some(&repaid("990", "2010")));
    assert_eq!(
        (loan(&engine), fund(&engine), market(&engine).cash),
        (amount("2010"), amount("1090"), Amount::ZERO)
    );
}

/// Deficit cover and socialisation. All suppliers but 1000 leave with a loan of 7000; ETH at 500
/// leaves 5000 of collateral for 8000 of debt. The liquidation's 5000 repays the loan to 2000 and
/// records a deficit of 3000; the offset's 500 repays it to 1500; socialisation can take only the
/// suppliers' 1000 (their whole claim), so 1500 of deficit stays recognised and uncovered, and the
/// fund's loan of 1500 stays outstanding against it (visible, waiting for a recovery), not
/// written off.
#[test]
fn deficit_cover_repays_the_facility_and_socialisation_writes_off_the_rest() {
    let mut engine = setup("10000", "7100", true);
    run(
        &mut engine,
        &[
            (donate(DONOR, "offset:treasury", "500"), Ok),
            // Cash 2000, shortfall 7000 ≤ min(cap 10,000, 7100 − 100).
            (withdraw_supply(LENDER, USDC, "9000"), Ok),
            (set_price(ETH, "500"), Ok),
        ],
    );
    assert_eq!(loan(&engine), amount("7000"));
    let events = step(&mut engine, &liquidate_debt(KEEPER, BORROWER, USDC, ETH, "100000")).unwrap();
    let facility_events: Vec<&Event> = events
        .iter()
        .filter(|event| {
            matches!(
                event,
                Event::LiquidityRepaid { .. }
                    | Event::LiquidityWrittenOff { .. }
                    | Event::LayerPaid { .. }
                    | Event::DeficitRecorded { .. }
            )
        })
        .collect();
    assert_eq!(
        facility_events,
        // The handler's events first, then the facility phase of `apply`, then the waterfall.
        vec![
            &Event::DeficitRecorded {
                market: MarketRef::Lending(USDC),
                account: AccountId(BORROWER),
                amount: amount("3000"),
                deficit_after: amount("3000"),
            },
            &repaid("5000", "2000"),
            &Event::LayerPaid {
                market: MarketRef::Lending(USDC),
                layer: "offset:treasury".into(),
                amount: amount("500"),
                remaining: amount("2500"),
            },
            &repaid("500", "1500"),
            &Event::LayerPaid {
                market: MarketRef::Lending(USDC),
                layer: "socialize".into(),
                amount: amount("1000"),
                remaining: amount("1500"),
            },
        ]
    );
    assert_eq!(loan(&engine), amount("1500"));
    assert_eq!(market(&engine).deficit, amount("1500"));
    // The fund got 100 + 5000 + 500 back of the 7000 it lent; suppliers are at zero.
    assert_eq!(fund(&engine), amount("5600"));
    assert_eq!(market(&engine).supply_index, Ratio::ZERO);
    assert_backed(&engine);
}

/// With every supplier gone, a penalty has nobody to be charged to: it is waived, the loan stays,
/// and the clock of the loan still moves.
#[test]
fn penalty_without_suppliers_is_waived() {
    let mut engine = setup("10000", "8100", false);
    run(
        &mut engine,
        &[(
            withdraw_supply(LENDER, USDC, "10000"),
            Events(vec![
                lent("8000", "8000"),
                Event::SupplyWithdrawn {
                    account: AccountId(LENDER),
                    asset: USDC,
                    amount: amount("10000"),
                    shares: shares("10000"),
                },
            ]),
        )],
    );
    let events = step(&mut engine, &advance(QUARTER)).unwrap();
    assert!(!events.iter().any(|event| matches!(event, Event::LiquidityPenaltyCharged { .. })));
    assert_eq!(loan(&engine), amount("8000"));
    assert_eq!(engine.state().net.facilities[0].accrued_at, QUARTER);
    // I5 at equality: claims 0 + loan 8000 = debt 8000.
    assert_backed(&engine);
}

/// Recoveries are returning liquidity: without a waterfall the deficit stays recorded; a recovery
/// of 1000 covers 1000 of it and that cash repays the loan (2000 → 1000).
#[test]
fn recoveries_repay_the_facility_first() {
    let mut engine = setup("10000", "7100", false);
    run(
        &mut engine,
        &[
            (withdraw_supply(LENDER, USDC, "9000"), Ok),
            (set_price(ETH, "500"), Ok),
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "100000"), Ok),
        ],
    );
    // Liquidation proceeds 10 × 500 = 5000 repaid 7000 → 2000; deficit 8000 − 5000 = 3000.
    assert_eq!((loan(&engine), market(&engine).deficit), (amount("2000"), amount("3000")));
    assert_backed(&engine);
    run(
        &mut engine,
        &[(
            Command::Recover { market: MarketRef::Lending(USDC), amount: amount("1000") },
            Events(vec![
                Event::Recovered { market: MarketRef::Lending(USDC), amount: amount("1000") },
                Event::RecoveryReturned {
                    market: MarketRef::Lending(USDC),
                    layer: "deficit".into(),
                    amount: amount("1000"),
                },
                repaid("1000", "1000"),
            ]),
        )],
    );
    assert_eq!((fund(&engine), market(&engine).cash), (amount("6100"), Amount::ZERO));
}
