//! The DingTalk client against its simulator, and the simulator's own checks.

use crate::support::{Sim, account, message, send_one, unix_millis};
use herald_channel_robots::DingtalkChannel;
use herald_channel_robots::dingtalk::signing;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::AccountContext;
use serde_json::{Value, json};

const SECRET: &str = "SECtest0123456789";

fn robot(token: &str, secret: Option<&str>, extra: Value) -> AccountContext {
    let mut config = json!({ "endpoint": "/sim/dingtalk" });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    let mut secrets = json!({ "access_token": token });
    if let Some(secret) = secret {
        secrets["secret"] = secret.into();
    }
    account(ChannelKind::Dingtalk, config, Some(secrets))
}

fn hello() -> herald_ports::OutboundMessage {
    message(
        "ops",
        "Deploy",
        "build 7 is live",
        &[("at_mobiles", "13800000000")],
    )
}

#[tokio::test]
async fn signed_text_and_markdown_are_delivered() {
    let sim = Sim::start().await;
    sim.put_account("dt-ok", json!({ "secret": SECRET })).await;
    let channel = DingtalkChannel::new(sim.deps());
    let robot = robot("dt-ok", Some(SECRET), json!({}));

    let result = send_one(&channel, &robot, &hello()).await;
    assert_eq!(result.outcome, Outcome::Delivered { provider_id: None });
    let markdown = message("ops", "Deploy", "**build 7**", &[("msgtype", "markdown")]);
    let result = send_one(&channel, &robot, &markdown).await;
    assert_eq!(result.outcome.class(), "delivered", "{:?}", result.outcome);

    let received = sim.get("/sim/dingtalk/robots/dt-ok/received").await;
    let items = received["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["body"]["text"]["content"], "build 7 is live");
    assert_eq!(items[0]["body"]["at"]["atMobiles"], json!(["13800000000"]));
    assert_eq!(items[1]["body"]["markdown"]["title"], "Deploy");
    let ts = items[0]["timestamp"].as_i64().unwrap();
    assert!((unix_millis() - ts).abs() < 60_000, "timestamp is unix ms");
    assert_eq!(sim.stats("dt-ok").await["unique"], 2);
}

#[tokio::test]
async fn wrong_secret_and_unknown_token_are_permanent() {
    let sim = Sim::start().await;
    sim.put_account("dt-signed", json!({ "secret": SECRET }))
        .await;
    let channel = DingtalkChannel::new(sim.deps());

    let wrong = send_one(
        &channel,
        &robot("dt-signed", Some("SECwrong"), json!({})),
        &hello(),
    )
    .await;
    assert_eq!(
        wrong.outcome,
        Outcome::Permanent {
            code: "310000".into(),
            message: "sign not match".into()
        }
    );
    let unsigned = send_one(&channel, &robot("dt-signed", None, json!({})), &hello()).await;
    assert_eq!(unsigned.outcome.code(), Some("310000"));
    let unknown = send_one(&channel, &robot("dt-nobody", None, json!({})), &hello()).await;
    assert_eq!(
        unknown.outcome,
        Outcome::Permanent {
            code: "300001".into(),
            message: "token is not exist".into()
        }
    );
    assert_eq!(sim.stats("dt-signed").await["rejected"], 2);
    let bad_template = message("ops", "t", "b", &[("msgtype", "feedCard")]);
    let result = send_one(
        &channel,
        &robot("dt-signed", Some(SECRET), json!({})),
        &bad_template,
    )
    .await;
    assert_eq!(result.outcome.code(), Some("template_invalid"));
}

/// A query built by hand, as a careless client would.
fn signed_query(token: &str, timestamp: i64, sign: &str) -> String {
    format!("/sim/dingtalk/robot/send?access_token={token}&timestamp={timestamp}&sign={sign}")
}

fn encode(sign: &str) -> String {
    sign.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

const TEXT: &str = r#"{"msgtype":"text","text":{"content":"hi"}}"#;

#[tokio::test]
async fn simulator_rejects_stale_timestamps_bad_bodies_and_unencoded_signs() {
    let sim = Sim::start().await;
    sim.put_account("dt-raw", json!({ "secret": SECRET })).await;
    let now = unix_millis();

    let stale = now - 3_601_000;
    let (status, body) = sim
        .post_body(
            &signed_query("dt-raw", stale, &encode(&signing::sign(SECRET, stale))),
            TEXT,
        )
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"errcode": 310000, "errmsg": "invalid timestamp"})
        )
    );

    // A sign containing '+' sent without URL encoding arrives as a space: not a match.
    let (ts, sign) = (now..)
        .map(|ts| (ts, signing::sign(SECRET, ts)))
        .find(|(_, sign)| sign.contains('+'))
        .unwrap();
    let (_, body) = sim
        .post_body(&signed_query("dt-raw", ts, &sign), TEXT)
        .await;
    assert_eq!(body["errmsg"], "sign not match");
    let (_, body) = sim
        .post_body(&signed_query("dt-raw", ts, &encode(&sign)), TEXT)
        .await;
    assert_eq!(body, json!({"errcode": 0, "errmsg": "ok"}));
    // No nonce exists: the same signed URL within the hour is accepted again, as by DingTalk.
    let (_, body) = sim
        .post_body(&signed_query("dt-raw", ts, &encode(&sign)), TEXT)
        .await;
    assert_eq!(body["errcode"], 0);

    let good = signed_query("dt-raw", ts, &encode(&sign));
    let (_, body) = sim.post_body(&good, "not json").await;
    assert_eq!(body["errcode"], 40035);
    let (_, body) = sim
        .post_body(&good, r#"{"msgtype":"link","link":{}}"#)
        .await;
    assert_eq!(body["errcode"], 40008);
    let stats = sim.stats("dt-raw").await;
    assert_eq!(
        (stats["rejected"].clone(), stats["unique"].clone()),
        (json!(4), json!(2))
    );
}

