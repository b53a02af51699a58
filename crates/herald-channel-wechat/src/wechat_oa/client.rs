//! [`WechatOaChannel`]: template and subscribe messages with a shared stable access token.

use super::errors::{TOKEN_ERRORS, classify};
use super::payload::{self, MessageKind};
use crate::common::call::{
    self, Reply, endpoint, required_secret, required_setting, timeout, token_fetch_failure,
};
use async_trait::async_trait;
use herald_channels::ChannelDeps;
use herald_channels::token::TokenSource;
use herald_domain::time::now_ms;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, CachedToken, Channel, OutboundMessage, SendResult};
use parking_lot::Mutex;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The production API.
pub const PRODUCTION: &str = "https://api.weixin.qq.com";
/// Secret field holding the AppSecret.
pub const SECRET_APP_SECRET: &str = "app_secret";

/// The token cache key of an appid, shared by every worker and node.
pub fn token_key(appid: &str) -> String {
    format!("wechat:{appid}")
}

/// Where and as whom an account sends.
struct Target {
    base: String,
    appid: String,
    secret: String,
    timeout: Duration,
}

/// The WeChat Official Account channel.
pub struct WechatOaChannel {
    deps: ChannelDeps,
    /// Single-flight over the shared cache: 20 workers finding no token fetch it once.
    tokens: TokenSource,
    /// The token the provider last rejected, per key: if a plain refetch hands it back
    /// (stable_token keeps returning a live token), `refresh_token` forces a new one.
    rejected: Mutex<HashMap<String, String>>,
}

impl WechatOaChannel {
    pub fn new(deps: ChannelDeps) -> Self {
        let tokens = TokenSource::new(deps.tokens.clone());
        Self {
            deps,
            tokens,
            rejected: Mutex::default(),
        }
    }

    fn target(&self, account: &AccountContext) -> Result<Target, Outcome> {
        Ok(Target {
            base: endpoint(&self.deps, account, PRODUCTION)?,
            appid: required_setting(account, "appid")?.to_owned(),
            secret: required_secret(account, SECRET_APP_SECRET)?.to_owned(),
            timeout: timeout(account),
        })
    }

    /// `POST /cgi-bin/stable_token`.
    async fn fetch_token(
        &self,
        target: &Target,
        force_refresh: bool,
    ) -> Result<CachedToken, Outcome> {
        let request = self
            .deps
            .http
            .post(format!("{}/cgi-bin/stable_token", target.base))
            .timeout(target.timeout)
            .json(&json!({
                "grant_type": "client_credential",
                "appid": target.appid,
                "secret": target.secret,
                "force_refresh": force_refresh,
            }));
        let reply = call::call(request).await.map_err(token_fetch_failure)?;
        token_from_reply(&reply)
    }

    async fn token(&self, target: &Target, force_refresh: bool) -> Result<CachedToken, Outcome> {
        self.tokens
            .get(&token_key(&target.appid), || {
                self.fetch_token(target, force_refresh)
            })
            .await
    }

    async fn send_one(&self, account: &AccountContext, message: &OutboundMessage) -> SendResult {
        let started = Instant::now();
        let (outcome, provider_request_id) = match self.try_send(account, message).await {
            Ok(outcome) => {
                let id = match &outcome {
                    Outcome::Sent { provider_id } | Outcome::Delivered { provider_id } => {
                        provider_id.clone()
                    }
                    _ => None,
                };
                (outcome, id)
            }
            Err(outcome) => (outcome, None),
        };
        tracing::debug!(
            delivery_id = %message.delivery_id,
            class = outcome.class(),
            code = outcome.code(),
            "wechat_oa send"
        );
        SendResult {
            outcome,
            provider_request_id,
            latency: started.elapsed(),
        }
    }

    async fn try_send(
        &self,
        account: &AccountContext,
        message: &OutboundMessage,
    ) -> Result<Outcome, Outcome> {
        let target = self.target(account)?;
        let request = payload::build(message)?;
        let token = self.token(&target, false).await?;
        let http = self
            .deps
            .http
            .post(format!("{}{}", target.base, request.kind.path()))
            .query(&[("access_token", token.value.as_str())])
            .timeout(target.timeout)
            .json(&request.body);
        let reply = call::call(http).await?;
        if reply.errcode == 0 {
            let provider_id = reply.text("msgid");
            return Ok(match request.kind {
                MessageKind::Template => Outcome::Sent { provider_id },
                MessageKind::Subscribe => Outcome::Delivered { provider_id },
            });
        }
        if TOKEN_ERRORS.contains(&reply.errcode) {
            let key = token_key(&target.appid);
            self.tokens.invalidate(&key, &token.value).await;
            self.rejected.lock().insert(key, token.value);
        }
        Ok(classify(reply.errcode, &reply.errmsg, now_ms()))
    }
}

/// The token of a stable_token reply (errcodes there are about the account, never a token).
fn token_from_reply(reply: &Reply) -> Result<CachedToken, Outcome> {
    if reply.errcode != 0 {
        return Err(match classify(reply.errcode, &reply.errmsg, now_ms()) {
            Outcome::TokenExpired { code, message } => Outcome::Permanent { code, message },
            other => other,
        });
    }
    let value = reply.text("access_token").filter(|t| !t.is_empty());
    let expires_in = reply
        .rest
        .get("expires_in")
        .and_then(serde_json::Value::as_i64);
    match (value, expires_in) {
        (Some(value), Some(expires_in)) => Ok(CachedToken {
            value,
            expires_at: now_ms() + expires_in.max(0) * 1000,
        }),
        _ => Err(Outcome::Retryable {
            code: "token_bad_reply".into(),
            message: format!(
                "token reply without access_token/expires_in ({})",
                reply.describe()
            ),
            retry_after_ms: None,
        }),
    }
}

#[async_trait]
impl Channel for WechatOaChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WechatOa
    }

    fn max_batch(&self) -> usize {
        1
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        futures::future::join_all(batch.iter().map(|m| self.send_one(account, m))).await
    }

    /// Fetches a token to replace the rejected one (already dropped by `send`); when
    /// stable_token hands the rejected token back, forces a new one.
    async fn refresh_token(&self, account: &AccountContext) {
        let Ok(target) = self.target(account) else {
            return;
        };
        let key = token_key(&target.appid);
        let rejected = self.rejected.lock().remove(&key);
        let result = match self.token(&target, false).await {
            Ok(token) if Some(&token.value) == rejected.as_ref() => {
                self.tokens.invalidate(&key, &token.value).await;
                self.token(&target, true).await
            }
            other => other,
        };
        if let Err(outcome) = result {
            tracing::warn!(appid = %target.appid, code = outcome.code(), "wechat token refresh failed");
        }
    }
}
