//! Circuit breakers: venue status from the staker pool (Blend's pool status, rust-protocols.md
//! §2.5), what each status blocks and never blocks, withdrawal gating while an account is
//! insolvent (dYdX, lending-perps-cover.md §2.6), the oracle pause, and Blend's threshold value
//! (vector B4).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::backstop::breaker::{
    blend_threshold_met, blend_threshold_value, queued_share, status_for,
};
use backstop_core::backstop::layers::BreakerConfig;
use backstop_core::backstop::net::{StakerPoolState, VenueStatus};
use backstop_core::{AccountId, AssetId, AuctionId, Command, Engine, Event};
use backstop_money::Amount;
use common::Expect::{Code, Events, Ok};
use common::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);

const LENDER: u64 = 1;
const BORROWER: u64 = 2;
const KEEPER: u64 = 3;
const STAKER: u64 = 4;
const LONG: u64 = 5;
const SHORT: u64 = 6;
const NEWCOMER: u64 = 7;
const USDC_ONLY: u64 = 8;

/// A venue with a USDC staker pool driving the status (default thresholds 0.3 / 0.6), and the
/// gating and pause switches as given.
fn venue(target_assets: &str, gate: bool, pause: bool, with_breaker: bool) -> String {
    let breaker = if with_breaker {
        format!(
            r#"
[breaker]
pool = "backstop"
gate_withdrawals_when_insolvent = {gate}
pause_on_oracle_move = {pause}
"#
        )
    } else {
        String::new()
    };
    format!(
        r#"
[oracle]
max_move = "0.5"

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

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "1000"

[[staker_pool]]
name = "backstop"
asset = "USDC"
cooldown_secs = 100
target_assets = "{target_assets}"
{breaker}"#
    )
}

fn stake(account: u64, value: &str) -> Command {
    Command::Stake { account: AccountId(account), pool: "backstop".into(), amount: amount(value) }
}

fn queue(account: u64, value: &str) -> Command {
    Command::RequestUnstake {
        account: AccountId(account),
        pool: "backstop".into(),
        shares: shares(value),
    }
}

fn cancel(account: u64, value: &str) -> Command {
    Command::CancelUnstake {
        account: AccountId(account),
        pool: "backstop".into(),
        shares: shares(value),
    }
}

fn update() -> Command {
    Command::UpdateStatus {}
}

fn set_status(status: VenueStatus) -> Command {
    Command::SetStatus { status }
}

fn changed(before: VenueStatus, after: VenueStatus, by_admin: bool) -> Expect {
    Events(vec![Event::StatusChanged { before, after, by_admin }])
}

use VenueStatus::{Active, Frozen, OnIce};

/// Prices USDC 1 / ETH 2000; staker 4 stakes 100 USDC (100 shares, 1:1 into an empty pool);
/// lender 1 supplies 50,000 USDC; borrower 2 borrows 5000 USDC against 10 ETH; account 5 is
/// long and account 6 short 1 ETH-PERP at 2000, each with 10,000 USDC; keeper 3 holds 30,000
/// USDC; account 8 holds 10,000 USDC only.
fn setup(toml: &str) -> Engine {
    let mut engine = engine(toml);
    let mut table = vec![(set_price(USDC, "1"), Ok), (set_price(ETH, "2000"), Ok)];
    for id in 1..=8 {
        table.push((open(id), Ok));
    }
    table.extend([
        (deposit(STAKER, USDC, "100"), Ok),
        (stake(STAKER, "100"), Ok),
        (deposit(LENDER, USDC, "100000"), Ok),
        (supply(LENDER, USDC, "50000"), Ok),
        (deposit(BORROWER, ETH, "10"), Ok),
        (borrow(BORROWER, USDC, "5000"), Ok),
        (deposit(LONG, USDC, "10000"), Ok),
        (deposit(SHORT, USDC, "10000"), Ok),
        (trade(0, LONG, SHORT, "1", "2000"), Ok),
        (deposit(KEEPER, USDC, "30000"), Ok),
        (deposit(USDC_ONLY, USDC, "10000"), Ok),
    ]);
    run(&mut engine, &table);
    let pool = &engine.state().net.staker_pools[0];
    assert_eq!((pool.assets, pool.shares), (amount("100"), shares("100")));
    engine
}

