//! The fake's `_bulk`: the whole request is parsed first, strictly (NDJSON lines, the final
//! newline, known actions and metadata, a source line after `index`/`create`) and a
//! malformed request is refused whole with 400, as ES does. Then each item runs on its own
//! and gets its own result: external versions must be strictly above the stored one
//! (`external_gte`: not below), `create` fails on an existing id, strict mappings refuse
//! unknown fields — all with ES's per-item status and error types.

use super::{FakeState, Fault, Shared, StoredDoc, es_error};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Index,
    Create,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Versioning {
    Internal,
    External,
    ExternalGte,
}

#[derive(Debug)]
struct Item {
    action: Action,
    index: String,
    id: String,
    version: Option<u64>,
    versioning: Versioning,
    source: Option<Value>,
}

fn bad_request(kind: &str, reason: String) -> Fault {
    Fault::new(StatusCode::BAD_REQUEST, kind, reason)
}

fn parse_line(line: &str, number: usize) -> Result<Value, Fault> {
    serde_json::from_str::<Value>(line).map_err(|e| {
        bad_request(
            "x_content_parse_exception",
            format!(
                "[{number}:{}] Unexpected token on line {number}: {e}",
                e.column()
            ),
        )
    })
}

/// Parses the NDJSON body into items, or the 400 a real cluster answers.
fn parse(body: &str) -> Result<Vec<Item>, Fault> {
    if body.is_empty() {
        return Err(bad_request(
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;".into(),
        ));
    }
    if !body.ends_with('\n') {
        return Err(bad_request(
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]".into(),
        ));
    }
    let lines: Vec<&str> = body.split_terminator('\n').collect();
    let mut items = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let number = at + 1;
        let line = lines[at];
        at += 1;
        if line.trim().is_empty() {
            continue;
        }
        let action_line = parse_line(line, number)?;
        let Some((name, meta)) = action_line
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
        else {
            return Err(bad_request(
                "illegal_argument_exception",
                format!(
                    "Malformed action/metadata line [{number}], expected a simple value for field [{line}]"
                ),
            ));
        };
        let action = match name.as_str() {
            "index" => Action::Index,
            "create" => Action::Create,
            "delete" => Action::Delete,
            other => {
                return Err(bad_request(
                    "illegal_argument_exception",
                    format!(
                        "Malformed action/metadata line [{number}], expected one of [create, delete, index, update] but found [{other}]"
                    ),
                ));
            }
        };
        let mut item = parse_meta(action, meta.as_object(), number)?;
        if action != Action::Delete {
            let Some(source_line) = lines.get(at) else {
                return Err(bad_request(
                    "action_request_validation_exception",
                    format!("Validation Failed: 1: source is missing (line [{number}]);"),
                ));
            };
            at += 1;
            let source = parse_line(source_line, number + 1)?;
            if !source.is_object() {
                return Err(bad_request(
                    "mapper_parsing_exception",
                    format!(
                        "failed to parse, document is empty or not an object (line [{}])",
                        number + 1
                    ),
                ));
            }
            item.source = Some(source);
        }
        items.push(item);
    }
    Ok(items)
}

fn parse_meta(
    action: Action,
    meta: Option<&Map<String, Value>>,
    number: usize,
) -> Result<Item, Fault> {
    let meta = meta.ok_or_else(|| {
        bad_request(
            "illegal_argument_exception",
            format!("Malformed action/metadata line [{number}], expected START_OBJECT"),
        )
    })?;
    for key in meta.keys() {
        if !matches!(
            key.as_str(),
            "_index" | "_id" | "version" | "version_type" | "routing"
        ) {
            return Err(bad_request(
                "illegal_argument_exception",
                format!("Action/metadata line [{number}] contains an unknown parameter [{key}]"),
            ));
        }
    }
    let invalid = |reason: &str| {
        bad_request(
            "action_request_validation_exception",
            format!("Validation Failed: 1: {reason};"),
        )
    };
    let index = meta["_index"]
        .as_str()
        .ok_or_else(|| invalid("index is missing"))?;
    let id = meta["_id"]
        .as_str()
        .ok_or_else(|| invalid("an id is required"))?;
    let version = match meta.get("version") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| invalid("illegal version value"))?),
    };
    let versioning = match meta.get("version_type").and_then(Value::as_str) {
        None | Some("internal") => Versioning::Internal,
        Some("external") => Versioning::External,
        Some("external_gte") => Versioning::ExternalGte,
        Some(other) => return Err(invalid(&format!("unknown version_type [{other}]"))),
    };
    if versioning == Versioning::Internal && version.is_some() {
        return Err(invalid(
            "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead",
        ));
    }
    if versioning != Versioning::Internal && version.is_none() {
        return Err(invalid("an external version is required"));
    }
    if action == Action::Create && versioning != Versioning::Internal {
        return Err(invalid(
            "create operations only support internal versioning. use index instead",
        ));
    }
    Ok(Item {
        action,
        index: index.to_string(),
        id: id.to_string(),
        version,
        versioning,
        source: None,
    })
}

