//! Market agents: liquidation keepers with a capacity per step, a latency and outage windows;
//! square-root price impact of liquidation trades that decays; oracle delay.
//!
//! **Price impact.** Collateral a keeper seizes is sold into the market at once, and the debt a
//! keeper repays (a lending liquidation, a Dutch-auction take) is bought in it. Selling a value
//! `v` (numeraire) of an asset whose `[market] depth` is `D` multiplies its market price by
//! `1 − 0.01·√(v/D)` (capped at a 99% drop); buying (the repaid debt, or a keeper unwinding a
//! short position it took over) multiplies it by `1 + 0.01·√(v/D)`. Impacts accumulate in log
//! space and decay: at the start of every step the accumulated log impact is multiplied by
//! `1 − impact_decay`. The market price of a step is the scenario's price path times the impact
//! factor; the impact of the liquidations of a step shows in the next step's price, so
//! liquidations can cascade from step to step. Assets without a depth have no impact.
//!
//! **Oracle delay.** The oracle price of step `t` is the market price of step
//! `max(0, t − oracle_delay_steps)`; a depeg event overrides it ([`crate::exogenous`]).
//!
//! **Keepers.** Every step outside an outage window (`start ≤ step < end`), keepers liquidate the
//! accounts the engine's liquidation index reports as liquidatable (confirmed by the exact health
//! check) that have been liquidatable for at least `latency_steps` steps, up to
//! `count × capacity_per_step` actions per step (taking a running Dutch auction counts as one),
//! in an order shuffled with the path's random stream. Each liquidation targets the account's
//! largest open position (the whole of it), else its largest unpaid perpetual loss, else its
//! largest debt (the whole debt) against its largest collateral; the engine applies close factors
//! and every other rule.

use crate::scenario::{KeeperSpec, MarketSpec};
use backstop_core::{Account, AccountId, AssetId, Engine, LiquidationTarget, PerpMarketId};
use backstop_money::Amount;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Most keeper accounts a scenario may ask for.
pub const KEEPER_COUNT_MAX: u32 = 10_000;
/// Largest keeper capital (numeraire per asset per keeper).
pub const KEEPER_CAPITAL_MAX: u64 = 1_000_000_000_000;
/// Largest price drop one sale can cause (a fraction of the price).
const IMPACT_DROP_MAX: f64 = 0.99;

/// Market prices with accumulated price impact, and the oracle's view of them.
#[derive(Debug, Clone)]
pub(crate) struct Market {
    /// Depth per venue asset (None: no impact).
    depth: Vec<Option<f64>>,
    /// Accumulated log impact per asset (positive: price pushed down).
    impact: Vec<f64>,
    /// Share of the accumulated impact that decays each step.
    decay: f64,
    /// Oracle delay in steps.
    delay: usize,
    /// Market prices of the last `delay + 1` steps, oldest first.
    history: std::collections::VecDeque<Vec<f64>>,
}

impl Market {
    /// A market without impact yet, for a venue with `asset_count` assets.
    pub(crate) fn new(spec: &MarketSpec, symbols: &[String]) -> Market {
        let mut depth = vec![None; symbols.len()];
        for (asset, value) in &spec.depth {
            if let Some(index) = symbols.iter().position(|symbol| symbol == asset) {
                depth[index] = Some(*value);
            }
        }
        Market {
            depth,
            impact: vec![0.0; symbols.len()],
            decay: spec.impact_decay,
            delay: spec.oracle_delay_steps as usize,
            history: std::collections::VecDeque::new(),
        }
    }

    /// Starts a step: decays the impact (not at step 0), records the market prices (the path's
    /// prices times the impact factors) and returns the oracle prices.
    pub(crate) fn begin_step(&mut self, step: u32, path_prices: &[f64]) -> Vec<f64> {
        if step > 0 {
            for impact in &mut self.impact {
                *impact *= 1.0 - self.decay;
            }
        }
        let market: Vec<f64> = path_prices
            .iter()
            .zip(&self.impact)
            .map(|(price, impact)| price * (-impact).exp())
            .collect();
        self.history.push_back(market);
        while self.history.len() > self.delay + 1 {
            self.history.pop_front();
        }
        self.history.front().cloned().unwrap_or_default()
    }

    /// A keeper sells (`value` > 0) or buys (`value` < 0) this numeraire value of an asset.
    pub(crate) fn trade(&mut self, asset: usize, value: f64) {
        let (Some(Some(depth)), Some(impact)) = (self.depth.get(asset), self.impact.get_mut(asset))
        else {
            return;
        };
        if !value.is_finite() || value == 0.0 || *depth <= 0.0 {
            return;
        }
        let move_size = (0.01 * (value.abs() / depth).sqrt()).min(IMPACT_DROP_MAX);
        if value > 0.0 {
            *impact -= (-move_size).ln_1p();
        } else {
            *impact -= move_size.ln_1p();
        }
    }

