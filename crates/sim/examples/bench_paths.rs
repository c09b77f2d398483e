//! Benchmark of item 11: 1,000 paths × 720 hourly steps × 10,000 accounts, timed.
//!
//! ```text
//! cargo run --release -p backstop-sim --example bench_paths [-- PATHS [THREADS [ACCOUNTS]]]
//! ```
//!
//! The venue (USDC and ETH lending markets, a fund and a staker pool) and a population of
//! borrowers (ETH collateral, USDC debt, lognormal sizes, health uniform in 1.05–2) are prepared
//! once; every path clones the prepared engine, draws a geometric Brownian motion for ETH (80% a
//! year) and runs 720 steps of time, prices, keepers (5 × 20 liquidations a step) and price
//! impact. Prints the wall time, the time per path and per step, and what the paths did.
#![allow(missing_docs)]

use backstop_sim::runner::{RunOptions, run};
use backstop_sim::scenario::parse;
use std::path::Path;
use std::time::Instant;

/// The benchmark scenario (shared with `export_paths`); `ACCOUNTS` is replaced by the count.
const SCENARIO: &str = include_str!("bench_paths.toml");

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize| arguments.get(index).and_then(|text| text.parse::<u64>().ok());
    let paths = number(0).map_or(1000, |paths| paths as u32);
    let threads = number(1).map(|threads| threads as usize);
    let accounts = number(2).unwrap_or(10_000);
    let text = SCENARIO.replace("ACCOUNTS", &accounts.to_string());
    let scenario = match parse(&text, Path::new("bench.toml")) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    let options =
        RunOptions { paths: Some(paths), threads, trace_paths: 0, ..RunOptions::default() };
    let started = Instant::now();
    let result = match run(&scenario, &options) {
        Ok(result) => result,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let steps = f64::from(paths) * f64::from(scenario.run.steps);
    let liquidations: u64 = result.paths.iter().map(|path| u64::from(path.liquidations)).sum();
    let with_deficit = result.paths.iter().filter(|path| path.deficit_created > 0.0).count();
    let rejections: u64 = result.paths.iter().map(|path| u64::from(path.rejections)).sum();
    println!(
        "{paths} paths × {} steps × {accounts} accounts on {} threads: {elapsed:.2} s \
         ({:.1} ms per path, {:.1} µs per step)",
        scenario.run.steps,
        threads.unwrap_or_else(rayon_threads),
        elapsed * 1e3 / f64::from(paths),
        elapsed * 1e6 / steps,
    );
    println!(
        "liquidations {liquidations} ({:.1} per path), paths with a deficit {with_deficit}, \
         refused commands {rejections}, mean deficit {:.0}, VaR99 {:.0}",
        liquidations as f64 / f64::from(paths),
        result.summary.metrics["deficit_created"].mean,
        result.summary.metrics["deficit_created"].var99,
    );
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
