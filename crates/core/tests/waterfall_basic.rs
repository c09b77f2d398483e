//! The waterfall walks fund → offset → socialise over a lending deficit, with hand-computed
//! amounts, and a recovery flows back in reverse order.
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_core::*;
use backstop_money::{Amount, Price};

const VENUE: &str = r#"
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
floor = "100"
[[offset]]
name = "treasury"
asset = "USDC"
[[waterfall]]
market = "USDC"
layers = ["fund:insurance", "offset:treasury", "socialize"]
"#;

fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

fn apply(engine: &mut Engine, command: Command) -> Vec<Event> {
    let events = engine.apply(&command).unwrap();
    engine.audit().unwrap();
    events
}

#[test]
fn a_lending_deficit_walks_fund_offset_then_suppliers() {
    let mut engine = Engine::new(VenueConfig::from_toml_str(VENUE).unwrap()).unwrap();
    let (usdc, eth) = (AssetId(0), AssetId(1));
    let (lender, borrower, keeper, treasury) =
        (AccountId(1), AccountId(2), AccountId(3), AccountId(4));
    for command in [
        Command::SetPrice { asset: usdc, price: price("1") },
        Command::SetPrice { asset: eth, price: price("2000") },
        Command::OpenAccount { account: lender, kind: AccountKind::Regular },
        Command::OpenAccount { account: borrower, kind: AccountKind::Regular },
        Command::OpenAccount { account: keeper, kind: AccountKind::Regular },
        Command::OpenAccount { account: treasury, kind: AccountKind::Regular },
        Command::Deposit { account: lender, asset: usdc, amount: amount("100000") },
        Command::Supply { account: lender, asset: usdc, amount: amount("100000") },
        Command::Deposit { account: treasury, asset: usdc, amount: amount("1000") },
        Command::Donate {
            account: treasury,
            layer: "fund:insurance".into(),
            amount: amount("400"),
        },
        Command::Donate {
            account: treasury,
            layer: "offset:treasury".into(),
            amount: amount("300"),
        },
        Command::Deposit { account: borrower, asset: eth, amount: amount("10") },
        Command::Borrow { account: borrower, asset: usdc, amount: amount("15000") },
        Command::Withdraw { account: borrower, asset: usdc, amount: amount("15000") },
        Command::Deposit { account: keeper, asset: usdc, amount: amount("50000") },
        Command::SetPrice { asset: eth, price: price("1400") },
    ] {
        apply(&mut engine, command);
    }
    // Liquidation leaves 15,000 − 14,000 = 1000 of USDC deficit. The fund pays 400 − 100 (floor)
    // = 300, the offset 300, and the remaining 400 is socialised: the supply index falls by
    // 400 / 100,000 = 0.004.
    let events = apply(
        &mut engine,
        Command::Liquidate {
            keeper,
            account: borrower,
            target: LiquidationTarget::Debt { debt: usdc, collateral: eth },
            amount: amount("100000"),
            seed: 0,
        },
    );
    let paid: Vec<(String, Amount)> = events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        paid,
        vec![
            ("fund:insurance".to_owned(), amount("300")),
            ("offset:treasury".to_owned(), amount("300")),
            ("socialize".to_owned(), amount("400")),
        ]
    );
    let market = engine.state().lending[0].as_ref().unwrap();
    assert_eq!(market.deficit, Amount::ZERO);
    assert_eq!(market.supply_index.to_string(), "0.996");
    assert_eq!(engine.state().net.funds[0].balance, amount("100"));
    // A recovery of 500 goes back in reverse order: suppliers first (400), then the offset (100).
    let events = apply(
        &mut engine,
        Command::Recover { market: MarketRef::Lending(usdc), amount: amount("500") },
    );
    let returned: Vec<(String, Amount)> = events
        .iter()
        .filter_map(|event| match event {
            Event::RecoveryReturned { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        returned,
        vec![
            ("socialize".to_owned(), amount("400")),
            ("offset:treasury".to_owned(), amount("100"))
        ]
    );
    assert_eq!(
        engine.state().lending[0].as_ref().unwrap().supply_index,
        backstop_money::Ratio::ONE
    );
    assert_eq!(engine.state().net.offsets[0], amount("100"));
}

/// An exploit drains cash out of the venue and becomes the market's deficit: the fund pays what it
/// holds above its floor, the offset the rest. More than the market's cash is refused (9).
#[test]
fn an_exploit_is_a_deficit_that_walks_the_waterfall() {
    let mut engine = Engine::new(VenueConfig::from_toml_str(VENUE).unwrap()).unwrap();
    let usdc = AssetId(0);
    for command in [
        Command::SetPrice { asset: usdc, price: price("1") },
        Command::OpenAccount { account: AccountId(1), kind: AccountKind::Regular },
        Command::Deposit { account: AccountId(1), asset: usdc, amount: amount("10000") },
        Command::Supply { account: AccountId(1), asset: usdc, amount: amount("5000") },
        Command::Donate {
            account: AccountId(1),
            layer: "fund:insurance".into(),
            amount: amount("700"),
        },
        Command::Donate {
            account: AccountId(1),
            layer: "offset:treasury".into(),
            amount: amount("1000"),
        },
    ] {
        apply(&mut engine, command);
    }
    let too_much = engine.apply(&Command::Exploit { asset: usdc, amount: amount("5000.000001") });
    assert_eq!(too_much.unwrap_err().code(), 9);
    // 800 drained: the fund pays 700 − 100 (floor) = 600, the offset 200.
    let events = apply(&mut engine, Command::Exploit { asset: usdc, amount: amount("800") });
    let paid: Vec<(String, Amount)> = events
        .iter()
        .filter_map(|event| match event {
            Event::LayerPaid { layer, amount, .. } => Some((layer.clone(), *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        paid,
        vec![
            ("fund:insurance".to_owned(), amount("600")),
            ("offset:treasury".to_owned(), amount("200"))
        ]
    );
    let market = engine.state().lending[0].as_ref().unwrap();
    assert_eq!((market.cash, market.deficit), (amount("5000"), Amount::ZERO));
    assert_eq!(engine.state().external_net[0], amount("9200"));
}
