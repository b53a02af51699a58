//! Dead letters: a compacted topic keyed by dead-letter id, the task, reason, time and source
//! topic as JSON value; a replay writes a tombstone (null value) for the id. Every node folds
//! the topic into memory (module `views`), so `list_dead` pages by app in id order (= the
//! order they died) without a scan, and `stats` counts them.
//!
//! - Burying waits until the node's own view holds the new letters, so a `list_dead` right
//!   after the commit sees them; listing first catches up to the topic's end, so letters
//!   other nodes buried are there too.
//! - Replay publishes the task back (delivery tasks to send with `attempt + 1`, due now;
//!   results to result), then writes the tombstones: a crash in between leaves the letter to
//!   be replayed again (a duplicate task), never a lost one.

use crate::codec::DeadRecord;
use crate::publish::{Outgoing, send_all};
use crate::queue::KafkaQueue;
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeadLetterId, TaskEnvelope};
use herald_ports::{DeadLetter, Receipt, StoreError, Topic};

/// Stores dead letters and waits until this node's view holds them.
pub(crate) async fn bury(
    queue: &KafkaQueue,
    dead: &[(Receipt, TaskEnvelope, String)],
) -> Result<(), StoreError> {
    if dead.is_empty() {
        return Ok(());
    }
    let died_at = now_ms();
    let topic = queue.shared().layout.dead();
    let records = dead
        .iter()
        .map(|(receipt, task, reason)| {
            let record = DeadRecord::new(reason, died_at, receipt.topic, task);
            let payload = serde_json::to_vec(&record)
                .map_err(|e| StoreError::backend("encoding a Kafka dead letter", e))?;
            Ok(Outgoing {
                topic: topic.clone(),
                key: DeadLetterId::generate().into_string(),
                payload: Some(payload),
                hold_until: None,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let landed = send_all(queue.producer(), &queue.shared().produced, &records).await?;
    queue.see_own_writes(landed).await
}

/// Dead letters of `app`, oldest first, after `after`, including every letter stored when
/// the call started.
pub(crate) async fn list(
    queue: &KafkaQueue,
    app: &AppId,
    after: Option<&DeadLetterId>,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    queue.catch_up_views().await?;
    Ok(queue.views().dead_of(app, after, limit))
}

/// Publishes the given dead letters of `app` back and removes them; returns the tasks as
/// published. Ids of other apps, or replayed already, are skipped.
pub(crate) async fn replay(
    queue: &KafkaQueue,
    app: &AppId,
    ids: &[DeadLetterId],
) -> Result<Vec<TaskEnvelope>, StoreError> {
    queue.catch_up_views().await?;
    let now = now_ms();
    let mut found = Vec::new();
    for id in ids {
        if let Some(letter) = queue.views().dead_letter(app, id) {
            let mut task = letter.task;
            if let TaskEnvelope::DeliveryV1(t) = &mut task {
                t.attempt += 1;
                t.not_before = now;
            }
            found.push((id.clone(), task));
        }
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let (deliveries, results): (Vec<TaskEnvelope>, Vec<TaskEnvelope>) = found
        .iter()
        .map(|(_, task)| task.clone())
        .partition(|t| matches!(t, TaskEnvelope::DeliveryV1(_)));
    queue.publish_tasks(Topic::Send, &deliveries).await?;
    queue.publish_tasks(Topic::Result, &results).await?;
    let topic = queue.shared().layout.dead();
    let tombstones: Vec<Outgoing> = found
        .iter()
        .map(|(id, _)| Outgoing {
            topic: topic.clone(),
            key: id.as_str().to_owned(),
            payload: None,
            hold_until: None,
        })
        .collect();
    let landed = send_all(queue.producer(), &queue.shared().produced, &tombstones).await?;
    queue.see_own_writes(landed).await?;
    Ok(found.into_iter().map(|(_, task)| task).collect())
}
