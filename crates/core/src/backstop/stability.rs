//! Stability pool (Liquity v1/v2): depositors put the debt asset in; when a borrower is
//! liquidated the pool's deposits pay the borrower's debt (they are *burned* into the lending
//! market's cash) and the pool receives the borrower's collateral, which depositors share pro
//! rata. What the pool cannot absorb is redistributed to the market's other borrowers.
//!
//! # Product–sum accounting (Liquity paper, "Scalable reward distribution with compounding
//! stakes")
//!
//! Depositors are never iterated. The pool keeps a running product `P` and running sums `S`:
//!
//! - an offset of debt `D` with collateral `C` against total deposits `L` first adds
//!   `C × P / L` to `S[scale][asset]` (the gain per unit deposited, weighted by `P`), then sets
//!   `P ← P × (L − D) / L`;
//! - a deposit `d` snapshotted at `(P_t, S_t, scale_t)` is worth `d × P / P_t` and has gained
//!   `d × (S − S_t) / P_t` of each collateral asset.
//!
//! `P` is an integer at [`P_PRECISION`] = 10^36 (Liquity v2 after its March 2025 redeployment),
//! kept in `[P_MIN, P_PRECISION]` = `[10^27, 10^36]`: when an offset would take it below 10^27
//! it is multiplied by [`SCALE_FACTOR`] = 10^9 (repeatedly if needed) and the scale goes up by
//! one each time. A deposit snapshotted one scale ago is worth `d × (P / 10^9) / P_t`; two or
//! more scales ago it is worth nothing (its value fell below 10^-18 of what was deposited). `S`
//! is stored per scale at [`S_PRECISION`] = 10^27 (one scale factor below `P`), which keeps a
//! collateral-per-deposit ratio of up to 1.7 × 10^11 (a collateral worth 10^-11 of the debt
//! asset) inside an `i128` while keeping 18 significant digits at the lowest `P`.
//!
//! # Rounding (always for the pool, never for a depositor)
//!
//! - `P` after an offset rounds **down** (the loss per unit deposited rounds up), so the sum of
//!   what depositors can withdraw never exceeds the deposits the pool holds;
//! - `S` increments round **down**, a compounded deposit rounds down, a collateral gain rounds
//!   down (with `P_t / 10^9` in its denominator rounded up), so the sum of what depositors can
//!   claim of an asset never exceeds what the pool holds of it;
//! - what rounding leaves in the pool stays there (it belongs to no depositor; it is counted in
//!   the pool's holdings, so conservation holds exactly).
//!
//! Both bounds are checked in `audit` (`Engine::check_stability_pools`, part of I5: claims
//! are backed), over every depositor.
//!
//! # Liquidation (`mode = "stability_pool"` on a lending market)
//!
//! See `Engine::liquidate_to_stability_pool`. The pool always keeps `min_remaining` of
//! deposits when it offsets (Liquity v2's `MIN_BOLD_IN_SP`; at least one raw unit, so `P` never
//! reaches zero by an offset); withdrawals may take it lower, even to zero.
//!
//! # Waterfall (`stability:<name>`)
//!
//! After a deficit is recorded, `Engine::stability_pays` burns up to
//! `min(deficit, deposits − min_remaining)` of deposits into the market (P falls accordingly,
//! no collateral gain).

use crate::account::Account;
use crate::backstop::net::{StabilityDeposit, StabilityPoolState};
use crate::engine::Engine;
use crate::event::Event;
use crate::health::Health;
use crate::ids::{AccountId, AssetId, MarketRef};
use crate::invariants::Violation;
use crate::rejection::Rejection;
use crate::venue::lending::{debit, holding_mut, repayment};
use backstop_money::{Amount, MoneyError, Ratio, Rounding, SCALE, Shares, mul_div};
use std::collections::BTreeMap;

