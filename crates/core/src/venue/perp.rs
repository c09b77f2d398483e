//! Perpetual markets: positions as (base, quote) pairs, trades between two accounts, funding.
//!
//! A position keeps its signed base quantity and the signed settlement-asset cash flow of its
//! trades and funding (`quote`): buying `s` at `p` adds `s` to base and `−s·p` to quote. Its value
//! at oracle price `P` is `quote + base·P`. Every trade has two sides, so the base of a market
//! sums to zero and its quote is conserved; funding rounds against both sides and the rounding
//! goes to the venue. When a position's base returns to zero its quote (the realised PnL) settles
//! into the settlement-asset collateral; a loss larger than that collateral stays in the position
//! as an unpaid loss, still counted in the account's margin.

use crate::account::Account;
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, PerpMarketId};
use crate::rejection::Rejection;
use crate::venue::lending::holding_mut;
use backstop_money::{Amount, Price, Ratio, Rounding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One account's position in one perpetual market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PerpPosition {
    /// Signed base quantity (positive: long).
    pub base: Amount,
    /// Signed settlement-asset cash flow of trades, fees and funding.
    pub quote: Amount,
}

impl PerpPosition {
    /// True when there is neither base nor an unpaid quote.
    #[must_use]
    pub fn is_flat(&self) -> bool {
        self.base.is_zero() && self.quote.is_zero()
    }

    /// Value of the position at `price` in settlement units: `quote + base × price`, rounded
    /// down (so a loss is never understated).
    ///
    /// # Errors
    /// Overflow.
    pub fn value_at(&self, price: Price) -> Result<Amount, Rejection> {
        let overflow = Rejection::from_money("position value");
        let marked = self.base.value_at(price, Rounding::Floor).map_err(&overflow)?;
        self.quote.checked_add(marked).map_err(&overflow)
    }
}

/// State of one perpetual market.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerpMarket {
    /// Sum of long base (equal to the sum of short base).
    pub open_interest: Amount,
    /// Losses of bankrupt accounts not yet covered (owed to the profitable side).
    pub deficit: Amount,
    /// Accounts with a position that is not flat, for funding and deleveraging.
    #[serde(skip)]
    pub holders: BTreeSet<AccountId>,
}

impl Engine {
    /// Settlement and underlying assets of a market.
    pub(crate) fn perp_assets(
        &self,
        market: PerpMarketId,
    ) -> Result<(AssetId, AssetId), Rejection> {
        self.tables
            .perp_assets
            .get(market.index())
            .copied()
            .ok_or(Rejection::UnknownPerpMarket { market })
    }

    /// The index price of a perpetual market in settlement units: underlying price / settlement
    /// price, rounded as asked. With a settlement asset at par this is the underlying's price.
    pub(crate) fn mark_price(
        &self,
        market: PerpMarketId,
        rounding: Rounding,
    ) -> Result<Price, Rejection> {
        let (underlying, settlement) = self.perp_assets(market)?;
        let (underlying_price, settlement_price) =
            (self.price(underlying)?, self.price(settlement)?);
        underlying_price
            .mul_div(Price::ONE, settlement_price, rounding)
            .map_err(Rejection::from_money("mark price"))
    }

