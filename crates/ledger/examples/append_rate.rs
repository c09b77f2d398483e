//! Measures how fast the journal appends: N batches of M commands, durable at each append.
//!
//! ```text
//! cargo run --release -p backstop-ledger --example append_rate -- [LOCATION] [BATCHES] [COMMANDS] [PER_APPEND]
//! ```
//!
//! LOCATION is a SQLite path (default: a new file in the temporary directory, removed after) or a
//! `postgres://` URL (a fresh database named `append_rate_<pid>` is created on that server and
//! dropped after). BATCHES defaults to 200, COMMANDS (per batch) to 1000, PER_APPEND (batches per
//! `append` call, i.e. per transaction) to 1. Every command carries an idempotency key. The batches
//! are sealed in memory first (the engine's work is not timed), then appended; the program prints
//! batches/s, commands/s, per-append latency percentiles, the time a full replay takes (what
//! `serve` does on start) and the time a recovery from a snapshot at the head takes (`serve
//! --from-snapshot`).

use backstop_core::{AccountId, AssetId, Command, Engine, VenueConfig};
use backstop_ledger::{Batch, ChainHead, Ledger, Outcome};
use std::error::Error;
use std::time::{Duration, Instant};

/// Accounts the generated commands spread over.
const ACCOUNTS: u64 = 100;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: usize| -> Result<usize, Box<dyn Error>> {
        args.get(index).map_or(Ok(default), |text| Ok(text.parse()?))
    };
    let batches_wanted = number(1, 200)?;
    let per_batch = number(2, 1000)?.max(1);
    let per_append = number(3, 1)?.max(1);
    let target = Target::new(args.first().map(String::as_str))?;
    let result = run(&target.location, batches_wanted, per_batch, per_append);
    target.clean_up();
    result
}

/// Seals the batches, appends them, replays them, and prints the rates.
fn run(
    location: &str,
    batches_wanted: usize,
    per_batch: usize,
    per_append: usize,
) -> Result<(), Box<dyn Error>> {
    let venue = backstop_testkit::venues::LENDING_PERP_TOML;
    let mut engine = Engine::new(VenueConfig::from_toml_str(venue)?)?;
    let mut head = ChainHead::genesis(venue);
    let started = Instant::now();
    let mut batches = Vec::with_capacity(batches_wanted);
    let setup = setup_commands()?;
    let keys = vec![None; setup.len()];
    batches.push(seal(&mut engine, &mut head, setup, keys));
    let usdc = AssetId(0);
    let amount = "1.5".parse()?;
    for seq in 2..=batches_wanted {
        let commands: Vec<Command> = (0..per_batch)
            .map(|i| {
                // Each account gets a deposit, then a withdrawal of the same amount.
                let account = AccountId(1 + ((i / 2) as u64 % ACCOUNTS));
                if i % 2 == 0 {
                    Command::Deposit { account, asset: usdc, amount }
                } else {
                    Command::Withdraw { account, asset: usdc, amount }
                }
            })
            .collect();
        let keys = (0..per_batch).map(|i| Some(format!("rate-{seq}-{i}"))).collect();
        batches.push(seal(&mut engine, &mut head, commands, keys));
    }
    let sealing = started.elapsed();
    let commands: usize = batches.iter().map(|b| b.commands.len()).sum();

    let mut ledger = Ledger::open(location)?;
    ledger.initialize(venue)?;
    if ledger.head()?.seq != 0 {
        return Err(format!("{location} already holds a journal: use an empty database").into());
    }
    let mut latencies = Vec::with_capacity(batches.len() / per_append + 1);
    let started = Instant::now();
    for group in batches.chunks(per_append) {
        let begun = Instant::now();
        ledger.append(group)?;
        latencies.push(begun.elapsed());
    }
    let appending = started.elapsed();
    let started = Instant::now();
    let mut recovered = Ledger::open(location)?.replay_from_genesis()?;
    let replaying = started.elapsed();
    if recovered.engine.state_hash() != engine.state_hash() || recovered.head != head {
        return Err("the replayed journal does not match the engine that sealed it".into());
    }
    // What `serve --from-snapshot` does: a snapshot at the head, every entry checked by hash,
    // link and keys, nothing re-applied.
    ledger.write_snapshot(head.seq, &recovered.engine)?;
    let started = Instant::now();
    let from_snapshot = Ledger::open(location)?.recover()?;
    let checking = started.elapsed();
    if from_snapshot.head != head || from_snapshot.batches_replayed != 0 {
        return Err("recovery from the snapshot at the head does not match".into());
    }

    latencies.sort();
    let seconds = appending.as_secs_f64().max(1e-9);
    println!("backend           {}", ledger.backend());
    println!(
        "journal           {} batches, {commands} commands ({per_batch} per batch, {per_append} \
         batch(es) per append, every command keyed)",
        batches.len()
    );
    println!("sealing (engine)  {:.3} s", sealing.as_secs_f64());
    println!("appending         {:.3} s", appending.as_secs_f64());
    println!("batches/s         {:.0}", batches.len() as f64 / seconds);
    println!("commands/s        {:.0}", commands as f64 / seconds);
    println!(
        "append latency    p50 {} p90 {} p99 {} max {}",
        millis(percentile(&latencies, 50)),
        millis(percentile(&latencies, 90)),
        millis(percentile(&latencies, 99)),
        millis(latencies.last().copied().unwrap_or_default()),
    );
    println!(
        "replay (verified) {:.3} s, {:.0} commands/s",
        replaying.as_secs_f64(),
        commands as f64 / replaying.as_secs_f64().max(1e-9)
    );
    println!(
        "from a snapshot   {:.3} s (snapshot at the head; every entry's hash, link and keys \
         checked)",
        checking.as_secs_f64()
    );
    Ok(())
}

