//! A thin JSON client for the Elasticsearch/OpenSearch REST API over `reqwest`: requests,
//! ES error bodies turned into typed errors, and the mapping of those errors onto
//! [`StoreError`] (unreachable or overloaded → `Unavailable`, anything else → `Backend`).

use herald_ports::StoreError;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Why a request to the search engine failed.
#[derive(Debug, thiserror::Error)]
pub enum EsError {
    /// No answer: connection refused, reset, timed out.
    #[error("request to {url} failed: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// An answer with an error status; `reason` is ES's `error.type: error.reason`.
    #[error("{method} {url} answered {status}: {reason}")]
    Status {
        method: String,
        url: String,
        status: u16,
        reason: String,
    },
    /// A body that is not the JSON the API documents.
    #[error("unexpected answer from {url}: {detail}")]
    Decode { url: String, detail: String },
}

impl EsError {
    /// Whether trying again later may succeed (transport errors, 429, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Decode { .. } => false,
        }
    }

    /// The port's error for this failure, with what was being done.
    pub fn into_store_error(self, context: &str) -> StoreError {
        if self.is_transient() {
            StoreError::Unavailable(format!("{context}: {self}"))
        } else {
            StoreError::backend(context.to_string(), self)
        }
    }
}

/// A client of one cluster (any node; the cluster routes).
#[derive(Debug, Clone)]
pub struct EsClient {
    http: reqwest::Client,
    base: String,
}

impl EsClient {
    /// A client of the cluster at `base_url` (e.g. `http://127.0.0.1:9200`).
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| StoreError::backend("building the HTTP client", e))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
        })
    }

    /// Sends a request with an optional JSON body; answers the status and parsed body.
    /// Error statuses are returned, not raised: callers decide which ones are expected.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), EsError> {
        let payload = body.map(|b| (b.to_string(), "application/json"));
        self.send_raw(method, path, payload).await
    }

    /// Like [`Self::send`], with a ready body and its content type (NDJSON for `_bulk`).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(String, &'static str)>,
    ) -> Result<(StatusCode, Value), EsError> {
        let url = format!("{}{}", self.base, path);
        let mut request = self.http.request(method, &url);
        if let Some((body, content_type)) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        let transport = |source| EsError::Transport {
            url: url.clone(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| EsError::Decode {
                url: url.clone(),
                detail: format!("{e} in {}", String::from_utf8_lossy(&bytes)),
            })?
        };
        Ok((status, value))
    }

    /// Sends and requires a success status.
    pub async fn expect_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, EsError> {
        let (status, value) = self.send(method.clone(), path, body).await?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(status_error(
                &method,
                &format!("{}{path}", self.base),
                status,
                &value,
            ))
        }
    }
}

/// An [`EsError::Status`] from an error answer.
pub fn status_error(method: &Method, url: &str, status: StatusCode, body: &Value) -> EsError {
    EsError::Status {
        method: method.to_string(),
        url: url.to_string(),
        status: status.as_u16(),
        reason: error_reason(body),
    }
}

/// `type: reason` of an ES error object (`{"error": {...}}` or the inner object).
pub fn error_reason(body: &Value) -> String {
    let error = body.get("error").unwrap_or(body);
    match (error.get("type"), error.get("reason")) {
        (Some(t), Some(r)) => format!(
            "{}: {}",
            t.as_str().unwrap_or("?"),
            r.as_str().unwrap_or("?")
        ),
        _ => body.to_string(),
    }
}
