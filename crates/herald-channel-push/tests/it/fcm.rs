//! FCM: the real client against the simulator, and the simulator's own checks.

use crate::support::{
    Sim, account, message, other_rsa_keys, rsa_keys, send_like_dispatcher, send_one, unix_now,
};
use herald_channel_push::fcm::oauth::{self, GRANT_TYPE, ServiceAccount};
use herald_domain::{AccountId, ChannelKind, Outcome};
use herald_ports::{AccountContext, CachedToken};
use serde_json::json;

const PROJECT: &str = "demo-proj";
const EMAIL: &str = "herald@demo-proj.iam.gserviceaccount.com";
const DEVICE: &str = "fcm-device-token:APA91bHun4MxP5egoKMwt2KZFBaFUH";

fn service_account_json() -> serde_json::Value {
    json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test-key-1",
        "private_key": rsa_keys().private_pem,
        "client_email": EMAIL,
        "token_uri": "/sim/fcm/token",
    })
}

fn fcm_account(config: serde_json::Value) -> AccountContext {
    account(ChannelKind::Fcm, config, Some(service_account_json()))
}

async fn sim_with_project(extra: serde_json::Value) -> Sim {
    let sim = Sim::start().await;
    let mut config = json!({ "secret": rsa_keys().public_pem });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    sim.put_account(PROJECT, config).await;
    sim
}

#[tokio::test]
async fn sends_with_a_cached_oauth_token() {
    let sim = sim_with_project(json!({})).await;
    let channel = sim.channel(ChannelKind::Fcm);
    let acct = fcm_account(json!({ "endpoint": "/sim/fcm" }));
    let first = send_one(&*channel, &acct, &message(DEVICE)).await;
    let Outcome::Delivered {
        provider_id: Some(name),
    } = &first.outcome
    else {
        panic!("{:?}", first.outcome);
    };
    assert!(name.starts_with("projects/demo-proj/messages/0:"), "{name}");
    assert_eq!(first.provider_request_id.as_deref(), Some(name.as_str()));
    let cached = sim
        .deps
        .tokens
        .get(&format!("fcm:{EMAIL}"))
        .await
        .expect("token cached");
    assert!(cached.value.starts_with("ya29.sim-"));

    let second = send_one(&*channel, &acct, &message(DEVICE)).await;
    assert_eq!(second.outcome.class(), "delivered");
    let again = sim.deps.tokens.get(&format!("fcm:{EMAIL}")).await.unwrap();
    assert_eq!(again.value, cached.value, "the token was reused");

    let received = sim.received("fcm", PROJECT).await;
    assert_eq!(received.len(), 2);
    let sent = &received[0]["body"]["message"];
    assert_eq!(sent["token"], DEVICE);
    assert_eq!(
        sent["notification"],
        json!({ "title": "Order shipped", "body": "Your order 42 is on its way" })
    );
    assert_eq!(sent["data"], json!({ "order": "42" }));
    assert_eq!(sim.stats(PROJECT).await["unique"], 2);
}

#[tokio::test]
async fn a_rejected_token_is_dropped_and_refreshed() {
    let sim = sim_with_project(json!({})).await;
    let channel = sim.channel(ChannelKind::Fcm);
    let acct = fcm_account(json!({ "endpoint": "/sim/fcm" }));
    // A token the simulator never issued sits in the cache.
    let bogus = CachedToken {
        value: "ya29.bogus".into(),
        expires_at: herald_domain::time::now_ms() + 3_600_000,
    };
    sim.deps.tokens.put(&format!("fcm:{EMAIL}"), bogus).await;
    let (first, second) = send_like_dispatcher(&*channel, &acct, &message(DEVICE)).await;
    assert_eq!(
        (first.outcome.class(), first.outcome.code()),
        ("token_expired", Some("unauthenticated"))
    );
    assert_eq!(second.unwrap().outcome.class(), "delivered");

    // Tokens the provider expires are handled the same way.
    assert_eq!(sim.expire_tokens("fcm", PROJECT).await, 1);
    let (first, second) = send_like_dispatcher(&*channel, &acct, &message(DEVICE)).await;
    assert_eq!(first.outcome.class(), "token_expired");
    assert_eq!(second.unwrap().outcome.class(), "delivered");
}

