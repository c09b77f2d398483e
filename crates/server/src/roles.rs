//! Roles and the command matrix: which role may submit which command, for which accounts.
//!
//! Every API key has one [`Role`]. Routes list the roles allowed on them ([`crate::routes`]);
//! commands are checked here by an exhaustive `match` on [`Command`], so a new command does not
//! compile until someone decides who may send it.
//!
//! - `admin`: every command.
//! - `oracle`: `set_price` and `advance_time` (the price feed carries the venue's clock).
//! - `keeper`: liquidations, auctions, recapitalisation bids and restarts, interest and funding
//!   accrual, revenue settlement, status updates. The keeper account that pays (`keeper` of
//!   `liquidate` and `take_auction`, `account` of `bid_recap`) must be one of the key's accounts.
//! - `governance`: proposals, votes, queue, execute, cancel, veto, guardian pause, delegation,
//!   incidents and claim assessment and payment, recovered funds, recap approval, cover purchase
//!   and settlement, venue status and unpause. Governance acts for any account (it relays the
//!   venue's governance process), so its commands are not tied to the key's accounts.
//! - `user`: an account holder's own actions, and every account the command acts for must be one
//!   of the key's accounts (the receiving `to` of a transfer or delegation excepted); a user opens
//!   only regular accounts.

use backstop_core::{AccountId, AccountKind, Command};
use serde::{Deserialize, Serialize};

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including key management.
    Admin,
    /// Prices and the clock.
    Oracle,
    /// Liquidations, auctions and upkeep.
    Keeper,
    /// The venue's governance process.
    Governance,
    /// An account holder: its own accounts only.
    User,
}

impl Role {
    /// Every role, in the order the docs list them.
    pub const ALL: [Role; 5] =
        [Role::Admin, Role::Oracle, Role::Keeper, Role::Governance, Role::User];

    /// The role's name as stored and sent.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Oracle => "oracle",
            Role::Keeper => "keeper",
            Role::Governance => "governance",
            Role::User => "user",
        }
    }

    /// The role with this name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

impl core::fmt::Display for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a command was refused to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The role may not send this kind of command.
    Command {
        /// The key's role.
        role: Role,
        /// The command's name.
        command: &'static str,
    },
    /// The command acts for an account the key does not own.
    Account {
        /// The key's role.
        role: Role,
        /// The command's name.
        command: &'static str,
        /// The account not owned.
        account: AccountId,
    },
    /// A user may open only regular accounts.
    AccountKind,
}

impl core::fmt::Display for Denial {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Denial::Command { role, command } => {
                write!(f, "role {role} may not send {command} commands")
            }
            Denial::Account { role, command, account } => write!(
                f,
                "{command} acts for account {} which this {role} key does not own",
                account.0
            ),
            Denial::AccountKind => f.write_str("a user key may open only regular accounts"),
        }
    }
}

