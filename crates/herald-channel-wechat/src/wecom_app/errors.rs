//! The WeCom application-message error table: `errcode` of an HTTP 200 reply → [`Outcome`].
//!
//! | errcode | meaning | outcome | notes |
//! |---|---|---|---|
//! | 0 | ok | `Delivered` per receiver | WeCom has no receipts; provider id = `msgid` |
//! | 0 with the receiver in `invaliduser` / `unlicenseduser` | not a member / no licence | `Permanent` for that receiver | code `wecom_invalid_user` / `wecom_unlicensed_user`; the others succeed |
//! | 81013 | every receiver invalid | `Permanent` | |
//! | -1 | system busy | `Retryable` | |
//! | 40014, 42001 | token invalid / expired | `TokenExpired` | the rejected token is dropped; the dispatcher calls `refresh_token` and resends once |
//! | 45009, 45033 | API frequency / concurrency limit | `Retryable` | `retry_after_ms` = 60 s |
//! | 40056 | invalid agentid | `Permanent` | config: the agentid does not match the secret's app |
//! | 60020 | caller IP not trusted | `Permanent` | fix the app's trusted IPs, then replay |
//! | 40001, 40013 | bad secret / corpid (gettoken) | `Permanent` | config |
//! | 40008, 44004, 47001 | bad msgtype / empty content / bad format | `Permanent` | |
//! | any other | | `Permanent` | code `wecom_<errcode>` |
//! | (before sending) member over 30/min or 1,000/h | — | `Retryable` | code `member_rate_limited`, `retry_after_ms` until the window frees; WeCom would drop the message silently |
//!
//! Transport and HTTP failures follow [`crate::common::call`] (a timeout is `Unknown` for
//! every receiver of the call; a failed token fetch `Retryable`).

use herald_domain::Outcome;

/// Token errcodes of message sends.
pub const TOKEN_ERRORS: [i64; 2] = [40014, 42001];

/// The outcome of a non-zero `errcode` (for the whole call).
pub fn classify(errcode: i64, errmsg: &str) -> Outcome {
    let code = format!("wecom_{errcode}");
    let message = format!("errcode {errcode}: {errmsg}");
    match errcode {
        -1 => Outcome::Retryable {
            code,
            message,
            retry_after_ms: None,
        },
        c if TOKEN_ERRORS.contains(&c) => Outcome::TokenExpired { code, message },
        45009 | 45033 => Outcome::Retryable {
            code,
            message,
            retry_after_ms: Some(60_000),
        },
        _ => Outcome::Permanent { code, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_table() {
        assert_eq!(classify(-1, "busy").class(), "retryable");
        assert_eq!(classify(40014, "x").class(), "token_expired");
        assert_eq!(classify(42001, "x").class(), "token_expired");
        let Outcome::Retryable { retry_after_ms, .. } = classify(45009, "freq") else {
            panic!("45009 is retryable");
        };
        assert_eq!(retry_after_ms, Some(60_000));
        for permanent in [81013, 40056, 60020, 40001, 40013, 40008, 44004, 12345] {
            let outcome = classify(permanent, "x");
            assert_eq!(outcome.class(), "permanent", "{permanent}");
            assert_eq!(outcome.code(), Some(format!("wecom_{permanent}").as_str()));
        }
    }
}
