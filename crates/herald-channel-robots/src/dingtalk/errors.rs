//! The DingTalk robot error table as code: an answer → [`Outcome`]. The table itself is
//! documented in the [module doc](super).

use crate::robot::{RobotAnswer, http_status_outcome};
use herald_domain::Outcome;
use std::time::Duration;

/// How long DingTalk mutes a robot that exceeded 20 messages a minute.
pub const THROTTLE_MUTE: Duration = Duration::from_secs(600);

/// `errcode` of a robot that sent too fast.
pub const TOO_FAST: i64 = 130101;

/// Classifies an answer of `POST /robot/send`.
pub fn classify(answer: &RobotAnswer) -> Outcome {
    let Some(json) = &answer.json else {
        return if answer.status.is_success() {
            invalid_response(answer)
        } else {
            http_status_outcome(answer)
        };
    };
    let Some(errcode) = json.get("errcode").and_then(serde_json::Value::as_i64) else {
        return if answer.status.is_success() {
            invalid_response(answer)
        } else {
            http_status_outcome(answer)
        };
    };
    let errmsg = json
        .get("errmsg")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let code = errcode.to_string();
    match errcode {
        0 => Outcome::Delivered { provider_id: None },
        TOO_FAST => Outcome::Retryable {
            code,
            message: errmsg,
            retry_after_ms: Some(THROTTLE_MUTE.as_millis() as u64),
        },
        // -1: "系统繁忙" (system busy), the platform-wide transient answer.
        -1 => Outcome::Retryable {
            code,
            message: errmsg,
            retry_after_ms: answer.retry_after_ms,
        },
        _ if !answer.status.is_success() && answer.status.is_server_error() => {
            http_status_outcome(answer)
        }
        _ => Outcome::Permanent {
            code,
            message: errmsg,
        },
    }
}

fn invalid_response(answer: &RobotAnswer) -> Outcome {
    // A 2xx without an errcode: the request arrived, but nobody can say it was accepted.
    Outcome::Unknown {
        code: "invalid_response".into(),
        message: format!("HTTP {} without errcode: {}", answer.status, answer.text),
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
        let ok = answer(200, Some(json!({"errcode": 0, "errmsg": "ok"})));
        assert_eq!(classify(&ok), Outcome::Delivered { provider_id: None });
        let fast = classify(&answer(
            200,
            Some(json!({"errcode": 130101, "errmsg": "send too fast"})),
        ));
        assert_eq!(
            fast,
            Outcome::Retryable {
                code: "130101".into(),
                message: "send too fast".into(),
                retry_after_ms: Some(600_000)
            }
        );
        for permanent in [310000, 300001, 300005, 400013] {
            let outcome = classify(&answer(
                200,
                Some(json!({"errcode": permanent, "errmsg": "x"})),
            ));
            assert_eq!(outcome.class(), "permanent", "{permanent}");
            assert_eq!(outcome.code(), Some(permanent.to_string().as_str()));
        }
        assert_eq!(
            classify(&answer(200, Some(json!({"errcode": -1})))).class(),
            "retryable"
        );
        assert_eq!(classify(&answer(503, None)).code(), Some("http_503"));
        assert_eq!(classify(&answer(404, None)).class(), "permanent");
        assert_eq!(classify(&answer(200, None)).class(), "unknown");
    }
}
