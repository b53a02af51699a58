//! Alibaba Cloud SMS: a signed SendSms accepted by the simulator is `sent`; the receipt the
//! simulator pushes to this node's `/callbacks/aliyun/sms/report` makes it `delivered` (or
//! `failed` for a number that cannot receive).

use super::{
    Route, assert_failed_with, delivery_in, items, provider_request_id, route, send, sim_get,
    sim_put,
};
use crate::harness::{TestApp, spawn_app};
use serde_json::{Value, json};

const ACCESS_KEY_ID: &str = "LTAI5tE2eAccessKey";
const ACCESS_KEY_SECRET: &str = "e2e-access-key-secret";
const PHONE: &str = "13800138000";

/// An `aliyun_sms` account on the built-in simulator with the given AccessKey secret, and a
/// verification-code template.
async fn sms_route(app: &TestApp, secret: &str, signature_version: &str) -> Route {
    route(
        app,
        "aliyun_sms",
        json!({"endpoint": "/sim/aliyun", "sign_name": "Herald测试", "signature_version": signature_version}),
        Some(json!({"access_key_id": ACCESS_KEY_ID, "access_key_secret": secret})),
        json!({"body": "Your code is {{ code }}", "fields": {"template_code": "SMS_154950909", "param.code": "{{ code }}"}}),
        &["code"],
    )
    .await
}

/// Receipts come `delay_ms` after a send, once, to this node's report endpoint.
async fn push_receipts_here(app: &TestApp, delay_ms: u64, undeliverable: &[&str]) {
    sim_put(
        app,
        "/sim/aliyun/settings",
        json!({"receipt_delay_ms": delay_ms, "duplicate_receipt_rate": 0.0, "undeliverable_numbers": undeliverable}),
    )
    .await;
    let url = format!("{}/callbacks/aliyun/sms/report", app.base);
    let answer = sim_put(app, "/sim/aliyun/receipts-target", json!({"url": url})).await;
    assert_eq!(answer["url"], url.as_str());
}

fn code_of(delivery: &Value) -> &str {
    delivery["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_is_sent_then_delivered_by_the_pushed_receipt() {
    let app = spawn_app().await;
    app.sim_configure(ACCESS_KEY_ID, json!({"secret": ACCESS_KEY_SECRET}));
    push_receipts_here(&app, 1500, &[]).await;
    let r = sms_route(&app, ACCESS_KEY_SECRET, "v3").await;
    let id = send(&app, &r, PHONE, json!({"code": "123456"})).await;

    let sent = delivery_in(&app, &id, "sent").await;
    let biz_id = provider_request_id(&sent).expect("BizId").to_owned();
    assert!(biz_id.ends_with("^0"), "{sent}");
    delivery_in(&app, &id, "delivered").await;

    let messages = items(&sim_get(&app, &format!("/sim/aliyun/messages?phone={PHONE}")).await);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let got = &messages[0];
    assert_eq!(got["biz_id"], biz_id.as_str());
    assert_eq!(got["out_id"], sent["id"], "OutId is the delivery id");
    assert_eq!(got["template_code"], "SMS_154950909");
    assert!(got.to_string().contains("123456"), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pushed_receipts_query_send_details_settles_the_delivery() {
    let app = spawn_app().await;
    app.sim_configure(ACCESS_KEY_ID, json!({"secret": ACCESS_KEY_SECRET}));
    // Receipts are produced by the simulator but pushed nowhere: only polling can find them.
    sim_put(
        &app,
        "/sim/aliyun/settings",
        json!({"receipt_delay_ms": 200, "duplicate_receipt_rate": 0.0, "undeliverable_numbers": ["13900139000"]}),
    )
    .await;
    let r = sms_route(&app, ACCESS_KEY_SECRET, "v3").await;
    let ok = send(&app, &r, PHONE, json!({"code": "111111"})).await;
    let bad = send(&app, &r, "13900139000", json!({"code": "222222"})).await;
    delivery_in(&app, &ok, "sent").await;
    let delivered = delivery_in(&app, &ok, "delivered").await;
    assert_eq!(code_of(&delivered), "DELIVERED", "{delivered}");
    let failed = delivery_in(&app, &bad, "failed").await;
    assert!(!code_of(&failed).is_empty(), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_signatures_work_and_a_failed_receipt_fails_the_delivery() {
    let app = spawn_app().await;
    app.sim_configure(ACCESS_KEY_ID, json!({"secret": ACCESS_KEY_SECRET}));
    push_receipts_here(&app, 100, &["13900139000"]).await;
    let r = sms_route(&app, ACCESS_KEY_SECRET, "v1").await;
    let id = send(&app, &r, "13900139000", json!({"code": "654321"})).await;
    let failed = delivery_in(&app, &id, "failed").await;
    assert_eq!(code_of(&failed), "MOBILE_NOT_ON_SERVICE", "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_access_key_secret_fails_with_signature_does_not_match() {
    let app = spawn_app().await;
    app.sim_configure(ACCESS_KEY_ID, json!({"secret": ACCESS_KEY_SECRET}));
    let r = sms_route(&app, "not-the-secret", "v3").await;
    let id = send(&app, &r, PHONE, json!({"code": "000000"})).await;
    assert_failed_with(&app, &id, "SignatureDoesNotMatch").await;
}
