//! Sizing by bisection with common random numbers: on a case with a hand-computed answer (one
//! path, point estimates), on a Monte Carlo case where the Wilson interval stops the search, and
//! the interval's coverage of a known binomial probability.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_sim::sizing::{
    SizingOptions, Verdict, paths_min, paths_needed, resolve_layer, size, wilson, z_of,
};
use common::{ONE_BORROWER, crash, scenario};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
        confidence: None,
        iterations: 30,
        ..SizingOptions::default()
    };
    let result = size(&scenario, &options).unwrap();
    assert_eq!(result.layer, "fund:insurance");
    assert!(result.size >= 2_000.0 && result.size - 2_000.0 < 1e-3, "{}", result.size);
    assert_eq!(result.probability, 0.0);
    // The curve: every candidate, by size; 1 below 2,000, 0 from it on.
    assert!(result.curve.windows(2).all(|pair| pair[0].size < pair[1].size));
    for point in &result.curve {
        let expected = if point.size >= 2_000.0 { 0.0 } else { 1.0 };
        assert_eq!(point.probability, expected, "at {}", point.size);
        assert_eq!((point.lower, point.upper), (expected, expected), "no interval");
    }
    assert!(result.resolved);
    let boundary = result.boundary.as_ref().unwrap();
    assert!(boundary.size < 2_000.0 && 2_000.0 - boundary.size < 1e-3);
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
        confidence: None,
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

/// Wilson's interval by hand: 10 of 100 at z = 1.96 is (0.0552, 0.1744); none of 381 is below 1%
/// (3.8415 / 384.84 = 0.00998) and none of 380 is not, so 1% needs 381 paths.
#[test]
fn wilson_interval_and_paths_by_hand() {
    let z = z_of(0.95);
    assert!((z - 1.959_963_984_540_054).abs() < 1e-12);
    let (lower, upper) = wilson(10, 100, z);
    assert!((lower - 0.055_229).abs() < 1e-6, "{lower}");
    assert!((upper - 0.174_366).abs() < 1e-6, "{upper}");
    assert_eq!(wilson(0, 381, z).0, 0.0);
    assert!(wilson(0, 381, z).1 <= 0.01 && wilson(0, 380, z).1 > 0.01);
    assert_eq!(paths_min(0.01, z), 381);
    assert_eq!(paths_needed(0.0, 0.01, z), Some(381));
    assert_eq!(wilson(7, 7, z).1, 1.0);
    assert_eq!(paths_needed(0.05, 0.05, z), None, "an estimate on the target never resolves");
    // 2% against a 1% target: the lower end must pass 1%.
    let needed = paths_needed(0.02, 0.01, z).unwrap();
    let k = (0.02 * needed as f64).round() as u64;
    assert!(wilson(k, needed, z).0 > 0.01);
    let k = (0.02 * (needed - 1) as f64).round() as u64;
    assert!(wilson(k, needed - 1, z).0 <= 0.01);
}

/// The 95% interval covers a known probability at its nominal rate: 4,000 binomial samples of
/// 500 paths at p = 5% (a seeded stream), and the exact coverage averaged over p from 1% to 50%
/// at n = 200 (Wilson's interval oscillates around its level, Brown, Cai and DasGupta 2001).
#[test]
fn the_interval_covers_a_known_probability_at_its_nominal_rate() {
    let z = z_of(0.95);
    let (n, p, samples) = (500_u64, 0.05, 4_000);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut covered = 0;
    for _ in 0..samples {
        let k = (0..n).filter(|_| rng.random::<f64>() < p).count() as u64;
        let (lower, upper) = wilson(k, n, z);
        if lower <= p && p <= upper {
            covered += 1;
        }
    }
    // 0.95 ± 3 standard errors of a proportion of 4,000 (±0.0103).
    let rate = f64::from(covered) / f64::from(samples);
    assert!((rate - 0.95).abs() < 0.0103, "coverage {rate}");
    assert_eq!(covered, COVERED_AT_SEED_13);
    // Exact coverage: Σ_k P(K = k) · 1[p ∈ interval(k)].
    let n = 200_u64;
    let mut total = 0.0;
    let grid: Vec<f64> = (1..=50).map(|percent| f64::from(percent) / 100.0).collect();
    for &p in &grid {
        let mut coverage = 0.0;
        let mut log_pmf = n as f64 * (1.0 - p).ln();
        for k in 0..=n {
            if k > 0 {
                log_pmf += ((n - k + 1) as f64 / k as f64).ln() + (p / (1.0 - p)).ln();
            }
            let (lower, upper) = wilson(k, n, z);
            if lower <= p && p <= upper {
                coverage += log_pmf.exp();
            }
        }
        assert!(coverage > 0.90, "coverage {coverage} at p = {p}");
        total += coverage;
    }
    let mean = total / grid.len() as f64;
    assert!((mean - 0.95).abs() < 0.005, "mean coverage {mean}");
}

