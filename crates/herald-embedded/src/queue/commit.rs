//! [`PreparedCommit`]: a queue step encoded before it reaches the writer thread, so the
//! shared bottleneck only executes SQL; applied by the queue's own commits and by jobs that
//! write records in the same transaction (settling).

use super::schema::{encode, topic_index};
use super::tx::QueueTx;
use herald_domain::time::now_ms;
use herald_domain::{DeadLetterId, TaskEnvelope};
use herald_ports::{QueueCommit, Receipt, StoreError, Topic};
use rusqlite::Connection;

/// A [`QueueCommit`] encoded outside the writer thread, ready to apply inside a write job
/// (also by jobs that write more than the queue, such as settling with records).
pub struct PreparedCommit {
    /// What the commit counts toward the mean batch size.
    pub items: u64,
    died_at: i64,
    acks: Vec<Receipt>,
    dead: Vec<(Receipt, TaskEnvelope, Vec<u8>, String, DeadLetterId)>,
    by_topic: [(Vec<TaskEnvelope>, Vec<Vec<u8>>); 3],
}

impl PreparedCommit {
    pub fn new(commit: QueueCommit) -> Result<Self, StoreError> {
        let items = (commit.ack.len() + commit.publish.len() + commit.dead.len()) as u64;
        let mut by_topic: [(Vec<TaskEnvelope>, Vec<Vec<u8>>); 3] = Default::default();
        for (topic, task) in commit.publish {
            let lane = &mut by_topic[topic_index(topic)];
            lane.1.push(encode(&task)?);
            lane.0.push(task);
        }
        let mut dead = Vec::with_capacity(commit.dead.len());
        for (receipt, task, reason) in commit.dead {
            let payload = encode(&task)?;
            dead.push((receipt, task, payload, reason, DeadLetterId::generate()));
        }
        Ok(Self {
            items,
            died_at: now_ms(),
            acks: commit.ack,
            dead,
            by_topic,
        })
    }

    /// Acks, buries and inserts, inside the caller's write job.
    pub fn apply(self, conn: &Connection, tx: &mut QueueTx<'_>) -> Result<(), StoreError> {
        for receipt in &self.acks {
            tx.ack(conn, receipt)?;
        }
        for (receipt, task, payload, reason, id) in &self.dead {
            tx.bury(conn, receipt, task, payload, reason, id, self.died_at)?;
        }
        for (topic, (tasks, payloads)) in Topic::ALL.into_iter().zip(self.by_topic) {
            tx.insert_encoded(conn, topic, tasks, payloads)?;
        }
        Ok(())
    }
}
