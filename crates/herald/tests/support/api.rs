//! Talking to a running Herald and simulator over HTTP: set up an app, key, webhook accounts
//! and templates; read `/metrics`; page through delivered records; read the simulator's
//! counters and the delivery ids it received.

use super::ADMIN_KEY;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

/// An API key and where to use it.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

/// One webhook account at the external simulator and the template that sends through it.
#[derive(Debug, Clone)]
pub struct Route {
    /// Simulator account name (the last segment of `/sim/webhook/{name}`).
    pub sim_name: String,
    pub template: String,
}

pub async fn post(http: &reqwest::Client, url: &str, key: &str, body: Value) -> Value {
    let response = http
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status();
    let answer: Value = response.json().await.expect("JSON answer");
    assert_eq!(status, 201, "POST {url} {body}: {answer}");
    answer
}

pub fn field(value: &Value, name: &str) -> String {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name:?} in {value}"))
        .to_owned()
}

impl Api {
    /// Creates an app and an API key with the admin key, then one webhook account (no rate
    /// limit, fast retries) and template per simulator account `{prefix}-{i}`.
    pub async fn setup(
        base: &str,
        sim_base: &str,
        prefix: &str,
        routes: usize,
    ) -> (Api, Vec<Route>) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        let app = post(
            &http,
            &format!("{base}/v1/apps"),
            ADMIN_KEY,
            json!({"name": prefix}),
        )
        .await;
        let app_id = field(&app, "id");
        let key = post(
            &http,
            &format!("{base}/v1/apps/{app_id}/keys"),
            ADMIN_KEY,
            json!({}),
        )
        .await;
        let api = Api {
            http,
            base: base.to_owned(),
            key: field(&key, "key"),
        };
        let mut out = Vec::with_capacity(routes);
        for i in 0..routes {
            let sim_name = format!("{prefix}-{i}");
            let account = post(
                &api.http,
                &format!("{base}/v1/accounts"),
                &api.key,
                json!({
                    "name": sim_name,
                    "channel": "webhook",
                    "config": {"url": format!("{sim_base}/sim/webhook/{sim_name}")},
                    "rate_limit_per_second": 0,
                    "retry": {"delays_ms": [100, 200, 500, 1000, 1000, 1000], "jitter_percent": 0},
                }),
            )
            .await;
            let template = format!("tpl-{sim_name}");
            post(
                &api.http,
                &format!("{base}/v1/templates"),
                &api.key,
                json!({
                    "name": template,
                    "channel": "webhook",
                    "account": field(&account, "id"),
                    "variables": [{"name": "n"}],
                    "content": {"body": "Hi {{ n }}"},
                }),
            )
            .await;
            out.push(Route { sim_name, template });
        }
        (api, out)
    }

    /// The same key against another server address (after a restart).
    pub fn at(&self, base: &str) -> Api {
        Api {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    /// Every delivery id whose record is `delivered`, paging through the search.
    pub async fn delivered_ids(&self) -> HashSet<String> {
        let mut ids = HashSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("status", "delivered".to_owned()), ("limit", "1000".into())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let response = self
                .http
                .get(format!("{}/v1/messages", self.base))
                .bearer_auth(&self.key)
                .query(&query)
                .send()
                .await
                .expect("search messages");
            assert_eq!(response.status(), 200, "search answered");
            let page: Value = response.json().await.expect("search JSON");
            for item in page["items"].as_array().expect("items") {
                if item["state"] == "delivered" {
                    ids.insert(field(item, "delivery_id"));
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return ids,
            }
        }
    }

    /// `GET /v1/messages/{id}`, for explaining a missing delivery.
    pub async fn message(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/v1/messages/{id}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("get message")
            .json()
            .await
            .expect("message JSON")
    }
}

/// The `/metrics` values the durability assertion needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics {
    pub fsync_total: f64,
    pub commit_batch_mean: f64,
    pub commit_items_total: f64,
    pub accepted_total: f64,
    /// The accept journal's own durable commits and the deliveries they carried.
    pub journal_fsync_total: f64,
    pub journal_items_total: f64,
}

/// Scrapes `/metrics`; `None` when the server does not answer.
pub async fn scrape(http: &reqwest::Client, base: &str) -> Option<Metrics> {
    let text = http
        .get(format!("{base}/metrics"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| {
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (key, v) = l.split_once(' ')?;
            (key == name)
                .then(|| v.trim().parse::<f64>().ok())
                .flatten()
        })
    };
    Some(Metrics {
        fsync_total: value("herald_fsync_total")?,
        commit_batch_mean: value("herald_commit_batch_mean")?,
        commit_items_total: value("herald_commit_items_total")?,
        accepted_total: value("herald_accepted_total")?,
        journal_fsync_total: value("herald_journal_fsync_total")?,
        journal_items_total: value("herald_journal_items_total")?,
    })
}

/// `(unique, duplicates)` the simulator counted for one account.
pub async fn sim_counts(http: &reqwest::Client, sim_base: &str, name: &str) -> (u64, u64) {
    let stats: Value = http
        .get(format!("{sim_base}/sim/stats"))
        .send()
        .await
        .expect("sim stats")
        .json()
        .await
        .expect("sim stats JSON");
    let account = &stats["accounts"][name];
    (
        account["unique"].as_u64().unwrap_or(0),
        account["duplicates"].as_u64().unwrap_or(0),
    )
}

/// Delivery ids (`herald-id`) of the last 1,000 requests the simulator accepted for `name`.
pub async fn sim_received_ids(
    http: &reqwest::Client,
    sim_base: &str,
    name: &str,
) -> HashSet<String> {
    let body: Value = http
        .get(format!("{sim_base}/sim/webhook/{name}/received?limit=1000"))
        .send()
        .await
        .expect("sim received")
        .json()
        .await
        .expect("sim received JSON");
    body["items"]
        .as_array()
        .expect("received items")
        .iter()
        .map(|item| field(item, "id"))
        .collect()
}
