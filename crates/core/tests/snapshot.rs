//! Engine snapshots: `Engine::from_snapshot(engine.snapshot())`, through JSON, rebuilds an engine
//! with the same state hash (incremental and from scratch), the same derived data (liquidation
//! index entries, holder sets) and the same results and hashes on every later command; corrupt
//! snapshots are refused with the right typed error.
//!
//! Run with `cargo test -p backstop-core --test snapshot`.

use backstop_core::script::parse_script;
use backstop_core::snapshot::{EngineSnapshot, SNAPSHOT_FORMAT, SnapshotError};
use backstop_core::{AccountId, AssetId, Command, Engine, MarketRef, VenueConfig};
use backstop_money::Amount;
use backstop_testkit::generators::{self, Mix};
use backstop_testkit::{Checks, apply_checked, run_steps_with};
use proptest::prelude::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);

/// USDC, ETH and GOV; USDC and ETH lending (fixed bonus), an ETH perpetual settled in USDC, an
/// insurance fund and a staker pool behind USDC, a cover, claims and governance.
const VENUE: &str = r#"
[venue]
name = "snapshot"

[oracle]
max_staleness_secs = 1000000

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
reserve_factor = "0.10"
[lending.rate]
slope1 = "0.04"
kink = "0.90"
slope2 = "0.60"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
reserve_factor = "0.15"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "100000"
trading_fee = "0.0005"

[[fund]]
name = "insurance"
asset = "USDC"
fee_share = "0.5"

[[staker_pool]]
name = "stkUSDC"
asset = "USDC"
cooldown_secs = 86400

[[cover]]
name = "nexus"
asset = "USDC"
limit = "1000"
premium_rate = "0.01"

[[waterfall]]
market = "USDC"
layers = ["fund:insurance", "stakers:stkUSDC", "socialize"]

[claims]
assessors = [9]
filing_secs = 86400
assessment_secs = 86400
claim_cap = "5000"
payout_order = ["fund:insurance", "cover:nexus"]

[governance]
token = "GOV"
guardian = 8
quorum = "0.2"
approval = "0.5"
voting_secs = 100
timelock_secs = 50
expiry_secs = 1000000
proposal_threshold = "10"

[[governance.parameter]]
path = "lending.ETH.liquidation_bonus"
min = "0.02"
max = "0.10"
"#;

/// Accounts 1 (GOV holder), 2 (lender), 3 (borrower, liquidated with a deficit), 4 (staker),
/// 5 and 6 (perpetual traders), 7 (keeper), 8 (guardian), 9 (assessor). Ends with a deficit
/// covered by the fund and the staker pool, a queued unstake, an active proposal, an open
/// incident with a claim, and open perpetual positions.
const SCENARIO: &str = "
set_price asset=USDC price=1
set_price asset=ETH price=2000
set_price asset=GOV price=1
open_account account=1
open_account account=2
open_account account=3
open_account account=4
open_account account=5
open_account account=6
open_account account=7
open_account account=8
open_account account=9
deposit account=1 asset=GOV amount=100
deposit account=2 asset=USDC amount=100000
supply account=2 asset=USDC amount=100000
deposit account=3 asset=ETH amount=10
borrow account=3 asset=USDC amount=15000
withdraw account=3 asset=USDC amount=15000
deposit account=4 asset=USDC amount=20000
stake account=4 pool=stkUSDC amount=5000
donate account=4 layer=fund:insurance amount=1000
buy_cover cover=nexus fund=insurance term_secs=31536000
request_unstake account=4 pool=stkUSDC shares=1000
deposit account=5 asset=USDC amount=5000
deposit account=6 asset=USDC amount=5000
deposit account=7 asset=USDC amount=50000
advance_time now=3600
set_price asset=ETH price=1000
trade market=ETH-PERP taker=5 maker=6 size=2 price=1000
liquidate keeper=7 account=3 debt=USDC collateral=ETH amount=15000
propose proposer=1 action=set_parameter path=lending.ETH.liquidation_bonus value=0.08
vote voter=1 proposal=1 support=true
exploit asset=USDC amount=500
advance_time now=7200
declare_incident declarer=9 market=USDC loss_start=3600 loss_end=3600
file_claim account=2 incident=1 amount=400 evidence=0xabc
";

