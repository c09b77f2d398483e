//! Liquidation of unhealthy accounts, in the mode each market's configuration names:
//!
//! - **fixed bonus** (lending debt, unpaid perpetual losses, perpetual positions): a keeper repays
//!   up to the close factor of a debt (all of it at or below `full_close_health` or below the dust
//!   value) and seizes collateral worth the repayment plus the bonus; or takes over up to the close
//!   factor of a position at the oracle price and is paid the liquidation fee;
//! - **Dutch auction** (lending debt): the collateral is sold at a price that starts at
//!   `buf × oracle` and falls by `cut` every `step_secs`, until the debt plus penalty (the tab) is
//!   raised; it must be reset after `tail_secs` or below `cusp × top`;
//! - **takeover**: a designated backstop account takes over everything the account holds and
//!   owes; its positions move at their bankruptcy prices.
//!
//! Toxic-spiral guard: no bonus is paid when the account's loan-to-value exceeds
//! 1 / (1 + bonus), because seizing (1 + bonus) per unit repaid would then raise it.
//!
//! After every liquidation, an account left with liabilities and no collateral and no open
//! position has its shortfall moved to the markets' deficit ledgers (see `backstop::deficit`).

use crate::account::Account;
use crate::command::{AccountKind, LiquidationTarget};
use crate::config::{DutchAuctionConfig, LiquidationMode};
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, AuctionId, PerpMarketId};
use crate::rejection::Rejection;
use crate::venue::lending::{debit, holding_mut, repayment};
use crate::venue::perp::{PerpPosition, position_of, set_position, settle_if_closed};
use backstop_money::{Amount, Price, Ratio, Rounding};
use serde::{Deserialize, Serialize};

/// A running Dutch auction of one account's collateral for one debt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    /// Account whose collateral is sold.
    pub account: AccountId,
    /// Keeper who started it.
    pub keeper: AccountId,
    /// Collateral asset.
    pub collateral: AssetId,
    /// Debt asset.
    pub debt: AssetId,
    /// Collateral left for sale.
    pub lot: Amount,
    /// Debt-asset amount still to raise (debt still owed plus penalty).
    pub tab: Amount,
    /// Part of the tab that is debt owed to the lending market (the rest is penalty).
    pub owed: Amount,
    /// Starting price (numeraire per collateral unit).
    pub top: Price,
    /// Time the current price curve started (s).
    pub started_at: u64,
}

impl Engine {
    pub(crate) fn liquidate(
        &mut self,
        keeper_id: AccountId,
        id: AccountId,
        target: LiquidationTarget,
        amount: Amount,
        seed: u64,
    ) -> Result<Vec<Event>, Rejection> {
        if keeper_id == id {
            return Err(Rejection::SelfLiquidation { account: id });
        }
        if !amount.is_positive() {
            return Err(Rejection::NotPositive { field: "amount" });
        }
        let mode = self.liquidation_mode(target)?;
        let keeper = self.load_account(keeper_id)?;
        let account = self.load_account(id)?;
        if account.kind == AccountKind::Backstop {
            return Err(Rejection::BackstopAccountProtected { account: id });
        }
        self.check_not_in_auction(id, &account)?;
        let health = self.health_of(&account)?;
        if !health.is_liquidatable() {
            return Err(Rejection::NotLiquidatable { account: id });
        }
        match (mode, target) {
            (LiquidationMode::Takeover { backstop_account }, _) => {
                self.take_over(backstop_account, id, account, health.equity()?)
            }
            (
                LiquidationMode::DutchAuction(auction),
                LiquidationTarget::Debt { debt, collateral },
            ) => self.start_auction(keeper_id, id, account, debt, collateral, &auction),
            (
                LiquidationMode::EnglishAuction(auction),
                LiquidationTarget::Debt { debt, collateral },
            ) => self.kick_english_auction(keeper_id, id, account, (debt, collateral), &auction),
            (
                LiquidationMode::StabilityPool { pool },
                LiquidationTarget::Debt { debt, collateral },
            ) => self.liquidate_to_stability_pool(
                keeper_id, id, account, debt, collateral, &pool, health,
            ),
            (_, LiquidationTarget::Debt { debt, collateral }) => {
                let order = DebtOrder { liability: Liability::Lending(debt), collateral, amount };
                self.liquidate_debt(keeper_id, keeper, id, account, order, health)
            }
            (_, LiquidationTarget::UnpaidLoss { market, collateral }) => {
                let order =
                    DebtOrder { liability: Liability::PerpLoss(market), collateral, amount };
                self.liquidate_debt(keeper_id, keeper, id, account, order, health)
            }
            (_, LiquidationTarget::Position { market }) => self
                .liquidate_position(keeper_id, keeper, id, account, market, amount, health, seed),
        }
    }

