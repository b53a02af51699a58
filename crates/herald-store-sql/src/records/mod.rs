//! [`SqlRecords`]: messages, deliveries and attempts in SQL, with versioned state updates and
//! CJK-aware full-text search over a term index.
//!
//! - [`insert_accepted`] writes records at accept time, inside the intake's transaction.
//! - [`Records::apply`] applies a batch of result events in one transaction: each delivery
//!   changes only for a strictly newer version (`UPDATE … WHERE version < ?`), attempts are
//!   insert-or-ignore, content stays once set.
//! - Search walks one index in page order, newest first, and stops after one page.
//!
//! Module map: `write` (accept insert, event apply, term indexing), `read` (message view,
//! state lookups), `search` (filters, plans), `text` (analysis into terms, query plans,
//! receiver keys) and `cursor` (the page token).

mod cursor;
mod read;
mod search;
mod text;
mod write;

pub(crate) use write::{apply_events, insert_accepted};

use crate::db::SqlDb;
use async_trait::async_trait;
use herald_domain::{AppId, DeliveryId, Message, MessageId, Millis, ResultEvent};
use herald_ports::{
    AwaitingReceipt, DeliveryRef, MessageView, Records, SearchFilter, SearchPage, StoreError,
    StoredState,
};
use std::collections::HashMap;

/// [`Records`] over PostgreSQL or MySQL/MariaDB.
#[derive(Clone, Debug)]
pub struct SqlRecords {
    /// The shared pool.
    db: SqlDb,
}

impl SqlRecords {
    /// Records over a migrated database (see [`crate::migrate`]).
    pub fn new(db: SqlDb) -> Self {
        Self { db }
    }

    /// Records accepted messages on their own, outside an accept request. Production writes
    /// go through the intake (records, outbox rows and idempotency entry in one
    /// transaction); this is for conformance suites, imports and tools.
    pub async fn record_accepted(&self, messages: &[Message]) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        insert_accepted(&mut tx, messages).await?;
        tx.commit().await
    }
}

#[async_trait]
impl Records for SqlRecords {
    async fn apply(&self, events: Vec<ResultEvent>) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin().await?;
        let changed = apply_events(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(changed)
    }

    async fn get_message(
        &self,
        app: &AppId,
        id: &MessageId,
    ) -> Result<Option<MessageView>, StoreError> {
        read::message_view(&self.db, app, id).await
    }

    async fn delivery_states(
        &self,
        ids: &[DeliveryId],
    ) -> Result<HashMap<DeliveryId, StoredState>, StoreError> {
        read::delivery_states(&self.db, ids).await
    }

    async fn find_delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryRef>, StoreError> {
        read::find_delivery(&self.db, id).await
    }

    async fn find_by_provider_id(
        &self,
        provider_id: &str,
        receiver: Option<&str>,
    ) -> Result<Option<DeliveryRef>, StoreError> {
        read::find_by_provider_id(&self.db, provider_id, receiver).await
    }

    async fn awaiting_receipts(
        &self,
        since: Millis,
        until: Millis,
        limit: usize,
    ) -> Result<Vec<AwaitingReceipt>, StoreError> {
        read::awaiting_receipts(&self.db, since, until, limit).await
    }

    async fn search(
        &self,
        app: &AppId,
        filter: &SearchFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SearchPage, StoreError> {
        search::search(&self.db, app, filter, cursor, limit).await
    }
}

/// Decodes a stored JSON column.
fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}
