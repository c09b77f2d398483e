//! Stability pool (Liquity v1/v2): product–sum accounting with scale changes, `min_remaining`,
//! offsets in liquidations, redistribution to the other borrowers, the deficit when nobody is
//! left, the `stability:<name>` waterfall layer, every rejection, a property test that depositors
//! can never claim more than the pool holds, and the Liquity v2 and Compound v3 example venues.
//!
//! Notation: P is an integer at 10^36 (10^36 = 1), S at 10^27 (S += ⌊C × P / (L × 10^9)⌋ in raw
//! units), amounts at 10^18. A deposit d snapshotted at (P_t, S_t) is worth ⌊d × P / P_t⌋ and
//! has gained ⌊d × (S − S_t) / ⌈P_t / 10^9⌉⌋.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::backstop::net::StabilityPoolState;
use backstop_core::backstop::stability::{P_MIN, P_PRECISION};
use backstop_core::{AccountId, AssetId, Command, Engine, Event, MarketRef};
use backstop_money::{Amount, Ratio, Shares};
use common::Expect::{Code, Events, Ok};
use common::*;
use proptest::prelude::*;

const BOLD: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const BTC: AssetId = AssetId(2);

const SUPPLIER: u64 = 1;
const KEEPER: u64 = 2;

/// BOLD lent against ETH and BTC (weights 0.9, penalty 10%), liquidated into pool `sp`; a second
/// pool `backup` only serves the waterfall. No interest. BOLD counts 0.5 as collateral (for the
/// health-check rejection); borrowers withdraw what they borrow.
const VENUE: &str = r#"
[[asset]]
symbol = "BOLD"
decimals = 18
[[asset]]
symbol = "ETH"
decimals = 18
[[asset]]
symbol = "BTC"
decimals = 8

[[lending]]
asset = "BOLD"
collateral_factor = "0.5"
liquidation_threshold = "0.5"
liquidation_bonus = "0"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"
[lending.liquidation]
mode = "stability_pool"
pool = "sp"

[[lending]]
asset = "ETH"
collateral_factor = "0.9"
liquidation_threshold = "0.9"
liquidation_bonus = "0.10"
borrow_enabled = false
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"

[[lending]]
asset = "BTC"
collateral_factor = "0.9"
liquidation_threshold = "0.9"
liquidation_bonus = "0.10"
borrow_enabled = false
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"

[[stability_pool]]
name = "sp"
asset = "BOLD"
min_remaining = "1"

[[stability_pool]]
name = "backup"
asset = "BOLD"
min_remaining = "1"

[[waterfall]]
market = "BOLD"
layers = ["stability:sp", "stability:backup", "socialize"]
"#;

// ----- helpers -----

fn sp_deposit(account: u64, pool: &str, value: &str) -> Command {
    Command::StabilityDeposit {
        account: AccountId(account),
        pool: pool.into(),
        amount: amount(value),
    }
}

fn sp_withdraw(account: u64, pool: &str, value: &str) -> Command {
    Command::StabilityWithdraw {
        account: AccountId(account),
        pool: pool.into(),
        amount: amount(value),
    }
}

fn sp_claim(account: u64, pool: &str) -> Command {
    Command::StabilityClaim { account: AccountId(account), pool: pool.into() }
}

fn pool(engine: &Engine, index: usize) -> &StabilityPoolState {
    &engine.state().net.stability_pools[index]
}

/// (compounded deposit, ETH gain, BTC gain) of a depositor of pool `index`.
fn depositor(engine: &Engine, index: usize, account: u64) -> (Amount, Amount, Amount) {
    let pool = pool(engine, index);
    let deposit = &pool.depositors[&AccountId(account)];
    (
        pool.compounded_deposit(deposit).unwrap(),
        pool.collateral_gain(deposit, ETH.0).unwrap(),
        pool.collateral_gain(deposit, BTC.0).unwrap(),
    )
}

fn raw(value: i128) -> Amount {
    Amount::from_raw(value)
}

/// Prices BOLD 1, ETH 4000, BTC 40,000; the supplier lends 1,000,000 BOLD.
fn venue() -> Engine {
    let mut engine = engine(VENUE);
    run(
        &mut engine,
        &[
            (set_price(BOLD, "1"), Ok),
            (set_price(ETH, "4000"), Ok),
            (set_price(BTC, "40000"), Ok),
            (open(SUPPLIER), Ok),
            (open(KEEPER), Ok),
            (deposit(SUPPLIER, BOLD, "1000000"), Ok),
            (supply(SUPPLIER, BOLD, "1000000"), Ok),
        ],
    );
    engine
}

/// A borrower with `eth` ETH and `btc` BTC who borrows `debt` BOLD (at ETH 4000, BTC 40,000) and
/// takes it out of the venue, so its only collateral is what it deposited.
fn borrower(engine: &mut Engine, id: u64, eth: &str, btc: &str, debt: &str) {
    let mut table = vec![(open(id), Ok)];
    if eth != "0" {
        table.push((deposit(id, ETH, eth), Ok));
    }
    if btc != "0" {
        table.push((deposit(id, BTC, btc), Ok));
    }
    table.push((borrow(id, BOLD, debt), Ok));
    table.push((withdraw(id, BOLD, debt), Ok));
    run(engine, &table);
}

/// A depositor bringing `value` BOLD from outside into pool `name`.
fn stability_depositor(engine: &mut Engine, id: u64, name: &str, value: &str) {
    run(
        engine,
        &[(open(id), Ok), (deposit(id, BOLD, value), Ok), (sp_deposit(id, name, value), Ok)],
    );
}

// ----- product–sum arithmetic on the pool alone -----

