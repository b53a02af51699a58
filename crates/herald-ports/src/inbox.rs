//! The inbox port: in-site messages stored per end user, read by end-user apps.
//!
//! The inbox channel stores one item per delivery (the delivery id is the item id, so storing
//! the same delivery twice is a no-op: a redelivered queue task never duplicates a message);
//! end-user apps list, count, mark and delete their own items. Every call names the app *and*
//! the user: one user's token can never reach another user's items, nor another app's.
//!
//! Promises every backend keeps (checked by [`crate::conformance::inbox`]):
//! - [`Inbox::store`] inserts only ids not seen before in the app — including ids deleted
//!   since (deletion leaves a tombstone, so a redelivery after a delete stays deleted);
//! - listing is newest *stored* first; a cursor walks every matching item exactly once;
//! - the unread count equals the number of items in state `unread`;
//! - marking an item `read` or `archived` sets `read_at` if it was unset, `unread` clears it;
//! - a deleted item is gone for every call (list, get, mark, delete again).

use crate::error::StoreError;
use async_trait::async_trait;
use herald_domain::{AppId, DeliveryId, MessageId, Millis};
use std::collections::BTreeMap;

/// Where an item sits in its user's inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboxState {
    Unread,
    Read,
    Archived,
}

impl InboxState {
    pub const ALL: [InboxState; 3] = [Self::Unread, Self::Read, Self::Archived];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unread => "unread",
            Self::Read => "read",
            Self::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// Which items a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InboxFilter {
    /// Unread and read: what an inbox view shows (the default).
    #[default]
    Active,
    /// Only items in this state.
    Only(InboxState),
    /// Every item that is not deleted, archived ones included.
    All,
}

impl InboxFilter {
    /// Parses the API's `state` parameter: `active`, `unread`, `read`, `archived`, `all`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "all" => Some(Self::All),
            other => InboxState::parse(other).map(Self::Only),
        }
    }

    /// Whether an item in `state` matches.
    pub fn matches(self, state: InboxState) -> bool {
        match self {
            Self::Active => state != InboxState::Archived,
            Self::Only(only) => state == only,
            Self::All => true,
        }
    }
}

/// One stored inbox item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    /// The delivery id: unique in the app, the dedup key of [`Inbox::store`].
    pub id: DeliveryId,
    pub app_id: AppId,
    /// The end user (the delivery's receiver).
    pub user_id: String,
    /// The accepted message this item came from.
    pub message_id: MessageId,
    pub title: Option<String>,
    pub body: String,
    /// The template's extra fields (link, icon, category, …), as rendered.
    pub fields: BTreeMap<String, String>,
    pub state: InboxState,
    pub created_at: Millis,
    /// When the user first read (or archived) it; cleared by marking it unread.
    pub read_at: Option<Millis>,
}

/// A page of items, newest first, with the cursor of the next page (if any).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    pub next_cursor: Option<String>,
}

/// Storage of in-site messages, scoped by app and user on every call.
#[async_trait]
pub trait Inbox: Send + Sync + 'static {
    /// Stores items durably; returns, per item and in order, whether it was new (`false`:
    /// its id was already stored — or deleted — in its app, and nothing changed).
    async fn store(&self, items: Vec<InboxItem>) -> Result<Vec<bool>, StoreError>;

    /// Items of one user matching `filter`, newest stored first. `cursor` is a previous
    /// page's `next_cursor` (anything else is `InvalidInput`); `limit` is 1–1000.
    async fn list(
        &self,
        app: &AppId,
        user: &str,
        filter: InboxFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<InboxPage, StoreError>;

    /// One item of the user; `None` when it does not exist, is deleted or is someone else's.
    async fn get(
        &self,
        app: &AppId,
        user: &str,
        id: &DeliveryId,
    ) -> Result<Option<InboxItem>, StoreError>;

    /// How many of the user's items are unread.
    async fn unread_count(&self, app: &AppId, user: &str) -> Result<u64, StoreError>;

    /// Moves one item to `state` at time `now`; returns it as stored afterwards, `None` when
    /// it does not exist for this user (or is deleted).
    async fn set_state(
        &self,
        app: &AppId,
        user: &str,
        id: &DeliveryId,
        state: InboxState,
        now: Millis,
    ) -> Result<Option<InboxItem>, StoreError>;

    /// Marks every unread item of the user read; returns how many changed.
    async fn mark_all_read(&self, app: &AppId, user: &str, now: Millis) -> Result<u64, StoreError>;

    /// Deletes one item (content erased, a tombstone keeps the id so it is never stored
    /// again); `false` when it did not exist for this user or was already deleted.
    async fn delete(&self, app: &AppId, user: &str, id: &DeliveryId) -> Result<bool, StoreError>;
}
