//! Exogenous events: an exploit draining a market, a stablecoin depeg, a run on the staker pool, a
//! governance delay before a recapitalisation vote passes.
//!
//! Every event is carried out with engine commands, so the engine's rules apply as to anything
//! else:
//! - `exploit` (`step`, `market`, `amount`): `Command::Exploit` drains `amount` (in the market's
//!   asset, at most its cash) out of a lending market; the engine records it as the market's
//!   deficit, which walks its waterfall.
//! - `depeg` (`step`, `asset`, `price`, `duration_steps`): the oracle price of `asset` is `price`
//!   for steps `step ≤ t < step + duration_steps` (default: to the end of the path), whatever the
//!   price path and the oracle delay say.
//! - `pool_run` (`step`, `pool`, `share`): at `step`, every staker of the staker pool asks to
//!   unstake `share` of its unqueued shares (`Command::RequestUnstake`, rounded down); once the
//!   pool's cooldown has passed, the runner completes each withdrawal (`Command::CompleteUnstake`,
//!   retried every step while the engine refuses it, e.g. while bad debt blocks withdrawals).
//! - `governance_delay` (`step`, `delay_steps`): a recapitalisation auction that needs approval and
//!   opens at or after `step` is approved `delay_steps` steps after it opens
//!   (`Command::ApproveRecap`); without such an event, approval comes in the step the auction
//!   opens.
//! - `buy_cover` (`step`, `cover`, `fund`, `term_secs`): at `step` the venue buys a term of the
//!   external cover (`Command::BuyCover`), its premium paid from the fund; a refused purchase
//!   (the fund cannot pay) is counted as a rejection like any other.

use crate::scenario::EventSpec;
use backstop_core::{AccountId, AssetId, Command, Engine, VenueConfig};
use backstop_money::{Ratio, Rounding, Shares};

/// Checks a `buy_cover` event: a known cover, a fund of the cover's asset, a positive term.
fn validate_buy_cover(
    event: &EventSpec,
    venue: &VenueConfig,
) -> Result<(), (&'static str, String)> {
    let Some(cover) = &event.cover else {
        return Err(("cover", "a buy_cover event needs the cover bought".into()));
    };
    let Some(config) = venue.covers.iter().find(|candidate| &candidate.name == cover) else {
        return Err(("cover", format!("unknown cover {cover:?}")));
    };
    let Some(fund) = &event.fund else {
        return Err(("fund", "a buy_cover event needs the fund that pays the premium".into()));
    };
    if !venue.funds.iter().any(|f| &f.name == fund && f.asset == config.asset) {
        return Err(("fund", format!("{fund:?} is not a fund in the cover's asset")));
    }
    match event.term_secs {
        Some(term) if term > 0 => Ok(()),
        _ => Err(("term_secs", "a buy_cover event needs a positive term".into())),
    }
}

/// The event kinds a scenario may use.
pub const EVENT_KINDS: &[&str] = &["exploit", "depeg", "pool_run", "governance_delay", "buy_cover"];

