//! End-to-end tests of `backstop simulate` and `backstop size`, running the real binary.
#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory of its own for each test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulate-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn backstop(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .output()
        .unwrap()
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A tiny scenario with an inline venue (USDC and ETH lending, an insurance fund in USDC ahead of
/// socialisation): lenders and ETH-collateral borrowers, ETH crashing from 2,000 to 800 in four
/// hours along a seeded Brownian bridge, a handful of paths.
fn tiny_scenario() -> String {
    r#"[scenario]
name = "tiny"
description = "A tiny crash for the command-line tests."

[venue.inline.venue]
name = "tiny-venue"

[venue.inline.oracle]
max_staleness_secs = 3600

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
markets = ["USDC"]

[[venue.inline.waterfall]]
market = "USDC"
layers = ["fund:insurance", "socialize"]

[run]
steps = 24
step_secs = 3600
paths = 6
seed = 11

[[prices.asset]]
asset = "ETH"
source = "waypoints"
points = [[0, 2000.0], [7200, 1500.0], [14400, 800.0], [86400, 900.0]]
bridge_volatility = 1.5

[[prices.asset]]
asset = "USDC"
source = "constant"
price = 1.0

[[population]]
kind = "lenders"
count = 4
asset = "USDC"
size = { dist = "fixed", value = 1000000.0 }

[[population]]
kind = "borrowers"
count = 20
collateral = "ETH"
asset = "USDC"
size = { dist = "lognormal", median = 5000.0, sigma = 0.5 }
health = { dist = "uniform", min = 1.02, max = 1.3 }

[[funding]]
layer = "fund:insurance"
amount = 1000.0
"#
    .to_owned()
}

#[test]
fn a_missing_scenario_exits_2_naming_the_file() {
    let dir = scratch("missing");
    let output = backstop(&["simulate", "no-such-scenario.toml", "--out", "out"], &dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(stderr.starts_with("error: no-such-scenario.toml"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(!dir.join("out").exists(), "nothing is written for a bad scenario");

    let output =
        backstop(&["size", "no-such-scenario.toml", "--layer", "fund", "--target", "0.01"], &dir);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("no-such-scenario.toml"));
}

#[test]
fn a_malformed_scenario_exits_2_naming_line_and_key() {
    let dir = scratch("malformed");
    let text = tiny_scenario().replace("seed = 11\n", "seed = 11\nwarmup = 3\n");
    let line = text.lines().position(|line| line.starts_with("warmup")).unwrap() + 1;
    std::fs::write(dir.join("bad.toml"), text).unwrap();
    let output = backstop(&["simulate", "bad.toml", "--out", "out"], &dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(stderr.starts_with(&format!("error: bad.toml:{line}: ")), "{stderr}");
    assert!(stderr.contains("warmup"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(!dir.join("out").exists());

    // A value of the wrong type, in a table further down.
    let text = tiny_scenario().replace("count = 20", "count = \"twenty\"");
    let line = text.lines().position(|line| line.starts_with("count = \"twenty\"")).unwrap() + 1;
    std::fs::write(dir.join("bad-type.toml"), text).unwrap();
    let output = backstop(&["size", "bad-type.toml", "--layer", "fund", "--target", "0.01"], &dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(stderr.starts_with(&format!("error: bad-type.toml:{line}: ")), "{stderr}");
}

#[test]
fn out_of_range_flags_are_refused_with_exit_2() {
    let dir = scratch("flags");
    std::fs::write(dir.join("tiny.toml"), tiny_scenario()).unwrap();
    for args in [
        &["simulate", "tiny.toml", "--paths", "0"][..],
        &["simulate", "tiny.toml", "--threads", "0"],
        &["simulate", "tiny.toml", "--paths", "100001"],
        &["size", "tiny.toml", "--layer", "fund", "--target", "1.5"],
        &["size", "tiny.toml", "--layer", "fund", "--target", "-0.1"],
        &["size", "tiny.toml", "--target", "0.01"],
    ] {
        let output = backstop(args, &dir);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr_of(&output));
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

fn summary_of(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn simulate_writes_every_report() {
    let dir = scratch("end-to-end");
    std::fs::write(dir.join("tiny.toml"), tiny_scenario()).unwrap();
    let output = backstop(&["simulate", "tiny.toml", "--out", "out"], &dir);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stdout = stdout_of(&output);
    assert!(stdout.starts_with("tiny: 6 path(s) x 24 steps of 3600 s, seed 11\n"), "{stdout}");
    assert!(stdout.contains("deficit_created"), "{stdout}");
    for file in ["summary.json", "report.md", "report.html", "charts/loss.svg", "charts/loss.png"] {
        assert!(dir.join("out").join(file).is_file(), "{file} missing");
        assert!(stdout.contains(&format!("out/{file}")), "{file} not listed:\n{stdout}");
    }
    let summary = summary_of(&dir.join("out"));
    assert_eq!(summary["schema"], "backstop.summary/1");
    assert_eq!(summary["info"]["scenario"], "tiny");
    assert_eq!(summary["info"]["venue"], "tiny-venue");
    assert_eq!(summary["run"]["paths"], 6);
    assert_eq!(summary["paths"].as_array().unwrap().len(), 6);

    // Without --out nothing is written and the same table is printed.
    let again = backstop(&["simulate", "tiny.toml"], &dir);
    assert_eq!(again.status.code(), Some(0), "{}", stderr_of(&again));
    assert!(stdout.starts_with(&stdout_of(&again)));
}

#[test]
fn one_and_two_threads_give_byte_identical_summaries() {
    let dir = scratch("threads");
    std::fs::write(dir.join("tiny.toml"), tiny_scenario()).unwrap();
    let one = backstop(
        &["simulate", "tiny.toml", "--threads", "1", "--paths", "8", "--out", "one"],
        &dir,
    );
    assert_eq!(one.status.code(), Some(0), "{}", stderr_of(&one));
    let two = backstop(
        &["simulate", "tiny.toml", "--threads", "2", "--paths", "8", "--out", "two"],
        &dir,
    );
    assert_eq!(two.status.code(), Some(0), "{}", stderr_of(&two));
    let a = std::fs::read(dir.join("one/summary.json")).unwrap();
    let b = std::fs::read(dir.join("two/summary.json")).unwrap();
    assert!(a == b, "summary.json differs between 1 and 2 threads");
    for chart in ["loss.svg", "loss.png"] {
        let a = std::fs::read(dir.join("one/charts").join(chart)).unwrap();
        let b = std::fs::read(dir.join("two/charts").join(chart)).unwrap();
        assert!(a == b, "{chart} differs between 1 and 2 threads");
    }
    let table = |output: &Output| {
        let text = stdout_of(output);
        text.split("\nreports:").next().unwrap().to_owned()
    };
    assert_eq!(table(&one), table(&two));
    assert_eq!(summary_of(&dir.join("one"))["run"]["paths"], 8);
}

#[test]
fn size_prints_the_curve_and_the_chosen_size() {
    let dir = scratch("size");
    std::fs::write(dir.join("tiny.toml"), tiny_scenario()).unwrap();
    let output = backstop(
        &["size", "tiny.toml", "--layer", "fund", "--target", "0.2", "--out", "out"],
        &dir,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stdout = stdout_of(&output);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[1], "size\tprobability\tlower\tupper\tverdict", "{stdout}");
    let chosen = lines.iter().position(|line| line.starts_with("chosen size: ")).unwrap();
    assert!(chosen > 2, "at least one size tried:\n{stdout}");
    for line in &lines[2..chosen] {
        let cells: Vec<&str> = line.split('\t').collect();
        assert!(cells[0].parse::<f64>().unwrap() >= 0.0);
        let probability = cells[1].parse::<f64>().unwrap();
        let (lower, upper) = (cells[2].parse::<f64>().unwrap(), cells[3].parse::<f64>().unwrap());
        assert!(0.0 <= lower && lower <= probability && probability <= upper && upper <= 1.0);
        assert!(["meets", "fails", "unresolved"].contains(&cells[4]), "{line}");
    }
    assert_eq!(summary_of(&dir.join("out"))["sizing"]["confidence"], 0.95);
    let summary = summary_of(&dir.join("out"));
    assert_eq!(summary["sizing"]["target"], 0.2);
    assert!(dir.join("out/charts/sizing.svg").is_file());
}

/// The shipped Black Thursday prints its published outcomes beside the simulated figures, and
/// summary.json and report.md carry the same table: a miss shows as "below" or "above".
#[test]
fn simulate_prints_published_against_simulated() {
    let dir = scratch("published");
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/black-thursday-2020.toml");
    let output = backstop(&["simulate", scenario.to_str().unwrap(), "--out", "out"], &dir);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stdout = stdout_of(&output);
    assert!(stdout.contains("\npublished vs simulated\n"), "{stdout}");
    let line = |metric: &str| {
        let found = stdout.lines().find(|line| line.starts_with(metric));
        found.unwrap().split_whitespace().take(7).collect::<Vec<_>>().join(" ")
    };
    assert_eq!(
        line("deficit_created "),
        "deficit_created 4,000,000 – 6,650,000 6,436,150 DAI within"
    );
    assert_eq!(line("paid:recap "), "paid:recap 5,300,000 5,936,150 DAI above Flop debt");
    assert_eq!(line("zero_bid_share "), "zero_bid_share 0.2500 – 0.5000 0.2027 share below");
    let summary = summary_of(&dir.join("out"));
    let rows = summary["published"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["metric"], "deficit_created");
    assert_eq!(rows[0]["low"], 4_000_000.0);
    assert_eq!(rows[0]["high"], 6_650_000.0);
    assert_eq!(rows[0]["simulated"], 6_436_150.334_190_998);
    assert_eq!(rows[0]["verdict"], "within");
    assert_eq!(rows[1]["metric"], "paid:recap");
    assert_eq!(rows[1]["verdict"], "above");
    assert_eq!(rows[2]["metric"], "zero_bid_share");
    assert_eq!(rows[2]["verdict"], "below");
    assert_eq!(rows[3]["metric"], "tokens_minted");
    assert_eq!(rows[3]["verdict"], "within");
    let markdown = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(markdown.contains("## Published vs simulated"), "{markdown}");
}
