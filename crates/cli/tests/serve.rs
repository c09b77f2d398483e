//! `backstop keys`, `backstop serve` and `backstop replay` as a venue runs them: the real binary
//! on a SQLite journal in a temporary directory.

use backstop_testkit::http::Client;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_backstop");

/// A scratch directory removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let dir = std::env::temp_dir()
            .join(format!("backstop-cli-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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

/// A `backstop serve` child and the address it printed.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    /// Starts `serve` and waits for its `listening on` line.
    fn start(db: &Path, extra: &[&str]) -> Served {
        let mut child = Command::new(BIN)
            .args(["serve", "--db", &db.display().to_string()])
            .args(["--config", &venue().display().to_string(), "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line).expect("stdout readable");
        if read == 0 {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            let status = child.wait().expect("serve exits");
            panic!("serve did not start ({status}): {stderr}");
        }
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Served { child, addr }
    }

    /// SIGKILL: no chance to clean up.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("the child is reaped");
    }

    /// SIGTERM: graceful shutdown; returns the exit status and stderr.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM runs");
        assert!(status.success());
        let status = self.child.wait().expect("serve exits");
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status, stderr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds a key with the CLI and returns it.
fn add_key(db: &Path, role: &str, accounts: &[&str]) -> String {
    let mut args = vec!["keys", "add", "--db", db.to_str().expect("a UTF-8 path"), "--role", role];
    for account in accounts {
        args.extend(["--account", account]);
    }
    let output = backstop(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let key = text(&output.stdout).trim().to_owned();
    assert!(key.starts_with("bsk_") && key.len() == 68, "{key}");
    key
}

/// `replay` output as (field, value) pairs.
fn replay(db: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["replay", "--db", db.to_str().expect("a UTF-8 path")];
    args.extend(extra);
    let output = backstop(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(field, value)| (field.to_owned(), value.to_owned()))
        .collect()
}

fn field<'a>(lines: &'a [(String, String)], name: &str) -> &'a str {
    lines.iter().find(|(field, _)| field == name).map_or("", |(_, value)| value.as_str())
}

fn submit(client: &mut Client, command: Value, key: &str) -> Value {
    let response = client
        .post_json("/v1/commands", &json!({"command": command, "idempotency_key": key}))
        .expect("POST /v1/commands");
    assert!(response.status == 200 || response.status == 422, "{}", response.text());
    response.json()
}

#[test]
fn keys_serve_kill_and_replay_agree_on_the_state_hash() {
    let scratch = Scratch::new("serve");
    let db = scratch.path("journal.db");
    let admin = add_key(&db, "admin", &[]);
    let user = add_key(&db, "user", &["1"]);
    let served = Served::start(&db, &["--snapshot-every", "2"]);
    let mut client = Client::new(served.addr).with_key(&admin);
    submit(&mut client, json!({"type": "set_price", "asset": 0, "price": "1"}), "p");
    let mut as_user = Client::new(served.addr).with_key(&user);
    submit(&mut as_user, json!({"type": "open_account", "account": 1}), "o1");
    submit(&mut client, json!({"type": "deposit", "account": 1, "asset": 0, "amount": "5"}), "d1");
    let rejected = submit(
        &mut as_user,
        json!({"type": "withdraw", "account": 1, "asset": 0, "amount": "9"}),
        "w1",
    );
    assert_eq!(rejected["status"], "rejected");
    let state = client.get("/v1/state").expect("GET /v1/state").json();
    assert_eq!(state["seq"], 4);
    let hash = state["state_hash"].as_str().expect("a state hash").to_owned();
    // SIGKILL: everything acknowledged is in the journal.
    served.kill();
    let from_genesis = replay(&db, &[]);
    assert_eq!(field(&from_genesis, "seq"), "4");
    assert_eq!(field(&from_genesis, "commands"), "4");
    assert_eq!(field(&from_genesis, "state_hash"), hash);
    assert_eq!(
        field(&from_genesis, "entry_hash"),
        state["entry_hash"].as_str().unwrap_or_default()
    );
    assert!(field(&from_genesis, "replayed").starts_with("4 batches from genesis"));
    let from_snapshot = replay(&db, &["--from-snapshot"]);
    assert_eq!(field(&from_snapshot, "state_hash"), hash);
    assert!(field(&from_snapshot, "replayed").contains("snapshot at seq 4"), "{from_snapshot:?}");
    // Restart: the same state, keys and idempotency keys.
    let served = Served::start(&db, &[]);
    let mut as_user = Client::new(served.addr).with_key(&user);
    let again = submit(
        &mut as_user,
        json!({"type": "withdraw", "account": 1, "asset": 0, "amount": "9"}),
        "w1",
    );
    assert_eq!((again["duplicate"].clone(), again["seq"].clone()), (json!(true), json!(4)));
    assert_eq!(again["status"], "rejected");
    let state = as_user.get("/v1/state").expect("GET /v1/state").json();
    assert_eq!(state["state_hash"], hash);
    // SIGTERM: a graceful stop, exit 0.
    let (status, stderr) = served.terminate();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
}

#[test]
fn keys_are_listed_and_revoked_and_an_empty_key_table_is_hinted() {
    let scratch = Scratch::new("keys");
    let db = scratch.path("journal.db");
    let db_text = db.to_str().expect("a UTF-8 path");
    // A journal without keys starts, and says how to make one.
    let served = Served::start(&db, &[]);
    let (status, stderr) = served.terminate();
    assert!(status.success());
    assert!(stderr.contains("backstop keys add"), "{stderr}");
    let key = add_key(&db, "keeper", &["4", "2"]);
    let listed = backstop(&["keys", "list", "--db", db_text]);
    assert!(listed.status.success());
    let listed = text(&listed.stdout);
    let hash = listed.split('\t').next().unwrap_or_default().to_owned();
    assert_eq!(hash.len(), 64, "{listed}");
    assert!(listed.contains("\tkeeper\t2,4\t"), "{listed}");
    assert!(!listed.contains(&key[4..]), "the key itself is listed");
    let revoked = backstop(&["keys", "revoke", "--db", db_text, "--hash", &hash]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let listed = backstop(&["keys", "list", "--db", db_text]);
    assert_eq!(text(&listed.stdout), "");
    let again = backstop(&["keys", "revoke", "--db", db_text, "--hash", &hash]);
    assert_eq!(again.status.code(), Some(2));
    let bad_role = backstop(&["keys", "add", "--db", db_text, "--role", "root"]);
    assert_eq!(bad_role.status.code(), Some(2));
    assert!(text(&bad_role.stderr).contains("unknown role"));
}

#[test]
fn a_tampered_journal_fails_replay_and_serve_naming_the_seq() {
    let scratch = Scratch::new("tamper");
    let db = scratch.path("journal.db");
    let db_text = db.to_str().expect("a UTF-8 path");
    let admin = add_key(&db, "admin", &[]);
    let served = Served::start(&db, &["--snapshot-every", "0"]);
    let mut client = Client::new(served.addr).with_key(&admin);
    submit(&mut client, json!({"type": "open_account", "account": 1}), "o1");
    submit(&mut client, json!({"type": "deposit", "account": 1, "asset": 0, "amount": "5"}), "d1");
    submit(&mut client, json!({"type": "deposit", "account": 1, "asset": 0, "amount": "7"}), "d2");
    served.kill();
    let connection = rusqlite::Connection::open(&db).expect("open the journal");
    let changed = connection
        .execute(
            "UPDATE batches SET commands = replace(commands, '\"5\"', '\"6\"') WHERE seq = 2",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(connection);
    let output = backstop(&["replay", "--db", db_text]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    let names_seq_2 = |text: &str| text.contains("seq 2") || text.contains("batch 2");
    assert!(names_seq_2(&stderr), "{stderr}");
    assert_eq!(text(&output.stdout), "");
    let refused = Command::new(BIN)
        .args(["serve", "--db", db_text, "--config", &venue().display().to_string()])
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("serve runs");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(text(&refused.stdout), "", "serve listened on a tampered journal");
    assert!(names_seq_2(&text(&refused.stderr)), "{}", text(&refused.stderr));
    let missing = backstop(&["replay", "--db", scratch.path("none.db").to_str().expect("UTF-8")]);
    assert_eq!(missing.status.code(), Some(2));
}
