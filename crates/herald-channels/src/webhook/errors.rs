//! The webhook error table as code: HTTP status of the receiver's answer → [`Outcome`].
//! The table itself is documented in the [module doc](super).

use crate::http::retry_after_ms;
use herald_domain::Outcome;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::time::SystemTime;

/// Classifies a receiver's answer. `provider_id` is its `x-request-id`; `snippet` the start
/// of the body, kept in the message of failures.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    provider_id: Option<String>,
    snippet: &str,
) -> Outcome {
    let code = status.as_u16();
    let message = || {
        if snippet.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {snippet}")
        }
    };
    if status.is_success() {
        Outcome::Delivered { provider_id }
    } else if matches!(code, 408 | 425 | 429) || status.is_server_error() {
        Outcome::Retryable {
            code: format!("http_{code}"),
            message: message(),
            retry_after_ms: retry_after_ms(headers, SystemTime::now()),
        }
    } else {
        Outcome::Permanent {
            code: format!("http_{code}"),
            message: message(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn follows_the_table() {
        let none = HeaderMap::new();
        assert_eq!(
            classify(status(204), &none, Some("r1".into()), ""),
            Outcome::Delivered {
                provider_id: Some("r1".into())
            }
        );
        for retryable in [408, 425, 429, 500, 502, 503, 504] {
            let outcome = classify(status(retryable), &none, None, "busy");
            assert_eq!(outcome.class(), "retryable", "{retryable}");
            assert_eq!(outcome.code(), Some(format!("http_{retryable}").as_str()));
        }
        for permanent in [301, 400, 401, 403, 404, 410, 422] {
            let outcome = classify(status(permanent), &none, None, "");
            assert_eq!(outcome.class(), "permanent", "{permanent}");
            assert_eq!(outcome.code(), Some(format!("http_{permanent}").as_str()));
        }
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("12"));
        assert_eq!(
            classify(status(429), &headers, None, "slow down"),
            Outcome::Retryable {
                code: "http_429".into(),
                message: "HTTP 429 Too Many Requests: slow down".into(),
                retry_after_ms: Some(12_000),
            }
        );
    }
}
