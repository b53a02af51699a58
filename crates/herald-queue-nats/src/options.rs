//! Tuning of the NATS queue, with the reasons behind each default and the checks that keep
//! the values consistent with each other (a dedup window shorter than the lease would let a
//! crash-retry slip through as a duplicate).

use herald_ports::StoreError;
use std::time::Duration;

/// How the queue lays out and runs its streams. One prefix = one independent queue.
#[derive(Debug, Clone)]
pub struct NatsQueueOptions {
    /// Names every stream (`{PREFIX}_SEND`, …) and subject (`{prefix}.send.…`): lowercase
    /// letters, digits, `-` and `_`. Several Herald deployments (or test runs) can share one
    /// NATS account under different prefixes.
    pub prefix: String,
    /// Visibility timeout (the workers' `ack_wait`): a task not acked this long after it was
    /// handed out is handed out again.
    pub lease: Duration,
    /// `duplicate_window` of every stream: publishes with a `Nats-Msg-Id` already seen within
    /// it are dropped. It must cover every path that re-publishes automatically after a crash:
    /// a commit interrupted between publish and ack re-runs after the `lease`, a timer node
    /// that died mid-move is replaced after `timer_hold`. Each id costs server memory for the
    /// whole window (at 10,000 tasks/s, two minutes hold 1.2 million ids per stream), so it
    /// is kept near that bound rather than hours long. See `docs/decisions/0007-nats-queue.md`.
    pub dedup_window: Duration,
    /// `ack_wait` of the timer consumers: how long a node may hold a waiting task it fetched
    /// before another node takes it over (only matters when a node dies).
    pub timer_hold: Duration,
    /// `max_ack_pending` of the worker consumers: most tasks leased at once per topic,
    /// across all nodes. Waiting (delayed) tasks never count against it.
    pub max_leased: i64,
    /// Stream replicas (1 on a single server, 3 in a cluster).
    pub replicas: usize,
    /// How long dead letters are kept (`Duration::ZERO`: until replayed).
    pub dead_max_age: Duration,
}

impl Default for NatsQueueOptions {
    fn default() -> Self {
        Self {
            prefix: "herald".to_owned(),
            lease: Duration::from_secs(30),
            dedup_window: Duration::from_secs(120),
            timer_hold: Duration::from_secs(30),
            max_leased: 20_000,
            replicas: 1,
            dead_max_age: Duration::ZERO,
        }
    }
}

impl NatsQueueOptions {
    /// Rejects values NATS would refuse or that break the queue's promises.
    pub fn validate(&self) -> Result<(), StoreError> {
        let invalid = |why: String| Err(StoreError::InvalidInput(why));
        let prefix_ok = !self.prefix.is_empty()
            && self.prefix.len() <= 32
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !prefix_ok {
            return invalid(format!(
                "NATS queue prefix {:?}: use 1-32 characters of a-z, 0-9, '-' and '_'",
                self.prefix
            ));
        }
        if self.lease < Duration::from_millis(100) {
            return invalid(format!("NATS queue lease {:?} is below 100 ms", self.lease));
        }
        if self.timer_hold < Duration::from_millis(100) {
            return invalid(format!(
                "NATS queue timer_hold {:?} is below 100 ms",
                self.timer_hold
            ));
        }
        let needed = self.lease + self.timer_hold;
        if self.dedup_window < needed {
            return invalid(format!(
                "NATS queue dedup_window {:?} must cover lease + timer_hold ({needed:?}): \
                 shorter, a task re-published after a crash is not recognised as a duplicate",
                self.dedup_window
            ));
        }
        if self.max_leased < 1 {
            return invalid("NATS queue max_leased must be at least 1".to_owned());
        }
        if self.replicas == 0 || self.replicas > 5 {
            return invalid(format!(
                "NATS queue replicas {} (JetStream allows 1 to 5)",
                self.replicas
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
        NatsQueueOptions::default().validate().unwrap();
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for prefix in ["", "Herald", "a.b", "a b", "a*", &"x".repeat(33)] {
            let options = NatsQueueOptions {
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
    fn dedup_window_must_cover_lease_and_timer_hold() {
        let options = NatsQueueOptions {
            lease: Duration::from_secs(100),
            ..Default::default()
        };
        let err = options.validate().unwrap_err().to_string();
        assert!(err.contains("dedup_window"), "{err}");
    }
}
