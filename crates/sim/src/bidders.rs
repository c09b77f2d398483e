//! Bidders in English collateral auctions (Maker Flip), limited as real keepers were:
//!
//! - **bankroll**: each bidder starts with `bankroll` units of the auctions' debt asset and
//!   nothing else (there is no unlimited default). A standing bid is escrowed by the engine, so
//!   capital tied up in bids is not available for the next auction; a won lot is sold back into
//!   the debt asset only `recycle_steps` steps after the deal.
//! - **transaction cost**: every action (a bid, a deal) costs `gas_per_action × gas price (gwei)
//!   × 10⁻⁹ × price of gas_asset` in the numeraire; the gas price follows the `gas_price_gwei`
//!   waypoints (held between them), so it can spike.
//! - **profit test**: an action is skipped when the profit it is expected to bring (the lot's
//!   value at the oracle price less the bid) is below the cost of the actions it needs (the bid
//!   and the deal).
//! - **reservation discount**: a bidder values a lot at `(1 − discount) ×` its oracle value and
//!   bids that (capped by the tab and by its free bankroll); in the dent phase it asks for the
//!   lot whose discounted value equals the tab.
//!
//! Nothing here is scripted: bidding stops when bankrolls are tied up or costs exceed profits.

use crate::scenario::BidderSpec;
use backstop_core::config::LiquidationMode;
use backstop_core::english_auction::EnglishAuction;
use backstop_core::{AccountId, AssetId, AuctionId, Command, Engine, VenueConfig};
use backstop_money::Amount;

/// Most bidder accounts a scenario may ask for.
pub const BIDDER_COUNT_MAX: u32 = 1_000;
/// Most bidding rounds on one auction in one step (each accepted bid raises the bid or cuts the
/// lot by `beg`, so a war ends long before).
const ROUNDS_MAX: usize = 64;

/// What the bidders need of the path that runs them.
pub(crate) trait AuctionVenue {
    /// The engine, to read.
    fn engine(&self) -> &Engine;
    /// Applies a command (events observed, a refusal counted); whether it was accepted.
    fn submit(&mut self, command: &Command) -> bool;
    /// Oracle price of an asset this step (numeraire).
    fn asset_price(&self, asset: usize) -> f64;
    /// Sells this numeraire value of an asset into the market (price impact).
    fn market_sell(&mut self, asset: usize, value: f64);
}

/// The bidders of a venue after preparation.
#[derive(Debug, Clone)]
pub(crate) struct BidderSetup {
    /// The scenario's `[bidders]`.
    pub(crate) spec: BidderSpec,
    /// Bidder accounts, in bidding order.
    pub(crate) ids: Vec<AccountId>,
    /// Index of the gas asset.
    pub(crate) gas_asset: usize,
    /// `beg` per debt asset index (markets in `english_auction` mode).
    pub(crate) beg: Vec<Option<f64>>,
}

/// The bidders' state over one path.
#[derive(Debug, Clone, Default)]
pub(crate) struct BidderRun {
    /// Won lots waiting to be sold back into the debt asset: (due step, winner, collateral,
    /// debt asset, lot).
    recycling: Vec<(u32, AccountId, AssetId, AssetId, Amount)>,
    /// Numeraire spent on transaction costs.
    pub(crate) gas_spent: f64,
}

impl BidderRun {
    /// Adds what another run collected (lots won while this one was taken out).
    pub(crate) fn merge(&mut self, other: BidderRun) {
        self.recycling.extend(other.recycling);
        self.gas_spent += other.gas_spent;
    }

    /// Notes a won lot, to be sold `recycle_steps` after `step`.
    pub(crate) fn won(
        &mut self,
        setup: &BidderSetup,
        step: u32,
        winner: AccountId,
        (collateral, debt): (AssetId, AssetId),
        lot: Amount,
    ) {
        let due = step.saturating_add(setup.spec.recycle_steps);
        self.recycling.push((due, winner, collateral, debt, lot));
    }
}

