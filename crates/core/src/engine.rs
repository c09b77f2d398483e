//! The engine: state, the `apply` entry point, and the commit step handlers write accounts with.
//!
//! Every write to the state goes through the recording accessors of `crate::store` (the state
//! field is private to that module): `apply` opens a transaction around the whole command and,
//! when the command is rejected at any point, undoes every write in reverse. That is how "a
//! rejected command changes nothing" holds by construction, without cloning the state.

use crate::account::Account;
use crate::command::Command;
use crate::config::VenueConfig;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, AuctionId, PerpMarketId};
use crate::liquidation::Auction;
use crate::liquidation_index::LiquidationIndex;
use crate::oracle::PriceEntry;
use crate::rejection::Rejection;
use crate::state_hash::HashCache;
use crate::store::{Derived, Store};
use crate::venue::lending::LendingMarket;
use crate::venue::perp::PerpMarket;
use backstop_money::Amount;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Running sums kept up to date at every commit, so invariants can be checked in O(markets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Per asset: sum of account balances (wrapping, compared modulo 2^128).
    #[serde(with = "crate::snapshot::wide_integers")]
    pub balances: Vec<i128>,
    /// Per asset: sum of account supply shares.
    #[serde(with = "crate::snapshot::wide_integers")]
    pub supply_shares: Vec<i128>,
    /// Per asset: sum of account debt shares.
    #[serde(with = "crate::snapshot::wide_integers")]
    pub debt_shares: Vec<i128>,
    /// Per perpetual market: sum of position base (zero: every trade has two sides).
    #[serde(with = "crate::snapshot::wide_integers")]
    pub perp_base: Vec<i128>,
    /// Per perpetual market: sum of position quote.
    #[serde(with = "crate::snapshot::wide_integers")]
    pub perp_quote: Vec<i128>,
    /// Per perpetual market: sum of long base (the open interest).
    #[serde(with = "crate::snapshot::wide_integers")]
    pub perp_long: Vec<i128>,
}

/// The asset of each safety-net layer, in config order.
#[derive(Debug, Clone, Default)]
pub struct LayerAssets {
    /// Per fund.
    pub funds: Vec<AssetId>,
    /// Per offset.
    pub offsets: Vec<AssetId>,
    /// Per staker pool.
    pub staker_pools: Vec<AssetId>,
    /// Per stability pool.
    pub stability_pools: Vec<AssetId>,
}

/// Lookups derived once from the configuration, so the hot path compares no strings.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// Per asset: index into `config.lending`, if the asset has a lending market.
    pub lending_slot: Vec<Option<usize>>,
    /// Per asset: collateral weight for the initial check.
    pub initial_weight: Vec<backstop_money::Ratio>,
    /// Per asset: collateral weight for the maintenance check.
    pub maintenance_weight: Vec<backstop_money::Ratio>,
    /// Per perpetual market: (underlying, settlement).
    pub perp_assets: Vec<(AssetId, AssetId)>,
    /// Per perpetual market: maintenance margin fraction.
    pub perp_maintenance: Vec<backstop_money::Ratio>,
    /// Asset of each fund, offset, staker pool and stability pool, in config order.
    pub layer_assets: LayerAssets,
    /// Per emergency liquidity facility: the lending market's asset.
    pub facility_assets: Vec<Option<AssetId>>,
    /// Per market: its waterfall's layers as written and parsed.
    pub waterfalls:
        BTreeMap<crate::ids::MarketRef, Vec<(String, crate::backstop::layers::LayerRef)>>,
}

/// Why a name in a validated configuration resolves to an asset.
const VALIDATED_ASSET: &str = "validation checks that every asset a layer or market names exists";

