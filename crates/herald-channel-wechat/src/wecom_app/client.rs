//! [`WecomAppChannel`]: application messages, up to 1,000 members per call, with Herald
//! enforcing WeCom's per-member limits before sending.

use super::errors::{TOKEN_ERRORS, classify};
use super::limits::{MemberLimits, PER_HOUR, PER_MINUTE, client_limits};
use super::payload::{self, Content};
use crate::common::call::{
    self, Reply, config_invalid, endpoint, required_secret, required_setting, timeout,
    token_fetch_failure,
};
use crate::common::window::Windows;
use async_trait::async_trait;
use herald_channels::ChannelDeps;
use herald_channels::token::TokenSource;
use herald_domain::time::now_ms;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, CachedToken, Channel, OutboundMessage, SendResult};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The production API.
pub const PRODUCTION: &str = "https://qyapi.weixin.qq.com";
/// Secret field holding the application's secret.
pub const SECRET_CORPSECRET: &str = "corpsecret";
/// Most members per `message/send` call.
pub const MAX_USERS_PER_CALL: usize = 1000;

/// The token cache key of one application.
pub fn token_key(corpid: &str, agentid: i64) -> String {
    format!("wecom:{corpid}:{agentid}")
}

struct Target {
    base: String,
    corpid: String,
    agentid: i64,
    secret: String,
    timeout: Duration,
    windows: Arc<Windows>,
}

/// One call's receivers: indexes into the batch, the slot each took, and the shared content.
struct Call<'a> {
    content: &'a Content,
    members: Vec<(usize, &'a str, i64)>,
}

/// The WeCom application-message channel.
pub struct WecomAppChannel {
    deps: ChannelDeps,
    tokens: TokenSource,
    limits: MemberLimits,
}

impl WecomAppChannel {
    pub fn new(deps: ChannelDeps) -> Self {
        let tokens = TokenSource::new(deps.tokens.clone());
        Self {
            deps,
            tokens,
            limits: MemberLimits::default(),
        }
    }

    fn target(&self, account: &AccountContext) -> Result<Target, Outcome> {
        let corpid = required_setting(account, "corpid")?.to_owned();
        let agentid = match account.account.config.get("agentid") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            config_invalid("account config needs \"agentid\" (the application's AgentId)")
        })?;
        let limit = |key: &str, default: u32| {
            account
                .account
                .config
                .get(key)
                .and_then(serde_json::Value::as_u64)
                .map_or(default, |n| n.clamp(1, u64::from(default)) as u32)
        };
        let limits = client_limits(
            limit("per_member_per_minute", PER_MINUTE),
            limit("per_member_per_hour", PER_HOUR),
        );
        Ok(Target {
            base: endpoint(&self.deps, account, PRODUCTION)?,
            windows: self.limits.app(&format!("{corpid}:{agentid}"), limits),
            secret: required_secret(account, SECRET_CORPSECRET)?.to_owned(),
            timeout: timeout(account),
            corpid,
            agentid,
        })
    }

    /// `GET /cgi-bin/gettoken?corpid=&corpsecret=`.
    async fn fetch_token(&self, target: &Target) -> Result<CachedToken, Outcome> {
        let request = self
            .deps
            .http
            .get(format!("{}/cgi-bin/gettoken", target.base))
            .query(&[
                ("corpid", target.corpid.as_str()),
                ("corpsecret", target.secret.as_str()),
            ])
            .timeout(target.timeout);
        let reply = call::call(request).await.map_err(token_fetch_failure)?;
        token_from_reply(&reply)
    }

    async fn token(&self, target: &Target) -> Result<CachedToken, Outcome> {
        self.tokens
            .get(&token_key(&target.corpid, target.agentid), || {
                self.fetch_token(target)
            })
            .await
    }

    /// Sends one call and returns the outcome of each of its members.
    async fn send_call(
        &self,
        target: &Target,
        token: &CachedToken,
        call: &Call<'_>,
    ) -> Vec<Outcome> {
        let users: Vec<&str> = call.members.iter().map(|(_, user, _)| *user).collect();
        let request = self
            .deps
            .http
            .post(format!("{}/cgi-bin/message/send", target.base))
            .query(&[("access_token", token.value.as_str())])
            .timeout(target.timeout)
            .json(&call.content.body(&users, target.agentid));
        let reply = match call::call(request).await {
            Ok(reply) => reply,
            Err(outcome) => return vec![outcome; users.len()],
        };
        if reply.errcode != 0 {
            if TOKEN_ERRORS.contains(&reply.errcode) {
                let key = token_key(&target.corpid, target.agentid);
                self.tokens.invalidate(&key, &token.value).await;
            }
            return vec![classify(reply.errcode, &reply.errmsg); users.len()];
        }
        per_member(&reply, &users)
    }
}

