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
//!   or, for a spilled accept, from its journal row (every delivery `accepted` or
//!   `scheduled` at version 0 — true when that read found nothing, since the tasks become
//!   receivable only with the indexing commit);
//! - cancel and state updates wait for the indexer to catch up ([`Journal::caught_up`]);
//!   search does too while the backlog fits in memory, and otherwise answers from what is
//!   indexed ([`Journal::caught_up_for_search`]).
//!
//! The journal absorbs bursts (decision 0018): accepts are answered at the rate the journal
//! commits, not the rate the indexer writes ~15 B-trees per delivery. Only the first
//! [`JournalOptions::memory_deliveries`] unindexed deliveries are held in memory; later
//! accepts are *spilled* (`pending`) and read back by the indexer. Accepts reserve room
//! first (backpressure): at most [`JournalOptions::max_bytes`] of rows and
//! [`JournalOptions::max_messages`] messages are unindexed, so the file and memory stay bounded, and an accept that finds no room
//! within [`CATCH_UP_LIMIT`] fails (503) instead of waiting on an indexer that cannot write.

pub(crate) mod file;
mod indexer;
mod pending;
mod row;
mod set_aside;

pub(crate) use indexer::{recover, spawn as spawn_indexer};
pub use pending::{JournalOptions, Room};

use crate::db::Db;
use herald_domain::{Message, MessageId, TaskEnvelope};
use herald_ports::{MessageView, StoreError};
use parking_lot::Mutex;
use pending::{Pending, PendingSet};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};

/// DDL of `journal.db`. `seq` is assigned by the writer in commit order and never reused.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
    seq   INTEGER PRIMARY KEY,
    entry BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_unreadable (
    seq          INTEGER PRIMARY KEY,
    entry        BLOB NOT NULL,
    error        TEXT NOT NULL,
    set_aside_ms INTEGER NOT NULL
);
";

/// DDL in `herald.db`: the last journal `seq` whose accept is indexed (one row).
pub const INDEXED_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal_indexed (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL
);
";

/// Longest an accept waits for room, or a search, cancel or update for the indexer, before
/// giving up.
pub const CATCH_UP_LIMIT: Duration = Duration::from_secs(10);

/// One journal row, as decoded when read back.
#[derive(Deserialize)]
pub(crate) struct Entry {
    pub messages: Vec<Message>,
    /// Absent when every task is its message's first task as recorded ([`row::encode`]).
    #[serde(default)]
    tasks: Option<Vec<TaskEnvelope>>,
}

impl Entry {
    /// How many deliveries (= send tasks) the accept has.
    pub fn deliveries(&self) -> u64 {
        match &self.tasks {
            Some(tasks) => tasks.len() as u64,
            None => self
                .messages
                .iter()
                .map(|m| m.deliveries.len() as u64)
                .sum(),
        }
    }

    /// The messages and their send tasks (the messages' first tasks when not stored).
    pub fn into_parts(self) -> (Vec<Message>, pending::Work) {
        (self.messages, pending::Work::of(self.tasks))
    }
}

/// The journal's file, its unindexed accepts and the indexer's progress.
pub struct Journal {
    db: Db,
    options: JournalOptions,
    pending: Mutex<PendingSet>,
    next_seq: AtomicI64,
    /// Wakes the indexer when an accept is journaled (shared with it: the indexer holds the
    /// journal weakly, so dropping the backend stops it).
    appended: Arc<Notify>,
    /// Room for unindexed accepts: KiB of rows, and messages (see [`JournalOptions`]).
    room_kib: Arc<Semaphore>,
    room_messages: Arc<Semaphore>,
    /// Highest `seq` up to which every accept is settled: indexed into `herald.db`, or set
    /// aside as unreadable (`set_aside`).
    indexed: watch::Sender<i64>,
    /// The indexer was started (it must run once).
    indexing: AtomicBool,
    /// A [`Journal::shrink`] is running.
    shrinking: AtomicBool,
    /// Room held beyond the limits by a backlog recovered under larger ones (see `new`).
    overdrawn: Mutex<Room>,
}

