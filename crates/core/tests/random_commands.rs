//! Every command kind under random testing on the full safety-net venue
//! (`backstop_testkit::full_net`): invariants after every command, a rejected command leaves the
//! state hash unchanged, a sequence replays to the same hash, and a fixed-seed run applies every
//! kind at least [`MIN_APPLIED`] times (the table is in docs/INVARIANTS.md).
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_testkit::Checks;
use backstop_testkit::full_net::{Coverage, Dice, Driver, KINDS};
use proptest::prelude::*;

/// Commands in the fixed-seed coverage run.
const COVERAGE_COMMANDS: usize = 6_000;
/// Seed of the coverage run.
const COVERAGE_SEED: u64 = 10;
/// Least number of times every kind must be applied in the coverage run.
const MIN_APPLIED: u64 = 5;

/// Runs `n` random commands from `seed`; returns the driver after them.
fn fixed_run(seed: u64, n: usize, checks: Checks) -> Driver {
    let mut driver = Driver::new(checks);
    let mut dice = Dice::new(seed);
    for _ in 0..n {
        let _ = driver.random_step(dice.next_u64());
    }
    driver
}

fn table(coverage: &Coverage) -> String {
    let mut text = String::from("| kind | applied | rejected |\n|---|---:|---:|\n");
    for kind in KINDS {
        let (applied, rejected) = coverage.get(kind).copied().unwrap_or((0, 0));
        text.push_str(&format!("| `{kind}` | {applied} | {rejected} |\n"));
    }
    text
}

#[test]
fn every_kind_is_applied_at_the_fixed_seed() {
    let driver = fixed_run(COVERAGE_SEED, COVERAGE_COMMANDS, Checks::DEFAULT);
    let table = table(&driver.coverage);
    println!("{table}");
    for ((kind, reason), count) in &driver.reasons {
        println!("{kind} {reason} {count}");
    }
    let short: Vec<_> = KINDS
        .iter()
        .filter(|kind| driver.coverage.get(*kind).map_or(0, |counts| counts.0) < MIN_APPLIED)
        .collect();
    assert!(short.is_empty(), "kinds applied fewer than {MIN_APPLIED} times: {short:?}\n{table}");
    // The run is deterministic: its table is pinned in docs/INVARIANTS.md.
    let doc = include_str!("../../../docs/INVARIANTS.md");
    assert!(doc.contains(&table), "docs/INVARIANTS.md does not hold this table:\n{table}");
}

/// Random sequences: the audit after every command, the state hash unchanged by a rejection and
/// equal to the hash from scratch (`Checks`), and the same sequence replayed on a fresh venue
/// reaches the same state hash.
fn sequence_holds(seeds: &[u64]) -> Result<(), TestCaseError> {
    let checks = Checks { incremental_hash: true, ..Checks::DEFAULT };
    let mut driver = Driver::new(checks);
    let mut commands = Vec::with_capacity(seeds.len());
    for seed in seeds {
        commands.push(driver.random_step(*seed).0);
    }
    let mut replay = Driver::new(Checks::NONE);
    for command in &commands {
        let _ = replay.apply(command);
    }
    prop_assert_eq!(replay.engine.state_hash(), driver.engine.state_hash());
    prop_assert_eq!(&replay.coverage, &driver.coverage);
    Ok(())
}

proptest! {
    #![proptest_config({
        let mut config = backstop_testkit::proptest_config();
        // Each case runs up to 300 commands with the audit after each: a quarter of the cases.
        config.cases = config.cases.div_ceil(4);
        config
    })]

    #[test]
    fn random_sequences_of_every_kind_keep_invariants(
        seeds in prop::collection::vec(any::<u64>(), 1..300)
    ) {
        sequence_holds(&seeds)?;
    }
}

#[test]
fn a_rejection_leaves_the_state_exactly_as_it_was() {
    // The full state (its Debug text) after every rejection of a fixed-seed run, not only its hash.
    let checks = Checks { state_unchanged_on_rejection: true, ..Checks::DEFAULT };
    let driver = fixed_run(COVERAGE_SEED + 1, 1_500, checks);
    let rejected: u64 = driver.coverage.values().map(|counts| counts.1).sum();
    assert!(rejected >= 300, "only {rejected} rejections were exercised");
}
