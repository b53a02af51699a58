//! Authentication and tenancy: missing and wrong keys, the admin key's reach, and one app
//! never seeing another's messages.

use crate::harness::{ADMIN, spawn_app};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_scope_every_route() {
    let app = spawn_app().await;
    let send = json!({"template": "welcome", "receivers": ["u1"], "variables": {"name": "A"}});
    let (s, body) = app
        .request(Method::POST, "/v1/messages", None, Some(send.clone()), &[])
        .await;
    assert_eq!(
        (s, body["error"]["code"].clone()),
        (401, json!("unauthenticated")),
        "{body}"
    );
    let (s, _) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some("hk_wrong"),
            Some(send.clone()),
            &[],
        )
        .await;
    assert_eq!(s, 401);
    let (s, _) = app
        .request(
            Method::POST,
            "/v1/messages",
            None,
            Some(send.clone()),
            &[("authorization", "Basic abc")],
        )
        .await;
    assert_eq!(s, 401);
    // The admin key manages apps but cannot send.
    let (s, _) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(ADMIN),
            Some(send.clone()),
            &[],
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .request(
            Method::POST,
            "/v1/apps",
            Some(&app.key),
            Some(json!({"name": "x"})),
            &[],
        )
        .await;
    assert_eq!(s, 403, "an app key cannot create apps");

    // A second app with its own key.
    let (s, other) = app
        .request(
            Method::POST,
            "/v1/apps",
            Some(ADMIN),
            Some(json!({"name": "other"})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{other}");
    let other_id = other["id"].as_str().unwrap();
    let (s, key) = app
        .request(
            Method::POST,
            &format!("/v1/apps/{other_id}/keys"),
            Some(ADMIN),
            Some(json!({"name": "k"})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let other_key = key["key"].as_str().unwrap().to_owned();

    let (s, sent) = app.post("/v1/messages", send.clone()).await;
    assert_eq!(s, 202);
    let id = sent["id"].as_str().unwrap();
    let (s, body) = app
        .request(
            Method::GET,
            &format!("/v1/messages/{id}"),
            Some(&other_key),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404, "another app's message is invisible: {body}");
    let (s, _) = app
        .request(
            Method::DELETE,
            &format!("/v1/messages/{id}"),
            Some(&other_key),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404);
    let (_, page) = app
        .request(Method::GET, "/v1/messages", Some(&other_key), None, &[])
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
    // Its templates are its own: the demo template does not exist for it.
    let (s, _) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(&other_key),
            Some(send),
            &[],
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .request(
            Method::GET,
            &format!("/v1/apps/{}/keys", app.server.demo.as_ref().unwrap().app_id),
            Some(&other_key),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404, "an app key cannot see another app's keys");

    // Revoked keys stop working.
    let key_id = key["id"].as_str().unwrap();
    let (s, _) = app
        .request(
            Method::DELETE,
            &format!("/v1/apps/{other_id}/keys/{key_id}"),
            Some(ADMIN),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .request(Method::GET, "/v1/templates", Some(&other_key), None, &[])
        .await;
    assert_eq!(s, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_secrets_are_write_only() {
    let app = spawn_app().await;
    let (s, acc) = app
        .post("/v1/accounts", json!({"name": "signed", "channel": "webhook", "config": {"url": "/sim/webhook/signed"}, "secret": {"signing_secret": "topsecret-value"}}))
        .await;
    assert_eq!(s, 201, "{acc}");
    assert_eq!(acc["has_secret"], true);
    assert!(!acc.to_string().contains("topsecret-value"));
    let (_, got) = app
        .get(&format!("/v1/accounts/{}", acc["id"].as_str().unwrap()))
        .await;
    assert!(!got.to_string().contains("topsecret-value"), "{got}");
    let (_, list) = app.get("/v1/accounts").await;
    assert!(!list.to_string().contains("topsecret-value"));
    for file in ["herald.db", "herald.db-wal"] {
        let bytes = std::fs::read(app.data_dir().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(15).any(|w| w == b"topsecret-value"),
            "the secret is encrypted at rest ({file})"
        );
    }
}
