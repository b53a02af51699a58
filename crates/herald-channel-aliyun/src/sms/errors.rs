//! The Alibaba Cloud SMS error table as code: an answer → [`Outcome`]. The outcome's `code` is
//! Aliyun's own (`isv.MOBILE_NUMBER_ILLEGAL`), its message Aliyun's message.
//!
//! | answer | outcome | notes |
//! |---|---|---|
//! | HTTP 200, `Code: "OK"` | `Sent` | `provider_id` = `BizId`; the receipt decides delivered/failed |
//! | 200 `isv.BUSINESS_LIMIT_CONTROL` | `Retryable` | `retry_after_ms` = until the window named in the message (`分钟级` minute, `小时级` hour, `天级` day; China-time clock windows) opens; minute when unnamed |
//! | 200 `isv.DAY_LIMIT_CONTROL`, `isv.MONTH_LIMIT_CONTROL` | `Retryable` | `retry_after_ms` = until the next China-time day |
//! | 200 `isp.SYSTEM_ERROR`, any other `isp.*` | `Retryable` | provider-side failure |
//! | 200 `isv.MOBILE_NUMBER_ILLEGAL`, `isv.MOBILE_COUNT_OVER_LIMIT`, `isv.TEMPLATE_MISSING_PARAMETERS`, `isv.INVALID_JSON_PARAM`, `isv.INVALID_PARAMETERS`, `isv.PARAM_LENGTH_LIMIT`, `isv.SMS_TEMPLATE_ILLEGAL`, `isv.SMS_SIGNATURE_ILLEGAL`, `isv.BLACK_KEY_CONTROL_LIMIT`, `isv.DENY_IP_RANGE` | `Permanent` | this message can never be sent as is |
//! | 200 `isv.AMOUNT_NOT_ENOUGH`, `isv.OUT_OF_SERVICE`, `isv.ACCOUNT_NOT_EXISTS` (account) | `Permanent` | fix the account, then replay |
//! | 200, any other code | `Permanent` | unknown business refusals are not retried blindly |
//! | 4xx/5xx `Throttling`, `Throttling.*` | `Retryable` | `retry_after_ms` from `x-acs-retry-after` (ms, as the SDK reads it) or `Retry-After` |
//! | `InternalError`, `ServiceUnavailable`, any 5xx | `Retryable` | what the SDK retries |
//! | `SignatureNonceUsed` | `Retryable` | the request was refused unprocessed; a resend carries a new nonce |
//! | `InvalidTimeStamp.*` | `Retryable` | this host's clock is off; fixed clocks make the retry pass |
//! | `SignatureDoesNotMatch`, `IncompleteSignature`, `InvalidAccessKeyId.*` | `Permanent` | account credentials (config) |
//! | other 4xx (`MissingPhoneNumbers`, `InvalidVersion`, `Forbidden.*`, …) | `Permanent` | |
//! | HTTP 200 whose body is not the expected JSON | `Unknown` (`bad_response`) | the send may have happened |
//! | connection refused / DNS | `Retryable` (`connect`) | nothing left |
//! | timeout, connection broken mid-request | `Unknown` (`timeout`, `io`) | reconciled with QuerySendDetails, never resent blindly |
//! | bad account config or template fields | `Permanent` (`config_invalid`, `template_invalid`) | |
//! | a per-number limit Herald counts itself (code accounts) | `Retryable` (`isv.BUSINESS_LIMIT_CONTROL`) | refused before calling; `retry_after_ms` until the window opens |

use super::clock::Window;
use herald_domain::{Millis, Outcome};

/// Business codes that will never succeed for this message or account.
const PERMANENT_CODES: &[&str] = &[
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.TEMPLATE_MISSING_PARAMETERS",
    "isv.INVALID_JSON_PARAM",
    "isv.INVALID_PARAMETERS",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.DENY_IP_RANGE",
    "isv.AMOUNT_NOT_ENOUGH",
    "isv.OUT_OF_SERVICE",
    "isv.ACCOUNT_NOT_EXISTS",
];

/// The per-number flow-control code (also used for Herald's own pre-call refusals).
pub const BUSINESS_LIMIT_CONTROL: &str = "isv.BUSINESS_LIMIT_CONTROL";

fn until(window: Window, now: Millis) -> Option<u64> {
    Some((window.end(now) - now).max(0) as u64)
}

/// The window an `isv.BUSINESS_LIMIT_CONTROL` message names.
pub fn limit_window(message: &str) -> Window {
    if message.contains("天") || message.contains("日") {
        Window::Day
    } else if message.contains("小时") {
        Window::Hour
    } else {
        Window::Minute
    }
}

