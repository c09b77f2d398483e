//! `serve` and `replay` on a damaged journal: an entry edited before the newest snapshot, a lost
//! tail, a lost genesis, a flipped bit in the SQLite WAL after SIGKILL. Each is refused with exit
//! code 1 and a message naming the batch, and `serve` never starts a fresh journal over it.
//!
//! The tests that take a location run on SQLite and, `#[ignore]`d unless asked for, on the
//! PostgreSQL server of `BACKSTOP_TEST_PG`.

use backstop_testkit::http::Client;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_backstop");

/// A scratch directory removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(unique_name(&format!("backstop-faults-{name}")));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A name no other test run uses.
fn unique_name(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A journal: a SQLite file in a scratch directory, or a fresh PostgreSQL database.
enum Journal {
    Sqlite { _scratch: Scratch, path: PathBuf },
    Postgres { admin_url: String, name: String, url: String },
}

impl Journal {
    fn sqlite(name: &str) -> Journal {
        let scratch = Scratch::new(name);
        let path = scratch.0.join("journal.db");
        Journal::Sqlite { _scratch: scratch, path }
    }

    fn postgres() -> Journal {
        let admin_url = std::env::var("BACKSTOP_TEST_PG")
            .expect("BACKSTOP_TEST_PG is not set: this test needs PostgreSQL (run .ci/postgres)");
        let name = unique_name("backstop_faults");
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {admin_url}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        let base = admin_url.split_once('?').map_or(admin_url.as_str(), |(base, _)| base);
        let slash = base.rfind('/').expect("a database in the URL");
        let query = admin_url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
        let url = format!("{}/{name}{query}", &base[..slash]);
        Journal::Postgres { admin_url, name, url }
    }

    fn location(&self) -> String {
        match self {
            Journal::Sqlite { path, .. } => path.display().to_string(),
            Journal::Postgres { url, .. } => url.clone(),
        }
    }

    /// Runs raw SQL (to tamper), returning rows changed.
    fn exec(&self, sql: &str) -> u64 {
        match self {
            Journal::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open the journal");
                u64::try_from(conn.execute(sql, []).unwrap_or_else(|e| panic!("{sql}: {e}")))
                    .expect("a count")
            }
            Journal::Postgres { url, .. } => {
                let mut client = postgres::Client::connect(url, postgres::NoTls)
                    .expect("connect to the journal");
                client.execute(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Journal::Postgres { admin_url, name, .. } = self
            && let Ok(mut admin) = postgres::Client::connect(admin_url, postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The venue of the examples.
fn venue() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/venue.toml")
}

/// Runs the binary to completion.
fn backstop(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `serve` command line on `db`.
fn serve_command(db: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--db", db, "--config", &venue().display().to_string()])
        .args(["--listen", "127.0.0.1:0"])
        .args(extra);
    command
}

/// A running `serve` and its address.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    fn start(db: &str, extra: &[&str]) -> Served {
        let mut child = serve_command(db, extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("stdout readable");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("serve did not start: first line {line:?}"));
        Served { child, addr }
    }

    /// SIGKILL.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("the child is reaped");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve` must refuse to start: exit code 1, nothing on stdout; returns stderr.
fn serve_refuses(db: &str, extra: &[&str]) -> String {
    let output = serve_command(db, extra).output().expect("serve runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "serve {extra:?}: {stderr}");
    assert_eq!(text(&output.stdout), "", "serve listened on a damaged journal: {stderr}");
    stderr
}

/// `replay` must refuse: exit code 1, nothing on stdout; returns stderr.
fn replay_refuses(db: &str, extra: &[&str]) -> String {
    let mut args = vec!["replay", "--db", db];
    args.extend(extra);
    let output = backstop(&args);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "replay {extra:?}: {stderr}");
    assert_eq!(text(&output.stdout), "");
    stderr
}

/// An admin key made with the CLI.
fn admin_key(db: &str) -> String {
    let output = backstop(&["keys", "add", "--db", db, "--role", "admin"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout).trim().to_owned()
}

/// Submits a command with an idempotency key; returns the answer.
fn submit(client: &mut Client, command: Value, key: &str) -> Value {
    let response = client
        .post_json("/v1/commands", &json!({"command": command, "idempotency_key": key}))
        .expect("POST /v1/commands");
    assert!(response.status == 200 || response.status == 422, "{}", response.text());
    response.json()
}

/// Five acknowledged batches, one command each (seqs 1–5), with snapshots after 2 and 4;
/// then SIGKILL. Returns the admin key.
fn five_batches(db: &str, extra: &[&str]) -> String {
    let admin = admin_key(db);
    let served = Served::start(db, extra);
    let mut client = Client::new(served.addr).with_key(&admin);
    submit(&mut client, json!({"type": "set_price", "asset": 0, "price": "1"}), "p");
    submit(&mut client, json!({"type": "open_account", "account": 1}), "o1");
    submit(&mut client, json!({"type": "deposit", "account": 1, "asset": 0, "amount": "5"}), "d1");
    submit(&mut client, json!({"type": "deposit", "account": 1, "asset": 0, "amount": "7"}), "d2");
    let last = submit(&mut client, json!({"type": "open_account", "account": 2}), "o2");
    assert_eq!(last["seq"], 5, "{last}");
    served.kill();
    admin
}

fn an_entry_edited_before_the_newest_snapshot_is_refused(journal: &Journal) {
    let db = journal.location();
    let _ = five_batches(&db, &["--snapshot-every", "2"]);
    // An outcome is not in the entry hash: only re-applying batch 3 shows the edit, and the
    // newest snapshot (at 4) is after it.
    let outcome_edit =
        "UPDATE batches SET outcomes = replace(outcomes, '\"5\"', '\"6\"') WHERE seq = 3";
    assert_eq!(journal.exec(outcome_edit), 1);
    for stderr in [replay_refuses(&db, &[]), serve_refuses(&db, &[])] {
        assert!(stderr.contains("batch 3, command 0 gave a different outcome"), "{stderr}");
    }
    let undo = "UPDATE batches SET outcomes = replace(outcomes, '\"6\"', '\"5\"') WHERE seq = 3";
    assert_eq!(journal.exec(undo), 1);
    // A command edited before the snapshot: its entry hash shows it, from the snapshot too.
    let command_edit =
        "UPDATE batches SET commands = replace(commands, '\"5\"', '\"6\"') WHERE seq = 3";
    assert_eq!(journal.exec(command_edit), 1);
    for stderr in [
        replay_refuses(&db, &[]),
        replay_refuses(&db, &["--from-snapshot"]),
        serve_refuses(&db, &[]),
        serve_refuses(&db, &["--from-snapshot"]),
    ] {
        assert!(stderr.contains("entry hash mismatch at batch 3"), "{stderr}");
    }
}

fn a_lost_tail_or_a_lost_genesis_is_refused(journal: &Journal) {
    let db = journal.location();
    let _ = five_batches(&db, &[]);
    // Batches 4 and 5 and their keys gone, as a discarded WAL tail leaves it.
    assert_eq!(journal.exec("DELETE FROM batches WHERE seq >= 4"), 2);
    assert_eq!(journal.exec("DELETE FROM idempotency WHERE seq >= 4"), 2);
    for stderr in [replay_refuses(&db, &[]), serve_refuses(&db, &[])] {
        assert!(stderr.contains("acknowledged batches 4..=5 are missing"), "{stderr}");
    }
    // Everything gone but the head record: serve must not start a fresh journal at seq 0.
    for table in ["batches", "idempotency", "snapshots", "genesis"] {
        journal.exec(&format!("DELETE FROM {table}"));
    }
    for stderr in [replay_refuses(&db, &[]), serve_refuses(&db, &[])] {
        assert!(stderr.contains("refusing to start a fresh journal"), "{stderr}");
    }
    assert_eq!(journal.exec("DELETE FROM genesis"), 0, "serve wrote no new genesis");
}

#[test]
fn an_entry_edited_before_the_newest_snapshot_is_refused_on_sqlite() {
    an_entry_edited_before_the_newest_snapshot_is_refused(&Journal::sqlite("edited"));
}

#[test]
#[ignore = "needs PostgreSQL (BACKSTOP_TEST_PG)"]
fn an_entry_edited_before_the_newest_snapshot_is_refused_on_postgres() {
    an_entry_edited_before_the_newest_snapshot_is_refused(&Journal::postgres());
}

#[test]
fn a_lost_tail_or_a_lost_genesis_is_refused_on_sqlite() {
    a_lost_tail_or_a_lost_genesis_is_refused(&Journal::sqlite("lost"));
}

#[test]
#[ignore = "needs PostgreSQL (BACKSTOP_TEST_PG)"]
fn a_lost_tail_or_a_lost_genesis_is_refused_on_postgres() {
    a_lost_tail_or_a_lost_genesis_is_refused(&Journal::postgres());
}

#[test]
fn a_flipped_bit_in_the_wal_after_sigkill_is_refused_until_the_operator_decides() {
    let journal = Journal::sqlite("wal");
    let db = journal.location();
    // The key was added before the server started, with a clean close: it is in the database
    // file, not the WAL.
    let admin = five_batches(&db, &[]);
    let wal_path = format!("{db}-wal");
    let wal = std::fs::read(&wal_path).expect("SIGKILL leaves the WAL");
    let frame = 24 + 4096;
    assert_eq!((wal.len() - 32) % frame, 0);
    // The WAL header's magic: SQLite ignores the whole WAL, so the database holds no journal.
    let mut flipped = wal.clone();
    flipped[0] ^= 1;
    std::fs::write(&wal_path, &flipped).expect("flip");
    for stderr in [replay_refuses(&db, &[]), serve_refuses(&db, &[])] {
        assert!(stderr.contains("refusing to start a fresh journal"), "{stderr}");
    }
    // A bit of the last frame (batch 5's commit): SQLite drops that transaction silently.
    std::fs::write(&wal_path, &wal).expect("restore");
    let mut flipped = wal.clone();
    let last_frame = wal.len() - frame;
    flipped[last_frame + 24 + 100] ^= 0x10;
    std::fs::write(&wal_path, &flipped).expect("flip");
    for stderr in [replay_refuses(&db, &[]), serve_refuses(&db, &[])] {
        assert!(stderr.contains("acknowledged batches 5..=5 are missing"), "{stderr}");
    }
    // The operator accepts the loss: the record moves back, and serve starts at seq 4.
    let output = backstop(&["replay", "--db", &db, "--reset-head"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("head_record: moved back from seq 5 to seq 4"), "{stdout}");
    assert!(stdout.contains("seq: 4\n"), "{stdout}");
    let served = Served::start(&db, &[]);
    let state =
        Client::new(served.addr).with_key(&admin).get("/v1/state").expect("GET /v1/state").json();
    assert_eq!(state["seq"], 4);
}