/// `P` is an integer at this precision: 10^36 is a product of one.
pub const P_PRECISION: i128 = 1_000_000_000_000_000_000_000_000_000_000_000_000;
/// Factor by which `P` is multiplied at a scale change (10^9).
pub const SCALE_FACTOR: i128 = 1_000_000_000;
/// Lowest `P` within a scale: `P_PRECISION / SCALE_FACTOR` = 10^27.
pub const P_MIN: i128 = 1_000_000_000_000_000_000_000_000_000;
/// Precision of the sums `S`: a gain of one collateral unit per deposited unit at `P = 1` adds
/// 10^27 (`P_PRECISION / SCALE_FACTOR`).
pub const S_PRECISION: i128 = P_MIN;

const _: () = assert!(P_MIN.checked_mul(SCALE_FACTOR).is_some());
const _: () = assert!(P_MIN * SCALE_FACTOR == P_PRECISION);

impl StabilityPoolState {
    /// An empty pool: `P` = 1 at scale 0.
    #[must_use]
    pub fn new() -> StabilityPoolState {
        StabilityPoolState { product: P_PRECISION, ..StabilityPoolState::default() }
    }

    /// What a deposit is worth now, rounded down: `d × P / P_t` in the same scale,
    /// `d × ⌊P / 10^9⌋ / P_t` one scale later, zero two or more scales later.
    ///
    /// # Errors
    /// Overflow (not reachable for deposits an `Amount` can hold).
    pub fn compounded_deposit(&self, deposit: &StabilityDeposit) -> Result<Amount, MoneyError> {
        if !deposit.initial.is_positive() || deposit.product <= 0 {
            return Ok(Amount::ZERO);
        }
        let raw = match self.scale.checked_sub(deposit.scale) {
            Some(0) => {
                mul_div(deposit.initial.raw(), self.product, deposit.product, Rounding::Floor)?
            }
            Some(1) => {
                let product = mul_div(self.product, 1, SCALE_FACTOR, Rounding::Floor)?;
                mul_div(deposit.initial.raw(), product, deposit.product, Rounding::Floor)?
            }
            _ => 0,
        };
        Ok(Amount::from_raw(raw))
    }

    /// A deposit's gain of one collateral asset, rounded down:
    /// `d × (S[scale_t] − S_t) / ⌈P_t / 10^9⌉ + d × S[scale_t + 1] / P_t`. Gains two or more
    /// scales after the snapshot are not counted (the deposit is worth nothing by then).
    ///
    /// # Errors
    /// Overflow (not reachable while the pool's invariant holds).
    pub fn collateral_gain(
        &self,
        deposit: &StabilityDeposit,
        asset: u16,
    ) -> Result<Amount, MoneyError> {
        if !deposit.initial.is_positive() || deposit.product <= 0 {
            return Ok(Amount::ZERO);
        }
        let at_snapshot_scale = self.sums.get(&(deposit.scale, asset)).copied().unwrap_or(0);
        let snapshot = deposit.sums.get(&asset).copied().unwrap_or(0);
        let first = at_snapshot_scale.checked_sub(snapshot).ok_or(MoneyError::Overflow)?;
        let next = deposit
            .scale
            .checked_add(1)
            .and_then(|scale| self.sums.get(&(scale, asset)).copied())
            .unwrap_or(0);
        // P_t / 10^9 ≥ 10^18, rounded up: the gain is rounded down, 18 digits kept.
        let denominator = mul_div(deposit.product, 1, SCALE_FACTOR, Rounding::Ceil)?;
        let in_scale = mul_div(deposit.initial.raw(), first, denominator, Rounding::Floor)?;
        let next_scale = mul_div(deposit.initial.raw(), next, deposit.product, Rounding::Floor)?;
        Ok(Amount::from_raw(in_scale.checked_add(next_scale).ok_or(MoneyError::Overflow)?))
    }

    /// Every positive collateral gain of a deposit, by asset id (ascending).
    ///
    /// # Errors
    /// Overflow.
    pub fn gains(&self, deposit: &StabilityDeposit) -> Result<Vec<(u16, Amount)>, MoneyError> {
        let mut gains = Vec::new();
        for asset in self.collateral.keys() {
            let gain = self.collateral_gain(deposit, *asset)?;
            if gain.is_positive() {
                gains.push((*asset, gain));
            }
        }
        Ok(gains)
    }

