//! Crash test of `backstop serve`: the real binary is SIGKILLed at random points while a client
//! submits batches; the client resubmits every batch that was not acknowledged, with the same
//! idempotency keys, until it is. At the end no acknowledged command is lost, none is applied
//! twice, the journal holds exactly the planned commands in order, and the state hash equals an
//! in-memory run of the same commands and what `backstop replay` prints.
//!
//! SQLite runs by default; the same body runs on PostgreSQL when `BACKSTOP_TEST_PG` is set (the
//! test is `#[ignore]`d and fails without it).

use backstop_core::{AccountId, AssetId, Command, Engine, PerpMarketId, VenueConfig};
use backstop_ledger::{Batch, Outcome, to_hex};
use backstop_money::{Amount, Price};
use backstop_testkit::http::Client;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The venue: USDC and ETH lending plus an ETH perpetual.
const VENUE: &str = backstop_testkit::venues::LENDING_PERP_TOML;
/// Seed of the command list, batch sizes and kill points.
const SEED: u64 = 0x00c0_ffee_0006;
/// Roughly how many batches the client sends (the plan has this many times the mean batch size
/// of commands; 175 batches with this seed).
const BATCHES: usize = 180;
/// Largest batch.
const MAX_BATCH: usize = 12;
/// SIGKILLs during the run.
const KILLS: usize = 5;
/// `--snapshot-every`: small, so restarts load a snapshot and replay a few entries after it.
const SNAPSHOT_EVERY: u64 = 5;
/// Accounts the plan opens (ids 1..=ACCOUNTS); ids above are never opened.
const ACCOUNTS: u64 = 8;
/// The USDC asset of [`VENUE`].
const USDC: AssetId = AssetId(0);
/// The ETH asset of [`VENUE`].
const ETH: AssetId = AssetId(1);
/// The ETH perpetual of [`VENUE`].
const ETH_PERP: PerpMarketId = PerpMarketId(0);

#[test]
fn sigkill_loses_no_acknowledged_command_and_applies_none_twice_on_sqlite() {
    let dir = Scratch::new("sqlite");
    let db = dir.path().join("journal.db").display().to_string();
    crash_run(&dir, &db);
}

#[test]
#[ignore = "needs PostgreSQL (BACKSTOP_TEST_PG)"]
fn sigkill_loses_no_acknowledged_command_and_applies_none_twice_on_postgres() {
    let dir = Scratch::new("postgres");
    let database = PgDatabase::create();
    crash_run(&dir, &database.url);
}

// ---------------------------------------------------------------------------------------------
// The plan: a seeded list of commands cut into batches, and the expected run.

/// One command to submit and its idempotency key.
#[derive(Debug, Clone, PartialEq)]
struct Keyed {
    command: Command,
    key: String,
}

