//! Feishu custom bot with 签名校验: the simulator account is the hook id and holds the
//! signing secret.

use super::{delivery_in, items, route, send, sim_get};
use crate::harness::spawn_app;
use serde_json::json;

const HOOK_ID: &str = "2f8e0c1a-e2e0-4d0a-9c2b-feishu000001";
const SIGNING: &str = "fs-e2e-signing-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_post_message_reaches_the_group() {
    let app = spawn_app().await;
    app.sim_configure(HOOK_ID, json!({"secret": SIGNING}));
    let r = route(
        &app,
        "feishu",
        json!({"endpoint": "/sim/feishu"}),
        Some(json!({"hook_id": HOOK_ID, "secret": SIGNING})),
        json!({"title": "Alert {{ name }}", "body": "CPU high\nHost {{ host }}", "fields": {"msg_type": "post"}}),
        &["name", "host"],
    )
    .await;
    let id = send(
        &app,
        &r,
        "sre-group",
        json!({"name": "cpu", "host": "db-1"}),
    )
    .await;
    delivery_in(&app, &id, "delivered").await;

    let received = items(&sim_get(&app, &format!("/sim/feishu/hooks/{HOOK_ID}/received")).await);
    assert_eq!(received.len(), 1, "{received:?}");
    let body = &received[0]["body"];
    assert_eq!(body["msg_type"], "post", "{body}");
    assert!(body["sign"].is_string(), "signed: {body}");
    let text = body["content"].to_string();
    assert!(
        text.contains("Alert cpu") && text.contains("Host db-1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hook_fails_with_19001() {
    let app = spawn_app().await;
    let r = route(
        &app,
        "feishu",
        json!({"endpoint": "/sim/feishu"}),
        Some(json!({"hook_id": "no-such-hook"})),
        json!({"body": "hello"}),
        &[],
    )
    .await;
    let id = send(&app, &r, "sre-group", json!({})).await;
    super::assert_failed_with(&app, &id, "19001").await;
}
