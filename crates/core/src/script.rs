//! Command scripts: a line-oriented text form of [`Command`]s, resolved against a venue.
//!
//! One command per line, `<name> key=value key=value ...`, where `<name>` is
//! [`Command::name`] and the keys are the command's field names. `#` starts a comment; blank
//! lines are ignored. Assets are written by symbol, perpetual markets by name, accounts and
//! auctions by number, and amounts, prices and rates as exact decimals. The full format is in
//! `docs/script-format.md`.
//!
//! Parsing is pure and complete before anything runs: [`parse_script`] returns every command or
//! every error found, each with its 1-based line and, where there is one, the field.

use crate::command::{AccountKind, Command, LiquidationTarget};
use crate::config::VenueConfig;
use crate::ids::{AccountId, AssetId, AuctionId, PerpMarketId};
use backstop_money::{Amount, Price, Ratio};

/// One parsed command and the 1-based line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLine {
    /// 1-based line number in the script text.
    pub line: usize,
    /// The command on that line.
    pub command: Command,
}

/// A problem in a script: its 1-based line, the field when one is to blame, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// 1-based line number in the script text.
    pub line: usize,
    /// The key (such as `amount`) the problem is about, if any.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl core::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: {field}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

/// Every command a script may use, with the keys it accepts (required and optional).
pub const COMMANDS: &[(&str, &[&str])] = &[
    ("advance_time", &["now", "by"]),
    ("set_price", &["asset", "price"]),
    ("open_account", &["account", "kind"]),
    ("deposit", &["account", "asset", "amount"]),
    ("withdraw", &["account", "asset", "amount"]),
    ("supply", &["account", "asset", "amount"]),
    ("withdraw_supply", &["account", "asset", "amount"]),
    ("borrow", &["account", "asset", "amount"]),
    ("repay", &["account", "asset", "amount"]),
    ("accrue_interest", &["asset"]),
    ("trade", &["market", "taker", "maker", "size", "price"]),
    ("accrue_funding", &["market", "rate"]),
    (
        "liquidate",
        &["keeper", "account", "debt", "collateral", "position", "unpaid_loss", "amount", "seed"],
    ),
    ("take_auction", &["keeper", "auction", "amount", "max_price"]),
    ("reset_auction", &["auction"]),
    ("bid_auction", &["bidder", "auction", "lot", "bid"]),
    ("deal_auction", &["auction"]),
    ("buy_cover", &["cover", "fund", "term_secs"]),
    ("settle_cover_claim", &["claim", "amount"]),
    ("approve_recap", &["auction"]),
    ("bid_recap", &["account", "auction", "lot"]),
    ("restart_recap", &["auction"]),
    ("settle_revenue", &["asset"]),
    ("donate", &["account", "layer", "amount"]),
    ("recover", &["market", "amount"]),
    ("exploit", &["asset", "amount"]),
    ("stake", &["account", "pool", "amount"]),
    ("request_unstake", &["account", "pool", "shares"]),
    ("cancel_unstake", &["account", "pool", "shares"]),
    ("complete_unstake", &["account", "pool"]),
    ("claim_rewards", &["account", "pool"]),
    ("stability_deposit", &["account", "pool", "amount"]),
    ("stability_withdraw", &["account", "pool", "amount"]),
    ("stability_claim", &["account", "pool"]),
    ("update_status", &[]),
    ("set_status", &["status"]),
    ("unpause", &["asset"]),
    ("transfer", &["from", "to", "asset", "amount"]),
    ("delegate", &["account", "to"]),
    (
        "propose",
        &[
            "proposer",
            "action",
            "path",
            "value",
            "asset",
            "from",
            "to",
            "amount",
            "market",
            "layer",
            "auction",
            "incident",
            "claim",
            "approve",
            "approved_amount",
            "name",
            "limit",
            "attachment",
            "premium_rate",
            "position",
            "loss_start",
            "loss_end",
        ],
    ),
    ("vote", &["voter", "proposal", "support"]),
    ("queue", &["proposal"]),
    ("execute", &["proposal"]),
    ("cancel", &["proposer", "proposal"]),
    ("veto", &["guardian", "proposal"]),
    ("guardian_pause", &["guardian", "asset"]),
    ("declare_incident", &["declarer", "market", "loss_start", "loss_end"]),
    ("file_claim", &["account", "incident", "amount", "evidence"]),
    ("assess_claim", &["assessor", "claim", "approve", "approved_amount"]),
    ("pay_claims", &["incident"]),
    ("claim_vested", &["account", "claim"]),
    ("recover_incident", &["incident", "amount"]),
];

/// Parses a whole script against a venue.
///
/// `advance_time by=<secs>` is resolved here into an absolute time: it counts from the time named
/// by the previous `advance_time` line of the script (0 before the first), whatever the engine
/// later does with that line.
///
/// # Errors
/// Every problem found, in line order (never empty): unknown command, malformed `key=value`,
/// unknown, missing, duplicate or conflicting key, bad number, unknown asset or market.
pub fn parse_script(text: &str, config: &VenueConfig) -> Result<Vec<ScriptLine>, Vec<ScriptError>> {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut clock: u64 = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = index.saturating_add(1);
        let content = raw.split_once('#').map_or(raw, |(before, _)| before);
        let mut tokens = content.split_whitespace();
        let Some(name) = tokens.next() else { continue };
        let mut parser = LineParser { line, config, pairs: Vec::new(), errors: Vec::new() };
        let command = parser.parse(name, tokens, &mut clock);
        match command {
            Some(command) if parser.errors.is_empty() => {
                lines.push(ScriptLine { line, command });
            }
            _ => errors.append(&mut parser.errors),
        }
    }
    if errors.is_empty() { Ok(lines) } else { Err(errors) }
}

