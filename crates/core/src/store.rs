//! The one write path: the engine's [`State`] behind recording accessors and an undo log.
//!
//! [`Engine::apply`](crate::Engine::apply) opens a transaction around the whole command
//! (dispatch, queued waterfalls, governance sequence). Every mutable access to the state goes
//! through a method of [`Store`] that first records what it is about to overwrite: the old
//! account of an id, the old auction of an id, the old element of a per-asset or per-market
//! list, or (on first touch in the command) a copy of a larger component. When the command is
//! rejected the log is undone in reverse and the state is exactly what it was; when it is
//! accepted the log is cleared, keeping its allocation.
//!
//! The state field is private to this module and `Store` only derefs to `&State`, so a handler
//! cannot write the state without recording: a new write has to be a new accessor here.

use crate::account::Account;
use crate::backstop::net::SafetyNet;
use crate::claims::ClaimsState;
use crate::config::ConfigInForce;
use crate::engine::{State, Tables, add_account_to_totals};
use crate::english_auction::EnglishAuction;
use crate::governance::GovernanceState;
use crate::ids::{AccountId, AuctionId};
use crate::liquidation::Auction;
use crate::liquidation_index::LiquidationIndex;
use crate::oracle::PriceEntry;
use crate::state_hash::HashCache;
use crate::venue::lending::LendingMarket;
use crate::venue::perp::PerpMarket;
use backstop_money::Amount;

/// What one recorded write overwrote, enough to put it back.
#[derive(Debug)]
enum Undo {
    /// `state.now` before.
    Now(u64),
    /// One price before.
    Price(usize, PriceEntry),
    /// One account before (`None`: it did not exist).
    Account(AccountId, Option<Account>),
    /// One lending slot before.
    Lending(usize, Option<LendingMarket>),
    /// One perpetual market's own fields before (its holder set is derived from the accounts).
    Perp(usize, Amount, Amount),
    /// One fee ledger entry before.
    Fee(usize, Amount),
    /// One auction before (`None`: it did not exist).
    Auction(AuctionId, Option<Auction>),
    /// One English auction before (`None`: it did not exist).
    EnglishAuction(AuctionId, Option<EnglishAuction>),
    /// `state.next_auction` before.
    NextAuction(u64),
    /// One external-net entry before.
    ExternalNet(usize, Amount),
    /// The safety net before its first write in the transaction.
    Net(Box<SafetyNet>),
    /// The claims state before its first write in the transaction.
    Claims(Box<ClaimsState>),
    /// The governance state before its first write in the transaction.
    Governance(Box<GovernanceState>),
    /// The governance command sequence before.
    Sequence(u64),
    /// The configuration in force and its tables before governance replaced them.
    Config(Box<ConfigInForce>, Box<Tables>),
}

/// Which large components were already copied into the log in this transaction.
#[derive(Debug, Clone, Copy, Default)]
struct Touched {
    net: bool,
    claims: bool,
    governance: bool,
}

/// The state with its undo log: reads through `Deref`, writes only through recording methods.
#[derive(Debug)]
pub(crate) struct Store {
    state: State,
    log: Vec<Undo>,
    touched: Touched,
    /// Test hook: number of recorded writes left before an injected fault (see
    /// [`Engine::inject_fault`](crate::Engine::inject_fault)).
    fault_in: Option<usize>,
    /// Recorded writes since the transaction opened (for the fault-injection test).
    writes: usize,
}

impl std::ops::Deref for Store {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl Store {
    /// A store over a state, with an empty log.
    pub(crate) fn new(state: State) -> Store {
        Store { state, log: Vec::new(), touched: Touched::default(), fault_in: None, writes: 0 }
    }

    /// A copy of the state alone (for snapshots and clones).
    pub(crate) fn copy(&self) -> Store {
        Store::new(self.state.clone())
    }

