//! Governance: a token that votes, proposals whose actions change the venue and its safety net,
//! a timelock, and a guardian that may only pause and veto.
//!
//! Voting power is the governance-token balance (`holding.balance`) of every account that
//! delegates to the voter (an account that never delegated counts for itself). Power is
//! snapshotted at proposal creation through per-delegate checkpoints keyed by the engine's
//! command sequence number, so tokens moved after a proposal was created cannot vote on it twice.
//! No division happens here apart from the quorum and approval thresholds, which round up (in
//! favour of the venue: a proposal needs at least the exact fraction).

use crate::command::Command;
use crate::config::{ConfigError, VenueConfig};
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId};
use crate::rejection::Rejection;
use backstop_money::{Amount, Ratio, Rounding};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// `[governance]`: the token, roles, thresholds, periods and parameter bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceConfig {
    /// Asset symbol of the governance token.
    pub token: String,
    /// The guardian account: may pause assets and veto queued proposals, never move funds.
    pub guardian: AccountId,
    /// Fraction of the token supply held in accounts at the snapshot that must vote (for and
    /// against together) for a proposal to pass.
    pub quorum: Ratio,
    /// Fraction of votes cast that must be in favour.
    pub approval: Ratio,
    /// Voting period after creation (s).
    pub voting_secs: u64,
    /// Delay between queueing and the earliest execution (s).
    pub timelock_secs: u64,
    /// Window after the timelock in which a queued proposal may be executed (s).
    pub expiry_secs: u64,
    /// Voting power needed to propose (tokens).
    #[serde(default)]
    pub proposal_threshold: Amount,
    /// Parameters governance may set, with their bounds.
    #[serde(rename = "parameter", default)]
    pub parameters: Vec<ParameterBound>,
}

/// `[[governance.parameter]]`: a settable parameter and its inclusive bounds (exact decimals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterBound {
    /// Path: `lending.<ASSET>.<collateral_factor|liquidation_threshold|liquidation_bonus|
    /// close_factor|reserve_factor>`, `fund.<name>.floor`, `staker_pool.<name>.slash_cap`.
    pub path: String,
    /// Smallest value allowed.
    pub min: String,
    /// Largest value allowed.
    pub max: String,
}

/// One action of a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Sets a declared parameter (within its bounds).
    SetParameter {
        /// Parameter path.
        path: String,
        /// New value (same fixed-point scale for amounts and ratios).
        value: Amount,
    },
    /// Pauses an asset (as the oracle breaker does).
    PauseMarket {
        /// Asset.
        asset: AssetId,
    },
    /// Clears an asset's pause.
    UnpauseMarket {
        /// Asset.
        asset: AssetId,
    },
    /// Moves tokens between two funds/offsets of the same asset.
    ReallocateFunds {
        /// Source layer (`fund:x` or `offset:x`).
        from: String,
        /// Destination layer.
        to: String,
        /// Amount moved.
        amount: Amount,
    },
    /// Appends a layer to a market's waterfall.
    ActivateLayer {
        /// Market (lending asset symbol or perp name).
        market: String,
        /// Layer text (`fund:insurance`).
        layer: String,
    },
    /// Removes a layer from a market's waterfall.
    DeactivateLayer {
        /// Market.
        market: String,
        /// Layer text.
        layer: String,
    },
    /// Approves a recapitalisation auction.
    ApproveRecap {
        /// Recap auction id.
        auction: u64,
    },
    /// Pays an incident's approved claims through the claims module's pay path (`PayClaims`;
    /// the direct command stays permissionless, see docs/governance.md).
    PayClaims {
        /// Incident id.
        incident: u64,
    },
    /// Assesses a claim by governance vote (instead of an assessor); must execute before the
    /// incident's assessment deadline.
    AssessClaim {
        /// Claim id.
        claim: u64,
        /// Approve (true) or reject (false).
        approve: bool,
        /// Amount approved (ignored when rejecting).
        approved_amount: Amount,
    },
    /// Declares an incident by governance vote (instead of a declarer): the claims module's
    /// declaration rules, with the proposer named as declarer.
    DeclareIncident {
        /// Market (lending asset symbol or perp name).
        market: String,
        /// Start of the loss window (`loss_start ≤ loss_end ≤` execution time).
        loss_start: u64,
        /// End of the loss window.
        loss_end: u64,
    },
    /// Opens recapitalisation auctions (mints the `[recap]` token) for a market's whole
    /// uncovered deficit, even when its waterfall has no `recap` layer.
    MintAndAuction {
        /// Market (lending asset symbol or perp name).
        market: String,
    },
    /// Adds a `[[cover]]` entry and inserts `cover:<name>` into a market's waterfall.
    AddCover {
        /// Unique cover name.
        name: String,
        /// Asset of the cover.
        asset: String,
        /// Most the cover pays over its term.
        limit: Amount,
        /// Attachment point.
        attachment: Amount,
        /// Premium per year as a fraction of the limit.
        premium_rate: Ratio,
        /// Market whose waterfall gets the cover.
        market: String,
        /// Index in the waterfall at which `cover:<name>` is inserted (0 = first; at most the
        /// number of layers).
        position: u64,
    },
}

