//! First-loss staker pool: shares, cooldown queue, exposure while queued, capped slashing,
//! rewards. docs/mechanisms.md describes the mechanism, its parameters and how it
//! differs from Blend's backstop, Drift's insurance fund and Aave's Umbrella.
//!
//! A pool holds `assets` (A) of one asset and has issued `shares` (S, queued shares included).
//! Share math (every division rounds as stated, in favour of the pool and its other stakers):
//!
//! * stake `a`: mints `a` shares when S = 0 (first stake 1:1), otherwise `floor(a × S / A)`;
//!   refused when S > 0 and A = 0 (drained pool), when the mint is zero, and when the new shares
//!   are worth less than `a` by more than rounding ([`STAKE_ROUNDING_TOLERANCE`]);
//! * value of `n` shares: `floor(n × A / S)`, except that all S shares are worth all of A
//!   (the last shares out take everything, Blend's `to_tokens(S) = T`);
//! * a request to unstake moves shares into the staker's queue for `cooldown_secs` and records
//!   their value then (floor). Queued shares stay in S, so a slash hits them like any other;
//!   under `full` exposure they also gain from inflows and complete at the value then, under
//!   `frozen` exposure they complete at `min(value at request, value then)`: gains since the
//!   request stay in the pool, losses are borne (Drift);
//! * a cancel returns queued shares in the configured order; under `frozen` exposure the shares
//!   that correspond to gains since the request are burned (Drift's shares-lost rule);
//! * a slash pays `min(remaining deficit, floor(A × slash_cap), A − min_assets)`;
//! * emissions: `Δindex = floor(Δt × emission_per_sec / non-queued shares)` per share, a
//!   staker earns `floor(non-queued shares × Δindex)`; queued shares earn nothing. Emissions are
//!   minted when claimed.

use crate::backstop::layers::{DequeueOrder, LayerRef, QueueExposure, StakerPoolConfig};
use crate::backstop::net::{QueueEntry, Staker};
use crate::engine::Engine;
use crate::event::Event;
use crate::ids::{AccountId, AssetId, MarketRef};
use crate::rejection::Rejection;
use crate::venue::lending::{debit, holding_mut};
use backstop_money::{Amount, MoneyError, Ratio, Rounding, SCALE, Shares, mul_div};

/// Largest part of a stake (besides one unit of the asset's smallest decimal) that the rounding
/// of its share mint may cost the staker: 10^-9. A stake that would lose more is refused
/// (rejection 42) instead of silently giving value to the pool's other stakers, which is what a
/// first-depositor inflation attack relies on.
pub const STAKE_ROUNDING_TOLERANCE: Ratio = Ratio::from_raw(1_000_000_000);

/// Shares minted for staking `amount` into a pool holding `assets` with `shares` issued:
/// `amount` when no shares exist (the first stake is 1:1, and takes whatever the pool already
/// held), zero when the pool holds no assets, otherwise `floor(amount × shares / assets)`.
///
/// # Errors
/// Overflow when the mint does not fit.
pub fn shares_for_assets(
    amount: Amount,
    assets: Amount,
    shares: Shares,
) -> Result<Shares, MoneyError> {
    if !shares.is_positive() {
        return Ok(Shares::from_raw(amount.raw()));
    }
    if !assets.is_positive() {
        return Ok(Shares::ZERO);
    }
    mul_div(amount.raw(), shares.raw(), assets.raw(), Rounding::Floor).map(Shares::from_raw)
}

/// Value of `n` of a pool's `shares` when it holds `assets`: zero when no shares exist, all the
/// assets for all the shares (the last shares out leave no dust behind), otherwise
/// `floor(n × assets / shares)`.
///
/// # Errors
/// Overflow when the value does not fit.
pub fn assets_for_shares(n: Shares, assets: Amount, shares: Shares) -> Result<Amount, MoneyError> {
    if !shares.is_positive() {
        return Ok(Amount::ZERO);
    }
    if n == shares {
        return Ok(assets);
    }
    mul_div(n.raw(), assets.raw(), shares.raw(), Rounding::Floor).map(Amount::from_raw)
}