    /// Notes one write about to happen; the fault hook fires here, before anything changes.
    fn record(&mut self, undo: Undo) {
        self.writes = self.writes.saturating_add(1);
        if let Some(left) = self.fault_in.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.fault_in = None;
                panic!("{INJECTED_FAULT}");
            }
        }
        self.log.push(undo);
    }

    /// Opens the transaction of one command (the previous one is closed: see `is_open`).
    pub(crate) fn begin(&mut self) {
        self.log.clear();
        self.touched = Touched::default();
        self.writes = 0;
    }

    /// Whether writes of an unfinished transaction are still logged: a command panicked and its
    /// caller caught the panic without calling `Engine::abort_command`.
    pub(crate) fn is_open(&self) -> bool {
        !self.log.is_empty()
    }

    /// Forgets the log: the transaction's writes stay (the log keeps its allocation).
    pub(crate) fn commit(&mut self) {
        self.log.clear();
        self.touched = Touched::default();
    }

    /// Recorded writes of the current (or last) transaction.
    pub(crate) fn writes(&self) -> usize {
        self.writes
    }

    /// Arms the fault hook: the `nth` recorded write from now panics before it changes anything.
    pub(crate) fn inject_fault(&mut self, nth: usize) {
        self.fault_in = Some(nth);
    }

    /// Undoes every write of the transaction, newest first, keeping what is derived from the
    /// state outside it (liquidation index, hash cache) and the configuration in step; the
    /// transaction stays open and empty.
    pub(crate) fn rollback(&mut self, derived: &mut Derived<'_>) {
        self.fault_in = None;
        while let Some(undo) = self.log.pop() {
            self.undo(undo, derived);
        }
        self.touched = Touched::default();
    }

    fn undo(&mut self, undo: Undo, derived: &mut Derived<'_>) {
        let state = &mut self.state;
        match undo {
            Undo::Now(now) => state.now = now,
            Undo::Price(index, entry) => set_at(&mut state.prices, index, entry),
            Undo::Account(id, old) => undo_account(state, derived, id, old),
            Undo::Lending(index, market) => set_at(&mut state.lending, index, market),
            Undo::Perp(index, open_interest, deficit) => {
                if let Some(market) = state.perps.get_mut(index) {
                    market.open_interest = open_interest;
                    market.deficit = deficit;
                }
            }
            Undo::Fee(index, fee) => set_at(&mut state.fees, index, fee),
            Undo::Auction(id, old) => match old {
                Some(auction) => drop(state.auctions.insert(id, auction)),
                None => drop(state.auctions.remove(&id)),
            },
            Undo::EnglishAuction(id, old) => match old {
                Some(auction) => drop(state.english_auctions.insert(id, auction)),
                None => drop(state.english_auctions.remove(&id)),
            },
            Undo::NextAuction(next) => state.next_auction = next,
            Undo::ExternalNet(index, value) => set_at(&mut state.external_net, index, value),
            Undo::Net(net) => state.net = *net,
            Undo::Claims(claims) => state.claims = *claims,
            Undo::Governance(governance) => state.governance = *governance,
            Undo::Sequence(sequence) => state.governance.sequence = sequence,
            Undo::Config(config, tables) => {
                *derived.config = *config;
                *derived.tables = *tables;
            }
        }
    }

    // ----- the recording accessors: the only ways to change the state -----

    /// Sets the clock.
    pub(crate) fn set_now(&mut self, now: u64) {
        self.record(Undo::Now(self.state.now));
        self.state.now = now;
    }

    /// The price entry of an asset, to change.
    pub(crate) fn price_mut(&mut self, index: usize) -> Option<&mut PriceEntry> {
        let old = *self.state.prices.get(index)?;
        self.record(Undo::Price(index, old));
        self.state.prices.get_mut(index)
    }

    /// Puts an account in place, keeping the running totals, the liquidation index and the
    /// perpetual holder sets (all derived from the accounts) in step. The replaced account moves
    /// into the log: no copy is made.
    pub(crate) fn put_account(
        &mut self,
        id: AccountId,
        account: Account,
        index: &mut LiquidationIndex,
    ) {
        // The record comes first, so an injected fault fires before anything changes.
        self.record(Undo::Account(id, None));
        let state = &mut self.state;
        add_account_to_totals(&mut state.totals, &account, 1);
        let new_entry = account.index_entry;
        let old = state.accounts.insert(id, account);
        let old_entry = old.as_ref().map(|old| old.index_entry).unwrap_or_default();
        if let Some(old) = &old {
            add_account_to_totals(&mut state.totals, old, -1);
        }
        index.replace(id, old_entry, new_entry);
        if let Some(new) = state.accounts.get(&id) {
            index.update_holders(&mut state.perps, id, old.as_ref(), new);
        }
        if let Some(Undo::Account(_, slot)) = self.log.last_mut() {
            *slot = old;
        }
    }

    /// A lending slot, to change.
    pub(crate) fn lending_mut(&mut self, index: usize) -> Option<&mut Option<LendingMarket>> {
        let old = self.state.lending.get(index)?.clone();
        self.record(Undo::Lending(index, old));
        self.state.lending.get_mut(index)
    }

    /// A perpetual market's open interest and deficit, to change (its holder set is derived
    /// from the accounts and kept by `put_account`).
    pub(crate) fn perp_mut(&mut self, index: usize) -> Option<PerpMut<'_>> {
        // Naming every field makes a new field of `PerpMarket` a compile error here.
        let PerpMarket { open_interest, deficit, holders: _ } = self.state.perps.get(index)?;
        self.record(Undo::Perp(index, *open_interest, *deficit));
        let PerpMarket { open_interest, deficit, holders: _ } = self.state.perps.get_mut(index)?;
        Some(PerpMut { open_interest, deficit })
    }

    /// A fee ledger entry, to change.
    pub(crate) fn fee_mut(&mut self, index: usize) -> Option<&mut Amount> {
        let old = *self.state.fees.get(index)?;
        self.record(Undo::Fee(index, old));
        self.state.fees.get_mut(index)
    }

    /// An external-net entry, to change.
    pub(crate) fn external_net_mut(&mut self, index: usize) -> Option<&mut Amount> {
        let old = *self.state.external_net.get(index)?;
        self.record(Undo::ExternalNet(index, old));
        self.state.external_net.get_mut(index)
    }

    /// Puts an auction in place (`None` removes it); the replaced one moves into the log.
    pub(crate) fn put_auction(&mut self, id: AuctionId, auction: Option<Auction>) {
        self.record(Undo::Auction(id, None));
        let old = match auction {
            Some(auction) => self.state.auctions.insert(id, auction),
            None => self.state.auctions.remove(&id),
        };
        if let Some(Undo::Auction(_, slot)) = self.log.last_mut() {
            *slot = old;
        }
    }

    /// Puts an English auction in place (`None` removes it); the replaced one moves into the log.
    pub(crate) fn put_english_auction(&mut self, id: AuctionId, auction: Option<EnglishAuction>) {
        self.record(Undo::EnglishAuction(id, None));
        let old = match auction {
            Some(auction) => self.state.english_auctions.insert(id, auction),
            None => self.state.english_auctions.remove(&id),
        };
        if let Some(Undo::EnglishAuction(_, slot)) = self.log.last_mut() {
            *slot = old;
        }
    }

    /// Sets the id the next auction will get.
    pub(crate) fn set_next_auction(&mut self, next: u64) {
        self.record(Undo::NextAuction(self.state.next_auction));
        self.state.next_auction = next;
    }

    /// The safety net, to change (copied into the log on its first write).
    pub(crate) fn net_mut(&mut self) -> &mut SafetyNet {
        if !self.touched.net {
            self.record(Undo::Net(Box::new(self.state.net.clone())));
            self.touched.net = true;
        }
        &mut self.state.net
    }

    /// The claims state, to change (copied into the log on its first write).
    pub(crate) fn claims_mut(&mut self) -> &mut ClaimsState {
        if !self.touched.claims {
            self.record(Undo::Claims(Box::new(self.state.claims.clone())));
            self.touched.claims = true;
        }
        &mut self.state.claims
    }

    /// The governance state, to change (copied into the log on its first write).
    pub(crate) fn governance_mut(&mut self) -> &mut GovernanceState {
        if !self.touched.governance {
            self.record(Undo::Governance(Box::new(self.state.governance.clone())));
            self.touched.governance = true;
        }
        &mut self.state.governance
    }

    /// Sets the governance command sequence (one write per accepted command, not a copy).
    pub(crate) fn set_sequence(&mut self, sequence: u64) {
        self.record(Undo::Sequence(self.state.governance.sequence));
        self.state.governance.sequence = sequence;
    }

    /// Notes that governance is about to replace the configuration in force and its tables.
    pub(crate) fn record_config(&mut self, config: &ConfigInForce, tables: &Tables) {
        self.record(Undo::Config(Box::new(config.clone()), Box::new(tables.clone())));
    }

    /// The whole state to change without recording: only for tests that corrupt a state.
    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn unrecorded(&mut self) -> &mut State {
        &mut self.state
    }
}