#[tokio::test]
async fn unregistered_tokens_fail_fast_afterwards() {
    let sim = sim_with_project(json!({})).await;
    let channel = sim.channel(ChannelKind::Fcm);
    let acct = fcm_account(json!({ "endpoint": "/sim/fcm" }));
    sim.set_unregistered("fcm", PROJECT, &[DEVICE]).await;
    let first = send_one(&*channel, &acct, &message(DEVICE)).await;
    assert_eq!(
        (first.outcome.class(), first.outcome.code()),
        ("permanent", Some("unregistered"))
    );
    assert!(sim.dead.is_dead(ChannelKind::Fcm, &acct.account.id, DEVICE));
    assert!(
        !sim.dead
            .is_dead(ChannelKind::Fcm, &AccountId::generate(), DEVICE)
    );
    let calls = sim.stats(PROJECT).await["received"].clone();
    let second = send_one(&*channel, &acct, &message(DEVICE)).await;
    assert_eq!(second.outcome.code(), Some("unregistered"));
    assert_eq!(
        sim.stats(PROJECT).await["received"],
        calls,
        "no provider call"
    );
}

#[tokio::test]
async fn throttling_and_outages_are_retryable() {
    let sim =
        sim_with_project(json!({ "fail_first": 1, "fail_status": 503, "retry_after_secs": 2 }))
            .await;
    let channel = sim.channel(ChannelKind::Fcm);
    let acct = fcm_account(json!({ "endpoint": "/sim/fcm" }));
    let result = send_one(&*channel, &acct, &message(DEVICE)).await;
    assert_eq!(
        result.outcome,
        Outcome::Retryable {
            code: "unavailable".into(),
            message: result.outcome.message().unwrap().into(),
            retry_after_ms: Some(2000)
        }
    );
    sim.put_account(
        PROJECT,
        json!({ "secret": rsa_keys().public_pem, "fail_first": 1, "fail_status": 500 }),
    )
    .await;
    assert_eq!(
        send_one(&*channel, &acct, &message(DEVICE))
            .await
            .outcome
            .code(),
        Some("internal")
    );

    sim.put_account(
        PROJECT,
        json!({ "secret": rsa_keys().public_pem, "rate_limit_per_sec": 2 }),
    )
    .await;
    let mut throttled = 0;
    for _ in 0..6 {
        let r = send_one(&*channel, &acct, &message(DEVICE)).await;
        if let Outcome::Retryable {
            code,
            retry_after_ms,
            ..
        } = &r.outcome
        {
            assert_eq!(
                (code.as_str(), *retry_after_ms),
                ("quota_exceeded", Some(1000))
            );
            throttled += 1;
        }
    }
    assert!(throttled >= 2, "{throttled}");
    assert_eq!(sim.stats(PROJECT).await["throttled"], throttled);
}

#[tokio::test]
async fn bad_requests_and_bad_credentials_are_permanent() {
    let sim = sim_with_project(json!({ "permanent_first": 1 })).await;
    let channel = sim.channel(ChannelKind::Fcm);
    let acct = fcm_account(json!({ "endpoint": "/sim/fcm" }));
    let injected = send_one(&*channel, &acct, &message(DEVICE)).await;
    assert_eq!(injected.outcome.code(), Some("invalid_argument"));
    let malformed = send_one(&*channel, &acct, &message("not a token!")).await;
    assert_eq!(
        (malformed.outcome.class(), malformed.outcome.code()),
        ("permanent", Some("invalid_argument"))
    );

    // A simulator holding another service account's public key refuses the assertion.
    let fresh = Sim::start().await;
    fresh
        .put_account(PROJECT, json!({ "secret": other_rsa_keys().public_pem }))
        .await;
    let refused = send_one(&*fresh.channel(ChannelKind::Fcm), &acct, &message(DEVICE)).await;
    assert_eq!(
        (refused.outcome.class(), refused.outcome.code()),
        ("permanent", Some("credentials_rejected"))
    );
    assert!(
        refused
            .outcome
            .message()
            .unwrap()
            .contains("Invalid JWT Signature"),
        "{:?}",
        refused.outcome
    );

    let no_secret = account(ChannelKind::Fcm, json!({ "endpoint": "/sim/fcm" }), None);
    assert_eq!(
        send_one(&*channel, &no_secret, &message(DEVICE))
            .await
            .outcome
            .code(),
        Some("config_invalid")
    );
}

