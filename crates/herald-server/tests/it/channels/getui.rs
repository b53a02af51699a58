//! Getui UniPush v2: a signed auth call for a token, then the push; the simulator account is
//! the appId and holds `"<appkey>:<mastersecret>"`.

use super::{delivery_in, items, route, send, sim_get};
use crate::harness::spawn_app;
use serde_json::json;

const APP_ID: &str = "gtE2eApp0001";
const APP_KEY: &str = "gtE2eKey0001";
const MASTER: &str = "gtE2eMaster0001";
const CID: &str = "c0ffee34994cbafa4f12d24e461e9c46";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_is_delivered_with_a_signed_auth_token() {
    let app = spawn_app().await;
    app.sim_configure(APP_ID, json!({"secret": format!("{APP_KEY}:{MASTER}")}));
    let r = route(
        &app,
        "getui",
        json!({"endpoint": "/sim/getui", "app_id": APP_ID, "app_key": APP_KEY}),
        Some(json!({"master_secret": MASTER})),
        json!({"title": "Order {{ order }}", "body": "Order {{ order }} shipped", "fields": {"click_type": "url", "url": "https://shop.test/o/{{ order }}"}}),
        &["order"],
    )
    .await;
    let id = send(&app, &r, CID, json!({"order": "42"})).await;
    delivery_in(&app, &id, "delivered").await;

    let received = items(&sim_get(&app, &format!("/sim/getui/_sim/received/{APP_ID}")).await);
    assert_eq!(received.len(), 1, "{received:?}");
    let body = &received[0]["body"];
    assert_eq!(body["audience"]["cid"], json!([CID]));
    assert_eq!(
        body["push_message"]["notification"],
        json!({"title": "Order 42", "body": "Order 42 shipped", "click_type": "url", "url": "https://shop.test/o/42"})
    );
}
