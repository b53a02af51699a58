//! A fake Elasticsearch for tests: an axum server on `127.0.0.1` that behaves like the real
//! thing for what this crate uses, so the records backend is tested against the protocol and
//! not against itself.
//!
//! Served: `PUT /_index_template/{name}`, `PUT /{index}` (400 `resource_already_exists_exception`
//! when it exists; indices written to are also created on the fly from a matching template),
//! `POST /_bulk` (see [`bulk`]: strict NDJSON, per-item results, external versioning, `create`
//! conflicts, strict mappings), `GET /{index}/_doc/{id}`, `POST /{index}/_mget` and
//! `POST /{index}/_search` (see [`query`]: term/terms/range/prefix/bool/match_phrase(_prefix)
//! over whitespace tokens of `text` fields, sort, `search_after`, `size`). Errors have ES's
//! shape: `{"error": {"root_cause": [..], "type", "reason"}, "status"}`.
//!
//! Writes are visible at once (as if every write refreshed). [`FakeElasticsearch::fail_next_items`]
//! makes the next bulk items answer 429 `es_rejected_execution_exception`, to test clients
//! that retry only the failed items.

mod bulk;
mod query;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

/// One stored document.
#[derive(Debug, Clone)]
pub(crate) struct StoredDoc {
    source: Value,
    version: u64,
    seq_no: u64,
}

/// One index: documents by id and what its mapping says about fields.
#[derive(Debug, Default)]
pub(crate) struct FakeIndex {
    docs: BTreeMap<String, StoredDoc>,
    /// Fields mapped as `text` (analysed into whitespace tokens).
    text_fields: HashSet<String>,
    /// Top-level fields of a `dynamic: strict` mapping (`None`: anything goes).
    strict_fields: Option<HashSet<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct FakeState {
    indices: HashMap<String, FakeIndex>,
    templates: HashMap<String, Value>,
    next_seq_no: u64,
    /// Statuses the next bulk items answer with instead of being executed.
    injected: VecDeque<u16>,
    bulk_requests: usize,
    bulk_items: usize,
}

impl FakeState {
    /// The index, created from the first template whose pattern matches when missing.
    fn index_mut(&mut self, name: &str) -> &mut FakeIndex {
        if !self.indices.contains_key(name) {
            let index = self.new_index(name);
            self.indices.insert(name.to_string(), index);
        }
        self.indices.get_mut(name).expect("inserted above")
    }