/// Queued fraction of a pool's shares, rounded up (Blend's `q4w_pct`); zero without shares.
///
/// # Errors
/// Overflow.
pub fn queued_share_fraction(queued: Shares, shares: Shares) -> Result<Ratio, MoneyError> {
    if !shares.is_positive() {
        return Ok(Ratio::ZERO);
    }
    mul_div(queued.raw(), SCALE, shares.raw(), Rounding::Ceil).map(Ratio::from_raw)
}

/// Assets not claimed by queued shares: `assets − value of the queued shares` (the value rounded
/// down, as Blend's `non_queued_tokens`).
///
/// # Errors
/// Overflow.
pub fn non_queued_assets(
    assets: Amount,
    shares: Shares,
    queued: Shares,
) -> Result<Amount, MoneyError> {
    assets.checked_sub(assets_for_shares(queued, assets, shares)?)
}

/// Growth of the emission index over `elapsed` seconds at `per_sec` shared by `non_queued`
/// shares: `floor(elapsed × per_sec / non_queued)` per whole share. Zero when no share is
/// eligible (the period's emission is not distributed, as in Blend). `None` when the step does
/// not fit in the index (a pool of dust shares): that period's emission is forfeited rather
/// than blocking the pool.
#[must_use]
pub fn emission_index_step(elapsed: u64, per_sec: Amount, non_queued: Shares) -> Option<Ratio> {
    if !non_queued.is_positive() || !per_sec.is_positive() || elapsed == 0 {
        return Some(Ratio::ZERO);
    }
    let emitted = per_sec.raw().checked_mul(i128::from(elapsed))?;
    mul_div(emitted, SCALE, non_queued.raw(), Rounding::Floor).ok().map(Ratio::from_raw)
}

/// Emissions earned by `shares` while the index moved from `since` to `index`, rounded down.
///
/// # Errors
/// Overflow.
pub fn rewards_accrued(shares: Shares, index: Ratio, since: Ratio) -> Result<Amount, MoneyError> {
    let step = index.checked_sub(since)?;
    mul_div(shares.raw(), step.raw(), SCALE, Rounding::Floor).map(Amount::from_raw)
}

/// Shares burned when `n` queued shares whose value at request was `value_at_request` return
/// to a pool holding `assets` with `shares` issued (Drift's shares-lost rule, frozen exposure).
///
/// When the shares are now worth more than at the request, the staker keeps only the shares
/// `value_at_request` buys back from the rest of the pool, `floor(v × (S − n) / (A − v))`, and
/// the rest are burned: the gain since the request stays with the other stakers. Nothing is
/// burned when the value has not risen, or when no other shares exist (the gain would belong to
/// nobody else).
///
/// # Errors
/// Overflow.
pub fn shares_lost_on_cancel(
    n: Shares,
    value_at_request: Amount,
    assets: Amount,
    shares: Shares,
) -> Result<Shares, MoneyError> {
    let current = assets_for_shares(n, assets, shares)?;
    if current <= value_at_request {
        return Ok(Shares::ZERO);
    }
    let other_shares = shares.checked_sub(n)?;
    let other_assets = assets.checked_sub(value_at_request)?;
    if !other_shares.is_positive() || !other_assets.is_positive() {
        return Ok(Shares::ZERO);
    }
    let kept =
        mul_div(value_at_request.raw(), other_shares.raw(), other_assets.raw(), Rounding::Floor)?;
    Ok(Shares::from_raw(n.raw().saturating_sub(kept).max(0)))
}

