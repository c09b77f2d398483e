//! Engine snapshots: the configuration and state that rebuild an engine exactly.
//!
//! A snapshot holds only what the state hash covers plus the configuration (governance may have
//! changed it since genesis) and the running totals. Everything derived — the lookup tables, the
//! liquidation index, each account's place in it, the perpetual holder sets and the hash cache —
//! is rebuilt by [`Engine::from_snapshot`], which then refuses any snapshot whose shape does not
//! match its configuration, whose ids dangle, or whose state breaks an invariant (the full audit
//! runs in every build profile). A corrupt snapshot is a typed [`SnapshotError`], never a panic.

use crate::config::{ConfigError, VenueConfig};
use crate::engine::{Engine, State, Tables};
use crate::ids::{AccountId, AssetId, MarketRef};
use crate::invariants::Violation;
use crate::liquidation_index::{IndexEntry, LiquidationIndex};
use crate::state_hash::HashCache;
use serde::{Deserialize, Serialize};

/// Version of the snapshot layout written by [`Engine::snapshot`].
pub const SNAPSHOT_FORMAT: u32 = 2;

/// Everything needed to rebuild an engine: its configuration (governance may have changed it) and state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSnapshot {
    /// Layout version ([`SNAPSHOT_FORMAT`]).
    pub format: u32,
    /// The venue configuration in force when the snapshot was taken.
    pub config: VenueConfig,
    /// The engine state.
    pub state: State,
    /// Hex state hash of the engine the snapshot was taken from (configuration digest included);
    /// `from_snapshot` refuses a snapshot that rebuilds to another hash. `None` only for a copy
    /// edited on purpose (a what-if on a changed price), which no record vouches for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_hash: Option<String>,
}

/// Why a snapshot cannot be turned back into an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// The snapshot was written in a layout this build does not read.
    UnsupportedFormat {
        /// Format found in the snapshot.
        found: u32,
        /// Format this build reads.
        expected: u32,
    },
    /// The configuration in the snapshot does not validate.
    Config(ConfigError),
    /// A per-asset, per-market or per-layer list has the wrong length for the configuration.
    Length {
        /// Path of the list in the state, such as `state.prices`.
        field: String,
        /// Length the configuration calls for.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// A part of the state refers to something that does not exist or contradicts another part.
    Inconsistent {
        /// Path of the offending part of the state.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The rebuilt engine breaks an invariant (docs/INVARIANTS.md).
    Invariant(Violation),
    /// The rebuilt engine's state hash differs from the one recorded in the snapshot: its
    /// configuration or state was edited after it was taken.
    StateHash {
        /// Hash recorded in the snapshot.
        recorded: String,
        /// Hash of the engine rebuilt from it.
        rebuilt: String,
    },
}

impl core::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SnapshotError::UnsupportedFormat { found, expected } => {
                write!(f, "snapshot format {found} is not supported (this build reads {expected})")
            }
            SnapshotError::Config(error) => write!(f, "snapshot configuration is invalid: {error}"),
            SnapshotError::Length { field, expected, found } => {
                write!(
                    f,
                    "snapshot {field} has {found} entries, the configuration needs {expected}"
                )
            }
            SnapshotError::Inconsistent { field, message } => {
                write!(f, "snapshot {field} is inconsistent: {message}")
            }
            SnapshotError::Invariant(violation) => {
                write!(f, "snapshot state breaks invariant {violation}")
            }
            SnapshotError::StateHash { recorded, rebuilt } => write!(
                f,
                "snapshot rebuilds to state hash {rebuilt}, not the {recorded} recorded in it: \
                 its configuration or state was edited"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Config(error) => Some(error),
            _ => None,
        }
    }
}

impl Engine {
    /// A copy of the configuration and state that `from_snapshot` turns back into the same engine.
    #[must_use]
    pub fn snapshot(&self) -> EngineSnapshot {
        let mut snapshot = self.snapshot_to_edit();
        snapshot.state_hash = Some(crate::state_hash::to_hex(&self.state_hash_from_scratch()));
        snapshot
    }

    /// A snapshot without its recorded hash, for a copy that will be edited on purpose (a
    /// what-if price): skips hashing every account for a hash the edit would void.
    #[must_use]
    pub fn snapshot_to_edit(&self) -> EngineSnapshot {
        EngineSnapshot {
            format: SNAPSHOT_FORMAT,
            config: (*self.config).clone(),
            state: self.state.clone(),
            state_hash: None,
        }
    }