impl Tables {
    /// Derives the lookups from a validated configuration.
    #[must_use]
    pub fn new(config: &VenueConfig) -> Tables {
        let asset_count = config.assets.len();
        let mut tables = Tables {
            lending_slot: vec![None; asset_count],
            initial_weight: vec![backstop_money::Ratio::ZERO; asset_count],
            maintenance_weight: vec![backstop_money::Ratio::ZERO; asset_count],
            perp_assets: Vec::with_capacity(config.perps.len()),
            perp_maintenance: Vec::with_capacity(config.perps.len()),
            waterfalls: BTreeMap::new(),
            facility_assets: config
                .liquidity
                .iter()
                .map(|facility| config.asset_id(&facility.market))
                .collect(),
            layer_assets: LayerAssets {
                funds: config
                    .funds
                    .iter()
                    .map(|x| config.asset_id(&x.asset).expect(VALIDATED_ASSET))
                    .collect(),
                offsets: config
                    .offsets
                    .iter()
                    .map(|x| config.asset_id(&x.asset).expect(VALIDATED_ASSET))
                    .collect(),
                staker_pools: config
                    .staker_pools
                    .iter()
                    .map(|x| config.asset_id(&x.asset).expect(VALIDATED_ASSET))
                    .collect(),
                stability_pools: config
                    .stability_pools
                    .iter()
                    .map(|x| config.asset_id(&x.asset).expect(VALIDATED_ASSET))
                    .collect(),
            },
        };
        for waterfall in &config.waterfalls {
            let Some(market) = config.market_ref(&waterfall.market) else { continue };
            let layers = waterfall
                .layers
                .iter()
                .filter_map(|text| {
                    crate::backstop::layers::LayerRef::parse(text)
                        .ok()
                        .map(|layer| (text.clone(), layer))
                })
                .collect();
            tables.waterfalls.insert(market, layers);
        }
        for market in &config.perps {
            let underlying = config.asset_id(&market.underlying).expect(VALIDATED_ASSET);
            let settlement = config.asset_id(&market.settlement).expect(VALIDATED_ASSET);
            tables.perp_assets.push((underlying, settlement));
            tables.perp_maintenance.push(market.maintenance_margin);
            // A settlement asset counts at par unless its lending market says otherwise.
            if let Some(slot) = tables.initial_weight.get_mut(settlement.index()) {
                *slot = backstop_money::Ratio::ONE;
            }
            if let Some(slot) = tables.maintenance_weight.get_mut(settlement.index()) {
                *slot = backstop_money::Ratio::ONE;
            }
        }
        for (slot_index, market) in config.lending.iter().enumerate() {
            let Some(asset) = config.asset_id(&market.asset) else { continue };
            if let Some(slot) = tables.lending_slot.get_mut(asset.index()) {
                *slot = Some(slot_index);
            }
            if let Some(slot) = tables.initial_weight.get_mut(asset.index()) {
                *slot = market.collateral_factor;
            }
            if let Some(slot) = tables.maintenance_weight.get_mut(asset.index()) {
                *slot = market.liquidation_threshold;
            }
        }
        tables
    }
}

/// Everything the engine knows, apart from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Current time in seconds.
    pub now: u64,
    /// Oracle price per asset.
    pub prices: Vec<PriceEntry>,
    /// Accounts by id.
    pub accounts: BTreeMap<AccountId, Account>,
    /// Lending market per asset (None where the asset has no lending market).
    pub lending: Vec<Option<LendingMarket>>,
    /// Perpetual markets by id.
    pub perps: Vec<PerpMarket>,
    /// Per asset: fees and penalties collected by the venue.
    pub fees: Vec<Amount>,
    /// Running Dutch auctions.
    pub auctions: BTreeMap<AuctionId, Auction>,
    /// Id the next auction will get.
    pub next_auction: u64,
    /// Running English (tend/dent) auctions; they share the id counter with Dutch auctions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub english_auctions: BTreeMap<AuctionId, crate::english_auction::EnglishAuction>,
    /// Per asset: deposits from outside minus withdrawals to outside.
    pub external_net: Vec<Amount>,
    /// The safety net's layers.
    pub net: crate::backstop::net::SafetyNet,
    /// Exploit incidents and claims.
    pub claims: crate::claims::ClaimsState,
    /// Running sums for the invariants.
    pub totals: Totals,
    /// Governance: command sequence, delegations, voting-power checkpoints, proposals.
    pub governance: crate::governance::GovernanceState,
}

/// The deterministic state machine of one venue: commands in, events out.
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: crate::config::ConfigInForce,
    pub(crate) tables: Tables,
    /// The state behind the one write path (see `crate::store`).
    pub(crate) state: Store,
    pub(crate) index: LiquidationIndex,
    pub(crate) hash_cache: HashCache,
    pub(crate) checks: InvariantChecks,
    pub(crate) halted: Option<crate::invariants::Violation>,
}

