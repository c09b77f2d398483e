//! State of the safety net: every layer's balances, plus the per-market record of which layer
//! paid how much (used to route recoveries back in reverse order).

use crate::ids::{AccountId, MarketRef};
use backstop_money::{Amount, Ratio, Shares};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An insurance / reserve fund.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundState {
    /// Tokens held.
    pub balance: Amount,
    /// Start of the current draw-cap period (s).
    pub period_start: u64,
    /// Paid out in the current period.
    pub period_paid: Amount,
    /// Paid out per market over the fund's lifetime.
    #[serde(with = "crate::snapshot::map_entries")]
    pub paid_by_market: BTreeMap<MarketRef, Amount>,
    /// Time of the last revenue sweep (s).
    pub settled_at: u64,
}

/// One queued withdrawal of a staker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Shares queued.
    pub shares: Shares,
    /// When the withdrawal may complete (s).
    pub unlock_at: u64,
    /// Value of the shares when queued (used under frozen exposure).
    pub value_at_request: Amount,
}

/// One staker's position in a staker pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staker {
    /// Shares not queued.
    pub shares: Shares,
    /// Queued withdrawals, oldest first.
    pub queue: Vec<QueueEntry>,
    /// Emission index at the staker's last update.
    pub reward_index: Ratio,
    /// Emissions earned and not yet claimed.
    pub rewards: Amount,
}

/// A first-loss staker pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakerPoolState {
    /// Tokens held (the stakers' assets).
    pub assets: Amount,
    /// All shares, queued ones included.
    pub shares: Shares,
    /// Shares in withdrawal queues.
    pub queued_shares: Shares,
    /// Stakers by account.
    pub stakers: BTreeMap<AccountId, Staker>,
    /// Emissions per non-queued share, accumulated.
    pub reward_index: Ratio,
    /// Time emissions were last accrued (s).
    pub rewards_updated_at: u64,
    /// Emissions credited to stakers' `rewards` and not yet claimed (their sum; minted on
    /// claim). Emissions still in the index since a staker's last update are not included.
    pub rewards_owed: Amount,
}

/// A stability pool (Liquity product–sum accounting).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StabilityPoolState {
    /// Debt-asset deposits held.
    pub deposits: Amount,
    /// Collateral gains held for depositors, per asset id.
    pub collateral: BTreeMap<u16, Amount>,
    /// Running product P as an integer at `stability::P_PRECISION` (10^36 is one), kept within
    /// [10^27, 10^36] by scale changes.
    #[serde(with = "crate::snapshot::wide_integer")]
    pub product: i128,
    /// Current scale (P is multiplied by 10^9 at each scale change).
    pub scale: u64,
    /// Running sums S per (scale, collateral asset id), at `stability::S_PRECISION` (10^27).
    #[serde(with = "crate::snapshot::wide_integer_entries")]
    pub sums: BTreeMap<(u64, u16), i128>,
    /// Depositors by account.
    pub depositors: BTreeMap<AccountId, StabilityDeposit>,
}

/// One depositor's stability-pool position, as a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StabilityDeposit {
    /// Deposit at the snapshot.
    pub initial: Amount,
    /// P at the snapshot (integer at 10^36).
    #[serde(with = "crate::snapshot::wide_integer")]
    pub product: i128,
    /// Scale at the snapshot.
    pub scale: u64,
    /// S per collateral asset at the snapshot.
    #[serde(with = "crate::snapshot::wide_integer_map")]
    pub sums: BTreeMap<u16, i128>,
}

/// External cover bought from a guarantor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverState {
    /// End of the cover term (s); 0 when never bought.
    pub term_end: u64,
    /// Losses that reached the cover during the term (for the attachment point).
    pub losses_reached: Amount,
    /// Claims paid during the term.
    pub paid: Amount,
    /// Premiums paid over the cover's life.
    pub premiums_paid: Amount,
    /// Per market: the market's recognised deficit (`SafetyNet::recognized`) the last time the
    /// waterfall reached this cover or the cover was bought. Only deficit recognised after it can
    /// reach the cover as a *new* loss, so a loss left uncovered and walked again is counted once.
    #[serde(with = "crate::snapshot::map_entries")]
    pub recognized_seen: BTreeMap<MarketRef, Amount>,
}