/// Two deposits, three offsets and two scale changes, all exact:
///
/// 1. A deposits 1000. Offset 999.9999999 with 1 ETH: S[0] += ⌊10^18 × 10^36 / (1000 × 10^18 ×
///    10^9)⌋ = 10^24; P = 10^36 × 10^-7 / 1000 = 10^26 < 10^27 → ×10^9 = 10^35, scale 1.
///    A is worth 1000 × ⌊10^35 / 10^9⌋ / 10^36 = 10^-7 (all that is left) and has gained
///    1000 × 10^24 / 10^27 = 1 ETH.
/// 2. B deposits 99.9999999 (L = 100). Offset 50 with 2 ETH: S[1] += 2 × 10^35 / (100 × 10^9)
///    = 2 × 10^24 (raw: 2×10^18 × 10^35 / 10^29); P = 5 × 10^34. A: 1000 × 5×10^25 / 10^36 =
///    5 × 10^-8, gain 1 + 1000 × 2×10^24 / 10^36 = 1.000000002 ETH. B: 99.9999999 × 0.5 =
///    49.99999995, gain 99.9999999 × 2×10^24 / 10^26 = 1.999999998 ETH. Sums: 50 deposits, 3 ETH.
/// 3. Offset 49.9999999 (10^-7 left): P = 5×10^34 × 10^-7 / 50 = 10^26 → 10^35, scale 2. A is two
///    scales old: worth 0 (its real value, 10^-16, stays in the pool). B: 99.9999999 × 10^26 /
///    10^35 = 9.99999999 × 10^-8. Gains are unchanged.
#[test]
fn product_sum_across_offsets_with_scale_changes() {
    let mut pool = StabilityPoolState::new();
    assert_eq!((pool.product, pool.scale), (P_PRECISION, 0));
    let (a, b) = (AccountId(1), AccountId(2));
    pool.deposits = amount("1000");
    pool.depositors.insert(a, pool.snapshot(amount("1000")));
    pool.absorb(amount("999.9999999"), Some((ETH.0, amount("1")))).unwrap();
    assert_eq!(pool.sums[&(0, ETH.0)], 10_i128.pow(24));
    assert_eq!((pool.product, pool.scale), (10_i128.pow(35), 1));
    assert_eq!(pool.deposits, amount("0.0000001"));
    let deposit_a = pool.depositors[&a].clone();
    assert_eq!(pool.compounded_deposit(&deposit_a).unwrap(), amount("0.0000001"));
    assert_eq!(pool.collateral_gain(&deposit_a, ETH.0).unwrap(), amount("1"));

    pool.deposits = pool.deposits.checked_add(amount("99.9999999")).unwrap();
    pool.depositors.insert(b, pool.snapshot(amount("99.9999999")));
    assert_eq!(pool.deposits, amount("100"));
    pool.absorb(amount("50"), Some((ETH.0, amount("2")))).unwrap();
    assert_eq!(pool.sums[&(1, ETH.0)], 2 * 10_i128.pow(24));
    assert_eq!((pool.product, pool.scale), (5 * 10_i128.pow(34), 1));
    let deposit_b = pool.depositors[&b].clone();
    assert_eq!(pool.compounded_deposit(&deposit_a).unwrap(), amount("0.00000005"));
    assert_eq!(pool.collateral_gain(&deposit_a, ETH.0).unwrap(), amount("1.000000002"));
    assert_eq!(pool.compounded_deposit(&deposit_b).unwrap(), amount("49.99999995"));
    assert_eq!(pool.collateral_gain(&deposit_b, ETH.0).unwrap(), amount("1.999999998"));
    assert_eq!(pool.deposits, amount("50"));
    assert_eq!(pool.collateral[&ETH.0], amount("3"));

    pool.absorb(amount("49.9999999"), None).unwrap();
    assert_eq!((pool.product, pool.scale), (10_i128.pow(35), 2));
    assert_eq!(pool.compounded_deposit(&deposit_a).unwrap(), Amount::ZERO);
    assert_eq!(pool.collateral_gain(&deposit_a, ETH.0).unwrap(), amount("1.000000002"));
    assert_eq!(pool.compounded_deposit(&deposit_b).unwrap(), amount("0.0000000999999999"));
    assert_eq!(pool.collateral_gain(&deposit_b, ETH.0).unwrap(), amount("1.999999998"));
}

/// One offset can need two scale changes: 1,000,000 deposited, 10^-13 left: P = 10^36 × 10^5 /
/// 10^24 = 10^17 → 10^26 → 10^35, scale 2; the deposit is worth nothing. An offset of everything
/// (only possible when a caller keeps no minimum) restarts P at 1 two scales up.
#[test]
fn double_scale_change_and_full_wipe() {
    let mut pool = StabilityPoolState::new();
    pool.deposits = amount("1000000");
    pool.depositors.insert(AccountId(1), pool.snapshot(amount("1000000")));
    pool.absorb(amount("999999.9999999999999"), None).unwrap();
    assert_eq!(pool.deposits, raw(100_000));
    assert_eq!((pool.product, pool.scale), (10_i128.pow(35), 2));
    assert_eq!(pool.compounded_deposit(&pool.depositors[&AccountId(1)]).unwrap(), Amount::ZERO);
    assert!(pool.product >= P_MIN && pool.product <= P_PRECISION);

    let mut empty = StabilityPoolState::new();
    empty.deposits = amount("5");
    empty.absorb(amount("5"), None).unwrap();
    assert_eq!((empty.product, empty.scale, empty.deposits), (P_PRECISION, 2, Amount::ZERO));
    // More than the deposits, a negative debt, or a gain into an empty pool: refused.
    assert!(empty.absorb(amount("1"), None).is_err());
    assert!(empty.absorb(amount("-1"), None).is_err());
    assert!(empty.absorb(Amount::ZERO, Some((ETH.0, amount("1")))).is_err());
}

// ----- offsets through liquidations -----

