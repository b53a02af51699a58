//! The ledger's fold without a broker: a reader stands in for the ledger queue and shows an
//! appended entry late, never, past a retention skip, garbled, or after another fold.

use super::*;
use crate::census::{Claim, QueueRef, TopicName};
use herald_ports::Topic;
use std::sync::Mutex as StdMutex;

const ME: &str = "node-a";

fn empty_ledger() -> Ledger {
    Ledger {
        node: ME.to_owned(),
        census: Mutex::new(Census::default()),
        position: tokio::sync::Mutex::new(ReadPosition::default()),
        snapshot_every: Duration::ZERO,
        last_snapshot: Mutex::new((Instant::now(), 0)),
        restored_at: None,
    }
}

/// This node's claim of offsets 0..1 of a queue, as stored at ledger offset 0.
fn claim_entry() -> Vec<u8> {
    let claim = Claim {
        queue: QueueRef {
            topic: TopicName(Topic::Send),
            broker: "broker-a".into(),
            queue: 0,
        },
        from: 0,
        to: 1,
    };
    let entry = Entry {
        at: 1,
        node: ME.to_owned(),
        change: Change::Leased {
            until: 2,
            claims: vec![claim],
            tasks: Vec::new(),
            deferred: Vec::new(),
            dropped: Vec::new(),
        },
    };
    serde_json::to_vec(&entry).unwrap()
}

/// What a test reader answers for reads from offset 0, by read number (1-based).
enum Shows {
    /// The entry at 0 shows from this read on (before it, an empty page).
    From(usize),
    /// Never shows.
    Never,
    /// Retention moved the queue's start past it: an empty page whose next offset is 5.
    SkippedTo5,
    /// It shows on the first read, but its body does not decode.
    Garbled,
}

/// A ledger reader for the entry at offset 0 (as a broker that has stored an entry but
/// not yet dispatched it would answer); counts the reads.
fn reader(
    shows: Shows,
    reads: &StdMutex<usize>,
) -> impl FnMut(u64) -> std::future::Ready<Result<LedgerPage, StoreError>> {
    move |from| {
        let mut n = reads.lock().unwrap();
        *n += 1;
        let page = match shows {
            Shows::From(first) if from == 0 && *n >= first => (vec![(0, claim_entry())], 1),
            Shows::SkippedTo5 if from == 0 => (Vec::new(), 5),
            Shows::Garbled if from == 0 => (vec![(0, b"not json".to_vec())], 1),
            _ => (Vec::new(), from),
        };
        std::future::ready(Ok(page))
    }
}

#[tokio::test(start_paused = true)]
async fn folding_through_an_appended_offset_waits_until_the_broker_shows_it() {
    let ledger = empty_ledger();
    let reads = StdMutex::new(0);
    let started = tokio::time::Instant::now();
    ledger
        .fold(reader(Shows::From(3), &reads), Some(0))
        .await
        .expect("the entry shows on the third read");
    assert_eq!(
        ledger.census().take_claim_outcome(0),
        Some(true),
        "the claim's outcome is known when the append returns"
    );
    assert_eq!(*reads.lock().unwrap(), 4, "3 until it shows, 1 to the end");
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(1 + 2),
        "pauses of 1 then 2 ms between the reads that found nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_plain_catch_up_stops_at_the_first_empty_read() {
    let ledger = empty_ledger();
    let reads = StdMutex::new(0);
    ledger
        .fold(reader(Shows::From(3), &reads), None)
        .await
        .unwrap();
    assert_eq!(ledger.census().take_claim_outcome(0), None);
    assert_eq!(*reads.lock().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_entry_that_never_shows_fails_the_append_after_the_wait() {
    let ledger = empty_ledger();
    let reads = StdMutex::new(0);
    let started = tokio::time::Instant::now();
    let error = ledger
        .fold(reader(Shows::Never, &reads), Some(0))
        .await
        .expect_err("the entry never shows");
    assert!(error.to_string().contains("not readable within"), "{error}");
    let waited = started.elapsed();
    assert!(
        waited >= APPENDED_WAIT && waited < APPENDED_WAIT + APPENDED_PAUSES.1 * 2,
        "waited {waited:?}"
    );
    let reads = *reads.lock().unwrap();
    assert!(
        (600..700).contains(&reads),
        "reads pause up to 16 ms: {reads} reads in 10 s"
    );
}

#[tokio::test(start_paused = true)]
async fn an_entry_another_fold_got_past_first_counts_as_folded() {
    let ledger = empty_ledger();
    let reads = StdMutex::new(0);
    // Another caller's fold (a catch-up, or a concurrent append's) had the reader's
    // turn first and folded offset 0.
    ledger
        .fold(reader(Shows::From(1), &reads), None)
        .await
        .unwrap();
    assert_eq!(ledger.position.lock().await.next, 1);
    *reads.lock().unwrap() = 0;
    ledger
        .fold(reader(Shows::Never, &reads), Some(0))
        .await
        .expect("offset 0 was folded before this fold's turn");
    assert_eq!(ledger.census().take_claim_outcome(0), Some(true));
    assert_eq!(*reads.lock().unwrap(), 1, "one read to the end");
}

#[tokio::test(start_paused = true)]
async fn an_entry_skipped_by_the_read_fails_the_append() {
    let ledger = empty_ledger();
    let reads = StdMutex::new(0);
    let error = ledger
        .fold(reader(Shows::SkippedTo5, &reads), Some(0))
        .await
        .expect_err("the read moved past the entry without it");
    assert!(error.to_string().contains("was skipped"), "{error}");
    assert_eq!(
        ledger.position.lock().await.next,
        5,
        "the census still moves on"
    );
}

#[tokio::test(start_paused = true)]
async fn an_entry_that_does_not_decode_fails_the_append() {
    let ledger = empty_ledger();
    let reads = StdMutex::new(0);
    let error = ledger
        .fold(reader(Shows::Garbled, &reads), Some(0))
        .await
        .expect_err("the entry was read but not folded");
    assert!(error.to_string().contains("did not decode"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn an_entry_another_fold_could_not_fold_still_fails_the_append() {
    let ledger = empty_ledger();
    let reads = StdMutex::new(0);
    ledger
        .fold(reader(Shows::Garbled, &reads), None)
        .await
        .expect("a catch-up only logs an entry that does not decode");
    let error = ledger
        .fold(reader(Shows::Never, &reads), Some(0))
        .await
        .expect_err("the reader is past offset 0, but nothing folded it");
    assert!(error.to_string().contains("did not decode"), "{error}");
}

#[test]
fn missed_offsets_keep_the_newest_ranges() {
    let mut position = ReadPosition::default();
    position.note_missed(3..3);
    assert!(position.missed.is_empty(), "an empty range is not kept");
    for start in 0..MISSED_KEPT as u64 + 1 {
        position.note_missed(start * 10..start * 10 + 2);
    }
    assert!(!position.was_missed(0), "the oldest range was dropped");
    assert!(position.was_missed(11) && !position.was_missed(12));
    assert!(position.was_missed(MISSED_KEPT as u64 * 10 + 1));
}
