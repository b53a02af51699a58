//! The JPush error table as code (documented in the [module doc](super)):
//! `{"error": {"code", "message"}}` → [`Outcome`].

use crate::fcm::errors::Classified;
use herald_channels::http::{MAX_RETRY_AFTER, retry_after_ms};
use herald_domain::Outcome;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use std::time::SystemTime;

/// No registration id of the audience is known (any more).
pub const NO_TARGET: i64 = 1011;
/// Authentication failed (bad appKey/masterSecret).
pub const AUTH_FAILED: i64 = 1004;
/// A parameter is invalid.
pub const BAD_PARAMETER: i64 = 1003;
/// The app's API rate limit for the current window is used up.
pub const RATE_LIMITED: i64 = 2002;
/// The app's API calls are restricted.
pub const RESTRICTED: i64 = 2003;
/// Internal server error.
pub const SERVER_ERROR: i64 = 1000;
/// Internal service timeout.
pub const SERVICE_TIMEOUT: i64 = 1030;

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Debug, Deserialize)]
struct ErrorInner {
    code: i64,
    #[serde(default)]
    message: String,
}

/// Seconds until the rate-limit window resets (`X-Rate-Limit-Reset`), else `Retry-After`.
fn rate_reset_ms(headers: &HeaderMap) -> Option<u64> {
    let reset = headers
        .get("x-rate-limit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| {
            secs.saturating_mul(1000)
                .min(MAX_RETRY_AFTER.as_millis() as u64)
        });
    reset.or_else(|| retry_after_ms(headers, SystemTime::now()))
}

/// Classifies a non-2xx answer.
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> Classified {
    let parsed = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let message = match &parsed {
        Some(e) => format!("HTTP {status} JPush {}: {}", e.code, e.message),
        None => format!("HTTP {status}: {}", crate::common::snippet(body)),
    };
    let code = parsed
        .as_ref()
        .map_or_else(|| format!("http_{status}"), |e| format!("jpush_{}", e.code));
    let mut classified = Classified {
        outcome: Outcome::Permanent {
            code: code.clone(),
            message: message.clone(),
        },
        unregistered: false,
        token_rejected: false,
    };
    let retryable = |code: String| Outcome::Retryable {
        code,
        message: message.clone(),
        retry_after_ms: rate_reset_ms(headers),
    };
    match (parsed.map(|e| e.code), status) {
        (Some(NO_TARGET), _) => {
            classified.unregistered = true;
            classified.outcome = crate::dead_tokens::unregistered(message.clone());
        }
        (Some(RATE_LIMITED | RESTRICTED | SERVER_ERROR | SERVICE_TIMEOUT), _) => {
            classified.outcome = retryable(code);
        }
        (Some(_), _) => {}
        (None, 408 | 429 | 500..=599) => classified.outcome = retryable(code),
        (None, _) => {}
    }
    classified
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn body(code: i64) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "error": { "code": code, "message": "m" } }))
            .unwrap()
    }

    #[test]
    fn follows_the_table() {
        let none = HeaderMap::new();
        let c = classify(400, &none, &body(NO_TARGET));
        assert!(c.unregistered);
        assert_eq!(
            (c.outcome.class(), c.outcome.code()),
            ("permanent", Some("unregistered"))
        );
        for (status, code, class) in [
            (401, AUTH_FAILED, "permanent"),
            (400, BAD_PARAMETER, "permanent"),
            (400, 1005, "permanent"),
            (500, SERVER_ERROR, "retryable"),
            (503, SERVICE_TIMEOUT, "retryable"),
            (400, RESTRICTED, "retryable"),
        ] {
            let c = classify(status, &none, &body(code));
            assert_eq!(c.outcome.class(), class, "{code}");
            assert_eq!(c.outcome.code(), Some(format!("jpush_{code}").as_str()));
        }
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("7"));
        let c = classify(429, &headers, &body(RATE_LIMITED));
        assert!(matches!(
            c.outcome,
            Outcome::Retryable {
                retry_after_ms: Some(7000),
                ..
            }
        ));
        assert_eq!(
            classify(502, &none, b"<html>").outcome.code(),
            Some("http_502")
        );
        assert_eq!(classify(404, &none, b"").outcome.class(), "permanent");
    }
}
