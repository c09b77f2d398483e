//! Steps: commands, or markers that become commands once the engine's state is known.
//!
//! Generators cannot see the engine, so a step may name an intent — "liquidate whatever is
//! liquidatable", "withdraw 40% of the balance", "move the price by −60%", "trade near the
//! oracle" — and [`expand`] turns it into concrete commands against the current state. The
//! expansion is deterministic, so the same steps on the same engine give the same commands; the
//! runner records the commands it applied, and replaying those needs no markers.

use backstop_core::{
    AccountId, AssetId, AuctionId, Command, Engine, LiquidationTarget, PerpMarketId,
};
use backstop_money::{Amount, Price, Rounding, SCALE, mul_div};

/// One basis point scale: 10,000 bps is the whole.
pub const BPS: i128 = 10_000;

/// An amount-taking action whose amount is a fraction of what the account has or may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizedAction {
    /// Withdraw a fraction of the collateral balance.
    Withdraw,
    /// Supply a fraction of the collateral balance.
    Supply,
    /// Withdraw a fraction of the supply position's value.
    WithdrawSupply,
    /// Borrow a fraction of the borrowing capacity (initial margin surplus, capped by cash).
    Borrow,
    /// Repay a fraction of the debt (more than 100% repays everything).
    Repay,
}

/// A command, or a marker the runner expands using the engine's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Apply this command as it is.
    Apply(Command),
    /// Advance the clock by this many seconds.
    AdvanceBy {
        /// Seconds to add to the current time.
        secs: u64,
    },
    /// Set an asset's price to its current price × (1 + `change_bps` / 10,000).
    MovePrice {
        /// The asset.
        asset: AssetId,
        /// Relative change in basis points (−8,000 is an 80% crash).
        change_bps: i32,
        /// Price to start from when the asset has never been priced.
        fallback: Price,
    },
    /// Set every priced asset to its current price again, so no price is stale.
    RefreshPrices,
    /// Withdraw, supply, withdraw supply, borrow or repay a fraction of what is available.
    Sized {
        /// What to do.
        action: SizedAction,
        /// The account.
        account: AccountId,
        /// The asset.
        asset: AssetId,
        /// Fraction in basis points (10,000 = all of it; more asks for too much).
        fraction_bps: u32,
        /// Round the amount down to the asset's decimals (otherwise it may be too precise).
        quantise: bool,
    },
    /// Trade at the oracle price × (1 + `offset_bps` / 10,000).
    Trade {
        /// The market.
        market: PerpMarketId,
        /// The taker.
        taker: AccountId,
        /// The maker.
        maker: AccountId,
        /// Base bought by the taker (negative: sold).
        size: Amount,
        /// Distance from the oracle price in basis points.
        offset_bps: i32,
    },
    /// Reduces or closes (at 10,000 bps) an account's position with a counterparty, at the oracle
    /// price × (1 + `offset_bps` / 10,000); nothing when the account has no open position.
    ClosePosition {
        /// The market.
        market: PerpMarketId,
        /// The account whose position shrinks (the taker).
        account: AccountId,
        /// The other side (another account is used when it is the same).
        counterparty: AccountId,
        /// Fraction of the position to close, in basis points.
        fraction_bps: u32,
        /// Distance from the oracle price in basis points.
        offset_bps: i32,
    },
    /// A keeper liquidates one of `engine.liquidatable_accounts()` (nothing when none is).
    Keeper {
        /// The keeper (another account is used when it is the one liquidated).
        keeper: AccountId,
        /// Chooses the account and the target among those available.
        pick: u32,
        /// Fraction of the debt or position to liquidate, in basis points.
        fraction_bps: u32,
    },
    /// A keeper buys from a running auction at its current price (nothing when none runs).
    TakeAuction {
        /// The buyer.
        keeper: AccountId,
        /// Chooses the auction.
        pick: u32,
        /// Fraction of the lot to buy, in basis points.
        fraction_bps: u32,
        /// Offer one raw unit below the current price (the take is refused).
        below_price: bool,
    },
    /// Resets one of the running auctions (nothing when none runs).
    ResetAuction {
        /// Chooses the auction.
        pick: u32,
    },
}

