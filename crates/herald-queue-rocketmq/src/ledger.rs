//! The ledger topic as this node sees it: appends entries and tails the topic's single
//! queue into the census (module `census`). Every read of the census first catches up to
//! the end of the ledger, so a node always sees its own writes and everything stored before.
//! A node starts from the newest census snapshot (module `snapshot`) and writes one itself
//! every `snapshot_every`.

use crate::broker::Broker;
use crate::census::{Census, Change, Entry};
use herald_domain::time::now_ms;
use herald_ports::StoreError;
use parking_lot::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Entries read per pull while catching up.
const READ_BATCH: i32 = 256;

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
        let mut next = self.next.lock().await;
        loop {
            let (entries, after) = broker.read_ledger(*next, READ_BATCH).await?;
            if entries.is_empty() && after == *next {
                return Ok(());
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

    /// Appends `change`, then catches up past it; returns the entry's offset.
    pub async fn append(&self, broker: &Broker, change: Change) -> Result<u64, StoreError> {
        let entry = Entry {
            at: now_ms(),
            node: self.node.clone(),
            change,
        };
        let body = serde_json::to_vec(&entry)
            .map_err(|e| StoreError::backend("encoding a RocketMQ ledger entry", e))?;
        let offset = broker.append_ledger(body).await?;
        self.catch_up(broker).await?;
        self.snapshot_if_due(broker).await;
        Ok(offset)
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
