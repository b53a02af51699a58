//! The WeChat Official Account channel against its simulator: success, the error classes,
//! token sharing and refresh, receipts; plus the simulator's negative answers.

use crate::support::{Harness, account, message, send_one, start};
use herald_channel_wechat::WechatOaChannel;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, Channel};
use serde_json::{Value, json};
use std::sync::Arc;

const APPID: &str = "wx0000000000000001";
const SECRET: &str = "app-secret-1";

fn oa_account(extra: Value) -> AccountContext {
    let mut config =
        json!({ "appid": APPID, "endpoint": "/sim/wechat", "callback_token": "cbtoken" });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    account(
        ChannelKind::WechatOa,
        config,
        json!({ "app_secret": SECRET }),
    )
}

fn template(to: &str) -> herald_ports::OutboundMessage {
    message(
        to,
        None,
        "",
        &[
            ("template_id", "TPL_ORDER"),
            ("data.order", "42"),
            ("url", "https://shop.example/o/42"),
        ],
    )
}

async fn harness() -> Harness {
    start(&[(APPID, SECRET)]).await
}

#[tokio::test]
async fn a_template_message_is_sent_and_its_receipt_arrives() {
    let h = harness().await;
    let account = oa_account(json!({}));
    h.register(&account);
    let callback = format!(
        "{}/callbacks/wechat/{}/{}",
        h.base, account.account.app_id, account.account.id
    );
    h.put(
        &format!("/sim/wechat/apps/{APPID}"),
        json!({ "callback": { "url": callback, "token": "cbtoken" }, "receipt_delay_ms": 0 }),
    )
    .await;
    let channel = WechatOaChannel::new(h.deps());
    let msg = template("oUser_1");
    let result = send_one(&channel, &account, &msg).await;
    let Outcome::Sent {
        provider_id: Some(msgid),
    } = &result.outcome
    else {
        panic!("expected sent, got {:?}", result.outcome);
    };
    assert_eq!(result.provider_request_id.as_ref(), Some(msgid));

    let received = h.get(&format!("/sim/wechat/apps/{APPID}/received")).await;
    let body = &received["items"][0]["body"];
    assert_eq!(body["touser"], "oUser_1");
    assert_eq!(body["client_msg_id"], msg.delivery_id.as_str());
    assert_eq!(body["data"], json!({ "order": { "value": "42" } }));

    let receipts = h.receipts(1).await;
    assert_eq!(receipts[0].provider_id.as_ref(), Some(msgid));
    assert!(receipts[0].delivered);
    assert_eq!(receipts[0].code.as_deref(), Some("success"));
    assert_eq!(receipts[0].receiver.as_deref(), Some("oUser_1"));
    assert_eq!(receipts[0].channel, ChannelKind::WechatOa);
}

#[tokio::test]
async fn subscribe_messages_are_delivered_and_resends_are_deduplicated() {
    let h = harness().await;
    let channel = WechatOaChannel::new(h.deps());
    let account = oa_account(json!({}));
    let sub = message(
        "oUser_2",
        None,
        "",
        &[
            ("kind", "subscribe"),
            ("template_id", "SUB"),
            ("data.thing1", "Parcel"),
        ],
    );
    let result = send_one(&channel, &account, &sub).await;
    assert_eq!(result.outcome.class(), "delivered", "{:?}", result.outcome);

    // A redelivered task carries the same delivery id: WeChat answers with the first msgid.
    let msg = template("oUser_3");
    let first = send_one(&channel, &account, &msg).await;
    let again = send_one(&channel, &account, &msg).await;
    assert_eq!(first.outcome, again.outcome);
    let stats = h.stats(APPID).await;
    assert_eq!(stats["unique"], 2);
    assert_eq!(stats["duplicates"], 1);
}

#[tokio::test]
async fn busy_frequency_and_quota_are_retryable() {
    let h = harness().await;
    let channel = WechatOaChannel::new(h.deps());
    let account = oa_account(json!({}));
    h.put(
        &format!("/sim/accounts/{APPID}"),
        json!({ "secret": SECRET, "fail_first": 1 }),
    )
    .await;
    let busy = send_one(&channel, &account, &template("oUser_1")).await;
    assert_eq!(busy.outcome.code(), Some("wechat_-1"));
    assert_eq!(busy.outcome.class(), "retryable");

    h.put(
        &format!("/sim/wechat/apps/{APPID}"),
        json!({ "daily_quota": 1 }),
    )
    .await;
    assert_eq!(
        send_one(&channel, &account, &template("oUser_1"))
            .await
            .outcome
            .class(),
        "sent"
    );
    let quota = send_one(&channel, &account, &template("oUser_1")).await;
    let Outcome::Retryable {
        code,
        retry_after_ms: Some(wait),
        ..
    } = &quota.outcome
    else {
        panic!("expected retryable, got {:?}", quota.outcome);
    };
    assert_eq!(code, "wechat_45009");
    assert!(
        *wait > 0 && *wait <= 86_400_000,
        "until China midnight: {wait}"
    );

    h.put(&format!("/sim/wechat/apps/{APPID}"), json!({})).await;
    h.put(
        &format!("/sim/accounts/{APPID}"),
        json!({ "secret": SECRET, "rate_limit_per_sec": 1 }),
    )
    .await;
    let results = channel
        .send(
            &account,
            &[
                template("oUser_a"),
                template("oUser_b"),
                template("oUser_c"),
            ],
        )
        .await;
    let limited: Vec<_> = results
        .iter()
        .filter(|r| r.outcome.code() == Some("wechat_45011"))
        .collect();
    assert!(!limited.is_empty(), "{results:?}");
    assert!(matches!(
        limited[0].outcome,
        Outcome::Retryable {
            retry_after_ms: Some(60_000),
            ..
        }
    ));
}