/// What follows the snapshot: interest, the proposal executed, the claim assessed and paid,
/// the unstake completed, price moves, trades, funding, a perpetual liquidation, rejections.
const CONTINUATION: &str = "
advance_time now=7300
queue proposal=1
advance_time now=7400
execute proposal=1
advance_time now=93700
assess_claim assessor=9 claim=1 approve=true approved_amount=300
advance_time now=180100
pay_claims incident=1
complete_unstake account=4 pool=stkUSDC
accrue_interest asset=USDC
accrue_funding market=ETH-PERP rate=0.001
set_price asset=ETH price=700
liquidate keeper=7 account=5 position=ETH-PERP amount=2
trade market=ETH-PERP taker=6 maker=7 size=1 price=700
settle_revenue asset=USDC
stake account=4 pool=stkUSDC amount=100
withdraw account=3 asset=USDC amount=1
borrow account=2 asset=ETH amount=1
recover_incident incident=1 amount=100
claim_rewards account=4 pool=stkUSDC
transfer from=1 to=2 asset=GOV amount=10
";

/// Stability-pool venue (Liquity): BOLD lent against ETH, liquidated into pool `sp`.
const STABILITY_VENUE: &str = r#"
[[asset]]
symbol = "BOLD"
decimals = 18
[[asset]]
symbol = "ETH"
decimals = 18

[[lending]]
asset = "BOLD"
collateral_factor = "0.5"
liquidation_threshold = "0.5"
liquidation_bonus = "0"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"
[lending.liquidation]
mode = "stability_pool"
pool = "sp"

[[lending]]
asset = "ETH"
collateral_factor = "0.9"
liquidation_threshold = "0.9"
liquidation_bonus = "0.10"
borrow_enabled = false
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"

[[stability_pool]]
name = "sp"
asset = "BOLD"
min_remaining = "1"

[[waterfall]]
market = "BOLD"
layers = ["stability:sp", "socialize"]
"#;

/// Supplier 1, keeper 2, borrowers 20 and 21, depositor 10; borrower 20 is liquidated into the
/// pool, which then holds ETH gains and a running sum for (scale 0, ETH).
const STABILITY_SCENARIO: &str = "
set_price asset=BOLD price=1
set_price asset=ETH price=4000
open_account account=1
open_account account=2
open_account account=10
open_account account=20
open_account account=21
deposit account=1 asset=BOLD amount=1000000
supply account=1 asset=BOLD amount=1000000
deposit account=20 asset=ETH amount=1
borrow account=20 asset=BOLD amount=3000
withdraw account=20 asset=BOLD amount=3000
deposit account=21 asset=ETH amount=2
borrow account=21 asset=BOLD amount=3000
withdraw account=21 asset=BOLD amount=3000
deposit account=10 asset=BOLD amount=5000
stability_deposit account=10 pool=sp amount=5000
set_price asset=ETH price=3000
liquidate keeper=2 account=20 debt=BOLD collateral=ETH amount=1
";

const STABILITY_CONTINUATION: &str = "
stability_withdraw account=10 pool=sp amount=100
set_price asset=ETH price=1600
liquidate keeper=2 account=21 debt=BOLD collateral=ETH amount=1
stability_claim account=10 pool=sp
deposit account=10 asset=BOLD amount=10
stability_deposit account=10 pool=sp amount=10
";

/// An engine for a venue written as TOML.
fn engine(toml: &str) -> Engine {
    let config = VenueConfig::from_toml_str(toml).unwrap_or_else(|error| panic!("venue: {error}"));
    Engine::new(config).unwrap_or_else(|error| panic!("engine: {error}"))
}

/// The commands of a script.
fn commands(engine: &Engine, script: &str) -> Vec<Command> {
    parse_script(script, engine.config())
        .unwrap_or_else(|error| panic!("script: {error:?}"))
        .into_iter()
        .map(|line| line.command)
        .collect()
}

/// Applies a script, every command of which must be accepted.
fn play(engine: &mut Engine, script: &str) {
    for command in commands(engine, script) {
        if let Err(rejection) = engine.apply(&command) {
            panic!("{command:?} rejected: {rejection}");
        }
    }
}