/// Drift's rebase exponent for a pool whose vault fell below its share count:
/// `floor(log10(floor(floor(shares / 10) / vault)))`, 0 when `vault ≥ shares`, when the
/// quotient is below 1, or when the vault is empty. Drift divides every share count by
/// 10^exponent to keep them small; this engine does not rebase (docs/mechanisms.md),
/// the function only reproduces Drift's table (vector D6).
#[must_use]
pub fn drift_rebase_exponent(shares: i128, vault: i128) -> u32 {
    if vault <= 0 || vault >= shares {
        return 0;
    }
    let tenth = shares.checked_div(10).unwrap_or(0);
    let mut quotient = tenth.checked_div(vault).unwrap_or(0);
    let mut exponent = 0;
    while quotient >= 10 {
        quotient = quotient.checked_div(10).unwrap_or(0);
        exponent += 1;
    }
    exponent
}

/// The scalar part of a pool's state, worked on as a copy by a handler and written back when
/// nothing was rejected (the stakers map is not copied).
#[derive(Debug, Clone, Copy)]
struct Head {
    assets: Amount,
    shares: Shares,
    queued: Shares,
    index: Ratio,
    updated_at: u64,
    owed: Amount,
}

impl Head {
    /// Accrues the emission index to `now`.
    fn accrue(&mut self, config: &StakerPoolConfig, now: u64) {
        if config.emission_asset.is_some() && now > self.updated_at {
            let non_queued = Shares::from_raw(self.shares.raw().saturating_sub(self.queued.raw()));
            let elapsed = now.saturating_sub(self.updated_at);
            if let Some(step) = emission_index_step(elapsed, config.emission_per_sec, non_queued)
                && let Ok(index) = self.index.checked_add(step)
            {
                self.index = index;
            }
        }
        self.updated_at = self.updated_at.max(now);
    }

    /// Moves what a staker's non-queued shares earned since its last update into its rewards.
    fn settle(&mut self, staker: &mut Staker) -> Result<(), Rejection> {
        let overflow = Rejection::from_money("staker rewards");
        let earned =
            rewards_accrued(staker.shares, self.index, staker.reward_index).map_err(&overflow)?;
        staker.rewards = staker.rewards.checked_add(earned).map_err(&overflow)?;
        self.owed = self.owed.checked_add(earned).map_err(&overflow)?;
        staker.reward_index = self.index;
        Ok(())
    }

    /// Value of `n` shares now.
    fn value_of(&self, n: Shares) -> Result<Amount, Rejection> {
        assets_for_shares(n, self.assets, self.shares).map_err(Rejection::from_money("share value"))
    }
}

/// Total shares in a staker's queue.
fn queued_of(staker: &Staker) -> Result<Shares, Rejection> {
    staker.queue.iter().try_fold(Shares::ZERO, |sum, entry| {
        sum.checked_add(entry.shares).map_err(Rejection::from_money("queued shares"))
    })
}

impl Engine {
    /// Index of a staker pool by name, or [`Rejection::UnknownLayer`].
    pub(crate) fn staker_pool_index(&self, name: &str) -> Result<usize, Rejection> {
        self.config
            .staker_pools
            .iter()
            .position(|pool| pool.name == name)
            .ok_or_else(|| Rejection::UnknownLayer { layer: format!("stakers:{name}") })
    }

    /// A copy of the configuration of staker pool `index`, with its asset.
    fn staker_pool_config(&self, index: usize) -> Result<(StakerPoolConfig, AssetId), Rejection> {
        let config = self
            .config
            .staker_pools
            .get(index)
            .cloned()
            .ok_or(Rejection::Overflow { context: "pool index" })?;
        let asset = self
            .tables
            .layer_assets
            .staker_pools
            .get(index)
            .copied()
            .ok_or(Rejection::Overflow { context: "pool index" })?;
        Ok((config, asset))
    }

    /// A copy of the scalar state of staker pool `index`.
    fn pool_head(&self, index: usize) -> Result<Head, Rejection> {
        let pool = self
            .state
            .net
            .staker_pools
            .get(index)
            .ok_or(Rejection::Overflow { context: "pool index" })?;
        Ok(Head {
            assets: pool.assets,
            shares: pool.shares,
            queued: pool.queued_shares,
            index: pool.reward_index,
            updated_at: pool.rewards_updated_at,
            owed: pool.rewards_owed,
        })
    }

