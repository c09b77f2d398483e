//! The waterfall: the ordered list of layers a market's deficit walks through.
//!
//! After every command that recorded a deficit, the engine walks the market's waterfall from its
//! first layer. Each layer pays what it can (limited by its balance, floor and caps) and the rest
//! moves on: a layer pays only when every earlier layer is exhausted or capped. Layers that pay
//! later (a cover claim waiting for its guarantor, a recapitalisation auction waiting for
//! bidders) move their part of the deficit to the market's *pending* amount; if they fail, it
//! returns to the deficit and the walk resumes after them. Every payment is an event and is
//! recorded per market and layer, so recoveries can flow back in reverse order.
//!
//! Invariants kept here (docs/INVARIANTS.md): a deficit is covered exactly once (deficit +
//! pending + covered = recognised), no layer goes negative, the sum of what layers paid equals
//! the deficit covered.

use crate::backstop::layers::LayerRef;
use crate::backstop::net::LayerPayment;
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::MarketRef;
use crate::rejection::Rejection;
use backstop_money::{Amount, Rounding};

impl Engine {
    /// The layers of a market's waterfall (empty when it has none).
    pub(crate) fn waterfall_of(&self, market: MarketRef) -> Vec<(String, LayerRef)> {
        self.tables.waterfalls.get(&market).cloned().unwrap_or_default()
    }

    /// The uncovered deficit of a market.
    pub(crate) fn deficit_of(&self, market: MarketRef) -> Amount {
        match market {
            MarketRef::Lending(asset) => self
                .state
                .lending
                .get(asset.index())
                .and_then(Option::as_ref)
                .map_or(Amount::ZERO, |market| market.deficit),
            MarketRef::Perp(perp) => {
                self.state.perps.get(perp.index()).map_or(Amount::ZERO, |market| market.deficit)
            }
        }
    }

    /// Walks the waterfall of every market in which the command's events recorded a deficit.
    pub(crate) fn settle_queued_waterfalls(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        let mut markets: Vec<MarketRef> = Vec::new();
        for event in events.iter() {
            if let Event::DeficitRecorded { market, amount, .. } = event {
                let recognized = self.state.net_mut().recognized.entry(*market).or_default();
                *recognized = recognized
                    .checked_add(*amount)
                    .map_err(Rejection::from_money("recognised deficit"))?;
                if !markets.contains(market) {
                    markets.push(*market);
                }
            }
        }
        for market in markets {
            self.run_waterfall(market, 0, events)?;
        }
        Ok(())
    }

    /// Walks a market's waterfall from layer position `from` over its uncovered deficit.
    pub(crate) fn run_waterfall(
        &mut self,
        market: MarketRef,
        from: usize,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        for (position, (name, layer)) in
            self.waterfall_of(market).into_iter().enumerate().skip(from)
        {
            let remaining = self.deficit_of(market);
            if !remaining.is_positive() {
                break;
            }
            let outcome = match &layer {
                LayerRef::Fund(fund) => self.fund_pays(fund, market, remaining)?,
                LayerRef::Offset(offset) => self.offset_pays(offset, remaining)?,
                LayerRef::Fees => self.fees_pay(market, remaining)?,
                LayerRef::Socialize => self.socialize(market, remaining, events)?,
                LayerRef::Stakers(pool) => self.stakers_pay(pool, market, remaining, events)?,
                LayerRef::Stability(pool) => {
                    self.stability_pays(pool, market, remaining, events)?
                }
                LayerRef::Cover(cover) => {
                    self.open_cover_claim(cover, market, remaining, position, events)?;
                    continue;
                }
                LayerRef::Recap => {
                    self.open_recap_auction(market, remaining, position, events)?;
                    continue;
                }
                // Auto-deleveraging acts when a bankrupt position is liquidated, not afterwards.
                LayerRef::Adl(_) => continue,
            };
            if outcome.is_positive() {
                self.cover_deficit(market, outcome)?;
                self.record_payment(market, &name, outcome);
                let remaining_after = self.deficit_of(market);
                events.push(Event::LayerPaid {
                    market,
                    layer: name,
                    amount: outcome,
                    remaining: remaining_after,
                });
                if let MarketRef::Lending(asset) = market {
                    self.repay_facility_from_cash(asset, events)?;
                }
            }
        }
        // Socialisation may write off more than suppliers can bear: the facility loan takes the
        // rest (backstop::liquidity).
        if let MarketRef::Lending(asset) = market {
            self.write_off_facility_shortfall(asset, events)?;
        }
        Ok(())
    }

