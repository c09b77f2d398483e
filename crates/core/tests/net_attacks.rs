//! Known attacks on a backstop, each shown to fail to profit (the staker-pool attacks live with the
//! pool's tests in net_pool.rs; the insurance-counted-twice trap in net_vectors.rs).
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_core::*;
use backstop_money::{Amount, Price};

fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

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
protocol_liquidation_share = "0.2"
[lending.liquidation]
mode = "takeover"
backstop_account = 9
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"
"#;

fn engine() -> Engine {
    let mut engine = Engine::new(VenueConfig::from_toml_str(VENUE).unwrap()).unwrap();
    for command in [
        Command::SetPrice { asset: AssetId(0), price: price("1") },
        Command::SetPrice { asset: AssetId(1), price: price("2000") },
        Command::OpenAccount { account: AccountId(1), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(2), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(3), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(9), kind: AccountKind::Backstop },
        Command::Deposit { account: AccountId(1), asset: AssetId(0), amount: amount("100000") },
        Command::Supply { account: AccountId(1), asset: AssetId(0), amount: amount("100000") },
        Command::Deposit { account: AccountId(3), asset: AssetId(0), amount: amount("100000") },
    ] {
        engine.apply(&command).unwrap();
        engine.audit().unwrap();
    }
    engine
}

fn equity(engine: &Engine, id: u64) -> Amount {
    engine.health(AccountId(id)).unwrap().equity().unwrap()
}

/// Blend #199: the backstop account itself cannot be liquidated. It takes over an underwater
/// account (ETH debt market in takeover mode), ends below its own maintenance margin, and a
/// keeper's attempt to liquidate it for a bonus is refused with 37 and changes nothing.
#[test]
fn liquidating_the_backstop_account_is_refused() {
    let mut engine = engine();
    for command in [
        Command::Deposit { account: AccountId(2), asset: AssetId(0), amount: amount("1000") },
        Command::Borrow { account: AccountId(2), asset: AssetId(0), amount: amount("1") },
        Command::Deposit { account: AccountId(9), asset: AssetId(0), amount: amount("1") },
        // Account 2 borrows 0.4 ETH (800) against 1000 USDC (0.85 × 1000 = 850).
        Command::Deposit { account: AccountId(1), asset: AssetId(1), amount: amount("10") },
        Command::Supply { account: AccountId(1), asset: AssetId(1), amount: amount("10") },
        Command::Borrow { account: AccountId(2), asset: AssetId(1), amount: amount("0.4") },
        Command::Withdraw { account: AccountId(2), asset: AssetId(1), amount: amount("0.4") },
        Command::SetPrice { asset: AssetId(1), price: price("2600") },
    ] {
        engine.apply(&command).unwrap();
    }
    // 1001 × 0.9 = 900.9 < 0.4 × 2600 + 1 = 1041: liquidatable; takeover by account 9.
    let events = engine
        .apply(&Command::Liquidate {
            keeper: AccountId(3),
            account: AccountId(2),
            target: LiquidationTarget::Debt { debt: AssetId(1), collateral: AssetId(0) },
            amount: amount("1"),
            seed: 0,
        })
        .unwrap();
    assert!(matches!(events[0], Event::AccountTakenOver { backstop: AccountId(9), .. }));
    assert!(engine.health(AccountId(9)).unwrap().is_liquidatable());
    let before = engine.state_hash();
    let refused = engine.apply(&Command::Liquidate {
        keeper: AccountId(3),
        account: AccountId(9),
        target: LiquidationTarget::Debt { debt: AssetId(1), collateral: AssetId(0) },
        amount: amount("1"),
        seed: 0,
    });
    assert_eq!(refused.unwrap_err().code(), 37);
    assert_eq!(engine.state_hash(), before);
}

/// Self-liquidation bonus farming: one owner with a borrower (2) and a keeper (3) lets the borrower
/// fall below maintenance and liquidates it itself. The bonus comes out of the borrower's own
/// collateral, so the pair gains nothing; the venue's share of the bonus makes it a loss.
#[test]
fn self_liquidation_bonus_farming_does_not_pay() {
    // The same venue with ETH in the fixed-bonus mode.
    let fixed_bonus =
        VENUE.replace("[lending.liquidation]\nmode = \"takeover\"\nbackstop_account = 9\n", "");
    let mut engine = Engine::new(VenueConfig::from_toml_str(&fixed_bonus).unwrap()).unwrap();
    for command in [
        Command::SetPrice { asset: AssetId(0), price: price("1") },
        Command::SetPrice { asset: AssetId(1), price: price("2000") },
        Command::OpenAccount { account: AccountId(1), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(2), kind: AccountKind::Regular },
        Command::OpenAccount { account: AccountId(3), kind: AccountKind::Regular },
        Command::Deposit { account: AccountId(1), asset: AssetId(0), amount: amount("100000") },
        Command::Supply { account: AccountId(1), asset: AssetId(0), amount: amount("100000") },
        Command::Deposit { account: AccountId(3), asset: AssetId(0), amount: amount("100000") },
        Command::Deposit { account: AccountId(2), asset: AssetId(1), amount: amount("10") },
        Command::Borrow { account: AccountId(2), asset: AssetId(0), amount: amount("16000") },
        Command::Withdraw { account: AccountId(2), asset: AssetId(0), amount: amount("16000") },
        // 10 × 1900 × 0.825 = 15,675 < 16,000: liquidatable, LTV 16,000 / 19,000 < 1/1.05.
        Command::SetPrice { asset: AssetId(1), price: price("1900") },
    ] {
        engine.apply(&command).unwrap();
    }
    let pair_before = equity(&engine, 2).checked_add(equity(&engine, 3)).unwrap();
    let events = engine
        .apply(&Command::Liquidate {
            keeper: AccountId(3),
            account: AccountId(2),
            target: LiquidationTarget::Debt { debt: AssetId(0), collateral: AssetId(1) },
            amount: amount("8000"),
            seed: 0,
        })
        .unwrap();
    engine.audit().unwrap();
    let Event::DebtLiquidated { seized, protocol_fee, .. } = events[0] else {
        panic!("{events:?}")
    };
    // Repay 8000 (close factor 0.5): seized 8000 × 1.05 / 1900 = 4.421052631578947368 ETH; the
    // bonus part is 0.210526315789473685 ETH (ceil 8000/1900 = 4.210526315789473684), the
    // venue keeps 20% of it, rounded up: 0.042105263157894737 ETH.
    assert_eq!(seized, amount("4.421052631578947368"));
    assert_eq!(protocol_fee, amount("0.042105263157894737"));
    let pair_after = equity(&engine, 2).checked_add(equity(&engine, 3)).unwrap();
    // The pair lost the venue's share, 0.042105263157894737 × 1900 = 80.0000000000000003, give
    // or take the raw unit of rounding in each equity figure.
    let lost = pair_before.checked_sub(pair_after).unwrap();
    assert!(lost >= amount("80") && lost <= amount("80.000000000000001"), "lost {lost}");
}
