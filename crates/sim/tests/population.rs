//! Account populations: commands accepted by the engine, drawn health factors reached, medians of
//! the size distributions, reproducibility, positions CSV, validation errors.

use backstop_core::{Command, Engine, VenueConfig};
use backstop_sim::convert;
use backstop_sim::population::{self, Population};
use backstop_sim::scenario::{Distribution, PopulationSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn venue(name: &str) -> VenueConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
    let text = std::fs::read_to_string(&path).expect("venue file");
    VenueConfig::from_toml_str(&text).expect("venue")
}

fn rng(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(0);
    rng
}

fn spec(kind: &str, count: u32) -> PopulationSpec {
    PopulationSpec {
        kind: kind.to_owned(),
        count,
        collateral: None,
        asset: None,
        market: None,
        pool: None,
        size: None,
        health: None,
        leverage: None,
        long_share: None,
        csv: None,
    }
}

fn borrowers(count: u32) -> PopulationSpec {
    PopulationSpec {
        collateral: Some("ETH".to_owned()),
        asset: Some("USDC".to_owned()),
        size: Some(Distribution::Lognormal { median: 20_000.0, sigma: 1.0 }),
        health: Some(Distribution::Uniform { min: 1.0, max: 2.5 }),
        ..spec("borrowers", count)
    }
}

fn prices() -> BTreeMap<String, f64> {
    BTreeMap::from([("ETH".to_owned(), 2_000.5), ("USDC".to_owned(), 1.0)])
}

/// Applies every command; panics on the first refusal.
fn apply(venue: &VenueConfig, population: &Population) -> Engine {
    let mut engine = Engine::new(venue.clone()).expect("engine");
    for (index, command) in population.commands.iter().enumerate() {
        if let Err(rejection) = engine.apply(command) {
            panic!("command {index} {command:?} refused: {rejection:?}");
        }
    }
    engine
}

fn health_factor(engine: &Engine, account: backstop_core::AccountId) -> Option<f64> {
    let health = engine.health(account).expect("health");
    health.health_factor().map(|ratio| convert::to_f64(ratio.raw()))
}

#[test]
fn borrowers_reach_their_drawn_health_factors() {
    let venue = venue("venue.toml");
    let specs = vec![borrowers(200)];
    let population =
        population::generate(&specs, &venue, &prices(), 10, Path::new("."), &mut rng(1))
            .expect("generate");
    // 200 borrowers and one USDC supplier.
    assert_eq!(population.accounts.len(), 201);
    assert_eq!(population.helpers.len(), 1);
    assert_eq!(population.accounts[0].0, 10);
    assert_eq!(population.next_id, 211);
    assert!(matches!(population.commands[0], Command::SetPrice { .. }));
    assert!(matches!(population.commands[1], Command::SetPrice { .. }));
    // The drawn values, replayed from the same generator: size, then health, per account.
    let mut replay = rng(1);
    let drawn: Vec<f64> = (0..200)
        .map(|_| {
            let _size = population::sample(specs[0].size.as_ref().expect("size"), &mut replay);
            population::sample(specs[0].health.as_ref().expect("health"), &mut replay)
        })
        .collect();
    assert_eq!(population.health_targets.len(), 200);
    let engine = apply(&venue, &population);
    let limit = 0.825 / 0.80; // the initial check allows no lower health
    for ((account, target), drawn) in population.health_targets.iter().zip(&drawn) {
        let actual = health_factor(&engine, *account).expect("owes");
        assert!((actual - target).abs() < 1e-6, "{account:?}: {actual} vs target {target}");
        let expected = drawn.max(limit);
        assert!((actual - expected).abs() < 1e-6, "{account:?}: {actual} vs drawn {drawn}");
        // The borrowed USDC left the account: only ETH collateral remains.
        let health = engine.health(*account).expect("health");
        let eth_value = health.collateral_value;
        assert!(eth_value.is_positive());
        assert!(!engine.health(*account).expect("health").is_liquidatable());
    }
    // Health draws below the limit are capped at it.
    assert!(drawn.iter().any(|health| *health < limit));
}

