//! Reading records back: a message with its deliveries and attempts, and the batch state
//! lookup the dispatcher runs before sending.

use super::{from_json, sql_err};
use herald_domain::task::AttemptLog;
use herald_domain::{
    AccountId, AppId, ChannelKind, Delivery, DeliveryId, DeliveryState, EventVersion, Message,
    MessageId, MessageStatus, Priority, Receiver, TemplateId,
};
use herald_ports::{DeliveryRef, DeliveryView, MessageView, StoreError, StoredState};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

/// The message `id` of `app` with its deliveries (in accept order), their attempts and the
/// derived status; `None` if absent or owned by another app.
pub(super) fn message_view(
    conn: &Connection,
    app: &AppId,
    id: &MessageId,
) -> Result<Option<MessageView>, StoreError> {
    let message = conn
        .prepare_cached(
            "SELECT template_id, template_version, channel, account_id, priority, send_at,
                    expire_at, created_at, variables
               FROM messages WHERE id = ?1 AND app_id = ?2",
        )
        .map_err(sql_err("preparing the message read"))?
        .query_row(params![id.as_str(), app.as_str()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, u32>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, u8>(4)?,
                row.get::<_, Option<i64>>(5)?,
                row.get::<_, Option<i64>>(6)?,
                row.get::<_, i64>(7)?,
                row.get::<_, String>(8)?,
            ))
        })
        .optional()
        .map_err(sql_err("reading a message"))?;
    let Some((
        template_id,
        template_version,
        channel,
        account_id,
        priority,
        send_at,
        expire_at,
        created_at,
        variables,
    )) = message
    else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, receiver_json, variables, state, version, code, detail, next_at,
                    content, updated_at
               FROM deliveries WHERE message_id = ?1 AND app_id = ?2 ORDER BY seq",
        )
        .map_err(sql_err("preparing the deliveries read"))?;
    let mut rows = stmt
        .query(params![id.as_str(), app.as_str()])
        .map_err(sql_err("reading deliveries"))?;
    let mut deliveries = Vec::new();
    let mut views = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err("reading deliveries"))? {
        let delivery_id = DeliveryId::from_trusted(get::<String>(row, 0)?);
        let receiver: Receiver = from_json("deliveries.receiver_json", &get::<String>(row, 1)?)?;
        deliveries.push(Delivery {
            id: delivery_id.clone(),
            receiver: receiver.clone(),
            variables: from_json("deliveries.variables", &get::<String>(row, 2)?)?,
        });
        views.push(DeliveryView {
            attempts: Vec::new(),
            id: delivery_id,
            receiver,
            state: parse_state(&get::<String>(row, 3)?)?,
            version: EventVersion::from_u64(get::<i64>(row, 4)? as u64),
            code: get(row, 5)?,
            detail: get(row, 6)?,
            next_at: get(row, 7)?,
            content: get(row, 8)?,
            updated_at: get(row, 9)?,
        });
    }
    let mut attempts = attempts_of(conn, app, id)?;
    // Read after the deliveries: an attempt is committed with (or before) the state it
    // produced, so a state seen above always finds its attempt here.
    for view in &mut views {
        view.attempts = attempts.remove(&view.id).unwrap_or_default();
    }
    let message = Message {
        id: id.clone(),
        app_id: app.clone(),
        template_id: TemplateId::from_trusted(template_id),
        template_version,
        channel: parse_channel(&channel)?,
        account_id: AccountId::from_trusted(account_id),
        priority: Priority::from_u8(priority),
        send_at,
        expire_at,
        created_at,
        variables: from_json("messages.variables", &variables)?,
        deliveries,
    };
    Ok(Some(MessageView {
        status: MessageStatus::derive(views.iter().map(|d| d.state)),
        message,
        deliveries: views,
    }))
}

/// Attempt logs of every delivery of a message, in attempt order.
fn attempts_of(
    conn: &Connection,
    app: &AppId,
    message: &MessageId,
) -> Result<HashMap<DeliveryId, Vec<AttemptLog>>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.delivery_id, a.attempt, a.at, a.account_id, a.latency_ms, a.outcome,
                    a.provider_request_id, a.code, a.message
               FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
              WHERE d.message_id = ?1 AND d.app_id = ?2 AND a.app_id = ?2
              ORDER BY a.delivery_id, a.attempt",
        )
        .map_err(sql_err("preparing the attempts read"))?;
    let mut rows = stmt
        .query(params![message.as_str(), app.as_str()])
        .map_err(sql_err("reading attempts"))?;
    let mut by_delivery: HashMap<DeliveryId, Vec<AttemptLog>> = HashMap::new();
    while let Some(row) = rows.next().map_err(sql_err("reading attempts"))? {
        let log = AttemptLog {
            attempt: get(row, 1)?,
            at: get(row, 2)?,
            account_id: AccountId::from_trusted(get::<String>(row, 3)?),
            latency_ms: get::<i64>(row, 4)?.max(0) as u64,
            outcome: get(row, 5)?,
            provider_request_id: get(row, 6)?,
            code: get(row, 7)?,
            message: get(row, 8)?,
        };
        by_delivery
            .entry(DeliveryId::from_trusted(get::<String>(row, 0)?))
            .or_default()
            .push(log);
    }
    Ok(by_delivery)
}

