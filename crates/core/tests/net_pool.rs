//! First-loss staker pool: every rule and rejection with hand-computed numbers, the Blend and
//! Drift vectors (B1, B2, B10, B12, D1, D2, D5, D6), attacks that must not profit, an end-to-end
//! waterfall, and the two example venues (examples/blend.toml, examples/aave-umbrella.toml).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::backstop::pool::{
    STAKE_ROUNDING_TOLERANCE, assets_for_shares, drift_rebase_exponent, emission_index_step,
    non_queued_assets, queued_share_fraction, rewards_accrued, shares_for_assets,
    shares_lost_on_cancel,
};
use backstop_core::*;
use backstop_money::{Amount, Ratio, Shares};
use common::*;

const USD: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const GOV: AssetId = AssetId(2);

/// A venue with a USD lending market (`decimals` as given, no interest), an ETH collateral
/// market, a GOV emission token, the `[[staker_pool]]` body `pool` (asset USD, name `backstop`)
/// and a USD waterfall of `layers`. Also a fund and an offset for the end-to-end waterfall, and
/// a second pool `ether` on the 18-decimal ETH.
fn venue(decimals: u32, pool: &str, layers: &str) -> Engine {
    engine(&format!(
        r#"
[oracle]
max_staleness_secs = 1000000000
[[asset]]
symbol = "USD"
decimals = {decimals}
[[asset]]
symbol = "ETH"
decimals = 18
[[asset]]
symbol = "GOV"
decimals = 18
[[lending]]
asset = "USD"
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
asset = "USD"
floor = "100"
[[offset]]
name = "treasury"
asset = "USD"
[[staker_pool]]
name = "backstop"
asset = "USD"
{pool}
[[staker_pool]]
name = "ether"
asset = "ETH"
cooldown_secs = 0
[[waterfall]]
market = "USD"
layers = [{layers}]
"#
    ))
}

/// The usual pool: 1000 s cooldown, defaults otherwise, waterfall stakers → socialise.
fn plain() -> Engine {
    venue(6, "cooldown_secs = 1000", r#""stakers:backstop", "socialize""#)
}

fn stake(account: u64, value: &str) -> Command {
    Command::Stake { account: AccountId(account), pool: "backstop".into(), amount: amount(value) }
}

fn stake_in(account: u64, pool: &str, value: &str) -> Command {
    Command::Stake { account: AccountId(account), pool: pool.into(), amount: amount(value) }
}

fn request(account: u64, value: &str) -> Command {
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

fn complete(account: u64) -> Command {
    Command::CompleteUnstake { account: AccountId(account), pool: "backstop".into() }
}

fn claim(account: u64) -> Command {
    Command::ClaimRewards { account: AccountId(account), pool: "backstop".into() }
}

fn donate(account: u64, layer: &str, value: &str) -> Command {
    Command::Donate { account: AccountId(account), layer: layer.into(), amount: amount(value) }
}

/// Opens account `id` and deposits `value` USD into it.
fn funded(engine: &mut Engine, id: u64, value: &str) {
    run(engine, &[(open(id), Expect::Ok), (deposit(id, USD, value), Expect::Ok)]);
}

/// The pool `backstop`: (assets, shares, queued shares).
fn pool(engine: &Engine) -> (Amount, Shares, Shares) {
    let pool = &engine.state().net.staker_pools[0];
    (pool.assets, pool.shares, pool.queued_shares)
}

/// A staker's (unqueued shares, queue as (shares, unlock_at, value at request)).
fn staker(engine: &Engine, id: u64) -> (Shares, Vec<(Shares, u64, Amount)>) {
    engine.state().net.staker_pools[0].stakers.get(&AccountId(id)).map_or(
        (Shares::ZERO, Vec::new()),
        |staker| {
            (
                staker.shares,
                staker
                    .queue
                    .iter()
                    .map(|entry| (entry.shares, entry.unlock_at, entry.value_at_request))
                    .collect(),
            )
        },
    )
}

/// The set-up of a lending crash: lender 1 supplies 100,000 USD, borrower 2 borrows 15,000 USD
/// against 10 ETH at 2000 and takes it out; keeper 3 holds 50,000 USD.
fn prepare(engine: &mut Engine) {
    run(
        engine,
        &[
            (set_price(USD, "1"), Expect::Ok),
            (set_price(ETH, "2000"), Expect::Ok),
            (open(1), Expect::Ok),
            (open(2), Expect::Ok),
            (open(3), Expect::Ok),
            (deposit(1, USD, "100000"), Expect::Ok),
            (supply(1, USD, "100000"), Expect::Ok),
            (deposit(2, ETH, "10"), Expect::Ok),
            (borrow(2, USD, "15000"), Expect::Ok),
            (withdraw(2, USD, "15000"), Expect::Ok),
            (deposit(3, USD, "50000"), Expect::Ok),
        ],
    );
}

/// The crash itself: ETH falls to `crash_price` and keeper 3 liquidates everything. Below health
/// 1 the toxic-spiral guard withholds the bonus, so all 10 ETH go for 10 × `crash_price` of debt
/// and the deficit is 15,000 − 10 × `crash_price`. Returns the liquidation's events (the
/// waterfall's included).
fn hit(engine: &mut Engine, crash_price: &str) -> Vec<Event> {
    run(
        engine,
        &[
            (set_price(ETH, crash_price), Expect::Ok),
            (liquidate_debt(3, 2, USD, ETH, "100000"), Expect::Ok),
        ],
    )
}

fn crash(engine: &mut Engine, crash_price: &str) -> Vec<Event> {
    prepare(engine);
    hit(engine, crash_price)
}

/// The (layer, amount) of every `layer_paid` event.
fn layers_paid(events: &[Event]) -> Vec<(String, Amount)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect()
}

fn usd_market(engine: &Engine) -> &backstop_core::venue::lending::LendingMarket {
    engine.state().lending[0].as_ref().unwrap()
}

// ----- staking -----

fn raw(value: i128) -> Amount {
    Amount::from_raw(value)
}

fn raw_shares(value: i128) -> Shares {
    Shares::from_raw(value)
}

fn staked(account: u64, value: &str, minted: &str, assets: &str, pool_shares: &str) -> Event {
    Event::Staked {
        account: AccountId(account),
        pool: "backstop".into(),
        amount: amount(value),
        shares: shares(minted),
        pool_assets: amount(assets),
        pool_shares: shares(pool_shares),
    }
}

fn requested(account: u64, queued: &str, value: &str, unlock_at: u64) -> Event {
    Event::UnstakeRequested {
        account: AccountId(account),
        pool: "backstop".into(),
        shares: shares(queued),
        value: amount(value),
        unlock_at,
    }
}

fn unstaked(account: u64, burned: &str, paid: &str) -> Event {
    Event::Unstaked {
        account: AccountId(account),
        pool: "backstop".into(),
        shares: shares(burned),
        amount: amount(paid),
    }
}

fn cancelled(account: u64, returned: &str, lost: &str) -> Event {
    Event::UnstakeCancelled {
        account: AccountId(account),
        pool: "backstop".into(),
        shares: shares(returned),
        shares_lost: shares(lost),
    }
}

fn slashed(events: &[Event]) -> Vec<(Amount, Amount, Amount)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::StakersSlashed { amount, assets_before, assets_after, .. } => {
                Some((*amount, *assets_before, *assets_after))
            }
            _ => None,
        })
        .collect()
}

// ----- staking -----

/// The first stake mints 1:1; later stakes mint floor(amount × S / A).
#[test]
fn stake_mints_one_to_one_first_then_pro_rata_rounded_down() {
    let mut engine = plain();
    funded(&mut engine, 10, "1000");
    funded(&mut engine, 11, "1000");
    funded(&mut engine, 12, "0.000001");
    run(
        &mut engine,
        &[
            (stake(10, "100"), Expect::Events(vec![staked(10, "100", "100", "100", "100")])),
            // A donation raises A to 150 with S = 100: a share is worth 1.5.
            (donate(10, "stakers:backstop", "50"), Expect::Ok),
            // 30 × 100 / 150 = 20 shares.
            (stake(11, "30"), Expect::Events(vec![staked(11, "30", "20", "180", "120")])),
            // 0.000001 × 120 / 180 = 0.000000666666666666(6…) rounded down; the shares are
            // worth 0.000000999999999999, one raw unit less than the stake (within rounding).
            (
                stake(12, "0.000001"),
                Expect::Events(vec![staked(
                    12,
                    "0.000001",
                    "0.000000666666666666",
                    "180.000001",
                    "120.000000666666666666",
                )]),
            ),
        ],
    );
    assert_eq!(balance(&engine, 10, USD), amount("850"));
    assert_eq!(balance(&engine, 11, USD), amount("970"));
    assert_eq!(balance(&engine, 12, USD), Amount::ZERO);
    assert_eq!(staker(&engine, 11).0, shares("20"));
}