/// Checks `[bidders]`: present with sane values when a lending market liquidates by English
/// auction; the gas asset is a venue asset.
///
/// # Errors
/// The key and message of the first problem.
pub(crate) fn validate(
    spec: Option<&BidderSpec>,
    venue: &VenueConfig,
    symbols: &[String],
) -> Result<(), (String, String)> {
    let english = venue
        .lending
        .iter()
        .any(|market| matches!(market.liquidation, LiquidationMode::EnglishAuction(_)));
    let fail = |key: &str, message: String| Err((format!("bidders.{key}"), message));
    let Some(spec) = spec else {
        if english {
            return Err((
                "bidders".to_owned(),
                "a market liquidates by english_auction: [bidders] (count, bankroll, discount, \
                 gas_per_action, gas_price_gwei, gas_asset, recycle_steps) is required"
                    .to_owned(),
            ));
        }
        return Ok(());
    };
    if spec.count == 0 || spec.count > BIDDER_COUNT_MAX {
        return fail("count", format!("must be between 1 and {BIDDER_COUNT_MAX}"));
    }
    if !(spec.bankroll.is_finite() && spec.bankroll >= 0.0 && spec.bankroll <= 1e12) {
        return fail("bankroll", format!("must be between 0 and 1e12, got {}", spec.bankroll));
    }
    if !(spec.discount.is_finite() && (0.0..1.0).contains(&spec.discount)) {
        return fail("discount", format!("must be in [0, 1), got {}", spec.discount));
    }
    if !(spec.gas_per_action.is_finite() && spec.gas_per_action >= 0.0) {
        return fail("gas_per_action", "must be a finite number ≥ 0".to_owned());
    }
    if spec.gas_price_gwei.is_empty()
        || spec.gas_price_gwei.iter().any(|(at, gwei)| !(at.is_finite() && gwei.is_finite()))
        || spec.gas_price_gwei.iter().any(|(_, gwei)| *gwei < 0.0)
        || spec.gas_price_gwei.windows(2).any(|pair| pair[0].0 >= pair[1].0)
    {
        return fail(
            "gas_price_gwei",
            "needs [seconds, gwei] points with increasing seconds and gwei ≥ 0".to_owned(),
        );
    }
    if !symbols.contains(&spec.gas_asset) {
        return fail("gas_asset", format!("unknown asset {:?}", spec.gas_asset));
    }
    Ok(())
}

/// Bidder setup for a venue: `beg` of each English-auction debt market, the gas asset's index.
pub(crate) fn setup(spec: &BidderSpec, venue: &VenueConfig, ids: Vec<AccountId>) -> BidderSetup {
    let mut beg = vec![None; venue.assets.len()];
    for market in &venue.lending {
        if let (LiquidationMode::EnglishAuction(config), Some(asset)) =
            (&market.liquidation, venue.asset_id(&market.asset))
            && let Some(slot) = beg.get_mut(asset.index())
        {
            *slot = Some(crate::convert::to_f64(config.beg.raw()));
        }
    }
    let gas_asset = venue.asset_id(&spec.gas_asset).map_or(0, |asset| asset.index());
    BidderSetup { spec: spec.clone(), ids, gas_asset, beg }
}

/// One step of the bidders: sell won lots that are due, deal auctions whose bidding is over
/// (restart those that ended unbid), then let every bidder bid on every running auction until
/// nobody wants to bid any more.
pub(crate) fn act(
    venue: &mut impl AuctionVenue,
    setup: &BidderSetup,
    run: &mut BidderRun,
    step: u32,
) {
    let now = venue.engine().state().now;
    // Gas waypoints count seconds from the run's start, which is the engine's time 0.
    let cost = action_cost(&setup.spec, now as f64, venue.asset_price(setup.gas_asset));
    recycle(venue, run, step);
    let ids: Vec<AuctionId> = venue.engine().state().english_auctions.keys().copied().collect();
    for id in ids {
        let Some(auction) = venue.engine().state().english_auctions.get(&id) else { continue };
        if auction.is_over(now) {
            let command = if auction.bidder.is_some() {
                run.gas_spent += cost;
                Command::DealAuction { auction: id }
            } else {
                Command::ResetAuction { auction: id }
            };
            venue.submit(&command);
            continue;
        }
        for _ in 0..ROUNDS_MAX {
            if !bidding_round(venue, setup, run, id, cost) {
                break;
            }
        }
    }
}

/// Each bidder in turn looks at the auction once; whether any bid was accepted.
fn bidding_round(
    venue: &mut impl AuctionVenue,
    setup: &BidderSetup,
    run: &mut BidderRun,
    id: AuctionId,
    cost: f64,
) -> bool {
    let mut any = false;
    for bidder in &setup.ids {
        let Some(auction) = venue.engine().state().english_auctions.get(&id).cloned() else {
            return any;
        };
        if auction.bidder == Some(*bidder) {
            continue;
        }
        let Some(beg) = setup.beg.get(auction.debt.index()).copied().flatten() else {
            return any;
        };
        let debt_price = venue.asset_price(auction.debt.index()).max(1e-12);
        let price = venue.asset_price(auction.collateral.index()) / debt_price;
        let free = venue
            .engine()
            .account(*bidder)
            .and_then(|account| account.holdings.get(auction.debt.index()))
            .map_or(0.0, |holding| crate::convert::to_f64(holding.balance.raw()));
        let view = BidView::of(&auction, beg, price);
        let Some(plan) = plan_bid(&view, free, setup.spec.discount, cost / debt_price) else {
            continue;
        };
        let decimals = |asset: AssetId| {
            venue.engine().config().assets.get(asset.index()).map_or(18, |asset| asset.decimals)
        };
        let (lot, bid) = if view.in_dent() {
            (crate::convert::amount_in_units(plan.lot, decimals(auction.collateral)), auction.tab)
        } else if plan.bid >= view.tab {
            (auction.lot, auction.tab)
        } else {
            (auction.lot, crate::convert::amount_in_units(plan.bid, decimals(auction.debt)))
        };
        let command = Command::BidAuction { bidder: *bidder, auction: id, lot, bid };
        run.gas_spent += cost;
        if venue.submit(&command) {
            any = true;
        }
    }
    any
}

