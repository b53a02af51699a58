//! The accept journal: what a `202 Accepted` waits for, kept apart from the records' indexes.
//!
//! An accept without an idempotency key appends **one row** to `journal.db` (a second SQLite
//! file with its own group-committing writer) and is answered once that commit is durable.
//! The indexer (`indexer`) then writes the journaled accepts into `herald.db` — records, the
//! full-text tables and the queue's tasks — many accepts per transaction, and records how far
//! it got (`journal_indexed`) in the same transaction. Journal rows up to that mark are
//! deleted afterwards; at open, rows past it are indexed again (nothing is lost or doubled).
//!
//! Why: in one shared transaction every accept waited for a writer that also rewrote the hot
//! pages of ~15 B-trees per commit, merged FTS segments and checkpointed; accept latency
//! was the whole writer's cycle (p99 25–70 ms at 10,000/s while the disk's fsync p99 was
//! 0.2 ms). A journal commit touches one B-tree's last page. Decision 0016.
//!
//! Until the indexer has written an accept, reads are served from here:
//! - `GET /v1/messages/{id}`: the records store reads `herald.db` first and only when the
//!   message is not there asks [`Journal::pending_view`], which builds the view from memory
//!   (every delivery `accepted` or `scheduled` at version 0 — true when that read found
//!   nothing, since the tasks become receivable only with the indexing commit);
//! - search, cancel and state updates wait for the indexer to catch up
//!   ([`Journal::caught_up`]).
//!
//! Accepts reserve room for their deliveries before journaling (backpressure): at most
//! [`MAX_PENDING_DELIVERIES`] are unindexed, so memory stays bounded when the indexer falls
//! behind, and an accept that finds no room within [`CATCH_UP_LIMIT`] fails (503) instead
//! of waiting on an indexer that cannot write.

mod indexer;

pub(crate) use indexer::{recover, spawn as spawn_indexer};

use crate::db::Db;
use herald_domain::{DeliveryState, EventVersion, Message, MessageId, MessageStatus, TaskEnvelope};
use herald_ports::{DeliveryView, MessageView, StoreError};
use parking_lot::Mutex;
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};

/// DDL of `journal.db`. `seq` is assigned by the writer in commit order and never reused.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
    seq   INTEGER PRIMARY KEY,
    entry BLOB NOT NULL
);
";

/// DDL in `herald.db`: the last journal `seq` whose accept is indexed (one row).
pub const INDEXED_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal_indexed (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL
);
";

/// Unindexed deliveries past which accepts wait for the indexer.
/// Twice the indexer's largest transaction: at 10,000 deliveries/s, 0.8 s of lag, ~15 MB.
pub const MAX_PENDING_DELIVERIES: u64 = 8_192;

/// Longest an accept waits for room, or a search, cancel or update for the indexer, before
/// giving up.
pub const CATCH_UP_LIMIT: Duration = Duration::from_secs(10);

/// One journal row, as decoded at recovery.
#[derive(Deserialize)]
pub(crate) struct Entry {
    pub messages: Vec<Message>,
    pub tasks: Vec<TaskEnvelope>,
}

/// An accept that is journaled but not yet indexed.
pub(crate) struct Pending {
    pub seq: i64,
    pub messages: Arc<Vec<Message>>,
    /// The tasks and their encoded payloads; the indexer takes them (and reloads them from
    /// the journal if its transaction fails).
    pub work: Option<(Vec<TaskEnvelope>, Vec<Vec<u8>>)>,
    pub deliveries: u64,
}

#[derive(Default)]
struct PendingSet {
    /// In `seq` (= commit) order.
    batches: VecDeque<Pending>,
    by_message: HashMap<MessageId, i64>,
    deliveries: u64,
    /// Highest `seq` committed to the journal.
    appended: i64,
}

/// The journal's file, its unindexed accepts and the indexer's progress.
pub struct Journal {
    db: Db,
    pending: Mutex<PendingSet>,
    next_seq: AtomicI64,
    /// Wakes the indexer when an accept is journaled (shared with it: the indexer holds the
    /// journal weakly, so dropping the backend stops it).
    appended: Arc<Notify>,
    /// One permit per delivery that may still be journaled (see the module notes).
    room: Arc<Semaphore>,
    /// Highest `seq` indexed into `herald.db`.
    indexed: watch::Sender<i64>,
}