    /// A fresh snapshot of `initial` at the current `P`, scale and sums.
    #[must_use]
    pub fn snapshot(&self, initial: Amount) -> StabilityDeposit {
        let sums = self
            .sums
            .range((self.scale, 0)..=(self.scale, u16::MAX))
            .map(|((_, asset), sum)| (*asset, *sum))
            .collect();
        StabilityDeposit { initial, product: self.product, scale: self.scale, sums }
    }

    /// Offsets `debt` of deposits (burned: the caller hands the tokens on) against collateral
    /// `gain` (asset id, amount) that the pool receives. `S` is updated first with the current
    /// `P` and deposits, then `P ← ⌊P × (L − D) / L⌋`, with scale changes below [`P_MIN`].
    ///
    /// Callers keep at least one raw unit in the pool; if `debt` takes everything anyway, `P`
    /// restarts at one two scales up, so every existing deposit is worth nothing.
    ///
    /// # Errors
    /// Overflow; a debt above the deposits, a negative amount, or a gain into an empty pool.
    pub fn absorb(&mut self, debt: Amount, gain: Option<(u16, Amount)>) -> Result<(), MoneyError> {
        let total = self.deposits.raw();
        if debt.is_negative() || debt.raw() > total {
            return Err(MoneyError::Overflow);
        }
        if let Some((asset, amount)) = gain
            && amount.is_positive()
        {
            if total <= 0 {
                return Err(MoneyError::Overflow);
            }
            let increment = sum_increment(amount.raw(), self.product, total)?;
            let sum = self.sums.entry((self.scale, asset)).or_insert(0);
            *sum = sum.checked_add(increment).ok_or(MoneyError::Overflow)?;
            let held = self.collateral.entry(asset).or_default();
            *held = held.checked_add(amount)?;
        }
        if debt.is_positive() {
            let remaining = total.checked_sub(debt.raw()).ok_or(MoneyError::Overflow)?;
            // P × (1 − D/L), rounded down: the loss per unit deposited is rounded up.
            let product = mul_div(self.product, remaining, total, Rounding::Floor)?;
            let (product, scale) = rescale(product, self.scale)?;
            self.product = product;
            self.scale = scale;
            self.deposits = Amount::from_raw(remaining);
        }
        Ok(())
    }
}

/// `⌊C × P / (L × 10^9)⌋`: the increment of `S` for a gain `C` against deposits `L`.
fn sum_increment(collateral: i128, product: i128, total: i128) -> Result<i128, MoneyError> {
    match total.checked_mul(SCALE_FACTOR) {
        Some(denominator) => mul_div(collateral, product, denominator, Rounding::Floor),
        // ⌊⌊x⌋ / n⌋ = ⌊x / n⌋ for a positive integer n: the same value in two steps.
        None => {
            let per_unit = mul_div(collateral, product, total, Rounding::Floor)?;
            mul_div(per_unit, 1, SCALE_FACTOR, Rounding::Floor)
        }
    }
}

/// Brings `P` back into `[P_MIN, P_PRECISION]`: ×10^9 and one scale up while below `P_MIN`; a
/// product of zero restarts at one two scales up (every deposit is then worth nothing).
fn rescale(product: i128, scale: u64) -> Result<(i128, u64), MoneyError> {
    if product <= 0 {
        return Ok((P_PRECISION, scale.checked_add(2).ok_or(MoneyError::Overflow)?));
    }
    let (mut product, mut scale) = (product, scale);
    while product < P_MIN {
        product = product.checked_mul(SCALE_FACTOR).ok_or(MoneyError::Overflow)?;
        scale = scale.checked_add(1).ok_or(MoneyError::Overflow)?;
    }
    Ok((product, scale))
}

/// Where the debt a stability pool cannot absorb goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    /// Nothing is left: the pool took it all.
    Nothing,
    /// To the market's other borrowers, pro rata to their debt shares.
    Redistributed,
    /// It stays with the account, which has other collateral to back it.
    Stays,
    /// It becomes the market's deficit; its collateral goes to the venue.
    Deficit,
}

