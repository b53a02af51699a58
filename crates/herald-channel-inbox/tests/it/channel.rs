//! The inbox channel: stored = delivered, deduplicated by delivery id, errors classified.

use crate::support::{Bed, account};
use herald_channel_inbox::{InboxChannel, InboxHub};
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{Channel, Inbox, InboxFilter, InboxState};
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_is_listed_and_counted_for_its_user() {
    let bed = Bed::start().await;
    assert_eq!(bed.channel.kind(), ChannelKind::Inbox);
    assert!(bed.channel.max_batch() > 1, "the inbox stores batches");
    let first = bed.message("alice", "order shipped");
    let second = bed.message("alice", "order delivered");
    let other = bed.message("bob", "hello bob");
    bed.deliver(&[first.clone(), second.clone(), other]).await;

    let page = bed
        .inbox
        .list(&bed.app, "alice", InboxFilter::All, None, 10)
        .await
        .unwrap();
    let ids: Vec<_> = page.items.iter().map(|i| i.id.clone()).collect();
    assert_eq!(ids, [second.delivery_id.clone(), first.delivery_id.clone()]);
    let stored = &page.items[1];
    assert_eq!(stored.message_id, first.message_id);
    assert_eq!(stored.title.as_deref(), Some("about order shipped"));
    assert_eq!(stored.body, "order shipped");
    assert_eq!(stored.fields["link"], "/orders/7");
    assert_eq!(stored.state, InboxState::Unread);

    let (status, body) = bed.get("alice", "/v1/inbox/unread-count").await;
    assert_eq!((status, body), (200, json!({"unread": 2})));
    let (_, body) = bed.get("alice", "/v1/inbox/messages").await;
    assert_eq!(body["messages"][0]["id"], second.delivery_id.as_str());
    assert_eq!(body["messages"][1]["fields"], json!({"link": "/orders/7"}));
    assert_eq!(body["messages"][1]["state"], "unread");
    assert_eq!(body["messages"][1]["read_at"], json!(null));
    assert_eq!(body["next_cursor"], json!(null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_task_is_delivered_without_a_second_copy() {
    let bed = Bed::start().await;
    let message = bed.message("alice", "once");
    bed.deliver(std::slice::from_ref(&message)).await;
    let mut retry = message.clone();
    retry.attempt = 2;
    bed.deliver(&[retry.clone(), retry]).await;
    assert_eq!(bed.inbox.unread_count(&bed.app, "alice").await.unwrap(), 1);
    let page = bed
        .inbox
        .list(&bed.app, "alice", InboxFilter::All, None, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "stored twice is stored once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_user_id_is_permanent_and_does_not_block_the_batch() {
    let bed = Bed::start().await;
    let good = bed.message("alice", "fine");
    let bad = bed.message("has space", "never");
    let results = bed.channel.send(&account(), &[bad, good]).await;
    assert!(matches!(
        &results[0].outcome,
        Outcome::Permanent { code, .. } if code == "invalid_user_id"
    ));
    assert_eq!(results[1].outcome, Outcome::Delivered { provider_id: None });
}

/// An inbox whose storage is down.
struct BrokenInbox;

#[async_trait::async_trait]
impl Inbox for BrokenInbox {
    async fn store(
        &self,
        _: Vec<herald_ports::InboxItem>,
    ) -> Result<Vec<bool>, herald_ports::StoreError> {
        Err(herald_ports::StoreError::Unavailable("disk on fire".into()))
    }
    async fn list(
        &self,
        _: &herald_domain::AppId,
        _: &str,
        _: InboxFilter,
        _: Option<&str>,
        _: usize,
    ) -> Result<herald_ports::InboxPage, herald_ports::StoreError> {
        unreachable!("the channel only stores")
    }
    async fn get(
        &self,
        _: &herald_domain::AppId,
        _: &str,
        _: &herald_domain::DeliveryId,
    ) -> Result<Option<herald_ports::InboxItem>, herald_ports::StoreError> {
        unreachable!("the channel only stores")
    }
    async fn unread_count(
        &self,
        _: &herald_domain::AppId,
        _: &str,
    ) -> Result<u64, herald_ports::StoreError> {
        unreachable!("nobody watches")
    }
    async fn set_state(
        &self,
        _: &herald_domain::AppId,
        _: &str,
        _: &herald_domain::DeliveryId,
        _: InboxState,
        _: i64,
    ) -> Result<Option<herald_ports::InboxItem>, herald_ports::StoreError> {
        unreachable!("the channel only stores")
    }
    async fn mark_all_read(
        &self,
        _: &herald_domain::AppId,
        _: &str,
        _: i64,
    ) -> Result<u64, herald_ports::StoreError> {
        unreachable!("the channel only stores")
    }
    async fn delete(
        &self,
        _: &herald_domain::AppId,
        _: &str,
        _: &herald_domain::DeliveryId,
    ) -> Result<bool, herald_ports::StoreError> {
        unreachable!("the channel only stores")
    }
}

#[tokio::test]
async fn a_storage_failure_is_retryable() {
    let bed = Bed::start().await;
    let channel = InboxChannel::new(Arc::new(BrokenInbox), InboxHub::new());
    let results = channel
        .send(&account(), &[bed.message("alice", "later")])
        .await;
    assert!(matches!(
        &results[0].outcome,
        Outcome::Retryable { code, .. } if code == "inbox_unavailable"
    ));
}