/// Liquity's product–sum example (lending-perps-cover.md §2.3), with a 10% penalty and every
/// trove's whole collateral going to the pool:
///
/// - A deposits 1000, B 3000 (L = 4000). Trove 20: 2000 BOLD against 1.1 ETH; ETH falls from 4000
///   to 2000 (health 1980 / 2000 = 0.99). The pool offsets 2000 and takes min(1.1, 2000 × 1.1 /
///   2000) = 1.1 ETH: S += ⌊1.1×10^18 × 10^36 / (4000×10^18 × 10^9)⌋ = 2.75 × 10^23,
///   P = 0.5. A: 500 and 1000 × 2.75×10^23 / 10^27 = 0.275 ETH; B: 1500 and 0.825 ETH.
/// - C deposits 2000 at P = 0.5 (L = 4000). Trove 21: 1000 BOLD against 0.55 ETH (health
///   990 / 1000): S += 0.55 × 0.5 / 4000 → 6.875 × 10^22, P = 0.375. A: 375 and 0.275 + 0.06875
///   = 0.34375 ETH; B: 1125 and 1.03125 ETH; C: 2000 × 0.375 / 0.5 = 1500 and 2000 × 6.875×10^22
///   / 5×10^26 = 0.275 ETH. Deposits 375 + 1125 + 1500 = 3000 = L; gains 1.65 = 1.1 + 0.55.
#[test]
fn vector_liquity_v1_stability_pool_example() {
    let mut engine = venue();
    borrower(&mut engine, 20, "1.1", "0", "2000");
    borrower(&mut engine, 21, "0.55", "0", "1000");
    stability_depositor(&mut engine, 10, "sp", "1000");
    stability_depositor(&mut engine, 11, "sp", "3000");
    run(&mut engine, &[(set_price(ETH, "2000"), Ok)]);
    let first = liquidated(20, ETH, ["2000", "2000", "1.1", "0", "2000", "0.99"], 0);
    run(&mut engine, &[(liquidate_debt(KEEPER, 20, BOLD, ETH, "1"), Events(vec![first]))]);
    assert_eq!(pool(&engine, 0).sums[&(0, ETH.0)], 275_000_000_000_000_000_000_000);
    assert_eq!(pool(&engine, 0).product, 5 * 10_i128.pow(35));
    assert_eq!(depositor(&engine, 0, 10), (amount("500"), amount("0.275"), Amount::ZERO));
    assert_eq!(depositor(&engine, 0, 11), (amount("1500"), amount("0.825"), Amount::ZERO));
    // The trove is closed: no debt, no collateral; the market got 2000 of cash back.
    assert_eq!(holding(&engine, 20, BOLD).2, Shares::ZERO);
    assert_eq!(balance(&engine, 20, ETH), Amount::ZERO);
    // 1,000,000 lent − 3000 borrowed + 2000 offset.
    assert_eq!(engine.state().lending[0].as_ref().unwrap().cash, amount("999000"));

    stability_depositor(&mut engine, 12, "sp", "2000");
    assert_eq!(depositor(&engine, 0, 12), (amount("2000"), Amount::ZERO, Amount::ZERO));
    let second = liquidated(21, ETH, ["1000", "1000", "0.55", "0", "3000", "0.99"], 0);
    run(&mut engine, &[(liquidate_debt(KEEPER, 21, BOLD, ETH, "1"), Events(vec![second]))]);
    assert_eq!(pool(&engine, 0).product, 375 * 10_i128.pow(33));
    assert_eq!(depositor(&engine, 0, 10), (amount("375"), amount("0.34375"), Amount::ZERO));
    assert_eq!(depositor(&engine, 0, 11), (amount("1125"), amount("1.03125"), Amount::ZERO));
    assert_eq!(depositor(&engine, 0, 12), (amount("1500"), amount("0.275"), Amount::ZERO));
    assert_eq!(pool(&engine, 0).collateral[&ETH.0], amount("1.65"));

    // A withdraws more than it has: it gets its 375 and its gain, and leaves the pool.
    run(
        &mut engine,
        &[(
            sp_withdraw(10, "sp", "10000"),
            Events(vec![
                Event::StabilityWithdrawn {
                    account: AccountId(10),
                    pool: "sp".into(),
                    amount: amount("375"),
                    deposit_after: Amount::ZERO,
                },
                Event::StabilityGainPaid {
                    account: AccountId(10),
                    pool: "sp".into(),
                    asset: ETH,
                    amount: amount("0.34375"),
                },
            ]),
        )],
    );
    assert_eq!(balance(&engine, 10, BOLD), amount("375"));
    assert_eq!(balance(&engine, 10, ETH), amount("0.34375"));
    assert!(!pool(&engine, 0).depositors.contains_key(&AccountId(10)));
    // B claims its gain and keeps its (re-snapshotted) 1125; C tops up: gain paid, 1500 + 500.
    run(
        &mut engine,
        &[
            (
                sp_claim(11, "sp"),
                Events(vec![Event::StabilityGainPaid {
                    account: AccountId(11),
                    pool: "sp".into(),
                    asset: ETH,
                    amount: amount("1.03125"),
                }]),
            ),
            (deposit(12, BOLD, "500"), Ok),
            (
                sp_deposit(12, "sp", "500"),
                Events(vec![
                    Event::StabilityDeposited {
                        account: AccountId(12),
                        pool: "sp".into(),
                        amount: amount("500"),
                        deposit_after: amount("2000"),
                    },
                    Event::StabilityGainPaid {
                        account: AccountId(12),
                        pool: "sp".into(),
                        asset: ETH,
                        amount: amount("0.275"),
                    },
                ]),
            ),
        ],
    );
    assert_eq!(depositor(&engine, 0, 11), (amount("1125"), Amount::ZERO, Amount::ZERO));
    assert_eq!(depositor(&engine, 0, 12), (amount("2000"), Amount::ZERO, Amount::ZERO));
    assert_eq!(pool(&engine, 0).deposits, amount("3125"));
    assert_eq!(pool(&engine, 0).collateral[&ETH.0], Amount::ZERO);
}

/// A `stability_liquidated` event of keeper 2 on pool `sp` (BOLD debt); `figures` are the debt
/// closed, the offset, the collateral to the pool and to the venue, the pool's deposits after
/// and the health factor before.
fn liquidated(account: u64, collateral: AssetId, figures: [&str; 6], scale_after: u64) -> Event {
    let [closed, offset, to_pool, to_venue, deposits_after, health] = figures;
    Event::StabilityLiquidated {
        keeper: AccountId(KEEPER),
        account: AccountId(account),
        pool: "sp".into(),
        debt: BOLD,
        collateral,
        debt_closed: amount(closed),
        offset: amount(offset),
        collateral_to_pool: amount(to_pool),
        collateral_to_venue: amount(to_venue),
        deposits_after: amount(deposits_after),
        scale_after,
        health_before: Some(ratio(health)),
    }
}