#[test]
fn a_mixed_population_applies_cleanly() {
    let venue = venue("venue.toml");
    let specs = vec![
        PopulationSpec {
            asset: Some("USDC".to_owned()),
            size: Some(Distribution::Pareto { min: 10_000.0, alpha: 1.5, max: Some(5_000_000.0) }),
            ..spec("lenders", 20)
        },
        borrowers(50),
        PopulationSpec {
            collateral: Some("USDC".to_owned()),
            asset: Some("ETH".to_owned()),
            size: Some(Distribution::Fixed { value: 5_000.0 }),
            health: Some(Distribution::Fixed { value: 1.5 }),
            ..spec("borrowers", 10)
        },
        PopulationSpec {
            market: Some("ETH-PERP".to_owned()),
            size: Some(Distribution::Lognormal { median: 5_000.0, sigma: 0.8 }),
            leverage: Some(Distribution::Uniform { min: 1.0, max: 20.0 }),
            long_share: Some(0.7),
            ..spec("traders", 100)
        },
        PopulationSpec {
            market: Some("ETH-PERP".to_owned()),
            collateral: Some("ETH".to_owned()),
            size: Some(Distribution::Fixed { value: 3_000.0 }),
            leverage: Some(Distribution::Fixed { value: 3.0 }),
            ..spec("traders", 5)
        },
    ];
    population::validate(&specs, &venue, Path::new(".")).expect("valid");
    let population =
        population::generate(&specs, &venue, &prices(), 1, Path::new("."), &mut rng(2))
            .expect("generate");
    // 185 accounts, suppliers for USDC and ETH, one maker.
    assert_eq!(population.accounts.len(), 185 + 3);
    assert_eq!(population.helpers.len(), 3);
    let engine = apply(&venue, &population);
    let state = engine.state();
    assert_eq!(state.accounts.len(), 188);
    let trades = population
        .commands
        .iter()
        .filter(|command| matches!(command, Command::Trade { .. }))
        .count();
    assert_eq!(trades, 105);
    let maker = *population.helpers.last().expect("maker");
    for command in &population.commands {
        if let Command::Trade { maker: m, .. } = command {
            assert_eq!(*m, maker);
        }
    }
    // Nobody starts liquidatable.
    for account in &population.accounts {
        assert!(!engine.health(*account).expect("health").is_liquidatable(), "{account:?}");
    }
    for (account, target) in &population.health_targets {
        let actual = health_factor(&engine, *account).expect("owes");
        assert!((actual - target).abs() < 1e-6, "{account:?}: {actual} vs {target}");
    }
}

#[test]
fn stakers_and_stability_depositors() {
    let blend = venue("blend.toml");
    let pool = blend.staker_pools[0].name.clone();
    let specs = vec![PopulationSpec {
        pool: Some(pool),
        size: Some(Distribution::Lognormal { median: 50_000.0, sigma: 0.5 }),
        ..spec("stakers", 30)
    }];
    let prices: BTreeMap<String, f64> =
        blend.assets.iter().map(|asset| (asset.symbol.clone(), 1.0)).collect();
    let population = population::generate(&specs, &blend, &prices, 1, Path::new("."), &mut rng(3))
        .expect("generate");
    assert_eq!(
        population.commands.iter().filter(|c| matches!(c, Command::Stake { .. })).count(),
        30
    );
    apply(&blend, &population);

    let liquity = venue("liquity-v2.toml");
    let specs = vec![
        PopulationSpec {
            collateral: Some("WETH".to_owned()),
            asset: Some("BOLD".to_owned()),
            size: Some(Distribution::Uniform { min: 5_000.0, max: 50_000.0 }),
            health: Some(Distribution::Uniform { min: 1.1, max: 2.0 }),
            ..spec("borrowers", 40)
        },
        PopulationSpec {
            pool: Some("bold-weth".to_owned()),
            size: Some(Distribution::Fixed { value: 100_000.0 }),
            ..spec("stability", 3)
        },
    ];
    let prices = BTreeMap::from([("WETH".to_owned(), 3_000.0), ("BOLD".to_owned(), 1.0)]);
    let population =
        population::generate(&specs, &liquity, &prices, 1, Path::new("."), &mut rng(4))
            .expect("generate");
    let engine = apply(&liquity, &population);
    for (account, target) in &population.health_targets {
        let actual = health_factor(&engine, *account).expect("owes");
        assert!((actual - target).abs() < 1e-6, "{account:?}: {actual} vs {target}");
    }
}

