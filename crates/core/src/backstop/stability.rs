//! Stability pool: deposits absorb the debt of liquidated accounts and receive their collateral,
//! with exact product–sum accounting. (Being built: see the safety-net issue.)

use crate::engine::Engine;
use crate::event::Event;
use crate::ids::MarketRef;
use crate::rejection::Rejection;
use backstop_money::Amount;

impl Engine {
    /// Absorbs up to `remaining` of a market's deficit from stability pool `name`'s deposits.
    pub(crate) fn stability_pays(
        &mut self,
        name: &str,
        market: MarketRef,
        remaining: Amount,
        events: &mut Vec<Event>,
    ) -> Result<Amount, Rejection> {
        let _ = (name, market, remaining, events);
        Ok(Amount::ZERO)
    }
}
