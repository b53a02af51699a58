//! The benchmark's result: numbers derived from the load outcome, the server's metrics and the
//! simulator's counters, printed as a readable table or serialized as JSON for scripts.

use super::LoadArgs;
use super::load::Outcome;
use super::metrics::{self, Scrape};
use super::sim_stats::{Counts, SimStats};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Everything `Report::build` combines.
pub struct Inputs<'a> {
    pub args: &'a LoadArgs,
    pub outcome: Outcome,
    pub metrics_before: Option<Scrape>,
    pub metrics_after: Option<Scrape>,
    pub delivery: Option<DeliveryInputs>,
    /// VmHWM of `--server-pid`, if given and readable.
    pub peak_rss_bytes: Option<u64>,
}

/// Simulator snapshots around the run.
pub struct DeliveryInputs {
    pub before: SimStats,
    pub after_run: SimStats,
    pub drained_stats: SimStats,
    /// From the start of the load to the last observed new delivery.
    pub drained_after: Duration,
    pub settled: bool,
    /// Unix seconds from the start of the load to the end of the drain wait.
    pub window_unix: (u64, u64),
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub url: String,
    /// `closed loop` or `open loop at N req/s`.
    pub mode: String,
    pub connections: usize,
    pub receivers_per_request: usize,
    pub duration_secs: f64,
    pub requests: u64,
    pub requests_per_sec: f64,
    /// Requests answered 202.
    pub accepted: u64,
    pub accepted_per_sec: f64,
    pub receivers_accepted: u64,
    pub receivers_accepted_per_sec: f64,
    /// Non-202 outcomes by status code, `io` or `connect`.
    pub errors: BTreeMap<String, u64>,
    /// The first answer seen for each error kind.
    pub error_samples: BTreeMap<String, String>,
    /// Absent when no request was answered.
    pub latency_ms: Option<Latency>,
    pub delivery: Option<Delivery>,
    pub server: Server,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The simulator account counted; `None` = all accounts.
    pub account: Option<String>,
    /// New deliveries while the load ran.
    pub during_run: Counts,
    pub delivered_per_sec_during_run: f64,
    /// New deliveries from the start until the drain wait ended.
    pub after_drain: Counts,
    /// `after_drain.unique` over the time from the start to the last new delivery.
    pub delivered_per_sec_overall: f64,
    pub seconds_to_last_delivery: f64,
    /// Whether deliveries stopped before `--drain` ran out (false: a backlog remained).
    pub drain_settled: bool,
    /// Busiest simulator second in the window (checks provider rate limits).
    pub peak_second: Option<u64>,
    /// Receivers accepted minus deliveries counted (negative if other traffic was counted).
    pub undelivered: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Server {
    pub fsyncs_per_sec: Option<f64>,
    /// Items committed per fsync over the run.
    pub mean_commit_batch: Option<f64>,
    /// The server's own count of accepted deliveries per second.
    pub server_accepted_per_sec: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn per_sec(count: f64, seconds: f64) -> f64 {
    if seconds > 0.0 { count / seconds } else { 0.0 }
}

impl Latency {
    /// Summarizes a histogram of microseconds in milliseconds.
    pub fn from_micros(histogram: &hdrhistogram::Histogram<u64>) -> Option<Latency> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Latency {
            count: histogram.len(),
            mean: histogram.mean() / 1000.0,
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        })
    }
}

impl Report {
    pub fn build(inputs: Inputs<'_>) -> Report {
        let Inputs {
            args,
            outcome,
            metrics_before,
            metrics_after,
            delivery,
            peak_rss_bytes,
        } = inputs;
        let seconds = outcome.elapsed.as_secs_f64();
        let receivers_accepted = outcome.accepted * outcome.receivers_per_request as u64;
        let errors = outcome
            .outcomes
            .iter()
            .filter(|(key, _)| key.as_str() != "202")
            .map(|(key, count)| (key.clone(), *count))
            .collect();

        let delivery = delivery.map(|d| {
            let account = args.sim_account.as_deref();
            let before = d.before.counts(account);
            let during_run = d.after_run.counts(account).since(before);
            let after_drain = d.drained_stats.counts(account).since(before);
            let to_last = d.drained_after.as_secs_f64().max(seconds);
            Delivery {
                account: args.sim_account.clone(),
                during_run,
                delivered_per_sec_during_run: per_sec(during_run.unique as f64, seconds),
                after_drain,
                delivered_per_sec_overall: per_sec(after_drain.unique as f64, to_last),
                seconds_to_last_delivery: to_last,
                drain_settled: d.settled,
                peak_second: d.drained_stats.peak_per_second(
                    account,
                    d.window_unix.0,
                    d.window_unix.1,
                ),
                undelivered: receivers_accepted as i64 - after_drain.unique as i64,
            }
        });

        let counter_delta = |name: &str| -> Option<f64> {
            let before = metrics_before.as_ref()?.get(name)?;
            let after = metrics_after.as_ref()?.get(name)?;
            Some((after - before).max(0.0))
        };
        let fsyncs = counter_delta(metrics::FSYNC_TOTAL);
        let server = Server {
            fsyncs_per_sec: fsyncs.map(|f| per_sec(f, seconds)),
            mean_commit_batch: match (counter_delta(metrics::COMMIT_ITEMS_TOTAL), fsyncs) {
                (Some(items), Some(fsyncs)) if fsyncs > 0.0 => Some(items / fsyncs),
                _ => None,
            },
            server_accepted_per_sec: counter_delta(metrics::ACCEPTED_TOTAL)
                .map(|a| per_sec(a, seconds)),
            peak_rss_bytes: peak_rss_bytes.or_else(|| {
                let value = metrics_after.as_ref()?.get(metrics::PEAK_RSS_BYTES)?;
                Some(value as u64)
            }),
        };

        Report {
            url: args.url.clone(),
            mode: match args.rate {
                Some(rate) => format!("open loop at {} req/s", group(rate)),
                None => "closed loop".into(),
            },
            connections: args.connections,
            receivers_per_request: outcome.receivers_per_request,
            duration_secs: seconds,
            requests: outcome.requests,
            requests_per_sec: per_sec(outcome.requests as f64, seconds),
            accepted: outcome.accepted,
            accepted_per_sec: per_sec(outcome.accepted as f64, seconds),
            receivers_accepted,
            receivers_accepted_per_sec: per_sec(receivers_accepted as f64, seconds),
            errors,
            error_samples: outcome.error_samples,
            latency_ms: Latency::from_micros(&outcome.latency_us),
            delivery,
            server,
        }
    }

