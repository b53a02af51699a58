//! [`DeadTokens`]: device tokens a provider said are gone (FCM `UNREGISTERED`, APNs 410
//! `Unregistered`, JPush 1011), so later sends to them fail fast as `Permanent
//! "unregistered"` without calling the provider.
//!
//! **Per node, in memory, for now**: each Herald node learns dead tokens from its own sends
//! and forgets them on restart; another node still calls the provider once per dead token and
//! learns it too. The set is bounded ([`DEFAULT_CAPACITY`] entries, oldest forgotten first) so a
//! flood of bad tokens cannot grow memory; a forgotten token only costs one provider call.
//! Entries are keyed by channel, account and token: a token dead for one app (APNs topic,
//! FCM project) says nothing about another account.

use herald_domain::{AccountId, ChannelKind, Outcome};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};

/// Entries kept before the oldest are forgotten.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// 128 bits of SHA-256 over the key: tokens can be kilobytes long, and a collision (which
/// would fail a live token) is out of reach at this size.
type Key = [u8; 16];

/// Shared by all the push channels of one node.
#[derive(Debug)]
pub struct DeadTokens {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    set: HashSet<Key>,
    /// Insertion order, for evicting the oldest.
    order: VecDeque<Key>,
}

impl Default for DeadTokens {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl DeadTokens {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    fn key(channel: ChannelKind, account: &AccountId, token: &str) -> Key {
        let mut hasher = Sha256::new();
        for part in [channel.as_str(), account.as_str(), token] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }

    /// Remembers that `token` is unregistered for this channel and account.
    pub fn mark(&self, channel: ChannelKind, account: &AccountId, token: &str) {
        let key = Self::key(channel, account, token);
        let mut inner = self.inner.lock();
        if !inner.set.insert(key) {
            return;
        }
        inner.order.push_back(key);
        while inner.order.len() > self.capacity {
            if let Some(oldest) = inner.order.pop_front() {
                inner.set.remove(&oldest);
            }
        }
    }

    pub fn is_dead(&self, channel: ChannelKind, account: &AccountId, token: &str) -> bool {
        let key = Self::key(channel, account, token);
        self.inner.lock().set.contains(&key)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The outcome of a send to a token the provider said is unregistered (now or earlier).
pub fn unregistered(message: impl Into<String>) -> Outcome {
    Outcome::Permanent {
        code: "unregistered".into(),
        message: message.into(),
    }
}

/// The outcome of a send skipped because the token is already known dead.
pub fn known_dead() -> Outcome {
    unregistered("device token was reported unregistered earlier; not sent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_by_channel_account_and_token_and_bounded() {
        let dead = DeadTokens::with_capacity(2);
        let (a, b) = (AccountId::generate(), AccountId::generate());
        dead.mark(ChannelKind::Fcm, &a, "t1");
        assert!(dead.is_dead(ChannelKind::Fcm, &a, "t1"));
        assert!(!dead.is_dead(ChannelKind::Fcm, &b, "t1"), "other account");
        assert!(!dead.is_dead(ChannelKind::Jpush, &a, "t1"), "other channel");
        dead.mark(ChannelKind::Fcm, &a, "t1");
        assert_eq!(dead.len(), 1, "marking twice keeps one entry");
        dead.mark(ChannelKind::Fcm, &a, "t2");
        dead.mark(ChannelKind::Fcm, &a, "t3");
        assert_eq!(dead.len(), 2);
        assert!(!dead.is_dead(ChannelKind::Fcm, &a, "t1"), "oldest evicted");
        assert!(dead.is_dead(ChannelKind::Fcm, &a, "t3"));
        assert_eq!(known_dead().code(), Some("unregistered"));
    }
}
