//! The generators reach every part of the engine: over a fixed set of generated sequences per
//! fixture venue (a deterministic seed), every kind of command is accepted at least once and
//! every liquidation path produces its events. A generator change that quietly stops reaching a
//! path fails here rather than weakening the property tests unnoticed.
//!
//! `cargo test -p backstop-testkit --test coverage -- --nocapture` prints the tallies.

use backstop_testkit::generators;
use backstop_testkit::venues::{self, Fixture};
use backstop_testkit::{Checks, run_steps_with};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::BTreeMap;

/// Sequences generated per fixture.
const SEQUENCES: usize = 48;

/// The variant name of a `Debug` text such as `Traded { .. }`.
fn variant(text: &str) -> String {
    text.split([' ', '{', '(']).next().unwrap_or_default().to_owned()
}

/// Tallies of what the engine accepted, emitted and refused over generated sequences.
#[derive(Debug, Default)]
struct Tally {
    accepted: BTreeMap<&'static str, usize>,
    events: BTreeMap<String, usize>,
    rejected: BTreeMap<String, usize>,
    liquidatable_steps: usize,
    commands: usize,
}

fn tally(fixture: Fixture) -> Tally {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = generators::steps(&fixture.shape());
    let mut tally = Tally::default();
    for _ in 0..SEQUENCES {
        let steps = match strategy.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(reason) => panic!("cannot generate: {reason}"),
        };
        let mut engine = fixture.engine();
        run_steps_with(&mut engine, &steps, Checks::DEFAULT, |engine, record| {
            tally.commands += 1;
            if !engine.liquidatable_accounts().is_empty() {
                tally.liquidatable_steps += 1;
            }
            match &record.result {
                Ok(events) => {
                    *tally.accepted.entry(record.command.name()).or_default() += 1;
                    for event in events {
                        *tally.events.entry(variant(&format!("{event:?}"))).or_default() += 1;
                    }
                }
                Err(rejection) => {
                    let name = variant(&format!("{rejection:?}"));
                    *tally
                        .rejected
                        .entry(format!("{}: {name}", record.command.name()))
                        .or_default() += 1;
                }
            }
        });
    }
    println!("== {}: {tally:#?}", fixture.name);
    tally
}

fn assert_reaches(fixture: Fixture, tally: &Tally, commands: &[&str], events: &[&str]) {
    for name in commands {
        assert!(
            tally.accepted.get(name).is_some_and(|count| *count > 0),
            "{}: no `{name}` command was accepted: {tally:#?}",
            fixture.name
        );
    }
    for name in events {
        assert!(
            tally.events.get(*name).is_some_and(|count| *count > 0),
            "{}: no `{name}` event: {tally:#?}",
            fixture.name
        );
    }
    // Mostly valid: well over half the commands are accepted.
    let accepted: usize = tally.accepted.values().sum();
    assert!(accepted * 2 > tally.commands, "{}: too many rejections: {tally:#?}", fixture.name);
}

const COMMON_COMMANDS: [&str; 12] = [
    "advance_time",
    "set_price",
    "open_account",
    "deposit",
    "withdraw",
    "supply",
    "withdraw_supply",
    "borrow",
    "repay",
    "accrue_interest",
    "trade",
    "accrue_funding",
];

const COMMON_EVENTS: [&str; 4] = ["InterestAccrued", "PnlSettled", "FundingPaid", "Traded"];

#[test]
fn the_lending_perp_venue_is_covered() {
    let fixture = venues::LENDING_PERP;
    let tally = tally(fixture);
    let commands: Vec<&str> = COMMON_COMMANDS.iter().copied().chain(["liquidate"]).collect();
    let events: Vec<&str> = COMMON_EVENTS
        .iter()
        .copied()
        .chain(["DebtLiquidated", "PositionLiquidated", "DeficitRecorded"])
        .collect();
    assert_reaches(fixture, &tally, &commands, &events);
}

#[test]
fn the_dutch_auction_venue_is_covered() {
    let fixture = venues::DUTCH_AUCTION;
    let tally = tally(fixture);
    let commands: Vec<&str> =
        COMMON_COMMANDS.iter().copied().chain(["liquidate", "take_auction"]).collect();
    let events: Vec<&str> = COMMON_EVENTS
        .iter()
        .copied()
        .chain([
            "AuctionStarted",
            "AuctionTaken",
            "AuctionEnded",
            "DebtLiquidated",
            "DeficitRecorded",
        ])
        .collect();
    assert_reaches(fixture, &tally, &commands, &events);
}

#[test]
fn the_takeover_venue_is_covered() {
    let fixture = venues::TAKEOVER;
    let tally = tally(fixture);
    let commands: Vec<&str> = COMMON_COMMANDS.iter().copied().chain(["liquidate"]).collect();
    let events: Vec<&str> =
        COMMON_EVENTS.iter().copied().chain(["AccountTakenOver", "PositionTakenOver"]).collect();
    assert_reaches(fixture, &tally, &commands, &events);
}

#[test]
fn the_fine_decimals_venue_is_covered() {
    let fixture = venues::FINE_DECIMALS;
    let tally = tally(fixture);
    let commands: Vec<&str> = COMMON_COMMANDS.iter().copied().chain(["liquidate"]).collect();
    let events: Vec<&str> =
        COMMON_EVENTS.iter().copied().chain(["DebtLiquidated", "PositionLiquidated"]).collect();
    assert_reaches(fixture, &tally, &commands, &events);
}