impl Clone for Engine {
    /// A copy of the engine between commands (the undo log is empty then and is not copied).
    fn clone(&self) -> Engine {
        Engine {
            config: self.config.clone(),
            tables: self.tables.clone(),
            state: self.state.copy(),
            index: self.index.clone(),
            hash_cache: self.hash_cache.clone(),
            checks: self.checks,
            halted: self.halted.clone(),
        }
    }
}

/// When [`Engine::apply`] checks the invariants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvariantChecks {
    /// After every command (the default).
    #[default]
    EveryCommand,
    /// Only when the caller calls [`Engine::verify_invariants`] (after a batch or a sim step).
    Deferred,
}

impl Engine {
    /// A new engine at time zero for a validated venue configuration.
    ///
    /// # Errors
    /// The configuration's first validation problem.
    pub fn new(config: VenueConfig) -> Result<Engine, crate::config::ConfigError> {
        config.validate()?;
        let asset_count = config.assets.len();
        let perp_count = config.perps.len();
        let mut lending = vec![None; asset_count];
        for market in &config.lending {
            if let Some(asset) = config.asset_id(&market.asset)
                && let Some(slot) = lending.get_mut(asset.index())
            {
                *slot = Some(LendingMarket::new(0));
            }
        }
        let state = State {
            now: 0,
            prices: vec![PriceEntry::default(); asset_count],
            accounts: BTreeMap::new(),
            lending,
            perps: vec![PerpMarket::default(); perp_count],
            fees: vec![Amount::ZERO; asset_count],
            auctions: BTreeMap::new(),
            next_auction: 1,
            english_auctions: BTreeMap::new(),
            external_net: vec![Amount::ZERO; asset_count],
            net: crate::backstop::net::SafetyNet {
                funds: vec![crate::backstop::net::FundState::default(); config.funds.len()],
                offsets: vec![Amount::ZERO; config.offsets.len()],
                staker_pools: vec![
                    crate::backstop::net::StakerPoolState::default();
                    config.staker_pools.len()
                ],
                stability_pools: vec![
                    crate::backstop::net::StabilityPoolState::new();
                    config.stability_pools.len()
                ],
                covers: vec![crate::backstop::net::CoverState::default(); config.covers.len()],
                facilities: vec![
                    crate::backstop::net::FacilityState::default();
                    config.liquidity.len()
                ],
                paused: vec![false; asset_count],
                minted: vec![Amount::ZERO; asset_count],
                next_id: 1,
                ..Default::default()
            },
            claims: crate::claims::ClaimsState::default(),
            totals: Totals {
                balances: vec![0; asset_count],
                supply_shares: vec![0; asset_count],
                debt_shares: vec![0; asset_count],
                perp_base: vec![0; perp_count],
                perp_quote: vec![0; perp_count],
                perp_long: vec![0; perp_count],
            },
            governance: crate::governance::GovernanceState::default(),
        };
        Ok(Engine {
            index: LiquidationIndex::new(perp_count),
            tables: Tables::new(&config),
            config: crate::config::ConfigInForce::new(config),
            state: Store::new(state),
            hash_cache: HashCache::default(),
            checks: InvariantChecks::default(),
            halted: None,
        })
    }

    /// Applies one command: returns its events and changes the state, or returns why it was
    /// rejected and changes nothing.
    ///
    /// The command runs in one place ([`Engine::run_command`]) inside a transaction: when it is
    /// rejected, every write it made is undone ([`Engine::abort_command`]). Whatever it returns,
    /// the invariant check runs after it (every command, unless [`InvariantChecks::Deferred`]).
    /// A broken invariant halts the engine: this and every later command is refused with
    /// [`Rejection::InvariantBroken`] (code 130), in release builds as in debug builds.
    ///
    /// # Errors
    /// A [`Rejection`] with a stable code naming what was wrong.
    pub fn apply(&mut self, command: &Command) -> Result<Vec<Event>, Rejection> {
        if let Some(violation) = &self.halted {
            return Err(Rejection::invariant_broken(violation));
        }
        if self.state.is_open() {
            // A command panicked half-way and the caller went on: undo it first.
            self.abort_command();
        }
        self.state.begin();
        let result = self.run_command(command);
        match &result {
            Ok(_) => self.state.commit(),
            Err(_) => self.abort_command(),
        }
        if self.checks == InvariantChecks::EveryCommand {
            self.verify_invariants()?;
        }
        result
    }

