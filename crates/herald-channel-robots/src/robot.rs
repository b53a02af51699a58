//! What the DingTalk and Feishu robot clients share: account settings (endpoint, timeout,
//! pacing override), template-field helpers, and the POST-and-read-JSON step with its
//! transport classification.

use herald_channels::ChannelDeps;
use herald_channels::http::{retry_after_ms, transport_outcome};
use herald_domain::Outcome;
use herald_ports::{AccountContext, RenderedContent};
use serde::Deserialize;
use std::time::{Duration, SystemTime};

/// Request timeout when the account config sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on a configured timeout, so a typo cannot hold a worker for an hour.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest a send waits in-process for a pacing slot before answering `Retryable`.
pub const MAX_PACING_WAIT: Duration = Duration::from_secs(1);

/// A robot account's non-secret settings (`Account::config`).
#[derive(Debug, Clone, Default, Deserialize)]
struct RobotConfig {
    /// Base URL: absolute, or `/sim/<provider>` on this node; default the provider's.
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// Overrides the provider's per-minute limit the client paces to (0 = no pacing).
    #[serde(default)]
    rate_limit_per_minute: Option<u32>,
}

/// Resolved settings of one robot account.
#[derive(Debug, Clone)]
pub struct RobotSettings {
    pub base: String,
    pub timeout: Duration,
    pub per_minute: Option<u32>,
}

/// `Permanent` with code `config_invalid`: fix the account, then replay.
pub fn config_invalid(message: impl Into<String>) -> Outcome {
    Outcome::Permanent {
        code: "config_invalid".into(),
        message: message.into(),
    }
}

/// `Permanent` with code `template_invalid`: the template's fields cannot make a request.
pub fn template_invalid(message: impl Into<String>) -> Outcome {
    Outcome::Permanent {
        code: "template_invalid".into(),
        message: message.into(),
    }
}

impl RobotSettings {
    pub fn from_account(
        deps: &ChannelDeps,
        account: &AccountContext,
        default_base: &str,
    ) -> Result<Self, Outcome> {
        let config = RobotConfig::deserialize(&account.account.config)
            .map_err(|e| config_invalid(format!("robot account config: {e}")))?;
        let base = deps
            .endpoint(config.endpoint.as_deref(), default_base)
            .map_err(config_invalid)?;
        let timeout = config
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
            .clamp(Duration::from_millis(1), MAX_TIMEOUT);
        Ok(Self {
            base,
            timeout,
            per_minute: config.rate_limit_per_minute,
        })
    }
}

/// A required secret field, or `config_invalid`.
pub fn secret_field<'a>(account: &'a AccountContext, key: &str) -> Result<&'a str, Outcome> {
    account
        .secret
        .as_ref()
        .and_then(|s| s.str(key))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| config_invalid(format!("account secret lacks {key:?}")))
}

/// An optional secret field (absent or empty = `None`).
pub fn optional_secret<'a>(account: &'a AccountContext, key: &str) -> Option<&'a str> {
    account
        .secret
        .as_ref()
        .and_then(|s| s.str(key))
        .filter(|v| !v.is_empty())
}

/// A comma-separated template field as a list (blank entries dropped).
pub fn list_field(content: &RenderedContent, key: &str) -> Vec<String> {
    content
        .fields
        .get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A boolean template field: `true`/`1`/`yes` are true, anything else false.
pub fn flag_field(content: &RenderedContent, key: &str) -> bool {
    content
        .fields
        .get(key)
        .is_some_and(|v| matches!(v.trim(), "true" | "1" | "yes"))
}

/// The title, or the body's first line when the template has none.
pub fn title_or_first_line(content: &RenderedContent) -> String {
    content
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| content.body.lines().next().unwrap_or_default().to_owned())
}

/// What a robot endpoint answered: the HTTP status and the JSON body (when it was JSON).
#[derive(Debug)]
pub struct RobotAnswer {
    pub status: reqwest::StatusCode,
    pub retry_after_ms: Option<u64>,
    pub json: Option<serde_json::Value>,
    pub text: String,
}

/// POSTs `body` as JSON to `url` and reads the answer; a transport failure is classified by
/// [`transport_outcome`] (connect → `Retryable`, timeout → `Unknown`).
pub async fn post_json(
    request: reqwest::RequestBuilder,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<RobotAnswer, Outcome> {
    let response = request
        .timeout(timeout)
        .json(body)
        .send()
        .await
        .map_err(|e| transport_outcome(&e))?;
    let status = response.status();
    let retry_after_ms = retry_after_ms(response.headers(), SystemTime::now());
    // The answer is tiny JSON; a body that breaks off mid-read leaves the send unknown.
    let text = response.text().await.map_err(|e| Outcome::Unknown {
        code: "io".into(),
        message: format!("reading the answer: {e}"),
    })?;
    let json = serde_json::from_str(&text).ok();
    Ok(RobotAnswer {
        status,
        retry_after_ms,
        json,
        text: text.chars().take(200).collect(),
    })
}

/// The outcome of an HTTP error status without a provider code in the body.
pub fn http_status_outcome(answer: &RobotAnswer) -> Outcome {
    let code = answer.status.as_u16();
    let message = format!("HTTP {}: {}", answer.status, answer.text);
    if matches!(code, 408 | 425 | 429) || answer.status.is_server_error() {
        Outcome::Retryable {
            code: format!("http_{code}"),
            message,
            retry_after_ms: answer.retry_after_ms,
        }
    } else {
        Outcome::Permanent {
            code: format!("http_{code}"),
            message,
        }
    }
}

/// Unix time now in milliseconds.
pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `Retryable` with code `paced`: the in-process window is full for `wait`.
pub fn paced(provider: &str, wait: Duration) -> Outcome {
    Outcome::Retryable {
        code: "paced".into(),
        message: format!(
            "{provider} robot limit reached in this process; next slot in {} ms",
            wait.as_millis()
        ),
        retry_after_ms: Some(wait.as_millis().max(1) as u64),
    }
}

/// Runs a send step whose early exits are outcomes too.
pub fn settle(result: Result<Outcome, Outcome>) -> Outcome {
    result.unwrap_or_else(|outcome| outcome)
}
