//! Circuit breakers: the venue's status driven by its staker pool, withdrawal gating while an
//! account is insolvent, and the oracle pause.
//!
//! **Status** (Blend's pool status, docs/mechanisms.md). The configured staker pool's
//! queued share `q = queued_shares / shares` (rounded **up**, as Blend rounds its q4w
//! percentage, so a share a hair below a threshold can count as reaching it; zero for a pool
//! without shares) and its coverage (`assets ≥ target_assets`, no target when zero) give the
//! *computed* status:
//!
//! | condition | computed status |
//! | --- | --- |
//! | `q ≥ frozen_queued_share` | `Frozen` |
//! | `q ≥ on_ice_queued_share` or `assets < target_assets` | `OnIce` |
//! | otherwise | `Active` |
//!
//! `UpdateStatus` (anyone) moves the venue to the computed status, except while an admin status
//! holds: an admin `OnIce` only escalates to (automatic) `Frozen` when the computed status is
//! `Frozen`, and an admin `Frozen` refuses the update (code 82), as Blend's `update_status` does.
//! `SetStatus` (admin; anyone may call it until roles arrive) is bounded by the computed status:
//! `Active` only when the computed status is `Active` (it lifts an admin status), `OnIce` only
//! when the computed status is not `Frozen`, `Frozen` always (code 81 otherwise).
//!
//! **Effects.** `OnIce` and `Frozen` refuse new borrowing and perpetual trades that add risk to
//! either side; `Frozen` also refuses supply, new stakes and deposits into accounts that owe
//! nothing (an account with liabilities may still deposit: that is how tokens arrive to repay or
//! cure it). Repayments, withdrawals of healthy collateral, liquidations and auction takes are
//! never refused by the status (code 80 for what is).
//!
//! **Withdrawal gating** (dYdX): with `gate_withdrawals_when_insolvent`, `Withdraw` and
//! `WithdrawSupply` are refused (code 85) while any account has negative equity. Negative equity
//! (collateral + perpetual value < debt, all at oracle prices) implies the account is below its
//! maintenance requirement (collateral weights are at most 1), so the liquidation index's
//! candidates contain every such account; each candidate is confirmed with the exact health.
//! A candidate whose health cannot be computed (a missing, stale or paused price) is not
//! counted. The gate lifts when the account's shortfall has been moved to the deficit ledger.
//!
//! **Oracle pause**: with `pause_on_oracle_move`, a price update beyond `oracle.max_move` is
//! applied as a pause: the price stays, the asset is marked paused (event `AssetPaused`).
//! Updates within the guard still move the price while paused. While paused, every health check
//! that needs the asset's price is refused (code 83), which includes liquidations of accounts
//! holding or owing it; `Unpause` (admin; anyone until roles arrive) clears the mark.

use crate::backstop::layers::BreakerConfig;
use crate::backstop::net::{StakerPoolState, VenueStatus};
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, PerpMarketId};
use crate::rejection::Rejection;
use backstop_money::{Amount, Price, Ratio, Rounding};

/// Queued share of a staker pool: `queued_shares / shares`, rounded up; zero without shares.
///
/// # Errors
/// Overflow.
pub fn queued_share(pool: &StakerPoolState) -> Result<Ratio, Rejection> {
    if !pool.shares.is_positive() {
        return Ok(Ratio::ZERO);
    }
    Ratio::from_fraction(pool.queued_shares, pool.shares, Rounding::Ceil)
        .map_err(Rejection::from_money("queued share"))
}

/// The status a pool's queued share and coverage call for (Blend's rules for the automatic
/// statuses): frozen at or above `frozen_queued_share`, on ice at or above `on_ice_queued_share`
/// or while `assets` is below a positive `target_assets`, active otherwise.
#[must_use]
pub fn status_for(
    config: &BreakerConfig,
    queued_share: Ratio,
    assets: Amount,
    target_assets: Amount,
) -> VenueStatus {
    if queued_share >= config.frozen_queued_share {
        VenueStatus::Frozen
    } else if queued_share >= config.on_ice_queued_share
        || (target_assets.is_positive() && assets < target_assets)
    {
        VenueStatus::OnIce
    } else {
        VenueStatus::Active
    }
}