impl Action {
    /// Whether the action works on the engine state directly (claims, recap auctions) rather
    /// than on copies of the configuration and safety net.
    fn works_on_engine(&self) -> bool {
        matches!(
            self,
            Action::PayClaims { .. }
                | Action::AssessClaim { .. }
                | Action::DeclareIncident { .. }
                | Action::MintAndAuction { .. }
        )
    }
}

/// Where a proposal is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Created; voting until `created_at + voting_secs`.
    Active,
    /// Passed and queued; executable in `[eta, eta + expiry_secs)`.
    Queued,
    /// Executed.
    Executed,
    /// Cancelled by the proposer.
    Cancelled,
    /// Vetoed by the guardian.
    Vetoed,
}

/// One proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Proposer.
    pub proposer: AccountId,
    /// Actions, applied in order on execution.
    pub actions: Vec<Action>,
    /// Command sequence number of the `Propose` (power is read before it).
    pub snapshot: u64,
    /// Creation time (s).
    pub created_at: u64,
    /// Token supply held in accounts at the snapshot.
    pub supply: Amount,
    /// Power voted for.
    pub votes_for: Amount,
    /// Power voted against.
    pub votes_against: Amount,
    /// Accounts that voted.
    pub voters: BTreeSet<AccountId>,
    /// Status.
    pub status: ProposalStatus,
    /// Earliest execution time once queued (s).
    pub eta: u64,
}

/// Governance state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceState {
    /// Number of commands applied so far (the sequence number of the next command).
    pub sequence: u64,
    /// Delegations (absent: the account counts for itself).
    pub delegates: BTreeMap<AccountId, AccountId>,
    /// Current voting power per delegate.
    pub power: BTreeMap<AccountId, Amount>,
    /// Per delegate: (sequence of the command that changed its power, power after it).
    pub checkpoints: BTreeMap<AccountId, Vec<(u64, Amount)>>,
    /// Proposals by id.
    pub proposals: BTreeMap<u64, Proposal>,
    /// Id of the next proposal.
    pub next_proposal: u64,
}

impl GovernanceState {
    /// Power of a delegate after all commands with a sequence number below `snapshot`.
    #[must_use]
    pub fn power_at(&self, account: AccountId, snapshot: u64) -> Amount {
        let Some(points) = self.checkpoints.get(&account) else { return Amount::ZERO };
        let index = points.partition_point(|(sequence, _)| *sequence < snapshot);
        index.checked_sub(1).and_then(|last| points.get(last)).map_or(Amount::ZERO, |p| p.1)
    }

    /// The delegate of an account.
    #[must_use]
    pub fn delegate_of(&self, account: AccountId) -> AccountId {
        self.delegates.get(&account).copied().unwrap_or(account)
    }

    /// Adds `delta` to a delegate's power and records a checkpoint at `sequence`.
    fn add_power(&mut self, delegate: AccountId, delta: i128, sequence: u64) {
        let slot = self.power.entry(delegate).or_insert(Amount::ZERO);
        *slot = Amount::from_raw(slot.raw().wrapping_add(delta));
        let value = *slot;
        let points = self.checkpoints.entry(delegate).or_default();
        match points.last_mut() {
            Some(last) if last.0 == sequence => last.1 = value,
            _ => points.push((sequence, value)),
        }
    }
}

fn config_error(field: &str, message: &str) -> ConfigError {
    ConfigError { field: field.to_owned(), line: None, message: message.to_owned() }
}

/// Parses an exact decimal into the fixed-point scale.
fn parse_decimal(text: &str) -> Option<Amount> {
    text.parse::<Amount>().ok()
}

impl GovernanceConfig {
    /// Checks the token, thresholds, periods and every parameter bound.
    ///
    /// # Errors
    /// The first problem, with its field path.
    pub fn validate(&self, venue: &VenueConfig) -> Result<(), ConfigError> {
        if venue.asset_id(&self.token).is_none() {
            return Err(config_error("governance.token", "unknown asset"));
        }
        for (field, value) in [("governance.quorum", self.quorum), ("approval", self.approval)] {
            if value < Ratio::ZERO || value > Ratio::ONE {
                return Err(config_error(field, "must be between 0 and 1"));
            }
        }
        if self.approval.is_zero() {
            return Err(config_error("governance.approval", "must be above 0"));
        }
        if self.voting_secs == 0 || self.expiry_secs == 0 {
            return Err(config_error("governance.voting_secs", "periods must be at least 1 s"));
        }
        if self.proposal_threshold.is_negative() {
            return Err(config_error("governance.proposal_threshold", "must not be negative"));
        }
        for (index, bound) in self.parameters.iter().enumerate() {
            let field = format!("governance.parameter[{index}]");
            let (Some(min), Some(max)) = (parse_decimal(&bound.min), parse_decimal(&bound.max))
            else {
                return Err(config_error(&field, "min and max must be exact decimals"));
            };
            if min > max {
                return Err(config_error(&field, "min is above max"));
            }
            let mut probe = venue.clone();
            if set_parameter(&mut probe, &bound.path, min).is_none() {
                return Err(config_error(&field, &format!("unknown path {:?}", bound.path)));
            }
        }
        Ok(())
    }
}

