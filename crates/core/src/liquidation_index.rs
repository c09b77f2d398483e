//! The index of liquidation points, so a price tick finds the accounts it makes liquidatable
//! without scanning every account.
//!
//! Each account with liabilities is kept in exactly one place:
//! - **lending pair** (one collateral asset with a positive liquidation threshold, one debt, no
//!   perpetual positions): liquidatable exactly when `p_c / (I_d × p_d) < d / (c × LT)`, where `c`
//!   is the collateral balance, `d` the debt shares, `I_d` the borrow index and `p` the prices.
//!   The right side (the key) changes only when the account acts; the left side is one number per
//!   (collateral, debt) pair, recomputed from current prices and indices at query time.
//! - **perpetual long/short** (one position, collateral only in the settlement asset, no lending
//!   debt): liquidatable when the oracle price is below (long) or above (short) a key computed
//!   from the position and its collateral alone; the settlement price cancels out.
//! - **complex**: every other account with liabilities; always returned as a candidate.
//!
//! A query returns candidates with a relative tolerance of 10⁻⁸ for rounding; candidates within
//! twice that tolerance of their liquidation point are confirmed with the exact health check,
//! those beyond it are liquidatable by construction, and a liquidation itself always runs the
//! exact check, so an account is never liquidated wrongly.

use crate::account::Account;
use crate::engine::{Engine, Tables};
use crate::ids::{AccountId, AssetId, PerpMarketId};
use crate::venue::perp::PerpMarket;
use backstop_money::{Amount, Ratio, Rounding, SCALE, mul_div};
use std::collections::{BTreeMap, BTreeSet};

/// Relative tolerance (10⁻⁸ as a divisor) applied to thresholds so rounding never hides a
/// liquidatable account; accounts within it of their liquidation point are candidates and the
/// exact check decides.
const TOLERANCE_DIVISOR: i128 = 100_000_000;

/// Absolute slack on perpetual thresholds, in raw price units (10⁻⁹ of the numeraire).
const PRICE_SLACK_RAW: i128 = 1_000_000_000;

/// Below this many raw units (10⁻⁵ of a unit) of debt shares, weighted collateral or base, the
/// rounding of the exact check is too coarse relative to the key: such dust accounts are kept in
/// the complex set and always checked exactly.
const DUST_RAW: i128 = 10_000_000_000_000;

/// Where one account sits in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexEntry {
    /// Owes nothing: never liquidatable.
    #[default]
    None,
    /// Single collateral, single debt.
    Lending {
        /// Collateral asset.
        collateral: AssetId,
        /// Debt asset.
        debt: AssetId,
        /// `d / (c × LT)` at scale 10^18, rounded up.
        key: i128,
    },
    /// Single long position margined in its settlement asset.
    PerpLong {
        /// Market.
        market: PerpMarketId,
        /// Price below which the account is liquidatable, rounded up.
        key: i128,
    },
    /// Single short position margined in its settlement asset.
    PerpShort {
        /// Market.
        market: PerpMarketId,
        /// Price above which the account is liquidatable, rounded down.
        key: i128,
    },
    /// Any other account with liabilities.
    Complex,
}

/// Liquidation points of every account with liabilities.
#[derive(Debug, Clone, Default)]
pub struct LiquidationIndex {
    lending: BTreeMap<(AssetId, AssetId), BTreeSet<(i128, AccountId)>>,
    perp_long: Vec<BTreeSet<(i128, AccountId)>>,
    perp_short: Vec<BTreeSet<(i128, AccountId)>>,
    complex: BTreeSet<AccountId>,
}

impl LiquidationIndex {
    /// An empty index for a venue with this many perpetual markets.
    #[must_use]
    pub fn new(perp_count: usize) -> LiquidationIndex {
        LiquidationIndex {
            lending: BTreeMap::new(),
            perp_long: vec![BTreeSet::new(); perp_count],
            perp_short: vec![BTreeSet::new(); perp_count],
            complex: BTreeSet::new(),
        }
    }

    /// Moves an account from its old place to its new one.
    pub(crate) fn replace(&mut self, id: AccountId, old: IndexEntry, new: IndexEntry) {
        if old == new {
            return;
        }
        self.remove(id, old);
        self.insert(id, new);
    }

