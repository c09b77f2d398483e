//! Oracle prices with timestamps, and the guards on them: staleness and largest move per update.
//!
//! Time enters the engine only through [`Command::AdvanceTime`](crate::command::Command), which
//! also accrues interest in every lending market so that debts are always current.

use crate::engine::Engine;
use crate::event::Event;
use crate::ids::AssetId;
use crate::rejection::Rejection;
use backstop_money::{Price, Ratio, Rounding};
use serde::{Deserialize, Serialize};

/// Longest single time step (10 years, in seconds): one interest accrual compounds over at most
/// this long, so a typo in a time cannot multiply every debt by an absurd factor.
pub const TIME_STEP_MAX_SECS: u64 = 315_360_000;

/// The last price of an asset and when it was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PriceEntry {
    /// Numeraire per whole unit; zero until the first update.
    pub price: Price,
    /// Time of the last update (s).
    pub updated_at: u64,
}

impl Engine {
    /// The price of an asset for a health check, refused when missing or stale.
    pub(crate) fn price(&self, asset: AssetId) -> Result<Price, Rejection> {
        let entry =
            self.state.prices.get(asset.index()).ok_or(Rejection::UnknownAsset { asset })?;
        if !entry.price.is_positive() {
            return Err(Rejection::NoPrice { asset });
        }
        let age_secs = self.state.now.saturating_sub(entry.updated_at);
        if age_secs > self.config.oracle.max_staleness_secs {
            return Err(Rejection::StalePrice { asset, age_secs });
        }
        Ok(entry.price)
    }

    pub(crate) fn advance_time(&mut self, now: u64) -> Result<Vec<Event>, Rejection> {
        let before = self.state.now;
        if now < before {
            return Err(Rejection::TimeWentBackwards { now: before, requested: now });
        }
        if now.saturating_sub(before) > TIME_STEP_MAX_SECS {
            return Err(Rejection::TimeStepTooLarge { now: before, requested: now });
        }
        // Accrue every market on copies first, so an overflow in any market rejects the whole
        // command before anything is written.
        let mut events = vec![Event::TimeAdvanced { before, after: now }];
        let mut accrued = Vec::new();
        for (index, market) in self.state.lending.iter().enumerate() {
            let (Some(market), Some(config)) = (market, self.lending_config_at(index)) else {
                continue;
            };
            let mut market = market.clone();
            let asset = AssetId::from_index(index);
            if let Some(event) = market.accrue(asset, config, now)? {
                events.push(event);
            }
            accrued.push((asset, market));
        }
        // Penalty interest on emergency liquidity loans, charged to suppliers (backstop::liquidity).
        let facilities = self.accrue_facilities(now, &mut accrued, &mut events)?;
        for (asset, market) in accrued {
            self.commit_lending(asset, market);
        }
        self.commit_facilities(facilities);
        self.state.set_now(now);
        Ok(events)
    }

    pub(crate) fn set_price(
        &mut self,
        asset: AssetId,
        price: Price,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_asset(asset)?;
        if !price.is_positive() {
            return Err(Rejection::NotPositive { field: "price" });
        }
        let before = self.state.prices.get(asset.index()).copied().unwrap_or_default();
        if let (Some(max_move), true) = (self.config.oracle.max_move, before.price.is_positive())
            && let Err(refusal) = check_move(asset, before.price, price, max_move)
        {
            // The oracle breaker may pause the asset instead (backstop::breaker).
            return self.pause_on_move(asset, before.price, price, refusal);
        }
        let updated_at = self.state.now;
        if let Some(entry) = self.state.price_mut(asset.index()) {
            *entry = PriceEntry { price, updated_at };
        }
        Ok(vec![Event::PriceSet { asset, before: before.price, after: price }])
    }
}

/// Refuses a price whose relative move from `previous` exceeds `max_move`.
fn check_move(
    asset: AssetId,
    previous: Price,
    price: Price,
    max_move: Ratio,
) -> Result<(), Rejection> {
    let distance = price.checked_sub(previous).and_then(Price::checked_abs);
    // |price − previous| / previous, rounded up: a move a hair beyond the limit is refused.
    let relative =
        distance.and_then(|distance| Ratio::from_fraction(distance, previous, Rounding::Ceil));
    match relative {
        Ok(relative) if relative <= max_move => Ok(()),
        _ => Err(Rejection::PriceMoveTooLarge { asset, previous, price }),
    }
}
