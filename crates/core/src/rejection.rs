//! Rejections: why a command was refused. Each has a stable numeric code.

use crate::ids::{AccountId, AssetId, AuctionId, PerpMarketId};
use backstop_money::{Amount, MoneyError, Price};
use serde::Serialize;

/// Why a command was refused; the engine's state is unchanged.
///
/// Codes are stable: a code is never reused for another meaning. Checks run in this order for
/// every command: unknown ids, malformed amounts, account state, prices, balances, health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rejection", rename_all = "snake_case")]
pub enum Rejection {
    /// 1: no account with this id.
    UnknownAccount {
        /// The id asked for.
        account: AccountId,
    },
    /// 2: an account with this id already exists.
    AccountExists {
        /// The id asked for.
        account: AccountId,
    },
    /// 3: no asset with this id.
    UnknownAsset {
        /// The id asked for.
        asset: AssetId,
    },
    /// 4: the asset has no lending market.
    UnknownLendingMarket {
        /// The asset asked for.
        asset: AssetId,
    },
    /// 5: no perpetual market with this id.
    UnknownPerpMarket {
        /// The id asked for.
        market: PerpMarketId,
    },
    /// 6: an amount or price that must be positive was not.
    NotPositive {
        /// Which field.
        field: &'static str,
    },
    /// 7: an amount has more decimals than the asset allows.
    TooPrecise {
        /// The asset.
        asset: AssetId,
        /// Its decimals.
        decimals: u32,
    },
    /// 8: the account does not hold enough of the asset.
    InsufficientBalance {
        /// The account.
        account: AccountId,
        /// The asset.
        asset: AssetId,
        /// What it holds.
        available: Amount,
        /// What was needed.
        needed: Amount,
    },
    /// 9: the lending market does not hold enough cash.
    InsufficientLiquidity {
        /// The market.
        asset: AssetId,
        /// Cash available.
        available: Amount,
        /// What was needed.
        needed: Amount,
    },
    /// 10: the command would leave the account below its initial margin.
    WouldBeUnhealthy {
        /// The account.
        account: AccountId,
        /// Weighted collateral after the command (numeraire).
        margin: Amount,
        /// Required margin after the command (numeraire).
        requirement: Amount,
    },
    /// 11: the account is not below its maintenance margin.
    NotLiquidatable {
        /// The account.
        account: AccountId,
    },
    /// 12: the asset has never been priced.
    NoPrice {
        /// The asset.
        asset: AssetId,
    },
    /// 13: the asset's price is older than the oracle guard allows.
    StalePrice {
        /// The asset.
        asset: AssetId,
        /// Its age in seconds.
        age_secs: u64,
    },
    /// 14: a price update moved further than the oracle guard allows.
    PriceMoveTooLarge {
        /// The asset.
        asset: AssetId,
        /// The previous price.
        previous: Price,
        /// The refused price.
        price: Price,
    },
    /// 15: the clock may only move forward.
    TimeWentBackwards {
        /// Current time.
        now: u64,
        /// Refused time.
        requested: u64,
    },
    /// 16: an amount overflowed the fixed-point range.
    Overflow {
        /// What was being computed.
        context: &'static str,
    },
    /// 17: a keeper may not liquidate itself.
    SelfLiquidation {
        /// The account.
        account: AccountId,
    },
    /// 18: the account has no debt in this market.
    NoDebt {
        /// The account.
        account: AccountId,
        /// The market.
        asset: AssetId,
    },
    /// 19: the account holds none of this collateral.
    NoCollateral {
        /// The account.
        account: AccountId,
        /// The asset.
        asset: AssetId,
    },
    /// 20: a trade price is too far from the oracle price.
    PriceOutsideBand {
        /// The market.
        market: PerpMarketId,
        /// Trade price.
        price: Price,
        /// Oracle price.
        oracle: Price,
    },
    /// 21: the trade would raise open interest above the market's cap.
    OpenInterestCapExceeded {
        /// The market.
        market: PerpMarketId,
        /// Open interest after the trade.
        open_interest: Amount,
        /// The cap.
        cap: Amount,
    },
    /// 22: the position would exceed the market's maximum leverage.
    LeverageTooHigh {
        /// The account.
        account: AccountId,
        /// The market.
        market: PerpMarketId,
    },
    /// 23: the operation would mint or burn zero shares.
    ZeroShares {
        /// The market.
        asset: AssetId,
    },
    /// 24: borrowing is disabled in this market.
    BorrowingDisabled {
        /// The market.
        asset: AssetId,
    },
    /// 25: no running auction with this id.
    UnknownAuction {
        /// The id asked for.
        auction: AuctionId,
    },
    /// 26: the auction passed its time or price limit and must be reset first.
    AuctionNeedsReset {
        /// The auction.
        auction: AuctionId,
    },
    /// 27: the auction price is above the keeper's limit.
    AuctionPriceAboveLimit {
        /// The auction.
        auction: AuctionId,
        /// Current price.
        price: Price,
        /// Keeper's limit.
        max_price: Price,
    },
    /// 28: the auction does not need a reset yet.
    AuctionStillRunning {
        /// The auction.
        auction: AuctionId,
    },
    /// 29: the two accounts of a trade must differ.
    SameAccount {
        /// The account.
        account: AccountId,
    },
    /// 30: the account has no position in this market.
    NoPosition {
        /// The account.
        account: AccountId,
        /// The market.
        market: PerpMarketId,
    },
    /// 31: the venue holds its configured maximum number of accounts.
    AccountLimitReached {
        /// The limit.
        limit: u64,
    },
    /// 32: the keeper would be below its own initial margin after the liquidation.
    KeeperUnhealthy {
        /// The keeper.
        keeper: AccountId,
    },
    /// 33: the takeover target account is not a designated backstop account.
    NotBackstopAccount {
        /// The account named in the config.
        account: AccountId,
    },
    /// 34: the account has an auction running and cannot act until it ends.
    AccountInAuction {
        /// The account.
        account: AccountId,
    },
    /// 35: the liquidation target does not match what the market allows.
    WrongLiquidationTarget {
        /// What was wrong.
        reason: &'static str,
    },
    /// 36: no safety-net layer with this name.
    UnknownLayer {
        /// The name asked for.
        layer: String,
    },
    /// 38: one time step may not exceed `TIME_STEP_MAX_SECS`.
    TimeStepTooLarge {
        /// Current time.
        now: u64,
        /// Refused time.
        requested: u64,
    },
    /// 37: a designated backstop account cannot be liquidated: its losses are the safety net's
    /// own, and a keeper's bonus would be taken from the backstop.
    BackstopAccountProtected {
        /// The account.
        account: AccountId,
    },
    /// 60: the cover's term is still running, or claims of its last term are still open.
    CoverInForce {
        /// The cover.
        cover: String,
        /// End of the current term (s).
        term_end: u64,
        /// Claims still open.
        open_claims: u64,
    },
    /// 61: the fund named to pay a premium does not hold the cover's asset.
    PremiumFundMismatch {
        /// The cover.
        cover: String,
        /// The fund.
        fund: String,
    },
    /// 62: the fund cannot pay the premium above its floor.
    PremiumAboveFund {
        /// The fund.
        fund: String,
        /// What it can pay (balance − floor).
        available: Amount,
        /// The premium.
        premium: Amount,
    },
    /// 63: no open cover claim with this id.
    UnknownCoverClaim {
        /// The id asked for.
        claim: u64,
    },
    /// 64: a settlement pays more than the claim (or a negative amount).
    SettlementAboveClaim {
        /// The claim.
        claim: u64,
        /// Amount claimed.
        claimed: Amount,
        /// Amount offered.
        amount: Amount,
    },
    /// 65: no running recapitalisation auction with this id.
    UnknownRecapAuction {
        /// The id asked for.
        auction: u64,
    },
    /// 66: the recapitalisation auction is not approved yet (a bid), or already approved (an
    /// approval).
    RecapApproval {
        /// The auction.
        auction: u64,
        /// Whether it is approved.
        approved: bool,
    },
    /// 67: the bid asks for more tokens than the auction's lot.
    RecapLotTooHigh {
        /// The auction.
        auction: u64,
        /// The auction's lot.
        lot: Amount,
        /// Tokens asked.
        asked: Amount,
    },
    /// 68: the recapitalisation auction may not restart yet.
    RecapTooEarly {
        /// The auction.
        auction: u64,
        /// Earliest restart time (s).
        restart_at: u64,
    },
    /// 69: the fill would mint more governance tokens than the period's cap allows.
    RecapMintCapExceeded {
        /// The auction.
        auction: u64,
        /// Minted in the current period.
        minted: Amount,
        /// Tokens the fill would mint.
        lot: Amount,
        /// The cap per period.
        cap: Amount,
    },
    /// 80: the venue's status (circuit breakers) refuses this action.
    StatusBlocks {
        /// The current status.
        status: crate::backstop::net::VenueStatus,
        /// What was refused: `new risk` or `new deposits`.
        action: &'static str,
    },
    /// 81: the admin status asked for is outside the bounds the breaker's pool allows.
    StatusNotAllowed {
        /// Status asked for.
        requested: crate::backstop::net::VenueStatus,
        /// Status the breaker's pool calls for.
        computed: crate::backstop::net::VenueStatus,
    },
    /// 82: an admin status holds; `UpdateStatus` cannot change it.
    StatusHeldByAdmin {
        /// The admin status.
        status: crate::backstop::net::VenueStatus,
    },
    /// 83: the asset's price is paused by the oracle breaker and cannot be used.
    AssetPaused {
        /// The asset.
        asset: AssetId,
    },
    /// 84: the asset is not paused.
    AssetNotPaused {
        /// The asset.
        asset: AssetId,
    },
    /// 85: withdrawals are gated while an account has negative equity.
    WithdrawalsGated {
        /// An account with negative equity.
        account: AccountId,
    },
    /// 86: `UpdateStatus` needs a `[breaker]` section naming a staker pool.
    NoStatusPool,
    /// 40: the stake would mint zero shares.
    StakeZeroShares {
        /// Staker pool.
        pool: String,
        /// Amount offered.
        amount: Amount,
        /// Pool assets.
        assets: Amount,
        /// Pool shares.
        shares: backstop_money::Shares,
    },
    /// 41: the staker pool has shares but no assets left: new stakes would be worth nothing.
    StakerPoolDrained {
        /// Staker pool.
        pool: String,
        /// Shares outstanding.
        shares: backstop_money::Shares,
    },
    /// 42: the shares minted would be worth less than the stake by more than rounding.
    StakeLosesValue {
        /// Staker pool.
        pool: String,
        /// Amount offered.
        amount: Amount,
        /// Value of the shares it would mint.
        value: Amount,
    },
    /// 43: the staker holds fewer unqueued shares than asked.
    InsufficientStake {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Unqueued shares held.
        available: backstop_money::Shares,
        /// Shares asked.
        needed: backstop_money::Shares,
    },
    /// 44: the staker already has the most queued withdrawals the pool allows.
    UnstakeQueueFull {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// The limit.
        limit: u32,
    },
    /// 45: the staker has fewer queued shares than asked.
    InsufficientQueued {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Queued shares.
        queued: backstop_money::Shares,
        /// Shares asked.
        needed: backstop_money::Shares,
    },
    /// 46: no queued withdrawal of the staker has reached its unlock time.
    UnstakeNotExpired {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Earliest unlock time (s), none when nothing is queued.
        unlock_at: Option<u64>,
    },
    /// 47: withdrawals are blocked while a market the pool covers has bad debt.
    StakerPoolBadDebt {
        /// Staker pool.
        pool: String,
        /// A market with uncovered or pending deficit whose waterfall names the pool.
        market: crate::ids::MarketRef,
    },
    /// 48: the staker has no emissions to claim (or the pool has none).
    NoStakerRewards {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
    },
    /// 70: a seed was given, but only a position liquidation in a market whose waterfall has
    /// an `adl:random` layer uses one (seed 0 means none).
    SeedWithoutRandomAdl {
        /// The seed given.
        seed: u64,
    },
    /// 50: the account has no deposit in this stability pool.
    NoStabilityDeposit {
        /// The account.
        account: AccountId,
        /// The stability pool.
        pool: String,
    },
    /// 51: a stability-pool liquidation can take none of the debt: the pool is at its
    /// `min_remaining`, the market has no other borrower, and the account has other collateral.
    StabilityPoolCannotAbsorb {
        /// The stability pool.
        pool: String,
    },
    /// 110: the venue has no `[claims]` table.
    ClaimsNotConfigured,
    /// 111: the account is not an assessor of `[claims]`.
    NotAssessor {
        /// The account.
        account: AccountId,
    },
    /// 112: the loss window is reversed or ends in the future.
    BadLossWindow {
        /// Start given.
        loss_start: u64,
        /// End given.
        loss_end: u64,
        /// Current time.
        now: u64,
    },
    /// 113: no incident with this id.
    UnknownIncident {
        /// Incident id.
        incident: u64,
    },
    /// 114: the incident's filing period is over.
    FilingClosed {
        /// Incident id.
        incident: u64,
        /// End of filing (s).
        filing_end: u64,
    },
    /// 115: no claim with this id.
    UnknownClaim {
        /// Claim id.
        claim: u64,
    },
    /// 116: the incident's assessment deadline has passed.
    AssessmentClosed {
        /// Incident id.
        incident: u64,
        /// Assessment deadline (s).
        assessment_end: u64,
    },
    /// 117: the claim was already assessed.
    AlreadyAssessed {
        /// Claim id.
        claim: u64,
    },
    /// 118: the approved amount is negative or above the amount claimed.
    ApprovedAboveClaim {
        /// Claim id.
        claim: u64,
        /// Amount claimed.
        claimed: Amount,
        /// Amount approved.
        approved: Amount,
    },
    /// 119: claims cannot be paid before the assessment deadline.
    AssessmentNotOver {
        /// Incident id.
        incident: u64,
        /// Assessment deadline (s).
        assessment_end: u64,
    },
    /// 120: the incident's claims were already paid.
    IncidentAlreadyPaid {
        /// Incident id.
        incident: u64,
    },
    /// 121: the account is not the claimant of this claim.
    NotClaimant {
        /// Claim id.
        claim: u64,
        /// The account.
        account: AccountId,
    },
    /// 122: nothing of the claim's payout has vested beyond what was withdrawn.
    NothingVested {
        /// Claim id.
        claim: u64,
    },
    /// 123: recoveries are routed only after the incident's claims were paid.
    IncidentNotPaid {
        /// Incident id.
        incident: u64,
    },
    /// 90: the venue has no `[governance]` table.
    GovernanceNotConfigured,
    /// 91: not enough voting power (to propose: the threshold; to vote: any at the snapshot).
    NotEnoughPower {
        /// The account.
        account: AccountId,
        /// Its power.
        power: Amount,
        /// Power needed.
        needed: Amount,
    },
    /// 92: the proposal's voting period is over (or it is no longer active).
    VotingClosed {
        /// Proposal.
        proposal: u64,
        /// End of voting (s).
        ends_at: u64,
    },
    /// 93: the voter already voted on this proposal.
    AlreadyVoted {
        /// Proposal.
        proposal: u64,
        /// Voter.
        voter: AccountId,
    },
    /// 94: votes cast are below the quorum.
    QuorumNotMet {
        /// Proposal.
        proposal: u64,
        /// Votes cast.
        cast: Amount,
        /// Quorum.
        quorum: Amount,
    },
    /// 95: votes in favour are below the approval threshold.
    ApprovalNotMet {
        /// Proposal.
        proposal: u64,
        /// Votes for.
        votes_for: Amount,
        /// Needed.
        needed: Amount,
    },
    /// 96: the timelock is not over.
    TimelockNotOver {
        /// Proposal.
        proposal: u64,
        /// Earliest execution (s).
        eta: u64,
    },
    /// 97: the queued proposal expired.
    ProposalExpired {
        /// Proposal.
        proposal: u64,
        /// Expiry (s).
        expires_at: u64,
    },
    /// 98: a parameter value outside its declared bounds.
    OutOfBounds {
        /// Path.
        path: String,
        /// Value asked.
        value: Amount,
    },
    /// 99: the proposal was already executed.
    AlreadyExecuted {
        /// Proposal.
        proposal: u64,
    },
    /// 100: only the proposer may cancel.
    NotProposer {
        /// Proposal.
        proposal: u64,
        /// Caller.
        account: AccountId,
    },
    /// 101: only the guardian may do this.
    NotGuardian {
        /// Caller.
        account: AccountId,
    },
    /// 102: no proposal with this id.
    UnknownProposal {
        /// Proposal.
        proposal: u64,
    },
    /// 103: the voting period is not over yet.
    VotingNotOver {
        /// Proposal.
        proposal: u64,
        /// End of voting (s).
        ends_at: u64,
    },
    /// 104: the proposal is not in the state the command needs (cancelled, vetoed, not queued).
    ProposalNotInState {
        /// Proposal.
        proposal: u64,
        /// Its status.
        status: String,
    },
    /// 105: an action (or transfer) that cannot be applied: undeclared parameter, unknown layer,
    /// layers of different assets, a layer not holding the amount, an invalid new configuration.
    InvalidAction {
        /// Why.
        reason: String,
    },
    /// 106: a governance `MintAndAuction` action on a venue without a `[recap]` section.
    RecapNotConfigured,
    /// 140: the English auction's last bid expired or its time ran out: it can only be dealt.
    AuctionBiddingOver {
        /// Auction.
        auction: AuctionId,
    },
    /// 141: an English-auction bid that does not beat the standing one by the rules of its phase.
    BidTooLow {
        /// Auction.
        auction: AuctionId,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// 142: an English auction with no bid cannot be dealt (restart it with `reset_auction`).
    AuctionHasNoBid {
        /// Auction.
        auction: AuctionId,
    },
    /// 130: an invariant was broken by a command (a bug); the engine accepts no more commands.
    InvariantBroken {
        /// Invariant number in docs/INVARIANTS.md.
        invariant: u8,
        /// What was found.
        detail: String,
    },
}

impl Rejection {
    /// The stable numeric code of this rejection.
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            Rejection::UnknownAccount { .. } => 1,
            Rejection::AccountExists { .. } => 2,
            Rejection::UnknownAsset { .. } => 3,
            Rejection::UnknownLendingMarket { .. } => 4,
            Rejection::UnknownPerpMarket { .. } => 5,
            Rejection::NotPositive { .. } => 6,
            Rejection::TooPrecise { .. } => 7,
            Rejection::InsufficientBalance { .. } => 8,
            Rejection::InsufficientLiquidity { .. } => 9,
            Rejection::WouldBeUnhealthy { .. } => 10,
            Rejection::NotLiquidatable { .. } => 11,
            Rejection::NoPrice { .. } => 12,
            Rejection::StalePrice { .. } => 13,
            Rejection::PriceMoveTooLarge { .. } => 14,
            Rejection::TimeWentBackwards { .. } => 15,
            Rejection::Overflow { .. } => 16,
            Rejection::SelfLiquidation { .. } => 17,
            Rejection::NoDebt { .. } => 18,
            Rejection::NoCollateral { .. } => 19,
            Rejection::PriceOutsideBand { .. } => 20,
            Rejection::OpenInterestCapExceeded { .. } => 21,
            Rejection::LeverageTooHigh { .. } => 22,
            Rejection::ZeroShares { .. } => 23,
            Rejection::BorrowingDisabled { .. } => 24,
            Rejection::UnknownAuction { .. } => 25,
            Rejection::AuctionNeedsReset { .. } => 26,
            Rejection::AuctionPriceAboveLimit { .. } => 27,
            Rejection::AuctionStillRunning { .. } => 28,
            Rejection::SameAccount { .. } => 29,
            Rejection::NoPosition { .. } => 30,
            Rejection::AccountLimitReached { .. } => 31,
            Rejection::KeeperUnhealthy { .. } => 32,
            Rejection::NotBackstopAccount { .. } => 33,
            Rejection::AccountInAuction { .. } => 34,
            Rejection::WrongLiquidationTarget { .. } => 35,
            Rejection::UnknownLayer { .. } => 36,
            Rejection::BackstopAccountProtected { .. } => 37,
            Rejection::TimeStepTooLarge { .. } => 38,
            Rejection::CoverInForce { .. } => 60,
            Rejection::PremiumFundMismatch { .. } => 61,
            Rejection::PremiumAboveFund { .. } => 62,
            Rejection::UnknownCoverClaim { .. } => 63,
            Rejection::SettlementAboveClaim { .. } => 64,
            Rejection::UnknownRecapAuction { .. } => 65,
            Rejection::RecapApproval { .. } => 66,
            Rejection::RecapLotTooHigh { .. } => 67,
            Rejection::RecapTooEarly { .. } => 68,
            Rejection::RecapMintCapExceeded { .. } => 69,
            Rejection::StatusBlocks { .. } => 80,
            Rejection::StatusNotAllowed { .. } => 81,
            Rejection::StatusHeldByAdmin { .. } => 82,
            Rejection::AssetPaused { .. } => 83,
            Rejection::AssetNotPaused { .. } => 84,
            Rejection::WithdrawalsGated { .. } => 85,
            Rejection::NoStatusPool => 86,
            Rejection::StakeZeroShares { .. } => 40,
            Rejection::StakerPoolDrained { .. } => 41,
            Rejection::StakeLosesValue { .. } => 42,
            Rejection::InsufficientStake { .. } => 43,
            Rejection::UnstakeQueueFull { .. } => 44,
            Rejection::InsufficientQueued { .. } => 45,
            Rejection::UnstakeNotExpired { .. } => 46,
            Rejection::StakerPoolBadDebt { .. } => 47,
            Rejection::NoStakerRewards { .. } => 48,
            Rejection::SeedWithoutRandomAdl { .. } => 70,
            Rejection::NoStabilityDeposit { .. } => 50,
            Rejection::StabilityPoolCannotAbsorb { .. } => 51,
            Rejection::ClaimsNotConfigured => 110,
            Rejection::NotAssessor { .. } => 111,
            Rejection::BadLossWindow { .. } => 112,
            Rejection::UnknownIncident { .. } => 113,
            Rejection::FilingClosed { .. } => 114,
            Rejection::UnknownClaim { .. } => 115,
            Rejection::AssessmentClosed { .. } => 116,
            Rejection::AlreadyAssessed { .. } => 117,
            Rejection::ApprovedAboveClaim { .. } => 118,
            Rejection::AssessmentNotOver { .. } => 119,
            Rejection::IncidentAlreadyPaid { .. } => 120,
            Rejection::NotClaimant { .. } => 121,
            Rejection::NothingVested { .. } => 122,
            Rejection::IncidentNotPaid { .. } => 123,
            Rejection::GovernanceNotConfigured => 90,
            Rejection::NotEnoughPower { .. } => 91,
            Rejection::VotingClosed { .. } => 92,
            Rejection::AlreadyVoted { .. } => 93,
            Rejection::QuorumNotMet { .. } => 94,
            Rejection::ApprovalNotMet { .. } => 95,
            Rejection::TimelockNotOver { .. } => 96,
            Rejection::ProposalExpired { .. } => 97,
            Rejection::OutOfBounds { .. } => 98,
            Rejection::AlreadyExecuted { .. } => 99,
            Rejection::NotProposer { .. } => 100,
            Rejection::NotGuardian { .. } => 101,
            Rejection::UnknownProposal { .. } => 102,
            Rejection::VotingNotOver { .. } => 103,
            Rejection::ProposalNotInState { .. } => 104,
            Rejection::InvalidAction { .. } => 105,
            Rejection::RecapNotConfigured => 106,
            Rejection::InvariantBroken { .. } => 130,
            Rejection::AuctionBiddingOver { .. } => 140,
            Rejection::BidTooLow { .. } => 141,
            Rejection::AuctionHasNoBid { .. } => 142,
        }
    }

    /// The rejection of every command once `violation` has halted the engine.
    #[must_use]
    pub fn invariant_broken(violation: &crate::invariants::Violation) -> Rejection {
        Rejection::InvariantBroken {
            invariant: violation.invariant,
            detail: violation.detail.clone(),
        }
    }

    /// Maps a money error met while computing `context` to a rejection.
    pub fn from_money(context: &'static str) -> impl Fn(MoneyError) -> Rejection {
        move |_| Rejection::Overflow { context }
    }
}

