//! Producing: where a task goes when published (its due topic, or the delay level that fits
//! its wait), and sending a batch so that the call returns only once the broker acknowledged
//! every record (`acks=all`), pipelined rather than one round trip each.

use crate::codec::{HOLD_UNTIL, encode, kafka_error};
use crate::layout::{DELAYED_TOPICS, Layout, task_key};
use herald_domain::{Millis, TaskEnvelope};
use herald_ports::{StoreError, Topic};
use parking_lot::Mutex;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use std::collections::HashMap;

/// One record to produce.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The Kafka topic.
    pub(crate) topic: String,
    /// The partition key.
    pub(crate) key: String,
    /// `None` produces a tombstone (null value).
    pub(crate) payload: Option<Vec<u8>>,
    /// Set on delay-level records: not examined before this time.
    pub(crate) hold_until: Option<Millis>,
}

/// The record that stores `task` on `topic` at `now`: its due topic when due (always for
/// results), else the longest delay level that does not overshoot `not_before`.
pub(crate) fn task_record(
    layout: &Layout,
    topic: Topic,
    task: &TaskEnvelope,
    now: Millis,
) -> Result<Outgoing, StoreError> {
    let remaining = task.not_before() - now;
    let (kafka_topic, hold_until) = if DELAYED_TOPICS.contains(&topic) && remaining > 0 {
        let level = layout.level_for(remaining);
        (layout.wait(topic, level), Some(now + layout.hold(level)))
    } else {
        (layout.due(topic), None)
    };
    Ok(Outgoing {
        topic: kafka_topic,
        key: task_key(task),
        payload: Some(encode(task)?),
        hold_until,
    })
}

/// The end offset of every partition this node produced to, as its own acknowledgements
/// prove it: a lower bound of the true end, exact for this node's own writes. Combined with
/// the broker's answer because tansu's in-memory engine answers ListOffsets(latest) with the
/// last batch's base offset + 1 (too low for batches of several records).
#[derive(Debug, Default)]
pub(crate) struct ProducedEnds(Mutex<HashMap<(String, i32), i64>>);

impl ProducedEnds {
    fn record(&self, topic: &str, partition: i32, offset: i64) {
        let mut ends = self.0.lock();
        let end = ends.entry((topic.to_owned(), partition)).or_insert(0);
        *end = (*end).max(offset + 1);
    }

    pub(crate) fn get(&self, topic: &str, partition: i32) -> i64 {
        self.0
            .lock()
            .get(&(topic.to_owned(), partition))
            .copied()
            .unwrap_or(0)
    }
}

/// Produces every record and waits for the broker's acknowledgements; returns where each
/// landed as (topic, partition, offset), in input order.
pub(crate) async fn send_all(
    producer: &FutureProducer,
    ends: &ProducedEnds,
    records: &[Outgoing],
) -> Result<Vec<(String, i32, i64)>, StoreError> {
    let sends = records.iter().map(|r| async move {
        let hold = r.hold_until.map(|h| h.to_string());
        let mut record = FutureRecord::<str, [u8]>::to(&r.topic).key(&r.key);
        if let Some(payload) = &r.payload {
            record = record.payload(payload);
        }
        if let Some(hold) = &hold {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: HOLD_UNTIL,
                value: Some(hold),
            }));
        }
        producer
            .send(record, Timeout::Never)
            .await
            .map(|d| (r.topic.clone(), d.partition, d.offset))
            .map_err(|(e, _)| kafka_error("producing to Kafka")(e))
    });
    let landed = futures::future::try_join_all(sends).await?;
    for (topic, partition, offset) in &landed {
        ends.record(topic, *partition, *offset);
    }
    Ok(landed)
}
