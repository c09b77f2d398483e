//! `backstop exec SCRIPT --config VENUE.toml`: runs a command script and prints JSON lines.
//!
//! Everything is read and checked before the first command runs: a missing file, a bad config or
//! a bad script line stops with exit code 2 and nothing on stdout. Then each command is applied in
//! order; each event is one JSON line, each rejection one JSON line (and the run goes on, unless
//! `--fail-on-rejection`), and a final `{"summary": ...}` line describes the end state.

use crate::json::Object;
use backstop_core::script::{ScriptError, ScriptLine, parse_script};
use backstop_core::{Command, ConfigError, Engine, Event, Rejection, VenueConfig};
use serde::Serialize;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Exit code for a run that completed.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code for an internal error (I/O on the output, an engine panic).
pub(crate) const EXIT_INTERNAL: u8 = 1;
/// Exit code for bad input: unreadable file, bad config, bad script.
pub(crate) const EXIT_INPUT: u8 = 2;
/// Exit code for a rejected command under `--fail-on-rejection`.
pub(crate) const EXIT_REJECTED: u8 = 3;

/// Most script errors printed; the rest are counted.
const SCRIPT_ERRORS_SHOWN: usize = 20;

/// Arguments of `backstop exec`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExecArgs {
    /// Command script to run (see docs/script-format.md).
    #[arg(value_name = "FILE")]
    pub(crate) script: PathBuf,
    /// Venue configuration in TOML.
    #[arg(long, value_name = "VENUE.toml")]
    pub(crate) config: PathBuf,
    /// Stop at the first rejected command and exit with code 3 (after printing the rejection).
    #[arg(long)]
    pub(crate) fail_on_rejection: bool,
}

/// Runs `exec`, writing JSON lines to `out` and diagnostics to `err`; returns the exit code.
///
/// # Errors
/// Only for failures to write the output: bad input is reported on `err` with exit code 2.
pub(crate) fn run(args: &ExecArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let (config, script) = match load(args) {
        Ok(loaded) => loaded,
        Err(messages) => {
            for message in messages {
                writeln!(err, "error: {message}")?;
            }
            return Ok(EXIT_INPUT);
        }
    };
    let mut engine = match Engine::new(config.clone()) {
        Ok(engine) => engine,
        Err(error) => {
            writeln!(err, "error: {}", config_message(&args.config, &error))?;
            return Ok(EXIT_INPUT);
        }
    };
    let mut counts = Counts::default();
    for ScriptLine { line, command } in &script {
        let result = match catch_unwind(AssertUnwindSafe(|| engine.apply(command))) {
            Ok(result) => result,
            Err(_) => {
                out.flush()?;
                writeln!(
                    err,
                    "error: {}:{line}: the engine panicked while applying {} (an engine bug)",
                    args.script.display(),
                    command.name()
                )?;
                return Ok(EXIT_INTERNAL);
            }
        };
        match result {
            Ok(events) => {
                counts.applied = counts.applied.saturating_add(1);
                write_events(out, &config, *line, command, &events)?;
            }
            Err(rejection) => {
                counts.rejected = counts.rejected.saturating_add(1);
                write_rejection(out, &config, *line, command, &rejection)?;
                if args.fail_on_rejection {
                    out.flush()?;
                    writeln!(
                        err,
                        "error: {}:{line}: {}: {rejection}",
                        args.script.display(),
                        command.name()
                    )?;
                    return Ok(EXIT_REJECTED);
                }
            }
        }
    }
    write_summary(out, &mut engine, counts)?;
    Ok(EXIT_OK)
}

/// Reads and checks the config and the script; on failure, every message to print.
fn load(args: &ExecArgs) -> Result<(VenueConfig, Vec<ScriptLine>), Vec<String>> {
    let config_text = read(&args.config, "config")?;
    let config = VenueConfig::from_toml_str(&config_text)
        .map_err(|error| vec![config_message(&args.config, &error)])?;
    let script_text = read(&args.script, "script")?;
    let script = parse_script(&script_text, &config)
        .map_err(|errors| script_messages(&args.script, &errors))?;
    Ok((config, script))
}

fn read(path: &Path, what: &str) -> Result<String, Vec<String>> {
    std::fs::read_to_string(path)
        .map_err(|error| vec![format!("cannot read {what} file {}: {error}", path.display())])
}

/// `<file>:<line>: <field>: <message>`, leaving out what the error does not know.
fn config_message(path: &Path, error: &ConfigError) -> String {
    match error.line {
        Some(line) => format!("{}:{line}: {}: {}", path.display(), error.field, error.message),
        None => format!("{}: {}: {}", path.display(), error.field, error.message),
    }
}

fn script_messages(path: &Path, errors: &[ScriptError]) -> Vec<String> {
    let mut messages: Vec<String> = errors
        .iter()
        .take(SCRIPT_ERRORS_SHOWN)
        .map(|error| match &error.field {
            Some(field) => {
                format!("{}:{}: {field}: {}", path.display(), error.line, error.message)
            }
            None => format!("{}:{}: {}", path.display(), error.line, error.message),
        })
        .collect();
    if errors.len() > SCRIPT_ERRORS_SHOWN {
        let hidden = errors.len().saturating_sub(SCRIPT_ERRORS_SHOWN);
        messages.push(format!("{}: {hidden} more errors not shown", path.display()));
    }
    messages
}