/// The keys a command accepts, or `None` for an unknown command name.
#[must_use]
pub fn command_keys(name: &str) -> Option<&'static [&'static str]> {
    COMMANDS.iter().find(|(candidate, _)| *candidate == name).map(|(_, keys)| *keys)
}

/// Parses one line; collects its errors.
struct LineParser<'a> {
    line: usize,
    config: &'a VenueConfig,
    pairs: Vec<(&'a str, &'a str)>,
    errors: Vec<ScriptError>,
}

impl<'a> LineParser<'a> {
    /// True when an error about this key was already reported (so "missing" would be noise).
    fn reported(&self, key: &str) -> bool {
        self.errors.iter().any(|error| error.field.as_deref() == Some(key))
    }

    fn error(&mut self, field: Option<&str>, message: String) {
        self.errors.push(ScriptError { line: self.line, field: field.map(str::to_owned), message });
    }

    /// Parses `name key=value ...`; `None` when the line has errors.
    fn parse(
        &mut self,
        name: &str,
        tokens: impl Iterator<Item = &'a str>,
        clock: &mut u64,
    ) -> Option<Command> {
        let Some(allowed) = command_keys(name) else {
            let known: Vec<&str> = COMMANDS.iter().map(|(name, _)| *name).collect();
            self.error(None, format!("unknown command {name:?}; known: {}", known.join(", ")));
            return None;
        };
        for token in tokens {
            let Some((key, value)) = token.split_once('=') else {
                self.error(None, format!("expected key=value, found {token:?}"));
                continue;
            };
            if !allowed.contains(&key) {
                let message =
                    format!("unknown key for {name}; expected one of: {}", allowed.join(", "));
                self.error(Some(key), message);
                continue;
            }
            if self.pairs.iter().any(|(seen, _)| *seen == key) {
                self.error(Some(key), "duplicate key".to_owned());
                continue;
            }
            if value.is_empty() {
                self.error(Some(key), "empty value".to_owned());
                continue;
            }
            self.pairs.push((key, value));
        }
        let command = self.build(name, clock);
        if self.errors.is_empty() { command } else { None }
    }