/// A claim on external cover, waiting for the guarantor to settle it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverClaim {
    /// Index of the cover.
    pub cover: usize,
    /// Market whose deficit the claim covers.
    pub market: MarketRef,
    /// Amount claimed.
    pub amount: Amount,
    /// When the claim was opened (s).
    pub opened_at: u64,
    /// Position of the cover in the market's waterfall (later layers continue after it).
    pub layer_position: usize,
}

/// A reverse auction selling newly minted governance tokens for a deficit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecapAuction {
    /// Market whose deficit it raises funds for.
    pub market: MarketRef,
    /// Deficit-asset amount the auction raises.
    pub bid: Amount,
    /// Governance tokens offered.
    pub lot: Amount,
    /// When the auction (re)started (s).
    pub started_at: u64,
    /// Whether governance approved it (when approval is required).
    pub approved: bool,
    /// Position of the recap layer in the market's waterfall.
    pub layer_position: usize,
}

/// Status of the venue, set by the circuit breakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueStatus {
    /// Everything allowed.
    #[default]
    Active,
    /// New borrowing (and new perpetual risk) blocked.
    OnIce,
    /// New deposits, supply and stakes blocked too; repayments and healthy withdrawals never.
    Frozen,
}

/// An emergency liquidity loan from a fund to a lending market.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilityState {
    /// Outstanding loan, penalty interest included.
    pub loan: Amount,
    /// Time penalty interest was last accrued (s).
    pub accrued_at: u64,
}

/// What one layer paid towards one market's deficits, and what came back by recoveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerPayment {
    /// The layer, as written in the waterfall (`fund:insurance`).
    pub layer: String,
    /// Paid so far.
    pub paid: Amount,
    /// Returned by recoveries so far.
    pub recovered: Amount,
}

/// All safety-net state of a venue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyNet {
    /// Funds, in config order.
    pub funds: Vec<FundState>,
    /// Offset balances, in config order.
    pub offsets: Vec<Amount>,
    /// Staker pools, in config order.
    pub staker_pools: Vec<StakerPoolState>,
    /// Stability pools, in config order.
    pub stability_pools: Vec<StabilityPoolState>,
    /// Covers, in config order.
    pub covers: Vec<CoverState>,
    /// Open cover claims by id.
    pub claims: BTreeMap<u64, CoverClaim>,
    /// Running recapitalisation auctions by id.
    pub recap_auctions: BTreeMap<u64, RecapAuction>,
    /// Governance tokens minted in the current recap period, and the period start.
    pub recap_period: (u64, Amount),
    /// Next id for claims and recap auctions.
    pub next_id: u64,
    /// Per market: deficit assigned to a layer that pays later (cover claims, recap auctions).
    #[serde(with = "crate::snapshot::map_entries")]
    pub pending: BTreeMap<MarketRef, Amount>,
    /// Per market: what each layer paid, in payment order.
    #[serde(with = "crate::snapshot::map_entries")]
    pub payments: BTreeMap<MarketRef, Vec<LayerPayment>>,
    /// Venue status.
    pub status: VenueStatus,
    /// Whether the status was set by an admin (`SetStatus`), which `UpdateStatus` respects.
    pub status_by_admin: bool,
    /// Per asset id: paused by the oracle breaker.
    pub paused: Vec<bool>,
    /// Emergency liquidity facilities, in config order.
    pub facilities: Vec<FacilityState>,
    /// Per asset id: tokens minted by the venue (recapitalisation, emissions).
    pub minted: Vec<Amount>,
    /// Per market: every deficit ever recognised.
    #[serde(with = "crate::snapshot::map_entries")]
    pub recognized: BTreeMap<MarketRef, Amount>,
    /// Per market: deficit covered directly by recoveries (not through a layer).
    #[serde(with = "crate::snapshot::map_entries")]
    pub recovered_to_deficit: BTreeMap<MarketRef, Amount>,
}
