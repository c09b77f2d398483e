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

const SCENARIO: &str = r#"
[scenario]
name = "bench"
description = "1,000 paths × 720 steps × 10,000 accounts"

[venue.inline]
[[venue.inline.asset]]
symbol = "USDC"
decimals = 6
[[venue.inline.asset]]
symbol = "ETH"
decimals = 18
[[venue.inline.lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
reserve_factor = "0.10"
[venue.inline.lending.rate]
slope1 = "0.04"
kink = "0.90"
slope2 = "0.60"
[[venue.inline.lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[venue.inline.lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"
[[venue.inline.fund]]
name = "insurance"
asset = "USDC"
[[venue.inline.staker_pool]]
name = "backstop"
asset = "USDC"
cooldown_secs = 864000
[[venue.inline.waterfall]]
market = "USDC"
layers = ["fund:insurance", "stakers:backstop", "socialize"]

[run]
steps = 720
step_secs = 3600
paths = 1000
seed = 2024

[[prices.asset]]
asset = "ETH"
source = "gbm"
price = 2000.0
volatility = 0.8

[[population]]
kind = "borrowers"
count = ACCOUNTS
collateral = "ETH"
asset = "USDC"
size = { dist = "lognormal", median = 20000.0, sigma = 1.2 }
health = { dist = "uniform", min = 1.05, max = 2.0 }

[keepers]
count = 5
capacity_per_step = 20

[market]
depth = [["ETH", 50000000.0]]
impact_decay = 0.5

[[funding]]
layer = "fund:insurance"
amount = 1000000

[[funding]]
layer = "stakers:backstop"
amount = 5000000
"#;

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
