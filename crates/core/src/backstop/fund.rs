//! Insurance / reserve funds and treasury first-loss offsets: how they are fed (fees swept by
//! `settle_revenue`, donations) and how they pay a deficit (within their floor and caps).
//!
//! A fund pays at most `balance − floor`, at most what is left of its per-period cap, and at most
//! what is left of its lifetime cap for the market; an isolated fund serves only the markets it
//! names. Recoveries flow back to the layers that paid, in reverse order.

use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, MarketRef};
use crate::rejection::Rejection;
use crate::venue::lending::{debit, holding_mut};
use backstop_money::{Amount, Rounding};

impl Engine {
    /// Index of a fund by name.
    pub(crate) fn fund_index(&self, name: &str) -> Result<usize, Rejection> {
        self.config
            .funds
            .iter()
            .position(|fund| fund.name == name)
            .ok_or_else(|| Rejection::UnknownLayer { layer: name.to_owned() })
    }

    /// Pays what fund `name` can towards `remaining` of a market's deficit.
    pub(crate) fn fund_pays(
        &mut self,
        name: &str,
        market: MarketRef,
        remaining: Amount,
    ) -> Result<Amount, Rejection> {
        let index = self.fund_index(name)?;
        let config = self
            .config
            .funds
            .get(index)
            .cloned()
            .ok_or_else(|| Rejection::UnknownLayer { layer: name.to_owned() })?;
        if !config.markets.is_empty()
            && !config.markets.iter().any(|name| self.config.market_ref(name) == Some(market))
        {
            return Ok(Amount::ZERO);
        }
        let overflow = Rejection::from_money("fund payment");
        let mut fund = self.state.net.funds.get(index).cloned().unwrap_or_default();
        let now = self.state.now;
        if config.period_secs > 0 && now.saturating_sub(fund.period_start) >= config.period_secs {
            fund.period_start = now;
            fund.period_paid = Amount::ZERO;
        }
        let mut available = fund.balance.saturating_sub_to_zero(config.floor);
        if let Some(cap) = config.period_cap {
            available = available.min(cap.saturating_sub_to_zero(fund.period_paid));
        }
        let paid_to_market = fund.paid_by_market.get(&market).copied().unwrap_or_default();
        if let Some(cap) = config.market_lifetime_cap {
            available = available.min(cap.saturating_sub_to_zero(paid_to_market));
        }
        let paid = remaining.min(available);
        if !paid.is_positive() {
            return Ok(Amount::ZERO);
        }
        fund.balance = fund.balance.checked_sub(paid).map_err(&overflow)?;
        fund.period_paid = fund.period_paid.checked_add(paid).map_err(&overflow)?;
        fund.paid_by_market.insert(market, paid_to_market.checked_add(paid).map_err(&overflow)?);
        if let Some(slot) = self.state.net_mut().funds.get_mut(index) {
            *slot = fund;
        }
        Ok(paid)
    }

    /// Pays what offset `name` holds towards `remaining`.
    pub(crate) fn offset_pays(
        &mut self,
        name: &str,
        remaining: Amount,
    ) -> Result<Amount, Rejection> {
        let index = self
            .config
            .offsets
            .iter()
            .position(|offset| offset.name == name)
            .ok_or_else(|| Rejection::UnknownLayer { layer: name.to_owned() })?;
        let balance = self.state.net.offsets.get(index).copied().unwrap_or_default();
        let paid = remaining.min(balance);
        if let Some(slot) = self.state.net_mut().offsets.get_mut(index) {
            *slot = balance.checked_sub(paid).map_err(Rejection::from_money("offset payment"))?;
        }
        Ok(paid)
    }

