//! Closed-loop accept throughput: `single` (one message per request), `batch` (1,000 receivers
//! per request) and `bare` (the same client against a bare hyper server, as the ceiling).

use super::super::load::{self, Outcome};
use super::super::request::Target;
use super::context::{Context, Shape};
use super::verdict::{Check, Durability, grouped};
use super::{BareArgs, ScenarioReport, ThroughputArgs};

/// Runs `shape` against Herald between two `/metrics` scrapes.
pub async fn run_measured(
    ctx: &Context,
    shape: Shape,
) -> anyhow::Result<(Outcome, Option<Durability>)> {
    let before = ctx.scrape().await;
    let outcome = load::run(ctx.plan(shape)?).await?;
    let durability = ctx
        .durability_since(before.as_ref(), outcome.elapsed.as_secs_f64())
        .await;
    Ok((outcome, durability))
}

/// Receivers accepted per second.
pub fn receivers_per_sec(outcome: &Outcome) -> f64 {
    let receivers = outcome.accepted * outcome.receivers_per_request as u64;
    receivers as f64 / outcome.elapsed.as_secs_f64().max(1e-9)
}

/// The figures every load prints: answers, errors, latency.
pub fn describe(report: &mut ScenarioReport, prefix: &str, outcome: &Outcome) {
    let seconds = outcome.elapsed.as_secs_f64().max(1e-9);
    report.figure(
        &format!("{prefix}accepted (202)"),
        format!(
            "{} requests in {seconds:.1} s ({}/s, {} receivers/s)",
            grouped(outcome.accepted as f64),
            grouped(outcome.accepted as f64 / seconds),
            grouped(receivers_per_sec(outcome)),
        ),
    );
    let errors: Vec<String> = outcome
        .outcomes
        .iter()
        .filter(|(k, _)| k.as_str() != "202")
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    report.figure(
        &format!("{prefix}errors"),
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        },
    );
    for (kind, sample) in &outcome.error_samples {
        report.figure(&format!("{prefix}  first {kind}"), sample.clone());
    }
    let h = &outcome.latency_us;
    if !h.is_empty() {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        report.figure(
            &format!("{prefix}latency ms"),
            format!(
                "p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
                ms(0.5),
                ms(0.99),
                ms(0.999),
                h.max() as f64 / 1000.0
            ),
        );
    }
}

fn peak_rss_figure(report: &mut ScenarioReport, ctx: &Context) {
    if let Some(bytes) = ctx.peak_rss() {
        report.figure("server peak RSS", format!("{:.1} MB", bytes as f64 / 1e6));
    }
}

pub async fn single(args: &ThroughputArgs) -> anyhow::Result<ScenarioReport> {
    let ctx = Context::prepare(&args.common, "single", 0).await?;
    let mut report = ScenarioReport::new("single");
    let connections = args.connections.unwrap_or(256);
    let (outcome, durability) = run_measured(
        &ctx,
        Shape {
            connections,
            ..Shape::default()
        },
    )
    .await?;
    report.duration_secs = outcome.elapsed.as_secs_f64();
    describe(&mut report, "", &outcome);
    peak_rss_figure(&mut report, &ctx);
    report.durability(durability.as_ref());
    let rate = receivers_per_sec(&outcome);
    let consistency = Durability::consistency(durability.as_ref(), outcome.accepted);
    report.checks.push(
        Check::threshold(
            "single",
            &format!("≥ 50,000 accepted/s ({connections} connections)"),
            format!("{}/s", grouped(rate)),
            rate,
            50_000.0,
            false,
        )
        .backed_by(&consistency),
    );
    Ok(report)
}

pub async fn batch(args: &ThroughputArgs) -> anyhow::Result<ScenarioReport> {
    let ctx = Context::prepare(&args.common, "batch", 0).await?;
    let mut report = ScenarioReport::new("batch");
    let shape = Shape {
        connections: args.connections.unwrap_or(16),
        batch_size: Some(args.batch_size),
        ..Shape::default()
    };
    let (outcome, durability) = run_measured(&ctx, shape).await?;
    report.duration_secs = outcome.elapsed.as_secs_f64();
    describe(&mut report, "", &outcome);
    peak_rss_figure(&mut report, &ctx);
    report.durability(durability.as_ref());
    let rate = receivers_per_sec(&outcome);
    let receivers = outcome.accepted * outcome.receivers_per_request as u64;
    let consistency = Durability::consistency(durability.as_ref(), receivers);
    report.checks.push(
        Check::threshold(
            "batch",
            &format!("≥ 500,000 receivers/s ({} per request)", args.batch_size),
            format!("{}/s", grouped(rate)),
            rate,
            500_000.0,
            false,
        )
        .backed_by(&consistency),
    );
    Ok(report)
}

pub async fn bare(args: &BareArgs) -> anyhow::Result<ScenarioReport> {
    let ctx = Context::prepare(&args.common, "bare", 0).await?;
    let mut report = ScenarioReport::new("bare");
    let shape = || Shape {
        connections: args.connections,
        ..Shape::default()
    };
    let (herald, durability) = run_measured(&ctx, shape()).await?;
    describe(&mut report, "herald ", &herald);

    let mut plan = ctx.plan(shape())?;
    plan.target = Target::parse(&args.bare_url)?;
    let bare = load::run(plan).await?;
    describe(&mut report, "bare ", &bare);
    report.duration_secs = herald.elapsed.as_secs_f64() + bare.elapsed.as_secs_f64();
    report.durability(durability.as_ref());

    let herald_rate = receivers_per_sec(&herald);
    let bare_rate = receivers_per_sec(&bare);
    let ratio = if bare_rate > 0.0 {
        herald_rate / bare_rate
    } else {
        0.0
    };
    report.figure(
        "herald / bare",
        format!(
            "{:.1} % ({}/s of {}/s)",
            ratio * 100.0,
            grouped(herald_rate),
            grouped(bare_rate)
        ),
    );
    let consistency = Durability::consistency(durability.as_ref(), herald.accepted);
    report.checks.push(
        Check::threshold(
            "bare",
            "Herald ≥ 40 % of bare hyper req/s",
            format!(
                "{:.1} % ({}/s vs {}/s)",
                ratio * 100.0,
                grouped(herald_rate),
                grouped(bare_rate)
            ),
            ratio,
            0.40,
            false,
        )
        .backed_by(&consistency),
    );
    Ok(report)
}
