//! What-if on the live state: a shock (price moves per asset over a path of steps, a depeg as an
//! absolute price, exploits, a keeper's capacity) run on a copy of the engine, never the journal.
//!
//! The shock becomes ordinary engine commands, chosen step by step against the copy: exploits
//! first, then per step the new oracle prices and, for every account the liquidation index finds
//! liquidatable, a deposit to a stress keeper (opened on the copy with the next free id) and a
//! liquidation, repeated while the account stays liquidatable and the step's keeper capacity
//! lasts. The answer is summarised from the events alone ([`summarise`]), so applying
//! [`StressReport::commands`] to the same state gives the same answer.

use backstop_core::{
    AccountId, AccountKind, AssetId, Command, Engine, Event, LiquidationTarget, MarketRef,
    PerpMarketId,
};
use backstop_money::{Amount, Price, Ratio, Rounding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Most steps in a price path.
pub const MAX_STEPS: usize = 32;
/// Most commands one stress run may apply to its copy.
pub const MAX_COMMANDS: usize = 20_000;
/// Most liquidation attempts per account and step (partial liquidations under a close factor).
const ATTEMPTS_PER_ACCOUNT: usize = 8;
/// Wall-clock budget of one run.
pub const TIME_BUDGET: Duration = Duration::from_secs(2);

/// A shock, as `POST /v1/stress` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shock {
    /// Price path: per step, asset symbol → move (`-30%`, `+5%`, relative to the price before
    /// the shock) or an absolute price (`0.95`, a depeg).
    #[serde(default)]
    pub steps: Vec<BTreeMap<String, String>>,
    /// Most tokens of a debt asset the keeper may repay per step (all markets together); absent:
    /// as much as the liquidations take.
    #[serde(default)]
    pub keeper_capacity: Option<Amount>,
    /// Lending markets drained before the first step.
    #[serde(default)]
    pub exploits: Vec<ExploitShock>,
}

/// One exploit of a shock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExploitShock {
    /// Lending market (asset symbol).
    pub asset: String,
    /// Tokens drained.
    pub amount: Amount,
}

/// What a shock would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StressReport {
    /// Per market: the new deficit, what each layer paid, what was socialised, what stays open.
    pub markets: Vec<MarketOutcome>,
    /// Liquidations applied.
    pub liquidations: u64,
    /// Commands the copy refused (a refusal changes nothing).
    pub rejected: u64,
    /// The commands applied to the copy, in order.
    pub commands: Vec<Command>,
}

/// One market's outcome under a shock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MarketOutcome {
    /// Market name.
    pub market: String,
    /// Asset of its deficits.
    pub asset: String,
    /// Deficit recorded during the shock.
    pub deficit: Amount,
    /// Per layer, as written in the waterfall: what it paid.
    pub paid: BTreeMap<String, Amount>,
    /// Socialised to suppliers or positions (borne by users, not by backstop capital).
    pub socialized: Amount,
    /// Deficit neither paid nor socialised: still recorded or pending after the shock.
    pub uncovered: Amount,
}

/// Why a shock was not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StressError {
    /// The shock names something unknown or a move that makes no price.
    Invalid(String),
    /// The run would exceed a bound (steps, commands or time).
    TooLarge(String),
}

impl core::fmt::Display for StressError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StressError::Invalid(message) | StressError::TooLarge(message) => f.write_str(message),
        }
    }
}

