//! The FCM error table as code (documented in the [module doc](super)): an HTTP v1 error
//! answer → [`Outcome`], plus whether the device token is gone or the access token was
//! refused.

use herald_channels::http::retry_after_ms;
use herald_domain::Outcome;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use std::time::SystemTime;

/// A classified error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub outcome: Outcome,
    /// FCM said `UNREGISTERED`: mark the device token dead.
    pub unregistered: bool,
    /// FCM refused the access token: drop it from the cache.
    pub token_rejected: bool,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Debug, Deserialize)]
struct ErrorInner {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Debug, Deserialize)]
struct Detail {
    #[serde(rename = "errorCode", default)]
    error_code: Option<String>,
}

/// The most specific error name in the answer: the FCM `errorCode` of `details`, else the
/// Google API `status`.
fn error_name(body: &[u8]) -> (Option<String>, String) {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => {
            let name = parsed
                .error
                .details
                .iter()
                .find_map(|d| d.error_code.clone())
                .or(parsed.error.status);
            (name, parsed.error.message.unwrap_or_default())
        }
        Err(_) => (None, crate::common::snippet(body)),
    }
}

/// Classifies a non-2xx answer.
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> Classified {
    let (name, detail) = error_name(body);
    let code = name
        .as_deref()
        .map_or_else(|| format!("http_{status}"), str::to_ascii_lowercase);
    let message = format!("HTTP {status} {}: {detail}", name.as_deref().unwrap_or(""));
    let retryable = |code: String| Outcome::Retryable {
        code,
        message: message.clone(),
        retry_after_ms: retry_after_ms(headers, SystemTime::now()),
    };
    let permanent = |code: String| Outcome::Permanent {
        code,
        message: message.clone(),
    };
    let mut classified = Classified {
        outcome: permanent(code.clone()),
        unregistered: false,
        token_rejected: false,
    };
    classified.outcome = match (name.as_deref(), status) {
        (Some("UNREGISTERED"), _) => {
            classified.unregistered = true;
            crate::dead_tokens::unregistered(message.clone())
        }
        (Some("UNAUTHENTICATED"), _) | (_, 401) => {
            classified.token_rejected = true;
            Outcome::TokenExpired {
                code: "unauthenticated".into(),
                message: message.clone(),
            }
        }
        (Some("QUOTA_EXCEEDED" | "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "INTERNAL"), _) => {
            retryable(code)
        }
        (
            Some(
                "INVALID_ARGUMENT"
                | "SENDER_ID_MISMATCH"
                | "THIRD_PARTY_AUTH_ERROR"
                | "PERMISSION_DENIED"
                | "NOT_FOUND",
            ),
            _,
        ) => permanent(code),
        (_, 408 | 429) | (_, 500..=599) => retryable(code),
        _ => permanent(code),
    };
    classified
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn fcm_error(status: u16, google: &str, fcm: Option<&str>) -> Vec<u8> {
        let details = fcm.map_or_else(Vec::new, |code| {
            vec![serde_json::json!({
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": code
            })]
        });
        serde_json::to_vec(&serde_json::json!({
            "error": { "code": status, "message": "m", "status": google, "details": details }
        }))
        .unwrap()
    }

    #[test]
    fn follows_the_table() {
        let none = HeaderMap::new();
        let c = classify(
            404,
            &none,
            &fcm_error(404, "NOT_FOUND", Some("UNREGISTERED")),
        );
        assert!(c.unregistered && !c.token_rejected);
        assert_eq!(c.outcome.code(), Some("unregistered"));
        assert_eq!(c.outcome.class(), "permanent");

        for (status, google, fcm, class, code) in [
            (
                400,
                "INVALID_ARGUMENT",
                Some("INVALID_ARGUMENT"),
                "permanent",
                "invalid_argument",
            ),
            (
                403,
                "PERMISSION_DENIED",
                Some("SENDER_ID_MISMATCH"),
                "permanent",
                "sender_id_mismatch",
            ),
            (
                503,
                "UNAVAILABLE",
                Some("UNAVAILABLE"),
                "retryable",
                "unavailable",
            ),
            (500, "INTERNAL", Some("INTERNAL"), "retryable", "internal"),
            (
                401,
                "UNAUTHENTICATED",
                None,
                "token_expired",
                "unauthenticated",
            ),
            (502, "", None, "retryable", ""),
        ] {
            let c = classify(status, &none, &fcm_error(status, google, fcm));
            assert_eq!(c.outcome.class(), class, "{status} {google}");
            if !code.is_empty() {
                assert_eq!(c.outcome.code(), Some(code));
            }
            assert_eq!(c.token_rejected, status == 401);
            assert!(!c.unregistered);
        }

        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        let c = classify(
            429,
            &headers,
            &fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED")),
        );
        assert_eq!(
            (c.outcome.code(), c.outcome.class()),
            (Some("quota_exceeded"), "retryable")
        );
        assert!(matches!(
            c.outcome,
            Outcome::Retryable {
                retry_after_ms: Some(30_000),
                ..
            }
        ));

        let c = classify(418, &none, b"teapot");
        assert_eq!(c.outcome.code(), Some("http_418"));
        assert_eq!(c.outcome.class(), "permanent");
    }
}
