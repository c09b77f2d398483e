//! Published outcomes: the `[[expect]]` lines of a scenario (what really happened, with its
//! source) and their comparison with what the run simulated, a verdict per line. A published
//! figure is never an input: it is only read after the run, to judge it.

use crate::metrics::Summary;
use serde::{Deserialize, Serialize};

/// Metrics an `[[expect]]` line may name besides `paid:<layer>` and `loss_beyond:<layer>`: the
/// per-path figures [`crate::metrics::summarize`] computes.
pub const METRICS: [&str; 13] = [
    "deficit_created",
    "liquidated_volume",
    "liquidations",
    "uncovered_at_end",
    "fund_min",
    "staker_loss_share",
    "socialized",
    "adl_haircut_max",
    "adl_haircut_total",
    "auctions_dealt",
    "zero_bid_share",
    "tokens_minted",
    "gas_spent",
];

/// One published outcome: `metric` was between `low` and `high` (`unit`), per `source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// A summary metric ([`METRICS`], `paid:<layer>` or `loss_beyond:<layer>`).
    pub metric: String,
    /// Lowest published figure.
    pub low: f64,
    /// Highest published figure (equal to `low` for a single figure).
    pub high: f64,
    /// Unit of `low` and `high` as published: the numeraire's name for values, `count` for
    /// `liquidations`, `share` for `staker_loss_share`.
    pub unit: String,
    /// Where the figure was published.
    pub source: String,
}

/// Where a simulated figure falls against a published range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// low ≤ simulated ≤ high.
    Within,
    /// simulated < low.
    Below,
    /// simulated > high.
    Above,
}

impl Verdict {
    /// The verdict's word, as printed.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Within => "within",
            Verdict::Below => "below",
            Verdict::Above => "above",
        }
    }
}

/// The verdict for `simulated` against the closed range [`low`, `high`].
#[must_use]
pub fn verdict(simulated: f64, low: f64, high: f64) -> Verdict {
    if simulated < low {
        Verdict::Below
    } else if simulated > high {
        Verdict::Above
    } else {
        Verdict::Within
    }
}

/// One line of the published-against-simulated table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The published outcome.
    #[serde(flatten)]
    pub expect: ExpectSpec,
    /// The simulated figure: the metric's mean over paths (the value itself for a one-path
    /// replay); 0 for a layer that paid nothing on any path.
    pub simulated: f64,
    /// Where `simulated` falls.
    pub verdict: Verdict,
}

/// Compares each published outcome with the run's summary, in file order.
#[must_use]
pub fn compare(expects: &[ExpectSpec], summary: &Summary) -> Vec<Comparison> {
    expects
        .iter()
        .map(|expect| {
            let simulated = summary.metrics.get(&expect.metric).map_or(0.0, |stat| stat.mean);
            Comparison {
                expect: expect.clone(),
                simulated,
                verdict: verdict(simulated, expect.low, expect.high),
            }
        })
        .collect()
}