    /// Rebuilds an engine (tables, liquidation index, hash cache) from a snapshot.
    ///
    /// The configuration is validated, every list is checked against it, ids are checked to
    /// refer to things that exist, and the rebuilt engine must pass the full audit and the
    /// invariant checks, in release builds too.
    ///
    /// # Errors
    /// A [`SnapshotError`] naming the first problem found.
    pub fn from_snapshot(snapshot: EngineSnapshot) -> Result<Engine, SnapshotError> {
        let EngineSnapshot { format, config, mut state, state_hash } = snapshot;
        if format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::UnsupportedFormat {
                found: format,
                expected: SNAPSHOT_FORMAT,
            });
        }
        config.validate().map_err(SnapshotError::Config)?;
        let tables = Tables::new(&config);
        check_lengths(&config, &state)?;
        check_lending_slots(&tables, &state)?;
        check_references(&config, &state)?;
        check_relations(&state)?;

        // Rebuild what is derived from the accounts: their index entries, the index itself and
        // the perpetual holder sets. Fields skipped by serde arrive empty; clear them anyway so a
        // snapshot built in memory cannot smuggle stale derived data in.
        let perp_count = config.perps.len();
        let mut index = LiquidationIndex::new(perp_count);
        for market in &mut state.perps {
            market.holders.clear();
        }
        let mut hash_cache = HashCache::default();
        for (id, account) in &mut state.accounts {
            let entry = index.entry_for(&tables, account);
            index.replace(*id, IndexEntry::None, entry);
            account.index_entry = entry;
            for (market, position) in state.perps.iter_mut().zip(&account.positions) {
                if !position.is_flat() {
                    market.holders.insert(*id);
                }
            }
            hash_cache.mark_dirty(*id);
        }
        let engine = Engine {
            config: crate::config::ConfigInForce::new(config),
            tables,
            state: crate::store::Store::new(state),
            index,
            hash_cache,
            checks: crate::engine::InvariantChecks::default(),
            halted: None,
        };
        engine.audit().map_err(SnapshotError::Invariant)?;
        engine.check_invariants().map_err(SnapshotError::Invariant)?;
        if let Some(recorded) = state_hash {
            let rebuilt = crate::state_hash::to_hex(&engine.state_hash_from_scratch());
            if rebuilt != recorded {
                return Err(SnapshotError::StateHash { recorded, rebuilt });
            }
        }
        Ok(engine)
    }
}

/// Error for a list whose length differs from what the configuration calls for.
fn length(field: &str, expected: usize, found: usize) -> Result<(), SnapshotError> {
    if expected == found {
        Ok(())
    } else {
        Err(SnapshotError::Length { field: field.to_owned(), expected, found })
    }
}

/// Error for a part of the state that refers to nothing or contradicts another part.
fn inconsistent(field: String, message: String) -> SnapshotError {
    SnapshotError::Inconsistent { field, message }
}

/// Every per-asset, per-market and per-layer list matches the configuration's counts.
fn check_lengths(config: &VenueConfig, state: &State) -> Result<(), SnapshotError> {
    let assets = config.assets.len();
    let perps = config.perps.len();
    length("state.prices", assets, state.prices.len())?;
    length("state.lending", assets, state.lending.len())?;
    length("state.perps", perps, state.perps.len())?;
    length("state.fees", assets, state.fees.len())?;
    length("state.external_net", assets, state.external_net.len())?;
    let net = &state.net;
    length("state.net.funds", config.funds.len(), net.funds.len())?;
    length("state.net.offsets", config.offsets.len(), net.offsets.len())?;
    length("state.net.staker_pools", config.staker_pools.len(), net.staker_pools.len())?;
    length("state.net.stability_pools", config.stability_pools.len(), net.stability_pools.len())?;
    length("state.net.covers", config.covers.len(), net.covers.len())?;
    length("state.net.facilities", config.liquidity.len(), net.facilities.len())?;
    length("state.net.paused", assets, net.paused.len())?;
    length("state.net.minted", assets, net.minted.len())?;
    let totals = &state.totals;
    length("state.totals.balances", assets, totals.balances.len())?;
    length("state.totals.supply_shares", assets, totals.supply_shares.len())?;
    length("state.totals.debt_shares", assets, totals.debt_shares.len())?;
    length("state.totals.perp_base", perps, totals.perp_base.len())?;
    length("state.totals.perp_quote", perps, totals.perp_quote.len())?;
    length("state.totals.perp_long", perps, totals.perp_long.len())?;
    for (id, account) in &state.accounts {
        let field = format!("state.accounts[{}]", id.0);
        length(&format!("{field}.holdings"), assets, account.holdings.len())?;
        length(&format!("{field}.positions"), perps, account.positions.len())?;
    }
    let limit = usize::try_from(config.venue.account_count_max).unwrap_or(usize::MAX);
    if state.accounts.len() > limit {
        return Err(inconsistent(
            "state.accounts".to_owned(),
            format!("{} accounts, above venue.account_count_max {limit}", state.accounts.len()),
        ));
    }
    Ok(())
}

