//! Idempotency-Key: replay returns the same response, a different body conflicts, and both
//! hold across a restart.

use crate::harness::{spawn_app, spawn_in};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_key_same_body_replays_and_different_body_conflicts_across_restarts() {
    let app = spawn_app().await;
    let body =
        json!({"template": "welcome", "receivers": ["u1", "u2"], "variables": {"name": "A"}});
    let key = [("idempotency-key", "order-42")];
    let (s1, first) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(s1, 202, "{first}");
    // Same body, keys in another order and other whitespace: the same request.
    let reordered =
        json!({"variables": {"name": "A"}, "receivers": ["u1", "u2"], "template": "welcome"});
    let (s2, second) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(reordered),
            &key,
        )
        .await;
    assert_eq!(
        (s2, &second),
        (202, &first),
        "a replay answers the stored response"
    );
    let (s3, conflict) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(json!({"template": "welcome", "receivers": ["u3"], "variables": {"name": "A"}})),
            &key,
        )
        .await;
    assert_eq!(s3, 409, "{conflict}");
    assert_eq!(conflict["error"]["code"], "idempotency_conflict");
    // The same key on the batch route is another request, hence a conflict too.
    let (s4, _) = app
        .request(Method::POST, "/v1/messages/batch", Some(&app.key), Some(json!({"template": "welcome", "items": [{"receiver": "u1", "variables": {"name": "A"}}]})), &key)
        .await;
    assert_eq!(s4, 409);
    app.wait_all(first["id"].as_str().unwrap(), "delivered")
        .await;
    assert_eq!(app.sim_counts("sandbox").1, 2, "the replay queued nothing");

    // Restart on the same data dir.
    let dir = app.dir.clone();
    app.server.shutdown().await.expect("clean shutdown");
    let app = spawn_in(dir).await;
    let (s5, after) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(body),
            &key,
        )
        .await;
    assert_eq!((s5, &after), (202, &first), "replay survives a restart");
    let (s6, _) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(json!({"template": "welcome", "receivers": ["u9"], "variables": {"name": "A"}})),
            &key,
        )
        .await;
    assert_eq!(s6, 409);
    // Keys are per app: another app may use the same key freely.
    let (_, other) = app
        .request(
            Method::POST,
            "/v1/apps",
            Some(crate::harness::ADMIN),
            Some(json!({"name": "o"})),
            &[],
        )
        .await;
    let (_, k) = app
        .request(
            Method::POST,
            &format!("/v1/apps/{}/keys", other["id"].as_str().unwrap()),
            Some(crate::harness::ADMIN),
            Some(json!({})),
            &[],
        )
        .await;
    let (s7, _) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(k["key"].as_str().unwrap()),
            Some(json!({"template": "x", "receivers": ["u"]})),
            &key,
        )
        .await;
    assert_eq!(
        s7, 422,
        "the other app's request is validated on its own, not a replay or conflict"
    );
}
