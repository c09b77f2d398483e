//! Atomic by construction (crates/core/src/store.rs): a command stopped at its Nth recorded
//! write, for every N, leaves the engine exactly as before it — state, state hash (cached and
//! from scratch), liquidation index, configuration — and the same command then applies as if
//! nothing had happened. Figures are in docs/INVARIANTS.md ("One write path").
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_core::{AccountId, Command, Engine, Event, Rejection};
use backstop_testkit::Checks;
use backstop_testkit::full_net::{self, Dice, Driver, KINDS, pick_kind};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Random commands whose every write is failed in turn.
const COMMANDS: usize = 1_000;
/// Governance life cycles (propose, votes, queue, execute) after the random commands.
const CYCLES: usize = 40;
/// Seed of the run.
const SEED: u64 = 7;

/// Recorded writes failed in the run (pinned).
const WRITES_FAILED: usize = 2_696;

/// Silences the panic message of injected faults (other panics still print).
fn quiet_injected_faults() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>().map_or("", String::as_str);
        if !message.starts_with("injected fault") {
            default(info);
        }
    }));
}

/// What must not move when a command is stopped half-way and undone.
fn fingerprint(engine: &mut Engine) -> (backstop_core::StateHash, Vec<backstop_core::AccountId>) {
    let hash = engine.state_hash();
    assert_eq!(hash, engine.state_hash_from_scratch(), "cached hash equals the hash from scratch");
    let mut liquidatable = engine.liquidatable_accounts();
    liquidatable.sort();
    let mut by_scan = engine.liquidatable_accounts_by_scan();
    by_scan.sort();
    assert_eq!(liquidatable, by_scan, "the liquidation index matches a scan");
    (hash, liquidatable)
}

/// Fails every recorded write of `command` on copies of `engine` in turn and checks each copy
/// is restored exactly; returns the command's number of writes, whether it was applied and
/// whether stopping it at its last write had left a partly changed state to undo.
fn fail_every_write(engine: &Engine, command: &Command) -> Tested {
    let mut whole = engine.clone();
    let outcome: Result<Vec<Event>, Rejection> = whole.apply(command);
    let writes = whole.last_command_writes();
    let after = fingerprint(&mut whole);
    let mut reference = engine.clone();
    let before = fingerprint(&mut reference);
    let mut partial = false;
    for nth in 1..=writes {
        let mut copy = engine.clone();
        copy.inject_fault(nth);
        let stopped = catch_unwind(AssertUnwindSafe(|| copy.apply(command)));
        assert!(stopped.is_err(), "{command:?}: write {nth} of {writes} did not fault");
        // Stopped at its last write, the command has written all the others: was there
        // something to undo (the keeper already paid, the claim already removed, ...)?
        partial |= nth == writes && copy.state() != engine.state();
        copy.abort_command();
        assert!(copy.state() == engine.state(), "{command:?}: stopped at write {nth}, not undone");
        assert_eq!(fingerprint(&mut copy), before, "{command:?}: write {nth}");
        assert_eq!(copy.config(), engine.config(), "{command:?}: write {nth}: configuration");
        copy.audit().unwrap();
        // The undone copy goes on exactly like the original.
        assert_eq!(copy.apply(command), outcome, "{command:?}: write {nth}: replay");
        assert!(copy.state() == whole.state(), "{command:?}: write {nth}: replay state");
        assert_eq!(fingerprint(&mut copy), after, "{command:?}: write {nth}: replay hash");
    }
    Tested { applied: usize::from(outcome.is_ok()), writes, partial: usize::from(partial) }
}

/// Per command kind: commands applied, writes failed, commands with a partial state undone.
#[derive(Debug, Default, Clone, Copy)]
struct Tested {
    applied: usize,
    writes: usize,
    partial: usize,
}

impl std::ops::AddAssign for Tested {
    fn add_assign(&mut self, other: Tested) {
        self.applied += other.applied;
        self.writes += other.writes;
        self.partial += other.partial;
    }
}

#[test]
fn a_command_stopped_at_any_write_changes_nothing() {
    quiet_injected_faults();
    let mut driver = Driver::new(Checks::NONE);
    let mut dice = Dice::new(SEED);
    let mut tested: BTreeMap<&str, Tested> = BTreeMap::new();
    for _ in 0..COMMANDS {
        let mut step = Dice::new(dice.next_u64());
        let kind = pick_kind(&mut step);
        let command = driver.command(kind, step.next_u64());
        *tested.entry(KINDS[kind]).or_default() += fail_every_write(&driver.engine, &command);
        let _ = driver.apply(&command);
    }
    // Execution is rare in random sequences: run governance life cycles too.
    let cycle = ["propose", "vote", "vote", "vote", "vote", "advance_time", "queue"];
    let cycle = cycle.iter().chain(&["advance_time", "advance_time", "execute", "execute"]);
    let cycle: Vec<usize> =
        cycle.map(|name| KINDS.iter().position(|kind| kind == name).unwrap()).collect();
    for _ in 0..CYCLES {
        for kind in &cycle {
            let command = driver.command(*kind, dice.next_u64());
            *tested.entry(KINDS[*kind]).or_default() += fail_every_write(&driver.engine, &command);
            let _ = driver.apply(&command);
        }
    }
    let total: usize = tested.values().map(|entry| entry.writes).sum();
    for (kind, entry) in &tested {
        println!("| `{kind}` | {} | {} | {} |", entry.applied, entry.writes, entry.partial);
    }
    println!("writes failed: {total}");
    // The kinds whose handlers used to commit and then fail (issue 10) were stopped half-way
    // with a partly written state, and undone.
    for kind in ["liquidate", "take_auction", "supply", "recover", "settle_cover_claim", "execute"]
    {
        let partial = tested.get(kind).map_or(0, |entry| entry.partial);
        assert!(partial > 0, "{kind} was never undone from a partial state: {tested:?}");
    }
    // Deterministic at this seed (docs/INVARIANTS.md, "Fault injection").
    assert_eq!(total, WRITES_FAILED, "writes failed");
}

#[test]
fn a_command_that_panicked_half_way_is_undone_by_the_next_apply() {
    quiet_injected_faults();
    let mut driver = Driver::new(Checks::NONE);
    let command = Command::Supply {
        account: AccountId(4),
        asset: full_net::USDC,
        amount: full_net::amount(100, 0),
    };
    let mut untouched = driver.engine.clone();
    let outcome = untouched.apply(&command);
    assert!(outcome.is_ok(), "{command:?}: {outcome:?}");
    assert!(untouched.last_command_writes() >= 2, "supply writes its market and its account");
    // Stop the supply after its first write; the caller goes on without `abort_command`.
    let engine = &mut driver.engine;
    engine.inject_fault(2);
    assert!(catch_unwind(AssertUnwindSafe(|| engine.apply(&command))).is_err());
    assert_eq!(engine.apply(&command), outcome);
    assert!(engine.state() == untouched.state());
    assert_eq!(fingerprint(engine), fingerprint(&mut untouched));
}
