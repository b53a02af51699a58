//! [`ApnsChannel`]: one HTTP/2 `POST /3/device/<token>` per delivery with a cached ES256
//! provider token.

use super::errors::classify;
use super::jwt::{TOKEN_CACHE_SECS, apns_id, provider_token};
use crate::common::{
    TokenError, call, config_invalid, flag, result, secret_str, timeout, unix_secs,
};
use crate::dead_tokens::{DeadTokens, known_dead};
use async_trait::async_trait;
use herald_channels::ChannelDeps;
use herald_channels::token::TokenSource;
use herald_domain::time::now_ms;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, CachedToken, Channel, OutboundMessage, SendResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// APNs production and sandbox base URLs.
pub const PRODUCTION_ENDPOINT: &str = "https://api.push.apple.com";
pub const SANDBOX_ENDPOINT: &str = "https://api.sandbox.push.apple.com";

/// Template fields that go into `aps` (and the `apns-collapse-id` header) rather than being
/// custom top-level keys.
const APS_FIELDS: [&str; 4] = ["sound", "badge", "category", "thread_id"];
const COLLAPSE_FIELD: &str = "collapse_id";

/// Herald's APNs channel (token-based authentication, HTTP/2).
#[derive(Clone)]
pub struct ApnsChannel {
    deps: ChannelDeps,
    /// For `http://` endpoints (the simulator): HTTP/2 with prior knowledge (h2c), since
    /// there is no TLS to negotiate h2 over. `https://` endpoints use the shared client,
    /// which negotiates h2 by ALPN as APNs requires.
    h2c: reqwest::Client,
    /// Provider tokens per key (`apns:<team>:<key id>`), shared by all workers.
    tokens: TokenSource,
    dead: Arc<DeadTokens>,
}

/// One account's settings.
struct Target {
    endpoint: String,
    topic: String,
    push_type: String,
    priority: String,
    expiration_secs: Option<u64>,
    team_id: String,
    key_id: String,
    private_key: String,
    timeout: Duration,
}

impl Target {
    fn cache_key(&self) -> String {
        format!("apns:{}:{}", self.team_id, self.key_id)
    }
}

