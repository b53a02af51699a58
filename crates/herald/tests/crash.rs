//! Crash safety of the real `herald` binary: a 202 is a promise that survives the process.
//!
//! Each scenario runs `herald sim` as a separate process (it outlives the server), starts
//! `herald serve` durable on a temp data dir, sends thousands of messages from many concurrent
//! clients, and stops the server once about a third were accepted — with SIGKILL (nothing
//! gets to finish) or SIGTERM (graceful: exit 0 within the grace period). After a restart on
//! the same data dir every delivery that was answered 202 must become `delivered` and must
//! have reached the simulator; after SIGTERM not one may arrive twice.
//!
//! Messages are spread over several simulator accounts so that each account's list of
//! received ids (the simulator keeps the last 1,000) holds every delivery it got, which lets
//! the test check ids one by one, not only counts.

mod support;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::api::{self, Api, Metrics};
use support::load::{self, LoadReport};

/// Messages the clients try to send in total (one receiver each).
const TOTAL: usize = 4000;
/// Concurrent clients.
const CLIENTS: usize = 32;
/// Simulator accounts (and templates); `TOTAL / ROUTES` stays well under 1,000 per account.
const ROUTES: usize = 8;
/// `dispatcher.shutdown_grace_secs` of the server under test.
const GRACE_SECS: u64 = 5;
/// How long the restarted server gets to deliver everything that was accepted.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(40);

/// The scenarios load a two-core machine to the full: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGKILL: in-flight requests, commits and sends are cut off.
    Kill,
    /// SIGTERM: stop accepting, finish in-flight work, exit 0.
    Terminate,
}

/// What a scenario observed, for its assertions and the printed summary.
struct Outcome {
    load: LoadReport,
    /// The last `/metrics` scrape before the signal.
    before_stop: Metrics,
    delivered_after_restart: usize,
    sim_unique: u64,
    sim_duplicates: u64,
}

#[test]
fn sigkill_under_load_loses_no_accepted_message() {
    let outcome = run(Stop::Kill, "crash");
    assert!(
        outcome.sim_unique >= outcome.load.accepted.len() as u64,
        "the simulator saw {} unique deliveries, fewer than the {} accepted",
        outcome.sim_unique,
        outcome.load.accepted.len()
    );
}

#[test]
fn sigterm_under_load_drains_and_delivers_each_message_once() {
    let outcome = run(Stop::Terminate, "drain");
    assert_eq!(
        outcome.sim_duplicates, 0,
        "a graceful shutdown must not make the restarted server send anything twice"
    );
    assert!(outcome.sim_unique >= outcome.load.accepted.len() as u64);
}

fn run(stop: Stop, prefix: &str) -> Outcome {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let outcome = runtime.block_on(scenario(stop, prefix));
    let m = outcome.before_stop;
    println!(
        "[{prefix}] {stop:?}: accepted {accepted} (refused after the signal: {refused}), \
         delivered after restart {delivered}, sim unique {unique}, sim duplicates {dups}; \
         last scrape before the signal: fsyncs {fsyncs}, mean commit batch {batch}, \
         commit items {items}, accepted deliveries {acc_total}; took {secs:.1}s",
        accepted = outcome.load.accepted.len(),
        refused = outcome.load.refused_after_signal,
        delivered = outcome.delivered_after_restart,
        unique = outcome.sim_unique,
        dups = outcome.sim_duplicates,
        fsyncs = m.fsync_total,
        batch = m.commit_batch_mean,
        items = m.commit_items_total,
        acc_total = m.accepted_total,
        secs = started.elapsed().as_secs_f64(),
    );
    outcome
}

