//! Reads: documents by id (`_mget`, realtime — no refresh needed), message views with their
//! attempts, state lookups, and the receipt-side lookups by provider id and by age.

use crate::SearchRecords;
use crate::docs::{AttemptDoc, DeliveryDoc, MessageDoc};
use herald_domain::task::AttemptLog;
use herald_domain::{AppId, DeliveryId, DeliveryState, MessageId, MessageStatus, Millis};
use herald_ports::{AwaitingReceipt, DeliveryRef, MessageView, StoreError, StoredState};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Ids per `_mget` request.
const MGET_CHUNK: usize = 1000;
/// Most hits one `_search` returns (ES's default `index.max_result_window`).
pub(crate) const MAX_WINDOW: usize = 10_000;

/// Documents by id, in order (`None` for missing ones).
pub(crate) async fn mget<T: DeserializeOwned>(
    store: &SearchRecords,
    index: &str,
    ids: &[String],
) -> Result<Vec<Option<T>>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(MGET_CHUNK) {
        let body = json!({ "ids": chunk });
        let answer = store
            .client
            .expect_ok(Method::POST, &format!("/{index}/_mget"), Some(&body))
            .await
            .map_err(|e| e.into_store_error("reading documents"))?;
        let docs = answer["docs"]
            .as_array()
            .filter(|docs| docs.len() == chunk.len())
            .ok_or_else(|| StoreError::Corrupt(format!("_mget answered {answer}")))?;
        for doc in docs {
            if let Some(error) = doc.get("error") {
                return Err(StoreError::Unavailable(format!("_mget item: {error}")));
            }
            if doc["found"] == true {
                out.push(Some(decode(&doc["_source"])?));
            } else {
                out.push(None);
            }
        }
    }
    Ok(out)
}

/// One `_search`; answers each hit's source and sort values.
pub(crate) async fn search_docs<T: DeserializeOwned>(
    store: &SearchRecords,
    index: &str,
    body: &Value,
) -> Result<Vec<(T, Vec<Value>)>, StoreError> {
    let answer = store
        .client
        .expect_ok(Method::POST, &format!("/{index}/_search"), Some(body))
        .await
        .map_err(|e| e.into_store_error("searching"))?;
    let hits = answer["hits"]["hits"]
        .as_array()
        .ok_or_else(|| StoreError::Corrupt(format!("_search answered {answer}")))?;
    hits.iter()
        .map(|hit| {
            let sort = hit["sort"].as_array().cloned().unwrap_or_default();
            Ok((decode(&hit["_source"])?, sort))
        })
        .collect()
}

fn decode<T: DeserializeOwned>(source: &Value) -> Result<T, StoreError> {
    T::deserialize(source).map_err(|e| StoreError::Corrupt(format!("stored document: {e}")))
}

/// Delivery documents by id, in order.
pub(crate) async fn deliveries(
    store: &SearchRecords,
    ids: &[DeliveryId],
) -> Result<Vec<Option<DeliveryDoc>>, StoreError> {
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    mget(store, &store.names.deliveries, &ids).await
}

pub(crate) async fn get_message(
    store: &SearchRecords,
    app: &AppId,
    id: &MessageId,
) -> Result<Option<MessageView>, StoreError> {
    let found = mget::<MessageDoc>(store, &store.names.messages, &[id.to_string()]).await?;
    let Some(doc) = found.into_iter().flatten().next() else {
        return Ok(None);
    };
    if &doc.app_id != app {
        return Ok(None);
    }
    let docs = deliveries(store, &doc.delivery_ids).await?;
    let mut attempts = attempts_of(store, &doc.delivery_ids).await?;
    let mut message = doc.message;
    let mut views = Vec::with_capacity(docs.len());
    for delivery in docs.into_iter().flatten() {
        message.deliveries.push(herald_domain::Delivery {
            id: delivery.delivery_id.clone(),
            receiver: delivery.receiver_detail.clone(),
            variables: delivery.variables.clone(),
        });
        let logs = attempts.remove(&delivery.delivery_id).unwrap_or_default();
        views.push(delivery.view(logs));
    }
    let status = MessageStatus::derive(views.iter().map(|d| d.state));
    Ok(Some(MessageView {
        message,
        status,
        deliveries: views,
    }))
}