/// The roles besides admin that may send a command, and the accounts the command acts for
/// (whose ownership user keys, and keeper keys for the accounts that pay, must prove).
fn rule(command: &Command) -> (&'static [Role], Vec<AccountId>) {
    use Role::{Governance, Keeper, Oracle, User};
    const ORACLE: &[Role] = &[Oracle];
    const KEEPER: &[Role] = &[Keeper];
    const GOVERNANCE: &[Role] = &[Governance];
    const USER: &[Role] = &[User];
    const KEEPER_USER: &[Role] = &[Keeper, User];
    const GOVERNANCE_USER: &[Role] = &[Governance, User];
    const ADMIN_ONLY: &[Role] = &[];
    match *command {
        Command::AdvanceTime { .. } | Command::SetPrice { .. } => (ORACLE, vec![]),
        Command::Liquidate { keeper, .. } | Command::TakeAuction { keeper, .. } => {
            (KEEPER, vec![keeper])
        }
        Command::ResetAuction { .. }
        | Command::DealAuction { .. }
        | Command::RestartRecap { .. }
        | Command::AccrueInterest { .. }
        | Command::AccrueFunding { .. }
        | Command::SettleRevenue { .. }
        | Command::UpdateStatus {} => (KEEPER, vec![]),
        Command::BidRecap { account, .. } => (KEEPER_USER, vec![account]),
        Command::BidAuction { bidder, .. } => (KEEPER_USER, vec![bidder]),
        Command::Delegate { account, .. } => (GOVERNANCE_USER, vec![account]),
        Command::Propose { proposer, .. } | Command::Cancel { proposer, .. } => {
            (GOVERNANCE_USER, vec![proposer])
        }
        Command::Vote { voter, .. } => (GOVERNANCE_USER, vec![voter]),
        Command::Veto { guardian, .. } | Command::GuardianPause { guardian, .. } => {
            (GOVERNANCE, vec![guardian])
        }
        Command::DeclareIncident { declarer, .. } => (GOVERNANCE, vec![declarer]),
        Command::AssessClaim { assessor, .. } => (GOVERNANCE, vec![assessor]),
        Command::Queue { .. }
        | Command::Execute { .. }
        | Command::PayClaims { .. }
        | Command::RecoverIncident { .. }
        | Command::ApproveRecap { .. }
        | Command::BuyCover { .. }
        | Command::SettleCoverClaim { .. }
        | Command::SetStatus { .. }
        | Command::Unpause { .. } => (GOVERNANCE, vec![]),
        Command::OpenAccount { account, .. }
        | Command::Withdraw { account, .. }
        | Command::Supply { account, .. }
        | Command::WithdrawSupply { account, .. }
        | Command::Borrow { account, .. }
        | Command::Repay { account, .. }
        | Command::Donate { account, .. }
        | Command::Stake { account, .. }
        | Command::RequestUnstake { account, .. }
        | Command::CancelUnstake { account, .. }
        | Command::CompleteUnstake { account, .. }
        | Command::ClaimRewards { account, .. }
        | Command::StabilityDeposit { account, .. }
        | Command::StabilityWithdraw { account, .. }
        | Command::StabilityClaim { account, .. }
        | Command::FileClaim { account, .. }
        | Command::ClaimVested { account, .. } => (USER, vec![account]),
        Command::Transfer { from, .. } => (USER, vec![from]),
        // Funds from outside the venue and simulated exploits: operators only.
        Command::Recover { .. } | Command::Exploit { .. } => (ADMIN_ONLY, vec![]),
        // A deposit credits money that arrived outside the engine: only the venue's custody
        // (an admin key) can say it arrived; a user key could otherwise credit itself anything.
        Command::Deposit { .. } => (ADMIN_ONLY, vec![]),
        // A fill's price comes from the venue's matching engine: a user owning both sides could
        // otherwise trade with itself at any price and push the loss into the backstop.
        Command::Trade { .. } => (ADMIN_ONLY, vec![]),
    }
}

