//! Property tests of the engine over random command sequences (see `backstop-testkit`).
//!
//! Each property runs 256 cases unless `PROPTEST_CASES` says otherwise; sequences are a setup
//! (accounts, prices, deposits, leverage) followed by up to 200 random steps over one of the
//! fixture venues. A failure prints the minimal (shrunk) sequence, and the captured output shows
//! the seed to replay it with `PROPTEST_RNG_SEED`; no regression file is written.
//!
//! Run with `cargo test -p backstop-core --test properties_engine`.

use backstop_core::{AccountId, AccountKind, AssetId, AuctionId, Command, Engine, Event};
use backstop_money::{Amount, Rounding, SCALE, Shares, mul_div};
use backstop_testkit::generators::{self, Mix};
use backstop_testkit::steps::{self, Step};
use backstop_testkit::venues::{AssetShape, Fixture};
use backstop_testkit::{Checks, Executed, apply_checked, run_steps_checked, run_steps_with};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The shared configuration: 256 cases unless `PROPTEST_CASES` is set, no regression files.
fn config() -> ProptestConfig {
    backstop_testkit::proptest_config()
}

/// The audit after every command, for properties that check something else as well.
const AUDIT_ONLY: Checks = Checks { audit: true, ..Checks::NONE };

/// A fixture venue and a sequence of steps for it, with the default mix.
fn sequences() -> impl Strategy<Value = (Fixture, Vec<Step>)> {
    generators::fixture_and_steps(Mix::default())
}

/// Every invariant holds after every command of a random sequence (the audit recomputes them
/// all from the accounts), and every rejection leaves the state hash unchanged.
#[test]
fn random_sequences_never_break_an_invariant() {
    proptest!(config(), |((fixture, steps) in sequences())| {
        let mut engine = fixture.engine();
        run_steps_checked(&mut engine, &steps);
    });
}

/// The same property over plain commands (no markers): liquidations, auction takes and resets
/// aim at random targets and the engine refuses most of them.
#[test]
fn plain_command_sequences_never_break_an_invariant() {
    let strategy =
        prop::sample::select(backstop_testkit::venues::ALL.to_vec()).prop_flat_map(|fixture| {
            (Just(fixture), generators::commands(&fixture.shape(), Mix::default()))
        });
    proptest!(config(), |((fixture, commands) in strategy)| {
        let mut engine = fixture.engine();
        backstop_testkit::run_checked(&mut engine, &commands);
    });
}

/// A rejected command changes nothing: the state hash and the whole state's `Debug` text are
/// identical before and after. The mix leans on invalid commands.
#[test]
fn a_rejected_command_changes_nothing() {
    let mix = Mix { invalid_weight: 30, ..Mix::default() };
    let checks = Checks { state_unchanged_on_rejection: true, ..Checks::DEFAULT };
    proptest!(config(), |((fixture, steps) in generators::fixture_and_steps(mix))| {
        let mut engine = fixture.engine();
        run_steps_with(&mut engine, &steps, checks, |_, _| {});
    });
}

/// Replaying the applied commands on a fresh engine gives the same results and the same hash
/// after every step, and the incremental hash equals the hash computed from scratch: after every
/// command the first engine's incremental `state_hash()` must equal the replay's
/// `state_hash_from_scratch()`. The replay asks for its own incremental hash only every `stride`
/// commands, so the cache also sees batches of changed accounts.
#[test]
fn replay_gives_the_same_hash_after_every_step() {
    proptest!(config(), |((fixture, steps) in sequences(), stride in 1_usize..8)| {
        check_replay(fixture, &steps, stride)?;
    });
}

fn check_replay(fixture: Fixture, steps: &[Step], stride: usize) -> Result<(), TestCaseError> {
    // Invariants and atomicity have their own properties; this one is about the hash alone.
    let mut engine = fixture.engine();
    let mut hashes = Vec::new();
    let executed = run_steps_with(&mut engine, steps, Checks::NONE, |engine, _| {
        hashes.push(engine.state_hash());
    });
    let mut replay = fixture.engine();
    for (index, (record, hash)) in executed.iter().zip(&hashes).enumerate() {
        let result = apply_checked(&mut replay, index, &record.command, Checks::NONE);
        prop_assert_eq!(
            &result,
            &record.result,
            "command {} ({:?}) gave another result on replay",
            index,
            record.command
        );
        prop_assert_eq!(
            replay.state_hash_from_scratch(),
            *hash,
            "after command {} ({:?}) the replay's hash from scratch differs from the first \
             engine's incremental hash",
            index,
            record.command
        );
        if index % stride == 0 || index + 1 == executed.len() {
            prop_assert_eq!(
                replay.state_hash(),
                *hash,
                "the replay's incremental hash differs after command {} ({:?})",
                index,
                record.command
            );
        }
    }
    Ok(())
}

