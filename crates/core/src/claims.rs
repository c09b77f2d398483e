//! Exploit incidents and claims: after an exploit, an assessor declares an incident for a market
//! and a loss window; affected users file claims; assessors approve or reject them before a
//! deadline; approved claims are paid from the layers of `[claims] payout_order`; recoveries
//! (funds returned by the exploiter) flow back to the layers that paid, in reverse order, then to
//! claimants not yet made whole. The full description is in docs/claims.md.
//!
//! Rules and roundings:
//! - **Filing** within `filing_secs` of the declaration; the amount recorded is
//!   `min(amount, claim_cap)`.
//! - **Assessing** by an assessor, once per claim, before `assessment_end = filing_end +
//!   assessment_secs`; `approved_amount ≤ claimed`. A claim not assessed by then is not paid.
//! - **Paying** (`PayClaims`, once, at or after `assessment_end`): every layer's capacity is
//!   summed (a fund: `balance − floor`; a cover: `limit − paid − open cover claims`, only within
//!   its term; `recap` never pays: minting governance tokens to pay claimants is not modelled,
//!   the layer is skipped — see docs/claims.md; layers in another asset than the market's are
//!   skipped). `pool = min(capacity, Σ approved)`; each approved claim is granted
//!   `approved × pool / Σ approved` rounded **down**, then down again to the asset's smallest
//!   unit (the rounding dust stays in the layers, never paid out). The layers pay `Σ granted` in
//!   payout order, each as much as it can. A fund's tokens move to the claimants; a cover's
//!   tokens come from outside (net external deposits rise, as `SettleCoverClaim`).
//! - **Vesting**: with `vesting_secs = 0` a grant is credited at once; otherwise it is held and
//!   vests linearly: `vested = granted × min(elapsed, vesting_secs) / vesting_secs` rounded
//!   **down**; `ClaimVested` credits `vested − withdrawn`.
//! - **Recovering** (`RecoverIncident`, external inflow, after payment): back to the layers that
//!   paid, in reverse payout order, each up to what it paid and has not recovered (a cover's part
//!   leaves the venue to the guarantor and frees its limit); then to claims still short
//!   (`approved − granted − recovered`) pro rata to their shortfall, rounded **down** to the
//!   asset's unit, credited at once; what is left (dust, or more than everyone lost) goes to the
//!   venue's fees.

use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, MarketRef};
use crate::rejection::Rejection;
use crate::venue::lending::holding_mut;
use backstop_money::{Amount, Rounding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// `[claims]`: who assesses exploit claims, the deadlines, and who pays approved claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsConfig {
    /// Accounts that may declare incidents and assess claims (at least one).
    pub assessors: Vec<AccountId>,
    /// Seconds after the declaration during which claims may be filed (at least 1).
    pub filing_secs: u64,
    /// Seconds after filing closes during which claims may be assessed (at least 1).
    pub assessment_secs: u64,
    /// Largest amount one claim may ask for (positive).
    pub claim_cap: Amount,
    /// Layers paying approved claims, in order: `fund:<name>`, `cover:<name>`, `recap`.
    #[serde(default)]
    pub payout_order: Vec<String>,
    /// Vesting period of payouts in seconds (0: paid at once).
    #[serde(default)]
    pub vesting_secs: u64,
}

/// A layer of `payout_order`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutLayer {
    /// A fund by name.
    Fund(String),
    /// A cover by name.
    Cover(String),
    /// Recapitalisation by minting: accepted, never pays (see docs/claims.md).
    Recap,
}

impl PayoutLayer {
    /// Parses `fund:<name>`, `cover:<name>` or `recap`.
    #[must_use]
    pub fn parse(text: &str) -> Option<PayoutLayer> {
        if text == "recap" {
            return Some(PayoutLayer::Recap);
        }
        let (kind, name) = text.split_once(':')?;
        if name.is_empty() {
            return None;
        }
        match kind {
            "fund" => Some(PayoutLayer::Fund(name.to_owned())),
            "cover" => Some(PayoutLayer::Cover(name.to_owned())),
            _ => None,
        }
    }
}

