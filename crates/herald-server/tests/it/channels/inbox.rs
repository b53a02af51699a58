//! In-site inbox: stored = delivered; the end user reads it back through `/v1/inbox` with a
//! token the business backend signs with the inbox account's `user_token_secret`.

use super::{delivery_in, route, send};
use crate::harness::{TestApp, spawn_app};
use herald_channel_inbox::mint_user_token;
use herald_domain::AppId;
use serde_json::{Value, json};
use std::time::Duration;

const TOKEN_SECRET: &str = "inbox-e2e-user-token-secret";

fn demo_app(app: &TestApp) -> AppId {
    let id = &app.server.demo.as_ref().expect("demo app").app_id;
    AppId::parse(id).expect("demo app id")
}

fn token(app: &TestApp, secret: &str, user: &str) -> String {
    mint_user_token(
        secret.as_bytes(),
        &demo_app(app),
        user,
        Duration::from_secs(300),
    )
    .expect("mint a user token")
}

/// `GET path` as an end user with `token`.
async fn as_user(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    app.request(
        reqwest::Method::GET,
        path,
        None,
        None,
        &[("authorization", auth.as_str())],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_message_is_read_back_by_its_user() {
    let app = spawn_app().await;
    let r = route(
        &app,
        "inbox",
        json!({}),
        Some(json!({"user_token_secret": TOKEN_SECRET})),
        json!({"title": "Order {{ order }}", "body": "Order {{ order }} shipped", "fields": {"link": "/orders/{{ order }}", "category": "orders"}}),
        &["order"],
    )
    .await;
    let id = send(&app, &r, "user-42", json!({"order": "42"})).await;
    let delivery = delivery_in(&app, &id, "delivered").await;

    let user = token(&app, TOKEN_SECRET, "user-42");
    let (status, page) = as_user(&app, "/v1/inbox/messages", &user).await;
    assert_eq!(status, 200, "{page}");
    let messages = page["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{page}");
    let item = &messages[0];
    assert_eq!(item["id"], delivery["id"]);
    assert_eq!(item["message_id"], id.as_str());
    assert_eq!(item["title"], "Order 42");
    assert_eq!(item["body"], "Order 42 shipped");
    assert_eq!(
        item["fields"],
        json!({"link": "/orders/42", "category": "orders"})
    );
    assert_eq!(item["state"], "unread");
    let (status, unread) = as_user(&app, "/v1/inbox/unread-count", &user).await;
    assert_eq!((status, unread), (200, json!({"unread": 1})));

    // Another user of the same app sees nothing of it.
    let other = token(&app, TOKEN_SECRET, "user-43");
    let (status, page) = as_user(&app, "/v1/inbox/messages", &other).await;
    assert_eq!((status, page["messages"].clone()), (200, json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_signed_with_another_secret_is_refused() {
    let app = spawn_app().await;
    let r = route(
        &app,
        "inbox",
        json!({}),
        Some(json!({"user_token_secret": TOKEN_SECRET})),
        json!({"body": "hello"}),
        &[],
    )
    .await;
    let id = send(&app, &r, "user-7", json!({})).await;
    delivery_in(&app, &id, "delivered").await;
    let forged = token(&app, "some-other-secret", "user-7");
    let (status, body) = as_user(&app, "/v1/inbox/messages", &forged).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = as_user(&app, "/v1/inbox/messages", "not-a-token").await;
    assert_eq!(status, 401);
}