/// The liquidation index never misses an account: after every command, the accounts it finds
/// (sorted) are exactly those a scan of every account finds.
#[test]
fn the_liquidation_index_equals_a_scan_after_every_step() {
    let mix = Mix { liquidation_weight: 8, ..Mix::default() };
    let checks = Checks { index_matches_scan: true, ..Checks::DEFAULT };
    proptest!(config(), |((fixture, steps) in generators::fixture_and_steps(mix))| {
        let mut engine = fixture.engine();
        run_steps_with(&mut engine, &steps, checks, |_, _| {});
    });
}

/// True when an account owes something, holds no collateral, has no open position and no
/// auction of its collateral runs: its shortfall should have gone to the deficit ledger.
fn left_bankrupt(account: &backstop_core::Account) -> bool {
    account.has_liabilities()
        && account.has_no_collateral()
        && account.has_no_open_base()
        && account.auctions_running == 0
}

/// Bad debt is never silent (docs/INVARIANTS.md): after a liquidation (or the auction take that
/// ends a liquidation auction), the liquidated account is not left with liabilities, no
/// collateral and no open position: its shortfall went to the deficit ledger.
#[test]
fn bad_debt_is_never_left_silent_after_a_liquidation() {
    proptest!(config(), |((fixture, steps) in sequences())| {
        let mut engine = fixture.engine();
        let mut auctions = BTreeMap::new();
        run_steps_with(&mut engine, &steps, AUDIT_ONLY, |engine, record| {
            check_liquidated_not_bankrupt(engine, record, &mut auctions);
        });
    });
}

/// Panics when the account a liquidation or auction end touched is left bankrupt.
fn check_liquidated_not_bankrupt(
    engine: &Engine,
    record: &Executed,
    auctions: &mut BTreeMap<AuctionId, AccountId>,
) {
    let Ok(events) = &record.result else { return };
    let mut liquidated = Vec::new();
    for event in events {
        match *event {
            Event::AuctionStarted { auction, account, .. } => {
                auctions.insert(auction, account);
            }
            Event::AuctionEnded { auction, .. } => liquidated.extend(auctions.get(&auction)),
            _ => {}
        }
    }
    if let Command::Liquidate { account, .. } = record.command {
        liquidated.push(account);
    }
    for id in liquidated {
        let Some(account) = engine.account(id) else { continue };
        assert!(
            !left_bankrupt(account),
            "step {}: after {:?} account {} has liabilities, no collateral and no open \
             position, and no deficit was recorded: {account:?}\nevents: {events:?}",
            record.step,
            record.command,
            id.0
        );
    }
}

/// Stronger than the above and true of the engine as it stands: after any command, no account
/// at all is left with liabilities, no collateral and no open position (trades that close a
/// position at an unpayable loss record the deficit too).
#[test]
fn no_account_is_left_bankrupt_without_a_deficit() {
    proptest!(config(), |((fixture, steps) in sequences())| {
        let mut engine = fixture.engine();
        run_steps_with(&mut engine, &steps, AUDIT_ONLY, |engine, record| {
            for (id, account) in &engine.state().accounts {
                assert!(
                    !left_bankrupt(account),
                    "step {}: after {:?} ({:?}) account {} is bankrupt without a deficit: \
                     {account:?}",
                    record.step,
                    record.command,
                    record.result,
                    id.0
                );
            }
        });
    });
}

/// Every supply, supply withdrawal, borrow and repayment in a random sequence rounds in the
/// venue's favour, checked exactly against the market's index (these commands do not move it):
/// shares minted are worth at most what was supplied, shares burned at least what was withdrawn,
/// debt added is at least what was borrowed and debt removed at most what was repaid.
#[test]
fn lending_rounding_favours_the_venue_in_random_sequences() {
    proptest!(config(), |((fixture, steps) in sequences())| {
        let mut engine = fixture.engine();
        run_steps_with(&mut engine, &steps, AUDIT_ONLY, |engine, record| {
            check_lending_rounding(engine, record);
        });
    });
}

