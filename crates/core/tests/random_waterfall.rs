//! Waterfall order under random command sequences on the full safety-net venue
//! (`backstop_testkit::full_net`): within one command the layers of a market pay in their
//! configured order, each payment leaves a deficit for the next, and a later layer paid only
//! because every earlier one was exhausted — a probe deficit of one USDC right after the command
//! is taken by no layer before the last one that paid (except a staker pool, whose slash cap is
//! per deficit, when it paid itself).
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_core::{Command, Engine, Event, MarketRef};
use backstop_testkit::Checks;
use backstop_testkit::full_net::{Dice, Driver, USDC, amount};
use proptest::prelude::*;

/// Commands in the fixed-seed run.
const FIXED_COMMANDS: usize = 4_000;

/// Position of `layer` in the waterfall of `market` in force.
fn position(engine: &Engine, market: MarketRef, layer: &str) -> usize {
    let name = match market {
        MarketRef::Lending(_) => "USDC",
        MarketRef::Perp(_) => "ETH-PERP",
    };
    let waterfall = engine.config().waterfalls.iter().find(|w| w.market == name).unwrap();
    waterfall.layers.iter().position(|l| l == layer).unwrap()
}

/// The (layer, amount, remaining) payments of `market` among `events`.
fn payments(events: &[Event], market: MarketRef) -> Vec<(String, backstop_money::Amount)> {
    let mut paid = Vec::new();
    for event in events {
        if let Event::LayerPaid { market: m, layer, remaining, .. } = event
            && *m == market
        {
            paid.push((layer.clone(), *remaining));
        }
    }
    paid
}

/// What a run saw: payments, walks in which more than one layer paid, exhaustion probes that
/// found a deficit to test.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    payments: usize,
    multi_layer_walks: usize,
    probes: usize,
}

/// Checks the order of one command's payments.
fn check_order(engine: &Engine, command: &Command, events: &[Event], seen: &mut Seen) {
    if matches!(command, Command::Execute { .. }) {
        return; // an executed proposal may reorder the waterfall itself
    }
    for market in [MarketRef::Lending(USDC), MarketRef::Perp(backstop_testkit::full_net::PERP)] {
        let paid = payments(events, market);
        seen.payments += paid.len();
        seen.multi_layer_walks += usize::from(paid.len() > 1);
        for pair in paid.windows(2) {
            let (first, second) = (&pair[0], &pair[1]);
            assert!(
                position(engine, market, &first.0) < position(engine, market, &second.0),
                "{command:?}: {} paid before {} against the configured order: {events:?}",
                first.0,
                second.0
            );
            assert!(first.1.is_positive(), "{command:?}: {} paid after nothing remained", second.0);
            assert!(second.1 < first.1, "{command:?}: the deficit did not fall: {events:?}");
        }
        // A settled cover claim or a filled recap auction resumes the walk after its layer: the
        // earlier layers were walked when the deficit arose, not in this command.
        let resumed = matches!(
            command,
            Command::SettleCoverClaim { .. }
                | Command::BidRecap { .. }
                | Command::RestartRecap { .. }
        );
        if market == MarketRef::Lending(USDC)
            && !resumed
            && let Some((last, _)) = paid.last()
        {
            seen.probes += probe_exhaustion(engine, command, &paid, position(engine, market, last));
        }
    }
}

/// A deficit of one USDC right after the command: no layer before position `last` may take it,
/// unless it is a staker pool that paid in the command (its slash cap applies per deficit).
fn probe_exhaustion(
    engine: &Engine,
    command: &Command,
    paid: &[(String, backstop_money::Amount)],
    last: usize,
) -> usize {
    let mut probe = engine.clone();
    let Ok(events) = probe.apply(&Command::Exploit { asset: USDC, amount: amount(1, 0) }) else {
        return 0; // no cash left to drain
    };
    let market = MarketRef::Lending(USDC);
    if let Some((first, _)) = payments(&events, market).first() {
        let at = position(engine, market, first);
        let capped_per_deficit =
            first.starts_with("stakers:") && paid.iter().any(|(layer, _)| layer == first);
        assert!(
            at >= last || capped_per_deficit,
            "after {command:?} (payments {paid:?}) layer {first} at position {at} still had \
             capacity, though a later layer (position {last}) paid"
        );
    }
    1
}

fn run(seeds: impl IntoIterator<Item = u64>) -> Seen {
    let mut driver = Driver::new(Checks::NONE);
    let mut seen = Seen::default();
    for seed in seeds {
        let (command, result) = driver.random_step(seed);
        if let Ok(events) = result {
            check_order(&driver.engine, &command, &events, &mut seen);
        }
    }
    seen
}

#[test]
fn layers_pay_in_order_at_a_fixed_seed() {
    let mut dice = Dice::new(7);
    let seen = run((0..FIXED_COMMANDS).map(|_| dice.next_u64()));
    // Deterministic: what the run exercised is pinned (a generator or engine change shows here).
    assert_eq!(seen, Seen { payments: 195, multi_layer_walks: 41, probes: 66 });
}

proptest! {
    #![proptest_config({
        let mut config = backstop_testkit::proptest_config();
        config.cases = config.cases.div_ceil(4);
        config
    })]

    #[test]
    fn layers_pay_in_order_in_random_sequences(seeds in prop::collection::vec(any::<u64>(), 1..300)) {
        run(seeds);
    }
}
