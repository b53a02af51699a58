//! End to end: from the moment a request was scheduled to start (open loop) to the moment the
//! simulator recorded the webhook (`received_at_ms`). The client remembers each receiver's send
//! time; a poller reads the simulator's last accepted requests every 100 ms and matches them by
//! receiver (`bench-<n>`), deduplicating by delivery id. Both clocks are this machine's.

use super::super::load::{self, Observer};
use super::context::{Context, Shape};
use super::throughput::describe;
use super::verdict::{Check, Durability, percentile};
use super::{ScenarioReport, SteadyArgs};
use bytes::Bytes;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

const POLL: Duration = Duration::from_millis(100);
/// How long to keep polling after the load for the last deliveries.
const TAIL: Duration = Duration::from_secs(10);

/// Send times by receiver number, in Unix microseconds.
#[derive(Default)]
struct SendTimes(Mutex<HashMap<u64, u64>>);

impl Observer for SendTimes {
    fn accepted(&self, first_receiver: u64, intended_unix_us: u64, _body: &Bytes) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(first_receiver, intended_unix_us);
    }
}

#[derive(Deserialize)]
struct Received {
    items: Vec<ReceivedItem>,
}

#[derive(Deserialize)]
struct ReceivedItem {
    id: String,
    received_at_ms: i64,
    #[serde(default)]
    body: serde_json::Value,
}

/// The receiver number of a `bench-<n>` receiver in a webhook body.
fn receiver_number(body: &serde_json::Value) -> Option<u64> {
    body["receiver"]["to"]
        .as_str()?
        .strip_prefix("bench-")?
        .parse()
        .ok()
}

/// End-to-end milliseconds of each matched delivery (arrivals before their send clamp to 0).
fn match_arrivals(sent: &HashMap<u64, u64>, arrivals: &HashMap<String, (u64, i64)>) -> Vec<f64> {
    let mut out: Vec<f64> = arrivals
        .values()
        .filter_map(|(n, at_ms)| {
            let sent_us = *sent.get(n)? as f64;
            Some(((*at_ms as f64) * 1000.0 - sent_us).max(0.0) / 1000.0)
        })
        .collect();
    out.sort_by(f64::total_cmp);
    out
}

pub async fn run(args: &SteadyArgs) -> anyhow::Result<ScenarioReport> {
    let rate = args.rate.unwrap_or(5_000);
    anyhow::ensure!(rate > 0, "--rate must be at least 1");
    let ctx = Context::prepare(&args.common, "e2e", 0).await?;
    let mut report = ScenarioReport::new("e2e");
    let sent = Arc::new(SendTimes::default());
    let observer: Arc<dyn Observer> = sent.clone();
    let plan = ctx.plan(Shape {
        connections: args.connections,
        rate: Some(rate),
        observer: Some(observer),
        ..Shape::default()
    })?;
    let before = ctx.scrape().await;
    let url = format!(
        "{}/sim/webhook/{}/received?limit=1000",
        ctx.sim_url, ctx.sim_account
    );

    let load_done = Arc::new(tokio::sync::Notify::new());
    let poller = {
        let (http, url, done) = (ctx.http.clone(), url.clone(), Arc::clone(&load_done));
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut arrivals: HashMap<String, (u64, i64)> = HashMap::new();
            let mut seen_ids: HashSet<String> = HashSet::new();
            let mut tail_from: Option<Instant> = None;
            let notified = done.notified();
            tokio::pin!(notified);
            loop {
                tokio::select! {
                    () = &mut notified, if tail_from.is_none() => tail_from = Some(Instant::now()),
                    () = tokio::time::sleep(POLL) => {}
                }
                if let Ok(answer) = http.get(&url).send().await
                    && let Ok(received) = answer.json::<Received>().await
                {
                    for item in received.items {
                        if let Some(n) = receiver_number(&item.body)
                            && seen_ids.insert(item.id.clone())
                        {
                            arrivals.insert(item.id, (n, item.received_at_ms));
                        }
                    }
                }
                if let Some(from) = tail_from {
                    let accepted = sent.0.lock().unwrap_or_else(PoisonError::into_inner).len();
                    if arrivals.len() >= accepted || from.elapsed() >= TAIL {
                        return arrivals;
                    }
                }
            }
        })
    };
    let outcome = load::run(plan).await;
    load_done.notify_one();
    let outcome = outcome?;
    let durability = ctx
        .durability_since(before.as_ref(), outcome.elapsed.as_secs_f64())
        .await;
    let arrivals = poller.await?;
    report.duration_secs = outcome.elapsed.as_secs_f64();
    report.durability(durability.as_ref());
    describe(&mut report, "", &outcome);

    let sent = sent
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let latencies = match_arrivals(&sent, &arrivals);
    let coverage = latencies.len() as f64 / sent.len().max(1) as f64;
    report.figure(
        "matched at the simulator",
        format!(
            "{} of {} accepted ({:.1} %)",
            latencies.len(),
            sent.len(),
            coverage * 100.0
        ),
    );
    let p = |q: f64| percentile(&latencies, q).unwrap_or(f64::INFINITY);
    report.figure(
        "end to end ms",
        format!("p50 {:.1}  p99 {:.1}  max {:.1}", p(0.5), p(0.99), p(1.0)),
    );
    let mut check = Check::threshold(
        "e2e",
        &format!("accept → simulator p99 ≤ 50 ms at {}/s", rate),
        format!("p99 {:.1} ms (p50 {:.1})", p(0.99), p(0.5)),
        p(0.99),
        50.0,
        true,
    );
    if coverage < 0.9 {
        let note = format!("only {:.0} % of deliveries matched", coverage * 100.0);
        check.note = if check.note.is_empty() {
            note
        } else {
            format!("{}; {note}", check.note)
        };
    }
    let consistency = Durability::consistency(durability.as_ref(), outcome.accepted);
    report.checks.push(check.backed_by(&consistency));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrivals_match_send_times_by_receiver_number() {
        assert_eq!(
            receiver_number(&json!({"receiver": {"to": "bench-42"}})),
            Some(42)
        );
        assert_eq!(
            receiver_number(&json!({"receiver": {"to": "other-42"}})),
            None
        );
        assert_eq!(receiver_number(&json!({})), None);

        let sent = HashMap::from([(1, 1_000_000_000), (2, 1_000_010_000), (3, 1_000_020_000)]);
        let arrivals = HashMap::from([
            ("d1".to_string(), (1, 1_000_005)), // 5 ms after its send
            ("d2".to_string(), (2, 1_000_010)), // at its send time (ms resolution)
            ("d3".to_string(), (3, 1_000_019)), // clock rounding: clamps to 0
            ("d9".to_string(), (9, 1_000_050)), // never sent by this run: ignored
        ]);
        assert_eq!(match_arrivals(&sent, &arrivals), vec![0.0, 0.0, 5.0]);
    }
}