    fn build(&mut self, name: &str, clock: &mut u64) -> Option<Command> {
        match name {
            "advance_time" => self.advance_time(clock),
            "set_price" => {
                let (asset, price) = (self.asset("asset"), self.price("price"));
                Some(Command::SetPrice { asset: asset?, price: price? })
            }
            "open_account" => {
                let account = self.account("account");
                let kind = self.kind();
                Some(Command::OpenAccount { account: account?, kind: kind? })
            }
            "deposit" | "withdraw" | "supply" | "withdraw_supply" | "borrow" | "repay" => {
                let account = self.account("account");
                let asset = self.asset("asset");
                let amount = self.amount("amount");
                let (account, asset, amount) = (account?, asset?, amount?);
                Some(match name {
                    "deposit" => Command::Deposit { account, asset, amount },
                    "withdraw" => Command::Withdraw { account, asset, amount },
                    "supply" => Command::Supply { account, asset, amount },
                    "withdraw_supply" => Command::WithdrawSupply { account, asset, amount },
                    "borrow" => Command::Borrow { account, asset, amount },
                    _ => Command::Repay { account, asset, amount },
                })
            }
            "accrue_interest" => Some(Command::AccrueInterest { asset: self.asset("asset")? }),
            "trade" => {
                let market = self.market("market");
                let taker = self.account("taker");
                let maker = self.account("maker");
                let size = self.amount("size");
                let price = self.price("price");
                Some(Command::Trade {
                    market: market?,
                    taker: taker?,
                    maker: maker?,
                    size: size?,
                    price: price?,
                })
            }
            "accrue_funding" => {
                let (market, rate) = (self.market("market"), self.ratio("rate"));
                Some(Command::AccrueFunding { market: market?, rate: rate? })
            }
            "liquidate" => {
                let keeper = self.account("keeper");
                let account = self.account("account");
                let target = self.liquidation_target();
                let amount = self.amount("amount");
                // Optional seed of the `adl:random` starting point (0: none).
                let seed = match self.optional("seed") {
                    Some(value) => self.whole_number("seed", value),
                    None => Some(0),
                };
                Some(Command::Liquidate {
                    keeper: keeper?,
                    account: account?,
                    target: target?,
                    amount: amount?,
                    seed: seed?,
                })
            }
            "take_auction" => {
                let keeper = self.account("keeper");
                let auction = self.auction();
                let amount = self.amount("amount");
                let max_price = self.price("max_price");
                Some(Command::TakeAuction {
                    keeper: keeper?,
                    auction: auction?,
                    amount: amount?,
                    max_price: max_price?,
                })
            }
            "reset_auction" => Some(Command::ResetAuction { auction: self.auction()? }),
            "bid_auction" => {
                let bidder = self.account("bidder");
                let auction = self.auction();
                let lot = self.amount("lot");
                let bid = self.amount("bid");
                Some(Command::BidAuction {
                    bidder: bidder?,
                    auction: auction?,
                    lot: lot?,
                    bid: bid?,
                })
            }
            "deal_auction" => Some(Command::DealAuction { auction: self.auction()? }),
            "buy_cover" => {
                let cover = self.layer_name("cover");
                let fund = self.layer_name("fund");
                let term_secs = self.number("term_secs");
                Some(Command::BuyCover { cover: cover?, fund: fund?, term_secs: term_secs? })
            }
            "settle_cover_claim" => {
                let (claim, amount) = (self.number("claim"), self.amount("amount"));
                Some(Command::SettleCoverClaim { claim: claim?, amount: amount? })
            }
            "approve_recap" => Some(Command::ApproveRecap { auction: self.number("auction")? }),
            "restart_recap" => Some(Command::RestartRecap { auction: self.number("auction")? }),
            "bid_recap" => {
                let account = self.account("account");
                let auction = self.number("auction");
                let lot = self.amount("lot");
                Some(Command::BidRecap { account: account?, auction: auction?, lot: lot? })
            }
            "settle_revenue" => Some(Command::SettleRevenue { asset: self.asset("asset")? }),
            "exploit" => {
                let (asset, amount) = (self.asset("asset"), self.amount("amount"));
                Some(Command::Exploit { asset: asset?, amount: amount? })
            }
            "donate" => {
                let account = self.account("account");
                let layer = self.required("layer").map(str::to_owned);
                let amount = self.amount("amount");
                Some(Command::Donate { account: account?, layer: layer?, amount: amount? })
            }
            "recover" => {
                let market = self.any_market("market");
                let amount = self.amount("amount");
                Some(Command::Recover { market: market?, amount: amount? })
            }
            "stake" => {
                let account = self.account("account");
                let pool = self.staker_pool("pool");
                let amount = self.amount("amount");
                Some(Command::Stake { account: account?, pool: pool?, amount: amount? })
            }
            "request_unstake" | "cancel_unstake" => {
                let account = self.account("account");
                let pool = self.staker_pool("pool");
                let shares = self.decimal::<backstop_money::Shares>("shares");
                let (account, pool, shares) = (account?, pool?, shares?);
                Some(if name == "request_unstake" {
                    Command::RequestUnstake { account, pool, shares }
                } else {
                    Command::CancelUnstake { account, pool, shares }
                })
            }
            "complete_unstake" | "claim_rewards" => {
                let account = self.account("account");
                let pool = self.staker_pool("pool");
                let (account, pool) = (account?, pool?);
                Some(if name == "complete_unstake" {
                    Command::CompleteUnstake { account, pool }
                } else {
                    Command::ClaimRewards { account, pool }
                })
            }
            "stability_deposit" | "stability_withdraw" => {
                let account = self.account("account");
                let pool = self.stability_pool("pool");
                let amount = self.amount("amount");
                let (account, pool, amount) = (account?, pool?, amount?);
                Some(if name == "stability_deposit" {
                    Command::StabilityDeposit { account, pool, amount }
                } else {
                    Command::StabilityWithdraw { account, pool, amount }
                })
            }
            "stability_claim" => {
                let account = self.account("account");
                let pool = self.stability_pool("pool");
                Some(Command::StabilityClaim { account: account?, pool: pool? })
            }
            "update_status" => Some(Command::UpdateStatus {}),
            "set_status" => {
                let status = match self.required("status")? {
                    "active" => crate::backstop::net::VenueStatus::Active,
                    "on_ice" => crate::backstop::net::VenueStatus::OnIce,
                    "frozen" => crate::backstop::net::VenueStatus::Frozen,
                    other => {
                        self.error(
                            Some("status"),
                            format!("expected active, on_ice or frozen, found {other:?}"),
                        );
                        return None;
                    }
                };
                Some(Command::SetStatus { status })
            }
            "unpause" => Some(Command::Unpause { asset: self.asset("asset")? }),
            "transfer" => {
                let (from, to) = (self.account("from"), self.account("to"));
                let (asset, amount) = (self.asset("asset"), self.amount("amount"));
                Some(Command::Transfer { from: from?, to: to?, asset: asset?, amount: amount? })
            }
            "delegate" => {
                let (account, to) = (self.account("account"), self.account("to"));
                Some(Command::Delegate { account: account?, to: to? })
            }
            "propose" => {
                let proposer = self.account("proposer");
                let action = self.governance_action();
                Some(Command::Propose { proposer: proposer?, actions: vec![action?] })
            }
            "vote" => {
                let (voter, proposal) = (self.account("voter"), self.number("proposal"));
                let support = self.boolean("support");
                Some(Command::Vote { voter: voter?, proposal: proposal?, support: support? })
            }
            "queue" => Some(Command::Queue { proposal: self.number("proposal")? }),
            "execute" => Some(Command::Execute { proposal: self.number("proposal")? }),
            "cancel" => {
                let (proposer, proposal) = (self.account("proposer"), self.number("proposal"));
                Some(Command::Cancel { proposer: proposer?, proposal: proposal? })
            }
            "veto" => {
                let (guardian, proposal) = (self.account("guardian"), self.number("proposal"));
                Some(Command::Veto { guardian: guardian?, proposal: proposal? })
            }
            "guardian_pause" => {
                let (guardian, asset) = (self.account("guardian"), self.asset("asset"));
                Some(Command::GuardianPause { guardian: guardian?, asset: asset? })
            }
            "declare_incident" => {
                let declarer = self.account("declarer");
                let market = self.any_market("market");
                let loss_start = self.number("loss_start");
                let loss_end = self.number("loss_end");
                Some(Command::DeclareIncident {
                    declarer: declarer?,
                    market: market?,
                    loss_start: loss_start?,
                    loss_end: loss_end?,
                })
            }
            "file_claim" => {
                let account = self.account("account");
                let incident = self.number("incident");
                let amount = self.amount("amount");
                let evidence = self.required("evidence").map(str::to_owned);
                Some(Command::FileClaim {
                    account: account?,
                    incident: incident?,
                    amount: amount?,
                    evidence: evidence?,
                })
            }
            "assess_claim" => {
                let assessor = self.account("assessor");
                let claim = self.number("claim");
                let approve = self.boolean("approve");
                // Optional: a rejection needs no amount.
                let approved_amount = self.optional_amount("approved_amount");
                Some(Command::AssessClaim {
                    assessor: assessor?,
                    claim: claim?,
                    approve: approve?,
                    approved_amount: approved_amount?,
                })
            }
            "pay_claims" => Some(Command::PayClaims { incident: self.number("incident")? }),
            "claim_vested" => {
                let account = self.account("account");
                let claim = self.number("claim");
                Some(Command::ClaimVested { account: account?, claim: claim? })
            }
            "recover_incident" => {
                let incident = self.number("incident");
                let amount = self.amount("amount");
                Some(Command::RecoverIncident { incident: incident?, amount: amount? })
            }
            _ => {
                self.error(None, format!("unknown command {name:?}"));
                None
            }
        }
    }

