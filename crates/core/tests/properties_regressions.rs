//! Minimal regressions for engine bugs the property tests (and targeted searches near their
//! boundaries) found. Each test is a fixed command sequence on a fixture venue from
//! `backstop-testkit`, checked with `run_checked` (audit after every command); its doc comment
//! says what is expected, what the engine did when the bug was found, and where it was fixed.
//!
//! Run with `cargo test -p backstop-core --test properties_regressions`.

use backstop_core::{
    AccountId, AccountKind, AssetId, Command, Engine, Event, LiquidationTarget, PerpMarketId,
};
use backstop_money::{Amount, Price};
use backstop_testkit::{run_checked, venues};

const E18: i128 = 1_000_000_000_000_000_000;
const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const KEEPER: AccountId = AccountId(1);
const LENDER: AccountId = AccountId(2);
const VICTIM: AccountId = AccountId(3);
/// 0.001 ETH, raw.
const MILLI_ETH: i128 = 1_000_000_000_000_000;

fn amount(raw: i128) -> Amount {
    Amount::from_raw(raw)
}

fn price(raw: i128) -> Price {
    Price::from_raw(raw)
}

/// Runs commands with the audit after each and panics, naming it, if one is rejected.
fn run_ok(engine: &mut Engine, commands: &[Command]) -> Vec<Vec<Event>> {
    run_checked(engine, commands)
        .into_iter()
        .zip(commands)
        .map(|(result, command)| match result {
            Ok(events) => events,
            Err(rejection) => panic!("{command:?} was rejected: {rejection:?}"),
        })
        .collect()
}

fn open(account: AccountId) -> Command {
    Command::OpenAccount { account, kind: AccountKind::Regular }
}

/// Bad debt is never silent (docs/INVARIANTS.md): after a liquidation, an account left with
/// liabilities, no collateral and no open position has its shortfall moved to the deficit
/// ledger.
///
/// Dutch-auction venue: the victim borrows USDC (auctioned) and ETH (fixed bonus) against 10 ETH.
/// A crash makes it liquidatable; the USDC liquidation starts an auction of all 10 ETH; after
/// 24 price steps a keeper buys the whole lot for less than the tab. The auction ends with
/// nothing to return, and the victim is left owing 1 ETH with no collateral at all.
///
/// Expected: a `DeficitRecorded` for the ETH market (the account is bankrupt once its last
/// auction ends). Found by `bad_debt_is_never_left_silent_after_a_liquidation` against commit
/// 0ffabcb, where `end_auction` recorded only the auction's own unraised debt and never called
/// `record_deficits_if_bankrupt`, leaving the ETH debt on the account, unrecognised and
/// unliquidatable (`NoCollateral`). Fixed in f33242e (`take_auction` records the deficits of
/// an account its ended auction leaves bankrupt); this test keeps it fixed.
#[test]
fn an_auction_that_ends_with_nothing_left_records_the_accounts_other_debts() {
    let mut engine = venues::DUTCH_AUCTION.engine();
    let setup = [
        Command::SetPrice { asset: USDC, price: price(E18) },
        Command::SetPrice { asset: ETH, price: price(2_000 * E18) },
        open(KEEPER),
        open(LENDER),
        open(VICTIM),
        Command::Deposit { account: KEEPER, asset: USDC, amount: amount(100_000 * E18) },
        Command::Deposit { account: LENDER, asset: USDC, amount: amount(100_000 * E18) },
        Command::Supply { account: LENDER, asset: USDC, amount: amount(100_000 * E18) },
        Command::Deposit { account: LENDER, asset: ETH, amount: amount(100 * E18) },
        Command::Supply { account: LENDER, asset: ETH, amount: amount(100 * E18) },
        Command::Deposit { account: VICTIM, asset: ETH, amount: amount(10 * E18) },
        Command::Borrow { account: VICTIM, asset: USDC, amount: amount(10_000 * E18) },
        Command::Borrow { account: VICTIM, asset: ETH, amount: amount(E18) },
        Command::Withdraw { account: VICTIM, asset: USDC, amount: amount(10_000 * E18) },
        Command::Withdraw { account: VICTIM, asset: ETH, amount: amount(E18) },
        // 10 ETH × 1300 × 0.825 = 10,725 < 10,000 + 1,300: liquidatable.
        Command::SetPrice { asset: ETH, price: price(1_300 * E18) },
        Command::Liquidate {
            keeper: KEEPER,
            account: VICTIM,
            target: LiquidationTarget::Debt { debt: USDC, collateral: ETH },
            amount: amount(10_000 * E18),
            seed: 0,
        },
        // 24 steps of 60 s: 1,430 × 0.99^24 ≈ 1,123.6 per ETH; 10 ETH raise less than the tab.
        Command::AdvanceTime { now: 1_440 },
    ];
    run_ok(&mut engine, &setup);
    let take = Command::TakeAuction {
        keeper: KEEPER,
        auction: backstop_core::AuctionId(1),
        amount: amount(10 * E18),
        max_price: price(1_130 * E18),
    };
    let events = run_ok(&mut engine, std::slice::from_ref(&take)).concat();
    assert!(
        events.iter().any(
            |event| matches!(event, Event::AuctionEnded { returned, .. } if returned.is_zero())
        ),
        "the take should end the auction with nothing returned: {events:?}"
    );
    let victim = engine.account(VICTIM).cloned().unwrap_or_else(|| panic!("victim missing"));
    let eth_market = backstop_core::MarketRef::Lending(ETH);
    let recorded = events.iter().any(|event| {
        matches!(event, Event::DeficitRecorded { account, market, .. }
            if *account == VICTIM && *market == eth_market)
    });
    assert!(
        !victim.has_liabilities() || recorded,
        "after {take:?} the victim owes ETH with no collateral and no position, and no deficit \
         was recorded: {victim:?}\nevents: {events:?}"
    );
}

