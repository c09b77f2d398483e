//! Sharded runs: one run's paths split over N processes or machines, merged back into exactly the
//! result of the unsharded run.
//!
//! Shard `K/N` (1 ≤ K ≤ N, 1-based as written on the command line) runs the paths `p` with
//! `p mod N = K − 1` of the run's `0..paths` (round robin, so every shard gets a similar share of
//! early and late paths). Every path draws from its own stream `(seed, p)` and the prepared venue
//! is built the same way in every shard, so a path's metrics do not depend on which shard ran it.
//! A shard's [`ShardRun`] keeps every path's metrics and trace as computed; [`merge`] puts the
//! paths back in order and computes the summary and the published comparison from them, the same
//! function on the same numbers as [`crate::runner::run`], so the merged [`RunResult`] equals the
//! unsharded one exactly.

use crate::SimError;
use crate::metrics::{PathMetrics, PathTrace};
use crate::published::ExpectSpec;
use crate::runner::{RunOptions, RunResult, check_run, run_paths};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

/// One shard of a run: `index` of `count`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard (1 ≤ index ≤ count).
    pub index: u32,
    /// How many shards the run is split into.
    pub count: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Parses `K/N` (1 ≤ K ≤ N ≤ [`crate::PATH_COUNT_MAX`]).
    ///
    /// # Errors
    /// Anything else, with what was expected.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let expected = || {
            format!(
                "expected K/N with 1 ≤ K ≤ N ≤ {} (shard K of N, 1-based), got {text:?}",
                crate::PATH_COUNT_MAX
            )
        };
        let (index, count) = text.split_once('/').ok_or_else(expected)?;
        let index: u32 = index.trim().parse().map_err(|_| expected())?;
        let count: u32 = count.trim().parse().map_err(|_| expected())?;
        if index == 0 || index > count || count > crate::PATH_COUNT_MAX {
            return Err(expected());
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard runs path `path`: `path mod count = index − 1`.
    #[must_use]
    pub fn contains(self, path: u32) -> bool {
        path % self.count == self.index - 1
    }

    /// The paths of `0..paths` this shard runs, in increasing order.
    #[must_use]
    pub fn paths(self, paths: u32) -> Vec<u32> {
        (self.index - 1..paths).step_by(self.count as usize).collect()
    }
}

/// What one shard computed: enough to rebuild the whole run's result exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRun {
    /// Which shard.
    pub shard: Shard,
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Paths of the whole run.
    pub paths_total: u32,
    /// Steps per path.
    pub steps: u32,
    /// Seconds per step.
    pub step_secs: u64,
    /// Metrics of this shard's paths, in path order.
    pub paths: Vec<PathMetrics>,
    /// Traces of this shard's traced paths.
    pub traces: Vec<PathTrace>,
    /// The scenario's published outcomes, compared with the merged summary.
    pub expect: Vec<ExpectSpec>,
}

/// Runs shard `shard` of a scenario.
///
/// # Errors
/// As [`crate::runner::run`]; also a shard count above the run's paths (a shard with no path).
pub fn run_shard(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    shard: Shard,
) -> Result<ShardRun, SimError> {
    let (paths_total, seed) = check_run(scenario, options)?;
    if shard.count > paths_total {
        return Err(SimError::new(
            scenario.file.display().to_string(),
            format!("--shard {shard}: {} shards for {paths_total} paths", shard.count),
        ));
    }
    let selection = shard.paths(paths_total);
    let (paths, traces) = run_paths(scenario, options, seed, &selection)?;
    Ok(ShardRun {
        shard,
        scenario: scenario.scenario.name.clone(),
        seed,
        paths_total,
        steps: scenario.run.steps,
        step_secs: scenario.run.step_secs,
        paths,
        traces,
        expect: scenario.expect.clone(),
    })
}

/// Merges the shards of one run into its result: exactly what [`crate::runner::run`] gives for the
/// unsharded run.
///
/// # Errors
/// No shards; shards of different runs (scenario, seed, paths, steps, published outcomes, shard
/// count); a shard missing or given twice; a shard whose paths are not its share.
pub fn merge(mut shards: Vec<ShardRun>) -> Result<RunResult, String> {
    let Some(first) = shards.first() else {
        return Err("no shards to merge".to_owned());
    };
    let count = first.shard.count;
    for other in &shards[1..] {
        let differs = [
            ("scenario", first.scenario != other.scenario),
            ("seed", first.seed != other.seed),
            ("paths", first.paths_total != other.paths_total),
            ("steps", first.steps != other.steps || first.step_secs != other.step_secs),
            ("published outcomes ([[expect]])", first.expect != other.expect),
            ("shard count", first.shard.count != other.shard.count),
        ];
        if let Some((what, _)) = differs.iter().find(|(_, differs)| *differs) {
            return Err(format!(
                "shard {} and shard {} are from different runs: their {what} differ",
                first.shard, other.shard
            ));
        }
    }
    shards.sort_by_key(|part| part.shard.index);
    for pair in shards.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            return Err(format!("shard {} is given twice", pair[0].shard));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|index| !shards.iter().any(|part| part.shard.index == *index))
        .map(|index| format!("{index}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing shard(s) {}", missing.join(", ")));
    }
    for part in &shards {
        let ran: Vec<u32> = part.paths.iter().map(|path| path.path).collect();
        if ran != part.shard.paths(part.paths_total) {
            return Err(format!(
                "shard {} does not hold exactly its share of the paths",
                part.shard
            ));
        }
    }
    let first = shards[0].clone();
    let mut paths: Vec<PathMetrics> = shards.iter().flat_map(|part| part.paths.clone()).collect();
    paths.sort_by_key(|path| path.path);
    let mut traces: Vec<PathTrace> = shards.into_iter().flat_map(|part| part.traces).collect();
    traces.sort_by_key(|trace| trace.path);
    let summary = crate::metrics::summarize(&paths);
    let published = crate::published::compare(&first.expect, &summary);
    Ok(RunResult {
        scenario: first.scenario,
        seed: first.seed,
        steps: first.steps,
        step_secs: first.step_secs,
        paths,
        traces,
        summary,
        published,
    })
}

/// Hex SHA-256 of a run's inputs: the scenario file, the venue file it names (if any) and the
/// `--prices` file (if any), each prefixed by its length. Shards of one run share it.
///
/// # Errors
/// A file that cannot be read, naming it.
pub fn input_digest(scenario: &Scenario, prices_csv: Option<&Path>) -> Result<String, SimError> {
    let mut files = vec![scenario.file.clone()];
    if let Some(venue) = &scenario.venue.path {
        files.push(scenario.base_dir.join(venue));
    }
    files.extend(prices_csv.map(Path::to_path_buf));
    let mut hasher = Sha256::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|error| {
            SimError::new(file.display().to_string(), format!("cannot read: {error}"))
        })?;
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::Shard;

    #[test]
    fn shards_split_paths_round_robin_and_parse_strictly() {
        let shard = Shard::parse("2/3").unwrap();
        assert_eq!(shard, Shard { index: 2, count: 3 });
        assert_eq!(shard.paths(8), vec![1, 4, 7]);
        assert_eq!(Shard::parse("3/3").unwrap().paths(8), vec![2, 5]);
        assert_eq!(Shard::parse("1/1").unwrap().paths(3), vec![0, 1, 2]);
        assert!(shard.contains(4) && !shard.contains(5));
        for bad in ["0/3", "4/3", "3", "a/3", "1/0", "1/100001", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