/// Checks one scenario's events against the venue. Returns the problem's key (such as
/// `events[2].market`) and message.
pub(crate) fn validate(
    events: &[EventSpec],
    venue: &VenueConfig,
    steps: u32,
) -> Result<(), (String, String)> {
    for (index, event) in events.iter().enumerate() {
        let key = |field: &str| format!("events[{index}].{field}");
        let error = |field: &str, message: String| Err((key(field), message));
        if event.step > steps {
            return error(
                "step",
                format!("must be at most run.steps ({steps}), got {}", event.step),
            );
        }
        let used: &[&str] = match event.kind.as_str() {
            "exploit" => &["market", "amount"],
            "depeg" => &["asset", "price", "duration_steps"],
            "pool_run" => &["pool", "share"],
            "governance_delay" => &["delay_steps"],
            "buy_cover" => &["cover", "fund", "term_secs"],
            other => {
                return error(
                    "kind",
                    format!(
                        "unknown event kind {other:?}; expected one of {}",
                        EVENT_KINDS.join(", ")
                    ),
                );
            }
        };
        let present = [
            ("market", event.market.is_some()),
            ("asset", event.asset.is_some()),
            ("amount", event.amount.is_some()),
            ("price", event.price.is_some()),
            ("duration_steps", event.duration_steps.is_some()),
            ("pool", event.pool.is_some()),
            ("share", event.share.is_some()),
            ("delay_steps", event.delay_steps.is_some()),
            ("cover", event.cover.is_some()),
            ("fund", event.fund.is_some()),
            ("term_secs", event.term_secs.is_some()),
        ];
        for (field, is_present) in present {
            if is_present && !used.contains(&field) {
                return error(field, format!("not used by a {} event", event.kind));
            }
        }
        match event.kind.as_str() {
            "exploit" => {
                let Some(market) = &event.market else {
                    return error("market", "an exploit needs the lending market it drains".into());
                };
                let is_lending = venue.lending.iter().any(|lending| &lending.asset == market);
                if !is_lending {
                    return error(
                        "market",
                        format!("{market:?} is not a lending market of the venue (name its asset)"),
                    );
                }
                match event.amount {
                    Some(amount) if amount.is_finite() && amount > 0.0 => {}
                    Some(amount) => {
                        return error("amount", format!("must be positive, got {amount}"));
                    }
                    None => return error("amount", "an exploit needs the amount drained".into()),
                }
            }
            "depeg" => {
                let Some(asset) = &event.asset else {
                    return error("asset", "a depeg needs the asset".into());
                };
                if venue.asset_id(asset).is_none() {
                    return error("asset", format!("unknown asset {asset:?}"));
                }
                match event.price {
                    Some(price) if price.is_finite() && price > 0.0 => {}
                    Some(price) => return error("price", format!("must be positive, got {price}")),
                    None => {
                        return error("price", "a depeg needs the price during the depeg".into());
                    }
                }
                if event.duration_steps == Some(0) {
                    return error("duration_steps", "must be at least 1".into());
                }
            }
            "buy_cover" => validate_buy_cover(event, venue).map_err(|(f, m)| (key(f), m))?,
            "pool_run" => {
                let Some(pool) = &event.pool else {
                    return error("pool", "a pool run needs the staker pool".into());
                };
                if !venue.staker_pools.iter().any(|candidate| &candidate.name == pool) {
                    return error("pool", format!("unknown staker pool {pool:?}"));
                }
                match event.share {
                    Some(share) if share > 0.0 && share <= 1.0 => {}
                    Some(share) => {
                        return error(
                            "share",
                            format!("must be above 0 and at most 1, got {share}"),
                        );
                    }
                    None => {
                        return error(
                            "share",
                            "a pool run needs the share of shares queued".into(),
                        );
                    }
                }
            }
            _ => {
                if event.delay_steps.is_none() {
                    return error("delay_steps", "a governance delay needs delay_steps".into());
                }
                if venue.recap.is_none() {
                    return error("kind", "the venue has no [recap]: nothing to approve".into());
                }
            }
        }
    }
    Ok(())
}

/// A depeg window.
#[derive(Debug, Clone, PartialEq)]
struct Depeg {
    asset: usize,
    from: u32,
    until: u32,
    price: f64,
}

/// A scenario's events, resolved against the venue.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Exogenous {
    /// (step, asset, amount in units).
    exploits: Vec<(u32, AssetId, f64)>,
    depegs: Vec<Depeg>,
    /// (step, pool index, pool name, share).
    pool_runs: Vec<(u32, usize, String, f64)>,
    /// Cover purchases: (step, cover, fund, term seconds).
    covers: Vec<(u32, String, String, u64)>,
    /// (from step, delay).
    governance: Vec<(u32, u32)>,
}

impl Exogenous {
    /// Resolves validated events (unknown names are skipped).
    pub(crate) fn new(events: &[EventSpec], venue: &VenueConfig) -> Exogenous {
        let mut exogenous = Exogenous::default();
        for event in events {
            match event.kind.as_str() {
                "exploit" => {
                    if let (Some(asset), Some(amount)) =
                        (event.market.as_deref().and_then(|m| venue.asset_id(m)), event.amount)
                    {
                        exogenous.exploits.push((event.step, asset, amount));
                    }
                }
                "depeg" => {
                    if let (Some(asset), Some(price)) =
                        (event.asset.as_deref().and_then(|a| venue.asset_id(a)), event.price)
                    {
                        exogenous.depegs.push(Depeg {
                            asset: asset.index(),
                            from: event.step,
                            until: event
                                .duration_steps
                                .map_or(u32::MAX, |steps| event.step.saturating_add(steps)),
                            price,
                        });
                    }
                }
                "pool_run" => {
                    let pool = event.pool.clone().unwrap_or_default();
                    if let Some(index) = venue.staker_pools.iter().position(|p| p.name == pool) {
                        exogenous.pool_runs.push((
                            event.step,
                            index,
                            pool,
                            event.share.unwrap_or(0.0),
                        ));
                    }
                }
                "governance_delay" => {
                    exogenous.governance.push((event.step, event.delay_steps.unwrap_or(0)));
                }
                "buy_cover" => exogenous.covers.push((
                    event.step,
                    event.cover.clone().unwrap_or_default(),
                    event.fund.clone().unwrap_or_default(),
                    event.term_secs.unwrap_or(0),
                )),
                _ => {}
            }
        }
        exogenous
    }

    /// The oracle price a depeg imposes on an asset at a step (the last listed event wins).
    pub(crate) fn depeg_price(&self, asset: usize, step: u32) -> Option<f64> {
        self.depegs
            .iter()
            .rev()
            .find(|depeg| depeg.asset == asset && depeg.from <= step && step < depeg.until)
            .map(|depeg| depeg.price)
    }

