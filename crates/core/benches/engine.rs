//! Engine benchmarks: throughput of simple commands, and a price tick over a million accounts
//! (the liquidation index against a full scan). Figures and how to run them: docs/PERFORMANCE.md.
//!
//! Run with `cargo bench -p backstop-core --bench engine`. In debug builds (`cargo test
//! --benches`, where criterion runs each benchmark once as a smoke test) the million-account
//! venues are scaled down to keep the run short; the 1% share of liquidatable accounts is kept.
// Integer division here only spreads test data over accounts; no money is divided.
#![allow(clippy::unwrap_used, clippy::integer_division, missing_docs)]

use backstop_core::{AccountId, AccountKind, AssetId, Command, Engine, PerpMarketId, VenueConfig};
use backstop_money::{Amount, Price, SCALE};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const ETH_PERP: PerpMarketId = PerpMarketId(0);

/// Accounts of the venue for the simple-command benchmarks.
const SIMPLE_ACCOUNTS: u64 = 10_000;
/// Commands applied per iteration of a simple-command benchmark.
const BATCH: u64 = 10_000;

/// Accounts of the price-tick venues: 1,000,000 in release, fewer in debug smoke runs.
const TICK_ACCOUNTS: u64 = if cfg!(debug_assertions) { 20_000 } else { 1_000_000 };
/// One account in this many crosses its liquidation point in the crash (1%).
const CROSSING_EVERY: u64 = 100;
/// ETH price before and after the crash.
const PRICE_BEFORE: i128 = 2_000;
const PRICE_AFTER: i128 = 1_800;

fn config() -> VenueConfig {
    VenueConfig::from_toml_str(include_str!("../../../examples/venue.toml")).unwrap()
}

/// Whole units (also fine for any number of decimals).
fn units(units: i128) -> Amount {
    Amount::from_raw(units * SCALE)
}

/// Hundredths of a unit (USDC has 6 decimals, ETH 18: both accept 0.01).
fn cents(cents: i128) -> Amount {
    Amount::from_raw(cents * (SCALE / 100))
}

fn price(units: i128) -> Price {
    Price::from_raw(units * SCALE)
}

fn apply(engine: &mut Engine, command: &Command) {
    if let Err(rejection) = engine.apply(command) {
        panic!("setup command {} rejected: {rejection}", command.name());
    }
}

fn open_with(engine: &mut Engine, account: AccountId, deposits: &[(AssetId, Amount)]) {
    apply(engine, &Command::OpenAccount { account, kind: AccountKind::Regular });
    for &(asset, amount) in deposits {
        apply(engine, &Command::Deposit { account, asset, amount });
    }
}

/// Lender (account 0) with `usdc` supplied to the USDC market, prices set.
fn venue_with_lender(usdc: Amount) -> Engine {
    let mut engine = Engine::new(config()).unwrap();
    apply(&mut engine, &Command::SetPrice { asset: USDC, price: price(1) });
    apply(&mut engine, &Command::SetPrice { asset: ETH, price: price(PRICE_BEFORE) });
    open_with(&mut engine, AccountId(0), &[(USDC, usdc)]);
    apply(&mut engine, &Command::Supply { account: AccountId(0), asset: USDC, amount: usdc });
    engine
}

/// A borrower: ETH collateral, a USDC debt, and the borrowed USDC withdrawn so the account has a
/// single collateral and a single debt (the index's lending-pair case).
fn open_borrower(engine: &mut Engine, account: AccountId, eth: Amount, debt: Amount) {
    open_with(engine, account, &[(ETH, eth)]);
    apply(engine, &Command::Borrow { account, asset: USDC, amount: debt });
    apply(engine, &Command::Withdraw { account, asset: USDC, amount: debt });
}

// ----- 1. simple commands on a 10,000-account venue -----

/// Accounts 1..=5,000 hold ETH and USDC and owe nothing; 5,001..=10,000 are borrowers (10 ETH,
/// 8,000 USDC debt, in the liquidation index).
fn simple_venue() -> Engine {
    let mut engine = venue_with_lender(units(1_000_000_000));
    for id in 1..=SIMPLE_ACCOUNTS {
        if id <= SIMPLE_ACCOUNTS / 2 {
            open_with(&mut engine, AccountId(id), &[(ETH, units(10)), (USDC, units(1_000))]);
        } else {
            open_borrower(&mut engine, AccountId(id), units(10), units(8_000));
        }
    }
    engine
}

