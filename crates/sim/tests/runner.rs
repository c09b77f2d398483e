//! The runner against hand-computed cases: one borrower and one crash give an exact deficit,
//! exact layer payments and an exact liquidated volume; keeper outages, price impact cascades,
//! exploits and governance delays change outcomes as they should; the same seed gives the same
//! result on any number of threads.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_sim::runner::{RunOptions, RunResult, run};
use common::{ONE_BORROWER, crash, scenario};

fn run_default(scenario: &backstop_sim::scenario::Scenario) -> RunResult {
    run(scenario, &RunOptions::default()).unwrap()
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-6 * expected.abs().max(1.0)
}

/// ETH falls from 2,000 to 1,000 in one hour. The borrower (10 ETH, 12,000 USDC debt) is at
/// health 8,250 / 12,000 = 0.6875 and loan-to-value 1.2 > 1/1.05, so no bonus is paid: the keeper
/// repays what the collateral is worth (10,000 USDC) and seizes all 10 ETH. The 2,000 USDC left
/// is bad debt: the fund pays its 500, the offset its 1,000, suppliers the last 500.
#[test]
fn one_borrower_one_crash_gives_the_hand_computed_deficit_and_payments() {
    let extra = r#"
[[funding]]
layer = "fund:insurance"
amount = 500

[[funding]]
layer = "offset:treasury"
amount = 1000
"#;
    let scenario = scenario(&crash("[[0, 2000.0], [3600, 1000.0]]", 3, extra), ONE_BORROWER);
    let result = run_default(&scenario);
    let path = &result.paths[0];
    assert_eq!(path.liquidations, 1);
    assert!(close(path.liquidated_volume, 10_000.0), "{}", path.liquidated_volume);
    assert!(close(path.deficit_created, 2_000.0), "{}", path.deficit_created);
    assert!(close(path.paid_by_layer["fund:insurance"], 500.0));
    assert!(close(path.paid_by_layer["offset:treasury"], 1_000.0));
    assert!(close(path.paid_by_layer["socialize"], 500.0));
    assert!(close(path.socialized, 500.0));
    assert_eq!(path.uncovered_at_end, 0.0);
    assert_eq!(path.fund_min, 0.0);
    assert_eq!(path.time_to_recover_secs, Some(0), "covered in the step it appeared");
    assert!(path.exhausted["fund:insurance"] && path.exhausted["offset:treasury"]);
    assert!(!path.exhausted["socialize"]);
    assert!(close(path.loss_beyond["fund:insurance"], 1_500.0));
    assert!(close(path.loss_beyond["offset:treasury"], 500.0));
    assert_eq!(path.loss_beyond["socialize"], 0.0);
    assert_eq!(path.rejections, 0);
    assert_eq!(result.summary.exhaustion_probability["fund:insurance"], 1.0);
    assert_eq!(result.summary.loss_beyond_probability["socialize"], 0.0);
    // The trace of path 0: four steps, the crash in the ETH price, the fund drained.
    let trace = &result.traces[0];
    assert_eq!(trace.times, vec![0, 3600, 7200, 10800]);
    assert_eq!(trace.prices["ETH"], vec![2000.0, 1000.0, 1000.0, 1000.0]);
    assert_eq!(trace.layer_balances["fund:insurance"], vec![500.0, 0.0, 0.0, 0.0]);
    assert_eq!(trace.paid_cumulative["offset:treasury"], vec![0.0, 1000.0, 1000.0, 1000.0]);
}

/// ETH slides 2,000 → 1,600 → 1,400 → 1,000 → 800. At 1,400 the borrower is liquidatable with
/// loan-to-value 0.857: a keeper repays all 12,000 and seizes 9 ETH (5% bonus), no deficit. With
/// keepers down for steps 1–3, the first liquidation comes at 800: collateral worth 8,000 against
/// 12,000 of debt, a 4,000 deficit.
#[test]
fn a_keeper_outage_creates_a_deficit_the_same_run_without_it_does_not() {
    let points = "[[0, 2000.0], [3600, 1600.0], [7200, 1400.0], [10800, 1000.0], [14400, 800.0]]";
    let healthy = run_default(&scenario(&crash(points, 5, ""), ONE_BORROWER));
    let path = &healthy.paths[0];
    assert_eq!(path.liquidations, 1);
    assert!(close(path.liquidated_volume, 12_000.0));
    assert_eq!(path.deficit_created, 0.0);
    assert_eq!(path.time_to_recover_secs, None, "no deficit");

    let outage = "[keepers]\noutages = [[1, 4]]\n";
    let down = run_default(&scenario(&crash(points, 5, outage), ONE_BORROWER));
    let path = &down.paths[0];
    assert_eq!(path.liquidations, 1);
    assert!(close(path.liquidated_volume, 8_000.0));
    assert!(close(path.deficit_created, 4_000.0), "{}", path.deficit_created);
    assert!(close(path.paid_by_layer["socialize"], 4_000.0));
}

