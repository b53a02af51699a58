//! FCM HTTP v1: Herald signs a service-account assertion, trades it for an OAuth token at the
//! simulator's token endpoint and sends with it. The simulator account is the Firebase
//! project and holds the service account's public key.

use super::keys::rsa;
use super::{
    Route, assert_failed_with, delivery_in, items, provider_request_id, route, send, sim_get,
    sim_put,
};
use crate::harness::{TestApp, spawn_app};
use serde_json::json;

const PROJECT: &str = "herald-e2e";
const DEVICE: &str = "fcm-e2e-device:APA91bHun4MxP5egoKMwt2KZ";

async fn fcm_route(app: &TestApp) -> Route {
    app.sim_configure(PROJECT, json!({"secret": rsa().public_pem}));
    let service_account = json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "e2e-key-1",
        "private_key": rsa().private_pem,
        "client_email": format!("herald@{PROJECT}.iam.gserviceaccount.com"),
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    route(
        app,
        "fcm",
        json!({"endpoint": "/sim/fcm", "token_uri": "/sim/fcm/token"}),
        Some(service_account),
        json!({"title": "Order {{ order }}", "body": "Order {{ order }} shipped", "fields": {"order": "{{ order }}", "kind": "shipping"}}),
        &["order"],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_is_delivered_with_an_oauth_token() {
    let app = spawn_app().await;
    let r = fcm_route(&app).await;
    let id = send(&app, &r, DEVICE, json!({"order": "42"})).await;
    let delivery = delivery_in(&app, &id, "delivered").await;
    assert!(
        provider_request_id(&delivery)
            .is_some_and(|p| p.starts_with(&format!("projects/{PROJECT}/messages/"))),
        "{delivery}"
    );

    let received = items(&sim_get(&app, &format!("/sim/fcm/_sim/received/{PROJECT}")).await);
    assert_eq!(received.len(), 1, "{received:?}");
    let message = &received[0]["body"]["message"];
    assert_eq!(message["token"], DEVICE);
    assert_eq!(
        message["notification"],
        json!({"title": "Order 42", "body": "Order 42 shipped"})
    );
    assert_eq!(message["data"], json!({"order": "42", "kind": "shipping"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_device_fails_as_unregistered() {
    let app = spawn_app().await;
    let r = fcm_route(&app).await;
    sim_put(
        &app,
        &format!("/sim/fcm/_sim/unregistered/{PROJECT}"),
        json!({"tokens": [DEVICE]}),
    )
    .await;
    let id = send(&app, &r, DEVICE, json!({"order": "43"})).await;
    assert_failed_with(&app, &id, "unregistered").await;
}
