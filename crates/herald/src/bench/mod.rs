//! `herald bench`: the judge of Herald's performance targets (issue 3) and a free-form load
//! generator.
//!
//! `herald bench <scenario>` runs one named, reproducible scenario per row of the target table
//! (`single`, `bare`, `batch`, `deliver`, `rate`, `latency`/`get`/`rss`, `e2e`, `search`),
//! prints its figures, the server's fsyncs/s and mean commit batch, and PASS/FAIL per target;
//! `herald bench bare-server`, `fsync-probe` and `table` are its helpers. Without a scenario,
//! `herald bench [--connections …]` drives `POST /v1/messages` (or `/v1/messages/batch`) over N
//! keep-alive connections, closed-loop or at a fixed open-loop rate, and reads the server's
//! `/metrics` and the simulator's `/sim/stats` before and after.
//!
//! - `load`: the hot loop (hyper client connections, one task each, hdrhistogram latencies);
//! - `request`: target URL and pre-rendered request bodies;
//! - `metrics`: Prometheus text parsing and `/proc` peak RSS;
//! - `sim_stats`: the simulator's counters and their differences;
//! - `report`: the free-form run's numbers, a readable table and JSON;
//! - `scenario`: the named scenarios, their verdicts and the results table;
//! - `bare`, `fsync_probe`: the physical ceilings the scenarios are compared with.

mod bare;
mod fsync_probe;
mod load;
mod metrics;
mod report;
mod request;
pub mod scenario;
mod sim_stats;

use crate::cli::{parse_duration, parse_var};
use anyhow::Context as _;
use clap::Args;
use std::time::Duration;
use tokio::time::Instant;

pub use report::Report;

/// `herald bench`: a scenario, a helper, or (with no subcommand) a free-form load.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Option<Box<scenario::Scenario>>,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// The free-form load: what to send, how hard, and where to read results.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Base URL of the Herald API (http only).
    #[arg(long, env = "HERALD_URL", default_value = crate::cli::DEFAULT_URL)]
    pub url: String,
    /// API key (sent as `Authorization: Bearer <key>`).
    #[arg(long, env = "HERALD_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Template id or name to send.
    #[arg(long, default_value = "demo")]
    pub template: String,
    /// Template variables `name=text` or `name:=json` (default `name=bench`).
    #[arg(long = "var", value_parser = parse_var)]
    pub vars: Vec<(String, serde_json::Value)>,
    /// Concurrent keep-alive connections, one request in flight on each.
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// How long to generate load (`30s`, `2m`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Open loop: start this many requests per second in total, whatever the latency.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Send through POST /v1/messages/batch with this many receivers per request.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Simulator base URL whose /sim/stats counts deliveries.
    #[arg(long)]
    pub sim_url: Option<String>,
    /// Count only this simulator account (default: all accounts).
    #[arg(long)]
    pub sim_account: Option<String>,
    /// After the load, wait up to this long for deliveries to stop growing.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Server process id whose peak RSS (VmHWM) is reported.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a scenario or helper, or the free-form load, and prints what it measured.
pub fn run(args: BenchArgs) -> herald_ports::BoxFuture<'static, anyhow::Result<()>> {
    Box::pin(run_bench(args))
}

async fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    match args.scenario {
        Some(scenario) => scenario::run(*scenario).await,
        None => run_load(args.load).await,
    }
}

/// Runs the free-form load and prints its report.
async fn run_load(args: LoadArgs) -> anyhow::Result<()> {
    let report = measure(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

/// Runs the load and the before/after readings, returning the numbers.
pub async fn measure(args: &LoadArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.rate != Some(0), "--rate must be at least 1");
    anyhow::ensure!(
        args.batch_size != Some(0),
        "--batch-size must be at least 1"
    );
    let target = request::Target::parse(&args.url)?;
    let mut vars = args.vars.clone();
    if vars.is_empty() {
        vars.push(("name".into(), serde_json::Value::String("bench".into())));
    }
    let bodies = request::BodyFactory::new(&args.template, &vars, args.batch_size)?;
    let admin = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let sim_url = args.sim_url.as_deref().map(|u| u.trim_end_matches('/'));

    let metrics_before = metrics::fetch(&admin, &args.url).await;
    let sim_before = match sim_url {
        Some(url) => Some(sim_stats::fetch(&admin, url).await?),
        None => None,
    };

    let plan = load::Plan {
        target,
        bodies,
        key: args.key.clone(),
        connections: args.connections,
        duration: args.duration,
        rate: args.rate,
        max_receivers: None,
        observer: None,
    };
    let started_unix = report::unix_now();
    let started = Instant::now();
    let outcome = load::run(plan).await?;

    let metrics_after = metrics::fetch(&admin, &args.url).await;
    let delivery = match (sim_url, sim_before) {
        (Some(url), Some(before)) => {
            let after_run = sim_stats::fetch(&admin, url).await?;
            let drained = sim_stats::drain(
                &admin,
                url,
                &after_run,
                args.sim_account.as_deref(),
                args.drain,
            )
            .await?;
            Some(report::DeliveryInputs {
                before,
                after_run,
                drained_stats: drained.stats,
                drained_after: drained.settled_at.duration_since(started),
                settled: drained.settled,
                window_unix: (started_unix, report::unix_now()),
            })
        }
        _ => None,
    };
    let peak_rss_bytes = args
        .server_pid
        .and_then(|pid| metrics::peak_rss_of_pid(pid).ok());

    Ok(report::Report::build(report::Inputs {
        args,
        outcome,
        metrics_before,
        metrics_after,
        delivery,
        peak_rss_bytes,
    }))
}

#[cfg(test)]
mod tests;