/// A keeper latency of two steps delays the same liquidation to 800, as the outage does.
#[test]
fn keeper_latency_delays_liquidations() {
    let points = "[[0, 2000.0], [3600, 1600.0], [7200, 1400.0], [10800, 1000.0], [14400, 800.0]]";
    let late =
        run_default(&scenario(&crash(points, 5, "[keepers]\nlatency_steps = 2\n"), ONE_BORROWER));
    assert!(close(late.paths[0].deficit_created, 4_000.0), "{}", late.paths[0].deficit_created);
}

/// Twenty borrowers (10 ETH each) whose health at 1,900 runs from 0.99 to 1.18. ETH falls to 1,900
/// and stays there: without price impact only the first is liquidated; with a thin market each
/// liquidation's sale pushes ETH down and makes the next borrowers liquidatable.
#[test]
fn price_impact_makes_liquidations_cascade() {
    let mut positions = String::from(
        "account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size\n",
    );
    for index in 0..20 {
        let health = 0.99 + 0.01 * f64::from(index);
        let debt = (15_675.0 / health).floor();
        positions.push_str(&format!("b{index},borrower,ETH,10,USDC,{debt},,\n"));
    }
    let points = "[[0, 2000.0], [3600, 1900.0]]";
    let calm = run_default(&scenario(&crash(points, 24, ""), &positions));
    assert_eq!(calm.paths[0].liquidations, 1);
    let thin = "[market]\ndepth = [[\"ETH\", 10000.0]]\nimpact_decay = 0.0\n";
    let cascade = run_default(&scenario(&crash(points, 24, thin), &positions));
    let path = &cascade.paths[0];
    assert!(path.liquidations >= 10, "only {} liquidations", path.liquidations);
    let eth = &cascade.traces[0].prices["ETH"];
    assert!(eth[24] < 1800.0, "the sales pushed ETH down: {}", eth[24]);
    assert!(eth.windows(2).all(|pair| pair[1] <= pair[0]), "{eth:?}");
}

/// An oracle delay of two steps keeps the crash out of the oracle for two steps, so the
/// liquidation happens two steps later (at the same oracle price).
#[test]
fn the_oracle_delay_shifts_prices() {
    let result = run_default(&scenario(
        &crash("[[0, 2000.0], [3600, 1000.0]]", 4, "[market]\noracle_delay_steps = 2\n"),
        ONE_BORROWER,
    ));
    assert_eq!(result.traces[0].prices["ETH"], vec![2000.0, 2000.0, 2000.0, 1000.0, 1000.0]);
    assert!(close(result.paths[0].deficit_created, 2_000.0));
}

/// An exploit drains 700 USDC at step 2: the fund pays 500, the offset 200.
#[test]
fn an_exploit_is_a_deficit_that_walks_the_waterfall() {
    let extra = r#"
[[events]]
kind = "exploit"
step = 2
market = "USDC"
amount = 700

[[funding]]
layer = "fund:insurance"
amount = 500

[[funding]]
layer = "offset:treasury"
amount = 1000
"#;
    let result = run_default(&scenario(&crash("[[0, 2000.0]]", 3, extra), ONE_BORROWER));
    let path = &result.paths[0];
    assert_eq!(path.liquidations, 0);
    assert!(close(path.deficit_created, 700.0));
    assert!(close(path.paid_by_layer["fund:insurance"], 500.0));
    assert!(close(path.paid_by_layer["offset:treasury"], 200.0));
    assert!(path.exhausted["fund:insurance"]);
    assert!(!path.exhausted["offset:treasury"]);
    assert!(close(path.loss_beyond["fund:insurance"], 200.0));
    assert_eq!(path.loss_beyond["offset:treasury"], 0.0);
}

