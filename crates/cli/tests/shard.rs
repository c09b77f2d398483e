//! End-to-end tests of sharded runs: `backstop simulate --shard K/N` and `backstop merge`,
//! running the real binary on the shipped Black Thursday scenario (its waypoints are bridged by a
//! seeded Brownian bridge, so every path differs).
#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory of its own for each test, holding a copy of the scenario and its venue
/// laid out as in the repository (`scenarios/…` naming `venues/maker-2020.toml`).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shard-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in ["scenarios/black-thursday-2020.toml", "scenarios/venues/maker-2020.toml"] {
        let target = dir.join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(root.join(file), target).unwrap();
    }
    dir
}

const SCENARIO: &str = "scenarios/black-thursday-2020.toml";

fn command(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backstop"));
    command.args(args).current_dir(dir).env_remove("CI");
    command
}

fn backstop(args: &[&str], dir: &Path) -> Output {
    command(args, dir).output().unwrap()
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn four_shard_processes_merge_into_the_single_run_byte_for_byte() {
    let dir = scratch("four");
    let single = backstop(&["simulate", SCENARIO, "--paths", "8", "--out", "single"], &dir);
    assert!(single.status.success(), "{}", stderr_of(&single));
    // Four processes at once, as four machines would run them.
    let children: Vec<_> = (1..=4)
        .map(|k| {
            let (shard, out) = (format!("{k}/4"), format!("shard-{k}"));
            let args = ["simulate", SCENARIO, "--paths", "8", "--shard", &shard, "--out", &out];
            command(&args, &dir).stdout(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
    }
    let partial: Value = serde_json::from_slice(&read(&dir.join("shard-2/partial.json"))).unwrap();
    assert_eq!(partial["schema"], "backstop.partial/1");
    let paths: Vec<u64> = partial["run"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|path| path["path"].as_u64().unwrap())
        .collect();
    assert_eq!(paths, vec![1, 5], "shard 2/4 of 8 paths runs p mod 4 = 1");
    // Given in any order.
    let merged =
        backstop(&["merge", "shard-3", "shard-1", "shard-4", "shard-2", "--out", "merged"], &dir);
    assert!(merged.status.success(), "{}", stderr_of(&merged));
    assert_eq!(read(&dir.join("merged/summary.json")), read(&dir.join("single/summary.json")));
    let summary: Value = serde_json::from_slice(&read(&dir.join("merged/summary.json"))).unwrap();
    assert_eq!(summary["run"]["paths"], 8);
    assert_eq!(summary["paths"].as_array().unwrap().len(), 8);
    for chart in std::fs::read_dir(dir.join("single/charts")).unwrap() {
        let name = chart.unwrap().file_name();
        let (a, b) = (dir.join("single/charts").join(&name), dir.join("merged/charts").join(&name));
        assert_eq!(read(&a), read(&b), "{name:?}");
    }
    // The reports differ only in the row naming the command that wrote them.
    let lines = |path: &Path| -> Vec<String> {
        String::from_utf8(read(path))
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with("| command line |"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(lines(&dir.join("merged/report.md")), lines(&dir.join("single/report.md")));
}

#[test]
fn merge_refuses_partials_of_different_runs_and_missing_or_repeated_shards() {
    let dir = scratch("refuse");
    let shard = |out: &str, shard: &str, extra: &[&str]| {
        let mut args = vec!["simulate", SCENARIO, "--shard", shard, "--out", out];
        args.extend_from_slice(if extra.contains(&"--paths") { &[] } else { &["--paths", "4"] });
        args.extend_from_slice(extra);
        let output = backstop(&args, &dir);
        assert!(output.status.success(), "{}", stderr_of(&output));
    };
    shard("a1", "1/2", &[]);
    shard("a2", "2/2", &[]);
    shard("seed", "2/2", &["--seed", "7"]);
    shard("paths", "2/2", &["--paths", "6"]);
    shard("three", "2/3", &[]);
    let refused = |dirs: &[&str], expected: &str| {
        let mut args = vec!["merge"];
        args.extend_from_slice(dirs);
        args.extend_from_slice(&["--out", "merged"]);
        let output = backstop(&args, &dir);
        assert_eq!(output.status.code(), Some(2), "{dirs:?}");
        let stderr = stderr_of(&output);
        assert!(stderr.starts_with("error: ") && stderr.contains(expected), "{dirs:?}: {stderr}");
        assert!(!dir.join("merged").exists(), "a refused merge writes nothing");
    };
    refused(&["a1"], "missing shard(s) 2/2");
    refused(&["a1", "a1", "a2"], "shard 1/2 is given twice");
    refused(&["a1", "seed"], "their seed differ");
    refused(&["a1", "paths"], "their paths differ");
    refused(&["a1", "three"], "their shard count differ");
    refused(&["a1", "nowhere"], "nowhere/partial.json: cannot read");
    // An edited scenario (one comment added) is a different run.
    let file = dir.join(SCENARIO);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("# edited\n{text}")).unwrap();
    shard("edited", "2/2", &[]);
    refused(&["a1", "edited"], "their input files (scenario, venue, prices digest) differ");
    let merged = backstop(&["merge", "a2", "a1", "--out", "merged"], &dir);
    assert!(merged.status.success(), "{}", stderr_of(&merged));
    // Bad --shard values and a shard without --out are refused before anything runs.
    for args in [
        &["simulate", SCENARIO, "--shard", "0/4", "--out", "x"][..],
        &["simulate", SCENARIO, "--shard", "5/4", "--out", "x"],
        &["simulate", SCENARIO, "--shard", "1/4"],
        &["simulate", SCENARIO, "--paths", "2", "--shard", "1/4", "--out", "x"],
    ] {
        let output = backstop(args, &dir);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr_of(&output));
    }
}
