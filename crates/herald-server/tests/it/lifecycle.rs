//! Scheduling, cancelation, expiry and template edits after accept.

use crate::harness::{from_now, spawn_app, spawn_configured};
use herald_domain::time::{now_ms, parse_rfc3339};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_at_holds_the_message_until_due() {
    let app = spawn_app().await;
    let due = from_now(1500);
    let (s, body) = app.post("/v1/messages", json!({"template": "welcome", "receivers": ["later"], "variables": {"name": "B"}, "send_at": due})).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["status"], "scheduled");
    let id = body["id"].as_str().unwrap();
    let (_, now) = app.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(now["deliveries"][0]["state"], "scheduled");
    let done = app.wait_all(id, "delivered").await;
    let at = parse_rfc3339(done["deliveries"][0]["attempts"][0]["at"].as_str().unwrap()).unwrap();
    assert!(
        at >= parse_rfc3339(&due).unwrap(),
        "sent at {at}, due {due}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_pending_deliveries() {
    let app = spawn_app().await;
    let (_, body) = app.post("/v1/messages", json!({"template": "welcome", "receivers": ["a", "b"], "variables": {"name": "C"}, "send_at": from_now(1000)})).await;
    let id = body["id"].as_str().unwrap();
    let (s, canceled) = app.delete(&format!("/v1/messages/{id}")).await;
    assert_eq!(s, 200, "{canceled}");
    assert_eq!(canceled["canceled"].as_array().unwrap().len(), 2);
    let (_, m) = app.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(m["status"], "canceled", "{m}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, m) = app.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(
        m["status"], "canceled",
        "still canceled after the due time: {m}"
    );
    assert_eq!(
        app.sim_counts("sandbox").0,
        0,
        "nothing reached the provider"
    );
    let (s, again) = app.delete(&format!("/v1/messages/{id}")).await;
    assert_eq!(
        (s, again["error"]["code"].clone()),
        (409, json!("not_cancelable"))
    );
    let (s, _) = app
        .delete("/v1/messages/msg_01jabcdefghjkmnpqrstvwxyz0")
        .await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_deliveries_are_not_sent() {
    let app = spawn_app().await;
    // The first call fails; the retry comes after expire_at.
    let account = app.account("slow", &[1500], 0).await;
    app.template("exp", "Hi {{ n }}", &[("n", false)], &account)
        .await;
    app.sim_configure("slow", json!({"fail_first": 1}));
    let (s, body) = app.post("/v1/messages", json!({"template": "exp", "receivers": ["x"], "variables": {"n": 1}, "expire_at": from_now(700)})).await;
    assert_eq!(s, 202, "{body}");
    let done = app.wait_all(body["id"].as_str().unwrap(), "expired").await;
    assert_eq!(done["status"], "expired");
    assert_eq!(
        done["deliveries"][0]["attempts"].as_array().unwrap().len(),
        1,
        "{done}"
    );
    assert_eq!(
        app.sim_counts("slow"),
        (1, 0),
        "only the failed first call arrived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_keeps_the_template_version_it_was_accepted_with() {
    let app = spawn_app().await;
    let (_, body) = app.post("/v1/messages", json!({"template": "welcome", "receivers": ["v"], "variables": {"name": "D"}, "send_at": from_now(800)})).await;
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["template_version"], 1);
    let (s, edited) = app
        .request(
            reqwest::Method::PATCH,
            "/v1/templates/welcome",
            Some(&app.key),
            Some(json!({"variables": [{"name": "who"}], "content": {"body": "Bye {{ who }}"}})),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["current_version"], 2);
    let done = app.wait_all(&id, "delivered").await;
    assert_eq!(done["template_version"], 1);
    assert_eq!(
        done["deliveries"][0]["content"],
        "Welcome\nHello D, welcome to Herald!"
    );
    // New messages use (and are validated against) the new version.
    let (s, _) = app
        .post(
            "/v1/messages",
            json!({"template": "welcome", "receivers": ["v"], "variables": {"name": "D"}}),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .post(
            "/v1/messages",
            json!({"template": "welcome", "receivers": ["v"], "variables": {"who": "E"}}),
        )
        .await;
    assert_eq!(s, 202);
    let (_, versions) = app.get("/v1/templates/welcome/versions").await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 2);
    assert!(now_ms() > 0);
}

/// One worker: the receive loop of the empty retry topic long-polls without holding it, so
/// the send topic's tasks go out one after another (it used to hold the worker for each
/// 500 ms poll: about one delivery a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_worker_is_not_held_by_an_idle_topic() {
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    let app = spawn_configured(dir, |o| {
        o.workers = 1;
        o.receive_batch = 1;
    })
    .await;
    let receivers: Vec<String> = (0..20).map(|i| format!("one-worker-{i}")).collect();
    let (s, body) = app
        .post(
            "/v1/messages",
            json!({"template": "welcome", "receivers": receivers, "variables": {"name": "W"}}),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    app.wait_message(id, Duration::from_secs(4), |m| {
        m["deliveries"]
            .as_array()
            .is_some_and(|d| d.len() == 20 && d.iter().all(|d| d["state"] == "delivered"))
    })
    .await;
}

/// `PATCH` with `"account": null` clears the default account (sends must then name one);
/// an absent `account` keeps it; an id sets it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_default_account_can_be_cleared_and_set() {
    let app = spawn_app().await;
    let (_, template) = app.get("/v1/templates/welcome").await;
    let account = template["default_account_id"].clone();
    assert!(account.is_string(), "{template}");
    let patch = |body: serde_json::Value| {
        app.request(
            reqwest::Method::PATCH,
            "/v1/templates/welcome",
            Some(&app.key),
            Some(body),
            &[],
        )
    };
    let (s, body) = patch(json!({"enabled": true})).await;
    assert_eq!((s, &body["default_account_id"]), (200, &account), "{body}");
    let (s, body) = patch(json!({"account": null})).await;
    assert_eq!(s, 200, "{body}");
    assert!(body["default_account_id"].is_null(), "{body}");
    let send = json!({"template": "welcome", "receivers": ["x"], "variables": {"name": "A"}});
    let (s, body) = app.post("/v1/messages", send.clone()).await;
    assert_eq!(
        (s, body["error"]["field"].as_str()),
        (422, Some("account")),
        "{body}"
    );
    let (s, body) = patch(json!({"account": account})).await;
    assert_eq!((s, &body["default_account_id"]), (200, &account), "{body}");
    let (s, body) = app.post("/v1/messages", send).await;
    assert_eq!(s, 202, "{body}");
}