    /// The report as aligned `label  value` lines.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<(&str, String)> = Vec::new();
        rows.push((
            "target",
            format!(
                "{} ({}, {} connections)",
                self.url, self.mode, self.connections
            ),
        ));
        rows.push(("duration", format!("{:.1} s", self.duration_secs)));
        rows.push((
            "requests",
            format!(
                "{} ({}/s)",
                group(self.requests),
                rate(self.requests_per_sec)
            ),
        ));
        rows.push((
            "accepted (202)",
            format!(
                "{} ({}/s)",
                group(self.accepted),
                rate(self.accepted_per_sec)
            ),
        ));
        if self.receivers_per_request > 1 {
            rows.push((
                "receivers accepted",
                format!(
                    "{} ({}/s, {} per request)",
                    group(self.receivers_accepted),
                    rate(self.receivers_accepted_per_sec),
                    self.receivers_per_request
                ),
            ));
        }
        let errors = if self.errors.is_empty() {
            "none".to_string()
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k}: {}", group(*n)))
                .collect();
            list.join(", ")
        };
        rows.push(("errors", errors));
        for (kind, sample) in &self.error_samples {
            rows.push(("  first", format!("[{kind}] {sample}")));
        }
        rows.push((
            "latency ms",
            match &self.latency_ms {
                Some(l) => format!(
                    "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {})",
                    ms(l.p50),
                    ms(l.p90),
                    ms(l.p99),
                    ms(l.p999),
                    ms(l.max),
                    ms(l.mean)
                ),
                None => "no answers".into(),
            },
        ));
        if let Some(d) = &self.delivery {
            let who = d.account.as_deref().unwrap_or("all accounts");
            rows.push((
                "delivered (run)",
                format!(
                    "{} ({}/s) to {who}",
                    group(d.during_run.unique),
                    rate(d.delivered_per_sec_during_run)
                ),
            ));
            rows.push((
                "delivered (drain)",
                format!(
                    "{} ({}/s over {:.1} s{})",
                    group(d.after_drain.unique),
                    rate(d.delivered_per_sec_overall),
                    d.seconds_to_last_delivery,
                    if d.drain_settled {
                        ""
                    } else {
                        ", not settled within --drain"
                    }
                ),
            ));
            rows.push((
                "  detail",
                format!(
                    "undelivered {}, duplicates {}, throttled {}, busiest second {}",
                    d.undelivered,
                    group(d.after_drain.duplicates),
                    group(d.after_drain.throttled),
                    d.peak_second.map_or("-".into(), group)
                ),
            ));
        }
        let s = &self.server;
        rows.push(("fsyncs/s", s.fsyncs_per_sec.map_or("-".into(), rate)));
        rows.push((
            "mean commit batch",
            s.mean_commit_batch
                .map_or("-".into(), |b| format!("{b:.1}")),
        ));
        if let Some(accepted) = s.server_accepted_per_sec {
            rows.push(("server accepted/s", rate(accepted)));
        }
        rows.push((
            "peak RSS",
            s.peak_rss_bytes
                .map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0)),
        ));

        let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (label, value) in rows {
            let _ = writeln!(out, "{label:<width$}  {value}");
        }
        out
    }
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Rates: grouped whole numbers from 100 up, one decimal below.
fn rate(value: f64) -> String {
    if value >= 100.0 {
        group(value.round() as u64)
    } else {
        format!("{value:.1}")
    }
}

/// Milliseconds with precision that fits their size.
fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
