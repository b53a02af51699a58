//! Writing records: the accept-time insert and the versioned apply of result events.
//!
//! Both run inside a `Db::write` job, so they share the group commit with whatever else the
//! same transaction carries (the intake's queue tasks, a dispatcher's acks).

use super::schema::{SEQ_SHIFT, receiver_key, seq_floor};
use super::sql_err;
use super::vocab::{VocabCache, write_terms};
use crate::search_text::{analyze_document, app_token};
use herald_domain::{DeliveryState, EventVersion, Message, ResultEvent};
use herald_ports::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Arc;

/// Writes accepted messages and their deliveries. Each delivery starts `scheduled` when the
/// message's `send_at` is later than its `created_at`, else `accepted`, at version
/// `(0, rank)`, with a `seq` that sorts by `created_at` (see the schema). Nothing is indexed for full text yet: content exists only once rendered.
/// Receiver keys go to `temp.receivers_pending`; the writer indexes them before the commit.
pub(crate) fn insert_accepted(conn: &Connection, messages: &[Message]) -> Result<(), StoreError> {
    let mut insert_message = conn
        .prepare_cached(
            "INSERT INTO messages (id, app_id, template_id, template_version, channel,
                 account_id, priority, send_at, expire_at, created_at, variables)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(sql_err("preparing the message insert"))?;
    let mut insert_delivery = conn
        .prepare_cached(
            "INSERT INTO deliveries (seq, id, message_id, app_id, template_id, channel,
                 account_id, receiver, receiver_json, variables, state, version, created_at,
                 updated_at)
             VALUES ((SELECT coalesce(max(seq) + 1, ?13) FROM deliveries
                       WHERE seq >= ?13 AND seq < ?14),
                     ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        )
        .map_err(sql_err("preparing the delivery insert"))?;
    let mut pending_receiver = conn
        .prepare_cached("INSERT INTO temp.receivers_pending (seq, key) VALUES (?1, ?2)")
        .map_err(sql_err("preparing the receiver key insert"))?;
    for message in messages {
        let state = if message.send_at.is_some_and(|at| at > message.created_at) {
            DeliveryState::Scheduled
        } else {
            DeliveryState::Accepted
        };
        let version = EventVersion::new(0, state).as_u64() as i64;
        let first_seq = seq_floor(message.created_at);
        let next_millisecond = first_seq + (1 << SEQ_SHIFT);
        insert_message
            .execute(params![
                message.id.as_str(),
                message.app_id.as_str(),
                message.template_id.as_str(),
                message.template_version,
                message.channel.as_str(),
                message.account_id.as_str(),
                message.priority.as_u8(),
                message.send_at,
                message.expire_at,
                message.created_at,
                to_json(&message.variables)?,
            ])
            .map_err(conflict_or(format!(
                "message {} already recorded",
                message.id
            )))?;
        for delivery in &message.deliveries {
            insert_delivery
                .execute(params![
                    delivery.id.as_str(),
                    message.id.as_str(),
                    message.app_id.as_str(),
                    message.template_id.as_str(),
                    message.channel.as_str(),
                    message.account_id.as_str(),
                    delivery.receiver.to,
                    to_json(&delivery.receiver)?,
                    to_json(&delivery.variables)?,
                    state.as_str(),
                    version,
                    message.created_at,
                    first_seq,
                    next_millisecond,
                ])
                .map_err(conflict_or(format!(
                    "delivery {} already recorded",
                    delivery.id
                )))?;
            // The rowid just inserted is the delivery's `seq`.
            pending_receiver
                .execute(params![
                    conn.last_insert_rowid(),
                    receiver_key(message.app_id.as_str(), &delivery.receiver.to),
                ])
                .map_err(sql_err("recording the receiver key"))?;
        }
    }
    Ok(())
}

