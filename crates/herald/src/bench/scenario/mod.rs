//! The named scenarios of issue 3, one per row of its target table, and their helpers. Each
//! scenario measures against a running `herald serve` (and a separate `herald sim`), prints its
//! figures, the server's fsyncs/s and mean commit batch over the measured interval, and a
//! PASS/FAIL per target row; every throughput figure is cross-checked against the fsync counter.
//!
//! - `verdict`: the pure arithmetic (percentiles, consistency, per-second windows);
//! - `context`: where the server is, provisioning an app/key/account/template, load plans;
//! - `throughput`: `single`, `bare`, `batch`; `delivery`: `deliver`, `rate`;
//! - `steady`: `latency` (also `get` and `rss`, measured in the same 10k/s run); `e2e`;
//! - `search`; `table`: the results table for BENCHMARKS.md.

mod context;
mod delivery;
mod e2e;
mod getter;
mod search;
mod steady;
mod table;
mod throughput;
pub mod verdict;

use crate::cli::parse_duration;
use clap::{Args, Subcommand};
pub use context::Common;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use verdict::{Check, Verdict};

/// A scenario of `herald bench`, or one of its helpers.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Single-message POST /v1/messages, closed loop (target ≥ 50,000 accepted/s).
    Single(ThroughputArgs),
    /// `single` against Herald, then against `--bare-url` (a `herald bench bare-server`);
    /// Herald's req/s as a share of bare hyper's (target ≥ 40 %).
    Bare(BareArgs),
    /// POST /v1/messages/batch with `--batch-size` receivers (target ≥ 500,000 receivers/s).
    Batch(ThroughputArgs),
    /// Preload a backlog, then count deliveries at the simulator (target ≥ 20,000/s).
    Deliver(BacklogArgs),
    /// One account limited to `--limit`/s with a backlog: every full second at the simulator
    /// within ±1 % of the limit, no throttling.
    Rate(BacklogArgs),
    /// Open loop at `--rate` msg/s: accept p99 ≤ 5 ms next to the disk's fsync latency; in the
    /// same run GET /v1/messages/{id} p99 ≤ 2 ms and the server's peak RSS ≤ 150 MB.
    #[command(visible_aliases = ["get", "rss"])]
    Latency(SteadyArgs),
    /// Accept → simulator receives at `--rate` msg/s (target p99 ≤ 50 ms).
    E2e(SteadyArgs),
    /// Load `--messages` through the accept path, then status + time range + text searches
    /// (target p95 ≤ 100 ms).
    Search(SearchArgs),
    /// Serve a bare hyper "hello" endpoint for the `bare` scenario.
    BareServer {
        #[arg(long, default_value = "127.0.0.1:18090")]
        listen: SocketAddr,
    },
    /// Measure the disk: 4 KiB append + fsync in a loop.
    FsyncProbe {
        /// Directory on the file system to measure.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        duration: Duration,
    },
    /// Render scenario results (`--out` files) as a Markdown table.
    Table(table::TableArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ThroughputArgs {
    #[command(flatten)]
    pub common: Common,
    /// Keep-alive connections (default 256 for `single`, 16 for `batch`).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Receivers per batch request (`batch` only).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
}

#[derive(Debug, Clone, Args)]
pub struct BareArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// Base URL of `herald bench bare-server`.
    #[arg(long, default_value = "http://127.0.0.1:18090")]
    pub bare_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct BacklogArgs {
    #[command(flatten)]
    pub common: Common,
    /// Receivers to preload (`deliver`; `rate` preloads limit × (duration + 10 s)).
    #[arg(long, default_value_t = 200_000)]
    pub preload: u64,
    /// The account's rate limit per second (`rate`).
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
}

#[derive(Debug, Clone, Args)]
pub struct SteadyArgs {
    #[command(flatten)]
    pub common: Common,
    /// Offered messages per second (default 10,000; 5,000 for `e2e`).
    #[arg(long)]
    pub rate: Option<u64>,
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// GET /v1/messages/{id} per second alongside the load (`latency`).
    #[arg(long, default_value_t = 200)]
    pub get_rate: u64,
    /// How long the fsync probe runs before the load.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub probe: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub common: Common,
    /// Messages to load through POST /v1/messages/batch before searching.
    #[arg(long, default_value_t = 10_000_000)]
    pub messages: u64,
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Searches to time.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Delivery states to filter on (comma-separated).
    #[arg(long, default_value = "delivered")]
    pub status: String,
    /// Before searching, wait up to this long for the simulator to count every loaded message.
    #[arg(long, default_value = "20m", value_parser = parse_duration)]
    pub settle: Duration,
}

/// One label and its value, in print order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub label: String,
    pub value: String,
}

