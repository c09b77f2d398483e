//! The hash chain, outcomes and batch JSON, without a database.

mod common;

use backstop_core::{Command, Rejection};
use backstop_ledger::{
    Batch, ChainHead, Events, Ledger, LedgerError, Outcome, command_digest, entry_hash,
    genesis_hash,
};
use common::{Sealer, commands};

/// Known answers computed outside Rust (Python's hashlib) from the definition in docs/ledger.md.
#[test]
fn hashes_match_known_answers() {
    let genesis = ChainHead::genesis("x");
    assert_eq!(
        hex::encode(genesis.entry_hash),
        "5f5baf96993701fa32ea70c4b38979fa496027b9d71c25681e4bc7f7190ee6fb"
    );
    assert_eq!(genesis.seq, 0);
    assert_eq!(genesis_hash("x"), genesis.entry_hash);
    let command = Command::AdvanceTime { now: 1 };
    assert_eq!(
        hex::encode(command_digest(&command)),
        "415218e837e018ffc705365ac6dd01a3a45d0e903d0693bff3728dc8815a78e6"
    );
    let batch = Batch::seal(
        &genesis,
        vec![command],
        vec![Some("a".to_owned())],
        vec![Outcome::Applied { events: Events::from_values(&[]) }],
        [0x11; 32],
    );
    assert_eq!(batch.seq, 1);
    assert_eq!(batch.prev_hash, genesis.entry_hash);
    assert_eq!(
        hex::encode(batch.entry_hash),
        "1be406b6bf1d38e187318509715d144f7a630f9b1358838ca1766e50dc82fd3c"
    );
    assert_eq!(
        entry_hash(
            1,
            &genesis.entry_hash,
            br#"[{"type":"advance_time","now":1}]"#,
            br#"["a"]"#,
            &[0x11; 32]
        ),
        batch.entry_hash
    );
    assert_eq!(batch.head(), ChainHead { seq: 1, entry_hash: batch.entry_hash });
}

/// Every part the entry hash covers changes it; outcomes are not covered (replay checks them).
#[test]
fn the_entry_hash_covers_seq_link_commands_keys_and_state() {
    let head = ChainHead { seq: 41, entry_hash: [3; 32] };
    let cmds = commands("advance_time now=5\nopen_account account=7");
    let keys = vec![None, Some("k".to_owned())];
    let outcomes = vec![Outcome::Applied { events: Events::from_values(&[]) }; 2];
    let base = Batch::seal(&head, cmds.clone(), keys.clone(), outcomes.clone(), [5; 32]);
    assert_eq!(base.seq, 42);
    assert_eq!(base.computed_entry_hash(), base.entry_hash);
    let variants = [
        Batch::seal(
            &ChainHead { seq: 40, ..head },
            cmds.clone(),
            keys.clone(),
            outcomes.clone(),
            [5; 32],
        ),
        Batch::seal(
            &ChainHead { entry_hash: [4; 32], ..head },
            cmds.clone(),
            keys.clone(),
            outcomes.clone(),
            [5; 32],
        ),
        Batch::seal(&head, cmds[..1].to_vec(), keys[..1].to_vec(), outcomes[..1].to_vec(), [5; 32]),
        Batch::seal(
            &head,
            cmds.clone(),
            vec![None, Some("j".to_owned())],
            outcomes.clone(),
            [5; 32],
        ),
        Batch::seal(&head, cmds.clone(), keys.clone(), outcomes.clone(), [6; 32]),
    ];
    for variant in &variants {
        assert_ne!(variant.entry_hash, base.entry_hash, "{variant:?}");
    }
    let other_outcomes =
        vec![Outcome::Applied { events: Events::from_values(&[serde_json::json!(1)]) }; 2];
    let same = Batch::seal(&head, cmds, keys, other_outcomes, [5; 32]);
    assert_eq!(same.entry_hash, base.entry_hash);
}

#[test]
fn outcomes_carry_events_or_the_rejection() {
    let mut sealer = Sealer::new();
    let [open, again] =
        <[Command; 2]>::try_from(commands("open_account account=3\nopen_account account=3"))
            .expect("two commands");
    let applied = sealer.engine.apply(&open);
    let events = applied.clone().expect("opens");
    assert_eq!(
        Outcome::of(&applied),
        Outcome::Applied {
            events: Events::from_values(
                &events.iter().map(|e| serde_json::to_value(e).expect("json")).collect::<Vec<_>>()
            )
        }
    );
    assert!(Outcome::of(&applied).is_applied());
    let refused = sealer.engine.apply(&again);
    let rejection: Rejection = refused.clone().expect_err("the account exists");
    let outcome = Outcome::of(&refused);
    assert_eq!(
        outcome,
        Outcome::Rejected {
            code: 2,
            message: rejection.to_string(),
            rejection: serde_json::json!({"rejection": "account_exists", "account": 3}),
        }
    );
    assert!(!outcome.is_applied());
    let json = serde_json::to_value(&outcome).expect("json");
    assert_eq!(json["status"], "rejected");
    assert_eq!(json["code"], 2);
    assert_eq!(serde_json::from_value::<Outcome>(json).expect("parses back"), outcome);
}