impl Journal {
    /// A journal over `db` (opened with [`SCHEMA`]) whose accepts up to `indexed` are in
    /// `herald.db`; `recovered` are the rows past it, in `seq` order.
    pub(crate) fn new(db: Db, indexed: i64, recovered: Vec<Pending>) -> Self {
        let mut set = PendingSet {
            appended: indexed,
            ..PendingSet::default()
        };
        let mut taken = 0u64;
        for pending in recovered {
            set.appended = pending.seq;
            taken += pending.deliveries.clamp(1, MAX_PENDING_DELIVERIES);
            set.push(pending);
        }
        let free = MAX_PENDING_DELIVERIES.saturating_sub(taken);
        db.stats()
            .unindexed
            .store(set.deliveries, Ordering::Relaxed);
        Self {
            next_seq: AtomicI64::new(set.appended + 1),
            db,
            pending: Mutex::new(set),
            appended: Arc::new(Notify::new()),
            room: Arc::new(Semaphore::new(free as usize)),
            indexed: watch::channel(indexed).0,
        }
    }

    /// Journals one accept durably; its tasks become receivable once indexed.
    pub(crate) async fn append(
        self: &Arc<Self>,
        messages: Vec<Message>,
        tasks: Vec<TaskEnvelope>,
        payloads: Vec<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let entry = encode_entry(&messages, &payloads)?;
        let deliveries = tasks.len() as u64;
        let room = self.reserve_room(deliveries).await?;
        let journal = self.clone();
        let pending = Pending {
            seq: 0,
            messages: Arc::new(messages),
            work: Some((tasks, payloads)),
            deliveries,
        };
        let next = self.clone();
        self.db
            .write_then(
                deliveries,
                move |conn| {
                    let seq = next.next_seq.fetch_add(1, Ordering::Relaxed);
                    conn.prepare_cached("INSERT INTO journal (seq, entry) VALUES (?1, ?2)")
                        .and_then(|mut insert| insert.execute(rusqlite::params![seq, entry]))
                        .map_err(|e| StoreError::backend("journaling an accept", e))?;
                    Ok(seq)
                },
                // The room stays taken until the indexer frees it; a failed commit drops the
                // hook and with it the reservation.
                move |seq: &i64| {
                    room.forget();
                    journal.committed(Pending {
                        seq: *seq,
                        ..pending
                    })
                },
            )
            .await
            .map(drop)
    }

    /// Runs on the journal's writer thread after the commit, in `seq` order.
    fn committed(&self, pending: Pending) {
        {
            let mut set = self.pending.lock();
            set.appended = pending.seq;
            set.push(pending);
            self.db
                .stats()
                .unindexed
                .store(set.deliveries, Ordering::Relaxed);
        }
        self.appended.notify_one();
    }