macro_rules! insert_attempt {
    ($condition:literal) => {
        concat!(
            "INSERT OR IGNORE INTO attempts (delivery_id, attempt, app_id, at, account_id,
                 latency_ms, outcome, provider_request_id, code, message)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10",
            $condition
        )
    };
}
/// An attempt of a delivery the same job just updated.
const INSERT_ATTEMPT: &str = insert_attempt!("");
/// An attempt whose event lost the version check: only if the app's delivery exists.
const INSERT_ATTEMPT_IF_DELIVERY: &str =
    insert_attempt!(" WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ?1 AND app_id = ?3)");

macro_rules! index_text {
    ($verb:literal) => {
        concat!(
            $verb,
            " INTO delivery_text (rowid, app, body, tail)
             SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3
               FROM json_each(?1) AS j"
        )
    };
}

/// Result events with their full-text entries analyzed before they reach the writer thread,
/// the shared bottleneck (there it cost more than the FTS5 statement's own time).
pub(crate) struct PreparedEvents {
    events: Vec<ResultEvent>,
    /// Per event with content: `"app","body","tail"]`, the JSON of its index row after the
    /// leading `[seq,` that only the writer knows.
    texts: Vec<Option<String>>,
    /// Body words not known to be in the vocabulary yet (see `vocab`), written with the
    /// events and learned by the cache once committed.
    pub(crate) new_terms: Vec<Box<str>>,
    /// The cache, when this batch moves the staged words into the vocabulary.
    flush_terms: Option<Arc<VocabCache>>,
}

