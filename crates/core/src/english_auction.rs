//! English collateral auctions (Maker Flip, Liquidations 1.2, as run on 12–13 March 2020).
//!
//! A liquidation of a lending debt in `english_auction` mode kicks an auction of all the
//! account's collateral in one asset (the `lot`) for the debt plus the penalty (the `tab`); the
//! debt leaves the account at once and is owed by the auction, like a Dutch auction's.
//!
//! - **tend**: bidders raise the debt-asset `bid` for the whole lot, each bid at least `beg` times
//!   the previous one (or exactly the tab), never above the tab. The first bid may be anything
//!   from zero up: the lot goes to the highest bid however low, zero included.
//! - **dent**: once a bid equals the tab, bidders keep the bid at the tab and ask for less
//!   collateral, each lot at most the previous one divided by `beg`; the collateral given up goes
//!   back to the liquidated account.
//! - Every bid runs for `ttl_secs`; the auction ends `tau_secs` after it was kicked at the latest.
//!   A bid is escrowed in the auction: the bidder's debt asset leaves its balance and the outbid
//!   bidder gets its escrow back in full.
//! - **deal**: once the last bid expired or the auction ended, the winner receives the lot; the
//!   escrow repays the debt first and the rest is the penalty (venue fees). The debt the bid did
//!   not cover becomes a deficit of the lending market (the existing deficit path: its waterfall
//!   runs after the command), unless other collateral still backs the account.
//! - An auction that ended with no bid at all is restarted (Maker's `tick`) with
//!   [`Command::ResetAuction`](crate::Command::ResetAuction): a new end `tau_secs` from now.
//!
//! Every write goes through the recording accessors of the store: a rejected bid changes nothing.

use crate::account::Account;
use crate::config::EnglishAuctionConfig;
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, AuctionId, MarketRef};
use crate::rejection::Rejection;
use crate::venue::lending::{LendingMarket, debit, holding_mut};
use backstop_money::{Amount, Ratio, Rounding, Shares};
use serde::{Deserialize, Serialize};

/// A running English (tend/dent) auction of one account's collateral for one debt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnglishAuction {
    /// Account whose collateral is sold (it receives the collateral given up in dent).
    pub account: AccountId,
    /// Keeper who kicked it.
    pub keeper: AccountId,
    /// Collateral asset.
    pub collateral: AssetId,
    /// Debt asset (bids are in it).
    pub debt: AssetId,
    /// Collateral for sale.
    pub lot: Amount,
    /// Debt-asset amount wanted: debt owed plus penalty.
    pub tab: Amount,
    /// Part of the tab that is debt owed to the lending market.
    pub owed: Amount,
    /// Highest bid, escrowed in the auction (debt asset).
    pub bid: Amount,
    /// Highest bidder; `None` until the first bid.
    pub bidder: Option<AccountId>,
    /// Time the highest bid expires (s); meaningful once there is a bidder.
    pub bid_expires_at: u64,
    /// Time the auction ends whatever the bids (s).
    pub ends_at: u64,
}

impl EnglishAuction {
    /// Whether bidding is over at `now`: the last bid expired or the auction ended.
    #[must_use]
    pub fn is_over(&self, now: u64) -> bool {
        now >= self.ends_at || (self.bidder.is_some() && now >= self.bid_expires_at)
    }

    /// Whether the auction is in its dent phase (the bid covers the tab).
    #[must_use]
    pub fn in_dent(&self) -> bool {
        self.bidder.is_some() && self.bid == self.tab
    }
}

