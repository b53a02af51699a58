//! The SSE stream: the unread count at once, a live event per stored message, counts after
//! changes, and authentication like every other route.

use crate::support::{Bed, json_of};
use serde_json::{Value, json};
use std::time::Duration;

/// Reads server-sent events from a streaming response.
struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    /// The next event as (name, JSON data); panics after 5 s without one.
    async fn next(&mut self) -> (String, Value) {
        tokio::time::timeout(Duration::from_secs(5), self.read())
            .await
            .expect("an event within 5 s")
    }

    async fn read(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return (name, serde_json::from_str(&data).unwrap());
            }
            let chunk = self
                .response
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

async fn connect(bed: &Bed, user: &str) -> EventReader {
    let response = bed
        .http
        .get(bed.url("/v1/inbox/stream"))
        .bearer_auth(bed.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    EventReader {
        response,
        buffer: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_receives_new_messages_and_count_changes_live() {
    let bed = Bed::start().await;
    bed.deliver(&[bed.message("alice", "before")]).await;
    let mut stream = connect(&bed, "alice").await;
    assert_eq!(
        stream.next().await,
        ("unread_count".into(), json!({"unread": 1}))
    );

    let live = bed.message("alice", "live one");
    bed.deliver(&[bed.message("bob", "not for alice"), live.clone()])
        .await;
    let (name, data) = stream.next().await;
    assert_eq!(name, "message");
    assert_eq!(data["id"], live.delivery_id.as_str());
    assert_eq!(data["body"], "live one");
    assert_eq!(data["state"], "unread");
    assert_eq!(
        stream.next().await,
        ("unread_count".into(), json!({"unread": 2}))
    );

    bed.deliver(std::slice::from_ref(&live)).await; // a redelivery: nothing new to announce
    let (_, marked) = bed
        .post(
            "alice",
            &format!("/v1/inbox/messages/{}/read", live.delivery_id),
        )
        .await;
    assert_eq!(marked["unread"], 1);
    assert_eq!(
        stream.next().await,
        ("unread_count".into(), json!({"unread": 1})),
        "the redelivery published nothing; the mark published the new count"
    );
    bed.post("alice", "/v1/inbox/read-all").await;
    assert_eq!(
        stream.next().await,
        ("unread_count".into(), json!({"unread": 0}))
    );

    drop(stream);
    tokio::time::timeout(Duration::from_secs(5), async {
        while bed.hub.watched_users() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a closed stream frees its hub channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_takes_a_query_token_and_refuses_bad_ones() {
    let bed = Bed::start().await;
    let url = bed.url(&format!(
        "/v1/inbox/stream?access_token={}",
        bed.token("alice")
    ));
    let response = bed.http.get(url).send().await.unwrap();
    let mut stream = EventReader {
        response,
        buffer: String::new(),
    };
    assert_eq!(
        stream.next().await,
        ("unread_count".into(), json!({"unread": 0}))
    );

    let (status, body) = json_of(
        bed.http
            .get(bed.url("/v1/inbox/stream"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("missing_token"))
    );
    let url = bed.url("/v1/inbox/stream?access_token=hkusr.v1.e30.AAAA");
    let (status, body) = json_of(bed.http.get(url).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("invalid_token"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_ends_when_its_token_expires() {
    let bed = Bed::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = herald_channel_inbox::mint_user_token_until(
        crate::support::SECRET,
        &bed.app,
        "alice",
        now + 2,
    )
    .unwrap();
    let response = bed
        .http
        .get(bed.url("/v1/inbox/stream"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut stream = EventReader {
        response,
        buffer: String::new(),
    };
    assert_eq!(
        stream.next().await,
        ("unread_count".into(), json!({"unread": 0}))
    );
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.response.chunk().await.unwrap() {
            assert!(
                !String::from_utf8_lossy(&chunk).contains("data:"),
                "no events for a silent inbox"
            );
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the server closed the stream at the token's expiry"
    );
}