    /// The liquidation mode configured for a target's market.
    fn liquidation_mode(&self, target: LiquidationTarget) -> Result<LiquidationMode, Rejection> {
        match target {
            LiquidationTarget::Debt { debt, collateral } => {
                self.check_asset(collateral)?;
                Ok(self.lending_config(debt)?.liquidation.clone())
            }
            LiquidationTarget::UnpaidLoss { market, collateral } => {
                self.check_asset(collateral)?;
                self.check_perp(market)?;
                Ok(LiquidationMode::FixedBonus)
            }
            LiquidationTarget::Position { market } => {
                self.check_perp(market)?;
                let config = self.config.perps.get(market.index());
                Ok(config.map_or(LiquidationMode::FixedBonus, |config| config.liquidation.clone()))
            }
        }
    }

    fn liquidate_debt(
        &mut self,
        keeper_id: AccountId,
        mut keeper: Account,
        id: AccountId,
        mut account: Account,
        order: DebtOrder,
        health: crate::health::Health,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("debt liquidation");
        let debt_asset = self.liability_asset(order.liability)?;
        let owed = self.liability_owed(&account, id, order.liability)?;
        let collateral_balance = account
            .holdings
            .get(order.collateral.index())
            .map_or(Amount::ZERO, |holding| holding.balance);
        if collateral_balance.is_zero() {
            return Err(Rejection::NoCollateral { account: id, asset: order.collateral });
        }
        let (debt_price, collateral_price) =
            (self.price(debt_asset)?, self.price(order.collateral)?);
        let owed_value = owed.value_at(debt_price, Rounding::Ceil).map_err(&overflow)?;
        let collateral_value =
            collateral_balance.value_at(collateral_price, Rounding::Floor).map_err(&overflow)?;
        let (close_factor, full_close_health, dust_value, bonus) =
            self.debt_liquidation_terms(order)?;
        let full_close = health.health_factor().is_some_and(|factor| factor <= full_close_health)
            || owed_value < dust_value
            || collateral_value < dust_value;
        let max_repay = if full_close {
            owed
        } else {
            owed.mul_ratio(close_factor, Rounding::Floor).map_err(&overflow)?
        };
        let bonus = toxic_guard(health.loan_to_value(), bonus)?;
        let one_plus_bonus = Ratio::ONE.checked_add(bonus).map_err(&overflow)?;
        let mut repay = order.amount.min(max_repay);
        let repay_value = repay.value_at(debt_price, Rounding::Floor).map_err(&overflow)?;
        let mut seized = repay_value
            .mul_ratio(one_plus_bonus, Rounding::Floor)
            .and_then(|value| value.quantity_at(collateral_price, Rounding::Floor))
            .map_err(&overflow)?;
        if seized > collateral_balance {
            // Not enough collateral: take all of it and pay only what it is worth without bonus.
            seized = collateral_balance;
            let worth = collateral_balance
                .value_at(collateral_price, Rounding::Ceil)
                .and_then(|value| value.div_ratio(one_plus_bonus, Rounding::Ceil))
                .and_then(|value| value.quantity_at(debt_price, Rounding::Ceil))
                .map_err(&overflow)?;
            repay = repay.min(worth);
        }
        if !repay.is_positive() || !seized.is_positive() {
            return Err(Rejection::NotPositive { field: "amount" });
        }
        // The bonus part of the seizure is what exceeds the repayment's worth in collateral.
        let without_bonus = repay
            .value_at(debt_price, Rounding::Ceil)
            .and_then(|value| value.quantity_at(collateral_price, Rounding::Ceil))
            .map_err(&overflow)?
            .min(seized);
        let bonus_part = seized.checked_sub(without_bonus).map_err(&overflow)?;
        let protocol_share = self.protocol_share_debt(order)?;
        let protocol_fee = bonus_part
            .mul_ratio(protocol_share, Rounding::Ceil)
            .map_err(&overflow)?
            .min(bonus_part);
        // Repay first (at most what is owed), then charge the keeper exactly what was paid.
        let (paid, repaid_market) = self.apply_repayment(&mut account, order.liability, repay)?;
        let keeper_holding = holding_mut(&mut keeper, debt_asset)?;
        keeper_holding.balance = debit(keeper_id, debt_asset, keeper_holding.balance, paid)?;
        let victim_holding = holding_mut(&mut account, order.collateral)?;
        victim_holding.balance = debit(id, order.collateral, victim_holding.balance, seized)?;
        let keeper_collateral = holding_mut(&mut keeper, order.collateral)?;
        keeper_collateral.balance = keeper_collateral
            .balance
            .checked_add(seized.checked_sub(protocol_fee).map_err(&overflow)?)
            .map_err(&overflow)?;
        self.require_keeper_health(keeper_id, &keeper)?;
        let fees = self.fees_after(order.collateral, protocol_fee)?;
        let mut events = vec![Event::DebtLiquidated {
            keeper: keeper_id,
            account: id,
            debt: debt_asset,
            collateral: order.collateral,
            repaid: paid,
            seized,
            protocol_fee,
            bonus,
            health_before: health.health_factor(),
        }];
        self.set_fees(order.collateral, fees);
        if let Some((asset, market)) = repaid_market {
            self.commit_lending(asset, market);
        }
        self.commit_account(keeper_id, keeper);
        self.record_deficits_if_bankrupt(id, &mut account, &mut events)?;
        self.commit_account(id, account);
        Ok(events)
    }