/// The batches the client submits, in order.
fn plan(seed: u64) -> Vec<Vec<Keyed>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut commands = vec![
        Command::AdvanceTime { now: 60 },
        Command::SetPrice { asset: USDC, price: price(1) },
        Command::SetPrice { asset: ETH, price: price(2000) },
    ];
    for account in 1..=ACCOUNTS {
        commands
            .push(Command::OpenAccount { account: AccountId(account), kind: Default::default() });
    }
    // A lender, so that borrows have cash to draw.
    commands.push(Command::Deposit {
        account: AccountId(1),
        asset: USDC,
        amount: units(1_000_000),
    });
    commands.push(Command::Supply { account: AccountId(1), asset: USDC, amount: units(600_000) });
    let mut now = 60;
    let mut eth_price: i128 = 2000;
    let total: usize = BATCHES * (MAX_BATCH + 1) / 2;
    while commands.len() < total {
        let account = AccountId(rng.random_range(1..=ACCOUNTS));
        let asset = if rng.random_bool(0.5) { USDC } else { ETH };
        let command = match rng.random_range(0..100u32) {
            // Deposits: applying one twice changes the state hash.
            0..35 => {
                let amount = match asset {
                    USDC => cents(rng.random_range(1..500_000)),
                    _ => cents(rng.random_range(1..1_000)),
                };
                Command::Deposit { account, asset, amount }
            }
            35..43 => Command::Supply {
                account,
                asset: USDC,
                amount: cents(rng.random_range(100..200_000)),
            },
            // Borrows: small ones pass against ETH collateral, large ones are refused.
            43..53 => {
                Command::Borrow { account, asset: USDC, amount: units(rng.random_range(1..20_000)) }
            }
            53..62 => {
                Command::Withdraw { account, asset, amount: cents(rng.random_range(1..100_000)) }
            }
            62..66 => {
                Command::Repay { account, asset: USDC, amount: units(rng.random_range(1..5_000)) }
            }
            66..76 => {
                eth_price = (eth_price + rng.random_range(-40..=40)).clamp(1_500, 2_500);
                Command::SetPrice { asset: ETH, price: price(eth_price) }
            }
            76..84 => {
                now += rng.random_range(1..120);
                Command::AdvanceTime { now }
            }
            84..90 => {
                let maker = AccountId(rng.random_range(1..=ACCOUNTS));
                let size = cents(rng.random_range(-300..=300));
                Command::Trade {
                    market: ETH_PERP,
                    taker: account,
                    maker,
                    size,
                    price: price(eth_price),
                }
            }
            90..95 => {
                // Rejected: the account was never opened.
                let ghost = AccountId(rng.random_range(ACCOUNTS + 1..ACCOUNTS + 5));
                Command::Deposit { account: ghost, asset, amount: units(1) }
            }
            // Rejected: opening an account twice.
            _ => Command::OpenAccount { account, kind: Default::default() },
        };
        commands.push(command);
    }
    let mut keyed = commands
        .into_iter()
        .enumerate()
        .map(|(i, command)| Keyed { command, key: format!("crash-{seed:x}-{i:05}") });
    let mut batches = Vec::new();
    loop {
        let size = rng.random_range(1..=MAX_BATCH);
        let batch: Vec<Keyed> = keyed.by_ref().take(size).collect();
        if batch.is_empty() {
            return batches;
        }
        batches.push(batch);
    }
}

fn units(n: i128) -> Amount {
    Amount::from_units(n).expect("a small whole amount fits")
}

fn cents(n: i128) -> Amount {
    Amount::from_raw(n * 10_000_000_000_000_000)
}

fn price(n: i128) -> Price {
    Price::from_units(n).expect("a small whole price fits")
}

/// The engine the journal must match.
fn venue_engine() -> Engine {
    let config = VenueConfig::from_toml_str(VENUE).expect("the testkit venue parses");
    Engine::new(config).expect("the testkit venue is valid")
}

/// What the journal must hold: for each batch, the outcomes and the state hash after it.
struct Expected {
    outcomes: Vec<Vec<Outcome>>,
    state_hashes: Vec<String>,
    final_hash: String,
}

/// Applies the plan to an in-memory engine, batch by batch.
fn expected_run(plan: &[Vec<Keyed>]) -> Expected {
    let mut engine = venue_engine();
    let mut outcomes = Vec::new();
    let mut state_hashes = Vec::new();
    for batch in plan {
        outcomes.push(batch.iter().map(|k| Outcome::of(&engine.apply(&k.command))).collect());
        state_hashes.push(to_hex(&engine.state_hash()));
    }
    let final_hash = to_hex(&engine.state_hash());
    Expected { outcomes, state_hashes, final_hash }
}