impl Engine {
    /// Kicks an English auction of all of an account's `collateral` for its `debt`.
    pub(crate) fn kick_english_auction(
        &mut self,
        keeper_id: AccountId,
        id: AccountId,
        mut account: Account,
        (debt, collateral): (AssetId, AssetId),
        config: &EnglishAuctionConfig,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("english auction kick");
        let mut market = self.lending_market(debt)?.clone();
        let holding = account.holdings.get(debt.index()).copied().unwrap_or_default();
        if holding.debt_shares.is_zero() {
            return Err(Rejection::NoDebt { account: id, asset: debt });
        }
        let lot = account.holdings.get(collateral.index()).map_or(Amount::ZERO, |h| h.balance);
        if lot.is_zero() {
            return Err(Rejection::NoCollateral { account: id, asset: collateral });
        }
        let owed = market.debt_of(holding.debt_shares)?;
        let tab = owed
            .mul_ratio(Ratio::ONE.checked_add(config.penalty).map_err(&overflow)?, Rounding::Ceil)
            .map_err(&overflow)?;
        market.debt_shares =
            market.debt_shares.checked_sub(holding.debt_shares).map_err(&overflow)?;
        market.auction_debt = market.auction_debt.checked_add(owed).map_err(&overflow)?;
        holding_mut(&mut account, debt)?.debt_shares = Shares::ZERO;
        holding_mut(&mut account, collateral)?.balance = Amount::ZERO;
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
        let ends_at = self
            .state
            .now
            .checked_add(config.tau_secs)
            .ok_or(Rejection::Overflow { context: "auction end" })?;
        let auction = EnglishAuction {
            account: id,
            keeper: keeper_id,
            collateral,
            debt,
            lot,
            tab,
            owed,
            bid: Amount::ZERO,
            bidder: None,
            bid_expires_at: 0,
            ends_at,
        };
        self.state.put_english_auction(auction_id, Some(auction));
        self.state.set_next_auction(next);
        self.commit_lending(debt, market);
        self.commit_account(id, account);
        Ok(vec![Event::EnglishAuctionStarted {
            auction: auction_id,
            account: id,
            keeper: keeper_id,
            collateral,
            debt,
            lot,
            tab,
            ends_at,
        }])
    }

    /// The configuration of the English auctions of a debt asset.
    fn english_config(&self, debt: AssetId) -> Result<EnglishAuctionConfig, Rejection> {
        match &self.lending_config(debt)?.liquidation {
            crate::config::LiquidationMode::EnglishAuction(config) => Ok(config.clone()),
            _ => Err(Rejection::WrongLiquidationTarget {
                reason: "the debt market is not in english_auction mode",
            }),
        }
    }

    fn load_english_auction(&self, auction_id: AuctionId) -> Result<EnglishAuction, Rejection> {
        self.state
            .english_auctions
            .get(&auction_id)
            .cloned()
            .ok_or(Rejection::UnknownAuction { auction: auction_id })
    }