    /// Close factor, full-close health, dust value and bonus for a debt liquidation.
    fn debt_liquidation_terms(
        &self,
        order: DebtOrder,
    ) -> Result<(Ratio, Ratio, Amount, Ratio), Rejection> {
        // The bonus belongs to the collateral seized (Aave style); an asset without a lending
        // market (a settlement asset) uses the debt market's bonus, or none for a perp loss.
        let collateral_bonus =
            self.lending_config_at(order.collateral.index()).map(|config| config.liquidation_bonus);
        match order.liability {
            Liability::Lending(asset) => {
                let config = self.lending_config(asset)?;
                let bonus = collateral_bonus.unwrap_or(config.liquidation_bonus);
                Ok((config.close_factor, config.full_close_health, config.dust_value, bonus))
            }
            Liability::PerpLoss(market) => {
                let config = self
                    .config
                    .perps
                    .get(market.index())
                    .ok_or(Rejection::UnknownPerpMarket { market })?;
                let bonus = collateral_bonus.unwrap_or(Ratio::ZERO);
                Ok((config.close_factor, config.full_close_health, config.dust_value, bonus))
            }
        }
    }

    /// The venue's share of the bonus: the collateral's lending market decides (Aave style), as
    /// it does for the bonus; a collateral without a lending market falls back to the liability.
    fn protocol_share_debt(&self, order: DebtOrder) -> Result<Ratio, Rejection> {
        if let Some(config) = self.lending_config_at(order.collateral.index()) {
            return Ok(config.protocol_liquidation_share);
        }
        match order.liability {
            Liability::Lending(asset) => Ok(self.lending_config(asset)?.protocol_liquidation_share),
            Liability::PerpLoss(market) => Ok(self
                .config
                .perps
                .get(market.index())
                .ok_or(Rejection::UnknownPerpMarket { market })?
                .protocol_liquidation_share),
        }
    }

    /// The asset in which a liability is owed.
    fn liability_asset(&self, liability: Liability) -> Result<AssetId, Rejection> {
        match liability {
            Liability::Lending(asset) => {
                self.lending_market(asset)?;
                Ok(asset)
            }
            Liability::PerpLoss(market) => Ok(self.perp_assets(market)?.1),
        }
    }

    /// How much of a liability an account owes.
    fn liability_owed(
        &self,
        account: &Account,
        id: AccountId,
        liability: Liability,
    ) -> Result<Amount, Rejection> {
        match liability {
            Liability::Lending(asset) => {
                let shares = account
                    .holdings
                    .get(asset.index())
                    .map_or(backstop_money::Shares::ZERO, |holding| holding.debt_shares);
                if shares.is_zero() {
                    return Err(Rejection::NoDebt { account: id, asset });
                }
                self.lending_market(asset)?.debt_of(shares)
            }
            Liability::PerpLoss(market) => {
                let position = position_of(account, market)?;
                if !position.base.is_zero() || !position.quote.is_negative() {
                    return Err(Rejection::WrongLiquidationTarget {
                        reason: "unpaid_loss needs a closed position with a negative quote",
                    });
                }
                position.quote.checked_neg().map_err(Rejection::from_money("unpaid loss"))
            }
        }
    }

