//! Health: cross-margin weighted collateral against weighted debt and perpetual margin.
//!
//! For an account, in the numeraire:
//! - collateral `Σ balance × price × weight`, where the weight of an asset is its lending
//!   market's collateral factor (initial check) or liquidation threshold (maintenance check); the
//!   settlement asset of a perpetual market without a lending market counts at par (weight 1);
//!   any other asset counts zero;
//! - plus the value of every perpetual position, `(quote + base × oracle) × settlement price`;
//! - against the requirement `Σ debt × price + Σ |base| × oracle × margin fraction × settlement
//!   price`, with the initial or the maintenance margin fraction.
//!
//! Values held are rounded down and values owed up, so health is never overstated. The account is
//! liquidatable when maintenance margin < maintenance requirement; the health factor is
//! maintenance margin / maintenance requirement.

use crate::account::Account;
use crate::engine::Engine;
use crate::ids::{AccountId, AssetId};
use crate::rejection::Rejection;
use backstop_money::{Amount, Ratio, Rounding};
use serde::Serialize;

/// An account's margin figures at current prices, all in the numeraire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Health {
    /// Unweighted value of collateral balances.
    pub collateral_value: Amount,
    /// Value of lending debt.
    pub debt_value: Amount,
    /// Value of perpetual positions (signed).
    pub perp_value: Amount,
    /// Collateral weighted by collateral factors, plus perpetual value.
    pub initial_margin: Amount,
    /// Debt plus initial margin of perpetual notional.
    pub initial_requirement: Amount,
    /// Collateral weighted by liquidation thresholds, plus perpetual value.
    pub maintenance_margin: Amount,
    /// Debt plus maintenance margin of perpetual notional.
    pub maintenance_requirement: Amount,
}

impl Health {
    /// True when the account is below its maintenance requirement.
    #[must_use]
    pub fn is_liquidatable(&self) -> bool {
        self.maintenance_margin < self.maintenance_requirement
    }

    /// True when the account meets its initial requirement.
    #[must_use]
    pub fn meets_initial(&self) -> bool {
        self.initial_margin >= self.initial_requirement
    }

    /// Maintenance margin / maintenance requirement, rounded down; `None` when nothing is owed
    /// and the margin is not negative, zero when only a negative margin (an unpaid loss) is left.
    #[must_use]
    pub fn health_factor(&self) -> Option<Ratio> {
        if !self.maintenance_requirement.is_positive() {
            return if self.maintenance_margin.is_negative() { Some(Ratio::ZERO) } else { None };
        }
        Ratio::from_fraction(self.maintenance_margin, self.maintenance_requirement, Rounding::Floor)
            .ok()
    }

    /// Collateral + perpetual value − debt: what the account is worth.
    ///
    /// # Errors
    /// Overflow.
    pub fn equity(&self) -> Result<Amount, Rejection> {
        let overflow = Rejection::from_money("equity");
        self.collateral_value
            .checked_add(self.perp_value)
            .and_then(|sum| sum.checked_sub(self.debt_value))
            .map_err(overflow)
    }

    /// Maintenance margin − maintenance requirement (negative when liquidatable).
    ///
    /// # Errors
    /// Overflow.
    pub fn maintenance_surplus(&self) -> Result<Amount, Rejection> {
        self.maintenance_margin
            .checked_sub(self.maintenance_requirement)
            .map_err(Rejection::from_money("maintenance surplus"))
    }

    /// Liabilities / assets (loan to value), rounded up: debt plus perpetual losses over
    /// collateral plus perpetual gains. `None` without assets.
    #[must_use]
    pub fn loan_to_value(&self) -> Option<Ratio> {
        let gains = self.perp_value.max(Amount::ZERO);
        let losses = self.perp_value.min(Amount::ZERO).checked_neg().ok()?;
        let assets = self.collateral_value.checked_add(gains).ok()?;
        let liabilities = self.debt_value.checked_add(losses).ok()?;
        if !assets.is_positive() {
            return None;
        }
        Ratio::from_fraction(liabilities, assets, Rounding::Ceil).ok()
    }
}

/// Collateral weights of an asset: (initial, maintenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Weights {
    pub(crate) initial: Ratio,
    pub(crate) maintenance: Ratio,
}

impl Engine {
    /// Collateral weights of an asset (see the module documentation).
    pub(crate) fn weights(&self, asset: AssetId) -> Weights {
        Weights {
            initial: self.tables.initial_weight.get(asset.index()).copied().unwrap_or(Ratio::ZERO),
            maintenance: self
                .tables
                .maintenance_weight
                .get(asset.index())
                .copied()
                .unwrap_or(Ratio::ZERO),
        }
    }

