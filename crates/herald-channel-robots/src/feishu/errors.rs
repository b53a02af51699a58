//! The Feishu custom-bot error table as code: an answer → [`Outcome`]. The table itself is
//! documented in the [module doc](super).

use crate::robot::{RobotAnswer, http_status_outcome};
use herald_domain::Outcome;
use std::time::Duration;

/// `code` of a bot over its frequency limit.
pub const FREQUENCY_LIMITED: i64 = 11232;
/// `code` of a bad signature or a timestamp outside the hour.
pub const SIGN_MISMATCH: i64 = 19021;
/// Feishu does not say how long to wait after `11232`; this clears the 5/s window and
/// spreads retries over the 100/min one.
pub const FREQUENCY_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Classifies an answer of `POST /open-apis/bot/v2/hook/{id}`.
pub fn classify(answer: &RobotAnswer) -> Outcome {
    let code = answer.json.as_ref().and_then(|json| {
        json.get("code")
            .or_else(|| json.get("StatusCode"))
            .and_then(serde_json::Value::as_i64)
    });
    let Some(code) = code else {
        return if answer.status.is_success() {
            Outcome::Unknown {
                code: "invalid_response".into(),
                message: format!("HTTP {} without code: {}", answer.status, answer.text),
            }
        } else {
            http_status_outcome(answer)
        };
    };
    let message = answer
        .json
        .as_ref()
        .and_then(|json| json.get("msg").or_else(|| json.get("StatusMessage")))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match code {
        0 => Outcome::Delivered { provider_id: None },
        FREQUENCY_LIMITED => Outcome::Retryable {
            code: code.to_string(),
            message,
            retry_after_ms: Some(
                answer
                    .retry_after_ms
                    .unwrap_or(FREQUENCY_RETRY_AFTER.as_millis() as u64),
            ),
        },
        // 2200: "Internal Error", Feishu's transient server answer.
        2200 => Outcome::Retryable {
            code: code.to_string(),
            message,
            retry_after_ms: answer.retry_after_ms,
        },
        _ if answer.status.is_server_error() => http_status_outcome(answer),
        _ => Outcome::Permanent {
            code: code.to_string(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use serde_json::json;

    fn answer(status: u16, json: Option<serde_json::Value>) -> RobotAnswer {
        RobotAnswer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after_ms: None,
            text: json.as_ref().map(ToString::to_string).unwrap_or_default(),
            json,
        }
    }

    #[test]
    fn follows_the_table() {
        let ok = json!({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"});
        assert_eq!(
            classify(&answer(200, Some(ok))),
            Outcome::Delivered { provider_id: None }
        );
        let legacy = json!({"StatusCode": 0, "StatusMessage": "success"});
        assert_eq!(classify(&answer(200, Some(legacy))).class(), "delivered");
        let limited = classify(&answer(
            200,
            Some(json!({"code": 11232, "msg": "frequency limited"})),
        ));
        assert_eq!(
            limited,
            Outcome::Retryable {
                code: "11232".into(),
                message: "frequency limited".into(),
                retry_after_ms: Some(10_000)
            }
        );
        for permanent in [19021, 19001, 19024, 19022, 9499] {
            let outcome = classify(&answer(200, Some(json!({"code": permanent, "msg": "x"}))));
            assert_eq!(outcome.code(), Some(permanent.to_string().as_str()));
            assert_eq!(outcome.class(), "permanent");
        }
        assert_eq!(
            classify(&answer(500, Some(json!({"code": 2200})))).class(),
            "retryable"
        );
        assert_eq!(classify(&answer(502, None)).code(), Some("http_502"));
        assert_eq!(classify(&answer(400, None)).class(), "permanent");
        assert_eq!(classify(&answer(200, None)).class(), "unknown");
    }
}
