//! `backstop stress --db DB --shock ETH=-30% [--shock …]`: the what-if of `POST /v1/stress` on
//! the state a journal holds, without a server.
//!
//! The journal is only read (from its latest snapshot, as `serve` starts): no writer lock, no
//! write, so it runs beside a live server. The shock runs through the same code as the route
//! ([`backstop_server::stress::run`]) on the rebuilt engine, and the answer is the route's JSON
//! (`--json`) or a table. Exit codes: 0, 1 when the journal cannot be read, 2 for bad input.

use crate::exec::{EXIT_INPUT, EXIT_INTERNAL, EXIT_OK};
use backstop_ledger::Ledger;
use backstop_money::Amount;
use backstop_server::stress::{self, ExploitShock, Shock, StressError, StressReport};
use std::collections::BTreeMap;
use std::io::Write;

/// Arguments of `backstop stress`.
#[derive(Debug, clap::Args)]
pub(crate) struct StressArgs {
    /// Journal: a SQLite file or a `postgres://` URL (read only).
    #[arg(long, value_name = "DB")]
    pub(crate) db: String,
    /// A price move, `ASSET=MOVE`: relative (`-30%`, `+5%`) or an absolute price (`0.97`, a
    /// depeg). Moves of different assets form one step; naming an asset again starts the next
    /// step of the path (`--shock ETH=-10% --shock ETH=-40%`).
    #[arg(long, value_name = "ASSET=MOVE", required = true)]
    pub(crate) shock: Vec<String>,
    /// Most tokens of each debt asset the stress keeper repays per step (default: unlimited).
    #[arg(long, value_name = "AMOUNT")]
    pub(crate) keeper_capacity: Option<String>,
    /// A drain of a lending market before the first step, `ASSET=AMOUNT` (repeatable).
    #[arg(long, value_name = "ASSET=AMOUNT")]
    pub(crate) exploit: Vec<String>,
    /// Print the answer as `POST /v1/stress` gives it (JSON) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Splits `NAME=VALUE`.
fn pair<'a>(flag: &str, text: &'a str) -> Result<(&'a str, &'a str), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() && !value.trim().is_empty() => {
            Ok((name.trim(), value.trim()))
        }
        _ => Err(format!("--{flag} {text:?}: expected NAME=VALUE, e.g. ETH=-30%")),
    }
}

/// The shock the arguments describe.
///
/// # Errors
/// A malformed `--shock`, `--exploit` or `--keeper-capacity`.
pub(crate) fn shock_of(args: &StressArgs) -> Result<Shock, String> {
    let mut steps: Vec<BTreeMap<String, String>> = Vec::new();
    for text in &args.shock {
        let (asset, change) = pair("shock", text)?;
        match steps.last_mut() {
            Some(step) if !step.contains_key(asset) => {
                step.insert(asset.to_owned(), change.to_owned());
            }
            _ => steps.push(BTreeMap::from([(asset.to_owned(), change.to_owned())])),
        }
    }
    let amount = |flag: &str, text: &str| {
        text.parse::<Amount>().map_err(|error| format!("--{flag} {text:?}: {error}"))
    };
    let keeper_capacity =
        args.keeper_capacity.as_deref().map(|text| amount("keeper-capacity", text)).transpose()?;
    let mut exploits = Vec::new();
    for text in &args.exploit {
        let (asset, value) = pair("exploit", text)?;
        exploits.push(ExploitShock { asset: asset.to_owned(), amount: amount("exploit", value)? });
    }
    Ok(Shock { steps, keeper_capacity, exploits })
}

/// Runs `stress`; returns the exit code.
///
/// # Errors
/// Only for failures to write the output.
pub(crate) fn run(
    args: &StressArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let shock = match shock_of(args) {
        Ok(shock) => shock,
        Err(message) => {
            writeln!(err, "error: {message}")?;
            return Ok(EXIT_INPUT);
        }
    };
    if let Some(path) = crate::replay::missing_sqlite_file(&args.db) {
        writeln!(err, "error: no journal at {path}")?;
        return Ok(EXIT_INPUT);
    }
    let mut recovered = match Ledger::open(&args.db).and_then(|mut ledger| ledger.recover()) {
        Ok(recovered) => recovered,
        Err(error) => {
            writeln!(err, "error: the journal could not be read: {error}")?;
            return Ok(EXIT_INTERNAL);
        }
    };
    let seq = recovered.head.seq;
    let state_hash = hex::encode(recovered.engine.state_hash());
    let report = match stress::run(&recovered.engine, &shock) {
        Ok(report) => report,
        Err(error @ (StressError::Invalid(_) | StressError::TooLarge(_))) => {
            writeln!(err, "error: {error}")?;
            return Ok(EXIT_INPUT);
        }
    };
    if args.json {
        let mut body = serde_json::to_value(&report)?;
        if let Some(object) = body.as_object_mut() {
            object.insert("seq".to_owned(), seq.into());
            object.insert("state_hash".to_owned(), state_hash.into());
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
    } else {
        write_table(out, seq, &state_hash, &report)?;
    }
    Ok(EXIT_OK)
}

/// The answer as text: per market the deficit, each layer's payment, socialised, uncovered.
fn write_table(
    out: &mut dyn Write,
    seq: u64,
    state_hash: &str,
    report: &StressReport,
) -> std::io::Result<()> {
    writeln!(out, "what-if at journal seq {seq} (state {state_hash}, unchanged)")?;
    writeln!(out, "liquidations: {}, rejected: {}", report.liquidations, report.rejected)?;
    if report.markets.is_empty() {
        writeln!(out, "no market records a deficit")?;
    }
    for market in &report.markets {
        writeln!(out, "market {} ({}): deficit {}", market.market, market.asset, market.deficit)?;
        for (layer, paid) in &market.paid {
            writeln!(out, "  paid by {layer:<24} {paid}")?;
        }
        writeln!(out, "  socialised {:<23} {}", "", market.socialized)?;
        writeln!(out, "  uncovered {:<24} {}", "", market.uncovered)?;
    }
    Ok(())
}
