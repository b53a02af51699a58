//! Writing records: the accept-time insert and the versioned apply of result events.
//!
//! Both run inside a caller's transaction ([`Tx`]), so the intake can commit records, outbox
//! rows and the idempotency entry together, and settling can commit events with its outbox
//! rows.

use super::text::{index_content, receiver_key};
use crate::db::{Dialect, Param, Tx, conflict_or, db_err, marks, params};
use herald_domain::{DeliveryState, EventVersion, Message, ResultEvent};
use herald_ports::StoreError;
use std::collections::HashMap;

/// Rows per multi-row INSERT (keeps every statement well under both databases' 65,535
/// parameter limit).
const ROWS_PER_INSERT: usize = 250;
/// Ids per `IN (…)` lookup.
pub(super) const IDS_PER_QUERY: usize = 500;
/// Longest provider request id kept (the column's width); longer ones are cut, on write and
/// on lookup alike.
pub(super) const PROVIDER_ID_CHARS: usize = 255;

/// Writes accepted messages and their deliveries. Each delivery starts `scheduled` when the
/// message's `send_at` is later than its `created_at`, else `accepted`, at version
/// `(0, rank)`. Nothing is indexed for full text yet: content exists only once rendered.
pub(crate) async fn insert_accepted(tx: &mut Tx, messages: &[Message]) -> Result<(), StoreError> {
    for chunk in messages.chunks(ROWS_PER_INSERT) {
        let mut params = Vec::with_capacity(chunk.len() * 11);
        for m in chunk {
            params.extend(params![
                m.id.as_str(),
                m.app_id.as_str(),
                m.template_id.as_str(),
                m.template_version,
                m.channel.as_str(),
                m.account_id.as_str(),
                m.priority.as_u8(),
                m.send_at,
                m.expire_at,
                m.created_at,
                to_json(&m.variables)?,
            ]);
        }
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        tx.execute(
            &format!(
                "INSERT INTO messages (id, app_id, template_id, template_version, channel,
                     account_id, priority, send_at, expire_at, created_at, variables)
                 VALUES {rows}"
            ),
            params,
        )
        .await
        .map_err(conflict_or(format!(
            "a message of {} is already recorded",
            chunk[0].id
        )))?;
    }
    let deliveries: Vec<(&Message, usize)> = messages
        .iter()
        .flat_map(|m| (0..m.deliveries.len()).map(move |i| (m, i)))
        .collect();
    for chunk in deliveries.chunks(ROWS_PER_INSERT) {
        let mut params = Vec::with_capacity(chunk.len() * 15);
        for (m, position) in chunk {
            let delivery = &m.deliveries[*position];
            let state = if m.send_at.is_some_and(|at| at > m.created_at) {
                DeliveryState::Scheduled
            } else {
                DeliveryState::Accepted
            };
            params.extend(params![
                delivery.id.as_str(),
                m.id.as_str(),
                m.app_id.as_str(),
                *position,
                m.template_id.as_str(),
                m.channel.as_str(),
                m.account_id.as_str(),
                delivery.receiver.to.as_str(),
                receiver_key(&delivery.receiver.to),
                to_json(&delivery.receiver)?,
                to_json(&delivery.variables)?,
                state.as_str(),
                version_column(EventVersion::new(0, state)),
                m.created_at,
                m.created_at,
            ]);
        }
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        tx.execute(
            &format!(
                "INSERT INTO deliveries (id, message_id, app_id, position, template_id, channel,
                     account_id, receiver, receiver_key, receiver_json, variables, state,
                     version, created_at, updated_at)
                 VALUES {rows}"
            ),
            params,
        )
        .await
        .map_err(conflict_or("a delivery is already recorded".to_owned()))?;
    }
    Ok(())
}

/// A delivery as locked at the start of an apply, and as the batch leaves it.
struct Current {
    app_id: String,
    seq: i64,
    created_at: i64,
    version: u64,
    content: Option<String>,
    /// The last winning event, if any event of the batch won.
    winner: Option<Winner>,
}

struct Winner {
    state: DeliveryState,
    version: u64,
    code: Option<String>,
    detail: Option<String>,
    next_at: Option<i64>,
    at: i64,
    /// Content after the batch: a winning event's content, else the stored content.
    content: Option<String>,
}

/// Applies events in order; returns how many changed a delivery.
///
/// The batch's deliveries are locked first (`SELECT … FOR UPDATE`, in id order, so two
/// concurrent batches cannot deadlock), then the events are folded in memory exactly as
/// one `UPDATE … WHERE version < ?` per event would leave them (an event wins only over a
/// strictly older version; a winning event without content keeps the stored content), and
/// each changed delivery is written once, still guarded by `version < ?`. Attempt logs are
/// facts about provider calls: inserted whether or not their event's state won, once per
/// `(delivery, attempt)` (a duplicate is ignored). Events and logs naming an unknown
/// delivery, or another app's, are dropped.
pub(crate) async fn apply_events(tx: &mut Tx, events: &[ResultEvent]) -> Result<usize, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut current = lock_deliveries(tx, events).await?;
    let mut changed = 0;
    let mut attempts: Vec<Param> = Vec::new();
    for event in events {
        let Some(cur) = current
            .get_mut(event.delivery_id.as_str())
            .filter(|cur| cur.app_id == event.app_id.as_str())
        else {
            continue;
        };
        let version = event.version.as_u64();
        if version > cur.version {
            changed += 1;
            let content = event.content.clone().or_else(|| {
                cur.winner
                    .as_ref()
                    .map_or_else(|| cur.content.clone(), |w| w.content.clone())
            });
            cur.version = version;
            cur.winner = Some(Winner {
                state: event.state,
                version,
                code: event.code.clone(),
                detail: event.detail.clone(),
                next_at: event.next_at,
                at: event.at,
                content,
            });
        }
        if let Some(log) = &event.attempt {
            attempts.extend(params![
                event.delivery_id.as_str(),
                log.attempt,
                event.app_id.as_str(),
                log.at,
                log.account_id.as_str(),
                i64::try_from(log.latency_ms).unwrap_or(i64::MAX),
                log.outcome.as_str(),
                log.provider_request_id
                    .as_deref()
                    .map(|id| id.chars().take(PROVIDER_ID_CHARS).collect::<String>()),
                log.code.as_deref(),
                log.message.as_deref(),
            ]);
        }
    }
    write_winners(tx, &current).await?;
    insert_attempts(tx, attempts).await?;
    Ok(changed)
}