/// Panics when a lending event of `record` rounds against the venue.
fn check_lending_rounding(engine: &Engine, record: &Executed) {
    let Ok(events) = &record.result else { return };
    for event in events {
        let (asset, amount, shares, index, rounding, venue_side) = match *event {
            Event::Supplied { asset, amount, shares, .. } => {
                (asset, amount, shares, supply_index(engine, asset), Rounding::Ceil, Side::AtMost)
            }
            Event::SupplyWithdrawn { asset, amount, shares, .. } => {
                (asset, amount, shares, supply_index(engine, asset), Rounding::Floor, Side::AtLeast)
            }
            Event::Borrowed { asset, amount, debt_shares, .. } => (
                asset,
                amount,
                debt_shares,
                borrow_index(engine, asset),
                Rounding::Floor,
                Side::AtLeast,
            ),
            Event::Repaid { asset, amount, debt_shares, .. } => (
                asset,
                amount,
                debt_shares,
                borrow_index(engine, asset),
                Rounding::Ceil,
                Side::AtMost,
            ),
            _ => continue,
        };
        // Shares × index, rounded so that the comparison with the integer amount is exact.
        let worth = mul_div(shares.raw(), index, SCALE, rounding).map(Amount::from_raw);
        let Ok(worth) = worth else { panic!("step {}: overflow valuing {event:?}", record.step) };
        let holds = match venue_side {
            Side::AtMost => worth <= amount,
            Side::AtLeast => worth >= amount,
        };
        assert!(
            holds,
            "step {}: {:?} rounds against the venue in asset {}: shares are worth {worth} \
             for {amount}",
            record.step, record.command, asset.0
        );
    }
}

/// Which way the shares' worth must lie from the amount for the venue not to lose.
#[derive(Debug, Clone, Copy)]
enum Side {
    AtMost,
    AtLeast,
}

fn supply_index(engine: &Engine, asset: AssetId) -> i128 {
    lending(engine, asset).map_or(SCALE, |market| market.supply_index.raw())
}

fn borrow_index(engine: &Engine, asset: AssetId) -> i128 {
    lending(engine, asset).map_or(SCALE, |market| market.borrow_index.raw())
}

fn lending(
    engine: &Engine,
    asset: AssetId,
) -> Option<&backstop_core::venue::lending::LendingMarket> {
    engine.state().lending.get(asset.index()).and_then(Option::as_ref)
}

/// A supplier's operation in a supply/withdraw cycle.
#[derive(Debug, Clone, Copy)]
enum CycleOp {
    /// Supply this many smallest units.
    SupplyUnits(i128),
    /// Supply this fraction (bps) of the balance.
    SupplyFraction(u32),
    /// Withdraw this many smallest units of supply.
    WithdrawUnits(i128),
    /// Withdraw this fraction (bps) of the supply's value, rounded down to the decimals.
    WithdrawFraction(u32),
}

fn cycle_op() -> impl Strategy<Value = CycleOp> {
    prop_oneof![
        4 => (1_i128..=100).prop_map(CycleOp::SupplyUnits),
        2 => (1_u32..=10_000).prop_map(CycleOp::SupplyFraction),
        4 => (1_i128..=100).prop_map(CycleOp::WithdrawUnits),
        2 => prop_oneof![Just(10_000_u32), 1_u32..=10_000].prop_map(CycleOp::WithdrawFraction),
    ]
}

/// A random venue state to start from: a fixture, a short random sequence (interest moves the
/// indices away from one), fresh prices, and a lending asset to work with.
fn prepared_market() -> impl Strategy<Value = (Fixture, Vec<Step>, AssetShape)> {
    generators::fixture_and_steps(Mix { max_len: 60, ..Mix::default() }).prop_flat_map(
        |(fixture, steps)| {
            let shape = fixture.shape();
            (Just(fixture), Just(steps), generators::lending_asset(&shape))
        },
    )
}

/// Runs the prepared steps, refreshes prices and opens `account` with `deposit` of `asset`.
fn prepare(
    fixture: &Fixture,
    steps: &[Step],
    account: AccountId,
    asset: AssetId,
    deposit: Amount,
) -> Engine {
    let mut engine = fixture.engine();
    run_steps_checked(&mut engine, steps);
    let setup = [
        Step::RefreshPrices,
        Step::Apply(Command::OpenAccount { account, kind: AccountKind::Regular }),
        Step::Apply(Command::Deposit { account, asset, amount: deposit }),
    ];
    let applied = run_steps_checked(&mut engine, &setup);
    let deposited = applied
        .iter()
        .any(|record| matches!(record.command, Command::Deposit { .. }) && record.result.is_ok());
    assert!(deposited, "the cycling account could not be set up: {applied:?}");
    engine
}

fn holding(engine: &Engine, account: AccountId, asset: AssetId) -> backstop_core::AssetHolding {
    engine
        .account(account)
        .and_then(|found| found.holdings.get(asset.index()).copied())
        .unwrap_or_default()
}

