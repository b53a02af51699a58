//! The outbox relay (distributed mode): moves queue tasks that the SQL database committed as
//! outbox rows — next to the records they belong to — onto the NATS queue.
//!
//! One round claims up to [`BATCH`] rows (a lease, so relays on several nodes share them),
//! publishes them grouped by topic, and deletes them only after the broker acked. A relay
//! that dies between publish and delete leaves rows that are claimed again after the lease
//! and published a second time; NATS drops the copy because every task is published with its
//! dedup key as `Nats-Msg-Id`. See `herald_store_sql::outbox`.

use herald_ports::{Queue, StoreError, Topic};
use herald_store_sql::Outbox;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows claimed per round.
const BATCH: usize = 256;
/// Pause when the outbox is empty: the added latency of an accepted message.
const IDLE: Duration = Duration::from_millis(20);
/// Pause after a failed round (database or broker unavailable).
const BACKOFF: Duration = Duration::from_secs(1);

/// An outbox and the queue its rows go to.
#[derive(Clone)]
pub(crate) struct Relay {
    pub outbox: Outbox,
    pub queue: Arc<dyn Queue>,
}

impl Relay {
    /// Relays until `stop` turns true (or its sender is gone), then makes a last pass so rows
    /// written while draining go out now rather than at the next start.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                break;
            }
            let pause = match self.round().await {
                Ok(0) => IDLE,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay round failed; retrying");
                    BACKOFF
                }
            };
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(pause) => {}
            }
        }
        while let Ok(n) = self.round().await {
            if n == 0 {
                break;
            }
        }
    }

    /// One claim-publish-delete round; returns how many rows it moved.
    pub async fn round(&self) -> Result<usize, StoreError> {
        let rows = self.outbox.claim_outbox(BATCH).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        for (topic, tasks) in group_by_topic(rows.into_iter().map(|r| (r.topic, r.task))) {
            self.queue.publish(topic, tasks).await?;
        }
        self.outbox.delete_outbox(&ids).await?;
        Ok(ids.len())
    }
}

/// Tasks grouped per topic, topics in order of first appearance and tasks in row order (the
/// order the outbox committed them).
fn group_by_topic<T>(rows: impl IntoIterator<Item = (Topic, T)>) -> Vec<(Topic, Vec<T>)> {
    let mut groups: Vec<(Topic, Vec<T>)> = Vec::new();
    for (topic, task) in rows {
        match groups.iter_mut().find(|(seen, _)| *seen == topic) {
            Some((_, tasks)) => tasks.push(task),
            None => groups.push((topic, vec![task])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_grouped_per_topic_keeping_commit_order() {
        let rows = [
            (Topic::Send, 1),
            (Topic::Result, 2),
            (Topic::Send, 3),
            (Topic::Retry, 4),
            (Topic::Result, 5),
        ];
        assert_eq!(
            group_by_topic(rows),
            vec![
                (Topic::Send, vec![1, 3]),
                (Topic::Result, vec![2, 5]),
                (Topic::Retry, vec![4]),
            ]
        );
        assert!(group_by_topic(Vec::<(Topic, u8)>::new()).is_empty());
    }
}
