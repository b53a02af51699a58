//! DingTalk custom robot with 加签: the simulator account is the robot's `access_token` and
//! holds the `SEC…` signing secret; Herald signs every call with the account's copy.

use super::{assert_failed_with, delivery_in, items, route, send, sim_get};
use crate::harness::{TestApp, spawn_app};
use serde_json::json;

const ACCESS_TOKEN: &str = "dt-e2e-access-token-0001";
const SIGNING: &str = "SECe2e0123456789abcdef";

async fn robot(app: &TestApp, signing_secret: &str) -> super::Route {
    app.sim_configure(ACCESS_TOKEN, json!({"secret": SIGNING}));
    route(
        app,
        "dingtalk",
        json!({"endpoint": "/sim/dingtalk"}),
        Some(json!({"access_token": ACCESS_TOKEN, "secret": signing_secret})),
        json!({"title": "Deploy", "body": "Deploy {{ version }} finished", "fields": {"msgtype": "markdown", "at_mobiles": "13800138000"}}),
        &["version"],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_markdown_reaches_the_group() {
    let app = spawn_app().await;
    let r = robot(&app, SIGNING).await;
    let id = send(&app, &r, "ops-group", json!({"version": "v1.2.3"})).await;
    delivery_in(&app, &id, "delivered").await;

    let received = items(
        &sim_get(
            &app,
            &format!("/sim/dingtalk/robots/{ACCESS_TOKEN}/received?limit=10"),
        )
        .await,
    );
    assert_eq!(received.len(), 1, "{received:?}");
    let body = &received[0]["body"];
    assert_eq!(body["msgtype"], "markdown", "{body}");
    assert_eq!(body["markdown"]["title"], "Deploy");
    assert!(
        body["markdown"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Deploy v1.2.3 finished")),
        "{body}"
    );
    assert_eq!(body["at"]["atMobiles"], json!(["13800138000"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_signing_secret_fails_with_310000() {
    let app = spawn_app().await;
    let r = robot(&app, "SECnot-the-robots-secret").await;
    let id = send(&app, &r, "ops-group", json!({"version": "v0"})).await;
    assert_failed_with(&app, &id, "310000").await;
}
