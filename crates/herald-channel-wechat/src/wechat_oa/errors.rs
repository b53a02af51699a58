//! The WeChat Official Account error table: `errcode` of an HTTP 200 reply → [`Outcome`].
//!
//! | errcode | meaning | outcome | notes |
//! |---|---|---|---|
//! | 0 | ok | `Sent` (template: receipt follows) / `Delivered` (subscribe: no receipt) | provider id = `msgid` |
//! | -1 | system busy | `Retryable` | code `wechat_-1` |
//! | 40001, 40014, 42001 | token invalid / malformed / expired | `TokenExpired` | the rejected token is dropped from the shared cache; the dispatcher calls `refresh_token` and resends once |
//! | 45009 | daily API quota reached | `Retryable` | `retry_after_ms` = until midnight China time (quotas reset then) |
//! | 45011 | per-minute frequency limit | `Retryable` | `retry_after_ms` = 60 s |
//! | 40003 | invalid openid | `Permanent` | |
//! | 43004 | receiver has not followed the account | `Permanent` | |
//! | 43101 | user refused subscribe messages | `Permanent` | |
//! | 40037 | invalid template_id | `Permanent` | |
//! | 47003 | template data does not fit the template | `Permanent` | |
//! | 47001 | malformed request | `Permanent` | |
//! | 48001 | API not authorised for this account | `Permanent` | |
//! | 40164 | caller IP not in the whitelist | `Permanent` | fix the console whitelist, then replay |
//! | 40013, 40125, 40002 | bad appid / secret / grant (token fetch) | `Permanent` | config problem |
//! | any other | | `Permanent` | code `wechat_<errcode>`; unknown codes are never retried blindly |
//!
//! Transport and HTTP failures follow [`crate::common::call`]: refused connection and
//! 429/5xx `Retryable`, timeout `Unknown` (never resent blindly), a failed token fetch
//! `Retryable` (no message left).

use crate::common::call::ms_until_china_midnight;
use herald_domain::Outcome;

/// Token errcodes: drop the token, refresh, resend once.
pub const TOKEN_ERRORS: [i64; 3] = [40001, 40014, 42001];

/// The outcome of a non-zero `errcode`.
pub fn classify(errcode: i64, errmsg: &str, now_ms: i64) -> Outcome {
    let code = format!("wechat_{errcode}");
    let message = format!("errcode {errcode}: {errmsg}");
    match errcode {
        -1 => Outcome::Retryable {
            code,
            message,
            retry_after_ms: None,
        },
        c if TOKEN_ERRORS.contains(&c) => Outcome::TokenExpired { code, message },
        45009 => Outcome::Retryable {
            code,
            message,
            retry_after_ms: Some(ms_until_china_midnight(now_ms)),
        },
        45011 => Outcome::Retryable {
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
        assert_eq!(classify(-1, "system error", 0).class(), "retryable");
        for token in TOKEN_ERRORS {
            assert_eq!(classify(token, "x", 0).class(), "token_expired", "{token}");
        }
        let daily = classify(45009, "reach max api daily quota limit", 1_704_121_200_000);
        assert_eq!(
            daily,
            Outcome::Retryable {
                code: "wechat_45009".into(),
                message: "errcode 45009: reach max api daily quota limit".into(),
                retry_after_ms: Some(3_600_000),
            }
        );
        let Outcome::Retryable { retry_after_ms, .. } = classify(45011, "minute", 0) else {
            panic!("45011 is retryable");
        };
        assert_eq!(retry_after_ms, Some(60_000));
        for permanent in [
            40003, 43004, 43101, 40037, 47003, 47001, 48001, 40164, 40013, 40125, 99999,
        ] {
            let outcome = classify(permanent, "x", 0);
            assert_eq!(outcome.class(), "permanent", "{permanent}");
            assert_eq!(outcome.code(), Some(format!("wechat_{permanent}").as_str()));
        }
    }
}
