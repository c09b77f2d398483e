//! `GET /v1/risk` and the risk gauges over HTTP, and the example files under deploy/: the
//! Grafana JSON parses, and every metric the alert rules and the dashboard name is exported.

mod support;

use backstop_core::VenueConfig;
use backstop_core::script::parse_script;
use serde_json::Value;
use support::{Backend, Harness, json_of, submit_batch};

use backstop_testkit::venues::{INSURED_CRASH_SETUP as SETUP, insured_lending_perp_toml as venue};

/// A server on [`venue`] fed [`SETUP`].
fn fed_server() -> Harness {
    let harness = Harness::with(Backend::Sqlite, |config| config.venue_toml = venue());
    let config = VenueConfig::from_toml_str(&venue()).unwrap_or_else(|e| panic!("venue: {e}"));
    let commands: Vec<Value> = parse_script(SETUP, &config)
        .unwrap_or_else(|e| panic!("script: {e:?}"))
        .iter()
        .map(|line| json_of(&line.command))
        .collect();
    let response = submit_batch(&mut harness.admin(), &commands);
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.json()["results"]
            .as_array()
            .is_some_and(|results| results.iter().all(|r| r["status"] == "applied")),
        "{}",
        response.text()
    );
    harness
}

#[test]
fn risk_answers_hand_computed_coverage_and_at_risk() {
    let harness = fed_server();
    let response = harness.admin().get("/v1/risk").expect("GET /v1/risk");
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["seq"], 1);
    assert_eq!(body["capital_value"], "1500");
    assert_eq!(body["exposure_value"], "15000");
    // 1,500 / 15,000.
    assert_eq!(body["coverage"], "0.1");
    assert_eq!(body["layers"][0]["layer"], "fund:insurance");
    assert_eq!(body["at_risk"][1]["asset"], "ETH");
    // ETH −30 %: 10 ETH at 1,400 = 14,000 against 15,000 owed.
    let step = &body["at_risk"][1]["steps"][5];
    assert_eq!((step["drop_pct"].as_u64(), step["price"].as_str()), (Some(30), Some("1400")));
    assert_eq!(step["collateral_value"], "14000");
    assert_eq!(step["bad_debt"], "1000");
    // Users do not see venue-wide risk.
    let user = harness.key("user", &[2]);
    assert_eq!(harness.client(&user).get("/v1/risk").expect("GET").status, 403);
}

#[test]
fn metrics_export_the_risk_gauges() {
    let harness = fed_server();
    let metrics = harness.admin().get("/metrics").expect("GET /metrics").text();
    for line in [
        "backstop_risk_up 1",
        "backstop_coverage_ratio 0.1",
        "backstop_capital_value 1500",
        "backstop_exposure_value 15000",
        "backstop_market_coverage_ratio{market=\"USDC\"} 0.1",
        "backstop_layer_balance{layer=\"fund:insurance\",asset=\"USDC\"} 1500",
        "backstop_open_deficit_value{market=\"USDC\"} 0",
        "backstop_open_deficits_value 0",
        "backstop_capital_at_risk_value{asset=\"ETH\",drop_pct=\"10\"} 18000",
        "backstop_capital_at_risk_value{asset=\"ETH\",drop_pct=\"30\"} 14000",
        "backstop_capital_at_risk_value{asset=\"ETH\",drop_pct=\"50\"} 10000",
        "backstop_bad_debt_at_risk_value{asset=\"ETH\",drop_pct=\"50\"} 5000",
        "backstop_bad_debt_at_risk_value{asset=\"USDC\",drop_pct=\"30\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in\n{metrics}");
    }
}

/// Every `backstop_…` metric name in a text.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("backstop_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names.sort();
    names.dedup();
    names
}

/// The expressions of every panel target of a Grafana dashboard.
fn grafana_exprs(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().unwrap_or_else(|| panic!("no panels"));
    panels
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().unwrap_or_else(|| panic!("no expr")).to_owned())
        .collect()
}

#[test]
fn deploy_files_name_only_exported_metrics() {
    let harness = fed_server();
    let metrics = harness.admin().get("/metrics").expect("GET /metrics").text();
    let exported: Vec<String> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .map(str::to_owned)
        .collect();
    let rules = include_str!("../../../deploy/prometheus/backstop-alerts.yml");
    let dashboard: Value =
        serde_json::from_str(include_str!("../../../deploy/grafana/backstop-risk.json"))
            .unwrap_or_else(|e| panic!("the Grafana dashboard is not JSON: {e}"));
    let exprs = grafana_exprs(&dashboard);
    assert_eq!(exprs.len(), 12);
    let rule_exprs: Vec<&str> =
        rules.lines().filter_map(|line| line.trim().strip_prefix("expr: ")).collect();
    assert_eq!(rule_exprs.len(), 7);
    for (source, text) in [("alert rules", rule_exprs.join("\n")), ("dashboard", exprs.join("\n"))]
    {
        let names = metric_names(&text);
        assert!(names.len() >= 6, "{source}: {names:?}");
        for name in names {
            assert!(exported.contains(&name), "{source} names {name}, which /metrics lacks");
        }
    }
    // The check itself fails on a name /metrics does not export.
    assert!(!exported.contains(&"backstop_coverage".to_owned()));
}

#[test]
fn stress_answers_without_touching_journal_or_state() {
    let harness = fed_server();
    let before = harness.state();
    let keeper = harness.key("keeper", &[]);
    let shock = serde_json::json!({"steps": [{"ETH": "-30%"}]});
    let response = harness.client(&keeper).post_json("/v1/stress", &shock).expect("POST stress");
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["seq"], 1);
    assert_eq!(body["state_hash"], before["state_hash"]);
    assert_eq!(body["liquidations"], 1);
    assert_eq!(body["markets"][0]["market"], "USDC");
    assert_eq!(body["markets"][0]["deficit"], "1000");
    assert_eq!(body["markets"][0]["paid"]["fund:insurance"], "1000");
    assert_eq!(body["markets"][0]["uncovered"], "0");
    let after = harness.state();
    assert_eq!(
        (after["seq"].clone(), after["state_hash"].clone()),
        (before["seq"].clone(), before["state_hash"].clone())
    );
    let events = harness.admin().get("/v1/events?since=0").expect("GET events").json();
    assert_eq!(events["batches"].as_array().map(Vec::len), Some(1), "the journal holds only SETUP");
    // A bad move is a stable error code, and nothing more.
    let bad = serde_json::json!({"steps": [{"ETH": "-130%"}]});
    let response = harness.admin().post_json("/v1/stress", &bad).expect("POST stress");
    assert_eq!((response.status, response.error_code().as_deref()), (400, Some("invalid_value")));
    let unknown = serde_json::json!({"steps": [], "dry": true});
    let response = harness.admin().post_json("/v1/stress", &unknown).expect("POST stress");
    assert_eq!(response.error_code().as_deref(), Some("unknown_field"));
}
