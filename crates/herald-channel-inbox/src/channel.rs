//! [`InboxChannel`]: the inbox as a channel. Storing the item *is* the delivery.
//!
//! A batch (up to [`InboxChannel::MAX_BATCH`] deliveries of one account) is stored in one
//! call — one group commit in the embedded backend. The delivery id is the item id, so a
//! redelivered task stores nothing and still answers `Delivered`. After a store, watched
//! users get a `Message` event per new item and their new unread count.
//!
//! Error table:
//!
//! | condition | outcome | code |
//! |---|---|---|
//! | stored, or stored before (duplicate) | `Delivered` | — |
//! | receiver is not a valid end-user id | `Permanent` | `invalid_user_id` |
//! | the store failed (disk, shutdown) | `Retryable` | `inbox_unavailable` |

use crate::hub::{InboxEvent, InboxHub};
use async_trait::async_trait;
use herald_domain::time::now_ms;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{
    AccountContext, Channel, Inbox, InboxItem, InboxState, OutboundMessage, SendResult,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// Stores deliveries in the end users' inboxes.
#[derive(Clone)]
pub struct InboxChannel {
    /// Where items are stored.
    inbox: Arc<dyn Inbox>,
    /// Live streams to notify (shared with the user API).
    hub: InboxHub,
}

impl std::fmt::Debug for InboxChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxChannel")
            .field("hub", &self.hub)
            .finish()
    }
}

impl InboxChannel {
    /// Most deliveries stored per call.
    pub const MAX_BATCH: usize = 500;

    pub fn new(inbox: Arc<dyn Inbox>, hub: InboxHub) -> Self {
        Self { inbox, hub }
    }

    /// Tells watched users about new items and their unread counts.
    async fn notify(&self, stored: Vec<InboxItem>) {
        let mut users = BTreeSet::new();
        for item in stored {
            if self.hub.is_watched(&item.app_id, &item.user_id) {
                users.insert((item.app_id.clone(), item.user_id.clone()));
                let (app, user) = (item.app_id.clone(), item.user_id.clone());
                self.hub
                    .publish(&app, &user, InboxEvent::Message(Arc::new(item)));
            }
        }
        for (app, user) in users {
            match self.inbox.unread_count(&app, &user).await {
                Ok(count) => {
                    self.hub
                        .publish(&app, &user, InboxEvent::UnreadCount(count));
                }
                Err(e) => tracing::warn!(error = %e, "inbox unread count for a live stream"),
            }
        }
    }
}

fn item_of(message: &OutboundMessage, now: i64) -> InboxItem {
    InboxItem {
        id: message.delivery_id.clone(),
        app_id: message.app_id.clone(),
        user_id: message.receiver.to.clone(),
        message_id: message.message_id.clone(),
        title: message.content.title.clone(),
        body: message.content.body.clone(),
        fields: message.content.fields.clone(),
        state: InboxState::Unread,
        created_at: now,
        read_at: None,
    }
}

#[async_trait]
impl Channel for InboxChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Inbox
    }

    fn max_batch(&self) -> usize {
        Self::MAX_BATCH
    }

    async fn send(&self, _account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        let started = Instant::now();
        let now = now_ms();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
        let mut to_store = Vec::with_capacity(batch.len());
        for (slot, message) in outcomes.iter_mut().zip(batch) {
            match ChannelKind::Inbox.validate_receiver(&message.receiver.to) {
                Ok(()) => to_store.push(item_of(message, now)),
                Err(reason) => {
                    *slot = Some(Outcome::Permanent {
                        code: "invalid_user_id".into(),
                        message: format!("inbox receiver {reason}"),
                    })
                }
            }
        }
        let stored = match self.inbox.store(to_store.clone()).await {
            Ok(fresh) => {
                let new_items = to_store
                    .into_iter()
                    .zip(fresh)
                    .filter_map(|(item, is_new)| is_new.then_some(item))
                    .collect();
                Ok(new_items)
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = batch.len(), "inbox store failed");
                Err(Outcome::Retryable {
                    code: "inbox_unavailable".into(),
                    message: e.to_string(),
                    retry_after_ms: None,
                })
            }
        };
        let stored_outcome = match &stored {
            Ok(_) => Outcome::Delivered { provider_id: None },
            Err(failure) => failure.clone(),
        };
        if let Ok(new_items) = stored {
            self.notify(new_items).await;
        }
        let latency = started.elapsed();
        outcomes
            .into_iter()
            .map(|outcome| SendResult {
                outcome: outcome.unwrap_or_else(|| stored_outcome.clone()),
                provider_request_id: None,
                latency,
            })
            .collect()
    }
}
