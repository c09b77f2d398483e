//! Events: what an applied command did, with before/after figures where they matter.

use crate::command::AccountKind;
use crate::ids::{AccountId, AssetId, AuctionId, MarketRef, PerpMarketId};
use backstop_money::{Amount, Price, Ratio, Shares};
use serde::Serialize;

/// One consequence of an applied command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The clock moved.
    TimeAdvanced {
        /// Previous time (s).
        before: u64,
        /// New time (s).
        after: u64,
    },
    /// Interest accrued in a lending market.
    InterestAccrued {
        /// Market (asset).
        asset: AssetId,
        /// Borrow rate per year used.
        borrow_rate: Ratio,
        /// Interest added to all debts.
        interest: Amount,
        /// Part of the interest kept by the venue as reserve shares.
        reserve: Amount,
        /// Borrow index after.
        borrow_index: Ratio,
        /// Supply index after.
        supply_index: Ratio,
    },
    /// An oracle price was set.
    PriceSet {
        /// Asset.
        asset: AssetId,
        /// Price before (zero if never priced).
        before: Price,
        /// Price after.
        after: Price,
    },
    /// An account was opened.
    AccountOpened {
        /// The account.
        account: AccountId,
        /// Its kind.
        kind: AccountKind,
    },
    /// Collateral came in from outside.
    Deposited {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Quantity.
        amount: Amount,
    },
    /// Collateral went out of the venue.
    Withdrawn {
        /// Account.
        account: AccountId,
        /// Asset.
        asset: AssetId,
        /// Quantity.
        amount: Amount,
    },
    /// Collateral moved into a lending market.
    Supplied {
        /// Account.
        account: AccountId,
        /// Market (asset).
        asset: AssetId,
        /// Quantity.
        amount: Amount,
        /// Shares minted (rounded down).
        shares: Shares,
    },
    /// Supply shares were redeemed into collateral.
    SupplyWithdrawn {
        /// Account.
        account: AccountId,
        /// Market (asset).
        asset: AssetId,
        /// Quantity.
        amount: Amount,
        /// Shares burned (rounded up).
        shares: Shares,
    },
    /// A loan was taken.
    Borrowed {
        /// Account.
        account: AccountId,
        /// Market (asset).
        asset: AssetId,
        /// Quantity.
        amount: Amount,
        /// Debt shares added (rounded up).
        debt_shares: Shares,
    },
    /// A loan was repaid.
    Repaid {
        /// Account repaying (its own debt, or a liquidated account's through a keeper).
        account: AccountId,
        /// Market (asset).
        asset: AssetId,
        /// Quantity.
        amount: Amount,
        /// Debt shares removed.
        debt_shares: Shares,
    },
    /// Two accounts traded a perpetual.
    Traded {
        /// Market.
        market: PerpMarketId,
        /// Taker.
        taker: AccountId,
        /// Maker.
        maker: AccountId,
        /// Base bought by the taker (negative: sold).
        size: Amount,
        /// Price.
        price: Price,
        /// Fee paid by the taker to the venue.
        fee: Amount,
    },
    /// A closed position's realised PnL moved into (or out of) settlement collateral.
    PnlSettled {
        /// Account.
        account: AccountId,
        /// Market.
        market: PerpMarketId,
        /// Amount moved (negative: a loss paid from collateral).
        amount: Amount,
        /// Loss left unpaid in the position because collateral ran out (zero or negative).
        unsettled: Amount,
    },
    /// Funding was exchanged in a market.
    FundingPaid {
        /// Market.
        market: PerpMarketId,
        /// Rate applied.
        rate: Ratio,
        /// Total paid by the paying side (rounded up per position).
        paid: Amount,
        /// Total received by the other side (rounded down per position).
        received: Amount,
        /// Rounding kept by the venue (`paid − received`).
        residual: Amount,
    },
    /// A keeper liquidated lending debt for collateral at a fixed bonus.
    DebtLiquidated {
        /// Keeper.
        keeper: AccountId,
        /// Liquidated account.
        account: AccountId,
        /// Debt asset.
        debt: AssetId,
        /// Collateral asset.
        collateral: AssetId,
        /// Debt repaid by the keeper.
        repaid: Amount,
        /// Collateral taken from the account.
        seized: Amount,
        /// Part of the seized collateral kept by the venue.
        protocol_fee: Amount,
        /// Bonus rate applied (zero when the toxic-spiral guard withheld it).
        bonus: Ratio,
        /// Health factor before the liquidation.
        health_before: Option<Ratio>,
    },
    /// A keeper took over part or all of a perpetual position at the oracle price.
    PositionLiquidated {
        /// Keeper.
        keeper: AccountId,
        /// Liquidated account.
        account: AccountId,
        /// Market.
        market: PerpMarketId,
        /// Base taken over (sign of the liquidated position).
        size: Amount,
        /// Oracle price used.
        price: Price,
        /// Fee charged to the account.
        fee: Amount,
        /// Part of the fee kept by the venue.
        protocol_fee: Amount,
        /// Bankruptcy price of the position before the liquidation.
        bankruptcy_price: Option<Price>,
    },
    /// A whole account was taken over by a backstop account.
    AccountTakenOver {
        /// Backstop account.
        backstop: AccountId,
        /// Liquidated account.
        account: AccountId,
        /// Equity transferred (negative: a loss the backstop absorbs).
        equity: Amount,
    },
    /// A position moved in a takeover at its bankruptcy price.
    PositionTakenOver {
        /// Backstop account.
        backstop: AccountId,
        /// Liquidated account.
        account: AccountId,
        /// Market.
        market: PerpMarketId,
        /// Base transferred.
        size: Amount,
        /// Price at which the transfer leaves the account with zero equity.
        bankruptcy_price: Price,
    },
    /// A Dutch auction started for an account's collateral and debt.
    AuctionStarted {
        /// Auction.
        auction: AuctionId,
        /// Account liquidated.
        account: AccountId,
        /// Keeper who started it.
        keeper: AccountId,
        /// Collateral asset.
        collateral: AssetId,
        /// Debt asset.
        debt: AssetId,
        /// Collateral for sale.
        lot: Amount,
        /// Debt plus penalty to raise.
        tab: Amount,
        /// Starting price.
        top: Price,
    },
    /// A keeper bought from an auction.
    AuctionTaken {
        /// Auction.
        auction: AuctionId,
        /// Keeper.
        keeper: AccountId,
        /// Collateral bought.
        collateral: Amount,
        /// Debt asset paid.
        paid: Amount,
        /// Price paid (numeraire per collateral unit).
        price: Price,
    },
    /// An auction restarted from the current oracle price.
    AuctionReset {
        /// Auction.
        auction: AuctionId,
        /// New starting price.
        top: Price,
    },
    /// An English (tend/dent) auction of an account's collateral started.
    EnglishAuctionStarted {
        /// Auction.
        auction: AuctionId,
        /// Account liquidated.
        account: AccountId,
        /// Keeper who kicked it.
        keeper: AccountId,
        /// Collateral asset.
        collateral: AssetId,
        /// Debt asset.
        debt: AssetId,
        /// Collateral for sale.
        lot: Amount,
        /// Debt plus penalty wanted.
        tab: Amount,
        /// Time after which no more bids are taken.
        ends_at: u64,
    },
    /// A bid in an English auction stands (its amount escrowed).
    EnglishAuctionBid {
        /// Auction.
        auction: AuctionId,
        /// Bidder.
        bidder: AccountId,
        /// Collateral asked for.
        lot: Amount,
        /// Debt asset offered.
        bid: Amount,
        /// Whether it is a dent bid (tab covered, lot decreasing).
        dent: bool,
        /// Time the bid expires.
        expires_at: u64,
    },
    /// An outbid bidder got its escrow back.
    EnglishAuctionRefunded {
        /// Auction.
        auction: AuctionId,
        /// Outbid bidder.
        bidder: AccountId,
        /// Debt asset returned.
        amount: Amount,
    },
    /// An English auction was settled to its highest bidder.
    EnglishAuctionDealt {
        /// Auction.
        auction: AuctionId,
        /// Highest bidder, who receives the lot.
        winner: AccountId,
        /// Collateral delivered.
        lot: Amount,
        /// Winning bid (debt asset), zero included.
        bid: Amount,
        /// Debt the bid did not cover (a deficit, or back on the account if still backed).
        unraised: Amount,
    },
    /// An English auction that ended with no bid restarted with a new end.
    EnglishAuctionRestarted {
        /// Auction.
        auction: AuctionId,
        /// New end.
        ends_at: u64,
    },
    /// An auction ended.
    AuctionEnded {
        /// Auction.
        auction: AuctionId,
        /// Collateral returned to the account.
        returned: Amount,
        /// Tab left unraised (its debt part becomes a deficit, or goes back to the account).
        unraised: Amount,
        /// Unraised debt put back on the account because other collateral still backs it.
        debt_returned: Amount,
    },
    /// Bad debt left an account and was recorded against a market.
    DeficitRecorded {
        /// Market that bears the deficit.
        market: MarketRef,
        /// Account whose shortfall it was.
        account: AccountId,
        /// Amount (in the market's asset).
        amount: Amount,
        /// Market deficit after.
        deficit_after: Amount,
    },
    /// A layer of a market's waterfall paid towards its deficit.
    LayerPaid {
        /// Market.
        market: MarketRef,
        /// Layer as written in the waterfall.
        layer: String,
        /// Amount paid (in the market's deficit asset).
        amount: Amount,
        /// Uncovered deficit left after the payment.
        remaining: Amount,
    },
    /// A deficit was socialised: suppliers' index cut (lending) or positions charged (perps).
    Socialized {
        /// Market.
        market: MarketRef,
        /// Amount socialised.
        amount: Amount,
        /// Supply index before (lending; zero for perps).
        index_before: Ratio,
        /// Supply index after (lending; zero for perps).
        index_after: Ratio,
    },
    /// The venue's reserve shares in a lending market were redeemed into its fees.
    ReserveRedeemed {
        /// Market (asset).
        asset: AssetId,
        /// Tokens redeemed.
        amount: Amount,
        /// Reserve shares burned.
        shares: Shares,
    },
    /// Fees were swept into a fund.
    RevenueSettled {
        /// Fund.
        fund: String,
        /// Amount swept in.
        amount: Amount,
        /// Part passed on to the staker pool as rewards.
        to_stakers: Amount,
    },
    /// An account donated collateral to a layer.
    Donated {
        /// Donor.
        account: AccountId,
        /// Layer.
        layer: String,
        /// Amount.
        amount: Amount,
    },
    /// Funds were recovered for a market from outside the venue.
    Recovered {
        /// Market.
        market: MarketRef,
        /// Amount.
        amount: Amount,
    },
    /// Part of a recovery went back to a layer that had paid (or to the deficit, or fees).
    RecoveryReturned {
        /// Market.
        market: MarketRef,
        /// Layer, `deficit` or `fees`.
        layer: String,
        /// Amount.
        amount: Amount,
    },
    /// A term of external cover was bought; the premium left the venue from a fund.
    CoverBought {
        /// Cover.
        cover: String,
        /// Fund that paid the premium.
        fund: String,
        /// Premium paid (rounded up to the asset's smallest unit).
        premium: Amount,
        /// End of the term (s).
        term_end: u64,
    },
    /// The waterfall reached a cover in force and claimed the covered part of the deficit; the
    /// claim is pending until the guarantor settles it.
    CoverClaimOpened {
        /// Claim id.
        claim: u64,
        /// Cover.
        cover: String,
        /// Market.
        market: MarketRef,
        /// Amount claimed (moved from the deficit to pending).
        amount: Amount,
        /// Losses that have reached the cover in its term, this one included.
        losses_reached: Amount,
    },
    /// The guarantor settled a cover claim.
    CoverClaimSettled {
        /// Claim id.
        claim: u64,
        /// Cover.
        cover: String,
        /// Market.
        market: MarketRef,
        /// Paid into the market from outside.
        paid: Amount,
        /// Unpaid part returned to the deficit (the waterfall resumes after the cover).
        returned: Amount,
    },
    /// The waterfall reached `recap` and opened a recapitalisation auction.
    RecapAuctionOpened {
        /// Recap auction id.
        auction: u64,
        /// Market.
        market: MarketRef,
        /// Deficit-asset amount the auction raises (moved from the deficit to pending).
        bid: Amount,
        /// Governance tokens offered.
        lot: Amount,
        /// Whether bids are allowed yet (false until governance approves, when required).
        approved: bool,
    },
    /// Governance approved a recapitalisation auction.
    RecapApproved {
        /// Recap auction id.
        auction: u64,
    },
    /// An unfilled recapitalisation auction restarted with a larger lot.
    RecapRestarted {
        /// Recap auction id.
        auction: u64,
        /// Lot before.
        lot_before: Amount,
        /// Lot after (rounded down to the token's smallest unit).
        lot_after: Amount,
    },
    /// A bidder filled a recapitalisation auction: it paid the bid into the market and received
    /// newly minted governance tokens.
    RecapFilled {
        /// Recap auction id.
        auction: u64,
        /// Bidder.
        account: AccountId,
        /// Market.
        market: MarketRef,
        /// Deficit-asset amount paid.
        bid: Amount,
        /// Governance tokens minted to the bidder.
        lot: Amount,
    },
    /// The venue status changed (circuit breakers).
    StatusChanged {
        /// Status before.
        before: crate::backstop::net::VenueStatus,
        /// Status after.
        after: crate::backstop::net::VenueStatus,
        /// Whether an admin set it (`SetStatus`), rather than `UpdateStatus`.
        by_admin: bool,
    },
    /// A price update beyond the oracle guard paused the asset instead of moving its price.
    AssetPaused {
        /// Asset.
        asset: AssetId,
        /// Price kept.
        price: Price,
        /// Price proposed and not applied.
        proposed: Price,
    },
    /// The oracle breaker's pause of an asset was cleared.
    AssetUnpaused {
        /// Asset.
        asset: AssetId,
    },
    /// An emergency liquidity facility lent to a lending market that could not meet a withdrawal.
    LiquidityLent {
        /// Lending market (asset).
        asset: AssetId,
        /// Fund that lent.
        fund: String,
        /// Amount lent (fund balance to market cash).
        amount: Amount,
        /// Outstanding loan after.
        loan_after: Amount,
    },
    /// Cash entering a lending market repaid its emergency liquidity loan.
    LiquidityRepaid {
        /// Lending market (asset).
        asset: AssetId,
        /// Fund repaid.
        fund: String,
        /// Amount repaid (market cash to fund balance).
        amount: Amount,
        /// Outstanding loan after.
        loan_after: Amount,
    },
    /// Penalty interest accrued on an emergency liquidity loan, charged to the market's suppliers.
    LiquidityPenaltyCharged {
        /// Lending market (asset).
        asset: AssetId,
        /// Fund that lent.
        fund: String,
        /// Penalty added to the loan.
        penalty: Amount,
        /// Outstanding loan after.
        loan_after: Amount,
        /// Supply index before.
        supply_index_before: Ratio,
        /// Supply index after.
        supply_index_after: Ratio,
    },
    /// Part of an emergency liquidity loan was written off: after the market's suppliers were
    /// wiped out by socialisation, its cash and claims cannot repay it.
    LiquidityWrittenOff {
        /// Lending market (asset).
        asset: AssetId,
        /// Fund that bears the loss.
        fund: String,
        /// Amount written off.
        amount: Amount,
        /// Outstanding loan after.
        loan_after: Amount,
    },
    /// Collateral was staked into a staker pool.
    Staked {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Amount staked.
        amount: Amount,
        /// Shares minted (rounded down).
        shares: Shares,
        /// Pool assets after.
        pool_assets: Amount,
        /// Pool shares after.
        pool_shares: Shares,
    },
    /// Shares were queued for withdrawal.
    UnstakeRequested {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Shares queued.
        shares: Shares,
        /// Their value when queued (rounded down).
        value: Amount,
        /// When the withdrawal may complete (s).
        unlock_at: u64,
    },
    /// Queued shares returned to the staker.
    UnstakeCancelled {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Shares taken out of the queue.
        shares: Shares,
        /// Of those, shares burned for gains since the request (frozen exposure).
        shares_lost: Shares,
    },
    /// Expired queued withdrawals were paid into the staker's collateral.
    Unstaked {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Shares burned.
        shares: Shares,
        /// Amount paid.
        amount: Amount,
    },
    /// A staker claimed its emissions (newly minted).
    StakerRewardsClaimed {
        /// Staker.
        account: AccountId,
        /// Staker pool.
        pool: String,
        /// Emission asset.
        asset: AssetId,
        /// Amount minted to the staker.
        amount: Amount,
    },
    /// A staker pool was slashed towards a market's deficit.
    StakersSlashed {
        /// Staker pool.
        pool: String,
        /// Market whose deficit it paid.
        market: MarketRef,
        /// Amount slashed.
        amount: Amount,
        /// Pool assets before.
        assets_before: Amount,
        /// Pool assets after.
        assets_after: Amount,
    },
    /// A depositor put the debt asset into a stability pool.
    StabilityDeposited {
        /// Depositor.
        account: AccountId,
        /// Stability pool.
        pool: String,
        /// Amount deposited.
        amount: Amount,
        /// Compounded deposit after.
        deposit_after: Amount,
    },
    /// A depositor took (part of) its compounded deposit out of a stability pool.
    StabilityWithdrawn {
        /// Depositor.
        account: AccountId,
        /// Stability pool.
        pool: String,
        /// Amount withdrawn (at most the compounded deposit).
        amount: Amount,
        /// Compounded deposit after.
        deposit_after: Amount,
    },
    /// A depositor's collateral gain of one asset was paid into its balance.
    StabilityGainPaid {
        /// Depositor.
        account: AccountId,
        /// Stability pool.
        pool: String,
        /// Collateral asset.
        asset: AssetId,
        /// Amount paid (rounded down).
        amount: Amount,
    },
    /// A lending debt was liquidated against a stability pool.
    StabilityLiquidated {
        /// Account that called the liquidation (receives nothing).
        keeper: AccountId,
        /// Account liquidated.
        account: AccountId,
        /// Stability pool.
        pool: String,
        /// Debt asset.
        debt: AssetId,
        /// Collateral asset.
        collateral: AssetId,
        /// Debt removed from the account (offset + redistributed or recorded as deficit).
        debt_closed: Amount,
        /// Debt paid by burning pool deposits into the market.
        offset: Amount,
        /// Collateral the pool received for its depositors.
        collateral_to_pool: Amount,
        /// Collateral that went to the venue's fees (redistribution dust, or the collateral of
        /// a rest recorded as deficit).
        collateral_to_venue: Amount,
        /// Pool deposits after.
        deposits_after: Amount,
        /// Pool scale after.
        scale_after: u64,
        /// Health factor of the account before.
        health_before: Option<Ratio>,
    },
    /// Debt the stability pool could not absorb was redistributed to the market's other
    /// borrowers, with its collateral, pro rata to their debt shares.
    DebtRedistributed {
        /// Account liquidated.
        account: AccountId,
        /// Debt asset.
        debt: AssetId,
        /// Collateral asset.
        collateral: AssetId,
        /// Debt redistributed.
        amount: Amount,
        /// Collateral redistributed (dust included).
        collateral_amount: Amount,
        /// Number of receiving borrowers.
        receivers: u64,
        /// Collateral left by rounding down, to the venue's fees.
        dust: Amount,
    },
    /// A stability pool's deposits were burned to cover a market's deficit (waterfall layer).
    StabilityBurned {
        /// Stability pool.
        pool: String,
        /// Market whose deficit it paid.
        market: MarketRef,
        /// Amount burned.
        amount: Amount,
        /// Pool deposits after.
        deposits_after: Amount,
        /// Pool scale after.
        scale_after: u64,
    },
    /// Auto-deleveraging closed part of a bankrupt account's position against an opposite one:
    /// a two-sided trade with no fee.
    AdlFill {
        /// Market.
        market: PerpMarketId,
        /// The bankrupt account.
        account: AccountId,
        /// The account whose position was closed against it.
        counterparty: AccountId,
        /// Base the counterparty bought (negative: sold).
        size: Amount,
        /// Fill price: the bankruptcy price, or under `min_shortfall` the mark worsened by
        /// haircut / size (rounded against the counterparty).
        price: Price,
        /// What the counterparty gave up against a fill at the mark (settlement units).
        haircut: Amount,
    },
    /// A bankrupt position was closed whole by auto-deleveraging.
    Deleveraged {
        /// Market.
        market: PerpMarketId,
        /// The bankrupt account.
        account: AccountId,
        /// The ADL policy used.
        policy: crate::backstop::layers::AdlPolicy,
        /// Base closed (the account's position before; negative: a short).
        size: Amount,
        /// Shortfall at bankruptcy: −equity in settlement units, rounded up.
        shortfall: Amount,
        /// Part of it paid by the layers before ADL.
        layers_paid: Amount,
        /// Part of it covered by the counterparties' haircuts.
        haircuts: Amount,
        /// Rounding excess of the haircuts over the shortfall, credited to the venue's fees.
        dust: Amount,
        /// Bankruptcy price of the fills (`None` under `min_shortfall`, which fills at the mark).
        bankruptcy_price: Option<Price>,
    },
    /// An exploit drained a lending market's cash out of the venue.
    Exploited {
        /// The market (asset).
        asset: AssetId,
        /// Amount drained.
        amount: Amount,
    },
    /// An exploit incident was declared.
    IncidentDeclared {
        /// Incident id.
        incident: u64,
        /// Market exploited.
        market: MarketRef,
        /// Declarer.
        declarer: AccountId,
        /// Loss window start (s).
        loss_start: u64,
        /// Loss window end (s).
        loss_end: u64,
        /// Filing closes at (s).
        filing_end: u64,
        /// Assessment closes at (s).
        assessment_end: u64,
    },
    /// A claim was filed.
    ClaimFiled {
        /// Claim id.
        claim: u64,
        /// Incident id.
        incident: u64,
        /// Claimant.
        account: AccountId,
        /// Amount asked.
        asked: Amount,
        /// Amount recorded (capped at `claim_cap`).
        amount: Amount,
    },
    /// A claim was assessed (approved 0: rejected).
    ClaimAssessed {
        /// Claim id.
        claim: u64,
        /// Assessor.
        assessor: AccountId,
        /// Amount approved.
        approved: Amount,
    },
    /// A payout layer paid an incident's claims.
    IncidentLayerPaid {
        /// Incident id.
        incident: u64,
        /// Layer as written in `payout_order`.
        layer: String,
        /// Amount paid.
        amount: Amount,
    },
    /// An approved claim was granted its payout (credited, or held for vesting).
    ClaimPaid {
        /// Claim id.
        claim: u64,
        /// Claimant.
        account: AccountId,
        /// Amount granted.
        amount: Amount,
        /// Whether held for vesting.
        vesting: bool,
    },
    /// Vested payout credited to a claimant.
    ClaimVestedPaid {
        /// Claim id.
        claim: u64,
        /// Claimant.
        account: AccountId,
        /// Amount credited.
        amount: Amount,
    },
    /// Funds came back for an incident.
    IncidentRecovered {
        /// Incident id.
        incident: u64,
        /// Amount recovered.
        amount: Amount,
    },
    /// Part of a recovery went back to a payout layer (or `fees`).
    IncidentRecoveryReturned {
        /// Incident id.
        incident: u64,
        /// Layer (`fund:…`, `cover:…` — out to the guarantor — or `fees`).
        layer: String,
        /// Amount.
        amount: Amount,
    },
    /// Part of a recovery went to a claimant not yet made whole.
    ClaimRecovered {
        /// Claim id.
        claim: u64,
        /// Claimant.
        account: AccountId,
        /// Amount credited.
        amount: Amount,
    },
    /// Tokens moved between two accounts.
    Transferred {
        /// Sender.
        from: AccountId,
        /// Receiver.
        to: AccountId,
        /// Asset.
        asset: AssetId,
        /// Amount.
        amount: Amount,
    },
    /// An account delegated its governance-token voting power.
    Delegated {
        /// Holder.
        account: AccountId,
        /// Delegate.
        to: AccountId,
    },
    /// A proposal was created.
    ProposalCreated {
        /// Proposal id.
        proposal: u64,
        /// Proposer.
        proposer: AccountId,
        /// Token supply held in accounts at the snapshot.
        supply: Amount,
        /// End of the voting period (s).
        ends_at: u64,
    },
    /// A vote was cast.
    VoteCast {
        /// Proposal id.
        proposal: u64,
        /// Voter.
        voter: AccountId,
        /// For or against.
        support: bool,
        /// Power at the snapshot.
        power: Amount,
    },
    /// A proposal passed and was queued.
    ProposalQueued {
        /// Proposal id.
        proposal: u64,
        /// Earliest execution (s).
        eta: u64,
    },
    /// A proposal was executed (after the events of its actions).
    ProposalExecuted {
        /// Proposal id.
        proposal: u64,
    },
    /// The proposer cancelled a proposal.
    ProposalCancelled {
        /// Proposal id.
        proposal: u64,
    },
    /// The guardian vetoed a queued proposal.
    ProposalVetoed {
        /// Proposal id.
        proposal: u64,
    },
    /// Governance set a parameter.
    ParameterSet {
        /// Path.
        path: String,
        /// Value.
        value: Amount,
    },
    /// Governance or the guardian paused an asset.
    GovernancePaused {
        /// Asset.
        asset: AssetId,
    },
    /// Governance moved tokens between two layers.
    FundsReallocated {
        /// Source layer.
        from: String,
        /// Destination layer.
        to: String,
        /// Amount.
        amount: Amount,
    },
    /// Governance added a layer to a market's waterfall.
    LayerActivated {
        /// Market.
        market: String,
        /// Layer.
        layer: String,
    },
    /// Governance removed a layer from a market's waterfall.
    LayerDeactivated {
        /// Market.
        market: String,
        /// Layer.
        layer: String,
    },
}
