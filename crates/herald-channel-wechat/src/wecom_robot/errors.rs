//! The WeCom group-robot error table: `errcode` of an HTTP 200 reply → [`Outcome`].
//!
//! | errcode | meaning | outcome | notes |
//! |---|---|---|---|
//! | 0 | ok | `Delivered` | robots have no receipts and no message id |
//! | -1 | system busy | `Retryable` | |
//! | 45009 | over 20 messages a minute for this robot | `Retryable` | `retry_after_ms` = 60 s |
//! | 93000 | invalid webhook key (robot removed or key wrong) | `Permanent` | config |
//! | 40008, 44004, 47001 | bad msgtype / empty content / bad format | `Permanent` | |
//! | any other | | `Permanent` | code `wecom_<errcode>` |
//!
//! Transport and HTTP failures follow [`crate::common::call`] (timeout → `Unknown`).

use herald_domain::Outcome;

/// The outcome of a non-zero `errcode`.
pub fn classify(errcode: i64, errmsg: &str) -> Outcome {
    let code = format!("wecom_{errcode}");
    let message = format!("errcode {errcode}: {errmsg}");
    match errcode {
        -1 => Outcome::Retryable {
            code,
            message,
            retry_after_ms: None,
        },
        45009 => Outcome::Retryable {
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
        assert_eq!(
            classify(45009, "api freq out of limit"),
            Outcome::Retryable {
                code: "wecom_45009".into(),
                message: "errcode 45009: api freq out of limit".into(),
                retry_after_ms: Some(60_000),
            }
        );
        for permanent in [93000, 40008, 44004, 47001, 1] {
            assert_eq!(classify(permanent, "x").class(), "permanent", "{permanent}");
        }
    }
}
