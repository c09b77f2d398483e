//! Price sources: waypoints, bridge reproducibility, GBM and Merton moments, correlation, CSV
//! parsing and sampling, bootstrap, validation errors.

use backstop_sim::prices::{self, PriceModel};
use backstop_sim::scenario::{AssetPriceSpec, PricesSpec, RunSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

fn asset(symbol: &str, source: &str) -> AssetPriceSpec {
    AssetPriceSpec {
        asset: symbol.to_owned(),
        source: source.to_owned(),
        price: None,
        csv: None,
        points: Vec::new(),
        bridge_volatility: None,
        drift: 0.0,
        volatility: 0.0,
        jump_intensity: 0.0,
        jump_mean: 0.0,
        jump_std: 0.0,
        block: None,
    }
}

fn gbm(symbol: &str, price: f64, drift: f64, volatility: f64) -> AssetPriceSpec {
    AssetPriceSpec { price: Some(price), drift, volatility, ..asset(symbol, "gbm") }
}

fn run(steps: u32, step_secs: u64) -> RunSpec {
    RunSpec { steps, step_secs, paths: 1, seed: 0, start: None }
}

fn spec(assets: Vec<AssetPriceSpec>) -> PricesSpec {
    PricesSpec { asset: assets, correlation: None }
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A scratch directory under target/ for files a test writes.
fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/sim-test-scratch").join(name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn mean_variance(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance)
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let (ma, va) = mean_variance(a);
    let (mb, vb) = mean_variance(b);
    let covariance =
        a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum::<f64>() / (a.len() as f64 - 1.0);
    covariance / (va * vb).sqrt()
}

fn log_returns(series: &[f64]) -> Vec<f64> {
    series.windows(2).map(|pair| (pair[1] / pair[0]).ln()).collect()
}

#[test]
fn waypoints_are_hit_exactly_and_held_after_the_last() {
    let mut eth = asset("ETH", "waypoints");
    eth.points = vec![(0, 194.61), (36_000, 150.25), (86_400, 107.82), (100 * 3_600, 130.0)];
    let spec = spec(vec![eth]);
    let run = run(72, 3_600);
    for stream in 0..20 {
        let path = prices::generate(&spec, &run, Path::new("."), None, &mut rng(7, stream))
            .expect("generate");
        let series = &path.series[0];
        assert_eq!(series.len(), 73);
        assert_eq!(series[0], 194.61);
        assert_eq!(series[10], 150.25);
        assert_eq!(series[24], 107.82);
        // Between waypoints the bridge moves; it heads to the point beyond the run.
        assert!(series[5] != 194.61 && series[5] > 0.0);
        assert!(series[72] != 107.82);
    }
    // Beyond the last in-run point the path holds it.
    let mut sol = asset("SOL", "waypoints");
    sol.points = vec![(0, 10.0), (7_200, 12.0)];
    sol.bridge_volatility = Some(2.0);
    let path = prices::generate(&spec_of(sol), &run, Path::new("."), None, &mut rng(1, 0))
        .expect("generate");
    assert_eq!(path.series[0][2], 12.0);
    assert!(path.series[0][2..].iter().all(|price| *price == 12.0));
    assert_eq!(path.initial_prices().get("SOL"), Some(&10.0));
}

fn spec_of(asset: AssetPriceSpec) -> PricesSpec {
    spec(vec![asset])
}

#[test]
fn waypoint_times_round_to_the_nearest_step() {
    let mut eth = asset("ETH", "waypoints");
    // 02:15 rounds to step 2 at hourly steps, 02:30 to step 3.
    eth.points = vec![(0, 100.0), (8_100, 86.0), (3 * 3_600 + 1_800 + 3_600, 120.0)];
    let path = prices::generate(
        &spec_of(eth.clone()),
        &run(10, 3_600),
        Path::new("."),
        None,
        &mut rng(3, 0),
    )
    .expect("generate");
    assert_eq!(path.series[0][2], 86.0);
    assert_eq!(path.series[0][5], 120.0);
    // Two points on one step are refused.
    eth.points = vec![(0, 100.0), (600, 101.0)];
    let error =
        prices::validate(&spec_of(eth), &run(10, 3_600), Path::new("."), &["ETH".to_owned()])
            .expect_err("two points on one step");
    assert_eq!(error.location, "prices.asset[0].points");
}

#[test]
fn bridge_is_reproducible_from_the_seed_and_varies_across_streams() {
    let mut eth = asset("ETH", "waypoints");
    eth.points = vec![(0, 2_000.0), (48 * 3_600, 1_500.0)];
    let spec = spec_of(eth);
    let run = run(48, 3_600);
    let draw = |seed, stream| {
        prices::generate(&spec, &run, Path::new("."), None, &mut rng(seed, stream))
            .expect("generate")
    };
    assert_eq!(draw(42, 3), draw(42, 3));
    assert_ne!(draw(42, 3).series, draw(42, 4).series);
    assert_ne!(draw(42, 3).series, draw(43, 3).series);
    // A zero-volatility bridge is the straight line in log price.
    let mut flat = asset("ETH", "waypoints");
    flat.points = vec![(0, 100.0), (4 * 3_600, 1_600.0)];
    flat.bridge_volatility = Some(0.0);
    let path = prices::generate(&spec_of(flat), &run, Path::new("."), None, &mut rng(1, 1))
        .expect("generate");
    for (step, expected) in [100.0, 200.0, 400.0, 800.0, 1_600.0].iter().enumerate() {
        assert!(
            (path.series[0][step] - expected).abs() < 1e-9,
            "step {step}: {}",
            path.series[0][step]
        );
    }
}

#[test]
fn bridge_variance_matches_the_brownian_bridge() {
    // Midpoint of a bridge over T with volatility σ: Var(ln S) = σ²·T/4.
    let mut eth = asset("ETH", "waypoints");
    eth.points = vec![(0, 100.0), (48 * 86_400, 100.0)];
    eth.bridge_volatility = Some(0.8);
    let model =
        PriceModel::new(&spec_of(eth), &run(48, 86_400), Path::new("."), None).expect("model");
    let mids: Vec<f64> = (0..4_000)
        .map(|stream| model.generate(&mut rng(9, stream)).series[0][24].ln() - 100_f64.ln())
        .collect();
    let (mean, variance) = mean_variance(&mids);
    let expected: f64 = 0.64 * (48.0 / 365.0) / 4.0;
    assert!(mean.abs() < 4.0 * (expected / 4_000.0).sqrt(), "mean {mean}");
    assert!((variance / expected - 1.0).abs() < 0.08, "variance {variance} vs {expected}");
}

#[test]
fn gbm_log_returns_have_the_right_mean_and_variance() {
    let (drift, volatility) = (0.1, 0.8);
    let spec = spec_of(gbm("ETH", 2_000.0, drift, volatility));
    let run = run(365, 86_400);
    let model = PriceModel::new(&spec, &run, Path::new("."), None).expect("model");
    let paths = 4_000;
    let mut totals = Vec::with_capacity(paths);
    let mut steps = Vec::with_capacity(paths * 365);
    for stream in 0..paths {
        let path = model.generate(&mut rng(11, stream as u64));
        let series = &path.series[0];
        assert_eq!(series[0], 2_000.0);
        totals.push((series[365] / series[0]).ln());
        steps.extend(log_returns(series));
    }
    let (mean, variance) = mean_variance(&totals);
    let expected_mean = drift - 0.5 * volatility * volatility;
    let standard_error = volatility / (paths as f64).sqrt();
    assert!((mean - expected_mean).abs() < 4.0 * standard_error, "mean {mean} vs {expected_mean}");
    assert!((variance / (volatility * volatility) - 1.0).abs() < 0.1, "variance {variance}");
    let (_, step_variance) = mean_variance(&steps);
    let expected = volatility * volatility / 365.0;
    assert!(
        (step_variance / expected - 1.0).abs() < 0.02,
        "step variance {step_variance} vs {expected}"
    );
}

#[test]
fn merton_adds_compensated_jumps() {
    let (drift, volatility, intensity, jump_mean, jump_std) = (0.0, 0.5, 12.0, -0.1, 0.15);
    let spec = spec_of(AssetPriceSpec {
        price: Some(100.0),
        drift,
        volatility,
        jump_intensity: intensity,
        jump_mean,
        jump_std,
        ..asset("ETH", "merton")
    });
    let model = PriceModel::new(&spec, &run(365, 86_400), Path::new("."), None).expect("model");
    let paths = 4_000;
    let totals: Vec<f64> = (0..paths)
        .map(|stream| {
            let series = &model.generate(&mut rng(5, stream)).series[0];
            (series[365] / series[0]).ln()
        })
        .collect();
    let (mean, variance) = mean_variance(&totals);
    let kappa = (jump_mean + 0.5 * jump_std * jump_std).exp() - 1.0;
    let expected_mean =
        drift - 0.5 * volatility * volatility - intensity * kappa + intensity * jump_mean;
    let expected_variance =
        volatility * volatility + intensity * (jump_mean * jump_mean + jump_std * jump_std);
    let standard_error = (expected_variance / paths as f64).sqrt();
    assert!((mean - expected_mean).abs() < 4.0 * standard_error, "mean {mean} vs {expected_mean}");
    assert!(
        (variance / expected_variance - 1.0).abs() < 0.1,
        "variance {variance} vs {expected_variance}"
    );
    // E[S_T] = S_0 e^{μT}: the compensator keeps the mean price at the drift.
    let gross: Vec<f64> = totals.iter().map(|total| total.exp()).collect();
    let (mean_gross, _) = mean_variance(&gross);
    assert!((mean_gross - drift.exp()).abs() < 0.05, "E[S_T/S_0] = {mean_gross}");
}

#[test]
fn correlation_is_recovered() {
    let mut spec = spec(vec![
        gbm("ETH", 2_000.0, 0.0, 0.8),
        gbm("BTC", 60_000.0, 0.0, 0.6),
        AssetPriceSpec { price: Some(1.0), ..asset("USDC", "constant") },
        AssetPriceSpec { jump_intensity: 5.0, jump_std: 0.05, ..gbm("SOL", 150.0, 0.0, 1.2) },
    ]);
    spec.asset[3].source = "merton".to_owned();
    spec.correlation = Some(vec![
        vec![1.0, 0.7, 0.0, 0.5],
        vec![0.7, 1.0, 0.0, 0.3],
        vec![0.0, 0.0, 1.0, 0.0],
        vec![0.5, 0.3, 0.0, 1.0],
    ]);
    let symbols: Vec<String> =
        ["USDC", "ETH", "BTC", "SOL"].iter().map(|s| (*s).to_owned()).collect();
    let run = run(500, 3_600);
    prices::validate(&spec, &run, Path::new("."), &symbols).expect("valid");
    let model = PriceModel::new(&spec, &run, Path::new("."), None).expect("model");
    let (mut eth, mut btc, mut sol) = (Vec::new(), Vec::new(), Vec::new());
    for stream in 0..40 {
        let path = model.generate(&mut rng(21, stream));
        eth.extend(log_returns(&path.series[0]));
        btc.extend(log_returns(&path.series[1]));
        sol.extend(log_returns(&path.series[3]));
        assert!(path.series[2].iter().all(|price| *price == 1.0));
    }
    let eth_btc = correlation(&eth, &btc);
    assert!((eth_btc - 0.7).abs() < 0.02, "ETH/BTC {eth_btc}");
    let btc_eth_independent = {
        let mut independent = spec.clone();
        independent.correlation = None;
        let model = PriceModel::new(&independent, &run, Path::new("."), None).expect("model");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for stream in 0..40 {
            let path = model.generate(&mut rng(21, stream));
            a.extend(log_returns(&path.series[0]));
            b.extend(log_returns(&path.series[1]));
        }
        correlation(&a, &b)
    };
    assert!(btc_eth_independent.abs() < 0.03, "independent {btc_eth_independent}");
    // Jumps dilute SOL's correlation a little; the diffusion part keeps most of it.
    let eth_sol = correlation(&eth, &sol);
    assert!(eth_sol > 0.35 && eth_sol < 0.55, "ETH/SOL {eth_sol}");
}

#[test]
fn correlation_must_be_symmetric_unit_diagonal_and_positive_definite() {
    let symbols: Vec<String> = ["ETH", "BTC"].iter().map(|s| (*s).to_owned()).collect();
    let mut spec = spec(vec![gbm("ETH", 2_000.0, 0.0, 0.8), gbm("BTC", 60_000.0, 0.0, 0.6)]);
    let check =
        |spec: &PricesSpec| prices::validate(spec, &run(10, 3_600), Path::new("."), &symbols);
    for (matrix, fragment) in [
        (vec![vec![1.0, 0.5], vec![0.4, 1.0]], "symmetric"),
        (vec![vec![0.9, 0.5], vec![0.5, 1.0]], "unit diagonal"),
        (vec![vec![1.0, 1.0], vec![1.0, 1.0]], "positive definite"),
        (vec![vec![1.0, 0.5]], "2×2"),
        (vec![vec![1.0, 1.5], vec![1.5, 1.0]], "between -1 and 1"),
    ] {
        spec.correlation = Some(matrix);
        let error = check(&spec).expect_err(fragment);
        assert_eq!(error.location, "prices.correlation");
        assert!(error.message.contains(fragment), "{error}");
    }
    let mut three = spec;
    three.asset.push(gbm("SOL", 150.0, 0.0, 1.0));
    three.correlation = Some(vec![vec![1.0, 0.9, -0.9], vec![0.9, 1.0, 0.9], vec![-0.9, 0.9, 1.0]]);
    let symbols3: Vec<String> = ["ETH", "BTC", "SOL"].iter().map(|s| (*s).to_owned()).collect();
    let error =
        prices::validate(&three, &run(10, 3_600), Path::new("."), &symbols3).expect_err("not PD");
    assert!(error.message.contains("positive definite"));
}

#[test]
fn validation_names_the_asset_and_key() {
    let symbols: Vec<String> = ["ETH", "USDC"].iter().map(|s| (*s).to_owned()).collect();
    let check = |assets: Vec<AssetPriceSpec>| {
        prices::validate(&spec(assets), &run(10, 3_600), Path::new("."), &symbols)
    };
    let cases: Vec<(Vec<AssetPriceSpec>, &str)> = vec![
        (vec![asset("DOGE", "constant")], "prices.asset[0].asset"),
        (vec![asset("ETH", "magic")], "prices.asset[0].source"),
        (vec![asset("ETH", "constant")], "prices.asset[0].price"),
        (
            vec![
                AssetPriceSpec { price: Some(1.0), ..asset("USDC", "constant") },
                gbm("ETH", -1.0, 0.0, 0.5),
            ],
            "prices.asset[1].price",
        ),
        (vec![gbm("ETH", 1.0, 0.0, -0.5)], "prices.asset[0].volatility"),
        (
            vec![AssetPriceSpec { volatility: 0.5, ..asset("ETH", "csv") }],
            "prices.asset[0].volatility",
        ),
        (vec![asset("ETH", "csv")], "prices.asset[0].csv"),
        (vec![asset("ETH", "waypoints")], "prices.asset[0].points"),
        (
            vec![AssetPriceSpec { points: vec![(0, 1.0), (0, 2.0)], ..asset("ETH", "waypoints") }],
            "prices.asset[0].points",
        ),
        (
            vec![AssetPriceSpec { jump_intensity: 1.0, ..gbm("ETH", 1.0, 0.0, 0.5) }],
            "prices.asset[0].jump_intensity",
        ),
        (
            vec![AssetPriceSpec {
                csv: Some("x.csv".into()),
                block: Some(0),
                ..asset("ETH", "bootstrap")
            }],
            "prices.asset[0].block",
        ),
        (vec![gbm("ETH", 1.0, 0.0, 0.5), gbm("ETH", 1.0, 0.0, 0.5)], "prices.asset[1].asset"),
        (
            vec![AssetPriceSpec { csv: Some("does-not-exist.csv".into()), ..asset("ETH", "csv") }],
            "prices.asset[0].csv",
        ),
    ];
    for (assets, location) in cases {
        let error = check(assets).expect_err(location);
        assert!(error.location.starts_with(location), "{error} (wanted {location})");
    }
}

const CSV: &str = "\
timestamp,open,high,low,close,volume
2020-03-12T00:00:00Z,194.61,195.0,180.0,190.0,10
2020-03-12T01:00:00Z,190.0,191.0,170.0,175.5,10
2020-03-12T02:00:00Z,175.5,176.0,150.0,160.25,10
2020-03-12T03:00:00Z,160.25,161.0,120.0,130.0,10
";

#[test]
fn csv_files_parse_and_sample_to_the_run_resolution() {
    let dir = scratch("csv_sampling");
    std::fs::write(dir.join("eth.csv"), CSV).expect("write");
    let rows = prices::load_csv(&dir.join("eth.csv")).expect("load");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0], (1_583_971_200, 190.0));
    assert_eq!(rows[3], (1_583_971_200 + 3 * 3_600, 130.0));
    // Unix seconds and milliseconds, no volume, columns in another order.
    let unix = "timestamp,close,open,high,low\n1583971200,190,1,1,1\n1583974800000,175.5,1,1,1\n";
    std::fs::write(dir.join("unix.csv"), unix).expect("write");
    assert_eq!(
        prices::load_csv(&dir.join("unix.csv")).expect("load"),
        vec![(1_583_971_200, 190.0), (1_583_974_800, 175.5)]
    );

    let mut eth = asset("ETH", "csv");
    eth.csv = Some("eth.csv".to_owned());
    let symbols = vec!["ETH".to_owned()];
    // Half-hour steps: step k takes the last close at or before start + k·1800.
    let run30 = run(7, 1_800);
    prices::validate(&spec_of(eth.clone()), &run30, &dir, &symbols).expect("covered");
    let path = prices::generate(&spec_of(eth.clone()), &run30, &dir, None, &mut rng(0, 0))
        .expect("generate");
    assert_eq!(path.start, 1_583_971_200);
    assert_eq!(path.series[0], vec![190.0, 190.0, 175.5, 175.5, 160.25, 160.25, 130.0, 130.0]);
    // A later start.
    let late = RunSpec { start: Some(1_583_971_200 + 3_600), ..run(2, 3_600) };
    let path = prices::generate(&spec_of(eth.clone()), &late, &dir, None, &mut rng(0, 0))
        .expect("generate");
    assert_eq!(path.series[0], vec![175.5, 160.25, 130.0]);
    // The file covers four hours: a fifth is refused, as is a start before the file.
    let error = prices::validate(&spec_of(eth.clone()), &run(4, 3_600), &dir, &symbols)
        .expect_err("too long");
    assert_eq!(error.location, "prices.asset[0].csv");
    assert!(error.message.contains("covers"), "{error}");
    let early = RunSpec { start: Some(1_583_971_200 - 60), ..run(1, 3_600) };
    prices::validate(&spec_of(eth), &early, &dir, &symbols).expect_err("before the file");
}

