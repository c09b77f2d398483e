//! The emergency liquidity facility: a fund lends to a lending market that cannot meet a
//! withdrawal, at a penalty rate, up to a cap, and is repaid first from returning liquidity
//! (docs/mechanisms.md).
//!
//! - **Lend.** When `WithdrawSupply` finds less cash than asked, the market's facilities (in
//!   config order) lend the shortfall: each at most `cap − loan` and what its fund holds above its
//!   floor. The fund's tokens become market cash; the loan is owed by the market. If the
//!   facilities cannot cover the whole shortfall the withdrawal is refused (code 9, `available`
//!   counting the facilities' room).
//! - **Penalty.** At every `AdvanceTime` each outstanding loan grows by
//!   `⌈loan × ⌈penalty_rate × elapsed / year⌉⌉` (both rounded **up**: the market owes every
//!   started raw unit). Suppliers bear it: the supply index falls by
//!   `⌈penalty / supply_shares⌉` (rounded **up**, so claims fall by at least the penalty). A
//!   penalty larger than what suppliers can still claim is charged only up to their claims (the
//!   rest is waived), so the loan never exceeds what the market can owe. The penalty may take
//!   the loan above `cap`, which limits lending only.
//! - **Repay.** Cash entering the market (supply, repayments, liquidation repayments, auction
//!   proceeds, deficit cover by a waterfall layer, recoveries) first repays the loans, in config
//!   order: `repay_facility_from_cash` moves `min(loan, cash)` back to each fund.
//! - **Solvency.** The loan is a liability of the market ahead of its suppliers: I5 reads
//!   `claims + loans ≤ cash + debt + auction debt + deficit + pending`. Suppliers bear losses
//!   first: when socialisation has wiped them out and the market still cannot repay the loan,
//!   the rest is written off (the fund bears it, event `LiquidityWrittenOff`).

use crate::engine::Engine;
use crate::event::Event;
use crate::ids::AssetId;
use crate::rejection::Rejection;
use crate::venue::lending::{LendingMarket, YEAR_SECS};
use backstop_money::{Amount, Ratio, Rounding, SCALE, mul_div};

/// One planned loan from a facility: (facility index, amount).
pub(crate) type LoanPlan = Vec<(usize, Amount)>;

impl Engine {
    /// Indices of the facilities that lend to the lending market of `asset`, in config order.
    fn facilities_of(&self, asset: AssetId) -> Vec<usize> {
        self.config
            .liquidity
            .iter()
            .enumerate()
            .filter(|(_, facility)| self.config.asset_id(&facility.market) == Some(asset))
            .map(|(index, _)| index)
            .collect()
    }

    /// Fund index and name of facility `index`.
    ///
    /// # Panics
    /// When `index` is not a facility or its fund does not exist: validation rules both out.
    fn facility_fund(&self, index: usize) -> (usize, String) {
        let name = &self
            .config
            .liquidity
            .get(index)
            .expect("facility indices come from the validated config")
            .fund;
        let fund = self.fund_index(name).expect("validation checks that a facility's fund exists");
        (fund, name.clone())
    }

    /// What the market of `asset` owes its facilities.
    ///
    /// # Errors
    /// Overflow.
    pub fn facility_loans(&self, asset: AssetId) -> Result<Amount, Rejection> {
        self.facilities_of(asset).into_iter().try_fold(Amount::ZERO, |sum, index| {
            let loan =
                self.state.net.facilities.get(index).map(|state| state.loan).unwrap_or_default();
            sum.checked_add(loan).map_err(Rejection::from_money("facility loans"))
        })
    }