    pub(crate) fn trade(
        &mut self,
        market: PerpMarketId,
        taker_id: AccountId,
        maker_id: AccountId,
        size: Amount,
        price: Price,
    ) -> Result<Vec<Event>, Rejection> {
        let (_, settlement) = self.perp_assets(market)?;
        let config = self
            .config
            .perps
            .get(market.index())
            .cloned()
            .ok_or(Rejection::UnknownPerpMarket { market })?;
        if size.is_zero() {
            return Err(Rejection::NotPositive { field: "size" });
        }
        if !price.is_positive() {
            return Err(Rejection::NotPositive { field: "price" });
        }
        if taker_id == maker_id {
            return Err(Rejection::SameAccount { account: taker_id });
        }
        let mut taker = self.load_account(taker_id)?;
        let mut maker = self.load_account(maker_id)?;
        self.check_not_in_auction(taker_id, &taker)?;
        self.check_not_in_auction(maker_id, &maker)?;
        let oracle = self.mark_price(market, Rounding::Floor)?;
        check_band(market, price, oracle, config.price_band)?;
        let overflow = Rejection::from_money("trade");
        let notional = size
            .checked_abs()
            .and_then(|size| size.value_at(price, Rounding::Floor))
            .map_err(&overflow)?;
        let fee = notional.mul_ratio(config.trading_fee, Rounding::Ceil).map_err(&overflow)?;
        let cash_flow =
            if size.is_positive() { notional.checked_neg().map_err(&overflow)? } else { notional };
        let taker_before = position_of(&taker, market)?;
        let maker_before = position_of(&maker, market)?;
        let taker_after = PerpPosition {
            base: taker_before.base.checked_add(size).map_err(&overflow)?,
            quote: taker_before
                .quote
                .checked_add(cash_flow)
                .and_then(|q| q.checked_sub(fee))
                .map_err(&overflow)?,
        };
        let maker_after = PerpPosition {
            base: maker_before.base.checked_sub(size).map_err(&overflow)?,
            quote: maker_before.quote.checked_sub(cash_flow).map_err(&overflow)?,
        };
        let open_interest = self.open_interest_after(
            market,
            [(taker_before, taker_after), (maker_before, maker_after)],
        )?;
        if open_interest > config.open_interest_cap
            && open_interest > self.perp_market(market)?.open_interest
        {
            return Err(Rejection::OpenInterestCapExceeded {
                market,
                open_interest,
                cap: config.open_interest_cap,
            });
        }
        set_position(&mut taker, market, taker_after)?;
        set_position(&mut maker, market, maker_after)?;
        let mut events =
            vec![Event::Traded { market, taker: taker_id, maker: maker_id, size, price, fee }];
        settle_if_closed(&mut taker, taker_id, market, settlement, &mut events)?;
        settle_if_closed(&mut maker, maker_id, market, settlement, &mut events)?;
        for (id, account, before, after) in [
            (taker_id, &taker, taker_before, taker_after),
            (maker_id, &maker, maker_before, maker_after),
        ] {
            if adds_risk(before, after) {
                self.check_status_allows_new_risk()?;
                self.require_initial_health(id, account)?;
                self.require_leverage(id, account, market, oracle, config.max_leverage)?;
            } else {
                self.require_no_worse(id, account)?;
            }
        }
        let fees = self.fees_after(settlement, fee)?;
        self.set_fees(settlement, fees);
        self.set_open_interest(market, open_interest);
        self.record_deficits_if_bankrupt(taker_id, &mut taker, &mut events)?;
        self.record_deficits_if_bankrupt(maker_id, &mut maker, &mut events)?;
        self.commit_account(taker_id, taker);
        self.commit_account(maker_id, maker);
        Ok(events)
    }

    pub(crate) fn accrue_funding(
        &mut self,
        market: PerpMarketId,
        rate: Ratio,
    ) -> Result<Vec<Event>, Rejection> {
        let (_, settlement) = self.perp_assets(market)?;
        let oracle = self.mark_price(market, Rounding::Floor)?;
        let overflow = Rejection::from_money("funding");
        // Funding per unit of base, in settlement units; each side rounds against itself.
        let per_unit = oracle.mul_ratio(rate, Rounding::Floor).map_err(&overflow)?;
        let holders: Vec<AccountId> = self.perp_market(market)?.holders.iter().copied().collect();
        let mut updated = Vec::with_capacity(holders.len());
        let (mut paid, mut received) = (Amount::ZERO, Amount::ZERO);
        for id in holders {
            let mut account = self.load_account(id)?;
            let mut position = position_of(&account, market)?;
            if position.base.is_zero() {
                continue;
            }
            // Positive: the position receives; negative: it pays. Rounded down either way,
            // so payers pay the rounding and receivers forgo it.
            let exact_sign_flow = position
                .base
                .checked_neg()
                .and_then(|base| {
                    base.mul_div(Amount::from_raw(per_unit.raw()), Amount::ONE, Rounding::Floor)
                })
                .map_err(&overflow)?;
            position.quote = position.quote.checked_add(exact_sign_flow).map_err(&overflow)?;
            if exact_sign_flow.is_negative() {
                paid = paid.checked_sub(exact_sign_flow).map_err(&overflow)?;
            } else {
                received = received.checked_add(exact_sign_flow).map_err(&overflow)?;
            }
            set_position(&mut account, market, position)?;
            updated.push((id, account));
        }
        let residual = paid.checked_sub(received).map_err(&overflow)?;
        // Both sides hold equal base, so exact flows cancel and floor rounding leaves residual ≥ 0.
        assert!(!residual.is_negative(), "funding residual must not be negative");
        let fees = self.fees_after(settlement, residual)?;
        self.set_fees(settlement, fees);
        for (id, account) in updated {
            self.commit_account(id, account);
        }
        Ok(vec![Event::FundingPaid { market, rate, paid, received, residual }])
    }

    pub(crate) fn perp_market(&self, market: PerpMarketId) -> Result<&PerpMarket, Rejection> {
        self.state.perps.get(market.index()).ok_or(Rejection::UnknownPerpMarket { market })
    }

