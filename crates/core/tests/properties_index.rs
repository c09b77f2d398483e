//! The liquidation index at its boundaries: for random lending pairs and perpetual positions of
//! every size (dust included) on the fixture venues, bisection finds the price at which the exact
//! check starts finding the account liquidatable, and at every price around it the index finds
//! exactly the accounts a scan finds. Random sequences rarely land within rounding distance of a
//! liquidation point; this property goes there on purpose.
//!
//! Run with `cargo test -p backstop-core --test properties_index` (256 cases unless
//! `PROPTEST_CASES` says otherwise).

use backstop_core::{AccountId, AccountKind, AssetId, Command, Engine, PerpMarketId};
use backstop_money::{Amount, Price, Rounding, SCALE, mul_div};
use backstop_testkit::steps::{SizedAction, Step, quantise_down};
use backstop_testkit::venues::{self, Fixture};
use backstop_testkit::{probes, run_checked, run_steps_checked};
use proptest::prelude::*;

const LENDER: AccountId = AccountId(1);
const BORROWER: AccountId = AccountId(2);
const VICTIM: AccountId = AccountId(3);

/// What the account under test owes and holds.
#[derive(Debug, Clone, Copy)]
enum Exposure {
    /// Collateral in one asset and debt in another (borrowed, then withdrawn).
    Lending {
        /// Index of the collateral among the venue's lending assets.
        collateral: usize,
        /// Which other lending asset is the debt.
        debt_offset: usize,
        /// Debt value as a fraction of the collateral value, in basis points.
        ltv_bps: i128,
        /// Move the debt's price up (else the collateral's down).
        move_debt: bool,
    },
    /// A perpetual position margined only in its settlement asset.
    Perp {
        /// Index of the market.
        market: usize,
        /// Notional as a multiple of the collateral value, in basis points.
        leverage_bps: i128,
        /// Long (else short).
        long: bool,
    },
}

fn exposure() -> impl Strategy<Value = Exposure> {
    prop_oneof![
        (0_usize..4, 1_usize..4, 500_i128..=8_000, any::<bool>()).prop_map(
            |(collateral, debt_offset, ltv_bps, move_debt)| Exposure::Lending {
                collateral,
                debt_offset,
                ltv_bps,
                move_debt
            }
        ),
        (0_usize..4, 5_000_i128..=40_000, any::<bool>())
            .prop_map(|(market, leverage_bps, long)| Exposure::Perp { market, leverage_bps, long }),
    ]
}

/// A raw collateral amount of any size: `m × 10^e` for `e` in 0..=27.
fn magnitude() -> impl Strategy<Value = i128> {
    (1_i128..=9, 0_u32..=27).prop_map(|(mantissa, exponent)| mantissa * 10_i128.pow(exponent))
}

/// Venues without an oracle move limit (bisection sets arbitrary prices).
fn fixture() -> impl Strategy<Value = Fixture> {
    prop::sample::select(vec![venues::LENDING_PERP, venues::DUTCH_AUCTION, venues::FINE_DECIMALS])
}

/// At every price around an account's liquidation point (each raw unit within 64 of it, then
/// doubling relative steps from 10⁻¹² up to about 1), the index finds exactly the accounts a scan
/// finds.
#[test]
fn the_index_equals_a_scan_around_every_liquidation_point() {
    let cases = (fixture(), 0_u64..=90 * 86_400, magnitude(), exposure());
    let config = backstop_testkit::proptest_config();
    proptest!(config, |((fixture, secs, collateral, exposure) in cases)| {
        check_boundary(fixture, secs, collateral, exposure);
    });
}

/// A market with liquidity and, after `interest_secs`, a borrow index away from one.
fn market_with_interest(fixture: Fixture, interest_secs: u64) -> Engine {
    let shape = fixture.shape();
    let mut engine = fixture.engine();
    let mut steps = vec![
        Step::Apply(Command::OpenAccount { account: LENDER, kind: AccountKind::Regular }),
        Step::Apply(Command::OpenAccount { account: BORROWER, kind: AccountKind::Regular }),
        Step::Apply(Command::OpenAccount { account: VICTIM, kind: AccountKind::Regular }),
    ];
    let huge = Amount::from_raw(1_000_000_000 * SCALE);
    for asset in &shape.assets {
        steps
            .push(Step::Apply(Command::SetPrice { asset: asset.id, price: asset.reference_price }));
    }
    for asset in &shape.assets {
        let amount = backstop_testkit::generators::amount_worth(asset, huge);
        for account in [LENDER, BORROWER] {
            steps.push(Step::Apply(Command::Deposit { account, asset: asset.id, amount }));
        }
        if asset.lending {
            let supply = |fraction_bps| Step::Sized {
                action: SizedAction::Supply,
                account: LENDER,
                asset: asset.id,
                fraction_bps,
                quantise: true,
            };
            steps.push(supply(5_000));
            steps.push(Step::Sized {
                action: SizedAction::Borrow,
                account: BORROWER,
                asset: asset.id,
                fraction_bps: 500,
                quantise: true,
            });
        }
    }
    steps.push(Step::AdvanceBy { secs: interest_secs });
    steps.push(Step::RefreshPrices);
    run_steps_checked(&mut engine, &steps);
    engine
}

fn price_of(engine: &Engine, asset: AssetId) -> Price {
    backstop_testkit::steps::stored_price(engine, asset)
}

