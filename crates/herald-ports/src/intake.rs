//! The durable accept: what a `202 Accepted` promises is committed here.
//!
//! Records, queue tasks and the idempotency entry of one request are written as one unit,
//! so they can never diverge (no task without a record, no idempotency entry without tasks).
//! The embedded backend does this in one SQLite transaction under group commit; distributed
//! backends use an outbox in the database that a relay publishes to the broker.

use crate::error::StoreError;
use async_trait::async_trait;
use herald_domain::{AppId, Message, Millis, TaskEnvelope};

/// A stored response for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyEntry {
    pub app_id: AppId,
    pub key: String,
    /// SHA-256 (hex) of the canonical request, to tell a replay from a conflicting reuse.
    pub request_hash: String,
    pub status: u16,
    pub response: serde_json::Value,
    pub created_at: Millis,
}

/// Everything one accept request commits.
#[derive(Debug, Clone)]
pub struct AcceptBatch {
    pub app_id: AppId,
    /// Messages with their deliveries; sensitive variables already redacted. Each delivery
    /// starts `scheduled` when the message has a `send_at` later than `created_at`, else
    /// `accepted`, at version `(0, rank)`.
    pub messages: Vec<Message>,
    /// Delivery tasks for the send topic (variables in clear), or `None` when each is its
    /// delivery's first task as recorded ([`Message::first_tasks`], true whenever no
    /// variable was redacted): the intake then builds them only if and when it needs them
    /// (the embedded journal stores the messages alone; see [`AcceptBatch::send_tasks`]).
    pub tasks: Option<Vec<TaskEnvelope>>,
    pub idempotency: Option<IdempotencyEntry>,
}

impl AcceptBatch {
    /// The send tasks: as listed, or each delivery's first task.
    pub fn send_tasks(&self) -> Vec<TaskEnvelope> {
        match &self.tasks {
            Some(tasks) => tasks.clone(),
            None => self
                .messages
                .iter()
                .flat_map(Message::first_tasks)
                .collect(),
        }
    }
}

/// Result of an accept commit.
#[derive(Debug, Clone, PartialEq)]
pub enum AcceptCommit {
    /// Durably committed.
    Committed,
    /// An entry with the same app and key already existed (a concurrent request won the
    /// race); nothing of this batch was written. The caller compares hashes.
    Existing(IdempotencyEntry),
}

#[async_trait]
pub trait Intake: Send + Sync + 'static {
    /// Commits the batch durably (fsync or broker ack) before returning.
    async fn accept(&self, batch: AcceptBatch) -> Result<AcceptCommit, StoreError>;

    /// The stored entry for `key`, if one younger than `max_age_ms` exists.
    async fn idempotency_lookup(
        &self,
        app: &AppId,
        key: &str,
        max_age_ms: i64,
    ) -> Result<Option<IdempotencyEntry>, StoreError>;

    /// Deletes idempotency entries older than `before`; returns how many.
    async fn purge_idempotency(&self, before: Millis) -> Result<u64, StoreError>;
}
