//! Accounts: collateral balances, supply shares, debt shares and perpetual positions.

use crate::command::AccountKind;
use crate::liquidation_index::IndexEntry;
use crate::venue::perp::PerpPosition;
use backstop_money::{Amount, Shares};
use serde::{Deserialize, Serialize};

/// What an account holds and owes in one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetHolding {
    /// Collateral held at the venue (never negative).
    pub balance: Amount,
    /// Shares of the asset's lending market supplied by the account.
    pub supply_shares: Shares,
    /// Shares of the asset's lending market debt owed by the account.
    pub debt_shares: Shares,
}

/// One account at the venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Regular or backstop.
    pub kind: AccountKind,
    /// Per asset, indexed by asset id.
    pub holdings: Vec<AssetHolding>,
    /// Per perpetual market, indexed by market id.
    pub positions: Vec<PerpPosition>,
    /// Number of liquidation auctions running on this account.
    pub auctions_running: u32,
    /// Where the account sits in the liquidation index (not part of the state hash).
    #[serde(skip)]
    pub(crate) index_entry: IndexEntry,
}

impl Account {
    /// An empty account for a venue with this many assets and perpetual markets.
    #[must_use]
    pub fn new(kind: AccountKind, asset_count: usize, perp_count: usize) -> Account {
        Account {
            kind,
            holdings: vec![AssetHolding::default(); asset_count],
            positions: vec![PerpPosition::default(); perp_count],
            auctions_running: 0,
            index_entry: IndexEntry::None,
        }
    }

    /// True when the account owes anything: lending debt, an open position or an unpaid loss.
    #[must_use]
    pub fn has_liabilities(&self) -> bool {
        self.holdings.iter().any(|holding| holding.debt_shares.is_positive())
            || self.positions.iter().any(|position| !position.is_flat())
    }

    /// True when the account holds no collateral at all.
    #[must_use]
    pub fn has_no_collateral(&self) -> bool {
        self.holdings.iter().all(|holding| holding.balance.is_zero())
    }

    /// True when the account has no open perpetual base in any market.
    #[must_use]
    pub fn has_no_open_base(&self) -> bool {
        self.positions.iter().all(|position| position.base.is_zero())
    }
}

impl crate::engine::Engine {
    pub(crate) fn open_account(
        &mut self,
        id: crate::ids::AccountId,
        kind: AccountKind,
    ) -> Result<Vec<crate::event::Event>, crate::rejection::Rejection> {
        use crate::rejection::Rejection;
        if self.state.accounts.contains_key(&id) {
            return Err(Rejection::AccountExists { account: id });
        }
        let limit = self.config.venue.account_count_max;
        if u64::try_from(self.state.accounts.len()).unwrap_or(u64::MAX) >= limit {
            return Err(Rejection::AccountLimitReached { limit });
        }
        let account = Account::new(kind, self.config.assets.len(), self.config.perps.len());
        self.commit_account(id, account);
        Ok(vec![crate::event::Event::AccountOpened { account: id, kind }])
    }

    pub(crate) fn deposit(
        &mut self,
        id: crate::ids::AccountId,
        asset: crate::ids::AssetId,
        amount: Amount,
    ) -> Result<Vec<crate::event::Event>, crate::rejection::Rejection> {
        use crate::rejection::Rejection;
        self.check_amount(asset, amount, "amount")?;
        let mut account = self.load_account(id)?;
        // Frozen venues take no new money, except into accounts that owe something (to repay).
        if !account.has_liabilities() {
            self.check_status_allows_new_deposits()?;
        }
        let overflow = Rejection::from_money("deposit");
        let holding = crate::venue::lending::holding_mut(&mut account, asset)?;
        holding.balance = holding.balance.checked_add(amount).map_err(&overflow)?;
        let external = self.external_after(asset, amount)?;
        self.commit_account(id, account);
        self.set_external(asset, external);
        Ok(vec![crate::event::Event::Deposited { account: id, asset, amount }])
    }

    pub(crate) fn withdraw(
        &mut self,
        id: crate::ids::AccountId,
        asset: crate::ids::AssetId,
        amount: Amount,
    ) -> Result<Vec<crate::event::Event>, crate::rejection::Rejection> {
        use crate::rejection::Rejection;
        self.check_amount(asset, amount, "amount")?;
        let mut account = self.load_account(id)?;
        self.check_not_in_auction(id, &account)?;
        self.check_withdrawals_not_gated()?;
        let holding = crate::venue::lending::holding_mut(&mut account, asset)?;
        holding.balance = crate::venue::lending::debit(id, asset, holding.balance, amount)?;
        self.require_initial_health(id, &account)?;
        let external = self.external_after(
            asset,
            amount.checked_neg().map_err(Rejection::from_money("withdraw"))?,
        )?;
        self.commit_account(id, account);
        self.set_external(asset, external);
        Ok(vec![crate::event::Event::Withdrawn { account: id, asset, amount }])
    }

    /// Net external deposits of an asset after adding `delta`.
    pub(crate) fn external_after(
        &self,
        asset: crate::ids::AssetId,
        delta: Amount,
    ) -> Result<Amount, crate::rejection::Rejection> {
        let current = self.state.external_net.get(asset.index()).copied().unwrap_or_default();
        current
            .checked_add(delta)
            .map_err(crate::rejection::Rejection::from_money("external deposits"))
    }

    pub(crate) fn set_external(&mut self, asset: crate::ids::AssetId, value: Amount) {
        if let Some(slot) = self.state.external_net_mut(asset.index()) {
            *slot = value;
        }
    }
}
