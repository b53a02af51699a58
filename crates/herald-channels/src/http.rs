//! HTTP helpers every provider client shares: reading `Retry-After`, classifying transport
//! failures by whether the request may have left, and reading a bounded error snippet.
//!
//! The transport rule is the one that keeps sends exactly-once-ish: a request that provably
//! never left (connection refused, DNS failure) is safe to retry; one that timed out or broke
//! after it may have been written is `Unknown` and must be reconciled, never resent blindly.

use herald_domain::Outcome;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::{Duration, SystemTime};

/// Upper bound on a provider's `Retry-After`: a broken header must not park a delivery for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Most bytes of an error response kept for the outcome message.
const SNIPPET_CHARS: usize = 200;
/// Most bytes of any response body read (the rest is dropped with the connection).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// `Retry-After` in milliseconds (delta-seconds or HTTP-date), capped at [`MAX_RETRY_AFTER`];
/// `None` when absent or unparseable.
pub fn retry_after_ms(headers: &HeaderMap, now: SystemTime) -> Option<u64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate_to_system_time(value)?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(delay.min(MAX_RETRY_AFTER).as_millis() as u64)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires
/// senders to use.
fn httpdate_to_system_time(value: &str) -> Option<SystemTime> {
    let parsed = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let secs = u64::try_from(parsed.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// The outcome of a request that failed before any HTTP status arrived.
pub fn transport_outcome(error: &reqwest::Error) -> Outcome {
    let message = herald_ports::error::error_chain(error);
    if error.is_builder() {
        // Bad URL or header: nothing was sent and nothing will change until the config does.
        Outcome::Permanent {
            code: "config_invalid".into(),
            message,
        }
    } else if error.is_connect() {
        Outcome::Retryable {
            code: "connect".into(),
            message,
            retry_after_ms: None,
        }
    } else if error.is_timeout() {
        Outcome::Unknown {
            code: "timeout".into(),
            message,
        }
    } else {
        Outcome::Unknown {
            code: "io".into(),
            message,
        }
    }
}

/// Reads at most [`MAX_BODY_BYTES`] of the body (so a keep-alive connection can be reused)
/// and returns the first [`SNIPPET_CHARS`] characters as text. Read errors end the read: the
/// status has already decided the outcome.
pub async fn body_snippet(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body)
        .chars()
        .take(SNIPPET_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_caps() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        assert_eq!(retry_after_ms(&with_retry_after("7"), now), Some(7000));
        assert_eq!(
            retry_after_ms(&with_retry_after("Sun, 06 Nov 1994 08:50:07 GMT"), now),
            Some(30_000)
        );
        assert_eq!(
            retry_after_ms(&with_retry_after("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(0),
            "a date in the past means now"
        );
        assert_eq!(
            retry_after_ms(&with_retry_after("86400"), now),
            Some(3_600_000)
        );
        assert_eq!(retry_after_ms(&with_retry_after("soon"), now), None);
        assert_eq!(retry_after_ms(&HeaderMap::new(), now), None);
    }
}