/// The price after a move: `-30%` / `+5%` of `start` (rounded down), or an absolute price.
///
/// # Errors
/// A move that is not a decimal, or leaves no positive price.
pub fn moved_price(start: Price, text: &str) -> Result<Price, StressError> {
    let invalid = |why: &str| StressError::Invalid(format!("move {text:?}: {why}"));
    let text = text.trim();
    let Some(percent) = text.strip_suffix('%') else {
        let price: Price = text.parse().map_err(|_| invalid("not a decimal price"))?;
        return if price.is_positive() { Ok(price) } else { Err(invalid("price must be > 0")) };
    };
    let (negative, digits) = match percent.strip_prefix('-').or_else(|| percent.strip_prefix('−'))
    {
        Some(rest) => (true, rest),
        None => (false, percent.strip_prefix('+').unwrap_or(percent)),
    };
    let points: Ratio = digits.parse().map_err(|_| invalid("not a percentage"))?;
    let hundred: Ratio = "100".parse().map_err(|_| invalid("percent"))?;
    // points / 100 is exact for percentages with at most 16 decimals; rounded down otherwise.
    let fraction = Ratio::from_fraction(points, hundred, Rounding::Floor)
        .map_err(|_| invalid("out of range"))?;
    let factor =
        if negative { Ratio::ONE.checked_sub(fraction) } else { Ratio::ONE.checked_add(fraction) }
            .map_err(|_| invalid("out of range"))?;
    if !factor.is_positive() {
        return Err(invalid("a fall of 100% or more leaves no price"));
    }
    let price = start.mul_ratio(factor, Rounding::Floor).map_err(|_| invalid("overflow"))?;
    if price.is_positive() { Ok(price) } else { Err(invalid("leaves a zero price")) }
}

/// The copy being shocked and the commands applied to it.
struct Run {
    engine: Engine,
    commands: Vec<Command>,
    events: Vec<Event>,
    rejected: u64,
    liquidations: u64,
    started: Instant,
}

impl Run {
    fn apply(&mut self, command: Command) -> Result<bool, StressError> {
        if self.commands.len() >= MAX_COMMANDS {
            return Err(StressError::TooLarge(format!(
                "the shock needs more than {MAX_COMMANDS} commands"
            )));
        }
        if self.started.elapsed() > TIME_BUDGET {
            return Err(StressError::TooLarge(format!(
                "the shock ran longer than {} s",
                TIME_BUDGET.as_secs()
            )));
        }
        let result = self.engine.apply(&command);
        self.commands.push(command);
        match result {
            Ok(events) => {
                self.events.extend(events);
                Ok(true)
            }
            Err(_) => {
                self.rejected = self.rejected.saturating_add(1);
                Ok(false)
            }
        }
    }
}

/// Runs a shock on a copy of `engine` (which is left untouched).
///
/// # Errors
/// [`StressError::Invalid`] for a shock naming unknown assets or bad moves,
/// [`StressError::TooLarge`] beyond [`MAX_STEPS`], [`MAX_COMMANDS`] or [`TIME_BUDGET`].
pub fn run(engine: &Engine, shock: &Shock) -> Result<StressReport, StressError> {
    if shock.steps.len() > MAX_STEPS {
        return Err(StressError::TooLarge(format!("at most {MAX_STEPS} steps")));
    }
    let config = engine.config();
    let asset = |symbol: &str| {
        config
            .asset_id(symbol)
            .ok_or_else(|| StressError::Invalid(format!("unknown asset {symbol:?}")))
    };
    let start: Vec<Price> = engine.state().prices.iter().map(|entry| entry.price).collect();
    let mut steps = Vec::new();
    for step in &shock.steps {
        let mut prices = Vec::new();
        for (symbol, text) in step {
            let id = asset(symbol)?;
            let before = start.get(id.index()).copied().unwrap_or(Price::ZERO);
            prices.push((id, moved_price(before, text)?));
        }
        steps.push(prices);
    }
    let keeper = AccountId(
        engine.state().accounts.keys().next_back().map_or(1, |id| id.0.saturating_add(1)),
    );
    let mut copy = engine.clone();
    // A what-if is checked after every command, whatever the live engine's setting.
    copy.set_invariant_checks(backstop_core::InvariantChecks::EveryCommand);
    let mut run = Run {
        engine: copy,
        commands: Vec::new(),
        events: Vec::new(),
        rejected: 0,
        liquidations: 0,
        started: Instant::now(),
    };
    run.apply(Command::OpenAccount { account: keeper, kind: AccountKind::Regular })?;
    for exploit in &shock.exploits {
        run.apply(Command::Exploit { asset: asset(&exploit.asset)?, amount: exploit.amount })?;
    }
    for prices in steps {
        for (asset, price) in prices {
            run.apply(Command::SetPrice { asset, price })?;
        }
        liquidate_all(&mut run, keeper, shock.keeper_capacity)?;
    }
    Ok(StressReport {
        markets: summarise(&run.engine, &run.events),
        liquidations: run.liquidations,
        rejected: run.rejected,
        commands: run.commands,
    })
}

