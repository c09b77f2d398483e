//! `[population] seed`: the accounts are drawn from their own seed, so a population is held fixed
//! while the path seed varies.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_sim::runner::{RunOptions, run};
use backstop_sim::scenario::Scenario;

/// 300 borrowers of lognormal size and health; ETH drifts down 24% in 24 deterministic hourly
/// steps (GBM without volatility), so what is liquidated depends on the accounts alone.
fn scenario(population_seed: Option<u64>) -> Scenario {
    let group = "kind = \"borrowers\"\ncount = 300\ncollateral = \"ETH\"\nasset = \"USDC\"\n\
                 size = { dist = \"lognormal\", median = 20000.0, sigma = 1.0 }\n\
                 health = { dist = \"lognormal\", median = 1.3, sigma = 0.3 }\n";
    let population = match population_seed {
        Some(seed) => format!("[population]\nseed = {seed}\n\n[[population.group]]\n{group}"),
        None => format!("[[population]]\n{group}"),
    };
    let text = format!(
        r#"
[scenario]
name = "population seed"

[venue]
path = "venue.toml"

[run]
steps = 24
seed = 1

[[prices.asset]]
asset = "ETH"
source = "gbm"
price = 2000.0
drift = -100.0

{population}
[keepers]
capacity_per_step = 1000
"#
    );
    let dir = common::directory(&[("venue.toml", common::VENUE), ("scenario.toml", &text)]);
    backstop_sim::scenario::load(&dir.join("scenario.toml")).unwrap()
}

fn liquidated(scenario: &Scenario, seed: u64) -> (u32, f64) {
    let options = RunOptions { seed: Some(seed), ..RunOptions::default() };
    let path = run(scenario, &options).unwrap().paths.remove(0);
    (path.liquidations, path.liquidated_volume)
}

#[test]
fn a_population_seed_holds_the_accounts_while_the_path_seed_varies() {
    let fixed = scenario(Some(42));
    assert_eq!(fixed.population.seed, Some(42));
    assert_eq!(fixed.population.len(), 1);
    let first = liquidated(&fixed, 1);
    assert!(first.0 > 0, "some borrowers go under");
    assert_eq!(liquidated(&fixed, 2), first);
    assert_eq!(liquidated(&fixed, 3), first);
    // Without it the run's seed draws the accounts: other seeds, other accounts.
    let follows = scenario(None);
    assert_eq!(follows.population.seed, None);
    assert_ne!(liquidated(&follows, 1).1, liquidated(&follows, 2).1);
    // With the run's seed equal to the population seed, both forms draw the same accounts.
    assert_eq!(liquidated(&follows, 42), liquidated(&fixed, 42));
}

#[test]
fn errors_in_the_table_form_name_the_group() {
    let text = "[scenario]\nname = \"x\"\n[venue]\npath = \"venue.toml\"\n[[prices.asset]]\n\
                asset = \"ETH\"\nsource = \"constant\"\nprice = 1.0\n[population]\nseed = 3\n\
                [[population.group]]\nkind = \"borrowers\"\ncount = 0\n";
    let dir = common::directory(&[("venue.toml", common::VENUE), ("scenario.toml", text)]);
    let error = backstop_sim::scenario::load(&dir.join("scenario.toml")).unwrap_err();
    assert!(error.location.ends_with("scenario.toml:13: population.group[0].count"), "{error}");
    let text = text.replace("seed = 3", "sed = 3");
    let dir = common::directory(&[("venue.toml", common::VENUE), ("scenario.toml", &text)]);
    let error = backstop_sim::scenario::load(&dir.join("scenario.toml")).unwrap_err();
    assert!(error.message.contains("unknown field `sed`"), "{error}");
    assert!(error.location.ends_with("scenario.toml:10"), "{error}");
}