/// Every rejection of `Stake` that is not about the pool's share price (those are in the B12
/// tests and `a_drained_pool_refuses_stakes_until_its_shares_leave`).
#[test]
fn stake_rejections() {
    let mut engine = plain();
    funded(&mut engine, 10, "1000");
    run(
        &mut engine,
        &[
            (stake_in(10, "nope", "1"), Expect::Code(36)),
            (stake(99, "1"), Expect::Code(1)),
            (stake(10, "0"), Expect::Code(6)),
            (stake(10, "0.0000001"), Expect::Code(7)),
            (stake(10, "1000.000001"), Expect::Code(8)),
            // Account 20 borrows 1500 USD against 1 ETH; at ETH 1800 its ETH alone weighs
            // 1800 × 0.80 = 1440 < 1500 of debt, so staking all the borrowed USD (which weighed
            // 1500 × 0.85) would leave it below its initial requirement; 100 is fine
            // (1440 + 1400 × 0.85 = 2630).
            (set_price(USD, "1"), Expect::Ok),
            (set_price(ETH, "2000"), Expect::Ok),
            (open(1), Expect::Ok),
            (deposit(1, USD, "100000"), Expect::Ok),
            (supply(1, USD, "100000"), Expect::Ok),
            (open(20), Expect::Ok),
            (deposit(20, ETH, "1"), Expect::Ok),
            (borrow(20, USD, "1500"), Expect::Ok),
            (set_price(ETH, "1800"), Expect::Ok),
            (stake(20, "1500"), Expect::Code(10)),
            (stake(20, "100"), Expect::Events(vec![staked(20, "100", "100", "100", "100")])),
        ],
    );
}

