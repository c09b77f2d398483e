//! Load generator for `backstop serve`: sustained commands per second with durable
//! acknowledgement, and request latency percentiles.
//!
//! ```sh
//! cargo run --release -p backstop-cli --example load -- \
//!     --url http://127.0.0.1:8080 --key bsk_… --connections 2 --batch 1000 --seconds 10
//! ```
//!
//! It first opens `--accounts` accounts (ids 1..=A; already open ones come back as duplicates or
//! rejections, so a journal can be reused) and deposits 1,000,000 USDC into each, then runs
//! `--connections` threads, each with its own keep-alive connection, each posting batches of
//! `--batch` commands to `/v1/batches` one after another for `--seconds` seconds. The commands
//! are cheap and valid on `examples/venue.toml` (asset 0 = USDC, asset 1 = ETH): 70% deposits of
//! USDC or ETH, 20% supplies of 1 USDC, 10% ETH price updates; every one has an idempotency key.
//! The server answers only after the batch is committed to the journal, so every counted command
//! is durable. Latency is measured per request, from the first byte sent to the last byte of the
//! answer read.
//!
//! The last line of the output is a summary in `key=value` form for scripts.

use backstop_testkit::http::Client;
use clap::Parser;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Load generator for `backstop serve`.
#[derive(Debug, Parser)]
struct Args {
    /// Server URL (`http://HOST:PORT`).
    #[arg(long)]
    url: String,
    /// API key with the admin role.
    #[arg(long)]
    key: String,
    /// Concurrent connections, each sending batches one after another.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Commands per batch.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Accounts to open and use (ids 1..=A).
    #[arg(long, default_value_t = 1000)]
    accounts: u64,
}

