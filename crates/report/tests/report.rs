//! Report outputs from a hand-built run (no runner needed).
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_report::{ReportInfo, SCHEMA, SizingResult, terminal_table, write_reports};
use backstop_sim::metrics::{PathMetrics, PathTrace, Statistic, Summary};
use backstop_sim::runner::RunResult;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn map<V: Clone>(entries: &[(&str, V)]) -> BTreeMap<String, V> {
    entries.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).collect()
}

fn stat(mean: f64, var95: f64, var99: f64, es95: f64, es99: f64, max: f64) -> Statistic {
    Statistic { mean, var95, var99, es95, es99, max }
}

fn run() -> RunResult {
    let paths: Vec<PathMetrics> = (0..12_u32)
        .map(|path| {
            let deficit = if path % 3 == 0 { 0.0 } else { f64::from(path) * 1_000.0 };
            let fund = deficit.min(5_000.0);
            let stakers = (deficit - fund).max(0.0);
            PathMetrics {
                path,
                liquidations: path * 2,
                liquidated_volume: f64::from(path) * 25_000.5,
                deficit_created: deficit,
                paid_by_layer: map(&[("fund:main", fund), ("stakers:safety", stakers)]),
                uncovered_at_end: 0.0,
                fund_min: 5_000.0 - fund,
                staker_loss_share: stakers / 100_000.0,
                adl_haircut_max: 0.0,
                adl_haircut_total: 0.0,
                socialized: 0.0,
                exhausted: map(&[("fund:main", fund >= 5_000.0), ("stakers:safety", false)]),
                time_to_recover_secs: (deficit > 0.0).then_some(7_200),
                loss_beyond: map(&[("fund:main", stakers), ("stakers:safety", 0.0)]),
                rejections: path % 2,
                ..PathMetrics::default()
            }
        })
        .collect();
    let times: Vec<u64> = (0..48).map(|step| 1_583_884_800 + step * 3_600).collect();
    let eth: Vec<f64> =
        (0..48).map(|step| if step < 20 { 200.0 - f64::from(step) * 4.5 } else { 110.0 }).collect();
    let fund: Vec<f64> = (0..48)
        .map(
            |step| {
                if step < 22 { 5_000.0 } else { 5_000.0 - 250.0 * f64::from(step - 21).min(20.0) }
            },
        )
        .collect();
    let stakers: Vec<f64> =
        (0..48).map(|step| if step < 40 { 100_000.0 } else { 97_000.0 }).collect();
    let paid_fund: Vec<f64> = fund.iter().map(|balance| 5_000.0 - balance).collect();
    let paid_stakers: Vec<f64> = stakers.iter().map(|balance| 100_000.0 - balance).collect();
    let trace = PathTrace {
        path: 0,
        times,
        prices: map(&[("ETH", eth)]),
        layer_balances: map(&[("fund:main", fund), ("stakers:safety", stakers)]),
        paid_cumulative: map(&[("fund:main", paid_fund), ("stakers:safety", paid_stakers)]),
    };
    RunResult {
        scenario: "black-thursday".to_owned(),
        seed: 7,
        steps: 48,
        step_secs: 3_600,
        paths,
        traces: vec![trace],
        published: Vec::new(),
        summary: Summary {
            paths: 12,
            metrics: map(&[
                (
                    "deficit_created",
                    stat(5_000.0, 11_000.0, 11_000.0, 11_000.0, 11_000.0, 11_000.0),
                ),
                (
                    "liquidated_volume",
                    stat(137_502.75, 275_005.5, 275_005.5, 275_005.5, 275_005.5, 275_005.5),
                ),
                ("staker_loss_share", stat(0.01, 0.06, 0.06, 0.06, 0.06, 0.06)),
                ("paid:fund:main", stat(3_000.0, 5_000.0, 5_000.0, 5_000.0, 5_000.0, 5_000.0)),
                ("paid:stakers:safety", stat(2_000.0, 6_000.0, 6_000.0, 6_000.0, 6_000.0, 6_000.0)),
            ]),
            exhaustion_probability: map(&[("fund:main", 0.5), ("stakers:safety", 0.0)]),
            loss_beyond_probability: map(&[("fund:main", 0.5), ("stakers:safety", 0.0)]),
        },
    }
}

fn info() -> ReportInfo {
    ReportInfo {
        scenario: "black-thursday".to_owned(),
        description: "ETH fell 43% on 12 March 2020 while keepers were down <test & escape>."
            .to_owned(),
        scenario_file: "scenarios/black-thursday.toml".to_owned(),
        venue: "maker".to_owned(),
        command_line: "backstop simulate scenarios/black-thursday.toml --out out".to_owned(),
        git_commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
        cargo_lock_sha256: "unknown".to_owned(),
        threads: Some(2),
    }
}