impl Engine {
    /// Index and asset of stability pool `name`, or [`Rejection::UnknownLayer`].
    fn stability_pool_index(&self, name: &str) -> Result<(usize, AssetId), Rejection> {
        let unknown = || Rejection::UnknownLayer { layer: format!("stability:{name}") };
        let index = self
            .config
            .stability_pools
            .iter()
            .position(|pool| pool.name == name)
            .ok_or_else(unknown)?;
        let asset =
            self.tables.layer_assets.stability_pools.get(index).copied().ok_or_else(unknown)?;
        Ok((index, asset))
    }

    /// A copy of a stability pool's state to work on.
    fn stability_pool_copy(&self, index: usize) -> Result<StabilityPoolState, Rejection> {
        self.state
            .net
            .stability_pools
            .get(index)
            .cloned()
            .ok_or(Rejection::Overflow { context: "stability pool index" })
    }

    /// Deposits an offset always leaves in the pool: `min_remaining`, and at least one raw unit.
    fn stability_minimum(&self, index: usize) -> Amount {
        self.config
            .stability_pools
            .get(index)
            .map_or(Amount::ONE, |pool| pool.min_remaining)
            .max(Amount::from_raw(1))
    }

    /// Pays a depositor's collateral gains into its balances (each at most what the pool holds)
    /// and returns its compounded deposit (zero without a deposit).
    fn settle_depositor(
        pool: &mut StabilityPoolState,
        name: &str,
        id: AccountId,
        account: &mut Account,
        events: &mut Vec<Event>,
    ) -> Result<Amount, Rejection> {
        let overflow = Rejection::from_money("stability gains");
        let Some(deposit) = pool.depositors.get(&id).cloned() else {
            return Ok(Amount::ZERO);
        };
        let compounded = pool.compounded_deposit(&deposit).map_err(&overflow)?;
        for (asset, gain) in pool.gains(&deposit).map_err(&overflow)? {
            let held = pool.collateral.get(&asset).copied().unwrap_or_default();
            let paid = gain.min(held);
            pool.collateral.insert(asset, held.checked_sub(paid).map_err(&overflow)?);
            let asset = AssetId(asset);
            let holding = holding_mut(account, asset)?;
            holding.balance = holding.balance.checked_add(paid).map_err(&overflow)?;
            events.push(Event::StabilityGainPaid {
                account: id,
                pool: name.to_owned(),
                asset,
                amount: paid,
            });
        }
        Ok(compounded)
    }

    /// Records a depositor's new deposit with a fresh snapshot (or removes it when zero).
    fn set_stability_deposit(pool: &mut StabilityPoolState, id: AccountId, deposit: Amount) {
        if deposit.is_positive() {
            let snapshot = pool.snapshot(deposit);
            pool.depositors.insert(id, snapshot);
        } else {
            pool.depositors.remove(&id);
        }
    }

    /// Writes a stability pool back.
    fn commit_stability_pool(&mut self, index: usize, pool: StabilityPoolState) {
        if let Some(slot) = self.state.net_mut().stability_pools.get_mut(index) {
            *slot = pool;
        }
    }

    /// `stability_deposit`: pays the depositor's gains, then moves `amount` of the pool's asset
    /// from the account's collateral into the pool on top of its compounded deposit, with a
    /// fresh snapshot. Deposits are not collateral, so the account must stay above its initial
    /// requirement.
    pub(crate) fn stability_deposit(
        &mut self,
        id: AccountId,
        name: &str,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("stability deposit");
        let (index, asset) = self.stability_pool_index(name)?;
        self.check_amount(asset, amount, "amount")?;
        let mut account = self.load_account(id)?;
        self.check_not_in_auction(id, &account)?;
        let mut pool = self.stability_pool_copy(index)?;
        let mut gains = Vec::new();
        let compounded = Self::settle_depositor(&mut pool, name, id, &mut account, &mut gains)?;
        let holding = holding_mut(&mut account, asset)?;
        holding.balance = debit(id, asset, holding.balance, amount)?;
        self.require_initial_health(id, &account)?;
        let deposit = compounded.checked_add(amount).map_err(&overflow)?;
        pool.deposits = pool.deposits.checked_add(amount).map_err(&overflow)?;
        Self::set_stability_deposit(&mut pool, id, deposit);
        let mut events = vec![Event::StabilityDeposited {
            account: id,
            pool: name.to_owned(),
            amount,
            deposit_after: deposit,
        }];
        events.append(&mut gains);
        self.commit_stability_pool(index, pool);
        self.commit_account(id, account);
        Ok(events)
    }