#[tokio::test]
async fn refused_receivers_templates_and_credentials_are_permanent() {
    let h = harness().await;
    h.put(
        &format!("/sim/wechat/apps/{APPID}"),
        json!({ "templates": { "TPL_ORDER": ["order"] } }),
    )
    .await;
    let channel = WechatOaChannel::new(h.deps());
    let account = oa_account(json!({}));
    let cases = [
        (template("unfollowed_1"), "wechat_43004"),
        (template("bad openid!"), "wechat_40003"),
        (
            message(
                "oUser_1",
                None,
                "",
                &[("template_id", "OTHER"), ("data.x", "1")],
            ),
            "wechat_40037",
        ),
        (
            message(
                "oUser_1",
                None,
                "",
                &[("template_id", "TPL_ORDER"), ("data.x", "1")],
            ),
            "wechat_47003",
        ),
        (
            message("oUser_1", None, "", &[("template_id", "TPL_ORDER")]),
            "content_invalid",
        ),
    ];
    for (msg, code) in cases {
        let result = send_one(&channel, &account, &msg).await;
        assert_eq!(
            result.outcome.class(),
            "permanent",
            "{code}: {:?}",
            result.outcome
        );
        assert_eq!(result.outcome.code(), Some(code));
    }
    // Tokens are cached per appid, so a wrong secret shows on an empty cache.
    let channel = WechatOaChannel::new(h.deps());
    let wrong_secret = account_with_secret("nope");
    let result = send_one(&channel, &wrong_secret, &template("oUser_1")).await;
    assert_eq!(result.outcome.code(), Some("wechat_40125"));
    let unknown = crate::support::account(
        ChannelKind::WechatOa,
        json!({ "appid": "wxunknown", "endpoint": "/sim/wechat" }),
        json!({ "app_secret": "x" }),
    );
    assert_eq!(
        send_one(&channel, &unknown, &template("oUser_1"))
            .await
            .outcome
            .code(),
        Some("wechat_40013")
    );
    let no_secret =
        crate::support::account(ChannelKind::WechatOa, json!({ "appid": APPID }), json!({}));
    assert_eq!(
        send_one(&channel, &no_secret, &template("oUser_1"))
            .await
            .outcome
            .code(),
        Some("config_invalid")
    );
}

fn account_with_secret(secret: &str) -> AccountContext {
    account(
        ChannelKind::WechatOa,
        json!({ "appid": APPID, "endpoint": "/sim/wechat" }),
        json!({ "app_secret": secret }),
    )
}

#[tokio::test]
async fn a_token_revoked_elsewhere_expires_refreshes_and_resends() {
    let h = harness().await;
    let channel = WechatOaChannel::new(h.deps());
    let account = oa_account(json!({}));
    assert_eq!(
        send_one(&channel, &account, &template("oUser_1"))
            .await
            .outcome
            .class(),
        "sent"
    );

    // Another system force-refreshes the stable token: ours stops working at once.
    let forced = h
        .post_json(
            "/sim/wechat/cgi-bin/stable_token",
            json!({ "grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": true }),
        )
        .await;
    assert!(forced["access_token"].is_string());
    let expired = send_one(&channel, &account, &template("oUser_1")).await;
    assert_eq!(
        expired.outcome,
        Outcome::TokenExpired {
            code: "wechat_40001".into(),
            message: "errcode 40001: invalid credential, access_token is invalid or not latest"
                .into(),
        }
    );
    // What the dispatcher does: refresh, then resend once.
    channel.refresh_token(&account).await;
    assert_eq!(
        send_one(&channel, &account, &template("oUser_1"))
            .await
            .outcome
            .class(),
        "sent"
    );

    // Revoked by the operator: refresh fetches a new one too.
    let revoke = h
        .http
        .post(h.url(&format!("/sim/wechat/apps/{APPID}/revoke-tokens")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_eq!(
        send_one(&channel, &account, &template("oUser_1"))
            .await
            .outcome
            .class(),
        "token_expired"
    );
    channel.refresh_token(&account).await;
    assert_eq!(
        send_one(&channel, &account, &template("oUser_1"))
            .await
            .outcome
            .class(),
        "sent"
    );
    assert_eq!(
        h.get(&format!("/sim/wechat/apps/{APPID}")).await["tokens_issued"],
        3
    );
}

#[tokio::test]
async fn twenty_concurrent_sends_on_an_empty_cache_fetch_one_token() {
    let h = harness().await;
    let channel = Arc::new(WechatOaChannel::new(h.deps()));
    let account = Arc::new(oa_account(json!({})));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (channel, account) = (channel.clone(), account.clone());
            tokio::spawn(async move {
                send_one(&*channel, &account, &template(&format!("oUser_{i}"))).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().outcome.class(), "sent");
    }
    assert_eq!(
        h.get(&format!("/sim/wechat/apps/{APPID}")).await["tokens_issued"],
        1
    );
}

#[tokio::test]
async fn a_timeout_is_unknown() {
    let h = harness().await;
    h.put(
        &format!("/sim/accounts/{APPID}"),
        json!({ "secret": SECRET, "timeout_first": 1, "timeout_sleep_ms": 1500 }),
    )
    .await;
    let channel = WechatOaChannel::new(h.deps());
    let account = oa_account(json!({ "timeout_ms": 300 }));
    let result = send_one(&channel, &account, &template("oUser_1")).await;
    assert_eq!(result.outcome.class(), "unknown", "{:?}", result.outcome);
    assert_eq!(result.outcome.code(), Some("timeout"));
}