    fn remove(&mut self, id: AccountId, entry: IndexEntry) {
        match entry {
            IndexEntry::None => {}
            IndexEntry::Lending { collateral, debt, key } => {
                if let Some(set) = self.lending.get_mut(&(collateral, debt)) {
                    set.remove(&(key, id));
                }
            }
            IndexEntry::PerpLong { market, key } => {
                if let Some(set) = self.perp_long.get_mut(market.index()) {
                    set.remove(&(key, id));
                }
            }
            IndexEntry::PerpShort { market, key } => {
                if let Some(set) = self.perp_short.get_mut(market.index()) {
                    set.remove(&(key, id));
                }
            }
            IndexEntry::Complex => {
                self.complex.remove(&id);
            }
        }
    }

    fn insert(&mut self, id: AccountId, entry: IndexEntry) {
        match entry {
            IndexEntry::None => {}
            IndexEntry::Lending { collateral, debt, key } => {
                self.lending.entry((collateral, debt)).or_default().insert((key, id));
            }
            IndexEntry::PerpLong { market, key } => {
                if let Some(set) = self.perp_long.get_mut(market.index()) {
                    set.insert((key, id));
                }
            }
            IndexEntry::PerpShort { market, key } => {
                if let Some(set) = self.perp_short.get_mut(market.index()) {
                    set.insert((key, id));
                }
            }
            IndexEntry::Complex => {
                self.complex.insert(id);
            }
        }
    }

    /// Keeps each perpetual market's set of holders in step with an account's positions.
    pub(crate) fn update_holders(
        &self,
        perps: &mut [PerpMarket],
        id: AccountId,
        old: Option<&Account>,
        new: &Account,
    ) {
        for (index, (market, position)) in perps.iter_mut().zip(new.positions.iter()).enumerate() {
            let was = old.and_then(|old| old.positions.get(index)).is_some_and(|p| !p.is_flat());
            let is = !position.is_flat();
            if was && !is {
                market.holders.remove(&id);
            } else if is && !was {
                market.holders.insert(id);
            }
        }
    }

    /// Computes where an account belongs.
    pub(crate) fn entry_for(&self, tables: &Tables, account: &Account) -> IndexEntry {
        if !account.has_liabilities() {
            return IndexEntry::None;
        }
        // Counted without allocating: this runs at every commit of an account.
        let open = only_match(account.positions.iter().map(|position| !position.is_flat()));
        let debts =
            only_match(account.holdings.iter().map(|holding| holding.debt_shares.is_positive()));
        let entry = match (open, debts) {
            (Matches::None, Matches::One(debt)) => lending_entry(tables, account, debt),
            (Matches::One(market), Matches::None) => perp_entry(tables, account, market),
            _ => None,
        };
        entry.unwrap_or(IndexEntry::Complex)
    }
}

/// Collateral weight for maintenance of the asset at `index` (see `health`).
fn maintenance_weight(tables: &Tables, index: usize) -> Ratio {
    tables.maintenance_weight.get(index).copied().unwrap_or(Ratio::ZERO)
}

/// Whether none, exactly one (at this index) or several items of a sequence match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Matches {
    None,
    One(usize),
    Many,
}

/// Counts the `true`s of a sequence, remembering the index of a single one.
fn only_match(flags: impl Iterator<Item = bool>) -> Matches {
    let mut found = Matches::None;
    for (index, flag) in flags.enumerate() {
        if flag {
            found = match found {
                Matches::None => Matches::One(index),
                _ => return Matches::Many,
            };
        }
    }
    found
}

fn lending_entry(tables: &Tables, account: &Account, debt: usize) -> Option<IndexEntry> {
    let weighted = only_match(account.holdings.iter().enumerate().map(|(index, holding)| {
        holding.balance.is_positive() && maintenance_weight(tables, index).is_positive()
    }));
    let Matches::One(collateral) = weighted else { return None };
    let balance = account.holdings.get(collateral)?.balance;
    let debt_shares = account.holdings.get(debt)?.debt_shares;
    let weighted_balance =
        balance.mul_ratio(maintenance_weight(tables, collateral), Rounding::Floor).ok()?;
    // Tiny amounts make the key's rounding coarse: leave such accounts to the exact check.
    if weighted_balance.raw() < DUST_RAW || debt_shares.raw() < DUST_RAW {
        return None;
    }
    let key = mul_div(debt_shares.raw(), SCALE, weighted_balance.raw(), Rounding::Ceil).ok()?;
    Some(IndexEntry::Lending {
        collateral: AssetId(u16::try_from(collateral).ok()?),
        debt: AssetId(u16::try_from(debt).ok()?),
        key,
    })
}

