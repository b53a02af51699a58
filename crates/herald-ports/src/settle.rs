//! Settling dispatched tasks: their result events recorded and their leases completed as one
//! durable unit.
//!
//! Where records and queue share one database (the embedded default; SQL records with an
//! outbox), the dispatcher settles through this port and result events skip the result topic
//! entirely: no extra queue write, no consumer hop, and the record is current the moment the
//! task is acked. Elsewhere the engine publishes result events to the result topic and a
//! result consumer applies them.

use crate::error::StoreError;
use crate::queue::QueueCommit;
use async_trait::async_trait;
use herald_domain::ResultEvent;

#[async_trait]
pub trait Settle: Send + Sync + 'static {
    /// Applies `events` to the records (newer versions only) and `commit` to the queue, both
    /// or neither. Returns how many records changed.
    async fn settle(
        &self,
        events: Vec<ResultEvent>,
        commit: QueueCommit,
    ) -> Result<usize, StoreError>;
}
