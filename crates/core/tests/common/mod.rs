//! Shared helpers for the `scenario_*` tests: exact literals, one-line command builders, and
//! `step`/`run`, which apply a command, audit the engine, and check that a rejected command left
//! the state hash unchanged.
#![allow(dead_code, clippy::unwrap_used)]

use backstop_core::{
    AccountId, AccountKind, AssetId, AuctionId, Command, Engine, Event, LiquidationTarget,
    PerpMarketId, Rejection, VenueConfig,
};
use backstop_money::{Amount, Price, Ratio, SCALE, Shares};
use std::collections::BTreeSet;

/// One-year of seconds (365 days), as the engine quotes rates.
pub(crate) const YEAR: u64 = 31_536_000;

/// An exact amount from a decimal string.
pub(crate) fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

/// An exact price from a decimal string.
pub(crate) fn price(text: &str) -> Price {
    text.parse().unwrap()
}

/// An exact ratio from a decimal string.
pub(crate) fn ratio(text: &str) -> Ratio {
    text.parse().unwrap()
}

/// Exact shares from a decimal string.
pub(crate) fn shares(text: &str) -> Shares {
    text.parse().unwrap()
}

/// An engine for a venue written inline as TOML.
pub(crate) fn engine(toml: &str) -> Engine {
    let config = VenueConfig::from_toml_str(toml).unwrap_or_else(|error| panic!("{error}"));
    Engine::new(config).unwrap()
}

/// What a step of a scenario table must do.
#[derive(Debug)]
pub(crate) enum Expect {
    /// Applied, whatever the events.
    Ok,
    /// Applied, with exactly these events.
    Events(Vec<Event>),
    /// Rejected with this code (state hash unchanged).
    Code(u16),
}

/// Applies one command, audits the engine after it, and checks the state hash: unchanged by a
/// rejection, and equal to the hash recomputed from scratch either way. Also checks that every
/// account a full scan finds liquidatable is among the liquidation index's candidates.
pub(crate) fn step(engine: &mut Engine, command: &Command) -> Result<Vec<Event>, Rejection> {
    let before = engine.state_hash();
    let result = engine.apply(command);
    if let Err(violation) = engine.audit() {
        panic!("audit failed after {command:?}: {violation}");
    }
    let after = engine.state_hash();
    assert_eq!(after, engine.state_hash_from_scratch(), "cached hash after {command:?}");
    if let Err(rejection) = &result {
        assert_eq!(before, after, "rejected {command:?} ({rejection}) changed the state hash");
    }
    // The liquidation index never hides a liquidatable account.
    let candidates: BTreeSet<AccountId> = engine.liquidation_candidates().into_iter().collect();
    for id in engine.liquidatable_accounts_by_scan() {
        assert!(candidates.contains(&id), "after {command:?}: liquidatable {id:?} not a candidate");
    }
    result
}

/// Runs a table of steps, asserting each expectation; returns the events of the last step.
pub(crate) fn run(engine: &mut Engine, table: &[(Command, Expect)]) -> Vec<Event> {
    let mut last = Vec::new();
    for (index, (command, expect)) in table.iter().enumerate() {
        let result = step(engine, command);
        let line = index + 1;
        match (expect, result) {
            (Expect::Ok, Ok(events)) => last = events,
            (Expect::Events(expected), Ok(events)) => {
                assert_eq!(&events, expected, "step {line}: events of {command:?}");
                last = events;
            }
            (Expect::Code(code), Err(rejection)) => {
                assert_eq!(
                    rejection.code(),
                    *code,
                    "step {line}: {command:?} rejected with {rejection}, expected code {code}"
                );
            }
            (expect, Ok(events)) => {
                panic!("step {line}: {command:?} applied ({events:?}), expected {expect:?}")
            }
            (expect, Err(rejection)) => {
                panic!("step {line}: {command:?} rejected ({rejection}), expected {expect:?}")
            }
        }
    }
    last
}

/// The codes a table expects to be rejected with, in order.
pub(crate) fn expected_codes(table: &[(Command, Expect)]) -> Vec<u16> {
    table
        .iter()
        .filter_map(|(_, expect)| match expect {
            Expect::Code(code) => Some(*code),
            _ => None,
        })
        .collect()
}

// ----- one-line command builders -----

pub(crate) fn advance(now: u64) -> Command {
    Command::AdvanceTime { now }
}

pub(crate) fn set_price(asset: AssetId, value: &str) -> Command {
    Command::SetPrice { asset, price: price(value) }
}

pub(crate) fn open(account: u64) -> Command {
    Command::OpenAccount { account: AccountId(account), kind: AccountKind::Regular }
}

pub(crate) fn open_backstop(account: u64) -> Command {
    Command::OpenAccount { account: AccountId(account), kind: AccountKind::Backstop }
}

pub(crate) fn deposit(account: u64, asset: AssetId, value: &str) -> Command {
    Command::Deposit { account: AccountId(account), asset, amount: amount(value) }
}

