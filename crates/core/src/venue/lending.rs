//! Lending markets: supply and borrow per asset through share indices, interest on a kinked
//! rate curve, and the take rate (reserve factor) kept by the venue.
//!
//! Rounding (always in the venue's favour): supply shares minted down and burned up; debt shares
//! added up and removed down; supplier value rounded down, debt value rounded up; the borrow index
//! grows rounded up and the supply index rounded down.
//!
//! Invariant kept here (I5 in docs/INVARIANTS.md): supplier claims ≤ cash + total debt + deficit.

use crate::config::{LendingMarketConfig, RateCurve};
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId};
use crate::rejection::Rejection;
use backstop_money::{Amount, Ratio, Rounding, SCALE, Shares, mul_div};
use serde::{Deserialize, Serialize};

/// Seconds in the 365-day year that interest rates are quoted per.
pub const YEAR_SECS: i128 = 31_536_000;

/// State of one lending market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LendingMarket {
    /// Tokens held by the market (supplied, not lent out).
    pub cash: Amount,
    /// All supply shares, including the venue's reserve shares.
    pub supply_shares: Shares,
    /// Supply shares owned by the venue (its take of interest).
    pub reserve_shares: Shares,
    /// Value of one supply share.
    pub supply_index: Ratio,
    /// All debt shares.
    pub debt_shares: Shares,
    /// Debt owed per debt share.
    pub borrow_index: Ratio,
    /// Time of the last accrual (s).
    pub last_accrual: u64,
    /// Bad debt recognised and not yet covered (owed to suppliers).
    pub deficit: Amount,
    /// Debt moved into running liquidation auctions (fixed, no longer accruing).
    pub auction_debt: Amount,
}

impl LendingMarket {
    /// An empty market with both indices at one.
    #[must_use]
    pub fn new(now: u64) -> LendingMarket {
        LendingMarket {
            cash: Amount::ZERO,
            supply_shares: Shares::ZERO,
            reserve_shares: Shares::ZERO,
            supply_index: Ratio::ONE,
            debt_shares: Shares::ZERO,
            borrow_index: Ratio::ONE,
            last_accrual: now,
            deficit: Amount::ZERO,
            auction_debt: Amount::ZERO,
        }
    }

    /// Debt owed for `shares` debt shares, rounded up.
    ///
    /// # Errors
    /// Overflow.
    pub fn debt_of(&self, shares: Shares) -> Result<Amount, Rejection> {
        mul_div(shares.raw(), self.borrow_index.raw(), SCALE, Rounding::Ceil)
            .map(Amount::from_raw)
            .map_err(Rejection::from_money("debt"))
    }

    /// Value of `shares` supply shares, rounded down.
    ///
    /// # Errors
    /// Overflow.
    pub fn supply_value_of(&self, shares: Shares) -> Result<Amount, Rejection> {
        mul_div(shares.raw(), self.supply_index.raw(), SCALE, Rounding::Floor)
            .map(Amount::from_raw)
            .map_err(Rejection::from_money("supply value"))
    }

    /// Total debt of the market, rounded up.
    ///
    /// # Errors
    /// Overflow.
    pub fn total_debt(&self) -> Result<Amount, Rejection> {
        self.debt_of(self.debt_shares)
    }

    /// What all suppliers (including the venue's reserve) can claim, rounded down.
    ///
    /// # Errors
    /// Overflow.
    pub fn supplier_claims(&self) -> Result<Amount, Rejection> {
        self.supply_value_of(self.supply_shares)
    }

    /// Debt / (cash + debt), rounded down; zero for an empty market.
    ///
    /// # Errors
    /// Overflow.
    pub fn utilization(&self) -> Result<Ratio, Rejection> {
        let debt = self.total_debt()?;
        let assets = self.cash.checked_add(debt).map_err(Rejection::from_money("utilization"))?;
        if assets.is_zero() {
            return Ok(Ratio::ZERO);
        }
        Ratio::from_fraction(debt, assets, Rounding::Floor)
            .map_err(Rejection::from_money("utilization"))
    }

