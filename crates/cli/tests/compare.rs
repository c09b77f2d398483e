//! End-to-end tests of `backstop compare`, running the real binary.
#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare-tests").join(name);
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

/// The simulator's three-account fixture (crates/sim/tests/fixtures/three-accounts): a lending
/// venue with a 300 USDC fund; alice's 800 USDC loan on 1 ETH goes bad when ETH is set to 480 at
/// step 1 (320 USDC deficit: crates/sim/tests/compare.rs works it out).
fn write_scenario(dir: &Path) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/tests/fixtures/three-accounts");
    for file in ["venue.toml", "positions.csv", "three.toml"] {
        std::fs::copy(fixture.join(file), dir.join(file)).unwrap();
    }
}

#[test]
fn writes_the_same_compare_json_for_one_and_two_threads() {
    let dir = scratch("threads");
    write_scenario(&dir);
    for (threads, out) in [("1", "one"), ("2", "two")] {
        let args = [
            "compare",
            "three.toml",
            "--designs",
            "blend,maker,drift",
            "--paths",
            "3",
            "--threads",
            threads,
            "--out",
            out,
        ];
        let output = backstop(&args, &dir);
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(stdout.contains("not applicable: perp design, but USDC is a lending market"));
        assert!(stdout.contains("compare.html"));
    }
    let one = std::fs::read(dir.join("one/compare.json")).unwrap();
    let two = std::fs::read(dir.join("two/compare.json")).unwrap();
    assert_eq!(one, two);
    let json: Value = serde_json::from_slice(&one).unwrap();
    assert_eq!(json["schema"], "backstop.compare/1");
    assert_eq!(json["designs"][1]["design"], "maker");
    assert_eq!(json["designs"][1]["paid"]["token_holders"]["mean"], 20.0);
    let html = std::fs::read_to_string(dir.join("one/compare.html")).unwrap();
    assert!(html.contains("id=\"chart-compare-paid\""));
    assert!(dir.join("one/charts/compare-tail.png").exists());
}

#[test]
fn an_unknown_design_is_refused_before_anything_runs() {
    let dir = scratch("unknown");
    write_scenario(&dir);
    let output = backstop(&["compare", "three.toml", "--designs", "blend,nexus"], &dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: --designs: unknown design \"nexus\"; known: blend,"),
        "{stderr}"
    );
    let output = backstop(&["compare", "three.toml", "--designs", "all", "--capital", "big"], &dir);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn as_configured_uses_each_presets_own_sizes() {
    let dir = scratch("as-configured");
    write_scenario(&dir);
    let args = ["compare", "three.toml", "--designs", "compound-v3", "--capital", "as-configured"];
    let output = backstop(&args, &dir);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    // Compound's 5,000,000 USDC reserves pay the whole 320.
    assert!(stdout.contains("compound-v3  fund:reserves  5,000,000     320.00"), "{stdout}");
}
