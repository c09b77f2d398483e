//! Probes: searches of the engine's state for the price at which an account's liquidatability
//! flips, so properties can test the liquidation index exactly where rounding matters.

use crate::runner::{Checks, apply_checked};
use backstop_core::{AccountId, AssetId, Command, Engine};
use backstop_money::Price;

/// Whether the exact check (a scan of every account) finds `account` liquidatable.
#[must_use]
pub fn is_liquidatable(engine: &Engine, account: AccountId) -> bool {
    engine.liquidatable_accounts_by_scan().contains(&account)
}

/// Sets a price without checks beyond the audit; returns whether the engine accepted it.
///
/// # Panics
/// As [`apply_checked`] with [`Checks::DEFAULT`].
pub fn set_price(engine: &mut Engine, asset: AssetId, price: Price) -> bool {
    let command = Command::SetPrice { asset, price };
    apply_checked(engine, usize::MAX, &command, Checks::DEFAULT).is_ok()
}

/// The raw price of `asset` nearest to where `account`'s liquidatability flips, found by
/// bisection between `safe` (not liquidatable there) and `unsafe_price` (liquidatable there),
/// which may lie either side of each other. Returns the liquidatable end of the final interval
/// (one raw unit from a safe price), or `None` when the ends do not bracket a flip. Leaves the
/// asset at that price.
///
/// # Panics
/// As [`apply_checked`] with [`Checks::DEFAULT`].
pub fn liquidation_boundary(
    engine: &mut Engine,
    account: AccountId,
    asset: AssetId,
    safe: Price,
    unsafe_price: Price,
) -> Option<Price> {
    let liquidatable_at = |engine: &mut Engine, price: Price| {
        set_price(engine, asset, price) && is_liquidatable(engine, account)
    };
    if liquidatable_at(engine, safe) || !liquidatable_at(engine, unsafe_price) {
        return None;
    }
    let (mut good, mut bad) = (safe.raw(), unsafe_price.raw());
    while good.abs_diff(bad) > 1 {
        let middle = good + (bad - good) / 2;
        if liquidatable_at(engine, Price::from_raw(middle)) {
            bad = middle;
        } else {
            good = middle;
        }
    }
    set_price(engine, asset, Price::from_raw(bad));
    Some(Price::from_raw(bad))
}

/// Prices around `centre`: every raw unit within `raw_span`, then steps of `centre × k × 10⁻¹²`
/// for `k` in powers of two up to 2^`doublings`, on both sides (only positive prices).
#[must_use]
pub fn prices_around(centre: Price, raw_span: i128, doublings: u32) -> Vec<Price> {
    let raw = centre.raw();
    let mut prices: Vec<i128> = (-raw_span..=raw_span).map(|offset| raw + offset).collect();
    let unit = (raw / 1_000_000_000_000).max(1);
    for doubling in 0..=doublings {
        let step = unit.saturating_mul(1_i128 << doubling);
        prices.push(raw.saturating_add(step));
        prices.push(raw.saturating_sub(step));
    }
    prices.into_iter().filter(|price| *price > 0).map(Price::from_raw).collect()
}
