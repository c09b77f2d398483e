//! Configuration validation: each bad snippet must be refused with the field path and the line
//! of the TOML text that is wrong.
#![allow(clippy::unwrap_used, missing_docs)]

use backstop_core::{ConfigError, VenueConfig};

/// A valid venue; the line numbers below refer to this text (line 1 is `[venue]`).
const BASE: &str = r#"[venue]
name = "cfg"
account_count_max = 100

[oracle]
max_staleness_secs = 3600

[[asset]]
symbol = "USDC"
decimals = 6

[[asset]]
symbol = "ETH"
decimals = 18

[[lending]]
asset = "USDC"
collateral_factor = "0.85"
liquidation_threshold = "0.90"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0.04"
kink = "0.80"
slope2 = "0.60"

[[lending]]
asset = "ETH"
collateral_factor = "0.80"
liquidation_threshold = "0.825"
liquidation_bonus = "0.05"
[lending.rate]
slope1 = "0.03"
kink = "0.80"
slope2 = "0.80"

[[perp]]
name = "ETH-PERP"
underlying = "ETH"
settlement = "USDC"
initial_margin = "0.10"
maintenance_margin = "0.05"
liquidation_fee = "0.01"
max_leverage = "10"
open_interest_cap = "100000"
"#;

/// `BASE` with each line `line` (1-based) replaced by `text` (which may span several lines).
fn with_lines(changes: &[(usize, &str)]) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    for &(line, text) in changes {
        assert!(line >= 1 && line <= lines.len(), "line {line} is outside BASE");
        lines[line - 1] = text;
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// `BASE` with line `line` replaced by `text`.
fn with_line(line: usize, text: &str) -> String {
    with_lines(&[(line, text)])
}

fn error_of(text: &str) -> ConfigError {
    match VenueConfig::from_toml_str(text) {
        Ok(_) => panic!("config was accepted:\n{text}"),
        Err(error) => error,
    }
}

/// One bad snippet: replace line `line` of `BASE` by `text`; the error must name `field` at
/// `expected_line` (which differs from `line` when `text` adds lines before the culprit).
struct Case {
    line: usize,
    text: &'static str,
    field: &'static str,
    expected_line: usize,
}

const fn case(line: usize, text: &'static str, field: &'static str, expected_line: usize) -> Case {
    Case { line, text, field, expected_line }
}

const DUTCH_ON_PERP: &str = r#"open_interest_cap = "100000"
[perp.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 90
cut = "0.99"
tail_secs = 7200
cusp = "0.45"
penalty = "0.13""#;

const DUTCH_CUT_ONE: &str = r#"slope2 = "0.80"
[lending.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 90
cut = "1"
tail_secs = 7200
cusp = "0.45"
penalty = "0.13""#;

const DUTCH_TAIL_TOO_LONG: &str = r#"slope2 = "0.80"
[lending.liquidation]
mode = "dutch_auction"
buf = "1.10"
step_secs = 1
cut = "0.99"
tail_secs = 100001
cusp = "0.45"
penalty = "0.13""#;

#[test]
fn base_config_is_valid() {
    let config = VenueConfig::from_toml_str(BASE).unwrap();
    assert_eq!(config.assets.len(), 2);
    assert_eq!(config.lending.len(), 2);
    assert_eq!(config.perps.len(), 1);
    // Boundary values are accepted: cf = lt; (1 + 0.25) × 0.80 = 1 exactly; a kink just below 1;
    // liquidation_fee = maintenance_margin = initial_margin; a tail of exactly 100,000 steps.
    let boundaries: [&[(usize, &str)]; 5] = [
        &[(28, "collateral_factor = \"0.825\"")],
        &[(29, "liquidation_threshold = \"0.80\""), (30, "liquidation_bonus = \"0.25\"")],
        &[(33, "kink = \"0.999999999999999999\"")],
        &[(41, "maintenance_margin = \"0.10\""), (42, "liquidation_fee = \"0.10\"")],
        &[(34, &DUTCH_TAIL_TOO_LONG.replace("100001", "100000"))],
    ];
    for changes in boundaries {
        let text = with_lines(changes);
        if let Err(error) = VenueConfig::from_toml_str(&text) {
            panic!("boundary case {changes:?} refused: {error}");
        }
    }
}

#[test]
fn bad_snippets_name_their_field_and_line() {
    let cases = [
        // Unknown fields: serde names the key; the line is that of the key.
        case(2, "nmae = \"cfg\"", "nmae", 2),
        case(28, "colateral_factor = \"0.80\"", "colateral_factor", 28),
        case(44, "open_interest_cap = \"100000\"\nfunding_rate = \"0.01\"", "funding_rate", 45),
        // Assets.
        case(13, "symbol = \"USDC\"", "asset[1].symbol", 13),
        case(13, "symbol = \"ETH PERP\"", "asset[1].symbol", 13),
        case(10, "decimals = 19", "asset[0].decimals", 10),
        // Lending markets.
        case(27, "asset = \"BTC\"", "lending[1].asset", 27),
        case(27, "asset = \"USDC\"", "lending[1].asset", 27),
        case(29, "liquidation_threshold = \"1.01\"", "lending[1].liquidation_threshold", 29),
        case(28, "collateral_factor = \"0.83\"", "lending[1].collateral_factor", 28),
        case(18, "collateral_factor = \"-0.1\"", "lending[0].collateral_factor", 18),
        // (1 + 0.25) × 0.825 = 1.03125 > 1: every liquidation would leave bad debt.
        case(30, "liquidation_bonus = \"0.25\"", "lending[1].liquidation_bonus", 30),
        // (1 + 0.12) × 0.90 = 1.008 > 1 in the first market.
        case(20, "liquidation_bonus = \"0.12\"", "lending[0].liquidation_bonus", 20),
        case(33, "kink = \"1\"", "lending[1].rate.kink", 33),
        case(23, "kink = \"0\"", "lending[0].rate.kink", 23),
        // 0.03 + 10 > 10.
        case(34, "slope2 = \"10\"", "lending[1].rate.slope2", 34),
        case(34, DUTCH_CUT_ONE, "lending[1].liquidation.cut", 39),
        case(34, DUTCH_TAIL_TOO_LONG, "lending[1].liquidation.tail_secs", 40),
        // Perpetual markets.
        case(39, "settlement = \"ETH\"", "perp[0].settlement", 39),
        case(38, "underlying = \"BTC\"", "perp[0].underlying", 38),
        case(41, "maintenance_margin = \"0.20\"", "perp[0].maintenance_margin", 41),
        case(42, "liquidation_fee = \"0.06\"", "perp[0].liquidation_fee", 42),
        case(43, "max_leverage = \"0.5\"", "perp[0].max_leverage", 43),
        case(44, "open_interest_cap = \"0\"", "perp[0].open_interest_cap", 44),
        case(44, DUTCH_ON_PERP, "perp[0].liquidation.mode", 46),
    ];
    let mut failures = Vec::new();
    for Case { line, text, field, expected_line } in cases {
        let error = error_of(&with_line(line, text));
        if error.field != field || error.line != Some(expected_line) {
            failures.push(format!(
                "line {line} <- {text:?}: expected {field} at line {expected_line}, got {error:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Regression test for a fixed bug, which was: fields of the plain `[venue]` and `[oracle]` tables are never located, because
/// `locate_field` only marks a table as "wanted" at a `[[array]]` header.
#[test]
fn venue_and_oracle_errors_carry_their_line() {
    for (line, text, field) in [
        (6, "max_staleness_secs = 0", "oracle.max_staleness_secs"),
        (6, "max_staleness_secs = 3600\nmax_move = \"0\"", "oracle.max_move"),
        (3, "account_count_max = 0", "venue.account_count_max"),
    ] {
        let error = error_of(&with_line(line, text));
        let expected_line = if field == "oracle.max_move" { 7 } else { line };
        assert_eq!(
            (error.field.as_str(), error.line),
            (field, Some(expected_line)),
            "{text:?}: {error}"
        );
    }
}

/// Regression test for a fixed bug, which was: an out-of-range integer is reported with the offending value taken for the field name:
/// `max_staleness_secs = -1` gives field `-1`, because `field_from_message` picks the first
/// backticked text of serde's "invalid value: integer `-1`, expected u64" and is preferred over
/// the key found at the error's span (config.rs `syntax_error`). Wrong types (a bare float, a
/// string for an integer) name their key.
#[test]
fn type_errors_name_the_field() {
    for (line, text, key) in [
        (18, "collateral_factor = 0.85", "collateral_factor"),
        (10, "decimals = \"6\"", "decimals"),
        (6, "max_staleness_secs = -1", "max_staleness_secs"),
    ] {
        let error = error_of(&with_line(line, text));
        assert_eq!(error.line, Some(line), "{text:?}: {error}");
        assert!(
            error.field.ends_with(key),
            "{text:?}: field {:?} does not name {key}",
            error.field
        );
    }
}