#[test]
fn csv_errors_name_file_and_line() {
    let dir = scratch("csv_errors");
    let cases = [
        (
            "bad_time.csv",
            "timestamp,open,high,low,close\n2020-03-12T00:00:00Z,1,1,1,1\n2020-13-12T00:00:00Z,1,1,1,1\n",
            ":3",
            "timestamp",
        ),
        (
            "unsorted.csv",
            "timestamp,open,high,low,close\n2020-03-12T01:00:00Z,1,1,1,1\n2020-03-12T00:00:00Z,1,1,1,1\n",
            ":3",
            "ascending",
        ),
        (
            "bad_close.csv",
            "timestamp,open,high,low,close\n2020-03-12T00:00:00Z,1,1,1,abc\n",
            ":2",
            "close",
        ),
        ("no_close.csv", "timestamp,open,high,low\n2020-03-12T00:00:00Z,1,1,1\n", ":1", "close"),
        (
            "ragged.csv",
            "timestamp,open,high,low,close\n2020-03-12T00:00:00Z,1,1,1\n",
            ":2",
            "bad row",
        ),
    ];
    for (name, text, line, fragment) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        let error = prices::load_csv(&path).expect_err(name);
        assert!(error.location.ends_with(&format!("{name}{line}")), "{error}");
        assert!(error.message.contains(fragment), "{error}");
    }
    let error = prices::load_csv(&dir.join("missing.csv")).expect_err("missing");
    assert!(error.message.contains("cannot read"));
}

