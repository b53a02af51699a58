//! The embedded durable queue: Herald's send, retry and result topics, its scheduler and its
//! dead-letter store, in the shared SQLite database.
//!
//! # Design
//! - **Disk holds the tasks, memory holds the order.** `queue_tasks` (see [`schema`]) is
//!   written only through group commit (`Db::write`): a publish returns once its rows are
//!   durable. Embedded mode has exactly one process on the file, so leases are not written:
//!   an in-memory index keeps, per topic, the due tasks (priority high → low, then due time,
//!   then row id: FIFO within a priority), the tasks loaded ahead of their `not_before`, and
//!   the leases by deadline. After a restart every stored row is ready again (at-least-once).
//! - **Memory follows commits, in commit order.** Each write draws a ticket on the writer
//!   thread (so tickets follow commit order) and describes its effect on memory as a
//!   [`memory::Change`]; once the write settles, changes are applied strictly by ticket. Memory
//!   therefore changes only after the data is durable, and exactly as the table did, even when
//!   tokio wakes the writers' callers in another order. A write returns once its own change
//!   is applied (callers read their own writes). Writes run in a spawned task, so a caller
//!   that gives up (a dropped future) cannot leave a ticket unapplied.
//! - **Dead letters** replay with `attempt + 1`, due now, onto the send topic (a dead result
//!   event, should one exist, goes back to the result topic).
//! - **The table is the scheduler.** Only rows due within `horizon` are loaded; the
//!   [`scheduler`] task pulls newly due rows in `(not_before, id)` order. `cancel` deletes rows
//!   of tasks not handed out (due soon or days ahead); rows in memory are held back from
//!   consumers while the delete commits, so a canceled task is never handed out.
//! - **Bounded memory.** At most `max_in_memory` tasks are kept; a backlog beyond that waits
//!   on disk and is loaded, oldest due first, as memory drains (acks and receivers wake the
//!   loader once a quarter of memory is free). Tasks not due yet hold at most half of it, so
//!   a campaign scheduled ahead cannot keep due tasks out. Priority ordering holds among the
//!   tasks in memory.
//! - **`deliveries`** counts hand-outs since this process loaded the task: it restarts at 1
//!   after a restart (persisting it would cost a write per hand-out).
//! - Acks of unknown receipts (a task acked after a redelivery) are ignored; a dead letter
//!   is written only if its task still existed. Row ids come from an in-process counter and
//!   are never reused, so a stale receipt never touches a newer task.
//! - `stats` reports stored rows per topic (queued, scheduled and leased), leases held and
//!   dead letters, maintained in memory from the same ordered changes.

mod commit;
mod memory;
mod scheduler;
pub mod schema;
mod tx;

pub use schema::SCHEMA;
pub use tx::QueueTx;

use async_trait::async_trait;
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeadLetterId, DeliveryId, Millis, TaskEnvelope};
use herald_ports::{DeadLetter, Leased, Queue, QueueCommit, QueueStats, StoreError, Topic};
use memory::{Change, Memory, TopicMask, bit};
use parking_lot::Mutex;
use rusqlite::Connection;
use schema::{decode, encode, sql_error, topic_index};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use crate::db::Db;
pub use commit::PreparedCommit;

/// Tuning of the embedded queue.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Visibility timeout: a task not acked this long after it was handed out is handed out
    /// again.
    pub lease: Duration,
    /// Tasks due within this window are kept in memory; later ones wait on disk.
    pub horizon: Duration,
    /// How often the scheduler looks for rows that came within the horizon.
    pub refill_every: Duration,
    /// Most tasks kept in memory (due, pending and leased).
    pub max_in_memory: usize,
    /// Most rows one scheduler pass reads.
    pub load_page: usize,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            horizon: Duration::from_secs(60),
            refill_every: Duration::from_secs(15),
            // 20,000 (with 10,000-row pages) held ~22 MB of decoded tasks at peak — a
            // resize of the entry map alone was 12 MB — and peak RSS in the 10,000/s benchmark
            // was 159–176 MB over 40 s; 8,192 / 4,096: 98–119 MB, and delivery no slower
            // (the loader is woken whenever a quarter of memory is free).
            max_in_memory: 8_192,
            load_page: 4_096,
        }
    }
}

/// State shared by the queue handle, its scheduler and its in-flight writes.
pub(crate) struct Shared {
    db: Db,
    options: QueueOptions,
    /// The in-memory index; held only for short, non-async sections.
    memory: Mutex<Memory>,
    /// Wakes receivers of one topic when tasks arrive there.
    wake: [Notify; 3],
    /// Wakes writes waiting for earlier tickets to be applied.
    applied: Notify,
    /// Wakes the scheduler early (memory drained after an overflow).
    loader_wake: Arc<Notify>,
    /// Next row id; 0 until the first insert reads the table's highest id (writer thread only).
    next_id: AtomicI64,
    /// Next write ticket; drawn on the writer thread, so tickets follow commit order.
    tickets: AtomicU64,
}

