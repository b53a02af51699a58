//! Basic delivery checks: hand-out, leases, due times, priorities, waiting, topics.

use super::{
    LEASE, LEASE_SLACK, ack, delivery_of, delivery_task, ids, nothing_ready, past, receive_until,
    result_task,
};
use crate::queue::{Queue, QueueCommit, Topic};
use herald_domain::time::now_ms;
use herald_domain::{AppId, Priority, TaskEnvelope};
use std::time::{Duration, Instant};

/// Publish → receive → ack: tasks come back whole, once, and an ack removes them for good.
pub async fn publish_receive_ack(q: &dyn Queue) {
    let app = AppId::generate();
    let tasks: Vec<TaskEnvelope> = (0..3)
        .map(|_| delivery_task(&app, Priority::Normal, past()))
        .collect();
    q.publish(Topic::Send, tasks.clone())
        .await
        .expect("publish failed");
    let stats = q.stats().await.expect("stats failed");
    assert_eq!(
        stats.send, 3,
        "published tasks are counted in the send depth"
    );

    let got = receive_until(q, Topic::Send, 3, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 3, "every published task is handed out");
    for leased in &got {
        assert_eq!(leased.deliveries, 1, "first hand-out counts 1");
        assert!(
            tasks.contains(&leased.task),
            "task comes back unchanged: {:?}",
            leased.task
        );
    }
    assert_eq!(q.stats().await.expect("stats failed").leased, 3);
    nothing_ready(
        q,
        Topic::Send,
        Duration::ZERO,
        "leased tasks are not handed out twice",
    )
    .await;

    ack(q, &got).await;
    let stats = q.stats().await.expect("stats failed");
    assert_eq!(
        (stats.send, stats.leased),
        (0, 0),
        "acked tasks are gone: {stats:?}"
    );
    tokio::time::sleep(LEASE + LEASE_SLACK).await;
    nothing_ready(
        q,
        Topic::Send,
        Duration::from_millis(50),
        "acked tasks never return",
    )
    .await;
}

/// A task not acked within its lease is handed out again; acking a stale receipt together
/// with a fresh one does not fail the commit; acked tasks do not return.
pub async fn redelivers_after_lease_expiry(q: &dyn Queue) {
    let app = AppId::generate();
    let task = delivery_task(&app, Priority::Normal, past());
    q.publish(Topic::Send, vec![task.clone()])
        .await
        .expect("publish failed");
    let first = receive_until(q, Topic::Send, 1, Duration::from_secs(2)).await;
    assert_eq!(first.len(), 1);
    nothing_ready(
        q,
        Topic::Send,
        Duration::ZERO,
        "a leased task is not handed out",
    )
    .await;

    tokio::time::sleep(LEASE + LEASE_SLACK).await;
    let second = receive_until(q, Topic::Send, 1, Duration::from_secs(2)).await;
    assert_eq!(
        second.len(),
        1,
        "an unacked task is redelivered after its lease"
    );
    assert_eq!(second[0].task, task);
    assert_eq!(second[0].deliveries, 2, "the redelivery is counted");

    let follow_up = delivery_task(&app, Priority::Normal, past());
    q.commit(QueueCommit {
        ack: vec![first[0].receipt.clone(), second[0].receipt.clone()],
        publish: vec![(Topic::Send, follow_up.clone())],
        dead: Vec::new(),
    })
    .await
    .expect("a stale receipt must not fail the commit");
    let next = receive_until(q, Topic::Send, 1, Duration::from_secs(2)).await;
    assert_eq!(ids(&next), vec![delivery_of(&follow_up).clone()]);
    tokio::time::sleep(LEASE + LEASE_SLACK).await;
    let again = q
        .receive(Topic::Send, 10, Duration::from_millis(200))
        .await
        .expect("receive failed");
    assert_eq!(
        ids(&again),
        vec![delivery_of(&follow_up).clone()],
        "only the unacked follow-up returns, never the acked task"
    );
}

/// A task is not handed out before its `not_before`, and is handed out once due.
pub async fn not_before_is_respected(q: &dyn Queue) {
    let app = AppId::generate();
    let due_at = now_ms() + 400;
    let task = delivery_task(&app, Priority::Normal, due_at);
    q.publish(Topic::Send, vec![task.clone()])
        .await
        .expect("publish failed");
    nothing_ready(
        q,
        Topic::Send,
        Duration::ZERO,
        "not handed out before not_before",
    )
    .await;
    nothing_ready(q, Topic::Send, Duration::from_millis(100), "still early").await;
    let got = receive_until(q, Topic::Send, 1, Duration::from_secs(3)).await;
    let received_at = now_ms();
    assert_eq!(got.len(), 1, "handed out once due");
    assert!(
        received_at >= due_at,
        "handed out {} ms early",
        due_at - received_at
    );
    assert!(
        received_at < due_at + 1_500,
        "handed out {} ms late",
        received_at - due_at
    );
    ack(q, &got).await;
}

/// High before normal before low; first published first within a priority.
pub async fn priority_then_fifo(q: &dyn Queue) {
    let app = AppId::generate();
    let at = past();
    let order = [
        ("low1", Priority::Low),
        ("normal1", Priority::Normal),
        ("high1", Priority::High),
        ("normal2", Priority::Normal),
        ("low2", Priority::Low),
        ("high2", Priority::High),
    ];
    let mut names = std::collections::HashMap::new();
    for (name, priority) in order {
        let task = delivery_task(&app, priority, at);
        names.insert(delivery_of(&task).clone(), name);
        q.publish(Topic::Send, vec![task])
            .await
            .expect("publish failed");
    }
    let got = receive_until(q, Topic::Send, 6, Duration::from_secs(2)).await;
    let seen: Vec<&str> = got.iter().map(|l| names[delivery_of(&l.task)]).collect();
    assert_eq!(
        seen,
        ["high1", "high2", "normal1", "normal2", "low1", "low2"],
        "priority first, FIFO within"
    );
    ack(q, &got).await;
}

/// `receive` waits for the first task and wakes as soon as one is published.
pub async fn receive_waits_and_wakes_on_publish(q: &dyn Queue) {
    let app = AppId::generate();
    let started = Instant::now();
    nothing_ready(q, Topic::Send, Duration::from_millis(200), "empty queue").await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "receive on an empty queue waits (returned after {:?})",
        started.elapsed()
    );

    let task = delivery_task(&app, Priority::Normal, past());
    let started = Instant::now();
    let (got, published_at) =
        tokio::join!(q.receive(Topic::Send, 10, Duration::from_secs(5)), async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            q.publish(Topic::Send, vec![task.clone()])
                .await
                .expect("publish failed");
            Instant::now()
        });
    let got = got.expect("receive failed");
    assert_eq!(ids(&got), vec![delivery_of(&task).clone()]);
    let woke_after_publish = Instant::now().saturating_duration_since(published_at);
    assert!(
        woke_after_publish < Duration::from_secs(1),
        "receive woke {woke_after_publish:?} after the publish"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "receive did not wait out its timeout"
    );
    ack(q, &got).await;
}

/// Tasks published to one topic are received from that topic only.
pub async fn topics_are_separate(q: &dyn Queue) {
    let app = AppId::generate();
    let event = result_task(&app);
    q.publish(Topic::Result, vec![event.clone()])
        .await
        .expect("publish failed");
    nothing_ready(q, Topic::Send, Duration::ZERO, "send topic is empty").await;
    nothing_ready(q, Topic::Retry, Duration::ZERO, "retry topic is empty").await;
    let got = receive_until(q, Topic::Result, 1, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].task, event);
    ack(q, &got).await;
}
