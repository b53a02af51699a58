//! The webhook simulator's checks and counters.

use crate::support::{Sim, message, send_one, sim_account, unix_now};
use herald_channels::webhook::signature;
use herald_domain::Outcome;
use serde_json::json;

const BODY: &str = r#"{"id":"dlv_1","body":"hi"}"#;

fn signed_headers(secret: &str, id: &str, timestamp: i64) -> Vec<(&'static str, String)> {
    vec![
        ("herald-id", id.to_owned()),
        ("herald-timestamp", timestamp.to_string()),
        (
            "herald-signature",
            signature::sign(secret.as_bytes(), id, timestamp, BODY.as_bytes()),
        ),
    ]
}

#[tokio::test]
async fn wrong_or_missing_signature_is_401() {
    let sim = Sim::start().await;
    sim.put_account("signed", json!({ "secret": "right" }))
        .await;
    let now = unix_now();

    let (status, _, body) = sim
        .post_raw("signed", &signed_headers("wrong", "dlv_1", now), BODY)
        .await;
    assert_eq!(
        (status, body),
        (401, json!({ "error": "invalid_signature" }))
    );

    let unsigned = &signed_headers("right", "dlv_1", now)[..2];
    let (status, _, _) = sim.post_raw("signed", unsigned, BODY).await;
    assert_eq!(status, 401);

    let (status, _, _) = sim
        .post_raw("signed", &signed_headers("right", "dlv_1", now), BODY)
        .await;
    assert_eq!(status, 200);

    let stats = sim.stats("signed").await;
    assert_eq!(
        (stats["rejected"].clone(), stats["unique"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(stats["received"], 3);
}

#[tokio::test]
async fn stale_timestamps_and_missing_headers_are_400() {
    let sim = Sim::start().await;
    sim.put_account("signed", json!({ "secret": "k" })).await;
    for skew in [-301, 301] {
        let headers = signed_headers("k", "dlv_1", unix_now() + skew);
        let (status, _, body) = sim.post_raw("signed", &headers, BODY).await;
        assert_eq!(
            (status, body),
            (400, json!({ "error": "stale_timestamp" })),
            "{skew}"
        );
    }
    let (status, _, body) = sim.post_raw("open", &[], BODY).await;
    assert_eq!((status, body), (400, json!({ "error": "missing_header" })));
    let headers = [
        ("herald-id", "dlv_1".into()),
        ("herald-timestamp", unix_now().to_string()),
    ];
    let (status, _, body) = sim.post_raw("open", &headers, "not json").await;
    assert_eq!((status, body), (400, json!({ "error": "invalid_body" })));
    assert_eq!(sim.stats("signed").await["rejected"], 2);
    assert_eq!(sim.stats("open").await["rejected"], 2);
}

#[tokio::test]
async fn over_the_rate_limit_is_429_and_counted_as_throttled() {
    let sim = Sim::start().await;
    sim.put_account("limited", json!({ "rate_limit_per_sec": 3 }))
        .await;
    let (channel, account) = (sim.channel(), sim_account("limited", None));
    let mut throttled = 0;
    for i in 0..10 {
        let result = send_one(&channel, &account, &message(&format!("u{i}"))).await;
        match result.outcome {
            Outcome::Delivered { .. } => {}
            Outcome::Retryable {
                code,
                retry_after_ms,
                ..
            } => {
                assert_eq!((code.as_str(), retry_after_ms), ("http_429", Some(1000)));
                throttled += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Ten local requests take far less than two seconds, so at most two windows of 3.
    assert!(throttled >= 4, "{throttled}");
    let stats = sim.stats("limited").await;
    assert_eq!(stats["throttled"], throttled);
    assert_eq!(stats["unique"], 10 - throttled);
    for (second, counts) in stats["per_second_detail"].as_object().unwrap() {
        assert!(
            counts["unique"].as_u64().unwrap() <= 3,
            "second {second}: {counts}"
        );
    }
}

#[tokio::test]
async fn a_reused_id_is_accepted_and_counted_as_duplicate() {
    let sim = Sim::start().await;
    let (channel, account) = (sim.channel(), sim_account("dedup", None));
    let mut msg = message("u");
    send_one(&channel, &account, &msg).await;
    msg.attempt = 2;
    let retry = send_one(&channel, &account, &msg).await;
    assert_eq!(retry.outcome.class(), "delivered");
    send_one(&channel, &account, &message("other")).await;

    let stats = sim.stats("dedup").await;
    assert_eq!(stats["unique"], 2);
    assert_eq!(stats["duplicates"], 1);
    let received = sim.get("/sim/webhook/dedup/received?limit=2").await;
    let items = received["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "limit is honoured");
    assert_eq!(items[0]["duplicate"], true);
    assert_eq!(items[0]["body"]["attempt"], 2);
    assert_eq!(items[1]["duplicate"], false);
}

#[tokio::test]
async fn counts_per_arrival_second_totals_and_reset() {
    let sim = Sim::start().await;
    let (channel, account) = (sim.channel(), sim_account("counting", None));
    let before = unix_now();
    for i in 0..5 {
        send_one(&channel, &account, &message(&format!("u{i}"))).await;
    }
    let after = unix_now();
    let all = sim.get("/sim/stats").await;
    assert_eq!(all["total_received"], 5);
    assert_eq!(all["total_unique"], 5);
    let in_process = sim.state.stats();
    assert_eq!(
        in_process.total_unique, 5,
        "the in-process view matches the HTTP one"
    );
    assert_eq!(in_process.accounts["counting"].counts.unique, 5);
    let per_second = all["accounts"]["counting"]["per_second"]
        .as_object()
        .unwrap();
    let mut sum = 0;
    for (second, n) in per_second {
        let second: i64 = second.parse().unwrap();
        assert!(
            (before..=after).contains(&second),
            "{second} outside {before}..={after}"
        );
        sum += n.as_u64().unwrap();
    }
    assert_eq!(sum, 5);

    let response = sim
        .http
        .delete(format!("{}/sim/stats", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let all = sim.get("/sim/stats").await;
    assert_eq!(all["total_received"], 0);
    assert_eq!(all["accounts"]["counting"]["per_second"], json!({}));
    let received = sim.get("/sim/webhook/counting/received").await;
    assert_eq!(received["items"], json!([]));
}

#[tokio::test]
async fn account_config_round_trips_without_the_secret() {
    let sim = Sim::start().await;
    let fresh = sim.get("/sim/accounts/never-seen").await;
    assert_eq!(fresh["has_secret"], false);
    assert_eq!(fresh["fail_status"], 503);
    assert_eq!(fresh["rate_limit_per_sec"], 0);

    sim.put_account("configured", json!({ "secret": "k", "latency_ms": 5 }))
        .await;
    let shown = sim.get("/sim/accounts/configured").await;
    assert_eq!(shown["has_secret"], true);
    assert_eq!(shown["latency_ms"], 5);
    assert!(shown.get("secret").is_none(), "{shown}");

    let response = sim
        .http
        .put(format!("{}/sim/accounts/configured", sim.base))
        .json(&json!({ "error_rate": 2.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_config");
    let listed = sim.get("/sim/accounts").await;
    assert_eq!(listed["accounts"][0]["name"], "configured");
}