/// Blend's backstop threshold value (vector B4), on Blend's 7-decimal integers: with `blnd` and
/// `usdc` the pool's share of the 80/20 BLND:USDC LP reserves, `K = ⌊blnd⌋⁴ · ⌊usdc⌋` in whole
/// units, and the value is `K · 10⁷ / 100 000⁵` rounded down, where every product saturates at
/// `i128::MAX` (Blend's `saturating_mul`). `10_000_000` (1.0) means the threshold is met.
///
/// Only meaningful for that LP token; the engine's status uses the pool's assets against
/// `target_assets` instead (docs/mechanisms.md). Inputs are not negative.
#[must_use]
pub fn blend_threshold_value(blnd: i128, usdc: i128) -> i128 {
    const SCALAR_7: i128 = 10_000_000;
    // 100 000⁵: the product constant at which the threshold is met.
    const THRESHOLD_PC: i128 = 10_000_000_000_000_000_000_000_000;
    let (blnd, usdc) = (
        blnd.checked_div(SCALAR_7).unwrap_or_default(),
        usdc.checked_div(SCALAR_7).unwrap_or_default(),
    );
    blnd.saturating_mul(blnd)
        .saturating_mul(blnd)
        .saturating_mul(blnd)
        .saturating_mul(usdc)
        .saturating_mul(SCALAR_7)
        .checked_div(THRESHOLD_PC)
        .unwrap_or_default()
}

/// Blend's backstop-side check (reward-zone eligibility): `⌊blnd⌋⁴ · ⌊usdc⌋ ≥ 100 000⁵`, on
/// 7-decimal integers, products saturating.
#[must_use]
pub fn blend_threshold_met(blnd: i128, usdc: i128) -> bool {
    const SCALAR_7: i128 = 10_000_000;
    const THRESHOLD_PC: i128 = 10_000_000_000_000_000_000_000_000;
    let (blnd, usdc) = (
        blnd.checked_div(SCALAR_7).unwrap_or_default(),
        usdc.checked_div(SCALAR_7).unwrap_or_default(),
    );
    blnd.saturating_mul(blnd).saturating_mul(blnd).saturating_mul(blnd).saturating_mul(usdc)
        >= THRESHOLD_PC
}

impl Engine {
    /// The breaker's staker pool: its configuration and state, when `[breaker] pool` is set.
    fn breaker_pool(
        &self,
    ) -> Option<(&BreakerConfig, &crate::backstop::layers::StakerPoolConfig, &StakerPoolState)>
    {
        let config = self.config.breaker.as_ref()?;
        let name = config.pool.as_ref()?;
        let index = self.config.staker_pools.iter().position(|pool| &pool.name == name)?;
        let pool_config = self.config.staker_pools.get(index)?;
        let pool = self.state.net.staker_pools.get(index)?;
        Some((config, pool_config, pool))
    }

    /// The status the breaker's pool calls for now; `Active` without a breaker pool.
    ///
    /// # Errors
    /// Overflow.
    pub fn computed_status(&self) -> Result<VenueStatus, Rejection> {
        let Some((config, pool_config, pool)) = self.breaker_pool() else {
            return Ok(VenueStatus::Active);
        };
        Ok(status_for(config, queued_share(pool)?, pool.assets, pool_config.target_assets))
    }

    /// Writes a new status and reports it when it (or who set it) changed.
    fn set_status_state(&mut self, status: VenueStatus, by_admin: bool) -> Vec<Event> {
        let net = self.state.net_mut();
        let before = (net.status, net.status_by_admin);
        net.status = status;
        net.status_by_admin = by_admin;
        if before == (status, by_admin) {
            return Vec::new();
        }
        vec![Event::StatusChanged { before: before.0, after: status, by_admin }]
    }

    /// `UpdateStatus`: moves the venue to the status its staker pool calls for (see the module
    /// documentation for admin statuses).
    pub(crate) fn update_status(&mut self) -> Result<Vec<Event>, Rejection> {
        if self.breaker_pool().is_none() {
            return Err(Rejection::NoStatusPool);
        }
        let computed = self.computed_status()?;
        let (current, by_admin) = (self.state.net.status, self.state.net.status_by_admin);
        let (next, next_by_admin) = match (by_admin, current) {
            (true, VenueStatus::Frozen) => {
                return Err(Rejection::StatusHeldByAdmin { status: current });
            }
            (true, VenueStatus::OnIce) if computed != VenueStatus::Frozen => (current, true),
            _ => (computed, false),
        };
        Ok(self.set_status_state(next, next_by_admin))
    }