    /// The market price of an asset this step (with impact, before any oracle delay); `None`
    /// before the first step.
    pub(crate) fn market_price(&self, asset: usize) -> Option<f64> {
        self.history.back().and_then(|prices| prices.get(asset)).copied()
    }

    /// Current impact factor of an asset (1: no impact), for tests and traces.
    #[cfg(test)]
    pub(crate) fn factor(&self, asset: usize) -> f64 {
        self.impact.get(asset).map_or(1.0, |impact| (-impact).exp())
    }
}

/// Keeper accounts and their state over a path.
#[derive(Debug, Clone)]
pub(crate) struct Keepers {
    /// Keeper accounts.
    pub(crate) ids: Vec<AccountId>,
    /// Actions per step in all (count × capacity).
    pub(crate) capacity: usize,
    /// Steps an account must have been liquidatable before a keeper acts.
    latency: u32,
    /// Outage windows, `start ≤ step < end`.
    outages: Vec<(u32, u32)>,
    /// Since which step each currently liquidatable account has been liquidatable.
    first_seen: BTreeMap<AccountId, u32>,
    /// Round-robin position of the next keeper.
    next: usize,
}

impl Keepers {
    /// Keepers with these accounts.
    pub(crate) fn new(spec: &KeeperSpec, mut ids: Vec<AccountId>) -> Keepers {
        ids.sort_unstable();
        let capacity = (spec.count as usize).saturating_mul(spec.capacity_per_step as usize);
        Keepers {
            ids,
            capacity,
            latency: spec.latency_steps,
            outages: spec.outages.clone(),
            first_seen: BTreeMap::new(),
            next: 0,
        }
    }

    /// Whether an account is a keeper (keepers do not liquidate each other).
    fn is_keeper(&self, id: AccountId) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    /// Whether keepers are down at this step.
    pub(crate) fn in_outage(&self, step: u32) -> bool {
        self.outages.iter().any(|(start, end)| *start <= step && step < *end)
    }

    /// The next keeper (round robin), if any.
    pub(crate) fn next_keeper(&mut self) -> Option<AccountId> {
        let keeper = self.ids.get(self.next % self.ids.len().max(1)).copied();
        self.next = self.next.wrapping_add(1);
        keeper
    }

    /// Accounts keepers may liquidate at this step, in a shuffled order: with a latency, the
    /// accounts liquidatable for at least the latency (and it keeps track of when accounts became
    /// liquidatable); without, the liquidation index's candidates, which the caller confirms
    /// with [`is_liquidatable`] before acting. Empty in an outage (tracking goes on when there is
    /// a latency).
    pub(crate) fn eligible(
        &mut self,
        engine: &Engine,
        step: u32,
        rng: &mut ChaCha8Rng,
    ) -> Vec<AccountId> {
        let outage = self.in_outage(step);
        if self.ids.is_empty() || (outage && self.latency == 0) {
            return Vec::new();
        }
        if self.latency == 0 {
            // Without a latency only the accounts keepers get to matter: shuffle the index's
            // candidates and confirm them with the exact health check lazily ([`is_liquidatable`]).
            let mut candidates = engine.liquidation_candidates();
            candidates.retain(|id| !self.is_keeper(*id));
            shuffle(&mut candidates, rng);
            return candidates;
        }
        let liquidatable = engine.liquidatable_accounts();
        let mut eligible = Vec::with_capacity(liquidatable.len());
        let mut seen = BTreeMap::new();
        for id in liquidatable {
            let since = self.first_seen.get(&id).copied().unwrap_or(step);
            seen.insert(id, since);
            if step.saturating_sub(since) >= self.latency && !self.is_keeper(id) {
                eligible.push(id);
            }
        }
        self.first_seen = seen;
        if outage {
            return Vec::new();
        }
        shuffle(&mut eligible, rng);
        eligible
    }
}

/// The exact health check: whether an account is liquidatable now.
pub(crate) fn is_liquidatable(engine: &Engine, account: AccountId) -> bool {
    engine.health(account).is_ok_and(|health| health.is_liquidatable())
}

/// Fisher–Yates shuffle drawing from the path's stream (same seed, same order).
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for index in (1..items.len()).rev() {
        let bound = (index as u64).saturating_add(1);
        let pick = (rng.next_u64() % bound) as usize;
        items.swap(index, pick);
    }
}

/// What a keeper liquidates in an account, and how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Choice {
    /// Target.
    pub(crate) target: LiquidationTarget,
    /// Largest amount: the whole debt, loss or position (the engine applies close factors).
    pub(crate) amount: Amount,
    /// Value of the account's lending debt (numeraire), for the volume of a takeover.
    pub(crate) debt_value: f64,
}