/// What a liquidation of an account needs: its target, the asset the keeper pays in, and how
/// much (at most) it repays or takes over.
fn target_of(engine: &Engine, id: AccountId) -> Option<(LiquidationTarget, AssetId, Amount)> {
    let account = engine.account(id)?;
    let to_id = |index: usize| u16::try_from(index).ok();
    for (index, position) in account.positions.iter().enumerate() {
        if position.base.is_positive() || position.base.is_negative() {
            let market = PerpMarketId(to_id(index)?);
            let settlement = engine.config().perps.get(index)?.settlement.clone();
            let settlement = engine.config().asset_id(&settlement)?;
            let base = position.base.checked_abs().ok()?;
            return Some((LiquidationTarget::Position { market }, settlement, base));
        }
    }
    let debt = account.holdings.iter().enumerate().find(|(_, h)| h.debt_shares.is_positive())?;
    let debt_asset = AssetId(to_id(debt.0)?);
    let owed = engine.state().lending.get(debt.0)?.as_ref()?.debt_of(debt.1.debt_shares).ok()?;
    let collateral =
        account.holdings.iter().enumerate().filter(|(_, h)| h.balance.is_positive()).max_by_key(
            |(index, h)| {
                let price =
                    engine.state().prices.get(*index).map_or(Price::ZERO, |entry| entry.price);
                h.balance.value_at(price, Rounding::Floor).unwrap_or(Amount::ZERO)
            },
        )?;
    let target =
        LiquidationTarget::Debt { debt: debt_asset, collateral: AssetId(to_id(collateral.0)?) };
    Some((target, debt_asset, owed))
}

/// Liquidates every liquidatable account of the copy, as far as the keeper's capacity goes.
fn liquidate_all(
    run: &mut Run,
    keeper: AccountId,
    capacity: Option<Amount>,
) -> Result<(), StressError> {
    let mut left: BTreeMap<AssetId, Amount> = BTreeMap::new();
    for id in run.engine.liquidatable_accounts() {
        for _ in 0..ATTEMPTS_PER_ACCOUNT {
            let still = run.engine.health(id).is_ok_and(|health| health.is_liquidatable());
            let Some((target, pay_asset, amount)) =
                still.then(|| target_of(&run.engine, id)).flatten()
            else {
                break;
            };
            let budget = match capacity {
                Some(capacity) => *left.entry(pay_asset).or_insert(capacity),
                None => amount,
            };
            // The keeper brings what it repays (lending) or margins the position with (perps).
            let funding = match target {
                LiquidationTarget::Position { .. } => budget,
                _ => amount.min(budget),
            };
            if !funding.is_positive() {
                break;
            }
            run.apply(Command::Deposit { account: keeper, asset: pay_asset, amount: funding })?;
            let quantity = match target {
                LiquidationTarget::Position { .. } => amount,
                _ => funding,
            };
            let applied = run.apply(Command::Liquidate {
                keeper,
                account: id,
                target,
                amount: quantity,
                seed: 0,
            })?;
            if !applied {
                break;
            }
            run.liquidations = run.liquidations.saturating_add(1);
            if let Some(slot) = left.get_mut(&pay_asset) {
                *slot = slot.saturating_sub_to_zero(funding);
            }
        }
    }
    Ok(())
}

