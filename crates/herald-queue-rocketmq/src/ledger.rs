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

/// How long one read waiting for a just-appended entry is held by the broker.
const APPENDED_POLL: Duration = Duration::from_millis(100);

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
        self.fold(
            |from, suspend| broker.read_ledger(from, READ_BATCH, suspend),
            None,
        )
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
        self.fold(
            |from, suspend| broker.read_ledger(from, READ_BATCH, suspend),
            Some(offset),
        )
        .await?;
        self.snapshot_if_due(broker).await;
        Ok(offset)
    }

    /// Reads with `read(from, suspend_ms)` and folds until the end of the ledger, and, with
    /// `through`, at least past that offset: while it is not yet readable, reads long-poll
    /// (`APPENDED_POLL`), for at most `APPENDED_WAIT` in all.
    async fn fold<R, F>(&self, mut read: R, through: Option<u64>) -> Result<(), StoreError>
    where
        R: FnMut(u64, u64) -> F,
        F: Future<Output = Result<LedgerPage, StoreError>>,
    {
        let started = Instant::now();
        let mut next = self.next.lock().await;
        loop {
            let behind = through.is_some_and(|offset| *next <= offset);
            let suspend = if behind {
                APPENDED_POLL.as_millis() as u64
            } else {
                0
            };
            let (entries, after) = read(*next, suspend).await?;
            if entries.is_empty() && after == *next {
                if !behind {
                    return Ok(());
                }
                if started.elapsed() >= APPENDED_WAIT {
                    return Err(StoreError::Unavailable(format!(
                        "the RocketMQ ledger entry at offset {} was not readable within {:?} \
                         of its append",
                        through.unwrap_or_default(),
                        APPENDED_WAIT
                    )));
                }
                continue;
            }
            for (offset, body) in entries {
                match serde_json::from_slice::<Entry>(&body) {
                    Ok(entry) => self.census.lock().apply(offset, entry, &self.node),
                    Err(e) => tracing::error!(
                        offset,
                        error = %e,
                        "skipping a RocketMQ ledger entry that does not decode"
                    ),
                }
            }
            *next = after;
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

    /// A ledger whose entry at offset 0 becomes readable only on the `visible_on`th read
    /// (as a broker that has stored but not yet dispatched it); records each read's suspend.
    fn lagging_reader(
        visible_on: usize,
        suspends: &StdMutex<Vec<u64>>,
    ) -> impl FnMut(u64, u64) -> std::future::Ready<Result<LedgerPage, StoreError>> {
        move |from, suspend| {
            let mut seen = suspends.lock().unwrap();
            seen.push(suspend);
            let answer = if from == 0 && seen.len() >= visible_on {
                (vec![(0, claim_entry())], 1)
            } else {
                (Vec::new(), from)
            };
            std::future::ready(Ok(answer))
        }
    }

    #[tokio::test]
    async fn folding_through_an_appended_offset_waits_until_the_broker_shows_it() {
        let ledger = empty_ledger();
        let suspends = StdMutex::new(Vec::new());
        ledger
            .fold(lagging_reader(3, &suspends), Some(0))
            .await
            .expect("the entry shows on the third read");
        assert_eq!(
            ledger.census().take_claim_outcome(0),
            Some(true),
            "the claim's outcome is known when the append returns"
        );
        let suspends = suspends.into_inner().unwrap();
        assert_eq!(
            suspends[..3],
            [100, 100, 100],
            "reads before the entry shows long-poll"
        );
        assert_eq!(suspends[3..], [0], "then one plain read to the end");
    }

    #[tokio::test]
    async fn a_plain_catch_up_stops_at_the_first_empty_read() {
        let ledger = empty_ledger();
        let suspends = StdMutex::new(Vec::new());
        ledger
            .fold(lagging_reader(3, &suspends), None)
            .await
            .unwrap();
        assert_eq!(ledger.census().take_claim_outcome(0), None);
        assert_eq!(suspends.into_inner().unwrap(), [0]);
    }
}
