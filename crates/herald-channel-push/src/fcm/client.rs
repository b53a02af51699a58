//! [`FcmChannel`]: one `messages:send` call per delivery with a cached OAuth token.

use super::errors::classify;
use super::oauth::{self, DEFAULT_TOKEN_URI, ServiceAccount};
use crate::common::{TokenError, call, config_invalid, result, timeout, unix_secs};
use crate::dead_tokens::{DeadTokens, known_dead};
use async_trait::async_trait;
use herald_channels::ChannelDeps;
use herald_channels::token::TokenSource;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, CachedToken, Channel, OutboundMessage, SendResult};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// FCM's production base URL.
pub const DEFAULT_ENDPOINT: &str = "https://fcm.googleapis.com";

/// Herald's FCM HTTP v1 channel.
#[derive(Clone)]
pub struct FcmChannel {
    deps: ChannelDeps,
    /// OAuth tokens per service account (`fcm:<client_email>`), shared by all workers.
    tokens: TokenSource,
    dead: Arc<DeadTokens>,
}

/// Everything one account's sends need, read from its config and secret.
struct Target {
    send_url: String,
    token_url: String,
    service_account: ServiceAccount,
    timeout: Duration,
}

impl Target {
    fn cache_key(&self) -> String {
        format!("fcm:{}", self.service_account.client_email)
    }
}

#[derive(Debug, Deserialize)]
struct SendResponse {
    name: String,
}

impl FcmChannel {
    pub fn new(deps: ChannelDeps, dead: Arc<DeadTokens>) -> Self {
        let tokens = TokenSource::new(deps.tokens.clone());
        Self { deps, tokens, dead }
    }

    fn target(&self, account: &AccountContext) -> Result<Target, Outcome> {
        let secret = account.secret.as_ref().ok_or_else(|| {
            config_invalid("FCM account has no secret (the service-account JSON)")
        })?;
        let service_account = ServiceAccount::deserialize(&secret.0)
            .map_err(|e| config_invalid(format!("FCM service account JSON: {e}")))?;
        let project = account
            .setting("project_id")
            .or(service_account.project_id.as_deref())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| config_invalid("FCM needs project_id (config or service account)"))?
            .to_owned();
        let endpoint = self
            .deps
            .endpoint(account.setting("endpoint"), DEFAULT_ENDPOINT)
            .map_err(config_invalid)?;
        let token_uri = account
            .setting("token_uri")
            .or(service_account.token_uri.as_deref());
        let token_url = self
            .deps
            .endpoint(token_uri, DEFAULT_TOKEN_URI)
            .map_err(config_invalid)?;
        Ok(Target {
            send_url: format!("{endpoint}/v1/projects/{project}/messages:send"),
            token_url,
            service_account,
            timeout: timeout(account),
        })
    }

    async fn access_token(&self, target: &Target) -> Result<CachedToken, TokenError> {
        self.tokens
            .get(&target.cache_key(), || async {
                let assertion =
                    oauth::assertion(&target.service_account, &target.token_url, unix_secs())?;
                oauth::exchange(
                    &self.deps.http,
                    &target.token_url,
                    &assertion,
                    target.timeout,
                )
                .await
            })
            .await
    }

    async fn send_one(&self, account: &AccountContext, message: &OutboundMessage) -> SendResult {
        let started = Instant::now();
        let device = message.receiver.to.as_str();
        if self
            .dead
            .is_dead(ChannelKind::Fcm, &account.account.id, device)
        {
            return result(known_dead(), None, started);
        }
        let target = match self.target(account) {
            Ok(target) => target,
            Err(outcome) => return result(outcome, None, started),
        };
        let token = match self.access_token(&target).await {
            Ok(token) => token,
            Err(e) => return result(e.outcome(), None, started),
        };
        let request = self
            .deps
            .http
            .post(&target.send_url)
            .timeout(target.timeout)
            .bearer_auth(&token.value)
            .json(&payload(message));
        let answer = match call(request).await {
            Ok(answer) => answer,
            Err(outcome) => return result(outcome, None, started),
        };
        if answer.status.is_success() {
            let name = serde_json::from_slice::<SendResponse>(&answer.body)
                .ok()
                .map(|r| r.name);
            return result(
                Outcome::Delivered {
                    provider_id: name.clone(),
                },
                name,
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
                .mark(ChannelKind::Fcm, &account.account.id, device);
        }
        result(classified.outcome, None, started)
    }
}

/// The `messages:send` body: notification title/body, template fields as `data`.
pub fn payload(message: &OutboundMessage) -> serde_json::Value {
    let content = &message.content;
    let mut notification = serde_json::Map::new();
    if let Some(title) = &content.title {
        notification.insert("title".into(), title.clone().into());
    }
    notification.insert("body".into(), content.body.clone().into());
    let mut inner = serde_json::json!({
        "token": message.receiver.to,
        "notification": notification,
    });
    if !content.fields.is_empty() {
        inner["data"] = serde_json::to_value(&content.fields).unwrap_or_default();
    }
    serde_json::json!({ "message": inner })
}

#[async_trait]
impl Channel for FcmChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Fcm
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        futures::future::join_all(batch.iter().map(|m| self.send_one(account, m))).await
    }

    /// The rejected token was dropped when FCM answered 401; this fetches the next one so
    /// the resend finds it ready.
    async fn refresh_token(&self, account: &AccountContext) {
        if let Ok(target) = self.target(account)
            && let Err(e) = self.access_token(&target).await
        {
            tracing::warn!(error = %e, "FCM token refresh failed");
        }
    }
}
