//! What travels in Kafka records: the task as JSON payload, the hold time of a waiting task
//! in a header, dead-letter and cancel records, and the mapping of client errors to
//! [`StoreError`].

use herald_domain::{AppId, DeadLetterId, DeliveryId, Millis, TaskEnvelope};
use herald_ports::{DeadLetter, StoreError, Topic};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use serde::{Deserialize, Serialize};

/// Header of a waiting task: epoch ms before which it is not examined.
pub(crate) const HOLD_UNTIL: &str = "herald-hold-until";

pub(crate) fn encode(task: &TaskEnvelope) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(task).map_err(|e| StoreError::backend("encoding a Kafka queue task", e))
}

pub(crate) fn decode(payload: &[u8]) -> Result<TaskEnvelope, StoreError> {
    serde_json::from_slice(payload)
        .map_err(|e| StoreError::Corrupt(format!("Kafka queue task does not decode: {e}")))
}

/// The hold header of a fetched waiting task (0 when missing: examine at once).
pub(crate) fn hold_until(message: &BorrowedMessage<'_>) -> Millis {
    message
        .headers()
        .and_then(|headers| {
            headers
                .iter()
                .find(|h| h.key == HOLD_UNTIL)
                .and_then(|h| h.value)
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A dead letter as stored in the dead topic (key: dead-letter id).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct DeadRecord {
    pub(crate) reason: String,
    pub(crate) died_at: Millis,
    /// The logical topic the task died on.
    pub(crate) topic: String,
    pub(crate) task: TaskEnvelope,
}

impl DeadRecord {
    pub(crate) fn new(reason: &str, died_at: Millis, topic: Topic, task: &TaskEnvelope) -> Self {
        Self {
            reason: reason.to_owned(),
            died_at,
            topic: topic.as_str().to_owned(),
            task: task.clone(),
        }
    }

    pub(crate) fn into_dead_letter(self, id: DeadLetterId) -> DeadLetter {
        DeadLetter {
            id,
            app_id: self.task.app_id().clone(),
            delivery_id: self.task.delivery_id().clone(),
            reason: self.reason,
            died_at: self.died_at,
            task: self.task,
        }
    }
}

/// A cancel tombstone (key: `app/delivery`), read by every node.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CancelRecord {
    pub(crate) app_id: AppId,
    pub(crate) delivery_id: DeliveryId,
    pub(crate) canceled_at: Millis,
}

/// Offsets finished above a partition's commit position (key: `topic/partition`). Records
/// only ever add finished offsets, so any of them, old or new, is safe to apply; `base` (the
/// position when written) lets readers forget what lies below it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AckRecord {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) base: i64,
    pub(crate) finished: Vec<i64>,
}

pub(crate) fn cancel_key(app: &AppId, delivery: &DeliveryId) -> String {
    format!("{app}/{delivery}")
}

/// Maps a client error: transport and broker availability problems are `Unavailable` (the
/// caller may retry), anything else a backend failure with its cause.
pub(crate) fn kafka_error(context: &'static str) -> impl Fn(KafkaError) -> StoreError {
    move |e| match e.rdkafka_error_code() {
        Some(code) if is_transient(code) => StoreError::Unavailable(format!("{context}: {e}")),
        _ => StoreError::backend(context, e),
    }
}

fn is_transient(code: rdkafka::types::RDKafkaErrorCode) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        code,
        C::BrokerTransportFailure
            | C::AllBrokersDown
            | C::MessageTimedOut
            | C::RequestTimedOut
            | C::OperationTimedOut
            | C::LeaderNotAvailable
            | C::NotLeaderForPartition
            | C::NetworkException
            | C::QueueFull
    )
}