    /// Dispatch, then the facility phase (cash that reached a lending market repays its
    /// emergency loans), then the waterfalls of deficits the command recorded, then the
    /// governance sequence. The only caller is [`Engine::apply`], which opens the transaction
    /// and checks the invariants after it.
    fn run_command(&mut self, command: &Command) -> Result<Vec<Event>, Rejection> {
        let mut events = self.dispatch(command)?;
        self.repay_facilities(&mut events)?;
        // Deficits recorded by the command walk their markets' waterfalls once it has committed,
        // so a layer never sees a half-applied command.
        self.settle_queued_waterfalls(&mut events)?;
        if self.config.governance.is_some() {
            self.state.set_sequence(self.state.governance.sequence.saturating_add(1));
        }
        Ok(events)
    }

    /// Undoes every write of the command in progress: the state, the liquidation index, the
    /// hash cache and the configuration are exactly as before the command.
    ///
    /// `apply` calls this when the command is rejected; it is public (hidden) for the
    /// fault-injection test, which stops a command in the middle with [`Engine::inject_fault`].
    #[doc(hidden)]
    pub fn abort_command(&mut self) {
        let mut derived = Derived {
            index: &mut self.index,
            hash_cache: &mut self.hash_cache,
            config: &mut self.config,
            tables: &mut self.tables,
        };
        self.state.rollback(&mut derived);
        self.state.commit();
    }

    /// Test hook: the `nth` recorded write from now (1 is the next) panics before it changes
    /// anything; the caller catches the panic and calls [`Engine::abort_command`].
    #[doc(hidden)]
    pub fn inject_fault(&mut self, nth: usize) {
        self.state.inject_fault(nth);
    }

    /// Test hook: how many writes the last command recorded.
    #[doc(hidden)]
    #[must_use]
    pub fn last_command_writes(&self) -> usize {
        self.state.writes()
    }

    /// Checks the invariants now (callers with [`InvariantChecks::Deferred`] call this after
    /// every batch or step); a violation halts the engine.
    ///
    /// # Errors
    /// [`Rejection::InvariantBroken`] when an invariant is broken now or was broken before.
    pub fn verify_invariants(&mut self) -> Result<(), Rejection> {
        if let Some(violation) = &self.halted {
            return Err(Rejection::invariant_broken(violation));
        }
        match self.check_invariants() {
            Ok(()) => Ok(()),
            Err(violation) => {
                let rejection = Rejection::invariant_broken(&violation);
                self.halted = Some(violation);
                Err(rejection)
            }
        }
    }

    /// Chooses when `apply` checks the invariants (default: after every command).
    pub fn set_invariant_checks(&mut self, checks: InvariantChecks) {
        self.checks = checks;
    }

    /// When `apply` checks the invariants.
    #[must_use]
    pub fn invariant_checks(&self) -> InvariantChecks {
        self.checks
    }

    /// The broken invariant that halted the engine, if any.
    #[must_use]
    pub fn halted(&self) -> Option<&crate::invariants::Violation> {
        self.halted.as_ref()
    }

