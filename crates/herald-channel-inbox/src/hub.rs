//! [`InboxHub`]: live inbox events per end user, in process.
//!
//! One tokio broadcast channel per `(app, user)` that has at least one open stream. The
//! inbox channel publishes a `Message` event per newly stored item, and it and the user API
//! publish `UnreadCount` after every change — but only for users someone is watching
//! ([`InboxHub::is_watched`]), so the send path does no extra reads for users without a
//! stream. A channel disappears with its last [`Subscription`].
//!
//! The hub is per process: a stream sees what this node stored or changed. In a cluster
//! where workers and API nodes are separate processes, the hub would be fed from the result
//! topic instead (see `docs/inbox.md`).

use herald_domain::AppId;
use herald_ports::InboxItem;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events buffered per user before a slow stream lags (and is told to resync).
const BUFFER_PER_USER: usize = 64;

/// A live update for one user.
#[derive(Debug, Clone, PartialEq)]
pub enum InboxEvent {
    /// A new item was stored.
    Message(Arc<InboxItem>),
    /// The user's unread count is now this.
    UnreadCount(u64),
}

type Key = (AppId, String);

/// Broadcast channels by `(app, user)`; cheap to clone (one shared map).
#[derive(Clone, Default)]
pub struct InboxHub {
    /// Senders of users with at least one subscription.
    channels: Arc<Mutex<HashMap<Key, broadcast::Sender<InboxEvent>>>>,
}

impl std::fmt::Debug for InboxHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxHub")
            .field("watched_users", &self.channels.lock().len())
            .finish()
    }
}

impl InboxHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts receiving the events of `user` in `app`.
    pub fn subscribe(&self, app: &AppId, user: &str) -> Subscription {
        let key = (app.clone(), user.to_owned());
        let receiver = self
            .channels
            .lock()
            .entry(key.clone())
            .or_insert_with(|| broadcast::channel(BUFFER_PER_USER).0)
            .subscribe();
        Subscription {
            receiver,
            hub: self.clone(),
            key,
        }
    }

    /// Whether anyone streams `user`'s events (so computing an event is worth it).
    pub fn is_watched(&self, app: &AppId, user: &str) -> bool {
        self.channels
            .lock()
            .contains_key(&(app.clone(), user.to_owned()))
    }

    /// Sends `event` to every stream of `user`; returns how many received it.
    pub fn publish(&self, app: &AppId, user: &str, event: InboxEvent) -> usize {
        let channels = self.channels.lock();
        match channels.get(&(app.clone(), user.to_owned())) {
            Some(sender) => sender.send(event).unwrap_or(0),
            None => 0,
        }
    }

    /// Users with at least one open stream.
    pub fn watched_users(&self) -> usize {
        self.channels.lock().len()
    }
}

/// One stream's receiving end; dropping the last one of a user frees the user's channel.
pub struct Subscription {
    /// This stream's receiver on the user's channel.
    receiver: broadcast::Receiver<InboxEvent>,
    /// The hub to clean up on drop.
    hub: InboxHub,
    key: Key,
}

impl Subscription {
    /// The next event; `Err(Lagged)` when this stream fell behind and events were dropped.
    pub async fn recv(&mut self) -> Result<InboxEvent, broadcast::error::RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.channels.lock();
        // Our own receiver still counts here: 1 means we are the last one.
        if channels
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            channels.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_only_their_user_and_channels_are_freed() {
        let hub = InboxHub::new();
        let app = AppId::generate();
        let mut first = hub.subscribe(&app, "u-1");
        let mut second = hub.subscribe(&app, "u-1");
        let other = hub.subscribe(&app, "u-2");
        assert!(hub.is_watched(&app, "u-1"));
        assert!(!hub.is_watched(&AppId::generate(), "u-1"), "apps are apart");
        assert_eq!(hub.publish(&app, "u-1", InboxEvent::UnreadCount(3)), 2);
        assert_eq!(first.recv().await.unwrap(), InboxEvent::UnreadCount(3));
        assert_eq!(second.recv().await.unwrap(), InboxEvent::UnreadCount(3));
        assert_eq!(hub.publish(&app, "nobody", InboxEvent::UnreadCount(1)), 0);

        drop(first);
        assert!(hub.is_watched(&app, "u-1"), "one stream of u-1 remains");
        drop(second);
        assert!(
            !hub.is_watched(&app, "u-1"),
            "the last stream frees the channel"
        );
        assert_eq!(hub.watched_users(), 1);
        drop(other);
        assert_eq!(hub.watched_users(), 0);
    }

    #[tokio::test]
    async fn a_slow_stream_is_told_it_lagged() {
        let hub = InboxHub::new();
        let app = AppId::generate();
        let mut slow = hub.subscribe(&app, "u-1");
        for n in 0..(BUFFER_PER_USER as u64 + 5) {
            hub.publish(&app, "u-1", InboxEvent::UnreadCount(n));
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(5))
        ));
    }
}