impl ApnsChannel {
    pub fn new(deps: ChannelDeps, dead: Arc<DeadTokens>) -> Self {
        let h2c = reqwest::Client::builder()
            .http2_prior_knowledge()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "no h2c client; plain-HTTP APNs endpoints will fail");
                deps.http.clone()
            });
        let tokens = TokenSource::new(deps.tokens.clone());
        Self {
            deps,
            h2c,
            tokens,
            dead,
        }
    }

    fn target(&self, account: &AccountContext) -> Result<Target, Outcome> {
        let default = if flag(account, "sandbox").unwrap_or(false) {
            SANDBOX_ENDPOINT
        } else {
            PRODUCTION_ENDPOINT
        };
        let endpoint = self
            .deps
            .endpoint(account.setting("endpoint"), default)
            .map_err(config_invalid)?;
        let topic = account
            .setting("topic")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                config_invalid("APNs account config needs topic (the app's bundle id)")
            })?;
        let config = &account.account.config;
        let priority = match config.get("priority") {
            None => "10".to_owned(),
            Some(v) => v
                .as_u64()
                .map(|p| p.to_string())
                .or_else(|| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        };
        Ok(Target {
            endpoint,
            topic: topic.to_owned(),
            push_type: account.setting("push_type").unwrap_or("alert").to_owned(),
            priority,
            expiration_secs: config
                .get("expiration_secs")
                .and_then(serde_json::Value::as_u64),
            team_id: secret_str(account, "team_id")?.to_owned(),
            key_id: secret_str(account, "key_id")?.to_owned(),
            private_key: secret_str(account, "private_key")?.to_owned(),
            timeout: timeout(account),
        })
    }

    async fn provider_token(&self, target: &Target) -> Result<CachedToken, TokenError> {
        self.tokens
            .get(&target.cache_key(), || async {
                let iat = unix_secs();
                let value =
                    provider_token(&target.team_id, &target.key_id, &target.private_key, iat)?;
                Ok(CachedToken {
                    value,
                    expires_at: iat * 1000 + TOKEN_CACHE_SECS * 1000,
                })
            })
            .await
    }

    fn client_for(&self, endpoint: &str) -> &reqwest::Client {
        if endpoint.starts_with("http://") {
            &self.h2c
        } else {
            &self.deps.http
        }
    }

    async fn send_one(&self, account: &AccountContext, message: &OutboundMessage) -> SendResult {
        let started = Instant::now();
        let device = message.receiver.to.as_str();
        if self
            .dead
            .is_dead(ChannelKind::Apns, &account.account.id, device)
        {
            return result(known_dead(), None, started);
        }
        let target = match self.target(account) {
            Ok(target) => target,
            Err(outcome) => return result(outcome, None, started),
        };
        let token = match self.provider_token(&target).await {
            Ok(token) => token,
            Err(e) => return result(e.outcome(), None, started),
        };
        let id = apns_id(message.delivery_id.as_str());
        let mut request = self
            .client_for(&target.endpoint)
            .post(format!("{}/3/device/{device}", target.endpoint))
            .timeout(target.timeout)
            .header("authorization", format!("bearer {}", token.value))
            .header("apns-topic", &target.topic)
            .header("apns-push-type", &target.push_type)
            .header("apns-priority", &target.priority)
            .header("apns-id", &id)
            .json(&payload(message));
        if let Some(ttl) = target.expiration_secs {
            request = request.header(
                "apns-expiration",
                (now_ms() / 1000 + ttl as i64).to_string(),
            );
        }
        if let Some(collapse) = message.content.fields.get(COLLAPSE_FIELD) {
            request = request.header("apns-collapse-id", collapse);
        }
        let answer = match call(request).await {
            Ok(answer) => answer,
            Err(outcome) => return result(outcome, None, started),
        };
        let provider_id = answer
            .headers
            .get("apns-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or(Some(id));
        if answer.status.is_success() {
            return result(
                Outcome::Delivered {
                    provider_id: provider_id.clone(),
                },
                provider_id,
                started,
            );
        }
        let classified = classify(answer.status.as_u16(), &answer.headers, &answer.body);
        if classified.token_rejected {
            self.tokens
                .invalidate(&target.cache_key(), &token.value)
                .await;
        }
        if classified.unregistered {
            self.dead
                .mark(ChannelKind::Apns, &account.account.id, device);
        }
        result(classified.outcome, provider_id, started)
    }
}

/// The notification: `aps.alert {title?, body}`, `sound`/`badge`/`category`/`thread_id`
/// fields into `aps`, every other template field a custom top-level key.
pub fn payload(message: &OutboundMessage) -> serde_json::Value {
    let content = &message.content;
    let mut alert = serde_json::Map::new();
    if let Some(title) = &content.title {
        alert.insert("title".into(), title.clone().into());
    }
    alert.insert("body".into(), content.body.clone().into());
    let mut aps = serde_json::Map::new();
    aps.insert("alert".into(), alert.into());
    let mut root = serde_json::Map::new();
    for (key, value) in &content.fields {
        match key.as_str() {
            "badge" => {
                let badge = value
                    .parse::<u64>()
                    .map_or_else(|_| value.clone().into(), serde_json::Value::from);
                aps.insert("badge".into(), badge);
            }
            "thread_id" => {
                aps.insert("thread-id".into(), value.clone().into());
            }
            k if APS_FIELDS.contains(&k) => {
                aps.insert(k.into(), value.clone().into());
            }
            COLLAPSE_FIELD | "aps" => {}
            _ => {
                root.insert(key.clone(), value.clone().into());
            }
        }
    }
    root.insert("aps".into(), aps.into());
    root.into()
}

#[async_trait]
impl Channel for ApnsChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Apns
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        futures::future::join_all(batch.iter().map(|m| self.send_one(account, m))).await
    }

    /// The rejected provider token was dropped on the 403; this signs the next one.
    async fn refresh_token(&self, account: &AccountContext) {
        if let Ok(target) = self.target(account)
            && let Err(e) = self.provider_token(&target).await
        {
            tracing::warn!(error = %e, "APNs provider token refresh failed");
        }
    }
}
