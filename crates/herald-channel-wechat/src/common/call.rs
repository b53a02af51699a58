//! Client-side plumbing the three channels share: account settings (timeout, endpoint), the
//! `{"errcode", "errmsg", …}` reply every WeChat/WeCom API answers with HTTP 200, and one
//! call helper that turns transport and HTTP failures into [`Outcome`]s so the providers'
//! error tables only deal with errcodes.

use herald_channels::ChannelDeps;
use herald_channels::http::{body_snippet, retry_after_ms, transport_outcome};
use herald_domain::Outcome;
use herald_ports::AccountContext;
use serde::Deserialize;
use std::time::{Duration, SystemTime};

/// Request timeout when the account config sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on a configured timeout, so a typo cannot hold a worker for an hour.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// Most bytes of a provider reply read (replies are a few hundred bytes).
const MAX_REPLY_BYTES: usize = 256 * 1024;

/// `Permanent { code: "config_invalid" }`: the account needs fixing before anything succeeds.
pub fn config_invalid(message: impl Into<String>) -> Outcome {
    Outcome::Permanent {
        code: "config_invalid".into(),
        message: message.into(),
    }
}

/// `Permanent { code: "content_invalid" }`: this message's template fields cannot be sent.
pub fn content_invalid(message: impl Into<String>) -> Outcome {
    Outcome::Permanent {
        code: "content_invalid".into(),
        message: message.into(),
    }
}

/// The account's `timeout_ms` (default 10 s, clamped to 1 ms–300 s).
pub fn timeout(account: &AccountContext) -> Duration {
    account
        .account
        .config
        .get("timeout_ms")
        .and_then(serde_json::Value::as_u64)
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
        .clamp(Duration::from_millis(1), MAX_TIMEOUT)
}

/// A required string setting of the account config.
pub fn required_setting<'a>(account: &'a AccountContext, key: &str) -> Result<&'a str, Outcome> {
    account
        .setting(key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| config_invalid(format!("account config needs \"{key}\"")))
}

/// A required field of the account secret.
pub fn required_secret<'a>(account: &'a AccountContext, key: &str) -> Result<&'a str, Outcome> {
    account
        .secret
        .as_ref()
        .and_then(|s| s.str(key))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| config_invalid(format!("account secret needs \"{key}\"")))
}

/// The account's API base URL: config `endpoint` (absolute, or `/sim/...` on this node), else
/// the provider's production URL.
pub fn endpoint(
    deps: &ChannelDeps,
    account: &AccountContext,
    production: &str,
) -> Result<String, Outcome> {
    deps.endpoint(account.setting("endpoint"), production)
        .map_err(config_invalid)
}

/// The common head of every reply; `errcode` absent means success (the token APIs).
#[derive(Debug, Clone, Deserialize)]
pub struct Reply {
    #[serde(default)]
    pub errcode: i64,
    #[serde(default)]
    pub errmsg: String,
    /// The rest of the reply (`msgid`, `access_token`, `invaliduser`, …).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl Reply {
    /// A string or number member of the reply, as text (`msgid` is a number on WeChat and a
    /// string on WeCom).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.rest.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// `errmsg` with its code, for outcome messages.
    pub fn describe(&self) -> String {
        format!("errcode {}: {}", self.errcode, self.errmsg)
    }
}

/// Sends `request` and reads the reply. Transport failures follow the shared rule (refused
/// → retryable, timeout → unknown); 429/5xx from a gateway are retryable, other non-2xx
/// permanent; a 2xx whose body is not the JSON reply is `Unknown` (the call may have worked).
pub async fn call(request: reqwest::RequestBuilder) -> Result<Reply, Outcome> {
    let mut response = request.send().await.map_err(|e| transport_outcome(&e))?;
    let status = response.status();
    if !status.is_success() {
        let headers = response.headers().clone();
        let snippet = body_snippet(response).await;
        let code = format!("http_{}", status.as_u16());
        let message = format!("HTTP {status}: {snippet}");
        return Err(if status.as_u16() == 429 || status.is_server_error() {
            Outcome::Retryable {
                code,
                message,
                retry_after_ms: retry_after_ms(&headers, SystemTime::now()),
            }
        } else {
            Outcome::Permanent { code, message }
        });
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_REPLY_BYTES => {
                body.extend_from_slice(&chunk)
            }
            Ok(Some(_)) => {
                return Err(Outcome::Unknown {
                    code: "bad_reply".into(),
                    message: format!("reply larger than {MAX_REPLY_BYTES} bytes"),
                });
            }
            Ok(None) => break,
            Err(e) => return Err(transport_outcome(&e)),
        }
    }
    serde_json::from_slice(&body).map_err(|e| Outcome::Unknown {
        code: "bad_reply".into(),
        message: format!(
            "reply is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(200)
                .collect::<String>()
        ),
    })
}

/// A failure while fetching an access token: no message was sent, so whatever went wrong
/// (even a timeout) can be retried; permanent answers stay permanent.
pub fn token_fetch_failure(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Unknown { code, message } | Outcome::TokenExpired { code, message } => {
            Outcome::Retryable {
                code: format!("token_{code}"),
                message: format!("fetching the access token: {message}"),
                retry_after_ms: None,
            }
        }
        other => other,
    }
}

/// Milliseconds until the next midnight in China (UTC+8), when WeChat's daily quotas reset.
pub fn ms_until_china_midnight(now_ms: i64) -> u64 {
    const DAY_MS: i64 = 86_400_000;
    const OFFSET_MS: i64 = 8 * 3_600_000;
    let local = now_ms + OFFSET_MS;
    (DAY_MS - local.rem_euclid(DAY_MS)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_resets_at_china_midnight() {
        // 2024-01-01T15:00:00Z is 23:00 in Beijing: one hour to go.
        assert_eq!(ms_until_china_midnight(1_704_121_200_000), 3_600_000);
        // 2024-01-01T16:00:00Z is midnight in Beijing: a full day to the next one.
        assert_eq!(ms_until_china_midnight(1_704_124_800_000), 86_400_000);
    }

    #[test]
    fn token_failures_never_become_unknown() {
        let retry = token_fetch_failure(Outcome::Unknown {
            code: "timeout".into(),
            message: "slow".into(),
        });
        assert_eq!(retry.class(), "retryable");
        assert_eq!(retry.code(), Some("token_timeout"));
        let permanent = config_invalid("x");
        assert_eq!(token_fetch_failure(permanent.clone()), permanent);
    }
}
