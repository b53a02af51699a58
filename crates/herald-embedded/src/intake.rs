//! The embedded intake: what a `202 Accepted` promises, committed durably.
//!
//! An accept without an idempotency key is one row in the accept journal (`journal`):
//! durable once that commit is, indexed into the records and the queue right after.
//!
//! An accept with a key is one group-commit job in `herald.db`: it checks the idempotency
//! table for the key (an entry already there means a concurrent request with the same key
//! won: nothing of this batch is written), then writes the message and delivery records, the
//! send tasks and the idempotency entry together — the check and the entry must share a
//! transaction, so these skip the journal. Either way the tasks become receivable only once
//! their records are durable in `herald.db` (the queue's ordered memory update), so a
//! consumer never sees a task whose record could still roll back.
//!
//! Idempotency entries are kept until `purge_idempotency`; an entry older than the caller's
//! retention but not yet purged still counts as existing at accept time, so the server
//! should purge on a schedule at least as often as its retention.

use crate::db::Db;
use crate::journal::Journal;
use crate::queue::EmbeddedQueue;
use crate::queue::schema::{encode, sql_error};
use crate::records;
use async_trait::async_trait;
use herald_domain::time::now_ms;
use herald_domain::{AppId, Message, Millis};
use herald_ports::{AcceptBatch, AcceptCommit, IdempotencyEntry, Intake, StoreError, Topic};
use rusqlite::{Connection, OptionalExtension};
use std::sync::Arc;

/// Idempotent DDL of the idempotency table, applied by `Db::open`.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS idempotency (
    app_id       TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (app_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at);
";

/// [`Intake`] over the shared database and the embedded queue.
pub struct EmbeddedIntake {
    /// Reads (lookups) and the purge.
    db: Db,
    /// Accepts run as queue writes, so their tasks reach the queue's memory in commit order.
    queue: Arc<EmbeddedQueue>,
    /// Where accepts without an idempotency key go.
    journal: Arc<Journal>,
}

impl EmbeddedIntake {
    /// `db` must be the database the queue writes to, opened with records', the queue's and
    /// this module's schemas; `journal` must be indexed into it.
    pub fn new(db: Db, queue: Arc<EmbeddedQueue>, journal: Arc<Journal>) -> Self {
        Self { db, queue, journal }
    }
}

#[async_trait]
impl Intake for EmbeddedIntake {
    async fn accept(&self, batch: AcceptBatch) -> Result<AcceptCommit, StoreError> {
        let AcceptBatch {
            app_id: _,
            messages,
            tasks,
            idempotency,
        } = batch;
        if idempotency.is_none() {
            self.journal.append(messages, tasks).await?;
            return Ok(AcceptCommit::Committed);
        }
        let tasks =
            tasks.unwrap_or_else(|| messages.iter().flat_map(Message::first_tasks).collect());
        // Encode on the caller's thread: the writer thread is the shared bottleneck.
        let payloads = tasks.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let response = idempotency
            .as_ref()
            .map(|entry| serde_json::to_string(&entry.response))
            .transpose()
            .map_err(|e| StoreError::backend("encoding an idempotent response", e))?;
        let items = tasks.len() as u64;
        self.queue
            .write(items, move |conn, tx| {
                if let Some(entry) = &idempotency
                    && let Some(existing) = find_entry(conn, &entry.app_id, &entry.key, None)?
                {
                    return Ok(AcceptCommit::Existing(existing));
                }
                records::insert_accepted(conn, &messages)?;
                tx.insert_encoded(conn, Topic::Send, tasks, payloads)?;
                if let (Some(entry), Some(response)) = (&idempotency, &response) {
                    insert_entry(conn, entry, response)?;
                }
                Ok(AcceptCommit::Committed)
            })
            .await
    }

    async fn idempotency_lookup(
        &self,
        app: &AppId,
        key: &str,
        max_age_ms: i64,
    ) -> Result<Option<IdempotencyEntry>, StoreError> {
        let app = app.clone();
        let key = key.to_owned();
        let oldest = now_ms().saturating_sub(max_age_ms.max(0));
        self.db
            .read(move |conn| find_entry(conn, &app, &key, Some(oldest)))
            .await
    }

    async fn purge_idempotency(&self, before: Millis) -> Result<u64, StoreError> {
        self.db
            .write(0, move |conn| {
                conn.prepare_cached("DELETE FROM idempotency WHERE created_at < ?1")
                    .and_then(|mut purge| purge.execute([before]))
                    .map(|n| n as u64)
                    .map_err(sql_error("purging idempotency entries"))
            })
            .await
    }
}

/// The entry for `(app, key)`, if one exists created at or after `oldest`.
fn find_entry(
    conn: &Connection,
    app: &AppId,
    key: &str,
    oldest: Option<Millis>,
) -> Result<Option<IdempotencyEntry>, StoreError> {
    let mut find = conn
        .prepare_cached(
            "SELECT request_hash, status, response, created_at FROM idempotency \
             WHERE app_id = ?1 AND key = ?2 AND created_at >= ?3",
        )
        .map_err(sql_error("preparing the idempotency lookup"))?;
    let row = find
        .query_row(
            rusqlite::params![app.as_str(), key, oldest.unwrap_or(Millis::MIN)],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Millis>(3)?,
                ))
            },
        )
        .optional()
        .map_err(sql_error("looking up an idempotency key"))?;
    let Some((request_hash, status, response, created_at)) = row else {
        return Ok(None);
    };
    let response = serde_json::from_str(&response)
        .map_err(|e| StoreError::Corrupt(format!("idempotent response of {key}: {e}")))?;
    let status = u16::try_from(status)
        .map_err(|_| StoreError::Corrupt(format!("idempotent status {status} of {key}")))?;
    Ok(Some(IdempotencyEntry {
        app_id: app.clone(),
        key: key.to_owned(),
        request_hash,
        status,
        response,
        created_at,
    }))
}

fn insert_entry(
    conn: &Connection,
    entry: &IdempotencyEntry,
    response: &str,
) -> Result<(), StoreError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO idempotency (app_id, key, request_hash, status, response, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(sql_error("preparing the idempotency insert"))?;
    insert
        .execute(rusqlite::params![
            entry.app_id.as_str(),
            entry.key,
            entry.request_hash,
            entry.status,
            response,
            entry.created_at,
        ])
        .map_err(sql_error("storing an idempotency entry"))?;
    Ok(())
}
