//! [`SqlIntake`]: what a `202 Accepted` promises, committed in one database transaction —
//! message and delivery records, one outbox row per send task, and the idempotency entry.
//! A relay publishes the outbox rows to the broker afterwards ([`crate::outbox`]), so the
//! idempotency entry and the queued tasks can never diverge (issue 5's accept atomicity),
//! and the record is readable from any node as soon as `accept` returns.
//!
//! The idempotency entry is inserted first, insert-or-ignore: when a concurrent request with
//! the same app and key got there first, this insert waits for that transaction and then
//! finds the key taken; this batch is rolled back whole and the stored entry returned.
//! Entries live in the database, so they hold across nodes and restarts; they are kept until
//! `purge_idempotency`, and an entry older than the caller's retention but not yet purged
//! still counts as existing at accept time.

use crate::db::{Dialect, Row, SqlDb, Tx, db_err, params};
use crate::outbox::insert_outbox;
use crate::records::insert_accepted;
use async_trait::async_trait;
use herald_domain::time::now_ms;
use herald_domain::{AppId, Millis};
use herald_ports::{AcceptBatch, AcceptCommit, IdempotencyEntry, Intake, StoreError, Topic};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// [`Intake`] over PostgreSQL or MySQL/MariaDB with an outbox.
#[derive(Clone, Debug)]
pub struct SqlIntake {
    /// The shared pool (records, outbox and idempotency live in the same database).
    db: SqlDb,
    /// Accept transactions run again because they lost a lock race (deadlock, serialization).
    lock_retries: Arc<AtomicU64>,
}

impl SqlIntake {
    pub fn new(db: SqlDb) -> Self {
        Self {
            db,
            lock_retries: Arc::default(),
        }
    }

    /// How many accept transactions were run again after losing a lock race.
    pub fn lock_retries(&self) -> u64 {
        self.lock_retries.load(Ordering::Relaxed)
    }
}

const ENTRY_COLUMNS: &str = "request_hash, status, response, created_at";

impl SqlIntake {
    async fn accept_once(&self, batch: &AcceptBatch) -> Result<AcceptCommit, StoreError> {
        let mut tx = self.db.begin().await?;
        if let Some(entry) = &batch.idempotency
            && !claim_key(&mut tx, entry).await?
        {
            let existing = find_entry(&mut tx, &entry.app_id, &entry.key).await?;
            return match existing {
                Some(existing) => Ok(AcceptCommit::Existing(existing)),
                None => Err(StoreError::Unavailable(format!(
                    "idempotency key {} was taken and released concurrently; retry",
                    entry.key
                ))),
            };
        }
        insert_accepted(&mut tx, &batch.messages).await?;
        let tasks: Vec<(Topic, _)> = batch
            .send_tasks()
            .into_iter()
            .map(|t| (Topic::Send, t))
            .collect();
        insert_outbox(&mut tx, &tasks).await?;
        tx.commit().await?;
        Ok(AcceptCommit::Committed)
    }
}

#[async_trait]
impl Intake for SqlIntake {
    async fn accept(&self, batch: AcceptBatch) -> Result<AcceptCommit, StoreError> {
        // A concurrent accept or the outbox relay can win a lock race (rare since MySQL
        // sessions run READ COMMITTED, see `db`): the transaction is retried whole, a few
        // times, before the caller sees an error (never a 202 for an uncommitted accept).
        crate::db::retry::on_lock_conflict("accept", &self.lock_retries, || {
            self.accept_once(&batch)
        })
        .await
    }

    async fn idempotency_lookup(
        &self,
        app: &AppId,
        key: &str,
        max_age_ms: i64,
    ) -> Result<Option<IdempotencyEntry>, StoreError> {
        let oldest = now_ms().saturating_sub(max_age_ms.max(0));
        let rows = self
            .db
            .fetch_all(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM idempotency
                      WHERE app_id = ? AND idem_key = ? AND created_at >= ?"
                ),
                params![app.as_str(), key, oldest],
            )
            .await
            .map_err(db_err("looking up an idempotency key"))?;
        rows.first()
            .map(|row| decode_entry(row, app, key))
            .transpose()
    }

    async fn purge_idempotency(&self, before: Millis) -> Result<u64, StoreError> {
        self.db
            .execute(
                "DELETE FROM idempotency WHERE created_at < ?",
                params![before],
            )
            .await
            .map_err(db_err("purging idempotency entries"))
    }
}

/// Inserts the entry unless the key is taken; true when this request now owns the key.
async fn claim_key(tx: &mut Tx, entry: &IdempotencyEntry) -> Result<bool, StoreError> {
    let response = serde_json::to_string(&entry.response)
        .map_err(|e| StoreError::backend("encoding an idempotent response", e))?;
    let columns = "idempotency (app_id, idem_key, request_hash, status, response, created_at)
                   VALUES (?, ?, ?, ?, ?, ?)";
    // Not MySQL's ON DUPLICATE KEY UPDATE: with CLIENT_FOUND_ROWS (which sqlx sets) a no-op
    // update also reports one affected row, and the caller could not tell it from an insert.
    let sql = match tx.dialect() {
        Dialect::Postgres => {
            format!("INSERT INTO {columns} ON CONFLICT (app_id, idem_key) DO NOTHING")
        }
        Dialect::MySql => format!("INSERT IGNORE INTO {columns}"),
    };
    let inserted = tx
        .execute(
            &sql,
            params![
                entry.app_id.as_str(),
                entry.key.as_str(),
                entry.request_hash.as_str(),
                entry.status,
                response,
                entry.created_at,
            ],
        )
        .await
        .map_err(db_err("storing an idempotency entry"))?;
    Ok(inserted == 1)
}

/// The stored entry, read with a locking read so it sees the latest committed row (MySQL's
/// plain reads would use the transaction's snapshot).
async fn find_entry(
    tx: &mut Tx,
    app: &AppId,
    key: &str,
) -> Result<Option<IdempotencyEntry>, StoreError> {
    let rows = tx
        .fetch_all(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM idempotency WHERE app_id = ? AND idem_key = ?
                 FOR UPDATE"
            ),
            params![app.as_str(), key],
        )
        .await
        .map_err(db_err("reading an idempotency entry"))?;
    rows.first()
        .map(|row| decode_entry(row, app, key))
        .transpose()
}

fn decode_entry(row: &Row, app: &AppId, key: &str) -> Result<IdempotencyEntry, StoreError> {
    let status = row.int(1)?;
    Ok(IdempotencyEntry {
        app_id: app.clone(),
        key: key.to_owned(),
        request_hash: row.text(0)?,
        status: u16::try_from(status)
            .map_err(|_| StoreError::Corrupt(format!("idempotent status {status} of {key}")))?,
        response: serde_json::from_str(&row.text(2)?)
            .map_err(|e| StoreError::Corrupt(format!("idempotent response of {key}: {e}")))?,
        created_at: row.int(3)?,
    })
}