/// The seeded stream of the coverage test gives this many covering intervals out of 4,000.
const COVERED_AT_SEED_13: u32 = 3_805;

/// 400 paths of a volatile ETH (GBM, 3,000% a year, 24 hourly steps): a gap through the
/// borrower's bankruptcy price leaves a different deficit on each path, so the probability of a
/// loss beyond the fund falls with its size; the search stops when one path separates the
/// largest size that does not meet the target from the smallest that does, long before the
/// iterations run out, and the answer's whole interval is below the target.
#[test]
fn the_interval_stops_the_search_where_the_paths_cannot_tell() {
    let text = crash("[[0, 2000.0]]", 24, "").replace("paths = 1", "paths = 400").replace(
        "source = \"waypoints\"\npoints = [[0, 2000.0]]",
        "source = \"gbm\"\nprice = 2000.0\nvolatility = 30.0",
    );
    let scenario = scenario(&text, ONE_BORROWER);
    let options = SizingOptions {
        layer: "fund".to_owned(),
        target: 0.2,
        iterations: 30,
        ..SizingOptions::default()
    };
    let result = size(&scenario, &options).unwrap();
    assert_eq!(result.paths, 400);
    assert!(result.resolved, "{}", result.describe());
    assert!(result.interval.1 <= 0.2 && result.probability < 0.2);
    let boundary = result.boundary.clone().expect("size 0 fails the target");
    assert_ne!(boundary.verdict, Verdict::Meets);
    assert!(boundary.size < result.size);
    // The search stopped where one path separates the two bounds.
    assert_eq!(
        boundary.exceedances,
        result.curve.iter().find(|p| p.size == result.size).unwrap().exceedances + 1
    );
    assert!(result.curve.len() < 30, "stopped before the iterations ran out");
    // Common random numbers: the probability never rises with the size.
    assert!(result.curve.windows(2).all(|pair| pair[1].probability <= pair[0].probability));
    assert!(result.describe().contains("does not meet the target"), "{}", result.describe());
}

/// `fund_min` is bad when small: over the values 1..=100 its VaR at 95% is the 6th smallest (6),
/// its ES the mean of the 5 smallest (3); at 99%: 2 and 1. The summary uses that lower tail.
#[test]
fn fund_min_tail_statistics_use_the_lower_tail() {
    use backstop_sim::metrics::{PathMetrics, Statistic, summarize};
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    let lower = Statistic::of_lower(&values);
    assert_eq!((lower.var95, lower.es95, lower.var99, lower.es99), (6.0, 3.0, 2.0, 1.0));
    assert_eq!((lower.mean, lower.max), (50.5, 100.0));
    let upper = Statistic::of(&values);
    assert_eq!((upper.var95, upper.es95), (95.0, 98.0));
    let paths: Vec<PathMetrics> =
        values.iter().map(|&fund_min| PathMetrics { fund_min, ..PathMetrics::default() }).collect();
    assert_eq!(summarize(&paths).metrics["fund_min"], lower);
}