    fn new_index(&self, name: &str) -> FakeIndex {
        let mut index = FakeIndex::default();
        let template = self.templates.values().find(|t| {
            t["index_patterns"].as_array().is_some_and(|patterns| {
                patterns.iter().filter_map(Value::as_str).any(|p| {
                    p.strip_suffix('*')
                        .map_or(p == name, |prefix| name.starts_with(prefix))
                })
            })
        });
        if let Some(mappings) = template.map(|t| &t["template"]["mappings"])
            && let Some(props) = mappings["properties"].as_object()
        {
            for (field, spec) in props {
                if spec["type"] == "text" {
                    index.text_fields.insert(field.clone());
                }
            }
            if mappings["dynamic"] == "strict" {
                index.strict_fields = Some(props.keys().cloned().collect());
            }
        }
        index
    }
}

/// A running fake; the server stops when this is dropped.
pub struct FakeElasticsearch {
    addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeElasticsearch {
    /// Starts a fake on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = router(state.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "fake elasticsearch stopped");
            }
        });
        Ok(Self {
            addr,
            state,
            server,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `count` bulk items (across requests) answer `status` (429 or 5xx) without
    /// being executed.
    pub fn fail_next_items(&self, count: usize, status: u16) {
        self.state
            .lock()
            .injected
            .extend(std::iter::repeat_n(status, count));
    }

    /// `(bulk requests, bulk items)` received so far.
    pub fn bulk_counts(&self) -> (usize, usize) {
        let state = self.state.lock();
        (state.bulk_requests, state.bulk_items)
    }

    /// A document's `(_version, _source)`.
    pub fn document(&self, index: &str, id: &str) -> Option<(u64, Value)> {
        let state = self.state.lock();
        let doc = state.indices.get(index)?.docs.get(id)?;
        Some((doc.version, doc.source.clone()))
    }
}

impl Drop for FakeElasticsearch {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Shared = Arc<Mutex<FakeState>>;

fn router(state: Shared) -> Router {
    Router::new()
        .route("/_bulk", post(bulk::handle))
        .route("/_index_template/{name}", put(put_template))
        .route("/{index}", put(create_index))
        .route("/{index}/_doc/{id}", get(get_doc))
        .route("/{index}/_mget", post(mget).get(mget))
        .route("/{index}/_search", post(query::handle).get(query::handle))
        .with_state(state)
}

/// An error answer in ES's shape, before it becomes a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    status: StatusCode,
    kind: String,
    reason: String,
}

impl Fault {
    pub(crate) fn new(status: StatusCode, kind: &str, reason: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.to_string(),
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let cause = json!({"type": self.kind, "reason": self.reason});
        let body = json!({
            "error": {"root_cause": [cause.clone()], "type": self.kind, "reason": self.reason},
            "status": self.status.as_u16(),
        });
        (self.status, axum::Json(body)).into_response()
    }
}

/// An error answer in ES's shape.
pub(crate) fn es_error(status: StatusCode, kind: &str, reason: impl Into<String>) -> Response {
    Fault::new(status, kind, reason).into_response()
}

fn index_not_found(index: &str) -> Response {
    es_error(
        StatusCode::NOT_FOUND,
        "index_not_found_exception",
        format!("no such index [{index}]"),
    )
}

/// A JSON request body, or ES's parse error.
pub(crate) fn parse_json_body(body: &str) -> Result<Value, Fault> {
    if body.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(body).map_err(|e| {
        Fault::new(
            StatusCode::BAD_REQUEST,
            "x_content_parse_exception",
            format!("[{}:{}] {e}", e.line(), e.column()),
        )
    })
}

async fn put_template(
    State(state): State<Shared>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let template = match parse_json_body(&body) {
        Ok(t) => t,
        Err(fault) => return fault.into_response(),
    };
    if !template["index_patterns"].is_array() {
        return es_error(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: index patterns are missing;",
        );
    }
    state.lock().templates.insert(name, template);
    axum::Json(json!({"acknowledged": true})).into_response()
}

async fn create_index(State(state): State<Shared>, Path(index): Path<String>) -> Response {
    let mut state = state.lock();
    if state.indices.contains_key(&index) {
        return es_error(
            StatusCode::BAD_REQUEST,
            "resource_already_exists_exception",
            format!("index [{index}] already exists"),
        );
    }
    state.index_mut(&index);
    axum::Json(json!({"acknowledged": true, "shards_acknowledged": true, "index": index}))
        .into_response()
}

fn doc_answer(index: &str, id: &str, doc: Option<&StoredDoc>) -> Value {
    match doc {
        Some(doc) => json!({
            "_index": index, "_id": id, "_version": doc.version, "_seq_no": doc.seq_no,
            "_primary_term": 1, "found": true, "_source": doc.source,
        }),
        None => json!({"_index": index, "_id": id, "found": false}),
    }
}

async fn get_doc(
    State(state): State<Shared>,
    Path((index, id)): Path<(String, String)>,
) -> Response {
    let state = state.lock();
    let Some(found) = state.indices.get(&index) else {
        return index_not_found(&index);
    };
    let doc = found.docs.get(&id);
    let status = if doc.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    (status, axum::Json(doc_answer(&index, &id, doc))).into_response()
}

async fn mget(State(state): State<Shared>, Path(index): Path<String>, body: String) -> Response {
    let request = match parse_json_body(&body) {
        Ok(r) => r,
        Err(fault) => return fault.into_response(),
    };
    let ids: Option<Vec<String>> = match (&request["ids"], &request["docs"]) {
        (Value::Array(ids), _) => ids.iter().map(|v| v.as_str().map(String::from)).collect(),
        (_, Value::Array(docs)) => docs
            .iter()
            .map(|d| d["_id"].as_str().map(String::from))
            .collect(),
        _ => None,
    };
    let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
        return es_error(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: no documents to get;",
        );
    };
    let state = state.lock();
    let Some(found) = state.indices.get(&index) else {
        return index_not_found(&index);
    };
    let docs: Vec<Value> = ids
        .iter()
        .map(|id| doc_answer(&index, id, found.docs.get(id)))
        .collect();
    axum::Json(json!({ "docs": docs })).into_response()
}
