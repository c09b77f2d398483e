//! Test support for Backstop: fixture venues, command-sequence generators and a checked runner.
//!
//! - [`venues`]: fixture venue configurations (inline TOML) and the [`VenueShape`] generators
//!   need;
//! - [`generators`]: proptest strategies for random, mostly valid command sequences;
//! - [`steps`]: the [`Step`] markers generators produce and [`expand`], which turns them into
//!   commands against the engine's current state;
//! - [`probes`]: bisection for the price at which an account becomes liquidatable, and prices
//!   around it, to test the liquidation index where rounding matters;
//! - [`runner`]: [`run_checked`] and friends, which apply commands and check invariants, the
//!   state hash on rejection, the incremental hash and the liquidation index after every step;
//! - [`proptest_config`]: the proptest configuration the property tests share.
//!
//! A property test typically reads:
//!
//! ```no_run
//! use backstop_testkit::{generators, runner, venues};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #![proptest_config(backstop_testkit::proptest_config())]
//!     #[test]
//!     fn sequences_keep_invariants(steps in generators::steps(&venues::LENDING_PERP.shape())) {
//!         let mut engine = venues::LENDING_PERP.engine();
//!         runner::run_steps_checked(&mut engine, &steps);
//!     }
//! }
//! ```

pub mod full_net;
pub mod generators;
pub mod http;
pub mod probes;
pub mod runner;
pub mod steps;
pub mod venues;

pub use runner::{Checks, Executed, apply_checked, run_checked, run_steps_checked, run_steps_with};
pub use steps::{SizedAction, Step, expand};
pub use venues::{Fixture, VenueShape};

/// Cases per property when `PROPTEST_CASES` is not set.
pub const DEFAULT_CASES: u32 = 256;

/// Shrink iterations when `PROPTEST_MAX_SHRINK_ITERS` is not set, so a failure reports promptly.
pub const DEFAULT_MAX_SHRINK_ITERS: u32 = 4_096;

/// The proptest configuration for engine properties: [`DEFAULT_CASES`] cases unless
/// `PROPTEST_CASES` says otherwise, bounded shrinking, and no regression files written into the
/// source tree (`failure_persistence: None`; a failure prints its minimal input).
///
/// The random seed is chosen here unless `PROPTEST_RNG_SEED` gives one, and printed to standard
/// error (which the test harness shows only for a failing test), so any failure can be replayed
/// exactly with `PROPTEST_RNG_SEED=<seed>`.
#[must_use]
pub fn proptest_config() -> proptest::test_runner::Config {
    use proptest::test_runner::RngSeed;
    let mut config = proptest::test_runner::Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    if std::env::var_os("PROPTEST_MAX_SHRINK_ITERS").is_none() {
        config.max_shrink_iters = DEFAULT_MAX_SHRINK_ITERS;
    }
    config.failure_persistence = None;
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => random_seed(),
    };
    config.rng_seed = RngSeed::Fixed(seed);
    eprintln!("proptest RNG seed {seed}; replay with PROPTEST_RNG_SEED={seed}");
    config
}

/// A seed from the standard library's per-process random hash keys.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x5eed);
    hasher.finish()
}