    /// A copy of a staker's position (a new one starts at the pool's current index).
    fn load_staker(&self, index: usize, id: AccountId, head: &Head) -> Staker {
        self.state
            .net
            .staker_pools
            .get(index)
            .and_then(|pool| pool.stakers.get(&id))
            .cloned()
            .unwrap_or_else(|| Staker { reward_index: head.index, ..Staker::default() })
    }

    /// Writes a pool's scalars and one staker back; a staker left with nothing is removed.
    fn commit_pool(&mut self, index: usize, head: Head, id: AccountId, staker: Staker) {
        if let Some(pool) = self.state.net_mut().staker_pools.get_mut(index) {
            pool.assets = head.assets;
            pool.shares = head.shares;
            pool.queued_shares = head.queued;
            pool.reward_index = head.index;
            pool.rewards_updated_at = head.updated_at;
            pool.rewards_owed = head.owed;
            if staker.shares.is_zero() && staker.queue.is_empty() && staker.rewards.is_zero() {
                pool.stakers.remove(&id);
            } else {
                pool.stakers.insert(id, staker);
            }
        }
    }

    /// `Stake`: moves `amount` of the account's collateral into the pool for new shares.
    pub(crate) fn stake(
        &mut self,
        id: AccountId,
        pool: &str,
        amount: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.staker_pool_index(pool)?;
        let (config, asset) = self.staker_pool_config(index)?;
        let mut account = self.load_account(id)?;
        self.check_amount(asset, amount, "amount")?;
        self.check_status_allows_new_deposits()?;
        self.check_not_in_auction(id, &account)?;
        let holding = holding_mut(&mut account, asset)?;
        holding.balance = debit(id, asset, holding.balance, amount)?;
        self.require_initial_health(id, &account)?;
        let overflow = Rejection::from_money("stake");
        let mut head = self.pool_head(index)?;
        if head.shares.is_positive() && !head.assets.is_positive() {
            return Err(Rejection::StakerPoolDrained {
                pool: pool.to_owned(),
                shares: head.shares,
            });
        }
        let minted = shares_for_assets(amount, head.assets, head.shares).map_err(&overflow)?;
        if !minted.is_positive() {
            return Err(Rejection::StakeZeroShares {
                pool: pool.to_owned(),
                amount,
                assets: head.assets,
                shares: head.shares,
            });
        }
        let assets_after = head.assets.checked_add(amount).map_err(&overflow)?;
        let shares_after = head.shares.checked_add(minted).map_err(&overflow)?;
        // What the new shares are worth once minted; the shortfall against `amount` is what the
        // rounding of the mint gives the other stakers.
        let value = assets_for_shares(minted, assets_after, shares_after).map_err(&overflow)?;
        let loss = amount.saturating_sub_to_zero(value);
        let decimals = self.config.assets.get(asset.index()).map_or(18, |config| config.decimals);
        let unit =
            Amount::from_raw(10_i128.pow(backstop_money::SCALE_DECIMALS.saturating_sub(decimals)));
        let tolerance = amount
            .mul_ratio(STAKE_ROUNDING_TOLERANCE, Rounding::Ceil)
            .map_err(&overflow)?
            .max(unit);
        if loss > tolerance {
            return Err(Rejection::StakeLosesValue { pool: pool.to_owned(), amount, value });
        }
        head.accrue(&config, self.state.now);
        let mut staker = self.load_staker(index, id, &head);
        head.settle(&mut staker)?;
        staker.shares = staker.shares.checked_add(minted).map_err(&overflow)?;
        head.assets = assets_after;
        head.shares = shares_after;
        self.commit_account(id, account);
        self.commit_pool(index, head, id, staker);
        Ok(vec![Event::Staked {
            account: id,
            pool: pool.to_owned(),
            amount,
            shares: minted,
            pool_assets: head.assets,
            pool_shares: head.shares,
        }])
    }