/// The state lookup of [`delivery_states`]: ids as a JSON array in `?1`.
const STATES_BY_ID: &str = "SELECT d.id, d.state, d.version FROM json_each(?1) AS j \
     CROSS JOIN deliveries AS d ON d.id = j.value";

/// States of up to a few hundred deliveries in one query.
pub(super) fn delivery_states(
    conn: &Connection,
    ids: &[DeliveryId],
) -> Result<HashMap<DeliveryId, StoredState>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // One statement for every batch size (ids as a JSON array), so it stays prepared: an
    // `IN (?, ?, …)` list per size missed the statement cache and was parsed on every call.
    // CROSS JOIN keeps the ids as the outer loop, each a probe of the `id` index.
    let ids_json = serde_json::to_string(&ids.iter().map(DeliveryId::as_str).collect::<Vec<_>>())
        .map_err(|e| StoreError::backend("encoding delivery ids", e))?;
    let mut stmt = conn
        .prepare_cached(STATES_BY_ID)
        .map_err(sql_err("preparing the state lookup"))?;
    let mut rows = stmt
        .query([ids_json])
        .map_err(sql_err("looking up states"))?;
    let mut states = HashMap::with_capacity(ids.len());
    while let Some(row) = rows.next().map_err(sql_err("looking up states"))? {
        states.insert(
            DeliveryId::from_trusted(get::<String>(row, 0)?),
            StoredState {
                state: parse_state(&get::<String>(row, 1)?)?,
                version: EventVersion::from_u64(get::<i64>(row, 2)? as u64),
            },
        );
    }
    Ok(states)
}

pub(super) fn get<T: rusqlite::types::FromSql>(
    row: &Row<'_>,
    index: usize,
) -> Result<T, StoreError> {
    row.get(index).map_err(sql_err("decoding a records row"))
}

pub(super) fn parse_state(s: &str) -> Result<DeliveryState, StoreError> {
    DeliveryState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("delivery state {s:?}")))
}

pub(super) fn parse_channel(s: &str) -> Result<ChannelKind, StoreError> {
    ChannelKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("channel {s:?}")))
}

const DELIVERY_REF_COLUMNS: &str = "d.app_id, d.message_id, d.id, d.receiver, d.state, d.version";

fn delivery_ref(row: &Row<'_>) -> Result<DeliveryRef, StoreError> {
    Ok(DeliveryRef {
        app_id: herald_domain::AppId::from_trusted(get::<String>(row, 0)?),
        message_id: herald_domain::MessageId::from_trusted(get::<String>(row, 1)?),
        delivery_id: DeliveryId::from_trusted(get::<String>(row, 2)?),
        receiver: get::<String>(row, 3)?,
        state: StoredState {
            state: parse_state(&get::<String>(row, 4)?)?,
            version: EventVersion::from_u64(get::<i64>(row, 5)? as u64),
        },
    })
}

/// A delivery by id, in any app.
pub(super) fn find_delivery(
    conn: &Connection,
    id: &DeliveryId,
) -> Result<Option<DeliveryRef>, StoreError> {
    let sql = format!("SELECT {DELIVERY_REF_COLUMNS} FROM deliveries d WHERE d.id = ?1");
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(sql_err("preparing the delivery lookup"))?;
    let mut rows = stmt
        .query([id.as_str()])
        .map_err(sql_err("looking up a delivery"))?;
    match rows.next().map_err(sql_err("looking up a delivery"))? {
        Some(row) => delivery_ref(row).map(Some),
        None => Ok(None),
    }
}

