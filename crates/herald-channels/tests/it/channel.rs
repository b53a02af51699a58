//! The webhook channel's error table, exercised end to end against the simulator.

use crate::support::{Sim, account, message, send_one, sim_account};
use herald_channels::WebhookChannel;
use herald_channels::sim::{SimAccountConfig, SimConfig, SimSecret};
use herald_channels::webhook::signature;
use herald_domain::Outcome;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn success_is_delivered_with_a_signed_payload() {
    let config = SimConfig {
        accounts: BTreeMap::from([(
            "acme".to_owned(),
            SimAccountConfig {
                secret: Some(SimSecret("s3cret".into())),
                ..SimAccountConfig::default()
            },
        )]),
    };
    let sim = Sim::start_with(config).await;
    let msg = message("user-1");
    let result = send_one(&sim.channel(), &sim_account("acme", Some("s3cret")), &msg).await;

    let Outcome::Delivered { provider_id } = &result.outcome else {
        panic!("expected delivered, got {:?}", result.outcome);
    };
    assert!(
        provider_id
            .as_deref()
            .is_some_and(|id| id.starts_with("sim-"))
    );
    assert_eq!(&result.provider_request_id, provider_id);
    assert!(result.latency > Duration::ZERO && result.latency < Duration::from_secs(5));

    let received = sim.get("/sim/webhook/acme/received?limit=10").await;
    let items = received["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["id"], msg.delivery_id.as_str());
    assert_eq!(item["duplicate"], false);
    let body = &item["body"];
    assert_eq!(body["id"], msg.delivery_id.as_str());
    assert_eq!(body["message_id"], msg.message_id.as_str());
    assert_eq!(body["app_id"], msg.app_id.as_str());
    assert_eq!(body["receiver"], json!({ "to": "user-1" }));
    assert_eq!(body["title"], "Order shipped");
    assert_eq!(body["body"], "Your order 42 is on its way");
    assert_eq!(body["fields"], json!({ "order": "42" }));
    assert_eq!(body["attempt"], 1);
    assert_eq!(body["timestamp"], item["timestamp"]);
    let signature_header = item["signature"].as_str().unwrap();
    assert!(signature_header.starts_with("v1="));
    let raw_body = item["raw_body"].as_str().unwrap();
    assert!(signature::verify(
        b"s3cret",
        msg.delivery_id.as_str(),
        item["timestamp"].as_i64().unwrap(),
        raw_body.as_bytes(),
        signature_header
    ));
}

#[tokio::test]
async fn injected_failures_are_retryable_until_they_stop() {
    let sim = Sim::start().await;
    sim.put_account("flaky", json!({ "fail_first": 2 })).await;
    let (channel, account, msg) = (sim.channel(), sim_account("flaky", None), message("u"));
    for _ in 0..2 {
        let result = send_one(&channel, &account, &msg).await;
        assert_eq!(result.outcome.class(), "retryable", "{:?}", result.outcome);
        assert_eq!(result.outcome.code(), Some("http_503"));
        assert_eq!(result.provider_request_id, None);
    }
    let result = send_one(&channel, &account, &msg).await;
    assert_eq!(result.outcome.class(), "delivered");
    let stats = sim.stats("flaky").await;
    assert_eq!(stats["faulted"], 2);
    assert_eq!(
        stats["unique"], 1,
        "failed attempts do not mark the id as seen"
    );
    assert_eq!(stats["duplicates"], 0);
}

#[tokio::test]
async fn retry_after_is_passed_on() {
    let sim = Sim::start().await;
    sim.put_account(
        "busy",
        json!({ "fail_first": 1, "fail_status": 429, "retry_after_secs": 7 }),
    )
    .await;
    let result = send_one(&sim.channel(), &sim_account("busy", None), &message("u")).await;
    assert_eq!(
        result.outcome,
        Outcome::Retryable {
            code: "http_429".into(),
            message: r#"HTTP 429 Too Many Requests: {"error":"injected_failure"}"#.into(),
            retry_after_ms: Some(7000),
        }
    );
}

#[tokio::test]
async fn permanent_answers_fail_with_the_status_code() {
    let sim = Sim::start().await;
    sim.put_account("strict", json!({ "permanent_first": 1 }))
        .await;
    let result = send_one(&sim.channel(), &sim_account("strict", None), &message("u")).await;
    assert_eq!(result.outcome.class(), "permanent");
    assert_eq!(result.outcome.code(), Some("http_400"));
    assert!(
        result
            .outcome
            .message()
            .unwrap()
            .contains("injected_permanent")
    );
}

#[tokio::test]
async fn a_timeout_is_unknown_and_the_late_arrival_still_counts() {
    let sim = Sim::start().await;
    sim.put_account(
        "slow",
        json!({ "timeout_first": 1, "timeout_sleep_ms": 1000 }),
    )
    .await;
    let account = account(
        json!({ "url": "/sim/webhook/slow", "timeout_ms": 200 }),
        None,
    );
    let msg = message("u");
    let result = send_one(&sim.channel(), &account, &msg).await;
    assert_eq!(result.outcome.class(), "unknown", "{:?}", result.outcome);
    assert_eq!(result.outcome.code(), Some("timeout"));
    assert!(
        result.latency < Duration::from_millis(900),
        "{:?}",
        result.latency
    );

    // The simulated provider finished the work after the client gave up: a blind resend
    // is a duplicate, which is why `unknown` must never be resent without reconciling.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sim.stats("slow").await["unique"], 1);
    let resend = send_one(&sim.channel(), &account, &msg).await;
    assert_eq!(resend.outcome.class(), "delivered");
    assert_eq!(sim.stats("slow").await["duplicates"], 1);
}

#[tokio::test]
async fn connection_refused_is_retryable_connect() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let channel = WebhookChannel::new(herald_channels::http_client().unwrap(), None);
    let refused = account(json!({ "url": format!("http://{closed}/hook") }), None);
    let result = send_one(&channel, &refused, &message("u")).await;
    assert_eq!(result.outcome.class(), "retryable", "{:?}", result.outcome);
    assert_eq!(result.outcome.code(), Some("connect"));

    // A name that cannot resolve never leaves either (`.invalid` is reserved, RFC 2606).
    let unresolvable = account(json!({ "url": "http://herald-test.invalid/hook" }), None);
    let result = send_one(&channel, &unresolvable, &message("u")).await;
    assert_eq!(
        result.outcome.code(),
        Some("connect"),
        "{:?}",
        result.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_are_all_counted_once() {
    let sim = Sim::start().await;
    sim.put_account("busy", json!({ "secret": "k" })).await;
    let channel = std::sync::Arc::new(sim.channel());
    let account = std::sync::Arc::new(sim_account("busy", Some("k")));
    let sends = (0..400).map(|i| {
        let (channel, account) = (channel.clone(), account.clone());
        tokio::spawn(async move { send_one(&*channel, &account, &message(&format!("u{i}"))).await })
    });
    for send in futures::future::join_all(sends).await {
        assert_eq!(send.unwrap().outcome.class(), "delivered");
    }
    let stats = sim.stats("busy").await;
    assert_eq!(
        (stats["received"].clone(), stats["unique"].clone()),
        (json!(400), json!(400))
    );
    let per_second: u64 = stats["per_second"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(per_second, 400);
}

#[tokio::test]
async fn bad_account_config_is_permanent() {
    let channel = WebhookChannel::new(herald_channels::http_client().unwrap(), None);
    for config in [
        json!({ "url": "/sim/webhook/x" }),
        json!({ "timeout_ms": 5 }),
        json!({ "url": "not a url" }),
    ] {
        let result = send_one(&channel, &account(config.clone(), None), &message("u")).await;
        assert_eq!(result.outcome.code(), Some("config_invalid"), "{config}");
        assert_eq!(result.outcome.class(), "permanent");
    }
}

/// The channel reuses an account's parsed target, but an account whose config changed is
/// sent to its new URL from the next delivery on.
#[tokio::test]
async fn a_changed_account_url_takes_effect_at_once() {
    let sim = Sim::start().await;
    let channel = sim.channel();
    let mut account = sim_account("first", None);
    for _ in 0..2 {
        let result = send_one(&channel, &account, &message("u")).await;
        assert_eq!(result.outcome.class(), "delivered", "{:?}", result.outcome);
    }
    account.account.config = json!({ "url": "/sim/webhook/second" });
    let result = send_one(&channel, &account, &message("u")).await;
    assert_eq!(result.outcome.class(), "delivered", "{:?}", result.outcome);

    let first = sim.get("/sim/webhook/first/received?limit=10").await;
    let second = sim.get("/sim/webhook/second/received?limit=10").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
}
