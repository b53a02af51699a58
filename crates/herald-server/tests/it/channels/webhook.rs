//! Webhook: a signed POST the simulator verifies with the shared signing secret.

use super::{assert_failed_with, delivery_in, items, route, send, sim_get, sim_stats};
use crate::harness::spawn_app;
use serde_json::json;

const SIGNING: &str = "whsec-e2e-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_is_verified_and_delivered() {
    let app = spawn_app().await;
    app.sim_configure("orders", json!({"secret": SIGNING}));
    let r = route(
        &app,
        "webhook",
        json!({"url": "/sim/webhook/orders", "timeout_ms": 2000}),
        Some(json!({"signing_secret": SIGNING})),
        json!({"title": "Order {{ order }}", "body": "Order {{ order }} shipped", "fields": {"link": "https://shop.test/o/{{ order }}"}}),
        &["order"],
    )
    .await;
    let id = send(&app, &r, "customer-7", json!({"order": "42"})).await;
    let delivery = delivery_in(&app, &id, "delivered").await;

    let received = items(&sim_get(&app, "/sim/webhook/orders/received?limit=10").await);
    assert_eq!(received.len(), 1, "{received:?}");
    let got = &received[0];
    assert_eq!(got["id"], delivery["id"], "herald-id is the delivery id");
    assert_eq!(got["body"]["body"], "Order 42 shipped");
    assert_eq!(got["body"]["title"], "Order 42");
    assert_eq!(got["body"]["fields"]["link"], "https://shop.test/o/42");
    assert_eq!(got["body"]["receiver"]["to"], "customer-7");
    assert!(
        got["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("v1=")),
        "{got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_signing_secret_fails_with_the_receivers_401() {
    let app = spawn_app().await;
    app.sim_configure("strict", json!({"secret": SIGNING}));
    let r = route(
        &app,
        "webhook",
        json!({"url": "/sim/webhook/strict"}),
        Some(json!({"signing_secret": "not-the-shared-secret"})),
        json!({"body": "hello"}),
        &[],
    )
    .await;
    let id = send(&app, &r, "customer-8", json!({})).await;
    assert_failed_with(&app, &id, "http_401").await;
    let stats = sim_stats(&app, "strict");
    assert_eq!(
        (stats["rejected"].as_u64(), stats["unique"].as_u64()),
        (Some(1), Some(0))
    );
}
