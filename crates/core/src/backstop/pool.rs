//! First-loss staker pool: shares, cooldown queue, exposure while queued, capped slashing,
//! rewards. (Being built: see the safety-net issue.)

use crate::engine::Engine;
use crate::event::Event;
use crate::ids::MarketRef;
use crate::rejection::Rejection;
use backstop_money::Amount;

impl Engine {
    /// Slashes staker pool `name` towards `remaining` of a market's deficit, within its caps.
    pub(crate) fn stakers_pay(
        &mut self,
        name: &str,
        market: MarketRef,
        remaining: Amount,
        events: &mut Vec<Event>,
    ) -> Result<Amount, Rejection> {
        let _ = (name, market, remaining, events);
        Ok(Amount::ZERO)
    }

    /// Adds donated or recovered tokens to staker pool `index`, raising the value of its shares.
    pub(crate) fn donate_to_stakers(
        &mut self,
        index: usize,
        amount: Amount,
    ) -> Result<(), Rejection> {
        let pool = self
            .state
            .net
            .staker_pools
            .get_mut(index)
            .ok_or(Rejection::Overflow { context: "pool index" })?;
        pool.assets = pool.assets.checked_add(amount).map_err(Rejection::from_money("donation"))?;
        Ok(())
    }
}