/// The USDC asset of `examples/venue.toml`.
const USDC: u16 = 0;
/// The ETH asset of `examples/venue.toml`.
const ETH: u16 = 1;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("load: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What one connection measured.
#[derive(Debug, Default)]
struct Tally {
    /// Commands in acknowledged (200) batches.
    commands: u64,
    /// Acknowledged batches.
    batches: u64,
    /// Commands the engine rejected (journaled as rejected: still durable work).
    rejected: u64,
    /// Answers other than 200, by status.
    refused: Vec<(u16, String)>,
    /// Latency of every acknowledged request.
    latencies: Vec<Duration>,
}

fn run(args: &Args) -> Result<(), String> {
    let addr: SocketAddr = args
        .url
        .trim_end_matches('/')
        .strip_prefix("http://")
        .unwrap_or(&args.url)
        .parse()
        .map_err(|e| format!("--url {}: {e}", args.url))?;
    if args.batch == 0 || args.connections == 0 || args.accounts == 0 {
        return Err("--batch, --connections and --accounts must be positive".into());
    }
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    );
    let mut client = Client::new(addr).with_key(&args.key);
    let state = client.get("/v1/state").map_err(|e| format!("GET /v1/state: {e}"))?;
    if state.status != 200 {
        return Err(format!("GET /v1/state: {} {}", state.status, state.text()));
    }
    let setup_started = Instant::now();
    setup(&mut client, args.accounts)?;
    eprintln!(
        "setup: {} accounts open and funded in {:.2?}; sending batches of {} on {} connection(s) for {} s",
        args.accounts,
        setup_started.elapsed(),
        args.batch,
        args.connections,
        args.seconds
    );

    let before = ServerCounters::read(&mut client);
    let duration = Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let deadline = started + duration;
    let tallies: Vec<Result<Tally, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.connections)
            .map(|connection| {
                let run_id = &run_id;
                scope.spawn(move || worker(addr, args, run_id, connection, deadline))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a connection thread panicked".into())))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut total = Tally::default();
    for tally in tallies {
        let tally = tally?;
        total.commands += tally.commands;
        total.batches += tally.batches;
        total.rejected += tally.rejected;
        total.refused.extend(tally.refused);
        total.latencies.extend(tally.latencies);
    }
    let server = match (before, ServerCounters::read(&mut client)) {
        (Some(before), Some(after)) => Some(after.since(&before)),
        _ => None,
    };
    report(args, &total, elapsed, server);
    if total.batches == 0 {
        return Err("no batch was acknowledged".into());
    }
    Ok(())
}

/// Opens accounts 1..=A and deposits 1,000,000 USDC into each (idempotency keys fixed, so a
/// second run on the same journal changes nothing).
fn setup(client: &mut Client, accounts: u64) -> Result<(), String> {
    let mut commands = vec![
        (
            format!(r#"{{"type":"set_price","asset":{USDC},"price":"1"}}"#),
            "load-setup-usdc".to_owned(),
        ),
        (
            format!(r#"{{"type":"set_price","asset":{ETH},"price":"2000"}}"#),
            "load-setup-eth".to_owned(),
        ),
    ];
    for account in 1..=accounts {
        commands.push((
            format!(r#"{{"type":"open_account","account":{account}}}"#),
            format!("load-open-{account}"),
        ));
        commands.push((
            format!(
                r#"{{"type":"deposit","account":{account},"asset":{USDC},"amount":"1000000"}}"#
            ),
            format!("load-fund-{account}"),
        ));
    }
    for chunk in commands.chunks(2000) {
        let mut body = String::from(r#"{"commands":["#);
        for (i, (command, key)) in chunk.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            let _ = write!(body, r#"{{"command":{command},"idempotency_key":"{key}"}}"#);
        }
        body.push_str("]}");
        let response = post(client, &body).map_err(|e| format!("setup: {e}"))?;
        if response.0 != 200 {
            return Err(format!("setup: {} {}", response.0, response.1));
        }
    }
    Ok(())
}

/// One connection: batches one after another until the deadline.
fn worker(
    addr: SocketAddr,
    args: &Args,
    run_id: &str,
    connection: usize,
    deadline: Instant,
) -> Result<Tally, String> {
    let mut client = Client::new(addr).with_key(&args.key);
    let mut rng = ChaCha8Rng::seed_from_u64(connection as u64);
    let mut tally = Tally::default();
    let mut sequence: u64 = 0;
    let mut body = String::with_capacity(args.batch * 140 + 32);
    while Instant::now() < deadline {
        body.clear();
        body.push_str(r#"{"commands":["#);
        for i in 0..args.batch {
            if i > 0 {
                body.push(',');
            }
            body.push_str(r#"{"command":"#);
            let account = rng.random_range(1..=args.accounts);
            match rng.random_range(0..10u32) {
                0..7 => {
                    let (asset, amount) = if rng.random_bool(0.5) {
                        (
                            USDC,
                            format!(
                                "{}.{:02}",
                                rng.random_range(1..1000u32),
                                rng.random_range(0..100u32)
                            ),
                        )
                    } else {
                        (ETH, format!("0.{:03}", rng.random_range(1..1000u32)))
                    };
                    let _ = write!(
                        body,
                        r#"{{"type":"deposit","account":{account},"asset":{asset},"amount":"{amount}"}}"#
                    );
                }
                7..9 => {
                    let _ = write!(
                        body,
                        r#"{{"type":"supply","account":{account},"asset":{USDC},"amount":"1"}}"#
                    );
                }
                _ => {
                    let price = 1990 + rng.random_range(0..20u32);
                    let _ =
                        write!(body, r#"{{"type":"set_price","asset":{ETH},"price":"{price}"}}"#);
                }
            }
            let _ = write!(body, r#","idempotency_key":"{run_id}-{connection}-{sequence}"}}"#);
            sequence += 1;
        }
        body.push_str("]}");
        let sent = Instant::now();
        let (status, text) = post(&mut client, &body)?;
        let latency = sent.elapsed();
        if status == 200 {
            tally.commands += args.batch as u64;
            tally.batches += 1;
            tally.rejected += count(&text, r#""status":"rejected""#);
            tally.latencies.push(latency);
        } else {
            if tally.refused.len() < 1000 {
                tally.refused.push((status, text.chars().take(200).collect()));
            }
            // Back off a little: 503 queue_full means the server is saturated.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    Ok(tally)
}

/// Posts a batch body: the status and the answer's text.
fn post(client: &mut Client, body: &str) -> Result<(u16, String), String> {
    let headers = [("content-type", "application/json")];
    let response = client
        .request("POST", "/v1/batches", &headers, Some(body.as_bytes()))
        .map_err(|e| format!("POST /v1/batches: {e}"))?;
    Ok((response.status, response.text()))
}

/// Non-overlapping occurrences of `needle` in `text`.
fn count(text: &str, needle: &str) -> u64 {
    text.matches(needle).count() as u64
}

/// Prints throughput and latency percentiles, then the one-line summary.
fn report(args: &Args, total: &Tally, elapsed: Duration, server: Option<ServerCounters>) {
    let mut latencies = total.latencies.clone();
    latencies.sort_unstable();
    let seconds = elapsed.as_secs_f64();
    let rate = total.commands as f64 / seconds;
    let batch_rate = total.batches as f64 / seconds;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| ms(percentile(&latencies, p));
    let max = latencies.last().copied().map_or(0.0, ms);
    println!(
        "{} commands in {} batches in {seconds:.2} s: {rate:.0} commands/s, {batch_rate:.1} batches/s ({} rejected by the engine)",
        total.commands, total.batches, total.rejected
    );
    println!(
        "latency per request: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {max:.1} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99)
    );
    if !total.refused.is_empty() {
        let mut statuses: Vec<u16> = total.refused.iter().map(|(status, _)| *status).collect();
        statuses.sort_unstable();
        statuses.dedup();
        println!(
            "refused requests: {} (statuses {statuses:?}); first: {}",
            total.refused.len(),
            total.refused[0].1
        );
    }
    if let Some(server) = server {
        server.print();
    }
    println!(
        "summary connections={} batch={} seconds={seconds:.2} commands={} batches={} commands_per_s={rate:.0} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={max:.1} refused={}",
        args.connections,
        args.batch,
        total.commands,
        total.batches,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        total.refused.len()
    );
}

/// The nearest-rank percentile of sorted latencies (zero when there are none).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The server's own counters from `/metrics` (the run's share is the difference of two reads).
#[derive(Debug, Clone, Copy, Default)]
struct ServerCounters {
    /// Durable transactions (group commits).
    commits: f64,
    /// Journal entries (one per request that applied something).
    batches: f64,
    /// Writer time from taking the first request of a group to the journal being durable.
    commit_seconds: f64,
    /// HTTP requests timed by the server.
    requests: f64,
    /// Their total time in the server.
    request_seconds: f64,
}

impl ServerCounters {
    /// Reads `/metrics`; None if it cannot be read (the figures are then not printed).
    fn read(client: &mut Client) -> Option<ServerCounters> {
        let response = client.get("/metrics").ok().filter(|r| r.status == 200)?;
        let text = response.text();
        let value = |name: &str| -> f64 {
            text.lines()
                .filter_map(|line| line.strip_prefix(name))
                .filter_map(|rest| rest.strip_prefix(' '))
                .filter_map(|number| number.trim().parse::<f64>().ok())
                .sum()
        };
        Some(ServerCounters {
            commits: value("backstop_commits_total"),
            batches: value("backstop_batches_total"),
            commit_seconds: value("backstop_commit_seconds_sum"),
            requests: value("backstop_request_seconds_count"),
            request_seconds: value("backstop_request_seconds_sum"),
        })
    }

    /// What happened between `earlier` and `self`.
    fn since(&self, earlier: &ServerCounters) -> ServerCounters {
        ServerCounters {
            commits: self.commits - earlier.commits,
            batches: self.batches - earlier.batches,
            commit_seconds: self.commit_seconds - earlier.commit_seconds,
            requests: self.requests - earlier.requests,
            request_seconds: self.request_seconds - earlier.request_seconds,
        }
    }

    /// One line: group commits, requests per commit, mean commit and mean request time.
    fn print(&self) {
        let per = |total: f64, count: f64| if count > 0.0 { total / count } else { 0.0 };
        println!(
            "server: {:.0} group commits, {:.2} batches per commit, mean commit {:.1} ms (apply + journal + sync), mean request {:.1} ms in the server",
            self.commits,
            per(self.batches, self.commits),
            per(self.commit_seconds, self.commits) * 1000.0,
            per(self.request_seconds, self.requests) * 1000.0,
        );
    }
}