/// An asset has a lending market in the state exactly when the configuration lists one.
fn check_lending_slots(tables: &Tables, state: &State) -> Result<(), SnapshotError> {
    for (index, (slot, market)) in tables.lending_slot.iter().zip(&state.lending).enumerate() {
        if slot.is_some() != market.is_some() {
            let message = if slot.is_some() {
                "the configuration lists a lending market the state lacks"
            } else {
                "the state has a lending market the configuration does not list"
            };
            return Err(inconsistent(format!("state.lending[{index}]"), message.to_owned()));
        }
    }
    Ok(())
}

/// Whether a market reference names a market of the venue.
fn market_exists(state: &State, market: MarketRef) -> bool {
    match market {
        MarketRef::Lending(asset) => {
            state.lending.get(asset.index()).is_some_and(|slot| slot.is_some())
        }
        MarketRef::Perp(perp) => perp.index() < state.perps.len(),
    }
}

/// Ids refer to things that exist, and every id counter is past the ids already given.
fn check_references(config: &VenueConfig, state: &State) -> Result<(), SnapshotError> {
    let assets = config.assets.len();
    let asset_ok = |asset: AssetId| asset.index() < assets;
    let market = |field: String, market: MarketRef| {
        if market_exists(state, market) {
            Ok(())
        } else {
            Err(inconsistent(field, format!("unknown market {market:?}")))
        }
    };
    for (id, auction) in &state.auctions {
        let field = format!("state.auctions[{}]", id.0);
        if id.0 >= state.next_auction {
            return Err(inconsistent(
                field,
                format!("id not below next_auction {}", state.next_auction),
            ));
        }
        if !state.accounts.contains_key(&auction.account) {
            return Err(inconsistent(field, format!("unknown account {}", auction.account.0)));
        }
        if !asset_ok(auction.collateral) || !asset_ok(auction.debt) {
            return Err(inconsistent(field, "unknown collateral or debt asset".to_owned()));
        }
        market(field, MarketRef::Lending(auction.debt))?;
    }
    for (id, auction) in &state.english_auctions {
        let field = format!("state.english_auctions[{}]", id.0);
        if id.0 >= state.next_auction || state.auctions.contains_key(id) {
            return Err(inconsistent(field, "id not below next_auction or shared".to_owned()));
        }
        let known = |account: &AccountId| state.accounts.contains_key(account);
        if !known(&auction.account) || !auction.bidder.as_ref().is_none_or(known) {
            return Err(inconsistent(field, "unknown account or bidder".to_owned()));
        }
        if !asset_ok(auction.collateral) || !asset_ok(auction.debt) {
            return Err(inconsistent(field, "unknown collateral or debt asset".to_owned()));
        }
        market(field, MarketRef::Lending(auction.debt))?;
    }
    let net = &state.net;
    for (index, fund) in net.funds.iter().enumerate() {
        for key in fund.paid_by_market.keys() {
            market(format!("state.net.funds[{index}].paid_by_market"), *key)?;
        }
    }
    for (index, pool) in net.stability_pools.iter().enumerate() {
        let field = format!("state.net.stability_pools[{index}]");
        let known = |asset: u16| usize::from(asset) < assets;
        if !pool.collateral.keys().all(|asset| known(*asset))
            || !pool.sums.keys().all(|(_, asset)| known(*asset))
            || !pool.depositors.values().all(|deposit| deposit.sums.keys().all(|a| known(*a)))
        {
            return Err(inconsistent(field, "unknown collateral asset".to_owned()));
        }
    }
    for (index, cover) in net.covers.iter().enumerate() {
        for key in cover.recognized_seen.keys() {
            market(format!("state.net.covers[{index}].recognized_seen"), *key)?;
        }
    }
    for (id, claim) in &net.claims {
        let field = format!("state.net.claims[{id}]");
        if *id >= net.next_id {
            return Err(inconsistent(field, format!("id not below next_id {}", net.next_id)));
        }
        if claim.cover >= net.covers.len() {
            return Err(inconsistent(field, format!("unknown cover {}", claim.cover)));
        }
        market(field, claim.market)?;
    }
    for (id, auction) in &net.recap_auctions {
        let field = format!("state.net.recap_auctions[{id}]");
        if *id >= net.next_id {
            return Err(inconsistent(field, format!("id not below next_id {}", net.next_id)));
        }
        market(field, auction.market)?;
    }
    for (name, map) in [
        ("pending", &net.pending),
        ("recognized", &net.recognized),
        ("recovered_to_deficit", &net.recovered_to_deficit),
    ] {
        for key in map.keys() {
            market(format!("state.net.{name}"), *key)?;
        }
    }
    for key in net.payments.keys() {
        market("state.net.payments".to_owned(), *key)?;
    }
    let claims = &state.claims;
    for (id, incident) in &claims.incidents {
        let field = format!("state.claims.incidents[{id}]");
        if *id == 0 || *id > claims.last_incident {
            return Err(inconsistent(field, format!("id outside 1..={}", claims.last_incident)));
        }
        if !asset_ok(incident.asset) {
            return Err(inconsistent(field, format!("unknown asset {}", incident.asset.0)));
        }
        market(field, incident.market)?;
    }
    for (id, claim) in &claims.claims {
        let field = format!("state.claims.claims[{id}]");
        if *id == 0 || *id > claims.last_claim {
            return Err(inconsistent(field, format!("id outside 1..={}", claims.last_claim)));
        }
        if !claims.incidents.contains_key(&claim.incident) {
            return Err(inconsistent(field, format!("unknown incident {}", claim.incident)));
        }
    }
    let governance = &state.governance;
    let next_proposal = governance.next_proposal.max(1);
    for id in governance.proposals.keys() {
        if *id == 0 || *id >= next_proposal {
            return Err(inconsistent(
                format!("state.governance.proposals[{id}]"),
                format!("id outside 1..{next_proposal}"),
            ));
        }
    }
    Ok(())
}

