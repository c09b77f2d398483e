//! VaR and ES on known distributions, and the across-path summary.
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_sim::metrics::{PathMetrics, Statistic, expected_shortfall, summarize, value_at_risk};
use std::collections::BTreeMap;

/// Values 1, 2, …, 100 (uniform): VaR at q is the ⌈100·q⌉-th smallest, ES the mean of the worst
/// ⌈100·(1 − q)⌉ values.
#[test]
fn uniform_one_to_a_hundred() {
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(value_at_risk(&values, 0.95), 95.0);
    assert_eq!(value_at_risk(&values, 0.99), 99.0);
    assert_eq!(expected_shortfall(&values, 0.95), 98.0);
    assert_eq!(expected_shortfall(&values, 0.99), 100.0);
    // Order does not matter.
    let mut reversed = values;
    reversed.reverse();
    let statistic = Statistic::of(&reversed);
    assert_eq!(
        statistic,
        Statistic { mean: 50.5, var95: 95.0, var99: 99.0, es95: 98.0, es99: 100.0, max: 100.0 }
    );
}

/// Values 1..=1000: VaR95 = 950, ES95 = mean(951..=1000) = 975.5; VaR99 = 990, ES99 =
/// mean(991..=1000) = 995.5.
#[test]
fn uniform_one_to_a_thousand() {
    let values: Vec<f64> = (1..=1000).map(f64::from).collect();
    assert_eq!(value_at_risk(&values, 0.95), 950.0);
    assert_eq!(expected_shortfall(&values, 0.95), 975.5);
    assert_eq!(value_at_risk(&values, 0.99), 990.0);
    assert_eq!(expected_shortfall(&values, 0.99), 995.5);
}

/// 96 paths without loss and 4 with a loss of 10: the 95th value is 0 (VaR95 = 0), and ES95 is
/// the mean of the worst 5 values, (0 + 4 × 10) / 5 = 8; at 99% VaR = ES = 10.
#[test]
fn a_rare_loss_with_ties() {
    let mut values = vec![0.0; 96];
    values.extend([10.0; 4]);
    assert_eq!(value_at_risk(&values, 0.95), 0.0);
    assert_eq!(expected_shortfall(&values, 0.95), 8.0);
    assert_eq!(value_at_risk(&values, 0.99), 10.0);
    assert_eq!(expected_shortfall(&values, 0.99), 10.0);
}

/// A Bernoulli-like mix with the VaR on a distinct value: 94 zeros, then 1, 2, …, 6. VaR95 is the
/// 95th smallest = 1, ES95 = mean of the worst 5 = mean(2..=6) = 4; VaR99 = 99th smallest = 5,
/// ES99 = the worst value, 6.
#[test]
fn a_tail_of_distinct_values() {
    let mut values = vec![0.0; 94];
    values.extend((1..=6).map(f64::from));
    assert_eq!(value_at_risk(&values, 0.95), 1.0);
    assert_eq!(expected_shortfall(&values, 0.95), 4.0);
    assert_eq!(value_at_risk(&values, 0.99), 5.0);
    assert_eq!(expected_shortfall(&values, 0.99), 6.0);
}

/// One value, no values.
#[test]
fn degenerate_samples() {
    assert_eq!(Statistic::of(&[]), Statistic::default());
    let single = Statistic::of(&[3.0]);
    assert_eq!((single.var95, single.es99, single.max, single.mean), (3.0, 3.0, 3.0, 3.0));
}

/// The summary: a statistic per metric and per layer, exhaustion and loss-beyond probabilities.
#[test]
fn summaries_across_paths() {
    let path = |index: u32, deficit: f64, fund_paid: f64, exhausted: bool| PathMetrics {
        path: index,
        deficit_created: deficit,
        paid_by_layer: BTreeMap::from([("fund:f".to_owned(), fund_paid)]),
        exhausted: BTreeMap::from([("fund:f".to_owned(), exhausted)]),
        loss_beyond: BTreeMap::from([("fund:f".to_owned(), deficit - fund_paid)]),
        ..PathMetrics::default()
    };
    let paths: Vec<PathMetrics> = (0..4)
        .map(|i| path(i, f64::from(i) * 100.0, 100.0_f64.min(f64::from(i) * 100.0), i > 1))
        .collect();
    let summary = summarize(&paths);
    assert_eq!(summary.paths, 4);
    assert_eq!(summary.metrics["deficit_created"].mean, 150.0);
    assert_eq!(summary.metrics["deficit_created"].max, 300.0);
    assert_eq!(summary.metrics["paid:fund:f"].mean, 75.0);
    assert_eq!(summary.metrics["loss_beyond:fund:f"].max, 200.0);
    assert_eq!(summary.exhaustion_probability["fund:f"], 0.5);
    assert_eq!(summary.loss_beyond_probability["fund:f"], 0.5);
    assert!(summary.metrics.contains_key("liquidated_volume"));
    assert!(summary.metrics.contains_key("staker_loss_share"));
}
