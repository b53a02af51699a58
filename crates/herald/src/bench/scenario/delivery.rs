//! Delivery as the simulator counts it: `deliver` preloads a backlog through the batch API,
//! waits until the server has indexed it (the embedded journal accepts a burst faster than
//! the writer indexes it) and measures how fast it drains with limits off, reporting the
//! drain while indexing and the rate over both beside it; `rate` preloads more than one account's limit
//! can send in the measured window and checks every full second at the simulator.

use super::super::load;
use super::super::metrics::JOURNAL_UNINDEXED;
use super::super::sim_stats::{self, SimStats};
use super::context::{Context, Shape};
use super::throughput::{describe, receivers_per_sec};
use super::verdict::{Check, Durability, Verdict, full_seconds, grouped, seconds_off_target};
use super::{BacklogArgs, ScenarioReport};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// Sim polling cadence while a backlog drains.
const POLL: Duration = Duration::from_millis(500);
/// A preload never runs longer than this.
const PRELOAD_CAP: Duration = Duration::from_secs(3600);

/// Accepts `receivers` through the batch API as fast as the server takes them.
async fn preload(
    ctx: &Context,
    args: &BacklogArgs,
    receivers: u64,
) -> anyhow::Result<load::Outcome> {
    let shape = Shape {
        connections: args.connections,
        batch_size: Some(args.batch_size),
        duration: Some(PRELOAD_CAP),
        max_receivers: Some(receivers),
        ..Shape::default()
    };
    load::run(ctx.plan(shape)?).await
}

async fn sim(ctx: &Context) -> anyhow::Result<SimStats> {
    sim_stats::fetch(&ctx.http, &ctx.sim_url).await
}

