//! [`SqlInbox`]: end users' in-site messages in the shared PostgreSQL or MySQL/MariaDB
//! database, so that every node behind a load balancer serves the same inbox.
//!
//! The semantics are the SQLite inbox's (herald-embedded): one row per delivery in
//! `inbox_items` (migration 5), deduplicated by `(app_id, id)`; deletion turns the row into a
//! tombstone (content erased, id kept) so a redelivered task never brings an item back;
//! listings are newest *stored* first, paged by an opaque cursor over the auto-increment
//! `seq`. Every call names the app and the user.
//!
//! Module map: `store` (the deduplicating insert, exact about which items were new on both
//! dialects), `read` (pages, one item, the unread count), `mark` (states, read-all,
//! deletion) and `item` (state codes, row decoding, the cursor).

mod item;
mod mark;
mod read;
mod store;

use crate::db::SqlDb;
use async_trait::async_trait;
use herald_domain::{AppId, DeliveryId, Millis};
use herald_ports::{Inbox, InboxFilter, InboxItem, InboxPage, InboxState, StoreError};

/// [`Inbox`] over PostgreSQL or MySQL/MariaDB.
#[derive(Clone, Debug)]
pub struct SqlInbox {
    /// The shared pool (the database must be migrated, see [`crate::migrate`]).
    db: SqlDb,
}

impl SqlInbox {
    /// An inbox over a migrated database.
    pub fn new(db: SqlDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Inbox for SqlInbox {
    async fn store(&self, items: Vec<InboxItem>) -> Result<Vec<bool>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        store::store(&self.db, &items).await
    }

    async fn list(
        &self,
        app: &AppId,
        user: &str,
        filter: InboxFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<InboxPage, StoreError> {
        read::list(&self.db, app, user, filter, cursor, limit).await
    }

    async fn get(
        &self,
        app: &AppId,
        user: &str,
        id: &DeliveryId,
    ) -> Result<Option<InboxItem>, StoreError> {
        read::get(&self.db, app, user, id).await
    }

    async fn unread_count(&self, app: &AppId, user: &str) -> Result<u64, StoreError> {
        read::unread_count(&self.db, app, user).await
    }

    async fn set_state(
        &self,
        app: &AppId,
        user: &str,
        id: &DeliveryId,
        state: InboxState,
        now: Millis,
    ) -> Result<Option<InboxItem>, StoreError> {
        mark::set_state(&self.db, app, user, id, state, now).await
    }

    async fn mark_all_read(&self, app: &AppId, user: &str, now: Millis) -> Result<u64, StoreError> {
        mark::mark_all_read(&self.db, app, user, now).await
    }

    async fn delete(&self, app: &AppId, user: &str, id: &DeliveryId) -> Result<bool, StoreError> {
        mark::delete(&self.db, app, user, id).await
    }
}
