//! External cover: guarantor capital with a limit and an attachment point (excess of loss),
//! bought for a term with a premium, claimed by the waterfall, settled by the guarantor, and
//! clawed back by recoveries.
//!
//! - **Buying** (`BuyCover`): the premium `limit × premium_rate × term_secs / 31,536,000` is
//!   rounded **up** to the asset's smallest unit (the guarantor is owed it) and leaves the venue
//!   from a fund of the cover's asset (the fund's balance falls, and so do the net external
//!   deposits). The fund pays only above its floor. A new term starts afresh (`losses_reached`
//!   and `paid` back to zero) and only when the previous term has ended and none of its claims is
//!   open. Losses recognised before the purchase are never covered.
//! - **Claiming** (the waterfall reaches `cover:<name>`): only within the term
//!   (`now < term_end`). The *new* loss reaching the cover is the part of the remaining deficit
//!   recognised since the cover was last reached (earlier layers are deemed to have paid the
//!   oldest losses first), so a loss left uncovered and walked again is never counted twice. New
//!   losses accumulate in `losses_reached`; the cover takes the part of them above `attachment`,
//!   at most `limit − paid − open claims` and at most the remaining deficit. That part moves to
//!   pending as a claim; the walk goes on over the uncovered rest only.
//! - **Settling** (`SettleCoverClaim`): the guarantor pays `0 ≤ amount ≤ claim` into the market
//!   from outside (net external deposits rise); the payment is recorded for `cover:<name>` so a
//!   recovery can claw it back (recoveries return to the layers in reverse order of payment; the
//!   cover's share leaves the venue back to the guarantor). The unpaid rest returns to the deficit
//!   and the waterfall resumes at the layer after the cover.
//!
//! No rounding happens in claims and settlements: amounts are moved exactly.

use crate::backstop::layers::LayerRef;
use crate::backstop::net::CoverClaim;
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AssetId, MarketRef};
use crate::rejection::Rejection;
use backstop_money::{Amount, Rounding};

impl Engine {
    /// Index of a cover by name, or [`Rejection::UnknownLayer`].
    fn cover_index(&self, name: &str) -> Result<usize, Rejection> {
        self.config
            .covers
            .iter()
            .position(|cover| cover.name == name)
            .ok_or_else(|| Rejection::UnknownLayer { layer: format!("cover:{name}") })
    }

    /// The smallest unit of an asset at scale 10^18 (10^(18 − decimals)).
    pub(crate) fn cover_recap_unit(&self, asset: AssetId) -> i128 {
        let decimals = self.config.assets.get(asset.index()).map_or(18, |config| config.decimals);
        10_i128.pow(backstop_money::SCALE_DECIMALS.saturating_sub(decimals))
    }

    /// Sum of the open claims on cover `index`.
    fn open_claims_of(&self, index: usize) -> Result<(Amount, u64), Rejection> {
        let mut total = Amount::ZERO;
        let mut count: u64 = 0;
        for claim in self.state.net.claims.values().filter(|claim| claim.cover == index) {
            total =
                total.checked_add(claim.amount).map_err(Rejection::from_money("cover claims"))?;
            count = count.saturating_add(1);
        }
        Ok((total, count))
    }