/// Checks `[[expect]]` lines: a known metric (a layer the venue has for `paid:` and
/// `loss_beyond:`), finite `0 ≤ low ≤ high`, the unit the metric is counted in, a source.
/// `is_layer` tells whether a layer text names a layer of the venue.
///
/// # Errors
/// The key (`expect[1].metric`) and message of the first problem.
pub fn validate(
    expects: &[ExpectSpec],
    is_layer: &dyn Fn(&str) -> bool,
) -> Result<(), (String, String)> {
    for (index, expect) in expects.iter().enumerate() {
        let key = |field: &str| format!("expect[{index}].{field}");
        let layer = expect
            .metric
            .strip_prefix("paid:")
            .or_else(|| expect.metric.strip_prefix("loss_beyond:"));
        let known = match layer {
            Some(layer) => is_layer(layer),
            None => METRICS.contains(&expect.metric.as_str()),
        };
        if !known {
            return Err((
                key("metric"),
                format!(
                    "unknown metric {:?}; expected one of {}, paid:<layer> or \
                     loss_beyond:<layer> for a layer of the venue",
                    expect.metric,
                    METRICS.join(", ")
                ),
            ));
        }
        if !(expect.low.is_finite() && expect.high.is_finite() && expect.low <= expect.high) {
            return Err((
                key("high"),
                format!(
                    "low and high must be finite with low ≤ high, got {} and {}",
                    expect.low, expect.high
                ),
            ));
        }
        let unit = match expect.metric.as_str() {
            "liquidations" | "auctions_dealt" => Some("count"),
            "staker_loss_share" | "zero_bid_share" => Some("share"),
            _ => None,
        };
        match unit {
            Some(unit) if expect.unit != unit => {
                return Err((
                    key("unit"),
                    format!("{} is counted in {unit:?}, got {:?}", expect.metric, expect.unit),
                ));
            }
            _ if expect.unit.trim().is_empty() => {
                return Err((key("unit"), "must name the unit of low and high".to_owned()));
            }
            _ => {}
        }
        if expect.source.trim().is_empty() {
            return Err((key("source"), "must cite where the figure was published".to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::metrics::{PathMetrics, summarize};

    fn expect(metric: &str, low: f64, high: f64, unit: &str) -> ExpectSpec {
        ExpectSpec {
            metric: metric.to_owned(),
            low,
            high,
            unit: unit.to_owned(),
            source: "hand".to_owned(),
        }
    }

    #[test]
    fn verdict_is_closed_at_both_ends() {
        assert_eq!(verdict(4_000_000.0, 4_000_000.0, 6_650_000.0), Verdict::Within);
        assert_eq!(verdict(6_650_000.0, 4_000_000.0, 6_650_000.0), Verdict::Within);
        assert_eq!(verdict(1_270_000.0, 4_000_000.0, 6_650_000.0), Verdict::Below);
        assert_eq!(verdict(6_650_000.5, 4_000_000.0, 6_650_000.0), Verdict::Above);
        assert_eq!(verdict(310.0, 310.0, 310.0), Verdict::Within);
        assert_eq!(verdict(309.0, 310.0, 310.0), Verdict::Below);
    }

    #[test]
    fn compare_reads_the_mean_over_paths_and_zero_for_an_absent_layer() {
        // Deficits 1,000 and 3,000 on two paths: mean 2,000; 300 + 100 liquidations: mean 200.
        let paths = [
            PathMetrics { deficit_created: 1_000.0, liquidations: 300, ..PathMetrics::default() },
            PathMetrics {
                path: 1,
                deficit_created: 3_000.0,
                liquidations: 100,
                ..PathMetrics::default()
            },
        ];
        let summary = summarize(&paths);
        let expects = [
            expect("deficit_created", 2_500.0, 4_000.0, "DAI"),
            expect("liquidations", 150.0, 200.0, "count"),
            expect("paid:fund:surplus", 1.0, 2.0, "DAI"),
        ];
        let table = compare(&expects, &summary);
        let got: Vec<(f64, Verdict)> =
            table.iter().map(|row| (row.simulated, row.verdict)).collect();
        assert_eq!(
            got,
            [(2_000.0, Verdict::Below), (200.0, Verdict::Within), (0.0, Verdict::Below)]
        );
    }

    #[test]
    fn validate_refuses_unknown_metrics_bad_ranges_units_and_sources() {
        let is_layer = |layer: &str| layer == "fund:surplus";
        assert_eq!(validate(&[expect("paid:fund:surplus", 1.0, 2.0, "DAI")], &is_layer), Ok(()));
        let (key, message) = validate(
            &[expect("deficit_created", 1.0, 2.0, "DAI"), expect("bad_debt", 1.0, 2.0, "DAI")],
            &is_layer,
        )
        .unwrap_err();
        assert_eq!(key, "expect[1].metric");
        assert!(message.contains("unknown metric \"bad_debt\""), "{message}");
        assert!(message.contains("deficit_created"), "{message}");
        let key = |spec: ExpectSpec| validate(&[spec], &is_layer).unwrap_err().0;
        assert_eq!(key(expect("paid:fund:other", 1.0, 2.0, "DAI")), "expect[0].metric");
        assert_eq!(key(expect("deficit_created", 3.0, 2.0, "DAI")), "expect[0].high");
        assert_eq!(key(expect("deficit_created", f64::NAN, 2.0, "DAI")), "expect[0].high");
        assert_eq!(key(expect("liquidations", 1.0, 2.0, "DAI")), "expect[0].unit");
        assert_eq!(key(expect("deficit_created", 1.0, 2.0, " ")), "expect[0].unit");
        let mut unsourced = expect("deficit_created", 1.0, 2.0, "DAI");
        unsourced.source = String::new();
        assert_eq!(key(unsourced), "expect[0].source");
    }
}
