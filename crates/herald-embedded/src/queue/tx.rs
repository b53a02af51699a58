//! [`QueueTx`]: the queue's side of one `db.write` job.
//!
//! Every write that touches the queue tables goes through a `QueueTx`, on the writer thread,
//! inside the group-commit transaction. It changes the tables and records, as a [`Change`],
//! what memory must do once the commit is durable. The queue's write wrapper then applies
//! the changes in commit order, so memory never sees an ack before the publish it acks, nor
//! a cancel's delete before the insert it deletes.
//!
//! The intake uses the same type to put its tasks in the same transaction as its records.

use super::Shared;
use super::memory::{Change, Key, Load, Reservation};
use super::schema::{
    decode, delete_row, encode, insert_rows, max_task_id, sql_error, topic_code, topic_from_code,
};
use herald_domain::{AppId, DeadLetterId, DeliveryId, Millis, TaskEnvelope};
use herald_ports::{Receipt, StoreError, Topic};
use rusqlite::Connection;
use std::sync::atomic::Ordering;

/// Queue-table writes within one `db.write` job; see the module doc.
pub struct QueueTx<'a> {
    shared: &'a Shared,
    pub(super) change: Change,
}

impl<'a> QueueTx<'a> {
    pub(super) fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            change: Change::default(),
        }
    }

    /// Inserts tasks into `topic`; they become receivable once the job's commit is durable.
    /// Returns the new row ids.
    pub fn insert_tasks(
        &mut self,
        conn: &Connection,
        topic: Topic,
        tasks: Vec<TaskEnvelope>,
    ) -> Result<Vec<i64>, StoreError> {
        let payloads = tasks.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        self.insert_encoded(conn, topic, tasks, payloads)
    }

    /// Like [`Self::insert_tasks`] with payloads encoded by the caller (off the writer thread).
    pub(crate) fn insert_encoded(
        &mut self,
        conn: &Connection,
        topic: Topic,
        tasks: Vec<TaskEnvelope>,
        payloads: Vec<Vec<u8>>,
    ) -> Result<Vec<i64>, StoreError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.allocate_ids(conn, tasks.len())?;
        insert_rows(conn, topic, first, &tasks, &payloads)?;
        let ids: Vec<i64> = (0..tasks.len() as i64).map(|i| first + i).collect();
        self.change.inserted.reserve(tasks.len());
        for (id, task) in ids.iter().zip(tasks) {
            self.change.inserted.push((*id, topic, task));
        }
        Ok(ids)
    }

    /// Row ids come from a counter, not SQLite's rowid, so an id is never reused within the
    /// process: a late ack of a stale receipt can never delete a newer task.
    fn allocate_ids(&mut self, conn: &Connection, n: usize) -> Result<i64, StoreError> {
        let mut next = self.shared.next_id.load(Ordering::Relaxed);
        if next == 0 {
            next = max_task_id(conn)? + 1;
        }
        self.shared
            .next_id
            .store(next + n as i64, Ordering::Relaxed);
        Ok(next)
    }

    /// Acks a leased task inside the caller's transaction (for instance result events applied
    /// to records and acked in one commit); `false` if it was already gone.
    pub fn ack(&mut self, conn: &Connection, receipt: &Receipt) -> Result<bool, StoreError> {
        match i64::try_from(receipt.token) {
            Ok(id) => self.delete(conn, receipt.topic, id),
            Err(_) => Ok(false),
        }
    }

    /// Deletes a task (ack); `false` if it was already gone.
    pub(super) fn delete(
        &mut self,
        conn: &Connection,
        topic: Topic,
        id: i64,
    ) -> Result<bool, StoreError> {
        let existed = delete_row(conn, topic, id)?;
        if existed {
            self.change.removed.push((id, topic));
        }
        Ok(existed)
    }

    /// Moves a leased task to the dead-letter store. A task already gone (acked after a
    /// redelivery) is not resurrected as a dead letter.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn bury(
        &mut self,
        conn: &Connection,
        receipt: &Receipt,
        task: &TaskEnvelope,
        payload: &[u8],
        reason: &str,
        dead_id: &DeadLetterId,
        died_at: Millis,
    ) -> Result<bool, StoreError> {
        if !self.ack(conn, receipt)? {
            return Ok(false);
        }
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO queue_dead (id, app_id, delivery_id, reason, died_at, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(sql_error("preparing the dead-letter insert"))?;
        insert
            .execute(rusqlite::params![
                dead_id.as_str(),
                task.app_id().as_str(),
                task.delivery_id().as_str(),
                reason,
                died_at,
                payload,
            ])
            .map_err(sql_error("inserting a dead letter"))?;
        self.change.dead_added += 1;
        Ok(true)
    }

    /// Deletes the queued (not leased) delivery tasks of these deliveries; returns how many.
    pub(super) fn cancel(
        &mut self,
        conn: &Connection,
        app: &AppId,
        deliveries: &[DeliveryId],
    ) -> Result<u64, StoreError> {
        let mut candidates = Vec::new();
        {
            let mut find = conn
                .prepare_cached(
                    "SELECT id, topic FROM queue_tasks \
                     WHERE delivery_id = ?1 AND app_id = ?2 AND topic IN (?3, ?4)",
                )
                .map_err(sql_error("preparing the cancel lookup"))?;
            for delivery in deliveries {
                let rows = find
                    .query_map(
                        rusqlite::params![
                            delivery.as_str(),
                            app.as_str(),
                            topic_code(Topic::Send),
                            topic_code(Topic::Retry)
                        ],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                    )
                    .map_err(sql_error("looking up tasks to cancel"))?;
                for row in rows {
                    let (id, code) = row.map_err(sql_error("looking up tasks to cancel"))?;
                    if let Some(topic) = topic_from_code(code) {
                        candidates.push((id, topic));
                    }
                }
            }
        }
        let mut victims = Vec::with_capacity(candidates.len());
        {
            let mut memory = self.shared.memory.lock();
            for (id, topic) in candidates {
                match memory.reserve(id) {
                    Reservation::Leased => {}
                    Reservation::Absent => victims.push((id, topic)),
                    Reservation::Reserved => {
                        self.change.reserved.push(id);
                        victims.push((id, topic));
                    }
                }
            }
        }
        let mut removed = 0;
        for (id, topic) in victims {
            if self.delete(conn, topic, id)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Moves dead letters of `app` back to the send topic, attempt + 1 and due `now`.
    pub(super) fn replay(
        &mut self,
        conn: &Connection,
        app: &AppId,
        ids: &[DeadLetterId],
        now: Millis,
    ) -> Result<Vec<TaskEnvelope>, StoreError> {
        let mut revived = Vec::with_capacity(ids.len());
        {
            let mut find = conn
                .prepare_cached("SELECT payload FROM queue_dead WHERE id = ?1 AND app_id = ?2")
                .map_err(sql_error("preparing the dead-letter lookup"))?;
            let mut delete = conn
                .prepare_cached("DELETE FROM queue_dead WHERE id = ?1")
                .map_err(sql_error("preparing the dead-letter delete"))?;
            for id in ids {
                let payload: Option<Vec<u8>> = match find
                    .query_row(rusqlite::params![id.as_str(), app.as_str()], |r| r.get(0))
                {
                    Ok(p) => Some(p),
                    Err(rusqlite::Error::QueryReturnedNoRows) => None,
                    Err(e) => return Err(StoreError::backend("reading a dead letter", e)),
                };
                let Some(payload) = payload else { continue };
                let mut task = decode(&payload)?;
                if let TaskEnvelope::DeliveryV1(t) = &mut task {
                    t.attempt += 1;
                    t.not_before = now;
                }
                delete
                    .execute([id.as_str()])
                    .map_err(sql_error("deleting a dead letter"))?;
                self.change.dead_removed += 1;
                revived.push(task);
            }
        }
        // Delivery tasks go back to the send topic; a dead result event (which only a broken
        // records store produces) goes back to the result topic, where it can be applied.
        let (deliveries, results): (Vec<_>, Vec<_>) = revived
            .iter()
            .cloned()
            .partition(|t| matches!(t, TaskEnvelope::DeliveryV1(_)));
        self.insert_tasks(conn, Topic::Send, deliveries)?;
        self.insert_tasks(conn, Topic::Result, results)?;
        Ok(revived)
    }

    /// Reads the next rows due by `until` above memory's edge (at most `page`, and no more
    /// than memory has room for). Returns whether more may be waiting.
    pub(super) fn load(
        &mut self,
        conn: &Connection,
        until: Millis,
        page: usize,
    ) -> Result<bool, StoreError> {
        let (from, room, mut pending_room, first) = {
            let memory = self.shared.memory.lock();
            (
                memory.edge,
                memory.capacity.saturating_sub(memory.len()),
                memory.pending_room(),
                !memory.loaded,
            )
        };
        let now = herald_domain::time::now_ms();
        // Rows come in key order, due ones first; the first row not due yet that finds no
        // pending room ends the page just below it (see `Memory::pending_room`).
        let mut blocked: Option<Key> = None;
        let counts = if first {
            Some(super::schema::count_rows(conn)?)
        } else {
            None
        };
        let limit = room.min(page);
        let mut rows = Vec::new();
        let mut last: Option<Key> = None;
        let mut seen = 0usize;
        if limit > 0 {
            let mut scan = conn
                .prepare_cached(
                    "SELECT id, topic, not_before, payload FROM queue_tasks \
                     WHERE (not_before, id) > (?1, ?2) AND not_before <= ?3 \
                     ORDER BY not_before, id LIMIT ?4",
                )
                .map_err(sql_error("preparing the scheduler scan"))?;
            let mut cursor = scan
                .query(rusqlite::params![from.0, from.1, until, limit as i64])
                .map_err(sql_error("scanning due tasks"))?;
            while let Some(row) = cursor.next().map_err(sql_error("scanning due tasks"))? {
                let id: i64 = row.get(0).map_err(sql_error("reading a due task"))?;
                let code: i64 = row.get(1).map_err(sql_error("reading a due task"))?;
                let not_before: i64 = row.get(2).map_err(sql_error("reading a due task"))?;
                if not_before > now {
                    if pending_room == 0 {
                        blocked = Some((not_before, id));
                        break;
                    }
                    pending_room -= 1;
                }
                let payload = row
                    .get_ref(3)
                    .map_err(sql_error("reading a due task"))?
                    .as_blob_or_null()
                    .map_err(|e| StoreError::Corrupt(format!("queue task {id}: {e}")))?
                    .unwrap_or_default();
                last = Some((not_before, id));
                seen += 1;
                match (topic_from_code(code), decode(payload)) {
                    (Some(topic), Ok(task)) => rows.push((id, topic, task)),
                    (topic, decoded) => tracing::error!(
                        id,
                        code,
                        known_topic = topic.is_some(),
                        error = decoded.err().map(|e| e.to_string()),
                        "skipping an unreadable queue task"
                    ),
                }
            }
        }
        // A full page stops at its last row; a short one covers everything due by `until`.
        // One stopped for want of pending room covers up to just below the row it stopped at:
        // the scan is contiguous, so nothing lies between, and until that row falls due the
        // edge is ahead of the clock and the loader rests; a task published due meanwhile
        // sorts below the edge and goes straight into memory.
        let more = limit > 0 && seen == limit;
        let to = match (last, blocked) {
            (_, Some((not_before, id))) => (not_before, id - 1),
            (Some(key), None) if more => key,
            _ if limit == 0 => from,
            _ => (until, i64::MAX).max(from),
        };
        self.change.load = Some(Load {
            from,
            to,
            rows,
            counts,
        });
        Ok(more)
    }
}
