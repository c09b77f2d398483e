//! Exploit incidents and claims (docs/claims.md): declaring, filing (cap), assessing, paying from
//! a fund and a cover (pro rata when short, dust left in the layers), vesting, recoveries back to
//! the layers in reverse order then to claimants, every rejection 110–123 (state hash unchanged),
//! config validation, and the end-to-end `examples/exploit-claims.script`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use backstop_core::script::parse_script;
use backstop_core::{AccountId, AssetId, Command, Engine, MarketRef, VenueConfig};
use backstop_money::Amount;
use common::*;

const USDC: AssetId = AssetId(0);
const MARKET: MarketRef = MarketRef::Lending(USDC);
const EXAMPLE_TOML: &str = include_str!("../../../examples/exploit-claims.toml");
const EXAMPLE_SCRIPT: &str = include_str!("../../../examples/exploit-claims.script");

/// The example venue with `[claims]` lines replaced (`from` → `to`).
fn venue_with(from: &str, to: &str) -> Engine {
    assert!(EXAMPLE_TOML.contains(from), "{from}");
    engine(&EXAMPLE_TOML.replace(from, to))
}

/// Applies every line of a script through `step` (audit + hash checks); all must apply.
fn play(engine: &mut Engine, script: &str) {
    let lines = parse_script(script, engine.config()).unwrap();
    for line in lines {
        if let Err(rejection) = step(engine, &line.command) {
            panic!("line {}: {:?} rejected: {rejection}", line.line, line.command);
        }
    }
}

/// The example script up to (not including) its first line starting with `stop_at`.
fn example_until(stop_at: &str) -> String {
    let mut out = String::new();
    for line in EXAMPLE_SCRIPT.lines() {
        if line.starts_with(stop_at) {
            return out;
        }
        out.push_str(line);
        out.push('\n');
    }
    panic!("{stop_at} not in the example");
}

fn balance(engine: &Engine, account: u64) -> Amount {
    engine.account(AccountId(account)).unwrap().holdings[USDC.index()].balance
}

fn fund(engine: &Engine) -> Amount {
    engine.state().net.funds[0].balance
}

fn external(engine: &Engine) -> Amount {
    engine.state().external_net[USDC.index()]
}

fn code(engine: &mut Engine, command: &Command) -> u16 {
    step(engine, command).unwrap_err().code()
}

