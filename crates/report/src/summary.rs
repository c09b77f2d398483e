//! `summary.json`: the machine-readable report, schema `backstop.summary/1`
//! (docs/summary-schema.md). Keys are sorted at every level and floats are written by serde_json,
//! so identical inputs give identical bytes.

use crate::{ReportInfo, SizingResult};
use backstop_sim::runner::RunResult;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The schema tag written as `"schema"`. A change of meaning of any field bumps the version; adding
/// a field does not.
pub const SCHEMA: &str = "backstop.summary/1";

/// What each layer paid across all paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LayerTotals {
    /// Sum over paths.
    pub(crate) total: f64,
    /// Mean per path.
    pub(crate) mean: f64,
    /// Share of everything all layers paid (0–1; 0 when nothing was paid).
    pub(crate) share: f64,
    /// Paths on which this layer paid anything.
    pub(crate) paths_paying: u32,
}

/// Per-layer totals over paths, in layer order: every layer named in `paid_by_layer` of any path
/// or in the summary's exhaustion or loss-beyond probabilities.
pub(crate) fn layer_totals(run: &RunResult) -> BTreeMap<String, LayerTotals> {
    let mut totals: BTreeMap<String, LayerTotals> = BTreeMap::new();
    let summary = &run.summary;
    for layer in summary.exhaustion_probability.keys().chain(summary.loss_beyond_probability.keys())
    {
        totals.entry(layer.clone()).or_default();
    }
    for path in &run.paths {
        for (layer, paid) in &path.paid_by_layer {
            let entry = totals.entry(layer.clone()).or_default();
            entry.total += paid;
            if *paid > 0.0 {
                entry.paths_paying = entry.paths_paying.saturating_add(1);
            }
        }
    }
    let grand: f64 = totals.values().map(|totals| totals.total).sum();
    let count = run.paths.len().max(1) as f64;
    for entry in totals.values_mut() {
        entry.mean = entry.total / count;
        entry.share = if grand > 0.0 { entry.total / grand } else { 0.0 };
    }
    totals
}

/// The whole summary as a JSON value with sorted keys.
pub(crate) fn summary_value(
    run: &RunResult,
    info: &ReportInfo,
    sizing: Option<&SizingResult>,
) -> Result<Value, serde_json::Error> {
    let layers: Map<String, Value> = layer_totals(run)
        .into_iter()
        .map(|(layer, totals)| {
            let exhausted = run.summary.exhaustion_probability.get(&layer).copied();
            let beyond = run.summary.loss_beyond_probability.get(&layer).copied();
            let value = json!({
                "paid_total": totals.total,
                "paid_mean": totals.mean,
                "paid_share": totals.share,
                "paths_paying": totals.paths_paying,
                "exhaustion_probability": exhausted,
                "loss_beyond_probability": beyond,
            });
            (layer, value)
        })
        .collect();
    let sizing = match sizing {
        None => Value::Null,
        Some(sizing) => serde_json::to_value(sizing)?,
    };
    let value = json!({
        "schema": SCHEMA,
        "generator": { "name": "backstop", "version": env!("CARGO_PKG_VERSION") },
        "info": {
            "scenario": info.scenario,
            "description": info.description,
            "scenario_file": info.scenario_file,
            "venue": info.venue,
            "git_commit": info.git_commit,
            "cargo_lock_sha256": info.cargo_lock_sha256,
        },
        "run": {
            "seed": run.seed,
            "paths": run.summary.paths,
            "steps": run.steps,
            "step_secs": run.step_secs,
            "traced_paths": run.traces.len(),
        },
        "metrics": serde_json::to_value(&run.summary.metrics)?,
        "exhaustion_probability": serde_json::to_value(&run.summary.exhaustion_probability)?,
        "loss_beyond_probability": serde_json::to_value(&run.summary.loss_beyond_probability)?,
        "layers": Value::Object(layers),
        "paths": serde_json::to_value(&run.paths)?,
        "published": serde_json::to_value(&run.published)?,
        "traces": serde_json::to_value(&run.traces)?,
        "sizing": sizing,
    });
    Ok(sorted(value))
}

/// `summary.json`'s bytes: pretty-printed, sorted keys, a final newline.
pub(crate) fn summary_json(
    run: &RunResult,
    info: &ReportInfo,
    sizing: Option<&SizingResult>,
) -> Result<Vec<u8>, serde_json::Error> {
    let value = summary_value(run, info, sizing)?;
    let mut bytes = serde_json::to_vec_pretty(&value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Rebuilds every object with its keys inserted in sorted order, so the output is sorted whether
/// or not serde_json preserves insertion order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let entries: BTreeMap<String, Value> =
                map.into_iter().map(|(key, value)| (key, sorted(value))).collect();
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