impl ClaimsConfig {
    /// Checks the table against the venue (called from `VenueConfig::validate`).
    ///
    /// # Errors
    /// The first problem, as `(field, message)`.
    pub fn validate(&self, config: &crate::config::VenueConfig) -> Result<(), (String, String)> {
        let error =
            |field: &str, message: &str| Err((format!("claims.{field}"), message.to_owned()));
        if self.assessors.is_empty() {
            return error("assessors", "at least one assessor is required");
        }
        if self.filing_secs == 0 {
            return error("filing_secs", "must be at least 1");
        }
        if self.assessment_secs == 0 {
            return error("assessment_secs", "must be at least 1");
        }
        if !self.claim_cap.is_positive() {
            return error("claim_cap", "must be positive");
        }
        for (index, text) in self.payout_order.iter().enumerate() {
            let field = format!("payout_order[{index}]");
            let known = match PayoutLayer::parse(text) {
                Some(PayoutLayer::Fund(name)) => config.funds.iter().any(|fund| fund.name == name),
                Some(PayoutLayer::Cover(name)) => {
                    config.covers.iter().any(|cover| cover.name == name)
                }
                Some(PayoutLayer::Recap) => true,
                None => {
                    return error(&field, "expected fund:<name>, cover:<name> or recap");
                }
            };
            if !known {
                return error(&field, &format!("unknown layer {text:?}"));
            }
            if self.payout_order.iter().take(index).any(|earlier| earlier == text) {
                return error(&field, &format!("layer {text:?} listed twice"));
            }
        }
        Ok(())
    }
}

/// What one payout layer paid for an incident, and what came back by recoveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentPayment {
    /// The layer as written in `payout_order`.
    pub layer: String,
    /// Paid to claimants.
    pub paid: Amount,
    /// Returned by recoveries.
    pub recovered: Amount,
}

/// A declared exploit incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Market exploited.
    pub market: MarketRef,
    /// The market's asset (claims are paid in it).
    pub asset: AssetId,
    /// Who declared it.
    pub declarer: AccountId,
    /// Start of the loss window (s).
    pub loss_start: u64,
    /// End of the loss window (s).
    pub loss_end: u64,
    /// Declared at (s).
    pub declared_at: u64,
    /// Filing closes at (s, exclusive).
    pub filing_end: u64,
    /// Assessment closes at (s, exclusive); payment opens.
    pub assessment_end: u64,
    /// Whether `PayClaims` ran.
    pub paid: bool,
    /// What each layer paid, in payout order.
    pub payments: Vec<IncidentPayment>,
    /// Recovered in total.
    pub recovered: Amount,
}

/// A claim filed under an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Incident.
    pub incident: u64,
    /// Claimant.
    pub account: AccountId,
    /// Amount claimed (after the cap).
    pub amount: Amount,
    /// Evidence reference.
    pub evidence: String,
    /// Whether assessed.
    pub assessed: bool,
    /// Amount approved (0 when rejected or not assessed).
    pub approved: Amount,
    /// Granted by the payout layers.
    pub granted: Amount,
    /// Of the grant, credited to the claimant so far.
    pub withdrawn: Amount,
    /// When the grant was made (vesting starts) (s).
    pub granted_at: u64,
    /// Paid from recoveries (credited at once).
    pub recovered: Amount,
}

impl Claim {
    /// Approved but not yet paid by layers or recoveries.
    #[must_use]
    pub fn shortfall(&self) -> Amount {
        self.approved.saturating_sub_to_zero(self.granted).saturating_sub_to_zero(self.recovered)
    }
}

/// All incident and claim state of a venue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsState {
    /// Incidents by id (from 1).
    pub incidents: BTreeMap<u64, Incident>,
    /// Claims by id (from 1).
    pub claims: BTreeMap<u64, Claim>,
    /// Last incident id given.
    pub last_incident: u64,
    /// Last claim id given.
    pub last_claim: u64,
}