#[test]
fn csv_override_replaces_the_first_csv_or_waypoints_asset() {
    let dir = scratch("csv_override");
    std::fs::write(dir.join("full.csv"), CSV).expect("write");
    let mut eth = asset("ETH", "waypoints");
    eth.points = vec![(0, 1.0), (3_600, 2.0)];
    let mut btc = asset("BTC", "waypoints");
    btc.points = vec![(0, 5.0)];
    let spec = spec(vec![gbm("SOL", 10.0, 0.0, 0.5), eth, btc]);
    let run = run(3, 3_600);
    let override_path = dir.join("full.csv");
    let path = prices::generate(
        &spec,
        &run,
        Path::new("/nonexistent"),
        Some(&override_path),
        &mut rng(0, 0),
    )
    .expect("generate");
    assert_eq!(path.assets, vec!["SOL", "ETH", "BTC"]);
    assert_eq!(path.series[1], vec![190.0, 175.5, 160.25, 130.0]);
    assert_eq!(path.series[2], vec![5.0; 4]);
    assert_eq!(path.start, 1_583_971_200);
    assert_eq!(path.price(1, 99), 130.0);
}

#[test]
fn bootstrap_draws_blocks_of_historical_returns() {
    let dir = scratch("bootstrap");
    let mut text = String::from("timestamp,open,high,low,close\n");
    let mut close = 100.0_f64;
    let mut closes = Vec::new();
    for hour in 0..200_u64 {
        close *= 1.0 + 0.01 * ((hour * 7919 % 13) as f64 - 6.0) / 6.0;
        closes.push(close);
        text.push_str(&format!("{},1,1,1,{close}\n", 1_600_000_000 + hour * 3_600));
    }
    std::fs::write(dir.join("h.csv"), &text).expect("write");
    let historical: Vec<f64> = log_returns(&closes);
    let mut spec = spec_of(AssetPriceSpec {
        csv: Some("h.csv".to_owned()),
        block: Some(5),
        price: Some(50.0),
        ..asset("ETH", "bootstrap")
    });
    let run = run(23, 3_600);
    let path = prices::generate(&spec, &run, &dir, None, &mut rng(4, 0)).expect("generate");
    let series = &path.series[0];
    assert_eq!(series.len(), 24);
    assert_eq!(series[0], 50.0);
    let drawn = log_returns(series);
    // Each block of five is a run of consecutive historical returns.
    for block in drawn.chunks(5) {
        let found = historical
            .windows(block.len())
            .any(|window| window.iter().zip(block).all(|(a, b)| (a - b).abs() < 1e-9));
        assert!(found, "block {block:?} is not consecutive history");
    }
    // Without a price it starts from the file's first close; reproducible from the seed.
    spec.asset[0].price = None;
    let a = prices::generate(&spec, &run, &dir, None, &mut rng(4, 1)).expect("generate");
    let b = prices::generate(&spec, &run, &dir, None, &mut rng(4, 1)).expect("generate");
    assert_eq!(a, b);
    assert_eq!(a.series[0][0], closes[0]);
    // More steps per block than the file has returns is refused.
    spec.asset[0].block = Some(500);
    let error =
        prices::validate(&spec, &run, &dir, &["ETH".to_owned()]).expect_err("block too long");
    assert_eq!(error.location, "prices.asset[0].block");
}

