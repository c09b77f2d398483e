//! Recapitalisation by minting: a reverse auction sells newly minted governance tokens for the
//! deficit asset. (Being built: see the safety-net issue.)

use crate::engine::Engine;
use crate::event::Event;
use crate::ids::MarketRef;
use crate::rejection::Rejection;
use backstop_money::Amount;

impl Engine {
    /// Opens a recapitalisation auction for `remaining` of a market's deficit, which moves to
    /// pending until bidders pay it.
    pub(crate) fn open_recap_auction(
        &mut self,
        market: MarketRef,
        remaining: Amount,
        position: usize,
        events: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        let _ = (market, remaining, position, events);
        Ok(())
    }
}