impl ClaimsState {
    /// Per asset id: grants held for vesting (granted − withdrawn).
    #[must_use]
    pub fn held(&self, asset: AssetId) -> Amount {
        let mut held = Amount::ZERO;
        for claim in self.claims.values() {
            let Some(incident) = self.incidents.get(&claim.incident) else { continue };
            if incident.asset == asset {
                held =
                    Amount::from_raw(held.raw().saturating_add(
                        claim.granted.saturating_sub_to_zero(claim.withdrawn).raw(),
                    ));
            }
        }
        held
    }
}

/// Feeds the claims state into the state hash, every field in a fixed order.
pub(crate) fn hash_claims(hasher: &mut Sha256, state: &ClaimsState) {
    let amount = |hasher: &mut Sha256, value: Amount| hasher.update(value.raw().to_le_bytes());
    let number = |hasher: &mut Sha256, value: u64| hasher.update(value.to_le_bytes());
    let count = |hasher: &mut Sha256, length: usize| {
        hasher.update(u64::try_from(length).unwrap_or(u64::MAX).to_le_bytes());
    };
    hasher.update(b"claims");
    number(hasher, state.last_incident);
    number(hasher, state.last_claim);
    count(hasher, state.incidents.len());
    for (id, incident) in &state.incidents {
        number(hasher, *id);
        match incident.market {
            MarketRef::Lending(asset) => {
                hasher.update([0, asset.0.to_le_bytes()[0], asset.0.to_le_bytes()[1]])
            }
            MarketRef::Perp(perp) => {
                hasher.update([1, perp.0.to_le_bytes()[0], perp.0.to_le_bytes()[1]])
            }
        }
        hasher.update(incident.asset.0.to_le_bytes());
        number(hasher, incident.declarer.0);
        for value in [
            incident.loss_start,
            incident.loss_end,
            incident.declared_at,
            incident.filing_end,
            incident.assessment_end,
        ] {
            number(hasher, value);
        }
        hasher.update([u8::from(incident.paid)]);
        count(hasher, incident.payments.len());
        for payment in &incident.payments {
            count(hasher, payment.layer.len());
            hasher.update(payment.layer.as_bytes());
            amount(hasher, payment.paid);
            amount(hasher, payment.recovered);
        }
        amount(hasher, incident.recovered);
    }
    count(hasher, state.claims.len());
    for (id, claim) in &state.claims {
        number(hasher, *id);
        number(hasher, claim.incident);
        number(hasher, claim.account.0);
        amount(hasher, claim.amount);
        count(hasher, claim.evidence.len());
        hasher.update(claim.evidence.as_bytes());
        hasher.update([u8::from(claim.assessed)]);
        for value in [claim.approved, claim.granted, claim.withdrawn, claim.recovered] {
            amount(hasher, value);
        }
        number(hasher, claim.granted_at);
    }
}

impl Engine {
    /// The `[claims]` table, or [`Rejection::ClaimsNotConfigured`].
    fn claims_config(&self) -> Result<ClaimsConfig, Rejection> {
        self.config.claims.clone().ok_or(Rejection::ClaimsNotConfigured)
    }

    /// Checks that `account` may assess claims (an assessor), or, with `guardian_too`, declare
    /// incidents (an assessor or the `[governance]` guardian, when that table exists).
    fn check_assessor(
        &self,
        config: &ClaimsConfig,
        account: AccountId,
        guardian_too: bool,
    ) -> Result<(), Rejection> {
        let guardian = self.config.governance.as_ref().map(|governance| governance.guardian);
        if config.assessors.contains(&account) || (guardian_too && guardian == Some(account)) {
            Ok(())
        } else {
            Err(Rejection::NotAssessor { account })
        }
    }

    fn incident(&self, id: u64) -> Result<Incident, Rejection> {
        self.state
            .claims
            .incidents
            .get(&id)
            .cloned()
            .ok_or(Rejection::UnknownIncident { incident: id })
    }

    fn claim(&self, id: u64) -> Result<Claim, Rejection> {
        self.state.claims.claims.get(&id).cloned().ok_or(Rejection::UnknownClaim { claim: id })
    }

