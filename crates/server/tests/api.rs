//! The service end to end on both journal backends: submit, read, idempotency, batches, events,
//! restart and recovery, keys, health.

mod support;

use backstop_server::ServerConfig;
use serde_json::{Value, json};
use support::{Backend, Harness, deposit, open, submit, submit_batch, withdraw};

on_both_backends!(
    submitted_commands_are_durable_and_readable,
    rejected_commands_are_journaled_with_422_and_the_same_shape,
    idempotency_keys_answer_duplicates_and_refuse_conflicts,
    batches_are_one_journal_entry_with_one_result_per_command,
    events_page_through_the_journal,
    restart_recovers_the_same_state_keys_and_idempotency,
    restart_from_a_snapshot_replays_only_the_rest,
    a_journal_of_another_venue_refuses_to_start,
    a_second_server_on_the_same_journal_refuses_to_start,
    state_reads_match_an_in_memory_engine,
    keys_are_made_listed_and_revoked_over_http,
    keys_changed_outside_the_server_take_effect_while_it_runs,
    health_reports_the_head_and_backend,
    every_read_route_answers_with_the_seq_it_was_read_at,
);

fn submitted_commands_are_durable_and_readable(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    assert_eq!(harness.seq(), 0);
    let opened = submit(&mut admin, &open(1), None);
    assert_eq!(opened.status, 200, "{}", opened.text());
    let body = opened.json();
    assert_eq!(body["seq"], 1);
    assert_eq!(body["index"], 0);
    assert_eq!(body["duplicate"], false);
    assert_eq!(body["status"], "applied");
    assert_eq!(body["events"][0]["event"], "account_opened", "{body}");
    let deposited = submit(&mut admin, &deposit(1, "1500.25"), None);
    assert_eq!(deposited.status, 200, "{}", deposited.text());
    assert_eq!(deposited.json()["seq"], 2);
    assert_eq!(harness.seq(), 2);
    let account = admin.get("/v1/accounts/1").expect("GET account");
    assert_eq!(account.status, 200, "{}", account.text());
    let account = account.json();
    assert_eq!(account["id"], 1);
    assert_eq!(account["seq"], 2);
    let balance = account["account"]["holdings"][0]["balance"].as_str().expect("a decimal string");
    assert_eq!(balance.parse::<backstop_money::Amount>().ok(), "1500.25".parse().ok(), "{balance}");
}

