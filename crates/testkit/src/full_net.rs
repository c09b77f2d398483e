//! A venue with every layer of the safety net, and a state-aware generator of every command kind
//! on it.
//!
//! [`FULL_NET_TOML`] has USDC, ETH and GOV lending markets, an ETH perpetual, two funds, an
//! offset, a staker pool driving the breaker, a stability pool, external cover, recapitalisation
//! by minting (with approval), an emergency liquidity facility, claims and governance. Its USDC
//! waterfall walks fund → offset → stakers → stability → cover → recap → socialise; the
//! perpetual's walks fund → fees → ADL → socialise.
//!
//! [`Driver`] turns a `(kind, seed)` pair into one command of that kind, choosing ids the engine
//! has handed out (proposals, incidents, claims, cover claims, recap auctions) and amounts in
//! range, so that most commands of every kind are applied rather than rejected. The same pairs on
//! the same venue always give the same commands, so a run replays exactly.

use crate::runner::{Checks, apply_checked};
use backstop_core::backstop::net::VenueStatus;
use backstop_core::governance::Action;
use backstop_core::{
    AccountId, AccountKind, AssetId, Command, Engine, Event, LiquidationTarget, MarketRef,
    PerpMarketId, Rejection, VenueConfig,
};
use backstop_money::{Amount, Price, Ratio, SCALE, Shares};
use std::collections::BTreeMap;

/// The full safety-net venue (every layer, claims and governance).
pub const FULL_NET_TOML: &str = r#"
[venue]
name = "full-net"

[oracle]
max_staleness_secs = 1000000000

[[asset]]
symbol = "USDC"
decimals = 6

[[asset]]
symbol = "ETH"
decimals = 18

[[asset]]
symbol = "GOV"
decimals = 8