/// The delivery whose attempt recorded `provider_id` (and, for batch sends, `receiver`).
pub(super) fn find_by_provider_id(
    conn: &Connection,
    provider_id: &str,
    receiver: Option<&str>,
) -> Result<Option<DeliveryRef>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_REF_COLUMNS} FROM attempts a JOIN deliveries d ON d.id = a.delivery_id \
         WHERE a.provider_request_id = ?1 AND (?2 IS NULL OR d.receiver = ?2) \
         ORDER BY a.attempt DESC LIMIT 1"
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(sql_err("preparing the provider id lookup"))?;
    let mut rows = stmt
        .query(rusqlite::params![provider_id, receiver])
        .map_err(sql_err("looking up a provider id"))?;
    match rows.next().map_err(sql_err("looking up a provider id"))? {
        Some(row) => delivery_ref(row).map(Some),
        None => Ok(None),
    }
}

/// `sent` deliveries whose last change lies in `[since, until)`, oldest first.
pub(super) fn awaiting_receipts(
    conn: &Connection,
    since: i64,
    until: i64,
    limit: usize,
) -> Result<Vec<herald_ports::AwaitingReceipt>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT d.app_id, d.account_id, d.channel, d.id, d.receiver, d.updated_at,
                    (SELECT a.provider_request_id FROM attempts a
                      WHERE a.delivery_id = d.id ORDER BY a.attempt DESC LIMIT 1)
               FROM deliveries d INDEXED BY deliveries_awaiting_receipt
              WHERE d.state = 'sent' AND d.updated_at >= ?1 AND d.updated_at < ?2
              ORDER BY d.updated_at LIMIT ?3",
        )
        .map_err(sql_err("preparing the awaiting-receipt scan"))?;
    let mut rows = stmt
        .query(rusqlite::params![since, until, limit as i64])
        .map_err(sql_err("scanning for awaiting receipts"))?;
    let mut out = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(sql_err("scanning for awaiting receipts"))?
    {
        let channel: String = get(row, 2)?;
        out.push(herald_ports::AwaitingReceipt {
            app_id: herald_domain::AppId::from_trusted(get::<String>(row, 0)?),
            account_id: herald_domain::AccountId::from_trusted(get::<String>(row, 1)?),
            channel: herald_domain::ChannelKind::parse(&channel)
                .ok_or_else(|| StoreError::Corrupt(format!("channel {channel:?}")))?,
            delivery_id: DeliveryId::from_trusted(get::<String>(row, 3)?),
            receiver: get(row, 4)?,
            sent_at: get(row, 5)?,
            provider_id: get(row, 6)?,
        });
    }
    Ok(out)
}

/// Whether every one of `deliveries` (distinct ids) of `app` is recorded, i.e. indexed: the
/// indexer writes a delivery's record and its queue task in one transaction.
pub(crate) fn all_recorded(
    conn: &Connection,
    app: &AppId,
    deliveries: &[DeliveryId],
) -> Result<bool, StoreError> {
    let ids = serde_json::Value::from(deliveries.iter().map(|d| d.as_str()).collect::<Vec<_>>());
    let found: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM deliveries \
             WHERE id IN (SELECT value FROM json_each(?1)) AND app_id = ?2",
        )
        .and_then(|mut s| s.query_row(params![ids.to_string(), app.as_str()], |r| r.get(0)))
        .map_err(sql_err("checking deliveries are recorded"))?;
    Ok(found as usize == deliveries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup probes the `id` index once per id, whatever the batch size, and answers
    /// only the ids that exist.
    #[test]
    fn states_are_looked_up_by_index_with_one_statement_for_any_batch() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::SCHEMA).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {STATES_BY_ID}"))
            .unwrap()
            .query_map(["[]"], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH d USING INDEX")),
            "{plan:?}"
        );
        for (seq, id, state) in [(1, "dlv_a", "sent"), (2, "dlv_b", "failed")] {
            conn.execute(
                "INSERT INTO deliveries (seq, id, message_id, app_id, template_id, channel,
                     account_id, receiver, receiver_json, variables, state, version,
                     created_at, updated_at)
                 VALUES (?1, ?2, 'msg_1', 'app_1', 'tpl_1', 'webhook', 'acc_1', 'r', '{}',
                     '{}', ?3, 7, 1, 1)",
                rusqlite::params![seq, id, state],
            )
            .unwrap();
        }
        let ids: Vec<DeliveryId> = ["dlv_a", "dlv_missing", "dlv_b", "dlv_a"]
            .into_iter()
            .map(|id| DeliveryId::from_trusted(id.to_owned()))
            .collect();
        let states = delivery_states(&conn, &ids).unwrap();
        assert_eq!(states.len(), 2);
        assert_eq!(states[&ids[0]].state, DeliveryState::Sent);
        assert_eq!(states[&ids[2]].state, DeliveryState::Failed);
        assert_eq!(states[&ids[2]].version.as_u64(), 7);
    }
}