    /// Repays up to `amount` of a liability in the account; returns what was actually paid and,
    /// for lending debt, the market as it will be once committed.
    fn apply_repayment(
        &self,
        account: &mut Account,
        liability: Liability,
        amount: Amount,
    ) -> Result<(Amount, Option<(AssetId, crate::venue::lending::LendingMarket)>), Rejection> {
        let overflow = Rejection::from_money("repayment");
        match liability {
            Liability::Lending(asset) => {
                let mut market = self.lending_market(asset)?.clone();
                let holding = holding_mut(account, asset)?;
                let (paid, shares) = repayment(&market, holding.debt_shares, amount)?;
                holding.debt_shares = holding.debt_shares.checked_sub(shares).map_err(&overflow)?;
                market.debt_shares = market.debt_shares.checked_sub(shares).map_err(&overflow)?;
                market.cash = market.cash.checked_add(paid).map_err(&overflow)?;
                Ok((paid, Some((asset, market))))
            }
            Liability::PerpLoss(market) => {
                let mut position = position_of(account, market)?;
                let owed = position.quote.checked_neg().map_err(&overflow)?;
                let paid = amount.min(owed);
                position.quote = position.quote.checked_add(paid).map_err(&overflow)?;
                set_position(account, market, position)?;
                Ok((paid, None))
            }
        }
    }

