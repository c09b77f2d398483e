//! Published vectors for take-rate accrual and socialisation (../shared/design/reference/VECTORS.md),
//! reproduced on the engine's own lending-market arithmetic, and the "insurance counted twice"
//! trap (P1) as a perpetual waterfall test.
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_core::venue::lending::{LendingMarket, haircut_supply_index};
use backstop_core::*;
use backstop_money::{Amount, Price, Ratio, Shares};

fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

fn ratio(text: &str) -> Ratio {
    text.parse().unwrap()
}

fn market(shares: &str, index: &str) -> LendingMarket {
    let mut market = LendingMarket::new(0);
    market.supply_shares = shares.parse::<Shares>().unwrap();
    market.supply_index = ratio(index);
    market
}

/// B8 (Blend `test_accrue`): b_supply 100, b_rate 1.0; 100 of interest with a take rate of 0.2
/// → the backstop's credit grows by 20 and b_rate becomes (100 + 100 − 20) / 100 = 1.8. Our
/// reserve is minted as supply shares at the new index: 20 / 1.8 = 11.111… shares (rounded
/// down), worth at most 20.
#[test]
fn vector_b8_take_rate_accrual() {
    let mut market = market("100", "1");
    market.credit_suppliers(amount("80"), amount("20")).unwrap();
    assert_eq!(market.supply_index, ratio("1.8"));
    assert_eq!(market.reserve_shares.to_string(), "11.111111111111111111");
    let reserve_value = market.supply_value_of(market.reserve_shares).unwrap();
    assert!(reserve_value <= amount("20"));
    // 11.111111111111111111 × 1.8 = 19.9999999999999999998, rounded down.
    assert_eq!(reserve_value, amount("19.999999999999999999"));
}

/// B9 (Blend `test_default_liabilities_reduces_b_rate`): b_rate 1.25, b_supply 750; a default of
/// 20 d-tokens at d_rate 1.5 is a loss of 30 → b_rate falls by ceil(30 / 750) = 0.04 to 1.21.
/// With b_rate 0.1 and a loss of 150 the rate floors at 0.
#[test]
fn vector_b9_default_haircuts_the_supplier_rate() {
    let mut market = market("750", "1.25");
    let before = haircut_supply_index(&mut market, amount("30")).unwrap();
    assert_eq!(before, ratio("1.25"));
    assert_eq!(market.supply_index, ratio("1.21"));
    let mut small = market_with_floor();
    haircut_supply_index(&mut small, amount("150")).unwrap();
    assert_eq!(small.supply_index, Ratio::ZERO);
}

fn market_with_floor() -> LendingMarket {
    market("750", "0.1")
}

/// D9 (Drift spot bankruptcy): deposits 1000 at an index of 1.0, a bankrupt borrow of 100 with
/// no insurance → the cumulative deposit index falls to 0.9 and deposits are worth 900.
#[test]
fn vector_d9_spot_bankruptcy_through_the_deposit_index() {
    let mut market = market("1000", "1");
    haircut_supply_index(&mut market, amount("100")).unwrap();
    assert_eq!(market.supply_index, ratio("0.9"));
    assert_eq!(market.supplier_claims().unwrap(), amount("900"));
}

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
liquidation_fee = "0"
max_leverage = "10"
open_interest_cap = "1000"
price_band = "0.5"
close_factor = "1"
[[fund]]
name = "insurance"
asset = "USDC"
[[waterfall]]
market = "ETH-PERP"
layers = ["fund:insurance", "socialize"]
"#;

/// P1 (Percolator's trap, inverted): insurance must be drawn once. A bankrupt long leaves a loss of
/// 600; the fund holds 250 and pays exactly 250; only the other 350 is socialised over open
/// interest; the fund is not counted again as an asset of the market, and I8 (each deficit covered
/// exactly once) holds.
#[test]
fn vector_p1_insurance_is_not_counted_twice() {
    let mut engine = Engine::new(VenueConfig::from_toml_str(PERP_VENUE).unwrap()).unwrap();
    let (usdc, eth, market) = (AssetId(0), AssetId(1), PerpMarketId(0));
    let price = |text: &str| text.parse::<Price>().unwrap();
    let mut run = |command: Command| {
        let events = engine.apply(&command).unwrap();
        engine.audit().unwrap();
        events
    };
    for command in [
        Command::SetPrice { asset: usdc, price: price("1") },
        Command::SetPrice { asset: eth, price: price("2000") },
        Command::OpenAccount { account: AccountId(1), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(2), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(3), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(4), kind: AccountKind::Regular },
        Command::Deposit { account: AccountId(1), asset: usdc, amount: amount("400") },
        Command::Deposit { account: AccountId(2), asset: usdc, amount: amount("100000") },
        Command::Deposit { account: AccountId(3), asset: usdc, amount: amount("100000") },
        Command::Deposit { account: AccountId(4), asset: usdc, amount: amount("1000") },
        Command::Donate {
            account: AccountId(4),
            layer: "fund:insurance".into(),
            amount: amount("250"),
        },
        // Account 1 goes long 2 ETH at 2000 against account 2 (margin 400 = 10%).
        Command::Trade {
            market,
            taker: AccountId(1),
            maker: AccountId(2),
            size: amount("2"),
            price: price("2000"),
        },
        // ETH −25%: account 1's value is 400 − 2 × 500 = −600.
        Command::SetPrice { asset: eth, price: price("1500") },
    ] {
        run(command);
    }
    let events = run(Command::Liquidate {
        keeper: AccountId(3),
        account: AccountId(1),
        target: LiquidationTarget::Position { market },
        amount: amount("2"),
        seed: 0,
    });
    let paid: Vec<(String, Amount)> = events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        paid,
        vec![("fund:insurance".into(), amount("250")), ("socialize".into(), amount("350"))]
    );
    assert_eq!(engine.state().net.funds[0].balance, Amount::ZERO);
    assert_eq!(engine.state().perps[0].deficit, Amount::ZERO);
    // Open interest after the liquidation: account 3 holds the long 2, account 2 the short 2;
    // 350 × 2 / 4 = 175 charged to each.
    let quote = |id: u64| engine.account(AccountId(id)).unwrap().positions[0].quote;
    assert_eq!(quote(2), amount("3825")); // 4000 received − 175
    assert_eq!(quote(3), amount("-3175")); // −3000 paid − 175
}