/// Waits until the server's journal has indexed the whole preload. Until then the single
/// writer indexes the backlog beside settling deliveries, so what drains in that time is
/// reported apart. A failed scrape is retried (for at most 3 s in a row), not taken for
/// "indexed".
async fn indexed(ctx: &Context) -> Duration {
    let started = Instant::now();
    let mut failed_in_a_row = 0;
    while started.elapsed() < PRELOAD_CAP && failed_in_a_row < 30 {
        match ctx.scrape().await.map(|s| s.get(JOURNAL_UNINDEXED)) {
            // A server without the embedded journal has nothing to wait for.
            Some(None) | Some(Some(0.0)) => break,
            Some(Some(_)) => failed_in_a_row = 0,
            None => failed_in_a_row += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// A drain shorter than this (the backlog ran out while it was being indexed) is too short
/// to judge on; the rate over both phases is judged instead.
const MIN_JUDGED_WINDOW_SECS: f64 = 3.0;

fn unix_secs_f64() -> f64 {
    load::unix_micros() as f64 / 1e6
}

pub async fn deliver(args: &BacklogArgs) -> anyhow::Result<ScenarioReport> {
    let ctx = Context::prepare(&args.common, "deliver", 0).await?;
    let account = Some(ctx.sim_account.as_str());
    let mut report = ScenarioReport::new("deliver");
    let metrics_before = ctx.scrape().await;
    let sim_before = sim(&ctx).await?.counts(account);
    let started = Instant::now();

    let loaded = preload(&ctx, args, args.preload).await?;
    let receivers = loaded.accepted * loaded.receivers_per_request as u64;
    describe(&mut report, "preload ", &loaded);
    let at_accepted = sim(&ctx).await?.counts(account).since(sim_before);
    let indexing = indexed(&ctx).await;

    let window_start = Instant::now();
    let at_window_start = sim(&ctx).await?.counts(account).since(sim_before);
    let while_indexing = at_window_start.unique - at_accepted.unique;
    let (mut last, mut grew_at) = (at_window_start, window_start);
    loop {
        let now = Instant::now();
        let finished = last.unique >= receivers;
        let stalled = now.duration_since(grew_at) >= Duration::from_secs(5);
        if finished || stalled || now.duration_since(window_start) >= args.common.duration {
            break;
        }
        tokio::time::sleep(POLL).await;
        let counts = sim(&ctx).await?.counts(account).since(sim_before);
        if counts.unique > last.unique {
            grew_at = Instant::now();
        }
        last = counts;
    }
    let window = grew_at.duration_since(window_start).as_secs_f64();
    let delivered_in_window = last.unique - at_window_start.unique;
    let rate = if window > 0.0 {
        delivered_in_window as f64 / window
    } else {
        0.0
    };
    let durability = ctx
        .durability_since(metrics_before.as_ref(), started.elapsed().as_secs_f64())
        .await;
    report.durability(durability.as_ref());
    report.duration_secs = started.elapsed().as_secs_f64();

    report.figure(
        "delivered during preload",
        grouped(at_accepted.unique as f64),
    );
    let indexing = indexing.as_secs_f64();
    report.figure(
        "delivered while indexing",
        if indexing >= 1.0 {
            format!(
                "{} in {indexing:.1} s ({}/s; the writer indexed the preload meanwhile)",
                grouped(while_indexing as f64),
                grouped(while_indexing as f64 / indexing)
            )
        } else {
            format!("{} in {indexing:.1} s", grouped(while_indexing as f64))
        },
    );
    report.figure(
        "delivered once indexed",
        format!(
            "{} in {window:.1} s ({}/s)",
            grouped(delivered_in_window as f64),
            grouped(rate)
        ),
    );
    let whole = indexing + window;
    let rate_over_both = (last.unique - at_accepted.unique) as f64 / whole.max(1e-3);
    report.figure(
        "delivered over both",
        format!(
            "{}/s (index and deliver on the one writer)",
            grouped(rate_over_both)
        ),
    );
    let judged_on_both = window < MIN_JUDGED_WINDOW_SECS;
    let rate = if judged_on_both { rate_over_both } else { rate };
    report.figure(
        "backlog left",
        format!(
            "{} (duplicates {}, throttled {})",
            grouped(receivers.saturating_sub(last.unique) as f64),
            last.duplicates,
            last.throttled
        ),
    );
    let mut check = Check::threshold(
        "deliver",
        "≥ 20,000 delivered/s (simulator count, limits off)",
        format!("{}/s", grouped(rate)),
        rate,
        20_000.0,
        false,
    );
    if last.unique >= receivers && window < args.common.duration.as_secs_f64() {
        let mut note = format!(
            "backlog of {} ran out after {window:.1} s",
            grouped(receivers as f64)
        );
        if judged_on_both {
            note.push_str(" once indexed: judged over both phases");
        }
        check.note = if check.note.is_empty() {
            note
        } else {
            format!("{}; {note}", check.note)
        };
    }
    let consistency = Durability::consistency(durability.as_ref(), receivers);
    report.checks.push(check.backed_by(&consistency));
    Ok(report)
}

/// Per-second arrivals of one account, keyed by Unix second.
fn per_second(stats: &SimStats, account: &str) -> BTreeMap<u64, u64> {
    stats
        .accounts
        .get(account)
        .map(|a| {
            a.per_second
                .iter()
                .filter_map(|(second, count)| Some((second.parse().ok()?, *count)))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn rate(args: &BacklogArgs) -> anyhow::Result<ScenarioReport> {
    anyhow::ensure!(args.limit > 0, "--limit must be at least 1");
    let ctx = Context::prepare(&args.common, "rate", args.limit).await?;
    ctx.limit_sim_account(args.limit).await?;
    let account = ctx.sim_account.clone();
    let mut report = ScenarioReport::new("rate");
    let metrics_before = ctx.scrape().await;
    let sim_before = sim(&ctx).await?.counts(Some(&account));
    let started = Instant::now();

    // Enough for the whole window and then some: the account must never run dry.
    let backlog = u64::from(args.limit) * (args.common.duration.as_secs() + 10);
    let loaded = preload(&ctx, args, backlog).await?;
    let receivers = loaded.accepted * loaded.receivers_per_request as u64;
    describe(&mut report, "preload ", &loaded);
    report.figure("preload receivers/s", grouped(receivers_per_sec(&loaded)));

    let window_from = unix_secs_f64();
    tokio::time::sleep(args.common.duration).await;
    let window_to = unix_secs_f64();
    let stats = sim(&ctx).await?;
    let counts = stats.counts(Some(&account)).since(sim_before);
    let durability = ctx
        .durability_since(metrics_before.as_ref(), started.elapsed().as_secs_f64())
        .await;
    report.durability(durability.as_ref());
    report.duration_secs = started.elapsed().as_secs_f64();

    let seconds = per_second(&stats, &account);
    let window = full_seconds(window_from, window_to);
    let counted: Vec<u64> = window
        .clone()
        .map(|s| seconds.get(&s).copied().unwrap_or(0))
        .collect();
    let off = seconds_off_target(&seconds, window, f64::from(args.limit), 0.01);
    let (min, max) = (
        counted.iter().min().copied().unwrap_or(0),
        counted.iter().max().copied().unwrap_or(0),
    );
    report.figure(
        "simulator per second",
        format!(
            "{} full seconds, min {min}, max {max}, outside ±1 %: {}",
            counted.len(),
            off.len()
        ),
    );
    if !off.is_empty() {
        let shown: Vec<String> = off
            .iter()
            .take(10)
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        report.figure("  off target", shown.join(", "));
    }
    report.figure(
        "simulator totals",
        format!(
            "delivered {}, throttled {}, duplicates {}",
            counts.unique, counts.throttled, counts.duplicates
        ),
    );
    let pass = !counted.is_empty() && off.is_empty() && counts.throttled == 0;
    let mut note = Vec::new();
    if counted.is_empty() {
        note.push("no full second in the window".to_string());
    }
    if !off.is_empty() {
        note.push(format!(
            "{} of {} seconds off target",
            off.len(),
            counted.len()
        ));
    }
    if counts.throttled > 0 {
        note.push(format!("{} throttled", counts.throttled));
    }
    let check = Check {
        row: "rate".into(),
        target: format!(
            "{} /s ± 1 % every full second, 0 throttled",
            grouped(f64::from(args.limit))
        ),
        measured: format!(
            "min {min}, max {max} over {} s, throttled {}",
            counted.len(),
            counts.throttled
        ),
        verdict: Verdict::from_pass(pass),
        note: note.join("; "),
    };
    let consistency = Durability::consistency(durability.as_ref(), receivers);
    report.checks.push(check.backed_by(&consistency));
    Ok(report)
}
