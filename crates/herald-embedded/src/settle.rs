//! [`EmbeddedSettle`]: the dispatcher's results and queue step in one transaction, because
//! records and queue live in the same SQLite file (decision 0002).

use crate::queue::{EmbeddedQueue, PreparedCommit};
use crate::records;
use async_trait::async_trait;
use herald_domain::ResultEvent;
use herald_ports::{QueueCommit, Settle, StoreError};
use std::sync::Arc;

pub struct EmbeddedSettle {
    queue: Arc<EmbeddedQueue>,
}

impl EmbeddedSettle {
    pub fn new(queue: Arc<EmbeddedQueue>) -> Self {
        Self { queue }
    }
}

#[async_trait]
impl Settle for EmbeddedSettle {
    async fn settle(
        &self,
        events: Vec<ResultEvent>,
        commit: QueueCommit,
    ) -> Result<usize, StoreError> {
        let prepared = PreparedCommit::new(commit)?;
        // Analyzing the text costs ~µs per event: not on an async worker.
        let events = tokio::task::spawn_blocking(move || records::PreparedEvents::new(events))
            .await
            .map_err(|e| StoreError::backend("preparing result events", e))??;
        let items = prepared.items.max(events.len() as u64);
        self.queue
            .write_urgent(items, move |conn, tx| {
                let changed = records::apply_events(conn, &events)?;
                prepared.apply(conn, tx)?;
                Ok(changed)
            })
            .await
    }
}