    /// Liquidates a perpetual position: a keeper takes it over at the oracle price; a bankrupt
    /// position in a market whose waterfall has an ADL layer goes through the layers before ADL
    /// and auto-deleveraging instead (`backstop::adl`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn liquidate_position(
        &mut self,
        keeper_id: AccountId,
        mut keeper: Account,
        id: AccountId,
        mut account: Account,
        market: PerpMarketId,
        amount: Amount,
        health: crate::health::Health,
        seed: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("position liquidation");
        let (_, settlement) = self.perp_assets(market)?;
        let config = self
            .config
            .perps
            .get(market.index())
            .cloned()
            .ok_or(Rejection::UnknownPerpMarket { market })?;
        let victim_before = position_of(&account, market)?;
        if victim_before.base.is_zero() {
            return Err(Rejection::NoPosition { account: id, market });
        }
        let request = crate::backstop::adl::PositionLiquidation {
            keeper_id,
            keeper: &keeper,
            id,
            account: &account,
            market,
            amount,
            health,
            seed,
        };
        if let Some(events) = self.liquidate_bankrupt_position(&request)? {
            return Ok(events);
        }
        let (oracle, settlement_price) =
            (self.mark_price(market, Rounding::Floor)?, self.price(settlement)?);
        let base_abs = victim_before.base.checked_abs().map_err(&overflow)?;
        let notional_value = base_abs
            .value_at(oracle, Rounding::Floor)
            .and_then(|n| n.value_at(settlement_price, Rounding::Floor))
            .map_err(&overflow)?;
        let full_close =
            health.health_factor().is_some_and(|factor| factor <= config.full_close_health)
                || notional_value < config.dust_value;
        let max_size = if full_close {
            base_abs
        } else {
            base_abs.mul_ratio(config.close_factor, Rounding::Floor).map_err(&overflow)?
        };
        let size_abs = amount.min(max_size);
        if !size_abs.is_positive() {
            return Err(Rejection::NotPositive { field: "amount" });
        }
        let size = if victim_before.base.is_negative() {
            size_abs.checked_neg().map_err(&overflow)?
        } else {
            size_abs
        };
        let bankruptcy_price = self.bankruptcy_price_of(&account, market)?;
        // The keeper takes `size` over at the oracle price: the account sells it to the keeper.
        let proceeds = size.value_at(oracle, Rounding::Floor).map_err(&overflow)?;
        let fee_full = size_abs
            .value_at(oracle, Rounding::Ceil)
            .and_then(|n| n.mul_ratio(config.liquidation_fee, Rounding::Ceil))
            .map_err(&overflow)?;
        // Never charge a fee the account's equity cannot pay: that would only grow a deficit.
        let equity_settlement = health
            .equity()?
            .max(Amount::ZERO)
            .quantity_at(settlement_price, Rounding::Floor)
            .map_err(&overflow)?;
        let fee = fee_full.min(equity_settlement);
        let protocol_fee = fee
            .mul_ratio(config.protocol_liquidation_share, Rounding::Ceil)
            .map_err(&overflow)?
            .min(fee);
        let keeper_fee = fee.checked_sub(protocol_fee).map_err(&overflow)?;
        let victim_after = PerpPosition {
            base: victim_before.base.checked_sub(size).map_err(&overflow)?,
            quote: victim_before
                .quote
                .checked_add(proceeds)
                .and_then(|q| q.checked_sub(fee))
                .map_err(&overflow)?,
        };
        let keeper_before = position_of(&keeper, market)?;
        let keeper_after = PerpPosition {
            base: keeper_before.base.checked_add(size).map_err(&overflow)?,
            quote: keeper_before
                .quote
                .checked_sub(proceeds)
                .and_then(|q| q.checked_add(keeper_fee))
                .map_err(&overflow)?,
        };
        let open_interest = self.open_interest_after(
            market,
            [(victim_before, victim_after), (keeper_before, keeper_after)],
        )?;
        set_position(&mut account, market, victim_after)?;
        set_position(&mut keeper, market, keeper_after)?;
        let mut events = vec![Event::PositionLiquidated {
            keeper: keeper_id,
            account: id,
            market,
            size,
            price: oracle,
            fee,
            protocol_fee,
            bankruptcy_price,
        }];
        settle_if_closed(&mut account, id, market, settlement, &mut events)?;
        settle_if_closed(&mut keeper, keeper_id, market, settlement, &mut events)?;
        self.require_keeper_health(keeper_id, &keeper)?;
        let fees = self.fees_after(settlement, protocol_fee)?;
        self.set_fees(settlement, fees);
        self.set_open_interest(market, open_interest);
        self.commit_account(keeper_id, keeper);
        self.record_deficits_if_bankrupt(id, &mut account, &mut events)?;
        self.commit_account(id, account);
        Ok(events)
    }

    /// A keeper must stay above its own initial requirement after a liquidation.
    fn require_keeper_health(
        &self,
        keeper_id: AccountId,
        keeper: &Account,
    ) -> Result<(), Rejection> {
        match self.require_initial_health(keeper_id, keeper) {
            Err(Rejection::WouldBeUnhealthy { .. }) => {
                Err(Rejection::KeeperUnhealthy { keeper: keeper_id })
            }
            other => other,
        }
    }

    fn take_over(
        &mut self,
        backstop_id: AccountId,
        id: AccountId,
        mut account: Account,
        equity: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("takeover");
        let mut backstop = self
            .load_account(backstop_id)
            .map_err(|_| Rejection::NotBackstopAccount { account: backstop_id })?;
        if backstop.kind != AccountKind::Backstop || backstop_id == id {
            return Err(Rejection::NotBackstopAccount { account: backstop_id });
        }
        let mut events =
            vec![Event::AccountTakenOver { backstop: backstop_id, account: id, equity }];
        for (index, position) in account.positions.iter().enumerate() {
            if position.base.is_zero() {
                continue;
            }
            let market = PerpMarketId::from_index(index);
            let bankruptcy_price = self.bankruptcy_price_of(&account, market)?.unwrap_or_default();
            events.push(Event::PositionTakenOver {
                backstop: backstop_id,
                account: id,
                market,
                size: position.base,
                bankruptcy_price,
            });
        }
        let mut open_interest_changes = Vec::new();
        for (index, (from, to)) in
            account.holdings.iter_mut().zip(backstop.holdings.iter_mut()).enumerate()
        {
            let _ = index;
            to.balance = to.balance.checked_add(from.balance).map_err(&overflow)?;
            to.debt_shares = to.debt_shares.checked_add(from.debt_shares).map_err(&overflow)?;
            from.balance = Amount::ZERO;
            from.debt_shares = backstop_money::Shares::ZERO;
        }
        for (index, (from, to)) in
            account.positions.iter_mut().zip(backstop.positions.iter_mut()).enumerate()
        {
            let market = PerpMarketId::from_index(index);
            let to_before = *to;
            let from_before = *from;
            to.base = to.base.checked_add(from.base).map_err(&overflow)?;
            to.quote = to.quote.checked_add(from.quote).map_err(&overflow)?;
            *from = PerpPosition::default();
            let open_interest =
                self.open_interest_after(market, [(from_before, *from), (to_before, *to)])?;
            open_interest_changes.push((market, open_interest));
        }
        for (market, open_interest) in open_interest_changes {
            self.set_open_interest(market, open_interest);
        }
        self.commit_account(backstop_id, backstop);
        self.commit_account(id, account);
        Ok(events)
    }

    fn start_auction(
        &mut self,
        keeper_id: AccountId,
        id: AccountId,
        mut account: Account,
        debt: AssetId,
        collateral: AssetId,
        config: &DutchAuctionConfig,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("auction start");
        let mut market = self.lending_market(debt)?.clone();
        let holding = account.holdings.get(debt.index()).copied().unwrap_or_default();
        if holding.debt_shares.is_zero() {
            return Err(Rejection::NoDebt { account: id, asset: debt });
        }
        let lot = account
            .holdings
            .get(collateral.index())
            .map_or(Amount::ZERO, |holding| holding.balance);
        if lot.is_zero() {
            return Err(Rejection::NoCollateral { account: id, asset: collateral });
        }
        let owed = market.debt_of(holding.debt_shares)?;
        let tab = owed
            .mul_ratio(Ratio::ONE.checked_add(config.penalty).map_err(&overflow)?, Rounding::Ceil)
            .map_err(&overflow)?;
        let top =
            self.price(collateral)?.mul_ratio(config.buf, Rounding::Ceil).map_err(&overflow)?;
        // The debt leaves the account and stops accruing: the auction owes a fixed amount.
        market.debt_shares =
            market.debt_shares.checked_sub(holding.debt_shares).map_err(&overflow)?;
        market.auction_debt = market.auction_debt.checked_add(owed).map_err(&overflow)?;
        let debt_holding = holding_mut(&mut account, debt)?;
        debt_holding.debt_shares = backstop_money::Shares::ZERO;
        let collateral_holding = holding_mut(&mut account, collateral)?;
        collateral_holding.balance = Amount::ZERO;
        account.auctions_running = account
            .auctions_running
            .checked_add(1)
            .ok_or(Rejection::Overflow { context: "auction count" })?;
        let auction_id = AuctionId(self.state.next_auction);
        let next = self
            .state
            .next_auction
            .checked_add(1)
            .ok_or(Rejection::Overflow { context: "auction id" })?;
        let auction = Auction {
            account: id,
            keeper: keeper_id,
            collateral,
            debt,
            lot,
            tab,
            owed,
            top,
            started_at: self.state.now,
        };
        self.state.put_auction(auction_id, Some(auction));
        self.state.set_next_auction(next);
        self.commit_lending(debt, market);
        self.commit_account(id, account);
        Ok(vec![Event::AuctionStarted {
            auction: auction_id,
            account: id,
            keeper: keeper_id,
            collateral,
            debt,
            lot,
            tab,
            top,
        }])
    }

    /// Current price of an auction and whether it needs a reset.
    ///
    /// # Errors
    /// Unknown auction, overflow.
    pub fn auction_price(&self, auction_id: AuctionId) -> Result<(Price, bool), Rejection> {
        let auction = self
            .state
            .auctions
            .get(&auction_id)
            .ok_or(Rejection::UnknownAuction { auction: auction_id })?;
        let config = self.auction_config(auction.debt)?;
        let elapsed_secs = self.state.now.saturating_sub(auction.started_at);
        let price = auction_price_at(auction.top, &config, elapsed_secs)?;
        let floor = auction
            .top
            .mul_ratio(config.cusp, Rounding::Ceil)
            .map_err(Rejection::from_money("auction cusp"))?;
        Ok((price, elapsed_secs > config.tail_secs || price < floor))
    }

    fn auction_config(&self, debt: AssetId) -> Result<DutchAuctionConfig, Rejection> {
        match &self.lending_config(debt)?.liquidation {
            LiquidationMode::DutchAuction(config) => Ok(config.clone()),
            _ => Err(Rejection::WrongLiquidationTarget {
                reason: "the debt market is not in dutch_auction mode",
            }),
        }
    }

    pub(crate) fn take_auction(
        &mut self,
        keeper_id: AccountId,
        auction_id: AuctionId,
        amount: Amount,
        max_price: Price,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("auction take");
        if !amount.is_positive() {
            return Err(Rejection::NotPositive { field: "amount" });
        }
        let mut auction = self
            .state
            .auctions
            .get(&auction_id)
            .cloned()
            .ok_or(Rejection::UnknownAuction { auction: auction_id })?;
        if keeper_id == auction.account {
            return Err(Rejection::SelfLiquidation { account: keeper_id });
        }
        let mut keeper = self.load_account(keeper_id)?;
        let (price, needs_reset) = self.auction_price(auction_id)?;
        if needs_reset {
            return Err(Rejection::AuctionNeedsReset { auction: auction_id });
        }
        if price > max_price {
            return Err(Rejection::AuctionPriceAboveLimit {
                auction: auction_id,
                price,
                max_price,
            });
        }
        let debt_price = self.price(auction.debt)?;
        let mut bought = amount.min(auction.lot);
        // What the collateral costs in the debt asset, rounded up (the keeper pays).
        let mut paid = bought
            .value_at(price, Rounding::Ceil)
            .and_then(|value| value.quantity_at(debt_price, Rounding::Ceil))
            .map_err(&overflow)?;
        if paid >= auction.tab {
            paid = auction.tab;
            bought = paid
                .value_at(debt_price, Rounding::Floor)
                .and_then(|value| value.quantity_at(price, Rounding::Floor))
                .map_err(&overflow)?
                .min(auction.lot);
        }
        let keeper_debt = holding_mut(&mut keeper, auction.debt)?;
        keeper_debt.balance = debit(keeper_id, auction.debt, keeper_debt.balance, paid)?;
        let keeper_collateral = holding_mut(&mut keeper, auction.collateral)?;
        keeper_collateral.balance =
            keeper_collateral.balance.checked_add(bought).map_err(&overflow)?;
        self.require_keeper_health(keeper_id, &keeper)?;
        let mut market = self.lending_market(auction.debt)?.clone();
        let to_debt = paid.min(auction.owed);
        let penalty = paid.checked_sub(to_debt).map_err(&overflow)?;
        market.cash = market.cash.checked_add(to_debt).map_err(&overflow)?;
        market.auction_debt = market.auction_debt.checked_sub(to_debt).map_err(&overflow)?;
        auction.owed = auction.owed.checked_sub(to_debt).map_err(&overflow)?;
        auction.tab = auction.tab.checked_sub(paid).map_err(&overflow)?;
        auction.lot = auction.lot.checked_sub(bought).map_err(&overflow)?;
        let fees = self.fees_after(auction.debt, penalty)?;
        let mut events = vec![Event::AuctionTaken {
            auction: auction_id,
            keeper: keeper_id,
            collateral: bought,
            paid,
            price,
        }];
        let ended = auction.tab.is_zero() || auction.lot.is_zero();
        let mut account = if ended { Some(self.load_account(auction.account)?) } else { None };
        if let Some(account) = account.as_mut() {
            self.end_auction(auction_id, &auction, account, &mut market, &mut events)?;
        }
        self.set_fees(auction.debt, fees);
        self.commit_lending(auction.debt, market);
        self.commit_account(keeper_id, keeper);
        match account {
            Some(mut account) => {
                self.state.put_auction(auction_id, None);
                self.record_deficits_if_bankrupt(auction.account, &mut account, &mut events)?;
                self.commit_account(auction.account, account);
            }
            None => {
                self.state.put_auction(auction_id, Some(auction));
            }
        }
        Ok(events)
    }

    /// Returns the unsold lot to the account and records any unraised debt as a deficit.
    fn end_auction(
        &self,
        auction_id: AuctionId,
        auction: &Auction,
        account: &mut Account,
        market: &mut crate::venue::lending::LendingMarket,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("auction end");
        let holding = holding_mut(account, auction.collateral)?;
        holding.balance = holding.balance.checked_add(auction.lot).map_err(&overflow)?;
        account.auctions_running = account.auctions_running.saturating_sub(1);
        let mut debt_returned = Amount::ZERO;
        if auction.owed.is_positive() {
            market.auction_debt =
                market.auction_debt.checked_sub(auction.owed).map_err(&overflow)?;
        }
        let still_backed = !account.has_no_collateral()
            || !account.has_no_open_base()
            || account.auctions_running > 0;
        if auction.owed.is_positive() && still_backed {
            // Other collateral still backs the account: the unraised debt goes back to it (at
            // the current index, shares rounded up) instead of being written off.
            let shares = backstop_money::mul_div(
                auction.owed.raw(),
                backstop_money::SCALE,
                market.borrow_index.raw(),
                Rounding::Ceil,
            )
            .map(backstop_money::Shares::from_raw)
            .map_err(&overflow)?;
            market.debt_shares = market.debt_shares.checked_add(shares).map_err(&overflow)?;
            let holding = holding_mut(account, auction.debt)?;
            holding.debt_shares = holding.debt_shares.checked_add(shares).map_err(&overflow)?;
            debt_returned = auction.owed;
        } else if auction.owed.is_positive() {
            market.deficit = market.deficit.checked_add(auction.owed).map_err(&overflow)?;
            events.push(Event::DeficitRecorded {
                market: crate::ids::MarketRef::Lending(auction.debt),
                account: auction.account,
                amount: auction.owed,
                deficit_after: market.deficit,
            });
        }
        events.push(Event::AuctionEnded {
            auction: auction_id,
            returned: auction.lot,
            unraised: auction.tab,
            debt_returned,
        });
        Ok(())
    }

    pub(crate) fn reset_auction(&mut self, auction_id: AuctionId) -> Result<Vec<Event>, Rejection> {
        let (_, needs_reset) = self.auction_price(auction_id)?;
        if !needs_reset {
            return Err(Rejection::AuctionStillRunning { auction: auction_id });
        }
        let mut auction = self
            .state
            .auctions
            .get(&auction_id)
            .cloned()
            .ok_or(Rejection::UnknownAuction { auction: auction_id })?;
        let config = self.auction_config(auction.debt)?;
        auction.top = self
            .price(auction.collateral)?
            .mul_ratio(config.buf, Rounding::Ceil)
            .map_err(Rejection::from_money("auction reset"))?;
        auction.started_at = self.state.now;
        let top = auction.top;
        self.state.put_auction(auction_id, Some(auction));
        Ok(vec![Event::AuctionReset { auction: auction_id, top }])
    }

    /// Bankruptcy price of an account's position: the price at which closing it leaves the
    /// account's share of equity at zero. Equity is shared among positions in proportion to their
    /// maintenance requirement (dYdX style). Rounded up for longs and down for shorts, so that
    /// closing at it never leaves the account below zero. `None` without a position.
    ///
    /// # Errors
    /// Missing or stale prices, overflow.
    pub fn bankruptcy_price_of(
        &self,
        account: &Account,
        market: PerpMarketId,
    ) -> Result<Option<Price>, Rejection> {
        let overflow = Rejection::from_money("bankruptcy price");
        let position = position_of(account, market)?;
        if position.base.is_zero() {
            return Ok(None);
        }
        let (_, settlement) = self.perp_assets(market)?;
        let (oracle, settlement_price) =
            (self.mark_price(market, Rounding::Floor)?, self.price(settlement)?);
        let config =
            self.config.perps.get(market.index()).ok_or(Rejection::UnknownPerpMarket { market })?;
        let health = self.health_of(account)?;
        let requirement = position
            .base
            .checked_abs()
            .and_then(|base| base.value_at(oracle, Rounding::Ceil))
            .and_then(|n| n.value_at(settlement_price, Rounding::Ceil))
            .and_then(|n| n.mul_ratio(config.maintenance_margin, Rounding::Ceil))
            .map_err(&overflow)?;
        let share = if health.maintenance_requirement.is_positive() {
            health
                .equity()?
                .mul_div(requirement, health.maintenance_requirement, Rounding::Floor)
                .map_err(&overflow)?
        } else {
            health.equity()?
        };
        let share_settlement =
            share.quantity_at(settlement_price, Rounding::Floor).map_err(&overflow)?;
        let rounding = if position.base.is_positive() { Rounding::Ceil } else { Rounding::Floor };
        // p_b = oracle − share / base.
        let offset = share_settlement
            .mul_div(
                Amount::ONE,
                position.base,
                match rounding {
                    Rounding::Ceil => Rounding::Floor,
                    Rounding::Floor => Rounding::Ceil,
                },
            )
            .map_err(&overflow)?;
        let price = Price::from_raw(oracle.raw())
            .checked_sub(Price::from_raw(offset.raw()))
            .map_err(&overflow)?;
        Ok(Some(price.max(Price::ZERO)))
    }
}