/// The per-market outcome of a sequence of events, with what stays open in `after`.
#[must_use]
pub fn summarise(after: &Engine, events: &[Event]) -> Vec<MarketOutcome> {
    let mut markets: BTreeMap<MarketRef, MarketOutcome> = BTreeMap::new();
    let add = |a: Amount, b: Amount| a.checked_add(b).unwrap_or(a);
    for event in events {
        match event {
            Event::DeficitRecorded { market, amount, .. } => {
                let entry = markets.entry(*market).or_default();
                entry.deficit = add(entry.deficit, *amount);
            }
            Event::LayerPaid { market, layer, amount, .. } => {
                let entry = markets.entry(*market).or_default();
                let paid = entry.paid.entry(layer.clone()).or_insert(Amount::ZERO);
                *paid = add(*paid, *amount);
            }
            Event::Socialized { market, amount, .. } => {
                let entry = markets.entry(*market).or_default();
                entry.socialized = add(entry.socialized, *amount);
            }
            _ => {}
        }
    }
    let config = after.config();
    let state = after.state();
    markets
        .into_iter()
        .map(|(market, mut outcome)| {
            let recorded = match market {
                MarketRef::Lending(asset) => state
                    .lending
                    .get(asset.index())
                    .and_then(Option::as_ref)
                    .map_or(Amount::ZERO, |m| m.deficit),
                MarketRef::Perp(perp) => {
                    state.perps.get(perp.index()).map_or(Amount::ZERO, |m| m.deficit)
                }
            };
            let pending = state.net.pending.get(&market).copied().unwrap_or(Amount::ZERO);
            outcome.uncovered = add(recorded, pending);
            outcome.market = match market {
                MarketRef::Lending(asset) => config.asset_symbol(asset).to_owned(),
                MarketRef::Perp(perp) => config.perp_name(perp).to_owned(),
            };
            outcome.asset = config.deficit_asset_symbol(market).to_owned();
            outcome
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::tests::{SETUP, engine_after};

    fn shock(moves: &[&[(&str, &str)]]) -> Shock {
        Shock {
            steps: moves
                .iter()
                .map(|step| step.iter().map(|(a, m)| ((*a).to_owned(), (*m).to_owned())).collect())
                .collect(),
            ..Shock::default()
        }
    }

    fn text<T: ToString>(value: T) -> String {
        value.to_string()
    }

    #[test]
    fn moves_are_relative_or_absolute_and_round_down() {
        let price: Price = "2000".parse().unwrap_or(Price::ZERO);
        assert_eq!(moved_price(price, "-30%").map(text), Ok("1400".to_owned()));
        assert_eq!(moved_price(price, "+5%").map(text), Ok("2100".to_owned()));
        assert_eq!(moved_price(price, "0.95").map(text), Ok("0.95".to_owned()));
        assert_eq!(moved_price(price, "-12.5%").map(text), Ok("1750".to_owned()));
        assert!(matches!(moved_price(price, "-100%"), Err(StressError::Invalid(_))));
        assert!(matches!(moved_price(price, "lots"), Err(StressError::Invalid(_))));
    }

    #[test]
    fn eth_minus_thirty_percent_is_paid_by_the_fund() {
        let engine = engine_after(SETUP);
        let hash = engine.clone().state_hash();
        let report = run(&engine, &shock(&[&[("ETH", "-30%")]])).unwrap_or_else(|e| panic!("{e}"));
        // crash.script's numbers: 10 ETH at 1,400 repay 14,000 of 15,000; deficit 1,000, all of
        // it paid by the fund's 1,500.
        assert_eq!(report.liquidations, 1);
        assert_eq!(report.rejected, 0);
        assert_eq!(report.markets.len(), 1);
        let usdc = &report.markets[0];
        assert_eq!((usdc.market.as_str(), text(usdc.deficit)), ("USDC", "1000".to_owned()));
        assert_eq!(usdc.paid.get("fund:insurance").map(text), Some("1000".to_owned()));
        assert_eq!((text(usdc.socialized), text(usdc.uncovered)), ("0".into(), "0".into()));
        let mut engine = engine;
        assert_eq!(engine.state_hash(), hash, "the live engine is untouched");
    }

    /// The answer of a shock, and the answer of applying its commands to the engine directly.
    fn stressed_and_direct(engine: &Engine, shock: &Shock) -> (StressReport, Vec<MarketOutcome>) {
        let report = run(engine, shock).unwrap_or_else(|e| panic!("{e}"));
        let mut copy = engine.clone();
        let mut events = Vec::new();
        for command in &report.commands {
            if let Ok(more) = copy.apply(command) {
                events.extend(more);
            }
        }
        let direct = summarise(&copy, &events);
        (report, direct)
    }

    #[test]
    fn a_fall_beyond_the_fund_socialises_the_rest() {
        let engine = engine_after(SETUP);
        let (report, direct) = stressed_and_direct(&engine, &shock(&[&[("ETH", "-50%")]]));
        assert_eq!(report.markets, direct, "the answer equals applying the commands directly");
        // 10 ETH at 1,000 repay 10,000 of 15,000: deficit 5,000; the fund pays its 1,500 and the
        // remaining 3,500 is socialised to USDC suppliers.
        let usdc = &report.markets[0];
        assert_eq!(text(usdc.deficit), "5000");
        assert_eq!(usdc.paid.get("fund:insurance").map(text), Some("1500".to_owned()));
        assert_eq!(text(usdc.socialized), "3500");
        assert_eq!(text(usdc.uncovered), "0");
    }

    #[test]
    fn a_path_liquidates_in_steps() {
        let engine = engine_after(SETUP);
        let (report, direct) =
            stressed_and_direct(&engine, &shock(&[&[("ETH", "-10%")], &[("ETH", "-40%")]]));
        assert_eq!(report.markets, direct);
        // At 1,800 (health 14,850 / 15,000 = 0.99 > 0.95) the close factor lets 7,500 be repaid
        // for 7,500 × 1.05 / 1,800 = 4.375 ETH. At 1,200 the 5.625 ETH left are worth 6,750
        // against 7,500: all seized, deficit 750, paid by the fund.
        assert_eq!(report.liquidations, 2);
        let usdc = &report.markets[0];
        assert_eq!(text(usdc.deficit), "750");
        assert_eq!(usdc.paid.get("fund:insurance").map(text), Some("750".to_owned()));
        assert_eq!((text(usdc.socialized), text(usdc.uncovered)), ("0".into(), "0".into()));
    }

    #[test]
    fn a_short_keeper_leaves_debt_open_rather_than_a_deficit() {
        let engine = engine_after(SETUP);
        let mut short = shock(&[&[("ETH", "-40%")]]);
        short.keeper_capacity = Some("5000".parse().unwrap_or(Amount::ZERO));
        let (report, direct) = stressed_and_direct(&engine, &short);
        assert_eq!(report.markets, direct);
        // 5,000 of the 15,000 repaid; the rest stays debt of an unhealthy account.
        assert_eq!(report.liquidations, 1);
        assert!(report.markets.is_empty());
    }

    #[test]
    fn an_exploit_walks_the_waterfall() {
        let engine = engine_after(SETUP);
        let exploit = Shock {
            exploits: vec![ExploitShock {
                asset: "USDC".to_owned(),
                amount: "2000".parse().unwrap_or(Amount::ZERO),
            }],
            ..Shock::default()
        };
        let (report, direct) = stressed_and_direct(&engine, &exploit);
        assert_eq!(report.markets, direct);
        let usdc = &report.markets[0];
        assert_eq!(text(usdc.deficit), "2000");
        assert_eq!(usdc.paid.get("fund:insurance").map(text), Some("1500".to_owned()));
        assert_eq!(text(usdc.socialized), "500");
    }

    #[test]
    fn bounds_and_unknown_assets_are_refused() {
        let engine = engine_after(SETUP);
        let long = Shock { steps: vec![BTreeMap::new(); MAX_STEPS + 1], ..Shock::default() };
        assert!(matches!(run(&engine, &long), Err(StressError::TooLarge(_))));
        let unknown = shock(&[&[("DOGE", "-30%")]]);
        assert_eq!(
            run(&engine, &unknown).map(|r| r.liquidations),
            Err(StressError::Invalid("unknown asset \"DOGE\"".to_owned()))
        );
    }
}
