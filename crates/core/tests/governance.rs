//! Governance: proposal lifecycles, every rejection (state hash unchanged, via `common::run`),
//! parameter changes reaching the engine, and a property that no token votes twice.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::governance::Action;
use backstop_core::{AccountId, AssetId, Command, Engine, Event};
use common::{Expect, advance, amount, deposit, engine, open, run, set_price, step};
use proptest::prelude::*;

const USDC: AssetId = AssetId(0);
const ETH: AssetId = AssetId(1);
const GOV: AssetId = AssetId(2);

const VENUE: &str = r#"
[[asset]]
symbol = "USDC"
decimals = 6
[[asset]]
symbol = "ETH"
decimals = 18
[[asset]]
symbol = "GOV"
decimals = 18
[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0"
kink = "0.9"
slope2 = "0"
[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0"
kink = "0.8"
slope2 = "0"
[[fund]]
name = "insurance"
asset = "USDC"
floor = "100"
[[offset]]
name = "treasury"
asset = "USDC"
[[waterfall]]
market = "USDC"
layers = ["fund:insurance", "offset:treasury", "socialize"]
[governance]
token = "GOV"
guardian = 9
quorum = "0.2"
approval = "0.5"
voting_secs = 100
timelock_secs = 50
expiry_secs = 100
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

/// Accounts 1, 2, 3 hold 100, 50 and 30 GOV (supply 180); 4 holds none; 9 is the guardian.
fn setup() -> Engine {
    let mut engine = engine(VENUE);
    let table = vec![
        (set_price(USDC, "1"), Expect::Ok),
        (set_price(ETH, "2000"), Expect::Ok),
        (set_price(GOV, "1"), Expect::Ok),
        (open(1), Expect::Ok),
        (open(2), Expect::Ok),
        (open(3), Expect::Ok),
        (open(4), Expect::Ok),
        (open(9), Expect::Ok),
        (deposit(1, GOV, "100"), Expect::Ok),
        (deposit(2, GOV, "50"), Expect::Ok),
        (deposit(3, GOV, "30"), Expect::Ok),
    ];
    run(&mut engine, &table);
    engine
}

fn propose(proposer: u64, actions: Vec<Action>) -> Command {
    Command::Propose { proposer: AccountId(proposer), actions }
}

fn vote(voter: u64, proposal: u64, support: bool) -> Command {
    Command::Vote { voter: AccountId(voter), proposal, support }
}

fn transfer(from: u64, to: u64, value: &str) -> Command {
    Command::Transfer {
        from: AccountId(from),
        to: AccountId(to),
        asset: GOV,
        amount: amount(value),
    }
}

fn bonus(value: &str) -> Action {
    Action::SetParameter { path: "lending.ETH.liquidation_bonus".into(), value: amount(value) }
}

#[test]
fn set_parameter_lifecycle_changes_the_config() {
    let mut engine = setup();
    let table = vec![
        // Created at t=0: voting until 100; supply 180, quorum ⌈0.2 × 180⌉ = 36.
        (
            propose(1, vec![bonus("0.07")]),
            Expect::Events(vec![Event::ProposalCreated {
                proposal: 1,
                proposer: AccountId(1),
                supply: amount("180"),
                ends_at: 100,
            }]),
        ),
        (
            vote(2, 1, true),
            Expect::Events(vec![Event::VoteCast {
                proposal: 1,
                voter: AccountId(2),
                support: true,
                power: amount("50"),
            }]),
        ),
        (vote(3, 1, false), Expect::Ok),
        // 50 for, 30 against: cast 80 ≥ 36, for 50 ≥ ⌈0.5 × 80⌉ = 40.
        (Command::Queue { proposal: 1 }, Expect::Code(103)),
        (advance(100), Expect::Ok),
        (vote(1, 1, true), Expect::Code(92)),
        (
            Command::Queue { proposal: 1 },
            Expect::Events(vec![Event::ProposalQueued { proposal: 1, eta: 150 }]),
        ),
        (Command::Execute { proposal: 1 }, Expect::Code(96)),
        (advance(150), Expect::Ok),
        (
            Command::Execute { proposal: 1 },
            Expect::Events(vec![
                Event::ParameterSet {
                    path: "lending.ETH.liquidation_bonus".into(),
                    value: amount("0.07"),
                },
                Event::ProposalExecuted { proposal: 1 },
            ]),
        ),
        (Command::Execute { proposal: 1 }, Expect::Code(99)),
        (Command::Cancel { proposer: AccountId(1), proposal: 1 }, Expect::Code(99)),
    ];
    run(&mut engine, &table);
    let eth = engine.config().lending.iter().find(|market| market.asset == "ETH").unwrap();
    assert_eq!(eth.liquidation_bonus, "0.07".parse().unwrap());
}

#[test]
fn proposal_rejections() {
    let mut engine = setup();
    let table = vec![
        // 4 holds nothing: below the threshold of 10.
        (propose(4, vec![bonus("0.07")]), Expect::Code(91)),
        // 0.11 > max 0.10; an undeclared parameter is invalid.
        (propose(1, vec![bonus("0.11")]), Expect::Code(98)),
        (propose(1, vec![bonus("0.01")]), Expect::Code(98)),
        (
            propose(
                1,
                vec![Action::SetParameter {
                    path: "fund.insurance.floor_x".into(),
                    value: amount("1"),
                }],
            ),
            Expect::Code(105),
        ),
        (propose(1, vec![]), Expect::Code(105)),
        (propose(1, vec![bonus("0.10")]), Expect::Ok),
        (vote(4, 1, true), Expect::Code(91)),
        (vote(7, 2, true), Expect::Code(102)),
        (vote(3, 1, true), Expect::Ok),
        (vote(3, 1, false), Expect::Code(93)),
        (Command::Cancel { proposer: AccountId(2), proposal: 1 }, Expect::Code(100)),
        (Command::Veto { guardian: AccountId(1), proposal: 1 }, Expect::Code(101)),
        // Veto needs a queued proposal.
        (Command::Veto { guardian: AccountId(9), proposal: 1 }, Expect::Code(104)),
        (advance(100), Expect::Ok),
        // Only 30 cast: quorum 36 not met.
        (Command::Queue { proposal: 1 }, Expect::Code(94)),
        (Command::Queue { proposal: 9 }, Expect::Code(102)),
        (Command::GuardianPause { guardian: AccountId(1), asset: ETH }, Expect::Code(101)),
        (
            Command::GuardianPause { guardian: AccountId(9), asset: ETH },
            Expect::Events(vec![Event::GovernancePaused { asset: ETH }]),
        ),
        (Command::GuardianPause { guardian: AccountId(9), asset: ETH }, Expect::Code(105)),
        (transfer(1, 1, "1"), Expect::Code(105)),
    ];
    run(&mut engine, &table);
    assert!(engine.state().net.paused[ETH.index()]);
}

#[test]
fn approval_expiry_cancel_and_veto() {
    let mut engine = setup();
    let table = vec![
        (propose(1, vec![bonus("0.06")]), Expect::Ok),
        (propose(1, vec![bonus("0.08")]), Expect::Ok),
        (propose(2, vec![bonus("0.09")]), Expect::Ok),
        (propose(2, vec![bonus("0.04")]), Expect::Ok),
        // 1: 30 for, 50 against → approval needs ⌈0.5 × 80⌉ = 40 > 30.
        (vote(3, 1, true), Expect::Ok),
        (vote(2, 1, false), Expect::Ok),
        // 2 passes (100 for), 3 passes (80 for), 4 passes (50+30).
        (vote(1, 2, true), Expect::Ok),
        (vote(2, 3, true), Expect::Ok),
        (vote(3, 3, true), Expect::Ok),
        (vote(2, 4, true), Expect::Ok),
        (vote(3, 4, true), Expect::Ok),
        (Command::Cancel { proposer: AccountId(2), proposal: 4 }, Expect::Ok),
        (vote(1, 4, true), Expect::Code(92)),
        (advance(100), Expect::Ok),
        (Command::Queue { proposal: 1 }, Expect::Code(95)),
        (Command::Queue { proposal: 2 }, Expect::Ok),
        (Command::Queue { proposal: 3 }, Expect::Ok),
        (Command::Queue { proposal: 4 }, Expect::Code(104)),
        (Command::Veto { guardian: AccountId(9), proposal: 3 }, Expect::Ok),
        // Timelock ends at 150, expiry at 250.
        (advance(250), Expect::Ok),
        (Command::Execute { proposal: 2 }, Expect::Code(97)),
        (Command::Execute { proposal: 3 }, Expect::Code(104)),
    ];
    run(&mut engine, &table);
}

#[test]
fn safety_net_actions_apply_atomically() {
    let mut engine = setup();
    let reallocate = Action::ReallocateFunds {
        from: "fund:insurance".into(),
        to: "offset:treasury".into(),
        amount: amount("40"),
    };
    let table = vec![
        (deposit(1, USDC, "1000"), Expect::Ok),
        (
            Command::Donate {
                account: AccountId(1),
                layer: "fund:insurance".into(),
                amount: amount("100"),
            },
            Expect::Ok,
        ),
        (
            propose(
                1,
                vec![
                    reallocate.clone(),
                    Action::DeactivateLayer {
                        market: "USDC".into(),
                        layer: "offset:treasury".into(),
                    },
                    Action::PauseMarket { asset: ETH },
                ],
            ),
            Expect::Ok,
        ),
        // A second proposal whose last action fails (ETH is not paused when it runs first).
        (propose(1, vec![reallocate, Action::UnpauseMarket { asset: USDC }]), Expect::Ok),
        (vote(1, 1, true), Expect::Ok),
        (vote(1, 2, true), Expect::Ok),
        (advance(100), Expect::Ok),
        (Command::Queue { proposal: 1 }, Expect::Ok),
        (Command::Queue { proposal: 2 }, Expect::Ok),
        (advance(150), Expect::Ok),
        // USDC is not paused: the whole proposal is refused, the reallocation too.
        (Command::Execute { proposal: 2 }, Expect::Code(84)),
        (Command::Execute { proposal: 1 }, Expect::Ok),
    ];
    run(&mut engine, &table);
    // 100 donated, 40 moved: fund 60, offset 40.
    assert_eq!(engine.state().net.funds[0].balance, amount("60"));
    assert_eq!(engine.state().net.offsets[0], amount("40"));
    assert!(engine.state().net.paused[ETH.index()]);
    let waterfall = &engine.config().waterfalls[0];
    assert_eq!(waterfall.layers, vec!["fund:insurance".to_owned(), "socialize".to_owned()]);
}

#[test]
fn moved_tokens_do_not_vote_twice() {
    let mut engine = setup();
    let table = vec![
        (propose(1, vec![bonus("0.06")]), Expect::Ok),
        (vote(1, 1, true), Expect::Ok),
        // After the snapshot: 1 gives its 100 to 4, who had nothing at the snapshot.
        (transfer(1, 4, "100"), Expect::Ok),
        (vote(4, 1, true), Expect::Code(91)),
        // Delegation after the snapshot does not count either.
        (Command::Delegate { account: AccountId(2), to: AccountId(3) }, Expect::Ok),
        (vote(3, 1, true), Expect::Ok),
        (vote(2, 1, true), Expect::Ok),
        // A new proposal sees 4's 100 and 3's delegated 50 + 30; 2 has none.
        (propose(4, vec![bonus("0.06")]), Expect::Ok),
        (vote(2, 2, true), Expect::Code(91)),
        (vote(3, 2, true), Expect::Ok),
        (vote(1, 2, true), Expect::Code(91)),
    ];
    run(&mut engine, &table);
    let proposals = &engine.state().governance.proposals;
    // Proposal 1: 100 (1) + 30 (3) + 50 (2) = 180; proposal 2: 80 (3).
    assert_eq!(proposals[&1].votes_for, amount("180"));
    assert_eq!(proposals[&2].votes_for, amount("80"));
}

#[derive(Debug, Clone)]
enum Op {
    Transfer(u64, u64, u32),
    Delegate(u64, u64),
    Vote(u64, bool),
    Propose,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..5u64, 1..5u64, 1..120u32).prop_map(|(a, b, n)| Op::Transfer(a, b, n)),
        (1..5u64, 1..5u64).prop_map(|(a, b)| Op::Delegate(a, b)),
        (1..5u64, any::<bool>()).prop_map(|(a, s)| Op::Vote(a, s)),
        Just(Op::Propose),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_token_counts_twice(ops in proptest::collection::vec(op(), 1..40)) {
        let mut engine = setup();
        step(&mut engine, &propose(1, vec![bonus("0.06")])).unwrap();
        for op in ops {
            let proposal = engine.state().governance.next_proposal - 1;
            let command = match op {
                Op::Transfer(a, b, n) => transfer(a, b, &n.to_string()),
                Op::Delegate(a, b) => Command::Delegate { account: AccountId(a), to: AccountId(b) },
                Op::Vote(a, s) => vote(a, proposal, s),
                Op::Propose => propose(1, vec![bonus("0.06")]),
            };
            // `step` checks the invariants (votes ≤ supply at the snapshot, power = supply).
            let _ = step(&mut engine, &command);
        }
        let governance = &engine.state().governance;
        for proposal in governance.proposals.values() {
            let cast = proposal.votes_for.checked_add(proposal.votes_against).unwrap();
            prop_assert!(cast <= proposal.supply);
            // Each voter counted exactly its snapshot power: the sum over voters of
            // power_at(voter) equals what was cast, and the powers at a snapshot sum to supply.
            let counted = proposal.voters.iter().fold(amount("0"), |sum, voter| {
                sum.checked_add(governance.power_at(*voter, proposal.snapshot)).unwrap()
            });
            prop_assert_eq!(counted, cast);
            let all = (1..10u64).fold(amount("0"), |sum, account| {
                sum.checked_add(governance.power_at(AccountId(account), proposal.snapshot)).unwrap()
            });
            prop_assert_eq!(all, proposal.supply);
        }
    }
}