/// `min_remaining` and redistribution. The pool holds 1000 and keeps 1, so it offsets 999 of
/// trove 20's 2000 (1.1 ETH at 2000): it takes min(⌊1.1 × 999 / 2000⌋, 999 × 1.1 / 2000) =
/// 0.54945 ETH; P = 10^36 × 1 / 1000 = 10^33. The rest, 1001 with min(1.1 − 0.54945,
/// 1001 × 1.1 / 2000) = 0.55055 ETH, goes to borrowers 21 (1000 of debt) and 22 (2000):
/// 1001 debt shares (index 1) split ⌈1001 / 3⌉ = 333.666666666666666667 and ⌈2002 / 3⌉ =
/// 667.333333333333333334 (one raw share more than 1001 in total: rounded up, for suppliers);
/// 0.55055 ETH split ⌊0.55055 / 3⌋ = 0.183516666666666666 and ⌊1.1011 / 3⌋ =
/// 0.367033333333333333; the raw unit of dust goes to the venue's fees.
#[test]
fn min_remaining_then_redistribution_to_other_borrowers() {
    let mut engine = venue();
    borrower(&mut engine, 20, "1.1", "0", "2000");
    borrower(&mut engine, 21, "1", "0", "1000");
    borrower(&mut engine, 22, "3", "0", "2000");
    stability_depositor(&mut engine, 10, "sp", "1000");
    run(&mut engine, &[(set_price(ETH, "2000"), Ok)]);
    let summary =
        liquidated(20, ETH, ["2000", "999", "0.54945", "0.000000000000000001", "1", "0.99"], 0);
    run(
        &mut engine,
        &[(
            liquidate_debt(KEEPER, 20, BOLD, ETH, "1"),
            Events(vec![
                summary,
                Event::DebtRedistributed {
                    account: AccountId(20),
                    debt: BOLD,
                    collateral: ETH,
                    amount: amount("1001"),
                    collateral_amount: amount("0.55055"),
                    receivers: 2,
                    dust: raw(1),
                },
            ]),
        )],
    );
    assert_eq!(pool(&engine, 0).deposits, amount("1"));
    assert_eq!(pool(&engine, 0).product, 10_i128.pow(33));
    assert_eq!(depositor(&engine, 0, 10), (amount("1"), amount("0.54945"), Amount::ZERO));
    assert_eq!(holding(&engine, 21, BOLD).2, shares("1333.666666666666666667"));
    assert_eq!(holding(&engine, 22, BOLD).2, shares("2667.333333333333333334"));
    assert_eq!(balance(&engine, 21, ETH), amount("1.183516666666666666"));
    assert_eq!(balance(&engine, 22, ETH), amount("3.367033333333333333"));
    assert_eq!(fees(&engine, ETH), raw(1));
    let market = engine.state().lending[0].as_ref().unwrap();
    assert_eq!(market.debt_shares, shares("4001.000000000000000001"));
    assert_eq!(market.cash, amount("995999"));
    assert_eq!(market.deficit, Amount::ZERO);
    // The pool is at its minimum: a second liquidation is all redistribution. At ETH 1200,
    // borrower 21 has 1.183516666666666666 × 1200 × 0.9 = 1278.197999999999999280 (value
    // rounded down) against 1333.666666666666666667: health ⌊…⌋ = 0.958408897775556110; it is
    // closed in full: its whole collateral (less than 1333.67 × 1.1 / 1200 = 1.2225…) goes to
    // borrower 22, the only other borrower, with the debt (3.367… × 1200 × 0.9 ≥ 2667.33, healthy).
    run(&mut engine, &[(set_price(ETH, "1200"), Ok)]);
    let debt = "1333.666666666666666667";
    let summary = liquidated(21, ETH, [debt, "0", "0", "0", "1", "0.958408897775556110"], 0);
    run(
        &mut engine,
        &[(
            liquidate_debt(KEEPER, 21, BOLD, ETH, "1"),
            Events(vec![
                summary,
                Event::DebtRedistributed {
                    account: AccountId(21),
                    debt: BOLD,
                    collateral: ETH,
                    amount: amount(debt),
                    collateral_amount: amount("1.183516666666666666"),
                    receivers: 1,
                    dust: Amount::ZERO,
                },
            ]),
        )],
    );
    assert_eq!(holding(&engine, 22, BOLD).2, shares("4001.000000000000000001"));
    assert_eq!(balance(&engine, 22, ETH), amount("4.550549999999999999"));
    assert_eq!(pool(&engine, 0).deposits, amount("1"));
    assert!(engine.liquidatable_accounts_by_scan().is_empty());
}

/// Trove 20 is the only borrower: the pool (1000, keeps 1) offsets 999; the rest, 1001, becomes
/// the market's deficit and its 0.55055 ETH goes to the venue. The waterfall then walks:
/// `stability:sp` is at its minimum (pays nothing); `stability:backup` (600, keeps 1) burns 599,
/// P = ⌊10^36 × 1 / 600⌋ = 1666666666666666666666666666666666, so its depositor is worth
/// ⌊600 × P / 10^36⌋ = 0.999999999999999999 (the raw unit stays in the pool); the last 402 is
/// socialised: the supply index falls by 402 / 1,000,000 to 0.999598.
#[test]
fn no_other_borrower_records_a_deficit_that_the_backup_pool_burns() {
    let mut engine = venue();
    borrower(&mut engine, 20, "1.1", "0", "2000");
    stability_depositor(&mut engine, 10, "sp", "1000");
    stability_depositor(&mut engine, 11, "backup", "600");
    run(&mut engine, &[(set_price(ETH, "2000"), Ok)]);
    let market = MarketRef::Lending(BOLD);
    let summary = liquidated(20, ETH, ["2000", "999", "0.54945", "0.55055", "1", "0.99"], 0);
    run(
        &mut engine,
        &[(
            liquidate_debt(KEEPER, 20, BOLD, ETH, "1"),
            Events(vec![
                summary,
                Event::DeficitRecorded {
                    market,
                    account: AccountId(20),
                    amount: amount("1001"),
                    deficit_after: amount("1001"),
                },
                Event::StabilityBurned {
                    pool: "backup".into(),
                    market,
                    amount: amount("599"),
                    deposits_after: amount("1"),
                    scale_after: 0,
                },
                Event::LayerPaid {
                    market,
                    layer: "stability:backup".into(),
                    amount: amount("599"),
                    remaining: amount("402"),
                },
                Event::Socialized {
                    market,
                    amount: amount("402"),
                    index_before: Ratio::ONE,
                    index_after: ratio("0.999598"),
                },
                Event::LayerPaid {
                    market,
                    layer: "socialize".into(),
                    amount: amount("402"),
                    remaining: Amount::ZERO,
                },
            ]),
        )],
    );
    assert_eq!(fees(&engine, ETH), amount("0.55055"));
    assert_eq!(pool(&engine, 1).product, 1_666_666_666_666_666_666_666_666_666_666_666);
    assert_eq!(depositor(&engine, 1, 11).0, amount("0.999999999999999999"));
    assert_eq!(depositor(&engine, 0, 10), (amount("1"), amount("0.54945"), Amount::ZERO));
    let market_state = engine.state().lending[0].as_ref().unwrap();
    // 1,000,000 − 2000 + 999 + 599 = 999,598 of cash; nothing owed, nothing uncovered.
    assert_eq!(market_state.cash, amount("999598"));
    assert_eq!((market_state.debt_shares, market_state.deficit), (Shares::ZERO, Amount::ZERO));
}

