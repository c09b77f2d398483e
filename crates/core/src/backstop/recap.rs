//! Recapitalisation by minting: reverse auctions sell newly minted governance tokens for the
//! deficit asset (Maker's Flop, simplified).
//!
//! - **Opening** (the waterfall reaches `recap`): the remaining deficit is cut into auctions of
//!   the fixed `bid` each, the last one for the remainder; each moves its bid from the deficit to
//!   pending. A full auction offers `lot` tokens; the last, partial one offers
//!   `lot × its bid / bid`, rounded **down** to the token's smallest unit (the venue pays out
//!   tokens) but at least one unit. Auctions are opened only while the tokens they offer fit in
//!   what is left of the current period's mint cap (minted this period + lots of every running
//!   auction + the new lot ≤ `period_mint_cap`), and while fewer than [`RECAP_AUCTIONS_MAX`]
//!   auctions run; whatever they cannot take on stays in the deficit and the walk goes on to the
//!   next layer (so `recap → socialize` socialises only what minting cannot cover).
//! - **Approval**: with `requires_approval`, an auction takes no bid until `ApproveRecap`
//!   (a governance command; anyone may send it until roles exist).
//! - **Filling** (`BidRecap`): the first bid asking at most the auction's current lot fills it at
//!   once (no bid war, no `beg`: a documented simplification of Maker's `dent`). The bidder pays
//!   the bid from its balance into the market and receives the tokens it asked for, newly minted
//!   (counted in `net.minted`). A fill that would take the period's minting above the cap is
//!   refused.
//! - **Restarting** (`RestartRecap`): after `restart_secs` without a fill the lot grows by
//!   `lot_growth` (rounded down to the token's unit) and the clock restarts — Maker's `tick`.
//!
//! Recoveries never un-mint: what recap raised comes back to the venue's fees.

use crate::backstop::net::RecapAuction;
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, MarketRef};
use crate::rejection::Rejection;
use crate::venue::lending::{debit, holding_mut};
use backstop_money::{Amount, Rounding};

/// Most recapitalisation auctions running at once (Black Thursday needed about a hundred).
pub const RECAP_AUCTIONS_MAX: usize = 1_000;

impl Engine {
    /// The recap config and the id of its token, or [`Rejection::UnknownRecapAuction`].
    fn recap_config(
        &self,
        auction: u64,
    ) -> Result<(crate::backstop::layers::RecapConfig, AssetId), Rejection> {
        let config = self.config.recap.clone().ok_or(Rejection::UnknownRecapAuction { auction })?;
        let token = self
            .config
            .asset_id(&config.token)
            .ok_or(Rejection::UnknownRecapAuction { auction })?;
        Ok((config, token))
    }

    /// The current minting period (start, minted in it) as of now, rolled over when it ended.
    fn recap_period_now(&self, period_secs: u64) -> (u64, Amount) {
        let (start, minted) = self.state.net.recap_period;
        let now = self.state.now;
        if period_secs > 0 && now.saturating_sub(start) >= period_secs {
            (now, Amount::ZERO)
        } else {
            (start, minted)
        }
    }

    /// `amount` rounded down to a whole number of `unit`.
    fn recap_floor_to_unit(amount: Amount, unit: i128) -> Result<Amount, Rejection> {
        backstop_money::mul_div(amount.raw(), 1, unit, Rounding::Floor)
            .and_then(|units| units.checked_mul(unit).ok_or(backstop_money::MoneyError::Overflow))
            .map(Amount::from_raw)
            .map_err(Rejection::from_money("recap lot"))
    }

    /// Opens recapitalisation auctions for `remaining` of a market's deficit, which moves to
    /// pending until bidders pay it (within the period's mint cap and [`RECAP_AUCTIONS_MAX`]).
    pub(crate) fn open_recap_auction(
        &mut self,
        market: MarketRef,
        remaining: Amount,
        position: usize,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        let Some(config) = self.config.recap.clone() else { return Ok(()) };
        let Some(token) = self.config.asset_id(&config.token) else { return Ok(()) };
        let unit = self.cover_recap_unit(token);
        let overflow = Rejection::from_money("recap auction");
        let (_, minted) = self.recap_period_now(config.period_secs);
        let mut committed = minted;
        for auction in self.state.net.recap_auctions.values() {
            committed = committed.checked_add(auction.lot).map_err(&overflow)?;
        }
        let mut left = remaining;
        while left.is_positive() && self.state.net.recap_auctions.len() < RECAP_AUCTIONS_MAX {
            let bid = config.bid.min(left);
            let lot = if bid == config.bid {
                config.lot
            } else {
                // Partial auction: a pro-rata lot, rounded down, at least one unit.
                let share =
                    config.lot.mul_div(bid, config.bid, Rounding::Floor).map_err(&overflow)?;
                Self::recap_floor_to_unit(share, unit)?.max(Amount::from_raw(unit))
            };
            let committed_after = committed.checked_add(lot).map_err(&overflow)?;
            if config.period_mint_cap.is_some_and(|cap| committed_after > cap) {
                break;
            }
            committed = committed_after;
            self.move_deficit_to_pending(market, bid)?;
            let auction = self.state.net.next_id;
            let started_at = self.state.now;
            self.state.net_mut().next_id = auction.saturating_add(1);
            let approved = !config.requires_approval;
            self.state.net_mut().recap_auctions.insert(
                auction,
                RecapAuction { market, bid, lot, started_at, approved, layer_position: position },
            );
            events.push(Event::RecapAuctionOpened { auction, market, bid, lot, approved });
            left = left.checked_sub(bid).map_err(&overflow)?;
        }
        Ok(())
    }

