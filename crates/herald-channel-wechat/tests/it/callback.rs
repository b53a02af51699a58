//! Herald's WeChat callback endpoint: the console's URL check, plain and safe-mode receipts,
//! and what it refuses; plus the simulator pushing safe-mode events end to end.

use crate::support::{Harness, account, message, send_one, start, unix_now};
use herald_channel_wechat::WechatOaChannel;
use herald_channel_wechat::wechat_oa::signing::{AesKey, signature};
use herald_domain::ChannelKind;
use herald_ports::AccountContext;
use serde_json::json;

const APPID: &str = "wx00000000000000cb";
const SECRET: &str = "cb-secret";
const TOKEN: &str = "console-token";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn callback_account() -> AccountContext {
    account(
        ChannelKind::WechatOa,
        json!({ "appid": APPID, "endpoint": "/sim/wechat", "callback_token": TOKEN }),
        json!({ "app_secret": SECRET, "encoding_aes_key": AES_KEY }),
    )
}

fn path(account: &AccountContext) -> String {
    format!(
        "/callbacks/wechat/{}/{}",
        account.account.app_id, account.account.id
    )
}

fn event_xml(msgid: u64, status: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser_9]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>\
         <Status><![CDATA[{status}]]></Status></xml>"
    )
}

/// `signature`, `timestamp`, `nonce` for `token` now (or at `timestamp`).
fn signed_query(token: &str, timestamp: i64, nonce: &str) -> Vec<(&'static str, String)> {
    let ts = timestamp.to_string();
    vec![
        ("signature", signature(&[token, &ts, nonce])),
        ("timestamp", ts),
        ("nonce", nonce.to_owned()),
    ]
}

async fn post(h: &Harness, path: &str, query: &[(&str, String)], body: String) -> (u16, String) {
    let response = h
        .http
        .post(h.url(path))
        .query(query)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_url_check_echoes_only_for_a_valid_signature() {
    let h = start(&[]).await;
    let account = callback_account();
    h.register(&account);
    let mut query = signed_query(TOKEN, unix_now(), "n1");
    query.push(("echostr", "4242".into()));
    let response = h
        .http
        .get(h.url(&path(&account)))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "4242");

    let mut forged = signed_query("other-token", unix_now(), "n1");
    forged.push(("echostr", "4242".into()));
    let response = h
        .http
        .get(h.url(&path(&account)))
        .query(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let mut stale = signed_query(TOKEN, unix_now() - 3600, "n1");
    stale.push(("echostr", "4242".into()));
    let response = h
        .http
        .get(h.url(&path(&account)))
        .query(&stale)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let unknown = format!(
        "/callbacks/wechat/{}/{}",
        account.account.app_id,
        herald_domain::AccountId::generate()
    );
    let response = h
        .http
        .get(h.url(&unknown))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn plain_and_safe_mode_events_become_receipts() {
    let h = start(&[]).await;
    let account = callback_account();
    h.register(&account);
    let query = signed_query(TOKEN, unix_now(), "n2");
    let (status, body) = post(&h, &path(&account), &query, event_xml(1001, "success")).await;
    assert_eq!((status, body.as_str()), (200, "success"));

    let key = AesKey::from_encoding_key(AES_KEY).unwrap();
    let encrypted = key.encrypt(&event_xml(1002, "failed:user block"), APPID, [3; 16]);
    let now = unix_now();
    let ts = now.to_string();
    let mut safe = signed_query(TOKEN, now, "n3");
    safe.push(("encrypt_type", "aes".into()));
    safe.push(("msg_signature", signature(&[TOKEN, &ts, "n3", &encrypted])));
    let wrapper = format!(
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    );
    let (status, _) = post(&h, &path(&account), &safe, wrapper.clone()).await;
    assert_eq!(status, 200);

    let receipts = h.receipts(2).await;
    assert_eq!(receipts[0].provider_id.as_deref(), Some("1001"));
    assert!(receipts[0].delivered);
    assert_eq!(receipts[0].at, 1_700_000_000_000);
    assert_eq!(receipts[1].provider_id.as_deref(), Some("1002"));
    assert!(!receipts[1].delivered);
    assert_eq!(receipts[1].code.as_deref(), Some("failed:user block"));

    // A wrong msg_signature, or an event encrypted for another appid, is refused.
    let mut bad = safe.clone();
    bad.last_mut().unwrap().1 = signature(&[TOKEN, &ts, "n3", "other"]);
    assert_eq!(post(&h, &path(&account), &bad, wrapper).await.0, 401);
    let foreign = key.encrypt(&event_xml(1003, "success"), "wxsomeoneelse", [3; 16]);
    let mut foreign_query = safe.clone();
    foreign_query.last_mut().unwrap().1 = signature(&[TOKEN, &ts, "n3", &foreign]);
    let foreign_body = format!("<xml><Encrypt><![CDATA[{foreign}]]></Encrypt></xml>");
    assert_eq!(
        post(&h, &path(&account), &foreign_query, foreign_body)
            .await
            .0,
        401
    );
    // Wrong plain signature; not XML.
    let forged = signed_query("nope", unix_now(), "n4");
    assert_eq!(
        post(&h, &path(&account), &forged, event_xml(1004, "success"))
            .await
            .0,
        401
    );
    assert_eq!(post(&h, &path(&account), &query, "{}".into()).await.0, 400);
    // Other events are acknowledged and ignored.
    let subscribe =
        "<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>";
    assert_eq!(
        post(&h, &path(&account), &query, subscribe.into()).await,
        (200, "success".into())
    );
    assert_eq!(h.sink.receipts.lock().len(), 2);
}

#[tokio::test]
async fn the_simulator_pushes_safe_mode_receipts_to_herald() {
    let h = start(&[(APPID, SECRET)]).await;
    let account = callback_account();
    h.register(&account);
    h.put(
        &format!("/sim/wechat/apps/{APPID}"),
        json!({ "receipt_delay_ms": 0, "callback": {
            "url": h.url(&path(&account)), "token": TOKEN, "mode": "safe", "encoding_aes_key": AES_KEY,
        }}),
    )
    .await;
    let channel = WechatOaChannel::new(h.deps());
    let fields = [("template_id", "T1"), ("data.a", "1")];
    let blocked = send_one(
        &channel,
        &account,
        &message("block_user", None, "", &fields),
    )
    .await;
    let failed = send_one(
        &channel,
        &account,
        &message("sysfail_user", None, "", &fields),
    )
    .await;
    let mut receipts = h.receipts(2).await;
    receipts.sort_by_key(|r| r.receiver.clone());
    assert_eq!(receipts[0].provider_id, blocked.provider_request_id);
    assert_eq!(receipts[0].code.as_deref(), Some("failed:user block"));
    assert_eq!(receipts[1].provider_id, failed.provider_request_id);
    assert_eq!(receipts[1].code.as_deref(), Some("failed: system failed"));
    assert!(receipts.iter().all(|r| !r.delivered));
    let counters = &h.get(&format!("/sim/wechat/apps/{APPID}")).await["counters"];
    assert_eq!(counters["receipts_pushed"], 2);
}
