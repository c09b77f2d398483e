//! The state hash: a SHA-256 digest of the whole state, identical across runs and machines.
//!
//! Accounts are hashed one by one and their digests summed modulo 2^256 (an additive multiset
//! hash), so after a command only the accounts it touched are re-hashed; everything else (time,
//! prices, markets, fees, auctions) is small and hashed in full. The encoding is fixed-width
//! little-endian in a fixed field order, versioned by the domain tag `backstop-state-v2` (v2: the digest of the configuration in force
//! comes first, so governance changes and edited snapshot configurations move the hash).

use crate::account::Account;
use crate::backstop::net::SafetyNet;
use crate::engine::{Engine, State};
use crate::ids::{AccountId, MarketRef};
use backstop_money::Amount;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// A 32-byte state hash.
pub type StateHash = [u8; 32];

/// Cached per-account digests and their running sum.
#[derive(Debug, Clone, Default)]
pub struct HashCache {
    digests: BTreeMap<AccountId, [u64; 4]>,
    sum: [u64; 4],
    dirty: BTreeSet<AccountId>,
}

impl HashCache {
    /// Notes that an account changed and must be re-hashed.
    pub(crate) fn mark_dirty(&mut self, id: AccountId) {
        self.dirty.insert(id);
    }
}

impl Engine {
    /// The hash of the current state; re-hashes only the accounts changed since the last call.
    pub fn state_hash(&mut self) -> StateHash {
        let dirty = std::mem::take(&mut self.hash_cache.dirty);
        for id in dirty {
            if let Some(old) = self.hash_cache.digests.remove(&id) {
                self.hash_cache.sum = sub_256(self.hash_cache.sum, old);
            }
            if let Some(account) = self.state.accounts.get(&id) {
                let digest = account_digest(id, account);
                self.hash_cache.sum = add_256(self.hash_cache.sum, digest);
                self.hash_cache.digests.insert(id, digest);
            }
        }
        global_digest(&self.state, self.config.digest(), self.hash_cache.sum)
    }

    /// The hash of the current state computed from scratch, without the cache (for audits).
    #[must_use]
    pub fn state_hash_from_scratch(&self) -> StateHash {
        let sum = self
            .state
            .accounts
            .iter()
            .fold([0; 4], |sum, (id, account)| add_256(sum, account_digest(*id, account)));
        global_digest(&self.state, self.config.digest(), sum)
    }
}

/// Digest of one account as four little-endian 64-bit limbs.
fn account_digest(id: AccountId, account: &Account) -> [u64; 4] {
    let mut hasher = Sha256::new();
    hasher.update(b"account");
    hasher.update(id.0.to_le_bytes());
    hasher.update([account.kind as u8]);
    for holding in &account.holdings {
        hasher.update(holding.balance.raw().to_le_bytes());
        hasher.update(holding.supply_shares.raw().to_le_bytes());
        hasher.update(holding.debt_shares.raw().to_le_bytes());
    }
    for position in &account.positions {
        hasher.update(position.base.raw().to_le_bytes());
        hasher.update(position.quote.raw().to_le_bytes());
    }
    hasher.update(account.auctions_running.to_le_bytes());
    let bytes: [u8; 32] = hasher.finalize().into();
    let mut limbs = [0_u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut word = [0_u8; 8];
        word.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(word);
    }
    limbs
}