impl Journal {
    /// A journal over `db` (opened with [`SCHEMA`]) whose accepts up to `indexed` are in
    /// `herald.db`; `recovered` holds the rows past it (see [`recover`]).
    pub(crate) fn new(
        db: Db,
        indexed: i64,
        mut recovered: PendingSet,
        options: JournalOptions,
    ) -> Self {
        recovered.appended = recovered.appended.max(indexed);
        // Accepts set aside in an earlier run (`set_aside`) are not waited for.
        let settled = recovered.settled_through().max(indexed);
        let (kib, messages) = recovered
            .batches
            .iter()
            .fold((0, 0), |(k, m), b| (k + b.room.kib, m + b.room.messages));
        let max_kib = options.max_bytes / 1024;
        let free_kib = max_kib.saturating_sub(kib);
        let free_messages = options.max_messages.saturating_sub(messages);
        // A backlog recovered under a larger limit than this one holds more room than
        // there is: what it holds beyond the limit is not given back as it is indexed.
        let overdrawn = Room {
            kib: kib.saturating_sub(max_kib),
            messages: messages.saturating_sub(options.max_messages),
        };
        db.stats()
            .unindexed
            .store(recovered.deliveries, Ordering::Relaxed);
        Self {
            next_seq: AtomicI64::new(recovered.appended + 1),
            db,
            pending: Mutex::new(recovered),
            appended: Arc::new(Notify::new()),
            room_kib: Arc::new(Semaphore::new(free_kib as usize)),
            room_messages: Arc::new(Semaphore::new(free_messages as usize)),
            indexed: watch::channel(settled).0,
            shrinking: AtomicBool::new(false),
            indexing: AtomicBool::new(false),
            overdrawn: Mutex::new(overdrawn),
            options,
        }
    }

