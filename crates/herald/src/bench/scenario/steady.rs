//! The steady 10k/s run: an open-loop `POST /v1/messages` at a fixed rate, with status reads
//! alongside, judged three ways from the same run — accept p99 (next to the disk's own fsync
//! latency, probed just before on the data dir's file system), `GET /v1/messages/{id}` p99, and
//! the server's peak RSS.

use super::super::fsync_probe;
use super::super::load;
use super::super::metrics;
use super::super::request::Target;
use super::context::{Context, Shape};
use super::getter::{RecentIds, read_back};
use super::throughput::{describe, receivers_per_sec};
use super::verdict::{Check, Durability, Verdict, grouped};
use super::{ScenarioReport, SteadyArgs};
use std::sync::Arc;

/// Peak RSS target: 150 MB (10⁶ bytes).
const RSS_TARGET_BYTES: f64 = 150e6;

pub async fn latency(args: &SteadyArgs) -> anyhow::Result<ScenarioReport> {
    let rate = args.rate.unwrap_or(10_000);
    anyhow::ensure!(rate > 0, "--rate must be at least 1");
    let ctx = Context::prepare(&args.common, "latency", 0).await?;
    let mut report = ScenarioReport::new("latency");

    let probe_dir = args
        .common
        .data_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let disk = fsync_probe::measure_async(&probe_dir, args.probe).await?;
    report.figure(
        "disk fsync",
        format!("{} ({})", disk.summary(), probe_dir.display()),
    );

    let ids = Arc::new(RecentIds::default());
    let observer: Arc<dyn load::Observer> = ids.clone();
    let plan = ctx.plan(Shape {
        connections: args.connections,
        rate: Some(rate),
        observer: Some(observer),
        ..Shape::default()
    })?;
    let before = ctx.scrape().await;
    let target = Target::parse(&args.common.url)?;
    let reads = read_back(
        &target,
        &ctx.key,
        ids,
        args.get_rate,
        8,
        args.common.duration,
    );
    let (outcome, reads) = tokio::join!(load::run(plan), reads);
    let (outcome, reads) = (outcome?, reads?);
    let durability = ctx
        .durability_since(before.as_ref(), outcome.elapsed.as_secs_f64())
        .await;
    report.duration_secs = outcome.elapsed.as_secs_f64();
    report.durability(durability.as_ref());
    report.figure(
        "offered",
        format!(
            "{}/s open loop on {} connections",
            grouped(rate as f64),
            args.connections
        ),
    );
    describe(&mut report, "", &outcome);

    let consistency = Durability::consistency(durability.as_ref(), outcome.accepted);
    let h = &outcome.latency_us;
    let (p50, p99) = if h.is_empty() {
        (f64::INFINITY, f64::INFINITY)
    } else {
        (
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
        )
    };
    let mut accept = Check::threshold(
        "latency",
        &format!("accept p99 ≤ 5 ms at {}/s", grouped(rate as f64)),
        format!(
            "p99 {p99:.2} ms (p50 {p50:.2}); disk fsync p50 {:.2} / p99 {:.2} ms",
            disk.p50_ms, disk.p99_ms
        ),
        p99,
        5.0,
        true,
    );
    let achieved = receivers_per_sec(&outcome);
    if achieved < rate as f64 * 0.99 {
        accept.verdict = Verdict::Fail;
        let note = format!("only {}/s accepted", grouped(achieved));
        accept.note = if accept.note.is_empty() {
            note
        } else {
            format!("{}; {note}", accept.note)
        };
    }
    report.checks.push(accept.backed_by(&consistency));

    let read_outcomes: Vec<String> = reads
        .outcomes
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    report.figure("GET answers", read_outcomes.join(", "));
    let get = if reads.latency_us.is_empty() {
        Check {
            row: "get".into(),
            target: "GET /v1/messages/{id} p99 ≤ 2 ms".into(),
            measured: "no 200 answer".into(),
            verdict: Verdict::Fail,
            note: "nothing was read back".into(),
        }
    } else {
        let q = |q: f64| reads.latency_us.value_at_quantile(q) as f64 / 1000.0;
        Check::threshold(
            "get",
            &format!(
                "GET /v1/messages/{{id}} p99 ≤ 2 ms ({}/s under the load)",
                args.get_rate
            ),
            format!(
                "p99 {:.2} ms (p50 {:.2}, {} reads)",
                q(0.99),
                q(0.5),
                reads.latency_us.len()
            ),
            q(0.99),
            2.0,
            true,
        )
    };
    report.checks.push(get);

    let after = ctx.scrape().await;
    let peak = ctx.peak_rss().map(|b| (b, "VmHWM")).or_else(|| {
        Some((
            after.as_ref()?.get(metrics::PEAK_RSS_BYTES)? as u64,
            "/metrics",
        ))
    });
    report.checks.push(match peak {
        Some((bytes, source)) => Check::threshold(
            "rss",
            "peak RSS ≤ 150 MB during the run",
            format!("{:.1} MB ({source})", bytes as f64 / 1e6),
            bytes as f64,
            RSS_TARGET_BYTES,
            true,
        ),
        None => Check {
            row: "rss".into(),
            target: "peak RSS ≤ 150 MB during the run".into(),
            measured: "unknown".into(),
            verdict: Verdict::Fail,
            note: "give --server-pid".into(),
        },
    });
    Ok(report)
}