/// The liquidation index never misses an account (docs/INVARIANTS.md).
///
/// Lending-perp venue: the victim ends with 0.00000000001 USDC (10^7 raw) of collateral after
/// settling a small trade's PnL and withdrawing the whole micro-units, then buys 35,000 raw ETH
/// of ETH-PERP. At an ETH price just above the index key's liquidation point, the exact health
/// check finds the account liquidatable (rounding), so the index must return it too.
///
/// Expected: `liquidatable_accounts()` = `liquidatable_accounts_by_scan()` = [3]. Found against
/// 0ffabcb, where the index returned []: the perpetual keys carried a relative tolerance of
/// 10⁻⁹, but health rounds each value by up to one raw unit, which for a position whose notional
/// is below about 2·10⁹ raw units is more than 10⁻⁹ of it, and `perp_entry` had no small-position
/// guard. Fixed in f33242e (dust positions are kept out of the keys, and the perpetual
/// threshold has an absolute slack); `properties_index` now probes every liquidation point.
#[test]
fn the_index_finds_a_liquidatable_dust_perpetual_position() {
    let mut engine = venues::LENDING_PERP.engine();
    let market = PerpMarketId(0);
    let trade = |size: i128, at: i128| Command::Trade {
        market,
        taker: VICTIM,
        maker: KEEPER,
        size: amount(size),
        price: price(at),
    };
    let setup = [
        Command::SetPrice { asset: USDC, price: price(E18) },
        Command::SetPrice { asset: ETH, price: price(2_000 * E18) },
        open(KEEPER),
        open(VICTIM),
        Command::Deposit { account: KEEPER, asset: USDC, amount: amount(1_000_000 * E18) },
        Command::Deposit { account: VICTIM, asset: USDC, amount: amount(10 * E18) },
        // Open and close 0.001 ETH; the PnL minus fees leaves 10^7 raw beyond whole micro-USDC.
        trade(MILLI_ETH, 2_000 * E18),
        trade(-MILLI_ETH, 2_000 * E18 + 10_005_003_000),
        Command::Withdraw {
            account: VICTIM,
            asset: USDC,
            amount: amount(9_998_000_000_000_000_000),
        },
        trade(35_000, 2_000 * E18),
        Command::SetPrice { asset: ETH, price: price(1_835_639_099_744_360_902_253) },
    ];
    run_ok(&mut engine, &setup);
    let balance = engine.account(VICTIM).map(|victim| victim.holdings[0].balance);
    assert_eq!(balance, Some(amount(10_000_000)), "the setup should leave 10^7 raw USDC");
    assert_eq!(engine.liquidatable_accounts_by_scan(), vec![VICTIM], "the scan finds the victim");
    assert_eq!(
        engine.liquidatable_accounts(),
        vec![VICTIM],
        "the index misses a liquidatable dust position (candidates {:?})",
        engine.liquidation_candidates()
    );
}