pub(crate) fn withdraw(account: u64, asset: AssetId, value: &str) -> Command {
    Command::Withdraw { account: AccountId(account), asset, amount: amount(value) }
}

pub(crate) fn supply(account: u64, asset: AssetId, value: &str) -> Command {
    Command::Supply { account: AccountId(account), asset, amount: amount(value) }
}

pub(crate) fn withdraw_supply(account: u64, asset: AssetId, value: &str) -> Command {
    Command::WithdrawSupply { account: AccountId(account), asset, amount: amount(value) }
}

pub(crate) fn borrow(account: u64, asset: AssetId, value: &str) -> Command {
    Command::Borrow { account: AccountId(account), asset, amount: amount(value) }
}

pub(crate) fn repay(account: u64, asset: AssetId, value: &str) -> Command {
    Command::Repay { account: AccountId(account), asset, amount: amount(value) }
}

pub(crate) fn accrue(asset: AssetId) -> Command {
    Command::AccrueInterest { asset }
}

pub(crate) fn trade(market: u16, taker: u64, maker: u64, size: &str, value: &str) -> Command {
    Command::Trade {
        market: PerpMarketId(market),
        taker: AccountId(taker),
        maker: AccountId(maker),
        size: amount(size),
        price: price(value),
    }
}

pub(crate) fn funding(market: u16, rate: &str) -> Command {
    Command::AccrueFunding { market: PerpMarketId(market), rate: ratio(rate) }
}

pub(crate) fn liquidate_debt(
    keeper: u64,
    account: u64,
    debt: AssetId,
    collateral: AssetId,
    value: &str,
) -> Command {
    Command::Liquidate {
        keeper: AccountId(keeper),
        account: AccountId(account),
        target: LiquidationTarget::Debt { debt, collateral },
        amount: amount(value),
        seed: 0,
    }
}

pub(crate) fn liquidate_loss(
    keeper: u64,
    account: u64,
    market: u16,
    collateral: AssetId,
    value: &str,
) -> Command {
    Command::Liquidate {
        keeper: AccountId(keeper),
        account: AccountId(account),
        target: LiquidationTarget::UnpaidLoss { market: PerpMarketId(market), collateral },
        amount: amount(value),
        seed: 0,
    }
}

pub(crate) fn liquidate_position(keeper: u64, account: u64, market: u16, value: &str) -> Command {
    Command::Liquidate {
        keeper: AccountId(keeper),
        account: AccountId(account),
        target: LiquidationTarget::Position { market: PerpMarketId(market) },
        amount: amount(value),
        seed: 0,
    }
}

pub(crate) fn take(keeper: u64, auction: u64, value: &str, max_price: &str) -> Command {
    Command::TakeAuction {
        keeper: AccountId(keeper),
        auction: AuctionId(auction),
        amount: amount(value),
        max_price: price(max_price),
    }
}

pub(crate) fn reset(auction: u64) -> Command {
    Command::ResetAuction { auction: AuctionId(auction) }
}

// ----- exact integer arithmetic for expectations -----

/// `a × b / 10^18` rounded down, for non-negative raw values below 10^19 each.
pub(crate) fn mul_floor(a: i128, b: i128) -> i128 {
    a.checked_mul(b).unwrap().div_euclid(SCALE)
}

/// `base^exponent` at scale 10^18 by repeated squaring, each product rounded down: the way the
/// Dutch-auction price curve is specified (not the exact power, which can be a few units higher).
pub(crate) fn ratio_pow_floor(base: Ratio, exponent: u64) -> Ratio {
    let (mut result, mut square, mut remaining) = (SCALE, base.raw(), exponent);
    while remaining > 0 {
        if remaining & 1 == 1 {
            result = mul_floor(result, square);
        }
        remaining >>= 1;
        if remaining > 0 {
            square = mul_floor(square, square);
        }
    }
    Ratio::from_raw(result)
}

/// The holding of an account in an asset: (balance, supply shares, debt shares).
pub(crate) fn holding(engine: &Engine, account: u64, asset: AssetId) -> (Amount, Shares, Shares) {
    let holding = engine.account(AccountId(account)).unwrap().holdings[asset.index()];
    (holding.balance, holding.supply_shares, holding.debt_shares)
}

/// An account's collateral balance of an asset.
pub(crate) fn balance(engine: &Engine, account: u64, asset: AssetId) -> Amount {
    holding(engine, account, asset).0
}

/// An account's position in a perpetual market: (base, quote).
pub(crate) fn position(engine: &Engine, account: u64, market: u16) -> (Amount, Amount) {
    let position = engine.account(AccountId(account)).unwrap().positions[usize::from(market)];
    (position.base, position.quote)
}

/// The venue's fee ledger of an asset.
pub(crate) fn fees(engine: &Engine, asset: AssetId) -> Amount {
    engine.state().fees[asset.index()]
}
