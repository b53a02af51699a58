//! Provider access tokens (WeChat, WeCom, FCM, Getui…), cached once per cluster.
//!
//! WeChat invalidates the previous token when a new one is fetched, so nodes (and workers)
//! must share one token instead of each fetching its own. Channels read through
//! [`TokenCache`], refresh when a token is missing or near expiry, and on a provider's
//! "token invalid" answer call [`TokenCache::invalidate`] with the token they used — only
//! that token is dropped, so a token another worker just refreshed survives.

use async_trait::async_trait;
use herald_domain::Millis;

/// A cached token and when it stops being usable.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub value: String,
    pub expires_at: Millis,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait TokenCache: Send + Sync + 'static {
    /// The token under `key` (e.g. `wechat:<appid>`), if present and not expired.
    async fn get(&self, key: &str) -> Option<CachedToken>;
    async fn put(&self, key: &str, token: CachedToken);
    /// Drops the entry only if it still holds `value`.
    async fn invalidate(&self, key: &str, value: &str);
}