fn rejected_commands_are_journaled_with_422_and_the_same_shape(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    assert_eq!(submit(&mut admin, &open(1), None).status, 200);
    let refused = submit(&mut admin, &withdraw(1, "5"), Some("w-1"));
    assert_eq!(refused.status, 422, "{}", refused.text());
    let body = refused.json();
    assert_eq!(body["status"], "rejected");
    assert_eq!(body["seq"], 2);
    assert_eq!(body["index"], 0);
    assert_eq!(body["duplicate"], false);
    // InsufficientBalance is rejection code 8 (docs/rejections.md).
    assert_eq!(body["code"], 8, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(body["rejection"]["rejection"], "insufficient_balance", "{body}");
    assert!(body.get("events").is_none());
    // The rejection is journaled: the head moved, and a retry gets the same answer.
    assert_eq!(harness.seq(), 2);
    let retried = submit(&mut admin, &withdraw(1, "5"), Some("w-1"));
    assert_eq!(retried.status, 422);
    let again = retried.json();
    assert_eq!(again["duplicate"], true);
    assert_eq!((again["seq"].clone(), again["code"].clone()), (json!(2), json!(8)));
    assert_eq!(harness.seq(), 2);
}

fn idempotency_keys_answer_duplicates_and_refuse_conflicts(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    assert_eq!(submit(&mut admin, &open(1), Some("open-1")).status, 200);
    let first = submit(&mut admin, &deposit(1, "10"), Some("dep-1"));
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["seq"], 2);
    // Same key, same command: the original answer, nothing applied again.
    let second = submit(&mut admin, &deposit(1, "10"), Some("dep-1"));
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["seq"], 2);
    assert_eq!(second["index"], 0);
    assert_eq!(second["events"], first.json()["events"]);
    assert_eq!(harness.seq(), 2);
    // Same key, another command: 409, nothing written.
    let conflict = submit(&mut admin, &deposit(1, "11"), Some("dep-1"));
    assert_eq!(conflict.status, 409, "{}", conflict.text());
    assert_eq!(conflict.error_code().as_deref(), Some("idempotency_conflict"));
    assert_eq!(harness.seq(), 2);
    // A batch with a conflict anywhere writes nothing, not even its fresh commands.
    let batch = admin
        .post_json(
            "/v1/batches",
            &json!({"commands": [
                {"command": deposit(1, "1"), "idempotency_key": "fresh"},
                {"command": deposit(1, "12"), "idempotency_key": "dep-1"},
            ]}),
        )
        .expect("POST batch");
    assert_eq!(batch.status, 409, "{}", batch.text());
    assert_eq!(harness.seq(), 2);
    let balance = admin.get("/v1/accounts/1").expect("GET account").json()["account"]["holdings"]
        [0]["balance"]
        .clone();
    assert_eq!(
        balance.as_str().and_then(|b| b.parse::<backstop_money::Amount>().ok()),
        "10".parse().ok()
    );
    // Inside one batch, a repeated key and command is answered from its first use.
    let repeated = admin
        .post_json(
            "/v1/batches",
            &json!({"commands": [
                {"command": deposit(1, "2"), "idempotency_key": "twice"},
                {"command": deposit(1, "2"), "idempotency_key": "twice"},
                {"command": deposit(1, "10"), "idempotency_key": "dep-1"},
            ]}),
        )
        .expect("POST batch");
    assert_eq!(repeated.status, 200, "{}", repeated.text());
    let results = repeated.json()["results"].clone();
    assert_eq!(repeated.json()["seq"], 3);
    assert_eq!(
        (results[0]["seq"].clone(), results[0]["duplicate"].clone()),
        (json!(3), json!(false))
    );
    assert_eq!((results[1]["seq"].clone(), results[1]["index"].clone()), (json!(3), json!(0)));
    assert_eq!(results[1]["duplicate"], true);
    assert_eq!(
        (results[2]["seq"].clone(), results[2]["duplicate"].clone()),
        (json!(2), json!(true))
    );
    // Only one command was journaled in entry 3.
    let events = admin.get("/v1/events?since=2").expect("GET events").json();
    assert_eq!(events["batches"][0]["commands"].as_array().map(Vec::len), Some(1));
    // A batch of nothing but duplicates writes no entry.
    let all_duplicates = admin
        .post_json(
            "/v1/batches",
            &json!({"commands": [{"command": open(1), "idempotency_key": "open-1"}]}),
        )
        .expect("POST batch");
    assert_eq!(all_duplicates.status, 200);
    assert_eq!(all_duplicates.json()["seq"], 1);
    assert_eq!(harness.seq(), 3);
}

fn batches_are_one_journal_entry_with_one_result_per_command(backend: Backend) {
    let harness = Harness::with(backend, |config: &mut ServerConfig| config.max_batch_commands = 4);
    let mut admin = harness.admin();
    let response =
        submit_batch(&mut admin, &[open(1), deposit(1, "3"), withdraw(1, "5"), withdraw(1, "1")]);
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["seq"], 1);
    let statuses: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, ["applied", "applied", "rejected", "applied"]);
    for (index, result) in body["results"].as_array().expect("results").iter().enumerate() {
        assert_eq!(result["seq"], 1);
        assert_eq!(result["index"], index);
    }
    assert_eq!(harness.seq(), 1);
    let too_many = submit_batch(&mut admin, &[open(2), open(3), open(4), open(5), open(6)]);
    assert_eq!(too_many.status, 413);
    assert_eq!(too_many.error_code().as_deref(), Some("batch_too_large"));
    let empty = admin.post_json("/v1/batches", &json!({"commands": []})).expect("POST batch");
    assert_eq!(empty.status, 400);
    assert_eq!(empty.error_code().as_deref(), Some("empty_batch"));
    assert_eq!(harness.seq(), 1);
}

