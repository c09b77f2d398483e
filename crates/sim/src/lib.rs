//! Backstop's stress lab: runs real crashes and Monte Carlo price paths through a venue by driving
//! `backstop_core::Engine::apply` — the production rules, never a copy — and measures what each
//! layer of the safety net paid.
//!
//! Data flow: a [`scenario::Scenario`] (TOML) names a venue, an account population, price sources,
//! market agents and exogenous events. [`runner::run`] prepares the venue once (accounts opened and
//! funded through commands), then for each path clones it, feeds prices step by step, lets keepers
//! liquidate what the engine's liquidation index reports, applies events, and records
//! [`metrics::PathMetrics`]. Paths run in parallel with rayon; each path draws from its own
//! ChaCha8 stream `(seed, path index)`, and results are collected in path order, so the same seed
//! gives the same results whatever the thread count.
//!
//! Floats appear only in statistics and in generated price paths; every amount that enters the
//! engine is converted to fixed point first ([`convert`]).

pub mod bidders;
pub mod compare;
pub mod convert;
pub mod designs;
pub mod exogenous;
pub mod market;
pub mod metrics;
pub mod population;
pub mod prices;
pub mod published;
pub mod runner;
pub mod scenario;
pub mod shard;
pub mod sizing;

/// Most Monte Carlo paths in one run.
pub const PATH_COUNT_MAX: u32 = 100_000;
/// Most steps in one path.
pub const STEP_COUNT_MAX: u32 = 1_000_000;
/// Most accounts a population may generate.
pub const POPULATION_MAX: u32 = 2_000_000;

/// Anything that stops a simulation: bad scenario input, unreadable data, or an engine refusal
/// during preparation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    /// Where: a file (and line and key when known), or a step.
    pub location: String,
    /// What went wrong.
    pub message: String,
}

impl core::fmt::Display for SimError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for SimError {}

impl SimError {
    /// An error at a location.
    #[must_use]
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> SimError {
        SimError { location: location.into(), message: message.into() }
    }
}