    /// Sweeps the venue's fees in an asset into the funds holding it (redeeming the lending
    /// market's reserve shares into fees first, as far as its cash allows), passing each fund's
    /// staker share on to the first staker pool of the asset.
    pub(crate) fn settle_revenue(
        &mut self,
        asset: crate::ids::AssetId,
    ) -> Result<Vec<Event>, Rejection> {
        self.check_asset(asset)?;
        let overflow = Rejection::from_money("revenue");
        let mut events = Vec::new();
        let mut fees = self.state.fees.get(asset.index()).copied().unwrap_or_default();
        let mut market_after = None;
        if let Ok(market) = self.lending_market(asset) {
            let mut market = market.clone();
            let value = market.supply_value_of(market.reserve_shares)?.min(market.cash);
            if value.is_positive() {
                // Shares burned rounded up, capped at what the reserve holds.
                let shares = backstop_money::mul_div(
                    value.raw(),
                    backstop_money::SCALE,
                    market.supply_index.raw(),
                    Rounding::Ceil,
                )
                .map(backstop_money::Shares::from_raw)
                .map_err(&overflow)?
                .min(market.reserve_shares);
                market.reserve_shares =
                    market.reserve_shares.checked_sub(shares).map_err(&overflow)?;
                market.supply_shares =
                    market.supply_shares.checked_sub(shares).map_err(&overflow)?;
                market.cash = market.cash.checked_sub(value).map_err(&overflow)?;
                fees = fees.checked_add(value).map_err(&overflow)?;
                events.push(Event::ReserveRedeemed { asset, amount: value, shares });
                market_after = Some(market);
            }
        }
        let symbol = self.config.asset_symbol(asset).to_owned();
        // Rewards go to the first staker pool of the asset that has stakers; with none, the
        // fund keeps them (an empty pool's assets would be a windfall for the next staker).
        let pool_index = self.config.staker_pools.iter().enumerate().position(|(index, pool)| {
            pool.asset == symbol
                && self
                    .state
                    .net
                    .staker_pools
                    .get(index)
                    .is_some_and(|state| state.shares.is_positive())
        });
        let mut funds = self.state.net.funds.clone();
        let mut pool_assets = pool_index
            .and_then(|index| self.state.net.staker_pools.get(index))
            .map(|pool| pool.assets);
        for (index, config) in self.config.funds.iter().enumerate() {
            if config.asset != symbol || !fees.is_positive() {
                continue;
            }
            let fund_state = funds.get(index).cloned().unwrap_or_default();
            let mut inflow = fees
                .mul_ratio(config.fee_share.min(config.settle_share_max), Rounding::Floor)
                .map_err(&overflow)?;
            if let Some(apr) = config.settle_apr_max {
                // balance × apr × elapsed / year, rounded down.
                let elapsed = i128::from(self.state.now.saturating_sub(fund_state.settled_at));
                let yearly =
                    fund_state.balance.mul_ratio(apr, Rounding::Floor).map_err(&overflow)?;
                let cap = backstop_money::mul_div(
                    yearly.raw(),
                    elapsed,
                    crate::venue::lending::YEAR_SECS,
                    Rounding::Floor,
                )
                .map(Amount::from_raw)
                .map_err(&overflow)?;
                inflow = inflow.min(cap);
            }
            // A sweep moves whole units of the asset, as a token transfer would: rounded down.
            let inflow = self.floor_to_asset_unit(asset, inflow)?;
            fees = fees.checked_sub(inflow).map_err(&overflow)?;
            let to_stakers = match pool_assets.as_mut() {
                Some(assets) => {
                    let part = inflow
                        .mul_ratio(config.staker_share, Rounding::Floor)
                        .map_err(&overflow)?;
                    *assets = assets.checked_add(part).map_err(&overflow)?;
                    part
                }
                None => Amount::ZERO,
            };
            let fund = funds.get_mut(index).expect("fund indices come from the validated config");
            fund.settled_at = self.state.now;
            fund.balance = fund
                .balance
                .checked_add(inflow.checked_sub(to_stakers).map_err(&overflow)?)
                .map_err(&overflow)?;
            events.push(Event::RevenueSettled {
                fund: config.name.clone(),
                amount: inflow,
                to_stakers,
            });
        }
        if let Some(market) = market_after {
            self.commit_lending(asset, market);
        }
        self.state.net_mut().funds = funds;
        if let (Some(index), Some(assets)) = (pool_index, pool_assets)
            && let Some(pool) = self.state.net_mut().staker_pools.get_mut(index)
        {
            pool.assets = assets;
        }
        self.set_fees(asset, fees);
        Ok(events)
    }