/// The `k`-th account, cycling over all of them (plain and borrower alternate).
fn cycled(k: u64) -> AccountId {
    let half = SIMPLE_ACCOUNTS / 2;
    let slot = (k / 2) % half + 1;
    AccountId(if k.is_multiple_of(2) { slot } else { slot + half })
}

fn eth_price_toggle(k: u64) -> Command {
    let price = if k.is_multiple_of(2) { price(PRICE_BEFORE + 1) } else { price(PRICE_BEFORE) };
    Command::SetPrice { asset: ETH, price }
}

fn run_batch(engine: &mut Engine, commands: &[Command]) {
    for command in commands {
        black_box(engine.apply(black_box(command))).unwrap();
    }
}

fn bench_batch(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    engine: &mut Engine,
    name: &str,
    commands: &[Command],
) {
    // One untimed pass: every command must be accepted, and again after any number of passes.
    run_batch(engine, commands);
    group.bench_function(name, |b| b.iter(|| run_batch(engine, commands)));
}

fn simple_commands(c: &mut Criterion) {
    let mut engine = simple_venue();
    let mut group = c.benchmark_group("apply_10k_accounts");
    group.throughput(Throughput::Elements(BATCH));

    // ETH price alternating between two values: O(1), no account touched.
    let set_price: Vec<Command> = (0..BATCH).map(eth_price_toggle).collect();
    bench_batch(&mut group, &mut engine, "set_price", &set_price);

    // 1 USDC into accounts that owe nothing (no index work, no health check).
    let deposit: Vec<Command> = (0..BATCH)
        .map(|k| Command::Deposit {
            account: AccountId(k % (SIMPLE_ACCOUNTS / 2) + 1),
            asset: USDC,
            amount: units(1),
        })
        .collect();
    bench_batch(&mut group, &mut engine, "deposit", &deposit);

    // 0.01 ETH into borrowers: moves each account's key in the liquidation index.
    let deposit_borrower: Vec<Command> = (0..BATCH)
        .map(|k| Command::Deposit {
            account: AccountId(k % (SIMPLE_ACCOUNTS / 2) + SIMPLE_ACCOUNTS / 2 + 1),
            asset: ETH,
            amount: cents(1),
        })
        .collect();
    bench_batch(&mut group, &mut engine, "deposit_borrower", &deposit_borrower);

    // Thirds: deposit 0.01 ETH, withdraw it again (health check when the account is a borrower),
    // set the ETH price; accounts alternate between plain and borrower.
    let mix: Vec<Command> = (0..BATCH)
        .map(|k| {
            let account = cycled(k / 3);
            match k % 3 {
                0 => Command::Deposit { account, asset: ETH, amount: cents(1) },
                1 => Command::Withdraw { account, asset: ETH, amount: cents(1) },
                _ => eth_price_toggle(k / 3),
            }
        })
        .collect();
    bench_batch(&mut group, &mut engine, "mix_deposit_withdraw_set_price", &mix);
    group.finish();
}

// ----- 2. a price tick over 1,000,000 accounts, 1% of them crossing -----

/// Borrowers with 1 ETH each and a USDC debt. Liquidatable when `debt > 0.825 × p_ETH`; at 2,000
/// none is, at 1,800 exactly every 100th is (debt 1,490..1,589 against 1,485; the others owe
/// 500..1,479).
fn lending_venue() -> Engine {
    timed("lending venue", build_lending_venue)
}

fn build_lending_venue() -> Engine {
    let debt_total = 1_600 * i128::from(TICK_ACCOUNTS);
    let mut engine = venue_with_lender(units(debt_total));
    for id in 1..=TICK_ACCOUNTS {
        let debt = if id.is_multiple_of(CROSSING_EVERY) {
            1_490 + i128::from((id / CROSSING_EVERY) % 100)
        } else {
            500 + i128::from(id % 980)
        };
        open_borrower(&mut engine, AccountId(id), units(1), units(debt));
    }
    engine
}

/// Longs of 0.01 ETH at 2,000 with USDC collateral. With USDC weighted 0.90 and a maintenance
/// margin of 5%, a long with collateral `C` is liquidatable below `(20.01 − 0.9·C) / 0.0095`:
/// every 100th has C in 2.50..3.09 (liquidation point 1,814..1,870), the others C in
/// 3.40..13.39 (at most 1,784). The counterparty is one large short (account 0).
fn perp_venue() -> Engine {
    timed("perp venue", build_perp_venue)
}

