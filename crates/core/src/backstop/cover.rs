//! External cover: guarantor capital with a limit and an attachment point, premiums, claims
//! settled by the guarantor, clawback on recovery. (Being built: see the safety-net issue.)

use crate::engine::Engine;
use crate::event::Event;
use crate::ids::MarketRef;
use crate::rejection::Rejection;
use backstop_money::Amount;

impl Engine {
    /// Opens a claim on cover `name` for the covered part of `remaining`; the claimed amount
    /// moves from the market's deficit to pending.
    pub(crate) fn open_cover_claim(
        &mut self,
        name: &str,
        market: MarketRef,
        remaining: Amount,
        position: usize,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        let _ = (name, market, remaining, position, events);
        Ok(())
    }
}
