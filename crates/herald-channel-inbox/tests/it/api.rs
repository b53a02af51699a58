//! The end-user API over HTTP: state changes, paging, validation and authentication.

use crate::support::{Bed, SECRET, json_of};
use herald_channel_inbox::mint_user_token_until;
use herald_domain::AppId;
use serde_json::json;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_mark_archive_and_delete_their_messages() {
    let bed = Bed::start().await;
    let messages: Vec<_> = (0..3)
        .map(|i| bed.message("alice", &format!("m{i}")))
        .collect();
    bed.deliver(&messages).await;
    let id = |i: usize| messages[i].delivery_id.as_str().to_owned();

    let (status, body) = bed
        .post("alice", &format!("/v1/inbox/messages/{}/read", id(0)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["message"]["state"], "read");
    assert!(body["message"]["read_at"].is_string(), "read_at is set");
    assert_eq!(body["unread"], 2);

    let (_, body) = bed
        .post("alice", &format!("/v1/inbox/messages/{}/unread", id(0)))
        .await;
    assert_eq!(
        (body["message"]["state"].clone(), body["unread"].clone()),
        (json!("unread"), json!(3))
    );
    assert_eq!(body["message"]["read_at"], json!(null));

    let (_, body) = bed
        .post("alice", &format!("/v1/inbox/messages/{}/archive", id(1)))
        .await;
    assert_eq!(
        (body["message"]["state"].clone(), body["unread"].clone()),
        (json!("archived"), json!(2))
    );

    let (_, listed) = bed.get("alice", "/v1/inbox/messages").await;
    let active: Vec<_> = listed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(
        active,
        [json!(id(2)), json!(id(0))],
        "archived items leave the default view"
    );
    let (_, listed) = bed.get("alice", "/v1/inbox/messages?state=archived").await;
    assert_eq!(listed["messages"][0]["id"], id(1));

    let (status, body) = bed.post("alice", "/v1/inbox/read-all").await;
    assert_eq!((status, body), (200, json!({"updated": 2, "unread": 0})));
    let (_, listed) = bed.get("alice", "/v1/inbox/messages?state=unread").await;
    assert_eq!(listed["messages"], json!([]));

    let delete = |i: usize| {
        bed.http
            .delete(bed.url(&format!("/v1/inbox/messages/{}", id(i))))
            .bearer_auth(bed.token("alice"))
            .send()
    };
    assert_eq!(delete(2).await.unwrap().status(), 204);
    let (status, body) = json_of(delete(2).await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    let (status, _) = bed
        .get("alice", &format!("/v1/inbox/messages/{}", id(2)))
        .await;
    assert_eq!(status, 404, "a deleted message is gone");
    let (status, body) = bed
        .get("alice", &format!("/v1/inbox/messages/{}", id(0)))
        .await;
    assert_eq!((status, body["body"].clone()), (200, json!("m0")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cursor_walks_every_message_once() {
    let bed = Bed::start().await;
    let messages: Vec<_> = (0..7)
        .map(|i| bed.message("alice", &format!("m{i}")))
        .collect();
    bed.deliver(&messages).await;
    let mut seen = Vec::new();
    let mut path = "/v1/inbox/messages?limit=3".to_owned();
    for _ in 0..5 {
        let (status, page) = bed.get("alice", &path).await;
        assert_eq!(status, 200);
        seen.extend(
            page["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["body"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/inbox/messages?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<_> = (0..7).rev().map(|i| json!(format!("m{i}"))).collect();
    assert_eq!(seen, expected, "newest first, every message once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_422_naming_the_field() {
    let bed = Bed::start().await;
    for (query, field) in [
        ("state=deleted", "state"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=forged", "cursor"),
    ] {
        let (status, body) = bed
            .get("alice", &format!("/v1/inbox/messages?{query}"))
            .await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_reaches_only_its_own_user() {
    let bed = Bed::start().await;
    let alices = bed.message("alice", "private");
    bed.deliver(std::slice::from_ref(&alices)).await;
    let path = format!("/v1/inbox/messages/{}", alices.delivery_id);

    let (status, body) = bed.get("mallory", &path).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    for action in ["read", "unread", "archive"] {
        let (status, _) = bed.post("mallory", &format!("{path}/{action}")).await;
        assert_eq!(status, 404, "{action} on another user's message");
    }
    let response = bed
        .http
        .delete(bed.url(&path))
        .bearer_auth(bed.token("mallory"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (_, body) = bed.get("mallory", "/v1/inbox/messages?state=all").await;
    assert_eq!(body["messages"], json!([]));
    let (_, body) = bed.post("mallory", "/v1/inbox/read-all").await;
    assert_eq!(body["updated"], 0);
    let (_, body) = bed.get("alice", &path).await;
    assert_eq!(body["state"], "unread", "alice's message is untouched");
    let (status, _) = bed.get("alice", "/v1/inbox/messages/not-an-id").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_expired_and_tampered_tokens_are_401() {
    let bed = Bed::start().await;
    let url = bed.url("/v1/inbox/unread-count");
    let expired = mint_user_token_until(SECRET, &bed.app, "alice", 1_000).unwrap();
    let good = bed.token("alice");
    let (signed, signature) = good.rsplit_once('.').unwrap();
    let other_app = mint_user_token_until(SECRET, &AppId::generate(), "alice", i64::MAX).unwrap();
    let tampered_payload = {
        let forged = mint_user_token_until(b"guess", &bed.app, "bob", i64::MAX).unwrap();
        format!("{}.{signature}", forged.rsplit_once('.').unwrap().0)
    };
    let cases: [(Option<String>, &str); 6] = [
        (None, "missing_token"),
        (Some(expired), "token_expired"),
        (
            Some(format!("{signed}.{}", &signature[1..])),
            "invalid_token",
        ),
        (Some(tampered_payload), "invalid_token"),
        (Some(other_app), "invalid_token"),
        (Some("garbage".into()), "invalid_token"),
    ];
    let mut codes = HashSet::new();
    for (token, code) in cases {
        let mut request = bed.http.get(&url);
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert!(response.headers().contains_key("www-authenticate"));
        let (status, body) = json_of(response).await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(body["error"]["code"], code, "{token:?}: {body}");
        assert!(body["error"]["message"].is_string());
        codes.insert(code);
    }
    assert_eq!(codes.len(), 3);
    let response = bed
        .http
        .get(&url)
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "only Bearer counts");
    let (status, _) = bed.get("alice", "/v1/inbox/unread-count").await;
    assert_eq!(status, 200);
}

/// A browser on another origin may call the API: the preflight allows the token header and
/// the methods, and the real answer carries the origin grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_on_other_origins_pass_cors() {
    let bed = Bed::start().await;
    let preflight = bed
        .http
        .request(reqwest::Method::OPTIONS, bed.url("/v1/inbox/read-all"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    assert_eq!(header("access-control-allow-origin"), "*");
    assert!(header("access-control-allow-methods").contains("post"));
    assert!(header("access-control-allow-headers").contains("authorization"));

    let answer = bed
        .http
        .get(bed.url("/v1/inbox/unread-count"))
        .header("origin", "https://app.example.com")
        .bearer_auth(bed.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");
}