const LENDING_VENUE: &str = r#"
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
settle_share_max = "0.1"
[[waterfall]]
market = "USDC"
layers = ["fund:insurance", "socialize"]
"#;

fn lending_engine(venue: &str) -> Engine {
    let mut engine = Engine::new(VenueConfig::from_toml_str(venue).unwrap()).unwrap();
    let price = |text: &str| text.parse::<Price>().unwrap();
    for command in [
        Command::SetPrice { asset: AssetId(0), price: price("1") },
        Command::SetPrice { asset: AssetId(1), price: price("2000") },
        Command::OpenAccount { account: AccountId(1), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(2), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(3), kind: AccountKind::Regular },
        Command::Deposit { account: AccountId(1), asset: AssetId(0), amount: amount("100000") },
        Command::Supply { account: AccountId(1), asset: AssetId(0), amount: amount("100000") },
        Command::Deposit { account: AccountId(3), asset: AssetId(0), amount: amount("1000000") },
    ] {
        engine.apply(&command).unwrap();
    }
    engine
}

/// D7 (Drift `large_num_seeded_stake_if_test`): a revenue pool of 111 token units (0.000111 USDC
/// at 6 decimals) settles only 11 units into a fund whose settle is capped at 10% of the pool
/// (11.1 units, rounded down to whole units); 100 units stay behind.
#[test]
fn vector_d7_revenue_settle_is_capped() {
    let mut engine = lending_engine(LENDING_VENUE);
    engine
        .apply(&Command::Donate {
            account: AccountId(3),
            layer: "fund:insurance".into(),
            amount: amount("199000"),
        })
        .unwrap();
    // A recovery with nothing to return lands in the venue's fees: 111 of revenue.
    engine
        .apply(&Command::Recover {
            market: MarketRef::Lending(AssetId(0)),
            amount: amount("0.000111"),
        })
        .unwrap();
    assert_eq!(engine.state().fees[0], amount("0.000111"));
    let events = engine.apply(&Command::SettleRevenue { asset: AssetId(0) }).unwrap();
    engine.audit().unwrap();
    assert!(
        matches!(&events[..], [Event::RevenueSettled { amount: settled, .. }] if *settled == amount("0.000011"))
    );
    assert_eq!(engine.state().fees[0], amount("0.0001"));
    assert_eq!(engine.state().net.funds[0].balance, amount("199000.000011"));
}

/// F3 (marginfi, partially insured bankruptcy) and M3 (Mango, no vault: the deposit index is cut):
/// the fund pays all it has, ends at zero, and the remainder is socialised through the supplier
/// index. The borrower owes 10,000 USDC; ETH falls to 0.0001 so the keeper repays only the
/// 0.001 its 10 ETH are worth (no bonus: the toxic guard), leaving 9,999.999 of deficit: the fund
/// pays its 5000 and 4,999.999 is socialised (index 1 → 0.95000001).
#[test]
fn vector_f3_partially_insured_bankruptcy_then_socialised() {
    let mut engine = lending_engine(LENDING_VENUE);
    let price = |text: &str| text.parse::<Price>().unwrap();
    for command in [
        Command::Donate {
            account: AccountId(3),
            layer: "fund:insurance".into(),
            amount: amount("5000"),
        },
        Command::Deposit { account: AccountId(2), asset: AssetId(1), amount: amount("10") },
        Command::Borrow { account: AccountId(2), asset: AssetId(0), amount: amount("10000") },
        Command::Withdraw { account: AccountId(2), asset: AssetId(0), amount: amount("10000") },
        Command::SetPrice { asset: AssetId(1), price: price("0.0001") },
    ] {
        engine.apply(&command).unwrap();
    }
    let events = engine
        .apply(&Command::Liquidate {
            keeper: AccountId(3),
            account: AccountId(2),
            target: LiquidationTarget::Debt { debt: AssetId(0), collateral: AssetId(1) },
            amount: amount("10000"),
            seed: 0,
        })
        .unwrap();
    engine.audit().unwrap();
    let paid: Vec<(String, Amount)> = events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        paid,
        vec![("fund:insurance".into(), amount("5000")), ("socialize".into(), amount("4999.999"))]
    );
    assert_eq!(engine.state().net.funds[0].balance, Amount::ZERO);
    // Index cut: ceil(4999.999 / 100,000) = 0.04999999 → 0.95000001.
    assert_eq!(engine.state().lending[0].as_ref().unwrap().supply_index, ratio("0.95000001"));
}