fn status(engine: &Engine) -> (VenueStatus, bool) {
    (engine.state().net.status, engine.state().net.status_by_admin)
}

/// B4 (Blend `test_calc_pool_backstop_threshold*`), on Blend's 7-decimal integers:
/// K = ⌊blnd⌋⁴ × ⌊usdc⌋ × 10⁷, value = K / 100 000⁵.
/// - (175,000; 6,500): 175,000⁴ × 6,500 = 6.0962890625 × 10²⁴ → 6,096,289.0625 → 0.6096289;
/// - (200,000; 6,250): 1.6 × 10²¹ × 6,250 = 10²⁵ → 1.0000000 (met);
/// - (20,000; 625): 1.6 × 10¹⁷ × 625 = 10²⁰ → 100 → 0.0000100;
/// - (10,000; 312.5): USDC floors to 312: 10¹⁶ × 312 = 3.12 × 10¹⁸ → 3 → 0.0000003;
/// - (5,000; 1,000): 6.25 × 10¹⁷ → 0.625 → 0;
/// - (50,000,000; 10,000,000): 6.25 × 10³⁷ × 10⁷ saturates at i128::MAX → i128::MAX / 10²⁵ =
///   17,014,118,346,046 → 1,701,411.8346046.
#[test]
fn vector_b4_blend_threshold_value() {
    let units = |whole: i128| whole * 10_000_000;
    assert_eq!(blend_threshold_value(units(175_000), units(6_500)), 6_096_289);
    assert_eq!(blend_threshold_value(units(200_000), units(6_250)), 10_000_000);
    assert_eq!(blend_threshold_value(units(20_000), units(625)), 100);
    assert_eq!(blend_threshold_value(units(10_000), 3_125_000_000), 3);
    assert_eq!(blend_threshold_value(units(5_000), units(1_000)), 0);
    assert_eq!(blend_threshold_value(units(50_000_000), units(10_000_000)), 17_014_118_346_046);
    assert_eq!(Some(17_014_118_346_046), i128::MAX.checked_div(10_i128.pow(25)));
    // Backstop side: 200,000⁴ × 6,249 = 9.9984 × 10²⁴ < 10²⁵; 200,001⁴ × 6,250 > 10²⁵.
    assert!(!blend_threshold_met(units(200_000), units(6_249)));
    assert!(blend_threshold_met(units(200_001), units(6_250)));
    assert!(blend_threshold_met(units(200_000), units(6_250)));
}

/// The status rule on its own: queued share q = ⌈Q / S⌉ (18 decimals, rounded up like Blend's
/// q4w percentage) against 0.3 / 0.6, and coverage against the target.
#[test]
fn status_for_is_exact_at_the_thresholds() {
    let config = BreakerConfig {
        pool: Some("backstop".into()),
        on_ice_queued_share: ratio("0.3"),
        frozen_queued_share: ratio("0.6"),
        gate_withdrawals_when_insolvent: false,
        pause_on_oracle_move: false,
    };
    let pool = |queued: &str, total: &str| StakerPoolState {
        queued_shares: shares(queued),
        shares: shares(total),
        ..Default::default()
    };
    let (hundred, none) = (amount("100"), Amount::ZERO);
    let at = |queued: &str| {
        let share = queued_share(&pool(queued, "100")).unwrap();
        (share, status_for(&config, share, hundred, hundred))
    };
    // (30·10¹⁸ − 100) / 100 = 0.3·10¹⁸ − 1 exactly: just below, active.
    assert_eq!(at("29.9999999999999999"), (ratio("0.299999999999999999"), Active));
    // (30·10¹⁸ − 90) / 100 = 0.3·10¹⁸ − 0.9, rounded up to 0.3: on ice.
    assert_eq!(at("29.99999999999999991"), (ratio("0.3"), OnIce));
    assert_eq!(at("30"), (ratio("0.3"), OnIce));
    assert_eq!(at("59.9999999999999999"), (ratio("0.599999999999999999"), OnIce));
    assert_eq!(at("60"), (ratio("0.6"), Frozen));
    assert_eq!(at("100"), (ratio("1"), Frozen));
    // Coverage: below a positive target is on ice; at the target, or without one, active.
    assert_eq!(status_for(&config, ratio("0"), amount("99.999999"), hundred), OnIce);
    assert_eq!(status_for(&config, ratio("0"), hundred, hundred), Active);
    assert_eq!(status_for(&config, ratio("0"), none, none), Active);
    // Queue beats coverage: frozen even when the pool is short.
    assert_eq!(status_for(&config, ratio("0.6"), none, hundred), Frozen);
    // A pool without shares has no queued share.
    assert_eq!(queued_share(&pool("0", "0")).unwrap(), ratio("0"));
}