/// A cross-margin account (0.55 ETH and 0.02 BTC, 2000 of debt; at ETH 2000 health
/// (1100 + 800) × 0.9 / 2000 = 0.855). Liquidated against ETH while it still holds BTC, it closes
/// only what ETH covers with the penalty, ⌊1100 / 1.1⌋ = 1000, giving the pool all 0.55 ETH;
/// P = 0.75, S_ETH = 0.55 / 4000 → 1.375 × 10^23. Then BTC is its only collateral (health
/// 720 / 1000 = 0.72): the whole remaining 1000 is closed and the pool takes all 0.02 BTC
/// (worth 800 < 1000 × 1.1; the pool takes the loss): S_BTC = 0.02 × 0.75 / 3000 → 5 × 10^21,
/// P = 0.5. The depositor ends with 2000, 0.55 ETH and 0.02 BTC.
#[test]
fn cross_margin_account_partial_then_whole() {
    let mut engine = venue();
    borrower(&mut engine, 20, "0.55", "0.02", "2000");
    stability_depositor(&mut engine, 10, "sp", "4000");
    run(&mut engine, &[(set_price(ETH, "2000"), Ok)]);
    let first = liquidated(20, ETH, ["1000", "1000", "0.55", "0", "3000", "0.855"], 0);
    let second = liquidated(20, BTC, ["1000", "1000", "0.02", "0", "2000", "0.72"], 0);
    run(
        &mut engine,
        &[
            (liquidate_debt(KEEPER, 20, BOLD, ETH, "1"), Events(vec![first])),
            (liquidate_debt(KEEPER, 20, BOLD, BTC, "1"), Events(vec![second])),
        ],
    );
    assert_eq!(pool(&engine, 0).sums[&(0, ETH.0)], 137_500_000_000_000_000_000_000);
    assert_eq!(pool(&engine, 0).sums[&(0, BTC.0)], 5_000_000_000_000_000_000_000);
    assert_eq!(depositor(&engine, 0, 10), (amount("2000"), amount("0.55"), amount("0.02")));
    assert_eq!(holding(&engine, 20, BOLD).2, Shares::ZERO);
    run(&mut engine, &[(sp_withdraw(10, "sp", "2000"), Ok)]);
    assert_eq!(balance(&engine, 10, BTC), amount("0.02"));
    assert_eq!(pool(&engine, 0).deposits, Amount::ZERO);
}

/// A cross-margin account whose debt the pool can take only in part, with no other borrower:
/// the rest stays with the account (it has other collateral). The pool (501, keeps 1) offsets
/// 500 of the 1000 that ETH covers and takes ⌊0.55 × 500 / 1000⌋ = 0.275 ETH. A second
/// liquidation finds the pool at its minimum and nobody to redistribute to: rejected (51),
/// nothing changed. Withdrawals may then empty the pool entirely.
#[test]
fn what_nothing_can_absorb_stays_with_a_cross_margin_account() {
    let mut engine = venue();
    borrower(&mut engine, 20, "0.55", "0.02", "2000");
    stability_depositor(&mut engine, 10, "sp", "501");
    run(&mut engine, &[(set_price(ETH, "2000"), Ok)]);
    let first = liquidated(20, ETH, ["500", "500", "0.275", "0", "1", "0.855"], 0);
    run(
        &mut engine,
        &[
            (liquidate_debt(KEEPER, 20, BOLD, ETH, "1"), Events(vec![first])),
            (liquidate_debt(KEEPER, 20, BOLD, ETH, "1"), Code(51)),
            (liquidate_debt(KEEPER, 20, BOLD, BTC, "1"), Code(51)),
        ],
    );
    assert_eq!(holding(&engine, 20, BOLD).2, shares("1500"));
    assert_eq!(balance(&engine, 20, ETH), amount("0.275"));
    assert_eq!(balance(&engine, 20, BTC), amount("0.02"));
    // P = ⌊10^36 / 501⌋ = 1996007984031936127744510978043912, so the depositor is worth
    // ⌊501 × P / 10^36⌋ = 0.999999999999999999 and has gained ⌊501 × S / 10^27⌋ with
    // S = ⌊0.275 × 10^36 / (501 × 10^9)⌋ (raw) = 548902195608782435129740: 0.274999999999999999.
    // It may take everything, below the minimum: one raw unit of each stays, owned by nobody.
    assert_eq!(pool(&engine, 0).product, 1_996_007_984_031_936_127_744_510_978_043_912);
    run(&mut engine, &[(sp_withdraw(10, "sp", "1"), Ok)]);
    assert_eq!(balance(&engine, 10, BOLD), amount("0.999999999999999999"));
    assert_eq!(balance(&engine, 10, ETH), amount("0.274999999999999999"));
    assert_eq!(pool(&engine, 0).deposits, raw(1));
    assert_eq!(pool(&engine, 0).collateral[&ETH.0], raw(1));
}