/// Writes a parameter into a configuration; `None` when the path names nothing settable.
fn set_parameter(config: &mut VenueConfig, path: &str, value: Amount) -> Option<()> {
    let mut parts = path.split('.');
    let (kind, name, field) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let ratio = Ratio::from_raw(value.raw());
    match kind {
        "lending" => {
            let market = config.lending.iter_mut().find(|market| market.asset == name)?;
            let slot = match field {
                "collateral_factor" => &mut market.collateral_factor,
                "liquidation_threshold" => &mut market.liquidation_threshold,
                "liquidation_bonus" => &mut market.liquidation_bonus,
                "close_factor" => &mut market.close_factor,
                "reserve_factor" => &mut market.reserve_factor,
                _ => return None,
            };
            *slot = ratio;
        }
        "fund" if field == "floor" => {
            config.funds.iter_mut().find(|fund| fund.name == name)?.floor = value;
        }
        "staker_pool" if field == "slash_cap" => {
            config.staker_pools.iter_mut().find(|pool| pool.name == name)?.slash_cap = ratio;
        }
        _ => return None,
    }
    Some(())
}

fn invalid(reason: String) -> Rejection {
    Rejection::InvalidAction { reason }
}

impl Engine {
    fn governance_config(&self) -> Result<(GovernanceConfig, AssetId), Rejection> {
        let config = self.config.governance.clone().ok_or(Rejection::GovernanceNotConfigured)?;
        let token =
            self.config.asset_id(&config.token).ok_or(Rejection::GovernanceNotConfigured)?;
        Ok((config, token))
    }

    /// Called by `commit_account`: moves voting power when a governance-token balance changes.
    pub(crate) fn governance_on_commit(&mut self, id: AccountId, before: i128, after: i128) {
        let Some(config) = self.config.governance.as_ref() else { return };
        let Some(token) = self.config.asset_id(&config.token) else { return };
        let _ = token;
        let delta = after.wrapping_sub(before);
        if delta == 0 {
            return;
        }
        let governance = self.state.governance_mut();
        let delegate = governance.delegate_of(id);
        let sequence = governance.sequence;
        governance.add_power(delegate, delta, sequence);
    }

    /// The governance token's asset, if governance is configured.
    pub(crate) fn governance_token(&self) -> Option<AssetId> {
        self.config.governance.as_ref().and_then(|config| self.config.asset_id(&config.token))
    }

    /// Dispatches the governance commands.
    pub(crate) fn governance_command(
        &mut self,
        command: &Command,
    ) -> Result<Vec<Event>, Rejection> {
        match command {
            Command::Transfer { from, to, asset, amount } => {
                self.transfer(*from, *to, *asset, *amount)
            }
            Command::Delegate { account, to } => self.delegate(*account, *to),
            Command::Propose { proposer, actions } => self.propose(*proposer, actions),
            Command::Vote { voter, proposal, support } => self.vote(*voter, *proposal, *support),
            Command::Queue { proposal } => self.queue(*proposal),
            Command::Execute { proposal } => self.execute(*proposal),
            Command::Cancel { proposer, proposal } => self.cancel(*proposer, *proposal),
            Command::Veto { guardian, proposal } => self.veto(*guardian, *proposal),
            Command::GuardianPause { guardian, asset } => self.guardian_pause(*guardian, *asset),
            _ => Err(Rejection::GovernanceNotConfigured),
        }
    }

    fn transfer(
        &mut self,
        from: AccountId,
        to: AccountId,
        asset: AssetId,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_amount(asset, amount, "amount")?;
        let mut source = self.load_account(from)?;
        let mut target = self.load_account(to)?;
        if from == to {
            return Err(invalid("transfer to the same account".to_owned()));
        }
        self.check_not_in_auction(from, &source)?;
        let holding = crate::venue::lending::holding_mut(&mut source, asset)?;
        holding.balance = crate::venue::lending::debit(from, asset, holding.balance, amount)?;
        // Tokens leave the account like a withdrawal: it must stay above its initial margin.
        self.require_initial_health(from, &source)?;
        let holding = crate::venue::lending::holding_mut(&mut target, asset)?;
        holding.balance =
            holding.balance.checked_add(amount).map_err(Rejection::from_money("transfer"))?;
        self.commit_account(from, source);
        self.commit_account(to, target);
        Ok(vec![Event::Transferred { from, to, asset, amount }])
    }

    fn delegate(&mut self, account: AccountId, to: AccountId) -> Result<Vec<Event>, Rejection> {
        let (_, token) = self.governance_config()?;
        let holder = self.load_account(account)?;
        self.load_account(to)?;
        let balance = holder.holdings.get(token.index()).map_or(0, |holding| holding.balance.raw());
        let governance = self.state.governance_mut();
        let old = governance.delegate_of(account);
        let sequence = governance.sequence;
        if old != to {
            governance.add_power(old, balance.wrapping_neg(), sequence);
            governance.add_power(to, balance, sequence);
        }
        if to == account {
            governance.delegates.remove(&account);
        } else {
            governance.delegates.insert(account, to);
        }
        Ok(vec![Event::Delegated { account, to }])
    }

