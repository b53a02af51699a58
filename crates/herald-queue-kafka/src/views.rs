//! What every node reads in full: the cancel tombstones, the dead letters and the acks above
//! commit positions. A consumer outside the group (all partitions assigned, from the
//! beginning) folds the three topics into
//! memory on a thread of its own; writers wait until their own records are folded in
//! (read-your-writes), and readers catch up to the topics' end before answering.

use crate::codec::{AckRecord, CancelRecord, DeadRecord, kafka_error};
use herald_domain::{AppId, DeadLetterId, DeliveryId, TaskEnvelope};
use herald_ports::{DeadLetter, StoreError};
use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The folded state of the dead and canceled topics.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    /// Canceled deliveries, by app.
    canceled: HashSet<(AppId, DeliveryId)>,
    /// Dead letters by app, in id (= time) order.
    dead: BTreeMap<(AppId, DeadLetterId), DeadLetter>,
    /// Which app a dead-letter id belongs to (a replay tombstone carries only the id).
    dead_apps: HashMap<DeadLetterId, AppId>,
    /// Offsets finished above the commit position, per (topic, partition).
    acked: HashMap<(String, i32), BTreeSet<i64>>,
}

/// The views and how far they have read.
#[derive(Debug)]
pub(crate) struct Views {
    /// Records of this topic are cancels.
    canceled_topic: String,
    /// Records of this topic are acks; of any other, dead letters.
    acks_topic: String,
    folded: Mutex<Folded>,
    /// Next offset to read per (topic, partition).
    positions: Mutex<HashMap<(String, i32), i64>>,
    progressed: Notify,
}

impl Views {
    pub(crate) fn new(canceled_topic: String, acks_topic: String) -> Self {
        Self {
            canceled_topic,
            acks_topic,
            folded: Mutex::default(),
            positions: Mutex::default(),
            progressed: Notify::new(),
        }
    }

    pub(crate) fn is_canceled(&self, task: &TaskEnvelope) -> bool {
        matches!(task, TaskEnvelope::DeliveryV1(_))
            && self
                .folded
                .lock()
                .canceled
                .contains(&(task.app_id().clone(), task.delivery_id().clone()))
    }

    pub(crate) fn dead_of(
        &self,
        app: &AppId,
        after: Option<&DeadLetterId>,
        limit: usize,
    ) -> Vec<DeadLetter> {
        let folded = self.folded.lock();
        folded
            .dead
            .range((app.clone(), DeadLetterId::from_trusted(""))..)
            .take_while(|((a, _), _)| a == app)
            .filter(|((_, id), _)| after.is_none_or(|cursor| id > cursor))
            .take(limit)
            .map(|(_, letter)| letter.clone())
            .collect()
    }

    pub(crate) fn dead_letter(&self, app: &AppId, id: &DeadLetterId) -> Option<DeadLetter> {
        self.folded
            .lock()
            .dead
            .get(&(app.clone(), id.clone()))
            .cloned()
    }

    /// Offsets of `topic`/`partition` at or above `base` that some node finished; forgets
    /// the ones below (they are behind the committed offset for good).
    pub(crate) fn finished_from(&self, topic: &str, partition: i32, base: i64) -> BTreeSet<i64> {
        let mut folded = self.folded.lock();
        let Some(acked) = folded.acked.get_mut(&(topic.to_owned(), partition)) else {
            return BTreeSet::new();
        };
        *acked = acked.split_off(&base);
        acked.clone()
    }

    pub(crate) fn dead_count(&self) -> u64 {
        self.folded.lock().dead.len() as u64
    }

    fn fold(&self, message: &BorrowedMessage<'_>) {
        let key = message.key().and_then(|k| std::str::from_utf8(k).ok());
        let mut folded = self.folded.lock();
        if message.topic() == self.acks_topic {
            let record = message
                .payload()
                .and_then(|p| serde_json::from_slice::<AckRecord>(p).ok());
            if let Some(r) = record {
                let acked = folded.acked.entry((r.topic, r.partition)).or_default();
                *acked = acked.split_off(&r.base);
                acked.extend(r.finished.into_iter().filter(|o| *o >= r.base));
            }
        } else if message.topic() == self.canceled_topic {
            let record = message
                .payload()
                .and_then(|p| serde_json::from_slice::<CancelRecord>(p).ok());
            if let Some(r) = record {
                folded.canceled.insert((r.app_id, r.delivery_id));
            }
        } else if let Some(id) = key.map(DeadLetterId::from_trusted) {
            let record = message.payload().map(serde_json::from_slice::<DeadRecord>);
            match record {
                Some(Ok(record)) => {
                    let letter = record.into_dead_letter(id.clone());
                    folded.dead_apps.insert(id.clone(), letter.app_id.clone());
                    folded.dead.insert((letter.app_id.clone(), id), letter);
                }
                Some(Err(e)) => tracing::error!(%id, error = %e, "undecodable Kafka dead letter"),
                None => {
                    if let Some(app) = folded.dead_apps.remove(&id) {
                        folded.dead.remove(&(app, id));
                    }
                }
            }
        }
        drop(folded);
        self.positions.lock().insert(
            (message.topic().to_owned(), message.partition()),
            message.offset() + 1,
        );
    }

    /// Waits until every `(topic, partition, offset)` is folded in (offset is the next
    /// offset to have read: an end offset, or a produced offset + 1).
    pub(crate) async fn caught_up(
        &self,
        targets: &[(String, i32, i64)],
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.progressed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let behind = {
                let positions = self.positions.lock();
                targets.iter().any(|(topic, partition, offset)| {
                    *offset > 0
                        && positions
                            .get(&(topic.clone(), *partition))
                            .is_none_or(|p| p < offset)
                })
            };
            if !behind {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "Kafka queue: dead-letter and cancel views did not catch up within {timeout:?}"
                )));
            }
            let _ = tokio::time::timeout_at(deadline.into(), notified).await;
        }
    }
}

/// Assigns every partition of the view topics from the beginning and folds records into
/// `views` until `closing` is set.
pub(crate) fn spawn_reader(
    consumer: Arc<BaseConsumer>,
    views: Arc<Views>,
    partitions: &[(String, i32)],
    closing: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition_offset(topic, *partition, Offset::Beginning)
            .map_err(kafka_error("assigning the Kafka queue views"))?;
    }
    consumer
        .assign(&tpl)
        .map_err(kafka_error("assigning the Kafka queue views"))?;
    std::thread::Builder::new()
        .name("herald-kafka-views".into())
        .spawn(move || {
            while !closing.load(Ordering::Acquire) {
                match consumer.poll(Duration::from_millis(50)) {
                    Some(Ok(message)) => {
                        views.fold(&message);
                        views.progressed.notify_waiters();
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "Kafka queue view consumer"),
                    None => {}
                }
            }
        })
        .map_err(|e| StoreError::backend("starting the Kafka queue view reader", e))
}
