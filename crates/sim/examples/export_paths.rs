//! Exports the `bench_paths` scenario for the Python peer models under `benches/peers/`.
//!
//! ```text
//! cargo run --release -p backstop-sim --example export_paths -- DIR [PATHS [ACCOUNTS [CAPACITY]]]
//! ```
//!
//! Writes into DIR (created if needed), for paths `0..PATHS` (default 30) of the scenario in
//! `bench_paths.toml` with ACCOUNTS borrowers (default 10,000) and CAPACITY liquidations per keeper
//! per step (default the scenario's 20):
//! - `params.json`: the venue's liquidation and rate terms, keepers, market depth and decay, the
//!   USDC market's cash and total debt after preparation;
//! - `accounts.csv`: `collateral_eth,debt_usdc` of every borrower after preparation, by account id;
//! - `prices.csv`: one row per path, the ETH price of steps `0..=steps` as the runner draws it
//!   (ChaCha8 stream `(seed, path)`, before price impact);
//! - `backstop.csv`: `path,liquidations,deficit` — what Backstop's run of the same paths gave
//!   (liquidations through `Engine::apply`, deficit = `deficit_created` in USDC).

#![allow(missing_docs)]

use backstop_sim::convert::to_f64;
use backstop_sim::runner::{RunOptions, prepared_inputs, run};
use backstop_sim::scenario::parse;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const SCENARIO: &str = include_str!("bench_paths.toml");

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = arguments.first().map(PathBuf::from) else {
        eprintln!("usage: export_paths DIR [PATHS [ACCOUNTS [CAPACITY]]]");
        std::process::exit(2);
    };
    let number = |index: usize| arguments.get(index).and_then(|text| text.parse::<u64>().ok());
    let paths = number(1).map_or(30, |paths| paths as u32);
    let accounts = number(2).unwrap_or(10_000);
    let mut text = SCENARIO.replace("ACCOUNTS", &accounts.to_string());
    if let Some(capacity) = number(3) {
        text = text.replace("capacity_per_step = 20", &format!("capacity_per_step = {capacity}"));
    }
    if let Err(message) = export(&dir, &text, paths) {
        eprintln!("{message}");
        std::process::exit(1);
    }
    println!("exported {paths} paths × {accounts} accounts into {}", dir.display());
}

fn export(dir: &Path, text: &str, paths: u32) -> Result<(), String> {
    let scenario = parse(text, Path::new("bench_paths.toml")).map_err(|error| error.to_string())?;
    std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let options = RunOptions { paths: Some(paths), trace_paths: 0, ..RunOptions::default() };
    let selection: Vec<u32> = (0..paths).collect();
    let (engine, prices) =
        prepared_inputs(&scenario, &options, &selection).map_err(|error| error.to_string())?;
    let config = engine.config();
    let usdc = config.asset_id("USDC").ok_or("no USDC")?;
    let eth = config.asset_id("ETH").ok_or("no ETH")?;
    let market = engine.state().lending[usdc.index()].as_ref().ok_or("no USDC market")?;
    let mut accounts = String::from("collateral_eth,debt_usdc\n");
    for account in engine.state().accounts.values() {
        let shares = account.holdings.get(usdc.index()).map(|holding| holding.debt_shares);
        let Some(shares) = shares.filter(|shares| shares.is_positive()) else { continue };
        let debt = market.debt_of(shares).map_err(|error| format!("{error:?}"))?;
        let collateral = account.holdings[eth.index()].balance;
        writeln!(accounts, "{:e},{:e}", to_f64(collateral.raw()), to_f64(debt.raw())).ok();
    }
    let lending = |asset| config.lending.iter().find(|market| market.asset == asset);
    let (usdc_config, eth_config) = (lending("USDC").ok_or("USDC")?, lending("ETH").ok_or("ETH")?);
    let ratio = |value: backstop_money::Ratio| to_f64(value.raw());
    let total_debt = market.total_debt().map_err(|error| format!("{error:?}"))?;
    let params = serde_json::json!({
        "paths": paths,
        "steps": scenario.run.steps,
        "step_secs": scenario.run.step_secs,
        "year_secs": 31_536_000,
        "liquidation_threshold": ratio(eth_config.liquidation_threshold),
        "liquidation_bonus": ratio(eth_config.liquidation_bonus),
        "close_factor": ratio(usdc_config.close_factor),
        "full_close_health": ratio(usdc_config.full_close_health),
        "rate": {
            "base": ratio(usdc_config.rate.base),
            "slope1": ratio(usdc_config.rate.slope1),
            "kink": ratio(usdc_config.rate.kink),
            "slope2": ratio(usdc_config.rate.slope2),
        },
        "cash": to_f64(market.cash.raw()),
        "total_debt": to_f64(total_debt.raw()),
        "keeper_capacity": scenario.keepers.count * scenario.keepers.capacity_per_step,
        "depth": scenario.market.depth[0].1,
        "impact_decay": scenario.market.impact_decay,
    });
    let mut price_rows = String::new();
    for path in &prices {
        let row: Vec<String> = path[eth.index()].iter().map(|price| format!("{price:e}")).collect();
        writeln!(price_rows, "{}", row.join(",")).ok();
    }
    let result = run(&scenario, &options).map_err(|error| error.to_string())?;
    let mut backstop = String::from("path,liquidations,deficit\n");
    for path in &result.paths {
        writeln!(backstop, "{},{},{:e}", path.path, path.liquidations, path.deficit_created).ok();
    }
    let params = serde_json::to_string_pretty(&params).map_err(|error| error.to_string())?;
    for (name, body) in [
        ("params.json", params),
        ("accounts.csv", accounts),
        ("prices.csv", price_rows),
        ("backstop.csv", backstop),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, body).map_err(|error| format!("{}: {error}", file.display()))?;
    }
    Ok(())
}