    /// A bid: `lot` collateral for `bid` debt asset. Tend while the bid is below the tab (the lot
    /// must be the whole lot), dent once the standing bid equals the tab (the bid must be the
    /// tab and the lot smaller).
    pub(crate) fn bid_english_auction(
        &mut self,
        bidder_id: AccountId,
        auction_id: AuctionId,
        lot: Amount,
        bid: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("english auction bid");
        let mut auction = self.load_english_auction(auction_id)?;
        if bidder_id == auction.account {
            return Err(Rejection::SelfLiquidation { account: bidder_id });
        }
        let mut bidder = self.load_account(bidder_id)?;
        if bid.is_negative() {
            return Err(Rejection::NotPositive { field: "bid" });
        }
        if bid.is_positive() {
            self.check_amount(auction.debt, bid, "bid")?;
        }
        self.check_amount(auction.collateral, lot, "lot")?;
        let config = self.english_config(auction.debt)?;
        if auction.is_over(self.state.now) {
            return Err(Rejection::AuctionBiddingOver { auction: auction_id });
        }
        let dent = auction.in_dent();
        check_bid(auction_id, &auction, &config, (lot, bid), dent)?;
        let refund = auction.bid;
        let previous = auction.bidder;
        // The new bidder escrows its whole bid; the outbid bidder gets its escrow back.
        if previous == Some(bidder_id) {
            let extra = bid.checked_sub(refund).map_err(&overflow)?;
            let holding = holding_mut(&mut bidder, auction.debt)?;
            holding.balance = debit(bidder_id, auction.debt, holding.balance, extra)?;
        } else {
            let holding = holding_mut(&mut bidder, auction.debt)?;
            holding.balance = debit(bidder_id, auction.debt, holding.balance, bid)?;
        }
        let mut events = Vec::new();
        if let Some(previous) = previous.filter(|previous| *previous != bidder_id) {
            let mut outbid = self.load_account(previous)?;
            let holding = holding_mut(&mut outbid, auction.debt)?;
            holding.balance = holding.balance.checked_add(refund).map_err(&overflow)?;
            self.commit_account(previous, outbid);
            events.push(Event::EnglishAuctionRefunded {
                auction: auction_id,
                bidder: previous,
                amount: refund,
            });
        }
        if dent {
            let returned = auction.lot.checked_sub(lot).map_err(&overflow)?;
            let mut account = self.load_account(auction.account)?;
            let holding = holding_mut(&mut account, auction.collateral)?;
            holding.balance = holding.balance.checked_add(returned).map_err(&overflow)?;
            self.commit_account(auction.account, account);
        }
        auction.lot = lot;
        auction.bid = bid;
        auction.bidder = Some(bidder_id);
        auction.bid_expires_at = self
            .state
            .now
            .checked_add(config.ttl_secs)
            .ok_or(Rejection::Overflow { context: "bid expiry" })?;
        events.push(Event::EnglishAuctionBid {
            auction: auction_id,
            bidder: bidder_id,
            lot,
            bid,
            dent,
            expires_at: auction.bid_expires_at,
        });
        self.commit_account(bidder_id, bidder);
        self.state.put_english_auction(auction_id, Some(auction));
        Ok(events)
    }

    /// Settles an English auction whose bidding is over: the lot to the winner, the escrow to
    /// the debt and the penalty, the uncovered debt to the deficit ledger.
    pub(crate) fn deal_english_auction(
        &mut self,
        auction_id: AuctionId,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("english auction deal");
        let auction = self.load_english_auction(auction_id)?;
        if !auction.is_over(self.state.now) {
            return Err(Rejection::AuctionStillRunning { auction: auction_id });
        }
        let Some(winner_id) = auction.bidder else {
            return Err(Rejection::AuctionHasNoBid { auction: auction_id });
        };
        let mut winner = self.load_account(winner_id)?;
        let holding = holding_mut(&mut winner, auction.collateral)?;
        holding.balance = holding.balance.checked_add(auction.lot).map_err(&overflow)?;
        let mut market = self.lending_market(auction.debt)?.clone();
        let to_debt = auction.bid.min(auction.owed);
        let penalty = auction.bid.checked_sub(to_debt).map_err(&overflow)?;
        market.cash = market.cash.checked_add(to_debt).map_err(&overflow)?;
        market.auction_debt = market.auction_debt.checked_sub(auction.owed).map_err(&overflow)?;
        let unraised = auction.owed.checked_sub(to_debt).map_err(&overflow)?;
        let fees = self.fees_after(auction.debt, penalty)?;
        let mut events = vec![Event::EnglishAuctionDealt {
            auction: auction_id,
            winner: winner_id,
            lot: auction.lot,
            bid: auction.bid,
            unraised,
        }];
        // The winner is never the liquidated account (bids by it are refused).
        self.commit_account(winner_id, winner);
        let mut account = self.load_account(auction.account)?;
        account.auctions_running = account.auctions_running.saturating_sub(1);
        self.write_off_unraised(&auction, unraised, &mut account, &mut market, &mut events)?;
        self.set_fees(auction.debt, fees);
        self.commit_lending(auction.debt, market);
        self.state.put_english_auction(auction_id, None);
        self.record_deficits_if_bankrupt(auction.account, &mut account, &mut events)?;
        self.commit_account(auction.account, account);
        Ok(events)
    }