    fn propose(
        &mut self,
        proposer: AccountId,
        actions: &[Action],
    ) -> Result<Vec<Event>, Rejection> {
        let (config, token) = self.governance_config()?;
        self.load_account(proposer)?;
        if actions.is_empty() {
            return Err(invalid("a proposal needs at least one action".to_owned()));
        }
        // Checks the actions now (bounds, names) so a proposal cannot carry an impossible action.
        for action in actions {
            self.check_action_static(&config, action)?;
        }
        let governance = &self.state.governance;
        let power = governance.power.get(&proposer).copied().unwrap_or(Amount::ZERO);
        if power < config.proposal_threshold {
            return Err(Rejection::NotEnoughPower {
                account: proposer,
                power,
                needed: config.proposal_threshold,
            });
        }
        let supply =
            Amount::from_raw(self.state.totals.balances.get(token.index()).copied().unwrap_or(0));
        let id = governance.next_proposal.max(1);
        let proposal = Proposal {
            proposer,
            actions: actions.to_vec(),
            snapshot: governance.sequence,
            created_at: self.state.now,
            supply,
            votes_for: Amount::ZERO,
            votes_against: Amount::ZERO,
            voters: BTreeSet::new(),
            status: ProposalStatus::Active,
            eta: 0,
        };
        let ends_at = self.state.now.saturating_add(config.voting_secs);
        let governance = self.state.governance_mut();
        governance.proposals.insert(id, proposal);
        governance.next_proposal = id.saturating_add(1);
        Ok(vec![Event::ProposalCreated { proposal: id, proposer, supply, ends_at }])
    }

    fn proposal(&self, id: u64) -> Result<Proposal, Rejection> {
        self.state
            .governance
            .proposals
            .get(&id)
            .cloned()
            .ok_or(Rejection::UnknownProposal { proposal: id })
    }

    fn vote(&mut self, voter: AccountId, id: u64, support: bool) -> Result<Vec<Event>, Rejection> {
        let (config, _) = self.governance_config()?;
        let mut proposal = self.proposal(id)?;
        let ends_at = proposal.created_at.saturating_add(config.voting_secs);
        if proposal.status != ProposalStatus::Active || self.state.now >= ends_at {
            return Err(Rejection::VotingClosed { proposal: id, ends_at });
        }
        if proposal.voters.contains(&voter) {
            return Err(Rejection::AlreadyVoted { proposal: id, voter });
        }
        let power = self.state.governance.power_at(voter, proposal.snapshot);
        if !power.is_positive() {
            return Err(Rejection::NotEnoughPower {
                account: voter,
                power,
                needed: Amount::from_raw(1),
            });
        }
        let overflow = Rejection::from_money("votes");
        let slot = if support { &mut proposal.votes_for } else { &mut proposal.votes_against };
        *slot = slot.checked_add(power).map_err(overflow)?;
        proposal.voters.insert(voter);
        self.state.governance_mut().proposals.insert(id, proposal);
        Ok(vec![Event::VoteCast { proposal: id, voter, support, power }])
    }

    fn queue(&mut self, id: u64) -> Result<Vec<Event>, Rejection> {
        let (config, _) = self.governance_config()?;
        let mut proposal = self.proposal(id)?;
        self.check_status(id, &proposal, ProposalStatus::Active)?;
        let ends_at = proposal.created_at.saturating_add(config.voting_secs);
        if self.state.now < ends_at {
            return Err(Rejection::VotingNotOver { proposal: id, ends_at });
        }
        let overflow = Rejection::from_money("quorum");
        let cast = proposal.votes_for.checked_add(proposal.votes_against).map_err(&overflow)?;
        // Thresholds round up: a proposal needs at least the exact fraction.
        let quorum = proposal.supply.mul_ratio(config.quorum, Rounding::Ceil).map_err(&overflow)?;
        if cast < quorum || cast.is_zero() {
            return Err(Rejection::QuorumNotMet { proposal: id, cast, quorum });
        }
        let needed = cast.mul_ratio(config.approval, Rounding::Ceil).map_err(&overflow)?;
        if proposal.votes_for < needed {
            return Err(Rejection::ApprovalNotMet {
                proposal: id,
                votes_for: proposal.votes_for,
                needed,
            });
        }
        proposal.status = ProposalStatus::Queued;
        proposal.eta = self.state.now.saturating_add(config.timelock_secs);
        let eta = proposal.eta;
        self.state.governance_mut().proposals.insert(id, proposal);
        Ok(vec![Event::ProposalQueued { proposal: id, eta }])
    }

    fn check_status(
        &self,
        id: u64,
        proposal: &Proposal,
        wanted: ProposalStatus,
    ) -> Result<(), Rejection> {
        match proposal.status {
            status if status == wanted => Ok(()),
            ProposalStatus::Executed => Err(Rejection::AlreadyExecuted { proposal: id }),
            status => {
                Err(Rejection::ProposalNotInState { proposal: id, status: format!("{status:?}") })
            }
        }
    }

    fn execute(&mut self, id: u64) -> Result<Vec<Event>, Rejection> {
        let (config, _) = self.governance_config()?;
        let mut proposal = self.proposal(id)?;
        self.check_status(id, &proposal, ProposalStatus::Queued)?;
        if self.state.now < proposal.eta {
            return Err(Rejection::TimelockNotOver { proposal: id, eta: proposal.eta });
        }
        let expires_at = proposal.eta.saturating_add(config.expiry_secs);
        if self.state.now >= expires_at {
            return Err(Rejection::ProposalExpired { proposal: id, expires_at });
        }
        if proposal.actions.iter().any(Action::works_on_engine) {
            // Actions that go through other modules' handlers write the engine as they go; if
            // any later action (or the final validation) fails, `apply` undoes the writes with
            // the rest of the command (crate::store), so the execution stays atomic.
            let mut events = self.execute_in_place(&config, id, &proposal)?;
            proposal.status = ProposalStatus::Executed;
            self.state.governance_mut().proposals.insert(id, proposal);
            events.push(Event::ProposalExecuted { proposal: id });
            return Ok(events);
        }
        // Atomic: every action is applied to copies, then everything is committed at once.
        let mut venue = (*self.config).clone();
        let mut net = self.state.net.clone();
        let mut events = Vec::new();
        for action in &proposal.actions {
            self.check_action_static(&config, action)?;
            self.apply_action(&mut venue, &mut net, action, &mut events)?;
        }
        venue
            .validate()
            .map_err(|error| invalid(format!("the new configuration is invalid: {error}")))?;
        proposal.status = ProposalStatus::Executed;
        self.state.governance_mut().proposals.insert(id, proposal);
        *self.state.net_mut() = net;
        if venue != *self.config {
            self.install_config(venue);
        }
        events.push(Event::ProposalExecuted { proposal: id });
        Ok(events)
    }

