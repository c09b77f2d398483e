//! Governance actions that reach the claims, recap and cover modules: `declare_incident` by
//! vote, `assess_claim` by vote (before the assessment deadline), `pay_claims`, `mint_and_auction` (a recap auction for
//! exactly the uncovered deficit, even without a `recap` layer) and `add_cover` (a new cover
//! inserted into a waterfall that a later deficit reaches). Every command goes through
//! `common::step` (audit, hash unchanged on rejection).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::governance::Action;
use backstop_core::script::parse_script;
use backstop_core::{AccountId, AssetId, Command, Engine, MarketRef};
use backstop_money::Amount;
use common::{amount, engine, step};

const USDC: AssetId = AssetId(0);
const MARKET: MarketRef = MarketRef::Lending(USDC);
/// `IncidentAlreadyPaid`.
const CODE_ALREADY_PAID: u16 = 120;
const EXAMPLE_TOML: &str = include_str!("../../../examples/exploit-claims.toml");

/// The exploit-claims venue plus a GOV token, `[governance]` (account 1 is the only holder,
/// guardian 8), and optionally `[recap]` and a USDC waterfall.
fn venue(recap: bool, waterfall: bool) -> Engine {
    let mut toml = EXAMPLE_TOML.replace(
        "[[asset]]\nsymbol = \"USDC\"\ndecimals = 6\n",
        "[[asset]]\nsymbol = \"USDC\"\ndecimals = 6\n[[asset]]\nsymbol = \"GOV\"\ndecimals = 18\n",
    );
    assert!(toml.contains("symbol = \"GOV\""));
    toml.push_str(
        r#"
[governance]
token = "GOV"
guardian = 8
quorum = "0.2"
approval = "0.5"
voting_secs = 100
timelock_secs = 50
expiry_secs = 1000000
proposal_threshold = "10"
"#,
    );
    if recap {
        toml.push_str(
            "[recap]\ntoken = \"GOV\"\nlot = \"1000\"\nbid = \"10000\"\nrestart_secs = 3600\n",
        );
    }
    if waterfall {
        toml.push_str(
            "[[waterfall]]\nmarket = \"USDC\"\nlayers = [\"fund:insurance\", \"socialize\"]\n",
        );
    }
    engine(&toml)
}

fn play(engine: &mut Engine, script: &str) {
    for line in parse_script(script, engine.config()).unwrap() {
        if let Err(rejection) = step(engine, &line.command) {
            panic!("line {}: {:?} rejected: {rejection}", line.line, line.command);
        }
    }
}

/// The one command of a script line, expected to be rejected with `code`.
fn rejects(engine: &mut Engine, line: &str, code: u16) {
    let command = parse_script(line, engine.config()).unwrap().remove(0).command;
    assert_eq!(step(engine, &command).unwrap_err().code(), code, "{line}");
}

/// Accounts 1 (100 GOV), 2, 3, 4 (lenders and claimants), 8 (guardian), 9 (assessor); the
/// fund holds 2,110 USDC.
const SETUP: &str = "
set_price asset=USDC price=1
set_price asset=GOV price=1
open_account account=1
open_account account=2
open_account account=3
open_account account=4
open_account account=8
open_account account=9
deposit account=1 asset=GOV amount=100
deposit account=2 asset=USDC amount=10000
supply account=2 asset=USDC amount=10000
deposit account=3 asset=USDC amount=6000
supply account=3 asset=USDC amount=6000
deposit account=4 asset=USDC amount=2110
donate account=4 layer=fund:insurance amount=2110
";

fn usdc(engine: &Engine, account: u64) -> Amount {
    engine.account(AccountId(account)).unwrap().holdings[USDC.index()].balance
}

/// Votes proposal `id` through at `now` (created at `now`): queue at now + 100, executable
/// from now + 150.
fn pass(engine: &mut Engine, id: u64, now: u64) {
    play(
        engine,
        &format!(
            "vote voter=1 proposal={id} support=true\nadvance_time now={}\nqueue proposal={id}\n",
            now + 100
        ),
    );
}

