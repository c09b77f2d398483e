//! The venue's markets: lending (supply, borrow, interest) and perpetual futures.

pub mod lending;
pub mod perp;