/// What `shares` supply shares are worth now, rounded down.
fn supply_worth(engine: &Engine, asset: AssetId, shares: Shares) -> Amount {
    lending(engine, asset)
        .and_then(|market| market.supply_value_of(shares).ok())
        .unwrap_or_default()
}

/// Deposit → supply → withdraw-supply cycles, with tiny and fractional amounts, never give a
/// supplier more than it put in: its balance plus what its remaining shares are worth never
/// exceeds its deposit, even after it withdraws everything it can (the inflation-style attack of
/// repeated tiny supplies and withdrawals extracts nothing).
#[test]
fn supply_withdraw_cycles_never_return_more_than_was_put_in() {
    let cases =
        (prepared_market(), generators::value(0..=5), prop::collection::vec(cycle_op(), 1..40));
    proptest!(config(), |(((fixture, prefix, asset), value, ops) in cases)| {
        check_supply_cycles(&fixture, &prefix, &asset, value, &ops)?;
    });
}

fn check_supply_cycles(
    fixture: &Fixture,
    prefix: &[Step],
    asset: &AssetShape,
    deposit_value: Amount,
    ops: &[CycleOp],
) -> Result<(), TestCaseError> {
    let supplier = AccountId(42);
    let deposit = generators::amount_worth(asset, deposit_value);
    let mut engine = prepare(fixture, prefix, supplier, asset.id, deposit);
    let quantum = asset.quantum();
    let at_least_one_unit = |raw: Amount| Amount::from_raw(raw.raw().max(quantum));
    for (index, op) in ops.iter().enumerate() {
        let held = holding(&engine, supplier, asset.id);
        let (account, asset_id) = (supplier, asset.id);
        let command = match *op {
            CycleOp::SupplyUnits(units) => {
                let amount = at_least_one_unit(Amount::from_raw(units * quantum));
                Command::Supply { account, asset: asset_id, amount }
            }
            CycleOp::SupplyFraction(bps) => {
                let part = steps::quantise_down(steps::fraction_of(held.balance, bps), quantum);
                Command::Supply { account, asset: asset_id, amount: at_least_one_unit(part) }
            }
            CycleOp::WithdrawUnits(units) => {
                let amount = at_least_one_unit(Amount::from_raw(units * quantum));
                Command::WithdrawSupply { account, asset: asset_id, amount }
            }
            CycleOp::WithdrawFraction(bps) => {
                let worth = supply_worth(&engine, asset_id, held.supply_shares);
                let part = steps::quantise_down(steps::fraction_of(worth, bps), quantum);
                Command::WithdrawSupply {
                    account,
                    asset: asset_id,
                    amount: at_least_one_unit(part),
                }
            }
        };
        let _ = apply_checked(&mut engine, index, &command, Checks::DEFAULT);
        assert_not_above(&engine, supplier, asset_id, deposit, &command)?;
    }
    // Finally take out everything the shares are worth (rounded down to the decimals).
    let held = holding(&engine, supplier, asset.id);
    let all = steps::quantise_down(supply_worth(&engine, asset.id, held.supply_shares), quantum);
    if all.is_positive() {
        let command = Command::WithdrawSupply { account: supplier, asset: asset.id, amount: all };
        let _ = apply_checked(&mut engine, ops.len(), &command, Checks::DEFAULT);
        assert_not_above(&engine, supplier, asset.id, deposit, &command)?;
    }
    let balance = holding(&engine, supplier, asset.id).balance;
    prop_assert!(balance <= deposit, "withdrew {} after depositing {}", balance, deposit);
    Ok(())
}

/// The supplier's balance plus what its shares are worth is at most what it deposited.
fn assert_not_above(
    engine: &Engine,
    supplier: AccountId,
    asset: AssetId,
    deposit: Amount,
    after: &Command,
) -> Result<(), TestCaseError> {
    let held = holding(engine, supplier, asset);
    let worth = supply_worth(engine, asset, held.supply_shares);
    let total = held.balance.checked_add(worth).unwrap_or(Amount::MAX);
    prop_assert!(
        total <= deposit,
        "after {:?} the supplier holds {} + shares worth {} = {} > deposit {}",
        after,
        held.balance,
        worth,
        total,
        deposit
    );
    Ok(())
}

/// A borrower's operation before it repays everything.
#[derive(Debug, Clone, Copy)]
enum LoanOp {
    /// Borrow this many smallest units.
    BorrowUnits(i128),
    /// Borrow about this value in the numeraire.
    BorrowValue(Amount),
    /// Repay this many smallest units.
    RepayUnits(i128),
    /// Let this many seconds pass (prices are refreshed).
    Wait(u64),
}