/// Digest of the configuration in force and everything but the accounts, plus the accounts'
/// digest sum.
fn global_digest(state: &State, config: &[u8; 32], account_sum: [u64; 4]) -> StateHash {
    let mut hasher = Sha256::new();
    hasher.update(b"backstop-state-v2");
    hasher.update(config);
    hasher.update(state.now.to_le_bytes());
    for entry in &state.prices {
        hasher.update(entry.price.raw().to_le_bytes());
        hasher.update(entry.updated_at.to_le_bytes());
    }
    for market in &state.lending {
        match market {
            None => hasher.update([0]),
            Some(market) => {
                hasher.update([1]);
                for raw in [
                    market.cash.raw(),
                    market.supply_shares.raw(),
                    market.reserve_shares.raw(),
                    market.supply_index.raw(),
                    market.debt_shares.raw(),
                    market.borrow_index.raw(),
                    market.deficit.raw(),
                    market.auction_debt.raw(),
                ] {
                    hasher.update(raw.to_le_bytes());
                }
                hasher.update(market.last_accrual.to_le_bytes());
            }
        }
    }
    for market in &state.perps {
        hasher.update(market.open_interest.raw().to_le_bytes());
        hasher.update(market.deficit.raw().to_le_bytes());
    }
    for (fee, external) in state.fees.iter().zip(state.external_net.iter()) {
        hasher.update(fee.raw().to_le_bytes());
        hasher.update(external.raw().to_le_bytes());
    }
    hasher.update(state.next_auction.to_le_bytes());
    for (id, auction) in &state.auctions {
        hasher.update(id.0.to_le_bytes());
        hasher.update(auction.account.0.to_le_bytes());
        hasher.update(auction.keeper.0.to_le_bytes());
        hasher.update(auction.collateral.0.to_le_bytes());
        hasher.update(auction.debt.0.to_le_bytes());
        for raw in [auction.lot.raw(), auction.tab.raw(), auction.owed.raw(), auction.top.raw()] {
            hasher.update(raw.to_le_bytes());
        }
        hasher.update(auction.started_at.to_le_bytes());
    }
    // Hashed only when present, so the hash of a venue without English auctions is unchanged.
    for (id, auction) in &state.english_auctions {
        hasher.update(b"english");
        hasher.update(id.0.to_le_bytes());
        hasher.update(auction.account.0.to_le_bytes());
        hasher.update(auction.keeper.0.to_le_bytes());
        hasher.update(auction.collateral.0.to_le_bytes());
        hasher.update(auction.debt.0.to_le_bytes());
        for raw in [auction.lot.raw(), auction.tab.raw(), auction.owed.raw(), auction.bid.raw()] {
            hasher.update(raw.to_le_bytes());
        }
        hasher.update(auction.bidder.map_or(u64::MAX, |bidder| bidder.0).to_le_bytes());
        hasher.update(auction.bid_expires_at.to_le_bytes());
        hasher.update(auction.ends_at.to_le_bytes());
    }
    hash_safety_net(&mut hasher, &state.net);
    crate::claims::hash_claims(&mut hasher, &state.claims);
    crate::governance::hash_governance(&mut hasher, &state.governance);
    hasher.update((state.accounts.len() as u64).to_le_bytes());
    for limb in account_sum {
        hasher.update(limb.to_le_bytes());
    }
    hasher.finalize().into()
}

