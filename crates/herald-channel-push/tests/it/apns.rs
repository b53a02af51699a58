//! APNs: the real client over h2c against the simulator, and the simulator's own checks.

use crate::support::{
    Sim, TestKeys, account, ec_keys, h2c_client, message, post_raw_with, send_like_dispatcher,
    send_one, unix_now,
};
use herald_channel_push::apns::jwt::{apns_id, provider_token};
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, CachedToken};
use serde_json::json;

const TEAM: &str = "TEAM123456";
const KEY_ID: &str = "KEY1234567";
const TOPIC: &str = "com.example.app";

fn device(n: u8) -> String {
    format!("{:02x}", n).repeat(32)
}

fn apns_account(keys: &TestKeys, config: serde_json::Value) -> AccountContext {
    let mut base = json!({ "endpoint": "/sim/apns", "topic": TOPIC });
    base.as_object_mut()
        .unwrap()
        .extend(config.as_object().unwrap().clone());
    let secret = json!({ "team_id": TEAM, "key_id": KEY_ID, "private_key": keys.private_pem });
    account(ChannelKind::Apns, base, Some(secret))
}

async fn sim_with_team(keys: &TestKeys, extra: serde_json::Value) -> Sim {
    let sim = Sim::start().await;
    let mut config = json!({ "secret": keys.public_pem });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    sim.put_account(TEAM, config).await;
    sim
}

#[tokio::test]
async fn sends_over_http2_with_a_stable_apns_id() {
    let keys = ec_keys();
    let sim = sim_with_team(&keys, json!({})).await;
    let channel = sim.channel(ChannelKind::Apns);
    let acct = apns_account(&keys, json!({}));
    let mut msg = message(&device(1));
    msg.content.fields.insert("badge".into(), "3".into());
    msg.content
        .fields
        .insert("collapse_id".into(), "orders".into());
    let first = send_one(&*channel, &acct, &msg).await;
    let expected_id = apns_id(msg.delivery_id.as_str());
    assert_eq!(
        first.outcome,
        Outcome::Delivered {
            provider_id: Some(expected_id.clone())
        }
    );

    // A retry of the same delivery carries the same apns-id: the provider sees a duplicate.
    msg.attempt = 2;
    assert_eq!(
        send_one(&*channel, &acct, &msg).await.outcome.class(),
        "delivered"
    );
    let stats = sim.stats(TEAM).await;
    assert_eq!(
        (stats["unique"].clone(), stats["duplicates"].clone()),
        (json!(1), json!(1))
    );
    let received = sim.received("apns", TEAM).await;
    assert_eq!(received[0]["id"], expected_id);
    assert_eq!(
        received[0]["body"],
        json!({ "aps": { "alert": { "title": "Order shipped", "body": "Your order 42 is on its way" }, "badge": 3 }, "order": "42" })
    );
    assert!(
        sim.deps
            .tokens
            .get(&format!("apns:{TEAM}:{KEY_ID}"))
            .await
            .is_some(),
        "JWT cached"
    );
}

