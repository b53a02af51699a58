//! Client commands (`send`, `message`, `template`, `account`): thin wrappers over the HTTP API
//! that print the JSON answer and turn an API error (`{"error": {"code", "message", "field"}}`)
//! into a non-zero exit with the API's own message.

use crate::cli::{ApiArgs, MessageCommand, ResourceCommand, SendArgs};
use anyhow::Context as _;
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::io::Read as _;
use std::time::Duration;

/// Talks to one Herald API with one key.
pub struct ApiClient {
    http: reqwest::Client,
    /// Base URL without trailing slash.
    base: String,
    key: Option<String>,
}

/// Why a call failed: the API said no, or the server could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("HTTP {status}{}: {message}{}",
        code.as_ref().map(|c| format!(" {c}")).unwrap_or_default(),
        field.as_ref().map(|f| format!(" (field: {f})")).unwrap_or_default())]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
        field: Option<String>,
    },
}

impl ApiClient {
    pub fn new(api: &ApiArgs) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: api.url.trim_end_matches('/').to_string(),
            key: api.key.clone(),
        })
    }

    /// Sends one request; returns the JSON body (`None` for an empty body such as a 204).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Option<Value>, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).query(query);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |e: reqwest::Error| ClientError::Transport {
            url: url.clone(),
            reason: error_chain(&e),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let text = response.text().await.map_err(transport)?;
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return Ok(parsed.or_else(|| (!text.is_empty()).then_some(Value::String(text))));
        }
        Err(api_error(status.as_u16(), parsed.as_ref(), &text))
    }
}

fn api_error(status: u16, body: Option<&Value>, text: &str) -> ClientError {
    let error = body.and_then(|b| b.get("error"));
    let field_text = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let message = field_text("message").unwrap_or_else(|| {
        let text = text.trim();
        if text.is_empty() {
            "(empty response)".to_string()
        } else {
            text.chars().take(500).collect()
        }
    });
    ClientError::Api {
        status,
        code: field_text("code"),
        message,
        field: field_text("field"),
    }
}

/// The JSON body of a send call.
pub fn send_body(args: &SendArgs) -> Value {
    let mut body = Map::new();
    body.insert("template".into(), json!(args.template));
    let receivers: Vec<Value> = args.to.iter().map(|to| json!({ "to": to })).collect();
    body.insert("receivers".into(), Value::Array(receivers));
    let variables: Map<String, Value> = args.vars.iter().cloned().collect();
    body.insert("variables".into(), Value::Object(variables));
    if let Some(send_at) = &args.send_at {
        body.insert("send_at".into(), json!(send_at));
    }
    Value::Object(body)
}

/// `herald send`.
pub async fn send(args: SendArgs) -> anyhow::Result<Option<Value>> {
    let client = ApiClient::new(&args.api)?;
    let body = send_body(&args);
    Ok(client
        .call(
            Method::POST,
            "/v1/messages",
            &[],
            Some(&body),
            args.idempotency_key.as_deref(),
        )
        .await?)
}

/// `herald message …`.
pub async fn message(api: ApiArgs, command: MessageCommand) -> anyhow::Result<Option<Value>> {
    let client = ApiClient::new(&api)?;
    let answer = match command {
        MessageCommand::Get { id } => {
            let path = format!("/v1/messages/{}", path_segment(&id));
            client.call(Method::GET, &path, &[], None, None).await?
        }
        MessageCommand::List { status, q, limit } => {
            let mut query = Vec::new();
            query.extend(status.map(|s| ("status", s)));
            query.extend(q.map(|q| ("q", q)));
            query.extend(limit.map(|l| ("limit", l.to_string())));
            client
                .call(Method::GET, "/v1/messages", &query, None, None)
                .await?
        }
        MessageCommand::Cancel { id } => {
            let path = format!("/v1/messages/{}", path_segment(&id));
            client.call(Method::DELETE, &path, &[], None, None).await?
        }
    };
    Ok(answer)
}

/// `herald template …` and `herald account …`; `collection` is `templates` or `accounts`.
pub async fn resource(
    api: ApiArgs,
    collection: &str,
    command: ResourceCommand,
) -> anyhow::Result<Option<Value>> {
    let client = ApiClient::new(&api)?;
    let base = format!("/v1/{collection}");
    let answer = match command {
        ResourceCommand::List => client.call(Method::GET, &base, &[], None, None).await?,
        ResourceCommand::Get { id } => {
            let path = format!("{base}/{}", path_segment(&id));
            client.call(Method::GET, &path, &[], None, None).await?
        }
        ResourceCommand::Create { file } => {
            let text = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading standard input")?;
                text
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let body: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", file.display()))?;
            client
                .call(Method::POST, &base, &[], Some(&body), None)
                .await?
        }
        ResourceCommand::Delete { id } => {
            let path = format!("{base}/{}", path_segment(&id));
            client.call(Method::DELETE, &path, &[], None, None).await?
        }
    };
    Ok(answer)
}

/// An error with its causes (`error sending request: connection refused`): reqwest's own
/// message alone rarely says what went wrong.
pub use herald_ports::error::error_chain;

/// Prints an API answer as indented JSON (nothing for an empty body).
pub fn print_answer(answer: Option<Value>) -> anyhow::Result<()> {
    if let Some(value) = answer {
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    Ok(())
}

/// Percent-encodes everything but unreserved characters, so names with spaces or slashes stay
/// one path segment.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
