//! The WeCom group-robot channel against its simulator, and the simulator's refusals.

use crate::support::{account, message, send_one, start};
use herald_channel_wechat::WecomRobotChannel;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::AccountContext;
use serde_json::json;

const KEY: &str = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa";

fn robot(key: &str) -> AccountContext {
    account(
        ChannelKind::WecomRobot,
        json!({ "endpoint": "/sim/wecom" }),
        json!({ "key": key }),
    )
}

#[tokio::test]
async fn text_with_mentions_and_markdown_are_delivered() {
    let h = start(&[(KEY, "unused")]).await;
    let channel = WecomRobotChannel::new(h.deps());
    let text = message(
        "ops",
        None,
        "Disk 91% on db-1",
        &[
            ("mentioned_list", "wangqing,@all"),
            ("mentioned_mobile_list", "13800001111"),
        ],
    );
    let md = message("ops", None, "**deploy** done", &[("msgtype", "markdown")]);
    assert_eq!(
        send_one(&channel, &robot(KEY), &text).await.outcome,
        Outcome::Delivered { provider_id: None }
    );
    assert_eq!(
        send_one(&channel, &robot(KEY), &md).await.outcome.class(),
        "delivered"
    );
    let received = h.get(&format!("/sim/wecom/robots/{KEY}/received")).await;
    let items = received["items"].as_array().unwrap();
    assert_eq!(
        items[0]["body"],
        json!({ "msgtype": "text", "text": { "content": "Disk 91% on db-1",
                "mentioned_list": ["wangqing", "@all"], "mentioned_mobile_list": ["13800001111"] } })
    );
    assert_eq!(items[1]["body"]["markdown"]["content"], "**deploy** done");
}

#[tokio::test]
async fn the_twenty_first_message_a_minute_is_paced_and_a_bad_key_permanent() {
    let h = start(&[(KEY, "unused")]).await;
    let channel = WecomRobotChannel::new(h.deps());
    let batch: Vec<_> = (0..21)
        .map(|i| message("ops", None, &format!("n{i}"), &[]))
        .collect();
    let results = herald_ports::Channel::send(&channel, &robot(KEY), &batch).await;
    assert!(
        results[..20]
            .iter()
            .all(|r| r.outcome.class() == "delivered")
    );
    // The 21st is held back by Herald's own pacing: it never reaches WeCom (which would
    // answer 45009), and it may go once the oldest of the 20 leaves the minute.
    match &results[20].outcome {
        Outcome::Retryable {
            code,
            retry_after_ms: Some(wait),
            ..
        } => {
            assert_eq!(code, "paced");
            assert!((1..=60_000).contains(wait), "{wait}");
        }
        other => panic!("expected paced, got {other:?}"),
    }
    let received = h.get(&format!("/sim/wecom/robots/{KEY}/received")).await;
    assert_eq!(
        received["items"].as_array().unwrap().len(),
        20,
        "the 21st was not sent"
    );
    let bad = send_one(
        &channel,
        &robot("not-a-robot"),
        &message("ops", None, "x", &[]),
    )
    .await;
    assert_eq!(
        (bad.outcome.class(), bad.outcome.code()),
        ("permanent", Some("wecom_93000"))
    );

    h.put(&format!("/sim/accounts/{KEY}"), json!({ "fail_first": 1 }))
        .await;
    let other = "second-robot-key";
    h.put(
        &format!("/sim/accounts/{other}"),
        json!({ "fail_first": 1 }),
    )
    .await;
    let busy = send_one(&channel, &robot(other), &message("ops", None, "x", &[])).await;
    assert_eq!(busy.outcome.code(), Some("wecom_-1"));
}

#[tokio::test]
async fn the_simulator_refuses_bad_requests() {
    let h = start(&[(KEY, "unused")]).await;
    let url = |key: &str| format!("/sim/wecom/cgi-bin/webhook/send?key={key}");
    let code = |v: serde_json::Value| v["errcode"].as_i64().unwrap_or(0);
    let ok = json!({ "msgtype": "text", "text": { "content": "hi" } });
    assert_eq!(code(h.post_json(&url("unknown"), ok.clone()).await), 93000);
    assert_eq!(
        code(
            h.post_json("/sim/wecom/cgi-bin/webhook/send", ok.clone())
                .await
        ),
        93000
    );
    assert_eq!(
        code(h.post_json(&url(KEY), json!({ "msgtype": "voice" })).await),
        40008
    );
    assert_eq!(
        code(
            h.post_json(&url(KEY), json!({ "msgtype": "text", "text": {} }))
                .await
        ),
        44004
    );
    let bad_mentions =
        json!({ "msgtype": "text", "text": { "content": "x", "mentioned_list": "a" } });
    assert_eq!(code(h.post_json(&url(KEY), bad_mentions).await), 44004);
    assert_eq!(code(h.post_json(&url(KEY), ok).await), 0);
    let stats = h.stats(KEY).await;
    assert_eq!(
        (stats["unique"].as_u64(), stats["rejected"].as_u64()),
        (Some(1), Some(3))
    );
}
