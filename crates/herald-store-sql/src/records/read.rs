//! Reading records back: a message with its deliveries and attempts, the batch state lookup
//! the dispatcher runs before sending, and the lookups receipts need.

use super::from_json;
use super::write::{IDS_PER_QUERY, PROVIDER_ID_CHARS};
use crate::db::{Param, Row, SqlDb, db_err, marks, params};
use herald_domain::task::AttemptLog;
use herald_domain::{
    AccountId, AppId, ChannelKind, Delivery, DeliveryId, DeliveryState, EventVersion, Message,
    MessageId, MessageStatus, Priority, Receiver, TemplateId,
};
use herald_ports::{
    AwaitingReceipt, DeliveryRef, DeliveryView, MessageView, StoreError, StoredState,
};
use std::collections::HashMap;

/// The message `id` of `app` with its deliveries (in accept order), their attempts and the
/// derived status; `None` if absent or owned by another app.
pub(super) async fn message_view(
    db: &SqlDb,
    app: &AppId,
    id: &MessageId,
) -> Result<Option<MessageView>, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT template_id, template_version, channel, account_id, priority, send_at,
                    expire_at, created_at, variables
               FROM messages WHERE id = ? AND app_id = ?",
            params![id.as_str(), app.as_str()],
        )
        .await
        .map_err(db_err("reading a message"))?;
    let Some(m) = rows.first() else {
        return Ok(None);
    };
    let rows = db
        .fetch_all(
            "SELECT id, receiver_json, variables, state, version, code, detail, next_at,
                    content, updated_at
               FROM deliveries WHERE app_id = ? AND message_id = ? ORDER BY position",
            params![app.as_str(), id.as_str()],
        )
        .await
        .map_err(db_err("reading deliveries"))?;
    let mut deliveries = Vec::with_capacity(rows.len());
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        let delivery_id = DeliveryId::from_trusted(row.text(0)?);
        let receiver: Receiver = from_json("deliveries.receiver_json", &row.text(1)?)?;
        deliveries.push(Delivery {
            id: delivery_id.clone(),
            receiver: receiver.clone(),
            variables: from_json("deliveries.variables", &row.text(2)?)?,
        });
        views.push(DeliveryView {
            attempts: Vec::new(),
            id: delivery_id,
            receiver,
            state: parse_state(&row.text(3)?)?,
            version: version(row, 4)?,
            code: row.opt_text(5)?,
            detail: row.opt_text(6)?,
            next_at: row.opt_int(7)?,
            content: row.opt_text(8)?,
            updated_at: row.int(9)?,
        });
    }
    let mut attempts = attempts_of(db, app, id).await?;
    // Read after the deliveries: an attempt is committed with (or before) the state it
    // produced, so a state seen above always finds its attempt here.
    for view in &mut views {
        view.attempts = attempts.remove(&view.id).unwrap_or_default();
    }
    let template_version = m.int(1)?;
    let priority = m.int(4)?;
    let message = Message {
        id: id.clone(),
        app_id: app.clone(),
        template_id: TemplateId::from_trusted(m.text(0)?),
        template_version: u32::try_from(template_version)
            .map_err(|_| StoreError::Corrupt(format!("template version {template_version}")))?,
        channel: parse_channel(&m.text(2)?)?,
        account_id: AccountId::from_trusted(m.text(3)?),
        priority: Priority::from_u8(
            u8::try_from(priority)
                .map_err(|_| StoreError::Corrupt(format!("priority {priority}")))?,
        ),
        send_at: m.opt_int(5)?,
        expire_at: m.opt_int(6)?,
        created_at: m.int(7)?,
        variables: from_json("messages.variables", &m.text(8)?)?,
        deliveries,
    };
    Ok(Some(MessageView {
        status: MessageStatus::derive(views.iter().map(|d| d.state)),
        message,
        deliveries: views,
    }))
}

/// Attempt logs of every delivery of a message, in attempt order.
async fn attempts_of(
    db: &SqlDb,
    app: &AppId,
    message: &MessageId,
) -> Result<HashMap<DeliveryId, Vec<AttemptLog>>, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT a.delivery_id, a.attempt, a.at, a.account_id, a.latency_ms, a.outcome,
                    a.provider_request_id, a.code, a.message
               FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
              WHERE d.app_id = ? AND d.message_id = ? AND a.app_id = ?
              ORDER BY a.delivery_id, a.attempt",
            params![app.as_str(), message.as_str(), app.as_str()],
        )
        .await
        .map_err(db_err("reading attempts"))?;
    let mut by_delivery: HashMap<DeliveryId, Vec<AttemptLog>> = HashMap::new();
    for row in &rows {
        let attempt = row.int(1)?;
        let log = AttemptLog {
            attempt: u32::try_from(attempt)
                .map_err(|_| StoreError::Corrupt(format!("attempt {attempt}")))?,
            at: row.int(2)?,
            account_id: AccountId::from_trusted(row.text(3)?),
            latency_ms: row.int(4)?.max(0) as u64,
            outcome: row.text(5)?,
            provider_request_id: row.opt_text(6)?,
            code: row.opt_text(7)?,
            message: row.opt_text(8)?,
        };
        by_delivery
            .entry(DeliveryId::from_trusted(row.text(0)?))
            .or_default()
            .push(log);
    }
    Ok(by_delivery)
}