#[test]
fn exploit_claims_example_end_to_end() {
    let config = VenueConfig::from_toml_str(EXAMPLE_TOML).unwrap();
    let mut engine = Engine::new(config).unwrap();
    play(&mut engine, &example_until("pay_claims"));
    // Deposits 10,000 + 6,000 + 3,000 + 2,110 = 21,110; premium 1,000 × 0.01 × 1 year = 10 leaves
    // the venue: 21,100; the exploit takes 5,000 out: 16,100.
    assert_eq!(external(&engine), amount("16100"));
    assert_eq!(fund(&engine), amount("2100"));
    assert_eq!(engine.state().lending[0].as_ref().unwrap().deficit, amount("5000"));
    let claims = &engine.state().claims;
    let incident = &claims.incidents[&1];
    assert_eq!(
        (incident.market, incident.filing_end, incident.assessment_end),
        (MARKET, 88_400, 174_800)
    );
    // Claim 2 asked 6,000, capped at 5,000.
    let recorded: Vec<(Amount, Amount)> =
        claims.claims.values().map(|claim| (claim.amount, claim.approved)).collect();
    assert_eq!(
        recorded,
        vec![
            (amount("3000"), amount("2000")),
            (amount("5000"), amount("4000")),
            (amount("1000"), Amount::ZERO)
        ]
    );

    // Payment: approved 2,000 + 4,000 = 6,000; capacity fund 2,100 − 100 = 2,000 + cover 1,000 =
    // 3,000 → each claim gets approved × 3,000 / 6,000: 1,000 and 2,000 (exact, no dust).
    play(&mut engine, "pay_claims incident=1");
    assert_eq!(balance(&engine, 1), amount("1000"));
    assert_eq!(balance(&engine, 2), amount("2000"));
    assert_eq!(balance(&engine, 3), Amount::ZERO);
    assert_eq!(fund(&engine), amount("100"));
    assert_eq!(engine.state().net.covers[0].paid, amount("1000"));
    // The cover's 1,000 came from outside: 16,100 + 1,000.
    assert_eq!(external(&engine), amount("17100"));
    let paid: Vec<(String, Amount)> = engine.state().claims.incidents[&1]
        .payments
        .iter()
        .map(|payment| (payment.layer.clone(), payment.paid))
        .collect();
    assert_eq!(
        paid,
        vec![
            ("fund:insurance".to_owned(), amount("2000")),
            ("cover:nexus".to_owned(), amount("1000"))
        ]
    );

    // Recovery 1,500: reverse order — the cover (paid last) gets its 1,000 back, out of the venue
    // to the guarantor; the fund 500 (100 → 600). External: 17,100 + 1,500 − 1,000 = 17,600.
    play(&mut engine, "recover_incident incident=1 amount=1500");
    assert_eq!(engine.state().net.covers[0].paid, Amount::ZERO);
    assert_eq!(fund(&engine), amount("600"));
    assert_eq!(external(&engine), amount("17600"));
    assert_eq!(balance(&engine, 1), amount("1000"));

    // Recovery 4,000: the fund's remaining 2,000 − 500 = 1,500 (600 → 2,100); 2,500 left for the
    // claimants still short: claim 1 by 2,000 − 1,000 = 1,000, claim 2 by 4,000 − 2,000 = 2,000
    // (total 3,000). Claim 1: 1,000 × 2,500 / 3,000 = 833.333333|33 → 833.333333; claim 2:
    // 2,000 × 2,500 / 3,000 = 1,666.666666|67 → 1,666.666666 (down to USDC's 6 decimals).
    // Dust 2,500 − 833.333333 − 1,666.666666 = 0.000001 to fees. External 17,600 + 4,000.
    play(&mut engine, "recover_incident incident=1 amount=4000");
    assert_eq!(fund(&engine), amount("2100"));
    assert_eq!(balance(&engine, 1), amount("1833.333333"));
    assert_eq!(balance(&engine, 2), amount("3666.666666"));
    assert_eq!(balance(&engine, 3), Amount::ZERO);
    assert_eq!(engine.state().fees[USDC.index()], amount("0.000001"));
    assert_eq!(external(&engine), amount("21600"));
    let claims = &engine.state().claims;
    assert_eq!(claims.claims[&1].recovered, amount("833.333333"));
    assert_eq!(claims.claims[&2].recovered, amount("1666.666666"));
    let recovered: Vec<Amount> =
        claims.incidents[&1].payments.iter().map(|payment| payment.recovered).collect();
    assert_eq!(recovered, vec![amount("2000"), amount("1000")]);
    assert_eq!(claims.incidents[&1].recovered, amount("5500"));

    // The whole script as `backstop exec` runs it ends in the same state.
    let mut whole = Engine::new(VenueConfig::from_toml_str(EXAMPLE_TOML).unwrap()).unwrap();
    play(&mut whole, EXAMPLE_SCRIPT);
    assert_eq!(whole.state_hash(), engine.state_hash());
}