    /// `DeclareIncident`.
    pub(crate) fn declare_incident(
        &mut self,
        declarer: AccountId,
        market: MarketRef,
        loss_start: u64,
        loss_end: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let config = self.claims_config()?;
        self.check_assessor(&config, declarer, true)?;
        self.declare_incident_unchecked(&config, declarer, market, loss_start, loss_end)
    }

    /// `DeclareIncident` as a governance proposal action: no declarer role is needed (the vote
    /// is the authority), every other rule holds (known market, `loss_start ≤ loss_end ≤ now`).
    /// The incident and its event name the proposer of the executed proposal as declarer.
    pub(crate) fn declare_incident_by_governance(
        &mut self,
        proposer: AccountId,
        market: MarketRef,
        loss_start: u64,
        loss_end: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let config = self.claims_config()?;
        self.declare_incident_unchecked(&config, proposer, market, loss_start, loss_end)
    }

    /// The declaration rules after the authority check.
    fn declare_incident_unchecked(
        &mut self,
        config: &ClaimsConfig,
        declarer: AccountId,
        market: MarketRef,
        loss_start: u64,
        loss_end: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let asset = self.market_asset_checked(market)?;
        let now = self.state.now;
        if loss_start > loss_end || loss_end > now {
            return Err(Rejection::BadLossWindow { loss_start, loss_end, now });
        }
        let overflow = Rejection::Overflow { context: "incident deadlines" };
        let filing_end = now.checked_add(config.filing_secs).ok_or(overflow.clone())?;
        let assessment_end = filing_end.checked_add(config.assessment_secs).ok_or(overflow)?;
        let id = self.state.claims.last_incident.saturating_add(1);
        self.state.claims_mut().last_incident = id;
        self.state.claims_mut().incidents.insert(
            id,
            Incident {
                market,
                asset,
                declarer,
                loss_start,
                loss_end,
                declared_at: now,
                filing_end,
                assessment_end,
                paid: false,
                payments: Vec::new(),
                recovered: Amount::ZERO,
            },
        );
        Ok(vec![Event::IncidentDeclared {
            incident: id,
            market,
            declarer,
            loss_start,
            loss_end,
            filing_end,
            assessment_end,
        }])
    }

    /// `FileClaim`.
    pub(crate) fn file_claim(
        &mut self,
        account: AccountId,
        incident_id: u64,
        amount: Amount,
        evidence: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let config = self.claims_config()?;
        let incident = self.incident(incident_id)?;
        self.load_account(account)?;
        if self.state.now >= incident.filing_end {
            return Err(Rejection::FilingClosed {
                incident: incident_id,
                filing_end: incident.filing_end,
            });
        }
        self.check_amount(incident.asset, amount, "amount")?;
        let recorded = amount.min(config.claim_cap);
        let id = self.state.claims.last_claim.saturating_add(1);
        self.state.claims_mut().last_claim = id;
        self.state.claims_mut().claims.insert(
            id,
            Claim {
                incident: incident_id,
                account,
                amount: recorded,
                evidence: evidence.to_owned(),
                assessed: false,
                approved: Amount::ZERO,
                granted: Amount::ZERO,
                withdrawn: Amount::ZERO,
                granted_at: 0,
                recovered: Amount::ZERO,
            },
        );
        Ok(vec![Event::ClaimFiled {
            claim: id,
            incident: incident_id,
            account,
            asked: amount,
            amount: recorded,
        }])
    }

    /// `AssessClaim`.
    pub(crate) fn assess_claim(
        &mut self,
        assessor: AccountId,
        claim_id: u64,
        approve: bool,
        approved_amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let config = self.claims_config()?;
        self.check_assessor(&config, assessor, false)?;
        self.assess_claim_unchecked(assessor, claim_id, approve, approved_amount)
    }

