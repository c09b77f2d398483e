//! The journal's behaviours, each written once and run on SQLite and on PostgreSQL (the latter
//! ignored unless asked for; it needs `BACKSTOP_TEST_PG`).

mod common;

use backstop_core::{Command, Engine};
use backstop_ledger::{
    ApiKeyRecord, Batch, ChainHead, KeyUse, Ledger, LedgerError, MAX_SEQ, Outcome, command_digest,
};
use common::{Db, Sealer, VENUE, commands, script_batches, venue_engine};
use sha2::{Digest, Sha256};
use std::time::Duration;

for_each_backend!(
    initialize_is_idempotent_and_refuses_another_venue,
    appended_batches_read_back_in_order,
    stored_entry_hashes_match_a_hand_computation,
    refused_appends_write_nothing,
    recovery_without_snapshot_equals_an_in_memory_run,
    recovery_starts_from_the_latest_snapshot,
    replay_from_genesis_ignores_but_checks_snapshots,
    a_changed_command_breaks_the_entry_hash,
    a_changed_state_hash_breaks_the_entry_hash,
    a_changed_prev_hash_breaks_the_chain,
    a_deleted_middle_batch_breaks_the_chain,
    a_resealed_command_gives_a_different_outcome,
    a_changed_outcome_is_caught_by_replay,
    a_truncated_tail_is_refused_by_the_head_record,
    a_truncated_tail_with_its_keys_left_is_refused,
    a_rewritten_history_is_refused_by_the_head_record,
    batches_without_a_head_record_are_refused_until_reset,
    a_lost_journal_under_a_head_record_is_not_started_afresh,
    a_reset_head_record_gives_up_the_lost_batches,
    a_changed_idempotency_row_is_caught,
    a_corrupt_snapshot_is_refused,
    a_snapshot_of_another_seq_is_refused,
    idempotency_keys_are_rebuilt,
    everything_survives_reopening,
    api_keys_are_added_listed_and_revoked,
    two_ledgers_share_one_database,
    one_writer_holds_the_writer_lock,
    a_reader_follows_a_writer_thread,
    a_long_journal_replays_in_pages,
    reads_past_the_storable_range_find_nothing,
);

/// SHA-256 of the parts, concatenated.
fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The genesis hash as docs/ledger.md defines it, computed here by hand.
fn hand_genesis_hash(config: &str) -> [u8; 32] {
    sha256(&[b"backstop.genesis.v1\0", config.as_bytes()])
}

/// Appends every batch, one append each.
fn append_each(ledger: &mut Ledger, batches: &[Batch]) {
    for batch in batches {
        ledger.append(std::slice::from_ref(batch)).unwrap_or_else(|e| panic!("append: {e}"));
    }
}

/// A journal holding the whole script (5 batches), and the in-memory engine that sealed it.
fn full_journal(db: &Db) -> (Sealer, Vec<Batch>) {
    let (sealer, batches) = script_batches();
    let mut ledger = db.open_initialized();
    append_each(&mut ledger, &batches);
    (sealer, batches)
}

/// The error of a recovery that must fail.
fn recover_err(db: &Db) -> LedgerError {
    match db.open().recover() {
        Ok(recovered) => panic!("recovery passed at {:?}", recovered.head),
        Err(error) => error,
    }
}

/// The error of a replay from genesis that must fail.
fn replay_err(db: &Db) -> LedgerError {
    match db.open().replay_from_genesis() {
        Ok(recovered) => panic!("replay passed at {:?}", recovered.head),
        Err(error) => error,
    }
}

/// The engine after each batch: `engines[s]` is at seq `s` (`engines[0]` at genesis).
fn engines_at_each_seq(batches: &[Batch]) -> Vec<Engine> {
    let mut engine = venue_engine();
    let mut engines = vec![engine.clone()];
    for batch in batches {
        for command in &batch.commands {
            let _ = engine.apply(command);
        }
        engines.push(engine.clone());
    }
    engines
}

fn initialize_is_idempotent_and_refuses_another_venue(db: &Db) {
    let mut ledger = db.open();
    assert_eq!(ledger.genesis(), Ok(None), "a new journal has no genesis");
    assert_eq!(ledger.head(), Err(LedgerError::NotInitialized));
    assert!(matches!(ledger.recover(), Err(LedgerError::NotInitialized)));
    let (_, batches) = script_batches();
    assert_eq!(ledger.append(&batches[..1]), Err(LedgerError::NotInitialized));

    let broken = ledger.initialize("[[asset]]\nsymbol = 3\n");
    assert!(matches!(broken, Err(LedgerError::Invalid { seq: 0, .. })), "{broken:?}");
    assert_eq!(ledger.genesis(), Ok(None), "an invalid venue is not recorded");

    ledger.initialize(VENUE).expect("first initialize");
    ledger.initialize(VENUE).expect("the same venue again is fine");
    assert_eq!(ledger.genesis(), Ok(Some(VENUE.to_owned())));
    let other = VENUE.replace("name = \"lending-perp\"", "name = \"another\"");
    assert_ne!(other, VENUE);
    assert_eq!(
        ledger.initialize(&other),
        Err(LedgerError::GenesisMismatch {
            stored: hex::encode(hand_genesis_hash(VENUE)),
            given: hex::encode(hand_genesis_hash(&other)),
        })
    );
    assert_eq!(ledger.genesis(), Ok(Some(VENUE.to_owned())), "the first venue stays");

    let mut second = db.open();
    assert!(
        matches!(second.initialize(&other), Err(LedgerError::GenesisMismatch { .. })),
        "a second ledger refuses another venue too"
    );
    let head = second.head().expect("head");
    assert_eq!(head, ChainHead { seq: 0, entry_hash: hand_genesis_hash(VENUE) });
    let mut recovered = second.recover().expect("recover an empty journal");
    assert_eq!(recovered.head, head);
    assert_eq!(recovered.batches_replayed, 0);
    assert_eq!(recovered.engine.state_hash(), venue_engine().state_hash());
}