#[test]
fn pro_rata_payout_leaves_dust_in_the_last_layer() {
    let mut engine = Engine::new(VenueConfig::from_toml_str(EXAMPLE_TOML).unwrap()).unwrap();
    let script = example_until("pay_claims")
        .replace("approved_amount=2000", "approved_amount=2500")
        .replace("approve=false", "approve=false approved_amount=7");
    play(&mut engine, &script);
    play(&mut engine, "pay_claims incident=1");
    // Approved 2,500 + 4,000 = 6,500, capacity 3,000. Claim 1: 2,500 × 3,000 / 6,500 =
    // 1,153.846153|846 → 1,153.846153; claim 2: 4,000 × 3,000 / 6,500 = 1,846.153846|15 →
    // 1,846.153846. Σ 2,999.999999: the fund pays 2,000, the cover 999.999999 (0.000001 stays).
    assert_eq!(balance(&engine, 1), amount("1153.846153"));
    assert_eq!(balance(&engine, 2), amount("1846.153846"));
    assert_eq!(fund(&engine), amount("100"));
    assert_eq!(engine.state().net.covers[0].paid, amount("999.999999"));
    assert_eq!(external(&engine), amount("17099.999999"));
    // A rejection's amount is ignored: claim 3 approved nothing.
    assert_eq!(engine.state().claims.claims[&3].approved, Amount::ZERO);
}

#[test]
fn full_payout_when_layers_suffice_and_recap_is_skipped() {
    let mut engine = venue_with(
        r#"payout_order = ["fund:insurance", "cover:nexus"]"#,
        r#"payout_order = ["recap", "cover:nexus", "fund:insurance"]"#,
    );
    let script = example_until("pay_claims")
        .replace("approved_amount=2000", "approved_amount=500")
        .replace("approved_amount=4000", "approved_amount=1000");
    play(&mut engine, &script);
    play(&mut engine, "pay_claims incident=1");
    // Approved 1,500 ≤ capacity: paid in full. recap pays nothing; the cover pays 1,000 (its
    // limit), the fund 500 (2,100 → 1,600).
    assert_eq!(balance(&engine, 1), amount("500"));
    assert_eq!(balance(&engine, 2), amount("1000"));
    assert_eq!(engine.state().net.covers[0].paid, amount("1000"));
    assert_eq!(fund(&engine), amount("1600"));
    let layers: Vec<&str> = engine.state().claims.incidents[&1]
        .payments
        .iter()
        .map(|payment| payment.layer.as_str())
        .collect();
    assert_eq!(layers, vec!["cover:nexus", "fund:insurance"]);
    // A recovery of 2,000: the fund back 500, then the cover 1,000 (out), then nobody is short:
    // 500 to fees.
    play(&mut engine, "recover_incident incident=1 amount=2000");
    assert_eq!(fund(&engine), amount("2100"));
    assert_eq!(engine.state().net.covers[0].paid, Amount::ZERO);
    assert_eq!(engine.state().fees[USDC.index()], amount("500"));
    // 16,100 + 1,000 (cover) + 2,000 − 1,000 (clawback) = 18,100.
    assert_eq!(external(&engine), amount("18100"));
}

#[test]
fn vesting_pays_linearly() {
    let mut engine = venue_with("vesting_secs = 0", "vesting_secs = 1000");
    play(&mut engine, &example_until("recover_incident"));
    // Granted 1,000 and 2,000, held: nothing credited yet; the held grants count in I1.
    assert_eq!(balance(&engine, 1), Amount::ZERO);
    assert_eq!(engine.state().claims.held(USDC), amount("3000"));
    let vested =
        |account: u64, claim: u64| Command::ClaimVested { account: AccountId(account), claim };
    // Nothing vested at the grant time.
    assert_eq!(code(&mut engine, &vested(1, 1)), 122);
    assert_eq!(code(&mut engine, &vested(2, 1)), 121);
    play(&mut engine, "advance_time now=175100");
    // 300 of 1,000 seconds: 1,000 × 300 / 1,000 = 300.
    play(&mut engine, "claim_vested account=1 claim=1");
    assert_eq!(balance(&engine, 1), amount("300"));
    assert_eq!(code(&mut engine, &vested(1, 1)), 122);
    play(&mut engine, "advance_time now=175133");
    // 333 s: 2,000 × 333 / 1,000 = 666.
    play(&mut engine, "claim_vested account=2 claim=2");
    assert_eq!(balance(&engine, 2), amount("666"));
    play(&mut engine, "advance_time now=200000\nclaim_vested account=1 claim=1");
    assert_eq!(balance(&engine, 1), amount("1000"));
    assert_eq!(engine.state().claims.held(USDC), amount("1334"));
    // Recoveries are credited at once even under vesting: 1,500 → cover 1,000, fund 500.
    play(&mut engine, "recover_incident incident=1 amount=1500");
    assert_eq!(fund(&engine), amount("600"));
}