    pub(crate) fn set_open_interest(&mut self, market: PerpMarketId, open_interest: Amount) {
        if let Some(state) = self.state.perp_mut(market.index()) {
            *state.open_interest = open_interest;
        }
    }

    pub(crate) fn set_fees(&mut self, asset: AssetId, fees: Amount) {
        if let Some(slot) = self.state.fee_mut(asset.index()) {
            *slot = fees;
        }
    }

    /// Open interest after replacing the given (before, after) positions.
    pub(crate) fn open_interest_after<const N: usize>(
        &self,
        market: PerpMarketId,
        changes: [(PerpPosition, PerpPosition); N],
    ) -> Result<Amount, Rejection> {
        let overflow = Rejection::from_money("open interest");
        let mut open_interest = self.perp_market(market)?.open_interest;
        for (before, after) in changes {
            open_interest = open_interest
                .checked_sub(before.base.max(Amount::ZERO))
                .and_then(|oi| oi.checked_add(after.base.max(Amount::ZERO)))
                .map_err(&overflow)?;
        }
        Ok(open_interest)
    }

    /// Refuses a position whose notional exceeds `max_leverage` × the account's equity.
    fn require_leverage(
        &self,
        id: AccountId,
        account: &Account,
        market: PerpMarketId,
        oracle: Price,
        max_leverage: Ratio,
    ) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("leverage");
        let position = position_of(account, market)?;
        let notional = position
            .base
            .checked_abs()
            .and_then(|base| base.value_at(oracle, Rounding::Ceil))
            .map_err(&overflow)?;
        let equity = self.health_of(account)?.equity()?;
        let limit =
            equity.max(Amount::ZERO).mul_ratio(max_leverage, Rounding::Floor).map_err(&overflow)?;
        if notional > limit {
            return Err(Rejection::LeverageTooHigh { account: id, market });
        }
        Ok(())
    }
}

/// True when a trade grows a position or flips its side: then initial margin and leverage apply.
fn adds_risk(before: PerpPosition, after: PerpPosition) -> bool {
    let grows = after.base.checked_abs().ok() > before.base.checked_abs().ok();
    let flips = !after.base.is_zero() && after.base.is_negative() != before.base.is_negative();
    grows || (flips && !before.base.is_zero())
}

/// Refuses a trade price outside the band around the oracle price.
fn check_band(
    market: PerpMarketId,
    price: Price,
    oracle: Price,
    band: Ratio,
) -> Result<(), Rejection> {
    let distance = price.checked_sub(oracle).and_then(Price::checked_abs);
    // Rounded up: a price a hair outside the band is outside.
    let relative =
        distance.and_then(|distance| Ratio::from_fraction(distance, oracle, Rounding::Ceil));
    match relative {
        Ok(relative) if relative <= band => Ok(()),
        _ => Err(Rejection::PriceOutsideBand { market, price, oracle }),
    }
}

/// An account's position in a market.
pub(crate) fn position_of(
    account: &Account,
    market: PerpMarketId,
) -> Result<PerpPosition, Rejection> {
    account.positions.get(market.index()).copied().ok_or(Rejection::UnknownPerpMarket { market })
}

/// Replaces an account's position in a market.
pub(crate) fn set_position(
    account: &mut Account,
    market: PerpMarketId,
    position: PerpPosition,
) -> Result<(), Rejection> {
    let slot =
        account.positions.get_mut(market.index()).ok_or(Rejection::UnknownPerpMarket { market })?;
    *slot = position;
    Ok(())
}

/// Settles a position's quote into settlement collateral once its base is zero.
pub(crate) fn settle_if_closed(
    account: &mut Account,
    id: AccountId,
    market: PerpMarketId,
    settlement: AssetId,
    events: &mut Vec<Event>,
) -> Result<(), Rejection> {
    let mut position = position_of(account, market)?;
    if !position.base.is_zero() || position.quote.is_zero() {
        return Ok(());
    }
    let overflow = Rejection::from_money("settlement");
    let holding = holding_mut(account, settlement)?;
    // A profit settles whole; a loss settles up to the collateral there is.
    let moved = if position.quote.is_positive() {
        position.quote
    } else {
        position.quote.max(holding.balance.checked_neg().map_err(&overflow)?)
    };
    holding.balance = holding.balance.checked_add(moved).map_err(&overflow)?;
    position.quote = position.quote.checked_sub(moved).map_err(&overflow)?;
    set_position(account, market, position)?;
    events.push(Event::PnlSettled {
        account: id,
        market,
        amount: moved,
        unsettled: position.quote,
    });
    Ok(())
}