/// Relations the engine keeps but the invariant checks do not cover on their own, because
/// they follow from how the state is built rather than from balances: every market with an
/// uncovered or pending deficit, or with layer payments, has a recognised deficit (I8 only
/// walks the recognised ones); and no staker's reward index is negative or ahead of its pool's
/// (a later settlement would credit negative rewards).
fn check_relations(state: &State) -> Result<(), SnapshotError> {
    let net = &state.net;
    let lending = state.lending.iter().enumerate().filter_map(|(index, market)| {
        let market = market.as_ref()?;
        let asset = AssetId(u16::try_from(index).ok()?);
        (!market.deficit.is_zero()).then_some(MarketRef::Lending(asset))
    });
    let perps = state.perps.iter().enumerate().filter_map(|(index, market)| {
        let perp = crate::ids::PerpMarketId(u16::try_from(index).ok()?);
        (!market.deficit.is_zero()).then_some(MarketRef::Perp(perp))
    });
    let pending =
        net.pending.iter().filter(|(_, amount)| !amount.is_zero()).map(|(market, _)| *market);
    let paid = net
        .payments
        .iter()
        .filter(|(_, payments)| payments.iter().any(|payment| !payment.paid.is_zero()))
        .map(|(market, _)| *market);
    for market in lending.chain(perps).chain(pending).chain(paid) {
        if !net.recognized.contains_key(&market) {
            return Err(inconsistent(
                "state.net.recognized".to_owned(),
                format!(
                    "{market:?} has a deficit, a pending deficit or payments but none recognised"
                ),
            ));
        }
    }
    for (index, pool) in net.staker_pools.iter().enumerate() {
        let top = pool.reward_index;
        if top.is_negative() {
            return Err(inconsistent(
                format!("state.net.staker_pools[{index}].reward_index"),
                format!("negative reward index {top}"),
            ));
        }
        for (id, staker) in &pool.stakers {
            if staker.reward_index.is_negative() || staker.reward_index > top {
                return Err(inconsistent(
                    format!("state.net.staker_pools[{index}].stakers[{}]", id.0),
                    format!("reward index {} outside 0..={top}", staker.reward_index),
                ));
            }
        }
    }
    Ok(())
}

