//! Cancel: Kafka cannot delete a record, so a cancel is a tombstone every node reads (topic
//! `{prefix}.canceled`, compacted, keyed by app and delivery) and checks before it hands a
//! task out or moves a waiting one. The call then removes the matching tasks this node holds
//! queued (ready or waiting, never leased) after reading its partitions up to their end, and
//! returns how many it removed.
//!
//! In a cluster the count covers the partitions this node owns; tasks on other nodes'
//! partitions are dropped by the tombstone when they come up, uncounted. A tombstone drops
//! every task of the delivery not handed out yet, retries included; a task already handed
//! out (its lease may end and it comes back) is left to the dispatcher, which checks the
//! delivery's state before sending.

use crate::codec::{CancelRecord, cancel_key};
use crate::layout::DELAYED_TOPICS;
use crate::publish::{Outgoing, send_all};
use crate::queue::KafkaQueue;
use herald_domain::time::now_ms;
use herald_domain::{AppId, DeliveryId};
use herald_ports::StoreError;
use std::collections::HashSet;

pub(crate) async fn cancel(
    queue: &KafkaQueue,
    app: &AppId,
    deliveries: &[DeliveryId],
) -> Result<u64, StoreError> {
    if deliveries.is_empty() {
        return Ok(0);
    }
    let shared = queue.shared();
    let canceled_at = now_ms();
    let records = deliveries
        .iter()
        .map(|delivery| {
            let record = CancelRecord {
                app_id: app.clone(),
                delivery_id: delivery.clone(),
                canceled_at,
            };
            let payload = serde_json::to_vec(&record)
                .map_err(|e| StoreError::backend("encoding a Kafka cancel tombstone", e))?;
            Ok(Outgoing {
                topic: shared.layout.canceled(),
                key: cancel_key(app, delivery),
                payload: Some(payload),
                hold_until: None,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let landed = send_all(queue.producer(), &shared.produced, &records).await?;
    queue.see_own_writes(landed).await?;

    let mut topics = Vec::new();
    for topic in DELAYED_TOPICS {
        topics.push(shared.layout.due(topic));
        for level in 0..shared.layout.levels() {
            topics.push(shared.layout.wait(topic, level));
        }
    }
    queue.catch_up_workers(&topics).await?;

    let targets: HashSet<&DeliveryId> = deliveries.iter().collect();
    let mut lanes = shared.lanes.lock();
    let mut removed = 0;
    for topic in DELAYED_TOPICS {
        removed += lanes.due_mut(topic).cancel(app, &targets);
    }
    for lane in &mut lanes.wait {
        removed += lane.cancel(app, &targets);
    }
    drop(lanes);
    shared.want_commit();
    Ok(removed)
}