    /// `stability_withdraw`: pays the depositor's gains and up to `amount` of its compounded
    /// deposit back into its collateral. Withdrawals may take the pool below `min_remaining`.
    pub(crate) fn stability_withdraw(
        &mut self,
        id: AccountId,
        name: &str,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("stability withdrawal");
        let (index, asset) = self.stability_pool_index(name)?;
        self.check_amount(asset, amount, "amount")?;
        let mut account = self.load_account(id)?;
        let mut pool = self.stability_pool_copy(index)?;
        if !pool.depositors.contains_key(&id) {
            return Err(Rejection::NoStabilityDeposit { account: id, pool: name.to_owned() });
        }
        let mut gains = Vec::new();
        let compounded = Self::settle_depositor(&mut pool, name, id, &mut account, &mut gains)?;
        let withdrawn = amount.min(compounded);
        let deposit = compounded.checked_sub(withdrawn).map_err(&overflow)?;
        pool.deposits = pool.deposits.checked_sub(withdrawn).map_err(&overflow)?;
        let holding = holding_mut(&mut account, asset)?;
        holding.balance = holding.balance.checked_add(withdrawn).map_err(&overflow)?;
        Self::set_stability_deposit(&mut pool, id, deposit);
        let mut events = vec![Event::StabilityWithdrawn {
            account: id,
            pool: name.to_owned(),
            amount: withdrawn,
            deposit_after: deposit,
        }];
        events.append(&mut gains);
        self.commit_stability_pool(index, pool);
        self.commit_account(id, account);
        Ok(events)
    }

    /// `stability_claim`: pays the depositor's collateral gains and re-snapshots its compounded
    /// deposit.
    pub(crate) fn stability_claim(
        &mut self,
        id: AccountId,
        name: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let (index, _) = self.stability_pool_index(name)?;
        let mut account = self.load_account(id)?;
        let mut pool = self.stability_pool_copy(index)?;
        if !pool.depositors.contains_key(&id) {
            return Err(Rejection::NoStabilityDeposit { account: id, pool: name.to_owned() });
        }
        let mut events = Vec::new();
        let compounded = Self::settle_depositor(&mut pool, name, id, &mut account, &mut events)?;
        Self::set_stability_deposit(&mut pool, id, compounded);
        self.commit_stability_pool(index, pool);
        self.commit_account(id, account);
        Ok(events)
    }

    /// Absorbs up to `remaining` of a market's deficit from stability pool `name`'s deposits:
    /// burns `min(remaining, deposits − min_remaining)` (P falls as in an offset, with no
    /// collateral gain) and returns it; the waterfall hands the tokens to the market.
    pub(crate) fn stability_pays(
        &mut self,
        name: &str,
        market: MarketRef,
        remaining: Amount,
        events: &mut Vec<Event>,
    ) -> Result<Amount, Rejection> {
        let (index, _) = self.stability_pool_index(name)?;
        let mut pool = self.stability_pool_copy(index)?;
        let available = pool.deposits.saturating_sub_to_zero(self.stability_minimum(index));
        let paid = remaining.min(available);
        if !paid.is_positive() {
            return Ok(Amount::ZERO);
        }
        pool.absorb(paid, None).map_err(Rejection::from_money("stability burn"))?;
        events.push(Event::StabilityBurned {
            pool: name.to_owned(),
            market,
            amount: paid,
            deposits_after: pool.deposits,
            scale_after: pool.scale,
        });
        self.commit_stability_pool(index, pool);
        Ok(paid)
    }

    /// The Liquity penalty of a stability-pool liquidation: the collateral market's liquidation
    /// bonus, or the debt market's when the collateral has no lending market (as for a fixed
    /// bonus).
    fn stability_penalty(&self, debt: AssetId, collateral: AssetId) -> Result<Ratio, Rejection> {
        match self.lending_config_at(collateral.index()) {
            Some(config) => Ok(config.liquidation_bonus),
            None => Ok(self.lending_config(debt)?.liquidation_bonus),
        }
    }

