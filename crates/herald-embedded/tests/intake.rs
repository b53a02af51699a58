//! The embedded intake: an accept commits records, tasks and the idempotency entry together;
//! a repeated key writes nothing; entries expire by lookup age and purge.

use herald_domain::time::now_ms;
use herald_domain::{AppId, DeliveryState, TaskEnvelope};
use herald_ports::{AcceptCommit, Intake, Queue, QueueCommit, Records, Topic};
use std::time::Duration;

mod common;

use common::{accept_batch, indexed, open, open_with, receive_sends};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_tasks_are_recorded_and_receivable() {
    let dir = tempfile::tempdir().unwrap();
    let herald = open(dir.path());
    let app = AppId::generate();
    let batch = accept_batch(&app, 3, None);
    let message = batch.messages[0].clone();
    let tasks = batch.send_tasks();

    let outcome = herald.intake.accept(batch).await.unwrap();
    assert_eq!(outcome, AcceptCommit::Committed);

    let view = herald
        .records
        .get_message(&app, &message.id)
        .await
        .unwrap()
        .expect("the record is readable as soon as accept returns");
    assert_eq!(view.deliveries.len(), 3);
    assert!(
        view.deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Accepted)
    );

    let got = herald
        .queue
        .receive(Topic::Send, 10, Duration::from_secs(2))
        .await
        .unwrap();
    let received: Vec<TaskEnvelope> = got.iter().map(|l| l.task.clone()).collect();
    assert_eq!(received, tasks, "the accepted tasks, in order");
    herald
        .queue
        .commit(QueueCommit {
            ack: got.iter().map(|l| l.receipt.clone()).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(herald.queue.stats().await.unwrap().send, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_key_returns_the_stored_entry_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let herald = open(dir.path());
    let app = AppId::generate();
    let first = accept_batch(&app, 2, Some("order-42"));
    let stored = first.idempotency.clone().unwrap();
    assert_eq!(
        herald.intake.accept(first).await.unwrap(),
        AcceptCommit::Committed
    );

    let second = accept_batch(&app, 5, Some("order-42"));
    let second_message = second.messages[0].id.clone();
    match herald.intake.accept(second).await.unwrap() {
        AcceptCommit::Existing(entry) => assert_eq!(entry, stored),
        other => panic!("expected the stored entry, got {other:?}"),
    }
    assert!(
        herald
            .records
            .get_message(&app, &second_message)
            .await
            .unwrap()
            .is_none(),
        "the losing request's records were not written"
    );
    assert_eq!(
        herald.queue.stats().await.unwrap().send,
        2,
        "the losing request's tasks were not queued"
    );

    let other_app = AppId::generate();
    let elsewhere = accept_batch(&other_app, 1, Some("order-42"));
    assert_eq!(
        herald.intake.accept(elsewhere).await.unwrap(),
        AcceptCommit::Committed,
        "keys are scoped to the app"
    );
    let found = herald
        .intake
        .idempotency_lookup(&app, "order-42", 60_000)
        .await
        .unwrap();
    assert_eq!(found, Some(stored));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_age_out_of_lookups_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let herald = open(dir.path());
    let app = AppId::generate();
    let mut old = accept_batch(&app, 1, Some("old"));
    if let Some(entry) = &mut old.idempotency {
        entry.created_at = now_ms() - 3_600_000;
    }
    herald.intake.accept(old).await.unwrap();
    herald
        .intake
        .accept(accept_batch(&app, 1, Some("fresh")))
        .await
        .unwrap();

    let aged = herald
        .intake
        .idempotency_lookup(&app, "old", 60_000)
        .await
        .unwrap();
    assert_eq!(aged, None, "older than max age: not found");
    let kept = herald
        .intake
        .idempotency_lookup(&app, "old", 7_200_000)
        .await
        .unwrap();
    assert!(kept.is_some(), "within a longer max age: found");

    let purged = herald
        .intake
        .purge_idempotency(now_ms() - 60_000)
        .await
        .unwrap();
    assert_eq!(purged, 1, "only the old entry is purged");
    let after = herald
        .intake
        .idempotency_lookup(&app, "old", i64::MAX)
        .await
        .unwrap();
    assert_eq!(after, None);
    assert!(
        herald
            .intake
            .idempotency_lookup(&app, "fresh", 60_000)
            .await
            .unwrap()
            .is_some()
    );
    let again = herald
        .intake
        .accept(accept_batch(&app, 1, Some("old")))
        .await
        .unwrap();
    assert_eq!(
        again,
        AcceptCommit::Committed,
        "a purged key can be used again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_tasks_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId::generate();
    let batch = accept_batch(&app, 4, None);
    let tasks = batch.send_tasks();
    {
        // Paused: the journaled accept is left to the next open (two backends on one data
        // dir in one process would race; a restarted process does not).
        let herald = open_with(dir.path(), true);
        herald.intake.accept(batch).await.unwrap();
    }
    let herald = open(dir.path());
    herald.queue.loaded().await;
    assert_eq!(herald.queue.stats().await.unwrap().send, 4);
    let got = herald
        .queue
        .receive(Topic::Send, 10, Duration::from_secs(2))
        .await
        .unwrap();
    let received: Vec<TaskEnvelope> = got.iter().map(|l| l.task.clone()).collect();
    assert_eq!(received, tasks);
}

/// An accept that lists no tasks sends each delivery's first task, with the message's and
/// the delivery's variables merged, through the journal and through the keyed path alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_without_listed_tasks_sends_each_first_task() {
    let dir = tempfile::tempdir().unwrap();
    let herald = open(dir.path());
    let app = AppId::generate();
    let mut expected = Vec::new();
    for key in [None, Some("key-1")] {
        let mut batch = accept_batch(&app, 2, key);
        batch.messages[0]
            .variables
            .insert("name".into(), serde_json::json!("Ada"));
        batch.messages[0].deliveries[1]
            .variables
            .insert("name".into(), serde_json::json!("Grace"));
        batch.tasks = None;
        expected.extend(batch.messages[0].first_tasks());
        herald.intake.accept(batch).await.unwrap();
    }
    indexed(&herald).await;
    let got = receive_sends(&herald, expected.len()).await;
    expected.sort_by_key(|t| t.delivery_id().clone());
    assert_eq!(got, expected);
    let TaskEnvelope::DeliveryV1(task) = &got
        .iter()
        .find(|t| t.delivery_id() == expected[1].delivery_id())
        .unwrap()
    else {
        panic!("a delivery task")
    };
    assert!(task.variables.contains_key("name"));
}