    /// Plans the loans that let a market with `cash` pay out `amount`: empty when the cash is
    /// enough; [`Rejection::InsufficientLiquidity`] (with the facilities' room counted as
    /// available) when the facilities cannot cover the shortfall. Writes nothing.
    pub(crate) fn plan_facility_loans(
        &self,
        asset: AssetId,
        cash: Amount,
        amount: Amount,
    ) -> Result<LoanPlan, Rejection> {
        if amount <= cash {
            return Ok(Vec::new());
        }
        let overflow = Rejection::from_money("facility loan");
        let mut shortfall = amount.checked_sub(cash).map_err(&overflow)?;
        let mut balances: Vec<Amount> =
            self.state.net.funds.iter().map(|fund| fund.balance).collect();
        let (mut plan, mut room_total) = (Vec::new(), Amount::ZERO);
        for index in self.facilities_of(asset) {
            let (fund_index, _) = self.facility_fund(index);
            let config = self
                .config
                .liquidity
                .get(index)
                .expect("facility and fund indices come from the validated config");
            let floor =
                self.config.funds.get(fund_index).map(|fund| fund.floor).unwrap_or_default();
            let loan =
                self.state.net.facilities.get(index).map(|state| state.loan).unwrap_or_default();
            let balance = balances
                .get_mut(fund_index)
                .expect("facility and fund indices come from the validated config");
            let room =
                config.cap.saturating_sub_to_zero(loan).min(balance.saturating_sub_to_zero(floor));
            room_total = room_total.checked_add(room).map_err(&overflow)?;
            let lend = room.min(shortfall);
            if lend.is_positive() {
                *balance = balance.checked_sub(lend).map_err(&overflow)?;
                shortfall = shortfall.checked_sub(lend).map_err(&overflow)?;
                plan.push((index, lend));
            }
        }
        if shortfall.is_positive() {
            return Err(Rejection::InsufficientLiquidity {
                asset,
                available: cash.checked_add(room_total).map_err(&overflow)?,
                needed: amount,
            });
        }
        Ok(plan)
    }

    /// Carries out planned loans: each fund's tokens become cash of `market` (a copy the caller
    /// commits) and the facility's loan grows. Computes everything before writing.
    pub(crate) fn lend_from_facilities(
        &mut self,
        asset: AssetId,
        market: &mut LendingMarket,
        plan: &LoanPlan,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("facility loan");
        let now = self.state.now;
        let mut funds: Vec<Amount> = self.state.net.funds.iter().map(|fund| fund.balance).collect();
        let mut facilities = self.state.net.facilities.clone();
        let mut cash = market.cash;
        let mut events = Vec::with_capacity(plan.len());
        for &(index, lend) in plan {
            let (fund_index, fund) = self.facility_fund(index);
            let balance = funds
                .get_mut(fund_index)
                .expect("facility and fund indices come from the validated config");
            *balance = balance.checked_sub(lend).map_err(&overflow)?;
            let facility = facilities
                .get_mut(index)
                .expect("facility and fund indices come from the validated config");
            facility.loan = facility.loan.checked_add(lend).map_err(&overflow)?;
            // Outstanding loans are accrued to `now` at every AdvanceTime, so restarting the
            // clock here loses nothing.
            facility.accrued_at = now;
            cash = cash.checked_add(lend).map_err(&overflow)?;
            events.push(Event::LiquidityLent {
                asset,
                fund,
                amount: lend,
                loan_after: facility.loan,
            });
        }
        market.cash = cash;
        for (state, balance) in self.state.net_mut().funds.iter_mut().zip(funds) {
            state.balance = balance;
        }
        self.state.net_mut().facilities = facilities;
        Ok(events)
    }

    /// The facility phase of `Engine::apply`, after the handler and before the waterfalls: every
    /// lending market with an outstanding loan and cash repays its facilities from that cash.
    /// Only a handler that brought cash into the market leaves both positive (lending takes
    /// exactly the shortfall, which the withdrawal then takes out), so this repays exactly where
    /// the handlers used to repay. Walks (`run_waterfall`, the walk a settled cover claim
    /// resumes) still repay after each payment, since the repaid fund may pay a later layer.
    ///
    /// # Errors
    /// Overflow.
    pub(crate) fn repay_facilities(&mut self, events: &mut Vec<Event>) -> Result<(), Rejection> {
        for index in 0..self.config.liquidity.len() {
            let Some(asset) = self.facility_asset(index) else { continue };
            // Each market once, at its first facility (it repays all of them in config order).
            if (0..index).any(|earlier| self.facility_asset(earlier) == Some(asset)) {
                continue;
            }
            let owes = (index..self.config.liquidity.len()).any(|later| {
                self.facility_asset(later) == Some(asset)
                    && self.state.net.facilities.get(later).is_some_and(|f| f.loan.is_positive())
            });
            let cash = self.lending_market(asset).map_or(Amount::ZERO, |market| market.cash);
            if owes && cash.is_positive() {
                self.repay_facility_from_cash(asset, events)?;
            }
        }
        Ok(())
    }

