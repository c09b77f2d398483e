//! The safety net: everything that recognises and absorbs a deficit.
//!
//! `deficit` is the hand-off point (the explicit bad-debt ledger); `layers` is the configuration
//! of every layer; `net` holds their state; `waterfall` walks a market's ordered layers over its
//! deficit; the other modules are the layers themselves.

pub mod adl;
pub mod anchors;
pub mod breaker;
pub mod cover;
pub mod deficit;
pub mod fund;
pub mod layers;
pub mod liquidity;
pub mod net;
pub mod pool;
pub mod recap;
pub mod stability;
pub mod waterfall;
