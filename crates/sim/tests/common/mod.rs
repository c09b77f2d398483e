//! Shared fixtures of the simulator tests: a small lending venue, positions files and scenarios
//! written into a fresh temporary directory.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, missing_docs)]

use backstop_sim::scenario::{Scenario, load};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// USDC and ETH lending markets without interest; USDC debts close in full (close factor 1);
/// a USDC waterfall fund → offset → socialise.
pub const VENUE: &str = r#"
[[asset]]
symbol = "USDC"
decimals = 6
[[asset]]
symbol = "ETH"
decimals = 18
[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
close_factor = "1"
[lending.rate]
slope1 = "0"
kink = "0.9"
slope2 = "0"
[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"
[[fund]]
name = "insurance"
asset = "USDC"
[[offset]]
name = "treasury"
asset = "USDC"
[[waterfall]]
market = "USDC"
layers = ["fund:insurance", "offset:treasury", "socialize"]
"#;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory holding `files` (name, contents); returns its path.
pub fn directory(files: &[(&str, &str)]) -> PathBuf {
    let unique = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir =
        std::env::temp_dir().join(format!("backstop-sim-test-{}-{unique}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents).unwrap();
    }
    dir
}

/// Writes `venue.toml` ([`VENUE`] unless given), `positions.csv` and `scenario.toml` and loads the
/// scenario.
pub fn scenario(scenario: &str, positions: &str) -> Scenario {
    scenario_with_venue(scenario, positions, VENUE)
}

/// As [`scenario`] with another venue.
pub fn scenario_with_venue(scenario: &str, positions: &str, venue: &str) -> Scenario {
    let dir = directory(&[
        ("venue.toml", venue),
        ("positions.csv", positions),
        ("scenario.toml", scenario),
    ]);
    load(&dir.join("scenario.toml")).unwrap()
}

/// One borrower: 10 ETH against 12,000 USDC (health 1.375 at 2,000).
pub const ONE_BORROWER: &str = "\
account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size
alice,borrower,ETH,10,USDC,12000,,
";

/// A scenario with the venue and positions above, ETH through `points` (hourly steps), and
/// `extra` TOML appended (keepers, market, events, funding).
pub fn crash(points: &str, steps: u32, extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "crash"

[venue]
path = "venue.toml"

[run]
steps = {steps}
step_secs = 3600
paths = 1
seed = 7

[[prices.asset]]
asset = "ETH"
source = "waypoints"
points = {points}

[[prices.asset]]
asset = "USDC"
source = "constant"
price = 1.0

[[population]]
kind = "csv"
csv = "positions.csv"

{extra}
"#
    )
}
