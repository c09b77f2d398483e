//! Backstop's core engine: a deterministic state machine over a venue and its safety net.
//!
//! Commands come in ([`Command`]), events come out ([`Event`]), or a typed [`Rejection`] says why
//! nothing changed. The engine does no I/O, reads no clock and draws no randomness: time and
//! prices arrive as commands, so the same commands give the same [`state hash`](Engine::state_hash)
//! on every machine.
//!
//! Money is integer fixed-point from `backstop-money`; every division names its rounding, and
//! rounding always favours the venue. Invariants (docs/INVARIANTS.md) are checked after every
//! command in debug and test builds.

pub mod account;
pub mod backstop;
pub mod claims;
pub mod command;
pub mod config;
pub mod engine;
pub mod english_auction;
pub mod event;
pub mod governance;
pub mod health;
pub mod ids;
pub mod invariants;
pub mod liquidation;
pub mod liquidation_index;
pub mod oracle;
pub mod rejection;
pub mod script;
pub mod snapshot;
pub mod state_hash;
mod store;
pub mod venue;

pub use account::{Account, AssetHolding};
pub use command::{AccountKind, Command, LiquidationTarget};
pub use config::{ConfigError, VenueConfig};
pub use engine::{Engine, InvariantChecks, State};
pub use event::Event;
pub use health::Health;
pub use ids::{AccountId, AssetId, AuctionId, MarketRef, PerpMarketId};
pub use invariants::Violation;
pub use rejection::Rejection;
pub use snapshot::{EngineSnapshot, SNAPSHOT_FORMAT, SnapshotError};
pub use state_hash::{StateHash, to_hex};