    /// Applies a proposal's actions one by one to the live engine (the caller restores a
    /// backup on error): configuration actions are applied to a copy that is installed (tables
    /// rebuilt) before the next action, engine actions call their module's handler.
    fn execute_in_place(
        &mut self,
        config: &GovernanceConfig,
        id: u64,
        proposal: &Proposal,
    ) -> Result<Vec<Event>, Rejection> {
        let _ = id;
        let mut events = Vec::new();
        for action in &proposal.actions {
            self.check_action_static(config, action)?;
            match action {
                Action::PayClaims { incident } => events.extend(self.pay_claims(*incident)?),
                Action::AssessClaim { claim, approve, approved_amount } => {
                    events.extend(self.assess_claim_by_governance(
                        proposal.proposer,
                        *claim,
                        *approve,
                        *approved_amount,
                    )?)
                }
                Action::DeclareIncident { market, loss_start, loss_end } => {
                    let market_ref = self
                        .config
                        .market_ref(market)
                        .ok_or_else(|| invalid(format!("unknown market {market:?}")))?;
                    events.extend(self.declare_incident_by_governance(
                        proposal.proposer,
                        market_ref,
                        *loss_start,
                        *loss_end,
                    )?);
                }
                Action::MintAndAuction { market } => {
                    events.extend(self.mint_and_auction(market)?);
                }
                _ => {
                    let mut venue = (*self.config).clone();
                    let mut net = self.state.net.clone();
                    self.apply_action(&mut venue, &mut net, action, &mut events)?;
                    *self.state.net_mut() = net;
                    if venue != *self.config {
                        self.install_config(venue);
                    }
                }
            }
        }
        self.config
            .validate()
            .map_err(|error| invalid(format!("the new configuration is invalid: {error}")))?;
        Ok(events)
    }

    /// `MintAndAuction`: opens recapitalisation auctions for the market's whole uncovered
    /// deficit through the recap module (which cuts it into auctions of `[recap] bid`).
    fn mint_and_auction(&mut self, market: &str) -> Result<Vec<Event>, Rejection> {
        if self.config.recap.is_none() {
            return Err(Rejection::RecapNotConfigured);
        }
        let market_ref = self
            .config
            .market_ref(market)
            .ok_or_else(|| invalid(format!("unknown market {market:?}")))?;
        let deficit = self.deficit_of(market_ref);
        if !deficit.is_positive() {
            return Err(invalid(format!("{market} has no uncovered deficit")));
        }
        // The auctions sit after the market's last layer: nothing is walked after them.
        let position = self.tables.waterfalls.get(&market_ref).map_or(0, Vec::len);
        let mut events = Vec::new();
        self.open_recap_auction(market_ref, deficit, position, &mut events)?;
        if events.is_empty() {
            return Err(invalid(format!(
                "no recapitalisation auction could be opened for {market} (mint cap)"
            )));
        }
        Ok(events)
    }