/// Sells the won lots that are due: the collateral leaves the bidder and its oracle value comes
/// back in the debt asset.
fn recycle(venue: &mut impl AuctionVenue, run: &mut BidderRun, step: u32) {
    if run.recycling.is_empty() {
        return;
    }
    let (due, later): (Vec<_>, Vec<_>) = run.recycling.drain(..).partition(|(at, ..)| *at <= step);
    run.recycling = later;
    for (_, account, collateral, debt, lot) in due {
        let debt_price = venue.asset_price(debt.index()).max(1e-12);
        let value = crate::convert::to_f64(lot.raw()) * venue.asset_price(collateral.index());
        let decimals =
            venue.engine().config().assets.get(debt.index()).map_or(18, |asset| asset.decimals);
        let proceeds = crate::convert::amount_in_units(value / debt_price, decimals);
        if venue.submit(&Command::Withdraw { account, asset: collateral, amount: lot }) {
            venue.market_sell(collateral.index(), value);
            if proceeds.is_positive() {
                venue.submit(&Command::Deposit { account, asset: debt, amount: proceeds });
            }
        }
    }
}

/// One bid a bidder decides to make: `bid` (debt asset units) for `lot` (collateral units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedBid {
    /// Collateral asked for.
    pub lot: f64,
    /// Debt asset offered.
    pub bid: f64,
}

/// What a bidder knows when it looks at an auction (floats: sim decisions, not balances).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BidView {
    /// Collateral for sale.
    pub lot: f64,
    /// Debt plus penalty wanted.
    pub tab: f64,
    /// Standing bid (0 without one).
    pub bid: f64,
    /// Whether there is a standing bid.
    pub has_bid: bool,
    /// Minimum increase as a multiple (`beg`).
    pub beg: f64,
    /// Oracle price of the collateral in the debt asset.
    pub collateral_price: f64,
}

impl BidView {
    /// The view of an engine auction, amounts converted to units.
    #[must_use]
    pub fn of(auction: &EnglishAuction, beg: f64, collateral_price: f64) -> BidView {
        BidView {
            lot: crate::convert::to_f64(auction.lot.raw()),
            tab: crate::convert::to_f64(auction.tab.raw()),
            bid: crate::convert::to_f64(auction.bid.raw()),
            has_bid: auction.bidder.is_some(),
            beg,
            collateral_price,
        }
    }

    /// Whether the standing bid covers the tab (dent phase).
    #[must_use]
    pub fn in_dent(&self) -> bool {
        self.has_bid && self.bid >= self.tab
    }
}

/// The bid a bidder with `free` debt asset, a reservation `discount` and a cost of `cost` per
/// action (in the debt asset) makes on an auction, or `None` when it does not bid.
///
/// Tend: it offers `min(tab, (1 − discount) × lot × price, free)`, which must beat the standing
/// bid by `beg` (or be the tab); dent: it asks for `tab / ((1 − discount) × price)`, which must
/// be at most the standing lot divided by `beg`, and needs the whole tab free. Either way the
/// expected profit `lot × price − bid` must be at least the cost of the bid and the deal.
#[must_use]
pub fn plan_bid(view: &BidView, free: f64, discount: f64, cost: f64) -> Option<PlannedBid> {
    let unit_value = view.collateral_price * (1.0 - discount);
    if unit_value.is_nan() || unit_value <= 0.0 || view.lot.is_nan() || view.lot <= 0.0 {
        return None;
    }
    let planned = if view.in_dent() {
        if free < view.tab {
            return None;
        }
        let lot = view.tab / unit_value;
        if lot * view.beg > view.lot {
            return None;
        }
        PlannedBid { lot, bid: view.tab }
    } else {
        let bid = view.tab.min(view.lot * unit_value).min(free.max(0.0));
        if view.has_bid && (bid <= view.bid || (bid < view.bid * view.beg && bid < view.tab)) {
            return None;
        }
        PlannedBid { lot: view.lot, bid }
    };
    let profit = planned.lot * view.collateral_price - planned.bid;
    (profit >= 2.0 * cost).then_some(planned)
}

