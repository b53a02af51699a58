//! [`WebhookChannel`]: signs and POSTs one delivery per request, and classifies the answer.

use super::errors::classify;
use super::payload::{
    HEADER_ID, HEADER_REQUEST_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, WebhookPayload,
};
use super::signature;
use crate::http::{body_snippet, transport_outcome};
use async_trait::async_trait;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, Channel, OutboundMessage, SendResult};
use parking_lot::Mutex;
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Request timeout when the account config sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on a configured timeout, so a typo cannot hold a worker for an hour.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// The secret field holding the HMAC key.
pub const SECRET_FIELD: &str = "signing_secret";

/// A webhook account's non-secret settings (`Account::config`).
#[derive(Debug, Clone, Deserialize)]
struct WebhookConfig {
    /// Absolute `http(s)://…` URL, or a path starting with `/` resolved against the node's
    /// own address (where the built-in simulator is mounted).
    url: String,
    /// Whole-request timeout in milliseconds.
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// An account's parsed URL and timeout, with the config they were read from.
#[derive(Debug)]
struct Target {
    config: serde_json::Value,
    url: Url,
    timeout: Duration,
}

/// Herald's webhook channel: signed JSON POSTs, also the sandbox channel.
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    /// Shared keep-alive pool; the caller builds it once per process.
    client: reqwest::Client,
    /// The Herald node's own base URL (`http://127.0.0.1:8080`) for relative account URLs.
    local_base: Option<String>,
    /// Targets by account id, reused while the account's config is unchanged: reading the
    /// config and parsing its URL for every delivery showed in profiles (~2 % of the workers).
    targets: Arc<Mutex<HashMap<String, Arc<Target>>>>,
}

impl WebhookChannel {
    pub fn new(client: reqwest::Client, local_base: Option<String>) -> Self {
        let local_base = local_base.map(|base| base.trim_end_matches('/').to_owned());
        Self {
            client,
            local_base,
            targets: Arc::default(),
        }
    }

    /// The target of an account (cached), or the permanent outcome of a bad config.
    fn target(&self, account: &AccountContext) -> Result<Arc<Target>, Outcome> {
        let id = account.account.id.as_str();
        if let Some(target) = self.targets.lock().get(id)
            && target.config == account.account.config
        {
            return Ok(target.clone());
        }
        let (url, timeout) = self.read_target(account)?;
        let url = Url::parse(&url).map_err(|e| Outcome::Permanent {
            code: "config_invalid".into(),
            message: format!("webhook url {url:?}: {e}"),
        })?;
        let target = Arc::new(Target {
            config: account.account.config.clone(),
            url,
            timeout,
        });
        self.targets.lock().insert(id.to_owned(), target.clone());
        Ok(target)
    }

    /// The target URL and timeout of an account, or the permanent outcome of a bad config.
    fn read_target(&self, account: &AccountContext) -> Result<(String, Duration), Outcome> {
        let invalid = |message: String| Outcome::Permanent {
            code: "config_invalid".into(),
            message,
        };
        let config = WebhookConfig::deserialize(&account.account.config)
            .map_err(|e| invalid(format!("webhook account config: {e}")))?;
        let url = if config.url.starts_with('/') {
            let base = self.local_base.as_deref().ok_or_else(|| {
                invalid(format!(
                    "relative url {} but this node has no local base address",
                    config.url
                ))
            })?;
            format!("{base}{}", config.url)
        } else {
            config.url
        };
        let timeout = config
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
            .clamp(Duration::from_millis(1), MAX_TIMEOUT);
        Ok((url, timeout))
    }

    async fn send_one(&self, account: &AccountContext, message: &OutboundMessage) -> SendResult {
        let started = Instant::now();
        let (outcome, provider_request_id) = match self.target(account) {
            Ok(target) => self.post(account, message, &target).await,
            Err(outcome) => (outcome, None),
        };
        let latency = started.elapsed();
        tracing::debug!(
            delivery_id = %message.delivery_id,
            class = outcome.class(),
            code = outcome.code(),
            latency_ms = latency.as_millis() as u64,
            "webhook send"
        );
        SendResult {
            outcome,
            provider_request_id,
            latency,
        }
    }

    async fn post(
        &self,
        account: &AccountContext,
        message: &OutboundMessage,
        target: &Target,
    ) -> (Outcome, Option<String>) {
        let timestamp = unix_seconds();
        let id = message.delivery_id.as_str();
        let payload = WebhookPayload {
            id,
            message_id: message.message_id.as_str(),
            app_id: message.app_id.as_str(),
            receiver: &message.receiver,
            title: message.content.title.as_deref(),
            body: &message.content.body,
            fields: &message.content.fields,
            attempt: message.attempt,
            timestamp,
        };
        let body = match serde_json::to_vec(&payload) {
            Ok(body) => body,
            Err(e) => {
                let outcome = Outcome::Permanent {
                    code: "payload_invalid".into(),
                    message: e.to_string(),
                };
                return (outcome, None);
            }
        };
        let mut request = self
            .client
            .post(target.url.clone())
            .timeout(target.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(HEADER_ID, id)
            .header(HEADER_TIMESTAMP, timestamp.to_string());
        let secret = account.secret.as_ref().and_then(|s| s.str(SECRET_FIELD));
        if let Some(secret) = secret {
            let signature = signature::sign(secret.as_bytes(), id, timestamp, &body);
            request = request.header(HEADER_SIGNATURE, signature);
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(e) => return (transport_outcome(&e), None),
        };
        let status = response.status();
        let provider_id = response
            .headers()
            .get(HEADER_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Only a failure reads headers (Retry-After); a success needs no copy of them.
        let headers = if status.is_success() {
            reqwest::header::HeaderMap::new()
        } else {
            response.headers().clone()
        };
        // Drain (bounded) so the pooled connection is reusable; keep the text for failures.
        let snippet = body_snippet(response).await;
        let snippet = if status.is_success() { "" } else { &snippet };
        (
            classify(status, &headers, provider_id.clone(), snippet),
            provider_id,
        )
    }
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[async_trait]
impl Channel for WebhookChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Webhook
    }

    fn max_batch(&self) -> usize {
        1
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        futures::future::join_all(batch.iter().map(|m| self.send_one(account, m))).await
    }
}