fn events_page_through_the_journal(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    for account in 1..=5 {
        assert_eq!(submit(&mut admin, &open(account), Some(&format!("o{account}"))).status, 200);
    }
    let all = admin.get("/v1/events").expect("GET events").json();
    assert_eq!(all["head"], 5);
    let seqs: Vec<u64> = all["batches"]
        .as_array()
        .expect("batches")
        .iter()
        .filter_map(|b| b["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let page = admin.get("/v1/events?since=2&limit=2").expect("GET events").json();
    let batches = page["batches"].as_array().expect("batches");
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0]["seq"], 3);
    assert_eq!(batches[1]["seq"], 4);
    assert_eq!(batches[0]["keys"], json!(["o3"]));
    // Stored in canonical form: defaults written out.
    assert_eq!(
        batches[0]["commands"][0],
        json!({"type": "open_account", "account": 3, "kind": "regular"})
    );
    assert_eq!(batches[0]["outcomes"][0]["status"], "applied");
    // The chain: each entry's prev_hash is the previous entry's hash.
    assert_eq!(batches[1]["prev_hash"], batches[0]["entry_hash"]);
    assert_eq!(batches[0]["state_hash"].as_str().map(str::len), Some(64));
    let last = admin.get("/v1/events?since=5").expect("GET events").json();
    assert_eq!(last["batches"], json!([]));
    for (query, code) in [
        ("since=x", "invalid_value"),
        ("limit=0", "invalid_value"),
        ("limit=1001", "invalid_value"),
        ("from=1", "unknown_field"),
    ] {
        let response = admin.get(&format!("/v1/events?{query}")).expect("GET events");
        assert_eq!(response.status, 400, "{query}");
        assert_eq!(response.error_code().as_deref(), Some(code), "{query}");
    }
}

fn restart_recovers_the_same_state_keys_and_idempotency(backend: Backend) {
    let mut harness = Harness::new(backend);
    let user = harness.key("user", &[1]);
    let mut client = harness.client(&user);
    assert_eq!(submit(&mut client, &open(1), Some("u-open")).status, 200);
    assert_eq!(submit(&mut harness.admin(), &deposit(1, "42"), Some("a-dep")).status, 200);
    assert_eq!(submit(&mut client, &withdraw(1, "50"), Some("u-wd")).status, 422);
    let before = harness.state();
    harness.restart();
    let after = harness.state();
    assert_eq!(after["seq"], 3);
    assert_eq!(after["state_hash"], before["state_hash"]);
    assert_eq!(after["entry_hash"], before["entry_hash"]);
    // The user key survives the restart, and so do idempotency keys: the retried withdrawal
    // gets its original (rejected) answer, not a second evaluation.
    let mut client = harness.client(&user);
    let retried = submit(&mut client, &withdraw(1, "50"), Some("u-wd"));
    assert_eq!(retried.status, 422, "{}", retried.text());
    assert_eq!(retried.json()["duplicate"], true);
    assert_eq!(retried.json()["seq"], 3);
    let conflict = submit(&mut client, &withdraw(1, "51"), Some("u-wd"));
    assert_eq!(conflict.status, 409);
    let dup_admin = submit(&mut harness.admin(), &deposit(1, "42"), Some("a-dep"));
    assert_eq!(dup_admin.json()["duplicate"], true);
    assert_eq!(dup_admin.json()["seq"], 2);
    assert_eq!(harness.seq(), 3);
    // And new commands chain on after the recovered head.
    let next = submit(&mut client, &withdraw(1, "1"), None);
    assert_eq!(next.status, 200, "{}", next.text());
    assert_eq!(next.json()["seq"], 4);
}

fn restart_from_a_snapshot_replays_only_the_rest(backend: Backend) {
    let mut harness = Harness::with(backend, |config: &mut ServerConfig| {
        config.snapshot_every = 3;
        config.verify_from_genesis = false;
    });
    let mut admin = harness.admin();
    let commands = support::script(
        "advance_time now=60\nset_price asset=USDC price=1\nset_price asset=ETH price=2000\n\
         open_account account=1\nopen_account account=2\ndeposit account=1 asset=USDC amount=100000\n\
         supply account=1 asset=USDC amount=50000\ndeposit account=2 asset=ETH amount=10\n\
         borrow account=2 asset=USDC amount=5000\nborrow account=2 asset=USDC amount=100000000\n\
         advance_time now=3600\naccrue_interest asset=USDC\n",
    );
    for command in &commands {
        let response = submit(&mut admin, &support::json_of(command), None);
        assert!(response.status == 200 || response.status == 422, "{}", response.text());
    }
    let expected = support::in_memory_hash(&commands);
    assert_eq!(harness.state()["state_hash"], expected);
    harness.restart();
    // 12 entries, snapshots at 3, 6, 9 and 12: nothing left to replay.
    assert_eq!(harness.server().recovered_seq(), 12);
    assert_eq!(harness.server().replayed(), 0);
    assert_eq!(harness.state()["state_hash"], expected);
    let mut admin = harness.admin();
    assert_eq!(submit(&mut admin, &open(3), None).status, 200);
    harness.restart();
    assert_eq!(harness.server().recovered_seq(), 13);
    assert_eq!(harness.server().replayed(), 1);
}