    /// Moves an account's collateral into a fund, an offset or a staker pool as a donation.
    pub(crate) fn donate(
        &mut self,
        id: AccountId,
        layer: &str,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let parsed = crate::backstop::layers::LayerRef::parse(layer)
            .map_err(|_| Rejection::UnknownLayer { layer: layer.to_owned() })?;
        let (asset_symbol, target) = match &parsed {
            crate::backstop::layers::LayerRef::Fund(name) => {
                let index = self.fund_index(name)?;
                (
                    self.config.funds.get(index).map(|fund| fund.asset.clone()),
                    DonationTarget::Fund(index),
                )
            }
            crate::backstop::layers::LayerRef::Offset(name) => {
                let index = self
                    .config
                    .offsets
                    .iter()
                    .position(|offset| &offset.name == name)
                    .ok_or_else(|| Rejection::UnknownLayer { layer: layer.to_owned() })?;
                (
                    self.config.offsets.get(index).map(|offset| offset.asset.clone()),
                    DonationTarget::Offset(index),
                )
            }
            crate::backstop::layers::LayerRef::Stakers(name) => {
                let index = self
                    .config
                    .staker_pools
                    .iter()
                    .position(|pool| &pool.name == name)
                    .ok_or_else(|| Rejection::UnknownLayer { layer: layer.to_owned() })?;
                (
                    self.config.staker_pools.get(index).map(|pool| pool.asset.clone()),
                    DonationTarget::Stakers(index),
                )
            }
            _ => return Err(Rejection::UnknownLayer { layer: layer.to_owned() }),
        };
        let asset = asset_symbol
            .and_then(|symbol| self.config.asset_id(&symbol))
            .ok_or_else(|| Rejection::UnknownLayer { layer: layer.to_owned() })?;
        self.check_amount(asset, amount, "amount")?;
        let mut account = self.load_account(id)?;
        self.check_not_in_auction(id, &account)?;
        let holding = holding_mut(&mut account, asset)?;
        holding.balance = debit(id, asset, holding.balance, amount)?;
        // A donation leaves the account like a withdrawal: it must stay above its initial margin.
        self.require_initial_health(id, &account)?;
        let overflow = Rejection::from_money("donation");
        match target {
            DonationTarget::Fund(index) => {
                let fund = self
                    .state
                    .net
                    .funds
                    .get(index)
                    .expect("fund indices come from the validated config");
                let balance = fund.balance.checked_add(amount).map_err(&overflow)?;
                if let Some(fund) = self.state.net_mut().funds.get_mut(index) {
                    fund.balance = balance;
                }
            }
            DonationTarget::Offset(index) => {
                let balance = self
                    .state
                    .net
                    .offsets
                    .get(index)
                    .copied()
                    .unwrap_or_default()
                    .checked_add(amount)
                    .map_err(&overflow)?;
                if let Some(slot) = self.state.net_mut().offsets.get_mut(index) {
                    *slot = balance;
                }
            }
            DonationTarget::Stakers(index) => self.donate_to_stakers(index, amount)?,
        }
        self.commit_account(id, account);
        Ok(vec![Event::Donated { account: id, layer: layer.to_owned(), amount }])
    }

    /// Routes funds recovered for a market (for instance returned by an exploiter) back to the
    /// layers that paid its deficits, in reverse order of payment, each up to what it paid and has
    /// not yet recovered; what is left reduces the market's uncovered deficit, then goes to fees.
    pub(crate) fn recover(
        &mut self,
        market: MarketRef,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let asset = self.market_asset_checked(market)?;
        self.check_amount(asset, amount, "amount")?;
        let overflow = Rejection::from_money("recovery");
        let mut remaining = amount;
        let mut events = Vec::new();
        let mut payments = self.state.net.payments.get(&market).cloned().unwrap_or_default();
        for payment in payments.iter_mut().rev() {
            let owed = payment.paid.saturating_sub_to_zero(payment.recovered);
            let back = remaining.min(owed);
            if !back.is_positive() {
                continue;
            }
            self.return_to_layer(market, &payment.layer, back)?;
            payment.recovered = payment.recovered.checked_add(back).map_err(&overflow)?;
            remaining = remaining.checked_sub(back).map_err(&overflow)?;
            events.push(Event::RecoveryReturned {
                market,
                layer: payment.layer.clone(),
                amount: back,
            });
        }
        let to_deficit = remaining.min(self.deficit_of(market));
        if to_deficit.is_positive() {
            self.cover_deficit(market, to_deficit)?;
            let covered = self.state.net_mut().recovered_to_deficit.entry(market).or_default();
            *covered = covered.checked_add(to_deficit).map_err(&overflow)?;
            remaining = remaining.checked_sub(to_deficit).map_err(&overflow)?;
            events.push(Event::RecoveryReturned {
                market,
                layer: "deficit".to_owned(),
                amount: to_deficit,
            });
        }
        if remaining.is_positive() {
            let fees = self.fees_after(asset, remaining)?;
            self.set_fees(asset, fees);
            events.push(Event::RecoveryReturned {
                market,
                layer: "fees".to_owned(),
                amount: remaining,
            });
        }
        self.state.net_mut().payments.insert(market, payments);
        let external = self.external_after(asset, amount)?;
        self.set_external(asset, external);
        events.insert(0, Event::Recovered { market, amount });
        Ok(events)
    }

