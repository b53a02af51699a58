//! Provider access tokens shared by every node (WeChat, WeCom, FCM, APNs, Getui).
//!
//! WeChat's `stable_token` and WeCom's `gettoken` hand out one token per app at a time; nodes
//! that each fetched and cached their own would keep replacing each other's. Here a token is
//! fetched by one node, written to `provider_tokens` sealed with the master key (a database
//! dump does not leak usable credentials), and read by the others. Each node keeps a copy in
//! memory until shortly before expiry, so the hot path costs no round trip; a provider's
//! "token invalid" answer makes a node drop its copy and the row (only while the row still
//! holds the token that failed, so a fresher token another node stored survives). A token is
//! replaced only by one that expires later, so a node that fetched earlier but writes later
//! cannot put back an older token. Fetching is single-flight per node, not per cluster: two
//! nodes that miss at the same moment both fetch (WeChat's `stable_token` returns the same
//! token to both unless one forces a refresh).

use crate::db::{Dialect, SqlDb, db_err, params};
use async_trait::async_trait;
use herald_domain::time::now_ms;
use herald_ports::{CachedToken, TokenCache};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Seals and opens token values (the server implements it with the master keys).
pub trait TokenSealer: Send + Sync + 'static {
    fn seal(&self, value: &str) -> String;
    /// `None` when the sealed text cannot be opened (e.g. a rotated-out key): treated as absent.
    fn open(&self, sealed: &str) -> Option<String>;
}

/// How long a node trusts its in-memory copy without reading the row again, at most.
const LOCAL_FOR_MS: i64 = 60_000;

/// The shared cache; cheap to clone.
#[derive(Clone)]
pub struct SqlTokenCache {
    db: SqlDb,
    sealer: Arc<dyn TokenSealer>,
    /// Key → (token, trusted until).
    local: Arc<Mutex<HashMap<String, (CachedToken, i64)>>>,
}

impl SqlTokenCache {
    pub fn new(db: SqlDb, sealer: Arc<dyn TokenSealer>) -> Self {
        Self {
            db,
            sealer,
            local: Arc::default(),
        }
    }

    fn local_get(&self, key: &str, now: i64) -> Option<CachedToken> {
        let local = self.local.lock().expect("token cache lock");
        local
            .get(key)
            .filter(|(token, until)| *until > now && token.expires_at > now)
            .map(|(token, _)| token.clone())
    }

    fn local_put(&self, key: &str, token: CachedToken, now: i64) {
        let until = token.expires_at.min(now + LOCAL_FOR_MS);
        let mut local = self.local.lock().expect("token cache lock");
        local.insert(key.to_owned(), (token, until));
    }

    async fn read(&self, key: &str, now: i64) -> Option<CachedToken> {
        let rows = self
            .db
            .fetch_all(
                "SELECT sealed, expires_at FROM provider_tokens WHERE token_key = ? AND expires_at > ?",
                params![key, now],
            )
            .await
            .map_err(db_err("reading a provider token"))
            .inspect_err(|e| tracing::warn!(key, error = %e, "shared token cache unavailable"))
            .ok()?;
        let row = rows.first()?;
        let value = self.sealer.open(&row.text(0).ok()?)?;
        Some(CachedToken {
            value,
            expires_at: row.int(1).ok()?,
        })
    }
}

#[async_trait]
impl TokenCache for SqlTokenCache {
    async fn get(&self, key: &str) -> Option<CachedToken> {
        let now = now_ms();
        if let Some(token) = self.local_get(key, now) {
            return Some(token);
        }
        let token = self.read(key, now).await?;
        self.local_put(key, token.clone(), now);
        Some(token)
    }

    async fn put(&self, key: &str, token: CachedToken) {
        let now = now_ms();
        let sealed = self.sealer.seal(&token.value);
        let sql = match self.db.dialect() {
            Dialect::Postgres => {
                "INSERT INTO provider_tokens (token_key, sealed, expires_at) VALUES (?, ?, ?)
                 ON CONFLICT (token_key) DO UPDATE SET
                   sealed = EXCLUDED.sealed, expires_at = EXCLUDED.expires_at
                 WHERE provider_tokens.expires_at < EXCLUDED.expires_at"
            }
            Dialect::MySql => {
                "INSERT INTO provider_tokens (token_key, sealed, expires_at) VALUES (?, ?, ?)
                 ON DUPLICATE KEY UPDATE
                   sealed = IF(expires_at < VALUES(expires_at), VALUES(sealed), sealed),
                   expires_at = GREATEST(expires_at, VALUES(expires_at))"
            }
        };
        if let Err(e) = self
            .db
            .execute(sql, params![key, sealed, token.expires_at])
            .await
        {
            tracing::warn!(key, error = %db_err("storing a provider token")(e), "token kept on this node only");
        }
        self.local_put(key, token, now);
    }

    async fn invalidate(&self, key: &str, value: &str) {
        {
            let mut local = self.local.lock().expect("token cache lock");
            if local.get(key).is_some_and(|(t, _)| t.value == value) {
                local.remove(key);
            }
        }
        // Sealing is randomized, so compare the opened value before deleting the exact row.
        let Ok(rows) = self
            .db
            .fetch_all(
                "SELECT sealed FROM provider_tokens WHERE token_key = ?",
                params![key],
            )
            .await
        else {
            return;
        };
        let Some(sealed) = rows.first().and_then(|r| r.text(0).ok()) else {
            return;
        };
        if self.sealer.open(&sealed).as_deref() == Some(value) {
            let deleted = self
                .db
                .execute(
                    "DELETE FROM provider_tokens WHERE token_key = ? AND sealed = ?",
                    params![key, sealed],
                )
                .await;
            if let Err(e) = deleted {
                tracing::warn!(key, error = %db_err("dropping a provider token")(e), "stale token left in the shared cache");
            }
        }
    }
}