    fn advance_time(&mut self, clock: &mut u64) -> Option<Command> {
        let now = self.optional("now");
        let by = self.optional("by");
        let now = match (now, by) {
            (Some(_), Some(_)) => {
                self.error(Some("by"), "give either now=<secs> or by=<secs>, not both".to_owned());
                return None;
            }
            (None, None) => {
                self.error(Some("now"), "missing key (or give by=<secs>)".to_owned());
                return None;
            }
            (Some(now), None) => self.whole_number("now", now)?,
            (None, Some(by)) => {
                let by = self.whole_number("by", by)?;
                let Some(now) = clock.checked_add(by) else {
                    self.error(Some("by"), format!("time {clock} + {by} s overflows"));
                    return None;
                };
                now
            }
        };
        *clock = now;
        Some(Command::AdvanceTime { now })
    }

    fn kind(&mut self) -> Option<AccountKind> {
        match self.optional("kind") {
            None | Some("regular") => Some(AccountKind::Regular),
            Some("backstop") => Some(AccountKind::Backstop),
            Some(other) => {
                self.error(Some("kind"), format!("expected regular or backstop, found {other:?}"));
                None
            }
        }
    }

    fn liquidation_target(&mut self) -> Option<LiquidationTarget> {
        let present: Vec<&str> = ["debt", "position", "unpaid_loss"]
            .into_iter()
            .filter(|key| self.optional(key).is_some())
            .collect();
        let usage = "liquidate needs exactly one target: debt=<asset> collateral=<asset>, \
                     position=<market>, or unpaid_loss=<market> collateral=<asset>";
        match present.as_slice() {
            [] => {
                self.error(Some("debt"), format!("missing key: {usage}"));
                None
            }
            [_, second, ..] => {
                self.error(Some(second), format!("conflicting targets: {usage}"));
                None
            }
            ["position"] => {
                let market = self.market("position");
                if self.optional("collateral").is_some() {
                    self.error(
                        Some("collateral"),
                        "a position liquidation takes no collateral".to_owned(),
                    );
                }
                Some(LiquidationTarget::Position { market: market? })
            }
            [liability] => {
                let liability = *liability;
                let collateral = self.asset("collateral");
                if liability == "debt" {
                    let debt = self.asset("debt");
                    Some(LiquidationTarget::Debt { debt: debt?, collateral: collateral? })
                } else {
                    let market = self.market("unpaid_loss");
                    Some(LiquidationTarget::UnpaidLoss { market: market?, collateral: collateral? })
                }
            }
        }
    }

