//! Commands: every change to the engine's state is one of these.

use crate::ids::{AccountId, AssetId, AuctionId, MarketRef, PerpMarketId};
use backstop_money::{Amount, Price, Ratio};
use serde::{Deserialize, Serialize};

/// What an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A user or keeper account.
    #[default]
    Regular,
    /// A designated backstop account that takes over liquidated accounts.
    Backstop,
}

/// What a liquidation targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiquidationTarget {
    /// The debt of a lending market; the keeper repays it and seizes collateral.
    Debt {
        /// Asset of the debt to repay.
        debt: AssetId,
        /// Asset of the collateral to seize.
        collateral: AssetId,
    },
    /// The unpaid loss of a closed perpetual position; the keeper pays it and seizes collateral.
    UnpaidLoss {
        /// The market of the closed position.
        market: PerpMarketId,
        /// Asset of the collateral to seize.
        collateral: AssetId,
    },
    /// A perpetual position; the keeper takes part or all of it over at the oracle price.
    Position {
        /// The market of the position.
        market: PerpMarketId,
    },
}

/// A request to change the engine's state. Applied whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Moves the clock forward to `now` (seconds) and accrues interest in every lending market.
    AdvanceTime {
        /// New time in seconds; must not be earlier than the current time.
        now: u64,
    },
    /// Sets the oracle price of an asset at the current time.
    SetPrice {
        /// The asset priced.
        asset: AssetId,
        /// Numeraire per whole unit.
        price: Price,
    },
    /// Opens a new empty account.
    OpenAccount {
        /// Id for the new account.
        account: AccountId,
        /// Regular or backstop.
        #[serde(default)]
        kind: AccountKind,
    },
    /// Deposits collateral from outside the venue.
    Deposit {
        /// Receiving account.
        account: AccountId,
        /// Asset deposited.
        asset: AssetId,
        /// Quantity, positive.
        amount: Amount,
    },
    /// Withdraws collateral to outside the venue; rejected if it leaves the account unhealthy.
    Withdraw {
        /// Paying account.
        account: AccountId,
        /// Asset withdrawn.
        asset: AssetId,
        /// Quantity, positive.
        amount: Amount,
    },
    /// Moves an account's collateral into a lending market, minting supply shares.
    Supply {
        /// Supplying account.
        account: AccountId,
        /// Market (asset) supplied to.
        asset: AssetId,
        /// Quantity, positive.
        amount: Amount,
    },
    /// Redeems supply shares for this quantity of the asset, back into collateral.
    WithdrawSupply {
        /// Supplying account.
        account: AccountId,
        /// Market (asset) withdrawn from.
        asset: AssetId,
        /// Quantity, positive.
        amount: Amount,
    },
    /// Borrows from a lending market into the account's collateral.
    Borrow {
        /// Borrowing account.
        account: AccountId,
        /// Asset borrowed.
        asset: AssetId,
        /// Quantity, positive.
        amount: Amount,
    },
    /// Repays debt from the account's collateral; at most the outstanding debt is taken.
    Repay {
        /// Borrowing account.
        account: AccountId,
        /// Asset repaid.
        asset: AssetId,
        /// Largest quantity to repay, positive.
        amount: Amount,
    },
    /// Accrues interest in one lending market up to the current time.
    AccrueInterest {
        /// Market (asset).
        asset: AssetId,
    },
    /// Trades a perpetual between a taker and a maker at a price: opens, resizes or closes.
    Trade {
        /// Market traded.
        market: PerpMarketId,
        /// Account whose order took liquidity; it pays the trading fee.
        taker: AccountId,
        /// Account on the other side.
        maker: AccountId,
        /// Base quantity bought by the taker (negative: sold).
        size: Amount,
        /// Price in settlement units per unit of the underlying.
        price: Price,
    },
    /// Pays funding between longs and shorts of a market at a rate per period.
    AccrueFunding {
        /// Market.
        market: PerpMarketId,
        /// Fraction of oracle notional longs pay shorts (negative: shorts pay longs).
        rate: Ratio,
    },
    /// Liquidates an unhealthy account according to the target market's liquidation mode.
    Liquidate {
        /// Keeper account that pays and receives.
        keeper: AccountId,
        /// Account liquidated.
        account: AccountId,
        /// What to liquidate.
        target: LiquidationTarget,
        /// Largest quantity: debt to repay, or base of the position to take over.
        amount: Amount,
        /// Seed of the random starting point of `adl:random` auto-deleveraging (dYdX); 0 when
        /// unused. Any other value is refused unless the target is a position in a market whose
        /// waterfall has an `adl:random` layer.
        #[serde(default)]
        seed: u64,
    },
    /// Buys collateral from a running Dutch auction at its current price.
    TakeAuction {
        /// Buyer.
        keeper: AccountId,
        /// Auction.
        auction: AuctionId,
        /// Largest quantity of collateral to buy.
        amount: Amount,
        /// Highest price (numeraire per collateral unit) the keeper accepts.
        max_price: Price,
    },
    /// Restarts a Dutch auction whose time or price limit has passed, from the current oracle;
    /// or an English auction that ended with no bid, with a new end (Maker's `tick`).
    ResetAuction {
        /// Auction.
        auction: AuctionId,
    },
    /// Bids in a running English (tend/dent) auction: `bid` debt asset for `lot` collateral.
    /// Tend while the standing bid is below the tab (the whole lot, a higher bid); dent once it
    /// equals the tab (the tab as bid, a smaller lot). The bid is escrowed until outbid or dealt.
    BidAuction {
        /// Bidder.
        bidder: AccountId,
        /// Auction.
        auction: AuctionId,
        /// Collateral asked for.
        lot: Amount,
        /// Debt asset offered (zero allowed for the first bid).
        bid: Amount,
    },
    /// Settles an English auction whose last bid expired or whose time ran out: the lot goes
    /// to the highest bidder, unraised debt becomes a deficit.
    DealAuction {
        /// Auction.
        auction: AuctionId,
    },
    /// Sweeps the venue's fees in an asset (and its lending reserve) into the funds holding it.
    SettleRevenue {
        /// Asset.
        asset: AssetId,
    },
    /// Moves an account's collateral into a fund, offset or staker pool (a top-up or donation).
    Donate {
        /// Donor.
        account: AccountId,
        /// Layer as written in waterfalls: `fund:<name>`, `offset:<name>`, `stakers:<name>`.
        layer: String,
        /// Amount, positive.
        amount: Amount,
    },
    /// Brings funds recovered for a market into the venue; they flow back to the layers that
    /// paid its deficits, in reverse order.
    Recover {
        /// Market.
        market: MarketRef,
        /// Amount, positive.
        amount: Amount,
    },
    /// Buys a term of external cover: the premium (limit × premium rate × term / 365 days,
    /// rounded up to the asset's smallest unit) leaves the venue from a fund.
    BuyCover {
        /// Cover name (`[[cover]] name`).
        cover: String,
        /// Fund (`[[fund]] name`, same asset as the cover) that pays the premium.
        fund: String,
        /// Length of the term in seconds, positive.
        term_secs: u64,
    },
    /// The guarantor settles a cover claim: pays `amount` (0 ≤ amount ≤ claim; 0 denies it) into
    /// the market from outside; the unpaid rest returns to the deficit and the waterfall resumes
    /// after the cover.
    SettleCoverClaim {
        /// Claim id (from the `cover_claim_opened` event).
        claim: u64,
        /// Amount the guarantor pays.
        amount: Amount,
    },
    /// Governance approves a recapitalisation auction that needs approval before bids.
    ApproveRecap {
        /// Recap auction id (from the `recap_auction_opened` event).
        auction: u64,
    },
    /// Fills a recapitalisation auction: the bidder pays its fixed bid in the deficit asset and
    /// receives `lot` newly minted governance tokens (at most the auction's lot).
    BidRecap {
        /// Bidder; pays from its collateral balance and receives the tokens there.
        account: AccountId,
        /// Recap auction id.
        auction: u64,
        /// Tokens asked for the bid, positive, at most the auction's current lot.
        lot: Amount,
    },
    /// Restarts a recapitalisation auction left unfilled for `restart_secs`: its lot grows by
    /// `lot_growth`.
    RestartRecap {
        /// Recap auction id.
        auction: u64,
    },
    /// Moves the venue to the status its breaker staker pool calls for (anyone may call it).
    UpdateStatus {},
    /// Sets the venue status within the breaker's bounds (admin; anyone until roles arrive).
    SetStatus {
        /// The status asked for.
        status: crate::backstop::net::VenueStatus,
    },
    /// Clears the oracle breaker's pause of an asset (admin; anyone until roles arrive).
    Unpause {
        /// The paused asset.
        asset: AssetId,
    },
    /// Stakes collateral into a first-loss staker pool for new shares (`floor(amount × S / A)`,
    /// 1:1 into a pool without shares).
    Stake {
        /// Staker; pays from its collateral balance.
        account: AccountId,
        /// Staker pool (`[[staker_pool]] name`).
        pool: String,
        /// Amount, positive.
        amount: Amount,
    },
    /// Queues shares for withdrawal; they can complete after the pool's cooldown and stay
    /// exposed to slashing meanwhile.
    RequestUnstake {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Shares to queue, positive, at most the staker's unqueued shares.
        shares: backstop_money::Shares,
    },
    /// Returns queued shares to the staker, in the pool's dequeue order.
    CancelUnstake {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Shares to take out of the queue, positive.
        shares: backstop_money::Shares,
    },
    /// Pays every expired queued withdrawal of the staker into its collateral.
    CompleteUnstake {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
    },
    /// Mints the staker's accrued emissions into its collateral.
    ClaimRewards {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
    },
    /// Moves collateral of a stability pool's asset into the pool (Liquity `provideToSP`):
    /// first pays the depositor's collateral gains and compounds its deposit.
    StabilityDeposit {
        /// Depositor; pays from its collateral balance.
        account: AccountId,
        /// Stability pool (`[[stability_pool]] name`).
        pool: String,
        /// Amount, positive.
        amount: Amount,
    },
    /// Takes up to `amount` of the compounded deposit back into collateral (Liquity
    /// `withdrawFromSP`), paying the collateral gains too.
    StabilityWithdraw {
        /// Depositor.
        account: AccountId,
        /// Stability pool.
        pool: String,
        /// Largest amount to withdraw, positive (at most the compounded deposit is paid).
        amount: Amount,
    },
    /// Pays a depositor's collateral gains into its collateral balances.
    StabilityClaim {
        /// Depositor.
        account: AccountId,
        /// Stability pool.
        pool: String,
    },
    /// Models an exploit: `amount` of a lending market's cash leaves the venue and becomes the
    /// market's deficit, which walks its waterfall (used by the simulator and, with roles, by
    /// incident tooling).
    Exploit {
        /// The lending market drained (its asset).
        asset: AssetId,
        /// Amount drained, positive, at most the market's cash.
        amount: Amount,
    },
    /// Moves tokens of any asset between two accounts' balances (health-checked like a withdrawal).
    Transfer {
        /// Sender.
        from: AccountId,
        /// Receiver.
        to: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount, positive.
        amount: Amount,
    },
    /// Delegates the voting power of an account's governance-token balance (to itself: undo).
    Delegate {
        /// Token holder.
        account: AccountId,
        /// Delegate.
        to: AccountId,
    },
    /// Creates a governance proposal (power snapshotted at this command).
    Propose {
        /// Proposer.
        proposer: AccountId,
        /// Actions applied on execution.
        actions: Vec<crate::governance::Action>,
    },
    /// Votes on an active proposal with the voter's power at the proposal's snapshot.
    Vote {
        /// Voter (delegate).
        voter: AccountId,
        /// Proposal id.
        proposal: u64,
        /// For (true) or against.
        support: bool,
    },
    /// Queues a proposal whose vote ended with quorum and approval met.
    Queue {
        /// Proposal id.
        proposal: u64,
    },
    /// Executes a queued proposal after its timelock and before it expires.
    Execute {
        /// Proposal id.
        proposal: u64,
    },
    /// The proposer cancels a proposal not yet executed.
    Cancel {
        /// Proposer.
        proposer: AccountId,
        /// Proposal id.
        proposal: u64,
    },
    /// The guardian vetoes a queued proposal.
    Veto {
        /// Guardian.
        guardian: AccountId,
        /// Proposal id.
        proposal: u64,
    },
    /// The guardian pauses an asset.
    GuardianPause {
        /// Guardian.
        guardian: AccountId,
        /// Asset.
        asset: AssetId,
    },
    /// Declares an exploit incident on a market for a loss window (docs/claims.md).
    DeclareIncident {
        /// An assessor of `[claims]`.
        declarer: AccountId,
        /// The market exploited.
        market: MarketRef,
        /// Start of the loss window (s).
        loss_start: u64,
        /// End of the loss window (s), at most now.
        loss_end: u64,
    },
    /// Files a claim under an incident, within its filing period.
    FileClaim {
        /// Claimant (an open account).
        account: AccountId,
        /// Incident id.
        incident: u64,
        /// Amount claimed, positive (recorded up to `claim_cap`).
        amount: Amount,
        /// Evidence reference (free text).
        evidence: String,
    },
    /// Approves (up to the amount claimed) or rejects a claim, before the assessment deadline.
    AssessClaim {
        /// An assessor of `[claims]`.
        assessor: AccountId,
        /// Claim id.
        claim: u64,
        /// Whether approved.
        approve: bool,
        /// Amount approved (ignored when rejected).
        approved_amount: Amount,
    },
    /// Pays an incident's approved claims from the payout layers, after the assessment deadline.
    PayClaims {
        /// Incident id.
        incident: u64,
    },
    /// Credits the vested, not yet withdrawn part of a claim's payout.
    ClaimVested {
        /// The claimant.
        account: AccountId,
        /// Claim id.
        claim: u64,
    },
    /// Funds returned by an exploiter for an incident (from outside): back to the payout layers
    /// in reverse order, then to claimants not yet made whole.
    RecoverIncident {
        /// Incident id.
        incident: u64,
        /// Amount recovered, positive.
        amount: Amount,
    },
}