/// A raw amount of `asset` worth `value` (numeraire raw), rounded down to its decimals, at least
/// one smallest unit.
fn quantity(engine: &Engine, asset: AssetId, value: i128) -> Amount {
    let quantum = backstop_testkit::steps::quantum(engine, asset);
    let price = price_of(engine, asset).raw().max(1);
    let raw = mul_div(value, SCALE, price, Rounding::Floor).unwrap_or(0);
    let quantised = quantise_down(Amount::from_raw(raw), quantum);
    if quantised.is_positive() { quantised } else { Amount::from_raw(quantum) }
}

fn value_of(engine: &Engine, asset: AssetId, amount: Amount) -> i128 {
    amount.value_at(price_of(engine, asset), Rounding::Floor).map_or(0, |value| value.raw())
}

/// Sets up the exposure; returns the asset whose price to move and the two ends of the search
/// (safe, liquidatable), or `None` when the engine refused the setup.
fn set_up(
    engine: &mut Engine,
    collateral_raw: i128,
    exposure: Exposure,
) -> Option<(AssetId, Price, Price)> {
    let config = engine.config().clone();
    let lending: Vec<AssetId> =
        config.lending.iter().filter_map(|market| config.asset_id(&market.asset)).collect();
    match exposure {
        Exposure::Lending { collateral, debt_offset, ltv_bps, move_debt } => {
            let count = lending.len();
            if count < 2 {
                return None;
            }
            let first = collateral % count;
            let collateral = *lending.get(first)?;
            let debt = *lending.get((first + 1 + debt_offset % (count - 1)) % count)?;
            let deposit = quantise_down(
                Amount::from_raw(collateral_raw),
                backstop_testkit::steps::quantum(engine, collateral),
            );
            if !deposit.is_positive() {
                return None;
            }
            let value =
                mul_div(value_of(engine, collateral, deposit), ltv_bps, 10_000, Rounding::Floor)
                    .ok()?;
            let borrow = quantity(engine, debt, value);
            let commands = [
                Command::Deposit { account: VICTIM, asset: collateral, amount: deposit },
                Command::Borrow { account: VICTIM, asset: debt, amount: borrow },
                Command::Withdraw { account: VICTIM, asset: debt, amount: borrow },
            ];
            if run_checked(engine, &commands).iter().any(Result::is_err) {
                return None;
            }
            let (asset, factor_up) = if move_debt { (debt, true) } else { (collateral, false) };
            Some(search_ends(engine, asset, factor_up))
        }
        Exposure::Perp { market, leverage_bps, long } => {
            let count = config.perps.len();
            if count == 0 {
                return None;
            }
            let perp = config.perps.get(market % count)?;
            let market = PerpMarketId(u16::try_from(market % count).ok()?);
            let underlying = config.asset_id(&perp.underlying)?;
            let settlement = config.asset_id(&perp.settlement)?;
            let deposit = quantise_down(
                Amount::from_raw(collateral_raw),
                backstop_testkit::steps::quantum(engine, settlement),
            );
            if !deposit.is_positive() {
                return None;
            }
            let notional = mul_div(
                value_of(engine, settlement, deposit),
                leverage_bps,
                10_000,
                Rounding::Floor,
            )
            .ok()?;
            let mark = backstop_testkit::steps::mark_price(
                price_of(engine, underlying),
                price_of(engine, settlement),
            );
            let base = mul_div(notional, SCALE, mark.raw().max(1), Rounding::Floor).ok()?.max(1);
            let size = Amount::from_raw(if long { base } else { -base });
            let commands = [
                Command::Deposit { account: VICTIM, asset: settlement, amount: deposit },
                Command::Trade { market, taker: VICTIM, maker: LENDER, size, price: mark },
            ];
            if run_checked(engine, &commands).iter().any(Result::is_err) {
                return None;
            }
            Some(search_ends(engine, underlying, !long))
        }
    }
}

/// The current price of `asset` (safe) and a billion times it, up or down (liquidatable).
fn search_ends(engine: &Engine, asset: AssetId, up: bool) -> (AssetId, Price, Price) {
    let current = price_of(engine, asset);
    let far = if up {
        current.raw().saturating_mul(1_000_000_000)
    } else {
        current.raw().checked_div(1_000_000_000).unwrap_or(0).max(1)
    };
    (asset, current, Price::from_raw(far))
}

fn check_boundary(fixture: Fixture, interest_secs: u64, collateral_raw: i128, exposure: Exposure) {
    let mut engine = market_with_interest(fixture, interest_secs);
    let Some((asset, safe, liquidatable)) = set_up(&mut engine, collateral_raw, exposure) else {
        return;
    };
    let Some(boundary) =
        probes::liquidation_boundary(&mut engine, VICTIM, asset, safe, liquidatable)
    else {
        return;
    };
    let victim = engine.account(VICTIM).cloned();
    for price in probes::prices_around(boundary, 64, 40) {
        if !probes::set_price(&mut engine, asset, price) {
            continue;
        }
        let mut indexed = engine.liquidatable_accounts();
        indexed.sort();
        let scanned = engine.liquidatable_accounts_by_scan();
        assert_eq!(
            indexed, scanned,
            "{fixture:?}: at price {price:?} of asset {} (boundary {boundary:?}) the index finds \
             {indexed:?} and a scan finds {scanned:?}; victim {victim:?}",
            asset.0
        );
    }
}