    /// Gives `amount` recovered for `market` back to a layer that paid.
    fn return_to_layer(
        &mut self,
        market: MarketRef,
        layer: &str,
        amount: Amount,
    ) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("recovery");
        let asset = self.deficit_asset(market)?;
        match crate::backstop::layers::LayerRef::parse(layer)
            .map_err(|_| Rejection::UnknownLayer { layer: layer.to_owned() })?
        {
            crate::backstop::layers::LayerRef::Fund(name) => {
                let index = self.fund_index(&name)?;
                if let Some(fund) = self.state.net_mut().funds.get_mut(index) {
                    fund.balance = fund.balance.checked_add(amount).map_err(&overflow)?;
                }
            }
            crate::backstop::layers::LayerRef::Offset(name) => {
                let index = self
                    .config
                    .offsets
                    .iter()
                    .position(|offset| offset.name == name)
                    .ok_or_else(|| Rejection::UnknownLayer { layer: layer.to_owned() })?;
                if let Some(slot) = self.state.net_mut().offsets.get_mut(index) {
                    *slot = slot.checked_add(amount).map_err(&overflow)?;
                }
            }
            crate::backstop::layers::LayerRef::Stakers(name) => {
                let index = self
                    .config
                    .staker_pools
                    .iter()
                    .position(|pool| pool.name == name)
                    .ok_or_else(|| Rejection::UnknownLayer { layer: layer.to_owned() })?;
                self.donate_to_stakers(index, amount)?;
            }
            crate::backstop::layers::LayerRef::Cover(name) => {
                // Clawback: the guarantor gets its money back, out of the venue.
                let external =
                    self.external_after(asset, amount.checked_neg().map_err(&overflow)?)?;
                self.set_external(asset, external);
                if let Some(index) = self.config.covers.iter().position(|cover| cover.name == name)
                    && let Some(cover) = self.state.net_mut().covers.get_mut(index)
                {
                    cover.paid = cover.paid.saturating_sub_to_zero(amount);
                }
            }
            crate::backstop::layers::LayerRef::Socialize => match market {
                MarketRef::Lending(lending_asset) => {
                    let mut state = self.lending_market(lending_asset)?.clone();
                    // Suppliers were cut: raise their index back, rounded down; the tokens become cash.
                    if state.supply_shares.is_positive() {
                        let step = backstop_money::mul_div(
                            amount.raw(),
                            backstop_money::SCALE,
                            state.supply_shares.raw(),
                            Rounding::Floor,
                        )
                        .map_err(&overflow)?;
                        state.supply_index = state
                            .supply_index
                            .checked_add(backstop_money::Ratio::from_raw(step))
                            .map_err(&overflow)?;
                    }
                    state.cash = state.cash.checked_add(amount).map_err(&overflow)?;
                    self.commit_lending(lending_asset, state);
                }
                // Socialised perpetual losses were spread over positions that may have closed
                // since: the recovery goes to the venue's fees.
                MarketRef::Perp(_) => {
                    let fees = self.fees_after(asset, amount)?;
                    self.set_fees(asset, fees);
                }
            },
            // Fees, recapitalisation (minted tokens cannot be un-minted) and anything else: the
            // venue's fee ledger.
            _ => {
                let fees = self.fees_after(asset, amount)?;
                self.set_fees(asset, fees);
            }
        }
        Ok(())
    }

    /// `amount` rounded down to the asset's smallest unit (its `decimals`).
    pub(crate) fn floor_to_asset_unit(
        &self,
        asset: crate::ids::AssetId,
        amount: Amount,
    ) -> Result<Amount, Rejection> {
        let decimals = self.config.assets.get(asset.index()).map_or(18, |config| config.decimals);
        let unit = 10_i128.pow(backstop_money::SCALE_DECIMALS.saturating_sub(decimals));
        backstop_money::mul_div(amount.raw(), 1, unit, Rounding::Floor)
            .and_then(|units| units.checked_mul(unit).ok_or(backstop_money::MoneyError::Overflow))
            .map(Amount::from_raw)
            .map_err(Rejection::from_money("asset unit"))
    }

    /// The deficit asset of a market, checking that the market exists.
    pub(crate) fn market_asset_checked(
        &self,
        market: MarketRef,
    ) -> Result<crate::ids::AssetId, Rejection> {
        match market {
            MarketRef::Lending(asset) => {
                self.lending_market(asset)?;
                Ok(asset)
            }
            MarketRef::Perp(perp) => Ok(self.perp_assets(perp)?.1),
        }
    }
}

/// Where a donation goes.
enum DonationTarget {
    Fund(usize),
    Offset(usize),
    Stakers(usize),
}
