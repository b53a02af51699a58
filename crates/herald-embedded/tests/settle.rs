//! Settling: result events and queue acks commit together, so a task disappears from the
//! queue exactly when its outcome is in the records.

use herald_domain::time::now_ms;
use herald_domain::{
    AccountId, AppId, ChannelKind, Delivery, DeliveryId, DeliveryState, DeliveryTask, EventVersion,
    Message, MessageId, Priority, Receiver, ResultEvent, ResultKind, TaskEnvelope, TemplateId,
    Variables,
};
use herald_embedded::{DbOptions, Embedded, EmbeddedOptions};
use herald_ports::{AcceptBatch, Intake, Queue, QueueCommit, Records, Settle, Topic};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_records_the_outcome_and_removes_the_task_together() {
    let dir = tempfile::tempdir().unwrap();
    let opts = EmbeddedOptions {
        db: DbOptions {
            durable: false,
            ..DbOptions::default()
        },
        ..EmbeddedOptions::default()
    };
    let store = Embedded::open(dir.path(), opts).unwrap();
    let app = AppId::generate();
    let delivery = Delivery {
        id: DeliveryId::generate(),
        receiver: Receiver::to("r"),
        variables: Variables::new(),
    };
    let message = Message {
        id: MessageId::generate(),
        app_id: app.clone(),
        template_id: TemplateId::generate(),
        template_version: 1,
        channel: ChannelKind::Webhook,
        account_id: AccountId::generate(),
        priority: Priority::Normal,
        send_at: None,
        expire_at: None,
        created_at: now_ms(),
        variables: Variables::new(),
        deliveries: vec![delivery.clone()],
    };
    let task = TaskEnvelope::DeliveryV1(DeliveryTask {
        app_id: app.clone(),
        message_id: message.id.clone(),
        delivery_id: delivery.id.clone(),
        template_id: message.template_id.clone(),
        template_version: 1,
        channel: ChannelKind::Webhook,
        account_id: message.account_id.clone(),
        receiver: delivery.receiver.clone(),
        variables: Variables::new(),
        attempt: 1,
        not_before: 0,
        expire_at: None,
        priority: Priority::Normal,
        trace: None,
        accepted_at: now_ms(),
    });
    store
        .intake
        .accept(AcceptBatch {
            app_id: app.clone(),
            messages: vec![message.clone()],
            tasks: Some(vec![task]),
            idempotency: None,
        })
        .await
        .unwrap();
    let leased = store
        .queue
        .receive(Topic::Send, 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    let delivered = ResultEvent {
        app_id: app.clone(),
        message_id: message.id.clone(),
        delivery_id: delivery.id.clone(),
        version: EventVersion::new(1, DeliveryState::Delivered),
        state: DeliveryState::Delivered,
        kind: ResultKind::Dispatch,
        at: now_ms(),
        code: None,
        detail: None,
        next_at: None,
        content: Some("hello".into()),
        attempt: None,
    };
    let commit = QueueCommit {
        ack: vec![leased[0].receipt.clone()],
        ..QueueCommit::default()
    };
    let changed = store.settle.settle(vec![delivered], commit).await.unwrap();
    assert_eq!(changed, 1);
    let view = store
        .records
        .get_message(&app, &message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.deliveries[0].state, DeliveryState::Delivered);
    assert_eq!(view.deliveries[0].content.as_deref(), Some("hello"));
    let stats = store.queue.stats().await.unwrap();
    assert_eq!(
        (stats.send, stats.result, stats.leased),
        (0, 0, 0),
        "acked, and nothing went through the result topic"
    );
    assert!(
        store
            .queue
            .receive(Topic::Result, 10, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty()
    );
}
