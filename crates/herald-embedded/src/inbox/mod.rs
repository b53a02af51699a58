//! The embedded inbox: in-site messages per end user in the shared SQLite database.
//!
//! Stores join the database's group commit (a batch of deliveries from the inbox channel is
//! one job); reads use the read pool. Deletion is *soft*: the row stays as a tombstone (state
//! 3, title/body/fields erased) so that a redelivered task for a deleted item stays a no-op.
//! The SQL lives in `sql`, the DDL in `schema`.

mod schema;
mod sql;

pub use schema::SCHEMA;

use crate::db::Db;
use async_trait::async_trait;
use herald_domain::{AppId, DeliveryId, Millis};
use herald_ports::{Inbox, InboxFilter, InboxItem, InboxPage, InboxState, StoreError};

/// [`Inbox`] over the shared SQLite database.
#[derive(Clone)]
pub struct SqliteInbox {
    /// The shared database: writes join its group commit, reads use its pool.
    db: Db,
}

impl SqliteInbox {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Inbox for SqliteInbox {
    async fn store(&self, items: Vec<InboxItem>) -> Result<Vec<bool>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let count = items.len() as u64;
        self.db.write(count, move |c| sql::store(c, &items)).await
    }

    async fn list(
        &self,
        app: &AppId,
        user: &str,
        filter: InboxFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<InboxPage, StoreError> {
        let (app, user, cursor) = (app.clone(), user.to_owned(), cursor.map(str::to_owned));
        self.db
            .read(move |c| sql::list(c, &app, &user, filter, cursor.as_deref(), limit))
            .await
    }

    async fn get(
        &self,
        app: &AppId,
        user: &str,
        id: &DeliveryId,
    ) -> Result<Option<InboxItem>, StoreError> {
        let (app, user, id) = (app.clone(), user.to_owned(), id.clone());
        self.db.read(move |c| sql::get(c, &app, &user, &id)).await
    }

    async fn unread_count(&self, app: &AppId, user: &str) -> Result<u64, StoreError> {
        let (app, user) = (app.clone(), user.to_owned());
        self.db
            .read(move |c| sql::unread_count(c, &app, &user))
            .await
    }

    async fn set_state(
        &self,
        app: &AppId,
        user: &str,
        id: &DeliveryId,
        state: InboxState,
        now: Millis,
    ) -> Result<Option<InboxItem>, StoreError> {
        let (app, user, id) = (app.clone(), user.to_owned(), id.clone());
        self.db
            .write(1, move |c| sql::set_state(c, &app, &user, &id, state, now))
            .await
    }

    async fn mark_all_read(&self, app: &AppId, user: &str, now: Millis) -> Result<u64, StoreError> {
        let (app, user) = (app.clone(), user.to_owned());
        self.db
            .write(1, move |c| sql::mark_all_read(c, &app, &user, now))
            .await
    }

    async fn delete(&self, app: &AppId, user: &str, id: &DeliveryId) -> Result<bool, StoreError> {
        let (app, user, id) = (app.clone(), user.to_owned(), id.clone());
        self.db
            .write(1, move |c| sql::delete(c, &app, &user, &id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DbOptions;
    use herald_ports::conformance::inbox::item;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deletion_erases_content_but_keeps_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let options = DbOptions {
            durable: false,
            ..Default::default()
        };
        let db = Db::open(&dir.path().join("inbox.db"), &[SCHEMA], options).unwrap();
        let inbox = SqliteInbox::new(db.clone());
        let app = AppId::generate();
        let stored = item(&app, "u-1", 1_000);
        inbox.store(vec![stored.clone()]).await.unwrap();
        assert!(inbox.delete(&app, "u-1", &stored.id).await.unwrap());
        let id = stored.id.clone();
        let row: (i64, Option<String>, String, String) = db
            .read(move |c| {
                c.query_row(
                    "SELECT state, title, body, fields FROM inbox_items WHERE id = ?1",
                    [id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(|e| StoreError::backend("reading the tombstone", e))
            })
            .await
            .unwrap();
        assert_eq!(row, (3, None, String::new(), "{}".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unread_count_uses_the_state_index() {
        let dir = tempfile::tempdir().unwrap();
        let options = DbOptions {
            durable: false,
            ..Default::default()
        };
        let db = Db::open(&dir.path().join("inbox.db"), &[SCHEMA], options).unwrap();
        let plan: String = db
            .read(|c| {
                c.query_row(
                    "EXPLAIN QUERY PLAN SELECT count(*) FROM inbox_items \
                     WHERE app_id = 'a' AND user_id = 'u' AND state = 0",
                    [],
                    |r| r.get(3),
                )
                .map_err(|e| StoreError::backend("explaining", e))
            })
            .await
            .unwrap();
        assert!(
            plan.contains("COVERING INDEX inbox_by_user_state"),
            "unread count is an index-only count: {plan}"
        );
    }
}