impl PreparedEvents {
    pub(crate) fn new(
        events: Vec<ResultEvent>,
        vocab: &Arc<VocabCache>,
    ) -> Result<Self, StoreError> {
        let mut bodies = Vec::new();
        let texts = events
            .iter()
            .map(|event| {
                let Some(content) = &event.content else {
                    return Ok(None);
                };
                let analyzed = analyze_document(content);
                let row = (
                    app_token(event.app_id.as_str()),
                    analyzed.body,
                    analyzed.tail,
                );
                let json = to_json(&row)?;
                bodies.push(row.1);
                Ok(Some(json[1..].to_owned()))
            })
            .collect::<Result<_, StoreError>>()?;
        let new_terms = vocab.unknown(bodies.iter().map(String::as_str));
        Ok(Self {
            events,
            texts,
            new_terms,
            flush_terms: vocab.flush_due().then(|| Arc::clone(vocab)),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}

/// Applies events in order; returns how many changed a delivery.
///
/// A delivery row changes only for a strictly newer version (`version < ?` in the UPDATE),
/// so replays, redeliveries and late receipts never roll a state back. An event's attempt
/// log is inserted whether or not its state won: the log is a fact about a provider call
/// that happened, independent of the state ordering. When attempt 2's `retrying` arrives
/// after attempt 3's `delivered`, the state must stay `delivered`, but the history must
/// still show attempt 2. Attempt rows are keyed by `(delivery_id, attempt)` and inserted
/// with `OR IGNORE`, so a redelivered event never duplicates one, and the first log of an
/// attempt (the dispatcher's, with latency and provider request id) is the one kept; a
/// receipt or reconciliation for the same attempt changes the delivery's state and code,
/// not the log. Logs for unknown deliveries (or another app's) are dropped like their
/// events.
pub(crate) fn apply_events(
    conn: &Connection,
    prepared: &PreparedEvents,
) -> Result<usize, StoreError> {
    let events = &prepared.events;
    let mut update = conn
        .prepare_cached(
            "UPDATE deliveries
                SET state = ?1, version = ?2, code = ?3, detail = ?4, next_at = ?5,
                    content = coalesce(?6, content), updated_at = ?7
              WHERE id = ?8 AND app_id = ?9 AND version < ?2
          RETURNING seq",
        )
        .map_err(sql_err("preparing the event update"))?;
    // The UPDATE's RETURNING row proves the delivery exists; only an event whose version
    // lost needs the existence check (its attempt is still recorded, see above).
    let mut insert_attempt = conn
        .prepare_cached(INSERT_ATTEMPT)
        .map_err(sql_err("preparing the attempt insert"))?;
    let mut insert_attempt_checked = conn
        .prepare_cached(INSERT_ATTEMPT_IF_DELIVERY)
        .map_err(sql_err("preparing the attempt insert"))?;
    let mut changed = 0;
    let mut to_index: Vec<(i64, &str)> = Vec::new();
    for (event, text) in events.iter().zip(&prepared.texts) {
        let seq: Option<i64> = update
            .query_row(
                params![
                    event.state.as_str(),
                    event.version.as_u64() as i64,
                    event.code,
                    event.detail,
                    event.next_at,
                    event.content,
                    event.at,
                    event.delivery_id.as_str(),
                    event.app_id.as_str(),
                ],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql_err("applying an event"))?;
        if let Some(seq) = seq {
            changed += 1;
            if let Some(text) = text {
                to_index.push((seq, text));
            }
        }
        if let Some(log) = &event.attempt {
            let insert = if seq.is_some() {
                &mut insert_attempt
            } else {
                &mut insert_attempt_checked
            };
            insert
                .execute(params![
                    event.delivery_id.as_str(),
                    log.attempt,
                    event.app_id.as_str(),
                    log.at,
                    log.account_id.as_str(),
                    i64::try_from(log.latency_ms).unwrap_or(i64::MAX),
                    log.outcome,
                    log.provider_request_id,
                    log.code,
                    log.message,
                ])
                .map_err(sql_err("recording an attempt"))?;
        }
    }
    index_contents(conn, &to_index)?;
    write_terms(conn, &prepared.new_terms, prepared.flush_terms.as_deref())?;
    Ok(changed)
}

/// Writes the deliveries' entries in the full-text index (rowid = the delivery's `seq`),
/// new ones in ONE statement: FTS5 flushes its pending terms to a new segment at every
/// statement that writes to it (its savepoint hook), so one statement per delivery wrote one
/// tiny segment per delivery and kept the merger busy — the largest single cost of applying
/// results in the profile.
///
/// Only a delivery already in the index (a retry's content, rendered again) is written with
/// `OR REPLACE`: on this contentless-delete table a replace first deletes the rowid, which
/// cost ~6 % of the server's CPU while delivering when every first delivery went that way.
/// `delivery_text_docsize` (FTS5's per-row table, rowid = the entry's) tells which are in.
fn index_contents(conn: &Connection, rows: &[(i64, &str)]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let seqs = serde_json::Value::from(rows.iter().map(|r| r.0).collect::<Vec<_>>()).to_string();
    let indexed: std::collections::HashSet<i64> = conn
        .prepare_cached(
            "SELECT id FROM delivery_text_docsize WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .and_then(|mut s| s.query_map([seqs], |row| row.get(0))?.collect())
        .map_err(sql_err("looking up indexed deliveries"))?;
    // One entry per delivery, its latest content (two events of one batch may both carry
    // some). FTS5 checks rowids only under REPLACE: a plain INSERT of a rowid already in the
    // index would not fail but leave the old terms searchable, so the split must be exact.
    let mut seen = std::collections::HashSet::new();
    let mut latest: Vec<_> = rows.iter().rev().filter(|r| seen.insert(r.0)).collect();
    latest.reverse();
    type Row<'a> = &'a (i64, &'a str);
    let (again, new): (Vec<Row>, Vec<Row>) =
        latest.into_iter().partition(|r| indexed.contains(&r.0));
    for (rows, sql) in [
        (new, index_text!("INSERT")),
        (again, index_text!("INSERT OR REPLACE")),
    ] {
        if rows.is_empty() {
            continue;
        }
        let capacity: usize = rows.iter().map(|r| r.1.len() + 24).sum();
        let mut batch = String::with_capacity(capacity);
        for (i, (seq, text)) in rows.iter().enumerate() {
            batch.push_str(if i == 0 { "[[" } else { ",[" });
            batch.push_str(&seq.to_string());
            batch.push(',');
            batch.push_str(text);
        }
        batch.push(']');
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([batch]))
            .map_err(sql_err("indexing content"))?;
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("encoding JSON", e))
}

/// Maps a uniqueness violation to `Conflict` with `what`, anything else to `Backend`.
fn conflict_or(what: String) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(what),
        _ => StoreError::backend(what, e),
    }
}
