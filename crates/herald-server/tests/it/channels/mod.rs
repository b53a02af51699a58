//! Every provider channel end to end, in process: the built-in simulator account holds the
//! provider-side credentials, a Herald account created through the API points at
//! `/sim/<provider>` with the matching secret, a template carries the fields the channel
//! reads, and one `POST /v1/messages` must reach `delivered` (channels with receipts go
//! through `sent` first, the receipt arriving on this node's `/callbacks/...`). Each family
//! also has a negative: wrong credentials end `failed` with the provider's own code.

mod aliyun;
mod apns;
mod dingtalk;
mod email;
mod fcm;
mod feishu;
mod getui;
mod inbox;
mod jpush;
mod keys;
mod webhook;
mod wechat;
mod wecom;

use crate::harness::TestApp;
use serde_json::{Value, json};

/// A Herald account and the template that sends through it.
pub struct Route {
    pub account: String,
    pub template: String,
}

/// Creates an account of `channel` (fast, jitter-free retries) and returns its id.
pub async fn account(app: &TestApp, channel: &str, config: Value, secret: Option<Value>) -> String {
    let mut body = json!({
        "name": format!("{channel}-{}", rand_suffix()),
        "channel": channel,
        "config": config,
        "retry": {"delays_ms": [200, 400], "jitter_percent": 0},
    });
    if let Some(secret) = secret {
        body["secret"] = secret;
    }
    let (status, answer) = app.post("/v1/accounts", body).await;
    assert_eq!(status, 201, "{answer}");
    answer["id"].as_str().expect("account id").to_owned()
}

/// Creates a template of `channel` on `account`; `content` is `{title?, body, fields?}`.
pub async fn template(
    app: &TestApp,
    channel: &str,
    account: &str,
    content: Value,
    variables: &[&str],
) -> String {
    let name = format!("tpl-{channel}-{}", rand_suffix());
    let variables: Vec<Value> = variables.iter().map(|n| json!({"name": n})).collect();
    let (status, answer) = app
        .post(
            "/v1/templates",
            json!({"name": name, "channel": channel, "account": account, "variables": variables, "content": content}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    name
}

/// [`account`] then [`template`].
pub async fn route(
    app: &TestApp,
    channel: &str,
    config: Value,
    secret: Option<Value>,
    content: Value,
    variables: &[&str],
) -> Route {
    let account = account(app, channel, config, secret).await;
    let template = template(app, channel, &account, content, variables).await;
    Route { account, template }
}

/// Sends one message to `to`; returns the message id.
pub async fn send(app: &TestApp, route: &Route, to: &str, variables: Value) -> String {
    let (status, answer) = app
        .post(
            "/v1/messages",
            json!({"template": route.template, "receivers": [to], "variables": variables}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().expect("message id").to_owned()
}

/// Waits until the message's only delivery is in `state`; returns that delivery.
pub async fn delivery_in(app: &TestApp, message: &str, state: &str) -> Value {
    let done = app.wait_all(message, state).await;
    let deliveries = done["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), 1, "{done}");
    deliveries[0].clone()
}

/// Asserts the message's delivery ends `failed` with the provider's `code`.
pub async fn assert_failed_with(app: &TestApp, message: &str, code: &str) -> Value {
    let delivery = delivery_in(app, message, "failed").await;
    assert_eq!(delivery["code"], code, "{delivery:#}");
    delivery
}

/// The `provider_request_id` of the delivery's last attempt (the provider's id for the call:
/// FCM message name, APNs `apns-id`, JPush `msg_id`, the email `Message-ID`, …).
pub fn provider_request_id(delivery: &Value) -> Option<&str> {
    delivery["attempts"].as_array()?.last()?["provider_request_id"].as_str()
}

/// GETs a simulator route of the built-in sandbox (no API key).
pub async fn sim_get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app
        .request(reqwest::Method::GET, path, None, None, &[])
        .await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// PUTs JSON to a simulator route of the built-in sandbox.
pub async fn sim_put(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, answer) = app
        .request(reqwest::Method::PUT, path, None, Some(body), &[])
        .await;
    assert_eq!(status, 200, "PUT {path}: {answer}");
    answer
}

/// The simulator's counters for account `name` (`received`, `unique`, `rejected`, …).
pub fn sim_stats(app: &TestApp, name: &str) -> Value {
    let stats = serde_json::to_value(app.sim().stats()).expect("stats serialize");
    stats["accounts"][name].clone()
}

/// The `items` of a simulator "received" listing.
pub fn items(listing: &Value) -> Vec<Value> {
    listing["items"]
        .as_array()
        .or_else(|| listing.as_array())
        .cloned()
        .unwrap_or_default()
}

fn rand_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}
