//! WeCom: application messages (corp token from `gettoken`, then `message/send`) and group
//! robots (webhook key). Neither has receipts: success is `delivered`.

use super::{assert_failed_with, delivery_in, items, route, send, sim_get};
use crate::harness::spawn_app;
use serde_json::json;

const CORPID: &str = "ww000000000000e2e1";
const CORP_SECRET: &str = "e2e-corp-app-secret";
const AGENTID: i64 = 1_000_002;
const ROBOT_KEY: &str = "e2e0robot-7xxx-4bc4-97a0-0ec2sifa5aaa";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_textcard_is_delivered_to_the_member() {
    let app = spawn_app().await;
    app.sim_configure(CORPID, json!({"secret": CORP_SECRET}));
    let r = route(
        &app,
        "wecom_app",
        json!({"corpid": CORPID, "agentid": AGENTID, "endpoint": "/sim/wecom"}),
        Some(json!({"corpsecret": CORP_SECRET})),
        json!({"title": "Build {{ n }}", "body": "Build {{ n }} passed", "fields": {"msgtype": "textcard", "url": "https://ci.test/b/{{ n }}", "btntxt": "Open"}}),
        &["n"],
    )
    .await;
    let id = send(&app, &r, "zhangsan", json!({"n": "7"})).await;
    delivery_in(&app, &id, "delivered").await;

    let corp = sim_get(&app, &format!("/sim/wecom/corps/{CORPID}")).await;
    assert_eq!(corp["counters"]["delivered"], 1, "{corp}");
    let received = items(&sim_get(&app, &format!("/sim/wecom/corps/{CORPID}/received")).await);
    assert_eq!(received.len(), 1, "{received:?}");
    let body = &received[0]["body"];
    assert_eq!(body["touser"], "zhangsan", "{body}");
    assert_eq!(body["agentid"], AGENTID);
    assert_eq!(
        body["textcard"],
        json!({"title": "Build 7", "description": "Build 7 passed", "url": "https://ci.test/b/7", "btntxt": "Open"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_corp_secret_fails_with_40001() {
    let app = spawn_app().await;
    app.sim_configure(CORPID, json!({"secret": CORP_SECRET}));
    let r = route(
        &app,
        "wecom_app",
        json!({"corpid": CORPID, "agentid": AGENTID, "endpoint": "/sim/wecom"}),
        Some(json!({"corpsecret": "not-the-secret"})),
        json!({"body": "hello"}),
        &[],
    )
    .await;
    let id = send(&app, &r, "zhangsan", json!({})).await;
    assert_failed_with(&app, &id, "wecom_40001").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_markdown_reaches_the_group() {
    let app = spawn_app().await;
    app.sim_configure(ROBOT_KEY, json!({}));
    let r = route(
        &app,
        "wecom_robot",
        json!({"endpoint": "/sim/wecom"}),
        Some(json!({"key": ROBOT_KEY})),
        json!({"body": "**Deploy** {{ v }} done", "fields": {"msgtype": "markdown"}}),
        &["v"],
    )
    .await;
    let id = send(&app, &r, "ops-group", json!({"v": "v2"})).await;
    delivery_in(&app, &id, "delivered").await;

    let received = items(&sim_get(&app, &format!("/sim/wecom/robots/{ROBOT_KEY}/received")).await);
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        received[0]["body"],
        json!({"msgtype": "markdown", "markdown": {"content": "**Deploy** v2 done"}})
    );
}