/// Pool of 100 shares: queue just below 30, exactly 30 (after rounding), 60, then back down.
#[test]
fn update_status_moves_at_exactly_the_thresholds() {
    let mut engine = setup(&venue("100", false, false, true));
    run(
        &mut engine,
        &[
            // Active → Active: nothing to report.
            (update(), Events(vec![])),
            // Q = 30·10¹⁸ − 100 raw: q = 0.299999999999999999 → stays active.
            (queue(STAKER, "29.9999999999999999"), Ok),
            (update(), Events(vec![])),
            // +10 raw: Q = 30·10¹⁸ − 90, q rounds up to 0.3 → on ice.
            (queue(STAKER, "0.00000000000000001"), Ok),
            (update(), changed(Active, OnIce, false)),
            (update(), Events(vec![])),
            // +30·10¹⁸ + 90 raw: Q = 60·10¹⁸ exactly → frozen.
            (queue(STAKER, "30.00000000000000009"), Ok),
            (update(), changed(OnIce, Frozen, false)),
            // −100 raw (newest entry first): Q = 60·10¹⁸ − 100, q = 0.599999999999999999 → on ice.
            (cancel(STAKER, "0.0000000000000001"), Ok),
            (update(), changed(Frozen, OnIce, false)),
            // −30·10¹⁸: Q = 30·10¹⁸ − 100 → active again.
            (cancel(STAKER, "30"), Ok),
            (update(), changed(OnIce, Active, false)),
        ],
    );
    assert_eq!(engine.state().net.staker_pools[0].queued_shares, shares("29.9999999999999999"));
    assert_eq!(engine.computed_status().unwrap(), Active);
}

/// Coverage: target 150 with 100 staked is on ice until donations bring the pool to 150.
#[test]
fn update_status_follows_coverage_of_the_target() {
    let mut engine = setup(&venue("150", false, false, true));
    run(
        &mut engine,
        &[
            (update(), changed(Active, OnIce, false)),
            (
                Command::Donate {
                    account: AccountId(LENDER),
                    layer: "stakers:backstop".into(),
                    amount: amount("49.999999"),
                },
                Ok,
            ),
            // 149.999999 < 150: still on ice.
            (update(), Events(vec![])),
            (
                Command::Donate {
                    account: AccountId(LENDER),
                    layer: "stakers:backstop".into(),
                    amount: amount("0.000001"),
                },
                Ok,
            ),
            (update(), changed(OnIce, Active, false)),
        ],
    );
    assert_eq!(engine.state().net.staker_pools[0].assets, amount("150"));
}

/// Admin statuses within Blend's bounds: `Active` only when the pool calls for it, `OnIce`
/// unless it calls for `Frozen`, `Frozen` always; an admin `Frozen` refuses `UpdateStatus`, an
/// admin `OnIce` only escalates to `Frozen`.
#[test]
fn set_status_is_bounded_by_the_pool() {
    let mut engine = setup(&venue("100", false, false, true));
    run(
        &mut engine,
        &[
            // Computed: active.
            (set_status(Frozen), changed(Active, Frozen, true)),
            (update(), Code(82)),
            (set_status(OnIce), changed(Frozen, OnIce, true)),
            // The admin's on-ice holds while the pool calls for active.
            (update(), Events(vec![])),
            (set_status(Active), changed(OnIce, Active, false)),
            (set_status(Active), Events(vec![])),
            // Computed: on ice (q = 0.3).
            (queue(STAKER, "30"), Ok),
            (set_status(Active), Code(81)),
            (update(), changed(Active, OnIce, false)),
            (set_status(OnIce), changed(OnIce, OnIce, true)),
            // Computed: frozen (q = 0.6): the admin's on-ice escalates to an automatic freeze.
            (queue(STAKER, "30"), Ok),
            (update(), changed(OnIce, Frozen, false)),
            (set_status(OnIce), Code(81)),
            (set_status(Active), Code(81)),
            (set_status(Frozen), changed(Frozen, Frozen, true)),
            (update(), Code(82)),
        ],
    );
    assert_eq!(status(&engine), (Frozen, true));
    // Back below both thresholds, the admin lifts its freeze.
    run(
        &mut engine,
        &[(cancel(STAKER, "60"), Ok), (set_status(Active), changed(Frozen, Active, false))],
    );
}