fn a_journal_of_another_venue_refuses_to_start(backend: Backend) {
    let mut harness = Harness::new(backend);
    assert_eq!(submit(&mut harness.admin(), &open(1), None).status, 200);
    harness.stop();
    let mut config = harness.config.clone();
    config.venue_toml = backstop_testkit::venues::DUTCH_AUCTION_TOML.to_owned();
    match backstop_server::start(config) {
        Ok(_) => panic!("a server started on another venue's journal"),
        Err(error) => assert!(matches!(error, backstop_server::StartError::Ledger(_)), "{error}"),
    }
    let mut config = harness.config.clone();
    config.venue_toml = "[venue".to_owned();
    assert!(matches!(backstop_server::start(config), Err(backstop_server::StartError::Config(_))));
    // The right venue still starts.
    harness.restart();
    assert_eq!(harness.seq(), 1);
}

fn a_second_server_on_the_same_journal_refuses_to_start(backend: Backend) {
    let harness = Harness::new(backend);
    assert_eq!(submit(&mut harness.admin(), &open(1), None).status, 200);
    // Same journal, another port: two writers would race for every seq, so the second refuses
    // (after waiting for the lock) and the first goes on serving.
    match backstop_server::start(harness.config.clone()) {
        Ok(_) => panic!("a second writer started on the same journal"),
        Err(backstop_server::StartError::Ledger(error)) => {
            assert!(matches!(error, backstop_ledger::LedgerError::WriterLocked { .. }), "{error}");
        }
        Err(other) => panic!("expected the writer lock to refuse, got {other}"),
    }
    assert_eq!(submit(&mut harness.admin(), &open(2), None).status, 200);
    assert_eq!(harness.seq(), 2);
}

fn state_reads_match_an_in_memory_engine(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    let commands = support::script(
        "advance_time now=60\nset_price asset=USDC price=1\nset_price asset=ETH price=2000\n\
         open_account account=1\nopen_account account=3\ndeposit account=1 asset=USDC amount=100000\n\
         deposit account=3 asset=USDC amount=20000\ntrade market=ETH-PERP taker=3 maker=1 size=2 price=2000\n",
    );
    let bodies: Vec<Value> = commands.iter().map(support::json_of).collect();
    let response = submit_batch(&mut admin, &bodies);
    assert_eq!(response.status, 200, "{}", response.text());
    let state = harness.state();
    assert_eq!(state["state_hash"], support::in_memory_hash(&commands));
    assert_eq!(state["now"], 60);
    assert_eq!(state["accounts"], 2);
    assert_eq!(state["venue"], "lending-perp");
    let markets = admin.get("/v1/markets").expect("GET markets").json();
    assert_eq!(markets["prices"][1]["symbol"], "ETH");
    assert_eq!(
        markets["prices"][1]["price"]
            .as_str()
            .and_then(|p| p.parse::<backstop_money::Price>().ok()),
        "2000".parse().ok()
    );
    assert_eq!(markets["perps"][0]["name"], "ETH-PERP");
    assert_eq!(markets["lending"].as_array().map(Vec::len), Some(2));
    let account = admin.get("/v1/accounts/3").expect("GET account").json();
    assert_eq!(account["liquidatable"], false);
    assert!(account["health"]["maintenance_margin"].is_string(), "{account}");
}