/// Which liability a fixed-bonus debt liquidation repays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liability {
    /// Lending debt of an asset.
    Lending(AssetId),
    /// The unpaid loss of a closed perpetual position.
    PerpLoss(PerpMarketId),
}

/// A fixed-bonus debt liquidation request.
#[derive(Debug, Clone, Copy)]
struct DebtOrder {
    liability: Liability,
    collateral: AssetId,
    amount: Amount,
}

/// The bonus to pay, or zero when the account's loan-to-value is past 1 / (1 + bonus).
fn toxic_guard(loan_to_value: Option<Ratio>, bonus: Ratio) -> Result<Ratio, Rejection> {
    let Some(loan_to_value) = loan_to_value else { return Ok(bonus) };
    let overflow = Rejection::from_money("toxic guard");
    // LTV > 1/(1+b) ⟺ LTV × (1+b) > 1, compared without a division.
    let product = loan_to_value
        .mul_ratio(Ratio::ONE.checked_add(bonus).map_err(&overflow)?, Rounding::Floor)
        .map_err(&overflow)?;
    Ok(if product > Ratio::ONE { Ratio::ZERO } else { bonus })
}

/// Auction price after `elapsed_secs`: `top × cut^floor(elapsed / step)`, rounded down.
///
/// # Errors
/// Overflow.
pub fn auction_price_at(
    top: Price,
    config: &DutchAuctionConfig,
    elapsed_secs: u64,
) -> Result<Price, Rejection> {
    let steps = elapsed_secs
        .checked_div(config.step_secs)
        .unwrap_or(0)
        .min(crate::config::AUCTION_STEP_COUNT_MAX.saturating_mul(2));
    let factor = ratio_pow(config.cut, steps)?;
    top.mul_ratio(factor, Rounding::Floor).map_err(Rejection::from_money("auction price"))
}

/// `base^exponent` by repeated squaring, each product rounded down.
fn ratio_pow(base: Ratio, exponent: u64) -> Result<Ratio, Rejection> {
    let overflow = Rejection::from_money("power");
    let (mut result, mut square, mut remaining) = (Ratio::ONE, base, exponent);
    while remaining > 0 {
        if remaining & 1 == 1 {
            result = result.mul_ratio(square, Rounding::Floor).map_err(&overflow)?;
        }
        remaining >>= 1;
        if remaining > 0 {
            square = square.mul_ratio(square, Rounding::Floor).map_err(&overflow)?;
        }
    }
    Ok(result)
}