    /// The lending asset facility `index` lends to (from the tables: no name lookup).
    fn facility_asset(&self, index: usize) -> Option<AssetId> {
        self.tables.facility_assets.get(index).copied().flatten()
    }

    /// Repays the facilities of the lending market of `asset` from its cash, in config order,
    /// each up to its loan: cash entering a market with an outstanding loan goes to the fund
    /// first. The facility phase (`repay_facilities`) and the walks call it.
    ///
    /// # Errors
    /// Overflow (before anything is written).
    pub(crate) fn repay_facility_from_cash(
        &mut self,
        asset: AssetId,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        if self.config.liquidity.is_empty() {
            return Ok(());
        }
        let Ok(market) = self.lending_market(asset) else { return Ok(()) };
        let mut market = market.clone();
        let overflow = Rejection::from_money("facility repayment");
        let mut funds: Vec<Amount> = self.state.net.funds.iter().map(|fund| fund.balance).collect();
        let mut facilities = self.state.net.facilities.clone();
        let mut repaid = Vec::new();
        for index in self.facilities_of(asset) {
            let facility = facilities
                .get_mut(index)
                .expect("facility and fund indices come from the validated config");
            let pay = facility.loan.min(market.cash);
            if !pay.is_positive() {
                continue;
            }
            let (fund_index, fund) = self.facility_fund(index);
            let balance = funds
                .get_mut(fund_index)
                .expect("facility and fund indices come from the validated config");
            *balance = balance.checked_add(pay).map_err(&overflow)?;
            facility.loan = facility.loan.checked_sub(pay).map_err(&overflow)?;
            market.cash = market.cash.checked_sub(pay).map_err(&overflow)?;
            repaid.push(Event::LiquidityRepaid {
                asset,
                fund,
                amount: pay,
                loan_after: facility.loan,
            });
        }
        if repaid.is_empty() {
            return Ok(());
        }
        self.commit_lending(asset, market);
        for (state, balance) in self.state.net_mut().funds.iter_mut().zip(funds) {
            state.balance = balance;
        }
        self.state.net_mut().facilities = facilities;
        events.append(&mut repaid);
        Ok(())
    }

    /// Writes off the part of the loans of `asset`'s market that its holdings can no longer
    /// repay: `claims + loans − (cash + debt + auction debt + deficit + pending)` when positive,
    /// taken off the loans in config order (event `LiquidityWrittenOff`). It arises only when
    /// socialisation wipes out the suppliers, who bear losses before the senior loan.
    ///
    /// # Errors
    /// Overflow (before anything is written).
    pub(crate) fn write_off_facility_shortfall(
        &mut self,
        asset: AssetId,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        if self.config.liquidity.is_empty() {
            return Ok(());
        }
        let loans = self.facility_loans(asset)?;
        if !loans.is_positive() {
            return Ok(());
        }
        let Ok(market) = self.lending_market(asset) else { return Ok(()) };
        let overflow = Rejection::from_money("facility write-off");
        let pending = self
            .state
            .net
            .pending
            .get(&crate::ids::MarketRef::Lending(asset))
            .copied()
            .unwrap_or_default();
        let backing =
            [market.cash, market.total_debt()?, market.auction_debt, market.deficit, pending]
                .iter()
                .try_fold(Amount::ZERO, |sum, part| sum.checked_add(*part))
                .map_err(&overflow)?;
        let mut gap = market
            .supplier_claims()?
            .checked_add(loans)
            .and_then(|owed| owed.checked_sub(backing))
            .map_err(&overflow)?;
        if !gap.is_positive() {
            return Ok(());
        }
        let mut facilities = self.state.net.facilities.clone();
        let mut written = Vec::new();
        for index in self.facilities_of(asset) {
            let facility = facilities
                .get_mut(index)
                .expect("facility and fund indices come from the validated config");
            let cut = facility.loan.min(gap);
            if !cut.is_positive() {
                continue;
            }
            facility.loan = facility.loan.checked_sub(cut).map_err(&overflow)?;
            gap = gap.checked_sub(cut).map_err(&overflow)?;
            let (_, fund) = self.facility_fund(index);
            written.push(Event::LiquidityWrittenOff {
                asset,
                fund,
                amount: cut,
                loan_after: facility.loan,
            });
        }
        self.state.net_mut().facilities = facilities;
        events.append(&mut written);
        Ok(())
    }