    /// The one action of a `propose` line (`action=<name>` and that action's keys).
    fn governance_action(&mut self) -> Option<crate::governance::Action> {
        use crate::governance::Action;
        let text = |parser: &mut Self, key: &str| parser.required(key).map(str::to_owned);
        match self.required("action")? {
            "set_parameter" => {
                let (path, value) = (text(self, "path"), self.amount("value"));
                Some(Action::SetParameter { path: path?, value: value? })
            }
            "pause_market" => Some(Action::PauseMarket { asset: self.asset("asset")? }),
            "unpause_market" => Some(Action::UnpauseMarket { asset: self.asset("asset")? }),
            "reallocate_funds" => {
                let (from, to, amount) =
                    (text(self, "from"), text(self, "to"), self.amount("amount"));
                Some(Action::ReallocateFunds { from: from?, to: to?, amount: amount? })
            }
            "activate_layer" | "deactivate_layer" => {
                let activate = self.optional("action") == Some("activate_layer");
                let (market, layer) = (text(self, "market")?, text(self, "layer")?);
                Some(if activate {
                    Action::ActivateLayer { market, layer }
                } else {
                    Action::DeactivateLayer { market, layer }
                })
            }
            "approve_recap" => Some(Action::ApproveRecap { auction: self.number("auction")? }),
            "pay_claims" => Some(Action::PayClaims { incident: self.number("incident")? }),
            "assess_claim" => {
                let claim = self.number("claim");
                let approve = self.boolean("approve");
                // Optional: a rejection needs no amount.
                let approved_amount = self.optional_amount("approved_amount");
                Some(Action::AssessClaim {
                    claim: claim?,
                    approve: approve?,
                    approved_amount: approved_amount?,
                })
            }
            "mint_and_auction" => Some(Action::MintAndAuction { market: text(self, "market")? }),
            "declare_incident" => {
                let market = text(self, "market");
                let (loss_start, loss_end) = (self.number("loss_start"), self.number("loss_end"));
                Some(Action::DeclareIncident {
                    market: market?,
                    loss_start: loss_start?,
                    loss_end: loss_end?,
                })
            }
            "add_cover" => {
                let (name, asset, market) =
                    (text(self, "name"), text(self, "asset"), text(self, "market"));
                let (limit, position) = (self.amount("limit"), self.number("position"));
                // Optional like in [[cover]]: attachment and premium_rate default to 0.
                let attachment = if self.optional("attachment").is_some() {
                    self.amount("attachment")
                } else {
                    Some(Amount::ZERO)
                };
                let premium_rate = if self.optional("premium_rate").is_some() {
                    self.ratio("premium_rate")
                } else {
                    Some(Ratio::ZERO)
                };
                Some(Action::AddCover {
                    name: name?,
                    asset: asset?,
                    limit: limit?,
                    attachment: attachment?,
                    premium_rate: premium_rate?,
                    market: market?,
                    position: position?,
                })
            }
            other => {
                self.error(
                    Some("action"),
                    format!(
                        "unknown action {other:?}; known: set_parameter, pause_market, \
                         unpause_market, reallocate_funds, activate_layer, deactivate_layer, \
                         approve_recap, pay_claims, assess_claim, declare_incident, \
                         mint_and_auction, add_cover"
                    ),
                );
                None
            }
        }
    }

