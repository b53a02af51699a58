//! The queue's tables and the row codec: how a [`TaskEnvelope`] becomes a `queue_tasks` row
//! and back.
//!
//! `queue_tasks` is both the ready queue and Herald's due-time table (the scheduler): a row
//! is a task, `not_before` says when it may be handed out. Leases are not stored (see the
//! parent module). `queue_dead` keeps dead letters with their reason until replayed.

use herald_domain::TaskEnvelope;
use herald_ports::{StoreError, Topic};
use rusqlite::Connection;

/// Idempotent DDL of the queue tables, applied by `Db::open`.
///
/// `id` is assigned by the queue itself (never reused within a process, see `QueueTx`);
/// `(not_before, id)` is the scheduler's scan order; `delivery_id` serves `cancel`.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_tasks (
    id          INTEGER PRIMARY KEY,
    topic       INTEGER NOT NULL,
    app_id      TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    account_id  TEXT,
    priority    INTEGER NOT NULL,
    not_before  INTEGER NOT NULL,
    payload     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_tasks_due ON queue_tasks (not_before);
CREATE INDEX IF NOT EXISTS queue_tasks_delivery ON queue_tasks (delivery_id);
CREATE TABLE IF NOT EXISTS queue_dead (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    reason      TEXT NOT NULL,
    died_at     INTEGER NOT NULL,
    payload     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_dead_app ON queue_dead (app_id, id);
";

/// The number a topic is stored as.
pub(crate) fn topic_code(topic: Topic) -> i64 {
    match topic {
        Topic::Send => 0,
        Topic::Retry => 1,
        Topic::Result => 2,
    }
}

/// The topic of a stored code; `None` for a code this version does not know.
pub(crate) fn topic_from_code(code: i64) -> Option<Topic> {
    match code {
        0 => Some(Topic::Send),
        1 => Some(Topic::Retry),
        2 => Some(Topic::Result),
        _ => None,
    }
}

/// Index of a topic in per-topic arrays.
pub(crate) fn topic_index(topic: Topic) -> usize {
    topic_code(topic) as usize
}

/// Serializes an envelope for the `payload` column.
pub(crate) fn encode(task: &TaskEnvelope) -> Result<Vec<u8>, StoreError> {
    // A delivery task is ~450 bytes: one allocation instead of growing from 128.
    let mut payload = Vec::with_capacity(512);
    serde_json::to_writer(&mut payload, task)
        .map_err(|e| StoreError::backend("encoding a queue task", e))?;
    Ok(payload)
}

/// Reads an envelope back from the `payload` column.
pub(crate) fn decode(payload: &[u8]) -> Result<TaskEnvelope, StoreError> {
    serde_json::from_slice(payload).map_err(|e| StoreError::Corrupt(format!("queue task: {e}")))
}

pub(crate) fn sql_error(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::backend(context, e)
}

/// Inserts rows with ids chosen by the caller.
pub(crate) fn insert_rows(
    conn: &Connection,
    topic: Topic,
    first_id: i64,
    tasks: &[TaskEnvelope],
    payloads: &[Vec<u8>],
) -> Result<(), StoreError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO queue_tasks \
             (id, topic, app_id, delivery_id, account_id, priority, not_before, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(sql_error("preparing the task insert"))?;
    let code = topic_code(topic);
    for (offset, (task, payload)) in tasks.iter().zip(payloads).enumerate() {
        insert
            .execute(rusqlite::params![
                first_id + offset as i64,
                code,
                task.app_id().as_str(),
                task.delivery_id().as_str(),
                task.account_id().map(|a| a.as_str()),
                task.priority().as_u8(),
                task.not_before(),
                payload,
            ])
            .map_err(sql_error("inserting a queue task"))?;
    }
    Ok(())
}

/// Deletes one task row of `topic`; `true` if it existed.
pub(crate) fn delete_row(conn: &Connection, topic: Topic, id: i64) -> Result<bool, StoreError> {
    let mut delete = conn
        .prepare_cached("DELETE FROM queue_tasks WHERE id = ?1 AND topic = ?2")
        .map_err(sql_error("preparing the task delete"))?;
    let n = delete
        .execute(rusqlite::params![id, topic_code(topic)])
        .map_err(sql_error("deleting a queue task"))?;
    Ok(n == 1)
}

/// The highest task id stored, 0 for an empty table.
pub(crate) fn max_task_id(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT coalesce(max(id), 0) FROM queue_tasks", [], |r| {
        r.get(0)
    })
    .map_err(sql_error("reading the highest task id"))
}

/// Rows stored per topic, and dead letters: the depths `stats` starts from.
pub(crate) fn count_rows(conn: &Connection) -> Result<([u64; 3], u64), StoreError> {
    let mut per_topic = [0u64; 3];
    let mut stmt = conn
        .prepare_cached("SELECT topic, count(*) FROM queue_tasks GROUP BY topic")
        .map_err(sql_error("preparing the depth count"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(sql_error("counting queue tasks"))?;
    for row in rows {
        let (code, n) = row.map_err(sql_error("counting queue tasks"))?;
        if let Some(topic) = topic_from_code(code) {
            per_topic[topic_index(topic)] = n.max(0) as u64;
        }
    }
    let dead: i64 = conn
        .query_row("SELECT count(*) FROM queue_dead", [], |r| r.get(0))
        .map_err(sql_error("counting dead letters"))?;
    Ok((per_topic, dead.max(0) as u64))
}
