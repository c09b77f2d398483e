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
                self.state.auctions.values().filter(|auction| auction.account == *id).count(),
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
        self.check_deficits_covered_once()
    }
}