#[test]
fn governance_assesses_then_pays_claims_and_rejects_a_late_assessment() {
    let mut engine = venue(false, false);
    play(&mut engine, SETUP);
    // Premium 1,000 × 0.01 × 1 year = 10: fund 2,110 → 2,100. Exploit 5,000 at t=1,000; the
    // incident at t=2,000: filing until 88,400, assessment until 174,800.
    play(
        &mut engine,
        "buy_cover cover=nexus fund=insurance term_secs=31536000
advance_time now=1000
exploit asset=USDC amount=5000
advance_time now=2000
declare_incident declarer=9 market=USDC loss_start=1000 loss_end=1000
file_claim account=2 incident=1 amount=3000 evidence=0xa
file_claim account=3 incident=1 amount=6000 evidence=0xb
file_claim account=4 incident=1 amount=500 evidence=0xc
advance_time now=90000
",
    );
    assert_eq!(engine.state().claims.incidents[&1].assessment_end, 174_800);
    // Proposal 1 (t=90,000): assess claims 1 and 2 by vote (2,000 and 4,000; claim 2 was capped
    // at 5,000). Executable from 90,150 < 174,800.
    let assess = |claim, approved: &str| Action::AssessClaim {
        claim,
        approve: true,
        approved_amount: amount(approved),
    };
    step(
        &mut engine,
        &Command::Propose {
            proposer: AccountId(1),
            actions: vec![assess(1, "2000"), assess(2, "4000")],
        },
    )
    .unwrap();
    pass(&mut engine, 1, 90_000);
    play(&mut engine, "advance_time now=90150\nexecute proposal=1");
    let claims = &engine.state().claims.claims;
    assert_eq!((claims[&1].assessed, claims[&1].approved), (true, amount("2000")));
    assert_eq!((claims[&2].assessed, claims[&2].approved), (true, amount("4000")));
    assert!(!claims[&3].assessed);
    // Proposals 2 (pay, script syntax), 3 (assess claim 3 late) and 4 (pay then assess claim 3:
    // atomic) created at 90,150, queued at 90,250, executable from 90,300.
    play(
        &mut engine,
        "propose proposer=1 action=pay_claims incident=1
propose proposer=1 action=assess_claim claim=3 approve=true approved_amount=500
vote voter=1 proposal=2 support=true
vote voter=1 proposal=3 support=true",
    );
    step(
        &mut engine,
        &Command::Propose {
            proposer: AccountId(1),
            actions: vec![Action::PayClaims { incident: 1 }, assess(3, "500")],
        },
    )
    .unwrap();
    play(
        &mut engine,
        "vote voter=1 proposal=4 support=true
advance_time now=90250
queue proposal=2
queue proposal=3
queue proposal=4
advance_time now=90300",
    );
    // Paying before the assessment deadline: 119 (assessment not over).
    rejects(&mut engine, "execute proposal=2", 119);
    play(&mut engine, "advance_time now=174800");
    // After the deadline the vote can no longer assess: 116, alone or after a payment in the
    // same proposal (the payment is rolled back: the hash is unchanged, checked by `step`).
    rejects(&mut engine, "execute proposal=3", 116);
    rejects(&mut engine, "execute proposal=4", 116);
    assert!(!engine.state().claims.incidents[&1].paid);
    // Approved 6,000; capacity: fund 2,100 − 100 = 2,000 + cover 1,000 = 3,000, half of it:
    // claim 1 gets 2,000 × 3,000 / 6,000 = 1,000, claim 2 gets 2,000; claim 3 (unassessed) 0.
    play(&mut engine, "execute proposal=2");
    assert_eq!(usdc(&engine, 2), amount("1000"));
    assert_eq!(usdc(&engine, 3), amount("2000"));
    assert_eq!(usdc(&engine, 4), Amount::ZERO);
    assert_eq!(engine.state().net.funds[0].balance, amount("100"));
    assert_eq!(engine.state().net.covers[0].paid, amount("1000"));
    assert!(engine.state().claims.incidents[&1].paid);
    // The direct command stays permissionless, but an incident is paid once (already paid).
    rejects(&mut engine, "pay_claims incident=1", CODE_ALREADY_PAID);
}

