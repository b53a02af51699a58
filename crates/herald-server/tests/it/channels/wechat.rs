//! WeChat Official Account template messages: `sent` on WeChat's `msgid`, then `delivered`
//! (or `failed`) by the TEMPLATESENDJOBFINISH event the simulator pushes to this node's
//! `/callbacks/wechat/{app_id}/{account_id}`, in plain and in safe (AES) mode.

use super::{Route, assert_failed_with, delivery_in, items, route, send, sim_get, sim_put};
use crate::harness::{TestApp, spawn_app};
use serde_json::{Value, json};

const APPID: &str = "wx00000000000e2e01";
const APP_SECRET: &str = "e2e-app-secret";
const CALLBACK_TOKEN: &str = "e2e-console-token";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// A `wechat_oa` account whose secret is `app_secret` (plus the AES key in safe mode), and a
/// template message template.
async fn oa_route(app: &TestApp, app_secret: &str, safe: bool) -> Route {
    app.sim_configure(APPID, json!({"secret": APP_SECRET}));
    let mut secret = json!({"app_secret": app_secret});
    if safe {
        secret["encoding_aes_key"] = json!(AES_KEY);
    }
    route(
        app,
        "wechat_oa",
        json!({"appid": APPID, "endpoint": "/sim/wechat", "callback_token": CALLBACK_TOKEN}),
        Some(secret),
        json!({"body": "Order {{ order }} shipped", "fields": {
            "template_id": "order_shipped_tpl",
            "data.order": "{{ order }}",
            "data.status": "shipped",
            "color.status": "#173177",
            "url": "https://shop.test/o/{{ order }}",
        }}),
        &["order"],
    )
    .await
}

/// Points the simulated app's server URL at this node's callback for `account`.
async fn push_events_here(app: &TestApp, account: &str, safe: bool, delay_ms: u64) {
    let demo = &app.server.demo.as_ref().expect("demo app").app_id;
    let mut callback = json!({
        "url": format!("{}/callbacks/wechat/{demo}/{account}", app.base),
        "token": CALLBACK_TOKEN,
        "mode": if safe { "safe" } else { "plain" },
    });
    if safe {
        callback["encoding_aes_key"] = json!(AES_KEY);
    }
    sim_put(
        app,
        &format!("/sim/wechat/apps/{APPID}"),
        json!({"callback": callback, "receipt_delay_ms": delay_ms}),
    )
    .await;
}

async fn app_counters(app: &TestApp) -> Value {
    sim_get(app, &format!("/sim/wechat/apps/{APPID}")).await["counters"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_message_is_sent_then_delivered_by_the_event() {
    let app = spawn_app().await;
    let r = oa_route(&app, APP_SECRET, false).await;
    push_events_here(&app, &r.account, false, 1500).await;
    let id = send(&app, &r, "oE2eUser0001", json!({"order": "42"})).await;
    let sent = delivery_in(&app, &id, "sent").await;
    delivery_in(&app, &id, "delivered").await;

    let received = items(&sim_get(&app, &format!("/sim/wechat/apps/{APPID}/received")).await);
    assert_eq!(received.len(), 1, "{received:?}");
    let body = &received[0]["body"];
    assert_eq!(body["touser"], "oE2eUser0001", "{body}");
    assert_eq!(body["template_id"], "order_shipped_tpl");
    assert_eq!(body["client_msg_id"], sent["id"], "the delivery id dedupes");
    assert_eq!(
        body["data"],
        json!({"order": {"value": "42"}, "status": {"value": "shipped", "color": "#173177"}})
    );
    assert_eq!(app_counters(&app).await["receipts_pushed"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_mode_event_for_a_blocked_user_fails_the_delivery() {
    let app = spawn_app().await;
    let r = oa_route(&app, APP_SECRET, true).await;
    push_events_here(&app, &r.account, true, 100).await;
    let id = send(&app, &r, "blockedE2eUser", json!({"order": "7"})).await;
    assert_failed_with(&app, &id, "failed:user block").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_app_secret_fails_with_40125() {
    let app = spawn_app().await;
    let r = oa_route(&app, "not-the-app-secret", false).await;
    let id = send(&app, &r, "oE2eUser0002", json!({"order": "1"})).await;
    assert_failed_with(&app, &id, "wechat_40125").await;
}
