//! The embedded records store: messages, deliveries and attempts in SQLite, with versioned
//! state updates and CJK-aware full-text search (FTS5).
//!
//! - [`insert_accepted`] writes an accept's records: in the journal indexer's transaction
//!   (accepts without a key), or in the intake's own (keyed accepts).
//! - Reads answer for accepts the journal has not indexed yet (`journal`): `get_message`
//!   from the journal's memory, search and updates after waiting for the indexer.
//! - [`SqliteRecords::apply`] applies a batch of result events in **one** group-commit job:
//!   one `UPDATE … WHERE version < ?` per event, so an older or equal event never wins.
//! - Search walks one index (or FTS5's doclists) already in page order, newest first, and
//!   stops after one page: a delivery's rowid is `created_at << 20 | n`, so time order,
//!   rowid order and full-text order coincide. The `search` module documents the plan per
//!   filter; `search_text` the CJK analyzer.
//!
//! Module map: `schema` (DDL, rowid layout), `write` (accept insert, event apply, text
//! indexing), `read` (message view, state lookup), `search` (filters, plans, FTS) and
//! `vocab` (the body's terms, so a search's last word becomes exact terms; `fold` says which
//! characters the tokenizer keeps as other letters) and `cursor`
//! (the page token).

mod cursor;
mod fold;
mod read;
mod schema;
mod search;
mod vocab;
mod write;

pub(crate) use read::all_recorded;
pub(crate) use schema::FLUSH_PENDING;
pub use schema::SCHEMA;
pub(crate) use vocab::VocabCache;
pub(crate) use write::{PreparedEvents, apply_events, insert_accepted};

use crate::db::Db;
use crate::journal::Journal;
use async_trait::async_trait;
use herald_domain::{AppId, DeliveryId, Message, MessageId, Millis, ResultEvent};
use herald_ports::{
    DeliveryRef, MessageView, Records, SearchFilter, SearchPage, StoreError, StoredState,
};
use std::collections::HashMap;
use std::sync::Arc;

/// Most ids bound in one `IN (…)` lookup.
const IDS_PER_QUERY: usize = 500;

/// [`Records`] over the shared SQLite database.
#[derive(Clone)]
pub struct SqliteRecords {
    /// The shared database: writes join its group commit, reads use its pool.
    db: Db,
    /// Accepts not yet indexed into `db` (see `journal`): served from memory or waited for.
    journal: Option<Arc<Journal>>,
    /// Terms known to be in the search vocabulary (see `vocab`).
    vocab: Arc<VocabCache>,
}

impl SqliteRecords {
    pub fn new(db: Db) -> Self {
        Self {
            vocab: Arc::new(VocabCache::new(Arc::clone(db.stats()))),
            db,
            journal: None,
        }
    }

    async fn stored_view(
        &self,
        app: &AppId,
        id: &MessageId,
    ) -> Result<Option<MessageView>, StoreError> {
        let (app, id) = (app.clone(), id.clone());
        self.db
            .read(move |conn| read::message_view(conn, &app, &id))
            .await
    }

    /// The cache of terms known to be in the search vocabulary, for other writers of
    /// result events (the embedded settle) to share.
    pub(crate) fn vocab(&self) -> Arc<VocabCache> {
        Arc::clone(&self.vocab)
    }

    /// Records that also answer for the accepts `journal` has not indexed yet.
    pub fn with_journal(self, journal: Arc<Journal>) -> Self {
        Self {
            journal: Some(journal),
            ..self
        }
    }

    /// Records accepted messages on their own, outside an accept request. Production writes
    /// go through the intake (journaled, or records, tasks and idempotency entry in one
    /// transaction); this is for conformance suites, imports and tools.
    pub async fn record_accepted(&self, messages: Vec<Message>) -> Result<(), StoreError> {
        let items = messages.iter().map(|m| m.deliveries.len() as u64).sum();
        self.db
            .write(items, move |conn| insert_accepted(conn, &messages))
            .await
    }
}