fn perp_entry(tables: &Tables, account: &Account, market: usize) -> Option<IndexEntry> {
    let maintenance_margin = *tables.perp_maintenance.get(market)?;
    let settlement = tables.perp_assets.get(market)?.1.index();
    if account.holdings.iter().enumerate().any(|(index, holding)| {
        holding.balance.is_positive()
            && index != settlement
            && maintenance_weight(tables, index).is_positive()
    }) {
        return None;
    }
    let position = account.positions.get(market)?;
    if position.base.raw().unsigned_abs() < DUST_RAW.unsigned_abs() {
        return None;
    }
    let balance = account.holdings.get(settlement).map_or(Amount::ZERO, |holding| holding.balance);
    let cushion = balance
        .mul_ratio(maintenance_weight(tables, settlement), Rounding::Floor)
        .ok()?
        .checked_add(position.quote)
        .ok()?;
    let market_id = PerpMarketId(u16::try_from(market).ok()?);
    if position.base.is_positive() {
        // Long: liquidatable when p < −cushion / (base × (1 − MMF)).
        let scaled = position
            .base
            .mul_ratio(Ratio::ONE.checked_sub(maintenance_margin).ok()?, Rounding::Floor)
            .ok()?;
        if !scaled.is_positive() {
            return None;
        }
        let key = mul_div(cushion.checked_neg().ok()?.raw(), SCALE, scaled.raw(), Rounding::Ceil)
            .ok()?
            .max(0);
        Some(IndexEntry::PerpLong { market: market_id, key })
    } else {
        // Short: liquidatable when p > cushion / (|base| × (1 + MMF)).
        let scaled = position
            .base
            .checked_abs()
            .ok()?
            .mul_ratio(Ratio::ONE.checked_add(maintenance_margin).ok()?, Rounding::Ceil)
            .ok()?;
        let key = mul_div(cushion.raw(), SCALE, scaled.raw(), Rounding::Floor).ok()?.max(0);
        Some(IndexEntry::PerpShort { market: market_id, key })
    }
}

impl Engine {
    /// Accounts that may be liquidatable at current prices, found through the index of
    /// liquidation points; a superset of the liquidatable accounts, in a deterministic order.
    #[must_use]
    pub fn liquidation_candidates(&self) -> Vec<AccountId> {
        let mut candidates = Vec::new();
        for (&(collateral, debt), set) in &self.index.lending {
            let threshold = self.lending_threshold(collateral, debt);
            match threshold {
                Some(threshold) => {
                    candidates.extend(set.range((threshold, AccountId(0))..).map(|(_, id)| *id))
                }
                None => candidates.extend(set.iter().map(|(_, id)| *id)),
            }
        }
        for (index, (longs, shorts)) in
            self.index.perp_long.iter().zip(self.index.perp_short.iter()).enumerate()
        {
            let price = u16::try_from(index)
                .ok()
                .and_then(|index| self.mark_price(PerpMarketId(index), Rounding::Floor).ok());
            match price {
                Some(price) => {
                    let raw = price.raw();
                    let slack = raw
                        .checked_div(TOLERANCE_DIVISOR)
                        .unwrap_or(0)
                        .saturating_add(PRICE_SLACK_RAW);
                    candidates.extend(
                        longs.range((raw.saturating_sub(slack), AccountId(0))..).map(|(_, id)| *id),
                    );
                    candidates.extend(
                        shorts
                            .range(..(raw.saturating_add(slack), AccountId(u64::MAX)))
                            .map(|(_, id)| *id),
                    );
                }
                None => {
                    candidates.extend(longs.iter().map(|(_, id)| *id));
                    candidates.extend(shorts.iter().map(|(_, id)| *id));
                }
            }
        }
        candidates.extend(self.index.complex.iter().copied());
        candidates
    }