/// Snapshot → JSON text → snapshot → engine.
fn through_json(engine: &Engine) -> (String, Engine) {
    let json = serde_json::to_string(&engine.snapshot()).expect("a snapshot serializes");
    let snapshot: EngineSnapshot = serde_json::from_str(&json).expect("a snapshot parses back");
    let restored = Engine::from_snapshot(snapshot).unwrap_or_else(|error| panic!("{error}"));
    (json, restored)
}

/// The restored engine equals the original in everything observable: state hash (cached and
/// from scratch), the whole state's `Debug` text (derived index entries and holder sets
/// included), liquidation candidates, and the snapshot it writes.
fn assert_same(original: &mut Engine, restored: &mut Engine) {
    assert_eq!(restored.state_hash(), original.state_hash(), "state hash");
    assert_eq!(restored.state_hash_from_scratch(), original.state_hash(), "hash from scratch");
    assert_eq!(format!("{:?}", restored.state()), format!("{:?}", original.state()), "state");
    assert_eq!(restored.config(), original.config(), "configuration");
    assert_eq!(restored.liquidation_candidates(), original.liquidation_candidates());
    assert_eq!(restored.liquidatable_accounts(), original.liquidatable_accounts());
    let (left, right) = (
        serde_json::to_string(&restored.snapshot()).expect("serializes"),
        serde_json::to_string(&original.snapshot()).expect("serializes"),
    );
    assert_eq!(left, right, "snapshot JSON");
}

/// Applies the same commands to both engines: same result and same hash after each.
fn assert_same_future(original: &mut Engine, restored: &mut Engine, commands: &[Command]) {
    for command in commands {
        let expected = original.apply(command);
        let found = restored.apply(command);
        assert_eq!(found, expected, "{command:?}");
        assert_eq!(restored.state_hash(), original.state_hash(), "hash after {command:?}");
        restored.audit().unwrap_or_else(|violation| panic!("after {command:?}: {violation}"));
    }
    assert_eq!(restored.state_hash_from_scratch(), original.state_hash_from_scratch());
}

/// The hand-built scenario, checked to contain what the test is about.
fn scenario() -> Engine {
    let mut engine = engine(VENUE);
    play(&mut engine, SCENARIO);
    let state = engine.state();
    let market = MarketRef::Lending(USDC);
    // Account 3's 15,000 USDC debt against 10 ETH at 1,000: the liquidation seized everything
    // and left a deficit, which the waterfall recognised and the fund paid first.
    assert!(state.net.recognized.get(&market).is_some_and(|amount| amount.is_positive()));
    assert!(state.net.payments.get(&market).is_some_and(|payments| !payments.is_empty()));
    assert!(state.net.funds[0].paid_by_market.contains_key(&market));
    let pool = &state.net.staker_pools[0];
    assert_eq!(pool.stakers[&AccountId(4)].queue.len(), 1, "one queued unstake");
    assert!(state.net.covers[0].term_end > 0, "cover bought");
    assert_eq!(state.governance.proposals.len(), 1, "one proposal");
    assert_eq!(state.claims.claims.len(), 1, "one claim");
    assert!(state.perps[0].open_interest == Amount::from_raw(2 * backstop_money::SCALE));
    assert!(state.lending[ETH.index()].is_some());
    engine
}