/// Members listed in `invaliduser`/`unlicenseduser` failed; the rest were delivered.
fn per_member(reply: &Reply, users: &[&str]) -> Vec<Outcome> {
    let listed = |key: &str| -> HashSet<String> {
        reply
            .text(key)
            .unwrap_or_default()
            .split('|')
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (invalid, unlicensed) = (listed("invaliduser"), listed("unlicenseduser"));
    let provider_id = reply.text("msgid");
    users
        .iter()
        .map(|user| {
            if invalid.contains(*user) {
                Outcome::Permanent {
                    code: "wecom_invalid_user".into(),
                    message: format!("{user} is not a member reachable by this application"),
                }
            } else if unlicensed.contains(*user) {
                Outcome::Permanent {
                    code: "wecom_unlicensed_user".into(),
                    message: format!("{user} has no licence for this application"),
                }
            } else {
                Outcome::Delivered {
                    provider_id: provider_id.clone(),
                }
            }
        })
        .collect()
}

/// Splits members sharing one content into calls of at most 1,000 distinct members.
fn chunk<'a>(content: &'a Content, members: Vec<(usize, &'a str, i64)>) -> Vec<Call<'a>> {
    let mut calls: Vec<(HashSet<&str>, Call<'a>)> = Vec::new();
    for member in members {
        let slot = calls.iter_mut().find(|(users, call)| {
            call.members.len() < MAX_USERS_PER_CALL && !users.contains(member.1)
        });
        match slot {
            Some((users, call)) => {
                users.insert(member.1);
                call.members.push(member);
            }
            None => calls.push((
                HashSet::from([member.1]),
                Call {
                    content,
                    members: vec![member],
                },
            )),
        }
    }
    calls.into_iter().map(|(_, call)| call).collect()
}

#[async_trait]
impl Channel for WecomAppChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WecomApp
    }

    fn max_batch(&self) -> usize {
        MAX_USERS_PER_CALL
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        let started = Instant::now();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
        let mut provider_ids: Vec<Option<String>> = vec![None; batch.len()];
        let target = match self.target(account) {
            Ok(target) => target,
            Err(outcome) => {
                return finish(
                    batch.len(),
                    vec![Some(outcome); batch.len()],
                    provider_ids,
                    started,
                );
            }
        };
        // Content first, then the member's slot: a message that cannot be sent takes none.
        let mut contents: Vec<Option<Content>> = Vec::with_capacity(batch.len());
        let mut groups: BTreeMap<String, Vec<(usize, &str, i64)>> = BTreeMap::new();
        for (index, message) in batch.iter().enumerate() {
            let content = match payload::content(message) {
                Ok(content) => content,
                Err(outcome) => {
                    outcomes[index] = Some(outcome);
                    contents.push(None);
                    continue;
                }
            };
            let now = now_ms();
            let user = message.receiver.to.as_str();
            match target.windows.try_take(user, now) {
                Ok(()) => {
                    groups
                        .entry(content.group_key())
                        .or_default()
                        .push((index, user, now));
                }
                Err(wait_ms) => {
                    outcomes[index] = Some(Outcome::Retryable {
                        code: "member_rate_limited".into(),
                        message: format!(
                            "{user} reached WeCom's per-member limit (30/min, 1,000/h)"
                        ),
                        retry_after_ms: Some(wait_ms),
                    });
                }
            }
            contents.push(Some(content));
        }
        let calls: Vec<Call<'_>> = groups
            .into_values()
            .flat_map(|members| {
                let content = contents[members[0].0].as_ref();
                content
                    .map(|content| chunk(content, members))
                    .unwrap_or_default()
            })
            .collect();
        if !calls.is_empty() {
            let results = match self.token(&target).await {
                Ok(token) => {
                    futures::future::join_all(
                        calls
                            .iter()
                            .map(|call| self.send_call(&target, &token, call)),
                    )
                    .await
                }
                Err(outcome) => {
                    let outcome = token_fetch_failure(outcome);
                    calls
                        .iter()
                        .map(|call| vec![outcome.clone(); call.members.len()])
                        .collect()
                }
            };
            for (call, results) in calls.iter().zip(results) {
                for (&(index, user, taken), outcome) in call.members.iter().zip(results) {
                    // A copy that certainly did not reach the member gives its slot back;
                    // delivered and unknown ones keep it.
                    if !matches!(outcome, Outcome::Delivered { .. } | Outcome::Unknown { .. }) {
                        target.windows.release(user, taken);
                    }
                    if let Outcome::Delivered { provider_id } = &outcome {
                        provider_ids[index] = provider_id.clone();
                    }
                    outcomes[index] = Some(outcome);
                }
            }
        }
        finish(batch.len(), outcomes, provider_ids, started)
    }

    /// Fetches a token to replace the one `send` dropped after 40014/42001.
    async fn refresh_token(&self, account: &AccountContext) {
        let Ok(target) = self.target(account) else {
            return;
        };
        if let Err(outcome) = self.token(&target).await {
            tracing::warn!(corpid = %target.corpid, code = outcome.code(), "wecom token refresh failed");
        }
    }
}

fn finish(
    len: usize,
    outcomes: Vec<Option<Outcome>>,
    provider_ids: Vec<Option<String>>,
    started: Instant,
) -> Vec<SendResult> {
    let latency = started.elapsed();
    outcomes
        .into_iter()
        .zip(provider_ids)
        .take(len)
        .map(|(outcome, provider_request_id)| SendResult {
            outcome: outcome.unwrap_or_else(|| Outcome::Unknown {
                code: "internal".into(),
                message: "no outcome recorded".into(),
            }),
            provider_request_id,
            latency,
        })
        .collect()
}

/// The token of a gettoken reply (its errcodes are about the account, never a token).
fn token_from_reply(reply: &Reply) -> Result<CachedToken, Outcome> {
    if reply.errcode != 0 {
        return Err(match classify(reply.errcode, &reply.errmsg) {
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
                "gettoken reply without access_token/expires_in ({})",
                reply.describe()
            ),
            retry_after_ms: None,
        }),
    }
}