#[tokio::test]
async fn an_expired_provider_token_is_replaced() {
    let keys = ec_keys();
    let sim = sim_with_team(&keys, json!({})).await;
    let channel = sim.channel(ChannelKind::Apns);
    let acct = apns_account(&keys, json!({}));
    let old = provider_token(TEAM, KEY_ID, &keys.private_pem, unix_now() - 7200).unwrap();
    let stale = CachedToken {
        value: old,
        expires_at: herald_domain::time::now_ms() + 3_600_000,
    };
    sim.deps
        .tokens
        .put(&format!("apns:{TEAM}:{KEY_ID}"), stale)
        .await;
    let (first, second) = send_like_dispatcher(&*channel, &acct, &message(&device(2))).await;
    assert_eq!(
        (first.outcome.class(), first.outcome.code()),
        ("token_expired", Some("expired_provider_token"))
    );
    assert_eq!(second.unwrap().outcome.class(), "delivered");
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_invalid() {
    let sim = sim_with_team(&ec_keys(), json!({})).await;
    let channel = sim.channel(ChannelKind::Apns);
    let acct = apns_account(&ec_keys(), json!({}));
    let result = send_one(&*channel, &acct, &message(&device(3))).await;
    assert_eq!(
        (result.outcome.class(), result.outcome.code()),
        ("token_expired", Some("invalid_provider_token"))
    );
    assert_eq!(sim.stats(TEAM).await["rejected"], 1);
}

#[tokio::test]
async fn unregistered_devices_are_gone_and_fail_fast() {
    let keys = ec_keys();
    let sim = sim_with_team(&keys, json!({})).await;
    let channel = sim.channel(ChannelKind::Apns);
    let acct = apns_account(&keys, json!({}));
    let gone = device(4);
    sim.set_unregistered("apns", TEAM, &[&gone]).await;
    let first = send_one(&*channel, &acct, &message(&gone)).await;
    assert_eq!(
        (first.outcome.class(), first.outcome.code()),
        ("permanent", Some("unregistered"))
    );
    let calls = sim.stats(TEAM).await["received"].clone();
    assert_eq!(
        send_one(&*channel, &acct, &message(&gone))
            .await
            .outcome
            .code(),
        Some("unregistered")
    );
    assert_eq!(sim.stats(TEAM).await["received"], calls);
    assert_eq!(
        send_one(&*channel, &acct, &message(&device(5)))
            .await
            .outcome
            .class(),
        "delivered"
    );
}

#[tokio::test]
async fn throttling_outages_and_bad_tokens_are_classified() {
    let keys = ec_keys();
    let sim = sim_with_team(
        &keys,
        json!({ "fail_first": 1, "fail_status": 500, "permanent_first": 1 }),
    )
    .await;
    let channel = sim.channel(ChannelKind::Apns);
    let acct = apns_account(&keys, json!({}));
    let outage = send_one(&*channel, &acct, &message(&device(6))).await;
    assert_eq!(
        (outage.outcome.class(), outage.outcome.code()),
        ("retryable", Some("internal_server_error"))
    );
    let refused = send_one(&*channel, &acct, &message(&device(6))).await;
    assert_eq!(refused.outcome.code(), Some("device_token_not_for_topic"));
    // Not hex: the provider says BadDeviceToken (Herald validates receivers earlier, too).
    let bad = send_one(&*channel, &acct, &message(&"zz".repeat(32))).await;
    assert_eq!(
        (bad.outcome.class(), bad.outcome.code()),
        ("permanent", Some("bad_device_token"))
    );

    sim.put_account(
        TEAM,
        json!({ "secret": keys.public_pem, "rate_limit_per_sec": 1 }),
    )
    .await;
    let codes: Vec<_> = futures_codes(&*channel, &acct, 4).await;
    assert!(
        codes
            .iter()
            .any(|c| c.as_deref() == Some("too_many_requests")),
        "{codes:?}"
    );
    let no_topic = apns_account(&keys, json!({ "topic": "" }));
    assert_eq!(
        send_one(&*channel, &no_topic, &message(&device(7)))
            .await
            .outcome
            .code(),
        Some("config_invalid")
    );
}

async fn futures_codes(
    channel: &dyn herald_ports::Channel,
    acct: &AccountContext,
    n: u8,
) -> Vec<Option<String>> {
    let mut codes = Vec::new();
    for i in 0..n {
        let r = send_one(channel, acct, &message(&device(10 + i))).await;
        codes.push(r.outcome.code().map(str::to_owned));
    }
    codes
}

#[tokio::test]
async fn the_simulator_speaks_http2_only_and_checks_headers() {
    let keys = ec_keys();
    let sim = sim_with_team(&keys, json!({})).await;
    let url = format!("{}/sim/apns/3/device/{}", sim.base, device(8));
    let body = br#"{"aps":{"alert":"hi"}}"#.to_vec();
    let jwt = provider_token(TEAM, KEY_ID, &keys.private_pem, unix_now()).unwrap();
    let auth = ("authorization", format!("bearer {jwt}"));
    let topic = ("apns-topic", TOPIC.to_owned());

    let (status, _, _) = post_raw_with(
        &sim.http,
        &url,
        &[auth.clone(), topic.clone()],
        body.clone(),
    )
    .await;
    assert_eq!(status, 505, "HTTP/1.1 is refused");

    let h2 = h2c_client();
    let (status, _, answer) =
        post_raw_with(&h2, &url, std::slice::from_ref(&topic), body.clone()).await;
    assert_eq!(
        (status, answer["reason"].as_str()),
        (403, Some("MissingProviderToken"))
    );
    let (status, _, answer) =
        post_raw_with(&h2, &url, std::slice::from_ref(&auth), body.clone()).await;
    assert_eq!(
        (status, answer["reason"].as_str()),
        (400, Some("MissingTopic"))
    );
    let bad_id = ("apns-id", "123".to_owned());
    let (_, _, answer) = post_raw_with(
        &h2,
        &url,
        &[auth.clone(), topic.clone(), bad_id],
        body.clone(),
    )
    .await;
    assert_eq!(answer["reason"], "BadMessageId");
    let short = format!("{}/sim/apns/3/device/abcd", sim.base);
    let (_, _, answer) =
        post_raw_with(&h2, &short, &[auth.clone(), topic.clone()], body.clone()).await;
    assert_eq!(answer["reason"], "BadDeviceToken");
    let (status, _, answer) =
        post_raw_with(&h2, &url, &[auth.clone(), topic.clone()], vec![b' '; 5000]).await;
    assert_eq!(
        (status, answer["reason"].as_str()),
        (413, Some("PayloadTooLarge"))
    );
    let future = provider_token(TEAM, KEY_ID, &keys.private_pem, unix_now() + 3600).unwrap();
    let (_, _, answer) = post_raw_with(
        &h2,
        &url,
        &[("authorization", format!("bearer {future}")), topic.clone()],
        body.clone(),
    )
    .await;
    assert_eq!(answer["reason"], "InvalidProviderToken");
    let (status, headers, _) = post_raw_with(&h2, &url, &[auth, topic], body).await;
    assert_eq!(status, 200);
    assert!(headers.get("apns-id").is_some());
}
