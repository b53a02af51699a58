//! The WeCom application channel against its simulator: per-member results in a batch,
//! 1,000-member calls, per-member limits, token refresh and the error classes; plus the
//! simulator's negative answers and its silent drops.

use crate::support::{Harness, account, message, send_one, start};
use herald_channel_wechat::WecomAppChannel;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, Channel, OutboundMessage};
use serde_json::{Value, json};
use std::sync::Arc;

const CORPID: &str = "ww00000000000000a1";
const SECRET: &str = "corp-app-secret";
const AGENTID: i64 = 1_000_002;

fn app_account() -> AccountContext {
    account(
        ChannelKind::WecomApp,
        json!({ "corpid": CORPID, "agentid": AGENTID, "endpoint": "/sim/wecom" }),
        json!({ "corpsecret": SECRET }),
    )
}

fn text(to: &str, body: &str) -> OutboundMessage {
    message(to, None, body, &[])
}

async fn harness() -> Harness {
    start(&[(CORPID, SECRET)]).await
}

async fn counters(h: &Harness) -> Value {
    h.get(&format!("/sim/wecom/corps/{CORPID}")).await["counters"].clone()
}

#[tokio::test]
async fn one_call_delivers_to_members_and_reports_invalid_ones() {
    let h = harness().await;
    let channel = WecomAppChannel::new(h.deps());
    assert_eq!(channel.max_batch(), 1000);
    let batch = [
        text("zhangsan", "Build 7 passed"),
        text("invalid_user", "Build 7 passed"),
        text("unlicensed_li", "Build 7 passed"),
        text("wangwu", "Build 7 passed"),
    ];
    let results = channel.send(&app_account(), &batch).await;
    let classes: Vec<_> = results.iter().map(|r| r.outcome.class()).collect();
    assert_eq!(
        classes,
        ["delivered", "permanent", "permanent", "delivered"]
    );
    assert_eq!(results[1].outcome.code(), Some("wecom_invalid_user"));
    assert_eq!(results[2].outcome.code(), Some("wecom_unlicensed_user"));
    assert!(results[0].provider_request_id.is_some());
    assert_eq!(
        results[0].provider_request_id,
        results[3].provider_request_id
    );

    let received = h.get(&format!("/sim/wecom/corps/{CORPID}/received")).await;
    let items = received["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one call for one content");
    let body = &items[0]["body"];
    assert_eq!(body["touser"], "zhangsan|invalid_user|unlicensed_li|wangwu");
    assert_eq!(body["agentid"], AGENTID);
    assert_eq!(body["enable_duplicate_check"], 1);
    assert_eq!(body["text"]["content"], "Build 7 passed");
    let counters = counters(&h).await;
    assert_eq!(counters["delivered"], 2);
    assert_eq!(counters["invalid"], 2);

    let all_invalid = channel
        .send(
            &app_account(),
            &[text("invalid_a", "x"), text("invalid_b", "x")],
        )
        .await;
    assert!(
        all_invalid
            .iter()
            .all(|r| r.outcome.code() == Some("wecom_81013"))
    );
}