#[test]
fn governance_declares_an_incident_that_claims_are_filed_against_and_assessed() {
    let mut engine = venue(false, false);
    play(&mut engine, SETUP);
    // An inverted window is refused at proposal time (112 `bad_loss_window`).
    rejects(
        &mut engine,
        "propose proposer=1 action=declare_incident market=USDC loss_start=5 loss_end=4",
        112,
    );
    // Exploit 5,000 at t=1,000. Proposal 1 at t=2,000 declares the incident (no declarer role:
    // account 1 is not an assessor); proposal 2 names a window ending after its execution.
    play(
        &mut engine,
        "advance_time now=1000
exploit asset=USDC amount=5000
advance_time now=2000
propose proposer=1 action=declare_incident market=USDC loss_start=1000 loss_end=1000
propose proposer=1 action=declare_incident market=USDC loss_start=1000 loss_end=3000
vote voter=1 proposal=1 support=true
vote voter=1 proposal=2 support=true
advance_time now=2100
queue proposal=1
queue proposal=2
advance_time now=2150",
    );
    // Executed at 2,150: loss_end 3,000 > now → 112, nothing declared.
    rejects(&mut engine, "execute proposal=2", 112);
    assert_eq!(engine.state().claims.last_incident, 0);
    play(&mut engine, "execute proposal=1");
    // Declared at 2,150 by the proposer: filing until 2,150 + 86,400 = 88,550, assessment until
    // 88,550 + 86,400 = 174,950.
    let incident = &engine.state().claims.incidents[&1];
    assert_eq!((incident.market, incident.declarer), (MARKET, AccountId(1)));
    assert_eq!((incident.loss_start, incident.loss_end, incident.declared_at), (1000, 1000, 2150));
    assert_eq!((incident.filing_end, incident.assessment_end), (88_550, 174_950));
    // Claims 3,000 and 6,000 (capped at 5,000); the assessor approves 2,000 and 4,000.
    play(
        &mut engine,
        "file_claim account=2 incident=1 amount=3000 evidence=0xa
file_claim account=3 incident=1 amount=6000 evidence=0xb
advance_time now=88550
assess_claim assessor=9 claim=1 approve=true approved_amount=2000
assess_claim assessor=9 claim=2 approve=true approved_amount=4000
advance_time now=174950
pay_claims incident=1",
    );
    let claims = &engine.state().claims.claims;
    assert_eq!(claims[&2].amount, amount("5000"));
    assert_eq!((claims[&1].approved, claims[&2].approved), (amount("2000"), amount("4000")));
    // No cover bought: capacity is the fund's 2,110 − 100 = 2,010 for 6,000 approved:
    // 2,000 × 2,010 / 6,000 = 670 and 4,000 × 2,010 / 6,000 = 1,340; the fund keeps 100.
    assert_eq!(usdc(&engine, 2), amount("670"));
    assert_eq!(usdc(&engine, 3), amount("1340"));
    assert_eq!(engine.state().net.funds[0].balance, amount("100"));
}

#[test]
fn mint_and_auction_opens_an_auction_for_exactly_the_deficit() {
    let mut engine = venue(true, false);
    play(&mut engine, SETUP);
    // No waterfall: the 5,000 exploit stays as the market's deficit.
    play(
        &mut engine,
        "exploit asset=USDC amount=5000\npropose proposer=1 action=mint_and_auction market=USDC",
    );
    assert_eq!(engine.state().lending[0].as_ref().unwrap().deficit, amount("5000"));
    pass(&mut engine, 1, 0);
    play(&mut engine, "advance_time now=150\nexecute proposal=1");
    // One auction: bid min(10,000, 5,000) = 5,000 (the whole deficit); a partial lot
    // 1,000 × 5,000 / 10,000 = 500 GOV. The deficit moves to pending.
    let auctions = &engine.state().net.recap_auctions;
    assert_eq!(auctions.len(), 1);
    let auction = auctions.values().next().unwrap();
    assert_eq!((auction.market, auction.bid, auction.lot), (MARKET, amount("5000"), amount("500")));
    assert_eq!(engine.state().lending[0].as_ref().unwrap().deficit, Amount::ZERO);
}