#[test]
fn every_rejection_leaves_the_state_unchanged() {
    let mut engine = Engine::new(VenueConfig::from_toml_str(EXAMPLE_TOML).unwrap()).unwrap();
    play(&mut engine, &example_until("declare_incident"));
    let declare = |declarer: u64, start: u64, end: u64| Command::DeclareIncident {
        declarer: AccountId(declarer),
        market: MARKET,
        loss_start: start,
        loss_end: end,
    };
    let file = |account: u64, incident: u64, value: &str| Command::FileClaim {
        account: AccountId(account),
        incident,
        amount: amount(value),
        evidence: "tx".to_owned(),
    };
    let assess = |assessor: u64, claim: u64, approve: bool, value: &str| Command::AssessClaim {
        assessor: AccountId(assessor),
        claim,
        approve,
        approved_amount: amount(value),
    };
    let pay = |incident: u64| Command::PayClaims { incident };
    let recover =
        |incident: u64, value: &str| Command::RecoverIncident { incident, amount: amount(value) };
    // 111: account 1 is no assessor; 112: reversed window, and a window ending after now (2,000).
    assert_eq!(code(&mut engine, &declare(1, 1000, 1000)), 111);
    assert_eq!(code(&mut engine, &declare(9, 1500, 1000)), 112);
    assert_eq!(code(&mut engine, &declare(9, 1000, 2001)), 112);
    // 113: unknown incident (for filing, paying, recovering).
    assert_eq!(code(&mut engine, &file(1, 1, "10")), 113);
    assert_eq!(code(&mut engine, &pay(1)), 113);
    assert_eq!(code(&mut engine, &recover(1, "10")), 113);
    play(&mut engine, "declare_incident declarer=9 market=USDC loss_start=1000 loss_end=2000");
    // 1: unknown claimant; 6: non-positive amount; 7: finer than USDC's 6 decimals.
    assert_eq!(code(&mut engine, &file(77, 1, "10")), 1);
    assert_eq!(code(&mut engine, &file(1, 1, "0")), 6);
    assert_eq!(code(&mut engine, &file(1, 1, "0.0000001")), 7);
    play(&mut engine, "file_claim account=1 incident=1 amount=100 evidence=x");
    // 115: unknown claim; 111: not an assessor; 118: approved above the 100 claimed, or negative.
    assert_eq!(code(&mut engine, &assess(9, 2, true, "1")), 115);
    assert_eq!(code(&mut engine, &assess(1, 1, true, "1")), 111);
    assert_eq!(code(&mut engine, &assess(9, 1, true, "100.000001")), 118);
    assert_eq!(code(&mut engine, &assess(9, 1, true, "-1")), 118);
    play(&mut engine, "assess_claim assessor=9 claim=1 approve=true approved_amount=100");
    // 117: assessed once only.
    assert_eq!(code(&mut engine, &assess(9, 1, true, "50")), 117);
    // 119: not before the assessment deadline (2,000 + 172,800 = 174,800); 123: recovery before
    // payment.
    assert_eq!(code(&mut engine, &pay(1)), 119);
    assert_eq!(code(&mut engine, &recover(1, "10")), 123);
    // 114: filing closes at 88,400.
    play(&mut engine, "advance_time now=88400");
    assert_eq!(code(&mut engine, &file(2, 1, "10")), 114);
    // 116: assessment closes at 174,800.
    play(&mut engine, "advance_time now=174800");
    assert_eq!(code(&mut engine, &assess(9, 1, true, "50")), 116);
    play(&mut engine, "pay_claims incident=1");
    assert_eq!(balance(&engine, 1), amount("100"));
    // 120: paid once; 121: not the claimant.
    assert_eq!(code(&mut engine, &pay(1)), 120);
    assert_eq!(code(&mut engine, &Command::ClaimVested { account: AccountId(2), claim: 1 }), 121);
    // 122: immediate payout — nothing left to vest.
    assert_eq!(code(&mut engine, &Command::ClaimVested { account: AccountId(1), claim: 1 }), 122);
    // 110: a venue without [claims].
    let bare = EXAMPLE_TOML.split("[claims]").next().unwrap();
    let mut bare = common::engine(bare);
    assert_eq!(code(&mut bare, &pay(1)), 110);
}