/// One line per event: `{"line":N,"command":"...","event":"...",...}`. A command applied without
/// any event (such as `accrue_interest` with nothing to accrue) prints `"event":null`, so every
/// script line shows in the output.
fn write_events(
    out: &mut dyn Write,
    config: &VenueConfig,
    line: usize,
    command: &Command,
    events: &[Event],
) -> anyhow::Result<()> {
    if events.is_empty() {
        let mut object = header(line, command);
        object.push("event", serde_json::Value::Null);
        return object.write_line(out);
    }
    for event in events {
        let mut object = header(line, command);
        let mut fields = Object::of(event)?;
        fields.name_ids(config);
        object.extend(fields);
        object.write_line(out)?;
    }
    Ok(())
}

/// `{"line":N,"command":"...","rejection":"...","code":C,"message":"...",...fields}`.
fn write_rejection(
    out: &mut dyn Write,
    config: &VenueConfig,
    line: usize,
    command: &Command,
    rejection: &Rejection,
) -> anyhow::Result<()> {
    let mut object = header(line, command);
    let mut fields = Object::of(rejection)?.0.into_iter();
    // The first field is the tag, `rejection`; the code and message follow it.
    if let Some((key, value)) = fields.next() {
        object.push(&key, value);
    }
    object.push("code", rejection.code());
    object.push("message", rejection.to_string());
    let mut rest = Object(fields.collect());
    rest.name_ids(config);
    object.extend(rest);
    object.write_line(out)
}

fn header(line: usize, command: &Command) -> Object {
    let mut object = Object::default();
    object.push("line", line);
    object.push("command", command.name());
    object
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    applied: usize,
    rejected: usize,
}

#[derive(Debug, Serialize)]
struct SummaryLine<'a> {
    summary: Summary<'a>,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    venue: &'a str,
    time: u64,
    commands_applied: usize,
    commands_rejected: usize,
    accounts: usize,
    assets: Vec<AssetSummary<'a>>,
    lending: Vec<LendingSummary<'a>>,
    perps: Vec<PerpSummary<'a>>,
    liquidatable: Vec<u64>,
    state_hash: String,
}

#[derive(Debug, Serialize)]
struct AssetSummary<'a> {
    symbol: &'a str,
    external_net: String,
    fees: String,
    price: String,
}

#[derive(Debug, Serialize)]
struct LendingSummary<'a> {
    asset: &'a str,
    cash: String,
    total_debt: String,
    supplier_claims: String,
    deficit: String,
    auction_debt: String,
    supply_index: String,
    borrow_index: String,
    utilization: String,
}

#[derive(Debug, Serialize)]
struct PerpSummary<'a> {
    name: &'a str,
    open_interest: String,
    deficit: String,
}

fn write_summary(out: &mut dyn Write, engine: &mut Engine, counts: Counts) -> anyhow::Result<()> {
    let state_hash = backstop_core::to_hex(&engine.state_hash());
    let mut liquidatable: Vec<u64> =
        engine.liquidatable_accounts().into_iter().map(|id| id.0).collect();
    liquidatable.sort_unstable();
    liquidatable.dedup();
    let (config, state) = (engine.config(), engine.state());
    let assets = config
        .assets
        .iter()
        .enumerate()
        .map(|(index, asset)| AssetSummary {
            symbol: &asset.symbol,
            external_net: state.external_net.get(index).copied().unwrap_or_default().to_string(),
            fees: state.fees.get(index).copied().unwrap_or_default().to_string(),
            price: state.prices.get(index).map(|entry| entry.price).unwrap_or_default().to_string(),
        })
        .collect();
    let mut lending = Vec::new();
    for (asset, market) in config.assets.iter().zip(&state.lending) {
        let Some(market) = market else { continue };
        let failed =
            |what: &'static str| move |rejection: Rejection| anyhow::anyhow!("{what}: {rejection}");
        lending.push(LendingSummary {
            asset: &asset.symbol,
            cash: market.cash.to_string(),
            total_debt: market.total_debt().map_err(failed("total debt"))?.to_string(),
            supplier_claims: market
                .supplier_claims()
                .map_err(failed("supplier claims"))?
                .to_string(),
            deficit: market.deficit.to_string(),
            auction_debt: market.auction_debt.to_string(),
            supply_index: market.supply_index.to_string(),
            borrow_index: market.borrow_index.to_string(),
            utilization: market.utilization().map_err(failed("utilization"))?.to_string(),
        });
    }
    let perps = config
        .perps
        .iter()
        .zip(&state.perps)
        .map(|(perp, market)| PerpSummary {
            name: &perp.name,
            open_interest: market.open_interest.to_string(),
            deficit: market.deficit.to_string(),
        })
        .collect();
    let summary = Summary {
        venue: &config.venue.name,
        time: state.now,
        commands_applied: counts.applied,
        commands_rejected: counts.rejected,
        accounts: state.accounts.len(),
        assets,
        lending,
        perps,
        liquidatable,
        state_hash,
    };
    serde_json::to_writer(&mut *out, &SummaryLine { summary })?;
    out.write_all(b"\n")?;
    Ok(())
}