/// Prices and [`ACCOUNTS`] accounts with USDC to move.
fn setup_commands() -> Result<Vec<Command>, Box<dyn Error>> {
    let mut commands = vec![
        Command::SetPrice { asset: AssetId(0), price: "1".parse()? },
        Command::SetPrice { asset: AssetId(1), price: "2000".parse()? },
    ];
    for account in 1..=ACCOUNTS {
        commands
            .push(Command::OpenAccount { account: AccountId(account), kind: Default::default() });
        commands.push(Command::Deposit {
            account: AccountId(account),
            asset: AssetId(0),
            amount: "1000".parse()?,
        });
    }
    Ok(commands)
}

/// Applies the commands and seals them after `head`.
fn seal(
    engine: &mut Engine,
    head: &mut ChainHead,
    commands: Vec<Command>,
    keys: Vec<Option<String>>,
) -> Batch {
    let outcomes = commands.iter().map(|c| Outcome::of(&engine.apply(c))).collect();
    let batch = Batch::seal(head, commands, keys, outcomes, engine.state_hash());
    *head = batch.head();
    batch
}

/// The `p`th percentile of sorted durations.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len().saturating_sub(1) * p).div_ceil(100);
    sorted.get(index).copied().unwrap_or_default()
}

/// A duration in milliseconds.
fn millis(duration: Duration) -> String {
    format!("{:.2}ms", duration.as_secs_f64() * 1e3)
}

/// Where the journal goes, and what to remove afterwards.
struct Target {
    /// Location handed to `Ledger::open`.
    location: String,
    /// A temporary SQLite file to delete.
    file: Option<std::path::PathBuf>,
    /// A temporary PostgreSQL database to drop: (server URL, name).
    database: Option<(String, String)>,
}

impl Target {
    /// A fresh journal location from the argument.
    fn new(argument: Option<&str>) -> Result<Target, Box<dyn Error>> {
        match argument {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let name = format!("append_rate_{}", std::process::id());
                let mut admin = postgres::Client::connect(url, postgres::NoTls)?;
                admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
                let base = url.split('?').next().unwrap_or(url);
                let prefix = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
                Ok(Target {
                    location: format!("{prefix}/{name}"),
                    file: None,
                    database: Some((url.to_owned(), name)),
                })
            }
            Some(path) => Ok(Target { location: path.to_owned(), file: None, database: None }),
            None => {
                let path = std::env::temp_dir()
                    .join(format!("backstop_append_rate_{}.db", std::process::id()));
                Ok(Target {
                    location: path.display().to_string(),
                    file: Some(path),
                    database: None,
                })
            }
        }
    }

    /// Removes the temporary file or database.
    fn clean_up(&self) {
        if let Some(path) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((url, name)) = &self.database {
            let dropped = postgres::Client::connect(url, postgres::NoTls).and_then(|mut admin| {
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            });
            if let Err(error) = dropped {
                eprintln!("could not drop the temporary database {name}: {error:?}");
            }
        }
    }
}