    /// Brings the indices to time `now`; returns the event when interest accrued.
    ///
    /// # Errors
    /// Overflow.
    pub fn accrue(
        &mut self,
        asset: AssetId,
        config: &LendingMarketConfig,
        now: u64,
    ) -> Result<Option<Event>, Rejection> {
        let elapsed_secs = now.saturating_sub(self.last_accrual);
        self.last_accrual = self.last_accrual.max(now);
        if elapsed_secs == 0 || self.debt_shares.is_zero() {
            return Ok(None);
        }
        let overflow = Rejection::from_money("interest accrual");
        let borrow_rate = borrow_rate(&config.rate, self.utilization()?)?;
        // Growth over the period, rounded up: borrowers pay for every started raw unit.
        let growth =
            mul_div(borrow_rate.raw(), i128::from(elapsed_secs), YEAR_SECS, Rounding::Ceil)
                .map_err(&overflow)?;
        let factor = Ratio::ONE.checked_add(Ratio::from_raw(growth)).map_err(&overflow)?;
        let debt_before = self.total_debt()?;
        self.borrow_index =
            self.borrow_index.mul_ratio(factor, Rounding::Ceil).map_err(&overflow)?;
        let interest = self.total_debt()?.checked_sub(debt_before).map_err(&overflow)?;
        // The venue's take, rounded up; suppliers get the rest.
        let reserve =
            interest.mul_ratio(config.reserve_factor, Rounding::Ceil).map_err(&overflow)?;
        let to_suppliers = interest.checked_sub(reserve).map_err(&overflow)?;
        self.credit_suppliers(to_suppliers, reserve)?;
        Ok(Some(Event::InterestAccrued {
            asset,
            borrow_rate,
            interest,
            reserve,
            borrow_index: self.borrow_index,
            supply_index: self.supply_index,
        }))
    }

    /// Raises the supply index by `to_suppliers` (rounded down) and mints reserve shares worth
    /// at most `reserve`. Claims grow by at most `to_suppliers + reserve`.
    ///
    /// # Errors
    /// Overflow.
    pub fn credit_suppliers(
        &mut self,
        to_suppliers: Amount,
        reserve: Amount,
    ) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("supply index");
        if self.supply_shares.is_positive() {
            let step =
                mul_div(to_suppliers.raw(), SCALE, self.supply_shares.raw(), Rounding::Floor)
                    .map_err(&overflow)?;
            self.supply_index =
                self.supply_index.checked_add(Ratio::from_raw(step)).map_err(&overflow)?;
        }
        let reserve_shares =
            mul_div(reserve.raw(), SCALE, self.supply_index.raw(), Rounding::Floor)
                .map(Shares::from_raw)
                .map_err(&overflow)?;
        self.reserve_shares = self.reserve_shares.checked_add(reserve_shares).map_err(&overflow)?;
        self.supply_shares = self.supply_shares.checked_add(reserve_shares).map_err(&overflow)?;
        Ok(())
    }
}

/// Cuts the supply index so suppliers' claims fall by at least `loss` (the cut is rounded up and
/// floored at a zero index); returns the index before. Used to socialise a deficit.
///
/// # Errors
/// Overflow.
pub fn haircut_supply_index(market: &mut LendingMarket, loss: Amount) -> Result<Ratio, Rejection> {
    let index_before = market.supply_index;
    if !market.supply_shares.is_positive() {
        return Ok(index_before);
    }
    let cut = mul_div(loss.raw(), SCALE, market.supply_shares.raw(), Rounding::Ceil)
        .map_err(Rejection::from_money("socialisation"))?
        .min(index_before.raw());
    market.supply_index = Ratio::from_raw(index_before.raw().saturating_sub(cut));
    Ok(index_before)
}

/// Borrow rate per year at a utilisation, on a curve with one kink.
///
/// # Errors
/// Overflow (not reachable with a validated curve).
pub fn borrow_rate(curve: &RateCurve, utilization: Ratio) -> Result<Ratio, Rejection> {
    let overflow = Rejection::from_money("borrow rate");
    let below_kink = utilization.min(curve.kink);
    // slope1 × min(u, kink) / kink, rounded up (borrowers pay).
    let first = curve.slope1.mul_div(below_kink, curve.kink, Rounding::Ceil).map_err(&overflow)?;
    let mut rate = curve.base.checked_add(first).map_err(&overflow)?;
    if utilization > curve.kink {
        let excess = utilization.checked_sub(curve.kink).map_err(&overflow)?;
        let span = Ratio::ONE.checked_sub(curve.kink).map_err(&overflow)?;
        let second = curve.slope2.mul_div(excess, span, Rounding::Ceil).map_err(&overflow)?;
        rate = rate.checked_add(second).map_err(&overflow)?;
    }
    Ok(rate)
}

