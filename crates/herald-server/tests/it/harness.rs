//! Test harness: start a server on port 0 in a temp dir, talk to it over HTTP, set up
//! accounts and templates, and wait for states.

use herald_server::{RunningServer, ServerOptions, start};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ADMIN: &str = "test-admin-key";

pub struct TestApp {
    pub server: RunningServer,
    pub base: String,
    pub http: reqwest::Client,
    /// The demo app's key.
    pub key: String,
    pub dir: Arc<tempfile::TempDir>,
}

pub fn options(dir: &Path) -> ServerOptions {
    let mut o = ServerOptions::new(dir);
    o.durable = false;
    o.admin_key = Some(ADMIN.into());
    o.workers = 16;
    o.lease = Duration::from_secs(10);
    o.shutdown_grace = Duration::from_secs(5);
    o.receipt_poll_every = Duration::from_millis(300);
    o.receipt_poll_after = Duration::from_millis(500);
    o
}

pub async fn spawn_app() -> TestApp {
    spawn_in(Arc::new(tempfile::tempdir().expect("temp dir"))).await
}

pub async fn spawn_in(dir: Arc<tempfile::TempDir>) -> TestApp {
    spawn_configured(dir, |_| {}).await
}

/// Like [`spawn_in`], with the test's changes to the default test options.
pub async fn spawn_configured(
    dir: Arc<tempfile::TempDir>,
    adjust: impl FnOnce(&mut herald_server::ServerOptions),
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut options = options(dir.path());
    adjust(&mut options);
    let server = start(options, listener).await.expect("server starts");
    let key = server
        .demo
        .as_ref()
        .expect("demo bootstrapped")
        .api_key
        .clone();
    let base = server.base_url();
    TestApp {
        server,
        base,
        http: reqwest::Client::new(),
        key,
        dir,
    }
}

impl TestApp {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        for (h, v) in headers {
            req = req.header(*h, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.request(
            reqwest::Method::POST,
            path,
            Some(&self.key),
            Some(body),
            &[],
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.request(reqwest::Method::GET, path, Some(&self.key), None, &[])
            .await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.request(reqwest::Method::DELETE, path, Some(&self.key), None, &[])
            .await
    }

    /// A webhook account posting to the built-in simulator under `sim_name`.
    pub async fn account(&self, sim_name: &str, retry_ms: &[u64], rate: u32) -> String {
        let (status, body) = self
            .post(
                "/v1/accounts",
                json!({
                    "name": format!("acct-{sim_name}"),
                    "channel": "webhook",
                    "config": {"url": format!("/sim/webhook/{sim_name}"), "timeout_ms": 300},
                    "rate_limit_per_second": rate,
                    "retry": {"delays_ms": retry_ms, "jitter_percent": 0},
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("account id").to_owned()
    }

    /// A webhook template; `vars` are (name, sensitive).
    pub async fn template(
        &self,
        name: &str,
        body: &str,
        vars: &[(&str, bool)],
        account: &str,
    ) -> String {
        let variables: Vec<Value> = vars
            .iter()
            .map(|(n, s)| json!({"name": n, "sensitive": s}))
            .collect();
        let (status, resp) = self
            .post(
                "/v1/templates",
                json!({"name": name, "channel": "webhook", "account": account, "variables": variables, "content": {"body": body}}),
            )
            .await;
        assert_eq!(status, 201, "{resp}");
        resp["id"].as_str().expect("template id").to_owned()
    }

    pub fn sim(&self) -> &herald_channels::sim::SimState {
        self.server.sim.as_ref().expect("built-in simulator")
    }

    pub fn sim_configure(&self, name: &str, config: Value) {
        let cfg = serde_json::from_value(config).expect("sim config");
        self.sim().configure(name, cfg).expect("sim accepts config");
    }

    /// (received, unique) counted by the simulator for `name`.
    pub fn sim_counts(&self, name: &str) -> (u64, u64) {
        let stats = serde_json::to_value(self.sim().stats()).expect("stats serialize");
        let a = &stats["accounts"][name];
        (
            a["received"].as_u64().unwrap_or(0),
            a["unique"].as_u64().unwrap_or(0),
        )
    }

    pub async fn sim_received(&self, name: &str) -> Vec<Value> {
        let (status, body) = self
            .request(
                reqwest::Method::GET,
                &format!("/sim/webhook/{name}/received?limit=1000"),
                None,
                None,
                &[],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .cloned()
            .or_else(|| body["items"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Polls `GET /v1/messages/{id}` until `done(message)` or the timeout.
    pub async fn wait_message(
        &self,
        id: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, body) = self.get(&format!("/v1/messages/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {id}: {body:#}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until every delivery of the message is in `state`.
    pub async fn wait_all(&self, id: &str, state: &str) -> Value {
        self.wait_message(id, Duration::from_secs(10), |m| {
            m["deliveries"]
                .as_array()
                .is_some_and(|d| !d.is_empty() && d.iter().all(|d| d["state"] == state))
        })
        .await
    }
}

/// An RFC 3339 timestamp `ms` from now.
pub fn from_now(ms: i64) -> String {
    herald_domain::time::to_rfc3339(herald_domain::time::now_ms() + ms)
}