/// Attempt logs of these deliveries, each list in attempt order.
async fn attempts_of(
    store: &SearchRecords,
    ids: &[DeliveryId],
) -> Result<HashMap<DeliveryId, Vec<AttemptLog>>, StoreError> {
    let mut out: HashMap<DeliveryId, Vec<AttemptLog>> = HashMap::new();
    for chunk in ids.chunks(MGET_CHUNK) {
        let body = json!({
            "size": MAX_WINDOW,
            "query": {"bool": {"filter": [{"terms": {"delivery_id": chunk}}]}},
            "sort": [{"delivery_id": {"order": "asc"}}, {"attempt": {"order": "asc"}}],
        });
        let found: Vec<(AttemptDoc, _)> = search_docs(store, &store.names.attempts, &body).await?;
        for (doc, _) in found {
            out.entry(doc.delivery_id).or_default().push(doc.log);
        }
    }
    Ok(out)
}

pub(crate) async fn delivery_states(
    store: &SearchRecords,
    ids: &[DeliveryId],
) -> Result<HashMap<DeliveryId, StoredState>, StoreError> {
    Ok(deliveries(store, ids)
        .await?
        .into_iter()
        .flatten()
        .map(|d| (d.delivery_id.clone(), d.stored_state()))
        .collect())
}

pub(crate) async fn find_by_provider_id(
    store: &SearchRecords,
    provider_id: &str,
    receiver: Option<&str>,
) -> Result<Option<DeliveryRef>, StoreError> {
    let mut filter = vec![json!({"term": {"provider_request_id": provider_id}})];
    if let Some(receiver) = receiver {
        filter.push(json!({"term": {"receiver": receiver}}));
    }
    let body = json!({
        "size": 1,
        "query": {"bool": {"filter": filter}},
        "sort": [{"attempt": {"order": "desc"}}, {"delivery_id": {"order": "asc"}}],
    });
    let found: Vec<(AttemptDoc, _)> = search_docs(store, &store.names.attempts, &body).await?;
    let Some((attempt, _)) = found.into_iter().next() else {
        return Ok(None);
    };
    let docs = deliveries(store, std::slice::from_ref(&attempt.delivery_id)).await?;
    Ok(docs.into_iter().flatten().next().map(|d| d.delivery_ref()))
}

pub(crate) async fn awaiting_receipts(
    store: &SearchRecords,
    since: Millis,
    until: Millis,
    limit: usize,
) -> Result<Vec<AwaitingReceipt>, StoreError> {
    let body = json!({
        "size": limit.min(MAX_WINDOW),
        "query": {"bool": {"filter": [
            {"term": {"state": DeliveryState::Sent.as_str()}},
            {"range": {"updated_at": {"gte": since, "lt": until}}},
        ]}},
        "sort": [{"updated_at": {"order": "asc"}}, {"delivery_id": {"order": "asc"}}],
    });
    let sent: Vec<(DeliveryDoc, _)> = search_docs(store, &store.names.deliveries, &body).await?;
    let ids: Vec<DeliveryId> = sent.iter().map(|(d, _)| d.delivery_id.clone()).collect();
    let attempts = attempts_of(store, &ids).await?;
    Ok(sent
        .into_iter()
        .map(|(d, _)| {
            let provider_id = attempts
                .get(&d.delivery_id)
                .and_then(|logs| logs.last())
                .and_then(|log| log.provider_request_id.clone());
            AwaitingReceipt {
                app_id: d.app_id,
                account_id: d.account_id,
                channel: d.channel,
                delivery_id: d.delivery_id,
                receiver: d.receiver,
                provider_id,
                sent_at: d.updated_at,
            }
        })
        .collect())
}
