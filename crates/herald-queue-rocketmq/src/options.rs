//! Settings of the RocketMQ queue, the reason behind each default, and the checks that keep
//! them within what the broker accepts.

use herald_ports::StoreError;
use std::time::Duration;

/// Where the queue lives and how it runs. One prefix = one independent queue.
#[derive(Debug, Clone)]
pub struct RocketMqQueueOptions {
    /// Name server address(es), `host:port`, several separated by `;`.
    pub name_server: String,
    /// Names the topics (`{prefix}_send`, `_retry`, `_result`, `_ledger`, `_snapshot`) and groups
    /// (`{prefix}_workers`, `{prefix}_producer`): ASCII letters, digits, `-` and `_`. Several
    /// deployments (or test runs) share one cluster under different prefixes.
    pub prefix: String,
    /// Visibility timeout: a task not acked this long after it was handed out is put back on
    /// the broker by the next `receive` of its topic (on any node) and handed out again.
    pub lease: Duration,
    /// Queues per task topic on each broker: the unit of parallelism (FIFO holds per queue).
    pub queues_per_topic: u32,
    /// Client instances reserved for long polls, i.e. how many `receive` calls of this node
    /// can wait at the same time (a long poll occupies its instance for the whole wait).
    pub pollers: usize,
    /// Timeout of one broker request (send, ack, pull); long polls add their own wait.
    pub request_timeout: Duration,
    /// How often this node writes a snapshot of its census (when the ledger moved since its
    /// last one); a starting node reads the newest snapshot and folds only the ledger after
    /// it. `Duration::ZERO`: never (a starting node folds the whole ledger).
    pub snapshot_every: Duration,
    /// Create missing topics at start (through the broker's auto-create key topic `TBW102`).
    /// Turn off where operators provision topics; the ledger and snapshot topics must then
    /// have exactly one queue each, on the same broker.
    pub create_topics: bool,
}

impl Default for RocketMqQueueOptions {
    fn default() -> Self {
        Self {
            name_server: "127.0.0.1:9876".to_owned(),
            prefix: "herald".to_owned(),
            lease: Duration::from_secs(30),
            queues_per_topic: 4,
            pollers: 4,
            request_timeout: Duration::from_secs(5),
            snapshot_every: Duration::from_secs(600),
            create_topics: true,
        }
    }
}

/// The names the queue uses on the broker, derived from the prefix.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub send: String,
    pub retry: String,
    pub result: String,
    pub ledger: String,
    pub snapshot: String,
    pub workers: String,
    pub producer: String,
}

impl Names {
    pub fn new(prefix: &str) -> Self {
        Self {
            send: format!("{prefix}_send"),
            retry: format!("{prefix}_retry"),
            result: format!("{prefix}_result"),
            ledger: format!("{prefix}_ledger"),
            snapshot: format!("{prefix}_snapshot"),
            workers: format!("{prefix}_workers"),
            producer: format!("{prefix}_producer"),
        }
    }

    pub fn topic(&self, topic: herald_ports::Topic) -> &str {
        match topic {
            herald_ports::Topic::Send => &self.send,
            herald_ports::Topic::Retry => &self.retry,
            herald_ports::Topic::Result => &self.result,
        }
    }
}

impl RocketMqQueueOptions {
    /// Rejects values the broker would refuse or that break the queue's promises.
    pub fn validate(&self) -> Result<(), StoreError> {
        let invalid = |why: String| Err(StoreError::InvalidInput(why));
        if self.name_server.trim().is_empty() {
            return invalid("RocketMQ queue name_server is empty".to_owned());
        }
        // Topic names allow 127 characters of [A-Za-z0-9_-]; `_ledger` is the longest suffix.
        let prefix_ok = !self.prefix.is_empty()
            && self.prefix.len() <= 64
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !prefix_ok {
            return invalid(format!(
                "RocketMQ queue prefix {:?}: use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'",
                self.prefix
            ));
        }
        if self.lease < Duration::from_millis(100) {
            return invalid(format!(
                "RocketMQ queue lease {:?} is below 100 ms",
                self.lease
            ));
        }
        if !(1..=64).contains(&self.queues_per_topic) {
            return invalid(format!(
                "RocketMQ queue queues_per_topic {} is outside 1-64",
                self.queues_per_topic
            ));
        }
        if !(1..=64).contains(&self.pollers) {
            return invalid(format!(
                "RocketMQ queue pollers {} is outside 1-64",
                self.pollers
            ));
        }
        if self.request_timeout < Duration::from_millis(100) {
            return invalid(format!(
                "RocketMQ queue request_timeout {:?} is below 100 ms",
                self.request_timeout
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
        RocketMqQueueOptions::default().validate().unwrap();
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = [
            RocketMqQueueOptions {
                prefix: "a.b".into(),
                ..Default::default()
            },
            RocketMqQueueOptions {
                prefix: String::new(),
                ..Default::default()
            },
            RocketMqQueueOptions {
                prefix: "%RETRY%x".into(),
                ..Default::default()
            },
            RocketMqQueueOptions {
                lease: Duration::from_millis(10),
                ..Default::default()
            },
            RocketMqQueueOptions {
                queues_per_topic: 0,
                ..Default::default()
            },
            RocketMqQueueOptions {
                name_server: " ".into(),
                ..Default::default()
            },
        ];
        for options in bad {
            assert!(
                matches!(options.validate(), Err(StoreError::InvalidInput(_))),
                "{options:?} accepted"
            );
        }
    }

    #[test]
    fn names_derive_from_the_prefix() {
        let names = Names::new("t1");
        assert_eq!(names.topic(herald_ports::Topic::Retry), "t1_retry");
        assert_eq!(names.ledger, "t1_ledger");
        assert_eq!(names.workers, "t1_workers");
    }
}