/// A venue whose USDC deficits go to the fund, then to recapitalisation auctions that need a
/// governance approval.
const RECAP_VENUE: &str = r#"
[[asset]]
symbol = "USDC"
decimals = 6
[[asset]]
symbol = "ETH"
decimals = 18
[[asset]]
symbol = "GOV"
decimals = 18
[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
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
[recap]
token = "GOV"
lot = "1000"
bid = "100"
restart_secs = 3600
requires_approval = true
[[waterfall]]
market = "USDC"
layers = ["fund:insurance", "recap"]
"#;

/// An exploit of 700 at step 1 with 500 in the fund leaves 200 for two recapitalisation auctions;
/// governance approves them three steps later, when they are filled: the market recovers after
/// three steps. Without the delay it recovers in the step of the exploit.
#[test]
fn a_governance_delay_postpones_recapitalisation() {
    let events = |delay: &str| {
        format!(
            r#"
[[events]]
kind = "exploit"
step = 1
market = "USDC"
amount = 700
{delay}
[[funding]]
layer = "fund:insurance"
amount = 500
"#
        )
    };
    let run_with = |delay: &str| {
        let text = crash("[[0, 2000.0]]", 6, &events(delay));
        run_default(&common::scenario_with_venue(&text, ONE_BORROWER, RECAP_VENUE))
    };
    let prompt = run_with("");
    let path = &prompt.paths[0];
    assert!(close(path.paid_by_layer["recap"], 200.0));
    assert_eq!(path.time_to_recover_secs, Some(0));
    let delayed = run_with("[[events]]\nkind = \"governance_delay\"\nstep = 0\ndelay_steps = 3\n");
    let path = &delayed.paths[0];
    assert!(close(path.paid_by_layer["recap"], 200.0));
    assert_eq!(path.time_to_recover_secs, Some(3 * 3600));
    assert_eq!(path.uncovered_at_end, 0.0);
    let pending: Vec<f64> = delayed.traces[0].paid_cumulative["recap"].clone();
    assert_eq!(pending, vec![0.0, 0.0, 0.0, 0.0, 200.0, 200.0, 200.0]);
}

/// A pool run: at step 1 every staker queues half of its shares; after the one-step cooldown the
/// withdrawals complete, so an exploit of 800 at step 3 finds 500 in the pool: the stakers pay
/// 500 (half of what they had) and suppliers the other 300. Without the run the pool pays all 800.
#[test]
fn a_pool_run_empties_the_staker_pool_before_a_loss() {
    let venue = format!(
        "{}\n[[staker_pool]]\nname = \"backstop\"\nasset = \"USDC\"\ncooldown_secs = 3600\n",
        common::VENUE.replace(
            "layers = [\"fund:insurance\", \"offset:treasury\", \"socialize\"]",
            "layers = [\"fund:insurance\", \"stakers:backstop\", \"socialize\"]"
        )
    );
    let positions = format!("{ONE_BORROWER}carol,staker,USDC,1000,,,backstop,\n");
    let exploit = "[[events]]\nkind = \"exploit\"\nstep = 3\nmarket = \"USDC\"\namount = 800\n";
    let run_on = |extra: &str| {
        let text = crash("[[0, 2000.0]]", 4, &format!("{exploit}\n{extra}"));
        run_default(&common::scenario_with_venue(&text, &positions, &venue))
    };
    let stay = run_on("");
    let path = &stay.paths[0];
    assert!(close(path.paid_by_layer["stakers:backstop"], 800.0));
    assert!(close(path.staker_loss_share, 0.8), "{}", path.staker_loss_share);
    let run =
        run_on("[[events]]\nkind = \"pool_run\"\nstep = 1\npool = \"backstop\"\nshare = 0.5\n");
    let path = &run.paths[0];
    assert_eq!(path.rejections, 0);
    assert!(close(path.paid_by_layer["stakers:backstop"], 500.0));
    assert!(close(path.paid_by_layer["socialize"], 300.0));
    assert!(close(path.staker_loss_share, 0.5), "{}", path.staker_loss_share);
    assert!(path.exhausted["stakers:backstop"]);
}

fn random_scenario(seed: u64) -> backstop_sim::scenario::Scenario {
    let text = format!(
        r#"
[scenario]
name = "random"

[venue]
path = "venue.toml"

[run]
steps = 48
step_secs = 3600
paths = 6
seed = {seed}

[[prices.asset]]
asset = "ETH"
source = "gbm"
price = 2000.0
volatility = 3.0

[[population]]
kind = "borrowers"
count = 60
collateral = "ETH"
asset = "USDC"
size = {{ dist = "lognormal", median = 20000.0, sigma = 1.0 }}
health = {{ dist = "uniform", min = 1.02, max = 1.4 }}

[keepers]
count = 2
capacity_per_step = 3

[market]
depth = [["ETH", 2000000.0]]

[[funding]]
layer = "fund:insurance"
amount = 1000
"#
    );
    scenario(
        &text,
        "account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size\n",
    )
}

/// Same seed, one thread or two: byte-identical results. Another seed: other paths.
#[test]
fn the_same_seed_gives_identical_results_whatever_the_thread_count() {
    let scenario = random_scenario(11);
    let with_threads = |threads: usize| {
        let options =
            RunOptions { threads: Some(threads), trace_paths: 2, ..RunOptions::default() };
        serde_json::to_string(&run(&scenario, &options).unwrap()).unwrap()
    };
    let one = with_threads(1);
    let two = with_threads(2);
    assert_eq!(one, two);
    let result = run(&scenario, &RunOptions::default()).unwrap();
    assert!(result.paths.iter().any(|path| path.liquidations > 0), "the paths liquidate");
    let other = run(&random_scenario(12), &RunOptions::default()).unwrap();
    assert_ne!(result.traces[0].prices["ETH"], other.traces[0].prices["ETH"]);
    assert_ne!(serde_json::to_string(&result).unwrap(), serde_json::to_string(&other).unwrap());
    // Paths of one run differ from each other too.
    assert_ne!(result.paths[0], result.paths[1]);
}

/// Options override the scenario's paths and seed, and count finished paths.
#[test]
fn options_override_paths_and_seed() {
    let scenario = random_scenario(11);
    let done = std::sync::atomic::AtomicU32::new(0);
    let on_done = || {
        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    let options = RunOptions {
        paths: Some(3),
        seed: Some(5),
        trace_paths: 0,
        on_path_done: Some(&on_done),
        ..RunOptions::default()
    };
    let result = run(&scenario, &options).unwrap();
    assert_eq!((result.paths.len(), result.seed, result.traces.len()), (3, 5, 0));
    assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(result.summary.paths, 3);
}

/// Bad values are reported with file, line and key before any run.
#[test]
fn bad_scenarios_name_file_line_and_key() {
    let dir = common::directory(&[("venue.toml", common::VENUE), ("positions.csv", ONE_BORROWER)]);
    // `needle` is the text of the offending line.
    let check = |extra: &str, expected_key: &str, needle: &str| {
        let text = crash("[[0, 2000.0]]", 3, extra);
        let path = dir.join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let error = backstop_sim::scenario::load(&path).unwrap_err();
        let line = text.lines().position(|line| line.trim() == needle).unwrap() + 1;
        let expected = format!("{}:{line}: {expected_key}", path.display());
        assert_eq!(error.location, expected, "{error}");
    };
    check(
        "[keepers]\ncapacity_per_step = 0\n",
        "keepers.capacity_per_step",
        "capacity_per_step = 0",
    );
    check("[market]\nimpact_decay = 1.5\n", "market.impact_decay", "impact_decay = 1.5");
    check("[[events]]\nkind = \"meteor\"\n", "events[0].kind", "kind = \"meteor\"");
    check(
        "[[events]]\nkind = \"depeg\"\nasset = \"USDC\"\nprice = 0.9\n[[events]]\nkind = \"exploit\"\nmarket = \"ETHX\"\namount = 1.0\n",
        "events[1].market",
        "market = \"ETHX\"",
    );
    check(
        "[[funding]]\nlayer = \"fund:nope\"\namount = 1.0\n",
        "funding[0].layer",
        "layer = \"fund:nope\"",
    );
    check("[keepers]\noutages = [[5, 2]]\n", "keepers.outages", "outages = [[5, 2]]");
    let text = crash("[[0, 2000.0]]", 3, "").replace("steps = 3", "steps = 0");
    let path = dir.join("steps.toml");
    std::fs::write(&path, &text).unwrap();
    let error = backstop_sim::scenario::load(&path).unwrap_err();
    assert!(error.location.ends_with(": run.steps"), "{error}");
    // A venue problem names the venue file and its line.
    let bad_venue = common::VENUE
        .replace("liquidation_threshold = \"0.90\"", "liquidation_threshold = \"1.5\"");
    std::fs::write(dir.join("venue.toml"), bad_venue).unwrap();
    let path = dir.join("venue-bad.toml");
    std::fs::write(&path, crash("[[0, 2000.0]]", 3, "")).unwrap();
    let error = backstop_sim::scenario::load(&path).unwrap_err();
    assert!(error.location.contains("venue.toml:"), "{error}");
    assert!(error.location.ends_with("lending[0].liquidation_threshold"), "{error}");
}

/// A perpetual venue: ETH-PERP settled in USDC, deficits to the fund then auto-deleveraging.
const PERP_VENUE: &str = r#"
[[asset]]
symbol = "USDC"
decimals = 6
[[asset]]
symbol = "ETH"
decimals = 18
[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "100000"
[[fund]]
name = "insurance"
asset = "USDC"
[[waterfall]]
market = "ETH-PERP"
layers = ["fund:insurance", "adl:rank"]
"#;

/// A trader long 10 ETH at 2,000 on 2,500 USDC; ETH falls to 1,500: equity −2,500. The fund pays
/// its 1,000 and auto-deleveraging the other 1,500, taken from the maker's profit.
#[test]
fn a_bankrupt_position_goes_through_the_fund_then_auto_deleveraging() {
    let positions = "\
account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size
bob,trader,USDC,2500,,,ETH-PERP,10
";
    let extra = "[[funding]]\nlayer = \"fund:insurance\"\namount = 1000\n";
    let text = crash("[[0, 2000.0], [3600, 1500.0]]", 2, extra);
    let result = run_default(&common::scenario_with_venue(&text, positions, PERP_VENUE));
    let path = &result.paths[0];
    assert_eq!(path.liquidations, 1);
    assert!(close(path.paid_by_layer["fund:insurance"], 1_000.0));
    assert!((path.paid_by_layer["adl:rank"] - 1_500.0).abs() < 0.01, "{:?}", path.paid_by_layer);
    assert!((path.adl_haircut_total - 1_500.0).abs() < 0.01, "{}", path.adl_haircut_total);
    assert!((path.adl_haircut_max - 1_500.0).abs() < 0.01);
    assert!((path.deficit_created - 2_500.0).abs() < 0.01, "{}", path.deficit_created);
    assert!(close(path.liquidated_volume, 15_000.0), "{}", path.liquidated_volume);
    assert!(path.exhausted["fund:insurance"]);
    assert_eq!(path.uncovered_at_end, 0.0);
    assert!(path.loss_beyond["adl:rank"] < 0.01);
}

/// Maker-style: DAI debt liquidated by Dutch auction (buf 1.1, ×0.99 every 90 s), deficits to
/// the surplus fund then recapitalisation (MKR minted).
const MAKER_VENUE: &str = r#"
[[asset]]
symbol = "DAI"
decimals = 18
[[asset]]
symbol = "ETH"
decimals = 18
[[asset]]
symbol = "MKR"
decimals = 18
[[lending]]
asset = "DAI"
collateral_factor = "0"
liquidation_threshold = "0"
liquidation_bonus = "0"
[lending.rate]
slope1 = "0"
kink = "0.90"
slope2 = "0"
[lending.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 90
cut = "0.99"
tail_secs = 7200
cusp = "0.45"
penalty = "0.13"
[[lending]]
asset = "ETH"
collateral_factor = "0.66"
liquidation_threshold = "0.69"
liquidation_bonus = "0"
borrow_enabled = false
[lending.rate]
slope1 = "0"
kink = "0.80"
slope2 = "0"
[[fund]]
name = "surplus"
asset = "DAI"
[recap]
token = "MKR"
lot = "250"
bid = "50000"
restart_secs = 259200
[[waterfall]]
market = "DAI"
layers = ["fund:surplus", "recap"]
"#;

/// ETH falls to 1,500: the vault (10 ETH, 12,000 DAI) is liquidated and its 10 ETH auctioned from
/// 1,650. An hour later (40 cuts) the price is 1,650 × 0.99^40 ≈ 1,103.8, below the oracle: a
/// keeper buys the whole lot for ≈ 11,038 DAI; the ≈ 962 DAI unraised is bad debt, which the empty
/// surplus fund passes to a recapitalisation auction, filled at once.
#[test]
fn dutch_auctions_are_taken_below_the_oracle_and_leave_their_shortfall_to_recap() {
    let positions = "\
account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size
vault,borrower,ETH,10,DAI,12000,,
";
    let text = crash("[[0, 2000.0], [3600, 1500.0]]", 3, "").replace(
        "asset = \"USDC\"\nsource = \"constant\"",
        "asset = \"DAI\"\nsource = \"constant\"",
    );
    let result = run_default(&common::scenario_with_venue(&text, positions, MAKER_VENUE));
    let path = &result.paths[0];
    let paid = 10.0 * 1650.0 * 0.99_f64.powi(40);
    assert_eq!(path.liquidations, 1, "one liquidation starts the auction");
    assert!((path.liquidated_volume - paid).abs() < 0.01, "{}", path.liquidated_volume);
    assert!((path.deficit_created - (12_000.0 - paid)).abs() < 0.01, "{}", path.deficit_created);
    assert!((path.paid_by_layer["recap"] - (12_000.0 - paid)).abs() < 0.01);
    assert_eq!(path.uncovered_at_end, 0.0);
    assert!(path.exhausted["fund:surplus"]);
    assert_eq!(path.rejections, 0);
}

/// A scenario on one of the example venues, with borrowers of `collateral` against `debt`.
fn example_scenario(venue: &str, collateral: &str, debt: &str, extra: &str) -> String {
    let venue = format!("{}/../../examples/{venue}", env!("CARGO_MANIFEST_DIR"));
    format!(
        r#"
[scenario]
name = "example"

[venue]
path = "{venue}"

[run]
steps = 6
step_secs = 3600
paths = 2
seed = 3

[[prices.asset]]
asset = "{collateral}"
source = "waypoints"
points = [[0, 2000.0], [7200, 1000.0]]

[[population]]
kind = "borrowers"
count = 20
collateral = "{collateral}"
asset = "{debt}"
size = {{ dist = "uniform", min = 1000.0, max = 50000.0 }}
health = {{ dist = "uniform", min = 1.05, max = 1.6 }}

{extra}
"#
    )
}

/// Compound-style takeover: the backstop account named by the venue is opened as a backstop
/// account and takes over every liquidated account; nothing is refused.
#[test]
fn takeovers_go_to_the_venues_backstop_account() {
    let text = example_scenario("compound-v3.toml", "WETH", "USDC", "");
    let result = run_default(&scenario(&text, ONE_BORROWER));
    for path in &result.paths {
        assert!(path.liquidations > 0);
        assert!(path.liquidated_volume > 0.0);
        assert_eq!(path.rejections, 0);
    }
}

/// Liquity-style: debts are offset against the stability pool, which the population fills.
#[test]
fn stability_pool_liquidations_offset_debt() {
    let extra = r#"
[[population]]
kind = "stability"
count = 10
pool = "bold-weth"
size = { dist = "fixed", value = 100000.0 }
"#;
    let text = example_scenario("liquity-v2.toml", "WETH", "BOLD", extra);
    let result = run_default(&scenario(&text, ONE_BORROWER));
    for path in &result.paths {
        assert!(path.liquidations > 0);
        assert!(path.liquidated_volume > 0.0);
        assert_eq!(path.deficit_created, 0.0, "the pool absorbs everything");
        assert_eq!(path.rejections, 0);
    }
}

/// An inline venue's problems are located in the scenario file.
#[test]
fn inline_venue_problems_name_the_scenario_line() {
    let inline = r#"
[scenario]
name = "inline"

[venue.inline]
[[venue.inline.asset]]
symbol = "USDC"
decimals = 6
[[venue.inline.asset]]
symbol = "ETH"
decimals = 18
[[venue.inline.lending]]
asset = "ETH"
collateral_factor = "0.9"
liquidation_threshold = "0.8"
liquidation_bonus = "0.05"
[venue.inline.lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"

[[prices.asset]]
asset = "ETH"
source = "constant"
price = 2000.0
"#;
    let dir = common::directory(&[("inline.toml", inline)]);
    let path = dir.join("inline.toml");
    let error = backstop_sim::scenario::load(&path).unwrap_err();
    assert_eq!(
        error.location,
        format!("{}:14: venue.inline.lending[0].collateral_factor", path.display()),
        "{error}"
    );
    let fixed = inline.replace("collateral_factor = \"0.9\"", "collateral_factor = \"0.7\"");
    std::fs::write(&path, fixed).unwrap();
    let scenario = backstop_sim::scenario::load(&path).unwrap();
    let result = run_default(&scenario);
    assert_eq!(result.paths.len(), 1);
    assert_eq!(result.traces[0].prices["ETH"].len(), 73, "72 steps by default");
}
