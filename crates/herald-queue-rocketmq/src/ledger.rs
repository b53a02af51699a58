//! The ledger topic as this node sees it: appends entries and tails the topic's single
//! queue into the census (module `census`). Every read of the census first catches up to
//! the end of the ledger, so a node always sees its own writes and everything stored before.
//! A node starts from the newest census snapshot (module `snapshot`) and writes one itself
//! every `snapshot_every`.

use crate::broker::{Broker, LedgerPage};
use crate::census::{Census, Change, Entry};
use herald_domain::time::now_ms;
use herald_ports::StoreError;
use parking_lot::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Entries read per pull while catching up.
const READ_BATCH: i32 = 256;

/// Pauses between reads while a just-appended entry is not yet readable: the first, then
/// doubling up to the last. Plain reads, not the broker's long poll: a held pull would
/// occupy the client instance every other read of this node shares (module `broker`), and
/// the broker answers a held pull on arrival or on its own periodic scan, not at the
/// suspend time asked for.
const APPENDED_PAUSES: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(16));

/// How long an append waits for its entry to become readable before it fails.
const APPENDED_WAIT: Duration = Duration::from_secs(10);

/// How far back from the snapshot queue's end a starting node looks for a complete
/// snapshot, first near the end, then further.
const SNAPSHOT_WINDOWS: [u64; 2] = [64, 1_024];

pub(crate) struct Ledger {
    /// This queue instance's id, written into its entries.
    node: String,
    census: Mutex<Census>,
    /// The next offset to read; its lock also makes catching up one reader at a time.
    next: tokio::sync::Mutex<u64>,
    snapshot_every: Duration,
    /// When and at which offset this node last wrote (or started from) a snapshot.
    last_snapshot: Mutex<(Instant, u64)>,
    /// The ledger offset the census was restored at, if it started from a snapshot.
    restored_at: Option<u64>,
}

impl Ledger {
    /// Starts from the newest complete snapshot (or from the ledger's start) and catches up.
    pub async fn open(
        broker: &Broker,
        node: String,
        snapshot_every: Duration,
    ) -> Result<Self, StoreError> {
        let mut restored = None;
        for window in SNAPSHOT_WINDOWS {
            restored = crate::snapshot::decode_newest(&broker.read_snapshot_tail(window).await?);
            if restored.is_some() {
                break;
            }
        }
        let restored_at = restored.as_ref().map(|(_, as_of)| *as_of);
        let (census, next) = restored.unwrap_or_default();
        let ledger = Self {
            node,
            census: Mutex::new(census),
            next: tokio::sync::Mutex::new(next),
            snapshot_every,
            last_snapshot: Mutex::new((Instant::now(), next)),
            restored_at,
        };
        ledger.catch_up(broker).await?;
        Ok(ledger)
    }

    /// The ledger offset this node's census was restored at from a snapshot, if it was.
    pub fn restored_at(&self) -> Option<u64> {
        self.restored_at
    }

    /// Folds every entry stored after the last one read. A start offset the broker no longer
    /// keeps (retention) moves forward to the oldest kept entry.
    pub async fn catch_up(&self, broker: &Broker) -> Result<(), StoreError> {
        self.fold(|from| broker.read_ledger(from, READ_BATCH), None)
            .await
    }

    /// Appends `change`, then folds up to and including it; returns the entry's offset.
    ///
    /// A send is acknowledged once the entry is in the broker's commit log, but a read sees
    /// it only after the broker has dispatched it to the queue, which it does in the
    /// background: a read right after the append can miss the entry. Folding *through* the
    /// offset waits for it, so a caller reading its entry's outcome (a claim won, tasks
    /// canceled) finds it; reading on one catch-up once made a won claim look lost, its
    /// tasks stayed leased to nobody until the lease ran out, and were handed out again.
    pub async fn append(&self, broker: &Broker, change: Change) -> Result<u64, StoreError> {
        let entry = Entry {
            at: now_ms(),
            node: self.node.clone(),
            change,
        };
        let body = serde_json::to_vec(&entry)
            .map_err(|e| StoreError::backend("encoding a RocketMQ ledger entry", e))?;
        let offset = broker.append_ledger(body).await?;
        self.fold(|from| broker.read_ledger(from, READ_BATCH), Some(offset))
            .await?;
        self.snapshot_if_due(broker).await;
        Ok(offset)
    }

