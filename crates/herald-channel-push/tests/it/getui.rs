//! Getui: the real client against the simulator, and the simulator's auth checks.

use crate::support::{Sim, account, message, send_like_dispatcher, send_one};
use herald_channel_push::getui::signing::{request_id, sign};
use herald_domain::ChannelKind;
use herald_ports::AccountContext;
use serde_json::json;

const APP_ID: &str = "gtApp0000001";
const APP_KEY: &str = "gtKey0000001";
const MASTER: &str = "gtMaster0000001";
const CID: &str = "b727b434994cbafa4f12d24e461e9c46";

fn getui_account(master: &str) -> AccountContext {
    account(
        ChannelKind::Getui,
        json!({ "endpoint": "/sim/getui", "app_id": APP_ID, "app_key": APP_KEY }),
        Some(json!({ "master_secret": master })),
    )
}

async fn sim_with_app(extra: serde_json::Value) -> Sim {
    let sim = Sim::start().await;
    let mut config = json!({ "secret": format!("{APP_KEY}:{MASTER}") });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    sim.put_account(APP_ID, config).await;
    sim
}

#[tokio::test]
async fn sends_with_the_delivery_id_as_request_id() {
    let sim = sim_with_app(json!({})).await;
    let channel = sim.channel(ChannelKind::Getui);
    let acct = getui_account(MASTER);
    let mut msg = message(CID);
    let result = send_one(&*channel, &acct, &msg).await;
    assert_eq!(result.outcome.class(), "delivered", "{:?}", result.outcome);
    assert!(result.provider_request_id.unwrap().starts_with("RASS_"));
    msg.attempt = 2;
    send_one(&*channel, &acct, &msg).await;
    let stats = sim.stats(APP_ID).await;
    assert_eq!(
        (stats["unique"].clone(), stats["duplicates"].clone()),
        (json!(1), json!(1))
    );
    let received = sim.received("getui", APP_ID).await;
    assert_eq!(received[0]["id"], request_id(msg.delivery_id.as_str()));
    let body = &received[0]["body"];
    assert_eq!(body["audience"]["cid"], json!([CID]));
    assert_eq!(
        body["push_message"]["notification"],
        json!({ "title": "Order shipped", "body": "Your order 42 is on its way", "click_type": "startapp" })
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed() {
    let sim = sim_with_app(json!({})).await;
    let channel = sim.channel(ChannelKind::Getui);
    let acct = getui_account(MASTER);
    assert_eq!(
        send_one(&*channel, &acct, &message(CID))
            .await
            .outcome
            .class(),
        "delivered"
    );
    assert_eq!(sim.expire_tokens("getui", APP_ID).await, 1);
    let (first, second) = send_like_dispatcher(&*channel, &acct, &message(CID)).await;
    assert_eq!(
        (first.outcome.class(), first.outcome.code()),
        ("token_expired", Some("getui_10001"))
    );
    assert_eq!(second.unwrap().outcome.class(), "delivered");
}

#[tokio::test]
async fn errors_are_classified() {
    let sim = sim_with_app(json!({ "permanent_first": 1 })).await;
    let channel = sim.channel(ChannelKind::Getui);
    let acct = getui_account(MASTER);
    let r = send_one(&*channel, &acct, &message(CID)).await;
    assert_eq!(
        (r.outcome.class(), r.outcome.code()),
        ("permanent", Some("getui_20001"))
    );

    sim.set_unregistered("getui", APP_ID, &["cid-gone-0001"])
        .await;
    let r = send_one(&*channel, &acct, &message("cid-gone-0001")).await;
    assert_eq!(r.outcome.code(), Some("unregistered"));
    assert!(
        sim.dead
            .is_dead(ChannelKind::Getui, &acct.account.id, "cid-gone-0001")
    );

    sim.put_account(
        APP_ID,
        json!({ "secret": format!("{APP_KEY}:{MASTER}"), "rate_limit_per_sec": 1 }),
    )
    .await;
    let codes: Vec<_> = [
        send_one(&*channel, &acct, &message(CID)).await,
        send_one(&*channel, &acct, &message(CID)).await,
        send_one(&*channel, &acct, &message(CID)).await,
    ]
    .iter()
    .map(|r| (r.outcome.class(), r.outcome.code().map(str::to_owned)))
    .collect();
    assert!(
        codes.contains(&("retryable", Some("getui_10005".into()))),
        "{codes:?}"
    );

    let wrong = Sim::start().await;
    wrong
        .put_account(APP_ID, json!({ "secret": format!("{APP_KEY}:{MASTER}") }))
        .await;
    let r = send_one(
        &*wrong.channel(ChannelKind::Getui),
        &getui_account("not-the-master"),
        &message(CID),
    )
    .await;
    assert_eq!(
        (r.outcome.class(), r.outcome.code()),
        ("permanent", Some("credentials_rejected"))
    );
    assert!(
        r.outcome.message().unwrap().contains("sign is invalid"),
        "{:?}",
        r.outcome
    );
}

#[tokio::test]
async fn the_simulator_checks_sign_timestamp_and_token() {
    let sim = sim_with_app(json!({})).await;
    let auth_url = format!("/sim/getui/v2/{APP_ID}/auth");
    let now = herald_domain::time::now_ms();
    let auth = |timestamp: i64, sign: String, appkey: &str| {
        serde_json::to_vec(
            &json!({ "sign": sign, "timestamp": timestamp.to_string(), "appkey": appkey }),
        )
        .unwrap()
    };
    let (status, _, body) = sim
        .post_raw(
            &auth_url,
            &[],
            auth(now, sign(APP_KEY, now, MASTER), APP_KEY),
        )
        .await;
    assert_eq!((status, body["code"].as_i64()), (200, Some(0)), "{body}");
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    let expires: i64 = body["data"]["expire_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires > now + 23 * 3600 * 1000);

    let stale = now - 11 * 60 * 1000;
    let (_, _, body) = sim
        .post_raw(
            &auth_url,
            &[],
            auth(stale, sign(APP_KEY, stale, MASTER), APP_KEY),
        )
        .await;
    assert_eq!(
        (body["code"].as_i64(), body["msg"].as_str()),
        (Some(20001), Some("timestamp is invalid"))
    );
    let (_, _, body) = sim
        .post_raw(
            &auth_url,
            &[],
            auth(now, sign(APP_KEY, now, "guess"), APP_KEY),
        )
        .await;
    assert_eq!(body["msg"], "sign is invalid");
    let (_, _, body) = sim
        .post_raw(
            &auth_url,
            &[],
            auth(now, sign("other", now, MASTER), "other"),
        )
        .await;
    assert_eq!(body["msg"], "appkey is invalid");

    let push_url = format!("/sim/getui/v2/{APP_ID}/push/single/cid");
    let push = serde_json::to_vec(&json!({
        "request_id": "req0000000001",
        "audience": { "cid": [CID] },
        "push_message": { "notification": { "title": "t", "body": "b", "click_type": "startapp" } },
    }))
    .unwrap();
    let (status, _, body) = sim
        .post_raw(&push_url, &[("token", "forged".into())], push.clone())
        .await;
    assert_eq!((status, body["code"].as_i64()), (401, Some(10001)));
    let (status, _, body) = sim
        .post_raw(&push_url, &[("token", token.clone())], push)
        .await;
    assert_eq!((status, body["code"].as_i64()), (200, Some(0)));
    let other_app = "/sim/getui/v2/otherApp0001/push/single/cid";
    let (status, _, _) = sim
        .post_raw(other_app, &[("token", token)], b"{}".to_vec())
        .await;
    assert_eq!(status, 401, "a token is bound to its app");
    assert_eq!(sim.stats(APP_ID).await["rejected"], 4);
}