/// What a scenario measured and how it was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub scenario: String,
    /// RFC 3339 start time.
    pub started_at: String,
    pub duration_secs: f64,
    pub figures: Vec<Figure>,
    pub checks: Vec<Check>,
    /// Over the measured interval, from `/metrics`.
    pub fsyncs_per_sec: Option<f64>,
    pub mean_commit_batch: Option<f64>,
}

impl ScenarioReport {
    pub fn new(scenario: &str) -> Self {
        Self {
            scenario: scenario.into(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            duration_secs: 0.0,
            figures: Vec::new(),
            checks: Vec::new(),
            fsyncs_per_sec: None,
            mean_commit_batch: None,
        }
    }

    pub fn figure(&mut self, label: &str, value: impl Into<String>) {
        self.figures.push(Figure {
            label: label.into(),
            value: value.into(),
        });
    }

    pub fn durability(&mut self, durability: Option<&verdict::Durability>) {
        self.fsyncs_per_sec = durability.map(verdict::Durability::fsyncs_per_sec);
        self.mean_commit_batch = durability.map(verdict::Durability::mean_batch);
    }

    /// Figures, server counters, then one line per check.
    pub fn to_text(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            (
                "scenario".into(),
                format!("{} ({})", self.scenario, self.started_at),
            ),
            ("duration".into(), format!("{:.1} s", self.duration_secs)),
        ];
        rows.extend(
            self.figures
                .iter()
                .map(|f| (f.label.clone(), f.value.clone())),
        );
        rows.push((
            "fsyncs/s".into(),
            self.fsyncs_per_sec
                .map_or("-".into(), |v| format!("{v:.1}")),
        ));
        rows.push((
            "mean commit batch".into(),
            self.mean_commit_batch
                .map_or("-".into(), |v| format!("{v:.1}")),
        ));
        let width = rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (label, value) in rows {
            let _ = writeln!(out, "{label:<width$}  {value}");
        }
        for c in &self.checks {
            let note = if c.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.note)
            };
            let _ = writeln!(
                out,
                "{:<19} {}: {} — measured {}{note}",
                c.verdict.label(),
                c.row,
                c.target,
                c.measured
            );
        }
        out
    }

    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict == Verdict::Pass)
    }
}

/// Runs one scenario or helper and prints what it measured. A scenario that misses a target
/// still prints everything, then fails, so scripts can tell.
pub async fn run(scenario: Scenario) -> anyhow::Result<()> {
    let (report, common) = match scenario {
        Scenario::Single(args) => (throughput::single(&args).await?, args.common),
        Scenario::Batch(args) => (throughput::batch(&args).await?, args.common),
        Scenario::Bare(args) => (throughput::bare(&args).await?, args.common),
        Scenario::Deliver(args) => (delivery::deliver(&args).await?, args.common),
        Scenario::Rate(args) => (delivery::rate(&args).await?, args.common),
        Scenario::Latency(args) => (steady::latency(&args).await?, args.common),
        Scenario::E2e(args) => (e2e::run(&args).await?, args.common),
        Scenario::Search(args) => (search::run(&args).await?, args.common),
        Scenario::BareServer { listen } => return super::bare::run(listen).await,
        Scenario::FsyncProbe { dir, duration } => {
            let probe = super::fsync_probe::measure_async(&dir, duration).await?;
            println!("{}: {}", dir.display(), probe.summary());
            return Ok(());
        }
        Scenario::Table(args) => return table::run(&args),
    };
    if common.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    if let Some(path) = &common.out {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .count();
    anyhow::ensure!(
        report.all_passed(),
        "{failed} of {} targets not met in scenario {}",
        report.checks.len(),
        report.scenario
    );
    Ok(())
}

#[cfg(test)]
mod tests;