    /// Reads with `read(from)` and folds until the end of the ledger. With `through`, the
    /// entry at that offset must be folded too (by this fold, or by another that had the
    /// reader's turn first): while it is not yet readable, reads pause (`APPENDED_PAUSES`),
    /// for at most `APPENDED_WAIT` from when the fold got its turn. An entry this fold's
    /// read skipped (retention) or could not decode is an error, as the caller would
    /// otherwise take its outcome for a lost one.
    async fn fold<R, F>(&self, mut read: R, through: Option<u64>) -> Result<(), StoreError>
    where
        R: FnMut(u64) -> F,
        F: Future<Output = Result<LedgerPage, StoreError>>,
    {
        let mut next = self.next.lock().await;
        let started = tokio::time::Instant::now();
        let mut pause = APPENDED_PAUSES.0;
        // Folded already when another fold got past it first.
        let mut folded_through = through.is_none_or(|offset| *next > offset);
        loop {
            let (entries, after) = read(*next).await?;
            if entries.is_empty() && after == *next {
                let Some(offset) = through else {
                    return Ok(());
                };
                if folded_through {
                    return Ok(());
                }
                if started.elapsed() >= APPENDED_WAIT {
                    return Err(StoreError::Unavailable(format!(
                        "the RocketMQ ledger entry at offset {offset} was not readable within \
                         {APPENDED_WAIT:?} of its append"
                    )));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(APPENDED_PAUSES.1);
                continue;
            }
            for (offset, body) in entries {
                match serde_json::from_slice::<Entry>(&body) {
                    Ok(entry) => {
                        self.census.lock().apply(offset, entry, &self.node);
                        folded_through |= Some(offset) == through;
                    }
                    Err(e) => tracing::error!(
                        offset,
                        error = %e,
                        "skipping a RocketMQ ledger entry that does not decode"
                    ),
                }
            }
            *next = after;
            if let Some(offset) = through
                && !folded_through
                && after > offset
            {
                return Err(StoreError::Unavailable(format!(
                    "the RocketMQ ledger entry at offset {offset} was skipped or did not \
                     decode when read back after its append"
                )));
            }
        }
    }

    /// Writes a snapshot when `snapshot_every` passed since the last one and the ledger
    /// moved. A failure is logged: snapshots only shorten start-up.
    async fn snapshot_if_due(&self, broker: &Broker) {
        let (last_at, last_offset) = *self.last_snapshot.lock();
        if self.snapshot_every.is_zero() || last_at.elapsed() < self.snapshot_every {
            return;
        }
        // Holding the reader's lock: the census is exactly the fold of [0, as_of).
        let next = self.next.lock().await;
        let as_of = *next;
        if as_of == last_offset {
            return;
        }
        let parts = crate::snapshot::encode(&self.census.lock(), as_of);
        drop(next);
        *self.last_snapshot.lock() = (Instant::now(), as_of);
        let written = match parts {
            Ok(parts) => broker.write_snapshot(parts).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, as_of, "writing a RocketMQ census snapshot failed");
        }
    }

    /// The census as folded so far (call [`Ledger::catch_up`] first for an up-to-date view).
    pub fn census(&self) -> MutexGuard<'_, Census> {
        self.census.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::{Claim, QueueRef, TopicName};
    use herald_ports::Topic;
    use std::sync::Mutex as StdMutex;

    const ME: &str = "node-a";

    fn empty_ledger() -> Ledger {
        Ledger {
            node: ME.to_owned(),
            census: Mutex::new(Census::default()),
            next: tokio::sync::Mutex::new(0),
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
        assert_eq!(*ledger.next.lock().await, 1);
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
        assert_eq!(*ledger.next.lock().await, 5, "the census still moves on");
    }
}
