//! [`JpushChannel`]: `POST /v3/push` with up to 1,000 registration ids per call; messages
//! of a batch with the same content share one call and its outcome.

use super::errors::classify;
use crate::common::{call, config_invalid, flag, result, secret_str, setting_or_secret, timeout};
use crate::dead_tokens::{DeadTokens, known_dead};
use async_trait::async_trait;
use base64::Engine;
use herald_channels::ChannelDeps;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, Channel, OutboundMessage, RenderedContent, SendResult};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// JPush's production base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.jpush.cn";
/// Most registration ids one push call may name.
pub const MAX_REGISTRATION_IDS: usize = 1000;

/// Herald's JPush v3 channel.
#[derive(Clone)]
pub struct JpushChannel {
    deps: ChannelDeps,
    dead: Arc<DeadTokens>,
}

struct Target {
    url: String,
    authorization: String,
    apns_production: bool,
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct PushResponse {
    #[serde(default)]
    msg_id: Option<serde_json::Value>,
}

/// `Basic base64(appKey:masterSecret)`.
pub fn basic_auth(app_key: &str, master_secret: &str) -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{app_key}:{master_secret}"));
    format!("Basic {encoded}")
}

/// The push body for `registration_ids` sharing `content`.
pub fn payload(
    content: &RenderedContent,
    registration_ids: &[&str],
    apns_production: bool,
) -> serde_json::Value {
    let mut android = serde_json::json!({ "alert": content.body });
    let mut ios = serde_json::json!({ "alert": content.body });
    if let Some(title) = &content.title {
        android["title"] = title.clone().into();
        ios["alert"] = serde_json::json!({ "title": title, "body": content.body });
    }
    if !content.fields.is_empty() {
        let extras = serde_json::to_value(&content.fields).unwrap_or_default();
        android["extras"] = extras.clone();
        ios["extras"] = extras;
    }
    serde_json::json!({
        "platform": "all",
        "audience": { "registration_id": registration_ids },
        "notification": { "alert": content.body, "android": android, "ios": ios },
        "options": { "apns_production": apns_production },
    })
}

impl JpushChannel {
    pub fn new(deps: ChannelDeps, dead: Arc<DeadTokens>) -> Self {
        Self { deps, dead }
    }

    fn target(&self, account: &AccountContext) -> Result<Target, Outcome> {
        let endpoint = self
            .deps
            .endpoint(account.setting("endpoint"), DEFAULT_ENDPOINT)
            .map_err(config_invalid)?;
        let app_key = setting_or_secret(account, "app_key")
            .ok_or_else(|| config_invalid("JPush needs app_key"))?;
        let master_secret = secret_str(account, "master_secret")?;
        Ok(Target {
            url: format!("{endpoint}/v3/push"),
            authorization: basic_auth(app_key, master_secret),
            apns_production: flag(account, "apns_production").unwrap_or(false),
            timeout: timeout(account),
        })
    }

    /// One call for `registration_ids`; the outcome, provider id and whether JPush said none
    /// of them is registered.
    async fn push(
        &self,
        target: &Target,
        content: &RenderedContent,
        registration_ids: &[&str],
    ) -> (Outcome, Option<String>, bool) {
        let request = self
            .deps
            .http
            .post(&target.url)
            .timeout(target.timeout)
            .header("authorization", &target.authorization)
            .json(&payload(content, registration_ids, target.apns_production));
        let answer = match call(request).await {
            Ok(answer) => answer,
            Err(outcome) => return (outcome, None, false),
        };
        if answer.status.is_success() {
            let msg_id = serde_json::from_slice::<PushResponse>(&answer.body)
                .ok()
                .and_then(|r| r.msg_id)
                .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned));
            return (
                Outcome::Delivered {
                    provider_id: msg_id.clone(),
                },
                msg_id,
                false,
            );
        }
        let classified = classify(answer.status.as_u16(), &answer.headers, &answer.body);
        (classified.outcome, None, classified.unregistered)
    }
}

#[async_trait]
impl Channel for JpushChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Jpush
    }

    fn max_batch(&self) -> usize {
        MAX_REGISTRATION_IDS
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        let started = Instant::now();
        let account_id = &account.account.id;
        let mut results: Vec<Option<SendResult>> = vec![None; batch.len()];
        let target = match self.target(account) {
            Ok(target) => target,
            Err(outcome) => {
                return batch
                    .iter()
                    .map(|_| result(outcome.clone(), None, started))
                    .collect();
            }
        };
        // Groups of messages with identical content, in first-seen order.
        let mut groups: Vec<(&RenderedContent, Vec<usize>)> = Vec::new();
        for (i, message) in batch.iter().enumerate() {
            if self
                .dead
                .is_dead(ChannelKind::Jpush, account_id, &message.receiver.to)
            {
                results[i] = Some(result(known_dead(), None, started));
                continue;
            }
            match groups
                .iter_mut()
                .find(|(content, _)| **content == message.content)
            {
                Some((_, members)) => members.push(i),
                None => groups.push((&message.content, vec![i])),
            }
        }
        let calls = groups.iter().flat_map(|(content, members)| {
            members
                .chunks(MAX_REGISTRATION_IDS)
                .map(move |chunk| (*content, chunk))
        });
        let answers = futures::future::join_all(calls.map(|(content, chunk)| {
            let target = &target;
            async move {
                let ids: Vec<&str> = chunk
                    .iter()
                    .map(|&i| batch[i].receiver.to.as_str())
                    .collect();
                (chunk, self.push(target, content, &ids).await)
            }
        }))
        .await;
        for (chunk, (outcome, provider_id, unregistered)) in answers {
            for &i in chunk {
                if unregistered {
                    self.dead
                        .mark(ChannelKind::Jpush, account_id, &batch[i].receiver.to);
                }
                results[i] = Some(result(outcome.clone(), provider_id.clone(), started));
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    result(
                        config_invalid("internal: message left unsent"),
                        None,
                        started,
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_matches_the_documented_example() {
        assert_eq!(
            basic_auth("7d431e42dfa6a6d693ac2d04", "5e987ac6d2e04d95a9d8f0d1"),
            "Basic N2Q0MzFlNDJkZmE2YTZkNjkzYWMyZDA0OjVlOTg3YWM2ZDJlMDRkOTVhOWQ4ZjBkMQ=="
        );
    }

    #[test]
    fn payload_carries_title_extras_and_audience() {
        let content = RenderedContent {
            title: Some("T".into()),
            body: "B".into(),
            fields: [("k".to_owned(), "v".to_owned())].into(),
        };
        let p = payload(&content, &["r1", "r2"], true);
        assert_eq!(
            p["audience"]["registration_id"],
            serde_json::json!(["r1", "r2"])
        );
        assert_eq!(p["notification"]["android"]["title"], "T");
        assert_eq!(p["notification"]["ios"]["alert"]["body"], "B");
        assert_eq!(p["notification"]["ios"]["extras"]["k"], "v");
        assert_eq!(p["options"]["apns_production"], true);
    }
}
