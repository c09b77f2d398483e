//! Golden outputs: `backstop exec` on every shipped example script, compared byte for byte with
//! the output checked in under tests/golden/ (events, rejections and the final state hash). A
//! change of rounding, event content or hashing shows here as a diff; when the change is meant,
//! rewrite the files with `BACKSTOP_BLESS=1 cargo nextest run -p backstop-cli --test golden` and
//! say why in the commit.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// (script, venue) pairs, as in each script's header.
const EXAMPLES: &[(&str, &str)] = &[
    ("crash.script", "venue.toml"),
    ("perp-crash.script", "venue.toml"),
    ("exploit-claims.script", "exploit-claims.toml"),
    ("governance.script", "governance.toml"),
    ("umbrella-crash.script", "aave-umbrella.toml"),
];

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn golden(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{script}.jsonl"))
}

fn exec(script: &str, venue: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_backstop"))
        .arg("exec")
        .arg(examples().join(script))
        .arg("--config")
        .arg(examples().join(venue))
        .output()
        .unwrap();
    assert!(output.status.success(), "{script}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_example_script_gives_its_golden_output() {
    let bless = std::env::var_os("BACKSTOP_BLESS").is_some();
    let mut differ = Vec::new();
    for (script, venue) in EXAMPLES {
        let output = exec(script, venue);
        let path = golden(script);
        if bless {
            std::fs::write(&path, &output).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        if output != expected {
            let line = output
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .map_or_else(|| "length".to_owned(), |at| format!("line {}", at + 1));
            differ.push(format!("{script} (first difference at {line})"));
        }
    }
    assert!(differ.is_empty(), "golden outputs differ: {differ:?}");
}

#[test]
fn golden_outputs_end_with_the_state_hash() {
    for (script, _) in EXAMPLES {
        let text = std::fs::read_to_string(golden(script)).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        let hash = last["summary"]["state_hash"].as_str().unwrap_or_default();
        assert_eq!(hash.len(), 64, "{script}: the summary line carries the state hash: {last}");
    }
}