    /// `SetStatus`: an admin status within Blend's bounds (see the module documentation).
    pub(crate) fn set_status(&mut self, status: VenueStatus) -> Result<Vec<Event>, Rejection> {
        let computed = self.computed_status()?;
        let allowed = match status {
            VenueStatus::Active => computed == VenueStatus::Active,
            VenueStatus::OnIce => computed != VenueStatus::Frozen,
            VenueStatus::Frozen => true,
        };
        if !allowed {
            return Err(Rejection::StatusNotAllowed { requested: status, computed });
        }
        // An admin `Active` is the automatic one: it only lifts an admin status.
        let by_admin = status != VenueStatus::Active;
        Ok(self.set_status_state(status, by_admin))
    }

    /// Refuses new risk (borrowing, perpetual trades that add risk) unless the venue is active.
    pub(crate) fn check_status_allows_new_risk(&self) -> Result<(), Rejection> {
        match self.state.net.status {
            VenueStatus::Active => Ok(()),
            status => Err(Rejection::StatusBlocks { status, action: "new risk" }),
        }
    }

    /// Refuses new deposits, supply and stakes while the venue is frozen.
    pub(crate) fn check_status_allows_new_deposits(&self) -> Result<(), Rejection> {
        match self.state.net.status {
            VenueStatus::Frozen => {
                Err(Rejection::StatusBlocks { status: VenueStatus::Frozen, action: "new deposits" })
            }
            _ => Ok(()),
        }
    }

    /// The first account with negative equity, found through the liquidation index's candidates
    /// and confirmed with the exact health; candidates whose health cannot be computed are
    /// skipped.
    #[must_use]
    pub fn first_insolvent_account(&self) -> Option<AccountId> {
        self.liquidation_candidates().into_iter().find(|id| {
            self.health(*id)
                .ok()
                .and_then(|health| health.equity().ok())
                .is_some_and(|equity| equity.is_negative())
        })
    }

    /// Refuses withdrawals while gating is on and any account has negative equity.
    pub(crate) fn check_withdrawals_not_gated(&self) -> Result<(), Rejection> {
        let gated = self
            .config
            .breaker
            .as_ref()
            .is_some_and(|breaker| breaker.gate_withdrawals_when_insolvent);
        if !gated {
            return Ok(());
        }
        match self.first_insolvent_account() {
            Some(account) => Err(Rejection::WithdrawalsGated { account }),
            None => Ok(()),
        }
    }

    /// True when the oracle breaker has paused an asset.
    #[must_use]
    pub fn is_paused(&self, asset: AssetId) -> bool {
        self.state.net.paused.get(asset.index()).copied().unwrap_or(false)
    }

    /// Refuses to use a paused asset's price in a health check.
    pub(crate) fn check_not_paused(&self, asset: AssetId) -> Result<(), Rejection> {
        if self.is_paused(asset) {
            return Err(Rejection::AssetPaused { asset });
        }
        Ok(())
    }

    /// Refuses to value a perpetual position while its underlying or settlement asset is paused.
    pub(crate) fn check_perp_not_paused(&self, market: PerpMarketId) -> Result<(), Rejection> {
        let (underlying, settlement) = self.perp_assets(market)?;
        self.check_not_paused(underlying)?;
        self.check_not_paused(settlement)
    }

    /// A price update refused by the move guard: with `pause_on_oracle_move` the asset is paused
    /// instead (the price does not change); otherwise the refusal stands.
    pub(crate) fn pause_on_move(
        &mut self,
        asset: AssetId,
        price: Price,
        proposed: Price,
        refusal: Rejection,
    ) -> Result<Vec<Event>, Rejection> {
        let pauses =
            self.config.breaker.as_ref().is_some_and(|breaker| breaker.pause_on_oracle_move);
        if !pauses {
            return Err(refusal);
        }
        let slot = self
            .state
            .net_mut()
            .paused
            .get_mut(asset.index())
            .ok_or(Rejection::UnknownAsset { asset })?;
        *slot = true;
        Ok(vec![Event::AssetPaused { asset, price, proposed }])
    }

    /// `Unpause`: clears the oracle breaker's pause of an asset.
    pub(crate) fn unpause(&mut self, asset: AssetId) -> Result<Vec<Event>, Rejection> {
        self.check_asset(asset)?;
        if !self.is_paused(asset) {
            return Err(Rejection::AssetNotPaused { asset });
        }
        if let Some(slot) = self.state.net_mut().paused.get_mut(asset.index()) {
            *slot = false;
        }
        Ok(vec![Event::AssetUnpaused { asset }])
    }
}