impl From<Command> for Step {
    fn from(command: Command) -> Step {
        Step::Apply(command)
    }
}

/// `value × bps / 10,000`, rounded down.
#[must_use]
pub fn fraction_of(value: Amount, bps: u32) -> Amount {
    mul_div(value.raw(), i128::from(bps), BPS, Rounding::Floor).map_or(value, Amount::from_raw)
}

/// The raw size of one smallest unit of an asset in this engine's venue.
#[must_use]
pub fn quantum(engine: &Engine, asset: AssetId) -> i128 {
    let decimals = engine.config().assets.get(asset.index()).map_or(18, |asset| asset.decimals);
    10_i128.pow(backstop_money::SCALE_DECIMALS.saturating_sub(decimals))
}

/// Rounds an amount down to a multiple of `quantum` (toward zero).
#[must_use]
pub fn quantise_down(amount: Amount, quantum: i128) -> Amount {
    if quantum <= 1 {
        return amount;
    }
    Amount::from_raw(amount.raw() - amount.raw() % quantum)
}

/// The current price of an asset as stored (zero when never priced; may be stale).
#[must_use]
pub fn stored_price(engine: &Engine, asset: AssetId) -> Price {
    engine.state().prices.get(asset.index()).map_or(Price::ZERO, |entry| entry.price)
}

/// The concrete commands a step stands for in the engine's current state (possibly none).
#[must_use]
pub fn expand(engine: &Engine, step: &Step) -> Vec<Command> {
    match step {
        Step::Apply(command) => vec![command.clone()],
        Step::AdvanceBy { secs } => {
            vec![Command::AdvanceTime { now: engine.state().now.saturating_add(*secs) }]
        }
        Step::MovePrice { asset, change_bps, fallback } => {
            let current = stored_price(engine, *asset);
            let start = if current.is_positive() { current } else { *fallback };
            let factor = BPS.saturating_add(i128::from(*change_bps));
            let price = mul_div(start.raw(), factor, BPS, Rounding::Floor)
                .map_or(Price::ZERO, Price::from_raw);
            vec![Command::SetPrice { asset: *asset, price }]
        }
        Step::RefreshPrices => engine
            .state()
            .prices
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.price.is_positive())
            .map(|(index, entry)| Command::SetPrice {
                asset: AssetId(u16::try_from(index).unwrap_or(u16::MAX)),
                price: entry.price,
            })
            .collect(),
        Step::Sized { action, account, asset, fraction_bps, quantise } => {
            vec![expand_sized(engine, *action, *account, *asset, *fraction_bps, *quantise)]
        }
        Step::Trade { market, taker, maker, size, offset_bps } => {
            let price = trade_price(engine, *market, *offset_bps);
            vec![Command::Trade {
                market: *market,
                taker: *taker,
                maker: *maker,
                size: *size,
                price,
            }]
        }
        Step::ClosePosition { market, account, counterparty, fraction_bps, offset_bps } => {
            let base = engine
                .account(*account)
                .and_then(|found| found.positions.get(market.index()).copied())
                .map_or(Amount::ZERO, |position| position.base);
            if base.is_zero() {
                return Vec::new();
            }
            let maker = if counterparty == account {
                match engine.state().accounts.keys().copied().find(|id| id != account) {
                    Some(other) => other,
                    None => return Vec::new(),
                }
            } else {
                *counterparty
            };
            let mut size = fraction_of(base, *fraction_bps).checked_neg().unwrap_or_default();
            if size.is_zero() {
                size = Amount::from_raw(-base.raw().signum());
            }
            let price = trade_price(engine, *market, *offset_bps);
            vec![Command::Trade { market: *market, taker: *account, maker, size, price }]
        }
        Step::Keeper { keeper, pick, fraction_bps } => {
            expand_keeper(engine, *keeper, *pick, *fraction_bps).into_iter().collect()
        }
        Step::TakeAuction { keeper, pick, fraction_bps, below_price } => {
            expand_take(engine, *keeper, *pick, *fraction_bps, *below_price).into_iter().collect()
        }
        Step::ResetAuction { pick } => {
            let auctions: Vec<AuctionId> = engine.state().auctions.keys().copied().collect();
            pick_from(&auctions, *pick)
                .map(|auction| Command::ResetAuction { auction })
                .into_iter()
                .collect()
        }
    }
}