#[test]
fn the_plan_mixes_applied_and_rejected_commands_and_deposits_change_the_hash() {
    let batches = plan(SEED);
    assert_eq!(batches, plan(SEED), "the plan is a function of the seed");
    let plan = batches;
    let expected = expected_run(&plan);
    let all: Vec<&Outcome> = expected.outcomes.iter().flatten().collect();
    let rejected = all.iter().filter(|o| !o.is_applied()).count();
    let applied = all.len() - rejected;
    let mut by_kind = std::collections::BTreeMap::<(&str, bool), usize>::new();
    for (keyed, outcome) in plan.iter().flatten().zip(all.iter()) {
        *by_kind.entry((kind(&keyed.command), outcome.is_applied())).or_default() += 1;
    }
    eprintln!(
        "{} batches, {} commands, (kind, applied) → count: {by_kind:?}",
        plan.len(),
        all.len()
    );
    // Enough of both that a lost or doubled command shows, and enough to outlast the kills.
    assert!(applied >= all.len() / 2, "{applied} applied of {}", all.len());
    assert!(rejected >= 40, "{rejected} rejected of {}", all.len());
    assert!(plan.len() >= 150, "{} batches", plan.len());
    for name in
        ["deposit", "supply", "borrow", "withdraw", "repay", "set_price", "advance_time", "trade"]
    {
        let applied_kind = plan
            .iter()
            .flatten()
            .zip(all.iter())
            .any(|(k, o)| o.is_applied() && kind(&k.command) == name);
        assert!(applied_kind, "no applied {name} in the plan");
    }
    // A deposit applied twice changes the state hash: a duplicate could not go unnoticed.
    let mut engine = venue_engine();
    let deposit = plan
        .iter()
        .flatten()
        .zip(all.iter())
        .position(|(k, o)| o.is_applied() && matches!(k.command, Command::Deposit { .. }))
        .expect("an applied deposit");
    let flat: Vec<&Keyed> = plan.iter().flatten().collect();
    for keyed in &flat[..=deposit] {
        let _ = engine.apply(&keyed.command);
    }
    let once = engine.state_hash();
    let _ = engine.apply(&flat[deposit].command);
    assert_ne!(engine.state_hash(), once);
    // Keys are unique.
    let keys: HashSet<&str> = flat.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys.len(), flat.len());
}

