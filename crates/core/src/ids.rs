//! Identifiers of accounts, assets and markets.

use serde::{Deserialize, Serialize};

/// An account at the venue, chosen by whoever opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub u64);

/// A listed asset: its position in the venue's `[[asset]]` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetId(pub u16);

/// A perpetual market: its position in the venue's `[[perp]]` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PerpMarketId(pub u16);

/// A running Dutch auction, numbered from 1 in the order auctions start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuctionId(pub u64);

/// A market that can hold a deficit: a lending market (by asset) or a perpetual market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketRef {
    /// The lending market of an asset.
    Lending(AssetId),
    /// A perpetual market.
    Perp(PerpMarketId),
}

impl AssetId {
    /// The id of per-asset slot `index` (a validated venue has at most 65,536 assets).
    ///
    /// # Panics
    /// When `index` does not fit: only a per-asset vector longer than the validated config could
    /// hold one, which is a bug.
    #[must_use]
    pub fn from_index(index: usize) -> AssetId {
        AssetId(u16::try_from(index).expect("config validation caps assets at 65,536"))
    }

    /// The id as an index into per-asset vectors.
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl PerpMarketId {
    /// The id of per-market slot `index` (a validated venue has at most 65,536 markets).
    ///
    /// # Panics
    /// When `index` does not fit: only a per-market vector longer than the validated config could
    /// hold one, which is a bug.
    #[must_use]
    pub fn from_index(index: usize) -> PerpMarketId {
        PerpMarketId(
            u16::try_from(index).expect("config validation caps perpetual markets at 65,536"),
        )
    }

    /// The id as an index into per-market vectors.
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}