#[test]
fn mint_and_auction_needs_a_recap_section_and_a_deficit() {
    let mut engine = venue(false, false);
    play(&mut engine, SETUP);
    // No [recap]: refused at proposal time with 106.
    rejects(&mut engine, "propose proposer=1 action=mint_and_auction market=USDC", 106);
    let mut engine = venue(true, false);
    play(&mut engine, SETUP);
    // With [recap] but no deficit: the proposal passes, its execution is refused (105).
    play(&mut engine, "propose proposer=1 action=mint_and_auction market=USDC");
    pass(&mut engine, 1, 0);
    play(&mut engine, "advance_time now=150");
    rejects(&mut engine, "execute proposal=1", 105);
}

#[test]
fn add_cover_enters_the_waterfall_and_a_later_deficit_claims_on_it() {
    let mut engine = venue(false, true);
    play(&mut engine, SETUP);
    play(
        &mut engine,
        "propose proposer=1 action=add_cover name=extra asset=USDC limit=3000 premium_rate=0.01 market=USDC position=1",
    );
    pass(&mut engine, 1, 0);
    play(&mut engine, "advance_time now=150\nexecute proposal=1");
    let waterfall = engine.config().waterfalls.iter().find(|w| w.market == "USDC").unwrap();
    assert_eq!(waterfall.layers, vec!["fund:insurance", "cover:extra", "socialize"]);
    assert_eq!(engine.config().covers[1].name, "extra");
    assert_eq!(engine.state().net.covers.len(), 2);
    // A year of the new cover: premium 3,000 × 0.01 = 30, fund 2,110 → 2,080.
    play(&mut engine, "buy_cover cover=extra fund=insurance term_secs=31536000");
    assert_eq!(engine.state().net.funds[0].balance, amount("2080"));
    // Exploit 5,000: the fund pays 2,080 − 100 = 1,980; 3,020 reach the cover, which opens a
    // claim for its limit 3,000; 20 are socialised.
    play(&mut engine, "exploit asset=USDC amount=5000");
    assert_eq!(engine.state().net.funds[0].balance, amount("100"));
    let claims: Vec<(usize, Amount)> =
        engine.state().net.claims.values().map(|claim| (claim.cover, claim.amount)).collect();
    assert_eq!(claims, vec![(1, amount("3000"))]);
    // Position past the end (3 layers → at most 3): refused at execution (105).
    play(
        &mut engine,
        "propose proposer=1 action=add_cover name=late asset=USDC limit=1 market=USDC position=4",
    );
    pass(&mut engine, 2, 150);
    play(&mut engine, "advance_time now=300");
    rejects(&mut engine, "execute proposal=2", 105);
}

#[test]
fn governance_example_end_to_end() {
    use backstop_core::governance::ProposalStatus;
    let mut engine = engine(include_str!("../../../examples/governance.toml"));
    play(&mut engine, include_str!("../../../examples/governance.script"));
    let state = &engine.state().governance;
    let first = &state.proposals[&1];
    // Snapshot supply 1,000; 2 voted 300 + 200 delegated by 3 = 500 for; 4 voted its snapshot 100
    // against (it had already sent the tokens to 1).
    assert_eq!(first.supply, amount("1000"));
    assert_eq!((first.votes_for, first.votes_against), (amount("500"), amount("100")));
    assert_eq!((first.status, first.eta), (ProposalStatus::Executed, 260_200));
    // Proposal 2: 1's 400 + 100 received = 500 for; queued with eta 346,600, then vetoed.
    let second = &state.proposals[&2];
    assert_eq!(second.votes_for, amount("500"));
    assert_eq!((second.status, second.eta), (ProposalStatus::Vetoed, 346_600));
    // The parameter: 0.05 → 0.08; the vetoed floor stays 100.
    let eth = engine.config().lending.iter().find(|market| market.asset == "ETH").unwrap();
    assert_eq!(eth.liquidation_bonus, "0.08".parse().unwrap());
    assert_eq!(engine.config().funds[0].floor, amount("100"));
    // Current power: 1 holds 500, 2 has 300 + 200 delegated, 4 nothing.
    assert_eq!(state.power[&AccountId(1)], amount("500"));
    assert_eq!(state.power[&AccountId(2)], amount("500"));
    assert_eq!(state.power.get(&AccountId(4)).copied().unwrap_or_default(), Amount::ZERO);
}