#[test]
fn pareto_and_lognormal_medians() {
    let median_of = |distribution: &Distribution, seed: u64| {
        let mut rng = rng(seed);
        let mut values: Vec<f64> =
            (0..20_001).map(|_| population::sample(distribution, &mut rng)).collect();
        values.sort_by(f64::total_cmp);
        values[10_000]
    };
    let pareto = Distribution::Pareto { min: 1_000.0, alpha: 1.5, max: None };
    let expected = 1_000.0 * 2_f64.powf(1.0 / 1.5);
    let median = median_of(&pareto, 5);
    assert!((median / expected - 1.0).abs() < 0.02, "pareto median {median} vs {expected}");
    let lognormal = Distribution::Lognormal { median: 25_000.0, sigma: 1.2 };
    let median = median_of(&lognormal, 6);
    assert!((median / 25_000.0 - 1.0).abs() < 0.04, "lognormal median {median}");
    // Caps, bounds and fixed values.
    let mut generator = rng(7);
    let capped = Distribution::Pareto { min: 1.0, alpha: 0.5, max: Some(10.0) };
    assert!((0..1_000).all(|_| {
        let value = population::sample(&capped, &mut generator);
        (1.0..=10.0).contains(&value)
    }));
    let uniform = Distribution::Uniform { min: 2.0, max: 3.0 };
    assert!((0..1_000).all(|_| (2.0..3.0).contains(&population::sample(&uniform, &mut generator))));
    assert_eq!(population::sample(&Distribution::Fixed { value: 4.0 }, &mut generator), 4.0);
}

#[test]
fn same_seed_gives_the_same_commands() {
    let venue = venue("venue.toml");
    let specs = vec![
        borrowers(30),
        PopulationSpec {
            market: Some("ETH-PERP".to_owned()),
            size: Some(Distribution::Lognormal { median: 5_000.0, sigma: 0.8 }),
            leverage: Some(Distribution::Uniform { min: 1.0, max: 5.0 }),
            ..spec("traders", 30)
        },
    ];
    let generate = |seed| {
        population::generate(&specs, &venue, &prices(), 1, Path::new("."), &mut rng(seed))
            .expect("generate")
    };
    assert_eq!(generate(9), generate(9));
    assert_ne!(generate(9).commands, generate(10).commands);
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/sim-test-scratch").join(name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn positions_csv() {
    let venue = venue("venue.toml");
    let dir = scratch("positions");
    let text = "\
account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size
# a comment
carol,lender,USDC,100000,,,,
alice,borrower,ETH,10,USDC,12000.5,,
bob,trader,USDC,5000,,,ETH-PERP,-2.5
alice,trader,USDC,1000,,,ETH-PERP,1.25
";
    std::fs::write(dir.join("positions.csv"), text).expect("write");
    let specs = vec![PopulationSpec { csv: Some("positions.csv".to_owned()), ..spec("csv", 0) }];
    population::validate(&specs, &venue, &dir).expect("valid");
    let population =
        population::generate(&specs, &venue, &prices(), 100, &dir, &mut rng(0)).expect("generate");
    // carol, alice, bob; one maker (the lender covers the borrow).
    assert_eq!(population.accounts.len(), 4);
    assert_eq!(population.helpers.len(), 1);
    let engine = apply(&venue, &population);
    let alice = population.accounts[1];
    let health = engine.health(alice).expect("health");
    // 10 ETH at 2000.5 weighted 0.825 plus 1000 USDC weighted 0.90 against 12000.5 USDC of debt
    // and a 1.25 ETH long.
    assert!(health.debt_value.is_positive());
    assert!(health.perp_value.raw() != 0 || health.maintenance_requirement > health.debt_value);

    let bad = [
        ("unknown,kind\n", ":1", "missing"),
        (
            "account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size\nx,borrower,ETH,1.5,USDC,1.0000001,,\n",
            ":2",
            "decimals",
        ),
        (
            "account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size\nx,trader,USDC,10,,,BTC-PERP,1\n",
            ":2",
            "market",
        ),
        (
            "account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size\nx,whale,USDC,10,,,,\n",
            ":2",
            "kind",
        ),
        (
            "account,kind,collateral_asset,collateral_amount,debt_asset,debt_amount,market,size\nx,lender,DOGE,10,,,,\n",
            ":2",
            "DOGE",
        ),
    ];
    for (index, (text, line, fragment)) in bad.iter().enumerate() {
        let name = format!("bad{index}.csv");
        std::fs::write(dir.join(&name), text).expect("write");
        let specs = vec![PopulationSpec { csv: Some(name.clone()), ..spec("csv", 0) }];
        let error = population::validate(&specs, &venue, &dir).expect_err(&name);
        assert!(error.location.ends_with(&format!("{name}{line}")), "{error}");
        assert!(error.message.contains(fragment), "{error}");
    }
}