#[tokio::test]
async fn a_thousand_members_share_one_call_and_contents_split_calls() {
    let h = harness().await;
    let channel = WecomAppChannel::new(h.deps());
    let mut batch: Vec<_> = (0..999)
        .map(|i| text(&format!("user{i:04}"), "Maintenance at 22:00"))
        .collect();
    batch.push(message(
        "user0000",
        Some("Card"),
        "Details",
        &[("msgtype", "textcard"), ("url", "https://x")],
    ));
    let results = channel.send(&app_account(), &batch).await;
    assert_eq!(results.len(), 1000);
    assert!(results.iter().all(|r| r.outcome.class() == "delivered"));
    let received = h.get(&format!("/sim/wecom/corps/{CORPID}/received")).await;
    let mut sizes: Vec<usize> = received["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["body"]["touser"].as_str().unwrap().split('|').count())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 999]);
    assert_eq!(counters(&h).await["delivered"], 1000);
}

#[tokio::test]
async fn members_over_their_limit_wait_instead_of_being_dropped() {
    let h = harness().await;
    let channel = WecomAppChannel::new(h.deps());
    let batch: Vec<_> = (0..31)
        .map(|i| text("zhaoliu", &format!("alert {i}")))
        .collect();
    let results = channel.send(&app_account(), &batch).await;
    let delivered = results
        .iter()
        .filter(|r| r.outcome.class() == "delivered")
        .count();
    assert_eq!(delivered, 30);
    let Outcome::Retryable {
        code,
        retry_after_ms: Some(wait),
        ..
    } = &results[30].outcome
    else {
        panic!("the 31st waits: {:?}", results[30].outcome);
    };
    assert_eq!(code, "member_rate_limited");
    assert!((55_000..=61_000).contains(wait), "{wait}");
    let counters = counters(&h).await;
    assert_eq!(counters["delivered"], 30);
    assert_eq!(
        counters["dropped"], 0,
        "Herald never makes WeCom drop a message"
    );

    // The account may lower the limits; other members are unaffected.
    let lowered = account(
        ChannelKind::WecomApp,
        json!({ "corpid": CORPID, "agentid": AGENTID, "endpoint": "/sim/wecom", "per_member_per_minute": 1 }),
        json!({ "corpsecret": SECRET }),
    );
    let results = channel
        .send(
            &lowered,
            &[text("qianqi", "a"), text("qianqi", "b"), text("sunba", "c")],
        )
        .await;
    let classes: Vec<_> = results.iter().map(|r| r.outcome.class()).collect();
    assert_eq!(classes, ["delivered", "retryable", "delivered"]);
}

#[tokio::test]
async fn the_simulator_silently_drops_what_a_careless_client_sends() {
    let h = harness().await;
    h.put(
        &format!("/sim/wecom/corps/{CORPID}"),
        json!({ "per_member_per_minute": 2 }),
    )
    .await;
    let token = h
        .get(&format!(
            "/sim/wecom/cgi-bin/gettoken?corpid={CORPID}&corpsecret={SECRET}"
        ))
        .await;
    let url = format!(
        "/sim/wecom/cgi-bin/message/send?access_token={}",
        token["access_token"].as_str().unwrap()
    );
    for i in 0..3 {
        let body = json!({ "touser": "zhouji", "msgtype": "text", "agentid": AGENTID, "text": { "content": format!("n{i}") } });
        let reply = h.post_json(&url, body).await;
        assert_eq!(reply["errcode"], 0, "answered ok like WeCom: {reply}");
    }
    let seen = counters(&h).await;
    assert_eq!(
        (seen["delivered"].as_u64(), seen["dropped"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(seen["dropped_by_member"]["zhouji"], 1);

    // The duplicate check skips the same content to the same member.
    let same = json!({ "touser": "wuyi", "msgtype": "text", "agentid": AGENTID, "text": { "content": "same" },
                       "enable_duplicate_check": 1 });
    h.post_json(&url, same.clone()).await;
    h.post_json(&url, same).await;
    assert_eq!(counters(&h).await["duplicates"], 1);
}

#[tokio::test]
async fn a_revoked_token_expires_refreshes_and_resends_and_workers_share_one_fetch() {
    let h = harness().await;
    let channel = Arc::new(WecomAppChannel::new(h.deps()));
    let account = Arc::new(app_account());
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (channel, account) = (channel.clone(), account.clone());
            tokio::spawn(async move {
                send_one(&*channel, &account, &text(&format!("u{i}"), "hi")).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().outcome.class(), "delivered");
    }
    assert_eq!(
        h.get(&format!("/sim/wecom/corps/{CORPID}")).await["tokens_issued"],
        1
    );

    let revoke = h
        .http
        .post(h.url(&format!("/sim/wecom/corps/{CORPID}/revoke-tokens")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    let expired = send_one(&*channel, &account, &text("u1", "again")).await;
    assert_eq!(expired.outcome.code(), Some("wecom_40014"));
    assert_eq!(expired.outcome.class(), "token_expired");
    channel.refresh_token(&account).await;
    assert_eq!(
        send_one(&*channel, &account, &text("u1", "again"))
            .await
            .outcome
            .class(),
        "delivered"
    );
    assert_eq!(
        h.get(&format!("/sim/wecom/corps/{CORPID}")).await["tokens_issued"],
        2
    );
}

#[tokio::test]
async fn busy_frequency_agentid_and_ip_errors_are_classified() {
    let h = harness().await;
    let channel = WecomAppChannel::new(h.deps());
    h.put(
        &format!("/sim/accounts/{CORPID}"),
        json!({ "secret": SECRET, "fail_first": 1, "permanent_first": 1 }),
    )
    .await;
    let busy = send_one(&channel, &app_account(), &text("a1", "x")).await;
    assert_eq!(
        (busy.outcome.class(), busy.outcome.code()),
        ("retryable", Some("wecom_-1"))
    );
    let ip = send_one(&channel, &app_account(), &text("a2", "x")).await;
    assert_eq!(
        (ip.outcome.class(), ip.outcome.code()),
        ("permanent", Some("wecom_60020"))
    );

    h.put(
        &format!("/sim/accounts/{CORPID}"),
        json!({ "secret": SECRET, "rate_limit_per_sec": 1 }),
    )
    .await;
    let results = channel
        .send(
            &app_account(),
            &[text("b1", "1"), text("b2", "2"), text("b3", "3")],
        )
        .await;
    assert!(
        results
            .iter()
            .any(|r| r.outcome.code() == Some("wecom_45009")),
        "{results:?}"
    );

    h.put(
        &format!("/sim/accounts/{CORPID}"),
        json!({ "secret": SECRET }),
    )
    .await;
    let wrong_agent = account(
        ChannelKind::WecomApp,
        json!({ "corpid": CORPID, "agentid": "1000099", "endpoint": "/sim/wecom" }),
        json!({ "corpsecret": SECRET }),
    );
    assert_eq!(
        send_one(&channel, &wrong_agent, &text("c1", "x"))
            .await
            .outcome
            .code(),
        Some("wecom_40056")
    );
    let wrong_secret = account(
        ChannelKind::WecomApp,
        json!({ "corpid": CORPID, "agentid": AGENTID, "endpoint": "/sim/wecom" }),
        json!({ "corpsecret": "nope" }),
    );
    // Tokens are cached per application, so a wrong secret shows on an empty cache.
    let fresh = WecomAppChannel::new(h.deps());
    assert_eq!(
        send_one(&fresh, &wrong_secret, &text("c1", "x"))
            .await
            .outcome
            .code(),
        Some("wecom_40001")
    );
    let bad_card = message("c1", None, "x", &[("msgtype", "textcard")]);
    assert_eq!(
        send_one(&channel, &app_account(), &bad_card)
            .await
            .outcome
            .code(),
        Some("content_invalid")
    );
}

/// Raw calls a well-behaved client never makes, answered with WeCom's errcodes.
#[tokio::test]
async fn the_simulator_refuses_bad_credentials_tokens_and_requests() {
    let h = harness().await;
    let code = |v: Value| v["errcode"].as_i64().unwrap_or(0);
    assert_eq!(
        code(
            h.get(&format!(
                "/sim/wecom/cgi-bin/gettoken?corpid={CORPID}&corpsecret=bad"
            ))
            .await
        ),
        40001
    );
    assert_eq!(
        code(
            h.get(&format!(
                "/sim/wecom/cgi-bin/gettoken?corpid=wwnobody&corpsecret={SECRET}"
            ))
            .await
        ),
        40013
    );
    let body =
        json!({ "touser": "a", "msgtype": "text", "agentid": AGENTID, "text": { "content": "x" } });
    assert_eq!(
        code(
            h.post_json("/sim/wecom/cgi-bin/message/send", body.clone())
                .await
        ),
        41001
    );
    assert_eq!(
        code(
            h.post_json(
                "/sim/wecom/cgi-bin/message/send?access_token=forged",
                body.clone()
            )
            .await
        ),
        40014
    );

    h.put(
        &format!("/sim/wecom/corps/{CORPID}"),
        json!({ "token_ttl_secs": 1 }),
    )
    .await;
    let token = h
        .get(&format!(
            "/sim/wecom/cgi-bin/gettoken?corpid={CORPID}&corpsecret={SECRET}"
        ))
        .await;
    let again = h
        .get(&format!(
            "/sim/wecom/cgi-bin/gettoken?corpid={CORPID}&corpsecret={SECRET}"
        ))
        .await;
    assert_eq!(
        token["access_token"], again["access_token"],
        "the same token until it expires"
    );
    let url = format!(
        "/sim/wecom/cgi-bin/message/send?access_token={}",
        token["access_token"].as_str().unwrap()
    );
    let mut wrong_type = body.clone();
    wrong_type["msgtype"] = json!("voice");
    assert_eq!(code(h.post_json(&url, wrong_type).await), 40008);
    let mut empty = body.clone();
    empty["text"]["content"] = json!(" ");
    assert_eq!(code(h.post_json(&url, empty).await), 44004);
    let mut crowd = body.clone();
    crowd["touser"] = json!(
        (0..1001)
            .map(|i| format!("m{i}"))
            .collect::<Vec<_>>()
            .join("|")
    );
    assert_eq!(code(h.post_json(&url, crowd).await), 40031);
    assert_eq!(code(h.post_json(&url, body.clone()).await), 0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(code(h.post_json(&url, body).await), 42001);
}