async fn scenario(stop: Stop, prefix: &str) -> Outcome {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let (_sim, sim_base) = support::start_sim(dir.path());
    let (mut server, base) = support::start_server(&data_dir, 1, GRACE_SECS).await;
    let (api, routes) = Api::setup(&base, &sim_base, prefix, ROUTES).await;

    let load = load::start(&api, &routes, TOTAL, CLIENTS);
    let before_stop = scrape_until_third_accepted(&api, &load).await;
    load.mark_signaled();
    match stop {
        Stop::Kill => server.kill_now(),
        Stop::Terminate => {
            server.terminate();
            let grace = Duration::from_secs(GRACE_SECS + 2);
            let status = server.wait_exit(grace).await;
            let status = status
                .unwrap_or_else(|| panic!("herald serve still running {grace:?} after SIGTERM"));
            assert!(
                status.success(),
                "herald serve exited with {status} after SIGTERM"
            );
        }
    }
    let report = load.finish().await;
    assert!(
        report.unexpected.is_empty(),
        "{} requests failed before the signal, e.g. {:?}",
        report.unexpected.len(),
        &report.unexpected[..report.unexpected.len().min(5)]
    );
    assert!(
        report.accepted.len() < TOTAL,
        "the server was stopped only after every message was accepted: not a test under load"
    );
    assert_commits_were_durable(&before_stop);
    drop(server);

    let (_restarted, base) = support::start_server(&data_dir, 2, GRACE_SECS).await;
    let api = api.at(&base);
    let delivered = wait_all_delivered(&api, &report).await;

    let mut sim_unique = 0;
    let mut sim_duplicates = 0;
    for (index, route) in routes.iter().enumerate() {
        let (unique, duplicates) = api::sim_counts(&api.http, &sim_base, &route.sim_name).await;
        sim_unique += unique;
        sim_duplicates += duplicates;
        let received = api::sim_received_ids(&api.http, &sim_base, &route.sim_name).await;
        assert!(
            unique + duplicates <= 1000,
            "{} got more than the simulator keeps; lower TOTAL or raise ROUTES",
            route.sim_name
        );
        let never_arrived: Vec<_> = report
            .accepted
            .iter()
            .filter(|a| a.route == index && !received.contains(&a.delivery_id))
            .map(|a| a.delivery_id.as_str())
            .collect();
        assert!(
            never_arrived.is_empty(),
            "{} accepted deliveries are `delivered` in Herald but never reached {}: {:?}",
            never_arrived.len(),
            route.sim_name,
            &never_arrived[..never_arrived.len().min(10)]
        );
    }
    Outcome {
        load: report,
        before_stop,
        delivered_after_restart: delivered,
        sim_unique,
        sim_duplicates,
    }
}

/// Scrapes `/metrics` every 200 ms while the clients send; returns a scrape taken right
/// before a third of `TOTAL` has been accepted.
async fn scrape_until_third_accepted(api: &Api, load: &load::Load) -> Metrics {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last_scrape = Instant::now();
    while load.accepted_count() < TOTAL / 3 {
        assert!(
            Instant::now() < deadline,
            "only {} messages accepted in 30 s",
            load.accepted_count()
        );
        if last_scrape.elapsed() >= Duration::from_millis(200) {
            let _ = api::scrape(&api.http, &api.base).await;
            last_scrape = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    api::scrape(&api.http, &api.base)
        .await
        .expect("the server answers /metrics before it is stopped")
}

/// Fails when the server answered 202s without group-committed fsyncs behind them.
fn assert_commits_were_durable(m: &Metrics) {
    assert!(
        m.fsync_total > 0.0,
        "no durable commit counted ({m:?}): fsync is being skipped"
    );
    // `herald_commit_batch_mean` is printed with two decimals: allow that rounding.
    let committed = m.fsync_total * (m.commit_batch_mean + 0.005);
    assert!(
        committed >= m.accepted_total,
        "fsyncs × mean batch = {committed:.0} items cannot cover {} accepted deliveries ({m:?})",
        m.accepted_total
    );
    // These accepts carry no idempotency key: each was made durable by the journal alone.
    assert!(
        m.journal_fsync_total > 0.0 && m.journal_items_total >= m.accepted_total,
        "the journal's durable commits do not cover {} accepted deliveries ({m:?})",
        m.accepted_total
    );
}

/// Polls the restarted server's search until every accepted delivery is `delivered`;
/// returns how many delivered records there are then.
async fn wait_all_delivered(api: &Api, report: &LoadReport) -> usize {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let delivered: HashSet<String> = api.delivered_ids().await;
        let missing: Vec<_> = report
            .accepted
            .iter()
            .filter(|a| !delivered.contains(&a.delivery_id))
            .collect();
        if missing.is_empty() {
            return delivered.len();
        }
        if Instant::now() >= deadline {
            let mut details = Vec::new();
            for accepted in missing.iter().take(10) {
                let message = api.message(&accepted.message_id).await;
                details.push(format!("{} → {message}", accepted.delivery_id));
            }
            panic!(
                "{} of {} accepted deliveries not delivered {DELIVERY_TIMEOUT:?} after the \
                 restart; first ones:\n{}",
                missing.len(),
                report.accepted.len(),
                details.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