[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
reserve_factor = "0.10"
[lending.rate]
slope1 = "0.04"
kink = "0.90"
slope2 = "0.60"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
reserve_factor = "0.15"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"
[lending.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 60
cut = "0.99"
tail_secs = 600
cusp = "0.45"
penalty = "0.13"

[[lending]]
asset = "GOV"
collateral_factor = "0.5"
liquidation_threshold = "0.6"
liquidation_bonus = "0.10"
borrow_enabled = false
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "100000"
trading_fee = "0.0005"

[[fund]]
name = "insurance"
asset = "USDC"
fee_share = "0.5"
markets = ["USDC"]

[[fund]]
name = "perp_fund"
asset = "USDC"
fee_share = "0.5"
markets = ["ETH-PERP"]

[[offset]]
name = "treasury"
asset = "USDC"

[[staker_pool]]
name = "stkUSDC"
asset = "USDC"
cooldown_secs = 600
slash_cap = "0.3"
block_withdrawals_with_bad_debt = false
emission_asset = "GOV"
emission_per_sec = "0.001"

[[stability_pool]]
name = "sp"
asset = "USDC"
min_remaining = "1"

[[cover]]
name = "nexus"
asset = "USDC"
limit = "20000"
attachment = "0"
premium_rate = "0.0365"

[recap]
token = "GOV"
lot = "250"
bid = "5000"
lot_growth = "0.2"
restart_secs = 600
requires_approval = true

[breaker]
pool = "stkUSDC"

[[liquidity]]
fund = "insurance"
market = "USDC"
penalty_rate = "0.10"
cap = "50000"

[[waterfall]]
market = "USDC"
layers = ["fund:insurance", "offset:treasury", "stakers:stkUSDC", "stability:sp", "cover:nexus", "recap", "socialize"]

[[waterfall]]
market = "ETH-PERP"
layers = ["fund:perp_fund", "fees", "adl:rank", "socialize"]

[claims]
assessors = [9]
filing_secs = 2000
assessment_secs = 2000
claim_cap = "5000"
payout_order = ["fund:insurance", "cover:nexus"]
vesting_secs = 1000

[governance]
token = "GOV"
guardian = 9
quorum = "0.01"
approval = "0.5"
voting_secs = 300
timelock_secs = 300
expiry_secs = 100000
proposal_threshold = "10"

[[governance.parameter]]
path = "lending.ETH.liquidation_bonus"
min = "0.02"
max = "0.10"

[[governance.parameter]]
path = "fund.insurance.floor"
min = "0"
max = "1000"
"#;

/// USDC.
pub const USDC: AssetId = AssetId(0);
/// ETH.
pub const ETH: AssetId = AssetId(1);
/// GOV, the governance and recapitalisation token.
pub const GOV: AssetId = AssetId(2);
/// ETH-PERP.
pub const PERP: PerpMarketId = PerpMarketId(0);
/// Regular accounts 1..=8; 9 is the guardian and claims assessor.
pub const ACCOUNTS: [u64; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
/// Borrowers: they hold 20 000 USDC and borrow ETH against it, so that an ETH rally makes them
/// liquidatable and a large one leaves a deficit.
pub const BORROWERS: [u64; 4] = [5, 6, 7, 8];
/// The guardian and assessor.
pub const GUARDIAN: AccountId = AccountId(9);
/// The designated backstop account.
pub const BACKSTOP: AccountId = AccountId(100);

/// Every command kind, by its `Command::name`; a generator step picks one by index.
pub const KINDS: [&str; 50] = [
    "advance_time",
    "set_price",
    "open_account",
    "deposit",
    "withdraw",
    "supply",
    "withdraw_supply",
    "borrow",
    "repay",
    "accrue_interest",
    "trade",
    "accrue_funding",
    "liquidate",
    "take_auction",
    "reset_auction",
    "settle_revenue",
    "donate",
    "recover",
    "exploit",
    "buy_cover",
    "settle_cover_claim",
    "approve_recap",
    "bid_recap",
    "restart_recap",
    "update_status",
    "set_status",
    "unpause",
    "stake",
    "request_unstake",
    "cancel_unstake",
    "complete_unstake",
    "claim_rewards",
    "stability_deposit",
    "stability_withdraw",
    "stability_claim",
    "transfer",
    "delegate",
    "propose",
    "vote",
    "queue",
    "execute",
    "cancel",
    "veto",
    "guardian_pause",
    "declare_incident",
    "file_claim",
    "assess_claim",
    "pay_claims",
    "claim_vested",
    "recover_incident",
];

/// Relative weight of each kind in [`KINDS`] in [`pick_kind`]: pauses are rare and unpauses
/// frequent (a paused GOV blocks every health check), and the kinds that complete a life cycle
/// (queue, execute, liquidate, take an auction) come often enough to follow the ones that start it.
pub const WEIGHTS: [u64; 50] = [
    6, 4, 2, 2, 2, 2, 2, 4, 2, 2, // advance_time … accrue_interest
    3, 2, 8, 5, 5, 2, 2, 2, 2, 2, // trade … buy_cover
    2, 2, 2, 2, 2, 2, 6, 2, 2, 2, // settle_cover_claim … cancel_unstake
    2, 2, 2, 2, 2, 2, 2, 2, 5, 4, // complete_unstake … queue
    4, 1, 3, 1, 2, 2, 2, 2, 4, 2, // execute … recover_incident
];

/// A kind index drawn with [`WEIGHTS`].
pub fn pick_kind(dice: &mut Dice) -> usize {
    let total: u64 = WEIGHTS.iter().sum();
    let mut draw = dice.below(total);
    for (index, weight) in WEIGHTS.iter().enumerate() {
        if draw < *weight {
            return index;
        }
        draw -= weight;
    }
    0
}

/// The engine of [`FULL_NET_TOML`], before any command.
///
/// # Panics
/// If the fixture does not parse or validate (a defect of this crate).
#[must_use]
pub fn engine() -> Engine {
    let config = VenueConfig::from_toml_str(FULL_NET_TOML).expect("full-net venue parses");
    Engine::new(config).expect("full-net venue is valid")
}

/// `units` whole units plus `hundredths` / 100 as an amount (valid for every asset here).
#[must_use]
pub fn amount(units: i128, hundredths: i128) -> Amount {
    Amount::from_raw(units * SCALE + hundredths * (SCALE / 100))
}

fn price(units: i128) -> Price {
    Price::from_raw(units * SCALE)
}

/// A small deterministic random source (SplitMix64), seeded per step.
#[derive(Debug, Clone)]
pub struct Dice(u64);

impl Dice {
    /// A source seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Dice {
        Dice(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: i128, high: i128) -> i128 {
        let span = u64::try_from(high - low + 1).unwrap_or(u64::MAX);
        low + i128::from(self.below(span))
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let index = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items[index]
    }
}

/// Applied and rejected counts per command kind.
pub type Coverage = BTreeMap<&'static str, (u64, u64)>;

/// Applies generated commands to the full-net venue with the runner's checks after each, and
/// remembers the ids the engine hands out.
#[derive(Debug)]
pub struct Driver {
    /// The engine driven.
    pub engine: Engine,
    /// Checks after every command.
    pub checks: Checks,
    /// Applied and rejected commands per kind (setup excluded).
    pub coverage: Coverage,
    /// Rejections per kind and rejection variant (setup excluded).
    pub reasons: BTreeMap<(&'static str, String), u64>,
    step: usize,
    ids: Ids,
    eth_price: Price,
}

/// A proposal as the driver saw it.
#[derive(Debug, Clone, Copy)]
struct Proposal {
    proposer: AccountId,
    ends_at: u64,
    eta: Option<u64>,
    closed: bool,
}

/// A filed claim as the driver saw it.
#[derive(Debug, Clone, Copy)]
struct Claim {
    incident: u64,
    account: AccountId,
    amount: Amount,
    assessed: bool,
}

/// The ids the engine handed out, with what the generators need to pick valid ones.
#[derive(Debug, Default)]
struct Ids {
    proposals: BTreeMap<u64, Proposal>,
    /// Open cover claims and their amounts.
    cover_claims: BTreeMap<u64, Amount>,
    /// Open recap auctions: approved, current lot.
    recaps: BTreeMap<u64, (bool, Amount)>,
    /// Incidents: end of assessment, paid.
    incidents: BTreeMap<u64, (u64, bool)>,
    claims: BTreeMap<u64, Claim>,
    /// Running Dutch auctions.
    auctions: Vec<u64>,
}

/// One of the keys whose value passes `keep`, or `fallback` when none does.
fn choose<K: Copy, V>(
    map: &BTreeMap<K, V>,
    dice: &mut Dice,
    fallback: K,
    keep: impl Fn(&V) -> bool,
) -> K {
    let keys: Vec<K> = map.iter().filter(|(_, value)| keep(value)).map(|(key, _)| *key).collect();
    if keys.is_empty() { fallback } else { dice.pick(&keys) }
}

impl Driver {
    /// A driver over a funded full-net venue: accounts open, prices set, markets supplied, every
    /// layer funded (see [`Driver::setup`]).
    #[must_use]
    pub fn new(checks: Checks) -> Driver {
        let mut driver = Driver {
            engine: engine(),
            checks,
            coverage: Coverage::new(),
            reasons: BTreeMap::new(),
            step: 0,
            ids: Ids::default(),
            eth_price: price(2000),
        };
        for command in Driver::setup() {
            let result = driver.apply(&command);
            assert!(result.is_ok(), "setup command {command:?} was rejected: {result:?}");
        }
        driver.coverage.clear();
        driver
    }

    /// The setup commands: accounts 1–9 and the backstop; USDC 1, ETH 2000, GOV 10; every
    /// regular account other than the [`BORROWERS`] holds 1 M USDC, 500 ETH and 1000 GOV (each
    /// borrower 20 000 USDC and 100 GOV); account 1 supplies 500 k USDC and
    /// 200 ETH; the insurance fund, treasury offset, staker pool and stability pool hold 2000,
    /// 1000, 3000 and 2000 USDC.
    #[must_use]
    pub fn setup() -> Vec<Command> {
        let mut commands = Vec::new();
        for id in ACCOUNTS {
            commands
                .push(Command::OpenAccount { account: AccountId(id), kind: AccountKind::Regular });
        }
        commands.push(Command::OpenAccount { account: BACKSTOP, kind: AccountKind::Backstop });
        for (asset, units) in [(USDC, 1), (ETH, 2000), (GOV, 10)] {
            commands.push(Command::SetPrice { asset, price: price(units) });
        }
        for id in ACCOUNTS {
            let holdings: [(AssetId, i128); 3] = if BORROWERS.contains(&id) {
                [(USDC, 20_000), (ETH, 0), (GOV, 100)]
            } else {
                [(USDC, 1_000_000), (ETH, 500), (GOV, 1000)]
            };
            for (asset, units) in holdings.into_iter().filter(|(_, units)| *units > 0) {
                let account = AccountId(id);
                commands.push(Command::Deposit { account, asset, amount: amount(units, 0) });
            }
        }
        let lender = AccountId(1);
        commands.push(Command::Supply { account: lender, asset: USDC, amount: amount(500_000, 0) });
        commands.push(Command::Supply { account: lender, asset: ETH, amount: amount(200, 0) });
        for (layer, units) in
            [("fund:insurance", 2000), ("fund:perp_fund", 2000), ("offset:treasury", 1000)]
        {
            let layer = layer.to_owned();
            commands.push(Command::Donate { account: lender, layer, amount: amount(units, 0) });
        }
        let (pool, sp) = ("stkUSDC".to_owned(), "sp".to_owned());
        commands.push(Command::Stake { account: AccountId(2), pool, amount: amount(3000, 0) });
        let account = AccountId(3);
        commands.push(Command::StabilityDeposit { account, pool: sp, amount: amount(2000, 0) });
        commands
    }

    /// Applies one command with the checks, records ids from its events; counts it under its kind.
    ///
    /// # Errors
    /// The command's rejection.
    ///
    /// # Panics
    /// When a check fails (see [`apply_checked`]).
    pub fn apply(&mut self, command: &Command) -> Result<Vec<Event>, Rejection> {
        let result = apply_checked(&mut self.engine, self.step, command, self.checks);
        self.step += 1;
        let entry = self.coverage.entry(command.name()).or_insert((0, 0));
        match &result {
            Ok(events) => {
                entry.0 += 1;
                self.observe(command, events);
            }
            Err(rejection) => {
                entry.1 += 1;
                let reason = format!("{rejection:?}");
                let reason = reason.split([' ', '{', '(']).next().unwrap_or("").to_owned();
                *self.reasons.entry((command.name(), reason)).or_insert(0) += 1;
            }
        }
        result
    }

    /// Draws a kind with [`pick_kind`] and a command of that kind from `seed`, and applies it.
    pub fn random_step(&mut self, seed: u64) -> (Command, Result<Vec<Event>, Rejection>) {
        let mut dice = Dice::new(seed);
        let kind = pick_kind(&mut dice);
        let step_seed = dice.next_u64();
        self.step(kind, step_seed)
    }

    /// Generates the command of kind `KINDS[kind % 50]` from `seed` and applies it.
    ///
    /// # Errors
    /// The command's rejection.
    pub fn step(&mut self, kind: usize, seed: u64) -> (Command, Result<Vec<Event>, Rejection>) {
        let command = self.command(kind, seed);
        let result = self.apply(&command);
        (command, result)
    }

    fn observe(&mut self, command: &Command, events: &[Event]) {
        let ids = &mut self.ids;
        match command {
            Command::SetPrice { asset: ETH, price } => self.eth_price = *price,
            Command::PayClaims { incident } => {
                if let Some(entry) = ids.incidents.get_mut(incident) {
                    entry.1 = true;
                }
            }
            Command::AssessClaim { claim, .. } => {
                if let Some(entry) = ids.claims.get_mut(claim) {
                    entry.assessed = true;
                }
            }
            _ => {}
        }
        for event in events {
            match event {
                Event::ProposalCreated { proposal, proposer, ends_at, .. } => {
                    let (proposer, ends_at) = (*proposer, *ends_at);
                    let entry = Proposal { proposer, ends_at, eta: None, closed: false };
                    ids.proposals.insert(*proposal, entry);
                }
                Event::ProposalQueued { proposal, eta } => {
                    ids.proposals.entry(*proposal).and_modify(|entry| entry.eta = Some(*eta));
                }
                Event::ProposalExecuted { proposal }
                | Event::ProposalCancelled { proposal }
                | Event::ProposalVetoed { proposal } => {
                    ids.proposals.entry(*proposal).and_modify(|entry| entry.closed = true);
                }
                Event::CoverClaimOpened { claim, amount, .. } => {
                    ids.cover_claims.insert(*claim, *amount);
                }
                Event::CoverClaimSettled { claim, .. } => {
                    ids.cover_claims.remove(claim);
                }
                Event::RecapAuctionOpened { auction, lot, approved, .. } => {
                    ids.recaps.insert(*auction, (*approved, *lot));
                }
                Event::RecapApproved { auction } => {
                    ids.recaps.entry(*auction).and_modify(|entry| entry.0 = true);
                }
                Event::RecapRestarted { auction, lot_after, .. } => {
                    ids.recaps.entry(*auction).and_modify(|entry| entry.1 = *lot_after);
                }
                Event::RecapFilled { auction, .. } => {
                    ids.recaps.remove(auction);
                }
                Event::IncidentDeclared { incident, assessment_end, .. } => {
                    ids.incidents.insert(*incident, (*assessment_end, false));
                }
                Event::ClaimFiled { claim, incident, account, amount, .. } => {
                    let (incident, account, amount) = (*incident, *account, *amount);
                    let entry = Claim { incident, account, amount, assessed: false };
                    ids.claims.insert(*claim, entry);
                }
                Event::AuctionStarted { auction, .. } => ids.auctions.push(auction.0),
                Event::AuctionEnded { auction, .. } => ids.auctions.retain(|id| *id != auction.0),
                _ => {}
            }
        }
    }

    /// The command of kind `KINDS[kind % 50]` drawn from `seed` against the current state.
    #[must_use]
    pub fn command(&self, kind: usize, seed: u64) -> Command {
        let mut dice = Dice::new(seed);
        let name = KINDS[kind % KINDS.len()];
        self.lending_command(name, &mut dice)
            .or_else(|| self.net_command(name, &mut dice))
            .or_else(|| self.governance_command(name, &mut dice))
            .unwrap_or(Command::UpdateStatus {})
    }

    fn account(dice: &mut Dice) -> AccountId {
        AccountId(dice.pick(&ACCOUNTS[..8]))
    }

    fn now(&self) -> u64 {
        self.engine.state().now
    }

    fn lending_command(&self, name: &str, dice: &mut Dice) -> Option<Command> {
        let account = Driver::account(dice);
        let asset = dice.pick(&[USDC, USDC, ETH]);
        let small = if asset == ETH {
            amount(dice.range(0, 5), dice.range(1, 99))
        } else {
            amount(dice.range(1, 3000), 0)
        };
        Some(match name {
            "advance_time" => Command::AdvanceTime { now: self.now() + dice.below(400) + 1 },
            "set_price" => {
                let (asset, low, high) =
                    dice.pick(&[(ETH, 1400, 3200), (ETH, 1800, 2200), (GOV, 5, 15), (USDC, 1, 1)]);
                Command::SetPrice { asset, price: price(dice.range(low, high)) }
            }
            "open_account" => {
                let kind =
                    if dice.chance(1, 4) { AccountKind::Backstop } else { AccountKind::Regular };
                Command::OpenAccount { account: AccountId(200 + dice.below(1000)), kind }
            }
            "deposit" => Command::Deposit { account, asset, amount: small },
            "withdraw" if BORROWERS.contains(&account.0) && dice.chance(2, 3) => {
                Command::Withdraw { account, asset: ETH, amount: amount(dice.range(1, 8), 0) }
            }
            "withdraw" => Command::Withdraw { account, asset, amount: small },
            "supply" => Command::Supply { account, asset, amount: small },
            "withdraw_supply" => {
                Command::WithdrawSupply { account: AccountId(1), asset, amount: small }
            }
            "borrow" => {
                let account = AccountId(dice.pick(&BORROWERS));
                Command::Borrow { account, asset: ETH, amount: amount(dice.range(1, 8), 0) }
            }
            "repay" => {
                let account = AccountId(dice.pick(&BORROWERS));
                Command::Repay { account, asset: ETH, amount: amount(dice.range(0, 4), 50) }
            }
            "accrue_interest" => Command::AccrueInterest { asset },
            "trade" => {
                let (taker, maker) = (Driver::account(dice), Driver::account(dice));
                let size = amount(dice.range(-20, 20), dice.range(0, 99));
                Command::Trade { market: PERP, taker, maker, size, price: self.eth_price }
            }
            "accrue_funding" => {
                let rate = Ratio::from_bps(dice.range(-50, 50)).unwrap_or(Ratio::ZERO);
                Command::AccrueFunding { market: PERP, rate }
            }
            "liquidate" => self.liquidation(dice),
            "take_auction" => {
                let auction = self.ids.auctions.last().copied().unwrap_or(0);
                Command::TakeAuction {
                    keeper: Driver::account(dice),
                    auction: backstop_core::AuctionId(auction),
                    amount: amount(dice.range(100, 20_000), 0),
                    max_price: price(100_000),
                }
            }
            "reset_auction" => Command::ResetAuction {
                auction: backstop_core::AuctionId(self.ids.auctions.first().copied().unwrap_or(0)),
            },
            "transfer" => Command::Transfer {
                from: account,
                to: Driver::account(dice),
                asset: dice.pick(&[USDC, ETH, GOV]),
                amount: small,
            },
            _ => return None,
        })
    }

    fn liquidation(&self, dice: &mut Dice) -> Command {
        let liquidatable = self.engine.liquidatable_accounts();
        let account = if liquidatable.is_empty() {
            Driver::account(dice)
        } else {
            liquidatable[usize::try_from(dice.below(liquidatable.len() as u64)).unwrap_or(0)]
        };
        let target = match dice.below(3) {
            0 | 1 => LiquidationTarget::Debt { debt: ETH, collateral: USDC },
            _ => LiquidationTarget::Position { market: PERP },
        };
        let keeper = AccountId(dice.pick(&[1, 2, 3, 4]));
        Command::Liquidate { keeper, account, target, amount: amount(1_000_000, 0), seed: 0 }
    }

    fn net_command(&self, name: &str, dice: &mut Dice) -> Option<Command> {
        let account = Driver::account(dice);
        let units = amount(dice.range(1, 2000), 0);
        let pool = "stkUSDC".to_owned();
        let sp = "sp".to_owned();
        let ids = &self.ids;
        let now = self.now();
        Some(match name {
            "settle_revenue" => Command::SettleRevenue { asset: USDC },
            "donate" => {
                let layer = dice.pick(&[
                    "fund:insurance",
                    "fund:perp_fund",
                    "offset:treasury",
                    "stakers:stkUSDC",
                ]);
                Command::Donate { account, layer: layer.to_owned(), amount: units }
            }
            "recover" => {
                let market = dice.pick(&[MarketRef::Lending(USDC), MarketRef::Perp(PERP)]);
                Command::Recover { market, amount: units }
            }
            "exploit" => {
                Command::Exploit { asset: USDC, amount: amount(dice.range(500, 15_000), 0) }
            }
            "buy_cover" => Command::BuyCover {
                cover: "nexus".to_owned(),
                fund: "insurance".to_owned(),
                term_secs: 60 * (dice.below(60) + 1),
            },
            "settle_cover_claim" => {
                let claim = choose(&ids.cover_claims, dice, 0, |_| true);
                let owed = ids.cover_claims.get(&claim).map_or(0, |amount| amount.raw());
                let share = i128::from(dice.below(11));
                // Quantised to 1/100 unit, rounded down: at most the claim.
                let paid = owed / 10 * share / (SCALE / 100) * (SCALE / 100);
                Command::SettleCoverClaim { claim, amount: Amount::from_raw(paid) }
            }
            "approve_recap" => {
                Command::ApproveRecap { auction: choose(&ids.recaps, dice, 0, |entry| !entry.0) }
            }
            "bid_recap" => {
                let auction = choose(&ids.recaps, dice, 0, |entry| entry.0);
                let lot = ids.recaps.get(&auction).map_or(Amount::ONE, |entry| entry.1);
                let lot = Amount::from_raw(lot.raw() / 100 * i128::from(dice.below(100) + 1));
                let lot = Amount::from_raw(lot.raw() / SCALE * SCALE).max(Amount::ONE);
                Command::BidRecap { account: AccountId(dice.pick(&[1, 2, 3, 4])), auction, lot }
            }
            "restart_recap" => {
                Command::RestartRecap { auction: choose(&ids.recaps, dice, 0, |_| true) }
            }
            "update_status" => Command::UpdateStatus {},
            "set_status" => Command::SetStatus {
                status: if dice.chance(7, 8) {
                    VenueStatus::Active
                } else {
                    dice.pick(&[VenueStatus::OnIce, VenueStatus::Frozen])
                },
            },
            "unpause" => {
                let paused: Vec<AssetId> =
                    [ETH, GOV].into_iter().filter(|asset| self.engine.is_paused(*asset)).collect();
                Command::Unpause { asset: if paused.is_empty() { GOV } else { dice.pick(&paused) } }
            }
            "stake" => Command::Stake { account, pool, amount: units },
            "request_unstake" => {
                Command::RequestUnstake { account, pool, shares: Shares::from_raw(units.raw() / 4) }
            }
            "cancel_unstake" => {
                Command::CancelUnstake { account, pool, shares: Shares::from_raw(units.raw() / 8) }
            }
            "complete_unstake" => Command::CompleteUnstake { account, pool },
            "claim_rewards" => Command::ClaimRewards { account, pool },
            "stability_deposit" => Command::StabilityDeposit { account, pool: sp, amount: units },
            "stability_withdraw" => Command::StabilityWithdraw { account, pool: sp, amount: units },
            "stability_claim" => Command::StabilityClaim { account, pool: sp },
            "declare_incident" => Command::DeclareIncident {
                declarer: GUARDIAN,
                market: MarketRef::Lending(USDC),
                loss_start: now.saturating_sub(1000),
                loss_end: now,
            },
            "file_claim" => Command::FileClaim {
                account,
                incident: choose(&ids.incidents, dice, 0, |entry| entry.0 > now + 2000),
                amount: amount(dice.range(1, 3000), 0),
                evidence: format!("tx-{}", dice.below(1000)),
            },
            "assess_claim" => {
                let claim = choose(&ids.claims, dice, 0, |claim| !claim.assessed);
                let asked = ids.claims.get(&claim).map_or(Amount::ONE, |claim| claim.amount);
                let approved = Amount::from_raw(asked.raw() / 4 * i128::from(dice.below(4) + 1));
                let approved_amount = Amount::from_raw(approved.raw() / SCALE * SCALE);
                Command::AssessClaim {
                    assessor: GUARDIAN,
                    claim,
                    approve: dice.chance(4, 5),
                    approved_amount,
                }
            }
            "pay_claims" => Command::PayClaims {
                incident: choose(&ids.incidents, dice, 0, |entry| entry.0 < now && !entry.1),
            },
            "claim_vested" => {
                let claim = choose(&ids.claims, dice, 0, |claim| {
                    ids.incidents.get(&claim.incident).is_some_and(|incident| incident.1)
                });
                let account = ids.claims.get(&claim).map_or(account, |claim| claim.account);
                Command::ClaimVested { account, claim }
            }
            "recover_incident" => Command::RecoverIncident {
                incident: choose(&ids.incidents, dice, 0, |entry| entry.1),
                amount: amount(dice.range(1, 1000), 0),
            },
            _ => return None,
        })
    }

    fn governance_command(&self, name: &str, dice: &mut Dice) -> Option<Command> {
        let account = Driver::account(dice);
        let (proposals, now) = (&self.ids.proposals, self.now());
        let open = |entry: &Proposal| !entry.closed;
        Some(match name {
            "delegate" => Command::Delegate { account, to: Driver::account(dice) },
            "propose" => {
                Command::Propose { proposer: account, actions: vec![Driver::action(dice)] }
            }
            "vote" => {
                let account = AccountId(dice.pick(&[1, 2, 3, 4]));
                let proposal = choose(proposals, dice, 0, |entry| entry.ends_at > now);
                Command::Vote { voter: account, proposal, support: dice.chance(4, 5) }
            }
            "queue" => Command::Queue {
                proposal: choose(proposals, dice, 0, |entry| {
                    open(entry) && entry.ends_at <= now && entry.eta.is_none()
                }),
            },
            "execute" => Command::Execute {
                proposal: choose(proposals, dice, 0, |entry| {
                    open(entry) && entry.eta.is_some_and(|eta| eta <= now)
                }),
            },
            "cancel" => {
                let failed =
                    |entry: &Proposal| open(entry) && entry.ends_at <= now && entry.eta.is_none();
                let proposal = choose(proposals, dice, 0, failed);
                let proposer = proposals.get(&proposal).map_or(account, |entry| entry.proposer);
                Command::Cancel { proposer, proposal }
            }
            "veto" => Command::Veto {
                guardian: GUARDIAN,
                // Odd proposals only, so that half of the queued ones can be executed.
                proposal: choose(proposals, dice, 1, |entry| open(entry) && entry.eta.is_some())
                    | 1,
            },
            "guardian_pause" => Command::GuardianPause { guardian: GUARDIAN, asset: GOV },
            _ => return None,
        })
    }

    fn action(dice: &mut Dice) -> Action {
        let layer = |text: &str| text.to_owned();
        match dice.below(10) {
            0..=2 => Action::SetParameter {
                path: "lending.ETH.liquidation_bonus".to_owned(),
                value: Amount::from_raw(dice.range(2, 10) * (SCALE / 100)),
            },
            3..=5 => Action::SetParameter {
                path: "fund.insurance.floor".to_owned(),
                value: amount(dice.range(0, 1000), 0),
            },
            6 => Action::UnpauseMarket { asset: GOV },
            7 => Action::ReallocateFunds {
                from: layer("offset:treasury"),
                to: layer("fund:insurance"),
                amount: amount(dice.range(1, 300), 0),
            },
            8 => Action::DeactivateLayer {
                market: "USDC".to_owned(),
                layer: layer("offset:treasury"),
            },
            _ => {
                Action::ActivateLayer { market: "USDC".to_owned(), layer: layer("offset:treasury") }
            }
        }
    }
}