    /// Checks what can be checked of an action without the state: bounds and names.
    fn check_action_static(
        &self,
        config: &GovernanceConfig,
        action: &Action,
    ) -> Result<(), Rejection> {
        match action {
            Action::SetParameter { path, value } => {
                let bound = config
                    .parameters
                    .iter()
                    .find(|bound| &bound.path == path)
                    .ok_or_else(|| invalid(format!("parameter {path:?} is not declared")))?;
                let min = parse_decimal(&bound.min).unwrap_or(Amount::ZERO);
                let max = parse_decimal(&bound.max).unwrap_or(Amount::ZERO);
                if *value < min || *value > max {
                    return Err(Rejection::OutOfBounds { path: path.clone(), value: *value });
                }
                Ok(())
            }
            Action::PauseMarket { asset } | Action::UnpauseMarket { asset } => {
                self.check_asset(*asset)
            }
            Action::ReallocateFunds { from, to, amount } => {
                let (from_asset, _) = self.fund_slot(from)?;
                let (to_asset, _) = self.fund_slot(to)?;
                if from_asset != to_asset || from == to {
                    return Err(invalid(format!(
                        "{from} and {to} must be two layers of one asset"
                    )));
                }
                if !amount.is_positive() {
                    return Err(Rejection::NotPositive { field: "amount" });
                }
                Ok(())
            }
            Action::ActivateLayer { market, layer } | Action::DeactivateLayer { market, layer } => {
                if self.config.market_ref(market).is_none() {
                    return Err(invalid(format!("unknown market {market:?}")));
                }
                crate::backstop::layers::LayerRef::parse(layer)
                    .map_err(|_| Rejection::UnknownLayer { layer: layer.clone() })?;
                Ok(())
            }
            Action::ApproveRecap { .. } | Action::PayClaims { .. } => Ok(()),
            Action::AssessClaim { approved_amount, .. } => {
                if approved_amount.is_negative() {
                    return Err(Rejection::NotPositive { field: "approved_amount" });
                }
                Ok(())
            }
            Action::DeclareIncident { market, loss_start, loss_end } => {
                if self.config.claims.is_none() {
                    return Err(Rejection::ClaimsNotConfigured);
                }
                if self.config.market_ref(market).is_none() {
                    return Err(invalid(format!("unknown market {market:?}")));
                }
                if loss_start > loss_end {
                    return Err(Rejection::BadLossWindow {
                        loss_start: *loss_start,
                        loss_end: *loss_end,
                        now: self.state.now,
                    });
                }
                Ok(())
            }
            Action::MintAndAuction { market } => {
                if self.config.recap.is_none() {
                    return Err(Rejection::RecapNotConfigured);
                }
                if self.config.market_ref(market).is_none() {
                    return Err(invalid(format!("unknown market {market:?}")));
                }
                Ok(())
            }
            Action::AddCover { name, asset, market, .. } => {
                if self.config.market_ref(market).is_none() {
                    return Err(invalid(format!("unknown market {market:?}")));
                }
                if self.config.asset_id(asset).is_none() {
                    return Err(invalid(format!("unknown asset {asset:?}")));
                }
                if name.is_empty() {
                    return Err(invalid("a cover needs a name".to_owned()));
                }
                Ok(())
            }
        }
    }

    /// A fund or offset: its asset and (is_fund, index).
    fn fund_slot(&self, layer: &str) -> Result<(String, (bool, usize)), Rejection> {
        let unknown = || Rejection::UnknownLayer { layer: layer.to_owned() };
        match crate::backstop::layers::LayerRef::parse(layer).map_err(|_| unknown())? {
            crate::backstop::layers::LayerRef::Fund(name) => {
                let index = self
                    .config
                    .funds
                    .iter()
                    .position(|fund| fund.name == name)
                    .ok_or_else(unknown)?;
                let asset = self
                    .config
                    .funds
                    .get(index)
                    .map(|fund| fund.asset.clone())
                    .ok_or_else(unknown)?;
                Ok((asset, (true, index)))
            }
            crate::backstop::layers::LayerRef::Offset(name) => {
                let index = self
                    .config
                    .offsets
                    .iter()
                    .position(|offset| offset.name == name)
                    .ok_or_else(unknown)?;
                let asset = self
                    .config
                    .offsets
                    .get(index)
                    .map(|offset| offset.asset.clone())
                    .ok_or_else(unknown)?;
                Ok((asset, (false, index)))
            }
            _ => Err(unknown()),
        }
    }

