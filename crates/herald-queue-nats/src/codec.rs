//! What a stored message looks like: the task as JSON in the payload, and headers for what
//! the queue itself needs without decoding it (`Nats-Msg-Id`, the due time for the timer,
//! a dead letter's reason and time). Also maps client errors into `StoreError`.

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage as Publish;
use bytes::Bytes;
use herald_domain::{Millis, TaskEnvelope};
use herald_ports::StoreError;

/// JetStream's dedup header.
pub(crate) const MSG_ID: &str = "Nats-Msg-Id";
/// The task's `not_before` in Unix milliseconds (the timer reads only this).
pub(crate) const NOT_BEFORE: &str = "Herald-Not-Before";
/// Why a task died, percent-encoded (header values are one line of ASCII).
pub(crate) const DEAD_REASON: &str = "Herald-Dead-Reason";
/// When a task died, Unix milliseconds.
pub(crate) const DIED_AT: &str = "Herald-Died-At";
/// The dead letter's id (also the last subject token).
pub(crate) const DEAD_ID: &str = "Herald-Dead-Id";
/// The topic a dead task was leased from.
pub(crate) const DEAD_TOPIC: &str = "Herald-Dead-Topic";

pub(crate) fn encode(task: &TaskEnvelope) -> Result<Bytes, StoreError> {
    serde_json::to_vec(task)
        .map(Bytes::from)
        .map_err(|e| StoreError::backend("encoding a queue task", e))
}

pub(crate) fn decode(payload: &[u8]) -> Result<TaskEnvelope, StoreError> {
    serde_json::from_slice(payload)
        .map_err(|e| StoreError::Corrupt(format!("queue task on NATS is not a task: {e}")))
}

/// A task publish: payload, dedup id and due time.
pub(crate) fn task_publish(task: &TaskEnvelope) -> Result<Publish, StoreError> {
    Ok(Publish::build()
        .payload(encode(task)?)
        .message_id(task.dedup_key())
        .header(NOT_BEFORE, task.not_before().to_string()))
}

pub(crate) fn header_str<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers?.get(name).map(|v| v.as_str())
}

pub(crate) fn header_millis(headers: Option<&HeaderMap>, name: &str) -> Option<Millis> {
    header_str(headers, name)?.parse().ok()
}

/// Percent-encodes everything but ASCII letters, digits and `-_.~`, so any reason (several
/// lines, Chinese text, surrounding spaces) survives a header round trip exactly.
pub(crate) fn escape_header(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses [`escape_header`]; malformed escapes are kept as they are.
pub(crate) fn unescape_header(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| value.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Wraps a client error with what the queue was doing.
pub(crate) fn nats_error<E>(context: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::backend(context, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_a_header() {
        for reason in [
            "boom 1",
            "line one\r\nline two",
            "  spaced  ",
            "渠道返回 40001: token 失效",
            "100% sure",
            "",
        ] {
            let escaped = escape_header(reason);
            assert!(
                escaped.bytes().all(|b| b.is_ascii_graphic()),
                "{escaped:?} is not a plain header value"
            );
            assert_eq!(unescape_header(&escaped), reason);
        }
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(unescape_header("50%"), "50%");
        assert_eq!(unescape_header("%zz1"), "%zz1");
    }
}
