//! A first end-to-end run: a borrower is liquidated after a crash and left with a deficit.
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_core::*;
use backstop_money::{Amount, Price};

fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

#[test]
fn crash_turns_an_account_into_a_deficit() {
    let config = VenueConfig::from_toml_str(include_str!("../../../examples/venue.toml")).unwrap();
    let mut engine = Engine::new(config).unwrap();
    let usdc = AssetId(0);
    let eth = AssetId(1);
    let (lender, borrower, keeper) = (AccountId(1), AccountId(2), AccountId(3));
    let run = |engine: &mut Engine, command: Command| {
        let result = engine.apply(&command);
        engine.audit().unwrap();
        result
    };
    for command in [
        Command::SetPrice { asset: usdc, price: price("1") },
        Command::SetPrice { asset: eth, price: price("2000") },
        Command::OpenAccount { account: lender, kind: AccountKind::Regular },
        Command::OpenAccount { account: borrower, kind: AccountKind::Regular },
        Command::OpenAccount { account: keeper, kind: AccountKind::Regular },
        Command::Deposit { account: lender, asset: usdc, amount: amount("100000") },
        Command::Supply { account: lender, asset: usdc, amount: amount("100000") },
        Command::Deposit { account: borrower, asset: eth, amount: amount("10") },
        Command::Borrow { account: borrower, asset: usdc, amount: amount("15000") },
        Command::Withdraw { account: borrower, asset: usdc, amount: amount("15000") },
        Command::Deposit { account: keeper, asset: usdc, amount: amount("50000") },
    ] {
        run(&mut engine, command).unwrap();
    }
    // Borrowed funds stay as collateral; taking them out beyond 80% of 20,000 is refused.
    run(&mut engine, Command::Borrow { account: borrower, asset: usdc, amount: amount("1001") })
        .unwrap();
    let refused = run(
        &mut engine,
        Command::Withdraw { account: borrower, asset: usdc, amount: amount("1001") },
    );
    assert_eq!(refused.unwrap_err().code(), 10);
    run(&mut engine, Command::Repay { account: borrower, asset: usdc, amount: amount("1001") })
        .unwrap();
    assert!(engine.liquidatable_accounts().is_empty());
    run(&mut engine, Command::SetPrice { asset: eth, price: price("1400") }).unwrap();
    // 10 ETH × 1400 × 0.825 = 11,550 < 15,000: liquidatable.
    assert_eq!(engine.liquidatable_accounts(), vec![borrower]);
    assert_eq!(engine.liquidatable_accounts_by_scan(), vec![borrower]);
    let events = run(
        &mut engine,
        Command::Liquidate {
            keeper,
            account: borrower,
            target: LiquidationTarget::Debt { debt: usdc, collateral: eth },
            amount: amount("100000"),
            seed: 0,
        },
    )
    .unwrap();
    // LTV 15,000 / 14,000 is past 1 / 1.05, so no bonus; all 10 ETH go for 14,000 USDC and the
    // remaining 1,000 USDC of debt becomes the USDC market's deficit.
    assert!(matches!(events[0], Event::DebtLiquidated { repaid, seized, bonus, .. }
        if repaid == amount("14000") && seized == amount("10") && bonus.is_zero()));
    assert!(
        matches!(events[1], Event::DeficitRecorded { amount: deficit, .. } if deficit == amount("1000"))
    );
    let hash = engine.state_hash();
    assert_eq!(hash, engine.state_hash_from_scratch());
}
