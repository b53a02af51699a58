//! Outcome classes end to end: retry on a millisecond schedule, permanent failure, unknown
//! after a timeout (no blind resend), dead letter after the schedule runs out, and replay.

use crate::harness::spawn_app;
use herald_domain::time::parse_rfc3339;
use serde_json::{Value, json};

fn attempts(m: &Value) -> Vec<Value> {
    m["deliveries"][0]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_on_the_account_schedule() {
    let app = spawn_app().await;
    let account = app.account("flaky", &[100, 200, 300], 0).await;
    app.template("flaky", "Hi {{ n }}", &[("n", false)], &account)
        .await;
    app.sim_configure("flaky", json!({"fail_first": 2}));
    let (_, body) = app
        .post(
            "/v1/messages",
            json!({"template": "flaky", "receivers": ["r"], "variables": {"n": 1}}),
        )
        .await;
    let done = app
        .wait_all(body["id"].as_str().unwrap(), "delivered")
        .await;
    let a = attempts(&done);
    assert_eq!(a.len(), 3, "{done:#}");
    assert_eq!(
        a.iter()
            .map(|x| x["outcome"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["retryable", "retryable", "delivered"]
    );
    assert_eq!(a[0]["code"], "http_503");
    let at = |i: usize| parse_rfc3339(a[i]["at"].as_str().unwrap()).unwrap();
    assert!(
        at(1) - at(0) >= 100,
        "first retry after ≥ 100 ms: {}",
        at(1) - at(0)
    );
    assert!(
        at(2) - at(1) >= 200,
        "second retry after ≥ 200 ms: {}",
        at(2) - at(1)
    );
    assert_eq!(app.sim_counts("flaky"), (3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let app = spawn_app().await;
    let account = app.account("busy", &[10], 0).await;
    app.template("busy", "Hi {{ n }}", &[("n", false)], &account)
        .await;
    app.sim_configure(
        "busy",
        json!({"fail_first": 1, "fail_status": 429, "retry_after_secs": 1}),
    );
    let (_, body) = app
        .post(
            "/v1/messages",
            json!({"template": "busy", "receivers": ["r"], "variables": {"n": 1}}),
        )
        .await;
    let done = app
        .wait_all(body["id"].as_str().unwrap(), "delivered")
        .await;
    let a = attempts(&done);
    let gap = parse_rfc3339(a[1]["at"].as_str().unwrap()).unwrap()
        - parse_rfc3339(a[0]["at"].as_str().unwrap()).unwrap();
    assert!(
        gap >= 1000,
        "never earlier than Retry-After (1 s), schedule said 10 ms: {gap} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_fail_without_retry() {
    let app = spawn_app().await;
    let account = app.account("reject", &[10, 10, 10], 0).await;
    app.template("reject", "Hi {{ n }}", &[("n", false)], &account)
        .await;
    app.sim_configure("reject", json!({"permanent_first": 5}));
    let (_, body) = app
        .post(
            "/v1/messages",
            json!({"template": "reject", "receivers": ["r"], "variables": {"n": 1}}),
        )
        .await;
    let done = app.wait_all(body["id"].as_str().unwrap(), "failed").await;
    assert_eq!(done["deliveries"][0]["code"], "http_400");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(attempts(&done).len(), 1);
    assert_eq!(
        app.sim_counts("reject").0,
        1,
        "no retry after a permanent error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_end_unknown_and_are_not_resent_blindly() {
    let app = spawn_app().await;
    let account = app.account("stall", &[10, 10, 10], 0).await; // client timeout 300 ms
    app.template("stall", "Hi {{ n }}", &[("n", false)], &account)
        .await;
    app.sim_configure(
        "stall",
        json!({"timeout_first": 1, "timeout_sleep_ms": 800}),
    );
    let (_, body) = app
        .post(
            "/v1/messages",
            json!({"template": "stall", "receivers": ["r"], "variables": {"n": 1}}),
        )
        .await;
    let done = app.wait_all(body["id"].as_str().unwrap(), "unknown").await;
    assert_eq!(done["deliveries"][0]["code"], "timeout");
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let (_, later) = app
        .get(&format!("/v1/messages/{}", body["id"].as_str().unwrap()))
        .await;
    assert_eq!(later["deliveries"][0]["state"], "unknown");
    assert_eq!(attempts(&later).len(), 1);
    assert_eq!(
        app.sim_counts("stall").0,
        1,
        "exactly one call reached the provider"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_go_dead_and_replay_delivers() {
    let app = spawn_app().await;
    let account = app.account("down", &[20, 20], 0).await;
    app.template("down", "Hi {{ n }}", &[("n", false)], &account)
        .await;
    app.sim_configure("down", json!({"fail_first": 3}));
    let (_, body) = app
        .post(
            "/v1/messages",
            json!({"template": "down", "receivers": ["r"], "variables": {"n": 1}}),
        )
        .await;
    let id = body["id"].as_str().unwrap();
    let dead = app.wait_all(id, "dead").await;
    assert_eq!(
        attempts(&dead).len(),
        3,
        "first try + two retries: {dead:#}"
    );
    let (s, letters) = app.get("/v1/dead-letters").await;
    assert_eq!(s, 200, "{letters}");
    let items = letters["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["delivery_id"], dead["deliveries"][0]["id"]);
    let (s, replayed) = app
        .post("/v1/dead-letters/replay", json!({"ids": [items[0]["id"]]}))
        .await;
    assert_eq!(
        (s, replayed["replayed"].clone()),
        (200, json!(1)),
        "{replayed}"
    );
    let done = app.wait_all(id, "delivered").await;
    assert_eq!(attempts(&done).len(), 4);
    let (_, letters) = app.get("/v1/dead-letters").await;
    assert_eq!(letters["items"].as_array().unwrap().len(), 0);
}