    /// `RequestUnstake`: queues `shares` for withdrawal after the pool's cooldown.
    pub(crate) fn request_unstake(
        &mut self,
        id: AccountId,
        pool: &str,
        shares: Shares,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.staker_pool_index(pool)?;
        let (config, _) = self.staker_pool_config(index)?;
        self.load_account(id)?;
        if !shares.is_positive() {
            return Err(Rejection::NotPositive { field: "shares" });
        }
        let overflow = Rejection::from_money("unstake request");
        let now = self.state.now;
        let mut head = self.pool_head(index)?;
        head.accrue(&config, now);
        let mut staker = self.load_staker(index, id, &head);
        if staker.shares < shares {
            return Err(Rejection::InsufficientStake {
                account: id,
                pool: pool.to_owned(),
                available: staker.shares,
                needed: shares,
            });
        }
        let limit = usize::try_from(config.queue_entries_max).unwrap_or(usize::MAX);
        if staker.queue.len() >= limit {
            return Err(Rejection::UnstakeQueueFull {
                account: id,
                pool: pool.to_owned(),
                limit: config.queue_entries_max,
            });
        }
        let unlock_at = now
            .checked_add(config.cooldown_secs)
            .ok_or(Rejection::Overflow { context: "unlock time" })?;
        head.settle(&mut staker)?;
        let value = head.value_of(shares)?;
        staker.shares = staker.shares.checked_sub(shares).map_err(&overflow)?;
        staker.queue.push(QueueEntry { shares, unlock_at, value_at_request: value });
        head.queued = head.queued.checked_add(shares).map_err(&overflow)?;
        self.commit_pool(index, head, id, staker);
        Ok(vec![Event::UnstakeRequested {
            account: id,
            pool: pool.to_owned(),
            shares,
            value,
            unlock_at,
        }])
    }

    /// `CancelUnstake`: returns `shares` from the queue, in the pool's dequeue order; under
    /// frozen exposure the shares matching gains since the request are burned.
    pub(crate) fn cancel_unstake(
        &mut self,
        id: AccountId,
        pool: &str,
        shares: Shares,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.staker_pool_index(pool)?;
        let (config, _) = self.staker_pool_config(index)?;
        self.load_account(id)?;
        if !shares.is_positive() {
            return Err(Rejection::NotPositive { field: "shares" });
        }
        let overflow = Rejection::from_money("unstake cancel");
        let mut head = self.pool_head(index)?;
        head.accrue(&config, self.state.now);
        let mut staker = self.load_staker(index, id, &head);
        let queued = queued_of(&staker)?;
        if queued < shares {
            return Err(Rejection::InsufficientQueued {
                account: id,
                pool: pool.to_owned(),
                queued,
                needed: shares,
            });
        }
        head.settle(&mut staker)?;
        // Take the shares off the entries in dequeue order; a partly cancelled entry keeps the
        // value of its remaining shares rounded down (what leaves it rounds up).
        let mut remaining = shares;
        let mut cancelled_value = Amount::ZERO;
        let order: Vec<usize> = match config.dequeue_order {
            DequeueOrder::NewestFirst => (0..staker.queue.len()).rev().collect(),
            DequeueOrder::OldestFirst => (0..staker.queue.len()).collect(),
        };
        for position in order {
            if !remaining.is_positive() {
                break;
            }
            let Some(entry) = staker.queue.get_mut(position) else { continue };
            let take = remaining.min(entry.shares);
            let left = entry.shares.checked_sub(take).map_err(&overflow)?;
            let value_left = mul_div(
                entry.value_at_request.raw(),
                left.raw(),
                entry.shares.raw(),
                Rounding::Floor,
            )
            .map(Amount::from_raw)
            .map_err(&overflow)?;
            cancelled_value = cancelled_value
                .checked_add(entry.value_at_request.checked_sub(value_left).map_err(&overflow)?)
                .map_err(&overflow)?;
            entry.shares = left;
            entry.value_at_request = value_left;
            remaining = remaining.checked_sub(take).map_err(&overflow)?;
        }
        staker.queue.retain(|entry| entry.shares.is_positive());
        let lost = match config.exposure {
            QueueExposure::Full => Shares::ZERO,
            QueueExposure::Frozen => {
                shares_lost_on_cancel(shares, cancelled_value, head.assets, head.shares)
                    .map_err(&overflow)?
            }
        };
        let returned = shares.checked_sub(lost).map_err(&overflow)?;
        staker.shares = staker.shares.checked_add(returned).map_err(&overflow)?;
        head.queued = head.queued.checked_sub(shares).map_err(&overflow)?;
        head.shares = head.shares.checked_sub(lost).map_err(&overflow)?;
        self.commit_pool(index, head, id, staker);
        Ok(vec![Event::UnstakeCancelled {
            account: id,
            pool: pool.to_owned(),
            shares,
            shares_lost: lost,
        }])
    }