/// The command's `type` tag, for the kinds the plan uses.
fn kind(command: &Command) -> &'static str {
    match command {
        Command::Deposit { .. } => "deposit",
        Command::Supply { .. } => "supply",
        Command::Borrow { .. } => "borrow",
        Command::Withdraw { .. } => "withdraw",
        Command::Repay { .. } => "repay",
        Command::SetPrice { .. } => "set_price",
        Command::AdvanceTime { .. } => "advance_time",
        Command::Trade { .. } => "trade",
        Command::OpenAccount { .. } => "open_account",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------------------------
// The run.

/// Statistics of one run.
#[derive(Debug, Default)]
struct Stats {
    kills: AtomicUsize,
    kills_in_flight: AtomicUsize,
    restarts: AtomicUsize,
    resubmissions: AtomicUsize,
    acked_as_duplicates: AtomicUsize,
    busy_answers: AtomicUsize,
}

/// What the server acknowledged for one command.
#[derive(Debug, Clone, PartialEq)]
struct Ack {
    seq: u64,
    index: u32,
    status: String,
    duplicate: bool,
    body: Value,
}

fn crash_run(dir: &Scratch, db: &str) {
    let started = Instant::now();
    let venue = dir.path().join("venue.toml");
    std::fs::write(&venue, VENUE).expect("writing the venue file");
    let key = add_admin_key(db);
    let server = Arc::new(Supervisor::start(dir, db, &venue));
    let plan = plan(SEED);
    let expected = expected_run(&plan);
    let stats = Arc::new(Stats::default());
    let acked_batches = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    // Whatever happens below (a failed assertion included), the killer stops and the server
    // process does not outlive the test.
    let _cleanup = Cleanup { server: Arc::clone(&server), done: Arc::clone(&done) };

    let killer = {
        let server = Arc::clone(&server);
        let stats = Arc::clone(&stats);
        let acked_batches = Arc::clone(&acked_batches);
        let in_flight = Arc::clone(&in_flight);
        let done = Arc::clone(&done);
        let points = kill_points(SEED, plan.len());
        std::thread::spawn(move || {
            for (after_batches, delay) in points {
                // Wait for the client to get this far (so every kill follows a restart and an
                // acknowledged batch), then a seeded moment more.
                while acked_batches.load(Ordering::SeqCst) < after_batches {
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                std::thread::sleep(delay);
                server.kill(&stats, in_flight.load(Ordering::SeqCst));
            }
        })
    };

    let mut acks: Vec<Vec<Ack>> = Vec::with_capacity(plan.len());
    for (number, batch) in plan.iter().enumerate() {
        let body = batch_body(batch);
        let mut attempts = 0u32;
        let response = loop {
            attempts += 1;
            assert!(attempts < 200, "batch {number} never acknowledged");
            if attempts > 1 {
                stats.resubmissions.fetch_add(1, Ordering::SeqCst);
            }
            let url = server.url();
            in_flight.store(true, Ordering::SeqCst);
            let answer = post(&url, "/v1/batches", &key, &body);
            in_flight.store(false, Ordering::SeqCst);
            match answer {
                Ok((200, json)) => break json,
                Ok((503, _)) => {
                    // Not acknowledged (queue full, journal unavailable): try again.
                    stats.busy_answers.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok((status, json)) => panic!("batch {number}: unexpected {status}: {json}"),
                Err(error) => server.recover_after_error(&stats, &error),
            }
        };
        let results = response["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            results.len(),
            batch.len(),
            "batch {number}: one result per command: {response}"
        );
        let batch_acks: Vec<Ack> = results
            .iter()
            .map(|r| Ack {
                seq: r["seq"].as_u64().expect("seq"),
                index: u32::try_from(r["index"].as_u64().expect("index")).expect("index fits"),
                status: r["status"].as_str().expect("status").to_owned(),
                duplicate: r["duplicate"].as_bool().expect("duplicate"),
                body: r.clone(),
            })
            .collect();
        let duplicates = batch_acks.iter().filter(|a| a.duplicate).count();
        // A batch is one journal entry: after a crash it is either all there or not at all.
        assert!(
            duplicates == 0 || duplicates == batch.len(),
            "batch {number}: {duplicates} of {} duplicates: {response}",
            batch.len()
        );
        if duplicates > 0 {
            stats.acked_as_duplicates.fetch_add(1, Ordering::SeqCst);
        }
        acks.push(batch_acks);
        acked_batches.fetch_add(1, Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    killer.join().expect("the killer thread ends");

    // The final state as the last server sees it, then once more after a restart.
    let state = get(&server.url(), "/v1/state", &key).expect("GET /v1/state");
    let journal = read_journal(&server.url(), &key);
    server.kill(&stats, false);
    server.restart(&stats);
    // Resubmitting acknowledged batches to the restarted server (its key map rebuilt from the
    // journal) applies nothing and answers as the first time.
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 0x0072_6574_7279);
    for _ in 0..5 {
        let number = rng.random_range(0..plan.len());
        let (status, json) = post(&server.url(), "/v1/batches", &key, &batch_body(&plan[number]))
            .expect("a resubmission");
        assert_eq!(status, 200, "{json}");
        let results = json["results"].as_array().expect("results");
        assert_eq!(results.len(), acks[number].len());
        for (result, ack) in results.iter().zip(&acks[number]) {
            assert_eq!(result["duplicate"], json!(true), "batch {number}: {result}");
            let mut first = ack.body.clone();
            first["duplicate"] = json!(true);
            assert_eq!(result, &first, "batch {number}: the original answer");
        }
    }
    let state_after_restart = get(&server.url(), "/v1/state", &key).expect("GET /v1/state");
    server.stop();
    let from_genesis = replay(db, &[]);
    let from_snapshot = replay(db, &["--from-snapshot"]);

    let stats = &*stats;
    eprintln!("crash test: {stats:?} in {:.1?}", started.elapsed());
    check_journal(&plan, &expected, &acks, &journal);
    let total: usize = plan.iter().map(Vec::len).sum();
    assert_eq!(state.1["seq"].as_u64(), Some(plan.len() as u64), "{}", state.1);
    assert_eq!(
        state.1["state_hash"].as_str(),
        Some(expected.final_hash.as_str()),
        "/v1/state vs in-memory"
    );
    assert_eq!(state_after_restart.1["state_hash"], state.1["state_hash"], "after a clean restart");
    for replayed in [&from_genesis, &from_snapshot] {
        assert_eq!(
            replayed.get("state_hash"),
            Some(&expected.final_hash),
            "backstop replay vs in-memory: {replayed:?}"
        );
        assert_eq!(replayed.get("commands"), Some(&total.to_string()), "{replayed:?}");
        assert_eq!(replayed.get("seq"), Some(&plan.len().to_string()), "{replayed:?}");
    }
    // Every restart recovered from the journal: every other one re-applied it all from genesis,
    // the others (`--from-snapshot`) loaded a snapshot and replayed the entries after it.
    let starts = server.starts();
    assert_eq!(starts.len(), stats.restarts.load(Ordering::SeqCst) + 1, "{starts:?}");
    for (index, start) in starts.iter().enumerate() {
        if index % 2 == 0 {
            assert_eq!((start.snapshot, start.replayed), (None, start.seq), "{starts:?}");
        } else {
            assert!(start.snapshot.is_some(), "{starts:?}");
        }
    }
    eprintln!("starts (seq, snapshot, replayed): {starts:?}");
    // The kills happened, at least one of them mid-request, and the server came back each time.
    assert_eq!(stats.kills.load(Ordering::SeqCst), KILLS + 1, "planned kills plus the final one");
    assert!(
        stats.kills_in_flight.load(Ordering::SeqCst) >= 1,
        "no kill hit a request in flight: {stats:?}"
    );
    assert!(stats.restarts.load(Ordering::SeqCst) > KILLS, "{stats:?}");
    assert!(stats.resubmissions.load(Ordering::SeqCst) >= 1, "{stats:?}");
}

/// Stops the killer and the server when dropped, also while unwinding from a failure.
struct Cleanup {
    server: Arc<Supervisor>,
    done: Arc<AtomicBool>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        self.server.stop();
    }
}

/// Seeded kill points: after how many acknowledged batches, and how long after that.
fn kill_points(seed: u64, batches: usize) -> Vec<(u64, Duration)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b69_6c6c);
    let span = (batches - 10) / KILLS;
    (0..KILLS)
        .map(|i| {
            let after = 5 + i * span + rng.random_range(0..span);
            let delay = Duration::from_micros(rng.random_range(0..6_000));
            (after as u64, delay)
        })
        .collect()
}

/// The request body of a batch.
fn batch_body(batch: &[Keyed]) -> String {
    let commands: Vec<Value> =
        batch.iter().map(|k| json!({"command": k.command, "idempotency_key": k.key})).collect();
    json!({ "commands": commands }).to_string()
}

/// The journal's batches from `/v1/events`, page by page.
fn read_journal(url: &str, key: &str) -> Vec<Batch> {
    #[derive(Deserialize)]
    struct Page {
        head: u64,
        batches: Vec<Batch>,
    }
    let mut batches: Vec<Batch> = Vec::new();
    loop {
        let since = batches.last().map_or(0, |b| b.seq);
        let (status, json) =
            get(url, &format!("/v1/events?since={since}&limit=50"), key).expect("GET /v1/events");
        assert_eq!(status, 200, "{json}");
        let page: Page = serde_json::from_value(json).expect("an events page");
        if page.batches.is_empty() {
            assert_eq!(since, page.head, "events stop before the head");
            return batches;
        }
        batches.extend(page.batches);
    }
}

/// Asserts (1) every acknowledged command is in the journal where and as acknowledged, and
/// (2) the journal holds exactly the planned commands, each key once, in order, with the
/// outcomes and state hashes of the in-memory run.
fn check_journal(plan: &[Vec<Keyed>], expected: &Expected, acks: &[Vec<Ack>], journal: &[Batch]) {
    assert_eq!(
        journal.len(),
        plan.len(),
        "one journal entry per planned batch: none lost, none twice"
    );
    let mut keys_seen = HashSet::new();
    for (number, ((batch, entry), batch_acks)) in plan.iter().zip(journal).zip(acks).enumerate() {
        assert_eq!(entry.seq, number as u64 + 1, "journal seqs are contiguous from 1");
        let commands: Vec<&Command> = batch.iter().map(|k| &k.command).collect();
        assert_eq!(entry.commands.iter().collect::<Vec<_>>(), commands, "batch {number}: commands");
        let keys: Vec<Option<String>> = batch.iter().map(|k| Some(k.key.clone())).collect();
        assert_eq!(entry.keys, keys, "batch {number}: keys");
        for key in batch {
            assert!(keys_seen.insert(key.key.clone()), "key {} journaled twice", key.key);
        }
        assert_eq!(
            entry.outcomes, expected.outcomes[number],
            "batch {number}: outcomes vs in-memory"
        );
        assert_eq!(
            to_hex(&entry.state_hash),
            expected.state_hashes[number],
            "batch {number}: state hash"
        );
        for (index, ack) in batch_acks.iter().enumerate() {
            assert_eq!(
                (ack.seq, ack.index as usize),
                (entry.seq, index),
                "batch {number}: acked position"
            );
            let outcome = &entry.outcomes[index];
            let status = if outcome.is_applied() { "applied" } else { "rejected" };
            assert_eq!(ack.status, status, "batch {number} command {index}: acked status");
            match outcome {
                Outcome::Applied { events } => {
                    let journaled =
                        Value::from(events.to_values().expect("journaled events parse"));
                    assert_eq!(ack.body["events"], journaled, "acked events");
                }
                Outcome::Rejected { code, .. } => {
                    assert_eq!(ack.body["code"], json!(code), "acked code")
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server process.

/// The running server process, restarted on the same database after each kill.
struct Supervisor {
    bin: PathBuf,
    db: String,
    venue: PathBuf,
    log: PathBuf,
    slot: Mutex<Slot>,
    /// Starts so far: every other one is `--from-snapshot`, the rest verify from genesis.
    spawns: AtomicUsize,
}

struct Slot {
    child: Option<Child>,
    url: String,
    /// Killed by the test and not yet restarted.
    killed: bool,
}

impl Supervisor {
    fn start(dir: &Scratch, db: &str, venue: &Path) -> Supervisor {
        let supervisor = Supervisor {
            bin: PathBuf::from(env!("CARGO_BIN_EXE_backstop")),
            db: db.to_owned(),
            venue: venue.to_owned(),
            log: dir.path().join("server.log"),
            slot: Mutex::new(Slot { child: None, url: String::new(), killed: false }),
            spawns: AtomicUsize::new(0),
        };
        let (child, url) = supervisor.spawn();
        *supervisor.lock() = Slot { child: Some(child), url, killed: false };
        supervisor
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn url(&self) -> String {
        self.lock().url.clone()
    }

    /// Starts `backstop serve` and waits for its `listening on http://ADDR` line.
    fn spawn(&self) -> (Child, String) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("opening the server log");
        let mut child = std::process::Command::new(&self.bin)
            .arg("serve")
            .arg("--db")
            .arg(&self.db)
            .arg("--config")
            .arg(&self.venue)
            .args(["--listen", "127.0.0.1:0", "--snapshot-every", &SNAPSHOT_EVERY.to_string()])
            .args(if self.spawns.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
                &["--from-snapshot"][..]
            } else {
                &[]
            })
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawning backstop serve");
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("backstop serve has no piped stdout");
        };
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        let url = loop {
            line.clear();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!(
                        "backstop serve exited before listening ({status:?}):\n{}",
                        self.log_text()
                    );
                }
                Ok(_) => {
                    if let Some(url) = line.trim().strip_prefix("listening on ") {
                        break url.to_owned();
                    }
                }
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        (child, url)
    }

    /// SIGKILLs the server (no-op if it is already down).
    fn kill(&self, stats: &Stats, in_flight: bool) {
        let mut slot = self.lock();
        if slot.killed {
            return;
        }
        if let Some(child) = slot.child.as_mut() {
            child.kill().expect("SIGKILL the server");
            let _ = child.wait();
        }
        slot.killed = true;
        stats.kills.fetch_add(1, Ordering::SeqCst);
        if in_flight {
            stats.kills_in_flight.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Starts the server again on the same database after a kill.
    fn restart(&self, stats: &Stats) {
        let mut slot = self.lock();
        Self::restart_locked(self, &mut slot, stats);
    }

    fn restart_locked(&self, slot: &mut Slot, stats: &Stats) {
        let (child, url) = self.spawn();
        slot.child = Some(child);
        slot.url = url;
        slot.killed = false;
        stats.restarts.fetch_add(1, Ordering::SeqCst);
    }

    /// After a failed request: restarts the server if the test killed it; fails the test if it
    /// died on its own; otherwise (a transient error) lets the client retry.
    fn recover_after_error(&self, stats: &Stats, error: &str) {
        let mut slot = self.lock();
        if slot.killed {
            self.restart_locked(&mut slot, stats);
            return;
        }
        if let Some(child) = slot.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("the server died on its own ({status}) after {error}:\n{}", self.log_text());
        }
        drop(slot);
        std::thread::sleep(Duration::from_millis(5));
    }

    /// Stops the server for good.
    fn stop(&self) {
        let mut slot = self.lock();
        if let Some(mut child) = slot.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        slot.killed = true;
    }

    /// What each start of the server recovered, from its log line `backstop serve: journal on
    /// BACKEND at seq N (snapshot at seq S + K entries replayed | K entries replayed)`.
    fn starts(&self) -> Vec<Start> {
        self.log_text()
            .lines()
            .filter_map(|line| line.split_once(" at seq "))
            .filter(|(head, _)| head.starts_with("backstop serve: journal on"))
            .map(|(_, rest)| {
                let numbers: Vec<u64> = rest
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse().ok())
                    .collect();
                match numbers[..] {
                    [seq, snapshot, replayed] => Start { seq, snapshot: Some(snapshot), replayed },
                    [seq, replayed] => Start { seq, snapshot: None, replayed },
                    _ => panic!("unexpected start line: {rest}"),
                }
            })
            .collect()
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What one start of the server recovered.
#[derive(Debug)]
#[allow(dead_code, reason = "the fields are read through Debug in failure messages")]
struct Start {
    seq: u64,
    snapshot: Option<u64>,
    replayed: u64,
}

/// `backstop keys add --role admin`: the new key, from the token starting with `bsk_`.
fn add_admin_key(db: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(["keys", "add", "--db", db, "--role", "admin", "--label", "crash-test"])
        .output()
        .expect("running backstop keys add");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "keys add failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|token| token.starts_with("bsk_"))
        .unwrap_or_else(|| panic!("no key in: {stdout}"))
        .to_owned()
}

/// `backstop replay --db DB [extra]`: its `name: value` output lines (exit 0 asserted).
fn replay(db: &str, extra: &[&str]) -> std::collections::BTreeMap<String, String> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(["replay", "--db", db])
        .args(extra)
        .output()
        .expect("running backstop replay");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "replay failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// HTTP, through the testkit's client: a fresh connection per request, so a kill never leaves a
// stale keep-alive connection behind.

/// A client for the server at `url` (`http://ADDR`).
fn client(url: &str, key: &str) -> Result<Client, String> {
    let addr = url.strip_prefix("http://").unwrap_or(url);
    let addr = addr.parse().map_err(|e| format!("server address {addr:?}: {e}"))?;
    Ok(Client::new(addr).with_key(key))
}

/// `POST path` with a JSON body: the status and the JSON answer, or an error for anything that
/// is not a complete response (connection refused, reset, cut short).
fn post(url: &str, path: &str, key: &str, body: &str) -> Result<(u16, Value), String> {
    let headers = [("content-type", "application/json")];
    let response = client(url, key)?
        .request("POST", path, &headers, Some(body.as_bytes()))
        .map_err(|e| e.to_string())?;
    parse(response.status, &response.body)
}

/// `GET path`: the status and the JSON answer.
fn get(url: &str, path: &str, key: &str) -> Result<(u16, Value), String> {
    let response = client(url, key)?.get(path).map_err(|e| e.to_string())?;
    parse(response.status, &response.body)
}

fn parse(status: u16, body: &[u8]) -> Result<(u16, Value), String> {
    serde_json::from_slice(body)
        .map(|json| (status, json))
        .map_err(|e| format!("{status}: body: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Scratch space and a fresh PostgreSQL database.

/// A temporary directory, removed when dropped unless the test failed (it then keeps the
/// server's log, `server.log`).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let path = std::env::temp_dir().join(unique_name(&format!("backstop_crash_{tag}")));
        std::fs::create_dir_all(&path).expect("creating a scratch directory");
        Scratch(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A new database on the `BACKSTOP_TEST_PG` server, dropped (best effort) at the end.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create() -> PgDatabase {
        let admin_url = std::env::var("BACKSTOP_TEST_PG")
            .expect("BACKSTOP_TEST_PG is not set: this test needs PostgreSQL (run .ci/postgres)");
        let name = unique_name("backstop_crash");
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {admin_url}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        PgDatabase { admin_url, name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// The URL with its database path replaced (query parameters kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}
