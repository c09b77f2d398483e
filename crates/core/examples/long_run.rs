//! Applies at least 10^6 random commands of every kind to the full safety-net venue
//! (`backstop_testkit::full_net`) with the audit after each and the state-hash check on every
//! rejection; prints the count, the applied share and the time. Run in release:
//! `cargo run --release -p backstop-core --example long_run` (`LONG_RUN_COMMANDS` overrides the
//! count). A fresh venue is started every 20 000 commands so the run does not drift into one
//! corner of the state space. Exits non-zero (a panic) when an invariant breaks, a command
//! panics, or a rejected command changed the state hash.
#![allow(clippy::unwrap_used, missing_docs)]
// The example, not the engine, reads the clock: the figure is wall time of the whole run.
#![allow(clippy::disallowed_methods)]
// Run statistics, not money: the rate and the seconds are rounded down.
#![allow(clippy::integer_division)]

use backstop_testkit::Checks;
use backstop_testkit::full_net::{Dice, Driver};

const COMMANDS: u64 = 1_000_000;
const EPOCH: u64 = 20_000;
/// Stable code of `Rejection::InvariantBroken`.
const INVARIANT_BROKEN: u16 = 130;

fn main() {
    let total: u64 = std::env::var("LONG_RUN_COMMANDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(COMMANDS);
    let started = std::time::Instant::now();
    let mut dice = Dice::new(1);
    let (mut applied, mut done) = (0_u64, 0_u64);
    while done < total {
        let mut driver = Driver::new(Checks::DEFAULT);
        for _ in 0..EPOCH.min(total - done) {
            match driver.random_step(dice.next_u64()) {
                (_, Ok(_)) => applied += 1,
                // The testkit's audit panics first; this catches the engine's own halt too.
                (command, Err(rejection)) if rejection.code() == INVARIANT_BROKEN => {
                    panic!("command {done}: invariant broken after {command:?}: {rejection}")
                }
                (_, Err(_)) => {}
            }
            done += 1;
        }
    }
    // Integer arithmetic (the core's lints forbid floats); the figures are rounded down.
    let millis = started.elapsed().as_millis().max(1);
    let rate = u128::from(done) * 1000 / millis;
    let (secs, frac) = (millis / 1000, millis % 1000 / 100);
    println!(
        "long_run: {done} commands, {applied} applied, invariants after each, {secs}.{frac} s, \
         {rate} commands/s"
    );
}