/// Whether a key with this role and these accounts may submit the command.
///
/// # Errors
/// The [`Denial`] saying which rule refused it.
pub fn authorize_command(role: Role, accounts: &[u64], command: &Command) -> Result<(), Denial> {
    if role == Role::Admin {
        return Ok(());
    }
    let (roles, acting) = rule(command);
    if !roles.contains(&role) {
        return Err(Denial::Command { role, command: command.name() });
    }
    if matches!(role, Role::User | Role::Keeper)
        && let Some(account) = acting.into_iter().find(|account| !accounts.contains(&account.0))
    {
        return Err(Denial::Account { role, command: command.name(), account });
    }
    if role == Role::User
        && let Command::OpenAccount { kind: AccountKind::Backstop, .. } = command
    {
        return Err(Denial::AccountKind);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstop_core::{AssetId, AuctionId, LiquidationTarget, MarketRef, PerpMarketId};
    use backstop_money::{Amount, Price, Ratio, Shares};

    /// The account every sample command acts for (and the key's only account below).
    const OWN: AccountId = AccountId(7);

    /// One command of every kind, acting for [`OWN`] wherever a command acts for an account.
    fn samples() -> Vec<Command> {
        let asset = AssetId(0);
        let amount = Amount::ONE;
        let pool = || "pool".to_owned();
        vec![
            Command::AdvanceTime { now: 1 },
            Command::SetPrice { asset, price: Price::ONE },
            Command::OpenAccount { account: OWN, kind: AccountKind::Regular },
            Command::Deposit { account: OWN, asset, amount },
            Command::Withdraw { account: OWN, asset, amount },
            Command::Supply { account: OWN, asset, amount },
            Command::WithdrawSupply { account: OWN, asset, amount },
            Command::Borrow { account: OWN, asset, amount },
            Command::Repay { account: OWN, asset, amount },
            Command::AccrueInterest { asset },
            Command::Trade {
                market: PerpMarketId(0),
                taker: OWN,
                maker: OWN,
                size: amount,
                price: Price::ONE,
            },
            Command::AccrueFunding { market: PerpMarketId(0), rate: Ratio::ZERO },
            Command::Liquidate {
                keeper: OWN,
                account: AccountId(99),
                target: LiquidationTarget::Position { market: PerpMarketId(0) },
                amount,
                seed: 0,
            },
            Command::TakeAuction {
                keeper: OWN,
                auction: AuctionId(1),
                amount,
                max_price: Price::ONE,
            },
            Command::ResetAuction { auction: AuctionId(1) },
            Command::SettleRevenue { asset },
            Command::Donate { account: OWN, layer: "fund:f".to_owned(), amount },
            Command::Recover { market: MarketRef::Lending(asset), amount },
            Command::BuyCover { cover: "c".to_owned(), fund: "f".to_owned(), term_secs: 1 },
            Command::SettleCoverClaim { claim: 1, amount },
            Command::ApproveRecap { auction: 1 },
            Command::BidRecap { account: OWN, auction: 1, lot: amount },
            Command::RestartRecap { auction: 1 },
            Command::UpdateStatus {},
            Command::SetStatus { status: backstop_core::backstop::net::VenueStatus::default() },
            Command::Unpause { asset },
            Command::Stake { account: OWN, pool: pool(), amount },
            Command::RequestUnstake { account: OWN, pool: pool(), shares: Shares::ONE },
            Command::CancelUnstake { account: OWN, pool: pool(), shares: Shares::ONE },
            Command::CompleteUnstake { account: OWN, pool: pool() },
            Command::ClaimRewards { account: OWN, pool: pool() },
            Command::StabilityDeposit { account: OWN, pool: pool(), amount },
            Command::StabilityWithdraw { account: OWN, pool: pool(), amount },
            Command::StabilityClaim { account: OWN, pool: pool() },
            Command::Exploit { asset, amount },
            Command::Transfer { from: OWN, to: AccountId(99), asset, amount },
            Command::Delegate { account: OWN, to: AccountId(99) },
            Command::Propose { proposer: OWN, actions: vec![] },
            Command::Vote { voter: OWN, proposal: 1, support: true },
            Command::Queue { proposal: 1 },
            Command::Execute { proposal: 1 },
            Command::Cancel { proposer: OWN, proposal: 1 },
            Command::Veto { guardian: OWN, proposal: 1 },
            Command::GuardianPause { guardian: OWN, asset },
            Command::DeclareIncident {
                declarer: OWN,
                market: MarketRef::Lending(asset),
                loss_start: 0,
                loss_end: 1,
            },
            Command::FileClaim { account: OWN, incident: 1, amount, evidence: String::new() },
            Command::AssessClaim {
                assessor: OWN,
                claim: 1,
                approve: true,
                approved_amount: amount,
            },
            Command::PayClaims { incident: 1 },
            Command::ClaimVested { account: OWN, claim: 1 },
            Command::RecoverIncident { incident: 1, amount },
        ]
    }

    /// Hand-written matrix: command → allowed for (admin, oracle, keeper, governance, user), when
    /// the key owns every account the command acts for.
    const MATRIX: [(&str, [bool; 5]); 50] = [
        ("advance_time", [true, true, false, false, false]),
        ("set_price", [true, true, false, false, false]),
        ("open_account", [true, false, false, false, true]),
        ("deposit", [true, false, false, false, false]),
        ("withdraw", [true, false, false, false, true]),
        ("supply", [true, false, false, false, true]),
        ("withdraw_supply", [true, false, false, false, true]),
        ("borrow", [true, false, false, false, true]),
        ("repay", [true, false, false, false, true]),
        ("accrue_interest", [true, false, true, false, false]),
        ("trade", [true, false, false, false, false]),
        ("accrue_funding", [true, false, true, false, false]),
        ("liquidate", [true, false, true, false, false]),
        ("take_auction", [true, false, true, false, false]),
        ("reset_auction", [true, false, true, false, false]),
        ("settle_revenue", [true, false, true, false, false]),
        ("donate", [true, false, false, false, true]),
        ("recover", [true, false, false, false, false]),
        ("buy_cover", [true, false, false, true, false]),
        ("settle_cover_claim", [true, false, false, true, false]),
        ("approve_recap", [true, false, false, true, false]),
        ("bid_recap", [true, false, true, false, true]),
        ("restart_recap", [true, false, true, false, false]),
        ("update_status", [true, false, true, false, false]),
        ("set_status", [true, false, false, true, false]),
        ("unpause", [true, false, false, true, false]),
        ("stake", [true, false, false, false, true]),
        ("request_unstake", [true, false, false, false, true]),
        ("cancel_unstake", [true, false, false, false, true]),
        ("complete_unstake", [true, false, false, false, true]),
        ("claim_rewards", [true, false, false, false, true]),
        ("stability_deposit", [true, false, false, false, true]),
        ("stability_withdraw", [true, false, false, false, true]),
        ("stability_claim", [true, false, false, false, true]),
        ("exploit", [true, false, false, false, false]),
        ("transfer", [true, false, false, false, true]),
        ("delegate", [true, false, false, true, true]),
        ("propose", [true, false, false, true, true]),
        ("vote", [true, false, false, true, true]),
        ("queue", [true, false, false, true, false]),
        ("execute", [true, false, false, true, false]),
        ("cancel", [true, false, false, true, true]),
        ("veto", [true, false, false, true, false]),
        ("guardian_pause", [true, false, false, true, false]),
        ("declare_incident", [true, false, false, true, false]),
        ("file_claim", [true, false, false, false, true]),
        ("assess_claim", [true, false, false, true, false]),
        ("pay_claims", [true, false, false, true, false]),
        ("claim_vested", [true, false, false, false, true]),
        ("recover_incident", [true, false, false, true, false]),
    ];

    #[test]
    fn every_role_and_command_kind_matches_the_hand_written_matrix() {
        let samples = samples();
        assert_eq!(samples.len(), MATRIX.len());
        for (name, allowed) in MATRIX {
            let command = samples
                .iter()
                .find(|command| command.name() == name)
                .unwrap_or_else(|| panic!("no sample {name}"));
            for (role, expected) in Role::ALL.into_iter().zip(allowed) {
                let got = authorize_command(role, &[OWN.0], command);
                assert_eq!(got.is_ok(), expected, "{role} × {name}: {got:?}");
                if !expected {
                    assert_eq!(got, Err(Denial::Command { role, command: name }));
                }
            }
        }
    }

    #[test]
    fn users_act_only_for_their_own_accounts() {
        let stranger = AccountId(8);
        let denied = |command: &Command, account: AccountId| {
            assert_eq!(
                authorize_command(Role::User, &[OWN.0], command),
                Err(Denial::Account { role: Role::User, command: command.name(), account })
            );
        };
        let asset = AssetId(0);
        denied(&Command::Withdraw { account: stranger, asset, amount: Amount::ONE }, stranger);
        // Deposits and trades are the venue's to report, even for the key's own accounts.
        let trade = |taker, maker| Command::Trade {
            market: PerpMarketId(0),
            taker,
            maker,
            size: Amount::ONE,
            price: Price::ONE,
        };
        for command in
            [trade(OWN, OWN), Command::Deposit { account: OWN, asset, amount: Amount::ONE }]
        {
            assert_eq!(
                authorize_command(Role::User, &[OWN.0], &command),
                Err(Denial::Command { role: Role::User, command: command.name() })
            );
        }
        // The receiver of a transfer or a delegation need not be the key's; the sender must.
        let transfer = |from, to| Command::Transfer { from, to, asset, amount: Amount::ONE };
        assert_eq!(authorize_command(Role::User, &[OWN.0], &transfer(OWN, stranger)), Ok(()));
        denied(&transfer(stranger, OWN), stranger);
        let delegate = Command::Delegate { account: OWN, to: stranger };
        assert_eq!(authorize_command(Role::User, &[OWN.0], &delegate), Ok(()));
        denied(&Command::Vote { voter: stranger, proposal: 1, support: true }, stranger);
        // A key without accounts can act for none.
        assert!(
            authorize_command(
                Role::User,
                &[],
                &Command::Withdraw { account: OWN, asset, amount: Amount::ONE }
            )
            .is_err()
        );
    }

    #[test]
    fn users_open_only_regular_accounts() {
        let open = |kind| Command::OpenAccount { account: OWN, kind };
        assert_eq!(authorize_command(Role::User, &[OWN.0], &open(AccountKind::Regular)), Ok(()));
        assert_eq!(
            authorize_command(Role::User, &[OWN.0], &open(AccountKind::Backstop)),
            Err(Denial::AccountKind)
        );
        assert_eq!(authorize_command(Role::Admin, &[], &open(AccountKind::Backstop)), Ok(()));
    }

    #[test]
    fn keepers_pay_only_from_their_own_accounts_and_governance_from_any() {
        let stranger = AccountId(8);
        let take = |keeper| Command::TakeAuction {
            keeper,
            auction: AuctionId(1),
            amount: Amount::ONE,
            max_price: Price::ONE,
        };
        assert_eq!(authorize_command(Role::Keeper, &[OWN.0], &take(OWN)), Ok(()));
        assert_eq!(
            authorize_command(Role::Keeper, &[OWN.0], &take(stranger)),
            Err(Denial::Account { role: Role::Keeper, command: "take_auction", account: stranger })
        );
        // Upkeep without a paying account needs no account at all.
        assert_eq!(authorize_command(Role::Keeper, &[], &Command::UpdateStatus {}), Ok(()));
        let vote = Command::Vote { voter: stranger, proposal: 1, support: false };
        assert_eq!(authorize_command(Role::Governance, &[], &vote), Ok(()));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
    }
}