#[test]
fn config_validation() {
    let bad = |from: &str, to: &str, field: &str| {
        let error = VenueConfig::from_toml_str(&EXAMPLE_TOML.replace(from, to)).unwrap_err();
        assert_eq!(error.field, field, "{error:?}");
    };
    bad("assessors = [9]", "assessors = []", "claims.assessors");
    bad("filing_secs = 86400", "filing_secs = 0", "claims.filing_secs");
    bad("assessment_secs = 86400", "assessment_secs = 0", "claims.assessment_secs");
    bad(r#"claim_cap = "5000""#, r#"claim_cap = "0""#, "claims.claim_cap");
    bad(r#""cover:nexus"]"#, r#""cover:other"]"#, "claims.payout_order[1]");
    bad(r#""cover:nexus"]"#, r#""stakers:x"]"#, "claims.payout_order[1]");
    bad(r#""cover:nexus"]"#, r#""fund:insurance"]"#, "claims.payout_order[1]");
    // The example itself is valid, with and without recap listed.
    VenueConfig::from_toml_str(
        &EXAMPLE_TOML.replace(r#""cover:nexus"]"#, r#""cover:nexus", "recap"]"#),
    )
    .unwrap();
}

#[test]
fn the_governance_guardian_may_declare_but_not_assess() {
    let toml = EXAMPLE_TOML
        .replace("[[lending]]", "[[asset]]\nsymbol = \"GOV\"\ndecimals = 18\n\n[[lending]]")
        + r#"
[governance]
token = "GOV"
guardian = 7
quorum = "0.1"
approval = "0.5"
voting_secs = 100
timelock_secs = 100
expiry_secs = 100
"#;
    let mut engine = common::engine(&toml);
    play(&mut engine, &example_until("declare_incident"));
    play(&mut engine, "open_account account=7");
    // Account 7 is the guardian: it declares; assessing stays with the assessors (111).
    play(&mut engine, "declare_incident declarer=7 market=USDC loss_start=1000 loss_end=1000");
    assert_eq!(engine.state().claims.incidents[&1].declarer, AccountId(7));
    play(&mut engine, "file_claim account=1 incident=1 amount=10 evidence=x");
    let assess = Command::AssessClaim {
        assessor: AccountId(7),
        claim: 1,
        approve: true,
        approved_amount: amount("10"),
    };
    assert_eq!(code(&mut engine, &assess), 111);
    // Without the guardian role (the example venue), account 7 cannot declare.
    let mut plain = Engine::new(VenueConfig::from_toml_str(EXAMPLE_TOML).unwrap()).unwrap();
    play(&mut plain, &example_until("declare_incident"));
    let declare = Command::DeclareIncident {
        declarer: AccountId(7),
        market: MARKET,
        loss_start: 1000,
        loss_end: 1000,
    };
    assert_eq!(code(&mut plain, &declare), 111);
}
