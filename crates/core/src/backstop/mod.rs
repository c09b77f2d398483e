//! The safety net: everything that recognises and absorbs a deficit.
//!
//! The foundation holds only the hand-off point, the per-market deficit ledger; the layers that
//! absorb deficits (fund, stakers, cover, minting, socialisation, auto-deleveraging) build on it.

pub mod deficit;