#[test]
fn validation_names_the_group_and_key() {
    let venue = venue("venue.toml");
    let cases: Vec<(PopulationSpec, &str)> = vec![
        (spec("whales", 1), "population[0].kind"),
        (PopulationSpec { size: None, ..borrowers(1) }, "population[0].size"),
        (PopulationSpec { health: None, ..borrowers(1) }, "population[0].health"),
        (PopulationSpec { count: 0, ..borrowers(1) }, "population[0].count"),
        (
            PopulationSpec { collateral: Some("DOGE".into()), ..borrowers(1) },
            "population[0].collateral",
        ),
        (PopulationSpec { asset: Some("ETH".into()), ..borrowers(1) }, "population[0].asset"),
        (
            PopulationSpec { leverage: Some(Distribution::Fixed { value: 2.0 }), ..borrowers(1) },
            "population[0].leverage",
        ),
        (
            PopulationSpec {
                size: Some(Distribution::Uniform { min: 3.0, max: 2.0 }),
                ..borrowers(1)
            },
            "population[0].size",
        ),
        (
            PopulationSpec {
                size: Some(Distribution::Pareto { min: 1.0, alpha: 0.0, max: None }),
                ..borrowers(1)
            },
            "population[0].size",
        ),
        (
            PopulationSpec {
                market: Some("BTC-PERP".into()),
                size: Some(Distribution::Fixed { value: 1.0 }),
                leverage: Some(Distribution::Fixed { value: 1.0 }),
                ..spec("traders", 1)
            },
            "population[0].market",
        ),
        (
            PopulationSpec {
                pool: Some("nope".into()),
                size: Some(Distribution::Fixed { value: 1.0 }),
                ..spec("stakers", 1)
            },
            "population[0].pool",
        ),
        (PopulationSpec { csv: Some("missing.csv".into()), ..spec("csv", 0) }, "missing.csv"),
    ];
    for (spec, location) in cases {
        let error = population::validate(&[spec], &venue, Path::new(".")).expect_err(location);
        assert!(error.location.contains(location), "{error} (wanted {location})");
    }
}

#[test]
fn open_interest_cap_is_checked_ahead() {
    let venue = venue("venue.toml"); // ETH-PERP cap 100000 ETH
    let specs = vec![PopulationSpec {
        market: Some("ETH-PERP".to_owned()),
        size: Some(Distribution::Fixed { value: 100_000_000.0 }),
        leverage: Some(Distribution::Fixed { value: 5.0 }),
        long_share: Some(1.0),
        ..spec("traders", 2)
    }];
    let error = population::generate(&specs, &venue, &prices(), 1, Path::new("."), &mut rng(0))
        .expect_err("over the cap");
    assert!(error.message.contains("open_interest_cap"), "{error}");
    assert_eq!(error.location, "population[0]");
}
