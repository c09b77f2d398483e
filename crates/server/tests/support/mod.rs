//! Test fixtures shared by the server's test files: a fresh database per test on either backend,
//! an in-process server on 127.0.0.1:0 with an admin key, clients, and commands on the venue.
#![allow(dead_code, unreachable_pub, missing_docs)]

use backstop_core::script::parse_script;
use backstop_core::{Command, Engine, VenueConfig};
use backstop_ledger::Ledger;
use backstop_server::{RunningServer, ServerConfig};
use backstop_testkit::http::{Client, Response};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// The venue every server test runs on.
pub const VENUE: &str = backstop_testkit::venues::LENDING_PERP_TOML;

/// Which journal backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Instantiates each named test body `fn name(backend: Backend)` for both backends: SQLite
/// always, PostgreSQL ignored unless asked for (and then failing without BACKSTOP_TEST_PG).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(super::support::Backend::Sqlite);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                #[ignore = "needs PostgreSQL (BACKSTOP_TEST_PG)"]
                fn $name() {
                    super::$name(super::support::Backend::Postgres);
                }
            )*
        }
    };
}

/// A unique suffix for names made by this process.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{}_{}_{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// A fresh, empty database, removed when dropped.
pub struct TestDb {
    /// What `Ledger::open` and `--db` take.
    pub location: String,
    /// SQLite file, or PostgreSQL (admin URL, database name).
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh database on a backend.
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("backstop-server-{}.db", unique()));
                TestDb { location: path.display().to_string(), cleanup: Cleanup::File(path) }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("BACKSTOP_TEST_PG").unwrap_or_else(|_| {
                    panic!("set BACKSTOP_TEST_PG to a PostgreSQL URL (see .ci/postgres) to run this test")
                });
                let name = format!("backstop_server_{}", unique());
                let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("connect to {admin_url}: {e}"));
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|e| panic!("create database {name}: {e}"));
                let base = admin_url.split('?').next().unwrap_or(&admin_url);
                let prefix = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
                TestDb {
                    location: format!("{prefix}/{name}"),
                    cleanup: Cleanup::Database { admin_url, name },
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Database { admin_url, name } => {
                if let Ok(mut client) = postgres::Client::connect(admin_url, postgres::NoTls) {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// Stores a new key of a role directly in the journal database; returns the key.
pub fn add_key(location: &str, role: &str, accounts: &[u64]) -> String {
    let new = backstop_server::generate_key(role, accounts, &format!("test {role}"))
        .unwrap_or_else(|e| panic!("key: {e}"));
    let mut ledger = Ledger::open(location).unwrap_or_else(|e| panic!("open {location}: {e}"));
    ledger.add_api_key(&new.record).unwrap_or_else(|e| panic!("add key: {e}"));
    new.key
}

/// A server on a fresh database with an admin key. Fields drop in order: the server stops
/// before its database is removed.
pub struct Harness {
    pub server: Option<RunningServer>,
    pub admin: String,
    pub config: ServerConfig,
    pub db: TestDb,
}

impl Harness {
    /// A server with the default configuration.
    pub fn new(backend: Backend) -> Harness {
        Harness::with(backend, |_| {})
    }

    /// A server with a tuned configuration.
    pub fn with(backend: Backend, tune: impl FnOnce(&mut ServerConfig)) -> Harness {
        let db = TestDb::new(backend);
        let admin = add_key(&db.location, "admin", &[]);
        let listen = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("address: {e}"));
        let mut config = ServerConfig::new(db.location.clone(), VENUE, listen);
        tune(&mut config);
        let server =
            backstop_server::start(config.clone()).unwrap_or_else(|e| panic!("start: {e}"));
        Harness { server: Some(server), admin, config, db }
    }

    /// The running server.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap_or_else(|| panic!("the server is stopped"))
    }

    /// A client without a key.
    pub fn anonymous(&self) -> Client {
        Client::new(self.server().addr())
    }

    /// A client with a key.
    pub fn client(&self, key: &str) -> Client {
        Client::new(self.server().addr()).with_key(key)
    }

    /// A client with the admin key.
    pub fn admin(&self) -> Client {
        self.client(&self.admin)
    }

    /// A new key made through the API.
    pub fn key(&self, role: &str, accounts: &[u64]) -> String {
        let response = self
            .admin()
            .post_json("/v1/keys", &json!({"role": role, "accounts": accounts, "label": role}))
            .unwrap_or_else(|e| panic!("POST /v1/keys: {e}"));
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()["key"].as_str().unwrap_or_else(|| panic!("no key")).to_owned()
    }

    /// Stops the server (draining it).
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().unwrap_or_else(|e| panic!("shutdown: {e}"));
        }
    }

    /// Stops and starts the server on the same database.
    pub fn restart(&mut self) {
        self.stop();
        self.server = Some(
            backstop_server::start(self.config.clone()).unwrap_or_else(|e| panic!("restart: {e}")),
        );
    }

    /// `GET /v1/state` as admin.
    pub fn state(&self) -> Value {
        let response =
            self.admin().get("/v1/state").unwrap_or_else(|e| panic!("GET /v1/state: {e}"));
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()
    }

    /// The journal head.
    pub fn seq(&self) -> u64 {
        self.state()["seq"].as_u64().unwrap_or_else(|| panic!("no seq"))
    }
}

/// Posts a command (with an optional idempotency key) through a client.
pub fn submit(client: &mut Client, command: &Value, key: Option<&str>) -> Response {
    let mut body = json!({"command": command});
    if let Some(key) = key {
        body["idempotency_key"] = json!(key);
    }
    client.post_json("/v1/commands", &body).unwrap_or_else(|e| panic!("POST /v1/commands: {e}"))
}

/// Posts a batch of commands without keys.
pub fn submit_batch(client: &mut Client, commands: &[Value]) -> Response {
    let commands: Vec<Value> = commands.iter().map(|command| json!({"command": command})).collect();
    client
        .post_json("/v1/batches", &json!({"commands": commands}))
        .unwrap_or_else(|e| panic!("POST /v1/batches: {e}"))
}

/// An engine on [`VENUE`].
pub fn venue_engine() -> Engine {
    let config = VenueConfig::from_toml_str(VENUE).unwrap_or_else(|e| panic!("venue: {e}"));
    Engine::new(config).unwrap_or_else(|e| panic!("engine: {e}"))
}

/// The commands of a script on [`VENUE`] (docs/script-format.md).
pub fn script(text: &str) -> Vec<Command> {
    let engine = venue_engine();
    parse_script(text, engine.config())
        .unwrap_or_else(|e| panic!("script: {e:?}"))
        .into_iter()
        .map(|line| line.command)
        .collect()
}

/// A command as the API takes it.
pub fn json_of(command: &Command) -> Value {
    serde_json::to_value(command).unwrap_or_else(|e| panic!("command JSON: {e}"))
}

/// Opening an account.
pub fn open(account: u64) -> Value {
    json!({"type": "open_account", "account": account})
}

/// A deposit of USDC (asset 0).
pub fn deposit(account: u64, amount: &str) -> Value {
    json!({"type": "deposit", "account": account, "asset": 0, "amount": amount})
}

/// A withdrawal of USDC (asset 0).
pub fn withdraw(account: u64, amount: &str) -> Value {
    json!({"type": "withdraw", "account": account, "asset": 0, "amount": amount})
}

/// The state hash of an in-memory engine after these commands (rejections included).
pub fn in_memory_hash(commands: &[Command]) -> String {
    let mut engine = venue_engine();
    for command in commands {
        let _ = engine.apply(command);
    }
    hex::encode(engine.state_hash())
}