/// Every rejection of the layer's commands and of the `stability_pool` liquidation mode; each
/// leaves the state hash unchanged (checked by `step`).
#[test]
fn rejections() {
    let mut engine = venue();
    borrower(&mut engine, 20, "0.55", "0.02", "2000");
    run(
        &mut engine,
        &[
            (open(30), Ok),
            (deposit(30, ETH, "0.5"), Ok),
            (set_price(ETH, "2000"), Ok),
            // 0.5 ETH × 2000 × 0.9 = 900, plus the 1000 BOLD borrowed × 0.5 = 1400 ≥ 1000.
            (borrow(30, BOLD, "1000"), Ok),
            // Unknown pool (36), zero and negative amounts (6).
            (sp_deposit(30, "nope", "1"), Code(36)),
            (sp_withdraw(30, "nope", "1"), Code(36)),
            (sp_claim(30, "nope"), Code(36)),
            (sp_deposit(30, "sp", "0"), Code(6)),
            (sp_withdraw(30, "sp", "-1"), Code(6)),
            // Unknown account (1), more than the balance (8).
            (sp_deposit(99, "sp", "1"), Code(1)),
            (sp_deposit(30, "sp", "1000.000000000000000001"), Code(8)),
            // Deposits are not collateral: 900 + 0 < 1000 of debt (10).
            (sp_deposit(30, "sp", "1000"), Code(10)),
            // No deposit to withdraw from or claim (50).
            (sp_withdraw(30, "sp", "1"), Code(50)),
            (sp_claim(30, "sp"), Code(50)),
            (sp_deposit(30, "sp", "100"), Ok),
            (sp_withdraw(30, "backup", "1"), Code(50)),
            // Account 20 (health 0.855) holds no... it holds ETH and BTC: liquidating against
            // an asset it lacks is refused (19); against ETH with the pool at 100 − 1 = 99 and
            // borrower 30 to redistribute to, it works.
            (liquidate_debt(KEEPER, 20, BOLD, BOLD, "1"), Code(19)),
            (liquidate_debt(KEEPER, 20, BOLD, ETH, "1"), Ok),
        ],
    );
    // A pool in another asset than the market's debt: refused at liquidation (35).
    let mismatched = VENUE.replace(
        "[[stability_pool]]\nname = \"sp\"\nasset = \"BOLD\"",
        "[[stability_pool]]\nname = \"sp\"\nasset = \"ETH\"",
    );
    let mismatched = mismatched.replace(
        "layers = [\"stability:sp\", \"stability:backup\", \"socialize\"]",
        "layers = [\"stability:backup\", \"socialize\"]",
    );
    let mut engine = common::engine(&mismatched);
    run(
        &mut engine,
        &[
            (set_price(BOLD, "1"), Ok),
            (set_price(ETH, "4000"), Ok),
            (open(SUPPLIER), Ok),
            (open(KEEPER), Ok),
            (deposit(SUPPLIER, BOLD, "10000"), Ok),
            (supply(SUPPLIER, BOLD, "10000"), Ok),
        ],
    );
    borrower(&mut engine, 20, "1", "0", "3000");
    run(
        &mut engine,
        &[(set_price(ETH, "3000"), Ok), (liquidate_debt(KEEPER, 20, BOLD, ETH, "1"), Code(35))],
    );
}

/// The code of every rejection this layer adds, and their messages.
#[test]
fn rejection_codes_and_messages() {
    let none =
        backstop_core::Rejection::NoStabilityDeposit { account: AccountId(3), pool: "sp".into() };
    assert_eq!(none.code(), 50);
    assert_eq!(
        none.to_string(),
        "rejected (50): account 3 has no deposit in stability pool \"sp\""
    );
    let full = backstop_core::Rejection::StabilityPoolCannotAbsorb { pool: "sp".into() };
    assert_eq!(full.code(), 51);
    assert!(full.to_string().starts_with("rejected (51): stability pool \"sp\""));
}

/// Lending à la Liquity v2, end to end on examples/liquity-v2.toml (WETH branch: MCR 110%,
/// penalty 5%, pool keeps 1 BOLD):
///
/// - troves 20 (1 WETH, 2500 BOLD), 21 (2 WETH, 4000), 22 (3 WETH, 5000) at WETH 3000; the pool
///   holds 2000 (depositor 10) + 1000 (11).
/// - WETH 2700: trove 20 (ICR 108%) is offset in full: the pool pays 2500 and takes
///   ⌊2500 × 1.05 / 2700⌋ = 0.972222222222222222 WETH; the 0.027777777777777778 above debt plus
///   penalty stays with the borrower. S = ⌊0.972222222222222222 × 10^36 / (3000 × 10^9)⌋ (raw)
///   = 324074074074074074000000; P = ⌊10^36 × 500 / 3000⌋.
/// - WETH 2100: trove 21 (ICR 105%): the pool offsets 499 (keeping 1) and takes ⌊2 × 499 / 4000⌋
///   = 0.2495 WETH (= 499 × 1.05 / 2100); the rest, 3501 with 1.7505 WETH, goes to trove 22, the
///   only other borrower (8501 against 4.7505 WETH: ICR 117.35%).
/// - The depositors are left with 2/3 and 1/3 of 1 BOLD and of 0.972222222222222222 + 0.2495
///   WETH, each rounded down: 0.666666666666666666 + 0.814481481481481481 and
///   0.333333333333333333 + 0.407240740740740740; one raw unit of each stays in the pool.
#[test]
fn lending_a_la_liquity_stability_pool_then_redistribution() {
    let config = include_str!("../../../examples/liquity-v2.toml");
    let mut engine = engine(config);
    let (bold, weth) = (AssetId(0), AssetId(1));
    run(
        &mut engine,
        &[
            (set_price(bold, "1"), Ok),
            (set_price(weth, "3000"), Ok),
            (open(100), Ok),
            (open(KEEPER), Ok),
            (deposit(100, bold, "1000000"), Ok),
            (supply(100, bold, "1000000"), Ok),
        ],
    );
    for (id, collateral, debt) in [(20, "1", "2500"), (21, "2", "4000"), (22, "3", "5000")] {
        run(
            &mut engine,
            &[
                (open(id), Ok),
                (deposit(id, weth, collateral), Ok),
                (borrow(id, bold, debt), Ok),
                (withdraw(id, bold, debt), Ok),
            ],
        );
    }
    for (id, value) in [(10, "2000"), (11, "1000")] {
        run(
            &mut engine,
            &[
                (open(id), Ok),
                (deposit(id, bold, value), Ok),
                (sp_deposit(id, "bold-weth", value), Ok),
            ],
        );
    }
    run(&mut engine, &[(set_price(weth, "2700"), Ok)]);
    assert_eq!(engine.liquidatable_accounts_by_scan(), vec![AccountId(20)]);
    let events = run(&mut engine, &[(liquidate_debt(KEEPER, 20, bold, weth, "1"), Ok)]);
    assert!(matches!(
        events.as_slice(),
        [Event::StabilityLiquidated { debt_closed, offset, collateral_to_pool, .. }]
            if *debt_closed == amount("2500") && *offset == amount("2500")
                && *collateral_to_pool == amount("0.972222222222222222")
    ));
    assert_eq!(balance(&engine, 20, weth), amount("0.027777777777777778"));
    let sp = pool(&engine, 0);
    assert_eq!(sp.sums[&(0, weth.0)], 324_074_074_074_074_074_000_000);
    assert_eq!(sp.product, 166_666_666_666_666_666_666_666_666_666_666_666);

    run(&mut engine, &[(set_price(weth, "2100"), Ok)]);
    assert_eq!(engine.liquidatable_accounts_by_scan(), vec![AccountId(21)]);
    let events = run(&mut engine, &[(liquidate_debt(KEEPER, 21, bold, weth, "1"), Ok)]);
    assert_eq!(
        events[1],
        Event::DebtRedistributed {
            account: AccountId(21),
            debt: bold,
            collateral: weth,
            amount: amount("3501"),
            collateral_amount: amount("1.7505"),
            receivers: 1,
            dust: Amount::ZERO,
        }
    );
    assert!(matches!(
        events[0],
        Event::StabilityLiquidated { offset, collateral_to_pool, .. }
            if offset == amount("499") && collateral_to_pool == amount("0.2495")
    ));
    assert_eq!(holding(&engine, 22, bold).2, shares("8501"));
    assert_eq!(balance(&engine, 22, weth), amount("4.7505"));
    assert!(engine.liquidatable_accounts_by_scan().is_empty());
    let sp = pool(&engine, 0);
    assert_eq!(sp.deposits, amount("1"));
    let value = |id: u64| {
        let deposit = &sp.depositors[&AccountId(id)];
        (sp.compounded_deposit(deposit).unwrap(), sp.collateral_gain(deposit, weth.0).unwrap())
    };
    assert_eq!(value(10), (amount("0.666666666666666666"), amount("0.814481481481481481")));
    assert_eq!(value(11), (amount("0.333333333333333333"), amount("0.407240740740740740")));
    assert_eq!(sp.collateral[&weth.0], amount("1.221722222222222222"));
    // Both leave; the raw units of rounding stay in the pool.
    run(
        &mut engine,
        &[(sp_withdraw(10, "bold-weth", "5"), Ok), (sp_withdraw(11, "bold-weth", "5"), Ok)],
    );
    let sp = pool(&engine, 0);
    assert_eq!((sp.deposits, sp.collateral[&weth.0]), (raw(1), raw(1)));
    assert!(sp.depositors.is_empty());
    assert_eq!(balance(&engine, 10, weth), amount("0.814481481481481481"));
}