fn keys_are_made_listed_and_revoked_over_http(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    let created =
        admin.post_json("/v1/keys", &json!({"role": "oracle", "label": "feed"})).expect("POST key");
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let key = created["key"].as_str().expect("key").to_owned();
    let hash = created["key_hash"].as_str().expect("hash").to_owned();
    assert_eq!(hash, backstop_server::hash_key(&key));
    assert_eq!(created["role"], "oracle");
    let listed = admin.get("/v1/keys").expect("GET keys").json();
    let entry = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["key_hash"] == hash.as_str())
        .cloned();
    assert_eq!(entry.as_ref().map(|e| e["label"].clone()), Some(json!("feed")));
    assert!(!listed.to_string().contains(&key), "a listed key shows the key itself");
    let mut oracle = harness.client(&key);
    let priced =
        submit(&mut oracle, &json!({"type": "set_price", "asset": 1, "price": "2000"}), None);
    assert_eq!(priced.status, 200, "{}", priced.text());
    let revoked = admin.delete(&format!("/v1/keys/{hash}")).expect("DELETE key");
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["revoked"], true);
    let refused =
        submit(&mut oracle, &json!({"type": "set_price", "asset": 1, "price": "2001"}), None);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.error_code().as_deref(), Some("invalid_api_key"));
    let again = admin.delete(&format!("/v1/keys/{hash}")).expect("DELETE key");
    assert_eq!(again.status, 404);
    let bad_role = admin.post_json("/v1/keys", &json!({"role": "root"})).expect("POST key");
    assert_eq!(bad_role.status, 400);
    assert_eq!(bad_role.error_code().as_deref(), Some("invalid_value"));
    // Labels are short printable text (PostgreSQL cannot even store a NUL): 400, not 503.
    for label in ["a\u{0}b".to_owned(), "two\nlines".to_owned(), "x".repeat(257)] {
        let refused = admin
            .post_json("/v1/keys", &json!({"role": "user", "label": label}))
            .expect("POST key");
        assert_eq!(refused.status, 400, "{label:?}: {}", refused.text());
        assert_eq!(refused.error_code().as_deref(), Some("invalid_value"));
    }
    // A hash that is not 64 lowercase hex digits names no key: 400, not 503.
    for malformed in ["%00", "a%00b", &hash.to_uppercase(), &hash[..63]] {
        let refused = admin.delete(&format!("/v1/keys/{malformed}")).expect("DELETE key");
        assert_eq!(refused.status, 400, "{malformed}: {}", refused.text());
        assert_eq!(refused.error_code().as_deref(), Some("invalid_value"));
    }
    let keys = admin.get("/v1/keys").expect("GET keys").json()["keys"].clone();
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "only the admin key is left: {keys}");
    assert_eq!(harness.seq(), 1);
}

/// Keys added or revoked in the database by `backstop keys` while the server runs take effect
/// within the refresh interval (a revoked key is refused, not just forgotten at restart).
fn keys_changed_outside_the_server_take_effect_while_it_runs(backend: Backend) {
    let harness = Harness::new(backend);
    let key = support::add_key(&harness.db.location, "keeper", &[]);
    let mut keeper = harness.client(&key);
    let until = |want: u16, keeper: &mut backstop_testkit::http::Client| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let status = keeper.get("/v1/state").expect("GET state").status;
            if status == want {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "still {status}, want {want}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    until(200, &mut keeper);
    let mut ledger = backstop_ledger::Ledger::open(&harness.db.location).expect("open the journal");
    assert_eq!(ledger.revoke_api_key(&backstop_server::hash_key(&key)), Ok(true));
    drop(ledger);
    until(401, &mut keeper);
    let refused = keeper.get("/v1/state").expect("GET state");
    assert_eq!(refused.error_code().as_deref(), Some("invalid_api_key"));
}

fn health_reports_the_head_and_backend(backend: Backend) {
    let harness = Harness::new(backend);
    assert_eq!(submit(&mut harness.admin(), &open(1), None).status, 200);
    let health = harness.anonymous().get("/healthz").expect("GET healthz");
    assert_eq!(health.status, 200);
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(health.json(), json!({"status": "ok", "seq": 1, "backend": expected}));
}

fn every_read_route_answers_with_the_seq_it_was_read_at(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    assert_eq!(submit(&mut admin, &open(1), None).status, 200);
    for (path, field) in [
        ("/v1/markets", "prices"),
        ("/v1/funds", "funds"),
        ("/v1/pools", "staker_pools"),
        ("/v1/cover", "covers"),
        ("/v1/deficits", "pending"),
        ("/v1/proposals", "proposals"),
        ("/v1/claims", "claims"),
    ] {
        let response = admin.get(path).expect("GET");
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        let body = response.json();
        assert_eq!(body["seq"], 1, "{path}");
        assert!(body[field].is_array(), "{path}: {body}");
    }
}
