//! The WeChat simulator's refusals: raw calls a well-behaved client never makes, answered
//! with WeChat's errcodes (bad credentials, missing/forged/replaced/expired tokens, excess).

use crate::support::start;
use serde_json::{Value, json};

const APPID: &str = "wx0000000000000001";
const SECRET: &str = "app-secret-1";

/// Raw calls a well-behaved client never makes, answered with WeChat's errcodes.
#[tokio::test]
async fn the_simulator_refuses_bad_credentials_tokens_and_excess() {
    let h = start(&[(APPID, SECRET)]).await;
    let token = |appid: &str, secret: &str| json!({ "grant_type": "client_credential", "appid": appid, "secret": secret });
    let errcode = |v: &Value| v["errcode"].as_i64().unwrap_or(0);
    assert_eq!(
        errcode(
            &h.post_json("/sim/wechat/cgi-bin/stable_token", token(APPID, "wrong"))
                .await
        ),
        40125
    );
    assert_eq!(
        errcode(
            &h.post_json(
                "/sim/wechat/cgi-bin/stable_token",
                token("wxnobody", SECRET)
            )
            .await
        ),
        40013
    );
    let bad_grant = json!({ "grant_type": "password", "appid": APPID, "secret": SECRET });
    assert_eq!(
        errcode(
            &h.post_json("/sim/wechat/cgi-bin/stable_token", bad_grant)
                .await
        ),
        40002
    );
    let plain = h
        .get(&format!(
            "/sim/wechat/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret=wrong"
        ))
        .await;
    assert_eq!(errcode(&plain), 40125);

    let send =
        |token: &str| format!("/sim/wechat/cgi-bin/message/template/send?access_token={token}");
    let body =
        json!({ "touser": "oUser_1", "template_id": "T", "data": { "a": { "value": "1" } } });
    assert_eq!(
        errcode(
            &h.post_json("/sim/wechat/cgi-bin/message/template/send", body.clone())
                .await
        ),
        41001
    );
    assert_eq!(
        errcode(&h.post_json(&send("garbage"), body.clone()).await),
        40014
    );
    let forged = format!("simtok_{}", "0".repeat(48));
    assert_eq!(
        errcode(&h.post_json(&send(&forged), body.clone()).await),
        40001
    );

    // /cgi-bin/token replaces its token on every call (after the overlap, 0 here).
    h.put(
        &format!("/sim/wechat/apps/{APPID}"),
        json!({ "token_overlap_secs": 0, "token_ttl_secs": 1 }),
    )
    .await;
    let url = format!(
        "/sim/wechat/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
    );
    let first = h.get(&url).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = h.get(&url).await;
    assert_eq!(second["expires_in"], 1);
    let second = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        errcode(&h.post_json(&send(&first), body.clone()).await),
        40001
    );
    assert_eq!(errcode(&h.post_json(&send(&second), body.clone()).await), 0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        errcode(&h.post_json(&send(&second), body.clone()).await),
        42001
    );

    h.put(&format!("/sim/wechat/apps/{APPID}"), json!({})).await;
    h.put(
        &format!("/sim/accounts/{APPID}"),
        json!({ "secret": SECRET, "rate_limit_per_sec": 2 }),
    )
    .await;
    let fresh = h.get(&url).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(errcode(&h.post_json(&send(&fresh), body.clone()).await));
    }
    assert!(codes.contains(&45011), "{codes:?}");
    assert!(h.stats(APPID).await["throttled"].as_u64().unwrap() >= 1);
}
