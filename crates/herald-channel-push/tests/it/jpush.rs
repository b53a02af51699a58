//! JPush: batching, the error classes and the simulator's checks.

use crate::support::{Sim, account, message, message_with, send_one};
use herald_channel_push::jpush::client::basic_auth;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::AccountContext;
use serde_json::json;

// The appKey/masterSecret of JPush's documentation example.
const APP_KEY: &str = "7d431e42dfa6a6d693ac2d04";
const MASTER: &str = "5e987ac6d2e04d95a9d8f0d1";

fn jpush_account(master: &str) -> AccountContext {
    account(
        ChannelKind::Jpush,
        json!({ "endpoint": "/sim/jpush", "app_key": APP_KEY }),
        Some(json!({ "master_secret": master })),
    )
}

async fn sim_with_app(extra: serde_json::Value) -> Sim {
    let sim = Sim::start().await;
    let mut config = json!({ "secret": MASTER });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    sim.put_account(APP_KEY, config).await;
    sim
}

#[tokio::test]
async fn batches_share_one_call_per_content() {
    let sim = sim_with_app(json!({})).await;
    let channel = sim.channel(ChannelKind::Jpush);
    assert_eq!(channel.max_batch(), 1000);
    let acct = jpush_account(MASTER);
    let batch = vec![
        message("reg-id-0001"),
        message_with("reg-id-0002", Some("Other"), "different"),
        message("reg-id-0003"),
        message("reg-id-0004"),
        message_with("reg-id-0005", Some("Other"), "different"),
    ];
    let results = channel.send(&acct, &batch).await;
    assert_eq!(results.len(), 5);
    let ids: Vec<_> = results
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Delivered {
                provider_id: Some(id),
            } => id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        (ids[0] == ids[2], ids[2] == ids[3], ids[1] == ids[4]),
        (true, true, true)
    );
    assert_ne!(ids[0], ids[1]);
    assert_eq!(sim.stats(APP_KEY).await["unique"], 2, "two calls");
    let received = sim.received("jpush", APP_KEY).await;
    let mut audiences: Vec<_> = received
        .iter()
        .map(|r| r["body"]["audience"]["registration_id"].clone())
        .collect();
    audiences.sort_by_key(|a| a.as_array().unwrap().len());
    assert_eq!(
        audiences,
        [
            json!(["reg-id-0002", "reg-id-0005"]),
            json!(["reg-id-0001", "reg-id-0003", "reg-id-0004"])
        ]
    );
    let first = received
        .iter()
        .find(|r| {
            r["body"]["audience"]["registration_id"]
                .as_array()
                .unwrap()
                .len()
                == 3
        })
        .unwrap();
    assert_eq!(
        first["body"]["notification"]["android"]["title"],
        "Order shipped"
    );
    assert_eq!(
        first["body"]["notification"]["ios"]["extras"]["order"],
        "42"
    );
    assert_eq!(first["body"]["platform"], "all");
}

#[tokio::test]
async fn wrong_credentials_are_1004_for_every_message() {
    let sim = sim_with_app(json!({})).await;
    let channel = sim.channel(ChannelKind::Jpush);
    let results = channel
        .send(
            &jpush_account("wrong"),
            &[message("reg-id-0001"), message("reg-id-0002")],
        )
        .await;
    for r in results {
        assert_eq!(
            (r.outcome.class(), r.outcome.code()),
            ("permanent", Some("jpush_1004"))
        );
    }
    assert_eq!(sim.stats(APP_KEY).await["rejected"], 1);
}

#[tokio::test]
async fn no_target_marks_the_ids_dead() {
    let sim = sim_with_app(json!({})).await;
    let channel = sim.channel(ChannelKind::Jpush);
    let acct = jpush_account(MASTER);
    sim.set_unregistered("jpush", APP_KEY, &["reg-gone-01", "reg-gone-02"])
        .await;
    let results = channel
        .send(&acct, &[message("reg-gone-01"), message("reg-gone-02")])
        .await;
    assert!(
        results
            .iter()
            .all(|r| r.outcome.code() == Some("unregistered")),
        "{results:?}"
    );
    // Next time the dead ids are skipped; the live one is sent alone.
    let calls = sim.stats(APP_KEY).await["received"].as_u64().unwrap();
    let results = channel
        .send(&acct, &[message("reg-gone-01"), message("reg-live-01")])
        .await;
    assert_eq!(results[0].outcome.code(), Some("unregistered"));
    assert_eq!(results[1].outcome.class(), "delivered");
    assert_eq!(
        sim.stats(APP_KEY).await["received"].as_u64().unwrap(),
        calls + 1
    );
    let last = sim.received("jpush", APP_KEY).await.pop().unwrap();
    assert_eq!(
        last["body"]["audience"]["registration_id"],
        json!(["reg-live-01"])
    );
}

#[tokio::test]
async fn rate_limits_and_outages_are_retryable() {
    let sim = sim_with_app(json!({ "rate_limit_per_sec": 1 })).await;
    let channel = sim.channel(ChannelKind::Jpush);
    let acct = jpush_account(MASTER);
    let mut throttled = 0;
    for _ in 0..3 {
        let r = send_one(&*channel, &acct, &message("reg-id-0001")).await;
        if r.outcome.class() == "retryable" {
            assert!(
                matches!(&r.outcome, Outcome::Retryable { code, retry_after_ms: Some(1000), .. } if code == "jpush_2002"),
                "{:?}",
                r.outcome
            );
            throttled += 1;
        }
    }
    assert!(throttled >= 1);
    sim.put_account(
        APP_KEY,
        json!({ "secret": MASTER, "fail_first": 1, "fail_status": 503, "permanent_first": 1 }),
    )
    .await;
    let r = send_one(&*channel, &acct, &message("reg-id-0001")).await;
    assert_eq!(
        (r.outcome.class(), r.outcome.code()),
        ("retryable", Some("jpush_1030"))
    );
    let r = send_one(&*channel, &acct, &message("reg-id-0001")).await;
    assert_eq!(
        (r.outcome.class(), r.outcome.code()),
        ("permanent", Some("jpush_1003"))
    );
}

#[tokio::test]
async fn the_simulator_checks_auth_and_parameters() {
    let sim = sim_with_app(json!({})).await;
    let good =
        br#"{"platform":"all","audience":{"registration_id":["r1"]},"notification":{"alert":"x"}}"#
            .to_vec();
    let (status, _, body) = sim.post_raw("/sim/jpush/v3/push", &[], good.clone()).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (401, Some(1004)));
    let auth = [("authorization", basic_auth(APP_KEY, MASTER))];
    let (status, headers, body) = sim.post_raw("/sim/jpush/v3/push", &auth, good).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["msg_id"].is_string() && headers.get("x-rate-limit-reset").is_some());
    let missing = br#"{"platform":"all","audience":{"registration_id":["r1"]}}"#.to_vec();
    let (_, _, body) = sim.post_raw("/sim/jpush/v3/push", &auth, missing).await;
    assert_eq!(body["error"]["code"], 1002);
    let long = serde_json::to_vec(&json!({"platform":"all","audience":{"registration_id":["r1"]},"notification":{"alert":"x".repeat(4100)}})).unwrap();
    let (_, _, body) = sim.post_raw("/sim/jpush/v3/push", &auth, long).await;
    assert_eq!(body["error"]["code"], 1005);
}