/// The writable fields of a perpetual market.
pub(crate) struct PerpMut<'a> {
    /// Sum of long base.
    pub(crate) open_interest: &'a mut Amount,
    /// Losses of bankrupt accounts not yet covered.
    pub(crate) deficit: &'a mut Amount,
}

/// The message of an injected fault's panic.
pub(crate) const INJECTED_FAULT: &str = "injected fault (Engine::inject_fault)";

/// What the engine derives from the state outside it, kept in step by a rollback.
pub(crate) struct Derived<'a> {
    /// The liquidation index.
    pub(crate) index: &'a mut LiquidationIndex,
    /// The per-account hash cache.
    pub(crate) hash_cache: &'a mut HashCache,
    /// The configuration in force.
    pub(crate) config: &'a mut ConfigInForce,
    /// Its tables.
    pub(crate) tables: &'a mut Tables,
}

/// Puts an account back as it was, and the totals, index, holder sets and hash cache with it.
fn undo_account(state: &mut State, derived: &mut Derived<'_>, id: AccountId, old: Option<Account>) {
    let current = state.accounts.remove(&id);
    if let Some(current) = &current {
        add_account_to_totals(&mut state.totals, current, -1);
    }
    if let Some(old) = &old {
        add_account_to_totals(&mut state.totals, old, 1);
    }
    let current_entry = current.as_ref().map(|account| account.index_entry).unwrap_or_default();
    let old_entry = old.as_ref().map(|account| account.index_entry).unwrap_or_default();
    derived.index.replace(id, current_entry, old_entry);
    // Holder sets hold exactly the accounts with a position that is not flat.
    for (index, market) in state.perps.iter_mut().enumerate() {
        let holds = old
            .as_ref()
            .and_then(|account| account.positions.get(index))
            .is_some_and(|position| !position.is_flat());
        if holds {
            market.holders.insert(id);
        } else {
            market.holders.remove(&id);
        }
    }
    if let Some(old) = old {
        state.accounts.insert(id, old);
    }
    derived.hash_cache.mark_dirty(id);
}

/// Sets one element of a list (a no-op past its end, which recording never produces).
fn set_at<T>(slots: &mut [T], index: usize, value: T) {
    if let Some(slot) = slots.get_mut(index) {
        *slot = value;
    }
}