    /// `AssessClaim` as a governance proposal action: no assessor role is needed (the vote is
    /// the authority), every other rule holds (once per claim, before the assessment deadline,
    /// `approved ≤ claimed`). The event names the proposer of the executed proposal.
    pub(crate) fn assess_claim_by_governance(
        &mut self,
        proposer: AccountId,
        claim_id: u64,
        approve: bool,
        approved_amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        self.claims_config()?;
        self.assess_claim_unchecked(proposer, claim_id, approve, approved_amount)
    }

    /// The assessment rules after the authority check.
    fn assess_claim_unchecked(
        &mut self,
        assessor: AccountId,
        claim_id: u64,
        approve: bool,
        approved_amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let mut claim = self.claim(claim_id)?;
        let incident = self.incident(claim.incident)?;
        if self.state.now >= incident.assessment_end {
            return Err(Rejection::AssessmentClosed {
                incident: claim.incident,
                assessment_end: incident.assessment_end,
            });
        }
        if claim.assessed {
            return Err(Rejection::AlreadyAssessed { claim: claim_id });
        }
        let approved = if approve { approved_amount } else { Amount::ZERO };
        if approved.is_negative() || approved > claim.amount {
            return Err(Rejection::ApprovedAboveClaim {
                claim: claim_id,
                claimed: claim.amount,
                approved: approved_amount,
            });
        }
        claim.assessed = true;
        claim.approved = approved;
        self.state.claims_mut().claims.insert(claim_id, claim);
        Ok(vec![Event::ClaimAssessed { claim: claim_id, assessor, approved }])
    }

    /// What a payout layer can pay in `asset` now (0 for recap, other assets, covers out of
    /// term).
    fn payout_capacity(&self, layer: &PayoutLayer, asset: AssetId) -> Amount {
        let symbol = self.config.asset_symbol(asset);
        match layer {
            PayoutLayer::Fund(name) => {
                let Ok(index) = self.fund_index(name) else { return Amount::ZERO };
                let Some(config) = self.config.funds.get(index) else { return Amount::ZERO };
                if config.asset != symbol {
                    return Amount::ZERO;
                }
                let balance =
                    self.state.net.funds.get(index).map(|fund| fund.balance).unwrap_or_default();
                balance.saturating_sub_to_zero(config.floor)
            }
            PayoutLayer::Cover(name) => {
                let Some(index) = self.config.covers.iter().position(|cover| &cover.name == name)
                else {
                    return Amount::ZERO;
                };
                let Some(config) = self.config.covers.get(index) else { return Amount::ZERO };
                let state = self.state.net.covers.get(index).cloned().unwrap_or_default();
                if config.asset != symbol || self.state.now >= state.term_end {
                    return Amount::ZERO;
                }
                let open = self
                    .state
                    .net
                    .claims
                    .values()
                    .filter(|claim| claim.cover == index)
                    .fold(Amount::ZERO, |sum, claim| {
                        Amount::from_raw(sum.raw().saturating_add(claim.amount.raw()))
                    });
                config.limit.saturating_sub_to_zero(state.paid).saturating_sub_to_zero(open)
            }
            PayoutLayer::Recap => Amount::ZERO,
        }
    }