#[test]
fn batches_show_hashes_as_hex_in_json_and_parse_back() {
    let mut sealer = Sealer::new();
    let batch = sealer
        .seal(commands("advance_time now=9\nopen_account account=1"), vec![Some("x".into()), None]);
    let json = serde_json::to_value(&batch).expect("json");
    assert_eq!(json["seq"], 1);
    assert_eq!(json["entry_hash"], hex::encode(batch.entry_hash));
    assert_eq!(json["prev_hash"], hex::encode(ChainHead::genesis(common::VENUE).entry_hash));
    assert_eq!(json["state_hash"], hex::encode(batch.state_hash));
    assert_eq!(json["keys"], serde_json::json!(["x", null]));
    assert_eq!(json["outcomes"][0]["status"], "applied");
    let back: Batch = serde_json::from_value(json.clone()).expect("parses back");
    assert_eq!(back, batch);
    let mut bad = json;
    bad["entry_hash"] = serde_json::json!("abc");
    assert!(serde_json::from_value::<Batch>(bad).is_err(), "a short hash is refused");
}

#[test]
fn errors_say_what_and_where() {
    let error = LedgerError::HashMismatch {
        seq: 17,
        what: "state hash".to_owned(),
        expected: "aa".to_owned(),
        actual: "bb".to_owned(),
    };
    assert_eq!(error.to_string(), "state hash mismatch at batch 17: expected aa, found bb");
    assert_eq!(error.seq(), Some(17));
    let error = LedgerError::OutcomeMismatch { seq: 3, index: 2 };
    assert!(error.to_string().contains("batch 3, command 2"), "{error}");
    assert_eq!(LedgerError::NotInitialized.seq(), None);
}

#[test]
fn locations_pick_the_backend() {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("backstop_ledger_location_{}.db", std::process::id()));
    let ledger = Ledger::open(&format!("sqlite://{}", path.display())).expect("sqlite URL");
    assert_eq!(ledger.backend(), "sqlite");
    drop(ledger);
    assert!(path.exists(), "the file is created");
    let ledger = Ledger::open(&path.display().to_string()).expect("plain path");
    assert_eq!(ledger.backend(), "sqlite");
    drop(ledger);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    assert!(matches!(Ledger::open(""), Err(LedgerError::Backend { .. })));
    let missing_dir = dir.join("no_such_dir_backstop").join("x.db");
    assert!(matches!(
        Ledger::open(&missing_dir.display().to_string()),
        Err(LedgerError::Backend { .. })
    ));
    // Nothing listens on port 1: a PostgreSQL URL fails with a backend error, not a panic.
    let refused = Ledger::open("postgres://nobody:nothing@127.0.0.1:1/none");
    match refused {
        Err(LedgerError::Backend { context, message }) => {
            assert!(context.contains("PostgreSQL"), "{context}");
            assert!(message.to_lowercase().contains("refused"), "the cause is shown: {message}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}

/// The server's writer thread owns a `Ledger`.
#[test]
fn a_ledger_can_move_to_another_thread() {
    fn send<T: Send>() {}
    send::<Ledger>();
    send::<backstop_ledger::Recovered>();
}

/// Applied events are written once, in the journal's format since the first release: each event
/// as a JSON object with its keys in sorted order (the engine declares `event` first), compact.
/// Text in that format reads back as the same outcome; text in another layout (the engine's
/// field order, spaces) reads back as the same events and is written canonically again.
#[test]
fn applied_events_keep_the_journal_text_format() {
    let mut sealer = Sealer::new();
    let [open] = <[Command; 1]>::try_from(commands("open_account account=3")).expect("one command");
    let outcome = Outcome::of(&sealer.engine.apply(&open));
    let stored = r#"{"status":"applied","events":[{"account":3,"event":"account_opened","kind":"regular"}]}"#;
    assert_eq!(serde_json::to_string(&outcome).expect("json"), stored);
    let Outcome::Applied { events } = &outcome else { panic!("applied: {outcome:?}") };
    assert_eq!(events.json(), r#"[{"account":3,"event":"account_opened","kind":"regular"}]"#);
    assert_eq!(serde_json::from_str::<Outcome>(stored).expect("parses"), outcome);
    let other = r#"{"status":"applied","events":[ {"event":"account_opened","kind":"regular","account":3} ]}"#;
    let read: Outcome = serde_json::from_str(other).expect("parses");
    assert_eq!(read, outcome);
    assert_eq!(serde_json::to_string(&read).expect("json"), stored);
    let different = stored.replace("\"account\":3", "\"account\":4");
    assert_ne!(serde_json::from_str::<Outcome>(&different).expect("parses"), outcome);
    for bad in [
        r#"{"status":"applied"}"#,
        r#"{"status":"applied","events":{"account":3}}"#,
        r#"{"status":"rejected","code":2,"message":"m"}"#,
        r#"{"status":"done","events":[]}"#,
    ] {
        assert!(serde_json::from_str::<Outcome>(bad).is_err(), "{bad}");
    }
}