impl Shared {
    /// Runs `job` in the next group commit, then applies its memory change in commit order.
    async fn write<R, F>(self: Arc<Self>, items: u64, urgent: bool, job: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut QueueTx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<(u64, Change)>>> = Arc::new(Mutex::new(None));
        let task = tokio::spawn(async move {
            let writer_shared = self.clone();
            let writer_slot = slot.clone();
            let run = move |conn: &Connection| {
                let ticket = writer_shared.tickets.fetch_add(1, Ordering::Relaxed);
                // Claim the ticket first: even a job that panics must settle it.
                *writer_slot.lock() = Some((ticket, Change::default()));
                let mut tx = QueueTx::new(&writer_shared);
                let outcome = job(conn, &mut tx);
                *writer_slot.lock() = Some((ticket, tx.change));
                outcome
            };
            let result = if urgent {
                self.db.write_unisolated_urgent(items, run).await
            } else {
                self.db.write_unisolated(items, run).await
            };
            let drawn = slot.lock().take();
            if let Some((ticket, change)) = drawn {
                let (mask, lagging) = {
                    let now = now_ms();
                    let mut memory = self.memory.lock();
                    let mask = memory.settle(ticket, change, result.is_ok(), now);
                    (mask, memory.loader_lagging(now))
                };
                self.notify(mask);
                // Acks free memory without waking any receiver; the loader must hear of it
                // here, or a backlog on disk waits for a receiver's long poll to time out.
                if lagging {
                    self.loader_wake.notify_one();
                }
                self.applied.notify_waiters();
                // An earlier ticket of the same commit may settle a moment later; return
                // only once this change is visible, so callers read their own writes.
                self.wait_applied(ticket).await;
            }
            result
        });
        task.await
            .map_err(|e| StoreError::backend("queue write task failed", e))?
    }

    async fn wait_applied(&self, ticket: u64) {
        loop {
            let applied = self.applied.notified();
            tokio::pin!(applied);
            applied.as_mut().enable();
            if self.memory.lock().applied(ticket) {
                return;
            }
            applied.await;
        }
    }