    /// The debt a deal did not raise: back on the account while other collateral backs it, else
    /// a deficit of the lending market.
    fn write_off_unraised(
        &self,
        auction: &EnglishAuction,
        unraised: Amount,
        account: &mut Account,
        market: &mut LendingMarket,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        if !unraised.is_positive() {
            return Ok(());
        }
        let overflow = Rejection::from_money("english auction write-off");
        let still_backed = !account.has_no_collateral()
            || !account.has_no_open_base()
            || account.auctions_running > 0;
        if still_backed {
            let shares = backstop_money::mul_div(
                unraised.raw(),
                backstop_money::SCALE,
                market.borrow_index.raw(),
                Rounding::Ceil,
            )
            .map(Shares::from_raw)
            .map_err(&overflow)?;
            market.debt_shares = market.debt_shares.checked_add(shares).map_err(&overflow)?;
            let holding = holding_mut(account, auction.debt)?;
            holding.debt_shares = holding.debt_shares.checked_add(shares).map_err(&overflow)?;
        } else {
            market.deficit = market.deficit.checked_add(unraised).map_err(&overflow)?;
            events.push(Event::DeficitRecorded {
                market: MarketRef::Lending(auction.debt),
                account: auction.account,
                amount: unraised,
                deficit_after: market.deficit,
            });
        }
        Ok(())
    }

    /// Restarts an English auction that ended without any bid (Maker's `tick`).
    pub(crate) fn restart_english_auction(
        &mut self,
        auction_id: AuctionId,
    ) -> Result<Vec<Event>, Rejection> {
        let mut auction = self.load_english_auction(auction_id)?;
        if auction.bidder.is_some() || self.state.now < auction.ends_at {
            return Err(Rejection::AuctionStillRunning { auction: auction_id });
        }
        let config = self.english_config(auction.debt)?;
        auction.ends_at = self
            .state
            .now
            .checked_add(config.tau_secs)
            .ok_or(Rejection::Overflow { context: "auction end" })?;
        let ends_at = auction.ends_at;
        self.state.put_english_auction(auction_id, Some(auction));
        Ok(vec![Event::EnglishAuctionRestarted { auction: auction_id, ends_at }])
    }
}

/// Checks a bid against the standing one: tend raises the bid for the whole lot by at least
/// `beg` (or to the tab, never above it); dent keeps the bid at the tab and cuts the lot so that
/// `lot × beg ≤ previous lot`.
fn check_bid(
    auction_id: AuctionId,
    auction: &EnglishAuction,
    config: &EnglishAuctionConfig,
    (lot, bid): (Amount, Amount),
    dent: bool,
) -> Result<(), Rejection> {
    let overflow = Rejection::from_money("english auction bid check");
    let reject = |reason: &'static str| Err(Rejection::BidTooLow { auction: auction_id, reason });
    if dent {
        if bid != auction.tab {
            return reject("in the dent phase the bid must equal the tab");
        }
        if lot >= auction.lot {
            return reject("in the dent phase the lot must be smaller than the standing lot");
        }
        // lot × beg ≤ previous lot, the product rounded up (against the bidder).
        let scaled = lot.mul_ratio(config.beg, Rounding::Ceil).map_err(&overflow)?;
        if scaled > auction.lot {
            return reject("the lot is not smaller by the minimum decrease");
        }
        return Ok(());
    }
    if lot != auction.lot {
        return reject("in the tend phase the lot must be the whole lot");
    }
    if bid > auction.tab {
        return reject("the bid is above the tab");
    }
    if auction.bidder.is_some() {
        if bid <= auction.bid {
            return reject("the bid is not above the standing bid");
        }
        // bid ≥ beg × previous bid, the product rounded up (against the bidder), or the tab.
        let needed = auction.bid.mul_ratio(config.beg, Rounding::Ceil).map_err(&overflow)?;
        if bid < needed && bid != auction.tab {
            return reject("the bid is not higher by the minimum increase");
        }
    }
    Ok(())
}