#[tokio::test]
async fn a_timeout_is_unknown() {
    let sim = sim_with_project(json!({ "timeout_first": 1, "timeout_sleep_ms": 1500 })).await;
    let channel = sim.channel(ChannelKind::Fcm);
    let warm = fcm_account(json!({ "endpoint": "/sim/fcm", "timeout_ms": 300 }));
    let result = send_one(&*channel, &warm, &message(DEVICE)).await;
    assert_eq!(
        (result.outcome.class(), result.outcome.code()),
        ("unknown", Some("timeout"))
    );
}

fn assertion_for(aud: &str, iat: i64) -> String {
    let sa: ServiceAccount = serde_json::from_value(service_account_json()).unwrap();
    oauth::assertion(&sa, aud, iat).unwrap()
}

async fn token_request(sim: &Sim, grant: &str, assertion: &str) -> (u16, serde_json::Value) {
    let body = format!(
        "grant_type={}&assertion={assertion}",
        grant.replace(':', "%3A")
    );
    let headers = [(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    let (status, _, json) = sim
        .post_raw("/sim/fcm/token", &headers, body.into_bytes())
        .await;
    (status, json)
}

#[tokio::test]
async fn the_token_endpoint_checks_grant_signature_audience_and_time() {
    let sim = sim_with_project(json!({})).await;
    let aud = format!("{}/sim/fcm/token", sim.base);
    let (status, body) = token_request(&sim, GRANT_TYPE, &assertion_for(&aud, unix_now())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);

    let (status, body) =
        token_request(&sim, "client_credentials", &assertion_for(&aud, unix_now())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let stale = assertion_for(&aud, unix_now() - 7200);
    let (status, body) = token_request(&sim, GRANT_TYPE, &stale).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("short-lived"),
        "{body}"
    );

    let wrong_aud = assertion_for("https://oauth2.googleapis.com/token", unix_now());
    let (_, body) = token_request(&sim, GRANT_TYPE, &wrong_aud).await;
    assert_eq!(
        body["error_description"],
        "Invalid JWT: Failed audience check."
    );

    // Same claims, signed with another key.
    let other = ServiceAccount {
        private_key: other_rsa_keys().private_pem.clone(),
        ..serde_json::from_value(service_account_json()).unwrap()
    };
    let forged = oauth::assertion(&other, &aud, unix_now()).unwrap();
    let (_, body) = token_request(&sim, GRANT_TYPE, &forged).await;
    assert_eq!(body["error_description"], "Invalid JWT Signature.");
    assert_eq!(sim.stats(PROJECT).await["rejected"], 3);
}

#[tokio::test]
async fn messages_send_needs_a_live_token_of_the_same_project() {
    let sim = sim_with_project(json!({})).await;
    let url = format!("/sim/fcm/v1/projects/{PROJECT}/messages:send");
    let body = serde_json::to_vec(
        &json!({ "message": { "token": DEVICE, "notification": { "body": "x" } } }),
    )
    .unwrap();
    let (status, _, answer) = sim.post_raw(&url, &[], body.clone()).await;
    assert_eq!(
        (status, answer["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );

    let aud = format!("{}/sim/fcm/token", sim.base);
    let (_, token) = token_request(&sim, GRANT_TYPE, &assertion_for(&aud, unix_now())).await;
    let bearer = [(
        "authorization",
        format!("Bearer {}", token["access_token"].as_str().unwrap()),
    )];
    let (status, _, _) = sim.post_raw(&url, &bearer, body.clone()).await;
    assert_eq!(status, 200);
    let (status, _, answer) = sim
        .post_raw(
            "/sim/fcm/v1/projects/other-proj/messages:send",
            &bearer,
            body,
        )
        .await;
    assert_eq!(
        (status, answer["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
}
