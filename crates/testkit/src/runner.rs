//! Running command sequences with checks after every command.
//!
//! [`run_checked`] applies commands one by one; after each it runs `engine.audit()` and, when the
//! command was rejected, asserts that the state hash did not change. A failed check panics with
//! the step index, the command and what was wrong, so a property test shows where its minimal
//! sequence breaks. [`Checks`] turns on more: the whole state compared on rejection, the
//! incremental hash against the hash from scratch, and the liquidation index against a scan.

use crate::steps::{Step, expand};
use backstop_core::{Command, Engine, Event, Rejection, StateHash};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What the runner checks after every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Run `engine.audit()` (every invariant, recomputed from the accounts).
    pub audit: bool,
    /// A rejected command leaves `engine.state_hash()` unchanged.
    pub hash_unchanged_on_rejection: bool,
    /// A rejected command leaves the `Debug` text of `engine.state()` unchanged.
    pub state_unchanged_on_rejection: bool,
    /// `engine.state_hash()` equals `engine.state_hash_from_scratch()`.
    pub incremental_hash: bool,
    /// `engine.liquidatable_accounts()` (sorted) equals `engine.liquidatable_accounts_by_scan()`.
    pub index_matches_scan: bool,
}

impl Checks {
    /// The audit and the hash check on rejection.
    pub const DEFAULT: Checks = Checks {
        audit: true,
        hash_unchanged_on_rejection: true,
        state_unchanged_on_rejection: false,
        incremental_hash: false,
        index_matches_scan: false,
    };

    /// Every check.
    pub const ALL: Checks = Checks {
        audit: true,
        hash_unchanged_on_rejection: true,
        state_unchanged_on_rejection: true,
        incremental_hash: true,
        index_matches_scan: true,
    };

    /// No check at all (for replays that compare hashes themselves).
    pub const NONE: Checks = Checks {
        audit: false,
        hash_unchanged_on_rejection: false,
        state_unchanged_on_rejection: false,
        incremental_hash: false,
        index_matches_scan: false,
    };
}

impl Default for Checks {
    fn default() -> Checks {
        Checks::DEFAULT
    }
}

/// One command the runner applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// Index of the step it came from.
    pub step: usize,
    /// The command applied.
    pub command: Command,
    /// Its events, or why it was rejected.
    pub result: Result<Vec<Event>, Rejection>,
}

/// Applies commands one by one with [`Checks::DEFAULT`]; returns each command's result.
///
/// # Panics
/// With the step index and the command, when the engine panics, an invariant is broken after a
/// command, or a rejected command changed the state hash.
pub fn run_checked(
    engine: &mut Engine,
    commands: &[Command],
) -> Vec<Result<Vec<Event>, Rejection>> {
    commands
        .iter()
        .enumerate()
        .map(|(index, command)| apply_checked(engine, index, command, Checks::DEFAULT))
        .collect()
}

/// Expands and applies steps one by one with [`Checks::DEFAULT`]; returns what was applied.
///
/// # Panics
/// As [`run_checked`].
pub fn run_steps_checked(engine: &mut Engine, steps: &[Step]) -> Vec<Executed> {
    run_steps_with(engine, steps, Checks::DEFAULT, |_, _| {})
}

/// Expands and applies steps one by one with the given checks, calling `observe` after each
/// command (with the engine after it); returns what was applied.
///
/// # Panics
/// As [`run_checked`], for the checks asked for.
pub fn run_steps_with(
    engine: &mut Engine,
    steps: &[Step],
    checks: Checks,
    mut observe: impl FnMut(&mut Engine, &Executed),
) -> Vec<Executed> {
    let mut executed = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        for command in expand(engine, step) {
            let result = apply_checked(engine, index, &command, checks);
            let record = Executed { step: index, command, result };
            observe(engine, &record);
            executed.push(record);
        }
    }
    executed
}

/// Applies one command and runs the checks asked for.
///
/// # Errors
/// The command's rejection.
///
/// # Panics
/// With the step index and the command, when the engine panics or a check fails.
pub fn apply_checked(
    engine: &mut Engine,
    step: usize,
    command: &Command,
    checks: Checks,
) -> Result<Vec<Event>, Rejection> {
    let hash_before = checks.hash_unchanged_on_rejection.then(|| engine.state_hash());
    let state_before = checks.state_unchanged_on_rejection.then(|| engine.state().clone());
    let result = match catch_unwind(AssertUnwindSafe(|| engine.apply(command))) {
        Ok(result) => result,
        Err(payload) => panic!(
            "step {step}: the engine panicked on {command:?}: {}",
            panic_message(payload.as_ref())
        ),
    };
    if checks.audit
        && let Err(violation) = engine.audit()
    {
        panic!("step {step}: invariant broken after {command:?} (result {result:?}): {violation}");
    }
    if let Err(rejection) = &result {
        if let Some(before) = hash_before {
            let after = engine.state_hash();
            assert!(
                before == after,
                "step {step}: rejected {command:?} ({rejection:?}) changed the state hash"
            );
        }
        if let Some(before) = state_before {
            let (before, after) = (format!("{before:?}"), format!("{:?}", engine.state()));
            assert!(
                before == after,
                "step {step}: rejected {command:?} ({rejection:?}) changed the state:\n\
                 before: {before}\nafter:  {after}"
            );
        }
    }
    if checks.incremental_hash {
        let incremental: StateHash = engine.state_hash();
        let scratch = engine.state_hash_from_scratch();
        assert!(
            incremental == scratch,
            "step {step}: after {command:?} the incremental state hash {} ≠ the hash from \
             scratch {}",
            backstop_core::to_hex(&incremental),
            backstop_core::to_hex(&scratch)
        );
    }
    if checks.index_matches_scan {
        let mut indexed = engine.liquidatable_accounts();
        indexed.sort();
        let scanned = engine.liquidatable_accounts_by_scan();
        assert!(
            indexed == scanned,
            "step {step}: after {command:?} the liquidation index finds {indexed:?} but a scan \
             finds {scanned:?}"
        );
    }
    result
}

/// The text of a panic payload.
#[must_use]
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(non-text panic payload)".to_owned()
    }
}