/// A business answer (HTTP 200) whose `Code` is not `OK`.
pub fn classify_business(code: &str, message: &str, now: Millis) -> Outcome {
    let retryable = |retry_after_ms| Outcome::Retryable {
        code: code.to_owned(),
        message: message.to_owned(),
        retry_after_ms,
    };
    match code {
        BUSINESS_LIMIT_CONTROL => retryable(until(limit_window(message), now)),
        "isv.DAY_LIMIT_CONTROL" | "isv.MONTH_LIMIT_CONTROL" => retryable(until(Window::Day, now)),
        _ if code.starts_with("isp.") => retryable(None),
        _ => {
            if !PERMANENT_CODES.contains(&code) {
                tracing::warn!(
                    code,
                    message,
                    "aliyun_sms: unlisted business code, treated as permanent"
                );
            }
            Outcome::Permanent {
                code: code.to_owned(),
                message: message.to_owned(),
            }
        }
    }
}

/// A gateway answer: HTTP 4xx/5xx with `{Code, Message, …}` (`code` `None` when the body had
/// none). `retry_after_ms` is what the response headers asked for.
pub fn classify_gateway(
    status: u16,
    code: Option<&str>,
    message: &str,
    retry_after_ms: Option<u64>,
) -> Outcome {
    let code = code.map_or_else(|| format!("http_{status}"), str::to_owned);
    let message = format!("HTTP {status}: {message}");
    let retryable = code.starts_with("Throttling")
        || matches!(
            code.as_str(),
            "InternalError" | "ServiceUnavailable" | "SignatureNonceUsed"
        )
        || code.starts_with("InvalidTimeStamp")
        || status >= 500
        || status == 429;
    if retryable {
        Outcome::Retryable {
            code,
            message,
            retry_after_ms,
        }
    } else {
        Outcome::Permanent { code, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-02-01 00:30:05 China time.
    const T: Millis = 1_706_718_605_000;

    #[test]
    fn business_codes_follow_the_table() {
        let minute = classify_business(BUSINESS_LIMIT_CONTROL, "触发分钟级流控Permits:1", T);
        assert_eq!(minute.class(), "retryable");
        assert!(matches!(
            minute,
            Outcome::Retryable {
                retry_after_ms: Some(55_000),
                ..
            }
        ));
        let hour = classify_business(BUSINESS_LIMIT_CONTROL, "触发小时级流控Permits:5", T);
        assert!(matches!(
            hour,
            Outcome::Retryable {
                retry_after_ms: Some(1_795_000),
                ..
            }
        ));
        let day_ms = (Window::Day.end(T) - T) as u64;
        for code in ["isv.DAY_LIMIT_CONTROL", "isv.MONTH_LIMIT_CONTROL"] {
            let outcome = classify_business(code, "", T);
            assert_eq!(
                outcome,
                Outcome::Retryable {
                    code: code.into(),
                    message: String::new(),
                    retry_after_ms: Some(day_ms)
                }
            );
        }
        let day = classify_business(BUSINESS_LIMIT_CONTROL, "触发天级流控Permits:10", T);
        assert!(matches!(day, Outcome::Retryable { retry_after_ms: Some(ms), .. } if ms == day_ms));
        assert!(matches!(
            classify_business("isp.SYSTEM_ERROR", "", T),
            Outcome::Retryable {
                retry_after_ms: None,
                ..
            }
        ));
        for code in PERMANENT_CODES {
            assert_eq!(
                classify_business(code, "m", T).class(),
                "permanent",
                "{code}"
            );
        }
        assert_eq!(
            classify_business("isv.SOMETHING_NEW", "", T).class(),
            "permanent"
        );
    }

    #[test]
    fn gateway_codes_follow_the_table() {
        for (status, code) in [
            (400, "Throttling.User"),
            (503, "Throttling"),
            (400, "Throttling.Api"),
            (500, "InternalError"),
            (503, "ServiceUnavailable"),
            (400, "SignatureNonceUsed"),
            (400, "InvalidTimeStamp.Expired"),
        ] {
            let outcome = classify_gateway(status, Some(code), "m", Some(7));
            assert_eq!(outcome.class(), "retryable", "{code}");
            assert_eq!(outcome.code(), Some(code));
        }
        for (status, code) in [
            (400, "SignatureDoesNotMatch"),
            (404, "InvalidAccessKeyId.NotFound"),
            (400, "InvalidAccessKeyId.Inactive"),
            (400, "MissingPhoneNumbers"),
            (403, "Forbidden.RAM"),
        ] {
            assert_eq!(
                classify_gateway(status, Some(code), "m", None).class(),
                "permanent",
                "{code}"
            );
        }
        assert_eq!(
            classify_gateway(502, None, "bad gateway", None).code(),
            Some("http_502")
        );
        assert_eq!(classify_gateway(502, None, "", None).class(), "retryable");
    }
}