#[async_trait]
impl Records for SqliteRecords {
    async fn apply(&self, events: Vec<ResultEvent>) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        // An event for a delivery still in the journal would find no row to update.
        if let Some(journal) = &self.journal
            && journal.any_pending(events.iter().map(|e| &e.message_id))
        {
            journal.caught_up().await?;
        }
        let events = Arc::new(PreparedEvents::new(events, &self.vocab)?);
        let items = events.len() as u64;
        let written = Arc::clone(&events);
        let changed = self
            .db
            .write_unisolated(items, move |conn| write::apply_events(conn, &written))
            .await?;
        // Only now, off the writer thread: a term is remembered once its commit is durable
        // (a caller that stops waiting first only means the terms are written again).
        self.vocab.learn(&events.new_terms);
        Ok(changed)
    }

    async fn get_message(
        &self,
        app: &AppId,
        id: &MessageId,
    ) -> Result<Option<MessageView>, StoreError> {
        // The store first: once indexed, a message's tasks can be sent and its state moves
        // on, so memory is only asked about a message the store did not hold yet. If memory
        // no longer has it either, it was indexed in between (the journal forgets a message
        // only after its indexing commit): read the store again.
        let stored = self.stored_view(app, id).await?;
        if stored.is_some() {
            return Ok(stored);
        }
        let Some(journal) = &self.journal else {
            return Ok(None);
        };
        match journal.pending_view(app, id).await? {
            Some(view) => Ok(Some(view)),
            None => self.stored_view(app, id).await,
        }
    }

    async fn delivery_states(
        &self,
        ids: &[DeliveryId],
    ) -> Result<HashMap<DeliveryId, StoredState>, StoreError> {
        let mut states = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let chunk = chunk.to_vec();
            let found = self
                .db
                .read(move |conn| read::delivery_states(conn, &chunk))
                .await?;
            states.extend(found);
        }
        Ok(states)
    }

    async fn find_delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryRef>, StoreError> {
        let id = id.clone();
        self.db
            .read(move |conn| read::find_delivery(conn, &id))
            .await
    }

    async fn find_by_provider_id(
        &self,
        provider_id: &str,
        receiver: Option<&str>,
    ) -> Result<Option<DeliveryRef>, StoreError> {
        let (provider_id, receiver) = (provider_id.to_owned(), receiver.map(str::to_owned));
        self.db
            .read(move |conn| read::find_by_provider_id(conn, &provider_id, receiver.as_deref()))
            .await
    }

    async fn awaiting_receipts(
        &self,
        since: Millis,
        until: Millis,
        limit: usize,
    ) -> Result<Vec<herald_ports::AwaitingReceipt>, StoreError> {
        self.db
            .read(move |conn| read::awaiting_receipts(conn, since, until, limit))
            .await
    }

    async fn search(
        &self,
        app: &AppId,
        filter: &SearchFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SearchPage, StoreError> {
        let query = search::SearchQuery::build(app, filter, cursor, limit)?;
        if let Some(journal) = &self.journal {
            journal.caught_up_for_search().await?;
        }
        let (page, staged) = self.db.read(move |conn| query.run(conn)).await?;
        if staged && self.vocab.flush_due() {
            // Words wait in staging until a result batch moves them; on a quiet store none
            // comes, so the search asks for the move (in the background: it has its page).
            // Only the move's own failure is counted, as in `vocab::write_terms`.
            let (db, cache) = (self.db.clone(), Arc::clone(&self.vocab));
            tokio::spawn(async move {
                let moved = db.write(0, move |conn| {
                    vocab::flush_staged(conn).inspect_err(|_| cache.move_failed())
                });
                if let Err(e) = moved.await {
                    tracing::warn!(error = %e, "moving staged search terms failed");
                }
            });
        }
        Ok(page)
    }
}

/// Wraps a SQLite error with what was being done.
fn sql_err(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::backend(context, e)
}

/// Decodes a stored JSON column.
fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}
