//! The verdict arithmetic on hand-made numbers.

use super::*;
use crate::bench::metrics::parse_prometheus;

#[test]
fn percentile_is_nearest_rank() {
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&values, 0.50), Some(50.0));
    assert_eq!(percentile(&values, 0.95), Some(95.0));
    assert_eq!(percentile(&values, 0.99), Some(99.0));
    assert_eq!(percentile(&values, 1.0), Some(100.0));
    assert_eq!(percentile(&values, 0.0), Some(1.0));
    assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
    assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.5), Some(2.0));
    assert_eq!(percentile(&[], 0.5), None);
}

#[test]
fn durability_comes_from_counter_deltas() {
    let before = parse_prometheus("herald_fsync_total 100\nherald_commit_items_total 1000\n");
    let after = parse_prometheus("herald_fsync_total 300\nherald_commit_items_total 51000\n");
    let d = Durability::between(Some(&before), Some(&after), 10.0).expect("both scrapes");
    assert_eq!((d.fsyncs, d.items), (200.0, 50000.0));
    assert_eq!(d.fsyncs_per_sec(), 20.0);
    assert_eq!(d.mean_batch(), 250.0);
    assert_eq!(
        Durability::consistency(Some(&d), 50_000),
        Consistency::Consistent
    );
    assert_eq!(
        Durability::consistency(Some(&d), 10_000),
        Consistency::Consistent
    );

    let missing = parse_prometheus("herald_commit_items_total 5\n");
    assert!(Durability::between(Some(&missing), Some(&after), 1.0).is_none());
    assert!(Durability::between(None, Some(&after), 1.0).is_none());
}

#[test]
fn more_accepted_than_fsynced_items_is_inconsistent() {
    let d = Durability {
        fsyncs: 10.0,
        items: 900.0,
        seconds: 1.0,
    };
    let Consistency::Inconsistent(why) = Durability::consistency(Some(&d), 1000) else {
        panic!("900 items cannot cover 1000 accepted")
    };
    assert!(why.contains("900 < 1000"), "{why}");

    let no_fsyncs = Durability {
        fsyncs: 0.0,
        items: 5000.0,
        seconds: 1.0,
    };
    assert_ne!(
        Durability::consistency(Some(&no_fsyncs), 1),
        Consistency::Consistent,
        "a non-durable server (fsync counter flat) is inconsistent"
    );
    assert_eq!(
        Durability::consistency(Some(&no_fsyncs), 0),
        Consistency::Consistent,
        "nothing accepted needs no fsync"
    );
    assert_ne!(Durability::consistency(None, 1), Consistency::Consistent);
}

#[test]
fn thresholds_pass_fail_and_say_by_how_much() {
    let ok = Check::threshold(
        "single",
        "≥ 50,000/s",
        "60,000/s".into(),
        60_000.0,
        50_000.0,
        false,
    );
    assert_eq!((ok.verdict, ok.note.as_str()), (Verdict::Pass, ""));
    let short = Check::threshold(
        "single",
        "≥ 50,000/s",
        "10,000/s".into(),
        10_000.0,
        50_000.0,
        false,
    );
    assert_eq!(short.verdict, Verdict::Fail);
    assert_eq!(short.note, "5.0× short");
    let over = Check::threshold("latency", "p99 ≤ 5 ms", "p99 20 ms".into(), 20.0, 5.0, true);
    assert_eq!(
        (over.verdict, over.note.as_str()),
        (Verdict::Fail, "4.0× over")
    );
    let edge = Check::threshold("latency", "p99 ≤ 5 ms", "p99 5 ms".into(), 5.0, 5.0, true);
    assert_eq!(edge.verdict, Verdict::Pass);

    let bad = Consistency::Inconsistent("inconsistent: x".into());
    let downgraded = ok.clone().backed_by(&bad);
    assert_eq!(downgraded.verdict, Verdict::Inconsistent);
    assert_eq!(downgraded.verdict.label(), "FAIL (inconsistent)");
    assert_eq!(downgraded.note, "inconsistent: x");
    assert_eq!(
        short.clone().backed_by(&bad).note,
        "5.0× short; inconsistent: x"
    );
    assert_eq!(ok.clone().backed_by(&Consistency::Consistent), ok);
}

#[test]
fn full_seconds_drop_the_partial_edges() {
    assert_eq!(full_seconds(100.3, 105.7), 101..=104);
    assert_eq!(full_seconds(100.0, 103.0), 101..=102);
    assert!(full_seconds(100.5, 101.5).is_empty());
}

#[test]
fn per_second_counts_must_stay_within_the_tolerance() {
    let per_second: BTreeMap<u64, u64> = [
        (10, 1000),
        (11, 990),
        (12, 1010),
        (13, 989),
        (14, 1011),
        (16, 1000),
    ]
    .into();
    assert_eq!(
        seconds_off_target(&per_second, 10..=12, 1000.0, 0.01),
        vec![]
    );
    assert_eq!(
        seconds_off_target(&per_second, 10..=16, 1000.0, 0.01),
        vec![(13, 989), (14, 1011), (15, 0)],
        "a missing second is a second with nothing delivered"
    );
}

#[test]
fn grouped_rounds_and_groups() {
    assert_eq!(grouped(1_234_567.6), "1,234,568");
    assert_eq!(grouped(-3.0), "0");
}