/// `dispatcher.nice` > 0: the dispatcher runs on `herald-bg` threads five nice levels below
/// the caller's, sends both an immediate and a scheduled message (whose due time the queue's
/// scheduler, on the API's runtime, hands over), and the server still stops cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_on_the_lower_priority_runtime_sends_schedules_and_stops() {
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    let app = spawn_configured(dir, |o| o.background_nice = 5).await;
    #[cfg(target_os = "linux")]
    {
        let own = nice_of("/proc/thread-self/stat").expect("own nice value");
        let background: Vec<i32> = std::fs::read_dir("/proc/self/task")
            .expect("threads")
            .filter_map(|t| {
                let t = t.ok()?.path();
                let comm = std::fs::read_to_string(t.join("comm")).ok()?;
                (comm.trim() == "herald-bg").then(|| nice_of(t.join("stat")))?
            })
            .collect();
        assert!(!background.is_empty(), "no herald-bg thread");
        assert!(
            background.iter().all(|&n| n == (own + 5).min(19)),
            "background threads at {background:?}, caller at {own}"
        );
    }
    let (s, now) = app
        .post(
            "/v1/messages",
            json!({"template": "welcome", "receivers": ["bg-now"], "variables": {"name": "N"}}),
        )
        .await;
    assert_eq!(s, 202, "{now}");
    let due = from_now(800);
    let (s, later) = app
        .post("/v1/messages", json!({"template": "welcome", "receivers": ["bg-later"], "variables": {"name": "L"}, "send_at": due}))
        .await;
    assert_eq!(s, 202, "{later}");
    app.wait_all(now["id"].as_str().unwrap(), "delivered").await;
    let done = app
        .wait_all(later["id"].as_str().unwrap(), "delivered")
        .await;
    let at = parse_rfc3339(done["deliveries"][0]["attempts"][0]["at"].as_str().unwrap()).unwrap();
    assert!(
        at >= parse_rfc3339(&due).unwrap(),
        "sent at {at}, due {due}"
    );
    tokio::time::timeout(Duration::from_secs(10), app.server.shutdown())
        .await
        .expect("stops within the grace period")
        .expect("stops cleanly");
}

/// The nice value in a `/proc/…/stat` file (field 19; counted after the `)` that ends the
/// command name, which may itself hold spaces).
#[cfg(target_os = "linux")]
fn nice_of(stat: impl AsRef<std::path::Path>) -> Option<i32> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(16)?.parse().ok()
}