    fn dispatch(&mut self, command: &Command) -> Result<Vec<Event>, Rejection> {
        match *command {
            Command::AdvanceTime { now } => self.advance_time(now),
            Command::SetPrice { asset, price } => self.set_price(asset, price),
            Command::OpenAccount { account, kind } => self.open_account(account, kind),
            Command::Deposit { account, asset, amount } => self.deposit(account, asset, amount),
            Command::Withdraw { account, asset, amount } => self.withdraw(account, asset, amount),
            Command::Supply { account, asset, amount } => self.supply(account, asset, amount),
            Command::WithdrawSupply { account, asset, amount } => {
                self.withdraw_supply(account, asset, amount)
            }
            Command::Borrow { account, asset, amount } => self.borrow(account, asset, amount),
            Command::Repay { account, asset, amount } => self.repay(account, asset, amount),
            Command::AccrueInterest { asset } => self.accrue_interest_command(asset),
            Command::Trade { market, taker, maker, size, price } => {
                self.trade(market, taker, maker, size, price)
            }
            Command::AccrueFunding { market, rate } => self.accrue_funding(market, rate),
            Command::Liquidate { keeper, account, target, amount, seed } => {
                self.check_adl_seed(target, seed)?;
                self.liquidate(keeper, account, target, amount, seed)
            }
            Command::TakeAuction { keeper, auction, amount, max_price } => {
                self.take_auction(keeper, auction, amount, max_price)
            }
            Command::ResetAuction { auction }
                if self.state.english_auctions.contains_key(&auction) =>
            {
                self.restart_english_auction(auction)
            }
            Command::ResetAuction { auction } => self.reset_auction(auction),
            Command::BidAuction { bidder, auction, lot, bid } => {
                self.bid_english_auction(bidder, auction, lot, bid)
            }
            Command::DealAuction { auction } => self.deal_english_auction(auction),
            Command::SettleRevenue { asset } => self.settle_revenue(asset),
            Command::Donate { account, ref layer, amount } => self.donate(account, layer, amount),
            Command::Recover { market, amount } => self.recover(market, amount),
            Command::Exploit { asset, amount } => self.exploit(asset, amount),
            Command::BuyCover { ref cover, ref fund, term_secs } => {
                self.buy_cover(cover, fund, term_secs)
            }
            Command::SettleCoverClaim { claim, amount } => self.settle_cover_claim(claim, amount),
            Command::ApproveRecap { auction } => self.approve_recap(auction),
            Command::BidRecap { account, auction, lot } => self.bid_recap(account, auction, lot),
            Command::RestartRecap { auction } => self.restart_recap(auction),
            Command::UpdateStatus {} => self.update_status(),
            Command::SetStatus { status } => self.set_status(status),
            Command::Unpause { asset } => self.unpause(asset),
            Command::Stake { account, ref pool, amount } => self.stake(account, pool, amount),
            Command::RequestUnstake { account, ref pool, shares } => {
                self.request_unstake(account, pool, shares)
            }
            Command::CancelUnstake { account, ref pool, shares } => {
                self.cancel_unstake(account, pool, shares)
            }
            Command::CompleteUnstake { account, ref pool } => self.complete_unstake(account, pool),
            Command::ClaimRewards { account, ref pool } => self.claim_staker_rewards(account, pool),
            Command::StabilityDeposit { account, ref pool, amount } => {
                self.stability_deposit(account, pool, amount)
            }
            Command::StabilityWithdraw { account, ref pool, amount } => {
                self.stability_withdraw(account, pool, amount)
            }
            Command::StabilityClaim { account, ref pool } => self.stability_claim(account, pool),
            Command::DeclareIncident { declarer, market, loss_start, loss_end } => {
                self.declare_incident(declarer, market, loss_start, loss_end)
            }
            Command::FileClaim { account, incident, amount, ref evidence } => {
                self.file_claim(account, incident, amount, evidence)
            }
            Command::AssessClaim { assessor, claim, approve, approved_amount } => {
                self.assess_claim(assessor, claim, approve, approved_amount)
            }
            Command::PayClaims { incident } => self.pay_claims(incident),
            Command::ClaimVested { account, claim } => self.claim_vested(account, claim),
            Command::RecoverIncident { incident, amount } => {
                self.recover_incident(incident, amount)
            }
            Command::Transfer { .. }
            | Command::Delegate { .. }
            | Command::Propose { .. }
            | Command::Vote { .. }
            | Command::Queue { .. }
            | Command::Execute { .. }
            | Command::Cancel { .. }
            | Command::Veto { .. }
            | Command::GuardianPause { .. } => self.governance_command(command),
        }
    }

    /// The venue configuration.
    #[must_use]
    pub fn config(&self) -> &VenueConfig {
        &self.config
    }

    /// The current state (read only).
    #[must_use]
    pub fn state(&self) -> &State {
        &self.state
    }

    /// An account by id.
    #[must_use]
    pub fn account(&self, account: AccountId) -> Option<&Account> {
        self.state.accounts.get(&account)
    }