fn build_perp_venue() -> Engine {
    let mut engine = Engine::new(config()).unwrap();
    apply(&mut engine, &Command::SetPrice { asset: USDC, price: price(1) });
    apply(&mut engine, &Command::SetPrice { asset: ETH, price: price(PRICE_BEFORE) });
    let maker = AccountId(0);
    open_with(&mut engine, maker, &[(USDC, units(20 * i128::from(TICK_ACCOUNTS)))]);
    for id in 1..=TICK_ACCOUNTS {
        let collateral = if id.is_multiple_of(CROSSING_EVERY) {
            250 + i128::from((id / CROSSING_EVERY) % 60)
        } else {
            340 + i128::from(id % 1_000)
        };
        let account = AccountId(id);
        open_with(&mut engine, account, &[(USDC, cents(collateral))]);
        apply(
            &mut engine,
            &Command::Trade {
                market: ETH_PERP,
                taker: account,
                maker,
                size: cents(1),
                price: price(PRICE_BEFORE),
            },
        );
    }
    engine
}

/// Builds a venue and reports how long it took (the bench's clock; the engine never reads one).
#[allow(clippy::disallowed_methods)]
fn timed(label: &str, build: fn() -> Engine) -> Engine {
    let started = Instant::now();
    let engine = build();
    eprintln!("{label}: {TICK_ACCOUNTS} accounts built in {:.1?}", started.elapsed());
    engine
}

fn set_eth(engine: &mut Engine, units: i128) {
    engine.apply(&Command::SetPrice { asset: ETH, price: price(units) }).unwrap();
}

/// Checks the scenario once: nothing liquidatable before the tick, exactly 1% after, and the
/// index agrees with the scan.
fn check_scenario(engine: &mut Engine, label: &str) {
    set_eth(engine, PRICE_BEFORE);
    assert!(engine.liquidatable_accounts().is_empty(), "{label}: liquidatable before the tick");
    set_eth(engine, PRICE_AFTER);
    let by_index = engine.liquidatable_accounts();
    let by_scan = engine.liquidatable_accounts_by_scan();
    let mut sorted = by_index.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, by_scan, "{label}: index and scan disagree");
    assert_eq!(
        u64::try_from(by_scan.len()).unwrap(),
        TICK_ACCOUNTS / CROSSING_EVERY,
        "{label}: not 1%"
    );
    eprintln!(
        "{label}: {} candidates, {} liquidatable after the tick",
        engine.liquidation_candidates().len(),
        by_index.len()
    );
}

fn bench_tick(c: &mut Criterion, name: &str, build: fn() -> Engine) {
    let mut engine = build();
    check_scenario(&mut engine, name);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(TICK_ACCOUNTS / CROSSING_EVERY));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(50);
    // The engine sits at the crashed price for the read-only queries.
    group.bench_function("index_candidates", |b| {
        b.iter(|| black_box(engine.liquidation_candidates()));
    });
    group.bench_function("index_confirmed", |b| {
        b.iter(|| black_box(engine.liquidatable_accounts()));
    });
    // Diagnostics for docs/PERFORMANCE.md: where `index_confirmed` spends its time.
    // The candidates plus one account lookup each, in index (key) order, without health checks.
    group.bench_function("diag_candidates_lookup_only", |b| {
        b.iter(|| {
            let candidates = engine.liquidation_candidates();
            candidates.iter().filter(|id| engine.account(**id).is_some()).count()
        });
    });
    // The same confirmation as `liquidatable_accounts`, with the candidates sorted by id first
    // (the account map is then walked in order: fewer cache misses).
    group.bench_function("diag_confirmed_sorted_by_id", |b| {
        b.iter(|| {
            let mut candidates = engine.liquidation_candidates();
            candidates.sort_unstable();
            candidates.retain(|id| engine.health(*id).is_ok_and(|health| health.is_liquidatable()));
            candidates
        });
    });
    // The whole tick as a keeper sees it: the crash, then the confirmed list; the price is put
    // back after each iteration (an O(1) command) so every iteration starts from the same state.
    group.bench_function("tick_then_index_confirmed", |b| {
        b.iter(|| {
            set_eth(&mut engine, PRICE_AFTER);
            let found = black_box(engine.liquidatable_accounts());
            set_eth(&mut engine, PRICE_BEFORE);
            found
        });
    });
    set_eth(&mut engine, PRICE_AFTER);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("full_scan", |b| {
        b.iter(|| black_box(engine.liquidatable_accounts_by_scan()));
    });
    group.finish();
}

fn tick_lending(c: &mut Criterion) {
    bench_tick(c, "tick_1m_lending", lending_venue);
}

fn tick_perp(c: &mut Criterion) {
    bench_tick(c, "tick_1m_perp", perp_venue);
}

criterion_group!(benches, simple_commands, tick_lending, tick_perp);
criterion_main!(benches);