impl Engine {
    pub(crate) fn supply(
        &mut self,
        id: AccountId,
        asset: AssetId,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_amount(asset, amount, "amount")?;
        let mut market = self.lending_market(asset)?.clone();
        let mut account = self.load_account(id)?;
        self.check_not_in_auction(id, &account)?;
        self.check_status_allows_new_deposits()?;
        let overflow = Rejection::from_money("supply");
        // Shares minted rounded down: the supplier never gets more than it brought.
        let shares = mul_div(amount.raw(), SCALE, market.supply_index.raw(), Rounding::Floor)
            .map(Shares::from_raw)
            .map_err(&overflow)?;
        if shares.is_zero() {
            return Err(Rejection::ZeroShares { asset });
        }
        let holding = holding_mut(&mut account, asset)?;
        holding.balance = debit(id, asset, holding.balance, amount)?;
        holding.supply_shares = holding.supply_shares.checked_add(shares).map_err(&overflow)?;
        market.cash = market.cash.checked_add(amount).map_err(&overflow)?;
        market.supply_shares = market.supply_shares.checked_add(shares).map_err(&overflow)?;
        // Supplied tokens are not collateral: moving collateral into supply is a withdrawal as
        // far as the account's margin is concerned.
        self.require_initial_health(id, &account)?;
        self.commit_lending(asset, market);
        self.commit_account(id, account);
        Ok(vec![Event::Supplied { account: id, asset, amount, shares }])
    }

    pub(crate) fn withdraw_supply(
        &mut self,
        id: AccountId,
        asset: AssetId,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_amount(asset, amount, "amount")?;
        let mut market = self.lending_market(asset)?.clone();
        let mut account = self.load_account(id)?;
        self.check_withdrawals_not_gated()?;
        let overflow = Rejection::from_money("withdraw supply");
        // Shares burned rounded up: the supplier gives up at least what it takes.
        let shares = mul_div(amount.raw(), SCALE, market.supply_index.raw(), Rounding::Ceil)
            .map(Shares::from_raw)
            .map_err(&overflow)?;
        let holding = holding_mut(&mut account, asset)?;
        if shares > holding.supply_shares {
            let available = market.supply_value_of(holding.supply_shares)?;
            return Err(Rejection::InsufficientBalance {
                account: id,
                asset,
                available,
                needed: amount,
            });
        }
        // Short of cash: the emergency liquidity facilities lend the shortfall, or refuse.
        let loans = self.plan_facility_loans(asset, market.cash, amount)?;
        holding.supply_shares = holding.supply_shares.checked_sub(shares).map_err(&overflow)?;
        holding.balance = holding.balance.checked_add(amount).map_err(&overflow)?;
        market.cash = market.cash.checked_sub(amount).map_err(&overflow)?;
        market.supply_shares = market.supply_shares.checked_sub(shares).map_err(&overflow)?;
        let mut events = self.lend_from_facilities(asset, &mut market, &loans)?;
        self.commit_lending(asset, market);
        self.commit_account(id, account);
        events.push(Event::SupplyWithdrawn { account: id, asset, amount, shares });
        Ok(events)
    }

    pub(crate) fn borrow(
        &mut self,
        id: AccountId,
        asset: AssetId,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_amount(asset, amount, "amount")?;
        let mut market = self.lending_market(asset)?.clone();
        let config = self.lending_config(asset)?;
        if !config.borrow_enabled {
            return Err(Rejection::BorrowingDisabled { asset });
        }
        let mut account = self.load_account(id)?;
        self.check_not_in_auction(id, &account)?;
        self.check_status_allows_new_risk()?;
        if amount > market.cash {
            return Err(Rejection::InsufficientLiquidity {
                asset,
                available: market.cash,
                needed: amount,
            });
        }
        let overflow = Rejection::from_money("borrow");
        // Debt shares added rounded up: the borrower owes at least what it took.
        let debt_shares = mul_div(amount.raw(), SCALE, market.borrow_index.raw(), Rounding::Ceil)
            .map(Shares::from_raw)
            .map_err(&overflow)?;
        let holding = holding_mut(&mut account, asset)?;
        holding.debt_shares = holding.debt_shares.checked_add(debt_shares).map_err(&overflow)?;
        holding.balance = holding.balance.checked_add(amount).map_err(&overflow)?;
        market.cash = market.cash.checked_sub(amount).map_err(&overflow)?;
        market.debt_shares = market.debt_shares.checked_add(debt_shares).map_err(&overflow)?;
        // The health check must see the market's new debt index state, which is unchanged here
        // (indices move only on accrual), so checking against the current state is exact.
        self.require_initial_health(id, &account)?;
        self.commit_lending(asset, market);
        self.commit_account(id, account);
        Ok(vec![Event::Borrowed { account: id, asset, amount, debt_shares }])
    }