    /// `BuyCover`: pays the premium of a new term of cover `cover` from fund `fund`.
    pub(crate) fn buy_cover(
        &mut self,
        cover: &str,
        fund: &str,
        term_secs: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.cover_index(cover)?;
        let config = self
            .config
            .covers
            .get(index)
            .cloned()
            .ok_or_else(|| Rejection::UnknownLayer { layer: format!("cover:{cover}") })?;
        let fund_index = self.fund_index(fund)?;
        let fund_config = self
            .config
            .funds
            .get(fund_index)
            .cloned()
            .ok_or_else(|| Rejection::UnknownLayer { layer: fund.to_owned() })?;
        if term_secs == 0 {
            return Err(Rejection::NotPositive { field: "term_secs" });
        }
        if fund_config.asset != config.asset {
            return Err(Rejection::PremiumFundMismatch {
                cover: cover.to_owned(),
                fund: fund.to_owned(),
            });
        }
        let now = self.state.now;
        let mut state = self.state.net.covers.get(index).cloned().unwrap_or_default();
        let (_, open_claims) = self.open_claims_of(index)?;
        if now < state.term_end || open_claims > 0 {
            return Err(Rejection::CoverInForce {
                cover: cover.to_owned(),
                term_end: state.term_end,
                open_claims,
            });
        }
        let asset = self
            .config
            .asset_id(&config.asset)
            .ok_or_else(|| Rejection::UnknownLayer { layer: format!("cover:{cover}") })?;
        let overflow = Rejection::from_money("cover premium");
        let term_end =
            now.checked_add(term_secs).ok_or(Rejection::Overflow { context: "cover term" })?;
        // Premium = limit × rate × term / year, rounded up (owed to the guarantor), then up again
        // to the asset's smallest unit (ceil of a ceil by a whole number is the exact ceil).
        let rate_term = config
            .premium_rate
            .raw()
            .checked_mul(i128::from(term_secs))
            .ok_or(Rejection::Overflow { context: "cover premium" })?;
        let year_scaled = backstop_money::SCALE
            .checked_mul(crate::venue::lending::YEAR_SECS)
            .ok_or(Rejection::Overflow { context: "cover premium" })?;
        let premium_raw =
            backstop_money::mul_div(config.limit.raw(), rate_term, year_scaled, Rounding::Ceil)
                .map_err(&overflow)?;
        let unit = self.cover_recap_unit(asset);
        let premium = backstop_money::mul_div(premium_raw, 1, unit, Rounding::Ceil)
            .and_then(|units| units.checked_mul(unit).ok_or(backstop_money::MoneyError::Overflow))
            .map(Amount::from_raw)
            .map_err(&overflow)?;
        let mut fund_state = self.state.net.funds.get(fund_index).cloned().unwrap_or_default();
        let available = fund_state.balance.saturating_sub_to_zero(fund_config.floor);
        if premium > available {
            return Err(Rejection::PremiumAboveFund { fund: fund.to_owned(), available, premium });
        }
        fund_state.balance = fund_state.balance.checked_sub(premium).map_err(&overflow)?;
        let external = self.external_after(asset, premium.checked_neg().map_err(&overflow)?)?;
        state.premiums_paid = state.premiums_paid.checked_add(premium).map_err(&overflow)?;
        state.term_end = term_end;
        state.losses_reached = Amount::ZERO;
        state.paid = Amount::ZERO;
        // Losses recognised before the term are not covered.
        state.recognized_seen = self.state.net.recognized.clone();
        // Everything checked: write.
        if let Some(slot) = self.state.net_mut().funds.get_mut(fund_index) {
            *slot = fund_state;
        }
        if let Some(slot) = self.state.net_mut().covers.get_mut(index) {
            *slot = state;
        }
        self.set_external(asset, external);
        Ok(vec![Event::CoverBought {
            cover: cover.to_owned(),
            fund: fund.to_owned(),
            premium,
            term_end,
        }])
    }

    /// Opens a claim on cover `name` for the covered part of `remaining`; the claimed amount
    /// moves from the market's deficit to pending. Outside the term nothing is claimed.
    pub(crate) fn open_cover_claim(
        &mut self,
        name: &str,
        market: MarketRef,
        remaining: Amount,
        position: usize,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        let index = self.cover_index(name)?;
        let config = self
            .config
            .covers
            .get(index)
            .cloned()
            .ok_or_else(|| Rejection::UnknownLayer { layer: format!("cover:{name}") })?;
        let overflow = Rejection::from_money("cover claim");
        let recognized = self.state.net.recognized.get(&market).copied().unwrap_or_default();
        let mut state = self.state.net.covers.get(index).cloned().unwrap_or_default();
        let seen = state.recognized_seen.insert(market, recognized).unwrap_or_default();
        if self.state.now >= state.term_end {
            // Out of term: the loss passes the cover uncounted (and is never counted later).
            if let Some(slot) = self.state.net_mut().covers.get_mut(index) {
                *slot = state;
            }
            return Ok(());
        }
        let fresh = recognized.saturating_sub_to_zero(seen).min(remaining);
        let before = state.losses_reached;
        let after = before.checked_add(fresh).map_err(&overflow)?;
        let excess = after
            .saturating_sub_to_zero(config.attachment)
            .checked_sub(before.saturating_sub_to_zero(config.attachment))
            .map_err(&overflow)?;
        let (open, _) = self.open_claims_of(index)?;
        let capacity = config.limit.saturating_sub_to_zero(state.paid).saturating_sub_to_zero(open);
        let amount = excess.min(capacity).min(remaining);
        state.losses_reached = after;
        if let Some(slot) = self.state.net_mut().covers.get_mut(index) {
            *slot = state;
        }
        if !amount.is_positive() {
            return Ok(());
        }
        self.move_deficit_to_pending(market, amount)?;
        let claim = self.state.net.next_id;
        let opened_at = self.state.now;
        self.state.net_mut().next_id = claim.saturating_add(1);
        self.state.net_mut().claims.insert(
            claim,
            CoverClaim { cover: index, market, amount, opened_at, layer_position: position },
        );
        events.push(Event::CoverClaimOpened {
            claim,
            cover: name.to_owned(),
            market,
            amount,
            losses_reached: after,
        });
        Ok(())
    }