    /// `PayClaims`: pays an incident's approved claims from the payout layers.
    pub(crate) fn pay_claims(&mut self, incident_id: u64) -> Result<Vec<Event>, Rejection> {
        let config = self.claims_config()?;
        let mut incident = self.incident(incident_id)?;
        let now = self.state.now;
        if now < incident.assessment_end {
            return Err(Rejection::AssessmentNotOver {
                incident: incident_id,
                assessment_end: incident.assessment_end,
            });
        }
        if incident.paid {
            return Err(Rejection::IncidentAlreadyPaid { incident: incident_id });
        }
        let overflow = Rejection::from_money("claims payout");
        let asset = incident.asset;
        let layers: Vec<(String, PayoutLayer)> = config
            .payout_order
            .iter()
            .filter_map(|text| PayoutLayer::parse(text).map(|layer| (text.clone(), layer)))
            .collect();
        let mut capacity = Amount::ZERO;
        for (_, layer) in &layers {
            capacity =
                capacity.checked_add(self.payout_capacity(layer, asset)).map_err(&overflow)?;
        }
        let mut claims: Vec<(u64, Claim)> = self
            .state
            .claims
            .claims
            .iter()
            .filter(|(_, claim)| claim.incident == incident_id && claim.approved.is_positive())
            .map(|(id, claim)| (*id, claim.clone()))
            .collect();
        let mut approved_total = Amount::ZERO;
        for (_, claim) in &claims {
            approved_total = approved_total.checked_add(claim.approved).map_err(&overflow)?;
        }
        let pool = capacity.min(approved_total);
        // Grants: approved × pool / Σ approved, rounded down, then down to the asset's unit.
        let mut granted_total = Amount::ZERO;
        for (_, claim) in &mut claims {
            let share = if pool == approved_total {
                claim.approved
            } else {
                Amount::from_raw(
                    backstop_money::mul_div(
                        claim.approved.raw(),
                        pool.raw(),
                        approved_total.raw(),
                        Rounding::Floor,
                    )
                    .map_err(&overflow)?,
                )
            };
            let share = self.floor_to_asset_unit(asset, share)?;
            claim.granted = share;
            claim.granted_at = now;
            granted_total = granted_total.checked_add(share).map_err(&overflow)?;
        }
        // The layers pay Σ granted in order.
        let mut events = Vec::new();
        let mut left = granted_total;
        let mut funds = self.state.net.funds.clone();
        let mut covers = self.state.net.covers.clone();
        let mut external = self.state.external_net.get(asset.index()).copied().unwrap_or_default();
        for (text, layer) in &layers {
            let pays = self.payout_capacity(layer, asset).min(left);
            if !pays.is_positive() {
                continue;
            }
            match layer {
                PayoutLayer::Fund(name) => {
                    let index = self.fund_index(name)?;
                    if let Some(fund) = funds.get_mut(index) {
                        fund.balance = fund.balance.checked_sub(pays).map_err(&overflow)?;
                    }
                }
                PayoutLayer::Cover(name) => {
                    if let Some(index) = self.config.covers.iter().position(|c| &c.name == name)
                        && let Some(cover) = covers.get_mut(index)
                    {
                        cover.paid = cover.paid.checked_add(pays).map_err(&overflow)?;
                    }
                    external = external.checked_add(pays).map_err(&overflow)?;
                }
                PayoutLayer::Recap => continue,
            }
            left = left.checked_sub(pays).map_err(&overflow)?;
            incident.payments.push(IncidentPayment {
                layer: text.clone(),
                paid: pays,
                recovered: Amount::ZERO,
            });
            events.push(Event::IncidentLayerPaid {
                incident: incident_id,
                layer: text.clone(),
                amount: pays,
            });
        }
        if left.is_positive() {
            // Capacities cannot fall while paying; a bug if they did.
            return Err(Rejection::Overflow { context: "claims payout capacity" });
        }
        // Immediate payouts credit the claimants now.
        let immediate = config.vesting_secs == 0;
        let mut accounts = BTreeMap::new();
        for (id, claim) in &mut claims {
            if immediate && claim.granted.is_positive() {
                let account = match accounts.remove(&claim.account) {
                    Some(account) => account,
                    None => self.load_account(claim.account)?,
                };
                let mut account = account;
                let holding = holding_mut(&mut account, asset)?;
                holding.balance = holding.balance.checked_add(claim.granted).map_err(&overflow)?;
                claim.withdrawn = claim.granted;
                accounts.insert(claim.account, account);
            }
            events.push(Event::ClaimPaid {
                claim: *id,
                account: claim.account,
                amount: claim.granted,
                vesting: !immediate,
            });
        }
        // Everything checked: write.
        incident.paid = true;
        self.state.net_mut().funds = funds;
        self.state.net_mut().covers = covers;
        self.set_external(asset, external);
        for (id, account) in accounts {
            self.commit_account(id, account);
        }
        for (id, claim) in claims {
            self.state.claims_mut().claims.insert(id, claim);
        }
        self.state.claims_mut().incidents.insert(incident_id, incident);
        Ok(events)
    }

