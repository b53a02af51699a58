//! `_bulk` writes: strict NDJSON requests (one action line, one source line, each ending in
//! `\n`), per-item outcomes, and retries of **only the items that failed transiently**.
//!
//! ES answers a bulk request with one result per item, in order; a request can half succeed.
//! Items rejected with 429 (a full write queue) or 5xx (a shard unavailable) are sent again,
//! alone, after a short backoff; a 409 (an external version not above the stored one, or a
//! `create` of an existing document) is a final answer, as is any other 4xx. Items already
//! written are never sent twice, so a retry cannot turn into a version conflict of its own.

use crate::client::{EsClient, EsError, error_reason, status_error};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// One write in a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkOp {
    /// Whole-document index guarded by an external version: written only if `version` is
    /// strictly above the stored one (ES answers 409 otherwise).
    IndexVersioned {
        index: String,
        id: String,
        version: u64,
        source: Value,
    },
    /// Create only if absent (`op_type=create`; 409 when the id exists).
    Create {
        index: String,
        id: String,
        source: Value,
    },
}

impl BulkOp {
    /// Appends this operation's two NDJSON lines to `out`.
    fn write_ndjson(&self, out: &mut String) {
        let (action, source) = match self {
            Self::IndexVersioned {
                index,
                id,
                version,
                source,
            } => (
                json!({"index": {"_index": index, "_id": id,
                                 "version": version, "version_type": "external"}}),
                source,
            ),
            Self::Create { index, id, source } => {
                (json!({"create": {"_index": index, "_id": id}}), source)
            }
        };
        // serde_json's compact form never contains a raw newline (strings escape it).
        out.push_str(&action.to_string());
        out.push('\n');
        out.push_str(&source.to_string());
        out.push('\n');
    }
}

/// The final answer for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Written; `version` is the document's `_version` after the write.
    Written { version: u64 },
    /// 409: the stored version is not below ours, or the document already exists.
    Conflict,
    /// Refused for good (a mapping error, a malformed document…).
    Rejected { status: u16, reason: String },
}

/// How often and how patiently transient item failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry; doubled each time.
    pub initial_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 5,
            initial_backoff: Duration::from_millis(50),
        }
    }
}

/// The `refresh` parameter of writes: `wait_for` makes a write visible to search before the
/// call returns (records promise read-your-writes), `false` favours throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refresh {
    #[default]
    WaitFor,
    No,
}

impl Refresh {
    fn query(self) -> &'static str {
        match self {
            Self::WaitFor => "?refresh=wait_for",
            Self::No => "",
        }
    }
}

/// Runs `ops` with `_bulk`, retrying transiently failed items only; answers one outcome per
/// op, in order. Fails only when the request itself keeps failing or transient item errors
/// outlast the policy.
pub async fn run_bulk(
    client: &EsClient,
    ops: &[BulkOp],
    policy: RetryPolicy,
    refresh: Refresh,
) -> Result<Vec<ItemOutcome>, EsError> {
    let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; ops.len()];
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut backoff = policy.initial_backoff;
    let mut tries = 0;
    while !pending.is_empty() {
        let answer = send_once(client, ops, &pending, refresh).await;
        let mut last_transient = None;
        match answer {
            Ok(items) => {
                let mut still = Vec::new();
                for (index, item) in pending.iter().zip(items) {
                    match item {
                        Attempt::Final(outcome) => outcomes[*index] = Some(outcome),
                        Attempt::Transient(error) => {
                            still.push(*index);
                            last_transient = Some(error);
                        }
                    }
                }
                pending = still;
            }
            Err(error) if error.is_transient() => last_transient = Some(error),
            Err(error) => return Err(error),
        }
        if let Some(error) = last_transient {
            if tries >= policy.retries {
                return Err(error);
            }
            tries += 1;
            tracing::debug!(
                items = pending.len(),
                ?backoff,
                "retrying failed bulk items"
            );
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(ItemOutcome::Conflict))
        .collect())
}

/// One item's answer in one round.
enum Attempt {
    Final(ItemOutcome),
    Transient(EsError),
}

async fn send_once(
    client: &EsClient,
    ops: &[BulkOp],
    selected: &[usize],
    refresh: Refresh,
) -> Result<Vec<Attempt>, EsError> {
    let mut body = String::new();
    for index in selected {
        ops[*index].write_ndjson(&mut body);
    }
    let path = format!("/_bulk{}", refresh.query());
    let (status, answer) = client
        .send_raw(Method::POST, &path, Some((body, "application/x-ndjson")))
        .await?;
    let url = format!("_bulk ({} items)", selected.len());
    if !status.is_success() {
        return Err(status_error(&Method::POST, &url, status, &answer));
    }
    let items = answer
        .get("items")
        .and_then(Value::as_array)
        .filter(|items| items.len() == selected.len())
        .ok_or_else(|| EsError::Decode {
            url: url.clone(),
            detail: format!("expected {} items in {answer}", selected.len()),
        })?;
    items.iter().map(|item| parse_item(item, &url)).collect()
}

fn parse_item(item: &Value, url: &str) -> Result<Attempt, EsError> {
    let result = item
        .as_object()
        .and_then(|o| o.values().next())
        .ok_or_else(|| EsError::Decode {
            url: url.to_string(),
            detail: format!("bulk item {item}"),
        })?;
    let status = result.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
    let reason = || error_reason(result);
    Ok(match status {
        200..=299 => Attempt::Final(ItemOutcome::Written {
            version: result.get("_version").and_then(Value::as_u64).unwrap_or(0),
        }),
        409 => Attempt::Final(ItemOutcome::Conflict),
        429 | 500.. => Attempt::Transient(EsError::Status {
            method: "POST".into(),
            url: url.to_string(),
            status,
            reason: reason(),
        }),
        _ => Attempt::Final(ItemOutcome::Rejected {
            status,
            reason: reason(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_has_one_line_per_action_and_source_each_terminated() {
        let mut out = String::new();
        BulkOp::IndexVersioned {
            index: "d".into(),
            id: "a".into(),
            version: 258,
            source: json!({"content": "line one\nline two"}),
        }
        .write_ndjson(&mut out);
        BulkOp::Create {
            index: "t".into(),
            id: "a:1".into(),
            source: json!({}),
        }
        .write_ndjson(&mut out);
        let lines: Vec<&str> = out.split_terminator('\n').collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(out.ends_with('\n'));
        let action: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(action["index"]["version_type"], "external");
        assert_eq!(action["index"]["version"], 258);
        let source: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(source["content"], "line one\nline two");
        assert_eq!(lines[2], r#"{"create":{"_id":"a:1","_index":"t"}}"#);
    }
}