/// The liquidation index never misses an account (docs/INVARIANTS.md).
///
/// Lending-perp venue: after a day of interest the ETH borrow index is 1.000051369863013699. The
/// victim deposits 0.000002 USDC (the smallest collateral 0ffabcb keyed), borrows 100,005,403
/// raw ETH (10⁻¹⁰ ETH) and withdraws it. At an ETH price of 17,999.027278565866300773 the
/// exact health check finds the account liquidatable, so the index must return it too.
///
/// Expected: `liquidatable_accounts()` = `liquidatable_accounts_by_scan()` = [3]. Found against
/// 0ffabcb, where the index returned []: health rounds the debt up to a whole raw unit
/// (`debt_of`, ceil), which for a debt of about 10⁸ raw units is 10⁻⁸ of it, ten times the
/// index's relative tolerance of 10⁻⁹, and `lending_entry` guarded against tiny collateral but
/// not tiny debt. Fixed in f33242e (dust debt is kept out of the keys).
#[test]
fn the_index_finds_a_liquidatable_dust_lending_debt() {
    let mut engine = venues::LENDING_PERP.engine();
    let commands = [
        Command::SetPrice { asset: USDC, price: price(E18) },
        Command::SetPrice { asset: ETH, price: price(2_000 * E18) },
        open(LENDER),
        open(KEEPER),
        open(VICTIM),
        Command::Deposit { account: LENDER, asset: ETH, amount: amount(100 * E18) },
        Command::Supply { account: LENDER, asset: ETH, amount: amount(100 * E18) },
        Command::Deposit { account: KEEPER, asset: USDC, amount: amount(1_000_000 * E18) },
        Command::Borrow { account: KEEPER, asset: ETH, amount: amount(50 * E18) },
        Command::AdvanceTime { now: 86_400 },
        Command::SetPrice { asset: USDC, price: price(E18) },
        Command::SetPrice { asset: ETH, price: price(2_000 * E18) },
        Command::Deposit { account: VICTIM, asset: USDC, amount: amount(2_000_000_000_000) },
        Command::Borrow { account: VICTIM, asset: ETH, amount: amount(100_005_403) },
        Command::Withdraw { account: VICTIM, asset: ETH, amount: amount(100_005_403) },
        Command::SetPrice { asset: ETH, price: price(17_999_027_278_565_866_300_773) },
    ];
    run_ok(&mut engine, &commands);
    assert_eq!(engine.liquidatable_accounts_by_scan(), vec![VICTIM], "the scan finds the victim");
    assert_eq!(
        engine.liquidatable_accounts(),
        vec![VICTIM],
        "the index misses a liquidatable dust debt (candidates {:?})",
        engine.liquidation_candidates()
    );
}

/// A takeover moves the liquidated account's collateral, debt and positions to the backstop
/// account, and leaves its lending supply with it: supply shares are a lender's claim, not
/// collateral (docs/decisions/0003), so they were never margin for the debt taken over.
///
/// Takeover venue: the victim supplies 1,000 USDC, borrows 14,000 USDC against 10 ETH and is
/// taken over after ETH falls to 1,400. The backstop receives the 10 ETH and the 14,000 USDC of
/// debt; the victim keeps its 1,000 USDC of supply shares and owes nothing.
#[test]
fn a_takeover_leaves_supply_shares_with_the_owner() {
    let mut engine = venues::TAKEOVER.engine();
    let commands = [
        Command::SetPrice { asset: USDC, price: price(E18) },
        Command::SetPrice { asset: ETH, price: price(2_000 * E18) },
        open(KEEPER),
        open(VICTIM),
        Command::OpenAccount { account: venues::BACKSTOP_ACCOUNT, kind: AccountKind::Backstop },
        Command::Deposit { account: KEEPER, asset: USDC, amount: amount(100_000 * E18) },
        Command::Supply { account: KEEPER, asset: USDC, amount: amount(100_000 * E18) },
        Command::Deposit { account: VICTIM, asset: ETH, amount: amount(10 * E18) },
        Command::Deposit { account: VICTIM, asset: USDC, amount: amount(1_000 * E18) },
        Command::Supply { account: VICTIM, asset: USDC, amount: amount(1_000 * E18) },
        Command::Borrow { account: VICTIM, asset: USDC, amount: amount(14_000 * E18) },
        Command::Withdraw { account: VICTIM, asset: USDC, amount: amount(14_000 * E18) },
        Command::SetPrice { asset: ETH, price: price(1_400 * E18) },
        Command::Liquidate {
            keeper: KEEPER,
            account: VICTIM,
            target: LiquidationTarget::Debt { debt: USDC, collateral: ETH },
            amount: amount(E18),
            seed: 0,
        },
    ];
    run_ok(&mut engine, &commands);
    let victim = engine.account(VICTIM).cloned().unwrap_or_else(|| panic!("victim missing"));
    assert_eq!(victim.holdings[USDC.index()].supply_shares.raw(), 1_000 * E18);
    assert!(!victim.has_liabilities(), "the victim still owes: {victim:?}");
    assert!(victim.has_no_collateral(), "the victim kept collateral: {victim:?}");
}
