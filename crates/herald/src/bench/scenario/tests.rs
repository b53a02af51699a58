//! Scenario command lines, the report's text and JSON, the results table and its markers, and
//! one scenario end to end against a stub server that counts what it accepted.

use super::table::{END_MARKER, START_MARKER, render, replace_between_markers};
use super::verdict::{Check, Verdict};
use super::*;
use crate::cli::{Cli, Command};
use axum::Router;
use axum::routing::{get, post};
use clap::Parser as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn scenario(argv: &[&str]) -> Option<Scenario> {
    let mut full = vec!["herald", "bench"];
    full.extend_from_slice(argv);
    let Command::Bench(args) = Cli::try_parse_from(full).expect("parses").command else {
        panic!("not bench")
    };
    args.scenario.map(|s| *s)
}

#[test]
fn scenarios_and_the_free_form_load_parse() {
    let Some(Scenario::Single(single)) = scenario(&[
        "single",
        "--duration",
        "5s",
        "--admin-key",
        "a",
        "--connections",
        "64",
    ]) else {
        panic!("single")
    };
    assert_eq!(single.common.duration, Duration::from_secs(5));
    assert_eq!(single.connections, Some(64));
    assert_eq!(single.common.admin_key.as_deref(), Some("a"));
    for alias in ["get", "rss", "latency"] {
        assert!(
            matches!(scenario(&[alias]), Some(Scenario::Latency(_))),
            "{alias}"
        );
    }
    let Some(Scenario::Search(search)) = scenario(&["search", "--messages", "1000"]) else {
        panic!("search")
    };
    assert_eq!((search.messages, search.queries), (1000, 200));
    assert!(matches!(
        scenario(&["bare-server"]),
        Some(Scenario::BareServer { .. })
    ));
    assert!(
        scenario(&["--connections", "4", "--duration", "1s"]).is_none(),
        "free-form load"
    );
    assert!(Cli::try_parse_from(["herald", "bench", "nonsense"]).is_err());
}

fn check(row: &str, verdict: Verdict) -> Check {
    Check {
        row: row.into(),
        target: format!("{row} target"),
        measured: "1 | 2".into(),
        verdict,
        note: String::new(),
    }
}

fn report(name: &str, checks: Vec<Check>) -> ScenarioReport {
    let mut report = ScenarioReport::new(name);
    report.duration_secs = 10.0;
    report.fsyncs_per_sec = Some(150.4);
    report.mean_commit_batch = Some(12.25);
    report.figure("accepted", "5 requests");
    report.checks = checks;
    report
}

#[test]
fn table_follows_the_issue_order_and_escapes_cells() {
    let reports = [
        report(
            "latency",
            vec![
                check("latency", Verdict::Pass),
                check("get", Verdict::Fail),
                check("rss", Verdict::Inconsistent),
            ],
        ),
        report("single", vec![check("single", Verdict::Fail)]),
    ];
    let table = render(&reports);
    let rows: Vec<&str> = table
        .lines()
        .skip(2)
        .map(|l| l.split(" | ").next().unwrap_or(""))
        .collect();
    assert_eq!(rows, ["| single", "| latency", "| get", "| rss"]);
    assert!(table.contains("1 \\| 2"), "{table}");
    assert!(table.contains("**FAIL (inconsistent)**"), "{table}");
    assert!(table.contains("| `latency` (10 s) |"), "{table}");
    assert!(table.contains("| 150 | 12.2 |"), "{table}");
}

#[test]
fn markers_delimit_the_replaced_section() {
    let doc =
        format!("# B\n\nkeep\n{START_MARKER}\nold\ntable\n{END_MARKER}\n\n## Machine\nkept\n");
    let new = replace_between_markers(&doc, "new table\n").unwrap();
    assert_eq!(
        new,
        format!("# B\n\nkeep\n{START_MARKER}\nnew table\n{END_MARKER}\n\n## Machine\nkept\n")
    );
    assert_eq!(
        replace_between_markers(&new, "new table").unwrap(),
        new,
        "idempotent"
    );
    assert!(replace_between_markers("no markers", "x").is_err());
    assert!(replace_between_markers(&format!("{END_MARKER}{START_MARKER}"), "x").is_err());
}

#[test]
fn report_round_trips_through_json_and_prints_every_check() {
    let r = report("single", vec![check("single", Verdict::Fail)]);
    let back: ScenarioReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let text = r.to_text();
    assert!(text.contains("accepted           5 requests"), "{text}");
    assert!(text.contains("fsyncs/s           150.4"), "{text}");
    assert!(
        text.contains("FAIL                single: single target — measured 1 | 2"),
        "{text}"
    );
    assert!(!r.all_passed());
}

/// A stub Herald: accepts every message, and counts one fsync per `per_fsync` accepted items
/// (`per_fsync` 0 = never fsyncs, like a non-durable server).
async fn stub(per_fsync: u64) -> (String, Arc<AtomicU64>) {
    let accepted = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&accepted);
    let metrics = Arc::clone(&accepted);
    let app = Router::new()
        .route(
            "/v1/messages",
            post(move || {
                let n = count.fetch_add(1, Ordering::Relaxed);
                async move {
                    (
                        axum::http::StatusCode::ACCEPTED,
                        format!("{{\"id\":\"msg_{n}\"}}"),
                    )
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let items = metrics.load(Ordering::Relaxed);
                let fsyncs = if per_fsync == 0 {
                    0
                } else {
                    items.div_ceil(per_fsync)
                };
                async move {
                    format!("herald_fsync_total {fsyncs}\nherald_commit_items_total {items}\n")
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, accepted)
}

fn single_args(url: &str) -> ThroughputArgs {
    let Some(Scenario::Single(args)) = scenario(&[
        "single",
        "--url",
        url,
        "--key",
        "k",
        "--duration",
        "300ms",
        "--connections",
        "4",
    ]) else {
        panic!("single")
    };
    args
}

#[tokio::test]
async fn single_counts_what_the_server_accepted_and_checks_it_against_fsyncs() {
    let (url, accepted) = stub(10).await;
    let report = throughput::single(&single_args(&url)).await.expect("runs");
    let check = &report.checks[0];
    assert_eq!(check.row, "single");
    assert_eq!(
        check.verdict,
        Verdict::Fail,
        "a stub is not 50k/s: {check:?}"
    );
    assert!(check.note.ends_with("× short"), "{check:?}");
    assert!(
        report.mean_commit_batch.is_some_and(|b| b > 9.0),
        "{report:?}"
    );
    let served = accepted.load(Ordering::Relaxed);
    assert!(served > 10, "{served}");
    assert!(
        report.figures[0]
            .value
            .starts_with(&crate::bench::report::group(served)),
        "{:?}",
        report.figures[0]
    );
}

#[tokio::test]
async fn a_server_without_fsyncs_is_reported_inconsistent() {
    let (url, _) = stub(0).await;
    let report = throughput::single(&single_args(&url)).await.expect("runs");
    assert_eq!(
        report.checks[0].verdict,
        Verdict::Inconsistent,
        "{:?}",
        report.checks
    );
    assert!(
        report.checks[0].note.contains("inconsistent"),
        "{:?}",
        report.checks
    );
}
