//! [`EmbeddedSettle`]: the dispatcher's results and queue step in one transaction, because
//! records and queue live in the same SQLite file (decision 0002).

use crate::queue::{EmbeddedQueue, PreparedCommit};
use crate::records::{self, VocabCache};
use async_trait::async_trait;
use herald_domain::ResultEvent;
use herald_ports::{QueueCommit, Settle, StoreError};
use std::sync::Arc;

pub struct EmbeddedSettle {
    queue: Arc<EmbeddedQueue>,
    /// Shared with the records store: which body terms the search vocabulary holds.
    vocab: Arc<VocabCache>,
}

impl EmbeddedSettle {
    pub(crate) fn new(queue: Arc<EmbeddedQueue>, vocab: Arc<VocabCache>) -> Self {
        Self { queue, vocab }
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
        let vocab = Arc::clone(&self.vocab);
        let events = tokio::task::spawn_blocking(move || {
            records::PreparedEvents::new(events, &vocab).map(Arc::new)
        })
        .await
        .map_err(|e| StoreError::backend("preparing result events", e))??;
        let items = prepared.items.max(events.len() as u64);
        let written = Arc::clone(&events);
        let changed = self
            .queue
            .write_urgent(items, move |conn, tx| {
                let changed = records::apply_events(conn, &written)?;
                prepared.apply(conn, tx)?;
                Ok(changed)
            })
            .await?;
        // Only now: a term is remembered once the commit that wrote it is durable.
        self.vocab.learn(&events.new_terms);
        Ok(changed)
    }
}