    /// Reserves room for `deliveries` unindexed deliveries (all the room for a larger accept).
    async fn reserve_room(&self, deliveries: u64) -> Result<OwnedSemaphorePermit, StoreError> {
        let wanted = deliveries.clamp(1, MAX_PENDING_DELIVERIES) as u32;
        let reserve = self.room.clone().acquire_many_owned(wanted);
        match tokio::time::timeout(CATCH_UP_LIMIT, reserve).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(StoreError::Unavailable("the journal is closed".into())),
            Err(_) => Err(StoreError::Unavailable(format!(
                "{} accepted deliveries are waiting to be indexed; try again later",
                self.pending_deliveries()
            ))),
        }
    }

    /// Gives back the room of `deliveries` indexed deliveries.
    fn free_room(&self, deliveries: u64) {
        self.room
            .add_permits(deliveries.min(MAX_PENDING_DELIVERIES) as usize);
    }

    /// The view of a message that is journaled but not yet indexed.
    pub(crate) fn pending_view(
        &self,
        app: &herald_domain::AppId,
        id: &MessageId,
    ) -> Option<MessageView> {
        let set = self.pending.lock();
        let seq = *set.by_message.get(id)?;
        let at = set.batches.binary_search_by_key(&seq, |b| b.seq).ok()?;
        let batch = &set.batches[at];
        let message = batch
            .messages
            .iter()
            .find(|m| &m.id == id && &m.app_id == app)?;
        Some(accepted_view(message))
    }

    /// Whether any of these messages is journaled but not yet indexed.
    pub(crate) fn any_pending<'a>(&self, mut ids: impl Iterator<Item = &'a MessageId>) -> bool {
        let set = self.pending.lock();
        !set.by_message.is_empty() && ids.any(|id| set.by_message.contains_key(id))
    }

    /// Waits until every accept journaled before this call is indexed.
    pub(crate) async fn caught_up(&self) -> Result<(), StoreError> {
        let target = self.pending.lock().appended;
        let mut indexed = self.indexed.subscribe();
        match tokio::time::timeout(CATCH_UP_LIMIT, indexed.wait_for(|&seq| seq >= target)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(StoreError::Unavailable(
                "the journal indexer stopped".into(),
            )),
            Err(_) => Err(StoreError::Unavailable(format!(
                "accepted messages are still being indexed after {} s",
                CATCH_UP_LIMIT.as_secs()
            ))),
        }
    }

    /// The journal file's commit counters (its fsyncs, the deliveries it made durable) and
    /// the unindexed gauge, for `/metrics`.
    pub fn stats(&self) -> &Arc<crate::db::CommitStats> {
        self.db.stats()
    }

    /// Unindexed deliveries (for tests and metrics).
    pub fn pending_deliveries(&self) -> u64 {
        self.pending.lock().deliveries
    }
}

impl PendingSet {
    fn push(&mut self, pending: Pending) {
        for message in pending.messages.iter() {
            self.by_message.insert(message.id.clone(), pending.seq);
        }
        self.deliveries += pending.deliveries;
        self.batches.push_back(pending);
    }

    /// Drops the batches up to `seq` (now indexed); returns the room each took.
    fn indexed(&mut self, seq: i64) -> Vec<u64> {
        let mut freed = Vec::new();
        while self.batches.front().is_some_and(|b| b.seq <= seq) {
            let done = self.batches.pop_front().expect("checked above");
            self.deliveries -= done.deliveries;
            freed.push(done.deliveries.clamp(1, MAX_PENDING_DELIVERIES));
            for message in done.messages.iter() {
                self.by_message.remove(&message.id);
            }
        }
        freed
    }
}

/// A journal row: the messages as JSON and the tasks' payloads (already JSON) spliced in.
fn encode_entry(messages: &[Message], payloads: &[Vec<u8>]) -> Result<Vec<u8>, StoreError> {
    let size = payloads.iter().map(|p| p.len() + 1).sum::<usize>() + 512 * messages.len();
    let mut entry = Vec::with_capacity(size);
    entry.extend_from_slice(b"{\"messages\":");
    serde_json::to_writer(&mut entry, messages)
        .map_err(|e| StoreError::backend("encoding a journal entry", e))?;
    entry.extend_from_slice(b",\"tasks\":[");
    for (i, payload) in payloads.iter().enumerate() {
        if i > 0 {
            entry.push(b',');
        }
        entry.extend_from_slice(payload);
    }
    entry.extend_from_slice(b"]}");
    Ok(entry)
}

/// What the records store holds for a message right after its accept: every delivery
/// `scheduled` (a `send_at` after `created_at`) or `accepted`, at version 0, no attempts.
fn accepted_view(message: &Message) -> MessageView {
    let state = if message.send_at.is_some_and(|at| at > message.created_at) {
        DeliveryState::Scheduled
    } else {
        DeliveryState::Accepted
    };
    let deliveries: Vec<DeliveryView> = message
        .deliveries
        .iter()
        .map(|d| DeliveryView {
            id: d.id.clone(),
            receiver: d.receiver.clone(),
            state,
            version: EventVersion::new(0, state),
            code: None,
            detail: None,
            next_at: None,
            content: None,
            updated_at: message.created_at,
            attempts: Vec::new(),
        })
        .collect();
    MessageView {
        status: MessageStatus::derive(deliveries.iter().map(|d| d.state)),
        message: message.clone(),
        deliveries,
    }
}
