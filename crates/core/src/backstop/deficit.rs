//! The explicit bad-debt ledger: every shortfall that no collateral is left to cover is moved out
//! of the account and recorded against its market, with an event. Nothing is written off silently.
//!
//! A lending deficit is debt owed to the market's suppliers that no borrower will repay; a
//! perpetual deficit is a loss owed to the profitable side that the bankrupt account cannot pay.
//! Recognition happens when an account has liabilities, no collateral balance at all and no open
//! perpetual base (the Aave v3.3 rule: only when collateral is gone, so liquidation incentives
//! keep working until then).

use crate::account::Account;
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, MarketRef, PerpMarketId};
use crate::rejection::Rejection;
use backstop_money::{Amount, Shares};

/// The account named in the `deficit_recorded` event of an exploit (no account owed it).
pub const EXPLOIT_ACCOUNT: AccountId = AccountId(u64::MAX);

impl Engine {
    /// Drains `amount` of a lending market's cash out of the venue and records it as the
    /// market's deficit (it then walks the market's waterfall).
    pub(crate) fn exploit(
        &mut self,
        asset: AssetId,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_amount(asset, amount, "amount")?;
        let mut market = self.lending_market(asset)?.clone();
        if amount > market.cash {
            return Err(Rejection::InsufficientLiquidity {
                asset,
                available: market.cash,
                needed: amount,
            });
        }
        let overflow = Rejection::from_money("exploit");
        market.cash = market.cash.checked_sub(amount).map_err(&overflow)?;
        market.deficit = market.deficit.checked_add(amount).map_err(&overflow)?;
        let external = self.external_after(asset, amount.checked_neg().map_err(&overflow)?)?;
        let deficit_after = market.deficit;
        self.commit_lending(asset, market);
        self.set_external(asset, external);
        Ok(vec![
            Event::Exploited { asset, amount },
            Event::DeficitRecorded {
                market: MarketRef::Lending(asset),
                account: EXPLOIT_ACCOUNT,
                amount,
                deficit_after,
            },
        ])
    }

    /// Moves the shortfall of a bankrupt account (liabilities, no collateral, no open base) to
    /// the deficit ledgers of its markets. Does nothing for any other account.
    pub(crate) fn record_deficits_if_bankrupt(
        &mut self,
        id: AccountId,
        account: &mut Account,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        if !account.has_no_collateral()
            || !account.has_no_open_base()
            || !account.has_liabilities()
            || account.auctions_running > 0
        {
            return Ok(());
        }
        let overflow = Rejection::from_money("deficit");
        for index in 0..account.holdings.len() {
            let shares =
                account.holdings.get(index).map_or(Shares::ZERO, |holding| holding.debt_shares);
            if shares.is_zero() {
                continue;
            }
            let asset = AssetId::from_index(index);
            let mut market = self.lending_market(asset)?.clone();
            let debt = market.debt_of(shares)?;
            market.debt_shares = market.debt_shares.checked_sub(shares).map_err(&overflow)?;
            market.deficit = market.deficit.checked_add(debt).map_err(&overflow)?;
            let deficit_after = market.deficit;
            self.commit_lending(asset, market);
            if let Some(holding) = account.holdings.get_mut(index) {
                holding.debt_shares = Shares::ZERO;
            }
            events.push(Event::DeficitRecorded {
                market: MarketRef::Lending(asset),
                account: id,
                amount: debt,
                deficit_after,
            });
        }
        for index in 0..account.positions.len() {
            let quote =
                account.positions.get(index).map_or(Amount::ZERO, |position| position.quote);
            if !quote.is_negative() {
                continue;
            }
            let market = PerpMarketId::from_index(index);
            let loss = quote.checked_neg().map_err(&overflow)?;
            let state =
                self.state.perp_mut(index).ok_or(Rejection::UnknownPerpMarket { market })?;
            *state.deficit = state.deficit.checked_add(loss).map_err(&overflow)?;
            let deficit_after = *state.deficit;
            if let Some(position) = account.positions.get_mut(index) {
                position.quote = Amount::ZERO;
            }
            events.push(Event::DeficitRecorded {
                market: MarketRef::Perp(market),
                account: id,
                amount: loss,
                deficit_after,
            });
        }
        Ok(())
    }
}
