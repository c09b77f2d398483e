//! Sharded runs and the export for outside models: shards merged equal the single run exactly;
//! the exported prepared venue and price paths are what the runner uses.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_sim::runner::{RunOptions, prepared_inputs, run};
use backstop_sim::shard::{Shard, merge, run_shard};
use common::{ONE_BORROWER, crash, scenario};

/// ETH 2,000 → 1,000 bridged with noise, five paths: each path's own draw.
fn noisy() -> backstop_sim::scenario::Scenario {
    let text = crash("[[0, 2000.0], [7200, 1000.0]]", 4, "")
        .replace(
            "points = [[0, 2000.0], [7200, 1000.0]]",
            "points = [[0, 2000.0], [7200, 1000.0]]\nbridge_volatility = 2.0",
        )
        .replace("paths = 1", "paths = 5");
    scenario(&text, ONE_BORROWER)
}

#[test]
fn three_shards_merged_equal_the_single_run() {
    let scenario = noisy();
    let options = RunOptions { trace_paths: 2, ..RunOptions::default() };
    let single = run(&scenario, &options).unwrap();
    let shards: Vec<_> = [3, 1, 2]
        .iter()
        .map(|index| run_shard(&scenario, &options, Shard { index: *index, count: 3 }).unwrap())
        .collect();
    assert_eq!(shards[0].paths.iter().map(|path| path.path).collect::<Vec<_>>(), vec![2]);
    assert_eq!(shards[1].paths.iter().map(|path| path.path).collect::<Vec<_>>(), vec![0, 3]);
    assert_eq!(shards[1].traces.len(), 1, "path 0's trace; path 1's is in shard 2/3");
    let merged = merge(shards.clone()).unwrap();
    assert_eq!(merged, single);
    assert_ne!(single.traces[0].prices["ETH"], single.traces[1].prices["ETH"], "paths differ");
    let error = merge(shards[..2].to_vec()).unwrap_err();
    assert_eq!(error, "missing shard(s) 2/3");
    let too_many = run_shard(&scenario, &options, Shard { index: 1, count: 6 }).unwrap_err();
    assert!(too_many.message.contains("6 shards for 5 paths"), "{too_many}");
}

#[test]
fn exported_prices_are_the_runners_paths() {
    let scenario = noisy();
    let options = RunOptions { trace_paths: 5, ..RunOptions::default() };
    let (engine, prices) = prepared_inputs(&scenario, &options, &[0, 3]).unwrap();
    let result = run(&scenario, &options).unwrap();
    let eth = engine.config().asset_id("ETH").unwrap().index();
    let usdc = engine.config().asset_id("USDC").unwrap().index();
    // Without depth there is no impact: the oracle prices of the trace are the path's prices
    // (as the engine holds them: 18 decimals).
    let same = |exported: &[f64], traced: &[f64]| {
        exported.len() == traced.len()
            && exported.iter().zip(traced).all(|(a, b)| (a - b).abs() <= 1e-12 * a.abs())
    };
    assert!(same(&prices[0][eth], &result.traces[0].prices["ETH"]));
    assert!(same(&prices[1][eth], &result.traces[3].prices["ETH"]));
    assert!(!same(&prices[1][eth], &result.traces[2].prices["ETH"]));
    assert_ne!(prices[0][eth], prices[1][eth]);
    assert_eq!(prices[1][usdc], vec![1.0; 5]);
    assert_eq!(prices[0][eth][0], 2000.0);
    // The prepared venue holds the borrower before any path ran.
    assert_eq!(engine.state().now, 0);
    assert!(
        engine
            .state()
            .accounts
            .values()
            .any(|account| account.holdings[usdc].debt_shares.is_positive())
    );
}
