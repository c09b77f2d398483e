//! End-to-end tests of `backstop exec`, running the real binary.
#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VENUE: &str = include_str!("../../../examples/venue.toml");

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Writes a file under this test target's scratch directory and returns its path.
fn scratch(name: &str, text: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exec-tests").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn backstop(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop")).args(args).output().unwrap()
}

fn exec(script: &Path, config: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .arg("exec")
        .arg(script)
        .arg("--config")
        .arg(config)
        .args(extra)
        .output()
        .unwrap()
}

fn exec_example(name: &str) -> Output {
    exec(&examples().join(name), &examples().join("venue.toml"), &[])
}

fn stdout_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn events<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|line| line["event"] == name).collect()
}

fn summary(lines: &[Value]) -> &Value {
    let last = lines.last().unwrap();
    assert!(last.get("summary").is_some(), "last line is not the summary: {last}");
    &last["summary"]
}

fn is_state_hash(value: &Value) -> bool {
    value.as_str().is_some_and(|hash| {
        hash.len() == 64 && hash.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

#[test]
fn crash_example_records_the_hand_computed_deficit() {
    let output = exec_example("crash.script");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr_of(&output));
    assert!(output.stderr.is_empty(), "stderr: {}", stderr_of(&output));
    let lines = stdout_lines(&output);
    assert!(lines.iter().all(|line| line.get("rejection").is_none()));

    let liquidated = events(&lines, "debt_liquidated");
    assert_eq!(liquidated.len(), 1);
    let liquidated = liquidated[0];
    assert_eq!(liquidated["command"], "liquidate");
    assert_eq!(liquidated["debt"], "USDC");
    assert_eq!(liquidated["collateral"], "ETH");
    assert_eq!(liquidated["repaid"], "14000");
    assert_eq!(liquidated["seized"], "10");
    assert_eq!(liquidated["bonus"], "0");
    assert_eq!(liquidated["health_before"], "0.77");

    let deficits = events(&lines, "deficit_recorded");
    assert_eq!(deficits.len(), 1);
    let deficit = deficits[0];
    assert_eq!(deficit["line"], liquidated["line"]);
    assert_eq!(deficit["market"], serde_json::json!({"lending": "USDC"}));
    assert_eq!(deficit["account"], 2);
    assert_eq!(deficit["amount"], "1000");
    assert_eq!(deficit["deficit_after"], "1000");

    let summary = summary(&lines);
    assert_eq!(summary["venue"], "example");
    assert_eq!(summary["time"], 60);
    assert_eq!(summary["commands_applied"], 16);
    assert_eq!(summary["commands_rejected"], 0);
    assert_eq!(summary["accounts"], 3);
    assert_eq!(
        summary["assets"],
        serde_json::json!([
            {"symbol": "USDC", "external_net": "135000", "fees": "0", "price": "1"},
            {"symbol": "ETH", "external_net": "10", "fees": "0", "price": "1400"},
        ])
    );
    let usdc = &summary["lending"][0];
    assert_eq!(usdc["asset"], "USDC");
    assert_eq!(usdc["cash"], "99000");
    assert_eq!(usdc["total_debt"], "0");
    assert_eq!(usdc["supplier_claims"], "100000");
    assert_eq!(usdc["deficit"], "1000");
    assert_eq!(usdc["auction_debt"], "0");
    assert_eq!(usdc["utilization"], "0");
    assert_eq!(
        summary["perps"],
        serde_json::json!([{"name": "ETH-PERP", "open_interest": "0", "deficit": "0"}])
    );
    assert_eq!(summary["liquidatable"], serde_json::json!([]));
    assert!(is_state_hash(&summary["state_hash"]), "{}", summary["state_hash"]);
}

#[test]
fn events_print_line_and_command_first_with_symbols() {
    let output = exec_example("crash.script");
    let text = String::from_utf8(output.stdout).unwrap();
    let first = text.lines().next().unwrap();
    let script = std::fs::read_to_string(examples().join("crash.script")).unwrap();
    let line = script.lines().position(|line| line.starts_with("set_price")).unwrap() + 1;
    assert_eq!(
        first,
        format!(
            r#"{{"line":{line},"command":"set_price","event":"price_set","asset":"USDC","before":"0","after":"1"}}"#
        )
    );
    assert!(
        text.lines().last().unwrap().starts_with(r#"{"summary":{"venue":"example","time":60,"#)
    );
}

#[test]
fn perp_crash_example_records_a_perp_deficit() {
    let output = exec_example("perp-crash.script");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr_of(&output));
    let lines = stdout_lines(&output);
    let liquidated = events(&lines, "position_liquidated");
    assert_eq!(liquidated.len(), 1);
    assert_eq!(liquidated[0]["market"], "ETH-PERP");
    assert_eq!(liquidated[0]["size"], "4");
    assert_eq!(liquidated[0]["price"], "1600");
    assert_eq!(liquidated[0]["fee"], "0");
    assert_eq!(liquidated[0]["bankruptcy_price"], "1751");
    let settled = events(&lines, "pnl_settled");
    assert_eq!(settled.len(), 1);
    assert_eq!(
        (&settled[0]["amount"], &settled[0]["unsettled"]),
        (&"-1000".into(), &"-604".into())
    );
    let deficits = events(&lines, "deficit_recorded");
    assert_eq!(deficits.len(), 1);
    assert_eq!(deficits[0]["market"], serde_json::json!({"perp": "ETH-PERP"}));
    assert_eq!(deficits[0]["amount"], "604");
    let summary = summary(&lines);
    assert_eq!(
        summary["perps"],
        serde_json::json!([{"name": "ETH-PERP", "open_interest": "4", "deficit": "604"}])
    );
    assert_eq!(summary["assets"][0]["fees"], "4");
    assert_eq!(summary["commands_rejected"], 0);
    assert!(is_state_hash(&summary["state_hash"]));
}

#[test]
fn runs_are_identical() {
    for name in ["crash.script", "perp-crash.script"] {
        let first = exec_example(name);
        let second = exec_example(name);
        assert_eq!(first.status.code(), Some(0));
        assert_eq!(first.stdout, second.stdout, "{name}");
        assert_eq!(first.stderr, second.stderr, "{name}");
    }
}

#[test]
fn malformed_script_exits_2_before_running_anything() {
    let script = scratch(
        "malformed.script",
        "open_account account=1\n# a comment\ndeposit account=1 asset=USDC amount=12x\n",
    );
    let output = exec(&script, &examples().join("venue.toml"), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "stdout: {}", String::from_utf8_lossy(&output.stdout));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("malformed.script:3: amount: bad number \"12x\""), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn every_script_error_is_reported() {
    let script = scratch(
        "many-errors.script",
        "teleport account=1\nset_price asset=BTC price=1\nopen_account account=1 account=2\n\
         deposit account=1 asset=USDC\n",
    );
    let output = exec(&script, &examples().join("venue.toml"), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(lines[0].contains("many-errors.script:1: unknown command \"teleport\""), "{stderr}");
    assert!(lines[1].contains(":2: asset: unknown asset \"BTC\"; known: USDC, ETH"), "{stderr}");
    assert!(lines[2].contains(":3: account: duplicate key"), "{stderr}");
    assert!(lines[3].contains(":4: amount: missing key"), "{stderr}");
}

#[test]
fn bad_config_exits_2_naming_line_and_field() {
    let script = examples().join("crash.script");
    // An unknown field on line 12 (the USDC asset's `decimals` misspelt).
    let unknown = VENUE.replacen("decimals = 6", "decimal = 6", 1);
    let line = VENUE.lines().position(|line| line == "decimals = 6").unwrap() + 1;
    let config = scratch("unknown-field.toml", &unknown);
    let output = exec(&script, &config, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(stderr.contains(&format!("unknown-field.toml:{line}: decimal: ")), "{stderr}");

    // An out-of-range value: a collateral factor above 1.
    let out_of_range =
        VENUE.replacen("collateral_factor = \"0.85\"", "collateral_factor = \"1.5\"", 1);
    let line = VENUE.lines().position(|line| line == "collateral_factor = \"0.85\"").unwrap() + 1;
    let config = scratch("out-of-range.toml", &out_of_range);
    let output = exec(&script, &config, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!("out-of-range.toml:{line}: lending[0].collateral_factor: ")),
        "{stderr}"
    );
}

#[test]
fn missing_files_exit_2() {
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-file.script");
    let output = exec(&missing, &examples().join("venue.toml"), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(stderr.contains("cannot read script file") && stderr.contains("no-such-file.script"));

    let output = exec(&examples().join("crash.script"), &missing, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_contains(&output, "cannot read config file"));
}

fn stderr_contains(output: &Output, text: &str) -> bool {
    stderr_of(output).contains(text)
}

#[test]
fn usage_errors_exit_2() {
    let output = backstop(&[Path::new("exec")]);
    assert_eq!(output.status.code(), Some(2));
    let output = backstop(&[Path::new("frobnicate")]);
    assert_eq!(output.status.code(), Some(2));
}

const REJECTING: &str = "\
set_price asset=USDC price=1
open_account account=1
withdraw account=1 asset=USDC amount=5
deposit account=1 asset=USDC amount=5
";

#[test]
fn rejections_are_printed_and_the_run_goes_on() {
    let script = scratch("rejecting.script", REJECTING);
    let output = exec(&script, &examples().join("venue.toml"), &[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr_of(&output));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    let rejection = text.lines().nth(2).unwrap();
    assert_eq!(
        rejection,
        r#"{"line":3,"command":"withdraw","rejection":"insufficient_balance","code":8,"message":"rejected (8): account 1 holds 0 of asset 0 but 5 is needed","account":1,"asset":"USDC","available":"0","needed":"5"}"#
    );
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[3]["event"], "deposited");
    let summary = summary(&lines);
    assert_eq!(
        (&summary["commands_applied"], &summary["commands_rejected"]),
        (&3.into(), &1.into())
    );
}

#[test]
fn fail_on_rejection_exits_3_after_printing_the_rejection() {
    let script = scratch("fail-on-rejection.script", REJECTING);
    let output = exec(&script, &examples().join("venue.toml"), &["--fail-on-rejection"]);
    assert_eq!(output.status.code(), Some(3));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 3, "stops at the rejection, no summary");
    assert_eq!(lines[2]["rejection"], "insufficient_balance");
    assert_eq!(lines[2]["code"], 8);
    let stderr = stderr_of(&output);
    assert!(stderr.contains("fail-on-rejection.script:3: withdraw: rejected (8)"), "{stderr}");

    // Without a rejection the flag changes nothing.
    let output = exec(
        &examples().join("crash.script"),
        &examples().join("venue.toml"),
        &["--fail-on-rejection"],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, exec_example("crash.script").stdout);
}

#[test]
fn applied_command_without_events_still_prints_a_line() {
    let script = scratch("quiet.script", "accrue_interest asset=USDC\n");
    let output = exec(&script, &examples().join("venue.toml"), &[]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        r#"{"line":1,"command":"accrue_interest","event":null}"#
    );
}

/// The safety-net example: a crash through an Aave Umbrella style venue is paid by the treasury
/// offset (300) and then the stakers (700), exactly.
#[test]
fn umbrella_crash_is_paid_by_the_offset_then_the_stakers() {
    let output = exec(
        &examples().join("umbrella-crash.script"),
        &examples().join("aave-umbrella.toml"),
        &[],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let paid: Vec<(String, String)> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|value| value["event"] == "layer_paid")
        .map(|value| {
            (
                value["layer"].as_str().unwrap().to_owned(),
                value["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        paid,
        vec![
            ("offset:treasury".to_owned(), "300".to_owned()),
            ("stakers:stkwaUSDC".to_owned(), "700".to_owned())
        ]
    );
}

/// The claims and governance examples run through the real binary with no rejection.
#[test]
fn claims_and_governance_examples_run_clean() {
    for (script, venue) in
        [("exploit-claims.script", "exploit-claims.toml"), ("governance.script", "governance.toml")]
    {
        let output =
            exec(&examples().join(script), &examples().join(venue), &["--fail-on-rejection"]);
        assert!(output.status.success(), "{script}: {}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(summary["summary"]["commands_rejected"], 0, "{script}");
        assert!(summary["summary"]["state_hash"].as_str().unwrap().len() == 64);
    }
}