fn sizing() -> SizingResult {
    use backstop_sim::sizing::{SizingPoint, Verdict};
    let point = |size: f64, exceedances: u32| {
        let probability = f64::from(exceedances) / 400.0;
        let (lower, upper) = backstop_sim::sizing::wilson(u64::from(exceedances), 400, 1.96);
        let verdict = if upper <= 0.01 { Verdict::Meets } else { Verdict::Fails };
        SizingPoint { size, probability, exceedances, paths: 400, lower, upper, verdict }
    };
    SizingResult {
        layer: "fund:main".to_owned(),
        target: 0.01,
        confidence: Some(0.95),
        paths: 400,
        size: 12_500.0,
        probability: 0.0,
        interval: (0.0, 0.0095),
        resolved: true,
        paths_needed: Some(381),
        paths_min: 381,
        boundary: Some(point(6_250.0, 100)),
        boundary_paths_needed: Some(12),
        curve: vec![
            point(0.0, 264),
            point(50_000.0, 0),
            point(25_000.0, 0),
            point(12_500.0, 0),
            point(6_250.0, 100),
        ],
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn relative(dir: &Path, files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|file| file.strip_prefix(dir).unwrap().display().to_string()).collect()
}

#[test]
fn every_report_is_written_and_well_formed() {
    let dir = scratch("complete");
    let files = write_reports(&dir, &run(), &info(), Some(&sizing())).unwrap();
    assert_eq!(
        relative(&dir, &files),
        [
            "summary.json",
            "report.md",
            "report.html",
            "charts/prices.svg",
            "charts/prices.png",
            "charts/balances.svg",
            "charts/balances.png",
            "charts/paid.svg",
            "charts/paid.png",
            "charts/loss.svg",
            "charts/loss.png",
            "charts/sizing.svg",
            "charts/sizing.png",
        ]
    );
    for file in &files {
        assert!(std::fs::metadata(file).unwrap().len() > 0, "{} is empty", file.display());
    }

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["schema"], SCHEMA);
    assert_eq!(summary["schema"], "backstop.summary/1");
    assert_eq!(summary["run"]["seed"], 7);
    assert_eq!(summary["run"]["paths"], 12);
    assert_eq!(summary["info"]["venue"], "maker");
    assert!(
        summary["info"].get("command_line").is_none(),
        "command line would break 1-vs-2 threads"
    );
    assert_eq!(summary["metrics"]["deficit_created"]["var99"], 11_000.0);
    assert_eq!(summary["exhaustion_probability"]["fund:main"], 0.5);
    assert_eq!(summary["loss_beyond_probability"]["fund:main"], 0.5);
    assert_eq!(summary["layers"]["fund:main"]["loss_beyond_probability"], 0.5);
    assert_eq!(summary["paths"].as_array().unwrap().len(), 12);
    assert_eq!(summary["paths"][1]["paid_by_layer"]["fund:main"], 1_000.0);
    assert_eq!(summary["paths"][0]["time_to_recover_secs"], serde_json::Value::Null);
    assert_eq!(summary["traces"][0]["prices"]["ETH"].as_array().unwrap().len(), 48);
    assert_eq!(summary["sizing"]["size"], 12_500.0);
    assert_eq!(summary["sizing"]["curve"][4]["probability"], 0.25);
    // Fund paid 4 × 5,000 + 1,000 + 2,000 + 4,000 = 27,000... computed by hand per path:
    // deficits 1k,2k,4k,5k,7k,8k,10k,11k → fund min(d, 5k) = 1+2+4+5+5+5+5+5 = 32k.
    assert_eq!(summary["layers"]["fund:main"]["paid_total"], 32_000.0);
    assert_eq!(summary["layers"]["stakers:safety"]["paid_total"], 16_000.0);
    assert_eq!(summary["layers"]["fund:main"]["paths_paying"], 8);
    let share = summary["layers"]["fund:main"]["paid_share"].as_f64().unwrap();
    assert!((share - 32.0 / 48.0).abs() < 1e-12);

    let png = std::fs::read(dir.join("charts/loss.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    for (chart, title) in [
        ("prices", "Price paths"),
        ("balances", "Fund and pool balances"),
        ("paid", "Cumulative payment by layer"),
        ("loss", "Loss distribution"),
        ("sizing", "Fund-size curve"),
    ] {
        let svg = std::fs::read_to_string(dir.join(format!("charts/{chart}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{chart}.svg is not SVG");
        assert!(svg.contains(title), "{chart}.svg lacks its title {title:?}");
        let png = std::fs::read(dir.join(format!("charts/{chart}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{chart}.png is not a PNG");
    }

    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(markdown.starts_with("# Backstop stress report: black-thursday\n"));
    assert!(markdown.contains("## What each layer paid"));
    assert!(markdown.contains("&lt;test & escape&gt;"), "scenario text is not raw HTML");
    assert!(markdown.contains("| fund:main |"));
    assert!(markdown.contains("![Loss distribution: deficit created per path](charts/loss.svg)"));
    assert!(markdown.contains("## Sizing: fund:main"));

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("&lt;test &amp; escape&gt;"));
    assert_eq!(html.matches("<svg").count(), 5, "every chart inline");
    assert_eq!(html.matches("src=\"data:image/png;base64,iVBORw0KGgo").count(), 5);
    // Self-contained: nothing refers to a URL or another file.
    for needle in [
        "http://",
        "https://",
        "//www.",
        "src=\"charts/",
        "href=",
        "<link",
        "url(",
        "@import",
        "<script",
    ] {
        assert!(!html.contains(needle), "report.html contains {needle:?}");
    }
}

#[test]
fn identical_inputs_give_identical_bytes() {
    let first = scratch("bytes-a");
    let second = scratch("bytes-b");
    let a = write_reports(&first, &run(), &info(), Some(&sizing())).unwrap();
    let b = write_reports(&second, &run(), &info(), Some(&sizing())).unwrap();
    assert_eq!(relative(&first, &a), relative(&second, &b));
    for (x, y) in a.iter().zip(&b) {
        assert!(std::fs::read(x).unwrap() == std::fs::read(y).unwrap(), "{} differs", x.display());
    }
}

#[test]
fn summary_keys_are_sorted_at_every_level() {
    fn check(value: &serde_json::Value, at: &str) {
        match value {
            serde_json::Value::Object(map) => {
                let keys: Vec<&String> = map.keys().collect();
                let mut sorted = keys.clone();
                sorted.sort();
                assert_eq!(keys, sorted, "keys at {at}");
                for (key, value) in map {
                    check(value, &format!("{at}.{key}"));
                }
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    check(item, &format!("{at}[{index}]"));
                }
            }
            _ => {}
        }
    }
    let bytes = backstop_report::summary_json(&run(), &info(), None).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    // Key order in the text itself (serde_json's parser could reorder).
    let top: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("  \""))
        .map(|line| line.trim().split('"').nth(1).unwrap())
        .collect();
    let mut sorted = top.clone();
    sorted.sort_unstable();
    assert_eq!(top, sorted);
    assert!(top.contains(&"sizing"));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["sizing"], serde_json::Value::Null);
    check(&value, "");
}

#[test]
fn a_run_without_traces_or_paths_still_reports() {
    let dir = scratch("empty");
    let empty = RunResult { scenario: "empty".to_owned(), ..RunResult::default() };
    let files = write_reports(&dir, &empty, &ReportInfo::default(), None).unwrap();
    assert_eq!(relative(&dir, &files), ["summary.json", "report.md", "report.html"]);
    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(markdown.contains("No data to chart."));
    assert!(terminal_table(&empty).contains("no metrics recorded"));
}

#[test]
fn terminal_table_lists_statistics_payments_and_exhaustion() {
    let table = terminal_table(&run());
    let expected = "\
black-thursday: 12 path(s) x 48 steps of 3600 s, seed 7

metric                mean    VaR95    VaR99     ES95     ES99
-----------------  -------  -------  -------  -------  -------
deficit_created      5,000   11,000   11,000   11,000   11,000
liquidated_volume  137,503  275,006  275,006  275,006  275,006
staker_loss_share  0.01000  0.06000  0.06000  0.06000  0.06000

layer paid       mean  VaR95  VaR99   ES95   ES99
--------------  -----  -----  -----  -----  -----
fund:main       3,000  5,000  5,000  5,000  5,000
stakers:safety  2,000  6,000  6,000  6,000  6,000

layer           P(exhausted)  P(loss beyond)
--------------  ------------  --------------
fund:main             50.00%          50.00%
stakers:safety         0.00%           0.00%
";
    assert_eq!(table, expected, "\n{table}");
}

/// A published outcome shows in the terminal table, summary.json and report.md with its verdict.
#[test]
fn published_outcomes_are_tabled_with_their_verdict() {
    use backstop_sim::published::{Comparison, ExpectSpec, Verdict};
    let mut run = run();
    run.published = vec![Comparison {
        expect: ExpectSpec {
            metric: "deficit_created".to_owned(),
            low: 4_000_000.0,
            high: 6_650_000.0,
            unit: "DAI".to_owned(),
            source: "incidents.md".to_owned(),
        },
        simulated: 1_270_000.0,
        verdict: Verdict::Below,
    }];
    let table = terminal_table(&run);
    assert!(table.contains("published vs simulated"), "{table}");
    let line = table.lines().find(|line| line.starts_with("deficit_created  4,000,000")).unwrap();
    assert!(line.contains("1,270,000") && line.contains("below"), "{line}");
    let dir = scratch("published");
    write_reports(&dir, &run, &info(), None).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let row = &summary["published"][0];
    assert_eq!(row["metric"], "deficit_created");
    assert_eq!(row["low"], 4_000_000.0);
    assert_eq!(row["high"], 6_650_000.0);
    assert_eq!(row["simulated"], 1_270_000.0);
    assert_eq!(row["unit"], "DAI");
    assert_eq!(row["verdict"], "below");
    assert_eq!(row["source"], "incidents.md");
    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(markdown.contains("## Published vs simulated"), "{markdown}");
    assert!(markdown.contains("| below |"), "{markdown}");
}
