//! Prometheus metrics, hand-rolled: counters and histograms in atomics, rendered in the text
//! exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in microseconds, and as written in `le` labels.
const BUCKETS: [(u64, &str); 15] = [
    (100, "0.0001"),
    (250, "0.00025"),
    (500, "0.0005"),
    (1_000, "0.001"),
    (2_500, "0.0025"),
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (2_500_000, "2.5"),
    (10_000_000, "10"),
];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative): observations at most its bound and above the previous one.
    buckets: [AtomicU64; BUCKETS.len()],
    /// Observations above the last bound.
    overflow: AtomicU64,
    /// Sum of observations in nanoseconds.
    sum_nanos: AtomicU64,
    /// Number of observations.
    count: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        match BUCKETS.iter().position(|(bound, _)| micros <= *bound) {
            Some(slot) => {
                if let Some(bucket) = self.buckets.get(slot) {
                    bucket.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.overflow.fetch_add(1, Ordering::Relaxed);
            }
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the histogram's lines under `name`.
    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0_u64;
        for ((_, label), bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative = cumulative.saturating_add(bucket.load(Ordering::Relaxed));
            let _ = writeln!(out, "{name}_bucket{{le=\"{label}\"}} {cumulative}");
        }
        cumulative = cumulative.saturating_add(self.overflow.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let nanos = self.sum_nanos.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_sum {}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000);
        let _ = writeln!(out, "{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

/// Gauges read from the server when metrics are scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gauges {
    /// Newest durable journal entry.
    pub journal_seq: u64,
    /// Requests waiting for the writer.
    pub queue_depth: u64,
    /// Capacity of the writer's queue.
    pub queue_capacity: u64,
    /// Open accounts.
    pub accounts: u64,
    /// 1 while healthy.
    pub healthy: bool,
}

/// Every metric the server keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Commands applied by the engine.
    pub applied: AtomicU64,
    /// Commands rejected by the engine (journaled).
    pub rejected: AtomicU64,
    /// Commands answered from their idempotency key without being applied again.
    pub duplicates: AtomicU64,
    /// Journal entries written.
    pub batches: AtomicU64,
    /// Durable transactions (group commits) written.
    pub commits: AtomicU64,
    /// Snapshots written.
    pub snapshots: AtomicU64,
    /// Group-commit latency: from the writer taking the first request to durability.
    pub commit_latency: Histogram,
    /// HTTP request latency.
    pub request_latency: Histogram,
    /// HTTP requests by (method, route, status).
    requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
}

impl Metrics {
    /// Counts one HTTP request.
    pub fn record_request(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        self.request_latency.observe(elapsed);
        let mut requests = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = requests.entry((method, route.to_owned(), status)).or_insert(0);
        *count = count.saturating_add(1);
    }

    /// The metrics in Prometheus text format.
    #[must_use]
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP backstop_commands_total Commands by outcome.");
        let _ = writeln!(out, "# TYPE backstop_commands_total counter");
        for (outcome, counter) in [
            ("applied", &self.applied),
            ("rejected", &self.rejected),
            ("duplicate", &self.duplicates),
        ] {
            let _ =
                writeln!(out, "backstop_commands_total{{outcome=\"{outcome}\"}} {}", load(counter));
        }
        for (name, help, counter) in [
            ("backstop_batches_total", "Journal entries written.", &self.batches),
            (
                "backstop_commits_total",
                "Durable journal transactions (group commits).",
                &self.commits,
            ),
            ("backstop_snapshots_total", "Engine snapshots written.", &self.snapshots),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", load(counter));
        }
        for (name, help, value) in [
            ("backstop_journal_seq", "Newest durable journal entry.", gauges.journal_seq),
            ("backstop_queue_depth", "Requests waiting for the writer.", gauges.queue_depth),
            ("backstop_queue_capacity", "Capacity of the writer's queue.", gauges.queue_capacity),
            ("backstop_accounts", "Open accounts.", gauges.accounts),
            ("backstop_healthy", "1 while the writer is healthy.", u64::from(gauges.healthy)),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        self.commit_latency.render(
            &mut out,
            "backstop_commit_seconds",
            "Group commit latency: writer takes the first request to journal durable.",
        );
        self.request_latency.render(&mut out, "backstop_request_seconds", "HTTP request latency.");
        let _ =
            writeln!(out, "# HELP backstop_http_requests_total HTTP requests by route and status.");
        let _ = writeln!(out, "# TYPE backstop_http_requests_total counter");
        let requests = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((method, route, status), count) in requests.iter() {
            let _ = writeln!(
                out,
                "backstop_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape_label(route)
            );
        }
        out
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_sum_is_exact() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(80));
        histogram.observe(Duration::from_micros(900));
        histogram.observe(Duration::from_secs(20));
        let mut out = String::new();
        histogram.render(&mut out, "h", "help");
        assert!(out.contains("h_bucket{le=\"0.0001\"} 1\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"0.001\"} 2\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"10\"} 2\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("h_sum 20.000980000\n"), "{out}");
        assert!(out.contains("h_count 3\n"), "{out}");
    }

    #[test]
    fn render_includes_counters_gauges_and_requests() {
        let metrics = Metrics::default();
        metrics.applied.fetch_add(2, Ordering::Relaxed);
        metrics.record_request("GET", "/v1/state", 200, Duration::from_millis(1));
        let text = metrics.render(Gauges { journal_seq: 9, healthy: true, ..Gauges::default() });
        assert!(text.contains("backstop_commands_total{outcome=\"applied\"} 2\n"), "{text}");
        assert!(text.contains("backstop_journal_seq 9\n"), "{text}");
        assert!(text.contains("backstop_healthy 1\n"), "{text}");
        assert!(
            text.contains(
                "backstop_http_requests_total{method=\"GET\",route=\"/v1/state\",status=\"200\"} 1\n"
            ),
            "{text}"
        );
    }
}