/// Gas price (gwei) at `secs` after the start: the last waypoint at or before it (the first one
/// before it).
#[must_use]
pub fn gas_price_at(points: &[(f64, f64)], secs: f64) -> f64 {
    let mut price = points.first().map_or(0.0, |point| point.1);
    for (at, gwei) in points {
        if *at <= secs {
            price = *gwei;
        }
    }
    price
}

/// Cost of one action in the numeraire: gas × gwei × 10⁻⁹ × the gas asset's price.
#[must_use]
pub fn action_cost(spec: &BidderSpec, secs: f64, gas_asset_price: f64) -> f64 {
    spec.gas_per_action * gas_price_at(&spec.gas_price_gwei, secs) * 1e-9 * gas_asset_price
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn view(bid: f64, has_bid: bool) -> BidView {
        BidView { lot: 10.0, tab: 1_130.0, bid, has_bid, beg: 1.03, collateral_price: 100.0 }
    }

    #[test]
    fn tend_bids_the_discounted_value_capped_by_tab_and_bankroll() {
        // 10 × 100 × 0.9 = 900 < tab 1,130: bids 900 for the whole lot; profit 100 ≥ 2 × 5.
        assert_eq!(
            plan_bid(&view(0.0, false), 10_000.0, 0.10, 5.0),
            Some(PlannedBid { lot: 10.0, bid: 900.0 })
        );
        // Only 250 free: bids 250; with nothing free, the opening bid is zero.
        assert_eq!(plan_bid(&view(0.0, false), 250.0, 0.10, 5.0).unwrap().bid, 250.0);
        assert_eq!(plan_bid(&view(0.0, false), 0.0, 0.10, 5.0).unwrap().bid, 0.0);
        // A zero-bidder cannot beat a standing zero bid; 900 beats 800 × 1.03 = 824 but not
        // 880 × 1.03 = 906.4.
        assert_eq!(plan_bid(&view(0.0, true), 0.0, 0.10, 5.0), None);
        assert_eq!(plan_bid(&view(800.0, true), 10_000.0, 0.10, 5.0).unwrap().bid, 900.0);
        assert_eq!(plan_bid(&view(880.0, true), 10_000.0, 0.10, 5.0), None);
    }

    #[test]
    fn an_action_whose_profit_is_below_its_cost_is_skipped() {
        // Profit of the 900 bid is 100: enough against 2 × 50, not against 2 × 50.01.
        assert!(plan_bid(&view(0.0, false), 10_000.0, 0.10, 50.0).is_some());
        assert_eq!(plan_bid(&view(0.0, false), 10_000.0, 0.10, 50.01), None);
    }

    #[test]
    fn dent_asks_for_the_lot_worth_the_tab_after_the_discount() {
        // Price 200: the tab 1,130 is covered; lot = 1,130 / (200 × 0.9) = 6.2777…,
        // × 1.03 = 6.466 ≤ 10. Needs the whole tab free.
        let dent = BidView { collateral_price: 200.0, ..view(1_130.0, true) };
        let planned = plan_bid(&dent, 1_130.0, 0.10, 5.0).unwrap();
        assert_eq!(planned.bid, 1_130.0);
        assert!((planned.lot - 1_130.0 / 180.0).abs() < 1e-12);
        assert_eq!(plan_bid(&dent, 1_129.0, 0.10, 5.0), None);
        // At price 115 the lot worth the tab is 10.918 > 10 / 1.03: no dent bid.
        assert_eq!(plan_bid(&BidView { collateral_price: 115.0, ..dent }, 5e3, 0.10, 5.0), None);
    }

    #[test]
    fn gas_price_is_held_between_waypoints() {
        let points = [(0.0, 13.0), (36_000.0, 200.0), (100_000.0, 40.0)];
        assert_eq!(gas_price_at(&points, -1.0), 13.0);
        assert_eq!(gas_price_at(&points, 35_999.0), 13.0);
        assert_eq!(gas_price_at(&points, 36_000.0), 200.0);
        assert_eq!(gas_price_at(&points, 200_000.0), 40.0);
        // 150,000 gas × 200 gwei × 10⁻⁹ × 110 = 3.3.
        let spec = BidderSpec {
            count: 1,
            bankroll: 1.0,
            discount: 0.1,
            gas_per_action: 150_000.0,
            gas_price_gwei: points.to_vec(),
            gas_asset: "ETH".to_owned(),
            recycle_steps: 0,
        };
        assert!((action_cost(&spec, 50_000.0, 110.0) - 3.3).abs() < 1e-12);
    }
}