/// Picks a liquidation target for an account at these oracle prices (per asset index): its
/// largest open position, else its largest unpaid loss, else its largest debt against its
/// largest collateral. `None` when it owes nothing the engine can liquidate.
pub(crate) fn choose_target(engine: &Engine, account: &Account, prices: &[f64]) -> Option<Choice> {
    let price = |index: usize| prices.get(index).copied().unwrap_or(0.0);
    let config = engine.config();
    let mut debt_value = 0.0;
    let mut largest_debt: Option<(f64, usize, Amount)> = None;
    let mut largest_collateral: Option<(f64, usize)> = None;
    for (index, holding) in account.holdings.iter().enumerate() {
        if holding.balance.is_positive() {
            let value = crate::convert::to_f64(holding.balance.raw()) * price(index);
            if largest_collateral.is_none_or(|(best, _)| value > best) {
                largest_collateral = Some((value, index));
            }
        }
        if holding.debt_shares.is_positive() {
            let owed = engine
                .state()
                .lending
                .get(index)
                .and_then(Option::as_ref)
                .and_then(|market| market.debt_of(holding.debt_shares).ok())?;
            let value = crate::convert::to_f64(owed.raw()) * price(index);
            debt_value += value;
            if largest_debt.is_none_or(|(best, _, _)| value > best) {
                largest_debt = Some((value, index, owed));
            }
        }
    }
    let asset = |index: usize| u16::try_from(index).ok().map(AssetId);
    let perp = |index: usize| u16::try_from(index).ok().map(PerpMarketId);
    let mut largest_position: Option<(f64, usize, Amount)> = None;
    let mut largest_loss: Option<(Amount, usize)> = None;
    for (index, position) in account.positions.iter().enumerate() {
        if !position.base.is_zero() {
            let underlying = config
                .perps
                .get(index)
                .and_then(|market| config.asset_id(&market.underlying))
                .map_or(0.0, |asset| price(asset.index()));
            let size = position.base.checked_abs().ok()?;
            let value = crate::convert::to_f64(size.raw()) * underlying;
            if largest_position.is_none_or(|(best, _, _)| value > best) {
                largest_position = Some((value, index, size));
            }
        } else if position.quote.is_negative() {
            let loss = position.quote.checked_neg().ok()?;
            if largest_loss.is_none_or(|(best, _)| loss > best) {
                largest_loss = Some((loss, index));
            }
        }
    }
    if let Some((_, index, size)) = largest_position {
        return Some(Choice {
            target: LiquidationTarget::Position { market: perp(index)? },
            amount: size,
            debt_value,
        });
    }
    let (_, collateral) = largest_collateral?;
    if let Some((loss, index)) = largest_loss {
        return Some(Choice {
            target: LiquidationTarget::UnpaidLoss {
                market: perp(index)?,
                collateral: asset(collateral)?,
            },
            amount: loss,
            debt_value,
        });
    }
    let (_, debt, owed) = largest_debt?;
    Some(Choice {
        target: LiquidationTarget::Debt { debt: asset(debt)?, collateral: asset(collateral)? },
        amount: owed,
        debt_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_sale_of_the_depth_moves_the_price_one_percent_and_decays() {
        let spec = MarketSpec {
            depth: vec![("ETH".to_owned(), 1_000_000.0)],
            impact_decay: 0.5,
            oracle_delay_steps: 0,
        };
        let mut market = Market::new(&spec, &["USDC".to_owned(), "ETH".to_owned()]);
        assert_eq!(market.begin_step(0, &[1.0, 2000.0]), vec![1.0, 2000.0]);
        market.trade(1, 1_000_000.0);
        assert!((market.factor(1) - 0.99).abs() < 1e-12);
        // Four times the depth: 2% more.
        market.trade(1, 4_000_000.0);
        assert!((market.factor(1) - 0.99 * 0.98).abs() < 1e-12);
        market.trade(0, 1e12);
        assert!((market.factor(0) - 1.0).abs() < 1e-15, "no depth, no impact");
        let prices = market.begin_step(1, &[1.0, 2000.0]);
        let expected = 2000.0 * (0.99_f64 * 0.98).sqrt();
        assert!((prices[1] - expected).abs() < 1e-9, "{prices:?}");
        market.trade(1, -1_000_000.0);
        assert!((market.factor(1) - (0.99_f64 * 0.98).sqrt() * 1.01).abs() < 1e-12);
    }

    #[test]
    fn the_oracle_lags_the_market() {
        let spec = MarketSpec { depth: Vec::new(), impact_decay: 0.5, oracle_delay_steps: 2 };
        let mut market = Market::new(&spec, &["ETH".to_owned()]);
        let seen: Vec<f64> =
            (0..5).map(|step| market.begin_step(step, &[100.0 + f64::from(step)])[0]).collect();
        assert_eq!(seen, vec![100.0, 100.0, 100.0, 101.0, 102.0]);
    }

    #[test]
    fn shuffles_are_seeded() {
        let order = |seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut items: Vec<u32> = (0..20).collect();
            shuffle(&mut items, &mut rng);
            items
        };
        assert_eq!(order(1), order(1));
        assert_ne!(order(1), order(2));
        let mut sorted = order(3);
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<u32>>());
    }
}