/// The market's index price (underlying price / settlement price, rounded down; zero when
/// either is unset) × (1 + `offset_bps` / 10,000), rounded down.
fn trade_price(engine: &Engine, market: PerpMarketId, offset_bps: i32) -> Price {
    let config = engine.config();
    let (underlying, settlement) = config
        .perps
        .get(market.index())
        .map(|perp| (config.asset_id(&perp.underlying), config.asset_id(&perp.settlement)))
        .unwrap_or_default();
    let mark = mark_price(
        stored_price(engine, underlying.unwrap_or(AssetId(0))),
        stored_price(engine, settlement.unwrap_or(AssetId(0))),
    );
    offset_price(mark, offset_bps)
}

/// Underlying price / settlement price, rounded down (zero when the settlement price is zero).
#[must_use]
pub fn mark_price(underlying: Price, settlement: Price) -> Price {
    mul_div(underlying.raw(), SCALE, settlement.raw(), Rounding::Floor)
        .map_or(Price::ZERO, Price::from_raw)
}

/// `price × (1 + offset_bps / 10,000)`, rounded down (zero on overflow).
#[must_use]
pub fn offset_price(price: Price, offset_bps: i32) -> Price {
    let factor = BPS.saturating_add(i128::from(offset_bps));
    mul_div(price.raw(), factor, BPS, Rounding::Floor).map_or(Price::ZERO, Price::from_raw)
}

/// The element at `pick` modulo the length, if any.
fn pick_from<T: Copy>(items: &[T], pick: u32) -> Option<T> {
    let length = u32::try_from(items.len()).ok().filter(|length| *length > 0)?;
    items.get(usize::try_from(pick % length).ok()?).copied()
}

fn expand_sized(
    engine: &Engine,
    action: SizedAction,
    account: AccountId,
    asset: AssetId,
    fraction_bps: u32,
    quantise: bool,
) -> Command {
    let holding = engine
        .account(account)
        .and_then(|found| found.holdings.get(asset.index()).copied())
        .unwrap_or_default();
    let market = engine.state().lending.get(asset.index()).and_then(Option::as_ref);
    let base = match action {
        SizedAction::Withdraw | SizedAction::Supply => holding.balance,
        SizedAction::WithdrawSupply => market
            .and_then(|market| market.supply_value_of(holding.supply_shares).ok())
            .unwrap_or_default(),
        SizedAction::Repay => {
            market.and_then(|market| market.debt_of(holding.debt_shares).ok()).unwrap_or_default()
        }
        SizedAction::Borrow => borrow_capacity(engine, account, asset),
    };
    let quantum = quantum(engine, asset);
    let mut amount = fraction_of(base, fraction_bps);
    if quantise {
        amount = quantise_down(amount, quantum);
    }
    if !amount.is_positive() {
        amount = Amount::from_raw(if quantise { quantum } else { 1 });
    }
    match action {
        SizedAction::Withdraw => Command::Withdraw { account, asset, amount },
        SizedAction::Supply => Command::Supply { account, asset, amount },
        SizedAction::WithdrawSupply => Command::WithdrawSupply { account, asset, amount },
        SizedAction::Borrow => Command::Borrow { account, asset, amount },
        SizedAction::Repay => Command::Repay { account, asset, amount },
    }
}

/// What an account could borrow of an asset: its initial margin surplus at the asset's price,
/// capped by the market's cash (zero when unknown).
fn borrow_capacity(engine: &Engine, account: AccountId, asset: AssetId) -> Amount {
    let cash = engine
        .state()
        .lending
        .get(asset.index())
        .and_then(Option::as_ref)
        .map_or(Amount::ZERO, |market| market.cash);
    let price = stored_price(engine, asset);
    let Ok(health) = engine.health(account) else { return cash };
    let surplus = health.initial_margin.checked_sub(health.initial_requirement).unwrap_or_default();
    if !price.is_positive() || !surplus.is_positive() {
        return Amount::ZERO;
    }
    surplus.quantity_at(price, Rounding::Floor).unwrap_or_default().min(cash)
}