impl Command {
    /// Short snake-case name of the command, as used in scripts and events.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Command::AdvanceTime { .. } => "advance_time",
            Command::Transfer { .. } => "transfer",
            Command::Delegate { .. } => "delegate",
            Command::Propose { .. } => "propose",
            Command::Vote { .. } => "vote",
            Command::Queue { .. } => "queue",
            Command::Execute { .. } => "execute",
            Command::Cancel { .. } => "cancel",
            Command::Veto { .. } => "veto",
            Command::GuardianPause { .. } => "guardian_pause",
            Command::SetPrice { .. } => "set_price",
            Command::OpenAccount { .. } => "open_account",
            Command::Deposit { .. } => "deposit",
            Command::Withdraw { .. } => "withdraw",
            Command::Supply { .. } => "supply",
            Command::WithdrawSupply { .. } => "withdraw_supply",
            Command::Borrow { .. } => "borrow",
            Command::Repay { .. } => "repay",
            Command::AccrueInterest { .. } => "accrue_interest",
            Command::Trade { .. } => "trade",
            Command::AccrueFunding { .. } => "accrue_funding",
            Command::Liquidate { .. } => "liquidate",
            Command::TakeAuction { .. } => "take_auction",
            Command::ResetAuction { .. } => "reset_auction",
            Command::BidAuction { .. } => "bid_auction",
            Command::DealAuction { .. } => "deal_auction",
            Command::SettleRevenue { .. } => "settle_revenue",
            Command::Donate { .. } => "donate",
            Command::Recover { .. } => "recover",
            Command::Exploit { .. } => "exploit",
            Command::BuyCover { .. } => "buy_cover",
            Command::SettleCoverClaim { .. } => "settle_cover_claim",
            Command::ApproveRecap { .. } => "approve_recap",
            Command::BidRecap { .. } => "bid_recap",
            Command::RestartRecap { .. } => "restart_recap",
            Command::UpdateStatus { .. } => "update_status",
            Command::SetStatus { .. } => "set_status",
            Command::Unpause { .. } => "unpause",
            Command::Stake { .. } => "stake",
            Command::RequestUnstake { .. } => "request_unstake",
            Command::CancelUnstake { .. } => "cancel_unstake",
            Command::CompleteUnstake { .. } => "complete_unstake",
            Command::ClaimRewards { .. } => "claim_rewards",
            Command::StabilityDeposit { .. } => "stability_deposit",
            Command::StabilityWithdraw { .. } => "stability_withdraw",
            Command::StabilityClaim { .. } => "stability_claim",
            Command::DeclareIncident { .. } => "declare_incident",
            Command::FileClaim { .. } => "file_claim",
            Command::AssessClaim { .. } => "assess_claim",
            Command::PayClaims { .. } => "pay_claims",
            Command::ClaimVested { .. } => "claim_vested",
            Command::RecoverIncident { .. } => "recover_incident",
        }
    }
}
