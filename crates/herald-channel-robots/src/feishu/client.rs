//! [`FeishuChannel`]: POSTs one signed message per call to a Feishu custom bot, paced to
//! the bot's 5 per second and 100 per minute, and classifies the answer.

use super::errors::classify;
use super::{payload, signing};
use crate::pacing::{Pacer, Window};
use crate::robot::{
    MAX_PACING_WAIT, RobotSettings, optional_secret, paced, post_json, secret_field, settle,
    unix_millis,
};
use async_trait::async_trait;
use herald_channels::ChannelDeps;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, Channel, OutboundMessage, SendResult};
use std::time::Instant;

/// Feishu's production API (Lark: `https://open.larksuite.com`).
pub const DEFAULT_ENDPOINT: &str = "https://open.feishu.cn";
/// Messages a bot may send per minute.
pub const PER_MINUTE: u32 = 100;
/// Messages a bot may send per second.
pub const PER_SECOND: u32 = 5;
/// Secret field with the bot's webhook id (the last path segment of its URL).
pub const SECRET_HOOK_ID: &str = "hook_id";
/// Secret field with the bot's signing secret; absent = unsigned bot.
pub const SECRET_SIGNING: &str = "secret";

/// The Feishu (Lark) custom-bot channel.
pub struct FeishuChannel {
    /// HTTP client and this node's base URL (for `/sim/feishu` endpoints).
    deps: ChannelDeps,
    /// Per-bot second and minute windows.
    pacer: Pacer,
}

impl FeishuChannel {
    pub fn new(deps: ChannelDeps) -> Self {
        Self {
            deps,
            pacer: Pacer::default(),
        }
    }

    async fn deliver(
        &self,
        account: &AccountContext,
        message: &OutboundMessage,
    ) -> Result<Outcome, Outcome> {
        let settings = RobotSettings::from_account(&self.deps, account, DEFAULT_ENDPOINT)?;
        let hook_id = secret_field(account, SECRET_HOOK_ID)?;
        let mut body = payload::build(&message.content)?;
        if let (Some(secret), Some(fields)) = (
            optional_secret(account, SECRET_SIGNING),
            body.as_object_mut(),
        ) {
            let timestamp = unix_millis() / 1000;
            fields.insert("timestamp".into(), timestamp.to_string().into());
            fields.insert("sign".into(), signing::sign(secret, timestamp).into());
        }

        let windows = [
            Window::per_second(PER_SECOND),
            Window::per_minute(settings.per_minute.unwrap_or(PER_MINUTE)),
        ];
        self.pacer
            .take(account.account.id.as_str(), &windows, MAX_PACING_WAIT)
            .await
            .map_err(|wait| paced("Feishu", wait))?;

        let url = format!("{}/open-apis/bot/v2/hook/{hook_id}", settings.base);
        let answer = post_json(self.deps.http.post(url), &body, settings.timeout).await?;
        Ok(classify(&answer))
    }
}

#[async_trait]
impl Channel for FeishuChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Feishu
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        let mut results = Vec::with_capacity(batch.len());
        // One bot, one group: sequential sends keep the group's message order.
        for message in batch {
            let started = Instant::now();
            let outcome = settle(self.deliver(account, message).await);
            tracing::debug!(
                delivery_id = %message.delivery_id,
                class = outcome.class(),
                code = outcome.code(),
                "feishu send"
            );
            results.push(SendResult {
                outcome,
                provider_request_id: None,
                latency: started.elapsed(),
            });
        }
        results
    }
}