#[test]
fn a_hand_built_scenario_survives_a_json_round_trip() {
    let mut original = scenario();
    let (json, mut restored) = through_json(&original);
    // MarketRef-keyed maps are written as lists of pairs (JSON keys must be strings).
    assert!(json.contains(r#""recognized":[[{"lending":0},"#), "{json}");
    assert_eq!(json.find(r#""format":2"#), Some(1), "format comes first");
    assert!(json.contains(r#""state_hash":""#), "the hash it was taken at is recorded");
    assert_same(&mut original, &mut restored);
    let future = commands(&original, CONTINUATION);
    assert_same_future(&mut original, &mut restored, &future);
    // The continuation did what it says: the proposal executed (the config changed) and the claim
    // was paid, so a second snapshot carries the new configuration.
    let bonus = restored.config().lending[1].liquidation_bonus;
    assert_eq!(bonus, "0.08".parse().expect("ratio"), "governance changed the bonus");
    assert!(restored.state().claims.claims[&1].granted.is_positive(), "claim paid");
    // The hash covers the configuration governance put in force: the same state under another
    // bonus hashes differently.
    let mut before_vote = restored.snapshot();
    before_vote.config.lending[1].liquidation_bonus = "0.07".parse().expect("ratio");
    before_vote.state_hash = None;
    let before_vote = Engine::from_snapshot(before_vote).expect("the old bonus still validates");
    assert_ne!(before_vote.state_hash_from_scratch(), restored.state_hash_from_scratch());
    let (_, mut again) = through_json(&restored);
    assert_eq!(again.config().lending[1].liquidation_bonus, bonus);
    assert_same(&mut restored, &mut again);
}

#[test]
fn a_snapshot_in_the_middle_of_the_continuation_replays_the_rest_identically() {
    let mut original = scenario();
    let future = commands(&original, CONTINUATION);
    let results: Vec<_> = future.iter().map(|command| original.apply(command)).collect();
    assert!(results.iter().filter(|result| result.is_err()).count() >= 1, "some rejections");
    assert!(results.iter().filter(|result| result.is_ok()).count() >= 15, "mostly applied");
    for cut in 0..=future.len() {
        let mut first = scenario();
        for command in &future[..cut] {
            let _ = first.apply(command);
        }
        let (_, mut restored) = through_json(&first);
        for (command, expected) in future[cut..].iter().zip(&results[cut..]) {
            assert_eq!(&restored.apply(command), expected, "cut {cut}: {command:?}");
        }
        assert_eq!(restored.state_hash(), original.state_hash(), "cut {cut}");
    }
}

#[test]
fn a_stability_pool_survives_a_json_round_trip() {
    let mut original = engine(STABILITY_VENUE);
    play(&mut original, STABILITY_SCENARIO);
    let pool = &original.state().net.stability_pools[0];
    assert!(pool.sums.contains_key(&(0, ETH.0)), "a running sum for ETH at scale 0");
    assert!(pool.collateral.get(&ETH.0).is_some_and(|gain| gain.is_positive()));
    let (json, mut restored) = through_json(&original);
    // (scale, asset) keys are written as pairs too.
    assert!(json.contains(r#""sums":[[[0,1],""#), "{json}");
    // Raw 128-bit integers (P is 10^36 at the start) are decimal strings.
    assert!(json.contains(r#""product":""#), "{json}");
    assert!(serde_json::to_value(original.snapshot()).is_ok(), "fits serde_json::Value");
    assert_same(&mut original, &mut restored);
    let future = commands(&original, STABILITY_CONTINUATION);
    assert_same_future(&mut original, &mut restored, &future);
}

#[test]
fn a_fresh_engine_round_trips() {
    let mut original = engine(VENUE);
    let (_, mut restored) = through_json(&original);
    assert_same(&mut original, &mut restored);
    let future = commands(&original, SCENARIO);
    assert_same_future(&mut original, &mut restored, &future);
}

/// Every example venue's configuration serializes and parses back to an equal configuration.
#[test]
fn example_configurations_round_trip_through_json() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut checked = 0;
    let entries = std::fs::read_dir(directory).expect("examples directory");
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|extension| extension.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example readable");
        let config = VenueConfig::from_toml_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let json = serde_json::to_string(&config).expect("config serializes");
        let back: VenueConfig = serde_json::from_str(&json)
            .unwrap_or_else(|error| panic!("{}: {error}\n{json}", path.display()));
        assert_eq!(back, config, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} examples found");
    let config = VenueConfig::from_toml_str(VENUE).expect("venue");
    let json = serde_json::to_string(&config).expect("config serializes");
    let back: VenueConfig = serde_json::from_str(&json).expect("parses back");
    assert_eq!(back, config);
}

// ----- corrupt snapshots -----

/// The scenario's snapshot, changed by `corrupt`, then rebuilt.
fn rebuilt_after(corrupt: impl FnOnce(&mut EngineSnapshot)) -> Result<Engine, SnapshotError> {
    let mut snapshot = scenario().snapshot();
    corrupt(&mut snapshot);
    Engine::from_snapshot(snapshot)
}

/// The error of a corrupt snapshot (it must be refused).
fn refused(corrupt: impl FnOnce(&mut EngineSnapshot)) -> SnapshotError {
    match rebuilt_after(corrupt) {
        Ok(_) => panic!("a corrupt snapshot was accepted"),
        Err(error) => error,
    }
}

#[test]
fn an_untouched_snapshot_is_accepted() {
    assert!(rebuilt_after(|_| {}).is_ok());
}

#[test]
fn a_missing_price_entry_is_a_length_error() {
    let error = refused(|snapshot| {
        snapshot.state.prices.pop();
    });
    assert_eq!(
        error,
        SnapshotError::Length { field: "state.prices".to_owned(), expected: 3, found: 2 }
    );
    assert_eq!(error.to_string(), "snapshot state.prices has 2 entries, the configuration needs 3");
}

#[test]
fn an_account_with_too_few_holdings_is_a_length_error() {
    let error = refused(|snapshot| {
        let account = snapshot.state.accounts.get_mut(&AccountId(5)).expect("account 5");
        account.holdings.truncate(1);
    });
    assert_eq!(
        error,
        SnapshotError::Length {
            field: "state.accounts[5].holdings".to_owned(),
            expected: 3,
            found: 1
        }
    );
}

#[test]
fn a_staker_pool_missing_from_the_state_is_a_length_error() {
    let error = refused(|snapshot| snapshot.state.net.staker_pools.clear());
    assert_eq!(
        error,
        SnapshotError::Length { field: "state.net.staker_pools".to_owned(), expected: 1, found: 0 }
    );
}

#[test]
fn fees_out_of_thin_air_break_conservation() {
    let error = refused(|snapshot| {
        snapshot.state.fees[0] = Amount::from_raw(snapshot.state.fees[0].raw() + 1);
    });
    let SnapshotError::Invariant(violation) = &error else { panic!("{error:?}") };
    assert_eq!(violation.invariant, 1, "{violation}");
    assert!(
        error.to_string().starts_with("snapshot state breaks invariant I1: asset 0"),
        "{error}"
    );
}

#[test]
fn a_balance_changed_in_an_account_alone_disagrees_with_the_running_totals() {
    let error = refused(|snapshot| {
        let account = snapshot.state.accounts.get_mut(&AccountId(7)).expect("account 7");
        account.holdings[0].balance = Amount::from_raw(account.holdings[0].balance.raw() + 1);
    });
    let SnapshotError::Invariant(violation) = &error else { panic!("{error:?}") };
    assert_eq!(violation.invariant, 7, "{violation}");
}

#[test]
fn a_balance_changed_with_its_totals_breaks_conservation() {
    let error = refused(|snapshot| {
        let account = snapshot.state.accounts.get_mut(&AccountId(7)).expect("account 7");
        account.holdings[0].balance = Amount::from_raw(account.holdings[0].balance.raw() + 1);
        snapshot.state.totals.balances[0] += 1;
    });
    let SnapshotError::Invariant(violation) = &error else { panic!("{error:?}") };
    assert_eq!(violation.invariant, 1, "{violation}");
}

#[test]
fn an_invalid_configuration_is_a_config_error() {
    let error = refused(|snapshot| snapshot.config.venue.account_count_max = 0);
    let SnapshotError::Config(config) = &error else { panic!("{error:?}") };
    assert_eq!(config.field, "venue.account_count_max");
    assert!(std::error::Error::source(&error).is_some(), "the config error is the source");
}

#[test]
fn a_configuration_with_an_extra_asset_no_longer_fits_the_state() {
    let error = refused(|snapshot| {
        snapshot
            .config
            .assets
            .push(backstop_core::config::AssetConfig { symbol: "DAI".to_owned(), decimals: 18 });
    });
    assert_eq!(
        error,
        SnapshotError::Length { field: "state.prices".to_owned(), expected: 4, found: 3 }
    );
}

#[test]
fn a_lending_market_the_configuration_does_not_list_is_inconsistent() {
    let error = refused(|snapshot| {
        snapshot.state.lending[2] = snapshot.state.lending[0].clone();
    });
    let SnapshotError::Inconsistent { field, .. } = &error else { panic!("{error:?}") };
    assert_eq!(field, "state.lending[2]");
}

#[test]
fn a_claim_of_an_unknown_incident_is_inconsistent() {
    let error = refused(|snapshot| {
        let claim = snapshot.state.claims.claims.get_mut(&1).expect("claim 1");
        claim.incident = 7;
    });
    assert_eq!(
        error,
        SnapshotError::Inconsistent {
            field: "state.claims.claims[1]".to_owned(),
            message: "unknown incident 7".to_owned()
        }
    );
}

#[test]
fn a_proposal_at_or_above_the_next_id_is_inconsistent() {
    let error = refused(|snapshot| snapshot.state.governance.next_proposal = 1);
    let SnapshotError::Inconsistent { field, .. } = &error else { panic!("{error:?}") };
    assert_eq!(field, "state.governance.proposals[1]");
}

#[test]
fn an_unknown_market_in_the_deficit_ledger_is_inconsistent() {
    let error = refused(|snapshot| {
        let market = MarketRef::Lending(AssetId(2));
        snapshot.state.net.recognized.insert(market, Amount::from_raw(1));
    });
    let SnapshotError::Inconsistent { field, message } = &error else { panic!("{error:?}") };
    assert_eq!(field, "state.net.recognized");
    assert_eq!(message, "unknown market Lending(AssetId(2))");
}

#[test]
fn a_deficit_that_was_never_recognised_is_inconsistent() {
    let error = refused(|snapshot| {
        let market = snapshot.state.lending[1].as_mut().expect("ETH lending market");
        market.deficit = Amount::from_raw(1);
    });
    assert_eq!(
        error,
        SnapshotError::Inconsistent {
            field: "state.net.recognized".to_owned(),
            message: "Lending(AssetId(1)) has a deficit, a pending deficit or payments but none \
                      recognised"
                .to_owned()
        }
    );
}

#[test]
fn a_staker_reward_index_ahead_of_its_pool_is_inconsistent() {
    let error = refused(|snapshot| {
        let pool = &mut snapshot.state.net.staker_pools[0];
        let staker = pool.stakers.get_mut(&AccountId(4)).expect("staker 4");
        staker.reward_index = backstop_money::Ratio::from_raw(1);
    });
    assert_eq!(
        error,
        SnapshotError::Inconsistent {
            field: "state.net.staker_pools[0].stakers[4]".to_owned(),
            message: "reward index 0.000000000000000001 outside 0..=0".to_owned()
        }
    );
}

#[test]
fn another_format_is_refused() {
    let error = refused(|snapshot| snapshot.format = SNAPSHOT_FORMAT + 1);
    assert_eq!(error, SnapshotError::UnsupportedFormat { found: 3, expected: 2 });
    // Format 1 hashed without the configuration digest: its hashes cannot be checked, refused.
    let error = refused(|snapshot| snapshot.format = 1);
    assert_eq!(error, SnapshotError::UnsupportedFormat { found: 1, expected: 2 });
}

#[test]
fn json_with_a_duplicate_map_key_or_an_unknown_field_does_not_parse() {
    let json = serde_json::to_string(&scenario().snapshot()).expect("serializes");
    let prefix = r#""recognized":[["#;
    let start = json.find(prefix).expect("recognized entries") + prefix.len() - 1;
    let end = start + json[start..].find(']').expect("end of the first pair") + 1;
    let pair = &json[start..end];
    let doubled = json.replacen(pair, &format!("{pair},{pair}"), 1);
    let error = serde_json::from_str::<EngineSnapshot>(&doubled).expect_err("duplicate refused");
    assert!(error.to_string().contains("duplicate key"), "{error}");
    let extra = json.replacen(r#"{"format":2,"#, r#"{"format":2,"extra":true,"#, 1);
    let error = serde_json::from_str::<EngineSnapshot>(&extra).expect_err("unknown field refused");
    assert!(error.to_string().contains("unknown field"), "{error}");
}

// ----- properties -----

/// Replaces the leaf of a JSON value picked by `pick` (in a depth-first walk) with `value`.
fn replace_leaf(json: &mut serde_json::Value, pick: &mut usize, value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match json {
        Value::Array(items) => items.iter_mut().any(|item| replace_leaf(item, pick, value)),
        Value::Object(fields) => fields.values_mut().any(|item| replace_leaf(item, pick, value)),
        leaf => {
            if *pick == 0 {
                *leaf = value.clone();
                true
            } else {
                *pick -= 1;
                false
            }
        }
    }
}

/// Random command sequences over the testkit's fixture venues: a snapshot taken after any
/// prefix, sent through JSON and rebuilt, gives the same hash and derived state, and the same
/// results and hashes for every later command as the engine that never stopped.
#[test]
fn a_snapshot_after_any_prefix_of_a_random_sequence_continues_identically() {
    let strategy = (generators::fixture_and_steps(Mix::default()), any::<prop::sample::Index>());
    proptest!(backstop_testkit::proptest_config(), |(((fixture, steps), cut) in strategy)| {
        let mut original = fixture.engine();
        let mut hashes = Vec::new();
        let executed = run_steps_with(&mut original, &steps, Checks::NONE, |engine, _| {
            hashes.push(engine.state_hash());
        });
        let cut = cut.index(executed.len() + 1);
        let mut first = fixture.engine();
        for (index, record) in executed[..cut].iter().enumerate() {
            apply_checked(&mut first, index, &record.command, Checks::NONE).ok();
        }
        let (_, mut restored) = through_json(&first);
        assert_same(&mut first, &mut restored);
        for (index, (record, hash)) in executed.iter().zip(&hashes).enumerate().skip(cut) {
            let result = apply_checked(&mut restored, index, &record.command, Checks::NONE);
            prop_assert_eq!(&result, &record.result, "command {} ({:?})", index, record.command);
            prop_assert_eq!(restored.state_hash(), *hash, "hash after command {}", index);
        }
        prop_assert_eq!(restored.state_hash_from_scratch(), original.state_hash());
        restored.audit().map_err(|violation| TestCaseError::fail(violation.to_string()))?;
    });
}

/// A snapshot with any one leaf of its JSON replaced by another value either fails to parse, is
/// refused with a typed error, or rebuilds an engine that passes the audit and then applies the
/// scenario's continuation (debug builds check the invariants after every command) with the
/// audit still passing: never a panic. Each case checks one leaf with every replacement value.
/// The recorded hash is dropped so edits are not all refused at once; instead every accepted edit
/// that changes the snapshot (after parsing) must move the state hash: the hash covers every
/// field that is written down.
#[test]
fn a_snapshot_with_any_leaf_changed_is_refused_or_keeps_its_invariants() {
    let mut counts = Vec::new();
    for (venue, script, continuation) in [
        (VENUE, SCENARIO, CONTINUATION),
        (STABILITY_VENUE, STABILITY_SCENARIO, STABILITY_CONTINUATION),
    ] {
        let mut engine = engine(venue);
        play(&mut engine, script);
        let future = commands(&engine, continuation);
        let hash = engine.state_hash_from_scratch();
        let mut snapshot = engine.snapshot();
        snapshot.state_hash = None;
        let base = serde_json::to_value(snapshot).expect("fits serde_json::Value");
        let (mut moved, mut same) = (0, 0);
        let leaves = {
            let mut count = usize::MAX;
            replace_leaf(&mut base.clone(), &mut count, &serde_json::Value::Null);
            usize::MAX - count
        };
        assert!(leaves > 100, "only {leaves} leaves");
        let (mut parsed, mut refused, mut accepted) = (0, 0, 0);
        for pick in 0..leaves {
            for value in replacement_values() {
                let mut json = base.clone();
                assert!(replace_leaf(&mut json, &mut pick.clone(), &value));
                let Ok(snapshot) = serde_json::from_value::<EngineSnapshot>(json) else { continue };
                parsed += 1;
                let Ok(mut rebuilt) = Engine::from_snapshot(snapshot) else {
                    refused += 1;
                    continue;
                };
                accepted += 1;
                let mut again = rebuilt.snapshot();
                again.state_hash = None;
                if serde_json::to_value(again).expect("fits") == base {
                    same += 1;
                } else {
                    moved += 1;
                    assert_ne!(
                        rebuilt.state_hash_from_scratch(),
                        hash,
                        "leaf {pick} set to {value} changed the snapshot but not the state hash"
                    );
                }
                for command in &future {
                    let _ = rebuilt.apply(command);
                    if let Err(violation) = rebuilt.audit() {
                        panic!("leaf {pick} set to {value}: after {command:?}: {violation}");
                    }
                }
            }
        }
        // The sweep did reach every stage: parse failures, refusals and acceptances.
        assert!(parsed < leaves * replacement_values().len(), "every change parsed");
        assert!(refused > 50 && accepted > 50, "refused {refused}, accepted {accepted}");
        counts.push((parsed, refused, accepted, moved, same));
    }
    // (parsed, refused, accepted, accepted edits that moved the hash, accepted no-op edits) per
    // venue: deterministic, pinned; every accepted edit that changed the snapshot moved the hash.
    assert_eq!(counts, vec![(2390, 1554, 836, 502, 334), (963, 637, 326, 169, 157)]);
}

/// Values a leaf is replaced with: numbers and decimal strings at the edges, and wrong types.
fn replacement_values() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!(0),
        json!(1),
        json!(u64::MAX),
        json!(-1),
        json!("0"),
        json!("1"),
        json!("-1"),
        json!("1000000"),
        json!("170141183460469231731.687303715884105727"),
        json!(true),
        json!(null),
        json!([]),
    ]
}

/// A configuration edited by hand that still validates and fits the state (the oracle's staleness
/// limit, 1,000,000 s lowered by one second) changes the configuration digest the state hash
/// covers, so the snapshot no longer rebuilds to the hash recorded in it.
#[test]
fn a_snapshot_whose_configuration_was_edited_is_refused() {
    let untouched = scenario().snapshot();
    assert_eq!(untouched.config.oracle.max_staleness_secs, 1_000_000);
    let error = refused(|snapshot| snapshot.config.oracle.max_staleness_secs = 999_999);
    let SnapshotError::StateHash { recorded, rebuilt } = error else {
        panic!("expected a state-hash refusal, got {error:?}")
    };
    assert_eq!(Some(recorded), untouched.state_hash);
    assert_ne!(Some(rebuilt), untouched.state_hash);
}

#[test]
fn a_snapshot_whose_state_was_edited_within_the_rules_is_refused() {
    // One second later is a valid state, but not the one the snapshot recorded.
    let error = refused(|snapshot| snapshot.state.now += 1);
    assert!(matches!(error, SnapshotError::StateHash { .. }), "{error:?}");
}

#[test]
fn an_edited_copy_without_a_recorded_hash_is_rebuilt() {
    let mut snapshot = scenario().snapshot();
    snapshot.state_hash = None;
    snapshot.state.now += 1;
    assert!(Engine::from_snapshot(snapshot).is_ok());
}

// ----- golden hashes -----

/// The configuration digest and the state hash of a fresh `examples/venue.toml` engine, pinned:
/// a change of the TOML rendering, the digest's domain tag or the state hash's encoding shows here.
#[test]
fn golden_configuration_digest_and_fresh_state_hash() {
    let config = VenueConfig::from_toml_str(include_str!("../../../examples/venue.toml"))
        .expect("the example venue parses");
    assert_eq!(
        backstop_core::state_hash::to_hex(&config.digest()),
        "23f530d1f7641f885cb32722b6b729aa13b09623668b9a5c56e932c519dffa56"
    );
    let mut engine = Engine::new(config.clone()).expect("valid venue");
    assert_eq!(
        backstop_core::state_hash::to_hex(&engine.state_hash()),
        "ef6ccbcaad2dce667bd3e7c4be2728456a708a0d6d706459b34ba2d8a45f477b"
    );
    // One parameter changed: another digest, another hash of the same (empty) state.
    let mut other = config;
    other.oracle.max_staleness_secs -= 1;
    assert_ne!(other.digest(), engine.config().digest());
    let mut changed = Engine::new(other).expect("still valid");
    assert_ne!(changed.state_hash(), engine.state_hash());
}