/// Without a breaker pool, `UpdateStatus` has nothing to read (86); an admin may still set any
/// status (the computed status is `Active`).
#[test]
fn update_status_needs_a_breaker_pool() {
    let mut engine = setup(&venue("100", false, false, false));
    run(
        &mut engine,
        &[
            (update(), Code(86)),
            (set_status(Frozen), changed(Active, Frozen, true)),
            (set_status(Active), changed(Frozen, Active, false)),
        ],
    );
}

/// On ice: new borrowing and trades that add risk to either side are refused (80); everything
/// else works.
#[test]
fn on_ice_blocks_new_risk_and_nothing_else() {
    let mut engine = setup(&venue("100", false, false, true));
    run(
        &mut engine,
        &[
            (set_status(OnIce), changed(Active, OnIce, true)),
            (borrow(BORROWER, USDC, "1"), Code(80)),
            // Both sides grow (long buys more from the short).
            (trade(0, LONG, SHORT, "0.1", "2000"), Code(80)),
            // The long reduces but the newcomer would open a short.
            (deposit(NEWCOMER, USDC, "1000"), Ok),
            (trade(0, LONG, NEWCOMER, "-0.5", "2000"), Code(80)),
            // Both sides reduce: allowed.
            (trade(0, LONG, SHORT, "-0.5", "2000"), Ok),
            (repay(BORROWER, USDC, "1000"), Ok),
            (supply(LENDER, USDC, "100"), Ok),
            (withdraw_supply(LENDER, USDC, "100"), Ok),
            (withdraw(LENDER, USDC, "10"), Ok),
            (withdraw(BORROWER, ETH, "1"), Ok),
            (deposit(USDC_ONLY, USDC, "1"), Ok),
            (stake(USDC_ONLY, "1"), Ok),
        ],
    );
    assert_eq!(position(&engine, LONG, 0).0, amount("0.5"));
}

/// Frozen: new risk as on ice, plus deposits into accounts that owe nothing, supply and stakes
/// (80).
/// An indebted account may still deposit (to repay); repayments, healthy withdrawals and
/// liquidations go on.
#[test]
fn frozen_also_blocks_deposits_and_supply() {
    let mut engine = setup(&venue("100", false, false, true));
    run(
        &mut engine,
        &[
            (set_status(Frozen), changed(Active, Frozen, true)),
            (borrow(BORROWER, USDC, "1"), Code(80)),
            (trade(0, LONG, SHORT, "0.1", "2000"), Code(80)),
            (deposit(NEWCOMER, USDC, "1"), Code(80)),
            (deposit(LENDER, USDC, "1"), Code(80)),
            (supply(LENDER, USDC, "1"), Code(80)),
            (stake(USDC_ONLY, "1"), Code(80)),
            // The borrower owes 5000: it may bring tokens in, and repay.
            (deposit(BORROWER, USDC, "100"), Ok),
            (repay(BORROWER, USDC, "100"), Ok),
            // A trader with an open position owes margin: it may top up, and reduce.
            (deposit(LONG, USDC, "100"), Ok),
            (trade(0, LONG, SHORT, "-0.5", "2000"), Ok),
            (withdraw(LENDER, USDC, "10"), Ok),
            (withdraw_supply(LENDER, USDC, "10"), Ok),
            // The borrower withdraws its 5000 USDC; ETH falls 10% to 1800. Health factor
            // 10 × 1800 × 0.825 / 4900 = 3.03: healthy. At 500: 10 × 500 × 0.825 = 4125 < 4900.
            (withdraw(BORROWER, USDC, "4900"), Ok),
            (set_price(ETH, "1000"), Ok),
            (set_price(ETH, "500"), Ok),
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "100"), Ok),
        ],
    );
    assert_eq!(status(&engine), (Frozen, true));
}