    /// Accrues penalty interest on every outstanding loan up to `now`, charging it to the
    /// suppliers of the (already interest-accrued) market copies in `markets`. Returns the new
    /// facility states for [`Engine::commit_facilities`]; writes nothing.
    pub(crate) fn accrue_facilities(
        &self,
        now: u64,
        markets: &mut [(AssetId, LendingMarket)],
        events: &mut Vec<Event>,
    ) -> Result<Vec<(usize, crate::backstop::net::FacilityState)>, Rejection> {
        let overflow = Rejection::from_money("facility penalty");
        let mut writes = Vec::new();
        for (index, config) in self.config.liquidity.iter().enumerate() {
            let Some(state) = self.state.net.facilities.get(index) else { continue };
            let elapsed_secs = now.saturating_sub(state.accrued_at);
            if !state.loan.is_positive() || elapsed_secs == 0 {
                continue;
            }
            let Some(asset) = self.config.asset_id(&config.market) else { continue };
            let Some((_, market)) = markets.iter_mut().find(|(id, _)| *id == asset) else {
                continue;
            };
            // Growth over the period and the penalty, both rounded up: the market owes every
            // started raw unit.
            let growth = mul_div(
                config.penalty_rate.raw(),
                i128::from(elapsed_secs),
                YEAR_SECS,
                Rounding::Ceil,
            )
            .map_err(&overflow)?;
            let penalty =
                state.loan.mul_ratio(Ratio::from_raw(growth), Rounding::Ceil).map_err(&overflow)?;
            // Suppliers bear the penalty, at most what they can still claim.
            let charged = penalty.min(market.supplier_claims()?);
            let index_before = market.supply_index;
            if charged.is_positive() && market.supply_shares.is_positive() {
                // Index cut rounded up: claims fall by at least the penalty.
                let cut = mul_div(charged.raw(), SCALE, market.supply_shares.raw(), Rounding::Ceil)
                    .map_err(&overflow)?
                    .min(index_before.raw());
                market.supply_index = Ratio::from_raw(
                    index_before
                        .raw()
                        .checked_sub(cut)
                        .ok_or(Rejection::Overflow { context: "facility penalty" })?,
                );
            }
            let mut state = state.clone();
            state.loan = state.loan.checked_add(charged).map_err(&overflow)?;
            state.accrued_at = now;
            if charged.is_positive() {
                events.push(Event::LiquidityPenaltyCharged {
                    asset,
                    fund: config.fund.clone(),
                    penalty: charged,
                    loan_after: state.loan,
                    supply_index_before: index_before,
                    supply_index_after: market.supply_index,
                });
            }
            writes.push((index, state));
        }
        Ok(writes)
    }

    /// Writes facility states computed by [`Engine::accrue_facilities`].
    pub(crate) fn commit_facilities(
        &mut self,
        writes: Vec<(usize, crate::backstop::net::FacilityState)>,
    ) {
        for (index, state) in writes {
            if let Some(slot) = self.state.net_mut().facilities.get_mut(index) {
                *slot = state;
            }
        }
    }
}
