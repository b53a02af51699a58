//! Sending: the quickstart path, batches (all-or-nothing), and every class of bad input.

use crate::harness::{from_now, spawn_app};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_message_reaches_delivered_and_the_simulator() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/v1/messages",
            json!({"template": "welcome", "receivers": ["user-1"], "variables": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("msg_"));
    assert!(
        body["deliveries"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("dlv_")
    );
    // Durable and readable at once.
    let (status, now) = app.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(status, 200, "{now}");
    let done = app.wait_all(id, "delivered").await;
    assert_eq!(done["status"], "delivered");
    assert_eq!(
        done["deliveries"][0]["content"],
        "Welcome\nHello Ada, welcome to Herald!"
    );
    assert_eq!(done["deliveries"][0]["attempts"][0]["outcome"], "delivered");
    let got = app.sim_received("sandbox").await;
    assert!(
        got.iter()
            .any(|r| r.to_string().contains("Hello Ada, welcome to Herald!")),
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_delivers_each_item_with_its_own_variables() {
    let app = spawn_app().await;
    let items: Vec<Value> = (0..50).map(|i| json!({"receiver": {"to": format!("u{i}"), "locale": "zh-CN"}, "variables": {"name": format!("N{i}")}})).collect();
    let (status, body) = app
        .post(
            "/v1/messages/batch",
            json!({"template": "welcome", "items": items}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"].as_array().unwrap().len(), 50);
    let done = app
        .wait_all(body["id"].as_str().unwrap(), "delivered")
        .await;
    let contents: Vec<&str> = done["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["content"].as_str().unwrap())
        .collect();
    assert!(
        contents.contains(&"Welcome\nHello N7, welcome to Herald!"),
        "{contents:?}"
    );
    assert_eq!(app.sim_counts("sandbox").1, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_with_bad_items_is_rejected_whole_and_queues_nothing() {
    let app = spawn_app().await;
    let mut items: Vec<Value> = (0..10)
        .map(|i| json!({"receiver": format!("u{i}"), "variables": {"name": "x"}}))
        .collect();
    items[3] = json!({"receiver": "", "variables": {"name": "x"}});
    items[7] = json!({"receiver": "u7", "variables": {"nmae": "x"}});
    let (status, body) = app
        .post(
            "/v1/messages/batch",
            json!({"template": "welcome", "items": items}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_items");
    let bad: Vec<u64> = body["error"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, vec![3, 7]);
    let fields = body["error"]["items"].to_string();
    assert!(fields.contains("items[3].receiver.to"), "{fields}");
    assert!(
        fields.contains("items[7].variables.nmae") && fields.contains("items[7].variables.name"),
        "{fields}"
    );
    let (_, page) = app.get("/v1/messages?limit=10").await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        0,
        "nothing was queued: {page}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.sim_counts("sandbox").0, 0);
}

async fn expect_error(app: &crate::harness::TestApp, body: Value, status: u16, field: &str) {
    let (got, resp) = app.post("/v1/messages", body.clone()).await;
    assert_eq!(got, status, "{body} → {resp}");
    assert!(
        resp["error"]["code"].is_string() && resp["error"]["message"].is_string(),
        "{resp}"
    );
    assert_eq!(resp["error"]["field"], field, "{body} → {resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_class_is_a_4xx_naming_the_field() {
    let app = spawn_app().await;
    let ok = || json!({"template": "welcome", "receivers": ["u1"], "variables": {"name": "A"}});
    let with = |k: &str, v: Value| {
        let mut b = ok();
        b[k] = v;
        b
    };
    expect_error(&app, with("template", json!("nope")), 422, "template").await;
    expect_error(&app, with("receivers", json!([])), 422, "receivers").await;
    expect_error(&app, with("receivers", json!([""])), 422, "receivers[0].to").await;
    expect_error(
        &app,
        with("receivers", json!([{"to": "u1", "timezone": "Mars"}])),
        422,
        "receivers[0].timezone",
    )
    .await;
    expect_error(
        &app,
        with("receivers", json!([{"to": "u1", "locale": "??"}])),
        422,
        "receivers[0].locale",
    )
    .await;
    expect_error(
        &app,
        with("receivers", json!(vec!["u"; 1001])),
        422,
        "receivers",
    )
    .await;
    expect_error(&app, with("variables", json!({})), 422, "variables.name").await;
    expect_error(
        &app,
        with("variables", json!({"name": "A", "extra": 1})),
        422,
        "variables.extra",
    )
    .await;
    expect_error(&app, with("send_at", json!("tomorrow")), 422, "send_at").await;
    expect_error(
        &app,
        with("send_at", json!("2030-01-01T00:00:00")),
        422,
        "send_at",
    )
    .await;
    expect_error(
        &app,
        with("expire_at", json!("2001-01-01T00:00:00Z")),
        422,
        "expire_at",
    )
    .await;
    let (s, b) = app
        .post("/v1/messages", with("expire_at", json!(from_now(60_000))))
        .await;
    assert_eq!(s, 202, "a future expire_at is fine: {b}");
    expect_error(
        &app,
        with("send_at", json!(from_now(60_000)))
            .as_object()
            .cloned()
            .map(|mut o| {
                o.insert("expire_at".into(), json!(from_now(30_000)));
                Value::Object(o)
            })
            .unwrap(),
        422,
        "expire_at",
    )
    .await;
    expect_error(&app, with("priority", json!("urgent")), 422, "priority").await;
    expect_error(&app, with("account", json!("acc_nope")), 422, "account").await;
    expect_error(&app, with("receiverz", json!(["u1"])), 422, "receiverz").await;
    expect_error(&app, with("receivers", json!("u1")), 422, "receivers").await;
    let mut missing = ok();
    missing.as_object_mut().unwrap().remove("template");
    expect_error(&app, missing, 422, "template").await;

    // An account of another channel.
    let (s, acc) = app
        .post("/v1/accounts", json!({"name": "inbox", "channel": "inbox"}))
        .await;
    assert_eq!(s, 201, "{acc}");
    expect_error(&app, with("account", acc["id"].clone()), 422, "account").await;

    // A disabled template.
    let (s, _) = app
        .request(
            reqwest::Method::PATCH,
            "/v1/templates/welcome",
            Some(&app.key),
            Some(json!({"enabled": false})),
            &[],
        )
        .await;
    assert_eq!(s, 200);
    expect_error(&app, ok(), 422, "template").await;

    // Not JSON, wrong content type.
    let resp = app
        .http
        .post(format!("{}/v1/messages", app.base))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app
        .http
        .post(format!("{}/v1/messages", app.base))
        .bearer_auth(&app.key)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let (s, body) = app
        .request(
            reqwest::Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(ok()),
            &[("idempotency-key", "")],
        )
        .await;
    assert_eq!(
        (s, body["error"]["field"].clone()),
        (400, json!("Idempotency-Key")),
        "{body}"
    );
    let (s, body) = app.get("/v1/nothing-here").await;
    assert_eq!(
        (s, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    let (s, body) = app.get("/v1/messages?status=bogus").await;
    assert_eq!((s, body["error"]["field"].clone()), (422, json!("status")));
}
