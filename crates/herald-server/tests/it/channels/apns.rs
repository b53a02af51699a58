//! APNs over HTTP/2 (h2c on the API listener): an ES256 provider token signed with the
//! account's `.p8` key; the simulator account is the Team ID and holds the public key.

use super::keys::p256;
use super::{delivery_in, items, provider_request_id, route, send, sim_get};
use crate::harness::spawn_app;
use serde_json::json;

const TEAM: &str = "TEAME2E001";
const KEY_ID: &str = "KEYE2E0001";
const TOPIC: &str = "com.example.herald";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_is_delivered_over_http2() {
    let app = spawn_app().await;
    let key = p256();
    app.sim_configure(TEAM, json!({"secret": key.public_pem}));
    let r = route(
        &app,
        "apns",
        json!({"endpoint": "/sim/apns", "topic": TOPIC}),
        Some(json!({"team_id": TEAM, "key_id": KEY_ID, "private_key": key.private_pem})),
        json!({"title": "Order {{ order }}", "body": "On its way", "fields": {"badge": "3", "sound": "default", "collapse_id": "orders", "order": "{{ order }}"}}),
        &["order"],
    )
    .await;
    let device = "ab".repeat(32);
    let id = send(&app, &r, &device, json!({"order": "42"})).await;
    let delivery = delivery_in(&app, &id, "delivered").await;

    let received = items(&sim_get(&app, &format!("/sim/apns/_sim/received/{TEAM}")).await);
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        received[0]["id"].as_str(),
        provider_request_id(&delivery),
        "the apns-id is the provider id"
    );
    assert_eq!(
        received[0]["body"],
        json!({"aps": {"alert": {"title": "Order 42", "body": "On its way"}, "badge": 3, "sound": "default"}, "order": "42"})
    );
}
