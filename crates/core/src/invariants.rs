//! The engine's invariants as code. Numbers match docs/INVARIANTS.md.
//!
//! [`Engine::check_invariants`] is cheap (it reads running totals, markets and auctions, not
//! accounts) and runs after every command in debug and test builds. [`Engine::audit`] recomputes
//! everything from the accounts and also checks that the running totals, holder sets and the
//! liquidation index agree with them; tests run it after every step of random command sequences.

use crate::engine::{Engine, Totals};
use crate::ids::{AssetId, MarketRef, PerpMarketId};
use backstop_money::Amount;

/// A broken invariant: its number and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Invariant number in docs/INVARIANTS.md.
    pub invariant: u8,
    /// What was found.
    pub detail: String,
}

impl core::fmt::Display for Violation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "I{}: {}", self.invariant, self.detail)
    }
}

fn violation(invariant: u8, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}

impl Engine {
    /// Checks I1–I6 from running totals and market state.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        self.check_conservation(&self.state.totals)?;
        self.check_non_negative()?;
        self.check_shares(&self.state.totals)?;
        self.check_perp_balance(&self.state.totals)?;
        self.check_lending_solvency()?;
        self.check_auction_debt()?;
        self.check_breakers_and_facilities()?;
        self.check_cover_and_recap()?;
        self.check_adl_payments()?;
        self.check_claims()?;
        self.check_governance().or_else(|detail| violation(10, detail))?;
        self.check_deficits_covered_once()
    }

    /// I1: for every asset, what came in from outside equals what the venue holds for someone.
    fn check_conservation(&self, totals: &Totals) -> Result<(), Violation> {
        for index in 0..self.config.assets.len() {
            let asset = AssetId(u16::try_from(index).unwrap_or(u16::MAX));
            let mut held = totals.balances.get(index).copied().unwrap_or(0);
            if let Some(Some(market)) = self.state.lending.get(index) {
                held = held.wrapping_add(market.cash.raw());
            }
            held = held.wrapping_add(self.state.fees.get(index).map_or(0, |fee| fee.raw()));
            for auction in
                self.state.auctions.values().filter(|auction| auction.collateral == asset)
            {
                held = held.wrapping_add(auction.lot.raw());
            }
            // English auctions hold their lot and escrow their highest bid.
            for auction in self.state.english_auctions.values() {
                if auction.collateral == asset {
                    held = held.wrapping_add(auction.lot.raw());
                }
                if auction.debt == asset {
                    held = held.wrapping_add(auction.bid.raw());
                }
            }
            for (market_index, market) in self.state.perps.iter().enumerate() {
                if self.tables.perp_assets.get(market_index).map(|pair| pair.1) == Some(asset) {
                    let quote = totals.perp_quote.get(market_index).copied().unwrap_or(0);
                    let pending = u16::try_from(market_index)
                        .ok()
                        .and_then(|id| {
                            self.state.net.pending.get(&MarketRef::Perp(PerpMarketId(id)))
                        })
                        .map_or(0, |pending| pending.raw());
                    held = held
                        .wrapping_add(quote)
                        .wrapping_sub(market.deficit.raw())
                        .wrapping_sub(pending);
                }
            }
            held = held.wrapping_add(self.safety_net_holdings(asset));
            held = held.wrapping_add(self.state.claims.held(asset).raw());
            let minted = self.state.net.minted.get(index).map_or(0, |amount| amount.raw());
            let external = self
                .state
                .external_net
                .get(index)
                .map_or(0, |amount| amount.raw())
                .wrapping_add(minted);
            if held != external {
                return violation(
                    1,
                    format!("asset {index}: held {held} ≠ net external deposits {external}"),
                );
            }
        }
        Ok(())
    }

    /// Tokens of an asset held by safety-net layers (funds, offsets, staker and stability pools).
    fn safety_net_holdings(&self, asset: AssetId) -> i128 {
        let net = &self.state.net;
        let assets = &self.tables.layer_assets;
        let mut held: i128 = 0;
        for (fund, fund_asset) in net.funds.iter().zip(&assets.funds) {
            if *fund_asset == asset {
                held = held.wrapping_add(fund.balance.raw());
            }
        }
        for (offset, offset_asset) in net.offsets.iter().zip(&assets.offsets) {
            if *offset_asset == asset {
                held = held.wrapping_add(offset.raw());
            }
        }
        for (pool, pool_asset) in net.staker_pools.iter().zip(&assets.staker_pools) {
            if *pool_asset == asset {
                held = held.wrapping_add(pool.assets.raw());
            }
        }
        for (pool, pool_asset) in net.stability_pools.iter().zip(&assets.stability_pools) {
            if *pool_asset == asset {
                held = held.wrapping_add(pool.deposits.raw());
            }
            held =
                held.wrapping_add(pool.collateral.get(&asset.0).map_or(0, |amount| amount.raw()));
        }
        held
    }

    /// I8: every recognised deficit is either still uncovered, pending with a layer that pays
    /// later, paid by layers, or covered by a recovery — exactly once.
    fn check_deficits_covered_once(&self) -> Result<(), Violation> {
        let net = &self.state.net;
        for (market, recognized) in &net.recognized {
            let paid = net.payments.get(market).map_or(0_i128, |payments| {
                payments.iter().fold(0, |sum, p| sum.wrapping_add(p.paid.raw()))
            });
            let accounted = self
                .deficit_of(*market)
                .raw()
                .wrapping_add(net.pending.get(market).map_or(0, |amount| amount.raw()))
                .wrapping_add(paid)
                .wrapping_add(
                    net.recovered_to_deficit.get(market).map_or(0, |amount| amount.raw()),
                );
            if accounted != recognized.raw() {
                return violation(
                    8,
                    format!(
                        "{market:?}: recognised {recognized} ≠ uncovered + pending + paid + recovered ({accounted})"
                    ),
                );
            }
        }
        for (index, fund) in net.funds.iter().enumerate() {
            if fund.balance.is_negative() || fund.period_paid.is_negative() {
                return violation(2, format!("fund {index}: negative balance"));
            }
        }
        for (index, offset) in net.offsets.iter().enumerate() {
            if offset.is_negative() {
                return violation(2, format!("offset {index}: negative balance"));
            }
        }
        for (index, pool) in net.staker_pools.iter().enumerate() {
            if pool.assets.is_negative()
                || pool.shares.is_negative()
                || pool.queued_shares.is_negative()
            {
                return violation(2, format!("staker pool {index}: negative assets or shares"));
            }
        }
        for (market, pending) in &net.pending {
            if pending.is_negative() {
                return violation(2, format!("{market:?}: negative pending deficit"));
            }
        }
        Ok(())
    }

    /// I9: every market's pending deficit is exactly its open cover claims plus the bids of its
    /// running recapitalisation auctions, all positive; no cover has more claimed and paid than
    /// its limit; minting in the current recap period stays within its cap.
    fn check_cover_and_recap(&self) -> Result<(), Violation> {
        let net = &self.state.net;
        let mut owed: std::collections::BTreeMap<MarketRef, i128> =
            std::collections::BTreeMap::new();
        let mut claimed = vec![0_i128; net.covers.len()];
        for (id, claim) in &net.claims {
            if !claim.amount.is_positive() {
                return violation(9, format!("cover claim {id}: amount {} ≤ 0", claim.amount));
            }
            let slot = owed.entry(claim.market).or_default();
            *slot = slot.wrapping_add(claim.amount.raw());
            if let Some(total) = claimed.get_mut(claim.cover) {
                *total = total.wrapping_add(claim.amount.raw());
            }
        }
        for (id, auction) in &net.recap_auctions {
            if !auction.bid.is_positive() || !auction.lot.is_positive() {
                return violation(9, format!("recap auction {id}: bid or lot ≤ 0"));
            }
            let slot = owed.entry(auction.market).or_default();
            *slot = slot.wrapping_add(auction.bid.raw());
        }
        let markets: std::collections::BTreeSet<&MarketRef> =
            owed.keys().chain(net.pending.keys()).collect();
        for market in markets {
            let pending = net.pending.get(market).map_or(0, |amount| amount.raw());
            let expected = owed.get(market).copied().unwrap_or(0);
            if pending != expected {
                return violation(
                    9,
                    format!("{market:?}: pending {pending} ≠ open claims + recap bids {expected}"),
                );
            }
        }
        for ((index, cover), config) in net.covers.iter().enumerate().zip(&self.config.covers) {
            let claims = claimed.get(index).copied().unwrap_or(0);
            if cover.paid.is_negative()
                || cover.losses_reached.is_negative()
                || cover.paid.raw().wrapping_add(claims) > config.limit.raw()
            {
                return violation(
                    9,
                    format!(
                        "cover {index}: paid {} + claims {claims} above limit or < 0",
                        cover.paid
                    ),
                );
            }
        }
        if let Some(recap) = &self.config.recap
            && let Some(cap) = recap.period_mint_cap
            && net.recap_period.1 > cap
        {
            return violation(9, format!("recap period minted {} > cap {cap}", net.recap_period.1));
        }
        Ok(())
    }

    /// Circuit breakers and emergency liquidity: loans are never negative (I2) and are accrued
    /// to the current time while outstanding, so the liability I5 counts is current (I5); an
    /// admin status is never `Active` and one paused flag exists per asset (I7).
    fn check_breakers_and_facilities(&self) -> Result<(), Violation> {
        let net = &self.state.net;
        for (index, facility) in net.facilities.iter().enumerate() {
            if facility.loan.is_negative() {
                return violation(2, format!("facility {index}: negative loan {}", facility.loan));
            }
            if facility.loan.is_positive() && facility.accrued_at != self.state.now {
                return violation(
                    5,
                    format!(
                        "facility {index}: loan accrued to {} but the time is {}",
                        facility.accrued_at, self.state.now
                    ),
                );
            }
        }
        if net.status_by_admin && net.status == crate::backstop::net::VenueStatus::Active {
            return violation(7, "an admin status is Active".to_owned());
        }
        if net.paused.len() != self.config.assets.len()
            || net.facilities.len() != self.config.liquidity.len()
        {
            return violation(
                7,
                "paused flags or facilities out of step with the config".to_owned(),
            );
        }
        Ok(())
    }

    /// I2: no market, fee ledger, deficit or auction is negative (accounts are checked at commit).
    fn check_non_negative(&self) -> Result<(), Violation> {
        for (index, market) in self.state.lending.iter().enumerate() {
            let Some(market) = market else { continue };
            let fields = [
                ("cash", market.cash),
                ("deficit", market.deficit),
                ("auction debt", market.auction_debt),
                ("supply shares", Amount::from_raw(market.supply_shares.raw())),
                ("debt shares", Amount::from_raw(market.debt_shares.raw())),
            ];
            for (name, value) in fields {
                if value.is_negative() {
                    return violation(2, format!("lending market {index}: {name} {value} < 0"));
                }
            }
        }
        for (index, fee) in self.state.fees.iter().enumerate() {
            if fee.is_negative() {
                return violation(2, format!("fees of asset {index}: {fee} < 0"));
            }
        }
        for (index, market) in self.state.perps.iter().enumerate() {
            if market.deficit.is_negative() || market.open_interest.is_negative() {
                return violation(
                    2,
                    format!("perp market {index}: negative deficit or open interest"),
                );
            }
        }
        for (id, auction) in &self.state.auctions {
            if auction.lot.is_negative()
                || auction.tab.is_negative()
                || auction.owed.is_negative()
                || auction.owed > auction.tab
            {
                return violation(
                    2,
                    format!("auction {}: negative lot/tab or owed above tab", id.0),
                );
            }
        }
        for (id, auction) in &self.state.english_auctions {
            if auction.lot.is_negative()
                || auction.bid.is_negative()
                || auction.owed.is_negative()
                || auction.owed > auction.tab
                || auction.bid > auction.tab
            {
                return violation(
                    2,
                    format!("english auction {}: negative lot/bid, owed or bid above tab", id.0),
                );
            }
        }
        Ok(())
    }

    /// I3: a market's shares are exactly the accounts' shares (plus the venue's reserve shares).
    fn check_shares(&self, totals: &Totals) -> Result<(), Violation> {
        for (index, market) in self.state.lending.iter().enumerate() {
            let (supply, debt) = match market {
                Some(market) => (
                    market.supply_shares.raw().wrapping_sub(market.reserve_shares.raw()),
                    market.debt_shares.raw(),
                ),
                None => (0, 0),
            };
            let accounts_supply = totals.supply_shares.get(index).copied().unwrap_or(0);
            let accounts_debt = totals.debt_shares.get(index).copied().unwrap_or(0);
            if supply != accounts_supply || debt != accounts_debt {
                return violation(
                    3,
                    format!(
                        "lending market {index}: shares {supply}/{debt} ≠ accounts' {accounts_supply}/{accounts_debt}"
                    ),
                );
            }
        }
        Ok(())
    }

    /// I4: every perpetual market's base sums to zero and its open interest is the long side.
    fn check_perp_balance(&self, totals: &Totals) -> Result<(), Violation> {
        for (index, market) in self.state.perps.iter().enumerate() {
            let base = totals.perp_base.get(index).copied().unwrap_or(0);
            if base != 0 {
                return violation(4, format!("perp market {index}: base sums to {base}"));
            }
            let long = totals.perp_long.get(index).copied().unwrap_or(0);
            if long != market.open_interest.raw() {
                return violation(
                    4,
                    format!(
                        "perp market {index}: open interest {} ≠ long base {long}",
                        market.open_interest.raw()
                    ),
                );
            }
        }
        Ok(())
    }

    /// I5: what suppliers can claim is backed by cash, debt, auctioned debt and recognised deficit.
    fn check_lending_solvency(&self) -> Result<(), Violation> {
        for (index, market) in self.state.lending.iter().enumerate() {
            let Some(market) = market else { continue };
            let claims = market
                .supplier_claims()
                .map_err(|error| Violation { invariant: 5, detail: error.to_string() })?;
            // Emergency liquidity loans are owed by the market ahead of its suppliers.
            let claims = u16::try_from(index)
                .map_err(|error| Violation { invariant: 5, detail: error.to_string() })
                .and_then(|id| {
                    self.facility_loans(AssetId(id))
                        .map_err(|error| Violation { invariant: 5, detail: error.to_string() })
                })?
                .checked_add(claims)
                .map_err(|error| Violation { invariant: 5, detail: error.to_string() })?;
            let debt = market
                .total_debt()
                .map_err(|error| Violation { invariant: 5, detail: error.to_string() })?;
            let pending = u16::try_from(index)
                .ok()
                .and_then(|id| self.state.net.pending.get(&MarketRef::Lending(AssetId(id))))
                .copied()
                .unwrap_or_default();
            let backing = [market.cash, debt, market.auction_debt, market.deficit, pending]
                .iter()
                .try_fold(Amount::ZERO, |sum, part| sum.checked_add(*part))
                .map_err(|error| Violation { invariant: 5, detail: error.to_string() })?;
            if claims > backing {
                return violation(
                    5,
                    format!("lending market {index}: claims {claims} > backing {backing}"),
                );
            }
        }
        Ok(())
    }

    /// I6: a market's auctioned debt is what its running auctions still owe it.
    fn check_auction_debt(&self) -> Result<(), Violation> {
        for (index, market) in self.state.lending.iter().enumerate() {
            let Some(market) = market else { continue };
            let owed = self
                .state
                .auctions
                .values()
                .filter(|auction| auction.debt.index() == index)
                .fold(0_i128, |sum, auction| sum.wrapping_add(auction.owed.raw()));
            let owed = self
                .state
                .english_auctions
                .values()
                .filter(|auction| auction.debt.index() == index)
                .fold(owed, |sum, auction| sum.wrapping_add(auction.owed.raw()));
            if owed != market.auction_debt.raw() {
                return violation(
                    6,
                    format!(
                        "lending market {index}: auction debt {} ≠ auctions' {owed}",
                        market.auction_debt.raw()
                    ),
                );
            }
        }
        Ok(())
    }

    /// Recomputes everything from the accounts: I1–I6 on fresh totals, plus I7 (running totals,
    /// holder sets, auction counts and the liquidation index agree with the accounts) and I2 for
    /// every account.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn audit(&self) -> Result<(), Violation> {
        let mut totals = Totals {
            balances: vec![0; self.config.assets.len()],
            supply_shares: vec![0; self.config.assets.len()],
            debt_shares: vec![0; self.config.assets.len()],
            perp_base: vec![0; self.config.perps.len()],
            perp_quote: vec![0; self.config.perps.len()],
            perp_long: vec![0; self.config.perps.len()],
        };
        for (id, account) in &self.state.accounts {
            crate::engine::add_account_to_totals(&mut totals, account, 1);
            if account.holdings.iter().any(|h| {
                h.balance.is_negative()
                    || h.supply_shares.is_negative()
                    || h.debt_shares.is_negative()
            }) {
                return violation(2, format!("account {}: negative holding", id.0));
            }
            let expected = self.index.entry_for(&self.tables, account);
            if expected != account.index_entry {
                return violation(
                    7,
                    format!(
                        "account {}: index entry {:?} ≠ {:?}",
                        id.0, account.index_entry, expected
                    ),
                );
            }
            let running = u32::try_from(
                self.state.auctions.values().filter(|auction| auction.account == *id).count()
                    + self
                        .state
                        .english_auctions
                        .values()
                        .filter(|auction| auction.account == *id)
                        .count(),
            )
            .unwrap_or(u32::MAX);
            if running != account.auctions_running {
                return violation(
                    7,
                    format!(
                        "account {}: {} auctions counted, {running} running",
                        id.0, account.auctions_running
                    ),
                );
            }
            for (index, position) in account.positions.iter().enumerate() {
                let listed =
                    self.state.perps.get(index).is_some_and(|market| market.holders.contains(id));
                if listed == position.is_flat() {
                    return violation(
                        7,
                        format!("account {}: holder set of perp market {index} out of step", id.0),
                    );
                }
            }
        }
        if totals != self.state.totals {
            return violation(7, "running totals differ from the accounts".to_owned());
        }
        self.check_conservation(&totals)?;
        self.check_non_negative()?;
        self.check_shares(&totals)?;
        self.check_perp_balance(&totals)?;
        self.check_lending_solvency()?;
        self.check_auction_debt()?;
        self.check_breakers_and_facilities()?;
        self.check_cover_and_recap()?;
        self.check_staker_pools()?;
        self.check_stability_pools()?;
        self.check_adl_payments()?;
        self.check_claims()?;
        self.check_deficits_covered_once()
    }

    /// Staker pools (audit only: it walks every staker): a pool's shares are its stakers'
    /// unqueued plus queued shares (I3), its queued shares are the queues' total (I3), its owed
    /// rewards are the stakers' unclaimed rewards (I3), what all stakers could withdraw together
    /// (each one's shares valued rounded down) is at most its assets (I3), and no share count,
    /// queue entry or reward is negative (I2).
    fn check_staker_pools(&self) -> Result<(), Violation> {
        for (index, pool) in self.state.net.staker_pools.iter().enumerate() {
            let (mut shares, mut queued, mut owed) = (0_i128, 0_i128, 0_i128);
            let mut claimable = 0_i128;
            for (id, staker) in &pool.stakers {
                let negative_entry = staker.queue.iter().any(|entry| {
                    !entry.shares.is_positive() || entry.value_at_request.is_negative()
                });
                if staker.shares.is_negative() || staker.rewards.is_negative() || negative_entry {
                    return violation(
                        2,
                        format!("staker pool {index}: account {} holds a negative amount", id.0),
                    );
                }
                shares = shares.wrapping_add(staker.shares.raw());
                for entry in &staker.queue {
                    queued = queued.wrapping_add(entry.shares.raw());
                }
                owed = owed.wrapping_add(staker.rewards.raw());
                let held = staker
                    .queue
                    .iter()
                    .fold(staker.shares.raw(), |sum, entry| sum.wrapping_add(entry.shares.raw()));
                let value = crate::backstop::pool::assets_for_shares(
                    backstop_money::Shares::from_raw(held),
                    pool.assets,
                    pool.shares,
                )
                .map_or(i128::MAX, |value| value.raw());
                claimable = claimable.saturating_add(value);
            }
            if claimable > pool.assets.raw() {
                return violation(
                    3,
                    format!(
                        "staker pool {index}: stakers could withdraw {claimable} > assets {}",
                        pool.assets.raw()
                    ),
                );
            }
            let total = shares.wrapping_add(queued);
            if total != pool.shares.raw()
                || queued != pool.queued_shares.raw()
                || owed != pool.rewards_owed.raw()
            {
                return violation(
                    3,
                    format!(
                        "staker pool {index}: shares {}/queued {}/owed {} ≠ stakers' {total}/{queued}/{owed}",
                        pool.shares.raw(),
                        pool.queued_shares.raw(),
                        pool.rewards_owed.raw()
                    ),
                );
            }
        }
        Ok(())
    }
}
