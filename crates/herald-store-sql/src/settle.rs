//! [`SqlSettle`]: the dispatcher's results recorded and its follow-up tasks queued in one
//! database transaction, then its leases completed on the broker.
//!
//! Records and outbox share the database, so result events and follow-up tasks (retries,
//! result events for callbacks) commit together: a retry is never lost after its
//! `retrying` state is recorded, and no retry is queued for a state that rolled back. The
//! broker's acks and dead letters come after that commit, because a broker cannot join the
//! transaction. If the process dies in between, the broker redelivers the leased tasks and
//! the dispatcher skips them, since their records already hold an outcome at or past their
//! attempt (decision 0003) — at-least-once on the broker, exactly-once in the records.

use crate::db::SqlDb;
use crate::outbox::insert_outbox;
use crate::records::apply_events;
use async_trait::async_trait;
use herald_domain::ResultEvent;
use herald_ports::{Queue, QueueCommit, Settle, StoreError};
use std::sync::Arc;

/// [`Settle`] over the SQL records with an outbox, completing leases on `queue`.
pub struct SqlSettle {
    /// Records and outbox.
    db: SqlDb,
    /// The broker holding the leases.
    queue: Arc<dyn Queue>,
}

impl SqlSettle {
    pub fn new(db: SqlDb, queue: Arc<dyn Queue>) -> Self {
        Self { db, queue }
    }
}

#[async_trait]
impl Settle for SqlSettle {
    async fn settle(
        &self,
        events: Vec<ResultEvent>,
        commit: QueueCommit,
    ) -> Result<usize, StoreError> {
        let QueueCommit { ack, publish, dead } = commit;
        let mut tx = self.db.begin().await?;
        let changed = apply_events(&mut tx, &events).await?;
        insert_outbox(&mut tx, &publish).await?;
        tx.commit().await?;
        if !ack.is_empty() || !dead.is_empty() {
            self.queue
                .commit(QueueCommit {
                    ack,
                    publish: Vec::new(),
                    dead,
                })
                .await?;
        }
        Ok(changed)
    }
}
