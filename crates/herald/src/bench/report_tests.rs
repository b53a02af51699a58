//! Report arithmetic and formatting from synthetic inputs.

use super::*;
use crate::bench::load::Outcome;
use crate::bench::metrics::parse_prometheus;
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::json;

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: LoadArgs,
}

fn args(extra: &[&str]) -> LoadArgs {
    let mut argv = vec!["bench", "--url", "http://127.0.0.1:8080"];
    argv.extend_from_slice(extra);
    Wrapper::try_parse_from(argv).expect("valid args").args
}

fn outcome() -> Outcome {
    let mut latency_us = Histogram::new(3).unwrap();
    for us in 1..=100_000u64 {
        latency_us.record(us).unwrap();
    }
    Outcome {
        requests: 1000,
        accepted: 900,
        outcomes: [
            ("202".to_string(), 900),
            ("429".to_string(), 95),
            ("io".to_string(), 5),
        ]
        .into(),
        error_samples: [(
            "429".to_string(),
            "429 Too Many Requests: slow down".to_string(),
        )]
        .into(),
        latency_us,
        elapsed: Duration::from_secs(10),
        receivers_per_request: 2,
        started_unix_us: 0,
    }
}

fn sim(unique: u64, per_second: serde_json::Value) -> SimStats {
    serde_json::from_value(json!({
        "accounts": {"sandbox": {"received": unique + 3, "unique": unique, "duplicates": 3, "throttled": 1, "per_second": per_second}},
        "total_received": unique + 3,
        "total_unique": unique
    }))
    .unwrap()
}

fn report() -> Report {
    let args = args(&[
        "--sim-account",
        "sandbox",
        "--batch-size",
        "2",
        "--connections",
        "64",
    ]);
    Report::build(Inputs {
        args: &args,
        outcome: outcome(),
        metrics_before: Some(parse_prometheus(
            "herald_fsync_total 100\nherald_commit_items_total 1000\nherald_accepted_total 5\n",
        )),
        metrics_after: Some(parse_prometheus(
            "herald_fsync_total 400\nherald_commit_items_total 61000\nherald_accepted_total 1805\nherald_peak_rss_bytes 52428800\n",
        )),
        delivery: Some(DeliveryInputs {
            before: sim(10, json!({})),
            after_run: sim(510, json!({"1000": 100})),
            drained_stats: sim(1810, json!({"1000": 100, "1001": 240, "2000": 999})),
            drained_after: Duration::from_secs(12),
            settled: true,
            window_unix: (1000, 1012),
        }),
        peak_rss_bytes: None,
    })
}

#[test]
fn rates_latency_delivery_and_server_numbers_are_derived() {
    let r = report();
    assert_eq!(r.mode, "closed loop");
    assert_eq!(
        (r.requests, r.accepted, r.receivers_accepted),
        (1000, 900, 1800)
    );
    assert_eq!(r.accepted_per_sec, 90.0);
    assert_eq!(r.receivers_accepted_per_sec, 180.0);
    assert_eq!(
        r.errors,
        BTreeMap::from([("429".to_string(), 95), ("io".to_string(), 5)])
    );

    let latency = r.latency_ms.as_ref().expect("answers recorded");
    assert_eq!(latency.count, 100_000);
    assert!((latency.p50 - 50.0).abs() < 0.1, "{latency:?}");
    assert!((latency.p99 - 99.0).abs() < 0.1, "{latency:?}");
    assert!((latency.p999 - 99.9).abs() < 0.1, "{latency:?}");
    assert!((latency.max - 100.0).abs() < 0.1, "{latency:?}");

    let d = r.delivery.as_ref().expect("simulator used");
    assert_eq!(d.during_run.unique, 500);
    assert_eq!(d.delivered_per_sec_during_run, 50.0);
    assert_eq!(d.after_drain.unique, 1800);
    assert_eq!(d.delivered_per_sec_overall, 150.0);
    assert_eq!(d.undelivered, 0);
    assert_eq!(
        d.peak_second,
        Some(240),
        "seconds outside the window are ignored"
    );

    assert_eq!(r.server.fsyncs_per_sec, Some(30.0));
    assert_eq!(r.server.mean_commit_batch, Some(200.0));
    assert_eq!(r.server.server_accepted_per_sec, Some(180.0));
    assert_eq!(
        r.server.peak_rss_bytes,
        Some(52_428_800),
        "falls back to the metric"
    );
}

#[test]
fn table_is_aligned_and_readable() {
    let table = report().to_table();
    let lines: Vec<&str> = table.lines().collect();
    let value_column = lines[0].find("http://").unwrap();
    assert!(lines.iter().all(|l| l.len() > value_column), "{table}");
    let line = |label: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in\n{table}"))
    };
    assert!(line("target").contains("closed loop, 64 connections"));
    assert!(line("accepted (202)").ends_with("900 (90.0/s)"));
    assert!(line("receivers accepted").contains("1,800 (180/s, 2 per request)"));
    assert!(line("errors").ends_with("429: 95, io: 5"));
    assert!(line("  first").contains("[429] 429 Too Many Requests: slow down"));
    assert!(
        line("latency ms").contains("p50 50.0  p90 90.0  p99 99.0  p99.9 99.9  max 100"),
        "{table}"
    );
    assert!(line("delivered (run)").ends_with("500 (50.0/s) to sandbox"));
    assert!(line("delivered (drain)").ends_with("1,800 (150/s over 12.0 s)"));
    assert!(
        line("  detail").contains("undelivered 0, duplicates 0, throttled 0, busiest second 240")
    );
    assert!(line("fsyncs/s").ends_with("30.0"));
    assert!(line("mean commit batch").ends_with("200.0"));
    assert!(line("peak RSS").ends_with("50.0 MiB"));
}

#[test]
fn json_report_has_stable_field_names() {
    let value = serde_json::to_value(report()).unwrap();
    assert_eq!(value["accepted_per_sec"], 90.0);
    assert_eq!(value["errors"]["429"], 95);
    assert_eq!(
        value["latency_ms"]["p999"].as_f64().map(|v| v.round()),
        Some(100.0)
    );
    assert_eq!(value["delivery"]["after_drain"]["unique"], 1800);
    assert_eq!(value["server"]["mean_commit_batch"], 200.0);
}

#[test]
fn open_loop_mode_and_missing_sources_are_reported_as_absent() {
    let args = args(&["--rate", "5000"]);
    let mut outcome = outcome();
    outcome.latency_us.reset();
    outcome.receivers_per_request = 1;
    let r = Report::build(Inputs {
        args: &args,
        outcome,
        metrics_before: None,
        metrics_after: None,
        delivery: None,
        peak_rss_bytes: Some(1024 * 1024),
    });
    assert_eq!(r.mode, "open loop at 5,000 req/s");
    assert!(r.latency_ms.is_none());
    assert!(r.delivery.is_none());
    assert_eq!(r.server.fsyncs_per_sec, None);
    let table = r.to_table();
    assert!(table.contains("no answers"), "{table}");
    assert!(!table.contains("receivers accepted"));
    assert!(table.contains("1.0 MiB"));
}

#[test]
fn numbers_are_grouped_by_thousands() {
    assert_eq!(group(0), "0");
    assert_eq!(group(999), "999");
    assert_eq!(group(1000), "1,000");
    assert_eq!(group(1234567), "1,234,567");
}