/// Feeds the safety net's state into the hasher in a fixed order. Every field of
/// `backstop::net` must appear here (a new field without a line here would not be hashed).
fn hash_safety_net(hasher: &mut Sha256, net: &SafetyNet) {
    let amount = |hasher: &mut Sha256, value: Amount| hasher.update(value.raw().to_le_bytes());
    let count = |hasher: &mut Sha256, length: usize| hasher.update((length as u64).to_le_bytes());
    let market = |hasher: &mut Sha256, market: &MarketRef| match market {
        MarketRef::Lending(asset) => {
            hasher.update([0, asset.0.to_le_bytes()[0], asset.0.to_le_bytes()[1]])
        }
        MarketRef::Perp(perp) => {
            hasher.update([1, perp.0.to_le_bytes()[0], perp.0.to_le_bytes()[1]])
        }
    };
    hasher.update(b"net");
    count(hasher, net.funds.len());
    for fund in &net.funds {
        amount(hasher, fund.balance);
        hasher.update(fund.period_start.to_le_bytes());
        amount(hasher, fund.period_paid);
        hasher.update(fund.settled_at.to_le_bytes());
        count(hasher, fund.paid_by_market.len());
        for (key, value) in &fund.paid_by_market {
            market(hasher, key);
            amount(hasher, *value);
        }
    }
    count(hasher, net.offsets.len());
    for offset in &net.offsets {
        amount(hasher, *offset);
    }
    count(hasher, net.staker_pools.len());
    for pool in &net.staker_pools {
        for value in [
            pool.assets.raw(),
            pool.shares.raw(),
            pool.queued_shares.raw(),
            pool.reward_index.raw(),
        ] {
            hasher.update(value.to_le_bytes());
        }
        hasher.update(pool.rewards_updated_at.to_le_bytes());
        amount(hasher, pool.rewards_owed);
        count(hasher, pool.stakers.len());
        for (id, staker) in &pool.stakers {
            hasher.update(id.0.to_le_bytes());
            hasher.update(staker.shares.raw().to_le_bytes());
            hasher.update(staker.reward_index.raw().to_le_bytes());
            amount(hasher, staker.rewards);
            count(hasher, staker.queue.len());
            for entry in &staker.queue {
                hasher.update(entry.shares.raw().to_le_bytes());
                hasher.update(entry.unlock_at.to_le_bytes());
                amount(hasher, entry.value_at_request);
            }
        }
    }
    count(hasher, net.stability_pools.len());
    for pool in &net.stability_pools {
        amount(hasher, pool.deposits);
        hasher.update(pool.product.to_le_bytes());
        hasher.update(pool.scale.to_le_bytes());
        count(hasher, pool.collateral.len());
        for (asset, value) in &pool.collateral {
            hasher.update(asset.to_le_bytes());
            amount(hasher, *value);
        }
        count(hasher, pool.sums.len());
        for ((scale, asset), value) in &pool.sums {
            hasher.update(scale.to_le_bytes());
            hasher.update(asset.to_le_bytes());
            hasher.update(value.to_le_bytes());
        }
        count(hasher, pool.depositors.len());
        for (id, deposit) in &pool.depositors {
            hasher.update(id.0.to_le_bytes());
            amount(hasher, deposit.initial);
            hasher.update(deposit.product.to_le_bytes());
            hasher.update(deposit.scale.to_le_bytes());
            count(hasher, deposit.sums.len());
            for (asset, value) in &deposit.sums {
                hasher.update(asset.to_le_bytes());
                hasher.update(value.to_le_bytes());
            }
        }
    }
    count(hasher, net.covers.len());
    for cover in &net.covers {
        hasher.update(cover.term_end.to_le_bytes());
        amount(hasher, cover.losses_reached);
        amount(hasher, cover.paid);
        amount(hasher, cover.premiums_paid);
        count(hasher, cover.recognized_seen.len());
        for (key, value) in &cover.recognized_seen {
            market(hasher, key);
            amount(hasher, *value);
        }
    }
    count(hasher, net.claims.len());
    for (id, claim) in &net.claims {
        hasher.update(id.to_le_bytes());
        count(hasher, claim.cover);
        market(hasher, &claim.market);
        amount(hasher, claim.amount);
        hasher.update(claim.opened_at.to_le_bytes());
        count(hasher, claim.layer_position);
    }
    count(hasher, net.recap_auctions.len());
    for (id, auction) in &net.recap_auctions {
        hasher.update(id.to_le_bytes());
        market(hasher, &auction.market);
        amount(hasher, auction.bid);
        amount(hasher, auction.lot);
        hasher.update(auction.started_at.to_le_bytes());
        hasher.update([u8::from(auction.approved)]);
        count(hasher, auction.layer_position);
    }
    hasher.update(net.recap_period.0.to_le_bytes());
    amount(hasher, net.recap_period.1);
    hasher.update(net.next_id.to_le_bytes());
    for map in [&net.pending, &net.recognized, &net.recovered_to_deficit] {
        count(hasher, map.len());
        for (key, value) in map {
            market(hasher, key);
            amount(hasher, *value);
        }
    }
    count(hasher, net.payments.len());
    for (key, payments) in &net.payments {
        market(hasher, key);
        count(hasher, payments.len());
        for payment in payments {
            count(hasher, payment.layer.len());
            hasher.update(payment.layer.as_bytes());
            amount(hasher, payment.paid);
            amount(hasher, payment.recovered);
        }
    }
    hasher.update([net.status as u8]);
    hasher.update([u8::from(net.status_by_admin)]);
    for paused in &net.paused {
        hasher.update([u8::from(*paused)]);
    }
    for facility in &net.facilities {
        amount(hasher, facility.loan);
        hasher.update(facility.accrued_at.to_le_bytes());
    }
    for minted in &net.minted {
        amount(hasher, *minted);
    }
}

/// `a + b` modulo 2^256 on little-endian limbs.
fn add_256(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    let mut out = [0_u64; 4];
    let mut carry = false;
    for index in 0..4 {
        let (sum, first) = a[index].overflowing_add(b[index]);
        let (sum, second) = sum.overflowing_add(u64::from(carry));
        out[index] = sum;
        carry = first || second;
    }
    out
}

/// `a − b` modulo 2^256 on little-endian limbs.
fn sub_256(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    let mut out = [0_u64; 4];
    let mut borrow = false;
    for index in 0..4 {
        let (difference, first) = a[index].overflowing_sub(b[index]);
        let (difference, second) = difference.overflowing_sub(u64::from(borrow));
        out[index] = difference;
        borrow = first || second;
    }
    out
}

/// Formats a state hash as lowercase hex.
#[must_use]
pub fn to_hex(hash: &StateHash) -> String {
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}
