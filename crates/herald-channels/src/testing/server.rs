//! [`SimServer`]: a router served on `127.0.0.1:0` for one test, and HTTP helpers against it.

use crate::ChannelDeps;
use crate::sim::{SimState, router_with};
use crate::token::MemoryTokenCache;
use axum::Router;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A raw answer: HTTP status, headers and the JSON body (`Null` when the body is not JSON).
pub type RawResponse = (u16, HeaderMap, Value);

/// A router serving on a random local port until dropped.
pub struct SimServer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base: String,
    /// The client channels and helpers use ([`crate::http_client`], as `herald serve` builds it).
    pub http: reqwest::Client,
    /// Dropping it stops the server (graceful shutdown).
    _stop: oneshot::Sender<()>,
}

impl SimServer {
    /// Serves the simulators of `state` plus `providers` (see [`router_with`]).
    pub async fn start(
        state: SimState,
        providers: impl IntoIterator<Item = Router<SimState>>,
    ) -> Self {
        Self::serve(router_with(state, providers)).await
    }

    /// Serves any router, e.g. simulators merged with a crate's callback routes.
    pub async fn serve(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener
            .local_addr()
            .expect("local address of the listener");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        });
        Self {
            base: format!("http://{address}"),
            http: crate::http_client().expect("build the HTTP client"),
            _stop: stop,
        }
    }

    /// Channel dependencies with a fresh token cache, resolving `/sim/...` against this server.
    pub fn deps(&self) -> ChannelDeps {
        ChannelDeps {
            http: self.http.clone(),
            tokens: Arc::new(MemoryTokenCache::default()),
            local_base: Some(self.base.clone()),
        }
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`, asserting 200; the JSON answer.
    pub async fn get(&self, path: &str) -> Value {
        expect_ok("GET", path, self.http.get(self.url(path))).await
    }

    /// `PUT path` with a JSON body, asserting 200; the JSON answer.
    pub async fn put(&self, path: &str, body: Value) -> Value {
        expect_ok("PUT", path, self.http.put(self.url(path)).json(&body)).await
    }

    /// `POST path` with a JSON body, asserting 200; the JSON answer.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        expect_ok("POST", path, self.http.post(self.url(path)).json(&body)).await
    }

    /// Replaces simulator account `name`'s configuration (`PUT /sim/accounts/{name}`).
    pub async fn put_account(&self, name: &str, config: Value) {
        self.put(&format!("/sim/accounts/{name}"), config).await;
    }

    /// Simulator account `name`'s counters from `GET /sim/stats` (`Null` if it has none).
    pub async fn stats(&self, name: &str) -> Value {
        self.get("/sim/stats").await["accounts"][name].clone()
    }

    /// A raw `POST path` with the given headers, whatever the status.
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: impl Into<reqwest::Body>,
    ) -> RawResponse {
        post_raw_with(&self.http, &self.url(path), headers, body).await
    }
}

/// A raw POST to `url` through `client` (e.g. an HTTP/2-only one), whatever the status.
pub async fn post_raw_with(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: impl Into<reqwest::Body>,
) -> RawResponse {
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("POST to the test server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("read the answer body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json)
}

/// Sends `request`, asserts 200 (showing the body otherwise) and parses the JSON answer.
async fn expect_ok(method: &str, path: &str, request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request to the test server");
    let status = response.status();
    let text = response.text().await.expect("read the answer body");
    assert_eq!(status, 200, "{method} {path}: {text}");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
}