impl core::fmt::Display for Rejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "rejected ({}): ", self.code())?;
        match self {
            Rejection::UnknownAccount { account } => write!(f, "no account {}", account.0),
            Rejection::AccountExists { account } => {
                write!(f, "account {} already exists", account.0)
            }
            Rejection::UnknownAsset { asset } => write!(f, "no asset with id {}", asset.0),
            Rejection::UnknownLendingMarket { asset } => {
                write!(f, "asset {} has no lending market", asset.0)
            }
            Rejection::UnknownPerpMarket { market } => write!(f, "no perp market {}", market.0),
            Rejection::NotPositive { field } => write!(f, "{field} must be positive"),
            Rejection::TooPrecise { asset, decimals } => {
                write!(f, "amount of asset {} has more than {decimals} decimals", asset.0)
            }
            Rejection::InsufficientBalance { account, asset, available, needed } => write!(
                f,
                "account {} holds {available} of asset {} but {needed} is needed",
                account.0, asset.0
            ),
            Rejection::InsufficientLiquidity { asset, available, needed } => {
                write!(f, "lending market {} has {available} cash but {needed} is needed", asset.0)
            }
            Rejection::WouldBeUnhealthy { account, margin, requirement } => write!(
                f,
                "account {} would have margin {margin} below its requirement {requirement}",
                account.0
            ),
            Rejection::NotLiquidatable { account } => {
                write!(f, "account {} is above its maintenance margin", account.0)
            }
            Rejection::NoPrice { asset } => write!(f, "asset {} has no oracle price", asset.0),
            Rejection::StalePrice { asset, age_secs } => {
                write!(f, "price of asset {} is {age_secs} s old", asset.0)
            }
            Rejection::PriceMoveTooLarge { asset, previous, price } => write!(
                f,
                "price of asset {} moved from {previous} to {price}, beyond the oracle guard",
                asset.0
            ),
            Rejection::TimeWentBackwards { now, requested } => {
                write!(f, "time {requested} is before the current time {now}")
            }
            Rejection::Overflow { context } => write!(f, "overflow while computing {context}"),
            Rejection::SelfLiquidation { account } => {
                write!(f, "account {} may not liquidate itself", account.0)
            }
            Rejection::NoDebt { account, asset } => {
                write!(f, "account {} has no debt in market {}", account.0, asset.0)
            }
            Rejection::NoCollateral { account, asset } => {
                write!(f, "account {} holds no collateral of asset {}", account.0, asset.0)
            }
            Rejection::PriceOutsideBand { market, price, oracle } => write!(
                f,
                "trade price {price} is outside the band around oracle {oracle} in market {}",
                market.0
            ),
            Rejection::OpenInterestCapExceeded { market, open_interest, cap } => write!(
                f,
                "open interest {open_interest} would exceed the cap {cap} in market {}",
                market.0
            ),
            Rejection::LeverageTooHigh { account, market } => write!(
                f,
                "account {} would exceed the maximum leverage of market {}",
                account.0, market.0
            ),
            Rejection::ZeroShares { asset } => {
                write!(f, "amount too small: zero shares in market {}", asset.0)
            }
            Rejection::BorrowingDisabled { asset } => {
                write!(f, "borrowing is disabled in market {}", asset.0)
            }
            Rejection::UnknownAuction { auction } => write!(f, "no running auction {}", auction.0),
            Rejection::AuctionNeedsReset { auction } => {
                write!(f, "auction {} passed its limits and must be reset", auction.0)
            }
            Rejection::AuctionPriceAboveLimit { auction, price, max_price } => {
                write!(f, "auction {} price {price} is above the limit {max_price}", auction.0)
            }
            Rejection::AuctionBiddingOver { auction } => {
                write!(f, "bidding in auction {} is over; it can only be dealt", auction.0)
            }
            Rejection::BidTooLow { auction, reason } => {
                write!(f, "bid refused in auction {}: {reason}", auction.0)
            }
            Rejection::AuctionHasNoBid { auction } => {
                write!(f, "auction {} has no bid to deal; restart it with reset_auction", auction.0)
            }
            Rejection::AuctionStillRunning { auction } => {
                write!(f, "auction {} does not need a reset", auction.0)
            }
            Rejection::SameAccount { account } => {
                write!(f, "account {} cannot trade with itself", account.0)
            }
            Rejection::NoPosition { account, market } => {
                write!(f, "account {} has no position in market {}", account.0, market.0)
            }
            Rejection::AccountLimitReached { limit } => {
                write!(f, "the venue already holds its limit of {limit} accounts")
            }
            Rejection::KeeperUnhealthy { keeper } => {
                write!(f, "keeper {} would fall below its initial margin", keeper.0)
            }
            Rejection::NotBackstopAccount { account } => {
                write!(f, "account {} is not an open backstop account", account.0)
            }
            Rejection::AccountInAuction { account } => {
                write!(f, "account {} has a liquidation auction running", account.0)
            }
            Rejection::WrongLiquidationTarget { reason } => write!(f, "{reason}"),
            Rejection::UnknownLayer { layer } => write!(f, "no safety-net layer {layer:?}"),
            Rejection::TimeStepTooLarge { now, requested } => write!(
                f,
                "time {requested} is more than {} s after the current time {now}",
                crate::oracle::TIME_STEP_MAX_SECS
            ),
            Rejection::BackstopAccountProtected { account } => {
                write!(f, "account {} is a backstop account and cannot be liquidated", account.0)
            }
            Rejection::CoverInForce { cover, term_end, open_claims } => write!(
                f,
                "cover {cover:?} is in force until {term_end} or has {open_claims} open claims"
            ),
            Rejection::PremiumFundMismatch { cover, fund } => {
                write!(f, "fund {fund:?} does not hold the asset of cover {cover:?}")
            }
            Rejection::PremiumAboveFund { fund, available, premium } => write!(
                f,
                "fund {fund:?} can pay {available} above its floor but the premium is {premium}"
            ),
            Rejection::UnknownCoverClaim { claim } => write!(f, "no open cover claim {claim}"),
            Rejection::SettlementAboveClaim { claim, claimed, amount } => write!(
                f,
                "settlement {amount} of claim {claim} is not between 0 and the claim {claimed}"
            ),
            Rejection::UnknownRecapAuction { auction } => {
                write!(f, "no running recap auction {auction}")
            }
            Rejection::RecapApproval { auction, approved: false } => {
                write!(f, "recap auction {auction} needs governance approval first")
            }
            Rejection::RecapApproval { auction, approved: true } => {
                write!(f, "recap auction {auction} is already approved")
            }
            Rejection::RecapLotTooHigh { auction, lot, asked } => {
                write!(f, "recap auction {auction} offers {lot} tokens but {asked} were asked")
            }
            Rejection::RecapTooEarly { auction, restart_at } => {
                write!(f, "recap auction {auction} may restart at {restart_at} at the earliest")
            }
            Rejection::RecapMintCapExceeded { auction, minted, lot, cap } => write!(
                f,
                "recap auction {auction} would mint {lot} with {minted} minted this period, above the cap {cap}"
            ),
            Rejection::StatusBlocks { status, action } => {
                write!(f, "the venue is {status:?}: {action} refused")
            }
            Rejection::StatusNotAllowed { requested, computed } => write!(
                f,
                "status {requested:?} is not allowed while the breaker's pool calls for {computed:?}"
            ),
            Rejection::StatusHeldByAdmin { status } => {
                write!(f, "status {status:?} was set by an admin; only an admin can lift it")
            }
            Rejection::AssetPaused { asset } => {
                write!(f, "the price of asset {} is paused by the oracle breaker", asset.0)
            }
            Rejection::AssetNotPaused { asset } => write!(f, "asset {} is not paused", asset.0),
            Rejection::WithdrawalsGated { account } => {
                write!(f, "withdrawals are gated while account {} has negative equity", account.0)
            }
            Rejection::NoStatusPool => {
                write!(f, "update_status needs a [breaker] section naming a staker pool")
            }
            Rejection::StakeZeroShares { pool, amount, assets, shares } => write!(
                f,
                "staking {amount} into pool {pool:?} (assets {assets}, shares {shares}) mints zero shares"
            ),
            Rejection::StakerPoolDrained { pool, shares } => {
                write!(f, "staker pool {pool:?} has {shares} shares but no assets")
            }
            Rejection::StakeLosesValue { pool, amount, value } => write!(
                f,
                "staking {amount} into pool {pool:?} would mint shares worth only {value}"
            ),
            Rejection::InsufficientStake { account, pool, available, needed } => write!(
                f,
                "account {} holds {available} unqueued shares of pool {pool:?} but {needed} were asked",
                account.0
            ),
            Rejection::UnstakeQueueFull { account, pool, limit } => write!(
                f,
                "account {} already has {limit} queued withdrawals in pool {pool:?}",
                account.0
            ),
            Rejection::InsufficientQueued { account, pool, queued, needed } => write!(
                f,
                "account {} has {queued} queued shares in pool {pool:?} but {needed} were asked",
                account.0
            ),
            Rejection::UnstakeNotExpired { account, pool, unlock_at: Some(unlock_at) } => write!(
                f,
                "account {} has no expired withdrawal in pool {pool:?}; the first unlocks at {unlock_at}",
                account.0
            ),
            Rejection::UnstakeNotExpired { account, pool, unlock_at: None } => {
                write!(f, "account {} has no queued withdrawal in pool {pool:?}", account.0)
            }
            Rejection::StakerPoolBadDebt { pool, market } => write!(
                f,
                "withdrawals from pool {pool:?} are blocked while {market:?} has bad debt"
            ),
            Rejection::NoStakerRewards { account, pool } => {
                write!(f, "account {} has no rewards to claim in pool {pool:?}", account.0)
            }
            Rejection::SeedWithoutRandomAdl { seed } => write!(
                f,
                "seed {seed} given, but the liquidation target has no adl:random layer to use it"
            ),
            Rejection::NoStabilityDeposit { account, pool } => {
                write!(f, "account {} has no deposit in stability pool {pool:?}", account.0)
            }
            Rejection::StabilityPoolCannotAbsorb { pool } => write!(
                f,
                "stability pool {pool:?} is at its minimum and no other borrower can take the debt"
            ),
            Rejection::ClaimsNotConfigured => write!(f, "the venue has no [claims] table"),
            Rejection::NotAssessor { account } => {
                write!(f, "account {} is not a claims assessor", account.0)
            }
            Rejection::BadLossWindow { loss_start, loss_end, now } => write!(
                f,
                "loss window {loss_start}..{loss_end} is reversed or ends after now ({now})"
            ),
            Rejection::UnknownIncident { incident } => write!(f, "no incident {incident}"),
            Rejection::FilingClosed { incident, filing_end } => {
                write!(f, "filing for incident {incident} closed at {filing_end}")
            }
            Rejection::UnknownClaim { claim } => write!(f, "no claim {claim}"),
            Rejection::AssessmentClosed { incident, assessment_end } => {
                write!(f, "assessment for incident {incident} closed at {assessment_end}")
            }
            Rejection::AlreadyAssessed { claim } => write!(f, "claim {claim} is already assessed"),
            Rejection::ApprovedAboveClaim { claim, claimed, approved } => write!(
                f,
                "claim {claim}: approved {approved} is negative or above the {claimed} claimed"
            ),
            Rejection::AssessmentNotOver { incident, assessment_end } => {
                write!(f, "claims of incident {incident} cannot be paid before {assessment_end}")
            }
            Rejection::IncidentAlreadyPaid { incident } => {
                write!(f, "claims of incident {incident} were already paid")
            }
            Rejection::NotClaimant { claim, account } => {
                write!(f, "account {} is not the claimant of claim {claim}", account.0)
            }
            Rejection::NothingVested { claim } => {
                write!(f, "nothing of claim {claim}'s payout is left to withdraw yet")
            }
            Rejection::IncidentNotPaid { incident } => {
                write!(f, "incident {incident}'s claims are not paid yet; recoveries wait")
            }
            Rejection::GovernanceNotConfigured => write!(f, "the venue has no governance"),
            Rejection::NotEnoughPower { account, power, needed } => {
                write!(f, "account {} has voting power {power}, needs {needed}", account.0)
            }
            Rejection::VotingClosed { proposal, ends_at } => {
                write!(f, "voting on proposal {proposal} closed (ended at {ends_at})")
            }
            Rejection::AlreadyVoted { proposal, voter } => {
                write!(f, "account {} already voted on proposal {proposal}", voter.0)
            }
            Rejection::QuorumNotMet { proposal, cast, quorum } => {
                write!(f, "proposal {proposal}: {cast} votes cast, quorum {quorum}")
            }
            Rejection::ApprovalNotMet { proposal, votes_for, needed } => {
                write!(f, "proposal {proposal}: {votes_for} votes for, needs {needed}")
            }
            Rejection::TimelockNotOver { proposal, eta } => {
                write!(f, "proposal {proposal} is timelocked until {eta}")
            }
            Rejection::ProposalExpired { proposal, expires_at } => {
                write!(f, "proposal {proposal} expired at {expires_at}")
            }
            Rejection::OutOfBounds { path, value } => {
                write!(f, "{value} is outside the bounds of {path}")
            }
            Rejection::AlreadyExecuted { proposal } => {
                write!(f, "proposal {proposal} was already executed")
            }
            Rejection::NotProposer { proposal, account } => {
                write!(f, "account {} did not propose proposal {proposal}", account.0)
            }
            Rejection::NotGuardian { account } => {
                write!(f, "account {} is not the guardian", account.0)
            }
            Rejection::UnknownProposal { proposal } => write!(f, "no proposal {proposal}"),
            Rejection::VotingNotOver { proposal, ends_at } => {
                write!(f, "voting on proposal {proposal} runs until {ends_at}")
            }
            Rejection::ProposalNotInState { proposal, status } => {
                write!(f, "proposal {proposal} is {status}")
            }
            Rejection::InvalidAction { reason } => write!(f, "invalid: {reason}"),
            Rejection::RecapNotConfigured => {
                write!(f, "the venue has no [recap] section: nothing can be minted")
            }
            Rejection::InvariantBroken { invariant, detail } => {
                write!(f, "invariant I{invariant} broken, the engine is halted: {detail}")
            }
        }
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    /// Every code declared in this file (`/// N: …` on a variant) has a row in docs/rejections.md.
    #[test]
    fn every_code_is_documented() {
        let source = include_str!("rejection.rs");
        let documentation = include_str!("../../../docs/rejections.md");
        let mut codes = 0;
        for line in source.lines() {
            let Some(rest) = line.trim().strip_prefix("/// ") else { continue };
            let Some((code, _)) = rest.split_once(':') else { continue };
            if code.is_empty() || !code.bytes().all(|byte| byte.is_ascii_digit()) {
                continue;
            }
            codes += 1;
            assert!(
                documentation.contains(&format!("| {code} | ")),
                "code {code} is not in docs/rejections.md"
            );
        }
        assert!(codes >= 38, "found only {codes} codes");
    }
}
