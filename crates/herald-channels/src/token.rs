//! Access tokens for providers that issue them (WeChat, WeCom, FCM, Getui, APNs JWTs).
//!
//! [`MemoryTokenCache`] is the in-process [`TokenCache`] of the embedded default.
//! [`TokenSource`] wraps any cache with single-flight refresh: when many workers find the
//! token missing at once, one fetches and the others wait for its result, so a provider that
//! invalidates the previous token on every fetch (WeChat) is asked once.

use herald_domain::time::now_ms;
use herald_ports::{CachedToken, TokenCache};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// Tokens in a map, for one process.
#[derive(Default)]
pub struct MemoryTokenCache {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

#[async_trait::async_trait]
impl TokenCache for MemoryTokenCache {
    async fn get(&self, key: &str) -> Option<CachedToken> {
        self.tokens
            .lock()
            .get(key)
            .filter(|t| t.expires_at > now_ms())
            .cloned()
    }

    async fn put(&self, key: &str, token: CachedToken) {
        self.tokens.lock().insert(key.to_owned(), token);
    }

    async fn invalidate(&self, key: &str, value: &str) {
        let mut tokens = self.tokens.lock();
        if tokens.get(key).is_some_and(|t| t.value == value) {
            tokens.remove(key);
        }
    }
}

/// Single-flight token fetching over a shared cache.
#[derive(Clone)]
pub struct TokenSource {
    cache: Arc<dyn TokenCache>,
    /// One async lock per key: whoever holds it fetches; the others then find the new token.
    fetching: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Tokens are refreshed this long before they expire.
    pub refresh_margin_ms: i64,
}

impl TokenSource {
    pub fn new(cache: Arc<dyn TokenCache>) -> Self {
        Self {
            cache,
            fetching: Arc::default(),
            refresh_margin_ms: 5 * 60 * 1000,
        }
    }

    /// The cached token for `key`, or the one `fetch` returns (then cached). `fetch` runs at
    /// most once at a time per key in this process.
    pub async fn get<F, Fut, E>(&self, key: &str, fetch: F) -> Result<CachedToken, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedToken, E>>,
    {
        if let Some(t) = self.fresh(key).await {
            return Ok(t);
        }
        let lock = self
            .fetching
            .lock()
            .entry(key.to_owned())
            .or_default()
            .clone();
        let _guard = lock.lock().await;
        if let Some(t) = self.fresh(key).await {
            return Ok(t);
        }
        let token = fetch().await?;
        self.cache.put(key, token.clone()).await;
        Ok(token)
    }

    /// Drops `value` after the provider rejected it (only if it is still the cached one).
    pub async fn invalidate(&self, key: &str, value: &str) {
        self.cache.invalidate(key, value).await;
    }

    async fn fresh(&self, key: &str) -> Option<CachedToken> {
        self.cache
            .get(key)
            .await
            .filter(|t| t.expires_at - self.refresh_margin_ms > now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn concurrent_misses_fetch_once_and_invalidate_only_the_rejected_token() {
        let source = TokenSource::new(Arc::new(MemoryTokenCache::default()));
        let fetches = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (source, fetches) = (source.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                source
                    .get("wx:app", || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Ok::<_, ()>(CachedToken {
                            value: "t1".into(),
                            expires_at: now_ms() + 7_200_000,
                        })
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().value, "t1");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        source.invalidate("wx:app", "old-token").await;
        assert!(
            source.fresh("wx:app").await.is_some(),
            "a stale invalidation keeps the new token"
        );
        source.invalidate("wx:app", "t1").await;
        assert!(source.fresh("wx:app").await.is_none());
    }
}