#[tokio::test]
async fn over_twenty_a_minute_is_130101_then_muted() {
    let sim = Sim::start().await;
    sim.put_account("dt-busy", json!({})).await;
    let channel = DingtalkChannel::new(sim.deps());
    // Client pacing off, so the simulator's own window is what answers.
    let robot = robot("dt-busy", None, json!({ "rate_limit_per_minute": 0 }));
    for i in 0..20 {
        let result = send_one(&channel, &robot, &hello()).await;
        assert_eq!(result.outcome.class(), "delivered", "send {i}");
    }
    let over = send_one(&channel, &robot, &hello()).await;
    assert_eq!(
        over.outcome,
        Outcome::Retryable {
            code: "130101".into(),
            message: "send too fast, exceed 20 times per minute".into(),
            retry_after_ms: Some(600_000)
        }
    );
    // The client now holds the robot back for the ten-minute mute without calling.
    let next = send_one(&channel, &robot, &hello()).await;
    assert_eq!(next.outcome.code(), Some("paced"));
    let (_, body) = sim
        .post_body("/sim/dingtalk/robot/send?access_token=dt-busy", TEXT)
        .await;
    assert_eq!(body["errcode"], 130101, "DingTalk keeps the robot muted");
    let stats = sim.stats("dt-busy").await;
    assert_eq!(
        (stats["unique"].clone(), stats["throttled"].clone()),
        (json!(20), json!(2))
    );
}

#[tokio::test]
async fn the_client_paces_itself_to_twenty_a_minute() {
    let sim = Sim::start().await;
    sim.put_account("dt-paced", json!({})).await;
    let channel = DingtalkChannel::new(sim.deps());
    let robot = robot("dt-paced", None, json!({}));
    for _ in 0..20 {
        assert_eq!(
            send_one(&channel, &robot, &hello()).await.outcome.class(),
            "delivered"
        );
    }
    let held = send_one(&channel, &robot, &hello()).await;
    match held.outcome {
        Outcome::Retryable {
            code,
            retry_after_ms: Some(wait),
            ..
        } => {
            assert_eq!(code, "paced");
            assert!((55_000..=60_000).contains(&wait), "{wait}");
        }
        other => panic!("expected paced, got {other:?}"),
    }
    let stats = sim.stats("dt-paced").await;
    assert_eq!(
        (stats["received"].clone(), stats["throttled"].clone()),
        (json!(20), json!(0))
    );
}

#[tokio::test]
async fn injected_faults_map_to_retryable_permanent_and_unknown() {
    let sim = Sim::start().await;
    sim.put_account(
        "dt-faults",
        json!({ "fail_first": 1, "permanent_first": 1, "timeout_first": 1, "timeout_sleep_ms": 600 }),
    )
    .await;
    let channel = DingtalkChannel::new(sim.deps());
    let faulty = robot("dt-faults", None, json!({ "timeout_ms": 200 }));
    let busy = send_one(&channel, &faulty, &hello()).await;
    assert_eq!(
        (busy.outcome.class(), busy.outcome.code()),
        ("retryable", Some("-1"))
    );
    let refused = send_one(&channel, &faulty, &hello()).await;
    assert_eq!(
        refused.outcome,
        Outcome::Permanent {
            code: "310000".into(),
            message: "keywords not in content".into()
        }
    );
    let slow = send_one(&channel, &faulty, &hello()).await;
    assert_eq!(
        (slow.outcome.class(), slow.outcome.code()),
        ("unknown", Some("timeout"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let stats = sim.stats("dt-faults").await;
    assert_eq!(stats["faulted"], 2);
    assert_eq!(
        stats["unique"], 1,
        "the timed-out message still reached the group"
    );

    // Nothing listening: the request never left.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = robot("x", None, json!({ "endpoint": format!("http://{closed}") }));
    let result = send_one(&channel, &refused, &hello()).await;
    assert_eq!(
        (result.outcome.class(), result.outcome.code()),
        ("retryable", Some("connect"))
    );
}
