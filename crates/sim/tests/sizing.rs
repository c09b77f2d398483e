//! Sizing by bisection with common random numbers, on a case with a hand-computed answer.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_sim::sizing::{SizingOptions, resolve_layer, size};
use common::{ONE_BORROWER, crash, scenario};

/// One path, one crash leaving a 2,000 USDC deficit (see the runner tests): the fund needs
/// exactly 2,000 for nothing to go beyond it, whatever the offset holds.
#[test]
fn the_fund_size_of_a_single_deterministic_crash_is_its_deficit() {
    let extra = "[[funding]]\nlayer = \"offset:treasury\"\namount = 1000\n";
    let scenario = scenario(&crash("[[0, 2000.0], [3600, 1000.0]]", 3, extra), ONE_BORROWER);
    assert_eq!(resolve_layer(&scenario, "fund").unwrap(), "fund:insurance");
    let options = SizingOptions {
        layer: "fund".to_owned(),
        target: 0.5,
        iterations: 30,
        ..SizingOptions::default()
    };
    let result = size(&scenario, &options).unwrap();
    assert_eq!(result.layer, "fund:insurance");
    assert!(result.size >= 2_000.0 && result.size - 2_000.0 < 1e-3, "{}", result.size);
    assert_eq!(result.probability, 0.0);
    // The curve: every candidate, by size; 1 below 2,000, 0 from it on.
    assert!(result.curve.windows(2).all(|pair| pair[0].0 < pair[1].0));
    for (candidate, probability) in &result.curve {
        let expected = if *candidate >= 2_000.0 { 0.0 } else { 1.0 };
        assert_eq!(*probability, expected, "at {candidate}");
    }
    assert!(result.curve.len() >= 30);
    // The offset, second in the waterfall, needs 2,000 − 500 with 500 in the fund.
    let extra = "[[funding]]\nlayer = \"fund:insurance\"\namount = 500\n";
    let scenario =
        common::scenario(&crash("[[0, 2000.0], [3600, 1000.0]]", 3, extra), ONE_BORROWER);
    let options = SizingOptions { layer: "offset:treasury".to_owned(), target: 0.0, ..options };
    let result = size(&scenario, &options).unwrap();
    assert!(result.size >= 1_500.0 && result.size - 1_500.0 < 1e-3, "{}", result.size);
}

/// With an upper bound given, and when the lower bound already meets the target.
#[test]
fn bounds_are_respected() {
    let scenario = scenario(&crash("[[0, 2000.0], [3600, 1000.0]]", 3, ""), ONE_BORROWER);
    let options = SizingOptions {
        layer: "fund:insurance".to_owned(),
        target: 0.5,
        lower: 100.0,
        upper: Some(5_000.0),
        iterations: 25,
        ..SizingOptions::default()
    };
    let result = size(&scenario, &options).unwrap();
    assert!(result.size >= 2_000.0 && result.size - 2_000.0 < 1e-3, "{}", result.size);
    let low_enough = SizingOptions { lower: 2_500.0, upper: None, ..options.clone() };
    let result = size(&scenario, &low_enough).unwrap();
    assert_eq!((result.size, result.curve.len()), (2_500.0, 1));
    let too_small = SizingOptions { upper: Some(1_000.0), ..options.clone() };
    assert!(size(&scenario, &too_small).is_err());
    let not_a_layer = SizingOptions { layer: "socialize".to_owned(), ..options };
    assert!(size(&scenario, &not_a_layer).is_err());
    assert!(resolve_layer(&scenario, "stakers").is_err(), "the venue has no staker pool");
}