    // ----- helpers shared by the handlers -----

    /// A copy of an account to work on, or [`Rejection::UnknownAccount`].
    pub(crate) fn load_account(&self, account: AccountId) -> Result<Account, Rejection> {
        self.state.accounts.get(&account).cloned().ok_or(Rejection::UnknownAccount { account })
    }

    /// Checks that an asset id exists.
    pub(crate) fn check_asset(&self, asset: AssetId) -> Result<(), Rejection> {
        if asset.index() < self.config.assets.len() {
            Ok(())
        } else {
            Err(Rejection::UnknownAsset { asset })
        }
    }

    /// Checks that a perpetual market id exists.
    pub(crate) fn check_perp(&self, market: PerpMarketId) -> Result<(), Rejection> {
        if market.index() < self.config.perps.len() {
            Ok(())
        } else {
            Err(Rejection::UnknownPerpMarket { market })
        }
    }

    /// Checks that an amount from outside is positive and no finer than the asset's decimals.
    pub(crate) fn check_amount(
        &self,
        asset: AssetId,
        amount: Amount,
        field: &'static str,
    ) -> Result<(), Rejection> {
        self.check_asset(asset)?;
        if !amount.is_positive() {
            return Err(Rejection::NotPositive { field });
        }
        let decimals = self.config.assets.get(asset.index()).map_or(18, |config| config.decimals);
        let unit = 10_i128.pow(backstop_money::SCALE_DECIMALS.saturating_sub(decimals));
        if amount.raw().checked_rem(unit) != Some(0) {
            return Err(Rejection::TooPrecise { asset, decimals });
        }
        Ok(())
    }

    /// Writes an account back, keeping totals, the liquidation index and the hash cache in step.
    pub(crate) fn commit_account(&mut self, id: AccountId, mut account: Account) {
        if let Some(token) = self.governance_token() {
            let balance = |account: Option<&Account>| {
                account.and_then(|a| a.holdings.get(token.index())).map_or(0, |h| h.balance.raw())
            };
            let (before, after) = (balance(self.state.accounts.get(&id)), balance(Some(&account)));
            self.governance_on_commit(id, before, after);
        }
        account.index_entry = self.index.entry_for(&self.tables, &account);
        debug_assert!(account.holdings.iter().all(|holding| !holding.balance.is_negative()));
        debug_assert!(account.holdings.iter().all(|holding| !holding.debt_shares.is_negative()));
        debug_assert!(account.holdings.iter().all(|holding| !holding.supply_shares.is_negative()));
        self.state.put_account(id, account, &mut self.index);
        self.hash_cache.mark_dirty(id);
    }

    /// Puts a new configuration in force (governance) and rebuilds its tables; the one it
    /// replaces is recorded so a rejected command restores it.
    pub(crate) fn install_config(&mut self, venue: VenueConfig) {
        self.state.record_config(&self.config, &self.tables);
        self.tables = Tables::new(&venue);
        self.config.replace(venue);
    }

    /// The lending market of an asset, or [`Rejection::UnknownLendingMarket`].
    pub(crate) fn lending_market(&self, asset: AssetId) -> Result<&LendingMarket, Rejection> {
        self.check_asset(asset)?;
        self.state
            .lending
            .get(asset.index())
            .and_then(Option::as_ref)
            .ok_or(Rejection::UnknownLendingMarket { asset })
    }

    /// Writes a lending market back.
    pub(crate) fn commit_lending(&mut self, asset: AssetId, market: LendingMarket) {
        if let Some(slot) = self.state.lending_mut(asset.index()) {
            *slot = Some(market);
        }
    }

    /// Adds to (or, negative, takes from) the venue's fee ledger of an asset.
    pub(crate) fn fees_after(&self, asset: AssetId, delta: Amount) -> Result<Amount, Rejection> {
        let current = self.state.fees.get(asset.index()).copied().unwrap_or_default();
        current.checked_add(delta).map_err(Rejection::from_money("fees"))
    }
}