fn loan_op() -> impl Strategy<Value = LoanOp> {
    prop_oneof![
        3 => (1_i128..=1_000).prop_map(LoanOp::BorrowUnits),
        3 => generators::value(0..=4).prop_map(LoanOp::BorrowValue),
        3 => (1_i128..=1_000).prop_map(LoanOp::RepayUnits),
        1 => (0_u64..=86_400).prop_map(LoanOp::Wait),
    ]
}

/// Borrowing and then repaying the whole debt never costs less than was borrowed: summed over
/// any mix of borrows, partial repayments and time, what was repaid is at least what was
/// borrowed once the debt is gone.
#[test]
fn borrow_then_repay_in_full_never_costs_less_than_borrowed() {
    let ops = prop::collection::vec(loan_op(), 1..30);
    proptest!(config(), |((fixture, prefix, asset) in prepared_market(), ops in ops)| {
        check_borrow_repay(&fixture, &prefix, &asset, &ops)?;
    });
}

fn check_borrow_repay(
    fixture: &Fixture,
    prefix: &[Step],
    asset: &AssetShape,
    ops: &[LoanOp],
) -> Result<(), TestCaseError> {
    let borrower = AccountId(43);
    // Plenty of collateral: a million in every asset; the debt asset's own balance pays interest.
    let million = Amount::from_raw(1_000_000 * SCALE);
    let mut engine =
        prepare(fixture, prefix, borrower, asset.id, generators::amount_worth(asset, million));
    let deposits: Vec<Command> = fixture
        .shape()
        .assets
        .iter()
        .filter(|other| other.id != asset.id)
        .map(|other| Command::Deposit {
            account: borrower,
            asset: other.id,
            amount: generators::amount_worth(other, million),
        })
        .collect();
    backstop_testkit::run_checked(&mut engine, &deposits);
    let (account, asset_id, quantum) = (borrower, asset.id, asset.quantum());
    let (mut borrowed, mut repaid) = (0_i128, 0_i128);
    let mut tally = |executed: &[Executed]| {
        for record in executed {
            for event in record.result.as_deref().unwrap_or_default() {
                match event {
                    Event::Borrowed { account: id, amount, .. } if *id == borrower => {
                        borrowed += amount.raw();
                    }
                    Event::Repaid { account: id, amount, .. } if *id == borrower => {
                        repaid += amount.raw();
                    }
                    _ => {}
                }
            }
        }
    };
    for op in ops {
        let steps = match *op {
            LoanOp::BorrowUnits(units) => {
                let amount = Amount::from_raw(units * quantum);
                vec![Step::Apply(Command::Borrow { account, asset: asset_id, amount })]
            }
            LoanOp::BorrowValue(value) => {
                let amount = generators::amount_worth(asset, value);
                vec![Step::Apply(Command::Borrow { account, asset: asset_id, amount })]
            }
            LoanOp::RepayUnits(units) => {
                let amount = Amount::from_raw(units * quantum);
                vec![Step::Apply(Command::Repay { account, asset: asset_id, amount })]
            }
            LoanOp::Wait(secs) => vec![Step::AdvanceBy { secs }, Step::RefreshPrices],
        };
        tally(&run_steps_checked(&mut engine, &steps));
    }
    // Repay everything: top the balance up to the debt first if interest outgrew it.
    let held = holding(&engine, borrower, asset_id);
    let debt = lending(&engine, asset_id)
        .and_then(|market| market.debt_of(held.debt_shares).ok())
        .unwrap_or_default();
    let mut finish = Vec::new();
    if debt > held.balance {
        let short = Amount::from_raw(debt.raw() - held.balance.raw());
        let amount = Amount::from_raw(steps::quantise_down(short, quantum).raw() + quantum);
        finish.push(Step::Apply(Command::Deposit { account, asset: asset_id, amount }));
    }
    if held.debt_shares.is_positive() {
        let amount = Amount::from_raw(steps::quantise_down(debt, quantum).raw() + quantum);
        finish.push(Step::Apply(Command::Repay { account, asset: asset_id, amount }));
    }
    tally(&run_steps_checked(&mut engine, &finish));
    let left = holding(&engine, borrower, asset_id).debt_shares;
    prop_assert!(left.is_zero(), "debt shares {} left after repaying everything", left);
    prop_assert!(repaid >= borrowed, "repaid {} raw for {} raw borrowed", repaid, borrowed);
    Ok(())
}