    /// The first market whose waterfall names staker pool `pool` and that has an uncovered
    /// deficit or a deficit pending with a later-paying layer.
    fn market_with_bad_debt(&self, pool: &str) -> Option<MarketRef> {
        self.tables.waterfalls.iter().find_map(|(market, layers)| {
            let names_pool = layers
                .iter()
                .any(|(_, layer)| matches!(layer, LayerRef::Stakers(name) if name == pool));
            let pending = self.state.net.pending.get(market).copied().unwrap_or_default();
            (names_pool && (self.deficit_of(*market).is_positive() || pending.is_positive()))
                .then_some(*market)
        })
    }

    /// `CompleteUnstake`: pays every expired queued withdrawal into the account's collateral.
    pub(crate) fn complete_unstake(
        &mut self,
        id: AccountId,
        pool: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.staker_pool_index(pool)?;
        let (config, asset) = self.staker_pool_config(index)?;
        let mut account = self.load_account(id)?;
        let now = self.state.now;
        let overflow = Rejection::from_money("unstake");
        let mut head = self.pool_head(index)?;
        head.accrue(&config, now);
        let mut staker = self.load_staker(index, id, &head);
        let (expired, waiting): (Vec<QueueEntry>, Vec<QueueEntry>) =
            staker.queue.iter().cloned().partition(|entry| entry.unlock_at <= now);
        if expired.is_empty() {
            return Err(Rejection::UnstakeNotExpired {
                account: id,
                pool: pool.to_owned(),
                unlock_at: waiting.iter().map(|entry| entry.unlock_at).min(),
            });
        }
        if config.block_withdrawals_with_bad_debt
            && let Some(market) = self.market_with_bad_debt(pool)
        {
            return Err(Rejection::StakerPoolBadDebt { pool: pool.to_owned(), market });
        }
        head.settle(&mut staker)?;
        let mut burned = Shares::ZERO;
        let mut paid = Amount::ZERO;
        match config.exposure {
            QueueExposure::Full => {
                for entry in &expired {
                    burned = burned.checked_add(entry.shares).map_err(&overflow)?;
                }
                paid = head.value_of(burned)?;
                head.assets = head.assets.checked_sub(paid).map_err(&overflow)?;
                head.shares = head.shares.checked_sub(burned).map_err(&overflow)?;
            }
            QueueExposure::Frozen => {
                // One entry after the other, each against the pool as the previous left it.
                for entry in &expired {
                    let pay = head.value_of(entry.shares)?.min(entry.value_at_request);
                    head.assets = head.assets.checked_sub(pay).map_err(&overflow)?;
                    head.shares = head.shares.checked_sub(entry.shares).map_err(&overflow)?;
                    burned = burned.checked_add(entry.shares).map_err(&overflow)?;
                    paid = paid.checked_add(pay).map_err(&overflow)?;
                }
            }
        }
        head.queued = head.queued.checked_sub(burned).map_err(&overflow)?;
        staker.queue = waiting;
        let holding = holding_mut(&mut account, asset)?;
        holding.balance = holding.balance.checked_add(paid).map_err(&overflow)?;
        self.commit_account(id, account);
        self.commit_pool(index, head, id, staker);
        Ok(vec![Event::Unstaked {
            account: id,
            pool: pool.to_owned(),
            shares: burned,
            amount: paid,
        }])
    }