    /// The lowest key that may be liquidatable in a lending pair: `p_c / (I_d × p_d)` less the
    /// tolerance; `None` when a price is missing or stale (then every account is a candidate).
    fn lending_threshold(&self, collateral: AssetId, debt: AssetId) -> Option<i128> {
        let collateral_price = self.price(collateral).ok()?;
        let debt_price = self.price(debt).ok()?;
        let index = self.lending_market(debt).ok()?.borrow_index;
        let scaled_debt_price =
            mul_div(index.raw(), debt_price.raw(), SCALE, Rounding::Ceil).ok()?;
        let threshold =
            mul_div(collateral_price.raw(), SCALE, scaled_debt_price, Rounding::Floor).ok()?;
        let slack = threshold.checked_div(TOLERANCE_DIVISOR).unwrap_or(0).saturating_add(1);
        Some(threshold.saturating_sub(slack))
    }

    /// Accounts liquidatable now. An index entry whose key lies beyond the tolerance band around
    /// the current threshold (by more than twice the slack) is liquidatable by construction: the
    /// key and the threshold differ from the exact margin comparison by less than the relative
    /// tolerance (10⁻⁸, with dust accounts kept out of the keyed sets), so no health check is
    /// needed. Entries inside the band, accounts whose prices are missing or stale, and complex
    /// accounts are confirmed by the exact health check. The property tests check that this list
    /// always equals [`Engine::liquidatable_accounts_by_scan`].
    #[must_use]
    pub fn liquidatable_accounts(&self) -> Vec<AccountId> {
        let confirm = |id: AccountId| self.health(id).is_ok_and(|health| health.is_liquidatable());
        let mut found = Vec::new();
        for (&(collateral, debt), set) in &self.index.lending {
            match self.lending_threshold(collateral, debt) {
                Some(low) => {
                    // lending_threshold is T - slack; T + slack is about low + 2 slack.
                    let slack = low.checked_div(TOLERANCE_DIVISOR).unwrap_or(0).saturating_add(1);
                    let high = low.saturating_add(slack.saturating_mul(3));
                    for &(key, id) in set.range((low, AccountId(0))..) {
                        if key > high || confirm(id) {
                            found.push(id);
                        }
                    }
                }
                None => found.extend(set.iter().map(|(_, id)| *id).filter(|id| confirm(*id))),
            }
        }
        for (index, (longs, shorts)) in
            self.index.perp_long.iter().zip(self.index.perp_short.iter()).enumerate()
        {
            let price = u16::try_from(index)
                .ok()
                .and_then(|index| self.mark_price(PerpMarketId(index), Rounding::Floor).ok());
            match price {
                Some(price) => {
                    let raw = price.raw();
                    let slack = raw
                        .checked_div(TOLERANCE_DIVISOR)
                        .unwrap_or(0)
                        .saturating_add(PRICE_SLACK_RAW);
                    let (low, high) = (raw.saturating_sub(slack), raw.saturating_add(slack));
                    for &(key, id) in longs.range((low, AccountId(0))..) {
                        if key > high.saturating_add(slack) || confirm(id) {
                            found.push(id);
                        }
                    }
                    for &(key, id) in shorts.range(..(high, AccountId(u64::MAX))) {
                        if key < low.saturating_sub(slack) || confirm(id) {
                            found.push(id);
                        }
                    }
                }
                None => {
                    found.extend(longs.iter().map(|(_, id)| *id).filter(|id| confirm(*id)));
                    found.extend(shorts.iter().map(|(_, id)| *id).filter(|id| confirm(*id)));
                }
            }
        }
        found.extend(self.index.complex.iter().copied().filter(|id| confirm(*id)));
        found
    }

    /// Accounts liquidatable now, found by checking every account (for comparison and audits).
    #[must_use]
    pub fn liquidatable_accounts_by_scan(&self) -> Vec<AccountId> {
        self.state
            .accounts
            .iter()
            .filter(|(_, account)| account.has_liabilities())
            .filter(|(_, account)| {
                self.health_of(account).is_ok_and(|health| health.is_liquidatable())
            })
            .map(|(id, _)| *id)
            .collect()
    }
}