/// Serde adapter writing a map as a list of `[key, value]` pairs, for maps whose keys are not
/// strings or integers (JSON object keys must be strings). Reading refuses duplicate keys.
pub(crate) mod map_entries {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    /// Writes the map as a sequence of `(key, value)` pairs in key order.
    pub(crate) fn serialize<S, K, V>(map: &BTreeMap<K, V>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        K: Serialize,
        V: Serialize,
    {
        serializer.collect_seq(map.iter())
    }

    /// Reads a sequence of `(key, value)` pairs, refusing a key given twice.
    pub(crate) fn deserialize<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        let pairs: Vec<(K, V)> = Vec::deserialize(deserializer)?;
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            if map.insert(key, value).is_some() {
                return Err(D::Error::custom("duplicate key in map entries"));
            }
        }
        Ok(map)
    }
}

/// A raw `i128` written as a decimal string: JSON numbers beyond 64 bits do not survive most
/// JSON tools (nor `serde_json::Value`), and running products and sums reach 10^36.
struct WideText(i128);

impl Serialize for WideText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WideText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WideTextVisitor)
    }
}

/// Reads a decimal string (or, leniently, a JSON integer) into a `WideText`.
struct WideTextVisitor;

impl serde::de::Visitor<'_> for WideTextVisitor {
    type Value = WideText;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a 128-bit integer as a decimal string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<WideText, E> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(E::custom(format!("not a decimal integer: {text:?}")));
        }
        text.parse::<i128>()
            .map(WideText)
            .map_err(|_| E::custom(format!("integer out of 128-bit range: {text}")))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<WideText, E> {
        Ok(WideText(i128::from(value)))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<WideText, E> {
        Ok(WideText(i128::from(value)))
    }

    fn visit_i128<E: serde::de::Error>(self, value: i128) -> Result<WideText, E> {
        Ok(WideText(value))
    }
}

/// Serde adapter for one raw `i128` written as a decimal string.
pub(crate) mod wide_integer {
    use super::WideText;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes the integer as a decimal string.
    pub(crate) fn serialize<S: Serializer>(value: &i128, serializer: S) -> Result<S::Ok, S::Error> {
        WideText(*value).serialize(serializer)
    }

    /// Reads a decimal string.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<i128, D::Error> {
        WideText::deserialize(deserializer).map(|text| text.0)
    }
}

/// Serde adapter for a list of raw `i128`s written as decimal strings.
pub(crate) mod wide_integers {
    use super::WideText;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes each integer as a decimal string.
    pub(crate) fn serialize<S: Serializer>(
        values: &[i128],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|value| WideText(*value)))
    }

    /// Reads a list of decimal strings.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<i128>, D::Error> {
        let texts: Vec<WideText> = Vec::deserialize(deserializer)?;
        Ok(texts.into_iter().map(|text| text.0).collect())
    }
}

/// Serde adapter for a map with integer keys and raw `i128` values, the values written as
/// decimal strings.
pub(crate) mod wide_integer_map {
    use super::WideText;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    /// Writes the map with each value as a decimal string.
    pub(crate) fn serialize<S, K>(map: &BTreeMap<K, i128>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        K: Serialize,
    {
        serializer.collect_map(map.iter().map(|(key, value)| (key, WideText(*value))))
    }

    /// Reads a map whose values are decimal strings.
    pub(crate) fn deserialize<'de, D, K>(deserializer: D) -> Result<BTreeMap<K, i128>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
    {
        let texts: BTreeMap<K, WideText> = BTreeMap::deserialize(deserializer)?;
        Ok(texts.into_iter().map(|(key, text)| (key, text.0)).collect())
    }
}

/// Serde adapter for a map with non-string keys and raw `i128` values: a list of
/// `[key, "value"]` pairs. Reading refuses duplicate keys.
pub(crate) mod wide_integer_entries {
    use super::WideText;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    /// Writes the map as `(key, decimal string)` pairs in key order.
    pub(crate) fn serialize<S, K>(map: &BTreeMap<K, i128>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        K: Serialize,
    {
        serializer.collect_seq(map.iter().map(|(key, value)| (key, WideText(*value))))
    }

    /// Reads `(key, decimal string)` pairs, refusing a key given twice.
    pub(crate) fn deserialize<'de, D, K>(deserializer: D) -> Result<BTreeMap<K, i128>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
    {
        let pairs: Vec<(K, WideText)> = Vec::deserialize(deserializer)?;
        let mut map = BTreeMap::new();
        for (key, text) in pairs {
            if map.insert(key, text.0).is_some() {
                return Err(D::Error::custom("duplicate key in map entries"));
            }
        }
        Ok(map)
    }
}
