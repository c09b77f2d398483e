//! `GET /v1/risk` and the risk gauges of `/metrics`: the [`crate::risk`] report of a copy of the
//! engine taken under the read lock, computed outside it so the writer is not held up.

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::risk::{self, RiskReport};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

/// Drops whose capital at risk `/metrics` exports.
pub const GAUGE_DROPS_PCT: [u32; 3] = [10, 30, 50];

/// The report of a copy of the current engine, and the journal head it was taken at.
async fn current(app: &AppState) -> Result<(u64, RiskReport), ApiError> {
    let (seq, engine) = {
        let shared = app.read();
        (shared.head.seq, shared.engine.clone())
    };
    let joined = tokio::task::spawn_blocking(move || risk::report(&engine)).await;
    match joined {
        Ok(Ok(report)) => Ok((seq, report)),
        Ok(Err(error)) => Err(ApiError::new(
            ErrorCode::InternalError,
            format!("the risk report could not be computed: {error}"),
        )),
        Err(error) => {
            Err(ApiError::new(ErrorCode::InternalError, format!("a risk task failed: {error}")))
        }
    }
}

/// `GET /v1/risk`.
pub async fn risk(State(app): State<AppState>) -> Response {
    match current(&app).await {
        Ok((seq, report)) => {
            let mut body = match serde_json::to_value(&report) {
                Ok(body) => body,
                Err(error) => {
                    return ApiError::new(ErrorCode::InternalError, error.to_string())
                        .into_response();
                }
            };
            if let Some(object) = body.as_object_mut() {
                object.insert("seq".to_owned(), seq.into());
            }
            axum::Json(body).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Appends one gauge family.
fn family(out: &mut String, name: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// Every risk gauge of a report, as Prometheus text (values are the exact decimal strings).
#[must_use]
pub fn gauges(report: &RiskReport) -> String {
    let mut out = String::new();
    let ratio =
        |ratio: Option<backstop_money::Ratio>| ratio.map_or("NaN".to_owned(), |r| r.to_string());
    family(
        &mut out,
        "backstop_coverage_ratio",
        "Backstop capital value / exposure value of every market (NaN without exposure).",
        &[(String::new(), ratio(report.coverage))],
    );
    family(
        &mut out,
        "backstop_capital_value",
        "Value of every layer's capital in the numeraire.",
        &[(String::new(), report.capital_value.to_string())],
    );
    family(
        &mut out,
        "backstop_exposure_value",
        "Value of lending debt and perpetual open interest in the numeraire.",
        &[(String::new(), report.exposure_value.to_string())],
    );
    let markets: Vec<_> = report
        .markets
        .iter()
        .map(|m| (format!("market=\"{}\"", label(&m.market)), ratio(m.coverage)))
        .collect();
    family(
        &mut out,
        "backstop_market_coverage_ratio",
        "Capital of a market's waterfall / its exposure.",
        &markets,
    );
    let layers: Vec<_> = report
        .layers
        .iter()
        .map(|l| {
            (
                format!("layer=\"{}\",asset=\"{}\"", label(&l.layer), label(&l.asset)),
                l.balance.to_string(),
            )
        })
        .collect();
    family(&mut out, "backstop_layer_balance", "Tokens a safety-net layer holds.", &layers);
    let deficits: Vec<_> = report
        .markets
        .iter()
        .map(|m| {
            let open = report.deficits.iter().find(|d| d.market == m.market);
            (
                format!("market=\"{}\"", label(&m.market)),
                open.map_or("0".to_owned(), |d| d.value.to_string()),
            )
        })
        .collect();
    family(
        &mut out,
        "backstop_open_deficit_value",
        "Open deficit of a market in the numeraire.",
        &deficits,
    );
    family(
        &mut out,
        "backstop_open_deficits_value",
        "Sum of open deficits in the numeraire.",
        &[(String::new(), report.deficit_value.to_string())],
    );
    let mut collateral = Vec::new();
    let mut bad_debt = Vec::new();
    for asset in &report.at_risk {
        for step in asset.steps.iter().filter(|s| GAUGE_DROPS_PCT.contains(&s.drop_pct)) {
            let labels =
                format!("asset=\"{}\",drop_pct=\"{}\"", label(&asset.asset), step.drop_pct);
            collateral.push((labels.clone(), step.collateral_value.to_string()));
            bad_debt.push((labels, step.bad_debt.to_string()));
        }
    }
    family(
        &mut out,
        "backstop_capital_at_risk_value",
        "Collateral value that becomes liquidatable if the asset falls by drop_pct percent.",
        &collateral,
    );
    family(
        &mut out,
        "backstop_bad_debt_at_risk_value",
        "Bad debt those liquidations would leave if the asset falls by drop_pct percent.",
        &bad_debt,
    );
    out
}

/// Appends the risk gauges to a `/metrics` body (nothing when the report fails: the scrape
/// still answers, and `backstop_risk_up` says 0).
pub async fn render_gauges(app: &AppState, out: &mut String) {
    let report = current(app).await;
    family(
        out,
        "backstop_risk_up",
        "1 when the risk gauges below were computed, 0 when the report failed.",
        &[(String::new(), if report.is_ok() { "1" } else { "0" }.to_owned())],
    );
    if let Ok((_, report)) = report {
        out.push_str(&gauges(&report));
    }
}

/// `POST /v1/stress`: runs a [`crate::stress::Shock`] on a copy of the engine taken under the
/// read lock, outside it; the journal and the live engine are never touched.
pub async fn stress(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    match run_stress(&app, &headers, body).await {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Parses the shock, runs it, and answers the report with the head it started from.
async fn run_stress(
    app: &AppState,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<serde_json::Value, ApiError> {
    crate::payload::require_json(headers)?;
    let bytes = crate::payload::read_limited(headers, body, app.limits.max_body_bytes).await?;
    let shock: crate::stress::Shock = crate::payload::parse_json(&bytes)?;
    let (seq, state_hash, engine) = {
        let shared = app.read();
        (shared.head.seq, hex::encode(shared.state_hash), shared.engine.clone())
    };
    let joined = tokio::task::spawn_blocking(move || crate::stress::run(&engine, &shock)).await;
    let report = match joined {
        Ok(Ok(report)) => report,
        Ok(Err(crate::stress::StressError::Invalid(message))) => {
            return Err(ApiError::new(ErrorCode::InvalidValue, message));
        }
        Ok(Err(crate::stress::StressError::TooLarge(message))) => {
            return Err(ApiError::new(ErrorCode::BatchTooLarge, message));
        }
        Err(error) => {
            return Err(ApiError::new(ErrorCode::InternalError, format!("stress task: {error}")));
        }
    };
    let mut body = serde_json::to_value(&report)
        .map_err(|error| ApiError::new(ErrorCode::InternalError, error.to_string()))?;
    if let Some(object) = body.as_object_mut() {
        object.insert("seq".to_owned(), seq.into());
        object.insert("state_hash".to_owned(), state_hash.into());
    }
    Ok(body)
}
