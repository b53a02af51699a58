//! Names and routing: which Kafka topic a logical topic and delay level live in, which level a
//! delay waits in, how tasks are keyed, and how a receipt names its partition and offset.
//!
//! Topics under a prefix `p`:
//! - `p.send`, `p.retry`, `p.result`: due tasks, what workers receive;
//! - `p.send.wait.<ms>ms`, `p.retry.wait.<ms>ms`: the delay ladder, one topic per level plus
//!   level 0 (`wait.0ms`) for remainders shorter than the first level;
//! - `p.dead`: dead letters (compacted, keyed by dead-letter id, null value = replayed);
//! - `p.canceled`: cancel tombstones (compacted, keyed by app and delivery);
//! - `p.acks`: offsets finished above a partition's commit position (keyed by partition).

use crate::options::KafkaQueueOptions;
use herald_domain::{Millis, TaskEnvelope};
use herald_ports::{Receipt, StoreError, Topic};
use std::collections::HashMap;

/// Logical topics that accept delayed tasks (results are always due).
pub(crate) const DELAYED_TOPICS: [Topic; 2] = [Topic::Send, Topic::Retry];

/// Where a Kafka topic's messages go when the workers' consumer reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// A due topic: tasks are handed out.
    Due(Topic),
    /// A delay-level topic of a logical topic: tasks wait, then move on.
    Wait(Topic, usize),
}

/// Topic names and level arithmetic for one prefix.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Starts every topic and group name.
    prefix: String,
    /// Hold time of each ladder level in ms; index 0 is the in-memory level (hold 0).
    holds: Vec<Millis>,
    /// Kafka topic name → lane, for routing fetched records.
    routes: HashMap<String, Route>,
}

impl Layout {
    pub(crate) fn new(options: &KafkaQueueOptions) -> Self {
        let mut holds = vec![0];
        holds.extend(options.delay_levels.iter().map(|d| d.as_millis() as Millis));
        let mut layout = Self {
            prefix: options.prefix.clone(),
            holds,
            routes: HashMap::new(),
        };
        for topic in Topic::ALL {
            layout.routes.insert(layout.due(topic), Route::Due(topic));
        }
        for topic in DELAYED_TOPICS {
            for level in 0..layout.holds.len() {
                layout
                    .routes
                    .insert(layout.wait(topic, level), Route::Wait(topic, level));
            }
        }
        layout
    }

    pub(crate) fn due(&self, topic: Topic) -> String {
        format!("{}.{}", self.prefix, topic.as_str())
    }

    pub(crate) fn wait(&self, topic: Topic, level: usize) -> String {
        format!(
            "{}.{}.wait.{}ms",
            self.prefix,
            topic.as_str(),
            self.holds[level]
        )
    }

    pub(crate) fn dead(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub(crate) fn acks(&self) -> String {
        format!("{}.acks", self.prefix)
    }

    pub(crate) fn canceled(&self) -> String {
        format!("{}.canceled", self.prefix)
    }

    pub(crate) fn group(&self) -> String {
        format!("{}.workers", self.prefix)
    }

    pub(crate) fn route(&self, kafka_topic: &str) -> Option<Route> {
        self.routes.get(kafka_topic).copied()
    }

    /// Every topic the workers' consumer group subscribes to (due and waiting).
    pub(crate) fn worker_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.routes.keys().cloned().collect();
        topics.sort();
        topics
    }

    pub(crate) fn levels(&self) -> usize {
        self.holds.len()
    }

    pub(crate) fn hold(&self, level: usize) -> Millis {
        self.holds[level]
    }

    /// The level a task with `remaining` ms to wait goes to: the longest hold that does not
    /// overshoot it, or level 0 (in memory) below the first level.
    pub(crate) fn level_for(&self, remaining: Millis) -> usize {
        self.holds
            .iter()
            .rposition(|hold| *hold <= remaining)
            .unwrap_or(0)
    }
}

/// The partition key: the channel account for delivery tasks (one account, one partition),
/// the delivery for results.
pub(crate) fn task_key(task: &TaskEnvelope) -> String {
    match task.account_id() {
        Some(account) => account.to_string(),
        None => task.delivery_id().to_string(),
    }
}

/// A receipt names the partition in its handle and the offset in its token.
pub(crate) fn receipt(topic: Topic, partition: i32, offset: i64) -> Receipt {
    Receipt {
        topic,
        token: offset as u64,
        handle: Some(partition.to_string()),
    }
}

/// The partition and offset a receipt of this queue names.
pub(crate) fn parse_receipt(receipt: &Receipt) -> Result<(i32, i64), StoreError> {
    let partition = receipt
        .handle
        .as_deref()
        .and_then(|h| h.parse::<i32>().ok())
        .ok_or_else(|| {
            StoreError::InvalidInput(format!("not a Kafka queue receipt: {receipt:?}"))
        })?;
    let offset = i64::try_from(receipt.token).map_err(|_| {
        StoreError::InvalidInput(format!("receipt offset out of range: {receipt:?}"))
    })?;
    Ok((partition, offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn layout() -> Layout {
        Layout::new(&KafkaQueueOptions {
            prefix: "t".into(),
            delay_levels: vec![Duration::from_secs(1), Duration::from_secs(10)],
            ..Default::default()
        })
    }

    #[test]
    fn levels_never_overshoot_the_delay() {
        let l = layout();
        assert_eq!(l.level_for(400), 0, "below the first level waits in memory");
        assert_eq!(l.level_for(1_000), 1);
        assert_eq!(l.level_for(9_999), 1);
        assert_eq!(l.level_for(3_600_000), 2, "longer delays hop the top level");
        assert_eq!(l.hold(l.level_for(5_000)), 1_000);
    }

    #[test]
    fn topics_route_back_to_their_lane() {
        let l = layout();
        assert_eq!(l.route("t.retry"), Some(Route::Due(Topic::Retry)));
        assert_eq!(l.wait(Topic::Send, 2), "t.send.wait.10000ms");
        assert_eq!(
            l.route("t.send.wait.10000ms"),
            Some(Route::Wait(Topic::Send, 2))
        );
        assert_eq!(l.route("t.result.wait.0ms"), None, "results never wait");
        assert_eq!(l.worker_topics().len(), 3 + 2 * 3);
    }

    #[test]
    fn receipts_round_trip() {
        let r = receipt(Topic::Send, 3, 42);
        assert_eq!(parse_receipt(&r).unwrap(), (3, 42));
        let bad = Receipt {
            topic: Topic::Send,
            token: 1,
            handle: None,
        };
        assert!(parse_receipt(&bad).is_err());
    }
}