    /// `ClaimVested`: credits the vested, not yet withdrawn part of a claim's grant.
    pub(crate) fn claim_vested(
        &mut self,
        account: AccountId,
        claim_id: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let config = self.claims_config()?;
        let mut claim = self.claim(claim_id)?;
        if claim.account != account {
            return Err(Rejection::NotClaimant { claim: claim_id, account });
        }
        let incident = self.incident(claim.incident)?;
        let overflow = Rejection::from_money("claim vesting");
        let elapsed = self.state.now.saturating_sub(claim.granted_at).min(config.vesting_secs);
        let vested = if config.vesting_secs == 0 || elapsed == config.vesting_secs {
            claim.granted
        } else {
            // Rounded down: the claimant never gets ahead of the schedule.
            Amount::from_raw(
                backstop_money::mul_div(
                    claim.granted.raw(),
                    i128::from(elapsed),
                    i128::from(config.vesting_secs),
                    Rounding::Floor,
                )
                .map_err(&overflow)?,
            )
        };
        let amount = vested.saturating_sub_to_zero(claim.withdrawn);
        if !amount.is_positive() {
            return Err(Rejection::NothingVested { claim: claim_id });
        }
        let mut holder = self.load_account(account)?;
        let holding = holding_mut(&mut holder, incident.asset)?;
        holding.balance = holding.balance.checked_add(amount).map_err(&overflow)?;
        claim.withdrawn = claim.withdrawn.checked_add(amount).map_err(&overflow)?;
        self.commit_account(account, holder);
        self.state.claims_mut().claims.insert(claim_id, claim);
        Ok(vec![Event::ClaimVestedPaid { claim: claim_id, account, amount }])
    }

