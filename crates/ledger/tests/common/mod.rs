//! Test fixtures shared by the ledger's test files: a fresh database per test on either backend,
//! raw SQL access to it for tampering, and a small venue with a script of commands.
#![allow(dead_code, unreachable_pub, missing_docs)]

use backstop_core::script::parse_script;
use backstop_core::{Command, Engine, VenueConfig};
use backstop_ledger::{Batch, ChainHead, Ledger, Outcome};
use std::sync::atomic::{AtomicU64, Ordering};

/// The venue every journal test runs on.
pub const VENUE: &str = backstop_testkit::venues::LENDING_PERP_TOML;

/// Commands on [`VENUE`]: prices, accounts, lending, a perpetual trade, two rejections
/// (unknown account, a borrow far beyond the collateral), interest and a repay.
pub const SCRIPT: &str = "
advance_time now=60
set_price asset=USDC price=1
set_price asset=ETH price=2000
open_account account=1
open_account account=2
open_account account=3
deposit account=1 asset=USDC amount=100000
supply account=1 asset=USDC amount=50000
deposit account=2 asset=ETH amount=10
borrow account=2 asset=USDC amount=5000
withdraw account=9 asset=USDC amount=1
deposit account=3 asset=USDC amount=20000
trade market=ETH-PERP taker=3 maker=1 size=2 price=2000
borrow account=2 asset=USDC amount=100000000
advance_time now=3600
accrue_interest asset=USDC
set_price asset=ETH price=1900
repay account=2 asset=USDC amount=100
deposit account=1 asset=ETH amount=1
";

/// How [`SCRIPT`] is cut into batches by [`script_batches`]: 5 batches.
pub const CUTS: [usize; 5] = [3, 4, 4, 3, 5];

/// An engine on [`VENUE`].
pub fn venue_engine() -> Engine {
    let config = VenueConfig::from_toml_str(VENUE).unwrap_or_else(|e| panic!("venue: {e}"));
    Engine::new(config).unwrap_or_else(|e| panic!("engine: {e}"))
}

/// The commands of a script on [`VENUE`].
pub fn commands(script: &str) -> Vec<Command> {
    let engine = venue_engine();
    parse_script(script, engine.config())
        .unwrap_or_else(|e| panic!("script: {e:?}"))
        .into_iter()
        .map(|line| line.command)
        .collect()
}

/// An in-memory engine that seals batches the way the server does.
pub struct Sealer {
    pub engine: Engine,
    pub head: ChainHead,
}

impl Sealer {
    /// At genesis of [`VENUE`].
    pub fn new() -> Sealer {
        Sealer { engine: venue_engine(), head: ChainHead::genesis(VENUE) }
    }

    /// Applies the commands and seals them as the next batch.
    pub fn seal(&mut self, commands: Vec<Command>, keys: Vec<Option<String>>) -> Batch {
        let outcomes = commands.iter().map(|c| Outcome::of(&self.engine.apply(c))).collect();
        let batch = Batch::seal(&self.head, commands, keys, outcomes, self.engine.state_hash());
        self.head = batch.head();
        batch
    }
}

/// [`SCRIPT`] sealed in [`CUTS`] batches; every other command has the key `k<seq>-<index>`.
pub fn script_batches() -> (Sealer, Vec<Batch>) {
    let mut sealer = Sealer::new();
    let mut all = commands(SCRIPT).into_iter();
    let mut batches = Vec::new();
    for cut in CUTS {
        let chunk: Vec<Command> = all.by_ref().take(cut).collect();
        let seq = sealer.head.seq + 1;
        let keys = (0..chunk.len()).map(|i| (i % 2 == 0).then(|| format!("k{seq}-{i}"))).collect();
        batches.push(sealer.seal(chunk, keys));
    }
    assert_eq!(all.next(), None, "CUTS covers the whole script");
    let rejected = batches.iter().flat_map(|b| &b.outcomes).filter(|o| !o.is_applied()).count();
    assert_eq!(rejected, 2, "the script has exactly two rejected commands");
    (sealer, batches)
}

/// A unique name for a test database or file.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A fresh, empty database for one test, removed (best effort) when dropped.
pub enum Db {
    /// A new SQLite file under the temporary directory.
    Sqlite { path: std::path::PathBuf },
    /// A new PostgreSQL database on the `BACKSTOP_TEST_PG` server.
    Postgres { admin_url: String, name: String, url: String },
}