pub(super) async fn handle(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(content_type.starts_with("application/x-ndjson")
        || content_type.starts_with("application/json"))
    {
        return es_error(
            StatusCode::NOT_ACCEPTABLE,
            "media_type_header_exception",
            format!("Content-Type header [{content_type}] is not supported"),
        );
    }
    let items = match parse(&body) {
        Ok(items) => items,
        Err(fault) => return fault.into_response(),
    };
    let mut state = state.lock();
    state.bulk_requests += 1;
    state.bulk_items += items.len();
    let results: Vec<Value> = items
        .into_iter()
        .map(|item| execute(&mut state, item))
        .collect();
    let errors = results.iter().any(|r| {
        r.as_object()
            .and_then(|o| o.values().next())
            .is_some_and(|v| v.get("error").is_some())
    });
    axum::Json(json!({"took": 1, "errors": errors, "items": results})).into_response()
}

fn item_error(status: u16, kind: &str, reason: String) -> Value {
    json!({"status": status, "error": {"type": kind, "reason": reason}})
}

/// Runs one item; answers `{"<action>": {result}}`.
fn execute(state: &mut FakeState, item: Item) -> Value {
    let name = match item.action {
        Action::Index => "index",
        Action::Create => "create",
        Action::Delete => "delete",
    };
    let mut result = run(state, &item);
    if let Some(object) = result.as_object_mut() {
        object.insert("_index".into(), item.index.clone().into());
        object.insert("_id".into(), item.id.clone().into());
    }
    json!({ name: result })
}

fn run(state: &mut FakeState, item: &Item) -> Value {
    if let Some(status) = state.injected.pop_front() {
        return item_error(
            status,
            "es_rejected_execution_exception",
            format!(
                "rejected execution of write on [{}] (injected by the fake)",
                item.index
            ),
        );
    }
    state.next_seq_no += 1;
    let seq_no = state.next_seq_no;
    let index = state.index_mut(&item.index);
    let stored = index.docs.get(&item.id);
    let current = stored.map(|d| d.version);
    if item.action == Action::Delete {
        return match index.docs.remove(&item.id) {
            Some(doc) => {
                json!({"_version": doc.version + 1, "result": "deleted", "status": 200, "_seq_no": seq_no, "_primary_term": 1})
            }
            None => {
                json!({"_version": 1, "result": "not_found", "status": 404, "_seq_no": seq_no, "_primary_term": 1})
            }
        };
    }
    let source = item.source.as_ref().and_then(Value::as_object);
    if let (Some(fields), Some(source)) = (&index.strict_fields, source)
        && let Some(unknown) = source.keys().find(|k| !fields.contains(*k))
    {
        return item_error(
            400,
            "strict_dynamic_mapping_exception",
            format!(
                "[1:2] mapping set to strict, dynamic introduction of [{unknown}] within [_doc] is not allowed"
            ),
        );
    }
    let conflict = |reason: String| item_error(409, "version_conflict_engine_exception", reason);
    let version = match (item.action, item.versioning, current, item.version) {
        (Action::Create, _, Some(v), _) => {
            return conflict(format!(
                "[{}]: version conflict, document already exists (current version [{v}])",
                item.id
            ));
        }
        (_, Versioning::External, Some(v), Some(new)) if v >= new => {
            return conflict(format!(
                "[{}]: version conflict, current version [{v}] is higher or equal to the one provided [{new}]",
                item.id
            ));
        }
        (_, Versioning::ExternalGte, Some(v), Some(new)) if v > new => {
            return conflict(format!(
                "[{}]: version conflict, current version [{v}] is higher than the one provided [{new}]",
                item.id
            ));
        }
        (_, Versioning::Internal, current, _) => current.unwrap_or(0) + 1,
        (_, _, _, new) => new.unwrap_or(1),
    };
    let source = item.source.clone().unwrap_or_else(|| json!({}));
    index.docs.insert(
        item.id.clone(),
        StoredDoc {
            source,
            version,
            seq_no,
        },
    );
    let (result, status) = if current.is_some() {
        ("updated", 200)
    } else {
        ("created", 201)
    };
    json!({"_version": version, "result": result, "status": status, "_seq_no": seq_no, "_primary_term": 1,
           "_shards": {"total": 1, "successful": 1, "failed": 0}})
}