/// A Dutch auction's takes are never blocked by the status.
#[test]
fn frozen_never_blocks_auction_takes() {
    let toml = r#"
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
buf = "1.10"
step_secs = 90
cut = "0.99"
tail_secs = 7200
cusp = "0.45"
penalty = "0.13"
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
    let mut engine = engine(toml);
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
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1"), Ok),
            (set_status(Frozen), changed(Active, Frozen, true)),
            // 2 ETH at the top price 1980 = 3960 USDC.
            (
                take(KEEPER, 1, "2", "1980"),
                Events(vec![Event::AuctionTaken {
                    auction: AuctionId(1),
                    keeper: AccountId(KEEPER),
                    collateral: amount("2"),
                    paid: amount("3960"),
                    price: price("1980"),
                }]),
            ),
        ],
    );
}

/// Gating: borrower 2 owes 15,000 USDC against 10 ETH and has withdrawn the USDC; ETH at 1400
/// leaves 14,000 of collateral: equity −1000. Every withdrawal is refused (85) until the keeper's
/// liquidation (repays 14,000, seizes all 10 ETH) moves the last 1000 to the deficit ledger.
#[test]
fn withdrawals_are_gated_while_an_account_is_insolvent() {
    let mut engine = setup(&venue("100", true, false, true));
    let insolvent = [
        (borrow(BORROWER, USDC, "10000"), Ok),
        (withdraw(BORROWER, USDC, "15000"), Ok),
        // 10 × 1600 × 0.825 = 13,200 < 15,000 but equity 16,000 − 15,000 > 0: not gated.
        (set_price(ETH, "1600"), Ok),
        (withdraw(LENDER, USDC, "1"), Ok),
        // Equity 14,000 − 15,000 = −1000.
        (set_price(ETH, "1400"), Ok),
    ];
    run(&mut engine, &insolvent);
    assert_eq!(engine.first_insolvent_account(), Some(AccountId(BORROWER)));
    let events = run(
        &mut engine,
        &[
            (withdraw(LENDER, USDC, "1"), Code(85)),
            (withdraw_supply(LENDER, USDC, "1"), Code(85)),
            (withdraw(USDC_ONLY, USDC, "1"), Code(85)),
            // Deposits, repayments and trades are not gated.
            (deposit(LENDER, USDC, "1"), Ok),
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "100000"), Ok),
        ],
    );
    assert!(events.iter().any(|event| matches!(
        event,
        Event::DeficitRecorded { amount: value, .. } if *value == amount("1000")
    )));
    assert_eq!(engine.first_insolvent_account(), None);
    run(
        &mut engine,
        &[(withdraw(LENDER, USDC, "1"), Ok), (withdraw_supply(LENDER, USDC, "1"), Ok)],
    );
    // Without gating the same withdrawals go through while the account is insolvent.
    let mut ungated = setup(&venue("100", false, false, true));
    run(&mut ungated, &insolvent);
    assert_eq!(ungated.first_insolvent_account(), Some(AccountId(BORROWER)));
    run(
        &mut ungated,
        &[(withdraw(LENDER, USDC, "1"), Ok), (withdraw_supply(LENDER, USDC, "1"), Ok)],
    );
}