    /// Whether any depeg is configured (a quick check for the hot loop).
    pub(crate) fn has_depegs(&self) -> bool {
        !self.depegs.is_empty()
    }

    /// The commands events issue at this step: exploits, then pool runs, in scenario order.
    pub(crate) fn commands_at(&self, step: u32, engine: &Engine) -> Vec<Command> {
        let mut commands = Vec::new();
        for (at, asset, amount) in &self.exploits {
            if *at != step {
                continue;
            }
            let decimals =
                engine.config().assets.get(asset.index()).map_or(18, |asset| asset.decimals);
            let cash = engine
                .state()
                .lending
                .get(asset.index())
                .and_then(Option::as_ref)
                .map(|market| market.cash)
                .unwrap_or_default();
            let drained = crate::convert::amount_in_units(*amount, decimals).min(cash);
            if drained.is_positive() {
                commands.push(Command::Exploit { asset: *asset, amount: drained });
            }
        }
        for (at, index, pool, share) in &self.pool_runs {
            if *at != step {
                continue;
            }
            let Some(state) = engine.state().net.staker_pools.get(*index) else { continue };
            let ratio = Ratio::from_raw((share.clamp(0.0, 1.0) * 1e18).round() as i128);
            for (account, staker) in &state.stakers {
                let shares =
                    staker.shares.mul_ratio(ratio, Rounding::Floor).unwrap_or(Shares::ZERO);
                if shares.is_positive() {
                    commands.push(Command::RequestUnstake {
                        account: AccountId(account.0),
                        pool: pool.clone(),
                        shares,
                    });
                }
            }
        }
        for (at, cover, fund, term_secs) in &self.covers {
            if *at == step {
                commands.push(Command::BuyCover {
                    cover: cover.clone(),
                    fund: fund.clone(),
                    term_secs: *term_secs,
                });
            }
        }
        commands
    }

    /// Steps between the opening of a recapitalisation auction at `opened` and its approval.
    pub(crate) fn approval_delay(&self, opened: u32) -> u32 {
        self.governance
            .iter()
            .filter(|(from, _)| *from <= opened)
            .map(|(_, delay)| *delay)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(kind: &str) -> EventSpec {
        EventSpec {
            kind: kind.to_owned(),
            step: 0,
            market: None,
            asset: None,
            amount: None,
            price: None,
            duration_steps: None,
            pool: None,
            share: None,
            delay_steps: None,
            cover: None,
            fund: None,
            term_secs: None,
        }
    }

    #[test]
    fn depeg_windows_and_governance_delays() {
        let venue = VenueConfig::from_toml_str(
            "[[asset]]\nsymbol = \"USDC\"\ndecimals = 6\n[[asset]]\nsymbol = \"UST\"\ndecimals = 6\n",
        )
        .expect("venue");
        let mut depeg = event("depeg");
        depeg.step = 3;
        depeg.asset = Some("UST".into());
        depeg.price = Some(0.3);
        depeg.duration_steps = Some(2);
        let mut delay = event("governance_delay");
        delay.step = 10;
        delay.delay_steps = Some(24);
        let exogenous = Exogenous::new(&[depeg, delay], &venue);
        let seen: Vec<Option<f64>> = (0..7).map(|step| exogenous.depeg_price(1, step)).collect();
        assert_eq!(seen, vec![None, None, None, Some(0.3), Some(0.3), None, None]);
        assert_eq!(exogenous.depeg_price(0, 3), None);
        assert_eq!((exogenous.approval_delay(9), exogenous.approval_delay(10)), (0, 24));
    }

    #[test]
    fn events_are_validated_with_their_keys() {
        let venue = VenueConfig::from_toml_str("[[asset]]\nsymbol = \"USDC\"\ndecimals = 6\n")
            .expect("venue");
        let mut exploit = event("exploit");
        exploit.market = Some("ETH".into());
        exploit.amount = Some(5.0);
        let error = validate(&[event("depeg"), exploit.clone()], &venue, 10).unwrap_err();
        assert_eq!(error.0, "events[0].asset");
        let error = validate(&[exploit], &venue, 10).unwrap_err();
        assert_eq!(error.0, "events[0].market");
        let mut stray = event("governance_delay");
        stray.delay_steps = Some(1);
        stray.price = Some(1.0);
        assert_eq!(validate(&[stray], &venue, 10).unwrap_err().0, "events[0].price");
        assert_eq!(validate(&[event("meteor")], &venue, 10).unwrap_err().0, "events[0].kind");
        let mut cover = event("buy_cover");
        cover.cover = Some("nexus".into());
        cover.fund = Some("insurance".into());
        cover.term_secs = Some(3_600);
        assert_eq!(validate(&[cover], &venue, 10).unwrap_err().0, "events[0].cover");
    }
}