/// examples/compound-v3.toml: Compound's absorb as a takeover by the protocol (backstop account
/// 1), and the store-front arithmetic of lending-perps-cover.md §2.5 as a vector: WETH
/// liquidationFactor 0.95 (our bonus 0.05) → 5% penalty; storeFrontPriceFactor 0.5 → resale
/// discount 0.5 × 0.05 = 2.5%.
///
/// Borrower: 10 WETH, 16,000 USDC borrowed at 2000 (0.825 × 20,000 = 16,500). WETH at 1780:
/// 0.895 × 17,800 = 15,931 < 16,000. Comet would credit the borrower 0.95 × 17,800 = 16,910
/// (910 above its debt) and resell the 10 WETH at 1780 × 0.975 = 1735.5, i.e. 17,355: reserves
/// +445. Here the protocol takes over everything (the borrower's equity, 1800, goes with it);
/// selling at the store-front price (the buyer's 17,355 come in, the protocol repays 16,000 and
/// the 10 WETH go out) leaves it 1355 = 445 + 910. Then WETH at 1500 for a second borrower:
/// Comet's reserves lose 16,000 − 10 × 1500 × 0.975 = 1375, and so does the protocol account,
/// out of its USDC. No deficit is recorded: the reserves fund does not pay.
#[test]
fn compound_v3_absorb_as_takeover_and_store_front_vector() {
    let config = include_str!("../../../examples/compound-v3.toml");
    let mut engine = engine(config);
    let (usdc, weth) = (AssetId(0), AssetId(1));
    // The vector itself, from the venue's WETH market.
    let penalty = engine.config().lending[1].liquidation_bonus;
    assert_eq!(penalty, ratio("0.05"));
    let liquidation_factor = Ratio::ONE.checked_sub(penalty).unwrap();
    let discount = ratio("0.5").mul_ratio(penalty, backstop_money::Rounding::Floor).unwrap();
    assert_eq!((liquidation_factor, discount), (ratio("0.95"), ratio("0.025")));
    let store_front = price("1780")
        .mul_ratio(Ratio::ONE.checked_sub(discount).unwrap(), backstop_money::Rounding::Floor)
        .unwrap();
    assert_eq!(store_front, price("1735.5"));
    let credit = amount("17800").mul_ratio(liquidation_factor, backstop_money::Rounding::Floor);
    assert_eq!(credit.unwrap(), amount("16910"));

    run(
        &mut engine,
        &[
            (set_price(usdc, "1"), Ok),
            (set_price(weth, "2000"), Ok),
            (open_backstop(1), Ok),
            (open(2), Ok),
            (open(3), Ok),
            (open(4), Ok),
            (open(5), Ok),
            (deposit(2, usdc, "100000"), Ok),
            (supply(2, usdc, "100000"), Ok),
            // The protocol's own USDC (its part of the reserves).
            (deposit(1, usdc, "2000"), Ok),
            (deposit(3, weth, "10"), Ok),
            (borrow(3, usdc, "16000"), Ok),
            (withdraw(3, usdc, "16000"), Ok),
            (deposit(5, weth, "10"), Ok),
            (borrow(5, usdc, "16000"), Ok),
            (withdraw(5, usdc, "16000"), Ok),
            (set_price(weth, "1780"), Ok),
            (
                liquidate_debt(4, 3, usdc, weth, "1"),
                Events(vec![Event::AccountTakenOver {
                    backstop: AccountId(1),
                    account: AccountId(3),
                    equity: amount("1800"),
                }]),
            ),
            // buyCollateral at the store-front price, then repay.
            (deposit(1, usdc, "17355"), Ok),
            (repay(1, usdc, "16000"), Ok),
            (withdraw(1, weth, "10"), Ok),
        ],
    );
    assert_eq!(balance(&engine, 1, usdc), amount("3355"));
    run(
        &mut engine,
        &[
            (set_price(weth, "1500"), Ok),
            (liquidate_debt(4, 5, usdc, weth, "1"), Ok),
            (deposit(1, usdc, "14625"), Ok),
            (repay(1, usdc, "16000"), Ok),
            (withdraw(1, weth, "10"), Ok),
        ],
    );
    // 3355 − 1375 = 1980.
    assert_eq!(balance(&engine, 1, usdc), amount("1980"));
    assert_eq!(holding(&engine, 1, usdc).2, Shares::ZERO);
    assert_eq!(engine.state().net.funds[0].balance, Amount::ZERO);
    assert!(engine.state().net.payments.is_empty());
}