async fn lock_deliveries(
    tx: &mut Tx,
    events: &[ResultEvent],
) -> Result<HashMap<String, Current>, StoreError> {
    let mut ids: Vec<&str> = events.iter().map(|e| e.delivery_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut current = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let sql = format!(
            "SELECT id, app_id, seq, created_at, version, content FROM deliveries
              WHERE id IN ({}) ORDER BY id FOR UPDATE",
            marks(chunk.len())
        );
        let rows = tx
            .fetch_all(&sql, chunk.iter().map(|id| Param::from(*id)).collect())
            .await
            .map_err(db_err("locking deliveries"))?;
        for row in rows {
            current.insert(
                row.text(0)?,
                Current {
                    app_id: row.text(1)?,
                    seq: row.int(2)?,
                    created_at: row.int(3)?,
                    version: row.int(4)? as u64,
                    content: row.opt_text(5)?,
                    winner: None,
                },
            );
        }
    }
    Ok(current)
}

/// One guarded UPDATE per changed delivery; new content replaces its terms.
async fn write_winners(tx: &mut Tx, current: &HashMap<String, Current>) -> Result<(), StoreError> {
    let mut terms: Vec<Param> = Vec::new();
    let mut reindexed: Vec<i64> = Vec::new();
    for cur in current.values() {
        let Some(w) = &cur.winner else { continue };
        let new_content = w.content.is_some() && w.content != cur.content;
        let indexed = w
            .content
            .as_deref()
            .filter(|_| new_content)
            .map(index_content);
        let mut sql = String::from(
            "UPDATE deliveries SET state = ?, version = ?, code = ?, detail = ?, next_at = ?,
                    updated_at = ?",
        );
        let mut params = params![
            w.state.as_str(),
            w.version as i64,
            w.code.as_deref(),
            w.detail.as_deref(),
            w.next_at,
            w.at,
        ];
        if let Some(indexed) = &indexed {
            sql.push_str(", content = ?, content_terms = ?");
            params.extend(params![
                w.content.as_deref(),
                indexed.content_terms.as_str()
            ]);
            reindexed.push(cur.seq);
            for term in &indexed.terms {
                terms.extend(params![
                    cur.app_id.as_str(),
                    term.as_str(),
                    cur.created_at,
                    cur.seq
                ]);
            }
        }
        sql.push_str(" WHERE seq = ? AND version < ?");
        params.extend(params![cur.seq, w.version as i64]);
        tx.execute(&sql, params)
            .await
            .map_err(db_err("applying an event"))?;
    }
    for chunk in reindexed.chunks(IDS_PER_QUERY) {
        tx.execute(
            &format!(
                "DELETE FROM delivery_terms WHERE seq IN ({})",
                marks(chunk.len())
            ),
            chunk.iter().map(|seq| Param::from(*seq)).collect(),
        )
        .await
        .map_err(db_err("clearing replaced terms"))?;
    }
    for chunk in terms.chunks(4 * ROWS_PER_INSERT * 4) {
        let rows = vec!["(?, ?, ?, ?)"; chunk.len() / 4].join(", ");
        let sql = match tx.dialect() {
            Dialect::Postgres => format!(
                "INSERT INTO delivery_terms (app_id, term, created_at, seq) VALUES {rows}
                 ON CONFLICT DO NOTHING"
            ),
            Dialect::MySql => format!(
                "INSERT IGNORE INTO delivery_terms (app_id, term, created_at, seq) VALUES {rows}"
            ),
        };
        tx.execute(&sql, chunk.to_vec())
            .await
            .map_err(db_err("indexing content"))?;
    }
    Ok(())
}

/// Inserts attempt logs of known deliveries, ignoring `(delivery, attempt)` already logged.
async fn insert_attempts(tx: &mut Tx, attempts: Vec<Param>) -> Result<(), StoreError> {
    const COLUMNS: usize = 10;
    for chunk in attempts.chunks(COLUMNS * ROWS_PER_INSERT) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len() / COLUMNS].join(", ");
        let insert = format!(
            "INSERT INTO attempts (delivery_id, attempt, app_id, at, account_id, latency_ms,
                 outcome, provider_request_id, code, message) VALUES {rows}"
        );
        let sql = match tx.dialect() {
            Dialect::Postgres => format!("{insert} ON CONFLICT (delivery_id, attempt) DO NOTHING"),
            Dialect::MySql => format!("{insert} ON DUPLICATE KEY UPDATE attempt = attempt"),
        };
        tx.execute(&sql, chunk.to_vec())
            .await
            .map_err(db_err("recording attempts"))?;
    }
    Ok(())
}

/// A version as stored: `EventVersion::as_u64` (fits an `i64`: seq is 32 bits, shifted 8).
pub(super) fn version_column(version: EventVersion) -> i64 {
    version.as_u64() as i64
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("encoding JSON", e))
}
