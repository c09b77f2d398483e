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
}
