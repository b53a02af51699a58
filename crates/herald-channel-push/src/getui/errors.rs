//! The Getui error table as code (documented in the [module doc](super)): `{"code", "msg"}`
//! → [`Outcome`].

use crate::fcm::errors::Classified;
use herald_channels::http::retry_after_ms;
use herald_domain::Outcome;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use std::time::SystemTime;

/// Success.
pub const OK: i64 = 0;
/// The service is starting: try again.
pub const STARTING: i64 = 2;
/// Token wrong or expired: authenticate again.
pub const TOKEN_INVALID: i64 = 10001;
/// appId or IP blacklisted.
pub const BLACKLISTED: i64 = 10002;
/// Too many authentications this minute.
pub const AUTH_RATE: i64 = 10003;
/// Too many calls this minute.
pub const CALL_RATE: i64 = 10005;
/// Invalid parameter.
pub const BAD_PARAMETER: i64 = 20001;
/// Push failed: the target user (cid) is invalid.
pub const USER_INVALID: i64 = 21001;
/// Per-minute push frequency of the app / of list pushes exceeded (package limits).
const PUSH_FREQUENCY: [i64; 2] = [30014, 30015];

/// A Getui answer body.
#[derive(Debug, Deserialize)]
pub struct Answer {
    pub code: i64,
    #[serde(default)]
    pub msg: String,
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// Classifies an answer that is not success (`code` ≠ 0 or a non-2xx status).
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> Classified {
    let answer = serde_json::from_slice::<Answer>(body).ok();
    let message = match &answer {
        Some(a) => format!("HTTP {status} Getui {}: {}", a.code, a.msg),
        None => format!("HTTP {status}: {}", crate::common::snippet(body)),
    };
    let code = answer
        .as_ref()
        .map_or_else(|| format!("http_{status}"), |a| format!("getui_{}", a.code));
    let retryable = |code: String| Outcome::Retryable {
        code,
        message: message.clone(),
        retry_after_ms: retry_after_ms(headers, SystemTime::now()),
    };
    let mut classified = Classified {
        outcome: Outcome::Permanent {
            code: code.clone(),
            message: message.clone(),
        },
        unregistered: false,
        token_rejected: false,
    };
    match (answer.map(|a| a.code), status) {
        (Some(TOKEN_INVALID), _) => {
            classified.token_rejected = true;
            classified.outcome = Outcome::TokenExpired { code, message };
        }
        (Some(USER_INVALID), _) => {
            classified.unregistered = true;
            classified.outcome = crate::dead_tokens::unregistered(message);
        }
        (Some(c), _)
            if c == STARTING || c == AUTH_RATE || c == CALL_RATE || PUSH_FREQUENCY.contains(&c) =>
        {
            classified.outcome = retryable(code);
        }
        (_, 408 | 429 | 500..=599) => classified.outcome = retryable(code),
        _ => {}
    }
    classified
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: i64) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "code": code, "msg": "m" })).unwrap()
    }

    #[test]
    fn follows_the_table() {
        let none = HeaderMap::new();
        let c = classify(401, &none, &body(TOKEN_INVALID));
        assert!(c.token_rejected);
        assert_eq!(c.outcome.class(), "token_expired");
        let c = classify(400, &none, &body(USER_INVALID));
        assert!(c.unregistered);
        assert_eq!(c.outcome.code(), Some("unregistered"));
        for (status, code, class) in [
            (400, BAD_PARAMETER, "permanent"),
            (401, BLACKLISTED, "permanent"),
            (401, CALL_RATE, "retryable"),
            (401, AUTH_RATE, "retryable"),
            (200, STARTING, "retryable"),
            (403, 30014, "retryable"),
            (403, 30004, "permanent"),
            (503, 503, "retryable"),
        ] {
            let c = classify(status, &none, &body(code));
            assert_eq!(c.outcome.class(), class, "{code}");
            assert_eq!(c.outcome.code(), Some(format!("getui_{code}").as_str()));
        }
        assert_eq!(
            classify(502, &none, b"bad gateway").outcome.code(),
            Some("http_502")
        );
    }
}
