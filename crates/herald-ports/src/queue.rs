//! The queue port: the seed's send, retry and result queues plus dead letters.
//!
//! Semantics every backend must provide (checked by `conformance::queue`):
//! - `publish` returns only once the tasks are durable (fsync or broker ack);
//! - `receive` hands out tasks whose `not_before` has passed, leased for the queue's lease
//!   time; a task not acked before its lease ends is delivered again (at-least-once);
//! - higher priority first where the backend offers priorities, FIFO within a priority;
//! - `commit` acks, publishes follow-ups and dead-letters in one step — atomically where the
//!   backend can — so "remove the task only after its outcome is recorded" holds;
//! - dead letters are kept with their reason and can be replayed onto the send topic;
//! - `cancel` removes tasks not yet handed out (tombstones for scheduled sends).
//!
//! Every call is batch-shaped: per-message round trips do not reach the throughput targets.

use crate::error::StoreError;
use async_trait::async_trait;
use herald_domain::{AppId, DeadLetterId, DeliveryId, Millis, TaskEnvelope};
use std::time::Duration;

/// A logical queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Delivery tasks, first attempt (and scheduled sends once due).
    Send,
    /// Delivery tasks waiting for their next attempt.
    Retry,
    /// State-change events for records, callbacks and the inbox.
    Result,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Topic::Send, Topic::Retry, Topic::Result];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Retry => "retry",
            Self::Result => "result",
        }
    }
}

/// Proof of a lease, needed to ack, retry or dead-letter the task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Receipt {
    pub topic: Topic,
    /// Backend-specific handle (row id, stream sequence, offset…).
    pub token: u64,
    /// Backend-specific text handle where a number is not enough (e.g. a NATS reply subject).
    pub handle: Option<String>,
}

/// A task handed out under a lease.
#[derive(Debug, Clone)]
pub struct Leased {
    pub receipt: Receipt,
    pub task: TaskEnvelope,
    /// How many times this task has been handed out, this one included.
    pub deliveries: u32,
}

/// A dead-lettered task and why it died.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: DeadLetterId,
    pub app_id: AppId,
    pub delivery_id: DeliveryId,
    pub reason: String,
    pub died_at: Millis,
    pub task: TaskEnvelope,
}

/// One step of queue work, applied together.
#[derive(Debug, Clone, Default)]
pub struct QueueCommit {
    /// Leases to complete: the tasks are removed.
    pub ack: Vec<Receipt>,
    /// New tasks (results, retries with their `not_before`).
    pub publish: Vec<(Topic, TaskEnvelope)>,
    /// Leases to complete by moving the task to the dead-letter store, with a reason.
    pub dead: Vec<(Receipt, TaskEnvelope, String)>,
}

impl QueueCommit {
    pub fn is_empty(&self) -> bool {
        self.ack.is_empty() && self.publish.is_empty() && self.dead.is_empty()
    }
}

/// Queue depths, for `/metrics` and readiness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub send: u64,
    pub retry: u64,
    pub result: u64,
    pub leased: u64,
    pub dead: u64,
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Durably appends tasks to a topic.
    async fn publish(&self, topic: Topic, tasks: Vec<TaskEnvelope>) -> Result<(), StoreError>;

    /// Leases up to `max` due tasks of `topic`, waiting up to `wait` for the first one.
    async fn receive(
        &self,
        topic: Topic,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Leased>, StoreError>;

    /// Acks, publishes and dead-letters in one step.
    async fn commit(&self, commit: QueueCommit) -> Result<(), StoreError>;

    /// Removes queued (not leased) delivery tasks of these deliveries; returns how many.
    async fn cancel(&self, app: &AppId, deliveries: &[DeliveryId]) -> Result<u64, StoreError>;

    /// Dead letters of an app, oldest first, after the cursor.
    async fn list_dead(
        &self,
        app: &AppId,
        after: Option<&DeadLetterId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError>;

    /// Moves dead letters back to the send topic (attempt counter continues, due now);
    /// returns the tasks that were replayed.
    async fn replay_dead(
        &self,
        app: &AppId,
        ids: &[DeadLetterId],
    ) -> Result<Vec<TaskEnvelope>, StoreError>;

    async fn stats(&self) -> Result<QueueStats, StoreError>;
}