/// States of many deliveries, a few hundred ids per query.
pub(super) async fn delivery_states(
    db: &SqlDb,
    ids: &[DeliveryId],
) -> Result<HashMap<DeliveryId, StoredState>, StoreError> {
    let mut states = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let sql = format!(
            "SELECT id, state, version FROM deliveries WHERE id IN ({})",
            marks(chunk.len())
        );
        let params = chunk.iter().map(|id| Param::from(id.as_str())).collect();
        let rows = db
            .fetch_all(&sql, params)
            .await
            .map_err(db_err("looking up states"))?;
        for row in &rows {
            states.insert(
                DeliveryId::from_trusted(row.text(0)?),
                StoredState {
                    state: parse_state(&row.text(1)?)?,
                    version: version(row, 2)?,
                },
            );
        }
    }
    Ok(states)
}

const DELIVERY_REF_COLUMNS: &str = "d.app_id, d.message_id, d.id, d.receiver, d.state, d.version";

fn delivery_ref(row: &Row) -> Result<DeliveryRef, StoreError> {
    Ok(DeliveryRef {
        app_id: AppId::from_trusted(row.text(0)?),
        message_id: MessageId::from_trusted(row.text(1)?),
        delivery_id: DeliveryId::from_trusted(row.text(2)?),
        receiver: row.text(3)?,
        state: StoredState {
            state: parse_state(&row.text(4)?)?,
            version: version(row, 5)?,
        },
    })
}

/// A delivery by id, in any app.
pub(super) async fn find_delivery(
    db: &SqlDb,
    id: &DeliveryId,
) -> Result<Option<DeliveryRef>, StoreError> {
    let sql = format!("SELECT {DELIVERY_REF_COLUMNS} FROM deliveries d WHERE d.id = ?");
    let rows = db
        .fetch_all(&sql, params![id.as_str()])
        .await
        .map_err(db_err("looking up a delivery"))?;
    rows.first().map(delivery_ref).transpose()
}

/// The delivery whose attempt recorded `provider_id` (and, for batch sends, `receiver`).
pub(super) async fn find_by_provider_id(
    db: &SqlDb,
    provider_id: &str,
    receiver: Option<&str>,
) -> Result<Option<DeliveryRef>, StoreError> {
    let provider_id: String = provider_id.chars().take(PROVIDER_ID_CHARS).collect();
    let mut sql = format!(
        "SELECT {DELIVERY_REF_COLUMNS} FROM attempts a JOIN deliveries d ON d.id = a.delivery_id \
         WHERE a.provider_request_id = ?"
    );
    let mut params = params![provider_id];
    if let Some(receiver) = receiver {
        sql.push_str(" AND d.receiver = ?");
        params.push(receiver.into());
    }
    sql.push_str(" ORDER BY a.attempt DESC LIMIT 1");
    let rows = db
        .fetch_all(&sql, params)
        .await
        .map_err(db_err("looking up a provider id"))?;
    rows.first().map(delivery_ref).transpose()
}

/// `sent` deliveries whose last change lies in `[since, until)`, oldest first, with the
/// provider id of their latest attempt.
pub(super) async fn awaiting_receipts(
    db: &SqlDb,
    since: i64,
    until: i64,
    limit: usize,
) -> Result<Vec<AwaitingReceipt>, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT d.app_id, d.account_id, d.channel, d.id, d.receiver, d.updated_at,
                    (SELECT a.provider_request_id FROM attempts a
                      WHERE a.delivery_id = d.id ORDER BY a.attempt DESC LIMIT 1)
               FROM deliveries d
              WHERE d.state = 'sent' AND d.updated_at >= ? AND d.updated_at < ?
              ORDER BY d.updated_at LIMIT ?",
            params![since, until, limit],
        )
        .await
        .map_err(db_err("scanning for awaiting receipts"))?;
    rows.iter()
        .map(|row| {
            Ok(AwaitingReceipt {
                app_id: AppId::from_trusted(row.text(0)?),
                account_id: AccountId::from_trusted(row.text(1)?),
                channel: parse_channel(&row.text(2)?)?,
                delivery_id: DeliveryId::from_trusted(row.text(3)?),
                receiver: row.text(4)?,
                sent_at: row.int(5)?,
                provider_id: row.opt_text(6)?,
            })
        })
        .collect()
}

fn version(row: &Row, index: usize) -> Result<EventVersion, StoreError> {
    Ok(EventVersion::from_u64(row.int(index)? as u64))
}

pub(super) fn parse_state(s: &str) -> Result<DeliveryState, StoreError> {
    DeliveryState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("delivery state {s:?}")))
}

pub(super) fn parse_channel(s: &str) -> Result<ChannelKind, StoreError> {
    ChannelKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("channel {s:?}")))
}
