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
use std::collections::VecDeque;
use std::ops::Range;
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

/// How many ranges of missed offsets a node remembers (see [`ReadPosition`]).
const MISSED_KEPT: usize = 64;

/// How far back from the snapshot queue's end a starting node looks for a complete
/// snapshot, first near the end, then further.
const SNAPSHOT_WINDOWS: [u64; 2] = [64, 1_024];

pub(crate) struct Ledger {
    /// This queue instance's id, written into its entries.
    node: String,
    census: Mutex<Census>,
    /// Where reading stands; its lock also makes catching up one reader at a time.
    position: tokio::sync::Mutex<ReadPosition>,
    snapshot_every: Duration,
    /// When and at which offset this node last wrote (or started from) a snapshot.
    last_snapshot: Mutex<(Instant, u64)>,
    /// The ledger offset the census was restored at, if it started from a snapshot.
    restored_at: Option<u64>,
}

/// Where this node's reading of the ledger stands.
#[derive(Debug, Default)]
struct ReadPosition {
    /// The next offset to read.
    next: u64,
    /// Offsets reads moved past without folding them (a retention skip, an entry that did not
    /// decode), the newest `MISSED_KEPT` ranges: an append whose own entry is among them fails
    /// instead of taking its outcome for a lost one, whichever fold read past it.
    missed: VecDeque<Range<u64>>,
}

impl ReadPosition {
    fn at(next: u64) -> Self {
        Self {
            next,
            missed: VecDeque::new(),
        }
    }

    fn note_missed(&mut self, offsets: Range<u64>) {
        if offsets.is_empty() {
            return;
        }
        if self.missed.len() == MISSED_KEPT {
            self.missed.pop_front();
        }
        self.missed.push_back(offsets);
    }

    fn was_missed(&self, offset: u64) -> bool {
        self.missed.iter().any(|range| range.contains(&offset))
    }
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
            position: tokio::sync::Mutex::new(ReadPosition::at(next)),
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
    /// reader's turn first): while it is not yet readable, the fold pauses without the turn
    /// (`APPENDED_PAUSES`), for at most `APPENDED_WAIT` from when it first got it. An entry
    /// a read moved past without folding (retention, or it did not decode) is an error, as
    /// the caller would otherwise take its outcome for a lost one.
    async fn fold<R, F>(&self, mut read: R, through: Option<u64>) -> Result<(), StoreError>
    where
        R: FnMut(u64) -> F,
        F: Future<Output = Result<LedgerPage, StoreError>>,
    {
        let mut position = self.position.lock().await;
        let started = tokio::time::Instant::now();
        let mut pause = APPENDED_PAUSES.0;
        loop {
            let from = position.next;
            let (entries, after) = read(from).await?;
            if entries.is_empty() && after == from {
                let Some(offset) = through.filter(|&offset| from <= offset) else {
                    break;
                };
                if started.elapsed() >= APPENDED_WAIT {
                    return Err(StoreError::Unavailable(format!(
                        "the RocketMQ ledger entry at offset {offset} was not readable within \
                         {APPENDED_WAIT:?} of its append"
                    )));
                }
                // Catch-ups and other appends go on meanwhile.
                drop(position);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(APPENDED_PAUSES.1);
                position = self.position.lock().await;
                continue;
            }
            let mut expected = from;
            for (offset, body) in entries {
                position.note_missed(expected..offset);
                expected = offset + 1;
                match serde_json::from_slice::<Entry>(&body) {
                    Ok(entry) => self.census.lock().apply(offset, entry, &self.node),
                    Err(e) => {
                        tracing::error!(
                            offset,
                            error = %e,
                            "skipping a RocketMQ ledger entry that does not decode"
                        );
                        position.note_missed(offset..expected);
                    }
                }
            }
            position.note_missed(expected..after);
            position.next = after;
        }
        match through {
            Some(offset) if position.was_missed(offset) => Err(StoreError::Unavailable(format!(
                "the RocketMQ ledger entry at offset {offset} was skipped or did not \
                     decode when read back after its append"
            ))),
            _ => Ok(()),
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
        let position = self.position.lock().await;
        let as_of = position.next;
        if as_of == last_offset {
            return;
        }
        let parts = crate::snapshot::encode(&self.census.lock(), as_of);
        drop(position);
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
#[path = "ledger_tests.rs"]
mod tests;