    /// `RecoverIncident`: routes recovered funds back to the layers that paid (reverse order),
    /// then pro rata to claimants still short, then to fees.
    pub(crate) fn recover_incident(
        &mut self,
        incident_id: u64,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        self.claims_config()?;
        let mut incident = self.incident(incident_id)?;
        if !incident.paid {
            return Err(Rejection::IncidentNotPaid { incident: incident_id });
        }
        let asset = incident.asset;
        self.check_amount(asset, amount, "amount")?;
        let overflow = Rejection::from_money("incident recovery");
        let mut events = vec![Event::IncidentRecovered { incident: incident_id, amount }];
        let mut remaining = amount;
        let mut funds = self.state.net.funds.clone();
        let mut covers = self.state.net.covers.clone();
        // Inflow from outside, less cover clawbacks that leave again.
        let mut external = self.external_after(asset, amount)?;
        for payment in incident.payments.iter_mut().rev() {
            let back = remaining.min(payment.paid.saturating_sub_to_zero(payment.recovered));
            if !back.is_positive() {
                continue;
            }
            match PayoutLayer::parse(&payment.layer) {
                Some(PayoutLayer::Fund(name)) => {
                    let index = self.fund_index(&name)?;
                    if let Some(fund) = funds.get_mut(index) {
                        fund.balance = fund.balance.checked_add(back).map_err(&overflow)?;
                    }
                }
                Some(PayoutLayer::Cover(name)) => {
                    if let Some(index) = self.config.covers.iter().position(|c| c.name == name)
                        && let Some(cover) = covers.get_mut(index)
                    {
                        cover.paid = cover.paid.saturating_sub_to_zero(back);
                    }
                    external = external.checked_sub(back).map_err(&overflow)?;
                }
                _ => continue,
            }
            payment.recovered = payment.recovered.checked_add(back).map_err(&overflow)?;
            remaining = remaining.checked_sub(back).map_err(&overflow)?;
            events.push(Event::IncidentRecoveryReturned {
                incident: incident_id,
                layer: payment.layer.clone(),
                amount: back,
            });
        }
        // Then claimants still short, pro rata to their shortfall.
        let mut claims: Vec<(u64, Claim)> = self
            .state
            .claims
            .claims
            .iter()
            .filter(|(_, claim)| claim.incident == incident_id && claim.shortfall().is_positive())
            .map(|(id, claim)| (*id, claim.clone()))
            .collect();
        let mut short_total = Amount::ZERO;
        for (_, claim) in &claims {
            short_total = short_total.checked_add(claim.shortfall()).map_err(&overflow)?;
        }
        let to_claimants = remaining.min(short_total);
        let mut accounts = BTreeMap::new();
        let mut changed = Vec::new();
        if to_claimants.is_positive() {
            for (id, claim) in &mut claims {
                let shortfall = claim.shortfall();
                let share = if to_claimants == short_total {
                    shortfall
                } else {
                    Amount::from_raw(
                        backstop_money::mul_div(
                            shortfall.raw(),
                            to_claimants.raw(),
                            short_total.raw(),
                            Rounding::Floor,
                        )
                        .map_err(&overflow)?,
                    )
                };
                let share = self.floor_to_asset_unit(asset, share)?;
                if !share.is_positive() {
                    continue;
                }
                let mut account = match accounts.remove(&claim.account) {
                    Some(account) => account,
                    None => self.load_account(claim.account)?,
                };
                let holding = holding_mut(&mut account, asset)?;
                holding.balance = holding.balance.checked_add(share).map_err(&overflow)?;
                accounts.insert(claim.account, account);
                claim.recovered = claim.recovered.checked_add(share).map_err(&overflow)?;
                remaining = remaining.checked_sub(share).map_err(&overflow)?;
                events.push(Event::ClaimRecovered {
                    claim: *id,
                    account: claim.account,
                    amount: share,
                });
                changed.push((*id, claim.clone()));
            }
        }
        let mut fees = None;
        if remaining.is_positive() {
            fees = Some(self.fees_after(asset, remaining)?);
            events.push(Event::IncidentRecoveryReturned {
                incident: incident_id,
                layer: "fees".to_owned(),
                amount: remaining,
            });
        }
        incident.recovered = incident.recovered.checked_add(amount).map_err(&overflow)?;
        // Everything checked: write.
        self.state.net_mut().funds = funds;
        self.state.net_mut().covers = covers;
        self.set_external(asset, external);
        if let Some(fees) = fees {
            self.set_fees(asset, fees);
        }
        for (id, account) in accounts {
            self.commit_account(id, account);
        }
        for (id, claim) in changed {
            self.state.claims_mut().claims.insert(id, claim);
        }
        self.state.claims_mut().incidents.insert(incident_id, incident);
        Ok(events)
    }

    /// Claims invariants: per claim, granted + recovered ≤ approved and withdrawn ≤ granted;
    /// per incident, what the layers paid (net of nothing: recoveries are tracked apart) equals
    /// Σ granted = what claimants received from grants + what vesting holds.
    pub(crate) fn check_claims(&self) -> Result<(), crate::invariants::Violation> {
        let state = &self.state.claims;
        let fail = |detail: String| Err(crate::invariants::Violation { invariant: 11, detail });
        let mut granted: BTreeMap<u64, i128> = BTreeMap::new();
        for (id, claim) in &state.claims {
            let paid = claim.granted.raw().wrapping_add(claim.recovered.raw());
            if paid > claim.approved.raw() {
                return fail(format!(
                    "claim {id}: paid {paid} > approved {}",
                    claim.approved.raw()
                ));
            }
            if claim.withdrawn > claim.granted {
                return fail(format!("claim {id}: withdrawn above granted"));
            }
            let slot = granted.entry(claim.incident).or_default();
            *slot = slot.wrapping_add(claim.granted.raw());
        }
        for (id, incident) in &state.incidents {
            let paid =
                incident.payments.iter().fold(0_i128, |sum, p| sum.wrapping_add(p.paid.raw()));
            let to_claimants = granted.get(id).copied().unwrap_or(0);
            if paid != to_claimants {
                return fail(format!(
                    "incident {id}: layers paid {paid} ≠ claimants received + vesting held {to_claimants}"
                ));
            }
        }
        Ok(())
    }
}
