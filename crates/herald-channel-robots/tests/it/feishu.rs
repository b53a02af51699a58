//! The Feishu client against its simulator, and the simulator's own checks.

use crate::support::{Sim, account, message, send_one, unix_millis};
use herald_channel_robots::FeishuChannel;
use herald_channel_robots::feishu::signing;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::AccountContext;
use serde_json::{Value, json};

const SECRET: &str = "fs-secret-42";
const SIGN_FAIL: &str = "sign match fail or timestamp is not within one hour from current time";

fn bot(hook: &str, secret: Option<&str>, extra: Value) -> AccountContext {
    let mut config = json!({ "endpoint": "/sim/feishu" });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    let mut secrets = json!({ "hook_id": hook });
    if let Some(secret) = secret {
        secrets["secret"] = secret.into();
    }
    account(ChannelKind::Feishu, config, Some(secrets))
}

fn hello() -> herald_ports::OutboundMessage {
    message("ops", "Deploy", "build 7 is live", &[])
}

#[tokio::test]
async fn signed_text_post_and_card_are_delivered() {
    let sim = Sim::start().await;
    sim.put_account("fs-ok", json!({ "secret": SECRET })).await;
    let channel = FeishuChannel::new(sim.deps());
    let bot = bot("fs-ok", Some(SECRET), json!({}));

    let text = message("ops", "Deploy", "build 7 is live", &[("at_all", "true")]);
    assert_eq!(
        send_one(&channel, &bot, &text).await.outcome,
        Outcome::Delivered { provider_id: None }
    );
    let post = message("ops", "Deploy", "line 1\nline 2", &[("msg_type", "post")]);
    assert_eq!(
        send_one(&channel, &bot, &post).await.outcome.class(),
        "delivered"
    );
    let card = message(
        "ops",
        "Deploy",
        r#"{"elements":[{"tag":"div"}]}"#,
        &[("msg_type", "interactive")],
    );
    assert_eq!(
        send_one(&channel, &bot, &card).await.outcome.class(),
        "delivered"
    );

    let received = sim.get("/sim/feishu/hooks/fs-ok/received").await;
    let items = received["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let first = &items[0]["body"];
    assert!(
        first["content"]["text"]
            .as_str()
            .unwrap()
            .ends_with("build 7 is live")
    );
    let ts: i64 = first["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        (unix_millis() / 1000 - ts).abs() < 60,
        "timestamp is unix seconds"
    );
    assert!(signing::verify(SECRET, ts, first["sign"].as_str().unwrap()));
    assert_eq!(
        items[1]["body"]["content"]["post"]["zh_cn"]["content"][1][0]["text"],
        "line 2"
    );
    assert_eq!(items[2]["body"]["card"]["elements"][0]["tag"], "div");
}

#[tokio::test]
async fn wrong_secret_dingtalk_style_sign_and_unknown_hook_are_permanent() {
    let sim = Sim::start().await;
    sim.put_account("fs-signed", json!({ "secret": SECRET }))
        .await;
    let channel = FeishuChannel::new(sim.deps());

    let wrong = send_one(
        &channel,
        &bot("fs-signed", Some("other"), json!({})),
        &hello(),
    )
    .await;
    assert_eq!(
        wrong.outcome,
        Outcome::Permanent {
            code: "19021".into(),
            message: SIGN_FAIL.into()
        }
    );
    let unknown = send_one(&channel, &bot("fs-nobody", None, json!({})), &hello()).await;
    assert_eq!(unknown.outcome.code(), Some("19001"));
    assert_eq!(unknown.outcome.class(), "permanent");

    // DingTalk's arrangement of the same inputs is refused: key and message are swapped.
    let ts = unix_millis() / 1000;
    let dingtalk_style = herald_channel_robots::dingtalk::signing::sign(SECRET, ts);
    let body = json!({
        "timestamp": ts.to_string(), "sign": dingtalk_style,
        "msg_type": "text", "content": {"text": "hi"}
    });
    let (_, answer) = sim
        .post_body(
            "/sim/feishu/open-apis/bot/v2/hook/fs-signed",
            &body.to_string(),
        )
        .await;
    assert_eq!(answer["code"], 19021);
    assert_eq!(sim.stats("fs-signed").await["rejected"], 2);
}

#[tokio::test]
async fn simulator_rejects_stale_timestamps_and_bad_bodies() {
    let sim = Sim::start().await;
    sim.put_account("fs-raw", json!({ "secret": SECRET })).await;
    let path = "/sim/feishu/open-apis/bot/v2/hook/fs-raw";
    let signed = |ts: i64| {
        json!({
            "timestamp": ts.to_string(), "sign": signing::sign(SECRET, ts),
            "msg_type": "text", "content": {"text": "hi"}
        })
    };
    let now = unix_millis() / 1000;
    for skew in [-3601, 3601] {
        let (status, answer) = sim.post_body(path, &signed(now + skew).to_string()).await;
        assert_eq!(
            (status, answer),
            (200, json!({"code": 19021, "data": {}, "msg": SIGN_FAIL}))
        );
    }
    let (_, answer) = sim.post_body(path, &signed(now).to_string()).await;
    assert_eq!(answer["code"], 0);
    assert_eq!(answer["StatusMessage"], "success");
    // No nonce exists: replaying the same signed body within the hour is accepted, as by Feishu.
    let (_, answer) = sim.post_body(path, &signed(now).to_string()).await;
    assert_eq!(answer["code"], 0);
    let (_, answer) = sim.post_body(path, "[1,2]").await;
    assert_eq!(answer["code"], 9499);
    let mut image = signed(now);
    image["msg_type"] = "image".into();
    let (_, answer) = sim.post_body(path, &image.to_string()).await;
    assert_eq!(answer["code"], 9499);
    let stats = sim.stats("fs-raw").await;
    assert_eq!(
        (stats["rejected"].clone(), stats["unique"].clone()),
        (json!(4), json!(2))
    );
}

#[tokio::test]
async fn over_five_a_second_is_11232_and_the_client_paces_to_avoid_it() {
    let sim = Sim::start().await;
    sim.put_account("fs-busy", json!({})).await;
    let unpaced = b"{\"msg_type\":\"text\",\"content\":{\"text\":\"hi\"}}";
    let path = "/sim/feishu/open-apis/bot/v2/hook/fs-busy";
    let mut limited = 0;
    for _ in 0..12 {
        let (_, answer) = sim
            .post_body(path, std::str::from_utf8(unpaced).unwrap())
            .await;
        if answer["code"] == 11232 {
            limited += 1;
        }
    }
    // Twelve local requests fit in at most two clock seconds: at most 10 admitted.
    assert!(limited >= 2, "{limited}");
    assert_eq!(sim.stats("fs-busy").await["throttled"], limited);

    // The client waits for its 5/s window instead (short waits happen in-process).
    sim.put_account("fs-paced", json!({})).await;
    let channel = FeishuChannel::new(sim.deps());
    let bot = bot("fs-paced", None, json!({}));
    let started = std::time::Instant::now();
    for i in 0..7 {
        let result = send_one(&channel, &bot, &hello()).await;
        assert_eq!(
            result.outcome.class(),
            "delivered",
            "send {i}: {:?}",
            result.outcome
        );
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(sim.stats("fs-paced").await["throttled"], 0);
}

#[tokio::test]
async fn over_the_minute_and_injected_faults() {
    let sim = Sim::start().await;
    sim.put_account(
        "fs-faults",
        json!({ "fail_first": 1, "fail_status": 500, "permanent_first": 1 }),
    )
    .await;
    let channel = FeishuChannel::new(sim.deps());
    let faulty = bot("fs-faults", None, json!({}));
    let busy = send_one(&channel, &faulty, &hello()).await;
    assert_eq!(
        (busy.outcome.class(), busy.outcome.code()),
        ("retryable", Some("2200"))
    );
    let refused = send_one(&channel, &faulty, &hello()).await;
    assert_eq!(
        refused.outcome,
        Outcome::Permanent {
            code: "19024".into(),
            message: "Key Words Not Found".into()
        }
    );

    // Over the sim account's own rate limit the simulator answers 11232 → retryable.
    sim.put_account("fs-limited", json!({ "rate_limit_per_sec": 1 }))
        .await;
    let limited = bot("fs-limited", None, json!({}));
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(send_one(&channel, &limited, &hello()).await.outcome);
    }
    let throttled: Vec<_> = outcomes
        .iter()
        .filter(|o| o.code() == Some("11232"))
        .collect();
    assert!(!throttled.is_empty(), "{outcomes:?}");
    assert!(matches!(
        throttled[0],
        Outcome::Retryable {
            retry_after_ms: Some(10_000),
            ..
        }
    ));
}