    fn apply_action(
        &self,
        venue: &mut VenueConfig,
        net: &mut crate::backstop::net::SafetyNet,
        action: &Action,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        match action {
            Action::SetParameter { path, value } => {
                set_parameter(venue, path, *value)
                    .ok_or_else(|| invalid(format!("parameter {path:?} is not settable")))?;
                events.push(Event::ParameterSet { path: path.clone(), value: *value });
            }
            Action::PauseMarket { asset } => {
                let slot = net
                    .paused
                    .get_mut(asset.index())
                    .ok_or(Rejection::UnknownAsset { asset: *asset })?;
                *slot = true;
                events.push(Event::GovernancePaused { asset: *asset });
            }
            Action::UnpauseMarket { asset } => {
                let slot = net
                    .paused
                    .get_mut(asset.index())
                    .ok_or(Rejection::UnknownAsset { asset: *asset })?;
                if !*slot {
                    return Err(Rejection::AssetNotPaused { asset: *asset });
                }
                *slot = false;
                events.push(Event::AssetUnpaused { asset: *asset });
            }
            Action::ReallocateFunds { from, to, amount } => {
                let (_, source) = self.fund_slot(from)?;
                let (_, target) = self.fund_slot(to)?;
                let overflow = Rejection::from_money("reallocation");
                let take = |net: &mut crate::backstop::net::SafetyNet,
                            (is_fund, index): (bool, usize),
                            delta: Amount|
                 -> Result<(), Rejection> {
                    let slot = if is_fund {
                        net.funds.get_mut(index).map(|fund| &mut fund.balance)
                    } else {
                        net.offsets.get_mut(index)
                    }
                    .expect("layer indices come from the validated config");
                    let after = slot.checked_add(delta).map_err(&overflow)?;
                    if after.is_negative() {
                        return Err(invalid(format!("{from} holds only {slot}")));
                    }
                    *slot = after;
                    Ok(())
                };
                take(net, source, amount.checked_neg().map_err(&overflow)?)?;
                take(net, target, *amount)?;
                events.push(Event::FundsReallocated {
                    from: from.clone(),
                    to: to.clone(),
                    amount: *amount,
                });
            }
            Action::ActivateLayer { market, layer } => {
                let entry =
                    venue.waterfalls.iter_mut().find(|waterfall| &waterfall.market == market);
                match entry {
                    Some(waterfall) => {
                        if waterfall.layers.contains(layer) {
                            return Err(invalid(format!(
                                "{layer} is already in {market}'s waterfall"
                            )));
                        }
                        waterfall.layers.push(layer.clone());
                    }
                    None => venue.waterfalls.push(crate::backstop::layers::WaterfallConfig {
                        market: market.clone(),
                        layers: vec![layer.clone()],
                    }),
                }
                events.push(Event::LayerActivated { market: market.clone(), layer: layer.clone() });
            }
            Action::DeactivateLayer { market, layer } => {
                let waterfall = venue
                    .waterfalls
                    .iter_mut()
                    .find(|waterfall| &waterfall.market == market)
                    .ok_or_else(|| invalid(format!("{market} has no waterfall")))?;
                let before = waterfall.layers.len();
                waterfall.layers.retain(|candidate| candidate != layer);
                if waterfall.layers.len() == before {
                    return Err(invalid(format!("{layer} is not in {market}'s waterfall")));
                }
                events
                    .push(Event::LayerDeactivated { market: market.clone(), layer: layer.clone() });
            }
            Action::ApproveRecap { auction } => {
                let state = net
                    .recap_auctions
                    .get_mut(auction)
                    .ok_or(Rejection::UnknownRecapAuction { auction: *auction })?;
                if state.approved {
                    return Err(Rejection::RecapApproval { auction: *auction, approved: true });
                }
                state.approved = true;
                events.push(Event::RecapApproved { auction: *auction });
            }
            Action::AddCover { name, asset, limit, attachment, premium_rate, market, position } => {
                if venue.covers.iter().any(|cover| &cover.name == name) {
                    return Err(invalid(format!("cover {name:?} already exists")));
                }
                let layer = format!("cover:{name}");
                let index = usize::try_from(*position)
                    .map_err(|_| Rejection::Overflow { context: "waterfall position" })?;
                match venue.waterfalls.iter_mut().find(|waterfall| &waterfall.market == market) {
                    Some(waterfall) => {
                        if index > waterfall.layers.len() {
                            return Err(invalid(format!(
                                "position {position} is past the end of {market}'s waterfall \
                                 ({} layers)",
                                waterfall.layers.len()
                            )));
                        }
                        waterfall.layers.insert(index, layer.clone());
                    }
                    None if index == 0 => {
                        venue.waterfalls.push(crate::backstop::layers::WaterfallConfig {
                            market: market.clone(),
                            layers: vec![layer.clone()],
                        });
                    }
                    None => {
                        return Err(invalid(format!(
                            "{market} has no waterfall: position must be 0"
                        )));
                    }
                }
                venue.covers.push(crate::backstop::layers::CoverConfig {
                    name: name.clone(),
                    asset: asset.clone(),
                    limit: *limit,
                    attachment: *attachment,
                    premium_rate: *premium_rate,
                });
                // The new cover's state slot (never bought: term_end 0).
                net.covers.push(crate::backstop::net::CoverState::default());
                events.push(Event::LayerActivated { market: market.clone(), layer });
            }
            Action::PayClaims { .. }
            | Action::AssessClaim { .. }
            | Action::DeclareIncident { .. }
            | Action::MintAndAuction { .. } => {
                return Err(invalid("this action runs on the engine, not on a copy".to_owned()));
            }
        }
        Ok(())
    }

    fn cancel(&mut self, proposer: AccountId, id: u64) -> Result<Vec<Event>, Rejection> {
        self.governance_config()?;
        let mut proposal = self.proposal(id)?;
        if proposal.proposer != proposer {
            return Err(Rejection::NotProposer { proposal: id, account: proposer });
        }
        if !matches!(proposal.status, ProposalStatus::Active | ProposalStatus::Queued) {
            self.check_status(id, &proposal, ProposalStatus::Active)?;
        }
        proposal.status = ProposalStatus::Cancelled;
        self.state.governance_mut().proposals.insert(id, proposal);
        Ok(vec![Event::ProposalCancelled { proposal: id }])
    }

    fn check_guardian(&self, guardian: AccountId) -> Result<(), Rejection> {
        let (config, _) = self.governance_config()?;
        if config.guardian != guardian {
            return Err(Rejection::NotGuardian { account: guardian });
        }
        Ok(())
    }

    fn veto(&mut self, guardian: AccountId, id: u64) -> Result<Vec<Event>, Rejection> {
        self.check_guardian(guardian)?;
        let mut proposal = self.proposal(id)?;
        self.check_status(id, &proposal, ProposalStatus::Queued)?;
        proposal.status = ProposalStatus::Vetoed;
        self.state.governance_mut().proposals.insert(id, proposal);
        Ok(vec![Event::ProposalVetoed { proposal: id }])
    }

    fn guardian_pause(
        &mut self,
        guardian: AccountId,
        asset: AssetId,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_guardian(guardian)?;
        self.check_asset(asset)?;
        if self.is_paused(asset) {
            return Err(invalid("the asset is already paused".to_owned()));
        }
        if let Some(slot) = self.state.net_mut().paused.get_mut(asset.index()) {
            *slot = true;
        }
        Ok(vec![Event::GovernancePaused { asset }])
    }