/// The script format knows the three commands and checks the pool name.
#[test]
fn script_commands() {
    use backstop_core::script::parse_script;
    let config = backstop_core::VenueConfig::from_toml_str(VENUE).unwrap();
    let text = "stability_deposit account=1 pool=sp amount=5\n\
                stability_withdraw account=1 pool=backup amount=2.5\n\
                stability_claim account=1 pool=sp\n";
    let lines = parse_script(text, &config).unwrap();
    assert_eq!(lines[0].command, sp_deposit(1, "sp", "5"));
    assert_eq!(lines[1].command, sp_withdraw(1, "backup", "2.5"));
    assert_eq!(lines[2].command, sp_claim(1, "sp"));
    let errors = parse_script("stability_claim account=1 pool=nope\n", &config).unwrap_err();
    assert_eq!(errors[0].field.as_deref(), Some("pool"));
    assert!(errors[0].message.contains("unknown stability pool \"nope\"; known: sp, backup"));
}

// ----- property: depositors never collectively claim more than the pool holds -----

#[derive(Debug, Clone)]
enum Op {
    /// Depositor (0–3) adds `units` × 10^-6 (plus `dust` raw units).
    Deposit { who: u8, units: u32, dust: u16 },
    /// Depositor withdraws `units` × 10^-6 (all its gains are paid).
    Withdraw { who: u8, units: u32 },
    /// Offsets `bps` / 10,000 of what is above one raw unit, minus `shave` raw units, for
    /// `milli` / 1000 units of asset 1 or 2 per unit of debt (as a liquidation gives: the
    /// collateral is worth at most the debt plus the penalty).
    Offset { bps: u16, shave: u32, milli: u32, asset: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0_u8..4, 1_u32..2_000_000_000, 0_u16..1000).prop_map(|(who, units, dust)| Op::Deposit {
            who,
            units,
            dust
        }),
        (0_u8..4, 1_u32..2_000_000_000).prop_map(|(who, units)| Op::Withdraw { who, units }),
        (0_u16..=10_000, 0_u32..1_000, 0_u32..5_000, any::<bool>())
            .prop_map(|(bps, shave, milli, asset)| Op::Offset { bps, shave, milli, asset }),
    ]
}

/// Checks Σ compounded ≤ deposits and Σ gains ≤ collateral per asset.
fn check_backed(pool: &StabilityPoolState) {
    let mut deposits = Amount::ZERO;
    let mut gains = [Amount::ZERO; 3];
    for deposit in pool.depositors.values() {
        deposits = deposits.checked_add(pool.compounded_deposit(deposit).unwrap()).unwrap();
        for asset in 1..3_u16 {
            let gain = pool.collateral_gain(deposit, asset).unwrap();
            gains[usize::from(asset)] = gains[usize::from(asset)].checked_add(gain).unwrap();
        }
    }
    assert!(deposits <= pool.deposits, "claims {deposits} > deposits {}", pool.deposits);
    for asset in 1..3_u16 {
        let held = pool.collateral.get(&asset).copied().unwrap_or_default();
        assert!(gains[usize::from(asset)] <= held, "asset {asset}: gains > held {held}");
    }
    assert!(pool.product >= P_MIN && pool.product <= P_PRECISION);
}

proptest! {
    #![proptest_config(backstop_testkit::proptest_config())]

    /// Random deposits, withdrawals (paying gains) and offsets, many of them nearly emptying the
    /// pool (so scales change): what depositors can withdraw of deposits and of each collateral
    /// never exceeds what the pool holds.
    #[test]
    fn depositors_never_claim_more_than_the_pool_holds(ops in proptest::collection::vec(op(), 1..60)) {
        let micro = 1_000_000_000_000_i128;
        let mut pool = StabilityPoolState::new();
        for op in ops {
            match op {
                Op::Deposit { who, units, dust } => {
                    let id = AccountId(u64::from(who));
                    let value = raw(i128::from(units) * micro + i128::from(dust));
                    let before = pool.depositors.get(&id).map_or(Amount::ZERO, |deposit| {
                        pool.compounded_deposit(deposit).unwrap()
                    });
                    pay_gains(&mut pool, id);
                    pool.deposits = pool.deposits.checked_add(value).unwrap();
                    let snapshot = pool.snapshot(before.checked_add(value).unwrap());
                    pool.depositors.insert(id, snapshot);
                }
                Op::Withdraw { who, units } => {
                    let id = AccountId(u64::from(who));
                    let Some(deposit) = pool.depositors.get(&id).cloned() else { continue };
                    let value = pool.compounded_deposit(&deposit).unwrap();
                    let out = value.min(raw(i128::from(units) * micro));
                    pay_gains(&mut pool, id);
                    pool.deposits = pool.deposits.checked_sub(out).unwrap();
                    prop_assert!(!pool.deposits.is_negative());
                    let snapshot = pool.snapshot(value.checked_sub(out).unwrap());
                    pool.depositors.insert(id, snapshot);
                }
                Op::Offset { bps, shave, milli, asset } => {
                    let above = pool.deposits.raw() - 1;
                    if above <= 0 {
                        continue;
                    }
                    let debt = ((above * i128::from(bps)).div_euclid(10_000) - i128::from(shave)).max(0);
                    let gain = raw((debt * i128::from(milli)).div_euclid(1000));
                    let asset = if asset { 1 } else { 2 };
                    pool.absorb(raw(debt), Some((asset, gain))).unwrap();
                }
            }
            check_backed(&pool);
        }
    }
}

/// Pays a depositor's gains out of the pool (as the engine does, capped at what it holds).
fn pay_gains(pool: &mut StabilityPoolState, id: AccountId) {
    let Some(deposit) = pool.depositors.get(&id).cloned() else { return };
    for (asset, gain) in pool.gains(&deposit).unwrap() {
        let held = pool.collateral[&asset];
        assert!(gain <= held);
        pool.collateral.insert(asset, held.checked_sub(gain).unwrap());
    }
}