    /// Journals one accept durably; its tasks (`None`: each delivery's first task) become
    /// receivable once indexed.
    pub(crate) async fn append(
        self: &Arc<Self>,
        messages: Vec<Message>,
        tasks: Option<Vec<TaskEnvelope>>,
    ) -> Result<(), StoreError> {
        let entry = row::encode(&messages, tasks.as_deref())?;
        let deliveries = messages.iter().map(|m| m.deliveries.len() as u64).sum();
        let room = Room::of(entry.len(), messages.len(), &self.options);
        let reserved = self.reserve(room).await?;
        let journal = self.clone();
        // An accept that will stay in memory gets its tasks built here, on the accepting
        // task's thread, as before tasks could be left unlisted: building them in the
        // indexer's blocking-pool task kept that task busy longer, the pool grew (24 threads
        // instead of 19 in one 10,000/s run) and peak RSS with it. One that will spill gets
        // none: they would be dropped with it. (A hint: a wrong guess costs time only.)
        let work = match tasks {
            None if !self
                .pending
                .lock()
                .spills(deliveries, self.options.memory_deliveries) =>
            {
                pending::Work::Tasks(messages.iter().flat_map(Message::first_tasks).collect())
            }
            tasks => pending::Work::of(tasks),
        };
        let pending = Pending {
            seq: 0,
            message_ids: messages.iter().map(|m| m.id.clone()).collect(),
            deliveries,
            room,
            messages: Some(Arc::new(messages)),
            work: Some(work),
        };
        // A spilled accept's messages are dropped here, after the commit, rather than on the
        // journal's writer thread, which every accept waits for (1,000 deliveries take as
        // long to free as to journal).
        let messages = pending.messages.clone();
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
                    reserved.0.forget();
                    reserved.1.forget();
                    journal.committed(Pending {
                        seq: *seq,
                        ..pending
                    })
                },
            )
            .await?;
        drop(messages);
        Ok(())
    }

    /// Runs on the journal's writer thread after the commit, in `seq` order.
    fn committed(&self, pending: Pending) {
        {
            let mut set = self.pending.lock();
            set.push(pending, self.options.memory_deliveries);
            self.db
                .stats()
                .unindexed
                .store(set.deliveries, Ordering::Relaxed);
        }
        self.appended.notify_one();
    }

    /// Reserves an accept's room (messages first, then bytes: every accept takes them in
    /// that order, so two cannot hold each other's).
    async fn reserve(
        &self,
        room: Room,
    ) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), StoreError> {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let reserve = async {
            let messages = self
                .room_messages
                .clone()
                .acquire_many_owned(count(room.messages))
                .await?;
            let kib = self
                .room_kib
                .clone()
                .acquire_many_owned(count(room.kib))
                .await?;
            Ok::<_, tokio::sync::AcquireError>((messages, kib))
        };
        match tokio::time::timeout(CATCH_UP_LIMIT, reserve).await {
            Ok(Ok(permits)) => Ok(permits),
            Ok(Err(_)) => Err(StoreError::Unavailable("the journal is closed".into())),
            Err(_) => Err(StoreError::Unavailable(format!(
                "{} accepted deliveries are waiting to be indexed; try again later",
                self.pending_deliveries()
            ))),
        }
    }

    /// Gives back the room of indexed accepts.
    fn free(&self, room: Room) {
        let room = {
            let mut overdrawn = self.overdrawn.lock();
            let repaid = Room {
                kib: room.kib.min(overdrawn.kib),
                messages: room.messages.min(overdrawn.messages),
            };
            overdrawn.kib -= repaid.kib;
            overdrawn.messages -= repaid.messages;
            Room {
                kib: room.kib - repaid.kib,
                messages: room.messages - repaid.messages,
            }
        };
        self.room_kib.add_permits(room.kib as usize);
        self.room_messages.add_permits(room.messages as usize);
    }

    /// Room free now for unindexed accepts (for tests and metrics).
    pub fn free_room(&self) -> Room {
        Room {
            kib: self.room_kib.available_permits() as u64,
            messages: self.room_messages.available_permits() as u64,
        }
    }

    /// The view of a message that is journaled but not yet indexed: from memory, or read
    /// back from the journal when its accept is spilled.
    pub(crate) async fn pending_view(
        &self,
        app: &herald_domain::AppId,
        id: &MessageId,
    ) -> Result<Option<MessageView>, StoreError> {
        let Some((seq, view)) = self.pending.lock().find(app, id) else {
            return Ok(None);
        };
        if view.is_some() {
            return Ok(view);
        }
        // Spilled: read its row. A row trimmed meanwhile was indexed: `None`, and the
        // caller reads the store again.
        let rows = self
            .db
            .read(move |conn| indexer::read_rows(conn, seq - 1, Some(seq)))
            .await?;
        let (app, id) = (app.clone(), id.clone());
        Ok(rows.into_iter().find_map(|row| {
            let entry = row.entry.ok()?;
            pending::view_in(&entry.messages, &app, &id)
        }))
    }

    /// Whether any of these messages is journaled but not yet indexed.
    pub(crate) fn any_pending<'a>(&self, mut ids: impl Iterator<Item = &'a MessageId>) -> bool {
        let set = self.pending.lock();
        !set.by_message.is_empty() && ids.any(|id| set.by_message.contains_key(id))
    }

    /// Waits until every accept journaled before this call is indexed (or set aside).
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

    /// Before a search: waits for the indexer as [`Journal::caught_up`] does, unless the
    /// backlog is larger than memory (accepts are spilled) — then the search answers from
    /// what is indexed rather than waiting on a catch-up that can take a minute.
    pub(crate) async fn caught_up_for_search(&self) -> Result<(), StoreError> {
        if self.pending.lock().spilled > 0 {
            return Ok(());
        }
        self.caught_up().await
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

    /// Unindexed accepts held only on disk (for tests).
    pub fn spilled_accepts(&self) -> usize {
        self.pending.lock().spilled
    }
}
