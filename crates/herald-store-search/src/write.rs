//! Writes: accepted messages (intake side) and result events (`Records::apply`).
//!
//! `apply` reads the batch's delivery documents once (`_mget`), drops events for unknown
//! deliveries or naming another app or message, folds the rest into the documents in batch
//! order (a strictly greater version wins; a winner without content keeps the stored one)
//! and writes in one `_bulk`: one externally versioned whole document per changed delivery
//! and one `create` per attempt log. A 409 on a delivery means a newer version landed since
//! the read — ours is not newer, nothing changed; on an attempt it means already logged.

use crate::SearchRecords;
use crate::bulk::{BulkOp, ItemOutcome};
use crate::docs::{AttemptDoc, DeliveryDoc, MessageDoc, attempt_doc_id};
use herald_domain::{DeliveryId, Message, ResultEvent};
use herald_ports::StoreError;
use std::collections::HashMap;

fn to_source<T: serde::Serialize>(doc: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(doc).map_err(|e| StoreError::backend("encoding a document", e))
}

pub(crate) async fn record_accepted(
    store: &SearchRecords,
    messages: &[Message],
) -> Result<(), StoreError> {
    let names = &store.names;
    let mut ops = Vec::new();
    for message in messages {
        ops.push(BulkOp::Create {
            index: names.messages.clone(),
            id: message.id.to_string(),
            source: to_source(&MessageDoc::new(message))?,
        });
        for (position, delivery) in message.deliveries.iter().enumerate() {
            let doc = DeliveryDoc::accepted(message, position, delivery);
            ops.push(BulkOp::IndexVersioned {
                index: names.deliveries.clone(),
                id: delivery.id.to_string(),
                version: doc.version,
                source: to_source(&doc)?,
            });
        }
    }
    for outcome in store.bulk(&ops).await? {
        if let ItemOutcome::Rejected { status, reason } = outcome {
            return Err(StoreError::Backend {
                context: "recording accepted messages".into(),
                source: format!("item refused with {status}: {reason}").into(),
            });
        }
    }
    Ok(())
}

/// A delivery document being folded, and how many events of the batch changed it.
struct Folding {
    doc: DeliveryDoc,
    stored_version: u64,
    wins: usize,
}

pub(crate) async fn apply(
    store: &SearchRecords,
    events: Vec<ResultEvent>,
) -> Result<usize, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut ids: Vec<DeliveryId> = events.iter().map(|e| e.delivery_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut folding: HashMap<DeliveryId, Folding> = crate::read::deliveries(store, &ids)
        .await?
        .into_iter()
        .flatten()
        .map(|doc| {
            let folding = Folding {
                stored_version: doc.version,
                doc,
                wins: 0,
            };
            (folding.doc.delivery_id.clone(), folding)
        })
        .collect();

    let names = &store.names;
    let mut ops = Vec::new();
    for event in &events {
        let Some(entry) = folding.get_mut(&event.delivery_id) else {
            continue; // unknown delivery
        };
        if entry.doc.app_id != event.app_id || entry.doc.message_id != event.message_id {
            continue; // names another app or message: never reaches the record
        }
        if let Some(log) = &event.attempt {
            let attempt = AttemptDoc {
                app_id: event.app_id.clone(),
                message_id: event.message_id.clone(),
                delivery_id: event.delivery_id.clone(),
                receiver: entry.doc.receiver.clone(),
                attempt: log.attempt,
                provider_request_id: log.provider_request_id.clone(),
                log: log.clone(),
            };
            ops.push(BulkOp::Create {
                index: names.attempts.clone(),
                id: attempt_doc_id(&event.delivery_id, log.attempt),
                source: to_source(&attempt)?,
            });
        }
        if event.version.as_u64() > entry.doc.version {
            entry.doc.apply(event);
            entry.wins += 1;
        }
    }

    let mut written: Vec<(usize, usize)> = Vec::new(); // (op index, wins)
    for entry in folding
        .values()
        .filter(|f| f.doc.version > f.stored_version)
    {
        written.push((ops.len(), entry.wins));
        ops.push(BulkOp::IndexVersioned {
            index: names.deliveries.clone(),
            id: entry.doc.delivery_id.to_string(),
            version: entry.doc.version,
            source: to_source(&entry.doc)?,
        });
    }
    if ops.is_empty() {
        return Ok(0);
    }
    let outcomes = store.bulk(&ops).await?;
    for (op, outcome) in ops.iter().zip(&outcomes) {
        if let ItemOutcome::Rejected { status, reason } = outcome {
            let id = match op {
                BulkOp::IndexVersioned { id, .. } | BulkOp::Create { id, .. } => id,
            };
            return Err(StoreError::Backend {
                context: format!("applying result events to {id}"),
                source: format!("item refused with {status}: {reason}").into(),
            });
        }
    }
    Ok(written
        .into_iter()
        .filter(|(op, _)| matches!(outcomes[*op], ItemOutcome::Written { .. }))
        .map(|(_, wins)| wins)
        .sum())
}
