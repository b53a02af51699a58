//! JPush v3: Basic authentication with appKey and masterSecret; the simulator account is the
//! appKey and holds the masterSecret.

use super::{
    Route, assert_failed_with, delivery_in, items, provider_request_id, route, send, sim_get,
};
use crate::harness::{TestApp, spawn_app};
use serde_json::json;

const APP_KEY: &str = "e2e0jpush0app0key0000001";
const MASTER: &str = "e2e0jpush0master000000001";
const REGISTRATION_ID: &str = "1a0018970af2e0a5c2b";

async fn jpush_route(app: &TestApp, master: &str) -> Route {
    app.sim_configure(APP_KEY, json!({"secret": MASTER}));
    route(
        app,
        "jpush",
        json!({"endpoint": "/sim/jpush", "app_key": APP_KEY}),
        Some(json!({"master_secret": master})),
        json!({"title": "Order {{ order }}", "body": "Order {{ order }} shipped", "fields": {"order": "{{ order }}"}}),
        &["order"],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_is_delivered_to_the_registration_id() {
    let app = spawn_app().await;
    let r = jpush_route(&app, MASTER).await;
    let id = send(&app, &r, REGISTRATION_ID, json!({"order": "42"})).await;
    let delivery = delivery_in(&app, &id, "delivered").await;
    let msg_id = provider_request_id(&delivery).expect("msg_id");
    assert!(msg_id.bytes().all(|b| b.is_ascii_digit()), "{delivery}");

    let received = items(&sim_get(&app, &format!("/sim/jpush/_sim/received/{APP_KEY}")).await);
    assert_eq!(received.len(), 1, "{received:?}");
    let body = &received[0]["body"];
    assert_eq!(
        body["audience"]["registration_id"],
        json!([REGISTRATION_ID])
    );
    assert_eq!(body["notification"]["android"]["title"], "Order 42");
    assert_eq!(body["notification"]["android"]["extras"]["order"], "42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_master_secret_fails_with_1004() {
    let app = spawn_app().await;
    let r = jpush_route(&app, "not-the-master-secret").await;
    let id = send(&app, &r, REGISTRATION_ID, json!({"order": "0"})).await;
    assert_failed_with(&app, &id, "jpush_1004").await;
}