    /// `ApproveRecap`: governance lets a recapitalisation auction take bids.
    pub(crate) fn approve_recap(&mut self, auction: u64) -> Result<Vec<Event>, Rejection> {
        let state = self
            .state
            .net_mut()
            .recap_auctions
            .get_mut(&auction)
            .ok_or(Rejection::UnknownRecapAuction { auction })?;
        if state.approved {
            return Err(Rejection::RecapApproval { auction, approved: true });
        }
        state.approved = true;
        Ok(vec![Event::RecapApproved { auction }])
    }

    /// `RestartRecap`: an auction unfilled for `restart_secs` grows its lot by `lot_growth`.
    pub(crate) fn restart_recap(&mut self, auction: u64) -> Result<Vec<Event>, Rejection> {
        let state = self
            .state
            .net
            .recap_auctions
            .get(&auction)
            .cloned()
            .ok_or(Rejection::UnknownRecapAuction { auction })?;
        let (config, token) = self.recap_config(auction)?;
        let restart_at = state.started_at.saturating_add(config.restart_secs);
        if self.state.now < restart_at {
            return Err(Rejection::RecapTooEarly { auction, restart_at });
        }
        let overflow = Rejection::from_money("recap lot");
        let growth =
            backstop_money::Ratio::ONE.checked_add(config.lot_growth).map_err(&overflow)?;
        // Tokens offered by the venue: rounded down.
        let grown = state.lot.mul_ratio(growth, Rounding::Floor).map_err(&overflow)?;
        let lot_after =
            Self::recap_floor_to_unit(grown, self.cover_recap_unit(token))?.max(state.lot);
        let now = self.state.now;
        if let Some(slot) = self.state.net_mut().recap_auctions.get_mut(&auction) {
            slot.lot = lot_after;
            slot.started_at = now;
        }
        Ok(vec![Event::RecapRestarted { auction, lot_before: state.lot, lot_after }])
    }

    /// `BidRecap`: the bidder pays the auction's bid and receives `lot` newly minted tokens.
    pub(crate) fn bid_recap(
        &mut self,
        account: AccountId,
        auction: u64,
        lot: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let state = self
            .state
            .net
            .recap_auctions
            .get(&auction)
            .cloned()
            .ok_or(Rejection::UnknownRecapAuction { auction })?;
        let (config, token) = self.recap_config(auction)?;
        let mut bidder = self.load_account(account)?;
        self.check_amount(token, lot, "lot")?;
        if !state.approved {
            return Err(Rejection::RecapApproval { auction, approved: false });
        }
        if lot > state.lot {
            return Err(Rejection::RecapLotTooHigh { auction, lot: state.lot, asked: lot });
        }
        let overflow = Rejection::from_money("recap fill");
        let (period_start, minted) = self.recap_period_now(config.period_secs);
        let minted_after = minted.checked_add(lot).map_err(&overflow)?;
        if let Some(cap) = config.period_mint_cap
            && minted_after > cap
        {
            return Err(Rejection::RecapMintCapExceeded { auction, minted, lot, cap });
        }
        let asset = self.deficit_asset(state.market)?;
        let paying = holding_mut(&mut bidder, asset)?;
        paying.balance = debit(account, asset, paying.balance, state.bid)?;
        let receiving = holding_mut(&mut bidder, token)?;
        receiving.balance = receiving.balance.checked_add(lot).map_err(&overflow)?;
        let minted_total = self
            .state
            .net
            .minted
            .get(token.index())
            .copied()
            .unwrap_or_default()
            .checked_add(lot)
            .map_err(&overflow)?;
        // Everything checked: write.
        self.commit_account(account, bidder);
        self.state.net_mut().recap_auctions.remove(&auction);
        self.pay_pending(state.market, state.bid)?;
        self.record_payment(state.market, "recap", state.bid);
        if let Some(slot) = self.state.net_mut().minted.get_mut(token.index()) {
            *slot = minted_total;
        }
        self.state.net_mut().recap_period = (period_start, minted_after);
        Ok(vec![
            Event::RecapFilled { auction, account, market: state.market, bid: state.bid, lot },
            Event::LayerPaid {
                market: state.market,
                layer: "recap".to_owned(),
                amount: state.bid,
                remaining: self.deficit_of(state.market),
            },
        ])
    }
}