    pub(crate) fn repay(
        &mut self,
        id: AccountId,
        asset: AssetId,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_amount(asset, amount, "amount")?;
        let mut market = self.lending_market(asset)?.clone();
        let mut account = self.load_account(id)?;
        let holding = holding_mut(&mut account, asset)?;
        if holding.debt_shares.is_zero() {
            return Err(Rejection::NoDebt { account: id, asset });
        }
        let (paid, shares) = repayment(&market, holding.debt_shares, amount)?;
        let overflow = Rejection::from_money("repay");
        holding.balance = debit(id, asset, holding.balance, paid)?;
        holding.debt_shares = holding.debt_shares.checked_sub(shares).map_err(&overflow)?;
        market.cash = market.cash.checked_add(paid).map_err(&overflow)?;
        market.debt_shares = market.debt_shares.checked_sub(shares).map_err(&overflow)?;
        self.commit_lending(asset, market);
        self.commit_account(id, account);
        Ok(vec![Event::Repaid { account: id, asset, amount: paid, debt_shares: shares }])
    }

    pub(crate) fn accrue_interest_command(
        &mut self,
        asset: AssetId,
    ) -> Result<Vec<Event>, Rejection> {
        let mut market = self.lending_market(asset)?.clone();
        let config = self.lending_config(asset)?;
        let event = market.accrue(asset, config, self.state.now)?;
        self.commit_lending(asset, market);
        Ok(event.into_iter().collect())
    }

    /// The configuration of an asset's lending market.
    pub(crate) fn lending_config(&self, asset: AssetId) -> Result<&LendingMarketConfig, Rejection> {
        self.check_asset(asset)?;
        self.lending_config_at(asset.index()).ok_or(Rejection::UnknownLendingMarket { asset })
    }

    /// The configuration of the lending market of the asset at `index`, if any.
    pub(crate) fn lending_config_at(&self, index: usize) -> Option<&LendingMarketConfig> {
        let slot = self.tables.lending_slot.get(index).copied().flatten()?;
        self.config.lending.get(slot)
    }
}

/// What repaying up to `amount` of a debt of `debt_shares` costs and removes: `(paid, shares)`.
///
/// Repaying the whole debt (or more) pays the debt rounded up and removes every share; a
/// partial repayment removes shares rounded down.
pub(crate) fn repayment(
    market: &LendingMarket,
    debt_shares: Shares,
    amount: Amount,
) -> Result<(Amount, Shares), Rejection> {
    let debt = market.debt_of(debt_shares)?;
    if amount >= debt {
        return Ok((debt, debt_shares));
    }
    let shares = mul_div(amount.raw(), SCALE, market.borrow_index.raw(), Rounding::Floor)
        .map(Shares::from_raw)
        .map_err(Rejection::from_money("repayment"))?;
    Ok((amount, shares.min(debt_shares)))
}

/// The holding of an asset in an account.
pub(crate) fn holding_mut(
    account: &mut crate::account::Account,
    asset: AssetId,
) -> Result<&mut crate::account::AssetHolding, Rejection> {
    account.holdings.get_mut(asset.index()).ok_or(Rejection::UnknownAsset { asset })
}

/// `balance − amount`, or [`Rejection::InsufficientBalance`].
pub(crate) fn debit(
    account: AccountId,
    asset: AssetId,
    balance: Amount,
    amount: Amount,
) -> Result<Amount, Rejection> {
    if amount > balance {
        return Err(Rejection::InsufficientBalance {
            account,
            asset,
            available: balance,
            needed: amount,
        });
    }
    balance.checked_sub(amount).map_err(Rejection::from_money("balance"))
}