    /// The market's other borrowers, with their debt shares (ascending account id).
    fn redistribution_receivers(&self, id: AccountId, debt: AssetId) -> Vec<(AccountId, Shares)> {
        self.state
            .accounts
            .iter()
            .filter(|(other, _)| **other != id)
            .filter_map(|(other, account)| {
                let shares = account.holdings.get(debt.index())?.debt_shares;
                shares.is_positive().then_some((*other, shares))
            })
            .collect()
    }

    /// Liquidation in `stability_pool` mode (Liquity v2 semantics, one "trove" per
    /// `(debt, collateral)` pair of a cross-margin account):
    ///
    /// 1. The debt closed is the account's whole debt in the market — unless the account has
    ///    other backing (another collateral balance, an open position, a running auction), in
    ///    which case it is capped at what this collateral covers with the penalty,
    ///    `⌊value(C) / (1 + penalty) / price(debt)⌋`, and the rest of the debt stays.
    /// 2. The pool offsets `D_sp = min(D, deposits − min_remaining)`. It receives collateral
    ///    `min(⌊C × D_sp / D⌋, ⌊D_sp × price(debt) × (1 + penalty) / price(C)⌋)`: its pro-rata
    ///    share, capped at the debt plus the penalty (the penalty comes out of the collateral,
    ///    as Liquity's liquidation penalty; the keeper gets nothing — Liquity's gas compensation
    ///    is not modelled). Its deposits pay `D_sp` into the market's cash.
    /// 3. The rest `D − D_sp`, with collateral `min(C − ⌊C × D_sp / D⌋, ⌊(D − D_sp) × price(debt)
    ///    × (1 + penalty) / price(C)⌋)`, is redistributed to the market's other borrowers pro
    ///    rata to their debt shares: each gets `⌈rest shares × s_j / Σs⌉` new debt shares
    ///    (rounded up, the rest's shares themselves rounded up) and `⌊collateral × s_j / Σs⌋`
    ///    (rounded down; the dust goes to the venue's fees).
    /// 4. Without other borrowers, the rest stays with an account that has other backing;
    ///    otherwise it becomes the market's deficit (`deficit_recorded`, then the waterfall)
    ///    and its collateral goes to the venue's fees (to be sold and `recover`ed).
    /// 5. Collateral above the debt plus penalty stays with the account (Liquity v2's surplus).
    ///
    /// Rejections: 51 when the account has other backing, the pool is at its minimum and there
    /// is no other borrower (nothing can take any of the debt).
    #[allow(clippy::too_many_arguments, clippy::too_many_lines)]
    pub(crate) fn liquidate_to_stability_pool(
        &mut self,
        keeper_id: AccountId,
        id: AccountId,
        mut account: Account,
        debt: AssetId,
        collateral: AssetId,
        name: &str,
        health: Health,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("stability pool liquidation");
        let (index, pool_asset) = self.stability_pool_index(name)?;
        if pool_asset != debt {
            return Err(Rejection::WrongLiquidationTarget {
                reason: "the stability pool does not hold the market's asset",
            });
        }
        let mut market = self.lending_market(debt)?.clone();
        let owed_shares =
            account.holdings.get(debt.index()).map_or(Shares::ZERO, |h| h.debt_shares);
        if owed_shares.is_zero() {
            return Err(Rejection::NoDebt { account: id, asset: debt });
        }
        let balance = account.holdings.get(collateral.index()).map_or(Amount::ZERO, |h| h.balance);
        if balance.is_zero() {
            return Err(Rejection::NoCollateral { account: id, asset: collateral });
        }
        let debt_total = market.debt_of(owed_shares)?;
        let (debt_price, collateral_price) = (self.price(debt)?, self.price(collateral)?);
        let one_plus_penalty =
            Ratio::ONE.checked_add(self.stability_penalty(debt, collateral)?).map_err(&overflow)?;
        // Collateral worth `amount` of debt plus the penalty, rounded down.
        let collateral_for = |amount: Amount| {
            amount
                .value_at(debt_price, Rounding::Floor)
                .and_then(|value| value.mul_ratio(one_plus_penalty, Rounding::Floor))
                .and_then(|value| value.quantity_at(collateral_price, Rounding::Floor))
        };
        let other_backing = account.auctions_running > 0
            || !account.has_no_open_base()
            || account.holdings.iter().enumerate().any(|(asset, holding)| {
                asset != collateral.index() && holding.balance.is_positive()
            });
        let covered = if other_backing {
            let cap = balance
                .value_at(collateral_price, Rounding::Floor)
                .and_then(|value| value.div_ratio(one_plus_penalty, Rounding::Floor))
                .and_then(|value| value.quantity_at(debt_price, Rounding::Floor))
                .map_err(&overflow)?;
            debt_total.min(cap)
        } else {
            debt_total
        };
        if !covered.is_positive() {
            return Err(Rejection::NotPositive { field: "amount" });
        }
        let mut pool = self.stability_pool_copy(index)?;
        let available = pool.deposits.saturating_sub_to_zero(self.stability_minimum(index));
        let offset = covered.min(available);
        let rest = covered.checked_sub(offset).map_err(&overflow)?;
        let pool_portion = balance.mul_div(offset, covered, Rounding::Floor).map_err(&overflow)?;
        let to_pool = pool_portion.min(collateral_for(offset).map_err(&overflow)?);
        let rest_portion = balance.checked_sub(pool_portion).map_err(&overflow)?;
        let rest_collateral = rest_portion.min(collateral_for(rest).map_err(&overflow)?);
        let receivers = self.redistribution_receivers(id, debt);
        let outcome = if rest.is_zero() {
            Rest::Nothing
        } else if !receivers.is_empty() {
            Rest::Redistributed
        } else if other_backing {
            Rest::Stays
        } else {
            Rest::Deficit
        };
        let closed = if outcome == Rest::Stays { offset } else { covered };
        if !closed.is_positive() {
            return Err(Rejection::StabilityPoolCannotAbsorb { pool: name.to_owned() });
        }
        let seized = if outcome == Rest::Stays {
            to_pool
        } else {
            to_pool.checked_add(rest_collateral).map_err(&overflow)?
        };
        // The account's debt: all of it, or (partially) shares rounded down.
        let (_, removed) = repayment(&market, owed_shares, closed)?;
        let debt_holding = holding_mut(&mut account, debt)?;
        debt_holding.debt_shares =
            debt_holding.debt_shares.checked_sub(removed).map_err(&overflow)?;
        market.debt_shares = market.debt_shares.checked_sub(removed).map_err(&overflow)?;
        market.cash = market.cash.checked_add(offset).map_err(&overflow)?;
        let collateral_holding = holding_mut(&mut account, collateral)?;
        collateral_holding.balance = debit(id, collateral, collateral_holding.balance, seized)?;
        if offset.is_positive() {
            pool.absorb(offset, Some((collateral.0, to_pool))).map_err(&overflow)?;
        }
        let mut to_venue = Amount::ZERO;
        let mut events = vec![Event::StabilityLiquidated {
            keeper: keeper_id,
            account: id,
            pool: name.to_owned(),
            debt,
            collateral,
            debt_closed: closed,
            offset,
            collateral_to_pool: to_pool,
            collateral_to_venue: Amount::ZERO,
            deposits_after: pool.deposits,
            scale_after: pool.scale,
            health_before: health.health_factor(),
        }];
        let mut receiver_accounts = Vec::new();
        match outcome {
            Rest::Nothing | Rest::Stays => {}
            Rest::Redistributed => {
                let total_shares = receivers
                    .iter()
                    .try_fold(Shares::ZERO, |sum, (_, shares)| sum.checked_add(*shares));
                let total_shares = total_shares.map_err(&overflow)?;
                // The rest's debt shares, rounded up; each receiver's part rounded up.
                let rest_shares =
                    mul_div(rest.raw(), SCALE, market.borrow_index.raw(), Rounding::Ceil)
                        .map_err(&overflow)?;
                let mut given = Amount::ZERO;
                for (receiver, shares) in &receivers {
                    let added =
                        mul_div(rest_shares, shares.raw(), total_shares.raw(), Rounding::Ceil)
                            .map(Shares::from_raw)
                            .map_err(&overflow)?;
                    let part = rest_collateral
                        .mul_div(*shares, total_shares, Rounding::Floor)
                        .map_err(&overflow)?;
                    let mut other = self.load_account(*receiver)?;
                    let holding = holding_mut(&mut other, debt)?;
                    holding.debt_shares =
                        holding.debt_shares.checked_add(added).map_err(&overflow)?;
                    let holding = holding_mut(&mut other, collateral)?;
                    holding.balance = holding.balance.checked_add(part).map_err(&overflow)?;
                    market.debt_shares =
                        market.debt_shares.checked_add(added).map_err(&overflow)?;
                    given = given.checked_add(part).map_err(&overflow)?;
                    receiver_accounts.push((*receiver, other));
                }
                let dust = rest_collateral.checked_sub(given).map_err(&overflow)?;
                to_venue = dust;
                events.push(Event::DebtRedistributed {
                    account: id,
                    debt,
                    collateral,
                    amount: rest,
                    collateral_amount: rest_collateral,
                    receivers: u64::try_from(receivers.len()).unwrap_or(u64::MAX),
                    dust,
                });
            }
            Rest::Deficit => {
                market.deficit = market.deficit.checked_add(rest).map_err(&overflow)?;
                to_venue = rest_collateral;
                events.push(Event::DeficitRecorded {
                    market: MarketRef::Lending(debt),
                    account: id,
                    amount: rest,
                    deficit_after: market.deficit,
                });
            }
        }
        if let Some(Event::StabilityLiquidated { collateral_to_venue, .. }) = events.first_mut() {
            *collateral_to_venue = to_venue;
        }
        let fees = self.fees_after(collateral, to_venue)?;
        self.set_fees(collateral, fees);
        self.commit_lending(debt, market);
        self.commit_stability_pool(index, pool);
        for (receiver, other) in receiver_accounts {
            self.commit_account(receiver, other);
        }
        self.record_deficits_if_bankrupt(id, &mut account, &mut events)?;
        self.commit_account(id, account);
        Ok(events)
    }