/// Adds (sign 1) or removes (sign −1) an account's holdings from the running totals.
pub(crate) fn add_account_to_totals(totals: &mut Totals, account: &Account, sign: i128) {
    for (index, holding) in account.holdings.iter().enumerate() {
        wrapping_add_at(&mut totals.balances, index, holding.balance.raw(), sign);
        wrapping_add_at(&mut totals.supply_shares, index, holding.supply_shares.raw(), sign);
        wrapping_add_at(&mut totals.debt_shares, index, holding.debt_shares.raw(), sign);
    }
    for (index, position) in account.positions.iter().enumerate() {
        wrapping_add_at(&mut totals.perp_base, index, position.base.raw(), sign);
        wrapping_add_at(&mut totals.perp_quote, index, position.quote.raw(), sign);
        wrapping_add_at(&mut totals.perp_long, index, position.base.raw().max(0), sign);
    }
}

/// Wrapping add of `value × sign` into a slot: totals are compared modulo 2^128.
fn wrapping_add_at(slots: &mut [i128], index: usize, value: i128, sign: i128) {
    if let Some(slot) = slots.get_mut(index) {
        *slot = slot.wrapping_add(value.wrapping_mul(sign));
    }
}

#[cfg(feature = "fault-injection")]
impl Engine {
    /// Test hook: raises the first asset's fee ledger by one raw unit behind the engine's back,
    /// which breaks I1 (conservation); the next command halts the engine.
    #[doc(hidden)]
    pub fn inject_conservation_fault(&mut self) {
        if let Some(fee) = self.state.unrecorded().fees.first_mut() {
            *fee = fee.checked_add(Amount::from_raw(1)).expect("one raw unit more fits");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Engine, InvariantChecks};
    use crate::command::{AccountKind, Command};
    use crate::config::VenueConfig;
    use crate::ids::{AccountId, AssetId};
    use crate::rejection::Rejection;
    use backstop_money::{Amount, Price, SCALE};

    /// The example venue with an open account 1, and the USDC fee ledger then raised by one
    /// raw unit behind the engine's back, which breaks I1 (conservation) for asset 0.
    fn corrupted_engine() -> Engine {
        let config = VenueConfig::from_toml_str(include_str!("../../../examples/venue.toml"))
            .expect("the example venue parses");
        let mut engine = Engine::new(config).expect("the example venue validates");
        let open = Command::OpenAccount { account: AccountId(1), kind: AccountKind::Regular };
        assert!(engine.apply(&open).is_ok());
        engine.state.unrecorded().fees[0] = Amount::from_raw(1);
        engine
    }

    fn halted_code(result: &Result<Vec<crate::event::Event>, Rejection>) -> Option<u16> {
        result.as_ref().err().map(Rejection::code)
    }

    #[test]
    fn a_rejected_command_is_still_followed_by_the_check() {
        let mut engine = corrupted_engine();
        // Account 9 does not exist: dispatch returns early with code 1, the check still runs.
        let withdraw =
            Command::Withdraw { account: AccountId(9), asset: AssetId(0), amount: Amount::ONE };
        assert_eq!(halted_code(&engine.apply(&withdraw)), Some(130));
        assert_eq!(engine.halted().map(|violation| violation.invariant), Some(1));
    }

    #[test]
    fn an_accepted_command_on_a_broken_state_halts_and_later_commands_are_refused() {
        let mut engine = corrupted_engine();
        let price = Command::SetPrice { asset: AssetId(0), price: Price::from_raw(SCALE) };
        assert_eq!(halted_code(&engine.apply(&price)), Some(130));
        // Halted: even a command that would succeed is refused, and the state no longer moves.
        let now = engine.state.now;
        assert_eq!(halted_code(&engine.apply(&Command::AdvanceTime { now: now + 1 })), Some(130));
        assert_eq!(engine.state.now, now);
    }

    #[test]
    fn deferred_checks_run_when_the_caller_verifies() {
        let mut engine = corrupted_engine();
        engine.set_invariant_checks(InvariantChecks::Deferred);
        let price = Command::SetPrice { asset: AssetId(0), price: Price::from_raw(SCALE) };
        assert!(engine.apply(&price).is_ok());
        assert_eq!(engine.verify_invariants().map_err(|rejection| rejection.code()), Err(130));
        assert_eq!(halted_code(&engine.apply(&price)), Some(130));
    }
}
