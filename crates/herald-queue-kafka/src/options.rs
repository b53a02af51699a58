//! Tuning of the Kafka queue, with the reason behind each default and the checks that keep
//! the values consistent (a lease shorter than a poll round would re-hand-out every task).

use herald_ports::StoreError;
use std::time::Duration;

/// How the queue names, sizes and runs its topics. One prefix = one independent queue.
#[derive(Debug, Clone)]
pub struct KafkaQueueOptions {
    /// Names every topic (`{prefix}.send`, `{prefix}.send.wait.1000ms`, …) and the consumer
    /// group (`{prefix}.workers`): letters, digits, `-` and `_`, at most 64 characters.
    /// Several deployments (or test runs) can share one cluster under different prefixes.
    pub prefix: String,
    /// Visibility timeout: a task not acked this long after it was handed out is handed out
    /// again by the node that holds it.
    pub lease: Duration,
    /// Partitions of the due topics (send, retry, result). Delivery tasks are keyed by
    /// channel account, so one account's traffic lands in one partition; more partitions
    /// spread accounts over more nodes. Applied when the queue creates its topics.
    pub partitions: i32,
    /// Partitions of every delay-level topic: these only hold waiting tasks, so they need
    /// less parallelism than the due topics.
    pub wait_partitions: i32,
    /// Replication factor of every topic (1 on a single broker, 3 in a production cluster).
    pub replication: i32,
    /// The delay ladder: a task due `r` from now waits in the topic of the longest level
    /// `<= r`, is re-examined when that level has passed, and hops down until due. Shorter
    /// remainders than the first level wait in memory on the node that reads them. Sorted
    /// ascending, each at least 100 ms. Fewer levels mean fewer topics but more hops.
    pub delay_levels: Vec<Duration>,
    /// Most tasks one partition may hold in memory not yet finished (ready, leased or
    /// waiting); above it the partition is paused until half of them finished. This bounds
    /// memory; a slow account's leased tasks count against it, so keep it far above what
    /// workers hold leased at once.
    pub max_window: usize,
    /// Consumer group session timeout: how long after a node dies without leaving the group
    /// its partitions are given to the others (which hand out again from the committed
    /// offsets).
    pub session_timeout: Duration,
    /// Bound on broker round trips the queue waits for (topic creation, commits on
    /// revocation, read-your-writes catch-up of dead letters and cancels).
    pub request_timeout: Duration,
    /// Produce every record as a batch of its own (`batch.num.messages=1`). Needed on tansu
    /// 0.6's in-memory engine, which cannot fetch from an offset inside a multi-record batch
    /// (a consumer resuming from a committed offset there sees nothing) and answers
    /// ListOffsets(latest) with the last batch's base offset + 1. Costs throughput; leave
    /// off on Apache Kafka.
    pub single_record_batches: bool,
    /// Extra librdkafka settings for every client, e.g. `security.protocol`, SASL.
    pub client_config: Vec<(String, String)>,
}

impl Default for KafkaQueueOptions {
    fn default() -> Self {
        let secs = Duration::from_secs;
        Self {
            prefix: "herald".to_owned(),
            lease: secs(30),
            partitions: 12,
            wait_partitions: 3,
            replication: 1,
            delay_levels: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200]
                .into_iter()
                .map(secs)
                .collect(),
            max_window: 10_000,
            session_timeout: secs(10),
            request_timeout: secs(10),
            single_record_batches: false,
            client_config: Vec::new(),
        }
    }
}

impl KafkaQueueOptions {
    /// Rejects values Kafka would refuse or that break the queue's promises.
    pub fn validate(&self) -> Result<(), StoreError> {
        let invalid = |why: String| Err(StoreError::InvalidInput(why));
        let prefix_ok = !self.prefix.is_empty()
            && self.prefix.len() <= 64
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !prefix_ok {
            return invalid(format!(
                "Kafka queue prefix {:?}: use 1-64 characters of a-z, A-Z, 0-9, '-' and '_'",
                self.prefix
            ));
        }
        if self.lease < Duration::from_millis(100) {
            return invalid(format!(
                "Kafka queue lease {:?} is below 100 ms",
                self.lease
            ));
        }
        if self.partitions < 1 || self.wait_partitions < 1 || self.replication < 1 {
            return invalid("Kafka queue partitions and replication must be at least 1".into());
        }
        if self.delay_levels.is_empty() {
            return invalid("Kafka queue delay_levels must name at least one level".into());
        }
        let ascending = self.delay_levels.windows(2).all(|w| w[0] < w[1]);
        if !ascending || self.delay_levels[0] < Duration::from_millis(100) {
            return invalid(format!(
                "Kafka queue delay_levels {:?} must ascend strictly from at least 100 ms",
                self.delay_levels
            ));
        }
        if self.max_window < 1 {
            return invalid("Kafka queue max_window must be at least 1".into());
        }
        if self.session_timeout < Duration::from_secs(1) {
            return invalid(format!(
                "Kafka queue session_timeout {:?} is below 1 s",
                self.session_timeout
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        KafkaQueueOptions::default().validate().unwrap();
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for prefix in ["", "a.b", "a b", "a*", &"x".repeat(65)] {
            let options = KafkaQueueOptions {
                prefix: prefix.to_owned(),
                ..Default::default()
            };
            assert!(
                matches!(options.validate(), Err(StoreError::InvalidInput(_))),
                "{prefix:?} accepted"
            );
        }
    }

    #[test]
    fn delay_levels_must_ascend() {
        let options = KafkaQueueOptions {
            delay_levels: vec![Duration::from_secs(5), Duration::from_secs(1)],
            ..Default::default()
        };
        let err = options.validate().unwrap_err().to_string();
        assert!(err.contains("delay_levels"), "{err}");
    }
}
