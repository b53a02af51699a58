//! [`GetuiChannel`]: `POST /v2/{appId}/push/single/cid` per delivery with a cached auth
//! token.

use super::errors::{AUTH_RATE, Answer, OK, STARTING, classify};
use super::signing::{request_id, sign};
use crate::common::{
    TokenError, call, config_invalid, read_body, result, secret_str, setting_or_secret, snippet,
    timeout,
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

/// Getui's production base URL.
pub const DEFAULT_ENDPOINT: &str = "https://restapi.getui.com";
/// Getui's limit on a notification title.
const MAX_TITLE_CHARS: usize = 50;

/// Herald's Getui UniPush v2 channel.
#[derive(Clone)]
pub struct GetuiChannel {
    deps: ChannelDeps,
    /// Auth tokens per app (`getui:<appId>`), shared by all workers.
    tokens: TokenSource,
    dead: Arc<DeadTokens>,
}

struct Target {
    /// `{endpoint}/v2/{appId}`.
    base: String,
    app_id: String,
    app_key: String,
    master_secret: String,
    timeout: Duration,
}

impl GetuiChannel {
    pub fn new(deps: ChannelDeps, dead: Arc<DeadTokens>) -> Self {
        let tokens = TokenSource::new(deps.tokens.clone());
        Self { deps, tokens, dead }
    }

    fn target(&self, account: &AccountContext) -> Result<Target, Outcome> {
        let endpoint = self
            .deps
            .endpoint(account.setting("endpoint"), DEFAULT_ENDPOINT)
            .map_err(config_invalid)?;
        let app_id = setting_or_secret(account, "app_id")
            .ok_or_else(|| config_invalid("Getui needs app_id"))?;
        let app_key = setting_or_secret(account, "app_key")
            .ok_or_else(|| config_invalid("Getui needs app_key"))?;
        Ok(Target {
            base: format!("{endpoint}/v2/{app_id}"),
            app_id: app_id.to_owned(),
            app_key: app_key.to_owned(),
            master_secret: secret_str(account, "master_secret")?.to_owned(),
            timeout: timeout(account),
        })
    }

    fn cache_key(target: &Target) -> String {
        format!("getui:{}", target.app_id)
    }

    async fn auth_token(&self, target: &Target) -> Result<CachedToken, TokenError> {
        self.tokens
            .get(&Self::cache_key(target), || self.authenticate(target))
            .await
    }

    /// `POST /v2/{appId}/auth`.
    async fn authenticate(&self, target: &Target) -> Result<CachedToken, TokenError> {
        let timestamp = now_ms();
        let body = serde_json::json!({
            "sign": sign(&target.app_key, timestamp, &target.master_secret),
            "timestamp": timestamp.to_string(),
            "appkey": target.app_key,
        });
        let response = self
            .deps
            .http
            .post(format!("{}/auth", target.base))
            .timeout(target.timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(format!("Getui auth: {e}")))?;
        let status = response.status();
        let body = read_body(response).await;
        let Ok(answer) = serde_json::from_slice::<Answer>(&body) else {
            return Err(TokenError::Unavailable(format!(
                "Getui auth HTTP {status}: {}",
                snippet(&body)
            )));
        };
        if answer.code != OK {
            let message = format!("Getui auth {}: {}", answer.code, answer.msg);
            let transient =
                status.is_server_error() || answer.code == AUTH_RATE || answer.code == STARTING;
            return Err(if transient {
                TokenError::Unavailable(message)
            } else {
                TokenError::Rejected(message)
            });
        }
        let data = answer.data.unwrap_or_default();
        let token = data["token"].as_str().filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(TokenError::Unavailable(
                "Getui auth answered without a token".into(),
            ));
        };
        let expires_at = data["expire_time"]
            .as_str()
            .and_then(|t| t.parse::<i64>().ok())
            .or_else(|| data["expire_time"].as_i64())
            .unwrap_or(timestamp + 24 * 3600 * 1000);
        Ok(CachedToken {
            value: token.to_owned(),
            expires_at,
        })
    }

    async fn send_one(&self, account: &AccountContext, message: &OutboundMessage) -> SendResult {
        let started = Instant::now();
        let cid = message.receiver.to.as_str();
        if self
            .dead
            .is_dead(ChannelKind::Getui, &account.account.id, cid)
        {
            return result(known_dead(), None, started);
        }
        let target = match self.target(account) {
            Ok(target) => target,
            Err(outcome) => return result(outcome, None, started),
        };
        let token = match self.auth_token(&target).await {
            Ok(token) => token,
            Err(e) => return result(e.outcome(), None, started),
        };
        let request = self
            .deps
            .http
            .post(format!("{}/push/single/cid", target.base))
            .timeout(target.timeout)
            .header("token", &token.value)
            .json(&payload(message));
        let http = match call(request).await {
            Ok(http) => http,
            Err(outcome) => return result(outcome, None, started),
        };
        if let Ok(answer) = serde_json::from_slice::<Answer>(&http.body)
            && http.status.is_success()
            && answer.code == OK
        {
            let task_id = answer
                .data
                .as_ref()
                .and_then(|d| d.as_object())
                .and_then(|d| d.keys().next().cloned());
            return result(
                Outcome::Delivered {
                    provider_id: task_id.clone(),
                },
                task_id,
                started,
            );
        }
        let classified = classify(http.status.as_u16(), &http.headers, &http.body);
        if classified.token_rejected {
            self.tokens
                .invalidate(&Self::cache_key(&target), &token.value)
                .await;
        }
        if classified.unregistered {
            self.dead.mark(ChannelKind::Getui, &account.account.id, cid);
        }
        result(classified.outcome, None, started)
    }
}

/// The push body: notification title (the body's start when the template has none, as Getui
/// requires one), body and click action from the `click_type`/`url`/`intent`/`payload` fields.
pub fn payload(message: &OutboundMessage) -> serde_json::Value {
    let content = &message.content;
    let title: String = content
        .title
        .as_deref()
        .unwrap_or(&content.body)
        .chars()
        .take(MAX_TITLE_CHARS)
        .collect();
    let mut notification = serde_json::json!({
        "title": title,
        "body": content.body,
        "click_type": content.fields.get("click_type").map_or("startapp", String::as_str),
    });
    for key in ["url", "intent", "payload"] {
        if let Some(value) = content.fields.get(key) {
            notification[key] = value.clone().into();
        }
    }
    serde_json::json!({
        "request_id": request_id(message.delivery_id.as_str()),
        "audience": { "cid": [message.receiver.to] },
        "push_message": { "notification": notification },
    })
}

#[async_trait]
impl Channel for GetuiChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Getui
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        futures::future::join_all(batch.iter().map(|m| self.send_one(account, m))).await
    }

    /// The rejected token was dropped on `10001`; this authenticates again.
    async fn refresh_token(&self, account: &AccountContext) {
        if let Ok(target) = self.target(account)
            && let Err(e) = self.auth_token(&target).await
        {
            tracing::warn!(error = %e, "Getui token refresh failed");
        }
    }
}