impl Db {
    /// A new SQLite file.
    pub fn sqlite() -> Db {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("backstop_ledger")));
        Db::Sqlite { path }
    }

    /// A new PostgreSQL database; panics (fails the test) without `BACKSTOP_TEST_PG`.
    pub fn postgres() -> Db {
        let admin_url = std::env::var("BACKSTOP_TEST_PG").unwrap_or_else(|_| {
            panic!("BACKSTOP_TEST_PG is not set: PostgreSQL tests need a server (run .ci/postgres)")
        });
        let name = unique_name("backstop_ledger");
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {admin_url}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        Db::Postgres { admin_url, name, url }
    }

    /// The location to hand to `Ledger::open`.
    pub fn location(&self) -> String {
        match self {
            Db::Sqlite { path } => path.display().to_string(),
            Db::Postgres { url, .. } => url.clone(),
        }
    }

    /// Opens a ledger on this database.
    pub fn open(&self) -> Ledger {
        Ledger::open(&self.location()).unwrap_or_else(|e| panic!("open: {e}"))
    }

    /// Opens a ledger and initializes it with [`VENUE`].
    pub fn open_initialized(&self) -> Ledger {
        let mut ledger = self.open();
        ledger.initialize(VENUE).unwrap_or_else(|e| panic!("initialize: {e}"));
        ledger
    }

    /// Runs raw SQL on the database (to tamper with it), returning rows changed.
    pub fn exec(&self, sql: &str) -> u64 {
        match self {
            Db::Sqlite { path } => {
                let conn = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
                let changed = conn.execute(sql, []).unwrap_or_else(|e| panic!("{sql}: {e}"));
                u64::try_from(changed).unwrap_or(u64::MAX)
            }
            Db::Postgres { url, .. } => {
                let mut client = postgres::Client::connect(url, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("{e}"));
                client.execute(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }

    /// One value from raw SQL (a text, or a count from `SELECT COUNT(*) …`).
    pub fn query_one<T>(&self, sql: &str) -> T
    where
        T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>,
    {
        match self {
            Db::Sqlite { path } => {
                let conn = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
                conn.query_row(sql, [], |row| row.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Db::Postgres { url, .. } => {
                let mut client = postgres::Client::connect(url, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("{e}"));
                client
                    .query_one(sql, &[])
                    .and_then(|row| row.try_get(0))
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }

    /// The head record as stored (the `.head` file's bytes, or the `journal_head` row as text).
    pub fn head_record_raw(&self) -> Option<String> {
        match self {
            Db::Sqlite { path } => std::fs::read_to_string(sqlite_head_path(path)).ok(),
            Db::Postgres { .. } => {
                (self.count("SELECT COUNT(*) FROM journal_head") == 1).then(|| {
                    format!(
                        "{} {}",
                        self.count("SELECT seq FROM journal_head"),
                        self.query_text("SELECT entry_hash FROM journal_head")
                    )
                })
            }
        }
    }

    /// Puts back a head record saved by [`Db::head_record_raw`] (`None`: deletes it).
    pub fn set_head_record_raw(&self, raw: Option<&str>) {
        match self {
            Db::Sqlite { path } => match raw {
                Some(text) => std::fs::write(sqlite_head_path(path), text).expect("head file"),
                None => std::fs::remove_file(sqlite_head_path(path)).expect("head file"),
            },
            Db::Postgres { .. } => {
                self.exec("DELETE FROM journal_head");
                if let Some((seq, hash)) = raw.and_then(|r| r.split_once(' ')) {
                    self.exec(&format!(
                        "INSERT INTO journal_head (id, seq, entry_hash) VALUES (1, {seq}, '{hash}')"
                    ));
                }
            }
        }
    }

    /// One text value from raw SQL.
    pub fn query_text(&self, sql: &str) -> String {
        self.query_one(sql)
    }

    /// A count from raw SQL (`SELECT COUNT(*) …`).
    pub fn count(&self, sql: &str) -> i64 {
        self.query_one(sql)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        match self {
            Db::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm", ".head"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Db::Postgres { admin_url, name, .. } => {
                if let Ok(mut admin) = postgres::Client::connect(admin_url, postgres::NoTls) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// The head record file of a SQLite journal.
fn sqlite_head_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()).into_os_string();
    name.push(".head");
    name.into()
}

/// The same server URL naming another database.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = match base.rfind('/') {
        Some(slash) if slash > base.find("://").map_or(0, |i| i + 2) => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

/// Instantiates each behaviour (a `fn(&Db)`) for SQLite and, ignored unless asked for, PostgreSQL.
#[macro_export]
macro_rules! for_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::common::Db::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                #[ignore = "needs PostgreSQL (BACKSTOP_TEST_PG)"]
                fn $name() {
                    super::$name(&$crate::common::Db::postgres());
                }
            )*
        }
    };
}