    fn notify(&self, mask: TopicMask) {
        for topic in Topic::ALL {
            if mask & bit(topic) != 0 {
                self.wake[topic_index(topic)].notify_waiters();
            }
        }
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.options.lease.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The embedded queue; cheap to share behind an `Arc`.
pub struct EmbeddedQueue {
    shared: Arc<Shared>,
    /// The accept journal whose tasks are not in the queue yet (a cancel waits for them).
    journal: std::sync::OnceLock<Arc<crate::journal::Journal>>,
}

impl EmbeddedQueue {
    /// Builds the queue on a database opened with [`SCHEMA`] and starts its scheduler, whose
    /// first pass loads the due tasks left on disk. Must be called inside a tokio runtime.
    pub fn new(db: Db, options: QueueOptions) -> Self {
        let shared = Arc::new(Shared {
            db,
            memory: Mutex::new(Memory::new(options.max_in_memory)),
            options,
            wake: [Notify::new(), Notify::new(), Notify::new()],
            applied: Notify::new(),
            loader_wake: Arc::new(Notify::new()),
            next_id: AtomicI64::new(0),
            tickets: AtomicU64::new(0),
        });
        scheduler::spawn(&shared);
        Self {
            shared,
            journal: std::sync::OnceLock::new(),
        }
    }

    /// Makes [`Queue::cancel`] wait until `journal`'s accepts are indexed, so a cancel right
    /// after an accept finds the tasks it must remove.
    pub fn wait_for_journal(&self, journal: Arc<crate::journal::Journal>) {
        let _ = self.journal.set(journal);
    }

    /// Runs `job` in the next group commit with access to the queue tables through
    /// [`QueueTx`]; tasks it inserts become receivable once the commit is durable. This is
    /// how the intake commits records and tasks in one transaction.
    pub async fn write<R, F>(&self, items: u64, job: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut QueueTx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        Shared::write(self.shared.clone(), items, false, job).await
    }

    /// Like [`Self::write`] for a write others wait on whatever its size (the dispatcher's
    /// settle and acks): it goes ahead of bulk accepts in the writer (see `backlog`).
    pub(crate) async fn write_urgent<R, F>(&self, items: u64, job: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut QueueTx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        Shared::write(self.shared.clone(), items, true, job).await
    }

    /// Waits until the tasks left on disk by a previous run are loaded and counted,
    /// including those of accepts it left in the journal (once indexed).
    pub async fn loaded(&self) {
        loop {
            let notified = self.shared.wake[0].notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.memory.lock().loaded {
                break;
            }
            notified.await;
        }
        if let Some(journal) = self.journal.get()
            && let Err(e) = journal.caught_up().await
        {
            tracing::warn!(error = %e, "journaled accepts are not indexed yet");
        }
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn publish(&self, topic: Topic, tasks: Vec<TaskEnvelope>) -> Result<(), StoreError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let payloads = tasks.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        self.write(tasks.len() as u64, move |conn, tx| {
            tx.insert_encoded(conn, topic, tasks, payloads).map(drop)
        })
        .await
    }

    async fn receive(
        &self,
        topic: Topic,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Leased>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + wait;
        let lease_ms = self.shared.lease_ms();
        loop {
            // Register for wake-ups before looking, so a publish in between is not missed.
            let notified = self.shared.wake[topic_index(topic)].notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = now_ms();
            let (batch, next_change, lagging) = {
                let mut memory = self.shared.memory.lock();
                let (batch, next_change) = memory.take(topic, max, now, lease_ms);
                (batch, next_change, memory.loader_lagging(now))
            };
            if lagging {
                self.shared.loader_wake.notify_one();
            }
            if !batch.is_empty() {
                return Ok(batch);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(batch);
            }
            let nap = match next_change {
                Some(at) => {
                    remaining.min(Duration::from_millis(at.saturating_sub(now).max(1) as u64))
                }
                None => remaining,
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    async fn commit(&self, commit: QueueCommit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        let prepared = PreparedCommit::new(commit)?;
        self.write_urgent(prepared.items, move |conn, tx| prepared.apply(conn, tx))
            .await
    }

    async fn cancel(&self, app: &AppId, deliveries: &[DeliveryId]) -> Result<u64, StoreError> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        let app = app.clone();
        let deliveries = deliveries.to_vec();
        // A delivery still in the journal has no task to delete yet. Checked in the job
        // itself, on the writer the indexer also writes through: deliveries already recorded
        // are canceled at once, whatever backlog is still being indexed behind them.
        let journal = self
            .journal
            .get()
            .filter(|journal| journal.pending_deliveries() > 0);
        if let Some(journal) = journal {
            let (app, deliveries) = (app.clone(), deliveries.clone());
            let canceled = self
                .write(0, move |conn, tx| {
                    if !crate::records::all_recorded(conn, &app, &deliveries)? {
                        return Ok(None);
                    }
                    tx.cancel(conn, &app, &deliveries).map(Some)
                })
                .await?;
            if let Some(canceled) = canceled {
                return Ok(canceled);
            }
            journal.caught_up().await?;
        }
        self.write(0, move |conn, tx| tx.cancel(conn, &app, &deliveries))
            .await
    }

    async fn list_dead(
        &self,
        app: &AppId,
        after: Option<&DeadLetterId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let app = app.clone();
        let after = after.map(|a| a.as_str().to_owned()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.shared
            .db
            .read(move |conn| list_dead_rows(conn, &app, &after, limit))
            .await
    }

    async fn replay_dead(
        &self,
        app: &AppId,
        ids: &[DeadLetterId],
    ) -> Result<Vec<TaskEnvelope>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let app = app.clone();
        let ids = ids.to_vec();
        self.write(ids.len() as u64, move |conn, tx| {
            tx.replay(conn, &app, &ids, now_ms())
        })
        .await
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        // Depths are counted by the scheduler's first pass.
        tokio::time::timeout(Duration::from_secs(10), self.loaded())
            .await
            .map_err(|_| StoreError::Unavailable("queue not loaded yet".into()))?;
        let (stored, leased, dead) = self.shared.memory.lock().depths(now_ms());
        Ok(QueueStats {
            send: stored[topic_index(Topic::Send)],
            retry: stored[topic_index(Topic::Retry)],
            result: stored[topic_index(Topic::Result)],
            leased,
            dead,
        })
    }
}

fn list_dead_rows(
    conn: &Connection,
    app: &AppId,
    after: &str,
    limit: i64,
) -> Result<Vec<DeadLetter>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, delivery_id, reason, died_at, payload FROM queue_dead \
             WHERE app_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )
        .map_err(sql_error("preparing the dead-letter listing"))?;
    let rows = stmt
        .query_map(rusqlite::params![app.as_str(), after, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Millis>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })
        .map_err(sql_error("listing dead letters"))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, delivery_id, reason, died_at, payload) =
            row.map_err(sql_error("listing dead letters"))?;
        out.push(DeadLetter {
            id: DeadLetterId::from_trusted(id),
            app_id: app.clone(),
            delivery_id: DeliveryId::from_trusted(delivery_id),
            reason,
            died_at,
            task: decode(&payload)?,
        });
    }
    Ok(out)
}