/// A venue frozen by the breaker takes no new stakes (80); requests and completions still work.
#[test]
fn a_frozen_venue_refuses_stakes_but_not_exits() {
    let mut engine = venue(6, "cooldown_secs = 0", r#""stakers:backstop", "socialize""#);
    funded(&mut engine, 10, "1000");
    run(
        &mut engine,
        &[
            (stake(10, "100"), Expect::Ok),
            (
                Command::SetStatus { status: backstop_core::backstop::net::VenueStatus::Frozen },
                Expect::Ok,
            ),
            (stake(10, "100"), Expect::Code(80)),
            (request(10, "100"), Expect::Ok),
            (complete(10), Expect::Events(vec![unstaked(10, "100", "100")])),
        ],
    );
}

// ----- unstaking, full exposure -----

/// Request → cooldown → complete, with a donation in between (queued shares gain under full
/// exposure), several entries, and the last shares out taking everything.
#[test]
fn request_then_complete_after_the_cooldown_full_exposure() {
    let mut engine = plain();
    funded(&mut engine, 10, "1000");
    funded(&mut engine, 11, "1000");
    run(
        &mut engine,
        &[
            (stake(10, "100"), Expect::Ok),
            (stake(11, "100"), Expect::Ok),
            (advance(100), Expect::Ok),
            // unlock 100 + 1000; value 60 × 200 / 200.
            (request(10, "60"), Expect::Events(vec![requested(10, "60", "60", 1100)])),
            (advance(500), Expect::Ok),
            (request(10, "20"), Expect::Events(vec![requested(10, "20", "20", 1500)])),
            (complete(10), Expect::Code(46)),
            (donate(11, "stakers:backstop", "100"), Expect::Ok),
            (advance(1100), Expect::Ok),
            // Only the first entry has expired: 60 × 300 / 200 = 90 (it gained from the donation).
            (complete(10), Expect::Events(vec![unstaked(10, "60", "90")])),
        ],
    );
    assert_eq!(pool(&engine), (amount("210"), shares("140"), shares("20")));
    assert_eq!(staker(&engine, 10), (shares("20"), vec![(shares("20"), 1500, amount("20"))]));
    assert_eq!(
        step(&mut engine, &complete(10)),
        Err(Rejection::UnstakeNotExpired {
            account: AccountId(10),
            pool: "backstop".into(),
            unlock_at: Some(1500),
        })
    );
    run(
        &mut engine,
        &[
            (advance(1500), Expect::Ok),
            // 20 × 210 / 140 = 30.
            (complete(10), Expect::Events(vec![unstaked(10, "20", "30")])),
            (request(10, "20"), Expect::Events(vec![requested(10, "20", "30", 2500)])),
            (request(11, "100"), Expect::Events(vec![requested(11, "100", "150", 2500)])),
            (advance(2500), Expect::Ok),
            (complete(10), Expect::Events(vec![unstaked(10, "20", "30")])),
            // The last shares out take everything that is left.
            (complete(11), Expect::Events(vec![unstaked(11, "100", "150")])),
        ],
    );
    assert_eq!(pool(&engine), (Amount::ZERO, Shares::ZERO, Shares::ZERO));
    assert!(engine.state().net.staker_pools[0].stakers.is_empty());
    // 10 staked 100 and got 90 + 30 + 30 back; 11 staked 100, donated 100 and got 150 back.
    assert_eq!(balance(&engine, 10, USD), amount("1050"));
    assert_eq!(balance(&engine, 11, USD), amount("950"));
}

/// At share price 4/3, three entries of 10, 20 and 30 shares (values 13.33…, 26.66…, 40);
/// cancelling 35 shares takes the newest first (Blend v2) or the oldest first (Blend v1). A
/// partly cancelled entry keeps the value of its remaining shares rounded down.
#[test]
fn cancel_follows_the_dequeue_order() {
    let queue_after = |order: &str| {
        let mut engine = venue(
            6,
            &format!("cooldown_secs = 1000\ndequeue_order = \"{order}\""),
            r#""socialize""#,
        );
        funded(&mut engine, 10, "1000");
        run(
            &mut engine,
            &[
                (stake(10, "300"), Expect::Ok),
                (donate(10, "stakers:backstop", "100"), Expect::Ok),
                (
                    request(10, "10"),
                    Expect::Events(vec![requested(10, "10", "13.333333333333333333", 1000)]),
                ),
                (advance(100), Expect::Ok),
                (
                    request(10, "20"),
                    Expect::Events(vec![requested(10, "20", "26.666666666666666666", 1100)]),
                ),
                (advance(200), Expect::Ok),
                (request(10, "30"), Expect::Events(vec![requested(10, "30", "40", 1200)])),
                (advance(300), Expect::Ok),
                (cancel(10, "35"), Expect::Events(vec![cancelled(10, "35", "0")])),
            ],
        );
        assert_eq!(pool(&engine), (amount("400"), shares("300"), shares("25")));
        let (unqueued, queue) = staker(&engine, 10);
        assert_eq!(unqueued, shares("275"));
        queue
    };
    // Newest first: all 30 of the last entry, then 5 of the 20 (value left
    // 26.666666666666666666 × 15 / 20 = 19.9999999999999999995, rounded down).
    assert_eq!(
        queue_after("newest_first"),
        vec![
            (shares("10"), 1000, amount("13.333333333333333333")),
            (shares("15"), 1100, amount("19.999999999999999999")),
        ]
    );
    // Oldest first: 10, then 20, then 5 of the 30 (value left 40 × 25 / 30, rounded down).
    assert_eq!(
        queue_after("oldest_first"),
        vec![(shares("25"), 1200, amount("33.333333333333333333"))]
    );
}

/// Every rejection of `RequestUnstake`, `CancelUnstake`, `CompleteUnstake` and `ClaimRewards`
/// (the bad-debt block is in its own test).
#[test]
fn unstake_rejections() {
    let mut engine = venue(
        6,
        "cooldown_secs = 1000\nqueue_entries_max = 2",
        r#""stakers:backstop", "socialize""#,
    );
    funded(&mut engine, 10, "1000");
    funded(&mut engine, 11, "1000");
    let request_in = |pool: &str| Command::RequestUnstake {
        account: AccountId(10),
        pool: pool.into(),
        shares: shares("1"),
    };
    run(
        &mut engine,
        &[
            (stake(10, "100"), Expect::Ok),
            (request(10, "0"), Expect::Code(6)),
            (request(10, "100.000000000000000001"), Expect::Code(43)),
            (request_in("nope"), Expect::Code(36)),
            (request(99, "1"), Expect::Code(1)),
            (request(11, "1"), Expect::Code(43)),
            (request(10, "10"), Expect::Ok),
            (request(10, "10"), Expect::Ok),
            (request(10, "10"), Expect::Code(44)),
            (cancel(10, "0"), Expect::Code(6)),
            (cancel(10, "20.000000000000000001"), Expect::Code(45)),
            (cancel(11, "1"), Expect::Code(45)),
            (complete(11), Expect::Code(46)),
            (complete(10), Expect::Code(46)),
            (claim(10), Expect::Code(48)),
            (claim(99), Expect::Code(1)),
        ],
    );
    assert_eq!(
        step(&mut engine, &complete(11)),
        Err(Rejection::UnstakeNotExpired {
            account: AccountId(11),
            pool: "backstop".into(),
            unlock_at: None,
        })
    );
    // A cancel frees a queue slot.
    run(&mut engine, &[(cancel(10, "10"), Expect::Ok), (request(10, "10"), Expect::Ok)]);
}

// ----- frozen exposure -----

/// Frozen exposure (Drift): a queued withdrawal completes at min(value at request, value now):
/// gains after the request stay with the other stakers, losses are borne.
#[test]
fn frozen_exposure_forfeits_gains_and_bears_losses() {
    let mut engine = venue(
        6,
        "cooldown_secs = 1000\nexposure = \"frozen\"",
        r#""stakers:backstop", "socialize""#,
    );
    prepare(&mut engine);
    funded(&mut engine, 10, "2000");
    funded(&mut engine, 11, "2000");
    run(
        &mut engine,
        &[
            (stake(10, "1000"), Expect::Ok),
            (stake(11, "1000"), Expect::Ok),
            (request(10, "500"), Expect::Events(vec![requested(10, "500", "500", 1000)])),
            // A = 3000, S = 2000: the queued 500 shares are now worth 750.
            (donate(11, "stakers:backstop", "1000"), Expect::Ok),
            (advance(1000), Expect::Ok),
            // min(500, 750) = 500: the gain of 250 stays in the pool.
            (complete(10), Expect::Events(vec![unstaked(10, "500", "500")])),
            // A = 2500, S = 1500: 500 × 2500 / 1500 = 833.33…, rounded down.
            (
                request(10, "500"),
                Expect::Events(vec![requested(10, "500", "833.333333333333333333", 2000)]),
            ),
        ],
    );
    assert_eq!(pool(&engine), (amount("2500"), shares("1500"), shares("500")));
    // A deficit of 1000 is slashed from the pool: 2500 → 1500, queued shares included.
    let events = hit(&mut engine, "1400");
    assert_eq!(slashed(&events), vec![(amount("1000"), amount("2500"), amount("1500"))]);
    run(
        &mut engine,
        &[
            (advance(2000), Expect::Ok),
            // min(833.33…, 500 × 1500 / 1500 = 500) = 500: the loss is borne.
            (complete(10), Expect::Events(vec![unstaked(10, "500", "500")])),
        ],
    );
    assert_eq!(pool(&engine), (amount("1000"), shares("1000"), Shares::ZERO));
    // 10 staked 1000 and got 500 + 500: nothing from the donation, its share of the loss.
    assert_eq!(balance(&engine, 10, USD), amount("2000"));
}

// ----- slashing -----

/// A slash pays min(remaining, floor(A × slash_cap), A − min_assets); the rest of the deficit
/// moves on to the next layer.
#[test]
fn a_slash_is_capped_by_slash_cap_and_min_assets() {
    for (pool_toml, paid, after, socialised, index) in [
        // min(1000, 1000 × 0.3 = 300, 1000 − 800 = 200) = 200; 800 socialised: 1 − 800 / 100,000.
        ("slash_cap = \"0.3\"\nmin_assets = \"800\"", "200", "800", "800", "0.992"),
        // min(1000, 300, 1000) = 300; 700 socialised.
        ("slash_cap = \"0.3\"", "300", "700", "700", "0.993"),
        // Uncapped: the pool pays the whole 1000 and nothing is socialised.
        ("", "1000", "0", "0", "1"),
    ] {
        let mut engine = venue(
            6,
            &format!("cooldown_secs = 1000\n{pool_toml}"),
            r#""stakers:backstop", "socialize""#,
        );
        funded(&mut engine, 10, "1000");
        run(&mut engine, &[(stake(10, "1000"), Expect::Ok)]);
        let events = crash(&mut engine, "1400");
        assert_eq!(
            events.iter().find(|event| matches!(event, Event::StakersSlashed { .. })),
            Some(&Event::StakersSlashed {
                pool: "backstop".into(),
                market: MarketRef::Lending(USD),
                amount: amount(paid),
                assets_before: amount("1000"),
                assets_after: amount(after),
            }),
            "{pool_toml}"
        );
        let mut expected = vec![("stakers:backstop".to_owned(), amount(paid))];
        if amount(socialised).is_positive() {
            expected.push(("socialize".to_owned(), amount(socialised)));
        }
        assert_eq!(layers_paid(&events), expected, "{pool_toml}");
        assert_eq!(usd_market(&engine).supply_index, ratio(index), "{pool_toml}");
        assert_eq!(pool(&engine).0, amount(after));
    }
}

/// With `block_withdrawals_with_bad_debt` (the default) a completed withdrawal is refused while
/// a market whose waterfall names the pool has an uncovered deficit (Blend's BadDebtExists); a
/// recovery that covers it lifts the block. Without the flag the withdrawal goes through.
#[test]
fn withdrawals_are_blocked_while_the_covered_market_has_bad_debt() {
    for block in [true, false] {
        let mut engine = venue(
            6,
            &format!(
                "cooldown_secs = 1000\nslash_cap = \"0.5\"\nblock_withdrawals_with_bad_debt = {block}"
            ),
            r#""stakers:backstop""#,
        );
        prepare(&mut engine);
        funded(&mut engine, 10, "1000");
        run(&mut engine, &[(stake(10, "1000"), Expect::Ok), (request(10, "1000"), Expect::Ok)]);
        // Deficit 1000; the pool pays half its assets (500), 500 stays uncovered.
        let events = hit(&mut engine, "1400");
        assert_eq!(layers_paid(&events), vec![("stakers:backstop".to_owned(), amount("500"))]);
        assert_eq!(usd_market(&engine).deficit, amount("500"));
        run(&mut engine, &[(advance(1000), Expect::Ok)]);
        if !block {
            run(&mut engine, &[(complete(10), Expect::Events(vec![unstaked(10, "1000", "500")]))]);
            continue;
        }
        assert_eq!(
            step(&mut engine, &complete(10)),
            Err(Rejection::StakerPoolBadDebt {
                pool: "backstop".into(),
                market: MarketRef::Lending(USD),
            })
        );
        // A recovery of 1000: 500 back to the stakers who paid, 500 covers the deficit.
        run(
            &mut engine,
            &[
                (
                    Command::Recover { market: MarketRef::Lending(USD), amount: amount("1000") },
                    Expect::Ok,
                ),
                (complete(10), Expect::Events(vec![unstaked(10, "1000", "1000")])),
            ],
        );
        assert_eq!(usd_market(&engine).deficit, Amount::ZERO);
    }
}

/// A deficit pending with a later-paying layer (here a recapitalisation auction for the 500 the
/// stakers did not pay) blocks withdrawals too, until a bidder fills the auction.
#[test]
fn withdrawals_are_blocked_while_a_deficit_is_pending() {
    let mut engine = venue(
        6,
        "cooldown_secs = 0\nslash_cap = \"0.5\"\n[recap]\ntoken = \"GOV\"\nlot = \"1000\"\nbid = \"500\"\nrestart_secs = 3600",
        r#""stakers:backstop", "recap""#,
    );
    prepare(&mut engine);
    funded(&mut engine, 10, "1000");
    funded(&mut engine, 11, "500");
    run(&mut engine, &[(stake(10, "1000"), Expect::Ok), (request(10, "1000"), Expect::Ok)]);
    hit(&mut engine, "1400");
    assert_eq!(usd_market(&engine).deficit, Amount::ZERO);
    assert_eq!(engine.state().net.pending[&MarketRef::Lending(USD)], amount("500"));
    run(
        &mut engine,
        &[
            (complete(10), Expect::Code(47)),
            (
                Command::BidRecap { account: AccountId(11), auction: 1, lot: amount("1000") },
                Expect::Ok,
            ),
            (complete(10), Expect::Events(vec![unstaked(10, "1000", "500")])),
        ],
    );
}

/// A pool slashed to zero assets refuses stakes (Blend 1005 / Drift InvalidIFForNewStakes): new
/// money would buy worthless shares. Its stakers can still complete their withdrawals for
/// nothing, which burns the shares; then the pool starts again at 1:1.
#[test]
fn a_drained_pool_refuses_stakes_until_its_shares_leave() {
    let mut engine = venue(6, "cooldown_secs = 0", r#""stakers:backstop", "socialize""#);
    prepare(&mut engine);
    funded(&mut engine, 10, "1000");
    funded(&mut engine, 11, "10");
    run(&mut engine, &[(stake(10, "1000"), Expect::Ok)]);
    // Deficit 15,000 − 10,000 = 5000: the stakers pay all 1000, 4000 is socialised.
    let events = hit(&mut engine, "1000");
    assert_eq!(
        layers_paid(&events),
        vec![
            ("stakers:backstop".to_owned(), amount("1000")),
            ("socialize".to_owned(), amount("4000"))
        ]
    );
    assert_eq!(pool(&engine), (Amount::ZERO, shares("1000"), Shares::ZERO));
    run(
        &mut engine,
        &[
            (stake(11, "1"), Expect::Code(41)),
            (request(10, "1000"), Expect::Events(vec![requested(10, "1000", "0", 0)])),
            (complete(10), Expect::Events(vec![unstaked(10, "1000", "0")])),
            (stake(11, "1"), Expect::Events(vec![staked(11, "1", "1", "1", "1")])),
        ],
    );
}

// ----- emissions -----

/// Emissions of 1 GOV/s go to non-queued shares only (Blend issue #135): 0–100 s over 400
/// shares (0.25 per share), 100–200 s over 100 shares (1 per share) once 11 queued all of its
/// shares; while every share is queued nothing is distributed.
#[test]
fn queued_shares_earn_no_emissions() {
    let mut engine = venue(
        6,
        "cooldown_secs = 1000\nemission_asset = \"GOV\"\nemission_per_sec = \"1\"",
        r#""stakers:backstop", "socialize""#,
    );
    funded(&mut engine, 10, "1000");
    funded(&mut engine, 11, "1000");
    let claimed = |account: u64, value: &str| {
        Expect::Events(vec![Event::StakerRewardsClaimed {
            account: AccountId(account),
            pool: "backstop".into(),
            asset: GOV,
            amount: amount(value),
        }])
    };
    run(
        &mut engine,
        &[
            (stake(10, "100"), Expect::Ok),
            (stake(11, "300"), Expect::Ok),
            (advance(100), Expect::Ok),
            (request(11, "300"), Expect::Ok),
            (advance(200), Expect::Ok),
            // 100 × (0.25 + 1) = 125 and 300 × 0.25 = 75: 200 s × 1 GOV in all.
            (claim(10), claimed(10, "125")),
            (claim(11), claimed(11, "75")),
            (claim(11), Expect::Code(48)),
            (request(10, "100"), Expect::Ok),
            (advance(300), Expect::Ok),
            (claim(10), Expect::Code(48)),
        ],
    );
    assert_eq!(balance(&engine, 10, GOV), amount("125"));
    assert_eq!(engine.state().net.minted[GOV.index()], amount("200"));
    assert_eq!(engine.state().net.staker_pools[0].reward_index, ratio("1.25"));
    assert_eq!(engine.state().net.staker_pools[0].rewards_owed, Amount::ZERO);
}

// ----- vectors -----

/// B1 (Blend `backstop/src/backstop/pool.rs` tests), on the conversion helpers with Blend's
/// 7-decimal integers taken as raw units (the ratios, hence the results, are the same).
#[test]
fn vector_b1_share_conversion() {
    let (s, t) = (raw_shares(80_321), raw(103_302));
    assert_eq!(shares_for_assets(raw(1_234_567), t, s).unwrap(), raw_shares(959_920));
    assert_eq!(assets_for_shares(raw_shares(40_000), t, s).unwrap(), raw(51_444));
    // All shares → all tokens.
    assert_eq!(assets_for_shares(s, t, s).unwrap(), t);
    // non_queued_tokens = 103,302 − floor(40,001 × 103,302 / 80,321) = 103,302 − 51,445.
    assert_eq!(non_queued_assets(t, s, raw_shares(40_001)).unwrap(), raw(51_857));
    let drained = raw_shares(87_654_321);
    assert_eq!(shares_for_assets(raw(1_234_567), Amount::ZERO, drained).unwrap(), Shares::ZERO);
    assert_eq!(
        assets_for_shares(raw_shares(1_234_567), Amount::ZERO, drained).unwrap(),
        Amount::ZERO
    );
    assert_eq!(
        shares_for_assets(raw(1_234_567), Amount::ZERO, Shares::ZERO).unwrap(),
        raw_shares(1_234_567)
    );
    // q4w_pct = ceil(50 / 150): 0.3333334 at 7 decimals, 0.333333333333333334 at 18.
    assert_eq!(
        queued_share_fraction(shares("50"), shares("150")).unwrap(),
        ratio("0.333333333333333334")
    );
    assert_eq!(queued_share_fraction(shares("50"), Shares::ZERO).unwrap(), Ratio::ZERO);
}

/// B1 through the engine: a pool brought to {S 80,321, T 103,302} raw units by a stake and a
/// donation; a request of 40,000 shares is valued 51,444 and a stake of 1,234,567 mints
/// 959,920 (queued shares stay in S).
#[test]
fn vector_b1_through_the_engine() {
    let mut engine = venue(18, "cooldown_secs = 0", r#""stakers:backstop", "socialize""#);
    funded(&mut engine, 10, "1");
    funded(&mut engine, 11, "1");
    run(
        &mut engine,
        &[
            (stake(10, "0.000000000000080321"), Expect::Ok),
            (donate(10, "stakers:backstop", "0.000000000000022981"), Expect::Ok),
            (
                request(10, "0.00000000000004"),
                Expect::Events(vec![requested(10, "0.00000000000004", "0.000000000000051444", 0)]),
            ),
            (request(10, "0.000000000000000001"), Expect::Ok),
        ],
    );
    let (assets, all, queued) = pool(&engine);
    assert_eq!((assets, all, queued), (raw(103_302), raw_shares(80_321), raw_shares(40_001)));
    assert_eq!(non_queued_assets(assets, all, queued).unwrap(), raw(51_857));
    run(
        &mut engine,
        &[(
            stake(11, "0.000000000001234567"),
            Expect::Events(vec![staked(
                11,
                "0.000000000001234567",
                "0.00000000000095992",
                "0.000000000001337869",
                "0.000000000001040241",
            )]),
        )],
    );
}

/// B2 (Blend `test_execute_deposit`): Frodo stakes 25 and donates 25 to pool 0 (T 50, S 25);
/// Samwise's 30 mints 30 × 25 / 50 = 15 (S 40, T 80); Samwise's 70 into empty pool 1 mints 70;
/// the pools hold 150.
#[test]
fn vector_b2_deposit_after_donation() {
    let mut engine = engine(
        r#"
[[asset]]
symbol = "LP"
decimals = 7
[[staker_pool]]
name = "pool0"
asset = "LP"
cooldown_secs = 1468800
[[staker_pool]]
name = "pool1"
asset = "LP"
cooldown_secs = 1468800
"#,
    );
    let lp = AssetId(0);
    let staked_in = |account: u64, pool: &str, value: &str, minted: &str, a: &str, s: &str| {
        Expect::Events(vec![Event::Staked {
            account: AccountId(account),
            pool: pool.into(),
            amount: amount(value),
            shares: shares(minted),
            pool_assets: amount(a),
            pool_shares: shares(s),
        }])
    };
    run(
        &mut engine,
        &[
            (open(1), Expect::Ok),
            (open(2), Expect::Ok),
            (deposit(1, lp, "50"), Expect::Ok),
            (deposit(2, lp, "100"), Expect::Ok),
            (stake_in(1, "pool0", "25"), staked_in(1, "pool0", "25", "25", "25", "25")),
            (donate(1, "stakers:pool0", "25"), Expect::Ok),
            (stake_in(2, "pool0", "30"), staked_in(2, "pool0", "30", "15", "80", "40")),
            (stake_in(2, "pool1", "70"), staked_in(2, "pool1", "70", "70", "70", "70")),
        ],
    );
    let pools = &engine.state().net.staker_pools;
    assert_eq!(pools[0].assets.checked_add(pools[1].assets).unwrap(), amount("150"));
}

/// B10 (Blend `test_update_emissions`) on the helpers: eps 0.1/s over 1234 s and 150 shares
/// adds 123.4 / 150 = 0.822666… to the index (Blend's 14 decimals: 0.82266666666666; ours:
/// 0.822666666666666666); from 0.0022222 to 0.824888866666666666. The user's 9 shares at
/// index 0.0011111 with 0.0000003 accrued earn 9 × 0.823777766666666666 = 7.413999899999999994,
/// 7.414000199999999994 in all — Blend's 7.4140001 is the same amount rounded down to its 7
/// decimals (its index at 14 decimals drops the digits that make up the difference).
#[test]
fn vector_b10_emission_index_helpers() {
    let step = emission_index_step(1234, amount("0.1"), shares("150")).unwrap();
    assert_eq!(step, ratio("0.822666666666666666"));
    let index = ratio("0.0022222").checked_add(step).unwrap();
    assert_eq!(index, ratio("0.824888866666666666"));
    let earned = rewards_accrued(shares("9"), index, ratio("0.0011111")).unwrap();
    assert_eq!(earned, amount("7.413999899999999994"));
    let total = earned.checked_add(amount("0.0000003")).unwrap();
    assert_eq!(total, amount("7.414000199999999994"));
    // Rounded down to Blend's 7 decimals: 7.4140001.
    let unit = 10_i128.pow(11);
    assert_eq!(Amount::from_raw(total.raw() - total.raw() % unit), amount("7.4140001"));
    // No eligible shares: nothing is distributed.
    assert_eq!(emission_index_step(1234, amount("0.1"), Shares::ZERO), Some(Ratio::ZERO));
}

/// B10 through the engine at the same rates: emission 0.1 GOV/s. 0–11,111 s: 1,000,000
/// non-queued shares (A's 999,999.999729997299972997 and the user's 0.000270002700027003) →
/// index 0.0011111 and the user accrues floor(0.000270002700027003 × 0.0011111) = 0.0000003.
/// At 11,111 the user tops up to 9 shares and A queues as many, so 11,111–22,222 s again runs
/// over 1,000,000 shares → index 0.0022222. At 22,222 A queues all but 141, leaving 150
/// non-queued shares (Blend's S 150, Q 0) until 23,456 s: the user's claim is Blend's vector.
#[test]
fn vector_b10_through_the_engine() {
    let mut engine = venue(
        18,
        "cooldown_secs = 1000\nemission_asset = \"GOV\"\nemission_per_sec = \"0.1\"",
        r#""stakers:backstop", "socialize""#,
    );
    funded(&mut engine, 10, "1000000");
    funded(&mut engine, 11, "10");
    run(
        &mut engine,
        &[
            (stake(10, "999999.999729997299972997"), Expect::Ok),
            (stake(11, "0.000270002700027003"), Expect::Ok),
            (advance(11_111), Expect::Ok),
            (stake(11, "8.999729997299972997"), Expect::Ok),
            (request(10, "8.999729997299972997"), Expect::Ok),
        ],
    );
    let user = engine.state().net.staker_pools[0].stakers[&AccountId(11)].clone();
    assert_eq!(
        (user.shares, user.reward_index, user.rewards),
        (shares("9"), ratio("0.0011111"), amount("0.0000003"))
    );
    run(&mut engine, &[(advance(22_222), Expect::Ok), (request(10, "999850"), Expect::Ok)]);
    assert_eq!(engine.state().net.staker_pools[0].reward_index, ratio("0.0022222"));
    assert_eq!(engine.state().net.staker_pools[0].stakers[&AccountId(10)].shares, shares("141"));
    run(&mut engine, &[(advance(23_456), Expect::Ok)]);
    let events = step(&mut engine, &claim(11)).unwrap();
    assert_eq!(
        events,
        vec![Event::StakerRewardsClaimed {
            account: AccountId(11),
            pool: "backstop".into(),
            asset: GOV,
            amount: amount("7.414000199999999994"),
        }]
    );
    assert_eq!(engine.state().net.staker_pools[0].reward_index, ratio("0.824888866666666666"));
    // A earned floor(999,999.999729997299972997 × 0.0011111) + floor(999,991.000000000000000000
    // × 0.0011111) + floor(141 × 0.822666666666666666); everything claimed stays below the
    // 23,456 s × 0.1 = 2345.6 emitted.
    run(&mut engine, &[(claim(10), Expect::Ok)]);
    assert_eq!(balance(&engine, 10, GOV), amount("2338.185999799999999905"));
    let minted = engine.state().net.minted[GOV.index()];
    assert_eq!(minted, amount("2345.599999999999999899"));
    assert!(minted <= amount("2345.6"));
}

/// B12 (Blend `test_backstop_inflation_attack`) with Blend's 7-decimal token: the attacker
/// stakes 100 stroops and donates 10,000; the victim's 100-stroop stake mints
/// floor(0.00001 × 0.00001 / 10,000.00001) = 9999 raw shares worth 0.000009999000009999: it
/// loses 0.000000000999990001, a hundredth of a stroop. Blend refuses it (1005) because its
/// shares have 7 decimals; ours have 18, so the stake mints fairly.
#[test]
fn vector_b12_inflation_attack_fails_with_seven_decimals() {
    let mut engine = venue(7, "cooldown_secs = 1468800", r#""stakers:backstop", "socialize""#);
    funded(&mut engine, 10, "10001");
    funded(&mut engine, 11, "2");
    run(
        &mut engine,
        &[
            (stake(10, "0.00001"), Expect::Ok),
            (donate(10, "stakers:backstop", "10000"), Expect::Ok),
            (
                stake(11, "0.00001"),
                Expect::Events(vec![staked(
                    11,
                    "0.00001",
                    "0.000000000000009999",
                    "10000.00002",
                    "0.000010000000009999",
                )]),
            ),
        ],
    );
    let (assets, all, _) = pool(&engine);
    let victim = staker(&engine, 11).0;
    let value = assets_for_shares(victim, assets, all).unwrap();
    assert_eq!(value, amount("0.000009999000009999"));
    assert!(amount("0.00001").checked_sub(value).unwrap() < amount("0.0000001"));
    // A 1.0 stake loses 0.000000000999800023 (Blend: at most 10 stroops on its interest route).
    run(&mut engine, &[(stake(11, "1"), Expect::Ok)]);
    let (assets, all, _) = pool(&engine);
    let minted = staker(&engine, 11).0.checked_sub(victim).unwrap();
    let value = assets_for_shares(minted, assets, all).unwrap();
    assert_eq!(amount("1").checked_sub(value).unwrap(), amount("0.000000000999800023"));
}

/// B12 where rounding would bite: a 6-decimal asset with a donation of 10,000,000 after a
/// one-unit stake (shares worth 10^7 per 10^-6 share unit) and an 18-decimal asset with a
/// one-raw-unit stake and a donation of 10,000. Each victim stake either mints fairly or is
/// refused: zero shares (40), or shares worth less than the stake by more than rounding (42).
#[test]
fn vector_b12_victim_stakes_mint_fairly_or_are_refused() {
    let mut engine = plain();
    funded(&mut engine, 10, "10000001");
    funded(&mut engine, 11, "1000000");
    run(
        &mut engine,
        &[
            (stake(10, "0.000001"), Expect::Ok),
            (donate(10, "stakers:backstop", "10000000"), Expect::Ok),
            // 0.000001 × 0.000001 / 10,000,000.000001 → 0 shares.
            (stake(11, "0.000001"), Expect::Code(40)),
            // 1 → 0.000000000000099999 shares worth 0.999990000001099988: a loss of
            // 0.0000099999989 > one unit (0.000001) → refused.
            (stake(11, "1"), Expect::Code(42)),
            // 1,000,000 → shares worth 999,999.99999099…: a loss of 0.000009 ≤ 10^-9 × the
            // stake → accepted.
            (stake(11, "1000000"), Expect::Ok),
        ],
    );
    assert_eq!(
        step(&mut engine, &stake(11, "1")),
        Err(Rejection::InsufficientBalance {
            account: AccountId(11),
            asset: USD,
            available: Amount::ZERO,
            needed: amount("1"),
        })
    );
    let (assets, all, _) = pool(&engine);
    let value = assets_for_shares(staker(&engine, 11).0, assets, all).unwrap();
    let loss = amount("1000000").checked_sub(value).unwrap();
    assert_eq!(loss, amount("0.000009000000000010"));
    assert!(
        loss <= amount("1000000")
            .mul_ratio(STAKE_ROUNDING_TOLERANCE, backstop_money::Rounding::Ceil)
            .unwrap()
    );

    let mut engine = plain();
    run(
        &mut engine,
        &[
            (open(10), Expect::Ok),
            (open(11), Expect::Ok),
            (deposit(10, ETH, "10001"), Expect::Ok),
            (deposit(11, ETH, "20001"), Expect::Ok),
            (stake_in(10, "ether", "0.000000000000000001"), Expect::Ok),
            (donate(10, "stakers:ether", "10000"), Expect::Ok),
            // 100 × 1 / (10,000 + 10^-18) → 0 shares.
            (stake_in(11, "ether", "100"), Expect::Code(40)),
            // 15,000 → 1 share, worth (25,000 + 10^-18) / 2: a loss of 2,500 → refused.
            (stake_in(11, "ether", "15000"), Expect::Code(42)),
            // Exactly one share's price: 1 share worth exactly the stake.
            (stake_in(11, "ether", "10000.000000000000000001"), Expect::Ok),
        ],
    );
    let ether = &engine.state().net.staker_pools[1];
    assert_eq!(ether.stakers[&AccountId(11)].shares, raw_shares(1));
    assert_eq!(
        assets_for_shares(raw_shares(1), ether.assets, ether.shares).unwrap(),
        amount("10000.000000000000000001")
    );
}

/// D1 (Drift `basic_stake_if_test`), cooldown 0. Stake 1,000,000 into an empty pool → 1,000,000
/// shares; completing without a request fails. Drift values the full request at vault − 1 =
/// 999,999 and leaves 1 in the vault; our last shares out take everything (Blend's rule), so the
/// request is worth 1,000,000 and the pool ends empty. Drift's next state (vault 1, no shares) is
/// reached here by a donation of 1: a stake of 1,234 then mints 1,234 shares (Drift: 1,234 to
/// the staker, 1,235 in total, the 1 owned by the protocol); ours gives the first staker the
/// unowned unit (Blend's `to_shares(t) = t` when S = 0).
#[test]
fn vector_d1_first_staker_and_the_vault_minus_one_rule() {
    let mut engine = venue(18, "cooldown_secs = 0", r#""stakers:backstop", "socialize""#);
    funded(&mut engine, 10, "1");
    funded(&mut engine, 11, "1");
    let million = "0.000000000001";
    run(
        &mut engine,
        &[
            (
                stake(10, million),
                Expect::Events(vec![staked(10, million, million, million, million)]),
            ),
            (complete(10), Expect::Code(46)),
            (request(10, million), Expect::Events(vec![requested(10, million, million, 0)])),
            (complete(10), Expect::Events(vec![unstaked(10, million, million)])),
        ],
    );
    assert_eq!(pool(&engine), (Amount::ZERO, Shares::ZERO, Shares::ZERO));
    assert_eq!(balance(&engine, 10, USD), amount("1"));
    run(
        &mut engine,
        &[
            (donate(10, "stakers:backstop", "0.000000000000000001"), Expect::Ok),
            (
                stake(11, "0.000000000000001234"),
                Expect::Events(vec![staked(
                    11,
                    "0.000000000000001234",
                    "0.000000000000001234",
                    "0.000000000000001235",
                    "0.000000000000001234",
                )]),
            ),
        ],
    );
}

/// D2 (Drift `losses_stake_if_test`), frozen exposure, raw units: stake 1,000,000; a slash of
/// 1,000,000 / 19 = 52,631 (slash_cap 0.052631) leaves 947,369. Requests of 333,333 shares
/// return floor(333,333 × 947,369 / 1,000,000) = 315,789, then floor(333,333 × 631,580 /
/// 666,667) = 315,789; a request of 1 share is worth 0 and completes for nothing; the last
/// 333,333 shares take the remaining 315,791 (Drift: 315,790, keeping 1 in the vault).
#[test]
fn vector_d2_losses_with_frozen_exposure() {
    let mut engine = venue(
        18,
        "cooldown_secs = 0\nexposure = \"frozen\"\nslash_cap = \"0.052631\"",
        r#""stakers:backstop", "socialize""#,
    );
    prepare(&mut engine);
    funded(&mut engine, 10, "1");
    run(&mut engine, &[(stake(10, "0.000000000001"), Expect::Ok)]);
    let events = hit(&mut engine, "1400");
    assert_eq!(slashed(&events), vec![(raw(52_631), raw(1_000_000), raw(947_369))]);
    let third = "0.000000000000333333";
    let mut returned = Vec::new();
    for queued in [third, third, "0.000000000000000001", third] {
        let events =
            run(&mut engine, &[(request(10, queued), Expect::Ok), (complete(10), Expect::Ok)]);
        let Event::Unstaked { amount, .. } = events[0] else { panic!("{events:?}") };
        returned.push((amount.raw(), pool(&engine).0.raw(), pool(&engine).1.raw()));
    }
    assert_eq!(
        returned,
        vec![
            (315_789, 631_580, 666_667),
            (315_789, 315_791, 333_334),
            (0, 315_791, 333_333),
            (315_791, 0, 0),
        ]
    );
    // Everything the slash left came back: 315,789 × 2 + 315,791 = 947,369.
    assert_eq!(balance(&engine, 10, USD), amount("0.999999999999947369"));
}

/// D5 (Drift `if_shares_lost_test`) on the helper with Drift's inputs (a value at request of
/// 100e6 − 1 from its vault-minus-one rule): (a) 2 shares lost to rounding; (b) another staker
/// adding 100e6 to both sides: still 2; (c) a 10% gain since the request: 10,000,001; (d) a value
/// at request above the current value: 0.
#[test]
fn vector_d5_shares_lost_on_cancel_helper() {
    let m = 1_000_000;
    let lost = |value: i128, assets: i128, all: i128| {
        shares_lost_on_cancel(raw_shares(100 * m), raw(value), raw(assets), raw_shares(all))
            .unwrap()
            .raw()
    };
    assert_eq!(lost(100 * m - 1, 1000 * m, 1000 * m), 2);
    assert_eq!(lost(100 * m - 1, 1100 * m, 1100 * m), 2);
    assert_eq!(lost(100 * m - 1, 1100 * m, 1000 * m), 10_000_001);
    assert_eq!(lost(200 * m, 1100 * m, 1000 * m), 0);
}

/// D5 through the engine: A stakes 900 and B 100; B queues its 100 (value 100); a donation of 100
/// makes them worth 110. Under frozen exposure B's cancel burns 100 − floor(100 × 900 / 1000) =
/// 10 shares (Drift: 10,000,001 with its value 100e6 − 1): B's 90 shares are worth exactly the
/// 100 it queued, the gain went to A. Under full exposure nothing is burned: B keeps the gain.
#[test]
fn vector_d5_cancel_forfeits_gains_under_frozen_exposure() {
    for (exposure, lost, b_value) in [("frozen", "10", "100"), ("full", "0", "110")] {
        let mut engine = venue(
            6,
            &format!("cooldown_secs = 1000\nexposure = \"{exposure}\""),
            r#""stakers:backstop", "socialize""#,
        );
        funded(&mut engine, 10, "1000");
        funded(&mut engine, 11, "1000");
        run(
            &mut engine,
            &[
                (stake(10, "900"), Expect::Ok),
                (stake(11, "100"), Expect::Ok),
                (request(11, "100"), Expect::Ok),
                (donate(10, "stakers:backstop", "100"), Expect::Ok),
                (cancel(11, "100"), Expect::Events(vec![cancelled(11, "100", lost)])),
            ],
        );
        let (assets, all, queued) = pool(&engine);
        assert_eq!(queued, Shares::ZERO);
        let b_shares = staker(&engine, 11).0;
        assert_eq!(
            assets_for_shares(b_shares, assets, all).unwrap(),
            amount(b_value),
            "{exposure}"
        );
    }
}

/// D6 (Drift `basic_stake_if_test` rebase table): the exponent Drift divides share counts by
/// after a near wipe-out. This engine does not rebase (docs/mechanisms.md): shares
/// have 18 decimals in an i128 and every conversion has a 256-bit intermediate.
#[test]
fn vector_d6_rebase_exponent() {
    for (shares, vault, exponent) in [
        (60_078, 606, 0),
        (60_078, 600, 1),
        (100_000, 100, 2),
        (99_999, 100, 1),
        (800_000_078_000_000, 1, 13),
        (1_242_418_900_000, 1, 11),
    ] {
        assert_eq!(drift_rebase_exponent(shares, vault), exponent, "({shares}; {vault})");
    }
    assert_eq!(drift_rebase_exponent(100, 1000), 0);
    assert_eq!(drift_rebase_exponent(100, 0), 0);
}

/// No rebase: after a slash to "all but 10^-12" the 1000 shares are backed by 10^-12, a share is
/// worth 10^-15, and a stake mints `amount × 10^21 / 10^6` raw shares. Up to ~170,000 that fits
/// in an i128 (100,000 mints 10^38 raw shares); 200,000 does not and is refused as an overflow
/// (16) instead of being rebased as Drift would.
#[test]
fn a_collapsed_share_price_limits_stakes_instead_of_rebasing() {
    let mut engine = venue(
        18,
        "cooldown_secs = 0\nmin_assets = \"0.000000000001\"",
        r#""stakers:backstop", "socialize""#,
    );
    prepare(&mut engine);
    funded(&mut engine, 10, "1000");
    funded(&mut engine, 11, "200000");
    run(&mut engine, &[(stake(10, "1000"), Expect::Ok)]);
    let events = hit(&mut engine, "1400");
    assert_eq!(
        slashed(&events),
        vec![(amount("999.999999999999"), amount("1000"), amount("0.000000000001"))]
    );
    run(&mut engine, &[(stake(11, "200000"), Expect::Code(16)), (stake(11, "100000"), Expect::Ok)]);
    assert_eq!(staker(&engine, 11).0, raw_shares(10_i128.pow(38)));
}

// ----- attacks -----

/// Stake right before a known loss and leave right after: the cooldown keeps the new shares in
/// the pool when the slash lands, queued or not, so the attacker bears its share of the loss.
#[test]
fn attack_stake_before_a_known_loss_and_leave_right_after() {
    let mut engine = plain();
    prepare(&mut engine);
    funded(&mut engine, 10, "1000");
    funded(&mut engine, 11, "1000");
    run(
        &mut engine,
        &[
            (stake(10, "1000"), Expect::Ok),
            (advance(10), Expect::Ok),
            (stake(11, "1000"), Expect::Ok),
            (request(11, "1000"), Expect::Events(vec![requested(11, "1000", "1000", 1010)])),
        ],
    );
    // Deficit 1000, slashed from 2000 of assets.
    let events = hit(&mut engine, "1400");
    assert_eq!(slashed(&events), vec![(amount("1000"), amount("2000"), amount("1000"))]);
    run(
        &mut engine,
        &[
            (complete(11), Expect::Code(46)),
            (advance(1010), Expect::Ok),
            // 1000 × 1000 / 2000 = 500: half the stake lost, like the honest staker's.
            (complete(11), Expect::Events(vec![unstaked(11, "1000", "500")])),
        ],
    );
    assert_eq!(balance(&engine, 11, USD), amount("500"));
    let (assets, all, _) = pool(&engine);
    assert_eq!(assets_for_shares(staker(&engine, 10).0, assets, all).unwrap(), amount("500"));
}

/// Queue before a slash and cancel after it to dodge the loss: queued shares are slashed too,
/// under both exposures, so the dodger ends exactly where a staker who did nothing ends.
#[test]
fn attack_queue_then_dequeue_to_dodge_a_slash() {
    for exposure in ["full", "frozen"] {
        let mut engine = venue(
            6,
            &format!("cooldown_secs = 1000\nexposure = \"{exposure}\""),
            r#""stakers:backstop", "socialize""#,
        );
        prepare(&mut engine);
        funded(&mut engine, 10, "1000");
        funded(&mut engine, 11, "1000");
        run(
            &mut engine,
            &[
                (stake(10, "1000"), Expect::Ok),
                (stake(11, "1000"), Expect::Ok),
                (request(11, "1000"), Expect::Ok),
            ],
        );
        hit(&mut engine, "1400");
        // Cancel: no gain since the request, nothing burned; the 1000 shares are worth 500.
        run(&mut engine, &[(cancel(11, "1000"), Expect::Events(vec![cancelled(11, "1000", "0")]))]);
        let (assets, all, _) = pool(&engine);
        let dodger = assets_for_shares(staker(&engine, 11).0, assets, all).unwrap();
        let honest = assets_for_shares(staker(&engine, 10).0, assets, all).unwrap();
        assert_eq!((dodger, honest), (amount("500"), amount("500")), "{exposure}");
        // Completing instead of cancelling pays the same 500.
        run(
            &mut engine,
            &[
                (request(11, "1000"), Expect::Ok),
                (advance(1000), Expect::Ok),
                (complete(11), Expect::Events(vec![unstaked(11, "1000", "500")])),
            ],
        );
    }
}

/// End to end: fund → offset → stakers (capped at 30%) → socialise over a deficit of 2000, and a
/// recovery that flows back in reverse order, the stakers' part into the pool.
#[test]
fn waterfall_fund_offset_capped_stakers_then_socialise() {
    let mut engine = venue(
        6,
        "cooldown_secs = 1000\nslash_cap = \"0.3\"",
        r#""fund:insurance", "offset:treasury", "stakers:backstop", "socialize""#,
    );
    prepare(&mut engine);
    funded(&mut engine, 4, "1000");
    funded(&mut engine, 10, "1000");
    run(
        &mut engine,
        &[
            (donate(4, "fund:insurance", "400"), Expect::Ok),
            (donate(4, "offset:treasury", "300"), Expect::Ok),
            (stake(10, "1000"), Expect::Ok),
        ],
    );
    // Deficit 15,000 − 13,000 = 2000: fund 400 − 100 (floor) = 300, offset 300, stakers
    // min(1400, 1000 × 0.3) = 300, socialised 1100 → supply index 1 − 1100 / 100,000 = 0.989.
    let events = hit(&mut engine, "1300");
    assert_eq!(
        layers_paid(&events),
        vec![
            ("fund:insurance".to_owned(), amount("300")),
            ("offset:treasury".to_owned(), amount("300")),
            ("stakers:backstop".to_owned(), amount("300")),
            ("socialize".to_owned(), amount("1100")),
        ]
    );
    assert_eq!(slashed(&events), vec![(amount("300"), amount("1000"), amount("700"))]);
    assert_eq!(usd_market(&engine).supply_index, ratio("0.989"));
    assert_eq!(usd_market(&engine).deficit, Amount::ZERO);
    // A recovery of 1500 goes back in reverse: suppliers 1100, stakers 300, offset 100.
    let events = run(
        &mut engine,
        &[(
            Command::Recover { market: MarketRef::Lending(USD), amount: amount("1500") },
            Expect::Ok,
        )],
    );
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
            ("socialize".to_owned(), amount("1100")),
            ("stakers:backstop".to_owned(), amount("300")),
            ("offset:treasury".to_owned(), amount("100")),
        ]
    );
    assert_eq!(pool(&engine).0, amount("1000"));
}

// ----- script -----

#[test]
fn script_commands_parse() {
    let engine = plain();
    let text = "stake account=10 pool=backstop amount=5\n\
                request_unstake account=10 pool=backstop shares=1.5\n\
                cancel_unstake account=10 pool=backstop shares=0.5\n\
                complete_unstake account=10 pool=backstop\n\
                claim_rewards account=10 pool=backstop\n";
    let lines = backstop_core::script::parse_script(text, engine.config()).unwrap();
    let commands: Vec<Command> = lines.into_iter().map(|line| line.command).collect();
    assert_eq!(
        commands,
        vec![stake(10, "5"), request(10, "1.5"), cancel(10, "0.5"), complete(10), claim(10)]
    );
    let errors =
        backstop_core::script::parse_script("stake account=1 pool=nope amount=1", engine.config())
            .unwrap_err();
    assert_eq!(errors[0].field.as_deref(), Some("pool"));
    assert_eq!(errors[0].message, "unknown staker pool \"nope\"; known: backstop, ether");
}

// ----- example venues -----

fn example(text: &str) -> Engine {
    engine(text)
}

/// examples/blend.toml: 17-day queue, newest-first dequeue, full exposure, bad-debt block,
/// stakers → socialise. A crash of 1000 USDC is paid by the stakers alone (queued shares
/// included); 17 days later the queued staker leaves with its share of the loss, and the
/// unqueued stakers' emissions (0.7 BLND/s) are minted to them.
#[test]
fn example_blend_pays_a_crash_from_the_stakers() {
    let mut engine = example(include_str!("../../../examples/blend.toml"));
    let config = engine.config().clone();
    let (usdc, xlm, blnd) = (
        config.asset_id("USDC").unwrap(),
        config.asset_id("XLM").unwrap(),
        config.asset_id("BLND").unwrap(),
    );
    let pool_config = &config.staker_pools[0];
    assert_eq!(
        (
            pool_config.cooldown_secs,
            pool_config.queue_entries_max,
            pool_config.block_withdrawals_with_bad_debt
        ),
        (1_468_800, 20, true)
    );
    let in_pool = |command: Command| match command {
        Command::Stake { account, amount, .. } => {
            Command::Stake { account, pool: "backstop".into(), amount }
        }
        Command::RequestUnstake { account, shares, .. } => {
            Command::RequestUnstake { account, pool: "backstop".into(), shares }
        }
        other => other,
    };
    run(
        &mut engine,
        &[
            (set_price(usdc, "1"), Expect::Ok),
            (set_price(xlm, "0.4"), Expect::Ok),
            (open(1), Expect::Ok),
            (open(2), Expect::Ok),
            (open(3), Expect::Ok),
            (open(10), Expect::Ok),
            (open(11), Expect::Ok),
            (deposit(1, usdc, "100000"), Expect::Ok),
            (supply(1, usdc, "100000"), Expect::Ok),
            (deposit(10, usdc, "5000"), Expect::Ok),
            (deposit(11, usdc, "5000"), Expect::Ok),
            (in_pool(stake(10, "5000")), Expect::Ok),
            (in_pool(stake(11, "5000")), Expect::Ok),
            (in_pool(request(11, "2000")), Expect::Ok),
            // 50,000 XLM at 0.4 = 20,000, weighed 0.75: a loan of 14,000 USDC.
            (deposit(2, xlm, "50000"), Expect::Ok),
            (borrow(2, usdc, "14000"), Expect::Ok),
            (withdraw(2, usdc, "14000"), Expect::Ok),
            (deposit(3, usdc, "50000"), Expect::Ok),
            (set_price(xlm, "0.26"), Expect::Ok),
        ],
    );
    // All 50,000 XLM (13,000 at 0.26) go for 13,000 of debt: a deficit of 1000, slashed.
    let events = run(&mut engine, &[(liquidate_debt(3, 2, usdc, xlm, "100000"), Expect::Ok)]);
    assert_eq!(layers_paid(&events), vec![("stakers:backstop".to_owned(), amount("1000"))]);
    assert_eq!(pool(&engine), (amount("9000"), shares("10000"), shares("2000")));
    let claimed = |value: &str| {
        Expect::Events(vec![Event::StakerRewardsClaimed {
            account: AccountId(10),
            pool: "backstop".into(),
            asset: blnd,
            amount: amount(value),
        }])
    };
    let complete_in = Command::CompleteUnstake { account: AccountId(11), pool: "backstop".into() };
    let claim_in = Command::ClaimRewards { account: AccountId(10), pool: "backstop".into() };
    run(
        &mut engine,
        &[
            (complete_in.clone(), Expect::Code(46)),
            (advance(1_468_800), Expect::Ok),
            // 2000 × 9000 / 10,000 = 1800.
            (
                complete_in,
                Expect::Events(vec![Event::Unstaked {
                    account: AccountId(11),
                    pool: "backstop".into(),
                    shares: shares("2000"),
                    amount: amount("1800"),
                }]),
            ),
            // 0.7 × 1,468,800 / 8000 non-queued shares = 128.52 per share; 10 holds 5000.
            (claim_in, claimed("642600")),
        ],
    );
}

/// examples/aave-umbrella.toml: offset → stakers (all but 1 USDC) → socialise. A deficit of
/// 5000: the offset pays its 300, the stake 2000 − 1 = 1999, suppliers 2701 (index 1 − 2701 /
/// 100,000 = 0.97299). One cooldown record per address.
#[test]
fn example_aave_umbrella_slashes_all_but_dust_after_the_offset() {
    let mut engine = example(include_str!("../../../examples/aave-umbrella.toml"));
    let config = engine.config().clone();
    let (usdc, weth) = (config.asset_id("USDC").unwrap(), config.asset_id("WETH").unwrap());
    let pool_name = "stkwaUSDC";
    run(
        &mut engine,
        &[
            (set_price(usdc, "1"), Expect::Ok),
            (set_price(weth, "2000"), Expect::Ok),
            (open(1), Expect::Ok),
            (open(2), Expect::Ok),
            (open(3), Expect::Ok),
            (open(4), Expect::Ok),
            (open(10), Expect::Ok),
            (deposit(1, usdc, "100000"), Expect::Ok),
            (supply(1, usdc, "100000"), Expect::Ok),
            (deposit(4, usdc, "300"), Expect::Ok),
            (donate(4, "offset:treasury", "300"), Expect::Ok),
            (deposit(10, usdc, "2000"), Expect::Ok),
            (stake_in(10, pool_name, "2000"), Expect::Ok),
            (
                Command::RequestUnstake {
                    account: AccountId(10),
                    pool: pool_name.into(),
                    shares: shares("100"),
                },
                Expect::Ok,
            ),
            (
                Command::RequestUnstake {
                    account: AccountId(10),
                    pool: pool_name.into(),
                    shares: shares("100"),
                },
                Expect::Code(44),
            ),
            (deposit(2, weth, "10"), Expect::Ok),
            (borrow(2, usdc, "15000"), Expect::Ok),
            (withdraw(2, usdc, "15000"), Expect::Ok),
            (deposit(3, usdc, "50000"), Expect::Ok),
            (set_price(weth, "1000"), Expect::Ok),
        ],
    );
    let events = run(&mut engine, &[(liquidate_debt(3, 2, usdc, weth, "100000"), Expect::Ok)]);
    assert_eq!(
        layers_paid(&events),
        vec![
            ("offset:treasury".to_owned(), amount("300")),
            ("stakers:stkwaUSDC".to_owned(), amount("1999")),
            ("socialize".to_owned(), amount("2701")),
        ]
    );
    assert_eq!(slashed(&events), vec![(amount("1999"), amount("2000"), amount("1"))]);
    assert_eq!(usd_market(&engine).supply_index, ratio("0.97299"));
    assert_eq!(pool(&engine), (amount("1"), shares("2000"), shares("100")));
}