    /// `SettleCoverClaim`: the guarantor pays `amount` of claim `claim` into the market.
    pub(crate) fn settle_cover_claim(
        &mut self,
        claim_id: u64,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let claim = self
            .state
            .net
            .claims
            .get(&claim_id)
            .cloned()
            .ok_or(Rejection::UnknownCoverClaim { claim: claim_id })?;
        if amount.is_negative() || amount > claim.amount {
            return Err(Rejection::SettlementAboveClaim {
                claim: claim_id,
                claimed: claim.amount,
                amount,
            });
        }
        let asset = self.deficit_asset(claim.market)?;
        // Tokens from outside come in whole units, except a payment of the exact claim (the
        // engine's own amounts may be finer than the asset's unit).
        if amount.is_positive() && amount != claim.amount {
            self.check_amount(asset, amount, "amount")?;
        }
        let name = self
            .config
            .covers
            .get(claim.cover)
            .map(|cover| cover.name.clone())
            .ok_or(Rejection::UnknownCoverClaim { claim: claim_id })?;
        let layer = format!("cover:{name}");
        let overflow = Rejection::from_money("cover settlement");
        let external = self.external_after(asset, amount)?;
        let mut state = self.state.net.covers.get(claim.cover).cloned().unwrap_or_default();
        state.paid = state.paid.checked_add(amount).map_err(&overflow)?;
        let returned = claim.amount.checked_sub(amount).map_err(&overflow)?;
        // Everything checked: write.
        self.state.net_mut().claims.remove(&claim_id);
        let mut events = vec![Event::CoverClaimSettled {
            claim: claim_id,
            cover: name,
            market: claim.market,
            paid: amount,
            returned,
        }];
        if amount.is_positive() {
            self.pay_pending(claim.market, amount)?;
            self.set_external(asset, external);
            self.record_payment(claim.market, &layer, amount);
            // What the cover left unpaid is still owed: it returns to the deficit just below.
            let remaining =
                self.deficit_of(claim.market).checked_add(returned).map_err(&overflow)?;
            events.push(Event::LayerPaid { market: claim.market, layer, amount, remaining });
        }
        if let Some(slot) = self.state.net_mut().covers.get_mut(claim.cover) {
            *slot = state;
        }
        // Cash that reaches a lending market repays an emergency loan first.
        if amount.is_positive()
            && let crate::ids::MarketRef::Lending(lending_asset) = claim.market
        {
            self.repay_facility_from_cash(lending_asset, &mut events)?;
        }
        if returned.is_positive() {
            self.return_pending_to_deficit(claim.market, returned)?;
            // Covers later in the waterfall have not seen the returned loss yet.
            for (position, (_, layer)) in self.waterfall_of(claim.market).into_iter().enumerate() {
                let LayerRef::Cover(later) = layer else { continue };
                if position <= claim.layer_position {
                    continue;
                }
                let later = self.cover_index(&later)?;
                if let Some(cover) = self.state.net_mut().covers.get_mut(later)
                    && let Some(seen) = cover.recognized_seen.get_mut(&claim.market)
                {
                    *seen = seen.saturating_sub_to_zero(returned);
                }
            }
            let from = claim.layer_position.saturating_add(1);
            self.run_waterfall(claim.market, from, &mut events)?;
        }
        Ok(events)
    }
}
