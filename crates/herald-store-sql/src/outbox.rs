//! The outbox: queue tasks committed in the same database transaction as the records they
//! belong to, waiting for a relay to publish them to the broker.
//!
//! A broker publish cannot join a database transaction, so the accept path (and settling)
//! never publishes directly: it inserts outbox rows next to the records and the idempotency
//! entry, and a relay moves them on. The relay loop is
//!
//! ```text
//! loop {
//!     let rows = outbox.claim_outbox(256).await?;         // leased, not yet removed
//!     queue.publish(... rows ..., dedup key = row.dedup_key).await?;  // broker ack
//!     outbox.delete_outbox(&ids).await?;                  // only after the broker ack
//! }
//! ```
//!
//! Claims are leases (`claimed_until`), taken with `FOR UPDATE SKIP LOCKED` so several
//! relays (one per node) share the rows without blocking each other. A relay that dies
//! between publish and delete leaves rows that are claimed again once their lease runs
//! out and published a second time: the broker's dedup window (`Nats-Msg-Id`, Kafka
//! idempotent producer keys, …) on [`OutboxRow::dedup_key`] — `TaskEnvelope::dedup_key`,
//! the delivery id and attempt — turns that into one delivery, and the dispatcher skips a
//! task whose record already holds its outcome (decision 0003). Rows come out in id order
//! (commit order per node), which is the only order the queue promises anyway.

use crate::db::retry::on_lock_conflict;
use crate::db::{Param, SqlDb, Tx, db_err, marks, params};
use herald_domain::time::now_ms;
use herald_domain::{Millis, TaskEnvelope};
use herald_ports::{StoreError, Topic};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Rows per multi-row outbox insert.
const ROWS_PER_INSERT: usize = 500;

/// A task waiting to be published.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// The row's id: pass it to [`Outbox::delete_outbox`] once the broker acked.
    pub id: i64,
    pub topic: Topic,
    /// Publish with this key as the broker's dedup id (`Nats-Msg-Id`, …).
    pub dedup_key: String,
    pub task: TaskEnvelope,
    /// When the task was committed.
    pub created_at: Millis,
}

/// The relay's side of the outbox.
#[derive(Clone, Debug)]
pub struct Outbox {
    /// The shared pool.
    db: SqlDb,
    /// How long a claim holds before another relay may take the rows.
    lease: Duration,
    /// Claims and deletes run again after losing a lock race (InnoDB deadlock victims).
    lock_retries: Arc<AtomicU64>,
}

impl Outbox {
    /// `lease` should exceed one publish round trip by a wide margin (e.g. 30 s).
    pub fn new(db: SqlDb, lease: Duration) -> Self {
        Self {
            db,
            lease,
            lock_retries: Arc::default(),
        }
    }

    /// Claims and deletes that lost a lock race and ran again (for tests and metrics).
    pub fn lock_retries(&self) -> u64 {
        self.lock_retries.load(Ordering::Relaxed)
    }

    /// Claims up to `max` rows whose lease is free (never claimed, or claimed by a relay that
    /// did not delete them in time), oldest first.
    pub async fn claim_outbox(&self, max: usize) -> Result<Vec<OutboxRow>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        on_lock_conflict("an outbox claim", &self.lock_retries, || {
            self.claim_once(max)
        })
        .await
    }

    async fn claim_once(&self, max: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX));
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch_all(
                "SELECT id, topic, dedup_key, payload, created_at FROM outbox
                  WHERE claimed_until <= ? ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
                params![now, max],
            )
            .await
            .map_err(db_err("claiming outbox rows"))?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let topic = row.text(1)?;
            let payload = row.text(3)?;
            claimed.push(OutboxRow {
                id: row.int(0)?,
                topic: parse_topic(&topic)?,
                dedup_key: row.text(2)?,
                task: serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("outbox payload: {e}")))?,
                created_at: row.int(4)?,
            });
        }
        if !claimed.is_empty() {
            let mut params: Vec<Param> = params![until];
            params.extend(claimed.iter().map(|row| Param::from(row.id)));
            tx.execute(
                &format!(
                    "UPDATE outbox SET claimed_until = ? WHERE id IN ({})",
                    marks(claimed.len())
                ),
                params,
            )
            .await
            .map_err(db_err("claiming outbox rows"))?;
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Removes published rows; returns how many were removed.
    pub async fn delete_outbox(&self, ids: &[i64]) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for chunk in ids.chunks(ROWS_PER_INSERT) {
            let delete = || async {
                self.db
                    .execute(
                        &format!("DELETE FROM outbox WHERE id IN ({})", marks(chunk.len())),
                        chunk.iter().map(|id| Param::from(*id)).collect(),
                    )
                    .await
                    .map_err(db_err("deleting outbox rows"))
            };
            deleted += on_lock_conflict("an outbox delete", &self.lock_retries, delete).await?;
        }
        Ok(deleted)
    }

    /// Rows waiting (claimed or not), for metrics and readiness.
    pub async fn outbox_depth(&self) -> Result<u64, StoreError> {
        let rows = self
            .db
            .fetch_all("SELECT COUNT(*) FROM outbox", params![])
            .await
            .map_err(db_err("counting outbox rows"))?;
        let count = rows.first().map(|row| row.int(0)).transpose()?;
        Ok(count.unwrap_or(0).max(0) as u64)
    }
}

/// Inserts tasks as outbox rows inside the caller's transaction.
pub(crate) async fn insert_outbox(
    tx: &mut Tx,
    tasks: &[(Topic, TaskEnvelope)],
) -> Result<(), StoreError> {
    let now = now_ms();
    for chunk in tasks.chunks(ROWS_PER_INSERT) {
        let mut params = Vec::with_capacity(chunk.len() * 4);
        for (topic, task) in chunk {
            let payload = serde_json::to_string(task)
                .map_err(|e| StoreError::backend("encoding a task", e))?;
            params.extend(params![topic.as_str(), task.dedup_key(), payload, now]);
        }
        let rows = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        tx.execute(
            &format!("INSERT INTO outbox (topic, dedup_key, payload, created_at) VALUES {rows}"),
            params,
        )
        .await
        .map_err(db_err("writing outbox rows"))?;
    }
    Ok(())
}

fn parse_topic(s: &str) -> Result<Topic, StoreError> {
    Topic::ALL
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("outbox topic {s:?}")))
}