/// Oracle pause: ETH 2000 → 900 (−55%, beyond the 50% guard) pauses ETH and keeps 2000; every
/// health check that needs ETH is refused (83) until `Unpause`.
#[test]
fn a_move_beyond_the_guard_pauses_the_asset() {
    let mut engine = setup(&venue("100", false, true, true));
    let paused = |kept: &str, proposed: &str| {
        Events(vec![Event::AssetPaused {
            asset: ETH,
            price: price(kept),
            proposed: price(proposed),
        }])
    };
    run(
        &mut engine,
        &[(deposit(NEWCOMER, ETH, "1"), Ok), (set_price(ETH, "900"), paused("2000", "900"))],
    );
    assert_eq!(engine.state().prices[ETH.index()].price, price("2000"));
    assert!(engine.is_paused(ETH));
    run(
        &mut engine,
        &[
            (borrow(BORROWER, USDC, "1"), Code(83)),
            (withdraw(BORROWER, ETH, "0.1"), Code(83)),
            (liquidate_debt(KEEPER, BORROWER, USDC, ETH, "1"), Code(83)),
            (trade(0, LONG, SHORT, "-0.1", "2000"), Code(83)),
            // No liabilities: no health check, no price needed.
            (withdraw(NEWCOMER, ETH, "0.5"), Ok),
            // An account that holds and owes only USDC is not affected.
            (borrow(USDC_ONLY, USDC, "100"), Ok),
            // Within the guard the price moves (2000 → 1500, −25%), and the pause stays.
            (
                set_price(ETH, "1500"),
                Events(vec![Event::PriceSet {
                    asset: ETH,
                    before: price("2000"),
                    after: price("1500"),
                }]),
            ),
            (borrow(BORROWER, USDC, "1"), Code(83)),
            // 1500 → 700 is −53.3%: paused again, 1500 kept.
            (set_price(ETH, "700"), paused("1500", "700")),
            (Command::Unpause { asset: ETH }, Events(vec![Event::AssetUnpaused { asset: ETH }])),
            (Command::Unpause { asset: ETH }, Code(84)),
            (Command::Unpause { asset: USDC }, Code(84)),
            (Command::Unpause { asset: AssetId(9) }, Code(3)),
            (borrow(BORROWER, USDC, "1"), Ok),
            (trade(0, LONG, SHORT, "-0.1", "1500"), Ok),
        ],
    );
    // Without the pause switch the same move is refused by the guard (14).
    let mut guarded = setup(&venue("100", false, false, true));
    run(&mut guarded, &[(set_price(ETH, "900"), Code(14))]);
    assert!(!guarded.is_paused(ETH));
}

/// The status and the pause flags are part of the state hash: two engines differing only by
/// them hash differently, and a status change is undone by nothing but another command.
#[test]
fn status_and_pause_are_hashed() {
    let mut base = setup(&venue("100", false, true, true));
    let mut frozen = base.clone();
    run(&mut frozen, &[(set_status(Frozen), Ok)]);
    assert_ne!(base.state_hash(), frozen.state_hash());
    let mut on_ice_auto = base.clone();
    run(&mut on_ice_auto, &[(queue(STAKER, "30"), Ok), (update(), Ok)]);
    let mut on_ice_admin = base.clone();
    run(&mut on_ice_admin, &[(queue(STAKER, "30"), Ok), (set_status(OnIce), Ok)]);
    assert_eq!(status(&on_ice_auto), (OnIce, false));
    assert_eq!(status(&on_ice_admin), (OnIce, true));
    assert_ne!(on_ice_auto.state_hash(), on_ice_admin.state_hash());
    let mut paused = base.clone();
    run(&mut paused, &[(set_price(ETH, "900"), Ok)]);
    assert_ne!(base.state_hash(), paused.state_hash());
}

/// Script lines for the breaker commands: `update_status`, `set_status status=…`, `unpause`.
#[test]
fn breaker_commands_parse_from_scripts() {
    use backstop_core::script::parse_script;
    let config =
        backstop_core::VenueConfig::from_toml_str(&venue("100", false, true, true)).unwrap();
    let text = "update_status\nset_status status=on_ice\nset_status status=frozen\n\
                set_status status=active\nunpause asset=ETH\n";
    let commands: Vec<Command> =
        parse_script(text, &config).unwrap().into_iter().map(|line| line.command).collect();
    assert_eq!(
        commands,
        vec![
            update(),
            set_status(OnIce),
            set_status(Frozen),
            set_status(Active),
            Command::Unpause { asset: ETH },
        ]
    );
    let errors = parse_script("set_status status=melted\nunpause\nupdate_status now=1\n", &config)
        .unwrap_err();
    let found: Vec<(usize, Option<&str>)> =
        errors.iter().map(|error| (error.line, error.field.as_deref())).collect();
    assert_eq!(found, vec![(1, Some("status")), (2, Some("asset")), (3, Some("now"))]);
}
