//! Helpers shared by the embedded backend's integration tests: a throwaway backend and an
//! accept batch with its send tasks.
#![allow(dead_code)]

use herald_domain::time::now_ms;
use herald_domain::{
    AccountId, AppId, ChannelKind, Delivery, DeliveryId, DeliveryTask, Message, MessageId,
    Priority, Receiver, TaskEnvelope, TemplateId, Variables,
};
use herald_embedded::journal::JournalOptions;
use herald_embedded::{DbOptions, Embedded, EmbeddedOptions};
use herald_ports::{AcceptBatch, IdempotencyEntry};

pub fn open(dir: &std::path::Path) -> Embedded {
    open_with(dir, false)
}

/// A non-durable backend in `dir`; `pause_indexer` leaves journaled accepts unindexed.
pub fn open_with(dir: &std::path::Path, pause_indexer: bool) -> Embedded {
    open_journal(dir, pause_indexer, JournalOptions::default())
}

/// [`open_with`] with the journal's limits.
pub fn open_journal(
    dir: &std::path::Path,
    pause_indexer: bool,
    journal: JournalOptions,
) -> Embedded {
    Embedded::open(
        dir,
        EmbeddedOptions {
            journal,
            ..options(pause_indexer)
        },
    )
    .expect("open embedded backend")
}

/// The options [`open_with`] opens with (for a test that expects the open to fail).
pub fn options(pause_indexer: bool) -> EmbeddedOptions {
    EmbeddedOptions {
        db: DbOptions {
            durable: false,
            ..DbOptions::default()
        },
        pause_indexer,
        ..EmbeddedOptions::default()
    }
}

/// Waits until the indexer has written every journaled accept (at most 5 s).
pub async fn indexed(herald: &Embedded) {
    for _ in 0..500 {
        if herald.journal.pending_deliveries() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "{} deliveries still unindexed after 5 s",
        herald.journal.pending_deliveries()
    );
}

/// A message with `receivers` deliveries and the matching send tasks.
pub fn accept_batch(app: &AppId, receivers: usize, key: Option<&str>) -> AcceptBatch {
    let now = now_ms();
    let message = Message {
        id: MessageId::generate(),
        app_id: app.clone(),
        template_id: TemplateId::generate(),
        template_version: 3,
        channel: ChannelKind::Webhook,
        account_id: AccountId::generate(),
        priority: Priority::Normal,
        send_at: None,
        expire_at: None,
        created_at: now,
        variables: Variables::new(),
        deliveries: (0..receivers)
            .map(|i| Delivery {
                id: DeliveryId::generate(),
                receiver: Receiver::to(format!("https://example.invalid/{i}")),
                variables: Variables::new(),
            })
            .collect(),
    };
    let tasks = message
        .deliveries
        .iter()
        .map(|d| {
            TaskEnvelope::DeliveryV1(DeliveryTask {
                app_id: app.clone(),
                message_id: message.id.clone(),
                delivery_id: d.id.clone(),
                template_id: message.template_id.clone(),
                template_version: message.template_version,
                channel: message.channel,
                account_id: message.account_id.clone(),
                receiver: d.receiver.clone(),
                variables: Variables::new(),
                attempt: 1,
                not_before: now,
                expire_at: None,
                priority: Priority::Normal,
                trace: None,
                accepted_at: now,
            })
        })
        .collect();
    let idempotency = key.map(|key| IdempotencyEntry {
        app_id: app.clone(),
        key: key.to_owned(),
        request_hash: format!("hash-of-{}", message.id),
        status: 202,
        response: serde_json::json!({ "message_id": message.id }),
        created_at: now,
    });
    AcceptBatch {
        app_id: app.clone(),
        messages: vec![message],
        tasks: Some(tasks),
        idempotency,
    }
}

/// Receives `count` send tasks (failing if the queue runs dry first), sorted by delivery id.
pub async fn receive_sends(herald: &Embedded, count: usize) -> Vec<TaskEnvelope> {
    use herald_ports::{Queue, Topic};
    let mut got = Vec::new();
    while got.len() < count {
        let received = herald
            .queue
            .receive(Topic::Send, 500, std::time::Duration::from_secs(2))
            .await
            .unwrap();
        assert!(!received.is_empty(), "only {} tasks received", got.len());
        got.extend(received.into_iter().map(|leased| leased.task));
    }
    got.sort_by_key(|t| t.delivery_id().clone());
    got
}