#[test]
fn constant_and_unlisted_prices() {
    let spec = spec_of(AssetPriceSpec { price: Some(0.9998), ..asset("USDC", "constant") });
    let path = prices::generate(&spec, &run(5, 60), Path::new("."), None, &mut rng(0, 0))
        .expect("generate");
    assert_eq!(path.series[0], vec![0.9998; 6]);
    assert_eq!(path.price(0, 3), 0.9998);
    assert_eq!(path.price(7, 3), 1.0);
    assert_eq!(path.asset_index("USDC"), Some(0));
}

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/prices").join(path)
}

#[test]
#[ignore = "reads ../shared"]
fn black_thursday_files_carry_the_published_lows() {
    let low_of = |bars: &[prices::Bar]| {
        bars.iter().copied().min_by(|a, b| a.low.total_cmp(&b.low)).expect("rows")
    };
    let five =
        prices::load_bars(&shared("eth_usdt_binance_2020-03-11_2020-03-14_5m.csv")).expect("5m");
    assert_eq!(five.len(), 1_152);
    let low = low_of(&five);
    assert_eq!(low.low, 86.0);
    assert_eq!(low.time, prices::parse_timestamp("2020-03-13T02:15:00Z").expect("time"));
    let hourly =
        prices::load_bars(&shared("eth_usdt_binance_2020-03-11_2020-03-14_1h.csv")).expect("1h");
    assert_eq!(hourly.len(), 96);
    let low = low_of(&hourly);
    assert_eq!(low.low, 86.0);
    assert_eq!(low.time, prices::parse_timestamp("2020-03-13T02:00:00Z").expect("time"));
    // SOURCES.md: ETH opened 03-12 at 194.61 and closed 03-12 at 107.82.
    let day = prices::parse_timestamp("2020-03-12T00:00:00Z").expect("time");
    let open = hourly.iter().find(|bar| bar.time == day).expect("03-12 00:00");
    assert_eq!(open.open, 194.61);
    let last = hourly.iter().find(|bar| bar.time == day + 23 * 3_600).expect("03-12 23:00");
    assert_eq!(last.close, 107.82);
    // BTC's 1h file: low 3782.13 on 03-13 at 02:00Z.
    let btc =
        prices::load_bars(&shared("btc_usdt_binance_2020-03-11_2020-03-14_1h.csv")).expect("btc");
    let low = low_of(&btc);
    assert_eq!(low.low, 3_782.13);
    assert_eq!(low.time, prices::parse_timestamp("2020-03-13T02:00:00Z").expect("time"));
    // Sampling the hourly file over the whole window as a csv source.
    let mut eth = asset("ETH", "csv");
    eth.csv = Some(shared("eth_usdt_binance_2020-03-11_2020-03-14_1h.csv").display().to_string());
    let run = run(95, 3_600);
    let path = prices::generate(&spec_of(eth), &run, Path::new("/"), None, &mut rng(0, 0))
        .expect("generate");
    assert_eq!(path.series[0].len(), 96);
    assert_eq!(path.series[0][95], 122.54);
}