fn appended_batches_read_back_in_order(db: &Db) {
    let (_, batches) = script_batches();
    let mut ledger = db.open_initialized();
    ledger.append(&batches[..1]).expect("append 1");
    assert_eq!(ledger.head(), Ok(batches[0].head()));
    ledger.append(&batches[1..]).expect("append 2..5 at once");
    assert_eq!(ledger.head(), Ok(ChainHead { seq: 5, entry_hash: batches[4].entry_hash }));
    ledger.append(&[]).expect("an empty append is a no-op");
    assert_eq!(ledger.head().map(|h| h.seq), Ok(5));

    assert_eq!(ledger.batch(2), Ok(Some(batches[1].clone())));
    assert_eq!(ledger.batch(0), Ok(None));
    assert_eq!(ledger.batch(6), Ok(None));
    assert_eq!(ledger.batches_since(0, 100), Ok(batches.clone()));
    assert_eq!(ledger.batches_since(1, 2), Ok(batches[1..3].to_vec()));
    assert_eq!(ledger.batches_since(5, 10), Ok(Vec::new()));
    assert_eq!(ledger.batches_since(0, 0), Ok(Vec::new()));
}

fn stored_entry_hashes_match_a_hand_computation(db: &Db) {
    let (mut sealer, batches) = full_journal(db);
    let mut ledger = db.open();
    let first = ledger.batch(1).expect("read").expect("batch 1 stored");
    let commands_json = db.query_text("SELECT commands FROM batches WHERE seq = 1");
    let keys_json = db.query_text("SELECT \"keys\" FROM batches WHERE seq = 1");
    assert_eq!(commands_json, serde_json::to_string(&first.commands).expect("json"));
    assert_eq!(keys_json, r#"["k1-0",null,"k1-2"]"#);
    let hand = sha256(&[
        b"backstop.journal.v1\0",
        &1u64.to_be_bytes(),
        &hand_genesis_hash(VENUE),
        &u64::try_from(commands_json.len()).expect("len").to_be_bytes(),
        commands_json.as_bytes(),
        &u64::try_from(keys_json.len()).expect("len").to_be_bytes(),
        keys_json.as_bytes(),
        &first.state_hash,
    ]);
    assert_eq!(first.entry_hash, hand, "entry hash of batch 1");
    assert_eq!(first.prev_hash, hand_genesis_hash(VENUE), "batch 1 follows genesis");
    assert_eq!(
        db.query_text("SELECT entry_hash FROM batches WHERE seq = 1"),
        hex::encode(hand),
        "stored as lowercase hex"
    );
    let second = ledger.batch(2).expect("read").expect("batch 2 stored");
    assert_eq!(second.prev_hash, first.entry_hash, "batch 2 links to batch 1");
    assert_eq!(
        ledger.batch(5).expect("read").map(|b| b.state_hash),
        Some(sealer.engine.state_hash())
    );
    assert_eq!(batches[0], first);
}

fn refused_appends_write_nothing(db: &Db) {
    let (_, batches) = script_batches();
    let [b1, b2, b3, b4, b5] = <[Batch; 5]>::try_from(batches.clone()).expect("five batches");
    let mut ledger = db.open_initialized();
    ledger.append(&[b1, b2.clone()]).expect("append 1..2");
    let head = ledger.head().expect("head");
    let keys_before = db.count("SELECT COUNT(*) FROM idempotency");
    assert_eq!(keys_before, 4, "k1-0, k1-2, k2-0, k2-2");
    let check_unchanged = |ledger: &mut Ledger, why: &str| {
        assert_eq!(ledger.head(), Ok(head), "{why}: head unchanged");
        assert_eq!(ledger.batches_since(0, 100).map(|b| b.len()), Ok(2), "{why}: no batch");
        assert_eq!(db.count("SELECT COUNT(*) FROM idempotency"), keys_before, "{why}: no key");
    };
    let reseal = |after: &ChainHead, batch: &Batch, keys: Vec<Option<String>>| {
        Batch::seal(after, batch.commands.clone(), keys, batch.outcomes.clone(), batch.state_hash)
    };

    let skipping = ledger.append(std::slice::from_ref(&b4));
    assert!(matches!(skipping, Err(LedgerError::Conflict { seq: 4, .. })), "{skipping:?}");
    check_unchanged(&mut ledger, "a batch skipping one");

    let again = ledger.append(std::slice::from_ref(&b2));
    assert!(matches!(again, Err(LedgerError::Conflict { seq: 2, .. })), "{again:?}");
    check_unchanged(&mut ledger, "the head batch again");

    let forked = reseal(&ChainHead { seq: 2, entry_hash: [7; 32] }, &b3, b3.keys.clone());
    let fork = ledger.append(&[forked]);
    assert!(matches!(fork, Err(LedgerError::Conflict { seq: 3, .. })), "{fork:?}");
    check_unchanged(&mut ledger, "a batch on another chain");

    let gap = ledger.append(&[b3.clone(), b5.clone()]);
    assert!(matches!(gap, Err(LedgerError::ChainBroken { seq: 5, .. })), "{gap:?}");
    check_unchanged(&mut ledger, "a gap inside the append");

    let unlinked = reseal(&ChainHead { seq: 3, entry_hash: [9; 32] }, &b4, b4.keys.clone());
    let broken = ledger.append(&[b3.clone(), unlinked]);
    assert!(matches!(broken, Err(LedgerError::ChainBroken { seq: 4, .. })), "{broken:?}");
    check_unchanged(&mut ledger, "a wrong prev_hash inside the append");

    let mut lying = b3.clone();
    lying.state_hash = [1; 32];
    let lie = ledger.append(&[lying]);
    match lie {
        Err(LedgerError::HashMismatch { seq: 3, what, actual, .. }) => {
            assert_eq!(what, "entry hash");
            assert_eq!(actual, hex::encode(b3.entry_hash));
        }
        other => panic!("expected an entry hash mismatch, got {other:?}"),
    }
    check_unchanged(&mut ledger, "a wrong entry hash");

    let mut short = b3.clone();
    short.outcomes.pop();
    let shape = ledger.append(&[short]);
    assert!(matches!(shape, Err(LedgerError::Invalid { seq: 3, .. })), "{shape:?}");
    check_unchanged(&mut ledger, "an outcome missing");

    // A reused key in the second batch of an append: the first batch is rolled back too.
    let mut keys = b4.keys.clone();
    keys[1] = Some("k1-2".to_owned());
    let reusing = reseal(&b3.head(), &b4, keys);
    match ledger.append(&[b3.clone(), reusing]) {
        Err(LedgerError::Conflict { seq: 4, what }) => {
            assert!(what.contains("\"k1-2\"") && what.contains("batch 1, command 2"), "{what}");
        }
        other => panic!("expected a key conflict, got {other:?}"),
    }
    check_unchanged(&mut ledger, "a key already used");
    assert_eq!(ledger.batch(3), Ok(None), "batch 3 rolled back with batch 4");

    let mut keys = b4.keys.clone();
    keys[1] = b3.keys[0].clone();
    let twice = reseal(&b3.head(), &b4, keys);
    let dup = ledger.append(&[b3.clone(), twice]);
    assert!(matches!(dup, Err(LedgerError::Conflict { seq: 4, .. })), "{dup:?}");
    check_unchanged(&mut ledger, "a key twice in one append");

    ledger.append(&[b3, b4, b5]).expect("the genuine batches still append");
    assert_eq!(ledger.head(), Ok(batches[4].head()));
}

fn recovery_without_snapshot_equals_an_in_memory_run(db: &Db) {
    let (mut sealer, batches) = script_batches();
    let mut ledger = db.open_initialized();
    ledger.append(&batches[..3]).expect("append 1..3");
    ledger.append(&batches[3..]).expect("append 4..5");
    drop(ledger);

    // An independent in-memory run of the same commands, unbatched.
    let mut plain = venue_engine();
    for command in commands(common::SCRIPT) {
        let _ = plain.apply(&command);
    }
    let mut recovered = db.open().recover().expect("recover");
    assert_eq!(recovered.engine.state_hash(), plain.state_hash());
    assert_eq!(recovered.engine.state_hash_from_scratch(), plain.state_hash());
    assert_eq!(recovered.head, sealer.head);
    assert_eq!(recovered.batches_replayed, 5);
    assert_eq!(recovered.snapshot_seq, None);

    let more = commands(
        "advance_time now=7200\nset_price asset=ETH price=1500\nwithdraw account=2 asset=ETH amount=9\n\
         withdraw account=2 asset=ETH amount=1\ntrade market=ETH-PERP taker=1 maker=3 size=1 price=1500",
    );
    for command in &more {
        assert_eq!(recovered.engine.apply(command), sealer.engine.apply(command), "{command:?}");
        assert_eq!(recovered.engine.state_hash(), sealer.engine.state_hash());
    }
}

fn recovery_starts_from_the_latest_snapshot(db: &Db) {
    let (mut sealer, batches) = script_batches();
    let engines = engines_at_each_seq(&batches);
    let mut ledger = db.open_initialized();
    for batch in &batches {
        ledger.append(std::slice::from_ref(batch)).expect("append");
        if batch.seq == 2 || batch.seq == 4 {
            let seq = usize::try_from(batch.seq).expect("small");
            ledger.write_snapshot(batch.seq, &engines[seq]).expect("snapshot");
        }
    }
    let mut recovered = db.open().recover().expect("recover");
    assert_eq!(recovered.snapshot_seq, Some(4));
    assert_eq!(recovered.batches_replayed, 1, "only batch 5 replayed");
    assert_eq!(recovered.head, sealer.head);
    assert_eq!(recovered.engine.state_hash(), sealer.engine.state_hash());
    let total_keys = batches.iter().flat_map(|b| &b.keys).flatten().count();
    assert_eq!(recovered.keys.len(), total_keys, "keys of snapshotted batches too");

    let wrong = ledger.write_snapshot(3, &engines[2]);
    assert!(matches!(wrong, Err(LedgerError::Snapshot { seq: 3, .. })), "{wrong:?}");
    let missing = ledger.write_snapshot(9, &engines[5]);
    assert!(matches!(missing, Err(LedgerError::Snapshot { seq: 9, .. })), "{missing:?}");
    assert_eq!(db.count("SELECT COUNT(*) FROM snapshots"), 2, "refused snapshots not stored");

    for seq in [1usize, 3, 5] {
        ledger.write_snapshot(seq as u64, &engines[seq]).expect("snapshot");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM snapshots"), 3, "only the newest three kept");
    assert_eq!(db.count("SELECT MIN(seq) FROM snapshots"), 3);
    let mut recovered = db.open().recover().expect("recover");
    assert_eq!(recovered.snapshot_seq, Some(5));
    assert_eq!(recovered.batches_replayed, 0);
    assert_eq!(recovered.head, sealer.head);
    assert_eq!(recovered.engine.state_hash(), sealer.engine.state_hash());
    let next = commands("advance_time now=9000\nset_price asset=ETH price=1000");
    for command in &next {
        assert_eq!(recovered.engine.apply(command), sealer.engine.apply(command));
    }
    assert_eq!(recovered.engine.state_hash(), sealer.engine.state_hash());
}

fn replay_from_genesis_ignores_but_checks_snapshots(db: &Db) {
    let (mut sealer, batches) = full_journal(db);
    let engines = engines_at_each_seq(&batches);
    let mut ledger = db.open();
    ledger.write_snapshot(2, &engines[2]).expect("snapshot 2");
    ledger.write_snapshot(4, &engines[4]).expect("snapshot 4");
    let mut replayed = ledger.replay_from_genesis().expect("replay");
    assert_eq!(replayed.snapshot_seq, None);
    assert_eq!(replayed.batches_replayed, 5);
    assert_eq!(replayed.head, sealer.head);
    assert_eq!(replayed.engine.state_hash(), sealer.engine.state_hash());
    assert_eq!(replayed.keys, ledger.recover().expect("recover").keys);
}

fn a_changed_command_breaks_the_entry_hash(db: &Db) {
    full_journal(db);
    let changed = db.exec(
        "UPDATE batches SET commands = replace(commands, '\"account\":9', '\"account\":8') \
         WHERE seq = 3",
    );
    assert_eq!(changed, 1);
    assert_ne!(
        db.query_text("SELECT commands FROM batches WHERE seq = 3").find("\"account\":8"),
        None
    );
    for error in [recover_err(db), replay_err(db)] {
        match error {
            LedgerError::HashMismatch { seq: 3, what, .. } => assert_eq!(what, "entry hash"),
            other => panic!("expected an entry hash mismatch at 3, got {other:?}"),
        }
    }
}

fn a_changed_state_hash_breaks_the_entry_hash(db: &Db) {
    full_journal(db);
    db.exec(&format!("UPDATE batches SET state_hash = '{}' WHERE seq = 4", "0".repeat(64)));
    match recover_err(db) {
        LedgerError::HashMismatch { seq: 4, what, .. } => assert_eq!(what, "entry hash"),
        other => panic!("expected an entry hash mismatch at 4, got {other:?}"),
    }
}

fn a_changed_prev_hash_breaks_the_chain(db: &Db) {
    full_journal(db);
    db.exec(
        "UPDATE batches SET prev_hash = (SELECT entry_hash FROM batches WHERE seq = 1) \
         WHERE seq = 3",
    );
    let error = recover_err(db);
    assert!(matches!(error, LedgerError::ChainBroken { seq: 3, .. }), "{error:?}");
    assert!(error.to_string().contains("batch 3"), "{error}");
}

fn a_deleted_middle_batch_breaks_the_chain(db: &Db) {
    full_journal(db);
    assert_eq!(db.exec("DELETE FROM batches WHERE seq = 3"), 1);
    for error in [recover_err(db), replay_err(db)] {
        match error {
            LedgerError::ChainBroken { seq: 3, what } => {
                assert!(what.contains("missing"), "{what}")
            }
            other => panic!("expected a missing batch 3, got {other:?}"),
        }
    }
}

/// Batch 5 rewritten with a consistent entry hash (a forger who recomputed it) but a different
/// command: the chain holds, replay does not.
fn a_resealed_command_gives_a_different_outcome(db: &Db) {
    let (_, batches) = full_journal(db);
    let b5 = &batches[4];
    let mut forged_commands = b5.commands.clone();
    assert!(matches!(forged_commands[3], Command::Repay { .. }), "{:?}", forged_commands[3]);
    forged_commands[3] = commands("repay account=2 asset=USDC amount=200").remove(0);
    let forged = Batch::seal(
        &batches[3].head(),
        forged_commands,
        b5.keys.clone(),
        b5.outcomes.clone(),
        b5.state_hash,
    );
    let json = serde_json::to_string(&forged.commands).expect("json").replace('\'', "''");
    db.exec(&format!(
        "UPDATE batches SET commands = '{json}', entry_hash = '{}' WHERE seq = 5",
        hex::encode(forged.entry_hash)
    ));
    assert_eq!(recover_err(db), LedgerError::OutcomeMismatch { seq: 5, index: 3 });
}

fn a_changed_outcome_is_caught_by_replay(db: &Db) {
    let (_, batches) = full_journal(db);
    assert!(matches!(batches[2].outcomes[3], Outcome::Rejected { code: 1, .. }));
    let changed = db.exec(
        "UPDATE batches SET outcomes = replace(outcomes, '\"code\":1,', '\"code\":2,') WHERE seq = 3",
    );
    assert_eq!(changed, 1);
    assert_eq!(recover_err(db), LedgerError::OutcomeMismatch { seq: 3, index: 3 });
    assert_eq!(replay_err(db), LedgerError::OutcomeMismatch { seq: 3, index: 3 });
}

fn a_truncated_tail_is_refused_by_the_head_record(db: &Db) {
    full_journal(db);
    assert_eq!(db.exec("DELETE FROM batches WHERE seq >= 4"), 2);
    assert_eq!(db.exec("DELETE FROM idempotency WHERE seq >= 4"), 5);
    let error = recover_err(db);
    assert_eq!(error, LedgerError::EntriesLost { journal_seq: 3, head_seq: 5 });
    assert_eq!(error.seq(), Some(4));
    assert!(error.to_string().starts_with("acknowledged batches 4..=5 are missing"), "{error}");
    assert_eq!(replay_err(db), error);
}

fn a_truncated_tail_with_its_keys_left_is_refused(db: &Db) {
    full_journal(db);
    assert_eq!(db.exec("DELETE FROM batches WHERE seq = 5"), 1);
    assert_eq!(recover_err(db), LedgerError::EntriesLost { journal_seq: 4, head_seq: 5 });
}

fn a_rewritten_history_is_refused_by_the_head_record(db: &Db) {
    let (_, batches) = full_journal(db);
    let acknowledged = db.head_record_raw().expect("a head record");
    // Batches 4 and 5 replaced by a consistent other history (sealed and appended normally,
    // which moves the record), then the record put back as it was acknowledged.
    assert_eq!(db.exec("DELETE FROM batches WHERE seq >= 4"), 2);
    assert_eq!(db.exec("DELETE FROM idempotency WHERE seq >= 4"), 5);
    let mut sealer = Sealer::new();
    for batch in &batches[..3] {
        let _ = sealer.seal(batch.commands.clone(), batch.keys.clone());
    }
    let other = vec![
        sealer.seal(commands("open_account account=7"), vec![None]),
        sealer.seal(commands("open_account account=8"), vec![None]),
    ];
    let mut ledger = db.open();
    ledger.lock_writer(Duration::ZERO).expect("writer lock");
    let (_, recovered) = ledger.reset_head_record().expect("reset to batch 3");
    assert_eq!(recovered.head.seq, 3);
    append_each(&mut ledger, &other);
    drop(ledger);
    db.set_head_record_raw(Some(&acknowledged));
    let error = recover_err(db);
    match &error {
        LedgerError::HeadRecord { seq: 5, what } => {
            assert!(what.contains("another history than the one acknowledged"), "{what}");
            assert!(what.contains(&backstop_ledger::to_hex(&batches[4].entry_hash)), "{what}");
        }
        other => panic!("expected a head record mismatch at 5, got {other:?}"),
    }
    assert_eq!(replay_err(db), error);
}

fn batches_without_a_head_record_are_refused_until_reset(db: &Db) {
    let (sealer, _) = full_journal(db);
    db.set_head_record_raw(None);
    let error = recover_err(db);
    assert!(
        matches!(&error, LedgerError::HeadRecord { seq: 5, what } if what.contains("no head record")),
        "{error:?}"
    );
    assert_eq!(replay_err(db), error);
    // Resetting needs the writer lock.
    let mut ledger = db.open();
    assert!(matches!(ledger.reset_head_record(), Err(LedgerError::WriterLocked { .. })));
    ledger.lock_writer(Duration::ZERO).expect("writer lock");
    let (old, recovered) = ledger.reset_head_record().expect("reset");
    assert_eq!((old, recovered.head), (None, sealer.head));
    assert_eq!(ledger.head_record().expect("read"), Some(sealer.head));
    drop(ledger);
    assert_eq!(db.open().recover().expect("recover").head, sealer.head);
}

fn a_lost_journal_under_a_head_record_is_not_started_afresh(db: &Db) {
    full_journal(db);
    for table in ["batches", "idempotency", "genesis"] {
        db.exec(&format!("DELETE FROM {table}"));
    }
    let mut ledger = db.open();
    for error in [
        ledger.initialize(VENUE).expect_err("initialize"),
        ledger.recover().expect_err("recover"),
        ledger.replay_from_genesis().expect_err("replay"),
    ] {
        assert!(
            matches!(&error, LedgerError::HeadRecord { seq: 5, what } if what.contains("no genesis")),
            "{error:?}"
        );
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM genesis"), 0, "no fresh genesis written");
}

fn a_reset_head_record_gives_up_the_lost_batches(db: &Db) {
    let (_, batches) = full_journal(db);
    assert_eq!(db.exec("DELETE FROM batches WHERE seq = 5"), 1);
    assert_eq!(db.exec("DELETE FROM idempotency WHERE seq = 5"), 3);
    let mut ledger = db.open();
    ledger.lock_writer(Duration::ZERO).expect("writer lock");
    let (old, recovered) = ledger.reset_head_record().expect("reset");
    assert_eq!(old, Some(batches[4].head()));
    assert_eq!(recovered.head, batches[3].head());
    drop(ledger);
    let recovered = db.open().replay_from_genesis().expect("replay after the reset");
    assert_eq!(recovered.head, batches[3].head());
    assert!(!recovered.keys.contains_key("k5-0"), "the lost batch's keys are gone");
}

fn a_changed_idempotency_row_is_caught(db: &Db) {
    full_journal(db);
    assert_eq!(db.exec("UPDATE idempotency SET idx = 1 WHERE \"key\" = 'k3-2'"), 1);
    let error = recover_err(db);
    assert!(matches!(error, LedgerError::Corrupt { seq: 3, .. }), "{error:?}");
    assert!(error.to_string().contains("k3-2"), "{error}");
}

fn a_corrupt_snapshot_is_refused(db: &Db) {
    let (_, batches) = full_journal(db);
    let engines = engines_at_each_seq(&batches);
    db.open().write_snapshot(4, &engines[4]).expect("snapshot");
    let changed = db
        .exec("UPDATE snapshots SET snapshot = replace(snapshot, '\"format\":2', '\"format\":3')");
    assert_eq!(changed, 1);
    assert_ne!(db.query_text("SELECT snapshot FROM snapshots").find("\"format\":3"), None);
    for error in [recover_err(db), replay_err(db)] {
        match error {
            LedgerError::Snapshot { seq: 4, what } => assert!(what.contains("format"), "{what}"),
            other => panic!("expected a snapshot error at 4, got {other:?}"),
        }
    }
    // A snapshot row whose recorded hash was changed is refused too.
    db.open().write_snapshot(4, &engines[4]).expect("snapshot rewritten");
    db.open().recover().expect("a sound snapshot again");
    db.exec(&format!("UPDATE snapshots SET state_hash = '{}'", "ab".repeat(32)));
    let error = recover_err(db);
    assert!(matches!(error, LedgerError::Snapshot { seq: 4, .. }), "{error:?}");
}

fn a_snapshot_of_another_seq_is_refused(db: &Db) {
    let (_, batches) = full_journal(db);
    let engines = engines_at_each_seq(&batches);
    let mut ledger = db.open();
    ledger.write_snapshot(2, &engines[2]).expect("snapshot 2");
    ledger.write_snapshot(4, &engines[4]).expect("snapshot 4");
    db.exec(
        "UPDATE snapshots SET snapshot = (SELECT s.snapshot FROM snapshots s WHERE s.seq = 2) \
         WHERE seq = 4",
    );
    for error in [recover_err(db), replay_err(db)] {
        match error {
            LedgerError::Snapshot { seq: 4, what } => {
                assert!(what.contains("state hash"), "{what}")
            }
            other => panic!("expected a snapshot error at 4, got {other:?}"),
        }
    }
}

fn idempotency_keys_are_rebuilt(db: &Db) {
    let (_, batches) = full_journal(db);
    let recovered = db.open().recover().expect("recover");
    let mut expected = 0;
    for batch in &batches {
        for (index, (key, command)) in batch.keys.iter().zip(&batch.commands).enumerate() {
            let Some(key) = key else { continue };
            expected += 1;
            let digest = sha256(&[&serde_json::to_vec(command).expect("json")]);
            assert_eq!(command_digest(command), digest, "digest = SHA-256 of the command's JSON");
            let index = u32::try_from(index).expect("small");
            assert_eq!(
                recovered.keys.get(key),
                Some(&KeyUse { seq: batch.seq, index, command_digest: digest }),
                "{key}"
            );
        }
    }
    assert_eq!(expected, 11, "two in each batch of 3 or 4 commands, three in the batch of 5");
    assert_eq!(recovered.keys.len(), expected);
}

fn everything_survives_reopening(db: &Db) {
    let (mut sealer, batches) = script_batches();
    let engines = engines_at_each_seq(&batches);
    {
        let mut ledger = db.open_initialized();
        ledger.append(&batches[..3]).expect("append");
        ledger.write_snapshot(2, &engines[2]).expect("snapshot");
        ledger
            .add_api_key(&ApiKeyRecord {
                key_hash: hex::encode(sha256(&[b"secret"])),
                role: "admin".to_owned(),
                accounts: vec![],
                label: "ops".to_owned(),
            })
            .expect("key");
    }
    {
        let mut ledger = db.open();
        assert_eq!(ledger.genesis(), Ok(Some(VENUE.to_owned())));
        assert_eq!(ledger.head(), Ok(batches[2].head()));
        assert_eq!(ledger.batch(3), Ok(Some(batches[2].clone())));
        assert_eq!(ledger.api_keys().map(|k| k.len()), Ok(1));
        ledger.append(&batches[3..]).expect("append after reopening");
    }
    let mut recovered = db.open().recover().expect("recover");
    assert_eq!(recovered.snapshot_seq, Some(2));
    assert_eq!(recovered.batches_replayed, 3);
    assert_eq!(recovered.engine.state_hash(), sealer.engine.state_hash());
}

fn api_keys_are_added_listed_and_revoked(db: &Db) {
    let mut ledger = db.open();
    let record = |secret: &str, role: &str, accounts: Vec<u64>| ApiKeyRecord {
        key_hash: hex::encode(sha256(&[secret.as_bytes()])),
        role: role.to_owned(),
        accounts,
        label: format!("{role} key"),
    };
    let admin = record("a", "admin", vec![]);
    let user = record("b", "user", vec![1, 2, 40]);
    assert_eq!(ledger.api_keys(), Ok(vec![]));
    ledger.add_api_key(&admin).expect("add admin");
    ledger.add_api_key(&user).expect("add user");
    let mut both = vec![admin.clone(), user.clone()];
    both.sort_by(|x, y| x.key_hash.cmp(&y.key_hash));
    assert_eq!(ledger.api_keys(), Ok(both));

    let oracle = ApiKeyRecord { role: "oracle".to_owned(), ..admin.clone() };
    ledger.add_api_key(&oracle).expect("replace");
    assert!(ledger.api_keys().expect("list").contains(&oracle), "replaced in place");
    assert_eq!(ledger.api_keys().map(|k| k.len()), Ok(2));

    assert_eq!(ledger.revoke_api_key(&admin.key_hash), Ok(true));
    assert_eq!(ledger.revoke_api_key(&admin.key_hash), Ok(false));
    assert_eq!(db.open().api_keys(), Ok(vec![user.clone()]));

    for bad in ["secret", &user.key_hash.to_uppercase(), &user.key_hash[..63]] {
        let refused =
            ledger.add_api_key(&ApiKeyRecord { key_hash: bad.to_owned(), ..user.clone() });
        assert!(matches!(refused, Err(LedgerError::Invalid { .. })), "{bad}: {refused:?}");
        // Revoking by a malformed hash finds nothing (and never errors).
        assert_eq!(ledger.revoke_api_key(bad), Ok(false), "{bad}");
    }
    // NUL cannot be stored in PostgreSQL text: both backends refuse it alike, and a lookup by
    // a hash holding one finds nothing instead of failing.
    for (role, label) in [("user", "a\0b"), ("us\0er", "fine")] {
        let refused = ledger.add_api_key(&ApiKeyRecord {
            role: role.to_owned(),
            label: label.to_owned(),
            ..user.clone()
        });
        assert!(matches!(refused, Err(LedgerError::Invalid { .. })), "{role:?} {label:?}");
    }
    assert_eq!(ledger.revoke_api_key("\0"), Ok(false));
    assert_eq!(ledger.revoke_api_key(&format!("{}\0", &user.key_hash[..63])), Ok(false));
    assert_eq!(ledger.api_keys(), Ok(vec![user]));
}

fn two_ledgers_share_one_database(db: &Db) {
    let (mut sealer, batches) = script_batches();
    let mut writer = db.open_initialized();
    let mut reader = db.open_initialized();
    writer.append(&batches[..2]).expect("writer appends 1..2");
    assert_eq!(reader.head(), Ok(batches[1].head()));
    assert_eq!(reader.batches_since(0, 10).map(|b| b.len()), Ok(2));

    let stale = reader.append(&batches[1..2]);
    assert!(matches!(stale, Err(LedgerError::Conflict { seq: 2, .. })), "{stale:?}");
    reader.append(&batches[2..3]).expect("the other ledger appends 3");
    let stale = writer.append(&batches[2..3]);
    assert!(matches!(stale, Err(LedgerError::Conflict { seq: 3, .. })), "{stale:?}");
    writer.append(&batches[3..]).expect("writer appends 4..5");
    let mut recovered = reader.recover().expect("recover");
    assert_eq!(recovered.head, sealer.head);
    assert_eq!(recovered.engine.state_hash(), sealer.engine.state_hash());
}

fn one_writer_holds_the_writer_lock(db: &Db) {
    let mut first = db.open_initialized();
    let mut second = db.open_initialized();
    let mut reader = db.open_initialized();
    first.lock_writer(Duration::ZERO).expect("the first writer takes the lock");
    // Taking it again on the same ledger is fine; another ledger waits, then is refused.
    first.lock_writer(Duration::ZERO).expect("the holder takes it again");
    let started = std::time::Instant::now();
    let refused = second.lock_writer(Duration::from_millis(200));
    match &refused {
        Err(error @ LedgerError::WriterLocked { .. }) => {
            assert!(error.to_string().contains("another writer holds"), "{error}");
        }
        other => panic!("expected WriterLocked, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(200), "it waited the time it was given");
    // Readers need no lock, and the holder still appends.
    let (_, batches) = script_batches();
    first.append(&batches[..1]).expect("the holder appends");
    assert_eq!(reader.head(), Ok(batches[0].head()));
    // Gone with its holder: the waiting writer gets it.
    drop(first);
    second.lock_writer(Duration::from_secs(5)).expect("the lock is free once its holder is gone");
}

fn a_reader_follows_a_writer_thread(db: &Db) {
    const BATCHES: u64 = 60;
    let mut sealer = Sealer::new();
    let setup = sealer.seal(
        commands(
            "set_price asset=USDC price=1\nset_price asset=ETH price=2000\nopen_account account=1",
        ),
        vec![None; 3],
    );
    let deposit = commands("deposit account=1 asset=USDC amount=1").remove(0);
    let mut batches = vec![setup];
    for seq in 2..=BATCHES {
        let keys = (0..10).map(|i| Some(format!("w{seq}-{i}"))).collect();
        batches.push(sealer.seal(vec![deposit.clone(); 10], keys));
    }
    let mut writer = db.open_initialized();
    let mut reader = db.open_initialized();
    let written = batches.clone();
    let thread = std::thread::spawn(move || {
        for batch in &written {
            writer.append(std::slice::from_ref(batch)).expect("append");
        }
    });
    let mut seen: Vec<Batch> = Vec::new();
    let mut recoveries = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while (seen.len() as u64) < BATCHES {
        assert!(std::time::Instant::now() < deadline, "reader stuck at {}", seen.len());
        let after = seen.last().map_or(0, |b| b.seq);
        seen.extend(reader.batches_since(after, 7).expect("read while writing"));
        let head = reader.head().expect("head while writing");
        assert!(head.seq >= seen.last().map_or(0, |b| b.seq));
        // Recovery sees one consistent state even while batches and keys land.
        let mut recovered = reader.recover().expect("recover while writing");
        if let Some(seq) = recovered.head.seq.checked_sub(1) {
            let batch = &batches[usize::try_from(seq).expect("small")];
            assert_eq!(recovered.engine.state_hash(), batch.state_hash);
            assert_eq!(recovered.keys.len(), usize::try_from(seq * 10).expect("small"));
        }
        recoveries += 1;
    }
    assert!(recoveries > 1, "recovered {recoveries} times while the writer ran");
    thread.join().expect("writer thread");
    assert_eq!(seen, batches);
    let mut recovered = reader.recover().expect("recover");
    assert_eq!(recovered.engine.state_hash(), sealer.engine.state_hash());
    assert_eq!(recovered.keys.len(), 590);
}

fn a_long_journal_replays_in_pages(db: &Db) {
    let mut sealer = Sealer::new();
    let mut batches = vec![sealer.seal(
        commands(
            "set_price asset=USDC price=1\nset_price asset=ETH price=2000\nopen_account account=1",
        ),
        vec![None; 3],
    )];
    let deposit = commands("deposit account=1 asset=USDC amount=1").remove(0);
    for seq in 2..=2345u64 {
        batches.push(sealer.seal(vec![deposit.clone()], vec![Some(format!("d{seq}"))]));
    }
    let mut ledger = db.open_initialized();
    for chunk in batches.chunks(500) {
        ledger.append(chunk).expect("append 500 batches in one transaction");
    }
    let mut recovered = db.open().recover().expect("recover");
    assert_eq!(recovered.batches_replayed, 2345);
    assert_eq!(recovered.head, sealer.head);
    assert_eq!(recovered.engine.state_hash(), sealer.engine.state_hash());
    assert_eq!(recovered.keys.len(), 2344);
    let balance = format!("{:?}", recovered.engine.account(backstop_core::AccountId(1)));
    assert!(balance.contains("2344"), "2344 deposits of 1 USDC: {balance}");
}

/// Readers pass positions from outside (`since`, `Last-Event-ID`): one past the BIGINT range the
/// seqs are stored in is simply past the end, not a journal failure.
fn reads_past_the_storable_range_find_nothing(db: &Db) {
    let (_, batches) = script_batches();
    let mut ledger = db.open_initialized();
    append_each(&mut ledger, &batches);
    assert_eq!(MAX_SEQ, 9_223_372_036_854_775_807);
    for after in [MAX_SEQ - 1, MAX_SEQ, MAX_SEQ + 1, u64::MAX] {
        assert_eq!(ledger.batches_since(after, 10), Ok(vec![]), "after {after}");
    }
    for seq in [MAX_SEQ, MAX_SEQ + 1, u64::MAX] {
        assert_eq!(ledger.batch(seq), Ok(None), "seq {seq}");
    }
    assert_eq!(ledger.batches_since(0, 0), Ok(vec![]));
    // The journal itself is untouched and still reads from the start.
    assert_eq!(ledger.batches_since(0, 100).map(|b| b.len()), Ok(batches.len()));
}