    /// A `true`/`false` value of a required key.
    fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.required(key)? {
            "true" => Some(true),
            "false" => Some(false),
            other => {
                self.error(Some(key), format!("expected true or false, found {other:?}"));
                None
            }
        }
    }

    /// An amount that may be left out (zero then).
    fn optional_amount(&mut self, key: &str) -> Option<Amount> {
        if self.optional(key).is_some() { self.amount(key) } else { Some(Amount::ZERO) }
    }

    /// The value of a key, if given.
    fn optional(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(candidate, _)| *candidate == key).map(|(_, value)| *value)
    }

    /// The value of a key, or a "missing key" error.
    fn required(&mut self, key: &str) -> Option<&'a str> {
        let value = self.optional(key);
        if value.is_none() && !self.reported(key) {
            self.error(Some(key), "missing key".to_owned());
        }
        value
    }

    fn whole_number(&mut self, key: &str, value: &str) -> Option<u64> {
        if !value.bytes().all(|byte| byte.is_ascii_digit()) {
            self.error(Some(key), format!("expected a whole number, found {value:?}"));
            return None;
        }
        match value.parse::<u64>() {
            Ok(number) => Some(number),
            Err(_) => {
                self.error(Some(key), format!("number {value:?} is too large"));
                None
            }
        }
    }

    fn account(&mut self, key: &str) -> Option<AccountId> {
        let value = self.required(key)?;
        self.whole_number(key, value).map(AccountId)
    }

    /// A required whole number (ids of cover claims and recap auctions, seconds).
    fn number(&mut self, key: &str) -> Option<u64> {
        let value = self.required(key)?;
        self.whole_number(key, value)
    }

    /// A required name of a configured cover (`key = "cover"`) or fund (`key = "fund"`).
    fn layer_name(&mut self, key: &str) -> Option<String> {
        let name = self.required(key)?;
        let known: Vec<&str> = if key == "cover" {
            self.config.covers.iter().map(|cover| cover.name.as_str()).collect()
        } else {
            self.config.funds.iter().map(|fund| fund.name.as_str()).collect()
        };
        if known.contains(&name) {
            return Some(name.to_owned());
        }
        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
        self.error(Some(key), format!("unknown {key} {name:?}; known: {known}"));
        None
    }

    /// A required name of a configured stability pool (`[[stability_pool]] name`).
    fn stability_pool(&mut self, key: &str) -> Option<String> {
        let name = self.required(key)?;
        if self.config.stability_pools.iter().any(|pool| pool.name == name) {
            return Some(name.to_owned());
        }
        let known: Vec<&str> =
            self.config.stability_pools.iter().map(|pool| pool.name.as_str()).collect();
        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
        self.error(Some(key), format!("unknown stability pool {name:?}; known: {known}"));
        None
    }

    /// A required name of a configured staker pool (`[[staker_pool]] name`).
    fn staker_pool(&mut self, key: &str) -> Option<String> {
        let name = self.required(key)?;
        if self.config.staker_pools.iter().any(|pool| pool.name == name) {
            return Some(name.to_owned());
        }
        let known: Vec<&str> =
            self.config.staker_pools.iter().map(|pool| pool.name.as_str()).collect();
        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
        self.error(Some(key), format!("unknown staker pool {name:?}; known: {known}"));
        None
    }

    fn auction(&mut self) -> Option<AuctionId> {
        let value = self.required("auction")?;
        self.whole_number("auction", value).map(AuctionId)
    }

    fn decimal<T>(&mut self, key: &str) -> Option<T>
    where
        T: core::str::FromStr<Err = backstop_money::MoneyError>,
    {
        let value = self.required(key)?;
        match value.parse::<T>() {
            Ok(number) => Some(number),
            Err(error) => {
                self.error(Some(key), format!("bad number {value:?}: {error}"));
                None
            }
        }
    }

    fn amount(&mut self, key: &str) -> Option<Amount> {
        self.decimal::<Amount>(key)
    }

    fn price(&mut self, key: &str) -> Option<Price> {
        self.decimal::<Price>(key)
    }

    fn ratio(&mut self, key: &str) -> Option<Ratio> {
        self.decimal::<Ratio>(key)
    }

    fn asset(&mut self, key: &str) -> Option<AssetId> {
        let symbol = self.required(key)?;
        let asset = self.config.asset_id(symbol);
        if asset.is_none() {
            let known: Vec<&str> =
                self.config.assets.iter().map(|asset| asset.symbol.as_str()).collect();
            self.error(Some(key), format!("unknown asset {symbol:?}; known: {}", known.join(", ")));
        }
        asset
    }

    fn market(&mut self, key: &str) -> Option<PerpMarketId> {
        let name = self.required(key)?;
        let market = self.config.perp_id(name);
        if market.is_none() {
            let known: Vec<&str> =
                self.config.perps.iter().map(|market| market.name.as_str()).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            self.error(Some(key), format!("unknown perp market {name:?}; known: {known}"));
        }
        market
    }

    /// A lending market (by asset symbol) or a perpetual market (by name).
    fn any_market(&mut self, key: &str) -> Option<crate::ids::MarketRef> {
        let name = self.required(key)?;
        let market = self.config.market_ref(name);
        if market.is_none() {
            self.error(
                Some(key),
                format!("unknown market {name:?}: name a lending market's asset or a perp market"),
            );
        }
        market
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn config() -> VenueConfig {
        VenueConfig::from_toml_str(include_str!("../../../examples/venue.toml")).unwrap()
    }

    fn one(text: &str) -> Command {
        let lines = parse_script(text, &config()).unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        lines.into_iter().next().unwrap().command
    }

    fn errors(text: &str) -> Vec<ScriptError> {
        parse_script(text, &config()).unwrap_err()
    }

    fn first_error(text: &str) -> ScriptError {
        errors(text).into_iter().next().unwrap()
    }

    const USDC: AssetId = AssetId(0);
    const ETH: AssetId = AssetId(1);
    const ETH_PERP: PerpMarketId = PerpMarketId(0);

    fn amount(text: &str) -> Amount {
        text.parse().unwrap()
    }

    fn price(text: &str) -> Price {
        text.parse().unwrap()
    }

    #[test]
    fn every_command_name_round_trips() {
        let script = "\
advance_time now=10
set_price asset=ETH price=2000
open_account account=1
deposit account=1 asset=USDC amount=5
withdraw account=1 asset=USDC amount=5
supply account=1 asset=USDC amount=5
withdraw_supply account=1 asset=USDC amount=5
borrow account=1 asset=USDC amount=5
repay account=1 asset=USDC amount=5
accrue_interest asset=USDC
trade market=ETH-PERP taker=1 maker=2 size=1 price=2000
accrue_funding market=ETH-PERP rate=0.0001
liquidate keeper=3 account=2 position=ETH-PERP amount=1
take_auction keeper=3 auction=1 amount=1 max_price=2000
reset_auction auction=1
";
        let lines = parse_script(script, &config()).unwrap();
        // The foundation's commands come first in COMMANDS; the safety net's are tested with
        // venues that configure their layers.
        assert_eq!(lines.len(), 15);
        for (line, (name, _)) in lines.iter().zip(COMMANDS) {
            assert_eq!(line.command.name(), *name);
        }
        assert_eq!(
            lines.iter().map(|line| line.line).collect::<Vec<_>>(),
            (1..=15).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_command_is_documented() {
        let documentation = include_str!("../../../docs/script-format.md");
        for (name, keys) in COMMANDS {
            assert!(
                documentation.contains(&format!("| `{name}` |")),
                "{name} is not in docs/script-format.md"
            );
            for key in *keys {
                assert!(documentation.contains(key), "key {key} of {name} is not documented");
            }
        }
    }

    #[test]
    fn advance_time_absolute_and_relative() {
        let lines = parse_script(
            "advance_time by=60\nadvance_time by=30\nadvance_time now=1000\nadvance_time by=1",
            &config(),
        )
        .unwrap();
        let times: Vec<Command> = lines.into_iter().map(|line| line.command).collect();
        assert_eq!(
            times,
            vec![
                Command::AdvanceTime { now: 60 },
                Command::AdvanceTime { now: 90 },
                Command::AdvanceTime { now: 1000 },
                Command::AdvanceTime { now: 1001 },
            ]
        );
    }

    #[test]
    fn advance_time_errors() {
        let error = first_error("advance_time now=1 by=2");
        assert_eq!(error.field.as_deref(), Some("by"));
        let error = first_error("advance_time");
        assert_eq!(error.field.as_deref(), Some("now"));
        let error = first_error("advance_time now=-1");
        assert_eq!(error.field.as_deref(), Some("now"));
        assert!(error.message.contains("whole number"), "{error}");
        let error = first_error("advance_time now=1.5");
        assert!(error.message.contains("whole number"), "{error}");
        let error = first_error("advance_time now=99999999999999999999999");
        assert!(error.message.contains("too large"), "{error}");
        let error = first_error(&format!("advance_time now={}\nadvance_time by=1", u64::MAX));
        assert_eq!((error.line, error.field.as_deref()), (2, Some("by")));
        assert!(error.message.contains("overflows"), "{error}");
    }

    #[test]
    fn set_price() {
        assert_eq!(
            one("set_price asset=ETH price=1999.5"),
            Command::SetPrice { asset: ETH, price: price("1999.5") }
        );
    }

    #[test]
    fn open_account_kinds() {
        assert_eq!(
            one("open_account account=7"),
            Command::OpenAccount { account: AccountId(7), kind: AccountKind::Regular }
        );
        assert_eq!(
            one("open_account account=7 kind=regular"),
            Command::OpenAccount { account: AccountId(7), kind: AccountKind::Regular }
        );
        assert_eq!(
            one("open_account account=8 kind=backstop"),
            Command::OpenAccount { account: AccountId(8), kind: AccountKind::Backstop }
        );
        let error = first_error("open_account account=8 kind=vault");
        assert_eq!(error.field.as_deref(), Some("kind"));
    }

    #[test]
    fn balance_commands() {
        let (account, asset, amount) = (AccountId(1), USDC, amount("1.5"));
        assert_eq!(
            one("deposit account=1 asset=USDC amount=1.5"),
            Command::Deposit { account, asset, amount }
        );
        assert_eq!(
            one("withdraw account=1 asset=USDC amount=1.5"),
            Command::Withdraw { account, asset, amount }
        );
        assert_eq!(
            one("supply account=1 asset=USDC amount=1.5"),
            Command::Supply { account, asset, amount }
        );
        assert_eq!(
            one("withdraw_supply account=1 asset=USDC amount=1.5"),
            Command::WithdrawSupply { account, asset, amount }
        );
        assert_eq!(
            one("borrow account=1 asset=USDC amount=1.5"),
            Command::Borrow { account, asset, amount }
        );
        assert_eq!(
            one("repay account=1 asset=USDC amount=1.5"),
            Command::Repay { account, asset, amount }
        );
    }

    #[test]
    fn accrue_interest() {
        assert_eq!(one("accrue_interest asset=ETH"), Command::AccrueInterest { asset: ETH });
    }

    #[test]
    fn trade_with_negative_size() {
        assert_eq!(
            one("trade market=ETH-PERP taker=1 maker=2 size=-2 price=2000"),
            Command::Trade {
                market: ETH_PERP,
                taker: AccountId(1),
                maker: AccountId(2),
                size: amount("-2"),
                price: price("2000"),
            }
        );
    }

    #[test]
    fn accrue_funding() {
        assert_eq!(
            one("accrue_funding market=ETH-PERP rate=-0.0001"),
            Command::AccrueFunding { market: ETH_PERP, rate: "-0.0001".parse().unwrap() }
        );
    }

    #[test]
    fn liquidate_targets() {
        assert_eq!(
            one("liquidate keeper=3 account=2 debt=USDC collateral=ETH amount=1000"),
            Command::Liquidate {
                keeper: AccountId(3),
                account: AccountId(2),
                target: LiquidationTarget::Debt { debt: USDC, collateral: ETH },
                amount: amount("1000"),
                seed: 0,
            }
        );
        assert_eq!(
            one("liquidate keeper=3 account=2 position=ETH-PERP amount=1"),
            Command::Liquidate {
                keeper: AccountId(3),
                account: AccountId(2),
                target: LiquidationTarget::Position { market: ETH_PERP },
                amount: amount("1"),
                seed: 0,
            }
        );
        assert_eq!(
            one("liquidate keeper=3 account=2 unpaid_loss=ETH-PERP collateral=USDC amount=5"),
            Command::Liquidate {
                keeper: AccountId(3),
                account: AccountId(2),
                target: LiquidationTarget::UnpaidLoss { market: ETH_PERP, collateral: USDC },
                amount: amount("5"),
                seed: 0,
            }
        );
    }

    #[test]
    fn liquidate_seed() {
        assert_eq!(
            one("liquidate keeper=3 account=2 position=ETH-PERP amount=1 seed=42"),
            Command::Liquidate {
                keeper: AccountId(3),
                account: AccountId(2),
                target: LiquidationTarget::Position { market: ETH_PERP },
                amount: amount("1"),
                seed: 42,
            }
        );
        let error = first_error("liquidate keeper=3 account=2 position=ETH-PERP amount=1 seed=-1");
        assert_eq!(error.field.as_deref(), Some("seed"));
        assert!(error.message.contains("whole number"), "{error}");
    }

    #[test]
    fn liquidate_target_errors() {
        let error = first_error("liquidate keeper=3 account=2 amount=1");
        assert_eq!(error.field.as_deref(), Some("debt"));
        assert!(error.message.contains("exactly one target"), "{error}");
        let error =
            first_error("liquidate keeper=3 account=2 debt=USDC position=ETH-PERP amount=1");
        assert_eq!(error.field.as_deref(), Some("position"));
        assert!(error.message.contains("conflicting"), "{error}");
        let error = first_error("liquidate keeper=3 account=2 debt=USDC amount=1");
        assert_eq!(error.field.as_deref(), Some("collateral"));
        assert_eq!(error.message, "missing key");
        let error =
            first_error("liquidate keeper=3 account=2 position=ETH-PERP collateral=USDC amount=1");
        assert_eq!(error.field.as_deref(), Some("collateral"));
        let error = first_error("liquidate keeper=3 account=2 position=USDC amount=1");
        assert_eq!(error.field.as_deref(), Some("position"));
        assert!(error.message.contains("unknown perp market"), "{error}");
    }

    #[test]
    fn auctions() {
        assert_eq!(
            one("take_auction keeper=3 auction=1 amount=2 max_price=1500.25"),
            Command::TakeAuction {
                keeper: AccountId(3),
                auction: AuctionId(1),
                amount: amount("2"),
                max_price: price("1500.25"),
            }
        );
        assert_eq!(one("reset_auction auction=4"), Command::ResetAuction { auction: AuctionId(4) });
    }

    #[test]
    fn comments_blank_lines_and_line_numbers() {
        let lines = parse_script(
            "# a comment\n\n   \nset_price asset=USDC price=1 # trailing comment\n\t# indented\nopen_account account=1",
            &config(),
        )
        .unwrap();
        assert_eq!(lines.iter().map(|line| line.line).collect::<Vec<_>>(), vec![4, 6]);
        assert!(parse_script("", &config()).unwrap().is_empty());
        // A CRLF script reads the same.
        let lines = parse_script("open_account account=1\r\nopen_account account=2\r\n", &config())
            .unwrap();
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn unknown_command() {
        let error = first_error("\n\nteleport account=1");
        assert_eq!((error.line, error.field.as_deref()), (3, None));
        assert!(error.message.contains("unknown command \"teleport\""), "{error}");
        assert!(error.message.contains("advance_time"), "{error}");
        // Names are exact: no case folding, no aliases.
        assert!(first_error("Deposit account=1 asset=USDC amount=1").message.contains("unknown"));
    }

    #[test]
    fn unknown_key() {
        let error = first_error("deposit account=1 asset=USDC amount=1 memo=hi");
        assert_eq!(error.field.as_deref(), Some("memo"));
        assert!(error.message.contains("account, asset, amount"), "{error}");
    }

    #[test]
    fn missing_key() {
        let error = first_error("deposit account=1 amount=1");
        assert_eq!(
            (error.field.as_deref(), error.message.as_str()),
            (Some("asset"), "missing key")
        );
    }

    #[test]
    fn duplicate_key() {
        let error = first_error("deposit account=1 asset=USDC amount=1 amount=2");
        assert_eq!(
            (error.field.as_deref(), error.message.as_str()),
            (Some("amount"), "duplicate key")
        );
    }

    #[test]
    fn malformed_pairs() {
        let error = first_error("deposit account=1 asset=USDC 5");
        assert_eq!(error.field, None);
        assert!(error.message.contains("key=value"), "{error}");
        let error = first_error("deposit account=1 asset= amount=1");
        assert_eq!(
            (error.field.as_deref(), error.message.as_str()),
            (Some("asset"), "empty value")
        );
    }

    #[test]
    fn bad_numbers() {
        let error = first_error("deposit account=1 asset=USDC amount=1.2.3");
        assert_eq!(error.field.as_deref(), Some("amount"));
        assert!(error.message.contains("bad number \"1.2.3\""), "{error}");
        assert!(error.message.contains("invalid character"), "{error}");
        let error = first_error("deposit account=1 asset=USDC amount=0.0000000000000000001");
        assert!(error.message.contains("digits after the point"), "{error}");
        let error = first_error("set_price asset=ETH price=1e9");
        assert_eq!(error.field.as_deref(), Some("price"));
        let error = first_error("accrue_funding market=ETH-PERP rate=abc");
        assert_eq!(error.field.as_deref(), Some("rate"));
        let error = first_error(&format!("deposit account=1 asset=USDC amount={}", "9".repeat(40)));
        assert!(error.message.contains("out of range"), "{error}");
        let error = first_error("deposit account=x asset=USDC amount=1");
        assert_eq!(error.field.as_deref(), Some("account"));
        let error = first_error("deposit account=-1 asset=USDC amount=1");
        assert_eq!(error.field.as_deref(), Some("account"));
    }

    #[test]
    fn unknown_asset_and_market() {
        let error = first_error("deposit account=1 asset=BTC amount=1");
        assert_eq!(error.field.as_deref(), Some("asset"));
        assert!(error.message.contains("unknown asset \"BTC\"; known: USDC, ETH"), "{error}");
        let error = first_error("accrue_funding market=BTC-PERP rate=0.01");
        assert_eq!(error.field.as_deref(), Some("market"));
        assert!(error.message.contains("known: ETH-PERP"), "{error}");
        // Symbols are case-sensitive.
        assert_eq!(first_error("accrue_interest asset=eth").field.as_deref(), Some("asset"));
    }

    #[test]
    fn collects_every_error_in_line_order() {
        let all = errors(
            "deposit account=1 asset=USDC amount=x\nopen_account account=2\nteleport\nrepay account=1 asset=DOGE",
        );
        let found: Vec<(usize, Option<&str>)> =
            all.iter().map(|error| (error.line, error.field.as_deref())).collect();
        assert_eq!(
            found,
            vec![(1, Some("amount")), (3, None), (4, Some("asset")), (4, Some("amount"))]
        );
    }

    #[test]
    fn display_names_line_and_field() {
        let error = first_error("\ndeposit account=1 asset=USDC amount=x");
        assert_eq!(
            error.to_string(),
            "line 2: amount: bad number \"x\": invalid character 'x' in number"
        );
        let error = first_error("nope");
        assert!(error.to_string().starts_with("line 1: unknown command"));
    }
}