    /// Part of I5 (claims are backed) and I2 for stability pools, over every depositor: the sum
    /// of compounded deposits is at most the deposits held, the sum of each asset's collateral
    /// gains at most the collateral held; nothing is negative and `P` is within
    /// `[P_MIN, P_PRECISION]`.
    ///
    /// # Errors
    /// The first broken rule.
    pub(crate) fn check_stability_pools(&self) -> Result<(), Violation> {
        let fail = |invariant: u8, detail: String| Err(Violation { invariant, detail });
        for (index, pool) in self.state.net.stability_pools.iter().enumerate() {
            if pool.deposits.is_negative()
                || pool.collateral.values().any(|held| held.is_negative())
            {
                return fail(2, format!("stability pool {index}: negative deposits or collateral"));
            }
            if pool.product < P_MIN || pool.product > P_PRECISION {
                return fail(5, format!("stability pool {index}: P {} out of range", pool.product));
            }
            let mut deposits = Amount::ZERO;
            let mut gains: BTreeMap<u16, Amount> = BTreeMap::new();
            for (id, deposit) in &pool.depositors {
                let error = |_| Violation {
                    invariant: 5,
                    detail: format!("stability pool {index}: depositor {} overflows", id.0),
                };
                let value = pool.compounded_deposit(deposit).map_err(error)?;
                deposits = deposits.checked_add(value).map_err(error)?;
                for (asset, gain) in pool.gains(deposit).map_err(error)? {
                    let sum = gains.entry(asset).or_default();
                    *sum = sum.checked_add(gain).map_err(error)?;
                }
            }
            if deposits > pool.deposits {
                return fail(
                    5,
                    format!(
                        "stability pool {index}: depositors' claims {deposits} > deposits {}",
                        pool.deposits
                    ),
                );
            }
            for (asset, gain) in gains {
                let held = pool.collateral.get(&asset).copied().unwrap_or_default();
                if gain > held {
                    return fail(
                        5,
                        format!(
                            "stability pool {index}: gains of asset {asset} {gain} > held {held}"
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}
