//! [`DingtalkChannel`]: signs and POSTs one message per call to a DingTalk group robot,
//! paced to the robot's 20 messages a minute, and classifies the answer.

use super::errors::{THROTTLE_MUTE, TOO_FAST, classify};
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

/// DingTalk's production API.
pub const DEFAULT_ENDPOINT: &str = "https://oapi.dingtalk.com";
/// Messages a robot may send per minute (more → `130101` and a ten-minute mute).
pub const PER_MINUTE: u32 = 20;
/// Secret field with the robot's webhook `access_token`.
pub const SECRET_ACCESS_TOKEN: &str = "access_token";
/// Secret field with the robot's signing secret (`SEC…`); absent = unsigned robot.
pub const SECRET_SIGNING: &str = "secret";

/// The DingTalk group-robot channel.
pub struct DingtalkChannel {
    /// HTTP client and this node's base URL (for `/sim/dingtalk` endpoints).
    deps: ChannelDeps,
    /// Per-robot minute windows and mutes after a `130101`.
    pacer: Pacer,
}

impl DingtalkChannel {
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
        let token = secret_field(account, SECRET_ACCESS_TOKEN)?;
        let secret = optional_secret(account, SECRET_SIGNING);
        let body = payload::build(&message.content)?;

        let key = account.account.id.as_str();
        let windows = [Window::per_minute(
            settings.per_minute.unwrap_or(PER_MINUTE),
        )];
        self.pacer
            .take(key, &windows, MAX_PACING_WAIT)
            .await
            .map_err(|wait| paced("DingTalk", wait))?;

        let mut query = vec![("access_token", token.to_owned())];
        if let Some(secret) = secret {
            let timestamp = unix_millis();
            query.push(("timestamp", timestamp.to_string()));
            query.push(("sign", signing::sign(secret, timestamp)));
        }
        let request = self
            .deps
            .http
            .post(format!("{}/robot/send", settings.base))
            .query(&query);
        let answer = post_json(request, &body, settings.timeout).await?;
        let outcome = classify(&answer);
        if outcome.code() == Some(TOO_FAST.to_string().as_str()) {
            self.pacer.mute(key, Instant::now() + THROTTLE_MUTE);
        }
        Ok(outcome)
    }
}

#[async_trait]
impl Channel for DingtalkChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Dingtalk
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        let mut results = Vec::with_capacity(batch.len());
        // One robot, one group: sequential sends keep the group's message order.
        for message in batch {
            let started = Instant::now();
            let outcome = settle(self.deliver(account, message).await);
            tracing::debug!(
                delivery_id = %message.delivery_id,
                class = outcome.class(),
                code = outcome.code(),
                "dingtalk send"
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
