//! What the four push clients share: reading account settings, the request timeout, one
//! HTTP call read into an [`HttpAnswer`], the outcomes every provider maps the same way, and
//! the JWT crypto provider.

use herald_domain::Outcome;
use herald_ports::{AccountContext, SendResult};
use std::time::{Duration, Instant};

/// Request timeout when the account config sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on a configured timeout, so a typo cannot hold a worker for an hour.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// The account's `timeout_ms` (default 10 s, clamped to 1 ms..300 s).
pub fn timeout(account: &AccountContext) -> Duration {
    account
        .account
        .config
        .get("timeout_ms")
        .and_then(serde_json::Value::as_u64)
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
        .clamp(Duration::from_millis(1), MAX_TIMEOUT)
}

/// A boolean setting of the account config (`true`/`false`, or the strings `"true"`/`"false"`).
pub fn flag(account: &AccountContext, key: &str) -> Option<bool> {
    match account.account.config.get(key)? {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A string from the account config, falling back to the secret (either may hold ids such
/// as an app key that are not secret but often stored with the credentials).
pub fn setting_or_secret<'a>(account: &'a AccountContext, key: &str) -> Option<&'a str> {
    account
        .setting(key)
        .or_else(|| account.secret.as_ref().and_then(|s| s.str(key)))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A required secret field.
pub fn secret_str<'a>(account: &'a AccountContext, key: &str) -> Result<&'a str, Outcome> {
    account
        .secret
        .as_ref()
        .and_then(|s| s.str(key))
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| config_invalid(format!("account secret has no {key:?}")))
}

/// The permanent outcome of an account that cannot work until an operator fixes it.
pub fn config_invalid(message: impl Into<String>) -> Outcome {
    Outcome::Permanent {
        code: "config_invalid".into(),
        message: message.into(),
    }
}

/// A send result timed from `started`.
pub fn result(outcome: Outcome, provider_id: Option<String>, started: Instant) -> SendResult {
    SendResult {
        outcome,
        provider_request_id: provider_id,
        latency: started.elapsed(),
    }
}

/// Why an access token (OAuth token, auth token) could not be had. The message was not sent,
/// so nothing here is `Unknown`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The provider refused the credentials: retrying will not help until they change.
    #[error("credentials rejected: {0}")]
    Rejected(String),
    /// The token endpoint failed or was unreachable: try again later.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
    /// The account's secret is unusable (missing field, bad key).
    #[error("{0}")]
    Config(String),
}

impl TokenError {
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Rejected(message) => Outcome::Permanent {
                code: "credentials_rejected".into(),
                message: message.clone(),
            },
            Self::Unavailable(message) => Outcome::Retryable {
                code: "token_unavailable".into(),
                message: message.clone(),
                retry_after_ms: None,
            },
            Self::Config(message) => config_invalid(message.clone()),
        }
    }
}

/// Makes sure jsonwebtoken has a crypto backend. With only its `aws_lc_rs` feature it picks
/// that one by itself; if another crate of the build also enables `rust_crypto`, it would
/// panic at first use instead, so this installs aws-lc-rs explicitly (idempotent; losing the
/// race to another installer is fine).
pub fn ensure_jwt_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}

/// Most bytes of a provider answer read (error bodies are small; the rest is dropped).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads at most 64 KiB of a response body; a read error ends the read (the status has
/// already said what happened).
pub async fn read_body(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// A provider's HTTP answer, read: what every error table classifies.
pub struct HttpAnswer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    /// At most 64 KiB (see [`read_body`]).
    pub body: Vec<u8>,
}

/// Sends `request` and reads the answer; a transport failure becomes its outcome (see
/// [`transport_outcome`](herald_channels::http::transport_outcome): the message may have left).
pub async fn call(request: reqwest::RequestBuilder) -> Result<HttpAnswer, Outcome> {
    let response = request
        .send()
        .await
        .map_err(|e| herald_channels::http::transport_outcome(&e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_body(response).await;
    Ok(HttpAnswer {
        status,
        headers,
        body,
    })
}

/// The first 200 characters of a body, for outcome messages.
pub fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// Verifies a JWT's signature with `key` and returns its claims, leaving every time and
/// audience rule to the caller (providers word those failures differently).
pub fn verify_jwt<T: serde::de::DeserializeOwned>(
    token: &str,
    key: &jsonwebtoken::DecodingKey,
    algorithm: jsonwebtoken::Algorithm,
) -> Result<T, jsonwebtoken::errors::Error> {
    ensure_jwt_crypto();
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<T>(token, key, &validation).map(|data| data.claims)
}

/// Current unix time in seconds.
pub fn unix_secs() -> i64 {
    herald_domain::time::now_ms() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_never_claim_the_message_left() {
        assert_eq!(
            TokenError::Rejected("x".into()).outcome().class(),
            "permanent"
        );
        assert_eq!(
            TokenError::Unavailable("x".into()).outcome().class(),
            "retryable"
        );
        assert_eq!(
            TokenError::Config("x".into()).outcome().code(),
            Some("config_invalid")
        );
    }
}