    /// `ClaimRewards`: mints the account's accrued emissions into its collateral.
    pub(crate) fn claim_staker_rewards(
        &mut self,
        id: AccountId,
        pool: &str,
    ) -> Result<Vec<Event>, Rejection> {
        let index = self.staker_pool_index(pool)?;
        let (config, _) = self.staker_pool_config(index)?;
        let mut account = self.load_account(id)?;
        let overflow = Rejection::from_money("staker rewards");
        let mut head = self.pool_head(index)?;
        head.accrue(&config, self.state.now);
        let mut staker = self.load_staker(index, id, &head);
        head.settle(&mut staker)?;
        let reward_asset =
            config.emission_asset.as_deref().and_then(|symbol| self.config.asset_id(symbol));
        let amount = staker.rewards;
        let Some(reward_asset) = reward_asset.filter(|_| amount.is_positive()) else {
            return Err(Rejection::NoStakerRewards { account: id, pool: pool.to_owned() });
        };
        staker.rewards = Amount::ZERO;
        head.owed = head.owed.checked_sub(amount).map_err(&overflow)?;
        let holding = holding_mut(&mut account, reward_asset)?;
        holding.balance = holding.balance.checked_add(amount).map_err(&overflow)?;
        let minted = self
            .state
            .net
            .minted
            .get(reward_asset.index())
            .copied()
            .unwrap_or_default()
            .checked_add(amount)
            .map_err(&overflow)?;
        self.commit_account(id, account);
        self.commit_pool(index, head, id, staker);
        if let Some(slot) = self.state.net_mut().minted.get_mut(reward_asset.index()) {
            *slot = minted;
        }
        Ok(vec![Event::StakerRewardsClaimed {
            account: id,
            pool: pool.to_owned(),
            asset: reward_asset,
            amount,
        }])
    }

    /// Slashes staker pool `name` towards `remaining` of a market's deficit, within its caps:
    /// pays `min(remaining, floor(assets × slash_cap), assets − min_assets)`. Every share is
    /// hit in proportion, queued ones included. Returns what it paid (the waterfall covers the
    /// deficit with it).
    pub(crate) fn stakers_pay(
        &mut self,
        name: &str,
        market: MarketRef,
        remaining: Amount,
        events: &mut Vec<Event>,
    ) -> Result<Amount, Rejection> {
        let index = self.staker_pool_index(name)?;
        let (config, _) = self.staker_pool_config(index)?;
        let overflow = Rejection::from_money("slash");
        let head = self.pool_head(index)?;
        let cap = head.assets.mul_ratio(config.slash_cap, Rounding::Floor).map_err(&overflow)?;
        let above_floor = head.assets.saturating_sub_to_zero(config.min_assets);
        let paid = remaining.min(cap).min(above_floor);
        if !paid.is_positive() {
            return Ok(Amount::ZERO);
        }
        let assets_after = head.assets.checked_sub(paid).map_err(&overflow)?;
        if let Some(pool) = self.state.net_mut().staker_pools.get_mut(index) {
            pool.assets = assets_after;
        }
        events.push(Event::StakersSlashed {
            pool: name.to_owned(),
            market,
            amount: paid,
            assets_before: head.assets,
            assets_after,
        });
        Ok(paid)
    }

    /// Adds donated or recovered tokens to staker pool `index`, raising the value of its shares
    /// (queued ones too; under frozen exposure those still complete at most at their value at
    /// request).
    pub(crate) fn donate_to_stakers(
        &mut self,
        index: usize,
        amount: Amount,
    ) -> Result<(), Rejection> {
        let pool = self
            .state
            .net_mut()
            .staker_pools
            .get_mut(index)
            .ok_or(Rejection::Overflow { context: "pool index" })?;
        pool.assets = pool.assets.checked_add(amount).map_err(Rejection::from_money("donation"))?;
        Ok(())
    }
}