/// Every liquidation target an account offers, in a fixed order.
#[must_use]
pub fn liquidation_targets(
    engine: &Engine,
    account: AccountId,
) -> Vec<(LiquidationTarget, Amount)> {
    let Some(found) = engine.account(account) else { return Vec::new() };
    let collaterals: Vec<AssetId> = found
        .holdings
        .iter()
        .enumerate()
        .filter(|(_, holding)| holding.balance.is_positive())
        .map(|(index, _)| AssetId(u16::try_from(index).unwrap_or(u16::MAX)))
        .collect();
    let mut targets = Vec::new();
    for (index, holding) in found.holdings.iter().enumerate() {
        if !holding.debt_shares.is_positive() {
            continue;
        }
        let debt = AssetId(u16::try_from(index).unwrap_or(u16::MAX));
        let owed = engine
            .state()
            .lending
            .get(index)
            .and_then(Option::as_ref)
            .and_then(|market| market.debt_of(holding.debt_shares).ok())
            .unwrap_or_default();
        for collateral in &collaterals {
            targets.push((LiquidationTarget::Debt { debt, collateral: *collateral }, owed));
        }
    }
    for (index, position) in found.positions.iter().enumerate() {
        let market = PerpMarketId(u16::try_from(index).unwrap_or(u16::MAX));
        if !position.base.is_zero() {
            let size = position.base.checked_abs().unwrap_or_default();
            targets.push((LiquidationTarget::Position { market }, size));
        } else if position.quote.is_negative() {
            let loss = position.quote.checked_neg().unwrap_or_default();
            for collateral in &collaterals {
                targets.push((
                    LiquidationTarget::UnpaidLoss { market, collateral: *collateral },
                    loss,
                ));
            }
        }
    }
    targets
}

fn expand_keeper(
    engine: &Engine,
    keeper: AccountId,
    pick: u32,
    fraction_bps: u32,
) -> Option<Command> {
    // Accounts whose collateral is in an auction cannot be liquidated again; prefer the others.
    let all = engine.liquidatable_accounts();
    let free: Vec<AccountId> = all
        .iter()
        .copied()
        .filter(|id| engine.account(*id).is_some_and(|found| found.auctions_running == 0))
        .collect();
    let victims = if free.is_empty() || pick.is_multiple_of(8) { all } else { free };
    let account = pick_from(&victims, pick)?;
    let targets = liquidation_targets(engine, account);
    let spread = u32::try_from(victims.len()).unwrap_or(1).max(1);
    let (target, size) = pick_from(&targets, pick / spread)?;
    let keeper = if keeper == account {
        engine.state().accounts.keys().copied().find(|id| *id != account)?
    } else {
        keeper
    };
    let mut amount = fraction_of(size, fraction_bps);
    if !amount.is_positive() {
        amount = Amount::from_raw(1);
    }
    Some(Command::Liquidate { keeper, account, target, amount, seed: 0 })
}

fn expand_take(
    engine: &Engine,
    keeper: AccountId,
    pick: u32,
    fraction_bps: u32,
    below_price: bool,
) -> Option<Command> {
    let auctions: Vec<AuctionId> = engine.state().auctions.keys().copied().collect();
    let auction = pick_from(&auctions, pick)?;
    let (price, needs_reset) = engine.auction_price(auction).ok()?;
    if needs_reset {
        return Some(Command::ResetAuction { auction });
    }
    let running = engine.state().auctions.get(&auction)?;
    let lot = running.lot;
    // The liquidated account may not buy its own collateral; use another account (mostly).
    let keeper = if keeper == running.account && !pick.is_multiple_of(8) {
        engine.state().accounts.keys().copied().find(|id| *id != running.account)?
    } else {
        keeper
    };
    let mut amount = fraction_of(lot, fraction_bps);
    if !amount.is_positive() {
        amount = Amount::from_raw(1);
    }
    let max_price =
        if below_price { Price::from_raw(price.raw().saturating_sub(1)) } else { price };
    Some(Command::TakeAuction { keeper, auction, amount, max_price })
}

/// A whole-unit amount: `units × 10^18` raw (saturating).
#[must_use]
pub fn units(units: i128) -> Amount {
    Amount::from_raw(units.saturating_mul(SCALE))
}