    /// Reduces a market's deficit by `amount` whose tokens a layer has just handed over.
    ///
    /// For a lending market the tokens become cash again; for a perpetual market they fill the
    /// hole in what the profitable side is owed (the deficit term of the conservation equation).
    pub(crate) fn cover_deficit(
        &mut self,
        market: MarketRef,
        amount: Amount,
    ) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("deficit cover");
        match market {
            MarketRef::Lending(asset) => {
                let mut state = self.lending_market(asset)?.clone();
                state.deficit = state.deficit.checked_sub(amount).map_err(&overflow)?;
                state.cash = state.cash.checked_add(amount).map_err(&overflow)?;
                self.commit_lending(asset, state);
            }
            MarketRef::Perp(perp) => {
                let state = self
                    .state
                    .perp_mut(perp.index())
                    .ok_or(Rejection::UnknownPerpMarket { market: perp })?;
                *state.deficit = state.deficit.checked_sub(amount).map_err(&overflow)?;
            }
        }
        assert!(!self.deficit_of(market).is_negative(), "a layer paid more than the deficit");
        Ok(())
    }

    /// Moves part of a market's deficit to pending (a layer that pays later took it on).
    pub(crate) fn move_deficit_to_pending(
        &mut self,
        market: MarketRef,
        amount: Amount,
    ) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("pending deficit");
        match market {
            MarketRef::Lending(asset) => {
                let mut state = self.lending_market(asset)?.clone();
                state.deficit = state.deficit.checked_sub(amount).map_err(&overflow)?;
                self.commit_lending(asset, state);
            }
            MarketRef::Perp(perp) => {
                let state = self
                    .state
                    .perp_mut(perp.index())
                    .ok_or(Rejection::UnknownPerpMarket { market: perp })?;
                *state.deficit = state.deficit.checked_sub(amount).map_err(&overflow)?;
            }
        }
        let pending = self.state.net_mut().pending.entry(market).or_default();
        *pending = pending.checked_add(amount).map_err(&overflow)?;
        Ok(())
    }

    /// Returns part of a market's pending deficit to the deficit (a later-paying layer failed).
    pub(crate) fn return_pending_to_deficit(
        &mut self,
        market: MarketRef,
        amount: Amount,
    ) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("pending deficit");
        self.release_pending(market, amount)?;
        match market {
            MarketRef::Lending(asset) => {
                let mut state = self.lending_market(asset)?.clone();
                state.deficit = state.deficit.checked_add(amount).map_err(&overflow)?;
                self.commit_lending(asset, state);
            }
            MarketRef::Perp(perp) => {
                let state = self
                    .state
                    .perp_mut(perp.index())
                    .ok_or(Rejection::UnknownPerpMarket { market: perp })?;
                *state.deficit = state.deficit.checked_add(amount).map_err(&overflow)?;
            }
        }
        Ok(())
    }

    /// Takes `amount` off a market's pending deficit (it was paid, or returned to the deficit).
    pub(crate) fn release_pending(
        &mut self,
        market: MarketRef,
        amount: Amount,
    ) -> Result<(), Rejection> {
        let pending = self.state.net_mut().pending.entry(market).or_default();
        *pending = pending.checked_sub(amount).map_err(Rejection::from_money("pending deficit"))?;
        assert!(!pending.is_negative(), "pending deficit went negative");
        if pending.is_zero() {
            self.state.net_mut().pending.remove(&market);
        }
        Ok(())
    }

    /// Pays a pending amount into a market from outside the venue (a guarantor or auction buyer):
    /// the tokens arrive in the market as if a layer had paid.
    pub(crate) fn pay_pending(
        &mut self,
        market: MarketRef,
        amount: Amount,
    ) -> Result<(), Rejection> {
        self.release_pending(market, amount)?;
        let overflow = Rejection::from_money("pending payment");
        match market {
            MarketRef::Lending(asset) => {
                let mut state = self.lending_market(asset)?.clone();
                state.cash = state.cash.checked_add(amount).map_err(&overflow)?;
                self.commit_lending(asset, state);
            }
            // A perpetual market's hole shrinks as the deficit did when it went pending.
            MarketRef::Perp(_) => {}
        }
        Ok(())
    }

    /// Notes that `layer` paid `amount` towards `market`.
    pub(crate) fn record_payment(&mut self, market: MarketRef, layer: &str, amount: Amount) {
        let payments = self.state.net_mut().payments.entry(market).or_default();
        match payments.iter_mut().find(|payment| payment.layer == layer) {
            Some(payment) => payment.paid = payment.paid.checked_add(amount).unwrap_or(Amount::MAX),
            None => payments.push(LayerPayment {
                layer: layer.to_owned(),
                paid: amount,
                recovered: Amount::ZERO,
            }),
        }
    }

    /// What the venue's fee ledger of the market's asset can pay (the perpetual fee pool).
    pub(crate) fn fees_pay(
        &mut self,
        market: MarketRef,
        remaining: Amount,
    ) -> Result<Amount, Rejection> {
        let asset = self.deficit_asset(market)?;
        let fees = self.state.fees.get(asset.index()).copied().unwrap_or_default();
        let paid = remaining.min(fees);
        let after = fees.checked_sub(paid).map_err(Rejection::from_money("fees"))?;
        self.set_fees(asset, after);
        Ok(paid)
    }

    /// The asset a market's deficits are in.
    pub(crate) fn deficit_asset(
        &self,
        market: MarketRef,
    ) -> Result<crate::ids::AssetId, Rejection> {
        match market {
            MarketRef::Lending(asset) => Ok(asset),
            MarketRef::Perp(perp) => Ok(self.perp_assets(perp)?.1),
        }
    }

    /// Socialises the remaining deficit: a haircut of the supplier index (lending), or a charge
    /// on every open position in proportion to its size (perpetual funding socialisation).
    fn socialize(
        &mut self,
        market: MarketRef,
        remaining: Amount,
        events: &mut Vec<Event>,
    ) -> Result<Amount, Rejection> {
        let overflow = Rejection::from_money("socialisation");
        match market {
            MarketRef::Lending(asset) => {
                let mut state = self.lending_market(asset)?.clone();
                if !state.supply_shares.is_positive() {
                    return Ok(Amount::ZERO);
                }
                // Suppliers can lose at most what they can claim: beyond that the deficit stays.
                let socialized = remaining.min(state.supplier_claims()?);
                if !socialized.is_positive() {
                    return Ok(Amount::ZERO);
                }
                // Index cut rounded up: suppliers lose at least the amount, never less.
                let index_before =
                    crate::venue::lending::haircut_supply_index(&mut state, socialized)?;
                // Tokens do not move: the deficit is written off against suppliers, cancelled
                // without cash.
                state.deficit = state.deficit.checked_sub(socialized).map_err(&overflow)?;
                self.commit_lending(asset, state);
                self.record_payment(market, "socialize", socialized);
                let remaining_after = self.deficit_of(market);
                events.push(Event::Socialized {
                    market,
                    amount: socialized,
                    index_before,
                    index_after: self.lending_market(asset)?.supply_index,
                });
                events.push(Event::LayerPaid {
                    market,
                    layer: "socialize".to_owned(),
                    amount: socialized,
                    remaining: remaining_after,
                });
                Ok(Amount::ZERO)
            }
            MarketRef::Perp(perp) => self.socialize_perp(perp, remaining, events),
        }
    }

    /// Charges every open position of a perpetual market `remaining × |base| / Σ|base|`, rounded
    /// up; the rounding excess goes to the venue's fees.
    fn socialize_perp(
        &mut self,
        perp: crate::ids::PerpMarketId,
        remaining: Amount,
        events: &mut Vec<Event>,
    ) -> Result<Amount, Rejection> {
        let overflow = Rejection::from_money("socialisation");
        let holders: Vec<crate::ids::AccountId> =
            self.perp_market(perp)?.holders.iter().copied().collect();
        let mut total_base = Amount::ZERO;
        for id in &holders {
            let account =
                self.state.accounts.get(id).ok_or(Rejection::UnknownAccount { account: *id })?;
            let base = crate::venue::perp::position_of(account, perp)?.base;
            total_base = total_base
                .checked_add(base.checked_abs().map_err(&overflow)?)
                .map_err(&overflow)?;
        }
        if !total_base.is_positive() {
            return Ok(Amount::ZERO);
        }
        let mut charged = Amount::ZERO;
        let mut updated = Vec::new();
        for id in holders {
            let mut account = self.load_account(id)?;
            let mut position = crate::venue::perp::position_of(&account, perp)?;
            if position.base.is_zero() {
                continue;
            }
            let share = remaining
                .mul_div(
                    position.base.checked_abs().map_err(&overflow)?,
                    total_base,
                    Rounding::Ceil,
                )
                .map_err(&overflow)?;
            position.quote = position.quote.checked_sub(share).map_err(&overflow)?;
            crate::venue::perp::set_position(&mut account, perp, position)?;
            charged = charged.checked_add(share).map_err(&overflow)?;
            updated.push((id, account));
        }
        let excess = charged.checked_sub(remaining).map_err(&overflow)?;
        let settlement = self.perp_assets(perp)?.1;
        let fees = self.fees_after(settlement, excess)?;
        self.set_fees(settlement, fees);
        for (id, account) in updated {
            self.commit_account(id, account);
        }
        let market = MarketRef::Perp(perp);
        let state = self
            .state
            .perp_mut(perp.index())
            .ok_or(Rejection::UnknownPerpMarket { market: perp })?;
        *state.deficit = state.deficit.checked_sub(remaining).map_err(&overflow)?;
        self.record_payment(market, "socialize", remaining);
        events.push(Event::Socialized {
            market,
            amount: remaining,
            index_before: backstop_money::Ratio::ZERO,
            index_after: backstop_money::Ratio::ZERO,
        });
        events.push(Event::LayerPaid {
            market,
            layer: "socialize".to_owned(),
            amount: remaining,
            remaining: self.deficit_of(market),
        });
        Ok(Amount::ZERO)
    }
}