    /// Invariant: the votes of each proposal are at most the supply at its snapshot, and the
    /// current power of all delegates sums to the token supply held in accounts.
    pub(crate) fn check_governance(&self) -> Result<(), String> {
        let Some(token) = self.governance_token() else { return Ok(()) };
        let governance = &self.state.governance;
        for (id, proposal) in &governance.proposals {
            let cast = proposal.votes_for.raw().checked_add(proposal.votes_against.raw());
            if cast.is_none_or(|cast| cast > proposal.supply.raw()) {
                return Err(format!("proposal {id}: votes exceed the supply at its snapshot"));
            }
        }
        let total =
            governance.power.values().fold(0_i128, |sum, power| sum.wrapping_add(power.raw()));
        let supply = self.state.totals.balances.get(token.index()).copied().unwrap_or(0);
        if total != supply {
            return Err(format!("delegated power {total} differs from the token supply {supply}"));
        }
        Ok(())
    }
}

/// Feeds every field of the governance state into the state hash. A default (never used) state
/// adds nothing, so venues without governance keep their hashes.
pub(crate) fn hash_governance(hasher: &mut sha2::Sha256, state: &GovernanceState) {
    use sha2::Digest;
    if *state == GovernanceState::default() {
        return;
    }
    let count = |hasher: &mut sha2::Sha256, length: usize| {
        hasher.update(u64::try_from(length).unwrap_or(u64::MAX).to_le_bytes());
    };
    hasher.update(b"governance");
    hasher.update(state.sequence.to_le_bytes());
    hasher.update(state.next_proposal.to_le_bytes());
    count(hasher, state.delegates.len());
    for (account, delegate) in &state.delegates {
        hasher.update(account.0.to_le_bytes());
        hasher.update(delegate.0.to_le_bytes());
    }
    count(hasher, state.power.len());
    for (account, power) in &state.power {
        hasher.update(account.0.to_le_bytes());
        hasher.update(power.raw().to_le_bytes());
    }
    count(hasher, state.checkpoints.len());
    for (account, points) in &state.checkpoints {
        hasher.update(account.0.to_le_bytes());
        count(hasher, points.len());
        for (sequence, power) in points {
            hasher.update(sequence.to_le_bytes());
            hasher.update(power.raw().to_le_bytes());
        }
    }
    count(hasher, state.proposals.len());
    for (id, proposal) in &state.proposals {
        hasher.update(id.to_le_bytes());
        count(hasher, proposal.actions.len());
        for action in &proposal.actions {
            hash_action(hasher, action);
        }
        hasher.update(proposal.proposer.0.to_le_bytes());
        hasher.update(proposal.snapshot.to_le_bytes());
        hasher.update(proposal.created_at.to_le_bytes());
        hasher.update(proposal.eta.to_le_bytes());
        for value in [proposal.supply, proposal.votes_for, proposal.votes_against] {
            hasher.update(value.raw().to_le_bytes());
        }
        count(hasher, proposal.voters.len());
        for voter in &proposal.voters {
            hasher.update(voter.0.to_le_bytes());
        }
        hasher.update([proposal.status as u8]);
    }
}

fn hash_action(hasher: &mut sha2::Sha256, action: &Action) {
    use sha2::Digest;
    let text = |hasher: &mut sha2::Sha256, value: &str| {
        hasher.update(u64::try_from(value.len()).unwrap_or(u64::MAX).to_le_bytes());
        hasher.update(value.as_bytes());
    };
    match action {
        Action::SetParameter { path, value } => {
            hasher.update([0]);
            text(hasher, path);
            hasher.update(value.raw().to_le_bytes());
        }
        Action::PauseMarket { asset } => {
            hasher.update([1, asset.0.to_le_bytes()[0], asset.0.to_le_bytes()[1]])
        }
        Action::UnpauseMarket { asset } => {
            hasher.update([2, asset.0.to_le_bytes()[0], asset.0.to_le_bytes()[1]])
        }
        Action::ReallocateFunds { from, to, amount } => {
            hasher.update([3]);
            text(hasher, from);
            text(hasher, to);
            hasher.update(amount.raw().to_le_bytes());
        }
        Action::ActivateLayer { market, layer } | Action::DeactivateLayer { market, layer } => {
            hasher.update([if matches!(action, Action::ActivateLayer { .. }) { 4 } else { 5 }]);
            text(hasher, market);
            text(hasher, layer);
        }
        Action::ApproveRecap { auction } => {
            hasher.update([6]);
            hasher.update(auction.to_le_bytes());
        }
        Action::PayClaims { incident } => {
            hasher.update([7]);
            hasher.update(incident.to_le_bytes());
        }
        Action::AssessClaim { claim, approve, approved_amount } => {
            hasher.update([8]);
            hasher.update(claim.to_le_bytes());
            hasher.update([u8::from(*approve)]);
            hasher.update(approved_amount.raw().to_le_bytes());
        }
        Action::MintAndAuction { market } => {
            hasher.update([9]);
            text(hasher, market);
        }
        Action::AddCover { name, asset, limit, attachment, premium_rate, market, position } => {
            hasher.update([10]);
            text(hasher, name);
            text(hasher, asset);
            hasher.update(limit.raw().to_le_bytes());
            hasher.update(attachment.raw().to_le_bytes());
            hasher.update(premium_rate.raw().to_le_bytes());
            text(hasher, market);
            hasher.update(position.to_le_bytes());
        }
        Action::DeclareIncident { market, loss_start, loss_end } => {
            hasher.update([11]);
            text(hasher, market);
            hasher.update(loss_start.to_le_bytes());
            hasher.update(loss_end.to_le_bytes());
        }
    }
}
