//! The APNs error table as code (documented in the [module doc](super)): status + `reason`
//! → [`Outcome`], plus whether the device token is gone or the provider token was refused.

use crate::fcm::errors::Classified;
use herald_channels::http::retry_after_ms;
use herald_domain::Outcome;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use std::time::SystemTime;

#[derive(Debug, Deserialize)]
struct ErrorBody {
    reason: String,
}

/// The `reason` of an APNs error body.
pub fn reason(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.reason)
}

/// `BadDeviceToken` → `bad_device_token`.
fn snake(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len() + 4);
    for (i, c) in reason.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Classifies a non-200 answer.
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> Classified {
    let reason = reason(body);
    let code = reason
        .as_deref()
        .map_or_else(|| format!("http_{status}"), snake);
    let message = format!("HTTP {status} {}", reason.as_deref().unwrap_or(""));
    let mut classified = Classified {
        outcome: Outcome::Permanent {
            code: code.clone(),
            message: message.clone(),
        },
        unregistered: false,
        token_rejected: false,
    };
    match (status, reason.as_deref()) {
        (410, _) | (_, Some("Unregistered")) => {
            classified.unregistered = true;
            classified.outcome = crate::dead_tokens::unregistered(message);
        }
        (403, Some("ExpiredProviderToken" | "InvalidProviderToken" | "MissingProviderToken")) => {
            classified.token_rejected = true;
            classified.outcome = Outcome::TokenExpired { code, message };
        }
        (408 | 429 | 500..=599, _) => {
            classified.outcome = Outcome::Retryable {
                code,
                message,
                retry_after_ms: retry_after_ms(headers, SystemTime::now()),
            };
        }
        _ => {}
    }
    classified
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(reason: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "reason": reason })).unwrap()
    }

    #[test]
    fn follows_the_table() {
        let none = HeaderMap::new();
        for (status, reason, class, code, unregistered, token_rejected) in [
            (
                400,
                "BadDeviceToken",
                "permanent",
                "bad_device_token",
                false,
                false,
            ),
            (
                400,
                "DeviceTokenNotForTopic",
                "permanent",
                "device_token_not_for_topic",
                false,
                false,
            ),
            (
                403,
                "ExpiredProviderToken",
                "token_expired",
                "expired_provider_token",
                false,
                true,
            ),
            (
                403,
                "InvalidProviderToken",
                "token_expired",
                "invalid_provider_token",
                false,
                true,
            ),
            (
                403,
                "BadCertificate",
                "permanent",
                "bad_certificate",
                false,
                false,
            ),
            (
                410,
                "Unregistered",
                "permanent",
                "unregistered",
                true,
                false,
            ),
            (
                413,
                "PayloadTooLarge",
                "permanent",
                "payload_too_large",
                false,
                false,
            ),
            (
                429,
                "TooManyRequests",
                "retryable",
                "too_many_requests",
                false,
                false,
            ),
            (
                429,
                "TooManyProviderTokenUpdates",
                "retryable",
                "too_many_provider_token_updates",
                false,
                false,
            ),
            (
                500,
                "InternalServerError",
                "retryable",
                "internal_server_error",
                false,
                false,
            ),
            (
                503,
                "ServiceUnavailable",
                "retryable",
                "service_unavailable",
                false,
                false,
            ),
        ] {
            let c = classify(status, &none, &body(reason));
            assert_eq!(c.outcome.class(), class, "{reason}");
            assert_eq!(c.outcome.code(), Some(code), "{reason}");
            assert_eq!(
                (c.unregistered, c.token_rejected),
                (unregistered, token_rejected),
                "{reason}"
            );
        }
        assert_eq!(classify(502, &none, b"").outcome.code(), Some("http_502"));
    }
}