    /// An account's health at current prices; prices must be present and fresh.
    ///
    /// # Errors
    /// [`Rejection::NoPrice`], [`Rejection::StalePrice`] or overflow.
    pub fn health_of(&self, account: &Account) -> Result<Health, Rejection> {
        let overflow = Rejection::from_money("health");
        let mut health = Health::default();
        for (index, holding) in account.holdings.iter().enumerate() {
            if holding.balance.is_zero() && holding.debt_shares.is_zero() {
                continue;
            }
            let asset = AssetId::from_index(index);
            self.check_not_paused(asset)?;
            let price = self.price(asset)?;
            if holding.balance.is_positive() {
                let weights = self.weights(asset);
                let value = holding.balance.value_at(price, Rounding::Floor).map_err(&overflow)?;
                health.collateral_value =
                    health.collateral_value.checked_add(value).map_err(&overflow)?;
                let initial =
                    value.mul_ratio(weights.initial, Rounding::Floor).map_err(&overflow)?;
                let maintenance =
                    value.mul_ratio(weights.maintenance, Rounding::Floor).map_err(&overflow)?;
                health.initial_margin =
                    health.initial_margin.checked_add(initial).map_err(&overflow)?;
                health.maintenance_margin =
                    health.maintenance_margin.checked_add(maintenance).map_err(&overflow)?;
            }
            if holding.debt_shares.is_positive() {
                let market = self.lending_market(asset)?;
                let debt = market.debt_of(holding.debt_shares)?;
                let value = debt.value_at(price, Rounding::Ceil).map_err(&overflow)?;
                health.debt_value = health.debt_value.checked_add(value).map_err(&overflow)?;
            }
        }
        health.initial_requirement = health.debt_value;
        health.maintenance_requirement = health.debt_value;
        self.add_perp_health(account, &mut health)?;
        Ok(health)
    }

    fn add_perp_health(&self, account: &Account, health: &mut Health) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("perp health");
        for (index, position) in account.positions.iter().enumerate() {
            if position.is_flat() {
                continue;
            }
            let market = crate::ids::PerpMarketId::from_index(index);
            self.check_perp_not_paused(market)?;
            let (_, settlement) = self.perp_assets(market)?;
            let config =
                self.config.perps.get(index).ok_or(Rejection::UnknownPerpMarket { market })?;
            let settlement_price = self.price(settlement)?;
            // The mark is rounded so that the position's value is never overstated (down for a
            // long, up for a short) and its notional never understated (up).
            let (value_mark, notional_mark) = if position.base.is_zero() {
                (backstop_money::Price::ZERO, backstop_money::Price::ZERO)
            } else {
                let value_rounding =
                    if position.base.is_positive() { Rounding::Floor } else { Rounding::Ceil };
                (self.mark_price(market, value_rounding)?, self.mark_price(market, Rounding::Ceil)?)
            };
            let value = position
                .value_at(value_mark)?
                .value_at(settlement_price, Rounding::Floor)
                .map_err(&overflow)?;
            let notional = position
                .base
                .checked_abs()
                .and_then(|base| base.value_at(notional_mark, Rounding::Ceil))
                .and_then(|notional| notional.value_at(settlement_price, Rounding::Ceil))
                .map_err(&overflow)?;
            let initial =
                notional.mul_ratio(config.initial_margin, Rounding::Ceil).map_err(&overflow)?;
            let maintenance =
                notional.mul_ratio(config.maintenance_margin, Rounding::Ceil).map_err(&overflow)?;
            health.perp_value = health.perp_value.checked_add(value).map_err(&overflow)?;
            health.initial_margin = health.initial_margin.checked_add(value).map_err(&overflow)?;
            health.maintenance_margin =
                health.maintenance_margin.checked_add(value).map_err(&overflow)?;
            health.initial_requirement =
                health.initial_requirement.checked_add(initial).map_err(&overflow)?;
            health.maintenance_requirement =
                health.maintenance_requirement.checked_add(maintenance).map_err(&overflow)?;
        }
        Ok(())
    }

    /// An account's health by id.
    ///
    /// # Errors
    /// Unknown account, missing or stale prices, overflow.
    pub fn health(&self, id: AccountId) -> Result<Health, Rejection> {
        let account =
            self.state.accounts.get(&id).ok_or(Rejection::UnknownAccount { account: id })?;
        self.health_of(account)
    }

    /// Refuses a new account state below its initial requirement (when it owes anything).
    pub(crate) fn require_initial_health(
        &self,
        id: AccountId,
        account: &Account,
    ) -> Result<(), Rejection> {
        if !account.has_liabilities() {
            return Ok(());
        }
        let health = self.health_of(account)?;
        if !health.meets_initial() {
            return Err(Rejection::WouldBeUnhealthy {
                account: id,
                margin: health.initial_margin,
                requirement: health.initial_requirement,
            });
        }
        Ok(())
    }

    /// Accepts a new account state that meets its initial requirement, or whose maintenance
    /// surplus is no worse than the stored state's (for trades that reduce risk).
    pub(crate) fn require_no_worse(
        &self,
        id: AccountId,
        account: &Account,
    ) -> Result<(), Rejection> {
        if !account.has_liabilities() {
            return Ok(());
        }
        let after = self.health_of(account)?;
        if after.meets_initial() {
            return Ok(());
        }
        let before = self.health(id)?;
        if after.maintenance_surplus()? >= before.maintenance_surplus()? {
            return Ok(());
        }
        Err(Rejection::WouldBeUnhealthy {
            account: id,
            margin: after.initial_margin,
            requirement: after.initial_requirement,
        })
    }

    /// Refuses actions of an account while a liquidation auction of its collateral runs.
    pub(crate) fn check_not_in_auction(
        &self,
        id: AccountId,
        account: &Account,
    ) -> Result<(), Rejection> {
        if account.auctions_running > 0 {
            return Err(Rejection::AccountInAuction { account: id });
        }
        Ok(())
    }
}
